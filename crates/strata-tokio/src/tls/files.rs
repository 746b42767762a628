//! Reading the PEM files of the `tls.*` options (the core's builders parse
//! what they hold), and the `tls.cert`/`tls.key` lists of a server
//! presenting several certificates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use strata::endpoint::Endpoint;
use strata::tls::{certs_from_pem, key_from_pem, roots_from_pem, Identity, TlsBuildError};

use super::{TlsSetupError, MAX_PEM_FILE};

/// [`TlsIdentity::cert_key_pairs`](crate::TlsIdentity::cert_key_pairs), of
/// `layer`'s options (`tls.*`, or `quic.*` for QUIC's handshake).
pub(super) fn cert_key_pairs(
    ep: &Endpoint,
    layer: &str,
) -> Result<Option<Vec<(PathBuf, PathBuf)>>, TlsSetupError> {
    let (certs, keys) = match (ep.option(layer, "cert"), ep.option(layer, "key")) {
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
/// checks that the key is the certificate's (with the core's
/// [`Identity::from_der`]).
pub(super) fn load_certified_key(
    cert: &Path,
    key: &Path,
) -> Result<Arc<CertifiedKey>, TlsSetupError> {
    let chain = read_certs(cert)?;
    let der = read_key(key)?;
    match Identity::from_der(chain, der) {
        Ok(id) => Ok(id.certified_key()),
        Err(TlsBuildError::BadKey(reason)) => Err(TlsSetupError::BadKey {
            path: key.to_owned(),
            reason,
        }),
        Err(TlsBuildError::KeyMismatch) => Err(TlsSetupError::KeyMismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        }),
        Err(e) => Err(at(cert, e)),
    }
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

/// A core refusal of what `path` holds, reported against the file.
pub(super) fn at(path: &Path, e: TlsBuildError) -> TlsSetupError {
    let path = path.to_owned();
    match e {
        TlsBuildError::BadPem(reason) => TlsSetupError::BadPem { path, reason },
        TlsBuildError::NoCertificate => TlsSetupError::NoCertificate { path },
        TlsBuildError::NoKey => TlsSetupError::NoKey { path },
        TlsBuildError::BadKey(reason) => TlsSetupError::BadKey { path, reason },
        TlsBuildError::Config(e) => TlsSetupError::Config(e),
        TlsBuildError::BadCertificate(reason) => TlsSetupError::BadCertificate { path, reason },
        e => TlsSetupError::BadCertificate {
            path,
            reason: e.to_string(),
        },
    }
}

pub(super) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    certs_from_pem(&read(path)?).map_err(|e| at(path, e))
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    key_from_pem(&read(path)?).map_err(|e| at(path, e))
}

pub(super) fn read_roots(path: &Path) -> Result<rustls::RootCertStore, TlsSetupError> {
    roots_from_pem(&read(path)?).map_err(|e| at(path, e))
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
