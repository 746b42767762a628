//! Address capabilities over real sockets: inside a protocol,
//! `t.get::<PeerAddr>()` and `t.get::<LocalAddr>()` are the two ends of the
//! connection as the other side sees them, and the layer chain is the
//! transport alone, on the accepting and on the connecting side, over TCP
//! (IPv4 and IPv6) and Unix sockets.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{factory, has_ipv6_loopback, roundtrip, sock_path, within};
use strata::{Addr, LocalAddr, PeerAddr, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{connect_tcp, connect_unix, ListenConfig, Server};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UnixStream};

/// What a protocol found out about its transport.
#[derive(Clone, Debug, Default, PartialEq)]
struct Found {
    peer: Option<Addr>,
    local: Option<Addr>,
    chain: Vec<&'static str>,
}

type Slot = Arc<Mutex<Option<Found>>>;

/// Records its transport's addresses and chain, then echoes.
struct Recorder {
    slot: Slot,
}

impl StreamProtocol for Recorder {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        *self.slot.lock().unwrap() = Some(Found {
            peer: t.get::<PeerAddr>().map(|p| p.0.clone()),
            local: t.get::<LocalAddr>().map(|l| l.0.clone()),
            chain: t.layer_chain(),
        });
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// A server recording into the returned slot (one connection at a time).
fn recording() -> (strata_tokio::StreamFactory, Slot) {
    let slot = Slot::default();
    let s = slot.clone();
    (factory(move || Recorder { slot: s.clone() }), slot)
}

fn taken(slot: &Slot) -> Found {
    slot.lock().unwrap().take().expect("connection_made ran")
}

async fn tcp_addresses(bind: &str) {
    let (f, slot) = recording();
    let server = Server::new();
    let addr = server
        .listen_tcp(bind.parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();

    // Accepting side, with a plain tokio client.
    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    assert_eq!(roundtrip(&mut c, b"x").await, b"x");
    let found = taken(&slot);
    assert_eq!(found.peer, Some(Addr::Inet(c.local_addr().unwrap())));
    // A listener on a specific address reports it without a `getsockname`.
    assert_eq!(found.local, Some(Addr::Inet(addr)));
    assert_eq!(addr, c.peer_addr().unwrap());
    assert_eq!(found.chain, ["tcp"]);
    c.shutdown().await.unwrap();
    drop(c);

    // Connecting side: a strata client against the same server.
    let client_slot = Slot::default();
    let proto = Box::new(Recorder {
        slot: client_slot.clone(),
    });
    let conn = within(
        "connect_tcp",
        connect_tcp(addr, proto, Arc::new(StackConfig::default())),
    )
    .await
    .unwrap();
    common::eventually("both sides started", || {
        client_slot.lock().unwrap().is_some() && slot.lock().unwrap().is_some()
    })
    .await;
    let client = taken(&client_slot);
    let server_side = taken(&slot);
    assert_eq!(client.peer, Some(Addr::Inet(addr)));
    assert_eq!(client.local, server_side.peer, "each end sees the other");
    assert_eq!(server_side.local, Some(Addr::Inet(addr)));
    assert_eq!(client.chain, ["tcp"]);
    conn.abort();
    within("shutdown", server.shutdown(Duration::from_secs(5))).await;
}

#[tokio::test]
async fn tcp_ipv4_addresses_are_the_two_ends() {
    tcp_addresses("127.0.0.1:0").await;
}

#[tokio::test]
async fn tcp_ipv6_addresses_are_the_two_ends() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    tcp_addresses("[::1]:0").await;
}

#[tokio::test]
async fn unix_addresses_are_the_path_and_an_unnamed_peer() {
    let path = sock_path("addresses");
    let (f, slot) = recording();
    let server = Server::new();
    server
        .listen_unix(&path, f, ListenConfig::default())
        .await
        .unwrap();

    let mut c = within("connect", UnixStream::connect(&path)).await.unwrap();
    assert_eq!(roundtrip(&mut c, b"x").await, b"x");
    let found = taken(&slot);
    assert_eq!(found.peer, Some(Addr::Unix(None)), "the client is unnamed");
    assert_eq!(found.local, Some(Addr::Unix(Some(path.clone()))));
    assert_eq!(found.chain, ["unix"]);
    drop(c);

    let client_slot = Slot::default();
    let proto = Box::new(Recorder {
        slot: client_slot.clone(),
    });
    let conn = within(
        "connect_unix",
        connect_unix(&path, proto, Arc::new(StackConfig::default())),
    )
    .await
    .unwrap();
    common::eventually("the client started", || {
        client_slot.lock().unwrap().is_some()
    })
    .await;
    let client = taken(&client_slot);
    assert_eq!(client.peer, Some(Addr::Unix(Some(path.clone()))));
    assert_eq!(client.local, Some(Addr::Unix(None)));
    assert_eq!(client.chain, ["unix"]);
    conn.abort();
    within("shutdown", server.shutdown(Duration::from_secs(5))).await;
    assert!(!path.exists(), "the socket file is removed on shutdown");
}
