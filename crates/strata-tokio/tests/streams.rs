//! Echo over TCP (IPv4, IPv6) and Unix sockets, half-close both ways,
//! outgoing connections, endpoints and Happy Eyeballs.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use strata::endpoint::Endpoint;
use strata::{Addr, Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

async fn echo_over_tcp(bind: SocketAddr) {
    let server = Server::new();
    let (f, seen) = echo_factory();
    let addr = server
        .listen_tcp(bind, f, ListenConfig::default())
        .await
        .unwrap();
    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    assert_eq!(roundtrip(&mut c, b"hello").await, b"hello");
    // Big enough to need many reads and writes on both sides.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = c.into_split();
    let sent = big.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut back = Vec::new();
    within("echo to EOF", r.read_to_end(&mut back))
        .await
        .unwrap();
    assert!(back == big, "echoed bytes differ");
    let w = writer.await.unwrap();
    let client = w.local_addr().unwrap();
    drop((r, w));
    server.shutdown(std::time::Duration::from_secs(1)).await;
    let seen = seen.lock().unwrap();
    let s = seen[0].lock().unwrap();
    assert_eq!(s.peer, Some(Addr::Inet(client)));
    assert_eq!(s.chain, vec!["tcp"]);
    assert!(matches!(s.lost, Some(Close::Done)), "{:?}", s.lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_tcp_ipv4() {
    echo_over_tcp("127.0.0.1:0".parse().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_tcp_ipv6() {
    if !has_ipv6_loopback() {
        eprintln!("note: no IPv6 loopback on this machine; skipping echo_tcp_ipv6");
        return;
    }
    echo_over_tcp("[::1]:0".parse().unwrap()).await;
}

#[tokio::test]
async fn echo_unix_and_stale_socket_file() {
    let path = sock_path("echo");
    // A stale socket file left by a dead server is removed.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = Server::new();
    let (f, seen) = echo_factory();
    server
        .listen_unix(&path, f.clone(), ListenConfig::default())
        .await
        .unwrap();
    // A live one is not taken over.
    let again = Server::new()
        .listen_unix(&path, f, ListenConfig::default())
        .await;
    assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);

    let mut c = within("connect", UnixStream::connect(&path)).await.unwrap();
    assert_eq!(roundtrip(&mut c, b"over unix").await, b"over unix");
    c.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within("EOF", c.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    drop(c);
    server.shutdown(std::time::Duration::from_secs(1)).await;
    assert!(!path.exists(), "the listener removes its socket file");
    let seen = seen.lock().unwrap();
    let s = seen[0].lock().unwrap();
    assert_eq!(s.chain, vec!["unix"]);
    assert!(matches!(s.peer, Some(Addr::Unix(None))), "{:?}", s.peer);
}

/// Counts what it reads and answers only after the peer's EOF.
struct AnswerAfterEof(usize);

impl StreamProtocol for AnswerAfterEof {
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.0 += data.len();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.write(format!("got {} bytes", self.0).as_bytes());
        t.close();
    }
}

#[tokio::test]
async fn half_close_server_answers_after_eof() {
    let server = Server::new();
    let f = factory(|| AnswerAfterEof(0));
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(&[7; 100_000]).await.unwrap();
    c.shutdown().await.unwrap();
    let mut answer = String::new();
    within("answer", c.read_to_string(&mut answer))
        .await
        .unwrap();
    assert_eq!(answer, "got 100000 bytes");
    drop(c);
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Client side: sends a request, half-closes, collects the answer, and
/// closes on the server's EOF.
struct Request {
    answer: Arc<Mutex<Vec<u8>>>,
}

impl StreamProtocol for Request {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"twelve bytes");
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.answer.lock().unwrap().extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[tokio::test]
async fn connect_tcp_half_closes_and_ends_cleanly() {
    let server = Server::new();
    let addr = server
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory(|| AnswerAfterEof(0)),
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let answer = Arc::<Mutex<Vec<u8>>>::default();
    let proto = Box::new(Request {
        answer: answer.clone(),
    });
    let conn = strata_tokio::connect_tcp(addr, proto, Arc::new(StackConfig::default()))
        .await
        .unwrap();
    assert_eq!(conn.peer(), &Addr::Inet(addr));
    let why = within("client closed", conn.closed()).await;
    assert!(why.is_clean(), "{why}");
    assert_eq!(&answer.lock().unwrap()[..], b"got 12 bytes");
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn endpoints_listen_and_connect_over_unix() {
    let path = sock_path("ep");
    let ep = Endpoint::parse(&format!("unix://{}", path.display())).unwrap();
    let server = Server::new();
    let bound = server
        .listen(&ep, factory(|| AnswerAfterEof(0)), ListenConfig::default())
        .await
        .unwrap();
    assert_eq!(bound.local, Addr::Unix(Some(path.clone())));
    let answer = Arc::<Mutex<Vec<u8>>>::default();
    let proto = Box::new(Request {
        answer: answer.clone(),
    });
    let conn = strata_tokio::connect(&ep, proto, Arc::new(StackConfig::default()))
        .await
        .unwrap();
    assert!(within("closed", conn.closed()).await.is_clean());
    assert_eq!(&answer.lock().unwrap()[..], b"got 12 bytes");
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn endpoints_refuse_what_the_driver_cannot_build() {
    let proto = || Box::new(AnswerAfterEof(0)) as Box<dyn StreamProtocol>;
    let cfg = Arc::new(StackConfig::default());
    let udp = Endpoint::parse("udp://127.0.0.1:9").unwrap();
    let e = strata_tokio::connect(&udp, proto(), cfg.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(e, strata_tokio::DriverError::NotStream { .. }),
        "{e}"
    );
    // No port is listening on 1 at the loopback: a typed I/O error with context.
    let refused = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
    let e = strata_tokio::connect(&refused, proto(), cfg)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("connect 127.0.0.1:1: "), "{e}");
}

/// `tcp://localhost:PORT` reaches a server that listens on one family only,
/// whatever order the resolver gives (Happy Eyeballs moves on at once when
/// the other family's attempt is refused).
async fn happy_eyeballs_to(bind: &str) {
    let server = Server::new();
    let (f, _) = echo_factory();
    let addr = server
        .listen_tcp(bind.parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(("localhost", addr.port()))
        .await
        .map(|a| a.collect())
        .unwrap_or_default();
    if !resolved.iter().any(|a| a.is_ipv4() == addr.is_ipv4()) {
        eprintln!("note: localhost does not resolve to {bind} here; skipping");
        return;
    }
    let ep = Endpoint::parse(&format!("tcp://localhost:{}", addr.port())).unwrap();
    let answer = Arc::<Mutex<Vec<u8>>>::default();
    struct Ping(Arc<Mutex<Vec<u8>>>);
    impl StreamProtocol for Ping {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(b"ping");
            t.write_eof();
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
            self.0.lock().unwrap().extend_from_slice(d);
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close();
        }
    }
    let conn = within(
        "happy eyeballs",
        strata_tokio::connect(
            &ep,
            Box::new(Ping(answer.clone())),
            Arc::new(StackConfig::default()),
        ),
    )
    .await
    .unwrap();
    assert_eq!(conn.peer(), &Addr::Inet(addr));
    assert!(within("closed", conn.closed()).await.is_clean());
    assert_eq!(&answer.lock().unwrap()[..], b"ping");
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn happy_eyeballs_reaches_an_ipv4_only_server() {
    happy_eyeballs_to("127.0.0.1:0").await;
}

#[tokio::test]
async fn happy_eyeballs_reaches_an_ipv6_only_server() {
    if !has_ipv6_loopback() {
        eprintln!("note: no IPv6 loopback on this machine; skipping");
        return;
    }
    happy_eyeballs_to("[::1]:0").await;
}

#[tokio::test]
async fn listen_endpoint_with_a_name_binds_every_address() {
    let server = Server::new();
    let (f, _) = echo_factory();
    let ep = Endpoint::parse("tcp://localhost:0?tcp.backlog=16").unwrap();
    let bound = server
        .listen(&ep, f, ListenConfig::default())
        .await
        .unwrap();
    let Addr::Inet(local) = bound.local else {
        panic!("not an IP address: {:?}", bound.local)
    };
    assert!(local.ip().is_loopback() && local.port() != 0);
    for a in tokio::net::lookup_host(("localhost", local.port()))
        .await
        .unwrap()
    {
        if a.is_ipv6() && !has_ipv6_loopback() {
            continue;
        }
        let mut c = within("connect", TcpStream::connect(a)).await.unwrap();
        assert_eq!(roundtrip(&mut c, b"x").await, b"x");
    }
    server.shutdown(std::time::Duration::from_millis(200)).await;
}
