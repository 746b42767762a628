//! Observing a server: a span per connection, lifecycle events, and live
//! statistics per listener (its *stack*) and per layer.
//!
//! [`Observed`] sits right under the application protocol of every
//! connection a listener serves (above the driver's layers, under the app,
//! in a [`ProtocolSlot`] so the app's swaps stay inside it). From there it
//! sees the whole stack through its transport: the peer's address, the layer
//! chain, and every layer's [`Counters`] (`t.layer_stats()`). It opens the
//! connection's span, logs its lifecycle, and adds what the layers counted
//! into the listener's [`StackStats`], which a [`ServerStats`] gathers.
//!
//! It costs nothing when nobody looks: a [`Server`](crate::Server) installs
//! it only when it keeps statistics ([`Server::with_stats`](crate::Server::with_stats))
//! or when a tracing subscriber listens to [`CONN_TARGET`] at `INFO` when
//! the listener starts. The layers' counters themselves are plain adds.
//!
//! # What is logged
//!
//! | target | level | what |
//! |---|---|---|
//! | `strata::conn` | INFO | span `conn` (`peer`, `local`, `chain`); events `accepted`, `closed` (clean), `aborted` / `timed out` (with the reason) |
//! | `strata::layer` | DEBUG | span `layer` (`name`) per layer, with one event of that layer's counters when the connection reads EOF |
//!
//! After every callback it looks at each layer's counters (a walk down the
//! chain, no allocation, no lock) and keeps the change; the changes go into
//! the listener's totals at most every [`REFRESH`] of the connection's time
//! and when it ends. A layer counts what it handed below when it handed
//! it, so the totals are exact for everything done in a callback; what a
//! layer does after the connection's last callback seen from above (a TLS
//! `close_notify` sent when the peer's arrives) is not added.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata::quic::{AppFactory, Dir, QuicApp, QuicConnection, StreamId};
use strata::stats::{Counters, LayerStats, PathStats};
use strata::{
    Close, Introspect, PeerAddr, ProtocolSlot, StreamProtocol, StreamTransport, WakeRoute,
};

/// The tracing target of connection spans and lifecycle events.
pub const CONN_TARGET: &str = "strata::conn";
/// The tracing target of per-layer spans and events.
pub const LAYER_TARGET: &str = "strata::layer";
/// How often, at most, a connection adds its layers' counters into the
/// listener's totals (of the connection's own time).
pub const REFRESH: Duration = Duration::from_millis(250);
/// Samples of the request rate a [`ServerStats`] keeps for its chart (one
/// per [`ServerStats::sample`] call; the CLI samples once a second).
pub const HISTORY: usize = 60;

/// Whether a subscriber listens to connection lifecycles now.
pub(crate) fn lifecycle_enabled() -> bool {
    tracing::enabled!(target: "strata::conn", tracing::Level::INFO)
}

/// The statistics of a server: its listeners' stacks, the requests the
/// application counted, and a short history of the request rate.
///
/// ```
/// use strata_tokio::ServerStats;
/// let stats = ServerStats::new();
/// stats.count_request();
/// stats.count_request();
/// let snap = stats.snapshot();
/// assert_eq!(snap.requests, 2);
/// assert!(snap.stacks.is_empty());
/// assert!(snap.to_json().contains("\"requests\":2"));
/// ```
#[derive(Debug)]
pub struct ServerStats {
    started: Instant,
    stacks: Mutex<Vec<Arc<StackStats>>>,
    requests: AtomicU64,
    history: Mutex<History>,
}

#[derive(Debug, Default)]
struct History {
    /// `(when, requests so far)`, oldest first, at most `HISTORY + 1`.
    samples: VecDeque<(Instant, u64)>,
}

impl ServerStats {
    /// Empty statistics, shared with [`Server::with_stats`](crate::Server::with_stats).
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// let snap = stats.snapshot();
    /// assert_eq!(snap.requests, 0);
    /// assert!(snap.stacks.is_empty());
    /// ```
    pub fn new() -> Arc<ServerStats> {
        let now = Instant::now();
        let mut history = History::default();
        history.samples.push_back((now, 0));
        Arc::new(ServerStats {
            started: now,
            stacks: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            history: Mutex::new(history),
        })
    }

