//! The test kit's `SimNet` and its `Netem` link model: loss (random and
//! bursty), duplication, reordering, delay and jitter, bandwidth, queue
//! limit, MTU, GSO batches, routing, and byte-identical determinism.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::testing::{
    epoch, DropReason, LinkConfig, Loss, Netem, NodeId, RunOutcome, SimEvent, SimEventKind, SimNet,
};
use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rx {
    seq: u64,
    sent_ns: u64,
    at_ns: u64,
    len: usize,
    batch: usize,
}

#[derive(Debug, Default)]
struct SinkLog {
    rx: Vec<Rx>,
    batches: usize,
    max_datagram_size: usize,
}

type Shared = Arc<Mutex<SinkLog>>;

fn nanos(t: &dyn DatagramTransport) -> u64 {
    (t.now() - epoch()).as_nanos() as u64
}

/// Sends `total` datagrams of `size` bytes to `to`, `per_tick` every
/// `interval`, starting at once. Each carries its sequence number and send
/// time (ns since epoch).
struct Blaster {
    to: SocketAddr,
    total: u64,
    per_tick: u64,
    interval: Duration,
    size: usize,
    seq: u64,
    next: Option<Instant>,
}

fn blaster(to: SocketAddr, total: u64, per_tick: u64, interval: Duration, size: usize) -> Blaster {
    Blaster {
        to,
        total,
        per_tick,
        interval,
        size: size.max(16),
        seq: 0,
        next: None,
    }
}

impl DatagramProtocol for Blaster {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.next = Some(t.now());
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    fn next_deadline(&self) -> Option<Instant> {
        self.next
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        let Some(due) = self.next.filter(|d| *d <= t.now()) else {
            return;
        };
        let mut buf = vec![0u8; self.size];
        for _ in 0..self.per_tick {
            if self.seq == self.total {
                break;
            }
            buf[..8].copy_from_slice(&self.seq.to_be_bytes());
            buf[8..16].copy_from_slice(&nanos(t).to_be_bytes());
            t.send(&Transmit::to(self.to, &buf));
            self.seq += 1;
        }
        self.next = (self.seq < self.total).then(|| due + self.interval);
    }
}

/// Records every datagram; echoes them back to their source if `echo`.
struct Sink {
    log: Shared,
    echo: bool,
}

impl DatagramProtocol for Sink {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.log.lock().unwrap().max_datagram_size = t.max_datagram_size();
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let at_ns = nanos(t);
        let mut log = self.log.lock().unwrap();
        log.batches += 1;
        for d in batch {
            let field = |r: std::ops::Range<usize>| {
                d.data
                    .get(r)
                    .map_or(u64::MAX, |b| u64::from_be_bytes(b.try_into().unwrap()))
            };
            log.rx.push(Rx {
                seq: field(0..8),
                sent_ns: field(8..16),
                at_ns,
                len: d.data.len(),
                batch: batch.len(),
            });
            if self.echo {
                t.send(&Transmit {
                    destination: d.source,
                    ..Transmit::connected(d.data)
                });
            }
        }
    }
}

fn sink(echo: bool) -> (Sink, Shared) {
    let log = Shared::default();
    (
        Sink {
            log: log.clone(),
            echo,
        },
        log,
    )
}

/// A network of a blaster at 127.0.0.1 and a sink at 127.0.0.2 joined by
/// `cfg`; runs until idle and returns the net, the link ends and the log.
fn blast(seed: u64, cfg: LinkConfig, b: Blaster) -> (SimNet, NodeId, NodeId, Vec<Rx>) {
    let mut net = SimNet::new(seed);
    let to = b.to;
    let a = net.add_node(addr("127.0.0.1:5000"), Box::new(b));
    let (s, log) = sink(false);
    let z = net.add_node(to, Box::new(s));
    net.link(a, z, cfg);
    assert_eq!(net.run(Duration::from_secs(3600)), RunOutcome::Idle);
    let rx = log.lock().unwrap().rx.clone();
    (net, a, z, rx)
}

const SINK: &str = "127.0.0.2:6000";

