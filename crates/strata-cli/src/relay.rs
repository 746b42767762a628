//! `strata relay LISTEN CONNECT`: every connection accepted on one endpoint
//! is relayed, both ways, to a new connection to another.
//!
//! # How a relay works
//!
//! A relay is a *pair* of [`StreamProtocol`]s, [`RelaySide`]s: the client
//! side (the accepted connection) and the upstream side (the connection to
//! CONNECT). The two run on their own connection tasks, possibly on
//! different threads, and share one small state behind a mutex: a queue per
//! direction and the [`Wake`] handle of each side.
//!
//! * **Back-pressure.** Bytes read on one side are queued for the other. When
//!   a queue reaches the configured bound ([`RelayConfig::buffer`]), the side
//!   that reads pauses reading (its peer then meets TCP flow control). The
//!   writing side moves the queue into its transport only while that
//!   transport is [`writable`](StreamTransport::writable), picks up again on
//!   `resume_writing`, and wakes the reading side once the queue has drained
//!   to half the bound. So a slow side slows the other one down, and a
//!   direction holds at most the bound plus one read in its queue, plus the
//!   stack's high-water mark plus one read in the transport.
//! * **Owned input.** The driver's reads arrive through
//!   [`data_received_bytes`](StreamProtocol::data_received_bytes), are queued
//!   as they are and leave through `write_bytes`: no copy (a TLS layer in
//!   between decrypts into its own buffers, which are copied once).
//! * **Half-close.** EOF from one side becomes `write_eof` on the other once
//!   the queue towards it is empty; a side whose both directions are done is
//!   finished by its stack (both EOFs), so the pair ends when both are.
//! * **Errors.** A side that ends with an error (reset, I/O error, abort)
//!   makes the other one abort with `AbortReason::PeerAborted`, with a log
//!   line naming both. A side that ends cleanly lets the other flush what is
//!   queued towards it and close.
//! * **Connect.** The upstream connection is opened when the client's
//!   connection is made, through the [`Dialer`] its transport answers
//!   (`t.get::<Dialer>()`): the driver's, so the same relay runs on
//!   `strata-tokio` or in the simulator. Bytes the client sends meanwhile
//!   are queued (within the same bound). If connecting fails (the upstream
//!   side hears `connection_lost` without `connection_made`) or takes
//!   longer than [`RelayConfig::connect_timeout`] (a deadline of the
//!   client side), the client's connection is reset
//!   (`AbortReason::PeerAborted`: the client sees a failure, not an empty
//!   answer) and the error is logged with the endpoint. `quic+udp://` upstreams are streams of one
//!   pooled connection (the driver's dialer pools them).
//! * **PROXY protocol.** When CONNECT's chain holds `proxy`
//!   (`proxy+tcp://haproxy:8080?proxy.send=1`, or `tls+proxy+tcp://` for
//!   the header before TLS), every upstream connection starts with a PROXY
//!   header (v2 unless `proxy.send=1`) carrying the client's address and
//!   the address it connected to, so the server behind (HAProxy with
//!   `accept-proxy`, or `strata serve proxy+tcp://`) sees the real client:
//!   the upstream side runs in a [`ProxySource`] naming them, which the
//!   chain's `proxy` layer announces. Behind a `proxy+tcp://` listener
//!   those are the addresses of the header the relay itself received.
//!
//! The pair can be driven without sockets, with [`pair`]:
//!
//! ```
//! use std::sync::Arc;
//! use strata::Stack;
//! use strata_cli::relay::{pair, RelayStats};
//!
//! let (client, upstream) = pair(1024, Arc::new(RelayStats::default()));
//! let mut c = Stack::memory(Box::new(client));
//! let mut u = Stack::memory(Box::new(upstream));
//! let now = c.now();
//! c.handle_input(now, b"hello");
//! u.handle_wakes(now);
//! assert_eq!(u.take_output(now), b"hello");
//! u.handle_input(now, b"world");
//! c.handle_wakes(now);
//! assert_eq!(c.take_output(now), b"world");
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata::endpoint::{Endpoint, Family, LayerOption, SchemeRegistry};
use strata::proxy_protocol::{ProxySource, ProxyVersion};
use strata::{
    AbortReason, Addr, Close, Dialer, LocalAddr, PeerAddr, StackConfig, StreamProtocol,
    StreamTransport, Wake, WakeRoute,
};
use strata_tokio::{DriverError, ListenConfig, Server, SELF_SIGNED_NAMES};

