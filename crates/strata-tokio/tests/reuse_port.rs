//! `SO_REUSEPORT`: with `reuse_port`, two listeners share one port and the
//! kernel spreads connections over both; without it the second bind fails.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{factory, roundtrip, within};
use strata::{StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server};
use tokio::net::TcpStream;

/// Echoes (the factory counts the connections).
struct Counted;

impl StreamProtocol for Counted {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// A server whose listener on `addr` counts the connections it accepts.
async fn counting_server(
    addr: SocketAddr,
    reuse_port: bool,
) -> std::io::Result<(Server, SocketAddr, Arc<AtomicUsize>)> {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let f = factory(move || {
        n2.fetch_add(1, Ordering::SeqCst);
        Counted
    });
    let cfg = ListenConfig {
        reuse_port,
        ..ListenConfig::default()
    };
    let server = Server::new();
    let bound = server.listen_tcp(addr, f, cfg).await?;
    Ok((server, bound, n))
}

#[tokio::test]
async fn two_listeners_with_reuse_port_share_the_port_and_both_serve() {
    let (a, addr, served_a) = counting_server("127.0.0.1:0".parse().unwrap(), true)
        .await
        .unwrap();
    let (b, addr_b, served_b) = counting_server(addr, true)
        .await
        .expect("a second listener with SO_REUSEPORT binds the same port");
    assert_eq!(addr, addr_b);

    // The kernel picks a listener by a hash of the client's address: with a
    // fresh source port per client, all of 200 landing on one listener has
    // odds of 2^-199. Stop as soon as both have served.
    let mut clients = Vec::new();
    for i in 0..200u32 {
        let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
        let msg = i.to_be_bytes();
        assert_eq!(roundtrip(&mut c, &msg).await, msg);
        clients.push(c);
        if served_a.load(Ordering::SeqCst) > 0 && served_b.load(Ordering::SeqCst) > 0 {
            break;
        }
    }
    let (na, nb) = (
        served_a.load(Ordering::SeqCst),
        served_b.load(Ordering::SeqCst),
    );
    assert!(na > 0 && nb > 0, "a served {na}, b served {nb}");
    assert_eq!(
        na + nb,
        clients.len(),
        "every client was served exactly once"
    );
    drop(clients);

    // With the first listener gone, the second alone serves the port.
    within("shutdown a", a.shutdown(Duration::from_secs(5))).await;
    let before = served_b.load(Ordering::SeqCst);
    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    assert_eq!(roundtrip(&mut c, b"still here").await, b"still here");
    assert_eq!(served_b.load(Ordering::SeqCst), before + 1);
    drop(c);
    within("shutdown b", b.shutdown(Duration::from_secs(5))).await;
}

#[tokio::test]
async fn without_reuse_port_the_second_bind_is_addr_in_use() {
    let (a, addr, _) = counting_server("127.0.0.1:0".parse().unwrap(), false)
        .await
        .unwrap();
    let err = counting_server(addr, false).await.expect_err("bind fails");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    // Both listeners must ask for the sharing: one that did not refuses it.
    let err = counting_server(addr, true).await.expect_err("bind fails");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");

    // The failed binds left the first listener serving.
    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    assert_eq!(roundtrip(&mut c, b"ok").await, b"ok");
    drop(c);
    within("shutdown", a.shutdown(Duration::from_secs(5))).await;
}
