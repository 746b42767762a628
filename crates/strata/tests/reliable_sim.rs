//! The reliable mapping end to end over the simulated network: handshake
//! with Retry, both directions with half-close, loss, duplication,
//! reordering, jitter, rate limits and MTU; and a seed sweep.

mod reliable_support;

use std::time::Duration;

use reliable_support::transfer;
use strata::reliable::ReliableConfig;
use strata::testing::{LinkConfig, Loss};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_clean_link_moves_both_directions_and_closes_cleanly() {
    let link = LinkConfig::default().delay(ms(10));
    let t = transfer(
        1,
        ReliableConfig::default(),
        link,
        300_000,
        200_000,
        Duration::from_secs(30),
    );
    t.check(300_000, 200_000);
}

#[test]
fn ten_percent_loss_with_duplication_and_reordering() {
    let link = LinkConfig::default()
        .delay(ms(20))
        .loss(Loss::Random(0.10))
        .duplicate(0.05)
        .reorder(0.10, ms(15));
    let t = transfer(
        2,
        ReliableConfig::default(),
        link,
        500_000,
        500_000,
        Duration::from_secs(120),
    );
    t.check(500_000, 500_000);
}

#[test]
fn thirty_percent_loss_still_delivers_everything() {
    let link = LinkConfig::default().delay(ms(15)).loss(Loss::Random(0.30));
    let t = transfer(
        3,
        ReliableConfig::default(),
        link,
        200_000,
        100_000,
        Duration::from_secs(300),
    );
    t.check(200_000, 100_000);
}

#[test]
fn jitter_a_rate_limit_a_short_queue_and_a_small_mtu() {
    let link = LinkConfig::default()
        .delay(ms(30))
        .jitter(ms(10))
        .rate_bps(8_000_000)
        .queue_limit(30_000)
        .mtu(1200);
    let t = transfer(
        4,
        ReliableConfig::default(),
        link,
        1_000_000,
        300_000,
        Duration::from_secs(120),
    );
    t.check(1_000_000, 300_000);
}

#[test]
fn bursty_loss() {
    let link = LinkConfig::default()
        .delay(ms(20))
        .loss(Loss::GilbertElliott {
            p_good_to_bad: 0.02,
            p_bad_to_good: 0.3,
            loss_good: 0.0,
            loss_bad: 1.0,
        });
    let t = transfer(
        5,
        ReliableConfig::default(),
        link,
        400_000,
        400_000,
        Duration::from_secs(120),
    );
    t.check(400_000, 400_000);
}

#[test]
fn every_congestion_controller_delivers_under_loss() {
    use strata::reliable::cc::CcAlgorithm;
    for cc in [CcAlgorithm::NewReno, CcAlgorithm::Cubic, CcAlgorithm::Bbr] {
        let cfg = ReliableConfig {
            cc,
            ..ReliableConfig::default()
        };
        let link = LinkConfig::default()
            .delay(ms(20))
            .loss(Loss::Random(0.05))
            .reorder(0.05, ms(5));
        let t = transfer(6, cfg, link, 300_000, 300_000, Duration::from_secs(120));
        t.check(300_000, 300_000);
    }
}

/// Seed `seed` of the sweep: 256 KB each way at a random loss of 0-30%,
/// with reordering and duplication.
fn sweep_one(seed: u64) -> bool {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let loss = rng.gen_range(0.0..0.30);
    let link = LinkConfig::default()
        .delay(ms(rng.gen_range(1..20)))
        .loss(Loss::Random(loss))
        .duplicate(rng.gen_range(0.0..0.05))
        .reorder(rng.gen_range(0.0..0.1), ms(rng.gen_range(1..10)));
    // Up to 30 % loss each way: give the handshake time for many attempts.
    let cfg = ReliableConfig {
        handshake_timeout: Duration::from_secs(60),
        ..ReliableConfig::default()
    };
    let t = transfer(
        seed,
        cfg,
        link.clone(),
        256 * 1024,
        256 * 1024,
        Duration::from_secs(600),
    );
    if !t.client.connected {
        println!("seed {seed}: loss {loss:.3}: {link:?}");
    }
    t.check_delivery(256 * 1024, 256 * 1024)
}

