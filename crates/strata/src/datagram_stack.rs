//! [`DatagramStack`]: the bottom slot of a datagram stack, sans-IO.

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::qlog::QlogTracer;
use crate::{
    Close, Datagram, DatagramProtocol, DatagramTransport, Ecn, Introspect, LocalAddr, PeerAddr,
    StackConfig, Timeout, Transmit, Wake, WakeHub, WakeRoute,
};

/// A datagram queued for sending, owning its bytes.
///
/// ```
/// use strata::{OwnedTransmit, Transmit};
/// let owned = OwnedTransmit::from_transmit(&Transmit::connected(b"kept"));
/// assert_eq!(owned.contents, b"kept");
/// assert_eq!(owned.as_transmit(), Transmit::connected(b"kept"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedTransmit {
    /// See [`Transmit::destination`].
    pub destination: Option<SocketAddr>,
    /// See [`Transmit::src_ip`].
    pub src_ip: Option<IpAddr>,
    /// See [`Transmit::ecn`].
    pub ecn: Option<Ecn>,
    /// See [`Transmit::segment_size`].
    pub segment_size: Option<usize>,
    /// The payload.
    pub contents: Vec<u8>,
}

impl OwnedTransmit {
    /// Copies a borrowed transmit.
    ///
    /// ```
    /// use strata::{OwnedTransmit, Transmit};
    /// let to = "127.0.0.1:53".parse().unwrap();
    /// let owned = OwnedTransmit::from_transmit(&Transmit::to(to, b"q"));
    /// assert_eq!(owned.destination, Some(to));
    /// ```
    pub fn from_transmit(t: &Transmit<'_>) -> Self {
        OwnedTransmit {
            destination: t.destination,
            src_ip: t.src_ip,
            ecn: t.ecn,
            segment_size: t.segment_size,
            contents: t.contents.to_vec(),
        }
    }

    /// Borrows it back.
    ///
    /// ```
    /// use strata::{OwnedTransmit, Transmit};
    /// let t = Transmit { segment_size: Some(2), ..Transmit::connected(b"aabb") };
    /// let owned = OwnedTransmit::from_transmit(&t);
    /// assert_eq!(owned.as_transmit(), t);
    /// assert_eq!(owned.as_transmit().segments().count(), 2);
    /// ```
    pub fn as_transmit(&self) -> Transmit<'_> {
        Transmit {
            destination: self.destination,
            src_ip: self.src_ip,
            ecn: self.ecn,
            segment_size: self.segment_size,
            contents: &self.contents,
        }
    }
}

/// What a datagram bottom transport says about itself.
///
/// ```
/// use std::sync::Arc;
/// use strata::{Addr, DatagramInfo, DatagramStack, LocalAddr, StackConfig};
/// # use strata::{Datagram, DatagramProtocol, DatagramTransport};
/// # struct Quiet;
/// # impl DatagramProtocol for Quiet {
/// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// # }
/// let info = DatagramInfo { name: "udp", local: Some(LocalAddr(Addr::Memory(1))), peer: None, max_datagram_size: 1472, dialer: None };
/// let now = std::time::Instant::now();
/// let mut s = DatagramStack::new(Box::new(Quiet), info, Arc::new(StackConfig::default()), now);
/// s.start(now);
/// assert!(s.finished().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct DatagramInfo {
    /// Layer name (`udp`, `sim`, `memory`).
    pub name: &'static str,
    /// Our address.
    pub local: Option<LocalAddr>,
    /// The connected peer, for a connected socket.
    pub peer: Option<PeerAddr>,
    /// Largest payload of one datagram.
    pub max_datagram_size: usize,
    /// How protocols of this stack (and the streams a carrier above runs)
    /// open connections (`t.get::<Dialer>()`): the driver's, if it gave one.
    pub dialer: Option<crate::DialerId>,
}

/// The bottom slot of a datagram stack: the datagram twin of
/// [`Stack`](crate::Stack), with the same owner loop (handle events, send
/// [`transmits`](DatagramStack::transmits), sleep until input, deadline or wake).
///
/// Sends over the memory budget are dropped and counted, as a full socket
/// buffer would drop them.
///
/// ```
/// use strata::{DatagramStack, DatagramProtocol, DatagramTransport, Datagram, Transmit};
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
///         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
///     }
/// }
/// let mut s = DatagramStack::memory(Box::new(Echo));
/// let now = s.now();
/// let from = "127.0.0.1:9".parse().unwrap();
/// s.handle_datagrams(now, &[Datagram::new(Some(from), b"hi")]);
/// let out = s.take_transmits(now);
/// assert_eq!((out[0].destination, &out[0].contents[..]), (Some(from), &b"hi"[..]));
/// ```
pub struct DatagramStack {
    proto: Option<Box<dyn DatagramProtocol>>,
    b: DBottom,
    finished: Option<Close>,
}

