//! The orchestrator: for every run and every benchmark it starts each server
//! fresh, in an order that rotates which one goes first, runs the load in a
//! separate process, samples the server from `/proc`, and stops it. Then it
//! prints medians, ratios strata / anchor, and the targets.

use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::child::{field, Proc, GLIBC_TUNABLES};
use crate::report::{self, Bench, Results, Side};
use crate::sys;
use crate::tls::CertFiles;

/// How long a server may take to print `LISTENING`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Slack on top of a load's own duration before it counts as hung.
const LOAD_SLACK: Duration = Duration::from_secs(120);
/// Pause after the idle load is ready, before sampling the server's memory.
const IDLE_SETTLE: Duration = Duration::from_millis(500);

/// Options of `strata-bench run`.
#[derive(Clone, Debug, clap::Args)]
pub struct RunOpts {
    /// Runs per benchmark and server; medians are taken over them.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// A one-run smoke test with short loads (1 s, 256 MiB, 2,000 idle;
    /// over TLS 64 MiB and 1,000 idle).
    #[arg(long)]
    pub quick: bool,
    /// Leave the Twisted anchor out.
    #[arg(long)]
    pub skip_twisted: bool,
    /// Also write the markdown section to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The Python with Twisted installed (scripts/bench makes this venv).
    #[arg(long, default_value = ".venv-bench/bin/python")]
    pub python: PathBuf,
    /// The Twisted echo server script.
    #[arg(long, default_value = "benches/twisted_echo.py")]
    pub twisted_script: PathBuf,
    /// Benchmarks to run, comma-separated (the TLS ones: tls-pingpong,
    /// tls-bulk, tls-handshakes, tls-resumed, tls-idle).
    #[arg(long, value_delimiter = ',', default_value = "pingpong,bulk,cps,idle")]
    pub benches: Vec<Bench>,
    /// Run the five TLS benchmarks instead of `--benches`.
    #[arg(long, conflicts_with = "benches")]
    pub tls: bool,
    /// Duration of each pingpong and cps load, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
    /// Bytes each bulk load sends.
    #[arg(long, default_value_t = 1 << 30)]
    pub bulk_bytes: u64,
    /// Connections the idle load holds.
    #[arg(long, default_value_t = 10_000)]
    pub idle_conns: usize,
    /// Bytes each TLS bulk load sends.
    #[arg(long, default_value_t = 256 << 20)]
    pub tls_bulk_bytes: u64,
    /// Connections the TLS idle load holds.
    #[arg(long, default_value_t = 5_000)]
    pub tls_idle_conns: usize,
    /// Runtime worker threads of the Rust servers (1: current-thread).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

impl RunOpts {
    fn apply_quick(&mut self) {
        if self.quick {
            self.runs = 1;
            self.secs = 1.0;
            self.bulk_bytes = 256 << 20;
            self.idle_conns = 2_000;
            self.tls_bulk_bytes = 64 << 20;
            self.tls_idle_conns = 1_000;
        }
        if self.tls {
            self.benches = vec![
                Bench::TlsPingpong,
                Bench::TlsBulk,
                Bench::TlsHandshakes,
                Bench::TlsResumed,
                Bench::TlsIdle,
            ];
        }
    }

