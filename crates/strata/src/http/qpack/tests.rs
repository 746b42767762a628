//! QPACK against RFC 9204: Appendix B byte for byte, every instruction,
//! the error codes of §6, blocking, eviction, Required Insert Count
//! wrap-around, and a seeded property test over random connections.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::wire::put_str;
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn fields(list: &[(&str, &str)]) -> Vec<HeaderField> {
    list.iter()
        .map(|(n, v)| HeaderField::new(n.to_string(), v.to_string()))
        .collect()
}

fn decoded(list: &[(&str, &str)]) -> Result<Decoded, QpackError> {
    Ok(Decoded::Fields(fields(list)))
}

fn table_of(t: &table::DynamicTable) -> Vec<(u64, String, String)> {
    t.iter()
        .map(|(a, f)| {
            let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
            (a, s(&f.name), s(&f.value))
        })
        .collect()
}

// ---------------------------------------------------------------- Appendix B

#[test]
fn rfc9204_appendix_b_decoder_side_byte_for_byte() {
    let mut dec = QpackDecoder::new(220, 1, 16 * 1024);
    let mut ds = Vec::new();

    // B.1 Literal Field Line With Name Reference.
    let got = dec.decode(0, &hex("0000 510b 2f69 6e64 6578 2e68 746d 6c"), &mut ds);
    assert_eq!(got, decoded(&[(":path", "/index.html")]));
    assert!(ds.is_empty());

    // B.2 Dynamic Table.
    let enc_stream = hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d
         c10c 2f73 616d 706c 652f 7061 7468");
    assert_eq!(dec.on_encoder_stream(&enc_stream), Ok(vec![]));
    assert_eq!(dec.inner.table().size(), 106);
    let got = dec.decode(4, &hex("0381 10 11"), &mut ds);
    assert_eq!(
        got,
        decoded(&[(":authority", "www.example.com"), (":path", "/sample/path")])
    );
    assert_eq!(ds, [0x84], "Section Acknowledgment (stream=4)");
    ds.clear();

    // B.3 Speculative Insert.
    let insert = hex("4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565");
    assert_eq!(dec.on_encoder_stream(&insert), Ok(vec![]));
    assert_eq!(dec.inner.table().size(), 160);
    dec.acknowledge_inserts(&mut ds);
    assert_eq!(ds, [0x01], "Insert Count Increment (1)");
    ds.clear();

    // B.4 Duplicate Instruction, Stream Cancellation: the section arrives
    // before the Duplicate it needs, then the stream is cancelled.
    let section8 = hex("0500 80 c1 81");
    assert_eq!(dec.decode(8, &section8, &mut ds), Ok(Decoded::Blocked));
    assert!(ds.is_empty());
    dec.cancel_stream(8, &mut ds);
    assert_eq!(ds, [0x48], "Stream Cancellation (Stream=8)");
    ds.clear();
    // The late Duplicate no longer unblocks stream 8.
    assert_eq!(dec.on_encoder_stream(&hex("02")), Ok(vec![]));
    assert_eq!(dec.inner.table().size(), 217);
    // Had it not been cancelled, the section reads (Base 4, relative 0 = the duplicate).
    let got = dec.decode(8, &section8, &mut ds);
    assert_eq!(
        got,
        decoded(&[
            (":authority", "www.example.com"),
            (":path", "/"),
            ("custom-key", "custom-value"),
        ])
    );
    assert_eq!(ds, [0x88]);
    ds.clear();

    // B.5 Dynamic Table Insert, Eviction.
    let insert = hex("810d 6375 7374 6f6d 2d76 616c 7565 32");
    assert_eq!(dec.on_encoder_stream(&insert), Ok(vec![]));
    let t = dec.inner.table();
    assert_eq!((t.dropped(), t.insert_count(), t.size()), (1, 5, 215));
    assert_eq!(
        table_of(t),
        [
            (1, ":path".into(), "/sample/path".into()),
            (2, "custom-key".into(), "custom-value".into()),
            (3, ":authority".into(), "www.example.com".into()),
            (4, "custom-key".into(), "custom-value2".into()),
        ]
    );
}

