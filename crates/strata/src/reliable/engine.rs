//! [`Engine`]: the one interface of the mapping's two datagram engines,
//! the native [`Connection`] and the KCP-compatible [`Kcp`] (issue 10,
//! point 7), with one statistics shape, [`EngineStats`].
//!
//! Both are sans-IO state machines with the same life: datagrams in,
//! datagrams out, one deadline, a byte stream each way, an end. A host
//! (the client layer, a listener's child, a test's pump, QUIC's stream
//! engine later) drives any of them through this trait, by static
//! dispatch: the trait is generic, so a host written against it costs no
//! `dyn` call per packet.
//!
//! The hosts ([`Reliable`](super::Reliable) and
//! [`ReliableListener`](super::ReliableListener) over `Connection`,
//! [`KcpStream`](super::kcp_stream::KcpStream) and
//! [`KcpListener`](super::kcp_stream::KcpListener) over `Kcp`) drive their
//! engine through one generic host (`reliable/host.rs`: the view, the
//! watermarks, the read pause and the end, written once, with a small hook
//! per engine) and the two listeners share one core (`reliable/children.rs`:
//! routing by key, the deadline index, the batch, the drain). See
//! `docs/reliable.md`, "One engine interface".
//!
//! ```
//! use std::time::{Duration, Instant};
//! use strata::reliable::engine::Engine;
//! use strata::reliable::kcp::{Kcp, KcpConfig};
//!
//! /// Moves every datagram due from `a` to `b`.
//! fn carry<E: Engine>(a: &mut E, b: &mut E, now: Instant) {
//!     let mut buf = Vec::new();
//!     while a.poll_transmit(now, &mut buf) {
//!         b.handle_datagram(now, &buf);
//!     }
//! }
//! let (mut a, mut b) = (Kcp::new(1, KcpConfig::default()).unwrap(), Kcp::new(1, KcpConfig::default()).unwrap());
//! let mut now = Instant::now();
//! assert_eq!(Engine::write(&mut a, now, b"hello"), 5);
//! for _ in 0..5 {
//!     a.on_deadline(now);
//!     carry(&mut a, &mut b, now);
//!     b.on_deadline(now);
//!     carry(&mut b, &mut a, now);
//!     now += Duration::from_millis(100);
//! }
//! let mut got = Vec::new();
//! assert_eq!(Engine::read(&mut b, now, &mut got), Some(5));
//! assert_eq!(got, b"hello");
//! assert_eq!(Engine::stats(&a).datagrams_sent, Engine::stats(&b).datagrams_received);
//! ```

use std::time::Instant;

use super::conn::Connection;
use super::kcp::Kcp;

/// What an engine counted, in one shape for both engines.
///
/// ```
/// let s = strata::reliable::engine::EngineStats::default();
/// assert_eq!(s.datagrams_sent + s.retransmits, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Datagrams produced by `poll_transmit`.
    pub datagrams_sent: u64,
    /// Datagrams given to `handle_datagram` and processed.
    pub datagrams_received: u64,
    /// Datagrams (or, for KCP, segments) dropped: malformed, duplicate,
    /// out of window or unexpected.
    pub datagrams_dropped: u64,
    /// Packets (native) or segments (KCP) declared lost or timed out, and
    /// sent again.
    pub retransmits: u64,
}

