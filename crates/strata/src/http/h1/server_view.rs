//! The transport an [`H1Server`](super::H1Server) presents to the request
//! protocol of an exchange: body bytes out, response head and trailers
//! through [`HttpControl`](crate::http::HttpControl).

use std::any::{Any, TypeId};
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{response, HeaderMap, StatusCode, Version};

use super::body::{chunk_head, last_chunk_with, LAST_CHUNK};
use super::wire::{
    content_length, encode_response_head, transfer_codings, Codings, ConnectionTokens,
};
use super::H1;
use crate::http::{HttpControl, HttpError, HttpVersion, RequestHead, Trailers};
use crate::{Call, Close, Introspect, StreamTransport, Wake};

/// Where the response of an exchange stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resp {
    /// No final head yet (a 1xx may have gone out).
    Waiting,
    /// The final head went out; the body is framed so.
    Body(Framing),
    /// The response ended. `close`: by `close()` (the rest of the request
    /// body is discarded); otherwise by `write_eof()` or trailers (the
    /// request body is still delivered).
    Ended {
        /// Ended by `close()`.
        close: bool,
    },
    /// `101` or a 2xx to CONNECT went out: raw bytes both ways.
    Tunnel,
}

/// How the response body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Chunked,
    /// `Content-Length`: bytes still to send.
    Length(u64),
    /// HTTP/1.0 without a length: the close ends it.
    UntilClose,
    /// HEAD, 204, 304: no body whatever the handler writes.
    Empty,
}

/// The `Expect: 100-continue` state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Not asked, or settled.
    No,
    /// Asked; `100 Continue` not sent yet.
    Pending,
    /// `100 Continue` was sent.
    Sent,
}

/// The state of one exchange that its view works on.
pub(crate) struct ExState {
    /// The exchange's number on this connection (the wake route hop).
    pub(crate) seq: u64,
    pub(crate) head: RequestHead,
    pub(crate) version: HttpVersion,
    pub(crate) trailers: Option<Trailers>,
    pub(crate) is_head: bool,
    pub(crate) is_connect: bool,
    /// The request asked for an `Upgrade`.
    pub(crate) upgrade: bool,
    /// The connection may serve another request after this one.
    pub(crate) keep_alive: bool,
    pub(crate) expect: Expect,
    pub(crate) resp: Resp,
    /// The request protocol paused reading.
    pub(crate) read_paused: bool,
    /// The whole request body arrived.
    pub(crate) body_done: bool,
    /// `eof_received` was delivered (the request body's end, or in a
    /// tunnel the peer's EOF).
    pub(crate) eof_delivered: bool,
    /// The request protocol aborted the connection.
    pub(crate) aborted: bool,
}

impl ExState {
    /// Whether body writes are still taken.
    fn open(&self) -> bool {
        !self.aborted && !matches!(self.resp, Resp::Ended { .. })
    }

