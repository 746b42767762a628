//! The reliable mapping over real UDP sockets on loopback, through endpoint
//! strings: `reliable+udp://` (echo of 8 MB with half-close, IPv4 and IPv6,
//! several clients at once), `tls+reliable+udp://` (TLS over the mapping,
//! checked with the TLS capability), options, and a typed handshake
//! failure when nobody listens.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{echo_factory, has_ipv6_loopback, within};
use strata::endpoint::Endpoint;
use strata::tls::TlsInfo;
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{registry, ListenConfig, Server};

/// What the client saw.
#[derive(Debug, Default)]
struct Got {
    chain: Vec<&'static str>,
    tls: Option<TlsInfo>,
    data: Vec<u8>,
    eof: bool,
    lost: Option<Close>,
}

/// Sends `msg` (respecting back-pressure), half-closes, and collects what
/// comes back. Without `half_close` (KCP has none) it closes once the whole
/// echo is back instead.
struct Client {
    msg: Arc<Vec<u8>>,
    sent: usize,
    got: Arc<Mutex<Got>>,
    half_close: bool,
}

impl Client {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.sent < self.msg.len() && t.writable() {
            let end = (self.sent + 64 * 1024).min(self.msg.len());
            t.write(&self.msg[self.sent..end]);
            self.sent = end;
        }
        if self.sent == self.msg.len() && self.half_close {
            self.sent += 1;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.got.lock().unwrap().chain = t.layer_chain();
        self.pump(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut g = self.got.lock().unwrap();
        g.data.extend_from_slice(data);
        if g.tls.is_none() {
            g.tls = t.get::<TlsInfo>().cloned();
        }
        if !self.half_close && g.data.len() >= self.msg.len() {
            t.close();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.got.lock().unwrap().eof = true;
        t.close();
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.got.lock().unwrap().lost = Some(why.clone());
    }
}

fn message(n: usize, seed: u8) -> Arc<Vec<u8>> {
    Arc::new(
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
            .collect(),
    )
}

/// Echoes `n` bytes through the endpoint the server listens on, and returns
/// what the client saw.
async fn echo_through(
    listen: &str,
    connect_host: &str,
    n: usize,
    opts: &str,
) -> (Got, strata::Addr) {
    let reg = registry();
    let ep = Endpoint::parse_with(listen, &reg).unwrap();
    let server = Server::new();
    let (factory, seen) = echo_factory();
    let bound = server
        .listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap();
    let strata::Addr::Inet(local) = bound.local.clone() else {
        panic!("not an inet address");
    };
    let scheme = listen.split("://").next().unwrap();
    let url = format!("{scheme}://{connect_host}:{}{opts}", local.port());
    let cep = Endpoint::parse_with(&url, &reg).unwrap();
    let got = Arc::new(Mutex::new(Got::default()));
    let msg = message(n, 7);
    let client = Client {
        msg: msg.clone(),
        sent: 0,
        got: got.clone(),
        half_close: true,
    };
    let conn = strata_tokio::connect(&cep, Box::new(client), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let why = within("echo over the mapping", async {
        tokio::time::timeout(Duration::from_secs(60), conn.closed())
            .await
            .unwrap()
    })
    .await;
    assert!(why.is_clean(), "{why}");
    let g = std::mem::take(&mut *got.lock().unwrap());
    assert!(g.eof, "no EOF: {:?}", g.lost);
    assert_eq!(g.data.len(), n);
    assert!(g.data == *msg, "the echo differs");
    assert!(
        g.lost.as_ref().is_some_and(|l| l.is_clean()),
        "{:?}",
        g.lost
    );
    common::eventually("the server side ends", || {
        seen.lock()
            .unwrap()
            .iter()
            .all(|s| s.lock().unwrap().lost.is_some())
    })
    .await;
    let peer = seen.lock().unwrap()[0]
        .lock()
        .unwrap()
        .peer
        .clone()
        .unwrap();
    server.shutdown(Duration::from_secs(1)).await;
    (g, peer)
}

#[tokio::test]
async fn echo_8_mb_over_reliable_udp_with_half_close() {
    let (got, peer) = echo_through("reliable+udp://127.0.0.1:0", "127.0.0.1", 8 << 20, "").await;
    assert_eq!(got.chain, ["reliable", "udp"]);
    // The server's protocol sees the client's address through the mapping.
    assert!(matches!(peer, strata::Addr::Inet(a) if a.ip().is_loopback()));
}

#[tokio::test]
async fn echo_over_ipv6_loopback() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    echo_through("reliable+udp://[::1]:0", "[::1]", 1 << 20, "").await;
}

#[tokio::test]
async fn every_congestion_controller_over_real_udp() {
    for cc in ["newreno", "cubic", "bbr"] {
        let opts = format!("?reliable.cc={cc}");
        echo_through("reliable+udp://127.0.0.1:0", "127.0.0.1", 2 << 20, &opts).await;
    }
}

#[tokio::test]
async fn tls_over_the_mapping_encrypts_and_negotiates() {
    let (got, _) = echo_through(
        "tls+reliable+udp://127.0.0.1:0",
        "127.0.0.1",
        2 << 20,
        "?tls.insecure=true",
    )
    .await;
    assert_eq!(got.chain, ["tls", "reliable", "udp"]);
    let tls = got.tls.expect("the client sees TLS parameters");
    assert!(format!("{:?}", tls.version).contains("1_3"), "{tls:?}");
    assert!(tls.cipher_suite.starts_with("TLS13_"), "{tls:?}");
}

#[tokio::test]
async fn many_clients_share_one_listener_socket() {
    let reg = registry();
    let ep = Endpoint::parse_with("reliable+udp://127.0.0.1:0", &reg).unwrap();
    let server = Server::new();
    let (factory, seen) = echo_factory();
    let bound = server
        .listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap();
    let url = format!("reliable+udp://{}", bound.local);
    let mut runs = Vec::new();
    for k in 0..20u8 {
        let cep = Endpoint::parse_with(&url, &reg).unwrap();
        let got = Arc::new(Mutex::new(Got::default()));
        let msg = message(200_000, k);
        let client = Client {
            msg: msg.clone(),
            sent: 0,
            got: got.clone(),
            half_close: true,
        };
        let conn = strata_tokio::connect(&cep, Box::new(client), Arc::new(StackConfig::default()))
            .await
            .unwrap();
        runs.push((conn, got, msg));
    }
    for (conn, got, msg) in runs {
        let why = within("a client", conn.closed()).await;
        assert!(why.is_clean(), "{why}");
        assert!(got.lock().unwrap().data == *msg);
    }
    assert_eq!(seen.lock().unwrap().len(), 20);
    server.shutdown(Duration::from_secs(1)).await;
}

/// Issue 9: `strata connect reliable+udp://127.0.0.1:1` hung past 60 s.
/// The connect now returns once the handshake is done, and fails with the
/// reason when it cannot be (here its timeout, `reliable.handshake=1`).
#[tokio::test]
async fn nobody_listening_fails_the_connect_with_a_handshake_timeout() {
    let (err, got) = connect_to_a_closed_port("?reliable.handshake=1").await;
    let text = err.to_string();
    assert!(text.contains("handshake"), "{text}");
    match err {
        strata_tokio::DriverError::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut, "{source}")
        }
        other => panic!("{other}"),
    }
    // The protocol above never started.
    assert!(got.lock().unwrap().lost.is_none());
}

