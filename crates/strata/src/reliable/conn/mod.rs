//! [`Connection`]: the reliable mapping's connection state machine, sans-IO.
//!
//! One connection carries one byte stream each way over datagrams, in the
//! native wire format of `docs/reliable-wire.md`. It owns no socket and no
//! clock: the caller feeds it datagrams ([`Connection::handle_datagram`]),
//! asks it for datagrams to send ([`Connection::poll_transmit`]), and calls
//! [`Connection::handle_timeout`] at [`Connection::next_timeout`]. The
//! layers ([`Reliable`](super::Reliable),
//! [`ReliableListener`](super::ReliableListener)) do that for a stream
//! protocol; tests and benchmarks may drive it directly.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::deadline::after;
use crate::reliable::cc::{
    new_controller, CongestionController, DeliveryRateSampler, Pacer, RttEstimator,
};
use crate::reliable::wire::{ConnId, ErrorCode};
use crate::timer::{TimerName, TimerTable};

mod config;
mod input;
mod output;
mod qlog;
pub(crate) mod ranges;
mod recovery;
mod recvbuf;
mod sendbuf;
#[cfg(test)]
mod tests;

pub use config::{
    ConfigError, ConnError, ConnStats, ReliableConfig, DEFAULT_DEAD_AFTER_PROBES,
    DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER, DEFAULT_RNG_SEED, DEFAULT_SERVER_ID,
    DEFAULT_UNREACHABLE_HINTS,
};
use ranges::RangeSet;
use recovery::SentPacket;
use recvbuf::RecvStream;
use sendbuf::SendStream;

/// Unanswered probe timeouts after which the peer is suspected: from then
/// on probes go at least every [`DEAD_PROBE_INTERVAL`].
const SUSPECT_AFTER_PROBES: u32 = 3;
/// The longest gap between probes to a suspected peer.
const DEAD_PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest silence after the first unreachable hint before the peer
/// may be declared dead (with 3 × PTO, whichever is longer).
const UNREACHABLE_MIN_SILENCE: Duration = Duration::from_secs(1);

/// The connection's timers, one [`TimerTable`] slot each.
///
/// `LossDetection`, `Ack`, `Pacing`, `Close` and `CloseRepeat` are armed
/// where their event happens (a packet that may still arrive, an
/// ack-eliciting packet, the pacer, a CLOSE sent or received). The others
/// follow from state the connection keeps anyway (when the peer was last
/// heard, the last ack-eliciting send, the probe count, the hints): they
/// are computed into the table in one place, [`Connection::deadlines`],
/// which `next_timeout` and `handle_timeout` both read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Nothing heard from the peer for `idle_timeout`.
    Idle,
    /// The handshake did not complete in `handshake_timeout`.
    Handshake,
    /// The dead-peer rule (see `dead_deadline`).
    Dead,
    /// The unreachable rule (see `unreachable_deadline`).
    Unreachable,
    /// A packet not yet acknowledged is lost by the time threshold.
    LossDetection,
    /// The probe timeout (considered while no loss time is armed).
    Pto,
    /// The delayed ACK is due.
    Ack,
    /// A PING to keep the path open.
    KeepAlive,
    /// The pacer lets the next packet go.
    Pacing,
    /// The closing (or draining) period ends.
    Close,
    /// The CLOSE is sent again unprompted.
    CloseRepeat,
}

impl TimerName for Timer {
    const ALL: &'static [Timer] = &[
        Timer::Idle,
        Timer::Handshake,
        Timer::Dead,
        Timer::Unreachable,
        Timer::LossDetection,
        Timer::Pto,
        Timer::Ack,
        Timer::KeepAlive,
        Timer::Pacing,
        Timer::Close,
        Timer::CloseRepeat,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

type Timers = TimerTable<Timer, 11>;

/// Which end of the connection this is.
///
/// ```
/// use strata::reliable::{Connection, ReliableConfig, Side, wire::ConnId};
/// let now = std::time::Instant::now();
/// let cfg = ReliableConfig::default();
/// let c = Connection::connect(cfg.clone(), now, ConnId(1), ConnId(2));
/// let s = Connection::accept(cfg, now, ConnId(3), ConnId(1), true);
/// assert_eq!((c.side(), s.side()), (Side::Client, Side::Server));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// It sent the first Initial.
    Client,
    /// A listener accepted it.
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Client: Initial sent, waiting for Retry or Handshake. Server: Handshake
    /// sent, waiting for the client's first short packet.
    Handshake,
    Established,
    /// We sent CLOSE; we answer packets with it until the deadline.
    Closing,
    /// The peer sent CLOSE; we send nothing until the deadline.
    Draining,
    Closed,
}

