//! [`ReliableListener`]: the server side of the reliable mapping on one
//! unconnected datagram transport (a UDP socket), for many connections.

use std::net::SocketAddr;
use std::time::Instant;

use super::children::Children;
use super::conn::{Connection, ReliableConfig};
use super::cookie::CookieKey;
use super::native_host::{NativeHosted, NAME};
use super::rng::{IdRng, Role};
use super::wire::{self, ConnId, ErrorCode, Frame, Header, PacketNumber, WireError};
use crate::qlog::Vantage;
use crate::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramTransport, StreamFactory,
    StreamProtocol, Transmit, WakeRoute,
};

/// What a listener counted.
///
/// ```
/// assert_eq!(strata::reliable::ListenerStats::default().accepted, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Connections created.
    pub accepted: u64,
    /// Retry packets sent (no state kept for them).
    pub retries: u64,
    /// Initials with an invalid or expired token.
    pub invalid_tokens: u64,
    /// Initials refused because of `max_connections` or a shutdown.
    pub refused: u64,
    /// Half-open connections evicted for newer ones (`max_half_open`).
    pub evicted_half_open: u64,
    /// Version Negotiation packets sent.
    pub version_negotiations: u64,
    /// Datagrams that did not parse.
    pub dropped_malformed: u64,
    /// Datagrams for no known connection, without a source, or of a type a
    /// server never accepts.
    pub dropped_unknown: u64,
}

struct Child {
    /// The connection's protocol, in a swap point (it may swap itself).
    host: NativeHosted<crate::ProtocolSlot>,
    /// Counted in `half_open` (created, handshake not finished).
    half_open: bool,
}

/// The server side of the reliable mapping: listens on one unconnected
/// datagram transport, validates each client's address with a stateless
/// Retry cookie, demultiplexes by connection id, and runs a new stream
/// protocol from the factory over each connection (the `reliable` view,
/// as [`Reliable`](super::Reliable) gives a client).
///
/// # Bad input and floods
///
/// Malformed datagrams, unknown ids and unexpected packet types are dropped
/// and counted ([`ListenerStats`]). With `require_retry` (the default) an
/// Initial creates state only with a valid token, which a spoofed source
/// never receives; without it, a new connection sends at most three times
/// what it received until the address is proven. At `max_connections`, new
/// clients are refused with CONNECTION_REFUSED, statelessly.
///
/// ```
/// use std::sync::Arc;
/// use strata::reliable::{ReliableConfig, ReliableListener};
/// use strata::{StreamProtocol, StreamTransport};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let listener = ReliableListener::new(ReliableConfig::default(), Arc::new(|| Box::new(Echo) as _));
/// assert_eq!(listener.connections(), 0);
/// ```
pub struct ReliableListener {
    cfg: ReliableConfig,
    factory: StreamFactory,
    key: Option<CookieKey>,
    /// Connection ids and the cookie key ([`ReliableConfig::rng_seed`]).
    rng: IdRng,
    /// The time cookies count seconds from.
    epoch: Option<Instant>,
    /// The connections by our id, routed by the client's (address, id),
    /// with their deadline index.
    children: Children<(SocketAddr, u64), Child>,
    /// Half-open connections, oldest first (entries that finished their
    /// handshake or are gone are skipped when met).
    half_open_order: std::collections::VecDeque<u64>,
    /// How many children are half-open.
    half_open: usize,
    shutting_down: bool,
    stats: ListenerStats,
    scratch: Vec<u8>,
}