#[test]
fn random_loss_rate_is_near_p() {
    let cfg = LinkConfig::default().loss(Loss::Random(0.1));
    let (net, a, z, rx) = blast(11, cfg, blaster(addr(SINK), 100_000, 100, ms(1), 32));
    let st = *net.link_stats(a, z).unwrap();
    assert_eq!(st.sent, 100_000);
    assert_eq!(st.delivered, rx.len() as u64);
    assert_eq!(st.lost_random + st.delivered, 100_000);
    assert_eq!(st.lost_burst, 0);
    let rate = st.lost_random as f64 / 100_000.0;
    // 3σ of a binomial(100k, 0.1) is 0.0028.
    assert!((rate - 0.1).abs() < 0.003, "loss rate {rate}");
    // Losses are spread out: no long runs.
    assert!(mean_burst(&rx, 100_000) < 1.2);
}

/// Mean length of the runs of sequence numbers missing from `rx`.
fn mean_burst(rx: &[Rx], total: u64) -> f64 {
    let mut got = vec![false; total as usize];
    for r in rx {
        got[r.seq as usize] = true;
    }
    let (mut runs, mut lost, mut in_run) = (0u64, 0u64, false);
    for g in got {
        if !g {
            lost += 1;
            if !in_run {
                runs += 1;
            }
        }
        in_run = !g;
    }
    lost as f64 / runs.max(1) as f64
}

#[test]
fn gilbert_elliott_loses_in_bursts() {
    let loss = Loss::GilbertElliott {
        p_good_to_bad: 0.01,
        p_bad_to_good: 0.25,
        loss_good: 0.0,
        loss_bad: 1.0,
    };
    let cfg = LinkConfig::default().loss(loss);
    let (net, a, z, rx) = blast(5, cfg, blaster(addr(SINK), 100_000, 100, ms(1), 32));
    let st = *net.link_stats(a, z).unwrap();
    assert_eq!(st.lost_random, 0);
    assert_eq!(st.lost_burst + st.delivered, 100_000);
    let rate = st.lost_burst as f64 / 100_000.0;
    assert!((rate - loss.mean_rate()).abs() < 0.01, "loss rate {rate}");
    // Bursts last 1 / p_bad_to_good = 4 packets on average (about 950
    // bursts, so 3σ of the mean is about 0.33).
    let burst = mean_burst(&rx, 100_000);
    assert!((burst - 4.0).abs() < 0.4, "mean burst {burst}");
}

#[test]
fn duplication_makes_extra_copies() {
    let cfg = LinkConfig::default().duplicate(0.05);
    let (net, a, z, rx) = blast(3, cfg, blaster(addr(SINK), 20_000, 100, ms(1), 32));
    let st = *net.link_stats(a, z).unwrap();
    let mut count: HashMap<u64, u32> = HashMap::new();
    for r in &rx {
        *count.entry(r.seq).or_default() += 1;
    }
    assert_eq!(count.len(), 20_000, "every packet arrives");
    let twice = count.values().filter(|&&c| c == 2).count() as u64;
    assert!(count.values().all(|&c| c <= 2));
    assert_eq!(twice, st.duplicated);
    assert_eq!(st.delivered, 20_000 + st.duplicated);
    let p = twice as f64 / 20_000.0;
    assert!((p - 0.05).abs() < 0.006, "duplicate rate {p}");
}

/// How many packets arrived after a packet with a higher sequence number.
fn overtaken(rx: &[Rx]) -> usize {
    let mut max_seen = None;
    let mut n = 0;
    for r in rx {
        if max_seen.is_some_and(|m| m > r.seq) {
            n += 1;
        }
        max_seen = max_seen.max(Some(r.seq));
    }
    n
}

#[test]
fn jitter_alone_never_reorders() {
    let cfg = LinkConfig::default().delay(ms(20)).jitter(ms(15));
    let (net, a, z, rx) = blast(9, cfg, blaster(addr(SINK), 10_000, 1, ms(1), 32));
    assert_eq!(rx.len(), 10_000);
    assert_eq!(overtaken(&rx), 0);
    assert_eq!(net.link_stats(a, z).unwrap().reordered, 0);
}

#[test]
fn reordering_happens_when_configured() {
    let cfg = LinkConfig::default()
        .delay(ms(20))
        .jitter(ms(5))
        .reorder(0.1, ms(20));
    let (net, a, z, rx) = blast(9, cfg, blaster(addr(SINK), 10_000, 1, ms(1), 32));
    let st = *net.link_stats(a, z).unwrap();
    assert_eq!(rx.len(), 10_000);
    let held = st.reordered as f64 / 10_000.0;
    assert!((held - 0.1).abs() < 0.012, "reorder rate {held}");
    // Held back 20 ms with packets 1 ms apart, each is overtaken.
    assert_eq!(overtaken(&rx), st.reordered as usize);
    let kinds = net
        .trace()
        .iter()
        .filter(|e| e.kind == SimEventKind::Reordered);
    assert_eq!(kinds.count() as u64, st.reordered);
}

