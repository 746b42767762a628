//! HTTP/3 frames (RFC 9114 §7): an incremental reader that takes a
//! stream's bytes in any split, with a bounded buffer, and the writers.
//!
//! The reader knows the wire format only; which frame may come on which
//! stream is the connection's rule. It does reject what no stream may
//! carry: the HTTP/2 frame types HTTP/3 reserved (§7.2.8,
//! H3_FRAME_UNEXPECTED), a frame whose payload does not parse
//! (H3_FRAME_ERROR) and settings HTTP/3 forbids (H3_SETTINGS_ERROR).
//! Frames of unknown or reserved types (`0x1f * N + 0x21` and the rest) are
//! skipped without buffering their payload (§9).

use bytes::Bytes;

use super::error::{Code, H3Error};
use super::varint;

/// Frame types (RFC 9114 §7.2, §11.2.1).
pub mod kind {
    /// DATA: a chunk of a message body.
    pub const DATA: u64 = 0x00;
    /// HEADERS: a QPACK field section.
    pub const HEADERS: u64 = 0x01;
    /// CANCEL_PUSH.
    pub const CANCEL_PUSH: u64 = 0x03;
    /// SETTINGS (control stream, first frame).
    pub const SETTINGS: u64 = 0x04;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u64 = 0x05;
    /// GOAWAY.
    pub const GOAWAY: u64 = 0x07;
    /// MAX_PUSH_ID.
    pub const MAX_PUSH_ID: u64 = 0x0d;
    /// The HTTP/2 frame types HTTP/3 reserved (PRIORITY, PING,
    /// WINDOW_UPDATE, CONTINUATION): receiving one is H3_FRAME_UNEXPECTED.
    pub const HTTP2_ONLY: [u64; 4] = [0x02, 0x06, 0x08, 0x09];
}

/// Setting identifiers (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220, RFC 9297).
pub mod setting {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY.
    pub const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
    /// SETTINGS_MAX_FIELD_SECTION_SIZE.
    pub const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
    /// SETTINGS_QPACK_BLOCKED_STREAMS.
    pub const QPACK_BLOCKED_STREAMS: u64 = 0x07;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220).
    pub const ENABLE_CONNECT_PROTOCOL: u64 = 0x08;
    /// SETTINGS_H3_DATAGRAM (RFC 9297).
    pub const H3_DATAGRAM: u64 = 0x33;
    /// Identifiers HTTP/3 reserved (0x00 and the HTTP/2 settings without an
    /// HTTP/3 meaning): receiving one is H3_SETTINGS_ERROR.
    pub const FORBIDDEN: [u64; 5] = [0x00, 0x02, 0x03, 0x04, 0x05];
}

/// The largest SETTINGS payload we buffer (a peer's list of settings);
/// a larger one is H3_EXCESSIVE_LOAD.
pub const MAX_SETTINGS_PAYLOAD: u64 = 4096;

/// The most a frame header alone makes the reader reserve for its payload.
const PAYLOAD_RESERVE: u64 = 16 << 10;

/// The settings of one endpoint, as a SETTINGS frame carries them. Unknown
/// identifiers are ignored (§7.2.4).
///
/// ```
/// use strata::http::h3::frame::{Settings, write_settings};
/// let s = Settings { enable_connect_protocol: true, ..Settings::default() };
/// let mut out = Vec::new();
/// write_settings(&mut out, &s);
/// assert_eq!(Settings::parse(&out[2..]), Ok(s));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY (default 0).
    pub qpack_max_table_capacity: u64,
    /// SETTINGS_MAX_FIELD_SECTION_SIZE (default: unlimited).
    pub max_field_section_size: Option<u64>,
    /// SETTINGS_QPACK_BLOCKED_STREAMS (default 0).
    pub qpack_blocked_streams: u64,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 9220 extended CONNECT).
    pub enable_connect_protocol: bool,
    /// SETTINGS_H3_DATAGRAM = 1 (RFC 9297).
    pub h3_datagram: bool,
}

