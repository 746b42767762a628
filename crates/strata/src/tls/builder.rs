//! Building a [`TlsConfig`] without a driver: identities from PEM bytes or
//! generated, trust roots from PEM bytes, ALPN, the server name and the
//! insecure mode. Nothing here reads a file or opens a socket; the driver
//! (`strata-tokio`) reads the `tls.*` files and calls these builders.
//!
//! ```
//! use std::time::Duration;
//! use strata::testing::{Pump, RunOutcome};
//! use strata::tls::{roots_from_pem, ClientTls, Identity, ServerTls, Tls, TlsInfo};
//! use strata::{StreamProtocol, StreamTransport};
//!
//! // A server identity made on the spot, and a client that trusts it.
//! let id = Identity::self_signed(&["example.test"]).unwrap();
//! let server = ServerTls::new(&id).alpn(["h2", "http/1.1"]).build().unwrap();
//! let client = ClientTls::new("example.test")
//!     .unwrap()
//!     .roots(roots_from_pem(id.certificate_pem().as_bytes()).unwrap())
//!     .alpn(["h2"])
//!     .build()
//!     .unwrap();
//!
//! #[derive(Default)]
//! struct Seen(Option<Vec<u8>>);
//! impl StreamProtocol for Seen {
//!     fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
//!         // The handshake is done: ALPN is known.
//!         self.0 = t.get::<TlsInfo>().and_then(|i| i.alpn.clone());
//!         t.close();
//!     }
//!     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//! let a = Tls::new(Seen::default(), &client).unwrap();
//! let b = Tls::new(Seen::default(), &server).unwrap();
//! let mut pump = Pump::new(Box::new(a), Box::new(b));
//! assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
//! assert_eq!(pump.a().protocol::<Seen>().unwrap().0.as_deref(), Some(&b"h2"[..]));
//! ```

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::server::ResolvesServerCert;
use rustls::sign::SingleCertAndKey;
use rustls::{RootCertStore, SupportedProtocolVersion};

use super::{AcceptAnyServerCert, Identity, TlsConfig};

/// Why a TLS identity, trust store or configuration could not be built.
/// The driver adds the file it read when it reports one of these.
///
/// ```
/// use strata::tls::{Identity, TlsBuildError};
/// let e = Identity::from_pem(b"", b"").unwrap_err();
/// assert!(matches!(e, TlsBuildError::NoCertificate));
/// assert_eq!(e.to_string(), "no PEM certificate found");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsBuildError {
    /// PEM that does not decode (bad base64, a section cut short).
    #[error("malformed PEM: {0}")]
    BadPem(String),
    /// No `CERTIFICATE` section.
    #[error("no PEM certificate found")]
    NoCertificate,
    /// No private key section.
    #[error("no PEM private key found")]
    NoKey,
    /// A private key of a kind the crypto provider cannot use.
    #[error("unusable private key: {0}")]
    BadKey(rustls::Error),
    /// A certificate that does not parse, or cannot serve as a trust root.
    #[error("unusable certificate: {0}")]
    BadCertificate(String),
    /// The private key is not the one of the certificate's public key.
    #[error("private key does not match the certificate")]
    KeyMismatch,
    /// The self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    SelfSigned(String),
    /// An ALPN protocol name that is empty or longer than 255 bytes.
    #[error("ALPN protocol names are 1-255 bytes (h2,http/1.1)")]
    BadAlpn,
    /// A server name that is neither a DNS name nor an IP address.
    #[error("{0:?} is not a DNS name or an IP address")]
    BadServerName(String),
    /// A client configuration with neither trust roots nor the insecure mode.
    #[error("a TLS client needs trust roots (or the insecure mode)")]
    NoTrust,
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Config(rustls::Error),
}