    /// Counts one request (the application calls it: the HTTP demo does).
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// stats.count_request();
    /// stats.count_request();
    /// assert_eq!(stats.snapshot().requests, 2);
    /// ```
    pub fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A new stack's statistics, registered here (one per listener).
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// let s = stats.register("tcp://127.0.0.1:0");
    /// s.set_endpoint("tcp://127.0.0.1:8080");
    /// assert_eq!(stats.snapshot().stacks[0].endpoint, "tcp://127.0.0.1:8080");
    /// ```
    pub fn register(&self, endpoint: &str) -> Arc<StackStats> {
        let s = StackStats::new(endpoint);
        lock(&self.stacks).push(s.clone());
        s
    }

    /// Registers a stack made apart (a listener's, once it is bound).
    pub(crate) fn adopt(&self, s: Arc<StackStats>) {
        lock(&self.stacks).push(s);
    }

    /// Records the request count now, for the rate and its history; call
    /// it periodically (the CLI does, once a second).
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// stats.count_request();
    /// stats.sample();
    /// assert_eq!(stats.snapshot().history.len(), 1);
    /// ```
    pub fn sample(&self) {
        let n = self.requests.load(Ordering::Relaxed);
        let mut h = lock(&self.history);
        h.samples.push_back((Instant::now(), n));
        while h.samples.len() > HISTORY + 1 {
            h.samples.pop_front();
        }
    }

    /// A consistent-enough copy of every figure, for printing or serving.
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// stats.register("tcp://127.0.0.1:7000");
    /// let snap = stats.snapshot();
    /// assert_eq!(snap.stacks.len(), 1);
    /// assert_eq!(snap.stacks[0].endpoint, "tcp://127.0.0.1:7000");
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        // Listeners of one endpoint (a listener per worker thread, with
        // `SO_REUSEPORT`) are one stack: their figures are summed.
        let mut stacks: Vec<StackSnapshot> = Vec::new();
        for s in lock(&self.stacks).iter().map(|s| s.snapshot()) {
            match stacks.iter_mut().find(|t| t.endpoint == s.endpoint) {
                Some(t) => t.merge(s),
                None => stacks.push(s),
            }
        }
        let h = lock(&self.history);
        let rate = |a: &(Instant, u64), b: &(Instant, u64)| {
            let dt = b.0.saturating_duration_since(a.0).as_secs_f64();
            if dt > 0.0 {
                b.1.saturating_sub(a.1) as f64 / dt
            } else {
                0.0
            }
        };
        let history: Vec<f64> = h
            .samples
            .iter()
            .zip(h.samples.iter().skip(1))
            .map(|(a, b)| rate(a, b))
            .collect();
        Snapshot {
            uptime: self.started.elapsed(),
            requests: self.requests.load(Ordering::Relaxed),
            rps: history.last().copied().unwrap_or(0.0),
            history,
            stacks,
        }
    }
}

/// The statistics of one stack (one listener): its connections and what
/// each layer counted, summed over them.
///
/// ```
/// let s = strata_tokio::StackStats::new("tcp://127.0.0.1:7000");
/// assert_eq!(s.snapshot().open, 0);
/// ```
#[derive(Debug)]
pub struct StackStats {
    endpoint: Mutex<String>,
    open: AtomicU64,
    total: AtomicU64,
    chain: OnceLock<Vec<&'static str>>,
    layers: Mutex<Vec<LayerTotals>>,
}

impl StackStats {
    /// Statistics for a stack named `endpoint`, not registered anywhere.
    ///
    /// ```
    /// let s = strata_tokio::StackStats::new("tcp://127.0.0.1:0");
    /// let snap = s.snapshot();
    /// assert_eq!(snap.endpoint, "tcp://127.0.0.1:0");
    /// assert_eq!((snap.open, snap.total), (0, 0));
    /// ```
    pub fn new(endpoint: &str) -> Arc<StackStats> {
        Arc::new(StackStats {
            endpoint: Mutex::new(endpoint.to_string()),
            open: AtomicU64::new(0),
            total: AtomicU64::new(0),
            chain: OnceLock::new(),
            layers: Mutex::new(Vec::new()),
        })
    }

