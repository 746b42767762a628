//! The test kit's tamper hook and bit corruption: `SimNet::set_tamper`
//! sees every datagram a node sends (routable or not) and may rewrite,
//! drop, hold or inject; `SimNet::inject` hands a datagram from any address
//! to a node; a link flips N random bits with a probability.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::testing::{epoch, LinkConfig, NodeId, SimEventKind, SimNet, Verdict};
use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const A: &str = "127.0.0.1:1000";
const B: &str = "127.0.0.2:2000";

/// Sends `n` datagrams `[i; len]` to each of `to`, one every millisecond.
struct Sender {
    to: Vec<SocketAddr>,
    n: u8,
    len: usize,
    i: u8,
    next: Option<Instant>,
}

impl DatagramProtocol for Sender {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.next = Some(t.now());
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    fn next_deadline(&self) -> Option<Instant> {
        self.next
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        for to in &self.to {
            t.send(&Transmit::to(*to, &vec![self.i; self.len]));
        }
        self.i += 1;
        self.next = (self.i < self.n).then(|| t.now() + ms(1));
    }
}

/// (arrival ms, source, bytes) of each datagram received.
type Got = Arc<Mutex<Vec<(u64, Option<SocketAddr>, Vec<u8>)>>>;

struct Sink(Got);

impl DatagramProtocol for Sink {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let at = (t.now() - epoch()).as_millis() as u64;
        let mut g = self.0.lock().unwrap();
        for d in batch {
            g.push((at, d.source, d.data.to_vec()));
        }
    }
}

fn net(seed: u64, n: u8, len: usize, link: LinkConfig, to: &[&str]) -> (SimNet, Got) {
    let got = Got::default();
    let mut net = SimNet::new(seed);
    let sender = Sender {
        to: to.iter().map(|s| addr(s)).collect(),
        n,
        len,
        i: 0,
        next: None,
    };
    let a = net.add_node(addr(A), Box::new(sender));
    let b = net.add_node(addr(B), Box::new(Sink(got.clone())));
    net.link(a, b, link);
    (net, got)
}

#[test]
fn the_hook_sees_every_datagram_sent_routable_or_not() {
    let (mut net, got) = net(
        1,
        4,
        10,
        LinkConfig::default().delay(ms(5)),
        &[B, "10.9.9.9:9"],
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    net.set_tamper(move |d| {
        s.lock()
            .unwrap()
            .push((d.from, d.from_node, d.to, d.to_node, d.data[0]));
        Verdict::Pass
    });
    net.run(Duration::from_secs(1));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 8);
    for (k, &(from, from_node, to, to_node, first)) in seen.iter().enumerate() {
        assert_eq!(
            (from, from_node, first),
            (addr(A), NodeId(0), (k / 2) as u8)
        );
        if k % 2 == 0 {
            assert_eq!((to, to_node), (addr(B), Some(NodeId(1))));
        } else {
            assert_eq!((to, to_node), (addr("10.9.9.9:9"), None));
        }
    }
    assert_eq!(got.lock().unwrap().len(), 4);
    assert_eq!(net.unroutable(), 4);
}

