//! [`ProtocolSlot`]: the swap point. Every holder of a boxed protocol (the
//! bottom [`Stack`](crate::Stack), a TLS layer, an HTTP/2 stream, the
//! reliable mapping) holds it in one, so a protocol at any depth can ask for
//! a [`SwapRequest`] and have it applied by the holder right below it.
//!
//! # How a swap is applied
//!
//! The holder calls its protocol through the slot. The slot presents the
//! holder's transport unchanged (it is transparent to capabilities and to
//! the layer chain) except that it answers
//! [`request_swap`](crate::StreamTransport::request_swap) itself, by
//! recording the request. When the callback returns, the slot applies the
//! request before the holder goes on, one branch when nothing is pending:
//!
//! * [`SwapRequest::InsertBelow`]: the new layer is built around the running
//!   protocol; what that protocol did after its request in the same callback
//!   (writes, EOF, close, read pause and resume) was recorded, not done, and
//!   is replayed through the new layer, after the read pause it held. The
//!   running protocol gets no second `connection_made`.
//! * [`SwapRequest::Replace`]: the old protocol is dropped (no
//!   `connection_lost`: the connection lives on), the new one gets
//!   `connection_made`, then a `pause_writing` edge if the holder's last edge
//!   was a pause (a fresh edge: the old protocol's is gone with it). A
//!   replaced protocol that had seen EOF hands it on: the new one gets it
//!   after the leftover.
//! * Either way the leftover input goes to the new protocol (the new layer,
//!   for an insert) before anything that arrives later, once its read side
//!   is not paused.
//!
//! The swap belongs to the holder of the requesting protocol: a TLS layer
//! applies a swap asked for from above it, and stays in place. A request
//! after `close` or `abort` gets [`SwapError::Closed`]; a second one in the
//! same callback [`SwapError::AlreadyPending`].
//!
//! The [`Stack`](crate::Stack) is the same swap point built into its bottom
//! view (its transport is the hot path of every connection), with the same
//! request, replay and install code as this type.

use std::any::{Any, TypeId};
use std::time::Instant;

use bytes::Bytes;

use crate::{
    Close, Introspect, StreamProtocol, StreamTransport, SwapError, SwapRequest, Wake, WakeRoute,
};

/// A swap point: owns a boxed stream protocol and applies the swaps it asks
/// for. A layer or multiplexer that holds a protocol chosen at run time holds
/// it in a `ProtocolSlot` and calls it like any protocol (the slot is one).
///
/// ```
/// use strata::{ProtocolSlot, Stack, StreamProtocol, StreamTransport, SwapRequest};
/// struct Shout;
/// impl StreamProtocol for Shout {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
///         t.write(&d.to_ascii_uppercase())
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// struct Sniff;
/// impl StreamProtocol for Sniff {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
///         t.request_swap(SwapRequest::Replace(Box::new(Shout)), d.to_vec()).unwrap();
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// // A slot inside a slot: the inner one applies the swap and stays.
/// let slot = ProtocolSlot::new(Box::new(Sniff));
/// let mut s = Stack::memory(Box::new(slot));
/// let now = s.now();
/// s.handle_input(now, b"hi");
/// assert_eq!(s.take_output(now), b"HI");
/// ```
pub struct ProtocolSlot {
    proto: Box<dyn StreamProtocol>,
    ctl: Ctl,
}

/// What the slot knows of its protocol's side of the transport.
#[derive(Default)]
struct Ctl {
    /// The protocol paused reading (and the transport below was told).
    read_paused: bool,
    /// The last write edge delivered was `pause_writing`.
    write_paused: bool,
    /// The protocol closed or aborted, or the connection was lost.
    closed: bool,
    /// The protocol has seen EOF.
    eof_seen: bool,
    /// Allocated only while a swap is pending or its leftover waits.
    cold: Option<Box<Cold>>,
}

#[derive(Default)]
struct Cold {
    swap: Option<PendingSwap>,
    /// Input for the new protocol, held while its read side is paused.
    stash: Vec<u8>,
    /// An EOF held behind the stash.
    eof: bool,
}

impl Ctl {
    #[inline]
    fn recording(&self) -> bool {
        self.cold
            .as_ref()
            .is_some_and(|c| c.swap.as_ref().is_some_and(|s| s.insert))
    }
    fn record(&mut self, op: Deferred) {
        if let Some(s) = self.cold.as_mut().and_then(|c| c.swap.as_mut()) {
            s.replay.push(op);
        }
    }
    fn holding(&self) -> bool {
        self.cold
            .as_ref()
            .is_some_and(|c| !c.stash.is_empty() || c.eof)
    }
}

