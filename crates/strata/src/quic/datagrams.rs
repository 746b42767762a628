//! [`DatagramApp`]: the connection's DATAGRAM frames (RFC 9221) as a
//! [`DatagramTransport`] for a [`DatagramProtocol`].

use std::any::{Any, TypeId};
use std::time::Instant;

use bytes::Bytes;

use super::{QuicApp, QuicConnection, QuicError, StreamId};
use crate::{
    Close, Datagram, DatagramProtocol, DatagramTransport, Introspect, Transmit, Wake, WakeRoute,
};

/// The app that runs a [`DatagramProtocol`] over the connection's DATAGRAM
/// frames: unreliable, unordered, boundaries kept, as over UDP. Each sent
/// datagram is one frame (a GSO batch is split); one over the peer's
/// limit is dropped and counted, as a datagram transport drops. Streams the
/// peer opens are refused (STOP_SENDING 0).
///
/// `close` sends CONNECTION_CLOSE 0; `abort` closes with the code of a
/// [`QuicError::StreamAborted`] reason, else 0.
///
/// ```
/// use strata::quic::DatagramApp;
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
///         for d in b { t.send(&Transmit::connected(d.data)) }
///     }
/// }
/// let app = DatagramApp::new(Box::new(Echo));
/// assert_eq!(app.dropped(), 0);
/// ```
pub struct DatagramApp {
    proto: Box<dyn DatagramProtocol>,
    st: DState,
}

struct DState {
    started: bool,
    read_paused: bool,
    dropped: u64,
    closed: bool,
}

impl DatagramApp {
    /// Runs `proto` once the handshake is done.
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
    /// /// Echoes datagrams.
    /// struct Mirror;
    /// impl DatagramProtocol for Mirror {
    ///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
    ///         for d in batch {
    ///             t.send(&strata::Transmit::connected(d.data));
    ///         }
    ///     }
    /// }
    /// let server = QuicServer::new(QuicConfig::default(), server_tls(), Arc::new(|_| {
    ///     Some(Box::new(DatagramApp::new(Box::new(Mirror))) as Box<dyn QuicApp>)
    /// }))
    /// .unwrap();
    /// /// Sends a datagram, reports what comes back.
    /// struct Ping(mpsc::Sender<Vec<u8>>);
    /// impl QuicApp for Ping {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let _ = c.send_datagram(Bytes::from_static(b"marco"));
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn datagram_received(&mut self, _: &mut dyn QuicConnection, d: &[u8]) {
    ///         self.0.send(d.to_vec()).unwrap();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// let at = SERVER.parse().unwrap();
    /// let client = QuicClient::new(QuicConfig::default(), client_tls(), "localhost", at, Box::new(Ping(tx))).unwrap();
    /// net(server, client).run(Duration::from_secs(1));
    /// assert_eq!(rx.try_recv().unwrap(), b"marco");
    /// ```
    pub fn new(proto: Box<dyn DatagramProtocol>) -> Self {
        DatagramApp {
            proto,
            st: DState {
                started: false,
                read_paused: false,
                dropped: 0,
                closed: false,
            },
        }
    }

    /// Datagrams dropped: over the peer's limit, refused by it, or arrived
    /// while reading was paused.
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
    /// /// Sends one datagram too large for a QUIC packet, and one that fits.
    /// struct Two;
    /// impl DatagramProtocol for Two {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         t.send(&strata::Transmit::connected(&[0; 4000]));
    ///         t.send(&strata::Transmit::connected(b"fits"));
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// /// Reports the DatagramApp's count once its protocol started.
    /// struct Watch(DatagramApp, mpsc::Sender<u64>);
    /// impl QuicApp for Watch {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         self.0.connection_made(c);
    ///         self.1.send(self.0.dropped()).unwrap();
    ///     }
    ///     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, d: &[u8]) {
    ///         self.0.stream_data(c, id, d)
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// let app = Watch(DatagramApp::new(Box::new(Two)), tx);
    /// let at = SERVER.parse().unwrap();
    /// let client = QuicClient::new(QuicConfig::default(), client_tls(), "localhost", at, Box::new(app)).unwrap();
    /// net(echo_server(), client).run(Duration::from_secs(1));
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn dropped(&self) -> u64 {
        self.st.dropped
    }
}

struct DView<'a> {
    c: &'a mut dyn QuicConnection,
    st: &'a mut DState,
}

impl Introspect for DView<'_> {
    fn name(&self) -> &'static str {
        "quic-datagrams"
    }
    fn local_capability(&self, _: TypeId) -> Option<&dyn Any> {
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.c as &dyn Introspect)
    }
}

impl DatagramTransport for DView<'_> {
    fn send(&mut self, tx: &Transmit<'_>) {
        if self.st.closed {
            self.st.dropped += 1;
            return;
        }
        for seg in tx.segments() {
            if self.c.send_datagram(Bytes::copy_from_slice(seg)).is_err() {
                self.st.dropped += 1;
            }
        }
    }
    fn max_datagram_size(&self) -> usize {
        self.c.max_datagram_size().unwrap_or(0)
    }
    fn close(&mut self) {
        if !self.st.closed {
            self.st.closed = true;
            self.c.close(0, b"");
        }
    }
    fn abort(&mut self, why: Close) {
        if !self.st.closed {
            self.st.closed = true;
            let code = match why.error::<QuicError>() {
                Some(QuicError::StreamAborted(code)) => *code,
                _ => 0,
            };
            self.c.close(code, why.to_string().as_bytes());
        }
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
    }
    fn buffered(&self) -> usize {
        0
    }
    fn writable(&self) -> bool {
        !self.st.closed
    }
    fn now(&self) -> Instant {
        self.c.now()
    }
    fn waker(&self) -> Wake {
        self.c.waker()
    }
}

impl QuicApp for DatagramApp {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.st.started = true;
        self.proto.connection_made(&mut DView {
            c,
            st: &mut self.st,
        });
    }
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        c.stop_sending(id, 0);
        if id.is_bidi() {
            c.reset(id, 0);
        }
    }
    fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {
        if self.st.read_paused || self.st.closed {
            self.st.dropped += 1;
            return;
        }
        let batch = [Datagram::new(None, data)];
        self.proto.datagrams_received(
            &mut DView {
                c,
                st: &mut self.st,
            },
            &batch,
        );
    }
    fn next_deadline(&self) -> Option<Instant> {
        if self.st.started {
            self.proto.next_deadline()
        } else {
            None
        }
    }
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        self.proto.on_deadline(&mut DView {
            c,
            st: &mut self.st,
        });
    }
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        self.proto.on_wake(
            &mut DView {
                c,
                st: &mut self.st,
            },
            route,
        );
    }
    fn connection_lost(&mut self, why: &Close) {
        self.proto.connection_lost(why);
    }
}
