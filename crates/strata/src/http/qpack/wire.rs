//! QPACK's wire primitives (RFC 9204 §4.1): prefixed integers and string
//! literals, written into a caller's buffer and read from a slice with
//! bounds on every length.

use bytes::Bytes;

use crate::http::hpack::huffman;

/// The largest integer QPACK carries: 62 bits (RFC 9204 §4.1.1), like a
/// QUIC varint.
pub(super) const MAX_INT: u64 = (1 << 62) - 1;

/// Why a read stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The input ends inside the item: wait for more (on a stream) or fail
    /// (in a field section, which arrives whole).
    Incomplete,
    /// An integer above [`MAX_INT`].
    Overflow,
    /// A string declared longer than the caller's bound.
    TooLong,
    /// A Huffman string with EOS or bad padding.
    BadHuffman,
}

impl ReadError {
    /// A short reason for the error's `&'static str`.
    pub(super) fn reason(self) -> &'static str {
        match self {
            ReadError::Incomplete => "truncated representation",
            ReadError::Overflow => "integer above 2^62 - 1",
            ReadError::TooLong => "string longer than the limit",
            ReadError::BadHuffman => "invalid Huffman-coded string",
        }
    }
}

/// Appends an integer with an `n`-bit prefix (1..=8); `flags` holds the
/// bits above the prefix of the first byte.
pub(super) fn put_int(out: &mut Vec<u8>, flags: u8, n: u8, value: u64) {
    let max_prefix = (1u64 << n) - 1;
    if value < max_prefix {
        // value < 2^n <= 256: the cast keeps it whole.
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a string literal whose length has an `n`-bit prefix (1..=7) and
/// whose Huffman flag is the bit above it; `flags` holds the bits above
/// that. Huffman is used when it is shorter.
pub(super) fn put_str(out: &mut Vec<u8>, flags: u8, n: u8, s: &[u8]) {
    let hlen = huffman::encoded_len(s);
    if hlen < s.len() {
        put_int(out, flags | (1 << n), n, hlen as u64);
        huffman::encode(s, out);
    } else {
        put_int(out, flags, n, s.len() as u64);
        out.extend_from_slice(s);
    }
}

/// A cursor over input that arrived whole or in part.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next byte, not consumed.
    pub(super) fn peek(&self) -> Result<u8, ReadError> {
        self.buf.get(self.pos).copied().ok_or(ReadError::Incomplete)
    }

    /// An integer with an `n`-bit prefix (1..=8), the bits above it ignored.
    pub(super) fn int(&mut self, n: u8) -> Result<u64, ReadError> {
        let first = self.peek()?;
        let max_prefix = (1u64 << n) - 1;
        let mut value = u64::from(first) & max_prefix;
        let mut pos = self.pos + 1;
        if value == max_prefix {
            let mut shift = 0u32;
            loop {
                let b = *self.buf.get(pos).ok_or(ReadError::Incomplete)?;
                pos += 1;
                // 62 bits need at most 9 continuation bytes; anything that
                // shifts past that overflows.
                if shift > 56 {
                    return Err(ReadError::Overflow);
                }
                value = value
                    .checked_add(u64::from(b & 0x7f) << shift)
                    .ok_or(ReadError::Overflow)?;
                if value > MAX_INT {
                    return Err(ReadError::Overflow);
                }
                if b & 0x80 == 0 {
                    break;
                }
                shift += 7;
            }
        }
        self.pos = pos;
        Ok(value)
    }

    /// A string literal whose length has an `n`-bit prefix (1..=7) with the
    /// Huffman flag above it. A declared (wire) length above `max_wire` is
    /// [`ReadError::TooLong`] before its bytes arrive.
    pub(super) fn string(&mut self, n: u8, max_wire: usize) -> Result<Bytes, ReadError> {
        let huff = self.peek()? & (1 << n) != 0;
        let start = self.pos;
        let len = self.int(n)?;
        let len = match usize::try_from(len) {
            Ok(len) if len <= max_wire => len,
            _ => {
                self.pos = start;
                return Err(ReadError::TooLong);
            }
        };
        let Some(raw) = self.buf.get(self.pos..).and_then(|r| r.get(..len)) else {
            self.pos = start;
            return Err(ReadError::Incomplete);
        };
        let s = if huff {
            let mut out = Vec::with_capacity(len + len / 2);
            huffman::decode(raw, &mut out).map_err(|_| ReadError::BadHuffman)?;
            Bytes::from(out)
        } else {
            Bytes::copy_from_slice(raw)
        };
        self.pos += len;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_at_every_prefix() {
        for n in 1..=8u8 {
            for v in [
                0,
                1,
                30,
                31,
                126,
                127,
                128,
                254,
                255,
                256,
                1337,
                1 << 40,
                MAX_INT,
            ] {
                let mut out = Vec::new();
                put_int(&mut out, 0, n, v);
                let mut r = Reader::new(&out);
                assert_eq!(r.int(n), Ok(v), "n={n} v={v}");
                assert!(r.is_empty());
                // Every proper prefix is incomplete.
                for cut in 0..out.len() {
                    assert_eq!(Reader::new(&out[..cut]).int(n), Err(ReadError::Incomplete));
                }
            }
        }
    }

    #[test]
    fn rfc7541_c1_examples() {
        let mut out = Vec::new();
        put_int(&mut out, 0, 5, 1337);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        out.clear();
        put_int(&mut out, 0xe0, 5, 10);
        assert_eq!(out, [0xea]);
    }

    #[test]
    fn integers_above_62_bits_overflow() {
        let mut out = Vec::new();
        put_int(&mut out, 0, 8, MAX_INT + 1);
        assert_eq!(Reader::new(&out).int(8), Err(ReadError::Overflow));
        // Endless continuation bytes overflow rather than wait for ever.
        let long = [0xffu8; 16];
        assert_eq!(Reader::new(&long).int(8), Err(ReadError::Overflow));
    }

    #[test]
    fn strings_bound_and_round_trip() {
        for s in [&b""[..], b"a", b"www.example.com", &[0u8, 255, 7, 9][..]] {
            let mut out = Vec::new();
            put_str(&mut out, 0x40, 5, s);
            assert_eq!(out[0] & 0xc0, 0x40);
            let mut r = Reader::new(&out);
            assert_eq!(r.string(5, 100).as_deref(), Ok(s));
            assert!(r.is_empty());
        }
        let mut out = Vec::new();
        put_str(&mut out, 0, 7, &[b'x'; 50]);
        assert_eq!(Reader::new(&out).string(7, 10), Err(ReadError::TooLong));
        assert_eq!(
            Reader::new(&out[..5]).string(7, 100),
            Err(ReadError::Incomplete)
        );
        // Huffman with a whole byte of padding.
        assert_eq!(
            Reader::new(&[0x81, 0xff]).string(7, 10),
            Err(ReadError::BadHuffman)
        );
    }
}
