//! HTTP/2 frames (RFC 9113 §4, §6): parse from and write to byte buffers.
//!
//! The codec knows frame layouts and the validity rules of each frame type
//! (lengths, stream 0 or not, padding, flags); it knows nothing about stream
//! states, which belong to the connection. [`parse`] borrows the payload from
//! the caller's buffer and never allocates; the `write_*` functions append
//! whole frames to the caller's output buffer.
//!
//! ```
//! use strata::http::h2::frame::{self, Frame, DEFAULT_MAX_FRAME_SIZE};
//!
//! let mut wire = Vec::new();
//! frame::write_ping(&mut wire, *b"12345678", false);
//! frame::write_window_update(&mut wire, 0, 1000);
//!
//! let (f, used) = frame::parse(&wire, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
//! assert_eq!(f, Frame::Ping { ack: false, data: *b"12345678" });
//! let (f, _) = frame::parse(&wire[used..], DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
//! assert_eq!(f, Frame::WindowUpdate { stream: 0, increment: 1000 });
//! ```

use std::fmt;
use std::slice::ChunksExact;

/// The client connection preface (RFC 9113 §3.4), sent before any frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The size of a frame header (RFC 9113 §4.1).
pub const HEADER_LEN: usize = 9;

/// The initial SETTINGS_MAX_FRAME_SIZE, and the smallest value a peer may
/// advertise (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The largest SETTINGS_MAX_FRAME_SIZE a peer may advertise, and the largest
/// length the 24-bit length field can carry: 2^24 − 1.
pub const MAX_FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;

/// The largest stream id and window increment: 2^31 − 1 (the top bit of
/// those fields is reserved).
pub const MAX_STREAM_ID: u32 = 0x7fff_ffff;

mod write;
pub use write::{
    write_data, write_goaway, write_header, write_headers, write_ping, write_rst_stream,
    write_settings, write_settings_ack, write_window_update,
};

/// Frame type codes (RFC 9113 §6), the `kind` of a [`FrameHeader`].
pub mod kind {
    /// DATA (§6.1).
    pub const DATA: u8 = 0x0;
    /// HEADERS (§6.2).
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (§6.3, deprecated but still parsed).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM (§6.4).
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS (§6.5).
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (§6.6).
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING (§6.7).
    pub const PING: u8 = 0x6;
    /// GOAWAY (§6.8).
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION (§6.10).
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags (RFC 9113 §6), the `flags` of a [`FrameHeader`]. Which ones
/// mean something depends on the frame type; the others are ignored.
pub mod flag {
    /// END_STREAM on DATA and HEADERS.
    pub const END_STREAM: u8 = 0x1;
    /// ACK on SETTINGS and PING.
    pub const ACK: u8 = 0x1;
    /// END_HEADERS on HEADERS, PUSH_PROMISE and CONTINUATION.
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED on DATA, HEADERS and PUSH_PROMISE.
    pub const PADDED: u8 = 0x8;
    /// PRIORITY on HEADERS: the payload starts with priority fields.
    pub const PRIORITY: u8 = 0x20;
}

/// Setting identifiers (RFC 9113 §6.5.2, RFC 8441 §3). Values are checked
/// by the connection, not by the codec.
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
}

/// An HTTP/2 error code (RFC 9113 §7), as carried by RST_STREAM and GOAWAY.
/// Unknown codes are kept, as the RFC asks.
///
/// ```
/// use strata::http::h2::frame::ErrorCode;
/// assert_eq!(ErrorCode::from_u32(0x1), ErrorCode::ProtocolError);
/// assert_eq!(ErrorCode::from_u32(0x77), ErrorCode::Unknown(0x77));
/// assert_eq!(ErrorCode::FrameSizeError.to_u32(), 0x6);
/// assert_eq!(ErrorCode::EnhanceYourCalm.to_string(), "ENHANCE_YOUR_CALM");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// NO_ERROR (0x0): graceful shutdown.
    NoError,
    /// PROTOCOL_ERROR (0x1).
    ProtocolError,
    /// INTERNAL_ERROR (0x2).
    InternalError,
    /// FLOW_CONTROL_ERROR (0x3).
    FlowControlError,
    /// SETTINGS_TIMEOUT (0x4).
    SettingsTimeout,
    /// STREAM_CLOSED (0x5).
    StreamClosed,
    /// FRAME_SIZE_ERROR (0x6).
    FrameSizeError,
    /// REFUSED_STREAM (0x7): not processed, safe to retry.
    RefusedStream,
    /// CANCEL (0x8).
    Cancel,
    /// COMPRESSION_ERROR (0x9): the HPACK context is lost.
    CompressionError,
    /// CONNECT_ERROR (0xa).
    ConnectError,
    /// ENHANCE_YOUR_CALM (0xb): the peer is abusive.
    EnhanceYourCalm,
    /// INADEQUATE_SECURITY (0xc).
    InadequateSecurity,
    /// HTTP_1_1_REQUIRED (0xd).
    Http11Required,
    /// A code this implementation does not know (to be treated as
    /// INTERNAL_ERROR, but reported as received).
    Unknown(u32),
}

