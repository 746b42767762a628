//! `http`: the demo HTTP service that `strata serve --app http` runs over the
//! HTTP/1.1 and HTTP/2 layers (one handler serves both).
//!
//! | route | methods | answer |
//! |---|---|---|
//! | `/` | GET, HEAD | an HTML page listing these routes and curl commands (and the files at the root, with `--root`) |
//! | `/hello` | GET, HEAD | `hello, world\n` (13 bytes, the benchmarks' small response) |
//! | `/echo` | any | the request body, streamed back (content type copied from the request) |
//! | `/sink` | any | reads and drops the request body, then an empty `200` (the upload benchmark's target) |
//! | `/bytes/N` | GET, HEAD | `N` bytes (`N` ≤ [`MAX_BYTES`]) of a repeating pattern, with `content-length: N` |
//! | `/status/CODE` | GET, HEAD | an empty response with status `CODE` (200 to 599) |
//! | `/ws` | WebSocket handshake (HTTP/1.1 `Upgrade`, extended CONNECT) | a WebSocket echo: every message back, text as text ([`ws::WsEcho`]) |
//! | `/stats`, `/stats.json` | GET, HEAD | with statistics on (`strata serve --stats` or `-v`, [`StatsPage`]): the live page, and its figures as JSON |
//! | any other path | GET, HEAD | with `--root DIR`: the file under `DIR` (see below); else 404 |
//!
//! A known path with another method answers 405 with `Allow: GET, HEAD`; a
//! malformed `N` or `CODE` answers 400.
//!
//! **Back-pressure.** Every body is written only while the transport is
//! writable and resumes on `resume_writing`, so a client that stops reading
//! stops the server from producing: `/bytes/N` writes slices of one static
//! 64 KiB buffer ([`CHUNK`]) and never holds `N` bytes; `/echo` pauses
//! reading the request while the response cannot be written.
//!
//! **Files** (`--root DIR`). The path is percent-decoded segment by segment;
//! a `..` segment, a decoded `/` or `\`, a NUL, or a symbolic link that leads
//! out of `DIR` is refused with 403, bytes that are not UTF-8 with 400. A
//! directory answers a redirect to its `/`-terminated path, then its
//! `index.html` or else a listing. Files carry `Content-Type` (by extension),
//! `Last-Modified` and `Accept-Ranges: bytes`; a GET with one `Range` of the
//! form `bytes=a-b`, `bytes=a-` or `bytes=-n` answers 206 with
//! `Content-Range`, or 416 with `Content-Range: bytes */LEN` when it starts
//! past the end; several ranges, or a failed `If-Range`, answer 200 with the
//! whole file. Files are read with `std::fs` **synchronously inside the
//! protocol callbacks**, one [`CHUNK`] at a time as the transport becomes
//! writable: fine for a demo on a local disk, not for a production server on
//! slow storage (it blocks the connection's worker thread meanwhile).
//!
//! ```
//! use strata::http::Service;
//! let service = strata_cli::apps::http::service(None);
//! let req = http::Request::get("/hello").body(()).unwrap().into_parts().0;
//! let _protocol = service.call(&req); // then driven by an HTTP layer
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use strata::http::{request, HttpError, HttpExchange, Service, SharedService};
use strata::{AbortReason, Close, StreamProtocol, StreamTransport};

mod alt_svc;
mod body;
#[cfg(test)]
mod e2e;
mod files;
mod stats_page;
#[cfg(test)]
mod tests;
pub mod ws;

pub use alt_svc::AltSvc;
pub use stats_page::StatsPage;

/// The largest `N` that `/bytes/N` serves: 1 TiB.
pub const MAX_BYTES: u64 = 1 << 40;
/// Bytes written at once by `/bytes/N` and by file responses: one write of
/// this size is the most a response queues past the high-water mark.
pub const CHUNK: usize = 64 * 1024;
/// The body of `/hello`.
pub const HELLO: &[u8] = b"hello, world\n";
/// Entries shown at most in a directory listing.
pub const MAX_LISTING: usize = 10_000;

/// The layer name in the [`Close`] reason of a response the demo aborts.
const LAYER: &str = "http-demo";

/// The demo service; one value serves every connection of a listener.
///
/// ```
/// use strata::http::Service;
/// use strata_cli::apps::http::Demo;
/// let demo = Demo::new(None);
/// assert!(demo.root().is_none());
/// let req = http::Request::get("/status/204").body(()).unwrap().into_parts().0;
/// let _protocol = demo.call(&req);
/// ```
#[derive(Clone, Debug)]
pub struct Demo {
    root: Option<PathBuf>,
}

/// The demo service behind an `Arc`, ready for an HTTP listener; `root` is
/// the directory whose files it serves (`--root DIR`), if any.
///
/// ```
/// let service: strata::http::SharedService = strata_cli::apps::http::service(None);
/// # let _ = service;
/// ```
pub fn service(root: Option<PathBuf>) -> SharedService {
    Arc::new(Demo::new(root))
}

