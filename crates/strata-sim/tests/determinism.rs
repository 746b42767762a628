//! The same seed gives a byte-identical trace, TLS and QUIC included: every
//! random choice of the layers a simulated endpoint builds (TLS randoms and
//! key shares, the server's certificate, QUIC's and the mapping's ids, the
//! KCP conversation) comes from the world's seed. Each scenario runs twice
//! with one seed and once with another, in one process.

use std::sync::Arc;
use std::time::Duration;

use strata::endpoint::Endpoint;
use strata::http::{HttpClient, HttpConfig, HttpExchange, HttpServer, VersionChoice};
use strata::testing::{LinkConfig, Loss};
use strata::{Stack, StreamFactory, StreamProtocol, StreamTransport};
use strata_sim::{Link, Sim};
use strata_tokio::StackPlan;

mod common;
use common::{Client, Shared};
use strata_cli::apps::Echo;

fn echo() -> StreamFactory {
    Echo::factory()
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// One echo exchange of `n` bytes from a client host to a server host;
/// the whole trace, checked to carry every byte back.
fn echo_run(seed: u64, listen: &str, connect: &str, link: Link, n: usize) -> String {
    let mut sim = Sim::new(seed);
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    sim.link(c, s, link);
    sim.listen(s, listen, echo()).unwrap();
    let seen = Shared::default();
    sim.connect(
        c,
        connect,
        Box::new(Client {
            out: pattern(n),
            seen: seen.clone(),
        }),
    )
    .unwrap();
    sim.run(Duration::from_secs(120));
    let s = seen.lock().unwrap();
    assert_eq!(s.data.len(), n, "seed {seed}: {:?}", s.lost);
    assert!(s.data == pattern(n), "seed {seed}: bytes differ");
    assert_eq!(s.lost.as_deref(), Some("closed cleanly"), "seed {seed}");
    sim.trace_text()
}

/// Runs `scenario` twice with `seed` and once with `seed + 1`: the first
/// two traces are identical, the third differs.
fn repeats(seed: u64, scenario: impl Fn(u64) -> String) {
    let a = scenario(seed);
    let b = scenario(seed);
    if a != b {
        let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
        let at = la.iter().zip(&lb).position(|(x, y)| x != y);
        let at = at.unwrap_or(la.len().min(lb.len()));
        panic!(
            "seed {seed}: two runs differ at trace line {at} of {}/{}:\n  {:?}\n  {:?}",
            la.len(),
            lb.len(),
            la.get(at),
            lb.get(at)
        );
    }
    let c = scenario(seed + 1);
    assert_ne!(a, c, "seed {} gave the trace of seed {seed}", seed + 1);
}

fn lossy(latency_ms: u64, loss: f64) -> Link {
    Link::default()
        .latency(Duration::from_millis(latency_ms))
        .datagram(
            LinkConfig::default()
                .delay(Duration::from_millis(latency_ms))
                .loss(Loss::Random(loss)),
        )
}

#[test]
fn tls_over_tcp_repeats_from_its_seed() {
    repeats(11, |seed| {
        echo_run(
            seed,
            "tls+tcp://10.0.0.2:443",
            "tls+tcp://server:443?tls.insecure=true",
            Link::default().latency(Duration::from_millis(20)),
            50_000,
        )
    });
}

#[test]
fn tls_over_the_reliable_mapping_with_loss_repeats_from_its_seed() {
    repeats(12, |seed| {
        echo_run(
            seed,
            "tls+reliable+udp://10.0.0.2:9000",
            "tls+reliable+udp://server:9000?tls.insecure=true",
            lossy(15, 0.03),
            100_000,
        )
    });
}

#[test]
fn kcp_mode_repeats_from_its_seed() {
    repeats(13, |seed| {
        echo_run(
            seed,
            "reliable+udp://10.0.0.2:9001?reliable.mode=kcp&reliable.kcp_fin=true",
            "reliable+udp://server:9001?reliable.mode=kcp&reliable.kcp_fin=true",
            lossy(10, 0.02),
            60_000,
        )
    });
}

#[test]
fn quic_with_loss_repeats_from_its_seed() {
    repeats(14, |seed| {
        echo_run(
            seed,
            "quic+udp://10.0.0.2:4433",
            "quic+udp://server:4433?quic.insecure=true",
            lossy(10, 0.03),
            100_000,
        )
    });
}

/// A handler that answers every request with `n` bytes of the pattern.
struct Answer(usize);
impl StreamProtocol for Answer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let head = http::Response::builder().status(200).body(()).unwrap();
        if t.send_response(head).is_ok() {
            t.write(&pattern(self.0));
        }
        t.close();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// Strata's own HTTP/2 client and server over TLS (ALPN `h2`), three
/// requests on three connections.
fn h2_run(seed: u64) -> String {
    const BODY: usize = 40_000;
    let mut sim = Sim::new(seed);
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    sim.link(c, s, Link::default().latency(Duration::from_millis(5)));
    let svc =
        Arc::new(|_: &http::request::Parts| Box::new(Answer(BODY)) as Box<dyn StreamProtocol>);
    let server: StreamFactory = Arc::new(move || {
        Box::new(HttpServer::new(svc.clone(), HttpConfig::default())) as Box<dyn StreamProtocol>
    });
    sim.listen(s, "tls+tcp://10.0.0.2:443?tls.alpn=h2", server)
        .unwrap();
    let seen: Vec<Shared> = (0..3).map(|_| Shared::default()).collect();
    for got in &seen {
        let req = http::Request::get("https://server/").body(()).unwrap();
        let body = Box::new(Client {
            out: Vec::new(),
            seen: got.clone(),
        });
        let client = HttpClient::new(req, body, VersionChoice::Http2);
        sim.connect(
            c,
            "tls+tcp://server:443?tls.insecure=true&tls.alpn=h2",
            Box::new(client),
        )
        .unwrap();
    }
    sim.run(Duration::from_secs(30));
    for got in &seen {
        let g = got.lock().unwrap();
        assert!(
            g.data == pattern(BODY),
            "seed {seed}: {} bytes, {:?}",
            g.data.len(),
            g.lost
        );
    }
    sim.trace_text()
}

#[test]
fn http2_over_tls_repeats_from_its_seed() {
    repeats(15, h2_run);
}

/// The first flight of a TLS client built from `plan` (its ClientHello).
fn client_hello(plan: &StackPlan) -> Vec<u8> {
    let mut stack = Stack::memory(plan.wrap(Box::new(Echo::new())));
    let now = stack.now();
    stack.take_output(now)
}

#[test]
fn only_a_seeded_plan_repeats_its_client_hello() {
    let ep = Endpoint::parse_with("tls+tcp://example.com:443", &strata_tokio::registry()).unwrap();
    // The real driver's plans draw from the operating system: two
    // handshakes never start alike.
    let a = client_hello(&StackPlan::client(&ep).unwrap());
    let b = client_hello(&StackPlan::client(&ep).unwrap());
    assert_eq!(a[0], 0x16);
    assert_ne!(a, b);
    // A seeded plan repeats itself, and another seed does not.
    let seeded = |s| client_hello(&StackPlan::client(&ep).unwrap().seeded(s).unwrap());
    assert_eq!(seeded(7), seeded(7));
    assert_ne!(seeded(7), seeded(8));
}

#[test]
fn a_seeded_server_presents_the_same_certificate_each_run() {
    let ep = Endpoint::parse_with("tls+tcp://10.0.0.2:443", &strata_tokio::registry()).unwrap();
    let cert = |s| {
        let plan = StackPlan::server(&ep, None).unwrap().seeded(s).unwrap();
        plan.identity().map(|id| id.fingerprint())
    };
    assert!(cert(3).is_some());
    assert_eq!(cert(3), cert(3));
    assert_ne!(cert(3), cert(4));
    // Unseeded: a fresh key each time.
    let fresh = || {
        StackPlan::server(&ep, None)
            .unwrap()
            .identity()
            .map(|id| id.fingerprint())
    };
    assert_ne!(fresh(), fresh());
}

/// Three TLS clients over the reliable mapping and three over TCP, a
/// partition, a loss change and a restart of the server host: the faults'
/// paths repeat too (with this script the TCP clients finish after the
/// heal, and the mapping's, cut off mid-transfer and then left without a
/// server, end with their idle timeout).
fn faults_run(seed: u64) -> String {
    let mut sim = Sim::new(seed);
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    sim.link(c, s, lossy(10, 0.02));
    sim.listen(s, "tls+tcp://10.0.0.2:443", echo()).unwrap();
    sim.listen(s, "tls+reliable+udp://10.0.0.2:9000", echo())
        .unwrap();
    let mut seen = Vec::new();
    for i in 0..6 {
        let got = Shared::default();
        let ep = match i % 2 {
            0 => "tls+tcp://server:443?tls.insecure=true",
            _ => "tls+reliable+udp://server:9000?tls.insecure=true&reliable.idle=5",
        };
        let client = Box::new(Client {
            out: pattern(30_000 * (i + 1)),
            seen: got.clone(),
        });
        sim.connect(c, ep, client).unwrap();
        seen.push(got);
    }
    let script = strata_sim::Script::parse(
        &sim,
        "at 60ms partition client server\nat 400ms heal client server\n\
         at 410ms loss client server 0.1\nat 450ms restart server for 200ms",
    )
    .unwrap();
    sim.script(&script);
    sim.run(Duration::from_secs(60));
    let mut text = sim.trace_text();
    // What each client saw is part of the run.
    for got in &seen {
        let g = got.lock().unwrap();
        text.push_str(&format!("{} {:?}\n", g.data.len(), g.lost));
    }
    text
}

#[test]
fn a_fault_script_repeats_from_its_seed() {
    repeats(16, faults_run);
}

/// A QUIC client whose address changes mid-transfer (path validation draws
/// its challenges from the connection's generator).
fn migration_run(seed: u64) -> String {
    const N: usize = 400_000;
    let mut sim = Sim::new(seed);
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    sim.link(c, s, lossy(10, 0.01));
    sim.listen(s, "quic+udp://10.0.0.2:4433", echo()).unwrap();
    let seen = Shared::default();
    let opened = sim
        .connect(
            c,
            "quic+udp://server:4433?quic.insecure=true",
            Box::new(Client {
                out: pattern(N),
                seen: seen.clone(),
            }),
        )
        .unwrap();
    sim.run(Duration::from_millis(150));
    let strata_sim::Opened::Datagram(node) = opened else {
        panic!("a QUIC client is a UDP socket");
    };
    assert!(sim.rebind_udp(node, "10.0.0.1:50000".parse().unwrap()));
    sim.run(Duration::from_secs(60));
    let g = seen.lock().unwrap();
    assert!(
        g.data == pattern(N),
        "seed {seed}: {} bytes, {:?}",
        g.data.len(),
        g.lost
    );
    sim.trace_text()
}

#[test]
fn quic_through_a_client_address_change_repeats_from_its_seed() {
    repeats(17, migration_run);
}

/// More seeds of the lossy scenarios: a rarer path (a lost handshake
/// packet, a Retry, a probe) must repeat as well.
#[test]
fn a_sweep_of_seeds_repeats() {
    for seed in 100..106 {
        let quic = |seed| {
            echo_run(
                seed,
                "quic+udp://10.0.0.2:4433",
                "quic+udp://server:4433?quic.insecure=true",
                lossy(5, 0.1),
                20_000,
            )
        };
        let mapping = |seed| {
            echo_run(
                seed,
                "tls+reliable+udp://10.0.0.2:9000",
                "tls+reliable+udp://server:9000?tls.insecure=true",
                lossy(5, 0.1),
                20_000,
            )
        };
        assert!(quic(seed) == quic(seed), "quic, seed {seed}");
        assert!(mapping(seed) == mapping(seed), "mapping, seed {seed}");
    }
}

#[test]
fn quic_over_simulated_tcp_repeats_from_its_seed() {
    repeats(18, |seed| {
        echo_run(
            seed,
            "quic+tcp://10.0.0.2:4434",
            "quic+tcp://server:4434?quic.insecure=true",
            Link::default().latency(Duration::from_millis(10)),
            50_000,
        )
    });
}

/// A sweep runs seeds on several threads at once: a seeded plan shares no
/// state with another run (no process-wide generator or configuration).
#[test]
fn runs_on_parallel_threads_do_not_disturb_each_other() {
    let alone = quic_and_tls(21);
    let together: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = [21, 22, 21, 23]
            .into_iter()
            .map(|seed| s.spawn(move || quic_and_tls(seed)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(together[0] == alone && together[2] == alone);
    assert!(together[1] != alone && together[3] != alone);
}

fn quic_and_tls(seed: u64) -> String {
    let quic = echo_run(
        seed,
        "quic+udp://10.0.0.2:4433?quic.0rtt=true",
        "quic+udp://server:4433?quic.insecure=true&quic.0rtt=true",
        lossy(5, 0.05),
        30_000,
    );
    let tls = echo_run(
        seed,
        "tls+tcp://10.0.0.2:443",
        "tls+tcp://server:443?tls.insecure=true",
        Link::default(),
        30_000,
    );
    quic + &tls
}
