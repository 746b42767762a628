//! [`QuicPool`]: one QUIC connection per endpoint, shared by many stream
//! protocols, a bidirectional stream each (what `strata relay tcp://…
//! quic+udp://…` uses: a relayed TCP connection costs a stream, not a
//! handshake).
//!
//! A pooled connection is a UDP socket running a [`QuicClient`] whose app
//! (`PoolApp`) wraps a [`PerStream`]: callers queue their protocols and
//! wake the app, which opens a stream for each (when the peer's stream limit
//! is reached, the rest wait for `streams_available`). When the connection
//! ends (idle timeout, the server closed it), it leaves the pool and the
//! next `connect` makes a new one; protocols still queued end with its
//! reason.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use strata::endpoint::Endpoint;
use strata::quic::{Dir, PerStream, QuicApp, QuicClient, QuicConnection, StreamId};
use strata::{
    AbortReason, Addr, Close, StackConfig, StreamFactory, StreamProtocol, StreamTransport, Wake,
    WakeRoute,
};
use tokio::sync::oneshot;

use crate::connect::Connection;
use crate::error::DriverError;
use crate::layer::Open;

/// Shares one QUIC connection per endpoint among the stream protocols
/// connected through it: each gets its own bidirectional stream. Endpoints
/// that are not plain `quic+udp://` connect as [`connect`](crate::connect())
/// does. Clones share the pool.
///
/// ```no_run
/// # async fn run(a: Box<dyn strata::StreamProtocol>, b: Box<dyn strata::StreamProtocol>) -> Result<(), strata_tokio::DriverError> {
/// use std::sync::Arc;
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse_with("quic+udp://127.0.0.1:4433?quic.insecure=true", &strata_tokio::registry()).unwrap();
/// let pool = strata_tokio::QuicPool::new();
/// let stack = Arc::new(strata::StackConfig::default());
/// let first = pool.connect(&ep, a, stack.clone()).await?;
/// let second = pool.connect(&ep, b, stack).await?; // a second stream, same connection
/// assert_eq!(pool.connections(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct QuicPool {
    conns: Arc<Mutex<HashMap<String, Arc<Shared>>>>,
}

/// One pooled connection, as its callers and its app share it.
#[derive(Default)]
struct Shared {
    q: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// Protocols waiting for a stream.
    pending: VecDeque<Waiting>,
    /// Reaches the app once the handshake is done.
    wake: Option<Wake>,
    /// The connection ended (it is out of the pool).
    dead: Option<Close>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for QuicPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicPool")
            .field("connections", &self.connections())
            .finish()
    }
}

impl QuicPool {
    /// An empty pool.
    ///
    /// ```
    /// let pool = strata_tokio::QuicPool::new();
    /// assert_eq!(pool.connections(), 0); // connections are made on first use
    /// let shared = pool.clone(); // clones share the pool
    /// assert_eq!(shared.connections(), 0);
    /// ```
    pub fn new() -> Self {
        QuicPool::default()
    }

