//! The workloads, written as stream protocols so that any transport that
//! hosts a [`StreamProtocol`] can carry them: a bulk sender and a sink that
//! checks every byte, and a pair that measures message delivery latency.
//!
//! Results go to a [`Probe`] shared with the harness (the protocols are owned
//! by the simulated network's nodes while it runs).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use strata::testing::epoch;
use strata::{StreamProtocol, StreamTransport};

/// How much a bulk sender writes per `write` call.
const WRITE_CHUNK: usize = 16 * 1024;

/// The byte at stream offset `i` of every workload: a hash of the offset, so
/// a byte delivered at the wrong place (lost, duplicated, reordered) shows.
pub fn pattern(i: u64) -> u8 {
    // Top byte of a Fibonacci hash: no short period.
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Fills `buf` with the pattern from stream offset `from`.
fn fill(buf: &mut [u8], from: u64) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern(from + k as u64);
    }
}

/// Virtual time since the simulation started.
pub fn since_start(now: Instant) -> Duration {
    now.saturating_duration_since(epoch())
}

/// What a workload's receiver saw, shared with the harness.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Bytes delivered in order and matching the pattern.
    pub delivered: u64,
    /// When the last expected byte (or message) arrived, since the start.
    pub done_at: Option<Duration>,
    /// The first thing that went wrong (wrong byte, bad message, early EOF).
    pub error: Option<String>,
    /// EOF was received.
    pub eof: bool,
    /// Latency workload: delivery latency of each message, in order.
    pub latencies: Vec<Duration>,
    /// Bulk workload: bytes the sender's application wrote.
    pub written: u64,
}

/// A handle on an [`Outcome`], cloned into the protocols.
#[derive(Clone, Debug, Default)]
pub struct Probe(Arc<Mutex<Outcome>>);

impl Probe {
    /// A fresh probe.
    pub fn new() -> Probe {
        Probe::default()
    }

    /// The outcome so far.
    pub fn lock(&self) -> MutexGuard<'_, Outcome> {
        // A panic while holding the lock is a bug of this harness; its
        // outcome is still worth reading.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The receiver got everything (or failed): the run can stop.
    pub fn finished(&self) -> bool {
        let o = self.lock();
        o.done_at.is_some() || o.error.is_some()
    }

    fn fail(&self, why: String) {
        let mut o = self.lock();
        if o.error.is_none() {
            o.error = Some(why);
        }
    }
}

/// Writes `total` pattern bytes as fast as the transport takes them (it
/// stops at `pause_writing`, or whenever `writable` is false, and goes on at
/// `resume_writing`), then `write_eof` and `close`.
#[derive(Debug)]
pub struct BulkSender {
    total: u64,
    sent: u64,
    paused: bool,
    finished: bool,
    buf: Vec<u8>,
    probe: Probe,
}

impl BulkSender {
    /// A sender of `total` bytes reporting to `probe`.
    pub fn new(total: u64, probe: Probe) -> BulkSender {
        BulkSender {
            total,
            sent: 0,
            paused: false,
            finished: false,
            buf: vec![0; WRITE_CHUNK],
            probe,
        }
    }

    fn pump(&mut self, t: &mut dyn StreamTransport) {
        let start = self.sent;
        while !self.paused && self.sent < self.total && t.writable() {
            let n = usize::try_from(self.total - self.sent)
                .unwrap_or(usize::MAX)
                .min(WRITE_CHUNK);
            let chunk = &mut self.buf[..n];
            fill(chunk, self.sent);
            t.write(chunk);
            self.sent += n as u64;
        }
        if self.sent != start {
            self.probe.lock().written = self.sent;
        }
        if self.sent == self.total && !self.finished {
            self.finished = true;
            t.write_eof();
            t.close();
        }
    }
}

impl StreamProtocol for BulkSender {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        self.probe.fail("the sink sent data back".into());
        t.close();
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.paused = true;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.paused = false;
        self.pump(t);
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        // A transport may become writable without an edge (a level check).
        self.pump(t);
    }
}

/// Counts the bytes it receives, checks each against the pattern, and
/// records the virtual time at which the `expected`-th byte arrived. Closes
/// at EOF.
#[derive(Debug)]
pub struct Sink {
    expected: u64,
    got: u64,
    broken: bool,
    probe: Probe,
}

impl Sink {
    /// A sink expecting `expected` bytes, reporting to `probe`.
    pub fn new(expected: u64, probe: Probe) -> Sink {
        Sink {
            expected,
            got: 0,
            broken: false,
            probe,
        }
    }
}

