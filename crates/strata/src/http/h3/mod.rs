//! HTTP/3 (RFC 9114) as an application of the QUIC layer
//! (`strata::quic::QuicApp`): frames ([`frame`]), varints ([`varint`]),
//! settings, the control and QPACK streams ([`crate::http::qpack`]), and
//! one request per bidirectional stream.
//!
//! [`H3Server`] serves the same [`Service`](crate::http::Service) as
//! [`HttpServer`](crate::http::HttpServer): a request protocol written for
//! HTTP/1.1 and HTTP/2 runs unchanged over HTTP/3. [`H3Client`] sends
//! requests as [`HttpClient`](crate::http::HttpClient) does.
//!
//! Errors carry the codes of RFC 9114 §8.1 ([`Code`], [`H3Error`]); QPACK
//! errors close the connection with RFC 9204's codes. Server push is never
//! offered (no MAX_PUSH_ID is sent). Limits are [`H3Config`]'s, each in
//! `docs/limits.md`.
pub mod frame;
pub mod varint;

mod client;
mod config;
mod conn;
mod error;
mod head;
mod qlog;
mod quic_api;
mod recv;
mod server;
mod stream;

pub use client::{H3Client, H3Requests};
pub use config::*;
pub use error::{Code, H3Error};
pub use server::H3Server;
