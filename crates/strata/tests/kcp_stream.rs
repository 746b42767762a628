//! KCP mode as a layer, in memory: a `KcpStream` client and a `KcpListener`
//! server on a seeded `SimNet` with loss, reordering and duplication.
//! Transfers of 1 MB each way (every byte checked in order), read
//! back-pressure that bounds the sender, bad datagrams counted and dropped,
//! and a dead peer detected with a typed reason.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use strata::reliable::kcp::KcpConfig;
use strata::reliable::kcp_stream::{
    KcpCounters, KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig,
};
use strata::testing::{LinkConfig, Loss, NodeId, RunOutcome, SimNet};
use strata::{
    AbortReason, Addr, Close, Datagram, DatagramProtocol, DatagramTransport, PeerAddr,
    StreamFactory, StreamProtocol, StreamTransport, Timeout, Transmit,
};

const MB: usize = 1 << 20;
const CHUNK: usize = 16 * 1024;
const CONV: u32 = 0x1234_5678;

fn client_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn server_addr() -> SocketAddr {
    "127.0.0.2:50000".parse().unwrap()
}

fn pattern(n: usize, seed: u64) -> Arc<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Arc::new((0..n).map(|_| rng.r#gen()).collect())
}

/// What one side did and saw.
#[derive(Default)]
struct Side {
    to_send: Arc<Vec<u8>>,
    sent: usize,
    got: Vec<u8>,
    /// What the other side sends, to check every byte as it arrives.
    expect: Arc<Vec<u8>>,
    pauses: u32,
    resumes: u32,
    max_buffered: usize,
    /// Reading is paused from `connection_made` until this long after it.
    pause_reading_for: Option<Duration>,
    resume_at: Option<Instant>,
    peer: Option<PeerAddr>,
    chain: Vec<&'static str>,
    lost: Option<Close>,
    connections: u32,
}

/// Writes `to_send` as fast as the transport lets it, collects what arrives.
struct Peer(Arc<Mutex<Side>>);

impl Peer {
    fn pump(s: &mut Side, t: &mut dyn StreamTransport) {
        while s.sent < s.to_send.len() && t.writable() {
            let end = (s.sent + CHUNK).min(s.to_send.len());
            t.write(&s.to_send[s.sent..end]);
            s.sent = end;
            s.max_buffered = s.max_buffered.max(t.buffered());
        }
    }
}

impl StreamProtocol for Peer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.0.lock().unwrap();
        s.connections += 1;
        s.peer = t.get::<PeerAddr>().cloned();
        s.chain = t.layer_chain();
        if let Some(d) = s.pause_reading_for {
            t.pause_reading();
            s.resume_at = Some(t.now() + d);
        }
        Self::pump(&mut s, t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        let mut s = self.0.lock().unwrap();
        assert!(
            s.resume_at.is_none(),
            "data delivered while reading is paused"
        );
        let at = s.got.len();
        assert!(
            s.expect.get(at..at + data.len()) == Some(data),
            "wrong bytes at offset {at}"
        );
        s.got.extend_from_slice(data);
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        panic!("KCP has no EOF");
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.0.lock().unwrap().pauses += 1;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.0.lock().unwrap();
        s.resumes += 1;
        Self::pump(&mut s, t);
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.0.lock().unwrap().resume_at
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.0.lock().unwrap();
        if s.resume_at.is_some_and(|at| at <= t.now()) {
            s.resume_at = None;
            t.resume_reading();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

fn side(to_send: &Arc<Vec<u8>>, expect: &Arc<Vec<u8>>) -> Arc<Mutex<Side>> {
    Arc::new(Mutex::new(Side {
        to_send: to_send.clone(),
        expect: expect.clone(),
        ..Side::default()
    }))
}

struct Net {
    net: SimNet,
    client: NodeId,
    server: NodeId,
    c: Arc<Mutex<Side>>,
    s: Arc<Mutex<Side>>,
    client_counters: Arc<KcpCounters>,
    server_counters: Arc<KcpCounters>,
}

fn setup(
    seed: u64,
    cfg: KcpStreamConfig,
    link: LinkConfig,
    c: Arc<Mutex<Side>>,
    s: Arc<Mutex<Side>>,
) -> Net {
    let client = KcpStream::new(CONV, cfg.clone(), Peer(c.clone()))
        .unwrap()
        .with_peer(server_addr());
    let client_counters = client.counters();
    let server_side = s.clone();
    let factory: StreamFactory = Arc::new(move || Box::new(Peer(server_side.clone())));
    let lcfg = KcpListenerConfig {
        stream: cfg,
        ..KcpListenerConfig::default()
    };
    let listener = KcpListener::new(lcfg, factory).unwrap();
    let server_counters = listener.counters();
    let mut net = SimNet::new(seed);
    net.set_tracing(false);
    let client = net.add_node(client_addr(), Box::new(client));
    let server = net.add_node(server_addr(), Box::new(listener));
    net.link_both(client, server, link);
    Net {
        net,
        client,
        server,
        c,
        s,
        client_counters,
        server_counters,
    }
}

fn lossy() -> LinkConfig {
    LinkConfig::default()
        .delay(Duration::from_millis(10))
        .jitter(Duration::from_millis(2))
        .loss(Loss::Random(0.03))
        .reorder(0.05, Duration::from_millis(8))
        .duplicate(0.01)
}

fn transfer(seed: u64, cfg: KcpStreamConfig) -> Net {
    let up = pattern(MB, seed);
    let down = pattern(MB, seed + 1);
    let c = side(&up, &down);
    let s = side(&down, &up);
    let mut n = setup(seed, cfg, lossy(), c, s);
    let (c, s) = (n.c.clone(), n.s.clone());
    let out = n.net.run_until(Duration::from_secs(600), |_| {
        c.lock().unwrap().got.len() == MB && s.lock().unwrap().got.len() == MB
    });
    let (cg, sg) = (c.lock().unwrap().got.len(), s.lock().unwrap().got.len());
    assert_eq!(out, RunOutcome::Reached, "client got {cg}, server got {sg}");
    assert_eq!(c.lock().unwrap().got, *down);
    assert_eq!(s.lock().unwrap().got, *up);
    let lost = n.net.link_stats(n.client, n.server).unwrap().lost()
        + n.net.link_stats(n.server, n.client).unwrap().lost();
    assert!(lost > 0, "the link lost nothing");
    n
}

#[test]
fn kcp_stream_1mb_each_way_over_loss_and_reordering_default_mode() {
    let n = transfer(11, KcpStreamConfig::default());
    let (c, s) = (n.c.lock().unwrap(), n.s.lock().unwrap());
    assert_eq!(c.chain, ["kcp", "sim"]);
    assert_eq!(s.chain, ["kcp", "sim"]);
    assert_eq!(s.peer, Some(PeerAddr(Addr::Inet(client_addr()))));
    assert_eq!(c.peer, Some(PeerAddr(Addr::Inet(server_addr()))));
    assert_eq!(s.connections, 1);
    assert_eq!(n.server_counters.accepted(), 1);
    // Each writer was paused and resumed by the layer's watermarks.
    assert!(c.pauses > 0 && c.resumes > 0);
    assert!(s.pauses > 0 && s.resumes > 0);
    // Nothing the peers sent was counted as bad.
    assert_eq!(n.client_counters.bad_datagrams(), 0);
    assert_eq!(n.server_counters.bad_datagrams(), 0);
    assert!(c.lost.is_none() && s.lost.is_none());
    eprintln!("default mode: {:?} of virtual time", n.net.elapsed());
}

#[test]
fn kcp_stream_1mb_each_way_over_loss_and_reordering_fast_mode() {
    let cfg = KcpStreamConfig {
        kcp: KcpConfig::fast_mode(),
        ..KcpStreamConfig::default()
    };
    let n = transfer(23, cfg);
    eprintln!("fast mode: {:?} of virtual time", n.net.elapsed());
}

#[test]
fn kcp_stream_close_flushes_then_ends_cleanly() {
    /// Writes its data, then closes at once.
    struct WriteClose(Arc<Vec<u8>>, Arc<Mutex<Option<Close>>>);
    impl StreamProtocol for WriteClose {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(&self.0);
            t.close();
            t.write(b"after close: dropped");
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
        fn connection_lost(&mut self, why: &Close) {
            *self.1.lock().unwrap() = Some(why.clone());
        }
    }
    let data = pattern(200_000, 5);
    let closed = Arc::new(Mutex::new(None));
    let client = KcpStream::new(
        CONV,
        KcpStreamConfig::default(),
        WriteClose(data.clone(), closed.clone()),
    )
    .unwrap()
    .with_peer(server_addr());
    let s = side(&Arc::default(), &data);
    let server_side = s.clone();
    let factory: StreamFactory = Arc::new(move || Box::new(Peer(server_side.clone())));
    let listener = KcpListener::new(KcpListenerConfig::default(), factory).unwrap();
    let mut net = SimNet::new(3);
    let a = net.add_node(client_addr(), Box::new(client));
    let b = net.add_node(server_addr(), Box::new(listener));
    net.link_both(a, b, lossy());
    net.run_until(Duration::from_secs(60), |_| {
        closed.lock().unwrap().is_some()
    });
    assert!(matches!(*closed.lock().unwrap(), Some(Close::Done)));
    assert_eq!(s.lock().unwrap().got, *data);
    assert!(net
        .stack(a)
        .unwrap()
        .finished()
        .is_some_and(Close::is_clean));
}

/// The server's protocol does not read for 5 s: the receive window closes,
/// the client's writer is paused and its memory stays bounded; once the
/// server reads again everything arrives in order.
#[test]
fn kcp_stream_paused_reader_bounds_the_sender() {
    let up = pattern(MB, 7);
    let c = side(&up, &Arc::default());
    let s = side(&Arc::default(), &up);
    s.lock().unwrap().pause_reading_for = Some(Duration::from_secs(5));
    let cfg = KcpStreamConfig {
        kcp: KcpConfig::fast_mode(),
        ..KcpStreamConfig::default()
    };
    let link = LinkConfig::default().delay(Duration::from_millis(10));
    let mut n = setup(8, cfg.clone(), link, c.clone(), s.clone());
    n.net.run(Duration::from_secs(4));
    {
        let c = c.lock().unwrap();
        let s = s.lock().unwrap();
        assert!(s.got.is_empty());
        assert!(c.pauses > 0, "the writer was never paused");
        // Written: what the server's window took, plus at most the high-water
        // mark and one write over it.
        let window = usize::from(cfg.kcp.rcv_wnd) * (cfg.kcp.mtu - 24);
        assert!(
            c.sent <= window + cfg.high_water + CHUNK,
            "sent {} while the reader was paused",
            c.sent
        );
        assert!(
            c.max_buffered <= cfg.high_water + CHUNK + 64 * 1024,
            "max buffered {}",
            c.max_buffered
        );
        let held = n.net.stack(n.client).unwrap().transmits().count();
        assert!(held < 200, "{held} datagrams queued below");
    }
    let out = n.net.run_until(Duration::from_secs(120), |_| {
        s.lock().unwrap().got.len() == MB
    });
    assert_eq!(out, RunOutcome::Reached);
    assert_eq!(s.lock().unwrap().got, *up);
    assert!(c.lock().unwrap().resumes > 0);
}

/// Sends junk to the server from elsewhere during a transfer.
struct Spammer {
    to: SocketAddr,
    rng: ChaCha8Rng,
    left: u32,
    next: Option<Instant>,
}

impl DatagramProtocol for Spammer {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.next = Some(t.now());
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    fn next_deadline(&self) -> Option<Instant> {
        self.next
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        // (SimNet does not carry empty datagrams.)
        let len = self.rng.gen_range(1..100);
        let mut junk: Vec<u8> = (0..len).map(|_| self.rng.r#gen()).collect();
        if self.rng.gen_ratio(1, 2) && junk.len() >= 4 {
            // Our conversation's id, so that it looks like ours.
            junk[..4].copy_from_slice(&CONV.to_le_bytes());
        }
        t.send(&Transmit::to(self.to, &junk));
        self.left -= 1;
        self.next = (self.left > 0).then(|| t.now() + Duration::from_millis(3));
    }
}

#[test]
fn kcp_stream_bad_datagrams_are_counted_and_dropped() {
    let up = pattern(300_000, 9);
    let down = pattern(300_000, 10);
    let c = side(&up, &down);
    let s = side(&down, &up);
    let mut n = setup(
        12,
        KcpStreamConfig::default(),
        lossy(),
        c.clone(),
        s.clone(),
    );
    let spam_at: SocketAddr = "127.0.0.3:1".parse().unwrap();
    let spammer = Spammer {
        to: server_addr(),
        rng: ChaCha8Rng::seed_from_u64(1),
        left: 500,
        next: None,
    };
    let spam = n.net.add_node(spam_at, Box::new(spammer));
    n.net.link(spam, n.server, LinkConfig::default());
    // And junk towards the client, from the spammer's address.
    let junk = Spammer {
        to: client_addr(),
        rng: ChaCha8Rng::seed_from_u64(2),
        left: 200,
        next: None,
    };
    let junk_node = n
        .net
        .add_node("127.0.0.4:1".parse().unwrap(), Box::new(junk));
    n.net.link(junk_node, n.client, LinkConfig::default());
    let out = n.net.run_until(Duration::from_secs(300), |_| {
        c.lock().unwrap().got.len() == down.len() && s.lock().unwrap().got.len() == up.len()
    });
    assert_eq!(out, RunOutcome::Reached);
    // Let the junk that is still coming arrive.
    n.net.run(Duration::from_secs(3));
    let sc = &n.server_counters;
    eprintln!(
        "bad {} stray {} refused {} accepted {} dropped {} unroutable {}",
        sc.bad_datagrams(),
        sc.stray_datagrams(),
        sc.refused(),
        sc.accepted(),
        n.net.stack(n.server).unwrap().dropped(),
        n.net.unroutable()
    );
    assert!(sc.bad_datagrams() > 0, "short junk counted as bad");
    assert!(
        sc.stray_datagrams() > 0,
        "junk from elsewhere counted as stray"
    );
    assert_eq!(
        sc.bad_datagrams() + sc.stray_datagrams() + sc.refused(),
        500
    );
    assert_eq!(n.client_counters.stray_datagrams(), 200);
    assert_eq!((sc.accepted(), sc.closed()), (1, 0));
    assert!(c.lock().unwrap().lost.is_none() && s.lock().unwrap().lost.is_none());
}

/// The link dies mid-transfer. The client, still sending, gives up after
/// `dead_link` retransmissions with a typed reason; the server's child,
/// hearing nothing, ends on its idle timer and is removed.
#[test]
fn kcp_stream_dead_peer_is_detected_with_a_typed_reason() {
    let up = pattern(MB, 13);
    let c = side(&up, &Arc::default());
    let s = side(&Arc::default(), &up);
    let cfg = KcpStreamConfig {
        kcp: KcpConfig {
            dead_link: 6,
            ..KcpConfig::fast_mode()
        },
        idle_timeout: Some(Duration::from_secs(20)),
        ..KcpStreamConfig::default()
    };
    let client_cfg = KcpStreamConfig {
        idle_timeout: None,
        ..cfg.clone()
    };
    let client = KcpStream::new(CONV, client_cfg, Peer(c.clone()))
        .unwrap()
        .with_peer(server_addr());
    let server_side = s.clone();
    let factory: StreamFactory = Arc::new(move || Box::new(Peer(server_side.clone())));
    let lcfg = KcpListenerConfig {
        stream: cfg,
        ..KcpListenerConfig::default()
    };
    let listener = KcpListener::new(lcfg, factory).unwrap();
    let counters = listener.counters();
    let mut net = SimNet::new(4);
    net.set_tracing(false);
    let a = net.add_node(client_addr(), Box::new(client));
    let b = net.add_node(server_addr(), Box::new(listener));
    let link = LinkConfig::default().delay(Duration::from_millis(10));
    net.link_both(a, b, link.clone());
    net.run_until(Duration::from_secs(10), |_| {
        s.lock().unwrap().got.len() > 100_000
    });
    let cut = net.now();
    net.link_both(a, b, link.loss(Loss::Random(1.0)));
    net.run_until(Duration::from_secs(600), |_| {
        c.lock().unwrap().lost.is_some() && s.lock().unwrap().lost.is_some()
    });
    let client_lost = c.lock().unwrap().lost.clone();
    assert!(
        matches!(
            client_lost,
            Some(Close::Aborted {
                layer: "kcp",
                reason: AbortReason::PeerAborted
            })
        ),
        "{client_lost:?}"
    );
    assert!(matches!(
        s.lock().unwrap().lost,
        Some(Close::Timeout(Timeout::Idle))
    ));
    assert_eq!((counters.accepted(), counters.closed()), (1, 1));
    assert!(net.stack(a).unwrap().finished().is_some());
    // The listener lives on, with no conversation left and no deadline.
    assert!(net.stack(b).unwrap().finished().is_none());
    assert!(net.stack(b).unwrap().next_deadline().is_none());
    eprintln!("dead link noticed after {:?}", net.now() - cut);
}

/// A graceful shutdown of the server: each child's protocol closes (after
/// its data is acknowledged), then the listener closes its socket.
#[test]
fn kcp_listener_shutdown_closes_children_then_the_socket() {
    let up = pattern(100_000, 14);
    let down = pattern(100_000, 15);
    let c = side(&up, &down);
    let s = side(&down, &up);
    let mut n = setup(
        16,
        KcpStreamConfig::default(),
        lossy(),
        c.clone(),
        s.clone(),
    );
    let out = n.net.run_until(Duration::from_secs(120), |_| {
        c.lock().unwrap().got.len() == down.len() && s.lock().unwrap().got.len() == up.len()
    });
    assert_eq!(out, RunOutcome::Reached);
    let now = n.net.now();
    n.net.stack_mut(n.server).unwrap().handle_shutdown(now);
    n.net.run_until(Duration::from_secs(30), |net| {
        net.stack(n.server).unwrap().finished().is_some()
    });
    assert!(matches!(s.lock().unwrap().lost, Some(Close::Done)));
    assert!(n
        .net
        .stack(n.server)
        .unwrap()
        .finished()
        .is_some_and(Close::is_clean));
    assert_eq!(n.server_counters.closed(), 1);
}