impl ErrorCode {
    /// The code for a value read from the wire.
    ///
    /// ```
    /// use strata::http::h2::frame::ErrorCode;
    /// assert_eq!(ErrorCode::from_u32(0x8), ErrorCode::Cancel);
    /// assert_eq!(ErrorCode::from_u32(0x42), ErrorCode::Unknown(0x42));
    /// ```
    pub fn from_u32(v: u32) -> Self {
        match v {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The value written on the wire.
    ///
    /// ```
    /// use strata::http::h2::frame::ErrorCode;
    /// assert_eq!(ErrorCode::EnhanceYourCalm.to_u32(), 0xb);
    /// assert_eq!(ErrorCode::Unknown(0x42).to_u32(), 0x42); // as received
    /// ```
    pub fn to_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(v) => v,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorCode::NoError => "NO_ERROR",
            ErrorCode::ProtocolError => "PROTOCOL_ERROR",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::FlowControlError => "FLOW_CONTROL_ERROR",
            ErrorCode::SettingsTimeout => "SETTINGS_TIMEOUT",
            ErrorCode::StreamClosed => "STREAM_CLOSED",
            ErrorCode::FrameSizeError => "FRAME_SIZE_ERROR",
            ErrorCode::RefusedStream => "REFUSED_STREAM",
            ErrorCode::Cancel => "CANCEL",
            ErrorCode::CompressionError => "COMPRESSION_ERROR",
            ErrorCode::ConnectError => "CONNECT_ERROR",
            ErrorCode::EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            ErrorCode::InadequateSecurity => "INADEQUATE_SECURITY",
            ErrorCode::Http11Required => "HTTP_1_1_REQUIRED",
            ErrorCode::Unknown(v) => return write!(f, "UNKNOWN_ERROR({v:#x})"),
        };
        f.write_str(name)
    }
}

/// A frame header (RFC 9113 §4.1). `stream` has the reserved bit cleared.
///
/// ```
/// use strata::http::h2::frame::{parse_header, FrameHeader};
/// let h = parse_header(&[0, 0, 8, 6, 1, 0, 0, 0, 0]).unwrap();
/// assert_eq!(h, FrameHeader { len: 8, kind: 6, flags: 1, stream: 0 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The payload length (24 bits).
    pub len: u32,
    /// The frame type (see [`kind`]).
    pub kind: u8,
    /// The flags (see [`flag`]).
    pub flags: u8,
    /// The stream id, 0 for the connection.
    pub stream: u32,
}

/// Parses the 9-byte header at the front of `buf` (the reserved bit is
/// ignored). `None` if `buf.len() < 9`.
///
/// ```
/// use strata::http::h2::frame::parse_header;
/// assert_eq!(parse_header(&[0; 8]), None);
/// // The reserved bit of the stream id is ignored.
/// assert_eq!(parse_header(&[0, 0, 0, 0, 0, 0x80, 0, 0, 3]).unwrap().stream, 3);
/// ```
pub fn parse_header(buf: &[u8]) -> Option<FrameHeader> {
    match buf.first_chunk::<HEADER_LEN>()? {
        [l0, l1, l2, kind, flags, s0, s1, s2, s3] => Some(FrameHeader {
            len: u32::from_be_bytes([0, *l0, *l1, *l2]),
            kind: *kind,
            flags: *flags,
            stream: u32::from_be_bytes([*s0, *s1, *s2, *s3]) & MAX_STREAM_ID,
        }),
    }
}

/// Stream priority fields (RFC 9113 §5.3.2, deprecated but still parsed):
/// on HEADERS with the PRIORITY flag, and in PRIORITY frames.
///
/// ```
/// use strata::http::h2::frame::Priority;
/// // `weight` is the wire value: the weight minus one (default weight 16).
/// let p = Priority { depends_on: 0, exclusive: false, weight: 15 };
/// assert_eq!(p.depends_on, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The stream this one depends on (reserved bit cleared).
    pub depends_on: u32,
    /// The E flag: exclusive dependency.
    pub exclusive: bool,
    /// The weight as on the wire: the weight (1 to 256) minus one.
    pub weight: u8,
}

