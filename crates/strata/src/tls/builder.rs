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

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ResolvesServerCert;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedProtocolVersion};

use super::TlsConfig;

/// The names a generated self-signed certificate is valid for by default
/// ([`Identity::localhost`]).
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

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
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM text, in order (a chain, leaf first).
///
/// ```
/// let id = strata::tls::Identity::localhost().unwrap();
/// let certs = strata::tls::certs_from_pem(id.certificate_pem().as_bytes()).unwrap();
/// assert_eq!(certs[0].as_ref(), id.certificate_der());
/// ```
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsBuildError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsBuildError::BadPem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsBuildError::NoCertificate);
    }
    Ok(certs)
}

/// The first private key of a PEM text (PKCS#8, PKCS#1 or SEC1).
///
/// ```
/// use strata::tls::{key_from_pem, TlsBuildError};
/// assert!(matches!(key_from_pem(b"no key here"), Err(TlsBuildError::NoKey)));
/// ```
pub fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsBuildError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsBuildError::NoKey,
        e => TlsBuildError::BadPem(e.to_string()),
    })
}

/// A trust store of every certificate of a PEM text (what `tls.ca=` names):
/// give it to [`ClientTls::roots`], or to [`ServerTls::client_roots`] to
/// require client certificates.
///
/// ```
/// let id = strata::tls::Identity::localhost().unwrap();
/// let roots = strata::tls::roots_from_pem(id.certificate_pem().as_bytes()).unwrap();
/// assert_eq!(roots.len(), 1);
/// ```
pub fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore, TlsBuildError> {
    let mut roots = RootCertStore::empty();
    for cert in certs_from_pem(pem)? {
        roots
            .add(cert)
            .map_err(|e| TlsBuildError::BadCertificate(e.to_string()))?;
    }
    Ok(roots)
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

/// A certificate chain and its private key, checked to match: what a server
/// presents, and a client when asked for a certificate. Cheap to clone.
///
/// ```
/// use strata::tls::Identity;
/// let id = Identity::self_signed(&["example.test"]).unwrap();
/// assert!(id.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
/// let again = Identity::from_pem(id.certificate_pem().as_bytes(), b"").unwrap_err();
/// assert_eq!(again.to_string(), "no PEM private key found");
/// assert_eq!(id.fingerprint_hex().len(), 64);
/// ```
#[derive(Clone)]
pub struct Identity {
    key: Arc<CertifiedKey>,
}

impl Identity {
    /// A PEM certificate chain (leaf first) and a PEM private key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, TlsBuildError> {
        let chain = certs_from_pem(cert_pem)?;
        Identity::from_der(chain, key_from_pem(key_pem)?)
    }

    /// A DER certificate chain (leaf first, not empty) and its private key,
    /// checked to match.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Identity, TlsBuildError> {
        if chain.is_empty() {
            return Err(TlsBuildError::NoCertificate);
        }
        let signing = provider()
            .key_provider
            .load_private_key(key)
            .map_err(TlsBuildError::BadKey)?;
        let ck = CertifiedKey::new(chain, signing);
        match ck.keys_match() {
            // Unknown: the key cannot say its public half; rustls accepts it.
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(_)) => return Err(TlsBuildError::KeyMismatch),
            Err(e) => return Err(TlsBuildError::BadCertificate(e.to_string())),
        }
        Ok(Identity { key: Arc::new(ck) })
    }

    /// A fresh self-signed certificate (ECDSA P-256) for `names` (DNS names
    /// or IP addresses).
    pub fn self_signed(names: &[&str]) -> Result<Identity, TlsBuildError> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let made = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsBuildError::SelfSigned(e.to_string()))?;
        let der = PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
        let signing = provider()
            .key_provider
            .load_private_key(der)
            .map_err(|e| TlsBuildError::SelfSigned(e.to_string()))?;
        let key = CertifiedKey::new(vec![made.cert.der().clone()], signing);
        Ok(Identity { key: Arc::new(key) })
    }

    /// [`self_signed`](Identity::self_signed) for [`SELF_SIGNED_NAMES`]:
    /// `localhost`, `127.0.0.1` and `::1`.
    pub fn localhost() -> Result<Identity, TlsBuildError> {
        Identity::self_signed(&SELF_SIGNED_NAMES)
    }

    /// An identity over a chain and signing key rustls already holds.
    pub fn from_certified_key(key: Arc<CertifiedKey>) -> Identity {
        Identity { key }
    }

    /// The chain and signing key, for rustls.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.key.clone()
    }

    /// The leaf certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        leaf_der(&self.key)
    }

    /// The leaf certificate as PEM (one `CERTIFICATE` section): for a
    /// self-signed identity, what a peer trusts with `tls.ca=` or
    /// [`roots_from_pem`].
    pub fn certificate_pem(&self) -> String {
        der_to_pem("CERTIFICATE", self.certificate_der())
    }

    /// SHA-256 of the leaf certificate's DER (what `openssl x509
    /// -fingerprint -sha256` prints).
    pub fn fingerprint(&self) -> [u8; 32] {
        sha256(self.certificate_der())
    }

    /// [`fingerprint`](Identity::fingerprint) as 64 lowercase hex digits.
    pub fn fingerprint_hex(&self) -> String {
        self.fingerprint()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("sha256", &self.fingerprint_hex())
            .finish()
    }
}

