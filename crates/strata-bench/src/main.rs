//! `strata-bench`: side-by-side benchmarks of strata against its anchors
//! (raw tokio, a bare tokio task per socket, Twisted).
//!
//! One binary plays every part, each in its own process:
//!
//! * `strata-bench server --kind strata|tokio|tokio-bare` serves echo, and
//!   `--kind strata-tls|tokio-rustls --cert C --key K` serves it over TLS;
//! * `strata-bench load pingpong|bulk|cps|idle --addr A` generates load, and
//!   `load pingpong|bulk|handshakes|idle --tls --cert C` loads over TLS;
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
mod tls;
mod tls_load;

use std::net::SocketAddr;
use std::path::PathBuf;
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
        /// PEM certificate of a TLS server (`strata-tls`, `tokio-rustls`).
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// PEM private key of a TLS server.
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// Read buffer per connection of the tokio-rustls server, in bytes
        /// (default: one TLS record of plaintext).
        #[arg(long, default_value_t = tls::RECORD_PLAINTEXT)]
        read_buf: usize,
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
            cert,
            key,
            read_buf,
        } => {
            let identity = cert.zip(key).map(|(cert, key)| server::Identity {
                cert,
                key,
                read_buf,
            });
            server::serve(kind, addr, workers, identity)
        }
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
