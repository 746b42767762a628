//! [`QuicEndpoint`]: one UDP socket running a
//! [`QuicClientEndpoint`], and a handle async code connects through, as
//! through quinn's `Endpoint`.
//!
//! `connect` queues its request (server, name, app) and wakes the socket's
//! task through the stack's root [`Wake`]; the protocol on the socket
//! (`Opener`) takes the queue on that wake and opens each connection with
//! the transport in hand. The request's app reports when its handshake is
//! done (the connect returns) and when it ends (the returned
//! [`Connection`] says why), as [`QuicPool`](super::QuicPool) does for
//! its streams. When the last handle is dropped the endpoint takes no more
//! connections and closes its socket once the last one has ended;
//! [`QuicEndpoint::shutdown`] closes them first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use strata::quic::{ConnectError, PerStream, QuicApp, QuicClientEndpoint, QuicConfig};
use strata::{
    AbortReason, Addr, Close, Datagram, DatagramProtocol, DatagramTransport, StackConfig,
    StreamProtocol, Wake, WakeRoute,
};

use crate::connect::Connection;
use crate::control::Shared as Control;
use crate::error::DriverError;

/// A QUIC client endpoint on one UDP socket: any number of connections, to
/// any servers, opened one after another or at once, each running its own
/// [`QuicApp`]. Clones share the endpoint.
///
/// ```no_run
/// # async fn run(app: Box<dyn strata::quic::QuicApp>, proto: Box<dyn strata::StreamProtocol>) -> Result<(), strata_tokio::DriverError> {
/// use std::sync::Arc;
/// use strata::quic::QuicConfig;
/// use strata::tls::ClientTls;
/// let (tls, _) = ClientTls::new("localhost").unwrap().alpn(["echo"]).build_rustls().unwrap();
/// let ep = strata_tokio::QuicEndpoint::bind(
///     "0.0.0.0:0".parse().unwrap(),
///     QuicConfig::default(),
///     Arc::new(tls),
///     Arc::new(strata::StackConfig::default()),
/// )
/// .await?;
/// let server = "127.0.0.1:4433".parse().unwrap();
/// let first = ep.connect(server, "localhost", app).await?; // the handshake is done
/// let second = ep.connect_stream(server, "localhost", proto).await?; // same socket
/// println!("{}", second.closed().await);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct QuicEndpoint {
    inner: Arc<Inner>,
}

/// What the handles share; its drop (the last handle's) lets the socket
/// close once its connections are over.
struct Inner {
    shared: Arc<Shared>,
    local: SocketAddr,
    control: Arc<Control>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<Close>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let wake = {
            let mut q = self.shared.lock();
            q.released = true;
            q.wake.clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
    }
}

/// The queue between the handles and the protocol on the socket.
#[derive(Default)]
struct Shared {
    q: Mutex<Queue>,
    /// Connections open now (as the protocol last saw them).
    conns: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Request>,
    /// The socket task's root wake, once it started.
    wake: Option<Wake>,
    /// The socket is gone.
    dead: Option<Close>,
    /// Every handle was dropped.
    released: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Request {
    server: SocketAddr,
    name: String,
    app: Box<dyn QuicApp>,
}

impl std::fmt::Debug for QuicEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicEndpoint")
            .field("local", &self.inner.local)
            .field("connections", &self.connections())
            .finish()
    }
}