    /// Renames the stack (once the listener knows its port).
    ///
    /// ```
    /// let s = strata_tokio::StackStats::new("tcp://127.0.0.1:0");
    /// s.set_endpoint("tcp://127.0.0.1:40001"); // the port is known now
    /// assert_eq!(s.snapshot().endpoint, "tcp://127.0.0.1:40001");
    /// ```
    pub fn set_endpoint(&self, endpoint: &str) {
        *lock(&self.endpoint) = endpoint.to_string();
    }

    /// A copy of its figures.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata_tokio::{Observed, StackStats};
    /// let stack = StackStats::new("memory");
    /// let mut s = Stack::memory(Box::new(Observed::new(Box::new(Echo), stack.clone())));
    /// assert_eq!(stack.snapshot().open, 1);
    /// let now = s.now();
    /// s.handle_eof(now);
    /// let snap = stack.snapshot();
    /// assert_eq!((snap.open, snap.total), (0, 1));
    /// assert_eq!(snap.chain, vec!["memory"]);
    /// ```
    pub fn snapshot(&self) -> StackSnapshot {
        StackSnapshot {
            endpoint: lock(&self.endpoint).clone(),
            chain: self.chain.get().cloned().unwrap_or_default(),
            open: self.open.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            layers: lock(&self.layers).clone(),
        }
    }

    /// Adds one connection's deltas, layer by layer (top first).
    fn add(&self, deltas: &[LayerStats]) {
        let mut layers = lock(&self.layers);
        if layers.len() < deltas.len() {
            layers.resize_with(deltas.len(), LayerTotals::default);
        }
        for (t, d) in layers.iter_mut().zip(deltas) {
            t.layer = d.layer;
            if let Some(c) = d.counters {
                t.counters.bytes_in = t.counters.bytes_in.wrapping_add(c.bytes_in);
                t.counters.bytes_out = t.counters.bytes_out.wrapping_add(c.bytes_out);
                t.counters.frames_in = t.counters.frames_in.wrapping_add(c.frames_in);
                t.counters.frames_out = t.counters.frames_out.wrapping_add(c.frames_out);
                t.counters.buffered = t.counters.buffered.wrapping_add(c.buffered);
            }
            if d.path.is_some() {
                t.path = d.path;
            }
        }
    }
}

/// One layer's figures summed over a stack's connections. `buffered` is the
/// sum of what the live connections held at their last refresh; `path` is
/// the most recent connection's.
///
/// ```
/// # use strata::{Stack, StreamProtocol, StreamTransport};
/// # struct Echo;
/// # impl StreamProtocol for Echo {
/// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// use strata_tokio::{Observed, StackStats};
/// let stack = StackStats::new("memory");
/// let mut s = Stack::memory(Box::new(Observed::new(Box::new(Echo), stack.clone())));
/// let now = s.now();
/// s.handle_input(now, b"abc");
/// s.take_output(now);
/// s.handle_eof(now);
/// let bottom = stack.snapshot().layers[0];
/// assert_eq!(bottom.layer, "memory");
/// assert_eq!((bottom.counters.bytes_in, bottom.counters.bytes_out), (3, 3));
/// assert!(bottom.path.is_none()); // a memory pipe measures no path
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerTotals {
    /// The layer's name.
    pub layer: &'static str,
    /// Its counters, summed.
    pub counters: Counters,
    /// The last path figures seen, where the layer measures a path.
    pub path: Option<PathStats>,
}