    /// Handles a response head (final or 1xx).
    fn respond(
        &mut self,
        below: &mut dyn StreamTransport,
        parts: response::Parts,
    ) -> Result<(), HttpError> {
        if self.aborted {
            return Err(HttpError::BodyEnded);
        }
        if self.resp != Resp::Waiting {
            return Err(HttpError::HeadAlreadySent);
        }
        let status = parts.status;
        let mut headers = parts.headers;
        if status.is_informational() {
            return self.informational(below, status, headers);
        }
        if self.expect == Expect::Pending && !self.body_done {
            if status.is_success() && !self.read_paused && !self.is_connect {
                // A success while the body is still to come: the handler
                // streams its answer from the body (an echo, an upload).
                // The client waits for this before sending it.
                below.write(CONTINUE);
            } else {
                // A refusal (or a handler holding the body back): the
                // client may never send the body, so no reuse.
                self.keep_alive = false;
            }
        }
        self.expect = Expect::No;
        if ConnectionTokens::of(&headers).close {
            self.keep_alive = false;
        }
        let tunnel = self.is_connect && status.is_success();
        let framing = if tunnel {
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::TRANSFER_ENCODING);
            self.keep_alive = false;
            Framing::Empty
        } else if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            normalize_length(&mut headers);
            if status == StatusCode::NO_CONTENT {
                headers.remove(header::CONTENT_LENGTH);
            }
            headers.remove(header::TRANSFER_ENCODING);
            Framing::Empty
        } else if self.is_head {
            // The fields describe what a GET would have sent; no body follows.
            normalize_length(&mut headers);
            Framing::Empty
        } else {
            self.body_framing(&mut headers)
        };
        if tunnel {
            // The connection is the tunnel's now; nothing to say about it.
        } else if !self.keep_alive {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        } else if self.version.0 == Version::HTTP_10 {
            headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        }
        below.write(&encode_response_head(status, &headers));
        self.resp = if tunnel {
            Resp::Tunnel
        } else {
            Resp::Body(framing)
        };
        Ok(())
    }

    /// The framing of a response body from the handler's fields: its
    /// `Content-Length` or `Transfer-Encoding: chunked` when valid, else
    /// chunked on HTTP/1.1 and until-close on HTTP/1.0.
    fn body_framing(&mut self, headers: &mut HeaderMap) -> Framing {
        let http11 = self.version.0 == Version::HTTP_11;
        if headers.contains_key(header::TRANSFER_ENCODING) {
            let chunked = matches!(transfer_codings(headers), Codings::Chunked | Codings::Other);
            if chunked && http11 {
                headers.remove(header::CONTENT_LENGTH);
                return Framing::Chunked;
            }
            tracing::debug!("http1: dropping a Transfer-Encoding this exchange cannot carry");
            headers.remove(header::TRANSFER_ENCODING);
        }
        match content_length(headers) {
            Ok(Some(n)) => {
                // One value, however the handler spelled it (`3, 3` copied
                // from a request is valid to read, never sent on).
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                return Framing::Length(n);
            }
            Ok(None) => {}
            Err(_) => {
                tracing::debug!("http1: dropping an invalid Content-Length from a response");
                headers.remove(header::CONTENT_LENGTH);
            }
        }
        if http11 {
            headers.insert(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
            Framing::Chunked
        } else {
            self.keep_alive = false;
            Framing::UntilClose
        }
    }

    fn informational(
        &mut self,
        below: &mut dyn StreamTransport,
        status: StatusCode,
        mut headers: HeaderMap,
    ) -> Result<(), HttpError> {
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::TRANSFER_ENCODING);
        if status == StatusCode::SWITCHING_PROTOCOLS {
            // Only to a request that asked for an upgrade, once its body is
            // in: the bytes after it belong to the new protocol.
            if !self.upgrade || !self.body_done {
                return Err(HttpError::NotHttp);
            }
            below.write(&encode_response_head(status, &headers));
            self.resp = Resp::Tunnel;
            self.keep_alive = false;
            self.expect = Expect::No;
            return Ok(());
        }
        if self.version.0 == Version::HTTP_10 {
            // An HTTP/1.0 client does not know 1xx responses (RFC 9110 §15.2).
            return Ok(());
        }
        if status == StatusCode::CONTINUE {
            if self.expect != Expect::Pending {
                return Ok(());
            }
            self.expect = Expect::Sent;
        }
        below.write(&encode_response_head(status, &headers));
        Ok(())
    }

    /// Sends the default head when body bytes (or the end) come first:
    /// `200` with no length, or `content-length: 0` for an empty body.
    fn default_head(&mut self, below: &mut dyn StreamTransport, empty: bool) {
        let (mut parts, ()) = http::Response::new(()).into_parts();
        if empty {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        // Waiting and not aborted: a head is always taken here.
        let _ = self.respond(below, parts);
    }

    fn write(&mut self, below: &mut dyn StreamTransport, data: &[u8]) {
        if data.is_empty() || !self.open() {
            return;
        }
        if self.resp == Resp::Waiting {
            self.default_head(below, false);
        }
        match &mut self.resp {
            Resp::Tunnel => below.write(data),
            Resp::Body(Framing::Chunked) => {
                let mut buf = [0; 18];
                below.write(chunk_head(data.len(), &mut buf));
                below.write(data);
                below.write(b"\r\n");
            }
            Resp::Body(Framing::Length(rem)) => {
                let n = usize::try_from(*rem).unwrap_or(usize::MAX).min(data.len());
                if n < data.len() {
                    tracing::warn!(
                        extra = data.len() - n,
                        "http1: response body longer than its Content-Length; excess dropped"
                    );
                }
                *rem -= n as u64;
                below.write(&data[..n]);
            }
            Resp::Body(Framing::UntilClose) => below.write(data),
            Resp::Body(Framing::Empty) | Resp::Waiting | Resp::Ended { .. } => {}
        }
    }

    /// `close()` or `write_eof()` from the request protocol.
    fn end(&mut self, below: &mut dyn StreamTransport, close: bool) {
        if self.aborted {
            return;
        }
        if self.resp == Resp::Waiting {
            self.default_head(below, true);
        }
        match self.resp {
            Resp::Tunnel => {
                if close {
                    below.close();
                } else {
                    below.write_eof();
                }
                return;
            }
            Resp::Ended { .. } | Resp::Waiting => return,
            Resp::Body(Framing::Chunked) => below.write(LAST_CHUNK),
            Resp::Body(Framing::Length(rem)) if rem > 0 => {
                // The peer must see the truncation: no reuse after this.
                tracing::warn!(
                    missing = rem,
                    "http1: response ended short of its Content-Length"
                );
                self.keep_alive = false;
            }
            Resp::Body(Framing::UntilClose) => self.keep_alive = false,
            Resp::Body(Framing::Length(_) | Framing::Empty) => {}
        }
        self.resp = Resp::Ended { close };
    }

    fn send_trailers(
        &mut self,
        below: &mut dyn StreamTransport,
        trailers: HeaderMap,
    ) -> Result<(), HttpError> {
        if self.aborted {
            return Err(HttpError::BodyEnded);
        }
        match self.resp {
            Resp::Tunnel => return Err(HttpError::NotHttp),
            Resp::Ended { .. } => return Err(HttpError::BodyEnded),
            Resp::Waiting => self.default_head(below, false),
            Resp::Body(_) => {}
        }
        if self.resp == Resp::Body(Framing::Chunked) {
            below.write(&last_chunk_with(&trailers));
            self.resp = Resp::Ended { close: false };
        } else {
            // Only a chunked body carries trailers; they may be dropped
            // (RFC 9110 §6.5).
            tracing::debug!("http1: trailers dropped: the response is not chunked");
            self.end(below, false);
        }
        Ok(())
    }

    /// Sends `100 Continue` if the client waits for it.
    pub(crate) fn send_continue(&mut self, below: &mut dyn StreamTransport) {
        if self.expect == Expect::Pending && self.resp == Resp::Waiting && !self.aborted {
            self.expect = Expect::Sent;
            below.write(CONTINUE);
        }
    }
}

