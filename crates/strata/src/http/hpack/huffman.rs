//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
//!
//! Encoding packs each byte's code into a 64-bit accumulator and writes whole
//! bytes; decoding walks a 256-state × 16-nibble transition table built at
//! compile time by a `const fn`, so it costs two table look-ups per input byte
//! and never loops over single bits.
//!
//! ```
//! use strata::http::hpack::huffman;
//!
//! let mut wire = Vec::new();
//! huffman::encode(b"www.example.com", &mut wire);
//! assert_eq!(wire.len(), huffman::encoded_len(b"www.example.com"));
//! assert_eq!(wire.len(), 12); // RFC 7541 C.4.1
//!
//! let mut back = Vec::new();
//! huffman::decode(&wire, &mut back)?;
//! assert_eq!(back, b"www.example.com");
//! # Ok::<(), strata::http::hpack::HpackError>(())
//! ```

use super::huffman_codes::CODES;
use super::HpackError;

/// Appends the Huffman encoding of `src` to `out`, padded with the most
/// significant bits of EOS (ones) to a whole byte.
///
/// ```
/// let mut out = Vec::new();
/// strata::http::hpack::huffman::encode(b"no-cache", &mut out);
/// assert_eq!(out, [0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]); // RFC 7541 C.4.2
/// ```
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(src.len());
    // Invariant: fewer than 32 bits pending before a symbol is added, so at
    // most 32 + 30 bits ever sit in the accumulator.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        if bits >= 32 {
            bits -= 32;
            out.extend_from_slice(&((acc >> bits) as u32).to_be_bytes());
        }
    }
    while bits >= 8 {
        bits -= 8;
        out.push((acc >> bits) as u8);
    }
    if bits > 0 {
        // Pad the last partial byte with ones (the prefix of EOS).
        let pad = 8 - bits;
        out.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

/// The length in bytes of the Huffman encoding of `src`.
///
/// ```
/// use strata::http::hpack::huffman;
/// assert_eq!(huffman::encoded_len(b""), 0);
/// assert_eq!(huffman::encoded_len(b"custom-key"), 8); // RFC 7541 C.4.3
/// ```
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: u64 = src
        .iter()
        .map(|&b| u64::from(CODES[usize::from(b)].1))
        .sum();
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// Appends the decoding of the Huffman-encoded `src` to `out`.
///
/// Fails with [`HpackError::BadHuffman`] if `src` contains the EOS symbol or
/// ends with padding that is longer than 7 bits or not all ones (RFC 7541
/// §5.2). On error, `out` may hold part of the decoded text.
///
/// ```
/// use strata::http::hpack::{huffman, HpackError};
///
/// let mut out = Vec::new();
/// huffman::decode(&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf], &mut out)?;
/// assert_eq!(out, b"no-cache");
/// // A whole byte of padding is refused.
/// assert_eq!(huffman::decode(&[0xff], &mut out), Err(HpackError::BadHuffman));
/// # Ok::<(), HpackError>(())
/// ```
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HpackError> {
    let mut state = HuffmanState::default();
    state.feed(src, out)?;
    state.finish()
}

/// The state of a Huffman decode that may be fed in pieces (a string split
/// across CONTINUATION frames): the tree node reached so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct HuffmanState {
    node: u8,
}

impl HuffmanState {
    /// Decodes `src`, appending the symbols to `out`.
    pub(super) fn feed(&mut self, src: &[u8], out: &mut Vec<u8>) -> Result<(), HpackError> {
        // A nibble completes at most one symbol. Room for two per byte is
        // made up front, so each nibble stores its symbol unconditionally
        // and only the length moves: no branch on whether it emitted.
        let start = out.len();
        out.resize(start + 2 * src.len(), 0);
        let dst = out.get_mut(start..).unwrap_or_default();
        let mut len = 0;
        let mut node = self.node;
        let mut failed = 0;
        for &b in src {
            let hi = DECODE[usize::from(node)][usize::from(b >> 4)];
            let lo = DECODE[usize::from(hi.next)][usize::from(b & 0x0f)];
            failed |= (hi.flags | lo.flags) & FAIL;
            // After i bytes, len <= 2i: both slots exist.
            if let Some(slot) = dst.get_mut(len) {
                *slot = hi.symbol;
            }
            len += usize::from(hi.flags & EMIT);
            if let Some(slot) = dst.get_mut(len) {
                *slot = lo.symbol;
            }
            len += usize::from(lo.flags & EMIT);
            node = lo.next;
        }
        out.truncate(start + len);
        self.node = node;
        if failed != 0 {
            return Err(HpackError::BadHuffman);
        }
        Ok(())
    }

    /// Checks `src` without keeping the symbols; returns how many it held.
    pub(super) fn skip(&mut self, src: &[u8]) -> Result<usize, HpackError> {
        let mut node = self.node;
        let mut count = 0;
        for &b in src {
            for nibble in [b >> 4, b & 0x0f] {
                let step = DECODE[usize::from(node)][usize::from(nibble)];
                if step.flags & FAIL != 0 {
                    return Err(HpackError::BadHuffman);
                }
                count += usize::from(step.flags & EMIT);
                node = step.next;
            }
        }
        self.node = node;
        Ok(count)
    }

