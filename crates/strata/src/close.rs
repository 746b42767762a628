//! Why a connection ended: the typed reason every `connection_lost` receives.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::fault::{Fault, LayerError};

/// Why a connection (or one direction of it) ended.
///
/// Every layer hands one of these to its inner protocol's `connection_lost`.
/// Reasons every layer shares are enumerated in [`AbortReason`]; a layer's
/// own typed error (TLS's, HTTP's, the reliable mapping's, or one of a layer
/// written outside this crate) rides in [`AbortReason::Layer`]. Either way,
/// [`kind`](Close::kind) says who is at fault and
/// [`error`](Close::error) gives the typed error back.
///
/// ```
/// use strata::{AbortReason, Close, Fault};
/// let why = Close::aborted("lines", AbortReason::LineTooLong { limit: 1024 });
/// assert!(!why.is_clean());
/// assert_eq!(why.kind(), Some(Fault::LocalLimit));
/// assert_eq!(why.to_string(), "aborted by lines: line longer than 1024 bytes");
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Close {
    /// Both directions finished cleanly: our close was flushed, or both sides
    /// sent EOF.
    #[error("closed cleanly")]
    Done,
    /// The peer reset the connection (TCP RST, a reset from a mapping layer).
    #[error("reset by peer")]
    Reset,
    /// A timer ran out.
    #[error("{0} timed out")]
    Timeout(Timeout),
    /// A layer (or the application) gave up on the connection.
    #[error("aborted by {layer}: {reason}")]
    Aborted {
        /// The name of the layer that aborted (as in `layer_chain()`).
        layer: &'static str,
        /// Why it aborted.
        reason: AbortReason,
    },
    /// The operating system reported an error on the socket.
    #[error("I/O error: {0}")]
    Io(std::io::ErrorKind),
}

impl Close {
    /// Shorthand for [`Close::Aborted`].
    ///
    /// ```
    /// use strata::{AbortReason, Close};
    /// let c = Close::aborted("lines", AbortReason::LineTooLong { limit: 8192 });
    /// assert_eq!(c.layer(), Some("lines"));
    /// assert!(!c.is_clean());
    /// ```
    pub fn aborted(layer: &'static str, reason: AbortReason) -> Close {
        Close::Aborted { layer, reason }
    }

    /// True for [`Close::Done`] only.
    ///
    /// ```
    /// use strata::{Close, Timeout};
    /// assert!(Close::Done.is_clean());
    /// assert!(!Close::Timeout(Timeout::Idle).is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        matches!(self, Close::Done)
    }

    /// Who is at fault, or `None` for a clean close.
    ///
    /// A reset is the peer's abort; a timer that ran out is a local limit,
    /// except a connect or socket time-out (I/O).
    ///
    /// ```
    /// use strata::{Close, Fault, Timeout};
    /// assert_eq!(Close::Reset.kind(), Some(Fault::PeerAborted));
    /// assert_eq!(Close::Timeout(Timeout::Head).kind(), Some(Fault::LocalLimit));
    /// assert_eq!(Close::Io(std::io::ErrorKind::Other).kind(), Some(Fault::Io));
    /// ```
    pub fn kind(&self) -> Option<Fault> {
        Some(match self {
            Close::Done => return None,
            Close::Reset => Fault::PeerAborted,
            Close::Timeout(Timeout::Connect | Timeout::Io) | Close::Io(_) => Fault::Io,
            Close::Timeout(_) => Fault::LocalLimit,
            Close::Aborted { reason, .. } => reason.kind(),
        })
    }

    /// The layer's typed error this close carries, if it is an `E`.
    ///
    /// ```
    /// use strata::{AbortReason, Close};
    /// let why = Close::aborted("x", AbortReason::layer(std::io::Error::other("gone")));
    /// assert_eq!(why.error::<std::io::Error>().unwrap().to_string(), "gone");
    /// assert!(Close::Done.error::<std::io::Error>().is_none());
    /// ```
    pub fn error<E: LayerError>(&self) -> Option<&E> {
        match self {
            Close::Aborted { reason, .. } => reason.error(),
            _ => None,
        }
    }

    /// The name of the layer that aborted, for [`Close::Aborted`].
    ///
    /// ```
    /// use strata::{AbortReason, Close};
    /// assert_eq!(Close::aborted("tls", AbortReason::SlowPeer).layer(), Some("tls"));
    /// assert_eq!(Close::Reset.layer(), None);
    /// ```
    pub fn layer(&self) -> Option<&'static str> {
        match self {
            Close::Aborted { layer, .. } => Some(layer),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Close {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            ConnectionReset | ConnectionAborted | BrokenPipe => Close::Reset,
            TimedOut => Close::Timeout(Timeout::Io),
            k => Close::Io(k),
        }
    }
}

