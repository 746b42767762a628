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

// --- the goodput table of docs/reliable.md, a checked snapshot ---

/// The snapshot file, relative to this crate.
const GOODPUT_SNAPSHOT: &str = "tests/data/reliable_goodput.txt";
/// The document whose table is generated from the snapshot.
const GOODPUT_DOC: &str = "../../docs/reliable.md";
const GOODPUT_BEGIN: &str = "<!-- goodput-table: generated from crates/strata/tests/data/reliable_goodput.txt by reliable_sim::goodput_table_matches_its_snapshot; do not edit -->";
const GOODPUT_END: &str = "<!-- goodput-table: end -->";
const GOODPUT_LOSSES: [u32; 7] = [0, 1, 2, 5, 10, 20, 30];
const GOODPUT_RTTS: [u64; 4] = [10, 40, 100, 200];
const GOODPUT_BYTES: u64 = 10_000_000;
const GOODPUT_SEED: u64 = 7;

/// One cell of the table: `GOODPUT_BYTES` one way over a 100 Mbit/s link
/// with a queue of one bandwidth-delay product (at least 30 kB), `loss` %
/// random loss both ways, `rtt_ms` round trip, the default configuration
/// (BBR) with a seeded RNG. One line: loss, RTT, bytes delivered, virtual
/// time of the last byte (ns), goodput (Mbit/s), datagrams sent each way.
fn goodput_cell(loss: u32, rtt_ms: u64) -> String {
    let bdp = (100_000_000 / 8) * rtt_ms / 1000;
    let link = LinkConfig::default()
        .delay(ms(rtt_ms / 2))
        .rate_bps(100_000_000)
        .queue_limit(bdp.max(30_000) as usize)
        .loss(Loss::Random(f64::from(loss) / 100.0));
    let cfg = ReliableConfig {
        handshake_timeout: Duration::from_secs(60),
        rng_seed: Some([GOODPUT_SEED as u8; 32]),
        ..ReliableConfig::default()
    };
    let t = reliable_support::transfer_recorded(
        GOODPUT_SEED,
        cfg,
        link,
        GOODPUT_BYTES,
        0,
        Duration::from_secs(7200),
        true,
    );
    let (done, delivered) = t
        .server
        .timeline
        .last()
        .copied()
        .unwrap_or((strata::testing::epoch(), 0));
    let ns = (done - strata::testing::epoch()).as_nanos();
    let goodput = if delivered == GOODPUT_BYTES && ns > 0 {
        format!("{:.1}", delivered as f64 * 8.0 * 1e3 / ns as f64)
    } else {
        "incomplete".to_string()
    };
    format!(
        "{loss:>3} {rtt_ms:>4} {delivered:>9} {ns:>14} {goodput:>10} {:>6} {:>6}",
        t.up.sent, t.down.sent
    )
}

/// The whole snapshot: a header and one line per cell, the cells run on
/// every core (each is its own seeded world, so the order of work does not
/// matter).
fn goodput_snapshot() -> String {
    let cells: Vec<(u32, u64)> = GOODPUT_LOSSES
        .iter()
        .flat_map(|&l| GOODPUT_RTTS.iter().map(move |&r| (l, r)))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(cells.len());
    let mut lines = vec![String::new(); cells.len()];
    std::thread::scope(|s| {
        for (k, chunk) in lines.chunks_mut(cells.len().div_ceil(threads)).enumerate() {
            let cells = &cells;
            let base = k * cells.len().div_ceil(threads);
            s.spawn(move || {
                for (i, line) in chunk.iter_mut().enumerate() {
                    let (l, r) = cells[base + i];
                    *line = goodput_cell(l, r);
                }
            });
        }
    });
    let mut out = format!(
        "# The goodput table of docs/reliable.md (reliable_sim::goodput_table_matches_its_snapshot;\n\
         # STRATA_BLESS=1 rewrites this file and the table). {GOODPUT_BYTES} bytes one way,\n\
         # 100 Mbit/s, queue of one BDP (at least 30 kB), random loss both ways, BBR,\n\
         # SimNet seed {GOODPUT_SEED}, rng_seed [{GOODPUT_SEED}; 32].\n\
         # loss% rtt_ms delivered last_byte_ns goodput_mbit datagrams_up datagrams_down\n"
    );
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// The markdown table of the docs, from a snapshot's text.
fn goodput_markdown(snapshot: &str) -> String {
    let mut cell = std::collections::HashMap::new();
    for line in snapshot.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        cell.insert((f[0].to_string(), f[1].to_string()), f[4].to_string());
    }
    let mut md = format!(
        "| loss \\ RTT | {} |\n|---|{}|\n",
        GOODPUT_RTTS.map(|r| format!("{r} ms")).join(" | "),
        GOODPUT_RTTS.map(|_| "---:").join("|")
    );
    for l in GOODPUT_LOSSES {
        md.push_str(&format!("| {l}% |"));
        for r in GOODPUT_RTTS {
            let v = cell.get(&(l.to_string(), r.to_string()));
            md.push_str(&format!(" {} |", v.map_or("?", |v| v.as_str())));
        }
        md.push('\n');
    }
    md
}

