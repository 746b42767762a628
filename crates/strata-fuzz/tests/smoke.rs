//! Runs every fuzz target's body on a stable toolchain (`scripts/fuzz-smoke`):
//! - `seeded::<target>`: over seeded random inputs from a generator biased
//!   towards what the target parses (20k each; 4k for the slower TLS
//!   target);
//! - `replay::<target>`: over the checked-in corpus
//!   (`fuzz/corpus/<target>/`) and every regression input
//!   (`fuzz/regressions/<target>/`, inputs that once crashed it);
//! - and checks that the script lists every target.
//!
//! `cargo test -p strata-fuzz --test smoke -- --ignored write_seeds` (re)writes
//! the generated part of the seed corpus (see `docs/fuzzing.md`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use strata::reliable::wire::ConnId;
use strata::reliable::{Connection, ReliableConfig};

#[path = "smoke/http.rs"]
mod http;
#[path = "smoke/qlog.rs"]
mod qlog;
#[path = "smoke/reliable.rs"]
mod reliable;
use http::*;
use qlog::qlog_trace_inputs;
use reliable::*;

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

fn lines_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for input in inputs(1, b"abxPS\r\n<E>", 300) {
        all.push(input);
    }
    all
}

fn length_prefixed_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for input in inputs(2, &[0, 0, 0, 1, 2, 3, 7, b'P', b'x'], 300) {
        all.push(input);
    }
    all
}

fn stack_lines_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for input in inputs(3, b"abxP\r\n<E>", 300) {
        all.push(input);
    }
    all
}

fn proxy_header_inputs() -> Vec<Vec<u8>> {
    use strata::proxy_protocol::{encode_v1, encode_v2, Tlv, V2_SIGNATURE};
    let mut all = Vec::new();
    // Text around the v1 grammar.
    for input in inputs(17, b"PROXY TCP46UNKNOW 0123456789.:abcdef\r\n", 140) {
        all.push([&b"\x03\x00PROXY "[..], &input[..]].concat());
        all.push(input);
    }
    // Mutated v2 headers: valid ones with a few bytes changed.
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let a = "192.0.2.1:5000".parse().unwrap();
    let b = "[2001:db8::1]:443".parse().unwrap();
    let c = "[2001:db8::2]:80".parse().unwrap();
    let tlvs = [Tlv {
        kind: Tlv::ALPN,
        value: b"h2".to_vec(),
    }];
    let bases = [
        encode_v2(Some((a, a)), &[]),
        encode_v2(Some((b, c)), &tlvs),
        encode_v2(None, &[]),
        encode_v1(Some((b, c))),
        V2_SIGNATURE.to_vec(),
    ];
    for _ in 0..RUNS / 2 {
        let mut v = bases[rng.gen_range(0..bases.len())].clone();
        for _ in 0..rng.gen_range(0..4) {
            if v.is_empty() {
                break;
            }
            let i = rng.gen_range(0..v.len());
            match rng.gen_range(0..3) {
                0 => v[i] = rng.gen(),
                1 => v.truncate(i),
                _ => v.extend((0..rng.gen_range(1..40)).map(|_| rng.gen::<u8>())),
            }
        }
        let ctl: [u8; 2] = rng.gen();
        all.push([&ctl[..], &v].concat());
    }
    all
}

fn endpoint_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
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
        all.push(s.into_bytes());
    }
    all
}

fn tls_server_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    // A TLS record header (handshake, version 3.1/3.3) is common at the front
    // so that inputs reach the handshake parser, not only the record layer.
    for (i, mut input) in inputs(5, &[0x16, 0x03, 0x01, 0x00, 0x01, 0x02, 0xff], 400)
        .take(4000)
        .enumerate()
    {
        if i % 2 == 0 && input.len() > 6 {
            input[1..4].copy_from_slice(&[0x16, 0x03, 0x01]);
        }
        all.push(input);
    }
    all
}

