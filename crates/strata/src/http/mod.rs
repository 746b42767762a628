//! HTTP as layers: HTTP/2 and HTTP/1.1 connections that hand each request
//! to an ordinary [`StreamProtocol`].
//!
//! A server connection (either version) is a stream protocol to the
//! transport below it. For every request it asks a [`Service`] for a
//! *request protocol*, an ordinary [`StreamProtocol`], and becomes that
//! protocol's transport: the request body arrives as `data_received` and
//! `eof_received`, the response body leaves as `write`, `close` ends the
//! response and `abort` resets it. The response head and trailers go through
//! [`HttpExchange`], which works on any `dyn StreamTransport` an HTTP layer
//! hands out, so one handler serves HTTP/1.1 and HTTP/2 alike, and a tunnel
//! (CONNECT, RFC 8441 extended CONNECT, an HTTP/1.1 `Upgrade`) runs any
//! stream protocol, TLS included, unchanged.
//!
//! ```
//! use strata::http::{HttpExchange, Service};
//! use strata::{StreamProtocol, StreamTransport};
//!
//! /// Answers every request with its body, upper-cased.
//! struct Shout;
//! impl StreamProtocol for Shout {
//!     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
//!         let head = http::Response::builder().status(200).body(()).unwrap();
//!         t.send_response(head).expect("an HTTP transport");
//!     }
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
//!         t.write(&data.to_ascii_uppercase());
//!     }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
//!         t.close();
//!     }
//! }
//! let service = |_req: &http::request::Parts| Box::new(Shout) as Box<dyn StreamProtocol>;
//! # fn takes<S: Service>(_: S) {}
//! takes(service);
//! ```
//!
//! # Tunnels
//!
//! A client opens one with a `CONNECT` request: an RFC 8441 extended CONNECT
//! carries a [`Protocol`] in the request's extensions (its `:protocol`; on
//! HTTP/1.1 the same extension is an `Upgrade` token) and needs HTTP/2, so in
//! cleartext give [`HttpClient::new`] [`VersionChoice::Http2`] (h2c with prior
//! knowledge); over TLS offer [`VersionChoice::alpn`]. A classic CONNECT
//! names only `host:port`. On the server the [`Service`] sees the method and
//! the [`Protocol`]; the request protocol accepts with a `2xx`
//! [`send_response`](HttpExchange::send_response) and from then on reads and
//! writes the tunnel's bytes. The server announces extended CONNECT with
//! [`h2::H2Config::enable_connect_protocol`] (on by default).
//! `docs/http.md`, section "Tunnels", has a client and a server that run.
//!
//! ```
//! use strata::http::{HttpClient, Protocol, VersionChoice};
//! # struct P;
//! # impl strata::StreamProtocol for P {
//! #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
//! #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
//! # }
//! let mut req = http::Request::connect("http://localhost/chat").body(()).unwrap();
//! req.extensions_mut().insert(Protocol("websocket".into()));
//! let _client = HttpClient::new(req, Box::new(P), VersionChoice::Http2);
//! ```
use std::sync::Arc;

use crate::{Control, StreamProtocol, StreamTransport};

mod client;
pub mod h1;
pub mod h2;
pub mod h3;
pub mod hpack;
pub mod qpack;
mod server;
pub mod ws;

pub use client::{HttpClient, VersionChoice};
pub use server::{HttpConfig, HttpServer, DEFAULT_DETECT_TIMEOUT};

pub use ::http::{
    request, response, HeaderMap, Method, Request, Response, StatusCode, Uri, Version,
};

