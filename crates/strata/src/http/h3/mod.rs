//! HTTP/3 (RFC 9114) over a QUIC connection: frames ([`frame`]), varints
//! ([`varint`]), settings, the control and QPACK streams, and the
//! connection as an application of the QUIC layer.
pub mod frame;
pub mod varint;

mod config;
mod error;

pub use config::*;
pub use error::{Code, H3Error};