/// Runs `seeds`; every byte must arrive; at most 1 % may end in the
/// last-ACK race (one side idles out after everything was delivered).
/// A failing seed does not stop the sweep: every failing seed is listed at
/// the end, so one run of a long sweep finds them all.
fn sweep(seeds: std::ops::Range<u64>) {
    let n = seeds.end - seeds.start;
    let mut raced = Vec::new();
    let mut failed = Vec::new();
    for s in seeds {
        match std::panic::catch_unwind(|| sweep_one(s)) {
            Ok(true) => raced.push(s),
            Ok(false) => {}
            Err(_) => {
                eprintln!("seed {s} failed");
                failed.push(s);
            }
        }
    }
    println!(
        "{} of {n} seeds ended in the last-ACK race: {raced:?}",
        raced.len()
    );
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    assert!(raced.len() as u64 * 100 <= n, "{raced:?}");
}

/// Seeds the 100,000-seed sweep once failed, kept as regression tests.
#[test]
fn sweep_regressions() {
    // 56432: a keepalive PING written after a STREAM frame (which runs to
    // the end of the packet) became a byte of the stream at offset 2318.
    sweep(56432..56433);
    // 46850, 92766, 98269: at 26-30 % loss the handshake took over 10 s,
    // the Retry token's lifetime, and the listener refused the client.
    // 50290, 59099: at 25-30 % loss eight probe timeouts in a row went
    // unanswered on a live path (59099: 17 s without a packet from the
    // client); the dead-peer rule also needs 2/3 of the idle timeout of
    // silence.
    // 30599, 62571, 80612: with probes backed off to 7.5 s apart, 20 s of
    // silence held only about three probe rounds; a suspected peer is now
    // probed at least every second.
    for seed in [46850, 92766, 98269, 50290, 59099, 30599, 62571, 80612] {
        sweep(seed..seed + 1);
    }
}

// 12,000 seeds in CI, as two tests so that both cores run them: about a
// minute in a debug `cargo test` on two cores (the whole file: 83 s of CPU,
// 106 s of wall time with other work on the machine). The full 100,000 are
// `seed_sweep_100k`.
#[test]
fn seed_sweep_12000_first_half() {
    sweep(0..6000);
}

#[test]
fn seed_sweep_12000_second_half() {
    sweep(6000..12_000);
}

#[test]
#[ignore = "100,000 seeds: run with --ignored (about 8 min of CPU in release; seed_sweep_probe with SEED_FROM/SEED_TO runs a slice)"]
fn seed_sweep_100k() {
    sweep(0..100_000);
}

