//! The transport-agnostic matrix: one file-transfer protocol, unchanged, over
//! every stream transport strata has. Each row moves megabytes both ways and
//! checks every byte, half-closes, runs with a slow reader (back-pressure
//! engaged), and aborts mid-transfer (a typed reason on both sides).
//!
//! Rows: the memory pump, TCP, a Unix socket, length-prefix framing with
//! reassembly back to a stream (over each of them), TLS (over each of them)
//! and TLS over TLS, and one HTTP/2 stream made a byte tunnel by RFC 8441
//! extended CONNECT (over the pump, TCP, TLS; and with TLS inside the
//! tunnel), and the reliable mapping: over real UDP (`reliable+udp://`, plain
//! and with TLS above), over the simulated network at 3% loss with
//! reordering and duplication (plain and with TLS), and as the pass-through
//! it is over a stream (TCP); and one QUIC stream over real UDP
//! (`quic+udp://`), over the simulated network at the same loss, reordering
//! and duplication, and over length-prefixed frames on a real TCP connection
//! (`quic+tcp://`), each plain and with TLS above; and one HTTP/3 stream made a byte tunnel
//! by RFC 9220 extended CONNECT, TLS-free inside (over QUIC over real UDP and
//! over the lossy simulated network), and with TLS inside the tunnel (over
//! real UDP).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use strata::endpoint::Endpoint;
use strata::framing::{LengthPrefixed, StreamOverFrames};
use strata::http::h2::{H2Client, H2Config, H2Connection};
use strata::http::h3::{H3Client, H3Config, H3Server};
use strata::http::{HttpExchange, Protocol, SharedService};
use strata::quic::{AppFactory, PerStream, QuicApp, QuicClient, QuicConfig, QuicServer};
use strata::testing::Pump;
use strata::tls::{Tls, TlsConfig};
use strata::{
    AbortReason, Close, DatagramProtocol, StackConfig, StreamFactory, StreamProtocol,
    StreamTransport,
};
use strata_tokio::{ListenConfig, Server, TlsIdentity};

const SIZE: usize = 4 << 20;
const CHUNK: usize = 16 * 1024;