/// One connection of the reliable mapping: the sans-IO state machine under
/// [`Reliable`](super::Reliable) and [`ReliableListener`](super::ReliableListener).
///
/// ```
/// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
/// let now = std::time::Instant::now();
/// let mut client = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
/// let mut datagram = Vec::new();
/// assert!(client.poll_transmit(now, &mut datagram));
/// assert_eq!(datagram.len(), 1200); // the padded Initial
/// ```
pub struct Connection {
    side: Side,
    cfg: ReliableConfig,
    state: State,
    local_cid: ConnId,
    remote_cid: ConnId,
    /// Client: the token to put in Initials (from a Retry).
    token: Vec<u8>,
    retried: bool,
    /// A long-header packet (Initial / Handshake) must be sent.
    handshake_pending: bool,
    /// The handshake completed (stays true while closing).
    handshake_done: bool,
    // --- packet numbers and recovery ---
    next_pn: u64,
    largest_acked: Option<u64>,
    sent: VecDeque<SentPacket>,
    bytes_in_flight: u64,
    ack_eliciting_in_flight: usize,
    last_ack_eliciting_sent: Option<Instant>,
    pto_count: u32,
    /// Probe timeouts since the last packet from the peer (dead-peer rule).
    unanswered_ptos: u32,
    /// ICMP unreachable hints since the last packet from the peer, and when
    /// the first of them came.
    hints: u32,
    first_hint: Option<Instant>,
    /// The timers armed by an event (see [`Timer`]).
    timers: Timers,
    /// Probe packets to send now, beyond the congestion window.
    probes: u8,
    rtt: RttEstimator,
    rate: DeliveryRateSampler,
    cc: Box<dyn CongestionController>,
    pacer: Pacer,
    // --- acknowledgements ---
    recv_pns: RangeSet,
    /// Packet numbers below this are too old to track: dropped as replays.
    pn_floor: u64,
    largest_recv: Option<(u64, Instant)>,
    ack_eliciting_unacked: u32,
    ack_now: bool,
    /// When we last sent an ACK frame.
    last_ack_sent: Option<Instant>,
    // --- the stream ---
    send: SendStream,
    recv: RecvStream,
    peer_max_data: u64,
    blocked_reported: Option<u64>,
    ping_pending: bool,
    // --- address validation ---
    validated: bool,
    amp_received: u64,
    amp_sent: u64,
    // --- lifecycle ---
    created: Instant,
    last_recv: Instant,
    last_send: Instant,
    close_after_acked: bool,
    close_frame: Option<(ErrorCode, Vec<u8>)>,
    close_pending: bool,
    /// How often more the CLOSE is sent again unprompted (`Timer::CloseRepeat`).
    close_repeats_left: u8,
    error: Option<ConnError>,
    stats: ConnStats,
    /// The qlog trace, when the connection is traced ([`Connection::set_qlog`]).
    qlog: Option<Box<qlog::Qlog>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.side)
            .field("state", &self.state)
            .field("local_cid", &self.local_cid)
            .field("remote_cid", &self.remote_cid)
            .field("in_flight", &self.bytes_in_flight)
            .field("cwnd", &self.cc.window())
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(side: Side, cfg: ReliableConfig, now: Instant, local: ConnId, remote: ConnId) -> Self {
        let mtu = cfg.mtu as u64;
        let mut rtt = RttEstimator::default();
        rtt.set_max_ack_delay(cfg.max_ack_delay);
        Connection {
            side,
            state: State::Handshake,
            local_cid: local,
            remote_cid: remote,
            token: Vec::new(),
            retried: false,
            handshake_pending: true,
            handshake_done: false,
            next_pn: 0,
            largest_acked: None,
            sent: VecDeque::new(),
            bytes_in_flight: 0,
            ack_eliciting_in_flight: 0,
            last_ack_eliciting_sent: None,
            pto_count: 0,
            unanswered_ptos: 0,
            hints: 0,
            first_hint: None,
            timers: Timers::new(),
            probes: 0,
            rtt,
            rate: DeliveryRateSampler::new(),
            cc: new_controller(cfg.cc, mtu),
            pacer: Pacer::new(mtu),
            recv_pns: RangeSet::default(),
            pn_floor: 0,
            largest_recv: None,
            ack_eliciting_unacked: 0,
            ack_now: false,
            last_ack_sent: None,
            send: SendStream::default(),
            recv: RecvStream::new(cfg.recv_window, cfg.max_recv_window),
            peer_max_data: crate::reliable::wire::INITIAL_MAX_DATA,
            blocked_reported: None,
            ping_pending: false,
            validated: side == Side::Client,
            amp_received: 0,
            amp_sent: 0,
            created: now,
            last_recv: now,
            last_send: now,
            close_after_acked: false,
            close_frame: None,
            close_pending: false,
            close_repeats_left: 0,
            error: None,
            stats: ConnStats::default(),
            qlog: None,
            cfg,
        }
    }

    /// A client connection: `local` is our id, `initial_dst` the random id
    /// the first Initial goes to. Both must come from a secure random
    /// generator (the layers use one). Call [`poll_transmit`](Self::poll_transmit)
    /// to get the Initial.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, Side, wire::ConnId};
    /// let c = Connection::connect(ReliableConfig::default(), std::time::Instant::now(), ConnId(7), ConnId(9));
    /// assert_eq!(c.side(), Side::Client);
    /// assert!(!c.is_established());
    /// ```
    pub fn connect(cfg: ReliableConfig, now: Instant, local: ConnId, initial_dst: ConnId) -> Self {
        Connection::new(Side::Client, cfg, now, local, initial_dst)
    }

    /// A server connection for a client whose id is `client`, with our id
    /// `local` (random). `validated`: the client's address was proven by a
    /// Retry token; if not, the connection sends at most three times what it
    /// received until it is. Feed it the Initial that created it next.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, Side, wire::ConnId};
    /// let c = Connection::accept(ReliableConfig::default(), std::time::Instant::now(), ConnId(5), ConnId(6), true);
    /// assert_eq!(c.side(), Side::Server);
    /// ```
    pub fn accept(
        cfg: ReliableConfig,
        now: Instant,
        local: ConnId,
        client: ConnId,
        validated: bool,
    ) -> Self {
        let mut c = Connection::new(Side::Server, cfg, now, local, client);
        c.validated = validated;
        c
    }

    /// Which end this is.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, Side, wire::ConnId};
    /// let s = Connection::accept(ReliableConfig::default(), std::time::Instant::now(), ConnId(3), ConnId(1), true);
    /// assert_eq!(s.side(), Side::Server);
    /// ```
    pub fn side(&self) -> Side {
        self.side
    }

    /// Our connection id (the `dst` of the packets the peer sends us).
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let c = Connection::connect(ReliableConfig::default(), std::time::Instant::now(), ConnId(7), ConnId(9));
    /// assert_eq!(c.local_cid(), ConnId(7));
    /// ```
    pub fn local_cid(&self) -> ConnId {
        self.local_cid
    }

    /// The peer's connection id.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// // Before the handshake, the random id the Initial went to; after it, the
    /// // id the server chose.
    /// assert_eq!(Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2)).remote_cid(), ConnId(2));
    /// assert_eq!(c.remote_cid(), ConnId(3));
    /// assert_eq!(s.remote_cid(), ConnId(1));
    /// ```
    pub fn remote_cid(&self) -> ConnId {
        self.remote_cid
    }

    /// The handshake completed and the connection is not closing.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// assert!(c.is_established() && s.is_established());
    /// c.close(now, ErrorCode::NO_ERROR, b"");
    /// assert!(!c.is_established());
    /// # use strata::reliable::wire::ErrorCode;
    /// ```
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// The handshake completed (the connection may be closing since).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// # use strata::reliable::wire::ErrorCode;
    /// assert!(c.handshake_done());
    /// c.close(now, ErrorCode::NO_ERROR, b"");
    /// assert!(c.handshake_done()); // still true while closing
    /// ```
    pub fn handshake_done(&self) -> bool {
        self.handshake_done
    }

    /// The connection is closing, draining or closed: no more stream data.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// # use strata::reliable::wire::ErrorCode;
    /// assert!(!c.is_closing());
    /// c.close(now, ErrorCode::NO_ERROR, b"done");
    /// assert!(c.is_closing());
    /// assert!(!c.write(now, b"late")); // no more stream data
    /// ```
    pub fn is_closing(&self) -> bool {
        matches!(self.state, State::Closing | State::Draining | State::Closed)
    }

    /// The connection is over: nothing more to send or receive.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// # use strata::reliable::wire::ErrorCode;
    /// c.close(now, ErrorCode::NO_ERROR, b"done");
    /// assert!(!c.is_closed()); // closing: it answers with CLOSE for a while
    /// while let Some(t) = c.next_timeout() {
    ///     c.handle_timeout(t);
    /// }
    /// assert!(c.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Why it ended (or is ending), once it is.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// # use strata::reliable::{ConnError, wire::ErrorCode};
    /// assert!(c.error().is_none());
    /// c.close(now, ErrorCode::APPLICATION_MIN, b"bye");
    /// pump(&mut now, &mut c, &mut s);
    /// assert!(matches!(c.error(), Some(ConnError::Closed { .. })));
    /// assert!(matches!(s.error(), Some(ConnError::PeerClosed { code, .. }) if *code == ErrorCode::APPLICATION_MIN));
    /// ```
    pub fn error(&self) -> Option<&ConnError> {
        self.error.as_ref()
    }

    /// What it counted.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = std::time::Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut d = Vec::new();
    /// assert!(c.poll_transmit(now, &mut d));
    /// c.handle_datagram(now, b"not a packet");
    /// assert_eq!(c.stats().packets_sent, 1);
    /// assert_eq!(c.stats().dropped_malformed, 1);
    /// ```
    pub fn stats(&self) -> ConnStats {
        self.stats
    }

    /// The RTT estimator.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// // The handshake gave samples: each hop of `pump` takes 10 ms.
    /// assert!(c.rtt().has_sample());
    /// assert!(c.rtt().smoothed() >= Duration::from_millis(20));
    /// ```
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The congestion controller.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, cc::CcAlgorithm, wire::ConnId};
    /// let cfg = ReliableConfig { cc: CcAlgorithm::Cubic, ..ReliableConfig::default() };
    /// let c = Connection::connect(cfg, std::time::Instant::now(), ConnId(1), ConnId(2));
    /// assert_eq!(c.congestion().name(), "cubic");
    /// assert_eq!(c.congestion().window(), 12_000); // ten 1200-byte datagrams
    /// ```
    pub fn congestion(&self) -> &dyn CongestionController {
        &*self.cc
    }

    /// Bytes in flight (sent, not acknowledged or lost).
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = std::time::Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// assert_eq!(c.bytes_in_flight(), 0);
    /// let mut d = Vec::new();
    /// assert!(c.poll_transmit(now, &mut d)); // the Initial, not yet acknowledged
    /// assert_eq!(c.bytes_in_flight(), d.len() as u64);
    /// ```
    pub fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// The receive window currently announced.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let cfg = ReliableConfig::default();
    /// let c = Connection::connect(cfg.clone(), std::time::Instant::now(), ConnId(1), ConnId(2));
    /// assert_eq!(c.recv_window(), cfg.recv_window);
    /// ```
    pub fn recv_window(&self) -> u64 {
        self.recv.window
    }

    /// The configuration.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let cfg = ReliableConfig { mtu: 1400, ..ReliableConfig::default() };
    /// let c = Connection::connect(cfg, std::time::Instant::now(), ConnId(1), ConnId(2));
    /// assert_eq!(c.config().mtu, 1400);
    /// ```
    pub fn config(&self) -> &ReliableConfig {
        &self.cfg
    }

    // --- the stream ---

    /// Queues bytes to send. Returns false (taking nothing) after
    /// [`finish`](Self::finish), a reset or a close, and when the send buffer
    /// would pass its hard limit (the connection is then closed with
    /// [`ConnError::SendBuffer`]).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// assert!(c.write(now, b"hello"));
    /// pump(&mut now, &mut c, &mut s);
    /// assert_eq!(&s.read(now, 100).unwrap()[..], b"hello");
    /// c.finish();
    /// assert!(!c.write(now, b"more")); // nothing after FIN
    /// ```
    pub fn write(&mut self, now: Instant, data: &[u8]) -> bool {
        if self.is_closing() {
            return false;
        }
        if self.send.buffered() + data.len() > self.cfg.max_send_buffer {
            let limit = self.cfg.max_send_buffer;
            self.close_with(now, ErrorCode::INTERNAL_ERROR, b"send buffer limit");
            self.error = Some(ConnError::SendBuffer { limit });
            return false;
        }
        self.send.write(data)
    }

    /// No more bytes: sends FIN after what is queued (half-close).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"last words");
    /// c.finish();
    /// pump(&mut now, &mut c, &mut s);
    /// assert_eq!(s.read(now, 100).unwrap().len(), 10);
    /// assert!(s.take_fin(now)); // the end of the client's direction
    /// assert!(s.write(now, b"reply")); // the other direction stays open
    /// ```
    pub fn finish(&mut self) {
        self.send.finish();
    }

    /// Abandons our direction of the stream with an application `code`
    /// (0x100 and above): nothing queued is sent; the peer gets RESET.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// # use strata::reliable::wire::ErrorCode;
    /// c.write(now, b"never mind");
    /// c.reset(ErrorCode(0x101));
    /// pump(&mut now, &mut c, &mut s);
    /// assert_eq!(s.take_reset(), Some(ErrorCode(0x101)));
    /// ```
    pub fn reset(&mut self, code: ErrorCode) {
        if !self.is_closing() {
            self.send.reset(code);
        }
    }

    /// Finishes the stream, then closes with NO_ERROR once everything sent
    /// (and the FIN) is acknowledged.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"bye");
    /// c.close_gracefully(now);
    /// assert!(!c.is_closing()); // not before the data is acknowledged
    /// pump(&mut now, &mut c, &mut s);
    /// assert!(c.is_closing());
    /// assert_eq!(&s.read(now, 100).unwrap()[..], b"bye");
    /// ```
    pub fn close_gracefully(&mut self, now: Instant) {
        self.send.finish();
        self.close_after_acked = true;
        self.check_done(now);
    }

    /// Closes at once with `code` and `reason` (CLOSE frame; queued data is
    /// dropped).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// # use strata::reliable::{ConnError, wire::ErrorCode};
    /// c.close(now, ErrorCode::APPLICATION_MIN, b"shutting down");
    /// assert!(c.is_closing());
    /// pump(&mut now, &mut c, &mut s);
    /// match s.error() {
    ///     Some(ConnError::PeerClosed { reason, .. }) => assert_eq!(reason, "shutting down"),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn close(&mut self, now: Instant, code: ErrorCode, reason: &[u8]) {
        self.close_with(now, code, reason);
    }

    /// Bytes held for sending: unacknowledged and unsent.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"hello");
    /// assert_eq!(c.send_buffered(), 5);
    /// pump(&mut now, &mut c, &mut s); // sent and acknowledged
    /// assert_eq!(c.send_buffered(), 0);
    /// ```
    pub fn send_buffered(&self) -> usize {
        self.send.buffered()
    }

    /// Bytes written and never sent yet: what the watermarks
    /// ([`ReliableConfig::high_water`]) measure. At most
    /// [`send_buffered`](Self::send_buffered).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"hello");
    /// assert_eq!((c.send_queued(), c.send_buffered()), (5, 5));
    /// let mut d = Vec::new();
    /// assert!(c.poll_transmit(now, &mut d)); // sent, not yet acknowledged
    /// assert_eq!((c.send_queued(), c.send_buffered()), (0, 5));
    /// ```
    pub fn send_queued(&self) -> usize {
        self.send.unsent() as usize
    }

    /// Bytes received in order and ready for [`read`](Self::read).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"hello");
    /// pump(&mut now, &mut c, &mut s);
    /// assert_eq!(s.readable(), 5);
    /// s.read(now, 2);
    /// assert_eq!(s.readable(), 3);
    /// ```
    pub fn readable(&self) -> usize {
        self.recv.readable()
    }

    /// Bytes held for the receive side (in order and out of order): at most
    /// the receive window.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"hello");
    /// pump(&mut now, &mut c, &mut s);
    /// assert_eq!(s.recv_buffered(), 5);
    /// s.read(now, 100);
    /// assert_eq!(s.recv_buffered(), 0);
    /// ```
    pub fn recv_buffered(&self) -> usize {
        self.recv.buffered()
    }

    /// Takes up to `max` bytes received in order. Reading opens the flow
    /// control window; not reading closes it, which slows the peer.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"hello");
    /// pump(&mut now, &mut c, &mut s);
    /// assert_eq!(&s.read(now, 4).unwrap()[..], b"hell");
    /// assert_eq!(&s.read(now, 4).unwrap()[..], b"o");
    /// assert!(s.read(now, 4).is_none());
    /// ```
    pub fn read(&mut self, now: Instant, max: usize) -> Option<Bytes> {
        let srtt = self.rtt.smoothed();
        self.recv.take(max, now, srtt)
    }

    /// The peer finished its direction and every byte was read: returns
    /// true once (the end of the stream).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"x");
    /// c.finish();
    /// pump(&mut now, &mut c, &mut s);
    /// assert!(!s.take_fin(now)); // a byte is still to read
    /// s.read(now, 100);
    /// assert!(s.take_fin(now));
    /// assert!(!s.take_fin(now)); // once
    /// ```
    pub fn take_fin(&mut self, now: Instant) -> bool {
        if self.recv.end_delivered || self.recv.reset.is_some() || !self.recv.at_fin() {
            return false;
        }
        self.recv.end_delivered = true;
        self.check_done(now);
        true
    }

    /// Something received is still to be handed over: bytes to
    /// [`read`](Self::read), or the end ([`take_fin`](Self::take_fin),
    /// [`take_reset`](Self::take_reset)). A closing connection keeps it
    /// until it is closed.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.write(now, b"x");
    /// c.finish();
    /// pump(&mut now, &mut c, &mut s);
    /// assert!(s.has_undelivered());
    /// s.read(now, 100);
    /// assert!(s.has_undelivered()); // the FIN
    /// s.take_fin(now);
    /// assert!(!s.has_undelivered());
    /// ```
    pub fn has_undelivered(&self) -> bool {
        self.recv.readable() > 0
            || (!self.recv.end_delivered && (self.recv.at_fin() || self.recv.reset.is_some()))
    }

    /// The peer's direction ended (its FIN or RESET was handed over).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// c.finish();
    /// pump(&mut now, &mut c, &mut s);
    /// assert!(!s.peer_finished()); // not handed over yet
    /// assert!(s.take_fin(now));
    /// assert!(s.peer_finished());
    /// ```
    pub fn peer_finished(&self) -> bool {
        self.recv.end_delivered
    }

    /// The peer reset its direction with this code: returns it once.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// # use strata::reliable::testing::{pump_conns as pump, ConnPair};
    /// # let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
    /// # use strata::reliable::wire::ErrorCode;
    /// c.reset(ErrorCode::APPLICATION_MIN);
    /// pump(&mut now, &mut c, &mut s);
    /// assert_eq!(s.take_reset(), Some(ErrorCode::APPLICATION_MIN));
    /// assert_eq!(s.take_reset(), None); // once
    /// assert!(s.peer_finished());
    /// ```
    pub fn take_reset(&mut self) -> Option<ErrorCode> {
        if self.recv.end_delivered {
            return None;
        }
        let code = self.recv.reset?;
        self.recv.end_delivered = true;
        Some(code)
    }

    fn set_established(&mut self) {
        self.state = State::Established;
        self.handshake_done = true;
        self.handshake_pending = false;
    }

    // --- time ---

    fn pto_duration(&self) -> Duration {
        let ack_delay = if self.state == State::Established {
            self.cfg.max_ack_delay
        } else {
            Duration::ZERO
        };
        // During the handshake the backoff stops at 2×: a lost Initial or
        // Retry then costs at most two seconds, not an exponential wait.
        let cap = if self.state == State::Handshake {
            1
        } else {
            16
        };
        let backoff = (self.rtt.pto_base().saturating_add(ack_delay))
            .saturating_mul(1 << self.pto_count.min(cap));
        // Never back off past a quarter of the idle timeout: after a long
        // run of lost probes (a loss burst at 30 %), a live peer must still
        // hear a probe before either side declares the other dead.
        let mut cap = self.cfg.idle_timeout / 4;
        if self.unanswered_ptos >= SUSPECT_AFTER_PROBES {
            // Nothing heard for a few probes: the peer may be gone. Probe
            // at least every DEAD_PROBE_INTERVAL until it answers or the
            // dead-peer rule fires, so that rule never rests on a handful
            // of probes (at 30 % loss three unanswered rounds happen about
            // 2 % of the time; seeds 30599, 62571, 80612 of the sweep).
            cap = cap.min(DEAD_PROBE_INTERVAL);
        }
        backoff.min(cap.max(self.rtt.pto_base()))
    }

    fn pto_deadline(&self) -> Option<Instant> {
        if self.ack_eliciting_in_flight == 0 || self.is_closing() {
            return None;
        }
        // Blocked by the anti-amplification limit: a probe could not be
        // sent, so no timer (the client's next packet unblocks it).
        if !self.validated && self.amp_sent + self.cfg.mtu as u64 > 3 * self.amp_received {
            return None;
        }
        Some(after(self.last_ack_eliciting_sent?, self.pto_duration()))
    }

    fn idle_deadline(&self) -> Instant {
        after(self.last_recv, self.cfg.idle_timeout)
    }

    /// The dead-peer rule: once `dead_after_probes` probe timeouts in a row
    /// went unanswered, the peer is dead when it has also been silent for
    /// two thirds of the idle timeout. (Probes alone are not enough at
    /// 30 % loss: seeds 50290 and 59099 of the sweep lost eight in a row on
    /// a live path, 59099 with 17 s of silence.)
    fn dead_deadline(&self) -> Option<Instant> {
        (self.state == State::Established && self.unanswered_ptos >= self.cfg.dead_after_probes)
            .then(|| after(self.last_recv, self.cfg.idle_timeout / 3 * 2))
    }

    /// The unreachable rule ([`ReliableConfig::unreachable_hints`]): enough
    /// hints since the peer was last heard, a probe sent since the first,
    /// and max(3 × PTO, 1 s) of silence after it.
    fn unreachable_deadline(&self) -> Option<Instant> {
        let first = self.first_hint?;
        let n = self.cfg.unreachable_hints;
        let live = matches!(self.state, State::Handshake | State::Established);
        if n == 0 || self.hints < n || !live {
            return None;
        }
        // A peer that was never asked cannot have answered.
        if self.last_ack_eliciting_sent.is_none_or(|s| s < first) {
            return None;
        }
        let silence = self
            .rtt
            .pto_base()
            .saturating_mul(3)
            .max(UNREACHABLE_MIN_SILENCE);
        Some(after(first, silence))
    }

    /// The socket reported the peer unreachable (an ICMP port, host or
    /// network unreachable for a datagram we sent, on a connected socket).
    /// A hint, never proof: anyone on the path can forge one. The first
    /// hint since the peer was last heard (or one while nothing is in
    /// flight) sends a probe at once; the peer is dead only under the rule
    /// of [`ReliableConfig::unreachable_hints`], so a live peer's answer
    /// undoes any number of forged hints. Ignored when the setting is 0 and
    /// once the connection is closing.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = std::time::Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut d = Vec::new();
    /// assert!(c.poll_transmit(now, &mut d)); // the Initial
    /// c.unreachable_hint(now);
    /// d.clear();
    /// assert!(c.poll_transmit(now, &mut d)); // probed again at once
    /// ```
    pub fn unreachable_hint(&mut self, now: Instant) {
        let live = matches!(self.state, State::Handshake | State::Established);
        if self.cfg.unreachable_hints == 0 || !live {
            return;
        }
        self.hints = self.hints.saturating_add(1);
        let first = self.first_hint.is_none();
        self.first_hint.get_or_insert(now);
        if first || self.ack_eliciting_in_flight == 0 {
            if self.state == State::Handshake {
                self.handshake_pending = true;
            } else {
                self.ping_pending = true;
            }
        }
    }

    fn handshake_deadline(&self) -> Instant {
        after(self.created, self.cfg.handshake_timeout)
    }

    fn keepalive_deadline(&self) -> Option<Instant> {
        let k = self.cfg.keepalive?;
        (self.state == State::Established).then(|| after(self.last_recv.max(self.last_send), k))
    }

    /// Every timer's deadline now: the armed ones, and the ones that
    /// follow from state, each under its name (see [`Timer`]). Closing or
    /// draining, only the end of that period and the CLOSE repeat count.
    fn deadlines(&self) -> Timers {
        let mut t = Timers::new();
        match self.state {
            State::Closed => return t,
            State::Closing | State::Draining => {
                t.set_opt(Timer::Close, self.timers.get(Timer::Close));
                t.set_opt(Timer::CloseRepeat, self.timers.get(Timer::CloseRepeat));
                return t;
            }
            State::Handshake | State::Established => {}
        }
        t = self.timers;
        t.set(Timer::Idle, self.idle_deadline());
        if self.state == State::Handshake {
            t.set(Timer::Handshake, self.handshake_deadline());
        }
        if !t.is_armed(Timer::LossDetection) {
            t.set_opt(Timer::Pto, self.pto_deadline());
        }
        t.set_opt(Timer::Dead, self.dead_deadline());
        t.set_opt(Timer::Unreachable, self.unreachable_deadline());
        t.set_opt(Timer::KeepAlive, self.keepalive_deadline());
        if !self.send.has_pending(self.peer_max_data) {
            // Nothing to pace: no wake-up for it.
            t.stop(Timer::Pacing);
        }
        t
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = std::time::Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut d = Vec::new();
    /// assert!(c.poll_transmit(now, &mut d)); // the Initial
    /// // Its probe timeout (or the handshake timeout) is ahead.
    /// assert!(c.next_timeout().is_some_and(|t| t > now));
    /// ```
    pub fn next_timeout(&self) -> Option<Instant> {
        self.deadlines().next_deadline()
    }

    /// Timers that are due fire: loss detection, probes, delayed ACKs,
    /// keepalive, the idle and handshake timeouts, the end of closing.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = std::time::Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut d = Vec::new();
    /// assert!(c.poll_transmit(now, &mut d)); // the Initial, which nobody answers
    /// assert!(!c.poll_transmit(now, &mut d));
    /// let t = c.next_timeout().unwrap();
    /// c.handle_timeout(t);
    /// assert!(c.poll_transmit(t, &mut d)); // the Initial again, as a probe
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        let due = self.deadlines();
        match self.state {
            State::Closed => return,
            State::Closing | State::Draining => {
                if due.is_due(Timer::Close, now) {
                    self.state = State::Closed;
                    self.timers.stop(Timer::Close);
                    self.timers.stop(Timer::CloseRepeat);
                } else if due.is_due(Timer::CloseRepeat, now) {
                    self.close_pending = true;
                    let gap = self.rtt.pto_base().saturating_mul(2);
                    let left = self.close_repeats_left;
                    if left > 1 {
                        self.timers.set_after(Timer::CloseRepeat, now, gap);
                    } else {
                        self.timers.stop(Timer::CloseRepeat);
                    }
                    self.close_repeats_left = left.saturating_sub(1);
                }
                return;
            }
            _ => {}
        }
        if due.is_due(Timer::Idle, now) {
            self.error = Some(ConnError::IdleTimeout);
            self.state = State::Closed;
            return;
        }
        if due.is_due(Timer::Dead, now) {
            let probes = self.cfg.dead_after_probes;
            self.error = Some(ConnError::PeerUnresponsive { probes });
            self.state = State::Closed;
            self.release_buffers();
            return;
        }
        if due.is_due(Timer::Unreachable, now) {
            self.error = Some(ConnError::Unreachable { hints: self.hints });
            self.state = State::Closed;
            self.release_buffers();
            return;
        }
        if due.is_due(Timer::Handshake, now) {
            self.error = Some(ConnError::HandshakeTimeout);
            self.state = State::Closed;
            return;
        }
        if due.is_due(Timer::LossDetection, now) {
            self.detect_lost(now);
            if self.qlog.is_some() {
                self.qlog_metrics(now);
            }
        } else if self.pto_deadline().is_some_and(|t| now >= t) {
            // (Not `due`'s Pto: that one is left out while a loss time is
            // armed, for the wake-up; a probe timeout that passed meanwhile
            // still fires.)
            self.on_pto();
        }
        if due.is_due(Timer::Ack, now) {
            self.ack_now = true;
        }
        if due.is_due(Timer::KeepAlive, now) {
            self.ping_pending = true;
        }
        self.timers.take_due(Timer::Pacing, now);
    }

    // --- closing ---

    fn close_with(&mut self, now: Instant, code: ErrorCode, reason: &[u8]) {
        if self.is_closing() {
            return;
        }
        let reason = reason[..reason.len().min(256)].to_vec();
        self.error = Some(ConnError::Closed {
            code,
            reason: String::from_utf8_lossy(&reason).into_owned(),
        });
        self.close_frame = Some((code, reason));
        self.close_pending = true;
        self.state = State::Closing;
        let period = self.closing_period();
        self.timers.set_after(Timer::Close, now, period);
        // The CLOSE may be lost, and the peer may be quiet (nothing to
        // answer): send it twice more on a timer.
        let gap = self.rtt.pto_base();
        self.timers.set_after(Timer::CloseRepeat, now, gap);
        self.close_repeats_left = 2;
        self.release_buffers();
    }

    /// How long a closing connection answers with CLOSE (and a draining one
    /// stays silent): three PTOs, and at least two seconds, so that a peer
    /// still retransmitting its last data (whose ACK was lost) hears the
    /// CLOSE (the role of TCP's TIME-WAIT).
    fn closing_period(&self) -> Duration {
        self.rtt
            .pto_base()
            .saturating_add(self.cfg.max_ack_delay)
            .saturating_mul(3)
            .max(Duration::from_secs(2))
    }

    /// A closing connection keeps no stream data.
    fn release_buffers(&mut self) {
        self.send = SendStream::default();
        self.sent.clear();
        self.bytes_in_flight = 0;
        self.ack_eliciting_in_flight = 0;
        self.timers.stop(Timer::LossDetection);
    }

    /// Closes with NO_ERROR once both directions are done (our data and FIN
    /// acknowledged, the peer's FIN delivered), or once ours is and a
    /// graceful close was asked for.
    fn check_done(&mut self, now: Instant) {
        if self.state != State::Established || !self.send.all_acked() {
            return;
        }
        if self.close_after_acked || self.recv.end_delivered {
            self.close_with(now, ErrorCode::NO_ERROR, b"");
        }
    }
}