/// A copy of a [`StackStats`].
///
/// ```
/// let stats = strata_tokio::ServerStats::new();
/// let s = stats.register("unix:///run/app.sock");
/// let snap = s.snapshot();
/// assert_eq!(snap.endpoint, "unix:///run/app.sock");
/// assert!(snap.chain.is_empty()); // no connection yet
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StackSnapshot {
    /// The listener's endpoint.
    pub endpoint: String,
    /// The layer chain its connections saw, top first (empty before the first).
    pub chain: Vec<&'static str>,
    /// Connections open now.
    pub open: u64,
    /// Connections since the start.
    pub total: u64,
    /// Per layer, top first.
    pub layers: Vec<LayerTotals>,
}

impl StackSnapshot {
    /// Adds another listener's figures of the same endpoint.
    fn merge(&mut self, o: StackSnapshot) {
        self.open = self.open.wrapping_add(o.open);
        self.total = self.total.wrapping_add(o.total);
        if self.chain.is_empty() {
            self.chain = o.chain;
        }
        if self.layers.len() < o.layers.len() {
            self.layers
                .resize_with(o.layers.len(), LayerTotals::default);
        }
        for (t, l) in self.layers.iter_mut().zip(o.layers) {
            if t.layer.is_empty() {
                t.layer = l.layer;
            }
            let (c, d) = (&mut t.counters, l.counters);
            c.bytes_in = c.bytes_in.wrapping_add(d.bytes_in);
            c.bytes_out = c.bytes_out.wrapping_add(d.bytes_out);
            c.frames_in = c.frames_in.wrapping_add(d.frames_in);
            c.frames_out = c.frames_out.wrapping_add(d.frames_out);
            c.buffered = c.buffered.wrapping_add(d.buffered);
            if l.path.is_some() {
                t.path = l.path;
            }
        }
    }
}

/// A copy of a [`ServerStats`].
///
/// ```
/// let stats = strata_tokio::ServerStats::new();
/// stats.count_request();
/// let snap = stats.snapshot();
/// assert_eq!(snap.requests, 1);
/// assert!(snap.rps >= 0.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Since the statistics were made.
    pub uptime: Duration,
    /// Requests counted so far.
    pub requests: u64,
    /// Requests per second over the last sample period.
    pub rps: f64,
    /// Requests per second of each sample period, oldest first.
    pub history: Vec<f64>,
    /// Every stack.
    pub stacks: Vec<StackSnapshot>,
}

impl Snapshot {
    /// The stable one-line form `strata serve --stats` prints:
    /// `stats uptime=S conns=OPEN/TOTAL requests=N rps=R` then, per stack,
    /// ` | ENDPOINT open=O total=T` and per layer ` LAYER=in:B,out:B,buf:B`
    /// (plus `,rtt_us:U,cwnd:C,lost:L` where the layer measures a path).
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// stats.register("tcp://127.0.0.1:7000");
    /// let line = stats.snapshot().line();
    /// assert!(line.starts_with("stats uptime="));
    /// assert!(line.ends_with("| tcp://127.0.0.1:7000 open=0 total=0"));
    /// ```
    pub fn line(&self) -> String {
        let open: u64 = self.stacks.iter().map(|s| s.open).sum();
        let total: u64 = self.stacks.iter().map(|s| s.total).sum();
        let mut out = format!(
            "stats uptime={} conns={open}/{total} requests={} rps={:.1}",
            self.uptime.as_secs(),
            self.requests,
            self.rps
        );
        for s in &self.stacks {
            let _ = write!(out, " | {} open={} total={}", s.endpoint, s.open, s.total);
            for l in &s.layers {
                let c = &l.counters;
                let _ = write!(
                    out,
                    " {}=in:{},out:{},buf:{}",
                    l.layer, c.bytes_in, c.bytes_out, c.buffered
                );
                if let Some(p) = l.path {
                    let _ = write!(
                        out,
                        ",rtt_us:{},cwnd:{},lost:{}",
                        p.rtt.as_micros(),
                        p.cwnd,
                        p.lost_packets
                    );
                }
            }
        }
        out
    }

