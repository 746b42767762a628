//! A sans-IO, KCP-compatible ARQ engine that interoperates with ikcp peers
//! (the C reference implementation and its ports).
//!
//! The wire format is ikcp's ([`Segment`]): 24-byte little-endian headers,
//! commands PUSH/ACK/WASK/WINS, several segments per datagram up to the MTU.
//! The behaviour follows ikcp: selective ACK of every segment plus a
//! cumulative `una`, RTO from a smoothed RTT with ikcp's back-off
//! (doubling, or ×1.5 in nodelay mode), fast retransmit after `fast_resend`
//! later ACKs, window probing when the peer's window is zero, and fragment
//! reassembly in message mode. Unlike ikcp's defaults, congestion control is
//! **on** unless the config says otherwise ([`KcpConfig::fast_mode`]).
//!
//! # Driving contract
//!
//! [`Kcp`] never reads a clock or touches a socket; time is an [`Instant`]
//! passed in and converted to ikcp's `u32` milliseconds relative to the first
//! instant the engine sees. Time only moves forward (an earlier `now` is
//! treated as the latest seen). The method groups:
//!
//! * input: [`Kcp::input`] with each datagram from the peer;
//! * application: [`Kcp::send`]/[`Kcp::send_message`] and [`Kcp::recv`],
//!   back-pressure with [`Kcp::writable`] and [`Kcp::buffered`];
//! * output: [`Kcp::poll_transmit`], one datagram per call;
//! * timers: [`Kcp::next_timeout`] and [`Kcp::on_timeout`].
//!
//! After every input, send or timeout, call `poll_transmit` until it returns
//! `false`, then arm a timer for `next_timeout` (none means idle) and call
//! `on_timeout` when it fires. Like ikcp, data and acks are flushed on
//! `interval` ticks (acks at once with [`KcpConfig::ack_nodelay`]).
//!
//! # Memory
//!
//! Everything is bounded by the config: the send side by
//! [`KcpConfig::send_buffer`] bytes, the receive side by `rcv_wnd` segments
//! reassembled plus `rcv_wnd` segments ready (each at most one MSS), and
//! pending acks by twice `rcv_wnd`. Segments outside the window, oversized
//! ones and excess acks are dropped and counted in [`KcpStats`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use strata::reliable::kcp::{Kcp, KcpConfig};
//!
//! let mut a = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
//! let mut b = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
//! let mut now = Instant::now();
//! assert_eq!(a.send(b"hello"), 5);
//! let mut got = Vec::new();
//! let mut dgram = Vec::new();
//! for _ in 0..10 {
//!     a.on_timeout(now);
//!     b.on_timeout(now);
//!     while a.poll_transmit(now, &mut dgram) { b.input(now, &dgram).unwrap(); }
//!     while b.poll_transmit(now, &mut dgram) { a.input(now, &dgram).unwrap(); }
//!     b.recv(&mut got);
//!     now += Duration::from_millis(10);
//! }
//! assert_eq!(got, b"hello");
//! assert_eq!(a.buffered(), 0);
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

mod config;
mod error;
mod qlog;
mod segment;
mod send;

pub use config::{KcpConfig, KcpConfigError, MAX_MTU, MIN_MTU, MIN_RCV_WND};
pub use error::{KcpError, KcpStats};
pub use segment::{peek_conv, segments, Command, Segment, Segments, HEADER_LEN};
use send::new_send_seg;

use crate::deadline::after;

const RTO_DEF: u32 = 200;
const RTO_MAX: u32 = 60_000;
const THRESH_INIT: u32 = 2;
const THRESH_MIN: u32 = 2;
const PROBE_INIT: u32 = 7_000;
const PROBE_LIMIT: u32 = 120_000;
const ASK_SEND: u8 = 1;
const ASK_TELL: u8 = 2;
/// Largest message, in fragments, that [`Kcp::send_message`] accepts
/// (ikcp's limit: fragments must fit a receive window of 128).
pub const MAX_FRAGMENTS: usize = 127;

