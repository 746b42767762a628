//! Failures stay with their connection: a peer reset, a panicking protocol,
//! and the connection cap.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use strata::{AbortReason, Addr, BottomInfo, Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resets the connection: SO_LINGER 0, then close.
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_reset_reaches_connection_lost_and_no_one_else() {
    let server = Server::new();
    let (f, seen) = echo_factory();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    assert_eq!(roundtrip(&mut a, b"a").await, b"a");
    assert_eq!(roundtrip(&mut b, b"b").await, b"b");
    let a_addr = Addr::Inet(a.local_addr().unwrap());
    reset(a);
    let lost_a = || {
        let all = seen.lock().unwrap();
        let s = all
            .iter()
            .find(|s| s.lock().unwrap().peer.as_ref() == Some(&a_addr))
            .cloned();
        s.and_then(|s| s.lock().unwrap().lost.clone())
    };
    eventually("a's connection_lost", || lost_a().is_some()).await;
    assert!(matches!(lost_a(), Some(Close::Reset)), "{:?}", lost_a());
    // The other connection is unaffected.
    assert_eq!(roundtrip(&mut b, b"still here").await, b"still here");
    eventually("one connection left", || server.connections() == 1).await;
    drop(b);
    server.shutdown(Duration::from_secs(1)).await;
}

/// Echoes, but panics on "boom".
struct Fragile;

impl StreamProtocol for Fragile {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if data.windows(4).any(|w| w == b"boom") {
            panic!("fragile protocol hit a boom");
        }
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_protocol_ends_only_its_connection() {
    let server = Server::new();
    let addr = server
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory(|| Fragile),
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let mut good = TcpStream::connect(addr).await.unwrap();
    let mut bad = TcpStream::connect(addr).await.unwrap();
    assert_eq!(roundtrip(&mut good, b"1").await, b"1");
    bad.write_all(b"boom").await.unwrap();
    let mut buf = [0; 16];
    let res = within("reset after panic", bad.read(&mut buf)).await;
    assert_eq!(
        res.map_err(|e| e.kind()).unwrap_err(),
        std::io::ErrorKind::ConnectionReset,
        "the panicking connection is reset"
    );
    // The server serves on: the old connection and new ones.
    assert_eq!(roundtrip(&mut good, b"2").await, b"2");
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    assert_eq!(roundtrip(&mut fresh, b"3").await, b"3");
    eventually("the panicked task ended", || server.connections() == 2).await;
    drop((good, fresh));
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_panic_ends_the_task_with_panicked() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, peer) = l.accept().await.unwrap();
    let info = BottomInfo::new("tcp").peer(Addr::Inet(peer));
    let task =
        strata_tokio::spawn_stream(s, Box::new(Fragile), info, Arc::new(StackConfig::default()));
    client.write_all(b"boom").await.unwrap();
    let why = within("task end", task).await.unwrap();
    assert!(
        matches!(
            why,
            Close::Aborted {
                layer: "driver",
                reason: AbortReason::Panicked
            }
        ),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_pauses_accepting_until_one_closes() {
    let server = Server::new();
    let (f, _) = echo_factory();
    let cfg = ListenConfig {
        max_connections: 2,
        ..ListenConfig::default()
    };
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, cfg)
        .await
        .unwrap();
    let mut c1 = TcpStream::connect(addr).await.unwrap();
    let mut c2 = TcpStream::connect(addr).await.unwrap();
    assert_eq!(roundtrip(&mut c1, b"1").await, b"1");
    assert_eq!(roundtrip(&mut c2, b"2").await, b"2");
    // The third completes its handshake in the backlog but is not served.
    let mut c3 = TcpStream::connect(addr).await.unwrap();
    c3.write_all(b"3").await.unwrap();
    let mut buf = [0; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), c3.read(&mut buf)).await;
    assert!(early.is_err(), "served past the cap: {early:?}");
    assert_eq!(server.connections(), 2);
    // One closes: the third is accepted and served.
    c1.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within("c1 EOF", c1.read_to_end(&mut rest)).await.unwrap();
    drop(c1);
    within("c3 served", c3.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"3");
    assert_eq!(roundtrip(&mut c2, b"still").await, b"still");
    drop((c2, c3));
    server.shutdown(Duration::from_secs(1)).await;
}
