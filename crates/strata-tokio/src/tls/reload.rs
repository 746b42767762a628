//! [`ReloadingCert`]: the server certificate a listener presents, replaced
//! in place (on SIGHUP, say) without restarting the listener.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{load_certified_key, TlsSetupError};

/// The certificate in use, and whether it was generated.
#[derive(Clone)]
struct Current {
    key: Arc<CertifiedKey>,
    self_signed: bool,
}

/// A server certificate that can be replaced while connections come and go:
/// the [`ResolvesServerCert`] of every server configuration built from a
/// [`TlsIdentity`](crate::TlsIdentity) ([`server_config`](crate::server_config)),
/// reached with [`TlsIdentity::reloader`](crate::TlsIdentity::reloader).
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
            current: RwLock::new(Current { key, self_signed }),
        }
    }

    /// Reads a PEM certificate chain and its private key, checks that they
    /// match, and makes them the certificate presented from the next
    /// handshake on. On error nothing changes.
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
        let key = load_certified_key(cert, key)?;
        self.set(Current {
            key,
            self_signed: false,
        });
        tracing::info!("tls: certificate reloaded from {}", cert.display());
        Ok(())
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

    /// The certificate chain and signing key presented now.
    ///
    /// ```
    /// # fn main() -> Result<(), strata_tokio::TlsSetupError> {
    /// let id = strata_tokio::TlsIdentity::self_signed()?;
    /// assert_eq!(id.reloader().current().cert.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.get().key
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
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cur = self.get();
        f.debug_struct("ReloadingCert")
            .field("sha256", &super::sha256_hex(super::leaf_der(&cur.key)))
            .field("self_signed", &cur.self_signed)
            .finish()
    }
}
