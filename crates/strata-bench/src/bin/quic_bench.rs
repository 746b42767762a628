//! `quic_bench`: strata's QUIC layer side by side with quinn (on tokio) over
//! UDP loopback. Both wrap the same quinn-proto, so what differs is the
//! driver and the layering.
//!
//! Three workloads, each run by a server child and a client child (separate
//! processes, one tokio worker each), alternating strata and quinn in every
//! round:
//!
//! * `bulk`: one bidirectional stream carries `--bytes` bytes to the server,
//!   which answers with the count it received (checked) and finishes.
//! * `streams`: `--streams` bidirectional streams, at most `--concurrency`
//!   open at once, each carrying 32 bytes up and the 8-byte count back.
//! * `handshakes`: `--handshakes` connections one after the other, each
//!   closed by the client once its handshake is done. Both clients do a
//!   full TLS handshake every time (session resumption off on both).
//!
//! Both sides use the same transport settings (windows, stream limits,
//! GSO where the driver has it); the certificate is made by the server
//! child and handed to the client child through the orchestrator, so both
//! verify it for real. The report gives, per workload, the rate and the
//! server's CPU per unit for each side, the ratio strata / quinn per round,
//! and the medians, with the exact command line.
#![forbid(unsafe_code)]

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use nix::sys::resource::{getrusage, UsageWho};

#[path = "../quic_bench/quinn_side.rs"]
mod quinn_side;
#[path = "../quic_bench/reliable_side.rs"]
mod reliable_side;
#[path = "../quic_bench/strata_side.rs"]
mod strata_side;

/// The memcpy tunable: this CPU's `rep movsb` is about 25x slower on
/// misaligned buffers; both sides run with it.
const GLIBC_TUNABLES: &str = "glibc.cpu.x86_rep_movsb_threshold=10000000";
/// How long a child may take to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The ALPN both sides speak.
pub const ALPN: &[u8] = b"strata-bench";
/// Bytes each stream of the `streams` workload carries up.
pub const SMALL: usize = 32;
/// Bytes per write in `bulk`.
pub const CHUNK: usize = 64 * 1024;

/// The transport settings both sides use.
#[derive(Clone, Copy, Debug)]
pub struct Transport {
    /// Per-stream receive window.
    pub stream_window: u64,
    /// Connection receive window.
    pub conn_window: u64,
    /// Send window.
    pub send_window: u64,
    /// Concurrent bidirectional streams the peer may open (ten times the
    /// client's lanes: a stream's slot comes back only once its close is
    /// acknowledged, up to an ACK delay later, which would otherwise cap
    /// both sides alike at lanes / 25 ms).
    pub max_streams: u64,
    /// Streams the client keeps open at once.
    pub lanes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Imp {
    Strata,
    Quinn,
    /// The reliable mapping (`reliable+udp://`), bulk only.
    Reliable,
}

/// A workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    Bulk,
    Streams,
    Handshakes,
}

#[derive(Debug, Parser)]
#[command(name = "quic_bench")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run every round and print the Markdown report.
    Run(RunOpts),
    /// Child: serve until stdin closes, then print `CPU secs=...`.
    Serve {
        #[arg(long = "impl", value_enum)]
        imp: Imp,
        #[command(flatten)]
        tr: TransportArgs,
    },
    /// Child: run one workload against `--addr`, print `RESULT ...`.
    Client {
        #[arg(long = "impl", value_enum)]
        imp: Imp,
        #[arg(long, value_enum)]
        workload: Workload,
        #[arg(long)]
        addr: SocketAddr,
        /// The server's certificate, DER in hex.
        #[arg(long)]
        cert: String,
        /// Units: bytes for bulk, streams, or handshakes.
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        tr: TransportArgs,
    },
}

#[derive(Debug, clap::Args, Clone, Copy)]
struct TransportArgs {
    #[arg(long, default_value_t = 4 << 20)]
    stream_window: u64,
    #[arg(long, default_value_t = 16 << 20)]
    conn_window: u64,
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
}

