//! Runs every fuzz target's body over ~20k seeded random inputs each, so the
//! targets are exercised on a stable toolchain (`scripts/fuzz-smoke`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const RUNS: usize = 20_000;

/// Random inputs biased towards the bytes each target cares about.
fn inputs(seed: u64, alphabet: &[u8], max_len: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..RUNS).map(move |_| {
        let len = rng.gen_range(0..=max_len);
        (0..len)
            .map(|i| {
                // Control bytes at the front stay uniform.
                if i < 3 || rng.gen_ratio(1, 8) {
                    rng.gen()
                } else {
                    alphabet[rng.gen_range(0..alphabet.len())]
                }
            })
            .collect()
    })
}

#[test]
fn lines_smoke() {
    for input in inputs(1, b"abxPS\r\n<E>", 300) {
        strata_fuzz::lines(&input);
    }
}

#[test]
fn length_prefixed_smoke() {
    for input in inputs(2, &[0, 0, 0, 1, 2, 3, 7, b'P', b'x'], 300) {
        strata_fuzz::length_prefixed(&input);
    }
}

#[test]
fn stack_lines_smoke() {
    for input in inputs(3, b"abxP\r\n<E>", 300) {
        strata_fuzz::stack_lines(&input);
    }
}

#[test]
fn endpoint_smoke() {
    const PARTS: &[&str] = &[
        "tcp",
        "udp",
        "tls",
        "reliable",
        "quic",
        "unix",
        "+",
        "://",
        ":///",
        "127.0.0.1",
        "[::1]",
        "localhost",
        ":",
        "8080",
        "0",
        "99999",
        "/",
        "/tmp/a.sock",
        "?",
        "&",
        "=",
        "tls.alpn",
        "h2",
        ",",
        "%20",
        "%",
        "%zz",
        ".",
        "é",
        " ",
        "tcp.nodelay",
        "true",
        "[",
        "]",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..RUNS {
        let mut s = String::new();
        for _ in 0..rng.gen_range(0..12) {
            if rng.gen_ratio(1, 10) {
                s.push(char::from(rng.gen_range(0x20u8..0x7f)));
            } else {
                s.push_str(PARTS[rng.gen_range(0..PARTS.len())]);
            }
        }
        strata_fuzz::endpoint(s.as_bytes());
    }
}

#[test]
fn tls_server_smoke() {
    // A TLS record header (handshake, version 3.1/3.3) is common at the front
    // so that inputs reach the handshake parser, not only the record layer.
    for (i, mut input) in inputs(5, &[0x16, 0x03, 0x01, 0x00, 0x01, 0x02, 0xff], 400)
        .take(4000)
        .enumerate()
    {
        if i % 2 == 0 && input.len() > 6 {
            input[1..4].copy_from_slice(&[0x16, 0x03, 0x01]);
        }
        strata_fuzz::tls_server(&input);
    }
}