#[test]
fn rfc9204_appendix_b_arrives_one_byte_at_a_time() {
    let stream = hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d
         c10c 2f73 616d 706c 652f 7061 7468
         4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565
         02 810d 6375 7374 6f6d 2d76 616c 7565 32");
    let mut dec = QpackDecoder::new(220, 1, 16 * 1024);
    for b in &stream {
        assert_eq!(dec.on_encoder_stream(std::slice::from_ref(b)), Ok(vec![]));
    }
    assert_eq!(dec.buffered(), 0);
    assert_eq!(dec.inner.table().size(), 215);
}

#[test]
fn rfc9204_appendix_b2_encoder_side() {
    let mut enc = QpackEncoder::new(220);
    let mut es = Vec::new();
    enc.set_peer_settings(220, 1, &mut es);
    assert_eq!(es, hex("3fbd01"), "Set Dynamic Table Capacity=220");
    let mut section = Vec::new();
    let f = fields(&[(":authority", "www.example.com"), (":path", "/sample/path")]);
    enc.encode(4, &f, &mut section, &mut es).unwrap();
    // The section is the RFC's byte for byte: RIC 2, Base 0, two post-base
    // references.
    assert_eq!(section, hex("0381 10 11"));
    // The inserts are the RFC's, with the values Huffman-coded where shorter.
    let mut want = hex("3fbd01 c0");
    put_str(&mut want, 0, 7, b"www.example.com");
    want.push(0xc1);
    put_str(&mut want, 0, 7, b"/sample/path");
    assert_eq!(es, want);
    assert_eq!((enc.insert_count(), enc.known_received_count()), (2, 0));
    assert_eq!(enc.unacked_sections(), 1);
    // The decoder's "84" acknowledges the section and both inserts.
    enc.on_decoder_stream(&[0x84]).unwrap();
    assert_eq!((enc.known_received_count(), enc.unacked_sections()), (2, 0));
}

#[test]
fn the_encoder_writes_each_insert_instruction() {
    let (mut p, mut es) = Pair::new(4096, 4096, 16);
    assert_eq!(es, hex("3f e1 1f"), "Set Dynamic Table Capacity=4096");
    es.clear();
    let mut s = Vec::new();
    // A static name: Insert With Name Reference, T=1, index 95.
    p.enc
        .encode(0, &fields(&[("user-agent", "strata")]), &mut s, &mut es)
        .unwrap();
    let mut want = hex("ff 20");
    put_str(&mut want, 0, 7, b"strata");
    assert_eq!(es, want);
    es.clear();
    // A new name: Insert With Literal Name.
    p.enc
        .encode(4, &fields(&[("x-custom", "one")]), &mut s, &mut es)
        .unwrap();
    let mut want = Vec::new();
    put_str(&mut want, 0x40, 5, b"x-custom");
    put_str(&mut want, 0, 7, b"one");
    assert_eq!(es, want);
    es.clear();
    // The same name again: Insert With Name Reference, T=0, relative 0.
    p.enc
        .encode(8, &fields(&[("x-custom", "two")]), &mut s, &mut es)
        .unwrap();
    let mut want = hex("80");
    put_str(&mut want, 0, 7, b"two");
    assert_eq!(es, want);
    assert_eq!(p.enc.insert_count(), 3);
}

// ---------------------------------------------------------- round trips

/// An encoder and a decoder joined by their instruction streams.
struct Pair {
    enc: QpackEncoder,
    dec: QpackDecoder,
}

impl Pair {
    fn new(enc_cap: usize, dec_cap: usize, blocked: usize) -> (Self, Vec<u8>) {
        let mut es = Vec::new();
        let mut enc = QpackEncoder::new(enc_cap);
        enc.set_peer_settings(dec_cap as u64, blocked as u64, &mut es);
        let dec = QpackDecoder::new(dec_cap, blocked, 1 << 20);
        (Pair { enc, dec }, es)
    }