impl ReliableListener {
    /// A listener that runs `factory()`'s protocol over each connection.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Carries what each side sent to the other, `rounds` times.
    /// # fn exchange(
    /// #     client: &mut Reliable<Hi>, ct: &mut MemoryDatagramTransport,
    /// #     listener: &mut ReliableListener, lt: &mut MemoryDatagramTransport, rounds: usize,
    /// # ) {
    /// #     let from = "192.0.2.1:5000".parse().unwrap();
    /// #     for _ in 0..rounds {
    /// #         for d in ct.take_sent() { listener.datagrams_received(lt, &[Datagram::new(Some(from), &d.contents)]) }
    /// #         for d in lt.take_sent() { DatagramProtocol::datagrams_received(client, ct, &[Datagram::new(None, &d.contents)]) }
    /// #     }
    /// # }
    /// # let (mut ct, mut lt) = (MemoryDatagramTransport::new(1200), MemoryDatagramTransport::new(1200));
    /// # let mut client = Reliable::new(ReliableConfig::default(), Hi);
    /// # let mut listener = ReliableListener::new(ReliableConfig::default(), Arc::new(|| Box::new(Echo) as _));
    /// # DatagramProtocol::connection_made(&mut listener, &mut lt);
    /// # DatagramProtocol::connection_made(&mut client, &mut ct);
    /// // The client's first Initial gets a stateless Retry: no connection yet.
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 1);
    /// assert_eq!(listener.stats().retries, 1);
    /// assert_eq!(listener.connections(), 0);
    /// // Its second Initial carries the token: the listener accepts it.
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 1);
    /// assert_eq!(listener.connections(), 1);
    /// ```
    pub fn new(cfg: ReliableConfig, factory: StreamFactory) -> Self {
        ReliableListener {
            rng: IdRng::new(cfg.rng_seed, Role::Listener).routable(cfg.routable_ids()),
            cfg,
            factory,
            key: None,
            epoch: None,
            children: Children::new(),
            half_open_order: std::collections::VecDeque::new(),
            half_open: 0,
            shutting_down: false,
            stats: ListenerStats::default(),
            scratch: Vec::with_capacity(1500),
        }
    }

    /// Connections open now.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Carries what each side sent to the other, `rounds` times.
    /// # fn exchange(
    /// #     client: &mut Reliable<Hi>, ct: &mut MemoryDatagramTransport,
    /// #     listener: &mut ReliableListener, lt: &mut MemoryDatagramTransport, rounds: usize,
    /// # ) {
    /// #     let from = "192.0.2.1:5000".parse().unwrap();
    /// #     for _ in 0..rounds {
    /// #         for d in ct.take_sent() { listener.datagrams_received(lt, &[Datagram::new(Some(from), &d.contents)]) }
    /// #         for d in lt.take_sent() { DatagramProtocol::datagrams_received(client, ct, &[Datagram::new(None, &d.contents)]) }
    /// #     }
    /// # }
    /// # let (mut ct, mut lt) = (MemoryDatagramTransport::new(1200), MemoryDatagramTransport::new(1200));
    /// # let mut client = Reliable::new(ReliableConfig::default(), Hi);
    /// # let mut listener = ReliableListener::new(ReliableConfig::default(), Arc::new(|| Box::new(Echo) as _));
    /// # DatagramProtocol::connection_made(&mut listener, &mut lt);
    /// # DatagramProtocol::connection_made(&mut client, &mut ct);
    /// assert_eq!(listener.connections(), 0);
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 3);
    /// assert_eq!(listener.connections(), 1);
    /// ```
    pub fn connections(&self) -> usize {
        self.children.len()
    }

    /// What it counted.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Carries what each side sent to the other, `rounds` times.
    /// # fn exchange(
    /// #     client: &mut Reliable<Hi>, ct: &mut MemoryDatagramTransport,
    /// #     listener: &mut ReliableListener, lt: &mut MemoryDatagramTransport, rounds: usize,
    /// # ) {
    /// #     let from = "192.0.2.1:5000".parse().unwrap();
    /// #     for _ in 0..rounds {
    /// #         for d in ct.take_sent() { listener.datagrams_received(lt, &[Datagram::new(Some(from), &d.contents)]) }
    /// #         for d in lt.take_sent() { DatagramProtocol::datagrams_received(client, ct, &[Datagram::new(None, &d.contents)]) }
    /// #     }
    /// # }
    /// # let (mut ct, mut lt) = (MemoryDatagramTransport::new(1200), MemoryDatagramTransport::new(1200));
    /// # let mut client = Reliable::new(ReliableConfig::default(), Hi);
    /// # let mut listener = ReliableListener::new(ReliableConfig::default(), Arc::new(|| Box::new(Echo) as _));
    /// # DatagramProtocol::connection_made(&mut listener, &mut lt);
    /// # DatagramProtocol::connection_made(&mut client, &mut ct);
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 3);
    /// listener.datagrams_received(&mut lt, &[Datagram::new(Some("192.0.2.9:9".parse().unwrap()), b"junk")]);
    /// let stats = listener.stats();
    /// assert_eq!((stats.retries, stats.accepted), (1, 1));
    /// assert_eq!(stats.dropped_malformed, 1);
    /// ```
    pub fn stats(&self) -> ListenerStats {
        self.stats
    }

    /// Half-open connections now (created, handshake not finished).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Carries what each side sent to the other, `rounds` times.
    /// # fn exchange(
    /// #     client: &mut Reliable<Hi>, ct: &mut MemoryDatagramTransport,
    /// #     listener: &mut ReliableListener, lt: &mut MemoryDatagramTransport, rounds: usize,
    /// # ) {
    /// #     let from = "192.0.2.1:5000".parse().unwrap();
    /// #     for _ in 0..rounds {
    /// #         for d in ct.take_sent() { listener.datagrams_received(lt, &[Datagram::new(Some(from), &d.contents)]) }
    /// #         for d in lt.take_sent() { DatagramProtocol::datagrams_received(client, ct, &[Datagram::new(None, &d.contents)]) }
    /// #     }
    /// # }
    /// # let (mut ct, mut lt) = (MemoryDatagramTransport::new(1200), MemoryDatagramTransport::new(1200));
    /// # let mut client = Reliable::new(ReliableConfig::default(), Hi);
    /// # let mut listener = ReliableListener::new(ReliableConfig::default(), Arc::new(|| Box::new(Echo) as _));
    /// # DatagramProtocol::connection_made(&mut listener, &mut lt);
    /// # DatagramProtocol::connection_made(&mut client, &mut ct);
    /// // Initial, Retry, Initial with the token: created, handshake not done.
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 2);
    /// assert_eq!(listener.half_open(), 1);
    /// // The client's first short packet completes it.
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 1);
    /// assert_eq!(listener.half_open(), 0);
    /// assert_eq!(listener.connections(), 1);
    /// ```
    pub fn half_open(&self) -> usize {
        self.half_open
    }

    /// The connection with our id `cid`, for tests and introspection.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Carries what each side sent to the other, `rounds` times.
    /// # fn exchange(
    /// #     client: &mut Reliable<Hi>, ct: &mut MemoryDatagramTransport,
    /// #     listener: &mut ReliableListener, lt: &mut MemoryDatagramTransport, rounds: usize,
    /// # ) {
    /// #     let from = "192.0.2.1:5000".parse().unwrap();
    /// #     for _ in 0..rounds {
    /// #         for d in ct.take_sent() { listener.datagrams_received(lt, &[Datagram::new(Some(from), &d.contents)]) }
    /// #         for d in lt.take_sent() { DatagramProtocol::datagrams_received(client, ct, &[Datagram::new(None, &d.contents)]) }
    /// #     }
    /// # }
    /// # let (mut ct, mut lt) = (MemoryDatagramTransport::new(1200), MemoryDatagramTransport::new(1200));
    /// # let mut client = Reliable::new(ReliableConfig::default(), Hi);
    /// # let mut listener = ReliableListener::new(ReliableConfig::default(), Arc::new(|| Box::new(Echo) as _));
    /// # DatagramProtocol::connection_made(&mut listener, &mut lt);
    /// # DatagramProtocol::connection_made(&mut client, &mut ct);
    /// # use strata::reliable::{Side, wire::ConnId};
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 3);
    /// let id = client.connection().unwrap().remote_cid();
    /// let conn = listener.connection(id).unwrap();
    /// assert_eq!(conn.side(), Side::Server);
    /// assert!(conn.is_established());
    /// assert!(listener.connection(ConnId(id.0 ^ 1)).is_none());
    /// ```
    pub fn connection(&self, cid: ConnId) -> Option<&Connection> {
        self.children.get(cid.0).map(|c| &c.host.engine)
    }

    /// The ids of the open connections.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Carries what each side sent to the other, `rounds` times.
    /// # fn exchange(
    /// #     client: &mut Reliable<Hi>, ct: &mut MemoryDatagramTransport,
    /// #     listener: &mut ReliableListener, lt: &mut MemoryDatagramTransport, rounds: usize,
    /// # ) {
    /// #     let from = "192.0.2.1:5000".parse().unwrap();
    /// #     for _ in 0..rounds {
    /// #         for d in ct.take_sent() { listener.datagrams_received(lt, &[Datagram::new(Some(from), &d.contents)]) }
    /// #         for d in lt.take_sent() { DatagramProtocol::datagrams_received(client, ct, &[Datagram::new(None, &d.contents)]) }
    /// #     }
    /// # }
    /// # let (mut ct, mut lt) = (MemoryDatagramTransport::new(1200), MemoryDatagramTransport::new(1200));
    /// # let mut client = Reliable::new(ReliableConfig::default(), Hi);
    /// # let mut listener = ReliableListener::new(ReliableConfig::default(), Arc::new(|| Box::new(Echo) as _));
    /// # DatagramProtocol::connection_made(&mut listener, &mut lt);
    /// # DatagramProtocol::connection_made(&mut client, &mut ct);
    /// exchange(&mut client, &mut ct, &mut listener, &mut lt, 3);
    /// let ours = client.connection().unwrap().remote_cid();
    /// assert_eq!(listener.connection_ids(), vec![ours]);
    /// ```
    pub fn connection_ids(&self) -> Vec<ConnId> {
        self.children.iter().map(|(k, _)| ConnId(k)).collect()
    }

    fn now_secs(&self, now: Instant) -> u64 {
        // Offset by the lifetime so that a fresh listener never sees "from
        // the future" tokens at second 0.
        self.epoch
            .map_or(0, |e| now.saturating_duration_since(e).as_secs())
            .saturating_add(
                self.cfg
                    .cookie_lifetime
                    .max(self.cfg.handshake_timeout)
                    .as_secs(),
            )
    }

    fn send(&mut self, t: &mut dyn DatagramTransport, to: SocketAddr) {
        t.send(&Transmit::to(to, &self.scratch));
    }

    /// A stateless answer with only a CLOSE, in a Handshake packet.
    fn refuse(
        &mut self,
        t: &mut dyn DatagramTransport,
        to: SocketAddr,
        client: ConnId,
        code: ErrorCode,
    ) {
        let Some(src) = self.rng.conn_id() else {
            return;
        };
        self.scratch.clear();
        let h = Header::Handshake {
            dst: client,
            src,
            number: PacketNumber(0),
        };
        if h.encode(&mut self.scratch).is_ok()
            && (Frame::Close { code, reason: b"" })
                .encode(&mut self.scratch)
                .is_ok()
        {
            self.send(t, to);
        }
    }

    fn handle(&mut self, t: &mut dyn DatagramTransport, from: SocketAddr, data: &[u8]) {
        let packet = match wire::parse_packet(data) {
            Ok(p) => p,
            Err(WireError::UnsupportedVersion { dst, src, .. }) => {
                // Only a datagram that could open a connection is answered:
                // a Version Negotiation must not reflect more than it got.
                if data.len() < wire::MIN_INITIAL_SIZE {
                    self.stats.dropped_unknown += 1;
                    return;
                }
                self.scratch.clear();
                let ours = wire::VERSION.to_be_bytes();
                let h = Header::VersionNegotiation {
                    dst: src,
                    src: dst,
                    versions: match wire::VersionList::new(&ours) {
                        Some(v) => v,
                        None => return,
                    },
                };
                if h.encode(&mut self.scratch).is_ok() {
                    self.stats.version_negotiations += 1;
                    self.send(t, from);
                }
                return;
            }
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        match packet.header {
            Header::Initial { src, token, .. } => {
                if let Some(cid) = self.children.id_of(&(from, src.0)) {
                    return self.route(t, cid, from, data);
                }
                self.on_new_initial(t, from, src, token, data);
            }
            Header::Short { dst, .. } => self.route(t, dst.0, from, data),
            _ => self.stats.dropped_unknown += 1,
        }
    }

    fn on_new_initial(
        &mut self,
        t: &mut dyn DatagramTransport,
        from: SocketAddr,
        client: ConnId,
        token: &[u8],
        data: &[u8],
    ) {
        let now = t.now();
        let secs = self.now_secs(now);
        let established = self.children.len() - self.half_open;
        if self.shutting_down || established >= self.cfg.max_connections {
            self.stats.refused += 1;
            return self.refuse(t, from, client, ErrorCode::CONNECTION_REFUSED);
        }
        let Some(key) = &self.key else {
            return;
        };
        let validated = if token.is_empty() {
            if self.cfg.require_retry {
                let cookie = key.mint(secs, &from, client.0);
                let Some(src) = self.rng.conn_id() else {
                    return;
                };
                self.scratch.clear();
                let retry = Header::Retry {
                    dst: client,
                    src,
                    token: &cookie,
                };
                if retry.encode(&mut self.scratch).is_ok() {
                    self.stats.retries += 1;
                    self.send(t, from);
                }
                return;
            }
            false
        } else {
            if key.check(token, secs, &from, client.0).is_err() {
                self.stats.invalid_tokens += 1;
                return self.refuse(t, from, client, ErrorCode::INVALID_TOKEN);
            }
            true
        };
        let Some(local) = self
            .rng
            .conn_id()
            .filter(|id| !self.children.contains(id.0))
        else {
            return;
        };
        if self.half_open >= self.cfg.max_half_open {
            self.evict_oldest_half_open();
        }
        // A half-open connection has its own, shorter deadline.
        let mut cfg = self.cfg.clone();
        cfg.handshake_timeout = cfg.handshake_timeout.min(cfg.half_open_timeout);
        let conn = Connection::accept(cfg, now, local, client, validated);
        let proto = crate::ProtocolSlot::new((self.factory)());
        let host = NativeHosted::native(conn, proto, Some(from), Some(local.0)).traced(
            t,
            Vantage::Server,
            Some(from),
        );
        self.children.insert(
            local.0,
            (from, client.0),
            Child {
                host,
                half_open: true,
            },
        );
        self.half_open += 1;
        self.half_open_order.push_back(local.0);
        if self.half_open_order.len() > 2 * self.cfg.max_half_open {
            // Drop the entries of connections no longer half-open: the
            // index stays within twice the bound.
            let children = &self.children;
            self.half_open_order
                .retain(|&c| children.get(c).is_some_and(|c| c.half_open));
        }
        self.stats.accepted += 1;
        self.route(t, local.0, from, data);
    }

    fn route(&mut self, t: &mut dyn DatagramTransport, cid: u64, from: SocketAddr, data: &[u8]) {
        let Some(child) = self.children.get_mut(cid) else {
            self.stats.dropped_unknown += 1;
            return;
        };
        let before = child.host.engine.stats().packets_received;
        child.host.engine.handle_datagram(t.now(), data);
        if child.host.engine.stats().packets_received > before {
            child.host.set_dest(from);
        }
        // Settled once per batch: the protocol above sees the batch's data
        // at once, and one ACK answers many datagrams.
        self.children.touch(cid);
    }

    /// Settles the connections this batch touched.
    fn settle_touched(&mut self, t: &mut dyn DatagramTransport) {
        let touched = self.children.take_touched();
        for &cid in &touched {
            if let Some(c) = self.children.get_mut(cid) {
                c.host.settle(t);
            }
            self.reap(cid);
        }
        self.children.untouch(touched);
    }

    /// Drops the oldest half-open connection, silently (its protocol never
    /// started; a real client's next Initial starts over).
    fn evict_oldest_half_open(&mut self) {
        while let Some(cid) = self.half_open_order.pop_front() {
            if self.children.get(cid).is_some_and(|c| c.half_open) {
                self.stats.evicted_half_open += 1;
                self.forget(cid);
                return;
            }
        }
    }

    /// Removes a child and every index entry of it.
    fn forget(&mut self, cid: u64) {
        if let Some((_, c)) = self.children.remove(cid)
            && c.half_open
        {
            self.half_open -= 1;
        }
    }

    /// After a child was called: forgets it if it is over, or files its
    /// next deadline in the timer index.
    fn reap(&mut self, cid: u64) {
        let Some(c) = self.children.get_mut(cid) else {
            return;
        };
        if c.half_open && c.host.engine.handshake_done() {
            c.half_open = false;
            self.half_open -= 1;
        }
        if c.host.finished() {
            self.forget(cid);
            return;
        }
        let next = c.host.next_deadline();
        self.children.rearm(cid, next);
    }

    fn maybe_close(&mut self, t: &mut dyn DatagramTransport) {
        if self.shutting_down && self.children.is_empty() {
            t.close();
        }
    }
}

