//! Reading the PEM files of the `tls.*` options, and the `tls.cert`/`tls.key`
//! lists of a server presenting several certificates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use strata::endpoint::Endpoint;

use super::{provider, TlsSetupError, MAX_PEM_FILE};

/// [`TlsIdentity::cert_key_pairs`](crate::TlsIdentity::cert_key_pairs).
pub(super) fn cert_key_pairs(
    ep: &Endpoint,
) -> Result<Option<Vec<(PathBuf, PathBuf)>>, TlsSetupError> {
    let (certs, keys) = match (ep.option("tls", "cert"), ep.option("tls", "key")) {
        (Some(c), Some(k)) => (list(c, "cert")?, list(k, "key")?),
        (Some(_), None) => {
            return Err(TlsSetupError::Incomplete {
                given: "cert",
                missing: "key",
            })
        }
        (None, Some(_)) => {
            return Err(TlsSetupError::Incomplete {
                given: "key",
                missing: "cert",
            })
        }
        (None, None) => return Ok(None),
    };
    if certs.len() != keys.len() {
        return Err(TlsSetupError::PairCount {
            certs: certs.len(),
            keys: keys.len(),
        });
    }
    Ok(Some(certs.into_iter().zip(keys).collect()))
}

/// A comma-separated list of paths, none empty.
fn list(value: &str, option: &'static str) -> Result<Vec<PathBuf>, TlsSetupError> {
    value
        .split(',')
        .map(|p| match p {
            "" => Err(TlsSetupError::EmptyPath { option }),
            p => Ok(PathBuf::from(p)),
        })
        .collect()
}

/// Reads a PEM certificate chain (leaf first) and a PEM private key, and
/// checks that the key is the certificate's.
pub(super) fn load_certified_key(
    cert: &Path,
    key: &Path,
) -> Result<Arc<CertifiedKey>, TlsSetupError> {
    let chain = read_certs(cert)?;
    let der = read_key(key)?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|reason| TlsSetupError::BadKey {
            path: key.to_owned(),
            reason,
        })?;
    let ck = CertifiedKey::new(chain, signing);
    match ck.keys_match() {
        // Unknown: the key cannot say its public half; rustls accepts it.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(TlsSetupError::KeyMismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
            })
        }
        Err(e) => {
            return Err(TlsSetupError::BadCertificate {
                path: cert.to_owned(),
                reason: e.to_string(),
            })
        }
    }
    Ok(Arc::new(ck))
}

/// Reads a PEM file of at most [`MAX_PEM_FILE`] bytes: a path to an endless
/// file (`/dev/zero`, a FIFO fed forever) is refused, not read into memory.
fn read(path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    use std::io::Read;
    let unreadable = |source| TlsSetupError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let mut out = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PEM_FILE + 1).read_to_end(&mut out))
        .map_err(unreadable)?;
    if out.len() as u64 > MAX_PEM_FILE {
        return Err(TlsSetupError::TooLarge {
            path: path.to_owned(),
            limit: MAX_PEM_FILE,
        });
    }
    Ok(out)
}

fn bad_pem(path: &Path, e: rustls::pki_types::pem::Error) -> TlsSetupError {
    TlsSetupError::BadPem {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

pub(super) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(path, e))?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsSetupError::NoKey {
            path: path.to_owned(),
        },
        e => bad_pem(path, e),
    })
}

pub(super) fn read_roots(path: &Path) -> Result<rustls::RootCertStore, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(path)? {
        roots.add(cert).map_err(|e| TlsSetupError::BadCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// Loads every pair of `pairs` (at least one), each checked as by
/// [`load_certified_key`]; the first error wins.
pub(super) fn load_pairs<C: AsRef<Path>, K: AsRef<Path>>(
    pairs: &[(C, K)],
) -> Result<Vec<Arc<CertifiedKey>>, TlsSetupError> {
    if pairs.is_empty() {
        return Err(TlsSetupError::PairCount { certs: 0, keys: 0 });
    }
    pairs
        .iter()
        .map(|(c, k)| load_certified_key(c.as_ref(), k.as_ref()))
        .collect()
}
