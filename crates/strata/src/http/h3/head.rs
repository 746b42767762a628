//! Heads to QPACK field lists and back (RFC 9114 §4.3), sharing HTTP/2's
//! field rules (`h2::head`): the same pseudo-headers, the same forbidden
//! connection-specific fields.

use http::{request, response, HeaderMap, StatusCode, Version};

use crate::http::h2::head::{connection_specific, HeadFields, RequestPseudo};
use crate::http::qpack::HeaderField;

/// The size of a field list as RFC 9114 §4.2.2 counts it.
pub(super) fn section_size(fields: &[HeaderField]) -> u64 {
    fields.iter().map(|f| f.size() as u64).sum()
}

fn regular(headers: &HeaderMap, out: &mut Vec<HeaderField>) {
    for (n, v) in headers {
        if !connection_specific(n) && n != http::header::HOST {
            out.push(HeaderField::new(
                bytes::Bytes::copy_from_slice(n.as_str().as_bytes()),
                bytes::Bytes::copy_from_slice(v.as_bytes()),
            ));
        }
    }
}

/// A response head's fields: `:status` first.
pub(super) fn response_fields(p: &response::Parts) -> Vec<HeaderField> {
    let mut out = vec![HeaderField::new(
        &b":status"[..],
        bytes::Bytes::copy_from_slice(p.status.as_str().as_bytes()),
    )];
    regular(&p.headers, &mut out);
    out
}

/// A request head's fields: the pseudo-headers of `RequestPseudo` (an
/// extended CONNECT's `:protocol` included), then the regular fields.
pub(super) fn request_fields(p: &request::Parts) -> Vec<HeaderField> {
    let ps = RequestPseudo::of(p);
    let mut out = Vec::new();
    for (n, v) in [
        (&b":method"[..], Some(&ps.method)),
        (b":scheme", ps.scheme.as_ref()),
        (b":authority", ps.authority.as_ref()),
        (b":path", ps.path.as_ref()),
        (b":protocol", ps.protocol.as_ref()),
    ] {
        if let Some(v) = v {
            out.push(HeaderField::new(
                n,
                bytes::Bytes::copy_from_slice(v.as_bytes()),
            ));
        }
    }
    regular(&p.headers, &mut out);
    out
}

/// Trailer fields.
pub(super) fn trailer_fields(h: &HeaderMap) -> Vec<HeaderField> {
    let mut out = Vec::new();
    regular(h, &mut out);
    out
}

fn fields(list: &[HeaderField], trailers: bool) -> HeadFields {
    let mut h = HeadFields::new(trailers);
    for f in list {
        h.add(&f.name, &f.value, false);
    }
    h
}

/// A decoded request head, or why it is malformed (H3_MESSAGE_ERROR).
pub(super) fn request(
    list: &[HeaderField],
    connect_protocol: bool,
) -> Result<request::Parts, &'static str> {
    let mut p = fields(list, false).into_request(connect_protocol)?;
    // RFC 9114 §4.3.1: http and https need an authority (`:authority` or
    // Host), which became the URI's.
    let needs_authority = matches!(p.uri.scheme_str(), Some("http" | "https"));
    if needs_authority && p.uri.authority().is_none() {
        return Err("no :authority or Host for an http(s) request");
    }
    p.version = Version::HTTP_3;
    Ok(p)
}

/// A decoded response head, or why it is malformed.
pub(super) fn response(list: &[HeaderField]) -> Result<response::Parts, &'static str> {
    let mut p = fields(list, false).into_response()?;
    p.version = Version::HTTP_3;
    Ok(p)
}

/// Decoded trailers, or why they are malformed.
pub(super) fn trailers(list: &[HeaderField]) -> Result<HeaderMap, &'static str> {
    fields(list, true).into_trailers()
}

/// The declared content-length of a head.
pub(super) fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A response that has no body whatever its head says (RFC 9110 §6.4.1).
pub(super) fn bodiless(status: StatusCode) -> bool {
    status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED
}
