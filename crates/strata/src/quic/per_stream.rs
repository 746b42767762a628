//! [`PerStream`]: one stream protocol per QUIC stream, each over a
//! `quic-stream` [`StreamTransport`].
//!
//! A stream's view queues what flow control refuses (the stream's window
//! and the connection's), so `write` never blocks; the queue crosses the
//! watermarks of [`QuicConfig`](super::QuicConfig) (`high_water`,
//! `low_water`) as `pause_writing`/`resume_writing` edges, delivered from
//! the settle step after each call. `write_eof` is FIN, `close` is FIN once
//! the queue drained (and STOP_SENDING 0 when the peer is still sending),
//! `abort` is RESET_STREAM plus STOP_SENDING. A peer's RESET_STREAM or
//! STOP_SENDING reaches the protocol as `connection_lost` with a
//! [`QuicError`] carrying the code.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::{Dir, EarlyData, QuicApp, QuicConnection, QuicError, StreamBuffer, StreamId};
use crate::{
    AbortReason, Close, HalfClose, Introspect, ProtocolSlot, StreamFactory, StreamProtocol,
    StreamTransport, Wake, WakeRoute,
};

/// The code of the RESET_STREAM and STOP_SENDING an `abort` sends, unless
/// its reason is a [`QuicError::StreamAborted`] carrying another.
pub const DEFAULT_ABORT_CODE: u64 = 0;

/// Bytes one stream's view queues before its protocol is aborted for
/// ignoring `pause_writing` (at least 4 × `high_water`): 4 MiB.
pub const DEFAULT_STREAM_QUEUE_BUDGET: usize = 4 << 20;

static HALF_CLOSE: HalfClose = HalfClose(true);

/// The app that runs one [`StreamProtocol`] per stream, from a factory, each
/// seeing a `quic-stream` [`StreamTransport`] (write/write_eof/close/abort,
/// pause/resume, watermarks, capabilities incl. [`StreamId`]). Each protocol
/// sits in a [`ProtocolSlot`], so it can swap (TLS over a QUIC stream).
///
/// ```
/// use std::sync::Arc;
/// use strata::quic::PerStream;
/// use strata::{StreamProtocol, StreamTransport};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let app = PerStream::new(Arc::new(|| Box::new(Echo)));
/// assert_eq!(app.streams(), 0);
/// ```
pub struct PerStream {
    factory: Option<StreamFactory>,
    /// The client's stream protocol, opened at `connection_made`.
    initial: Option<Box<dyn StreamProtocol>>,
    /// Close the connection once every stream is done (the client's case).
    close_when_done: bool,
    opened_any: bool,
    buffer: Option<StreamBuffer>,
    children: BTreeMap<StreamId, Child>,
    /// Ended streams whose FIN or RESET_STREAM the peer has not
    /// acknowledged yet.
    unacked: BTreeSet<StreamId>,
    /// When to close the connection (`close_when_done`): set once every
    /// stream ended and was acknowledged, and run from `on_deadline`, so
    /// the frames of the last call (a RESET_STREAM) leave first.
    close_at: Option<Instant>,
}

struct Child {
    slot: ProtocolSlot,
    st: ChildState,
}

struct ChildState {
    id: StreamId,
    high: usize,
    low: usize,
    queue: VecDeque<Bytes>,
    queued: usize,
    /// FIN asked for, sent once the queue drains.
    eof_pending: bool,
    /// FIN sent (or we cannot send on this stream).
    write_closed: bool,
    /// FIN (or, after an abort, RESET_STREAM) sent and not yet
    /// acknowledged: a client closes its connection only after.
    fin_unacked: bool,
    /// The peer's FIN or reset seen (or it cannot send on this stream).
    read_closed: bool,
    /// `close()`: done once FIN is out.
    closing: bool,
    /// The last edge delivered was `pause_writing`.
    write_paused: bool,
    /// Ends the stream with this reason at the next settle.
    ended: Option<Close>,
    /// A client's stream opened while the connection is early: what
    /// quinn-proto took from it so far, to send again on a new stream if
    /// the server rejects 0-RTT (bounded by `QuicConfig::send_window`:
    /// nothing is acknowledged before the handshake ends). `None` once
    /// 0-RTT is settled, or for a stream opened later.
    replay: Option<Vec<Bytes>>,
    /// Opened while the connection was early ([`EarlyData`]).
    early: bool,
    /// The protocol paused reading (re-applied to a stream sent again).
    read_paused: bool,
}

