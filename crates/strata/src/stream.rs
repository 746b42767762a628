//! The stream family: ordered, reliable bytes with no boundaries.
//!
//! # The driving contract
//!
//! * **Context passing.** A protocol receives its transport as an argument on
//!   every call and keeps no pointer to it. A layer owns its inner protocol and,
//!   when it calls up, builds a short-lived *view*: a value that implements
//!   [`StreamTransport`] over the layer's own state and the transport below.
//! * **The owner rule.** Only the owner of a protocol calls it (the driver owns
//!   the bottom protocol, a layer its inner one, a multiplexer its children),
//!   one callback at a time. A view never calls up: the protocol is borrowed
//!   while it runs.
//! * **The settle step.** After *every* callback the owner loops until nothing
//!   changes, doing what could not be done during the callback: a requested
//!   layer swap (every holder of a boxed protocol is a swap point, see
//!   [`ProtocolSlot`](crate::ProtocolSlot)), input stashed while reading was paused (and a stashed EOF),
//!   the `pause_writing`/`resume_writing` edges, the memory budget check, and
//!   removal of finished children. Edges are therefore never delivered from
//!   inside `write`; a protocol that writes in a loop checks the level
//!   [`StreamTransport::writable`]. [`Stack`](crate::Stack) is the bottom
//!   slot that does this for the driver and for the test kit.
//! * **Time** is `t.now()`, supplied by the driver (or a virtual clock). A
//!   protocol asks to be called back with `next_deadline`, which a layer
//!   composes as the minimum of its own and its inner's.
//! * **Bad input** ends in a typed [`Close`] and a clean close,
//!   never a panic.

use std::time::Instant;

use bytes::Bytes;

use crate::{Close, Introspect, Wake, WakeRoute};

/// The transport a stream protocol writes to and controls: the layer below, as
/// seen from above.
///
/// Writes never block: they are buffered by the stack. Back-pressure is the
/// pair of edges `pause_writing`/`resume_writing` on the protocol, and the
/// level [`writable`](StreamTransport::writable) here.
///
/// ```
/// use strata::{StreamTransport, testing::MemoryTransport};
/// let mut t = MemoryTransport::new();
/// t.write(b"hello");
/// assert_eq!(t.buffered(), 5);
/// assert_eq!(t.take_written(), b"hello");
/// ```
pub trait StreamTransport: Introspect {
    /// Queues bytes for the peer. Never blocks; ignored after `close`/`abort`.
    fn write(&mut self, data: &[u8]);
    /// Queues owned bytes; layers that can keep them without copying do.
    fn write_bytes(&mut self, data: Bytes) {
        self.write(&data);
    }
    /// Half-closes: the peer sees EOF once the queued bytes are sent, and we
    /// keep reading. Where [`HalfClose`](crate::HalfClose) is false it closes
    /// both directions instead.
    fn write_eof(&mut self);
    /// Flushes what is queued, then closes; bounded by the stack's close
    /// deadline, after which the connection is aborted with
    /// `Close::Timeout(Timeout::CloseFlush)`.
    fn close(&mut self);
    /// Drops the connection now, discarding buffers; `why` reaches every
    /// layer's `connection_lost` and, where the wire can say so, the peer.
    fn abort(&mut self, why: Close);
    /// Stops delivering `data_received` until `resume_reading`. Input that
    /// still arrives is stashed (and counts toward the memory budget); the
    /// layers below turn the pause into the peer's flow control.
    fn pause_reading(&mut self);
    /// Resumes delivery; stashed input is delivered in the next settle step.
    fn resume_reading(&mut self);
    /// Bytes accepted but not yet sent, by this layer and every layer below.
    fn buffered(&self) -> usize;
    /// The level form of write back-pressure, merged down the stack: false
    /// once the stack is at or over its high-water mark.
    fn writable(&self) -> bool;
    /// The current time, from the driver (or the test kit's virtual clock).
    fn now(&self) -> Instant;
    /// A handle that reaches this protocol's `on_wake` from any thread.
    fn waker(&self) -> Wake;
    /// Asks the owner of this protocol's slot to swap layers after the current
    /// callback; `leftover` is input read but not consumed. The holder right
    /// below the requesting protocol applies it (the stack, a TLS layer, an
    /// HTTP/2 stream: every [`ProtocolSlot`](crate::ProtocolSlot)); the
    /// layers below it stay. Layers that hold their inner protocol by type
    /// answer [`SwapError::Unsupported`]. See the
    /// [`slot` rules](crate::ProtocolSlot) for what the hand-over carries.
    fn request_swap(&mut self, req: SwapRequest, leftover: Vec<u8>) -> Result<(), SwapError> {
        let _ = (req, leftover);
        Err(SwapError::Unsupported { layer: self.name() })
    }
    /// Answers a typed request ([`Control`](crate::Control)) from the
    /// protocol right above, the mutable counterpart of a capability: an
    /// HTTP exchange takes its response head this way, so a request handler
    /// stays an ordinary stream protocol. A transport that knows the
    /// request's type answers it with [`Call::answer`](crate::Call::answer);
    /// the default knows none. Layers do not forward it: it is for the
    /// transport the protocol sits on. Protocols ask with
    /// `t.ask(req)` (see [`control`](crate::control)).
    ///
    /// ```
    /// use strata::{Control, StreamTransport, testing::MemoryTransport};
    /// struct Ping;
    /// impl Control for Ping { type Reply = (); }
    /// let mut t = MemoryTransport::new();
    /// let t: &mut dyn StreamTransport = &mut t;
    /// assert_eq!(t.ask(Ping), None);
    /// ```
    fn control(&mut self, call: crate::Call<'_>) {
        let _ = call;
    }
}

