//! The client endpoint (issue 11, point 1; the `qclient` slice): many
//! connections on one datagram transport, to different servers, opened at
//! any time, each with its own app and its own handshake deadline; one that
//! ends leaves the others running and the transport open; bad input is a
//! typed error; shutdown drains them all.

mod quic_support;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quic_support::*;
use strata::quic::{ConnectError, QuicApp, QuicClientEndpoint, QuicConfig};
use strata::testing::{MemoryDatagramTransport, SimNet};
use strata::{
    Close, Datagram, DatagramProtocol, DatagramTransport, Fault, StreamProtocol, Timeout, Wake,
    WakeRoute,
};

const LIMIT: Duration = Duration::from_secs(30);
const SERVER_B: &str = "10.0.0.3:4433";

/// What a connection runs: a connection-level app or one stream protocol.
enum Run {
    App(Box<dyn QuicApp>),
    Stream(Box<dyn StreamProtocol>),
}

struct Request {
    server: SocketAddr,
    name: String,
    run: Run,
}

fn app(server: &str, app: impl QuicApp + 'static) -> Request {
    Request {
        server: addr(server),
        name: "localhost".into(),
        run: Run::App(Box::new(app)),
    }
}

fn say(server: &str, msg: &[u8], log: &SharedLog) -> Request {
    Request {
        server: addr(server),
        name: "localhost".into(),
        run: Run::Stream(Box::new(Say {
            msg: msg.to_vec(),
            log: log.clone(),
        })),
    }
}

/// What the test shares with the [`Opener`] on the client node.
#[derive(Clone, Default)]
struct Handle {
    queue: Arc<Mutex<VecDeque<Request>>>,
    wake: Arc<Mutex<Option<Wake>>>,
    results: Arc<Mutex<Vec<Result<(), ConnectError>>>>,
    conns: Arc<AtomicUsize>,
}

impl Handle {
    /// Queues `r` and wakes the endpoint's owner (as another thread would).
    fn connect(&self, r: Request) {
        self.queue.lock().unwrap().push_back(r);
        if let Some(w) = self.wake.lock().unwrap().as_ref() {
            w.wake();
        }
    }
    fn connections(&self) -> usize {
        self.conns.load(Ordering::Relaxed)
    }
    fn results(&self) -> Vec<Result<(), ConnectError>> {
        self.results.lock().unwrap().clone()
    }
}

/// The protocol on the client node: owns the endpoint, opens what was
/// queued when its transport starts and on every wake addressed to it.
struct Opener {
    ep: QuicClientEndpoint,
    h: Handle,
}

impl Opener {
    fn open_queued(&mut self, t: &mut dyn DatagramTransport) {
        loop {
            let Some(r) = self.h.queue.lock().unwrap().pop_front() else {
                break;
            };
            let res = match r.run {
                Run::App(a) => self.ep.connect(t, r.server, &r.name, a),
                Run::Stream(p) => self.ep.connect_stream(t, r.server, &r.name, p),
            };
            self.h.results.lock().unwrap().push(res);
        }
    }
    fn note(&self) {
        self.h.conns.store(self.ep.connections(), Ordering::Relaxed);
    }
}

impl DatagramProtocol for Opener {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.connection_made(t);
        *self.h.wake.lock().unwrap() = Some(t.waker());
        self.open_queued(t);
        self.note();
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        self.ep.datagrams_received(t, batch);
        self.note();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.ep.connection_lost(why);
        self.note();
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.ep.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.on_deadline(t);
        self.note();
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        if route.is_here() {
            self.open_queued(t);
        } else {
            self.ep.on_wake(t, route);
        }
        self.note();
    }
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.on_shutdown(t);
        self.note();
    }
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.pause_writing(t);
    }
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.resume_writing(t);
        self.note();
    }
}

fn endpoint(cfg: QuicConfig) -> QuicClientEndpoint {
    QuicClientEndpoint::new(cfg, client_tls(&[ALPN])).unwrap()
}

/// Echo servers at [`SERVER`] and [`SERVER_B`], the endpoint at [`CLIENT`]
/// with `first` queued for its start.
fn net_with(cfg: QuicConfig, first: Vec<Request>) -> (SimNet, Handle, strata::testing::NodeId) {
    net_over(cfg, first, lan())
}

/// [`net_with`] over links of `link`.
fn net_over(
    cfg: QuicConfig,
    first: Vec<Request>,
    link: strata::testing::LinkConfig,
) -> (SimNet, Handle, strata::testing::NodeId) {
    let h = Handle::default();
    for r in first {
        h.queue.lock().unwrap().push_back(r);
    }
    let mut net = SimNet::new(7);
    net.set_tracing(false);
    let echo = || per_stream(Arc::new(|| Box::new(Echo(SharedLog::default())) as Box<_>));
    let a = net.add_node(addr(SERVER), Box::new(server(config(1), echo())));
    let b = net.add_node(addr(SERVER_B), Box::new(server(config(2), echo())));
    let opener = Opener {
        ep: endpoint(cfg),
        h: h.clone(),
    };
    let c = net.add_node(addr(CLIENT), Box::new(opener));
    net.link_both(c, a, link.clone());
    net.link_both(c, b, link);
    (net, h, c)
}

