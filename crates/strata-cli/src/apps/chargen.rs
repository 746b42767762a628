//! `chargen` (RFC 864): an endless stream of rotating 72-character lines.

use std::sync::Arc;

use bytes::Bytes;
use strata::{StreamProtocol, StreamTransport};

use strata::StreamFactory;

/// Printable characters per line, before the CRLF.
pub const LINE_LEN: usize = 72;
/// The number of printable ASCII characters the lines rotate through
/// (space to `~`).
pub const PRINTABLE: usize = 95;
/// Lines built and written at once: one write of this many lines is the
/// most chargen can queue past the high-water mark.
pub const LINES_PER_WRITE: usize = 64;

/// Writes RFC 864 lines for as long as the transport is writable, and
/// again on each `resume_writing`; input is discarded; on the peer's EOF it
/// stops and closes.
///
/// Line `n` (from 0) holds the 72 characters that start `n + 1` places
/// after the space in the printable ASCII set, wrapping around, then CRLF:
/// the first line starts with `!`, as in the RFC's sample.
///
/// ```
/// use strata::Stack;
/// use strata_cli::apps::Chargen;
/// let mut s = Stack::memory(Box::new(Chargen::new()));
/// let out = s.take_output(s.now());
/// assert!(out.starts_with(b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n\"#$"));
/// ```
#[derive(Debug)]
pub struct Chargen {
    /// Offset into the printable set of the next line's first character.
    next: usize,
    stopped: bool,
}

impl Default for Chargen {
    fn default() -> Self {
        Chargen {
            next: 1,
            stopped: false,
        }
    }
}

impl Chargen {
    /// A generator at the RFC's first line.
    pub fn new() -> Self {
        Chargen::default()
    }

    /// A factory of chargen protocols.
    pub fn factory() -> StreamFactory {
        Arc::new(|| Box::new(Chargen::new()))
    }

    fn fill(&mut self, t: &mut dyn StreamTransport) {
        while !self.stopped && t.writable() {
            let mut batch = Vec::with_capacity(LINES_PER_WRITE * (LINE_LEN + 2));
            for _ in 0..LINES_PER_WRITE {
                batch.extend((0..LINE_LEN).map(|j| b' ' + ((self.next + j) % PRINTABLE) as u8));
                batch.extend_from_slice(b"\r\n");
                self.next = (self.next + 1) % PRINTABLE;
            }
            t.write_bytes(Bytes::from(batch));
        }
    }
}

impl StreamProtocol for Chargen {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.fill(t);
    }

    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.stopped = true;
        t.close();
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.fill(t);
    }
}
