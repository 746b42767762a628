//! The transport a [`Tls`](crate::tls::Tls) layer presents to its inner
//! protocol: plaintext in, TLS records out to the transport below.

use std::any::{Any, TypeId};
use std::time::Instant;

use crate::tls::state::{State, TLS};
use crate::tls::TlsInfo;
use crate::{Close, Introspect, StreamTransport, Wake};

/// The `tls` view. It never calls up: writes are encrypted (or queued in
/// rustls during the handshake) and the records moved below at once; close
/// and EOF become `close_notify`; the read pause is recorded for the layer.
pub(crate) struct TlsView<'a> {
    below: &'a mut dyn StreamTransport,
    st: &'a mut State,
}

impl<'a> TlsView<'a> {
    pub(crate) fn new(below: &'a mut dyn StreamTransport, st: &'a mut State) -> Self {
        TlsView { below, st }
    }
}

impl Introspect for TlsView<'_> {
    fn name(&self) -> &'static str {
        TLS
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<TlsInfo>() {
            return self.st.info.as_ref().map(|i| i as &dyn Any);
        }
        crate::capability!(id, self.st.half_close, self.st.app, self.st.counters)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for TlsView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.st.write(self.below, data);
    }
    fn write_eof(&mut self) {
        self.st.write_eof(self.below);
    }
    fn close(&mut self) {
        self.st.close(self.below);
    }
    fn abort(&mut self, why: Close) {
        // The stack hands `why` to every layer's connection_lost.
        self.st.dead = true;
        self.below.abort(why);
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        // Held plaintext is delivered by the layer once this callback returns.
        self.st.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.st.early + self.below.buffered()
    }
    fn writable(&self) -> bool {
        self.st.writable(&*self.below)
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker()
    }
}
