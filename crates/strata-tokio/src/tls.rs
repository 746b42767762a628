//! TLS from endpoint options: the `tls` layer of `tls+tcp://`, `tls+unix://`
//! and `tls+tls+tcp://`.
//!
//! The layer itself is [`strata::tls::Tls`], sans-IO, and so are the
//! builders of its configuration ([`strata::tls::ServerTls`],
//! [`strata::tls::ClientTls`], [`strata::tls::Identity`]): an in-memory test
//! needs no driver. What lives here is the I/O before the first byte:
//! reading the PEM files the `tls.*` options name, the certificate reloaded
//! in place ([`ReloadingCert`]), and the options turned into the core
//! builders' calls. Every failure is a typed [`TlsSetupError`] naming the
//! file and what is wrong with it.
//!
//! | option | side | meaning |
//! |---|---|---|
//! | `tls.cert=PATH[,PATH…]` | both | PEM certificate chain, leaf first (a client presents it when asked); a server may list several, chosen by SNI |
//! | `tls.key=PATH[,PATH…]` | both | PEM private key (PKCS#8, PKCS#1 or SEC1) matching `tls.cert`, paired in order |
//! | `tls.ca=PATH` | both | PEM trust roots: a client's for the server; on a server, client certificates become required and are checked against them |
//! | `tls.alpn=h2,http/1.1` | both | ALPN protocols, in preference order |
//! | `tls.sni=NAME` | client | the name sent and verified (default: the endpoint's host; `localhost` for a Unix path) |
//! | `tls.insecure=true` | client | accept any server certificate (testing only, see [`AcceptAnyServerCert`]) |
//!
//! A server without `tls.cert`/`tls.key` serves a self-signed certificate made
//! at start for `localhost`, `127.0.0.1` and `::1` ([`TlsIdentity::self_signed`]).
//! A client without `tls.ca` trusts the Mozilla roots (webpki-roots).
//!
//! Every configuration built here also:
//!
//! - logs its session secrets in NSS key log format to the file named by the
//!   `SSLKEYLOGFILE` environment variable, when it is set as the
//!   configuration is built (for Wireshark; never set it in production);
//! - resumes sessions: a server configuration issues TLS 1.3 and TLS 1.2
//!   tickets (ticket keys rotated every 6 hours) and keeps 256 TLS 1.2
//!   sessions by ID; a client configuration keeps 256 sessions, so that
//!   connections made with one [`client_config`] (one `Arc<ClientConfig>`)
//!   resume ([`TlsInfo::resumed`](strata::tls::TlsInfo::resumed) says so);
//! - on the server, presents its certificate through a [`ReloadingCert`],
//!   which [`TlsIdentity::reloader`] replaces without a restart, and which
//!   picks among several certificates by the client's SNI name (the first
//!   when there is no SNI or no match).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use strata::endpoint::{Endpoint, Host, Target};
use strata::tls::{
    parse_alpn, parse_server_name, ClientTls, Identity, ServerTls, TlsBuildError, TlsConfig,
};

use crate::error::DriverError;

mod files;
mod reload;
pub(crate) mod seeded;

use files::{cert_key_pairs, load_certified_key, load_pairs, read_roots};
pub use reload::ReloadingCert;
/// The verifier behind `tls.insecure=true`, from the core.
pub use strata::tls::AcceptAnyServerCert;
/// The names a generated self-signed certificate is valid for, from the core.
pub use strata::tls::SELF_SIGNED_NAMES;

/// The largest certificate, key or CA file read (`tls.cert`, `tls.key`,
/// `tls.ca`): 4 MiB, well above a full CA bundle (about 220 KB).
pub const MAX_PEM_FILE: u64 = 4 * 1024 * 1024;

