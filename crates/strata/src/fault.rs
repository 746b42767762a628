//! One error taxonomy for every layer: [`Fault`] says who is at fault,
//! [`LayerError`] is the shape every layer's error has.
//!
//! A layer keeps its own error enum next to its code (TLS's
//! `TlsError`, HTTP/1's `H1Error`, HTTP/2's `H2Error`, the reliable
//! mapping's `ConnError`, ...) and implements [`LayerError`] for it: one
//! method, [`kind`](LayerError::kind), that sorts each variant into a
//! [`Fault`]. It then aborts with [`AbortReason::layer`](crate::AbortReason::layer),
//! and whoever receives the [`Close`](crate::Close) asks it
//! [`kind()`](crate::Close::kind) or gets the typed error back with
//! [`error::<E>()`](crate::Close::error): no string matching, no downcast by
//! hand. A layer written outside this crate plugs in the same way:
//!
//! ```
//! use strata::{AbortReason, Close, Fault, LayerError};
//!
//! /// The errors of a user's own layer.
//! #[derive(Debug, thiserror::Error)]
//! enum ChatError {
//!     #[error("nickname taken")]
//!     NickTaken,
//!     #[error("message over {0} bytes")]
//!     TooLong(usize),
//! }
//!
//! impl LayerError for ChatError {
//!     fn kind(&self) -> Fault {
//!         match self {
//!             ChatError::NickTaken => Fault::PeerMisbehaved,
//!             ChatError::TooLong(_) => Fault::LocalLimit,
//!         }
//!     }
//! }
//!
//! // In the layer: t.abort(Close::aborted("chat", AbortReason::layer(ChatError::TooLong(512))))
//! let why = Close::aborted("chat", AbortReason::layer(ChatError::TooLong(512)));
//! assert_eq!(why.kind(), Some(Fault::LocalLimit));
//! assert!(matches!(why.error::<ChatError>(), Some(ChatError::TooLong(512))));
//! assert_eq!(why.to_string(), "aborted by chat: message over 512 bytes");
//! ```

use std::error::Error;
use std::fmt;

/// Who (or what) is at fault when a connection ends: the one classification
/// every layer's errors answer, through [`LayerError::kind`],
/// [`AbortReason::kind`](crate::AbortReason::kind) and
/// [`Close::kind`](crate::Close::kind).
///
/// The grouping follows rustls': the peer broke the protocol, the peer
/// speaks it but shares nothing with us, we hit a limit of our own, we were
/// configured wrong, the operating system failed, plus the two deliberate
/// ends (the peer's and ours).
///
/// ```
/// use strata::{AbortReason, Close, Fault, Timeout};
/// let why = Close::aborted("lines", AbortReason::LineTooLong { limit: 1024 });
/// assert_eq!(why.kind(), Some(Fault::LocalLimit));
/// assert_eq!(Close::Timeout(Timeout::Idle).kind(), Some(Fault::LocalLimit));
/// assert_eq!(Close::Done.kind(), None);
/// assert_eq!(Fault::PeerMisbehaved.to_string(), "the peer broke the protocol");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The peer broke the protocol: malformed, unexpected or forbidden
    /// input (a protocol violation).
    PeerMisbehaved,
    /// The peer speaks the protocol but shares nothing with us: no common
    /// version, cipher suite or application protocol (ALPN), or a
    /// certificate we do not accept.
    PeerIncompatible,
    /// A limit of ours was reached: a size, a count, a memory budget or a
    /// deadline from the configuration (what a slow or greedy peer meets).
    LocalLimit,
    /// This side is configured wrong or used an API wrongly; not the
    /// peer's doing.
    Config,
    /// The operating system or the transport below failed.
    Io,
    /// The peer ended the connection on purpose: a reset, an abort it sent
    /// (an HTTP/2 RST_STREAM or GOAWAY with an error code, a TLS alert, a
    /// reliable-mapping close with an application code).
    PeerAborted,
    /// This side ended the connection: the application asked, the server is
    /// shutting down, a protocol of ours panicked, or a layer failed inside
    /// (an internal error, not the peer's doing nor a limit).
    Local,
}

impl Fault {
    /// Whether the peer is to blame ([`PeerMisbehaved`](Fault::PeerMisbehaved)
    /// or [`PeerIncompatible`](Fault::PeerIncompatible)): what a server logs
    /// at a lower level than its own faults.
    ///
    /// ```
    /// use strata::Fault;
    /// assert!(Fault::PeerMisbehaved.is_peer());
    /// assert!(!Fault::Config.is_peer());
    /// ```
    pub fn is_peer(self) -> bool {
        matches!(self, Fault::PeerMisbehaved | Fault::PeerIncompatible)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::PeerMisbehaved => "the peer broke the protocol",
            Fault::PeerIncompatible => "the peer is incompatible",
            Fault::LocalLimit => "a local limit was reached",
            Fault::Config => "configuration error",
            Fault::Io => "I/O error",
            Fault::PeerAborted => "the peer aborted",
            Fault::Local => "ended by this side",
        })
    }
}

/// The shape of every layer's error: a typed error that says which
/// [`Fault`] it is. Carried in a [`Close`](crate::Close) by
/// [`AbortReason::layer`](crate::AbortReason::layer) and reached again with
/// [`Close::error`](crate::Close::error). See the [module docs](self) for a
/// user's own layer.
///
/// ```
/// use strata::{Fault, LayerError};
/// let e = std::io::Error::other("no randomness");
/// assert_eq!(e.kind(), std::io::ErrorKind::Other); // io::Error's own method
/// assert_eq!(LayerError::kind(&e), Fault::Io);
/// ```
pub trait LayerError: Error + Send + Sync + 'static {
    /// Who is at fault.
    ///
    /// ```
    /// use std::fmt;
    /// use strata::{Fault, LayerError};
    /// #[derive(Debug)]
    /// struct BadMagic;
    /// impl fmt::Display for BadMagic {
    ///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str("bad magic number") }
    /// }
    /// impl std::error::Error for BadMagic {}
    /// impl LayerError for BadMagic {
    ///     fn kind(&self) -> Fault { Fault::PeerMisbehaved } // the peer sent it
    /// }
    /// assert!(BadMagic.kind().is_peer());
    /// ```
    fn kind(&self) -> Fault;
}

/// The operating system's errors, for a layer that meets one (a failed
/// random source, say).
impl LayerError for std::io::Error {
    fn kind(&self) -> Fault {
        Fault::Io
    }
}
