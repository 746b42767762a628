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
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h3::{H3Client, H3Config, H3Server};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::quic::*;
    /// # use strata::testing::{LinkConfig, SimNet};
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{Close, StreamProtocol, StreamTransport, WakeRoute};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("https://localhost{path}")).body(()).unwrap()
    /// # }
    /// # // An app around `A` that calls `after(app, connection, event)` after each event.
    /// # type After<A> = Box<dyn FnMut(&mut A, &mut dyn QuicConnection, &str) + Send>;
    /// # struct Watch<A>(A, After<A>);
    /// # impl<A: QuicApp> Watch<A> {
    /// #     fn new(app: A, after: impl FnMut(&mut A, &mut dyn QuicConnection, &str) + Send + 'static) -> Self {
    /// #         Watch(app, Box::new(after))
    /// #     }
    /// #     fn after(&mut self, c: &mut dyn QuicConnection, ev: &str) { (self.1)(&mut self.0, c, ev) }
    /// # }
    /// # impl<A: QuicApp> QuicApp for Watch<A> {
    /// #     fn connection_made(&mut self, c: &mut dyn QuicConnection) { self.0.connection_made(c); self.after(c, "made") }
    /// #     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_opened(c, id); self.after(c, "opened") }
    /// #     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, d: &[u8]) { self.0.stream_data(c, id, d); self.after(c, "data") }
    /// #     fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_finished(c, id); self.after(c, "fin") }
    /// #     fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_reset(c, id, e); self.after(c, "reset") }
    /// #     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_stopped(c, id, e); self.after(c, "stopped") }
    /// #     fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_acked(c, id); self.after(c, "acked") }
    /// #     fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_writable(c, id); self.after(c, "writable") }
    /// #     fn streams_available(&mut self, c: &mut dyn QuicConnection, d: Dir) { self.0.streams_available(c, d); self.after(c, "available") }
    /// #     fn datagram_received(&mut self, c: &mut dyn QuicConnection, d: &[u8]) { self.0.datagram_received(c, d); self.after(c, "datagram") }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.0.next_deadline() }
    /// #     fn on_deadline(&mut self, c: &mut dyn QuicConnection) { self.0.on_deadline(c); self.after(c, "deadline") }
    /// #     fn on_wake_at(&mut self, c: &mut dyn QuicConnection, r: WakeRoute<'_>) { self.0.on_wake_at(c, r); self.after(c, "wake") }
    /// #     fn on_shutdown(&mut self, c: &mut dyn QuicConnection) { self.0.on_shutdown(c); self.after(c, "shutdown") }
    /// #     fn connection_lost(&mut self, why: &Close) { self.0.connection_lost(why) }
    /// # }
    /// # const SERVER: &str = "10.0.0.2:4433";
    /// # // Runs `client` against a server that runs `server()` on each connection,
    /// # // with ALPN h3, over a simulated 10 ms link, for 5 simulated seconds.
    /// # fn run<S: QuicApp + 'static>(
    /// #     server: impl Fn() -> S + Send + Sync + 'static,
    /// #     client: impl QuicApp + 'static,
    /// # ) -> SimNet {
    /// #     let tls = ServerTls::new(&Identity::localhost().unwrap()).alpn(["h3"]).build_rustls().unwrap();
    /// #     let apps: AppFactory = Arc::new(move |_| Some(Box::new(server()) as Box<dyn QuicApp>));
    /// #     let srv = QuicServer::new(QuicConfig::default(), Arc::new(tls), apps).unwrap();
    /// #     let (tls, _) = ClientTls::new("localhost").unwrap().insecure().alpn(["h3"]).build_rustls().unwrap();
    /// #     let at = SERVER.parse().unwrap();
    /// #     let cli = QuicClient::new(QuicConfig::default(), Arc::new(tls), "localhost", at, Box::new(client)).unwrap();
    /// #     let mut net = SimNet::new(1);
    /// #     let s = net.add_node(at, Box::new(srv));
    /// #     let c = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(cli));
    /// #     net.link_both(c, s, LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() });
    /// #     net.run(Duration::from_secs(5));
    /// #     net
    /// # }
    /// let (tx, rx) = mpsc::channel();
    /// let cfg = H3Config::default();
    /// run(move || H3Server::new(hello(), cfg.clone()), H3Client::request(req("/"), get(&tx), H3Config::default()));
    /// assert_eq!(rx.try_recv(), Ok((200, "hello".into())));
    /// ```
    pub fn new(service: SharedService, cfg: H3Config) -> H3Server {
        H3Server {
            conn: Conn::new(Role::Server(service), cfg),
        }
    }

    /// Request streams open now (for tests and metrics).
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h3::{H3Client, H3Config, H3Server};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::quic::*;
    /// # use strata::testing::{LinkConfig, SimNet};
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{Close, StreamProtocol, StreamTransport, WakeRoute};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("https://localhost{path}")).body(()).unwrap()
    /// # }
    /// # // An app around `A` that calls `after(app, connection, event)` after each event.
    /// # type After<A> = Box<dyn FnMut(&mut A, &mut dyn QuicConnection, &str) + Send>;
    /// # struct Watch<A>(A, After<A>);
    /// # impl<A: QuicApp> Watch<A> {
    /// #     fn new(app: A, after: impl FnMut(&mut A, &mut dyn QuicConnection, &str) + Send + 'static) -> Self {
    /// #         Watch(app, Box::new(after))
    /// #     }
    /// #     fn after(&mut self, c: &mut dyn QuicConnection, ev: &str) { (self.1)(&mut self.0, c, ev) }
    /// # }
    /// # impl<A: QuicApp> QuicApp for Watch<A> {
    /// #     fn connection_made(&mut self, c: &mut dyn QuicConnection) { self.0.connection_made(c); self.after(c, "made") }
    /// #     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_opened(c, id); self.after(c, "opened") }
    /// #     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, d: &[u8]) { self.0.stream_data(c, id, d); self.after(c, "data") }
    /// #     fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_finished(c, id); self.after(c, "fin") }
    /// #     fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_reset(c, id, e); self.after(c, "reset") }
    /// #     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_stopped(c, id, e); self.after(c, "stopped") }
    /// #     fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_acked(c, id); self.after(c, "acked") }
    /// #     fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_writable(c, id); self.after(c, "writable") }
    /// #     fn streams_available(&mut self, c: &mut dyn QuicConnection, d: Dir) { self.0.streams_available(c, d); self.after(c, "available") }
    /// #     fn datagram_received(&mut self, c: &mut dyn QuicConnection, d: &[u8]) { self.0.datagram_received(c, d); self.after(c, "datagram") }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.0.next_deadline() }
    /// #     fn on_deadline(&mut self, c: &mut dyn QuicConnection) { self.0.on_deadline(c); self.after(c, "deadline") }
    /// #     fn on_wake_at(&mut self, c: &mut dyn QuicConnection, r: WakeRoute<'_>) { self.0.on_wake_at(c, r); self.after(c, "wake") }
    /// #     fn on_shutdown(&mut self, c: &mut dyn QuicConnection) { self.0.on_shutdown(c); self.after(c, "shutdown") }
    /// #     fn connection_lost(&mut self, why: &Close) { self.0.connection_lost(why) }
    /// # }
    /// # const SERVER: &str = "10.0.0.2:4433";
    /// # // Runs `client` against a server that runs `server()` on each connection,
    /// # // with ALPN h3, over a simulated 10 ms link, for 5 simulated seconds.
    /// # fn run<S: QuicApp + 'static>(
    /// #     server: impl Fn() -> S + Send + Sync + 'static,
    /// #     client: impl QuicApp + 'static,
    /// # ) -> SimNet {
    /// #     let tls = ServerTls::new(&Identity::localhost().unwrap()).alpn(["h3"]).build_rustls().unwrap();
    /// #     let apps: AppFactory = Arc::new(move |_| Some(Box::new(server()) as Box<dyn QuicApp>));
    /// #     let srv = QuicServer::new(QuicConfig::default(), Arc::new(tls), apps).unwrap();
    /// #     let (tls, _) = ClientTls::new("localhost").unwrap().insecure().alpn(["h3"]).build_rustls().unwrap();
    /// #     let at = SERVER.parse().unwrap();
    /// #     let cli = QuicClient::new(QuicConfig::default(), Arc::new(tls), "localhost", at, Box::new(client)).unwrap();
    /// #     let mut net = SimNet::new(1);
    /// #     let s = net.add_node(at, Box::new(srv));
    /// #     let c = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(cli));
    /// #     net.link_both(c, s, LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() });
    /// #     net.run(Duration::from_secs(5));
    /// #     net
    /// # }
    /// /// Reads the request and never answers.
    /// struct Mute;
    /// impl StreamProtocol for Mute {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// }
    /// let mute: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Mute) as Box<dyn StreamProtocol>);
    /// let (counts, seen) = mpsc::channel();
    /// let server = move || {
    ///     let counts = counts.clone();
    ///     Watch::new(H3Server::new(mute.clone(), H3Config::default()), move |s: &mut H3Server, _, _| {
    ///         counts.send(s.open_streams()).unwrap();
    ///     })
    /// };
    /// let (tx, _rx) = mpsc::channel();
    /// run(server, H3Client::request(req("/"), get(&tx), H3Config::default()));
    /// assert_eq!(seen.try_iter().last(), Some(1), "the request stays open");
    /// ```
    pub fn open_streams(&self) -> usize {
        self.conn.open_streams()
    }

    /// Starts a graceful shutdown: GOAWAY naming the first request we will
    /// not serve; requests in flight get
    /// [`H3Config::drain_timeout`] to finish, then the connection closes.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h3::{H3Client, H3Config, H3Server};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::quic::*;
    /// # use strata::testing::{LinkConfig, SimNet};
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{Close, StreamProtocol, StreamTransport, WakeRoute};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("https://localhost{path}")).body(()).unwrap()
    /// # }
    /// # // An app around `A` that calls `after(app, connection, event)` after each event.
    /// # type After<A> = Box<dyn FnMut(&mut A, &mut dyn QuicConnection, &str) + Send>;
    /// # struct Watch<A>(A, After<A>);
    /// # impl<A: QuicApp> Watch<A> {
    /// #     fn new(app: A, after: impl FnMut(&mut A, &mut dyn QuicConnection, &str) + Send + 'static) -> Self {
    /// #         Watch(app, Box::new(after))
    /// #     }
    /// #     fn after(&mut self, c: &mut dyn QuicConnection, ev: &str) { (self.1)(&mut self.0, c, ev) }
    /// # }
    /// # impl<A: QuicApp> QuicApp for Watch<A> {
    /// #     fn connection_made(&mut self, c: &mut dyn QuicConnection) { self.0.connection_made(c); self.after(c, "made") }
    /// #     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_opened(c, id); self.after(c, "opened") }
    /// #     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, d: &[u8]) { self.0.stream_data(c, id, d); self.after(c, "data") }
    /// #     fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_finished(c, id); self.after(c, "fin") }
    /// #     fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_reset(c, id, e); self.after(c, "reset") }
    /// #     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_stopped(c, id, e); self.after(c, "stopped") }
    /// #     fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_acked(c, id); self.after(c, "acked") }
    /// #     fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_writable(c, id); self.after(c, "writable") }
    /// #     fn streams_available(&mut self, c: &mut dyn QuicConnection, d: Dir) { self.0.streams_available(c, d); self.after(c, "available") }
    /// #     fn datagram_received(&mut self, c: &mut dyn QuicConnection, d: &[u8]) { self.0.datagram_received(c, d); self.after(c, "datagram") }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.0.next_deadline() }
    /// #     fn on_deadline(&mut self, c: &mut dyn QuicConnection) { self.0.on_deadline(c); self.after(c, "deadline") }
    /// #     fn on_wake_at(&mut self, c: &mut dyn QuicConnection, r: WakeRoute<'_>) { self.0.on_wake_at(c, r); self.after(c, "wake") }
    /// #     fn on_shutdown(&mut self, c: &mut dyn QuicConnection) { self.0.on_shutdown(c); self.after(c, "shutdown") }
    /// #     fn connection_lost(&mut self, why: &Close) { self.0.connection_lost(why) }
    /// # }
    /// # const SERVER: &str = "10.0.0.2:4433";
    /// # // Runs `client` against a server that runs `server()` on each connection,
    /// # // with ALPN h3, over a simulated 10 ms link, for 5 simulated seconds.
    /// # fn run<S: QuicApp + 'static>(
    /// #     server: impl Fn() -> S + Send + Sync + 'static,
    /// #     client: impl QuicApp + 'static,
    /// # ) -> SimNet {
    /// #     let tls = ServerTls::new(&Identity::localhost().unwrap()).alpn(["h3"]).build_rustls().unwrap();
    /// #     let apps: AppFactory = Arc::new(move |_| Some(Box::new(server()) as Box<dyn QuicApp>));
    /// #     let srv = QuicServer::new(QuicConfig::default(), Arc::new(tls), apps).unwrap();
    /// #     let (tls, _) = ClientTls::new("localhost").unwrap().insecure().alpn(["h3"]).build_rustls().unwrap();
    /// #     let at = SERVER.parse().unwrap();
    /// #     let cli = QuicClient::new(QuicConfig::default(), Arc::new(tls), "localhost", at, Box::new(client)).unwrap();
    /// #     let mut net = SimNet::new(1);
    /// #     let s = net.add_node(at, Box::new(srv));
    /// #     let c = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(cli));
    /// #     net.link_both(c, s, LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() });
    /// #     net.run(Duration::from_secs(5));
    /// #     net
    /// # }
    /// /// Starts draining as soon as the first request arrives.
    /// let server = || Watch::new(H3Server::new(hello(), H3Config::default()), |s: &mut H3Server, c, ev| {
    ///     if ev == "opened" { s.shutdown(c) }
    /// });
    /// let (tx, rx) = mpsc::channel();
    /// let client = H3Client::request(req("/"), get(&tx), H3Config::default());
    /// let (lost_tx, lost) = mpsc::channel();
    /// struct Lost(H3Client, mpsc::Sender<Close>);
    /// # impl QuicApp for Lost {
    /// #     fn connection_made(&mut self, c: &mut dyn QuicConnection) { self.0.connection_made(c) }
    /// #     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_opened(c, id) }
    /// #     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, d: &[u8]) { self.0.stream_data(c, id, d) }
    /// #     fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_finished(c, id) }
    /// #     fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_reset(c, id, e) }
    /// #     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.0.stream_stopped(c, id, e) }
    /// #     fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_acked(c, id) }
    /// #     fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.0.stream_writable(c, id) }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.0.next_deadline() }
    /// #     fn on_deadline(&mut self, c: &mut dyn QuicConnection) { self.0.on_deadline(c) }
    /// #     fn on_wake_at(&mut self, c: &mut dyn QuicConnection, r: WakeRoute<'_>) { self.0.on_wake_at(c, r) }
    /// #     fn connection_lost(&mut self, why: &Close) { self.0.connection_lost(why); self.1.send(why.clone()).unwrap() }
    /// # }
    /// run(server, Lost(client, lost_tx));
    /// // The request in flight was served, then the server closed the connection.
    /// assert_eq!(rx.try_recv(), Ok((200, "hello".into())));
    /// let why = lost.try_recv().unwrap();
    /// assert!(why.to_string().contains("0x100"), "H3_NO_ERROR: {why}");
    /// ```
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