#[test]
fn two_connections_to_two_servers_share_one_endpoint_and_its_transport_outlives_them() {
    let (one, two) = (SharedLog::default(), SharedLog::default());
    let (mut net, h, c) = net_with(
        config(3),
        vec![say(SERVER, b"to a", &one), say(SERVER_B, b"to b", &two)],
    );
    run_until(&mut net, LIMIT, || {
        one.lock().unwrap().lost.is_some() && two.lock().unwrap().lost.is_some()
    });
    assert_eq!(h.results(), [Ok(()), Ok(())]);
    for (log, msg) in [(&one, b"to a"), (&two, b"to b")] {
        let l = log.lock().unwrap();
        assert_eq!(l.data, msg, "each server echoed its own connection's bytes");
        assert!(l.eof);
        assert!(matches!(l.lost, Some(Close::Done)), "{:?}", l.lost);
    }
    // Both drain and leave the table; the transport stays open.
    net.run(LIMIT);
    assert_eq!(h.connections(), 0);
    assert!(net.stack(c).unwrap().finished().is_none());
}

#[test]
fn a_connection_ending_leaves_the_other_running_and_another_opens_later() {
    let (short, late) = (SharedLog::default(), SharedLog::default());
    let long = SharedEvents::default();
    let (mut net, h, _) = net_with(
        config(3),
        vec![
            say(SERVER, b"short", &short),
            app(SERVER_B, Script::new(long.clone())),
        ],
    );
    run_until(&mut net, LIMIT, || {
        short.lock().unwrap().lost.is_some() && h.connections() == 1
    });
    let lost = short.lock().unwrap().lost.clone();
    assert!(matches!(lost, Some(Close::Done)), "{lost:?}");
    assert_eq!(h.connections(), 1, "the short one drained and left");
    // Opened at any time: a third connection, after the first is gone.
    h.connect(say(SERVER, b"late", &late));
    run_until(&mut net, LIMIT, || late.lock().unwrap().lost.is_some());
    assert_eq!(late.lock().unwrap().data, b"late");
    let l = long.lock().unwrap();
    assert!(l.made, "the long connection's handshake finished");
    assert!(l.lost.is_none(), "and it is still up: {:?}", l.lost);
    assert_eq!(h.results(), [Ok(()), Ok(()), Ok(())]);
}

#[test]
fn each_connection_has_its_own_handshake_deadline() {
    let (answered, silent) = (SharedEvents::default(), SharedEvents::default());
    let cfg = QuicConfig {
        handshake_timeout: Duration::from_secs(3),
        ..config(3)
    };
    // Nobody at 10.0.0.9: that handshake times out, the other goes on.
    let (mut net, h, c) = net_with(
        cfg,
        vec![
            app("10.0.0.9:4433", Script::new(silent.clone())),
            app(SERVER, Script::new(answered.clone())),
        ],
    );
    run_until(&mut net, LIMIT, || silent.lock().unwrap().lost.is_some());
    let lost = silent.lock().unwrap().lost.clone().unwrap();
    assert!(matches!(lost, Close::Timeout(Timeout::Handshake)), "{lost}");
    assert!(
        net.elapsed() < Duration::from_secs(5),
        "{:?}",
        net.elapsed()
    );
    // Its closing period over, it leaves; the other is untouched.
    run_until(&mut net, LIMIT, || h.connections() == 1);
    assert_eq!(h.connections(), 1);
    let a = answered.lock().unwrap();
    assert!(a.made && a.lost.is_none(), "{:?}", a.lost);
    assert!(net.stack(c).unwrap().finished().is_none());
}

#[test]
fn bad_input_is_a_typed_error_and_the_app_hears_it() {
    let refused = SharedEvents::default();
    let ok = SharedLog::default();
    let (mut net, h, _) = net_with(
        QuicConfig {
            max_connections: 1,
            ..config(3)
        },
        vec![
            app(SERVER, Script::new(refused.clone())).named("not a name!"),
            app("10.0.0.2:0", Script::new(SharedEvents::default())),
            app("0.0.0.0:4433", Script::new(SharedEvents::default())),
            say(SERVER, b"fine", &ok),
            app(SERVER_B, Script::new(SharedEvents::default())),
        ],
    );
    run_until(&mut net, LIMIT, || ok.lock().unwrap().lost.is_some());
    let r = h.results();
    assert!(
        matches!(&r[0], Err(ConnectError::InvalidServerName(n)) if n == "not a name!"),
        "{r:?}"
    );
    assert_eq!(
        r[1],
        Err(ConnectError::InvalidServerAddress(addr("10.0.0.2:0")))
    );
    assert_eq!(
        r[2],
        Err(ConnectError::InvalidServerAddress(addr("0.0.0.0:4433")))
    );
    assert_eq!(r[3], Ok(()), "bad input broke nothing");
    assert_eq!(r[4], Err(ConnectError::ConnectionLimit(1)));
    let lost = refused.lock().unwrap().lost.clone().expect("the app heard");
    assert!(
        matches!(
            lost.error::<ConnectError>(),
            Some(ConnectError::InvalidServerName(_))
        ),
        "{lost}"
    );
    assert_eq!(lost.kind(), Some(Fault::Config));
    assert!(!refused.lock().unwrap().made);
    assert_eq!(ok.lock().unwrap().data, b"fine");
}