use strata::StreamFactory;

/// The default bound of each direction's queue: 256 KiB.
pub const DEFAULT_BUFFER: usize = 256 * 1024;

/// The default time an upstream connection may take to be established.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The side reading from the accepted connection.
const CLIENT: usize = 0;
/// The side reading from the connection to CONNECT.
const UPSTREAM: usize = 1;

/// How a [`Relay`] relays.
///
/// ```
/// use strata_cli::relay::{RelayConfig, DEFAULT_BUFFER};
/// let cfg = RelayConfig::default();
/// assert_eq!(cfg.buffer, DEFAULT_BUFFER);
/// ```
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Bytes queued per direction before the reading side pauses (at least 1).
    pub buffer: usize,
    /// How long connecting upstream may take before the client is closed.
    pub connect_timeout: Duration,
    /// The stack limits of every upstream connection.
    pub stack: Arc<StackConfig>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            buffer: DEFAULT_BUFFER,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            stack: Arc::new(StackConfig::default()),
        }
    }
}

/// Counters shared by every pair of a [`Relay`] (or given to [`pair`]).
///
/// ```
/// use strata_cli::relay::RelayStats;
/// let s = RelayStats::default();
/// assert_eq!(s.active(), 0);
/// assert_eq!(s.peak_queued(), 0);
/// ```
#[derive(Debug, Default)]
pub struct RelayStats {
    started: AtomicU64,
    active: AtomicUsize,
    connect_failures: AtomicU64,
    bytes: [AtomicU64; 2],
    peak_queued: AtomicUsize,
}

impl RelayStats {
    /// Pairs started (accepted connections, or [`pair`] calls).
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Pairs not yet over: some side or the connect attempt still holds them.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Upstream connections that could not be established.
    pub fn connect_failures(&self) -> u64 {
        self.connect_failures.load(Ordering::Relaxed)
    }

    /// Bytes read from clients, to be relayed upstream.
    pub fn bytes_up(&self) -> u64 {
        self.bytes[CLIENT].load(Ordering::Relaxed)
    }

    /// Bytes read from upstream, to be relayed to clients.
    pub fn bytes_down(&self) -> u64 {
        self.bytes[UPSTREAM].load(Ordering::Relaxed)
    }

    /// The most bytes any one direction of any pair has held in its queue.
    pub fn peak_queued(&self) -> usize {
        self.peak_queued.load(Ordering::Relaxed)
    }
}

/// One direction: bytes read by one side, waiting to be written by the other.
#[derive(Debug, Default)]
struct Pipe {
    chunks: VecDeque<Bytes>,
    bytes: usize,
    /// The reading side got EOF: the writing side sends EOF once drained.
    eof: bool,
    /// The reading side paused reading because the queue was full; the
    /// writing side clears it (and wakes the reader) once drained to half.
    reader_paused: bool,
}

/// What the two sides of a pair share.
#[derive(Debug)]
struct PairState {
    /// `pipes[s]`: bytes read by side `s`, for the other side.
    pipes: [Pipe; 2],
    wakes: [Option<Wake>; 2],
    /// How each side ended, once it has.
    ended: [Option<Close>; 2],
    /// Connecting upstream failed: the client side closes.
    connect_failed: bool,
    /// The upstream connection is made: the connect deadline is over.
    upstream_made: bool,
    /// Names for log lines.
    labels: [String; 2],
    /// Where the upstream side connects to, for log lines.
    target: String,
    buffer: usize,
    stats: Arc<RelayStats>,
}

