//! The echo servers under test, one process each: strata's driver, the
//! common raw-tokio idiom, and a bare tokio task per socket (the memory
//! floor). Each prints `LISTENING <addr>` and serves until stdin closes.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::tls::anchor_server_config;

/// Which echo server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerKind {
    /// `strata_tokio::Server` driving the [`Echo`](crate::echo::Echo) protocol.
    Strata,
    /// Raw tokio, written well: TCP_NODELAY, a 64 KiB buffer per
    /// connection, `read` then `write_all`.
    Tokio,
    /// A task that only holds the socket and awaits `readable()`, echoing
    /// through a small stack buffer: what a connection costs at the least.
    TokioBare,
    /// `strata_tokio::Server` driving `Tls<Echo>` (needs `--cert`, `--key`).
    StrataTls,
    /// The raw tokio echo behind `tokio_rustls::TlsAcceptor` (needs
    /// `--cert`, `--key`).
    TokioRustls,
}

impl ServerKind {
    /// True for the kinds that serve TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, ServerKind::StrataTls | ServerKind::TokioRustls)
    }
}

/// The PEM certificate and key a TLS server presents.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
    /// Read buffer of each tokio-rustls connection, in bytes.
    pub read_buf: usize,
}

/// Read buffer of the raw tokio anchor, per connection (the common idiom).
const TOKIO_BUF: usize = 64 * 1024;
/// Stack buffer of the bare anchor: small, so the idle task stays small.
const BARE_BUF: usize = 128;

/// Runs one server until stdin closes (or the process is killed). The TLS
/// kinds need `identity`, the others refuse one.
pub fn serve(
    kind: ServerKind,
    addr: SocketAddr,
    workers: usize,
    identity: Option<Identity>,
) -> io::Result<()> {
    let identity = match (kind.is_tls(), identity) {
        (true, Some(id)) => Some(id),
        (false, None) => None,
        (true, None) => return Err(invalid("TLS servers need --cert and --key")),
        (false, Some(_)) => return Err(invalid("--cert and --key are for TLS servers")),
    };
    let fd_limit = crate::sys::raise_nofile_limit()?;
    let cap = usize::try_from(fd_limit).unwrap_or(usize::MAX);
    let rt = runtime(workers)?;
    rt.block_on(async move {
        // Held until we stop: the strata server's handle.
        let mut _strata = None;
        let local = match kind {
            ServerKind::Strata => {
                let (server, local) = crate::strata_server::listen(addr, cap).await?;
                _strata = Some(server);
                local
            }
            ServerKind::Tokio => spawn_accept_loop(addr, tokio_echo).await?,
            ServerKind::TokioBare => spawn_accept_loop(addr, bare_echo).await?,
            ServerKind::StrataTls | ServerKind::TokioRustls => {
                // Invariant: checked above, a TLS kind has an identity.
                let Some(id) = identity else {
                    return Err(invalid("TLS servers need --cert and --key"));
                };
                if kind == ServerKind::StrataTls {
                    let (server, local) =
                        crate::tls::listen_strata(addr, cap, &id.cert, &id.key).await?;
                    _strata = Some(server);
                    local
                } else {
                    spawn_anchor(addr, &id.cert, &id.key, id.read_buf).await?
                }
            }
        };
        announce(local)?;
        wait_for_stdin_eof().await
    })
}

/// A current-thread runtime for one worker, else a multi-thread one with
/// `workers` threads; the strata server and the anchors use the same.
pub fn runtime(workers: usize) -> io::Result<tokio::runtime::Runtime> {
    if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

fn announce(local: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "LISTENING {local}")?;
    out.flush()
}

/// Resolves when stdin reaches EOF: the orchestrator closes it to stop us.
async fn wait_for_stdin_eof() -> io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            // Any error counts as closed: we stop either way.
            let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
            let _ = tx.send(());
        })?;
    let _ = rx.await;
    Ok(())
}

pub(crate) async fn spawn_accept_loop<F, Fut>(addr: SocketAddr, conn: F) -> io::Result<SocketAddr>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((sock, _)) => {
                    if let Err(e) = sock.set_nodelay(true) {
                        eprintln!("set_nodelay: {e}");
                    }
                    tokio::spawn(conn(sock));
                }
                // Out of fds or a connection reset before accept: keep serving.
                Err(e) => {
                    eprintln!("accept: {e}");
                    tokio::task::yield_now().await;
                }
            }
        }
    });
    Ok(local)
}

