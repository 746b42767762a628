//! The loads over TLS: the plain loads' shapes (and their line protocol) on
//! tokio-rustls client streams sharing one `Arc<ClientConfig>`, plus the
//! handshake load, which counts what kind of handshake each connection had
//! (so `--resume` is checked to have resumed).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::HandshakeKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::load::{
    message, mismatch, pattern, pattern_at, round_trip, say, BULK_CHUNK, IDLE_CONCURRENCY,
};
use crate::tls::{Client, ClientStream};

/// `pingpong` over TLS: every connection is set up (handshake and one round
/// trip) before the measured phase.
pub async fn pingpong(
    client: Client,
    addr: SocketAddr,
    conns: usize,
    size: usize,
    dur: Duration,
) -> io::Result<()> {
    let mut socks = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut s = client.connect(addr).await?;
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

/// `bulk` over TLS: the handshake happens before `START`; then one task
/// writes the pattern while this one reads and checks the echo.
pub async fn bulk(client: Client, addr: SocketAddr, bytes: u64) -> io::Result<()> {
    let stream = client.connect(addr).await?;
    let (mut rd, mut wr) = tokio::io::split(stream);
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
        io::Result::Ok(wr)
    });
    let mut buf = vec![0u8; BULK_CHUNK];
    let mut got = 0u64;
    while got < bytes {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("tls bulk: echo ended after {got} of {bytes} bytes"),
            ));
        }
        if buf[..n] != *pattern_at(&p, got, n) {
            return Err(mismatch("tls bulk"));
        }
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let wr = writer.await.map_err(io::Error::other)??;
    // A clean close_notify; the measurement is already taken.
    let _ = rd.unsplit(wr).shutdown().await;
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

/// `parallel` loops of connect, handshake, 1-byte echo, close_notify and
/// EOF, for `dur`: handshakes per second, with the count of full and
/// resumed handshakes the client saw.
pub async fn handshakes(
    client: Client,
    addr: SocketAddr,
    parallel: usize,
    dur: Duration,
) -> io::Result<()> {
    say("START")?;
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let client = client.clone();
        tasks.spawn(async move {
            let (mut kinds, mut failed) = (Kinds::default(), 0u64);
            while Instant::now() < deadline {
                match one_handshake(&client, addr).await {
                    Ok(HandshakeKind::Resumed) => kinds.resumed += 1,
                    Ok(_) => kinds.full += 1,
                    Err(e) => {
                        failed += 1;
                        if failed <= 3 {
                            eprintln!("handshakes: {e}");
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
            "handshakes: {failed} of {} connections failed",
            ok + failed
        )));
    }
    say(&format!(
        "RESULT conns={ok} full={} resumed={} failed={failed} secs={secs:.6} rate={:.1}",
        kinds.full,
        kinds.resumed,
        ok as f64 / secs
    ))
}

async fn one_handshake(client: &Client, addr: SocketAddr) -> io::Result<HandshakeKind> {
    let mut s = client.connect(addr).await?;
    let kind = s
        .get_ref()
        .1
        .handshake_kind()
        .ok_or_else(|| io::Error::other("handshake done but of no kind"))?;
    let mut b = [0u8; 1];
    round_trip(&mut s, &[7], &mut b).await?;
    s.shutdown().await?;
    // The server answers our close_notify with its own, then EOF.
    let mut rest = [0u8; 16];
    if s.read(&mut rest).await? != 0 {
        return Err(mismatch("handshakes: data after the echo"));
    }
    Ok(kind)
}

/// `idle` over TLS: `conns` connections, each through a handshake and one
/// 1-byte echo, returned to be held.
pub async fn idle_open(
    client: Client,
    addr: SocketAddr,
    conns: usize,
) -> io::Result<Vec<ClientStream>> {
    let next = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::with_capacity(conns)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IDLE_CONCURRENCY.min(conns) {
        let (next, held, client) = (next.clone(), held.clone(), client.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < conns {
                let mut s = client.connect(addr).await?;
                round_trip(&mut s, &[1], &mut [0u8; 1]).await?;
                // The lock is never held across an await (see `load::idle_open`).
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
