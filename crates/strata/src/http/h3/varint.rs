//! QUIC variable-length integers (RFC 9000 §16), as HTTP/3 frames and
//! stream types use them.

/// The largest value a varint holds (2^62 - 1).
pub const MAX: u64 = (1 << 62) - 1;

/// Reads one varint from the front of `buf`: the value and the bytes it
/// took, or `None` when `buf` is too short to hold it.
///
/// ```
/// use strata::http::h3::varint;
/// assert_eq!(varint::read(&[0x25]), Some((37, 1)));
/// assert_eq!(varint::read(&[0x7b, 0xbd]), Some((15_293, 2)));
/// assert_eq!(varint::read(&[0x7b]), None);
/// ```
pub fn read(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let len = 1usize << (first >> 6);
    let bytes = buf.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for &b in &bytes[1..] {
        v = (v << 8) | u64::from(b);
    }
    Some((v, len))
}

/// How many bytes `v` takes as a varint (values over [`MAX`] are clamped
/// to it: callers never write them).
///
/// ```
/// use strata::http::h3::varint;
/// assert_eq!(varint::size(63), 1);
/// assert_eq!(varint::size(64), 2);
/// assert_eq!(varint::size(1 << 30), 8);
/// ```
pub fn size(v: u64) -> usize {
    match v {
        0..=63 => 1,
        64..=16_383 => 2,
        16_384..=1_073_741_823 => 4,
        _ => 8,
    }
}

/// Appends `v` in its shortest encoding. Values over [`MAX`] are written as
/// [`MAX`] (no caller produces one: ids, lengths and settings we send are
/// all far below).
///
/// ```
/// use strata::http::h3::varint;
/// let mut out = Vec::new();
/// varint::write(&mut out, 494_878_333);
/// assert_eq!(out, [0x9d, 0x7f, 0x3e, 0x7d]);
/// assert_eq!(varint::read(&out), Some((494_878_333, 4)));
/// ```
pub fn write(out: &mut Vec<u8>, v: u64) {
    let v = v.min(MAX);
    match size(v) {
        1 => out.push(v as u8),
        2 => out.extend_from_slice(&((v as u16) | 0x4000).to_be_bytes()),
        4 => out.extend_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of RFC 9000 §A.1, and a round trip at every boundary.
    #[test]
    fn rfc_examples_and_boundaries() {
        let ex: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, v) in ex {
            assert_eq!(read(bytes), Some((v, bytes.len())));
            let mut out = Vec::new();
            write(&mut out, v);
            assert_eq!(out, bytes);
        }
        // A non-minimal encoding is valid (RFC 9000 §16).
        assert_eq!(read(&[0x40, 0x25]), Some((37, 2)));
        for v in [0, 63, 64, 16_383, 16_384, 1_073_741_823, 1 << 30, MAX] {
            let mut out = Vec::new();
            write(&mut out, v);
            assert_eq!(out.len(), size(v));
            assert_eq!(read(&out), Some((v, out.len())));
            for cut in 0..out.len() {
                assert_eq!(read(&out[..cut]), None);
            }
        }
    }
}