/// Which timer ran out.
///
/// ```
/// use strata::{Close, Fault, Timeout};
/// let c = Close::Timeout(Timeout::Handshake);
/// assert!(matches!(c, Close::Timeout(Timeout::Handshake)));
/// assert!(c.kind().is_some());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// Nothing happened for the configured idle time.
    Idle,
    /// A graceful close could not flush within its deadline.
    CloseFlush,
    /// A handshake did not complete in time.
    Handshake,
    /// A peer stopped reading for longer than the stall limit.
    Stall,
    /// Connecting did not complete in time.
    Connect,
    /// The operating system reported a time-out.
    Io,
    /// Nothing chose a protocol in time: no first byte arrived, or not
    /// enough to tell which protocol the peer speaks (an HTTP version, say).
    Detect,
    /// A protocol's opening bytes (the HTTP/2 connection preface) did not
    /// arrive in time.
    Preface,
    /// A message head (an HTTP/1.1 request head, an HTTP/2 header block)
    /// was started and not finished in time.
    Head,
    /// A message body stopped arriving, or trickled in slower than the
    /// configured minimum.
    Body,
    /// Draining after a graceful shutdown (a GOAWAY) did not finish in time.
    Drain,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeout::Idle => "idle timer",
            Timeout::CloseFlush => "graceful close",
            Timeout::Handshake => "handshake",
            Timeout::Stall => "stalled peer",
            Timeout::Connect => "connect",
            Timeout::Io => "socket operation",
            Timeout::Detect => "protocol detection",
            Timeout::Preface => "connection preface",
            Timeout::Head => "message head",
            Timeout::Body => "message body",
            Timeout::Drain => "drain",
        })
    }
}

/// Why a layer aborted.
///
/// ```
/// use strata::{AbortReason, Close, Fault};
/// let c = Close::aborted("framing", AbortReason::FrameTooLarge { size: 70_000, limit: 65_536 });
/// assert_eq!(c.kind(), Some(Fault::LocalLimit)); // one of our limits, hit by the peer
/// assert!(c.to_string().contains("framing"));
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AbortReason {
    /// The application asked for it.
    #[error("requested by the application")]
    Requested,
    /// The connection's memory budget was exceeded: a protocol kept writing
    /// although the transport said it was not writable.
    #[error("memory budget of {limit} bytes exceeded")]
    MemoryBudget {
        /// The configured budget.
        limit: usize,
    },
    /// A line longer than the configured maximum arrived.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The configured maximum.
        limit: usize,
    },
    /// A frame larger than the configured maximum arrived (or was written).
    #[error("frame of {size} bytes over the limit of {limit}")]
    FrameTooLarge {
        /// The size announced or written.
        size: usize,
        /// The configured maximum.
        limit: usize,
    },
    /// The peer closed its side in the middle of a frame or message.
    #[error("end of stream inside a frame")]
    TruncatedFrame,
    /// A layer that needs a reliable transport was put on one that is not.
    #[error("transport below is not reliable")]
    NotReliable,
    /// The protocol panicked; the driver ended this connection only.
    #[error("protocol panicked")]
    Panicked,
    /// The server is shutting down and the drain deadline passed.
    #[error("server shutting down")]
    Shutdown,
    /// The peer stopped reading and its queue passed the configured limit.
    #[error("peer stopped reading")]
    SlowPeer,
    /// The peer went away while a layer was still waiting for it.
    #[error("peer aborted")]
    PeerAborted,
    /// A layer's own typed error (TLS, HTTP/1, HTTP/2, the reliable mapping,
    /// or a layer outside this crate). Build it with
    /// [`AbortReason::layer`]; read it with [`AbortReason::error`].
    #[error("{0}")]
    Layer(Arc<dyn LayerError>),
}

impl AbortReason {
    /// Carries a layer's typed error.
    ///
    /// ```
    /// use strata::{AbortReason, Fault};
    /// let r = AbortReason::layer(std::io::Error::other("no randomness"));
    /// assert_eq!(r.kind(), Fault::Io);
    /// ```
    pub fn layer(e: impl LayerError) -> AbortReason {
        AbortReason::Layer(Arc::new(e))
    }

    /// Who is at fault: a layer error answers for itself; the shared
    /// reasons are sorted here.
    ///
    /// ```
    /// use strata::{AbortReason, Fault};
    /// assert_eq!(AbortReason::MemoryBudget { limit: 1 }.kind(), Fault::LocalLimit);
    /// assert_eq!(AbortReason::TruncatedFrame.kind(), Fault::PeerMisbehaved);
    /// assert_eq!(AbortReason::Requested.kind(), Fault::Local);
    /// ```
    pub fn kind(&self) -> Fault {
        match self {
            AbortReason::Requested | AbortReason::Panicked | AbortReason::Shutdown => Fault::Local,
            AbortReason::MemoryBudget { .. }
            | AbortReason::LineTooLong { .. }
            | AbortReason::FrameTooLarge { .. }
            | AbortReason::SlowPeer => Fault::LocalLimit,
            AbortReason::TruncatedFrame => Fault::PeerMisbehaved,
            AbortReason::NotReliable => Fault::Config,
            AbortReason::PeerAborted => Fault::PeerAborted,
            AbortReason::Layer(e) => e.kind(),
        }
    }

    /// The layer's typed error, if this reason carries an `E`.
    ///
    /// ```
    /// use strata::AbortReason;
    /// let r = AbortReason::layer(std::io::Error::other("gone"));
    /// assert!(r.error::<std::io::Error>().is_some());
    /// assert!(AbortReason::SlowPeer.error::<std::io::Error>().is_none());
    /// ```
    pub fn error<E: LayerError>(&self) -> Option<&E> {
        match self {
            AbortReason::Layer(e) => {
                let e: &(dyn Error + 'static) = &**e;
                e.downcast_ref()
            }
            _ => None,
        }
    }
}
