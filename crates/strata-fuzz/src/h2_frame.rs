//! Target `h2_frame`: the HTTP/2 frame codec (`strata::http::h2::frame`)
//! on arbitrary bytes.
//!
//! The first byte picks the SETTINGS_MAX_FRAME_SIZE to parse with; the rest
//! is parsed frame after frame, as a connection would (skipping a frame
//! rejected with a stream error, stopping at a connection error or when
//! more input is needed). No input may panic, and:
//! - `Ok(None)` only when the header or the payload is incomplete, and the
//!   announced length is within the limit;
//! - an oversize header is a FRAME_SIZE_ERROR connection error; a stream
//!   error names the frame's own (non-zero) stream and comes only once the
//!   whole frame is buffered; HEADERS so rejected still yields its block;
//! - a parsed frame used exactly `9 + len` bytes, every shorter prefix of it
//!   asks for more input, and re-encoding it gives a frame that parses the
//!   same (DATA then has no padding, so `flow_len` is the data length);
//! - the same bytes taken as a field block and written with
//!   `write_headers` come back whole, in frames within the limit.

use strata::http::h2::frame::{
    self, kind, parse, parse_header, ErrorCode, Frame, FrameHeader, HEADER_LEN,
    MAX_FRAME_SIZE_LIMIT,
};

/// The SETTINGS_MAX_FRAME_SIZE picked by the control byte: mostly small, so
/// that oversize frames and CONTINUATION splits are common.
fn max_frame_size(ctl: u8) -> u32 {
    match ctl {
        0 => 0,
        1..=63 => u32::from(ctl),
        64..=127 => frame::DEFAULT_MAX_FRAME_SIZE,
        128..=191 => u32::from(ctl) * 3,
        _ => MAX_FRAME_SIZE_LIMIT,
    }
}

/// Parses `data` (after one control byte picking the frame size limit)
/// frame after frame; see the module documentation for what it checks.
pub fn h2_frame(data: &[u8]) {
    let Some((&ctl, mut rest)) = data.split_first() else {
        return;
    };
    let max = max_frame_size(ctl);
    headers_split(rest, max);
    loop {
        let header = parse_header(rest);
        match parse(rest, max) {
            Ok(None) => {
                if let Some(h) = header {
                    assert!(h.len <= max, "{h:?} over {max} not rejected");
                    assert!(rest.len() < total(&h), "complete {h:?} not parsed");
                }
                return;
            }
            Err(e) => {
                let h = header.expect("an error needs a header");
                if h.len > max {
                    assert_eq!((e.code, e.stream), (ErrorCode::FrameSizeError, None));
                    return;
                }
                assert!(rest.len() >= total(&h), "{e} before the frame is complete");
                assert!(
                    matches!(e.code, ErrorCode::ProtocolError | ErrorCode::FrameSizeError),
                    "{e}"
                );
                let recovered = frame::parse_rejected_headers(rest, max);
                let Some(stream) = e.stream else {
                    assert!(recovered.is_none(), "connection error {e} recovered");
                    return;
                };
                assert!(stream != 0 && stream == h.stream, "{e} on {h:?}");
                if h.kind == kind::HEADERS {
                    let (f, used) = recovered.expect("rejected HEADERS not recovered");
                    assert_eq!(used, total(&h));
                    assert!(matches!(f, Frame::Headers { priority: Some(p), .. }
                        if p.depends_on == stream));
                } else {
                    assert!(recovered.is_none());
                }
                // A stream error: the connection skips the frame and goes on.
                rest = &rest[total(&h)..];
            }
            Ok(Some((f, used))) => {
                let h = header.expect("a frame needs a header");
                assert_eq!(used, total(&h));
                assert_eq!(f.stream(), h.stream);
                check_prefixes(&rest[..used], max);
                check_reencode(&f, &h);
                rest = &rest[used..];
            }
        }
    }
}

fn total(h: &FrameHeader) -> usize {
    HEADER_LEN + h.len as usize
}

/// Every strict prefix of a complete frame asks for more input (sampled
/// for long frames).
fn check_prefixes(wire: &[u8], max: u32) {
    let n = wire.len();
    let cuts: Vec<usize> = if n <= 64 {
        (0..n).collect()
    } else {
        vec![0, 1, HEADER_LEN - 1, HEADER_LEN, n / 2, n - 1]
    };
    for cut in cuts {
        assert_eq!(parse(&wire[..cut], max), Ok(None), "prefix {cut} of {n}");
    }
}

/// Re-encodes `f` (parsed from a frame with header `h`) and checks that it
/// parses back the same.
fn check_reencode(f: &Frame<'_>, h: &FrameHeader) {
    let mut wire = Vec::new();
    f.encode(&mut wire);
    let (g, used) = parse(&wire, MAX_FRAME_SIZE_LIMIT)
        .expect("a re-encoded frame is valid")
        .expect("a re-encoded frame is complete");
    assert_eq!(used, wire.len());
    match (*f, g) {
        (
            Frame::Data {
                stream,
                end_stream,
                data,
                flow_len,
            },
            Frame::Data {
                flow_len: again, ..
            },
        ) => {
            assert_eq!(flow_len, h.len);
            assert!(data.len() <= flow_len as usize);
            assert_eq!(again as usize, data.len());
            assert_eq!(
                g,
                Frame::Data {
                    stream,
                    end_stream,
                    data,
                    flow_len: again
                }
            );
        }
        _ => assert_eq!(*f, g),
    }
}

/// `data` as a field block: HEADERS plus CONTINUATIONs within `max` bytes
/// each, which parse back to the whole block with END_HEADERS on the last.
fn headers_split(block: &[u8], max: u32) {
    let mut wire = Vec::new();
    frame::write_headers(&mut wire, 1, block, true, max);
    let limit = max.max(1);
    let mut rest = &wire[..];
    let mut got = Vec::with_capacity(block.len());
    let mut first = true;
    while !rest.is_empty() {
        let (f, used) = parse(rest, limit)
            .expect("write_headers writes valid frames")
            .expect("write_headers writes complete frames");
        rest = &rest[used..];
        let (end_headers, part) = match f {
            Frame::Headers {
                stream: 1,
                end_stream: true,
                end_headers,
                priority: None,
                block,
            } if first => (end_headers, block),
            Frame::Continuation {
                stream: 1,
                end_headers,
                block,
            } if !first => (end_headers, block),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(end_headers, rest.is_empty());
        got.extend_from_slice(part);
        first = false;
    }
    assert_eq!(got, block);
}