impl<'a> dyn StreamTransport + 'a {
    /// Looks a capability up through the stack, top layer first.
    ///
    /// ```
    /// use strata::{StreamTransport, PeerAddr, Addr, testing::MemoryTransport};
    /// let t = MemoryTransport::new().with_peer(Addr::Memory(2));
    /// let t: &dyn StreamTransport = &t;
    /// assert_eq!(t.get::<PeerAddr>(), Some(&PeerAddr(Addr::Memory(2))));
    /// ```
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        (self as &dyn Introspect).get::<T>()
    }

    /// The names of the layers, top first.
    pub fn layer_chain(&self) -> Vec<&'static str> {
        (self as &dyn Introspect).layer_chain()
    }
}

/// A stream protocol: the code that reacts to a byte stream. A layer is a
/// stream protocol to the transport below it.
///
/// See the [module documentation](self) for the calling contract. Methods
/// with defaults may be left alone; `data_received` and `eof_received` may
/// not (an HTTP handler answers after EOF, so ignoring it silently is a bug).
///
/// ```
/// use strata::{StreamProtocol, StreamTransport, testing::MemoryTransport, Stack};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) { t.write(data) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let mut stack = Stack::memory(Box::new(Echo));
/// let now = stack.now();
/// stack.handle_input(now, b"ping");
/// assert_eq!(stack.take_output(now), b"ping");
/// ```
///
/// Every protocol is [`Any`](std::any::Any) (so `'static`), so that a test
/// or an owner can reach it by type once it runs in a stack:
/// [`Stack::protocol`](crate::Stack::protocol), through the layers that
/// answer [`inner_protocol`](StreamProtocol::inner_protocol).
pub trait StreamProtocol: std::any::Any + Send {
    /// The transport is ready; called once, before any other callback.
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// Bytes arrived.
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]);
    /// Bytes arrived, owned. A protocol that keeps or forwards what it reads
    /// (an echo, a relay) overrides this and passes `data` on with
    /// [`write_bytes`](StreamTransport::write_bytes): no copy. The default
    /// lends them to [`data_received`](StreamProtocol::data_received). Only
    /// the bottom slot calls it (the driver reads into owned buffers); layers
    /// call their inner protocol's `data_received`.
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.data_received(t, &data)
    }
    /// The peer will send nothing more. Writing is still allowed where the
    /// transport half-closes; close when done.
    fn eof_received(&mut self, t: &mut dyn StreamTransport);
    /// The connection is gone; called once, last.
    fn connection_lost(&mut self, why: &Close) {
        let _ = why;
    }
    /// Edge: the stack crossed its high-water mark. Delivered from settle.
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// Edge: the stack drained to its low-water mark. Delivered from settle.
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// When this protocol (and, for a layer, its inner one) next wants
    /// `on_deadline`: a layer returns the minimum of its own and its inner's.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// A deadline returned by `next_deadline` has passed (`t.now()` tells by
    /// how much). Spurious calls are allowed: check your timers.
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// A [`Wake`] handle was woken. A multiplexer takes `route.next_hop()` and
    /// calls that child only; other layers pass the route on unchanged.
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        let _ = (t, route);
    }
    /// The owner is shutting down gracefully (a server draining): finish what
    /// is in flight and close. The default closes the transport; an HTTP/2
    /// connection sends GOAWAY instead. A layer forwards it to its inner
    /// protocol. After the drain deadline the owner aborts with
    /// [`AbortReason::Shutdown`](crate::AbortReason::Shutdown).
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    /// Bytes this protocol holds for output (its own queue and its inner's):
    /// counted with the bottom buffer for the stack's watermarks and budget.
    fn buffered(&self) -> usize {
        0
    }
    /// The protocol this one wraps, if it is a layer holding one: what
    /// [`Stack::protocol`](crate::Stack::protocol) walks to find a protocol
    /// by type under layers (the application under TLS). For inspection
    /// only, never called by the stack on a hot path. The default is `None`:
    /// a layer that does not answer hides what runs above it.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct App { seen: usize }
    /// impl StreamProtocol for App {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.seen += d.len() }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// /// A pass-through layer (a real one presents its own view to `inner`).
    /// struct Wrap(App);
    /// impl StreamProtocol for Wrap {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0.data_received(t, d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { self.0.eof_received(t) }
    ///     fn inner_protocol(&self) -> Option<&dyn StreamProtocol> { Some(&self.0) }
    /// }
    /// let mut s = Stack::memory(Box::new(Wrap(App { seen: 0 })));
    /// let now = s.now();
    /// s.handle_input(now, b"abc");
    /// assert_eq!(s.protocol::<App>().unwrap().seen, 3);
    /// ```
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        None
    }
}

