//! HTTP/1.1 (RFC 9112) as layers: [`H1Server`] serves requests to a
//! [`Service`](crate::http::Service), [`H1Client`] sends one request and
//! hands the response to a stream protocol.
//!
//! Both are stream protocols to the connection's transport (TCP, TLS, a
//! tunnel...) and present a transport named `http1` to the protocol of the
//! exchange: the same handler serves HTTP/1.1 and HTTP/2, through
//! [`HttpExchange`](crate::http::HttpExchange).
//!
//! # Driving contract (server)
//!
//! `H1Server` follows the [stream contract](crate::stream): it owns the
//! request protocol of the current exchange, calls it with a short-lived
//! view, and runs its own settle step after every call and every input.
//!
//! * **Requests.** A head is parsed once complete (httparse), refused past
//!   [`H1Config::max_head_bytes`] or [`H1Config::max_headers`], and turned
//!   into `http::request::Parts` (method, target as sent, version 1.0 or 1.1,
//!   fields; the `Host` of an absolute-form target replaces the field; an
//!   HTTP/1.1 request needs exactly one valid `Host`; an `Upgrade` token is
//!   put in the extensions as [`Protocol`](crate::http::Protocol)). The
//!   service makes the request protocol, which gets `connection_made` with
//!   the exchange's view at once.
//! * **Request bodies** (content-length or chunked, RFC 9112 §6.3; TE with
//!   CL, differing CLs, a TE not ending in chunked, TE on HTTP/1.0 are
//!   refused) arrive as `data_received`, then `eof_received` at their end;
//!   a request without a body gets `eof_received` right after
//!   `connection_made`. Trailers become the [`Trailers`](crate::http::Trailers)
//!   capability before `eof_received`.
//! * **Responses.** `send_response` (through `control`) sends a final head
//!   or a 1xx; body bytes written before it send a default `200`. The body
//!   is framed by the head's `Content-Length` when it has one, else chunked
//!   (HTTP/1.1) or ended by the close (HTTP/1.0). HEAD, 204 and 304 carry
//!   no body whatever is written. `close` and `write_eof` end the response
//!   (`0\r\n\r\n` when chunked); `send_trailers` ends it with trailers.
//!   `abort` closes the whole connection: HTTP/1.1 cannot reset one request.
//! * **End of an exchange.** After `close`, or after `write_eof`/trailers and
//!   the request body's `eof_received`, the request protocol gets
//!   `connection_lost(Close::Done)`. A request body the handler left unread
//!   is read and discarded up to [`H1Config::max_discard_bytes`], else the
//!   connection closes after the response.
//! * **Keep-alive and pipelining.** HTTP/1.1 keeps the connection by default,
//!   HTTP/1.0 with `Connection: keep-alive`; `Connection: close` from either
//!   side is honoured. Pipelined requests are answered in order, one
//!   exchange at a time: the next one starts when the current one is over
//!   and the output below is writable. Input waiting meanwhile is held, and
//!   past [`H1Config::max_pipelined_bytes`] reading below is paused. Once
//!   the connection is closing, input is read and dropped, so a peer still
//!   sending sees the response rather than a reset for unread data.
//! * **`Expect: 100-continue`.** `100 Continue` goes out when the request
//!   protocol first wants the body: when it has neither sent a final head nor
//!   paused reading after a callback, or when it sends a final `2xx` head
//!   while the body is still to come and it is not paused (it streams its
//!   answer from the body: the `100` goes first, the connection stays
//!   reusable). Any other final head sent first skips the `100` and the
//!   connection closes after the response.
//! * **Tunnels.** A `101` to a request with `Upgrade` (once its body is in),
//!   or a 2xx to CONNECT, turns the connection into raw bytes between the
//!   peer and the exchange's protocol: input after the head is
//!   `data_received`, writes go out unframed, `write_eof`/`close` are the
//!   connection's, the peer's EOF is `eof_received`.
//! * **Bad input** gets the status of its [`H1Error`] (400, 408, 413, 431,
//!   501, 505) with `Connection: close` when no response head was sent yet;
//!   else the connection closes without ending a chunked or length-framed
//!   response (the peer sees it cut, and no reset loses what was sent) or is
//!   aborted (a body timeout, a close-delimited response). It is logged at
//!   debug level, and the exchange's protocol gets `Close::Aborted { layer:
//!   "http1", reason: AbortReason::Layer(H1Error) }` (a body timeout:
//!   `Close::Timeout(Timeout::Body)`). A first byte that cannot start a
//!   method is refused at once. Nothing panics on peer input and memory
//!   stays within the [`H1Config`] bounds.
//! * **Read pause.** `pause_reading` on the view stops the body (or tunnel
//!   bytes) and pauses reading below until `resume_reading`.
//! * **Write back-pressure.** `pause_writing`/`resume_writing` from below
//!   reach the current request protocol; `writable()` is false once the
//!   response has ended or the stack below is full. No new exchange starts
//!   while the stack below is full.
//! * **Time.** Every phase has a deadline. [`H1Config::head_timeout`] runs
//!   from the first byte of a head to its end (`408`, then close), and for
//!   the first request of a connection from the connection's start (no
//!   byte by then: closed quietly); [`H1Config::keep_alive_timeout`] closes
//!   a connection idle between requests; [`H1Config::body_timeout`] and
//!   [`H1Config::min_body_rate`] bound a request body that stops or
//!   trickles (`408` or an abort, `Close::Timeout(Timeout::Body)` to the
//!   handler); [`H1Config::stall_timeout`] aborts a connection whose peer
//!   reads none of our output (`Close::Timeout(Timeout::Stall)`);
//!   [`H1Config::drain_timeout`] bounds the exchange still running after
//!   `on_shutdown` (`Close::Timeout(Timeout::Drain)`).
//!   `next_deadline` is the earliest of those and the request protocol's.
//! * **Wakes.** The view's waker routes to the exchange by its number on the
//!   connection, so a wake from a finished exchange never reaches a later
//!   one.
//! * **Shutdown.** `on_shutdown` lets the current exchange finish (its
//!   response says `Connection: close` if its head is still to come), takes
//!   no new request, then closes; a tunnel's protocol gets `on_shutdown`.
//! * **Capabilities.** The view answers [`RequestHead`](crate::http::RequestHead),
//!   [`HttpVersion`](crate::http::HttpVersion) and, once received,
//!   [`Trailers`](crate::http::Trailers); every other lookup walks below
//!   (`layer_chain()` is `["http1", ...]`), so TLS details and addresses are
//!   found as usual.
//!
//! ```
//! use std::sync::Arc;
//! use strata::http::h1::{H1Config, H1Server};
//! use strata::http::{HttpExchange, SharedService};
//! use strata::{Stack, StreamProtocol, StreamTransport};
//!
//! /// Echoes the request body as a chunked response.
//! struct Echo;
//! impl StreamProtocol for Echo {
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
//!         t.write(data);
//!     }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
//!         t.close();
//!     }
//! }
//! let service: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Echo) as Box<dyn StreamProtocol>);
//! let server = H1Server::new(service, Arc::new(H1Config::default()));
//! let mut s = Stack::memory(Box::new(server));
//! let now = s.now();
//! s.handle_input(now, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nping");
//! assert_eq!(
//!     s.take_output(now),
//!     b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nping\r\n0\r\n\r\n"
//! );
//! ```

mod body;
mod client;
mod client_view;
mod config;
mod error;
mod server;
mod server_view;
mod wire;

pub use client::H1Client;
pub use config::{
    H1Config, DEFAULT_BODY_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEAD_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_MAX_CHUNK_LINE, DEFAULT_MAX_DISCARD_BYTES,
    DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_PIPELINED_BYTES,
    DEFAULT_MAX_TRAILER_BYTES, DEFAULT_MIN_BODY_RATE, DEFAULT_STALL_TIMEOUT,
};
pub use error::H1Error;
pub use server::H1Server;

/// The layer name of the HTTP/1.1 views, as in `layer_chain()` and in
/// `Close::Aborted { layer, .. }`.
pub const H1: &str = "http1";
