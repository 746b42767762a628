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
    pub fn iter(&self) -> SettingsIter<'a> {
        SettingsIter {
            chunks: self.payload.chunks_exact(6),
        }
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.payload.len() / 6
    }

    /// Whether there is no pair (always so for an ACK).
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The payload as on the wire.
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

fn scope(stream: &Option<u32>) -> String {
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

/// Appends a frame header. The payload (`len` bytes) is the caller's to
/// append.
///
/// # Panics
///
/// If `len` exceeds [`MAX_FRAME_SIZE_LIMIT`] (a bug in the caller, which
/// must keep frames within the peer's SETTINGS_MAX_FRAME_SIZE).
///
/// ```
/// use strata::http::h2::frame::{self, flag, kind, parse_header};
/// let mut out = Vec::new();
/// frame::write_header(&mut out, 0, kind::SETTINGS, flag::ACK, 0);
/// assert_eq!(out, [0, 0, 0, 4, 1, 0, 0, 0, 0]);
/// ```
pub fn write_header(out: &mut Vec<u8>, len: u32, kind: u8, flags: u8, stream: u32) {
    assert!(
        len <= MAX_FRAME_SIZE_LIMIT,
        "HTTP/2 frame payload of {len} bytes exceeds 2^24 - 1"
    );
    let [_, l0, l1, l2] = len.to_be_bytes();
    let [s0, s1, s2, s3] = (stream & MAX_STREAM_ID).to_be_bytes();
    out.extend_from_slice(&[l0, l1, l2, kind, flags, s0, s1, s2, s3]);
}

/// Appends one DATA frame, without padding. The caller keeps `data` within
/// the peer's SETTINGS_MAX_FRAME_SIZE and the flow-control windows.
///
/// # Panics
///
/// As [`write_header`], if `data` is longer than [`MAX_FRAME_SIZE_LIMIT`].
///
/// ```
/// use strata::http::h2::frame;
/// let mut out = Vec::new();
/// frame::write_data(&mut out, 1, b"abc", true);
/// assert_eq!(out, [0, 0, 3, 0, 1, 0, 0, 0, 1, b'a', b'b', b'c']);
/// ```
pub fn write_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end_stream: bool) {
    let flags = if end_stream { flag::END_STREAM } else { 0 };
    write_header(out, len_u32(data.len()), kind::DATA, flags, stream);
    out.extend_from_slice(data);
}

/// Appends a HEADERS frame followed by as many CONTINUATION frames as
/// needed so that no frame exceeds `max_frame_size` (the peer's
/// SETTINGS_MAX_FRAME_SIZE); END_HEADERS is set on the last of them,
/// END_STREAM on the HEADERS frame. No padding, no priority.
///
/// ```
/// use strata::http::h2::frame::{self, Frame};
/// let mut out = Vec::new();
/// frame::write_headers(&mut out, 1, b"abcde", true, 3);
/// let (f, n) = frame::parse(&out, 3).unwrap().unwrap();
/// assert_eq!(f, Frame::Headers {
///     stream: 1, end_stream: true, end_headers: false, priority: None, block: b"abc",
/// });
/// let (f, _) = frame::parse(&out[n..], 3).unwrap().unwrap();
/// assert_eq!(f, Frame::Continuation { stream: 1, end_headers: true, block: b"de" });
/// ```
pub fn write_headers(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) {
    // Guard against a zero size (an endless loop) and oversize frames.
    let max = max_frame_size.clamp(1, MAX_FRAME_SIZE_LIMIT) as usize;
    let (first, mut rest) = block.split_at(max.min(block.len()));
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if rest.is_empty() {
        flags |= flag::END_HEADERS;
    }
    write_header(out, len_u32(first.len()), kind::HEADERS, flags, stream);
    out.extend_from_slice(first);
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(max.min(rest.len()));
        rest = tail;
        let flags = if rest.is_empty() {
            flag::END_HEADERS
        } else {
            0
        };
        write_header(out, len_u32(chunk.len()), kind::CONTINUATION, flags, stream);
        out.extend_from_slice(chunk);
    }
}

