//! Decoder and encoder tests: RFC 7541 Appendix C, malformed input, limits.

use super::*;

type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn decode(dec: &mut Decoder, block: &[u8]) -> Result<Fields, HpackError> {
    let mut out = Vec::new();
    dec.decode_fragment(block, true, &mut |n, v, s| {
        out.push((n.to_vec(), v.to_vec(), s))
    })?;
    Ok(out)
}

/// Decodes `block` cut at `cut`, as two fragments.
fn decode_split(dec: &mut Decoder, block: &[u8], cut: usize) -> Result<Fields, HpackError> {
    let mut out = Vec::new();
    let (a, b) = block.split_at(cut);
    let mut emit = |n: &[u8], v: &[u8], s: bool| out.push((n.to_vec(), v.to_vec(), s));
    dec.decode_fragment(a, false, &mut emit)?;
    dec.decode_fragment(b, true, &mut emit)?;
    Ok(out)
}

fn fields(list: &[(&str, &str)]) -> Fields {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec(), false))
        .collect()
}

fn entries(list: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn c2_1_literal_with_indexing() {
    let mut dec = Decoder::new(4096);
    let block = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    let got = decode(&mut dec, &block).unwrap();
    assert_eq!(got, fields(&[("custom-key", "custom-header")]));
    assert_eq!(dec.table_size(), 55);
    assert_eq!(dec.entries(), entries(&[("custom-key", "custom-header")]));
}

#[test]
fn c2_2_literal_without_indexing() {
    let mut dec = Decoder::new(4096);
    let got = decode(&mut dec, &hex("040c 2f73 616d 706c 652f 7061 7468")).unwrap();
    assert_eq!(got, fields(&[(":path", "/sample/path")]));
    assert_eq!(dec.table_size(), 0);
}

#[test]
fn c2_3_never_indexed_is_sensitive() {
    let mut dec = Decoder::new(4096);
    let block = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
    let got = decode(&mut dec, &block).unwrap();
    assert_eq!(got, [(b"password".to_vec(), b"secret".to_vec(), true)]);
    assert_eq!(dec.table_size(), 0);
}

#[test]
fn c2_4_indexed() {
    let mut dec = Decoder::new(4096);
    assert_eq!(
        decode(&mut dec, &[0x82]).unwrap(),
        fields(&[(":method", "GET")])
    );
}

const C3: [&str; 3] = [
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
];

const C4: [&str; 3] = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];

fn requests() -> [Fields; 3] {
    let base = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    let mut second = base.to_vec();
    second.push(("cache-control", "no-cache"));
    [
        fields(&base),
        fields(&second),
        fields(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ]),
    ]
}

fn check_requests(blocks: [&str; 3]) {
    let want = requests();
    let sizes = [57, 110, 164];
    let mut dec = Decoder::new(4096);
    for i in 0..3 {
        assert_eq!(decode(&mut dec, &hex(blocks[i])).unwrap(), want[i], "{i}");
        assert_eq!(dec.table_size(), sizes[i]);
    }
    assert_eq!(
        dec.entries(),
        entries(&[
            ("custom-key", "custom-value"),
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ])
    );
}

#[test]
fn c3_requests_without_huffman() {
    check_requests(C3);
}

#[test]
fn c4_requests_with_huffman() {
    check_requests(C4);
}

const C5: [&str; 3] = [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a \
     3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 \
     677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 \
     553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
];

const C6: [&str; 3] = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e \
     919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 \
     821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed \
     4ee5 b106 3d50 07",
];

fn responses() -> [Fields; 3] {
    let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
    [
        fields(&[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ]),
        fields(&[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ]),
        fields(&[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            ("set-cookie", cookie),
        ]),
    ]
}

fn check_responses(blocks: [&str; 3]) {
    let want = responses();
    let sizes = [222, 222, 215];
    let mut dec = Decoder::new(256);
    for i in 0..3 {
        assert_eq!(decode(&mut dec, &hex(blocks[i])).unwrap(), want[i], "{i}");
        assert_eq!(dec.table_size(), sizes[i]);
    }
    assert_eq!(
        dec.entries(),
        entries(&[
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
            ),
            ("content-encoding", "gzip"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ])
    );
}

#[test]
fn c5_responses_with_eviction() {
    check_responses(C5);
}

#[test]
fn c6_responses_with_huffman_and_eviction() {
    check_responses(C6);
}

