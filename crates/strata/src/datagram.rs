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
    pub fn segments(&self) -> impl Iterator<Item = &'a [u8]> {
        let size = self.segment_size.unwrap_or(self.contents.len()).max(1);
        self.contents.chunks(size)
    }
}

/// One received datagram, as handed to `datagrams_received` in a batch.
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
    fn send(&mut self, tx: &Transmit<'_>);
    /// The largest payload one datagram may carry.
    fn max_datagram_size(&self) -> usize;
    /// No more datagrams will be sent. Transports framed over a stream
    /// half-close; others just stop.
    fn write_eof(&mut self) {}
    /// Flushes, then closes, bounded by a deadline.
    fn close(&mut self);
    /// Drops everything now, with a typed reason.
    fn abort(&mut self, why: Close);
    /// Stops delivering datagrams until `resume_reading`.
    fn pause_reading(&mut self);
    /// Resumes delivery.
    fn resume_reading(&mut self);
    /// Bytes queued but not yet sent, this layer and below.
    fn buffered(&self) -> usize;
    /// Level back-pressure: false at or over the high-water mark.
    fn writable(&self) -> bool;
    /// The current time, from the driver.
    fn now(&self) -> Instant;
    /// A handle that reaches this protocol's `on_wake` from any thread.
    fn waker(&self) -> Wake;
}

impl<'a> dyn DatagramTransport + 'a {
    /// Looks a capability up through the stack, top layer first.
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        (self as &dyn Introspect).get::<T>()
    }

    /// The names of the layers, top first.
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
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// A batch of datagrams arrived (one system call's worth, with GRO split).
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]);
    /// Only over a stream: the peer will send no more datagrams.
    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// The transport is gone; called once, last.
    fn connection_lost(&mut self, why: &Close) {
        let _ = why;
    }
    /// Edge: the send queue crossed its high-water mark.
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// Edge: the send queue drained to its low-water mark.
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// The earliest time this protocol (and its inner ones) wants `on_deadline`.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// A deadline passed. Spurious calls are allowed.
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        let _ = t;
    }
    /// A wake handle was woken; see [`StreamProtocol::on_wake`](crate::StreamProtocol::on_wake).
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        let _ = (t, route);
    }
    /// The owner is shutting down gracefully; the default closes.
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
