//! `bridge_bench`: what the async bridge costs hyper (issue 13, point 1).
//!
//! One hyper 1.x server (hyper-util's `auto` builder, one handler answering
//! `hello, world\n`), run two ways in child processes of this one, side by
//! side and interleaved in one invocation under the same h2load load:
//!
//! * `tcp`: hyper on tokio's own `TcpStream` (the anchor);
//! * `bridge`: hyper on a [`strata_tokio::BridgeStream`], the top of a
//!   strata stack over `tcp://` ([`strata_tokio::BridgeListener`]): hyper's
//!   connection future is a second task;
//! * `inline`: the same, with hyper's connection future run inside the
//!   stack's task ([`strata_tokio::serve_bridged`]): one task per
//!   connection, as on TCP.
//!
//! Server CPU is utime+stime of the child from `/proc/PID/stat` across the
//! measured load (after a warm-up load), divided by the requests that
//! succeeded. The target: the bridge adds at most 5% per request.
//!
//! ```text
//! bridge_bench [--requests 100000] [--clients 10] [--streams 10] [--runs 3] [--workers 1] [--h1]
//! bridge_bench serve --mode tcp|bridge|inline [--workers 1] [--conns N]   # the child
//! bridge_bench client --addr HOST:PORT --requests N   # HTTP/1.1, one request per round trip
//! bridge_bench callgrind [--requests 1000,6000]   # instructions per request, under valgrind
//! ```
//!
//! `callgrind` runs each server under `valgrind --tool=callgrind` with
//! `--conns 1` (it exits once its one connection ended) and drives one
//! keep-alive HTTP/1.1 connection with `client`, unpipelined; the
//! instructions per request are the difference of the totals of two runs of
//! different lengths over the difference of their requests (start-up and
//! exit cancel out). Instruction counts are robust on a busy machine where
//! CPU time is not.
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
        /// Exit once this many connections have ended (0: serve until killed).
        #[arg(long, default_value_t = 0)]
        conns: usize,
    },
    /// Sends `requests` HTTP/1.1 requests on one connection, each after the
    /// previous response.
    Client {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        requests: u64,
    },
    /// Instructions per request of each server mode under callgrind.
    Callgrind {
        /// Two run lengths, in requests.
        #[arg(long, value_delimiter = ',', default_value = "1000,6000")]
        requests: Vec<u64>,
        /// Modes measured.
        #[arg(long, value_delimiter = ',', default_value = "tcp,bridge,inline")]
        modes: Vec<Mode>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// hyper on tokio's `TcpStream`.
    Tcp,
    /// hyper on a strata stack's top (`tcp://`), through the bridge.
    Bridge,
    /// The same, hyper's connection future polled in the stack's task.
    Inline,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Bridge => "bridge",
            Mode::Inline => "inline",
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.cmd {
        Some(Cmd::Serve {
            mode,
            workers,
            conns,
        }) => serve(mode, workers, conns),
        Some(Cmd::Client { ref addr, requests }) => client(addr, requests),
        Some(Cmd::Callgrind {
            ref requests,
            ref modes,
        }) => callgrind(requests, modes),
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

/// Counts ended connections; `wait` returns once `limit` have (never when
/// `limit` is 0).
#[derive(Default)]
struct Ended {
    n: std::sync::atomic::AtomicUsize,
    notify: tokio::sync::Notify,
}

impl Ended {
    fn one(&self) {
        self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_one();
    }

    async fn wait(&self, limit: usize) {
        if limit == 0 {
            return std::future::pending().await;
        }
        while self.n.load(std::sync::atomic::Ordering::SeqCst) < limit {
            self.notify.notified().await;
        }
    }
}

fn serve(mode: Mode, workers: usize, conns: usize) -> io::Result<()> {
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
        let ended = std::sync::Arc::new(Ended::default());
        let strata_ep = || {
            strata::endpoint::Endpoint::parse("tcp://127.0.0.1:0")
                .map_err(|e| io::Error::other(e.to_string()))
        };
        match mode {
            Mode::Tcp => {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                ready(l.local_addr()?)?;
                let accept = async {
                    loop {
                        let (s, _) = l.accept().await?;
                        let _ = s.set_nodelay(true);
                        let b = builder.clone();
                        let ended = ended.clone();
                        tokio::spawn(async move {
                            let _ = b.serve_connection(TokioIo::new(s), service_fn(hello)).await;
                            ended.one();
                        });
                    }
                };
                tokio::select! {
                    r = accept => r,
                    () = ended.wait(conns) => Ok(()),
                }
            }
            Mode::Inline => {
                let server = strata_tokio::Server::new();
                let ended2 = ended.clone();
                let l = strata_tokio::serve_bridged(
                    &server,
                    &strata_ep()?,
                    Default::default(),
                    Default::default(),
                    move |s| {
                        let b = builder.clone();
                        let ended = ended2.clone();
                        async move {
                            let _ = b.serve_connection(TokioIo::new(s), service_fn(hello)).await;
                            ended.one();
                        }
                    },
                )
                .await
                .map_err(io::Error::from)?;
                ready(
                    l.socket_addr()
                        .ok_or_else(|| io::Error::other("no address"))?,
                )?;
                ended.wait(conns).await;
                Ok(())
            }
            Mode::Bridge => {
                let server = strata_tokio::Server::new();
                let mut l = strata_tokio::BridgeListener::bind(
                    &server,
                    &strata_ep()?,
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
                let accept = async {
                    while let Some(s) = l.accept().await {
                        let b = builder.clone();
                        let ended = ended.clone();
                        tokio::spawn(async move {
                            let _ = b.serve_connection(TokioIo::new(s), service_fn(hello)).await;
                            ended.one();
                        });
                    }
                };
                tokio::select! {
                    () = accept => {},
                    () = ended.wait(conns) => {},
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
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.args([
            "serve",
            "--mode",
            mode.name(),
            "--workers",
            &workers.to_string(),
        ]);
        Server::spawn(cmd)
    }

    /// Starts `cmd` (a `serve`) and waits for its `ready ADDR` line.
    fn spawn(mut cmd: Command) -> io::Result<Server> {
        let mut child = cmd.stdout(Stdio::piped()).spawn()?;
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

/// One keep-alive HTTP/1.1 connection, `n` requests, each sent once the
/// previous response has arrived whole.
fn client(addr: &str, n: u64) -> io::Result<()> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let req = format!("GET /hello HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    let end = b"\r\n\r\nhello, world\n";
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0; 1024];
    for _ in 0..n {
        s.write_all(req.as_bytes())?;
        buf.clear();
        while !buf.ends_with(end) {
            let got = s.read(&mut chunk)?;
            if got == 0 {
                return Err(io::Error::other("the server closed early"));
            }
            buf.extend_from_slice(&chunk[..got]);
        }
    }
    Ok(())
}

/// The instructions of one callgrind run of `serve --mode mode --conns 1`
/// driven by `client` with `n` requests.
fn callgrind_run(mode: Mode, n: u64) -> io::Result<u64> {
    let exe = std::env::current_exe()?;
    let out = std::env::temp_dir().join(format!(
        "bridge_bench.callgrind.{}.{}.{n}",
        std::process::id(),
        mode.name()
    ));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .args(["serve", "--mode", mode.name(), "--conns", "1"])
        .stderr(Stdio::null());
    let mut s = Server::spawn(cmd)?;
    client(&s.addr, n)?;
    // `client` dropped its connection: the server exits by itself.
    let status = s.child.wait()?;
    if !status.success() {
        return Err(io::Error::other(format!("{mode:?} server: {status}")));
    }
    let text = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| l.strip_prefix("totals: ").or(l.strip_prefix("summary: ")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other("no totals in the callgrind output"))
}

fn callgrind(requests: &[u64], modes: &[Mode]) -> io::Result<()> {
    let [a, b] = requests else {
        return Err(io::Error::other("--requests takes two lengths"));
    };
    let (a, b) = ((*a).min(*b), (*a).max(*b));
    if a == b {
        return Err(io::Error::other("--requests takes two different lengths"));
    }
    let mut per_req = Vec::new();
    for &mode in modes {
        let ia = callgrind_run(mode, a)?;
        let ib = callgrind_run(mode, b)?;
        let ir = ib.saturating_sub(ia) as f64 / (b - a) as f64;
        println!("{mode:?}: {ia} Ir for {a} requests, {ib} for {b}: {ir:.0} Ir/request");
        per_req.push((mode, ir));
    }
    if let Some(&(_, tcp)) = per_req.iter().find(|(m, _)| *m == Mode::Tcp) {
        for &(mode, ir) in per_req.iter().filter(|(m, _)| *m != Mode::Tcp) {
            println!("{mode:?} / tcp instructions per request: {:.3}", ir / tcp);
        }
    }
    Ok(())
}

fn bench(args: &Args) -> io::Result<()> {
    let modes = [Mode::Tcp, Mode::Bridge, Mode::Inline];
    let mut per_req = [Vec::new(), Vec::new(), Vec::new()];
    let mut rates = [Vec::new(), Vec::new(), Vec::new()];
    for run in 0..args.runs.max(1) {
        for (i, mode) in modes.into_iter().enumerate() {
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
    let tcp = median(&mut per_req[0]);
    let rt = median(&mut rates[0]);
    println!(
        "median of {}: tcp {tcp:.2} µs/req ({rt:.0} req/s)",
        args.runs
    );
    for i in 1..modes.len() {
        let (us, r) = (median(&mut per_req[i]), median(&mut rates[i]));
        println!(
            "  {:?} {us:.2} µs/req ({r:.0} req/s); /tcp CPU per request {:.3} (target <= 1.05)",
            modes[i],
            us / tcp
        );
    }
    Ok(())
}
