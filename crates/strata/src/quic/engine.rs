//! The engine [`QuicServer`](super::QuicServer) and
//! [`QuicClient`](super::QuicClient) share: a quinn-proto `Endpoint`, its
//! connections with their apps, and the drive loop that runs after every
//! entry point.
//!
//! # The drive loop (one connection)
//!
//! 1. endpoint events both ways (`poll_endpoint_events` → `Endpoint::handle_event`);
//! 2. application events (`Connection::poll`) delivered to the app;
//! 3. stream data delivered, one chunk at a time, to streams not paused;
//! 4. every transmit sent (GSO batches of up to [`MAX_GSO_SEGMENTS`]);
//!
//! repeated until a round delivers nothing; then the connection's deadline
//! (quinn-proto's timers, the handshake deadline, the app's) is re-filed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use quinn_proto::{ConnectionHandle, DatagramEvent, Endpoint, EndpointConfig, Event, StreamEvent};

use super::conn::{ConnState, ConnView};
use super::qlog::{QuicQlog, QuinnQlog};
use super::table::ConnTable;
use super::{
    from_proto_id, to_proto_id, AppFactory, ConnectError, Dir, QuicApp, QuicConfig, QuicError,
    RetryPolicy, StreamId,
};
use crate::deadline::{after, earliest};
use crate::qlog::{QlogTracer, TraceInfo, Vantage};
use crate::{
    AbortReason, Addr, Close, Datagram, DatagramTransport, Ecn, Introspect, PeerAddr, Timeout,
    Transmit, WakeRoute,
};

/// Datagrams in one GSO batch handed to the transport: quinn's own batch
/// (its `MAX_TRANSMIT_DATAGRAMS`). At 10, one-stream bulk ran at 0.94x
/// quinn's rate; at 20, 1.09x (BENCHMARKS.md, issue 11).
pub const MAX_GSO_SEGMENTS: usize = 20;

/// The application error code a server closes with when it has no app for
/// the negotiated ALPN (the TLS alert's number, as in CRYPTO_ERROR 0x178).
pub const NO_APPLICATION_CODE: u64 = 0x178;

/// The peer address given to datagrams that arrive without one (a datagram
/// transport framed over a stream).
const UNADDRESSED: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    1,
));