impl PerStream {
    /// Runs a protocol from `factory` on every stream the peer opens.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc, Mutex};
    /// # use std::time::Duration;
    /// # use bytes::Bytes;
    /// # use strata::quic::*;
    /// # use strata::testing::{LinkConfig, SimNet};
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{Close, Datagram, DatagramProtocol, DatagramTransport, StreamFactory, StreamProtocol, StreamTransport, WakeRoute};
    /// # // A datagram protocol that the test keeps a handle on while a SimNet runs it.
    /// # struct Handle<P>(Arc<Mutex<P>>);
    /// # fn shared<P: DatagramProtocol>(p: P) -> (Arc<Mutex<P>>, Handle<P>) {
    /// #     let p = Arc::new(Mutex::new(p));
    /// #     (p.clone(), Handle(p))
    /// # }
    /// # impl<P: DatagramProtocol> DatagramProtocol for Handle<P> {
    /// #     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().connection_made(t) }
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         self.0.lock().unwrap().datagrams_received(t, b)
    /// #     }
    /// #     fn eof_received(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().eof_received(t) }
    /// #     fn connection_lost(&mut self, why: &Close) { self.0.lock().unwrap().connection_lost(why) }
    /// #     fn pause_writing(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().pause_writing(t) }
    /// #     fn resume_writing(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().resume_writing(t) }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.0.lock().unwrap().next_deadline() }
    /// #     fn on_deadline(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().on_deadline(t) }
    /// #     fn on_wake(&mut self, t: &mut dyn DatagramTransport, r: WakeRoute<'_>) { self.0.lock().unwrap().on_wake(t, r) }
    /// #     fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().on_shutdown(t) }
    /// # }
    /// # // Echoes a stream back.
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // Says its message, then FIN, and reports what comes back.
    /// # struct Say(&'static [u8], mpsc::Sender<Vec<u8>>);
    /// # impl StreamProtocol for Say {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(self.0); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.send(d.to_vec()).unwrap() }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // A client app that does nothing: the connection stays up.
    /// # struct Idle;
    /// # impl QuicApp for Idle {
    /// #     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// # }
    /// # fn server_tls() -> Arc<rustls::ServerConfig> {
    /// #     Arc::new(ServerTls::new(&Identity::localhost().unwrap()).alpn(["demo"]).build_rustls().unwrap())
    /// # }
    /// # fn client_tls() -> Arc<rustls::ClientConfig> {
    /// #     Arc::new(ClientTls::new("localhost").unwrap().insecure().alpn(["demo"]).build_rustls().unwrap().0)
    /// # }
    /// # const SERVER: &str = "10.0.0.2:4433";
    /// # // A server that echoes every stream.
    /// # fn echo_server() -> QuicServer {
    /// #     let echo: StreamFactory = Arc::new(|| Box::new(Echo));
    /// #     QuicServer::new(QuicConfig::default(), server_tls(), Arc::new(move |_| {
    /// #         Some(Box::new(PerStream::new(echo.clone())) as Box<dyn QuicApp>)
    /// #     }))
    /// #     .unwrap()
    /// # }
    /// # // `server` at SERVER and `client` at 10.0.0.1:5000, 10 ms apart.
    /// # fn net(server: impl DatagramProtocol + 'static, client: impl DatagramProtocol + 'static) -> SimNet {
    /// #     let mut net = SimNet::new(1);
    /// #     let s = net.add_node(SERVER.parse().unwrap(), Box::new(server));
    /// #     let c = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(client));
    /// #     net.link_both(c, s, LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() });
    /// #     net
    /// # }
    /// let echo: StreamFactory = Arc::new(|| Box::new(Echo));
    /// let server = QuicServer::new(QuicConfig::default(), server_tls(), Arc::new(move |_| {
    ///     Some(Box::new(PerStream::new(echo.clone())) as Box<dyn QuicApp>)
    /// }))
    /// .unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// let at = SERVER.parse().unwrap();
    /// let say = Box::new(Say(b"one stream, one Echo", tx));
    /// let client = QuicClient::stream(QuicConfig::default(), client_tls(), "localhost", at, say).unwrap();
    /// net(server, client).run(Duration::from_secs(5));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>().concat(), b"one stream, one Echo");
    /// ```
    pub fn new(factory: StreamFactory) -> Self {
        PerStream {
            factory: Some(factory),
            initial: None,
            close_when_done: false,
            opened_any: false,
            buffer: None,
            children: BTreeMap::new(),
            unacked: BTreeSet::new(),
            close_at: None,
        }
    }

