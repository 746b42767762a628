//! Interop: strata's KCP engine against the `kcp` crate (a port of ikcp),
//! in memory, over a seeded lossy and reordering link with a virtual clock.
//! Both directions at once, 1 MB each way, every byte checked in order, in
//! ikcp's fast mode and default mode; plus message mode (fragments).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use strata::reliable::kcp::{Kcp, KcpConfig};

const CONV: u32 = 0xC0FF_EE01;
const MB: usize = 1 << 20;

/// The `kcp` crate's output sink: one `write` per datagram.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<VecDeque<Vec<u8>>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().push_back(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// ikcp's knobs for one preset, applied to both implementations.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Fast,
    Default,
}

fn ours(mode: Mode, stream: bool) -> Kcp {
    let cfg = match mode {
        Mode::Fast => KcpConfig::fast_mode(),
        Mode::Default => KcpConfig::default_mode(),
    };
    Kcp::new(CONV, KcpConfig { stream, ..cfg }).unwrap()
}

fn theirs(mode: Mode, stream: bool, sink: Sink) -> kcp::Kcp<Sink> {
    let mut k = if stream {
        kcp::Kcp::new_stream(CONV, sink)
    } else {
        kcp::Kcp::new(CONV, sink)
    };
    match mode {
        Mode::Fast => {
            k.set_nodelay(true, 10, 2, true);
            k.set_wndsize(128, 128);
        }
        Mode::Default => k.set_nodelay(false, 100, 0, false),
    }
    k
}

/// Seeded link: loss, plus a random delay per datagram that reorders.
struct Link {
    rng: ChaCha8Rng,
    loss: f64,
    base: Duration,
    jitter_ms: u64,
    queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    seq: u64,
    sent: u64,
    dropped: u64,
}

impl Link {
    fn new(seed: u64, loss: f64, jitter_ms: u64) -> Link {
        Link {
            rng: ChaCha8Rng::seed_from_u64(seed),
            loss,
            base: Duration::from_millis(20),
            jitter_ms,
            queue: BinaryHeap::new(),
            seq: 0,
            sent: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, now: Instant, d: Vec<u8>) {
        self.sent += 1;
        if self.rng.gen_bool(self.loss) {
            self.dropped += 1;
            return;
        }
        let at = now + self.base + Duration::from_millis(self.rng.gen_range(0..=self.jitter_ms));
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, d)));
    }

    fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        match self.queue.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.queue.pop().map(|Reverse((_, _, d))| d),
            _ => None,
        }
    }
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.r#gen()).collect()
}

struct Outcome {
    virtual_time: Duration,
    ours: strata::reliable::kcp::KcpStats,
    lost: u64,
}

/// Streams `to_theirs` from our engine and `to_ours` from the `kcp` crate at
/// the same time and checks both arrive intact and in order.
fn run(
    mode: Mode,
    seed: u64,
    loss: f64,
    jitter_ms: u64,
    to_theirs: &[u8],
    to_ours: &[u8],
) -> Outcome {
    let sink = Sink::default();
    let mut a = ours(mode, true);
    let mut b = theirs(mode, true, sink.clone());
    let mut ab = Link::new(seed, loss, jitter_ms);
    let mut ba = Link::new(seed ^ 0x5555, loss, jitter_ms);
    let t0 = Instant::now();
    let mut now = t0;
    let (mut sent_a, mut sent_b) = (0usize, 0usize);
    let mut got_a = Vec::with_capacity(to_ours.len());
    let mut got_b = Vec::with_capacity(to_theirs.len());
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut dgram = Vec::new();
    let limit = t0 + Duration::from_secs(3600);
    while got_a.len() < to_ours.len() || got_b.len() < to_theirs.len() {
        assert!(
            now < limit,
            "stalled: ours got {} / theirs got {}",
            got_a.len(),
            got_b.len()
        );
        assert!(!a.is_dead_link(), "our engine declared the link dead");
        let ms = now.duration_since(t0).as_millis() as u32;

        // Application writes, bounded by each side's back-pressure.
        sent_a += a.send(&to_theirs[sent_a..]);
        while sent_b < to_ours.len() && b.wait_snd() < 256 {
            let end = (sent_b + 8192).min(to_ours.len());
            sent_b += b.send(&to_ours[sent_b..end]).unwrap();
        }

        // Deliveries due now.
        while let Some(d) = ab.pop_due(now) {
            b.input(&d).expect("kcp crate rejected our datagram");
        }
        while let Some(d) = ba.pop_due(now) {
            a.input(now, &d).expect("we rejected a kcp crate datagram");
        }

        // Timers and output.
        if a.next_timeout(now).is_some_and(|t| t <= now) {
            a.on_timeout(now);
        }
        while a.poll_transmit(now, &mut dgram) {
            assert!(dgram.len() <= 1400);
            ab.push(now, dgram.clone());
        }
        b.update(ms).unwrap();
        let out: Vec<Vec<u8>> = sink.0.borrow_mut().drain(..).collect();
        for d in out {
            ba.push(now, d);
        }

        // Application reads.
        while a.recv(&mut got_a).is_some() {}
        while let Ok(n) = b.recv(&mut rbuf) {
            got_b.extend_from_slice(&rbuf[..n]);
        }
        assert!(
            to_ours.starts_with(&got_a),
            "our engine delivered wrong bytes"
        );
        assert!(
            to_theirs.starts_with(&got_b),
            "kcp crate received wrong bytes"
        );

        now += Duration::from_millis(1);
    }
    assert_eq!(got_a, to_ours);
    assert_eq!(got_b, to_theirs);
    Outcome {
        virtual_time: now - t0,
        ours: a.stats(),
        lost: ab.dropped + ba.dropped,
    }
}

