//! The datagram family: whole messages that may be lost, duplicated or
//! reordered, with their boundaries kept.
//!
//! The contract is the stream family's (see [`crate::stream`]): context
//! passing, the owner rule, the settle step, injected time. A stream protocol
//! cannot be attached to a datagram transport: the traits differ, so that is a
//! compile error. Crossing the line takes an explicit mapping layer.
//!
//! ```compile_fail
//! use strata::{StreamProtocol, DatagramStack};
//! struct Echo;
//! impl StreamProtocol for Echo {
//!     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
//!     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
//! }
//! // A stream protocol on a datagram stack does not compile:
//! let _ = DatagramStack::memory(Box::new(Echo));
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::{Close, Introspect, Wake, WakeRoute};

/// ECN codepoint of a datagram (RFC 3168).
///
/// ```
/// use strata::{Ecn, Transmit};
/// let t = Transmit { ecn: Some(Ecn::Ect0), ..Transmit::connected(b"marked") };
/// assert_eq!(t.ecn, Some(Ecn::Ect0));
/// assert_ne!(Ecn::Ect0, Ecn::Ce);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ecn {
    /// ECT(0)
    Ect0,
    /// ECT(1)
    Ect1,
    /// Congestion experienced.
    Ce,
}

/// One datagram (or, with `segment_size`, a GSO batch of equal-sized ones)
/// to send. The caller owns the bytes.
///
/// ```
/// use strata::Transmit;
/// let t = Transmit::to("127.0.0.1:5353".parse().unwrap(), b"hi");
/// assert_eq!(t.contents, b"hi");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where to send it; `None` on a connected transport.
    pub destination: Option<SocketAddr>,
    /// The source IP to send from, on a multi-homed host.
    pub src_ip: Option<IpAddr>,
    /// The ECN codepoint to mark it with.
    pub ecn: Option<Ecn>,
    /// When set, `contents` holds several datagrams of this size (the last may
    /// be shorter), to be sent with one GSO system call where available.
    pub segment_size: Option<usize>,
    /// The payload.
    pub contents: &'a [u8],
}

impl<'a> Transmit<'a> {
    /// A plain datagram to `dest`.
    ///
    /// ```
    /// use strata::Transmit;
    /// let dest = "[::1]:4433".parse().unwrap();
    /// let t = Transmit::to(dest, b"hello");
    /// assert_eq!(t.destination, Some(dest));
    /// assert_eq!(t.segment_size, None);
    /// ```
    pub fn to(dest: SocketAddr, contents: &'a [u8]) -> Self {
        Transmit {
            destination: Some(dest),
            src_ip: None,
            ecn: None,
            segment_size: None,
            contents,
        }
    }

    /// A datagram on a connected transport.
    ///
    /// ```
    /// use strata::Transmit;
    /// let t = Transmit::connected(b"hello");
    /// assert_eq!(t.destination, None);
    /// assert_eq!(t.contents, b"hello");
    /// ```
    pub fn connected(contents: &'a [u8]) -> Self {
        Transmit {
            destination: None,
            src_ip: None,
            ecn: None,
            segment_size: None,
            contents,
        }
    }

    /// Iterates over the datagrams a GSO batch stands for.
    ///
    /// ```
    /// use strata::Transmit;
    /// let batch = Transmit { segment_size: Some(4), ..Transmit::connected(b"aaaabbbbcc") };
    /// let parts: Vec<&[u8]> = batch.segments().collect();
    /// assert_eq!(parts, [&b"aaaa"[..], b"bbbb", b"cc"]);
    /// assert_eq!(Transmit::connected(b"one").segments().count(), 1);
    /// ```
    pub fn segments(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let size = self.segment_size.unwrap_or(self.contents.len()).max(1);
        self.contents.chunks(size)
    }
}

/// One received datagram, as handed to `datagrams_received` in a batch.
///
/// ```
/// use strata::{Datagram, Ecn};
/// let d = Datagram { ecn: Some(Ecn::Ce), ..Datagram::new(None, b"payload") };
/// assert_eq!(d.data, b"payload");
/// assert_eq!(d.ecn, Some(Ecn::Ce));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Who sent it; `None` on a connected transport with no address.
    pub source: Option<SocketAddr>,
    /// The local IP it was sent to, where the driver knows it.
    pub dst_ip: Option<IpAddr>,
    /// Its ECN marking.
    pub ecn: Option<Ecn>,
    /// The payload.
    pub data: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// A datagram with only a payload and a sender.
    ///
    /// ```
    /// use strata::Datagram;
    /// let from = "127.0.0.1:9000".parse().unwrap();
    /// let d = Datagram::new(Some(from), b"hi");
    /// assert_eq!(d.source, Some(from));
    /// assert_eq!(d.dst_ip, None);
    /// ```
    pub fn new(source: Option<SocketAddr>, data: &'a [u8]) -> Self {
        Datagram {
            source,
            dst_ip: None,
            ecn: None,
            data,
        }
    }
}

