//! 0-RTT (RFC 9001 §4.6) in memory: a client resumes with a ticket from an
//! earlier connection and sends its request in its first flight; the
//! server answers in its own first flight (one round trip saved, counted on
//! the virtual clock); a server that refuses 0-RTT gets the bytes anyway
//! (PerStream sends them again), and a replayed first flight delivers
//! nothing twice.

mod quic_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quic_support::*;
use strata::quic::{
    AppFactory, Dir, EarlyData, PerStream, QuicApp, QuicClient, QuicConfig, QuicConnection,
    QuicError, QuicServer, StreamId,
};
use strata::testing::{LinkConfig, SimNet, Verdict};
use strata::{Close, StreamFactory, StreamProtocol, StreamTransport, WakeRoute};

/// One way: a round trip is 100 ms.
const ONE_WAY: Duration = Duration::from_millis(50);
const RTT: Duration = Duration::from_millis(100);

fn link() -> LinkConfig {
    LinkConfig {
        delay: ONE_WAY,
        ..LinkConfig::default()
    }
}

fn cfg(seed: u64, zero_rtt: bool) -> QuicConfig {
    QuicConfig {
        rng_seed: Some(seed),
        zero_rtt,
        ..QuicConfig::default()
    }
}

/// What one stream saw, on either side.
#[derive(Default, Debug, Clone)]
struct Rec {
    made_at: Option<Instant>,
    early: Option<bool>,
    data: Vec<u8>,
    first_data_at: Option<Instant>,
    eof: bool,
    lost: Option<Close>,
}

type Shared = Arc<Mutex<Vec<Rec>>>;

/// Writes `msg` then FIN; records what comes back, and when.
struct Ask {
    msg: Vec<u8>,
    rec: Shared,
    idx: usize,
}

impl Ask {
    fn new(msg: &[u8], rec: &Shared) -> Box<Ask> {
        let mut r = rec.lock().unwrap();
        r.push(Rec::default());
        Box::new(Ask {
            msg: msg.to_vec(),
            rec: rec.clone(),
            idx: r.len() - 1,
        })
    }
    fn with(&self, f: impl FnOnce(&mut Rec)) {
        f(&mut self.rec.lock().unwrap()[self.idx]);
    }
}

impl StreamProtocol for Ask {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let (now, early) = (t.now(), t.get::<EarlyData>().map(|e| e.0));
        self.with(|r| {
            r.made_at = Some(now);
            r.early = early;
        });
        t.write(&self.msg);
        t.write_eof();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let now = t.now();
        self.with(|r| {
            r.first_data_at.get_or_insert(now);
            r.data.extend_from_slice(data);
        });
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.with(|r| r.eof = true);
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        let why = why.clone();
        self.with(|r| r.lost = Some(why));
    }
}

/// The server's protocol: echoes, and records whether the stream was early.
struct Echoer {
    rec: Shared,
    idx: usize,
}

impl StreamProtocol for Echoer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let (now, early) = (t.now(), t.get::<EarlyData>().map(|e| e.0));
        let mut r = self.rec.lock().unwrap();
        r[self.idx].made_at = Some(now);
        r[self.idx].early = early;
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let now = t.now();
        {
            let mut r = self.rec.lock().unwrap();
            r[self.idx].first_data_at.get_or_insert(now);
            r[self.idx].data.extend_from_slice(data);
        }
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.rec.lock().unwrap()[self.idx].eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.rec.lock().unwrap()[self.idx].lost = Some(why.clone());
    }
}

fn echo_factory(rec: &Shared) -> StreamFactory {
    let rec = rec.clone();
    Arc::new(move || {
        let mut r = rec.lock().unwrap();
        r.push(Rec::default());
        Box::new(Echoer {
            rec: rec.clone(),
            idx: r.len() - 1,
        }) as Box<dyn StreamProtocol>
    })
}

/// Connection-level events the client app saw.
#[derive(Default, Debug, Clone)]
struct ConnEvents {
    made_early: Option<bool>,
    accepted: u32,
    rejected: u32,
    early_after: Option<bool>,
}