impl StreamProtocol for Sink {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.broken {
            return;
        }
        if let Some(k) = (0..data.len()).find(|&k| data[k] != pattern(self.got + k as u64)) {
            self.broken = true;
            let at = self.got + k as u64;
            self.probe.fail(format!("wrong byte at offset {at}"));
            return;
        }
        self.got += data.len() as u64;
        let mut o = self.probe.lock();
        o.delivered = self.got;
        if self.got > self.expected {
            self.broken = true;
            o.error = Some(format!("{} bytes, {} expected", self.got, self.expected));
        } else if self.got == self.expected && o.done_at.is_none() {
            o.done_at = Some(since_start(t.now()));
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        {
            let mut o = self.probe.lock();
            o.eof = true;
            if self.got < self.expected && o.error.is_none() {
                o.error = Some(format!("EOF after {} of {} bytes", self.got, self.expected));
            }
        }
        t.close();
    }
}

/// Size of one latency message: sequence number, send time, pattern fill.
pub const MSG_SIZE: usize = 1024;
const MSG_HEADER: usize = 16;

/// Writes `count` messages of [`MSG_SIZE`] bytes, one every `every`, each
/// stamped with its sequence number and the virtual time it was written;
/// then `write_eof`.
#[derive(Debug)]
pub struct MsgSender {
    count: u64,
    every: Duration,
    sent: u64,
    next: Option<Instant>,
    buf: Vec<u8>,
}

impl MsgSender {
    /// `count` messages, one every `every`.
    pub fn new(count: u64, every: Duration) -> MsgSender {
        MsgSender {
            count,
            every,
            sent: 0,
            next: None,
            buf: vec![0; MSG_SIZE],
        }
    }

    fn send_due(&mut self, t: &mut dyn StreamTransport) {
        let now = t.now();
        while self.sent < self.count && self.next.is_some_and(|n| n <= now) {
            encode_msg(&mut self.buf, self.sent, since_start(now));
            t.write(&self.buf);
            self.sent += 1;
            self.next = self.next.map(|n| n + self.every);
        }
        if self.sent == self.count && self.next.is_some() {
            self.next = None;
            t.write_eof();
        }
    }
}

/// Writes message `seq` stamped `at` into `buf` ([`MSG_SIZE`] bytes).
fn encode_msg(buf: &mut [u8], seq: u64, at: Duration) {
    let ns = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    buf[8..16].copy_from_slice(&ns.to_le_bytes());
    fill(&mut buf[MSG_HEADER..], seq.wrapping_mul(MSG_SIZE as u64));
}

impl StreamProtocol for MsgSender {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.next = Some(t.now());
        self.send_due(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn next_deadline(&self) -> Option<Instant> {
        self.next
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.send_due(t);
    }
}

/// Parses the messages of a [`MsgSender`] out of the byte stream and records
/// each one's delivery latency (`t.now()` at the receiver minus its stamp);
/// finished once `count` messages arrived intact and in order.
#[derive(Debug)]
pub struct MsgReceiver {
    count: u64,
    next_seq: u64,
    partial: Vec<u8>,
    broken: bool,
    probe: Probe,
}

impl MsgReceiver {
    /// A receiver of `count` messages reporting to `probe`.
    pub fn new(count: u64, probe: Probe) -> MsgReceiver {
        MsgReceiver {
            count,
            next_seq: 0,
            partial: Vec::with_capacity(MSG_SIZE),
            broken: false,
            probe,
        }
    }