    fn sides(&self, bench: Bench) -> Vec<Side> {
        if bench.is_tls() {
            return vec![Side::StrataTls, Side::TokioRustls];
        }
        let mut v = vec![Side::Strata, Side::Tokio];
        if bench == Bench::Idle {
            v.push(Side::TokioBare);
        }
        if !self.skip_twisted {
            v.push(Side::Twisted);
        }
        v
    }
}

/// Runs the whole session and prints (and optionally writes) the report.
pub fn run(mut opts: RunOpts) -> io::Result<()> {
    opts.apply_quick();
    if opts.runs == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--runs must be ≥ 1",
        ));
    }
    if !(opts.secs.is_finite() && opts.secs > 0.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--secs must be a positive number",
        ));
    }
    let twisted = !opts.skip_twisted && opts.benches.iter().any(|b| !b.is_tls());
    if twisted && !opts.python.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} not found: run scripts/bench (it makes the venv) or pass --skip-twisted",
                opts.python.display()
            ),
        ));
    }
    let exe = std::env::current_exe()?;
    // One certificate for the whole session, presented by both TLS servers.
    let certs = if opts.benches.iter().any(|b| b.is_tls()) {
        Some(CertFiles::generate(&std::env::temp_dir(), "run")?)
    } else {
        None
    };
    let mut results = Results::default();
    let mut failures = Vec::new();
    for run in 0..opts.runs {
        for &bench in &opts.benches {
            let mut sides = opts.sides(bench);
            // Rotate who goes first, so drift in the machine hits every side.
            let len = sides.len();
            sides.rotate_left(run % len);
            for side in sides {
                let label = format!(
                    "run {}/{} {} {}",
                    run + 1,
                    opts.runs,
                    bench.name(),
                    side.name()
                );
                match measure(&opts, &exe, certs.as_ref(), bench, side) {
                    Ok(samples) => {
                        let shown: Vec<String> = samples
                            .iter()
                            .map(|(m, v)| format!("{} {v:.2}", m.name))
                            .collect();
                        eprintln!("{label}: {}", shown.join(", "));
                        for (m, v) in samples {
                            results.add(m, side, v);
                        }
                    }
                    Err(e) => {
                        eprintln!("{label}: FAILED: {e}");
                        failures.push(format!("{label}: {e}"));
                    }
                }
            }
        }
    }
    let section = render(&opts, &results, &failures);
    print!("{section}");
    if let Some(path) = &opts.out {
        std::fs::write(path, &section)?;
    }
    Ok(())
}

/// Read buffer of the tokio-rustls anchor in the throughput benchmarks:
/// the plain tokio anchor's (in the idle one it keeps its record-sized
/// default).
const ANCHOR_THROUGHPUT_BUF: usize = 64 * 1024;

fn server_command(
    opts: &RunOpts,
    exe: &std::path::Path,
    certs: Option<&CertFiles>,
    bench: Bench,
    side: Side,
) -> io::Result<Command> {
    let kind = match side {
        Side::Twisted => {
            let mut c = Command::new(&opts.python);
            c.arg(&opts.twisted_script).args(["--addr", "127.0.0.1:0"]);
            return Ok(c);
        }
        Side::Strata => "strata",
        Side::Tokio => "tokio",
        Side::TokioBare => "tokio-bare",
        Side::StrataTls => "strata-tls",
        Side::TokioRustls => "tokio-rustls",
    };
    let mut c = Command::new(exe);
    c.args([
        "server",
        "--kind",
        kind,
        "--addr",
        "127.0.0.1:0",
        "--workers",
    ])
    .arg(opts.workers.to_string());
    if matches!(side, Side::StrataTls | Side::TokioRustls) {
        let files = certs.ok_or_else(|| io::Error::other("no certificate for a TLS server"))?;
        c.arg("--cert")
            .arg(&files.cert)
            .arg("--key")
            .arg(&files.key);
        if side == Side::TokioRustls && bench != Bench::TlsIdle {
            c.args(["--read-buf", &ANCHOR_THROUGHPUT_BUF.to_string()]);
        }
    }
    Ok(c)
}

type Samples = Vec<(report::Metric, f64)>;

/// One measurement: a fresh server, one load, the server's `/proc` samples.
fn measure(
    opts: &RunOpts,
    exe: &std::path::Path,
    certs: Option<&CertFiles>,
    bench: Bench,
    side: Side,
) -> io::Result<Samples> {
    let mut server = Proc::spawn(
        format!("{} server", side.name()),
        server_command(opts, exe, certs, bench, side)?,
    )?;
    let addr = server.expect("LISTENING", START_TIMEOUT)?;
    let pid = server.pid();
    let mut load = Command::new(exe);
    load.args(["load", load_name(bench), "--addr", &addr]);
    let secs = opts.secs.to_string();
    match bench {
        Bench::Pingpong | Bench::Cps | Bench::TlsPingpong | Bench::TlsHandshakes => {
            load.args(["--secs", &secs])
        }
        Bench::TlsResumed => load.args(["--secs", &secs, "--resume"]),
        Bench::Bulk => load.args(["--bytes", &opts.bulk_bytes.to_string()]),
        Bench::TlsBulk => load.args(["--bytes", &opts.tls_bulk_bytes.to_string()]),
        Bench::Idle => load.args(["--conns", &opts.idle_conns.to_string()]),
        Bench::TlsIdle => load.args(["--conns", &opts.tls_idle_conns.to_string()]),
    };
    if bench.is_tls() {
        let files = certs.ok_or_else(|| io::Error::other("no certificate for a TLS load"))?;
        load.arg("--tls").arg("--cert").arg(&files.cert);
    }
    let limit = Duration::from_secs_f64(opts.secs) + LOAD_SLACK;
    let before = sys::sample(pid)?;
    let mut load = Proc::spawn(format!("{} load", bench.name()), load)?;
    let out = if matches!(bench, Bench::Idle | Bench::TlsIdle) {
        let ready = load.expect("READY", limit)?;
        std::thread::sleep(IDLE_SETTLE);
        let after = sys::sample(pid)?;
        let grown = after.rss_bytes as f64 - before.rss_bytes as f64;
        idle_samples(bench, &ready, grown)?
    } else {
        load.expect("START", limit)?;
        let start = sys::sample(pid)?;
        let result = load.expect("RESULT", limit)?;
        let end = sys::sample(pid)?;
        load_samples(bench, &result, end.cpu_secs - start.cpu_secs)?
    };
    load.finish(limit)?;
    drop(server);
    Ok(out)
}

