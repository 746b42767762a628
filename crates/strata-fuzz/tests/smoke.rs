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

#[path = "smoke/qlog.rs"]
mod qlog;
use qlog::qlog_trace_inputs;

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

/// Valid pieces of HPACK field blocks: indexed request pseudo-headers,
/// literals (plain, Huffman-coded, never-indexed, with new names, long
/// enough to evict), and references to the first two dynamic entries
/// (valid once the table holds them).
const HPACK_PIECES: &[&[u8]] = &[
    b"\x82",                              // :method GET
    b"\x83",                              // :method POST
    b"\x84",                              // :path /
    b"\x86",                              // :scheme http
    b"\x87",                              // :scheme https
    b"\x41\x01a",                         // :authority a, incremental indexing
    b"\x41\x81\x1f",                      // :authority a, Huffman-coded
    b"\x44\x02/b",                        // :path /b
    b"\x04\x03/up",                       // :path /up, without indexing
    b"\x40\x01x\x01y",                    // x: y, new name, incremental indexing
    b"\x40\x05hello\x100123456789abcdef", // a bigger entry
    b"\x10\x01z\x00",                     // z: (empty), never indexed
    b"\x5f\x0a\x04text",                  // content-type (index 31) text
    b"\xbe",                              // the newest dynamic entry
    b"\xbf",                              // the one before
];

/// Dynamic table size updates (to 0, 64 and 4096), for the start of a block.
const HPACK_SIZE_UPDATES: &[&[u8]] = &[b"\x20", b"\x3f\x21", b"\x3f\xe1\x1f"];

/// Pieces that are wrong wherever they are.
const HPACK_HOSTILE: &[&[u8]] = &[
    b"\x20",                     // a size update after a field
    b"\x7f\x81\xff",             // index 127+, then a truncated integer
    b"\xff\xff\xff\xff\xff\x0f", // an overflowing index
    b"\x00\x7f",                 // a literal name announcing 127 bytes
    b"\xc0",                     // index 64, past a small table
    b"\x41\x81\xff",             // Huffman padding longer than 7 bits
];

/// One HPACK field block of up to `max` pieces, sometimes starting with a
/// size update, with the odd hostile piece or random byte.
fn hpack_block(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
    let mut block = Vec::new();
    if rng.gen_ratio(1, 6) {
        block.extend_from_slice(HPACK_SIZE_UPDATES[rng.gen_range(0..HPACK_SIZE_UPDATES.len())]);
    }
    for _ in 0..rng.gen_range(0..=max) {
        if rng.gen_ratio(1, 24) {
            block.push(rng.gen());
        } else if rng.gen_ratio(1, 16) {
            block.extend_from_slice(HPACK_HOSTILE[rng.gen_range(0..HPACK_HOSTILE.len())]);
        } else {
            block.extend_from_slice(HPACK_PIECES[rng.gen_range(0..HPACK_PIECES.len())]);
        }
    }
    block
}

fn hpack_decode_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    const ALPHABET: &[u8] = &[
        0x82, 0xbe, 0x40, 0x00, 0x10, 0x0f, 0x20, 0x3f, 0x7f, 0x81, 0xff, b'a',
    ];
    // Half the inputs are biased bytes; the other half are well-delimited
    // blocks built from pieces, so that the dynamic table fills and carries
    // over between blocks.
    for input in inputs(6, ALPHABET, 300).take(RUNS / 2) {
        all.push(input);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..RUNS / 2 {
        let mut input: Vec<u8> = (0..3).map(|_| rng.gen()).collect();
        for _ in 0..rng.gen_range(0..6) {
            let block = hpack_block(&mut rng, 12);
            let block = &block[..block.len().min(255)];
            input.push(block.len() as u8);
            input.extend_from_slice(block);
        }
        all.push(input);
    }
    all
}

