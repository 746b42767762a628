//! Byte-exact delivery of QUIC streams over a lossy simulated network
//! (issue 11, point 5): random and bursty loss, reordering, duplication,
//! across 2,000 seeds in the plain `cargo test`; `QUIC_SWEEP_SEEDS=N` runs
//! a longer sweep (`seed_sweep_long`, ignored by default).

mod quic_support;

use std::time::Duration;

use quic_support::*;
use rand::{Rng, SeedableRng};
use strata::quic::QuicConfig;
use strata::testing::{LinkConfig, Loss};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The link and the sizes of seed `seed`: loss of 0-20 %, random or in
/// bursts (Gilbert-Elliott), up to 5 % duplication and 10 % reordering,
/// 20-60 KB each way.
fn scenario(seed: u64) -> (LinkConfig, u64, u64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let loss = if rng.gen_bool(0.5) {
        Loss::Random(rng.gen_range(0.0..0.20))
    } else {
        Loss::GilbertElliott {
            p_good_to_bad: rng.gen_range(0.005..0.05),
            p_bad_to_good: rng.gen_range(0.2..0.6),
            loss_good: rng.gen_range(0.0..0.02),
            loss_bad: rng.gen_range(0.5..1.0),
        }
    };
    let link = LinkConfig::default()
        .delay(ms(rng.gen_range(1..20)))
        .loss(loss)
        .duplicate(rng.gen_range(0.0..0.05))
        .reorder(rng.gen_range(0.0..0.1), ms(rng.gen_range(1..10)));
    let up = rng.gen_range(20_000..60_000);
    let down = rng.gen_range(20_000..60_000);
    (link, up, down)
}

/// What the links did over a sweep: each impairment happened.
#[derive(Default)]
struct Tally {
    lost_random: u64,
    lost_burst: u64,
    duplicated: u64,
    reordered: u64,
    wedged: u64,
}

/// The one way a seed may end without delivery: the client's Finished
/// (its last handshake flight) was lost twice, the client took the
/// handshake for done, and quinn-proto 0.11.19 probes no more; the server
/// ends at its handshake timeout and the client hears the close. No byte
/// was delivered wrong, nothing hangs: both ends get a typed reason. The
/// same wedge is known in other stacks (a client's lost Finished); it is
/// quinn-proto's to fix, and bounded here at 0.1 % of seeds.
fn wedged(t: &Transfer) -> bool {
    !t.server.connected
        && t.server.received == 0
        && t.client.received == 0
        && t.client
            .lost
            .as_deref()
            .is_some_and(|l| l.contains("transport error 0xc"))
}

fn sweep_one(seed: u64) -> Tally {
    let (link, up, down) = scenario(seed);
    let cfg = |s| QuicConfig {
        // Heavy loss both ways: room for many handshake attempts.
        handshake_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..config(s)
    };
    let t = transfer_with(seed, link, up, down, Duration::from_secs(300), cfg);
    if wedged(&t) {
        return Tally {
            wedged: 1,
            ..Tally::default()
        };
    }
    t.check(up, down);
    let mut tally = Tally::default();
    for l in [t.up, t.down] {
        tally.lost_random += l.lost_random;
        tally.lost_burst += l.lost_burst;
        tally.duplicated += l.duplicated;
        tally.reordered += l.reordered;
    }
    tally
}

/// Runs `seeds`, listing every failing seed at the end.
fn sweep(seeds: std::ops::Range<u64>) {
    let n = seeds.end - seeds.start;
    let mut failed = Vec::new();
    let mut wedged = Vec::new();
    let mut all = Tally::default();
    for s in seeds {
        match std::panic::catch_unwind(|| sweep_one(s)) {
            Ok(t) if t.wedged > 0 => wedged.push(s),
            Ok(t) => {
                all.lost_random += t.lost_random;
                all.lost_burst += t.lost_burst;
                all.duplicated += t.duplicated;
                all.reordered += t.reordered;
            }
            Err(_) => {
                eprintln!("seed {s} failed: {:?}", scenario(s));
                failed.push(s);
            }
        }
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    println!(
        "{} of {n} seeds wedged in the handshake: {wedged:?}",
        wedged.len()
    );
    assert!(wedged.len() as u64 * 1000 <= n, "wedged: {wedged:?}");
    assert!(
        all.lost_random > 0 && all.lost_burst > 0 && all.duplicated > 0 && all.reordered > 0,
        "the links did not impair the sweep"
    );
}

/// The failing seeds of a first 10,000-seed sweep: 5642 and 11002 wedged in
/// the handshake (see [`wedged`]) and must still end, typed, within the
/// limit; 5413 and 11757 stalled mid-transfer while MTU discovery went up
/// to the link's 1500 bytes, and deliver since it stops at 1452.
#[test]
fn handshake_wedges_end_typed() {
    for seed in [5413, 5642, 11002, 11757] {
        let (link, up, down) = scenario(seed);
        let cfg = |s| QuicConfig {
            handshake_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            ..config(s)
        };
        let t = transfer_with(seed, link, up, down, Duration::from_secs(300), cfg);
        let delivered = t.server.received == up && t.client.received == down;
        assert!(delivered || wedged(&t), "seed {seed}: {t:#?}");
        assert!(t.client.lost.is_some(), "seed {seed}: {t:#?}");
    }
}

// 2,000 seeds in CI, as two tests so that both cores run them.
#[test]
fn seed_sweep_2000_first_half() {
    sweep(0..1000);
}

#[test]
fn seed_sweep_2000_second_half() {
    sweep(1000..2000);
}

#[test]
#[ignore = "long sweep: QUIC_SWEEP_SEEDS=N (default 20,000), from QUIC_SWEEP_FROM"]
fn seed_sweep_long() {
    let env = |k: &str, d: u64| -> u64 {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let from = env("QUIC_SWEEP_FROM", 2000);
    sweep(from..from + env("QUIC_SWEEP_SEEDS", 20_000));
}
