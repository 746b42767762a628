//! The client side: [`QuicClient`], one connection to one server, and
//! [`QuicClientEndpoint`], any number of connections on one transport.

use std::net::SocketAddr;
use std::sync::Arc;

use quinn_proto::crypto::rustls::QuicClientConfig;

use super::engine::{Engine, Role};
use super::{PerStream, QuicApp, QuicConfig, QuicError};
use crate::{DatagramTransport, StreamProtocol};

/// The client: a datagram protocol that connects to one server when its
/// transport is ready and runs one [`QuicApp`]. When the connection is over
/// (closed and drained), the client closes its transport.
///
/// ```
/// use std::sync::Arc;
/// use strata::quic::{QuicClient, QuicConfig};
/// use strata::tls::ClientTls;
/// # use strata::{StreamProtocol, StreamTransport};
/// # struct Hello;
/// # impl StreamProtocol for Hello {
/// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi"); t.write_eof() }
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let (tls, _name) = ClientTls::new("localhost")?.insecure().alpn(["echo"]).build_rustls()?;
/// let client = QuicClient::stream(
///     QuicConfig::default(),
///     Arc::new(tls),
///     "localhost",
///     "127.0.0.1:4433".parse()?,
///     Box::new(Hello),
/// )?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct QuicClient {
    engine: Engine,
}

impl QuicClient {
    /// A client that connects to `server` (named `server_name` for TLS) when
    /// its transport is ready, and runs `app` over the connection.
    /// `cfg.alpn`, when not empty, replaces the ALPN list of `tls`.
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
    /// /// Asks on one stream, and closes the connection with the answer.
    /// struct Ask(mpsc::Sender<Vec<u8>>);
    /// impl QuicApp for Ask {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Bi).unwrap();
    ///         let _ = c.write(id, b"ping");
    ///         let _ = c.finish(id);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, d: &[u8]) {
    ///         self.0.send(d.to_vec()).unwrap();
    ///     }
    ///     fn stream_finished(&mut self, c: &mut dyn QuicConnection, _: StreamId) {
    ///         c.close(0, b"");
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// let at = SERVER.parse().unwrap();
    /// let client = QuicClient::new(QuicConfig::default(), client_tls(), "localhost", at, Box::new(Ask(tx))).unwrap();
    /// net(echo_server(), client).run(Duration::from_secs(5));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>().concat(), b"ping");
    /// ```
    pub fn new(
        cfg: QuicConfig,
        tls: Arc<rustls::ClientConfig>,
        server_name: &str,
        server: SocketAddr,
        app: Box<dyn QuicApp>,
    ) -> Result<Self, QuicError> {
        let role = Role::Client {
            crypto: client_crypto(&cfg, tls)?,
            server_name: server_name.to_string(),
            server,
            app: Some(app),
        };
        Ok(QuicClient {
            engine: Engine::new(cfg, role),
        })
    }

    /// The common case: one bidirectional stream carrying `proto` (closing the
    /// connection when that stream's protocol is done).
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
    /// let (tx, rx) = mpsc::channel();
    /// let at = SERVER.parse().unwrap();
    /// let say = Box::new(Say(b"hello", tx));
    /// let client = QuicClient::stream(QuicConfig::default(), client_tls(), "localhost", at, say).unwrap();
    /// net(echo_server(), client).run(Duration::from_secs(5));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>().concat(), b"hello");
    /// ```
    pub fn stream(
        cfg: QuicConfig,
        tls: Arc<rustls::ClientConfig>,
        server_name: &str,
        server: SocketAddr,
        proto: Box<dyn StreamProtocol>,
    ) -> Result<Self, QuicError> {
        let app = PerStream::client(proto);
        Self::new(cfg, tls, server_name, server, Box::new(app))
    }

    /// True once the connection is over and the transport was closed.
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
    /// let (tx, _rx) = mpsc::channel();
    /// let at = SERVER.parse().unwrap();
    /// let say = Box::new(Say(b"hello", tx));
    /// let (client, handle) = shared(QuicClient::stream(QuicConfig::default(), client_tls(), "localhost", at, say).unwrap());
    /// assert!(!client.lock().unwrap().is_done());
    /// // The stream's protocol finishes, the connection closes and drains.
    /// net(echo_server(), handle).run(Duration::from_secs(5));
    /// assert!(client.lock().unwrap().is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.engine.is_done()
    }
}

super::engine::datagram_protocol_via_engine!(QuicClient);