/// PerStream (one bidirectional stream, plus a unidirectional one when
/// `uni` is set), recording the connection-level 0-RTT events.
struct Watch {
    inner: PerStream,
    uni: Option<Box<dyn StreamProtocol>>,
    ev: Arc<Mutex<ConnEvents>>,
}

impl QuicApp for Watch {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.ev.lock().unwrap().made_early = Some(c.is_early());
        self.inner.connection_made(c);
        if let Some(p) = self.uni.take() {
            assert!(self.inner.open_stream(c, Dir::Uni, p).is_ok());
        }
    }
    fn early_data(&self) -> bool {
        self.inner.early_data()
    }
    fn zero_rtt_accepted(&mut self, c: &mut dyn QuicConnection) {
        {
            let mut e = self.ev.lock().unwrap();
            e.accepted += 1;
            e.early_after = Some(c.is_early());
        }
        self.inner.zero_rtt_accepted(c);
    }
    fn zero_rtt_rejected(&mut self, c: &mut dyn QuicConnection) {
        {
            let mut e = self.ev.lock().unwrap();
            e.rejected += 1;
            e.early_after = Some(c.is_early());
        }
        self.inner.zero_rtt_rejected(c);
    }
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_opened(c, id)
    }
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        self.inner.stream_data(c, id, data)
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_finished(c, id)
    }
    fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        self.inner.stream_reset(c, id, code)
    }
    fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        self.inner.stream_stopped(c, id, code)
    }
    fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_acked(c, id)
    }
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_writable(c, id)
    }
    fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {
        self.inner.streams_available(c, dir)
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        self.inner.on_deadline(c)
    }
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        self.inner.on_wake_at(c, route)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why)
    }
}

/// The TLS configurations both connections of a test share: the client's
/// session store and the server's session cache live in them.
struct Peers {
    server_tls: Arc<rustls::ServerConfig>,
    client_tls: Arc<rustls::ClientConfig>,
}

impl Peers {
    fn new() -> Peers {
        Peers {
            server_tls: server_tls(&[ALPN]),
            client_tls: client_tls(&[ALPN]),
        }
    }
}

/// One connection's outcome.
struct Run {
    net: SimNet,
    start: Instant,
    client: Vec<Rec>,
    server: Vec<Rec>,
    ev: ConnEvents,
    server_rec: Shared,
}

impl Run {
    /// When the client's first stream got its first answer, from the start.
    fn answer_after(&self) -> Duration {
        self.client[0]
            .first_data_at
            .expect("an answer")
            .duration_since(self.start)
    }
}

/// Prepares the network before it runs (a tamper hook).
type Setup = Box<dyn FnOnce(&mut SimNet)>;

struct Opts {
    seed: u64,
    server_zero_rtt: bool,
    client_zero_rtt: bool,
    uni: bool,
    /// Called with the network before it runs (a tamper hook).
    setup: Option<Setup>,
    /// The server's apps (default: PerStream with the echo).
    apps: Option<AppFactory>,
    /// Both ways (default: [`link`], 50 ms each way, nothing lost).
    link: LinkConfig,
}

impl Opts {
    fn new(seed: u64, server_zero_rtt: bool, client_zero_rtt: bool) -> Opts {
        Opts {
            seed,
            server_zero_rtt,
            client_zero_rtt,
            uni: false,
            setup: None,
            apps: None,
            link: link(),
        }
    }
}