    /// Encodes, delivers the encoder stream first, decodes, and feeds the
    /// acknowledgments back: the section's bytes.
    fn round_trip(&mut self, es: &mut Vec<u8>, id: u64, f: &[HeaderField]) -> Vec<u8> {
        let mut section = Vec::new();
        self.enc.encode(id, f, &mut section, es).unwrap();
        self.dec.on_encoder_stream(es).unwrap();
        es.clear();
        let mut ds = Vec::new();
        assert_eq!(
            self.dec.decode(id, &section, &mut ds),
            Ok(Decoded::Fields(f.to_vec()))
        );
        self.enc.on_decoder_stream(&ds).unwrap();
        section
    }
}

fn request(path: &str) -> Vec<HeaderField> {
    fields(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "www.example.com"),
        (":path", path),
        ("user-agent", "strata/0.1 (a sans-IO protocol framework)"),
        ("accept", "*/*"),
        ("x-custom", "some value that repeats on every request"),
        ("cookie", "short"),
        (
            "authorization",
            "Bearer abcdefghijklmnopqrstuvwxyz0123456789",
        ),
    ])
}

#[test]
fn round_trip_with_capacity_zero_uses_static_and_literals_only() {
    let (mut p, mut es) = Pair::new(0, 0, 0);
    assert!(es.is_empty(), "no capacity instruction for a zero table");
    for i in 0..3 {
        let s = p.round_trip(&mut es, 4 * i, &request("/a"));
        assert_eq!(&s[..2], [0, 0]);
    }
    assert_eq!(p.enc.insert_count(), 0);
    // Our capacity 0 against a peer that allows a table: still none.
    let (mut p, mut es) = Pair::new(0, 4096, 16);
    p.round_trip(&mut es, 0, &request("/"));
    assert_eq!(p.enc.insert_count(), 0);
    // A peer that allows none against our 4096: none.
    let (mut p, mut es) = Pair::new(4096, 0, 16);
    p.round_trip(&mut es, 0, &request("/"));
    assert_eq!((p.enc.capacity(), p.enc.insert_count()), (0, 0));
}

#[test]
fn round_trip_with_a_table_shrinks_repeated_sections() {
    for cap in [220, 4096, 64 * 1024] {
        let (mut p, mut es) = Pair::new(cap, cap, 16);
        // Bytes on the request stream and the encoder stream together.
        let mut sent = |p: &mut Pair, id: u64, path: &str| {
            let mut section = Vec::new();
            p.enc
                .encode(id, &request(path), &mut section, &mut es)
                .unwrap();
            let n = section.len() + es.len();
            p.dec.on_encoder_stream(&es).unwrap();
            es.clear();
            let mut ds = Vec::new();
            assert_eq!(
                p.dec.decode(id, &section, &mut ds),
                Ok(Decoded::Fields(request(path)))
            );
            p.enc.on_decoder_stream(&ds).unwrap();
            n
        };
        let first = sent(&mut p, 0, "/first");
        let second = sent(&mut p, 4, "/second");
        let third = sent(&mut p, 8, "/third");
        let shrunk = if cap >= 4096 { first / 2 } else { first };
        assert!(
            second < shrunk && third <= second + 1,
            "cap {cap}: {first}, {second}, then {third} bytes"
        );
        assert_eq!(p.enc.unacked_sections(), 0);
    }
}

#[test]
fn sensitive_fields_are_never_inserted_and_carry_the_n_bit() {
    let (mut p, mut es) = Pair::new(4096, 4096, 16);
    let f = fields(&[("authorization", "secret"), ("cookie", "id=1")]);
    let s = p.round_trip(&mut es, 0, &f);
    assert_eq!(p.enc.insert_count(), 0);
    // authorization has a static name (84): 0111 xxxx with N set.
    assert_eq!(s[2], 0x70 | 0x0f);
    // A long cookie is worth inserting.
    let f = fields(&[("cookie", "session=0123456789abcdef0123")]);
    p.round_trip(&mut es, 4, &f);
    assert_eq!(p.enc.insert_count(), 1);
}

#[test]
fn required_insert_count_wraps_around() {
    // Capacity 100: MaxEntries 3, the encoded count runs 1..=6.
    let (mut p, mut es) = Pair::new(100, 100, 4);
    for i in 0..60u64 {
        let f = [HeaderField::new("x-n", format!("{i:08}"))];
        let s = p.round_trip(&mut es, 4 * i, &f);
        assert!((1..=6).contains(&s[0]), "section {i}: encoded RIC {}", s[0]);
    }
    assert!(p.enc.insert_count() >= 50, "{}", p.enc.insert_count());
}

