//! Outgoing connections: TCP (with Happy Eyeballs for names) and Unix.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use strata::endpoint::Host;
use strata::{AbortReason, Addr, Close, StackConfig, StreamProtocol};
use tokio::net::{TcpSocket, TcpStream, UnixStream};
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use crate::error::DriverError;
use crate::socket::{tcp_info, unix_info};

/// RFC 8305 "Connection Attempt Delay": how long an attempt gets before the
/// next address is tried in parallel.
pub const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// A running outgoing connection: a protocol driven over a socket by its own
/// task.
///
/// Waiting for the end borrows the handle, so a wait that gives up leaves
/// the connection to abort:
///
/// ```no_run
/// # async fn run(proto: Box<dyn strata::StreamProtocol>) -> std::io::Result<()> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// let conn = strata_tokio::connect_tcp("127.0.0.1:7".parse().unwrap(), proto,
///     Arc::new(strata::StackConfig::default())).await?;
/// println!("connected to {}", conn.peer());
/// if tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.is_err() {
///     conn.abort();
/// }
/// let why = conn.closed().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Connection {
    peer: Addr,
    /// Resets the task without waiting for the lock below.
    abort: AbortHandle,
    /// Polled by one waiter at a time; a waiter that is dropped releases it
    /// and leaves the task running. With it, when the driver can tell it,
    /// the protocol's end ahead of the task's (see [`Connection::closed`]).
    task: tokio::sync::Mutex<(JoinHandle<Close>, Option<oneshot::Receiver<Close>>)>,
    /// The end, once a waiter saw it (a join handle yields it only once).
    end: OnceLock<Close>,
}

impl Connection {
    pub(crate) fn new(peer: Addr, task: JoinHandle<Close>) -> Connection {
        Connection {
            peer,
            abort: task.abort_handle(),
            task: tokio::sync::Mutex::new((task, None)),
            end: OnceLock::new(),
        }
    }

    /// A connection whose protocol's end (`ended`, sent with the reason it
    /// was given in `connection_lost`) may come before its task's: a
    /// datagram carrier's socket outlives the connection for its closing
    /// period.
    pub(crate) fn with_end(
        peer: Addr,
        task: JoinHandle<Close>,
        ended: oneshot::Receiver<Close>,
    ) -> Connection {
        Connection {
            peer,
            abort: task.abort_handle(),
            task: tokio::sync::Mutex::new((task, Some(ended))),
            end: OnceLock::new(),
        }
    }

    /// The peer's address.
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
    /// use strata::Addr;
    /// let server = strata_tokio::Server::new();
    /// let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap(), echo, Default::default()).await.unwrap();
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let conn = strata_tokio::connect_tcp(addr, Box::new(Ping(got)), stack).await.unwrap();
    /// assert_eq!(conn.peer(), &Addr::Inet(addr));
    /// conn.closed().await;
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub fn peer(&self) -> &Addr {
        &self.peer
    }

    /// Waits for the connection to end and says why. It borrows the handle
    /// and is cancel-safe: a wait dropped early (a `tokio::time::timeout`
    /// that expired) changes nothing, and the handle can still
    /// [`abort`](Connection::abort) or wait again. Every wait, and any
    /// number of waiters at once, get the same reason. After `abort` it is
    /// `Close::Aborted { layer: "driver", reason: AbortReason::Shutdown }`.
    ///
    /// The connection ends when its protocol is told so (`connection_lost`),
    /// whatever lingers below it: over `reliable+udp://` the socket stays
    /// for the mapping's closing period (its TIME-WAIT, at least 2 s), which
    /// this does not wait for, as a TCP close does not wait for TIME-WAIT.
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
    /// let server = strata_tokio::Server::new();
    /// let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap(), echo, Default::default()).await.unwrap();
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let conn = strata_tokio::connect_tcp(addr, Box::new(Ping(got)), stack).await.unwrap();
    /// let (a, b) = tokio::join!(conn.closed(), conn.closed()); // two waiters, one reason
    /// assert!(a.is_clean() && b.is_clean());
    /// assert!(conn.closed().await.is_clean()); // and again, after the end
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn closed(&self) -> Close {
        if let Some(why) = self.end.get() {
            return why.clone();
        }
        let mut guard = self.task.lock().await;
        // Another waiter may have seen the end while this one queued.
        if let Some(why) = self.end.get() {
            return why.clone();
        }
        let (task, ended) = &mut *guard;
        let told = match ended.as_mut() {
            Some(rx) => tokio::select! {
                r = &mut *task => Err(Some(r)),
                r = rx => r.map_err(|_| None),
            },
            None => Err(None),
        };
        let joined = match told {
            Ok(why) => return self.end.get_or_init(|| why).clone(),
            Err(Some(joined)) => joined,
            // No end to be told of, or the protocol was dropped untold (the
            // task was aborted or panicked): the task says why.
            Err(None) => {
                *ended = None;
                (&mut *task).await
            }
        };
        let why = match joined {
            Ok(why) => why,
            // The driver catches protocol panics, so a failed join means
            // the task was aborted, or the runtime cancelled it (it is
            // shutting down).
            Err(e) if e.is_panic() => Close::aborted("driver", AbortReason::Panicked),
            Err(_) => Close::aborted("driver", AbortReason::Shutdown),
        };
        self.end.get_or_init(|| why).clone()
    }

