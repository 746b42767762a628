//! `soak`: thousands of well-behaved connections held against the real
//! `strata serve` binary, beside silent and slowloris sockets (issue 9).
//!
//! ```text
//! soak run --strata target/release/strata [--targets tcp,tls,h2c] [--quick] [--out FILE]
//! soak client --target tcp --addr 127.0.0.1:PORT [--conns N --secs S ...]
//! ```
//!
//! `run` starts a fresh server and a fresh `client` process per target,
//! reads the server's memory and CPU from `/proc`, and prints the Markdown
//! summary (`scripts/soak` puts it in BENCHMARKS.md). `client` is the load
//! generator alone. See `src/soak/mod.rs` for the parts.
#![forbid(unsafe_code)]

#[path = "../soak/mod.rs"]
mod soak;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "soak",
    about = "Soak strata serve under load beside hostile sockets"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Soak every target in turn and print the summary.
    Run(soak::args::RunArgs),
    /// The load generator of one target (run by `soak run`).
    Client(soak::client::ClientArgs),
}

fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::Run(a) => {
            let out = a.out.clone();
            match soak::run::run(a) {
                Ok((md, clean)) => {
                    println!("{md}");
                    if let Some(path) = out
                        && let Err(e) = std::fs::write(&path, &md)
                    {
                        eprintln!("soak: cannot write {}: {e}", path.display());
                        return ExitCode::FAILURE;
                    }
                    if clean {
                        ExitCode::SUCCESS
                    } else {
                        eprintln!("soak: some target was not clean (see the summary)");
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("soak: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Client(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build();
            let rt = match rt {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("soak client: cannot start tokio: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(soak::client::run(a)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("soak client: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
