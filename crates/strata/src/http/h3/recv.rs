//! The receive side of a request stream: frames in the order RFC 9114
//! §4.1 allows, heads decoded with QPACK and checked (§4.3), the body and
//! trailers handed to the stream's protocol.

use bytes::Bytes;

use super::frame::{kind, Event, Frame, ReadError};
use super::head;
use super::quic_api::QuicConnection;
use super::stream::{stream_error, Child, RecvPhase, Shared, View, TOO_LARGE};
use super::{Code, H3Error};
use crate::http::qpack::{Decoded, HeaderField, QpackError};
use crate::http::{RequestHead, ResponseHead, SharedService, Trailers};
use crate::{ProtocolSlot, StreamProtocol};

/// Parses `input` (stream bytes in order) as far as the stream may go now;
/// what must wait (the protocol paused, a section blocked on QPACK) is
/// kept in the stash.
pub(super) fn pump(
    child: &mut Child,
    sh: &mut Shared,
    service: Option<&SharedService>,
    c: &mut dyn QuicConnection,
    mut input: &[u8],
) {
    loop {
        let st = &mut child.st;
        if st.finished.is_some() || st.reset || st.eof_delivered || sh.error.is_some() {
            return;
        }
        if st.holding() {
            st.stash.extend_from_slice(input);
            return;
        }
        let ev = match st.reader.read(&mut input) {
            Ok(Some(ev)) => ev,
            Ok(None) => return,
            Err(ReadError::Invalid(e)) => return sh.fail(e),
            Err(ReadError::TooLarge { kind: k, .. })
                if k == kind::HEADERS && st.server && st.phase == RecvPhase::Head =>
            {
                return too_large(child, sh, c);
            }
            Err(ReadError::TooLarge { .. }) => {
                return sh.fail(H3Error::conn(Code::ExcessiveLoad, "a frame over our limit"));
            }
        };
        if let (Some(q), Event::Frame(f)) = (&sh.qlog, &ev)
            && !matches!(f, Frame::Headers(_))
        {
            q.parsed(c.now(), st.id, f, st.reader.last_len());
        }
        match &ev {
            Event::Frame(Frame::Headers(_) | Frame::Data { .. }) => st.counters.frame_received(),
            Event::Data(d) => st.counters.received(d.len()),
            _ => {}
        }
        match ev {
            Event::Frame(Frame::Headers(section)) => match st.phase {
                RecvPhase::Head => decode_head(child, sh, service, c, section),
                RecvPhase::Body => decode_trailers(child, sh, c, section),
                _ => sh.fail(unexpected("HEADERS after the trailers")),
            },
            Event::Frame(Frame::Data { .. }) => match st.phase {
                RecvPhase::Body => {}
                RecvPhase::Head => sh.fail(unexpected("DATA before HEADERS")),
                _ => sh.fail(unexpected("DATA after the trailers")),
            },
            Event::Data(d) => body(child, sh, c, d),
            Event::Frame(Frame::Unknown { .. }) => {}
            Event::Frame(Frame::PushPromise { .. }) if !st.server => sh.fail(H3Error::conn(
                Code::IdError,
                "PUSH_PROMISE without MAX_PUSH_ID",
            )),
            Event::Frame(_) => sh.fail(unexpected("a control frame on a request stream")),
        }
    }
}

fn unexpected(detail: &'static str) -> H3Error {
    H3Error::conn(Code::FrameUnexpected, detail)
}

/// Body bytes for the protocol (none before the final response head on a
/// client, nor for a refused request).
fn body(child: &mut Child, sh: &mut Shared, c: &mut dyn QuicConnection, d: &[u8]) {
    let st = &mut child.st;
    st.body_len += d.len() as u64;
    st.body_bytes += d.len() as u64;
    if st.expect_len.is_some_and(|n| st.body_len > n) {
        return stream_error(
            st,
            sh,
            c,
            Code::MessageError,
            "body longer than content-length",
        );
    }
    if let Some(p) = child.proto.as_mut() {
        let mut v = View {
            st: &mut child.st,
            sh,
            c,
        };
        p.data_received(&mut v, d);
    }
}

