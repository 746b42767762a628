//! Target `qpack`: strata's QPACK decoder and encoder over arbitrary
//! encoder-stream bytes, field sections and decoder-stream bytes.
//!
//! Input: four control bytes (the decoder's maximum table capacity, its
//! blocked-streams limit, its field-section limit, and the fragment-size
//! seed of [`crate::Chunks`]), then records, each a kind byte, a length
//! byte and that many bytes. Kind `k`: `k % 4 == 0` bytes of the peer's
//! encoder stream; `1` a field section for stream `k >> 2`; `2` bytes of
//! the peer's decoder stream (to an encoder that sent sections on streams
//! 0, 4 and 8); `3` a cancelled stream `k >> 2`.
//!
//! Checks, besides the absence of panics:
//! * the encoder stream fed in fragments gives what it gives fed whole
//!   (the same streams unblocked, the same error, the same Insert Count),
//!   and so do the sections decoded against either decoder;
//! * a partial encoder instruction held by the decoder stays within
//!   8 × its maximum capacity (plus the integers), whatever the input;
//! * every error has its RFC 9204 code, and an encoder- or
//!   decoder-stream error is returned again by every later call;
//! * a decoded section fits the field-section limit, and re-encodes with
//!   strata's encoder into a section that decodes to the same fields;
//! * the encoder never counts more acknowledged inserts than it made.

use strata::http::qpack::{
    Decoded, HeaderField, QpackDecoder, QpackEncoder, QpackError, MAX_UNACKED_SECTIONS,
};

use crate::{control, Chunks};

/// Table capacities the decoder advertises, picked by a control byte.
const CAPACITIES: [usize; 6] = [0, 31, 64, 220, 1024, 4096];

/// Decodes `fields` back after a round trip through a fresh pair.
fn round_trip(fields: &[HeaderField], cap: usize) {
    let mut enc = QpackEncoder::new(cap);
    let mut dec = QpackDecoder::new(cap, 4, usize::MAX);
    let (mut es, mut ds, mut section) = (Vec::new(), Vec::new(), Vec::new());
    enc.set_peer_settings(cap as u64, 4, &mut es);
    enc.encode(0, fields, &mut section, &mut es)
        .expect("our encoder never fails");
    dec.on_encoder_stream(&es).expect("our encoder stream");
    let got = dec.decode(0, &section, &mut ds).expect("our section");
    assert_eq!(
        got,
        Decoded::Fields(fields.to_vec()),
        "re-encoded section differs"
    );
    enc.on_decoder_stream(&ds).expect("our decoder stream");
}

fn check_code(e: &QpackError) {
    let code = e.code();
    match e {
        QpackError::DecompressionFailed(_) => assert_eq!(code, 0x200),
        QpackError::EncoderStream(_) => assert_eq!(code, 0x201),
        QpackError::DecoderStream(_) => assert_eq!(code, 0x202),
        QpackError::FieldSectionTooLarge { .. } => assert_eq!(code, 0x107),
    }
}

/// Runs the records of `data` (after four control bytes); see the module
/// documentation for what it checks.
pub fn qpack(data: &[u8]) {
    let ([cap_b, blocked_b, limit_b, seed], mut rest) = control::<4>(data);
    let cap = CAPACITIES[usize::from(cap_b) % CAPACITIES.len()];
    let blocked = usize::from(blocked_b % 5);
    let limit = 64 * (1 + usize::from(limit_b));
    let mut chunked = QpackDecoder::new(cap, blocked, limit);
    let mut whole = QpackDecoder::new(cap, blocked, limit);
    let mut stream_err: Option<QpackError> = None;

    // An encoder with sections outstanding on streams 0, 4 and 8.
    let mut enc = QpackEncoder::new(4096);
    let (mut es, mut sink) = (Vec::new(), Vec::new());
    enc.set_peer_settings(4096, 2, &mut es);
    for id in [0u64, 4, 8] {
        let f = [
            HeaderField::new(":authority", "example.com"),
            HeaderField::new("x-id", format!("{id}")),
        ];
        enc.encode(id, &f, &mut sink, &mut es).expect("encode");
    }
    let mut enc_err: Option<QpackError> = None;

    while let Some((&kind, tail)) = rest.split_first() {
        let Some((&len, tail)) = tail.split_first() else {
            break;
        };
        let n = usize::from(len).min(tail.len());
        let (bytes, tail) = tail.split_at(n);
        rest = tail;
        let id = u64::from(kind >> 2);
        match kind % 4 {
            0 => {
                let want = whole.on_encoder_stream(bytes);
                let mut got = Ok(Vec::new());
                for chunk in Chunks::new(bytes, seed) {
                    match chunked.on_encoder_stream(chunk) {
                        Ok(ids) => {
                            if let Ok(all) = &mut got {
                                all.extend(ids);
                            }
                        }
                        Err(e) => {
                            got = Err(e);
                            break;
                        }
                    }
                }
                if bytes.is_empty() {
                    got = chunked.on_encoder_stream(&[]);
                }
                if let Ok(ids) = &mut got {
                    ids.sort_unstable();
                }
                assert_eq!(got, want, "fragments differ from the whole");
                assert_eq!(chunked.insert_count(), whole.insert_count());
                if let Err(e) = &want {
                    check_code(e);
                    assert!(matches!(e, QpackError::EncoderStream(_)));
                    if let Some(first) = &stream_err {
                        assert_eq!(first, e, "a stream error sticks");
                    }
                    stream_err = Some(e.clone());
                }
                assert!(
                    chunked.buffered() <= 8 * cap + 32,
                    "partial instruction unbounded"
                );
                let mut out = Vec::new();
                chunked.acknowledge_inserts(&mut out);
                whole.acknowledge_inserts(&mut Vec::new());
            }
            1 => {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let got = chunked.decode(id, bytes, &mut a);
                let want = whole.decode(id, bytes, &mut b);
                assert_eq!(got, want, "the two decoders disagree");
                assert_eq!(a, b);
                match got {
                    Ok(Decoded::Fields(fields)) => {
                        let size: usize = fields.iter().map(HeaderField::size).sum();
                        assert!(size <= limit, "section over the limit");
                        round_trip(&fields, 4096);
                        round_trip(&fields, 0);
                    }
                    Ok(Decoded::Blocked) => assert!(blocked > 0),
                    Err(e) => {
                        check_code(&e);
                        if let Some(first) = &stream_err {
                            assert_eq!(first, &e, "a stream error sticks");
                        }
                    }
                }
            }
            2 => {
                let r = enc.on_decoder_stream(bytes);
                if let Some(first) = &enc_err {
                    assert_eq!(r.as_ref(), Err(first), "a decoder-stream error sticks");
                }
                if let Err(e) = r {
                    check_code(&e);
                    assert!(matches!(e, QpackError::DecoderStream(_)));
                    enc_err = Some(e);
                }
                assert!(enc.known_received_count() <= enc.insert_count());
                assert!(enc.unacked_sections() <= MAX_UNACKED_SECTIONS);
                // The encoder keeps working on what it believes.
                let mut section = Vec::new();
                let f = [HeaderField::new("x-more", format!("{id}"))];
                enc.encode(12 + 4 * id, &f, &mut section, &mut es)
                    .expect("encode");
            }
            _ => {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                chunked.cancel_stream(id, &mut a);
                whole.cancel_stream(id, &mut b);
                assert_eq!(a, b);
            }
        }
    }
}