/// The protocol factory `strata serve --app http` listens with: every
/// connection runs an [`HttpServer`](strata::http::HttpServer) (HTTP/1.1,
/// or HTTP/2 by ALPN or preface) calling `service`. Nothing here names a
/// runtime: the same factory runs on `strata-tokio` and in the simulator.
///
/// ```
/// use strata::Stack;
/// let f = strata_cli::apps::http::factory(strata_cli::apps::http::service(None));
/// let mut s = Stack::memory(f());
/// let now = s.now();
/// s.handle_input(now, b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n");
/// let out = String::from_utf8(s.take_output(now)).unwrap();
/// assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("hello, world\n"), "{out}");
/// ```
pub fn factory(service: SharedService) -> strata::StreamFactory {
    let cfg = strata::http::HttpConfig::default();
    Arc::new(move || {
        Box::new(strata::http::HttpServer::new(service.clone(), cfg.clone()))
            as Box<dyn StreamProtocol>
    })
}

impl Demo {
    /// A demo service serving the files under `root`, if given. The root is
    /// made absolute and resolved once here (symbolic links included), so
    /// that every request is checked against the directory it really is.
    ///
    /// ```
    /// let demo = strata_cli::apps::http::Demo::new(Some(".".into()));
    /// assert!(demo.root().unwrap().is_absolute());
    /// ```
    pub fn new(root: Option<PathBuf>) -> Demo {
        let root = root.map(|r| match std::fs::canonicalize(&r) {
            Ok(real) => real,
            Err(e) => {
                // Requests are then answered 404 (or 403): nothing is served.
                tracing::warn!("http demo: cannot resolve --root {}: {e}", r.display());
                r
            }
        });
        Demo { root }
    }

    /// The directory served, resolved.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    fn route(&self, req: &request::Parts) -> Box<dyn StreamProtocol> {
        let path = req.uri.path();
        if path == "/echo" {
            return Box::new(body::Echo::new(req));
        }
        if path == "/sink" {
            return Box::new(body::Sink);
        }
        if path == "/ws" {
            return ws::route();
        }
        let known = matches!(path, "/" | "/hello")
            || path.starts_with("/bytes/")
            || path.starts_with("/status/")
            || self.root.is_some();
        let head_only = req.method == Method::HEAD;
        if !known {
            return Fixed::error(StatusCode::NOT_FOUND, head_only).boxed();
        }
        if req.method != Method::GET && !head_only {
            return Fixed::error(StatusCode::METHOD_NOT_ALLOWED, false)
                .header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
                .boxed();
        }
        if let Some(n) = path.strip_prefix("/bytes/") {
            return match digits(n).filter(|&n| n <= MAX_BYTES) {
                Some(n) => Box::new(body::Streamed::pattern(n, head_only)),
                None => Fixed::error(StatusCode::BAD_REQUEST, head_only).boxed(),
            };
        }
        if let Some(code) = path.strip_prefix("/status/") {
            return match final_status(code) {
                Some(status) => Fixed::empty(status).head_only(head_only).boxed(),
                None => Fixed::error(StatusCode::BAD_REQUEST, head_only).boxed(),
            };
        }
        match (path, &self.root) {
            ("/", root) => index_page(req, root.as_deref())
                .head_only(head_only)
                .boxed(),
            ("/hello", _) => Fixed::new(StatusCode::OK, "text/plain", HELLO)
                .head_only(head_only)
                .boxed(),
            (_, Some(root)) => files::serve(root, req),
            // Invariant: `known` above holds only for these paths or a root.
            (_, None) => Fixed::error(StatusCode::NOT_FOUND, head_only).boxed(),
        }
    }
}

impl Service for Demo {
    fn call(&self, req: &request::Parts) -> Box<dyn StreamProtocol> {
        self.route(req)
    }
}

