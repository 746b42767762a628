//! [`Server`]: listeners, UDP sockets and the connections they spawn, with a
//! graceful shutdown; and [`Listening`], what a bind gives back.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::endpoint::{Endpoint, Host, Target};
use strata::{Addr, DatagramProtocol, StackConfig};

use crate::config::ListenConfig;
use crate::control::Shared;
use crate::error::DriverError;
use crate::stats::{ServerStats, StackStats};
use crate::tls::TlsIdentity;
use strata::StreamFactory;

/// What a listener or a UDP socket bound to (port 0 resolved to the real
/// port), and its name as an endpoint string. It ends with the server's
/// [`shutdown`](Server::shutdown), with the connections it serves.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use strata::endpoint::Endpoint;
/// use strata::{StreamProtocol, StreamTransport};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let f: strata_tokio::StreamFactory = std::sync::Arc::new(|| Box::new(Echo));
/// let server = strata_tokio::Server::new();
/// let ep = Endpoint::parse("reliable+udp://127.0.0.1:0").unwrap();
/// let l = server.listen(&ep, f, Default::default()).await.unwrap();
/// let back = Endpoint::parse(&l.endpoint()).unwrap();
/// assert_eq!(back.layers, ["reliable", "udp"]);
/// assert_eq!(back.target.to_string(), l.local.to_string());
/// server.shutdown(std::time::Duration::ZERO).await;
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listening {
    /// The bound address or path.
    pub local: Addr,
    /// The endpoint bound, on the bound address, with the options a client
    /// shares with the server (the `reliable.*` ones: they choose the wire).
    endpoint: Endpoint,
}

impl Listening {
    /// What `ep` bound to at `local`.
    pub(crate) fn bound(ep: &Endpoint, local: Addr) -> Listening {
        let target = match &local {
            Addr::Inet(a) => Target::Host {
                host: Host::Ip(a.ip()),
                port: a.port(),
            },
            Addr::Unix(Some(p)) => Target::Path(p.clone()),
            // A listener always has an address or a path; keep what was asked.
            _ => ep.target.clone(),
        };
        let endpoint = Endpoint {
            layers: ep.layers.clone(),
            target,
            options: ep
                .options
                .iter()
                .filter(|o| o.layer == "reliable" || (o.layer == "quic" && o.key == "alpn"))
                .cloned()
                .collect(),
        };
        Listening { local, endpoint }
    }

    /// The bound IP address and port; `None` for a Unix socket.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use strata::{StreamProtocol, StreamTransport};
    /// struct Discard;
    /// impl StreamProtocol for Discard {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let f: strata_tokio::StreamFactory = std::sync::Arc::new(|| Box::new(Discard));
    /// let server = strata_tokio::Server::new();
    /// let ep = "tcp://127.0.0.1:0".parse().unwrap();
    /// let l = server.listen(&ep, f, Default::default()).await.unwrap();
    /// assert_ne!(l.socket_addr().unwrap().port(), 0);
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.local {
            Addr::Inet(a) => Some(a),
            _ => None,
        }
    }

    /// What was bound, as an endpoint string that parses
    /// ([`Endpoint::parse`]) and connects: the scheme chain, the bound
    /// address or path (`tcp://127.0.0.1:40001`, `unix:///run/app.sock`,
    /// `reliable+udp://[::1]:40002`), and the options that choose the wire
    /// (`reliable.mode=kcp`, `quic.alpn`). A server's own settings (`tls.cert`,
    /// `tcp.backlog`) are left out: a TLS client adds how it trusts the
    /// server (`tls.ca=` or `tls.insecure=true`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
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
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let stack = Arc::new(strata::StackConfig::default());
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::Server;
    /// let server = Server::new();
    /// let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    /// let bound = server.listen(&ep, echo, Default::default()).await.unwrap();
    /// let port = bound.socket_addr().unwrap().port();
    /// assert_eq!(bound.endpoint(), format!("tcp://127.0.0.1:{port}"));
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub fn endpoint(&self) -> String {
        self.endpoint.to_string()
    }
}

/// A handle on a set of listeners and UDP sockets and the connections they
/// serve. Clones share the same server.
///
/// [`shutdown`](Server::shutdown) stops accepting, delivers `on_shutdown` to
/// every stack, aborts what is left when the drain time is over with
/// `AbortReason::Shutdown`, and returns once every task has ended.
///
/// ```no_run
/// # async fn run(factory: strata_tokio::StreamFactory) -> std::io::Result<()> {
/// use strata_tokio::{ListenConfig, Server};
/// let server = Server::new();
/// server.listen_tcp("127.0.0.1:8080".parse().unwrap(), factory, ListenConfig::default()).await?;
/// tokio::signal::ctrl_c().await?;
/// server.shutdown(std::time::Duration::from_secs(10)).await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Server {
    pub(crate) shared: Arc<Shared>,
    /// Where the listeners count, when the server keeps statistics.
    stats: Option<Arc<ServerStats>>,
}

