//! `reliable_udp`: bulk goodput of the reliable mapping over real UDP
//! loopback, side by side with `iperf3 -u -b 0` on the same machine.
//!
//! One invocation of `reliable_udp run` alternates, for several rounds and
//! for each datagram size:
//!
//! * ours: a `server` child (a sink counting bytes, listening on
//!   `reliable+udp://127.0.0.1:0`) and a `client` child (writes `--bytes`
//!   bytes respecting back-pressure, then `write_eof`), each in its own
//!   process. Goodput is application bytes received over the time from the
//!   first to the last byte at the receiver; the byte count is checked.
//! * iperf3: `iperf3 -s -1` on a free port and
//!   `iperf3 -c 127.0.0.1 -u -b 0 -l LEN -t SECS -w 4M --json`; goodput is
//!   what the *receiver* got (`end.sum_received`: datagrams sent minus
//!   lost), not what the sender pushed. `-w` gives iperf3's sockets the
//!   buffers strata's driver asks for on every UDP socket (4 MiB,
//!   `docs/limits.md`), so that neither side loses for a smaller buffer.
//!
//! Every child, ours and iperf3's, runs with the same environment: the
//! glibc memcpy tunable set (default) or removed (`--tunables off`), and
//! optionally pinned (`--pin`: servers on CPU 1, clients on CPU 0). CPU
//! time comes from `getrusage` in our children and from iperf3's
//! `cpu_utilization_percent`. Because the machine may be shared, each run
//! also records how many CPUs *other* processes kept busy meanwhile (from
//! `/proc/stat`), and the summary gives the median ratio of the quiet
//! rounds apart; `--wait-quiet` waits for a quiet machine before each
//! round. The report is a Markdown table with the ratio per round, the
//! medians, and the exact command line. `scripts/bench-reliable-udp` builds
//! it in release and runs it.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use nix::sys::resource::{getrusage, UsageWho};
use strata::endpoint::Endpoint;
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{registry, ListenConfig, Server, StreamFactory};

/// The memcpy tunable: this CPU's `rep movsb` is about 25x slower on
/// misaligned buffers, and glibc would otherwise use it above a few KiB.
const GLIBC_TUNABLES: &str = "glibc.cpu.x86_rep_movsb_threshold=10000000";
/// Bytes per `write` of the client.
const CHUNK: usize = 64 * 1024;
/// How long a child may take to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Below this many CPUs busy with other processes, a run counts as quiet.
const QUIET: f64 = 0.25;
/// How long a child may take to exit once told to.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The goal of issue 11: the reliable mapping's goodput at least iperf3's.
const TARGET_RATIO: f64 = 1.0;

/// Bulk goodput of the reliable mapping against iperf3 over UDP loopback.
#[derive(Debug, Parser)]
#[command(name = "reliable_udp")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run every round and print the Markdown report.
    Run(RunOpts),
    /// Child: listen, count one connection's bytes, print `DONE ...`, and
    /// exit when stdin closes.
    Server {
        /// `reliable.mtu` of the endpoint.
        #[arg(long, default_value_t = 1200)]
        mtu: usize,
        /// `reliable.cc` of the endpoint.
        #[arg(long, default_value = "bbr")]
        cc: String,
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: SocketAddr,
    },
    /// Child: send `--bytes` bytes, half-close, wait for the close, print
    /// `SENT ...`.
    Client {
        /// The server's address.
        #[arg(long)]
        addr: SocketAddr,
        /// Bytes to send.
        #[arg(long)]
        bytes: u64,
        /// `reliable.mtu` of the endpoint.
        #[arg(long, default_value_t = 1200)]
        mtu: usize,
        /// `reliable.cc` of the endpoint.
        #[arg(long, default_value = "bbr")]
        cc: String,
    },
}

/// Whether the glibc memcpy tunable is set in every child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Tunables {
    /// `GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=10000000`.
    On,
    /// `GLIBC_TUNABLES` removed.
    Off,
}