#[test]
fn required_insert_count_decoding_follows_4_5_1_1() {
    let mut dec = QpackDecoder::new(100, 4, 1024); // MaxEntries 3, FullRange 6
    let d = &mut dec.inner;
    assert_eq!(d.required_insert_count(0), Ok(0));
    // Insert Count 0: encoded 1..=3 stand for 0+1-1.. : 1 -> ... only 1..=3 are valid.
    assert_eq!(d.required_insert_count(2), Ok(1));
    assert_eq!(d.required_insert_count(4), Ok(3));
    assert!(d.required_insert_count(5).is_err());
    assert!(d.required_insert_count(7).is_err());
    // After 10 inserts (MaxValue 13, MaxWrapped 12): encoded 1 is 12, encoded 6 is 11.
    let mut es = hex("3f45"); // capacity 100
    for i in 0..10 {
        es.push(0x43);
        es.extend_from_slice(format!("x-{i}").as_bytes());
        es.push(0);
    }
    dec.on_encoder_stream(&es).unwrap();
    let d = &mut dec.inner;
    assert_eq!(d.insert_count(), 10);
    assert_eq!(d.required_insert_count(1), Ok(12));
    assert_eq!(d.required_insert_count(2), Ok(13));
    assert_eq!(d.required_insert_count(6), Ok(11));
    assert_eq!(d.required_insert_count(5), Ok(10));
    assert_eq!(d.required_insert_count(3), Ok(8)); // 14 > 13: wraps back
}

// --------------------------------------------------------------- blocking

#[test]
fn a_blocked_section_decodes_once_its_inserts_arrive() {
    let (mut p, mut es) = Pair::new(4096, 4096, 1);
    p.dec.on_encoder_stream(&es).unwrap();
    es.clear();
    let mut s0 = Vec::new();
    let f0 = fields(&[("x-a", "one"), (":method", "GET")]);
    p.enc.encode(0, &f0, &mut s0, &mut es).unwrap();
    assert_eq!(p.enc.insert_count(), 1);
    let mut ds = Vec::new();
    assert_eq!(p.dec.decode(0, &s0, &mut ds), Ok(Decoded::Blocked));
    // Asking again while still blocked is fine and counts once.
    assert_eq!(p.dec.decode(0, &s0, &mut ds), Ok(Decoded::Blocked));
    assert!(ds.is_empty());

    // The blocked-streams limit (1) is used up: stream 4's new entry is
    // inserted but sent as a literal, and decodes without waiting.
    let mut s4 = Vec::new();
    let mut es4 = Vec::new();
    let f4 = fields(&[("x-b", "two")]);
    p.enc.encode(4, &f4, &mut s4, &mut es4).unwrap();
    assert_eq!(p.enc.insert_count(), 2);
    assert_eq!(&s4[..2], [0, 0]);
    assert_eq!(p.dec.decode(4, &s4, &mut ds), Ok(Decoded::Fields(f4)));

    // The inserts arrive split; the last piece unblocks stream 0.
    let (a, b) = es.split_at(es.len() / 2);
    assert_eq!(p.dec.on_encoder_stream(a), Ok(vec![]));
    assert_eq!(p.dec.on_encoder_stream(b), Ok(vec![0]));
    assert_eq!(p.dec.decode(0, &s0, &mut ds), Ok(Decoded::Fields(f0)));
    assert_eq!(ds, [0x80], "Section Acknowledgment (stream 0)");
    p.dec.on_encoder_stream(&es4).unwrap();
    p.dec.acknowledge_inserts(&mut ds);
    assert_eq!(ds, [0x80, 0x01]);
    p.enc.on_decoder_stream(&ds).unwrap();
    assert_eq!(
        (p.enc.known_received_count(), p.enc.unacked_sections()),
        (2, 0)
    );
}