/// Runs one connection over a 100 ms-RTT link: the client asks `msg` on
/// one stream, the server echoes; until both streams are over.
fn connect(peers: &Peers, msg: &[u8], o: Opts) -> Run {
    let server_rec: Shared = Arc::default();
    let client_rec: Shared = Arc::default();
    let ev = Arc::new(Mutex::new(ConnEvents::default()));
    let apps = o
        .apps
        .clone()
        .unwrap_or_else(|| per_stream(echo_factory(&server_rec)));
    let server = QuicServer::new(
        cfg(o.seed, o.server_zero_rtt),
        peers.server_tls.clone(),
        apps,
    )
    .unwrap();
    let ask = Ask::new(msg, &client_rec);
    let uni = o
        .uni
        .then(|| Ask::new(b"one way", &client_rec) as Box<dyn StreamProtocol>);
    let app = Watch {
        inner: PerStream::client(ask),
        uni,
        ev: ev.clone(),
    };
    let client = QuicClient::new(
        cfg(o.seed ^ 0x5eed, o.client_zero_rtt),
        peers.client_tls.clone(),
        "localhost",
        addr(SERVER),
        Box::new(app),
    )
    .unwrap();
    let (mut net, _, _) = pair(o.seed, o.link.clone(), server, client);
    if let Some(f) = o.setup {
        f(&mut net);
    }
    let start = net.now();
    let wanted = if o.apps.is_some() {
        0
    } else {
        1 + usize::from(o.uni)
    };
    let cr = client_rec.clone();
    let sr = server_rec.clone();
    net.run_until(Duration::from_secs(20), |_| {
        let c = cr.lock().unwrap();
        let s = sr.lock().unwrap();
        c.iter().all(|r| r.lost.is_some())
            && s.len() == wanted
            && s.iter().all(|r| r.lost.is_some())
    });
    // Let the connection close and drain, so the tickets are in.
    net.run(Duration::from_secs(2));
    let client = client_rec.lock().unwrap().clone();
    let server = server_rec.lock().unwrap().clone();
    let ev = ev.lock().unwrap().clone();
    Run {
        net,
        start,
        client,
        server,
        ev,
        server_rec,
    }
}

#[test]
fn zero_rtt_answer_arrives_one_round_trip_earlier() {
    let peers = Peers::new();
    // The first connection has no ticket: a full handshake, the answer two
    // round trips after the start (handshake, then request and answer).
    let first = connect(&peers, b"hello", Opts::new(1, true, true));
    assert_eq!(first.client[0].data, b"hello");
    assert_eq!(first.ev.made_early, Some(false));
    assert_eq!(first.client[0].early, Some(false));
    assert!(
        first.answer_after() >= 2 * RTT,
        "{:?}",
        first.answer_after()
    );

    // The second resumes: the request rides the first flight and the
    // server answers in its own first flight: one round trip.
    let second = connect(&peers, b"again", Opts::new(2, true, true));
    assert_eq!(second.ev.made_early, Some(true), "{:?}", second.ev);
    assert_eq!(second.client[0].early, Some(true));
    assert_eq!(second.client[0].data, b"again");
    assert!(second.client[0].eof);
    assert!(second.client[0].lost.as_ref().unwrap().is_clean());
    assert_eq!((second.ev.accepted, second.ev.rejected), (1, 0));
    assert_eq!(second.ev.early_after, Some(false));
    assert!(
        second.answer_after() < RTT + RTT / 2,
        "{:?}",
        second.answer_after()
    );
    // The server saw the stream arrive early.
    assert_eq!(second.server.len(), 1);
    assert_eq!(second.server[0].data, b"again");
    assert_eq!(second.server[0].early, Some(true));
    assert_eq!(first.server[0].early, Some(false));
}

#[test]
fn zero_rtt_is_opt_in_on_the_client() {
    let peers = Peers::new();
    connect(&peers, b"hello", Opts::new(3, true, true));
    // A ticket is there, but this client did not ask for 0-RTT: the app
    // starts after the handshake, the answer two round trips in.
    let second = connect(&peers, b"later", Opts::new(4, true, false));
    assert_eq!(second.ev.made_early, Some(false));
    assert_eq!((second.ev.accepted, second.ev.rejected), (0, 0));
    assert_eq!(second.client[0].data, b"later");
    assert!(
        second.answer_after() >= 2 * RTT,
        "{:?}",
        second.answer_after()
    );
    assert_eq!(second.server[0].early, Some(false));
}