/// Options of `reliable_udp run`.
#[derive(Clone, Debug, clap::Args)]
struct RunOpts {
    /// Rounds; each runs ours and iperf3 once per datagram size, in an
    /// order that alternates.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Bytes our client sends per run.
    #[arg(long, default_value_t = 200_000_000)]
    bytes: u64,
    /// Seconds of each iperf3 run (`-t`).
    #[arg(long, default_value_t = 3)]
    secs: u64,
    /// Datagram sizes: our `reliable.mtu` and iperf3's `-l`.
    #[arg(long, value_delimiter = ',', default_value = "1200,1472")]
    sizes: Vec<usize>,
    /// Our congestion controller (`reliable.cc`: bbr, cubic, newreno).
    #[arg(long, default_value = "bbr")]
    cc: String,
    /// The glibc memcpy tunable in every child, ours and iperf3's alike.
    #[arg(long, value_enum, default_value_t = Tunables::On)]
    tunables: Tunables,
    /// Pin every server to CPU 1 and every client to CPU 0 (`taskset`),
    /// ours and iperf3's alike.
    #[arg(long)]
    pin: bool,
    /// iperf3's socket buffers (`-w`): by default the driver's
    /// `UDP_SOCKET_BUFFER`; empty leaves iperf3's own default.
    #[arg(long, default_value = "4M")]
    iperf3_window: String,
    /// The iperf3 binary.
    #[arg(long, default_value = "iperf3")]
    iperf3: PathBuf,
    /// Leave iperf3 out (ours only; no ratios).
    #[arg(long)]
    no_iperf: bool,
    /// Before each round, wait up to this many seconds for the machine to be
    /// quiet (other processes below 0.25 CPUs over one second); 0: don't.
    #[arg(long, default_value_t = 0)]
    wait_quiet: u64,
    /// A smoke run: one round, 20 MB, 1 s of iperf3, 1200 only.
    #[arg(long)]
    quick: bool,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let result = match Cli::parse().cmd {
        Cmd::Run(opts) => run(opts),
        Cmd::Server { mtu, cc, bind } => {
            endpoint(&bind.to_string(), mtu, &cc).and_then(|ep| serve(&ep))
        }
        Cmd::Client {
            addr,
            bytes,
            mtu,
            cc,
        } => endpoint(&addr.to_string(), mtu, &cc).and_then(|ep| client(&ep, bytes)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reliable_udp: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- children

/// User plus system CPU time of this process, in seconds.
fn cpu_secs() -> io::Result<f64> {
    let u = getrusage(UsageWho::RUSAGE_SELF).map_err(io::Error::from)?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(secs(u.user_time()) + secs(u.system_time()))
}

/// Busy CPU time of the whole machine (all CPUs; all but idle and
/// iowait), in seconds, from `/proc/stat`.
fn machine_busy_secs() -> io::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let ticks = parse_busy_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "cannot parse /proc/stat"))?;
    let hz = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => return Err(io::Error::other("sysconf(_SC_CLK_TCK) has no value")),
    };
    Ok(ticks as f64 / hz)
}

/// The busy ticks of the `cpu` line: user, nice, system, irq, softirq and
/// steal (guest time is already inside user).
fn parse_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_ascii_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let total = v.iter().take(8).try_fold(0u64, |a, &x| a.checked_add(x))?;
    total.checked_sub(v.get(3)?.checked_add(*v.get(4)?)?)
}

/// The machine's and this process's busy CPU seconds, now.
fn busy_now() -> Option<(f64, f64)> {
    Some((machine_busy_secs().ok()?, cpu_secs().ok()?))
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn endpoint(host_port: &str, mtu: usize, cc: &str) -> io::Result<Endpoint> {
    let url = format!("reliable+udp://{host_port}?reliable.mtu={mtu}&reliable.cc={cc}");
    Endpoint::parse_with(&url, &registry())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e}")))
}

