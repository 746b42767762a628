//! `proxy+tcp://` over real sockets: a listener reads the PROXY header a
//! load balancer sends and its protocol sees the client's address; a
//! `proxy+tcp://` client sends one with its own; a malformed header and a
//! silent client are refused with the layer's typed error.

mod common;

use std::sync::{Arc, Mutex};

use common::{echo_factory, eventually, roundtrip, within};
use strata::endpoint::Endpoint;
use strata::proxy_protocol::{encode_v1, encode_v2, ProxyError};
use strata::{Addr, StackConfig};
use strata_tokio::{ListenConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn ep(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &strata_tokio::registry()).unwrap()
}

async fn listen(
    endpoint: &str,
) -> (
    Server,
    std::net::SocketAddr,
    Arc<Mutex<Vec<common::Shared>>>,
) {
    let (f, all) = echo_factory();
    let server = Server::new();
    let l = server
        .listen(&ep(endpoint), f, ListenConfig::default())
        .await
        .unwrap();
    let Addr::Inet(addr) = l.local else {
        panic!("{:?}", l.local)
    };
    (server, addr, all)
}

#[tokio::test]
async fn the_listener_reports_the_client_of_a_v1_or_v2_header() {
    let (_server, addr, all) = listen("proxy+tcp://127.0.0.1:0").await;
    let client = "203.0.113.9:41000".parse().unwrap();
    let lb = "198.51.100.1:443".parse().unwrap();
    for header in [
        encode_v1(Some((client, lb))),
        encode_v2(Some((client, lb)), &[]),
    ] {
        let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
        c.write_all(&header).await.unwrap();
        assert_eq!(roundtrip(&mut c, b"ping").await, b"ping");
        let seen = all.lock().unwrap().last().unwrap().clone();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.peer, Some(Addr::Inet(client)));
        assert_eq!(seen.chain, ["proxy", "tcp"]);
    }
}

#[tokio::test]
async fn a_proxy_client_sends_its_own_address() {
    let (_server, addr, all) = listen("proxy+tcp://127.0.0.1:0?proxy.versions=1").await;
    let target = ep(&format!("proxy+tcp://{addr}?proxy.send=1"));
    struct Hello;
    impl strata::StreamProtocol for Hello {
        fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
            t.write(b"hi");
        }
        fn data_received(&mut self, t: &mut dyn strata::StreamTransport, _: &[u8]) {
            t.close();
        }
        fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
            t.close();
        }
    }
    let conn = within(
        "connect",
        strata_tokio::connect(&target, Box::new(Hello), Arc::new(StackConfig::default())),
    )
    .await
    .unwrap();
    within("closed", conn.closed()).await;
    let seen = all.lock().unwrap().last().unwrap().clone();
    let peer = seen.lock().unwrap().peer.clone();
    let Some(Addr::Inet(peer)) = peer else {
        panic!("{peer:?}")
    };
    assert_eq!(peer.ip(), addr.ip());
    assert_ne!(peer.port(), addr.port(), "the client's own port, not ours");
}

#[tokio::test]
async fn a_malformed_header_is_refused_with_a_typed_error_and_a_close() {
    let (_server, addr, all) = listen("proxy+tcp://127.0.0.1:0").await;
    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    // The server closes (or resets): no byte comes back.
    let n = within("close", c.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0);
    eventually("connection_lost", || {
        all.lock()
            .unwrap()
            .last()
            .is_some_and(|s| s.lock().unwrap().lost.is_some())
    })
    .await;
    let seen = all.lock().unwrap().last().unwrap().clone();
    let why = seen.lock().unwrap().lost.clone().unwrap();
    assert_eq!(why.error::<ProxyError>(), Some(&ProxyError::NotProxy));
    assert_eq!(seen.lock().unwrap().peer, None, "never started");
}

#[tokio::test]
async fn a_silent_client_times_out() {
    let (_server, addr, all) = listen("proxy+tcp://127.0.0.1:0?proxy.timeout=200").await;
    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    c.write_all(b"PROXY TCP4 1.2.3.4").await.unwrap();
    let mut buf = [0u8; 64];
    let n = within("close", c.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0);
    eventually("connection_lost", || {
        all.lock()
            .unwrap()
            .last()
            .is_some_and(|s| s.lock().unwrap().lost.is_some())
    })
    .await;
    let seen = all.lock().unwrap().last().unwrap().clone();
    let why = seen.lock().unwrap().lost.clone().unwrap();
    assert!(
        matches!(
            why.error::<ProxyError>(),
            Some(ProxyError::Timeout { got: 18, .. })
        ),
        "{why}"
    );
}

/// Records the source of the PROXY header its transport answers.
struct HeaderSource(Arc<Mutex<Option<Option<std::net::SocketAddr>>>>);

impl strata::StreamProtocol for HeaderSource {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        let h = t.get::<strata::proxy_protocol::ProxyHeader>();
        *self.0.lock().unwrap() = Some(h.and_then(|h| h.source()));
    }
    fn data_received(&mut self, t: &mut dyn strata::StreamTransport, d: &[u8]) {
        t.write(d);
    }
    fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
        t.close();
    }
}

/// The `proxy` layer nests like any other: under TLS (the header comes
/// before the handshake, as HAProxy sends it in TCP mode), over TLS, and
/// over the reliable mapping. A client endpoint with the same chain sends
/// the header with its own address, and the server's protocol sees it
/// through every layer above.
#[tokio::test]
async fn proxy_nests_under_tls_and_over_the_reliable_mapping() {
    for (at, connect) in [
        (
            "tls+proxy+tcp://127.0.0.1:0",
            "tls+proxy+tcp://{addr}?tls.insecure=true",
        ),
        (
            "proxy+tls+tcp://127.0.0.1:0",
            "proxy+tls+tcp://{addr}?tls.insecure=true",
        ),
        (
            "proxy+reliable+udp://127.0.0.1:0",
            "proxy+reliable+udp://{addr}",
        ),
    ] {
        let slot = Arc::new(Mutex::new(None));
        let s2 = slot.clone();
        let f = common::factory(move || HeaderSource(s2.clone()));
        let server = Server::new();
        let l = server
            .listen(&ep(at), f, ListenConfig::default())
            .await
            .unwrap();
        let Addr::Inet(addr) = l.local else {
            panic!("{:?}", l.local)
        };
        let target = ep(&connect.replace("{addr}", &addr.to_string()));
        let (f, _) = echo_factory();
        let conn = within(
            "connect",
            strata_tokio::connect(&target, f(), Arc::new(StackConfig::default())),
        )
        .await
        .unwrap_or_else(|e| panic!("{connect}: {e}"));
        eventually("the server's protocol started", || {
            slot.lock().unwrap().is_some()
        })
        .await;
        let source = slot.lock().unwrap().unwrap();
        let Some(source) = source else {
            panic!("{at}: no PROXY header with a source")
        };
        assert_eq!(source.ip(), addr.ip(), "{at}");
        assert_ne!(source.port(), addr.port(), "{at}: the client's own port");
        drop(conn);
    }
}