#[test]
fn rejected_zero_rtt_is_sent_again_and_arrives_once() {
    let peers = Peers::new();
    connect(&peers, b"hello", Opts::new(5, true, true));
    // The same server configuration with 0-RTT off: the client offers its
    // early data, the server refuses it.
    let mut o = Opts::new(6, false, true);
    o.uni = true;
    let second = connect(&peers, b"refused then resent", o);
    assert_eq!(second.ev.made_early, Some(true));
    assert_eq!((second.ev.accepted, second.ev.rejected), (0, 1));
    assert_eq!(second.ev.early_after, Some(false));
    // Both streams' bytes arrived, once, as 1-RTT data.
    let mut got: Vec<Vec<u8>> = second.server.iter().map(|r| r.data.clone()).collect();
    got.sort();
    assert_eq!(got, [b"one way".to_vec(), b"refused then resent".to_vec()]);
    assert!(second
        .server
        .iter()
        .all(|r| r.early == Some(false) && r.eof));
    assert_eq!(second.client[0].data, b"refused then resent");
    assert!(second
        .client
        .iter()
        .all(|r| r.lost.as_ref().unwrap().is_clean()));
    // No round trip saved: the answer came after the handshake.
    assert!(
        second.answer_after() >= 2 * RTT,
        "{:?}",
        second.answer_after()
    );
}

#[test]
fn replayed_first_flight_delivers_nothing_twice() {
    let peers = Peers::new();
    connect(&peers, b"hello", Opts::new(7, true, true));
    // An on-path attacker copies the client's first flight: it duplicates
    // it at once (the same connection sees it twice) and keeps it to replay
    // after the connection is over, from the client's address and another.
    let captured: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let cap = captured.clone();
    let client_addr = addr(CLIENT);
    let mut o = Opts::new(8, true, true);
    o.setup = Some(Box::new(move |net: &mut SimNet| {
        let t0 = net.now();
        net.set_tamper(move |d| {
            if d.from == client_addr && d.now == t0 {
                cap.lock().unwrap().push(d.data.clone());
                let copy = d.data.clone();
                d.inject(d.from, d.to, copy, Duration::from_millis(1));
            }
            Verdict::Pass
        });
    }));
    let mut run = connect(&peers, b"pay once", o);
    assert_eq!(run.ev.made_early, Some(true));
    assert_eq!(run.ev.accepted, 1);
    assert_eq!(run.server.len(), 1);
    assert_eq!(run.server[0].data, b"pay once");
    let flight = captured.lock().unwrap().clone();
    assert!(!flight.is_empty());
    // After the connection drained: the replay starts a new handshake whose
    // ticket was used up (single-use), so its 0-RTT packets are dropped.
    run.net.clear_tamper();
    run.net.run(Duration::from_secs(5));
    for from in [client_addr, addr("10.0.0.9:6000")] {
        for d in &flight {
            run.net.inject(from, addr(SERVER), d);
        }
        run.net.run(Duration::from_secs(15));
    }
    let server = run.server_rec.lock().unwrap();
    assert_eq!(server.len(), 1, "{server:?}");
    assert_eq!(server[0].data, b"pay once");
}