/// What the sink saw of its connection.
#[derive(Debug)]
struct SinkReport {
    bytes: u64,
    /// First to last byte.
    secs: f64,
    /// Busy CPU seconds of the machine, and of this process, from first to
    /// last byte (NaN when `/proc/stat` is unreadable).
    machine_busy: f64,
    own_busy: f64,
    /// `None` after an EOF, else why the connection ended without one.
    failed: Option<String>,
}

/// Counts bytes; reports at EOF (or at a loss without EOF).
struct Sink {
    bytes: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    /// [`busy_now`] at the first byte.
    busy_at_first: Option<(f64, f64)>,
    done: Option<tokio::sync::mpsc::UnboundedSender<SinkReport>>,
}

impl Sink {
    fn report(&mut self, failed: Option<String>) {
        let secs = match (self.first, self.last) {
            (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
            _ => 0.0,
        };
        let (machine_busy, own_busy) = match (self.busy_at_first, busy_now()) {
            (Some((m0, o0)), Some((m1, o1))) => (m1 - m0, o1 - o0),
            _ => (f64::NAN, f64::NAN),
        };
        if let Some(tx) = self.done.take() {
            let _ = tx.send(SinkReport {
                bytes: self.bytes,
                secs,
                machine_busy,
                own_busy,
                failed,
            });
        }
    }
}

impl StreamProtocol for Sink {
    fn data_received(&mut self, _t: &mut dyn StreamTransport, data: &[u8]) {
        let now = Instant::now();
        if self.first.is_none() {
            self.first = Some(now);
            self.busy_at_first = busy_now();
        }
        self.last = Some(now);
        self.bytes += data.len() as u64;
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.report(None);
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.report(Some(format!("lost before EOF: {why}")));
    }
}

fn serve(ep: &Endpoint) -> io::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let factory: StreamFactory = Arc::new(move || {
            Box::new(Sink {
                bytes: 0,
                first: None,
                last: None,
                busy_at_first: None,
                done: Some(tx.clone()),
            }) as Box<dyn StreamProtocol>
        });
        let server = Server::new();
        let bound = server
            .listen(ep, factory, ListenConfig::default())
            .await
            .map_err(io::Error::other)?;
        println!("LISTENING {}", bound.local);
        let rep = rx
            .recv()
            .await
            .ok_or_else(|| io::Error::other("the listener ended"))?;
        if let Some(why) = rep.failed {
            return Err(io::Error::other(format!(
                "after {} bytes: {why}",
                rep.bytes
            )));
        }
        println!(
            "DONE bytes={} secs={:.6} cpu={:.6} machine_busy={:.6} own_busy={:.6}",
            rep.bytes,
            rep.secs,
            cpu_secs()?,
            rep.machine_busy,
            rep.own_busy
        );
        // Serve until the orchestrator closes our stdin.
        tokio::task::spawn_blocking(|| io::copy(&mut io::stdin(), &mut io::sink()))
            .await
            .map_err(io::Error::other)??;
        server.shutdown(Duration::from_secs(1)).await;
        Ok(())
    })
}

/// When the client's connection reached its phases.
#[derive(Debug, Default)]
struct Phases {
    connected: Option<Instant>,
    eof: Option<Instant>,
}

/// Writes `total` bytes while the transport accepts them, then `write_eof`.
struct Source {
    phases: Arc<Mutex<Phases>>,
    total: u64,
    sent: u64,
    paused: bool,
    eof_sent: bool,
    buf: Vec<u8>,
}

impl Source {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while !self.paused && self.sent < self.total && t.writable() {
            let n = (self.total - self.sent).min(self.buf.len() as u64) as usize;
            t.write(&self.buf[..n]);
            self.sent += n as u64;
        }
        if self.sent == self.total && !self.eof_sent {
            self.eof_sent = true;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Source {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Ok(mut p) = self.phases.lock() {
            p.connected = Some(Instant::now());
        }
        self.pump(t);
    }
    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if let Ok(mut p) = self.phases.lock() {
            p.eof = Some(Instant::now());
        }
        t.close();
    }
    fn pause_writing(&mut self, _t: &mut dyn StreamTransport) {
        self.paused = true;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.paused = false;
        self.pump(t);
    }
}

