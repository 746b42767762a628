//! Clock skew reaches the datagram stacks (QUIC, the reliable mapping):
//! a skewed host's UDP sockets read its clock, a skew applied
//! mid-transfer loses and reorders nothing, and a timer on a skewed host
//! lasts its duration of the world's time (skew is an offset, not a rate).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::testing::{LinkConfig, Loss, NodeId, RunOutcome};
use strata::{Addr, Close, Timeout};
use strata_sim::{Fault, HostId, Link, Opened, Sim};

mod common;
use common::{Record, Sender};

const S: i64 = 1_000_000_000;

#[derive(Default, Debug)]
struct Seen {
    data: Vec<u8>,
    /// The clock the app read at its first bytes.
    first_at: Option<Instant>,
    lost: Option<Close>,
}
type Shared = Arc<Mutex<Seen>>;

impl Record for Seen {
    fn data(&mut self, now: Instant, d: &[u8]) {
        self.first_at.get_or_insert(now);
        self.data.extend_from_slice(d);
    }
    fn lost(&mut self, why: &Close) {
        self.lost = Some(why.clone());
    }
}

fn payload(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2654435761) as u8)
        .collect()
}

/// A client and a server 10 ms apart, with `loss` on the datagram path.
fn world(seed: u64, loss: f64) -> (Sim, HostId, HostId) {
    let mut sim = Sim::new(seed);
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let latency = Duration::from_millis(10);
    let datagram = LinkConfig::default()
        .delay(latency)
        .loss(Loss::Random(loss));
    sim.link(c, s, Link::default().latency(latency).datagram(datagram));
    (sim, c, s)
}

/// How far `node`'s clock runs ahead of the world's, in nanoseconds.
fn offset(sim: &Sim, node: NodeId) -> i64 {
    let local = sim.datagrams().node_now(node).unwrap();
    match local.checked_duration_since(sim.now()) {
        Some(d) => d.as_nanos() as i64,
        None => -((sim.now() - local).as_nanos() as i64),
    }
}

fn node_of(sim: &Sim, addr: Addr) -> NodeId {
    let Addr::Inet(a) = addr else {
        panic!("{addr:?}")
    };
    sim.datagrams().node_at(a).unwrap()
}

#[test]
fn a_skew_applied_mid_transfer_loses_and_reorders_nothing() {
    for (listen, connect) in [
        (
            "quic+udp://10.0.0.2:4433",
            "quic+udp://server:4433?quic.insecure=true",
        ),
        ("reliable+udp://10.0.0.2:9000", "reliable+udp://server:9000"),
    ] {
        let (mut sim, c, s) = world(3, 0.01);
        let server = sim
            .listen(s, listen, strata_cli::apps::Echo::factory())
            .unwrap();
        let server = node_of(&sim, server);
        let seen = Shared::default();
        let sent = payload(400_000);
        let Opened::Datagram(client) = sim
            .connect(c, connect, Sender::boxed(sent.clone(), true, &seen))
            .unwrap()
        else {
            panic!("{connect}: not a datagram socket")
        };
        let flowing = seen.clone();
        sim.run_until(Duration::from_secs(10), |_| {
            !flowing.lock().unwrap().data.is_empty()
        });
        // Mid-transfer, the server's clock jumps 5 s ahead; 20 ms later
        // the client's falls 3 s behind.
        sim.apply(Fault::Skew(s, 5 * S));
        sim.advance(Duration::from_millis(20));
        sim.apply(Fault::Skew(c, -3 * S));
        assert!(
            seen.lock().unwrap().data.len() < sent.len() / 2,
            "{connect}: not mid-transfer"
        );
        assert_eq!(offset(&sim, server), 5 * S, "{connect}");
        assert_eq!(offset(&sim, client), -3 * S, "{connect}");
        let done = seen.clone();
        let out = sim.run_until(Duration::from_secs(60), |_| {
            done.lock().unwrap().lost.is_some()
        });
        assert_eq!(out, RunOutcome::Reached, "{connect}");
        let g = seen.lock().unwrap();
        assert!(
            matches!(g.lost, Some(Close::Done)),
            "{connect}: {:?}",
            g.lost
        );
        assert_eq!(g.data.len(), sent.len(), "{connect}");
        assert!(g.data == sent, "{connect}: bytes differ");
    }
}

#[test]
fn an_idle_timeout_on_a_skewed_host_lasts_its_duration_of_world_time() {
    for skew in [5 * S, -3 * S] {
        let (mut sim, c, s) = world(5, 0.0);
        // Skewed before its sockets exist: they get the host's clock.
        sim.apply(Fault::Skew(c, skew));
        sim.apply(Fault::Skew(s, -skew / 2));
        sim.listen(
            s,
            "quic+udp://10.0.0.2:4433",
            strata_cli::apps::Echo::factory(),
        )
        .unwrap();
        let seen = Shared::default();
        let Opened::Datagram(client) = sim
            .connect(
                c,
                "quic+udp://server:4433?quic.insecure=true&quic.idle=2000",
                Sender::boxed(b"hi".to_vec(), false, &seen),
            )
            .unwrap()
        else {
            panic!("not a datagram socket")
        };
        assert_eq!(offset(&sim, client), skew);
        let echoed = seen.clone();
        sim.run_until(Duration::from_secs(10), |_| {
            !echoed.lock().unwrap().data.is_empty()
        });
        let echo_at = sim.elapsed();
        // The app read its host's clock.
        let local = seen.lock().unwrap().first_at.unwrap();
        assert_eq!(local, sim.datagrams().node_now(client).unwrap());
        let watch = seen.clone();
        sim.run_until(Duration::from_secs(60), |_| {
            watch.lock().unwrap().lost.is_some()
        });
        let idle = sim.elapsed() - echo_at;
        let lost = seen.lock().unwrap().lost.clone();
        assert!(
            matches!(lost, Some(Close::Timeout(Timeout::Idle))),
            "skew {skew}: {lost:?}"
        );
        assert!(
            idle >= Duration::from_millis(1950) && idle <= Duration::from_millis(2100),
            "skew {skew}: idle for {idle:?} of world time"
        );
    }
}

/// A QUIC echo whose hosts' clocks are skewed, one of them mid-transfer:
/// the trace's digest.
fn skewed_run(seed: u64) -> u64 {
    let (mut sim, c, s) = world(seed, 0.02);
    sim.apply(Fault::Skew(s, 2 * S));
    sim.listen(
        s,
        "quic+udp://10.0.0.2:4433",
        strata_cli::apps::Echo::factory(),
    )
    .unwrap();
    let seen = Shared::default();
    sim.connect(
        c,
        "quic+udp://server:4433?quic.insecure=true",
        Sender::boxed(payload(100_000), true, &seen),
    )
    .unwrap();
    let script = strata_sim::Script::parse(&sim, "at 150ms skew client -1500ms").unwrap();
    sim.script(&script);
    sim.run(Duration::from_secs(30));
    assert!(matches!(seen.lock().unwrap().lost, Some(Close::Done)));
    sim.trace_digest()
}

#[test]
fn a_skewed_run_repeats_from_its_seed() {
    assert_eq!(skewed_run(8), skewed_run(8));
    assert_ne!(skewed_run(8), skewed_run(9));
}