macro_rules! forward_stream_protocol {
    ($($t:tt)*) => {
        $($t)* {
            fn connection_made(&mut self, t: &mut dyn StreamTransport) {
                (**self).connection_made(t)
            }
            fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
                (**self).data_received(t, data)
            }
            fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
                (**self).data_received_bytes(t, data)
            }
            fn eof_received(&mut self, t: &mut dyn StreamTransport) {
                (**self).eof_received(t)
            }
            fn connection_lost(&mut self, why: &Close) {
                (**self).connection_lost(why)
            }
            fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
                (**self).pause_writing(t)
            }
            fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
                (**self).resume_writing(t)
            }
            fn next_deadline(&self) -> Option<Instant> {
                (**self).next_deadline()
            }
            fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
                (**self).on_deadline(t)
            }
            fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
                (**self).on_wake(t, route)
            }
            fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
                (**self).on_shutdown(t)
            }
            fn buffered(&self) -> usize {
                (**self).buffered()
            }
            fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
                (**self).inner_protocol()
            }
        }
    };
}

// Every method is forwarded: a forgotten one would silently fall back to the
// default and change the behaviour of stacks built at run time.
forward_stream_protocol!(impl<P: StreamProtocol + ?Sized> StreamProtocol for Box<P>);

/// A layer that can be inserted below a running protocol: a stream protocol
/// that owns an inner protocol and can present its view to it on demand.
///
/// ```
/// use strata::{StreamLayer, StreamProtocol, StreamTransport};
/// # fn check<L: StreamLayer>() {}
/// ```
pub trait StreamLayer: StreamProtocol {
    /// Calls `f` with the transport this layer presents to its inner protocol,
    /// built over `t` (the transport below this layer). The stack uses it to
    /// replay, through a newly inserted layer, what the inner protocol did
    /// after it requested the insertion (writes, EOF, close, read pause).
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    );
}