fn client(ep: &Endpoint, bytes: u64) -> io::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let phases = Arc::new(Mutex::new(Phases::default()));
        let source = Source {
            phases: phases.clone(),
            total: bytes,
            sent: 0,
            paused: false,
            eof_sent: false,
            buf: (0..CHUNK).map(|i| (i * 7 + 3) as u8).collect(),
        };
        let start = Instant::now();
        let conn = strata_tokio::connect(ep, Box::new(source), Arc::new(StackConfig::default()))
            .await
            .map_err(io::Error::other)?;
        let why = conn.closed().await;
        let end = Instant::now();
        if !why.is_clean() {
            return Err(io::Error::other(format!("connection ended: {why}")));
        }
        let since = |t: Option<Instant>, from: Instant| {
            t.map_or(f64::NAN, |t| {
                t.saturating_duration_since(from).as_secs_f64()
            })
        };
        let p = phases
            .lock()
            .map_err(|_| io::Error::other("phases lock poisoned"))?;
        // handshake: start to connection_made; close: peer's EOF to closed.
        println!(
            "SENT bytes={bytes} secs={:.6} handshake={:.6} close={:.6} cpu={:.6}",
            end.duration_since(start).as_secs_f64(),
            since(p.connected, start),
            p.eof
                .map_or(f64::NAN, |e| end.saturating_duration_since(e).as_secs_f64()),
            cpu_secs()?
        );
        Ok(())
    })
}

// ------------------------------------------------------------ orchestrator

/// A child with piped stdin and line-read stdout; killed on drop.
struct Proc {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(what: &str, mut cmd: Command, env: &Env) -> io::Result<Proc> {
        env.apply(&mut cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {what}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other(format!("{what}: no stdout pipe")))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc {
            what: what.to_string(),
            child,
            stdin,
            lines,
        })
    }

    /// The next line that contains `word`; an error if the child exits
    /// first or `timeout` passes.
    fn expect(&mut self, word: &str, timeout: Duration) -> io::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(word) => return Ok(l),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{}: no `{word}` within {timeout:?}", self.what),
                    ))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    return Err(io::Error::other(format!(
                        "{} exited ({status}) before printing `{word}`",
                        self.what
                    )));
                }
            }
        }
    }

    /// All of stdout until it closes.
    fn rest(&mut self, timeout: Duration) -> io::Result<String> {
        let deadline = Instant::now() + timeout;
        let mut out = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    out.push_str(&l);
                    out.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(out),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{}: still running after {timeout:?}", self.what),
                    ))
                }
            }
        }
    }

    /// Closes stdin and waits for a clean exit.
    fn finish(mut self, timeout: Duration) -> io::Result<()> {
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "{} exited with {status}",
                        self.what
                    )))
                };
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} did not exit within {timeout:?}", self.what),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        if let Ok(None) = self.child.try_wait() {
            std::thread::sleep(Duration::from_millis(100));
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// The environment every child gets, ours and iperf3's alike.
struct Env {
    tunables: Tunables,
    pin: bool,
}

/// Which CPU a pinned child runs on.
#[derive(Clone, Copy)]
enum Role {
    Server,
    Client,
}

impl Env {
    fn apply(&self, cmd: &mut Command) {
        match self.tunables {
            Tunables::On => cmd.env("GLIBC_TUNABLES", GLIBC_TUNABLES),
            Tunables::Off => cmd.env_remove("GLIBC_TUNABLES"),
        };
    }

    fn command(&self, role: Role, program: &std::ffi::OsStr) -> Command {
        if self.pin {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(match role {
                Role::Server => "1",
                Role::Client => "0",
            });
            c.arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

/// Parses `key=value` pairs and returns the value of `key`.
fn field(line: &str, key: &str) -> io::Result<f64> {
    line.split_ascii_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no numeric `{key}` in `{line}`"),
            )
        })
}