/// Starts the tokio-rustls anchor: the raw tokio echo behind a
/// `TlsAcceptor`; returns the bound address.
pub async fn spawn_anchor(
    addr: SocketAddr,
    cert: &Path,
    key: &Path,
    read_buf: usize,
) -> io::Result<SocketAddr> {
    if read_buf == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--read-buf must be at least 1",
        ));
    }
    let acceptor = TlsAcceptor::from(anchor_server_config(cert, key)?);
    spawn_accept_loop(addr, move |sock| {
        let acceptor = acceptor.clone();
        async move { anchor_echo(acceptor.accept(sock).await?, read_buf).await }
    })
    .await
}

/// The anchor's connection: the raw tokio idiom (`read` then `write_all`
/// with a `read_buf`-byte buffer), plus the `flush` a TLS stream needs,
/// and a `close_notify` back on the peer's.
async fn anchor_echo(
    mut s: tokio_rustls::server::TlsStream<TcpStream>,
    read_buf: usize,
) -> io::Result<()> {
    let mut buf = vec![0u8; read_buf];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return s.shutdown().await;
        }
        s.write_all(&buf[..n]).await?;
        s.flush().await?;
    }
}

/// The raw tokio anchor: the idiom most tokio servers are written in.
async fn tokio_echo(mut sock: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; TOKIO_BUF];
    loop {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        sock.write_all(&buf[..n]).await?;
    }
}

/// The bare anchor: no buffer while idle, a small one on the stack on data.
async fn bare_echo(sock: TcpStream) -> io::Result<()> {
    loop {
        sock.readable().await?;
        let mut buf = [0u8; BARE_BUF];
        let n = match sock.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut done = 0;
        while done < n {
            match sock.try_write(&buf[done..n]) {
                Ok(w) => done += w,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => sock.writable().await?,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(local: SocketAddr) -> Vec<u8> {
        let mut c = TcpStream::connect(local).await.unwrap();
        let msg: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        c.write_all(&msg).await.unwrap();
        c.shutdown().await.unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, msg);
        back
    }

    #[tokio::test]
    async fn tokio_anchor_echoes_until_eof() {
        let local = spawn_accept_loop("127.0.0.1:0".parse().unwrap(), tokio_echo)
            .await
            .unwrap();
        assert_eq!(round_trip(local).await.len(), 3000);
    }

    #[tokio::test]
    async fn strata_server_echoes_until_eof() {
        let (_server, local) = crate::strata_server::listen("127.0.0.1:0".parse().unwrap(), 16)
            .await
            .unwrap();
        assert_eq!(round_trip(local).await.len(), 3000);
    }

    #[tokio::test]
    async fn bare_anchor_echoes_more_than_its_buffer_until_eof() {
        let local = spawn_accept_loop("127.0.0.1:0".parse().unwrap(), bare_echo)
            .await
            .unwrap();
        assert_eq!(round_trip(local).await.len(), 3000);
    }

    use crate::tls::{listen_strata, CertFiles, Client, RECORD_PLAINTEXT};

    async fn tls_round_trip(files: &CertFiles, local: SocketAddr) {
        let client = Client::new(&files.cert, false).unwrap();
        let mut c = client.connect(local).await.unwrap();
        let msg: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
        c.write_all(&msg).await.unwrap();
        c.shutdown().await.unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, msg);
    }

    #[tokio::test]
    async fn both_servers_echo_over_tls_with_the_same_certificate() {
        let files = CertFiles::generate(&std::env::temp_dir(), "unit-both").unwrap();
        let any = "127.0.0.1:0".parse().unwrap();
        let (_server, strata) = listen_strata(any, 16, &files.cert, &files.key)
            .await
            .unwrap();
        let anchor = spawn_anchor(any, &files.cert, &files.key, 100)
            .await
            .unwrap();
        tls_round_trip(&files, strata).await;
        tls_round_trip(&files, anchor).await;
    }

    #[test]
    fn a_client_rejects_a_certificate_it_was_not_given() {
        let dir = std::env::temp_dir();
        let (a, b) = (
            CertFiles::generate(&dir, "unit-a").unwrap(),
            CertFiles::generate(&dir, "unit-b").unwrap(),
        );
        let rt = runtime(1).unwrap();
        rt.block_on(async {
            let any = "127.0.0.1:0".parse().unwrap();
            let anchor = spawn_anchor(any, &a.cert, &a.key, RECORD_PLAINTEXT)
                .await
                .unwrap();
            let client = Client::new(&b.cert, true).unwrap();
            assert!(client.connect(anchor).await.is_err());
        });
    }
}