#[test]
#[ignore = "profiling aid: 20 seeds"]
fn seed_sweep_probe() {
    let env = |k: &str, d: u64| -> u64 {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    sweep(env("SEED_FROM", 0)..env("SEED_TO", 20));
}

#[test]
#[ignore = "diagnostic: goodput timeline of a 50 MB transfer on 100 Mbit/s, 40 ms"]
fn goodput_timeline() {
    let env = |k: &str, d: f64| -> f64 {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (loss, rtt, bytes) = (
        env("LOSS", 0.0),
        env("RTT", 40.0) as u64,
        env("BYTES", 50e6) as u64,
    );
    let link = LinkConfig::default()
        .delay(ms(rtt / 2))
        .rate_bps(100_000_000)
        .queue_limit((12_500 * rtt) as usize)
        .loss(Loss::Random(loss));
    let t = reliable_support::transfer_recorded(
        1,
        ReliableConfig::default(),
        link,
        bytes,
        0,
        Duration::from_secs(6000),
        true,
    );
    let tl = &t.server.timeline;
    let t0 = tl[0].0;
    let mut last = (0u128, 0u64);
    for &(at, bytes) in tl {
        let ms = (at - t0).as_millis();
        if ms >= last.0 + 200 {
            println!(
                "{:>6} ms {:>7.2} Mbit/s",
                ms,
                (bytes - last.1) as f64 * 8.0 / ((ms - last.0) as f64 * 1000.0)
            );
            last = (ms, bytes);
        }
    }
    println!(
        "total {:?} for {} bytes",
        tl.last().unwrap().0 - t0,
        tl.last().unwrap().1
    );
}

/// The goodput table of docs/reliable.md: 10 MB one way over a 100 Mbit/s
/// link with a queue of one bandwidth-delay product, against random loss
/// (both ways) and round-trip time, with the default configuration (BBR).
/// Run with `cargo test --release -p strata --test reliable_sim goodput_table
/// -- --ignored --nocapture`.
#[test]
#[ignore = "produces the goodput table of docs/reliable.md (about a minute in release)"]
fn goodput_table() {
    let losses = [0.0, 0.01, 0.02, 0.05, 0.10, 0.20, 0.30];
    let rtts = [10u64, 40, 100, 200];
    let bytes = 10_000_000u64;
    println!(
        "| loss \\ RTT | {} |",
        rtts.map(|r| format!("{r} ms")).join(" | ")
    );
    println!("|---|{}|", rtts.map(|_| "---:").join("|"));
    for loss in losses {
        let mut row = format!("| {:.0}% |", loss * 100.0);
        for rtt in rtts {
            let bdp = (100_000_000 / 8) * rtt / 1000;
            let link = LinkConfig::default()
                .delay(ms(rtt / 2))
                .rate_bps(100_000_000)
                .queue_limit(bdp.max(30_000) as usize)
                .loss(Loss::Random(loss));
            let cfg = ReliableConfig {
                handshake_timeout: Duration::from_secs(60),
                ..ReliableConfig::default()
            };
            let t = reliable_support::transfer_recorded(
                7,
                cfg,
                link,
                bytes,
                0,
                Duration::from_secs(7200),
                true,
            );
            let done = t.server.timeline.last().map(|&(at, n)| (at, n));
            let start = strata::testing::epoch();
            match done {
                Some((at, n)) if n == bytes => {
                    let secs = (at - start).as_secs_f64();
                    row.push_str(&format!(" {:.1} |", bytes as f64 * 8.0 / secs / 1e6));
                }
                _ => row.push_str(" incomplete |"),
            }
        }
        println!("{row}");
    }
}

#[test]
fn every_configured_mtu_up_to_the_link_mtu_delivers() {
    for mtu in [1200, 1350, 1472] {
        let cfg = ReliableConfig {
            mtu,
            ..ReliableConfig::default()
        };
        let link = LinkConfig::default()
            .delay(ms(10))
            .mtu(1472)
            .loss(Loss::Random(0.02))
            .reorder(0.05, ms(3));
        let t = transfer(8, cfg, link, 400_000, 400_000, Duration::from_secs(120));
        t.check(400_000, 400_000);
    }
}

/// Issue 10, point 8: with a seed for the mapping's randomness (connection
/// ids, the Retry key), a simulated run repeats byte for byte: every
/// datagram on the wire, its time and its fate.
#[test]
fn a_seeded_transfer_repeats_byte_for_byte() {
    let link = LinkConfig::default()
        .delay(ms(10))
        .loss(Loss::Random(0.05))
        .reorder(0.05, ms(3));
    let run = |rng_seed| {
        let cfg = ReliableConfig {
            rng_seed,
            ..ReliableConfig::default()
        };
        let (t, digest) =
            reliable_support::transfer_digest(11, cfg, link.clone(), 100_000, 50_000, ms(60_000));
        t.check(100_000, 50_000);
        digest
    };
    assert_eq!(run(Some([1; 32])), run(Some([1; 32])));
    assert_ne!(run(Some([1; 32])), run(Some([2; 32])));
}
