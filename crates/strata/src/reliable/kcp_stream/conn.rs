//! One conversation: the KCP engine in the generic host
//! ([`Hosted`](crate::reliable::host::Hosted)), with KCP's hooks (the
//! overflow over the engine's send buffer, the end marker, the close
//! flush, the idle and close timers, the memory budget). Shared by
//! [`KcpStream`](super::KcpStream) and the children of
//! [`KcpListener`](super::KcpListener).

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{half_close, KcpCounters, KcpStreamConfig, KCP};
use crate::deadline::after;
use crate::qlog::{QlogTrace, QlogTracer, TraceInfo, Vantage};
use crate::reliable::host::{hysteresis, HostEngine, Hosted, Received};
use crate::reliable::kcp::Kcp;
use crate::{
    AbortReason, Close, DatagramTransport, HalfClose, ReliableDelivery, StreamProtocol, Timeout,
};

/// What a KCP conversation's view answers for [`ReliableDelivery`]: every
/// byte once, in order.
static RELIABLE: ReliableDelivery = ReliableDelivery(true);

/// The limits of one conversation, from [`KcpStreamConfig`].
#[derive(Clone, Copy, Debug)]
struct Limits {
    high: usize,
    low: usize,
    budget: usize,
    idle: Option<Duration>,
    close: Duration,
    /// The end marker is on ([`KcpStreamConfig::fin`]).
    fin: bool,
}

/// A conversation's state apart from the engine, the protocol and the
/// host's common state.
pub(crate) struct KcpExt {
    limits: Limits,
    pub(super) counters: Arc<KcpCounters>,
    /// The transport below is over its high-water mark.
    pub(super) below_paused: bool,
    /// The conversation is over; the owner acts on it (and calls the
    /// protocol no more, except `connection_lost`).
    pub(super) end: Option<Close>,
    /// The last time seen (for `next_deadline`, which gets no transport).
    now: Option<Instant>,
    /// Our own write-pause source: over `high` until back at `low`.
    over_high: bool,
    /// Bytes written while the engine's send buffer was full.
    overflow: Vec<u8>,
    /// When the last valid datagram arrived (or the conversation started).
    heard: Option<Instant>,
    /// Close asked for: the deadline to finish flushing by.
    closing: Option<Instant>,
    /// `write_eof` (or `close`) with the end marker on: it goes after the
    /// bytes written, once they are all in the engine.
    fin_asked: bool,
    /// The peer's end marker was delivered (`eof_received`).
    peer_fin: bool,
    /// `write_eof` without the end marker: the conversation ends with
    /// [`KcpError::NoHalfClose`](crate::reliable::kcp::KcpError::NoHalfClose)
    /// once flushed.
    eof_refused: bool,
    /// The conversation's qlog trace, answered to the layers above so they
    /// write into the same trace.
    qlog: Option<QlogTrace>,
}

impl KcpExt {
    /// The time of an entry point, kept monotonic.
    fn tick(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |n| n.max(now));
        self.now = Some(now);
        now
    }

    fn set_end(&mut self, why: Close) {
        if self.end.is_none() {
            self.end = Some(why);
        }
    }

    /// Flush, then end (bounded by `close_timeout`); the end marker goes
    /// too when it is on.
    fn start_close(&mut self, now: Instant) {
        if self.end.is_none() && self.closing.is_none() {
            self.closing = Some(after(now, self.limits.close));
            self.fin_asked |= self.limits.fin;
        }
    }

    /// Writes are taken: not ended, not closing, no end marker asked for.
    fn open(&self) -> bool {
        self.end.is_none() && self.closing.is_none() && !self.fin_asked
    }
}

/// Bytes written and not yet acknowledged, in the engine or over it.
fn queued(kcp: &Kcp, ext: &KcpExt) -> usize {
    kcp.buffered() + ext.overflow.len()
}

impl HostEngine for Kcp {
    const NAME: &'static str = KCP;
    const SETTLE_AFTER_SEND: bool = false;
    type Ext = KcpExt;
    type Chunk = Vec<u8>;

    fn tick(ext: &mut KcpExt, t: &dyn DatagramTransport) {
        ext.tick(t.now());
    }

    fn live(ext: &KcpExt) -> bool {
        ext.end.is_none()
    }

    /// The protocol starts at once ([`Conn::start`]), not on an event.
    fn ready(&self) -> bool {
        false
    }

    /// Moves written bytes kept over the engine's send buffer into it,
    /// then the end marker once they all are.
    fn before_calls(&mut self, ext: &mut KcpExt) {
        if !ext.overflow.is_empty() {
            let n = self.send(&ext.overflow);
            ext.overflow.drain(..n);
            if ext.overflow.is_empty() {
                ext.overflow = Vec::new();
            }
        }
        if ext.fin_asked && ext.overflow.is_empty() {
            self.send_end();
        }
    }