impl Drop for PairState {
    fn drop(&mut self) {
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}

type Shared = Arc<Mutex<PairState>>;

fn lock(s: &Shared) -> MutexGuard<'_, PairState> {
    // Poisoning needs a panic while the lock is held; nothing under it panics.
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the client side connects to once its connection is made.
#[derive(Debug)]
struct Dial {
    target: Endpoint,
    timeout: Duration,
    stack: Arc<StackConfig>,
    /// CONNECT's chain has a `proxy` layer: tell it the client's addresses.
    proxy: bool,
    /// The client's address and the one it connected to, for that header.
    client: Option<(SocketAddr, SocketAddr)>,
}

/// One side of a relayed pair: a [`StreamProtocol`] that queues what it reads
/// for the other side and writes what the other side read. See the
/// [module documentation](self).
///
/// ```
/// use std::sync::Arc;
/// use strata::Stack;
/// use strata_cli::relay::{pair, RelayStats};
/// let (client, upstream) = pair(64 * 1024, Arc::new(RelayStats::default()));
/// let mut c = Stack::memory(Box::new(client));
/// let mut u = Stack::memory(Box::new(upstream));
/// let now = c.now();
/// c.handle_eof(now);
/// u.handle_wakes(now);
/// assert!(u.should_shutdown_write(), "the client's EOF reaches upstream");
/// ```
#[derive(Debug)]
pub struct RelaySide {
    shared: Shared,
    side: usize,
    /// Set on the client side of a [`Relay`]: connect there once running.
    dial: Option<Dial>,
    /// The client side, until the upstream connection is made: when it
    /// gives up.
    connect_deadline: Option<(Instant, Duration)>,
    /// The upstream side heard `connection_made`.
    made: bool,
    /// We paused our transport's reading because our queue was full.
    read_paused: bool,
    /// We wrote EOF (or closed) after the other side's EOF.
    eof_written: bool,
    /// We closed or aborted: nothing more to do.
    done: bool,
}

/// A client side and an upstream side sharing one state, with at most
/// `buffer` bytes (at least 1) queued per direction before the reading side
/// pauses. Run each on a stack; nothing connects anywhere (a [`Relay`] does
/// that).
///
/// ```
/// use std::sync::Arc;
/// use strata_cli::relay::{pair, RelayStats};
/// let stats = Arc::new(RelayStats::default());
/// let (a, b) = pair(4096, stats.clone());
/// assert_eq!(stats.active(), 1);
/// drop((a, b));
/// assert_eq!(stats.active(), 0);
/// ```
pub fn pair(buffer: usize, stats: Arc<RelayStats>) -> (RelaySide, RelaySide) {
    let shared = new_shared(buffer, stats, String::new());
    (
        RelaySide::new(shared.clone(), CLIENT, None),
        RelaySide::new(shared, UPSTREAM, None),
    )
}

fn new_shared(buffer: usize, stats: Arc<RelayStats>, target: String) -> Shared {
    stats.started.fetch_add(1, Ordering::Relaxed);
    stats.active.fetch_add(1, Ordering::Relaxed);
    Arc::new(Mutex::new(PairState {
        pipes: Default::default(),
        wakes: [None, None],
        ended: [None, None],
        connect_failed: false,
        upstream_made: false,
        labels: [
            "client".into(),
            format!("upstream {target}").trim_end().to_string(),
        ],
        target,
        buffer: buffer.max(1),
        stats,
    }))
}

impl RelaySide {
    fn new(shared: Shared, side: usize, dial: Option<Dial>) -> Self {
        RelaySide {
            shared,
            side,
            dial,
            connect_deadline: None,
            made: false,
            read_paused: false,
            eof_written: false,
            done: false,
        }
    }

    fn other(&self) -> usize {
        1 - self.side
    }

