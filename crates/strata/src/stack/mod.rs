//! [`Stack`]: the bottom slot of a stream stack, sans-IO.
//!
//! The tokio driver and the test kit both drive a `Stack`; it holds the
//! bottom protocol, the output queue, the read-pause stash and the settle
//! step, so the driver's own logic runs (and is tested) under virtual time.
//!
//! The stack is the bottom swap point: its view records a swap request (and
//! what follows an insert request) in the stack's cold part, and the settle
//! step applies it with the rules and code of
//! [`ProtocolSlot`](crate::ProtocolSlot), the swap point of every other
//! holder. Built into the view, it costs the hot path one branch per write
//! and nothing per connection until a swap is asked for.

use std::any::{Any, TypeId};
use std::io::IoSlice;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use crate::deadline::earliest;
use crate::outbuf::OutBuf;
use crate::qlog::{QlogTrace, TraceInfo, Vantage};
use crate::slot::{install, Deferred as Op, PendingSwap};
use crate::stats::Counters;
use crate::{
    AbortReason, Close, Introspect, LocalAddr, PeerAddr, StreamProtocol, StreamTransport,
    SwapError, SwapRequest, Timeout, Wake, WakeHub, WakeRoute,
};

/// The bottom slot of a stream stack: owns the bottom protocol and runs the
/// settle step after every callback.
///
/// The owner (the tokio driver, or the test kit) feeds it events and moves
/// its output; it never does I/O itself. After each `handle_*` call the owner:
///
/// 1. writes out [`io_slices`](Stack::io_slices) and reports the count with
///    [`consume`](Stack::consume);
/// 2. half-closes the socket when [`should_shutdown_write`](Stack::should_shutdown_write)
///    says so, and confirms with [`write_shutdown_done`](Stack::write_shutdown_done);
/// 3. reads only while [`wants_read`](Stack::wants_read);
/// 4. sleeps until input, [`next_deadline`](Stack::next_deadline) (then
///    [`handle_timeout`](Stack::handle_timeout)) or a wake
///    ([`wake_hub`](Stack::wake_hub), then [`handle_wakes`](Stack::handle_wakes));
/// 5. stops once [`finished`](Stack::finished) is `Some`: a clean close shuts
///    the socket down after the flush, any other reason resets it.
///
/// Time only moves forward: every `handle_*` takes `now`.
///
/// ```
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Upper;
/// impl StreamProtocol for Upper {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
///         t.write(&d.to_ascii_uppercase());
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let mut s = Stack::memory(Box::new(Upper));
/// let now = s.now();
/// s.handle_input(now, b"abc");
/// assert_eq!(s.take_output(now), b"ABC");
/// s.handle_eof(now);
/// assert!(s.finished().unwrap().is_clean());
/// ```
pub struct Stack {
    proto: Option<Box<dyn StreamProtocol>>,
    b: Bottom,
}

struct Bottom {
    cfg: Arc<StackConfig>,
    info: BottomInfo,
    now: Instant,
    out: OutBuf,
    read_paused: bool,
    eof_in: EofIn,
    eof_out_requested: bool,
    eof_out_sent: bool,
    write_paused: bool,
    hub: OnceLock<Arc<WakeHub>>,
    /// Keep the protocol after `connection_lost` ([`Stack::keep_protocol`]).
    keep_protocol: bool,
    /// Whether the bottom counts bytes ([`Stack::count_bytes`]); the
    /// counters are in the cold part, so a stack nobody observes holds
    /// nothing more than this flag.
    counting: bool,
    /// What most connections never need, allocated on first use: an idle
    /// connection's memory is a headline number.
    cold: Option<Box<Cold>>,
}

#[derive(Default)]
struct Cold {
    /// Input that arrived while reading was paused (or a swap was pending).
    stash: Vec<u8>,
    closing: Option<Instant>,
    abort: Option<Close>,
    swap: Option<PendingSwap>,
    finished: Option<Close>,
    /// Since when the transport below has taken no byte of the queued
    /// output (it took part of it, or none, and output is still waiting).
    /// The send-stall clock; kept here, not in the hot part, because only a
    /// connection whose socket buffer is full needs it.
    stalled_since: Option<Instant>,
    /// The protocol after the stack finished, when it is kept.
    retired: Option<Box<dyn StreamProtocol>>,
    /// What the bottom counted, while [`Bottom::counting`].
    counters: Counters,
    /// The connection's qlog trace ([`Stack::set_qlog`]).
    qlog: Option<QlogTrace>,
}

