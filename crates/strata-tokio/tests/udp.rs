//! UDP: echo over an unconnected socket (with batched receive) and over a
//! connected one.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::within;
use strata::{
    Close, Datagram, DatagramProtocol, DatagramTransport, PeerAddr, StackConfig, Transmit,
};
use strata_tokio::Server;
use tokio::net::UdpSocket;

/// Echoes every datagram to its sender; records batch sizes and its peer.
#[derive(Default)]
struct Echo {
    batches: Arc<Mutex<Vec<usize>>>,
    peer: Arc<Mutex<Option<PeerAddr>>>,
    greet: bool,
    lost: Arc<Mutex<Option<Close>>>,
}

impl DatagramProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        *self.peer.lock().unwrap() = t.get::<PeerAddr>().cloned();
        if self.greet {
            t.send(&Transmit::connected(b"hello"));
        }
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        self.batches.lock().unwrap().push(batch.len());
        for d in batch {
            t.send(&Transmit {
                destination: d.source,
                ..Transmit::connected(d.data)
            });
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        *self.lost.lock().unwrap() = Some(why.clone());
    }
}

async fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0; 2048];
    let (n, from) = within("datagram", s.recv_from(&mut buf)).await.unwrap();
    (buf[..n].to_vec(), from)
}

// A current-thread runtime: the client sends the whole burst before the
// server's task runs, so the server reads it as one batch.
#[tokio::test]
async fn udp_echo_unconnected_reads_a_burst_as_one_batch() {
    let server = Server::new();
    let echo = Echo::default();
    let (batches, lost) = (echo.batches.clone(), echo.lost.clone());
    let addr = server
        .bind_udp(
            "127.0.0.1:0".parse().unwrap(),
            None,
            Box::new(echo),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap()
        .socket_addr()
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    const N: usize = 20;
    for i in 0..N {
        client
            .send_to(format!("datagram {i}").as_bytes(), addr)
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..N {
        let (d, from) = recv(&client).await;
        assert_eq!(from, addr);
        got.push(String::from_utf8(d).unwrap());
    }
    got.sort();
    let mut want: Vec<String> = (0..N).map(|i| format!("datagram {i}")).collect();
    want.sort();
    assert_eq!(got, want);
    let batches = batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), N);
    assert!(batches.iter().any(|&b| b > 1), "no batching: {batches:?}");
    // A second client is served by the same socket.
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    other.send_to(b"me too", addr).await.unwrap();
    assert_eq!(recv(&other).await.0, b"me too");
    within("shutdown", server.shutdown(Duration::from_secs(1))).await;
    assert!(matches!(*lost.lock().unwrap(), Some(Close::Done)));
}

#[tokio::test]
async fn udp_echo_connected_talks_to_its_peer_only() {
    let server = Server::new();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let echo = Echo {
        greet: true,
        ..Echo::default()
    };
    let peer = echo.peer.clone();
    let addr = server
        .bind_udp(
            "127.0.0.1:0".parse().unwrap(),
            Some(client.local_addr().unwrap()),
            Box::new(echo),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap()
        .socket_addr()
        .unwrap();
    assert_eq!(recv(&client).await, (b"hello".to_vec(), addr));
    assert_eq!(
        *peer.lock().unwrap(),
        Some(PeerAddr(strata::Addr::Inet(client.local_addr().unwrap())))
    );
    // The kernel filters datagrams from anyone else on a connected socket.
    stranger.send_to(b"ignored", addr).await.unwrap();
    for m in [&b"one"[..], b"two", b"three"] {
        client.send_to(m, addr).await.unwrap();
        assert_eq!(recv(&client).await, (m.to_vec(), addr));
    }
    let mut buf = [0; 16];
    let nothing =
        tokio::time::timeout(Duration::from_millis(100), stranger.recv_from(&mut buf)).await;
    assert!(nothing.is_err(), "a stranger got an answer");
    within("shutdown", server.shutdown(Duration::from_secs(1))).await;
}