    /// Queues `data` read from our transport for the other side.
    fn queue(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        if data.is_empty() || self.done {
            return;
        }
        let (s, o) = (self.side, self.other());
        let mut g = lock(&self.shared);
        if g.ended[o].is_some() || (s == CLIENT && g.connect_failed) {
            // Nobody left to relay to; we are closing (see `step`).
            return;
        }
        g.stats.bytes[s].fetch_add(data.len() as u64, Ordering::Relaxed);
        let buffer = g.buffer;
        let pipe = &mut g.pipes[s];
        let was_empty = pipe.chunks.is_empty();
        pipe.bytes = pipe.bytes.saturating_add(data.len());
        pipe.chunks.push_back(data);
        let queued = pipe.bytes;
        if queued >= buffer && !self.read_paused {
            pipe.reader_paused = true;
            self.read_paused = true;
            t.pause_reading();
        }
        g.stats.peak_queued.fetch_max(queued, Ordering::Relaxed);
        let wake = if was_empty { g.wakes[o].clone() } else { None };
        drop(g);
        if let Some(w) = wake {
            w.wake();
        }
    }

    /// Does everything that is due: gives up if the other side failed,
    /// moves the queue towards us into the transport while it is writable,
    /// forwards EOF, and resumes our reading once the other side drained.
    fn step(&mut self, t: &mut dyn StreamTransport) {
        if self.done {
            return;
        }
        let (s, o) = (self.side, self.other());
        let mut g = lock(&self.shared);
        if g.upstream_made {
            // Connected: the connect deadline is over.
            self.connect_deadline = None;
        }
        if s == CLIENT && g.connect_failed {
            // The connect task logged the endpoint and the error. The
            // client is reset, not closed: a clean close would look like an
            // upstream that had nothing to say (found by the simulated
            // tunnel scenario).
            self.done = true;
            drop(g);
            t.abort(Close::aborted("relay", AbortReason::PeerAborted));
            return;
        }
        if let Some(why) = g.ended[o].as_ref().filter(|w| !w.is_clean()) {
            tracing::warn!(
                "relay: {} ended: {why}; aborting {}",
                g.labels[o],
                g.labels[s]
            );
            self.done = true;
            drop(g);
            t.abort(Close::aborted("relay", AbortReason::PeerAborted));
            return;
        }
        let other_gone = g.ended[o].is_some();
        let buffer = g.buffer;
        let pipe = &mut g.pipes[o];
        while t.writable() {
            let Some(chunk) = pipe.chunks.pop_front() else {
                break;
            };
            pipe.bytes = pipe.bytes.saturating_sub(chunk.len());
            t.write_bytes(chunk);
        }
        let mut wake = None;
        if pipe.reader_paused && pipe.bytes <= buffer / 2 {
            pipe.reader_paused = false;
            wake = g.wakes[o].clone();
        }
        let pipe = &g.pipes[o];
        if pipe.chunks.is_empty() {
            if pipe.eof && !self.eof_written {
                self.eof_written = true;
                t.write_eof();
            }
            if other_gone {
                // The other side finished cleanly: what it sent is flushed,
                // and nothing we read could go anywhere any more.
                self.done = true;
                t.close();
            }
        }
        if self.read_paused && !g.pipes[s].reader_paused {
            self.read_paused = false;
            t.resume_reading();
        }
        drop(g);
        if let Some(w) = wake {
            w.wake();
        }
    }

    /// Starts connecting upstream through the driver's dialer; the client
    /// side gives up at `now + timeout`.
    fn start_dial(&mut self, t: &mut dyn StreamTransport, dial: Dial) {
        let upstream = RelaySide::new(self.shared.clone(), UPSTREAM, None);
        let proto: Box<dyn StreamProtocol> = if dial.proxy {
            Box::new(ProxySource::new(Box::new(upstream), dial.client))
        } else {
            Box::new(upstream)
        };
        let Some(dialer) = t.get::<Dialer>().cloned() else {
            self.connect_failed(&dial.target, "the driver gives no dialer");
            return;
        };
        if let Err(e) = dialer.dial(&dial.target, proto, dial.stack) {
            self.connect_failed(&dial.target, &e.to_string());
            return;
        }
        self.connect_deadline =
            Some((strata::deadline::after(t.now(), dial.timeout), dial.timeout));
    }

