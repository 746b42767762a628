//! Frames: the units inside a packet's payload.

use std::ops::RangeInclusive;

use super::{
    varint, EncodeError, ErrorCode, PacketNumber, PacketType, Reader, WireError, MAX_ACK_RANGES,
};

const PADDING: u8 = 0x00;
const PING: u8 = 0x01;
const ACK: u8 = 0x02;
const RESET: u8 = 0x03;
const MAX_DATA: u8 = 0x04;
const DATA_BLOCKED: u8 = 0x05;
const CLOSE: u8 = 0x06;
const STREAM: u8 = 0x08;
const STREAM_FIN: u8 = 0x01;
const STREAM_LEN: u8 = 0x02;
const STREAM_OFF: u8 = 0x04;

/// One frame of a packet's payload.
///
/// ```
/// use strata::reliable::wire::{ErrorCode, Frame};
/// let close = Frame::Close { code: ErrorCode::NO_ERROR, reason: b"bye" };
/// let mut out = Vec::new();
/// close.encode(&mut out)?;
/// assert_eq!(out, [0x06, 0x00, 0x03, b'b', b'y', b'e']);
/// assert_eq!(close.encoded_len(), out.len());
/// # Ok::<(), strata::reliable::wire::EncodeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `len` PADDING bytes (consecutive ones are parsed as one frame).
    Padding {
        /// How many.
        len: usize,
    },
    /// Asks for an acknowledgement; nothing else (keepalive, probes).
    Ping,
    /// Acknowledges received packets.
    Ack(Ack<'a>),
    /// Abruptly ends the sender's direction of the stream.
    Reset {
        /// Why (application or transport code).
        code: ErrorCode,
        /// The stream's final size: bytes sent in that direction.
        final_size: u64,
    },
    /// Raises the connection's flow-control limit: the receiver may send
    /// stream bytes up to offset `max` (exclusive).
    MaxData {
        /// The new limit (limits only grow; a smaller one is ignored).
        max: u64,
    },
    /// The sender has data it cannot send because of the flow-control limit
    /// `limit`.
    DataBlocked {
        /// The limit it is blocked at.
        limit: u64,
    },
    /// Closes the connection at once.
    Close {
        /// Why.
        code: ErrorCode,
        /// A reason for humans (UTF-8 by convention, not checked).
        reason: &'a [u8],
    },
    /// Stream bytes at `offset`; `fin` marks the end of the stream.
    Stream {
        /// The byte offset of `data[0]` in the stream.
        offset: u64,
        /// The stream ends after this frame's data.
        fin: bool,
        /// The bytes.
        data: &'a [u8],
    },
}

impl<'a> Frame<'a> {
    /// The frame's type byte (for STREAM, the base type 0x08).
    ///
    /// ```
    /// use strata::reliable::wire::Frame;
    /// assert_eq!(Frame::Ping.type_byte(), 0x01);
    /// ```
    pub fn type_byte(&self) -> u8 {
        match self {
            Frame::Padding { .. } => PADDING,
            Frame::Ping => PING,
            Frame::Ack(_) => ACK,
            Frame::Reset { .. } => RESET,
            Frame::MaxData { .. } => MAX_DATA,
            Frame::DataBlocked { .. } => DATA_BLOCKED,
            Frame::Close { .. } => CLOSE,
            Frame::Stream { .. } => STREAM,
        }
    }

    /// Whether a packet holding this frame must be acknowledged (everything
    /// but PADDING, ACK and CLOSE).
    ///
    /// ```
    /// use strata::reliable::wire::Frame;
    /// assert!(Frame::Ping.is_ack_eliciting());
    /// assert!(!Frame::Padding { len: 3 }.is_ack_eliciting());
    /// ```
    pub fn is_ack_eliciting(&self) -> bool {
        !matches!(
            self,
            Frame::Padding { .. } | Frame::Ack(_) | Frame::Close { .. }
        )
    }

    /// Whether a packet of type `packet` may carry this frame: Initial
    /// carries PADDING, PING, MAX_DATA and CLOSE; Handshake also ACK; Short
    /// carries all; Retry and Version Negotiation none.
    ///
    /// ```
    /// use strata::reliable::wire::{Frame, PacketType};
    /// assert!(Frame::Ping.allowed_in(PacketType::Initial));
    /// assert!(!Frame::Stream { offset: 0, fin: false, data: b"x" }.allowed_in(PacketType::Handshake));
    /// ```
    pub fn allowed_in(&self, packet: PacketType) -> bool {
        allowed(self.type_byte(), packet)
    }