    /// Checks that the input ended on a symbol boundary or on valid padding.
    pub(super) fn finish(self) -> Result<(), HpackError> {
        if ACCEPT[usize::from(self.node)] {
            Ok(())
        } else {
            Err(HpackError::BadHuffman)
        }
    }
}

/// `Step::flags`: the nibble completed `symbol`.
const EMIT: u8 = 1;
/// `Step::flags`: the nibble completed EOS, which a string must not contain.
const FAIL: u8 = 2;

/// One transition of the nibble automaton.
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    symbol: u8,
    flags: u8,
}

/// Number of internal nodes of the code tree (257 leaves, full binary tree).
const NODES: usize = 256;
/// A child that is a leaf carries this bit and the symbol in the low bits.
const LEAF: u16 = 0x8000;
/// A child slot not yet filled while the tree is built.
const EMPTY: u16 = u16::MAX;

/// The code tree: `children[node][bit]` is an internal node or `LEAF | symbol`.
struct Tree {
    children: [[u16; 2]; NODES],
    /// The node is reached from the root by ones only (a prefix of EOS).
    ones: [bool; NODES],
    depth: [u8; NODES],
}

const fn build_tree() -> Tree {
    let mut t = Tree {
        children: [[EMPTY; 2]; NODES],
        ones: [false; NODES],
        depth: [0; NODES],
    };
    t.ones[0] = true;
    let mut next_free: usize = 1;
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        let mut node = 0;
        let mut i = len;
        while i > 1 {
            i -= 1;
            let bit = ((code >> i) & 1) as usize;
            let child = t.children[node][bit];
            if child == EMPTY {
                t.children[node][bit] = next_free as u16;
                t.ones[next_free] = t.ones[node] && bit == 1;
                t.depth[next_free] = t.depth[node] + 1;
                node = next_free;
                next_free += 1;
            } else {
                node = child as usize;
            }
        }
        t.children[node][(code & 1) as usize] = LEAF | sym as u16;
        sym += 1;
    }
    t
}

const TREE: Tree = build_tree();

/// `ACCEPT[node]`: a string may end at `node` (on a symbol boundary, or
/// after at most 7 padding bits that are all ones).
static ACCEPT: [bool; NODES] = {
    let mut a = [false; NODES];
    let mut n = 0;
    while n < NODES {
        a[n] = TREE.ones[n] && TREE.depth[n] <= 7;
        n += 1;
    }
    a
};

/// `DECODE[node][nibble]`: where four more bits lead from `node`. A code is
/// at least 5 bits long, so a nibble completes at most one symbol.
static DECODE: [[Step; 16]; NODES] = {
    let mut table = [[Step {
        next: 0,
        symbol: 0,
        flags: 0,
    }; 16]; NODES];
    let mut state = 0;
    while state < NODES {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut step = Step {
                next: 0,
                symbol: 0,
                flags: 0,
            };
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = TREE.children[node][(nibble >> bit) & 1];
                if child & LEAF != 0 {
                    let sym = child & !LEAF;
                    if sym == 256 {
                        step.flags |= FAIL;
                    } else {
                        step.flags |= EMIT;
                        step.symbol = sym as u8;
                    }
                    node = 0;
                } else {
                    node = child as usize;
                }
            }
            step.next = node as u8;
            table[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut wire = Vec::new();
        encode(&all, &mut wire);
        assert_eq!(wire.len(), encoded_len(&all));
        let mut back = Vec::new();
        decode(&wire, &mut back).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn every_split_point_streams() {
        let text = b"https://www.example.com/a/b?c=d&e=%20\x00\xff";
        let mut wire = Vec::new();
        encode(text, &mut wire);
        for cut in 0..=wire.len() {
            let mut s = HuffmanState::default();
            let mut out = Vec::new();
            s.feed(&wire[..cut], &mut out).unwrap();
            s.feed(&wire[cut..], &mut out).unwrap();
            s.finish().unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn skip_counts_symbols() {
        let mut wire = Vec::new();
        encode(b"hello world", &mut wire);
        let mut s = HuffmanState::default();
        assert_eq!(s.skip(&wire).unwrap(), 11);
        s.finish().unwrap();
    }

    #[test]
    fn padding_rules() {
        // '0' is 00000 (5 bits): pad with 111 -> 0b00000111.
        let mut out = Vec::new();
        decode(&[0b0000_0111], &mut out).unwrap();
        assert_eq!(out, b"0");
        // Padding not all ones.
        assert_eq!(
            decode(&[0b0000_0110], &mut out),
            Err(HpackError::BadHuffman)
        );
        // 8 bits of padding after a symbol boundary.
        assert_eq!(
            decode(&[0b0000_0111, 0xff], &mut out),
            Err(HpackError::BadHuffman)
        );
        // EOS itself (30 ones) in the string.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut out),
            Err(HpackError::BadHuffman)
        );
        // The empty string is fine.
        decode(&[], &mut out).unwrap();
        // A whole byte of ones alone is 8 bits of padding.
        assert_eq!(decode(&[0xff], &mut out), Err(HpackError::BadHuffman));
    }
}