/// A payload for a frame of type `kind`, mostly well-formed for it.
fn h2_payload(rng: &mut ChaCha8Rng, kind: u8, flags: u8) -> Vec<u8> {
    let mut p = Vec::new();
    let padded = matches!(kind, 0 | 1 | 5) && flags & 0x8 != 0;
    let pad = if padded { rng.gen_range(0..6u8) } else { 0 };
    if padded {
        p.push(pad);
    }
    match kind {
        0 => p.extend((0..rng.gen_range(0..40)).map(|_| rng.gen::<u8>())),
        1 | 9 => {
            if kind == 1 && flags & 0x20 != 0 {
                // Priority: exclusive bit and dependency, weight.
                let dep: u32 = rng.gen_range(0..6);
                p.extend_from_slice(&dep.to_be_bytes());
                p.push(rng.gen());
            }
            p.extend(hpack_block(rng, 6));
        }
        2 => p.extend_from_slice(&[0, 0, 0, rng.gen_range(0..6), rng.gen()]),
        3 => p.extend_from_slice(&u32::from(rng.gen_range(0..14u8)).to_be_bytes()),
        4 if flags & 1 == 0 => {
            for _ in 0..rng.gen_range(0..4) {
                p.extend_from_slice(&rng.gen_range(0u16..10).to_be_bytes());
                let value: u32 = match rng.gen_range(0..4) {
                    0 => 0,
                    1 => rng.gen_range(0..0x10000),
                    2 => 0x7fff_ffff,
                    _ => rng.gen(),
                };
                p.extend_from_slice(&value.to_be_bytes());
            }
        }
        5 => {
            p.extend_from_slice(&rng.gen_range(0u32..8).to_be_bytes());
            p.extend(hpack_block(rng, 4));
        }
        6 => p.extend((0..8).map(|_| rng.gen::<u8>())),
        7 => {
            p.extend_from_slice(&rng.gen_range(0u32..8).to_be_bytes());
            p.extend_from_slice(&u32::from(rng.gen_range(0..14u8)).to_be_bytes());
            p.extend((0..rng.gen_range(0..8)).map(|_| rng.gen::<u8>()));
        }
        8 => {
            let inc: u32 = match rng.gen_range(0..4) {
                0 => 0,
                1 => rng.gen_range(1..70_000),
                2 => 0x7fff_ffff,
                _ => rng.gen(),
            };
            p.extend_from_slice(&inc.to_be_bytes());
        }
        _ => p.extend((0..rng.gen_range(0..12)).map(|_| rng.gen::<u8>())),
    }
    p.resize(p.len() + usize::from(pad), 0);
    p
}

/// Appends a frame header and `payload`.
fn h2_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A field block for a request: the pseudo-headers in order (`/b` asks
/// the echo service for a bulk answer), sometimes with an extra or a
/// random piece.
fn h2_request_block(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut block = vec![if rng.gen_ratio(1, 2) { 0x82 } else { 0x83 }, 0x87];
    block.extend_from_slice(match rng.gen_range(0..8) {
        0 | 1 => b"\x44\x02/b",
        2 => b"\xbe",
        _ => b"\x84",
    });
    block.extend_from_slice(b"\x41\x01a");
    if rng.gen_ratio(1, 8) {
        block.extend(hpack_block(rng, 2));
    }
    block
}

/// A frame that a real client could send next, `last` being its latest
/// stream: a request (sometimes split into HEADERS and CONTINUATION), data,
/// a window update, PING, SETTINGS (or its ACK), RST_STREAM, PRIORITY.
fn h2_plausible(rng: &mut ChaCha8Rng, out: &mut Vec<u8>, last: &mut u32) {
    let mut pick = rng.gen_range(0..12);
    if *last == 0 && matches!(pick, 3..=5 | 10) {
        // Nothing is open yet: a request instead.
        pick = 0;
    }
    match pick {
        0..=2 => {
            *last = if *last == 0 { 1 } else { *last + 2 };
            let end_stream = if rng.gen_ratio(1, 2) { 0x1 } else { 0 };
            let block = h2_request_block(rng);
            if rng.gen_ratio(1, 5) {
                let cut = rng.gen_range(0..=block.len());
                h2_frame(out, 1, end_stream, *last, &block[..cut]);
                h2_frame(out, 9, 0x4, *last, &block[cut..]);
            } else {
                h2_frame(out, 1, 0x4 | end_stream, *last, &block);
            }
        }
        3..=5 => {
            let mut data = vec![b'd'; rng.gen_range(0..200)];
            if let Some(b) = data.first_mut().filter(|_| rng.gen_ratio(1, 4)) {
                *b = b'P';
            }
            let end_stream = if rng.gen_ratio(1, 2) { 0x1 } else { 0 };
            h2_frame(out, 0, end_stream, *last, &data);
        }
        6 => {
            let stream = if rng.gen_ratio(1, 2) { 0 } else { *last };
            let inc: u32 = rng.gen_range(1..70_000);
            h2_frame(out, 8, 0, stream, &inc.to_be_bytes());
        }
        7 => {
            let ack = if rng.gen_ratio(1, 4) { 0x1 } else { 0 };
            h2_frame(out, 6, ack, 0, &rng.gen::<[u8; 8]>());
        }
        8 => {
            let mut p = Vec::new();
            let (id, value): (u16, u32) = match rng.gen_range(0..4) {
                0 => (4, rng.gen_range(0..70_000)),
                1 => (5, 16_384),
                2 => (1, rng.gen_range(0..5000)),
                _ => (3, rng.gen_range(0..8)),
            };
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&value.to_be_bytes());
            h2_frame(out, 4, 0, 0, &p);
        }
        9 => h2_frame(out, 4, 0x1, 0, &[]),
        10 => h2_frame(out, 3, 0, *last, &8u32.to_be_bytes()),
        _ => {
            let stream = rng.gen_range(1..10) | 1;
            let dep: u32 = if stream == 1 { 3 } else { 1 };
            let mut p = dep.to_be_bytes().to_vec();
            p.push(rng.gen());
            h2_frame(out, 2, 0, stream, &p);
        }
    }
}