/// A segment in the send buffer (sent, awaiting ack) or send queue.
#[derive(Debug)]
struct SendSeg {
    sn: u32,
    frg: u8,
    ts: u32,
    resendts: u32,
    rto: u32,
    fastack: u32,
    xmit: u32,
    /// Marked for (re)transmission by the last flush, not yet emitted.
    pending: bool,
    data: Vec<u8>,
}

/// A received data segment.
#[derive(Debug)]
struct RecvSeg {
    sn: u32,
    frg: u8,
    data: Vec<u8>,
}

/// The KCP engine for one conversation. See the [module docs](self) for the
/// driving contract and an example.
///
/// ```
/// use std::time::Instant;
/// use strata::reliable::kcp::{Kcp, KcpConfig};
/// // Message mode: each message arrives whole, boundaries kept.
/// let cfg = KcpConfig { stream: false, ..KcpConfig::fast_mode() };
/// let (mut a, mut b) = (Kcp::new(3, cfg.clone()).unwrap(), Kcp::new(3, cfg).unwrap());
/// a.send_message(b"one").unwrap();
/// a.send_message(b"two").unwrap();
/// let (now, mut d) = (Instant::now(), Vec::new());
/// a.on_timeout(now);
/// while a.poll_transmit(now, &mut d) { b.input(now, &d).unwrap() }
/// let mut msg = Vec::new();
/// assert_eq!(b.recv(&mut msg), Some(3));
/// assert_eq!(msg, b"one");
/// msg.clear();
/// assert_eq!(b.recv(&mut msg), Some(3));
/// assert_eq!(msg, b"two");
/// ```
#[derive(Debug)]
pub struct Kcp {
    conv: u32,
    cfg: KcpConfig,
    mss: usize,
    /// First instant seen: ikcp's millisecond clock counts from here.
    epoch: Option<Instant>,
    /// Latest instant seen (time never moves back).
    latest: Option<Instant>,
    current: u32,
    updated: bool,
    ts_flush: u32,

    snd_una: u32,
    snd_nxt: u32,
    rcv_nxt: u32,

    ssthresh: u32,
    cwnd: u32,
    incr: usize,
    rx_srtt: u32,
    rx_rttval: u32,
    rx_rto: u32,
    rx_minrto: u32,
    rmt_wnd: u16,

    probe: u8,
    ts_probe: u32,
    probe_wait: u32,

    snd_queue: VecDeque<SendSeg>,
    snd_buf: VecDeque<SendSeg>,
    snd_bytes: usize,
    rcv_buf: VecDeque<RecvSeg>,
    rcv_queue: VecDeque<RecvSeg>,
    acklist: VecDeque<(u32, u32)>,
    acks_due: bool,
    dead: bool,
    stats: KcpStats,
    /// Stream mode: the end marker was queued ([`Kcp::send_end`]); no more
    /// bytes are taken.
    end_queued: bool,
    /// Stream mode: the peer's end marker was received.
    end_received: bool,
    /// The qlog trace, when the engine is traced ([`Kcp::set_qlog`]).
    qlog: Option<Box<qlog::KcpQlog>>,
}

/// `later - earlier` in ikcp's wrapping u32 arithmetic.
fn diff(later: u32, earlier: u32) -> i32 {
    later.wrapping_sub(earlier) as i32
}

impl Kcp {
    /// Creates an engine for conversation `conv` (both peers use the same).
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let k = Kcp::new(42, KcpConfig::default_mode()).unwrap();
    /// assert_eq!(k.conv(), 42);
    /// assert!(Kcp::new(1, KcpConfig { mtu: 10, ..KcpConfig::default() }).is_err());
    /// ```
    pub fn new(conv: u32, cfg: KcpConfig) -> Result<Kcp, KcpError> {
        cfg.validate()?;
        let mss = cfg.mtu - HEADER_LEN;
        Ok(Kcp {
            conv,
            mss,
            epoch: None,
            latest: None,
            current: 0,
            updated: false,
            ts_flush: 0,
            snd_una: 0,
            snd_nxt: 0,
            rcv_nxt: 0,
            ssthresh: THRESH_INIT,
            cwnd: 0,
            incr: 0,
            rx_srtt: 0,
            rx_rttval: 0,
            rx_rto: RTO_DEF,
            rx_minrto: cfg.min_rto_ms(),
            rmt_wnd: MIN_RCV_WND,
            probe: 0,
            ts_probe: 0,
            probe_wait: 0,
            snd_queue: VecDeque::new(),
            snd_buf: VecDeque::new(),
            snd_bytes: 0,
            rcv_buf: VecDeque::new(),
            rcv_queue: VecDeque::new(),
            acklist: VecDeque::new(),
            acks_due: false,
            dead: false,
            stats: KcpStats::default(),
            end_queued: false,
            end_received: false,
            qlog: None,
            cfg,
        })
    }