    /// The bytes [`Frame::encode`] writes.
    ///
    /// ```
    /// use strata::reliable::wire::Frame;
    /// let frame = Frame::Stream { offset: 1000, fin: true, data: b"hello" };
    /// let mut out = Vec::new();
    /// frame.encode(&mut out).unwrap();
    /// assert_eq!(frame.encoded_len(), out.len());
    /// assert_eq!(Frame::Ping.encoded_len(), 1);
    /// ```
    pub fn encoded_len(&self) -> usize {
        match *self {
            Frame::Padding { len } => len,
            Frame::Ping => 1,
            Frame::Ack(ack) => ack.encoded_len(),
            Frame::Reset { code, final_size } => 1 + varint::len(code.0) + varint::len(final_size),
            Frame::MaxData { max: v } | Frame::DataBlocked { limit: v } => 1 + varint::len(v),
            Frame::Close { code, reason } => {
                1 + varint::len(code.0) + varint::len(reason.len() as u64) + reason.len()
            }
            Frame::Stream { offset, data, .. } => stream_frame_len(offset, data.len(), false),
        }
    }

    /// Appends the frame. STREAM is written with an explicit length (see
    /// [`encode_stream`] for the last frame of a packet). On error `out` is
    /// unchanged.
    ///
    /// ```
    /// use strata::reliable::wire::Frame;
    /// let mut out = Vec::new();
    /// Frame::MaxData { max: 100 }.encode(&mut out)?;
    /// assert_eq!(out, [0x04, 0x40, 100]);
    /// # Ok::<(), strata::reliable::wire::EncodeError>(())
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        let r = self.encode_unchecked(out);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn encode_unchecked(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match *self {
            Frame::Padding { len } => out.resize(out.len().saturating_add(len), PADDING),
            Frame::Ping => out.push(PING),
            Frame::Ack(ack) => ack.encode(out)?,
            Frame::Reset { code, final_size } => {
                out.push(RESET);
                varint::write(out, code.0)?;
                varint::write(out, final_size)?;
            }
            Frame::MaxData { max } => {
                out.push(MAX_DATA);
                varint::write(out, max)?;
            }
            Frame::DataBlocked { limit } => {
                out.push(DATA_BLOCKED);
                varint::write(out, limit)?;
            }
            Frame::Close { code, reason } => {
                out.push(CLOSE);
                varint::write(out, code.0)?;
                varint::write(out, reason.len() as u64)?;
                out.extend_from_slice(reason);
            }
            Frame::Stream { offset, fin, data } => encode_stream(out, offset, data, fin, false)?,
        }
        Ok(())
    }
}

fn allowed(frame: u8, packet: PacketType) -> bool {
    match packet {
        PacketType::Short => true,
        PacketType::Initial => matches!(frame, PADDING | PING | CLOSE | MAX_DATA),
        PacketType::Handshake => matches!(frame, PADDING | PING | ACK | CLOSE | MAX_DATA),
        PacketType::Retry | PacketType::VersionNegotiation => false,
    }
}

/// The bytes of a STREAM frame at `offset` with `len` data bytes; `last`:
/// without its length field (the frame runs to the end of the packet).
///
/// ```
/// use strata::reliable::wire::stream_frame_len;
/// assert_eq!(stream_frame_len(0, 10, true), 11); // type, data
/// assert_eq!(stream_frame_len(0, 10, false), 12); // type, length, data
/// assert_eq!(stream_frame_len(100, 10, false), 14); // type, offset, length, data
/// ```
pub fn stream_frame_len(offset: u64, len: usize, last: bool) -> usize {
    let off = if offset == 0 { 0 } else { varint::len(offset) };
    let len_field = if last { 0 } else { varint::len(len as u64) };
    1 + off + len_field + len
}

