//! One conversation: the engine, the hosted protocol, the `kcp` view and
//! the settle step. Shared by [`KcpStream`](super::KcpStream) and the
//! children of [`KcpListener`](super::KcpListener).

use std::any::{Any, TypeId};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{half_close, KcpCounters, KcpStreamConfig, KCP};
use crate::deadline::after;
use crate::reliable::kcp::Kcp;
use crate::{
    AbortReason, Close, DatagramTransport, HalfClose, Introspect, PeerAddr, StreamProtocol,
    StreamTransport, Timeout, Transmit, Wake,
};

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

/// A conversation's state apart from the engine and the protocol (so that
/// the view can borrow the three separately).
pub(super) struct State {
    limits: Limits,
    /// Where datagrams go; `None`: the connected peer.
    pub(super) dest: Option<SocketAddr>,
    /// The peer's address, answered as a capability.
    pub(super) peer: Option<PeerAddr>,
    /// A listener child's hop in wake routes.
    pub(super) wake_id: Option<u64>,
    pub(super) counters: Arc<KcpCounters>,
    /// The transport below is over its high-water mark.
    pub(super) below_paused: bool,
    /// The conversation is over; the owner acts on it (and calls the
    /// protocol no more, except `connection_lost`).
    pub(super) end: Option<Close>,
    /// The last time seen (for `next_deadline`, which gets no transport).
    now: Option<Instant>,
    /// The protocol got `connection_made` (so it gets `connection_lost`).
    started: bool,
    lost: bool,
    read_paused: bool,
    /// Our own write-pause source: over `high` until back at `low`.
    over_high: bool,
    /// The edge last delivered to the protocol.
    delivered_pause: bool,
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
}

impl State {
    fn set_end(&mut self, why: Close) {
        if self.end.is_none() {
            self.end = Some(why);
        }
    }
}