    /// The figures as JSON (what the demo's `/stats.json` serves).
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// stats.register("tcp://\"quoted\"");
    /// let json = stats.snapshot().to_json();
    /// assert!(json.contains(r#""endpoint":"tcp://\"quoted\"""#));
    /// ```
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256);
        let _ = write!(
            o,
            "{{\"uptime_secs\":{},\"requests\":{},\"rps\":{},\"history\":[",
            self.uptime.as_secs(),
            self.requests,
            num(self.rps)
        );
        for (i, r) in self.history.iter().enumerate() {
            let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, num(*r));
        }
        o.push_str("],\"stacks\":[");
        for (i, s) in self.stacks.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"endpoint\":");
            json_str(&mut o, &s.endpoint);
            o.push_str(",\"chain\":[");
            for (j, l) in s.chain.iter().enumerate() {
                if j > 0 {
                    o.push(',');
                }
                json_str(&mut o, l);
            }
            let _ = write!(
                o,
                "],\"open\":{},\"total\":{},\"layers\":[",
                s.open, s.total
            );
            for (j, l) in s.layers.iter().enumerate() {
                if j > 0 {
                    o.push(',');
                }
                let c = &l.counters;
                o.push_str("{\"layer\":");
                json_str(&mut o, l.layer);
                let _ = write!(
                    o,
                    ",\"bytes_in\":{},\"bytes_out\":{},\"frames_in\":{},\"frames_out\":{},\"buffered\":{}",
                    c.bytes_in, c.bytes_out, c.frames_in, c.frames_out, c.buffered
                );
                if let Some(p) = l.path {
                    let _ = write!(
                        o,
                        ",\"rtt_us\":{},\"cwnd\":{},\"lost_packets\":{},\"sent_packets\":{}",
                        p.rtt.as_micros(),
                        p.cwnd,
                        p.lost_packets,
                        p.sent_packets
                    );
                }
                o.push('}');
            }
            o.push_str("]}");
        }
        o.push_str("]}");
        o
    }
}

/// A finite JSON number (NaN and infinities, which JSON lacks, as 0).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "0".into()
    }
}

