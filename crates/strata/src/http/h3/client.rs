//! [`H3Client`]: requests over HTTP/3, handed to ordinary stream protocols
//! as [`HttpClient`](crate::http::HttpClient) does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http::request;

use super::conn::{Conn, Role};
use super::quic_api::{Dir, QuicApp, QuicConnection, StreamId};
use super::H3Config;
use crate::{StreamProtocol, Wake};

#[derive(Default)]
pub(super) struct ClientQueue {
    pub(super) pending: VecDeque<(request::Parts, Box<dyn StreamProtocol>)>,
    pub(super) wake: Option<Wake>,
}

/// A handle that queues requests on an [`H3Client`] connection, from the
/// code that built it or from another thread. When every handle is gone
/// and the streams have ended, the client sends GOAWAY and closes the
/// connection (H3_NO_ERROR).
///
/// ```
/// use strata::http::h3::{H3Client, H3Config};
/// let client = H3Client::new(H3Config::default());
/// let requests = client.requests();
/// # struct P;
/// # impl strata::StreamProtocol for P {
/// #     fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) { t.write_eof() }
/// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
/// # }
/// requests.send(http::Request::get("https://localhost/").body(()).unwrap(), Box::new(P));
/// ```
#[derive(Clone)]
pub struct H3Requests {
    q: Arc<Mutex<ClientQueue>>,
}

impl H3Requests {
    /// Queues a request. `proto` gets `connection_made` when its stream
    /// opens; it writes the request body and ends it with `write_eof` (a
    /// request without a body: `write_eof` at once). The response head is
    /// the [`ResponseHead`](crate::http::ResponseHead) capability, present
    /// before the first `data_received` (or `eof_received`). An extended
    /// CONNECT ([`Protocol`](crate::http::Protocol) extension) waits for the
    /// server's SETTINGS and fails with H3_REQUEST_REJECTED if it did not
    /// enable it. A CONNECT's tunnel bytes (what `proto` writes) leave only
    /// after the final response: until then the stream queues them (and
    /// stops being `writable()` past [`H3Config::stream_send_buffer`]), so
    /// an abort can never discard the request head together with them.
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
    /// let client = H3Client::new(H3Config::default());
    /// let requests = client.requests();
    /// let (tx, rx) = mpsc::channel();
    /// requests.send(req("/one"), get(&tx));
    /// requests.send(req("/two"), get(&tx));
    /// drop(requests); // with no handle left, the client closes once both are done
    /// run(|| H3Server::new(hello(), H3Config::default()), client);
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![(200, "hello".to_string()); 2]);
    /// ```
    pub fn send(&self, req: http::Request<()>, proto: Box<dyn StreamProtocol>) {
        let wake = {
            let mut q = self.q.lock().unwrap_or_else(|e| e.into_inner());
            q.pending.push_back((req.into_parts().0, proto));
            q.wake.clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
    }
}

impl std::fmt::Debug for H3Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("H3Requests")
    }
}

/// The client side of an HTTP/3 connection, a [`QuicApp`] for a QUIC
/// client connection with ALPN `h3`. Requests come from
/// [`H3Requests`] handles (or one, from [`H3Client::request`]); each runs
/// on its own stream, its protocol seeing the same
/// [`HttpExchange`](crate::http::HttpExchange) as over HTTP/1.1 and HTTP/2.
///
/// ```
/// use strata::http::h3::{H3Client, H3Config};
/// use strata::{StreamProtocol, StreamTransport};
/// struct Print;
/// impl StreamProtocol for Print {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { print!("{}", String::from_utf8_lossy(d)) }
///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
/// }
/// let req = http::Request::get("https://localhost:8443/").body(()).unwrap();
/// let _app = H3Client::request(req, Box::new(Print), H3Config::default());
/// ```
pub struct H3Client {
    conn: Conn,
    q: std::sync::Weak<Mutex<ClientQueue>>,
}

impl H3Client {
    /// A client connection with no request queued; take handles with
    /// [`requests`](H3Client::requests) before it starts (with none left,
    /// it closes once its streams end).
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
    /// let client = H3Client::new(H3Config::default());
    /// let requests = client.requests(); // taken before the connection starts
    /// let (tx, rx) = mpsc::channel();
    /// // Queues a request once the connection is up (from any thread).
    /// let app = Watch::new(client, move |_, _, ev| if ev == "made" { requests.send(req("/"), get(&tx)) });
    /// run(|| H3Server::new(hello(), H3Config::default()), app);
    /// assert_eq!(rx.try_recv(), Ok((200, "hello".into())));
    /// ```
    pub fn new(cfg: H3Config) -> H3Client {
        let q = Arc::new(Mutex::new(ClientQueue::default()));
        H3Client {
            q: Arc::downgrade(&q),
            conn: Conn::new(Role::Client(q), cfg),
        }
    }

    /// A client connection for one request: it closes once the exchange
    /// is over.
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
    /// let client = H3Client::request(req("/"), get(&tx), H3Config::default());
    /// run(|| H3Server::new(hello(), H3Config::default()), client);
    /// assert_eq!(rx.try_recv(), Ok((200, "hello".into())));
    /// ```
    pub fn request(
        req: http::Request<()>,
        proto: Box<dyn StreamProtocol>,
        cfg: H3Config,
    ) -> H3Client {
        let c = H3Client::new(cfg);
        c.requests().send(req, proto);
        c
    }

    /// A handle that queues requests on this connection.
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
    /// let client = H3Client::new(H3Config::default());
    /// let (a, b) = (client.requests(), client.requests()); // handles share one queue
    /// let (tx, rx) = mpsc::channel();
    /// a.send(req("/a"), get(&tx));
    /// b.send(req("/b"), get(&tx));
    /// drop((a, b));
    /// run(|| H3Server::new(hello(), H3Config::default()), client);
    /// assert_eq!(rx.try_iter().count(), 2);
    /// ```
    pub fn requests(&self) -> H3Requests {
        H3Requests {
            // The connection holds the queue for as long as it lives.
            q: self.q.upgrade().unwrap_or_default(),
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
    /// let (tx, _rx) = mpsc::channel();
    /// let client = H3Client::new(H3Config::default());
    /// let requests = client.requests();
    /// let (counts, seen) = mpsc::channel();
    /// let app = Watch::new(client, move |app: &mut H3Client, _, ev| match ev {
    ///     "made" => {
    ///         counts.send(app.open_streams()).unwrap(); // 0
    ///         requests.send(req("/"), get(&tx));
    ///     }
    ///     "wake" => counts.send(app.open_streams()).unwrap(), // 1: the request went out
    ///     _ => {}
    /// });
    /// run(|| H3Server::new(hello(), H3Config::default()), app);
    /// assert_eq!(seen.try_iter().take(2).collect::<Vec<_>>(), [0, 1]);
    /// ```
    pub fn open_streams(&self) -> usize {
        self.conn.open_streams()
    }
}

impl QuicApp for H3Client {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        if let Some(q) = self.q.upgrade() {
            q.lock().unwrap_or_else(|e| e.into_inner()).wake = Some(c.waker());
        }
        self.conn.settle(c);
    }
    super::conn::app_events_via_conn!();
}