/// One conversation.
pub(super) struct Conn<P> {
    pub(super) inner: P,
    pub(super) kcp: Kcp,
    pub(super) st: State,
    /// Reused buffers: bytes received, one datagram to send.
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl<P: StreamProtocol> Conn<P> {
    pub(super) fn new(
        inner: P,
        kcp: Kcp,
        cfg: &KcpStreamConfig,
        counters: Arc<KcpCounters>,
    ) -> Self {
        Conn {
            inner,
            kcp,
            st: State {
                limits: Limits {
                    high: cfg.high_water,
                    low: cfg.low_water.min(cfg.high_water),
                    budget: cfg.memory_budget,
                    idle: cfg.idle_timeout,
                    close: cfg.close_timeout,
                    fin: cfg.fin,
                },
                dest: None,
                peer: None,
                wake_id: None,
                counters,
                below_paused: false,
                end: None,
                now: None,
                started: false,
                lost: false,
                read_paused: false,
                over_high: false,
                delivered_pause: false,
                overflow: Vec::new(),
                heard: None,
                closing: None,
                fin_asked: false,
                peer_fin: false,
                eof_refused: false,
            },
            rx: Vec::new(),
            tx: Vec::new(),
        }
    }

    fn tick(&mut self, t: &dyn DatagramTransport) -> Instant {
        let now = t.now();
        let now = self.st.now.map_or(now, |n| n.max(now));
        self.st.now = Some(now);
        now
    }

    /// Delivers `connection_made`, then settles.
    pub(super) fn start(&mut self, t: &mut dyn DatagramTransport) {
        let now = self.tick(t);
        self.st.heard = Some(now);
        self.st.started = true;
        self.call(t, |p, v| p.connection_made(v));
    }

    /// Feeds one datagram to the engine (the caller settles after the batch).
    pub(super) fn input(&mut self, t: &mut dyn DatagramTransport, data: &[u8]) {
        if self.st.end.is_some() {
            return;
        }
        let now = self.tick(t);
        match self.kcp.input(now, data) {
            Ok(()) => self.st.heard = Some(now),
            Err(e) => {
                tracing::debug!("kcp: dropping a datagram: {e}");
                KcpCounters::bump(&self.st.counters.bad);
            }
        }
    }

    /// Calls the protocol with the `kcp` view, then settles.
    pub(super) fn call(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        if self.st.end.is_some() {
            return;
        }
        self.tick(t);
        f(
            &mut self.inner,
            &mut KcpView {
                below: t,
                st: &mut self.st,
                kcp: &mut self.kcp,
            },
        );
        self.settle(t);
    }

    /// Timers: the engine's tick, the dead link, idle and close deadlines,
    /// and the protocol's own; then settles.
    pub(super) fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        if self.st.end.is_some() {
            return;
        }
        let now = self.tick(t);
        if self.kcp.next_timeout(now).is_some_and(|d| d <= now) {
            self.kcp.on_timeout(now);
            if self.kcp.is_dead_link() {
                tracing::debug!("kcp: conversation {} has a dead link", self.kcp.conv());
                self.st
                    .set_end(Close::aborted(KCP, AbortReason::PeerAborted));
            }
        }
        if self.idle_deadline().is_some_and(|d| d <= now) {
            self.st.set_end(Close::Timeout(Timeout::Idle));
        }
        if self.st.closing.is_some_and(|d| d <= now) {
            self.st.set_end(Close::Timeout(Timeout::CloseFlush));
        }
        if self.inner.next_deadline().is_some_and(|d| d <= now) {
            self.call(t, |p, v| p.on_deadline(v));
        } else {
            self.settle(t);
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        Some(after(self.st.heard?, self.st.limits.idle?))
    }

    /// The earliest of the engine's, the idle, the close and the protocol's
    /// deadlines; `None` once over.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.st.end.is_some() {
            return None;
        }
        let now = self.st.now?;
        [
            self.kcp.next_timeout(now),
            self.idle_deadline(),
            self.st.closing,
            self.inner.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The transport below is gone: the protocol's `connection_lost`, once.
    pub(super) fn lost(&mut self, why: &Close) {
        self.st.set_end(why.clone());
        self.st.overflow = Vec::new();
        if self.st.started && !self.st.lost {
            self.st.lost = true;
            self.inner.connection_lost(why);
        }
    }

    /// Bytes held for output: not yet acknowledged, plus the protocol's.
    pub(super) fn buffered(&self) -> usize {
        self.kcp.buffered() + self.st.overflow.len() + self.inner.buffered()
    }

    /// The settle step (see the module documentation), then sends what the
    /// engine has ready.
    pub(super) fn settle(&mut self, t: &mut dyn DatagramTransport) {
        while self.st.end.is_none() {
            self.pump();
            if !self.st.read_paused {
                self.rx.clear();
                match self.kcp.recv(&mut self.rx) {
                    Some(0) => {
                        if self.st.limits.fin && self.kcp.end_received() && !self.st.peer_fin {
                            self.st.peer_fin = true;
                            let mut view = KcpView {
                                below: t,
                                st: &mut self.st,
                                kcp: &mut self.kcp,
                            };
                            self.inner.eof_received(&mut view);
                        }
                        continue;
                    }
                    Some(_) => {
                        let mut view = KcpView {
                            below: t,
                            st: &mut self.st,
                            kcp: &mut self.kcp,
                        };
                        self.inner.data_received(&mut view, &self.rx);
                        continue;
                    }
                    None => {}
                }
            }
            let queued = self.kcp.buffered() + self.st.overflow.len();
            if !self.st.over_high && queued >= self.st.limits.high {
                self.st.over_high = true;
            } else if self.st.over_high && queued <= self.st.limits.low {
                self.st.over_high = false;
            }
            let pause = self.st.over_high || self.st.below_paused;
            if pause != self.st.delivered_pause {
                self.st.delivered_pause = pause;
                let mut view = KcpView {
                    below: t,
                    st: &mut self.st,
                    kcp: &mut self.kcp,
                };
                if pause {
                    self.inner.pause_writing(&mut view);
                } else {
                    self.inner.resume_writing(&mut view);
                }
                continue;
            }
            if self.st.fin_asked && self.st.peer_fin && self.st.closing.is_none() {
                // Both ends asked for the end: waiting for our marker's
                // acknowledgement is bounded like a close.
                self.st.closing = self.st.now.map(|n| after(n, self.st.limits.close));
            }
            let flushed = queued == 0 && self.kcp.all_acked();
            if self.st.closing.is_some() && flushed {
                self.st.set_end(if self.st.eof_refused {
                    let e = crate::reliable::kcp::KcpError::NoHalfClose;
                    Close::aborted(KCP, AbortReason::layer(e))
                } else {
                    Close::Done
                });
            }
            break;
        }
        if self.st.limits.fin && matches!(self.st.end, Some(Close::Done)) {
            // The last acknowledgement (of the peer's end marker) leaves now:
            // no tick comes after the end.
            self.kcp.flush_acks();
        }
        if self.rx.capacity() > 2 * self.kcp.mss() * usize::from(self.kcp.config().rcv_wnd) {
            self.rx = Vec::new();
        }
        self.flush(t);
    }

    /// Moves written bytes kept over the engine's send buffer into it,
    /// then the end marker once they all are.
    fn pump(&mut self) {
        if !self.st.overflow.is_empty() {
            let n = self.kcp.send(&self.st.overflow);
            self.st.overflow.drain(..n);
            if self.st.overflow.is_empty() {
                self.st.overflow = Vec::new();
            }
        }
        if self.st.fin_asked && self.st.overflow.is_empty() {
            self.kcp.send_end();
        }
    }

    /// Sends every datagram the engine has ready (unless aborted).
    fn flush(&mut self, t: &mut dyn DatagramTransport) {
        if self.st.end.as_ref().is_some_and(|e| !e.is_clean()) {
            return;
        }
        let Some(now) = self.st.now else {
            return;
        };
        while self.kcp.poll_transmit(now, &mut self.tx) {
            t.send(&Transmit {
                destination: self.st.dest,
                ..Transmit::connected(&self.tx)
            });
        }
    }
}

/// The `kcp` view: the stream transport the hosted protocol sees.
struct KcpView<'a> {
    below: &'a mut dyn DatagramTransport,
    st: &'a mut State,
    kcp: &'a mut Kcp,
}