/// Issue 10, point 8: the goodput table in docs/reliable.md is a snapshot
/// this test checks. The scenarios are deterministic (seeded link, seeded
/// mapping), so the numbers are exact; any change to the engine that moves
/// them fails here until the snapshot is blessed again:
/// `STRATA_BLESS=1 cargo test -p strata --test reliable_sim goodput_table`
/// rewrites `tests/data/reliable_goodput.txt` and the table in the docs.
#[test]
fn goodput_table_matches_its_snapshot() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let snap_path = root.join(GOODPUT_SNAPSHOT);
    let doc_path = root.join(GOODPUT_DOC);
    let bless = std::env::var_os("STRATA_BLESS").is_some_and(|v| v == "1");
    let got = goodput_snapshot();
    let doc = std::fs::read_to_string(&doc_path).expect("docs/reliable.md");
    let (Some(b), Some(e)) = (doc.find(GOODPUT_BEGIN), doc.find(GOODPUT_END)) else {
        panic!("docs/reliable.md has no goodput-table markers");
    };
    let generated = format!("{GOODPUT_BEGIN}\n{}{GOODPUT_END}", goodput_markdown(&got));
    if bless {
        std::fs::write(&snap_path, &got).expect("write the snapshot");
        let doc = format!("{}{generated}{}", &doc[..b], &doc[e + GOODPUT_END.len()..]);
        std::fs::write(&doc_path, doc).expect("write docs/reliable.md");
        return;
    }
    let want = std::fs::read_to_string(&snap_path).unwrap_or_default();
    assert!(
        got == want,
        "the goodput snapshot changed (STRATA_BLESS=1 rewrites it and the docs table \
         if the change is meant):\n--- {GOODPUT_SNAPSHOT}\n{want}\n--- now\n{got}"
    );
    assert_eq!(
        &doc[b..e + GOODPUT_END.len()],
        generated,
        "docs/reliable.md's goodput table is not the snapshot's (STRATA_BLESS=1 regenerates it)"
    );
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
/// datagram on the wire, its time and its ends. Another seed gives other
/// connection ids (and another Retry token).
#[test]
fn a_seeded_transfer_repeats_byte_for_byte() {
    use strata::reliable::wire::{parse_packet, Header};
    let link = LinkConfig::default()
        .delay(ms(10))
        .loss(Loss::Random(0.05))
        .reorder(0.05, ms(3));
    let run = |rng_seed| {
        let cfg = ReliableConfig {
            rng_seed,
            ..ReliableConfig::default()
        };
        let (t, wire) =
            reliable_support::transfer_wire(11, cfg, link.clone(), 100_000, 50_000, ms(60_000));
        t.check(100_000, 50_000);
        assert!(wire.len() > 100, "{}", wire.len());
        wire
    };
    // The ids each side chose: the client's Initial (its id, and the
    // server id it made up), and the server's Retry (its id, the token).
    let ids = |wire: &[reliable_support::OnWire]| {
        let mut ids = Vec::new();
        for w in wire {
            match parse_packet(&w.data).map(|p| p.header) {
                Ok(Header::Initial { src, dst, .. }) => ids.push((src.0, dst.0, Vec::new())),
                Ok(Header::Retry { src, token, .. }) => ids.push((src.0, 0, token.to_vec())),
                _ => {}
            }
        }
        ids
    };
    let a = run(Some([1; 32]));
    assert_eq!(a, run(Some([1; 32])), "the same seed, another run");
    let b = run(Some([2; 32]));
    let (ia, ib) = (ids(&a), ids(&b));
    assert!(ia.len() >= 3, "{ia:?}");
    assert_eq!(ia.len(), ib.len());
    for (x, y) in ia.iter().zip(&ib) {
        assert_ne!(x, y, "another seed, the same ids");
    }
    // Without a seed the ids come from the OS: two runs differ.
    assert_ne!(ids(&run(None)), ids(&run(None)));
}