/// A frame with a valid header (types 0-9 and some unknown, small stream
/// ids, the flags each type knows) over a mostly well-formed payload.
fn h2_random(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    let kind = if rng.gen_ratio(1, 16) {
        rng.gen()
    } else {
        rng.gen_range(0..10u8)
    };
    let flags = [0, 0x1, 0x4, 0x5, 0x8, 0x20, 0x25, 0x2d, 0xff][rng.gen_range(0..9)];
    let stream: u32 = [0, 1, 1, 3, 3, 5, 7, 2, 0x8000_0001][rng.gen_range(0..9)];
    let payload = h2_payload(rng, kind, flags);
    if rng.gen_ratio(1, 20) {
        // A length that does not match the payload.
        let len: u32 = rng.gen_range(0..1 << 15);
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.extend_from_slice(&[kind, flags]);
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(&payload);
    } else {
        h2_frame(out, kind, flags, stream, &payload);
    }
}

/// Up to `max` HTTP/2 frames: per input, a share of them plausible for a
/// client (see [`h2_plausible`]) and the others random (see [`h2_random`]),
/// with the odd flipped byte or cut-off end.
fn h2_frames(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let wild = [2, 8, 32, u32::MAX][rng.gen_range(0..4)];
    let mut last = 0;
    for _ in 0..rng.gen_range(0..=max) {
        if rng.gen_ratio(1, wild) {
            h2_random(rng, &mut out);
        } else {
            h2_plausible(rng, &mut out, &mut last);
        }
    }
    if !out.is_empty() && rng.gen_ratio(1, 8) {
        let i = rng.gen_range(0..out.len());
        out[i] = rng.gen();
    }
    if !out.is_empty() && rng.gen_ratio(1, 8) {
        out.truncate(rng.gen_range(0..out.len()));
    }
    out
}

fn h2_frame_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        input.extend(h2_frames(&mut rng, 8));
        all.push(input);
    }
    all
}

fn h2_server_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    // The target sends the client preface itself, and for half the mode
    // bytes a SETTINGS frame and its ACK; for most of the other half, the
    // input starts with a SETTINGS frame (and mostly its ACK) of its own.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..RUNS {
        let mode: u8 = rng.gen();
        let mut input = vec![rng.gen::<u8>(), mode];
        if mode & 2 == 0 && rng.gen_ratio(7, 8) {
            let payload = if rng.gen_ratio(1, 2) {
                Vec::new()
            } else {
                h2_payload(&mut rng, 4, 0)
            };
            h2_frame(&mut input, 4, 0, 0, &payload);
            if rng.gen_ratio(3, 4) {
                h2_frame(&mut input, 4, 0x1, 0, &[]);
            }
        }
        input.extend(h2_frames(&mut rng, 10));
        all.push(input);
    }
    all
}

