//! QUIC (RFC 9000) as a layer: a **datagram protocol** below, a **transport**
//! for every one of its streams above.
//!
//! The layer wraps [quinn-proto](https://docs.rs/quinn-proto/0.11.19), which
//! is sans-IO like strata: the layer owns a `quinn_proto::Endpoint` and its
//! `Connection`s, feeds them the datagrams and the time (`t.now()`) its
//! transport hands it, sends their transmits through the
//! [`DatagramTransport`](crate::DatagramTransport), and reports the earliest
//! of their timers as `next_deadline`. No socket, thread or clock inside.
//!
//! * [`QuicServer`] and [`QuicClient`] are the two
//!   [`DatagramProtocol`](crate::DatagramProtocol)s: put them on any datagram
//!   stack (UDP, the simulated network, length-prefixed frames on a stream).
//!   [`QuicClientEndpoint`] is the client for many connections on one
//!   transport (one socket), opened at any time, to any servers.
//! * A [`QuicApp`] is what runs over one connection; it sees the connection
//!   as a [`QuicConnection`]. HTTP/3 is one.
//! * [`PerStream`] is the app that runs one [`StreamProtocol`](crate::StreamProtocol)
//!   per stream, each over a `quic-stream` [`StreamTransport`](crate::StreamTransport).
//!
//! # The driving contract
//!
//! After every entry point (datagrams, a deadline, a wake) the layer runs
//! quinn-proto to quiescence: endpoint events both ways, application events
//! delivered to the app, then every transmit sent, then the next deadline
//! recomputed. Time only moves forward (the layer keeps the latest `now`).
//! See `docs/quic.md` for the guide.
//!
//! ```
//! use strata::quic::{Dir, StreamId};
//! let id = StreamId(4);
//! assert!(id.is_bidi() && id.is_client_initiated());
//! assert_eq!(StreamId(3).dir(), Dir::Uni);
//! ```

mod app;
mod cid;
mod client;
pub mod config;
mod conn;
mod datagrams;
mod engine;
mod error;
mod per_stream;
mod qlog;
mod server;
mod stats;
mod table;
pub mod testing;

pub use app::{AppFactory, EarlyData, QuicApp, QuicConnection};
pub use cid::{RoutableCidGenerator, QUIC_NONCE_LEN};
pub use client::{ConnectError, QuicClient, QuicClientEndpoint};
pub use config::{QuicConfig, RetryPolicy, MAX_EARLY_BYTES};
pub use datagrams::DatagramApp;
pub use engine::{MAX_GSO_SEGMENTS, NO_APPLICATION_CODE};
pub use error::QuicError;
pub use per_stream::{PerStream, DEFAULT_ABORT_CODE, DEFAULT_STREAM_QUEUE_BUDGET};
pub use server::QuicServer;
pub use stats::{PathStats, PeerCertificates, StreamBuffer};

/// A QUIC stream id (RFC 9000 §2.1): the two low bits say who opened it and
/// whether it is bidirectional.
///
/// ```
/// use strata::quic::StreamId;
/// assert!(StreamId(0).is_bidi() && StreamId(0).is_client_initiated());
/// assert!(!StreamId(3).is_bidi() && !StreamId(3).is_client_initiated());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(
    /// The stream's 62-bit identifier.
    pub u64,
);

impl StreamId {
    /// Bidirectional (bit 1 clear).
    ///
    /// ```
    /// use strata::quic::StreamId;
    /// assert!(StreamId(0).is_bidi() && StreamId(5).is_bidi());
    /// assert!(!StreamId(2).is_bidi() && !StreamId(7).is_bidi());
    /// ```
    pub fn is_bidi(self) -> bool {
        self.0 & 0x2 == 0
    }

    /// Opened by the client (bit 0 clear).
    ///
    /// ```
    /// use strata::quic::StreamId;
    /// assert!(StreamId(0).is_client_initiated() && StreamId(2).is_client_initiated());
    /// assert!(!StreamId(1).is_client_initiated()); // the server's first bidirectional stream
    /// ```
    pub fn is_client_initiated(self) -> bool {
        self.0 & 0x1 == 0
    }

    /// Which kind of stream.
    ///
    /// ```
    /// use strata::quic::{Dir, StreamId};
    /// assert_eq!(StreamId(4).dir(), Dir::Bi);
    /// assert_eq!(StreamId(3).dir(), Dir::Uni);
    /// ```
    pub fn dir(self) -> Dir {
        if self.is_bidi() {
            Dir::Bi
        } else {
            Dir::Uni
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream {}", self.0)
    }
}

/// Which kind of stream.
///
/// ```
/// use strata::quic::{Dir, StreamId};
/// assert_eq!(StreamId(2).dir(), Dir::Uni);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Bidirectional: both sides send.
    Bi,
    /// Unidirectional: only the opener sends.
    Uni,
}

/// Why a stream operation failed.
///
/// ```
/// use strata::quic::StreamError;
/// assert_eq!(StreamError::Stopped(7).to_string(), "peer sent STOP_SENDING with code 7");
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// Closed, never opened, or the wrong direction.
    #[error("unknown stream")]
    UnknownStream,
    /// The peer sent STOP_SENDING with this code.
    #[error("peer sent STOP_SENDING with code {0}")]
    Stopped(u64),
    /// Written after `finish`.
    #[error("stream already finished")]
    Finished,
    /// The connection is gone.
    #[error("connection closed")]
    ConnectionClosed,
    /// A DATAGRAM frame the peer did not enable, or too large for it.
    #[error("datagram rejected (disabled by the peer, or too large)")]
    DatagramRejected,
}

impl crate::LayerError for StreamError {
    fn kind(&self) -> crate::Fault {
        match self {
            StreamError::Stopped(_) => crate::Fault::PeerAborted,
            StreamError::ConnectionClosed => crate::Fault::PeerAborted,
            StreamError::UnknownStream | StreamError::Finished | StreamError::DatagramRejected => {
                crate::Fault::Local
            }
        }
    }
}

/// Our id as quinn-proto's; `None` past the varint range (no such stream).
fn to_proto_id(id: StreamId) -> Option<quinn_proto::StreamId> {
    quinn_proto::VarInt::from_u64(id.0)
        .ok()
        .map(quinn_proto::StreamId::from)
}

fn from_proto_id(id: quinn_proto::StreamId) -> StreamId {
    StreamId(u64::from(id))
}
