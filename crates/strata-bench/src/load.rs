//! The load generator: a tokio client in its own process, on a
//! current-thread runtime: the server under test shares the machine's two
//! cores, and one thread without the multi-thread scheduler's cross-thread
//! wake-ups is the cheapest client tokio offers (the client, not the
//! server, is often the bottleneck on two cores).
//!
//! It speaks a small line protocol on stdout that the orchestrator reads:
//! `START` when the measured phase begins, then `RESULT key=value ...`; the
//! idle load prints `READY conns=N` instead and holds its sockets until stdin
//! closes. Any failure is an error exit with the reason on stderr.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Pattern period of the bulk payload: a prime, so chunk boundaries never
/// line up with it and a misplaced chunk is caught.
const PATTERN_PERIOD: usize = 251;
/// Size of one bulk write and of the bulk reader's buffer.
pub(crate) const BULK_CHUNK: usize = 64 * 1024;
/// Connections the idle load opens at once.
pub(crate) const IDLE_CONCURRENCY: usize = 64;

/// Whether a load runs over TLS, and the certificate it trusts.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TlsArgs {
    /// Speak TLS (tokio-rustls, ring provider) to the server.
    #[arg(long, requires = "cert")]
    pub tls: bool,
    /// The PEM certificate the TLS client trusts (the server's, self-signed).
    #[arg(long, requires = "tls")]
    pub cert: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS client to load with, or `None` for plain TCP.
    fn client(&self, resume: bool) -> io::Result<Option<crate::tls::Client>> {
        match (self.tls, &self.cert) {
            (true, Some(cert)) => crate::tls::Client::new(cert, resume).map(Some),
            (true, None) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--tls needs --cert",
            )),
            (false, _) => Ok(None),
        }
    }
}

/// One load to run.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Load {
    /// Many connections, each sending a message and waiting for its echo.
    Pingpong {
        /// Server address.
        #[arg(long)]
        addr: SocketAddr,
        /// Concurrent connections.
        #[arg(long, default_value_t = 50)]
        conns: usize,
        /// Message size in bytes.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Measured duration in seconds.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// One connection sending a large payload while reading the echo.
    Bulk {
        /// Server address.
        #[arg(long)]
        addr: SocketAddr,
        /// Bytes to send (default 1 GiB; 256 MiB over TLS).
        #[arg(long)]
        bytes: Option<u64>,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Parallel loops of connect, 1-byte echo, close.
    Cps {
        /// Server address.
        #[arg(long)]
        addr: SocketAddr,
        /// Parallel loops.
        #[arg(long, default_value_t = 8)]
        parallel: usize,
        /// Measured duration in seconds.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// Opens many connections, echoes one byte on each, then holds them.
    Idle {
        /// Server address.
        #[arg(long)]
        addr: SocketAddr,
        /// Connections to open and hold.
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Parallel loops of connect, TLS handshake, 1-byte echo, close
    /// (needs `--tls`).
    Handshakes {
        /// Server address.
        #[arg(long)]
        addr: SocketAddr,
        /// Parallel loops.
        #[arg(long, default_value_t = 8)]
        parallel: usize,
        /// Measured duration in seconds.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        /// Keep the client's session store, so TLS 1.3 resumes sessions.
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        tls: TlsArgs,
    },
}

/// Runs a load to completion on a current-thread runtime.
pub fn run(load: Load) -> io::Result<()> {
    crate::sys::raise_nofile_limit()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match load {
        Load::Pingpong {
            addr,
            conns,
            size,
            secs,
            tls,
        } => {
            let dur = secs_to_duration(secs)?;
            match tls.client(false)? {
                Some(c) => rt.block_on(crate::tls_load::pingpong(c, addr, conns, size, dur)),
                None => rt.block_on(pingpong(addr, conns, size, dur)),
            }
        }
        Load::Bulk { addr, bytes, tls } => match tls.client(false)? {
            Some(c) => rt.block_on(crate::tls_load::bulk(c, addr, bytes.unwrap_or(256 << 20))),
            None => rt.block_on(bulk(addr, bytes.unwrap_or(1 << 30))),
        },
        Load::Cps {
            addr,
            parallel,
            secs,
        } => rt.block_on(cps(addr, parallel, secs_to_duration(secs)?)),
        Load::Handshakes {
            addr,
            parallel,
            secs,
            resume,
            tls,
        } => {
            let dur = secs_to_duration(secs)?;
            let Some(c) = tls.client(resume)? else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "handshakes measures TLS: pass --tls --cert",
                ));
            };
            rt.block_on(crate::tls_load::handshakes(c, addr, parallel, dur))
        }
        Load::Idle { addr, conns, tls } => match tls.client(false)? {
            Some(c) => {
                let held = rt.block_on(crate::tls_load::idle_open(c, addr, conns))?;
                hold(held.len())
            }
            None => {
                let held = rt.block_on(idle_open(addr, conns))?;
                hold(held.len())
            }
        },
    }
}

