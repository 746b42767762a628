//! The CLI's apps in the simulator, unchanged (issue 14, point 1): the
//! relay (which dials upstream through the driver's `Dialer`), `serve`'s
//! HTTP demo (the factory `strata serve --app http` listens with), echo
//! and chat.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::endpoint::Endpoint;
use strata::http::{HttpClient, ResponseHead, VersionChoice};
use strata::{Close, StreamProtocol, StreamTransport};
use strata_cli::apps::{self, ChatConfig, ChatRoom};
use strata_cli::relay::{Relay, RelayConfig};
use strata_sim::{HostId, Link, Sim};

/// What a client saw.
#[derive(Default, Debug)]
struct Seen {
    data: Vec<u8>,
    status: Option<u16>,
    eof: bool,
    lost: Option<Close>,
}

type Shared = Arc<Mutex<Seen>>;

/// Sends `out` (then EOF, if `eof`), keeps what comes back.
struct Client {
    out: Vec<u8>,
    eof: bool,
    seen: Shared,
}

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(&self.out);
        if self.eof {
            t.write_eof();
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        let mut s = self.seen.lock().unwrap();
        if s.status.is_none() {
            s.status = t.get::<ResponseHead>().map(|h| h.0.status.as_u16());
        }
        s.data.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.seen.lock().unwrap();
        if s.status.is_none() {
            s.status = t.get::<ResponseHead>().map(|h| h.0.status.as_u16());
        }
        s.eof = true;
        t.close()
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

fn client(out: &[u8], eof: bool) -> (Box<dyn StreamProtocol>, Shared) {
    let seen = Shared::default();
    let c = Client {
        out: out.to_vec(),
        eof,
        seen: seen.clone(),
    };
    (Box::new(c), seen)
}

/// `client` (10.0.0.1) -- `relay` (10.0.0.2) -- `server` (10.0.0.3), each
/// link 5 ms one way.
fn three_hosts(seed: u64) -> (Sim, HostId, HostId, HostId) {
    let mut sim = Sim::new(seed);
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let r = sim.add_host("relay", "10.0.0.2".parse().unwrap());
    let s = sim.add_host("server", "10.0.0.3".parse().unwrap());
    let link = Link::default().latency(Duration::from_millis(5));
    sim.link(c, r, link.clone());
    sim.link(r, s, link);
    (sim, c, r, s)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn relay_to(target: &str, cfg: RelayConfig) -> Relay {
    let ep = Endpoint::parse_with(target, &strata_tokio::registry()).unwrap();
    Relay::new(ep, cfg)
}

/// `relay` listens at `tcp://relay:8000` on host `r`; a client on host `c`
/// sends `sent` through it, then EOF; after a minute of virtual time every
/// byte must have come back, in order. Returns what the client saw.
fn echo_through_relay(
    sim: &mut Sim,
    (c, r): (HostId, HostId),
    relay: &Relay,
    sent: &[u8],
    what: &str,
) -> Shared {
    sim.listen(r, "tcp://relay:8000", relay.factory()).unwrap();
    let (proto, seen) = client(sent, true);
    sim.connect(c, "tcp://relay:8000", proto).unwrap();
    sim.run(Duration::from_secs(60));
    let got = &seen.lock().unwrap().data;
    assert!(
        got == sent,
        "{what}: {} of {} bytes back",
        got.len(),
        sent.len()
    );
    seen.clone()
}

#[test]
fn the_relay_relays_to_tcp_tls_reliable_udp_and_quic_upstreams() {
    for (listen, target) in [
        ("tcp://server:7", "tcp://server:7"),
        ("tls+tcp://server:7", "tls+tcp://server:7?tls.insecure=true"),
        ("reliable+udp://server:7", "reliable+udp://server:7"),
        (
            "quic+udp://server:7",
            "quic+udp://server:7?quic.insecure=true",
        ),
    ] {
        let (mut sim, c, r, s) = three_hosts(1);
        sim.listen(s, listen, apps::Echo::factory()).unwrap();
        let relay = relay_to(target, RelayConfig::default());
        let sent = pattern(300_000);
        let seen = echo_through_relay(&mut sim, (c, r), &relay, &sent, target);
        assert!(
            seen.lock().unwrap().eof,
            "{target}: the echo's EOF came back through the relay"
        );
        assert_eq!(relay.stats().started(), 1, "{target}");
        assert_eq!(relay.stats().bytes_up(), sent.len() as u64, "{target}");
        assert_eq!(relay.stats().bytes_down(), sent.len() as u64, "{target}");
        assert_eq!(relay.stats().connect_failures(), 0, "{target}");
        assert_eq!(relay.stats().active(), 0, "{target}: the pair ended");
    }
}

#[test]
fn a_refused_upstream_closes_the_client_and_counts_a_failure() {
    let (mut sim, c, r, _s) = three_hosts(2);
    let relay = relay_to("tcp://server:7", RelayConfig::default());
    sim.listen(r, "tcp://relay:8000", relay.factory()).unwrap();
    let (proto, seen) = client(b"anyone there?", false);
    sim.connect(c, "tcp://relay:8000", proto).unwrap();
    sim.run_until(Duration::from_secs(5), |_| {
        seen.lock().unwrap().lost.is_some()
    });
    let seen = seen.lock().unwrap();
    // Reset, not closed: a clean close would look like an empty answer.
    assert!(
        matches!(seen.lost, Some(Close::Reset)),
        "the client is reset: {seen:?}"
    );
    assert!(seen.data.is_empty());
    assert_eq!(relay.stats().connect_failures(), 1);
    // The client's SYN (5 ms), the relay's SYN to the server and its reset
    // back (10 ms), the reset to the client (5 ms): the refusal came from
    // the server's host, not from the relay giving up at once.
    assert_eq!(sim.elapsed(), Duration::from_millis(20));
}

#[test]
fn the_connect_timeout_is_a_deadline_of_the_relays_client_side() {
    let (mut sim, c, r, s) = three_hosts(3);
    sim.listen(s, "tcp://server:7", apps::Echo::factory())
        .unwrap();
    // The far link is cut: the upstream SYN goes nowhere. The link's own
    // connect timeout (20 s) is longer than the relay's.
    sim.apply(strata_sim::Fault::Partition(r, s));
    let cfg = RelayConfig {
        connect_timeout: Duration::from_secs(2),
        ..RelayConfig::default()
    };
    let relay = relay_to("tcp://server:7", cfg);
    sim.listen(r, "tcp://relay:8000", relay.factory()).unwrap();
    let (proto, seen) = client(b"anyone there?", false);
    sim.connect(c, "tcp://relay:8000", proto).unwrap();
    let done = sim.run_until(Duration::from_secs(30), |_| {
        seen.lock().unwrap().lost.is_some()
    });
    assert_eq!(done, strata::testing::RunOutcome::Reached);
    assert_eq!(relay.stats().connect_failures(), 1);
    let t = sim.elapsed();
    assert!(
        t >= Duration::from_secs(2) && t < Duration::from_millis(2100),
        "closed at {t:?}, the deadline is 2 s after the client's connection"
    );
}

#[test]
fn a_relay_behind_a_relay_over_the_reliable_mapping() {
    // client -> relay (tcp) -> server's relay (reliable+udp) -> echo (tcp, on
    // the server host): the stream carried by the mapping dials too.
    let (mut sim, c, r, s) = three_hosts(4);
    sim.listen(s, "tcp://server:7", apps::Echo::factory())
        .unwrap();
    let far = relay_to("tcp://server:7", RelayConfig::default());
    sim.listen(s, "reliable+udp://server:9000", far.factory())
        .unwrap();
    let near = relay_to("reliable+udp://server:9000", RelayConfig::default());
    let sent = pattern(100_000);
    echo_through_relay(&mut sim, (c, r), &near, &sent, "relay behind relay");
    assert_eq!((near.stats().started(), far.stats().started()), (1, 1));
}

#[test]
fn serve_s_http_demo_answers_http1_and_h2() {
    for choice in [VersionChoice::Http1, VersionChoice::Http2] {
        let mut sim = Sim::new(5);
        let s = sim.add_host("server", "10.0.0.3".parse().unwrap());
        let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
        sim.link(c, s, Link::default().latency(Duration::from_millis(5)));
        let f = apps::http::factory(apps::http::service(None));
        sim.listen(s, "tcp://server:80", f).unwrap();
        for (path, status, body) in [
            ("/hello", 200, apps::http::HELLO.to_vec()),
            ("/bytes/100000", 200, Vec::new()),
            ("/status/418", 418, Vec::new()),
        ] {
            let (proto, seen) = client(b"", false);
            let req = strata::http::Request::get(format!("http://server{path}"))
                .body(())
                .unwrap();
            let http = HttpClient::new(req, proto, choice);
            sim.connect(c, "tcp://server:80", Box::new(http)).unwrap();
            sim.run_until(Duration::from_secs(10), |_| seen.lock().unwrap().eof);
            let seen = seen.lock().unwrap();
            assert!(seen.eof, "{choice:?} {path}: the response ended: {seen:?}");
            assert_eq!(seen.status, Some(status), "{choice:?} {path}");
            if path == "/bytes/100000" {
                assert_eq!(seen.data.len(), 100_000, "{choice:?} {path}");
            } else {
                assert_eq!(seen.data, body, "{choice:?} {path}");
            }
        }
    }
}

#[test]
fn echo_echoes_and_chat_relays_lines_between_members() {
    let mut sim = Sim::new(6);
    let s = sim.add_host("server", "10.0.0.3".parse().unwrap());
    let a = sim.add_host("alice", "10.0.0.1".parse().unwrap());
    let b = sim.add_host("bob", "10.0.0.2".parse().unwrap());
    sim.link(a, s, Link::default().latency(Duration::from_millis(5)));
    sim.link(b, s, Link::default().latency(Duration::from_millis(7)));
    sim.listen(s, "tcp://server:7", apps::by_name("echo").unwrap())
        .unwrap();
    let room = ChatRoom::new(ChatConfig::default());
    sim.listen(s, "tcp://server:6667", room.factory()).unwrap();

    let sent = pattern(50_000);
    let (proto, echoed) = client(&sent, true);
    sim.connect(a, "tcp://server:7", proto).unwrap();

    let (bob, bob_seen) = client(b"", false);
    sim.connect(b, "tcp://server:6667", bob).unwrap();
    sim.run(Duration::from_millis(100));
    let (alice, _) = client(b"hello from alice\n", false);
    sim.connect(a, "tcp://server:6667", alice).unwrap();
    sim.run(Duration::from_secs(1));

    assert!(echoed.lock().unwrap().data == sent, "echo");
    let heard = String::from_utf8(bob_seen.lock().unwrap().data.clone()).unwrap();
    assert!(heard.contains("joined"), "{heard}");
    assert!(
        heard
            .lines()
            .any(|l| l.starts_with("10.0.0.1:") && l.ends_with(": hello from alice")),
        "{heard}"
    );
}

/// The relay over a lossy reliable-mapping upstream: the whole trace, the
/// payload hashes included (every plan, the relay's dials too, is seeded
/// from the world's seed), and what came back.
fn lossy_relay_trace(seed: u64) -> (String, Vec<u8>) {
    let (mut sim, c, r, s) = three_hosts(seed);
    sim.apply(strata_sim::Fault::Loss(r, s, 0.05));
    sim.listen(s, "reliable+udp://server:7", apps::Echo::factory())
        .unwrap();
    let relay = relay_to("reliable+udp://server:7", RelayConfig::default());
    sim.listen(r, "tcp://relay:8000", relay.factory()).unwrap();
    let (proto, seen) = client(&pattern(200_000), true);
    sim.connect(c, "tcp://relay:8000", proto).unwrap();
    sim.run(Duration::from_secs(120));
    let trace = sim.trace_text();
    assert!(
        trace.contains(" dial reliable+udp://server:7"),
        "the dial is an event"
    );
    let data = seen.lock().unwrap().data.clone();
    (trace, data)
}

#[test]
fn the_same_seed_gives_the_same_relayed_run() {
    let (a, got) = lossy_relay_trace(11);
    assert!(got == pattern(200_000), "{} bytes back", got.len());
    let (b, _) = lossy_relay_trace(11);
    assert!(a == b, "same seed, same events");
    let (c, _) = lossy_relay_trace(12);
    assert!(a != c, "another seed, another loss pattern");
}

#[test]
fn a_dial_that_cannot_be_opened_reaches_the_protocol_as_connection_lost() {
    let mut sim = Sim::new(7);
    let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    sim.add_host("island", "10.0.0.9".parse().unwrap());
    let d = sim.dialer(a);
    let cases = [
        ("tcp://island:80", std::io::ErrorKind::HostUnreachable),
        ("tcp://10.0.0.77:80", std::io::ErrorKind::NotFound),
    ];
    for (ep, kind) in cases {
        let (proto, seen) = client(b"", false);
        let ep = Endpoint::parse(ep).unwrap();
        d.dial(&ep, proto, Arc::default()).unwrap();
        assert!(
            seen.lock().unwrap().lost.is_none(),
            "{ep}: never during the dial"
        );
        sim.run(Duration::from_secs(1));
        let lost = seen.lock().unwrap().lost.clone();
        assert!(
            matches!(lost, Some(Close::Io(k)) if k == kind),
            "{ep}: {lost:?}"
        );
    }
    // An endpoint the simulator cannot build is refused at once.
    // (A CA file that does not exist.)
    let bad = Endpoint::parse("tls+tcp://island:80?tls.ca=/nonexistent/ca.pem").unwrap();
    assert!(d.dial(&bad, client(b"", false).0, Arc::default()).is_err());
}

#[test]
fn once_connected_an_idle_relayed_pair_holds_no_timer() {
    // The connect deadline (10 s) ends with the connect: an idle pair
    // leaves the world with nothing to do.
    let (mut sim, c, r, s) = three_hosts(8);
    sim.listen(s, "tcp://server:7", apps::Echo::factory())
        .unwrap();
    let relay = relay_to("tcp://server:7", RelayConfig::default());
    sim.listen(r, "tcp://relay:8000", relay.factory()).unwrap();
    let (proto, seen) = client(b"ping", false);
    sim.connect(c, "tcp://relay:8000", proto).unwrap();
    let out = sim.run(Duration::from_secs(60));
    assert_eq!(seen.lock().unwrap().data, b"ping");
    assert_eq!(out, strata::testing::RunOutcome::Idle);
    assert!(
        sim.elapsed() < Duration::from_secs(1),
        "{:?}",
        sim.elapsed()
    );
    assert_eq!(sim.open_connections(), 2, "both connections still open");
}

#[test]
fn an_h2_get_through_the_relay_to_the_http_demo_over_tls() {
    let (mut sim, c, r, s) = three_hosts(9);
    let f = apps::http::factory(apps::http::service(None));
    sim.listen(s, "tls+tcp://server:443", f).unwrap();
    let relay = relay_to(
        "tls+tcp://server:443?tls.insecure=true",
        RelayConfig::default(),
    );
    sim.listen(r, "tcp://relay:8000", relay.factory()).unwrap();
    let (proto, seen) = client(b"", false);
    let req = strata::http::Request::get("http://server/bytes/70000")
        .body(())
        .unwrap();
    let h2 = HttpClient::new(req, proto, VersionChoice::Http2);
    sim.connect(c, "tcp://relay:8000", Box::new(h2)).unwrap();
    sim.run_until(Duration::from_secs(10), |_| seen.lock().unwrap().eof);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.status, Some(200));
    assert_eq!(seen.data.len(), 70_000);
    assert_eq!(relay.stats().connect_failures(), 0);
}

#[test]
fn the_dialer_of_a_dropped_world_refuses_at_once() {
    let mut sim = Sim::new(10);
    let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    let d = sim.dialer(a);
    drop(sim);
    let ep = Endpoint::parse("tcp://10.0.0.1:80").unwrap();
    let err = d
        .dial(&ep, client(b"", false).0, Arc::default())
        .unwrap_err();
    assert!(matches!(err, strata::DialError::Stopped { .. }), "{err}");
}