    /// A client's app: opens one bidirectional stream carrying `proto` when
    /// the handshake is done, refuses streams the peer opens, and closes the
    /// connection (code 0) when that stream is done.
    ///
    /// ```
    /// use strata::quic::PerStream;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let app = PerStream::client(Box::new(Nop));
    /// assert_eq!(app.streams(), 0);
    /// ```
    pub fn client(proto: Box<dyn StreamProtocol>) -> Self {
        PerStream {
            factory: None,
            initial: Some(proto),
            close_when_done: true,
            opened_any: false,
            buffer: None,
            children: BTreeMap::new(),
            unacked: BTreeSet::new(),
            close_at: None,
        }
    }

    /// Overrides the connection's watermarks for the streams' write queues.
    ///
    /// ```
    /// use strata::quic::{PerStream, StreamBuffer};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let app = PerStream::client(Box::new(Nop))
    ///     .with_buffer(StreamBuffer { high_water: 4096, low_water: 1024 });
    /// # let _ = app;
    /// ```
    pub fn with_buffer(mut self, b: StreamBuffer) -> Self {
        self.buffer = Some(b);
        self
    }

    /// Streams running now.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc, Mutex};
    /// # use std::time::Duration;
    /// # use bytes::Bytes;
    /// # use strata::quic::*;
    /// # use strata::testing::{LinkConfig, SimNet};
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{Close, Datagram, DatagramProtocol, DatagramTransport, StreamFactory, StreamProtocol, StreamTransport, WakeRoute};
    /// # // A datagram protocol that the test keeps a handle on while a SimNet runs it.
    /// # struct Handle<P>(Arc<Mutex<P>>);
    /// # fn shared<P: DatagramProtocol>(p: P) -> (Arc<Mutex<P>>, Handle<P>) {
    /// #     let p = Arc::new(Mutex::new(p));
    /// #     (p.clone(), Handle(p))
    /// # }
    /// # impl<P: DatagramProtocol> DatagramProtocol for Handle<P> {
    /// #     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().connection_made(t) }
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         self.0.lock().unwrap().datagrams_received(t, b)
    /// #     }
    /// #     fn eof_received(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().eof_received(t) }
    /// #     fn connection_lost(&mut self, why: &Close) { self.0.lock().unwrap().connection_lost(why) }
    /// #     fn pause_writing(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().pause_writing(t) }
    /// #     fn resume_writing(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().resume_writing(t) }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.0.lock().unwrap().next_deadline() }
    /// #     fn on_deadline(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().on_deadline(t) }
    /// #     fn on_wake(&mut self, t: &mut dyn DatagramTransport, r: WakeRoute<'_>) { self.0.lock().unwrap().on_wake(t, r) }
    /// #     fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().on_shutdown(t) }
    /// # }
    /// # // Echoes a stream back.
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // Says its message, then FIN, and reports what comes back.
    /// # struct Say(&'static [u8], mpsc::Sender<Vec<u8>>);
    /// # impl StreamProtocol for Say {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(self.0); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.send(d.to_vec()).unwrap() }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // A client app that does nothing: the connection stays up.
    /// # struct Idle;
    /// # impl QuicApp for Idle {
    /// #     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// # }
    /// # fn server_tls() -> Arc<rustls::ServerConfig> {
    /// #     Arc::new(ServerTls::new(&Identity::localhost().unwrap()).alpn(["demo"]).build_rustls().unwrap())
    /// # }
    /// # fn client_tls() -> Arc<rustls::ClientConfig> {
    /// #     Arc::new(ClientTls::new("localhost").unwrap().insecure().alpn(["demo"]).build_rustls().unwrap().0)
    /// # }
    /// # const SERVER: &str = "10.0.0.2:4433";
    /// # // A server that echoes every stream.
    /// # fn echo_server() -> QuicServer {
    /// #     let echo: StreamFactory = Arc::new(|| Box::new(Echo));
    /// #     QuicServer::new(QuicConfig::default(), server_tls(), Arc::new(move |_| {
    /// #         Some(Box::new(PerStream::new(echo.clone())) as Box<dyn QuicApp>)
    /// #     }))
    /// #     .unwrap()
    /// # }
    /// # // `server` at SERVER and `client` at 10.0.0.1:5000, 10 ms apart.
    /// # fn net(server: impl DatagramProtocol + 'static, client: impl DatagramProtocol + 'static) -> SimNet {
    /// #     let mut net = SimNet::new(1);
    /// #     let s = net.add_node(SERVER.parse().unwrap(), Box::new(server));
    /// #     let c = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(client));
    /// #     net.link_both(c, s, LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() });
    /// #     net
    /// # }
    /// /// A client app around a PerStream: opens two streams, notes how many run.
    /// struct Outer { ps: PerStream, running: mpsc::Sender<usize>, answers: mpsc::Sender<Vec<u8>> }
    /// impl Outer {
    ///     fn start(&mut self, c: &mut dyn QuicConnection) {
    ///         self.running.send(self.ps.streams()).unwrap(); // 0
    ///         for msg in [&b"one"[..], b"two"] {
    ///             let _ = self.ps.open_stream(c, Dir::Bi, Box::new(Say(msg, self.answers.clone())));
    ///         }
    ///         self.running.send(self.ps.streams()).unwrap(); // 2
    ///     }
    /// }
    /// # impl QuicApp for Outer {
    /// #     fn connection_made(&mut self, c: &mut dyn QuicConnection) { self.start(c) }
    /// #     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_opened(c, id) }
    /// #     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, d: &[u8]) { self.ps.stream_data(c, id, d) }
    /// #     fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_finished(c, id) }
    /// #     fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.ps.stream_reset(c, id, e) }
    /// #     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.ps.stream_stopped(c, id, e) }
    /// #     fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_acked(c, id) }
    /// #     fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_writable(c, id) }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.ps.next_deadline() }
    /// #     fn on_deadline(&mut self, c: &mut dyn QuicConnection) { self.ps.on_deadline(c) }
    /// #     fn on_wake_at(&mut self, c: &mut dyn QuicConnection, r: WakeRoute<'_>) { self.ps.on_wake_at(c, r) }
    /// #     fn connection_lost(&mut self, why: &Close) { self.ps.connection_lost(why) }
    /// # }
    /// let (running, counts) = mpsc::channel();
    /// let (answers, _got) = mpsc::channel();
    /// let app = Outer { ps: PerStream::new(Arc::new(|| Box::new(Echo))), running, answers };
    /// let at = SERVER.parse().unwrap();
    /// let client = QuicClient::new(QuicConfig::default(), client_tls(), "localhost", at, Box::new(app)).unwrap();
    /// net(echo_server(), client).run(Duration::from_secs(1));
    /// assert_eq!(counts.try_iter().collect::<Vec<_>>(), [0, 2]);
    /// ```
    pub fn streams(&self) -> usize {
        self.children.len()
    }

