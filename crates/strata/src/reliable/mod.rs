//! The stream-over-datagram mapping (work in progress): reliable, ordered
//! byte streams over any datagram transport, and a KCP-compatible mode.
//!
//! This session holds its separable parts, each tested on its own: the
//! native wire format ([`wire`]) and stateless address validation
//! ([`cookie`]), RTT estimation, congestion control and pacing ([`cc`]), and
//! a KCP-compatible engine ([`kcp`]). The connection state machine that
//! composes them into a layer comes next. The wire format is specified in
//! `docs/reliable-wire.md`, so that a third party can implement it.
pub mod cc;
mod conn;
pub mod cookie;
mod host;
pub mod kcp;
pub mod kcp_stream;
mod layer;
mod listener;
pub mod wire;

pub use conn::{ConfigError, ConnError, ConnStats, Connection, ReliableConfig, Side};
pub use layer::Reliable;
pub use listener::{ListenerStats, ReliableFactory, ReliableListener};