/// How many of `available` stream bytes at `offset` fit in a STREAM frame
/// of at most `budget` bytes (`last` as in [`stream_frame_len`]); `None`
/// when not even an empty frame fits.
///
/// ```
/// use strata::reliable::wire::{stream_data_fits, stream_frame_len};
/// let n = stream_data_fits(1000, 5000, 1 << 20, false).unwrap();
/// assert_eq!(stream_frame_len(5000, n, false), 1000);
/// assert_eq!(stream_data_fits(1000, 0, 10, false), Some(10));
/// assert_eq!(stream_data_fits(1, 5000, 10, false), None);
/// ```
pub fn stream_data_fits(budget: usize, offset: u64, available: usize, last: bool) -> Option<usize> {
    let header = stream_frame_len(offset, 0, true);
    let room = budget.checked_sub(header)?;
    // Never past the largest offset a varint holds.
    let cap = usize::try_from(varint::MAX.saturating_sub(offset)).unwrap_or(usize::MAX);
    let available = available.min(cap);
    if last {
        return Some(available.min(room));
    }
    // For each size of the length field, the most data it can describe.
    [
        (1usize, 63u64),
        (2, 16_383),
        (4, (1 << 30) - 1),
        (8, varint::MAX),
    ]
    .into_iter()
    .filter_map(|(len_len, most)| {
        let most = usize::try_from(most).unwrap_or(usize::MAX);
        Some(available.min(room.checked_sub(len_len)?).min(most))
    })
    .max()
}

/// Appends a STREAM frame; `last` leaves out the length field, so the frame
/// must then be the last of its packet. On error `out` is unchanged.
///
/// ```
/// use strata::reliable::wire::encode_stream;
/// let mut out = Vec::new();
/// encode_stream(&mut out, 0, b"hi", true, true)?;
/// assert_eq!(out, [0x09, b'h', b'i']); // STREAM with FIN, no offset, no length
/// # Ok::<(), strata::reliable::wire::EncodeError>(())
/// ```
pub fn encode_stream(
    out: &mut Vec<u8>,
    offset: u64,
    data: &[u8],
    fin: bool,
    last: bool,
) -> Result<(), EncodeError> {
    let end = offset.checked_add(data.len() as u64);
    if end.is_none_or(|end| end > varint::MAX) {
        return Err(EncodeError::StreamPastLimit);
    }
    let mut ty = STREAM;
    if fin {
        ty |= STREAM_FIN;
    }
    if !last {
        ty |= STREAM_LEN;
    }
    if offset != 0 {
        ty |= STREAM_OFF;
    }
    out.push(ty);
    if offset != 0 {
        varint::write_checked(out, offset);
    }
    if !last {
        varint::write_checked(out, data.len() as u64);
    }
    out.extend_from_slice(data);
    Ok(())
}

/// An ACK frame: the largest packet number acknowledged, the delay between
/// receiving it and sending this ACK, and the acknowledged ranges.
///
/// Parsed ACKs are fully checked (at most [`MAX_ACK_RANGES`] additional
/// ranges, none below 0), so [`Ack::ranges`] cannot fail. To send one, use
/// [`encode_ack`].
///
/// ```
/// use strata::reliable::wire::{self, Frame, PacketNumber, PacketType};
/// let mut out = Vec::new();
/// wire::encode_ack(&mut out, &[10..=12, 3..=5, 0..=0], 250, 1200)?;
/// let Some(Ok(Frame::Ack(ack))) = wire::Frames::new(&out, PacketType::Short).next() else { panic!() };
/// assert_eq!(ack.largest(), PacketNumber(12));
/// assert_eq!(ack.delay_micros(), 250);
/// assert_eq!(ack.ranges().collect::<Vec<_>>(), [10..=12, 3..=5, 0..=0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Ack<'a> {
    largest: PacketNumber,
    delay_micros: u64,
    first_range: u64,
    count: u64,
    raw: &'a [u8],
}

impl PartialEq for Ack<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.largest == other.largest
            && self.delay_micros == other.delay_micros
            && self.ranges().eq(other.ranges())
    }
}

impl Eq for Ack<'_> {}

impl<'a> Ack<'a> {
    /// The largest packet number acknowledged.
    ///
    /// ```
    /// # use strata::reliable::wire::{self, Frame, PacketNumber, PacketType};
    /// # let mut out = Vec::new();
    /// # wire::encode_ack(&mut out, &[10..=12, 3..=5, 0..=0], 250, 1200).unwrap();
    /// # let Some(Ok(Frame::Ack(ack))) = wire::Frames::new(&out, PacketType::Short).next() else { panic!() };
    /// // Ranges 10..=12, 3..=5 and 0..=0, sent 250 µs after 12 arrived.
    /// assert_eq!(ack.largest(), PacketNumber(12));
    /// ```
    pub fn largest(&self) -> PacketNumber {
        self.largest
    }