#[test]
fn delay_and_jitter_stay_in_bounds() {
    let cfg = LinkConfig::default().delay(ms(50)).jitter(ms(10));
    let (_, _, _, rx) = blast(21, cfg, blaster(addr(SINK), 10_000, 1, ms(2), 32));
    assert_eq!(rx.len(), 10_000);
    let delays: Vec<u64> = rx.iter().map(|r| r.at_ns - r.sent_ns).collect();
    let (lo, hi) = (ms(40).as_nanos() as u64, ms(60).as_nanos() as u64);
    assert!(delays.iter().all(|d| (lo..=hi).contains(d)));
    // The whole range is used.
    assert!(*delays.iter().min().unwrap() < ms(41).as_nanos() as u64);
    assert!(*delays.iter().max().unwrap() > ms(59).as_nanos() as u64);

    let plain = LinkConfig::default().delay(ms(50));
    let (_, _, _, rx) = blast(21, plain, blaster(addr(SINK), 100, 1, ms(2), 32));
    assert!(rx.iter().all(|r| r.at_ns - r.sent_ns == 50_000_000));
}

#[test]
fn bandwidth_one_megabyte_at_8_mbit_takes_one_second() {
    let cfg = LinkConfig::default()
        .rate_bps(8_000_000)
        .queue_limit(2_000_000)
        .delay(ms(10));
    let (net, a, z, rx) = blast(1, cfg, blaster(addr(SINK), 1000, 1000, ms(1), 1000));
    assert_eq!(rx.len(), 1000);
    assert_eq!(net.link_stats(a, z).unwrap().dropped_queue, 0);
    // 1000 bytes take 1 ms at 8 Mbit/s; the last of 1000 leaves at 1 s.
    assert_eq!(rx[0].at_ns, 11_000_000);
    assert_eq!(rx[999].at_ns, 1_010_000_000);
    assert_eq!(net.elapsed(), Duration::from_millis(1010));
    assert!(rx.windows(2).all(|w| w[1].at_ns - w[0].at_ns == 1_000_000));
}