#[test]
fn more_blocked_streams_than_allowed_is_decompression_failed() {
    // RIC 1 (encoded 2), Base 0 (sign, delta 0), post-base index 0.
    let section = [0x02, 0x80, 0x10];
    let mut dec = QpackDecoder::new(4096, 1, 1024);
    let mut ds = Vec::new();
    assert_eq!(dec.decode(0, &section, &mut ds), Ok(Decoded::Blocked));
    let err = dec.decode(4, &section, &mut ds).unwrap_err();
    assert_eq!(err.code(), 0x0200);
    // A cancelled stream frees its slot.
    dec.cancel_stream(0, &mut ds);
    assert_eq!(dec.decode(4, &section, &mut ds), Ok(Decoded::Blocked));
    // With no blocked streams allowed, the first one fails.
    let mut dec = QpackDecoder::new(4096, 0, 1024);
    assert_eq!(dec.decode(0, &section, &mut ds).unwrap_err().code(), 0x0200);
}

#[test]
fn the_encoder_never_blocks_a_peer_that_allows_no_blocked_streams() {
    let (mut p, mut es) = Pair::new(4096, 4096, 0);
    p.dec.on_encoder_stream(&es).unwrap();
    es.clear();
    let mut s = Vec::new();
    let f = request("/");
    p.enc.encode(0, &f, &mut s, &mut es).unwrap();
    // Inserted, but nothing unacknowledged is referenced: RIC 0.
    assert!(p.enc.insert_count() > 0);
    assert_eq!(&s[..2], [0, 0]);
    let mut ds = Vec::new();
    assert_eq!(p.dec.decode(0, &s, &mut ds), Ok(Decoded::Fields(f.clone())));
    p.dec.on_encoder_stream(&es).unwrap();
    es.clear();
    p.dec.acknowledge_inserts(&mut ds);
    p.enc.on_decoder_stream(&ds).unwrap();
    // Once acknowledged, the entries are used.
    let s2 = p.round_trip(&mut es, 4, &f);
    assert!(s2.len() < s.len());
    assert_ne!(&s2[..2], [0, 0]);
}

#[test]
fn an_unacknowledged_entry_is_not_inserted_twice() {
    let (mut p, mut es) = Pair::new(4096, 4096, 0);
    let f = fields(&[("x-a", "a value worth keeping")]);
    let mut s = Vec::new();
    p.enc.encode(0, &f, &mut s, &mut es).unwrap();
    p.enc.encode(4, &f, &mut s, &mut es).unwrap();
    assert_eq!(
        p.enc.insert_count(),
        1,
        "the second section waits for the ack"
    );
}

// --------------------------------------------------------------- eviction

#[test]
fn an_entry_an_unacknowledged_section_references_is_not_evicted() {
    // Capacity 100: two 46-byte entries fit, a third needs an eviction.
    let (mut p, mut es) = Pair::new(100, 100, 16);
    let a = fields(&[("x-aa", "0123456789")]);
    let b = fields(&[("x-bb", "0123456789")]);
    let c = fields(&[("x-cc", "0123456789")]);
    let mut s = Vec::new();
    p.enc.encode(0, &a, &mut s, &mut es).unwrap();
    assert_eq!(p.enc.insert_count(), 1);
    // The insert is acknowledged (Insert Count Increment) but the section
    // referencing it is not.
    p.enc.on_decoder_stream(&[0x01]).unwrap();
    assert_eq!(p.enc.known_received_count(), 1);
    p.enc.encode(4, &b, &mut s, &mut es).unwrap();
    assert_eq!(p.enc.insert_count(), 2);
    p.enc.encode(8, &c, &mut s, &mut es).unwrap();
    assert_eq!(
        p.enc.insert_count(),
        2,
        "x-aa is pinned by stream 0's section"
    );
    assert_eq!(p.enc.inner.table().dropped(), 0);
    // Stream 0 is acknowledged: x-aa may go.
    p.enc.on_decoder_stream(&[0x80]).unwrap();
    p.enc.encode(12, &c, &mut s, &mut es).unwrap();
    assert_eq!(p.enc.insert_count(), 3);
    assert_eq!(p.enc.inner.table().dropped(), 1);
    // The decoder, fed everything, agrees.
    p.dec.on_encoder_stream(&es).unwrap();
    assert_eq!(table_of(p.dec.inner.table()), table_of(p.enc.inner.table()));
}