/// quinn-proto's client crypto from `tls`, with `cfg.alpn` (when not empty)
/// in place of its ALPN list.
fn client_crypto(
    cfg: &QuicConfig,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Arc<QuicClientConfig>, QuicError> {
    let tls = if cfg.alpn.is_empty() {
        tls
    } else {
        let mut t = (*tls).clone();
        t.alpn_protocols = cfg.alpn.clone();
        Arc::new(t)
    };
    // 0-RTT (`cfg.zero_rtt`) is the client TLS config's `enable_early_data`.
    let tls = cfg.client_tls(tls);
    let crypto = QuicClientConfig::try_from(tls)
        .map_err(|e| QuicError::Config(format!("TLS configuration: {e}")))?;
    Ok(Arc::new(crypto))
}

/// A client endpoint: a datagram protocol that holds any number of client
/// connections on one transport (one UDP socket), as quinn's `Endpoint`
/// does. Each connection goes to its own server with its own [`QuicApp`];
/// connection ids route the datagrams; a connection that ends leaves the
/// endpoint, which keeps its transport open for the next one.
///
/// Connections are opened with [`connect`](Self::connect), called with the
/// transport in hand: from the callback of a protocol that owns the
/// endpoint (typically `on_wake`, after another thread queued a request and
/// woke the stack; the tokio driver's `QuicEndpoint` does exactly that).
/// Every connection has its own handshake deadline
/// ([`QuicConfig::handshake_timeout`]) and idle timeout; at most
/// [`QuicConfig::max_connections`] are open at once. `on_shutdown` closes
/// them all (each app says goodbye its own way), and the transport is closed
/// once the last has drained.
///
/// ```
/// use std::sync::Arc;
/// use strata::quic::{ConnectError, QuicClientEndpoint, QuicConfig};
/// use strata::testing::MemoryDatagramTransport;
/// use strata::tls::ClientTls;
/// use strata::DatagramProtocol;
/// # use strata::{StreamProtocol, StreamTransport};
/// # struct Hello;
/// # impl StreamProtocol for Hello {
/// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi"); t.write_eof() }
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let (tls, _name) = ClientTls::new("localhost")?.insecure().alpn(["echo"]).build_rustls()?;
/// let mut ep = QuicClientEndpoint::new(QuicConfig::default(), Arc::new(tls))?;
/// let mut t = MemoryDatagramTransport::new(1500);
/// ep.connection_made(&mut t);
/// ep.connect_stream(&mut t, "127.0.0.1:4433".parse()?, "localhost", Box::new(Hello))?;
/// ep.connect_stream(&mut t, "127.0.0.1:4434".parse()?, "localhost", Box::new(Hello))?;
/// assert_eq!(ep.connections(), 2);
/// assert_eq!(t.take_sent().len(), 2, "one Initial to each server");
/// let bad = ep.connect_stream(&mut t, "127.0.0.1:4433".parse()?, "no such name!", Box::new(Hello));
/// assert!(matches!(bad, Err(ConnectError::InvalidServerName(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct QuicClientEndpoint {
    engine: Engine,
    crypto: Arc<QuicClientConfig>,
}

impl QuicClientEndpoint {
    /// An endpoint whose connections verify their servers with `tls` (TLS
    /// 1.3). `cfg.alpn`, when not empty, replaces the ALPN list of `tls`.
    /// No connection is opened until [`connect`](Self::connect).
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
    /// use strata::testing::MemoryDatagramTransport;
    /// let mut ep = QuicClientEndpoint::new(QuicConfig::default(), client_tls()).unwrap();
    /// let mut t = MemoryDatagramTransport::new(1500);
    /// ep.connection_made(&mut t);
    /// assert_eq!(ep.connections(), 0);
    /// assert!(t.take_sent().is_empty(), "nothing is sent before a connect");
    /// ```
    pub fn new(cfg: QuicConfig, tls: Arc<rustls::ClientConfig>) -> Result<Self, QuicError> {
        let crypto = client_crypto(&cfg, tls)?;
        Ok(QuicClientEndpoint {
            engine: Engine::new(cfg, Role::Clients),
            crypto,
        })
    }

    /// Opens a connection to `server`, verified as `server_name`, running
    /// `app`; the handshake starts at once (its first flight is sent
    /// through `t`, which must be the transport this endpoint runs on).
    /// `app.connection_made` follows when the handshake is done.
    ///
    /// A refused connection returns the reason, and `app` hears it once,
    /// as its `connection_lost` (the app is always told how it ended).
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
    /// use strata::testing::MemoryDatagramTransport;
    /// let mut ep = QuicClientEndpoint::new(QuicConfig::default(), client_tls()).unwrap();
    /// let mut t = MemoryDatagramTransport::new(1500);
    /// let at = SERVER.parse().unwrap();
    /// let early = ep.connect(&mut t, at, "localhost", Box::new(Idle));
    /// assert_eq!(early, Err(ConnectError::NotStarted)); // the app heard it as its connection_lost
    /// ep.connection_made(&mut t);
    /// ep.connect(&mut t, at, "localhost", Box::new(Idle)).unwrap();
    /// assert_eq!(ep.connections(), 1);
    /// assert_eq!(t.take_sent().len(), 1, "the client's Initial");
    /// ```
    pub fn connect(
        &mut self,
        t: &mut dyn DatagramTransport,
        server: SocketAddr,
        server_name: &str,
        app: Box<dyn QuicApp>,
    ) -> Result<(), ConnectError> {
        self.engine
            .connect(t, self.crypto.clone(), server, server_name, app)
    }