    /// Opens a stream carrying `proto` (from an app that wraps this one).
    /// At the peer's stream limit `proto` comes back: try again at
    /// [`QuicApp::streams_available`].
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc, Mutex};
    /// # use std::time::Duration;
    /// # use bytes::Bytes;
    /// # use strata::quic::*;
    /// # use strata::testing::{LinkConfig, SimNet};
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{Close, Datagram, DatagramProtocol, DatagramTransport, StreamFactory, StreamProtocol, StreamTransport, WakeRoute};
    /// # // A datagram protocol that the test keeps a handle on while a SimNet runs it.
    /// # struct Handle<P>(Arc<Mutex<P>>);
    /// # fn shared<P: DatagramProtocol>(p: P) -> (Arc<Mutex<P>>, Handle<P>) {
    /// #     let p = Arc::new(Mutex::new(p));
    /// #     (p.clone(), Handle(p))
    /// # }
    /// # impl<P: DatagramProtocol> DatagramProtocol for Handle<P> {
    /// #     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().connection_made(t) }
    /// #     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         self.0.lock().unwrap().datagrams_received(t, b)
    /// #     }
    /// #     fn eof_received(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().eof_received(t) }
    /// #     fn connection_lost(&mut self, why: &Close) { self.0.lock().unwrap().connection_lost(why) }
    /// #     fn pause_writing(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().pause_writing(t) }
    /// #     fn resume_writing(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().resume_writing(t) }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.0.lock().unwrap().next_deadline() }
    /// #     fn on_deadline(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().on_deadline(t) }
    /// #     fn on_wake(&mut self, t: &mut dyn DatagramTransport, r: WakeRoute<'_>) { self.0.lock().unwrap().on_wake(t, r) }
    /// #     fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) { self.0.lock().unwrap().on_shutdown(t) }
    /// # }
    /// # // Echoes a stream back.
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // Says its message, then FIN, and reports what comes back.
    /// # struct Say(&'static [u8], mpsc::Sender<Vec<u8>>);
    /// # impl StreamProtocol for Say {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(self.0); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.send(d.to_vec()).unwrap() }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // A client app that does nothing: the connection stays up.
    /// # struct Idle;
    /// # impl QuicApp for Idle {
    /// #     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// # }
    /// # fn server_tls() -> Arc<rustls::ServerConfig> {
    /// #     Arc::new(ServerTls::new(&Identity::localhost().unwrap()).alpn(["demo"]).build_rustls().unwrap())
    /// # }
    /// # fn client_tls() -> Arc<rustls::ClientConfig> {
    /// #     Arc::new(ClientTls::new("localhost").unwrap().insecure().alpn(["demo"]).build_rustls().unwrap().0)
    /// # }
    /// # const SERVER: &str = "10.0.0.2:4433";
    /// # // A server that echoes every stream.
    /// # fn echo_server() -> QuicServer {
    /// #     let echo: StreamFactory = Arc::new(|| Box::new(Echo));
    /// #     QuicServer::new(QuicConfig::default(), server_tls(), Arc::new(move |_| {
    /// #         Some(Box::new(PerStream::new(echo.clone())) as Box<dyn QuicApp>)
    /// #     }))
    /// #     .unwrap()
    /// # }
    /// # // `server` at SERVER and `client` at 10.0.0.1:5000, 10 ms apart.
    /// # fn net(server: impl DatagramProtocol + 'static, client: impl DatagramProtocol + 'static) -> SimNet {
    /// #     let mut net = SimNet::new(1);
    /// #     let s = net.add_node(SERVER.parse().unwrap(), Box::new(server));
    /// #     let c = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(client));
    /// #     net.link_both(c, s, LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() });
    /// #     net
    /// # }
    /// /// A client app that opens its streams through a PerStream.
    /// struct Outer { ps: PerStream, ids: mpsc::Sender<StreamId>, answers: mpsc::Sender<Vec<u8>> }
    /// impl Outer {
    ///     fn start(&mut self, c: &mut dyn QuicConnection) {
    ///         let proto = Box::new(Say(b"over a stream of mine", self.answers.clone()));
    ///         match self.ps.open_stream(c, Dir::Bi, proto) {
    ///             Ok(id) => self.ids.send(id).unwrap(),
    ///             Err(_proto) => {} // at the peer's limit: keep it for streams_available
    ///         }
    ///     }
    /// }
    /// # impl QuicApp for Outer {
    /// #     fn connection_made(&mut self, c: &mut dyn QuicConnection) { self.start(c) }
    /// #     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_opened(c, id) }
    /// #     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, d: &[u8]) { self.ps.stream_data(c, id, d) }
    /// #     fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_finished(c, id) }
    /// #     fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.ps.stream_reset(c, id, e) }
    /// #     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, e: u64) { self.ps.stream_stopped(c, id, e) }
    /// #     fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_acked(c, id) }
    /// #     fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) { self.ps.stream_writable(c, id) }
    /// #     fn next_deadline(&self) -> Option<std::time::Instant> { self.ps.next_deadline() }
    /// #     fn on_deadline(&mut self, c: &mut dyn QuicConnection) { self.ps.on_deadline(c) }
    /// #     fn on_wake_at(&mut self, c: &mut dyn QuicConnection, r: WakeRoute<'_>) { self.ps.on_wake_at(c, r) }
    /// #     fn connection_lost(&mut self, why: &Close) { self.ps.connection_lost(why) }
    /// # }
    /// let (ids, opened) = mpsc::channel();
    /// let (answers, got) = mpsc::channel();
    /// let app = Outer { ps: PerStream::new(Arc::new(|| Box::new(Echo))), ids, answers };
    /// let at = SERVER.parse().unwrap();
    /// let client = QuicClient::new(QuicConfig::default(), client_tls(), "localhost", at, Box::new(app)).unwrap();
    /// net(echo_server(), client).run(Duration::from_secs(1));
    /// assert_eq!(opened.try_recv(), Ok(StreamId(0)));
    /// assert_eq!(got.try_iter().collect::<Vec<_>>().concat(), b"over a stream of mine");
    /// ```
    pub fn open_stream(
        &mut self,
        c: &mut dyn QuicConnection,
        dir: Dir,
        proto: Box<dyn StreamProtocol>,
    ) -> Result<StreamId, Box<dyn StreamProtocol>> {
        let Some(id) = c.open(dir) else {
            return Err(proto);
        };
        self.start(c, id, proto);
        Ok(id)
    }

    fn start(&mut self, c: &mut dyn QuicConnection, id: StreamId, proto: Box<dyn StreamProtocol>) {
        let b = self.buffer.unwrap_or_else(|| {
            (c as &dyn Introspect)
                .get::<StreamBuffer>()
                .copied()
                .unwrap_or_default()
        });
        let ours = id.is_client_initiated() != c.is_server();
        let st = ChildState {
            id,
            high: b.high_water.max(1),
            low: b.low_water.min(b.high_water),
            queue: VecDeque::new(),
            queued: 0,
            eof_pending: false,
            write_closed: !id.is_bidi() && !ours,
            fin_unacked: false,
            read_closed: !id.is_bidi() && ours,
            closing: false,
            write_paused: false,
            ended: None,
            replay: (c.is_early() && !c.is_server()).then(Vec::new),
            early: c.is_early(),
            read_paused: false,
        };
        self.opened_any = true;
        let child = self.children.entry(id).or_insert(Child {
            slot: ProtocolSlot::new(proto),
            st,
        });
        child.call(c, |p, v| p.connection_made(v));
        self.settle(c, id);
    }

    /// After a call into stream `id`: flush, FIN, edges, and the end.
    fn settle(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        loop {
            child.st.flush(c);
            let st = &mut child.st;
            if st.ended.is_none() && st.queued > (4 * st.high).max(DEFAULT_STREAM_QUEUE_BUDGET) {
                let limit = (4 * st.high).max(DEFAULT_STREAM_QUEUE_BUDGET);
                c.reset(id, DEFAULT_ABORT_CODE);
                c.stop_sending(id, DEFAULT_ABORT_CODE);
                st.ended = Some(Close::aborted(
                    "quic-stream",
                    AbortReason::MemoryBudget { limit },
                ));
            }
            if st.ended.is_none() && st.closing && st.write_closed && !st.read_closed {
                c.stop_sending(id, 0);
                st.read_closed = true;
            }
            // An early stream whose FIN is not acknowledged stays until
            // 0-RTT is settled: a rejection sends it again.
            let held = st.replay.is_some() && st.fin_unacked;
            if st.ended.is_none() && st.write_closed && st.read_closed && !held {
                st.ended = Some(Close::Done);
            }
            if st.ended.is_some() {
                break;
            }
            if !st.write_paused && st.queued >= st.high {
                st.write_paused = true;
                child.call(c, |p, v| p.pause_writing(v));
                continue;
            }
            if st.write_paused && st.queued <= st.low {
                st.write_paused = false;
                child.call(c, |p, v| p.resume_writing(v));
                continue;
            }
            break;
        }
        if let Some(why) = child.st.ended.take() {
            let fin_unacked = child.st.fin_unacked;
            let mut child = self.children.remove(&id).expect("present: looked up above");
            child.slot.connection_lost(&why);
            if fin_unacked {
                self.unacked.insert(id);
            }
            self.maybe_close(c);
        }
    }

    /// The client's case: every stream ended and was acknowledged.
    fn maybe_close(&mut self, c: &mut dyn QuicConnection) {
        if self.close_when_done
            && self.opened_any
            && self.children.is_empty()
            && self.unacked.is_empty()
            && self.close_at.is_none()
        {
            self.close_at = Some(c.now());
        }
    }

    fn with_child(
        &mut self,
        c: &mut dyn QuicConnection,
        id: StreamId,
        f: impl FnOnce(&mut ProtocolSlot, &mut dyn StreamTransport),
    ) {
        if let Some(child) = self.children.get_mut(&id) {
            child.call(c, f);
            self.settle(c, id);
        }
    }

    /// Ends stream `id` now with `why`, sending `code` both ways where open.
    fn end(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64, why: Close) {
        if let Some(child) = self.children.get_mut(&id) {
            if !child.st.write_closed {
                c.reset(id, code);
                child.st.write_closed = true;
            }
            if !child.st.read_closed {
                c.stop_sending(id, code);
                child.st.read_closed = true;
            }
            child.st.ended = Some(why);
            self.settle(c, id);
        }
    }
}