#[test]
fn before_its_transport_starts_the_endpoint_refuses_to_connect() {
    let mut ep = endpoint(config(3));
    let mut t = MemoryDatagramTransport::new(1500);
    let ev = SharedEvents::default();
    let r = ep.connect(
        &mut t,
        addr(SERVER),
        "localhost",
        Box::new(Script::new(ev.clone())),
    );
    assert_eq!(r, Err(ConnectError::NotStarted));
    assert!(ev.lock().unwrap().lost.is_some());
    assert!(t.take_sent().is_empty());
    // Started, it sends one Initial per connection, each to its server.
    ep.connection_made(&mut t);
    for s in [SERVER, SERVER_B] {
        let r = ep.connect(
            &mut t,
            addr(s),
            "localhost",
            Box::new(Script::new(ev.clone())),
        );
        assert_eq!(r, Ok(()));
    }
    let sent = t.take_sent();
    let to: Vec<_> = sent.iter().map(|s| s.destination).collect();
    assert_eq!(to, [Some(addr(SERVER)), Some(addr(SERVER_B))]);
    assert_eq!(ep.connections(), 2);
}

#[test]
fn shutdown_drains_every_connection_then_closes_the_transport() {
    let (a, b) = (SharedEvents::default(), SharedEvents::default());
    let (mut net, h, c) = net_with(
        config(3),
        vec![
            app(SERVER, Script::new(a.clone())),
            app(SERVER_B, Script::new(b.clone())),
        ],
    );
    run_until(&mut net, LIMIT, || {
        a.lock().unwrap().made && b.lock().unwrap().made
    });
    assert_eq!(h.connections(), 2);
    let now = net.now();
    net.stack_mut(c).unwrap().handle_shutdown(now);
    // Shutting down: nothing new opens.
    let late = SharedEvents::default();
    h.connect(app(SERVER, Script::new(late.clone())));
    net.run(LIMIT);
    for ev in [&a, &b] {
        let lost = ev.lock().unwrap().lost.clone();
        assert!(matches!(lost, Some(Close::Done)), "{lost:?}");
    }
    assert_eq!(h.results()[2], Err(ConnectError::Closed));
    assert!(!late.lock().unwrap().made);
    assert_eq!(h.connections(), 0);
    assert!(
        net.stack(c).unwrap().finished().is_some(),
        "the last connection to drain closed the transport"
    );
}

trait Named {
    fn named(self, name: &str) -> Self;
}

impl Named for Request {
    fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
}

/// A connection-level app that closes its connection as soon as the
/// handshake is done, and says when it ended.
struct CloseAtOnce(Arc<AtomicUsize>);

impl QuicApp for CloseAtOnce {
    fn connection_made(&mut self, c: &mut dyn strata::quic::QuicConnection) {
        c.close(0, b"done");
    }
    fn stream_data(
        &mut self,
        _c: &mut dyn strata::quic::QuicConnection,
        _id: strata::quic::StreamId,
        _data: &[u8],
    ) {
    }
    fn connection_lost(&mut self, _why: &Close) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A server with Retry on `Auto` validates addresses only while more than
/// `DEFAULT_RETRY_THRESHOLD` (64) handshakes are half-open. Connections
/// that close right after their handshake (a client that only checks the
/// server, a load balancer's health probe, the handshakes benchmark) must
/// not count as half-open once done: they once did, so after 64 of them the
/// server sent a Retry to every later client, for ever, a round trip more
/// each (the handshakes row of BENCHMARKS.md read 0.88x quinn's because of
/// it).
#[test]
fn connections_that_close_at_once_do_not_push_the_server_into_retry() {
    let retries = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    // Loopback-like: 50 us each way, so hundreds of handshakes end within
    // one closing period of the first.
    let fast = strata::testing::LinkConfig {
        delay: Duration::from_micros(50),
        ..strata::testing::LinkConfig::default()
    };
    let first = vec![app(SERVER, CloseAtOnce(ended.clone()))];
    let (mut net, h, _) = net_over(config(4), first, fast);
    let r = retries.clone();
    net.set_tamper(move |d| {
        if d.from == addr(SERVER) && d.data.first().is_some_and(|b| b & 0xf0 == 0xf0) {
            r.fetch_add(1, Ordering::Relaxed);
        }
        strata::testing::Verdict::Pass
    });
    const N: usize = 150;
    for i in 1..N {
        run_until(&mut net, LIMIT, || ended.load(Ordering::Relaxed) >= i);
        h.connect(app(SERVER, CloseAtOnce(ended.clone())));
    }
    run_until(&mut net, LIMIT, || ended.load(Ordering::Relaxed) >= N);
    assert!(h.results().iter().all(|r| r.is_ok()), "{:?}", h.results());
    assert_eq!(
        retries.load(Ordering::Relaxed),
        0,
        "Retry packets the server sent"
    );
}
