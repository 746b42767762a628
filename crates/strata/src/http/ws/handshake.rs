//! The opening handshakes: HTTP/1.1 `Upgrade` (RFC 6455 §4), HTTP/2
//! extended CONNECT (RFC 8441 §5) and HTTP/3 extended CONNECT (RFC 9220).

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Version};

use super::deflate::{self, DeflateParams};
use super::error::WsError;
use crate::http::{request, response, Protocol};

/// The GUID RFC 6455 §1.3 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Key`, `-Accept`, `-Version`, `-Protocol`.
const KEY: &str = "sec-websocket-key";
const ACCEPT: &str = "sec-websocket-accept";
const VERSION: &str = "sec-websocket-version";
const PROTOCOL: &str = "sec-websocket-protocol";
const EXTENSIONS: &str = "sec-websocket-extensions";

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
///
/// ```
/// // RFC 6455 §1.3's example.
/// assert_eq!(strata::http::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(GUID.as_bytes());
    base64(ctx.finish().as_ref())
}

/// Standard base64 with padding (RFC 4648 §4).
pub(crate) fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The length of the bytes a base64 key stands for, if it is well formed:
/// enough to check that a `Sec-WebSocket-Key` is 16 bytes (24 characters,
/// the last two `==`).
fn key_is_valid(key: &[u8]) -> bool {
    key.len() == 24
        && key[22..] == *b"=="
        && key[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        // the last character before the padding carries 2 bits only
        && b"AQgw".contains(&key[21])
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(h: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// The tokens of every `Sec-WebSocket-Protocol` field.
fn offered(h: &HeaderMap) -> impl Iterator<Item = &str> {
    h.get_all(PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A handshake the server accepted: the response head to send and the
/// subprotocol chosen.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) head: http::Response<()>,
    pub(crate) subprotocol: Option<String>,
    pub(crate) deflate: Option<DeflateParams>,
}

/// What a client's handshake agreed on.
#[derive(Debug)]
pub(crate) struct Agreed {
    pub(crate) subprotocol: Option<String>,
    pub(crate) deflate: Option<DeflateParams>,
}

/// Checks a client's opening handshake, on any HTTP version: HTTP/1.1 `GET`
/// with `Upgrade: websocket`, `Connection: upgrade`, a 16-byte
/// `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`; HTTP/2 or HTTP/3
/// `CONNECT` with `:protocol websocket` and version 13 (no key). Returns the
/// response head to send (`101` with the accept key, or `200`), or the
/// error whose status ([`WsError::BadRequest`]) answers it.
pub(crate) fn server_accept(
    req: &request::Parts,
    subprotocols: &[String],
    deflate: bool,
) -> Result<Accepted, WsError> {
    let protocol = req.extensions.get::<Protocol>().map(|p| p.0.as_str());
    let websocket = protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
    let bad = |status, what| Err(WsError::BadRequest { status, what });
    let extended = req.method == Method::CONNECT;
    if extended {
        if req.version == Version::HTTP_11 || req.version == Version::HTTP_10 {
            return bad(400, "CONNECT is not a WebSocket handshake on HTTP/1.1");
        }
        if !websocket {
            return bad(400, "extended CONNECT without :protocol websocket");
        }
    } else {
        if !websocket {
            return bad(426, "no Upgrade: websocket");
        }
        if req.method != Method::GET || req.version != Version::HTTP_11 {
            return bad(400, "the handshake must be an HTTP/1.1 GET");
        }
        if !has_token(&req.headers, header::CONNECTION, "upgrade") {
            return bad(400, "no Connection: upgrade");
        }
    }
    match req.headers.get(VERSION).map(HeaderValue::as_bytes) {
        Some(b"13") => {}
        _ => return bad(426, "Sec-WebSocket-Version is not 13"),
    }
    let subprotocol = subprotocols
        .iter()
        .find(|want| offered(&req.headers).any(|o| o == want.as_str()))
        .cloned();
    let mut head = http::Response::builder();
    if extended {
        head = head.status(StatusCode::OK);
    } else {
        let key = match req.headers.get(KEY) {
            Some(k) if key_is_valid(k.as_bytes()) => k,
            _ => return bad(400, "no valid Sec-WebSocket-Key"),
        };
        // The key is checked ASCII above.
        let accept = accept_key(key.to_str().unwrap_or_default());
        head = head
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(ACCEPT, accept);
    }
    if let Some(p) = &subprotocol {
        head = head.header(PROTOCOL, p.as_str());
    }
    let deflate = if deflate {
        deflate::server_negotiate(&req.headers)
    } else {
        None
    };
    if let Some(d) = &deflate {
        head = head.header(EXTENSIONS, d.header());
    }
    match head.body(()) {
        Ok(head) => Ok(Accepted {
            head,
            subprotocol,
            deflate,
        }),
        Err(_) => bad(400, "a subprotocol that cannot be a header value"),
    }
}

/// The answer to a refused handshake: its status, `Connection: close`, and
/// on 426 the `Upgrade` and `Sec-WebSocket-Version` a client needs.
pub(crate) fn refusal(status: u16) -> http::Response<()> {
    let mut b = http::Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, "0");
    if status == 426 {
        b = b.header(header::UPGRADE, "websocket").header(VERSION, "13");
    }
    b.body(()).unwrap_or_default()
}

/// Which HTTP version carries a client's handshake.
///
/// ```
/// use strata::http::ws::HandshakeVersion;
/// assert_ne!(HandshakeVersion::Http1, HandshakeVersion::Http2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeVersion {
    /// HTTP/1.1 `GET` with `Upgrade: websocket` (RFC 6455).
    Http1,
    /// HTTP/2 extended CONNECT (RFC 8441).
    Http2,
    /// HTTP/3 extended CONNECT (RFC 9220).
    Http3,
}

/// A client's handshake request: the HTTP request to send (give it to
/// [`HttpClient`](crate::http::HttpClient) or an HTTP/3 client) and what
/// the answer must say. Made by [`WebSocket::client`](super::WebSocket::client).
#[derive(Clone, Debug)]
pub(crate) struct ClientHandshake {
    /// The expected `Sec-WebSocket-Accept` (HTTP/1.1 only).
    pub(crate) accept: Option<String>,
    pub(crate) offered: Vec<String>,
    pub(crate) deflate: bool,
}

/// Builds the request of a client handshake for `uri` (`ws://`, `wss://`,
/// `http://` or `https://`) with a 16-byte `key`.
pub(crate) fn client_request(
    uri: &http::Uri,
    version: HandshakeVersion,
    key: [u8; 16],
    subprotocols: &[String],
    deflate: bool,
) -> Result<(http::Request<()>, ClientHandshake), WsError> {
    let scheme = match uri.scheme_str() {
        Some("ws" | "http") | None => "http",
        Some("wss" | "https") => "https",
        Some(_) => return Err(WsError::HandshakeFailed("not a ws:// or wss:// URI".into())),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| WsError::HandshakeFailed("a URI without a host".into()))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let target: http::Uri = format!("{scheme}://{authority}{path}")
        .parse()
        .map_err(|_| WsError::HandshakeFailed("a URI that cannot be sent".into()))?;
    let mut b = http::Request::builder().uri(target).header(VERSION, "13");
    let mut accept = None;
    match version {
        HandshakeVersion::Http1 => {
            let key = base64(&key);
            accept = Some(accept_key(&key));
            b = b
                .method(Method::GET)
                .header(header::UPGRADE, "websocket")
                .header(header::CONNECTION, "Upgrade")
                .header(KEY, key);
        }
        HandshakeVersion::Http2 | HandshakeVersion::Http3 => {
            b = b.method(Method::CONNECT);
        }
    }
    if !subprotocols.is_empty() {
        b = b.header(PROTOCOL, subprotocols.join(", "));
    }
    if deflate {
        b = b.header(EXTENSIONS, deflate::CLIENT_OFFER);
    }
    let mut req = b
        .body(())
        .map_err(|_| WsError::HandshakeFailed("a subprotocol that cannot be a header".into()))?;
    if version != HandshakeVersion::Http1 {
        req.extensions_mut().insert(Protocol("websocket".into()));
    }
    Ok((
        req,
        ClientHandshake {
            accept,
            offered: subprotocols.to_vec(),
            deflate,
        },
    ))
}

impl ClientHandshake {
    /// Checks the server's answer; returns the subprotocol it chose.
    pub(crate) fn check(&self, resp: &response::Parts) -> Result<Agreed, WsError> {
        let fail = |s: String| Err(WsError::HandshakeFailed(s));
        match &self.accept {
            Some(want) => {
                if resp.status != StatusCode::SWITCHING_PROTOCOLS {
                    return fail(format!("status {}", resp.status.as_u16()));
                }
                if !has_token(&resp.headers, header::UPGRADE, "websocket") {
                    return fail("101 without Upgrade: websocket".into());
                }
                if resp.headers.get(ACCEPT).map(HeaderValue::as_bytes) != Some(want.as_bytes()) {
                    return fail("wrong Sec-WebSocket-Accept".into());
                }
            }
            None => {
                if !resp.status.is_success() {
                    return fail(format!("status {}", resp.status.as_u16()));
                }
            }
        }
        let chosen: Vec<&str> = offered(&resp.headers).collect();
        let subprotocol = match chosen.as_slice() {
            [] => None,
            [one] if self.offered.iter().any(|o| o == one) => Some((*one).to_owned()),
            _ => return fail("a subprotocol that was not offered".into()),
        };
        let deflate = deflate::client_accept(&resp.headers, self.deflate)?;
        Ok(Agreed {
            subprotocol,
            deflate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn keys_are_16_bytes_of_base64() {
        assert!(key_is_valid(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!key_is_valid(b"dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!key_is_valid(b"dGhlIHNhbXBsZSBub25jZR=="));
        assert!(!key_is_valid(b"dGhlIHNhbXBsZSBub25j*Q=="));
    }
}