#[test]
fn the_hook_drops_rewrites_holds_and_injects() {
    let (mut net, got) = net(2, 4, 10, LinkConfig::default().delay(ms(5)), &[B]);
    let spoofed = addr("192.0.2.1:53");
    net.set_tamper(move |d| match d.data[0] {
        0 => Verdict::Drop,
        1 => {
            d.data.truncate(3);
            d.data[2] = 0xee;
            Verdict::Pass
        }
        2 => Verdict::Hold(ms(50)),
        _ => {
            d.inject(spoofed, d.to, b"forged".to_vec(), ms(1));
            Verdict::Pass
        }
    });
    net.run(Duration::from_secs(1));
    let got = got.lock().unwrap();
    assert_eq!(
        *got,
        vec![
            (4, Some(spoofed), b"forged".to_vec()),
            (6, Some(addr(A)), vec![1, 1, 0xee]),
            (8, Some(addr(A)), vec![3; 10]),
            (57, Some(addr(A)), vec![2; 10]),
        ]
    );
    let kinds: Vec<_> = net.trace().iter().map(|e| (e.from, e.kind)).collect();
    assert!(kinds.contains(&(NodeId(0), SimEventKind::Tampered)));
    assert!(kinds.contains(&(NodeId(0), SimEventKind::Held)));
    assert!(kinds.contains(&(NodeId::EXTERNAL, SimEventKind::Injected)));
    // The link never saw the dropped one.
    let stats = net.link_stats(NodeId(0), NodeId(1)).unwrap();
    assert_eq!((stats.sent, stats.delivered), (3, 3));
}

#[test]
fn inject_hands_a_datagram_from_any_address_to_a_node_at_once() {
    let (mut net, got) = net(3, 0, 10, LinkConfig::default(), &[B]);
    assert!(net.inject(addr("203.0.113.7:7"), addr(B), b"hello"));
    assert!(!net.inject(addr(A), addr("10.1.1.1:1"), b"nobody"));
    assert_eq!(
        *got.lock().unwrap(),
        vec![(0, Some(addr("203.0.113.7:7")), b"hello".to_vec())]
    );
    let e = net.trace().last().unwrap();
    assert_eq!(
        (e.from, e.to, e.kind),
        (NodeId::EXTERNAL, Some(NodeId(1)), SimEventKind::Injected)
    );
}

/// The bits that differ between two equal-length buffers.
fn bit_distance(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[test]
fn a_corrupting_link_flips_exactly_n_bits_of_a_fraction_of_the_datagrams() {
    let link = LinkConfig::default().corrupt(0.25, 3);
    let (mut net, got) = net(4, 200, 100, link, &[B]);
    net.run(Duration::from_secs(2));
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 200);
    let mut corrupted = 0;
    for (i, (_, _, d)) in got.iter().enumerate() {
        match bit_distance(d, &[i as u8; 100]) {
            0 => {}
            3 => corrupted += 1,
            n => panic!("datagram {i}: {n} bits flipped"),
        }
    }
    let stats = net.link_stats(NodeId(0), NodeId(1)).unwrap();
    assert_eq!(stats.corrupted, corrupted);
    // 25 % of 200, within four standard deviations (sd about 6).
    assert!((26..=74).contains(&corrupted), "{corrupted}");
    let traced = net
        .trace()
        .iter()
        .filter(|e| e.kind == SimEventKind::Corrupted)
        .count();
    assert_eq!(traced as u64, corrupted);
}

#[test]
fn corruption_is_seeded_and_off_by_default_it_draws_nothing() {
    let run = |seed, link: LinkConfig| {
        let (mut net, _) = net(seed, 50, 40, link, &[B]);
        net.run(Duration::from_secs(1));
        net.trace_digest()
    };
    let noisy = LinkConfig::default().corrupt(0.5, 1).delay(ms(3));
    assert_eq!(run(5, noisy.clone()), run(5, noisy.clone()));
    assert_ne!(run(5, noisy.clone()), run(6, noisy));
    // With p = 0 no number is drawn: the run is the one without the field.
    let quiet = LinkConfig::default().corrupt(0.0, 8).delay(ms(3));
    assert_eq!(run(5, quiet), run(5, LinkConfig::default().delay(ms(3))));
}

#[test]
fn corrupting_every_bit_inverts_the_datagram() {
    let link = LinkConfig::default().corrupt(1.0, u32::MAX);
    let (mut net, got) = net(7, 2, 5, link, &[B]);
    net.run(Duration::from_secs(1));
    let got = got.lock().unwrap();
    assert_eq!(got[0].2, vec![!0u8; 5]);
    assert_eq!(got[1].2, vec![!1u8; 5]);
}
