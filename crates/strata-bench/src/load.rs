//! The load generator: a tokio client in its own process, on a
//! current-thread runtime: the server under test shares the machine's two
//! cores, and one thread without the multi-thread scheduler's cross-thread
//! wake-ups is the cheapest client tokio offers (the client, not the
//! server, is often the bottleneck on two cores).
//!
//! Every load is written once, generic over a [`Transport`]: plain TCP
//! ([`Tcp`], here) or TLS over TCP (`tls_load`, a transport choice made by
//! `--tls`). The hot loops are the same code for both, monomorphized.
//!
//! It speaks a small line protocol on stdout that the orchestrator reads:
//! `START` when the measured phase begins, then `RESULT key=value ...`; the
//! idle load prints `READY conns=N` instead and holds its sockets until stdin
//! closes. Any failure is an error exit with the reason on stderr.

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::tls::Client;

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
    fn client(&self, resume: bool) -> io::Result<Option<Client>> {
        match (self.tls, &self.cert) {
            (true, Some(cert)) => Client::new(cert, resume).map(Some),
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
    /// Opens many HTTP/2 connections (cleartext with prior knowledge, or
    /// TLS with ALPN `h2`), completes each one's preface and SETTINGS
    /// exchange, then holds them idle: what an idle HTTP/2 connection costs
    /// the server, whichever server it is.
    H2Idle {
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

/// What a load connects with. The loads are written once against it; TCP
/// is [`Tcp`], TLS over TCP is `tls::Client` (in `tls_load`).
pub(crate) trait Transport: Clone + Send + Sync + 'static {
    /// A connected stream (handshake done).
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The half a bulk load reads.
    type Reader: AsyncRead + Unpin + Send + 'static;
    /// The half a bulk load writes, from its own task.
    type Writer: AsyncWrite + Unpin + Send + 'static;
    /// Names the transport in error messages (`"tls "`, or nothing).
    const PREFIX: &'static str;
    /// Whether a connection has a handshake whose kind is counted
    /// (full or resumed) by [`connections`].
    const HANDSHAKES: bool;

    /// Connects (no Nagle) and completes any handshake.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Splits a stream into halves that run concurrently.
    fn split(s: Self::Stream) -> (Self::Reader, Self::Writer);
    /// Ends a split stream once the measurement is taken.
    fn finish(r: Self::Reader, w: Self::Writer) -> impl Future<Output = io::Result<()>> + Send;
    /// Whether the stream's handshake resumed a session (`false` when it
    /// has none); an error when it should have a kind and has none.
    fn resumed(s: &Self::Stream) -> io::Result<bool>;
    /// Ends one connection of a connection loop, as the peer expects.
    fn close(s: Self::Stream) -> impl Future<Output = io::Result<()>> + Send;
}

/// Plain TCP.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tcp;

impl Transport for Tcp {
    type Stream = TcpStream;
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;
    const PREFIX: &'static str = "";
    const HANDSHAKES: bool = false;

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }
    fn split(s: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
        s.into_split()
    }
    async fn finish(r: OwnedReadHalf, w: OwnedWriteHalf) -> io::Result<()> {
        drop(w.reunite(r).map_err(io::Error::other)?);
        Ok(())
    }
    fn resumed(_: &TcpStream) -> io::Result<bool> {
        Ok(false)
    }
    async fn close(s: TcpStream) -> io::Result<()> {
        drop(s);
        Ok(())
    }
}

/// Runs a load to completion on a current-thread runtime, over TCP or TLS.
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
                Some(c) => rt.block_on(pingpong(c, addr, conns, size, dur)),
                None => rt.block_on(pingpong(Tcp, addr, conns, size, dur)),
            }
        }
        Load::Bulk { addr, bytes, tls } => match tls.client(false)? {
            Some(c) => rt.block_on(bulk(c, addr, bytes.unwrap_or(256 << 20))),
            None => rt.block_on(bulk(Tcp, addr, bytes.unwrap_or(1 << 30))),
        },
        Load::Cps {
            addr,
            parallel,
            secs,
        } => rt.block_on(connections(Tcp, addr, parallel, secs_to_duration(secs)?)),
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
            rt.block_on(connections(c, addr, parallel, dur))
        }
        Load::H2Idle { addr, conns, tls } => {
            let held = match (tls.tls, &tls.cert) {
                (true, Some(cert)) => rt
                    .block_on(idle_open_with(
                        crate::tls::Client::h2(cert)?,
                        addr,
                        conns,
                        Greeting::H2,
                    ))?
                    .len(),
                (true, None) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "--tls needs --cert",
                    ))
                }
                (false, _) => rt
                    .block_on(idle_open_with(Tcp, addr, conns, Greeting::H2))?
                    .len(),
            };
            hold(held)
        }
        Load::Idle { addr, conns, tls } => match tls.client(false)? {
            Some(c) => {
                let held = rt.block_on(idle_open(c, addr, conns))?;
                hold(held.len())
            }
            None => {
                let held = rt.block_on(idle_open(Tcp, addr, conns))?;
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

pub(crate) fn mismatch(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: echo differs"))
}

/// Many connections, each sending a message and waiting for its echo;
/// every connection is set up (handshake and one round trip) before the
/// measured phase.
async fn pingpong<T: Transport>(
    t: T,
    addr: SocketAddr,
    conns: usize,
    size: usize,
    dur: Duration,
) -> io::Result<()> {
    let mut socks = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut s = t.connect(addr).await?;
        // Warm up: one round trip each, so every server has set its state up.
        round_trip(&mut s, &message(i, size), &mut vec![0; size]).await?;
        socks.push(s);
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

/// One connection sending a large payload while reading the echo: the
/// handshake happens before `START`; then one task writes the pattern
/// while this one reads and checks the echo.
async fn bulk<T: Transport>(t: T, addr: SocketAddr, bytes: u64) -> io::Result<()> {
    let (mut rd, mut wr) = T::split(t.connect(addr).await?);
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
        wr.flush().await?;
        // No half-close here: Twisted's textbook echo treats EOF as the end
        // of the connection and drops the echo it still buffers. The
        // connection closes once everything came back.
        io::Result::Ok(wr)
    });
    let what = format!("{}bulk", T::PREFIX);
    let mut buf = vec![0u8; BULK_CHUNK];
    let mut got = 0u64;
    while got < bytes {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{what}: echo ended after {got} of {bytes} bytes"),
            ));
        }
        if buf[..n] != *pattern_at(&p, got, n) {
            return Err(mismatch(&what));
        }
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let wr = writer.await.map_err(io::Error::other)??;
    // The measurement is already taken (a TLS close_notify is best effort).
    T::finish(rd, wr).await?;
    say(&format!(
        "RESULT bytes={bytes} secs={secs:.6} rate={:.1}",
        bytes as f64 / 1e6 / secs
    ))
}

