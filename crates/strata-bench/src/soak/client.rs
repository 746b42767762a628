//! `soak client`: the load generator, a process of its own.
//!
//! 1. The hostile sockets start (silent and slowloris, see [`hostile`]).
//! 2. The good connections ramp up, [`RAMP_CONCURRENCY`] connects in
//!    flight at once so the listen backlog never overflows; then the line
//!    `READY good=N ... hostile_open=M` tells the orchestrator to sample the
//!    server at full load.
//! 3. The window: every good connection sends one request a second for
//!    `secs` seconds, the connections' schedules spread evenly over the
//!    second; each answer is checked and timed.
//! 4. The hostile sockets stop; the lines `RESULT ...`, `HOSTILE ...` (one
//!    per kind) and, on failures, `ERROR ...` report what happened.
//!
//! Every phase is bounded: a connect by [`CONNECT_TIMEOUT`], a request by
//! `--timeout`, so the process ends within about `ramp + secs + timeout`.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use tokio::sync::{watch, Semaphore};

use super::good::{self, Connector};
use super::hostile::{self, Fate, Kind};
use super::{Percentiles, Target};

/// Good connects in flight at once during the ramp.
pub const RAMP_CONCURRENCY: usize = 256;
/// How long one good connect (TCP, TLS and HTTP/2 handshakes) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What `soak client` is asked to do.
#[derive(Clone, Debug, clap::Args)]
pub struct ClientArgs {
    /// tcp, tls, h2c or h2tls.
    #[arg(long)]
    pub target: Target,
    /// The server's address.
    #[arg(long)]
    pub addr: SocketAddr,
    /// PEM certificate the TLS targets trust.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Good connections.
    #[arg(long, default_value_t = 10_000)]
    pub conns: usize,
    /// Seconds of the measured window (one request per connection a second).
    #[arg(long, default_value_t = 60)]
    pub secs: u64,
    /// Bytes per request (and per answer).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Silent sockets.
    #[arg(long, default_value_t = 1000)]
    pub silent: usize,
    /// Slowloris sockets.
    #[arg(long, default_value_t = 100)]
    pub slowloris: usize,
    /// Seconds one request may take before it counts as an error.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

/// Runs the load; returns whether every good request succeeded.
pub async fn run(a: ClientArgs) -> io::Result<bool> {
    let fd_limit = raise_nofile_limit()?;
    let need = a.conns + a.silent + a.slowloris + 64;
    if (fd_limit as usize) < need {
        return Err(io::Error::other(format!(
            "{need} sockets need more than the fd limit {fd_limit}: split the load over processes"
        )));
    }
    let connector = Connector::new(a.target, a.addr, a.cert.as_deref())?;
    let began = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    let silent = tokio::spawn(hostile::run(
        Kind::Silent,
        a.silent,
        a.target,
        a.addr,
        began,
        stop_rx.clone(),
        open.clone(),
    ));
    let slow = tokio::spawn(hostile::run(
        Kind::Slowloris,
        a.slowloris,
        a.target,
        a.addr,
        began,
        stop_rx,
        open.clone(),
    ));

    // The ramp.
    let gate = Arc::new(Semaphore::new(RAMP_CONCURRENCY));
    let mut connecting = tokio::task::JoinSet::new();
    for i in 0..a.conns {
        let (gate, connector) = (gate.clone(), connector.clone());
        connecting.spawn(async move {
            // The semaphore is never closed.
            let _permit = gate.acquire_owned().await.expect("semaphore open");
            let c = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect()).await;
            (i, c)
        });
    }
    let mut conns = Vec::with_capacity(a.conns);
    let mut connect_failures = 0u64;
    let mut first_error = None;
    while let Some(r) = connecting.join_next().await {
        match r {
            Ok((i, Ok(Ok(c)))) => conns.push((i, c)),
            Ok((i, Ok(Err(e)))) => {
                connect_failures += 1;
                first_error.get_or_insert(format!("conn {i} connect: {e}"));
            }
            Ok((i, Err(_))) => {
                connect_failures += 1;
                first_error.get_or_insert(format!("conn {i} connect: timed out"));
            }
            Err(e) => return Err(io::Error::other(e)),
        }
    }
    let ramp = began.elapsed();
    say(&format!(
        "READY good={} connect_failures={connect_failures} hostile_open={} ramp_secs={:.2}",
        conns.len(),
        open.load(Ordering::Relaxed),
        ramp.as_secs_f64()
    ))?;

