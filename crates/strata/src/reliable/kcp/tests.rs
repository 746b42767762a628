//! Unit tests of the KCP engine: two engines over a scripted or seeded
//! lossy in-memory link with a virtual clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const CONV: u32 = 0x1122_3344;

fn seg(cmd: Command, sn: u32, una: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    Segment {
        conv: CONV,
        cmd,
        frg: 0,
        wnd: 128,
        ts: 0,
        sn,
        una,
        data,
    }
    .encode(&mut v);
    v
}

fn drain(k: &mut Kcp) -> Vec<u8> {
    let mut out = Vec::new();
    while k.recv(&mut out).is_some() {}
    out
}

/// Link impairments for the two-engine harness.
#[derive(Clone, Copy)]
struct Link {
    loss: f64,
    dup: f64,
    delay_ms: u64,
    jitter_ms: u64,
}

/// In-flight datagrams: (deliver_at, order, to, bytes), earliest first.
type Wire = BinaryHeap<Reverse<(Instant, u64, usize, Vec<u8>)>>;

/// Runs a bidirectional transfer; returns the two engines after both
/// payloads arrived in order.
fn transfer(cfg: KcpConfig, link: Link, seed: u64, a_to_b: &[u8], b_to_a: &[u8]) -> (Kcp, Kcp) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let t0 = Instant::now();
    let mut now = t0;
    let mut peers = [
        Kcp::new(CONV, cfg.clone()).unwrap(),
        Kcp::new(CONV, cfg).unwrap(),
    ];
    let payload = [a_to_b, b_to_a];
    let mut sent = [0usize; 2];
    let mut got: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    // (deliver_at, order, to, bytes)
    let mut wire: Wire = BinaryHeap::new();
    let mut order = 0u64;
    let mut dgram = Vec::new();
    for _step in 0..2_000_000 {
        for i in 0..2 {
            sent[i] += peers[i].send(&payload[i][sent[i]..]);
        }
        while let Some(Reverse((at, _, _, _))) = wire.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, to, d))) = wire.pop() else {
                break;
            };
            peers[to].input(now, &d).unwrap();
        }
        for i in 0..2 {
            if peers[i].next_timeout(now).is_some_and(|t| t <= now) {
                peers[i].on_timeout(now);
            }
            while peers[i].poll_transmit(now, &mut dgram) {
                assert!(dgram.len() <= peers[i].config().mtu);
                let copies = if rng.gen_bool(link.loss) {
                    0
                } else if rng.gen_bool(link.dup) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let j = if link.jitter_ms > 0 {
                        rng.gen_range(0..link.jitter_ms)
                    } else {
                        0
                    };
                    let at = now + Duration::from_millis(link.delay_ms + j);
                    order += 1;
                    wire.push(Reverse((at, order, 1 - i, dgram.clone())));
                }
            }
            while peers[i].recv(&mut got[i]).is_some() {}
        }
        if got[1].len() == a_to_b.len() && got[0].len() == b_to_a.len() {
            assert_eq!(got[1], a_to_b);
            assert_eq!(got[0], b_to_a);
            let [a, b] = peers;
            return (a, b);
        }
        assert!(
            !peers[0].is_dead_link() && !peers[1].is_dead_link(),
            "dead link"
        );
        now += Duration::from_millis(1);
    }
    panic!(
        "transfer did not finish: got {} / {}",
        got[1].len(),
        got[0].len()
    );
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

const CLEAN: Link = Link {
    loss: 0.0,
    dup: 0.0,
    delay_ms: 10,
    jitter_ms: 0,
};

const LOSSY: Link = Link {
    loss: 0.1,
    dup: 0.02,
    delay_ms: 20,
    jitter_ms: 15,
};

#[test]
fn kcp_clean_link_transfers_both_ways() {
    let (a, b) = transfer(
        KcpConfig::default_mode(),
        CLEAN,
        1,
        &pattern(200_000, 1),
        &pattern(50_000, 2),
    );
    assert_eq!(a.stats().timeout_retransmits, 0);
    assert_eq!(b.stats().duplicate_segments, 0);
    assert!(a.srtt_ms() > 0);
}

