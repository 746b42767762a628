//! `strata relay tcp://… quic+udp://…` (issue 11, point 1): every relayed
//! TCP connection is one stream of a single QUIC connection to the
//! destination (the relay's pool), byte-exact both ways with half-close.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::endpoint::Endpoint;
use strata::{PeerAddr, StreamProtocol, StreamTransport};
use strata_cli::relay::{Relay, RelayConfig};
use strata_tokio::{ListenConfig, Server, StreamFactory};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Echoes and half-closes back; records each stream's peer address.
struct Echo(Arc<Mutex<Vec<String>>>);
impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let peer = format!("{:?}", t.get::<PeerAddr>().map(|p| p.0.clone()));
        self.0.lock().unwrap().push(peer);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

fn parse(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &strata_tokio::registry()).unwrap()
}

#[tokio::test]
async fn relayed_tcp_connections_share_one_quic_connection() {
    let peers: Arc<Mutex<Vec<String>>> = Arc::default();
    let p = peers.clone();
    let echo: StreamFactory =
        Arc::new(move || Box::new(Echo(p.clone())) as Box<dyn StreamProtocol>);
    let server = Server::new();
    let quic = server
        .listen(
            &parse("quic+udp://127.0.0.1:0?quic.alpn=relay"),
            echo,
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let upstream = parse(&format!(
        "quic+udp://{}?quic.alpn=relay&quic.insecure=true",
        quic.socket_addr().unwrap()
    ));
    let relay = Relay::new(upstream, RelayConfig::default());
    let front = server
        .listen(
            &parse("tcp://127.0.0.1:0"),
            relay.factory(),
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let front = front.socket_addr().unwrap();
    let clients: Vec<_> = (0..40u32)
        .map(|i| {
            tokio::spawn(async move {
                let msg: Vec<u8> = (0..20_000 + i * 331).map(|j| (j * 7 + i) as u8).collect();
                let mut s = tokio::net::TcpStream::connect(front).await.unwrap();
                let (mut r, mut w) = s.split();
                let send = async {
                    w.write_all(&msg).await.unwrap();
                    w.shutdown().await.unwrap();
                };
                let mut got = Vec::new();
                let recv = r.read_to_end(&mut got);
                let (_, n) = tokio::join!(send, recv);
                n.unwrap();
                assert!(
                    got == msg,
                    "client {i}: {} of {} bytes",
                    got.len(),
                    msg.len()
                );
            })
        })
        .collect();
    for c in clients {
        tokio::time::timeout(Duration::from_secs(20), c)
            .await
            .expect("a relayed echo in time")
            .unwrap();
    }
    let peers: HashSet<String> = peers.lock().unwrap().iter().cloned().collect();
    assert_eq!(peers.len(), 1, "one QUIC connection: {peers:?}");
    assert_eq!(relay.stats().started(), 40);
    server.shutdown(Duration::from_secs(1)).await;
}