/// Why a TLS configuration could not be built from an endpoint's options.
///
/// It reaches callers as [`DriverError::Tls`].
///
/// ```
/// use std::path::PathBuf;
/// use strata_tokio::TlsSetupError;
/// let e = TlsSetupError::NoKey { path: PathBuf::from("/etc/x.pem") };
/// assert_eq!(e.to_string(), "/etc/x.pem: no PEM private key found");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file larger than [`MAX_PEM_FILE`] (or endless, such as `/dev/zero`).
    #[error("{}: larger than {limit} bytes: not a PEM file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// A file holds PEM that does not decode (bad base64, a section cut short).
    #[error("{}: malformed PEM: {reason}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What the PEM decoder said.
        reason: String,
    },
    /// A certificate file (or CA file) holds no `CERTIFICATE` section.
    #[error("{}: no PEM certificate found", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no private key section.
    #[error("{}: no PEM private key found", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is of a kind the crypto provider cannot use.
    #[error("{}: unusable private key: {reason}", path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// rustls' reason.
        reason: rustls::Error,
    },
    /// A certificate does not parse, or cannot serve as a trust root.
    #[error("{}: unusable certificate: {reason}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The private key is not the one of the certificate's public key.
    #[error("{}: private key does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// `tls.cert` and `tls.key` list different numbers of files (or none).
    #[error("tls.cert lists {certs} file(s) but tls.key lists {keys}: they pair up in order")]
    PairCount {
        /// Files in `tls.cert`.
        certs: usize,
        /// Files in `tls.key`.
        keys: usize,
    },
    /// An empty path in a `tls.cert` or `tls.key` list (`a.pem,,b.pem`).
    #[error("tls.{option}: empty path in the comma-separated list")]
    EmptyPath {
        /// `cert` or `key`.
        option: &'static str,
    },
    /// `tls.cert` without `tls.key`, or the reverse.
    #[error("tls.{given} needs tls.{missing} as well")]
    Incomplete {
        /// The option given.
        given: &'static str,
        /// The option missing.
        missing: &'static str,
    },
    /// Two options that contradict each other.
    #[error("tls.{0} and tls.{1} cannot be used together")]
    Conflict(&'static str, &'static str),
    /// The self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    SelfSigned(String),
    /// rustls refused the configuration built from the options.
    #[error("TLS configuration refused: {0}")]
    Config(rustls::Error),
}

impl From<TlsSetupError> for DriverError {
    fn from(e: TlsSetupError) -> Self {
        DriverError::Tls(e)
    }
}

/// A certificate chain and its private key, checked to match: what a server
/// presents (and a client, when asked for a client certificate).
///
/// The certificate lives in a [`ReloadingCert`], shared by every clone of
/// the identity and by the server configurations built from it: reloading
/// it through [`reloader`](TlsIdentity::reloader) changes what a running
/// listener presents on its next handshakes. Give the identity to
/// [`Server::listen_with_identity`](crate::Server::listen_with_identity) and
/// keep a clone to reload on SIGHUP.
///
/// ```
/// use strata_tokio::TlsIdentity;
/// let id = TlsIdentity::self_signed().unwrap();
/// assert!(id.is_self_signed());
/// assert_eq!(id.fingerprint_hex().len(), 64);
/// ```
#[derive(Clone)]
pub struct TlsIdentity {
    cert: Arc<ReloadingCert>,
}

impl TlsIdentity {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key, and
    /// checks that the key is the certificate's.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_tokio::{TlsIdentity, TlsSetupError};
    /// let missing = TlsIdentity::load(Path::new("/nonexistent/cert.pem"), Path::new("/nonexistent/key.pem"));
    /// assert!(matches!(missing, Err(TlsSetupError::Unreadable { .. })));
    /// ```
    pub fn load(cert: &Path, key: &Path) -> Result<TlsIdentity, TlsSetupError> {
        let key = load_certified_key(cert, key)?;
        Ok(TlsIdentity {
            cert: Arc::new(ReloadingCert::new(key, false)),
        })
    }

    /// Reads several `(certificate, key)` PEM pairs, each checked as by
    /// [`load`](TlsIdentity::load): a server presenting them picks one by
    /// the client's SNI name, the first when none matches.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_tokio::{TlsIdentity, TlsSetupError};
    /// let none: [(&Path, &Path); 0] = [];
    /// assert!(matches!(TlsIdentity::load_all(&none), Err(TlsSetupError::PairCount { .. })));
    /// ```
    pub fn load_all<C: AsRef<Path>, K: AsRef<Path>>(
        pairs: &[(C, K)],
    ) -> Result<TlsIdentity, TlsSetupError> {
        let keys = load_pairs(pairs)?;
        // load_pairs refuses an empty list, so `several` has a first key.
        let cert =
            ReloadingCert::several(keys).ok_or(TlsSetupError::PairCount { certs: 0, keys: 0 })?;
        Ok(TlsIdentity {
            cert: Arc::new(cert),
        })
    }

