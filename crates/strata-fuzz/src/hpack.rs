//! Target `hpack_decode`: strata's HPACK decoder over arbitrary bytes
//! cut into arbitrary fragments.
//!
//! Input: three control bytes (the fragment-size seed of
//! [`crate::Chunks`], the header-list budget, the table size), then
//! header blocks, each a length byte and that many bytes, all decoded by one
//! decoder so the dynamic table carries over between blocks.
//!
//! Checks, besides the absence of panics:
//! * decoding a block in fragments gives exactly what decoding it whole
//!   gives (fields, sensitivity, result, table size);
//! * the fields emitted for a block never exceed its budget, and the table
//!   never exceeds its limit;
//! * a fatal error is returned again by every later call;
//! * a block that decodes re-encodes with strata's encoder, and that
//!   decodes back to the same fields.

use strata::http::hpack::{Decoder, Encoder, HpackError};

use crate::{control, Chunks};

type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

/// Table sizes the decoder advertises, picked by a control byte.
const TABLE_SIZES: [usize; 5] = [0, 1, 64, 256, 4096];

fn decode_whole(
    dec: &mut Decoder,
    block: &[u8],
    budget: usize,
) -> (Fields, Result<(), HpackError>) {
    let mut fields = Vec::new();
    dec.begin_block(budget);
    let r = dec.decode_fragment(block, true, &mut |n, v, s| {
        fields.push((n.to_vec(), v.to_vec(), s))
    });
    (fields, r)
}

fn decode_chunked(
    dec: &mut Decoder,
    block: &[u8],
    budget: usize,
    seed: u8,
) -> (Fields, Result<(), HpackError>) {
    let mut fields = Vec::new();
    let mut emit = |n: &[u8], v: &[u8], s: bool| fields.push((n.to_vec(), v.to_vec(), s));
    dec.begin_block(budget);
    let mut chunks = Chunks::new(block, seed).peekable();
    let mut r = if block.is_empty() {
        dec.decode_fragment(&[], true, &mut emit)
    } else {
        Ok(())
    };
    while let Some(chunk) = chunks.next() {
        r = dec.decode_fragment(chunk, chunks.peek().is_none(), &mut emit);
        if r.is_err() {
            // Only the last fragment can report an exceeded budget.
            assert!(
                chunks.peek().is_none() || !matches!(r, Err(HpackError::HeaderListTooLarge { .. }))
            );
            break;
        }
    }
    (fields, r)
}

/// Decodes the header blocks in `data` (after three control bytes) whole
/// and in fragments; see the module documentation for what it checks.
pub fn hpack_decode(data: &[u8]) {
    let ([seed, budget_byte, table_byte], mut rest) = control::<3>(data);
    let budget = 64 * (1 + usize::from(budget_byte));
    let table = TABLE_SIZES[usize::from(table_byte) % TABLE_SIZES.len()];
    let mut streamed = Decoder::new(table);
    let mut whole = Decoder::new(table);
    let mut enc = Encoder::new();
    enc.set_max_table_size(table);
    let mut check = Decoder::new(table);

    while let Some((&len, tail)) = rest.split_first() {
        let (block, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;

        let (want, want_r) = decode_whole(&mut whole, block, budget);
        let (got, got_r) = decode_chunked(&mut streamed, block, budget, seed);
        assert_eq!(got, want);
        assert_eq!(got_r, want_r);
        assert_eq!(streamed.table_size(), whole.table_size());
        assert!(streamed.table_size() <= table);
        let emitted: usize = got.iter().map(|(n, v, _)| n.len() + v.len() + 32).sum();
        assert!(emitted <= budget, "{emitted} > {budget}");

        match got_r {
            Ok(()) => {
                let mut wire = Vec::new();
                enc.encode(got.iter().map(|(n, v, s)| (&n[..], &v[..], *s)), &mut wire);
                let (back, r) = decode_whole(&mut check, &wire, budget);
                assert_eq!(r, Ok(()));
                assert_eq!(back.len(), got.len());
                for ((n, v, s), (n2, v2, s2)) in got.iter().zip(&back) {
                    assert_eq!((n, v), (n2, v2));
                    // Our encoder may add never-indexed, never drop it.
                    assert!(!s || *s2);
                }
                assert_eq!(check.table_size(), enc.table_size());
            }
            Err(HpackError::HeaderListTooLarge { limit }) => assert_eq!(limit, budget),
            Err(e) => {
                let again = streamed.decode_fragment(b"\x82", true, &mut |_, _, _| {
                    panic!("emitted after a fatal error")
                });
                assert_eq!(again, Err(e));
                return;
            }
        }
    }
}