/// One run of ours.
#[derive(Clone, Copy, Debug)]
struct Ours {
    mbps: f64,
    /// Client and server CPU seconds per GB received.
    client_cpu_per_gb: f64,
    server_cpu_per_gb: f64,
    /// Client and server CPU time over the receiver's transfer time.
    client_util: f64,
    server_util: f64,
    /// Client: start to `connection_made`, and peer's EOF to closed.
    handshake_ms: f64,
    close_ms: f64,
    /// CPUs kept busy by other processes during the transfer (machine busy
    /// time minus ours, over the transfer time).
    others: f64,
}

fn run_ours(exe: &Path, env: &Env, opts: &RunOpts, mtu: usize) -> io::Result<Ours> {
    let bytes = opts.bytes;
    let mut cmd = env.command(Role::Server, exe.as_os_str());
    cmd.args(["server", "--mtu", &mtu.to_string(), "--cc", &opts.cc]);
    let mut server = Proc::spawn("server", cmd, env)?;
    let line = server.expect("LISTENING", START_TIMEOUT)?;
    let addr = line
        .split_ascii_whitespace()
        .nth(1)
        .ok_or_else(|| io::Error::other(format!("bad line `{line}`")))?
        .to_string();
    let mut cmd = env.command(Role::Client, exe.as_os_str());
    cmd.args([
        "client",
        "--addr",
        &addr,
        "--mtu",
        &mtu.to_string(),
        "--cc",
        &opts.cc,
    ]);
    cmd.args(["--bytes", &bytes.to_string()]);
    let mut client = Proc::spawn("client", cmd, env)?;
    // Generous: 1 Mbit/s would still finish.
    let limit = Duration::from_secs(60 + bytes / 125_000);
    let done = server.expect("DONE", limit)?;
    let sent = client.expect("SENT", limit)?;
    client.finish(STOP_TIMEOUT)?;
    server.finish(STOP_TIMEOUT)?;
    let got = field(&done, "bytes")?;
    if got != bytes as f64 {
        return Err(io::Error::other(format!(
            "the server counted {got} bytes, the client sent {bytes}"
        )));
    }
    let secs = field(&done, "secs")?;
    if secs <= 0.0 {
        return Err(io::Error::other(format!("no transfer time in `{done}`")));
    }
    let gb = got / 1e9;
    let (ccpu, scpu) = (field(&sent, "cpu")?, field(&done, "cpu")?);
    Ok(Ours {
        mbps: got * 8.0 / secs / 1e6,
        client_cpu_per_gb: ccpu / gb,
        server_cpu_per_gb: scpu / gb,
        client_util: ccpu / secs,
        server_util: scpu / secs,
        others: ((field(&done, "machine_busy")? - field(&done, "own_busy")? - ccpu) / secs)
            .max(0.0),
        handshake_ms: field(&sent, "handshake")? * 1e3,
        close_ms: field(&sent, "close")? * 1e3,
    })
}

/// One run of iperf3, from the client's `--json`.
#[derive(Clone, Copy, Debug)]
struct Iperf {
    /// Receiver goodput.
    mbps: f64,
    /// What the sender pushed.
    sent_mbps: f64,
    lost_percent: f64,
    /// `cpu_utilization_percent`: host (client) and remote (server).
    client_cpu_pct: f64,
    server_cpu_pct: f64,
    /// Client plus server CPU seconds per GB *received*.
    cpu_per_gb: f64,
    /// CPUs kept busy by other processes during the client's run.
    others: f64,
}

fn free_port() -> io::Result<u16> {
    // iperf3 uses the port for TCP (control) and UDP (data).
    let t = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(t.local_addr()?.port())
}