    /// Resets the connection now, without calling the protocol again.
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
    /// use strata::Close;
    /// /// Never closes on its own.
    /// struct Wait;
    /// impl StreamProtocol for Wait {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// }
    /// let server = strata_tokio::Server::new();
    /// let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap(), echo, Default::default()).await.unwrap();
    /// let conn = strata_tokio::connect_tcp(addr, Box::new(Wait), stack).await.unwrap();
    /// conn.abort();
    /// let why = conn.closed().await;
    /// assert!(matches!(why, Close::Aborted { layer: "driver", .. }));
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub fn abort(&self) {
        self.abort.abort();
    }
}

/// Connects over TCP (`TCP_NODELAY` on) and runs `proto` over the connection.
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
/// let server = strata_tokio::Server::new();
/// let addr = server.listen_tcp("127.0.0.1:0".parse().unwrap(), echo, Default::default()).await.unwrap();
/// let got = Arc::new(Mutex::new(Vec::new()));
/// let conn = strata_tokio::connect_tcp(addr, Box::new(Ping(got.clone())), stack).await.unwrap();
/// assert!(conn.closed().await.is_clean());
/// assert_eq!(*got.lock().unwrap(), b"ping");
/// server.shutdown(std::time::Duration::ZERO).await;
/// # }
/// ```
pub async fn connect_tcp(
    addr: SocketAddr,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
) -> io::Result<Connection> {
    let s = TcpStream::connect(addr).await?;
    Ok(run_tcp(s, addr, proto, stack, true))
}

/// Connects to a Unix stream socket and runs `proto` over the connection.
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
/// let path = std::env::temp_dir().join(format!("strata-doc-connect-{}.sock", std::process::id()));
/// let server = strata_tokio::Server::new();
/// server.listen_unix(&path, echo, Default::default()).await.unwrap();
/// let got = Arc::new(Mutex::new(Vec::new()));
/// let conn = strata_tokio::connect_unix(&path, Box::new(Ping(got.clone())), stack).await.unwrap();
/// assert!(conn.closed().await.is_clean());
/// assert_eq!(*got.lock().unwrap(), b"ping");
/// server.shutdown(std::time::Duration::ZERO).await;
/// # }
/// ```
pub async fn connect_unix(
    path: &Path,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
) -> io::Result<Connection> {
    let s = UnixStream::connect(path).await?;
    let info = unix_info(&s);
    let mut stack = strata::Stack::new(proto, info, stack, Instant::now());
    stack.qlog_from_config(strata::qlog::Vantage::Client);
    Ok(Connection::new(
        Addr::Unix(Some(path.to_path_buf())),
        tokio::spawn(crate::conn::drive(s, stack, None)),
    ))
}

pub(crate) fn run_tcp(
    s: TcpStream,
    peer: SocketAddr,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
    nodelay: bool,
) -> Connection {
    if nodelay {
        // Only a latency option: a failure leaves Nagle on.
        let _ = s.set_nodelay(true);
    }
    let info = tcp_info(&s, peer, None);
    let mut stack = strata::Stack::new(proto, info, stack, Instant::now());
    stack.qlog_from_config(strata::qlog::Vantage::Client);
    Connection::new(
        Addr::Inet(peer),
        tokio::spawn(crate::conn::drive(s, stack, None)),
    )
}

/// Kernel buffer sizes for an outgoing TCP socket (`tcp.sndbuf`,
/// `tcp.rcvbuf`); `None` leaves the kernel's default and autotuning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Buffers {
    pub(crate) send: Option<u32>,
    pub(crate) recv: Option<u32>,
}

/// Connects to `addr` with `bufs` set before the handshake (the receive
/// buffer fixes the window scale the SYN offers).
pub(crate) async fn tcp_connect(addr: SocketAddr, bufs: Buffers) -> io::Result<TcpStream> {
    if bufs == Buffers::default() {
        return TcpStream::connect(addr).await;
    }
    let s = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(n) = bufs.send {
        s.set_send_buffer_size(n)?;
    }
    if let Some(n) = bufs.recv {
        s.set_recv_buffer_size(n)?;
    }
    s.connect(addr).await
}

