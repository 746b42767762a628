//! `hyper_h2`: the hyper anchor of the HTTP benchmarks (`scripts/bench-http`).
//!
//! A hyper 1.x server written the way hyper's own guides recommend, serving
//! the routes the benchmarks use with the same bodies as strata's demo app
//! (`strata serve --app http`):
//!
//! * `GET /hello` (and `GET /`): `hello, world\n`, 13 bytes, `text/plain`;
//! * `GET /bytes/N` (`N` ≤ 2^40): `N` bytes of the demo's repeating
//!   pattern, streamed as 64 KiB frames that are slices of one static buffer
//!   (no copy, no allocation per frame), with `content-length: N`;
//! * `/sink` (any method): reads the request body frame by frame and drops
//!   it, then answers `200` with an empty body (`content-length: 0`), as
//!   the demo's `/sink` does (the upload benchmark).
//!
//! ```text
//! hyper_h2 --listen 127.0.0.1:PORT [--workers N] [--tls-cert F --tls-key F]
//! hyper_h2 --write-cert DIR      # a self-signed cert.pem / key.pem, then exit
//! ```
//!
//! Cleartext connections speak HTTP/1.1 or HTTP/2 (prior knowledge, "h2c"),
//! chosen per connection by `hyper_util::server::conn::auto`; TLS ones
//! (tokio-rustls on ring, TLS 1.2 and 1.3) by ALPN (`h2`, else HTTP/1.1).
//! Every socket gets TCP_NODELAY. The tokio runtime is multi-threaded with
//! `--workers` threads (default 1, as the benchmarks give strata's driver
//! the same count). Prints `ready <addr>` on stdout once listening; exits on
//! SIGINT or SIGTERM.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use clap::Parser;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Bytes per DATA frame of `/bytes/N`.
const CHUNK: usize = 64 * 1024;
/// The largest `N` of `/bytes/N`, as in strata's demo: 1 TiB.
const MAX_BYTES: u64 = 1 << 40;
/// The body of `/hello`.
const HELLO: &[u8] = b"hello, world\n";
/// The characters `/bytes/N` repeats, as in strata's demo app.
const ALPHABET: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";
static PATTERN: [u8; CHUNK] = pattern();

const fn pattern() -> [u8; CHUNK] {
    let mut p = [0u8; CHUNK];
    let mut i = 0;
    while i < CHUNK {
        p[i] = ALPHABET[i % ALPHABET.len()];
        i += 1;
    }
    p
}

/// The hyper anchor of the HTTP benchmarks.
#[derive(Debug, Parser)]
#[command(name = "hyper_h2", version)]
struct Args {
    /// Address to listen on (port 0 picks one; `ready` tells which).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Worker threads of the multi-thread tokio runtime.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// PEM certificate chain: serve TLS (with ALPN h2, http/1.1).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Write a self-signed ECDSA certificate for localhost, 127.0.0.1 and
    /// ::1 to DIR/cert.pem and its key to DIR/key.pem, then exit.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["tls_cert", "tls_key"])]
    write_cert: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.write_cert {
        Some(dir) => write_cert(dir),
        None => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyper_h2: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsAcceptor::from(server_config(cert, key)?)),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    rt.block_on(serve(args.listen, tls))
}

async fn serve(addr: SocketAddr, tls: Option<TlsAcceptor>) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "ready {local}")?;
        out.flush()?;
    }
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let sock = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => sock,
                // Out of fds, or a connection reset before accept: keep serving.
                Err(e) => {
                    eprintln!("hyper_h2: accept: {e}");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
        };
        if let Err(e) = sock.set_nodelay(true) {
            eprintln!("hyper_h2: set_nodelay: {e}");
        }
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => builder
                    .serve_connection(TokioIo::new(sock), service_fn(handle))
                    .await
                    .map_err(|e| e.to_string()),
                Some(acceptor) => serve_tls(acceptor, sock).await,
            };
            // Clients that drop connections mid-request are normal under load.
            if let Err(e) = served
                && std::env::var_os("HYPER_H2_DEBUG").is_some()
            {
                eprintln!("hyper_h2: connection: {e}");
            }
        });
    }
}

/// A TLS connection: the handshake, then HTTP/2 if ALPN chose `h2`, else
/// HTTP/1.1.
async fn serve_tls(acceptor: TlsAcceptor, sock: TcpStream) -> Result<(), String> {
    let stream = acceptor.accept(sock).await.map_err(|e| e.to_string())?;
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(stream);
    if h2 {
        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service_fn(handle))
            .await
    } else {
        hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service_fn(handle))
            .await
    }
    .map_err(|e| e.to_string())
}

type Reply = Response<Either<Full<Bytes>, PatternBody>>;

async fn handle(req: Request<Incoming>) -> Result<Reply, Infallible> {
    if req.uri().path() == "/sink" {
        return Ok(sink(req.into_body()).await);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, b"405 Method Not Allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let path = req.uri().path();
    if path == "/" || path == "/hello" {
        return Ok(text(StatusCode::OK, HELLO));
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        let n = (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse::<u64>().ok())
            .flatten()
            .filter(|&n| n <= MAX_BYTES);
        return Ok(match n {
            Some(n) => {
                let mut r = Response::new(Either::Right(PatternBody { remaining: n }));
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                r
            }
            None => text(StatusCode::BAD_REQUEST, b"400 Bad Request\n"),
        });
    }
    Ok(text(StatusCode::NOT_FOUND, b"404 Not Found\n"))
}

/// `/sink`: every frame of the body read and dropped, then an empty `200`;
/// a body that fails (the client reset the stream) answers `400`.
async fn sink(mut body: Incoming) -> Reply {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            return text(StatusCode::BAD_REQUEST, b"400 Bad Request\n");
        }
    }
    let mut r = Response::new(Either::Left(Full::new(Bytes::new())));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0u32));
    r
}

fn text(status: StatusCode, body: &'static [u8]) -> Reply {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from_static(body))));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// `/bytes/N`: frames of at most [`CHUNK`] bytes, each a slice of
/// [`PATTERN`]; hyper polls for the next one only when the connection (and,
/// on HTTP/2, the stream's flow-control window) has room.
#[derive(Debug)]
struct PatternBody {
    remaining: u64,
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let len = usize::try_from(self.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        self.remaining -= len as u64;
        // `len` ≤ CHUNK, the length of PATTERN.
        let data = Bytes::from_static(&PATTERN[..len]);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// ring, TLS 1.3 and 1.2, no client authentication, ALPN `h2` then
/// `http/1.1`, session tickets as strata's listener has them.
fn server_config(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let bad = |path: &Path, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(cert, &e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| bad(key, &e))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    cfg.ticketer = rustls::crypto::ring::Ticketer::new().map_err(io::Error::other)?;
    Ok(Arc::new(cfg))
}

fn write_cert(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let names = strata_tokio::SELF_SIGNED_NAMES.map(String::from).to_vec();
    let made = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
    Ok(())
}