    /// [`connect`](Self::connect) with one bidirectional stream carrying
    /// `proto` (the connection closes when that stream's protocol is done),
    /// as [`QuicClient::stream`].
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
    /// use strata::testing::MemoryDatagramTransport;
    /// let mut ep = QuicClientEndpoint::new(QuicConfig::default(), client_tls()).unwrap();
    /// let mut t = MemoryDatagramTransport::new(1500);
    /// ep.connection_made(&mut t);
    /// let (tx, _rx) = mpsc::channel();
    /// let say = |tx: &mpsc::Sender<_>| Box::new(Say(b"hi", tx.clone()));
    /// ep.connect_stream(&mut t, SERVER.parse().unwrap(), "localhost", say(&tx)).unwrap();
    /// let nowhere = "10.0.0.2:0".parse().unwrap();
    /// let bad = ep.connect_stream(&mut t, nowhere, "localhost", say(&tx));
    /// assert_eq!(bad, Err(ConnectError::InvalidServerAddress(nowhere)));
    /// assert_eq!(ep.connections(), 1);
    /// ```
    pub fn connect_stream(
        &mut self,
        t: &mut dyn DatagramTransport,
        server: SocketAddr,
        server_name: &str,
        proto: Box<dyn StreamProtocol>,
    ) -> Result<(), ConnectError> {
        let app = PerStream::client(proto);
        self.connect(t, server, server_name, Box::new(app))
    }

    /// Connections open now (handshaking, established or closing).
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
    /// use strata::testing::MemoryDatagramTransport;
    /// let cfg = QuicConfig { max_connections: 2, ..QuicConfig::default() };
    /// let mut ep = QuicClientEndpoint::new(cfg, client_tls()).unwrap();
    /// let mut t = MemoryDatagramTransport::new(1500);
    /// ep.connection_made(&mut t);
    /// for port in [4433, 4434, 4435] {
    ///     let at = std::net::SocketAddr::from(([10, 0, 0, 2], port));
    ///     let _ = ep.connect(&mut t, at, "localhost", Box::new(Idle));
    /// }
    /// assert_eq!(ep.connections(), 2); // the third was refused: ConnectionLimit(2)
    /// ```
    pub fn connections(&self) -> usize {
        self.engine.connections()
    }
}

super::engine::datagram_protocol_via_engine!(QuicClientEndpoint);

/// Why [`QuicClientEndpoint::connect`] refused a connection. No packet was
/// sent for it.
///
/// ```
/// use strata::quic::ConnectError;
/// use strata::{Fault, LayerError};
/// let e = ConnectError::InvalidServerName("a b".into());
/// assert_eq!(e.kind(), Fault::Config);
/// assert_eq!(ConnectError::ConnectionLimit(2).kind(), Fault::LocalLimit);
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// Not a DNS name or an IP address TLS can verify.
    #[error("invalid server name: {0}")]
    InvalidServerName(String),
    /// An address nothing can be sent to (port 0, unspecified).
    #[error("invalid server address: {0}")]
    InvalidServerAddress(SocketAddr),
    /// The endpoint's transport has not started yet (`connection_made`).
    #[error("the endpoint has not started")]
    NotStarted,
    /// The endpoint is shutting down, or its transport is gone.
    #[error("the endpoint is closed")]
    Closed,
    /// [`QuicConfig::max_connections`] connections are open.
    #[error("the endpoint holds its limit of {0} connections")]
    ConnectionLimit(usize),
    /// The endpoint's configuration cannot open this connection.
    #[error("configuration refused: {0}")]
    Config(String),
}

impl crate::LayerError for ConnectError {
    fn kind(&self) -> crate::Fault {
        match self {
            ConnectError::InvalidServerName(_)
            | ConnectError::InvalidServerAddress(_)
            | ConnectError::Config(_) => crate::Fault::Config,
            ConnectError::NotStarted | ConnectError::Closed => crate::Fault::Local,
            ConnectError::ConnectionLimit(_) => crate::Fault::LocalLimit,
        }
    }
}

impl From<quinn_proto::ConnectError> for ConnectError {
    fn from(e: quinn_proto::ConnectError) -> Self {
        use quinn_proto::ConnectError as E;
        match e {
            E::InvalidServerName(n) => ConnectError::InvalidServerName(n),
            E::InvalidRemoteAddress(a) => ConnectError::InvalidServerAddress(a),
            E::EndpointStopping => ConnectError::Closed,
            e @ (E::CidsExhausted | E::NoDefaultClientConfig | E::UnsupportedVersion) => {
                ConnectError::Config(e.to_string())
            }
        }
    }
}

/// [`QuicClient`] reports a refused start as [`QuicError::Connect`] (or
/// [`QuicError::Config`]), as it did before the endpoint existed.
impl From<ConnectError> for QuicError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Config(c) => QuicError::Config(c),
            e => QuicError::Connect(e.to_string()),
        }
    }
}
