//! Seeded generators of the HTTP targets: HPACK, HTTP/2 frames and
//! connections, HTTP/1.1 requests, QPACK, HTTP/3 frames, WebSocket frames,
//! and the whole-server `http_server` input.

use super::*;

/// Valid pieces of HPACK field blocks: indexed request pseudo-headers,
/// literals (plain, Huffman-coded, never-indexed, with new names, long
/// enough to evict), and references to the first two dynamic entries
/// (valid once the table holds them).
pub(super) const HPACK_PIECES: &[&[u8]] = &[
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
pub(super) const HPACK_SIZE_UPDATES: &[&[u8]] = &[b"\x20", b"\x3f\x21", b"\x3f\xe1\x1f"];

/// Pieces that are wrong wherever they are.
pub(super) const HPACK_HOSTILE: &[&[u8]] = &[
    b"\x20",                     // a size update after a field
    b"\x7f\x81\xff",             // index 127+, then a truncated integer
    b"\xff\xff\xff\xff\xff\x0f", // an overflowing index
    b"\x00\x7f",                 // a literal name announcing 127 bytes
    b"\xc0",                     // index 64, past a small table
    b"\x41\x81\xff",             // Huffman padding longer than 7 bits
];

/// One HPACK field block of up to `max` pieces, sometimes starting with a
/// size update, with the odd hostile piece or random byte.
pub(super) fn hpack_block(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
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

pub(super) fn hpack_decode_inputs() -> Vec<Vec<u8>> {
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
pub(super) fn h2_payload(rng: &mut ChaCha8Rng, kind: u8, flags: u8) -> Vec<u8> {
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
pub(super) fn h2_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A field block for a request: the pseudo-headers in order (`/b` asks
/// the echo service for a bulk answer), sometimes with an extra or a
/// random piece.
pub(super) fn h2_request_block(rng: &mut ChaCha8Rng) -> Vec<u8> {
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
pub(super) fn h2_plausible(rng: &mut ChaCha8Rng, out: &mut Vec<u8>, last: &mut u32) {
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
pub(super) fn h2_random(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
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
pub(super) fn h2_frames(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
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

pub(super) fn h2_frame_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        input.extend(h2_frames(&mut rng, 8));
        all.push(input);
    }
    all
}

pub(super) fn h2_server_inputs() -> Vec<Vec<u8>> {
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
pub(super) fn h1_request(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
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

pub(super) fn h1_server_inputs() -> Vec<Vec<u8>> {
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

/// One QPACK record (`[kind, len, bytes]`) of the `qpack` target.
pub(super) fn qpack_record(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    for piece in bytes.chunks(255) {
        out.push(kind);
        out.push(piece.len() as u8);
        out.extend_from_slice(piece);
    }
}

/// Fields for the QPACK generator: names and values that repeat.
pub(super) fn qpack_fields(rng: &mut ChaCha8Rng) -> Vec<strata::http::qpack::HeaderField> {
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

pub(super) fn qpack_inputs() -> Vec<Vec<u8>> {
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

/// Inputs for `http_server`: the two control bytes, then a connection's
/// bytes: HTTP/1.1 requests (pipelined, with the odd broken piece), or the
/// HTTP/2 preface (sent by the input itself, cut short at times, or by the
/// control bit) and frames.
pub(super) fn http_server_inputs() -> Vec<Vec<u8>> {
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

/// WebSocket frames as a client sends them, mostly well formed: a limit
/// byte, a chunking byte, then frames of every opcode (reserved ones too)
/// with FIN, RSV and mask bits sometimes off, lengths in every form (some
/// not minimal), text sometimes not UTF-8, close frames with any code.
pub(super) fn ws_frame_inputs() -> Vec<Vec<u8>> {
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
pub(super) fn h3_frames_inputs() -> Vec<Vec<u8>> {
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