#[test]
fn kcp_loss_reorder_duplicates_are_repaired_fast_mode() {
    let (a, b) = transfer(
        KcpConfig::fast_mode(),
        LOSSY,
        7,
        &pattern(300_000, 3),
        &pattern(100_000, 4),
    );
    let s = a.stats();
    assert!(s.timeout_retransmits + s.fast_retransmits > 0, "{s:?}");
    assert!(s.fast_retransmits > 0, "{s:?}");
    assert!(b.stats().duplicate_segments > 0);
}

#[test]
fn kcp_loss_is_repaired_in_default_mode_with_congestion_control() {
    let (a, _b) = transfer(
        KcpConfig::default_mode(),
        LOSSY,
        11,
        &pattern(100_000, 5),
        &pattern(20_000, 6),
    );
    assert!(a.stats().timeout_retransmits > 0);
    assert!(a.cwnd() >= 1);
}

#[test]
fn kcp_message_mode_keeps_boundaries_and_reassembles_fragments() {
    let cfg = KcpConfig {
        stream: false,
        ack_nodelay: true,
        ..KcpConfig::fast_mode()
    };
    let mut a = Kcp::new(CONV, cfg.clone()).unwrap();
    let mut b = Kcp::new(CONV, cfg).unwrap();
    let msgs = [
        pattern(5000, 1),
        Vec::new(),
        pattern(1, 2),
        pattern(1376 * 3, 3),
    ];
    for m in &msgs {
        a.send_message(m).unwrap();
    }
    assert_eq!(a.send_message(b"x"), Ok(()));
    assert_eq!(
        a.send_message(&vec![0; 1376 * 128]),
        Err(KcpError::MessageTooLarge { len: 1376 * 128 })
    );
    let mut now = Instant::now();
    let mut d = Vec::new();
    let mut datagrams = Vec::new();
    a.on_timeout(now);
    while a.poll_transmit(now, &mut d) {
        datagrams.push(d.clone());
    }
    // Deliver in reverse order: reassembly must still be exact.
    for dg in datagrams.iter().rev() {
        b.input(now, dg).unwrap();
    }
    let mut got = Vec::new();
    for m in msgs.iter().chain([&b"x".to_vec()]) {
        got.clear();
        assert_eq!(b.recv(&mut got), Some(m.len()));
        assert_eq!(&got, m);
    }
    assert_eq!(b.recv(&mut got), None);
    now += Duration::from_millis(10);
    while b.poll_transmit(now, &mut d) {
        a.input(now, &d).unwrap();
    }
    assert_eq!(a.buffered(), 0);
    assert_eq!(a.next_timeout(now), None);
}

#[test]
fn kcp_reordered_and_duplicate_segments_deliver_once_in_order() {
    let mut k = Kcp::new(CONV, KcpConfig::default()).unwrap();
    let now = Instant::now();
    k.input(now, &seg(Command::Push, 2, 0, b"cc")).unwrap();
    k.input(now, &seg(Command::Push, 1, 0, b"bb")).unwrap();
    assert_eq!(k.recv(&mut Vec::new()), None);
    let mut both = seg(Command::Push, 0, 0, b"aa");
    both.extend(seg(Command::Push, 1, 0, b"bb"));
    k.input(now, &both).unwrap();
    k.input(now, &seg(Command::Push, 0, 0, b"aa")).unwrap();
    assert_eq!(drain(&mut k), b"aabbcc");
    assert_eq!(k.stats().duplicate_segments, 2);
    // Every PUSH is acked, duplicates included (the ack may have been lost).
    k.on_timeout(now);
    let mut d = Vec::new();
    assert!(k.poll_transmit(now, &mut d));
    let acks: Vec<u32> = segments(&d).map(|s| s.unwrap().sn).collect();
    assert_eq!(acks, [2, 1, 0, 1, 0]);
    assert!(segments(&d).all(|s| s.unwrap().una == 3));
}

