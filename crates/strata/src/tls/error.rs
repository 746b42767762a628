//! [`TlsError`]: why the TLS layer gave up, saying who is at fault.

use crate::{Fault, LayerError};

/// Why a [`Tls`](crate::tls::Tls) layer ended the connection.
///
/// It reaches the inner protocol's `connection_lost` as
/// `Close::Aborted { layer: "tls", reason: AbortReason::Layer(..) }`; get it
/// back with `why.error::<TlsError>()`. The variants group rustls' errors by
/// who is at fault, as rustls itself does, and [`kind`](LayerError::kind)
/// maps them onto the core's [`Fault`].
///
/// ```
/// use strata::tls::TlsError;
/// use strata::{AbortReason, Close, Fault};
/// let e = TlsError::from(rustls::Error::DecryptError);
/// assert!(matches!(e, TlsError::PeerMisbehaved(_)));
/// assert_eq!(e.rustls_error(), Some(&rustls::Error::DecryptError));
/// let why = Close::aborted("tls", AbortReason::layer(e));
/// assert_eq!(why.kind(), Some(Fault::PeerMisbehaved));
/// assert!(matches!(why.error::<TlsError>(), Some(TlsError::PeerMisbehaved(_))));
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The peer broke the protocol: a malformed, unexpected, oversized or
    /// undecryptable record (garbage on the wire, a record tampered with in
    /// flight, plaintext where a handshake was due).
    #[error("TLS peer misbehaved: {0}")]
    PeerMisbehaved(rustls::Error),
    /// The peer speaks TLS but shares no version, cipher suite, group or
    /// application protocol with us.
    #[error("TLS peer is incompatible: {0}")]
    PeerIncompatible(rustls::Error),
    /// A certificate was rejected: untrusted, expired, for another name, or
    /// missing where one is required.
    #[error("TLS certificate rejected: {0}")]
    Certificate(rustls::Error),
    /// The peer sent a fatal alert: it rejected us.
    #[error("TLS peer sent a fatal alert: {0:?}")]
    AlertReceived(rustls::AlertDescription),
    /// rustls refused the configuration (API misuse, not the peer's fault).
    #[error("TLS configuration refused: {0}")]
    Config(rustls::Error),
    /// Any other rustls error.
    #[error("TLS error: {0}")]
    Other(rustls::Error),
    /// The transport below ended (EOF) before the handshake completed.
    #[error("transport closed during the TLS handshake")]
    HandshakeTruncated,
    /// The transport below ended (EOF) without the peer's `close_notify`: the
    /// data may have been cut short by an attacker.
    #[error("transport closed without a TLS close_notify")]
    Truncated,
    /// rustls refused input it could not buffer (a handshake message over
    /// its 64 KiB limit).
    #[error("TLS input refused: {0}")]
    InputRefused(String),
}

impl TlsError {
    /// Whether this is what ordinary peers do, not a fault worth a warning:
    /// [`Truncated`](TlsError::Truncated), an EOF without `close_notify`
    /// after the handshake, which curl, browsers and most HTTP clients send
    /// after their last response (HTTP framing, not TLS, tells them the data
    /// is complete). A handshake cut short is not routine.
    ///
    /// ```
    /// use strata::tls::TlsError;
    /// assert!(TlsError::Truncated.is_routine());
    /// assert!(!TlsError::HandshakeTruncated.is_routine());
    /// ```
    pub fn is_routine(&self) -> bool {
        matches!(self, TlsError::Truncated)
    }

    /// The rustls error behind this one, if any.
    ///
    /// ```
    /// use strata::tls::TlsError;
    /// let e = TlsError::from(rustls::Error::DecryptError);
    /// assert_eq!(e.rustls_error(), Some(&rustls::Error::DecryptError));
    /// assert_eq!(TlsError::Truncated.rustls_error(), None); // an EOF, not rustls
    /// ```
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match self {
            TlsError::PeerMisbehaved(e)
            | TlsError::PeerIncompatible(e)
            | TlsError::Certificate(e)
            | TlsError::Config(e)
            | TlsError::Other(e) => Some(e),
            TlsError::AlertReceived(_)
            | TlsError::HandshakeTruncated
            | TlsError::Truncated
            | TlsError::InputRefused(_) => None,
        }
    }
}

impl LayerError for TlsError {
    /// ```
    /// use strata::{Fault, LayerError, tls::TlsError};
    /// assert_eq!(TlsError::HandshakeTruncated.kind(), Fault::PeerMisbehaved);
    /// let e = TlsError::from(rustls::Error::NoApplicationProtocol);
    /// assert_eq!(e.kind(), Fault::PeerIncompatible);
    /// ```
    fn kind(&self) -> Fault {
        match self {
            TlsError::PeerMisbehaved(_) | TlsError::HandshakeTruncated | TlsError::Truncated => {
                Fault::PeerMisbehaved
            }
            TlsError::InputRefused(_) => Fault::LocalLimit,
            TlsError::PeerIncompatible(_) | TlsError::Certificate(_) => Fault::PeerIncompatible,
            TlsError::AlertReceived(_) => Fault::PeerAborted,
            TlsError::Config(_) => Fault::Config,
            TlsError::Other(_) => Fault::Local,
        }
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        use rustls::Error as E;
        match e {
            E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. }
            | E::InvalidMessage(_)
            | E::DecryptError
            | E::PeerMisbehaved(_)
            | E::PeerSentOversizedRecord
            | E::InvalidEncryptedClientHello(_) => TlsError::PeerMisbehaved(e),
            E::PeerIncompatible(_) | E::NoApplicationProtocol | E::UnsupportedNameType => {
                TlsError::PeerIncompatible(e)
            }
            E::NoCertificatesPresented
            | E::InvalidCertificate(_)
            | E::InvalidCertRevocationList(_) => TlsError::Certificate(e),
            E::AlertReceived(d) => TlsError::AlertReceived(d),
            other => TlsError::Other(other),
        }
    }
}
