//! `bridge_bench`: what the async bridge costs hyper (issue 13, point 1).
//!
//! One hyper 1.x server (hyper-util's `auto` builder, one handler answering
//! `hello, world\n`), run two ways in child processes of this one, side by
//! side and interleaved in one invocation under the same h2load load:
//!
//! * `tcp`: hyper on tokio's own `TcpStream` (the anchor);
//! * `bridge`: hyper on a [`strata_tokio::BridgeStream`], the top of a
//!   strata stack over `tcp://` ([`strata_tokio::BridgeListener`]).
//!
//! Server CPU is utime+stime of the child from `/proc/PID/stat` across the
//! measured load (after a warm-up load), divided by the requests that
//! succeeded. The target: the bridge adds at most 5% per request.
//!
//! ```text
//! bridge_bench [--requests 100000] [--clients 10] [--streams 10] [--runs 3] [--workers 1] [--h1]
//! bridge_bench serve --mode tcp|bridge [--workers 1]   # the child
//! ```
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

#[derive(Debug, Parser)]
#[command(name = "bridge_bench", version)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Requests of each measured load (h2load -n).
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Connections (h2load -c).
    #[arg(long, default_value_t = 10)]
    clients: u32,
    /// Streams per connection (h2load -m).
    #[arg(long, default_value_t = 10)]
    streams: u32,
    /// Measured loads per server, interleaved.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Worker threads of each server's runtime.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Load with HTTP/1.1 (h2load --h1; `--streams` is then the pipelining
    /// depth) instead of cleartext HTTP/2.
    #[arg(long)]
    h1: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve (the child process): prints `ready ADDR`, serves until killed.
    Serve {
        #[arg(long, value_enum)]
        mode: Mode,
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// hyper on tokio's `TcpStream`.
    Tcp,
    /// hyper on a strata stack's top (`tcp://`), through the bridge.
    Bridge,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.cmd {
        Some(Cmd::Serve { mode, workers }) => serve(mode, workers),
        None => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bridge_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"hello, world\n",
    ))))
}

fn serve(mode: Mode, workers: usize) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let ready = |addr: std::net::SocketAddr| -> io::Result<()> {
            let mut out = io::stdout().lock();
            writeln!(out, "ready {addr}")?;
            out.flush()
        };
        let builder = auto::Builder::new(TokioExecutor::new());
        match mode {
            Mode::Tcp => {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                ready(l.local_addr()?)?;
                loop {
                    let (s, _) = l.accept().await?;
                    let _ = s.set_nodelay(true);
                    let b = builder.clone();
                    tokio::spawn(async move {
                        let _ = b.serve_connection(TokioIo::new(s), service_fn(hello)).await;
                    });
                }
            }
            Mode::Bridge => {
                let server = strata_tokio::Server::new();
                let ep = strata::endpoint::Endpoint::parse("tcp://127.0.0.1:0")
                    .map_err(|e| io::Error::other(e.to_string()))?;
                let mut l = strata_tokio::BridgeListener::bind(
                    &server,
                    &ep,
                    Default::default(),
                    Default::default(),
                )
                .await
                .map_err(io::Error::from)?;
                let addr = l
                    .listening()
                    .socket_addr()
                    .ok_or_else(|| io::Error::other("no address"))?;
                ready(addr)?;
                while let Some(s) = l.accept().await {
                    let b = builder.clone();
                    tokio::spawn(async move {
                        let _ = b.serve_connection(TokioIo::new(s), service_fn(hello)).await;
                    });
                }
                Ok(())
            }
        }
    })
}

/// A served child and its address.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(mode: Mode, workers: usize) -> io::Result<Server> {
        let mode = match mode {
            Mode::Tcp => "tcp",
            Mode::Bridge => "bridge",
        };
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--mode", mode, "--workers", &workers.to_string()])
            .stdout(Stdio::piped())
            .spawn()?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let addr = line
            .strip_prefix("ready ")
            .ok_or_else(|| io::Error::other(format!("child said {line:?}")))?
            .trim()
            .to_string();
        Ok(Server { child, addr })
    }

    /// utime + stime of the child, in seconds.
    fn cpu(&self) -> io::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        let rest = stat
            .rsplit_once(") ")
            .map(|(_, r)| r)
            .ok_or_else(|| io::Error::other("bad stat"))?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // Fields 14 and 15 of stat (utime, stime); `rest` starts at field 3.
        let ticks = num(11) + num(12);
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        Ok(ticks as f64 / hz)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs h2load; returns the requests that succeeded.
fn h2load(addr: &str, n: u64, c: u32, m: u32, h1: bool) -> io::Result<u64> {
    let mut cmd = Command::new("h2load");
    cmd.args([
        "-n",
        &n.to_string(),
        "-c",
        &c.to_string(),
        "-m",
        &m.to_string(),
    ]);
    if h1 {
        cmd.arg("--h1");
    }
    let out = cmd.arg(format!("http://{addr}/hello")).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "requests: N total, N started, N done, N succeeded, N failed, ..."
    let line = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .ok_or_else(|| io::Error::other(format!("h2load said: {text}")))?;
    let succeeded = line
        .split(',')
        .find_map(|p| p.trim().strip_suffix(" succeeded"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("h2load line: {line}")))?;
    Ok(succeeded)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn bench(args: &Args) -> io::Result<()> {
    let mut per_req = [Vec::new(), Vec::new()];
    let mut rates = [Vec::new(), Vec::new()];
    for run in 0..args.runs.max(1) {
        for (i, mode) in [Mode::Tcp, Mode::Bridge].into_iter().enumerate() {
            let s = Server::start(mode, args.workers)?;
            h2load(
                &s.addr,
                args.requests / 10,
                args.clients,
                args.streams,
                args.h1,
            )?;
            let t0 = s.cpu()?;
            let start = std::time::Instant::now();
            let ok = h2load(&s.addr, args.requests, args.clients, args.streams, args.h1)?;
            let wall = start.elapsed().as_secs_f64();
            let cpu = s.cpu()? - t0;
            if ok != args.requests {
                return Err(io::Error::other(format!(
                    "{mode:?}: {ok} of {} requests succeeded",
                    args.requests
                )));
            }
            let us = cpu * 1e6 / ok as f64;
            println!(
                "run {run} {mode:?}: {:.0} req/s, server CPU {us:.2} µs/req",
                ok as f64 / wall
            );
            per_req[i].push(us);
            rates[i].push(ok as f64 / wall);
        }
    }
    let (tcp, bridge) = (median(&mut per_req[0]), median(&mut per_req[1]));
    let (rt, rb) = (median(&mut rates[0]), median(&mut rates[1]));
    println!(
        "median of {}: tcp {tcp:.2} µs/req ({rt:.0} req/s), bridge {bridge:.2} µs/req ({rb:.0} req/s); \
         bridge/tcp CPU per request {:.3} (target <= 1.05)",
        args.runs,
        bridge / tcp
    );
    Ok(())
}