/// The interim response a client sending `Expect: 100-continue` waits for.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Rewrites a valid `Content-Length` as one value and drops an invalid one:
/// the encoder never sends a framing field a peer could read two ways.
fn normalize_length(headers: &mut HeaderMap) {
    match content_length(headers) {
        Ok(Some(n)) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        Ok(None) => {}
        Err(_) => {
            tracing::debug!("http1: dropping an invalid Content-Length from a response");
            headers.remove(header::CONTENT_LENGTH);
        }
    }
}

/// The `http1` view of one exchange.
pub(crate) struct ExchangeView<'a> {
    below: &'a mut dyn StreamTransport,
    ex: &'a mut ExState,
}

impl<'a> ExchangeView<'a> {
    pub(crate) fn new(below: &'a mut dyn StreamTransport, ex: &'a mut ExState) -> Self {
        ExchangeView { below, ex }
    }
}

impl Introspect for ExchangeView<'_> {
    fn name(&self) -> &'static str {
        H1
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<Trailers>() {
            return self.ex.trailers.as_ref().map(|t| t as &dyn Any);
        }
        crate::capability!(id, self.ex.head, self.ex.version)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for ExchangeView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.ex.write(self.below, data);
    }
    fn write_bytes(&mut self, data: bytes::Bytes) {
        match self.ex.resp {
            Resp::Tunnel | Resp::Body(Framing::UntilClose) if self.ex.open() => {
                self.below.write_bytes(data)
            }
            _ => self.ex.write(self.below, &data),
        }
    }
    fn write_eof(&mut self) {
        self.ex.end(self.below, false);
    }
    fn close(&mut self) {
        self.ex.end(self.below, true);
    }
    fn abort(&mut self, why: Close) {
        // One exchange cannot be reset alone in HTTP/1.1: the connection goes.
        self.ex.aborted = true;
        self.below.abort(why);
    }
    fn pause_reading(&mut self) {
        self.ex.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.ex.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.below.buffered()
    }
    fn writable(&self) -> bool {
        self.ex.open() && self.below.writable()
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker().child(self.ex.seq)
    }
    fn control(&mut self, mut call: Call<'_>) {
        call.answer(|msg: HttpControl| match msg {
            HttpControl::Respond(parts) => self.ex.respond(self.below, parts),
            HttpControl::Trailers(t) => self.ex.send_trailers(self.below, t),
        });
    }
}
