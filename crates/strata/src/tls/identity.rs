//! [`Identity`]: a certificate chain and its key, from PEM bytes, DER or
//! generated; and the PEM parsers of certificates, keys and trust roots.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;

use super::builder::provider;
use super::TlsBuildError;

/// The names a generated self-signed certificate is valid for by default
/// ([`Identity::localhost`]).
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

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
/// give it to [`ClientTls::roots`](super::ClientTls::roots), or to
/// [`ServerTls::client_roots`](super::ServerTls::client_roots) to
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
    ///
    /// ```
    /// use strata::tls::Identity;
    /// assert!(Identity::from_pem(b"not PEM", b"not PEM").is_err());
    /// ```
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, TlsBuildError> {
        let chain = certs_from_pem(cert_pem)?;
        Identity::from_der(chain, key_from_pem(key_pem)?)
    }

    /// A DER certificate chain (leaf first, not empty) and its private key,
    /// checked to match.
    ///
    /// ```
    /// use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    /// use strata::tls::{Identity, TlsBuildError};
    /// let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(vec![0u8; 8]));
    /// assert!(matches!(Identity::from_der(Vec::new(), key), Err(TlsBuildError::NoCertificate)));
    /// ```
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
    ///
    /// ```
    /// use strata::tls::Identity;
    /// let id = Identity::self_signed(&["app.test", "10.0.0.1"]).unwrap();
    /// assert!(id.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    /// ```
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
    ///
    /// ```
    /// use strata::tls::{Identity, SELF_SIGNED_NAMES};
    /// let id = Identity::localhost().unwrap();
    /// assert_eq!(SELF_SIGNED_NAMES, ["localhost", "127.0.0.1", "::1"]);
    /// assert_eq!(id.fingerprint_hex().len(), 64);
    /// ```
    pub fn localhost() -> Result<Identity, TlsBuildError> {
        Identity::self_signed(&SELF_SIGNED_NAMES)
    }

    /// An identity over a chain and signing key rustls already holds.
    ///
    /// ```
    /// use strata::tls::Identity;
    /// let id = Identity::localhost().unwrap();
    /// let same = Identity::from_certified_key(id.certified_key());
    /// assert_eq!(same.fingerprint(), id.fingerprint());
    /// ```
    pub fn from_certified_key(key: Arc<CertifiedKey>) -> Identity {
        Identity { key }
    }

    /// The chain and signing key, for rustls.
    ///
    /// ```
    /// use strata::tls::Identity;
    /// let id = Identity::localhost().unwrap();
    /// let ck = id.certified_key();
    /// assert_eq!(ck.cert[0].as_ref(), id.certificate_der());
    /// ```
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.key.clone()
    }

    /// The leaf certificate, DER.
    ///
    /// ```
    /// use strata::tls::Identity;
    /// let id = Identity::localhost().unwrap();
    /// assert_eq!(id.certificate_der()[0], 0x30); // a DER SEQUENCE
    /// ```
    pub fn certificate_der(&self) -> &[u8] {
        leaf_der(&self.key)
    }

    /// The leaf certificate as PEM (one `CERTIFICATE` section): for a
    /// self-signed identity, what a peer trusts with `tls.ca=` or
    /// [`roots_from_pem`].
    ///
    /// ```
    /// use strata::tls::{roots_from_pem, Identity};
    /// let id = Identity::localhost().unwrap();
    /// let roots = roots_from_pem(id.certificate_pem().as_bytes()).unwrap();
    /// assert_eq!(roots.len(), 1);
    /// ```
    pub fn certificate_pem(&self) -> String {
        der_to_pem("CERTIFICATE", self.certificate_der())
    }

    /// SHA-256 of the leaf certificate's DER (what `openssl x509
    /// -fingerprint -sha256` prints).
    ///
    /// ```
    /// use strata::tls::Identity;
    /// let a = Identity::localhost().unwrap();
    /// let b = Identity::localhost().unwrap();
    /// assert_ne!(a.fingerprint(), b.fingerprint()); // each call makes a fresh one
    /// ```
    pub fn fingerprint(&self) -> [u8; 32] {
        sha256(self.certificate_der())
    }

    /// [`fingerprint`](Identity::fingerprint) as 64 lowercase hex digits.
    ///
    /// ```
    /// use strata::tls::Identity;
    /// let id = Identity::localhost().unwrap();
    /// let hex: String = id.fingerprint().iter().map(|b| format!("{b:02x}")).collect();
    /// assert_eq!(id.fingerprint_hex(), hex);
    /// ```
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