/// The transport a datagram protocol sends through.
///
/// ```
/// use strata::{DatagramTransport, Transmit, testing::MemoryDatagramTransport};
/// let mut t = MemoryDatagramTransport::new(1200);
/// t.send(&Transmit::connected(b"one"));
/// assert_eq!(t.take_sent()[0].contents, b"one");
/// ```
pub trait DatagramTransport: Introspect {
    /// Queues a datagram. Never blocks. A datagram over
    /// [`max_datagram_size`](DatagramTransport::max_datagram_size), or sent
    /// while the queue is over the memory budget, is dropped (datagrams may
    /// be lost) and counted.
    ///
    /// ```
    /// use strata::{DatagramTransport, Transmit, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(8);
    /// t.send(&Transmit::connected(b"fits"));
    /// t.send(&Transmit::connected(b"far too long")); // over max_datagram_size: dropped
    /// let sent = t.take_sent();
    /// assert_eq!(sent.len(), 1);
    /// assert_eq!(sent[0].contents, b"fits");
    /// ```
    fn send(&mut self, tx: &Transmit<'_>);
    /// The largest payload one datagram may carry.
    ///
    /// ```
    /// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
    /// let t = MemoryDatagramTransport::new(1350);
    /// assert_eq!(t.max_datagram_size(), 1350);
    /// ```
    fn max_datagram_size(&self) -> usize;
    /// No more datagrams will be sent. Transports framed over a stream
    /// half-close; others just stop.
    ///
    /// ```
    /// use strata::{DatagramTransport, Transmit, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// t.write_eof(); // the default does nothing on a plain datagram transport
    /// t.send(&Transmit::connected(b"still sent"));
    /// assert_eq!(t.take_sent().len(), 1);
    /// ```
    fn write_eof(&mut self) {}
    /// Flushes, then closes, bounded by a deadline.
    ///
    /// ```
    /// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// t.close();
    /// assert!(t.is_closed());
    /// ```
    fn close(&mut self);
    /// Drops everything now, with a typed reason.
    ///
    /// ```
    /// use strata::{AbortReason, Close, DatagramTransport, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// t.abort(Close::aborted("app", AbortReason::Requested));
    /// assert_eq!(t.aborted().and_then(|c| c.layer()), Some("app"));
    /// ```
    fn abort(&mut self, why: Close);
    /// Stops delivering datagrams until `resume_reading`.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// struct Stop;
    /// impl DatagramProtocol for Stop {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.pause_reading() }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut s = DatagramStack::memory(Box::new(Stop));
    /// assert!(!s.wants_read());
    /// let now = s.now();
    /// s.handle_datagrams(now, &[Datagram::new(None, b"lost")]);
    /// assert_eq!(s.dropped(), 1); // datagrams that arrive while paused are dropped
    /// ```
    fn pause_reading(&mut self);
    /// Resumes delivery.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// struct Toggle;
    /// impl DatagramProtocol for Toggle {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.pause_reading(); t.resume_reading() }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let s = DatagramStack::memory(Box::new(Toggle));
    /// assert!(s.wants_read());
    /// ```
    fn resume_reading(&mut self);
    /// Bytes queued but not yet sent, this layer and below.
    ///
    /// ```
    /// use strata::{DatagramTransport, Transmit, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// t.send(&Transmit::connected(b"abc"));
    /// t.send(&Transmit::connected(b"de"));
    /// assert_eq!(t.buffered(), 5);
    /// ```
    fn buffered(&self) -> usize;
    /// Level back-pressure: false at or over the high-water mark.
    ///
    /// ```
    /// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
    /// let t = MemoryDatagramTransport::new(1200);
    /// assert!(t.writable());
    /// ```
    fn writable(&self) -> bool;
    /// The current time, from the driver.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// let t0 = t.now();
    /// t.advance(Duration::from_millis(20));
    /// assert_eq!(t.now() - t0, Duration::from_millis(20));
    /// ```
    fn now(&self) -> Instant;
    /// A handle that reaches this protocol's `on_wake` from any thread.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// struct AskWaker;
    /// impl DatagramProtocol for AskWaker {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.waker().wake() }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let s = DatagramStack::memory(Box::new(AskWaker));
    /// assert!(s.wake_hub().unwrap().is_pending());
    /// ```
    fn waker(&self) -> Wake;
}

impl<'a> dyn DatagramTransport + 'a {
    /// Looks a capability up through the stack, top layer first.
    ///
    /// ```
    /// use strata::{DatagramTransport, PeerAddr, testing::MemoryDatagramTransport};
    /// let t = MemoryDatagramTransport::new(1200);
    /// let t: &dyn DatagramTransport = &t;
    /// assert_eq!(t.get::<PeerAddr>(), None); // an unconnected transport has no peer
    /// ```
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        (self as &dyn Introspect).get::<T>()
    }

