//! `reliable_sim`: goodput and latency of the reliable mapping against KCP
//! (the `kcp` crate) through the same simulated link, in virtual time.
//!
//! The path: 100 Mbit/s, 20 ms each way, a tail-drop queue of one
//! bandwidth-delay product (500 KB) in each direction, random loss in both
//! directions. Bulk: 50 MB client → server at 0%, 1% and 5% loss, for each
//! congestion controller of our mapping, our KCP mode (congestion control
//! on) and the `kcp` crate in fast and default mode. Latency: 1 KB
//! messages at 100 per second for 60 s at 5% loss, for our default
//! controller, our KCP mode and both `kcp` crate modes. The report ends
//! with the ratios the issue sets targets for.
//! `scripts/bench-reliable` builds it in release and runs it.
//!
//! `--quick` runs a small version (2 MB at 1% loss, 2 s of messages) and
//! exits non-zero unless every byte arrived, checked and in order.
#![forbid(unsafe_code)]

#[path = "../reliable_sim/mod.rs"]
mod sim;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use strata::reliable::cc::CcAlgorithm;

use sim::kcp_host::KcpMode;
use sim::{report, Options, Path, RunResult, Transport};

/// Goodput and latency of the reliable mapping against KCP, simulated.
#[derive(Debug, Parser)]
#[command(name = "reliable_sim")]
struct Cli {
    /// Seed of the simulated network.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bytes per bulk transfer.
    #[arg(long, default_value_t = 50_000_000)]
    bytes: u64,
    /// Loss rates of the bulk runs, in percent.
    #[arg(long, value_delimiter = ',', default_value = "0,1,5")]
    loss: Vec<f64>,
    /// Loss rate of the latency run, in percent.
    #[arg(long, default_value_t = 5.0)]
    latency_loss: f64,
    /// Seconds of messages in the latency run (100 per second).
    #[arg(long, default_value_t = 60)]
    latency_secs: u64,
    /// Datagram size of every transport (KCP's mtu).
    #[arg(long, default_value_t = sim::ours::OURS_DATAGRAM)]
    datagram: usize,
    /// KCP snd_wnd = rcv_wnd in segments (default: 2 x BDP / mss).
    #[arg(long)]
    kcp_wnd: Option<usize>,
    /// Virtual seconds after which a run is given up (reported incomplete).
    #[arg(long, default_value_t = 4000)]
    max_sim_secs: u64,
    /// Bottleneck rate of the path each way, bits per second (of
    /// datagram bytes: the simulator counts no UDP/IP headers).
    #[arg(long, default_value_t = Path::standard(0.0).rate_bps)]
    rate_bps: u64,
    /// One-way delay of the path, microseconds.
    #[arg(long, default_value_t = Path::standard(0.0).one_way.as_micros() as u64)]
    one_way_us: u64,
    /// Bottleneck queue each way, bytes of datagrams (default: one
    /// bandwidth-delay product of the path).
    #[arg(long)]
    queue_bytes: Option<usize>,
    /// Leave the latency run out (bulk runs only).
    #[arg(long)]
    no_latency: bool,
    /// Print one tab-separated line per bulk run instead of the report:
    /// `bulk`, transport, loss %, bytes delivered, bytes expected, goodput
    /// bit/s, goodput / rate, `ok` or `incomplete`, then client → server
    /// datagrams sent, lost at random, dropped by the queue.
    #[arg(long)]
    tsv: bool,
    /// Only these transports (comma list of: bbr, newreno, cubic,
    /// kcp-fast, kcp-default, strata-kcp).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The small correctness run: 2 MB at 1% loss and 2 s of messages;
    /// fails unless every byte arrived in order.
    #[arg(long)]
    quick: bool,
}

