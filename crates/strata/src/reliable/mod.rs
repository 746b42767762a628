//! The stream-over-datagram mapping: reliable, ordered byte streams over
//! any datagram transport (UDP, or anything that carries whole messages that
//! may be lost, duplicated or reordered), and a KCP-compatible mode.
//!
//! * [`Reliable`]: the layer. Over a datagram transport it is the client
//!   side of a full reliable transport; over a stream it is a pass-through,
//!   so a stack is written once.
//! * [`ReliableListener`]: the server side, many connections on one socket,
//!   routed by connection id, with stateless address validation.
//! * [`Connection`]: the sans-IO state machine under both (handshake with a
//!   Retry cookie, SACK, loss detection and probe timeouts in the style of
//!   RFC 9002, congestion control and pacing from [`cc`], flow control with
//!   a self-tuning window, FIN, RESET, CLOSE, idle timeout and keepalive).
//! * [`wire`] and [`cookie`]: the native wire format, specified for a third
//!   party in `docs/reliable-wire.md`.
//! * [`kcp`] and [`kcp_stream`]: the KCP-compatible engine and its layers.
//!
//! `docs/reliable.md` is the guide: endpoint strings (`reliable+udp://`,
//! `tls+reliable+udp://`), options, what the protocol above sees, the
//! goodput table.
pub mod cc;
mod children;
mod conn;
pub mod cookie;
pub mod engine;
mod host;
pub mod kcp;
pub mod kcp_stream;
mod layer;
mod listener;
mod native_host;
mod qlog;
mod rng;
pub mod testing;
pub mod wire;

pub use conn::{
    ConfigError, ConnError, ConnStats, Connection, ReliableConfig, Side, DEFAULT_DEAD_AFTER_PROBES,
    DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER, DEFAULT_RNG_SEED, DEFAULT_SERVER_ID,
    DEFAULT_UNREACHABLE_HINTS,
};
pub use layer::Reliable;
pub use listener::{ListenerStats, ReliableListener};