impl ProtocolSlot {
    /// A slot holding `proto`.
    ///
    /// ```
    /// # use strata::{ProtocolSlot, Stack, StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len(); t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// // Count echoes what it reads; the slot is transparent until it swaps.
    /// let mut s = Stack::memory(Box::new(ProtocolSlot::new(Box::new(Count::default()))));
    /// let now = s.now();
    /// s.handle_input(now, b"abc");
    /// assert_eq!(s.take_output(now), b"abc");
    /// ```
    pub fn new(proto: Box<dyn StreamProtocol>) -> Self {
        ProtocolSlot {
            proto,
            ctl: Ctl::default(),
        }
    }

    /// A slot holding `proto`, boxed (a protocol that is already a
    /// `Box<dyn StreamProtocol>` is taken as it is, not boxed twice).
    ///
    /// ```
    /// use strata::{ProtocolSlot, StreamProtocol, StreamTransport};
    /// struct Nop;
    /// impl StreamProtocol for Nop {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let typed = ProtocolSlot::from_protocol(Nop);
    /// let boxed = ProtocolSlot::from_protocol(Box::new(Nop) as Box<dyn StreamProtocol>);
    /// # let _ = (typed, boxed);
    /// ```
    pub fn from_protocol<P: StreamProtocol + 'static>(proto: P) -> Self {
        let mut p = Some(proto);
        if let Some(b) = (&mut p as &mut dyn Any)
            .downcast_mut::<Option<Box<dyn StreamProtocol>>>()
            .and_then(Option::take)
        {
            return Self::new(b);
        }
        Self::new(p.map_or_else(
            || Box::new(Vacant) as Box<dyn StreamProtocol>,
            |p| Box::new(p),
        ))
    }

    /// The protocol held now (after a swap, the new one).
    ///
    /// ```
    /// # use strata::{ProtocolSlot, Stack, StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len(); t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use std::any::Any;
    /// let slot = ProtocolSlot::new(Box::new(Count(3)));
    /// let held: &dyn Any = slot.get();
    /// assert_eq!(held.downcast_ref::<Count>().map(|c| c.0), Some(3));
    /// ```
    pub fn get(&self) -> &dyn StreamProtocol {
        &*self.proto
    }

    /// The protocol held now, mutably.
    ///
    /// ```
    /// # use strata::{ProtocolSlot, Stack, StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len(); t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use std::any::Any;
    /// let mut slot = ProtocolSlot::new(Box::new(Count(0)));
    /// let held: &mut dyn Any = slot.get_mut();
    /// held.downcast_mut::<Count>().unwrap().0 = 9;
    /// assert_eq!((slot.get() as &dyn Any).downcast_ref::<Count>().unwrap().0, 9);
    /// ```
    pub fn get_mut(&mut self) -> &mut dyn StreamProtocol {
        &mut *self.proto
    }

    /// Runs `f` with the transport the held protocol sees, built over `t`,
    /// then applies what it asked for: a layer uses it for
    /// [`StreamLayer::with_inner_transport`](crate::StreamLayer::with_inner_transport).
    ///
    /// ```
    /// # use strata::{ProtocolSlot, Stack, StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len(); t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::testing::MemoryTransport;
    /// let mut slot = ProtocolSlot::new(Box::new(Count::default()));
    /// let mut t = MemoryTransport::new();
    /// slot.with_transport(&mut t, &mut |view| view.write(b"through the slot"));
    /// assert_eq!(t.take_written(), b"through the slot");
    /// ```
    pub fn with_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        f(&mut SlotView {
            below: t,
            ctl: &mut self.ctl,
        });
        self.settle(t);
    }

    /// Calls the protocol with the slot's view of `t`, then settles.
    #[inline]
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut dyn StreamProtocol, &mut dyn StreamTransport),
    ) {
        f(
            &mut *self.proto,
            &mut SlotView {
                below: t,
                ctl: &mut self.ctl,
            },
        );
        self.settle(t);
    }

    /// One branch when nothing is pending.
    #[inline]
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        if self.ctl.cold.is_some() {
            self.settle_loop(t);
        }
    }

    fn settle_loop(&mut self, t: &mut dyn StreamTransport) {
        loop {
            let Some(c) = self.ctl.cold.as_mut() else {
                return;
            };
            if let Some(pending) = c.swap.take() {
                self.apply(t, pending);
                continue;
            }
            let paused = self.ctl.read_paused;
            if !paused && !c.stash.is_empty() {
                let data = std::mem::take(&mut c.stash);
                let v = &mut SlotView {
                    below: t,
                    ctl: &mut self.ctl,
                };
                self.proto.data_received(v, &data);
                continue;
            }
            if !paused && c.eof {
                c.eof = false;
                let v = &mut SlotView {
                    below: t,
                    ctl: &mut self.ctl,
                };
                self.proto.eof_received(v);
                continue;
            }
            if c.stash.is_empty() && !c.eof {
                self.ctl.cold = None;
            }
            return;
        }
    }

    fn apply(&mut self, t: &mut dyn StreamTransport, pending: PendingSwap) {
        let PendingSwap {
            req,
            leftover,
            replay,
            ..
        } = pending;
        let Some(req) = req else {
            return;
        };
        let old = std::mem::replace(&mut self.proto, Box::new(Vacant));
        let eof_seen = self.ctl.eof_seen;
        let c = self.ctl.cold.get_or_insert_with(Box::default);
        let mut stash = leftover;
        stash.append(&mut c.stash);
        c.stash = stash;
        let read_paused = match req {
            SwapRequest::InsertBelow(_) => {
                // The pause belongs to the protocol above: lift it here and
                // re-apply it through the new layer, which decides below.
                let was = std::mem::replace(&mut self.ctl.read_paused, false);
                if was {
                    t.resume_reading();
                }
                was
            }
            SwapRequest::Replace(_) => {
                c.eof |= eof_seen;
                false
            }
        };
        let write_paused = self.ctl.write_paused;
        let v = &mut SlotView {
            below: t,
            ctl: &mut self.ctl,
        };
        self.proto = install(old, req, replay, read_paused, write_paused, v);
    }
}