/// Appends a SETTINGS frame with these `(id, value)` pairs.
///
/// ```
/// use strata::http::h2::frame::{self, setting};
/// let mut out = Vec::new();
/// frame::write_settings(&mut out, &[(setting::MAX_CONCURRENT_STREAMS, 100)]);
/// assert_eq!(out, [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
/// ```
pub fn write_settings(out: &mut Vec<u8>, settings: &[(u16, u32)]) {
    write_header(out, len_u32(settings.len() * 6), kind::SETTINGS, 0, 0);
    for &(id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Appends a SETTINGS frame with the ACK flag.
///
/// ```
/// use strata::http::h2::frame;
/// let mut out = Vec::new();
/// frame::write_settings_ack(&mut out);
/// assert_eq!(out, [0, 0, 0, 4, 1, 0, 0, 0, 0]);
/// ```
pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// Appends a PING frame (`ack`: the answer to a received PING, echoing its
/// data).
///
/// ```
/// use strata::http::h2::frame;
/// let mut out = Vec::new();
/// frame::write_ping(&mut out, [7; 8], true);
/// assert_eq!(out[..9], [0, 0, 8, 6, 1, 0, 0, 0, 0]);
/// assert_eq!(out[9..], [7; 8]);
/// ```
pub fn write_ping(out: &mut Vec<u8>, data: [u8; 8], ack: bool) {
    write_header(out, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
    out.extend_from_slice(&data);
}

/// Appends a GOAWAY frame.
///
/// # Panics
///
/// As [`write_header`], if `debug` is longer than 2^24 − 9 bytes.
///
/// ```
/// use strata::http::h2::frame::{self, ErrorCode};
/// let mut out = Vec::new();
/// frame::write_goaway(&mut out, 7, ErrorCode::ProtocolError, b"x");
/// assert_eq!(out, [0, 0, 9, 7, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, b'x']);
/// ```
pub fn write_goaway(out: &mut Vec<u8>, last_stream: u32, code: ErrorCode, debug: &[u8]) {
    write_header(out, len_u32(debug.len() + 8), kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & MAX_STREAM_ID).to_be_bytes());
    out.extend_from_slice(&code.to_u32().to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends a RST_STREAM frame.
///
/// ```
/// use strata::http::h2::frame::{self, ErrorCode};
/// let mut out = Vec::new();
/// frame::write_rst_stream(&mut out, 1, ErrorCode::RefusedStream);
/// assert_eq!(out, [0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 7]);
/// ```
pub fn write_rst_stream(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    write_header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_u32().to_be_bytes());
}

/// Appends a WINDOW_UPDATE frame (`stream` 0: the connection window). The
/// caller keeps `increment` in 1 to 2^31 − 1; the reserved bit is cleared.
///
/// ```
/// use strata::http::h2::frame;
/// let mut out = Vec::new();
/// frame::write_window_update(&mut out, 0, 65_535);
/// assert_eq!(out, [0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
/// ```
pub fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_STREAM_ID).to_be_bytes());
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
            if payload.len() % 6 != 0 {
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
mod tests {
    use super::*;

    const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

    /// A raw frame: header then payload, written by hand.
    fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, len_u32(payload.len()), kind, flags, stream);
        out.extend_from_slice(payload);
        out
    }

    fn one(wire: &[u8]) -> Frame<'_> {
        match parse(wire, MAX) {
            Ok(Some((f, used))) => {
                assert_eq!(used, wire.len(), "{f:?} did not use the whole input");
                f
            }
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    fn err(wire: &[u8]) -> FrameError {
        match parse(wire, MAX) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn conn_err(wire: &[u8], code: ErrorCode) {
        let e = err(wire);
        assert_eq!((e.code, e.stream), (code, None), "{e}");
    }

    fn stream_err(wire: &[u8], code: ErrorCode, stream: u32) {
        let e = err(wire);
        assert_eq!((e.code, e.stream), (code, Some(stream)), "{e}");
    }

    const PRIO: Priority = Priority {
        depends_on: 3,
        exclusive: true,
        weight: 200,
    };

    fn samples() -> Vec<Frame<'static>> {
        vec![
            Frame::Data {
                stream: 1,
                end_stream: false,
                data: b"hello",
                flow_len: 5,
            },
            Frame::Data {
                stream: MAX_STREAM_ID,
                end_stream: true,
                data: b"",
                flow_len: 0,
            },
            Frame::Headers {
                stream: 1,
                end_stream: true,
                end_headers: true,
                priority: None,
                block: b"\x82\x86",
            },
            Frame::Headers {
                stream: 5,
                end_stream: false,
                end_headers: false,
                priority: Some(PRIO),
                block: b"",
            },
            Frame::Priority {
                stream: 7,
                priority: Priority {
                    depends_on: 0,
                    exclusive: false,
                    weight: 15,
                },
            },
            Frame::RstStream {
                stream: 9,
                code: ErrorCode::Cancel,
            },
            Frame::RstStream {
                stream: 9,
                code: ErrorCode::Unknown(0xdead_beef),
            },
            Frame::Settings {
                ack: false,
                settings: Settings {
                    payload: &[0, 1, 0, 0, 0x10, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff],
                },
            },
            Frame::Settings {
                ack: false,
                settings: Settings { payload: &[] },
            },
            Frame::Settings {
                ack: true,
                settings: Settings { payload: &[] },
            },
            Frame::PushPromise {
                stream: 1,
                promised: 2,
                end_headers: true,
                block: b"\x82",
            },
            Frame::Ping {
                ack: false,
                data: *b"abcdefgh",
            },
            Frame::Ping {
                ack: true,
                data: [0xff; 8],
            },
            Frame::GoAway {
                last_stream: 11,
                code: ErrorCode::EnhanceYourCalm,
                debug: b"calm down",
            },
            Frame::GoAway {
                last_stream: 0,
                code: ErrorCode::NoError,
                debug: b"",
            },
            Frame::WindowUpdate {
                stream: 0,
                increment: MAX_STREAM_ID,
            },
            Frame::WindowUpdate {
                stream: 3,
                increment: 1,
            },
            Frame::Continuation {
                stream: 1,
                end_headers: false,
                block: b"\x84",
            },
            Frame::Continuation {
                stream: 1,
                end_headers: true,
                block: b"",
            },
            Frame::Unknown {
                kind: 0xa,
                stream: 0,
            },
            Frame::Unknown {
                kind: 0xff,
                stream: 3,
            },
        ]
    }

    #[test]
    fn round_trip_every_type() {
        let mut kinds = std::collections::BTreeSet::new();
        for f in samples() {
            let mut wire = Vec::new();
            f.encode(&mut wire);
            kinds.insert(parse_header(&wire).map(|h| h.kind));
            assert_eq!(one(&wire), f);
        }
        // Every defined type and at least one unknown one.
        assert!((0..=9).all(|k| kinds.contains(&Some(k))), "{kinds:?}");
        assert!(kinds.contains(&Some(0xa)));
    }

    #[test]
    fn writers_produce_what_parse_reads() {
        let mut wire = Vec::new();
        write_data(&mut wire, 3, b"body", true);
        write_headers(&mut wire, 3, b"block", false, MAX);
        write_settings(
            &mut wire,
            &[(setting::INITIAL_WINDOW_SIZE, 1 << 20), (0x99, 1)],
        );
        write_settings_ack(&mut wire);
        write_ping(&mut wire, *b"pingpong", true);
        write_goaway(&mut wire, 5, ErrorCode::ProtocolError, b"why");
        write_rst_stream(&mut wire, 7, ErrorCode::StreamClosed);
        write_window_update(&mut wire, 0, 10);
        let mut frames = Vec::new();
        let mut rest = &wire[..];
        while let Some((f, used)) = parse(rest, MAX).unwrap() {
            frames.push(f);
            rest = &rest[used..];
        }
        assert!(rest.is_empty());
        let settings = match &frames[2] {
            Frame::Settings {
                ack: false,
                settings,
            } => settings.iter().collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            settings,
            [(setting::INITIAL_WINDOW_SIZE, 1 << 20), (0x99, 1)]
        );
        assert_eq!(
            frames,
            [
                Frame::Data {
                    stream: 3,
                    end_stream: true,
                    data: b"body",
                    flow_len: 4
                },
                Frame::Headers {
                    stream: 3,
                    end_stream: false,
                    end_headers: true,
                    priority: None,
                    block: b"block"
                },
                frames[2],
                Frame::Settings {
                    ack: true,
                    settings: Settings { payload: &[] }
                },
                Frame::Ping {
                    ack: true,
                    data: *b"pingpong"
                },
                Frame::GoAway {
                    last_stream: 5,
                    code: ErrorCode::ProtocolError,
                    debug: b"why"
                },
                Frame::RstStream {
                    stream: 7,
                    code: ErrorCode::StreamClosed
                },
                Frame::WindowUpdate {
                    stream: 0,
                    increment: 10
                },
            ]
        );
    }

    #[test]
    fn write_headers_splits_into_continuations() {
        let block: Vec<u8> = (0..=255).cycle().take(1000).collect();
        for max in [1, 7, 100, 999, 1000, 1001, MAX] {
            for end_stream in [false, true] {
                let mut wire = Vec::new();
                write_headers(&mut wire, 9, &block, end_stream, max);
                let mut rest = &wire[..];
                let mut got = Vec::new();
                let mut n = 0;
                while let Some((f, used)) = parse(rest, max).unwrap() {
                    rest = &rest[used..];
                    let last = rest.is_empty();
                    match f {
                        Frame::Headers {
                            stream: 9,
                            end_stream: es,
                            end_headers,
                            priority: None,
                            block,
                        } if n == 0 => {
                            assert_eq!((es, end_headers), (end_stream, last));
                            got.extend_from_slice(block);
                        }
                        Frame::Continuation {
                            stream: 9,
                            end_headers,
                            block,
                        } if n > 0 => {
                            assert_eq!(end_headers, last);
                            assert!(!block.is_empty());
                            got.extend_from_slice(block);
                        }
                        other => panic!("frame {n}: {other:?}"),
                    }
                    n += 1;
                }
                assert!(rest.is_empty());
                assert_eq!(got, block, "max {max}");
                assert_eq!(n, block.len().div_ceil(max as usize), "max {max}");
            }
        }
        // An empty block is one HEADERS frame with END_HEADERS.
        let mut wire = Vec::new();
        write_headers(&mut wire, 1, b"", true, MAX);
        assert_eq!(
            wire,
            raw(kind::HEADERS, flag::END_STREAM | flag::END_HEADERS, 1, b"")
        );
        // A zero size is taken as 1 rather than looping forever.
        let mut wire = Vec::new();
        write_headers(&mut wire, 1, b"ab", false, 0);
        assert_eq!(wire.len(), 2 * (HEADER_LEN + 1));
    }

    #[test]
    fn stream_zero_is_a_protocol_error() {
        use ErrorCode::ProtocolError;
        conn_err(&raw(kind::DATA, 0, 0, b"x"), ProtocolError);
        conn_err(
            &raw(kind::HEADERS, flag::END_HEADERS, 0, b"x"),
            ProtocolError,
        );
        conn_err(&raw(kind::PRIORITY, 0, 0, &[0, 0, 0, 1, 1]), ProtocolError);
        // Stream 0 wins over a bad length.
        conn_err(&raw(kind::PRIORITY, 0, 0, &[0; 4]), ProtocolError);
        conn_err(&raw(kind::RST_STREAM, 0, 0, &[0, 0, 0, 8]), ProtocolError);
        conn_err(&raw(kind::PUSH_PROMISE, 0, 0, &[0, 0, 0, 2]), ProtocolError);
        conn_err(
            &raw(kind::CONTINUATION, flag::END_HEADERS, 0, b""),
            ProtocolError,
        );
        // The reserved bit alone does not make a stream id.
        conn_err(&raw(kind::DATA, 0, 0, b""), ProtocolError);
        let mut wire = raw(kind::DATA, 0, 0, b"");
        wire[5] = 0x80;
        conn_err(&wire, ProtocolError);
    }

    #[test]
    fn connection_frames_on_a_stream_are_a_protocol_error() {
        use ErrorCode::ProtocolError;
        conn_err(&raw(kind::SETTINGS, 0, 1, b""), ProtocolError);
        conn_err(&raw(kind::SETTINGS, flag::ACK, 1, b""), ProtocolError);
        conn_err(&raw(kind::PING, 0, 1, &[0; 8]), ProtocolError);
        conn_err(&raw(kind::GOAWAY, 0, 1, &[0; 8]), ProtocolError);
    }

    #[test]
    fn length_rules_are_frame_size_errors() {
        use ErrorCode::FrameSizeError;
        for n in [1, 5, 7, 13] {
            conn_err(&raw(kind::SETTINGS, 0, 0, &vec![0; n]), FrameSizeError);
        }
        conn_err(&raw(kind::SETTINGS, flag::ACK, 0, &[0; 6]), FrameSizeError);
        for n in [0, 7, 9, 16] {
            conn_err(&raw(kind::PING, 0, 0, &vec![0; n]), FrameSizeError);
        }
        for n in [0, 3, 5, 8] {
            conn_err(&raw(kind::RST_STREAM, 0, 1, &vec![0; n]), FrameSizeError);
            conn_err(&raw(kind::WINDOW_UPDATE, 0, 0, &vec![1; n]), FrameSizeError);
            conn_err(&raw(kind::WINDOW_UPDATE, 0, 1, &vec![1; n]), FrameSizeError);
        }
        for n in [0, 4, 6, 10] {
            // PRIORITY's length is a stream error (§6.3).
            stream_err(&raw(kind::PRIORITY, 0, 3, &vec![0; n]), FrameSizeError, 3);
        }
        for n in [0, 4, 7] {
            conn_err(&raw(kind::GOAWAY, 0, 0, &vec![0; n]), FrameSizeError);
        }
        // Mandatory fields that do not fit.
        conn_err(
            &raw(kind::HEADERS, flag::PRIORITY, 1, &[0; 4]),
            FrameSizeError,
        );
        conn_err(
            &raw(kind::HEADERS, flag::PRIORITY | flag::PADDED, 1, &[0; 5]),
            FrameSizeError,
        );
        conn_err(&raw(kind::PUSH_PROMISE, 0, 1, &[0; 3]), FrameSizeError);
        conn_err(
            &raw(kind::PUSH_PROMISE, flag::PADDED, 1, &[0; 4]),
            FrameSizeError,
        );
        for k in [kind::DATA, kind::HEADERS, kind::PUSH_PROMISE] {
            conn_err(&raw(k, flag::PADDED, 1, b""), FrameSizeError);
        }
        // The boundaries are accepted.
        assert!(matches!(
            one(&raw(kind::GOAWAY, 0, 0, &[0; 8])),
            Frame::GoAway { debug: [], .. }
        ));
        let six = raw(kind::SETTINGS, 0, 0, &[0, 9, 0, 0, 0, 1]);
        assert!(matches!(one(&six), Frame::Settings { settings, .. } if settings.len() == 1));
    }

    #[test]
    fn window_update_zero_increment() {
        use ErrorCode::ProtocolError;
        conn_err(&raw(kind::WINDOW_UPDATE, 0, 0, &[0; 4]), ProtocolError);
        stream_err(&raw(kind::WINDOW_UPDATE, 0, 5, &[0; 4]), ProtocolError, 5);
        // Only the reserved bit set: still a zero increment.
        stream_err(
            &raw(kind::WINDOW_UPDATE, 0, 5, &[0x80, 0, 0, 0]),
            ProtocolError,
            5,
        );
    }

    #[test]
    fn self_dependency_is_a_stream_error() {
        let mut payload = vec![0x80, 0, 0, 7, 16];
        payload.extend_from_slice(b"\x82");
        let wire = raw(
            kind::HEADERS,
            flag::PRIORITY | flag::END_HEADERS,
            7,
            &payload,
        );
        stream_err(&wire, ErrorCode::ProtocolError, 7);
        // The block can still be recovered for HPACK.
        let (f, used) = parse_rejected_headers(&wire, MAX).unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(
            f,
            Frame::Headers {
                stream: 7,
                end_stream: false,
                end_headers: true,
                priority: Some(Priority {
                    depends_on: 7,
                    exclusive: true,
                    weight: 16
                }),
                block: b"\x82",
            }
        );
        // ... but only for HEADERS, complete, and otherwise valid.
        assert_eq!(parse_rejected_headers(&wire[..wire.len() - 1], MAX), None);
        assert_eq!(parse_rejected_headers(&wire, 5), None);
        let bad_pad = raw(
            kind::HEADERS,
            flag::PRIORITY | flag::PADDED,
            7,
            &[9, 0, 0, 0, 7, 16],
        );
        assert_eq!(parse_rejected_headers(&bad_pad, MAX), None);
        assert_eq!(
            parse_rejected_headers(&raw(kind::DATA, 0, 1, b""), MAX),
            None
        );

        let wire = raw(kind::PRIORITY, 0, 9, &[0, 0, 0, 9, 0]);
        stream_err(&wire, ErrorCode::ProtocolError, 9);
        // Depending on another stream is fine.
        assert!(matches!(
            one(&raw(kind::PRIORITY, 0, 9, &[0, 0, 0, 8, 0])),
            Frame::Priority { .. }
        ));
    }

    #[test]
    fn padding() {
        // DATA: 1 pad length byte, 3 data bytes, 2 padding bytes.
        let wire = raw(
            kind::DATA,
            flag::PADDED | flag::END_STREAM,
            1,
            &[2, b'a', b'b', b'c', 0, 0],
        );
        assert_eq!(
            one(&wire),
            Frame::Data {
                stream: 1,
                end_stream: true,
                data: b"abc",
                flow_len: 6
            }
        );
        // Padding that fills the payload exactly, and a zero pad length.
        assert!(matches!(
            one(&raw(kind::DATA, flag::PADDED, 1, &[3, 0, 0, 0])),
            Frame::Data {
                data: [],
                flow_len: 4,
                ..
            }
        ));
        assert!(matches!(
            one(&raw(kind::DATA, flag::PADDED, 1, &[0])),
            Frame::Data {
                data: [],
                flow_len: 1,
                ..
            }
        ));
        // Padding as long as the payload or longer.
        conn_err(
            &raw(kind::DATA, flag::PADDED, 1, &[1]),
            ErrorCode::ProtocolError,
        );
        conn_err(
            &raw(kind::DATA, flag::PADDED, 1, &[4, 0, 0, 0]),
            ErrorCode::ProtocolError,
        );
        conn_err(
            &raw(kind::DATA, flag::PADDED, 1, &[255; 10]),
            ErrorCode::ProtocolError,
        );

        // HEADERS with padding and priority: the padding comes after both.
        let mut p = vec![2, 0, 0, 0, 3, 10];
        p.extend_from_slice(b"\x82\x86\0\0");
        let wire = raw(kind::HEADERS, flag::PADDED | flag::PRIORITY, 5, &p);

        let f = one(&wire);
        assert!(
            matches!(
                f,
                Frame::Headers {
                    block: b"\x82\x86",
                    priority: Some(Priority {
                        depends_on: 3,
                        exclusive: false,
                        weight: 10
                    }),
                    ..
                }
            ),
            "{f:?}"
        );
        // Padding that would eat into the priority fields.
        let p = [5, 0, 0, 0, 3, 10, 0];
        conn_err(
            &raw(kind::HEADERS, flag::PADDED | flag::PRIORITY, 5, &p),
            ErrorCode::ProtocolError,
        );
        let p = [2, 0x82, 0, 0];
        assert!(matches!(
            one(&raw(kind::HEADERS, flag::PADDED, 5, &p)),
            Frame::Headers { block: [0x82], .. }
        ));
        conn_err(
            &raw(kind::HEADERS, flag::PADDED, 5, &[4, 0, 0, 0]),
            ErrorCode::ProtocolError,
        );

        // PUSH_PROMISE: pad length, promised id, block, padding.
        let p = [1, 0x80, 0, 0, 4, 0x82, 0];
        assert_eq!(
            one(&raw(
                kind::PUSH_PROMISE,
                flag::PADDED | flag::END_HEADERS,
                1,
                &p
            )),
            Frame::PushPromise {
                stream: 1,
                promised: 4,
                end_headers: true,
                block: b"\x82"
            }
        );
        let p = [3, 0, 0, 0, 4, 0x82, 0];
        conn_err(
            &raw(kind::PUSH_PROMISE, flag::PADDED, 1, &p),
            ErrorCode::ProtocolError,
        );

        // PADDED means nothing on other types.
        assert!(matches!(
            one(&raw(kind::CONTINUATION, flag::PADDED, 1, &[9])),
            Frame::Continuation { block: [9], .. }
        ));
    }

    #[test]
    fn oversized_frame_rejected_from_the_header_alone() {
        let mut header = Vec::new();
        write_header(&mut header, MAX + 1, kind::DATA, 0, 1);
        conn_err(&header, ErrorCode::FrameSizeError);
        // Whatever the type, even unknown or a connection frame.
        for k in [kind::SETTINGS, kind::HEADERS, 0x42] {
            let mut h = Vec::new();
            write_header(&mut h, MAX_FRAME_SIZE_LIMIT, k, 0, 0);
            conn_err(&h, ErrorCode::FrameSizeError);
        }
        // Exactly the limit is fine: more input is wanted.
        let mut h = Vec::new();
        write_header(&mut h, MAX, kind::DATA, 0, 1);
        assert_eq!(parse(&h, MAX), Ok(None));
        // The limit is the caller's.
        let wire = raw(kind::DATA, 0, 1, &[0; 100]);
        assert!(parse(&wire, 100).unwrap().is_some());
        assert_eq!(
            parse(&wire, 99).unwrap_err().code,
            ErrorCode::FrameSizeError
        );
    }

    #[test]
    fn incomplete_input_at_every_split_point() {
        let mut wire = Vec::new();
        for f in samples() {
            f.encode(&mut wire);
        }
        // Add padded frames and frames that are errors once complete.
        wire.extend(raw(kind::DATA, flag::PADDED, 1, &[2, 1, 0, 0]));
        let errors = [
            raw(kind::PING, 0, 0, &[0; 7]),
            raw(kind::PRIORITY, 0, 3, &[0; 4]),
            raw(kind::WINDOW_UPDATE, 0, 3, &[0; 4]),
            raw(kind::DATA, flag::PADDED, 1, &[9, 0]),
        ];
        let mut pos = 0;
        while pos < wire.len() {
            let (_, used) = parse(&wire[pos..], MAX).unwrap().unwrap();
            for cut in 0..used {
                assert_eq!(
                    parse(&wire[pos..pos + cut], MAX),
                    Ok(None),
                    "at {pos}+{cut}"
                );
            }
            pos += used;
        }
        for e in &errors {
            for cut in 0..e.len() {
                assert_eq!(parse(&e[..cut], MAX), Ok(None));
            }
            assert!(parse(e, MAX).is_err());
        }
    }

    #[test]
    fn reserved_bits_ignored() {
        let mut wire = raw(kind::DATA, 0, 1, b"x");
        wire[5] |= 0x80;
        assert!(matches!(one(&wire), Frame::Data { stream: 1, .. }));
        assert_eq!(parse_header(&wire).map(|h| h.stream), Some(1));
        // WINDOW_UPDATE increment, GOAWAY last stream, PUSH_PROMISE promised id.
        assert_eq!(
            one(&raw(kind::WINDOW_UPDATE, 0, 0, &[0x80, 0, 0, 9])),
            Frame::WindowUpdate {
                stream: 0,
                increment: 9
            }
        );
        let wire = raw(kind::GOAWAY, 0, 0, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

        let g = one(&wire);
        assert!(matches!(
            g,
            Frame::GoAway {
                last_stream: MAX_STREAM_ID,
                code: ErrorCode::NoError,
                ..
            }
        ));
        let wire = raw(kind::PUSH_PROMISE, 0, 1, &[0x80, 0, 0, 2]);

        let p = one(&wire);
        assert!(matches!(
            p,
            Frame::PushPromise {
                promised: 2,
                end_headers: false,
                block: [],
                ..
            }
        ));
        // The writers clear it too.
        let mut out = Vec::new();
        write_window_update(&mut out, 0x8000_0003, 0x8000_0001);
        assert_eq!(out, raw(kind::WINDOW_UPDATE, 0, 3, &[0, 0, 0, 1]));
    }

    #[test]
    fn unknown_types_and_flags_ignored() {
        for k in [0xa, 0xb, 0x10, 0xff] {
            for stream in [0, 1, MAX_STREAM_ID] {
                let wire = raw(k, 0xff, stream, b"anything at all");
                assert_eq!(one(&wire), Frame::Unknown { kind: k, stream });
            }
        }
        // Undefined flags on known types change nothing.
        let wire = raw(kind::PING, 0xfe, 0, &[1; 8]);
        let f = one(&wire);
        assert_eq!(
            f,
            Frame::Ping {
                ack: false,
                data: [1; 8]
            }
        );
        let wire = raw(kind::RST_STREAM, 0xff, 1, &[0, 0, 0, 2]);

        let f = one(&wire);
        assert_eq!(
            f,
            Frame::RstStream {
                stream: 1,
                code: ErrorCode::InternalError
            }
        );
        let wire = raw(kind::SETTINGS, 0xfe, 0, b"");

        let f = one(&wire);
        assert!(matches!(f, Frame::Settings { ack: false, .. }));
    }

    #[test]
    fn error_codes() {
        for v in 0..=0x20 {
            let c = ErrorCode::from_u32(v);
            assert_eq!(c.to_u32(), v);
            assert_eq!(matches!(c, ErrorCode::Unknown(_)), v > 0xd, "{v}");
        }
        assert_eq!(ErrorCode::from_u32(u32::MAX).to_u32(), u32::MAX);
        assert_eq!(ErrorCode::NoError.to_string(), "NO_ERROR");
        assert_eq!(ErrorCode::Http11Required.to_string(), "HTTP_1_1_REQUIRED");
        assert_eq!(ErrorCode::Unknown(0x2a).to_string(), "UNKNOWN_ERROR(0x2a)");
        let e = FrameError::stream(ErrorCode::FrameSizeError, 3, "PRIORITY length is not 5");
        assert_eq!(
            e.to_string(),
            "stream 3 error FRAME_SIZE_ERROR: PRIORITY length is not 5"
        );
    }

    #[test]
    fn frame_stream_accessor() {
        for f in samples() {
            let mut wire = Vec::new();
            f.encode(&mut wire);
            assert_eq!(
                parse_header(&wire).map(|h| h.stream),
                Some(f.stream()),
                "{f:?}"
            );
        }
    }

    #[test]
    fn settings_debug_lists_pairs() {
        let s = Settings {
            payload: &[0, 3, 0, 0, 0, 100],
        };
        assert_eq!(format!("{s:?}"), "[(3, 100)]");
        assert_eq!(s.into_iter().len(), 1);
        assert_eq!(s.as_bytes().len(), 6);
    }

    /// A seeded random sweep of the fuzz target's checks: arbitrary bytes
    /// (biased towards plausible headers) never panic, and what parses
    /// re-encodes to a frame that parses the same.
    #[test]
    fn random_input_round_trips() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let n = (next() % 64) as usize;
            let mut buf: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            // Often make the length plausible and the type known.
            if buf.len() >= HEADER_LEN && next() % 4 != 0 {
                buf[0] = 0;
                buf[1] = 0;
                buf[2] = (next() % 48) as u8;
                buf[3] %= 12;
            }
            let max = [MAX, 16, 0][(next() % 3) as usize];
            check_round_trip(&buf, max);
        }
    }

    /// The fuzz target's checks on one input.
    fn check_round_trip(mut buf: &[u8], max: u32) {
        loop {
            let (f, used) = match parse(buf, max) {
                Ok(Some(x)) => x,
                Ok(None) => {
                    if let Some(h) = parse_header(buf) {
                        assert!(h.len <= max && buf.len() < HEADER_LEN + h.len as usize);
                    }
                    return;
                }
                Err(e) => {
                    let h = parse_header(buf).unwrap();
                    if let Some(s) = e.stream {
                        assert!(s != 0 && s == h.stream);
                        assert!(buf.len() >= HEADER_LEN + h.len as usize);
                    }
                    return;
                }
            };
            let h = parse_header(buf).unwrap();
            assert_eq!(used, HEADER_LEN + h.len as usize);
            let mut again = Vec::new();
            f.encode(&mut again);
            let (g, n) = parse(&again, MAX_FRAME_SIZE_LIMIT).unwrap().unwrap();
            assert_eq!(n, again.len());
            match (&f, &g) {
                (Frame::Data { data, .. }, Frame::Data { flow_len, .. }) => {
                    assert_eq!(*flow_len as usize, data.len());
                }
                _ => assert_eq!(f, g),
            }
            buf = &buf[used..];
        }
    }
}
