//! `discard` (RFC 863): reads and drops everything.

use std::sync::Arc;

use strata::{StreamProtocol, StreamTransport};

use strata::StreamFactory;

/// Reads and drops every byte; closes on the peer's EOF. It never writes,
/// so it holds no memory whatever the peer sends.
///
/// ```
/// use strata::Stack;
/// use strata_cli::apps::Discard;
/// let mut s = Stack::memory(Box::new(Discard));
/// let now = s.now();
/// s.handle_input(now, b"into the void");
/// assert!(s.take_output(now).is_empty());
/// s.handle_eof(now);
/// assert!(s.finished().unwrap().is_clean());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Discard {
    /// A factory of discard protocols.
    pub fn factory() -> StreamFactory {
        Arc::new(|| Box::new(Discard))
    }
}

impl StreamProtocol for Discard {
    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}