struct DBottom {
    cfg: Arc<StackConfig>,
    info: DatagramInfo,
    now: Instant,
    out: VecDeque<OwnedTransmit>,
    out_bytes: usize,
    dropped: u64,
    read_paused: bool,
    closing: Option<Instant>,
    abort: Option<Close>,
    write_paused: bool,
    hub: OnceLock<Arc<WakeHub>>,
    /// Makes a qlog trace per connection ([`DatagramStack::set_qlog`]).
    qlog: Option<QlogTracer>,
}

impl DatagramStack {
    /// A stack over a datagram bottom described by `info`; call `start` first.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// use std::sync::Arc;
    /// use strata::{DatagramInfo, StackConfig};
    /// let info = DatagramInfo { name: "udp", local: None, peer: None, max_datagram_size: 1200, dialer: None };
    /// let now = std::time::Instant::now();
    /// let mut s = DatagramStack::new(Box::new(Echo), info, Arc::new(StackConfig::default()), now);
    /// s.start(now);
    /// s.handle_datagrams(now, &[Datagram::new(Some(from), b"x")]);
    /// assert_eq!(s.take_transmits(now).len(), 1);
    /// ```
    pub fn new(
        proto: Box<dyn DatagramProtocol>,
        info: DatagramInfo,
        cfg: Arc<StackConfig>,
        now: Instant,
    ) -> Self {
        let cfg_qlog = cfg.qlog.clone();
        DatagramStack {
            proto: Some(proto),
            b: DBottom {
                cfg,
                info,
                now,
                out: VecDeque::new(),
                out_bytes: 0,
                dropped: 0,
                read_paused: false,
                closing: None,
                abort: None,
                write_paused: false,
                hub: OnceLock::new(),
                qlog: cfg_qlog,
            },
            finished: None,
        }
    }

    /// Gives the socket a qlog tracer (in place of the configuration's,
    /// [`StackConfig::qlog`]): the bottom answers it as a
    /// capability (`t.get::<QlogTracer>()`), and each connection the
    /// protocol carries (the reliable mapping's client or listener
    /// children, QUIC) asks it for its own trace. Call before
    /// [`start`](DatagramStack::start).
    ///
    /// ```
    /// use strata::qlog::QlogTracer;
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// # struct Quiet;
    /// # impl DatagramProtocol for Quiet {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// # }
    /// let mut s = DatagramStack::memory(Box::new(Quiet));
    /// s.set_qlog(QlogTracer::new(|_| None));
    /// ```
    pub fn set_qlog(&mut self, tracer: QlogTracer) {
        self.b.qlog = Some(tracer);
    }

    /// Calls `connection_made`, then settles.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::{DatagramInfo, DatagramStack, StackConfig, Transmit};
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// struct Hello;
    /// impl DatagramProtocol for Hello {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         t.send(&Transmit::to("127.0.0.1:7".parse().unwrap(), b"hello"))
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let info = DatagramInfo { name: "udp", local: None, peer: None, max_datagram_size: 1200, dialer: None };
    /// let now = std::time::Instant::now();
    /// let mut s = DatagramStack::new(Box::new(Hello), info, Arc::new(StackConfig::default()), now);
    /// assert_eq!(s.transmits().count(), 0);
    /// s.start(now);
    /// assert_eq!(s.transmits().count(), 1);
    /// ```
    pub fn start(&mut self, now: Instant) {
        self.tick(now);
        if let Some(p) = self.proto.as_mut() {
            p.connection_made(&mut DView { b: &mut self.b });
        }
        self.settle();
    }

    fn tick(&mut self, now: Instant) {
        if now > self.b.now {
            self.b.now = now;
        }
    }

    /// The time of the last event.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let t0 = s.now();
    /// s.handle_timeout(t0 + std::time::Duration::from_secs(1));
    /// assert_eq!(s.now() - t0, std::time::Duration::from_secs(1));
    /// ```
    pub fn now(&self) -> Instant {
        self.b.now
    }

    /// A batch of datagrams arrived. While reading is paused they are dropped
    /// (the owner should not read then; datagrams may be lost).
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_datagrams(now, &[Datagram::new(Some(from), b"a"), Datagram::new(Some(from), b"b")]);
    /// assert_eq!(s.transmits().count(), 2);
    /// ```
    pub fn handle_datagrams(&mut self, now: Instant, batch: &[Datagram<'_>]) {
        self.tick(now);
        if self.finished.is_some() || batch.is_empty() {
            return;
        }
        if self.b.read_paused {
            self.b.dropped += batch.len() as u64;
            return;
        }
        if let Some(p) = self.proto.as_mut() {
            p.datagrams_received(&mut DView { b: &mut self.b }, batch);
        }
        self.settle();
    }

    /// Time passed.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_timeout(now); // nothing is due: nothing happens
    /// assert!(s.finished().is_none());
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.finished.is_some() {
            return;
        }
        if self.b.closing.is_some_and(|d| d <= now) {
            self.finish(Close::Timeout(Timeout::CloseFlush));
            return;
        }
        if let Some(p) = self.proto.as_mut()
            && p.next_deadline().is_some_and(|d| d <= now)
        {
            p.on_deadline(&mut DView { b: &mut self.b });
        }
        self.settle();
    }