impl Settings {
    /// Parses a SETTINGS payload: a duplicate or forbidden identifier, or a
    /// boolean setting other than 0 or 1, is H3_SETTINGS_ERROR; a truncated
    /// pair is H3_FRAME_ERROR.
    ///
    /// ```
    /// use strata::http::h3::frame::{setting, Settings};
    /// use strata::http::h3::Code;
    /// // Pairs of varints: ENABLE_CONNECT_PROTOCOL = 1, an unknown id 0x21 = 5.
    /// let s = Settings::parse(&[setting::ENABLE_CONNECT_PROTOCOL as u8, 1, 0x21, 5]).unwrap();
    /// assert!(s.enable_connect_protocol && !s.h3_datagram);
    /// let twice = Settings::parse(&[0x08, 1, 0x08, 1]).unwrap_err();
    /// assert_eq!(twice.code, Code::SettingsError);
    /// assert_eq!(Settings::parse(&[0x08]).unwrap_err().code, Code::FrameError); // cut short
    /// ```
    pub fn parse(mut p: &[u8]) -> Result<Settings, H3Error> {
        let mut s = Settings::default();
        let mut seen: Vec<u64> = Vec::new();
        while !p.is_empty() {
            let (id, n) = varint::read(p).ok_or(frame_err("truncated SETTINGS"))?;
            p = &p[n..];
            let (v, n) = varint::read(p).ok_or(frame_err("truncated SETTINGS"))?;
            p = &p[n..];
            if setting::FORBIDDEN.contains(&id) {
                return Err(settings_err("an HTTP/2 setting in SETTINGS"));
            }
            if seen.contains(&id) {
                return Err(settings_err("a setting sent twice"));
            }
            seen.push(id);
            let flag = |v: u64| match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(settings_err("a boolean setting other than 0 or 1")),
            };
            match id {
                setting::QPACK_MAX_TABLE_CAPACITY => s.qpack_max_table_capacity = v,
                setting::MAX_FIELD_SECTION_SIZE => s.max_field_section_size = Some(v),
                setting::QPACK_BLOCKED_STREAMS => s.qpack_blocked_streams = v,
                setting::ENABLE_CONNECT_PROTOCOL => s.enable_connect_protocol = flag(v)?,
                setting::H3_DATAGRAM => s.h3_datagram = flag(v)?,
                _ => {}
            }
        }
        Ok(s)
    }
}

/// A frame as the reader gives it. DATA comes as its header
/// ([`Frame::Data`]) followed by [`Event::Data`] chunks of its payload, so
/// a body is never buffered here.
#[derive(Clone, Debug, PartialEq, Eq)]
///
/// ```
/// use strata::http::h3::frame::{kind, write_varint_frame, Event, Frame, FrameReader};
/// let mut wire = Vec::new();
/// write_varint_frame(&mut wire, kind::GOAWAY, 8);
/// wire.extend_from_slice(&[0x21, 0x01, 0xff]); // a reserved type: skipped
/// let mut r = FrameReader::new(1024);
/// let mut input = &wire[..];
/// assert_eq!(r.read(&mut input), Ok(Some(Event::Frame(Frame::Goaway(8)))));
/// assert_eq!(r.read(&mut input), Ok(Some(Event::Frame(Frame::Unknown { kind: 0x21, len: 1 }))));
/// ```
pub enum Frame {
    /// A DATA frame's header; `len` payload bytes follow.
    Data {
        /// Payload length.
        len: u64,
    },
    /// HEADERS: an encoded field section.
    Headers(Bytes),
    /// CANCEL_PUSH with its push id.
    CancelPush(u64),
    /// SETTINGS.
    Settings(Settings),
    /// PUSH_PROMISE (we never allow push: the connection rejects it).
    PushPromise {
        /// The push id.
        push_id: u64,
        /// The encoded field section.
        fields: Bytes,
    },
    /// GOAWAY with a stream id (from a server) or push id (from a client).
    Goaway(u64),
    /// MAX_PUSH_ID.
    MaxPushId(u64),
    /// A frame of an unknown or reserved type: its payload is skipped.
    Unknown {
        /// The type.
        kind: u64,
        /// Its payload length.
        len: u64,
    },
}