    /// Microseconds between receiving [`Ack::largest`] and sending the ACK.
    ///
    /// ```
    /// # use strata::reliable::wire::{self, Frame, PacketNumber, PacketType};
    /// # let mut out = Vec::new();
    /// # wire::encode_ack(&mut out, &[10..=12, 3..=5, 0..=0], 250, 1200).unwrap();
    /// # let Some(Ok(Frame::Ack(ack))) = wire::Frames::new(&out, PacketType::Short).next() else { panic!() };
    /// // Ranges 10..=12, 3..=5 and 0..=0, sent 250 µs after 12 arrived.
    /// assert_eq!(ack.delay_micros(), 250);
    /// ```
    pub fn delay_micros(&self) -> u64 {
        self.delay_micros
    }

    /// The acknowledged ranges, highest first, each inclusive, disjoint and
    /// not adjacent.
    ///
    /// ```
    /// # use strata::reliable::wire::{self, Frame, PacketNumber, PacketType};
    /// # let mut out = Vec::new();
    /// # wire::encode_ack(&mut out, &[10..=12, 3..=5, 0..=0], 250, 1200).unwrap();
    /// # let Some(Ok(Frame::Ack(ack))) = wire::Frames::new(&out, PacketType::Short).next() else { panic!() };
    /// let mut ranges = ack.ranges();
    /// assert_eq!(ranges.next(), Some(10..=12)); // highest first
    /// assert_eq!(ranges.next(), Some(3..=5));
    /// assert_eq!(ranges.next(), Some(0..=0));
    /// assert_eq!(ranges.next(), None);
    /// ```
    pub fn ranges(&self) -> AckRanges<'a> {
        AckRanges {
            next: self
                .largest
                .0
                .checked_sub(self.first_range)
                .map(|lo| lo..=self.largest.0),
            left: self.count,
            raw: self.raw,
        }
    }

    /// The number of ranges (at least 1).
    ///
    /// ```
    /// # use strata::reliable::wire::{self, Frame, PacketNumber, PacketType};
    /// # let mut out = Vec::new();
    /// # wire::encode_ack(&mut out, &[10..=12, 3..=5, 0..=0], 250, 1200).unwrap();
    /// # let Some(Ok(Frame::Ack(ack))) = wire::Frames::new(&out, PacketType::Short).next() else { panic!() };
    /// // Ranges 10..=12, 3..=5 and 0..=0.
    /// assert_eq!(ack.range_count(), 3);
    /// assert_eq!(ack.range_count(), ack.ranges().count());
    /// ```
    pub fn range_count(&self) -> usize {
        // At most MAX_ACK_RANGES + 1, checked at parse time.
        usize::try_from(self.count).map_or(usize::MAX, |c| c.saturating_add(1))
    }

    /// The smallest packet number acknowledged.
    ///
    /// ```
    /// # use strata::reliable::wire::{self, Frame, PacketNumber, PacketType};
    /// # let mut out = Vec::new();
    /// # wire::encode_ack(&mut out, &[10..=12, 3..=5, 0..=0], 250, 1200).unwrap();
    /// # let Some(Ok(Frame::Ack(ack))) = wire::Frames::new(&out, PacketType::Short).next() else { panic!() };
    /// // Ranges 10..=12, 3..=5 and 0..=0.
    /// assert_eq!(ack.smallest(), PacketNumber(0));
    /// ```
    pub fn smallest(&self) -> PacketNumber {
        PacketNumber(self.ranges().last().map_or(0, |r| *r.start()))
    }

    fn encoded_len(&self) -> usize {
        1 + varint::len(self.largest.0)
            + varint::len(self.delay_micros)
            + varint::len(self.count)
            + varint::len(self.first_range)
            + self.raw.len()
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(ACK);
        for v in [
            self.largest.0,
            self.delay_micros,
            self.count,
            self.first_range,
        ] {
            varint::write(out, v)?;
        }
        out.extend_from_slice(self.raw);
        Ok(())
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let largest = r.varint("ACK largest")?;
        let delay_micros = r.varint("ACK delay")?;
        let count = r.varint("ACK range count")?;
        if count > MAX_ACK_RANGES as u64 {
            return Err(WireError::TooManyAckRanges(count));
        }
        let first_range = r.varint("ACK first range")?;
        let mut smallest = largest
            .checked_sub(first_range)
            .ok_or(WireError::AckRangeUnderflow)?;
        let before = r.rest();
        for _ in 0..count {
            let gap = r.varint("ACK gap")?;
            let len = r.varint("ACK range length")?;
            smallest = next_range(smallest, gap, len)
                .ok_or(WireError::AckRangeUnderflow)?
                .0;
        }
        let used = before.len() - r.rest().len();
        Ok(Ack {
            largest: PacketNumber(largest),
            delay_micros,
            first_range,
            count,
            raw: before.get(..used).unwrap_or_default(),
        })
    }
}