impl QuicEndpoint {
    /// Binds one UDP socket at `local` (port 0: any) and starts the
    /// endpoint on it: connections verify their servers with `tls`
    /// (TLS 1.3; `cfg.alpn`, when not empty, replaces its ALPN list), with
    /// the limits and deadlines of `cfg` each.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Sends "ping", half-closes, and keeps what comes back.
    /// # struct Ping(Arc<Mutex<Vec<u8>>>);
    /// # impl StreamProtocol for Ping {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"ping"); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Never closes on its own.
    /// # struct Wait;
    /// # impl StreamProtocol for Wait {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # // A QUIC echo server on loopback (a self-signed certificate, ALPN "echo").
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let server = strata_tokio::Server::new();
    /// # let listen = strata::endpoint::Endpoint::parse_with("quic+udp://127.0.0.1:0?quic.alpn=echo", &strata_tokio::registry()).unwrap();
    /// # let addr = server.listen(&listen, echo, Default::default()).await.unwrap().socket_addr().unwrap();
    /// use strata::quic::QuicConfig;
    /// use strata::tls::ClientTls;
    /// // Tests only: `insecure` accepts the server's self-signed certificate.
    /// let (tls, _) = ClientTls::new("localhost").unwrap().insecure().alpn(["echo"]).build_rustls().unwrap();
    /// let ep = strata_tokio::QuicEndpoint::bind(
    ///     "127.0.0.1:0".parse().unwrap(),
    ///     QuicConfig::default(),
    ///     Arc::new(tls),
    ///     Arc::new(strata::StackConfig::default()),
    /// )
    /// .await
    /// .unwrap();
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let conn = ep.connect_stream(addr, "localhost", Box::new(Ping(got.clone()))).await.unwrap();
    /// assert!(conn.closed().await.is_clean());
    /// assert_eq!(*got.lock().unwrap(), b"ping");
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn bind(
        local: SocketAddr,
        cfg: QuicConfig,
        tls: Arc<rustls::ClientConfig>,
        stack: Arc<StackConfig>,
    ) -> Result<QuicEndpoint, DriverError> {
        let ep = QuicClientEndpoint::new(cfg, tls).map_err(|e| DriverError::BadOption {
            layer: super::NAME.into(),
            key: "*".into(),
            value: e.to_string(),
            expected: "settings QUIC accepts",
        })?;
        let shared = Arc::new(Shared::default());
        let opener = Opener {
            ep,
            shared: shared.clone(),
        };
        let control = Arc::new(Control::default());
        let (local, task) = crate::udp::spawn(&control, local, None, Box::new(opener), stack)
            .await
            .map_err(|e| DriverError::io("bind", local, e))?;
        Ok(QuicEndpoint {
            inner: Arc::new(Inner {
                shared,
                local,
                control,
                task: tokio::sync::Mutex::new(Some(task)),
            }),
        })
    }

    /// The socket's address.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Sends "ping", half-closes, and keeps what comes back.
    /// # struct Ping(Arc<Mutex<Vec<u8>>>);
    /// # impl StreamProtocol for Ping {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"ping"); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Never closes on its own.
    /// # struct Wait;
    /// # impl StreamProtocol for Wait {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # // A QUIC echo server on loopback (a self-signed certificate, ALPN "echo").
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let server = strata_tokio::Server::new();
    /// # let listen = strata::endpoint::Endpoint::parse_with("quic+udp://127.0.0.1:0?quic.alpn=echo", &strata_tokio::registry()).unwrap();
    /// # let addr = server.listen(&listen, echo, Default::default()).await.unwrap().socket_addr().unwrap();
    /// # let (tls, _) = strata::tls::ClientTls::new("localhost").unwrap().insecure().alpn(["echo"]).build_rustls().unwrap();
    /// # let ep = strata_tokio::QuicEndpoint::bind(
    /// #     "127.0.0.1:0".parse().unwrap(),
    /// #     strata::quic::QuicConfig::default(),
    /// #     Arc::new(tls),
    /// #     Arc::new(strata::StackConfig::default()),
    /// # )
    /// # .await
    /// # .unwrap();
    /// // `ep` was bound at 127.0.0.1:0: the system chose the port.
    /// assert!(ep.local_addr().ip().is_loopback());
    /// assert_ne!(ep.local_addr().port(), 0);
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Connections open now (handshaking, established or closing).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Sends "ping", half-closes, and keeps what comes back.
    /// # struct Ping(Arc<Mutex<Vec<u8>>>);
    /// # impl StreamProtocol for Ping {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"ping"); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Never closes on its own.
    /// # struct Wait;
    /// # impl StreamProtocol for Wait {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # // A QUIC echo server on loopback (a self-signed certificate, ALPN "echo").
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let server = strata_tokio::Server::new();
    /// # let listen = strata::endpoint::Endpoint::parse_with("quic+udp://127.0.0.1:0?quic.alpn=echo", &strata_tokio::registry()).unwrap();
    /// # let addr = server.listen(&listen, echo, Default::default()).await.unwrap().socket_addr().unwrap();
    /// # let (tls, _) = strata::tls::ClientTls::new("localhost").unwrap().insecure().alpn(["echo"]).build_rustls().unwrap();
    /// # let ep = strata_tokio::QuicEndpoint::bind(
    /// #     "127.0.0.1:0".parse().unwrap(),
    /// #     strata::quic::QuicConfig::default(),
    /// #     Arc::new(tls),
    /// #     Arc::new(strata::StackConfig::default()),
    /// # )
    /// # .await
    /// # .unwrap();
    /// use strata::quic::PerStream;
    /// assert_eq!(ep.connections(), 0);
    /// let conn = ep.connect(addr, "localhost", Box::new(PerStream::client(Box::new(Wait)))).await.unwrap();
    /// assert_eq!(ep.connections(), 1); // handshake done, still open
    /// ep.shutdown(Duration::ZERO).await;
    /// assert_eq!(ep.connections(), 0);
    /// # let _ = conn;
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub fn connections(&self) -> usize {
        self.inner.shared.conns.load(Ordering::Relaxed)
    }