/// The leaf certificate of a chain, DER (empty for an empty chain, which
/// [`Identity`] never holds).
pub(crate) fn leaf_der(key: &CertifiedKey) -> &[u8] {
    key.cert.first().map_or(&[], |c| c.as_ref())
}

fn sha256(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `der` in a PEM section labelled `label`: base64 in lines of 64.
fn der_to_pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for group in der.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            b64.push(if i <= group.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        // Invariant: base64 is ASCII.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
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
}

impl ServerTls {
    /// A server presenting `id`.
    pub fn new(id: &Identity) -> ServerTls {
        ServerTls::with_resolver(Arc::new(SingleCertAndKey::from(id.certified_key())))
    }

    /// A server whose certificate `certs` picks at each handshake (by SNI,
    /// or one replaced on reload, as the driver's `ReloadingCert` does).
    pub fn with_resolver(certs: Arc<dyn ResolvesServerCert>) -> ServerTls {
        ServerTls {
            certs,
            client_roots: None,
            alpn: Vec::new(),
            versions: None,
            key_log: None,
            tickets: true,
        }
    }

    /// The ALPN protocols, in preference order (each 1 to 255 bytes; see
    /// [`parse_alpn`] for the option form).
    pub fn alpn<I: IntoIterator<Item = P>, P: AsRef<[u8]>>(mut self, protocols: I) -> Self {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Requires a client certificate, checked against `roots`.
    pub fn client_roots(mut self, roots: RootCertStore) -> Self {
        self.client_roots = Some(roots);
        self
    }

    /// The protocol versions (default: rustls' safe defaults, TLS 1.3 and 1.2).
    pub fn versions(mut self, versions: &[&'static SupportedProtocolVersion]) -> Self {
        self.versions = Some(versions.to_vec());
        self
    }

    /// Where session secrets are logged (`rustls::KeyLogFile` for
    /// `SSLKEYLOGFILE`); by default nowhere.
    pub fn key_log(mut self, log: Arc<dyn rustls::KeyLog>) -> Self {
        self.key_log = Some(log);
        self
    }

    /// Whether session tickets are issued (default true); without them only
    /// the session cache resumes.
    pub fn tickets(mut self, on: bool) -> Self {
        self.tickets = on;
        self
    }

    /// The rustls configuration, to adjust before wrapping it with
    /// [`TlsConfig::server`].
    pub fn build_rustls(self) -> Result<rustls::ServerConfig, TlsBuildError> {
        check_alpn(&self.alpn)?;
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
}

impl ClientTls {
    /// A client that checks the server's certificate against `server_name`
    /// (a DNS name, also sent as SNI, or an IP address).
    pub fn new(server_name: &str) -> Result<ClientTls, TlsBuildError> {
        Ok(ClientTls::with_name(parse_server_name(server_name)?))
    }

    /// [`new`](ClientTls::new) with a name already parsed.
    pub fn with_name(name: ServerName<'static>) -> ClientTls {
        ClientTls {
            name,
            trust: Trust::None,
            identity: None,
            alpn: Vec::new(),
            versions: None,
            key_log: None,
        }
    }

    /// Trusts the certificates issued by `roots` (see [`roots_from_pem`]).
    pub fn roots(mut self, roots: RootCertStore) -> Self {
        self.trust = Trust::Roots(roots);
        self
    }

    /// Accepts **any** server certificate ([`AcceptAnyServerCert`]): for
    /// tests, never in production. Replaces [`roots`](ClientTls::roots).
    pub fn insecure(mut self) -> Self {
        self.trust = Trust::Insecure;
        self
    }

    /// Presents `id` when the server asks for a client certificate.
    pub fn identity(mut self, id: &Identity) -> Self {
        self.identity = Some(id.clone());
        self
    }

    /// The ALPN protocols offered, in preference order (each 1 to 255 bytes).
    pub fn alpn<I: IntoIterator<Item = P>, P: AsRef<[u8]>>(mut self, protocols: I) -> Self {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// The protocol versions (default: rustls' safe defaults, TLS 1.3 and 1.2).
    pub fn versions(mut self, versions: &[&'static SupportedProtocolVersion]) -> Self {
        self.versions = Some(versions.to_vec());
        self
    }

    /// Where session secrets are logged; by default nowhere.
    pub fn key_log(mut self, log: Arc<dyn rustls::KeyLog>) -> Self {
        self.key_log = Some(log);
        self
    }

    /// The rustls configuration and the server name, to adjust before
    /// wrapping them with [`TlsConfig::client`].
    pub fn build_rustls(
        self,
    ) -> Result<(rustls::ClientConfig, ServerName<'static>), TlsBuildError> {
        check_alpn(&self.alpn)?;
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
            Some(id) => builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(id.key))),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn;
        if let Some(log) = self.key_log {
            config.key_log = log;
        }
        Ok((config, self.name))
    }

    /// The client configuration.
    pub fn build(self) -> Result<TlsConfig, TlsBuildError> {
        let (config, name) = self.build_rustls()?;
        Ok(TlsConfig::client(Arc::new(config), name))
    }
}

/// A [`ServerCertVerifier`] that accepts **any** server certificate: for
/// tests and for talking to a server whose certificate you checked another
/// way (`tls.insecure=true`, `strata connect --insecure`,
/// [`ClientTls::insecure`]). It still checks the handshake signatures, so
/// the server does hold the key of the certificate it sent, but nothing ties
/// that certificate to a trusted root or to the name: anyone on the path
/// can impersonate the server.
///
/// ```
/// use std::sync::Arc;
/// use strata::tls::AcceptAnyServerCert;
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let config = rustls::ClientConfig::builder_with_provider(provider.clone())
///     .with_safe_default_protocol_versions()
///     .unwrap()
///     .dangerous()
///     .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider)))
///     .with_no_client_auth();
/// assert!(config.alpn_protocols.is_empty());
/// ```
#[derive(Debug)]
pub struct AcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl AcceptAnyServerCert {
    /// A verifier that checks signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        AcceptAnyServerCert { provider }
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_every_length_of_padding() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 100] {
            let der: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let pem = der_to_pem("CERTIFICATE", &der);
            if len == 0 {
                assert_eq!(
                    pem,
                    "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
                );
                continue;
            }
            let back = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            assert_eq!(back.as_ref(), &der[..], "length {len}");
            assert!(pem.lines().all(|l| l.len() <= 64));
        }
    }

    #[test]
    fn certificate_pem_is_the_der() {
        let id = Identity::localhost().unwrap();
        let certs = certs_from_pem(id.certificate_pem().as_bytes()).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].as_ref(), id.certificate_der());
    }

    #[test]
    fn a_key_of_another_certificate_is_a_mismatch() {
        let a = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b.test".into()]).unwrap();
        let e = Identity::from_pem(
            a.cert.pem().as_bytes(),
            b.key_pair.serialize_pem().as_bytes(),
        );
        assert!(matches!(e, Err(TlsBuildError::KeyMismatch)), "{e:?}");
        let ok = Identity::from_pem(
            a.cert.pem().as_bytes(),
            a.key_pair.serialize_pem().as_bytes(),
        );
        assert_eq!(ok.unwrap().certificate_der(), a.cert.der().as_ref());
    }
}
