//! [`H3Server`]: HTTP/3 requests served by the same [`Service`](crate::http::Service)
//! as HTTP/1.1 and HTTP/2.

use super::conn::{Conn, Role};
use super::quic_api::{Dir, QuicApp, QuicConnection, StreamId};
use super::H3Config;
use crate::http::SharedService;

/// The server side of an HTTP/3 connection (RFC 9114), a
/// [`QuicApp`] for the QUIC layer's connections with ALPN `h3`.
///
/// Each request stream's head (QPACK-decoded, checked as RFC 9114 §4.3
/// asks) goes to the [`Service`](crate::http::Service), whose protocol sees
/// the stream as its transport, exactly as under
/// [`HttpServer`](crate::http::HttpServer): the body arrives as
/// `data_received`/`eof_received`, the response head goes out with
/// [`HttpExchange::send_response`](crate::http::HttpExchange), `write`
/// sends DATA frames, `close` ends the response (trailers with
/// `send_trailers`), `abort` resets the stream (H3_REQUEST_CANCELLED, or
/// the code of an [`H3Error`](super::H3Error) it carries). Extended CONNECT
/// (RFC 9220) tunnels any stream protocol after a `2xx`.
///
/// Back-pressure: a protocol that pauses reading stops QUIC delivering its
/// stream (its flow-control window closes); a stream whose queued output
/// passes [`H3Config::stream_send_buffer`] is not `writable()` and gets
/// `pause_writing`, then `resume_writing` once QUIC took it.
///
/// The driving contract is [`QuicApp`]'s: after every call the connection
/// runs its settle step (held input, QPACK-unblocked sections, write edges,
/// finished streams, a connection error's close).
///
/// ```
/// use std::sync::Arc;
/// use strata::http::h3::{H3Config, H3Server};
/// use strata::quic::{AppFactory, QuicApp};
/// use strata::{StreamProtocol, StreamTransport};
/// struct Hello;
/// impl StreamProtocol for Hello {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
/// }
/// let service = Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>);
/// let apps: AppFactory = Arc::new(move |alpn| match alpn {
///     Some(b"h3") => Some(Box::new(H3Server::new(service.clone(), H3Config::default())) as Box<dyn QuicApp>),
///     _ => None,
/// });
/// assert!(apps(Some(b"h3")).is_some());
/// ```
pub struct H3Server {
    conn: Conn,
}

impl H3Server {
    /// A server connection serving `service`.
    pub fn new(service: SharedService, cfg: H3Config) -> H3Server {
        H3Server {
            conn: Conn::new(Role::Server(service), cfg),
        }
    }

    /// Request streams open now (for tests and metrics).
    pub fn open_streams(&self) -> usize {
        self.conn.open_streams()
    }

    /// Starts a graceful shutdown: GOAWAY naming the first request we will
    /// not serve; requests in flight get
    /// [`H3Config::drain_timeout`] to finish, then the connection closes.
    pub fn shutdown(&mut self, c: &mut dyn QuicConnection) {
        self.conn.goaway(c);
        self.conn.settle(c);
    }
}

impl QuicApp for H3Server {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.conn.settle(c);
    }
    /// GOAWAY, then a close with H3_NO_ERROR once the requests in flight
    /// are done (or the drain deadline passes).
    fn on_shutdown(&mut self, c: &mut dyn QuicConnection) {
        self.shutdown(c);
    }
    super::conn::app_events_via_conn!();
}
