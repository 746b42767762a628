//! [`KcpListener`]: KCP conversations on an unconnected socket, one per
//! (source address, conv) pair.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::{KcpCounters, KcpStreamConfig, KCP};
use crate::deadline::after;
use crate::reliable::children::Children;
use crate::reliable::kcp::{peek_conv, segments, Command, Kcp, KcpConfig, KcpError};
use crate::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramTransport, StreamProtocol, WakeRoute,
};

/// A conversation's key: who sent it, and its conversation id.
type Key = (SocketAddr, u32);

/// Settings of a [`KcpListener`].
///
/// ```
/// use strata::reliable::kcp_stream::KcpListenerConfig;
/// let cfg = KcpListenerConfig { max_connections: 16, ..KcpListenerConfig::default() };
/// assert_eq!(KcpListenerConfig::default().max_connections, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcpListenerConfig {
    /// Settings of each conversation.
    pub stream: KcpStreamConfig,
    /// Most conversations at once; datagrams that would open more are
    /// dropped and counted as refused (default 1024).
    pub max_connections: usize,
    /// How long a finished conversation's (address, conv) pair stays
    /// blocked, so that the peer's late retransmissions do not open a new
    /// one (default 30 s; at most `max_connections` pairs are remembered).
    pub linger: Duration,
}

impl Default for KcpListenerConfig {
    fn default() -> Self {
        KcpListenerConfig {
            stream: KcpStreamConfig::default(),
            max_connections: 1024,
            linger: Duration::from_secs(30),
        }
    }
}

/// KCP conversations on an unconnected datagram transport (a UDP server
/// socket): a [`DatagramProtocol`] that demultiplexes datagrams by (source
/// address, conversation id) and runs each conversation like a
/// [`KcpStream`](super::KcpStream), hosting a protocol made by the factory.
///
/// * **Opening.** A datagram for an unknown pair opens a conversation only
///   if it is a well-formed KCP datagram carrying data (a PUSH segment) and
///   acknowledging nothing (every `una` is 0), as the first datagrams of a
///   client do; anything else is counted as stray and dropped. At
///   [`max_connections`](KcpListenerConfig::max_connections) it is refused
///   (counted), so a flood allocates bounded state. A finished pair stays
///   blocked for [`linger`](KcpListenerConfig::linger).
/// * **Children** send with `Transmit::to(their address, ..)`, answer their
///   peer's address as [`PeerAddr`](crate::PeerAddr), have their own watermarks and timers
///   (kept in a heap), and get wakes routed to them alone. One that ends
///   (close, idle, dead link, abort) is removed at once.
/// * **The socket's** back-pressure is shared: when the transport below
///   pauses writing, every child is paused. `on_shutdown` is forwarded to
///   every child, no conversation is accepted any more, and the transport is
///   closed when the last child ended.
///
/// See the [module documentation](super) for an example.
///
/// ```
/// # use std::sync::Arc;
/// # use strata::reliable::kcp::{Command, Segment};
/// # use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
/// # use strata::testing::MemoryDatagramTransport;
/// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
/// # struct Quit;
/// # impl StreamProtocol for Quit {
/// #     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
/// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
/// # }
/// # /// A client's first datagram: one PUSH of `data`, acknowledging nothing.
/// # fn first(conv: u32, data: &[u8]) -> Vec<u8> {
/// #     let mut d = Vec::new();
/// #     Segment { conv, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn: 0, una: 0, data }.encode(&mut d);
/// #     d
/// # }
/// # let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = ("192.0.2.1:4000".parse().unwrap(), "192.0.2.2:4000".parse().unwrap());
/// # let mut t = MemoryDatagramTransport::new(1500);
/// # use strata::DatagramTransport;
/// # struct Echo;
/// # impl StreamProtocol for Echo {
/// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// # let _ = b;
/// let mut l = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(Echo) as _)).unwrap();
/// l.connection_made(&mut t);
/// l.datagrams_received(&mut t, &[Datagram::new(Some(a), &first(7, b"ping"))]);
/// assert_eq!(l.connections(), 1);
/// let mut echoed = Vec::new();
/// while echoed.is_empty() {
///     t.advance(l.next_deadline().unwrap() - t.now());
///     l.on_deadline(&mut t);
///     for tx in t.take_sent() {
///         assert_eq!(tx.destination, Some(a));
///         let segs = strata::reliable::kcp::segments(&tx.contents);
///         echoed.extend(segs.flatten().filter(|s| s.cmd == Command::Push).flat_map(|s| s.data.to_vec()));
///     }
/// }
/// assert_eq!(echoed, b"ping");
/// # let _ = Quit;
/// ```
pub struct KcpListener {
    cfg: KcpListenerConfig,
    engine: KcpConfig,
    factory: crate::StreamFactory,
    counters: Arc<KcpCounters>,
    /// The conversations by id, routed by (address, conv), with their
    /// deadline index.
    children: Children<Key, Conn<crate::ProtocolSlot>>,
    lingering: HashMap<Key, Instant>,
    linger_order: VecDeque<(Instant, Key)>,
    next_id: u64,
    below_paused: bool,
    shutting_down: bool,
    dead: bool,
}

