//! [`QuicServer`]: accepts connections on one datagram transport.

use std::sync::Arc;

use super::engine::{Engine, Role};
use super::{AppFactory, QuicConfig, QuicError};

/// The server: a datagram protocol over one socket (or any datagram
/// transport). Each connection runs the [`QuicApp`](super::QuicApp) its
/// [`AppFactory`] picks by the negotiated ALPN; a connection without one is
/// closed with [`NO_APPLICATION_CODE`](super::NO_APPLICATION_CODE).
///
/// Over the limit of [`QuicConfig::max_connections`] new connections are
/// refused (CONNECTION_REFUSED); with [`RetryPolicy`](super::RetryPolicy)
/// new clients first prove their address with a Retry.
///
/// ```
/// use std::sync::Arc;
/// use strata::quic::{PerStream, QuicApp, QuicConfig, QuicServer};
/// use strata::tls::{Identity, ServerTls};
/// # use strata::{StreamProtocol, StreamTransport};
/// # struct Echo;
/// # impl StreamProtocol for Echo {
/// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let tls = ServerTls::new(&Identity::localhost()?).alpn(["echo"]).build_rustls()?;
/// let server = QuicServer::new(
///     QuicConfig::default(),
///     Arc::new(tls),
///     Arc::new(|_alpn| Some(Box::new(PerStream::new(Arc::new(|| Box::new(Echo)))) as Box<dyn QuicApp>)),
/// )?;
/// assert_eq!(server.connections(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct QuicServer {
    engine: Engine,
}

impl QuicServer {
    /// A server answering with `tls` (TLS 1.3) and running, per connection,
    /// the app `apps` picks by the negotiated ALPN. `cfg.alpn`, when not
    /// empty, replaces the ALPN list of `tls`.
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
    /// /// Runs `Echo` on every stream of a connection that chose "demo".
    /// let echo: StreamFactory = Arc::new(|| Box::new(Echo));
    /// let apps: AppFactory = Arc::new(move |alpn| match alpn {
    ///     Some(b"demo") => Some(Box::new(PerStream::new(echo.clone())) as Box<dyn QuicApp>),
    ///     _ => None,
    /// });
    /// let server = QuicServer::new(QuicConfig::default(), server_tls(), apps).unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// let at = SERVER.parse().unwrap();
    /// let say = Box::new(Say(b"echo me", tx));
    /// let client = QuicClient::stream(QuicConfig::default(), client_tls(), "localhost", at, say).unwrap();
    /// net(server, client).run(Duration::from_secs(5));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>().concat(), b"echo me");
    /// ```
    pub fn new(
        cfg: QuicConfig,
        tls: Arc<rustls::ServerConfig>,
        apps: AppFactory,
    ) -> Result<Self, QuicError> {
        let tls = if cfg.alpn.is_empty() {
            tls
        } else {
            let mut t = (*tls).clone();
            t.alpn_protocols = cfg.alpn.clone();
            Arc::new(t)
        };
        let tls = cfg.server_tls(tls);
        let crypto = quinn_proto::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| QuicError::Config(format!("TLS configuration: {e}")))?;
        let role = Role::Server {
            crypto: Arc::new(crypto),
            apps,
        };
        Ok(QuicServer {
            engine: Engine::new(cfg, role),
        })
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
    /// let (server, handle) = shared(echo_server());
    /// let at = SERVER.parse().unwrap();
    /// let client = QuicClient::new(QuicConfig::default(), client_tls(), "localhost", at, Box::new(Idle)).unwrap();
    /// assert_eq!(server.lock().unwrap().connections(), 0);
    /// net(handle, client).run(Duration::from_secs(1));
    /// assert_eq!(server.lock().unwrap().connections(), 1); // idle, not yet timed out
    /// ```
    pub fn connections(&self) -> usize {
        self.engine.connections()
    }
}

super::engine::datagram_protocol_via_engine!(QuicServer);