/// What kinds of handshake a loop saw.
#[derive(Clone, Copy, Debug, Default)]
struct Kinds {
    full: u64,
    resumed: u64,
}

/// `parallel` loops of connect (and handshake), 1-byte echo, close, for
/// `dur`: connections per second (`cps` over TCP, `handshakes` over TLS,
/// which also counts full and resumed handshakes). A run where more than
/// 1% of the connections fail measures the failure, not the server.
async fn connections<T: Transport>(
    t: T,
    addr: SocketAddr,
    parallel: usize,
    dur: Duration,
) -> io::Result<()> {
    let what = if T::HANDSHAKES { "handshakes" } else { "cps" };
    say("START")?;
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let t = t.clone();
        tasks.spawn(async move {
            let (mut kinds, mut failed) = (Kinds::default(), 0u64);
            while Instant::now() < deadline {
                match one_connection(&t, addr, what).await {
                    Ok(true) => kinds.resumed += 1,
                    Ok(false) => kinds.full += 1,
                    Err(e) => {
                        failed += 1;
                        if failed <= 3 {
                            eprintln!("{what}: {e}");
                        }
                    }
                }
            }
            (kinds, failed)
        });
    }
    let (mut kinds, mut failed) = (Kinds::default(), 0u64);
    while let Some(r) = tasks.join_next().await {
        let (k, f) = r.map_err(io::Error::other)?;
        kinds.full += k.full;
        kinds.resumed += k.resumed;
        failed += f;
    }
    let secs = start.elapsed().as_secs_f64();
    let ok = kinds.full + kinds.resumed;
    if failed * 100 > ok {
        return Err(io::Error::other(format!(
            "{what}: {failed} of {} connections failed",
            ok + failed
        )));
    }
    let rate = ok as f64 / secs;
    if T::HANDSHAKES {
        say(&format!(
            "RESULT conns={ok} full={} resumed={} failed={failed} secs={secs:.6} rate={rate:.1}",
            kinds.full, kinds.resumed
        ))
    } else {
        say(&format!(
            "RESULT conns={ok} failed={failed} secs={secs:.6} rate={rate:.1}"
        ))
    }
}