    /// The conversation id.
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let k = Kcp::new(0x1234, KcpConfig::default()).unwrap();
    /// assert_eq!(k.conv(), 0x1234);
    /// ```
    pub fn conv(&self) -> u32 {
        self.conv
    }

    /// The configuration in use.
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let k = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// assert!(k.config().nodelay);
    /// assert_eq!(k.config(), &KcpConfig::fast_mode());
    /// ```
    pub fn config(&self) -> &KcpConfig {
        &self.cfg
    }

    /// Maximum data bytes per segment (MTU minus the 24-byte header).
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let k = Kcp::new(1, KcpConfig { mtu: 1200, ..KcpConfig::default() }).unwrap();
    /// assert_eq!(k.mss(), 1200 - 24);
    /// ```
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Counters.
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
    /// a.send(b"hello");
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert_eq!(a.stats().segments_sent, 1);
    /// assert_eq!(a.stats().datagrams_out, b.stats().datagrams_in);
    /// assert_eq!(a.stats().timeout_retransmits, 0);
    /// ```
    pub fn stats(&self) -> KcpStats {
        self.stats
    }

    /// Smoothed RTT estimate in milliseconds (0 before the first sample).
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
    /// assert_eq!(a.srtt_ms(), 0); // no sample yet
    /// a.send(b"hello");
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert!(a.srtt_ms() >= 20); // 10 ms each way
    /// ```
    pub fn srtt_ms(&self) -> u32 {
        self.rx_srtt
    }

    /// Current retransmission timeout in milliseconds.
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
    /// assert_eq!(a.rto_ms(), 200); // ikcp's initial RTO
    /// a.send(b"hello");
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert!(a.rto_ms() < 200); // from the measured RTT, at least 30 ms in nodelay mode
    /// assert!(a.rto_ms() >= 30);
    /// ```
    pub fn rto_ms(&self) -> u32 {
        self.rx_rto
    }