/// `impl DatagramProtocol` for a type whose field `engine` is an [`Engine`]:
/// [`QuicServer`](super::QuicServer) and [`QuicClient`](super::QuicClient)
/// differ only in their role, so their protocol is written once.
macro_rules! datagram_protocol_via_engine {
    ($t:ty) => {
        impl $crate::DatagramProtocol for $t {
            fn connection_made(&mut self, t: &mut dyn $crate::DatagramTransport) {
                self.engine.start(t);
            }
            fn datagrams_received(
                &mut self,
                t: &mut dyn $crate::DatagramTransport,
                batch: &[$crate::Datagram<'_>],
            ) {
                self.engine.receive(t, batch);
            }
            fn eof_received(&mut self, t: &mut dyn $crate::DatagramTransport) {
                self.engine.input_ended(t);
            }
            fn connection_lost(&mut self, why: &$crate::Close) {
                self.engine.lost(why);
            }
            fn pause_writing(&mut self, _: &mut dyn $crate::DatagramTransport) {
                self.engine.pause_writing();
            }
            fn resume_writing(&mut self, t: &mut dyn $crate::DatagramTransport) {
                self.engine.resume_writing(t);
            }
            fn next_deadline(&self) -> Option<std::time::Instant> {
                self.engine.next_deadline()
            }
            fn on_deadline(&mut self, t: &mut dyn $crate::DatagramTransport) {
                self.engine.on_deadline(t);
            }
            fn on_wake(
                &mut self,
                t: &mut dyn $crate::DatagramTransport,
                route: $crate::WakeRoute<'_>,
            ) {
                self.engine.on_wake(t, route);
            }
            fn on_shutdown(&mut self, t: &mut dyn $crate::DatagramTransport) {
                self.engine.shutdown(t);
            }
        }
    };
}
pub(crate) use datagram_protocol_via_engine;

pub(crate) struct Conn {
    pub(crate) handle: ConnectionHandle,
    pub(crate) q: quinn_proto::Connection,
    pub(crate) app: Option<Box<dyn QuicApp>>,
    pub(crate) st: ConnState,
}

/// quinn-proto reads wall-clock time for its token lifetimes: it gets the
/// layer's time instead, mapped onto a fixed epoch, so a run under a
/// virtual clock repeats.
#[derive(Debug)]
struct LayerClock {
    start: Instant,
    micros: AtomicU64,
}

impl LayerClock {
    fn set(&self, now: Instant) {
        let us = now.saturating_duration_since(self.start).as_micros();
        self.micros
            .fetch_max(u64::try_from(us).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl quinn_proto::TimeSource for LayerClock {
    fn now(&self) -> SystemTime {
        // 2024-01-01T00:00:00Z, then the layer's elapsed time.
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        base.checked_add(Duration::from_micros(self.micros.load(Ordering::Relaxed)))
            .unwrap_or(base)
    }
}

pub(crate) enum Role {
    Server {
        crypto: Arc<quinn_proto::crypto::rustls::QuicServerConfig>,
        apps: AppFactory,
    },
    Client {
        crypto: Arc<quinn_proto::crypto::rustls::QuicClientConfig>,
        server_name: String,
        server: SocketAddr,
        app: Option<Box<dyn QuicApp>>,
    },
    /// A client endpoint: connections opened by [`Engine::connect`], any
    /// number, to any servers; the transport outlives its last connection.
    Clients,
}

pub(crate) struct Engine {
    cfg: QuicConfig,
    role: Role,
    endpoint: Option<Endpoint>,
    server_config: Option<Arc<quinn_proto::ServerConfig>>,
    /// The transport parameters of connections a client opens (set at start).
    transport: Option<Arc<quinn_proto::TransportConfig>>,
    /// The transport's datagram size at start (a traced connection's
    /// transport parameters are made again with it, its qlog stream set).
    max_payload: usize,
    conns: ConnTable<Conn>,
    next_id: u64,
    half_open: usize,
    buf: Vec<u8>,
    clock: Option<Arc<LayerClock>>,
    /// Transmits wait: the transport is over its high-water mark.
    write_blocked: bool,
    shutting_down: bool,
    /// Only over a stream: the peer sent EOF, no datagram will come; the
    /// transport is closed once no connection is left.
    input_ended: bool,
    /// The client's connection is over (its transport was closed).
    done: bool,
}

impl Engine {
    pub(crate) fn new(cfg: QuicConfig, role: Role) -> Self {
        Engine {
            cfg,
            role,
            endpoint: None,
            server_config: None,
            transport: None,
            max_payload: 0,
            conns: ConnTable::new(),
            next_id: 0,
            half_open: 0,
            buf: Vec::new(),
            clock: None,
            write_blocked: false,
            shutting_down: false,
            input_ended: false,
            done: false,
        }
    }

    pub(crate) fn is_server(&self) -> bool {
        matches!(self.role, Role::Server { .. })
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    pub(crate) fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The transport is ready: build the endpoint (the transport's datagram
    /// size bounds the MTU) and, for a client, connect.
    pub(crate) fn start(&mut self, t: &mut dyn DatagramTransport) {
        if let Err(e) = self.try_start(t) {
            if let Role::Client { app, .. } = &mut self.role
                && let Some(mut app) = app.take()
            {
                app.connection_lost(&abort(e.clone()));
            }
            t.abort(abort(e));
        }
    }

    fn try_start(&mut self, t: &mut dyn DatagramTransport) -> Result<(), QuicError> {
        let now = t.now();
        let clock = Arc::new(LayerClock {
            start: now,
            micros: AtomicU64::new(0),
        });
        self.clock = Some(clock.clone());
        self.max_payload = t.max_datagram_size();
        let transport = Arc::new(self.cfg.transport(self.max_payload)?);
        let mut ecfg = match self.cfg.seed_bytes(1) {
            Some(k) => {
                EndpointConfig::new(Arc::new(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k)))
            }
            None => EndpointConfig::default(),
        };
        ecfg.rng_seed(self.cfg.seed_bytes(2));
        if let Some(sid) = &self.cfg.server_id {
            let ids = super::RoutableCidGenerator::factory(sid.clone(), self.cfg.rng_seed)
                .map_err(|e| QuicError::Config(format!("server_id: {e}")))?;
            ecfg.cid_generator(move || ids());
        } else if let Some(seed) = self.cfg.rng_seed {
            // quinn-proto's default ids come from the thread's generator.
            ecfg.cid_generator(move || Box::new(super::cid::SeededCidGenerator::new(seed)));
        }
        let max_udp = t.max_datagram_size().min(usize::from(u16::MAX) - 8) as u16;
        ecfg.max_udp_payload_size(max_udp)
            .map_err(|_| QuicError::Config("max_udp_payload_size".into()))?;
        match &mut self.role {
            Role::Server { crypto, .. } => {
                let mut sc = quinn_proto::ServerConfig::with_crypto(crypto.clone());
                sc.transport_config(transport);
                sc.time_source(clock);
                if let Some(k) = self.cfg.seed_bytes(3) {
                    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &[]).extract(&k);
                    sc.token_key(Arc::new(prk));
                }
                sc.max_incoming(self.cfg.max_connections.max(1));
                let sc = Arc::new(sc);
                self.server_config = Some(sc.clone());
                self.endpoint = Some(Endpoint::new(Arc::new(ecfg), Some(sc), true, None));
            }
            Role::Client {
                crypto,
                server_name,
                server,
                app,
            } => {
                let (crypto, name, server) = (crypto.clone(), server_name.clone(), *server);
                let app = app.take();
                self.transport = Some(transport);
                self.endpoint = Some(Endpoint::new(Arc::new(ecfg), None, true, None));
                if let Some(app) = app {
                    self.connect(t, crypto, server, &name, app)?;
                }
            }
            Role::Clients => {
                self.transport = Some(transport);
                self.endpoint = Some(Endpoint::new(Arc::new(ecfg), None, true, None));
            }
        }
        Ok(())
    }

    /// Opens a client connection to `server` (named `server_name` for TLS)
    /// running `app`, and sends its first flight. Refused (and `app` told
    /// so through `connection_lost`) before the transport started, while
    /// shutting down, at [`QuicConfig::max_connections`], or for input
    /// quinn-proto rejects (a bad name or address).
    pub(crate) fn connect(
        &mut self,
        t: &mut dyn DatagramTransport,
        crypto: Arc<quinn_proto::crypto::rustls::QuicClientConfig>,
        server: SocketAddr,
        server_name: &str,
        mut app: Box<dyn QuicApp>,
    ) -> Result<(), ConnectError> {
        let now = t.now();
        self.tick(now);
        let opened = match (self.endpoint.is_some(), &self.transport) {
            _ if self.done || self.shutting_down => Err(ConnectError::Closed),
            (true, _) if self.conns.len() >= self.cfg.max_connections => {
                Err(ConnectError::ConnectionLimit(self.cfg.max_connections))
            }
            (true, Some(shared)) => {
                let (qlog, quinn) = open_trace(t, Vantage::Client, server, now);
                let transport = self
                    .traced_transport(quinn)
                    .unwrap_or_else(|| shared.clone());
                let mut cc = quinn_proto::ClientConfig::new(crypto);
                cc.transport_config(transport);
                if let Some(seed) = self.cfg.rng_seed {
                    // quinn-proto's default draws from the thread's generator.
                    let dcid = super::cid::seeded_initial_dcid(seed, self.next_id);
                    cc.initial_dst_cid_provider(Arc::new(move || dcid));
                }
                match self.endpoint.as_mut() {
                    Some(ep) => ep
                        .connect(now, cc, server, server_name)
                        .map(|(h, q)| (h, q, qlog))
                        .map_err(ConnectError::from),
                    None => Err(ConnectError::NotStarted),
                }
            }
            _ => Err(ConnectError::NotStarted),
        };
        match opened {
            Ok((handle, q, qlog)) => {
                let id = self.insert(t, handle, q, Some(app), qlog);
                self.drive(id, t);
                Ok(())
            }
            Err(e) => {
                app.connection_lost(&Close::aborted("quic", AbortReason::layer(e.clone())));
                Err(e)
            }
        }
    }

    /// A traced connection's transport parameters: the layer's, with
    /// quinn-proto's qlog stream set (None when untraced: the shared ones).
    fn traced_transport(
        &self,
        quinn: Option<QuinnQlog>,
    ) -> Option<Arc<quinn_proto::TransportConfig>> {
        let quinn = quinn?;
        // Made once already at start with the same size: cannot fail.
        let mut tc = self.cfg.transport(self.max_payload).ok()?;
        quinn.configure(&mut tc);
        Some(Arc::new(tc))
    }

    fn insert(
        &mut self,
        t: &mut dyn DatagramTransport,
        handle: ConnectionHandle,
        q: quinn_proto::Connection,
        app: Option<Box<dyn QuicApp>>,
        qlog: Option<Box<QuicQlog>>,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let now = t.now();
        let peer = PeerAddr(Addr::Inet(q.remote_address()));
        let mut st = ConnState::new(self.is_server(), now, t.waker().child(id), peer);
        st.qlog = qlog;
        st.handshake_deadline = Some(after(now, self.cfg.handshake_timeout));
        st.buffer = super::StreamBuffer {
            high_water: self.cfg.high_water,
            low_water: self.cfg.low_water,
        };
        self.half_open += 1;
        st.half_open = true;
        self.conns.insert(id, handle, Conn { handle, q, app, st });
        // 0-RTT: a client holding a ticket starts its app now, so what it
        // writes leaves in the first flight.
        if self.cfg.zero_rtt
            && let Some(c) = self.conns.get_mut(id)
            && c.app.as_ref().is_some_and(|a| a.early_data())
            && c.q.has_0rtt()
        {
            start_early(c, t);
        }
        id
    }

    /// A batch of datagrams: each goes to its connection (or starts one),
    /// then every connection touched is driven once.
    pub(crate) fn receive(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let now = t.now();
        self.tick(now);
        let fallback = match &self.role {
            Role::Client { server, .. } => *server,
            Role::Server { .. } | Role::Clients => match t.get::<PeerAddr>() {
                Some(PeerAddr(Addr::Inet(a))) => *a,
                _ => UNADDRESSED,
            },
        };
        for d in batch {
            let Some(ep) = self.endpoint.as_mut() else {
                return;
            };
            let remote = d.source.unwrap_or(fallback);
            let ecn = d.ecn.map(ecn_in);
            let data = BytesMut::from(d.data);
            self.buf.clear();
            match ep.handle(now, remote, d.dst_ip, ecn, data, &mut self.buf) {
                Some(DatagramEvent::ConnectionEvent(h, ev)) => {
                    if let Some(id) = self.conns.id_of(&h) {
                        if let Some(c) = self.conns.get_mut(id) {
                            c.q.handle_event(ev);
                        }
                        self.conns.touch(id);
                    }
                }
                Some(DatagramEvent::NewConnection(incoming)) => self.incoming(t, incoming),
                Some(DatagramEvent::Response(tx)) => send(t, &tx, &self.buf),
                None => {}
            }
        }
        let touched = self.conns.take_touched();
        for &id in &touched {
            self.drive(id, t);
        }
        self.conns.untouch(touched);
    }

    fn incoming(&mut self, t: &mut dyn DatagramTransport, incoming: quinn_proto::Incoming) {
        let now = t.now();
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        self.buf.clear();
        if self.shutting_down || self.conns.len() >= self.cfg.max_connections {
            let tx = ep.refuse(incoming, &mut self.buf);
            return send(t, &tx, &self.buf);
        }
        let retry = match self.cfg.retry {
            RetryPolicy::Always => true,
            RetryPolicy::Never => false,
            RetryPolicy::Auto => self.half_open >= super::config::DEFAULT_RETRY_THRESHOLD,
        };
        if retry && incoming.may_retry() {
            match ep.retry(incoming, &mut self.buf) {
                Ok(tx) => send(t, &tx, &self.buf),
                Err(e) => ep.ignore(e.into_incoming()),
            }
            return;
        }
        let (qlog, quinn) = open_trace(t, Vantage::Server, incoming.remote_address(), now);
        // Only a traced connection gets a configuration of its own.
        let traced = self.traced_transport(quinn).and_then(|tc| {
            let mut sc = quinn_proto::ServerConfig::clone(self.server_config.as_deref()?);
            sc.transport_config(tc);
            Some(Arc::new(sc))
        });
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        match ep.accept(incoming, now, &mut self.buf, traced) {
            Ok((handle, q)) => {
                let id = self.insert(t, handle, q, None, qlog);
                self.conns.touch(id);
            }
            Err(e) => {
                if let Some(tx) = e.response {
                    send(t, &tx, &self.buf);
                }
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        if let Some(c) = &self.clock {
            c.set(now);
        }
    }

    /// The earliest deadline of any connection.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.conns.next_deadline()
    }

    /// Time passed: the connections due run their timers.
    pub(crate) fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        let now = t.now();
        self.tick(now);
        for id in self.conns.take_due(now) {
            if let Some(c) = self.conns.get_mut(id) {
                c.st.now = now;
                if c.st.timeout.is_some_and(|d| d <= now) {
                    c.q.handle_timeout(now);
                }
                if c.st.handshake_deadline.is_some_and(|d| d <= now) && c.q.is_handshaking() {
                    c.st.handshake_deadline = None;
                    leave_half_open(&mut c.st, &mut self.half_open);
                    c.st.local_close = Some(QuicError::HandshakeTimeout);
                    c.q.close(now, 0u32.into(), "handshake timeout".into());
                }
                let app_due = c
                    .app
                    .as_ref()
                    .and_then(|a| a.next_deadline())
                    .is_some_and(|d| d <= now);
                if app_due {
                    call_app(c, t, |a, v| a.on_deadline(v));
                }
            }
            self.drive(id, t);
        }
    }

    /// A wake for connection `route.next_hop()`.
    pub(crate) fn on_wake(&mut self, t: &mut dyn DatagramTransport, mut route: WakeRoute<'_>) {
        let now = t.now();
        self.tick(now);
        let Some(id) = route.next_hop() else {
            return;
        };
        if let Some(c) = self.conns.get_mut(id) {
            c.st.now = now;
            call_app(c, t, |a, v| a.on_wake_at(v, route));
        }
        self.drive(id, t);
    }

    /// The transport drained: send what waited.
    pub(crate) fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.write_blocked = false;
        self.drive_all(t);
    }

    pub(crate) fn pause_writing(&mut self) {
        self.write_blocked = true;
    }

    /// Graceful shutdown: every connection is closed (code 0), the close
    /// frames sent, then the transport closed.
    pub(crate) fn shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.shutting_down = true;
        let now = t.now();
        for id in self.conns.ids_sorted() {
            if let Some(c) = self.conns.get_mut(id) {
                if c.app.is_some() && !c.q.is_closed() {
                    // The app says goodbye its own way (HTTP/3: GOAWAY).
                    call_app(c, t, |app, v| app.on_shutdown(v));
                } else {
                    if c.st.local_close.is_none() {
                        c.st.local_close = Some(QuicError::LocallyClosed { code: 0 });
                    }
                    c.q.close(now, 0u32.into(), "shutting down".into());
                }
            }
            self.drive(id, t);
        }
        // The last connection to drain closes the transport (`drive`).
        if self.conns.len() == 0 {
            t.close();
        }
    }

    /// The transport is gone: every app hears it.
    /// Only over a stream: the peer will send no more datagrams. A server
    /// with no connection left closes the transport (the peer lingers for
    /// that EOF); otherwise once its last connection is gone.
    pub(crate) fn input_ended(&mut self, t: &mut dyn DatagramTransport) {
        self.input_ended = true;
        if self.is_server() && self.conns.len() == 0 {
            t.close();
        }
    }

    pub(crate) fn lost(&mut self, why: &Close) {
        // Nothing new starts on a transport that is gone.
        self.shutting_down = true;
        self.conns.drain(|mut c| {
            if let Some(mut app) = c.app.take()
                && !c.st.lost
            {
                app.connection_lost(why);
            }
        });
        if let Role::Client { app, .. } = &mut self.role
            && let Some(mut app) = app.take()
        {
            app.connection_lost(why);
        }
    }

    fn drive_all(&mut self, t: &mut dyn DatagramTransport) {
        for id in self.conns.ids_sorted() {
            self.drive(id, t);
        }
    }

    /// Runs connection `id` to quiescence (see the module docs).
    fn drive(&mut self, id: u64, t: &mut dyn DatagramTransport) {
        let now = t.now();
        let Engine {
            cfg,
            endpoint,
            conns,
            role,
            buf,
            half_open,
            write_blocked,
            done,
            shutting_down,
            input_ended,
            ..
        } = self;
        let Some(ep) = endpoint.as_mut() else {
            return;
        };
        let Some(c) = conns.get_mut(id) else {
            return;
        };
        let apps = match role {
            Role::Server { apps, .. } => Some(&*apps),
            Role::Client { .. } | Role::Clients => None,
        };
        c.st.now = now;
        loop {
            while let Some(ev) = c.q.poll_endpoint_events() {
                if let Some(ce) = ep.handle_event(c.handle, ev) {
                    c.q.handle_event(ce);
                }
            }
            c.st.refresh(&mut c.q);
            let mut progress = false;
            while let Some(ev) = c.q.poll() {
                progress = true;
                on_event(c, t, ev, apps, half_open, cfg.zero_rtt);
            }
            progress |= read_streams(c, t);
            progress |= resets_acked(c, t);
            if !*write_blocked {
                loop {
                    buf.clear();
                    let Some(tx) = c.q.poll_transmit(now, MAX_GSO_SEGMENTS, buf) else {
                        break;
                    };
                    send(t, &tx, buf);
                    if !t.writable() {
                        *write_blocked = true;
                        break;
                    }
                }
            }
            if !progress {
                break;
            }
        }
        if let Some(q) = &mut c.st.qlog {
            q.tick(now, &c.st.stats);
            if c.q.is_closed() {
                q.closed(now);
            }
        }
        if c.q.is_closed() {
            // Closing or draining is not half-open: a connection that ends
            // right after its handshake must not hold a place toward Retry
            // for its whole closing period (3 PTOs).
            leave_half_open(&mut c.st, half_open);
        }
        if !c.st.lost && c.q.is_closed() {
            // Closed by us: quinn-proto reports no ConnectionLost for that.
            c.st.lost = true;
            let why = close_of(
                quinn_proto::ConnectionError::LocallyClosed,
                c.st.local_close.take(),
            );
            if let Some(mut app) = c.app.take() {
                app.connection_lost(&why);
            }
        }
        if c.q.is_drained() {
            leave_half_open(&mut c.st, half_open);
            conns.remove(id);
            if matches!(role, Role::Client { .. }) {
                *done = true;
                t.close();
            } else if (*shutting_down || *input_ended) && conns.len() == 0 {
                t.close();
            }
            return;
        }
        c.st.timeout = c.q.poll_timeout();
        let app_deadline = c.app.as_ref().and_then(|a| a.next_deadline());
        let next = earliest(
            c.st.timeout,
            earliest(c.st.handshake_deadline, app_deadline),
        );
        conns.rearm(id, next);
    }
}

/// The traces of a new connection to or from `peer`, when the transport
/// has a tracer and it makes one: the layer's, and quinn-proto's (to set
/// before the connection exists, so its first packets are traced).
fn open_trace(
    t: &dyn DatagramTransport,
    vantage: Vantage,
    peer: SocketAddr,
    now: Instant,
) -> (Option<Box<QuicQlog>>, Option<QuinnQlog>) {
    let Some(tracer) = t.get::<QlogTracer>() else {
        return (None, None);
    };
    let info = TraceInfo {
        vantage,
        peer: Some(Addr::Inet(peer)),
        protocol: "quic",
        now,
    };
    match tracer.trace(&info) {
        Some(trace) => {
            let (qlog, quinn) = QuicQlog::start(trace, now);
            (Some(qlog), quinn)
        }
        None => (None, None),
    }
}

/// A connection stops counting as half-open (toward Retry's `Auto`
/// threshold) once: when its handshake completes, when it times out, or
/// when it closes, whichever comes first.
fn leave_half_open(st: &mut ConnState, half_open: &mut usize) {
    if std::mem::take(&mut st.half_open) {
        *half_open = half_open.saturating_sub(1);
    }
}

/// One application event of connection `c`.
fn on_event(
    c: &mut Conn,
    t: &mut dyn DatagramTransport,
    ev: Event,
    apps: Option<&AppFactory>,
    half_open: &mut usize,
    zero_rtt: bool,
) {
    match ev {
        Event::DatagramsUnblocked => {}
        Event::HandshakeDataReady => {
            // 0-RTT on the server: the client's hello is read (ALPN known)
            // and its early data accepted: an app that keeps the 0-RTT
            // contract starts now, so its answer leaves in our first flight
            // (0.5-RTT data); another waits for the handshake.
            if zero_rtt && c.app.is_none() && c.q.has_0rtt() && c.q.is_handshaking() {
                c.st.on_handshake_data(&c.q);
                if make_app(c, apps) {
                    if c.app.as_ref().is_some_and(|a| a.early_data()) {
                        start_early(c, t);
                        accept_streams(c, t, quinn_proto::Dir::Bi);
                        accept_streams(c, t, quinn_proto::Dir::Uni);
                    } else {
                        c.st.parked = c.app.take();
                    }
                }
            }
        }
        Event::Connected => {
            leave_half_open(&mut c.st, half_open);
            c.st.on_connected(&c.q);
            if c.st.early {
                c.st.early = false;
                if !c.st.is_server && !c.q.accepted_0rtt() {
                    c.st.on_zero_rtt_rejected();
                    call_app(c, t, |a, v| a.zero_rtt_rejected(v));
                } else {
                    call_app(c, t, |a, v| a.zero_rtt_accepted(v));
                }
                // Writes the early bound cut short go on (a rejected
                // client's streams are gone: their ids were dropped).
                for id in std::mem::take(&mut c.st.early_blocked) {
                    call_app(c, t, |a, v| a.stream_writable(v, id));
                }
            } else {
                if !make_app(c, apps) {
                    return;
                }
                call_app(c, t, |a, v| a.connection_made(v));
            }
            accept_streams(c, t, quinn_proto::Dir::Bi);
            accept_streams(c, t, quinn_proto::Dir::Uni);
        }
        Event::ConnectionLost { reason } => {
            if !c.st.lost {
                c.st.lost = true;
                let why = close_of(reason, c.st.local_close.take());
                if let Some(mut app) = c.app.take() {
                    app.connection_lost(&why);
                }
            }
        }
        Event::Stream(StreamEvent::Opened { dir }) => accept_streams(c, t, dir),
        Event::Stream(StreamEvent::Readable { id }) => {
            c.st.to_read.insert(from_proto_id(id));
        }
        Event::Stream(StreamEvent::Writable { id }) => {
            call_app(c, t, |a, v| a.stream_writable(v, from_proto_id(id)));
        }
        Event::Stream(StreamEvent::Finished { id }) => {
            let id = from_proto_id(id);
            c.st.finished.remove(&id);
            call_app(c, t, |a, v| a.stream_acked(v, id));
        }
        Event::Stream(StreamEvent::Stopped { id, error_code }) => {
            let code = error_code.into_inner();
            call_app(c, t, |a, v| a.stream_stopped(v, from_proto_id(id), code));
        }
        Event::Stream(StreamEvent::Available { dir }) => {
            let dir = match dir {
                quinn_proto::Dir::Bi => Dir::Bi,
                quinn_proto::Dir::Uni => Dir::Uni,
            };
            call_app(c, t, |a, v| a.streams_available(v, dir));
        }
        Event::DatagramReceived => {
            while let Some(d) = c.q.datagrams().recv() {
                call_app(c, t, |a, v| a.datagram_received(v, &d));
            }
        }
    }
}

/// Gives a server's connection its app, chosen by ALPN (a client's has
/// one); false, and the connection closed, when there is none.
fn make_app(c: &mut Conn, apps: Option<&AppFactory>) -> bool {
    if c.app.is_none() {
        c.app = c.st.parked.take();
    }
    if c.app.is_none() {
        if let Some(apps) = apps {
            c.app = apps(c.st.app_protocol.alpn());
        }
        if c.app.is_none() {
            c.st.local_close = Some(QuicError::NoApplicationProtocol);
            let code = quinn_proto::VarInt::from_u32(NO_APPLICATION_CODE as u32);
            c.q.close(c.st.now, code, "no application protocol".into());
            return false;
        }
    }
    true
}

/// Starts the app ahead of the handshake (0-RTT, `QuicConfig::zero_rtt`):
/// `connection_made` with `is_early()` true, until `Connected`.
fn start_early(c: &mut Conn, t: &mut dyn DatagramTransport) {
    c.st.early = true;
    call_app(c, t, |a, v| a.connection_made(v));
}

/// Hands the app every stream the peer opened (once the app exists).
fn accept_streams(c: &mut Conn, t: &mut dyn DatagramTransport, dir: quinn_proto::Dir) {
    if c.app.is_none() {
        return;
    }
    while let Some(pid) = c.q.streams().accept(dir) {
        let id = from_proto_id(pid);
        if c.st.can_recv(id) {
            c.st.to_read.insert(id);
        }
        call_app(c, t, |a, v| a.stream_opened(v, id));
    }
}

enum Step {
    Data(bytes::Bytes),
    Fin,
    Reset(u64),
    Stop,
}

/// Delivers what the streams in `to_read` hold, one chunk per call, to
/// streams not paused. True when anything was delivered.
fn read_streams(c: &mut Conn, t: &mut dyn DatagramTransport) -> bool {
    if c.app.is_none() || c.st.to_read.is_empty() {
        return false;
    }
    let ids: Vec<StreamId> =
        c.st.to_read
            .iter()
            .copied()
            .filter(|id| !c.st.read_paused.contains(id))
            .collect();
    let mut any = false;
    for id in ids {
        c.st.to_read.remove(&id);
        loop {
            if c.app.is_none() || c.st.read_paused.contains(&id) {
                break;
            }
            let Some(pid) = to_proto_id(id) else {
                break;
            };
            let step = match c.q.recv_stream(pid).read(true) {
                Err(_) => Step::Stop,
                Ok(mut chunks) => {
                    let step = match chunks.next(usize::MAX) {
                        Ok(Some(chunk)) => Step::Data(chunk.bytes),
                        Ok(None) => Step::Fin,
                        Err(quinn_proto::ReadError::Blocked) => Step::Stop,
                        Err(quinn_proto::ReadError::Reset(code)) => Step::Reset(code.into_inner()),
                    };
                    let _ = chunks.finalize();
                    step
                }
            };
            match step {
                Step::Data(b) => {
                    any = true;
                    call_app(c, t, |a, v| a.stream_data(v, id, &b));
                }
                Step::Fin => {
                    any = true;
                    call_app(c, t, |a, v| a.stream_finished(v, id));
                    break;
                }
                Step::Reset(code) => {
                    any = true;
                    call_app(c, t, |a, v| a.stream_reset(v, id, code));
                    break;
                }
                Step::Stop => break,
            }
        }
    }
    any
}

/// The typed reason of a lost connection.
fn close_of(reason: quinn_proto::ConnectionError, local: Option<QuicError>) -> Close {
    use quinn_proto::ConnectionError as E;
    match (reason, local) {
        (E::LocallyClosed, Some(QuicError::HandshakeTimeout)) => Close::Timeout(Timeout::Handshake),
        (E::LocallyClosed, None | Some(QuicError::LocallyClosed { code: 0 })) => Close::Done,
        (E::LocallyClosed, Some(e)) => abort(e),
        (E::TimedOut, _) => Close::Timeout(Timeout::Idle),
        (E::ApplicationClosed(a), _) if a.error_code.into_inner() == 0 => Close::Done,
        (e, _) => abort(QuicError::from(e)),
    }
}

/// Reports `stream_acked` for each stream we reset whose RESET_STREAM
/// the peer acknowledged: quinn-proto then forgets the send side (and has
/// no event for it). True if any was reported.
fn resets_acked(c: &mut Conn, t: &dyn DatagramTransport) -> bool {
    if c.st.resets_unacked.is_empty() {
        return false;
    }
    let acked: Vec<StreamId> =
        c.st.resets_unacked
            .iter()
            .copied()
            .filter(|&id| to_proto_id(id).is_none_or(|pid| c.q.send_stream(pid).stopped().is_err()))
            .collect();
    for &id in &acked {
        c.st.resets_unacked.remove(&id);
        call_app(c, t, |a, v| a.stream_acked(v, id));
    }
    !acked.is_empty()
}

/// Calls the app of `c`, if it has one, with a view over `c`.
fn call_app(
    c: &mut Conn,
    t: &dyn DatagramTransport,
    f: impl FnOnce(&mut dyn QuicApp, &mut ConnView<'_>),
) {
    let Conn { q, app, st, .. } = c;
    if let Some(app) = app.as_mut() {
        let mut v = ConnView {
            q,
            st,
            below: t as &dyn Introspect,
        };
        f(&mut **app, &mut v);
    }
}

fn abort(e: QuicError) -> Close {
    Close::aborted("quic", AbortReason::layer(e))
}

fn ecn_in(e: Ecn) -> quinn_proto::EcnCodepoint {
    match e {
        Ecn::Ect0 => quinn_proto::EcnCodepoint::Ect0,
        Ecn::Ect1 => quinn_proto::EcnCodepoint::Ect1,
        Ecn::Ce => quinn_proto::EcnCodepoint::Ce,
    }
}

fn ecn_out(e: quinn_proto::EcnCodepoint) -> Ecn {
    match e {
        quinn_proto::EcnCodepoint::Ect0 => Ecn::Ect0,
        quinn_proto::EcnCodepoint::Ect1 => Ecn::Ect1,
        quinn_proto::EcnCodepoint::Ce => Ecn::Ce,
    }
}

fn send(t: &mut dyn DatagramTransport, tx: &quinn_proto::Transmit, buf: &[u8]) {
    t.send(&Transmit {
        destination: Some(tx.destination),
        src_ip: tx.src_ip,
        ecn: tx.ecn.map(ecn_out),
        segment_size: tx.segment_size,
        contents: &buf[..tx.size.min(buf.len())],
    });
}