/// The application side of an HTTP server: makes one request protocol per
/// request, from the request head. Shared by every connection of a listener,
/// so it is `Send + Sync`; per-request state lives in the protocol it returns.
///
/// Any `Fn(&request::Parts) -> Box<dyn StreamProtocol>` is a service.
///
/// ```
/// use strata::http::Service;
/// use strata::{StreamProtocol, StreamTransport};
/// struct Ignore;
/// impl StreamProtocol for Ignore {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let s = |_req: &http::request::Parts| Box::new(Ignore) as Box<dyn StreamProtocol>;
/// let req = http::Request::get("/").body(()).unwrap().into_parts().0;
/// let _protocol = s.call(&req);
/// ```
pub trait Service: Send + Sync + 'static {
    /// A new request arrived; `req` is its head. The returned protocol gets
    /// `connection_made` at once, with the request's transport.
    ///
    /// ```
    /// use strata::http::Service;
    /// use strata::{StreamProtocol, StreamTransport};
    /// struct Path(String);
    /// impl StreamProtocol for Path {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let svc = |req: &http::request::Parts| Box::new(Path(req.uri.path().into())) as Box<dyn StreamProtocol>;
    /// let req = http::Request::get("/a").body(()).unwrap().into_parts().0;
    /// let _one = svc.call(&req); // one protocol per request
    /// let _two = svc.call(&req);
    /// ```
    fn call(&self, req: &request::Parts) -> Box<dyn StreamProtocol>;
}

impl<F> Service for F
where
    F: Fn(&request::Parts) -> Box<dyn StreamProtocol> + Send + Sync + 'static,
{
    fn call(&self, req: &request::Parts) -> Box<dyn StreamProtocol> {
        self(req)
    }
}

/// A service shared between connections.
///
/// ```
/// use std::sync::Arc;
/// use strata::http::{Service, SharedService};
/// use strata::{StreamProtocol, StreamTransport};
/// struct Nop;
/// impl StreamProtocol for Nop {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let svc: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Nop) as Box<dyn StreamProtocol>);
/// let for_another_connection = svc.clone();
/// assert_eq!(Arc::strong_count(&for_another_connection), 2);
/// ```
pub type SharedService = Arc<dyn Service>;

/// Capability: the head of the request this exchange serves (on a server)
/// or sent (on a client).
///
/// ```
/// use strata::http::RequestHead;
/// let head = RequestHead(http::Request::get("/x").body(()).unwrap().into_parts().0);
/// assert_eq!(head.0.uri.path(), "/x");
/// ```
#[derive(Debug)]
pub struct RequestHead(
    /// The method, URI, version and headers.
    pub request::Parts,
);

/// Capability on a client exchange: the final response head, once it has
/// arrived (before the first `data_received`, or before `eof_received` for a
/// response without a body).
///
/// ```
/// use strata::http::ResponseHead;
/// let head = ResponseHead(http::Response::builder().status(404).body(()).unwrap().into_parts().0);
/// assert_eq!(head.0.status, 404);
/// ```
#[derive(Debug)]
pub struct ResponseHead(
    /// The status, version and headers.
    pub response::Parts,
);

/// Capability: the trailers that ended the peer's body, once received.
///
/// ```
/// use strata::http::Trailers;
/// let t = Trailers(http::HeaderMap::new());
/// assert!(t.0.is_empty());
/// ```
#[derive(Debug)]
pub struct Trailers(
    /// The trailer fields.
    pub HeaderMap,
);

/// Capability: the HTTP version of the exchange.
///
/// ```
/// use strata::http::HttpVersion;
/// assert_eq!(HttpVersion(http::Version::HTTP_2).0, http::Version::HTTP_2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpVersion(
    /// The version.
    pub Version,
);

/// Extension in a request's `extensions`: the `:protocol` pseudo-header of
/// an RFC 8441 extended CONNECT (`websocket`, or any tunnel name), or the
/// token of an HTTP/1.1 `Upgrade` request.
///
/// A client puts it in the request it gives [`HttpClient`] (see the
/// [module docs](self#tunnels)); a server's [`Service`] finds it in
/// `req.extensions`.
///
/// ```
/// use strata::http::Protocol;
/// let p = Protocol("websocket".into());
/// assert_eq!(p.0, "websocket");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol(
    /// The value of the `:protocol` pseudo-header (`websocket`).
    pub String,
);