/// The range after one whose smallest number is `smallest`: `gap + 1`
/// numbers missing, then `len + 1` acknowledged. Returns (smallest, largest).
fn next_range(smallest: u64, gap: u64, len: u64) -> Option<(u64, u64)> {
    let largest = smallest.checked_sub(gap)?.checked_sub(2)?;
    Some((largest.checked_sub(len)?, largest))
}

/// The ranges of an [`Ack`], highest first.
///
/// ```
/// use strata::reliable::wire::{self, Frame, PacketType};
/// let mut out = Vec::new();
/// wire::encode_ack(&mut out, &[100..=100, 90..=95], 0, 1200).unwrap();
/// let Some(Ok(Frame::Ack(ack))) = wire::Frames::new(&out, PacketType::Short).next() else { panic!() };
/// let acked: u64 = ack.ranges().map(|r| r.end() - r.start() + 1).sum();
/// assert_eq!(acked, 1 + 6);
/// ```
#[derive(Clone, Debug)]
pub struct AckRanges<'a> {
    next: Option<RangeInclusive<u64>>,
    left: u64,
    raw: &'a [u8],
}

impl Iterator for AckRanges<'_> {
    type Item = RangeInclusive<u64>;

    fn next(&mut self) -> Option<RangeInclusive<u64>> {
        let current = self.next.take()?;
        if self.left > 0 {
            self.left -= 1;
            // Checked when the ACK was parsed; a failure just ends the list.
            let mut r = Reader::new(self.raw);
            if let (Ok(gap), Ok(len)) = (r.varint("ACK gap"), r.varint("ACK range length")) {
                self.raw = r.rest();
                self.next = next_range(*current.start(), gap, len).map(|(lo, hi)| lo..=hi);
            }
        }
        Some(current)
    }
}

/// Appends an ACK frame for `ranges` (highest first, disjoint, not
/// adjacent, inclusive) with `delay_micros`, within `budget` bytes: the
/// highest ranges that fit (at most [`MAX_ACK_RANGES`] + 1) are written and
/// their number returned. On error `out` is unchanged.
///
/// ```
/// use strata::reliable::wire::{encode_ack, EncodeError};
/// let mut out = Vec::new();
/// assert_eq!(encode_ack(&mut out, &[20..=30, 10..=15, 1..=5], 0, 7), Ok(2)); // the third does not fit
/// assert_eq!(out.len(), 7);
/// assert_eq!(encode_ack(&mut out, &[1..=5, 10..=15], 0, 100), Err(EncodeError::BadAckRanges));
/// ```
pub fn encode_ack(
    out: &mut Vec<u8>,
    ranges: &[RangeInclusive<u64>],
    delay_micros: u64,
    budget: usize,
) -> Result<usize, EncodeError> {
    let first = ranges.first().ok_or(EncodeError::BadAckRanges)?;
    let (largest, lowest) = (*first.end(), *first.start());
    if lowest > largest {
        return Err(EncodeError::BadAckRanges);
    }
    for v in [largest, delay_micros] {
        if v > varint::MAX {
            return Err(EncodeError::VarintTooLarge(v));
        }
    }
    // The (gap, length) pair of each further range, checked.
    let mut pairs = Vec::with_capacity(ranges.len().min(MAX_ACK_RANGES));
    let mut prev_low = lowest;
    for r in ranges.iter().skip(1).take(MAX_ACK_RANGES) {
        let (lo, hi) = (*r.start(), *r.end());
        if lo > hi || hi.checked_add(1).is_none_or(|h| h >= prev_low) {
            return Err(EncodeError::BadAckRanges);
        }
        pairs.push((prev_low - hi - 2, hi - lo));
        prev_low = lo;
    }
    let base = 1 + varint::len(largest) + varint::len(delay_micros) + varint::len(largest - lowest);
    let mut n = 0;
    let mut size = base + 1;
    for &(gap, len) in &pairs {
        let next = size + varint::len(gap) + varint::len(len) + varint::len(n as u64 + 1)
            - varint::len(n as u64);
        if next > budget {
            break;
        }
        size = next;
        n += 1;
    }
    if size > budget {
        return Err(EncodeError::NoRoom {
            needed: size,
            budget,
        });
    }
    out.push(ACK);
    for v in [largest, delay_micros, n as u64, largest - lowest] {
        varint::write_checked(out, v);
    }
    for &(gap, len) in pairs.iter().take(n) {
        varint::write_checked(out, gap);
        varint::write_checked(out, len);
    }
    Ok(n + 1)
}