#[test]
fn full_bottleneck_queue_tail_drops() {
    let cfg = LinkConfig::default()
        .rate_bps(1_000_000)
        .queue_limit(10_000);
    let (net, a, z, rx) = blast(1, cfg, blaster(addr(SINK), 100, 100, ms(1), 1000));
    let st = *net.link_stats(a, z).unwrap();
    // Ten 1000-byte packets fit the 10 kB queue; the other ninety are dropped.
    assert_eq!((st.delivered, st.dropped_queue), (10, 90));
    assert_eq!(
        rx.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    let drops = net
        .trace()
        .iter()
        .filter(|e| e.kind == SimEventKind::QueueDrop);
    assert_eq!(drops.count(), 90);
}

#[test]
fn oversized_datagrams_are_dropped_by_link_mtu() {
    // The sender's interface MTU is its largest link's (1500); the path to
    // the second sink allows only 1200.
    let mut net = SimNet::new(4);
    let (small, big) = (addr("127.0.0.2:1"), addr("127.0.0.3:1"));
    let sender = Sender::new(vec![(small, 1300), (big, 1300), (big, 1200)]);
    let seen = sender.log.clone();
    let a = net.add_node(addr("127.0.0.1:1"), Box::new(sender));
    let (k1, l1) = sink(false);
    let (k2, l2) = sink(false);
    let b = net.add_node(small, Box::new(k1));
    let c = net.add_node(big, Box::new(k2));
    net.link(a, b, LinkConfig::default());
    net.link(a, c, LinkConfig::default().mtu(1200));
    assert_eq!(net.run(Duration::from_secs(1)), RunOutcome::Idle);
    assert_eq!(seen.lock().unwrap().max_datagram_size, 1500);
    // A node with no link out gets the default.
    assert_eq!(l1.lock().unwrap().max_datagram_size, 1500);
    let to_b: Vec<usize> = l1.lock().unwrap().rx.iter().map(|r| r.len).collect();
    assert_eq!(to_b, vec![1300]);
    let to_c: Vec<usize> = l2.lock().unwrap().rx.iter().map(|r| r.len).collect();
    assert_eq!(to_c, vec![1200]);
    assert_eq!(net.link_stats(a, c).unwrap().dropped_mtu, 1);
    assert_eq!(net.link_stats(a, b).unwrap().dropped_mtu, 0);
    let drops = net
        .trace()
        .iter()
        .filter(|e| e.kind == SimEventKind::MtuDrop);
    assert_eq!(
        drops.map(|e| (e.to, e.len)).collect::<Vec<_>>(),
        vec![(Some(c), 1300)]
    );
}

/// Sends a fixed list of (destination, length) datagrams, and one GSO batch
/// when `gso` is set.
struct Sender {
    sends: Vec<(SocketAddr, usize)>,
    gso: Option<(SocketAddr, usize, usize)>,
    log: Shared,
}

impl Sender {
    fn new(sends: Vec<(SocketAddr, usize)>) -> Self {
        Sender {
            sends,
            gso: None,
            log: Shared::default(),
        }
    }
}

impl DatagramProtocol for Sender {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.log.lock().unwrap().max_datagram_size = t.max_datagram_size();
        for &(to, len) in &self.sends {
            t.send(&Transmit::to(to, &vec![7u8; len]));
        }
        if let Some((to, seg, len)) = self.gso {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            t.send(&Transmit {
                segment_size: Some(seg),
                ..Transmit::to(to, &data)
            });
        }
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
}

#[test]
fn gso_batches_are_split_and_delivered_as_one_batch() {
    let mut net = SimNet::new(2);
    let dst = addr(SINK);
    let sender = Sender {
        gso: Some((dst, 100, 350)),
        ..Sender::new(vec![])
    };
    let a = net.add_node(addr("127.0.0.1:7"), Box::new(sender));
    let (k, log) = sink(false);
    let z = net.add_node(dst, Box::new(k));
    net.link(a, z, LinkConfig::default().delay(ms(3)));
    net.run(Duration::from_secs(1));
    let log = log.lock().unwrap();
    let lens: Vec<usize> = log.rx.iter().map(|r| r.len).collect();
    assert_eq!(lens, vec![100, 100, 100, 50]);
    assert_eq!(log.batches, 1);
    assert!(log.rx.iter().all(|r| r.batch == 4 && r.at_ns == 3_000_000));
    assert_eq!(net.link_stats(a, z).unwrap().sent, 4);
}

#[test]
fn unroutable_datagrams_are_counted() {
    let mut net = SimNet::new(2);
    let (b_addr, nowhere) = (addr("127.0.0.2:9"), addr("127.0.0.9:9"));
    let sender = Sender::new(vec![(nowhere, 10), (b_addr, 10)]);
    let a = net.add_node(addr("127.0.0.1:9"), Box::new(sender));
    let (k, log) = sink(false);
    // A node exists at b_addr, but no link leads there.
    net.add_node(b_addr, Box::new(k));
    net.run(Duration::from_secs(1));
    assert_eq!(net.unroutable(), 2);
    assert!(log.lock().unwrap().rx.is_empty());
    let tos: Vec<_> = net.trace().iter().map(|e| (e.from, e.to, e.kind)).collect();
    assert_eq!(
        tos,
        vec![
            (a, None, SimEventKind::Unroutable),
            (a, Some(NodeId(1)), SimEventKind::Unroutable)
        ]
    );
}

/// A lossy, jittery, duplicating, reordering, rate-limited network with an
/// echo: the trace exercises every random choice. `extra` adds a second,
/// independent pair of nodes with their own traffic.
fn chaos(seed: u64, extra: bool) -> SimNet {
    let mut net = SimNet::new(seed);
    let (a_addr, b_addr) = (addr("127.0.0.1:4433"), addr("127.0.0.2:4433"));
    let a = net.add_node(a_addr, Box::new(blaster(b_addr, 3000, 7, ms(2), 300)));
    let (echo, _) = sink(true);
    let b = net.add_node(b_addr, Box::new(echo));
    let cfg = LinkConfig::default()
        .loss(Loss::GilbertElliott {
            p_good_to_bad: 0.02,
            p_bad_to_good: 0.3,
            loss_good: 0.01,
            loss_bad: 0.8,
        })
        .duplicate(0.02)
        .reorder(0.05, ms(15))
        .delay(ms(30))
        .jitter(ms(8))
        .rate_bps(4_000_000)
        .queue_limit(20_000);
    net.link_both(a, b, cfg.clone());
    if extra {
        let (c_addr, d_addr) = (addr("127.0.0.3:1"), addr("127.0.0.4:1"));
        let c = net.add_node(c_addr, Box::new(blaster(d_addr, 2000, 5, ms(1), 200)));
        let (echo, _) = sink(true);
        let d = net.add_node(d_addr, Box::new(echo));
        net.link_both(c, d, cfg.loss(Loss::Random(0.2)));
    }
    assert_eq!(net.run(Duration::from_secs(600)), RunOutcome::Idle);
    net
}

fn text(trace: &[SimEvent]) -> String {
    trace.iter().map(|e| format!("{e}\n")).collect()
}

#[test]
fn same_seed_same_trace_byte_for_byte() {
    let (one, two) = (chaos(7, false), chaos(7, false));
    assert!(one.trace().len() > 5_000);
    assert_eq!(one.trace(), two.trace());
    assert_eq!(text(one.trace()), text(two.trace()));
    assert_eq!(one.trace_digest(), two.trace_digest());
    // Every kind of impairment actually happened.
    for kind in [
        SimEventKind::Lost,
        SimEventKind::BurstLost,
        SimEventKind::Duplicated,
        SimEventKind::Reordered,
        SimEventKind::QueueDrop,
    ] {
        assert!(one.trace().iter().any(|e| e.kind == kind), "no {kind:?}");
    }

    let other = chaos(8, false);
    assert_ne!(one.trace_digest(), other.trace_digest());
    assert_ne!(text(one.trace()), text(other.trace()));
}

#[test]
fn other_links_do_not_perturb_a_link() {
    // Adding nodes, links and traffic elsewhere leaves the first pair's
    // events exactly as they were.
    let pair = |e: &&SimEvent| e.from.0 < 2 && e.to.is_some_and(|t| t.0 < 2);
    let alone: Vec<SimEvent> = chaos(7, false)
        .trace()
        .iter()
        .filter(pair)
        .copied()
        .collect();
    let crowded = chaos(7, true);
    let mixed: Vec<SimEvent> = crowded.trace().iter().filter(pair).copied().collect();
    assert!(crowded.trace().len() > mixed.len());
    assert_eq!(alone, mixed);
}

#[test]
fn netem_alone_serializes_and_tail_drops() {
    let cfg = LinkConfig::default().rate_bps(8_000).queue_limit(2000);
    let mut n = Netem::new(cfg, 1, 0);
    let t0 = epoch();
    // 1000 bytes at 8 kbit/s take one second each.
    assert_eq!(
        n.offer(t0, 1000).unwrap().first.at,
        t0 + Duration::from_secs(1)
    );
    assert_eq!(
        n.offer(t0, 1000).unwrap().first.at,
        t0 + Duration::from_secs(2)
    );
    assert_eq!(n.offer(t0, 1), Err(DropReason::QueueFull));
    assert_eq!(n.queued_bytes(t0 + Duration::from_secs(1)), 1000);
    let third = n.offer(t0 + Duration::from_secs(1), 500).unwrap();
    assert_eq!(third.first.at, t0 + Duration::from_millis(2500));
    assert_eq!(n.stats().dropped_queue, 1);
    assert_eq!(n.stats().sent, 4);
}

/// Sends one datagram to `to` each time it is woken.
struct OnWake {
    to: SocketAddr,
    waker: Arc<Mutex<Option<strata::Wake>>>,
}

impl DatagramProtocol for OnWake {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        *self.waker.lock().unwrap() = Some(t.waker());
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, _: strata::WakeRoute<'_>) {
        t.send(&Transmit::to(self.to, b"woken"));
    }
}

#[test]
fn wakes_reach_nodes() {
    let mut net = SimNet::new(6);
    let waker = Arc::new(Mutex::new(None));
    let dst = addr(SINK);
    let proto = OnWake {
        to: dst,
        waker: waker.clone(),
    };
    let a = net.add_node(addr("127.0.0.1:8"), Box::new(proto));
    let (k, log) = sink(false);
    let z = net.add_node(dst, Box::new(k));
    net.link(a, z, LinkConfig::default().delay(ms(4)));
    assert_eq!(net.run(Duration::from_secs(1)), RunOutcome::Idle);
    assert!(log.lock().unwrap().rx.is_empty());
    let w = waker.lock().unwrap().clone().unwrap();
    std::thread::spawn(move || w.wake()).join().unwrap();
    assert_eq!(net.run(Duration::from_secs(1)), RunOutcome::Idle);
    let rx = log.lock().unwrap().rx.clone();
    assert_eq!(rx.len(), 1);
    assert_eq!((rx[0].len, rx[0].at_ns), (5, 4_000_000));
}