/// The byte at position `i` of the stream sent by side `seed`.
fn byte(seed: u8, i: usize) -> u8 {
    (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ seed
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Full,
    SlowReader,
    AbortMidway,
}

#[derive(Default, Debug)]
struct Report {
    received: usize,
    corrupt_at: Option<usize>,
    eof: bool,
    pauses: usize,
    lost: Option<String>,
    aborted_reason: Option<Close>,
}

/// Sends `SIZE` bytes, half-closes, verifies what the peer sends, closes when
/// both directions are done.
struct Transfer {
    seed: u8,
    peer_seed: u8,
    sent: usize,
    mode: Mode,
    /// This side aborts (in AbortMidway) or reads slowly (in SlowReader).
    active: bool,
    resume_at: Option<Instant>,
    eof_sent: bool,
    report: Arc<Mutex<Report>>,
}

impl Transfer {
    fn new(seed: u8, peer_seed: u8, mode: Mode, active: bool) -> (Self, Arc<Mutex<Report>>) {
        let report = Arc::new(Mutex::new(Report::default()));
        let t = Transfer {
            seed,
            peer_seed,
            sent: 0,
            mode,
            active,
            resume_at: None,
            eof_sent: false,
            report: report.clone(),
        };
        (t, report)
    }

    fn pump(&mut self, t: &mut dyn StreamTransport) {
        let mut buf = [0u8; CHUNK];
        while self.sent < SIZE && t.writable() {
            let n = CHUNK.min(SIZE - self.sent);
            for (k, b) in buf[..n].iter_mut().enumerate() {
                *b = byte(self.seed, self.sent + k);
            }
            t.write(&buf[..n]);
            self.sent += n;
            if self.mode == Mode::AbortMidway && self.active && self.sent >= SIZE / 4 {
                t.abort(Close::aborted("transfer", AbortReason::Requested));
                return;
            }
        }
        if self.sent == SIZE && !self.eof_sent {
            self.eof_sent = true;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Transfer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut r = self.report.lock().unwrap();
        if r.corrupt_at.is_none()
            && let Some(k) = data
                .iter()
                .enumerate()
                .position(|(k, b)| *b != byte(self.peer_seed, r.received + k))
        {
            r.corrupt_at = Some(r.received + k);
        }
        r.received += data.len();
        drop(r);
        if self.mode == Mode::SlowReader && self.active {
            t.pause_reading();
            self.resume_at = Some(t.now() + Duration::from_micros(500));
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.report.lock().unwrap().eof = true;
        if self.eof_sent {
            t.close();
        }
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.report.lock().unwrap().pauses += 1;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
        if self.eof_sent && self.report.lock().unwrap().eof {
            t.close();
        }
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.resume_at
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.resume_at.is_some_and(|d| d <= t.now()) {
            self.resume_at = None;
            t.resume_reading();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        let mut r = self.report.lock().unwrap();
        r.lost = Some(why.to_string());
        r.aborted_reason = Some(why.clone());
    }
}

/// How a row wraps the transfer protocol: (client side, server side).
type Wrap = (
    fn(Transfer) -> Box<dyn StreamProtocol>,
    fn(Transfer) -> Box<dyn StreamProtocol>,
);

fn boxed(t: Transfer) -> Box<dyn StreamProtocol> {
    Box::new(t)
}

fn framed(t: Transfer) -> Box<dyn StreamProtocol> {
    Box::new(LengthPrefixed::new(StreamOverFrames::new(t)))
}

/// The reliable mapping over a stream: a pass-through (the same type is a
/// full transport over datagrams).
fn passthrough(t: Transfer) -> Box<dyn StreamProtocol> {
    Box::new(strata::reliable::Reliable::new(
        strata::reliable::ReliableConfig::default(),
        t,
    ))
}

const PLAIN: Wrap = (boxed, boxed);
const RELIABLE_PASSTHROUGH: Wrap = (passthrough, passthrough);
const FRAMED: Wrap = (framed, framed);
const TLS: Wrap = (tls_client, tls_server);
const TLS_IN_TLS: Wrap = (tls_in_tls_client, tls_in_tls_server);

/// TLS configs for the rows: a self-signed identity made once per process;
/// the client accepts it (`tls.insecure`): verification is tested elsewhere,
/// here the bytes matter.
fn tls_configs() -> &'static (TlsConfig, TlsConfig) {
    static CFG: OnceLock<(TlsConfig, TlsConfig)> = OnceLock::new();
    CFG.get_or_init(|| {
        let reg = strata_tokio::registry();
        let id = TlsIdentity::self_signed().expect("rcgen makes a certificate");
        let srv = Endpoint::parse_with("tls+tcp://127.0.0.1:1", &reg).unwrap();
        let cli = Endpoint::parse_with("tls+tcp://localhost:1?tls.insecure=true", &reg).unwrap();
        (
            strata_tokio::client_config(&cli).unwrap(),
            strata_tokio::server_config(&srv, &id).unwrap(),
        )
    })
}

fn tls_client(t: Transfer) -> Box<dyn StreamProtocol> {
    Box::new(Tls::new(t, &tls_configs().0).unwrap())
}

fn tls_server(t: Transfer) -> Box<dyn StreamProtocol> {
    Box::new(Tls::new(t, &tls_configs().1).unwrap())
}

fn tls_in_tls_client(t: Transfer) -> Box<dyn StreamProtocol> {
    let inner = Tls::new(t, &tls_configs().0).unwrap();
    Box::new(Tls::new(inner, &tls_configs().0).unwrap())
}

fn tls_in_tls_server(t: Transfer) -> Box<dyn StreamProtocol> {
    let inner = Tls::new(t, &tls_configs().1).unwrap();
    Box::new(Tls::new(inner, &tls_configs().1).unwrap())
}

/// The extended CONNECT (RFC 8441 over HTTP/2, RFC 9220 over HTTP/3) that
/// opens a row's tunnel.
fn tunnel_request() -> http::Request<()> {
    let mut req = http::Request::connect("https://localhost/tunnel")
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(Protocol("strata-matrix".into()));
    req
}

/// RFC 8441 extended CONNECT: the transfer runs inside one HTTP/2 stream,
/// the client's `:protocol` tunnel answered `200` by the server's service.
fn h2_tunnel_client(t: Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> {
    let client = H2Client::new();
    client.send(tunnel_request(), t);
    // The handle is dropped: the connection ends once the tunnel does.
    Box::new(H2Connection::client(Arc::new(H2Config::default()), client))
}

/// Answers the tunnel's CONNECT with 200, then is the transfer.
struct Tunnel(Box<dyn StreamProtocol>);
impl StreamProtocol for Tunnel {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let ok = http::Response::builder().status(200).body(()).unwrap();
        t.send_response(ok).expect("an HTTP exchange");
        self.0.connection_made(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.0.data_received(t, d)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.eof_received(t)
    }
    strata::forward_to_inner!(0, except connection_made);
}

/// The server's service for either HTTP version: the row's one tunnel,
/// its protocol from `inner`.
fn tunnel_service(inner: StreamFactory) -> SharedService {
    Arc::new(move |req: &http::request::Parts| {
        assert_eq!(req.method, http::Method::CONNECT);
        assert_eq!(
            req.extensions.get::<Protocol>().map(|p| p.0.as_str()),
            Some("strata-matrix")
        );
        Box::new(Tunnel(inner())) as Box<dyn StreamProtocol>
    })
}

/// A factory that hands out `p` once: each row has one connection (or one
/// stream, or one tunnel) per side.
fn once(p: Box<dyn StreamProtocol>) -> StreamFactory {
    let slot = Mutex::new(Some(p));
    Arc::new(move || slot.lock().unwrap().take().expect("one per row"))
}

fn h2_tunnel_server(t: Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> {
    let service = tunnel_service(once(t));
    Box::new(H2Connection::server(Arc::new(H2Config::default()), service))
}

fn h2_client(t: Transfer) -> Box<dyn StreamProtocol> {
    h2_tunnel_client(Box::new(t))
}
fn h2_server(t: Transfer) -> Box<dyn StreamProtocol> {
    h2_tunnel_server(Box::new(t))
}
/// The canonical stack: TLS below the HTTP/2 connection.
fn h2_over_tls_client(t: Transfer) -> Box<dyn StreamProtocol> {
    Box::new(Tls::new(h2_tunnel_client(Box::new(t)), &tls_configs().0).unwrap())
}
fn h2_over_tls_server(t: Transfer) -> Box<dyn StreamProtocol> {
    Box::new(Tls::new(h2_tunnel_server(Box::new(t)), &tls_configs().1).unwrap())
}
/// TLS inside the tunnel: end-to-end encryption through an HTTP/2 stream.
fn tls_in_h2_client(t: Transfer) -> Box<dyn StreamProtocol> {
    h2_tunnel_client(Box::new(Tls::new(t, &tls_configs().0).unwrap()))
}
fn tls_in_h2_server(t: Transfer) -> Box<dyn StreamProtocol> {
    h2_tunnel_server(Box::new(Tls::new(t, &tls_configs().1).unwrap()))
}

const H2_TUNNEL: Wrap = (h2_client, h2_server);
const H2_OVER_TLS: Wrap = (h2_over_tls_client, h2_over_tls_server);
const TLS_IN_H2: Wrap = (tls_in_h2_client, tls_in_h2_server);

/// What runs over a row's QUIC connection.
#[derive(Clone, Copy, Debug)]
enum OverQuic {
    /// One bidirectional stream carries the transfer (`PerStream`).
    Stream,
    /// HTTP/3: one request stream made a byte tunnel by RFC 9220 extended
    /// CONNECT carries it.
    H3Tunnel,
}

impl OverQuic {
    fn alpn(self) -> &'static str {
        match self {
            OverQuic::Stream => "strata-matrix",
            OverQuic::H3Tunnel => "h3",
        }
    }
}

/// The rustls configurations of the QUIC rows built here (TLS 1.3 is what
/// QUIC runs; each row's `QuicConfig` sets the ALPN): a self-signed
/// identity made once per process, which the client accepts.
fn quic_tls() -> &'static (Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>) {
    static CFG: OnceLock<(Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>)> = OnceLock::new();
    CFG.get_or_init(|| {
        let id = strata::tls::Identity::localhost().expect("rcgen makes a certificate");
        let server = strata::tls::ServerTls::new(&id).build_rustls().unwrap();
        let (client, _) = strata::tls::ClientTls::new("localhost")
            .unwrap()
            .insecure()
            .build_rustls()
            .unwrap();
        (Arc::new(client), Arc::new(server))
    })
}

/// The layer's settings, as the driver makes them from an endpoint: the
/// stack's watermarks, the row's ALPN, a seed (a simulated run repeats).
fn quic_config(seed: u64, over: OverQuic) -> QuicConfig {
    let stack = StackConfig::default();
    QuicConfig {
        alpn: vec![over.alpn().as_bytes().to_vec()],
        rng_seed: Some(seed),
        high_water: stack.high_water,
        low_water: stack.low_water,
        ..QuicConfig::default()
    }
}

/// The server's app on each connection: the transfer on the client's
/// stream, or HTTP/3 serving the transfer in the client's tunnel.
fn quic_apps(over: OverQuic, server: StreamFactory) -> AppFactory {
    match over {
        OverQuic::Stream => Arc::new(move |_: Option<&[u8]>| {
            Some(Box::new(PerStream::new(server.clone())) as Box<dyn QuicApp>)
        }),
        OverQuic::H3Tunnel => {
            let service = tunnel_service(server);
            Arc::new(move |_: Option<&[u8]>| {
                let h3 = H3Server::new(service.clone(), H3Config::default());
                Some(Box::new(h3) as Box<dyn QuicApp>)
            })
        }
    }
}

/// The client's app: the transfer on one stream it opens, or in the
/// tunnel of one extended CONNECT (the connection ends with the tunnel).
fn quic_client_app(over: OverQuic, client: Box<dyn StreamProtocol>) -> Box<dyn QuicApp> {
    match over {
        OverQuic::Stream => Box::new(PerStream::client(client)),
        OverQuic::H3Tunnel => Box::new(H3Client::request(
            tunnel_request(),
            client,
            H3Config::default(),
        )),
    }
}

/// A QUIC client and server for the rows over the simulated network.
fn quic_pair(
    over: OverQuic,
    client: Box<dyn StreamProtocol>,
    server: Box<dyn StreamProtocol>,
    server_addr: std::net::SocketAddr,
) -> (QuicClient, QuicServer) {
    let (client_tls, server_tls) = quic_tls();
    let apps = quic_apps(over, once(server));
    let s = QuicServer::new(quic_config(2, over), server_tls.clone(), apps).unwrap();
    let app = quic_client_app(over, client);
    let c = QuicClient::new(
        quic_config(1, over),
        client_tls.clone(),
        "localhost",
        server_addr,
        app,
    )
    .unwrap();
    (c, s)
}

/// What the server side of an aborted row sees: a reset, or, through an
/// HTTP/2 tunnel, the peer's RST_STREAM(CANCEL), through an HTTP/3 one,
/// its RESET_STREAM(H3_REQUEST_CANCELLED).
fn reset_like(why: &Option<Close>) -> bool {
    match why {
        Some(Close::Reset) => true,
        // The mapping's CLOSE with an application code, sent by an abort.
        Some(Close::Aborted {
            layer: "reliable",
            reason: AbortReason::PeerAborted,
        }) => true,
        // A QUIC stream's RESET_STREAM (or STOP_SENDING), sent by an abort.
        Some(why)
            if matches!(
                why.error::<strata::quic::QuicError>(),
                Some(
                    strata::quic::QuicError::StreamReset(_)
                        | strata::quic::QuicError::StreamStopped(_)
                )
            ) =>
        {
            true
        }
        // An HTTP/3 tunnel's RESET_STREAM(H3_REQUEST_CANCELLED).
        Some(why) if why.error::<strata::http::h3::H3Error>().is_some() => why
            .error::<strata::http::h3::H3Error>()
            .is_some_and(|e| e.remote && e.code == strata::http::h3::Code::RequestCancelled),
        Some(why) => why
            .error::<strata::http::h2::H2Error>()
            .is_some_and(|e| e.remote && e.code == strata::http::h2::frame::ErrorCode::Cancel),
        None => false,
    }
}

#[derive(Clone, Copy, Debug)]
enum Bottom {
    Pump,
    Tcp,
    Unix,
    /// The reliable mapping over real UDP on loopback.
    ReliableUdp,
    /// The reliable mapping over the simulated network, lossy.
    ReliableSim,
    /// One QUIC stream over real UDP on loopback (`quic+udp://`).
    QuicUdp,
    /// One QUIC stream over the simulated network, lossy.
    QuicSim,
    /// One QUIC stream over length-prefixed frames on real TCP on loopback
    /// (`quic+tcp://`).
    QuicTcp,
    /// An HTTP/3 extended-CONNECT tunnel over QUIC over real UDP on
    /// loopback (`quic+udp://…?quic.alpn=h3`); the row's wrap runs inside it.
    H3Udp,
    /// An HTTP/3 extended-CONNECT tunnel over the simulated network, lossy.
    H3Sim,
}

/// Runs one row and returns (client report, server report).
fn run_row(bottom: Bottom, wrap: Wrap, mode: Mode) -> (Report, Report) {
    // The client is the active side: it reads slowly, or aborts.
    let (client, rc) = Transfer::new(0x11, 0x22, mode, true);
    let (server, rs) = Transfer::new(0x22, 0x11, mode, false);
    let (wrap_client, wrap_server) = wrap;
    match bottom {
        Bottom::Pump => {
            let mut p = Pump::new(wrap_client(client), wrap_server(server));
            p.run(Duration::from_secs(600));
            assert!(p.a().finished().is_some(), "client did not finish");
            assert!(p.b().finished().is_some(), "server did not finish");
        }
        Bottom::Tcp
        | Bottom::Unix
        | Bottom::ReliableUdp
        | Bottom::QuicUdp
        | Bottom::QuicTcp
        | Bottom::H3Udp => real_sockets(bottom, wrap_client(client), wrap_server(server), &rc, &rs),
        Bottom::ReliableSim | Bottom::QuicSim | Bottom::H3Sim => {
            simulated(bottom, wrap_client(client), wrap_server(server), &rc, &rs)
        }
    }
    let take = |r: &Arc<Mutex<Report>>| std::mem::take(&mut *r.lock().unwrap());
    (take(&rc), take(&rs))
}

fn real_sockets(
    bottom: Bottom,
    client: Box<dyn StreamProtocol>,
    server: Box<dyn StreamProtocol>,
    rc: &Arc<Mutex<Report>>,
    rs: &Arc<Mutex<Report>>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let srv = Server::new();
        let factory = once(server);
        let cfg = Arc::new(StackConfig::default());
        let dir = tempdir();
        let conn = match bottom {
            Bottom::Tcp => {
                let addr = srv
                    .listen_tcp(
                        "127.0.0.1:0".parse().unwrap(),
                        factory,
                        ListenConfig::default(),
                    )
                    .await
                    .unwrap();
                strata_tokio::connect_tcp(addr, client, cfg).await.unwrap()
            }
            Bottom::Unix => {
                let path = dir.join("matrix.sock");
                srv.listen_unix(&path, factory, ListenConfig::default())
                    .await
                    .unwrap();
                strata_tokio::connect_unix(&path, client, cfg)
                    .await
                    .unwrap()
            }
            Bottom::ReliableUdp => {
                let reg = strata_tokio::registry();
                let ep = Endpoint::parse_with("reliable+udp://127.0.0.1:0", &reg).unwrap();
                let bound = srv
                    .listen(&ep, factory, ListenConfig::default())
                    .await
                    .unwrap();
                let to =
                    Endpoint::parse_with(&format!("reliable+udp://{}", bound.local), &reg).unwrap();
                strata_tokio::connect(&to, client, cfg).await.unwrap()
            }
            Bottom::QuicUdp => {
                let reg = strata_tokio::registry();
                let ep = Endpoint::parse_with("quic+udp://127.0.0.1:0", &reg).unwrap();
                let bound = srv
                    .listen(&ep, factory, ListenConfig::default())
                    .await
                    .unwrap();
                let to = format!("quic+udp://{}?quic.insecure=true", bound.local);
                let to = Endpoint::parse_with(&to, &reg).unwrap();
                strata_tokio::connect(&to, client, cfg).await.unwrap()
            }
            Bottom::QuicTcp => {
                let reg = strata_tokio::registry();
                let ep = Endpoint::parse_with("quic+tcp://127.0.0.1:0", &reg).unwrap();
                let bound = srv
                    .listen(&ep, factory, ListenConfig::default())
                    .await
                    .unwrap();
                let to = format!("quic+tcp://{}?quic.insecure=true", bound.local);
                let to = Endpoint::parse_with(&to, &reg).unwrap();
                strata_tokio::connect(&to, client, cfg).await.unwrap()
            }
            Bottom::H3Udp => {
                let reg = strata_tokio::registry();
                let alpn = OverQuic::H3Tunnel.alpn();
                let ep = format!("quic+udp://127.0.0.1:0?quic.alpn={alpn}");
                let ep = Endpoint::parse_with(&ep, &reg).unwrap();
                let apps = quic_apps(OverQuic::H3Tunnel, factory);
                let bound = srv
                    .listen_quic(&ep, None, apps, ListenConfig::default())
                    .await
                    .unwrap();
                let to = format!(
                    "quic+udp://{}?quic.alpn={alpn}&quic.insecure=true",
                    bound.local
                );
                let to = Endpoint::parse_with(&to, &reg).unwrap();
                let app = quic_client_app(OverQuic::H3Tunnel, client);
                strata_tokio::connect_quic(&to, app, cfg).await.unwrap()
            }
            Bottom::Pump | Bottom::ReliableSim | Bottom::QuicSim | Bottom::H3Sim => unreachable!(),
        };
        let why = tokio::time::timeout(Duration::from_secs(120), conn.closed())
            .await
            .expect("client finished in time");
        // The server side finishes on its own task: wait for its report.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while rs.lock().unwrap().lost.is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = why;
        assert!(rc.lock().unwrap().lost.is_some());
        srv.shutdown(Duration::from_secs(1)).await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// The client and server of `bottom` (the mapping's, or QUIC's with a
/// stream or an HTTP/3 tunnel) over a simulated link with 20 ms of delay
/// each way, 3% loss, 2% duplication and 5% reordering.
fn simulated(
    bottom: Bottom,
    client: Box<dyn StreamProtocol>,
    server: Box<dyn StreamProtocol>,
    rc: &Arc<Mutex<Report>>,
    rs: &Arc<Mutex<Report>>,
) {
    use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    use strata::testing::{LinkConfig, Loss, SimNet};
    let mut net = SimNet::new(0x5eed);
    net.set_tracing(false);
    let server_addr: std::net::SocketAddr = "10.0.0.2:443".parse().unwrap();
    let over = match bottom {
        Bottom::ReliableSim => None,
        Bottom::QuicSim => Some(OverQuic::Stream),
        Bottom::H3Sim => Some(OverQuic::H3Tunnel),
        _ => unreachable!("not a simulated row"),
    };
    let (client, server): (Box<dyn DatagramProtocol>, Box<dyn DatagramProtocol>) = match over {
        None => {
            let cfg = ReliableConfig::default();
            (
                Box::new(Reliable::connect_to(server_addr, cfg.clone(), client)),
                Box::new(ReliableListener::new(cfg, once(server))),
            )
        }
        Some(over) => {
            let (c, s) = quic_pair(over, client, server, server_addr);
            (Box::new(c), Box::new(s))
        }
    };
    let s = net.add_node(server_addr, server);
    let c = net.add_node("10.0.0.1:5000".parse().unwrap(), client);
    let link = LinkConfig::default()
        .delay(Duration::from_millis(20))
        .loss(Loss::Random(0.03))
        .duplicate(0.02)
        .reorder(0.05, Duration::from_millis(5));
    net.link_both(c, s, link);
    net.run_until(Duration::from_secs(3600), |_| {
        rc.lock().unwrap().lost.is_some() && rs.lock().unwrap().lost.is_some()
    });
    assert!(rc.lock().unwrap().lost.is_some(), "client did not finish");
    assert!(rs.lock().unwrap().lost.is_some(), "server did not finish");
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "strata-matrix-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check_full(c: &Report, s: &Report, row: &str) {
    for (side, r) in [("client", c), ("server", s)] {
        assert_eq!(r.corrupt_at, None, "{row} {side}: corrupt");
        assert_eq!(r.received, SIZE, "{row} {side}: short: {r:?}");
        assert!(r.eof, "{row} {side}: no EOF after the data");
        assert_eq!(
            r.lost.as_deref(),
            Some("closed cleanly"),
            "{row} {side}: {r:?}"
        );
    }
}

macro_rules! rows {
    ($($name:ident: $bottom:expr_2021, $wrap:expr_2021;)*) => {
        mod full { use super::*; $(#[test] fn $name() {
            let (c, s) = run_row($bottom, $wrap, Mode::Full);
            check_full(&c, &s, stringify!($name));
        })* }
        mod slow_reader { use super::*; $(#[test] fn $name() {
            let (c, s) = run_row($bottom, $wrap, Mode::SlowReader);
            check_full(&c, &s, stringify!($name));
            assert!(s.pauses > 0, "the server felt no back-pressure: {s:?}");
        })* }
        mod abort_midway { use super::*; $(#[test] fn $name() {
            let (c, s) = run_row($bottom, $wrap, Mode::AbortMidway);
            assert!(matches!(
                c.aborted_reason,
                Some(Close::Aborted { layer: "transfer", reason: AbortReason::Requested })
            ), "client: {c:?}");
            assert!(reset_like(&s.aborted_reason), "server: {s:?}");
            assert!(s.received < SIZE, "the abort cut the transfer short");
            assert_eq!(s.corrupt_at, None);
        })* }
    };
}

rows! {
    pump: Bottom::Pump, PLAIN;
    tcp: Bottom::Tcp, PLAIN;
    unix: Bottom::Unix, PLAIN;
    frames_over_pump: Bottom::Pump, FRAMED;
    frames_over_tcp: Bottom::Tcp, FRAMED;
    frames_over_unix: Bottom::Unix, FRAMED;
    tls_over_pump: Bottom::Pump, TLS;
    tls_over_tcp: Bottom::Tcp, TLS;
    tls_over_unix: Bottom::Unix, TLS;
    tls_over_tls_over_tcp: Bottom::Tcp, TLS_IN_TLS;
    h2_tunnel_over_pump: Bottom::Pump, H2_TUNNEL;
    h2_tunnel_over_tcp: Bottom::Tcp, H2_TUNNEL;
    h2_tunnel_over_tls_over_tcp: Bottom::Tcp, H2_OVER_TLS;
    tls_in_h2_tunnel_over_tcp: Bottom::Tcp, TLS_IN_H2;
    reliable_over_udp: Bottom::ReliableUdp, PLAIN;
    tls_over_reliable_over_udp: Bottom::ReliableUdp, TLS;
    reliable_over_lossy_simnet: Bottom::ReliableSim, PLAIN;
    tls_over_reliable_over_lossy_simnet: Bottom::ReliableSim, TLS;
    reliable_passthrough_over_tcp: Bottom::Tcp, RELIABLE_PASSTHROUGH;
    quic_stream_over_udp: Bottom::QuicUdp, PLAIN;
    tls_over_quic_stream_over_udp: Bottom::QuicUdp, TLS;
    quic_stream_over_lossy_simnet: Bottom::QuicSim, PLAIN;
    tls_over_quic_stream_over_lossy_simnet: Bottom::QuicSim, TLS;
    quic_stream_over_frames_over_tcp: Bottom::QuicTcp, PLAIN;
    tls_over_quic_stream_over_frames_over_tcp: Bottom::QuicTcp, TLS;
    h3_tunnel_over_quic_over_udp: Bottom::H3Udp, PLAIN;
    h3_tunnel_over_lossy_simnet: Bottom::H3Sim, PLAIN;
    tls_in_h3_tunnel_over_quic_over_udp: Bottom::H3Udp, TLS;
}