#[test]
fn kcp_malformed_datagrams_are_dropped_whole_and_counted() {
    let mut k = Kcp::new(CONV, KcpConfig::default()).unwrap();
    let now = Instant::now();
    let good = seg(Command::Push, 0, 0, b"hello");
    for cut in 0..good.len() {
        let mut d = good.clone();
        d.extend_from_slice(&good[..cut]);
        if cut == 0 {
            continue;
        }
        assert!(k.input(now, &d).is_err(), "cut {cut}");
    }
    assert!(matches!(
        k.input(now, &[]),
        Err(KcpError::Truncated { len: 0 })
    ));
    let mut other = good.clone();
    other[0] ^= 1;
    assert!(matches!(
        k.input(now, &other),
        Err(KcpError::ConvMismatch { .. })
    ));
    // Nothing from a rejected datagram was applied, not even its good prefix.
    assert_eq!(k.recv(&mut Vec::new()), None);
    assert_eq!(k.stats().datagrams_dropped, good.len() as u64 + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..5000 {
        let n = rng.gen_range(0..300);
        let mut g: Vec<u8> = (0..n).map(|_| rng.r#gen()).collect();
        if g.len() >= 4 && rng.gen_bool(0.5) {
            g[..4].copy_from_slice(&CONV.to_le_bytes());
        }
        let _ = k.input(now, &g);
        let _ = k.poll_transmit(now, &mut Vec::new());
    }
    k.input(now, &good).unwrap();
}

#[test]
fn kcp_receive_side_is_bounded_by_the_window() {
    let mut k = Kcp::new(CONV, KcpConfig::default()).unwrap();
    let now = Instant::now();
    // Out of window: dropped, not acked.
    k.input(now, &seg(Command::Push, 128, 0, b"x")).unwrap();
    k.input(now, &seg(Command::Push, 1 << 31, 0, b"x")).unwrap();
    assert_eq!(k.stats().segments_dropped, 2);
    // Already delivered (behind rcv_nxt): acked again, counted as duplicate.
    k.input(now, &seg(Command::Push, u32::MAX, 0, b"x"))
        .unwrap();
    assert_eq!(k.stats().duplicate_segments, 1);
    assert_eq!(k.acklist.len(), 1);
    k.acklist.clear();
    // Oversized payload: dropped.
    k.input(now, &seg(Command::Push, 0, 0, &vec![0; 2000]))
        .unwrap();
    assert_eq!(k.stats().segments_dropped, 3);
    // An application that never reads: the ready queue stops at rcv_wnd and
    // the advertised window reaches zero.
    for sn in 0..400u32 {
        let _ = k.input(now, &seg(Command::Push, sn, 0, b"y"));
    }
    assert_eq!(k.rcv_queue.len(), 128);
    assert!(k.rcv_buf.len() <= 128);
    assert!(k.acklist.len() <= 256);
    assert_eq!(k.wnd_unused(), 0);
    assert!(k.stats().acks_dropped == 0 || k.acklist.len() == 256);
    assert_eq!(k.rcv_buf.len(), 128);
    assert_eq!(k.stats().segments_dropped, 3 + 400 - 256);
    // Reading reopens the window and announces it (WINS): the 128 ready
    // segments, then the 128 that were waiting in reassembly.
    assert_eq!(drain(&mut k).len(), 256);
    k.on_timeout(now);
    let mut all = Vec::new();
    let mut d = Vec::new();
    while k.poll_transmit(now, &mut d) {
        all.extend(segments(&d).map(|s| s.unwrap().cmd));
    }
    assert!(all.contains(&Command::WindowTell));
}

#[test]
fn kcp_zero_window_peer_is_probed_and_sender_resumes() {
    let mut k = Kcp::new(CONV, KcpConfig::default()).unwrap();
    let t0 = Instant::now();
    k.input(t0, &{
        let mut v = Vec::new();
        Segment {
            conv: CONV,
            cmd: Command::WindowTell,
            frg: 0,
            wnd: 0,
            ts: 0,
            sn: 0,
            una: 0,
            data: &[],
        }
        .encode(&mut v);
        v
    })
    .unwrap();
    assert_eq!(k.remote_window(), 0);
    assert_eq!(k.send(b"data"), 4);
    let mut d = Vec::new();
    let mut cmds = Vec::new();
    let mut now = t0;
    while now < t0 + Duration::from_secs(20) {
        if let Some(t) = k.next_timeout(now) {
            now = t.max(now);
        }
        k.on_timeout(now);
        while k.poll_transmit(now, &mut d) {
            cmds.extend(segments(&d).map(|s| s.unwrap().cmd));
        }
        now += Duration::from_millis(1);
    }
    assert!(cmds.contains(&Command::WindowAsk));
    assert!(!cmds.contains(&Command::Push), "sent into a zero window");
    k.input(now, &seg(Command::WindowTell, 0, 0, b"")).unwrap();
    k.on_timeout(now + Duration::from_millis(100));
    assert!(k.poll_transmit(now, &mut d));
    assert!(segments(&d).any(|s| s.unwrap().cmd == Command::Push));
}

#[test]
fn kcp_send_buffer_bounds_memory_and_acks_release_it() {
    let cfg = KcpConfig {
        send_buffer: 10_000,
        ..KcpConfig::fast_mode()
    };
    let mut a = Kcp::new(CONV, cfg).unwrap();
    assert_eq!(a.send(&[1; 30_000]), 10_000);
    assert!(!a.writable());
    assert_eq!(a.send(b"more"), 0);
    assert_eq!(a.buffered(), 10_000);
    let now = Instant::now();
    a.on_timeout(now);
    let mut d = Vec::new();
    let mut sns = Vec::new();
    while a.poll_transmit(now, &mut d) {
        sns.extend(segments(&d).map(|s| s.unwrap().sn));
    }
    assert_eq!(sns.len(), 10_000usize.div_ceil(1376));
    // Cumulative una for the first three, a selective ack for the last one.
    let mut acks = seg(Command::Ack, 3, 3, b"");
    acks.extend(seg(Command::Ack, *sns.last().unwrap(), 3, b""));
    a.input(now, &acks).unwrap();
    assert_eq!(a.buffered(), 10_000 - 4 * 1376 - (10_000 - 7 * 1376));
    assert!(a.writable());
}

#[test]
fn kcp_una_beyond_what_was_sent_is_ignored() {
    let mut a = Kcp::new(CONV, KcpConfig::fast_mode()).unwrap();
    a.send(b"abc");
    let now = Instant::now();
    a.on_timeout(now);
    assert!(a.poll_transmit(now, &mut Vec::new()));
    a.input(now, &seg(Command::Ack, 0, 1000, b"")).unwrap();
    assert_eq!(a.buffered(), 3);
    assert_eq!(a.stats().segments_dropped, 1);
}

#[test]
fn kcp_unacked_segment_is_retransmitted_with_backoff_then_dead_link() {
    let cfg = KcpConfig {
        dead_link: 5,
        ..KcpConfig::default_mode()
    };
    let mut a = Kcp::new(CONV, cfg).unwrap();
    a.send(b"lost forever");
    let t0 = Instant::now();
    let mut now = t0;
    let mut sends = Vec::new();
    let mut d = Vec::new();
    while !a.is_dead_link() && now < t0 + Duration::from_secs(120) {
        let t = a.next_timeout(now).expect("data in flight keeps a timer");
        now = t.max(now);
        a.on_timeout(now);
        while a.poll_transmit(now, &mut d) {
            sends.push(now.duration_since(t0).as_millis() as u64);
        }
        now += Duration::from_millis(1);
    }
    assert!(a.is_dead_link());
    assert_eq!(sends.len(), 5);
    let gaps: Vec<u64> = sends.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] > g[0]),
        "no back-off: {gaps:?}"
    );
    assert_eq!(a.stats().timeout_retransmits, 4);
}