#[test]
fn an_app_without_the_zero_rtt_contract_starts_after_the_handshake() {
    let peers = Peers::new();
    connect(&peers, b"hello", Opts::new(9, true, true));
    // The server accepts 0-RTT, but its app does not say it keeps the
    // contract (`early_data` false, the default): it starts once the
    // handshake is done, so a replay could never reach it; the request
    // waited in quinn-proto and the answer comes two round trips in.
    let ev = SharedEvents::default();
    let made_early: Arc<Mutex<Vec<bool>>> = Arc::default();
    let (e, m) = (ev.clone(), made_early.clone());
    let apps: AppFactory = Arc::new(move |_| {
        let m = m.clone();
        let app = Script::new(e.clone())
            .made(move |c, ()| m.lock().unwrap().push(c.is_early()))
            .data(|c, (id, d)| {
                assert!(!c.is_early());
                let _ = c.write(id, &d);
            })
            .finished(|c, id| {
                let _ = c.finish(id);
            });
        Some(Box::new(app) as Box<dyn QuicApp>)
    });
    let mut o = Opts::new(10, true, true);
    o.apps = Some(apps);
    let second = connect(&peers, b"wait for it", o);
    assert_eq!(second.ev.made_early, Some(true), "the client went early");
    assert_eq!(second.ev.accepted, 1, "and the server took its 0-RTT");
    assert_eq!(*made_early.lock().unwrap(), [false]);
    assert_eq!(ev.lock().unwrap().data[&0], b"wait for it");
    assert_eq!(second.client[0].data, b"wait for it");
    assert!(
        second.answer_after() >= 2 * RTT,
        "{:?}",
        second.answer_after()
    );
}

#[test]
fn a_stream_that_cannot_be_reopened_after_a_rejection_ends_typed() {
    let peers = Peers::new();
    connect(&peers, b"hello", Opts::new(11, true, true));
    // The server rejects 0-RTT and now allows no bidirectional stream: the
    // early stream cannot be sent again, its protocol hears why.
    let server_rec: Shared = Arc::default();
    let zero_streams = QuicConfig {
        max_bidi_streams: 0,
        ..cfg(12, false)
    };
    let server = QuicServer::new(
        zero_streams,
        peers.server_tls.clone(),
        per_stream(echo_factory(&server_rec)),
    )
    .unwrap();
    let rec: Shared = Arc::default();
    let client = QuicClient::new(
        cfg(13, true),
        peers.client_tls.clone(),
        "localhost",
        addr(SERVER),
        Box::new(PerStream::client(Ask::new(b"no room", &rec))),
    )
    .unwrap();
    let (mut net, _, _) = pair(12, link(), server, client);
    let r = rec.clone();
    net.run_until(Duration::from_secs(20), |_| {
        r.lock().unwrap()[0].lost.is_some()
    });
    let rec = rec.lock().unwrap();
    assert_eq!(rec[0].early, Some(true));
    let why = rec[0].lost.as_ref().expect("the stream ended");
    assert_eq!(
        why.error::<QuicError>(),
        Some(&QuicError::ZeroRttRejected),
        "{why:?}"
    );
    assert!(server_rec.lock().unwrap().is_empty());
}

/// quic_sim's one tolerated end without delivery (see `wedged` there): the
/// client's Finished lost twice, the client took the handshake for done,
/// quinn-proto 0.11.19 probes no more, the server ends at its handshake
/// timeout (APPLICATION_ERROR 0xc in a handshake packet) and the client
/// hears it. Nothing was delivered, both ends have a typed reason.
fn wedged(run: &Run) -> bool {
    run.server.iter().all(|r| r.data.is_empty())
        && run.client[0].data.is_empty()
        && run.client[0]
            .lost
            .as_ref()
            .and_then(|l| l.error::<QuicError>())
            .is_some_and(|e| e.code() == Some(0xc))
}