impl PerStream {
    /// The server refused 0-RTT: quinn-proto dropped the streams we opened
    /// early and the server saw none of their bytes. Each one's protocol
    /// keeps running on a new stream (in the old order, so usually with the
    /// same id) carrying what it wrote so far, FIN included: the request
    /// goes out again as 1-RTT data, once, and the protocol sees only a
    /// later answer. A stream that cannot be opened again (a lower stream
    /// limit from the server) ends with [`QuicError::ZeroRttRejected`].
    fn resend_early(&mut self, c: &mut dyn QuicConnection) {
        let ours: Vec<StreamId> = self
            .children
            .keys()
            .copied()
            .filter(|id| id.is_client_initiated() != c.is_server())
            .collect();
        self.unacked
            .retain(|id| id.is_client_initiated() == c.is_server());
        let mut moved = Vec::new();
        for id in ours {
            if let Some(child) = self.children.remove(&id) {
                moved.push(child);
            }
        }
        for mut child in moved {
            let Some(new) = c.open(child.st.id.dir()) else {
                let why = Close::aborted(
                    "quic-stream",
                    AbortReason::layer(QuicError::ZeroRttRejected),
                );
                child.slot.connection_lost(&why);
                continue;
            };
            let st = &mut child.st;
            let sent = st.replay.take().unwrap_or_default();
            st.queued += sent.iter().map(Bytes::len).sum::<usize>();
            for b in sent.into_iter().rev() {
                st.queue.push_front(b);
            }
            if st.fin_unacked {
                st.fin_unacked = false;
                st.write_closed = false;
                st.eof_pending = true;
            }
            st.id = new;
            if st.read_paused {
                c.pause_reading(new);
            }
            if st.read_closed && new.is_bidi() {
                c.stop_sending(new, 0);
            }
            self.children.insert(new, child);
            self.settle(c, new);
        }
        self.maybe_close(c);
    }
}