#[test]
fn appendix_c_at_every_split_point() {
    for (blocks, table) in [(C3, 4096), (C4, 4096), (C5, 256), (C6, 256)] {
        let blocks = blocks.map(hex);
        let want: Vec<Fields> = {
            let mut dec = Decoder::new(table);
            blocks
                .iter()
                .map(|b| decode(&mut dec, b).unwrap())
                .collect()
        };
        for i in 0..3 {
            for cut in 0..=blocks[i].len() {
                let mut dec = Decoder::new(table);
                for b in &blocks[..i] {
                    decode(&mut dec, b).unwrap();
                }
                assert_eq!(decode_split(&mut dec, &blocks[i], cut).unwrap(), want[i]);
            }
        }
    }
}

#[test]
fn encoder_reproduces_c4() {
    let mut enc = Encoder::new();
    for (i, list) in requests().iter().enumerate() {
        let mut out = Vec::new();
        enc.encode(list.iter().map(|(n, v, s)| (&n[..], &v[..], *s)), &mut out);
        assert_eq!(out, hex(C4[i]), "C.4.{}", i + 1);
    }
    assert_eq!(enc.table_size(), 164);
}

#[test]
fn encoder_round_trips_responses_in_a_small_table() {
    let mut enc = Encoder::new();
    enc.set_max_table_size(256);
    let mut dec = Decoder::new(256);
    for list in responses() {
        let mut out = Vec::new();
        enc.encode(list.iter().map(|(n, v, s)| (&n[..], &v[..], *s)), &mut out);
        assert_eq!(decode(&mut dec, &out).unwrap(), list);
        assert_eq!(dec.table_size(), enc.table_size());
    }
}

#[test]
fn encoder_sends_the_minimum_then_the_final_size() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(4096);
    let block = |enc: &mut Encoder| {
        let mut out = Vec::new();
        enc.encode([(&b"x-a"[..], &b"1"[..], false)], &mut out);
        out
    };
    decode(&mut dec, &block(&mut enc)).unwrap();
    assert_eq!(dec.table_size(), 36);
    // Shrink to 0 then back to 4096 before the next block: the table must
    // be flushed, so the encoder sends 0 then 4096.
    enc.set_max_table_size(0);
    enc.set_max_table_size(4096);
    dec.set_max_table_size(0);
    dec.set_max_table_size(4096);
    let out = block(&mut enc);
    assert_eq!(out[..4], [0x20, 0x3f, 0xe1, 0x1f]);
    assert_eq!(decode(&mut dec, &out).unwrap(), fields(&[("x-a", "1")]));
    assert_eq!((dec.table_size(), enc.table_size()), (36, 36));
}

#[test]
fn sensitive_flag_round_trips() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(4096);
    let mut out = Vec::new();
    enc.encode(
        [
            (&b"x-token"[..], &b"secret-value"[..], true),
            (&b"x-plain"[..], &b"v"[..], false),
            (&b"authorization"[..], &b"Bearer abcdef"[..], false),
        ],
        &mut out,
    );
    let got = decode(&mut dec, &out).unwrap();
    let flags: Vec<bool> = got.iter().map(|f| f.2).collect();
    assert_eq!(flags, [true, false, true]);
    assert_eq!(dec.entries(), entries(&[("x-plain", "v")]));
}