#[test]
fn kcp_is_idle_without_work_and_wakes_on_send() {
    let mut a = Kcp::new(CONV, KcpConfig::default()).unwrap();
    let now = Instant::now();
    assert_eq!(a.next_timeout(now), None);
    a.on_timeout(now);
    assert!(!a.poll_transmit(now, &mut Vec::new()));
    assert_eq!(a.next_timeout(now), None);
    let later = now + Duration::from_secs(60);
    a.send(b"x");
    assert_eq!(a.next_timeout(later), Some(later));
    a.on_timeout(later);
    assert!(a.poll_transmit(later, &mut Vec::new()));
}

#[test]
fn kcp_config_is_validated() {
    let bad = [
        KcpConfig {
            mtu: 49,
            ..KcpConfig::default()
        },
        KcpConfig {
            mtu: 70_000,
            ..KcpConfig::default()
        },
        KcpConfig {
            rcv_wnd: 64,
            ..KcpConfig::default()
        },
        KcpConfig {
            snd_wnd: 0,
            ..KcpConfig::default()
        },
        KcpConfig {
            interval: Duration::from_millis(1),
            ..KcpConfig::default()
        },
        KcpConfig {
            send_buffer: 10,
            ..KcpConfig::default()
        },
        KcpConfig {
            dead_link: 0,
            ..KcpConfig::default()
        },
    ];
    for c in bad {
        assert!(matches!(Kcp::new(1, c), Err(KcpError::Config(_))));
    }
    let k = Kcp::new(
        1,
        KcpConfig {
            mtu: 1200,
            ..KcpConfig::default()
        },
    )
    .unwrap();
    assert_eq!(k.mss(), 1176);
}

