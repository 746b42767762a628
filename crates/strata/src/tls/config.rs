//! [`TlsConfig`]: the role of a [`Tls`](crate::tls::Tls) layer and its limits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

/// The default time a handshake may take: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The default amount of plaintext the inner protocol may queue before the
/// handshake completes, past which the view reports `writable() == false` and
/// the inner protocol gets `pause_writing`: 0, so the whole handshake is a
/// pause and `resume_writing` tells the inner protocol that it is done (and
/// that [`TlsInfo`](crate::tls::TlsInfo), ALPN included, can be read).
/// Writes made meanwhile are still queued and sent in order.
pub const DEFAULT_HANDSHAKE_WRITE_LIMIT: usize = 0;

/// The default amount of undecrypted input held while the inner protocol has
/// paused reading, past which the layer pauses reading below: 64 KiB.
pub const DEFAULT_MAX_HELD_INPUT: usize = 64 * 1024;

/// The TLS role of a layer (chosen apart from who connected) and its limits.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use strata::tls::TlsConfig;
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let client = rustls::ClientConfig::builder_with_provider(provider)
///     .with_safe_default_protocol_versions()
///     .unwrap()
///     .with_root_certificates(rustls::RootCertStore::empty())
///     .with_no_client_auth();
/// let name = "example.test".try_into().unwrap();
/// let cfg = TlsConfig::client(Arc::new(client), name)
///     .handshake_timeout(Duration::from_secs(3));
/// assert!(cfg.is_client());
/// assert_eq!(cfg.limits().handshake_timeout, Duration::from_secs(3));
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    role: Role,
    limits: TlsLimits,
}

#[derive(Clone)]
enum Role {
    Client {
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    },
    Server {
        config: Arc<rustls::ServerConfig>,
    },
}

/// The bounds a [`Tls`](crate::tls::Tls) layer keeps to; every one has a
/// documented default.
///
/// ```
/// use strata::tls::TlsLimits;
/// let l = TlsLimits::default();
/// assert_eq!(l.handshake_write_limit, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsLimits {
    /// How long the handshake may take from the moment the layer starts
    /// (default [`DEFAULT_HANDSHAKE_TIMEOUT`]); then the connection is
    /// aborted with `Close::Timeout(Timeout::Handshake)`.
    pub handshake_timeout: Duration,
    /// Plaintext queued before the handshake completes past which the view
    /// stops being writable (default [`DEFAULT_HANDSHAKE_WRITE_LIMIT`]).
    pub handshake_write_limit: usize,
    /// Undecrypted input held while the inner protocol pauses reading past
    /// which reading below is paused too (default [`DEFAULT_MAX_HELD_INPUT`]).
    pub max_held_input: usize,
}

impl Default for TlsLimits {
    fn default() -> Self {
        TlsLimits {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            handshake_write_limit: DEFAULT_HANDSHAKE_WRITE_LIMIT,
            max_held_input: DEFAULT_MAX_HELD_INPUT,
        }
    }
}

impl TlsConfig {
    /// The server role, with rustls' server configuration (certificates,
    /// ALPN protocols, client verifier, versions).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::{Identity, ServerTls, TlsConfig};
    /// let id = Identity::localhost().unwrap();
    /// let rustls_cfg = ServerTls::new(&id).build_rustls().unwrap();
    /// let cfg = TlsConfig::server(Arc::new(rustls_cfg));
    /// assert!(!cfg.is_client());
    /// ```
    pub fn server(config: Arc<rustls::ServerConfig>) -> Self {
        TlsConfig {
            role: Role::Server { config },
            limits: TlsLimits::default(),
        }
    }

    /// The client role: `name` is the name the server's certificate is
    /// checked against and, for a DNS name, the SNI sent.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::{ClientTls, TlsConfig};
    /// let (rustls_cfg, _) = ClientTls::new("localhost").unwrap().insecure().build_rustls().unwrap();
    /// let cfg = TlsConfig::client(Arc::new(rustls_cfg), "example.test".try_into().unwrap());
    /// assert!(cfg.is_client());
    /// ```
    pub fn client(config: Arc<rustls::ClientConfig>, name: ServerName<'static>) -> Self {
        TlsConfig {
            role: Role::Client { config, name },
            limits: TlsLimits::default(),
        }
    }

    /// Sets the handshake timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::tls::{ClientTls, DEFAULT_HANDSHAKE_TIMEOUT};
    /// let cfg = ClientTls::new("localhost").unwrap().insecure().build().unwrap();
    /// assert_eq!(cfg.limits().handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
    /// let cfg = cfg.handshake_timeout(Duration::from_secs(2));
    /// assert_eq!(cfg.limits().handshake_timeout, Duration::from_secs(2));
    /// ```
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.limits.handshake_timeout = d;
        self
    }

    /// Replaces all limits.
    ///
    /// ```
    /// use strata::tls::{ClientTls, TlsLimits};
    /// let limits = TlsLimits { max_held_input: 16 << 10, ..TlsLimits::default() };
    /// let cfg = ClientTls::new("localhost").unwrap().insecure().build().unwrap();
    /// assert_eq!(cfg.with_limits(limits).limits(), limits);
    /// ```
    pub fn with_limits(mut self, limits: TlsLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    ///
    /// ```
    /// use strata::tls::{ClientTls, TlsLimits};
    /// let cfg = ClientTls::new("localhost").unwrap().insecure().build().unwrap();
    /// assert_eq!(cfg.limits(), TlsLimits::default());
    /// ```
    pub fn limits(&self) -> TlsLimits {
        self.limits
    }

    /// True for the client role.
    ///
    /// ```
    /// use strata::tls::{ClientTls, Identity, ServerTls};
    /// assert!(ClientTls::new("localhost").unwrap().insecure().build().unwrap().is_client());
    /// assert!(!ServerTls::new(&Identity::localhost().unwrap()).build().unwrap().is_client());
    /// ```
    pub fn is_client(&self) -> bool {
        matches!(self.role, Role::Client { .. })
    }

    /// A fresh rustls connection in this role, and the SNI a client sends.
    pub(crate) fn connect(&self) -> Result<(rustls::Connection, Option<String>), rustls::Error> {
        match &self.role {
            Role::Client { config, name } => {
                let sni = match name {
                    ServerName::DnsName(d) if config.enable_sni => Some(d.as_ref().to_owned()),
                    _ => None,
                };
                let c = rustls::ClientConnection::new(config.clone(), name.clone())?;
                Ok((c.into(), sni))
            }
            Role::Server { config } => {
                let c = rustls::ServerConnection::new(config.clone())?;
                Ok((c.into(), None))
            }
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TlsConfig");
        match &self.role {
            Role::Client { name, .. } => d.field("role", &"client").field("name", name),
            Role::Server { .. } => d.field("role", &"server"),
        };
        d.field("limits", &self.limits).finish()
    }
}