fn run_iperf(opts: &RunOpts, env: &Env, len: usize) -> io::Result<Iperf> {
    let port = free_port()?.to_string();
    let mut cmd = env.command(Role::Server, opts.iperf3.as_os_str());
    cmd.args(["-s", "-1", "--forceflush", "-p", &port]);
    let server = {
        let mut s = Proc::spawn("iperf3 -s", cmd, env)?;
        s.expect("Server listening", START_TIMEOUT)?;
        s
    };
    let mut cmd = env.command(Role::Client, opts.iperf3.as_os_str());
    cmd.args(["-c", "127.0.0.1", "-p", &port, "-u", "-b", "0"]);
    cmd.args([
        "-l",
        &len.to_string(),
        "-t",
        &opts.secs.to_string(),
        "--json",
    ]);
    if !opts.iperf3_window.is_empty() {
        cmd.args(["-w", &opts.iperf3_window]);
    }
    let busy0 = machine_busy_secs()?;
    let t0 = Instant::now();
    let mut client = Proc::spawn("iperf3 -c", cmd, env)?;
    let out = client.rest(Duration::from_secs(opts.secs + 60))?;
    let (busy, wall) = (machine_busy_secs()? - busy0, t0.elapsed().as_secs_f64());
    client.finish(STOP_TIMEOUT)?;
    server.finish(STOP_TIMEOUT)?;
    let json = Json::parse(&out)?;
    let num = |path: &[&str]| -> io::Result<f64> {
        json.path(path).and_then(Json::as_f64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("iperf3 --json: no number at {}", path.join(".")),
            )
        })
    };
    let secs = num(&["end", "sum_received", "seconds"])?;
    let packets = num(&["end", "sum_received", "packets"])?;
    let lost = num(&["end", "sum_received", "lost_packets"])?;
    let bytes = num(&["end", "sum_received", "bytes"])?;
    // The receiver's goodput: datagrams that arrived (sent minus lost).
    let arrived = (packets - lost) * len as f64;
    if secs <= 0.0 || (arrived - bytes).abs() > 0.01 * bytes.max(1.0) {
        return Err(io::Error::other(format!(
            "iperf3 receiver: {bytes} bytes but {packets} - {lost} datagrams of {len} in {secs} s"
        )));
    }
    let (client_cpu_pct, server_cpu_pct) = (
        num(&["end", "cpu_utilization_percent", "host_total"])?,
        num(&["end", "cpu_utilization_percent", "remote_total"])?,
    );
    Ok(Iperf {
        mbps: arrived * 8.0 / secs / 1e6,
        sent_mbps: num(&["end", "sum_sent", "bits_per_second"])? / 1e6,
        lost_percent: num(&["end", "sum_received", "lost_percent"])?,
        client_cpu_pct,
        server_cpu_pct,
        cpu_per_gb: (client_cpu_pct + server_cpu_pct) / 100.0 * secs / (arrived / 1e9).max(1e-9),
        others: ((busy - (client_cpu_pct + server_cpu_pct) / 100.0 * secs) / wall).max(0.0),
    })
}

/// Waits until the machine has been quiet for one second, or `limit` passed.
fn wait_quiet(limit: Duration) -> io::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let b0 = machine_busy_secs()?;
        std::thread::sleep(Duration::from_secs(1));
        let busy = machine_busy_secs()? - b0;
        if busy < QUIET {
            return Ok(());
        }
        if Instant::now() >= deadline {
            eprintln!("not quiet after {limit:?} ({busy:.2} CPUs busy): running anyway");
            return Ok(());
        }
    }
}

