//! [`H1Client`]: one HTTP/1.1 request over a connection, its response
//! handed to a stream protocol.

use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode, Version};

use super::body::{BodyReader, Event, Limits};
use super::client_view::{ClientState, ClientView, ReqBody};
use super::wire::{
    content_length, encode_request_head, find_head_end, leading_empty_lines, parse_response,
    transfer_codings, Codings, ResponseInfo,
};
use super::{H1Config, H1Error, H1};
use crate::http::{HttpVersion, RequestHead, ResponseHead, Trailers};
use crate::{AbortReason, Close, StreamProtocol, StreamTransport, WakeRoute};

/// An HTTP/1.1 client connection that sends one request and hands the
/// response to a stream protocol.
///
/// # Driving contract
///
/// `H1Client` follows the [stream contract](crate::stream) and presents a
/// transport named `http1` to its protocol:
///
/// * **Request.** The head goes out when the protocol's `connection_made`
///   returns, with `Host` from the URI's authority if the request has none.
///   The body is what the protocol writes: framed by the request's
///   `Content-Length` if it has one, else chunked if the protocol wrote
///   during `connection_made`, or has not ended the body by then on a method
///   that carries one (POST, PUT, PATCH, and methods unknown here); a
///   body-carrying method ended empty sends `content-length: 0`. `close` or
///   `write_eof` ends the body (`0\r\n\r\n` when chunked), `send_trailers`
///   ends it with trailers. GET, HEAD, DELETE, OPTIONS and TRACE send no
///   body unless the protocol wrote one during `connection_made`.
/// * **Response.** 1xx heads are skipped (a `101` to an `Upgrade` request,
///   or a 2xx to CONNECT, opens a tunnel instead). The final head becomes
///   the [`ResponseHead`] capability before the first `data_received` (or
///   `eof_received`), the body arrives as `data_received` (content-length,
///   chunked with [`Trailers`] before the end, or until the server closes;
///   none for HEAD, 204, 304), then `eof_received`; then the client closes
///   the connection and the protocol gets `connection_lost(Close::Done)`
///   once the close is done. One request per connection.
/// * **Tunnels.** For CONNECT and `Upgrade` requests, writes made before the
///   tunnel opens are held and sent raw once it does (dropped if the server
///   refuses); then bytes pass unframed both ways and `write_eof`/`close`
///   are the connection's.
/// * **Bad responses** (malformed head, conflicting lengths, bad chunks, a
///   close before the end) abort the connection with `Close::Aborted {
///   layer: "http1", reason: AbortReason::Layer(..) }`, read with `why.error::<H1Error>()`.
/// * **Read pause, back-pressure, time, wakes, shutdown** pass through: a
///   paused protocol pauses reading below; `pause_writing`/`resume_writing`,
///   deadlines, wakes and `on_shutdown` reach the protocol unchanged.
///
/// ```
/// use std::sync::Arc;
/// use strata::http::h1::{H1Client, H1Config};
/// use strata::http::HttpExchange;
/// use strata::{Stack, StreamProtocol, StreamTransport};
///
/// struct Print;
/// impl StreamProtocol for Print {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
///         assert_eq!(t.response_head().unwrap().status, 200);
///         assert_eq!(data, b"hi");
///     }
///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
/// }
/// let req = http::Request::get("http://example.test/x").body(()).unwrap();
/// let client = H1Client::new(req, Box::new(Print), Arc::new(H1Config::default()));
/// let mut s = Stack::memory(Box::new(client));
/// let now = s.now();
/// assert_eq!(s.take_output(now), b"GET /x HTTP/1.1\r\nhost: example.test\r\n\r\n");
/// s.handle_input(now, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
/// assert!(s.finished().unwrap().is_clean());
/// ```
pub struct H1Client {
    proto: Box<dyn StreamProtocol>,
    st: ClientState,
    cfg: Arc<H1Config>,
    lim: Limits,
    read: Read,
    /// Response input not consumed yet.
    buf: Vec<u8>,
    head_scan: usize,
    peer_eof: bool,
    /// `eof_received` was delivered (end of the response body, or in a
    /// tunnel the peer's EOF).
    eof_delivered: bool,
    below_read_paused: bool,
    is_head: bool,
    is_connect: bool,
    upgrade: bool,
    lost: bool,
    /// Why this layer aborted, for the protocol's `connection_lost`.
    failed: Option<Close>,
}

#[derive(Debug)]
enum Read {
    /// Waiting for the response head (1xx heads are skipped here).
    Head,
    Body(BodyReader),
    /// The response is complete.
    Done,
    Tunnel,
    Closed,
}

enum Flow {
    Advance(usize),
    Stop,
}