/// Connects a client to a UDP port nobody listens on (a port bound and
/// dropped), with `query` appended to the endpoint: the connect's error, and
/// what the client protocol saw.
async fn connect_to_a_closed_port(query: &str) -> (strata_tokio::DriverError, Arc<Mutex<Got>>) {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reg = registry();
    let url = format!("reliable+udp://127.0.0.1:{port}{query}");
    let ep = Endpoint::parse_with(&url, &reg).unwrap();
    let got = Arc::new(Mutex::new(Got::default()));
    let client = Client {
        msg: message(10, 1),
        sent: 0,
        got: got.clone(),
        half_close: true,
    };
    let res = within(
        "the connect gives up",
        strata_tokio::connect(&ep, Box::new(client), Arc::new(StackConfig::default())),
    )
    .await;
    (res.expect_err("no server: the connect fails"), got)
}

#[tokio::test]
async fn bad_options_are_typed_errors() {
    let reg = registry();
    for bad in [
        "reliable+udp://127.0.0.1:1?reliable.cc=vegas",
        "reliable+udp://127.0.0.1:1?reliable.mtu=100",
    ] {
        let ep = Endpoint::parse_with(bad, &reg).unwrap();
        let err = strata_tokio::connect(
            &ep,
            Box::new(common::Echo {
                seen: Default::default(),
            }),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, strata_tokio::DriverError::BadOption { .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn the_kcp_mode_is_an_option_of_the_same_endpoint() {
    let reg = registry();
    let opts = "?reliable.mode=kcp&reliable.kcp=fast";
    let ep = Endpoint::parse_with(&format!("reliable+udp://127.0.0.1:0{opts}"), &reg).unwrap();
    let server = Server::new();
    let (factory, seen) = echo_factory();
    let bound = server
        .listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap();
    let cep = Endpoint::parse_with(&format!("reliable+udp://{}{opts}", bound.local), &reg).unwrap();
    let got = Arc::new(Mutex::new(Got::default()));
    let msg = message(1 << 20, 3);
    let client = Client {
        msg: msg.clone(),
        sent: 0,
        got: got.clone(),
        half_close: false,
    };
    let conn = strata_tokio::connect(&cep, Box::new(client), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let why = within("echo over the KCP mode", conn.closed()).await;
    assert!(why.is_clean(), "{why}");
    let g = std::mem::take(&mut *got.lock().unwrap());
    assert_eq!(g.chain, ["kcp", "udp"]);
    assert!(g.data == *msg, "the echo differs ({} bytes)", g.data.len());
    assert_eq!(seen.lock().unwrap().len(), 1);
    server.shutdown(Duration::from_secs(1)).await;
}

/// Issue 10: with `reliable.kcp_fin=true` on both ends the KCP mode
/// half-closes like the native one: the client's `write_eof` reaches the
/// echo server, whose end reaches the client after the whole echo, and the
/// client ends cleanly at once, not by the 60 s idle timeout (`within`
/// gives up at 10 s).
#[tokio::test]
async fn the_kcp_mode_with_the_end_marker_half_closes_and_ends_promptly() {
    let reg = registry();
    let opts = "?reliable.mode=kcp&reliable.kcp=fast&reliable.kcp_fin=true";
    let ep = Endpoint::parse_with(&format!("reliable+udp://127.0.0.1:0{opts}"), &reg).unwrap();
    let server = Server::new();
    let (factory, _seen) = echo_factory();
    let bound = server
        .listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap();
    let cep = Endpoint::parse_with(&format!("reliable+udp://{}{opts}", bound.local), &reg).unwrap();
    let got = Arc::new(Mutex::new(Got::default()));
    let msg = message(256 << 10, 5);
    let client = Client {
        msg: msg.clone(),
        sent: 0,
        got: got.clone(),
        half_close: true,
    };
    let conn = strata_tokio::connect(&cep, Box::new(client), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let why = within("a half-closed echo over the KCP mode", conn.closed()).await;
    assert!(why.is_clean(), "{why}");
    let g = std::mem::take(&mut *got.lock().unwrap());
    assert!(g.eof, "the client saw no end");
    assert!(g.data == *msg, "the echo differs ({} bytes)", g.data.len());
    server.shutdown(Duration::from_secs(1)).await;
}

/// Issue 9: a connected client socket hears the kernel's ICMP port
/// unreachable; three of them with no answer fail the connect with the
/// typed reason in about 3 s (3 PTO before any RTT sample), where the
/// handshake timeout alone took 20 s (`within` gives up at 10 s).
#[tokio::test]
async fn a_connect_to_a_closed_port_fails_early_as_unreachable() {
    let (err, got) = connect_to_a_closed_port("").await;
    let text = err.to_string();
    assert!(text.contains("unreachable"), "{text}");
    match err {
        strata_tokio::DriverError::Io { source, .. } => {
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::ConnectionRefused,
                "{source}"
            )
        }
        other => panic!("{other}"),
    }
    assert!(got.lock().unwrap().lost.is_none());
}

/// Writes for ever (64 KiB whenever writable) and counts the echo.
struct Endless {
    got: Arc<Mutex<Got>>,
}

impl Endless {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        let chunk = [7u8; 64 * 1024];
        while t.writable() {
            t.write(&chunk);
        }
    }
}

impl StreamProtocol for Endless {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        let mut g = self.got.lock().unwrap();
        g.data.truncate(0);
        g.data.push(1);
        g.eof |= !data.is_empty();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.got.lock().unwrap().lost = Some(why.clone());
    }
}

/// Issue 9: the server's socket goes away without a word (its runtime is
/// dropped: no CLOSE). The client, sending, hears ICMP port unreachable
/// and ends as unreachable in about a second, where the probe rule took
/// 20 s (`within` gives up at 10 s).
#[tokio::test]
async fn a_client_whose_server_socket_vanishes_ends_within_seconds() {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (kill_tx, kill_rx) = std::sync::mpsc::channel::<()>();
    let server_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = Server::new();
        let ep = Endpoint::parse_with("reliable+udp://127.0.0.1:0", &registry()).unwrap();
        let (factory, _seen) = echo_factory();
        let bound = rt
            .block_on(server.listen(&ep, factory, ListenConfig::default()))
            .unwrap();
        addr_tx.send(bound.local.clone()).unwrap();
        // Serve until told to vanish.
        rt.block_on(async {
            loop {
                if kill_rx.try_recv().is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        rt.shutdown_background();
        std::mem::forget(server);
    });
    let strata::Addr::Inet(local) = addr_rx.recv().unwrap() else {
        panic!("not an inet address");
    };
    let url = format!("reliable+udp://127.0.0.1:{}", local.port());
    let ep = Endpoint::parse_with(&url, &registry()).unwrap();
    let got = Arc::new(Mutex::new(Got::default()));
    let client = Endless { got: got.clone() };
    let conn = within(
        "connect",
        strata_tokio::connect(&ep, Box::new(client), Arc::new(StackConfig::default())),
    )
    .await
    .unwrap();
    common::eventually("the echo flows", || got.lock().unwrap().eof).await;
    kill_tx.send(()).unwrap();
    server_thread.join().unwrap();
    within("the client notices", conn.closed()).await;
    let lost = got.lock().unwrap().lost.clone().expect("connection_lost");
    assert!(lost.to_string().contains("unreachable"), "{lost}");
}

/// `Connection::closed` answers when the protocol has its end, as it does
/// over TCP, not when the mapping's closing period (at least 2 s, its
/// TIME-WAIT, which answers the peer's late retransmissions) is over: the
/// socket lingers for that on its own. It used to wait the whole period, so
/// every client of `reliable+udp://` took 2 s more to finish than its
/// exchange (the `close` column of the `reliable_udp` bench).
#[tokio::test]
async fn closed_answers_at_the_end_not_after_the_closing_period() {
    let reg = registry();
    let ep = Endpoint::parse_with("reliable+udp://127.0.0.1:0", &reg).unwrap();
    let server = Server::new();
    let (factory, _seen) = echo_factory();
    let bound = server
        .listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap();
    let url = format!("reliable+udp://{}", bound.local);
    let cep = Endpoint::parse_with(&url, &reg).unwrap();
    let got = Arc::new(Mutex::new(Got::default()));
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
    let client = Signalled {
        inner: Client {
            msg: message(4096, 3),
            sent: 0,
            got: got.clone(),
            half_close: true,
        },
        lost: Some(lost_tx),
    };
    let conn = strata_tokio::connect(&cep, Box::new(client), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    within("the exchange", async { lost_rx.await.unwrap() }).await;
    // The closing period is at least 2 s from the close: half of it is
    // plenty for the driver to hand over a reason it already has.
    let why = tokio::time::timeout(Duration::from_secs(1), conn.closed())
        .await
        .expect("closed() waited for the closing period");
    assert!(why.is_clean(), "{why}");
    assert_eq!(got.lock().unwrap().data.len(), 4096);
    server.shutdown(Duration::from_secs(1)).await;
}

/// A [`Client`] that says when it got `connection_lost`.
struct Signalled {
    inner: Client,
    lost: Option<tokio::sync::oneshot::Sender<()>>,
}

impl StreamProtocol for Signalled {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.inner.connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner.data_received(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(t)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.resume_writing(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why);
        if let Some(tx) = self.lost.take() {
            let _ = tx.send(());
        }
    }
}