/// A datagram engine carrying one byte stream each way: the interface a
/// host drives. Every method takes the time from the caller (sans-IO).
///
/// See the [module documentation](self) for an example.
///
/// ```
/// use std::time::Instant;
/// use strata::reliable::engine::Engine;
/// use strata::reliable::kcp::{Kcp, KcpConfig};
/// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
///
/// /// Takes every datagram due now from any engine.
/// fn drain<E: Engine>(e: &mut E, now: Instant) -> Vec<Vec<u8>> {
///     let (mut out, mut buf) = (Vec::new(), Vec::new());
///     e.on_deadline(now);
///     while e.poll_transmit(now, &mut buf) {
///         out.push(buf.clone());
///     }
///     out
/// }
/// let now = Instant::now();
/// let mut native = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
/// let mut kcp = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
/// assert_eq!(Engine::write(&mut kcp, now, b"hi"), 2);
/// assert_eq!(drain(&mut native, now).len(), 1); // the Initial
/// assert_eq!(drain(&mut kcp, now)[0].len(), 24 + 2); // one segment
/// ```
pub trait Engine {
    /// Feeds one datagram from the peer. Returns false when it was dropped
    /// whole (malformed, or not for this engine); it never ends the
    /// engine by itself.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::engine::Engine;
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let now = Instant::now();
    /// let (mut a, mut b) = (Kcp::new(1, KcpConfig::fast_mode()).unwrap(), Kcp::new(1, KcpConfig::fast_mode()).unwrap());
    /// Engine::write(&mut a, now, b"hi");
    /// a.on_deadline(now);
    /// let mut d = Vec::new();
    /// assert!(Engine::poll_transmit(&mut a, now, &mut d));
    /// assert!(Engine::handle_datagram(&mut b, now, &d));
    /// assert!(!Engine::handle_datagram(&mut b, now, b"garbage")); // dropped whole
    /// ```
    fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> bool;
    /// Writes the next datagram due into `out` (cleared first); false when
    /// nothing is due now.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::engine::Engine;
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut out = vec![0xff; 3]; // cleared first
    /// assert!(Engine::poll_transmit(&mut c, now, &mut out));
    /// assert_eq!(out.len(), 1200);
    /// assert!(!Engine::poll_transmit(&mut c, now, &mut out));
    /// ```
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool;
    /// When [`on_deadline`](Self::on_deadline) is due next.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::engine::Engine;
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let now = Instant::now();
    /// let mut k = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// assert_eq!(Engine::next_deadline(&k, now), None); // idle
    /// Engine::write(&mut k, now, b"hi");
    /// assert_eq!(Engine::next_deadline(&k, now), Some(now));
    /// ```
    fn next_deadline(&self, now: Instant) -> Option<Instant>;
    /// Runs the timers due at `now`.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::engine::Engine;
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut d = Vec::new();
    /// assert!(Engine::poll_transmit(&mut c, now, &mut d)); // the Initial, never answered
    /// Engine::on_deadline(&mut c, now); // nothing due yet: nothing happens
    /// assert!(!Engine::poll_transmit(&mut c, now, &mut d));
    /// let due = Engine::next_deadline(&c, now).unwrap();
    /// Engine::on_deadline(&mut c, due); // the probe timeout
    /// assert!(Engine::poll_transmit(&mut c, due, &mut d));
    /// ```
    fn on_deadline(&mut self, now: Instant);
    /// Takes as much of `data` as the send buffer has room for; returns
    /// the bytes taken (0 when full, ended or finished).
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::engine::Engine;
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = Instant::now();
    /// let cfg = ReliableConfig { send_buffer: 4096, ..ReliableConfig::default() };
    /// let mut c = Connection::connect(cfg, now, ConnId(1), ConnId(2));
    /// assert_eq!(Engine::write(&mut c, now, &[0; 10_000]), 4096); // what fits
    /// assert_eq!(Engine::write(&mut c, now, b"more"), 0); // full
    /// ```
    fn write(&mut self, now: Instant, data: &[u8]) -> usize;
    /// Ends our direction after what was written. False when the engine
    /// cannot say it to its peer.
    ///
    /// ```
    /// use strata::reliable::engine::Engine;
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let mut stream = Kcp::new(1, KcpConfig::default()).unwrap();
    /// assert!(Engine::finish(&mut stream)); // the end marker
    /// let mut messages = Kcp::new(1, KcpConfig { stream: false, ..KcpConfig::default() }).unwrap();
    /// assert!(!Engine::finish(&mut messages)); // no end marker in message mode
    /// ```
    fn finish(&mut self) -> bool;
    /// Appends the bytes received in order to `out`; the count, `None`
    /// when nothing is ready. The peer's end of stream, after every byte,
    /// reads as `Some(0)` once; then [`peer_finished`](Self::peer_finished).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::kcp::{Kcp, KcpConfig};
    /// # /// `ticks` rounds of 10 ms: timers, then each datagram arrives 10 ms later.
    /// # fn run(now: &mut Instant, a: &mut Kcp, b: &mut Kcp, ticks: usize) {
    /// #     let mut d = Vec::new();
    /// #     for _ in 0..ticks {
    /// #         a.on_timeout(*now);
    /// #         b.on_timeout(*now);
    /// #         let (mut ab, mut ba) = (Vec::new(), Vec::new());
    /// #         while a.poll_transmit(*now, &mut d) { ab.push(d.clone()) }
    /// #         while b.poll_transmit(*now, &mut d) { ba.push(d.clone()) }
    /// #         *now += Duration::from_millis(10);
    /// #         for d in ab { b.input(*now, &d).unwrap() }
    /// #         for d in ba { a.input(*now, &d).unwrap() }
    /// #     }
    /// # }
    /// # let mut now = Instant::now();
    /// # let mut a = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// # let mut b = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// use strata::reliable::engine::Engine;
    /// Engine::write(&mut a, now, b"hello");
    /// Engine::finish(&mut a);
    /// run(&mut now, &mut a, &mut b, 3);
    /// let mut got = Vec::new();
    /// assert_eq!(Engine::read(&mut b, now, &mut got), Some(5));
    /// assert_eq!(got, b"hello");
    /// assert_eq!(Engine::read(&mut b, now, &mut got), Some(0)); // the end, once
    /// assert_eq!(Engine::read(&mut b, now, &mut got), None);
    /// ```
    fn read(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<usize>;
    /// The peer's end of stream was read (after every byte before it).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::kcp::{Kcp, KcpConfig};
    /// # /// `ticks` rounds of 10 ms: timers, then each datagram arrives 10 ms later.
    /// # fn run(now: &mut Instant, a: &mut Kcp, b: &mut Kcp, ticks: usize) {
    /// #     let mut d = Vec::new();
    /// #     for _ in 0..ticks {
    /// #         a.on_timeout(*now);
    /// #         b.on_timeout(*now);
    /// #         let (mut ab, mut ba) = (Vec::new(), Vec::new());
    /// #         while a.poll_transmit(*now, &mut d) { ab.push(d.clone()) }
    /// #         while b.poll_transmit(*now, &mut d) { ba.push(d.clone()) }
    /// #         *now += Duration::from_millis(10);
    /// #         for d in ab { b.input(*now, &d).unwrap() }
    /// #         for d in ba { a.input(*now, &d).unwrap() }
    /// #     }
    /// # }
    /// # let mut now = Instant::now();
    /// # let mut a = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// # let mut b = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// use strata::reliable::engine::Engine;
    /// Engine::finish(&mut a);
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert!(!Engine::peer_finished(&b)); // arrived, not read yet
    /// Engine::read(&mut b, now, &mut Vec::new());
    /// assert!(Engine::peer_finished(&b));
    /// ```
    fn peer_finished(&self) -> bool;
    /// Bytes held for sending: not yet acknowledged.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::kcp::{Kcp, KcpConfig};
    /// # /// `ticks` rounds of 10 ms: timers, then each datagram arrives 10 ms later.
    /// # fn run(now: &mut Instant, a: &mut Kcp, b: &mut Kcp, ticks: usize) {
    /// #     let mut d = Vec::new();
    /// #     for _ in 0..ticks {
    /// #         a.on_timeout(*now);
    /// #         b.on_timeout(*now);
    /// #         let (mut ab, mut ba) = (Vec::new(), Vec::new());
    /// #         while a.poll_transmit(*now, &mut d) { ab.push(d.clone()) }
    /// #         while b.poll_transmit(*now, &mut d) { ba.push(d.clone()) }
    /// #         *now += Duration::from_millis(10);
    /// #         for d in ab { b.input(*now, &d).unwrap() }
    /// #         for d in ba { a.input(*now, &d).unwrap() }
    /// #     }
    /// # }
    /// # let mut now = Instant::now();
    /// # let mut a = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// # let mut b = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// use strata::reliable::engine::Engine;
    /// Engine::write(&mut a, now, b"hello");
    /// assert_eq!(Engine::send_buffered(&a), 5);
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert_eq!(Engine::send_buffered(&a), 0); // acknowledged
    /// ```
    fn send_buffered(&self) -> usize;
    /// The counters, in the common shape.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::kcp::{Kcp, KcpConfig};
    /// # /// `ticks` rounds of 10 ms: timers, then each datagram arrives 10 ms later.
    /// # fn run(now: &mut Instant, a: &mut Kcp, b: &mut Kcp, ticks: usize) {
    /// #     let mut d = Vec::new();
    /// #     for _ in 0..ticks {
    /// #         a.on_timeout(*now);
    /// #         b.on_timeout(*now);
    /// #         let (mut ab, mut ba) = (Vec::new(), Vec::new());
    /// #         while a.poll_transmit(*now, &mut d) { ab.push(d.clone()) }
    /// #         while b.poll_transmit(*now, &mut d) { ba.push(d.clone()) }
    /// #         *now += Duration::from_millis(10);
    /// #         for d in ab { b.input(*now, &d).unwrap() }
    /// #         for d in ba { a.input(*now, &d).unwrap() }
    /// #     }
    /// # }
    /// # let mut now = Instant::now();
    /// # let mut a = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// # let mut b = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// use strata::reliable::engine::Engine;
    /// Engine::write(&mut a, now, b"hello");
    /// run(&mut now, &mut a, &mut b, 3);
    /// let (sa, sb) = (Engine::stats(&a), Engine::stats(&b));
    /// assert_eq!(sa.datagrams_sent, sb.datagrams_received);
    /// assert_eq!(sa.retransmits + sb.datagrams_dropped, 0);
    /// ```
    fn stats(&self) -> EngineStats;
}

/// Most bytes [`Engine::read`] takes from a [`Connection`] at once.
const READ_CHUNK: usize = 64 * 1024;

impl Engine for Connection {
    fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> bool {
        let before = self.stats();
        Connection::handle_datagram(self, now, datagram);
        self.stats().packets_received > before.packets_received
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        Connection::poll_transmit(self, now, out)
    }
    fn next_deadline(&self, _now: Instant) -> Option<Instant> {
        self.next_timeout()
    }
    fn on_deadline(&mut self, now: Instant) {
        if self.next_timeout().is_some_and(|d| d <= now) {
            self.handle_timeout(now);
        }
    }
    fn write(&mut self, now: Instant, data: &[u8]) -> usize {
        // Within the soft send buffer: past the hard limit a write closes
        // the connection.
        let room = self
            .config()
            .send_buffer
            .saturating_sub(self.send_buffered());
        let n = data.len().min(room);
        if n > 0 && Connection::write(self, now, &data[..n]) {
            n
        } else {
            0
        }
    }
    fn finish(&mut self) -> bool {
        Connection::finish(self);
        true
    }
    fn read(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<usize> {
        match Connection::read(self, now, READ_CHUNK) {
            Some(data) => {
                out.extend_from_slice(&data);
                Some(data.len())
            }
            None => self.take_fin(now).then_some(0),
        }
    }
    fn peer_finished(&self) -> bool {
        Connection::peer_finished(self)
    }
    fn send_buffered(&self) -> usize {
        Connection::send_buffered(self)
    }
    fn stats(&self) -> EngineStats {
        let s = Connection::stats(self);
        EngineStats {
            datagrams_sent: s.packets_sent,
            datagrams_received: s.packets_received,
            datagrams_dropped: s.dropped_malformed + s.dropped_duplicate + s.dropped_unexpected,
            retransmits: s.packets_lost,
        }
    }
}

impl Engine for Kcp {
    fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> bool {
        self.input(now, datagram).is_ok()
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        Kcp::poll_transmit(self, now, out)
    }
    fn next_deadline(&self, now: Instant) -> Option<Instant> {
        self.next_timeout(now)
    }
    fn on_deadline(&mut self, now: Instant) {
        if self.next_timeout(now).is_some_and(|d| d <= now) {
            self.on_timeout(now);
        }
    }
    fn write(&mut self, _now: Instant, data: &[u8]) -> usize {
        self.send(data)
    }
    /// The end marker ([`Kcp::send_end`]): both ends must understand it.
    fn finish(&mut self) -> bool {
        self.send_end()
    }
    fn read(&mut self, _now: Instant, out: &mut Vec<u8>) -> Option<usize> {
        self.recv(out)
    }
    fn peer_finished(&self) -> bool {
        self.end_received()
    }
    fn send_buffered(&self) -> usize {
        self.buffered()
    }
    fn stats(&self) -> EngineStats {
        let s = Kcp::stats(self);
        EngineStats {
            datagrams_sent: s.datagrams_out,
            datagrams_received: s.datagrams_in - s.datagrams_dropped,
            datagrams_dropped: s.datagrams_dropped + s.duplicate_segments + s.segments_dropped,
            retransmits: s.timeout_retransmits + s.fast_retransmits,
        }
    }
}

#[cfg(test)]
mod tests {
    //! One generic exchange, run over both engines: the interface is the
    //! same, so is the outcome.
    use std::time::{Duration, Instant};

