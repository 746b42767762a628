//! The reliable mapping's native wire format: packets, frames and their
//! codec. The normative description, enough to write a compatible peer, is
//! `docs/reliable-wire.md`; this module implements it.
//!
//! One datagram carries exactly one packet. A packet has a long header
//! (handshake: [`Header::Initial`], [`Header::Retry`], [`Header::Handshake`],
//! [`Header::VersionNegotiation`]) or a short header (data:
//! [`Header::Short`]), and then, except for Retry and Version Negotiation,
//! a payload of one or more [`Frame`]s.
//!
//! Parsing is zero-copy and never panics: [`parse_packet`] checks the
//! header and returns a [`Packet`] whose [`Packet::frames`] decodes frames
//! lazily, each as `Result<Frame, WireError>`. Encoding writes into a
//! caller-owned `Vec<u8>`; every encoder has a matching length helper
//! ([`Header::encoded_len`], [`Frame::encoded_len`], [`stream_frame_len`],
//! [`stream_data_fits`], [`encode_ack`] with a byte budget) so a packer can
//! fill a datagram up to the path MTU ([`DEFAULT_MTU`]).
//!
//! ```
//! use strata::reliable::wire::{self, ConnId, Frame, Header, PacketNumber};
//!
//! // Pack a short-header packet: a PING and some stream data.
//! let mut out = Vec::new();
//! let header = Header::Short { dst: ConnId(7), number: PacketNumber(42) };
//! header.encode(&mut out)?;
//! Frame::Ping.encode(&mut out)?;
//! wire::encode_stream(&mut out, 0, b"hello", true, true)?;
//!
//! let packet = wire::parse_packet(&out)?;
//! assert_eq!(packet.header, header);
//! let frames: Vec<Frame<'_>> = packet.frames().collect::<Result<_, _>>()?;
//! assert_eq!(frames, [Frame::Ping, Frame::Stream { offset: 0, fin: true, data: b"hello" }]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod frame;
mod packet;
pub mod varint;

#[cfg(test)]
mod tests;

use std::fmt;

pub use frame::{
    encode_ack, encode_stream, stream_data_fits, stream_frame_len, Ack, AckRanges, Frame, Frames,
};
pub use packet::{pad_to, parse_packet, Header, Packet, PacketType, VersionList, MIN_INITIAL_SIZE};

/// The protocol version this module speaks (the `version` field of long
/// headers). Version 0 marks a Version Negotiation packet.
pub const VERSION: u32 = 1;

/// The default path MTU: the largest datagram sent before a larger size is
/// known to work. Initial packets are padded to [`MIN_INITIAL_SIZE`], which
/// equals it.
pub const DEFAULT_MTU: usize = 1200;

/// The connection flow-control limit in force before the first MAX_DATA
/// frame: each endpoint may send stream bytes up to this offset.
pub const INITIAL_MAX_DATA: u64 = 65_536;

/// The largest address-validation token accepted in Initial and Retry
/// packets, in bytes (the cookies of [`crate::reliable::cookie`] take 41).
pub const MAX_TOKEN_LEN: usize = 128;

/// The most additional ranges (after the first) an ACK frame may carry.
/// More is a [`WireError::TooManyAckRanges`].
pub const MAX_ACK_RANGES: usize = 64;

/// The most versions a Version Negotiation packet may list.
pub const MAX_VERSIONS: usize = 16;

/// A connection id: 64 random bits chosen by the endpoint that receives
/// packets carrying it.
///
/// ```
/// use strata::reliable::wire::ConnId;
/// assert_eq!(ConnId(0xab).to_string(), "00000000000000ab");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(
    /// The id's 64 bits.
    pub u64,
);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A packet number: starts at 0 in each direction of a connection, grows by
/// at least one per packet sent and is never reused (retransmitted data goes
/// in a new packet). At most [`varint::MAX`].
///
/// ```
/// use strata::reliable::wire::PacketNumber;
/// assert!(PacketNumber(1) < PacketNumber(2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketNumber(
    /// The number.
    pub u64,
);