/// One HTTP/1.1 request: a request line, a few headers, and a body framed
/// as its headers say (mostly), its data starting with `P` at times so that
/// the handler pauses reading.
fn h1_request(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    const LINES: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\n",
        b"POST /echo HTTP/1.1\r\n",
        b"GET /up HTTP/1.1\r\n",
        b"POST /early HTTP/1.1\r\n",
        b"CONNECT a:1 HTTP/1.1\r\n",
        b"GET / HTTP/1.0\r\n",
        b"PUT http://a/x?y HTTP/1.1\r\n",
    ];
    const HEADERS: &[&[u8]] = &[
        b"Upgrade: x\r\n",
        b"Connection: upgrade\r\n",
        b"Connection: close\r\n",
        b"Connection: keep-alive\r\n",
        b"Expect: 100-continue\r\n",
        b"Accept: */*\r\n",
        b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
    ];
    out.extend_from_slice(LINES[rng.gen_range(0..LINES.len())]);
    if rng.gen_ratio(7, 8) {
        out.extend_from_slice(b"Host: a\r\n");
    }
    for _ in 0..rng.gen_range(0..3) {
        out.extend_from_slice(HEADERS[rng.gen_range(0..HEADERS.len())]);
    }
    let body = |rng: &mut ChaCha8Rng, n: usize| -> Vec<u8> {
        let mut b = vec![b'b'; n];
        if let Some(first) = b.first_mut().filter(|_| rng.gen_ratio(1, 4)) {
            *first = b'P';
        }
        b
    };
    match rng.gen_range(0..3) {
        0 => out.extend_from_slice(b"\r\n"),
        1 => {
            let n = rng.gen_range(0..300);
            out.extend_from_slice(format!("Content-Length: {n}\r\n\r\n").as_bytes());
            out.extend(body(rng, n));
        }
        _ => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for _ in 0..rng.gen_range(0..4) {
                let n = rng.gen_range(1..100);
                let ext = if rng.gen_ratio(1, 4) { ";x=y" } else { "" };
                out.extend_from_slice(format!("{n:x}{ext}\r\n").as_bytes());
                out.extend(body(rng, n));
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n");
            if rng.gen_ratio(1, 4) {
                out.extend_from_slice(b"T: v\r\n");
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

fn h1_server_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    // A quarter of the inputs are loose pieces of requests; the others are
    // whole requests (pipelined, after CONNECT or an upgrade raw bytes),
    // with the odd piece, `~` (the head timeout fires when a chunk starts
    // with it), flipped byte or cut-off end.
    const PARTS: &[&[u8]] = &[
        b"GET /up HTTP/1.1\r\n",
        b"CONNECT a:1 HTTP/1.1\r\n",
        b"Host: a\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Content-Length: 5\r\n",
        b"Content-Length: 5, 6\r\n",
        b"Content-Length: 99999999999999999999\r\n",
        b"Upgrade: x\r\n",
        b"Connection: upgrade\r\n",
        b"Expect: 100-continue\r\n",
        b"\r\n",
        b"5\r\nPabcd\r\n",
        b"ffffffffffffffffff\r\n",
        b"0\r\n\r\n",
        b" folded\r\n",
        b"\n",
        b"~",
        b"0P~5;:",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    for i in 0..RUNS {
        let mut input: Vec<u8> = (0..3).map(|_| rng.gen()).collect();
        if i % 4 == 0 {
            for _ in 0..rng.gen_range(0..16) {
                if rng.gen_ratio(1, 10) {
                    input.push(rng.gen());
                } else {
                    input.extend_from_slice(PARTS[rng.gen_range(0..PARTS.len())]);
                }
            }
        } else {
            for _ in 0..rng.gen_range(1..4) {
                match rng.gen_range(0..16) {
                    0 => input.extend_from_slice(PARTS[rng.gen_range(0..PARTS.len())]),
                    1 => input.push(b'~'),
                    _ => h1_request(&mut rng, &mut input),
                }
            }
            if rng.gen_ratio(1, 8) {
                let at = rng.gen_range(3..input.len());
                input[at] = rng.gen();
            }
            if rng.gen_ratio(1, 8) {
                input.truncate(rng.gen_range(3..=input.len()));
            }
        }
        all.push(input);
    }
    all
}

/// Appends `v` as a varint, now and then in a longer form than needed.
fn rw_varint(out: &mut Vec<u8>, v: u64, rng: &mut ChaCha8Rng) {
    let shortest = match v {
        0..=63 => 0,
        64..=16_383 => 1,
        16_384..=0x3fff_ffff => 2,
        _ => 3,
    };
    let size = if rng.gen_ratio(1, 10) {
        rng.gen_range(shortest..4)
    } else {
        shortest
    };
    let n = 1usize << size;
    let bytes = (v | (size as u64) << (8 * n - 2)).to_be_bytes();
    out.extend_from_slice(&bytes[8 - n..]);
}

/// A value for a varint field: mostly small, often at a size boundary.
fn rw_value(rng: &mut ChaCha8Rng) -> u64 {
    const MAX: u64 = (1 << 62) - 1;
    match rng.gen_range(0..10) {
        0..=4 => rng.gen_range(0..64),
        5 => rng.gen_range(0..20_000),
        6 => [63, 64, 16_383, 16_384, (1 << 30) - 1, 1 << 30][rng.gen_range(0..6)],
        7 => MAX - rng.gen_range(0..4),
        _ => rng.gen_range(0..=MAX),
    }
}

/// One frame of the reliable mapping, mostly well-formed.
fn rw_frame(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    match rng.gen_range(0..12) {
        0 => out.resize(out.len() + rng.gen_range(1..5), 0),
        1 => out.push(0x01),
        2 | 3 => {
            out.push(0x02);
            let largest = rw_value(rng);
            rw_varint(out, largest, rng);
            rw_varint(out, rw_value(rng), rng);
            let count = if rng.gen_ratio(1, 10) {
                rng.gen_range(60..70)
            } else {
                rng.gen_range(0..5)
            };
            rw_varint(out, count, rng);
            rw_varint(out, rng.gen_range(0..8), rng);
            for _ in 0..count {
                rw_varint(out, rng.gen_range(0..6), rng);
                rw_varint(out, rng.gen_range(0..6), rng);
            }
        }
        4..=6 => {
            let ty = rng.gen_range(0x08..0x10u8);
            out.push(ty);
            if ty & 0x04 != 0 {
                rw_varint(out, rw_value(rng), rng);
            }
            let data: Vec<u8> = (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect();
            if ty & 0x02 != 0 {
                let len = if rng.gen_ratio(1, 10) {
                    rw_value(rng)
                } else {
                    data.len() as u64
                };
                rw_varint(out, len, rng);
            }
            out.extend_from_slice(&data);
        }
        7 => {
            out.push(0x06);
            rw_varint(out, rw_value(rng), rng);
            let reason = &b"flow control violated"[..rng.gen_range(0..21)];
            rw_varint(
                out,
                reason.len() as u64 + u64::from(rng.gen_ratio(1, 10)),
                rng,
            );
            out.extend_from_slice(reason);
        }
        8 => {
            out.push(0x03);
            rw_varint(out, rw_value(rng), rng);
            rw_varint(out, rw_value(rng), rng);
        }
        9 | 10 => {
            out.push(rng.gen_range(0x04..0x06));
            rw_varint(out, rw_value(rng), rng);
        }
        _ => out.push(rng.gen()),
    }
}

/// One datagram of the reliable mapping: mostly short-header packets, also
/// Initial (padded, with or without a token), Handshake, Retry, Version
/// Negotiation and other versions; with the odd flipped byte or cut-off
/// end.
fn rw_datagram(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let kind = rng.gen_range(0..12);
    let long = |rng: &mut ChaCha8Rng, out: &mut Vec<u8>, first: u8, version: u32| {
        out.push(first);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&rng.gen::<[u8; 16]>());
    };
    let token = |rng: &mut ChaCha8Rng, out: &mut Vec<u8>| {
        let len = [0, 41, 128, 129][rng.gen_range(0..4)];
        rw_varint(out, len as u64, rng);
        out.extend((0..len).map(|_| rng.gen::<u8>()));
    };
    let mut frames = true;
    match kind {
        0..=5 => {
            out.push(if rng.gen_ratio(1, 20) {
                rng.gen()
            } else {
                0x40
            });
            out.extend_from_slice(&rng.gen::<[u8; 8]>());
            rw_varint(&mut out, rw_value(rng), rng);
        }
        6 | 7 => {
            long(rng, &mut out, 0xc0, 1);
            token(rng, &mut out);
            rw_varint(&mut out, rng.gen_range(0..3), rng);
        }
        8 => {
            long(rng, &mut out, 0xd0, 1);
            rw_varint(&mut out, rng.gen_range(0..3), rng);
        }
        9 => {
            long(rng, &mut out, 0xe0, 1);
            token(rng, &mut out);
            frames = false;
        }
        10 => {
            let first = 0xc0 | rng.gen::<u8>();
            long(rng, &mut out, first, 0);
            out.extend((0..4 * rng.gen_range(0..18)).map(|_| rng.gen::<u8>()));
            frames = false;
        }
        _ => {
            let first = 0xc0 | (rng.gen::<u8>() & 0x3f);
            let version = rng.gen_range(0..4);
            long(rng, &mut out, first, version);
        }
    }
    if frames {
        for _ in 0..rng.gen_range(0..6) {
            rw_frame(rng, &mut out);
        }
    }
    if matches!(kind, 6 | 7) && rng.gen_ratio(7, 8) {
        out.resize(out.len().max(1200), 0);
    }
    if !out.is_empty() && rng.gen_ratio(1, 8) {
        let i = rng.gen_range(0..out.len());
        out[i] = rng.gen();
    }
    if !out.is_empty() && rng.gen_ratio(1, 8) {
        out.truncate(rng.gen_range(0..out.len()));
    }
    out
}

fn reliable_wire_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        input.extend(rw_datagram(&mut rng));
        all.push(input);
    }
    all
}

/// Inputs for `reliable_conn`: the two control bytes, then up to eight
/// records of a datagram (see `rw_datagram`) with flags that mostly aim
/// it at the target's connection id (at the right offset for its header)
/// and now and then write or let time pass. For a listener, half the
/// inputs open with a well-formed Initial without a token (which opens a
/// connection when the listener skips Retry).
fn reliable_conn_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for _ in 0..RUNS {
        let ctl: [u8; 2] = rng.gen();
        let mut input = ctl.to_vec();
        let record = |input: &mut Vec<u8>, flags: u8, d: &[u8]| {
            input.push(flags);
            input.extend_from_slice(&(d.len() as u16).to_be_bytes());
            input.extend_from_slice(d);
        };
        if ctl[0] & 1 == 1 && rng.gen_ratio(1, 2) {
            let mut d = vec![0xc0, 0, 0, 0, 1];
            d.extend_from_slice(&rng.gen::<[u8; 16]>());
            d.extend_from_slice(&[0, 0, 0x04, 0x40, 0x80]);
            d.resize(1200, 0);
            record(&mut input, 0, &d);
        }
        for _ in 0..rng.gen_range(0..8) {
            let d = rw_datagram(&mut rng);
            let mut flags: u8 = rng.gen::<u8>() & 0xfc;
            if rng.gen_ratio(3, 4) {
                flags |= 1;
            }
            if d.first().is_some_and(|b| b & 0x80 != 0) {
                flags |= 2;
            }
            if rng.gen_ratio(1, 2) {
                flags &= 0x1f;
            }
            record(&mut input, flags, &d);
        }
        all.push(input);
    }
    all
}

