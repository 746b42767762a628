//! [`ReloadingCert`]: the server certificate a listener presents, replaced
//! in place (on SIGHUP, say) without restarting the listener.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::client::verify_server_name;
use rustls::pki_types::ServerName;
use rustls::server::{ClientHello, ParsedCertificate, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use strata::endpoint::Endpoint;

use super::files::{cert_key_pairs, load_pairs};
use super::TlsSetupError;

/// The certificates in use, and whether the (only) one was generated.
#[derive(Clone)]
struct Current {
    /// The default: presented without SNI or when no name matches.
    first: Arc<CertifiedKey>,
    /// The others, tried in order after `first` against the SNI name.
    others: Arc<[Arc<CertifiedKey>]>,
    self_signed: bool,
}

impl Current {
    fn from_keys(keys: Vec<Arc<CertifiedKey>>) -> Option<Current> {
        let mut keys = keys.into_iter();
        let first = keys.next()?;
        Some(Current {
            first,
            others: keys.collect(),
            self_signed: false,
        })
    }

    /// The certificate for the SNI name `sni`: the first whose leaf is
    /// valid for it (wildcards included, as a client would check), else
    /// the first of all.
    fn pick(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        let name = match sni.map(ServerName::try_from) {
            Some(Ok(name)) if !self.others.is_empty() => name,
            _ => return self.first.clone(),
        };
        let matches = |key: &Arc<CertifiedKey>| {
            key.cert
                .first()
                .and_then(|leaf| ParsedCertificate::try_from(leaf).ok())
                .is_some_and(|leaf| verify_server_name(&leaf, &name).is_ok())
        };
        std::iter::once(&self.first)
            .chain(self.others.iter())
            .find(|k| matches(k))
            .unwrap_or(&self.first)
            .clone()
    }
}

/// The server certificates a listener presents, chosen by SNI, that can be
/// replaced while connections come and go:
/// the [`ResolvesServerCert`] of every server configuration built from a
/// [`TlsIdentity`](crate::TlsIdentity) ([`server_config`](crate::server_config)),
/// reached with [`TlsIdentity::reloader`](crate::TlsIdentity::reloader).
///
/// With several certificates (`tls.cert=a.pem,b.pem&tls.key=a.key,b.key`)
/// each handshake gets the first one whose names match the client's SNI
/// name (wildcards as a client checks them), and the first of all when the
/// client sends no SNI or a name none matches.
///
/// [`reload`](ReloadingCert::reload) reads and checks new files and, only if
/// they are good, swaps them in: handshakes that start afterwards present
/// the new certificate; connections already made are unaffected (their keys
/// are agreed), and a failed reload keeps the old certificate. Sessions
/// resumed from tickets or the session cache were authenticated by the
/// certificate of their full handshake and go on resuming.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let id = strata_tokio::TlsIdentity::self_signed()?;
/// let before = id.fingerprint();
/// // Hold on to this (it is shared with every clone of `id`); on SIGHUP:
/// let reloader = id.reloader();
/// let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let dir = std::env::temp_dir().join(format!("strata-reload-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
/// std::fs::write(&cert, made.cert.pem())?;
/// std::fs::write(&key, made.key_pair.serialize_pem())?;
/// reloader.reload(&cert, &key)?;
/// assert_ne!(id.fingerprint(), before);
/// assert!(!id.is_self_signed());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
pub struct ReloadingCert {
    current: RwLock<Current>,
}

impl ReloadingCert {
    pub(super) fn new(key: Arc<CertifiedKey>, self_signed: bool) -> Self {
        ReloadingCert {
            current: RwLock::new(Current {
                first: key,
                others: Arc::new([]),
                self_signed,
            }),
        }
    }

    /// Several certificates, the first the default (`keys` is not empty).
    pub(super) fn several(keys: Vec<Arc<CertifiedKey>>) -> Option<Self> {
        Current::from_keys(keys).map(|c| ReloadingCert {
            current: RwLock::new(c),
        })
    }

    /// Reads a PEM certificate chain and its private key, checks that they
    /// match, and makes them the certificate presented from the next
    /// handshake on, replacing **all** the certificates held (a listener
    /// with several reloads them with [`reload_all`](ReloadingCert::reload_all)
    /// or [`reload_from`](ReloadingCert::reload_from)). On error nothing
    /// changes.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::path::Path;
    /// let id = strata_tokio::TlsIdentity::self_signed()?;
    /// let e = id.reloader().reload(Path::new("/nonexistent/c.pem"), Path::new("/nonexistent/k.pem"));
    /// assert!(matches!(e, Err(strata_tokio::TlsSetupError::Unreadable { .. })));
    /// assert!(id.is_self_signed(), "a failed reload keeps the old certificate");
    /// # Ok(()) }
    /// ```
    pub fn reload(&self, cert: &Path, key: &Path) -> Result<(), TlsSetupError> {
        self.reload_all(&[(cert, key)])
    }

    /// Reads and checks every `(certificate, key)` pair, and only if all are
    /// good makes them the certificates presented from the next handshake
    /// on, chosen by SNI, the first the default. On error nothing changes.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::path::Path;
    /// let id = strata_tokio::TlsIdentity::self_signed()?;
    /// let e = id.reloader().reload_all(&[(Path::new("/nonexistent/c.pem"), Path::new("k.pem"))]);
    /// assert!(matches!(e, Err(strata_tokio::TlsSetupError::Unreadable { .. })));
    /// # Ok(()) }
    /// ```
    pub fn reload_all<C: AsRef<Path>, K: AsRef<Path>>(
        &self,
        pairs: &[(C, K)],
    ) -> Result<(), TlsSetupError> {
        let keys = load_pairs(pairs)?;
        let n = keys.len();
        // Invariant: load_pairs refuses an empty list.
        if let Some(new) = Current::from_keys(keys) {
            self.set(new);
        }
        tracing::info!("tls: {n} certificate(s) reloaded");
        Ok(())
    }

    /// [`reload_all`](ReloadingCert::reload_all) with the files named by
    /// `ep`'s `tls.cert` and `tls.key` lists, or its `quic.cert` and
    /// `quic.key` (what a server re-reads on SIGHUP); an endpoint without them is [`TlsSetupError::PairCount`]
    /// with no files.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse_with("tls+tcp://127.0.0.1:0", &strata_tokio::registry())?;
    /// let id = strata_tokio::TlsIdentity::self_signed()?;
    /// assert!(id.reloader().reload_from(&ep).is_err(), "no files to read");
    /// assert!(id.is_self_signed());
    /// # Ok(()) }
    /// ```
    pub fn reload_from(&self, ep: &Endpoint) -> Result<(), TlsSetupError> {
        // A QUIC listener names its files `quic.cert`/`quic.key`.
        let layer = if ep.option("quic", "cert").is_some() {
            "quic"
        } else {
            "tls"
        };
        let pairs = cert_key_pairs(ep, layer)?.unwrap_or_default();
        self.reload_all(&pairs)
    }

    /// Presents the certificate of `id` from the next handshake on (a fresh
    /// self-signed one, say).
    ///
    /// ```
    /// # fn main() -> Result<(), strata_tokio::TlsSetupError> {
    /// use strata_tokio::TlsIdentity;
    /// let id = TlsIdentity::self_signed()?;
    /// let other = TlsIdentity::self_signed()?;
    /// id.reloader().replace_with(&other);
    /// assert_eq!(id.fingerprint(), other.fingerprint());
    /// # Ok(()) }
    /// ```
    pub fn replace_with(&self, id: &crate::TlsIdentity) {
        self.set(id.reloader().get());
    }

    /// The certificate chain and signing key presented now by default (the
    /// first one, when there are several).
    ///
    /// ```
    /// # fn main() -> Result<(), strata_tokio::TlsSetupError> {
    /// let id = strata_tokio::TlsIdentity::self_signed()?;
    /// assert_eq!(id.reloader().current().cert.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.get().first
    }

    /// Every certificate held, the default first.
    ///
    /// ```
    /// # fn main() -> Result<(), strata_tokio::TlsSetupError> {
    /// let id = strata_tokio::TlsIdentity::self_signed()?;
    /// assert_eq!(id.reloader().all().len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn all(&self) -> Vec<Arc<CertifiedKey>> {
        let cur = self.get();
        std::iter::once(cur.first)
            .chain(cur.others.iter().cloned())
            .collect()
    }

    /// The certificate a client sending SNI name `sni` gets.
    pub(super) fn pick(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        self.get().pick(sni)
    }

    /// True while the certificate presented is a generated self-signed one.
    pub(super) fn is_self_signed(&self) -> bool {
        self.get().self_signed
    }

    fn get(&self) -> Current {
        // A poisoned lock still holds a whole value: writers only assign.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, new: Current) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = new;
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cur = self.get();
        f.debug_struct("ReloadingCert")
            .field(
                "sha256",
                &strata::tls::Identity::from_certified_key(cur.first.clone()).fingerprint_hex(),
            )
            .field("others", &cur.others.len())
            .field("self_signed", &cur.self_signed)
            .finish()
    }
}