impl H1Client {
    /// A client that sends `req` (its head; the body is what `proto`
    /// writes) and hands the response to `proto`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::http::h1::{H1Client, H1Config};
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Upload;
    /// impl StreamProtocol for Upload {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
    ///         t.write(b"data");
    ///         t.close(); // ends the request body, not the connection
    ///     }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// }
    /// let req = http::Request::post("http://a.test/up").body(()).unwrap();
    /// let client = H1Client::new(req, Box::new(Upload), Arc::new(H1Config::default()));
    /// let mut s = Stack::memory(Box::new(client));
    /// let now = s.now();
    /// assert_eq!(
    ///     s.take_output(now),
    ///     b"POST /up HTTP/1.1\r\nhost: a.test\r\ntransfer-encoding: chunked\r\n\r\n4\r\ndata\r\n0\r\n\r\n"
    /// );
    /// ```
    pub fn new(
        req: http::Request<()>,
        proto: Box<dyn StreamProtocol>,
        cfg: Arc<H1Config>,
    ) -> H1Client {
        let (mut parts, ()) = req.into_parts();
        if !parts.headers.contains_key(header::HOST) {
            // RFC 9112 §3.2: the authority, without userinfo; empty if none.
            let host = parts.uri.authority().map_or("", |a| {
                let s = a.as_str();
                s.rsplit_once('@').map_or(s, |(_, h)| h)
            });
            let v = HeaderValue::from_str(host).unwrap_or(HeaderValue::from_static(""));
            parts.headers.insert(header::HOST, v);
        }
        let is_connect = parts.method == Method::CONNECT;
        let is_head = parts.method == Method::HEAD;
        let upgrade = !is_connect && parts.headers.contains_key(header::UPGRADE);
        let lim = Limits {
            max_chunk_line: cfg.max_chunk_line,
            max_trailer_bytes: cfg.max_trailer_bytes,
            max_headers: cfg.max_headers,
        };
        H1Client {
            proto,
            st: ClientState {
                version: HttpVersion(if parts.version == Version::HTTP_10 {
                    Version::HTTP_10
                } else {
                    Version::HTTP_11
                }),
                response: None,
                trailers: None,
                body: if is_connect || upgrade {
                    ReqBody::TunnelWait
                } else {
                    ReqBody::Deciding
                },
                held: Vec::new(),
                held_limit: cfg.max_pipelined_bytes,
                held_end: None,
                held_trailers: None,
                read_paused: false,
                aborted: false,
                head: RequestHead(parts),
            },
            is_head,
            is_connect,
            upgrade,
            lim,
            cfg,
            read: Read::Head,
            buf: Vec::new(),
            head_scan: 0,
            peer_eof: false,
            eof_delivered: false,
            below_read_paused: false,
            lost: false,
            failed: None,
        }
    }