/// Appends `s` as a JSON string.
fn json_str(o: &mut String, s: &str) {
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics under these locks; a poisoned one still holds figures.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wraps a listener's factory so each connection's app runs under an
/// [`Observed`] counting into `stack`.
pub(crate) fn observe(
    factory: strata::StreamFactory,
    stack: Arc<StackStats>,
) -> strata::StreamFactory {
    Arc::new(move || Box::new(Observed::new(factory(), stack.clone())) as Box<dyn StreamProtocol>)
}

/// The observer under a connection's application protocol: opens the
/// connection's span, logs its lifecycle, and adds its layers' counters
/// into its stack's totals. See `docs/observability.md` for what it logs
/// and when it adds the counters into the totals.
///
/// ```
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// use strata_tokio::{Observed, StackStats};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let stack = StackStats::new("memory");
/// let mut s = Stack::memory(Box::new(Observed::new(Box::new(Echo), stack.clone())));
/// let now = s.now();
/// s.handle_input(now, b"hi");
/// s.take_output(now);
/// s.handle_eof(now);
/// let snap = stack.snapshot();
/// assert_eq!((snap.open, snap.total), (0, 1));
/// let c = snap.layers[0].counters;
/// assert_eq!((c.bytes_in, c.bytes_out), (2, 2));
/// ```
pub struct Observed {
    inner: ProtocolSlot,
    stack: Arc<StackStats>,
    span: tracing::Span,
    tally: Tally,
    /// Counted in `open`, not yet taken out.
    open: bool,
}

/// One connection's figures on their way into its stack's totals.
#[derive(Default)]
struct Tally {
    /// Each layer's counters at the last look, top first.
    last: Vec<Counters>,
    /// What the layers counted since the last flush into the totals.
    pending: Vec<LayerStats>,
    /// When the pending figures are next added to the totals.
    flush_at: Option<Instant>,
}

impl Tally {
    /// What each layer from `top` down counted since the last look goes
    /// into `pending` (no allocation once the chain is known, no lock),
    /// and `pending` into `stack`'s totals every [`REFRESH`].
    fn look(&mut self, stack: &StackStats, top: &dyn Introspect, now: Instant) {
        let mut cur: Option<&dyn Introspect> = Some(top);
        let mut i = 0;
        while let Some(l) = cur {
            if i == self.last.len() {
                self.last.push(Counters::default());
                self.pending.push(LayerStats {
                    layer: l.name(),
                    counters: None,
                    path: None,
                });
            }
            if let Some(c) = local::<Counters>(l) {
                let before = self.last[i];
                let p = self.pending[i]
                    .counters
                    .get_or_insert_with(Counters::default);
                let d = c.since(&before);
                p.bytes_in = p.bytes_in.wrapping_add(d.bytes_in);
                p.bytes_out = p.bytes_out.wrapping_add(d.bytes_out);
                p.frames_in = p.frames_in.wrapping_add(d.frames_in);
                p.frames_out = p.frames_out.wrapping_add(d.frames_out);
                // The totals' `buffered` sums the live connections': add the change.
                p.buffered = p
                    .buffered
                    .wrapping_add(c.buffered.wrapping_sub(before.buffered));
                self.last[i] = c;
            }
            if let Some(path) = local::<PathStats>(l) {
                self.pending[i].path = Some(path);
            }
            cur = l.below();
            i += 1;
        }
        if self.flush_at.is_none_or(|at| now >= at) {
            self.flush(stack);
            self.flush_at = Some(strata::deadline::after(now, REFRESH));
        }
    }

    /// Adds the pending figures into the stack's totals.
    fn flush(&mut self, stack: &StackStats) {
        if self.pending.is_empty() {
            return;
        }
        stack.add(&self.pending);
        for p in &mut self.pending {
            p.counters = p.counters.map(|_| Counters::default());
            p.path = None;
        }
    }

    /// The connection is over: its figures go into the totals, and what it
    /// held (`buffered`) leaves them.
    fn close(&mut self, stack: &StackStats) {
        self.flush(stack);
        let mut layers = lock(&stack.layers);
        for (t, c) in layers.iter_mut().zip(self.last.iter_mut()) {
            t.counters.buffered = t.counters.buffered.wrapping_sub(c.buffered);
            c.buffered = 0;
        }
    }
}

impl Observed {
    /// Observes `inner`, counting into `stack`.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata_tokio::{Observed, StackStats};
    /// let stack = StackStats::new("memory");
    /// let s = Stack::memory(Box::new(Observed::new(Box::new(Echo), stack.clone())));
    /// assert_eq!((stack.snapshot().open, stack.snapshot().total), (1, 1));
    /// assert!(s.protocol::<Echo>().is_some()); // found through the observer
    /// ```
    pub fn new(inner: Box<dyn StreamProtocol>, stack: Arc<StackStats>) -> Observed {
        Observed {
            inner: ProtocolSlot::new(inner),
            stack,
            span: tracing::Span::none(),
            tally: Tally::default(),
            open: false,
        }
    }

    /// After every callback: what each layer counted since the last look
    /// (see [`Tally::look`]).
    fn look(&mut self, t: &dyn StreamTransport) {
        self.tally.look(&self.stack, t, t.now());
    }

    /// One DEBUG event per layer, in that layer's span.
    fn log_layers(&self, t: &dyn StreamTransport) {
        if !tracing::enabled!(target: "strata::layer", tracing::Level::DEBUG) {
            return;
        }
        for l in t.layer_stats() {
            let span = tracing::debug_span!(target: "strata::layer", parent: &self.span, "layer", name = l.layer);
            let _g = span.enter();
            let c = l.counters.unwrap_or_default();
            match l.path {
                Some(p) => tracing::debug!(
                    target: "strata::layer",
                    bytes_in = c.bytes_in,
                    bytes_out = c.bytes_out,
                    frames_in = c.frames_in,
                    frames_out = c.frames_out,
                    buffered = c.buffered,
                    rtt_us = p.rtt.as_micros() as u64,
                    cwnd = p.cwnd,
                    lost_packets = p.lost_packets,
                    "counters"
                ),
                None => tracing::debug!(
                    target: "strata::layer",
                    bytes_in = c.bytes_in,
                    bytes_out = c.bytes_out,
                    frames_in = c.frames_in,
                    frames_out = c.frames_out,
                    buffered = c.buffered,
                    "counters"
                ),
            }
        }
    }

    /// The connection is over: its figures go into the totals, and what it
    /// held (`buffered`) and its place in `open` leave them.
    fn close_open(&mut self) {
        self.tally.close(&self.stack);
        if std::mem::take(&mut self.open) {
            self.stack.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// What `t` itself answers for `T`, not a layer below it.
fn local<T: std::any::Any + Copy>(t: &dyn Introspect) -> Option<T> {
    t.local_capability(std::any::TypeId::of::<T>())
        .and_then(|v| v.downcast_ref::<T>())
        .copied()
}

impl Drop for Observed {
    fn drop(&mut self) {
        self.close_open();
    }
}

/// Runs one call into the observed protocol inside the connection's span,
/// then looks at the stack.
macro_rules! observed {
    ($self:ident, $t:ident, $call:expr_2021) => {{
        {
            let _g = $self.span.enter();
            $call;
        }
        $self.look($t);
    }};
}

/// Counts a connection that opened in its stack's totals, keeps the
/// stack's layer chain, and makes the connection's span when lifecycles
/// are logged (`None` otherwise): the same for a stream stack
/// ([`Observed`]) and a QUIC connection ([`ObservedApp`]).
fn opened(stack: &StackStats, top: &dyn Introspect) -> Option<tracing::Span> {
    stack.open.fetch_add(1, Ordering::Relaxed);
    stack.total.fetch_add(1, Ordering::Relaxed);
    let chain = top.layer_chain();
    if stack.chain.get().is_none() {
        let _ = stack.chain.set(chain.clone());
    }
    if !lifecycle_enabled() {
        return None;
    }
    let peer = top.get::<PeerAddr>().map(|p| p.0.to_string());
    let local = lock(&stack.endpoint).clone();
    let span = tracing::info_span!(
        target: "strata::conn",
        "conn",
        peer = peer.as_deref().unwrap_or("?"),
        local = local.as_str(),
        chain = chain.join("+").as_str(),
    );
    tracing::info!(target: "strata::conn", parent: &span, "accepted");
    Some(span)
}

impl StreamProtocol for Observed {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.open = true;
        let top: &dyn Introspect = t;
        if let Some(span) = opened(&self.stack, top) {
            self.span = span;
        }
        observed!(self, t, self.inner.connection_made(t));
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        observed!(self, t, self.inner.data_received(t, data));
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        observed!(self, t, self.inner.data_received_bytes(t, data));
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.log_layers(t);
        observed!(self, t, self.inner.eof_received(t));
    }
    fn connection_lost(&mut self, why: &Close) {
        {
            let _g = self.span.enter();
            self.inner.connection_lost(why);
        }
        self.close_open();
        if !self.span.is_none() {
            match why {
                Close::Done => {
                    tracing::info!(target: "strata::conn", parent: &self.span, "closed")
                }
                Close::Timeout(_) => {
                    tracing::info!(target: "strata::conn", parent: &self.span, reason = %why, "timed out")
                }
                _ => {
                    tracing::info!(target: "strata::conn", parent: &self.span, reason = %why, "aborted")
                }
            }
        }
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        observed!(self, t, self.inner.pause_writing(t));
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        observed!(self, t, self.inner.resume_writing(t));
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        observed!(self, t, self.inner.on_deadline(t));
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        observed!(self, t, self.inner.on_wake(t, route));
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        observed!(self, t, self.inner.on_shutdown(t));
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&self.inner)
    }
}

/// Wraps a QUIC listener's app factory so each connection's app runs under
/// an [`ObservedApp`] counting into `stack`.
pub(crate) fn observe_apps(apps: AppFactory, stack: Arc<StackStats>) -> AppFactory {
    Arc::new(move |alpn: Option<&[u8]>| {
        apps(alpn).map(|a| Box::new(ObservedApp::new(a, stack.clone())) as Box<dyn QuicApp>)
    })
}

/// What [`Observed`] is to a stream connection, for a QUIC connection's
/// app (a `listen_quic` listener's: HTTP/3): counts the connection into
/// its listener's [`StackStats`] (open, total, and the figures of the
/// layers below the app: `quic`, `udp`), opens its span and logs its
/// lifecycle.
pub(crate) struct ObservedApp {
    inner: Box<dyn QuicApp>,
    stack: Arc<StackStats>,
    span: tracing::Span,
    tally: Tally,
    /// Counted in `open`, not yet taken out.
    open: bool,
}

impl ObservedApp {
    pub(crate) fn new(inner: Box<dyn QuicApp>, stack: Arc<StackStats>) -> ObservedApp {
        ObservedApp {
            inner,
            stack,
            span: tracing::Span::none(),
            tally: Tally::default(),
            open: false,
        }
    }

    fn look(&mut self, c: &dyn QuicConnection) {
        self.tally.look(&self.stack, c, c.now());
    }
}

/// Runs one call into the observed app inside the connection's span, then
/// looks at the connection's layers.
macro_rules! observed_app {
    ($self:ident, $c:ident, $call:expr) => {{
        {
            let _g = $self.span.enter();
            $call;
        }
        $self.look($c);
    }};
}

impl QuicApp for ObservedApp {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.open = true;
        let top: &dyn Introspect = c;
        if let Some(span) = opened(&self.stack, top) {
            self.span = span;
        }
        observed_app!(self, c, self.inner.connection_made(c));
    }
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        observed_app!(self, c, self.inner.stream_opened(c, id));
    }
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        observed_app!(self, c, self.inner.stream_data(c, id, data));
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        observed_app!(self, c, self.inner.stream_finished(c, id));
    }
    fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        observed_app!(self, c, self.inner.stream_reset(c, id, code));
    }
    fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        observed_app!(self, c, self.inner.stream_stopped(c, id, code));
    }
    fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        observed_app!(self, c, self.inner.stream_acked(c, id));
    }
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        observed_app!(self, c, self.inner.stream_writable(c, id));
    }
    fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {
        observed_app!(self, c, self.inner.streams_available(c, dir));
    }
    fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {
        observed_app!(self, c, self.inner.datagram_received(c, data));
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        observed_app!(self, c, self.inner.on_deadline(c));
    }
    fn on_wake(&mut self, c: &mut dyn QuicConnection) {
        observed_app!(self, c, self.inner.on_wake(c));
    }
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        observed_app!(self, c, self.inner.on_wake_at(c, route));
    }
    fn on_shutdown(&mut self, c: &mut dyn QuicConnection) {
        observed_app!(self, c, self.inner.on_shutdown(c));
    }
    fn early_data(&self) -> bool {
        self.inner.early_data()
    }
    fn zero_rtt_accepted(&mut self, c: &mut dyn QuicConnection) {
        observed_app!(self, c, self.inner.zero_rtt_accepted(c));
    }
    fn zero_rtt_rejected(&mut self, c: &mut dyn QuicConnection) {
        observed_app!(self, c, self.inner.zero_rtt_rejected(c));
    }
    fn connection_lost(&mut self, why: &Close) {
        {
            let _g = self.span.enter();
            self.inner.connection_lost(why);
        }
        self.close_open();
        if !self.span.is_none() {
            match why {
                Close::Done => {
                    tracing::info!(target: "strata::conn", parent: &self.span, "closed")
                }
                _ => {
                    tracing::info!(target: "strata::conn", parent: &self.span, reason = %why, "ended")
                }
            }
        }
    }
}

impl ObservedApp {
    fn close_open(&mut self) {
        self.tally.close(&self.stack);
        if std::mem::take(&mut self.open) {
            self.stack.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for ObservedApp {
    fn drop(&mut self) {
        self.close_open();
    }
}