    /// Pooled connections alive now.
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
    /// # let ep = strata::endpoint::Endpoint::parse_with(
    /// #     &format!("quic+udp://{addr}?quic.alpn=echo&quic.insecure=true"),
    /// #     &strata_tokio::registry(),
    /// # )
    /// # .unwrap();
    /// # let stack = Arc::new(strata::StackConfig::default());
    /// // `ep` names a QUIC echo server on loopback.
    /// let pool = strata_tokio::QuicPool::new();
    /// let a = pool.connect(&ep, Box::new(Wait), stack.clone()).await.unwrap();
    /// let b = pool.connect(&ep, Box::new(Wait), stack).await.unwrap();
    /// assert_eq!(pool.connections(), 1); // two streams, one connection
    /// # let _ = (a, b);
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub fn connections(&self) -> usize {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|s| s.lock().dead.is_none())
            .count()
    }

    /// Runs `proto` on a new stream of the pooled connection to `ep` (made
    /// on first use). Returns once the stream is open, as
    /// [`connect`](crate::connect()) returns once a connection is; fails with
    /// the connection's reason if its handshake fails.
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
    /// # let ep = strata::endpoint::Endpoint::parse_with(
    /// #     &format!("quic+udp://{addr}?quic.alpn=echo&quic.insecure=true"),
    /// #     &strata_tokio::registry(),
    /// # )
    /// # .unwrap();
    /// # let stack = Arc::new(strata::StackConfig::default());
    /// // `ep` names a QUIC echo server on loopback.
    /// let pool = strata_tokio::QuicPool::new();
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let conn = pool.connect(&ep, Box::new(Ping(got.clone())), stack).await.unwrap();
    /// assert!(conn.closed().await.is_clean()); // the stream ended; the connection stays pooled
    /// assert_eq!(*got.lock().unwrap(), b"ping");
    /// # server.shutdown(Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn connect(
        &self,
        ep: &Endpoint,
        proto: Box<dyn StreamProtocol>,
        stack: Arc<StackConfig>,
    ) -> Result<Connection, DriverError> {
        if ep.layers != ["quic", "udp"] {
            return crate::connect(ep, proto, stack).await;
        }
        let (peer, resolved) = crate::endpoint::resolve_first(ep).await?;
        let key = resolved.to_string();
        let (started_tx, started) = oneshot::channel();
        let (ended_tx, ended) = oneshot::channel();
        let tracked = Tracked {
            inner: Box::new(strata::ProtocolSlot::new(proto)),
            started: Some(started_tx),
            ended: Some(ended_tx),
        };
        let cancelled = Arc::new(AtomicBool::new(false));
        let waiting = Waiting {
            cancelled: cancelled.clone(),
            proto: Box::new(tracked),
        };
        let (shared, fresh) = self.entry(&key);
        let wake = {
            let mut q = shared.lock();
            if let Some(why) = q.dead.clone() {
                // It ended between the look-up and now.
                return Err(crate::endpoint::not_started(peer, why));
            }
            q.pending.push_back(waiting);
            q.wake.clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
        // A caller that gives up first (a relay's connect timeout) drops
        // this future: its protocol is then never started, and ends.
        let mut cancel = CancelOnDrop(Some(cancelled));
        if fresh && let Err(e) = self.open(ep, &resolved, peer, &key, &shared, stack).await {
            self.forget(&key, &shared, Close::Io(std::io::ErrorKind::Other));
            return Err(e);
        }
        let outcome = started.await;
        cancel.0 = None;
        let task = tokio::spawn(async move { ended.await.unwrap_or(Close::Done) });
        match outcome {
            Ok(Ok(())) => Ok(Connection::new(Addr::Inet(peer), task)),
            Ok(Err(why)) => Err(crate::endpoint::not_started(peer, why)),
            Err(_) => Err(crate::endpoint::not_started(
                peer,
                Close::aborted("quic", AbortReason::Shutdown),
            )),
        }
    }

    /// The live pooled connection of `key`, or a new entry (`true`).
    fn entry(&self, key: &str) -> (Arc<Shared>, bool) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = conns.get(key)
            && s.lock().dead.is_none()
        {
            return (s.clone(), false);
        }
        let s = Arc::new(Shared::default());
        conns.insert(key.to_owned(), s.clone());
        (s, true)
    }

    /// Starts the connection of a new entry: a UDP socket connected to
    /// `peer` running a [`QuicClient`] with a [`PoolApp`]; when its task
    /// ends, the entry leaves the pool.
    async fn open(
        &self,
        ep: &Endpoint,
        resolved: &Endpoint,
        peer: std::net::SocketAddr,
        key: &str,
        shared: &Arc<Shared>,
        stack: Arc<StackConfig>,
    ) -> Result<(), DriverError> {
        let cfg = super::config(ep, &stack)?;
        let (tls, name) = super::client_tls(ep, &cfg)?;
        let app = PoolApp {
            inner: PerStream::new(refuse()),
            shared: shared.clone(),
        };
        let client = QuicClient::new(cfg, tls, &name, peer, Box::new(app))
            .map_err(|e| super::connect_error(peer, e))?;
        let Open::Datagram { connect, .. } =
            crate::scheme::find("udp")?
                .open
                .ok_or_else(|| DriverError::Unsupported {
                    scheme: "udp".into(),
                })?
        else {
            return Err(DriverError::Unsupported {
                scheme: "udp".into(),
            });
        };
        let (_, task) = connect(resolved, Box::new(client), stack).await?;
        let pool = self.clone();
        let (key, shared) = (key.to_owned(), shared.clone());
        tokio::spawn(async move {
            let why = task.await.unwrap_or(Close::Done);
            pool.forget(&key, &shared, why);
        });
        Ok(())
    }

    /// Takes `shared` out of the pool (if it is still the entry of `key`)
    /// and ends what still waits on it with `why`.
    fn forget(&self, key: &str, shared: &Arc<Shared>, why: Close) {
        {
            let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
            if conns.get(key).is_some_and(|s| Arc::ptr_eq(s, shared)) {
                conns.remove(key);
            }
        }
        let pending = {
            let mut q = shared.lock();
            q.dead.get_or_insert(why.clone());
            q.wake = None;
            std::mem::take(&mut q.pending)
        };
        for mut w in pending {
            w.proto.connection_lost(&why);
        }
    }
}

