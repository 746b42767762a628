//! # strata-tokio: the tokio driver for strata stacks
//!
//! This is the only crate of the project that does I/O. It runs a
//! [`strata::Stack`] (streams: TCP, Unix sockets) or a
//! [`strata::DatagramStack`] (UDP) over real sockets, one tokio task per
//! connection or socket, following the owner loop documented on `Stack`:
//!
//! * **Reads** wait for readiness, then read into a per-worker-thread buffer
//!   that is borrowed only within one poll: an idle connection holds no
//!   read buffer. Only while [`Stack::wants_read`](strata::Stack::wants_read).
//! * **Writes** go out as one vectored write per wake-up; a half-close is a
//!   `shutdown(Write)` once everything before it is flushed.
//! * **Timers** come from `next_deadline`, **wakes** from the stack's wake hub,
//!   and `now` is read here, the one place that reads the clock.
//! * **Finish**: a clean close shuts the socket down (then briefly drains what
//!   the peer still sends, so the kernel does not answer it with a reset); any
//!   other reason resets it (`SO_LINGER` 0).
//! * **Panics** in a protocol are caught: that connection is reset and ends
//!   with `Close::aborted("driver", AbortReason::Panicked)`; the server serves on.
//!
//! ```no_run
//! use std::sync::Arc;
//! use strata::{StreamProtocol, StreamTransport};
//! use strata_tokio::{ListenConfig, Server, StreamFactory};
//!
//! struct Echo;
//! impl StreamProtocol for Echo {
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let server = Server::new();
//! let factory: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
//! let addr = server
//!     .listen_tcp("127.0.0.1:0".parse().unwrap(), factory, ListenConfig::default())
//!     .await?;
//! println!("echo on {addr}");
//! server.shutdown(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod accept;
mod bridge;
mod config;
mod conn;
mod connect;
mod control;
mod dial;
mod endpoint;
mod error;
mod layer;
mod layers;
mod options;
mod proxy;
pub mod qlog;
mod quic;
mod reliable;
mod scheme;
mod server;
mod socket;
mod stats;
mod task;
mod tls;
mod udp;
mod workers;

pub use bridge::{
    bridge, bridge_inline, close_to_io, connect_bridged, serve_bridged, spawn_async,
    spawn_async_layers, BridgeConfig, BridgeListener, BridgeStream, ShutdownSignal, Side,
    CLOSE_SHUTDOWN_TIME, DEFAULT_BRIDGE_BACKLOG, DEFAULT_BRIDGE_READ_BUFFER,
    DEFAULT_BRIDGE_WRITE_BUFFER,
};
pub use config::ListenConfig;
pub use conn::spawn_stream;
pub use connect::{connect_tcp, connect_unix, Connection, CONNECTION_ATTEMPT_DELAY};
pub use dial::dialer;
pub use endpoint::connect;
pub use error::DriverError;
pub use layers::StackPlan;
pub use quic::{connect_quic, QuicEndpoint, QuicPool, DEFAULT_ALPN as QUIC_DEFAULT_ALPN};
pub use scheme::registry;
pub use server::{Listening, Server};
pub use socket::DriverStream;
pub use stats::{
    LayerTotals, Observed, ServerStats, Snapshot, StackSnapshot, StackStats, CONN_TARGET, HISTORY,
    LAYER_TARGET, REFRESH,
};
pub use tls::{
    client_config, server_config, server_identity, AcceptAnyServerCert, ReloadingCert, TlsIdentity,
    TlsSetupError, MAX_PEM_FILE, SELF_SIGNED_NAMES,
};
pub use workers::Workers;

/// Builds the protocol for each accepted connection of a listener: the
/// core's one factory type, [`strata::StreamFactory`], re-exported because
/// [`Server::listen`] takes it.
///
/// ```
/// use std::sync::Arc;
/// use strata::{StreamProtocol, StreamTransport};
/// struct Discard;
/// impl StreamProtocol for Discard {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let f: strata::StreamFactory = Arc::new(|| Box::new(Discard) as Box<dyn StreamProtocol>);
/// let same: strata_tokio::StreamFactory = f.clone();
/// let _proto = same();
/// ```
pub use strata::StreamFactory;