#[test]
fn kcp_survives_the_u32_millisecond_clock_wrap_and_long_idle() {
    let cfg = KcpConfig::fast_mode();
    let mut a = Kcp::new(CONV, cfg.clone()).unwrap();
    let mut b = Kcp::new(CONV, cfg).unwrap();
    let t0 = Instant::now();
    let mut d = Vec::new();
    // Exchange once so both clocks have their epoch, then idle until 300 ms
    // before ikcp's u32 clock wraps (49.7 days) and transfer across the wrap.
    let mut step = |a: &mut Kcp, b: &mut Kcp, now: Instant, got: &mut Vec<u8>| {
        for k in [&mut *a, &mut *b] {
            if k.next_timeout(now).is_some_and(|t| t <= now) {
                k.on_timeout(now);
            }
        }
        while a.poll_transmit(now, &mut d) {
            b.input(now, &d).unwrap();
        }
        while b.poll_transmit(now, &mut d) {
            a.input(now, &d).unwrap();
        }
        while b.recv(got).is_some() {}
    };
    let mut got = Vec::new();
    a.send(b"hi");
    for ms in 0..50 {
        step(&mut a, &mut b, t0 + Duration::from_millis(ms), &mut got);
    }
    assert_eq!(got, b"hi");
    assert_eq!(a.next_timeout(t0), None);
    let data = pattern(200_000, 9);
    let mut sent = 0;
    let start = (1u64 << 32) - 300;
    let mut ms = start;
    got.clear();
    while got.len() < data.len() {
        assert!(ms < start + 10_000, "stalled across the clock wrap");
        sent += a.send(&data[sent..]);
        step(&mut a, &mut b, t0 + Duration::from_millis(ms), &mut got);
        ms += 1;
    }
    assert_eq!(got, data);
    assert!(a.current < 10_000, "clock did not wrap: {}", a.current);
    // A late (earlier) instant is treated as the latest one seen.
    let before = a.current;
    a.on_timeout(t0);
    assert_eq!(a.current, before);
}

#[test]
fn kcp_hostile_well_formed_segments_keep_memory_bounded() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    for stream in [true, false] {
        let cfg = KcpConfig {
            stream,
            send_buffer: 64 * 1024,
            ..KcpConfig::fast_mode()
        };
        let mut k = Kcp::new(CONV, cfg).unwrap();
        let t0 = Instant::now();
        let mut d = Vec::new();
        for i in 0..20_000u64 {
            let now = t0 + Duration::from_millis(i);
            let _ = k.send(&[7; 3000]);
            let mut dg = Vec::new();
            for _ in 0..rng.gen_range(1..5) {
                let cmd = [
                    Command::Push,
                    Command::Ack,
                    Command::WindowAsk,
                    Command::WindowTell,
                ][rng.gen_range(0..4)];
                let near = |rng: &mut ChaCha8Rng, base: u32| {
                    if rng.gen_bool(0.5) {
                        base.wrapping_add(rng.gen_range(0..300)).wrapping_sub(100)
                    } else {
                        rng.r#gen()
                    }
                };
                let len = rng.gen_range(0..1500);
                let data = vec![1u8; len];
                Segment {
                    conv: CONV,
                    cmd,
                    frg: rng.r#gen(),
                    wnd: rng.r#gen(),
                    ts: near(&mut rng, k.current),
                    sn: near(&mut rng, k.rcv_nxt),
                    una: near(&mut rng, k.snd_una),
                    data: &data,
                }
                .encode(&mut dg);
            }
            k.input(now, &dg).unwrap();
            if k.next_timeout(now).is_some_and(|t| t <= now) {
                k.on_timeout(now);
            }
            while k.poll_transmit(now, &mut d) {
                assert!(d.len() <= 1400);
            }
            if rng.gen_bool(0.3) {
                let _ = k.recv(&mut Vec::new());
            }
            assert!(k.rcv_queue.len() <= 128 && k.rcv_buf.len() <= 128);
            assert!(k.acklist.len() <= 256);
            assert!(k.buffered() <= 64 * 1024);
            assert!(k.snd_buf.len() <= 128);
        }
        assert!(k.stats().segments_dropped > 0);
    }
}