#[test]
fn an_unacknowledged_insert_is_not_evicted() {
    let (mut p, mut es) = Pair::new(100, 100, 0);
    let mut s = Vec::new();
    p.enc
        .encode(0, &fields(&[("x-aa", "0123456789")]), &mut s, &mut es)
        .unwrap();
    p.enc
        .encode(4, &fields(&[("x-bb", "0123456789")]), &mut s, &mut es)
        .unwrap();
    p.enc
        .encode(8, &fields(&[("x-cc", "0123456789")]), &mut s, &mut es)
        .unwrap();
    assert_eq!(p.enc.insert_count(), 2);
    p.enc.on_decoder_stream(&[0x02]).unwrap();
    p.enc
        .encode(12, &fields(&[("x-cc", "0123456789")]), &mut s, &mut es)
        .unwrap();
    assert_eq!(p.enc.insert_count(), 3);
}

#[test]
fn stream_cancellation_releases_references() {
    let (mut p, mut es) = Pair::new(4096, 4096, 16);
    let mut s = Vec::new();
    p.enc.encode(8, &request("/"), &mut s, &mut es).unwrap();
    p.enc
        .encode(8, &fields(&[("x-trailer", "t")]), &mut s, &mut es)
        .unwrap();
    assert_eq!(p.enc.unacked_sections(), 2);
    p.enc.on_decoder_stream(&[0x48]).unwrap();
    assert_eq!(
        (p.enc.unacked_sections(), p.enc.known_received_count()),
        (0, 0)
    );
    // Cancelling a stream with nothing outstanding is harmless.
    p.enc.on_decoder_stream(&[0x48]).unwrap();
}

// ------------------------------------------------------------ error paths

fn decode_err(dec: &mut QpackDecoder, section: &[u8]) -> QpackError {
    dec.decode(0, section, &mut Vec::new()).unwrap_err()
}

/// A decoder (capacity 100, MaxEntries 3) holding `n` 33-byte entries
/// `x: ""`... (three fit).
fn decoder_with(n: usize) -> QpackDecoder {
    let mut dec = QpackDecoder::new(100, 4, 1 << 16);
    let mut es = hex("3f45");
    for _ in 0..n {
        es.extend_from_slice(&[0x41, b'x', 0x00]);
    }
    dec.on_encoder_stream(&es).unwrap();
    dec
}