/// One row of the report.
struct Row {
    round: usize,
    size: usize,
    ours: Ours,
    iperf: Option<Iperf>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn run(mut opts: RunOpts) -> io::Result<()> {
    if opts.quick {
        opts.rounds = 1;
        opts.bytes = 20_000_000;
        opts.secs = 1;
        opts.sizes = vec![1200];
    }
    if opts.rounds == 0 || opts.bytes == 0 || opts.secs == 0 || opts.sizes.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--rounds, --bytes, --secs and --sizes must be non-empty / positive",
        ));
    }
    let exe = std::env::current_exe()?;
    let env = Env {
        tunables: opts.tunables,
        pin: opts.pin,
    };
    let mut rows = Vec::new();
    for round in 1..=opts.rounds {
        if opts.wait_quiet > 0 {
            wait_quiet(Duration::from_secs(opts.wait_quiet))?;
        }
        for &size in &opts.sizes {
            // Alternate which side goes first.
            let ours_first = (round + size) % 2 == 1;
            let mut ours = None;
            let mut iperf = None;
            for step in 0..2 {
                if (step == 0) == ours_first {
                    eprintln!("round {round} size {size}: strata {} bytes", opts.bytes);
                    let o = run_ours(&exe, &env, &opts, size)?;
                    eprintln!("  strata {:.1} Mbit/s", o.mbps);
                    ours = Some(o);
                } else if !opts.no_iperf {
                    eprintln!("round {round} size {size}: iperf3 {} s", opts.secs);
                    let i = run_iperf(&opts, &env, size)?;
                    eprintln!(
                        "  iperf3 {:.1} Mbit/s received ({:.1} sent, {:.1}% lost)",
                        i.mbps, i.sent_mbps, i.lost_percent
                    );
                    iperf = Some(i);
                }
            }
            let ours = ours.ok_or_else(|| io::Error::other("no run of ours"))?;
            rows.push(Row {
                round,
                size,
                ours,
                iperf,
            });
        }
    }
    let report = render(&opts, &rows);
    print!("{report}");
    io::stdout().flush()?;
    if let Some(path) = &opts.out {
        std::fs::write(path, &report)?;
    }
    Ok(())
}

fn render(opts: &RunOpts, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Reliable mapping vs iperf3 over UDP loopback\n\n\
         strata: `reliable+udp://127.0.0.1` (`reliable.cc={}`, `reliable.mtu` = size), {} MB per run, \
         goodput = bytes at the receiver / first-to-last byte. iperf3: `-u -b 0 -l size -t {}{}`, \
         goodput = the receiver's (datagrams sent minus lost). GLIBC_TUNABLES {} in every child; \
         pinning {}.\n",
        opts.cc,
        opts.bytes / 1_000_000,
        opts.secs,
        match opts.iperf3_window.as_str() {
            "" => String::new(),
            w => format!(" -w {w}"),
        },
        match opts.tunables {
            Tunables::On => format!("`{GLIBC_TUNABLES}`"),
            Tunables::Off => "unset".into(),
        },
        if opts.pin {
            "servers on CPU 1, clients on CPU 0"
        } else {
            "off"
        },
    );
    let _ = writeln!(
        s,
        "| round | size | strata Mbit/s | iperf3 Mbit/s (sent, lost) | ratio | strata CPU s/GB client + server | strata CPU util client / server | strata handshake / close ms | iperf3 CPU % client / server (s/GB received) | others' load, CPUs: strata / iperf3 run |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let o = &r.ours;
        let others = match &r.iperf {
            Some(i) => format!("{:.2} / {:.2}", o.others, i.others),
            None => format!("{:.2} / -", o.others),
        };
        let (im, ratio, icpu) = match &r.iperf {
            Some(i) => (
                format!("{:.1} ({:.1}, {:.1}%)", i.mbps, i.sent_mbps, i.lost_percent),
                format!("{:.2}", o.mbps / i.mbps),
                format!(
                    "{:.0} / {:.0} ({:.1})",
                    i.client_cpu_pct, i.server_cpu_pct, i.cpu_per_gb
                ),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {im} | {ratio} | {:.2} + {:.2} | {:.0}% / {:.0}% | {:.1} / {:.1} | {icpu} | {others} |",
            r.round,
            r.size,
            o.mbps,
            o.client_cpu_per_gb,
            o.server_cpu_per_gb,
            o.client_util * 100.0,
            o.server_util * 100.0,
            o.handshake_ms,
            o.close_ms,
        );
    }
    let _ = writeln!(s);
    let mut by_size: BTreeMap<usize, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_size.entry(r.size).or_default().push(r);
    }
    let _ = writeln!(
        s,
        "| size | median strata Mbit/s | median iperf3 Mbit/s | median ratio | target | median ratio of quiet rounds (others < {QUIET} CPUs in both runs) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (size, rs) in &by_size {
        let ours = median(rs.iter().map(|r| r.ours.mbps).collect());
        let ip: Vec<f64> = rs.iter().filter_map(|r| r.iperf.map(|i| i.mbps)).collect();
        let ratios: Vec<f64> = rs
            .iter()
            .filter_map(|r| r.iperf.map(|i| r.ours.mbps / i.mbps))
            .collect();
        let quiet: Vec<f64> = rs
            .iter()
            .filter_map(|r| {
                let i = r.iperf?;
                (r.ours.others < QUIET && i.others < QUIET).then_some(r.ours.mbps / i.mbps)
            })
            .collect();
        let quiet = match quiet.len() {
            0 => "none".to_string(),
            n => format!("{:.2} (n = {n})", median(quiet)),
        };
        let (ipm, rm, verdict) = if ratios.is_empty() {
            ("-".to_string(), "-".to_string(), "-")
        } else {
            let m = median(ratios);
            (
                format!("{:.1}", median(ip)),
                format!("{m:.2}"),
                if m >= TARGET_RATIO { "met" } else { "NOT met" },
            )
        };
        let _ = writeln!(
            s,
            "| {size} | {ours:.1} | {ipm} | {rm} | >= {TARGET_RATIO:.1}: {verdict} | {quiet} |"
        );
    }
    let args: Vec<String> = std::env::args().collect();
    let _ = writeln!(s, "\nCommand: `{}`", args.join(" "));
    s
}