impl KcpListener {
    /// A listener making a protocol with `factory` for each conversation.
    /// Fails if `cfg.stream.kcp` is invalid.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
    /// use strata::{StreamProtocol, StreamTransport};
    /// struct Echo;
    /// impl StreamProtocol for Echo {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let l = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(Echo) as _)).unwrap();
    /// assert_eq!(l.connections(), 0);
    /// ```
    pub fn new(cfg: KcpListenerConfig, factory: crate::StreamFactory) -> Result<Self, KcpError> {
        let engine = cfg.stream.engine()?;
        Ok(KcpListener {
            cfg,
            engine,
            factory,
            counters: Arc::default(),
            children: Children::new(),
            lingering: HashMap::new(),
            linger_order: VecDeque::new(),
            next_id: 0,
            below_paused: false,
            shutting_down: false,
            dead: false,
        })
    }

    /// The counters handle (clone it before handing the listener over).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::kcp::{Command, Segment};
    /// # use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Quit;
    /// # impl StreamProtocol for Quit {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # /// A client's first datagram: one PUSH of `data`, acknowledging nothing.
    /// # fn first(conv: u32, data: &[u8]) -> Vec<u8> {
    /// #     let mut d = Vec::new();
    /// #     Segment { conv, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn: 0, una: 0, data }.encode(&mut d);
    /// #     d
    /// # }
    /// # let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = ("192.0.2.1:4000".parse().unwrap(), "192.0.2.2:4000".parse().unwrap());
    /// # let mut t = MemoryDatagramTransport::new(1500);
    /// # use strata::DatagramTransport;
    /// let mut l = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(Quit) as _)).unwrap();
    /// let counters = l.counters();
    /// l.connection_made(&mut t);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(b), b"junk")]);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(a), &first(1, b"x"))]);
    /// assert_eq!((counters.bad_datagrams(), counters.accepted()), (1, 1));
    /// ```
    pub fn counters(&self) -> Arc<KcpCounters> {
        self.counters.clone()
    }

    /// The counters in the native listener's shape
    /// ([`ReliableListener::stats`](crate::reliable::ReliableListener::stats)),
    /// so that monitoring reads either listener the same way: `accepted`,
    /// `refused`, `dropped_malformed` (the engine rejected the datagram)
    /// and `dropped_unknown` (for no conversation); the native-only fields
    /// (Retry, tokens, version negotiation, half-open evictions) stay 0.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
    /// # struct P;
    /// # impl strata::StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let l = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(P) as _)).unwrap();
    /// assert_eq!(l.stats(), strata::reliable::ListenerStats::default());
    /// ```
    pub fn stats(&self) -> crate::reliable::ListenerStats {
        let c = &self.counters;
        crate::reliable::ListenerStats {
            accepted: c.accepted(),
            refused: c.refused(),
            dropped_malformed: c.bad_datagrams(),
            dropped_unknown: c.stray_datagrams(),
            ..crate::reliable::ListenerStats::default()
        }
    }

