//! Shared by the quic_* tests: TLS configurations (one self-signed
//! identity per process), a client and a server over a `SimNet` link, and
//! the byte-pattern workload of the reliable mapping's tests (`Bulk`).
#![allow(dead_code)]

#[path = "../reliable_support/mod.rs"]
pub mod bulk;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use strata::quic::{AppFactory, PerStream, QuicApp, QuicClient, QuicConfig, QuicServer};
use strata::testing::{LinkConfig, LinkStats, NodeId, RunOutcome, SimNet};
use strata::tls::{ClientTls, Identity, ServerTls};
use strata::{Close, StreamFactory, StreamProtocol, StreamTransport};

#[allow(unused_imports)]
pub use bulk::{addr, Bulk, Outcome, Shared, Transfer};

pub const ALPN: &[u8] = b"strata-test";
pub const SERVER: &str = "10.0.0.2:4433";
pub const CLIENT: &str = "10.0.0.1:5000";

pub fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| Identity::localhost().unwrap())
}

pub fn server_tls(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    Arc::new(
        ServerTls::new(identity())
            .alpn(alpn.iter().copied())
            .build_rustls()
            .unwrap(),
    )
}

pub fn client_tls(alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    Arc::new(
        ClientTls::new("localhost")
            .unwrap()
            .insecure()
            .alpn(alpn.iter().copied())
            .build_rustls()
            .unwrap()
            .0,
    )
}

pub fn config(seed: u64) -> QuicConfig {
    QuicConfig {
        rng_seed: Some(seed),
        ..QuicConfig::default()
    }
}

/// Every connection runs `PerStream` with `factory`.
pub fn per_stream(factory: StreamFactory) -> AppFactory {
    Arc::new(move |_| Some(Box::new(PerStream::new(factory.clone())) as Box<dyn QuicApp>))
}

/// Apps that run an [`Echo`] logging to `log` on every stream.
pub fn echo_apps(log: &SharedLog) -> AppFactory {
    let log = log.clone();
    per_stream(Arc::new(move || {
        Box::new(Echo(log.clone())) as Box<dyn StreamProtocol>
    }))
}

pub fn server(cfg: QuicConfig, apps: AppFactory) -> QuicServer {
    QuicServer::new(cfg, server_tls(&[ALPN]), apps).unwrap()
}

pub fn client_app(cfg: QuicConfig, app: Box<dyn QuicApp>) -> QuicClient {
    QuicClient::new(cfg, client_tls(&[ALPN]), "localhost", addr(SERVER), app).unwrap()
}

pub fn client_stream(cfg: QuicConfig, proto: Box<dyn StreamProtocol>) -> QuicClient {
    QuicClient::stream(cfg, client_tls(&[ALPN]), "localhost", addr(SERVER), proto).unwrap()
}

/// A network with the server at [`SERVER`] and the client at [`CLIENT`],
/// linked both ways with `link`.
pub fn pair(
    seed: u64,
    link: LinkConfig,
    server: QuicServer,
    client: QuicClient,
) -> (SimNet, NodeId, NodeId) {
    let mut net = SimNet::new(seed);
    net.set_tracing(false);
    let s = net.add_node(addr(SERVER), Box::new(server));
    let c = net.add_node(addr(CLIENT), Box::new(client));
    net.link_both(c, s, link);
    (net, c, s)
}

/// Moves `up` bytes client→server and `down` bytes server→client on one
/// stream over a link with `link` both ways.
pub fn transfer(seed: u64, link: LinkConfig, up: u64, down: u64, limit: Duration) -> Transfer {
    transfer_with(seed, link, up, down, limit, config)
}