    /// The owner is draining: delivers `on_shutdown`, then settles.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_shutdown(now);
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.tick(now);
        if self.finished.is_some() || self.b.closing.is_some() {
            return;
        }
        if let Some(p) = self.proto.as_mut() {
            p.on_shutdown(&mut DView { b: &mut self.b });
        }
        self.settle();
    }

    /// The socket reported an error for an earlier datagram (an ICMP
    /// unreachable on a connected socket): delivers `error_received`, then
    /// settles. A hint only: see [`DatagramProtocol::error_received`].
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// #[derive(Default)]
    /// struct Errors(Vec<ErrorKind>);
    /// impl DatagramProtocol for Errors {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn error_received(&mut self, _: &mut dyn DatagramTransport, kind: ErrorKind) { self.0.push(kind) }
    ///     fn connection_lost(&mut self, _: &strata::Close) {}
    /// }
    /// let mut s = DatagramStack::memory(Box::new(Errors::default()));
    /// let now = s.now();
    /// s.handle_error(now, ErrorKind::ConnectionRefused); // an ICMP port unreachable
    /// assert!(s.finished().is_none()); // a hint: the stack carries on
    /// ```
    pub fn handle_error(&mut self, now: Instant, kind: std::io::ErrorKind) {
        self.tick(now);
        if self.finished.is_some() {
            return;
        }
        if let Some(p) = self.proto.as_mut() {
            p.error_received(&mut DView { b: &mut self.b }, kind);
        }
        self.settle();
    }

    /// Delivers pending wakes.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_wakes(now); // no waker handed out: nothing to deliver
    /// assert!(s.wake_hub().is_none());
    /// ```
    pub fn handle_wakes(&mut self, now: Instant) {
        self.tick(now);
        let Some(hub) = self.b.hub.get().cloned() else {
            return;
        };
        for route in hub.take() {
            if let Some(p) = self.proto.as_mut() {
                p.on_wake(&mut DView { b: &mut self.b }, WakeRoute::new(&route));
            }
            self.settle();
        }
    }

    /// The socket failed.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// use strata::Close;
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_lost(now, Close::Io(std::io::ErrorKind::NetworkDown));
    /// assert!(matches!(s.finished(), Some(Close::Io(std::io::ErrorKind::NetworkDown))));
    /// ```
    pub fn handle_lost(&mut self, now: Instant, why: Close) {
        self.tick(now);
        self.finish(why);
    }

    /// The wake hub, once a waker was handed out.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let s = DatagramStack::memory(Box::new(Echo));
    /// assert!(s.wake_hub().is_none());
    /// ```
    pub fn wake_hub(&self) -> Option<&Arc<WakeHub>> {
        self.b.hub.get()
    }

    /// Earliest deadline.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let s = DatagramStack::memory(Box::new(Echo));
    /// assert_eq!(s.next_deadline(), None); // Echo sets no timer
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.finished.is_some() {
            return None;
        }
        let p = self.proto.as_ref().and_then(|p| p.next_deadline());
        match (p, self.b.closing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True while the owner should read.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let s = DatagramStack::memory(Box::new(Echo));
    /// assert!(s.wants_read());
    /// ```
    pub fn wants_read(&self) -> bool {
        self.finished.is_none() && !self.b.read_paused
    }

    /// The queued datagrams, oldest first.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_datagrams(now, &[Datagram::new(Some(from), b"one")]);
    /// let queued: Vec<&[u8]> = s.transmits().map(|t| &t.contents[..]).collect();
    /// assert_eq!(queued, [&b"one"[..]]);
    /// ```
    pub fn transmits(&self) -> impl Iterator<Item = &OwnedTransmit> {
        self.b.out.iter()
    }

    /// The first `n` queued datagrams were sent (or dropped by the OS).
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_datagrams(now, &[Datagram::new(Some(from), b"1"), Datagram::new(Some(from), b"2")]);
    /// s.consume(now, 1); // the socket took the first
    /// assert_eq!(s.take_transmits(now)[0].contents, b"2");
    /// ```
    pub fn consume(&mut self, now: Instant, n: usize) {
        self.tick(now);
        for _ in 0..n {
            if let Some(t) = self.b.out.pop_front() {
                self.b.out_bytes -= t.contents.len();
            }
        }
        self.settle();
    }

    /// Takes every queued datagram.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// let now = s.now();
    /// s.handle_datagrams(now, &[Datagram::new(Some(from), b"x")]);
    /// assert_eq!(s.take_transmits(now).len(), 1);
    /// assert_eq!(s.transmits().count(), 0);
    /// ```
    pub fn take_transmits(&mut self, now: Instant) -> Vec<OwnedTransmit> {
        self.tick(now);
        self.b.out_bytes = 0;
        let v = self.b.out.drain(..).collect();
        self.settle();
        v
    }

    /// Datagrams dropped so far (over budget, oversized, or paused input).
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo)); // 1200-byte datagrams
    /// let now = s.now();
    /// let big = vec![0u8; 1500];
    /// s.handle_datagrams(now, &[Datagram::new(Some(from), &big)]); // its echo is too big
    /// assert_eq!(s.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.b.dropped
    }

    /// `Some` once over; `connection_lost` has run.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport, Transmit};
    /// # struct Echo;
    /// # impl DatagramProtocol for Echo {
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         for d in b { t.send(&Transmit { destination: d.source, ..Transmit::connected(d.data) }) }
    /// #     }
    /// # }
    /// # let from: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// let mut s = DatagramStack::memory(Box::new(Echo));
    /// assert!(s.finished().is_none());
    /// let now = s.now();
    /// s.handle_shutdown(now);
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    pub fn finished(&self) -> Option<&Close> {
        self.finished.as_ref()
    }

    fn finish(&mut self, why: Close) {
        if self.finished.is_some() {
            return;
        }
        if !why.is_clean() {
            self.b.out.clear();
            self.b.out_bytes = 0;
        }
        if let Some(mut p) = self.proto.take() {
            p.connection_lost(&why);
        }
        self.finished = Some(why);
    }

    fn settle(&mut self) {
        loop {
            if self.finished.is_some() {
                return;
            }
            if let Some(why) = self.b.abort.take() {
                self.finish(why);
                return;
            }
            let Some(p) = self.proto.as_mut() else {
                return;
            };
            let queued = self.b.out_bytes + p.buffered();
            if self.b.closing.is_some() && queued == 0 {
                self.finish(Close::Done);
                return;
            }
            if !self.b.write_paused && queued >= self.b.cfg.high_water {
                self.b.write_paused = true;
                p.pause_writing(&mut DView { b: &mut self.b });
                continue;
            }
            if self.b.write_paused && queued <= self.b.cfg.low_water {
                self.b.write_paused = false;
                p.resume_writing(&mut DView { b: &mut self.b });
                continue;
            }
            return;
        }
    }
}

