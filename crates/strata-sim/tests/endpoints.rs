//! Endpoint strings work unchanged on the simulator: the layers above a
//! transport are the real driver's (TLS, PROXY, the reliable mapping,
//! QUIC), the transports the simulator's.

use std::sync::Arc;
use std::time::Duration;

use strata::testing::LinkConfig;
use strata::testing::Loss;
use strata::{PeerAddr, StreamFactory, StreamProtocol, StreamTransport};
use strata_sim::{Link, Opened, Sim};

mod common;
use common::{Client, Shared};

/// Echoes, and answers the peer address it sees first.
struct Echo {
    said_peer: bool,
}
impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        if !self.said_peer {
            self.said_peer = true;
            let peer = t
                .get::<PeerAddr>()
                .map(|p| p.0.to_string())
                .unwrap_or_default();
            t.write(format!("[{peer}]").as_bytes());
        }
        t.write(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

fn echo() -> StreamFactory {
    Arc::new(|| Box::new(Echo { said_peer: false }) as Box<dyn StreamProtocol>)
}

fn exchange(seed: u64, listen: &str, connect: &str, link: Link, n: usize) -> (Sim, Shared, Opened) {
    let mut sim = Sim::new(seed);
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    sim.link(c, s, link);
    sim.listen(s, listen, echo()).unwrap();
    let seen = Shared::default();
    let data: Vec<u8> = (0..n).map(|i| (i % 249) as u8).collect();
    let opened = sim
        .connect(
            c,
            connect,
            Box::new(Client {
                out: data,
                seen: seen.clone(),
            }),
        )
        .unwrap();
    sim.run(Duration::from_secs(60));
    (sim, seen, opened)
}

fn expect_echo(seen: &Shared, n: usize, peer: &str) {
    let s = seen.lock().unwrap();
    let prefix = format!("[{peer}]");
    assert!(
        s.data.starts_with(prefix.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&s.data[..s.data.len().min(60)])
    );
    let body = &s.data[prefix.len()..];
    assert_eq!(body.len(), n);
    assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 249) as u8));
    assert_eq!(s.lost.as_deref(), Some("closed cleanly"));
}

#[test]
fn tls_over_simulated_tcp() {
    let (_sim, seen, opened) = exchange(
        1,
        "tls+tcp://10.0.0.2:443",
        "tls+tcp://server:443?tls.insecure=true",
        Link::default().latency(Duration::from_millis(20)),
        200_000,
    );
    assert!(matches!(opened, Opened::Stream(_)));
    expect_echo(&seen, 200_000, "10.0.0.1:49152");
    assert_eq!(seen.lock().unwrap().chain, ["tls", "tcp"]);
}

#[test]
fn the_reliable_mapping_over_simulated_udp_with_loss() {
    let link = Link::default().latency(Duration::from_millis(15)).datagram(
        LinkConfig::default()
            .delay(Duration::from_millis(15))
            .loss(Loss::Random(0.03)),
    );
    let (sim, seen, opened) = exchange(
        2,
        "tls+reliable+udp://10.0.0.2:9000",
        "tls+reliable+udp://server:9000?tls.insecure=true",
        link,
        300_000,
    );
    assert!(matches!(opened, Opened::Datagram(_)));
    expect_echo(&seen, 300_000, "10.0.0.1:49152");
    // Something was lost on the way, and repaired.
    let lost: u64 = sim
        .datagrams()
        .trace()
        .iter()
        .filter(|e| e.kind == strata::testing::SimEventKind::Lost)
        .count() as u64;
    assert!(lost > 0);
}

#[test]
fn quic_over_simulated_udp() {
    let (_sim, seen, _) = exchange(
        3,
        "quic+udp://10.0.0.2:4433",
        "quic+udp://server:4433?quic.insecure=true",
        Link::default().latency(Duration::from_millis(10)),
        100_000,
    );
    expect_echo(&seen, 100_000, "10.0.0.1:49152");
}

#[test]
fn the_proxy_header_names_the_real_client_behind_a_simulated_balancer() {
    let (_sim, seen, _) = exchange(
        4,
        "proxy+tcp://10.0.0.2:8080",
        "proxy+tcp://server:8080",
        Link::default(),
        1000,
    );
    // The client side sends a header naming its own address (no relay in
    // front): the server reads the header's source.
    let s = seen.lock().unwrap();
    assert!(
        s.data.starts_with(b"[10.0.0.1:49152]"),
        "{:?}",
        String::from_utf8_lossy(&s.data[..40.min(s.data.len())])
    );
}

#[test]
fn a_bad_option_is_the_driver_s_own_error() {
    let mut sim = Sim::new(5);
    let h = sim.add_host("a", "10.0.0.1".parse().unwrap());
    let err = sim
        .listen(h, "tls+tcp://10.0.0.1:1?tls.alpn=", echo())
        .unwrap_err();
    assert!(err.to_string().contains("alpn"), "{err}");
}