#[path = "../reliable_udp/json.rs"]
mod json;
use json::Json;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_an_iperf3_report() {
        let text = r#"{ "start": {"version": "iperf 3.12", "x": [1, 2.5e3, -3]},
            "end": { "sum_received": { "bytes": 74004000, "packets": 190162,
              "lost_packets": 128492, "sender": false, "s": "a\"b\u0041" } },
            "n": null }"#;
        let j = Json::parse(text).unwrap();
        assert_eq!(
            j.path(&["end", "sum_received", "bytes"])
                .and_then(Json::as_f64),
            Some(74_004_000.0)
        );
        assert_eq!(
            j.path(&["end", "sum_received", "s"]),
            Some(&Json::Str("a\"bA".into()))
        );
        assert_eq!(
            j.path(&["start", "x"]),
            Some(&Json::Arr(vec![
                Json::Num(1.0),
                Json::Num(2500.0),
                Json::Num(-3.0)
            ]))
        );
        assert_eq!(j.path(&["end", "missing"]), None);
        assert_eq!(j.path(&["n"]), Some(&Json::Null));
    }

    #[test]
    fn json_refuses_broken_input() {
        for bad in ["", "{", "{\"a\" 1}", "[1,]", "{\"a\":1} x", "\"abc", "tru"] {
            assert!(Json::parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(1000);
        assert!(Json::parse(&deep).is_err());
    }

    #[test]
    fn busy_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  100 5 50 1000 20 3 7 1 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_busy_ticks(stat), Some(166));
        assert_eq!(parse_busy_ticks("cpu0 1 2 3\n"), None);
        assert_eq!(parse_busy_ticks("cpu  1 2 x 4 5 6 7 8\n"), None);
        assert_eq!(parse_busy_ticks("cpu  1 2 3\n"), None);
        assert!(machine_busy_secs().unwrap() > 0.0);
    }

    #[test]
    fn medians_and_fields() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
        assert_eq!(field("DONE bytes=12 secs=0.5", "secs").unwrap(), 0.5);
        assert!(field("DONE bytes=12", "cpu").is_err());
    }
}
