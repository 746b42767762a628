//! Listening sockets and the accept loop: connection cap, accept rate limit,
//! and accept errors that must not end the listener.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use strata::{Stack, StreamProtocol};
use tokio::net::{TcpListener, UnixListener};

use crate::config::ListenConfig;
use crate::conn;
use crate::control::{Group, Shared, TaskGuard};
use crate::socket::{self, tcp_info, unix_info};
use crate::task::{guarded, Panicked};
use strata::StreamFactory;

/// How long the accept loop backs off after a resource error (EMFILE...).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// At most one warning of each kind per this period and listener.
const LOG_PERIOD: Duration = Duration::from_secs(10);

/// A bound listening socket.
enum Acceptor {
    Tcp(TcpListener),
    /// The listener and its path, removed when the listener stops.
    Unix(UnixListener, PathBuf),
}

/// Binds a TCP listener with the configured options. An IPv6 listener is
/// IPv6-only, so `[::]` and `0.0.0.0` can share a port. The buffer sizes are
/// set on the listener, before `listen`: accepted connections inherit them,
/// and the receive buffer fixes the window scale offered in the SYN-ACK.
fn bind_tcp(addr: SocketAddr, cfg: &ListenConfig) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if let Some(n) = cfg.send_buffer {
        s.set_send_buffer_size(n as usize)?;
    }
    if let Some(n) = cfg.recv_buffer {
        s.set_recv_buffer_size(n as usize)?;
    }
    if cfg.reuse_port {
        s.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(backlog(cfg))?;
    TcpListener::from_std(s.into())
}

/// Binds a Unix stream listener, removing a stale socket file first.
fn bind_unix(path: &Path, cfg: &ListenConfig) -> io::Result<UnixListener> {
    remove_stale(path)?;
    let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    s.set_nonblocking(true)?;
    s.bind(&SockAddr::unix(path)?)?;
    s.listen(backlog(cfg))?;
    UnixListener::from_std(s.into())
}

fn backlog(cfg: &ListenConfig) -> i32 {
    i32::try_from(cfg.backlog).unwrap_or(i32::MAX)
}

/// Removes `path` if it is a socket nobody listens on. A live socket is
/// `AddrInUse`; a file that is not a socket is left alone (`AlreadyExists`).
fn remove_stale(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    // A non-blocking probe: a live but busy server must not block us.
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    probe.set_nonblocking(true)?;
    match probe.connect(&SockAddr::unix(path)?) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("a server is listening on {}", path.display()),
        )),
    }
}

/// Listens on TCP and serves each connection with a protocol from
/// `factory`, until the server shuts down. Returns the bound address.
pub(crate) fn listen_tcp(
    shared: &Arc<Shared>,
    addr: SocketAddr,
    factory: StreamFactory,
    cfg: ListenConfig,
) -> io::Result<SocketAddr> {
    let listener = bind_tcp(addr, &cfg)?;
    let local = listener.local_addr()?;
    start(
        shared,
        Acceptor::Tcp(listener),
        local.to_string(),
        factory,
        cfg,
    );
    Ok(local)
}

/// Listens on a Unix stream socket at `path` (see
/// [`Server::listen_unix`](crate::Server::listen_unix)).
pub(crate) fn listen_unix(
    shared: &Arc<Shared>,
    path: &Path,
    factory: StreamFactory,
    cfg: ListenConfig,
) -> io::Result<()> {
    let listener = bind_unix(path, &cfg)?;
    let label = format!("unix:{}", path.display());
    let acceptor = Acceptor::Unix(listener, path.to_path_buf());
    start(shared, acceptor, label, factory, cfg);
    Ok(())
}

/// Spawns the accept loop; the server's shutdown waits for it.
fn start(
    shared: &Arc<Shared>,
    acceptor: Acceptor,
    label: String,
    factory: StreamFactory,
    cfg: ListenConfig,
) {
    let state = Group::listener(shared);
    let task = tokio::spawn(run(shared.clone(), state, acceptor, label, factory, cfg));
    shared
        .acceptors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(task);
}