/// The `strata-bench load` subcommand of a benchmark.
fn load_name(bench: Bench) -> &'static str {
    match bench {
        Bench::Pingpong | Bench::TlsPingpong => "pingpong",
        Bench::Bulk | Bench::TlsBulk => "bulk",
        Bench::Cps => "cps",
        Bench::TlsHandshakes | Bench::TlsResumed => "handshakes",
        Bench::Idle | Bench::TlsIdle => "idle",
    }
}

/// Memory per connection from the idle load's `READY` line and how much
/// the server's RSS grew.
fn idle_samples(bench: Bench, ready: &str, grown_bytes: f64) -> io::Result<Samples> {
    let metric = if bench.is_tls() {
        report::TLS_IDLE_RSS
    } else {
        report::IDLE_RSS
    };
    Ok(vec![(metric, grown_bytes / field(ready, "conns")?)])
}

/// The rate and the server CPU per unit of work from a load's `RESULT` line
/// and the server's CPU seconds over the measured phase. A handshake load
/// must show the handshakes it is named for: none resumed without a session
/// store, at least nine in ten resumed with one.
fn load_samples(bench: Bench, result: &str, cpu_secs: f64) -> io::Result<Samples> {
    use report::*;
    let rate = field(result, "rate")?;
    let per = |key: &str, scale: f64| field(result, key).map(|n| cpu_secs * scale / n);
    Ok(match bench {
        Bench::Pingpong => vec![(PINGPONG_RATE, rate), (PINGPONG_CPU, per("msgs", 1e6)?)],
        Bench::TlsPingpong => vec![
            (TLS_PINGPONG_RATE, rate),
            (TLS_PINGPONG_CPU, per("msgs", 1e6)?),
        ],
        Bench::Bulk => vec![(BULK_RATE, rate), (BULK_CPU, per("bytes", 1e12)?)],
        Bench::TlsBulk => vec![(TLS_BULK_RATE, rate), (TLS_BULK_CPU, per("bytes", 1e12)?)],
        Bench::Cps => vec![(CPS_RATE, rate), (CPS_CPU, per("conns", 1e6)?)],
        Bench::TlsHandshakes | Bench::TlsResumed => {
            let (conns, resumed) = (field(result, "conns")?, field(result, "resumed")?);
            let (rate_m, cpu_m) = if bench == Bench::TlsResumed {
                // Each of the 8 loops starts with a full handshake (no ticket
                // yet); of the rest, 90% must resume.
                if resumed < 0.9 * (conns - 8.0).max(0.0) {
                    return Err(io::Error::other(format!(
                        "only {resumed} of {conns} handshakes resumed"
                    )));
                }
                (TLS_RESUMED_RATE, TLS_RESUMED_CPU)
            } else {
                if resumed > 0.0 {
                    return Err(io::Error::other(format!(
                        "{resumed} of {conns} full handshakes resumed"
                    )));
                }
                (TLS_HANDSHAKE_RATE, TLS_HANDSHAKE_CPU)
            };
            vec![(rate_m, rate), (cpu_m, per("conns", 1e6)?)]
        }
        Bench::Idle | Bench::TlsIdle => {
            return Err(io::Error::other("the idle loads print READY, not RESULT"))
        }
    })
}

