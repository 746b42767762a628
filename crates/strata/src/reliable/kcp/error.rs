//! [`KcpError`] and [`KcpStats`].

use super::KcpConfigError;
use crate::{Fault, LayerError};

/// Errors of the KCP engine.
///
/// ```
/// use strata::reliable::kcp::{Kcp, KcpConfig, KcpError};
/// let mut k = Kcp::new(1, KcpConfig::default()).unwrap();
/// let err = k.input(std::time::Instant::now(), &[0; 5]).unwrap_err();
/// assert_eq!(err, KcpError::Truncated { len: 5 });
/// assert_eq!(err.to_string(), "truncated KCP segment (5 bytes left, header needs 24)");
/// assert!(matches!(Kcp::new(1, KcpConfig { mtu: 1, ..KcpConfig::default() }), Err(KcpError::Config(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KcpError {
    /// Invalid message: a segment header was cut short.
    #[error("truncated KCP segment ({len} bytes left, header needs 24)")]
    Truncated {
        /// Bytes that were left.
        len: usize,
    },
    /// Invalid message: a segment declared more data than the datagram holds.
    #[error("KCP segment declares {declared} data bytes, {available} available")]
    BadLength {
        /// The `len` field.
        declared: u32,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// Invalid message: a command byte ikcp does not define.
    #[error("unknown KCP command {0}")]
    UnknownCommand(u8),
    /// Peer misbehaved or misrouted: a segment for another conversation.
    #[error("KCP conversation mismatch: expected {expected}, found {found}")]
    ConvMismatch {
        /// Ours.
        expected: u32,
        /// The segment's.
        found: u32,
    },
    /// API misuse: the configuration is invalid.
    #[error("invalid KCP config: {0}")]
    Config(#[from] KcpConfigError),
    /// API misuse: a message needs more than [`MAX_FRAGMENTS`](super::MAX_FRAGMENTS) fragments or
    /// more than the whole send buffer.
    #[error("message of {len} bytes is too large")]
    MessageTooLarge {
        /// The message length.
        len: usize,
    },
    /// Back-pressure: the send buffer cannot take this message now.
    #[error("send buffer full")]
    WouldBlock,
    /// API misuse: `send_message` on a stream-mode engine.
    #[error("engine is in stream mode")]
    StreamMode,
    /// Local configuration: the protocol above called `write_eof` on a KCP
    /// conversation without the end marker
    /// ([`KcpStreamConfig::fin`](crate::reliable::kcp_stream::KcpStreamConfig::fin)):
    /// the KCP wire cannot tell the peer, so the conversation ended after
    /// flushing what was written.
    #[error("KCP cannot half-close: write_eof ended the conversation (set reliable.kcp_fin=true on both ends for an end the peer sees)")]
    NoHalfClose,
}

impl LayerError for KcpError {
    /// ```
    /// use strata::reliable::kcp::KcpError;
    /// use strata::{Fault, LayerError};
    /// assert_eq!(KcpError::UnknownCommand(99).kind(), Fault::PeerMisbehaved);
    /// assert_eq!(KcpError::WouldBlock.kind(), Fault::LocalLimit);
    /// ```
    fn kind(&self) -> Fault {
        match self {
            KcpError::Truncated { .. }
            | KcpError::BadLength { .. }
            | KcpError::UnknownCommand(_)
            | KcpError::ConvMismatch { .. } => Fault::PeerMisbehaved,
            KcpError::MessageTooLarge { .. } | KcpError::WouldBlock => Fault::LocalLimit,
            KcpError::Config(_) | KcpError::StreamMode | KcpError::NoHalfClose => Fault::Config,
        }
    }
}

impl LayerError for KcpConfigError {
    /// Always [`Fault::Config`].
    fn kind(&self) -> Fault {
        Fault::Config
    }
}

/// Counters, for tests, metrics and diagnostics.
///
/// ```
/// use std::time::Instant;
/// use strata::reliable::kcp::{Kcp, KcpConfig};
/// let now = Instant::now();
/// let (mut a, mut b) = (Kcp::new(1, KcpConfig::fast_mode()).unwrap(), Kcp::new(1, KcpConfig::fast_mode()).unwrap());
/// a.send(b"hello");
/// a.on_timeout(now);
/// let mut d = Vec::new();
/// assert!(a.poll_transmit(now, &mut d));
/// b.input(now, &d).unwrap();
/// b.input(now, &d).unwrap(); // the same datagram again
/// let (sa, sb) = (a.stats(), b.stats());
/// assert_eq!((sa.segments_sent, sa.datagrams_out), (1, 1));
/// assert_eq!((sb.datagrams_in, sb.duplicate_segments), (2, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KcpStats {
    /// Datagrams given to `input`.
    pub datagrams_in: u64,
    /// Datagrams produced by `poll_transmit`.
    pub datagrams_out: u64,
    /// Datagrams dropped whole: malformed or for another conversation.
    pub datagrams_dropped: u64,
    /// Data segments sent for the first time.
    pub segments_sent: u64,
    /// Retransmissions on RTO expiry.
    pub timeout_retransmits: u64,
    /// Fast retransmissions (duplicate-ack driven).
    pub fast_retransmits: u64,
    /// Data segments received that were already received.
    pub duplicate_segments: u64,
    /// Segments dropped: outside the receive window, oversized, bad `frg`
    /// or an impossible `una`.
    pub segments_dropped: u64,
    /// Acks not queued because the pending-ack list was full.
    pub acks_dropped: u64,
}
