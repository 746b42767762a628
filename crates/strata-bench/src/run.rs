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
    /// A one-run smoke test with short loads (1 s, 256 MiB, 2,000 idle).
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
    /// Benchmarks to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "pingpong,bulk,cps,idle")]
    pub benches: Vec<Bench>,
    /// Duration of each pingpong and cps load, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
    /// Bytes each bulk load sends.
    #[arg(long, default_value_t = 1 << 30)]
    pub bulk_bytes: u64,
    /// Connections the idle load holds.
    #[arg(long, default_value_t = 10_000)]
    pub idle_conns: usize,
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
        }
    }

    fn sides(&self, bench: Bench) -> Vec<Side> {
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
    if !opts.skip_twisted && !opts.python.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} not found: run scripts/bench (it makes the venv) or pass --skip-twisted",
                opts.python.display()
            ),
        ));
    }
    let exe = std::env::current_exe()?;
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
                match measure(&opts, &exe, bench, side) {
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

fn server_command(opts: &RunOpts, exe: &std::path::Path, side: Side) -> Command {
    let kind = match side {
        Side::Twisted => {
            let mut c = Command::new(&opts.python);
            c.arg(&opts.twisted_script).args(["--addr", "127.0.0.1:0"]);
            return c;
        }
        Side::Strata => "strata",
        Side::Tokio => "tokio",
        Side::TokioBare => "tokio-bare",
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
    c
}

type Samples = Vec<(report::Metric, f64)>;

/// One measurement: a fresh server, one load, the server's `/proc` samples.
fn measure(opts: &RunOpts, exe: &std::path::Path, bench: Bench, side: Side) -> io::Result<Samples> {
    let mut server = Proc::spawn(
        format!("{} server", side.name()),
        server_command(opts, exe, side),
    )?;
    let addr = server.expect("LISTENING", START_TIMEOUT)?;
    let pid = server.pid();
    let mut load = Command::new(exe);
    load.args(["load", bench.name(), "--addr", &addr]);
    let secs = opts.secs.to_string();
    match bench {
        Bench::Pingpong | Bench::Cps => load.args(["--secs", &secs]),
        Bench::Bulk => load.args(["--bytes", &opts.bulk_bytes.to_string()]),
        Bench::Idle => load.args(["--conns", &opts.idle_conns.to_string()]),
    };
    let limit = Duration::from_secs_f64(opts.secs) + LOAD_SLACK;
    let before = sys::sample(pid)?;
    let mut load = Proc::spawn(format!("{} load", bench.name()), load)?;
    let out = if bench == Bench::Idle {
        let ready = load.expect("READY", limit)?;
        std::thread::sleep(IDLE_SETTLE);
        let after = sys::sample(pid)?;
        let conns = field(&ready, "conns")?;
        let grown = after.rss_bytes as f64 - before.rss_bytes as f64;
        vec![(report::IDLE_RSS, grown / conns)]
    } else {
        load.expect("START", limit)?;
        let start = sys::sample(pid)?;
        let result = load.expect("RESULT", limit)?;
        let end = sys::sample(pid)?;
        let cpu = end.cpu_secs - start.cpu_secs;
        let rate = field(&result, "rate")?;
        match bench {
            Bench::Pingpong => vec![
                (report::PINGPONG_RATE, rate),
                (report::PINGPONG_CPU, cpu * 1e6 / field(&result, "msgs")?),
            ],
            Bench::Bulk => vec![
                (report::BULK_RATE, rate),
                (
                    report::BULK_CPU,
                    cpu * 1e3 / (field(&result, "bytes")? / 1e9),
                ),
            ],
            _ => vec![
                (report::CPS_RATE, rate),
                (report::CPS_CPU, cpu * 1e6 / field(&result, "conns")?),
            ],
        }
    };
    load.finish(limit)?;
    drop(server);
    Ok(out)
}

fn render(opts: &RunOpts, results: &Results, failures: &[String]) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut s = String::new();
    s.push_str(&format!(
        "### Results: medians of {} run(s)\n\n\
         - command: `strata-bench {}`\n\
         - machine: {}, {} cores, Linux {}, loopback only\n\
         - every server and load process: `GLIBC_TUNABLES={GLIBC_TUNABLES}`\n\
         - loads: pingpong 50 conns × 64 B for {} s; bulk {} MiB; cps 8 loops for {} s; \
         idle {} conns; Rust servers: {}\n\n",
        opts.runs,
        args.join(" "),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        opts.secs,
        opts.bulk_bytes >> 20,
        opts.secs,
        opts.idle_conns,
        if opts.workers <= 1 {
            "current-thread runtime".to_string()
        } else {
            format!("multi-thread runtime, {} workers", opts.workers)
        },
    ));
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