impl Priority {
    /// Reads the 5 priority bytes at the front of `b`.
    fn split(b: &[u8]) -> Option<(Priority, &[u8])> {
        let (dep, rest) = split_u32(b)?;
        let (&weight, rest) = rest.split_first()?;
        let p = Priority {
            depends_on: dep & MAX_STREAM_ID,
            exclusive: dep & !MAX_STREAM_ID != 0,
            weight,
        };
        Some((p, rest))
    }

    fn write(self, out: &mut Vec<u8>) {
        let e = if self.exclusive { !MAX_STREAM_ID } else { 0 };
        out.extend_from_slice(&(self.depends_on & MAX_STREAM_ID | e).to_be_bytes());
        out.push(self.weight);
    }
}

/// The parameters of a SETTINGS frame, borrowed from its payload: a
/// sequence of `(id, value)` pairs in the order sent (see [`setting`] for
/// the ids; unknown ids must be ignored, values are the connection's to
/// check).
///
/// ```
/// use strata::http::h2::frame::{self, setting, Frame};
///
/// let mut wire = Vec::new();
/// frame::write_settings(&mut wire, &[(setting::ENABLE_PUSH, 0), (0x99, 7)]);
/// let Some((Frame::Settings { ack: false, settings }, _)) = frame::parse(&wire, 16_384).unwrap()
/// else { panic!() };
/// assert_eq!(settings.len(), 2);
/// let got: Vec<(u16, u32)> = settings.iter().collect();
/// assert_eq!(got, [(setting::ENABLE_PUSH, 0), (0x99, 7)]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Settings<'a> {
    /// A multiple of 6 bytes (checked by `parse`).
    payload: &'a [u8],
}

impl<'a> Settings<'a> {
    /// The pairs, in the order sent.
    ///
    /// ```
    /// use strata::http::h2::frame::{self, setting, Frame};
    /// let mut wire = Vec::new();
    /// frame::write_settings(&mut wire, &[(setting::MAX_CONCURRENT_STREAMS, 100), (setting::ENABLE_PUSH, 0)]);
    /// let Some((Frame::Settings { settings, .. }, _)) = frame::parse(&wire, 16_384).unwrap() else { panic!() };
    /// let pairs: Vec<(u16, u32)> = settings.iter().collect();
    /// assert_eq!(pairs, [(setting::MAX_CONCURRENT_STREAMS, 100), (setting::ENABLE_PUSH, 0)]);
    /// ```
    pub fn iter(&self) -> SettingsIter<'a> {
        SettingsIter {
            chunks: self.payload.chunks_exact(6),
        }
    }

    /// The number of pairs.
    ///
    /// ```
    /// use strata::http::h2::frame::{self, setting, Frame};
    /// let mut wire = Vec::new();
    /// frame::write_settings(&mut wire, &[(setting::ENABLE_PUSH, 0), (setting::INITIAL_WINDOW_SIZE, 1 << 20)]);
    /// let Some((Frame::Settings { settings, .. }, _)) = frame::parse(&wire, 16_384).unwrap() else { panic!() };
    /// assert_eq!(settings.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.payload.len() / 6
    }

    /// Whether there is no pair (always so for an ACK).
    ///
    /// ```
    /// use strata::http::h2::frame::{self, Frame};
    /// let mut wire = Vec::new();
    /// frame::write_settings(&mut wire, &[]);
    /// let Some((Frame::Settings { settings, .. }, _)) = frame::parse(&wire, 16_384).unwrap() else { panic!() };
    /// assert!(settings.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The payload as on the wire.
    ///
    /// ```
    /// use strata::http::h2::frame::{self, setting, Frame};
    /// let mut wire = Vec::new();
    /// frame::write_settings(&mut wire, &[(setting::ENABLE_PUSH, 0)]);
    /// let Some((Frame::Settings { settings, .. }, _)) = frame::parse(&wire, 16_384).unwrap() else { panic!() };
    /// assert_eq!(settings.as_bytes(), [0, 2, 0, 0, 0, 0]); // id 2, value 0
    /// assert_eq!(settings.as_bytes(), &wire[9..]); // after the 9-byte frame header
    /// ```
    pub fn as_bytes(&self) -> &'a [u8] {
        self.payload
    }
}

