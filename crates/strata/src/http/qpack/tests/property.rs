//! A seeded property test over random connections: decoded == encoded.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// Random fields: repeated names and values (so the table pays), sensitive
/// ones, empty, binary and long values.
pub(in crate::http::qpack) fn random_fields(rng: &mut ChaCha8Rng) -> Vec<HeaderField> {
    const NAMES: &[&str] = &[
        ":method",
        ":path",
        ":authority",
        ":scheme",
        ":status",
        "user-agent",
        "accept",
        "cookie",
        "set-cookie",
        "authorization",
        "content-type",
        "content-length",
        "date",
        "x-custom",
        "x-trace",
        "cache-control",
    ];
    const VALUES: &[&str] = &[
        "",
        "GET",
        "POST",
        "/",
        "/index.html",
        "example.com",
        "https",
        "200",
        "*/*",
        "text/plain",
        "max-age=0",
        "a-value-that-repeats",
        "id=0123456789abcdef01234",
    ];
    let n = rng.gen_range(0..12);
    (0..n)
        .map(|_| {
            let name: Vec<u8> = if rng.gen_bool(0.1) {
                (0..rng.gen_range(1..20))
                    .map(|_| rng.gen_range(b'a'..=b'z'))
                    .collect()
            } else {
                NAMES[rng.gen_range(0..NAMES.len())].as_bytes().to_vec()
            };
            let value: Vec<u8> = match rng.gen_range(0..20) {
                0..=11 => VALUES[rng.gen_range(0..VALUES.len())].as_bytes().to_vec(),
                12..=16 => format!("v{}", rng.gen_range(0..40)).into_bytes(),
                17 => (0..rng.gen_range(0..40)).map(|_| rng.r#gen()).collect(),
                18 => vec![b'L'; rng.gen_range(50..3000)],
                _ => (0..rng.gen_range(0..60))
                    .map(|_| rng.gen_range(b' '..=b'~'))
                    .collect(),
            };
            HeaderField::new(name, value)
        })
        .collect()
}

/// Takes a random-length prefix of `pipe` (all of it when `all`).
fn take(rng: &mut ChaCha8Rng, pipe: &mut Vec<u8>, all: bool) -> Vec<u8> {
    let n = if all || pipe.is_empty() {
        pipe.len()
    } else {
        rng.gen_range(0..=pipe.len())
    };
    pipe.drain(..n).collect()
}

/// One random connection: sections encoded in order, the encoder and
/// decoder streams delivered in random pieces at random times, sections
/// decoded in random order (blocked ones retried when reported), some
/// streams cancelled. Every decoded section equals what was encoded, the
/// tables end equal, and every reference is released.
fn random_connection(seed: u64) {
    let rng = &mut ChaCha8Rng::seed_from_u64(seed);
    const CAPS: &[usize] = &[0, 31, 64, 100, 220, 1000, 4096, 65536];
    let enc_cap = CAPS[rng.gen_range(0..CAPS.len())];
    let dec_cap = CAPS[rng.gen_range(0..CAPS.len())];
    let blocked = [0, 1, 2, 16, 100][rng.gen_range(0..5)];
    let mut enc = QpackEncoder::new(enc_cap);
    let mut dec = QpackDecoder::new(dec_cap, blocked, 1 << 20);
    let (mut es, mut ds) = (Vec::new(), Vec::new());
    enc.set_peer_settings(dec_cap as u64, blocked as u64, &mut es);
    let sections = rng.gen_range(1..40u64);
    let mut next = 0u64;
    // Sections sent but not decoded: stream id -> (bytes, fields).
    let mut in_flight: HashMap<u64, (Vec<u8>, Vec<HeaderField>)> = HashMap::new();
    let mut blocked_ids: Vec<u64> = Vec::new();
    let ctx =
        |what: &str| format!("seed {seed} (caps {enc_cap}/{dec_cap}, blocked {blocked}): {what}");
    let check = |dec: &mut QpackDecoder,
                 id: u64,
                 in_flight: &mut HashMap<_, (Vec<u8>, Vec<HeaderField>)>,
                 ds: &mut Vec<u8>,
                 blocked_ids: &mut Vec<u64>| {
        let (bytes, want) = in_flight.get(&id).expect("in flight").clone();
        match dec.decode(id, &bytes, ds) {
            Ok(Decoded::Fields(got)) => {
                assert_eq!(got, want, "{}", ctx("decoded differs"));
                in_flight.remove(&id);
                blocked_ids.retain(|&b| b != id);
            }
            Ok(Decoded::Blocked) => {
                if !blocked_ids.contains(&id) {
                    blocked_ids.push(id);
                }
            }
            Err(e) => panic!("{}", ctx(&format!("stream {id}: {e}"))),
        }
    };
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 100_000, "{}", ctx("no progress"));
        let done_sending = next == sections;
        let ending = done_sending && rng.gen_bool(0.3);
        match rng.gen_range(0..6) {
            0 | 1 if !done_sending => {
                let id = 4 * next;
                next += 1;
                let f = random_fields(rng);
                let mut out = Vec::new();
                enc.encode(id, &f, &mut out, &mut es).unwrap();
                in_flight.insert(id, (out, f));
            }
            2 => {
                let piece = take(rng, &mut es, ending);
                let ready = dec
                    .on_encoder_stream(&piece)
                    .unwrap_or_else(|e| panic!("{}", ctx(&e.to_string())));
                if rng.gen_bool(0.5) {
                    dec.acknowledge_inserts(&mut ds);
                }
                for id in ready {
                    assert!(
                        blocked_ids.contains(&id),
                        "{}",
                        ctx("unblocked a stream never blocked")
                    );
                    check(&mut dec, id, &mut in_flight, &mut ds, &mut blocked_ids);
                }
            }
            3 => {
                let piece = take(rng, &mut ds, ending);
                enc.on_decoder_stream(&piece)
                    .unwrap_or_else(|e| panic!("{}", ctx(&e.to_string())));
            }
            4 => {
                let mut ids: Vec<u64> = in_flight
                    .keys()
                    .copied()
                    .filter(|id| !blocked_ids.contains(id))
                    .collect();
                ids.sort_unstable();
                if !ids.is_empty() {
                    let id = ids[rng.gen_range(0..ids.len())];
                    check(&mut dec, id, &mut in_flight, &mut ds, &mut blocked_ids);
                }
            }
            5 if rng.gen_bool(0.1) && !in_flight.is_empty() => {
                let mut ids: Vec<u64> = in_flight.keys().copied().collect();
                ids.sort_unstable();
                let id = ids[rng.gen_range(0..ids.len())];
                in_flight.remove(&id);
                blocked_ids.retain(|&b| b != id);
                dec.cancel_stream(id, &mut ds);
            }
            _ => {}
        }
        if done_sending && in_flight.is_empty() && es.is_empty() {
            dec.acknowledge_inserts(&mut ds);
            enc.on_decoder_stream(&ds).unwrap();
            ds.clear();
            break;
        }
    }
    assert_eq!(enc.unacked_sections(), 0, "{}", ctx("references released"));
    assert_eq!(
        enc.known_received_count(),
        enc.insert_count(),
        "{}",
        ctx("inserts acknowledged")
    );
    assert_eq!(
        table_of(enc.inner.table()),
        table_of(dec.inner.table()),
        "{}",
        ctx("tables")
    );
}

#[test]
fn random_connections_decode_what_was_encoded() {
    for seed in 0..400 {
        random_connection(seed);
    }
}