/// What [`FrameReader::read`] found.
#[derive(Debug, PartialEq, Eq)]
///
/// ```
/// use strata::http::h3::frame::{write_data_header, Event, Frame, FrameReader};
/// let mut wire = Vec::new();
/// write_data_header(&mut wire, 5);
/// wire.extend_from_slice(b"hello");
/// let mut r = FrameReader::new(1024);
/// // The payload comes in the pieces the input had, borrowed, never buffered.
/// let (mut first, mut second) = (&wire[..4], &wire[4..]);
/// assert_eq!(r.read(&mut first), Ok(Some(Event::Frame(Frame::Data { len: 5 }))));
/// assert_eq!(r.read(&mut first), Ok(Some(Event::Data(b"he"))));
/// assert_eq!(r.read(&mut second), Ok(Some(Event::Data(b"llo"))));
/// ```
pub enum Event<'a> {
    /// A whole frame (or a DATA frame's header).
    Frame(Frame),
    /// Payload bytes of the current DATA frame, borrowed from the input.
    Data(&'a [u8]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a frame header (type and length) into `buf`.
    Header,
    /// Buffering the payload of a frame of `kind`.
    Payload { kind: u64, len: u64 },
    /// Handing out DATA payload; `left` bytes to go.
    Data { left: u64 },
    /// Skipping an unknown frame's payload.
    Skip { left: u64 },
    /// An error was returned: nothing more is read.
    Failed,
}

/// Reads frames from one stream's bytes, in any split. Only the frame
/// header and the payload of a HEADERS, PUSH_PROMISE, SETTINGS or one-varint
/// frame are buffered, each at most the limit given to [`FrameReader::new`]
/// (or [`MAX_SETTINGS_PAYLOAD`]): memory is bounded whatever the peer sends.
///
/// ```
/// use strata::http::h3::frame::{write_data_header, write_headers, Event, Frame, FrameReader};
/// let mut wire = Vec::new();
/// write_headers(&mut wire, b"\x00\x00\xd1");
/// write_data_header(&mut wire, 2);
/// wire.extend_from_slice(b"hi");
/// let mut r = FrameReader::new(1024);
/// let mut input = &wire[..];
/// let mut events = Vec::new();
/// while let Some(ev) = r.read(&mut input).unwrap() {
///     events.push(ev);
/// }
/// assert_eq!(events, [
///     Event::Frame(Frame::Headers(bytes::Bytes::from_static(b"\x00\x00\xd1"))),
///     Event::Frame(Frame::Data { len: 2 }),
///     Event::Data(b"hi"),
/// ]);
/// ```
#[derive(Debug)]
pub struct FrameReader {
    state: State,
    buf: Vec<u8>,
    limit: u64,
    /// The payload length of the last frame whose header was read.
    last_len: u64,
}

impl FrameReader {
    /// A reader that buffers at most `limit` bytes of a HEADERS or
    /// PUSH_PROMISE payload (a larger one is [`ReadError::TooLarge`]).
    ///
    /// ```
    /// use strata::http::h3::frame::{write_headers, Event, Frame, FrameReader, ReadError};
    /// let mut wire = Vec::new();
    /// write_headers(&mut wire, &[0; 16]);
    /// assert!(matches!(FrameReader::new(16).read(&mut &wire[..]), Ok(Some(Event::Frame(Frame::Headers(_))))));
    /// assert!(matches!(FrameReader::new(15).read(&mut &wire[..]), Err(ReadError::TooLarge { .. })));
    /// ```
    pub fn new(limit: usize) -> FrameReader {
        FrameReader {
            state: State::Header,
            buf: Vec::new(),
            limit: limit as u64,
            last_len: 0,
        }
    }

    /// The payload length of the frame [`read`](FrameReader::read) last
    /// returned (for a DATA frame, of the frame its chunks belong to).
    ///
    /// ```
    /// use strata::http::h3::frame::{kind, write_varint_frame, FrameReader};
    /// let mut wire = Vec::new();
    /// write_varint_frame(&mut wire, kind::GOAWAY, 1 << 20); // a 4-byte varint
    /// let mut r = FrameReader::new(1024);
    /// r.read(&mut &wire[..]).unwrap();
    /// assert_eq!(r.last_len(), 4);
    /// ```
    pub fn last_len(&self) -> u64 {
        self.last_len
    }