impl fmt::Debug for Settings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Settings<'a> {
    type Item = (u16, u32);
    type IntoIter = SettingsIter<'a>;

    fn into_iter(self) -> SettingsIter<'a> {
        self.iter()
    }
}

/// The `(id, value)` pairs of a [`Settings`].
///
/// ```
/// use strata::http::h2::frame::{self, Frame};
/// let mut wire = Vec::new();
/// frame::write_settings(&mut wire, &[(4, 65_535)]);
/// let Some((Frame::Settings { settings, .. }, _)) = frame::parse(&wire, 16_384).unwrap()
/// else { panic!() };
/// let mut it = settings.iter();
/// assert_eq!(it.next(), Some((4, 65_535)));
/// assert_eq!(it.next(), None);
/// ```
#[derive(Clone, Debug)]
pub struct SettingsIter<'a> {
    chunks: ChunksExact<'a, u8>,
}

impl Iterator for SettingsIter<'_> {
    type Item = (u16, u32);

    fn next(&mut self) -> Option<(u16, u32)> {
        match self.chunks.next()? {
            [i0, i1, v0, v1, v2, v3] => Some((
                u16::from_be_bytes([*i0, *i1]),
                u32::from_be_bytes([*v0, *v1, *v2, *v3]),
            )),
            // chunks_exact(6) only yields 6-byte chunks.
            _ => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for SettingsIter<'_> {}

/// A parsed frame borrowing its payload from the input buffer.
///
/// Stream ids have their reserved bit cleared. Padding is removed; DATA keeps
/// the whole payload length in `flow_len`, which is what flow control counts.
///
/// ```
/// use strata::http::h2::frame::{self, Frame};
/// let mut wire = Vec::new();
/// frame::write_data(&mut wire, 1, b"hi", true);
/// let (f, used) = frame::parse(&wire, 16_384).unwrap().unwrap();
/// assert_eq!(used, wire.len());
/// assert_eq!(f, Frame::Data { stream: 1, end_stream: true, data: b"hi", flow_len: 2 });
/// assert_eq!(f.stream(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA (§6.1).
    Data {
        /// The stream (never 0).
        stream: u32,
        /// END_STREAM.
        end_stream: bool,
        /// The data, padding removed.
        data: &'a [u8],
        /// The whole payload length, padding included: what flow control
        /// counts (RFC 9113 §6.9.1).
        flow_len: u32,
    },
    /// HEADERS (§6.2).
    Headers {
        /// The stream (never 0).
        stream: u32,
        /// END_STREAM.
        end_stream: bool,
        /// END_HEADERS: no CONTINUATION follows.
        end_headers: bool,
        /// The priority fields, if the PRIORITY flag was set.
        priority: Option<Priority>,
        /// The field block fragment, padding removed.
        block: &'a [u8],
    },
    /// PRIORITY (§6.3).
    Priority {
        /// The stream (never 0).
        stream: u32,
        /// The priority fields.
        priority: Priority,
    },
    /// RST_STREAM (§6.4).
    RstStream {
        /// The stream (never 0).
        stream: u32,
        /// Why the peer reset it.
        code: ErrorCode,
    },
    /// SETTINGS (§6.5), on the connection.
    Settings {
        /// ACK (then `settings` is empty).
        ack: bool,
        /// The parameters.
        settings: Settings<'a>,
    },
    /// PUSH_PROMISE (§6.6).
    PushPromise {
        /// The associated stream (never 0).
        stream: u32,
        /// The promised stream id (reserved bit cleared; its validity is the
        /// connection's to check).
        promised: u32,
        /// END_HEADERS: no CONTINUATION follows.
        end_headers: bool,
        /// The field block fragment, padding removed.
        block: &'a [u8],
    },
    /// PING (§6.7), on the connection.
    Ping {
        /// ACK.
        ack: bool,
        /// The opaque data, echoed in the ACK.
        data: [u8; 8],
    },
    /// GOAWAY (§6.8), on the connection.
    GoAway {
        /// The last stream the peer may have processed (reserved bit cleared).
        last_stream: u32,
        /// Why.
        code: ErrorCode,
        /// Opaque debug data.
        debug: &'a [u8],
    },
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate {
        /// The stream, or 0 for the connection window.
        stream: u32,
        /// The increment, 1 to 2^31 − 1.
        increment: u32,
    },
    /// CONTINUATION (§6.10).
    Continuation {
        /// The stream (never 0).
        stream: u32,
        /// END_HEADERS: the field block is complete.
        end_headers: bool,
        /// The field block fragment.
        block: &'a [u8],
    },
    /// Unknown frame types must be ignored (RFC 9113 §4.1) — except between
    /// HEADERS and its CONTINUATION, which the connection checks.
    Unknown {
        /// The frame type.
        kind: u8,
        /// The stream id.
        stream: u32,
    },
}

impl Frame<'_> {
    /// The stream id of the frame, 0 for the connection-level frames
    /// (SETTINGS, PING, GOAWAY, and WINDOW_UPDATE on the connection).
    ///
    /// ```
    /// use strata::http::h2::frame::Frame;
    /// assert_eq!(Frame::Ping { ack: true, data: [0; 8] }.stream(), 0);
    /// ```
    pub fn stream(&self) -> u32 {
        match self {
            Frame::Data { stream, .. }
            | Frame::Headers { stream, .. }
            | Frame::Priority { stream, .. }
            | Frame::RstStream { stream, .. }
            | Frame::PushPromise { stream, .. }
            | Frame::WindowUpdate { stream, .. }
            | Frame::Continuation { stream, .. }
            | Frame::Unknown { stream, .. } => *stream,
            Frame::Settings { .. } | Frame::Ping { .. } | Frame::GoAway { .. } => 0,
        }
    }

    /// Appends the frame to `out` as one frame, without padding: what
    /// [`parse`] returns parses back to the same frame, except that DATA's
    /// `flow_len` becomes the data length, and `Unknown` is written with an
    /// empty payload and no flags (its payload is not kept).
    ///
    /// # Panics
    ///
    /// If the payload is longer than [`MAX_FRAME_SIZE_LIMIT`] (which a parsed
    /// frame never is).
    ///
    /// ```
    /// use strata::http::h2::frame::{self, ErrorCode, Frame};
    /// let f = Frame::RstStream { stream: 5, code: ErrorCode::Cancel };
    /// let mut wire = Vec::new();
    /// f.encode(&mut wire);
    /// assert_eq!(frame::parse(&wire, 16_384).unwrap(), Some((f, 13)));
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Frame::Data {
                stream,
                end_stream,
                data,
                ..
            } => write_data(out, stream, data, end_stream),
            Frame::Headers {
                stream,
                end_stream,
                end_headers,
                priority,
                block,
            } => {
                let mut flags = 0;
                if end_stream {
                    flags |= flag::END_STREAM;
                }
                if end_headers {
                    flags |= flag::END_HEADERS;
                }
                let prio_len = if priority.is_some() { 5 } else { 0 };
                if priority.is_some() {
                    flags |= flag::PRIORITY;
                }
                write_header(
                    out,
                    len_u32(block.len() + prio_len),
                    kind::HEADERS,
                    flags,
                    stream,
                );
                if let Some(p) = priority {
                    p.write(out);
                }
                out.extend_from_slice(block);
            }
            Frame::Priority { stream, priority } => {
                write_header(out, 5, kind::PRIORITY, 0, stream);
                priority.write(out);
            }
            Frame::RstStream { stream, code } => write_rst_stream(out, stream, code),
            Frame::Settings { ack, settings } => {
                let flags = if ack { flag::ACK } else { 0 };
                write_header(
                    out,
                    len_u32(settings.payload.len()),
                    kind::SETTINGS,
                    flags,
                    0,
                );
                out.extend_from_slice(settings.payload);
            }
            Frame::PushPromise {
                stream,
                promised,
                end_headers,
                block,
            } => {
                let flags = if end_headers { flag::END_HEADERS } else { 0 };
                write_header(
                    out,
                    len_u32(block.len() + 4),
                    kind::PUSH_PROMISE,
                    flags,
                    stream,
                );
                out.extend_from_slice(&(promised & MAX_STREAM_ID).to_be_bytes());
                out.extend_from_slice(block);
            }
            Frame::Ping { ack, data } => write_ping(out, data, ack),
            Frame::GoAway {
                last_stream,
                code,
                debug,
            } => write_goaway(out, last_stream, code, debug),
            Frame::WindowUpdate { stream, increment } => {
                write_window_update(out, stream, increment)
            }
            Frame::Continuation {
                stream,
                end_headers,
                block,
            } => {
                let flags = if end_headers { flag::END_HEADERS } else { 0 };
                write_header(out, len_u32(block.len()), kind::CONTINUATION, flags, stream);
                out.extend_from_slice(block);
            }
            Frame::Unknown { kind, stream } => write_header(out, 0, kind, 0, stream),
        }
    }
}