    fn receive(
        &mut self,
        ext: &mut KcpExt,
        _t: &dyn DatagramTransport,
        rx: &mut Vec<u8>,
    ) -> Received {
        rx.clear();
        match self.recv(rx) {
            Some(0) => {
                if ext.limits.fin && self.end_received() && !ext.peer_fin {
                    ext.peer_fin = true;
                    Received::Eof
                } else {
                    Received::Again
                }
            }
            Some(_) => Received::Data,
            None => Received::Nothing,
        }
    }

    /// Paused over `high_water` (until back at `low_water`) and while the
    /// transport below is.
    fn want_pause(&mut self, ext: &mut KcpExt) -> Option<bool> {
        let q = queued(self, ext);
        hysteresis(&mut ext.over_high, q, ext.limits.high, ext.limits.low);
        Some(ext.over_high || ext.below_paused)
    }

    /// The close: ended once everything is acknowledged.
    fn after_calls(&mut self, ext: &mut KcpExt, rx: &mut Vec<u8>) {
        if ext.end.is_none() {
            if ext.fin_asked && ext.peer_fin && ext.closing.is_none() {
                // Both ends asked for the end: waiting for our marker's
                // acknowledgement is bounded like a close.
                ext.closing = ext.now.map(|n| after(n, ext.limits.close));
            }
            let flushed = queued(self, ext) == 0 && self.all_acked();
            if ext.closing.is_some() && flushed {
                ext.set_end(if ext.eof_refused {
                    let e = crate::reliable::kcp::KcpError::NoHalfClose;
                    Close::aborted(KCP, AbortReason::layer(e))
                } else {
                    Close::Done
                });
            }
        }
        if ext.limits.fin && matches!(ext.end, Some(Close::Done)) {
            // The last acknowledgement (of the peer's end marker) leaves now:
            // no tick comes after the end.
            self.flush_acks();
        }
        if rx.capacity() > 2 * self.mss() * usize::from(self.config().rcv_wnd) {
            *rx = Vec::new();
        }
    }

    /// Nothing after an abort; at the last time seen otherwise.
    fn send_time(ext: &KcpExt, _t: &dyn DatagramTransport) -> Option<Instant> {
        if ext.end.as_ref().is_some_and(|e| !e.is_clean()) {
            return None;
        }
        ext.now
    }

    fn on_lost(ext: &mut KcpExt, why: &Close) {
        ext.set_end(why.clone());
        ext.overflow = Vec::new();
    }

    fn capability(ext: &KcpExt, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<HalfClose>() {
            return Some(half_close(ext.limits.fin) as &dyn Any);
        }
        if id == TypeId::of::<ReliableDelivery>() {
            return Some(&RELIABLE as &dyn Any);
        }
        if id == TypeId::of::<QlogTrace>() {
            return ext.qlog.as_ref().map(|q| q as &dyn Any);
        }
        None
    }

    fn view_write(&mut self, ext: &mut KcpExt, _below: &dyn DatagramTransport, data: &[u8]) {
        if !ext.open() {
            return;
        }
        let rest = if ext.overflow.is_empty() {
            let n = self.send(data);
            data.get(n..).unwrap_or_default()
        } else {
            data
        };
        if rest.is_empty() {
            return;
        }
        if queued(self, ext) + rest.len() > ext.limits.budget {
            let limit = ext.limits.budget;
            tracing::warn!("kcp: the protocol wrote past the memory budget of {limit} bytes");
            ext.set_end(Close::aborted(KCP, AbortReason::MemoryBudget { limit }));
            return;
        }
        ext.overflow.extend_from_slice(rest);
    }

    /// With the end marker: sends it after what was written and keeps
    /// reading. Without: KCP cannot half-close, so this flushes, then ends
    /// the conversation with `KcpError::NoHalfClose` (see the module
    /// documentation).
    fn view_write_eof(&mut self, ext: &mut KcpExt, below: &dyn DatagramTransport) {
        if !ext.open() {
            return;
        }
        if ext.limits.fin {
            ext.fin_asked = true;
        } else {
            ext.eof_refused = true;
            ext.start_close(below.now());
        }
    }

    /// Flushes, then ends with `Close::Done`. After a `write_eof` without
    /// the end marker it withdraws the error: a protocol that closes does
    /// not expect to keep reading.
    fn view_close(&mut self, ext: &mut KcpExt, below: &dyn DatagramTransport) {
        ext.eof_refused = false;
        ext.start_close(below.now());
    }

    fn view_abort(&mut self, ext: &mut KcpExt, _below: &dyn DatagramTransport, why: Close) {
        ext.overflow = Vec::new();
        ext.set_end(why);
    }

