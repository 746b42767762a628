//! The KCP segment codec: a 24-byte little-endian header followed by data,
//! several segments packed back to back in one datagram.
//!
//! ```text
//! 0      4     5     6       8       12      16      20      24
//! | conv | cmd | frg |  wnd  |  ts   |  sn   |  una  |  len  | data (len bytes) ...
//! ```

use super::KcpError;

/// Length of one segment header on the wire.
pub const HEADER_LEN: usize = 24;

/// The command carried by a segment.
///
/// ```
/// use strata::reliable::kcp::Command;
/// assert_eq!(Command::from_byte(81), Some(Command::Push));
/// assert_eq!(Command::Ack.byte(), 82);
/// assert_eq!(Command::from_byte(0), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Data (`IKCP_CMD_PUSH`, 81).
    Push,
    /// Acknowledgement of one `sn` (`IKCP_CMD_ACK`, 82).
    Ack,
    /// Window probe: "tell me your window" (`IKCP_CMD_WASK`, 83).
    WindowAsk,
    /// Window report (`IKCP_CMD_WINS`, 84).
    WindowTell,
}

impl Command {
    /// The command's byte on the wire.
    ///
    /// ```
    /// use strata::reliable::kcp::Command;
    /// assert_eq!(Command::Push.byte(), 81);
    /// assert_eq!(Command::WindowTell.byte(), 84);
    /// assert_eq!(Command::from_byte(Command::WindowAsk.byte()), Some(Command::WindowAsk));
    /// ```
    pub fn byte(self) -> u8 {
        match self {
            Command::Push => 81,
            Command::Ack => 82,
            Command::WindowAsk => 83,
            Command::WindowTell => 84,
        }
    }

    /// Parses a command byte; `None` for anything ikcp does not define.
    ///
    /// ```
    /// use strata::reliable::kcp::Command;
    /// assert_eq!(Command::from_byte(82), Some(Command::Ack));
    /// assert_eq!(Command::from_byte(85), None); // not an ikcp command
    /// ```
    pub fn from_byte(b: u8) -> Option<Command> {
        match b {
            81 => Some(Command::Push),
            82 => Some(Command::Ack),
            83 => Some(Command::WindowAsk),
            84 => Some(Command::WindowTell),
            _ => None,
        }
    }
}

/// One decoded segment, borrowing its data from the datagram.
///
/// ```
/// use strata::reliable::kcp::{Command, Segment};
/// let seg = Segment { conv: 7, cmd: Command::Push, frg: 0, wnd: 128, ts: 1, sn: 2, una: 0, data: b"hi" };
/// let mut buf = Vec::new();
/// seg.encode(&mut buf);
/// assert_eq!(buf.len(), 24 + 2);
/// let back: Vec<_> = strata::reliable::kcp::segments(&buf).collect::<Result<_, _>>().unwrap();
/// assert_eq!(back, vec![seg]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Conversation id; both peers use the same one.
    pub conv: u32,
    /// What this segment is.
    pub cmd: Command,
    /// Fragments still to follow in this message (message mode); 0 in stream mode.
    pub frg: u8,
    /// The sender's free receive window, in segments.
    pub wnd: u16,
    /// Send timestamp (ms, sender's clock); an ACK echoes the acked segment's `ts`.
    pub ts: u32,
    /// Sequence number (PUSH) or acknowledged sequence number (ACK).
    pub sn: u32,
    /// Cumulative ack: every `sn` below this was received.
    pub una: u32,
    /// Payload (PUSH only, empty otherwise in practice).
    pub data: &'a [u8],
}

impl Segment<'_> {
    /// Appends the encoded segment (header and data) to `out`.
    ///
    /// The data length must fit a `u32`; the engine only encodes segments
    /// bounded by its MTU.
    ///
    /// ```
    /// use strata::reliable::kcp::{peek_conv, Command, Segment};
    /// let seg = Segment { conv: 0x0102_0304, cmd: Command::Ack, frg: 0, wnd: 32, ts: 9, sn: 4, una: 5, data: &[] };
    /// let mut out = vec![0xaa]; // appended to what is there
    /// seg.encode(&mut out);
    /// assert_eq!(out.len(), 1 + 24);
    /// assert_eq!(&out[1..5], &[4, 3, 2, 1]); // little-endian
    /// assert_eq!(peek_conv(&out[1..]), Some(0x0102_0304));
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.conv.to_le_bytes());
        out.push(self.cmd.byte());
        out.push(self.frg);
        out.extend_from_slice(&self.wnd.to_le_bytes());
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.extend_from_slice(&self.sn.to_le_bytes());
        out.extend_from_slice(&self.una.to_le_bytes());
        let len = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(self.data);
    }

    /// Encoded size of this segment.
    ///
    /// ```
    /// use strata::reliable::kcp::{Command, Segment, HEADER_LEN};
    /// let seg = Segment { conv: 1, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn: 0, una: 0, data: b"hello" };
    /// assert_eq!(seg.encoded_len(), HEADER_LEN + 5);
    /// let mut out = Vec::new();
    /// seg.encode(&mut out);
    /// assert_eq!(out.len(), seg.encoded_len());
    /// ```
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }
}