/// The control request ([`Control`]) an HTTP exchange's transport answers
/// in [`StreamTransport::control`], with `Result<(), HttpError>`. Use
/// [`HttpExchange`] rather than sending these by hand; a transport that
/// stands in for an exchange (a test double) answers them with
/// [`Call::answer`](crate::Call::answer).
///
/// ```
/// use strata::http::{HttpControl, HttpError, HttpExchange};
/// use strata::{Call, Introspect, StreamTransport, Wake, testing::MemoryTransport};
///
/// /// An exchange double that refuses every trailer.
/// struct NoTrailers(MemoryTransport);
/// impl Introspect for NoTrailers {
///     fn name(&self) -> &'static str { "no-trailers" }
///     fn below(&self) -> Option<&dyn Introspect> { Some(&self.0) }
/// }
/// impl StreamTransport for NoTrailers {
///     fn write(&mut self, data: &[u8]) { self.0.write(data) }
///     fn write_eof(&mut self) { self.0.write_eof() }
///     fn close(&mut self) { self.0.close() }
///     fn abort(&mut self, why: strata::Close) { self.0.abort(why) }
///     fn pause_reading(&mut self) {}
///     fn resume_reading(&mut self) {}
///     fn buffered(&self) -> usize { 0 }
///     fn writable(&self) -> bool { true }
///     fn now(&self) -> std::time::Instant { self.0.now() }
///     fn waker(&self) -> Wake { self.0.waker() }
///     fn control(&mut self, mut call: Call<'_>) {
///         call.answer(|m: HttpControl| match m {
///             HttpControl::Trailers(_) => Err(HttpError::BodyEnded),
///             _ => Ok(()),
///         });
///     }
/// }
///
/// let mut t = NoTrailers(MemoryTransport::new());
/// let t: &mut dyn StreamTransport = &mut t;
/// assert_eq!(t.send_trailers(Default::default()), Err(HttpError::BodyEnded));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpControl {
    /// A response head: a final one (2xx to 5xx), or an informational 1xx
    /// that may precede it (HTTP/1.1 `101 Switching Protocols` turns the
    /// connection into a tunnel to this protocol).
    Respond(response::Parts),
    /// Trailers; they end the body (no writes may follow).
    Trailers(HeaderMap),
}

/// Why an HTTP action on a transport was refused.
///
/// ```
/// use strata::http::HttpError;
/// assert_eq!(HttpError::HeadAlreadySent.to_string(), "the response head was already sent");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The transport is not an HTTP exchange (or not the right side of one).
    #[error("the transport below is not an HTTP exchange")]
    NotHttp,
    /// The response head was already sent (or body bytes were written, which
    /// sends a default `200` head first).
    #[error("the response head was already sent")]
    HeadAlreadySent,
    /// The body has ended; nothing more can be sent.
    #[error("the body has already ended")]
    BodyEnded,
}

