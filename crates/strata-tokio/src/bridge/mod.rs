//! Bridges between strata stacks and tokio's `AsyncRead`/`AsyncWrite`, both
//! ways (see `docs/bridges.md`).
//!
//! * **Top of a stack to async**: [`connect_bridged`] and
//!   [`BridgeListener`] open any stream endpoint (`tcp://`,
//!   `tls+reliable+udp://`, a stream of `quic+udp://`) with a bridge at the
//!   top of its stack, and give a [`BridgeStream`]: hyper, tonic or a
//!   tokio-util codec run on it unchanged. Back-pressure holds both ways
//!   ([`BridgeConfig`]). [`bridge`] makes the pair by hand.
//! * **Async into a stack**: [`spawn_async`] runs a stack over any
//!   `AsyncRead + AsyncWrite + Unpin + Send` (a `DuplexStream`, a
//!   tokio-rustls stream, a `TcpStream`), and [`spawn_async_layers`] puts
//!   an endpoint's stream layers (`tls+`, `reliable+`, `quic+`) above it.
//! * **One task per connection**: [`bridge_inline`] and [`serve_bridged`]
//!   run the async consumer of a bridged stream (hyper's connection
//!   future) inside the stack's own task, so a request wakes no second task.

mod bottom;
mod top;

use std::future::Future;
use std::sync::Arc;

use strata::endpoint::Endpoint;
use strata::{BottomInfo, Close, StackConfig, StreamFactory, StreamProtocol};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use bottom::{spawn_async, CLOSE_SHUTDOWN_TIME};
pub use top::{
    bridge, close_to_io, BridgeConfig, BridgeStream, ShutdownSignal, DEFAULT_BRIDGE_READ_BUFFER,
    DEFAULT_BRIDGE_WRITE_BUFFER,
};

use crate::config::ListenConfig;
use crate::error::DriverError;
use crate::layer::{LayerCx, Role};
use crate::server::{Listening, Server};
use top::BridgeProtocol;

/// Default of [`BridgeConfig::backlog`], the accept queue of a
/// [`BridgeListener`]: started connections not yet accepted, past which a
/// new one is aborted.
///
/// ```
/// assert_eq!(strata_tokio::DEFAULT_BRIDGE_BACKLOG, 128);
/// ```
pub const DEFAULT_BRIDGE_BACKLOG: usize = 128;

/// Connects to `ep` (any stream endpoint [`connect`](crate::connect)
/// takes) with a bridge at the top of the stack, and returns its async
/// handle once the stack has started: the transport's and the carrier's
/// handshakes (TCP, the mapping's, QUIC's) are done, and
/// [`BridgeStream::peer_addr`] and [`BridgeStream::layer_chain`] answer. A
/// stack that ends before it starts fails the connect with the reason
/// ([`close_to_io`]'s kind). A `tls` layer starts the protocol above it at
/// once: its handshake completes before the first byte written is sent,
/// and its failure is the first read's or write's error.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use strata::endpoint::Endpoint;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let server = strata_tokio::Server::new();
/// let ep = Endpoint::parse("reliable+udp://127.0.0.1:0").unwrap();
/// let mut l = strata_tokio::BridgeListener::bind(&server, &ep, Default::default(), Default::default())
///     .await.unwrap();
/// let to = Endpoint::parse(&l.listening().endpoint()).unwrap();
/// let mut c = strata_tokio::connect_bridged(&to, Default::default(), Default::default())
///     .await.unwrap();
/// c.write_all(b"over udp").await.unwrap();
/// let mut s = l.accept().await.unwrap();
/// let mut buf = [0; 8];
/// s.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"over udp");
/// assert_eq!(s.layer_chain(), ["reliable", "udp"]);
/// # }
/// ```
pub async fn connect_bridged(
    ep: &Endpoint,
    stack: Arc<StackConfig>,
    cfg: BridgeConfig,
) -> Result<BridgeStream, DriverError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let on_start = Box::new(move |s: BridgeStream| tx.send(s).is_ok());
    let proto = BridgeProtocol::new(cfg, Some(on_start));
    // The connection's task runs on its own; the handle ends it (drop,
    // `abort`), as a socket's owner does.
    let conn = crate::endpoint::connect(ep, Box::new(proto), stack).await?;
    match rx.await {
        Ok(stream) => Ok(stream),
        Err(_) => {
            let why = conn.closed().await;
            Err(DriverError::io("connect", conn.peer(), close_to_io(&why)))
        }
    }
}