/// An error code carried by CLOSE and RESET frames. Codes below
/// [`ErrorCode::APPLICATION_MIN`] are the transport's own (the constants
/// here); the rest belong to the protocol running over the stream.
///
/// ```
/// use strata::reliable::wire::ErrorCode;
/// assert_eq!(ErrorCode::PROTOCOL_VIOLATION.to_string(), "PROTOCOL_VIOLATION");
/// assert_eq!(ErrorCode(0x1234).to_string(), "0x1234");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(
    /// The code.
    pub u64,
);

impl ErrorCode {
    /// Graceful close, no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// The endpoint hit an internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x1);
    /// The server refuses the connection (busy, or policy).
    pub const CONNECTION_REFUSED: ErrorCode = ErrorCode(0x2);
    /// The peer sent more data than MAX_DATA allowed.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// Data past a final size (FIN or RESET), or a final size that changed.
    pub const FINAL_SIZE_ERROR: ErrorCode = ErrorCode(0x4);
    /// A frame that does not parse.
    pub const FRAME_ENCODING_ERROR: ErrorCode = ErrorCode(0x5);
    /// Anything else the peer did wrong (a frame in the wrong packet type,
    /// an ACK of a packet never sent, ...).
    pub const PROTOCOL_VIOLATION: ErrorCode = ErrorCode(0x6);
    /// The Initial packet's token is invalid or expired.
    pub const INVALID_TOKEN: ErrorCode = ErrorCode(0x7);
    /// The first application code.
    pub const APPLICATION_MIN: ErrorCode = ErrorCode(0x100);

    fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::NO_ERROR => "NO_ERROR",
            Self::INTERNAL_ERROR => "INTERNAL_ERROR",
            Self::CONNECTION_REFUSED => "CONNECTION_REFUSED",
            Self::FLOW_CONTROL_ERROR => "FLOW_CONTROL_ERROR",
            Self::FINAL_SIZE_ERROR => "FINAL_SIZE_ERROR",
            Self::FRAME_ENCODING_ERROR => "FRAME_ENCODING_ERROR",
            Self::PROTOCOL_VIOLATION => "PROTOCOL_VIOLATION",
            Self::INVALID_TOKEN => "INVALID_TOKEN",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

/// Bytes from the peer that are not a valid packet or frame. The peer is at
/// fault; [`WireError::close_code`] gives the code to close with (or, for a
/// packet that cannot be attributed to a connection, drop it silently).
///
/// ```
/// use strata::reliable::wire::{self, ErrorCode, WireError};
/// assert_eq!(wire::parse_packet(&[]), Err(WireError::Truncated { field: "first byte" }));
/// assert_eq!(WireError::UnknownFrame(0x42).close_code(), ErrorCode::FRAME_ENCODING_ERROR);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The datagram ends inside a field.
    #[error("truncated: {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// The fixed bit (0x40 of the first byte) is clear: not this protocol.
    #[error("fixed bit clear: not a packet of this protocol")]
    FixedBitClear,
    /// Reserved bits of the first byte are set.
    #[error("reserved header bits set: {0:#04x}")]
    ReservedBits(u8),
    /// A long header with the reserved packet type 3.
    #[error("unknown long packet type")]
    UnknownPacketType,
    /// A long header of a version this endpoint does not speak. The ids let a
    /// server answer with a Version Negotiation packet.
    #[error("unsupported version {version:#x}")]
    UnsupportedVersion {
        /// The version the packet claims.
        version: u32,
        /// Its destination connection id.
        dst: ConnId,
        /// Its source connection id.
        src: ConnId,
    },
    /// An Initial packet in a datagram under [`MIN_INITIAL_SIZE`] bytes.
    #[error("Initial packet of {len} bytes, under the minimum")]
    InitialTooSmall {
        /// The datagram's length.
        len: usize,
    },
    /// A token longer than [`MAX_TOKEN_LEN`], or an empty Retry token.
    #[error("bad token length {0}")]
    BadTokenLength(u64),
    /// A Version Negotiation list that is empty, too long, or not a whole
    /// number of 4-byte versions.
    #[error("bad version list")]
    BadVersionList,
    /// Bytes after a Retry packet's token.
    #[error("trailing bytes after the packet")]
    TrailingBytes,
    /// A packet that must carry frames carries none.
    #[error("packet without frames")]
    EmptyPayload,
    /// A frame type this version does not define.
    #[error("unknown frame type {0:#04x}")]
    UnknownFrame(u8),
    /// A known frame in a packet type that must not carry it.
    #[error("frame type {frame:#04x} not allowed in {packet:?} packets")]
    FrameNotAllowed {
        /// The frame's type byte.
        frame: u8,
        /// The packet it came in.
        packet: PacketType,
    },
    /// An ACK frame with more than [`MAX_ACK_RANGES`] additional ranges.
    #[error("ACK with {0} ranges, over the limit")]
    TooManyAckRanges(u64),
    /// An ACK range that would go below packet number 0.
    #[error("ACK range below packet number 0")]
    AckRangeUnderflow,
    /// A value past its field's limit: a STREAM frame whose end
    /// (offset + length) passes [`varint::MAX`], or a CLOSE reason longer
    /// than its datagram.
    #[error("value out of range: {field}")]
    OutOfRange {
        /// The field.
        field: &'static str,
    },
}

