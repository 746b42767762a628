//! `strata-bench`: side-by-side benchmarks of strata against its anchors
//! (raw tokio, a bare tokio task per socket, Twisted).
//!
//! One binary plays every part, each in its own process:
//!
//! * `strata-bench server --kind strata|tokio|tokio-bare` serves echo;
//! * `strata-bench load pingpong|bulk|cps|idle --addr A` generates load;
//! * `strata-bench run` starts them, interleaved, samples the servers from
//!   `/proc`, and prints medians and ratios strata / anchor.
//!
//! `scripts/bench` builds it in release mode, prepares the Twisted venv and
//! runs everything; BENCHMARKS.md holds the results.
#![forbid(unsafe_code)]

mod child;
mod echo;
mod load;
mod report;
mod run;
mod server;
mod strata_server;
mod sys;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Side-by-side benchmarks of strata against raw tokio and Twisted.
#[derive(Debug, Parser)]
#[command(name = "strata-bench", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve echo until stdin closes; prints `LISTENING <addr>`.
    Server {
        /// Which implementation.
        #[arg(long, value_enum)]
        kind: server::ServerKind,
        /// Address to listen on (port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// Runtime worker threads (1: current-thread runtime).
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
    /// Generate one load against a server.
    #[command(subcommand)]
    Load(load::Load),
    /// Run every benchmark against every server, interleaved, and report.
    Run(run::RunOpts),
}

fn main() -> ExitCode {
    let result = match Cli::parse().cmd {
        Cmd::Server {
            kind,
            addr,
            workers,
        } => server::serve(kind, addr, workers),
        Cmd::Load(l) => load::run(l),
        Cmd::Run(opts) => run::run(opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