/// One QPACK record (`[kind, len, bytes]`) of the `qpack` target.
fn qpack_record(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    for piece in bytes.chunks(255) {
        out.push(kind);
        out.push(piece.len() as u8);
        out.extend_from_slice(piece);
    }
}

/// Fields for the QPACK generator: names and values that repeat.
fn qpack_fields(rng: &mut ChaCha8Rng) -> Vec<strata::http::qpack::HeaderField> {
    const NAMES: &[&str] = &[
        ":method",
        ":path",
        ":authority",
        ":status",
        "x-a",
        "cookie",
        "user-agent",
    ];
    const VALUES: &[&str] = &[
        "GET",
        "/",
        "example.com",
        "200",
        "",
        "some longer value",
        "v1",
        "v2",
    ];
    (0..rng.gen_range(0..6))
        .map(|_| {
            strata::http::qpack::HeaderField::new(
                NAMES[rng.gen_range(0..NAMES.len())],
                VALUES[rng.gen_range(0..VALUES.len())],
            )
        })
        .collect()
}

fn qpack_inputs() -> Vec<Vec<u8>> {
    use strata::http::qpack::{QpackDecoder, QpackEncoder};
    let mut all = Vec::new();
    // A quarter biased bytes; the rest real encoder streams and sections
    // from strata's encoder (for the decoder's capacity), delivered in
    // random order, with the odd flipped byte, decoder-stream bytes and
    // cancellations.
    const ALPHABET: &[u8] = &[
        0x00, 0x01, 0x02, 0x3f, 0x40, 0x80, 0xc0, 0xd1, 0x10, 0x51, 0xff, b'a',
    ];
    for input in inputs(17, ALPHABET, 300).take(RUNS / 4) {
        all.push(input);
    }
    const CAPACITIES: [usize; 6] = [0, 31, 64, 220, 1024, 4096];
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    for _ in 0..RUNS - RUNS / 4 {
        let ctl: [u8; 4] = rng.gen();
        let cap = CAPACITIES[usize::from(ctl[0]) % CAPACITIES.len()];
        let blocked = u64::from(ctl[1] % 5);
        let mut input = ctl.to_vec();
        let mut enc = QpackEncoder::new(cap);
        let mut dec = QpackDecoder::new(cap, blocked as usize, usize::MAX);
        let mut es = Vec::new();
        enc.set_peer_settings(cap as u64, blocked, &mut es);
        for i in 0..rng.gen_range(0..6u8) {
            let mut section = Vec::new();
            let id = u64::from(i) * 4;
            let _ = enc.encode(id, &qpack_fields(&mut rng), &mut section, &mut es);
            let mut ds = Vec::new();
            let _ = dec.on_encoder_stream(&es);
            let _ = dec.decode(id, &section, &mut ds);
            let _ = enc.on_decoder_stream(&ds);
            if rng.gen_ratio(1, 8) && !section.is_empty() {
                let at = rng.gen_range(0..section.len());
                section[at] ^= 1 << rng.gen_range(0..8);
            }
            let kind = 1 | (i * 4) << 2;
            if rng.gen_ratio(1, 3) {
                qpack_record(&mut input, kind, &section);
                qpack_record(&mut input, 0, &es);
            } else {
                qpack_record(&mut input, 0, &es);
                qpack_record(&mut input, kind, &section);
            }
            es.clear();
            if rng.gen_ratio(1, 6) {
                let r: Vec<u8> = (0..rng.gen_range(1..4)).map(|_| rng.gen()).collect();
                qpack_record(
                    &mut input,
                    [0, 2, 3][rng.gen_range(0..3)] | rng.gen::<u8>() & 0xfc,
                    &r,
                );
            }
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

fn kcp_segment_inputs() -> Vec<Vec<u8>> {
    // Records `[ctl, len_lo, len_hi, bytes]` of mostly well-formed KCP
    // segments (24-byte header: conv, cmd 81-84, frg, wnd, ts, sn, una,
    // len) for the target's conversation.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut all = Vec::new();
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        for _ in 0..rng.gen_range(0..8) {
            let mut d = Vec::new();
            for _ in 0..rng.gen_range(1..4) {
                let conv = if rng.gen_ratio(7, 8) {
                    strata_fuzz::KCP_CONV
                } else {
                    rng.gen()
                };
                d.extend_from_slice(&conv.to_le_bytes());
                d.push(rng.gen_range(81..85));
                d.push(rng.gen_range(0..3));
                d.extend_from_slice(&rng.gen_range(0u16..256).to_le_bytes());
                d.extend_from_slice(&rng.gen_range(0u32..5000).to_le_bytes());
                d.extend_from_slice(&rng.gen_range(0u32..40).to_le_bytes());
                d.extend_from_slice(&rng.gen_range(0u32..40).to_le_bytes());
                let data: Vec<u8> = (0..rng.gen_range(0..60)).map(|_| rng.gen()).collect();
                let len = if rng.gen_ratio(1, 12) {
                    rng.gen()
                } else {
                    data.len() as u32
                };
                d.extend_from_slice(&len.to_le_bytes());
                d.extend_from_slice(&data);
            }
            if rng.gen_ratio(1, 8) {
                d.truncate(rng.gen_range(0..=d.len()));
            }
            input.push(rng.gen());
            input.extend_from_slice(&(d.len() as u16).to_le_bytes());
            input.extend_from_slice(&d);
        }
        all.push(input);
    }
    all
}

/// Inputs for `http_server`: the two control bytes, then a connection's
/// bytes: HTTP/1.1 requests (pipelined, with the odd broken piece), or the
/// HTTP/2 preface (sent by the input itself, cut short at times, or by the
/// control bit) and frames.
fn http_server_inputs() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut all = Vec::new();
    for _ in 0..RUNS {
        let mut mode: u8 = rng.gen();
        let mut input = vec![rng.gen::<u8>()];
        if rng.gen_ratio(1, 2) {
            mode &= !2;
            input.push(mode);
            for _ in 0..rng.gen_range(1..4) {
                h1_request(&mut rng, &mut input);
            }
        } else {
            if rng.gen_ratio(1, 2) {
                mode &= !2;
                let preface = strata::http::h2::frame::PREFACE;
                input.push(mode);
                let n = if rng.gen_ratio(1, 8) {
                    rng.gen_range(0..preface.len())
                } else {
                    preface.len()
                };
                input.extend_from_slice(&preface[..n]);
            } else {
                input.push(mode | 2);
            }
            if rng.gen_ratio(7, 8) {
                h2_frame(&mut input, 4, 0, 0, &[]);
                h2_frame(&mut input, 4, 0x1, 0, &[]);
            }
            input.extend(h2_frames(&mut rng, 10));
        }
        if input.len() > 2 && rng.gen_ratio(1, 8) {
            let at = rng.gen_range(2..input.len());
            input[at] = rng.gen();
        }
        all.push(input);
    }
    all
}

/// The datagrams of a real exchange between two reliable connections
/// (handshake, data both ways, FIN, close), as the encoders write them.
fn reliable_exchange(seed: u64) -> Vec<Vec<u8>> {
    let cfg = ReliableConfig::default();
    let mut now = strata::testing::epoch();
    let (a, b) = (ConnId(0x0123_4567_89ab_cdef), ConnId(0x0fed_cba9_8765_4321));
    let mut client = Connection::connect(cfg.clone(), now, a, ConnId(seed));
    let mut server = Connection::accept(cfg, now, b, a, true);
    client.write(now, &vec![0x42; 3000 + seed as usize * 500]);
    server.write(now, &vec![0x24; 2000]);
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for round in 0..12 {
        if round == 6 {
            client.finish();
            server.finish();
        }
        if round == 9 {
            client.close_gracefully(now);
        }
        while client.poll_transmit(now, &mut out) {
            seen.push(out.clone());
            server.handle_datagram(now, &out);
        }
        while server.poll_transmit(now, &mut out) {
            seen.push(out.clone());
            client.handle_datagram(now, &out);
        }
        while client.read(now, usize::MAX).is_some() {}
        while server.read(now, usize::MAX).is_some() {}
        now += std::time::Duration::from_millis(20);
    }
    seen
}

fn record(input: &mut Vec<u8>, flags: u8, d: &[u8]) {
    input.push(flags);
    input.extend_from_slice(&(d.len() as u16).to_be_bytes());
    input.extend_from_slice(d);
}

/// Inputs for `reliable_listener`: the control byte, then records that
/// mostly replay or nudge the real client's latest datagram (from its own
/// address or another), or are datagrams of the reliable wire format, and
/// let time pass.
fn reliable_listener_inputs() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let mut all = Vec::new();
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        for _ in 0..rng.gen_range(0..10) {
            let mut flags: u8 = rng.gen::<u8>() & !0x0c;
            if rng.gen_ratio(1, 2) {
                flags &= 0x1f;
            }
            if rng.gen_ratio(1, 2) {
                // The real client's latest, changed in a byte or two.
                flags |= 4;
                let mut x = vec![0u8; rng.gen_range(0..40)];
                for _ in 0..rng.gen_range(0..3) {
                    if !x.is_empty() {
                        let i = rng.gen_range(0..x.len());
                        x[i] = rng.gen();
                    }
                }
                record(&mut input, flags, &x);
            } else {
                if rng.gen_ratio(1, 2) {
                    flags |= 8;
                }
                record(&mut input, flags, &rw_datagram(&mut rng));
            }
        }
        all.push(input);
    }
    all
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

