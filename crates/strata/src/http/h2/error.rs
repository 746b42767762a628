//! The typed reason an HTTP/2 error gives `connection_lost`.

use super::frame::ErrorCode;
use crate::{AbortReason, Close};

/// An HTTP/2 error, ours or the peer's, as it reaches `connection_lost`
/// (inside [`AbortReason::Http2`]).
///
/// ```
/// use strata::http::h2::{H2Error, frame::ErrorCode};
/// let e = H2Error { code: ErrorCode::ProtocolError, detail: "bad", remote: false, stream: None };
/// assert_eq!(e.to_string(), "connection error PROTOCOL_ERROR: bad");
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
        AbortReason::Http2(H2Error {
            code,
            detail,
            remote,
            stream,
        }),
    )
}