impl Bottom {
    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }
    /// The counters, when the stack counts (one branch when it does not).
    #[inline]
    fn counters(&mut self) -> Option<&mut Counters> {
        if self.counting {
            Some(&mut self.cold().counters)
        } else {
            None
        }
    }
    /// Records what is queued now, when the stack counts.
    #[inline]
    fn note_buffered(&mut self) {
        let n = self.out.len() as u64;
        if let Some(c) = self.counters() {
            c.buffered = n;
        }
    }
    fn stash_len(&self) -> usize {
        self.cold.as_ref().map_or(0, |c| c.stash.len())
    }
    fn take_stash(&mut self) -> Vec<u8> {
        self.cold
            .as_mut()
            .map(|c| std::mem::take(&mut c.stash))
            .unwrap_or_default()
    }
    fn closing(&self) -> Option<Instant> {
        self.cold.as_ref().and_then(|c| c.closing)
    }
    fn abort_pending(&self) -> bool {
        self.cold.as_ref().is_some_and(|c| c.abort.is_some())
    }
    fn take_abort(&mut self) -> Option<Close> {
        self.cold.as_mut().and_then(|c| c.abort.take())
    }
    fn set_abort(&mut self, why: Close) {
        let c = self.cold();
        if c.abort.is_none() {
            c.abort = Some(why);
        }
    }
    fn swap(&self) -> Option<&PendingSwap> {
        self.cold.as_ref().and_then(|c| c.swap.as_ref())
    }
    fn finished(&self) -> Option<&Close> {
        self.cold.as_ref().and_then(|c| c.finished.as_ref())
    }
    /// Frees the cold part once nothing in it is in use.
    fn tidy(&mut self) {
        if let Some(c) = &self.cold
            && !self.counting
            && c.stash.is_empty()
            && c.closing.is_none()
            && c.abort.is_none()
            && c.swap.is_none()
            && c.finished.is_none()
            && c.stalled_since.is_none()
            && c.qlog.is_none()
        {
            self.cold = None;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EofIn {
    No,
    Pending,
    Delivered,
}

impl Stack {
    /// A stack over a bottom transport described by `info`. Call
    /// [`start`](Stack::start) before anything else.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Instant;
    /// use strata::{BottomInfo, Stack, StackConfig, StreamProtocol, StreamTransport};
    /// struct Greet;
    /// impl StreamProtocol for Greet {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let now = Instant::now();
    /// let mut s = Stack::new(Box::new(Greet), BottomInfo::new("tcp"), Arc::new(StackConfig::default()), now);
    /// assert_eq!(s.pending_output(), 0); // nothing runs before `start`
    /// s.start(now);
    /// assert_eq!(s.take_output(now), b"hi");
    /// ```
    pub fn new(
        proto: Box<dyn StreamProtocol>,
        info: BottomInfo,
        cfg: Arc<StackConfig>,
        now: Instant,
    ) -> Stack {
        Stack {
            proto: Some(proto),
            b: Bottom {
                cfg,
                info,
                now,
                out: OutBuf::default(),
                read_paused: false,
                eof_in: EofIn::No,
                eof_out_requested: false,
                eof_out_sent: false,
                write_paused: false,
                hub: OnceLock::new(),
                keep_protocol: false,
                counting: false,
                cold: None,
            },
        }
    }

    /// Calls `connection_made`, then settles.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::{BottomInfo, Stack, StreamProtocol, StreamTransport};
    /// struct Greet;
    /// impl StreamProtocol for Greet {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"220 ready\r\n") }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let now = Instant::now();
    /// let mut s = Stack::new(Box::new(Greet), BottomInfo::new("tcp"), Default::default(), now);
    /// s.start(now);
    /// assert_eq!(s.pending_output(), 11);
    /// ```
    pub fn start(&mut self, now: Instant) {
        self.tick(now);
        if let Some(p) = self.proto.as_mut() {
            p.connection_made(&mut BottomView { b: &mut self.b });
        }
        self.settle();
    }

    /// Starts counting bytes: what arrives, what the protocol queued for
    /// the transport below (as every layer counts what it hands below), and
    /// what of it is still queued, answered as the bottom layer's
    /// [`Counters`] (`t.layer_stats()`). Off by default: an idle stack
    /// nobody observes holds no counters (they live beside the other
    /// rarely used state), and the hot path pays one branch.
    ///
    /// ```
    /// use strata::{BottomInfo, Stack, StreamProtocol, StreamTransport};
    /// struct Sink;
    /// impl StreamProtocol for Sink {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let now = std::time::Instant::now();
    /// let mut s = Stack::new(Box::new(Sink), BottomInfo::new("tcp"), Default::default(), now);
    /// s.count_bytes();
    /// s.start(now);
    /// s.handle_input(now, b"abc");
    /// let c = s.inspect(|t| t.layer_stats()[0].counters);
    /// assert_eq!(c.unwrap().bytes_in, 3);
    /// ```
    pub fn count_bytes(&mut self) {
        self.b.counting = true;
        self.b.cold();
    }

    /// Gives the connection a qlog trace: the bottom answers it as a
    /// capability (`t.get::<QlogTrace>()`), so every layer that emits qlog
    /// events (TLS, HTTP/2, the reliable mapping over a stream) writes
    /// into it. Call before [`start`](Stack::start): layers look it up in
    /// `connection_made`. Kept beside the rarely used state: a stack with
    /// no trace holds nothing more.
    ///
    /// ```
    /// use strata::qlog::{QlogEvent, QlogSink, QlogTrace};
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Nowhere;
    /// impl QlogSink for Nowhere { fn event(&self, _: &QlogEvent<'_>) {} }
    /// struct Sink;
    /// impl StreamProtocol for Sink {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Sink));
    /// s.set_qlog(QlogTrace::new(Nowhere));
    /// assert!(s.inspect(|t| t.get::<QlogTrace>().is_some()));
    /// ```
    pub fn set_qlog(&mut self, trace: QlogTrace) {
        self.b.cold().qlog = Some(trace);
    }

    /// Asks the configuration's tracer ([`StackConfig::qlog`]) for this
    /// connection's trace, as seen from `vantage`, and sets it
    /// ([`set_qlog`](Stack::set_qlog)); nothing without a tracer. The
    /// driver calls it before [`start`](Stack::start).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::qlog::{QlogTrace, QlogTracer, QlogEvent, QlogSink, Vantage};
    /// use strata::{BottomInfo, Stack, StackConfig, StreamProtocol, StreamTransport};
    /// struct Nowhere;
    /// impl QlogSink for Nowhere { fn event(&self, _: &QlogEvent<'_>) {} }
    /// struct Sink;
    /// impl StreamProtocol for Sink {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let qlog = Some(QlogTracer::new(|_| Some(QlogTrace::new(Nowhere))));
    /// let cfg = Arc::new(StackConfig { qlog, ..StackConfig::default() });
    /// let mut s = Stack::new(Box::new(Sink), BottomInfo::new("tcp"), cfg, std::time::Instant::now());
    /// s.qlog_from_config(Vantage::Server);
    /// assert!(s.inspect(|t| t.get::<QlogTrace>().is_some()));
    /// ```
    pub fn qlog_from_config(&mut self, vantage: Vantage) {
        let Some(tracer) = &self.b.cfg.qlog else {
            return;
        };
        let info = TraceInfo {
            vantage,
            peer: self.b.info.peer.as_ref().map(|p| p.0.clone()),
            protocol: self.b.info.name,
            now: self.b.now,
        };
        if let Some(trace) = tracer.trace(&info) {
            self.set_qlog(trace);
        }
    }

    /// The time of the last event.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Idle;
    /// # impl StreamProtocol for Idle {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut s = strata::Stack::memory(Box::new(Idle));
    /// let t0 = s.now();
    /// s.handle_timeout(t0 + Duration::from_secs(1));
    /// assert_eq!(s.now() - t0, Duration::from_secs(1));
    /// ```
    pub fn now(&self) -> Instant {
        self.b.now
    }

    fn tick(&mut self, now: Instant) {
        if now > self.b.now {
            self.b.now = now;
        }
    }

    /// Bytes arrived from the peer.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Echo;
    /// impl StreamProtocol for Echo {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_input(now, b"ping");
    /// assert_eq!(s.take_output(now), b"ping");
    /// ```
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.tick(now);
        if self.b.finished().is_some() || data.is_empty() {
            return;
        }
        if let Some(c) = self.b.counters() {
            c.received(data.len());
        }
        if self.b.read_paused || self.b.stash_len() > 0 || self.b.swap().is_some() {
            self.b.cold().stash.extend_from_slice(data);
        } else if let Some(p) = self.proto.as_mut() {
            p.data_received(&mut BottomView { b: &mut self.b }, data);
        }
        self.settle();
    }

    /// Bytes arrived from the peer, in an owned buffer: the protocol gets
    /// them through `data_received_bytes`, so it may keep them without a copy.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Echo;
    /// impl StreamProtocol for Echo {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    ///     // Forwards the owned buffer: no copy.
    ///     fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, d: Bytes) { t.write_bytes(d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_input_bytes(now, Bytes::from_static(b"ping"));
    /// assert_eq!(s.take_output(now), b"ping");
    /// ```
    pub fn handle_input_bytes(&mut self, now: Instant, data: Bytes) {
        self.tick(now);
        if self.b.finished().is_some() || data.is_empty() {
            return;
        }
        if let Some(c) = self.b.counters() {
            c.received(data.len());
        }
        if self.b.read_paused || self.b.stash_len() > 0 || self.b.swap().is_some() {
            self.b.cold().stash.extend_from_slice(&data);
        } else if let Some(p) = self.proto.as_mut() {
            p.data_received_bytes(&mut BottomView { b: &mut self.b }, data);
        }
        self.settle();
    }

    /// The peer half-closed (EOF).
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Bye;
    /// impl StreamProtocol for Bye {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"bye"); t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Bye));
    /// let now = s.now();
    /// s.handle_eof(now);
    /// assert!(s.finished().is_none()); // "bye" is not flushed yet
    /// assert_eq!(s.take_output(now), b"bye");
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    pub fn handle_eof(&mut self, now: Instant) {
        self.tick(now);
        if self.b.eof_in == EofIn::No {
            self.b.eof_in = EofIn::Pending;
        }
        self.settle();
    }

    /// The connection failed below (reset, I/O error).
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use strata::{Close, Stack, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Note(Option<Close>);
    /// impl StreamProtocol for Note {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn connection_lost(&mut self, why: &Close) { self.0 = Some(why.clone()) }
    /// }
    /// let mut s = Stack::memory(Box::new(Note::default()));
    /// s.keep_protocol();
    /// let now = s.now();
    /// s.handle_lost(now, Close::Io(ErrorKind::ConnectionReset));
    /// assert!(matches!(s.finished(), Some(Close::Io(ErrorKind::ConnectionReset))));
    /// let seen = &s.protocol::<Note>().unwrap().0;
    /// assert!(matches!(seen, Some(Close::Io(ErrorKind::ConnectionReset))));
    /// ```
    pub fn handle_lost(&mut self, now: Instant, why: Close) {
        self.tick(now);
        self.b.out.clear();
        self.finish(why);
    }

    /// Time passed: fires the close deadline and the protocol's deadline.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Tick(Option<Instant>);
    /// impl StreamProtocol for Tick {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
    ///         self.0 = Some(t.now() + Duration::from_secs(5));
    ///     }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn next_deadline(&self) -> Option<Instant> { self.0 }
    ///     fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
    ///         if self.0.is_some_and(|d| t.now() >= d) {
    ///             self.0 = None;
    ///             t.write(b"tick");
    ///         }
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(Tick(None)));
    /// let due = s.next_deadline().unwrap();
    /// s.handle_timeout(due);
    /// assert_eq!(s.take_output(due), b"tick");
    /// assert_eq!(s.next_deadline(), None);
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.b.finished().is_some() {
            return;
        }
        if let Some(d) = self.b.closing()
            && d <= now
        {
            self.b.out.clear();
            self.finish(Close::Timeout(Timeout::CloseFlush));
            return;
        }
        if self.stall_deadline().is_some_and(|d| d <= now) {
            self.b.out.clear();
            self.finish(Close::Timeout(Timeout::Stall));
            return;
        }
        if let Some(p) = self.proto.as_mut()
            && p.next_deadline().is_some_and(|d| d <= now)
        {
            p.on_deadline(&mut BottomView { b: &mut self.b });
        }
        self.settle();
    }

    /// The owner is draining: delivers `on_shutdown` (once), then settles.
    /// The owner aborts with [`AbortReason::Shutdown`] if the stack has not
    /// finished by its drain deadline.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Idle;
    /// impl StreamProtocol for Idle {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Idle));
    /// let now = s.now();
    /// s.handle_shutdown(now); // the default `on_shutdown` closes
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.tick(now);
        if self.b.finished().is_some() || self.b.closing().is_some() {
            return;
        }
        if let Some(p) = self.proto.as_mut() {
            p.on_shutdown(&mut BottomView { b: &mut self.b });
        }
        self.settle();
    }

    /// Delivers every pending wake along its route.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport, Wake, WakeRoute};
    /// #[derive(Default)]
    /// struct Woken { waker: Option<Wake>, wakes: usize }
    /// impl StreamProtocol for Woken {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { self.waker = Some(t.waker()) }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn on_wake(&mut self, _: &mut dyn StreamTransport, _: WakeRoute<'_>) { self.wakes += 1 }
    /// }
    /// let mut s = Stack::memory(Box::new(Woken::default()));
    /// let w = s.protocol::<Woken>().unwrap().waker.clone().unwrap();
    /// std::thread::spawn(move || w.wake()).join().unwrap();
    /// assert!(s.wake_hub().unwrap().is_pending());
    /// let now = s.now();
    /// s.handle_wakes(now);
    /// assert_eq!(s.protocol::<Woken>().unwrap().wakes, 1);
    /// ```
    pub fn handle_wakes(&mut self, now: Instant) {
        self.tick(now);
        let Some(hub) = self.b.hub.get().cloned() else {
            return;
        };
        for route in hub.take() {
            if self.b.finished().is_some() {
                return;
            }
            if let Some(p) = self.proto.as_mut() {
                p.on_wake(&mut BottomView { b: &mut self.b }, WakeRoute::new(&route));
            }
            self.settle();
        }
    }

    /// The wake hub, once any protocol asked for a waker (an idle stack that
    /// never did holds none).
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Idle;
    /// impl StreamProtocol for Idle {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let s = Stack::memory(Box::new(Idle));
    /// assert!(s.wake_hub().is_none()); // nobody asked for a waker
    /// ```
    pub fn wake_hub(&self) -> Option<&Arc<WakeHub>> {
        self.b.hub.get()
    }

    /// The earliest deadline of the stack: the protocol's, the close
    /// deadline and the send-stall deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{Stack, StackConfig, StreamProtocol, StreamTransport};
    /// struct Close1;
    /// impl StreamProtocol for Close1 {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"x"); t.close() }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let cfg = StackConfig { close_timeout: Duration::from_secs(3), ..StackConfig::default() };
    /// let s = Stack::memory_with(Box::new(Close1), cfg);
    /// // A graceful close waiting for its flush is bounded by the close deadline.
    /// assert_eq!(s.next_deadline(), Some(s.now() + Duration::from_secs(3)));
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.b.finished().is_some() {
            return None;
        }
        let p = self.proto.as_ref().and_then(|p| p.next_deadline());
        earliest(earliest(p, self.b.closing()), self.stall_deadline())
    }

    /// When queued output that nothing below takes ends the connection.
    fn stall_deadline(&self) -> Option<Instant> {
        let d = self.b.cfg.stall_timeout;
        if d.is_zero() || self.b.out.is_empty() {
            return None;
        }
        let since = self.b.cold.as_ref().and_then(|c| c.stalled_since);
        crate::deadline::after_opt(since, d)
    }

    /// True while the owner should read from the socket.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Slow;
    /// impl StreamProtocol for Slow {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.pause_reading() }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Slow));
    /// assert!(s.wants_read());
    /// let now = s.now();
    /// s.handle_input(now, b"a");
    /// assert!(!s.wants_read());
    /// assert!(s.is_read_paused());
    /// ```
    pub fn wants_read(&self) -> bool {
        self.b.finished().is_none()
            && !self.b.read_paused
            && self.b.stash_len() == 0
            && self.b.eof_in == EofIn::No
    }

    /// Bytes queued for the socket.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut s = Stack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_input(now, b"abc");
    /// assert_eq!(s.pending_output(), 3);
    /// ```
    pub fn pending_output(&self) -> usize {
        self.b.out.len()
    }

    /// Fills `dst` with the queued output, for one vectored write.
    ///
    /// ```
    /// use std::io::IoSlice;
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut s = Stack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_input(now, b"ab");
    /// s.handle_input(now, b"cd");
    /// let mut bufs = [IoSlice::new(&[]); 8];
    /// let n = s.io_slices(&mut bufs);
    /// let queued: Vec<u8> = bufs[..n].iter().flat_map(|b| b.iter().copied()).collect();
    /// assert_eq!(queued, b"abcd");
    /// ```
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.b.out.io_slices(dst)
    }

    /// `n` bytes of output were written; settles (a `resume_writing` edge, a
    /// finished graceful close). Output left over (the transport below took
    /// less than all of it, or nothing: `n == 0`, as after `WouldBlock`)
    /// starts the send-stall clock ([`StackConfig::stall_timeout`]); every
    /// byte taken restarts it, and an empty queue stops it.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut s = Stack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_input(now, b"abcd");
    /// s.consume(now, 3); // the socket took three bytes
    /// assert_eq!(s.take_output(now), b"d");
    /// ```
    pub fn consume(&mut self, now: Instant, n: usize) {
        self.tick(now);
        self.b.out.consume(n);
        self.b.note_buffered();
        let waiting = !self.b.out.is_empty() && !self.b.cfg.stall_timeout.is_zero();
        if waiting
            && (n > 0
                || self
                    .b
                    .cold
                    .as_ref()
                    .is_none_or(|c| c.stalled_since.is_none()))
        {
            let now = self.b.now;
            self.b.cold().stalled_since = Some(now);
        } else if !waiting && let Some(c) = self.b.cold.as_mut() {
            c.stalled_since = None;
        }
        self.settle();
    }

    /// Takes all queued output as if it had been written (test kit and docs).
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut s = Stack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_input(now, b"abc");
    /// assert_eq!(s.take_output(now), b"abc");
    /// assert_eq!(s.pending_output(), 0);
    /// ```
    pub fn take_output(&mut self, now: Instant) -> Vec<u8> {
        self.tick(now);
        let v = self.b.out.take_all();
        self.b.note_buffered();
        if let Some(c) = self.b.cold.as_mut() {
            c.stalled_since = None;
        }
        self.settle();
        v
    }

    /// True when the owner should half-close the socket now (EOF requested
    /// and everything before it flushed).
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Last;
    /// impl StreamProtocol for Last {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"end"); t.write_eof() }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Last));
    /// assert!(!s.should_shutdown_write()); // "end" goes first
    /// let now = s.now();
    /// assert_eq!(s.take_output(now), b"end");
    /// assert!(s.should_shutdown_write());
    /// s.write_shutdown_done(now);
    /// assert!(!s.should_shutdown_write());
    /// ```
    pub fn should_shutdown_write(&self) -> bool {
        self.b.finished().is_none()
            && self.b.eof_out_requested
            && !self.b.eof_out_sent
            && self.b.out.is_empty()
    }

    /// The owner half-closed the socket.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Half;
    /// impl StreamProtocol for Half {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Half));
    /// let now = s.now();
    /// assert!(s.should_shutdown_write());
    /// s.write_shutdown_done(now);
    /// s.handle_eof(now); // the peer finishes too
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    pub fn write_shutdown_done(&mut self, now: Instant) {
        self.tick(now);
        self.b.eof_out_sent = true;
        self.settle();
    }

    /// `Some` once the connection is over; `connection_lost` has then run.
    ///
    /// ```
    /// use strata::{AbortReason, Close, Stack, StreamProtocol, StreamTransport};
    /// struct Refuse;
    /// impl StreamProtocol for Refuse {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
    ///         t.abort(Close::aborted("refuse", AbortReason::Requested))
    ///     }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Refuse));
    /// assert!(s.finished().is_none());
    /// let now = s.now();
    /// s.handle_input(now, b"x");
    /// assert_eq!(s.finished().unwrap().layer(), Some("refuse"));
    /// ```
    pub fn finished(&self) -> Option<&Close> {
        self.b.finished()
    }

    /// Whether the read side is paused (for the owner's bookkeeping and tests).
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct OneAtATime;
    /// impl StreamProtocol for OneAtATime {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.pause_reading() }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(OneAtATime));
    /// let now = s.now();
    /// assert!(!s.is_read_paused());
    /// s.handle_input(now, b"a");
    /// assert!(s.is_read_paused());
    /// ```
    pub fn is_read_paused(&self) -> bool {
        self.b.read_paused
    }

    /// Whether the stack has delivered `pause_writing` without `resume_writing`.
    ///
    /// ```
    /// use strata::{Stack, StackConfig, StreamProtocol, StreamTransport};
    /// struct Flood;
    /// impl StreamProtocol for Flood {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(&[7; 100]) }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let cfg = StackConfig { high_water: 64, low_water: 16, ..StackConfig::default() };
    /// let mut s = Stack::memory_with(Box::new(Flood), cfg);
    /// assert!(s.is_write_paused());
    /// let now = s.now();
    /// s.take_output(now);
    /// assert!(!s.is_write_paused());
    /// ```
    pub fn is_write_paused(&self) -> bool {
        self.b.write_paused
    }

    /// The layer chain of the protocol's transport (just the bottom's name).
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Idle;
    /// # impl StreamProtocol for Idle {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let s = strata::Stack::memory(Box::new(Idle));
    /// assert_eq!(s.bottom_name(), "memory");
    /// ```
    pub fn bottom_name(&self) -> &'static str {
        self.b.info.name
    }

    /// The protocol of type `T` in this stack, for inspection: the bottom
    /// protocol, or one it wraps, found through
    /// [`StreamProtocol::inner_protocol`] (a `Box<dyn StreamProtocol>` or
    /// `Box<dyn StreamLayer>` held by a layer is looked into). A layer that
    /// does not answer `inner_protocol` hides what runs above it; a
    /// protocol held as `Box<T>` is found as `Box<T>`. After the stack
    /// finished the protocol is gone, unless [`keep_protocol`](Stack::keep_protocol)
    /// was called (the [`Pump`](crate::testing::Pump) does).
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Count(usize);
    /// impl StreamProtocol for Count {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len() }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Count::default()));
    /// s.keep_protocol();
    /// let now = s.now();
    /// s.handle_input(now, b"abcd");
    /// s.handle_eof(now);
    /// assert!(s.finished().is_some());
    /// assert_eq!(s.protocol::<Count>().unwrap().0, 4);
    /// ```
    pub fn protocol<T: StreamProtocol>(&self) -> Option<&T> {
        let retired = self.b.cold.as_ref().and_then(|c| c.retired.as_deref());
        let mut p: &dyn StreamProtocol = self.proto.as_deref().or(retired)?;
        // Each turn goes one layer (or one box) down: the chain is finite.
        loop {
            let any: &dyn Any = p;
            if let Some(found) = any.downcast_ref::<T>() {
                return Some(found);
            }
            p = if let Some(b) = any.downcast_ref::<Box<dyn StreamProtocol>>() {
                &**b
            } else if let Some(b) = any.downcast_ref::<Box<dyn crate::StreamLayer>>() {
                &**b
            } else {
                p.inner_protocol()?
            };
        }
    }

    /// Keeps the protocol after the stack finishes (by default it is
    /// dropped right after `connection_lost`), so that
    /// [`protocol`](Stack::protocol) can still read its results.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Quit;
    /// impl StreamProtocol for Quit {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Quit));
    /// s.keep_protocol();
    /// let now = s.now();
    /// s.handle_eof(now);
    /// assert!(s.finished().is_some());
    /// assert!(s.protocol::<Quit>().is_some());
    /// ```
    pub fn keep_protocol(&mut self) {
        self.b.keep_protocol = true;
    }

    /// Runs `f` with the transport the bottom protocol sees, for inspection.
    ///
    /// ```
    /// use strata::{PeerAddr, Addr, Stack, StreamProtocol, StreamTransport};
    /// struct Idle;
    /// impl StreamProtocol for Idle {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Idle));
    /// let peer = s.inspect(|t| t.get::<PeerAddr>().cloned());
    /// assert_eq!(peer, Some(PeerAddr(Addr::Memory(2))));
    /// assert_eq!(s.inspect(|t| t.layer_chain()), vec!["memory"]);
    /// ```
    pub fn inspect<R>(&mut self, f: impl FnOnce(&dyn StreamTransport) -> R) -> R {
        f(&BottomView { b: &mut self.b })
    }

    fn finish(&mut self, why: Close) {
        if self.b.finished().is_some() {
            return;
        }
        let c = self.b.cold();
        c.swap = None;
        c.stash = Vec::new();
        c.closing = None;
        c.abort = None;
        if !why.is_clean() {
            self.b.out.clear();
        }
        if let Some(mut p) = self.proto.take() {
            p.connection_lost(&why);
            if self.b.keep_protocol {
                self.b.cold().retired = Some(p);
            }
        }
        self.b.note_buffered();
        self.b.cold().finished = Some(why);
    }

    /// The settle step: loops until nothing changes. See the crate docs.
    #[inline]
    fn settle(&mut self) {
        if !self.settled() {
            self.settle_loop();
        }
    }

    /// Whether the settle loop would change nothing, in the common state
    /// after a callback: nothing cold in use (no stash, close, abort, swap
    /// or finish), no EOF to deliver or to finish on, and the output within
    /// the budget and on the current side of the watermarks. One call into
    /// the protocol (`buffered`) instead of the whole loop.
    #[inline]
    fn settled(&self) -> bool {
        let b = &self.b;
        if b.cold.is_some()
            || b.eof_in == EofIn::Pending
            || (b.eof_in == EofIn::Delivered && b.eof_out_sent)
        {
            return false;
        }
        let Some(p) = self.proto.as_ref() else {
            // Without a protocol and with nothing cold, the loop stops at once.
            return true;
        };
        let queued = b.out.len() + p.buffered();
        queued <= b.cfg.memory_budget
            && if b.write_paused {
                queued > b.cfg.low_water
            } else {
                queued < b.cfg.high_water
            }
    }

    fn settle_loop(&mut self) {
        loop {
            if self.b.finished().is_some() {
                return;
            }
            if let Some(why) = self.b.take_abort() {
                self.finish(why);
                return;
            }
            if self.b.swap().is_some_and(|s| s.req.is_some()) {
                self.do_swap();
                continue;
            }
            let Some(p) = self.proto.as_mut() else {
                return;
            };
            if !self.b.read_paused && self.b.stash_len() > 0 {
                let data = self.b.take_stash();
                p.data_received(&mut BottomView { b: &mut self.b }, &data);
                continue;
            }
            if !self.b.read_paused && self.b.eof_in == EofIn::Pending {
                self.b.eof_in = EofIn::Delivered;
                if !self.b.info.half_close.0 && self.b.eof_out_sent {
                    // Nothing can be written any more.
                    self.finish(Close::Done);
                    return;
                }
                p.eof_received(&mut BottomView { b: &mut self.b });
                continue;
            }
            let queued = self.b.out.len() + p.buffered();
            if self.b.closing().is_some() && queued == 0 {
                self.finish(Close::Done);
                return;
            }
            if self.b.eof_in == EofIn::Delivered && self.b.eof_out_sent {
                self.finish(Close::Done);
                return;
            }
            if queued + self.b.stash_len() > self.b.cfg.memory_budget {
                let limit = self.b.cfg.memory_budget;
                let layer = self.b.info.name;
                self.b
                    .set_abort(Close::aborted(layer, AbortReason::MemoryBudget { limit }));
                continue;
            }
            if !self.b.write_paused && queued >= self.b.cfg.high_water {
                self.b.write_paused = true;
                p.pause_writing(&mut BottomView { b: &mut self.b });
                continue;
            }
            if self.b.write_paused && queued <= self.b.cfg.low_water {
                self.b.write_paused = false;
                p.resume_writing(&mut BottomView { b: &mut self.b });
                continue;
            }
            self.b.tidy();
            return;
        }
    }

    fn do_swap(&mut self) {
        let Some(mut pending) = self.b.cold().swap.take() else {
            return;
        };
        let Some(req) = pending.req.take() else {
            return;
        };
        let Some(old) = self.proto.take() else {
            return;
        };
        let mut stash = std::mem::take(&mut pending.leftover);
        stash.append(&mut self.b.take_stash());
        self.b.cold().stash = stash;
        let read_paused = match req {
            // The read pause belongs to the protocol above; re-apply it
            // through the new layer, which decides what to do below.
            SwapRequest::InsertBelow(_) => std::mem::replace(&mut self.b.read_paused, false),
            SwapRequest::Replace(_) => {
                // The new protocol has not seen a pause edge: settle delivers
                // it afresh. A replaced protocol that saw EOF hands it on.
                self.b.write_paused = false;
                if self.b.eof_in == EofIn::Delivered {
                    self.b.eof_in = EofIn::Pending;
                }
                false
            }
        };
        let replay = std::mem::take(&mut pending.replay);
        let v = &mut BottomView { b: &mut self.b };
        self.proto = Some(install(old, req, replay, read_paused, false, v));
    }
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("bottom", &self.b.info.name)
            .field("pending_output", &self.b.out.len())
            .field("read_paused", &self.b.read_paused)
            .field("write_paused", &self.b.write_paused)
            .field("finished", &self.b.finished())
            .finish()
    }
}

mod config;
mod view;

pub use config::{BottomInfo, StackConfig};
use view::BottomView;

#[cfg(test)]
mod tests;