impl Child {
    fn call(
        &mut self,
        c: &mut dyn QuicConnection,
        f: impl FnOnce(&mut ProtocolSlot, &mut dyn StreamTransport),
    ) {
        if self.st.ended.is_some() {
            return;
        }
        f(
            &mut self.slot,
            &mut StreamView {
                c,
                st: &mut self.st,
            },
        );
    }
}

impl ChildState {
    /// Hands the queue to quinn-proto as far as flow control allows, then
    /// the FIN asked for.
    fn flush(&mut self, c: &mut dyn QuicConnection) {
        if self.ended.is_some() {
            return;
        }
        while let Some(front) = self.queue.front_mut() {
            match c.write(self.id, front) {
                Ok(n) => {
                    if let (Some(rec), true) = (self.replay.as_mut(), n > 0) {
                        rec.push(front.slice(..n));
                    }
                    self.queued -= n;
                    if n == front.len() {
                        self.queue.pop_front();
                    } else {
                        let _ = front.split_to(n);
                        return;
                    }
                }
                Err(e) => return self.failed(e),
            }
        }
        if self.eof_pending && !self.write_closed {
            self.eof_pending = false;
            self.write_closed = true;
            match c.finish(self.id) {
                Ok(()) => self.fin_unacked = true,
                Err(e) => self.failed(e),
            }
        }
    }

