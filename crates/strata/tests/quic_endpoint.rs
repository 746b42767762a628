//! The QUIC server as an endpoint (issue 11, points 1, 5 and "bad input"):
//! Retry, a flood of Initials from many source ports, the connection
//! limit, and a client whose address changes mid-transfer (migration).

mod quic_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quic_support::*;
use strata::quic::{QuicConfig, QuicError, RetryPolicy};
use strata::testing::{LinkConfig, MemoryDatagramTransport, Verdict};
use strata::{Datagram, DatagramProtocol, PeerAddr, StreamProtocol};

/// A Retry packet (RFC 9000 §17.2.5): long header, type 3.
fn is_retry(d: &[u8]) -> bool {
    d.first().is_some_and(|b| b & 0xf0 == 0xf0)
}

#[test]
fn with_retry_always_the_client_proves_its_address_first_and_then_talks() {
    let retries = Arc::new(Mutex::new(0));
    let r = retries.clone();
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let srv = server(
        QuicConfig {
            retry: RetryPolicy::Always,
            ..config(1)
        },
        echo_apps(&server_log),
    );
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: b"validated".to_vec(),
            log: client_log.clone(),
        }),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    net.set_tamper(move |d| {
        if d.from == addr(SERVER) && is_retry(d.data) {
            *r.lock().unwrap() += 1;
        }
        Verdict::Pass
    });
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some()
    });
    assert_eq!(*retries.lock().unwrap(), 1);
    assert_eq!(client_log.lock().unwrap().data, b"validated");
}

/// The first datagram a client sends: its Initial. Each seed is another
/// client (a seeded client draws its connection ids from the seed).
fn client_initial(seed: u64) -> Vec<u8> {
    let mut c = client_app(config(seed), Box::new(Script::new(SharedEvents::default())));
    let mut t = MemoryDatagramTransport::new(1500);
    c.connection_made(&mut t);
    t.take_sent().remove(0).contents
}

/// Feeds `n` client Initials (each its own connection id) from `n` source
/// ports; returns the server's connections, the bytes it sent back and the
/// bytes it received.
fn flood(policy: RetryPolicy, n: u16) -> (usize, usize, usize) {
    let initials: Vec<Vec<u8>> = (0..n)
        .map(|i| client_initial(1000 + u64::from(i)))
        .collect();
    let mut s = server(
        QuicConfig {
            retry: policy,
            ..config(1)
        },
        per_stream(Arc::new(|| {
            Box::new(Echo(SharedLog::default())) as Box<dyn StreamProtocol>
        })),
    );
    let mut t = MemoryDatagramTransport::new(65_535);
    s.connection_made(&mut t);
    for port in 0..n {
        let from: SocketAddr = format!("192.0.2.7:{}", 10_000 + port).parse().unwrap();
        s.datagrams_received(
            &mut t,
            &[Datagram::new(Some(from), &initials[port as usize])],
        );
    }
    let sent: usize = t.take_sent().iter().map(|tx| tx.contents.len()).sum();
    (s.connections(), sent, initials.iter().map(Vec::len).sum())
}

#[test]
fn a_flood_of_initials_allocates_no_state_with_retry_and_amplification_stays_under_3x() {
    let (conns, sent, received) = flood(RetryPolicy::Always, 100);
    assert_eq!(conns, 0, "Retry: no connection state before validation");
    assert!(sent <= 3 * received, "{sent} > 3 x {received}");
    // Auto validates once the half-open connections pass the threshold.
    let (conns, sent, received) = flood(RetryPolicy::Auto, 100);
    assert_eq!(conns, strata::quic::config::DEFAULT_RETRY_THRESHOLD);
    assert!(sent <= 3 * received, "{sent} > 3 x {received}");
    // Without Retry every Initial costs a connection (the contrast).
    let (conns, sent, received) = flood(RetryPolicy::Never, 100);
    assert_eq!(conns, 100);
    assert!(sent <= 3 * received, "{sent} > 3 x {received}");
}

#[test]
fn over_max_connections_a_new_client_is_refused() {
    let first = SharedEvents::default();
    let second = SharedEvents::default();
    let srv = script_server(
        QuicConfig {
            max_connections: 1,
            ..config(1)
        },
        || Script::new(SharedEvents::default()),
    );
    let mut net = strata::testing::SimNet::new(4);
    net.set_tracing(false);
    let s = net.add_node(addr(SERVER), Box::new(srv));
    let c1 = net.add_node(
        addr(CLIENT),
        Box::new(client_app(config(2), Box::new(Script::new(first.clone())))),
    );
    net.link_both(c1, s, lan());
    run_until(&mut net, Duration::from_secs(5), || {
        first.lock().unwrap().made
    });
    let c2 = net.add_node(
        addr("10.0.0.3:5000"),
        Box::new(client_app(config(3), Box::new(Script::new(second.clone())))),
    );
    net.link_both(c2, s, lan());
    run_until(&mut net, Duration::from_secs(5), || {
        second.lock().unwrap().lost.is_some()
    });
    let lost = second.lock().unwrap().lost.clone().unwrap();
    assert_eq!(
        lost.error::<QuicError>(),
        Some(&QuicError::Refused),
        "{lost}"
    );
    assert!(!second.lock().unwrap().made);
    assert!(first.lock().unwrap().lost.is_none());
}