#[test]
fn malformed_sections_are_decompression_failed() {
    let cases: &[(&str, usize, Vec<u8>)] = &[
        ("RIC above FullRange", 0, vec![0x07, 0x00]),
        ("RIC that cannot wrap", 0, vec![0x05, 0x00]),
        ("negative Base", 1, vec![0x02, 0x81, 0x80]),
        ("static index 99", 0, vec![0x00, 0x00, 0xff, 0x24]),
        ("dynamic reference with RIC 0", 1, vec![0x00, 0x00, 0x80]),
        ("post-base reference with RIC 0", 1, vec![0x00, 0x00, 0x10]),
        ("reference at the RIC", 2, vec![0x02, 0x00, 0x10]),
        ("relative index below zero", 2, vec![0x02, 0x00, 0x81]),
        ("evicted entry", 4, vec![0x05, 0x00, 0x83]),
        ("RIC larger than needed", 2, vec![0x03, 0x00, 0x81]),
        (
            "name reference to an evicted entry",
            4,
            vec![0x05, 0x00, 0x43, 0x00],
        ),
        ("post-base name beyond RIC", 2, vec![0x02, 0x00, 0x01, 0x00]),
        ("empty section", 0, vec![]),
        ("prefix cut", 0, vec![0x00]),
        ("string cut", 0, vec![0x00, 0x00, 0x51, 0x0b, b'/']),
        ("name cut", 0, vec![0x00, 0x00, 0x25, b'a']),
        ("integer cut", 0, vec![0x00, 0x00, 0xff]),
        ("bad Huffman", 0, vec![0x00, 0x00, 0x51, 0x81, 0xff]),
        (
            "integer overflow",
            0,
            vec![
                0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ),
        (
            "Base overflow",
            0,
            vec![
                0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f,
            ],
        ),
    ];
    for (what, n, section) in cases {
        let mut dec = decoder_with(*n);
        let err = decode_err(&mut dec, section);
        assert_eq!(err.code(), 0x0200, "{what}: {err}");
        assert!(matches!(err, QpackError::DecompressionFailed(_)), "{what}");
    }
}

#[test]
fn valid_references_of_every_kind_decode() {
    // Three entries x: "" at 1, 2, 3 (0 evicted) after four inserts.
    let mut dec = decoder_with(4);
    let mut ds = Vec::new();
    // RIC 4 (encoded 5), Base 2 (sign, delta 1): relative 0 = abs 1,
    // post-base 1 = abs 3, literal with post-base name 0 = abs 2 "v",
    // literal with relative name 0 = abs 1 "w".
    let s = [0x05, 0x81, 0x80, 0x11, 0x00, 0x01, b'v', 0x40, 0x01, b'w'];
    let got = dec.decode(0, &s, &mut ds);
    assert_eq!(
        got,
        decoded(&[("x", ""), ("x", ""), ("x", "v"), ("x", "w")])
    );
    assert_eq!(ds, [0x80], "acknowledged; the inserts by the section's RIC");
}

#[test]
fn a_section_over_the_size_limit_fails_the_message_only() {
    let mut dec = QpackDecoder::new(100, 4, 47);
    let mut ds = Vec::new();
    // :path /index.html is 5 + 11 + 32 = 48 bytes.
    let s = hex("0000 510b 2f69 6e64 6578 2e68 746d 6c");
    let err = dec.decode(0, &s, &mut ds).unwrap_err();
    assert_eq!(err, QpackError::FieldSectionTooLarge { limit: 47 });
    assert_eq!(err.code(), 0x0107);
    assert_eq!(err.kind(), Fault::LocalLimit);
    // A section that references the table is still acknowledged.
    dec.on_encoder_stream(&hex(
        "3f45 4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565",
    ))
    .unwrap();
    let err = dec.decode(4, &[0x02, 0x00, 0x80], &mut ds).unwrap_err();
    assert_eq!(err, QpackError::FieldSectionTooLarge { limit: 47 });
    assert_eq!(ds, [0x84]);
    // And the decoder goes on.
    let mut dec2 = QpackDecoder::new(100, 4, 48);
    assert_eq!(
        dec2.decode(0, &s, &mut ds),
        decoded(&[(":path", "/index.html")])
    );
}

#[test]
fn malformed_encoder_streams_are_encoder_stream_errors() {
    let cases: &[(&str, Vec<u8>)] = &[
        ("capacity above our maximum", hex("3fbd01")),
        ("entry larger than the capacity", {
            let mut v = hex("3f09"); // capacity 40
            v.extend(hex(
                "4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565",
            ));
            v
        }),
        ("insert into a zero table", hex("4178 00")),
        ("static name index 99", hex("3f45 ff24 00")),
        ("dynamic name index in an empty table", hex("3f45 8000")),
        ("duplicate in an empty table", hex("3f45 00")),
        ("duplicate beyond the table", hex("3f45 417800 01")),
        (
            "string declared longer than the table allows",
            hex("3f45 5fd503"),
        ),
        ("bad Huffman name", hex("3f45 61ff 00")),
        ("bad Huffman value", hex("3f45 4178 81ff")),
        ("integer overflow", hex("3fffffffffffffffffffff01")),
    ];
    for (what, bytes) in cases {
        let mut dec = QpackDecoder::new(100, 4, 1024);
        let err = dec.on_encoder_stream(bytes).unwrap_err();
        assert_eq!(err.code(), 0x0201, "{what}: {err}");
        assert_eq!(dec.buffered(), 0, "{what}");
        // The error sticks, for the stream and for sections.
        assert_eq!(dec.on_encoder_stream(&[]), Err(err.clone()), "{what}");
        assert_eq!(dec.decode(0, &[0, 0], &mut Vec::new()), Err(err), "{what}");
    }
}

#[test]
fn a_partial_encoder_instruction_is_bounded_by_the_capacity() {
    let mut dec = QpackDecoder::new(100, 4, 1024);
    dec.on_encoder_stream(&hex("3f45")).unwrap();
    // An insert is held while it arrives ...
    let mut dec2 = QpackDecoder::new(100, 4, 1024);
    dec2.on_encoder_stream(&hex("3f45")).unwrap();
    // 0x41 'x', value length 60 (raw), 60 bytes: fits (1 + 60 + 32 = 93).
    let mut insert = vec![0x41, b'x', 60];
    insert.extend(std::iter::repeat_n(b'v', 60));
    for b in &insert {
        dec2.on_encoder_stream(std::slice::from_ref(b)).unwrap();
        assert!(dec2.buffered() <= insert.len());
    }
    assert_eq!((dec2.buffered(), dec2.insert_count()), (0, 1));
    // ... and refused at once when it declares more than 4 × capacity.
    let err = dec
        .on_encoder_stream(&[0x41, b'x', 0x7f, 0xb2, 0x02])
        .unwrap_err(); // 127 + 306 = 433
    assert_eq!(err.code(), 0x0201);
}

#[test]
fn malformed_decoder_streams_are_decoder_stream_errors() {
    let cases: &[(&str, Vec<u8>)] = &[
        ("acknowledgment of a stream with no section", vec![0x84]),
        ("increment of zero", vec![0x00]),
        ("increment beyond the Insert Count", vec![0x01]),
        ("integer overflow", hex("7fffffffffffffffffffff01")),
    ];
    for (what, bytes) in cases {
        let mut enc = QpackEncoder::new(4096);
        let err = enc.on_decoder_stream(bytes).unwrap_err();
        assert_eq!(err.code(), 0x0202, "{what}: {err}");
        assert_eq!(enc.on_decoder_stream(&[0x48]), Err(err), "{what}: sticks");
    }
}

#[test]
fn decoder_instructions_arrive_in_any_split() {
    let (mut p, mut es) = Pair::new(4096, 4096, 16);
    let mut s = Vec::new();
    // Stream 300 needs a two-byte Section Acknowledgment.
    p.enc.encode(300, &request("/"), &mut s, &mut es).unwrap();
    p.enc
        .encode(
            4,
            &fields(&[("x-only", "inserted")]),
            &mut Vec::new(),
            &mut es,
        )
        .unwrap();
    p.dec.on_encoder_stream(&es).unwrap();
    let mut ds = Vec::new();
    assert!(matches!(
        p.dec.decode(300, &s, &mut ds),
        Ok(Decoded::Fields(_))
    ));
    p.dec.acknowledge_inserts(&mut ds);
    assert!(ds.len() >= 3, "{ds:?}");
    for b in &ds {
        p.enc.on_decoder_stream(std::slice::from_ref(b)).unwrap();
    }
    assert_eq!(p.enc.known_received_count(), p.enc.insert_count());
}

#[test]
fn errors_carry_rfc_9204_codes_and_faults() {
    let all = [
        (
            QpackError::DecompressionFailed("x"),
            0x0200,
            Fault::PeerMisbehaved,
        ),
        (
            QpackError::EncoderStream("x"),
            0x0201,
            Fault::PeerMisbehaved,
        ),
        (
            QpackError::DecoderStream("x"),
            0x0202,
            Fault::PeerMisbehaved,
        ),
        (
            QpackError::FieldSectionTooLarge { limit: 1 },
            0x0107,
            Fault::LocalLimit,
        ),
    ];
    for (e, code, fault) in all {
        assert_eq!((e.code(), e.kind()), (code, fault), "{e}");
        let why = crate::Close::aborted("h3", crate::AbortReason::layer(e.clone()));
        assert_eq!(why.error::<QpackError>(), Some(&e));
    }
}

// --------------------------------------------------------- property test

/// Random fields: repeated names and values (so the table pays), sensitive
/// ones, empty, binary and long values.
pub(super) fn random_fields(rng: &mut ChaCha8Rng) -> Vec<HeaderField> {
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
                17 => (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect(),
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