impl DatagramProtocol for ReliableListener {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        if let Err(e) = self.cfg.validate() {
            tracing::warn!("{e}");
            return t.abort(Close::aborted(NAME, AbortReason::layer(e)));
        }
        let mut secret = [0u8; 32];
        if self.rng.fill(&mut secret).is_none() {
            let e = std::io::Error::other("no secure random numbers for the cookie key");
            return t.abort(Close::aborted(NAME, AbortReason::layer(e)));
        }
        // A token stays valid for as long as a handshake may take: a client
        // whose Initials with it keep being lost must not be refused with
        // INVALID_TOKEN before its own handshake timeout (seeds 46850,
        // 92766 and 98269 of the sweep: 26-30 % loss, no handshake in 10 s).
        let lifetime = self.cfg.cookie_lifetime.max(self.cfg.handshake_timeout);
        self.key = Some(CookieKey::new(secret).with_lifetime(lifetime.as_secs()));
        self.epoch = Some(t.now());
    }

    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            match d.source {
                Some(from) => self.handle(t, from, d.data),
                None => self.stats.dropped_unknown += 1,
            }
        }
        self.settle_touched(t);
        self.maybe_close(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.children.drain(|mut c| c.host.lost(why));
        self.half_open_order.clear();
        self.half_open = 0;
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.children.next_deadline()
    }

    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        for cid in self.children.take_due(t.now()) {
            if let Some(c) = self.children.get_mut(cid) {
                c.host.timeout(t);
            }
            self.reap(cid);
        }
        self.maybe_close(t);
    }

    fn on_wake(&mut self, t: &mut dyn DatagramTransport, mut route: WakeRoute<'_>) {
        let Some(cid) = route.next_hop() else {
            return;
        };
        if let Some(c) = self.children.get_mut(cid) {
            c.host.call(t, |p, v| p.on_wake(v, route));
        }
        self.reap(cid);
    }

    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.shutting_down = true;
        // In id order, not the map's (random) order: with a seeded RNG a
        // simulated shutdown repeats byte for byte.
        for cid in self.children.ids_sorted() {
            if let Some(c) = self.children.get_mut(cid) {
                if c.host.st.started {
                    c.host.call(t, |p, v| p.on_shutdown(v));
                } else {
                    let now = t.now();
                    c.host
                        .engine
                        .close(now, ErrorCode::CONNECTION_REFUSED, b"shutting down");
                    c.host.flush(t);
                }
            }
            self.reap(cid);
        }
        self.maybe_close(t);
    }

    fn buffered(&self) -> usize {
        self.children
            .values()
            .map(|c| c.host.engine.send_buffered())
            .sum()
    }
}