/// Actions on an HTTP exchange, reached through any `dyn StreamTransport`
/// an HTTP layer hands to a request protocol.
///
/// Writing body bytes before [`send_response`](HttpExchange::send_response)
/// sends a default `200 OK` head with no content length (chunked on
/// HTTP/1.1).
///
/// ```
/// use strata::http::{HttpExchange, HttpError};
/// use strata::{StreamTransport, testing::MemoryTransport};
/// let mut t = MemoryTransport::new();
/// let t: &mut dyn StreamTransport = &mut t;
/// let head = http::Response::builder().status(204).body(()).unwrap();
/// assert_eq!(t.send_response(head), Err(HttpError::NotHttp));
/// ```
pub trait HttpExchange {
    /// Sends a response head (a final one, or an informational 1xx).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::http::{HttpConfig, HttpServer};
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # fn serve(p: fn() -> Box<dyn StreamProtocol>, req: &[u8]) -> String {
    /// #     let svc = Arc::new(move |_: &http::request::Parts| p());
    /// #     let mut s = Stack::memory(Box::new(HttpServer::new(svc, HttpConfig::default())));
    /// #     let now = s.now();
    /// #     s.handle_input(now, req);
    /// #     String::from_utf8(s.take_output(now)).unwrap()
    /// # }
    /// use strata::http::HttpExchange;
    /// struct NoContent;
    /// impl StreamProtocol for NoContent {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
    ///         t.send_response(http::Response::builder().status(204).body(()).unwrap()).unwrap();
    ///         t.close();
    ///     }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let out = serve(|| Box::new(NoContent), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// assert!(out.starts_with("HTTP/1.1 204"), "{out}");
    /// ```
    fn send_response(&mut self, head: Response<()>) -> Result<(), HttpError>;
    /// Sends trailers, which end the body.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::http::{HttpConfig, HttpServer};
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # fn serve(p: fn() -> Box<dyn StreamProtocol>, req: &[u8]) -> String {
    /// #     let svc = Arc::new(move |_: &http::request::Parts| p());
    /// #     let mut s = Stack::memory(Box::new(HttpServer::new(svc, HttpConfig::default())));
    /// #     let now = s.now();
    /// #     s.handle_input(now, req);
    /// #     String::from_utf8(s.take_output(now)).unwrap()
    /// # }
    /// use strata::http::{HeaderMap, HttpExchange};
    /// struct WithTrailer;
    /// impl StreamProtocol for WithTrailer {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    ///         t.write(b"body");
    ///         let mut trailers = HeaderMap::new();
    ///         trailers.insert("x-checksum", "42".parse().unwrap());
    ///         t.send_trailers(trailers).unwrap();
    ///         t.close();
    ///     }
    /// }
    /// let out = serve(|| Box::new(WithTrailer), b"GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n");
    /// assert!(out.contains("x-checksum: 42"), "{out}");
    /// ```
    fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), HttpError>;
    /// The request head of this exchange.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::http::{HttpConfig, HttpServer};
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # fn serve(p: fn() -> Box<dyn StreamProtocol>, req: &[u8]) -> String {
    /// #     let svc = Arc::new(move |_: &http::request::Parts| p());
    /// #     let mut s = Stack::memory(Box::new(HttpServer::new(svc, HttpConfig::default())));
    /// #     let now = s.now();
    /// #     s.handle_input(now, req);
    /// #     String::from_utf8(s.take_output(now)).unwrap()
    /// # }
    /// use strata::http::HttpExchange;
    /// struct EchoPath;
    /// impl StreamProtocol for EchoPath {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
    ///         let path = t.request_head().unwrap().uri.path().to_owned();
    ///         t.write(path.as_bytes());
    ///         t.close();
    ///     }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let out = serve(|| Box::new(EchoPath), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    /// assert!(out.contains("/hello"), "{out}");
    /// ```
    fn request_head(&self) -> Option<&request::Parts>;
    /// The response head, on a client exchange, once it has arrived.
    ///
    /// ```
    /// use strata::http::HttpExchange;
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// let t: &mut dyn StreamTransport = &mut t;
    /// assert!(t.response_head().is_none()); // not an HTTP client exchange
    /// ```
    fn response_head(&self) -> Option<&response::Parts>;
}

impl HttpExchange for dyn StreamTransport + '_ {
    fn send_response(&mut self, head: Response<()>) -> Result<(), HttpError> {
        control(self, HttpControl::Respond(head.into_parts().0))
    }
    fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), HttpError> {
        control(self, HttpControl::Trailers(trailers))
    }
    fn request_head(&self) -> Option<&request::Parts> {
        self.get::<RequestHead>().map(|h| &h.0)
    }
    fn response_head(&self) -> Option<&response::Parts> {
        self.get::<ResponseHead>().map(|h| &h.0)
    }
}

/// The typed request behind [`HttpExchange`]: the exchange's transport
/// answers it in [`StreamTransport::control`] with `Ok(())` or the reason it
/// refuses.
impl Control for HttpControl {
    type Reply = Result<(), HttpError>;
}

/// A refused HTTP action is this side's misuse of the exchange, so a
/// protocol that gives up on one can abort with it as it is.
///
/// ```
/// use strata::{AbortReason, Close, Fault, http::HttpError};
/// let why = Close::aborted("app", AbortReason::layer(HttpError::HeadAlreadySent));
/// assert_eq!(why.kind(), Some(Fault::Config));
/// ```
impl crate::LayerError for HttpError {
    fn kind(&self) -> crate::Fault {
        crate::Fault::Config
    }
}

fn control(t: &mut dyn StreamTransport, msg: HttpControl) -> Result<(), HttpError> {
    t.ask(msg).unwrap_or(Err(HttpError::NotHttp))
}
