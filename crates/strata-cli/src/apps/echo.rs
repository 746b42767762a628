//! `echo` (RFC 862): writes back what it reads.

use std::sync::Arc;

use strata::{StreamProtocol, StreamTransport};

use strata::StreamFactory;

/// Writes back every byte it reads; closes once the peer has sent EOF and
/// the echo is flushed.
///
/// Back-pressure: after a write that leaves the transport not writable,
/// echo pauses reading, and resumes on `resume_writing`. The peer's unread
/// echo is therefore bounded by the stack's high-water mark plus one read,
/// and a client that never reads stops being read from (the driver stops
/// reading the socket, so TCP flow control slows the client down).
///
/// ```
/// use strata::Stack;
/// use strata_cli::apps::Echo;
/// let mut s = Stack::memory(Box::new(Echo::new()));
/// let now = s.now();
/// s.handle_input(now, b"hello");
/// assert_eq!(s.take_output(now), b"hello");
/// s.handle_eof(now);
/// assert!(s.finished().unwrap().is_clean());
/// ```
#[derive(Debug, Default)]
pub struct Echo {
    /// True while we hold reading paused because the transport is full.
    paused: bool,
}

impl Echo {
    /// A new echo protocol.
    pub fn new() -> Self {
        Echo::default()
    }

    /// A factory of echo protocols.
    pub fn factory() -> StreamFactory {
        Arc::new(|| Box::new(Echo::new()))
    }

    fn hold(&mut self, t: &mut dyn StreamTransport) {
        if !self.paused {
            self.paused = true;
            t.pause_reading();
        }
    }
}

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
        if !t.writable() {
            self.hold(t);
        }
    }

    /// At the bottom of a stack the driver's owned read goes back out as it
    /// is, without a copy.
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: bytes::Bytes) {
        t.write_bytes(data);
        if !t.writable() {
            self.hold(t);
        }
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }

    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.hold(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        if self.paused {
            self.paused = false;
            t.resume_reading();
        }
    }
}
