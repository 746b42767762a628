//! The TLS side of the benchmarks: one self-signed certificate written to a
//! temporary directory for a whole session, and the two TLS echo servers
//! that present it, both on rustls with its ring provider:
//!
//! * `strata-tls`: `strata_tokio::Server` serving [`Tls`]`<`[`Echo`]`>`, its
//!   configuration made by `strata_tokio::server_config`;
//! * `tokio-rustls`: the raw tokio echo behind `tokio_rustls::TlsAcceptor`,
//!   with a rustls configuration built the same way (same provider, same
//!   protocol versions, no client authentication, the library's defaults for
//!   session storage and tickets).

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use strata::endpoint::Endpoint;
use strata::tls::Tls;
use strata::{AbortReason, Close, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server, StreamFactory, TlsIdentity};

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::echo::Echo;

/// The name clients send and verify; the certificate is made for it.
pub const SERVER_NAME: &str = "localhost";

/// The certificate and key files of a session, in a directory removed on
/// drop.
#[derive(Debug)]
pub struct CertFiles {
    dir: PathBuf,
    /// PEM certificate (self-signed, so also the client's trust root).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8).
    pub key: PathBuf,
}

impl CertFiles {
    /// Generates a self-signed ECDSA P-256 certificate for `localhost`,
    /// `127.0.0.1` and `::1` into a fresh directory under `parent`, named
    /// after this process and `tag`.
    pub fn generate(parent: &Path, tag: &str) -> io::Result<CertFiles> {
        let dir = parent.join(format!("strata-bench-tls-{}-{tag}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let names = strata_tokio::SELF_SIGNED_NAMES.map(String::from).to_vec();
        let made = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        let files = CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        fs::write(&files.cert, made.cert.pem())?;
        fs::write(&files.key, made.key_pair.serialize_pem())?;
        Ok(files)
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        // Best effort: a leftover temp directory is harmless.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad_pem(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {e}", path.display()),
    )
}

fn read_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad_pem(path, e))
}

/// The tokio-rustls anchor's server configuration: ring, TLS 1.3 and 1.2,
/// no client authentication: what `strata_tokio::server_config` builds.
pub fn anchor_server_config(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let chain = read_certs(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad_pem(key, e))?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| bad_pem(key, e))?;
    Ok(Arc::new(cfg))
}

/// The load's client configuration: ring, trusting only `cert`. With
/// `resume` false, no session is kept, so every handshake is a full one;
/// with it, rustls' default in-memory session store lets TLS 1.3 resume.
pub fn client_config(cert: &Path, resume: bool) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(cert)? {
        roots.add(c).map_err(|e| bad_pem(cert, e))?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !resume {
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(cfg))
}

/// A connector sharing one client configuration (and so one session store)
/// across every connection of a load.
#[derive(Clone)]
pub struct Client {
    connector: TlsConnector,
    name: ServerName<'static>,
}

/// A client TLS stream over TCP.
pub type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;

impl Client {
    /// A client trusting `cert`, resuming sessions when `resume` is true.
    pub fn new(cert: &Path, resume: bool) -> io::Result<Client> {
        let name = ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?;
        Ok(Client {
            connector: TlsConnector::from(client_config(cert, resume)?),
            name,
        })
    }

    /// The same client offering ALPN `h2` (for HTTP/2 servers).
    pub fn h2(cert: &Path) -> io::Result<Client> {
        let name = ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?;
        let mut cfg = (*client_config(cert, false)?).clone();
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Client {
            connector: TlsConnector::from(Arc::new(cfg)),
            name,
        })
    }

    /// Connects over TCP (no Nagle) and completes the handshake.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<ClientStream> {
        let sock = TcpStream::connect(addr).await?;
        sock.set_nodelay(true)?;
        self.connector.connect(self.name.clone(), sock).await
    }
}

/// Listens with strata's driver, serving `Tls<Echo>` with the identity in
/// `cert`/`key`; returns the server handle (keep it) and the bound address.
pub async fn listen_strata(
    addr: SocketAddr,
    max_connections: usize,
    cert: &Path,
    key: &Path,
) -> io::Result<(Server, SocketAddr)> {
    let id = TlsIdentity::load(cert, key).map_err(io::Error::other)?;
    let ep = Endpoint::parse_with("tls+tcp://127.0.0.1:0", &strata_tokio::registry())
        .map_err(io::Error::other)?;
    let cfg = strata_tokio::server_config(&ep, &id).map_err(io::Error::other)?;
    // rustls checks a configuration per connection; check it once here so a
    // refusal fails the server's start, not each connection.
    Tls::new(Echo, &cfg).map_err(io::Error::other)?;
    let factory: StreamFactory = Arc::new(move || match Tls::new(Echo, &cfg) {
        Ok(tls) => Box::new(tls) as Box<dyn StreamProtocol>,
        Err(e) => Box::new(Refused(Some(Close::aborted("tls", AbortReason::layer(e))))),
    });
    let server = Server::new();
    let listen = ListenConfig {
        max_connections,
        nodelay: true,
        ..ListenConfig::default()
    };
    let local = server.listen_tcp(addr, factory, listen).await?;
    Ok((server, local))
}

/// Aborts a connection at once: stands in for a `Tls` rustls would not make
/// (not seen once the configuration passed the check at start).
struct Refused(Option<Close>);

impl StreamProtocol for Refused {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Some(why) = self.0.take() {
            t.abort(why);
        }
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// The most plaintext one TLS record carries: the tokio-rustls anchor's
/// default read buffer. `run` gives it the plain anchor's 64 KiB for the
/// throughput benchmarks (fewer, larger writes) and this for the idle one
/// (where the buffer would otherwise dominate its memory).
pub const RECORD_PLAINTEXT: usize = 16 * 1024;
