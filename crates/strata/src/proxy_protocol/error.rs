//! Why a PROXY header was refused.

use std::time::Duration;

use super::ProxyVersion;
use crate::{Fault, LayerError};

/// Why the `proxy` layer refused a connection: the connection is aborted
/// with `Close::aborted("proxy", AbortReason::layer(e))`, and
/// `close.error::<ProxyError>()` gives this back.
///
/// ```
/// use strata::proxy_protocol::ProxyError;
/// use strata::{Fault, LayerError};
/// assert_eq!(ProxyError::NotProxy.kind(), Fault::PeerMisbehaved);
/// assert_eq!(
///     ProxyError::NotProxy.to_string(),
///     "no PROXY protocol header: the first bytes are neither `PROXY ` (v1) nor the v2 signature"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The connection does not start with a PROXY header at all (a client
    /// that reached the port without the load balancer, say).
    #[error(
        "no PROXY protocol header: the first bytes are neither `PROXY ` (v1) nor the v2 signature"
    )]
    NotProxy,
    /// A header of a version this listener does not accept
    /// (`proxy.versions`).
    #[error(
        "PROXY protocol {version} header refused: this listener accepts only the other version"
    )]
    VersionRefused {
        /// The version the peer sent.
        version: ProxyVersion,
    },
    /// A v1 line without `\r\n` within 107 bytes.
    #[error("PROXY v1 header longer than 107 bytes")]
    V1TooLong,
    /// A v1 line that does not follow the grammar.
    #[error("malformed PROXY v1 header: {why}")]
    V1Malformed {
        /// What is wrong.
        why: &'static str,
    },
    /// A v2 version nibble other than 2.
    #[error("PROXY v2 header with version/command byte {byte:#04x}: version is not 2")]
    V2BadVersion {
        /// The version and command byte.
        byte: u8,
    },
    /// A v2 command other than LOCAL and PROXY.
    #[error(
        "PROXY v2 header with version/command byte {byte:#04x}: command is not LOCAL or PROXY"
    )]
    V2BadCommand {
        /// The version and command byte.
        byte: u8,
    },
    /// A v2 address family or transport protocol that does not exist.
    #[error("PROXY v2 header with unknown address family/protocol byte {byte:#04x}")]
    V2BadFamily {
        /// The family and protocol byte.
        byte: u8,
    },
    /// A v2 header whose variable part is longer than this listener takes
    /// (`proxy.max_header`).
    #[error("PROXY v2 header of {len} bytes after the fixed part: more than the {max} allowed")]
    V2TooLong {
        /// The length the header announces.
        len: usize,
        /// The configured bound.
        max: usize,
    },
    /// A v2 header too short for the addresses of its family.
    #[error("PROXY v2 header too short ({len} bytes) for the addresses of family {family:#04x}")]
    V2AddressesTooShort {
        /// The family and protocol byte.
        family: u8,
        /// The length it announced.
        len: usize,
    },
    /// A v2 TLV that does not fit the header.
    #[error("malformed PROXY v2 TLV: {why}")]
    V2BadTlv {
        /// What is wrong.
        why: &'static str,
    },
    /// The peer closed (EOF) before the header was complete.
    #[error("connection closed after {got} bytes of a PROXY header")]
    Truncated {
        /// The bytes received.
        got: usize,
    },
    /// The header did not complete in time (`proxy.timeout`).
    #[error("PROXY header not complete after {after:?} ({got} bytes received)")]
    Timeout {
        /// The configured time.
        after: Duration,
        /// The bytes received by then.
        got: usize,
    },
}

impl LayerError for ProxyError {
    fn kind(&self) -> Fault {
        match self {
            ProxyError::VersionRefused { .. } => Fault::PeerIncompatible,
            ProxyError::V2TooLong { .. } | ProxyError::Timeout { .. } => Fault::LocalLimit,
            _ => Fault::PeerMisbehaved,
        }
    }
}