/// WebSocket frames as a client sends them, mostly well formed: a limit
/// byte, a chunking byte, then frames of every opcode (reserved ones too)
/// with FIN, RSV and mask bits sometimes off, lengths in every form (some
/// not minimal), text sometimes not UTF-8, close frames with any code.
fn ws_frame_inputs() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let mut all = Vec::new();
    let ops = [0u8, 1, 2, 8, 9, 10, 1, 2, 0, 3, 0xB];
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>(), rng.gen::<u8>()];
        for _ in 0..rng.gen_range(0..6) {
            let op = ops[rng.gen_range(0..ops.len())];
            let fin = rng.gen_ratio(3, 4);
            let rsv = if rng.gen_ratio(1, 20) {
                0x10 << rng.gen_range(0..3)
            } else {
                0
            };
            let mut payload: Vec<u8> = match rng.gen_range(0..4) {
                0 => (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect(),
                1 => "héllo wörld P".as_bytes()[..rng.gen_range(0..14)].to_vec(),
                2 if op == 8 => {
                    let code: u16 = [1000, 1001, 1002, 1005, 1006, 1015, 3000, 4999, 999, 5000]
                        [rng.gen_range(0..10)];
                    let mut p = code.to_be_bytes().to_vec();
                    p.extend_from_slice(&b"bye\xff"[..rng.gen_range(0..5)]);
                    p
                }
                _ => vec![b'P'; rng.gen_range(0..300)],
            };
            if rng.gen_ratio(1, 30) {
                payload.truncate(1);
            }
            input.push(if fin { 0x80 } else { 0 } | rsv | op);
            let masked = !rng.gen_ratio(1, 20);
            let m = if masked { 0x80 } else { 0 };
            let n = payload.len();
            match rng.gen_range(0..10) {
                0 => input.extend_from_slice(&[m | 126, (n >> 8) as u8, n as u8]),
                1 => {
                    input.push(m | 127);
                    input.extend_from_slice(&(n as u64).to_be_bytes());
                }
                _ if n < 126 => input.push(m | n as u8),
                _ => input.extend_from_slice(&[m | 126, (n >> 8) as u8, n as u8]),
            }
            if masked {
                let key: [u8; 4] = rng.gen();
                input.extend_from_slice(&key);
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= key[i & 3];
                }
            }
            input.extend_from_slice(&payload);
        }
        if rng.gen_ratio(1, 5) {
            let cut = rng.gen_range(2..=input.len().max(2));
            input.truncate(cut);
        }
        all.push(input);
    }
    all
}

