//! Blocked streams (§2.1.2, §2.2.1) and eviction guarded by acknowledgments and references (§2.1.1).

use super::*;

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