    /// Connects to `server`, verified as `server_name`, and runs `app` on
    /// the connection; returns once the handshake is done (the app got
    /// `connection_made`), or fails with the reason it could not be (bad
    /// input, the endpoint closed, nobody answers: the handshake deadline
    /// bounds the wait). The connection ends when the app closes it, the
    /// peer does, or it idles out; the returned [`Connection`] says why.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Sends "ping", half-closes, and keeps what comes back.
    /// # struct Ping(Arc<Mutex<Vec<u8>>>);
    /// # impl StreamProtocol for Ping {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"ping"); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Never closes on its own.
    /// # struct Wait;
    /// # impl StreamProtocol for Wait {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # // A QUIC echo server on loopback (a self-signed certificate, ALPN "echo").
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let server = strata_tokio::Server::new();
    /// # let listen = strata::endpoint::Endpoint::parse_with("quic+udp://127.0.0.1:0?quic.alpn=echo", &strata_tokio::registry()).unwrap();
    /// # let addr = server.listen(&listen, echo, Default::default()).await.unwrap().socket_addr().unwrap();
    /// # let (tls, _) = strata::tls::ClientTls::new("localhost").unwrap().insecure().alpn(["echo"]).build_rustls().unwrap();
    /// # let ep = strata_tokio::QuicEndpoint::bind(
    /// #     "127.0.0.1:0".parse().unwrap(),
    /// #     strata::quic::QuicConfig::default(),
    /// #     Arc::new(tls),
    /// #     Arc::new(strata::StackConfig::default()),
    /// # )
    /// # .await
    /// # .unwrap();
    /// use strata::quic::PerStream;
    /// // Any QuicApp; here one client stream carrying Ping.
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let app = PerStream::client(Box::new(Ping(got.clone())));
    /// let conn = ep.connect(addr, "localhost", Box::new(app)).await.unwrap(); // the handshake is done
    /// assert!(conn.closed().await.is_clean());
    /// assert_eq!(*got.lock().unwrap(), b"ping");
    /// // An IPv6 server from an IPv4 socket: refused at once.
    /// assert!(ep.connect("[::1]:4433".parse().unwrap(), "localhost", Box::new(PerStream::client(Box::new(Wait)))).await.is_err());
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn connect(
        &self,
        server: SocketAddr,
        server_name: &str,
        app: Box<dyn QuicApp>,
    ) -> Result<Connection, DriverError> {
        if server.is_ipv4() != self.inner.local.is_ipv4() {
            let why = ConnectError::InvalidServerAddress(server);
            return Err(refused(
                server,
                Close::aborted("quic", AbortReason::layer(why)),
            ));
        }
        let (tracked, (started, ended)) = super::apps::Started::new(app);
        let request = Request {
            server,
            name: server_name.to_owned(),
            app: Box::new(tracked),
        };
        let wake = {
            let mut q = self.inner.shared.lock();
            if let Some(why) = q.dead.clone() {
                return Err(crate::endpoint::not_started(server, why));
            }
            q.pending.push_back(request);
            q.wake.clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
        let outcome = started.await;
        let task = tokio::spawn(async move { ended.await.unwrap_or(Close::Done) });
        match outcome {
            Ok(Ok(())) => Ok(Connection::new(Addr::Inet(server), task)),
            Ok(Err(why)) => Err(refused(server, why)),
            Err(_) => Err(crate::endpoint::not_started(
                server,
                Close::aborted("quic", AbortReason::Shutdown),
            )),
        }
    }

    /// [`connect`](Self::connect) with one bidirectional stream carrying
    /// `proto` (the connection closes when that stream's protocol is done).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Sends "ping", half-closes, and keeps what comes back.
    /// # struct Ping(Arc<Mutex<Vec<u8>>>);
    /// # impl StreamProtocol for Ping {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"ping"); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Never closes on its own.
    /// # struct Wait;
    /// # impl StreamProtocol for Wait {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # // A QUIC echo server on loopback (a self-signed certificate, ALPN "echo").
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let server = strata_tokio::Server::new();
    /// # let listen = strata::endpoint::Endpoint::parse_with("quic+udp://127.0.0.1:0?quic.alpn=echo", &strata_tokio::registry()).unwrap();
    /// # let addr = server.listen(&listen, echo, Default::default()).await.unwrap().socket_addr().unwrap();
    /// # let (tls, _) = strata::tls::ClientTls::new("localhost").unwrap().insecure().alpn(["echo"]).build_rustls().unwrap();
    /// # let ep = strata_tokio::QuicEndpoint::bind(
    /// #     "127.0.0.1:0".parse().unwrap(),
    /// #     strata::quic::QuicConfig::default(),
    /// #     Arc::new(tls),
    /// #     Arc::new(strata::StackConfig::default()),
    /// # )
    /// # .await
    /// # .unwrap();
    /// // Two connections, one after the other, from the same socket.
    /// for _ in 0..2 {
    ///     let got = Arc::new(Mutex::new(Vec::new()));
    ///     let conn = ep.connect_stream(addr, "localhost", Box::new(Ping(got.clone()))).await.unwrap();
    ///     assert!(conn.closed().await.is_clean());
    ///     assert_eq!(*got.lock().unwrap(), b"ping");
    /// }
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn connect_stream(
        &self,
        server: SocketAddr,
        server_name: &str,
        proto: Box<dyn StreamProtocol>,
    ) -> Result<Connection, DriverError> {
        let app = PerStream::client(proto);
        self.connect(server, server_name, Box::new(app)).await
    }

    /// Closes every connection (each app says goodbye its own way, as on a
    /// server's drain), aborts those still open after `drain`, closes the
    /// socket, and returns why the socket's task ended.
    ///
    /// A connection closed by us still waits out QUIC's closing period
    /// (three probe timeouts: about 0.1 s on loopback, more on a slow path
    /// or a busy machine) before the socket closes. A `drain` shorter than
    /// that cuts the period short: the socket's task then ends aborted
    /// ([`AbortReason::Shutdown`]) although every connection's own close
    /// was clean. The call returns as soon as the socket closes, so a
    /// generous `drain` costs nothing when all goes well.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Sends "ping", half-closes, and keeps what comes back.
    /// # struct Ping(Arc<Mutex<Vec<u8>>>);
    /// # impl StreamProtocol for Ping {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"ping"); t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # /// Never closes on its own.
    /// # struct Wait;
    /// # impl StreamProtocol for Wait {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # // A QUIC echo server on loopback (a self-signed certificate, ALPN "echo").
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let server = strata_tokio::Server::new();
    /// # let listen = strata::endpoint::Endpoint::parse_with("quic+udp://127.0.0.1:0?quic.alpn=echo", &strata_tokio::registry()).unwrap();
    /// # let addr = server.listen(&listen, echo, Default::default()).await.unwrap().socket_addr().unwrap();
    /// # let (tls, _) = strata::tls::ClientTls::new("localhost").unwrap().insecure().alpn(["echo"]).build_rustls().unwrap();
    /// # let ep = strata_tokio::QuicEndpoint::bind(
    /// #     "127.0.0.1:0".parse().unwrap(),
    /// #     strata::quic::QuicConfig::default(),
    /// #     Arc::new(tls),
    /// #     Arc::new(strata::StackConfig::default()),
    /// # )
    /// # .await
    /// # .unwrap();
    /// let conn = ep.connect_stream(addr, "localhost", Box::new(Wait)).await.unwrap();
    /// let why = ep.shutdown(Duration::from_secs(5)).await; // returns after ~0.1 s
    /// assert!(why.is_clean(), "{why}");
    /// assert!(conn.closed().await.is_clean()); // closed by us, gracefully
    /// assert!(ep.connect_stream(addr, "localhost", Box::new(Wait)).await.is_err()); // no more
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn shutdown(&self, drain: Duration) -> Close {
        self.inner
            .control
            .start_shutdown(strata::deadline::after(Instant::now(), drain));
        let mut task = self.inner.task.lock().await;
        match task.take() {
            Some(t) => t.await.unwrap_or(Close::Done),
            None => Close::Done,
        }
    }
}

/// A connect the endpoint refused or whose handshake failed: a refusal
/// for bad input is `InvalidInput`, the rest as a failed start.
fn refused(server: SocketAddr, why: Close) -> DriverError {
    let bad_input = why
        .error::<ConnectError>()
        .is_some_and(|e| !matches!(e, ConnectError::Closed | ConnectError::NotStarted));
    if bad_input {
        DriverError::io(
            "connect",
            server,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()),
        )
    } else {
        crate::endpoint::not_started(server, why)
    }
}