    fn failed(&mut self, e: super::StreamError) {
        self.queue.clear();
        self.queued = 0;
        self.write_closed = true;
        if self.ended.is_none() {
            let why = match e {
                super::StreamError::Stopped(code) => QuicError::StreamStopped(code),
                super::StreamError::ConnectionClosed => return self.end_quietly(),
                _ => return,
            };
            self.ended = Some(Close::aborted("quic-stream", AbortReason::layer(why)));
        }
    }

    fn end_quietly(&mut self) {
        self.ended = Some(Close::aborted(
            "quic-stream",
            AbortReason::layer(super::StreamError::ConnectionClosed),
        ));
    }
}

/// The `quic-stream` transport a stream's protocol sees.
struct StreamView<'a> {
    c: &'a mut dyn QuicConnection,
    st: &'a mut ChildState,
}

impl Introspect for StreamView<'_> {
    fn name(&self) -> &'static str {
        "quic-stream"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<EarlyData>() {
            return Some(if self.st.early {
                &EarlyData(true)
            } else {
                &EarlyData(false)
            });
        }
        crate::capability!(id, self.st.id, HALF_CLOSE)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.c as &dyn Introspect)
    }
}

impl StreamTransport for StreamView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.write_bytes(Bytes::copy_from_slice(data));
    }
    fn write_bytes(&mut self, data: Bytes) {
        let st = &mut *self.st;
        if st.write_closed || st.eof_pending || st.ended.is_some() || data.is_empty() {
            return;
        }
        st.queued += data.len();
        st.queue.push_back(data);
        st.flush(self.c);
    }
    fn write_eof(&mut self) {
        if !self.st.write_closed {
            self.st.eof_pending = true;
            self.st.flush(self.c);
        }
    }
    fn close(&mut self) {
        self.st.closing = true;
        self.write_eof();
    }
    fn abort(&mut self, why: Close) {
        if self.st.ended.is_some() {
            return;
        }
        let code = match why.error::<QuicError>() {
            Some(QuicError::StreamAborted(code)) => *code,
            _ => DEFAULT_ABORT_CODE,
        };
        let st = &mut *self.st;
        if !st.write_closed || st.fin_unacked {
            self.c.reset(st.id, code);
            st.write_closed = true;
            // A close right after would discard the RESET_STREAM, or
            // overtake it: the peer's protocol would never hear the code.
            st.fin_unacked = true;
        }
        if !st.read_closed {
            self.c.stop_sending(st.id, code);
            st.read_closed = true;
        }
        st.queue.clear();
        st.queued = 0;
        st.ended = Some(why);
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
        self.c.pause_reading(self.st.id);
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
        self.c.resume_reading(self.st.id);
    }
    fn buffered(&self) -> usize {
        self.st.queued
    }
    fn writable(&self) -> bool {
        self.st.queued < self.st.high
    }
    fn now(&self) -> Instant {
        self.c.now()
    }
    fn waker(&self) -> Wake {
        self.c.waker().child(self.st.id.0)
    }
}