    /// Connecting upstream failed: logs it with the endpoint and closes the
    /// client side (on its next step).
    fn connect_failed(&self, target: &dyn std::fmt::Display, err: &str) {
        let mut g = lock(&self.shared);
        if g.connect_failed || g.ended[CLIENT].is_some() {
            return;
        }
        tracing::warn!(
            "relay: cannot connect to {target}: {err}; closing {}",
            g.labels[CLIENT]
        );
        g.stats.connect_failures.fetch_add(1, Ordering::Relaxed);
        g.connect_failed = true;
        let wake = g.wakes[CLIENT].clone();
        drop(g);
        if let Some(w) = wake {
            w.wake();
        }
    }
}

impl StreamProtocol for RelaySide {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        {
            let mut g = lock(&self.shared);
            g.wakes[self.side] = Some(t.waker());
            if self.side == CLIENT
                && let Some(PeerAddr(a)) = t.get::<PeerAddr>()
            {
                g.labels[CLIENT] = format!("client {}", peer_label(a));
            }
        }
        if self.side == UPSTREAM {
            self.made = true;
            lock(&self.shared).upstream_made = true;
        }
        if let Some(mut dial) = self.dial.take() {
            if let (Some(PeerAddr(Addr::Inet(c))), Some(LocalAddr(Addr::Inet(l)))) =
                (t.get::<PeerAddr>(), t.get::<LocalAddr>())
            {
                dial.client = Some((*c, *l));
            }
            self.start_dial(t, dial);
        }
        self.step(t);
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.queue(t, Bytes::copy_from_slice(data));
    }

    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.queue(t, data);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let o = self.other();
        let wake = {
            let mut g = lock(&self.shared);
            g.pipes[self.side].eof = true;
            g.wakes[o].clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
        self.step(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.step(t);
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, _route: WakeRoute<'_>) {
        self.step(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.connect_deadline.map(|(at, _)| at)
    }

    /// The connect deadline: the upstream connection is made (nothing to
    /// do), or it is not and the client is closed.
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let Some((at, timeout)) = self.connect_deadline else {
            return;
        };
        if t.now() < at {
            return;
        }
        self.connect_deadline = None;
        let (made, target) = {
            let g = lock(&self.shared);
            (g.upstream_made, g.target.clone())
        };
        if !made {
            self.connect_failed(&target, &format!("no connection after {timeout:?}"));
        }
        self.step(t);
    }

    /// A draining server lets relayed connections run on until they finish
    /// or the drain time is over (then both ends are aborted).
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.step(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        let (s, o) = (self.side, self.other());
        if s == UPSTREAM && !self.made {
            // The dialer's way of saying that connecting failed.
            let target = lock(&self.shared).target.clone();
            self.connect_failed(&target, &why.to_string());
        }
        let wake = {
            let mut g = lock(&self.shared);
            g.ended[s] = Some(why.clone());
            g.wakes[s] = None;
            // Nobody will write what was queued for us.
            g.pipes[o] = Pipe::default();
            if why.is_clean() {
                tracing::debug!("relay: {} closed", g.labels[s]);
            }
            g.wakes[o].clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
    }
}

fn peer_label(a: &Addr) -> String {
    match a {
        Addr::Unix(None) => "unix (unnamed)".into(),
        Addr::Unix(Some(p)) => p.display().to_string(),
        other => other.to_string(),
    }
}

/// Relays every connection a listener accepts to a new connection to one
/// endpoint: hand [`factory`](Relay::factory) to
/// [`Server::listen`](strata_tokio::Server::listen).
///
/// ```no_run
/// # async fn run() -> Result<(), strata_tokio::DriverError> {
/// use strata::endpoint::Endpoint;
/// use strata_cli::relay::{Relay, RelayConfig};
/// let reg = strata_tokio::registry();
/// let listen = Endpoint::parse_with("tcp://127.0.0.1:7001", &reg).unwrap();
/// let target = Endpoint::parse_with("tcp://127.0.0.1:7000", &reg).unwrap();
/// let relay = Relay::new(target, RelayConfig::default());
/// let server = strata_tokio::Server::new();
/// server.listen(&listen, relay.factory(), Default::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Relay {
    target: Endpoint,
    cfg: RelayConfig,
    stats: Arc<RelayStats>,
}

impl Relay {
    /// A relay to `target` (any stream endpoint `strata_tokio::connect`
    /// knows). When its chain holds `proxy`, each upstream connection
    /// starts with a PROXY header naming the client (see the
    /// [module documentation](self)).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// use strata_cli::relay::{Relay, RelayConfig};
    /// let reg = strata_tokio::registry();
    /// let to = Endpoint::parse_with("tls+proxy+tcp://127.0.0.1:9000?proxy.send=1", &reg).unwrap();
    /// let relay = Relay::new(to, RelayConfig::default());
    /// assert_eq!(relay.sends_proxy_header(), Some(strata::proxy_protocol::ProxyVersion::V1));
    /// ```
    pub fn new(target: Endpoint, cfg: RelayConfig) -> Relay {
        Relay {
            target,
            cfg,
            stats: Arc::default(),
        }
    }