    /// Conversations running now.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::kcp::{Command, Segment};
    /// # use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Quit;
    /// # impl StreamProtocol for Quit {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # /// A client's first datagram: one PUSH of `data`, acknowledging nothing.
    /// # fn first(conv: u32, data: &[u8]) -> Vec<u8> {
    /// #     let mut d = Vec::new();
    /// #     Segment { conv, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn: 0, una: 0, data }.encode(&mut d);
    /// #     d
    /// # }
    /// # let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = ("192.0.2.1:4000".parse().unwrap(), "192.0.2.2:4000".parse().unwrap());
    /// # let mut t = MemoryDatagramTransport::new(1500);
    /// # use strata::DatagramTransport;
    /// # struct Sink;
    /// # impl StreamProtocol for Sink {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let _ = Quit;
    /// let mut l = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(Sink) as _)).unwrap();
    /// l.connection_made(&mut t);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(a), &first(1, b"x"))]);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(a), &first(2, b"x"))]); // another conv
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(b), &first(1, b"x"))]); // another address
    /// assert_eq!(l.connections(), 3);
    /// ```
    pub fn connections(&self) -> usize {
        self.children.len()
    }

    /// Routes one datagram; returns the child it went to.
    fn route(&mut self, t: &mut dyn DatagramTransport, d: &Datagram<'_>) -> Option<u64> {
        let (Some(src), Some(conv)) = (d.source, peek_conv(d.data)) else {
            let c = &self.counters;
            KcpCounters::bump(if d.source.is_none() { &c.stray } else { &c.bad });
            return None;
        };
        let key = (src, conv);
        if let Some(id) = self.children.id_of(&key) {
            if let Some(conn) = self.children.get_mut(id) {
                conn.input(t, d.data);
            }
            return Some(id);
        }
        let now = t.now();
        self.expire_lingering(now);
        if self.lingering.contains_key(&key) || !opens(d.data, conv) {
            KcpCounters::bump(&self.counters.stray);
            return None;
        }
        if self.shutting_down || self.children.len() >= self.cfg.max_connections {
            KcpCounters::bump(&self.counters.refused);
            return None;
        }
        let id = self.open(t, key)?;
        if let Some(conn) = self.children.get_mut(id) {
            conn.input(t, d.data);
        }
        Some(id)
    }

    /// Starts a conversation for `key`.
    fn open(&mut self, t: &mut dyn DatagramTransport, key: Key) -> Option<u64> {
        let kcp = match Kcp::new(key.1, self.engine.clone()) {
            Ok(k) => k,
            Err(e) => {
                // The config was validated in `new`.
                tracing::warn!("kcp: cannot open a conversation: {e}");
                return None;
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        let mut conn = Conn::kcp(
            crate::ProtocolSlot::new((self.factory)()),
            kcp,
            &self.cfg.stream,
            self.counters.clone(),
        );
        conn.set_peer(key.0);
        conn.wake_id = Some(id);
        conn.ext.below_paused = self.below_paused;
        KcpCounters::bump(&self.counters.accepted);
        conn.trace(t, crate::qlog::Vantage::Server, Some(key.0));
        conn.start(t);
        self.children.insert(id, key, conn);
        Some(id)
    }

    fn expire_lingering(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.linger_order.front() {
            if at > now && self.linger_order.len() <= self.cfg.max_connections {
                break;
            }
            self.linger_order.pop_front();
            if self.lingering.get(&key) == Some(&at) {
                self.lingering.remove(&key);
            }
        }
    }

    /// After a callback on child `id`: removes it if it ended, else
    /// updates its place in the deadline index.
    fn after(&mut self, t: &mut dyn DatagramTransport, id: u64) {
        let Some(conn) = self.children.get_mut(id) else {
            return;
        };
        if let Some(why) = conn.ext.end.clone() {
            if let Some((key, mut conn)) = self.children.remove(id) {
                conn.lost(&why);
                let until = after(t.now(), self.cfg.linger);
                self.lingering.insert(key, until);
                self.linger_order.push_back((until, key));
                self.expire_lingering(t.now());
                KcpCounters::bump(&self.counters.closed);
            }
            if self.shutting_down && self.children.is_empty() {
                t.close();
            }
            return;
        }
        let next = conn.next_deadline();
        self.children.rearm(id, next);
    }

    /// Runs `f` on every child, then `after` each.
    fn each(
        &mut self,
        t: &mut dyn DatagramTransport,
        mut f: impl FnMut(&mut Conn<crate::ProtocolSlot>, &mut dyn DatagramTransport),
    ) {
        for id in self.children.ids_sorted() {
            if let Some(conn) = self.children.get_mut(id) {
                f(conn, t);
            }
            self.after(t, id);
        }
    }
}

/// True if `data` may open a conversation: well-formed, one conversation,
/// carrying data, acknowledging nothing.
fn opens(data: &[u8], conv: u32) -> bool {
    let mut push = false;
    for seg in segments(data) {
        let Ok(seg) = seg else { return false };
        if seg.conv != conv || seg.una != 0 {
            return false;
        }
        push |= seg.cmd == Command::Push;
    }
    push
}

impl DatagramProtocol for KcpListener {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        let (mtu, max) = (self.engine.mtu, t.max_datagram_size());
        if max < mtu {
            tracing::warn!("kcp: datagrams of {max} bytes cannot carry the MTU of {mtu}");
            self.dead = true;
            let reason = AbortReason::FrameTooLarge {
                size: mtu,
                limit: max,
            };
            t.abort(Close::aborted(KCP, reason));
        }
    }

    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        if self.dead {
            return;
        }
        for d in batch {
            if let Some(id) = self.route(t, d) {
                self.children.touch(id);
            }
        }
        let touched = self.children.take_touched();
        for &id in &touched {
            if let Some(conn) = self.children.get_mut(id) {
                conn.settle(t);
            }
            self.after(t, id);
        }
        self.children.untouch(touched);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.dead = true;
        self.children.drain(|mut conn| conn.lost(why));
    }

    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.below_paused = true;
        self.each(t, |c, t| {
            c.ext.below_paused = true;
            c.settle(t);
        });
    }

    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.below_paused = false;
        self.each(t, |c, t| {
            c.ext.below_paused = false;
            c.settle(t);
        });
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.children.next_deadline()
    }

    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        for id in self.children.take_due(t.now()) {
            if let Some(conn) = self.children.get_mut(id) {
                conn.on_deadline(t);
            }
            self.after(t, id);
        }
    }

    fn on_wake(&mut self, t: &mut dyn DatagramTransport, mut route: WakeRoute<'_>) {
        let Some(id) = route.next_hop() else {
            return;
        };
        if let Some(conn) = self.children.get_mut(id) {
            conn.call(t, |p, v| p.on_wake(v, route));
        }
        self.after(t, id);
    }

    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.shutting_down = true;
        if self.children.is_empty() {
            return t.close();
        }
        self.each(t, |c, t| c.call(t, |p, v| p.on_shutdown(v)));
    }

    fn buffered(&self) -> usize {
        self.children.values().map(|c| c.buffered()).sum()
    }
}

impl std::fmt::Debug for KcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpListener")
            .field("connections", &self.children.len())
            .field("lingering", &self.lingering.len())
            .finish_non_exhaustive()
    }
}