/// A frame the codec rejects: a connection error (answer with GOAWAY and
/// `code`) or, when `stream` is `Some`, a stream error (answer with
/// RST_STREAM on that stream and go on).
///
/// A stream error is only returned once the whole frame is buffered: the
/// caller skips it (`HEADER_LEN + len` bytes, `len` from [`parse_header`])
/// and continues. For HEADERS, see [`parse_rejected_headers`].
///
/// ```
/// use strata::http::h2::frame::{self, ErrorCode, FrameError};
/// // A PING on stream 1.
/// let wire = [0, 0, 8, 6, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
/// let e = frame::parse(&wire, 16_384).unwrap_err();
/// assert_eq!(e.code, ErrorCode::ProtocolError);
/// assert_eq!(e.stream, None);
/// assert_eq!(e.to_string(), "connection error PROTOCOL_ERROR: PING not on stream 0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} {code}: {reason}", scope(.stream))]
pub struct FrameError {
    /// The error code to send.
    pub code: ErrorCode,
    /// `Some(id)`: a stream error on stream `id` only; `None`: a connection
    /// error.
    pub stream: Option<u32>,
    /// What was wrong, for logs (and GOAWAY debug data if wanted).
    pub reason: &'static str,
}

/// "stream N error" or "connection error", for error messages.
pub(super) fn scope(stream: &Option<u32>) -> String {
    match stream {
        Some(id) => format!("stream {id} error"),
        None => "connection error".to_owned(),
    }
}