/// Resolves `host` and connects with Happy Eyeballs (RFC 8305): addresses
/// interleaved by family (the resolver's first family first), a new attempt
/// every [`CONNECTION_ATTEMPT_DELAY`] or as soon as one fails, the first to
/// connect wins and the others are dropped.
pub(crate) async fn happy_eyeballs(
    host: &str,
    port: u16,
    bufs: Buffers,
) -> Result<(TcpStream, SocketAddr), DriverError> {
    let resolved = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| DriverError::Resolve {
            host: host.to_string(),
            source,
        })?;
    let addrs = interleave(resolved.collect());
    if addrs.is_empty() {
        return Err(DriverError::NoAddresses {
            host: host.to_string(),
        });
    }
    race(&addrs, CONNECTION_ATTEMPT_DELAY, bufs)
        .await
        .map_err(|(addr, e)| DriverError::io("connect", format!("{host} ({addr})"), e))
}

/// The addresses of a host: an IP as is, a name through the resolver
/// (duplicates removed, the resolver's order kept).
pub(crate) async fn resolve(host: &Host, port: u16) -> Result<Vec<SocketAddr>, DriverError> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, port)]),
        Host::Name(n) => n,
    };
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
        .await
        .map_err(|source| DriverError::Resolve {
            host: name.clone(),
            source,
        })?
        .collect();
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(*a));
    if addrs.is_empty() {
        return Err(DriverError::NoAddresses { host: name.clone() });
    }
    Ok(addrs)
}

/// Orders addresses family by family, alternating, starting with the family
/// of the first one (RFC 8305 section 4).
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return addrs;
    };
    let first_v6 = first.is_ipv6();
    let (mut a, mut b): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.into_iter().partition(|x| x.is_ipv6() == first_v6);
    a.dedup();
    b.dedup();
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Staggered parallel connects; on failure, the first attempt's error.
async fn race(
    addrs: &[SocketAddr],
    delay: Duration,
    bufs: Buffers,
) -> Result<(TcpStream, SocketAddr), (SocketAddr, io::Error)> {
    let mut attempts = JoinSet::new();
    let mut next = 0;
    let mut first_err: Option<(SocketAddr, io::Error)> = None;
    let mut start_next = true;
    loop {
        if std::mem::take(&mut start_next) && next < addrs.len() {
            let a = addrs[next];
            next += 1;
            attempts.spawn(async move { (a, tcp_connect(a, bufs).await) });
        }
        let more = next < addrs.len();
        if attempts.is_empty() {
            if !more {
                let fallback = || (addrs[0], io::Error::from(io::ErrorKind::NotConnected));
                return Err(first_err.unwrap_or_else(fallback));
            }
            start_next = true;
            continue;
        }
        // The delay restarts with every attempt started.
        tokio::select! {
            r = attempts.join_next() => match r {
                Some(Ok((a, Ok(s)))) => return Ok((s, a)),
                Some(Ok((a, Err(e)))) => {
                    first_err.get_or_insert((a, e));
                    start_next = true;
                }
                // An attempt task cannot panic; a cancelled one counts as failed.
                Some(Err(_)) | None => start_next = true,
            },
            _ = tokio::time::sleep(delay), if more => start_next = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_families_starting_with_the_first() {
        let v6a: SocketAddr = "[::1]:1".parse().unwrap();
        let v6b: SocketAddr = "[::2]:1".parse().unwrap();
        let v4a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let v4b: SocketAddr = "127.0.0.2:1".parse().unwrap();
        let v4c: SocketAddr = "127.0.0.3:1".parse().unwrap();
        assert_eq!(
            interleave(vec![v6a, v6b, v4a, v4b, v4c]),
            vec![v6a, v4a, v6b, v4b, v4c]
        );
        assert_eq!(interleave(vec![v4a, v6a, v4b]), vec![v4a, v6a, v4b]);
        assert_eq!(interleave(vec![]), vec![]);
    }

    /// Linux reports twice what was set (the kernel's bookkeeping share);
    /// 50,000 is below the default `wmem_max`/`rmem_max` caps and far from
    /// the defaults (16 KiB send, 128 KiB receive).
    #[tokio::test]
    async fn connect_sets_the_buffer_sizes_asked_for() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let n = 50_000u32;
        let bufs = Buffers {
            send: Some(n),
            recv: Some(n),
        };
        let s = tcp_connect(l.local_addr().unwrap(), bufs).await.unwrap();
        let sock = socket2::SockRef::from(&s);
        let range = n as usize..=2 * n as usize;
        assert!(range.contains(&sock.send_buffer_size().unwrap()));
        assert!(range.contains(&sock.recv_buffer_size().unwrap()));
    }
}