/// The crypto provider of every configuration built here (ring).
pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An ALPN list in the `tls.alpn=` form: comma-separated protocol names of
/// 1 to 255 bytes, in preference order.
///
/// ```
/// use strata::tls::parse_alpn;
/// assert_eq!(parse_alpn("h2,http/1.1").unwrap(), vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
/// assert!(parse_alpn("h2,,x").is_err());
/// ```
pub fn parse_alpn(list: &str) -> Result<Vec<Vec<u8>>, TlsBuildError> {
    let names: Vec<Vec<u8>> = list.split(',').map(|s| s.as_bytes().to_vec()).collect();
    check_alpn(&names)?;
    Ok(names)
}

fn check_alpn(names: &[Vec<u8>]) -> Result<(), TlsBuildError> {
    if names.iter().any(|n| n.is_empty() || n.len() > 255) {
        return Err(TlsBuildError::BadAlpn);
    }
    Ok(())
}

/// The name a client verifies: a DNS name (also sent as SNI) or an IP
/// address.
///
/// ```
/// use strata::tls::parse_server_name;
/// assert!(parse_server_name("example.test").is_ok());
/// assert!(parse_server_name("::1").is_ok());
/// assert!(parse_server_name("not a name").is_err());
/// ```
pub fn parse_server_name(name: &str) -> Result<ServerName<'static>, TlsBuildError> {
    ServerName::try_from(name.to_owned()).map_err(|_| TlsBuildError::BadServerName(name.into()))
}

/// Builds a server [`TlsConfig`]: the certificate to present, ALPN, client
/// certificates, versions. Sessions resume: TLS 1.3 and 1.2 tickets (keys
/// rotated every 6 hours, [`tickets`](ServerTls::tickets)) and rustls'
/// session cache of 256 TLS 1.2 session IDs, for as long as the built
/// configuration is used.
///
/// ```
/// use strata::tls::{Identity, ServerTls};
/// let id = Identity::localhost().unwrap();
/// let cfg = ServerTls::new(&id).alpn(["h2"]).build().unwrap();
/// assert!(!cfg.is_client());
/// assert!(ServerTls::new(&id).alpn([""]).build().is_err());
/// ```
pub struct ServerTls {
    certs: Arc<dyn ResolvesServerCert>,
    client_roots: Option<RootCertStore>,
    alpn: Vec<Vec<u8>>,
    versions: Option<Vec<&'static SupportedProtocolVersion>>,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
    tickets: bool,
    provider: Option<Arc<CryptoProvider>>,
}

impl ServerTls {
    /// A server presenting `id`.
    ///
    /// ```
    /// use strata::tls::{Identity, ServerTls};
    /// let id = Identity::localhost().unwrap();
    /// let cfg = ServerTls::new(&id).build_rustls().unwrap();
    /// assert!(cfg.alpn_protocols.is_empty()); // no ALPN unless asked
    /// ```
    pub fn new(id: &Identity) -> ServerTls {
        ServerTls::with_resolver(Arc::new(SingleCertAndKey::from(id.certified_key())))
    }

    /// A server whose certificate `certs` picks at each handshake (by SNI,
    /// or one replaced on reload, as the driver's `ReloadingCert` does).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rustls::sign::SingleCertAndKey;
    /// use strata::tls::{Identity, ServerTls};
    /// let id = Identity::localhost().unwrap();
    /// let resolver = Arc::new(SingleCertAndKey::from(id.certified_key()));
    /// let cfg = ServerTls::with_resolver(resolver).alpn(["h2"]).build_rustls().unwrap();
    /// assert_eq!(cfg.alpn_protocols, [b"h2".to_vec()]);
    /// ```
    pub fn with_resolver(certs: Arc<dyn ResolvesServerCert>) -> ServerTls {
        ServerTls {
            certs,
            client_roots: None,
            alpn: Vec::new(),
            versions: None,
            key_log: None,
            tickets: true,
            provider: None,
        }
    }