fn render(opts: &RunOpts, results: &Results, failures: &[String]) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut s = String::new();
    s.push_str(&format!(
        "### Results: medians of {} run(s)\n\n\
         - command: `strata-bench {}`\n\
         - machine: {}, {} cores, Linux {}, loopback only\n\
         - every server and load process: `GLIBC_TUNABLES={GLIBC_TUNABLES}`\n\
         - Rust servers: {}\n",
        opts.runs,
        args.join(" "),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        if opts.workers <= 1 {
            "current-thread runtime".to_string()
        } else {
            format!("multi-thread runtime, {} workers", opts.workers)
        },
    ));
    if opts.benches.iter().any(|b| !b.is_tls()) {
        s.push_str(&format!(
            "- loads: pingpong 50 conns × 64 B for {} s; bulk {} MiB; cps 8 loops for {} s; \
             idle {} conns\n",
            opts.secs,
            opts.bulk_bytes >> 20,
            opts.secs,
            opts.idle_conns,
        ));
    }
    if opts.benches.iter().any(|b| b.is_tls()) {
        s.push_str(&format!(
            "- TLS: rustls (ring) on both sides, one self-signed ECDSA P-256 certificate for \
             both servers; tokio-rustls anchor reads into 64 KiB (16 KiB, one record, in \
             idle); client tokio-rustls, one shared `ClientConfig`; pingpong 50 conns × \
             64 B for {} s; bulk {} MiB; handshakes 8 loops of connect + handshake + 1-byte \
             echo + close_notify for {} s (full: no session store; resumed: TLS 1.3 \
             resumption, checked ≥ 90% resumed); idle {} conns\n",
            opts.secs,
            opts.tls_bulk_bytes >> 20,
            opts.secs,
            opts.tls_idle_conns,
        ));
    }
    s.push('\n');
    s.push_str(&results.table());
    s.push('\n');
    s.push_str(&results.targets());
    if !failures.is_empty() {
        s.push_str("\nFailed measurements (left out of the medians):\n\n");
        for f in failures {
            s.push_str(&format!("- {f}\n"));
        }
    }
    s
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_results_become_their_own_metrics() {
        let s = load_samples(Bench::TlsPingpong, "msgs=2000 secs=1.0 rate=2000.0", 0.5).unwrap();
        assert_eq!(s[0], (report::TLS_PINGPONG_RATE, 2000.0));
        assert_eq!(s[1].0, report::TLS_PINGPONG_CPU);
        assert!((s[1].1 - 250.0).abs() < 1e-9);
        let s = load_samples(Bench::TlsBulk, "bytes=1000000000 secs=2 rate=500.0", 1.5).unwrap();
        assert_eq!(s[0], (report::TLS_BULK_RATE, 500.0));
        assert!((s[1].1 - 1500.0).abs() < 1e-9);
        let ready = idle_samples(Bench::TlsIdle, "conns=100", 640_000.0).unwrap();
        assert_eq!(ready, vec![(report::TLS_IDLE_RSS, 6400.0)]);
    }

    #[test]
    fn handshake_results_must_show_the_handshakes_they_are_named_for() {
        let full = "conns=400 full=400 resumed=0 failed=0 secs=1.0 rate=400.0";
        let s = load_samples(Bench::TlsHandshakes, full, 0.2).unwrap();
        assert_eq!(s[0], (report::TLS_HANDSHAKE_RATE, 400.0));
        assert!((s[1].1 - 500.0).abs() < 1e-9);
        // A full-handshake run may not resume, a resumed run must.
        assert!(load_samples(Bench::TlsResumed, full, 0.2).is_err());
        let resumed = "conns=400 full=1 resumed=399 failed=0 secs=1.0 rate=400.0";
        let s = load_samples(Bench::TlsResumed, resumed, 0.2).unwrap();
        assert_eq!(s[0], (report::TLS_RESUMED_RATE, 400.0));
        assert!(load_samples(Bench::TlsHandshakes, resumed, 0.2).is_err());
        // A line without the counts is refused, not read as zero.
        assert!(load_samples(Bench::TlsResumed, "conns=4 rate=4.0", 0.2).is_err());
    }

    #[test]
    fn the_tls_flag_selects_the_tls_benchmarks_and_their_sides() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            run: RunOpts,
        }
        let mut opts = Cli::parse_from(["x", "--tls", "--quick"]).run;
        opts.apply_quick();
        assert_eq!(opts.benches.len(), 5);
        assert!(opts.benches.iter().all(|b| b.is_tls()));
        assert_eq!(
            opts.sides(Bench::TlsIdle),
            vec![Side::StrataTls, Side::TokioRustls]
        );
        assert_eq!(load_name(Bench::TlsResumed), "handshakes");
        assert!(Cli::try_parse_from(["x", "--tls", "--benches", "bulk"]).is_err());
    }
}
