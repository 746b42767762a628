//! `strata relay` with a `proxy` top layer on CONNECT: every upstream
//! connection starts with a PROXY header (v1 or v2) carrying the client's
//! address and the address it connected to, then the relayed bytes; behind
//! a `proxy+tcp://` listener, the addresses of the header it received.

use std::net::SocketAddr;
use std::time::Duration;

use strata::endpoint::Endpoint;
use strata::proxy_protocol::{encode_v2, parse, Parsed, ProxyHeader, ProxyVersion, Versions};
use strata::Addr;
use strata_cli::relay::{Relay, RelayConfig};
use strata_tokio::{ListenConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn ep(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &strata_tokio::registry()).unwrap()
}

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Starts a relay LISTEN -> CONNECT; returns the address it listens on.
async fn relay(server: &Server, listen: &str, connect: &str) -> SocketAddr {
    let r = Relay::new(ep(connect), RelayConfig::default());
    let l = server
        .listen(&ep(listen), r.factory(), ListenConfig::default())
        .await
        .unwrap();
    let Addr::Inet(a) = l.local else {
        panic!("{:?}", l.local)
    };
    a
}

/// Accepts one connection upstream, reads the header and `n` bytes after it.
async fn upstream_reads(up: &TcpListener, n: usize) -> (ProxyHeader, Vec<u8>) {
    let (mut s, _) = within("accept", up.accept()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 512];
        let k = within("read", s.read(&mut chunk)).await.unwrap();
        assert!(k > 0, "EOF before the header and {n} bytes: {buf:?}");
        buf.extend_from_slice(&chunk[..k]);
        if let Ok(Parsed::Complete { header, len }) = parse(&buf, Versions::ANY, 4096)
            && buf.len() >= len + n
        {
            return (header, buf[len..].to_vec());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_writes_the_clients_address_first_in_v1_and_v2() {
    let server = Server::new();
    for (query, version) in [("?proxy.send=1", ProxyVersion::V1), ("", ProxyVersion::V2)] {
        let up = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upa = up.local_addr().unwrap();
        let at = relay(
            &server,
            "tcp://127.0.0.1:0",
            &format!("proxy+tcp://{upa}{query}"),
        )
        .await;
        let mut c = within("connect", TcpStream::connect(at)).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let (header, rest) = upstream_reads(&up, 5).await;
        assert_eq!(header.version, version);
        assert_eq!(header.source(), Some(c.local_addr().unwrap()));
        assert_eq!(header.destination(), Some(at));
        assert_eq!(rest, b"hello");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_listener_the_relay_passes_the_received_client_on() {
    let server = Server::new();
    let up = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upa = up.local_addr().unwrap();
    let at = relay(
        &server,
        "proxy+tcp://127.0.0.1:0",
        &format!("proxy+tcp://{upa}"),
    )
    .await;
    let client: SocketAddr = "203.0.113.5:40404".parse().unwrap();
    let lb: SocketAddr = "198.51.100.7:443".parse().unwrap();
    let mut c = within("connect", TcpStream::connect(at)).await.unwrap();
    c.write_all(&encode_v2(Some((client, lb)), &[]))
        .await
        .unwrap();
    c.write_all(b"abc").await.unwrap();
    let (header, rest) = upstream_reads(&up, 3).await;
    assert_eq!(header.source(), Some(client));
    assert_eq!(header.destination(), Some(lb));
    assert_eq!(rest, b"abc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_layer_below_tls_upstream_carries_the_client_before_the_handshake() {
    let server = Server::new();
    let up = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upa = up.local_addr().unwrap();
    let at = relay(
        &server,
        "tcp://127.0.0.1:0",
        &format!("tls+proxy+tcp://{upa}?tls.insecure=true&proxy.send=1"),
    )
    .await;
    let c = within("connect", TcpStream::connect(at)).await.unwrap();
    // The header, then the client's TLS handshake (a handshake record).
    let (header, rest) = upstream_reads(&up, 1).await;
    assert_eq!(header.version, ProxyVersion::V1);
    assert_eq!(header.source(), Some(c.local_addr().unwrap()));
    assert_eq!(header.destination(), Some(at));
    assert_eq!(rest[0], 0x16, "a TLS record follows the header");
}
