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
pub fn net(
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
    let client_out = Shared::default();
    let server_out = Shared::default();
    let so = server_out.clone();
    let factory: StreamFactory =
        Arc::new(move || Box::new(Bulk::new(down, 2, 1, so.clone())) as Box<dyn StreamProtocol>);
    let srv = server(config(seed), per_stream(factory));
    let cli = client_stream(
        config(seed ^ 0x5eed),
        Box::new(Bulk::new(up, 1, 2, client_out.clone())),
    );
    let (mut net, c, s) = net(seed, link, srv, cli);
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