    /// The protocol factory for the listener: each call makes a new pair and
    /// returns its client side, which connects upstream once its connection
    /// is made (through the dialer of the driver it runs on).
    pub fn factory(&self) -> StreamFactory {
        let me = self.clone();
        Arc::new(move || {
            let shared = new_shared(me.cfg.buffer, me.stats.clone(), me.target.to_string());
            let dial = Dial {
                target: me.target.clone(),
                timeout: me.cfg.connect_timeout,
                stack: me.cfg.stack.clone(),
                proxy: me.sends_proxy_header().is_some(),
                client: None,
            };
            Box::new(RelaySide::new(shared, CLIENT, Some(dial))) as Box<dyn StreamProtocol>
        })
    }

    /// The PROXY header version each upstream connection starts with
    /// (`proxy.send`), if CONNECT's chain holds `proxy`.
    pub fn sends_proxy_header(&self) -> Option<ProxyVersion> {
        if !self.target.layers.iter().any(|l| l == "proxy") {
            return None;
        }
        Some(match self.target.option("proxy", "send") {
            Some("1") => ProxyVersion::V1,
            _ => ProxyVersion::V2,
        })
    }

    /// The counters of every pair this relay made.
    pub fn stats(&self) -> &Arc<RelayStats> {
        &self.stats
    }
}

/// Why `strata relay` could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelaySetupError {
    /// An endpoint did not parse.
    #[error("bad endpoint: {0}")]
    BadEndpoint(#[from] strata::endpoint::EndpointError),
    /// An endpoint carries datagrams, not a stream.
    #[error("relay needs stream endpoints; {0} carries datagrams")]
    NotStream(String),
    /// `--insecure`/`--ca` given for a CONNECT endpoint without TLS (or QUIC).
    #[error("{flag} needs a tls CONNECT endpoint (tls+tcp://, tls+unix://, quic+udp://); {endpoint} has none")]
    NotTls {
        /// The flag.
        flag: &'static str,
        /// The CONNECT endpoint.
        endpoint: String,
    },
    /// The `--buffer` value is unusable.
    #[error("bad --buffer {0:?}: expected a byte count such as 262144, 256k or 1m, at most 1024m")]
    BadSize(String),
    /// The TLS configuration of an endpoint is unusable.
    #[error("{endpoint}: {source}")]
    Driver {
        /// The endpoint.
        endpoint: String,
        /// What is wrong.
        source: Box<DriverError>,
    },
}

/// The largest `--buffer`: 1 GiB per direction.
pub const MAX_BUFFER: usize = 1 << 30;

/// A count flag from 1 to `MAX`.
fn count<const MAX: usize>(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if (1..=MAX).contains(&v) => Ok(v),
        _ => Err(format!("expected a whole number from 1 to {MAX}")),
    }
}

/// Parses a byte count: digits with an optional `k`/`kb`/`kib` or
/// `m`/`mb`/`mib` suffix (any case; powers of 1024). Zero and more than
/// [`MAX_BUFFER`] are refused.
///
/// ```
/// use strata_cli::relay::parse_size;
/// assert_eq!(parse_size("256k").unwrap(), 256 * 1024);
/// assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
/// assert_eq!(parse_size("4096").unwrap(), 4096);
/// assert!(parse_size("0").is_err());
/// assert!(parse_size("lots").is_err());
/// assert!(parse_size("2048m").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<usize, RelaySetupError> {
    let bad = || RelaySetupError::BadSize(s.to_string());
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().map_err(|_| bad())?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(bad()),
    };
    match n.checked_mul(mult) {
        Some(v) if v > 0 && v <= MAX_BUFFER => Ok(v),
        _ => Err(bad()),
    }
}

