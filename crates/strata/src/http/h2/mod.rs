//! HTTP/2 (RFC 9113) as layers: the connection is a stream protocol to the
//! transport below and a multiplexer of stream transports above, one per
//! request. The frame codec ([`frame`]) is kept apart from the state machine
//! ([`H2Connection`]); header compression is [`crate::http::hpack`].
mod client;
mod config;
mod conn;
mod error;
pub mod frame;
pub(crate) mod head;
mod qlog;
mod stream;

pub use client::H2Client;
pub use config::H2Config;
pub use conn::H2Connection;
pub use error::H2Error;
pub use stream::StreamId;