    // The window.
    let start = strata::deadline::after(Instant::now(), Duration::from_millis(100));
    let n = a.conns.max(1) as u64;
    let mut window = tokio::task::JoinSet::new();
    for (i, c) in conns {
        let offset = Duration::from_nanos(i as u64 * 1_000_000_000 / n);
        window.spawn(good::run(
            c,
            i,
            start,
            offset,
            a.secs,
            a.size,
            Duration::from_secs(a.timeout),
        ));
    }
    let mut lat = Vec::with_capacity(a.conns * a.secs as usize);
    let mut lags = Vec::with_capacity(a.conns * a.secs as usize);
    let mut errors = connect_failures * a.secs;
    while let Some(r) = window.join_next().await {
        let r = r.map_err(io::Error::other)?;
        lat.extend_from_slice(&r.latencies);
        lags.extend_from_slice(&r.lags);
        errors += r.errors;
        if let Some(e) = r.first_error {
            first_error.get_or_insert(e);
        }
    }
    let window_secs = start.elapsed().as_secs_f64();
    let hostile_open_end = open.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let silent = silent.await.map_err(io::Error::other)?;
    let slow = slow.await.map_err(io::Error::other)?;

    let p = Percentiles::of(&mut lat);
    let lag = Percentiles::of(&mut lags);
    say(&format!(
        "RESULT target={} conns={} secs={} requests={} ok={} errors={errors} \
         connect_failures={connect_failures} p50_us={} p99_us={} p999_us={} max_us={} \
         window_secs={window_secs:.2} hostile_open_end={hostile_open_end} \
         lag_p50_us={} lag_p99_us={}",
        a.target,
        a.conns,
        a.secs,
        a.conns as u64 * a.secs,
        p.n,
        p.p50,
        p.p99,
        p.p999,
        p.max,
        lag.p50,
        lag.p99,
    ))?;
    say(&hostile_line("silent", silent))?;
    say(&hostile_line("slowloris", slow))?;
    if let Some(e) = first_error {
        say(&format!("ERROR {e}"))?;
    }
    Ok(errors == 0)
}

fn hostile_line(kind: &str, f: Fate) -> String {
    let life = Percentiles::of(
        &mut f
            .lifetimes_ms
            .iter()
            .map(|&m| u32::try_from(m).unwrap_or(u32::MAX))
            .collect::<Vec<_>>(),
    );
    let min_life = f.lifetimes_ms.iter().min().copied().unwrap_or(0);
    let first = f.shed_at_ms.iter().min().copied().unwrap_or(0);
    let last = f.shed_at_ms.iter().max().copied().unwrap_or(0);
    format!(
        "HOSTILE kind={kind} sockets={} connects={} connect_failures={} shed={} \
         open_at_end={} bytes_received={} life_min_ms={min_life} life_p50_ms={} \
         life_max_ms={} first_shed_ms={first} last_shed_ms={last}",
        f.sockets,
        f.connects,
        f.connect_failures,
        f.shed,
        f.open_at_end,
        f.bytes_received,
        life.p50,
        life.max,
    )
}

/// Prints a line to stdout at once (the orchestrator reads it as it comes).
fn say(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Raises the soft limit on open files to the hard limit; returns it.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(io::Error::from)?;
    }
    Ok(hard.max(soft))
}
