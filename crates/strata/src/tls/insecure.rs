//! [`AcceptAnyServerCert`]: the verifier of [`ClientTls::insecure`](super::ClientTls::insecure)
//! and `tls.insecure=true`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A [`ServerCertVerifier`] that accepts **any** server certificate: for
/// tests and for talking to a server whose certificate you checked another
/// way (`tls.insecure=true`, `strata connect --insecure`,
/// [`ClientTls::insecure`](super::ClientTls::insecure)). It still checks the handshake signatures, so
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
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rustls::client::danger::ServerCertVerifier;
    /// use strata::tls::AcceptAnyServerCert;
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let v = AcceptAnyServerCert::new(provider.clone());
    /// // It checks signatures with the provider's schemes.
    /// let schemes = provider.signature_verification_algorithms.supported_schemes();
    /// assert_eq!(v.supported_verify_schemes(), schemes);
    /// ```
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