/// `scripts/fuzz-smoke` runs every target under libFuzzer: its list must
/// name every `[[bin]]` of `fuzz/Cargo.toml`, and each must have a file in
/// `fuzz/fuzz_targets/`.
#[test]
fn every_target_is_listed() {
    let root = fuzz_dir();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| b.lines().find_map(|l| l.strip_prefix("name = ")))
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    let script = std::fs::read_to_string(root.join("../scripts/fuzz-smoke"))
        .expect("read scripts/fuzz-smoke");
    let listed: Vec<&str> = script
        .lines()
        .find_map(|l| l.strip_prefix("TARGETS=("))
        .and_then(|l| l.strip_suffix(')'))
        .expect("a TARGETS=(...) line")
        .split_whitespace()
        .collect();
    let (mut b, mut l) = (bins.clone(), listed.clone());
    b.sort_unstable();
    l.sort_unstable();
    assert_eq!(b, l, "Cargo.toml bins vs scripts/fuzz-smoke TARGETS");
    let mut g: Vec<&str> = GENERATORS.iter().map(|(n, _)| *n).collect();
    g.sort_unstable();
    assert_eq!(b, g, "Cargo.toml bins vs the targets! list here");
    // The binaries are built by cargo-fuzz only (nightly, its own
    // workspace): each must be the one-line wrapper of the body of its name,
    // which the `targets!` list below compiles against.
    for bin in &bins {
        let path = root.join("fuzz_targets").join(format!("{bin}.rs"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no fuzz_targets/{bin}.rs: {e}"));
        assert!(
            text.contains("libfuzzer_sys::fuzz_target!(")
                && text.contains(&format!("strata_fuzz::{bin}(")),
            "fuzz_targets/{bin}.rs does not wrap strata_fuzz::{bin}"
        );
    }
}

/// Every target: its name, body and seeded generator. Each gets a test in
/// `seeded` and one in `replay`, and its generator feeds `write_seeds`.
macro_rules! targets {
    ($($name:ident => $gen:ident),* $(,)?) => {
        mod seeded {
            $(
                #[test]
                fn $name() {
                    for input in super::$gen() {
                        strata_fuzz::$name(&input);
                    }
                }
            )*
        }
        mod replay {
            $(
                #[test]
                fn $name() {
                    super::replay(stringify!($name), strata_fuzz::$name);
                }
            )*
        }
        type Generator = fn() -> Vec<Vec<u8>>;
        const GENERATORS: &[(&str, Generator)] = &[$((stringify!($name), $gen)),*];
    };
}

targets!(
    lines => lines_inputs,
    length_prefixed => length_prefixed_inputs,
    endpoint => endpoint_inputs,
    stack_lines => stack_lines_inputs,
    tls_server => tls_server_inputs,
    h2_frame => h2_frame_inputs,
    hpack_decode => hpack_decode_inputs,
    h2_server => h2_server_inputs,
    h1_server => h1_server_inputs,
    reliable_wire => reliable_wire_inputs,
    kcp_segment => kcp_segment_inputs,
    reliable_conn => reliable_conn_inputs,
    http_server => http_server_inputs,
    reliable_listener => reliable_listener_inputs,
    qpack => qpack_inputs,
    h3_frames => h3_frames_inputs,
    proxy_header => proxy_header_inputs,
    ws_frame => ws_frame_inputs,
    qlog_trace => qlog_trace_inputs,
);

/// The files of `dir` (none if it does not exist), in name order.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// `fuzz/`, the cargo-fuzz package: its binaries, corpus and regressions.
fn fuzz_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Runs `body` over the checked-in corpus and regression inputs of `name`.
fn replay(name: &str, body: fn(&[u8])) {
    let root = fuzz_dir();
    // Every target has a checked-in corpus: an empty list means a wrong path.
    assert!(
        !files(&root.join("corpus").join(name)).is_empty(),
        "no corpus for {name} under {}",
        root.display()
    );
    for kind in ["corpus", "regressions"] {
        for path in files(&root.join(kind).join(name)) {
            let input = std::fs::read(&path).expect("read an input");
            let run = std::panic::catch_unwind(|| body(&input));
            assert!(run.is_ok(), "{} failed", path.display());
        }
    }
}

/// A name for a seed file: a hash of its contents (FNV-1a, 64 bits).
fn seed_name(data: &[u8]) -> String {
    let h = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("seed-{h:016x}")
}

/// Hand-made seeds on top of the generated ones: whole valid exchanges.
fn extra_seeds(name: &str) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    match name {
        "reliable_wire" => {
            for seed in 0..3 {
                for d in reliable_exchange(seed) {
                    v.push([&[255u8][..], &d].concat());
                }
            }
        }
        "reliable_conn" => {
            // The datagrams a real server sent, aimed at a client (flags
            // bit 0 patches the id), and the whole exchange at a listener.
            for ctl in [[0u8, 0], [0, 2], [1, 1]] {
                let mut input = ctl.to_vec();
                for d in reliable_exchange(1) {
                    let long = d.first().is_some_and(|b| b & 0x80 != 0);
                    record(&mut input, if long { 3 } else { 1 }, &d);
                }
                v.push(input);
            }
        }
        "reliable_listener" => {
            // The real client alone (with and without Retry, writing), and
            // replays of its datagrams from elsewhere.
            for ctl in [0u8, 1, 0x0c, 0x0d, 0x0f] {
                let mut input = vec![ctl];
                for i in 0..6u8 {
                    record(&mut input, 0x30 | (i & 3) | (i & 1) << 2, &[]);
                }
                v.push(input);
            }
        }
        "http_server" => {
            let h2 = {
                let mut f = strata::http::h2::frame::PREFACE.to_vec();
                h2_frame(&mut f, 4, 0, 0, &[]);
                h2_frame(&mut f, 4, 0x1, 0, &[]);
                h2_frame(&mut f, 1, 0x5, 1, b"\x82\x86\x84\x41\x01a");
                h2_frame(&mut f, 1, 0x4, 3, b"\x83\x86\x44\x02/b\x41\x01a");
                h2_frame(&mut f, 0, 0x1, 3, b"hello");
                h2_frame(&mut f, 7, 0, 0, &[0, 0, 0, 3, 0, 0, 0, 0]);
                f
            };
            for mode in [0u8, 1, 0x11, 0x21] {
                v.push([&[7u8, mode][..], b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"].concat());
                v.push(
                    [
                        &[9u8, mode][..],
                        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                    ]
                    .concat(),
                );
                v.push([&[0u8, mode][..], &h2].concat());
            }
        }
        _ => {}
    }
    v
}

/// Writes the generated seeds: 48 inputs spread over each generator's
/// output, plus [`extra_seeds`], into `fuzz/corpus/<target>/`.
#[test]
#[ignore]
fn write_seeds() {
    let root = fuzz_dir().join("corpus");
    for (name, gen) in GENERATORS {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("create a corpus directory");
        let all = gen();
        // An odd step: generators that switch style on `i % 2` or `i % 4`
        // would otherwise give seeds of one style only.
        let step = (all.len() / 48).max(1) | 1;
        let mut seeds: Vec<Vec<u8>> = all.into_iter().step_by(step).take(48).collect();
        seeds.extend(extra_seeds(name));
        for s in seeds {
            std::fs::write(dir.join(seed_name(&s)), &s).expect("write a seed");
        }
    }
}
