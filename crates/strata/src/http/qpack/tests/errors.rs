//! Every error path with its RFC 9204 §6 code, and instructions split anywhere.

use super::*;

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