/// One connection of a loop; whether its handshake resumed a session.
async fn one_connection<T: Transport>(t: &T, addr: SocketAddr, what: &str) -> io::Result<bool> {
    let mut s = t.connect(addr).await?;
    let resumed = T::resumed(&s)?;
    s.write_all(&[7]).await?;
    s.flush().await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    if b != [7] {
        return Err(mismatch(what));
    }
    T::close(s).await?;
    Ok(resumed)
}

/// Opens `conns` connections (each through any handshake and one 1-byte
/// echo), `IDLE_CONCURRENCY` at a time, and returns them to be held.
async fn idle_open<T: Transport>(
    t: T,
    addr: SocketAddr,
    conns: usize,
) -> io::Result<Vec<T::Stream>> {
    idle_open_with(t, addr, conns, Greeting::Echo).await
}

/// What an idle load does on each connection before holding it.
#[derive(Clone, Copy, Debug)]
enum Greeting {
    /// [`echo_one`].
    Echo,
    /// [`h2_hello`].
    H2,
}

/// The idle load's greeting: one byte, echoed.
async fn echo_one<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<()> {
    s.write_all(&[1]).await?;
    s.flush().await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    if b != [1] {
        return Err(mismatch("idle"));
    }
    Ok(())
}

/// The HTTP/2 idle load's greeting (RFC 9113 §3.4): the client preface and
/// an empty SETTINGS; then the server's first frame, which must be its
/// SETTINGS, is read whole and acknowledged. The connection is then open
/// and idle: no stream was opened.
async fn h2_hello<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<()> {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    const SETTINGS_ACK: [u8; 9] = [0, 0, 0, 4, 1, 0, 0, 0, 0];
    let mut hello = PREFACE.to_vec();
    hello.extend_from_slice(&SETTINGS);
    s.write_all(&hello).await?;
    s.flush().await?;
    let mut head = [0u8; 9];
    s.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    if head[3] != 4 || head[4] & 1 != 0 || len > 16_384 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("h2 idle: the server's first frame is not SETTINGS: {head:?}"),
        ));
    }
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await?;
    s.write_all(&SETTINGS_ACK).await?;
    s.flush().await
}

/// Opens `conns` connections, greets on each, and returns them held.
async fn idle_open_with<T: Transport>(
    t: T,
    addr: SocketAddr,
    conns: usize,
    greeting: Greeting,
) -> io::Result<Vec<T::Stream>> {
    let next = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::with_capacity(conns)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IDLE_CONCURRENCY.min(conns) {
        let (next, held, t) = (next.clone(), held.clone(), t.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < conns {
                let mut s = t.connect(addr).await?;
                match greeting {
                    Greeting::Echo => echo_one(&mut s).await?,
                    Greeting::H2 => h2_hello(&mut s).await?,
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
