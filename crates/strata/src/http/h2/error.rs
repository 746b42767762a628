//! The typed reason an HTTP/2 error gives `connection_lost`.

use super::frame::ErrorCode;
use crate::{AbortReason, Close, Fault, LayerError};

/// An HTTP/2 error, ours or the peer's, as it reaches `connection_lost`
/// (as `Close::Aborted { layer: "h2" or "h2-stream", reason:
/// AbortReason::Layer(..) }`; get it back with `why.error::<H2Error>()`).
///
/// ```
/// use strata::http::h2::{H2Error, frame::ErrorCode};
/// use strata::{AbortReason, Close, Fault, LayerError};
/// let e = H2Error { code: ErrorCode::ProtocolError, detail: "bad", remote: false, stream: None };
/// assert_eq!(e.to_string(), "connection error PROTOCOL_ERROR: bad");
/// assert_eq!(e.kind(), Fault::PeerMisbehaved);
/// let why = Close::aborted("h2", AbortReason::layer(e.clone()));
/// assert_eq!(why.error::<H2Error>(), Some(&e));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{} {code}: {detail}", if *.remote { "peer sent " } else { "" }, super::frame::scope(.stream))]
pub struct H2Error {
    /// The RFC 9113 error code sent or received.
    pub code: ErrorCode,
    /// What went wrong.
    pub detail: &'static str,
    /// True when the peer sent it (RST_STREAM or GOAWAY).
    pub remote: bool,
    /// The stream, for a stream error.
    pub stream: Option<u32>,
}

pub(super) fn h2_close(
    code: ErrorCode,
    detail: &'static str,
    remote: bool,
    stream: Option<u32>,
) -> Close {
    Close::aborted(
        if stream.is_some() { "h2-stream" } else { "h2" },
        AbortReason::layer(H2Error {
            code,
            detail,
            remote,
            stream,
        }),
    )
}

impl LayerError for H2Error {
    /// A code the peer sent is the peer's abort, whatever it says; a code we
    /// send says whose fault it is (RFC 9113 §7).
    fn kind(&self) -> Fault {
        if self.remote {
            return Fault::PeerAborted;
        }
        match self.code {
            ErrorCode::ProtocolError
            | ErrorCode::FlowControlError
            | ErrorCode::StreamClosed
            | ErrorCode::FrameSizeError
            | ErrorCode::CompressionError => Fault::PeerMisbehaved,
            ErrorCode::InadequateSecurity | ErrorCode::Http11Required => Fault::PeerIncompatible,
            ErrorCode::SettingsTimeout | ErrorCode::RefusedStream | ErrorCode::EnhanceYourCalm => {
                Fault::LocalLimit
            }
            ErrorCode::ConnectError => Fault::Io,
            ErrorCode::NoError
            | ErrorCode::InternalError
            | ErrorCode::Cancel
            | ErrorCode::Unknown(_) => Fault::Local,
        }
    }
}