    /// Whether the reader stands between frames (nothing partial buffered):
    /// a stream that ends here ended cleanly.
    ///
    /// ```
    /// use strata::http::h3::frame::{kind, write_varint_frame, FrameReader};
    /// let mut wire = Vec::new();
    /// write_varint_frame(&mut wire, kind::GOAWAY, 4);
    /// let mut r = FrameReader::new(1024);
    /// assert!(r.at_boundary());
    /// let _ = r.read(&mut &wire[..2]).unwrap(); // the header, not the payload
    /// assert!(!r.at_boundary(), "a stream ending here ended mid-frame");
    /// let _ = r.read(&mut &wire[2..]).unwrap();
    /// assert!(r.at_boundary());
    /// ```
    pub fn at_boundary(&self) -> bool {
        match self.state {
            State::Header => self.buf.is_empty(),
            State::Data { left: 0 } | State::Skip { left: 0 } => true,
            _ => false,
        }
    }

    /// Bytes buffered now (a partial header or payload).
    ///
    /// ```
    /// use strata::http::h3::frame::{write_headers, FrameReader};
    /// let mut wire = Vec::new();
    /// write_headers(&mut wire, b"0123456789");
    /// let mut r = FrameReader::new(1024);
    /// assert_eq!(r.read(&mut &wire[..7]).unwrap(), None); // 2 header bytes, 5 of the payload
    /// assert_eq!(r.buffered(), 5);
    /// ```
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Reads from the front of `input`, advancing it past what was used:
    /// the next event, or `None` when `input` is used up before one is
    /// complete. After an error the reader returns the same kind of error
    /// no more: it returns `None` for ever, and the caller closes.
    ///
    /// ```
    /// use strata::http::h3::frame::{kind, write_varint_frame, Event, Frame, FrameReader};
    /// let mut wire = Vec::new();
    /// write_varint_frame(&mut wire, kind::MAX_PUSH_ID, 3);
    /// write_varint_frame(&mut wire, kind::GOAWAY, 0);
    /// let mut r = FrameReader::new(1024);
    /// let mut input = &wire[..];
    /// assert_eq!(r.read(&mut input), Ok(Some(Event::Frame(Frame::MaxPushId(3)))));
    /// assert_eq!(input.len(), 3, "advanced past the first frame");
    /// assert_eq!(r.read(&mut input), Ok(Some(Event::Frame(Frame::Goaway(0)))));
    /// assert_eq!(r.read(&mut input), Ok(None));
    /// ```
    pub fn read<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<Event<'a>>, ReadError> {
        loop {
            match self.state {
                State::Failed => return Ok(None),
                State::Data { left } => {
                    if left == 0 {
                        self.state = State::Header;
                        continue;
                    }
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let n = (left.min(input.len() as u64)) as usize;
                    let (chunk, rest) = input.split_at(n);
                    *input = rest;
                    self.state = State::Data {
                        left: left - n as u64,
                    };
                    return Ok(Some(Event::Data(chunk)));
                }
                State::Skip { left } => {
                    if left == 0 {
                        self.state = State::Header;
                        continue;
                    }
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let n = (left.min(input.len() as u64)) as usize;
                    *input = &input[n..];
                    self.state = State::Skip {
                        left: left - n as u64,
                    };
                }
                State::Header => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    match self.header(input) {
                        Ok(Some(ev)) => return Ok(Some(ev)),
                        // The state moved on (or the header needs more
                        // input, which the next turn sees as empty input).
                        Ok(None) => {}
                        Err(e) => {
                            self.fail();
                            return Err(e);
                        }
                    }
                }
                State::Payload { kind, len } => {
                    let want = len as usize - self.buf.len();
                    let n = want.min(input.len());
                    self.buf.extend_from_slice(&input[..n]);
                    *input = &input[n..];
                    if self.buf.len() < len as usize {
                        return Ok(None);
                    }
                    let payload = std::mem::take(&mut self.buf);
                    self.state = State::Header;
                    return match parse_payload(kind, payload) {
                        Ok(f) => Ok(Some(Event::Frame(f))),
                        Err(e) => {
                            self.fail();
                            Err(ReadError::Invalid(e))
                        }
                    };
                }
            }
        }
    }

    fn fail(&mut self) {
        self.state = State::Failed;
        self.buf = Vec::new();
    }

    /// Takes header bytes from `input` (at most what the header needs);
    /// once the type and length are known, moves to the payload.
    fn header<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<Event<'a>>, ReadError> {
        // At most 16 header bytes are ever buffered (two 8-byte varints).
        let start = self.buf.len();
        let take = (16 - start).min(input.len());
        self.buf.extend_from_slice(&input[..take]);
        let parsed = varint::read(&self.buf)
            .and_then(|(kind, a)| varint::read(&self.buf[a..]).map(|(len, b)| (kind, len, a + b)));
        let Some((kind, len, used)) = parsed else {
            *input = &input[take..];
            return Ok(None);
        };
        // Only the header's own bytes are consumed; the rest is payload.
        *input = &input[used - start..];
        self.buf.clear();
        self.last_len = len;
        if kind::HTTP2_ONLY.contains(&kind) {
            return Err(ReadError::Invalid(H3Error::conn(
                Code::FrameUnexpected,
                "an HTTP/2 frame type",
            )));
        }
        let bound = match kind {
            kind::DATA => {
                self.state = State::Data { left: len };
                return Ok(Some(Event::Frame(Frame::Data { len })));
            }
            kind::HEADERS | kind::PUSH_PROMISE => self.limit,
            kind::SETTINGS => MAX_SETTINGS_PAYLOAD,
            kind::CANCEL_PUSH | kind::GOAWAY | kind::MAX_PUSH_ID => {
                if len == 0 || len > 8 {
                    return Err(ReadError::Invalid(frame_err(
                        "a frame of one varint with another length",
                    )));
                }
                8
            }
            _ => {
                self.state = State::Skip { left: len };
                return Ok(Some(Event::Frame(Frame::Unknown { kind, len })));
            }
        };
        if len > bound {
            return Err(ReadError::TooLarge { kind, len });
        }
        self.state = State::Payload { kind, len };
        // Grown as bytes arrive: a configured limit of any size (even
        // `usize::MAX`) never makes a bare frame header allocate.
        self.buf.reserve(len.min(PAYLOAD_RESERVE) as usize);
        Ok(None)
    }
}