/// The arguments of `strata relay`.
#[derive(Debug, clap::Args)]
pub struct RelayArgs {
    /// Where to accept connections, e.g. tcp://127.0.0.1:7001,
    /// tls+tcp://0.0.0.0:8443 (self-signed unless tls.cert/tls.key), unix:///tmp/r.sock
    pub listen: String,
    /// Where to relay each of them, e.g. tcp://127.0.0.1:7000, tls+tcp://host:443;
    /// proxy+tcp://host:8080?proxy.send=1 (or tls+proxy+tcp://) first sends a
    /// PROXY header (v1 here, v2 by default) with the client's address
    pub connect: String,
    /// Bytes queued per direction and connection before the sending side is
    /// paused (suffixes k and m allowed).
    #[arg(long, value_name = "BYTES", default_value = "256k")]
    pub buffer: String,
    /// TLS towards CONNECT: accept any server certificate (adds
    /// tls.insecure=true). For testing only.
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// TLS towards CONNECT: trust the PEM certificates in FILE (adds tls.ca=FILE).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<String>,
    /// Seconds connecting to CONNECT may take before the client is closed
    /// (1 to 3600).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_CONNECT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: u64,
    /// Most relayed connections at once (1 to 1000000).
    #[arg(long, default_value_t = 10_000, value_parser = count::<1_000_000>)]
    pub max_connections: usize,
    /// Seconds a graceful shutdown (Ctrl-C, SIGTERM) lets relayed
    /// connections run on before resetting them (0 to 86400).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub drain: u64,
    /// Worker threads, 1 to 1024 (default: one per core).
    #[arg(long, value_parser = count::<1024>)]
    pub workers: Option<usize>,
}

/// The parsed, checked form of [`RelayArgs`].
struct Plan {
    listen: Endpoint,
    connect: Endpoint,
    buffer: usize,
}

fn parse_stream(raw: &str, reg: &SchemeRegistry) -> Result<Endpoint, RelaySetupError> {
    let ep = Endpoint::parse_with(raw, reg)?;
    if ep.family(reg) != Family::Stream {
        return Err(RelaySetupError::NotStream(ep.to_string()));
    }
    Ok(ep)
}

fn plan(args: &RelayArgs, reg: &SchemeRegistry) -> Result<Plan, RelaySetupError> {
    let listen = parse_stream(&args.listen, reg)?;
    let mut connect = parse_stream(&args.connect, reg)?;
    let tls = connect.layers.iter().any(|l| l == "tls");
    // The outermost layer that verifies the server: `tls`, or QUIC's handshake.
    let verifier = connect
        .layers
        .iter()
        .find(|l| *l == "tls" || *l == "quic")
        .cloned();
    let mut add = |flag: &'static str, key: &str, value: String| {
        let Some(layer) = verifier.clone() else {
            return Err(RelaySetupError::NotTls {
                flag,
                endpoint: connect.to_string(),
            });
        };
        connect.options.push(LayerOption {
            layer,
            key: key.into(),
            value,
        });
        Ok(())
    };
    if args.insecure {
        add("--insecure", "insecure", "true".into())?;
    }
    if let Some(ca) = &args.ca {
        add("--ca", "ca", ca.clone())?;
    }
    if tls {
        // Checked once here rather than failing every connection.
        strata_tokio::client_config(&connect).map_err(|source| RelaySetupError::Driver {
            endpoint: connect.to_string(),
            source: Box::new(source),
        })?;
    }
    Ok(Plan {
        listen,
        connect,
        buffer: parse_size(&args.buffer)?,
    })
}

fn shown(ep: &Endpoint, local: &Addr) -> String {
    let scheme = ep.layers.join("+");
    match local {
        Addr::Unix(Some(p)) => format!("{scheme}://{}", p.display()),
        other => format!("{scheme}://{other}"),
    }
}