impl WireError {
    /// The code to close the connection with when this error comes from a
    /// packet of an established connection.
    ///
    /// ```
    /// use strata::reliable::wire::{ErrorCode, WireError};
    /// assert_eq!(WireError::AckRangeUnderflow.close_code(), ErrorCode::FRAME_ENCODING_ERROR);
    /// ```
    pub fn close_code(&self) -> ErrorCode {
        match self {
            WireError::FrameNotAllowed { .. }
            | WireError::EmptyPayload
            | WireError::UnsupportedVersion { .. } => ErrorCode::PROTOCOL_VIOLATION,
            _ => ErrorCode::FRAME_ENCODING_ERROR,
        }
    }
}

/// A value the caller asked to encode does not fit the wire format (API
/// misuse: the output is left as it was).
///
/// ```
/// use strata::reliable::wire::{varint, EncodeError};
/// let mut out = Vec::new();
/// assert_eq!(varint::write(&mut out, u64::MAX), Err(EncodeError::VarintTooLarge(u64::MAX)));
/// assert!(out.is_empty());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A value over [`varint::MAX`].
    #[error("{0} does not fit a varint")]
    VarintTooLarge(u64),
    /// A token over [`MAX_TOKEN_LEN`] bytes (or an empty Retry token).
    #[error("bad token length {0}")]
    BadTokenLength(usize),
    /// A Version Negotiation list that is empty or over [`MAX_VERSIONS`].
    #[error("bad version list")]
    BadVersionList,
    /// ACK ranges that are empty, not in descending order, overlapping or
    /// adjacent (adjacent ranges must be merged).
    #[error("ACK ranges not descending and disjoint")]
    BadAckRanges,
    /// The byte budget cannot hold even the smallest encoding.
    #[error("no room: {needed} bytes needed, {budget} available")]
    NoRoom {
        /// Bytes the smallest encoding takes.
        needed: usize,
        /// Bytes available.
        budget: usize,
    },
    /// A STREAM frame whose end (offset + length) passes [`varint::MAX`].
    #[error("stream frame end past the varint limit")]
    StreamPastLimit,
}

/// A bounds-checked reader over a datagram.
#[derive(Clone, Copy)]
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn rest(&self) -> &'a [u8] {
        self.buf
    }

    fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError::Truncated { field });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N, field)?);
        Ok(a)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn conn_id(&mut self, field: &'static str) -> Result<ConnId, WireError> {
        Ok(ConnId(u64::from_be_bytes(self.array(field)?)))
    }

    fn varint(&mut self, field: &'static str) -> Result<u64, WireError> {
        let (v, used) = varint::read(self.buf).ok_or(WireError::Truncated { field })?;
        self.buf = self.buf.get(used..).unwrap_or_default();
        Ok(v)
    }
}
