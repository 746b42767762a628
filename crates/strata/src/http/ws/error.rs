//! [`WsError`]: why a WebSocket connection failed, and the close code it sends.

use crate::{Fault, LayerError};

/// Why a WebSocket connection or handshake failed. Each variant is sorted by
/// fault ([`LayerError::kind`]) and, where the peer gets a close frame, has
/// its close code ([`WsError::close_code`]). A connection ended by one
/// reaches the protocol above as `Close::Aborted { layer: "websocket",
/// reason: AbortReason::Layer(..) }`, read with `why.error::<WsError>()`.
///
/// ```
/// use strata::http::ws::WsError;
/// use strata::{Fault, LayerError};
/// assert_eq!(WsError::InvalidUtf8.close_code(), Some(1007));
/// assert_eq!(WsError::MessageTooBig { limit: 10 }.kind(), Fault::LocalLimit);
/// assert_eq!(WsError::UnmaskedFrame.kind(), Fault::PeerMisbehaved);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// RSV1, RSV2 or RSV3 set with no extension that defines it (1002).
    #[error("reserved bits set in a frame")]
    ReservedBits,
    /// An opcode RFC 6455 reserves (1002).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A close, ping or pong without FIN (1002).
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame over 125 bytes (1002).
    #[error("control frame longer than 125 bytes")]
    ControlTooLong,
    /// A length in a longer form than its value needs (1002).
    #[error("frame length not in its shortest form")]
    NonMinimalLength,
    /// A 64-bit length with its top bit set (1002).
    #[error("frame length with the top bit set")]
    LengthTooLarge,
    /// A client frame without a mask, at a server (1002).
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// A server frame with a mask, at a client (1002).
    #[error("masked frame from a server")]
    MaskedFrame,
    /// A continuation frame with no message started (1002).
    #[error("continuation frame without a message")]
    UnexpectedContinuation,
    /// A new text or binary frame while a message is still in fragments (1002).
    #[error("new message before the previous one ended")]
    UnfinishedMessage,
    /// A close frame with a one-byte payload, or a code no endpoint may send (1002).
    #[error("invalid close frame (code {0:?})")]
    InvalidClose(Option<u16>),
    /// A compressed message that does not inflate (permessage-deflate, 1007).
    #[error("a compressed message that does not inflate")]
    BadCompression,
    /// A text message or close reason that is not UTF-8 (1007).
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    /// A message over [`WsConfig::max_message`](super::WsConfig::max_message) (1009).
    #[error("message over the limit of {limit} bytes")]
    MessageTooBig {
        /// The configured limit.
        limit: usize,
    },
    /// The peer closed with a code other than 1000 (normal) or 1001 (going away).
    #[error("peer closed with code {code}: {reason:?}")]
    PeerClosed {
        /// The peer's close code.
        code: u16,
        /// The peer's reason.
        reason: String,
    },
    /// The stream ended without a close frame (what RFC 6455 calls 1006).
    #[error("stream ended without a close frame")]
    NoCloseFrame,
    /// No pong (nor anything else) within a ping interval after a ping.
    #[error("no answer to a ping")]
    PingTimeout,
    /// A client handshake the server refuses; `status` is the HTTP status
    /// sent (400, or 426 for a missing upgrade or a version other than 13).
    #[error("bad handshake ({status}): {what}")]
    BadRequest {
        /// The HTTP status answered.
        status: u16,
        /// What was wrong.
        what: &'static str,
    },
    /// The server refused or answered the handshake wrongly.
    #[error("handshake refused: {0}")]
    HandshakeFailed(String),
    /// The transport is not an HTTP exchange, so no handshake can be made.
    #[error("no HTTP exchange below for the handshake")]
    NotHttp,
    /// The operating system has no random numbers for the masking keys.
    #[error("no random numbers for masking keys")]
    NoRandom,
}

impl WsError {
    /// The close code sent to the peer for this error, if any.
    ///
    /// ```
    /// use strata::http::ws::WsError;
    /// assert_eq!(WsError::ReservedBits.close_code(), Some(1002));
    /// assert_eq!(WsError::NoCloseFrame.close_code(), None);
    /// ```
    pub fn close_code(&self) -> Option<u16> {
        use WsError::*;
        match self {
            ReservedBits
            | ReservedOpcode(_)
            | FragmentedControl
            | ControlTooLong
            | NonMinimalLength
            | LengthTooLarge
            | UnmaskedFrame
            | MaskedFrame
            | UnexpectedContinuation
            | UnfinishedMessage
            | InvalidClose(_) => Some(1002),
            InvalidUtf8 | BadCompression => Some(1007),
            MessageTooBig { .. } => Some(1009),
            PingTimeout => Some(1011),
            PeerClosed { .. }
            | NoCloseFrame
            | BadRequest { .. }
            | HandshakeFailed(_)
            | NotHttp
            | NoRandom => None,
        }
    }
}

impl LayerError for WsError {
    fn kind(&self) -> Fault {
        use WsError::*;
        match self {
            MessageTooBig { .. } => Fault::LocalLimit,
            PeerClosed { .. } | NoCloseFrame => Fault::PeerAborted,
            PingTimeout => Fault::Io,
            HandshakeFailed(_) => Fault::PeerIncompatible,
            NotHttp | NoRandom => Fault::Config,
            _ => Fault::PeerMisbehaved,
        }
    }
}
