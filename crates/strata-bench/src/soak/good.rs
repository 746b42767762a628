//! One well-behaved connection: connect (TCP, TLS, or HTTP/2 in cleartext or
//! over TLS), then one request a second on a fixed schedule, each answer
//! checked byte for byte and timed from the send to the last byte back.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use strata::deadline::after;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{message, Target};

/// The name the TLS clients send and verify (the soak's certificate is made
/// for it).
pub const SERVER_NAME: &str = "localhost";

/// Makes the good connections of one target.
#[derive(Clone)]
pub struct Connector {
    target: Target,
    addr: SocketAddr,
    tls: Option<TlsConnector>,
}

impl Connector {
    /// A connector to `addr`; TLS targets trust only the PEM certificate in
    /// `cert` (and HTTP/2 over TLS offers ALPN `h2` alone).
    pub fn new(target: Target, addr: SocketAddr, cert: Option<&Path>) -> io::Result<Connector> {
        let tls = if target.tls() {
            let cert = cert.ok_or_else(|| io::Error::other("a TLS target needs --cert"))?;
            Some(TlsConnector::from(client_config(cert, target.http())?))
        } else {
            None
        };
        Ok(Connector { target, addr, tls })
    }

    /// Connects and, for TLS, completes the handshake; for HTTP/2, sends
    /// the preface and SETTINGS and spawns the connection's driver task.
    pub async fn connect(&self) -> io::Result<Conn> {
        let sock = TcpStream::connect(self.addr).await?;
        sock.set_nodelay(true)?;
        match (self.target, &self.tls) {
            (Target::Tcp, _) => Ok(Conn::Tcp(sock)),
            (Target::H2c, _) => Ok(Conn::H2(h2_handshake(sock, self.uri()).await?)),
            (target, Some(tls)) => {
                let name = ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?;
                let s = tls.connect(name, sock).await?;
                if target == Target::Tls {
                    return Ok(Conn::Tls(Box::new(s)));
                }
                if s.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(io::Error::other("the server did not choose ALPN h2"));
                }
                Ok(Conn::H2(h2_handshake(s, self.uri()).await?))
            }
            (_, None) => Err(io::Error::other("a TLS target needs a certificate")),
        }
    }

    fn uri(&self) -> http::Uri {
        let scheme = if self.target.tls() { "https" } else { "http" };
        // A socket address and a fixed path always make a valid URI.
        format!("{scheme}://{}/echo", self.addr)
            .parse()
            .expect("a socket address makes a valid authority")
    }
}

/// An HTTP/2 client connection: the request handle and the URI to POST to.
pub struct H2 {
    send: h2::client::SendRequest<Bytes>,
    uri: http::Uri,
}

/// A connected, well-behaved client.
pub enum Conn {
    /// Echo over TCP.
    Tcp(TcpStream),
    /// Echo over TLS.
    Tls(Box<TlsStream<TcpStream>>),
    /// HTTP/2 (cleartext or TLS): one `POST /echo` stream per request.
    H2(H2),
}

async fn h2_handshake<T>(io: T, uri: http::Uri) -> io::Result<H2>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = h2::client::handshake(io).await.map_err(h2_err)?;
    // The connection's frames are read and written by this task; it ends
    // when the connection does (every request then fails).
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(H2 { send, uri })
}

fn h2_err(e: h2::Error) -> io::Error {
    io::Error::other(format!("h2: {e}"))
}

impl Conn {
    /// One request: `msg` out, the same bytes back (checked).
    pub async fn request(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut back = vec![0; msg.len()];
        match self {
            Conn::Tcp(s) => {
                s.write_all(msg).await?;
                s.read_exact(&mut back).await?;
            }
            Conn::Tls(s) => {
                s.write_all(msg).await?;
                s.flush().await?;
                s.read_exact(&mut back).await?;
            }
            Conn::H2(h) => back = h2_echo(h, msg).await?,
        }
        if back != msg {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the echo differs from the request",
            ));
        }
        Ok(())
    }
}

async fn h2_echo(h: &mut H2, msg: &[u8]) -> io::Result<Vec<u8>> {
    let req = http::Request::post(h.uri.clone())
        .body(())
        .map_err(io::Error::other)?;
    let mut send = h.send.clone().ready().await.map_err(h2_err)?;
    let (resp, mut body_tx) = send.send_request(req, false).map_err(h2_err)?;
    body_tx
        .send_data(Bytes::copy_from_slice(msg), true)
        .map_err(h2_err)?;
    let resp = resp.await.map_err(h2_err)?;
    if resp.status() != http::StatusCode::OK {
        return Err(io::Error::other(format!("status {}", resp.status())));
    }
    let mut body = resp.into_body();
    let mut got = Vec::with_capacity(msg.len());
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(h2_err)?;
        got.extend_from_slice(&chunk);
        let _ = body.flow_control().release_capacity(chunk.len());
        if got.len() > msg.len() {
            break;
        }
    }
    Ok(got)
}

/// What one good connection did over the window.
#[derive(Debug, Default)]
pub struct ConnResult {
    /// Send-to-answer time of every request that succeeded, in µs.
    pub latencies: Vec<u32>,
    /// How late each request was sent against its schedule, in µs: the
    /// load generator's own delay (a busy machine, a slow answer before).
    pub lags: Vec<u32>,
    /// Requests scheduled but not answered correctly (the failed one and
    /// every one after it: a connection is not reopened).
    pub errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

/// Runs connection `id`'s schedule: `reqs` requests, the `k`-th sent at
/// `start + offset + k s` (or at once when the previous answer came
/// later), each bounded by `timeout`.
pub async fn run(
    mut conn: Conn,
    id: usize,
    start: Instant,
    offset: Duration,
    reqs: u64,
    size: usize,
    timeout: Duration,
) -> ConnResult {
    let mut r = ConnResult {
        latencies: Vec::with_capacity(reqs as usize),
        lags: Vec::with_capacity(reqs as usize),
        ..ConnResult::default()
    };
    for k in 0..reqs {
        let at = after(after(start, offset), Duration::from_secs(k));
        tokio::time::sleep_until(at.into()).await;
        let msg = message(id, k, size);
        let t0 = Instant::now();
        r.lags.push(micros(t0.saturating_duration_since(at)));
        let outcome = match tokio::time::timeout(timeout, conn.request(&msg)).await {
            Ok(Ok(())) => Ok(t0.elapsed()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        };
        match outcome {
            Ok(d) => r.latencies.push(micros(d)),
            Err(e) => {
                r.errors = reqs - k;
                r.first_error = Some(format!("conn {id} request {k}: {e}"));
                break;
            }
        }
    }
    r
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// The client configuration: ring, trusting only the PEM certificate in
/// `cert`; ALPN `h2` alone when `h2`.
fn client_config(cert: &Path, h2: bool) -> io::Result<Arc<rustls::ClientConfig>> {
    let pem = fs::read(cert)?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|e| io::Error::other(format!("{}: {e}", cert.display())))?;
        roots.add(c).map_err(io::Error::other)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if h2 {
        cfg.alpn_protocols = vec![b"h2".to_vec()];
    }
    Ok(Arc::new(cfg))
}