#[test]
fn kcp_interop_fast_mode_1mb_each_way_with_5pct_loss_and_reordering() {
    let up = pattern(MB, 1);
    let down = pattern(MB, 2);
    let o = run(Mode::Fast, 42, 0.05, 15, &up, &down);
    assert!(o.lost > 0);
    assert!(
        o.ours.fast_retransmits + o.ours.timeout_retransmits > 0,
        "{:?}",
        o.ours
    );
    assert_eq!(o.ours.datagrams_dropped, 0);
    eprintln!("fast mode: {:?} virtual, ours {:?}", o.virtual_time, o.ours);
}

#[test]
fn kcp_interop_default_mode_1mb_each_way_with_5pct_loss_and_reordering() {
    let up = pattern(MB, 3);
    let down = pattern(MB, 4);
    let o = run(Mode::Default, 7, 0.05, 15, &up, &down);
    assert!(o.ours.timeout_retransmits > 0, "{:?}", o.ours);
    assert_eq!(o.ours.datagrams_dropped, 0);
    eprintln!(
        "default mode: {:?} virtual, ours {:?}",
        o.virtual_time, o.ours
    );
}

#[test]
fn kcp_interop_clean_link_needs_no_retransmission() {
    let up = pattern(200_000, 5);
    let down = pattern(200_000, 6);
    let o = run(Mode::Fast, 1, 0.0, 0, &up, &down);
    assert_eq!(o.ours.timeout_retransmits + o.ours.fast_retransmits, 0);
}

/// Message mode: fragments (`frg`) produced by one side are reassembled by
/// the other into the same messages, both directions, over a lossy link.
#[test]
fn kcp_interop_message_mode_keeps_boundaries_both_ways() {
    let sink = Sink::default();
    let mut a = ours(Mode::Fast, false);
    let mut b = theirs(Mode::Fast, false, sink.clone());
    let mut ab = Link::new(9, 0.05, 15);
    let mut ba = Link::new(10, 0.05, 15);
    let sizes = [0usize, 1, 1375, 1376, 1377, 5000, 60_000, 100, 20_000, 3];
    let msgs: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(n, 100 + i as u64))
        .collect();
    for m in &msgs {
        a.send_message(m).unwrap();
        b.send(m).unwrap();
    }
    let t0 = Instant::now();
    let mut now = t0;
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    let mut rbuf = vec![0u8; 128 * 1024];
    let mut dgram = Vec::new();
    while got_a.len() < msgs.len() || got_b.len() < msgs.len() {
        assert!(now < t0 + Duration::from_secs(600), "stalled");
        while let Some(d) = ab.pop_due(now) {
            b.input(&d).unwrap();
        }
        while let Some(d) = ba.pop_due(now) {
            a.input(now, &d).unwrap();
        }
        if a.next_timeout(now).is_some_and(|t| t <= now) {
            a.on_timeout(now);
        }
        while a.poll_transmit(now, &mut dgram) {
            ab.push(now, dgram.clone());
        }
        b.update(now.duration_since(t0).as_millis() as u32).unwrap();
        let out: Vec<Vec<u8>> = sink.0.borrow_mut().drain(..).collect();
        for d in out {
            ba.push(now, d);
        }
        let mut m = Vec::new();
        while a.recv(&mut m).is_some() {
            got_a.push(std::mem::take(&mut m));
        }
        while let Ok(n) = b.recv(&mut rbuf) {
            got_b.push(rbuf[..n].to_vec());
        }
        now += Duration::from_millis(1);
    }
    assert_eq!(got_a, msgs);
    assert_eq!(got_b, msgs);
}

/// A small sweep: several seeds and heavier loss, both presets.
#[test]
fn kcp_interop_seed_sweep_with_10pct_loss() {
    for seed in 100..104 {
        for mode in [Mode::Fast, Mode::Default] {
            let up = pattern(100_000, seed);
            let down = pattern(60_000, seed + 1000);
            let o = run(mode, seed, 0.10, 25, &up, &down);
            assert!(o.lost > 0, "{mode:?} seed {seed}");
        }
    }
}