/// Decodes a section: its fields, or `Ok(None)` when it is blocked (kept
/// in the phase) or the connection failed, or `Err(())` when it decoded
/// over `max_field_section_size` (only this message fails).
fn decode(
    child: &mut Child,
    sh: &mut Shared,
    now: std::time::Instant,
    section: Bytes,
    trailers: bool,
) -> Result<Option<Vec<HeaderField>>, ()> {
    let st = &mut child.st;
    let got = sh.dec.decode(st.id.0, &section, &mut sh.decoder.buf);
    if let Some(q) = &sh.qlog {
        // A HEADERS frame is written parsed once QPACK decoded it (or
        // failed to): not while it waits for encoder instructions.
        match &got {
            Ok(Decoded::Blocked) => {}
            Ok(Decoded::Fields(f)) => q.headers(now, false, st.id, f, section.len() as u64),
            Err(_) => q.headers(now, false, st.id, &[], section.len() as u64),
        }
    }
    match got {
        Ok(Decoded::Fields(f)) if head::section_size(&f) > sh.cfg.max_field_section_size => Err(()),
        Ok(Decoded::Fields(f)) => Ok(Some(f)),
        Ok(Decoded::Blocked) => {
            st.phase = if trailers {
                RecvPhase::TrailersBlocked(section)
            } else {
                RecvPhase::HeadBlocked(section)
            };
            Ok(None)
        }
        Err(QpackError::FieldSectionTooLarge { .. }) => Err(()),
        Err(e) => {
            sh.fail(H3Error::conn(
                Code::Other(e.code()),
                "QPACK decoding failed",
            ));
            Ok(None)
        }
    }
}

/// A section that was blocked on QPACK: decode it again.
pub(super) fn retry_blocked(
    child: &mut Child,
    sh: &mut Shared,
    service: Option<&SharedService>,
    c: &mut dyn QuicConnection,
) {
    match std::mem::replace(&mut child.st.phase, RecvPhase::Body) {
        RecvPhase::HeadBlocked(s) => {
            child.st.phase = RecvPhase::Head;
            decode_head(child, sh, service, c, s);
        }
        RecvPhase::TrailersBlocked(s) => decode_trailers(child, sh, c, s),
        other => child.st.phase = other,
    }
}

fn decode_head(
    child: &mut Child,
    sh: &mut Shared,
    service: Option<&SharedService>,
    c: &mut dyn QuicConnection,
    section: Bytes,
) {
    let fields = match decode(child, sh, c.now(), section, false) {
        Ok(Some(f)) => f,
        Ok(None) => return,
        Err(()) if child.st.server => return too_large(child, sh, c),
        Err(()) => {
            let e = "response head over our limit";
            return stream_error(&mut child.st, sh, c, Code::ExcessiveLoad, e);
        }
    };
    let st = &mut child.st;
    if !st.server {
        let p = match head::response(&fields) {
            Ok(p) => p,
            Err(why) => return stream_error(st, sh, c, Code::MessageError, why),
        };
        if p.status.is_informational() {
            return; // an interim response: the final one follows
        }
        let head_req = st
            .req
            .as_ref()
            .is_some_and(|r| r.0.method == http::Method::HEAD);
        if !head_req && !head::bodiless(p.status) {
            st.expect_len = head::content_length(&p.headers);
        } else {
            st.expect_len = Some(0);
        }
        st.resp = Some(ResponseHead(p));
        st.phase = RecvPhase::Body;
        if st.head_only.take().is_some() {
            // The tunnel exists (or was refused): what waited goes out.
            super::stream::flush(st, sh, c);
        }
        return;
    }
    let connect = sh.cfg.enable_connect_protocol;
    let parts = match head::request(&fields, connect) {
        Ok(p) => p,
        Err(why) => return stream_error(st, sh, c, Code::MessageError, why),
    };
    st.phase = RecvPhase::Body;
    st.head_deadline = None;
    st.expect_len = head::content_length(&parts.headers);
    st.no_body = parts.method == http::Method::HEAD;
    let Some(service) = service else {
        return;
    };
    let proto: Box<dyn StreamProtocol> = service.call(&parts);
    st.req = Some(RequestHead(parts));
    let slot = child.proto.insert(ProtocolSlot::new(proto));
    let mut v = View {
        st: &mut child.st,
        sh,
        c,
    };
    slot.connection_made(&mut v);
}