/// Why [`FrameReader::read`] stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
///
/// ```
/// use strata::http::h3::frame::{kind, write_headers, write_header, FrameReader, ReadError};
/// use strata::http::h3::Code;
/// let mut big = Vec::new();
/// write_headers(&mut big, &[0; 100]);
/// let mut r = FrameReader::new(64);
/// let e = r.read(&mut &big[..]).unwrap_err();
/// assert_eq!(e, ReadError::TooLarge { kind: kind::HEADERS, len: 100 });
/// let mut ping = Vec::new();
/// write_header(&mut ping, 0x06, 0); // an HTTP/2 PING
/// let Err(ReadError::Invalid(e)) = FrameReader::new(64).read(&mut &ping[..]) else { panic!() };
/// assert_eq!(e.code, Code::FrameUnexpected);
/// ```
pub enum ReadError {
    /// The frame breaks RFC 9114: the error to close the connection with.
    #[error("{0}")]
    Invalid(H3Error),
    /// A HEADERS or PUSH_PROMISE (or SETTINGS) payload larger than the
    /// reader's limit: on a request stream a server answers `431`; elsewhere
    /// it is H3_EXCESSIVE_LOAD.
    #[error("a frame of type 0x{kind:x} with {len} bytes of payload is over the limit")]
    TooLarge {
        /// The frame type.
        kind: u64,
        /// Its announced payload length.
        len: u64,
    },
}

fn frame_err(detail: &'static str) -> H3Error {
    H3Error::conn(Code::FrameError, detail)
}

fn settings_err(detail: &'static str) -> H3Error {
    H3Error::conn(Code::SettingsError, detail)
}

/// One varint that fills the whole payload.
fn one_varint(p: &[u8]) -> Result<u64, H3Error> {
    match varint::read(p) {
        Some((v, n)) if n == p.len() => Ok(v),
        _ => Err(frame_err("a frame of one varint that does not parse")),
    }
}

