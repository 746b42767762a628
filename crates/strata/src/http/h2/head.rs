//! Header blocks to `http` heads and back (RFC 9113 §8.2, §8.3).

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{request, response, HeaderMap, Method, StatusCode, Uri, Version};

use crate::http::Protocol;

/// Fields of one decoded header block, checked as they arrive.
#[derive(Debug, Default)]
pub(crate) struct HeadFields {
    pub method: Option<Method>,
    pub scheme: Option<Bytes>,
    pub authority: Option<Bytes>,
    pub path: Option<Bytes>,
    pub protocol: Option<Bytes>,
    pub status: Option<u16>,
    pub headers: HeaderMap,
    pub content_length: Option<u64>,
    /// Why the block is malformed (a stream PROTOCOL_ERROR), if it is.
    pub error: Option<&'static str>,
    seen_regular: bool,
    trailers: bool,
    /// Where the block's values are copied, one after the other: each is
    /// split off as a `Bytes` sharing this one allocation (a request's
    /// `:authority`, `:path` and field values cost one buffer, not one
    /// allocation each).
    arena: BytesMut,
}

/// The arena's first allocation: a typical request's values fit.
const ARENA_CHUNK: usize = 512;

/// `v` copied into `arena` and split off as its own `Bytes`.
fn keep(arena: &mut BytesMut, v: &[u8]) -> Bytes {
    if arena.capacity() - arena.len() < v.len() {
        arena.reserve(v.len().max(ARENA_CHUNK));
    }
    arena.extend_from_slice(v);
    arena.split().freeze()
}

fn set_once(
    slot: &mut Option<Bytes>,
    arena: &mut BytesMut,
    v: &[u8],
    error: &mut Option<&'static str>,
) {
    if slot.is_some() {
        error.get_or_insert("duplicate pseudo-header");
    } else {
        *slot = Some(keep(arena, v));
    }
}

impl HeadFields {
    pub(crate) fn new(trailers: bool) -> HeadFields {
        HeadFields {
            trailers,
            ..HeadFields::default()
        }
    }

    /// Takes one field from the HPACK decoder.
    pub(crate) fn add(&mut self, name: &[u8], value: &[u8], sensitive: bool) {
        if self.error.is_some() {
            return;
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            if self.seen_regular || self.trailers {
                self.error = Some("pseudo-header after a regular field or in trailers");
                return;
            }
            let e = &mut self.error;
            match pseudo {
                b"method" => {
                    if self.method.is_some() {
                        *e = Some("duplicate :method");
                    } else {
                        match Method::from_bytes(value) {
                            Ok(m) => self.method = Some(m),
                            Err(_) => *e = Some("bad :method"),
                        }
                    }
                }
                b"scheme" => set_once(&mut self.scheme, &mut self.arena, value, e),
                b"authority" => set_once(&mut self.authority, &mut self.arena, value, e),
                b"path" => set_once(&mut self.path, &mut self.arena, value, e),
                b"protocol" => set_once(&mut self.protocol, &mut self.arena, value, e),
                b"status" => {
                    let code = std::str::from_utf8(value)
                        .ok()
                        .filter(|s| s.len() == 3)
                        .and_then(|s| s.parse::<u16>().ok());
                    match (self.status, code) {
                        (None, Some(c)) if (100..600).contains(&c) => self.status = Some(c),
                        _ => *e = Some("bad or duplicate :status"),
                    }
                }
                _ => *e = Some("unknown pseudo-header"),
            }
            return;
        }
        self.seen_regular = true;
        if name.iter().any(u8::is_ascii_uppercase) {
            self.error = Some("upper-case field name");
            return;
        }
        match name {
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
            | b"upgrade" => {
                self.error = Some("connection-specific field");
                return;
            }
            b"te" if value != b"trailers" => {
                self.error = Some("te other than trailers");
                return;
            }
            b"content-length" => {
                let n = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok());
                match (n, self.content_length) {
                    (Some(n), None) => self.content_length = Some(n),
                    (Some(n), Some(m)) if n == m => {}
                    _ => {
                        self.error = Some("bad content-length");
                        return;
                    }
                }
            }
            _ => {}
        }
        let Ok(n) = HeaderName::from_bytes(name) else {
            self.error = Some("invalid field name or value");
            return;
        };
        // A bad value is refused after it was kept: the block is then
        // malformed, and the arena goes with it.
        let Ok(mut v) = HeaderValue::from_maybe_shared(keep(&mut self.arena, value)) else {
            self.error = Some("invalid field name or value");
            return;
        };
        v.set_sensitive(sensitive);
        self.headers.append(n, v);
    }

    /// The request head (server side), or why the block is malformed.
    pub(crate) fn into_request(
        self,
        connect_protocol: bool,
    ) -> Result<request::Parts, &'static str> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.status.is_some() {
            return Err(":status in a request");
        }
        let method = self.method.ok_or("missing :method")?;
        let (mut parts, ()) = http::Request::new(()).into_parts();
        let uri = if method == Method::CONNECT && self.protocol.is_none() {
            if self.scheme.is_some() || self.path.is_some() {
                return Err("CONNECT with :scheme or :path");
            }
            let a = self.authority.ok_or("CONNECT without :authority")?;
            Uri::from_maybe_shared(a).map_err(|_| "bad :authority")?
        } else {
            if self.protocol.is_some() && (method != Method::CONNECT || !connect_protocol) {
                return Err(":protocol without extended CONNECT");
            }
            let scheme = self.scheme.ok_or("missing :scheme")?;
            let path = self.path.ok_or("missing :path")?;
            if path.is_empty() {
                return Err("empty :path");
            }
            let mut uri = http::uri::Parts::default();
            uri.path_and_query =
                Some(http::uri::PathAndQuery::from_maybe_shared(path).map_err(|_| "bad :path")?);
            uri.scheme = Some(match &scheme[..] {
                b"https" => http::uri::Scheme::HTTPS,
                b"http" => http::uri::Scheme::HTTP,
                other => http::uri::Scheme::try_from(other).map_err(|_| "bad :scheme")?,
            });
            let authority = match self.authority {
                Some(a) => Some(a),
                None => self
                    .headers
                    .get(http::header::HOST)
                    .map(|h| Bytes::copy_from_slice(h.as_bytes())),
            };
            if let Some(a) = authority {
                // Shared, not copied: `a` is a slice of the block's arena.
                uri.authority = Some(
                    http::uri::Authority::from_maybe_shared(a)
                        .map_err(|_| "bad :scheme, :authority or :path")?,
                );
            }
            Uri::from_parts(uri).map_err(|_| "bad :scheme, :authority or :path")?
        };
        if let Some(p) = self.protocol {
            let p = String::from_utf8(p.to_vec()).map_err(|_| "bad :protocol")?;
            parts.extensions.insert(Protocol(p));
        }
        parts.method = method;
        parts.uri = uri;
        parts.version = Version::HTTP_2;
        parts.headers = self.headers;
        Ok(parts)
    }

    /// The response head (client side), or why the block is malformed.
    pub(crate) fn into_response(self) -> Result<response::Parts, &'static str> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.method.is_some() || self.scheme.is_some() || self.path.is_some() {
            return Err("request pseudo-header in a response");
        }
        let status = self.status.ok_or("missing :status")?;
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = StatusCode::from_u16(status).map_err(|_| "bad :status")?;
        parts.version = Version::HTTP_2;
        parts.headers = self.headers;
        Ok(parts)
    }

    /// Trailers, or why the block is malformed.
    pub(crate) fn into_trailers(self) -> Result<HeaderMap, &'static str> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.headers),
        }
    }
}