fn decode_trailers(child: &mut Child, sh: &mut Shared, c: &mut dyn QuicConnection, section: Bytes) {
    let fields = match decode(child, sh, c.now(), section, true) {
        Ok(Some(f)) => f,
        Ok(None) => return,
        Err(()) => {
            let e = "trailers over our limit";
            return stream_error(&mut child.st, sh, c, Code::ExcessiveLoad, e);
        }
    };
    let st = &mut child.st;
    match head::trailers(&fields) {
        Ok(t) => {
            st.trailers_in = Some(Trailers(t));
            st.phase = RecvPhase::Done;
        }
        Err(why) => stream_error(st, sh, c, Code::MessageError, why),
    }
}

/// A request head over `max_field_section_size`: `431`, FIN, and
/// STOP_SENDING(H3_NO_ERROR) for the rest of the request (RFC 9114 §4.1.1,
/// §4.2.2). The section is never decoded: QPACK hears it was abandoned.
fn too_large(child: &mut Child, sh: &mut Shared, c: &mut dyn QuicConnection) {
    let st = &mut child.st;
    tracing::debug!(stream = st.id.0, "HTTP/3 request head too large: 431");
    sh.dec.cancel_stream(st.id.0, &mut sh.decoder.buf);
    st.phase = RecvPhase::Done;
    st.head_deadline = None;
    st.stash = Vec::new();
    let (mut p, ()) = http::Response::new(()).into_parts();
    p.status = TOO_LARGE;
    let mut v = View { st, sh, c };
    v.close_with(p);
}

/// A request body trickled below `min_body_rate` for a whole period: the
/// request ends. Without a response yet, `408` and FIN; else
/// RESET_STREAM(H3_REQUEST_CANCELLED). The protocol gets `Timeout::Body`.
pub(super) fn body_too_slow(child: &mut Child, sh: &mut Shared, c: &mut dyn QuicConnection) {
    let why = crate::Close::Timeout(crate::Timeout::Body);
    let st = &mut child.st;
    st.body_since = None;
    if st.final_head_sent {
        stream_error(st, sh, c, Code::RequestCancelled, "request body too slow");
        st.finished = Some(why);
        return;
    }
    tracing::debug!(stream = st.id.0, "HTTP/3 request body too slow: 408");
    if let Some(mut p) = child.proto.take() {
        p.connection_lost(&why);
    }
    let st = &mut child.st;
    st.stash = Vec::new();
    st.phase = RecvPhase::Done;
    let (mut p, ()) = http::Response::new(()).into_parts();
    p.status = http::StatusCode::REQUEST_TIMEOUT;
    let mut v = View { st, sh, c };
    v.close_with(p);
}

/// The peer's FIN, once everything before it was parsed: the end of the
/// message, checked, becomes `eof_received`. True if something happened.
pub(super) fn finish_input(child: &mut Child, sh: &mut Shared, c: &mut dyn QuicConnection) -> bool {
    let st = &mut child.st;
    if !st.fin
        || st.eof_delivered
        || st.reset
        || st.finished.is_some()
        || st.holding()
        || !st.stash.is_empty()
        || sh.error.is_some()
    {
        return false;
    }
    if !st.reader.at_boundary() {
        sh.fail(H3Error::conn(
            Code::FrameError,
            "stream ended inside a frame",
        ));
        return true;
    }
    if st.phase == RecvPhase::Head {
        let code = if st.server {
            Code::RequestIncomplete
        } else {
            Code::MessageError
        };
        stream_error(st, sh, c, code, "stream ended before the head");
        return true;
    }
    if st.expect_len.is_some_and(|n| n != st.body_len) {
        stream_error(
            st,
            sh,
            c,
            Code::MessageError,
            "body shorter than content-length",
        );
        return true;
    }
    st.eof_delivered = true;
    if let Some(p) = child.proto.as_mut() {
        let mut v = View {
            st: &mut child.st,
            sh,
            c,
        };
        p.eof_received(&mut v);
    }
    true
}