impl QuicApp for PerStream {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        if let Some(proto) = self.initial.take() {
            match c.open(Dir::Bi) {
                Some(id) => self.start(c, id, proto),
                None => self.initial = Some(proto),
            }
        }
    }
    fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {
        if dir == Dir::Bi {
            self.connection_made(c);
        }
    }
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        match &self.factory {
            Some(f) => {
                let proto = f();
                self.start(c, id, proto);
            }
            None => {
                c.stop_sending(id, DEFAULT_ABORT_CODE);
                if id.is_bidi() {
                    c.reset(id, DEFAULT_ABORT_CODE);
                }
            }
        }
    }
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        self.with_child(c, id, |p, v| p.data_received(v, data));
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        if let Some(child) = self.children.get_mut(&id) {
            child.st.read_closed = true;
        }
        self.with_child(c, id, |p, v| p.eof_received(v));
    }
    fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        if let Some(child) = self.children.get_mut(&id) {
            child.st.read_closed = true;
        }
        let why = Close::aborted(
            "quic-stream",
            AbortReason::layer(QuicError::StreamReset(code)),
        );
        self.end(c, id, code, why);
    }
    fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        if let Some(child) = self.children.get_mut(&id) {
            if child.st.write_closed && child.st.queue.is_empty() && !child.st.eof_pending {
                // Everything was written, FIN included: the peer's
                // STOP_SENDING costs us nothing, and what it still sends
                // (its answer, its FIN) is read as usual.
                child.st.fin_unacked = false;
                self.settle(c, id);
                return;
            }
            child.st.write_closed = true;
            child.st.queue.clear();
            child.st.queued = 0;
        }
        let why = Close::aborted(
            "quic-stream",
            AbortReason::layer(QuicError::StreamStopped(code)),
        );
        self.end(c, id, code, why);
    }
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.settle(c, id);
    }
    fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        if let Some(child) = self.children.get_mut(&id) {
            child.st.fin_unacked = false;
            self.settle(c, id);
        }
        if self.unacked.remove(&id) {
            self.maybe_close(c);
        }
    }
    fn early_data(&self) -> bool {
        true
    }
    fn zero_rtt_accepted(&mut self, c: &mut dyn QuicConnection) {
        let ids: Vec<StreamId> = self.children.keys().copied().collect();
        for id in ids {
            if let Some(child) = self.children.get_mut(&id) {
                child.st.replay = None;
            }
            self.settle(c, id);
        }
    }
    fn zero_rtt_rejected(&mut self, c: &mut dyn QuicConnection) {
        self.resend_early(c);
    }
    fn next_deadline(&self) -> Option<Instant> {
        let children = self
            .children
            .values()
            .filter_map(|ch| ch.slot.next_deadline())
            .min();
        crate::deadline::earliest(children, self.close_at)
    }
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        let now = c.now();
        if self.close_at.is_some_and(|d| d <= now) && self.children.is_empty() {
            self.close_at = None;
            c.close(0, b"");
            return;
        }
        let due: Vec<StreamId> = self
            .children
            .iter()
            .filter(|(_, ch)| ch.slot.next_deadline().is_some_and(|d| d <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.with_child(c, id, |p, v| p.on_deadline(v));
        }
    }
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, mut route: WakeRoute<'_>) {
        match route.next_hop() {
            Some(sid) => self.with_child(c, StreamId(sid), |p, v| p.on_wake(v, route)),
            None => self.on_wake(c),
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        // A stream cut short by a clean connection close did not end
        // cleanly: its protocol must not take a truncation for the end.
        let cut = Close::aborted(
            "quic-stream",
            AbortReason::layer(super::StreamError::ConnectionClosed),
        );
        for (_, mut child) in std::mem::take(&mut self.children) {
            child
                .slot
                .connection_lost(if why.is_clean() { &cut } else { why });
        }
        if let Some(mut p) = self.initial.take() {
            p.connection_lost(why);
        }
    }
}
