//! Writing frames: each function appends one frame (or a HEADERS and its
//! CONTINUATIONs) to the connection's output buffer.

use super::{flag, kind, len_u32, ErrorCode, MAX_FRAME_SIZE_LIMIT, MAX_STREAM_ID};

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