/// Makes a fresh protocol for each accepted connection: the one factory
/// type of every server-side owner (the reliable mapping's listener, the
/// KCP listener, the driver's servers, the CLI's apps).
///
/// ```
/// use std::sync::Arc;
/// use strata::{StreamFactory, StreamProtocol, StreamTransport};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let factory: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
/// let _one = factory();
/// let _two = factory();
/// ```
pub type StreamFactory = std::sync::Arc<dyn Fn() -> Box<dyn StreamProtocol> + Send + Sync>;

/// Builds a layer around the protocol that asked for it.
pub type InsertFn = Box<dyn FnOnce(Box<dyn StreamProtocol>) -> Box<dyn StreamLayer> + Send>;

/// A run-time layer swap, asked for with [`StreamTransport::request_swap`].
///
/// ```
/// use strata::{StreamLayer, StreamProtocol, SwapRequest};
/// // `layer` wraps the running protocol, e.g. `|p| Box::new(Tls::new(p, &cfg)?)`.
/// fn upgrade(layer: fn(Box<dyn StreamProtocol>) -> Box<dyn StreamLayer>) -> SwapRequest {
///     SwapRequest::insert_below(move |inner| layer(inner))
/// }
/// ```
pub enum SwapRequest {
    /// Put a new layer between the requesting protocol and the transport below
    /// it (STARTTLS). The leftover input is fed to the new layer; writes made
    /// after the request in the same callback go through it; the read pause
    /// is carried over; the requesting protocol keeps running and gets no
    /// second `connection_made`.
    InsertBelow(InsertFn),
    /// Replace the requesting protocol by another (ALPN choice, preface
    /// sniffing). The new protocol gets `connection_made` (and a fresh
    /// `pause_writing` edge if the holder is paused), then the leftover, then
    /// EOF if the old one had seen it. The old one is dropped without
    /// `connection_lost`: the connection lives on.
    Replace(Box<dyn StreamProtocol>),
}

impl SwapRequest {
    /// Shorthand for [`SwapRequest::InsertBelow`].
    pub fn insert_below(
        f: impl FnOnce(Box<dyn StreamProtocol>) -> Box<dyn StreamLayer> + Send + 'static,
    ) -> Self {
        SwapRequest::InsertBelow(Box::new(f))
    }
}

impl std::fmt::Debug for SwapRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SwapRequest::InsertBelow(_) => "SwapRequest::InsertBelow",
            SwapRequest::Replace(_) => "SwapRequest::Replace",
        })
    }
}

/// Why a swap request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SwapError {
    /// This layer holds its inner protocol by type and cannot swap it.
    #[error("layer {layer} cannot swap the protocol above it")]
    Unsupported {
        /// The refusing layer.
        layer: &'static str,
    },
    /// A swap is already waiting for this callback to end.
    #[error("a swap is already pending")]
    AlreadyPending,
    /// The connection is closing or closed.
    #[error("connection is closed")]
    Closed,
}

impl crate::LayerError for SwapError {
    /// A holder that cannot swap is a composition mistake
    /// ([`Fault::Config`](crate::Fault::Config)); a swap refused because one
    /// is pending or the connection is closing is the protocol's own doing
    /// ([`Fault::Local`](crate::Fault::Local)).
    ///
    /// ```
    /// use strata::{Fault, LayerError, SwapError};
    /// assert_eq!(SwapError::Unsupported { layer: "x" }.kind(), Fault::Config);
    /// assert_eq!(SwapError::Closed.kind(), Fault::Local);
    /// ```
    fn kind(&self) -> crate::Fault {
        match self {
            SwapError::Unsupported { .. } => crate::Fault::Config,
            SwapError::AlreadyPending | SwapError::Closed => crate::Fault::Local,
        }
    }
}