impl From<Box<dyn StreamProtocol>> for ProtocolSlot {
    fn from(p: Box<dyn StreamProtocol>) -> Self {
        ProtocolSlot::new(p)
    }
}

impl StreamProtocol for ProtocolSlot {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.connection_made(v));
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.ctl.holding() {
            if let Some(c) = self.ctl.cold.as_mut() {
                c.stash.extend_from_slice(data);
            }
            return self.settle(t);
        }
        self.call(t, |p, v| p.data_received(v, data));
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        if self.ctl.holding() {
            return self.data_received(t, &data);
        }
        self.call(t, |p, v| p.data_received_bytes(v, data));
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.ctl.eof_seen = true;
        if self.ctl.holding() {
            if let Some(c) = self.ctl.cold.as_mut() {
                c.eof = true;
            }
            return self.settle(t);
        }
        self.call(t, |p, v| p.eof_received(v));
    }
    fn connection_lost(&mut self, why: &Close) {
        self.ctl.closed = true;
        self.ctl.cold = None;
        self.proto.connection_lost(why);
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.ctl.write_paused = true;
        self.call(t, |p, v| p.pause_writing(v));
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.ctl.write_paused = false;
        self.call(t, |p, v| p.resume_writing(v));
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.proto.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.on_deadline(v));
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.call(t, |p, v| p.on_wake(v, route));
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.on_shutdown(v));
    }
    fn buffered(&self) -> usize {
        self.proto.buffered()
    }
    /// The protocol in the slot now (after any swap), so that
    /// [`Stack::protocol`](crate::Stack::protocol) sees through the slot.
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&*self.proto)
    }
}

impl std::fmt::Debug for ProtocolSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolSlot")
            .field(
                "swap_pending",
                &self.ctl.cold.as_ref().is_some_and(|c| c.swap.is_some()),
            )
            .field("read_paused", &self.ctl.read_paused)
            .finish_non_exhaustive()
    }
}

/// The transport a slot's protocol sees: the holder's, with `request_swap`
/// answered by the slot. Transparent to capabilities and the layer chain.
struct SlotView<'a> {
    below: &'a mut dyn StreamTransport,
    ctl: &'a mut Ctl,
}

impl Introspect for SlotView<'_> {
    fn name(&self) -> &'static str {
        self.below.name()
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        self.below.local_capability(id)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        self.below.below()
    }
}