impl KcpView<'_> {
    /// Flush, then end (bounded by `close_timeout`); the end marker goes
    /// too when it is on.
    fn start_close(&mut self) {
        if self.st.end.is_none() && self.st.closing.is_none() {
            let now = self.below.now();
            self.st.closing = Some(after(now, self.st.limits.close));
            self.st.fin_asked |= self.st.limits.fin;
        }
    }

    /// Writes are taken: not ended, not closing, no end marker asked for.
    fn open(&self) -> bool {
        self.st.end.is_none() && self.st.closing.is_none() && !self.st.fin_asked
    }

    fn queued(&self) -> usize {
        self.kcp.buffered() + self.st.overflow.len()
    }
}

impl Introspect for KcpView<'_> {
    fn name(&self) -> &'static str {
        KCP
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<HalfClose>() {
            return Some(half_close(self.st.limits.fin) as &dyn Any);
        }
        if id == TypeId::of::<PeerAddr>() {
            return self.st.peer.as_ref().map(|p| p as &dyn Any);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for KcpView<'_> {
    fn write(&mut self, data: &[u8]) {
        if data.is_empty() || !self.open() {
            return;
        }
        let rest = if self.st.overflow.is_empty() {
            let n = self.kcp.send(data);
            data.get(n..).unwrap_or_default()
        } else {
            data
        };
        if rest.is_empty() {
            return;
        }
        if self.queued() + rest.len() > self.st.limits.budget {
            let limit = self.st.limits.budget;
            tracing::warn!("kcp: the protocol wrote past the memory budget of {limit} bytes");
            self.st
                .set_end(Close::aborted(KCP, AbortReason::MemoryBudget { limit }));
            return;
        }
        self.st.overflow.extend_from_slice(rest);
    }

    /// With the end marker: sends it after what was written and keeps
    /// reading. Without: KCP cannot half-close, so this flushes, then ends
    /// the conversation with `KcpError::NoHalfClose` (see the module
    /// documentation).
    fn write_eof(&mut self) {
        if !self.open() {
            return;
        }
        if self.st.limits.fin {
            self.st.fin_asked = true;
        } else {
            self.st.eof_refused = true;
            self.start_close();
        }
    }

    /// Flushes, then ends with `Close::Done`. After a `write_eof` without
    /// the end marker it withdraws the error: a protocol that closes does
    /// not expect to keep reading.
    fn close(&mut self) {
        self.st.eof_refused = false;
        self.start_close();
    }

    fn abort(&mut self, why: Close) {
        self.st.overflow = Vec::new();
        self.st.set_end(why);
    }

    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }

    fn resume_reading(&mut self) {
        self.st.read_paused = false;
    }

    fn buffered(&self) -> usize {
        self.queued() + self.below.buffered()
    }

    fn writable(&self) -> bool {
        self.open() && self.queued() < self.st.limits.high && self.below.writable()
    }

    fn now(&self) -> Instant {
        self.below.now()
    }

    fn waker(&self) -> Wake {
        let w = self.below.waker();
        match self.st.wake_id {
            Some(id) => w.child(id),
            None => w,
        }
    }
}
