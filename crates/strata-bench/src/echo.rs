//! The strata side of the echo benchmarks: an echo [`StreamProtocol`] that
//! honours back-pressure the way a real protocol should.

use strata::{StreamProtocol, StreamTransport};

/// Writes back what it reads. When a write leaves the stack over its
/// high-water mark it pauses reading (so a client that does not read slows
/// down, instead of growing our buffers), and resumes on `resume_writing`.
/// EOF closes the connection once the echo is flushed.
#[derive(Debug, Default)]
pub struct Echo;

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
        if !t.writable() {
            t.pause_reading();
        }
    }

    /// The driver's owned read goes back out as it is: no copy.
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: bytes::Bytes) {
        t.write_bytes(data);
        if !t.writable() {
            t.pause_reading();
        }
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        t.resume_reading();
    }
}

#[cfg(test)]
mod tests {
    use strata::{Stack, StackConfig};

    use super::*;

    #[test]
    fn echoes_and_closes_cleanly_on_eof() {
        let mut s = Stack::memory(Box::new(Echo));
        let now = s.now();
        s.handle_input(now, b"ping");
        assert_eq!(s.take_output(now), b"ping");
        s.handle_eof(now);
        assert!(s.finished().is_some_and(|c| c.is_clean()));
    }

    #[test]
    fn pauses_reading_over_the_high_mark_and_resumes_when_drained() {
        let cfg = StackConfig {
            high_water: 8,
            low_water: 2,
            ..StackConfig::default()
        };
        let mut s = Stack::memory_with(Box::new(Echo), cfg);
        let now = s.now();
        s.handle_input(now, b"0123456789");
        assert!(s.is_read_paused());
        assert!(!s.wants_read());
        // Input that arrives anyway is stashed, not echoed.
        s.handle_input(now, b"ab");
        assert_eq!(s.pending_output(), 10);
        // Draining below the low mark resumes reading and echoes the stash.
        s.consume(now, 10);
        assert!(!s.is_read_paused());
        assert_eq!(s.take_output(now), b"ab");
    }
}