fn parse_payload(kind: u64, p: Vec<u8>) -> Result<Frame, H3Error> {
    Ok(match kind {
        kind::HEADERS => Frame::Headers(Bytes::from(p)),
        kind::SETTINGS => Frame::Settings(Settings::parse(&p)?),
        kind::CANCEL_PUSH => Frame::CancelPush(one_varint(&p)?),
        kind::GOAWAY => Frame::Goaway(one_varint(&p)?),
        kind::MAX_PUSH_ID => Frame::MaxPushId(one_varint(&p)?),
        _ => {
            // PUSH_PROMISE, the only other buffered type.
            let (push_id, n) = varint::read(&p).ok_or(frame_err("truncated PUSH_PROMISE"))?;
            let mut b = Bytes::from(p);
            let fields = b.split_off(n);
            Frame::PushPromise { push_id, fields }
        }
    })
}

/// Appends a frame header (type and payload length).
///
/// ```
/// let mut out = Vec::new();
/// strata::http::h3::frame::write_header(&mut out, 0x21, 3);
/// assert_eq!(out, [0x21, 0x03]);
/// ```
pub fn write_header(out: &mut Vec<u8>, kind: u64, len: u64) {
    varint::write(out, kind);
    varint::write(out, len);
}

/// Appends a DATA frame header for `len` payload bytes (the payload
/// follows, written by the caller).
///
/// ```
/// let mut out = Vec::new();
/// strata::http::h3::frame::write_data_header(&mut out, 100);
/// assert_eq!(out, [0x00, 0x40, 100]);
/// ```
pub fn write_data_header(out: &mut Vec<u8>, len: u64) {
    write_header(out, kind::DATA, len);
}

/// Appends a HEADERS frame carrying the encoded field section `block`.
///
/// ```
/// let mut out = Vec::new();
/// strata::http::h3::frame::write_headers(&mut out, b"\x00\x00");
/// assert_eq!(out, [0x01, 0x02, 0x00, 0x00]);
/// ```
pub fn write_headers(out: &mut Vec<u8>, block: &[u8]) {
    write_header(out, kind::HEADERS, block.len() as u64);
    out.extend_from_slice(block);
}

/// Appends a SETTINGS frame: every setting that differs from its default.
///
/// ```
/// use strata::http::h3::frame::{write_settings, Settings};
/// let mut out = Vec::new();
/// write_settings(&mut out, &Settings::default());
/// assert_eq!(out, [0x04, 0x00]);
/// ```
pub fn write_settings(out: &mut Vec<u8>, s: &Settings) {
    let mut p = Vec::new();
    let mut put = |id: u64, v: u64| {
        varint::write(&mut p, id);
        varint::write(&mut p, v);
    };
    if s.qpack_max_table_capacity != 0 {
        put(
            setting::QPACK_MAX_TABLE_CAPACITY,
            s.qpack_max_table_capacity,
        );
    }
    if let Some(v) = s.max_field_section_size {
        put(setting::MAX_FIELD_SECTION_SIZE, v);
    }
    if s.qpack_blocked_streams != 0 {
        put(setting::QPACK_BLOCKED_STREAMS, s.qpack_blocked_streams);
    }
    if s.enable_connect_protocol {
        put(setting::ENABLE_CONNECT_PROTOCOL, 1);
    }
    if s.h3_datagram {
        put(setting::H3_DATAGRAM, 1);
    }
    write_header(out, kind::SETTINGS, p.len() as u64);
    out.extend_from_slice(&p);
}

/// Appends a frame whose payload is one varint (GOAWAY, MAX_PUSH_ID,
/// CANCEL_PUSH).
///
/// ```
/// use strata::http::h3::frame::{kind, write_varint_frame};
/// let mut out = Vec::new();
/// write_varint_frame(&mut out, kind::GOAWAY, 4);
/// assert_eq!(out, [0x07, 0x01, 0x04]);
/// ```
pub fn write_varint_frame(out: &mut Vec<u8>, kind: u64, v: u64) {
    write_header(out, kind, varint::size(v) as u64);
    varint::write(out, v);
}

#[cfg(test)]
mod tests;