    /// Congestion window in segments (ignored when `no_congestion_control`).
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
    /// # let _ = (&mut a, &mut b);
    /// let cfg = KcpConfig::default_mode(); // congestion control on
    /// let (mut a, mut b) = (Kcp::new(1, cfg.clone()).unwrap(), Kcp::new(1, cfg).unwrap());
    /// a.send(&[7; 50_000]);
    /// run(&mut now, &mut a, &mut b, 100);
    /// assert!(a.cwnd() > 1); // it grew with the acks (slow start)
    /// ```
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }

    /// The peer's last advertised free receive window, in segments.
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
    /// a.send(b"hello");
    /// run(&mut now, &mut a, &mut b, 3);
    /// // b holds one segment unread: it announces one less than its window.
    /// assert_eq!(a.remote_window(), b.config().rcv_wnd - 1);
    /// ```
    pub fn remote_window(&self) -> u16 {
        self.rmt_wnd
    }

    /// True once a segment was transmitted `dead_link` times without an ack
    /// (ikcp's `state == -1`): the caller should give the conversation up.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let mut k = Kcp::new(1, KcpConfig { dead_link: 3, ..KcpConfig::fast_mode() }).unwrap();
    /// k.send(b"anyone?");
    /// let (mut now, mut d) = (Instant::now(), Vec::new());
    /// while !k.is_dead_link() {
    ///     k.on_timeout(now);
    ///     while k.poll_transmit(now, &mut d) {} // every datagram lost
    ///     now = k.next_timeout(now).unwrap();
    /// }
    /// assert_eq!(k.stats().timeout_retransmits, 2); // sent 3 times in all
    /// ```
    pub fn is_dead_link(&self) -> bool {
        self.dead
    }

    /// Bytes accepted by `send` and not yet acknowledged by the peer.
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
    /// a.send(b"hello");
    /// assert_eq!(a.buffered(), 5);
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert_eq!(a.buffered(), 0); // acknowledged
    /// ```
    pub fn buffered(&self) -> usize {
        self.snd_bytes
    }

    /// True while the send buffer has room.
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let mut k = Kcp::new(1, KcpConfig { send_buffer: 2000, ..KcpConfig::default() }).unwrap();
    /// assert!(k.writable());
    /// k.send(&[0; 2000]);
    /// assert!(!k.writable());
    /// ```
    pub fn writable(&self) -> bool {
        self.snd_bytes < self.cfg.send_buffer
    }

    /// Segments queued or in flight (ikcp's `waitsnd`).
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let mut k = Kcp::new(1, KcpConfig::default()).unwrap(); // MSS 1376
    /// k.send(&[0; 3000]);
    /// assert_eq!(k.wait_snd(), 3);
    /// ```
    pub fn wait_snd(&self) -> usize {
        self.snd_queue.len() + self.snd_buf.len()
    }

    /// Stream mode: queues as much of `data` as the send buffer takes and
    /// returns how many bytes were taken. Message mode: queues `data` as one
    /// message if it fits now, returning `data.len()`, else 0 (use
    /// [`Kcp::send_message`] to learn why).
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let mut k = Kcp::new(1, KcpConfig { send_buffer: 4096, ..KcpConfig::default() }).unwrap();
    /// assert_eq!(k.send(&[0; 10_000]), 4096);
    /// assert!(!k.writable());
    /// ```
    pub fn send(&mut self, data: &[u8]) -> usize {
        if !self.cfg.stream {
            return match self.send_message(data) {
                Ok(()) => data.len(),
                Err(_) => 0,
            };
        }
        if self.end_queued {
            return 0;
        }
        let room = self.cfg.send_buffer.saturating_sub(self.snd_bytes);
        let take = data.len().min(room);
        let mut rest = &data[..take];
        if let Some(last) = self.snd_queue.back_mut() {
            let extend = self.mss.saturating_sub(last.data.len()).min(rest.len());
            let (head, tail) = rest.split_at(extend);
            last.data.extend_from_slice(head);
            rest = tail;
        }
        while !rest.is_empty() {
            let (head, tail) = rest.split_at(rest.len().min(self.mss));
            self.snd_queue.push_back(new_send_seg(head, 0));
            rest = tail;
        }
        self.snd_bytes += take;
        take
    }

    /// Stream mode: queues the end marker, a data segment of zero bytes,
    /// after everything sent (once; later `send`s take nothing). It is
    /// sequenced, acknowledged and retransmitted like data. ikcp in stream
    /// mode never sends an empty segment (its `ikcp_send` returns early on
    /// an empty buffer), so between two strata ends that agree on it the
    /// marker is unambiguous; a stock peer acknowledges it like any
    /// segment. Returns false in message mode, where an empty message is
    /// data.
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let mut k = Kcp::new(1, KcpConfig::default()).unwrap();
    /// assert_eq!(k.send(b"last"), 4);
    /// assert!(k.send_end());
    /// assert_eq!(k.send(b"more"), 0);
    /// assert_eq!(k.wait_snd(), 2);
    /// ```
    pub fn send_end(&mut self) -> bool {
        if !self.cfg.stream {
            return false;
        }
        if !self.end_queued {
            self.end_queued = true;
            self.snd_queue.push_back(new_send_seg(&[], 0));
        }
        true
    }

    /// Stream mode: the peer's end marker ([`Kcp::send_end`]) was read by
    /// [`Kcp::recv`] (after every byte before it).
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
    /// a.send(b"bye");
    /// a.send_end();
    /// run(&mut now, &mut a, &mut b, 3);
    /// let mut got = Vec::new();
    /// assert_eq!(b.recv(&mut got), Some(3));
    /// assert!(!b.end_received()); // the bytes before it first
    /// assert_eq!(b.recv(&mut got), Some(0));
    /// assert!(b.end_received());
    /// ```
    pub fn end_received(&self) -> bool {
        self.end_received
    }

    /// Makes the acknowledgements owed go out with the next
    /// [`Kcp::poll_transmit`] instead of at the next interval tick: for a
    /// conversation about to end, whose last acknowledgement (of the
    /// peer's end marker) would otherwise never leave.
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
    /// assert!(!b.config().ack_nodelay); // acks wait for the next tick
    /// a.send(b"hello");
    /// a.on_timeout(now);
    /// let mut d = Vec::new();
    /// assert!(a.poll_transmit(now, &mut d));
    /// b.input(now, &d).unwrap();
    /// assert!(!b.poll_transmit(now, &mut d)); // the ack is owed, not due
    /// b.flush_acks();
    /// assert!(b.poll_transmit(now, &mut d));
    /// # let _ = run;
    /// ```
    pub fn flush_acks(&mut self) {
        if !self.acklist.is_empty() {
            self.acks_due = true;
        }
    }

    /// Everything queued, the end marker included, is acknowledged.
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
    /// assert!(a.all_acked());
    /// a.send(b"hello");
    /// a.send_end();
    /// assert!(!a.all_acked());
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert!(a.all_acked());
    /// ```
    pub fn all_acked(&self) -> bool {
        self.snd_queue.is_empty() && self.snd_buf.is_empty()
    }

    /// Message mode: queues `msg` as one message (fragmented into at most
    /// [`MAX_FRAGMENTS`] segments); the peer receives it whole.
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig, KcpError};
    /// let mut k = Kcp::new(1, KcpConfig { stream: false, ..KcpConfig::default() }).unwrap();
    /// k.send_message(b"one message").unwrap();
    /// assert!(matches!(k.send_message(&vec![0; 1 << 20]), Err(KcpError::MessageTooLarge { .. })));
    /// ```
    pub fn send_message(&mut self, msg: &[u8]) -> Result<(), KcpError> {
        if self.cfg.stream {
            return Err(KcpError::StreamMode);
        }
        let count = msg.len().div_ceil(self.mss).max(1);
        if count > MAX_FRAGMENTS || msg.len() > self.cfg.send_buffer {
            return Err(KcpError::MessageTooLarge { len: msg.len() });
        }
        if self.snd_bytes + msg.len() > self.cfg.send_buffer {
            return Err(KcpError::WouldBlock);
        }
        if msg.is_empty() {
            self.snd_queue.push_back(new_send_seg(&[], 0));
        }
        for (i, chunk) in msg.chunks(self.mss).enumerate() {
            // count <= MAX_FRAGMENTS (127), so the fragment index fits a u8.
            let frg = u8::try_from(count - i - 1).unwrap_or(0);
            self.snd_queue.push_back(new_send_seg(chunk, frg));
        }
        self.snd_bytes += msg.len();
        Ok(())
    }

    /// Appends received bytes to `out`. Stream mode: every in-order byte
    /// ready. Message mode: exactly one complete message. Returns `None`
    /// when nothing is ready, else the number of bytes appended (a message
    /// may be empty).
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
    /// let mut got = Vec::new();
    /// assert_eq!(b.recv(&mut got), None);
    /// a.send(b"hello, ");
    /// a.send(b"world");
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert_eq!(b.recv(&mut got), Some(12)); // stream mode: all that is ready
    /// assert_eq!(got, b"hello, world");
    /// ```
    pub fn recv(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let n = self.peek_size()?;
        let recover = self.rcv_queue.len() >= usize::from(self.cfg.rcv_wnd);
        out.reserve(n);
        if self.cfg.stream {
            // Up to an end marker (an empty segment), which is read alone.
            if self.rcv_queue.front().is_some_and(|s| s.data.is_empty()) {
                self.rcv_queue.pop_front();
                self.end_received = true;
            }
            while let Some(seg) = self.rcv_queue.front() {
                if seg.data.is_empty() {
                    break;
                }
                if let Some(seg) = self.rcv_queue.pop_front() {
                    out.extend_from_slice(&seg.data);
                }
            }
        } else {
            while let Some(seg) = self.rcv_queue.pop_front() {
                out.extend_from_slice(&seg.data);
                if seg.frg == 0 {
                    break;
                }
            }
        }
        self.move_buf();
        if recover && self.rcv_queue.len() < usize::from(self.cfg.rcv_wnd) {
            self.probe |= ASK_TELL;
        }
        Some(n)
    }

    /// Size of what [`Kcp::recv`] would return now (`None`: nothing ready).
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
    /// a.send(b"hello");
    /// run(&mut now, &mut a, &mut b, 3);
    /// assert_eq!(b.peek_size(), Some(5));
    /// b.recv(&mut Vec::new());
    /// assert_eq!(b.peek_size(), None);
    /// ```
    pub fn peek_size(&self) -> Option<usize> {
        let front = self.rcv_queue.front()?;
        if self.cfg.stream {
            // An end marker at the front is read alone, as zero bytes.
            let bytes = self
                .rcv_queue
                .iter()
                .skip(usize::from(front.data.is_empty()));
            return Some(
                bytes
                    .take_while(|s| !s.data.is_empty())
                    .map(|s| s.data.len())
                    .sum(),
            );
        }
        if self.rcv_queue.len() < usize::from(front.frg) + 1 {
            return None;
        }
        let mut n = 0;
        for seg in &self.rcv_queue {
            n += seg.data.len();
            if seg.frg == 0 {
                return Some(n);
            }
        }
        None
    }

    /// Processes one datagram from the peer. A malformed datagram, or one
    /// for another conversation, is dropped whole (counted) and reported.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::kcp::{Kcp, KcpConfig, KcpError};
    /// let now = Instant::now();
    /// let mut a = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// let mut b = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// let mut other = Kcp::new(2, KcpConfig::fast_mode()).unwrap();
    /// a.send(b"hi");
    /// a.on_timeout(now);
    /// let mut d = Vec::new();
    /// assert!(a.poll_transmit(now, &mut d));
    /// assert!(b.input(now, &d).is_ok());
    /// assert_eq!(other.input(now, &d), Err(KcpError::ConvMismatch { expected: 2, found: 1 }));
    /// assert!(matches!(b.input(now, &d[..10]), Err(KcpError::Truncated { .. })));
    /// assert_eq!(b.stats().datagrams_dropped, 1);
    /// ```
    pub fn input(&mut self, now: Instant, datagram: &[u8]) -> Result<(), KcpError> {
        self.advance(now);
        self.stats.datagrams_in += 1;
        if let Err(e) = self.check_datagram(datagram) {
            self.stats.datagrams_dropped += 1;
            return Err(e);
        }
        let old_una = self.snd_una;
        let mut fast: Option<(u32, u32)> = None;
        for seg in segments(datagram).flatten() {
            if diff(seg.una, self.snd_nxt) > 0 {
                // Acknowledges data never sent: ignore the whole segment.
                self.stats.segments_dropped += 1;
                continue;
            }
            self.rmt_wnd = seg.wnd;
            self.parse_una(seg.una);
            match seg.cmd {
                Command::Ack => {
                    let rtt = diff(self.current, seg.ts);
                    if rtt >= 0 {
                        self.update_ack(rtt.unsigned_abs());
                    }
                    self.parse_ack(seg.sn);
                    fast = match fast {
                        None => Some((seg.sn, seg.ts)),
                        Some((sn, ts)) if diff(seg.sn, sn) > 0 && diff(seg.ts, ts) > 0 => {
                            Some((seg.sn, seg.ts))
                        }
                        keep => keep,
                    };
                }
                Command::Push => self.on_push(&seg),
                Command::WindowAsk => self.probe |= ASK_TELL,
                Command::WindowTell => {}
            }
        }
        if let Some((sn, ts)) = fast {
            self.parse_fastack(sn, ts);
        }
        if diff(self.snd_una, old_una) > 0 {
            self.grow_cwnd();
        }
        if self.cfg.ack_nodelay && !self.acklist.is_empty() {
            self.acks_due = true;
        }
        if self.qlog.is_some() {
            self.qlog_datagram(false, datagram);
        }
        Ok(())
    }

    /// Writes the next datagram into `out` (cleared first) and returns
    /// `true`, or returns `false` when there is nothing to send now.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::kcp::{peek_conv, Kcp, KcpConfig};
    /// let now = Instant::now();
    /// let mut k = Kcp::new(9, KcpConfig::fast_mode()).unwrap();
    /// let mut out = Vec::new();
    /// assert!(!k.poll_transmit(now, &mut out)); // nothing to send
    /// k.send(b"hello");
    /// k.on_timeout(now); // the tick that flushes
    /// assert!(k.poll_transmit(now, &mut out));
    /// assert_eq!(out.len(), 24 + 5); // one segment: header and data
    /// assert_eq!(peek_conv(&out), Some(9));
    /// ```
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        self.advance(now);
        out.clear();
        let mtu = self.cfg.mtu;
        let wnd = self.wnd_unused();
        let una = self.rcv_nxt;
        let ctl = |cmd, sn, ts| Segment {
            conv: self.conv,
            cmd,
            frg: 0,
            wnd,
            ts,
            sn,
            una,
            data: &[],
        };
        if self.acks_due {
            while out.len() + HEADER_LEN <= mtu {
                let Some((sn, ts)) = self.acklist.pop_front() else {
                    break;
                };
                ctl(Command::Ack, sn, ts).encode(out);
            }
            if self.acklist.is_empty() {
                self.acks_due = false;
            }
        }
        for (flag, cmd) in [
            (ASK_SEND, Command::WindowAsk),
            (ASK_TELL, Command::WindowTell),
        ] {
            if self.probe & flag != 0 && out.len() + HEADER_LEN <= mtu {
                ctl(cmd, 0, 0).encode(out);
                self.probe &= !flag;
            }
        }
        for seg in self.snd_buf.iter_mut().filter(|s| s.pending) {
            if out.len() + HEADER_LEN + seg.data.len() > mtu {
                break;
            }
            Segment {
                conv: self.conv,
                cmd: Command::Push,
                frg: seg.frg,
                wnd,
                ts: seg.ts,
                sn: seg.sn,
                una,
                data: &seg.data,
            }
            .encode(out);
            seg.pending = false;
        }
        if out.is_empty() {
            return false;
        }
        self.stats.datagrams_out += 1;
        if self.qlog.is_some() {
            self.qlog_datagram(true, out);
        }
        true
    }

    /// When [`Kcp::on_timeout`] should next be called; `None` when idle
    /// (nothing queued, in flight, to ack or to probe).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let now = Instant::now();
    /// let mut k = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// assert_eq!(k.next_timeout(now), None); // idle
    /// k.send(b"hello");
    /// assert_eq!(k.next_timeout(now), Some(now)); // the first tick is due at once
    /// k.on_timeout(now);
    /// assert_eq!(k.next_timeout(now), Some(now + Duration::from_millis(10))); // the interval
    /// ```
    pub fn next_timeout(&self, now: Instant) -> Option<Instant> {
        let idle = self.snd_queue.is_empty()
            && self.snd_buf.is_empty()
            && self.acklist.is_empty()
            && self.probe == 0;
        if idle {
            return None;
        }
        if !self.updated {
            return Some(now);
        }
        let at = self.latest.map_or(now, |l| l.max(now));
        let cur = self.ms_at(at).unwrap_or(self.current);
        let wait = diff(self.ts_flush, cur).max(0).unsigned_abs();
        Some(after(at, Duration::from_millis(u64::from(wait))))
    }

    /// Runs ikcp's `update`: on each `interval` tick, queues acks, window
    /// probes, new data allowed by the windows and due retransmissions for
    /// [`Kcp::poll_transmit`].
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let now = Instant::now();
    /// let mut k = Kcp::new(1, KcpConfig::fast_mode()).unwrap();
    /// k.send(b"hello");
    /// let mut d = Vec::new();
    /// assert!(!k.poll_transmit(now, &mut d)); // data leaves on a tick
    /// k.on_timeout(now);
    /// assert!(k.poll_transmit(now, &mut d));
    /// ```
    pub fn on_timeout(&mut self, now: Instant) {
        self.advance(now);
        if !self.updated {
            self.updated = true;
            self.ts_flush = self.current;
        }
        let mut slap = diff(self.current, self.ts_flush);
        if !(-10_000..10_000).contains(&slap) {
            self.ts_flush = self.current;
            slap = 0;
        }
        if slap >= 0 {
            self.ts_flush = self.ts_flush.wrapping_add(self.cfg.interval_ms());
            if diff(self.current, self.ts_flush) >= 0 {
                self.ts_flush = self.current.wrapping_add(self.cfg.interval_ms());
            }
            self.flush();
        }
    }

    fn advance(&mut self, now: Instant) {
        self.epoch.get_or_insert(now);
        if self.latest.is_some_and(|l| now <= l) {
            return;
        }
        self.latest = Some(now);
        self.current = self.ms_at(now).unwrap_or(0);
    }

    /// ikcp's clock at `now`: milliseconds since the epoch, modulo 2^32 (the
    /// truncating cast is the intended wrap; all comparisons use [`diff`]).
    fn ms_at(&self, now: Instant) -> Option<u32> {
        let epoch = self.epoch?;
        Some(now.saturating_duration_since(epoch).as_millis() as u32)
    }

    fn check_datagram(&self, datagram: &[u8]) -> Result<(), KcpError> {
        if datagram.is_empty() {
            return Err(KcpError::Truncated { len: 0 });
        }
        for seg in segments(datagram) {
            let seg = seg?;
            if seg.conv != self.conv {
                return Err(KcpError::ConvMismatch {
                    expected: self.conv,
                    found: seg.conv,
                });
            }
        }
        Ok(())
    }

    fn wnd_unused(&self) -> u16 {
        let used = u16::try_from(self.rcv_queue.len()).unwrap_or(u16::MAX);
        self.cfg.rcv_wnd.saturating_sub(used)
    }

    fn on_push(&mut self, seg: &Segment<'_>) {
        let rcv_wnd = u32::from(self.cfg.rcv_wnd);
        if diff(seg.sn, self.rcv_nxt.wrapping_add(rcv_wnd)) >= 0
            || seg.data.len() > self.mss
            || (!self.cfg.stream && u32::from(seg.frg) >= rcv_wnd)
        {
            self.stats.segments_dropped += 1;
            return;
        }
        if self.acklist.len() < 2 * usize::from(self.cfg.rcv_wnd) {
            self.acklist.push_back((seg.sn, seg.ts));
        } else {
            self.stats.acks_dropped += 1;
        }
        if diff(seg.sn, self.rcv_nxt) < 0 {
            self.stats.duplicate_segments += 1;
            return;
        }
        // Insert in order, scanning from the back (arrivals are mostly in order).
        let mut idx = self.rcv_buf.len();
        for s in self.rcv_buf.iter().rev() {
            if s.sn == seg.sn {
                self.stats.duplicate_segments += 1;
                return;
            }
            if diff(seg.sn, s.sn) > 0 {
                break;
            }
            idx -= 1;
        }
        self.rcv_buf.insert(
            idx,
            RecvSeg {
                sn: seg.sn,
                frg: seg.frg,
                data: seg.data.to_vec(),
            },
        );
        self.move_buf();
    }

    /// Moves in-order segments from the reassembly buffer to the ready queue.
    fn move_buf(&mut self) {
        while self.rcv_queue.len() < usize::from(self.cfg.rcv_wnd) {
            match self.rcv_buf.front() {
                Some(s) if s.sn == self.rcv_nxt => {}
                _ => break,
            }
            if let Some(s) = self.rcv_buf.pop_front() {
                self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
                self.rcv_queue.push_back(s);
            }
        }
    }
}

#[cfg(test)]
mod tests;