/// [`transfer`] with the configuration `cfg(seed)` on both ends.
pub fn transfer_with(
    seed: u64,
    link: LinkConfig,
    up: u64,
    down: u64,
    limit: Duration,
    cfg: impl Fn(u64) -> QuicConfig,
) -> Transfer {
    let client_out = Shared::default();
    let server_out = Shared::default();
    let so = server_out.clone();
    let factory: StreamFactory =
        Arc::new(move || Box::new(Bulk::new(down, 2, 1, so.clone())) as Box<dyn StreamProtocol>);
    let srv = server(cfg(seed), per_stream(factory));
    let cli = client_stream(
        cfg(seed ^ 0x5eed),
        Box::new(Bulk::new(up, 1, 2, client_out.clone())),
    );
    let (mut net, c, s) = pair(seed, link, srv, cli);
    let outcome = net.run_until(limit, |_| {
        let c = client_out.lock().unwrap();
        let s = server_out.lock().unwrap();
        c.lost.is_some() && s.lost.is_some()
    });
    let elapsed = net.elapsed();
    let stats = |a, b| -> LinkStats { net.link_stats(a, b).copied().unwrap_or_default() };
    let (up_stats, down_stats) = (stats(c, s), stats(s, c));
    let client = client_out.lock().unwrap().clone();
    let server = server_out.lock().unwrap().clone();
    Transfer {
        client,
        server,
        outcome,
        elapsed,
        up: up_stats,
        down: down_stats,
    }
}

/// A stream protocol that records everything it sees.
#[derive(Default)]
pub struct Log {
    pub made: bool,
    pub data: Vec<u8>,
    pub eof: bool,
    pub lost: Option<Close>,
    pub pauses: u32,
    pub resumes: u32,
    pub chain: Vec<&'static str>,
    pub stream_id: Option<u64>,
}

pub type SharedLog = Arc<Mutex<Log>>;

/// Echoes what it reads; closes at EOF. Records into a log.
pub struct Echo(pub SharedLog);

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut l = self.0.lock().unwrap();
        l.made = true;
        l.chain = t.layer_chain();
        l.stream_id = t.get::<strata::quic::StreamId>().map(|s| s.0);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.0.lock().unwrap().data.extend_from_slice(data);
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// Writes `msg`, then FIN; records what comes back.
pub struct Say {
    pub msg: Vec<u8>,
    pub log: SharedLog,
}

impl StreamProtocol for Say {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut l = self.log.lock().unwrap();
        l.made = true;
        l.chain = t.layer_chain();
        l.stream_id = t.get::<strata::quic::StreamId>().map(|s| s.0);
        t.write(&self.msg);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.log.lock().unwrap().data.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.log.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
}

pub fn run_until(net: &mut SimNet, limit: Duration, mut done: impl FnMut() -> bool) -> RunOutcome {
    net.run_until(limit, |_| done())
}

pub fn lan() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(5),
        ..LinkConfig::default()
    }
}

pub fn sock(s: &str) -> SocketAddr {
    addr(s)
}

/// What a [`Script`] app saw.
#[derive(Default, Debug)]
pub struct Events {
    pub made: bool,
    pub alpn: Option<Vec<u8>>,
    pub opened: Vec<u64>,
    pub data: std::collections::BTreeMap<u64, Vec<u8>>,
    pub finished: Vec<u64>,
    pub reset: Vec<(u64, u64)>,
    pub stopped: Vec<(u64, u64)>,
    pub writable: Vec<u64>,
    pub available: u32,
    pub datagrams: Vec<Vec<u8>>,
    pub wakes: u32,
    pub deadlines: u32,
    pub lost: Option<Close>,
    pub stats: Option<strata::quic::PathStats>,
    pub certs: usize,
}

pub type SharedEvents = Arc<Mutex<Events>>;

type Hook<A> = Box<dyn FnMut(&mut dyn strata::quic::QuicConnection, A) + Send>;

/// A connection-level app that records every event and runs optional hooks.
pub struct Script {
    pub ev: SharedEvents,
    pub on_made: Option<Hook<()>>,
    pub on_data: Option<Hook<(strata::quic::StreamId, Vec<u8>)>>,
    pub on_finished: Option<Hook<strata::quic::StreamId>>,
    pub on_datagram: Option<Hook<Vec<u8>>>,
    pub on_wake: Option<Hook<()>>,
    pub deadline: Option<std::time::Instant>,
}