impl StreamTransport for SlotView<'_> {
    fn write(&mut self, data: &[u8]) {
        if self.ctl.recording() {
            return self
                .ctl
                .record(Deferred::Write(Bytes::copy_from_slice(data)));
        }
        self.below.write(data);
    }
    fn write_bytes(&mut self, data: Bytes) {
        if self.ctl.recording() {
            return self.ctl.record(Deferred::Write(data));
        }
        self.below.write_bytes(data);
    }
    fn write_eof(&mut self) {
        if self.ctl.recording() {
            return self.ctl.record(Deferred::WriteEof);
        }
        self.below.write_eof();
    }
    fn close(&mut self) {
        if self.ctl.recording() {
            return self.ctl.record(Deferred::Close);
        }
        self.ctl.closed = true;
        self.below.close();
    }
    fn abort(&mut self, why: Close) {
        self.ctl.closed = true;
        self.below.abort(why);
    }
    fn pause_reading(&mut self) {
        if self.ctl.recording() {
            return self.ctl.record(Deferred::PauseReading);
        }
        self.ctl.read_paused = true;
        self.below.pause_reading();
    }
    fn resume_reading(&mut self) {
        if self.ctl.recording() {
            return self.ctl.record(Deferred::ResumeReading);
        }
        self.ctl.read_paused = false;
        self.below.resume_reading();
    }
    fn buffered(&self) -> usize {
        let replay = self
            .ctl
            .cold
            .as_ref()
            .and_then(|c| c.swap.as_ref())
            .map_or(0, PendingSwap::replay_len);
        self.below.buffered() + replay
    }
    fn writable(&self) -> bool {
        self.below.writable()
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker()
    }
    fn request_swap(&mut self, req: SwapRequest, leftover: Vec<u8>) -> Result<(), SwapError> {
        if self.ctl.closed {
            return Err(SwapError::Closed);
        }
        let c = self.ctl.cold.get_or_insert_with(Box::default);
        if c.swap.is_some() {
            return Err(SwapError::AlreadyPending);
        }
        c.swap = Some(PendingSwap::new(req, leftover));
        Ok(())
    }
    fn control(&mut self, call: crate::Call<'_>) {
        self.below.control(call)
    }
}

/// Stands in for the protocol while a swap moves it.
struct Vacant;

impl StreamProtocol for Vacant {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// A swap asked for and not yet applied, with what the requesting protocol
/// did after an insert-below request (to go through the new layer).
pub(crate) struct PendingSwap {
    pub(crate) req: Option<SwapRequest>,
    pub(crate) leftover: Vec<u8>,
    pub(crate) replay: Vec<Deferred>,
    pub(crate) insert: bool,
}

impl PendingSwap {
    pub(crate) fn new(req: SwapRequest, leftover: Vec<u8>) -> Self {
        let insert = matches!(req, SwapRequest::InsertBelow(_));
        PendingSwap {
            req: Some(req),
            leftover,
            replay: Vec::new(),
            insert,
        }
    }

    /// Bytes written after an insert request, waiting for the new layer.
    pub(crate) fn replay_len(&self) -> usize {
        self.replay
            .iter()
            .map(|o| {
                if let Deferred::Write(d) = o {
                    d.len()
                } else {
                    0
                }
            })
            .sum()
    }
}

/// What a protocol did after asking for an insert, replayed through the new layer.
pub(crate) enum Deferred {
    Write(Bytes),
    WriteEof,
    Close,
    PauseReading,
    ResumeReading,
}

/// Puts the requested protocol in place of `old`, over `t` (the transport
/// the holder presents, with its own pause state already handed over), and
/// returns it. Shared by the stack and [`ProtocolSlot`]: one set of rules.
pub(crate) fn install(
    old: Box<dyn StreamProtocol>,
    req: SwapRequest,
    mut replay: Vec<Deferred>,
    read_paused: bool,
    write_paused: bool,
    t: &mut dyn StreamTransport,
) -> Box<dyn StreamProtocol> {
    match req {
        SwapRequest::InsertBelow(build) => {
            let mut layer = build(old);
            layer.with_inner_transport(t, &mut |v| {
                if read_paused {
                    v.pause_reading();
                }
                for op in replay.drain(..) {
                    match op {
                        Deferred::Write(d) => v.write_bytes(d),
                        Deferred::WriteEof => v.write_eof(),
                        Deferred::Close => v.close(),
                        Deferred::PauseReading => v.pause_reading(),
                        Deferred::ResumeReading => v.resume_reading(),
                    }
                }
            });
            layer
        }
        SwapRequest::Replace(mut new) => {
            drop(old);
            new.connection_made(t);
            if write_paused {
                new.pause_writing(t);
            }
            new
        }
    }
}