/// A listener whose connections are [`BridgeStream`]s, for an async server
/// loop (hyper's `serve_connection`, tonic). Every stream endpoint
/// [`Server::listen`] takes works; the server's
/// [`shutdown`](Server::shutdown) ends it.
///
/// A connection is queued once its stack has started; at most [`BridgeConfig::backlog`] wait, more
/// are aborted.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use strata::endpoint::Endpoint;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let server = strata_tokio::Server::new();
/// let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
/// let mut l = strata_tokio::BridgeListener::bind(&server, &ep, Default::default(), Default::default())
///     .await.unwrap();
/// let addr = l.listening().socket_addr().unwrap();
/// let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
/// let mut s = l.accept().await.unwrap();
/// s.write_all(b"hello").await.unwrap();
/// drop(s); // a graceful close
/// let mut got = String::new();
/// c.read_to_string(&mut got).await.unwrap();
/// assert_eq!(got, "hello");
/// # }
/// ```
#[derive(Debug)]
pub struct BridgeListener {
    rx: mpsc::Receiver<BridgeStream>,
    listening: Listening,
}

impl BridgeListener {
    /// Listens on `ep` with `server` (see [`Server::listen`] for the
    /// endpoints and options); every connection gets a bridge configured
    /// by `bridge`. The example of [`BridgeListener`] shows it in use.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::BridgeListener;
    /// let server = strata_tokio::Server::new();
    ///
    /// let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    /// let l = BridgeListener::bind(&server, &ep, Default::default(), Default::default()).await.unwrap();
    /// assert_ne!(l.listening().socket_addr().unwrap().port(), 0);
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn bind(
        server: &Server,
        ep: &Endpoint,
        cfg: ListenConfig,
        bridge: BridgeConfig,
    ) -> Result<BridgeListener, DriverError> {
        let (tx, rx) = mpsc::channel(bridge.backlog.max(1));
        let factory: StreamFactory = Arc::new(move || {
            let tx = tx.clone();
            let on_start = Box::new(move |s: BridgeStream| tx.try_send(s).is_ok());
            Box::new(BridgeProtocol::new(bridge, Some(on_start))) as Box<dyn StreamProtocol>
        });
        let listening = server.listen(ep, factory, cfg).await?;
        Ok(BridgeListener { rx, listening })
    }

    /// The next connection; `None` once the listener is gone (the server
    /// shut down). See the example of [`BridgeListener`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::BridgeListener;
    /// let server = strata_tokio::Server::new();
    ///
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    /// let mut l = BridgeListener::bind(&server, &ep, Default::default(), Default::default()).await.unwrap();
    /// let mut c = tokio::net::TcpStream::connect(l.listening().socket_addr().unwrap()).await.unwrap();
    /// c.write_all(b"hi").await.unwrap();
    /// let mut s = l.accept().await.unwrap(); // an AsyncRead + AsyncWrite
    /// let mut buf = [0; 2];
    /// s.read_exact(&mut buf).await.unwrap();
    /// assert_eq!(&buf, b"hi");
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn accept(&mut self) -> Option<BridgeStream> {
        self.rx.recv().await
    }

    /// What the listener bound: its address, and its name as an endpoint
    /// a client connects to. See the example of [`BridgeListener`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::BridgeListener;
    /// let server = strata_tokio::Server::new();
    ///
    /// let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    /// let l = BridgeListener::bind(&server, &ep, Default::default(), Default::default()).await.unwrap();
    /// let bound = l.listening();
    /// assert!(matches!(bound.local, strata::Addr::Inet(a) if a.port() != 0));
    /// assert_eq!(bound.socket_addr().unwrap().ip(), std::net::Ipv4Addr::LOCALHOST);
    /// server.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub fn listening(&self) -> &Listening {
        &self.listening
    }
}

/// Makes a bridge whose async side is `f`'s future, run inside the stack's
/// own task: the protocol polls it whenever it was woken (by the stack's
/// input, by the write side draining, by its own timers or channels), and
/// hands what it wrote down before the callback returns. A bridged
/// connection is then one task, as a socket served by hyper on its own is:
/// no request crosses a wake between two tasks. Back-pressure is the
/// [`bridge`]'s: a future that does not read pauses the stack once
/// [`BridgeConfig::read_buffer`] bytes wait.
///
/// The future owns the [`BridgeStream`]: when it completes, the handle is
/// dropped and the stack closes gracefully after what was written. When the
/// stack ends first, the future is polled once there (its reads see the EOF
/// or the error) and, if still running, goes on as a task of its own. A
/// stack that never starts drops the future unpolled.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let (a, mut peer) = tokio::io::duplex(4096);
/// // An echo of one message, in the stack's task.
/// let proto = strata_tokio::bridge_inline(Default::default(), |mut s| async move {
///     let mut buf = [0; 5];
///     s.read_exact(&mut buf).await.unwrap();
///     s.write_all(&buf).await.unwrap();
/// });
/// let task = strata_tokio::spawn_async(a, proto, strata::BottomInfo::new("duplex"), Default::default());
/// peer.write_all(b"hello").await.unwrap();
/// let mut got = Vec::new();
/// peer.read_to_end(&mut got).await.unwrap(); // the future ended: the stack closed
/// assert_eq!(got, b"hello");
/// drop(peer);
/// assert!(task.await.unwrap().is_clean());
/// # }
/// ```
pub fn bridge_inline<F, Fut>(cfg: BridgeConfig, f: F) -> Box<dyn StreamProtocol>
where
    F: FnOnce(BridgeStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(BridgeProtocol::inline(cfg, |s| Box::pin(f(s))))
}