impl FrameError {
    /// A connection error.
    ///
    /// ```
    /// use strata::http::h2::frame::{ErrorCode, FrameError};
    /// let e = FrameError::connection(ErrorCode::ProtocolError, "bad");
    /// assert!(e.stream.is_none());
    /// ```
    pub const fn connection(code: ErrorCode, reason: &'static str) -> Self {
        FrameError {
            code,
            stream: None,
            reason,
        }
    }

    /// A stream error on stream `stream`.
    ///
    /// ```
    /// use strata::http::h2::frame::{ErrorCode, FrameError};
    /// let e = FrameError::stream(ErrorCode::ProtocolError, 3, "bad");
    /// assert_eq!(e.stream, Some(3));
    /// ```
    pub const fn stream(code: ErrorCode, stream: u32, reason: &'static str) -> Self {
        FrameError {
            code,
            stream: Some(stream),
            reason,
        }
    }
}

/// Parses one frame from the front of `buf`, returning it with the bytes it
/// used (`HEADER_LEN + len`). `Ok(None)` if more bytes are needed.
///
/// A header announcing more than `max_frame_size` (the SETTINGS_MAX_FRAME_SIZE
/// this side advertised) is a FRAME_SIZE_ERROR connection error as soon as
/// the 9-byte header is seen, so a peer cannot make the caller buffer an
/// oversized frame. Every other check waits for the whole frame. Never
/// allocates.
///
/// ```
/// use strata::http::h2::frame::{self, ErrorCode, Frame};
/// let mut wire = Vec::new();
/// frame::write_rst_stream(&mut wire, 3, ErrorCode::Cancel);
/// assert_eq!(frame::parse(&wire[..12], 16_384), Ok(None));
/// assert_eq!(
///     frame::parse(&wire, 16_384),
///     Ok(Some((Frame::RstStream { stream: 3, code: ErrorCode::Cancel }, 13)))
/// );
/// // Too large: rejected from the header alone.
/// let e = frame::parse(&[0, 0x40, 1, 0, 0, 0, 0, 0, 1], 16_384).unwrap_err();
/// assert_eq!(e.code, ErrorCode::FrameSizeError);
/// ```
pub fn parse(buf: &[u8], max_frame_size: u32) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(h) = parse_header(buf) else {
        return Ok(None);
    };
    if h.len > max_frame_size {
        return Err(FrameError::connection(
            ErrorCode::FrameSizeError,
            "frame longer than SETTINGS_MAX_FRAME_SIZE",
        ));
    }
    let total = HEADER_LEN + h.len as usize;
    let Some(payload) = buf.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    Ok(Some((decode(h, payload, true)?, total)))
}