/// Reports `n` connections ready and holds them until the orchestrator
/// closes our stdin (the caller drops them after).
fn hold(n: usize) -> io::Result<()> {
    say(&format!("READY conns={n}"))?;
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}

pub(crate) fn secs_to_duration(secs: f64) -> io::Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("--secs: {e}")))
}

/// Prints one protocol line and flushes it at once.
pub(crate) fn say(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

pub(crate) fn mismatch(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: echo differs"))
}

async fn pingpong(addr: SocketAddr, conns: usize, size: usize, dur: Duration) -> io::Result<()> {
    let mut socks = Vec::with_capacity(conns);
    for _ in 0..conns {
        socks.push(connect(addr).await?);
    }
    // Warm up: one round trip each, so every server has set its state up.
    for (i, s) in socks.iter_mut().enumerate() {
        round_trip(s, &message(i, size), &mut vec![0; size]).await?;
    }
    say("START")?;
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut s) in socks.into_iter().enumerate() {
        tasks.spawn(async move {
            let msg = message(i, size);
            let mut buf = vec![0; size];
            let mut n = 0u64;
            while Instant::now() < deadline {
                round_trip(&mut s, &msg, &mut buf).await?;
                n += 1;
            }
            io::Result::Ok(n)
        });
    }
    let mut total = 0u64;
    while let Some(r) = tasks.join_next().await {
        total += r.map_err(io::Error::other)??;
    }
    let secs = start.elapsed().as_secs_f64();
    say(&format!(
        "RESULT msgs={total} secs={secs:.6} rate={:.1}",
        total as f64 / secs
    ))
}

/// A message that differs per connection, so crossed echoes are caught.
pub(crate) fn message(conn: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| (conn + j) as u8).collect()
}

/// Writes `msg`, flushes (a no-op on TCP; a TLS stream may hold records),
/// and reads the echo into `buf`, which must be as long.
pub(crate) async fn round_trip<S>(s: &mut S, msg: &[u8], buf: &mut [u8]) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    s.write_all(msg).await?;
    s.flush().await?;
    s.read_exact(buf).await?;
    if buf != msg {
        return Err(mismatch("pingpong"));
    }
    Ok(())
}

/// The bulk payload: byte `i` of the stream is `i % PATTERN_PERIOD`. The
/// returned buffer is one chunk plus one period long, so any offset's slice
/// of `BULK_CHUNK` bytes is `&pattern[off % PATTERN_PERIOD..][..len]`.
pub(crate) fn pattern() -> Vec<u8> {
    (0..BULK_CHUNK + PATTERN_PERIOD)
        .map(|i| (i % PATTERN_PERIOD) as u8)
        .collect()
}

pub(crate) fn pattern_at(p: &[u8], offset: u64, len: usize) -> &[u8] {
    let start = (offset % PATTERN_PERIOD as u64) as usize;
    &p[start..start + len]
}