    /// The final response head, once it arrived.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::http::h1::{H1Client, H1Config};
    /// use strata::{StreamProtocol, StreamTransport};
    /// struct Quiet;
    /// impl StreamProtocol for Quiet {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// }
    /// let req = http::Request::get("http://a.test/").body(()).unwrap();
    /// let client = H1Client::new(req, Box::new(Quiet), Arc::new(H1Config::default()));
    /// assert!(client.response().is_none());
    /// ```
    pub fn response(&self) -> Option<&http::response::Parts> {
        self.st.response.as_ref().map(|r| &r.0)
    }

    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut dyn StreamProtocol, &mut dyn StreamTransport),
    ) {
        if !self.st.aborted && !self.lost {
            f(&mut *self.proto, &mut ClientView::new(t, &mut self.st));
        }
    }

    /// Sends the request head once the protocol had its say in
    /// `connection_made`, then what it wrote meanwhile.
    fn send_head(&mut self, t: &mut dyn StreamTransport) {
        let parts = &self.st.head.0;
        let mut headers = parts.headers.clone();
        let method = &parts.method;
        let body_method = !matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::DELETE
                | Method::OPTIONS
                | Method::TRACE
                | Method::CONNECT
        );
        let wrote = !self.st.held.is_empty() || self.st.held_trailers.is_some();
        let body = match self.st.body {
            ReqBody::Deciding => {
                if headers.contains_key(header::TRANSFER_ENCODING) {
                    if transfer_codings(&headers) != Codings::Chunked {
                        tracing::debug!("http1: request Transfer-Encoding replaced by chunked");
                    }
                    headers.insert(
                        header::TRANSFER_ENCODING,
                        HeaderValue::from_static("chunked"),
                    );
                    headers.remove(header::CONTENT_LENGTH);
                    ReqBody::Chunked
                } else if let Ok(Some(n)) = content_length(&headers) {
                    ReqBody::Length(n)
                } else if wrote || (body_method && self.st.held_end.is_none()) {
                    headers.remove(header::CONTENT_LENGTH);
                    headers.insert(
                        header::TRANSFER_ENCODING,
                        HeaderValue::from_static("chunked"),
                    );
                    ReqBody::Chunked
                } else {
                    headers.remove(header::CONTENT_LENGTH);
                    if body_method {
                        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                    }
                    ReqBody::Ended
                }
            }
            other => other,
        };
        let target = if *method == Method::CONNECT {
            parts
                .uri
                .authority()
                .map_or_else(|| parts.uri.path().to_owned(), |a| a.as_str().to_owned())
        } else {
            match parts.uri.path_and_query().map(|p| p.as_str()) {
                None | Some("") => "/".to_owned(),
                Some(p) => p.to_owned(),
            }
        };
        t.write(&encode_request_head(
            method,
            &target,
            self.st.version.0,
            &headers,
        ));
        self.st.body = body;
        if body == ReqBody::TunnelWait {
            return;
        }
        let held = std::mem::take(&mut self.st.held);
        self.st.write(t, &held);
        if let Some(tr) = self.st.held_trailers.take() {
            self.st.held_end = None;
            // Chunked was chosen above because trailers were given, so
            // they are taken.
            let _ = self.st.send_trailers(t, tr);
        } else if let Some(close) = self.st.held_end.take() {
            self.st.end(t, close);
        }
    }

    /// Settle: consume the response as far as the state allows, then fix
    /// the read pause below.
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        if self.lost {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let used = self.process(t, &buf);
        self.buf = buf;
        self.buf.drain(..used.min(self.buf.len()));
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
        self.after(t);
    }

    fn process(&mut self, t: &mut dyn StreamTransport, src: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            if self.lost || matches!(self.read, Read::Closed) {
                return src.len();
            }
            if self.st.aborted {
                self.read = Read::Closed;
                continue;
            }
            match self.step(t, &src[pos..]) {
                Flow::Advance(n) => pos += n,
                Flow::Stop => return pos,
            }
        }
    }

    fn step(&mut self, t: &mut dyn StreamTransport, rest: &[u8]) -> Flow {
        match &mut self.read {
            Read::Closed => Flow::Advance(rest.len()),
            Read::Head => self.head(t, rest),
            Read::Body(r) => {
                if self.st.read_paused {
                    return Flow::Stop;
                }
                match r.step(rest, &self.lim) {
                    Err(e) => self.fail(t, e),
                    Ok(Event::Skip(n)) => Flow::Advance(n),
                    Ok(Event::Data(n)) => {
                        let data = &rest[..n];
                        self.call(t, |p, v| p.data_received(v, data));
                        Flow::Advance(n)
                    }
                    Ok(Event::End(n, trailers)) => {
                        self.st.trailers = trailers.map(Trailers);
                        self.read = Read::Done;
                        Flow::Advance(n)
                    }
                    Ok(Event::Need) if !self.peer_eof => Flow::Stop,
                    Ok(Event::Need) if r.ends_at_eof() => {
                        self.read = Read::Done;
                        Flow::Advance(0)
                    }
                    Ok(Event::Need) => self.fail(t, H1Error::TruncatedBody),
                }
            }
            Read::Done => {
                if self.st.read_paused && !self.eof_delivered {
                    return Flow::Stop;
                }
                if !self.eof_delivered {
                    self.eof_delivered = true;
                    self.call(t, |p, v| p.eof_received(v));
                    return Flow::Advance(0);
                }
                // One request per connection: done with it.
                self.read = Read::Closed;
                t.close();
                Flow::Stop
            }
            Read::Tunnel => {
                if self.st.read_paused {
                    return Flow::Stop;
                }
                if !rest.is_empty() {
                    self.call(t, |p, v| p.data_received(v, rest));
                    return Flow::Advance(rest.len());
                }
                if self.peer_eof && !self.eof_delivered {
                    self.eof_delivered = true;
                    self.call(t, |p, v| p.eof_received(v));
                    return Flow::Advance(0);
                }
                Flow::Stop
            }
        }
    }

    fn head(&mut self, t: &mut dyn StreamTransport, rest: &[u8]) -> Flow {
        let skip = leading_empty_lines(rest);
        if skip > 0 {
            self.head_scan = 0;
            return Flow::Advance(skip);
        }
        let max = self.cfg.max_head_bytes;
        match find_head_end(rest, &mut self.head_scan) {
            None if rest.len() > max => self.fail(t, H1Error::HeadTooLarge { limit: max }),
            None if self.peer_eof => self.fail(t, H1Error::TruncatedResponse),
            None => Flow::Stop,
            Some(end) if end > max => self.fail(t, H1Error::HeadTooLarge { limit: max }),
            Some(end) => {
                self.head_scan = 0;
                match parse_response(&rest[..end], self.cfg.max_headers) {
                    Err(e) => self.fail(t, e),
                    Ok(info) => {
                        self.on_head(t, info);
                        Flow::Advance(end)
                    }
                }
            }
        }
    }

    /// A response head arrived: skip a 1xx, open a tunnel, or start the body.
    fn on_head(&mut self, t: &mut dyn StreamTransport, info: ResponseInfo) {
        let status = info.parts.status;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            if self.upgrade && self.st.body == ReqBody::TunnelWait {
                self.open_tunnel(t, info);
            } else {
                self.fail(
                    t,
                    H1Error::MalformedResponse("101 to a request without Upgrade"),
                );
            }
            return;
        }
        if status.is_informational() {
            return;
        }
        if self.is_connect && status.is_success() {
            self.open_tunnel(t, info);
            return;
        }
        let headers = &info.parts.headers;
        let reader = if self.is_head
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            BodyReader::Length(0)
        } else if headers.contains_key(header::TRANSFER_ENCODING) {
            // RFC 9112 §6.3: chunked last frames it; anything else is read
            // until the close. It overrides any Content-Length.
            match transfer_codings(headers) {
                Codings::Chunked => BodyReader::chunked(),
                Codings::Other | Codings::NotChunked => BodyReader::UntilClose,
            }
        } else {
            match content_length(headers) {
                Ok(Some(n)) => BodyReader::Length(n),
                Ok(None) => BodyReader::UntilClose,
                Err(e) => {
                    self.fail(t, e);
                    return;
                }
            }
        };
        if self.st.body == ReqBody::TunnelWait {
            // Refused: what waited for the tunnel is dropped.
            self.st.body = ReqBody::Ended;
            self.st.held = Vec::new();
            self.st.held_end = None;
        }
        self.st.response = Some(ResponseHead(info.parts));
        self.read = Read::Body(reader);
    }

    fn open_tunnel(&mut self, t: &mut dyn StreamTransport, info: ResponseInfo) {
        self.st.response = Some(ResponseHead(info.parts));
        self.st.body = ReqBody::Tunnel;
        self.read = Read::Tunnel;
        let held = std::mem::take(&mut self.st.held);
        self.st.write(t, &held);
        if let Some(close) = self.st.held_end.take() {
            self.st.end(t, close);
        }
    }

    fn fail(&mut self, t: &mut dyn StreamTransport, err: H1Error) -> Flow {
        tracing::debug!(error = %err, "http1: refusing the server's response");
        let why = Close::aborted(H1, AbortReason::layer(err));
        self.failed = Some(why.clone());
        self.read = Read::Closed;
        t.abort(why);
        Flow::Stop
    }

    fn after(&mut self, t: &mut dyn StreamTransport) {
        let want = match self.read {
            Read::Body(_) | Read::Tunnel => self.st.read_paused,
            Read::Head => false,
            Read::Done | Read::Closed => true,
        };
        if want != self.below_read_paused {
            self.below_read_paused = want;
            if want {
                t.pause_reading();
            } else {
                t.resume_reading();
            }
        }
    }
}