/// Records the peer address its transport reports, at every read.
struct PeerProbe(Bulk, Arc<Mutex<Vec<SocketAddr>>>);

impl StreamProtocol for PeerProbe {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        self.0.connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn strata::StreamTransport, data: &[u8]) {
        if let Some(PeerAddr(strata::Addr::Inet(a))) = t.get::<PeerAddr>() {
            let mut seen = self.1.lock().unwrap();
            if seen.last() != Some(a) {
                seen.push(*a);
            }
        }
        self.0.data_received(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
        self.0.eof_received(t)
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        self.0.connection_lost(why)
    }
    fn resume_writing(&mut self, t: &mut dyn strata::StreamTransport) {
        self.0.resume_writing(t)
    }
}

#[test]
fn a_client_whose_source_port_changes_mid_transfer_keeps_going() {
    const UP: u64 = 3 << 20;
    const DOWN: u64 = 1 << 20;
    let client_out = Shared::default();
    let server_out = Shared::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (so, sn) = (server_out.clone(), seen.clone());
    let srv = server(
        config(1),
        per_stream(Arc::new(move || {
            Box::new(PeerProbe(Bulk::new(DOWN, 2, 1, so.clone()), sn.clone()))
                as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(config(2), Box::new(Bulk::new(UP, 1, 2, client_out.clone())));
    let link = LinkConfig {
        delay: Duration::from_millis(10),
        rate: Some(50_000_000),
        ..LinkConfig::default()
    };
    let (mut net, _, _) = pair(3, link, srv, cli);
    // A NAT rebinding 200 ms in: the client's datagrams now come from
    // another port, and the server's answers to it reach the client.
    let natted: SocketAddr = "10.0.0.1:6001".parse().unwrap();
    let start = strata::testing::epoch();
    net.set_tamper(move |d| {
        if d.now.saturating_duration_since(start) < Duration::from_millis(200) {
            return Verdict::Pass;
        }
        if d.from == addr(CLIENT) {
            let data = std::mem::take(d.data);
            d.inject(natted, addr(SERVER), data, Duration::from_millis(10));
            return Verdict::Drop;
        }
        if d.to == natted {
            let data = std::mem::take(d.data);
            d.inject(addr(SERVER), addr(CLIENT), data, Duration::from_millis(10));
            return Verdict::Drop;
        }
        Verdict::Pass
    });
    run_until(&mut net, Duration::from_secs(60), || {
        client_out.lock().unwrap().lost.is_some() && server_out.lock().unwrap().lost.is_some()
    });
    let (c, s) = (client_out.lock().unwrap(), server_out.lock().unwrap());
    assert_eq!((s.received, s.mismatch, s.eof), (UP, None, true), "{s:?}");
    assert_eq!((c.received, c.mismatch, c.eof), (DOWN, None, true), "{c:?}");
    assert!(c.clean && s.clean, "{c:?} {s:?}");
    assert_eq!(*seen.lock().unwrap(), [addr(CLIENT), natted]);
}

#[test]
fn with_a_server_id_every_id_the_client_sends_to_routes_to_that_server() {
    use strata::routing::{LbConfig, Route, ServerId};
    let client_log = SharedLog::default();
    let srv = server(
        QuicConfig {
            server_id: Some(ServerId::parse_hex("0a0b").unwrap()),
            ..config(1)
        },
        per_stream(Arc::new(|| {
            Box::new(Echo(SharedLog::default())) as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: vec![7; 100_000],
            log: client_log.clone(),
        }),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    let routes = Arc::new(Mutex::new((0u32, 0u32)));
    let r = routes.clone();
    let lb = LbConfig::new(0, 2).unwrap();
    net.set_tamper(move |d| {
        // Short headers (RFC 9000 §17.3): the server's id follows the first octet.
        if d.to == addr(SERVER) && d.data.first().is_some_and(|b| b & 0x80 == 0) {
            let mut r = r.lock().unwrap();
            match lb.route(&d.data[1..]) {
                Route::Server(s) if s == [0x0a, 0x0b] => r.0 += 1,
                _ => r.1 += 1,
            }
        }
        Verdict::Pass
    });
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some()
    });
    assert_eq!(client_log.lock().unwrap().data.len(), 100_000);
    let (ours, other) = *routes.lock().unwrap();
    assert!(
        ours > 10 && other == 0,
        "{ours} routed to 0a0b, {other} elsewhere"
    );
}