    /// Checks one whole message; its latency, or what is wrong with it.
    fn check(&self, msg: &[u8], now: Duration) -> Result<Duration, String> {
        let word = |r: std::ops::Range<usize>| {
            msg.get(r)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
        };
        let (Some(seq), Some(ns)) = (word(0..8), word(8..16)) else {
            return Err("short message".into());
        };
        if seq != self.next_seq {
            return Err(format!("message {seq} where {} was due", self.next_seq));
        }
        let base = seq.wrapping_mul(MSG_SIZE as u64);
        let body = msg.get(MSG_HEADER..).unwrap_or_default();
        if body
            .iter()
            .enumerate()
            .any(|(k, &b)| b != pattern(base + k as u64))
        {
            return Err(format!("message {seq} corrupted"));
        }
        Ok(now.saturating_sub(Duration::from_nanos(ns)))
    }
}

impl StreamProtocol for MsgReceiver {
    fn data_received(&mut self, t: &mut dyn StreamTransport, mut data: &[u8]) {
        let now = since_start(t.now());
        while !self.broken && !data.is_empty() {
            let take = (MSG_SIZE - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() < MSG_SIZE {
                break;
            }
            let verdict = self.check(&self.partial, now);
            self.partial.clear();
            let mut o = self.probe.lock();
            match verdict {
                Ok(lat) => {
                    o.latencies.push(lat);
                    o.delivered += MSG_SIZE as u64;
                    self.next_seq += 1;
                    if self.next_seq == self.count {
                        o.done_at = Some(now);
                    } else if self.next_seq > self.count {
                        o.error = Some("more messages than sent".into());
                    }
                }
                Err(why) => {
                    self.broken = true;
                    o.error.get_or_insert(why);
                }
            }
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        {
            let mut o = self.probe.lock();
            o.eof = true;
            if self.next_seq < self.count && o.error.is_none() {
                o.error = Some(format!(
                    "EOF after {} of {} messages",
                    self.next_seq, self.count
                ));
            }
        }
        t.close();
    }
}

#[cfg(test)]
mod tests {
    use strata::testing::MemoryTransport;

    use super::*;

    #[test]
    fn the_sink_takes_the_pattern_in_any_chunking_and_finishes() {
        let probe = Probe::new();
        let mut sink = Sink::new(5000, probe.clone());
        let mut t = MemoryTransport::new();
        let mut all = vec![0u8; 5000];
        fill(&mut all, 0);
        for piece in all.chunks(777) {
            sink.data_received(&mut t, piece);
        }
        let o = probe.lock();
        assert_eq!((o.delivered, o.error.as_deref()), (5000, None));
        assert!(o.done_at.is_some());
    }

    #[test]
    fn the_sink_catches_a_lost_or_swapped_chunk() {
        let mut all = vec![0u8; 3000];
        fill(&mut all, 0);
        let probe = Probe::new();
        let mut sink = Sink::new(3000, probe.clone());
        let mut t = MemoryTransport::new();
        sink.data_received(&mut t, &all[..1000]);
        sink.data_received(&mut t, &all[2000..]);
        let o = probe.lock();
        assert!(o
            .error
            .as_deref()
            .is_some_and(|e| e.contains("offset 1000")));
        assert!(o.done_at.is_none());
    }

    #[test]
    fn an_early_eof_is_an_error() {
        let probe = Probe::new();
        let mut sink = Sink::new(10, probe.clone());
        let mut t = MemoryTransport::new();
        sink.eof_received(&mut t);
        assert!(probe.finished());
        assert!(probe.lock().error.is_some());
    }

    #[test]
    fn messages_round_trip_with_their_latency() {
        let probe = Probe::new();
        let mut rx = MsgReceiver::new(2, probe.clone());
        let mut t = MemoryTransport::new();
        let mut buf = vec![0u8; 2 * MSG_SIZE];
        encode_msg(&mut buf[..MSG_SIZE], 0, Duration::ZERO);
        encode_msg(&mut buf[MSG_SIZE..], 1, Duration::ZERO);
        // Split mid-header to exercise reassembly.
        rx.data_received(&mut t, &buf[..MSG_SIZE + 5]);
        rx.data_received(&mut t, &buf[MSG_SIZE + 5..]);
        let o = probe.lock();
        assert_eq!((o.latencies.len(), o.error.as_deref()), (2, None));
        assert!(o.done_at.is_some());
    }

    #[test]
    fn a_skipped_message_is_an_error() {
        let probe = Probe::new();
        let mut rx = MsgReceiver::new(3, probe.clone());
        let mut t = MemoryTransport::new();
        let mut buf = vec![0u8; MSG_SIZE];
        encode_msg(&mut buf, 1, Duration::ZERO);
        rx.data_received(&mut t, &buf);
        assert!(probe
            .lock()
            .error
            .as_deref()
            .is_some_and(|e| e.contains("message 1")));
    }

    #[test]
    fn the_bulk_sender_stops_when_not_writable_and_finishes_with_eof() {
        let probe = Probe::new();
        let mut tx = BulkSender::new(100_000, probe.clone());
        let mut t = MemoryTransport::new();
        tx.connection_made(&mut t);
        let mut all = t.take_written();
        assert!(
            !all.is_empty() && all.len() < 100_000,
            "stopped at the high water"
        );
        tx.pause_writing(&mut t);
        tx.on_deadline(&mut t);
        assert!(t.take_written().is_empty(), "nothing while paused");
        tx.resume_writing(&mut t);
        for _ in 0..10 {
            all.extend(t.take_written());
            tx.on_deadline(&mut t);
        }
        assert_eq!(all.len(), 100_000);
        assert!(all.iter().enumerate().all(|(i, &b)| b == pattern(i as u64)));
        assert!(t.eof_written());
        assert_eq!(probe.lock().written, 100_000);
    }
}