/// The same with many connections and a listener that shuts down while
/// they are half-open: it refuses them in a fixed order (not its hash
/// map's), so the run still repeats byte for byte.
#[test]
fn a_seeded_listener_shutdown_repeats_byte_for_byte() {
    use reliable_support::{addr, Bulk, Shared};
    use std::sync::{Arc, Mutex};
    use strata::reliable::{Reliable, ReliableListener};
    use strata::testing::{SimNet, Verdict};
    use strata::StreamFactory;
    use strata::StreamProtocol;
    let run = || {
        let cfg = ReliableConfig {
            rng_seed: Some([3; 32]),
            ..ReliableConfig::default()
        };
        let mut net = SimNet::new(5);
        net.set_tracing(false);
        let server_addr = addr("10.0.0.2:4433");
        let factory: StreamFactory = Arc::new(|| {
            Box::new(Bulk::new(200_000, 2, 1, Shared::default())) as Box<dyn StreamProtocol>
        });
        let server = net.add_node(
            server_addr,
            Box::new(ReliableListener::new(cfg.clone(), factory)),
        );
        for i in 0..6 {
            let c = Reliable::connect_to(
                server_addr,
                cfg.clone(),
                Bulk::new(50_000, 1, 2, Shared::default()),
            );
            let id = net.add_node(addr(&format!("10.0.1.{i}:5000")), Box::new(c));
            net.link_both(id, server, LinkConfig::default().delay(ms(5)));
        }
        let wire = Arc::new(Mutex::new(Vec::new()));
        let w = wire.clone();
        net.set_tamper(move |d| {
            w.lock()
                .unwrap()
                .push((d.now, d.from, d.to, d.data.clone()));
            Verdict::Pass
        });
        net.run(ms(16));
        let now = net.now();
        net.stack_mut(server).unwrap().handle_shutdown(now);
        net.run(Duration::from_secs(30));

        std::mem::take(&mut *wire.lock().unwrap())
    };
    let a = run();
    assert!(a.len() > 30, "{}", a.len());
    assert!(a == run(), "two runs of one seed differ");
}

/// The checker every transfer here relies on: the pattern it fills is the
/// one it accepts, across block boundaries, and a flipped, lost or repeated
/// byte is found at its offset.
#[test]
fn the_pattern_check_finds_a_byte_out_of_place() {
    use reliable_support::{fill, first_mismatch, pattern};
    let (seed, start) = (7, 65_000);
    let mut data = Vec::new();
    fill(seed, start, 200_000, &mut data);
    assert!(data
        .iter()
        .enumerate()
        .all(|(j, &b)| b == pattern(seed, start + j as u64)));
    assert_eq!(first_mismatch(seed, start, &data), None);
    assert_eq!(first_mismatch(seed + 1, start, &data), Some(start));

    let mut flipped = data.clone();
    flipped[150_000] ^= 1;
    assert_eq!(first_mismatch(seed, start, &flipped), Some(start + 150_000));
    let mut lost = data.clone();
    lost.remove(100_000);
    let at = first_mismatch(seed, start, &lost).expect("a lost byte shows");
    assert!(
        (start + 99_000..=start + 100_000 + 256).contains(&at),
        "{at}"
    );
    let mut repeated = data.clone();
    repeated.insert(100_000, data[100_000]);
    let at = first_mismatch(seed, start, &repeated).expect("a repeated byte shows");
    assert!(
        (start + 100_000..=start + 100_000 + 256).contains(&at),
        "{at}"
    );
}