/// Records of HTTP/3 frames, mostly well formed: a limit byte, a piece
/// size byte, then frames of every type (reserved and HTTP/2-only types
/// too) with random payloads, lengths sometimes off.
fn h3_frames_inputs() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut all = Vec::new();
    let kinds: [u64; 12] = [0, 1, 3, 4, 5, 7, 0xd, 2, 6, 0x21, 0x40, 0x1f * 7 + 0x21];
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>(), rng.gen::<u8>()];
        for _ in 0..rng.gen_range(0..6) {
            let k = kinds[rng.gen_range(0..kinds.len())];
            let mut payload: Vec<u8> = (0..rng.gen_range(0..24)).map(|_| rng.gen()).collect();
            if k == 4 && rng.gen_ratio(1, 2) {
                payload.clear();
                for _ in 0..rng.gen_range(0..4) {
                    strata::http::h3::varint::write(&mut payload, rng.gen_range(0..10));
                    strata::http::h3::varint::write(&mut payload, rng.gen_range(0..3));
                }
            }
            let len = if rng.gen_ratio(1, 10) {
                rng.gen_range(0..64)
            } else {
                payload.len() as u64
            };
            strata::http::h3::varint::write(&mut input, k);
            strata::http::h3::varint::write(&mut input, len);
            input.extend_from_slice(&payload);
        }
        all.push(input);
    }
    all
}

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