/// Iterates over the segments packed in `datagram`.
///
/// Yields an error (and then stops) at the first malformed segment: a header
/// cut short, a length past the end of the datagram or an unknown command.
///
/// ```
/// use strata::reliable::kcp::{segments, KcpError};
/// let mut it = segments(&[0u8; 10]);
/// assert!(matches!(it.next(), Some(Err(KcpError::Truncated { .. }))));
/// assert!(it.next().is_none());
/// ```
pub fn segments(datagram: &[u8]) -> Segments<'_> {
    Segments {
        rest: datagram,
        failed: false,
    }
}

/// Reads the conversation id of the first segment, for demultiplexing
/// datagrams to engines. `None` when the datagram is shorter than a header.
///
/// ```
/// use strata::reliable::kcp::peek_conv;
/// let mut d = vec![0u8; 24];
/// d[..4].copy_from_slice(&9u32.to_le_bytes());
/// assert_eq!(peek_conv(&d), Some(9));
/// assert_eq!(peek_conv(&d[..3]), None);
/// ```
pub fn peek_conv(datagram: &[u8]) -> Option<u32> {
    if datagram.len() < HEADER_LEN {
        return None;
    }
    read_u32(datagram, 0)
}

/// Iterator returned by [`segments`].
///
/// ```
/// use strata::reliable::kcp::{segments, Command, Segment};
/// let mut datagram = Vec::new();
/// for sn in 0..3 {
///     Segment { conv: 1, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn, una: 0, data: b"ab" }.encode(&mut datagram);
/// }
/// let sns: Vec<u32> = segments(&datagram).map(|s| s.unwrap().sn).collect();
/// assert_eq!(sns, [0, 1, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, KcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let r = parse_one(self.rest);
        match r {
            Ok((seg, rest)) => {
                self.rest = rest;
                Some(Ok(seg))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn parse_one(buf: &[u8]) -> Result<(Segment<'_>, &[u8]), KcpError> {
    let (hdr, rest) = match buf.split_first_chunk::<HEADER_LEN>() {
        Some(x) => x,
        None => return Err(KcpError::Truncated { len: buf.len() }),
    };
    let u32_at = |i: usize| u32::from_le_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
    let conv = u32_at(0);
    let cmd = Command::from_byte(hdr[4]).ok_or(KcpError::UnknownCommand(hdr[4]))?;
    let frg = hdr[5];
    let wnd = u16::from_le_bytes([hdr[6], hdr[7]]);
    let ts = u32_at(8);
    let sn = u32_at(12);
    let una = u32_at(16);
    let len = u32_at(20);
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize > rest.len() {
        return Err(KcpError::BadLength {
            declared: len,
            available: rest.len(),
        });
    }
    let (data, rest) = rest.split_at(len_usize);
    Ok((
        Segment {
            conv,
            cmd,
            frg,
            wnd,
            ts,
            sn,
            una,
            data,
        },
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(cmd: Command, sn: u32, data: &[u8]) -> Segment<'_> {
        Segment {
            conv: 0x0102_0304,
            cmd,
            frg: 3,
            wnd: 0xABCD,
            ts: 0xDEAD_BEEF,
            sn,
            una: 77,
            data,
        }
    }

    #[test]
    fn kcp_codec_layout_is_ikcp_little_endian() {
        let mut b = Vec::new();
        seg(Command::Push, 5, b"xyz").encode(&mut b);
        assert_eq!(
            b,
            [
                4, 3, 2, 1, 81, 3, 0xCD, 0xAB, 0xEF, 0xBE, 0xAD, 0xDE, 5, 0, 0, 0, 77, 0, 0, 0, 3,
                0, 0, 0, b'x', b'y', b'z'
            ]
        );
    }

    #[test]
    fn kcp_codec_round_trips_packed_segments() {
        let a = seg(Command::Push, 1, b"hello");
        let b = seg(Command::Ack, 9, b"");
        let c = seg(Command::WindowAsk, 0, b"");
        let d = seg(Command::WindowTell, 0, b"");
        let mut buf = Vec::new();
        for s in [a, b, c, d] {
            s.encode(&mut buf);
        }
        let got: Vec<_> = segments(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got, vec![a, b, c, d]);
    }

    #[test]
    fn kcp_codec_rejects_every_truncation_without_panic() {
        let mut buf = Vec::new();
        seg(Command::Push, 1, b"hello world").encode(&mut buf);
        for cut in 1..buf.len() {
            let r: Result<Vec<_>, _> = segments(&buf[..cut]).collect();
            assert!(r.is_err(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn kcp_codec_rejects_bad_command_and_length() {
        let mut buf = Vec::new();
        seg(Command::Push, 1, b"ab").encode(&mut buf);
        let mut bad = buf.clone();
        bad[4] = 99;
        assert_eq!(
            segments(&bad).next(),
            Some(Err(KcpError::UnknownCommand(99)))
        );
        let mut bad = buf.clone();
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            segments(&bad).next(),
            Some(Err(KcpError::BadLength {
                declared: u32::MAX,
                available: 2
            }))
        );
    }

    #[test]
    fn kcp_codec_garbage_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..2000 {
            let n = rng.gen_range(0..200);
            let g: Vec<u8> = (0..n).map(|_| rng.r#gen()).collect();
            for s in segments(&g) {
                let _ = s;
            }
        }
    }
}