async fn bulk(addr: SocketAddr, bytes: u64) -> io::Result<()> {
    let sock = connect(addr).await?;
    let (mut rd, mut wr) = sock.into_split();
    let p = Arc::new(pattern());
    say("START")?;
    let start = Instant::now();
    let wp = p.clone();
    let writer = tokio::spawn(async move {
        let mut sent = 0u64;
        while sent < bytes {
            let len = (bytes - sent).min(BULK_CHUNK as u64) as usize;
            wr.write_all(pattern_at(&wp, sent, len)).await?;
            sent += len as u64;
        }
        // No half-close here: Twisted's textbook echo treats EOF as the end
        // of the connection and drops the echo it still buffers. The
        // connection closes once everything came back.
        io::Result::Ok(wr)
    });
    let mut buf = vec![0u8; BULK_CHUNK];
    let mut got = 0u64;
    while got < bytes {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("bulk: echo ended after {got} of {bytes} bytes"),
            ));
        }
        if buf[..n] != *pattern_at(&p, got, n) {
            return Err(mismatch("bulk"));
        }
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let wr = writer.await.map_err(io::Error::other)??;
    drop(wr.reunite(rd).map_err(io::Error::other)?);
    say(&format!(
        "RESULT bytes={bytes} secs={secs:.6} rate={:.1}",
        bytes as f64 / 1e6 / secs
    ))
}

async fn cps(addr: SocketAddr, parallel: usize, dur: Duration) -> io::Result<()> {
    say("START")?;
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        tasks.spawn(async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            while Instant::now() < deadline {
                match one_connection(addr).await {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        failed += 1;
                        if failed <= 3 {
                            eprintln!("cps: {e}");
                        }
                    }
                }
            }
            (ok, failed)
        });
    }
    let (mut ok, mut failed) = (0u64, 0u64);
    while let Some(r) = tasks.join_next().await {
        let (o, f) = r.map_err(io::Error::other)?;
        ok += o;
        failed += f;
    }
    let secs = start.elapsed().as_secs_f64();
    // A run where connections fail measures the failure, not the server.
    if failed * 100 > ok {
        return Err(io::Error::other(format!(
            "cps: {failed} of {} connections failed",
            ok + failed
        )));
    }
    say(&format!(
        "RESULT conns={ok} failed={failed} secs={secs:.6} rate={:.1}",
        ok as f64 / secs
    ))
}

async fn one_connection(addr: SocketAddr) -> io::Result<()> {
    let mut s = connect(addr).await?;
    s.write_all(&[7]).await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    if b != [7] {
        return Err(mismatch("cps"));
    }
    Ok(())
}

async fn idle_open(addr: SocketAddr, conns: usize) -> io::Result<Vec<TcpStream>> {
    let next = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::with_capacity(conns)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IDLE_CONCURRENCY.min(conns) {
        let (next, held) = (next.clone(), held.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < conns {
                let mut s = TcpStream::connect(addr).await?;
                s.write_all(&[1]).await?;
                let mut b = [0u8; 1];
                s.read_exact(&mut b).await?;
                if b != [1] {
                    return Err(mismatch("idle"));
                }
                // The lock is never held across an await, so it cannot be poisoned
                // by a cancelled task; a poisoned one still holds valid sockets.
                held.lock().unwrap_or_else(|e| e.into_inner()).push(s);
            }
            io::Result::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(io::Error::other)??;
    }
    let held = std::mem::take(&mut *held.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_slices_continue_across_chunks() {
        let p = pattern();
        let a = pattern_at(&p, 0, BULK_CHUNK);
        let b = pattern_at(&p, BULK_CHUNK as u64, 10);
        assert_eq!(a[250], 250);
        assert_eq!(a[251], 0);
        assert_eq!(b[0], (BULK_CHUNK % PATTERN_PERIOD) as u8);
        // Continuity: the byte after `a` in the stream is `b[0]`.
        assert_eq!(
            (a[BULK_CHUNK - 1] as usize + 1) % PATTERN_PERIOD,
            b[0] as usize
        );
    }

    #[test]
    fn messages_differ_per_connection() {
        assert_ne!(message(0, 64), message(1, 64));
        assert_eq!(message(3, 64).len(), 64);
    }
}