impl Server {
    /// A server with nothing bound yet.
    ///
    /// ```
    /// use strata_tokio::Server;
    /// let server = Server::new();
    /// assert_eq!(server.connections(), 0);
    /// assert!(server.stats().is_none());
    /// ```
    pub fn new() -> Server {
        Server::default()
    }

    /// A server that keeps statistics in `stats`: each stream listener
    /// bound from now on ([`listen`](Server::listen)) registers its stack
    /// there, and every connection it serves runs under an
    /// [`Observed`](crate::Observed) that counts into it. Without it a
    /// listener observes its connections only when a tracing subscriber
    /// listens to [`CONN_TARGET`](crate::CONN_TARGET) at `INFO`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use strata::{StreamProtocol, StreamTransport};
    /// struct Discard;
    /// impl StreamProtocol for Discard {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let stats = strata_tokio::ServerStats::new();
    /// let server = strata_tokio::Server::with_stats(stats.clone());
    /// let f: strata_tokio::StreamFactory = std::sync::Arc::new(|| Box::new(Discard));
    /// let l = server.listen(&"tcp://127.0.0.1:0".parse().unwrap(), f, Default::default()).await.unwrap();
    /// assert_eq!(stats.snapshot().stacks[0].endpoint, l.endpoint());
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub fn with_stats(stats: Arc<ServerStats>) -> Server {
        Server {
            shared: Arc::new(Shared::counting()),
            stats: Some(stats),
        }
    }

    /// The statistics this server keeps, if it keeps any.
    ///
    /// ```
    /// assert!(strata_tokio::Server::new().stats().is_none());
    /// ```
    pub fn stats(&self) -> Option<&Arc<ServerStats>> {
        self.stats.as_ref()
    }

    /// Listens on what `ep` describes: `tcp://` (a name is resolved and every
    /// address it gives is bound, on the same port), `unix://`, or
    /// `reliable+udp://` (one UDP socket per address, running the mapping's
    /// listener), under the layers the chain names (`tls+`; `reliable+` over
    /// a stream is a pass-through). Options `tcp.nodelay`, `tcp.reuseport`,
    /// `tcp.backlog`, `tcp.sndbuf` and `tcp.rcvbuf` override `cfg`; the
    /// `tls.*` options are in [`server_config`](crate::server_config), the
    /// `reliable.*` ones in `docs/reliable.md`. A `tls` layer without
    /// `tls.cert`/`tls.key` serves a fresh self-signed certificate and logs
    /// its fingerprint; use [`listen_with_identity`](Server::listen_with_identity)
    /// to choose (or show) the certificate.
    ///
    /// ```no_run
    /// # async fn run(f: strata_tokio::StreamFactory) -> Result<(), strata_tokio::DriverError> {
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::{ListenConfig, Server};
    /// let ep = Endpoint::parse("tcp://127.0.0.1:0?tcp.backlog=64").unwrap();
    /// let bound = Server::new().listen(&ep, f, ListenConfig::default()).await?;
    /// println!("listening on {}", bound.endpoint());
    /// # Ok(()) }
    /// ```
    pub async fn listen(
        &self,
        ep: &Endpoint,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        self.listen_with_identity(ep, None, factory, cfg).await
    }

