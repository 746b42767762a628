//! Heads on the wire: finding and parsing request and response heads,
//! deciding how their bodies are framed (RFC 9112 §6), and writing heads.

use http::header::{self, HeaderName, HeaderValue};
use http::{request, response, HeaderMap, Method, StatusCode, Uri, Version};

use super::body::BodyReader;
use super::H1Error;
use crate::http::Protocol;

/// Finds the end of a head (just past its empty line) in `src`, accepting
/// CRLF or bare LF line ends as httparse does. `scan` remembers how far an
/// earlier call looked, so a head arriving a byte at a time is scanned once.
pub(crate) fn find_head_end(src: &[u8], scan: &mut usize) -> Option<usize> {
    let mut i = (*scan).min(src.len());
    while let Some(p) = src[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        match src.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            // `\n\r` at the very end: look here again once more arrives.
            Some([b'\r']) | Some([]) => {
                *scan = nl;
                return None;
            }
            _ => i = nl + 1,
        }
    }
    *scan = src.len();
    None
}

/// How many empty lines (CRLF or LF) lead `src`: RFC 9112 §2.2 lets a server
/// ignore them before a request line.
pub(crate) fn leading_empty_lines(src: &[u8]) -> usize {
    let mut n = 0;
    loop {
        match &src[n..] {
            [b'\r', b'\n', ..] => n += 2,
            [b'\n', ..] => n += 1,
            _ => return n,
        }
    }
}