/// For a HEADERS frame that [`parse`] rejected with a stream error (its
/// priority depends on its own stream, RFC 9113 §5.3.1), the frame parsed
/// without that check, so that its field block still goes through HPACK:
/// the decoder state is shared by the whole connection (§4.3). `None` if
/// `buf` does not start with such a frame (complete, within
/// `max_frame_size`, and otherwise valid).
///
/// ```
/// use strata::http::h2::frame::{self, flag, kind, Frame};
/// let mut wire = Vec::new();
/// frame::write_header(&mut wire, 6, kind::HEADERS, flag::PRIORITY | flag::END_HEADERS, 1);
/// wire.extend_from_slice(&[0, 0, 0, 1, 15, 0x82]); // depends on stream 1 itself
/// let e = frame::parse(&wire, 16_384).unwrap_err();
/// assert_eq!(e.stream, Some(1));
/// let (f, used) = frame::parse_rejected_headers(&wire, 16_384).unwrap();
/// assert!(matches!(f, Frame::Headers { block: [0x82], end_headers: true, .. }));
/// assert_eq!(used, wire.len());
/// ```
pub fn parse_rejected_headers(buf: &[u8], max_frame_size: u32) -> Option<(Frame<'_>, usize)> {
    let h = parse_header(buf)?;
    if h.kind != kind::HEADERS || h.len > max_frame_size {
        return None;
    }
    let total = HEADER_LEN + h.len as usize;
    let frame = decode(h, buf.get(HEADER_LEN..total)?, false).ok()?;
    Some((frame, total))
}

/// A payload length as the 24-bit field's type; anything beyond `u32` is
/// saturated, so that [`write_header`] rejects it.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn split_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*head), rest))
}

const fn conn(code: ErrorCode, reason: &'static str) -> FrameError {
    FrameError::connection(code, reason)
}

/// Frames that belong to a stream: stream 0 is a PROTOCOL_ERROR.
fn on_stream(h: &FrameHeader, reason: &'static str) -> Result<u32, FrameError> {
    if h.stream == 0 {
        Err(conn(ErrorCode::ProtocolError, reason))
    } else {
        Ok(h.stream)
    }
}

/// Frames that belong to the connection: another stream is a
/// PROTOCOL_ERROR.
fn on_connection(h: &FrameHeader, reason: &'static str) -> Result<(), FrameError> {
    if h.stream == 0 {
        Ok(())
    } else {
        Err(conn(ErrorCode::ProtocolError, reason))
    }
}

/// Splits off the Pad Length field if PADDED is set: the rest of the
/// payload and the padding length.
fn pad_length<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<(&'a [u8], usize), FrameError> {
    if h.flags & flag::PADDED == 0 {
        return Ok((payload, 0));
    }
    match payload.split_first() {
        Some((&pad, rest)) => Ok((rest, usize::from(pad))),
        None => Err(conn(
            ErrorCode::FrameSizeError,
            "PADDED frame too short for its Pad Length",
        )),
    }
}

/// Removes `pad` bytes of padding from the end of `rest` (what remains
/// after the mandatory fields). Padding as long as the payload or longer is
/// a PROTOCOL_ERROR (RFC 9113 §6.1, §6.2, §6.6).
fn unpad(rest: &[u8], pad: usize) -> Result<&[u8], FrameError> {
    rest.len()
        .checked_sub(pad)
        .and_then(|n| rest.get(..n))
        .ok_or(conn(
            ErrorCode::ProtocolError,
            "padding longer than the frame payload",
        ))
}

