//! Variable-length integers, as in QUIC (RFC 9000 §16): the two high bits
//! of the first byte give the length (1, 2, 4 or 8 bytes), the remaining
//! bits hold the value in network byte order, up to [`MAX`] (2^62 - 1).
//!
//! Writers use the shortest form; readers accept any form.
//!
//! ```
//! use strata::reliable::wire::varint;
//! let mut out = Vec::new();
//! varint::write(&mut out, 15_293)?;
//! assert_eq!(out, [0x7b, 0xbd]);
//! assert_eq!(varint::read(&out), Some((15_293, 2)));
//! assert_eq!(varint::len(15_293), 2);
//! # Ok::<(), strata::reliable::wire::EncodeError>(())
//! ```

use super::EncodeError;

/// The largest value a varint holds: 2^62 - 1.
pub const MAX: u64 = (1 << 62) - 1;

/// The number of bytes [`write()`] uses for `v` (8 for values over [`MAX`],
/// which [`write()`] refuses).
///
/// ```
/// use strata::reliable::wire::varint;
/// assert_eq!([0, 63, 64, 16_383, 16_384, (1 << 30) - 1, 1 << 30].map(varint::len), [1, 1, 2, 2, 4, 4, 8]);
/// ```
pub const fn len(v: u64) -> usize {
    if v < 1 << 6 {
        1
    } else if v < 1 << 14 {
        2
    } else if v < 1 << 30 {
        4
    } else {
        8
    }
}

/// Appends `v` in its shortest form.
///
/// ```
/// use strata::reliable::wire::varint;
/// let mut out = Vec::new();
/// varint::write(&mut out, 37)?;
/// assert_eq!(out, [37]);
/// # Ok::<(), strata::reliable::wire::EncodeError>(())
/// ```
pub fn write(out: &mut Vec<u8>, v: u64) -> Result<(), EncodeError> {
    if v > MAX {
        return Err(EncodeError::VarintTooLarge(v));
    }
    match len(v) {
        1 => out.push(v as u8),
        2 => out.extend_from_slice(&(v as u16 | 0x4000).to_be_bytes()),
        4 => out.extend_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
    Ok(())
}

/// Reads a varint from the front of `buf`: the value and the bytes used, or
/// `None` when `buf` ends inside it.
///
/// ```
/// use strata::reliable::wire::varint;
/// assert_eq!(varint::read(&[0x9d, 0x7f, 0x3e, 0x7d]), Some((494_878_333, 4)));
/// assert_eq!(varint::read(&[0x40, 0x25]), Some((37, 2))); // not the shortest form, still valid
/// assert_eq!(varint::read(&[0x9d, 0x7f]), None);
/// ```
pub fn read(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let n = 1usize << (first >> 6);
    let bytes = buf.get(..n)?;
    let v = bytes
        .iter()
        .skip(1)
        .fold(u64::from(first & 0x3f), |v, &b| (v << 8) | u64::from(b));
    Some((v, n))
}

/// Writes `v`, already checked to be at most [`MAX`].
pub(super) fn write_checked(out: &mut Vec<u8>, v: u64) {
    // Callers checked `v <= MAX`; `write` cannot fail then.
    let _ = write(out, v.min(MAX));
}