/// The protocol on the socket: the endpoint, and the queue it opens
/// connections from on its own wake.
struct Opener {
    ep: QuicClientEndpoint,
    shared: Arc<Shared>,
}

impl Opener {
    fn open_queued(&mut self, t: &mut dyn DatagramTransport) {
        loop {
            let Some(r) = self.shared.lock().pending.pop_front() else {
                return;
            };
            // A refusal reaches the request's app (and so its caller).
            let _ = self.ep.connect(t, r.server, &r.name, r.app);
        }
    }

    /// After every callback: the count the handles read, and the socket
    /// closed once released and empty.
    fn settle(&mut self, t: &mut dyn DatagramTransport) {
        let n = self.ep.connections();
        self.shared.conns.store(n, Ordering::Relaxed);
        if n == 0 && self.shared.lock().released {
            t.close();
        }
    }

    fn end(&mut self, why: &Close) {
        let pending = {
            let mut q = self.shared.lock();
            q.dead.get_or_insert(why.clone());
            q.wake = None;
            std::mem::take(&mut q.pending)
        };
        for mut r in pending {
            r.app.connection_lost(why);
        }
        self.shared.conns.store(0, Ordering::Relaxed);
    }
}

impl DatagramProtocol for Opener {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.connection_made(t);
        self.shared.lock().wake = Some(t.waker());
        self.open_queued(t);
        self.settle(t);
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        self.ep.datagrams_received(t, batch);
        self.settle(t);
    }
    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.eof_received(t);
        self.settle(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.ep.connection_lost(why);
        self.end(why);
    }
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.pause_writing(t);
    }
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.resume_writing(t);
        self.settle(t);
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.ep.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        self.ep.on_deadline(t);
        self.settle(t);
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        if route.is_here() {
            self.open_queued(t);
        } else {
            self.ep.on_wake(t, route);
        }
        self.settle(t);
    }
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        // Nothing new opens: what waits is refused by the endpoint.
        self.ep.on_shutdown(t);
        self.open_queued(t);
        self.settle(t);
    }
    fn error_received(&mut self, t: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        self.ep.error_received(t, kind);
        self.settle(t);
    }
    fn buffered(&self) -> usize {
        self.ep.buffered()
    }
}