/// Validates and decodes a complete frame. `self_dep` enables the
/// HEADERS self-dependency check.
fn decode(h: FrameHeader, payload: &[u8], self_dep: bool) -> Result<Frame<'_>, FrameError> {
    let has = |f: u8| h.flags & f != 0;
    match h.kind {
        kind::DATA => {
            let stream = on_stream(&h, "DATA on stream 0")?;
            let (rest, pad) = pad_length(&h, payload)?;
            Ok(Frame::Data {
                stream,
                end_stream: has(flag::END_STREAM),
                data: unpad(rest, pad)?,
                flow_len: h.len,
            })
        }
        kind::HEADERS => {
            let stream = on_stream(&h, "HEADERS on stream 0")?;
            let (rest, pad) = pad_length(&h, payload)?;
            let (priority, rest) = if has(flag::PRIORITY) {
                let (p, rest) = Priority::split(rest).ok_or(conn(
                    ErrorCode::FrameSizeError,
                    "HEADERS too short for its priority fields",
                ))?;
                (Some(p), rest)
            } else {
                (None, rest)
            };
            let block = unpad(rest, pad)?;
            if self_dep && priority.is_some_and(|p| p.depends_on == stream) {
                return Err(FrameError::stream(
                    ErrorCode::ProtocolError,
                    stream,
                    "HEADERS priority depends on its own stream",
                ));
            }
            Ok(Frame::Headers {
                stream,
                end_stream: has(flag::END_STREAM),
                end_headers: has(flag::END_HEADERS),
                priority,
                block,
            })
        }
        kind::PRIORITY => {
            let stream = on_stream(&h, "PRIORITY on stream 0")?;
            let priority = match Priority::split(payload) {
                Some((p, [])) => p,
                _ => {
                    return Err(FrameError::stream(
                        ErrorCode::FrameSizeError,
                        stream,
                        "PRIORITY length is not 5",
                    ))
                }
            };
            if priority.depends_on == stream {
                return Err(FrameError::stream(
                    ErrorCode::ProtocolError,
                    stream,
                    "PRIORITY depends on its own stream",
                ));
            }
            Ok(Frame::Priority { stream, priority })
        }
        kind::RST_STREAM => {
            let stream = on_stream(&h, "RST_STREAM on stream 0")?;
            match split_u32(payload) {
                Some((code, [])) => Ok(Frame::RstStream {
                    stream,
                    code: ErrorCode::from_u32(code),
                }),
                _ => Err(conn(
                    ErrorCode::FrameSizeError,
                    "RST_STREAM length is not 4",
                )),
            }
        }
        kind::SETTINGS => {
            on_connection(&h, "SETTINGS not on stream 0")?;
            let ack = has(flag::ACK);
            if ack && !payload.is_empty() {
                return Err(conn(
                    ErrorCode::FrameSizeError,
                    "SETTINGS ACK with a payload",
                ));
            }
            if !payload.len().is_multiple_of(6) {
                return Err(conn(
                    ErrorCode::FrameSizeError,
                    "SETTINGS length is not a multiple of 6",
                ));
            }
            Ok(Frame::Settings {
                ack,
                settings: Settings { payload },
            })
        }
        kind::PUSH_PROMISE => {
            let stream = on_stream(&h, "PUSH_PROMISE on stream 0")?;
            let (rest, pad) = pad_length(&h, payload)?;
            let (promised, rest) = split_u32(rest).ok_or(conn(
                ErrorCode::FrameSizeError,
                "PUSH_PROMISE too short for its promised stream id",
            ))?;
            Ok(Frame::PushPromise {
                stream,
                promised: promised & MAX_STREAM_ID,
                end_headers: has(flag::END_HEADERS),
                block: unpad(rest, pad)?,
            })
        }
        kind::PING => {
            on_connection(&h, "PING not on stream 0")?;
            match <[u8; 8]>::try_from(payload) {
                Ok(data) => Ok(Frame::Ping {
                    ack: has(flag::ACK),
                    data,
                }),
                Err(_) => Err(conn(ErrorCode::FrameSizeError, "PING length is not 8")),
            }
        }
        kind::GOAWAY => {
            on_connection(&h, "GOAWAY not on stream 0")?;
            let fields = split_u32(payload).and_then(|(last, rest)| {
                let (code, debug) = split_u32(rest)?;
                Some((last, code, debug))
            });
            match fields {
                Some((last, code, debug)) => Ok(Frame::GoAway {
                    last_stream: last & MAX_STREAM_ID,
                    code: ErrorCode::from_u32(code),
                    debug,
                }),
                None => Err(conn(
                    ErrorCode::FrameSizeError,
                    "GOAWAY shorter than 8 bytes",
                )),
            }
        }
        kind::WINDOW_UPDATE => {
            let Some((increment, [])) = split_u32(payload) else {
                return Err(conn(
                    ErrorCode::FrameSizeError,
                    "WINDOW_UPDATE length is not 4",
                ));
            };
            let increment = increment & MAX_STREAM_ID;
            if increment == 0 {
                let reason = "WINDOW_UPDATE with a zero increment";
                return Err(match h.stream {
                    0 => conn(ErrorCode::ProtocolError, reason),
                    s => FrameError::stream(ErrorCode::ProtocolError, s, reason),
                });
            }
            Ok(Frame::WindowUpdate {
                stream: h.stream,
                increment,
            })
        }
        kind::CONTINUATION => {
            let stream = on_stream(&h, "CONTINUATION on stream 0")?;
            Ok(Frame::Continuation {
                stream,
                end_headers: has(flag::END_HEADERS),
                block: payload,
            })
        }
        other => Ok(Frame::Unknown {
            kind: other,
            stream: h.stream,
        }),
    }
}

#[cfg(test)]
mod tests;