/// Whether a field must not cross into HTTP/2 (RFC 9113 §8.2.2); handlers
/// written for HTTP/1.1 may set them.
pub(crate) fn connection_specific(name: &HeaderName) -> bool {
    use http::header::{CONNECTION, TRANSFER_ENCODING, UPGRADE};
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// The fields of a head as HPACK input: pseudo-headers first.
pub(crate) fn response_fields<'a>(
    status: &'a StatusCode,
    headers: &'a HeaderMap,
) -> impl Iterator<Item = (&'a [u8], &'a [u8], bool)> + 'a {
    std::iter::once((&b":status"[..], status.as_str().as_bytes(), false)).chain(regular(headers))
}

pub(crate) fn regular(headers: &HeaderMap) -> impl Iterator<Item = (&[u8], &[u8], bool)> + '_ {
    headers
        .iter()
        .filter(|(n, _)| !connection_specific(n))
        .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes(), v.is_sensitive()))
}

/// The pseudo-header values of a request head.
pub(crate) struct RequestPseudo {
    pub method: String,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub protocol: Option<String>,
}

impl RequestPseudo {
    /// The pseudo-headers of `req`: a [`Protocol`] extension becomes
    /// `:protocol` (extended CONNECT, RFC 8441); a CONNECT without one is
    /// the classic form, `:authority` only (documented for users in
    /// `http/mod.rs`, section Tunnels, and `docs/http.md`).
    pub(crate) fn of(req: &request::Parts) -> RequestPseudo {
        let protocol = req.extensions.get::<Protocol>().map(|p| p.0.clone());
        let authority = req
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| {
                req.headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            });
        if req.method == Method::CONNECT && protocol.is_none() {
            return RequestPseudo {
                method: req.method.as_str().to_owned(),
                scheme: None,
                authority,
                path: None,
                protocol,
            };
        }
        RequestPseudo {
            method: req.method.as_str().to_owned(),
            scheme: Some(req.uri.scheme_str().unwrap_or("https").to_owned()),
            authority,
            path: Some(
                req.uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned(),
            ),
            protocol,
        }
    }

    pub(crate) fn fields<'a>(
        &'a self,
        headers: &'a HeaderMap,
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8], bool)> + 'a {
        let p = [
            (&b":method"[..], Some(&self.method)),
            (b":scheme", self.scheme.as_ref()),
            (b":authority", self.authority.as_ref()),
            (b":path", self.path.as_ref()),
            (b":protocol", self.protocol.as_ref()),
        ];
        p.into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v.as_bytes(), false)))
            .chain(regular(headers).filter(|(n, _, _)| *n != b"host"))
    }
}