    /// [`listen`](Server::listen), with the certificate every `tls` layer
    /// presents given by the caller (`None`: from the options, as `listen`).
    ///
    /// ```no_run
    /// # async fn run(f: strata_tokio::StreamFactory) -> Result<(), strata_tokio::DriverError> {
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::{server_identity, ListenConfig, Server};
    /// let ep = Endpoint::parse("tls+tcp://127.0.0.1:8443").unwrap();
    /// let id = server_identity(&ep)?;
    /// if let Some(id) = &id {
    ///     println!("certificate sha256 {}", id.fingerprint_hex());
    /// }
    /// Server::new().listen_with_identity(&ep, id, f, ListenConfig::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn listen_with_identity(
        &self,
        ep: &Endpoint,
        identity: Option<TlsIdentity>,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        let observed = (self.stats.is_some() || crate::stats::lifecycle_enabled())
            .then(|| StackStats::new(&ep.to_string()));
        let factory = match &observed {
            Some(s) => crate::stats::observe(factory, s.clone()),
            None => factory,
        };
        let local = crate::endpoint::listen(&self.shared, ep, identity, factory, cfg).await?;
        let bound = Listening::bound(ep, local);
        if let Some(s) = observed {
            s.set_endpoint(&bound.endpoint());
            if let Some(stats) = &self.stats {
                stats.adopt(s);
            }
        }
        Ok(bound)
    }

    /// Listens on TCP (IPv4 or IPv6) and serves each connection with a
    /// protocol from `factory`. Returns the bound address.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
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
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let stack = Arc::new(strata::StackConfig::default());
    /// use strata_tokio::{connect_tcp, ListenConfig, Server};
    /// let server = Server::new();
    /// let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap(), echo, ListenConfig::default()).await.unwrap();
    /// assert_ne!(addr.port(), 0); // port 0 resolved to the real port
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let conn = connect_tcp(addr, Box::new(Ping(got.clone())), stack).await.unwrap();
    /// assert!(conn.closed().await.is_clean());
    /// assert_eq!(*got.lock().unwrap(), b"ping");
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn listen_tcp(
        &self,
        addr: SocketAddr,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> io::Result<SocketAddr> {
        crate::accept::listen_tcp(&self.shared, addr, factory, cfg)
    }

    /// Listens on a Unix stream socket at `path`. A stale socket file (one
    /// nobody accepts on) is removed first; a live one is an `AddrInUse`
    /// error. The file is removed again when the listener stops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
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
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let stack = Arc::new(strata::StackConfig::default());
    /// use strata_tokio::{connect_unix, ListenConfig, Server};
    /// let path = std::env::temp_dir().join(format!("strata-doc-listen-{}.sock", std::process::id()));
    /// let server = Server::new();
    /// server.listen_unix(&path, echo, ListenConfig::default()).await.unwrap();
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let conn = connect_unix(&path, Box::new(Ping(got.clone())), stack).await.unwrap();
    /// assert!(conn.closed().await.is_clean());
    /// assert_eq!(*got.lock().unwrap(), b"ping");
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// assert!(!path.exists()); // removed when the listener stopped
    /// # }
    /// ```
    pub async fn listen_unix(
        &self,
        path: &Path,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> io::Result<()> {
        crate::accept::listen_unix(&self.shared, path, factory, cfg)
    }

    /// Binds a UDP socket and runs `proto` over it; with `connect_to`, the
    /// socket is connected to that peer. Returns what it bound, as a stream
    /// listener does: the address, and `udp://ADDR` as its
    /// [`endpoint`](Listening::endpoint). The socket ends with the server's
    /// [`shutdown`](Server::shutdown) (`on_shutdown`, then the drain time).
    ///
    /// ```no_run
    /// # async fn run(proto: Box<dyn strata::DatagramProtocol>) -> std::io::Result<()> {
    /// use std::sync::Arc;
    /// let server = strata_tokio::Server::new();
    /// let bound = server
    ///     .bind_udp("127.0.0.1:0".parse().unwrap(), None, proto, Arc::new(strata::StackConfig::default()))
    ///     .await?;
    /// println!("{}", bound.endpoint()); // udp://127.0.0.1:40123
    /// # Ok(()) }
    /// ```
    pub async fn bind_udp(
        &self,
        addr: SocketAddr,
        connect_to: Option<SocketAddr>,
        proto: Box<dyn DatagramProtocol>,
        stack: Arc<StackConfig>,
    ) -> io::Result<Listening> {
        let local = crate::udp::bind(&self.shared, addr, connect_to, proto, stack).await?;
        let ep = Endpoint {
            layers: vec!["udp".into()],
            target: Target::Host {
                host: Host::Ip(local.ip()),
                port: local.port(),
            },
            options: Vec::new(),
        };
        Ok(Listening::bound(&ep, Addr::Inet(local)))
    }

    /// Live stream connections (accepted or connected through this server).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
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
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let stack = Arc::new(strata::StackConfig::default());
    /// use strata_tokio::{connect_tcp, Server};
    /// let server = Server::new();
    /// let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap(), echo, Default::default()).await.unwrap();
    /// assert_eq!(server.connections(), 0);
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// connect_tcp(addr, Box::new(Ping(got)), stack).await.unwrap().closed().await;
    /// server.shutdown(std::time::Duration::from_secs(1)).await;
    /// assert_eq!(server.connections(), 0); // every task has ended
    /// # }
    /// ```
    pub fn connections(&self) -> usize {
        self.shared.connections()
    }

    /// Stops accepting, asks every stack to finish (`on_shutdown`), aborts
    /// those still running after `drain` with `AbortReason::Shutdown`, and
    /// returns once every task of this server has ended.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::{Arc, Mutex};
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
    /// # let echo: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
    /// # let stack = Arc::new(strata::StackConfig::default());
    /// use strata_tokio::{connect_tcp, Server};
    /// let server = Server::new();
    /// let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap(), echo, Default::default()).await.unwrap();
    /// server.shutdown(std::time::Duration::from_secs(1)).await;
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// // The listener is gone: nobody accepts any more.
    /// assert!(connect_tcp(addr, Box::new(Ping(got)), stack).await.is_err());
    /// # }
    /// ```
    pub async fn shutdown(&self, drain: Duration) {
        self.shared
            .start_shutdown(strata::deadline::after(Instant::now(), drain));
        let acceptors = std::mem::take(
            &mut *self
                .shared
                .acceptors
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for a in acceptors {
            // An accept loop never panics; a cancelled one is gone too.
            let _ = a.await;
        }
        self.shared.wait_idle().await;
    }
}