    /// The names of the layers, top first.
    ///
    /// ```
    /// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
    /// let t = MemoryDatagramTransport::new(1200);
    /// let t: &dyn DatagramTransport = &t;
    /// assert_eq!(t.layer_chain(), vec!["memory"]);
    /// ```
    pub fn layer_chain(&self) -> Vec<&'static str> {
        (self as &dyn Introspect).layer_chain()
    }
}

/// A datagram protocol: the code that reacts to datagrams.
///
/// ```
/// use strata::{DatagramProtocol, DatagramTransport, Datagram, Transmit};
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
///         for d in batch {
///             t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) });
///         }
///     }
/// }
/// ```
pub trait DatagramProtocol: Send {
    /// The transport is ready; called once, first.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// struct Hello;
    /// impl DatagramProtocol for Hello {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         t.send(&Transmit::to("127.0.0.1:7".parse().unwrap(), b"hello"));
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut s = DatagramStack::memory(Box::new(Hello));
    /// let now = s.now();
    /// assert_eq!(s.take_transmits(now)[0].contents, b"hello");
    /// ```
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// A batch of datagrams arrived (one system call's worth, with GRO split).
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// struct Echo;
    /// impl DatagramProtocol for Echo {
    ///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
    ///         for d in batch {
    ///             t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) });
    ///         }
    ///     }
    /// }
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// let from = "127.0.0.1:9".parse().unwrap();
    /// s.handle_datagrams(now, &[Datagram::new(Some(from), b"a"), Datagram::new(Some(from), b"b")]);
    /// let out = s.take_transmits(now);
    /// assert_eq!(out.len(), 2);
    /// assert_eq!(out[1].destination, Some(from));
    /// ```
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]);
    /// Only over a stream: the peer will send no more datagrams.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport, testing::MemoryDatagramTransport};
    /// struct Done;
    /// impl DatagramProtocol for Done {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn eof_received(&mut self, t: &mut dyn DatagramTransport) { t.close() }
    /// }
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// Done.eof_received(&mut t);
    /// assert!(t.is_closed());
    /// ```
    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// The transport is gone; called once, last.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use strata::{Close, Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// struct Log(Arc<Mutex<Vec<bool>>>);
    /// impl DatagramProtocol for Log {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn connection_lost(&mut self, why: &Close) { self.0.lock().unwrap().push(why.is_clean()) }
    /// }
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let mut s = DatagramStack::memory(Box::new(Log(log.clone())));
    /// let now = s.now();
    /// s.handle_lost(now, Close::Io(std::io::ErrorKind::NetworkDown));
    /// assert_eq!(*log.lock().unwrap(), vec![false]);
    /// ```
    fn connection_lost(&mut self, why: &Close) {
        let _ = why;
    }
    /// Edge: the send queue crossed its high-water mark.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport, testing::MemoryDatagramTransport};
    /// #[derive(Default)]
    /// struct Sender { paused: bool }
    /// impl DatagramProtocol for Sender {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn pause_writing(&mut self, _: &mut dyn DatagramTransport) { self.paused = true }
    ///     fn resume_writing(&mut self, _: &mut dyn DatagramTransport) { self.paused = false }
    /// }
    /// let mut p = Sender::default();
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// p.pause_writing(&mut t);
    /// assert!(p.paused);
    /// ```
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// Edge: the send queue drained to its low-water mark.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport, testing::MemoryDatagramTransport};
    /// #[derive(Default)]
    /// struct Sender { paused: bool }
    /// impl DatagramProtocol for Sender {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn pause_writing(&mut self, _: &mut dyn DatagramTransport) { self.paused = true }
    ///     fn resume_writing(&mut self, _: &mut dyn DatagramTransport) { self.paused = false }
    /// }
    /// let mut p = Sender { paused: true };
    /// p.resume_writing(&mut MemoryDatagramTransport::new(1200));
    /// assert!(!p.paused);
    /// ```
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// The earliest time this protocol (and its inner ones) wants `on_deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// struct Keepalive(Option<Instant>);
    /// impl DatagramProtocol for Keepalive {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         self.0 = Some(strata::deadline::after(t.now(), Duration::from_secs(15)));
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn next_deadline(&self) -> Option<Instant> { self.0 }
    /// }
    /// let s = DatagramStack::memory(Box::new(Keepalive(None)));
    /// assert_eq!(s.next_deadline(), Some(s.now() + Duration::from_secs(15)));
    /// ```
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// A deadline passed. Spurious calls are allowed.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// struct Ping(Option<Instant>);
    /// impl DatagramProtocol for Ping {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { self.0 = Some(t.now() + Duration::from_secs(1)) }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn next_deadline(&self) -> Option<Instant> { self.0 }
    ///     fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
    ///         if self.0.is_some_and(|d| t.now() >= d) {
    ///             self.0 = None;
    ///             t.send(&Transmit::to("127.0.0.1:7".parse().unwrap(), b"ping"));
    ///         }
    ///     }
    /// }
    /// let mut s = DatagramStack::memory(Box::new(Ping(None)));
    /// let due = s.next_deadline().unwrap();
    /// s.handle_timeout(due);
    /// assert_eq!(s.take_transmits(due)[0].contents, b"ping");
    /// ```
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// A wake handle was woken; see [`StreamProtocol::on_wake`](crate::StreamProtocol::on_wake).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, WakeRoute};
    /// struct Woken(Arc<AtomicUsize>);
    /// impl DatagramProtocol for Woken {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.waker().wake() }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn on_wake(&mut self, _: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
    ///         assert!(route.is_here());
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    /// let n = Arc::new(AtomicUsize::new(0));
    /// let mut s = DatagramStack::memory(Box::new(Woken(n.clone())));
    /// let now = s.now();
    /// s.handle_wakes(now);
    /// assert_eq!(n.load(Ordering::Relaxed), 1);
    /// ```
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        let _ = (t, route);
    }
    /// The owner is shutting down gracefully; the default closes.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// struct Plain;
    /// impl DatagramProtocol for Plain {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut s = DatagramStack::memory(Box::new(Plain));
    /// let now = s.now();
    /// s.handle_shutdown(now); // the default `on_shutdown` closes
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        t.close();
    }
    /// The socket reported an error for an earlier datagram (an ICMP
    /// port/host/network unreachable on a connected socket): a hint, never
    /// proof: anyone on the path can forge one. The default ignores it
    /// (asyncio's `error_received`).
    ///
    /// ```
    /// use strata::{DatagramProtocol, DatagramTransport, Datagram, DatagramStack};
    /// use std::io::ErrorKind;
    /// struct Count(std::sync::Arc<std::sync::atomic::AtomicU32>);
    /// impl DatagramProtocol for Count {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn error_received(&mut self, _: &mut dyn DatagramTransport, kind: ErrorKind) {
    ///         assert_eq!(kind, ErrorKind::ConnectionRefused);
    ///         self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ///     }
    /// }
    /// let n = std::sync::Arc::default();
    /// let mut s = DatagramStack::memory(Box::new(Count(std::sync::Arc::clone(&n))));
    /// let now = s.now();
    /// s.start(now);
    /// s.handle_error(now, ErrorKind::ConnectionRefused);
    /// assert_eq!(n.load(std::sync::atomic::Ordering::Relaxed), 1);
    /// ```
    fn error_received(&mut self, t: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        let _ = (t, kind);
    }
    /// Bytes this protocol holds for output.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// struct Holds(Vec<Vec<u8>>);
    /// impl DatagramProtocol for Holds {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn buffered(&self) -> usize { self.0.iter().map(Vec::len).sum() }
    /// }
    /// assert_eq!(Holds(vec![vec![0; 3], vec![0; 4]]).buffered(), 7);
    /// ```
    fn buffered(&self) -> usize {
        0
    }
}

impl<P: DatagramProtocol + ?Sized> DatagramProtocol for Box<P> {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        (**self).connection_made(t)
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        (**self).datagrams_received(t, batch)
    }
    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        (**self).eof_received(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        (**self).connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        (**self).pause_writing(t)
    }
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        (**self).resume_writing(t)
    }
    fn next_deadline(&self) -> Option<Instant> {
        (**self).next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        (**self).on_deadline(t)
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        (**self).on_wake(t, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        (**self).on_shutdown(t)
    }
    fn error_received(&mut self, t: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        (**self).error_received(t, kind)
    }
    fn buffered(&self) -> usize {
        (**self).buffered()
    }
}