impl TransportArgs {
    fn transport(&self) -> Transport {
        Transport {
            stream_window: self.stream_window,
            conn_window: self.conn_window,
            send_window: self.conn_window,
            max_streams: 10 * self.concurrency.max(1) as u64,
            lanes: self.concurrency.max(1) as u64,
        }
    }
}

#[derive(Debug, clap::Args, Clone)]
struct RunOpts {
    /// Rounds; each runs both implementations once per workload.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Workloads to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Workload::Bulk, Workload::Streams, Workload::Handshakes])]
    workloads: Vec<Workload>,
    /// Bytes of the bulk transfer.
    #[arg(long, default_value_t = 200_000_000)]
    bytes: u64,
    /// Streams of the streams workload.
    #[arg(long, default_value_t = 10_000)]
    streams: u64,
    /// Connections of the handshakes workload.
    #[arg(long, default_value_t = 2_000)]
    handshakes: u64,
    /// Streams open at once (and each side's stream limit).
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Per-stream receive window.
    #[arg(long, default_value_t = 4 << 20)]
    stream_window: u64,
    /// Connection receive and send window.
    #[arg(long, default_value_t = 16 << 20)]
    conn_window: u64,
    /// Also run the reliable mapping's bulk (`reliable+udp://`) in every
    /// round, next to both QUIC sides.
    #[arg(long)]
    reliable: bool,
    /// One small round of each (a smoke run).
    #[arg(long)]
    quick: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Run(opts) => run(opts),
        Cmd::Serve { imp, tr } => match imp {
            Imp::Strata => strata_side::serve(tr.transport()),
            Imp::Quinn => quinn_side::serve(tr.transport()),
            Imp::Reliable => reliable_side::serve(),
        },
        Cmd::Client {
            imp,
            workload,
            addr,
            cert,
            count,
            tr,
        } => {
            let cert = match if cert == "-" {
                Some(Vec::new())
            } else {
                unhex(&cert)
            } {
                Some(c) => c,
                None => {
                    eprintln!("quic_bench: --cert is not hex");
                    return ExitCode::FAILURE;
                }
            };
            let started = Instant::now();
            let r = match imp {
                Imp::Strata => strata_side::client(workload, addr, cert, count, tr.transport()),
                Imp::Quinn => quinn_side::client(workload, addr, cert, count, tr.transport()),
                Imp::Reliable if workload == Workload::Bulk => reliable_side::client(addr, count),
                Imp::Reliable => Err(io::Error::other("the reliable mapping runs bulk only")),
            };
            r.and_then(|()| {
                println!(
                    "RESULT secs={:.6} cpu={:.6}",
                    started.elapsed().as_secs_f64(),
                    cpu_secs()?
                );
                Ok(())
            })
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quic_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// CPU seconds (user + system) of this process so far.
pub fn cpu_secs() -> io::Result<f64> {
    let u = getrusage(UsageWho::RUSAGE_SELF).map_err(io::Error::other)?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(secs(u.user_time()) + secs(u.system_time()))
}

/// A current-thread runtime: one worker, as every side of every bench here.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A self-signed certificate for `localhost`: (cert DER, key DER, cert PEM, key PEM).
pub fn self_signed() -> io::Result<(Vec<u8>, Vec<u8>, String, String)> {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(io::Error::other)?;
    Ok((
        c.cert.der().to_vec(),
        c.key_pair.serialize_der(),
        c.cert.pem(),
        c.key_pair.serialize_pem(),
    ))
}

/// Prints the line the orchestrator waits for, then serves until stdin
/// closes and prints the CPU the server used.
pub fn announce(addr: SocketAddr, cert_der: &[u8]) {
    println!("LISTENING {addr} {}", hex(cert_der));
    let _ = io::stdout().flush();
}

/// Blocks until the orchestrator closes stdin.
pub fn until_stdin_closes() -> io::Result<()> {
    io::copy(&mut io::stdin(), &mut io::sink()).map(|_| ())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The count a server answers with: 8 bytes, little-endian.
pub fn count_reply(n: u64) -> [u8; 8] {
    n.to_le_bytes()
}

/// How long a client child may run.
const CLIENT_DEADLINE: Duration = Duration::from_secs(300);

/// A child, killed when dropped (a failed round leaves none behind).
struct ServerChild {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// A child's stdout, line by line, read by a thread so that every wait has
/// a deadline (a hung child fails the round instead of hanging the bench).
struct Lines(std::sync::mpsc::Receiver<String>);

impl Lines {
    fn new(out: std::process::ChildStdout) -> Lines {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    fn next(&self, what: &str, within: Duration) -> io::Result<String> {
        self.0.recv_timeout(within).map_err(|e| {
            io::Error::other(format!(
                "{what}: no line from the child within {within:?} ({e})"
            ))
        })
    }
}

fn spawn(args: &[String]) -> io::Result<(Child, Lines)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(args)
        .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?;
    Ok((child, Lines::new(out)))
}

fn field(line: &str, key: &str) -> io::Result<f64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {key}= in {line:?}")))
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One measurement: units per second and server CPU seconds per unit.
#[derive(Clone, Copy, Debug)]
struct Sample {
    rate: f64,
    server_cpu_per_unit: f64,
}

fn transport_args(t: &Transport) -> Vec<String> {
    vec![
        "--stream-window".into(),
        t.stream_window.to_string(),
        "--conn-window".into(),
        t.conn_window.to_string(),
        "--concurrency".into(),
        t.lanes.to_string(),
    ]
}

fn measure(imp: Imp, w: Workload, count: u64, tr: &Transport) -> io::Result<Sample> {
    let name = match imp {
        Imp::Strata => "strata",
        Imp::Quinn => "quinn",
        Imp::Reliable => "reliable",
    };
    let mut sargs = vec!["serve".to_string(), "--impl".into(), name.into()];
    sargs.extend(transport_args(tr));
    let (child, out) = spawn(&sargs)?;
    let mut server = ServerChild { stdin: None, child };
    server.stdin = server.child.stdin.take();
    let first = out.next("server start", START_TIMEOUT)?;
    let mut parts = first.split_whitespace();
    let (Some("LISTENING"), Some(addr), Some(cert)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(io::Error::other(format!("server said {first:?}")));
    };
    let wname = match w {
        Workload::Bulk => "bulk",
        Workload::Streams => "streams",
        Workload::Handshakes => "handshakes",
    };
    let mut cargs = vec![
        "client".to_string(),
        "--impl".into(),
        name.into(),
        "--workload".into(),
        wname.into(),
        "--addr".into(),
        addr.into(),
        "--cert".into(),
        cert.into(),
        "--count".into(),
        count.to_string(),
    ];
    cargs.extend(transport_args(tr));
    let (cchild, cout) = spawn(&cargs)?;
    let mut client = ServerChild {
        stdin: None,
        child: cchild,
    };
    drop(client.child.stdin.take());
    let res = cout.next("client result", CLIENT_DEADLINE)?;
    let status = client.child.wait()?;
    if !status.success() || !res.starts_with("RESULT") {
        return Err(io::Error::other(format!(
            "{name} {wname} client failed: {res}"
        )));
    }
    let secs = field(&res, "secs")?;
    drop(server.stdin.take());
    let cpu_line = out.next("server cpu", START_TIMEOUT)?;
    let server_cpu = field(&cpu_line, "secs")?;
    drop(server);
    Ok(Sample {
        rate: count as f64 / secs,
        server_cpu_per_unit: server_cpu / count as f64,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn run(mut opts: RunOpts) -> io::Result<()> {
    if opts.quick {
        opts.rounds = 1;
        opts.bytes = opts.bytes.min(20_000_000);
        opts.streams = opts.streams.min(1_000);
        opts.handshakes = opts.handshakes.min(100);
    }
    // The children get these as flags and derive the same settings.
    let tr = TransportArgs {
        stream_window: opts.stream_window,
        conn_window: opts.conn_window,
        concurrency: opts.concurrency,
    }
    .transport();
    let mut reliable_rows = String::new();
    let mut report = String::new();
    let cmd: Vec<String> = std::env::args().collect();
    report.push_str(&format!(
        "`{}` ({} rounds, strata and quinn alternating, one tokio worker per process, GLIBC_TUNABLES={GLIBC_TUNABLES} on both)\n\n",
        cmd.join(" "),
        opts.rounds
    ));
    for &w in &opts.workloads {
        let (count, unit) = match w {
            Workload::Bulk => (opts.bytes, "MB/s"),
            Workload::Streams => (opts.streams, "streams/s"),
            Workload::Handshakes => (opts.handshakes, "handshakes/s"),
        };
        let scale = if w == Workload::Bulk { 1e-6 } else { 1.0 };
        let cpu_unit = if w == Workload::Bulk {
            "server CPU s/GB"
        } else {
            "server CPU µs/unit"
        };
        let cpu_scale = if w == Workload::Bulk { 1e9 } else { 1e6 };
        report.push_str(&format!(
            "### {w:?}\n\n| round | strata {unit} | quinn {unit} | ratio | strata {cpu_unit} | quinn {cpu_unit} | ratio |\n|---|---|---|---|---|---|---|\n"
        ));
        let (mut rates, mut cpus) = (Vec::new(), Vec::new());
        let with_reliable = opts.reliable && w == Workload::Bulk;
        let (mut rel_q, mut rel_s) = (Vec::new(), Vec::new());
        for round in 0..opts.rounds {
            let order = if round % 2 == 0 {
                [Imp::Strata, Imp::Quinn]
            } else {
                [Imp::Quinn, Imp::Strata]
            };
            let mut got = [None, None];
            for imp in order {
                eprintln!("quic_bench: round {} {w:?} {imp:?}", round + 1);
                let s = measure(imp, w, count, &tr)?;
                got[(imp == Imp::Quinn) as usize] = Some(s);
            }
            if with_reliable {
                eprintln!("quic_bench: round {} {w:?} Reliable", round + 1);
                let r = measure(Imp::Reliable, w, count, &tr)?;
                if let (Some(s), Some(q)) = (got[0], got[1]) {
                    rel_q.push(r.rate / q.rate);
                    rel_s.push(r.rate / s.rate);
                    reliable_rows.push_str(&format!(
                        "| {} | {:.1} | {:.3} | {:.3} | {:.3} |\n",
                        round + 1,
                        r.rate * scale,
                        r.rate / s.rate,
                        r.rate / q.rate,
                        r.server_cpu_per_unit * cpu_scale,
                    ));
                }
            }
            let (Some(s), Some(q)) = (got[0], got[1]) else {
                continue;
            };
            let rr = s.rate / q.rate;
            let cr = s.server_cpu_per_unit / q.server_cpu_per_unit;
            rates.push(rr);
            cpus.push(cr);
            report.push_str(&format!(
                "| {} | {:.1} | {:.1} | {rr:.3} | {:.3} | {:.3} | {cr:.3} |\n",
                round + 1,
                s.rate * scale,
                q.rate * scale,
                s.server_cpu_per_unit * cpu_scale,
                q.server_cpu_per_unit * cpu_scale,
            ));
        }
        report.push_str(&format!(
            "\nMedian ratio strata / quinn: rate **{:.3}**, server CPU per unit **{:.3}**\n\n",
            median(rates),
            median(cpus)
        ));
        if with_reliable {
            report.push_str(&format!(
                "The reliable mapping's bulk in the same rounds:\n\n| round | reliable MB/s | reliable / strata QUIC | reliable / quinn | reliable server CPU s/GB |\n|---|---|---|---|---|\n{reliable_rows}\nMedian: reliable / strata QUIC **{:.3}**, reliable / quinn **{:.3}**\n\n",
                median(rel_s),
                median(rel_q)
            ));
        }
    }
    print!("{report}");
    Ok(())
}
