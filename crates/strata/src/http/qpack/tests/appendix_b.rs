//! RFC 9204 Appendix B byte for byte, and each instruction the encoder writes.

use crate::http::qpack::wire::put_str;

use super::*;

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
