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
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.write(b"GET / HTTP/1.1\r\n");
    /// assert_eq!(t.take_written(), b"GET / HTTP/1.1\r\n");
    /// ```
    fn write(&mut self, data: &[u8]);
    /// Queues owned bytes; layers that can keep them without copying do.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.write_bytes(Bytes::from_static(b"owned"));
    /// assert_eq!(t.take_written(), b"owned");
    /// ```
    fn write_bytes(&mut self, data: Bytes) {
        self.write(&data);
    }
    /// Half-closes: the peer sees EOF once the queued bytes are sent, and we
    /// keep reading. Where [`HalfClose`](crate::HalfClose) is false it closes
    /// both directions instead.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.write(b"last words");
    /// t.write_eof();
    /// assert!(t.eof_written());
    /// assert_eq!(t.take_written(), b"last words");
    /// ```
    fn write_eof(&mut self);
    /// Flushes what is queued, then closes; bounded by the stack's close
    /// deadline, after which the connection is aborted with
    /// `Close::Timeout(Timeout::CloseFlush)`.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Once;
    /// impl StreamProtocol for Once {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.write(b"ok"); t.close() }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Once));
    /// let now = s.now();
    /// s.handle_input(now, b"?");
    /// assert!(s.finished().is_none()); // "ok" is flushed first
    /// assert_eq!(s.take_output(now), b"ok");
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    fn close(&mut self);
    /// Drops the connection now, discarding buffers; `why` reaches every
    /// layer's `connection_lost` and, where the wire can say so, the peer.
    ///
    /// ```
    /// use strata::{AbortReason, Close, Stack, StreamProtocol, StreamTransport};
    /// struct Strict;
    /// impl StreamProtocol for Strict {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
    ///         t.write(b"discarded");
    ///         t.abort(Close::aborted("strict", AbortReason::Requested));
    ///     }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Strict));
    /// let now = s.now();
    /// s.handle_input(now, b"x");
    /// assert!(!s.finished().unwrap().is_clean());
    /// assert!(s.take_output(now).is_empty());
    /// ```
    fn abort(&mut self, why: Close);
    /// Stops delivering `data_received` until `resume_reading`. Input that
    /// still arrives is stashed (and counts toward the memory budget); the
    /// layers below turn the pause into the peer's flow control.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Paused(usize);
    /// impl StreamProtocol for Paused {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.pause_reading() }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len() }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Paused::default()));
    /// let now = s.now();
    /// s.handle_input(now, b"stashed");
    /// assert_eq!(s.protocol::<Paused>().unwrap().0, 0); // held until resume_reading
    /// assert!(!s.wants_read());
    /// ```
    fn pause_reading(&mut self);
    /// Resumes delivery; stashed input is delivered in the next settle step.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.pause_reading();
    /// t.resume_reading();
    /// assert!(!t.is_read_paused());
    /// ```
    fn resume_reading(&mut self);
    /// Bytes accepted but not yet sent, by this layer and every layer below.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.write(b"12345");
    /// assert_eq!(t.buffered(), 5);
    /// ```
    fn buffered(&self) -> usize;
    /// The level form of write back-pressure, merged down the stack: false
    /// once the stack is at or over its high-water mark.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new().with_high_water(8);
    /// assert!(t.writable());
    /// t.write(&[0; 8]);
    /// assert!(!t.writable());
    /// ```
    fn writable(&self) -> bool;
    /// The current time, from the driver (or the test kit's virtual clock).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// let t0 = t.now();
    /// t.advance(Duration::from_millis(250));
    /// assert_eq!(t.now().duration_since(t0), Duration::from_millis(250));
    /// ```
    fn now(&self) -> Instant;
    /// A handle that reaches this protocol's `on_wake` from any thread.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new();
    /// let w = t.waker();
    /// std::thread::spawn(move || w.wake()).join().unwrap();
    /// assert_eq!(t.take_wakes(), vec![Vec::<u64>::new()]);
    /// ```
    fn waker(&self) -> Wake;
    /// Asks the owner of this protocol's slot to swap layers after the current
    /// callback; `leftover` is input read but not consumed. The holder right
    /// below the requesting protocol applies it (the stack, a TLS layer, an
    /// HTTP/2 stream: every [`ProtocolSlot`](crate::ProtocolSlot)); the
    /// layers below it stay. Layers that hold their inner protocol by type
    /// answer [`SwapError::Unsupported`]. See the
    /// [`slot` rules](crate::ProtocolSlot) for what the hand-over carries.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport, SwapRequest};
    /// struct Sniff;
    /// struct Upper;
    /// impl StreamProtocol for Upper {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(&d.to_ascii_uppercase()) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// impl StreamProtocol for Sniff {
    ///     // Hands the connection, and what it read, to the protocol it chose.
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
    ///         t.request_swap(SwapRequest::Replace(Box::new(Upper)), d.to_vec()).unwrap();
    ///     }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Sniff));
    /// let now = s.now();
    /// s.handle_input(now, b"abc");
    /// assert_eq!(s.take_output(now), b"ABC");
    /// assert!(s.protocol::<Upper>().is_some());
    /// ```
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
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new();
    /// let t: &dyn StreamTransport = &t;
    /// assert_eq!(t.layer_chain(), vec!["memory"]);
    /// ```
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
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Banner;
    /// impl StreamProtocol for Banner {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"+OK\r\n") }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Banner));
    /// let now = s.now();
    /// assert_eq!(s.take_output(now), b"+OK\r\n");
    /// ```
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// Bytes arrived.
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
    /// let now = s.now();
    /// s.handle_input(now, b"ab");
    /// s.handle_input(now, b"cde");
    /// assert_eq!(s.protocol::<Count>().unwrap().0, 5);
    /// ```
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]);
    /// Bytes arrived, owned. A protocol that keeps or forwards what it reads
    /// (an echo, a relay) overrides this and passes `data` on with
    /// [`write_bytes`](StreamTransport::write_bytes): no copy. The default
    /// lends them to [`data_received`](StreamProtocol::data_received). Only
    /// the bottom slot calls it (the driver reads into owned buffers); layers
    /// call their inner protocol's `data_received`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Keep(Vec<Bytes>);
    /// impl StreamProtocol for Keep {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.push(Bytes::copy_from_slice(d)) }
    ///     fn data_received_bytes(&mut self, _: &mut dyn StreamTransport, d: Bytes) { self.0.push(d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Keep::default()));
    /// let now = s.now();
    /// s.handle_input_bytes(now, Bytes::from_static(b"kept"));
    /// assert_eq!(s.protocol::<Keep>().unwrap().0, vec![Bytes::from_static(b"kept")]);
    /// ```
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.data_received(t, &data)
    }
    /// The peer will send nothing more. Writing is still allowed where the
    /// transport half-closes; close when done.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Sum(u64);
    /// impl StreamProtocol for Sum {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
    ///         self.0 += d.iter().map(|&b| u64::from(b - b'0')).sum::<u64>();
    ///     }
    ///     // Answers once the request is complete, then closes.
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    ///         t.write(self.0.to_string().as_bytes());
    ///         t.close();
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(Sum::default()));
    /// let now = s.now();
    /// s.handle_input(now, b"123");
    /// s.handle_eof(now);
    /// assert_eq!(s.take_output(now), b"6");
    /// ```
    fn eof_received(&mut self, t: &mut dyn StreamTransport);
    /// The connection is gone; called once, last.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport, Close};
    /// #[derive(Default)]
    /// struct Log(Vec<bool>);
    /// impl StreamProtocol for Log {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn connection_lost(&mut self, why: &Close) { self.0.push(why.is_clean()) }
    /// }
    /// let mut s = Stack::memory(Box::new(Log::default()));
    /// s.keep_protocol();
    /// let now = s.now();
    /// s.handle_eof(now);
    /// assert_eq!(s.protocol::<Log>().unwrap().0, vec![true]); // called once, last
    /// ```
    fn connection_lost(&mut self, why: &Close) {
        let _ = why;
    }
    /// Edge: the stack crossed its high-water mark. Delivered from settle.
    ///
    /// ```
    /// use strata::{Stack, StackConfig, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Producer { paused: bool }
    /// impl StreamProtocol for Producer {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
    ///         while !self.paused { t.write(&[0; 10]); if !t.writable() { break } }
    ///     }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn pause_writing(&mut self, _: &mut dyn StreamTransport) { self.paused = true }
    ///     fn resume_writing(&mut self, _: &mut dyn StreamTransport) { self.paused = false }
    /// }
    /// let cfg = StackConfig { high_water: 40, low_water: 10, ..StackConfig::default() };
    /// let mut s = Stack::memory_with(Box::new(Producer::default()), cfg);
    /// assert!(s.protocol::<Producer>().unwrap().paused);
    /// assert_eq!(s.pending_output(), 40);
    /// let now = s.now();
    /// s.take_output(now);
    /// assert!(!s.protocol::<Producer>().unwrap().paused); // resume_writing came
    /// ```
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// Edge: the stack drained to its low-water mark. Delivered from settle.
    ///
    /// ```
    /// use strata::{Stack, StackConfig, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Resumed(usize);
    /// impl StreamProtocol for Resumed {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(&[1; 50]) }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn resume_writing(&mut self, _: &mut dyn StreamTransport) { self.0 += 1 }
    /// }
    /// let cfg = StackConfig { high_water: 32, low_water: 8, ..StackConfig::default() };
    /// let mut s = Stack::memory_with(Box::new(Resumed::default()), cfg);
    /// let now = s.now();
    /// s.consume(now, 30); // 20 left: above the low-water mark
    /// assert_eq!(s.protocol::<Resumed>().unwrap().0, 0);
    /// s.consume(now, 20);
    /// assert_eq!(s.protocol::<Resumed>().unwrap().0, 1);
    /// ```
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// When this protocol (and, for a layer, its inner one) next wants
    /// `on_deadline`: a layer returns the minimum of its own and its inner's.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Idle(Option<Instant>);
    /// impl StreamProtocol for Idle {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
    ///         self.0 = Some(strata::deadline::after(t.now(), Duration::from_secs(30)));
    ///     }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn next_deadline(&self) -> Option<Instant> { self.0 }
    /// }
    /// let s = Stack::memory(Box::new(Idle(None)));
    /// assert_eq!(s.next_deadline(), Some(s.now() + Duration::from_secs(30)));
    /// ```
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// A deadline returned by `next_deadline` has passed (`t.now()` tells by
    /// how much). Spurious calls are allowed: check your timers.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct IdleTimeout(Option<Instant>);
    /// impl StreamProtocol for IdleTimeout {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { self.0 = Some(t.now() + Duration::from_secs(10)) }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn next_deadline(&self) -> Option<Instant> { self.0 }
    ///     fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
    ///         // Spurious calls are allowed: check the timer first.
    ///         if self.0.is_some_and(|d| t.now() >= d) { t.close() }
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(IdleTimeout(None)));
    /// let t0 = s.now();
    /// s.handle_timeout(t0 + Duration::from_secs(1)); // early: nothing happens
    /// assert!(s.finished().is_none());
    /// s.handle_timeout(t0 + Duration::from_secs(10));
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// A [`Wake`] handle was woken. A multiplexer takes `route.next_hop()` and
    /// calls that child only; other layers pass the route on unchanged.
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport, WakeRoute};
    /// #[derive(Default)]
    /// struct Mux { woken: Vec<u64> }
    /// impl StreamProtocol for Mux {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn on_wake(&mut self, _: &mut dyn StreamTransport, mut route: WakeRoute<'_>) {
    ///         // A multiplexer wakes only the child the route names.
    ///         if let Some(child) = route.next_hop() { self.woken.push(child) }
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(Mux::default()));
    /// let w = s.inspect(|t| t.waker()).child(7);
    /// w.wake();
    /// let now = s.now();
    /// s.handle_wakes(now);
    /// assert_eq!(s.protocol::<Mux>().unwrap().woken, vec![7]);
    /// ```
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        let _ = (t, route);
    }
    /// The owner is shutting down gracefully (a server draining): finish what
    /// is in flight and close. The default closes the transport; an HTTP/2
    /// connection sends GOAWAY instead. A layer forwards it to its inner
    /// protocol. After the drain deadline the owner aborts with
    /// [`AbortReason::Shutdown`](crate::AbortReason::Shutdown).
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Polite;
    /// impl StreamProtocol for Polite {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn on_shutdown(&mut self, t: &mut dyn StreamTransport) { t.write(b"going away\n"); t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Polite));
    /// let now = s.now();
    /// s.handle_shutdown(now);
    /// assert_eq!(s.take_output(now), b"going away\n");
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    /// Bytes this protocol holds for output (its own queue and its inner's):
    /// counted with the bottom buffer for the stack's watermarks and budget.
    ///
    /// ```
    /// use strata::{Stack, StackConfig, StreamProtocol, StreamTransport};
    /// // A protocol that holds 100 bytes of its own output.
    /// struct Holding;
    /// impl StreamProtocol for Holding {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn buffered(&self) -> usize { 100 }
    /// }
    /// // It counts with the bottom's queue against the watermarks.
    /// let cfg = StackConfig { high_water: 64, low_water: 16, ..StackConfig::default() };
    /// let s = Stack::memory_with(Box::new(Holding), cfg);
    /// assert_eq!(s.pending_output(), 0);
    /// assert!(s.is_write_paused());
    /// ```
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
    ///
    /// ```
    /// use strata::{StreamLayer, StreamProtocol, StreamTransport, testing::MemoryTransport};
    /// /// A pass-through layer: its inner protocol writes straight below.
    /// struct Pass<P>(P);
    /// impl<P: StreamProtocol> StreamProtocol for Pass<P> {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0.data_received(t, d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { self.0.eof_received(t) }
    /// }
    /// impl<P: StreamProtocol> StreamLayer for Pass<P> {
    ///     fn with_inner_transport(
    ///         &mut self,
    ///         t: &mut dyn StreamTransport,
    ///         f: &mut dyn FnMut(&mut dyn StreamTransport),
    ///     ) {
    ///         f(t)
    ///     }
    /// }
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut below = MemoryTransport::new();
    /// Pass(Nop).with_inner_transport(&mut below, &mut |t| t.write(b"replayed"));
    /// assert_eq!(below.take_written(), b"replayed");
    /// ```
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
///
/// ```
/// use strata::{InsertFn, StreamLayer, StreamProtocol, StreamTransport};
/// # struct Pass(Box<dyn StreamProtocol>);
/// # impl StreamProtocol for Pass {
/// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0.data_received(t, d) }
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { self.0.eof_received(t) }
/// # }
/// # impl StreamLayer for Pass {
/// #     fn with_inner_transport(&mut self, t: &mut dyn StreamTransport, f: &mut dyn FnMut(&mut dyn StreamTransport)) { f(t) }
/// # }
/// # struct App;
/// # impl StreamProtocol for App {
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let wrap: InsertFn = Box::new(|inner| Box::new(Pass(inner)) as Box<dyn StreamLayer>);
/// let layer = wrap(Box::new(App));
/// assert!(layer.inner_protocol().is_none()); // `Pass` does not answer it
/// ```
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
    ///
    /// ```
    /// use strata::{Stack, StreamLayer, StreamProtocol, StreamTransport, SwapRequest};
    /// /// A layer that turns what its inner protocol writes into upper case.
    /// struct Shout(Box<dyn StreamProtocol>);
    /// struct ShoutView<'a>(&'a mut dyn StreamTransport);
    /// impl strata::Introspect for ShoutView<'_> {
    ///     fn name(&self) -> &'static str { "shout" }
    ///     fn below(&self) -> Option<&dyn strata::Introspect> { Some(&*self.0) }
    /// }
    /// impl StreamTransport for ShoutView<'_> {
    ///     fn write(&mut self, d: &[u8]) { self.0.write(&d.to_ascii_uppercase()) }
    ///     fn write_eof(&mut self) { self.0.write_eof() }
    ///     fn close(&mut self) { self.0.close() }
    ///     fn abort(&mut self, why: strata::Close) { self.0.abort(why) }
    ///     fn pause_reading(&mut self) { self.0.pause_reading() }
    ///     fn resume_reading(&mut self) { self.0.resume_reading() }
    ///     fn buffered(&self) -> usize { self.0.buffered() }
    ///     fn writable(&self) -> bool { self.0.writable() }
    ///     fn now(&self) -> std::time::Instant { self.0.now() }
    ///     fn waker(&self) -> strata::Wake { self.0.waker() }
    /// }
    /// impl StreamProtocol for Shout {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0.data_received(&mut ShoutView(t), d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { self.0.eof_received(&mut ShoutView(t)) }
    /// }
    /// impl StreamLayer for Shout {
    ///     fn with_inner_transport(&mut self, t: &mut dyn StreamTransport, f: &mut dyn FnMut(&mut dyn StreamTransport)) {
    ///         f(&mut ShoutView(t))
    ///     }
    /// }
    /// /// Echoes; the first line asks for the `Shout` layer below it.
    /// #[derive(Default)]
    /// struct Echo { upgraded: bool }
    /// impl StreamProtocol for Echo {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
    ///         t.write(d);
    ///         if !self.upgraded {
    ///             self.upgraded = true;
    ///             t.request_swap(SwapRequest::insert_below(|p| Box::new(Shout(p))), Vec::new()).unwrap();
    ///         }
    ///     }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Echo::default()));
    /// let now = s.now();
    /// s.handle_input(now, b"one ");
    /// s.handle_input(now, b"two");
    /// assert_eq!(s.take_output(now), b"one TWO");
    /// assert_eq!(s.inspect(|t| t.layer_chain()), vec!["memory"]);
    /// ```
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
///
/// ```
/// use strata::{StreamTransport, SwapError, SwapRequest};
/// # use strata::{Introspect, StreamProtocol, Close, Wake};
/// # struct Fixed;
/// # impl Introspect for Fixed {
/// #     fn name(&self) -> &'static str { "fixed" }
/// #     fn below(&self) -> Option<&dyn Introspect> { None }
/// # }
/// # impl StreamTransport for Fixed {
/// #     fn write(&mut self, _: &[u8]) {}
/// #     fn write_eof(&mut self) {}
/// #     fn close(&mut self) {}
/// #     fn abort(&mut self, _: Close) {}
/// #     fn pause_reading(&mut self) {}
/// #     fn resume_reading(&mut self) {}
/// #     fn buffered(&self) -> usize { 0 }
/// #     fn writable(&self) -> bool { true }
/// #     fn now(&self) -> std::time::Instant { std::time::Instant::now() }
/// #     fn waker(&self) -> Wake { Wake::root(strata::WakeHub::new()) }
/// # }
/// # struct P;
/// # impl StreamProtocol for P {
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// // A transport that keeps the default `request_swap` refuses every swap.
/// let mut t = Fixed;
/// let err = t.request_swap(SwapRequest::Replace(Box::new(P)), Vec::new()).unwrap_err();
/// assert_eq!(err, SwapError::Unsupported { layer: "fixed" });
/// assert_eq!(err.to_string(), "layer fixed cannot swap the protocol above it");
/// ```
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