/// A protocol waiting for a stream, and whether its caller gave up.
struct Waiting {
    cancelled: Arc<AtomicBool>,
    proto: Box<dyn StreamProtocol>,
}

/// Marks a waiting protocol given up when the connect future is dropped
/// before it started.
struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.store(true, Ordering::Relaxed);
        }
    }
}

/// Streams the server opens on a pooled connection are refused.
fn refuse() -> StreamFactory {
    struct Refuse;
    impl StreamProtocol for Refuse {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.abort(Close::aborted("quic-pool", AbortReason::Shutdown));
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close();
        }
    }
    Arc::new(|| Box::new(Refuse) as Box<dyn StreamProtocol>)
}

/// The app of a pooled connection: a [`PerStream`] that opens a stream for
/// each protocol queued by [`QuicPool::connect`].
struct PoolApp {
    inner: PerStream,
    shared: Arc<Shared>,
}

impl PoolApp {
    /// Opens streams for the queued protocols until the peer's limit.
    fn open_queued(&mut self, c: &mut dyn QuicConnection) {
        loop {
            let Some(mut w) = self.shared.lock().pending.pop_front() else {
                return;
            };
            if w.cancelled.load(Ordering::Relaxed) {
                w.proto
                    .connection_lost(&Close::aborted("quic-pool", AbortReason::Shutdown));
                continue;
            }
            // At the peer's limit the protocol comes back: it waits, first
            // in line, for `streams_available`.
            if let Err(proto) = self.inner.open_stream(c, Dir::Bi, w.proto) {
                w.proto = proto;
                self.shared.lock().pending.push_front(w);
                return;
            }
        }
    }
}

impl QuicApp for PoolApp {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.shared.lock().wake = Some(c.waker());
        self.inner.connection_made(c);
        self.open_queued(c);
    }
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_opened(c, id);
    }
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        self.inner.stream_data(c, id, data);
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_finished(c, id);
    }
    fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        self.inner.stream_reset(c, id, code);
    }
    fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        self.inner.stream_stopped(c, id, code);
    }
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_writable(c, id);
    }
    fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {
        self.inner.streams_available(c, dir);
        self.open_queued(c);
    }
    fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {
        self.inner.datagram_received(c, data);
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        self.inner.on_deadline(c);
    }
    fn on_wake(&mut self, c: &mut dyn QuicConnection) {
        self.inner.on_wake(c);
        self.open_queued(c);
    }
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        // A wake for a stream routes on; the pool's own has no hop left.
        // Either way the queue is looked at (a lock and a length).
        self.inner.on_wake_at(c, route);
        self.open_queued(c);
    }
    fn connection_lost(&mut self, why: &Close) {
        let pending = {
            let mut q = self.shared.lock();
            q.dead.get_or_insert(why.clone());
            q.wake = None;
            std::mem::take(&mut q.pending)
        };
        self.inner.connection_lost(why);
        for mut w in pending {
            w.proto.connection_lost(why);
        }
    }
}

/// A queued protocol: reports its start and its end to its caller.
struct Tracked {
    inner: Box<dyn StreamProtocol>,
    started: Option<oneshot::Sender<Result<(), Close>>>,
    ended: Option<oneshot::Sender<Close>>,
}

/// Forwards every method (a forgotten one would change the protocol's
/// behaviour).
impl StreamProtocol for Tracked {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Ok(()));
        }
        self.inner.connection_made(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner.data_received(t, data);
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.inner.data_received_bytes(t, data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Err(why.clone()));
        }
        if let Some(tx) = self.ended.take() {
            let _ = tx.send(why.clone());
        }
        self.inner.connection_lost(why);
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.pause_writing(t);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.resume_writing(t);
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_deadline(t);
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.inner.on_wake(t, route);
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_shutdown(t);
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}