/// The accept loop of one listener; ends when the server shuts down.
async fn run(
    shared: Arc<Shared>,
    state: Arc<Group>,
    acceptor: Acceptor,
    label: String,
    factory: StreamFactory,
    cfg: ListenConfig,
) {
    let shutdown = shared.shutdown_signal();
    tokio::pin!(shutdown);
    let unix_ino = match &acceptor {
        Acceptor::Unix(_, p) => std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())),
        Acceptor::Tcp(_) => None,
    };
    // A listener on a specific address saves a getsockname per connection.
    let local = match &acceptor {
        Acceptor::Tcp(l) => l.local_addr().ok().filter(|a| !a.ip().is_unspecified()),
        Acceptor::Unix(..) => None,
    };
    let mut bucket = cfg.max_accepts_per_sec.map(TokenBucket::new);
    let mut cap_log = LogLimiter::default();
    let mut rate_log = LogLimiter::default();
    let mut err_log = LogLimiter::default();

    while shared.drain_deadline().is_none() {
        let max = cfg.max_connections;
        if state.live.load(Ordering::Acquire) >= max {
            if cap_log.allow() {
                tracing::warn!("listener {label}: connection cap {max} reached, pausing accepts");
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = below_cap(&state, max) => {}
            }
            tracing::debug!("listener {label}: below the connection cap, accepting again");
            continue;
        }
        if let Some(b) = bucket.as_mut()
            && let Err(wait) = b.take(Instant::now())
        {
            if rate_log.allow() {
                tracing::warn!(
                    "listener {label}: accept rate limit of {}/s reached, delaying accepts",
                    b.rate
                );
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        let res = tokio::select! {
            _ = &mut shutdown => break,
            r = accept_one(&acceptor, local, cfg.nodelay) => r,
        };
        match res {
            Ok((sock, info)) => spawn(&state, sock, info, &factory, &cfg, &label),
            Err(e) if per_connection_error(&e) => {}
            Err(e) => {
                if err_log.allow() {
                    tracing::error!("listener {label}: accept failed: {e}; backing off");
                }
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }
    if let Acceptor::Unix(l, path) = acceptor {
        drop(l);
        // Remove the file only if it is still ours (not re-bound by another).
        let now = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        if now.is_some() && now == unix_ino {
            let _ = std::fs::remove_file(&path);
        }
    }
}

enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept_one(
    a: &Acceptor,
    local: Option<SocketAddr>,
    nodelay: bool,
) -> io::Result<(Accepted, strata::BottomInfo)> {
    match a {
        Acceptor::Tcp(l) => {
            let (s, peer) = l.accept().await?;
            if nodelay {
                // Only a latency option: a failure leaves Nagle on.
                let _ = s.set_nodelay(true);
            }
            let info = tcp_info(&s, peer, local);
            Ok((Accepted::Tcp(s), info))
        }
        Acceptor::Unix(l, _) => {
            let (s, _) = l.accept().await?;
            let info = unix_info(&s);
            Ok((Accepted::Unix(s), info))
        }
    }
}

fn spawn(
    state: &Arc<Group>,
    sock: Accepted,
    info: strata::BottomInfo,
    factory: &StreamFactory,
    cfg: &ListenConfig,
    label: &str,
) {
    let proto: Box<dyn StreamProtocol> = match guarded(|| factory()) {
        Ok(p) => p,
        Err(Panicked(msg)) => {
            tracing::error!("listener {label}: protocol factory panicked: {msg}; resetting");
            match &sock {
                Accepted::Tcp(s) => socket::reset_on_close(s),
                Accepted::Unix(s) => socket::reset_on_close(s),
            }
            return;
        }
    };
    let guard = TaskGuard::new(state);
    let mut stack = Stack::new(proto, info, cfg.stack.clone(), Instant::now());
    stack.qlog_from_config(strata::qlog::Vantage::Server);
    if guard.shared().counts_bytes() {
        stack.count_bytes();
    }
    match sock {
        Accepted::Tcp(s) => drop(tokio::spawn(conn::drive(s, stack, Some(guard)))),
        Accepted::Unix(s) => drop(tokio::spawn(conn::drive(s, stack, Some(guard)))),
    }
}

/// Errors that concern one incoming connection, not the listener.
fn per_connection_error(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// Waits until the listener has fewer than `max` live connections.
async fn below_cap(state: &Group, max: usize) {
    while state.live.load(Ordering::Acquire) >= max {
        // `notify_one` stores a permit, so a close between the check and
        // this await is not missed.
        state.freed.notified().await;
    }
}

/// A token bucket: `rate` tokens per second, at most `rate` stored.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: u32,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub(crate) fn new(rate: u32) -> Self {
        let rate = rate.max(1);
        TokenBucket {
            rate,
            tokens: f64::from(rate),
            last: None,
        }
    }

    /// Takes a token, or says how long until one is available.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(self.rate);
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(rate);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// Lets one log line through per [`LOG_PERIOD`].
#[derive(Debug, Default)]
struct LogLimiter {
    last: Option<Instant>,
}

impl LogLimiter {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < LOG_PERIOD)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_a_burst_then_paces() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10);
        for _ in 0..10 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100));
        assert!(b.take(t0 + Duration::from_millis(100)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(100)).is_err());
        // Refill is capped at one second's worth.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..10 {
            assert!(b.take(later).is_ok());
        }
        assert!(b.take(later).is_err());
    }

    /// Accepted connections inherit the listener's buffer sizes (Linux
    /// reports twice what was set).
    #[tokio::test]
    async fn accepted_connections_get_the_listeners_buffer_sizes() {
        let n = 50_000u32;
        let cfg = ListenConfig {
            send_buffer: Some(n),
            recv_buffer: Some(n),
            ..ListenConfig::default()
        };
        let l = bind_tcp("127.0.0.1:0".parse().unwrap(), &cfg).unwrap();
        let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().await.unwrap();
        let sock = socket2::SockRef::from(&s);
        let range = n as usize..=2 * n as usize;
        assert!(range.contains(&sock.send_buffer_size().unwrap()));
        assert!(range.contains(&sock.recv_buffer_size().unwrap()));
    }
}
