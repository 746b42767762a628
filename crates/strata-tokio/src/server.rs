//! [`Server`]: listeners, UDP sockets and the connections they spawn, with a
//! graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::{DatagramProtocol, StackConfig};

use crate::accept::{self, Acceptor};
use crate::control::{Group, Shared};
use crate::StreamFactory;

/// How a listener accepts connections.
///
/// ```
/// use strata_tokio::ListenConfig;
/// let cfg = ListenConfig { max_connections: 100, ..ListenConfig::default() };
/// assert!(cfg.nodelay);
/// assert_eq!(cfg.backlog, 1024);
/// ```
#[derive(Clone, Debug)]
pub struct ListenConfig {
    /// Limits of every connection's stack, shared by all of them.
    pub stack: Arc<StackConfig>,
    /// Live connections past which the listener stops accepting until one
    /// ends (default 10 000). Waiting clients queue in the backlog.
    pub max_connections: usize,
    /// Accepts per second, as a token bucket with a one-second burst
    /// (default: no limit).
    pub max_accepts_per_sec: Option<u32>,
    /// Sets `SO_REUSEPORT`, so several listeners can share the port (default false).
    pub reuse_port: bool,
    /// Sets `TCP_NODELAY` on accepted connections (default true).
    pub nodelay: bool,
    /// The listen backlog (default 1024).
    pub backlog: u32,
    /// `SO_SNDBUF` of every accepted TCP connection, in bytes (default
    /// `None`: the kernel's autotuning, which lets one connection whose
    /// peer does not read hold up to `net.ipv4.tcp_wmem`'s maximum, 4 MiB
    /// on most Linux systems, outside the stack's memory budget). Linux
    /// doubles the value for its bookkeeping. Endpoint option `tcp.sndbuf`.
    pub send_buffer: Option<u32>,
    /// `SO_RCVBUF` of every accepted TCP connection, in bytes (default
    /// `None`: the kernel's autotuning). Endpoint option `tcp.rcvbuf`.
    pub recv_buffer: Option<u32>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            stack: Arc::new(StackConfig::default()),
            max_connections: 10_000,
            max_accepts_per_sec: None,
            reuse_port: false,
            nodelay: true,
            backlog: 1024,
            send_buffer: None,
            recv_buffer: None,
        }
    }
}

/// What a listener bound to (port 0 resolved to the real port).
///
/// ```
/// let l = strata_tokio::Listening { local: strata::Addr::Inet("127.0.0.1:80".parse().unwrap()) };
/// assert_eq!(l.local.to_string(), "127.0.0.1:80");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listening {
    /// The bound address or path.
    pub local: strata::Addr,
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
}

impl Server {
    /// A server with nothing bound yet.
    pub fn new() -> Server {
        Server::default()
    }

    /// Listens on TCP (IPv4 or IPv6) and serves each connection with a
    /// protocol from `factory`. Returns the bound address.
    pub async fn listen_tcp(
        &self,
        addr: SocketAddr,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> io::Result<SocketAddr> {
        let listener = accept::bind_tcp(addr, &cfg)?;
        let local = listener.local_addr()?;
        self.start(Acceptor::Tcp(listener), local.to_string(), factory, cfg);
        Ok(local)
    }

    /// Listens on a Unix stream socket at `path`. A stale socket file (one
    /// nobody accepts on) is removed first; a live one is an `AddrInUse`
    /// error. The file is removed again when the listener stops.
    pub async fn listen_unix(
        &self,
        path: &Path,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> io::Result<()> {
        let listener = accept::bind_unix(path, &cfg)?;
        let label = format!("unix:{}", path.display());
        self.start(
            Acceptor::Unix(listener, path.to_path_buf()),
            label,
            factory,
            cfg,
        );
        Ok(())
    }

    /// Binds a UDP socket and runs `proto` over it; with `connect_to`, the
    /// socket is connected to that peer. Returns the bound address.
    pub async fn bind_udp(
        &self,
        addr: SocketAddr,
        connect_to: Option<SocketAddr>,
        proto: Box<dyn DatagramProtocol>,
        stack: Arc<StackConfig>,
    ) -> io::Result<SocketAddr> {
        crate::udp::bind(&self.shared, addr, connect_to, proto, stack).await
    }

    /// Live stream connections (accepted or connected through this server).
    pub fn connections(&self) -> usize {
        self.shared.connections()
    }

    /// Stops accepting, asks every stack to finish (`on_shutdown`), aborts
    /// those still running after `drain` with `AbortReason::Shutdown`, and
    /// returns once every task of this server has ended.
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

    fn start(&self, acceptor: Acceptor, label: String, factory: StreamFactory, cfg: ListenConfig) {
        let state = Group::listener(&self.shared);
        let task = tokio::spawn(accept::run(
            self.shared.clone(),
            state,
            acceptor,
            label,
            factory,
            cfg,
        ));
        self.shared
            .acceptors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }
}
