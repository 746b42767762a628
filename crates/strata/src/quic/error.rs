//! [`QuicError`]: why a QUIC connection or stream ended, sorted by fault.

use crate::{Fault, LayerError};

/// The layer's typed error: transport and application close codes, the idle
/// and handshake timeouts, handshake failures, and the per-stream aborts
/// (RESET_STREAM, STOP_SENDING) a stream protocol sees.
///
/// ```
/// use strata::{AbortReason, Close, Fault};
/// use strata::quic::QuicError;
/// let why = Close::aborted("quic", AbortReason::layer(QuicError::StreamReset(9)));
/// assert_eq!(why.kind(), Some(Fault::PeerAborted));
/// assert_eq!(why.error::<QuicError>(), Some(&QuicError::StreamReset(9)));
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuicError {
    /// The peer closed the connection with a transport error code (RFC 9000 §20.1).
    #[error("peer closed the connection: transport error {code:#x} ({reason})")]
    TransportClosed {
        /// The code.
        code: u64,
        /// The reason phrase.
        reason: String,
    },
    /// The peer closed the connection with an application error code.
    #[error("peer closed the connection: application error {code:#x}")]
    ApplicationClosed {
        /// The code.
        code: u64,
        /// The reason phrase.
        reason: Vec<u8>,
    },
    /// We closed it with an application error code.
    #[error("closed locally: application error {code:#x}")]
    LocallyClosed {
        /// The code.
        code: u64,
    },
    /// We found the peer at fault and closed with this transport error code.
    #[error("protocol violation: transport error {code:#x} ({reason})")]
    ProtocolViolation {
        /// The transport error code we sent.
        code: u64,
        /// What went wrong.
        reason: String,
    },
    /// No packet from the peer for the idle timeout.
    #[error("idle timeout")]
    IdleTimeout,
    /// The handshake did not finish within the handshake timeout.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The TLS handshake failed (certificate, version, crypto).
    #[error("handshake failed: {0}")]
    HandshakeFailed(String),
    /// No common ALPN protocol, or none the server has an application for.
    #[error("no application protocol")]
    NoApplicationProtocol,
    /// The server refused the connection (over `max_connections`, or shutting down).
    #[error("connection refused")]
    Refused,
    /// The peer reset with a stateless reset.
    #[error("stateless reset")]
    Reset,
    /// No common QUIC version.
    #[error("no common QUIC version")]
    VersionMismatch,
    /// The peer reset its sending side of a stream (RESET_STREAM) with this code.
    #[error("peer reset the stream with code {0}")]
    StreamReset(u64),
    /// The peer asked us to stop sending on a stream (STOP_SENDING) with this code.
    #[error("peer stopped the stream with code {0}")]
    StreamStopped(u64),
    /// The stream protocol aborted: we sent RESET_STREAM and STOP_SENDING with this code.
    #[error("stream aborted locally with code {0}")]
    StreamAborted(u64),
    /// The configuration cannot be used (TLS without TLS 1.3, bad limits).
    #[error("configuration: {0}")]
    Config(String),
    /// The connection could not be started (bad address, no connection ids).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server refused 0-RTT and the stream's early bytes could not be
    /// sent again on a new stream (the server's stream limit is lower now).
    #[error("0-RTT rejected and the stream could not be opened again")]
    ZeroRttRejected,
}

impl QuicError {
    /// The code carried on the wire, for the variants that have one.
    ///
    /// ```
    /// use strata::quic::QuicError;
    /// assert_eq!(QuicError::StreamStopped(3).code(), Some(3));
    /// assert_eq!(QuicError::IdleTimeout.code(), None);
    /// ```
    pub fn code(&self) -> Option<u64> {
        match self {
            QuicError::TransportClosed { code, .. }
            | QuicError::ApplicationClosed { code, .. }
            | QuicError::LocallyClosed { code }
            | QuicError::ProtocolViolation { code, .. }
            | QuicError::StreamReset(code)
            | QuicError::StreamStopped(code)
            | QuicError::StreamAborted(code) => Some(*code),
            _ => None,
        }
    }
}

impl LayerError for QuicError {
    fn kind(&self) -> Fault {
        match self {
            QuicError::TransportClosed { .. }
            | QuicError::ApplicationClosed { .. }
            | QuicError::Refused
            | QuicError::Reset
            | QuicError::StreamReset(_)
            | QuicError::StreamStopped(_) => Fault::PeerAborted,
            QuicError::ProtocolViolation { .. } => Fault::PeerMisbehaved,
            QuicError::HandshakeFailed(_)
            | QuicError::NoApplicationProtocol
            | QuicError::VersionMismatch
            | QuicError::ZeroRttRejected => Fault::PeerIncompatible,
            QuicError::IdleTimeout | QuicError::HandshakeTimeout => Fault::LocalLimit,
            QuicError::LocallyClosed { .. } | QuicError::StreamAborted(_) => Fault::Local,
            QuicError::Config(_) => Fault::Config,
            QuicError::Connect(_) => Fault::Io,
        }
    }
}

impl From<quinn_proto::ConnectionError> for QuicError {
    fn from(e: quinn_proto::ConnectionError) -> Self {
        use quinn_proto::ConnectionError as E;
        match e {
            E::VersionMismatch => QuicError::VersionMismatch,
            E::TransportError(t) => {
                let code = u64::from(t.code);
                if code == 0x178 || (0x100..0x200).contains(&code) && t.reason.contains("ALPN") {
                    QuicError::NoApplicationProtocol
                } else if (0x100..0x200).contains(&code) {
                    QuicError::HandshakeFailed(t.to_string())
                } else {
                    QuicError::ProtocolViolation {
                        code,
                        reason: t.reason,
                    }
                }
            }
            E::ConnectionClosed(c) => {
                let code = u64::from(c.error_code);
                let reason = String::from_utf8_lossy(&c.reason).into_owned();
                if code == 0x2 {
                    QuicError::Refused
                } else if code == 0x178 {
                    QuicError::NoApplicationProtocol
                } else if (0x100..0x200).contains(&code) {
                    QuicError::HandshakeFailed(reason)
                } else {
                    QuicError::TransportClosed { code, reason }
                }
            }
            E::ApplicationClosed(c) => QuicError::ApplicationClosed {
                code: c.error_code.into_inner(),
                reason: c.reason.to_vec(),
            },
            E::Reset => QuicError::Reset,
            E::TimedOut => QuicError::IdleTimeout,
            E::LocallyClosed => QuicError::LocallyClosed { code: 0 },
            E::CidsExhausted => QuicError::Connect("connection ids exhausted".into()),
        }
    }
}