impl Script {
    pub fn new(ev: SharedEvents) -> Script {
        Script {
            ev,
            on_made: None,
            on_data: None,
            on_finished: None,
            on_datagram: None,
            on_wake: None,
            deadline: None,
        }
    }
    pub fn made(
        mut self,
        f: impl FnMut(&mut dyn strata::quic::QuicConnection, ()) + Send + 'static,
    ) -> Self {
        self.on_made = Some(Box::new(f));
        self
    }
    pub fn data(
        mut self,
        f: impl FnMut(&mut dyn strata::quic::QuicConnection, (strata::quic::StreamId, Vec<u8>))
            + Send
            + 'static,
    ) -> Self {
        self.on_data = Some(Box::new(f));
        self
    }
    pub fn finished(
        mut self,
        f: impl FnMut(&mut dyn strata::quic::QuicConnection, strata::quic::StreamId) + Send + 'static,
    ) -> Self {
        self.on_finished = Some(Box::new(f));
        self
    }
    pub fn datagram(
        mut self,
        f: impl FnMut(&mut dyn strata::quic::QuicConnection, Vec<u8>) + Send + 'static,
    ) -> Self {
        self.on_datagram = Some(Box::new(f));
        self
    }
    pub fn woken(
        mut self,
        f: impl FnMut(&mut dyn strata::quic::QuicConnection, ()) + Send + 'static,
    ) -> Self {
        self.on_wake = Some(Box::new(f));
        self
    }
}

impl QuicApp for Script {
    fn connection_made(&mut self, c: &mut dyn strata::quic::QuicConnection) {
        {
            let mut e = self.ev.lock().unwrap();
            e.made = true;
            e.alpn = c.alpn().map(<[u8]>::to_vec);
            let i: &dyn strata::Introspect = c;
            e.certs = i
                .get::<strata::quic::PeerCertificates>()
                .map_or(0, |p| p.0.len());
        }
        if let Some(f) = self.on_made.as_mut() {
            f(c, ());
        }
    }
    fn stream_opened(
        &mut self,
        _: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
    ) {
        self.ev.lock().unwrap().opened.push(id.0);
    }
    fn stream_data(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
        data: &[u8],
    ) {
        {
            let mut e = self.ev.lock().unwrap();
            e.data.entry(id.0).or_default().extend_from_slice(data);
            let i: &dyn strata::Introspect = c;
            e.stats = i.get::<strata::quic::PathStats>().copied();
        }
        if let Some(f) = self.on_data.as_mut() {
            f(c, (id, data.to_vec()));
        }
    }
    fn stream_finished(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
    ) {
        self.ev.lock().unwrap().finished.push(id.0);
        if let Some(f) = self.on_finished.as_mut() {
            f(c, id);
        }
    }
    fn stream_reset(
        &mut self,
        _: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
        code: u64,
    ) {
        self.ev.lock().unwrap().reset.push((id.0, code));
    }
    fn stream_stopped(
        &mut self,
        _: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
        code: u64,
    ) {
        self.ev.lock().unwrap().stopped.push((id.0, code));
    }
    fn stream_writable(
        &mut self,
        _: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
    ) {
        self.ev.lock().unwrap().writable.push(id.0);
    }
    fn streams_available(
        &mut self,
        _: &mut dyn strata::quic::QuicConnection,
        _: strata::quic::Dir,
    ) {
        self.ev.lock().unwrap().available += 1;
    }
    fn datagram_received(&mut self, c: &mut dyn strata::quic::QuicConnection, data: &[u8]) {
        self.ev.lock().unwrap().datagrams.push(data.to_vec());
        if let Some(f) = self.on_datagram.as_mut() {
            f(c, data.to_vec());
        }
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }
    fn on_deadline(&mut self, _: &mut dyn strata::quic::QuicConnection) {
        self.deadline = None;
        self.ev.lock().unwrap().deadlines += 1;
    }
    fn on_wake(&mut self, c: &mut dyn strata::quic::QuicConnection) {
        self.ev.lock().unwrap().wakes += 1;
        if let Some(f) = self.on_wake.as_mut() {
            f(c, ());
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.ev.lock().unwrap().lost = Some(why.clone());
    }
}

/// A server whose every connection runs a [`Script`] made by `make`.
pub fn script_server(
    cfg: QuicConfig,
    make: impl Fn() -> Script + Send + Sync + 'static,
) -> QuicServer {
    server(
        cfg,
        Arc::new(move |_| Some(Box::new(make()) as Box<dyn QuicApp>)),
    )
}