const ALL: [(&str, Transport); 6] = [
    ("bbr", Transport::Ours(CcAlgorithm::Bbr)),
    ("newreno", Transport::Ours(CcAlgorithm::NewReno)),
    ("cubic", Transport::Ours(CcAlgorithm::Cubic)),
    ("kcp-fast", Transport::Kcp(KcpMode::Fast)),
    ("kcp-default", Transport::Kcp(KcpMode::Default)),
    ("strata-kcp", Transport::StrataKcp),
];

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if cli.quick {
        cli.bytes = 2_000_000;
        cli.loss = vec![1.0];
        cli.latency_secs = 2;
    }
    let transports: Vec<Transport> = ALL
        .iter()
        .filter(|(name, _)| cli.only.is_empty() || cli.only.iter().any(|o| o == name))
        .map(|&(_, t)| t)
        .collect();
    let opts = Options {
        seed: cli.seed,
        datagram: cli.datagram,
        kcp_wnd: cli.kcp_wnd,
        max_sim: Duration::from_secs(cli.max_sim_secs),
    };
    let started = Instant::now();
    let command: Vec<String> = std::env::args().collect();
    if !cli.tsv {
        println!("# Reliable mapping vs KCP, simulated\n");
        println!("Command: `{}`\n", command.join(" "));
    }
    let path_at = |loss: f64| {
        let mut p = Path::custom(cli.rate_bps, Duration::from_micros(cli.one_way_us), 0, loss);
        p.queue = cli.queue_bytes.unwrap_or_else(|| p.bdp());
        p
    };
    let path0 = path_at(0.0);
    let kcp = sim::kcp_setup(&opts, &path0, KcpMode::Fast);
    if !cli.tsv {
        println!(
            "Path: {} Mbit/s, {} µs RTT, queue {} bytes each way, random loss both ways; seed {}; \
         datagrams of {} bytes (KCP mss {}, wnd {} segments).\n",
            path0.rate_bps as f64 / 1e6,
            path0.rtt().as_micros(),
            path0.queue,
            opts.seed,
            opts.datagram,
            kcp.mss(),
            kcp.wnd,
        );
    }

    let mut bulk = Vec::new();
    for &loss in &cli.loss {
        for &t in &transports {
            let r = sim::run_bulk(&opts, t, path_at(loss / 100.0), cli.bytes);
            eprintln!("{}", progress(&r));
            bulk.push(r);
        }
    }
    let count = cli.latency_secs * 100;
    let mut lat = Vec::new();
    for &t in transports.iter().filter(|_| !cli.no_latency) {
        if matches!(t, Transport::Ours(cc) if cc != CcAlgorithm::Bbr) {
            continue;
        }
        let path = path_at(cli.latency_loss / 100.0);
        let r = sim::run_latency(&opts, t, path, count, Duration::from_millis(10));
        eprintln!("{}", progress(&r));
        lat.push(r);
    }

    if cli.tsv {
        for r in &bulk {
            println!(
                "bulk\t{}\t{}\t{}\t{}\t{:.0}\t{:.4}\t{}\t{}\t{}\t{}",
                r.transport.label(),
                r.path.loss * 100.0,
                r.delivered,
                r.expected,
                r.goodput_bps(),
                r.goodput_bps() / r.path.rate_bps as f64,
                if r.complete() { "ok" } else { "incomplete" },
                r.up.sent,
                r.up.lost(),
                r.up.dropped_queue,
            );
        }
    } else {
        println!("## Goodput\n\n{}", report::bulk_table(&bulk));
        if !cli.no_latency {
            println!("## Latency\n\n{}", report::latency_table(&lat));
        }
        println!("## Targets\n\n{}", report::targets(&bulk, &lat));
        println!("Total wall time: {:.1} s", started.elapsed().as_secs_f64());
    }

    // What arrived must be right; in the quick run, everything must arrive.
    let failed: Vec<&RunResult> = bulk
        .iter()
        .chain(&lat)
        .filter(|r| r.unavailable.is_none() && (r.failed() || (cli.quick && !r.complete())))
        .collect();
    for r in &failed {
        eprintln!(
            "FAILED: {} at {:.0}% loss: {}",
            r.transport.label(),
            r.path.loss * 100.0,
            r.error.as_deref().unwrap_or("incomplete")
        );
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn progress(r: &RunResult) -> String {
    format!(
        "{:>22} loss {:>4.1}%: {} {:.2} Mbit/s, {}/{} bytes, sim {:.1} s, wall {:.2} s, \
         lost {}+{}, queue drops {}+{}",
        r.transport.label(),
        r.path.loss * 100.0,
        if r.unavailable.is_some() {
            "n/a"
        } else if r.complete() {
            "ok"
        } else {
            "INCOMPLETE"
        },
        r.goodput_bps() / 1e6,
        r.delivered,
        r.expected,
        r.sim.as_secs_f64(),
        r.wall.as_secs_f64(),
        r.up.lost(),
        r.down.lost(),
        r.up.dropped_queue,
        r.down.dropped_queue,
    )
}
