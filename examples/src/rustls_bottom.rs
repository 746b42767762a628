//! A strata protocol over a tokio-rustls stream: tokio accepts the TCP
//! connection, tokio-rustls does the TLS handshake, and the stream it
//! gives sits at the bottom of a strata stack ([`spawn_async`]) running a
//! strata protocol ([`Shout`]). The client is plain tokio-rustls.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), strata_examples::Error> {
//! let (answer, chain) = strata_examples::rustls_bottom::demo(b"hello").await?;
//! assert_eq!(answer, b"HELLO");
//! assert_eq!(chain, ["tokio-rustls"]);
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use strata::{BottomInfo, StreamProtocol, StreamTransport};
use strata_tokio::{spawn_async, AcceptAnyServerCert, TlsIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::Error;

/// A strata protocol: writes back what it reads, upper-cased; closes after
/// the peer's EOF. Records the layer chain it sees.
pub struct Shout {
    /// The layer chain, from `connection_made`.
    pub chain: Arc<Mutex<Vec<&'static str>>>,
}

impl StreamProtocol for Shout {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Ok(mut c) = self.chain.lock() {
            *c = t.layer_chain();
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(&data.to_ascii_uppercase())
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A tokio-rustls acceptor presenting a fresh self-signed certificate.
pub fn acceptor() -> Result<TlsAcceptor, Error> {
    let id = TlsIdentity::self_signed()?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(id.reloader());
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// A tokio-rustls connector that accepts any certificate (the demo's is
/// self-signed).
pub fn connector() -> Result<TlsConnector, Error> {
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider())))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(cfg)))
}

/// Accepts one connection on `l`, does the TLS handshake with tokio-rustls,
/// and runs [`Shout`] over the TLS stream; returns when the stack ends.
pub async fn serve_one(l: &TcpListener, chain: Arc<Mutex<Vec<&'static str>>>) -> Result<(), Error> {
    let (tcp, peer) = l.accept().await?;
    let tls = acceptor()?.accept(tcp).await?;
    let info = BottomInfo::new("tokio-rustls").peer(strata::Addr::Inet(peer));
    let why = spawn_async(tls, Box::new(Shout { chain }), info, Default::default()).await?;
    if !why.is_clean() {
        return Err(format!("the stack ended: {why}").into());
    }
    Ok(())
}

/// Sends `msg` over tokio-rustls to a [`Shout`] served over tokio-rustls,
/// half-closes, and returns the answer and the server's layer chain.
pub async fn demo(msg: &[u8]) -> Result<(Vec<u8>, Vec<&'static str>), Error> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    let chain = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(serve_one_owned(l, chain.clone()));
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = connector()?
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    tls.write_all(msg).await?;
    tls.shutdown().await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    server.await??;
    let chain = chain.lock().map(|c| c.clone()).unwrap_or_default();
    Ok((answer, chain))
}

async fn serve_one_owned(
    l: TcpListener,
    chain: Arc<Mutex<Vec<&'static str>>>,
) -> Result<(), Error> {
    serve_one(&l, chain).await
}