    fn view_buffered(&self, ext: &KcpExt) -> usize {
        queued(self, ext)
    }

    fn view_writable(&self, ext: &KcpExt, below: &dyn DatagramTransport) -> bool {
        ext.open() && queued(self, ext) < ext.limits.high && below.writable()
    }
}

/// One conversation.
pub(super) type Conn<P> = Hosted<Kcp, P>;

impl<P: StreamProtocol> Hosted<Kcp, P> {
    /// A conversation over `kcp` hosting `inner`.
    pub(super) fn kcp(
        inner: P,
        kcp: Kcp,
        cfg: &KcpStreamConfig,
        counters: Arc<KcpCounters>,
    ) -> Self {
        let ext = KcpExt {
            limits: Limits {
                high: cfg.high_water,
                low: cfg.low_water.min(cfg.high_water),
                budget: cfg.memory_budget,
                idle: cfg.idle_timeout,
                close: cfg.close_timeout,
                fin: cfg.fin,
            },
            counters,
            below_paused: false,
            end: None,
            now: None,
            over_high: false,
            overflow: Vec::new(),
            heard: None,
            closing: None,
            fin_asked: false,
            peer_fin: false,
            eof_refused: false,
            qlog: None,
        };
        Hosted::new(kcp, ext, inner, None, None)
    }

    /// Traces the conversation into a trace from the socket's
    /// [`QlogTracer`], when the driver set one: the engine's segments and
    /// recovery (category `reliable`, `"wire":"kcp"`), and every layer
    /// above it.
    pub(super) fn trace(
        &mut self,
        t: &dyn DatagramTransport,
        vantage: Vantage,
        peer: Option<std::net::SocketAddr>,
    ) {
        let Some(tracer) = t.get::<QlogTracer>() else {
            return;
        };
        let info = TraceInfo {
            vantage,
            peer: peer.map(crate::Addr::Inet),
            protocol: crate::reliable::native_host::NAME,
            now: t.now(),
        };
        let trace = tracer.trace(&info);
        self.engine.set_qlog(trace.clone());
        self.ext.qlog = trace;
    }

    fn tick(&mut self, t: &dyn DatagramTransport) -> Instant {
        self.ext.tick(t.now())
    }

    /// Delivers `connection_made`, then settles.
    pub(super) fn start(&mut self, t: &mut dyn DatagramTransport) {
        let now = self.tick(t);
        self.ext.heard = Some(now);
        self.st.started = true;
        self.call(t, |p, v| p.connection_made(v));
    }

    /// Feeds one datagram to the engine (the caller settles after the batch).
    pub(super) fn input(&mut self, t: &mut dyn DatagramTransport, data: &[u8]) {
        if self.ext.end.is_some() {
            return;
        }
        let now = self.tick(t);
        match self.engine.input(now, data) {
            Ok(()) => self.ext.heard = Some(now),
            Err(e) => {
                tracing::debug!("kcp: dropping a datagram: {e}");
                KcpCounters::bump(&self.ext.counters.bad);
            }
        }
    }

    /// Timers: the engine's tick, the dead link, idle and close deadlines,
    /// and the protocol's own; then settles.
    pub(super) fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        if self.ext.end.is_some() {
            return;
        }
        let now = self.tick(t);
        if self.engine.next_timeout(now).is_some_and(|d| d <= now) {
            self.engine.on_timeout(now);
            if self.engine.is_dead_link() {
                tracing::debug!("kcp: conversation {} has a dead link", self.engine.conv());
                self.ext
                    .set_end(Close::aborted(KCP, AbortReason::PeerAborted));
            }
        }
        if self.idle_deadline().is_some_and(|d| d <= now) {
            self.ext.set_end(Close::Timeout(Timeout::Idle));
        }
        if self.ext.closing.is_some_and(|d| d <= now) {
            self.ext.set_end(Close::Timeout(Timeout::CloseFlush));
        }
        if self.inner.next_deadline().is_some_and(|d| d <= now) {
            self.call(t, |p, v| p.on_deadline(v));
        } else {
            self.settle(t);
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        Some(after(self.ext.heard?, self.ext.limits.idle?))
    }

    /// The earliest of the engine's, the idle, the close and the protocol's
    /// deadlines; `None` once over.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.ext.end.is_some() {
            return None;
        }
        let now = self.ext.now?;
        [
            self.engine.next_timeout(now),
            self.idle_deadline(),
            self.ext.closing,
            self.inner.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Bytes held for output: not yet acknowledged, plus the protocol's.
    pub(super) fn buffered(&self) -> usize {
        queued(&self.engine, &self.ext) + self.inner.buffered()
    }
}