    /// The `(certificate, key)` file pairs of `ep`'s `tls.cert` and
    /// `tls.key`: two comma-separated lists of the same length, paired in
    /// order; `None` when neither option is given.
    ///
    /// ```
    /// use std::path::PathBuf;
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse_with(
    ///     "tls+tcp://127.0.0.1:0?tls.cert=a.pem,b.pem&tls.key=a.key,b.key",
    ///     &strata_tokio::registry(),
    /// ).unwrap();
    /// let pairs = strata_tokio::TlsIdentity::cert_key_pairs(&ep).unwrap().unwrap();
    /// assert_eq!(pairs[1], (PathBuf::from("b.pem"), PathBuf::from("b.key")));
    /// ```
    pub fn cert_key_pairs(ep: &Endpoint) -> Result<Option<Vec<(PathBuf, PathBuf)>>, TlsSetupError> {
        cert_key_pairs(ep, "tls")
    }

    /// A fresh self-signed certificate (ECDSA P-256) for
    /// [`SELF_SIGNED_NAMES`]: `localhost`, `127.0.0.1` and `::1`
    /// ([`Identity::localhost`]).
    ///
    /// ```
    /// let a = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// let b = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// assert!(a.is_self_signed());
    /// assert_ne!(a.fingerprint(), b.fingerprint()); // fresh each time
    /// ```
    pub fn self_signed() -> Result<TlsIdentity, TlsSetupError> {
        let id = Identity::localhost().map_err(|e| match e {
            TlsBuildError::SelfSigned(why) => TlsSetupError::SelfSigned(why),
            e => TlsSetupError::SelfSigned(e.to_string()),
        })?;
        Ok(TlsIdentity {
            cert: Arc::new(ReloadingCert::new(id.certified_key(), true)),
        })
    }

    /// **Simulation only, not secure**: a self-signed Ed25519 certificate
    /// for [`SELF_SIGNED_NAMES`] whose key, serial and validity come from
    /// `seed` (see [`seeded`]), for a seeded plan.
    pub(crate) fn seeded(seed: u64) -> Result<TlsIdentity, TlsSetupError> {
        let id = seeded::identity(seed)?;
        Ok(TlsIdentity {
            cert: Arc::new(ReloadingCert::new(id.certified_key(), true)),
        })
    }

    /// The certificate and key presented now (the default one, when there
    /// are several), as the core's [`Identity`]: what a client presents, or
    /// what an in-memory test serves.
    ///
    /// ```
    /// let id = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// assert_eq!(id.identity().fingerprint(), id.fingerprint());
    /// ```
    pub fn identity(&self) -> Identity {
        Identity::from_certified_key(self.cert.current())
    }

    /// The handle that replaces this identity's certificate in place, for
    /// every clone of it and every listener presenting it: new handshakes
    /// get the new certificate, established connections keep theirs.
    ///
    /// ```
    /// use strata_tokio::TlsIdentity;
    /// let id = TlsIdentity::self_signed().unwrap();
    /// let kept = id.clone();
    /// id.reloader().replace_with(&TlsIdentity::self_signed().unwrap());
    /// assert_eq!(kept.fingerprint(), id.fingerprint(), "clones share the certificate");
    /// ```
    pub fn reloader(&self) -> Arc<ReloadingCert> {
        self.cert.clone()
    }

    /// True while the certificate is one made by
    /// [`self_signed`](TlsIdentity::self_signed).
    ///
    /// ```
    /// let id = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// assert!(id.is_self_signed());
    /// ```
    pub fn is_self_signed(&self) -> bool {
        self.cert.is_self_signed()
    }

    /// The leaf certificate presented now (by default, when there are
    /// several), DER.
    ///
    /// ```
    /// let id = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// let der = id.certificate_der();
    /// assert_eq!(der[0], 0x30); // a DER SEQUENCE
    /// assert_eq!(der, id.identity().certificate_der());
    /// ```
    pub fn certificate_der(&self) -> Vec<u8> {
        self.identity().certificate_der().to_vec()
    }

    /// The leaf certificate presented now, PEM: what a client's `tls.ca=`
    /// file holds to trust a self-signed server.
    ///
    /// ```
    /// let id = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// let pem = id.certificate_pem();
    /// assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    /// let roots = strata::tls::roots_from_pem(pem.as_bytes()).unwrap();
    /// assert_eq!(roots.len(), 1);
    /// ```
    pub fn certificate_pem(&self) -> String {
        self.identity().certificate_pem()
    }

    /// SHA-256 of the leaf certificate's DER (what `openssl x509 -fingerprint
    /// -sha256` prints).
    ///
    /// ```
    /// let id = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// let hex: String = id.fingerprint().iter().map(|b| format!("{b:02x}")).collect();
    /// assert_eq!(hex, id.fingerprint_hex());
    /// ```
    pub fn fingerprint(&self) -> [u8; 32] {
        self.identity().fingerprint()
    }

    /// [`fingerprint`](TlsIdentity::fingerprint) as 64 lowercase hex digits.
    ///
    /// ```
    /// let id = strata_tokio::TlsIdentity::self_signed().unwrap();
    /// let hex = id.fingerprint_hex();
    /// assert_eq!(hex.len(), 64);
    /// assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    /// ```
    pub fn fingerprint_hex(&self) -> String {
        self.identity().fingerprint_hex()
    }
}

/// A fixed identity (not self-signed) that can be reloaded like any other.
///
/// ```
/// let core = strata::tls::Identity::self_signed(&["example.test"]).unwrap();
/// let id = strata_tokio::TlsIdentity::from(core.clone());
/// assert_eq!(id.fingerprint(), core.fingerprint());
/// assert!(!id.is_self_signed());
/// ```
impl From<Identity> for TlsIdentity {
    fn from(id: Identity) -> TlsIdentity {
        TlsIdentity {
            cert: Arc::new(ReloadingCert::new(id.certified_key(), false)),
        }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("sha256", &self.fingerprint_hex())
            .field("self_signed", &self.is_self_signed())
            .finish()
    }
}

/// The identity a listener on `ep` presents: `None` when `ep` has no `tls`
/// (or `quic`) layer, else the files of `tls.cert`/`tls.key` (`quic.cert`/
/// `quic.key`), or a fresh self-signed certificate when neither is given.
///
/// ```
/// use strata::endpoint::Endpoint;
/// let reg = strata_tokio::registry();
/// let ep = Endpoint::parse_with("tls+tcp://127.0.0.1:0", &reg).unwrap();
/// let id = strata_tokio::server_identity(&ep).unwrap().unwrap();
/// assert!(id.is_self_signed());
/// let plain = Endpoint::parse_with("tcp://127.0.0.1:0", &reg).unwrap();
/// assert!(strata_tokio::server_identity(&plain).unwrap().is_none());
/// let quic = Endpoint::parse_with("quic+udp://127.0.0.1:0", &reg).unwrap();
/// assert!(strata_tokio::server_identity(&quic).unwrap().is_some());
/// ```
pub fn server_identity(ep: &Endpoint) -> Result<Option<TlsIdentity>, TlsSetupError> {
    let layer = if has_tls(ep) {
        "tls"
    } else if ep.layers.iter().any(|l| l == "quic") {
        "quic"
    } else {
        return Ok(None);
    };
    own_identity(ep, layer)?
        .map_or_else(TlsIdentity::self_signed, Ok)
        .map(Some)
}

/// The server configuration for `ep`'s `tls.*` options, presenting `id`.
/// With `tls.ca`, client certificates are required and checked against it.
///
/// The configuration presents whatever `id`'s [`ReloadingCert`] holds at
/// each handshake, and resumes sessions (tickets and a session cache) for
/// as long as it is used: build it once per listener. It reads the
/// `tls.ca` file and hands the rest to the core's
/// [`ServerTls`](strata::tls::ServerTls), which an in-memory test can use
/// directly.
///
/// ```
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse_with("tls+tcp://127.0.0.1:0?tls.alpn=h2", &strata_tokio::registry()).unwrap();
/// let id = strata_tokio::TlsIdentity::self_signed().unwrap();
/// let cfg = strata_tokio::server_config(&ep, &id).unwrap();
/// assert!(!cfg.is_client());
/// ```
pub fn server_config(ep: &Endpoint, id: &TlsIdentity) -> Result<TlsConfig, DriverError> {
    seeded_server_config(ep, id, None)
}

/// [`server_config`], with the simulation's seeded provider when `seed` is
/// given ([`seeded`]; never in the real driver).
pub(crate) fn seeded_server_config(
    ep: &Endpoint,
    id: &TlsIdentity,
    seed: Option<u64>,
) -> Result<TlsConfig, DriverError> {
    let config = seeded_server_rustls(ep, id, "tls", None, seed)?;
    Ok(TlsConfig::server(Arc::new(config)))
}

/// The rustls server configuration of `layer`'s options (`tls.*`, or
/// `quic.*` for QUIC's handshake, which asks for TLS 1.3 only through
/// `versions`), presenting `id`: what [`server_config`] wraps.
pub(crate) fn server_rustls(
    ep: &Endpoint,
    id: &TlsIdentity,
    layer: &str,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
) -> Result<rustls::ServerConfig, DriverError> {
    seeded_server_rustls(ep, id, layer, versions, None)
}

/// [`server_rustls`]; with a `seed` (a simulation's plan, never the real
/// driver's) the provider is [`seeded`], and no stateless tickets are
/// issued: rustls' ticketer encrypts with ring's own generator, so
/// resumption is by the session cache (its ticket ids come from the seeded
/// generator).
pub(crate) fn seeded_server_rustls(
    ep: &Endpoint,
    id: &TlsIdentity,
    layer: &str,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
    seed: Option<u64>,
) -> Result<rustls::ServerConfig, DriverError> {
    for key in ["sni", "insecure"] {
        if let Some(value) = ep.option(layer, key) {
            return Err(DriverError::BadOption {
                layer: layer.into(),
                key: key.into(),
                value: value.into(),
                expected: "no value: it is a client option",
            });
        }
    }
    let mut builder = ServerTls::with_resolver(id.reloader());
    let ca = ep.option(layer, "ca").map(PathBuf::from);
    if let Some(path) = &ca {
        builder = builder.client_roots(read_roots(path)?);
    }
    if let Some(v) = versions {
        builder = builder.versions(v);
    }
    if let Some(seed) = seed {
        builder = builder.provider(seeded::provider(seed)).tickets(false);
    }
    let builder = builder
        .alpn(alpn(ep, layer)?)
        .key_log(Arc::new(rustls::KeyLogFile::new()));
    let config = builder.build_rustls().map_err(|e| match (e, ca) {
        (TlsBuildError::Config(e), _) => TlsSetupError::Config(e),
        (e, Some(path)) => files::at(&path, e),
        (e, None) => TlsSetupError::Config(rustls::Error::General(e.to_string())),
    })?;
    Ok(config)
}

/// The client configuration for `ep`'s `tls.*` options: trust roots from
/// `tls.ca` (else the Mozilla roots), or none checked with `tls.insecure`;
/// the name from `tls.sni` (else the endpoint's host, `localhost` for a path).
///
/// Connections made with the same returned configuration share its session
/// store and resume earlier sessions with the same server; a configuration
/// built per connection (as [`connect`](crate::connect) does) never resumes.
/// It reads the files and hands the rest to the core's
/// [`ClientTls`](strata::tls::ClientTls).
///
/// ```
/// use strata::endpoint::Endpoint;
/// let reg = strata_tokio::registry();
/// let ep = Endpoint::parse_with("tls+tcp://localhost:8443?tls.insecure=true", &reg).unwrap();
/// assert!(strata_tokio::client_config(&ep).unwrap().is_client());
/// // `tls.alpn=` is refused by the parser already; an endpoint built by
/// // hand is refused here.
/// assert!(Endpoint::parse_with("tls+tcp://localhost:8443?tls.alpn=", &reg).is_err());
/// let mut bad = ep.clone();
/// bad.options.push(strata::endpoint::LayerOption {
///     layer: "tls".into(),
///     key: "alpn".into(),
///     value: String::new(),
/// });
/// assert!(strata_tokio::client_config(&bad).is_err());
/// ```
pub fn client_config(ep: &Endpoint) -> Result<TlsConfig, DriverError> {
    seeded_client_config(ep, None)
}

/// [`client_config`], with the simulation's seeded provider when `seed` is
/// given ([`seeded`]; never in the real driver).
pub(crate) fn seeded_client_config(
    ep: &Endpoint,
    seed: Option<u64>,
) -> Result<TlsConfig, DriverError> {
    let (config, name) = seeded_client_rustls(ep, "tls", None, seed)?;
    Ok(TlsConfig::client(Arc::new(config), name))
}

/// The rustls client configuration of `layer`'s options (`tls.*`, or
/// `quic.*` for QUIC's handshake, which asks for TLS 1.3 only through
/// `versions`), and the name verified: what [`client_config`] wraps.
pub(crate) fn client_rustls(
    ep: &Endpoint,
    layer: &str,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
) -> Result<(rustls::ClientConfig, ServerName<'static>), DriverError> {
    seeded_client_rustls(ep, layer, versions, None)
}

/// [`client_rustls`]; with a `seed` (a simulation's plan, never the real
/// driver's) the provider is [`seeded`].
pub(crate) fn seeded_client_rustls(
    ep: &Endpoint,
    layer: &str,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
    seed: Option<u64>,
) -> Result<(rustls::ClientConfig, ServerName<'static>), DriverError> {
    let insecure = ep
        .option_as::<bool>(layer, "insecure")
        .map_err(|e| DriverError::BadOption {
            layer: e.layer,
            key: e.key,
            value: e.value,
            expected: "true or false",
        })?
        .unwrap_or(false);
    let ca = ep.option(layer, "ca").map(PathBuf::from);
    enum Trust {
        Insecure,
        Roots(rustls::RootCertStore),
    }
    let trust = match (insecure, ca) {
        (true, Some(_)) => return Err(TlsSetupError::Conflict("insecure", "ca").into()),
        (true, None) => Trust::Insecure,
        (false, Some(path)) => Trust::Roots(read_roots(&path)?),
        (false, None) => Trust::Roots(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
    };
    let own = own_identity(ep, layer)?;
    if let Some(id) = &own
        && id.cert.all().len() > 1
    {
        return Err(DriverError::BadOption {
            layer: layer.into(),
            key: "cert".into(),
            value: ep.option(layer, "cert").unwrap_or_default().into(),
            expected: "one certificate: a client presents a single chain",
        });
    }
    let alpn = alpn(ep, layer)?;
    let builder = ClientTls::with_name(server_name(ep, layer)?);
    let builder = match trust {
        Trust::Insecure => builder.insecure(),
        Trust::Roots(roots) => builder.roots(roots),
    };
    let builder = match own {
        Some(id) => builder.identity(&id.identity()),
        None => builder,
    };
    let builder = match versions {
        Some(v) => builder.versions(v),
        None => builder,
    };
    let builder = match seed {
        Some(seed) => builder.provider(seeded::provider(seed)),
        None => builder,
    };
    let config = builder
        .alpn(alpn)
        .key_log(Arc::new(rustls::KeyLogFile::new()))
        .build_rustls()
        .map_err(|e| match e {
            TlsBuildError::Config(e) => TlsSetupError::Config(e),
            e => TlsSetupError::Config(rustls::Error::General(e.to_string())),
        })?;
    Ok(config)
}

fn has_tls(ep: &Endpoint) -> bool {
    ep.layers.iter().any(|l| l == "tls")
}

/// `tls.alpn` (or `layer`'s): comma-separated protocol names of 1 to 255
/// bytes ([`parse_alpn`]).
pub(crate) fn alpn(ep: &Endpoint, layer: &str) -> Result<Vec<Vec<u8>>, DriverError> {
    let Some(list) = ep.option(layer, "alpn") else {
        return Ok(Vec::new());
    };
    parse_alpn(list).map_err(|_| DriverError::BadOption {
        layer: layer.into(),
        key: "alpn".into(),
        value: list.into(),
        expected: "comma-separated protocol names of 1-255 bytes (h2,http/1.1)",
    })
}

/// The name a client verifies (and sends as SNI when it is a DNS name).
fn server_name(ep: &Endpoint, layer: &str) -> Result<ServerName<'static>, DriverError> {
    if let Some(sni) = ep.option(layer, "sni") {
        return parse_server_name(sni).map_err(|_| DriverError::BadOption {
            layer: layer.into(),
            key: "sni".into(),
            value: sni.into(),
            expected: "a DNS name or an IP address",
        });
    }
    let name = match &ep.target {
        Target::Host {
            host: Host::Ip(ip), ..
        } => return Ok(ServerName::IpAddress((*ip).into())),
        Target::Host {
            host: Host::Name(n),
            ..
        } => n.clone(),
        Target::Path(_) => "localhost".to_owned(),
    };
    parse_server_name(&name).map_err(|_| DriverError::BadOption {
        layer: layer.into(),
        key: "sni".into(),
        value: name,
        expected: "a DNS name (the endpoint's host is not one; give the sni option)",
    })
}

/// `tls.cert` and `tls.key` (or `layer`'s), loaded, when both are given
/// (several pairs when they are comma-separated lists).
pub(crate) fn own_identity(
    ep: &Endpoint,
    layer: &str,
) -> Result<Option<TlsIdentity>, TlsSetupError> {
    cert_key_pairs(ep, layer)?
        .map(|pairs| TlsIdentity::load_all(&pairs))
        .transpose()
}