/// httparse's error, in words.
pub(crate) fn describe(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many header fields",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// A parsed request head and what it says about the exchange.
#[derive(Debug)]
pub(crate) struct RequestInfo {
    pub(crate) parts: request::Parts,
    /// How the request body is framed (`Length(0)` for none).
    pub(crate) body: BodyReader,
    /// The request lets the connection stay open afterwards.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub(crate) expect_continue: bool,
    /// An HTTP/1.1 request with `Upgrade:` (its first token is in the
    /// request's extensions as [`Protocol`]).
    pub(crate) upgrade: bool,
}

/// Parses a complete request head (`head` ends with its empty line).
pub(crate) fn parse_request(head: &[u8], max_headers: usize) -> Result<RequestInfo, H1Error> {
    match parse_request_as_sent(head, max_headers) {
        Err(H1Error::MalformedHead(_)) => match later_minor_version(head) {
            // RFC 9110 §2.5: a later 1.x is handled as the highest 1.x we
            // speak. Rare: one copy of the head.
            Some(at) => {
                let mut as_11 = head.to_vec();
                as_11[at] = b'1';
                parse_request_as_sent(&as_11, max_headers)
            }
            None => parse_request_as_sent(head, max_headers),
        },
        r => r,
    }
}

/// Where the minor digit of an `HTTP/1.x` request line with `x` > 1 is.
fn later_minor_version(head: &[u8]) -> Option<usize> {
    let start = leading_empty_lines(head);
    let len = head[start..].iter().position(|&b| b == b'\n')?;
    let line = &head[start..start + len];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line {
        [.., b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if (b'2'..=b'9').contains(d) => {
            Some(start + line.len() - 1)
        }
        _ => None,
    }
}

fn parse_request_as_sent(head: &[u8], max_headers: usize) -> Result<RequestInfo, H1Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(H1Error::MalformedHead("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(H1Error::TooManyHeaders { limit: max_headers })
        }
        Err(httparse::Error::Version) if names_other_version(head) => {
            return Err(H1Error::UnsupportedVersion)
        }
        Err(e) => return Err(H1Error::MalformedHead(describe(e))),
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(H1Error::MalformedHead("incomplete request line"));
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| H1Error::MalformedHead("invalid method"))?;
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let uri: Uri = target.parse().map_err(|_| H1Error::InvalidTarget)?;
    check_target_form(&method, &uri)?;
    let mut headers = to_header_map(req.headers, H1Error::MalformedHead)?;

    // Host (RFC 9112 §3.2): one, valid, required on 1.1; the authority of
    // an absolute-form (or CONNECT) target replaces it.
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(H1Error::InvalidHost);
    }
    if let Some(auth) = uri.authority() {
        let v = HeaderValue::from_str(auth.as_str()).map_err(|_| H1Error::InvalidTarget)?;
        headers.insert(header::HOST, v);
    } else {
        match host {
            None if version == Version::HTTP_11 => return Err(H1Error::MissingHost),
            None => {}
            Some(h) if h.is_empty() => {}
            Some(h) => {
                let ok = http::uri::Authority::try_from(h.as_bytes())
                    .is_ok_and(|a| !a.as_str().contains('@'));
                if !ok {
                    return Err(H1Error::InvalidHost);
                }
            }
        }
    }

    let body = request_body(&headers, version)?;
    if let BodyReader::Length(n) = body
        && headers.contains_key(header::CONTENT_LENGTH)
    {
        // `3, 3` or a repeated field: the handler sees the one value.
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let conn = ConnectionTokens::of(&headers);
    let keep_alive = if version == Version::HTTP_11 {
        !conn.close
    } else {
        conn.keep_alive && !conn.close
    };
    let expect_continue = version == Version::HTTP_11
        && headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (mut parts, ()) = http::Request::new(()).into_parts();
    let upgrade = version == Version::HTTP_11 && method != Method::CONNECT;
    let proto = headers
        .get(header::UPGRADE)
        .filter(|_| upgrade)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').map(str::trim).find(|t| !t.is_empty()))
        .map(|t| Protocol(t.to_owned()));
    let upgrade = proto.is_some();
    if let Some(p) = proto {
        parts.extensions.insert(p);
    }
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(RequestInfo {
        parts,
        body,
        keep_alive,
        expect_continue,
        upgrade,
    })
}

/// Whether a request line that failed on its version names another
/// well-formed one (`HTTP/2.0`): then the answer is 505, not 400.
fn names_other_version(head: &[u8]) -> bool {
    let start = leading_empty_lines(head);
    let line = head[start..].split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let last = line.rsplit(|&b| b == b' ').next().unwrap_or(&[]);
    matches!(last, [b'H', b'T', b'T', b'P', b'/', a, b'.', b]
        if a.is_ascii_digit() && b.is_ascii_digit() && *a != b'1')
}

/// RFC 9112 §3.2: origin-form for most methods, authority-form for CONNECT
/// only, asterisk-form for OPTIONS only, absolute-form for any but CONNECT.
fn check_target_form(method: &Method, uri: &Uri) -> Result<(), H1Error> {
    let ok = if *method == Method::CONNECT {
        uri.scheme().is_none() && uri.authority().is_some() && uri.path().is_empty()
    } else if uri.scheme().is_some() {
        uri.authority().is_some()
    } else if uri.path() == "*" {
        *method == Method::OPTIONS
    } else {
        uri.authority().is_none() && uri.path().starts_with('/')
    };
    if ok {
        Ok(())
    } else {
        Err(H1Error::InvalidTarget)
    }
}

/// Converts httparse's fields; `err` builds the error for a bad one.
fn to_header_map(
    fields: &[httparse::Header<'_>],
    err: fn(&'static str) -> H1Error,
) -> Result<HeaderMap, H1Error> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for f in fields {
        let name =
            HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| err("invalid header name"))?;
        let value = HeaderValue::from_bytes(f.value).map_err(|_| err("invalid header value"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The framing of a request body (RFC 9112 §6.3), refusing every ambiguous
/// case that request smuggling relies on.
fn request_body(headers: &HeaderMap, version: Version) -> Result<BodyReader, H1Error> {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        if version == Version::HTTP_10 {
            return Err(H1Error::TransferEncodingInHttp10);
        }
        if headers.contains_key(header::CONTENT_LENGTH) {
            return Err(H1Error::ContentLengthWithTransferEncoding);
        }
        return match transfer_codings(headers) {
            Codings::Chunked => Ok(BodyReader::chunked()),
            Codings::NotChunked => Err(H1Error::ChunkedNotLast),
            Codings::Other => Err(H1Error::UnsupportedTransferCoding),
        };
    }
    Ok(BodyReader::Length(content_length(headers)?.unwrap_or(0)))
}

/// What `Transfer-Encoding` says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Codings {
    /// Exactly `chunked`.
    Chunked,
    /// Other codings before a final `chunked`.
    Other,
    /// Not ending with `chunked` (or `chunked` twice, or empty).
    NotChunked,
}

pub(crate) fn transfer_codings(headers: &HeaderMap) -> Codings {
    let mut n = 0;
    let mut chunked_at = None;
    let mut bad_chunked = false;
    for v in headers.get_all(header::TRANSFER_ENCODING) {
        for t in v.as_bytes().split(|&b| b == b',') {
            let t = t.trim_ascii();
            if t.is_empty() {
                continue;
            }
            if t.eq_ignore_ascii_case(b"chunked") {
                bad_chunked |= chunked_at.is_some();
                chunked_at = Some(n);
            }
            n += 1;
        }
    }
    match chunked_at {
        Some(i) if i + 1 == n && !bad_chunked => {
            if n == 1 {
                Codings::Chunked
            } else {
                Codings::Other
            }
        }
        _ => Codings::NotChunked,
    }
}

/// `Content-Length`, when present: every value (and list member) must be
/// the same decimal number.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, H1Error> {
    let mut found: Option<u64> = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        for t in v.as_bytes().split(|&b| b == b',') {
            let t = t.trim_ascii();
            if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
                return Err(H1Error::InvalidContentLength);
            }
            let n = t.iter().try_fold(0u64, |n, &d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            let n = n.ok_or(H1Error::InvalidContentLength)?;
            match found {
                Some(f) if f != n => return Err(H1Error::ConflictingContentLength),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// The options of the `Connection` fields that matter here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConnectionTokens {
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
}

impl ConnectionTokens {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let mut c = ConnectionTokens::default();
        for v in headers.get_all(header::CONNECTION) {
            for t in v.as_bytes().split(|&b| b == b',') {
                let t = t.trim_ascii();
                c.close |= t.eq_ignore_ascii_case(b"close");
                c.keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        c
    }
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseInfo {
    pub(crate) parts: response::Parts,
}

/// Parses a complete response head (`head` ends with its empty line).
pub(crate) fn parse_response(head: &[u8], max_headers: usize) -> Result<ResponseInfo, H1Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut res = httparse::Response::new(&mut slots);
    match res.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(H1Error::MalformedResponse("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(H1Error::TooManyHeaders { limit: max_headers })
        }
        Err(httparse::Error::Version) => return Err(H1Error::UnsupportedVersion),
        Err(e) => return Err(H1Error::MalformedResponse(describe(e))),
    }
    let (Some(minor), Some(code)) = (res.version, res.code) else {
        return Err(H1Error::MalformedResponse("incomplete status line"));
    };
    let status =
        StatusCode::from_u16(code).map_err(|_| H1Error::MalformedResponse("invalid status"))?;
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let headers = to_header_map(res.headers, H1Error::MalformedResponse)?;
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    Ok(ResponseInfo { parts })
}

/// Appends `name: value\r\n` for every field.
pub(crate) fn encode_fields(headers: &HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// A status line, the fields and the empty line. Always `HTTP/1.1`, the
/// highest version we speak (RFC 9110 §6.2), even to an HTTP/1.0 client.
pub(crate) fn encode_response_head(status: StatusCode, headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + headers.len() * 32);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    encode_fields(headers, &mut out);
    out.extend_from_slice(b"\r\n");
    out
}

/// A request line, the fields and the empty line.
pub(crate) fn encode_request_head(
    method: &Method,
    target: &str,
    version: Version,
    headers: &HeaderMap,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + target.len() + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(if version == Version::HTTP_10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    encode_fields(headers, &mut out);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<RequestInfo, H1Error> {
        parse_request(s.as_bytes(), 8)
    }

    #[test]
    fn head_end_found_across_splits() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        for cut in 0..head.len() {
            let mut scan = 0;
            let first = find_head_end(&head[..cut], &mut scan);
            let got = first.or_else(|| find_head_end(head, &mut scan));
            assert_eq!(got, Some(27), "cut at {cut}");
        }
        let mut scan = 0;
        assert_eq!(find_head_end(b"GET / HTTP/1.0\n\nx", &mut scan), Some(16));
    }

    #[test]
    fn request_parts() {
        let r = req("POST /a?b HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").unwrap();
        assert_eq!(r.parts.method, Method::POST);
        assert_eq!(r.parts.uri.path(), "/a");
        assert_eq!(r.parts.version, Version::HTTP_11);
        assert!(matches!(r.body, BodyReader::Length(5)));
        assert!(r.keep_alive && r.expect_continue && !r.upgrade);
    }

    #[test]
    fn absolute_form_replaces_host() {
        let r = req("GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n").unwrap();
        assert_eq!(r.parts.headers["host"], "b.test");
        assert_eq!(r.parts.uri.path(), "/x");
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!req("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(
            !req("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
    }

    #[test]
    fn upgrade_token_in_extensions() {
        let r = req(
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket, x\r\n\r\n",
        )
        .unwrap();
        assert!(r.upgrade);
        assert_eq!(
            r.parts.extensions.get::<Protocol>(),
            Some(&Protocol("websocket".into()))
        );
        let r = req("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n").unwrap();
        assert_eq!(r.parts.uri.authority().unwrap().as_str(), "a.test:443");
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, H1Error)] = &[
            ("GET / HTTP/1.1\r\n\r\n", H1Error::MissingHost),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", H1Error::InvalidHost),
            ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", H1Error::InvalidHost),
            ("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", H1Error::InvalidHost),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", H1Error::UnsupportedVersion),
            ("GET / HTTX/1.1\r\nHost: a\r\n\r\n", H1Error::MalformedHead("invalid HTTP version")),
            ("GET a.test:80 HTTP/1.1\r\nHost: a\r\n\r\n", H1Error::InvalidTarget),
            ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", H1Error::InvalidTarget),
            ("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", H1Error::InvalidTarget),
            ("G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", H1Error::MalformedHead("invalid token")),
            ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", H1Error::MalformedHead("invalid header name")),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                H1Error::ContentLengthWithTransferEncoding,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                H1Error::ConflictingContentLength,
            ),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", H1Error::ConflictingContentLength),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", H1Error::InvalidContentLength),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", H1Error::InvalidContentLength),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", H1Error::ChunkedNotLast),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", H1Error::ChunkedNotLast),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", H1Error::UnsupportedTransferCoding),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", H1Error::TransferEncodingInHttp10),
            (
                "GET / HTTP/1.1\r\nHost: a\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\n\r\n",
                H1Error::TooManyHeaders { limit: 8 },
            ),
        ];
        for (head, want) in cases {
            assert_eq!(req(head).map(|_| ()).unwrap_err(), *want, "{head:?}");
        }
        let ok =
            req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n")
                .unwrap();
        assert!(matches!(ok.body, BodyReader::Length(3)));
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n", 4).unwrap();
        assert_eq!(r.parts.status, 404);
        assert_eq!(r.parts.headers["a"], "b");
        assert_eq!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n", 4).unwrap_err(),
            H1Error::MalformedResponse("invalid status")
        );
        let mut h = HeaderMap::new();
        h.insert("a", HeaderValue::from_static("b"));
        assert_eq!(
            encode_response_head(StatusCode::OK, &h),
            b"HTTP/1.1 200 OK\r\na: b\r\n\r\n"
        );
        assert_eq!(
            encode_request_head(&Method::GET, "/", Version::HTTP_11, &h),
            b"GET / HTTP/1.1\r\na: b\r\n\r\n"
        );
    }
}