/// The frames of a payload, decoded lazily (see
/// [`crate::reliable::wire::Packet::frames`]). After an error it ends.
///
/// ```
/// use strata::reliable::wire::{Frame, Frames, PacketType, WireError};
/// let mut frames = Frames::new(&[0x01, 0x00, 0x00, 0x42], PacketType::Short);
/// assert_eq!(frames.next(), Some(Ok(Frame::Ping)));
/// assert_eq!(frames.next(), Some(Ok(Frame::Padding { len: 2 })));
/// assert_eq!(frames.next(), Some(Err(WireError::UnknownFrame(0x42))));
/// assert_eq!(frames.next(), None);
/// ```
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    rest: &'a [u8],
    packet: PacketType,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// The frames of `payload`, in a packet of type `packet`.
    ///
    /// ```
    /// use strata::reliable::wire::{Frame, Frames, PacketType, WireError};
    /// let payload = [0x01]; // PING
    /// assert_eq!(Frames::new(&payload, PacketType::Initial).next(), Some(Ok(Frame::Ping)));
    /// // A STREAM frame is not allowed in an Initial.
    /// let mut stream = Vec::new();
    /// Frame::Stream { offset: 0, fin: false, data: b"x" }.encode(&mut stream).unwrap();
    /// assert!(matches!(
    ///     Frames::new(&stream, PacketType::Initial).next(),
    ///     Some(Err(WireError::FrameNotAllowed { .. }))
    /// ));
    /// ```
    pub fn new(payload: &'a [u8], packet: PacketType) -> Self {
        Frames {
            rest: payload,
            packet,
            failed: false,
        }
    }

    fn parse_one(&mut self) -> Result<Frame<'a>, WireError> {
        let mut r = Reader::new(self.rest);
        let ty = r.u8("frame type")?;
        let known = matches!(ty, PADDING..=CLOSE | STREAM..=0x0f);
        if !known {
            return Err(WireError::UnknownFrame(ty));
        }
        let base = if ty >= STREAM { STREAM } else { ty };
        if !allowed(base, self.packet) {
            return Err(WireError::FrameNotAllowed {
                frame: ty,
                packet: self.packet,
            });
        }
        let frame = match ty {
            PADDING => {
                let len = 1 + r.rest().iter().take_while(|&&b| b == PADDING).count();
                r.bytes(len - 1, "padding")?;
                Frame::Padding { len }
            }
            PING => Frame::Ping,
            ACK => Frame::Ack(Ack::parse(&mut r)?),
            RESET => Frame::Reset {
                code: ErrorCode(r.varint("RESET code")?),
                final_size: r.varint("RESET final size")?,
            },
            MAX_DATA => Frame::MaxData {
                max: r.varint("MAX_DATA")?,
            },
            DATA_BLOCKED => Frame::DataBlocked {
                limit: r.varint("DATA_BLOCKED")?,
            },
            CLOSE => {
                let code = ErrorCode(r.varint("CLOSE code")?);
                let len = r.varint("CLOSE reason length")?;
                let len = usize::try_from(len).map_err(|_| WireError::OutOfRange {
                    field: "CLOSE reason length",
                })?;
                Frame::Close {
                    code,
                    reason: r.bytes(len, "CLOSE reason")?,
                }
            }
            _ => {
                let offset = if ty & STREAM_OFF != 0 {
                    r.varint("STREAM offset")?
                } else {
                    0
                };
                let data = if ty & STREAM_LEN != 0 {
                    let len = r.varint("STREAM length")?;
                    let len = usize::try_from(len).map_err(|_| WireError::OutOfRange {
                        field: "STREAM length",
                    })?;
                    r.bytes(len, "STREAM data")?
                } else {
                    r.bytes(r.rest().len(), "STREAM data")?
                };
                let end = offset.checked_add(data.len() as u64);
                if end.is_none_or(|end| end > varint::MAX) {
                    return Err(WireError::OutOfRange {
                        field: "STREAM end",
                    });
                }
                Frame::Stream {
                    offset,
                    fin: ty & STREAM_FIN != 0,
                    data,
                }
            }
        };
        self.rest = r.rest();
        Ok(frame)
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let r = self.parse_one();
        self.failed = r.is_err();
        Some(r)
    }
}