/// Listens on `ep` with `server` (every stream endpoint [`Server::listen`]
/// takes) and runs `handler`'s future for each connection inside that
/// connection's task ([`bridge_inline`]): an async server loop
/// (`hyper`'s `serve_connection`) without a second task per connection.
/// The server's [`shutdown`](Server::shutdown) ends it; the handle's
/// [`shutdown_signal`](BridgeStream::shutdown_signal) tells the handler.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use strata::endpoint::Endpoint;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let server = strata_tokio::Server::new();
/// let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
/// let l = strata_tokio::serve_bridged(&server, &ep, Default::default(), Default::default(),
///     |mut s| async move { s.write_all(b"hi").await.unwrap() })
///     .await.unwrap();
/// let mut c = tokio::net::TcpStream::connect(l.socket_addr().unwrap()).await.unwrap();
/// let mut got = String::new();
/// c.read_to_string(&mut got).await.unwrap();
/// assert_eq!(got, "hi");
/// # }
/// ```
pub async fn serve_bridged<F, Fut>(
    server: &Server,
    ep: &Endpoint,
    cfg: ListenConfig,
    bridge: BridgeConfig,
    handler: F,
) -> Result<Listening, DriverError>
where
    F: Fn(BridgeStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let factory: StreamFactory = Arc::new(move || bridge_inline(bridge, &handler));
    server.listen(ep, factory, cfg).await
}

/// Which end a stack over an async stream plays, for the layers that need
/// it (TLS): not always the end that connected.
///
/// ```
/// use strata_tokio::Side;
/// assert_ne!(Side::Client, Side::Server);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client end (a TLS client).
    Client,
    /// The server end (a TLS server).
    Server,
}

/// [`spawn_async`] with the stream layers of `ep` between `io` and
/// `proto`: every scheme of its chain but the last (the transport, which
/// `io` replaces), with their options (`tls.sni`, `tls.insecure`,
/// `tls.cert`, ...). `tls+tcp://example.com:443` puts a TLS client for
/// `example.com` over `io`; the address is otherwise unused (and
/// `reliable+` over a stream is a pass-through, as everywhere).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use strata::endpoint::Endpoint;
/// use strata_tokio::Side;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// // TLS over an in-memory pipe: a strata server and a strata client.
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let server_ep = Endpoint::parse("tls+tcp://localhost:0").unwrap();
/// let client_ep = Endpoint::parse("tls+tcp://localhost:0?tls.insecure=true").unwrap();
/// let (ps, mut s) = strata_tokio::bridge(Default::default());
/// let (pc, mut c) = strata_tokio::bridge(Default::default());
/// strata_tokio::spawn_async_layers(a, &server_ep, Side::Server, ps, Default::default()).unwrap();
/// strata_tokio::spawn_async_layers(b, &client_ep, Side::Client, pc, Default::default()).unwrap();
/// c.write_all(b"secret").await.unwrap();
/// let mut buf = [0; 6];
/// s.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"secret");
/// assert_eq!(s.layer_chain(), ["tls", "async"]);
/// # }
/// ```
pub fn spawn_async_layers<S>(
    io: S,
    ep: &Endpoint,
    side: Side,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
) -> Result<JoinHandle<Close>, DriverError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut cx = LayerCx {
        ep,
        role: match side {
            Side::Client => Role::Client,
            Side::Server => Role::Server,
        },
        identity: None,
        tls: None,
        tls_identity: None,
        seed: None,
    };
    let Some((_, above)) = ep.layers.split_last() else {
        return Err(DriverError::Unsupported {
            scheme: String::new(),
        });
    };
    let mut proto = proto;
    for name in above {
        let build =
            crate::scheme::find(name)?
                .over_stream
                .ok_or_else(|| DriverError::NotStream {
                    endpoint: ep.to_string(),
                })?;
        proto = build(&mut cx)?(proto);
    }
    Ok(spawn_async(io, proto, BottomInfo::new("async"), stack))
}