/// Runs `strata relay`: prints `strata: relaying LISTEN -> CONNECT` (with
/// the bound address) once listening, relays until Ctrl-C or SIGTERM (SIGHUP
/// reloads the listener's certificate files and relays on), then stops
/// accepting and lets relayed connections finish for `--drain` seconds. Exit status 2 for unusable arguments, 1 when it cannot listen.
pub fn run(args: RelayArgs) -> ExitCode {
    let reg = strata_tokio::registry();
    let plan = match plan(&args, &reg) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("strata: {e}");
            return ExitCode::from(2);
        }
    };
    let id = match strata_tokio::server_identity(&plan.listen) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("strata: {}: {e}", plan.listen);
            return ExitCode::from(2);
        }
    };
    if let Some(id) = &id {
        print_identity(id);
    }
    // Certificates read from files are read again on SIGHUP.
    let files = plan
        .listen
        .option("tls", "cert")
        .or(plan.listen.option("quic", "cert"));
    let reload = match (&id, files) {
        (Some(id), Some(_)) => Some((id.clone(), plan.listen.clone())),
        _ => None,
    };
    let stack = Arc::new(StackConfig::default());
    let relay = Relay::new(
        plan.connect.clone(),
        RelayConfig {
            buffer: plan.buffer,
            connect_timeout: Duration::from_secs(args.connect_timeout),
            stack: stack.clone(),
        },
    );
    let cfg = ListenConfig {
        stack,
        max_connections: args.max_connections,
        ..ListenConfig::default()
    };
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.workers {
        b.worker_threads(n.max(1));
    }
    let rt = match b.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strata: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let server = Server::new();
        let local = match server
            .listen_with_identity(&plan.listen, id, relay.factory(), cfg)
            .await
        {
            Ok(l) => l.local,
            Err(e @ (DriverError::Tls(_) | DriverError::BadOption { .. })) => {
                eprintln!("strata: {}: {e}", plan.listen);
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("strata: cannot listen on {}: {e}", plan.listen);
                return ExitCode::from(1);
            }
        };
        // The handlers are in place before the line that says we are up: a
        // SIGHUP sent as soon as it is read must not kill the relay.
        let signals = crate::signals::Signals::install();
        println!(
            "strata: relaying {} -> {}",
            shown(&plan.listen, &local),
            plan.connect
        );
        signals
            .wait_for_stop(|| reload_certificate(reload.as_ref()))
            .await;
        eprintln!(
            "strata: draining {} connection(s), up to {}s",
            server.connections(),
            args.drain
        );
        server.shutdown(Duration::from_secs(args.drain)).await;
        let s = relay.stats();
        eprintln!(
            "strata: relayed {} connection(s), {} bytes up, {} bytes down, {} connect failure(s)",
            s.started(),
            s.bytes_up(),
            s.bytes_down(),
            s.connect_failures()
        );
        ExitCode::SUCCESS
    })
}

/// What SIGHUP does: reload the certificate files, if the listener has any.
fn reload_certificate(reload: Option<&(strata_tokio::TlsIdentity, Endpoint)>) {
    let Some((id, ep)) = reload else {
        eprintln!("strata: SIGHUP: no certificate files to reload; relaying on");
        return;
    };
    match id.reloader().reload_from(ep) {
        Ok(()) => eprintln!(
            "strata: SIGHUP: {ep}: certificate reloaded, sha256 {}",
            id.fingerprint_hex()
        ),
        Err(e) => {
            eprintln!("strata: SIGHUP: {ep}: reload failed, keeping the old certificate: {e}")
        }
    }
}

/// Prints the certificate a TLS listener presents: its SHA-256 fingerprint,
/// and the names a self-signed one covers (shared with `strata serve`).
pub fn print_identity(id: &strata_tokio::TlsIdentity) {
    let note = if id.is_self_signed() {
        format!(" (self-signed for {})", SELF_SIGNED_NAMES.join(", "))
    } else {
        String::new()
    };
    println!(
        "strata: tls certificate sha256 {}{note}",
        id.fingerprint_hex()
    );
}
