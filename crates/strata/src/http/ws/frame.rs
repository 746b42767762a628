//! The WebSocket frame on the wire (RFC 6455 §5.2): parse a header, encode a
//! frame, mask a payload. No state beyond one header: the layer keeps the rest.

use super::error::WsError;

/// A frame's opcode (RFC 6455 §5.2). Reserved opcodes are refused by
/// [`parse_header`] with [`WsError::ReservedOpcode`].
///
/// ```
/// use strata::http::ws::Opcode;
/// assert!(Opcode::Ping.is_control());
/// assert!(!Opcode::Text.is_control());
/// assert_eq!(Opcode::Close.bits(), 0x8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: the next fragment of a message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: the close handshake.
    Close,
    /// 0x9: a ping (answered with a pong).
    Ping,
    /// 0xA: a pong.
    Pong,
}

impl Opcode {
    /// The opcode's 4 bits.
    ///
    /// ```
    /// use strata::http::ws::Opcode;
    /// assert_eq!(Opcode::Text.bits(), 0x1);
    /// assert_eq!(Opcode::Pong.bits(), 0xA);
    /// ```
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Control frames (close, ping, pong): at most 125 bytes, never fragmented.
    ///
    /// ```
    /// use strata::http::ws::Opcode;
    /// assert!(Opcode::Close.is_control() && Opcode::Ping.is_control());
    /// assert!(!Opcode::Binary.is_control() && !Opcode::Continuation.is_control());
    /// ```
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }

    fn from_bits(b: u8) -> Result<Opcode, WsError> {
        Ok(match b {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            other => return Err(WsError::ReservedOpcode(other)),
        })
    }
}

/// The largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask key.
pub const MAX_HEADER: usize = 14;

/// A parsed frame header.
///
/// ```
/// use strata::http::ws::{parse_header, Opcode};
/// // A masked text frame "Hi" as a client sends it (RFC 6455 §5.7).
/// let wire = [0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
/// let (h, used) = parse_header(&wire).unwrap().unwrap();
/// assert_eq!((h.fin, h.opcode, h.len, h.mask, used), (true, Opcode::Text, 2, Some([1, 2, 3, 4]), 6));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: the last frame of a message.
    pub fin: bool,
    /// The RSV1 bit (permessage-deflate would use it; refused otherwise).
    pub rsv1: bool,
    /// The opcode.
    pub opcode: Opcode,
    /// The payload length.
    pub len: u64,
    /// The masking key, when the frame is masked.
    pub mask: Option<[u8; 4]>,
}

/// Parses a frame header from the start of `b`: `Ok(None)` when more bytes
/// are needed, else the header and its size. Refuses what no peer may send
/// whatever the role: RSV2/RSV3 set, a reserved opcode, a control frame
/// fragmented or over 125 bytes, a 64-bit length with its top bit set, or a
/// length in a longer form than needed. RSV1 is returned for the caller to
/// judge (no extension is negotiated, so the layer refuses it).
///
/// ```
/// use strata::http::ws::{parse_header, WsError};
/// assert_eq!(parse_header(&[0x81]), Ok(None));
/// assert_eq!(parse_header(&[0xA1, 0x00]), Err(WsError::ReservedBits));
/// assert_eq!(parse_header(&[0x83, 0x00]), Err(WsError::ReservedOpcode(3)));
/// assert_eq!(parse_header(&[0x09, 0x00]), Err(WsError::FragmentedControl));
/// ```
pub fn parse_header(b: &[u8]) -> Result<Option<(FrameHeader, usize)>, WsError> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (b[0], b[1]);
    if b0 & 0x30 != 0 {
        return Err(WsError::ReservedBits);
    }
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    let opcode = Opcode::from_bits(b0 & 0x0F)?;
    let masked = b1 & 0x80 != 0;
    let short = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(WsError::FragmentedControl);
        }
        if usize::from(short) > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlTooLong);
        }
    }
    let (len, mut pos) = match short {
        126 => {
            if b.len() < 4 {
                return Ok(None);
            }
            let n = u64::from(u16::from_be_bytes([b[2], b[3]]));
            if n < 126 {
                return Err(WsError::NonMinimalLength);
            }
            (n, 4)
        }
        127 => {
            if b.len() < 10 {
                return Ok(None);
            }
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[2..10]);
            let n = u64::from_be_bytes(a);
            if n >> 63 != 0 {
                return Err(WsError::LengthTooLarge);
            }
            if n <= u64::from(u16::MAX) {
                return Err(WsError::NonMinimalLength);
            }
            (n, 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        if b.len() < pos + 4 {
            return Ok(None);
        }
        let k = [b[pos], b[pos + 1], b[pos + 2], b[pos + 3]];
        pos += 4;
        Some(k)
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            rsv1,
            opcode,
            len,
            mask,
        },
        pos,
    )))
}

/// Writes a frame header into `out` and returns its bytes.
///
/// ```
/// use strata::http::ws::{encode_header, Opcode};
/// let mut buf = [0u8; 14];
/// assert_eq!(encode_header(&mut buf, true, Opcode::Binary, 300, None), [0x82, 126, 1, 44]);
/// ```
pub fn encode_header(
    out: &mut [u8; MAX_HEADER],
    fin: bool,
    opcode: Opcode,
    len: usize,
    mask: Option<[u8; 4]>,
) -> &[u8] {
    out[0] = (u8::from(fin) << 7) | opcode.bits();
    let m = if mask.is_some() { 0x80 } else { 0 };
    let mut pos = 2;
    if len < 126 {
        out[1] = m | len as u8;
    } else if let Ok(n) = u16::try_from(len) {
        out[1] = m | 126;
        out[2..4].copy_from_slice(&n.to_be_bytes());
        pos = 4;
    } else {
        out[1] = m | 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        pos = 10;
    }
    if let Some(k) = mask {
        out[pos..pos + 4].copy_from_slice(&k);
        pos += 4;
    }
    &out[..pos]
}

/// XORs `data` with the masking key, starting at `offset` bytes into the
/// payload (masking and unmasking are the same operation, RFC 6455 §5.3).
///
/// ```
/// let mut d = *b"Hello";
/// strata::http::ws::apply_mask(&mut d, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(d, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// ```
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_every_form() {
        for len in [0usize, 125, 126, 65535, 65536, 1 << 20] {
            let mut buf = [0u8; MAX_HEADER];
            let h =
                encode_header(&mut buf, false, Opcode::Binary, len, Some([9, 8, 7, 6])).to_vec();
            let (p, used) = parse_header(&h).unwrap().unwrap();
            assert_eq!(
                (p.len, used, p.fin, p.mask),
                (len as u64, h.len(), false, Some([9, 8, 7, 6]))
            );
            for cut in 0..h.len() {
                assert_eq!(parse_header(&h[..cut]), Ok(None), "len {len} cut {cut}");
            }
        }
    }

    #[test]
    fn refuses_bad_lengths() {
        assert_eq!(
            parse_header(&[0x82, 126, 0, 125]),
            Err(WsError::NonMinimalLength)
        );
        assert_eq!(
            parse_header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            Err(WsError::NonMinimalLength)
        );
        assert_eq!(
            parse_header(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(WsError::LengthTooLarge)
        );
        assert_eq!(parse_header(&[0x89, 126]), Err(WsError::ControlTooLong));
    }
}
