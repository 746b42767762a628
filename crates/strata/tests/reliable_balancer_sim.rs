//! A stateless balancer in front of two reliable listeners, in the test
//! kit's simulated network: the balancer and the client's NAT are the
//! `SimNet` tamper hook. The client sends to the balancer's address; the
//! hook picks a server from the packet's destination id
//! (`strata::routing::LbConfig`) or, for a first Initial or an id it cannot
//! read, from a hash of the 4-tuple, and forwards it from the client's NAT
//! address; the servers' answers come back through the NAT as from the
//! balancer. Mid-transfer the NAT rebinds to a port the fallback sends to
//! the other server. Random loss both ways, seeded: the same seed gives the
//! same run.
//!
//! With server ids every transfer completes byte for byte on its first
//! server; without them (the control) the fallback misroutes after the
//! rebind and the transfer dies.

mod reliable_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reliable_support::{addr, Bulk, Outcome, Shared};
use strata::reliable::wire::{self, Header};
use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::routing::{four_tuple_hash, LbConfig, Route, ServerId};
use strata::testing::{SimNet, Verdict};
use strata::StreamProtocol;

const UP: u64 = 300_000;
const DOWN: u64 = 300_000;
/// Client datagrams before the NAT rebinds (about a third of the upload).
const REBIND_AFTER: usize = 100;

/// What the balancer did with the client's datagrams after the rebind.
#[derive(Debug, Default)]
struct Seen {
    client_sent: usize,
    /// (server, routed by id) of each datagram forwarded after the rebind.
    after: Vec<(usize, bool)>,
}

struct Run {
    client: Outcome,
    /// Connections each server accepted.
    accepted: [usize; 2],
    seen: Seen,
}

fn fallback(from: SocketAddr, vip: SocketAddr) -> usize {
    (four_tuple_hash(from, vip) % 2) as usize
}

/// A NAT port whose fallback choice is `server`.
fn nat_port(vip: SocketAddr, server: usize, from: u16) -> SocketAddr {
    (from..u16::MAX)
        .map(|p| SocketAddr::from(([192, 0, 2, 1], p)))
        .find(|a| fallback(*a, vip) == server)
        .expect("a port hashes to each server")
}

/// A small seeded generator for the hook's loss.
struct XorShift(u64);
impl XorShift {
    fn chance(&mut self, p: f64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn run(seed: u64, server_ids: bool, loss: f64) -> Run {
    let vip = addr("10.0.0.100:4433");
    let servers = [addr("10.0.0.11:4433"), addr("10.0.0.12:4433")];
    let client_addr = addr("10.0.0.1:5000");
    let nat = [nat_port(vip, 0, 40_000), nat_port(vip, 1, 40_000)];
    let mut net = SimNet::new(seed);
    net.set_tracing(false);
    let mut accepted = Vec::new();
    for (i, &at) in servers.iter().enumerate() {
        let cfg = ReliableConfig {
            server_id: server_ids.then(|| ServerId::new(&[i as u8 + 1]).unwrap()),
            rng_seed: Some([seed as u8 ^ i as u8; 32]),
            ..ReliableConfig::default()
        };
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let factory: strata::StreamFactory = Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Box::new(Bulk::new(DOWN, 2, 1, Shared::default())) as Box<dyn StreamProtocol>
        });
        net.add_node(at, Box::new(ReliableListener::new(cfg, factory)));
        accepted.push(count);
    }
    let client_out = Shared::default();
    let cfg = ReliableConfig {
        idle_timeout: Duration::from_secs(3),
        keepalive: Some(Duration::from_secs(1)),
        rng_seed: Some([seed as u8 ^ 0x55; 32]),
        ..ReliableConfig::default()
    };
    let client = Reliable::connect_to(vip, cfg, Bulk::new(UP, 1, 2, client_out.clone()));
    net.add_node(client_addr, Box::new(client));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let lb = LbConfig::new(0, 1).unwrap();
    let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let hop = Duration::from_millis(5);
    net.set_tamper(move |d| {
        let mut s = s.lock().unwrap();
        let rebound = s.client_sent >= REBIND_AFTER;
        if d.to == vip {
            // The client, through its NAT, to the balancer.
            s.client_sent += 1;
            let from = nat[usize::from(s.client_sent > REBIND_AFTER)];
            if rng.chance(loss) {
                return Verdict::Drop;
            }
            let (server, by_id) = match wire::parse_packet(d.data) {
                Ok(p) if !matches!(p.header, Header::Initial { token: [], .. }) => {
                    match lb.route(&p.header.dst().0.to_be_bytes()) {
                        Route::Server(&[sid @ 1..=2]) => (usize::from(sid) - 1, true),
                        _ => (fallback(from, vip), false),
                    }
                }
                _ => (fallback(from, vip), false),
            };
            if s.client_sent > REBIND_AFTER {
                s.after.push((server, by_id));
            }
            d.inject(from, servers[server], d.data.clone(), hop);
            return Verdict::Drop;
        }
        if let Some(i) = nat.iter().position(|&n| n == d.to) {
            // A server's answer to the NAT: the old mapping is gone after
            // the rebind.
            if (i == 0 && rebound) || rng.chance(loss) {
                return Verdict::Drop;
            }
            d.inject(vip, client_addr, d.data.clone(), hop);
            return Verdict::Drop;
        }
        Verdict::Pass
    });
    net.run_until(Duration::from_secs(300), |_| {
        client_out.lock().unwrap().lost.is_some()
    });
    let client = client_out.lock().unwrap().clone();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    Run {
        client,
        accepted: [
            accepted[0].load(Ordering::SeqCst),
            accepted[1].load(Ordering::SeqCst),
        ],
        seen,
    }
}

#[test]
fn with_server_ids_a_rebound_client_stays_on_its_server() {
    for seed in 0..40 {
        let r = run(seed, true, 0.03);
        let c = &r.client;
        assert!(c.connected, "seed {seed}: {c:?}");
        assert_eq!(c.mismatch, None, "seed {seed}");
        assert_eq!(c.received, DOWN, "seed {seed}: {c:?}");
        assert!(c.eof && c.sent_all, "seed {seed}: {c:?}");
        assert_eq!(r.accepted, [1, 0], "seed {seed}");
        assert!(
            r.seen.after.len() > 50,
            "seed {seed}: {:?}",
            r.seen.after.len()
        );
        // Every datagram after the rebind went to server 0 by its id,
        // though the fallback now points at server 1.
        assert!(
            r.seen.after.iter().all(|&a| a == (0, true)),
            "seed {seed}: {:?}",
            r.seen.after
        );
    }
}

#[test]
fn without_server_ids_the_fallback_misroutes_after_the_rebind() {
    for seed in 0..10 {
        let r = run(seed, false, 0.03);
        let c = &r.client;
        assert!(c.connected, "seed {seed}: {c:?}");
        assert!(c.received < DOWN, "seed {seed}: {c:?}");
        assert!(!c.clean, "seed {seed}: {c:?}");
        assert_eq!(r.accepted, [1, 0], "seed {seed}");
        assert!(!r.seen.after.is_empty());
        assert!(r.seen.after.iter().all(|&a| a == (1, false)), "seed {seed}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let (a, b) = (run(7, true, 0.05), run(7, true, 0.05));
    assert_eq!(a.seen.after, b.seen.after);
    assert_eq!(a.client.received, b.client.received);
}