    use super::{Engine, EngineStats};
    use crate::reliable::kcp::{Kcp, KcpConfig};
    use crate::reliable::wire::ConnId;
    use crate::reliable::{Connection, ReliableConfig};

    /// Moves `n` bytes each way over a perfect link with 5 ms of delay
    /// (every datagram of a step arrives at the next), then both ends
    /// finish; returns what each end read and its stats.
    fn exchange<E: Engine>(
        mut a: E,
        mut b: E,
        n: usize,
        start: Instant,
    ) -> [(usize, EngineStats); 2] {
        let data = vec![0x5a; n];
        let (mut sent, mut got) = ([0usize; 2], [0usize; 2]);
        let mut finished = [false; 2];
        let mut now = start;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for _ in 0..20_000 {
            for (i, e) in [&mut a, &mut b].into_iter().enumerate() {
                sent[i] += e.write(now, &data[sent[i]..]);
                if sent[i] == n && !finished[i] {
                    finished[i] = e.finish();
                }
                e.on_deadline(now);
            }
            let mut moved = Vec::new();
            while a.poll_transmit(now, &mut buf) {
                moved.push((1, buf.clone()));
            }
            while b.poll_transmit(now, &mut buf) {
                moved.push((0, buf.clone()));
            }
            now += Duration::from_millis(5);
            for (to, d) in moved {
                let e = if to == 0 { &mut a } else { &mut b };
                e.handle_datagram(now, &d);
            }
            for (i, e) in [&mut a, &mut b].into_iter().enumerate() {
                out.clear();
                while let Some(k) = e.read(now, &mut out) {
                    got[i] += k;
                    out.clear();
                }
            }
            if a.peer_finished() && b.peer_finished() {
                break;
            }
        }
        assert!(a.peer_finished() && b.peer_finished(), "got {got:?}");
        [(got[0], a.stats()), (got[1], b.stats())]
    }

    #[test]
    fn both_engines_move_a_stream_each_way_and_finish_through_one_interface() {
        let now = Instant::now();
        let native = exchange(
            Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2)),
            Connection::accept(ReliableConfig::default(), now, ConnId(2), ConnId(1), true),
            300_000,
            now,
        );
        let (ka, kb) = (
            Kcp::new(7, KcpConfig::fast_mode()).unwrap(),
            Kcp::new(7, KcpConfig::fast_mode()).unwrap(),
        );
        let kcp = exchange(ka, kb, 300_000, now);
        for [(a, sa), (b, sb)] in [native, kcp] {
            assert_eq!((a, b), (300_000, 300_000));
            assert!(sa.datagrams_sent > 0 && sb.datagrams_received > 0);
            assert!(sb.datagrams_sent > 0 && sa.datagrams_received > 0);
            assert_eq!(sa.retransmits + sb.retransmits, 0, "a perfect link");
            assert_eq!(sa.datagrams_dropped + sb.datagrams_dropped, 0);
        }
    }
}