/// 0-RTT over lossy links (loss, duplication, reordering): whether the
/// server accepts 0-RTT or (one seed in three) rejects it, the request
/// arrives exactly once, whole, and the echo comes back whole. The 20 KB
/// request is more than `MAX_EARLY_BYTES`: 6 KiB leave in 0-RTT packets,
/// some lost and sent again as 1-RTT, the rest after the handshake. Seeds
/// 140 and 272 stalled until the idle timeout before that bound (see its
/// docs). `QUIC_ZERO_RTT_SEEDS=N` (default 300) and `QUIC_ZERO_RTT_FROM`
/// (default 100) run other seeds; of 100..1100, one (985) wedged as
/// quic_sim tolerates (0.1 %).
#[test]
fn over_lossy_links_zero_rtt_delivers_exactly_once() {
    use strata::testing::Loss;
    let msg: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let n: u64 = std::env::var("QUIC_ZERO_RTT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (mut early, mut rejected, mut server_early) = (0, 0, 0);
    let mut wedges = Vec::new();
    let from: u64 = std::env::var("QUIC_ZERO_RTT_FROM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seeds = (from..from + n).chain([140, 272]);
    for seed in seeds.clone() {
        let peers = Peers::new();
        connect(&peers, b"ticket", Opts::new(seed, true, true));
        let accept = seed % 3 != 0;
        let mut o = Opts::new(seed + 1000, accept, true);
        o.link = LinkConfig::default()
            .delay(Duration::from_millis(5 + seed % 20))
            .loss(Loss::Random(0.02 + (seed % 7) as f64 * 0.01))
            .duplicate(0.03)
            .reorder(0.05, Duration::from_millis(3));
        let run = connect(&peers, &msg, o);
        let got: Vec<usize> = run.server.iter().map(|r| r.data.len()).collect();
        if wedged(&run) {
            wedges.push(seed);
            continue;
        }
        assert_eq!(got, [msg.len()], "seed {seed}: {:?}", run.ev);
        assert!(
            run.server[0].data == msg,
            "seed {seed}: the request differs"
        );
        assert!(run.client[0].data == msg, "seed {seed}: the echo differs");
        assert!(
            run.client[0].lost.as_ref().is_some_and(Close::is_clean),
            "seed {seed}: {:?}",
            run.client[0].lost
        );
        assert_eq!(run.ev.made_early, Some(true), "seed {seed}: a ticket");
        // Early on the server only if accepted (all of the stream's 0-RTT
        // packets may be lost: it then opens in 1-RTT).
        if run.server[0].early == Some(true) {
            assert!(accept, "seed {seed}: early data the server rejected");
            server_early += 1;
        }
        let outcome = (run.ev.accepted, run.ev.rejected);
        assert_eq!(
            outcome,
            (u32::from(accept), u32::from(!accept)),
            "seed {seed}"
        );
        early += 1;
        rejected += run.ev.rejected;
    }
    // The first connection's link is clean: every second one had a ticket.
    assert_eq!(early + wedges.len(), seeds.count());
    assert!(
        wedges.len() as u64 * 1000 <= n.max(1000),
        "wedged: {wedges:?}"
    );
    assert!(rejected >= 20, "{rejected}");
    assert!(server_early >= 30, "{server_early}");
    eprintln!(
        "{early} resumed early, {rejected} rejected, {server_early} early on the server, \
         wedged in the handshake: {wedges:?}"
    );
}

/// Sends DATAGRAM frames of 1,000 bytes at `connection_made`, early.
struct EarlyDatagrams(Arc<Mutex<Vec<bool>>>);

impl QuicApp for EarlyDatagrams {
    fn early_data(&self) -> bool {
        true
    }
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        assert!(c.is_early());
        for _ in 0..10 {
            let ok = c.send_datagram(bytes::Bytes::from(vec![7u8; 1000])).is_ok();
            self.0.lock().unwrap().push(ok);
        }
        c.close(0, b"");
    }
    fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
}

#[test]
fn early_datagrams_are_bounded_too() {
    let peers = Peers::new();
    connect(&peers, b"hello", Opts::new(14, true, true));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let server = QuicServer::new(
        cfg(15, true),
        peers.server_tls.clone(),
        per_stream(echo_factory(&Shared::default())),
    )
    .unwrap();
    let client = QuicClient::new(
        cfg(16, true),
        peers.client_tls.clone(),
        "localhost",
        addr(SERVER),
        Box::new(EarlyDatagrams(sent.clone())),
    )
    .unwrap();
    let (mut net, _, _) = pair(15, link(), server, client);
    net.run(Duration::from_secs(1));
    // 6 KiB: six of 1,000 bytes go, the rest is refused until the handshake.
    let sent = sent.lock().unwrap();
    assert_eq!(
        *sent,
        [true, true, true, true, true, true, false, false, false, false]
    );
}