    /// The ALPN protocols, in preference order (each 1 to 255 bytes; see
    /// [`parse_alpn`] for the option form).
    ///
    /// ```
    /// use strata::tls::{Identity, ServerTls};
    /// let id = Identity::localhost().unwrap();
    /// let cfg = ServerTls::new(&id).alpn(["h2", "http/1.1"]).build_rustls().unwrap();
    /// assert_eq!(cfg.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    /// assert!(ServerTls::new(&id).alpn([""]).build().is_err()); // 1 to 255 bytes each
    /// ```
    pub fn alpn<I: IntoIterator<Item = P>, P: AsRef<[u8]>>(mut self, protocols: I) -> Self {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Requires a client certificate, checked against `roots`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{Tls, TlsConfig, TlsInfo};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Option<TlsInfo>);
    /// # impl StreamProtocol for Seen {
    /// #     fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
    /// #         self.0 = t.get::<TlsInfo>().cloned();
    /// #         t.close();
    /// #     }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // What each side's TlsInfo says after a handshake (None: it failed).
    /// # fn handshake(client: &TlsConfig, server: &TlsConfig) -> (Option<TlsInfo>, Option<TlsInfo>) {
    /// #     let a = Tls::new(Seen::default(), client).unwrap();
    /// #     let b = Tls::new(Seen::default(), server).unwrap();
    /// #     let mut pump = Pump::new(Box::new(a), Box::new(b));
    /// #     pump.run(Duration::from_secs(1));
    /// #     let seen = |s: &strata::Stack| s.protocol::<Seen>().and_then(|p| p.0.clone());
    /// #     (seen(pump.a()), seen(pump.b()))
    /// # }
    /// use strata::tls::{roots_from_pem, ClientTls, Identity, ServerTls};
    /// let server_id = Identity::localhost().unwrap();
    /// let client_id = Identity::self_signed(&["client.test"]).unwrap();
    /// let trusted = roots_from_pem(client_id.certificate_pem().as_bytes()).unwrap();
    /// let server = ServerTls::new(&server_id).client_roots(trusted).build().unwrap();
    /// let client = |c: ClientTls| c.build().unwrap();
    /// let anonymous = client(ClientTls::new("localhost").unwrap().insecure());
    /// let known = client(ClientTls::new("localhost").unwrap().insecure().identity(&client_id));
    /// assert!(handshake(&anonymous, &server).1.is_none(), "no certificate: refused");
    /// let (_, on_server) = handshake(&known, &server);
    /// assert_eq!(on_server.unwrap().peer_certificates[0], client_id.certificate_der());
    /// ```
    pub fn client_roots(mut self, roots: RootCertStore) -> Self {
        self.client_roots = Some(roots);
        self
    }

