//! The slot of a connection that picks its protocol (HTTP/1.1 or HTTP/2)
//! once it knows which, and forwards everything to it from then on.

use std::time::Instant;

use crate::{Close, StreamProtocol, StreamTransport, WakeRoute};

/// Empty until the version is known; then the chosen connection protocol.
#[derive(Default)]
pub(crate) struct Chosen(Option<Box<dyn StreamProtocol>>);

impl Chosen {
    pub(crate) fn is_chosen(&self) -> bool {
        self.0.is_some()
    }

    /// Installs the protocol and gives it `connection_made`.
    pub(crate) fn choose(&mut self, t: &mut dyn StreamTransport, p: Box<dyn StreamProtocol>) {
        self.0.insert(p).connection_made(t);
    }

    /// Runs `f` on the chosen protocol, if any.
    pub(crate) fn with<R>(
        &mut self,
        f: impl FnOnce(&mut (dyn StreamProtocol + 'static)) -> R,
    ) -> Option<R> {
        self.0.as_deref_mut().map(f)
    }

    pub(crate) fn lost(&mut self, why: &Close) {
        self.with(|p| p.connection_lost(why));
    }
    pub(crate) fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.with(|p| p.pause_writing(t));
    }
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.0.as_ref().and_then(|p| p.next_deadline())
    }
    pub(crate) fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.with(|p| p.on_deadline(t));
    }
    pub(crate) fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.with(|p| p.on_wake(t, route));
    }
    /// Forwards the drain; with nothing chosen yet, closes.
    pub(crate) fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        if self.with(|p| p.on_shutdown(t)).is_none() {
            t.close();
        }
    }
    pub(crate) fn buffered(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.buffered())
    }
}