#[test]
fn integer_overflow() {
    // 127 + 0x7f + ... + 0x0f << 28 > 2^32 - 1.
    let mut dec = Decoder::new(4096);
    let r = decode(&mut dec, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(r, Err(HpackError::IntegerOverflow));
    // Six continuation bytes, even of zeros, are too many.
    let mut dec = Decoder::new(4096);
    let r = decode(&mut dec, &[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert_eq!(r, Err(HpackError::IntegerOverflow));
    // Five are fine (an over-long encoding of 127): then a bad index.
    let mut dec = Decoder::new(4096);
    let r = decode(&mut dec, &[0xff, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert_eq!(r, Err(HpackError::BadIndex { index: 127 }));
    // A string length overflows too, across fragments.
    let mut dec = Decoder::new(4096);
    let block = [0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert_eq!(
        decode_split(&mut dec, &block, 3),
        Err(HpackError::IntegerOverflow)
    );
}

#[test]
fn string_too_long() {
    let mut dec = Decoder::new(4096);
    // New-name literal whose name is 16 MiB + 1 long: 127 + 0x7f_ff82.
    let mut block = vec![0x00, 0x7f];
    let mut rest = MAX_STRING_LEN + 1 - 127;
    while rest >= 0x80 {
        block.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    block.push(rest as u8);
    assert_eq!(
        decode(&mut dec, &block),
        Err(HpackError::StringTooLong {
            len: MAX_STRING_LEN + 1,
            limit: MAX_STRING_LEN
        })
    );
}

#[test]
fn size_update_must_be_at_the_start() {
    let mut dec = Decoder::new(4096);
    assert_eq!(
        decode(&mut dec, &[0x82, 0x20]),
        Err(HpackError::TableSizeUpdateNotAtStart)
    );
    // Also when the field and the update are in different fragments.
    let mut dec = Decoder::new(4096);
    assert_eq!(
        decode_split(&mut dec, &[0x82, 0x20], 1),
        Err(HpackError::TableSizeUpdateNotAtStart)
    );
    // Two updates at the start, then fields, in a second block: fine.
    let mut dec = Decoder::new(4096);
    decode(&mut dec, &[0x82]).unwrap();
    let got = decode(&mut dec, &[0x20, 0x3f, 0x61, 0x82]).unwrap();
    assert_eq!(got, fields(&[(":method", "GET")]));
}

#[test]
fn size_update_above_the_limit() {
    let mut dec = Decoder::new(4096);
    decode(&mut dec, &[0x3f, 0xe1, 0x1f]).unwrap(); // exactly 4096
    assert_eq!(
        decode(&mut dec, &[0x3f, 0xe2, 0x1f]),
        Err(HpackError::TableSizeOverLimit {
            size: 4097,
            limit: 4096
        })
    );
}

#[test]
fn a_lowered_limit_requires_an_update() {
    let mut dec = Decoder::new(4096);
    dec.set_max_table_size(100);
    assert_eq!(
        decode(&mut dec, &[0x82]),
        Err(HpackError::MissingTableSizeUpdate)
    );
    // An update above the smallest limit set does not count.
    let mut dec = Decoder::new(4096);
    dec.set_max_table_size(0);
    dec.set_max_table_size(4096);
    assert_eq!(
        decode(&mut dec, &[0x3f, 0xe1, 0x1f, 0x82]),
        Err(HpackError::MissingTableSizeUpdate)
    );
    // A raised limit needs none.
    let mut dec = Decoder::new(4096);
    dec.set_max_table_size(8192);
    decode(&mut dec, &[0x82]).unwrap();
    // An update to 0 evicts everything.
    let mut dec = Decoder::new(4096);
    decode(&mut dec, &hex(C3[0])).unwrap();
    dec.set_max_table_size(0);
    decode(&mut dec, &[0x20, 0x82]).unwrap();
    assert_eq!(dec.table_size(), 0);
}

#[test]
fn bad_indices() {
    for (block, index) in [
        (&[0x80][..], 0),              // indexed 0
        (&[0xbe][..], 62),             // empty dynamic table
        (&[0x7e, 0x01, b'x'][..], 62), // indexed name, incremental
        (&[0x0f, 0x30, 0x00][..], 63), // indexed name, without indexing
    ] {
        let mut dec = Decoder::new(4096);
        assert_eq!(decode(&mut dec, block), Err(HpackError::BadIndex { index }));
    }
    // Index 62 becomes valid once something is inserted.
    let mut dec = Decoder::new(4096);
    decode(&mut dec, &[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
    assert_eq!(decode(&mut dec, &[0xbe]).unwrap(), fields(&[("a", "b")]));
}

#[test]
fn bad_huffman() {
    // Literal without indexing, name :authority (1), Huffman value.
    let ok = [0x01, 0x81, 0x07]; // "0" then 3 one-bits of padding
    assert_eq!(
        decode(&mut Decoder::new(4096), &ok).unwrap(),
        fields(&[(":authority", "0")])
    );
    for value in [
        &[0x81, 0x06][..],                   // padding not all ones
        &[0x82, 0x07, 0xff][..],             // 11 bits of padding
        &[0x81, 0xff][..],                   // 8 bits of padding only
        &[0x84, 0xff, 0xff, 0xff, 0xff][..], // EOS
    ] {
        let mut block = vec![0x01];
        block.extend_from_slice(value);
        let mut dec = Decoder::new(4096);
        assert_eq!(
            decode(&mut dec, &block),
            Err(HpackError::BadHuffman),
            "{value:x?}"
        );
    }
}

#[test]
fn truncated_blocks() {
    let full = hex(C4[0]);
    for cut in 1..full.len() {
        if [1, 2, 3].contains(&cut) {
            continue; // ends after a complete indexed field
        }
        let mut dec = Decoder::new(4096);
        assert_eq!(
            decode(&mut dec, &full[..cut]),
            Err(HpackError::Truncated),
            "{cut}"
        );
    }
}

#[test]
fn errors_are_sticky() {
    let mut dec = Decoder::new(4096);
    assert_eq!(
        decode(&mut dec, &[0x80]),
        Err(HpackError::BadIndex { index: 0 })
    );
    dec.begin_block(1 << 20);
    assert_eq!(
        decode(&mut dec, &[0x82]),
        Err(HpackError::BadIndex { index: 0 })
    );
}

#[test]
fn header_list_budget() {
    let mut dec = Decoder::new(4096);
    // ":method: GET" (42) + ":path: /" (38) = 80.
    dec.begin_block(80);
    assert_eq!(
        decode(&mut dec, &[0x82, 0x84]).unwrap(),
        fields(&[(":method", "GET"), (":path", "/")])
    );
    dec.begin_block(79);
    let mut seen = Vec::new();
    let r = dec.decode_fragment(
        &[0x82, 0x84, 0x40, 0x01, b'a', 0x01, b'b', 0x86],
        true,
        &mut |n, _, _| seen.push(n.to_vec()),
    );
    assert_eq!(r, Err(HpackError::HeaderListTooLarge { limit: 79 }));
    assert_eq!(seen, [b":method".to_vec()]);
    // Not fatal; the field decoded over budget still went into the table.
    dec.begin_block(1000);
    assert_eq!(decode(&mut dec, &[0xbe]).unwrap(), fields(&[("a", "b")]));
}

#[test]
fn budget_is_per_block_and_kept_without_begin_block() {
    let mut dec = Decoder::new(4096);
    dec.begin_block(50);
    decode(&mut dec, &[0x82]).unwrap();
    decode(&mut dec, &[0x82]).unwrap();
    assert_eq!(
        decode(&mut dec, &[0x82, 0x82]),
        Err(HpackError::HeaderListTooLarge { limit: 50 })
    );
}

#[test]
fn hpack_bomb_hits_the_budget_without_allocating() {
    let mut dec = Decoder::new(4096);
    let budget = 16 * 1024;
    // One 4000-byte value inserted with incremental indexing ...
    let mut block = vec![0x40, 0x01, b'x', 0x7f];
    let mut rest = 4000 - 127;
    while rest >= 0x80 {
        block.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    block.push(rest as u8);
    block.extend(std::iter::repeat_n(b'v', 4000));
    // ... then referenced 100 000 times.
    block.extend(std::iter::repeat_n(0xbe, 100_000));
    dec.begin_block(budget);
    let mut emitted = 0;
    let mut fragments = block.chunks(1000).peekable();
    let mut result = Ok(());
    while let Some(f) = fragments.next() {
        let end = fragments.peek().is_none();
        result = dec.decode_fragment(f, end, &mut |n, v, _| emitted += n.len() + v.len());
        if !end {
            result.clone().unwrap();
            assert!(dec.scratch_capacity() <= 2 * 4096 + 2048);
        }
    }
    assert_eq!(
        result,
        Err(HpackError::HeaderListTooLarge { limit: budget })
    );
    assert!(emitted <= budget, "{emitted}");
    assert_eq!(emitted, 4 * 4001);
}

#[test]
fn a_huge_unindexed_literal_is_checked_but_not_stored() {
    let mut dec = Decoder::new(4096);
    let budget = 8 * 1024;
    let big = vec![b'a'; 1 << 20];
    let mut block = Vec::new();
    for huffman in [false, true] {
        // Literal without indexing, new name, 1 MiB value.
        let mut value = Vec::new();
        if huffman {
            huffman::encode(&big, &mut value);
        } else {
            value.clone_from(&big);
        }
        block.extend([0x00, 0x01, b'k', if huffman { 0xff } else { 0x7f }]);
        let mut rest = value.len() - 127;
        while rest >= 0x80 {
            block.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        block.push(rest as u8);
        block.extend_from_slice(&value);
    }
    block.push(0x82);
    dec.begin_block(budget);
    let mut n = 0;
    for f in block.chunks(16 * 1024) {
        dec.decode_fragment(f, false, &mut |_, _, _| n += 1)
            .unwrap();
        assert!(dec.scratch_capacity() < budget + 64 * 1024);
    }
    assert_eq!(
        dec.decode_fragment(&[], true, &mut |_, _, _| n += 1),
        Err(HpackError::HeaderListTooLarge { limit: budget })
    );
    assert_eq!(n, 0);
    // An indexed literal too big for the table empties it.
    decode(&mut dec, &[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
    assert_eq!(dec.table_size(), 34);
    let mut block = vec![0x40, 0x01, b'k', 0x7f];
    let mut rest = 5000 - 127;
    while rest >= 0x80 {
        block.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    block.push(rest as u8);
    block.extend(std::iter::repeat_n(b'z', 5000));
    dec.begin_block(budget);
    assert_eq!(decode(&mut dec, &block).unwrap().len(), 1);
    assert_eq!(dec.table_size(), 0);
}