    /// The protocol versions (default: rustls' safe defaults, TLS 1.3 and 1.2).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{Tls, TlsConfig, TlsInfo};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Option<TlsInfo>);
    /// # impl StreamProtocol for Seen {
    /// #     fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
    /// #         self.0 = t.get::<TlsInfo>().cloned();
    /// #         t.close();
    /// #     }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // What each side's TlsInfo says after a handshake (None: it failed).
    /// # fn handshake(client: &TlsConfig, server: &TlsConfig) -> (Option<TlsInfo>, Option<TlsInfo>) {
    /// #     let a = Tls::new(Seen::default(), client).unwrap();
    /// #     let b = Tls::new(Seen::default(), server).unwrap();
    /// #     let mut pump = Pump::new(Box::new(a), Box::new(b));
    /// #     pump.run(Duration::from_secs(1));
    /// #     let seen = |s: &strata::Stack| s.protocol::<Seen>().and_then(|p| p.0.clone());
    /// #     (seen(pump.a()), seen(pump.b()))
    /// # }
    /// use strata::tls::{ClientTls, Identity, ServerTls};
    /// let id = Identity::localhost().unwrap();
    /// let server = ServerTls::new(&id).versions(&[&rustls::version::TLS12]).build().unwrap();
    /// let client = ClientTls::new("localhost").unwrap().insecure().build().unwrap();
    /// let (on_client, _) = handshake(&client, &server);
    /// assert_eq!(on_client.unwrap().version, rustls::ProtocolVersion::TLSv1_2);
    /// ```
    pub fn versions(mut self, versions: &[&'static SupportedProtocolVersion]) -> Self {
        self.versions = Some(versions.to_vec());
        self
    }

    /// Where session secrets are logged (`rustls::KeyLogFile` for
    /// `SSLKEYLOGFILE`); by default nowhere.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::{Identity, ServerTls};
    /// #[derive(Debug)]
    /// struct Log;
    /// impl rustls::KeyLog for Log {
    ///     fn log(&self, _: &str, _: &[u8], _: &[u8]) {}
    ///     fn will_log(&self, _: &str) -> bool { true }
    /// }
    /// let id = Identity::localhost().unwrap();
    /// let quiet = ServerTls::new(&id).build_rustls().unwrap();
    /// assert!(!quiet.key_log.will_log("CLIENT_RANDOM")); // nowhere by default
    /// let logged = ServerTls::new(&id).key_log(Arc::new(Log)).build_rustls().unwrap();
    /// assert!(logged.key_log.will_log("CLIENT_RANDOM"));
    /// ```
    pub fn key_log(mut self, log: Arc<dyn rustls::KeyLog>) -> Self {
        self.key_log = Some(log);
        self
    }

    /// Whether session tickets are issued (default true); without them only
    /// the session cache resumes.
    ///
    /// ```
    /// use strata::tls::{Identity, ServerTls};
    /// let id = Identity::localhost().unwrap();
    /// let with = ServerTls::new(&id).build_rustls().unwrap();
    /// let without = ServerTls::new(&id).tickets(false).build_rustls().unwrap();
    /// assert!(with.ticketer.enabled());
    /// assert!(!without.ticketer.enabled());
    /// ```
    pub fn tickets(mut self, on: bool) -> Self {
        self.tickets = on;
        self
    }

    /// The crypto provider (default: ring's). A simulation gives a seeded
    /// one, so that a run repeats; anything else keeps the default.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::{Identity, ServerTls};
    /// let id = Identity::localhost().unwrap();
    /// let ring = Arc::new(rustls::crypto::ring::default_provider());
    /// let cfg = ServerTls::new(&id).provider(ring.clone()).build_rustls().unwrap();
    /// assert!(Arc::ptr_eq(cfg.crypto_provider(), &ring));
    /// ```
    pub fn provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The rustls configuration, to adjust before wrapping it with
    /// [`TlsConfig::server`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::{Identity, ServerTls, TlsConfig};
    /// let id = Identity::localhost().unwrap();
    /// let mut rustls_cfg = ServerTls::new(&id).alpn(["h2"]).build_rustls().unwrap();
    /// rustls_cfg.max_early_data_size = 16 << 10; // an adjustment the builder does not offer
    /// let cfg = TlsConfig::server(Arc::new(rustls_cfg));
    /// assert!(!cfg.is_client());
    /// ```
    pub fn build_rustls(self) -> Result<rustls::ServerConfig, TlsBuildError> {
        check_alpn(&self.alpn)?;
        let provider = || self.provider.clone().unwrap_or_else(provider);
        let builder = rustls::ServerConfig::builder_with_provider(provider());
        let builder = match &self.versions {
            Some(v) => builder.with_protocol_versions(v),
            None => builder.with_safe_default_protocol_versions(),
        }
        .map_err(TlsBuildError::Config)?;
        let builder = match self.client_roots {
            Some(roots) => {
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider(),
                )
                .build()
                .map_err(|e| TlsBuildError::BadCertificate(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(self.certs);
        config.alpn_protocols = self.alpn;
        if self.tickets {
            config.ticketer =
                rustls::crypto::ring::Ticketer::new().map_err(TlsBuildError::Config)?;
        }
        if let Some(log) = self.key_log {
            config.key_log = log;
        }
        Ok(config)
    }

    /// The server configuration.
    ///
    /// ```
    /// use strata::tls::{Identity, ServerTls};
    /// let id = Identity::localhost().unwrap();
    /// assert!(ServerTls::new(&id).alpn(["h2"]).build().is_ok());
    /// ```
    pub fn build(self) -> Result<TlsConfig, TlsBuildError> {
        Ok(TlsConfig::server(Arc::new(self.build_rustls()?)))
    }
}

/// Whom a client trusts.
enum Trust {
    None,
    Roots(RootCertStore),
    Insecure,
}

/// Builds a client [`TlsConfig`]: the server name, the trust roots (or the
/// insecure mode), ALPN, a client certificate. Connections made with one
/// built configuration share its session store (256 sessions) and resume.
///
/// ```
/// use strata::tls::{ClientTls, TlsBuildError};
/// let cfg = ClientTls::new("localhost").unwrap().insecure().alpn(["h2"]).build().unwrap();
/// assert!(cfg.is_client());
/// // Trusting nobody is refused, not a handshake that always fails.
/// let none = ClientTls::new("localhost").unwrap().build();
/// assert!(matches!(none, Err(TlsBuildError::NoTrust)));
/// ```
pub struct ClientTls {
    name: ServerName<'static>,
    trust: Trust,
    identity: Option<Identity>,
    alpn: Vec<Vec<u8>>,
    versions: Option<Vec<&'static SupportedProtocolVersion>>,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
    provider: Option<Arc<CryptoProvider>>,
}

impl ClientTls {
    /// A client that checks the server's certificate against `server_name`
    /// (a DNS name, also sent as SNI, or an IP address).
    ///
    /// ```
    /// use strata::tls::ClientTls;
    /// assert!(ClientTls::new("example.com").is_ok());
    /// assert!(ClientTls::new("127.0.0.1").is_ok());
    /// assert!(ClientTls::new("not a name!").is_err());
    /// ```
    pub fn new(server_name: &str) -> Result<ClientTls, TlsBuildError> {
        Ok(ClientTls::with_name(parse_server_name(server_name)?))
    }

    /// [`new`](ClientTls::new) with a name already parsed.
    ///
    /// ```
    /// use rustls::pki_types::ServerName;
    /// use strata::tls::ClientTls;
    /// let name = ServerName::try_from("example.com").unwrap();
    /// let (_, sni) = ClientTls::with_name(name.clone()).insecure().build_rustls().unwrap();
    /// assert_eq!(sni, name);
    /// ```
    pub fn with_name(name: ServerName<'static>) -> ClientTls {
        ClientTls {
            name,
            trust: Trust::None,
            identity: None,
            alpn: Vec::new(),
            versions: None,
            key_log: None,
            provider: None,
        }
    }

    /// Trusts the certificates issued by `roots` (see [`roots_from_pem`](super::roots_from_pem)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{Tls, TlsConfig, TlsInfo};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Option<TlsInfo>);
    /// # impl StreamProtocol for Seen {
    /// #     fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
    /// #         self.0 = t.get::<TlsInfo>().cloned();
    /// #         t.close();
    /// #     }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // What each side's TlsInfo says after a handshake (None: it failed).
    /// # fn handshake(client: &TlsConfig, server: &TlsConfig) -> (Option<TlsInfo>, Option<TlsInfo>) {
    /// #     let a = Tls::new(Seen::default(), client).unwrap();
    /// #     let b = Tls::new(Seen::default(), server).unwrap();
    /// #     let mut pump = Pump::new(Box::new(a), Box::new(b));
    /// #     pump.run(Duration::from_secs(1));
    /// #     let seen = |s: &strata::Stack| s.protocol::<Seen>().and_then(|p| p.0.clone());
    /// #     (seen(pump.a()), seen(pump.b()))
    /// # }
    /// use strata::tls::{roots_from_pem, ClientTls, Identity, ServerTls};
    /// let id = Identity::self_signed(&["example.test"]).unwrap();
    /// let server = ServerTls::new(&id).build().unwrap();
    /// let trusts = |pem: &str| {
    ///     let roots = roots_from_pem(pem.as_bytes()).unwrap();
    ///     ClientTls::new("example.test").unwrap().roots(roots).build().unwrap()
    /// };
    /// let other = Identity::self_signed(&["example.test"]).unwrap();
    /// assert!(handshake(&trusts(&id.certificate_pem()), &server).0.is_some());
    /// assert!(handshake(&trusts(&other.certificate_pem()), &server).0.is_none(), "untrusted issuer");
    /// ```
    pub fn roots(mut self, roots: RootCertStore) -> Self {
        self.trust = Trust::Roots(roots);
        self
    }

    /// Accepts **any** server certificate ([`AcceptAnyServerCert`]): for
    /// tests, never in production. Replaces [`roots`](ClientTls::roots).
    ///
    /// ```
    /// use strata::tls::ClientTls;
    /// // Tests only: no trust store needed, any certificate passes.
    /// assert!(ClientTls::new("localhost").unwrap().insecure().build().is_ok());
    /// ```
    pub fn insecure(mut self) -> Self {
        self.trust = Trust::Insecure;
        self
    }

    /// Presents `id` when the server asks for a client certificate.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{Tls, TlsConfig, TlsInfo};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Option<TlsInfo>);
    /// # impl StreamProtocol for Seen {
    /// #     fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
    /// #         self.0 = t.get::<TlsInfo>().cloned();
    /// #         t.close();
    /// #     }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // What each side's TlsInfo says after a handshake (None: it failed).
    /// # fn handshake(client: &TlsConfig, server: &TlsConfig) -> (Option<TlsInfo>, Option<TlsInfo>) {
    /// #     let a = Tls::new(Seen::default(), client).unwrap();
    /// #     let b = Tls::new(Seen::default(), server).unwrap();
    /// #     let mut pump = Pump::new(Box::new(a), Box::new(b));
    /// #     pump.run(Duration::from_secs(1));
    /// #     let seen = |s: &strata::Stack| s.protocol::<Seen>().and_then(|p| p.0.clone());
    /// #     (seen(pump.a()), seen(pump.b()))
    /// # }
    /// use strata::tls::{roots_from_pem, ClientTls, Identity, ServerTls};
    /// let me = Identity::self_signed(&["client.test"]).unwrap();
    /// let roots = roots_from_pem(me.certificate_pem().as_bytes()).unwrap();
    /// let server = ServerTls::new(&Identity::localhost().unwrap()).client_roots(roots).build().unwrap();
    /// let client = ClientTls::new("localhost").unwrap().insecure().identity(&me).build().unwrap();
    /// let (_, on_server) = handshake(&client, &server);
    /// assert_eq!(on_server.unwrap().peer_certificates[0], me.certificate_der());
    /// ```
    pub fn identity(mut self, id: &Identity) -> Self {
        self.identity = Some(id.clone());
        self
    }

    /// The ALPN protocols offered, in preference order (each 1 to 255 bytes).
    ///
    /// ```
    /// use strata::tls::ClientTls;
    /// let (cfg, _) = ClientTls::new("localhost").unwrap().insecure().alpn(["h2"]).build_rustls().unwrap();
    /// assert_eq!(cfg.alpn_protocols, [b"h2".to_vec()]);
    /// ```
    pub fn alpn<I: IntoIterator<Item = P>, P: AsRef<[u8]>>(mut self, protocols: I) -> Self {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// The protocol versions (default: rustls' safe defaults, TLS 1.3 and 1.2).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{Tls, TlsConfig, TlsInfo};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Option<TlsInfo>);
    /// # impl StreamProtocol for Seen {
    /// #     fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
    /// #         self.0 = t.get::<TlsInfo>().cloned();
    /// #         t.close();
    /// #     }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # // What each side's TlsInfo says after a handshake (None: it failed).
    /// # fn handshake(client: &TlsConfig, server: &TlsConfig) -> (Option<TlsInfo>, Option<TlsInfo>) {
    /// #     let a = Tls::new(Seen::default(), client).unwrap();
    /// #     let b = Tls::new(Seen::default(), server).unwrap();
    /// #     let mut pump = Pump::new(Box::new(a), Box::new(b));
    /// #     pump.run(Duration::from_secs(1));
    /// #     let seen = |s: &strata::Stack| s.protocol::<Seen>().and_then(|p| p.0.clone());
    /// #     (seen(pump.a()), seen(pump.b()))
    /// # }
    /// use strata::tls::{ClientTls, Identity, ServerTls};
    /// let server = ServerTls::new(&Identity::localhost().unwrap()).build().unwrap();
    /// let client = ClientTls::new("localhost").unwrap().insecure();
    /// let client = client.versions(&[&rustls::version::TLS12]).build().unwrap();
    /// let (on_client, on_server) = handshake(&client, &server);
    /// assert!(!on_client.unwrap().is_tls13());
    /// assert_eq!(on_server.unwrap().version, rustls::ProtocolVersion::TLSv1_2);
    /// ```
    pub fn versions(mut self, versions: &[&'static SupportedProtocolVersion]) -> Self {
        self.versions = Some(versions.to_vec());
        self
    }

    /// Where session secrets are logged; by default nowhere.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::ClientTls;
    /// #[derive(Debug)]
    /// struct Log;
    /// impl rustls::KeyLog for Log {
    ///     fn log(&self, _: &str, _: &[u8], _: &[u8]) {}
    ///     fn will_log(&self, _: &str) -> bool { true }
    /// }
    /// let client = || ClientTls::new("localhost").unwrap().insecure();
    /// let (quiet, _) = client().build_rustls().unwrap();
    /// assert!(!quiet.key_log.will_log("CLIENT_RANDOM")); // nowhere by default
    /// let (logged, _) = client().key_log(Arc::new(Log)).build_rustls().unwrap();
    /// assert!(logged.key_log.will_log("CLIENT_RANDOM"));
    /// ```
    pub fn key_log(mut self, log: Arc<dyn rustls::KeyLog>) -> Self {
        self.key_log = Some(log);
        self
    }

    /// The crypto provider (default: ring's), as for
    /// [`ServerTls::provider`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::ClientTls;
    /// let ring = Arc::new(rustls::crypto::ring::default_provider());
    /// let (cfg, _) = ClientTls::new("localhost").unwrap().insecure().provider(ring.clone()).build_rustls().unwrap();
    /// assert!(Arc::ptr_eq(cfg.crypto_provider(), &ring));
    /// ```
    pub fn provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The rustls configuration and the server name, to adjust before
    /// wrapping them with [`TlsConfig::client`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::tls::{ClientTls, TlsConfig};
    /// let (mut rustls_cfg, name) = ClientTls::new("localhost").unwrap().insecure().build_rustls().unwrap();
    /// assert_eq!(name, "localhost".try_into().unwrap());
    /// rustls_cfg.enable_sni = false; // an adjustment the builder does not offer
    /// let cfg = TlsConfig::client(Arc::new(rustls_cfg), name);
    /// assert!(cfg.is_client());
    /// ```
    pub fn build_rustls(
        self,
    ) -> Result<(rustls::ClientConfig, ServerName<'static>), TlsBuildError> {
        check_alpn(&self.alpn)?;
        let provider = || self.provider.clone().unwrap_or_else(provider);
        let builder = rustls::ClientConfig::builder_with_provider(provider());
        let builder = match &self.versions {
            Some(v) => builder.with_protocol_versions(v),
            None => builder.with_safe_default_protocol_versions(),
        }
        .map_err(TlsBuildError::Config)?;
        let builder = match self.trust {
            Trust::None => return Err(TlsBuildError::NoTrust),
            Trust::Roots(roots) => builder.with_root_certificates(roots),
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider()))),
        };
        let mut config = match self.identity {
            Some(id) => builder
                .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(id.certified_key()))),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn;
        if let Some(log) = self.key_log {
            config.key_log = log;
        }
        Ok((config, self.name))
    }

    /// The client configuration.
    ///
    /// ```
    /// use strata::tls::{ClientTls, TlsBuildError};
    /// let cfg = ClientTls::new("localhost").unwrap().insecure().alpn(["h2"]).build().unwrap();
    /// assert!(cfg.is_client());
    /// let bad = ClientTls::new("localhost").unwrap().insecure().alpn([[0u8; 256]]).build();
    /// assert!(matches!(bad, Err(TlsBuildError::BadAlpn)));
    /// ```
    pub fn build(self) -> Result<TlsConfig, TlsBuildError> {
        let (config, name) = self.build_rustls()?;
        Ok(TlsConfig::client(Arc::new(config), name))
    }
}