/// Why the demo aborted a response it had started; found in the
/// [`Close`] reason of the exchange (`why.error::<DemoError>()`).
///
/// ```
/// use strata_cli::apps::http::DemoError;
/// let e = DemoError::Head(strata::http::HttpError::NotHttp);
/// assert!(e.to_string().contains("not an HTTP exchange"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The transport refused the response head.
    #[error("cannot send the response head: {0}")]
    Head(#[from] HttpError),
    /// A file could not be read to the end (it shrank, or the disk failed)
    /// after its head promised its length.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

impl strata::LayerError for DemoError {
    /// A refused head is a misuse of the exchange; a failed read is I/O.
    fn kind(&self) -> strata::Fault {
        match self {
            DemoError::Head(_) => strata::Fault::Config,
            DemoError::Read { .. } => strata::Fault::Io,
        }
    }
}

/// Aborts the exchange with `e` as the typed reason.
fn fail(t: &mut dyn StreamTransport, e: DemoError) {
    t.abort(Close::aborted(LAYER, AbortReason::layer(e)));
}

/// Sends a response head; on refusal aborts the exchange and returns false.
fn respond(t: &mut dyn StreamTransport, status: StatusCode, headers: HeaderMap) -> bool {
    let mut head = http::Response::new(());
    *head.status_mut() = status;
    *head.headers_mut() = headers;
    match t.send_response(head) {
        Ok(()) => true,
        Err(e) => {
            fail(t, DemoError::Head(e));
            false
        }
    }
}

/// Whether a response with this status may carry a body (and so a
/// `content-length`): not 1xx, 204 or 304 (RFC 9110 §6.4.1, §8.6).
fn has_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// A non-empty run of ASCII digits as a number, saturating at `u64::MAX`.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// A final status from `/status/CODE`: three digits, 200 to 599.
fn final_status(code: &str) -> Option<StatusCode> {
    let n = digits(code).filter(|_| code.len() == 3)?;
    let n = u16::try_from(n).ok().filter(|n| (200..600).contains(n))?;
    StatusCode::from_u16(n).ok()
}

/// A response known in full when the request arrives: sent at
/// `connection_made`, then closed. The request body, if any, is ignored.
#[derive(Debug)]
struct Fixed {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    head_only: bool,
}

impl Fixed {
    fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Fixed {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Fixed {
            status,
            headers,
            body: body.into(),
            head_only: false,
        }
    }

    fn empty(status: StatusCode) -> Fixed {
        Fixed {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            head_only: false,
        }
    }

    /// A short text body naming the status, e.g. `404 Not Found`.
    fn error(status: StatusCode, head_only: bool) -> Fixed {
        let reason = status.canonical_reason().unwrap_or("");
        let text = format!("{} {reason}\n", status.as_u16());
        Fixed::new(status, "text/plain; charset=utf-8", text).head_only(head_only)
    }

    fn header(mut self, name: HeaderName, value: HeaderValue) -> Fixed {
        self.headers.insert(name, value);
        self
    }

    /// For a HEAD request: the same head, no body.
    fn head_only(mut self, yes: bool) -> Fixed {
        self.head_only = yes;
        self
    }

    fn boxed(self) -> Box<dyn StreamProtocol> {
        Box::new(self)
    }
}

impl StreamProtocol for Fixed {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut headers = std::mem::take(&mut self.headers);
        if has_body(self.status) {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        }
        if !respond(t, self.status, headers) {
            return;
        }
        let body = std::mem::take(&mut self.body);
        if !self.head_only && has_body(self.status) && !body.is_empty() {
            t.write_bytes(body);
        }
        t.close();
    }

    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}

    // The response is complete already; the end of the request changes nothing.
    fn eof_received(&mut self, _t: &mut dyn StreamTransport) {}
}

/// `GET /`: the routes and how to try them, plus the files at the root.
fn index_page(req: &request::Parts, root: Option<&Path>) -> Fixed {
    let host = req
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers.get(header::HOST)?.to_str().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or("HOST:PORT");
    let host = files::escape_html(host);
    let scheme = req.uri.scheme_str().unwrap_or("http");
    let base = format!("{scheme}://{host}");
    let mut page = format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>strata http demo</title>\n\
         <h1>strata http demo</h1>\n<p>One handler, served over HTTP/1.1 and HTTP/2.</p>\n<ul>\n\
         <li><code>GET /hello</code>: 13 bytes of text</li>\n\
         <li><code>/echo</code> (any method): streams the request body back</li>\n\
         <li><code>/sink</code> (any method): reads and drops the request body, answers 200</li>\n\
         <li><code>GET /bytes/N</code>: N bytes (up to 2<sup>40</sup>), streamed</li>\n\
         <li><code>GET /status/CODE</code>: an empty response with that status</li>\n\
         <li><code>/ws</code>: a WebSocket echo (<code>strata connect ws://{host}/ws</code>)</li>\n\
         </ul>\n<p>Try:</p>\n<pre>\n\
         curl -i {base}/hello\n\
         curl --http2-prior-knowledge -i {base}/hello\n\
         curl --data-binary @/etc/hostname {base}/echo\n\
         curl -o /dev/null {base}/bytes/1073741824\n\
         curl -i {base}/status/418\n\
         h2load -n 100000 -c 10 -m 100 {base}/hello\n\
         </pre>\n"
    );
    if let Some(root) = root {
        page.push_str("<h2>Files</h2>\n");
        match files::listing(root, "/") {
            Ok(list) => page.push_str(&list),
            Err(_) => page.push_str("<p>(the root directory cannot be read)</p>\n"),
        }
    }
    Fixed::new(StatusCode::OK, "text/html; charset=utf-8", page)
}