impl StreamProtocol for H1Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.connection_made(v));
        if !self.st.aborted {
            self.send_head(t);
        }
        self.settle(t);
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.lost {
            return;
        }
        if self.buf.is_empty() {
            let used = self.process(t, data);
            if !matches!(self.read, Read::Closed) {
                self.buf.extend_from_slice(&data[used.min(data.len())..]);
            }
            self.after(t);
        } else {
            self.buf.extend_from_slice(data);
            self.settle(t);
        }
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.peer_eof = true;
        self.settle(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        if std::mem::replace(&mut self.lost, true) {
            return;
        }
        self.read = Read::Closed;
        self.buf = Vec::new();
        self.st.held = Vec::new();
        let reason = self.failed.take().unwrap_or_else(|| why.clone());
        self.proto.connection_lost(&reason);
    }

    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.pause_writing(v));
        self.settle(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.resume_writing(v));
        self.settle(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.lost {
            return None;
        }
        self.proto.next_deadline()
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.on_deadline(v));
        self.settle(t);
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.call(t, |p, v| p.on_wake(v, route));
        self.settle(t);
    }

    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.on_shutdown(v));
        self.settle(t);
    }

    fn buffered(&self) -> usize {
        if self.lost {
            return 0;
        }
        self.st.held.len() + self.proto.buffered()
    }
}

impl std::fmt::Debug for H1Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Client")
            .field("method", &self.st.head.0.method)
            .field("uri", &self.st.head.0.uri)
            .field("read", &self.read)
            .field("status", &self.st.response.as_ref().map(|r| r.0.status))
            .finish_non_exhaustive()
    }
}
