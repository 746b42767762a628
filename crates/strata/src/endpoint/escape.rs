//! Percent escapes: decoding paths and option values, encoding them back.

use super::EndpointErrorKind as K;

/// Decodes `s[start..end]`: `%XX` becomes one byte; raw control characters,
/// `%00` and malformed escapes are errors at their byte.
pub(super) fn decode(s: &str, start: usize, end: usize) -> Result<Vec<u8>, (usize, K)> {
    let b = &s.as_bytes()[..end];
    let mut out = Vec::with_capacity(end - start);
    let mut i = start;
    while i < end {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(hex);
                let lo = b.get(i + 2).copied().and_then(hex);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err((i, K::BadEscape));
                };
                let v = hi << 4 | lo;
                if v == 0 {
                    return Err((i, K::NulByte));
                }
                out.push(v);
                i += 3;
            }
            c if c < 0x20 || c == 0x7f => {
                return Err((i, K::ControlChar { ch: char::from(c) }));
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The input offset of decoded byte `idx` of `s[start..]` (for errors found
/// after decoding, such as invalid UTF-8).
pub(super) fn source_pos(s: &str, start: usize, idx: usize) -> usize {
    let b = s.as_bytes();
    let mut i = start;
    for _ in 0..idx {
        i += if b.get(i) == Some(&b'%') { 3 } else { 1 };
    }
    i
}

fn hex(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).map(|d| d as u8)
}

/// Appends `bytes`, escaping what the grammar reserves in this position
/// (`extra`), `%`, space, controls and every non-ASCII byte, so the canonical
/// form is one printable ASCII word.
pub(super) fn encode(
    out: &mut impl std::fmt::Write,
    bytes: &[u8],
    extra: &[u8],
) -> std::fmt::Result {
    for &c in bytes {
        if c <= b' ' || c >= 0x7f || c == b'%' || extra.contains(&c) {
            write!(out, "%{c:02X}")?;
        } else {
            out.write_char(char::from(c))?;
        }
    }
    Ok(())
}

/// Characters reserved in a path: the query and fragment delimiters.
pub(super) const PATH_RESERVED: &[u8] = b"?#";
/// Characters reserved in an option value: the pair separator and fragment.
pub(super) const VALUE_RESERVED: &[u8] = b"&#";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_then_encode_round_trips() {
        let s = "a%20b%25c%3F%23%C3%A9";
        let d = decode(s, 0, s.len()).unwrap();
        assert_eq!(d, "a b%c?#é".as_bytes());
        let mut e = String::new();
        encode(&mut e, &d, PATH_RESERVED).unwrap();
        assert_eq!(e, s);
    }

    #[test]
    fn decode_errors_point_at_the_escape() {
        assert_eq!(decode("ab%2", 0, 4), Err((2, K::BadEscape)));
        assert_eq!(decode("ab%zz", 0, 5), Err((2, K::BadEscape)));
        assert_eq!(decode("a%00", 0, 4), Err((1, K::NulByte)));
        assert_eq!(decode("a\tb", 0, 3), Err((1, K::ControlChar { ch: '\t' })));
        // An escape cut by the end of the range is malformed.
        assert_eq!(decode("a%4&", 0, 3), Err((1, K::BadEscape)));
    }

    #[test]
    fn source_pos_skips_escapes() {
        assert_eq!(source_pos("x=%C3%A9z", 2, 2), 8);
    }
}