struct DView<'a> {
    b: &'a mut DBottom,
}

impl Introspect for DView<'_> {
    fn name(&self) -> &'static str {
        self.b.info.name
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<PeerAddr>() {
            return self.b.info.peer.as_ref().map(|a| a as &dyn Any);
        }
        if id == TypeId::of::<LocalAddr>() {
            return self.b.info.local.as_ref().map(|a| a as &dyn Any);
        }
        if id == TypeId::of::<crate::Dialer>() {
            return self.b.info.dialer.map(|d| d.dialer() as &dyn Any);
        }
        if id == TypeId::of::<QlogTracer>() {
            return self.b.qlog.as_ref().map(|q| q as &dyn Any);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        None
    }
}

impl DatagramTransport for DView<'_> {
    fn send(&mut self, tx: &Transmit<'_>) {
        let b = &mut *self.b;
        let max = b.info.max_datagram_size;
        let too_big = match tx.segment_size {
            Some(s) => s > max,
            None => tx.contents.len() > max,
        };
        if b.closing.is_some()
            || b.abort.is_some()
            || too_big
            || b.out_bytes + tx.contents.len() > b.cfg.memory_budget
        {
            b.dropped += 1;
            return;
        }
        b.out_bytes += tx.contents.len();
        b.out.push_back(OwnedTransmit::from_transmit(tx));
    }
    fn max_datagram_size(&self) -> usize {
        self.b.info.max_datagram_size
    }
    fn close(&mut self) {
        if self.b.closing.is_none() {
            self.b.closing = Some(self.b.now + self.b.cfg.close_timeout);
        }
    }
    fn abort(&mut self, why: Close) {
        if self.b.abort.is_none() {
            self.b.abort = Some(why);
        }
    }
    fn pause_reading(&mut self) {
        self.b.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.b.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.b.out_bytes
    }
    fn writable(&self) -> bool {
        self.b.closing.is_none() && self.b.out_bytes < self.b.cfg.high_water
    }
    fn now(&self) -> Instant {
        self.b.now
    }
    fn waker(&self) -> Wake {
        Wake::root(self.b.hub.get_or_init(WakeHub::new).clone())
    }
}
