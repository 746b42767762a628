//! [`H1Error`]: why an HTTP/1.1 connection gave up on its peer.

use http::StatusCode;

use crate::{Fault, LayerError};

/// Why an HTTP/1.1 layer ended a connection: every way a peer's bytes can be
/// refused, one variant per reason.
///
/// On a server, the error is answered with [`status`](H1Error::status) when
/// no response head was sent yet, then the connection closes; the request
/// protocol of the exchange (if any) gets it in `connection_lost` as
/// `Close::Aborted { layer: "http1", reason: AbortReason::Layer(..) }`: get
/// it back with `why.error::<H1Error>()`. A client aborts with the same
/// reason.
///
/// ```
/// use strata::http::h1::H1Error;
/// use strata::{AbortReason, Close, Fault};
/// let e = H1Error::HeadTooLarge { limit: 1024 };
/// assert_eq!(e.status(), http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
/// assert_eq!(e.to_string(), "head longer than 1024 bytes");
/// let why = Close::aborted("http1", AbortReason::layer(e.clone()));
/// assert_eq!(why.kind(), Some(Fault::LocalLimit));
/// assert_eq!(why.error::<H1Error>(), Some(&e));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum H1Error {
    /// The start line or a header field is malformed (the parser's reason).
    #[error("malformed head: {0}")]
    MalformedHead(&'static str),
    /// The head did not end within the configured size.
    #[error("head longer than {limit} bytes")]
    HeadTooLarge {
        /// `H1Config::max_head_bytes`.
        limit: usize,
    },
    /// The head has more header fields than configured.
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// `H1Config::max_headers`.
        limit: usize,
    },
    /// The peer speaks an HTTP version other than 1.0 and 1.1.
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// The request target is not a valid URI.
    #[error("invalid request target")]
    InvalidTarget,
    /// An HTTP/1.1 request without a `Host` field (RFC 9112 §3.2).
    #[error("HTTP/1.1 request without Host")]
    MissingHost,
    /// Several `Host` fields, or one that is not a valid authority.
    #[error("invalid or repeated Host")]
    InvalidHost,
    /// Both `Content-Length` and `Transfer-Encoding` (a smuggling attempt,
    /// RFC 9112 §6.3).
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    /// Several `Content-Length` values that differ.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// A `Content-Length` that is not a decimal number.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// A `Transfer-Encoding` whose last coding is not `chunked`.
    #[error("Transfer-Encoding does not end with chunked")]
    ChunkedNotLast,
    /// A `Transfer-Encoding` with a coding other than `chunked`.
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// A `Transfer-Encoding` in an HTTP/1.0 message (RFC 9112 §6.1: faulty framing).
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingInHttp10,
    /// A chunk-size line that is not a hexadecimal size (or overflows).
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk-size line longer than configured.
    #[error("chunk-size line longer than {limit} bytes")]
    ChunkLineTooLong {
        /// `H1Config::max_chunk_line`.
        limit: usize,
    },
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    MalformedChunk,
    /// A trailer section longer than configured.
    #[error("trailer section longer than {limit} bytes")]
    TrailersTooLarge {
        /// `H1Config::max_trailer_bytes`.
        limit: usize,
    },
    /// A malformed trailer field.
    #[error("malformed trailers: {0}")]
    MalformedTrailers(&'static str),
    /// A request body over the configured limit.
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// `H1Config::max_body`.
        limit: u64,
    },
    /// The peer closed its side in the middle of a head.
    #[error("end of stream inside a head")]
    TruncatedHead,
    /// The peer closed its side in the middle of a body.
    #[error("end of stream inside a body")]
    TruncatedBody,
    /// A request head took longer than `H1Config::head_timeout`.
    #[error("request head timed out")]
    HeadTimeout,
    /// A request body brought less than `H1Config::body_timeout ×
    /// H1Config::min_body_rate` bytes in one `body_timeout` period.
    #[error("request body too slow: under {min_bytes} bytes in {period:?}")]
    BodyTimeout {
        /// The bytes each period needed.
        min_bytes: u64,
        /// `H1Config::body_timeout`.
        period: std::time::Duration,
    },
    /// A response's status line or header fields are malformed (client).
    #[error("malformed response: {0}")]
    MalformedResponse(&'static str),
    /// The server closed the connection before a complete response head (client).
    #[error("connection closed before the response head")]
    TruncatedResponse,
}

impl H1Error {
    /// The status a server answers this error with (when it still can).
    ///
    /// ```
    /// use strata::http::h1::H1Error;
    /// assert_eq!(H1Error::UnsupportedVersion.status(), 505);
    /// assert_eq!(H1Error::ConflictingContentLength.status(), 400);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            H1Error::HeadTooLarge { .. }
            | H1Error::TooManyHeaders { .. }
            | H1Error::TrailersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            H1Error::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            H1Error::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            H1Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            H1Error::HeadTimeout | H1Error::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            H1Error::MalformedHead(_)
            | H1Error::InvalidTarget
            | H1Error::MissingHost
            | H1Error::InvalidHost
            | H1Error::ContentLengthWithTransferEncoding
            | H1Error::ConflictingContentLength
            | H1Error::InvalidContentLength
            | H1Error::ChunkedNotLast
            | H1Error::TransferEncodingInHttp10
            | H1Error::InvalidChunkSize
            | H1Error::ChunkLineTooLong { .. }
            | H1Error::MalformedChunk
            | H1Error::MalformedTrailers(_)
            | H1Error::TruncatedHead
            | H1Error::TruncatedBody
            | H1Error::MalformedResponse(_)
            | H1Error::TruncatedResponse => StatusCode::BAD_REQUEST,
        }
    }
}

impl LayerError for H1Error {
    /// Limits and deadlines are ours, a version or coding we do not speak is
    /// an incompatible peer, everything else is the peer breaking RFC 9112.
    ///
    /// ```
    /// use strata::{Fault, LayerError, http::h1::H1Error};
    /// assert_eq!(H1Error::UnsupportedVersion.kind(), Fault::PeerIncompatible);
    /// assert_eq!(H1Error::ConflictingContentLength.kind(), Fault::PeerMisbehaved);
    /// assert_eq!(H1Error::HeadTimeout.kind(), Fault::LocalLimit);
    /// ```
    fn kind(&self) -> Fault {
        match self {
            H1Error::HeadTooLarge { .. }
            | H1Error::TooManyHeaders { .. }
            | H1Error::ChunkLineTooLong { .. }
            | H1Error::TrailersTooLarge { .. }
            | H1Error::BodyTooLarge { .. }
            | H1Error::HeadTimeout
            | H1Error::BodyTimeout { .. } => Fault::LocalLimit,
            H1Error::UnsupportedVersion | H1Error::UnsupportedTransferCoding => {
                Fault::PeerIncompatible
            }
            H1Error::MalformedHead(_)
            | H1Error::InvalidTarget
            | H1Error::MissingHost
            | H1Error::InvalidHost
            | H1Error::ContentLengthWithTransferEncoding
            | H1Error::ConflictingContentLength
            | H1Error::InvalidContentLength
            | H1Error::ChunkedNotLast
            | H1Error::TransferEncodingInHttp10
            | H1Error::InvalidChunkSize
            | H1Error::MalformedChunk
            | H1Error::MalformedTrailers(_)
            | H1Error::TruncatedHead
            | H1Error::TruncatedBody
            | H1Error::MalformedResponse(_)
            | H1Error::TruncatedResponse => Fault::PeerMisbehaved,
        }
    }
}
