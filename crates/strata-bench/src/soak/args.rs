//! `soak run`'s arguments, apart from the orchestrator ([`run`](super::run))
//! and the summary ([`report`](super::report)), which both read them.

use std::path::PathBuf;

use super::Target;

/// What `soak run` is asked to do.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// The `strata` binary to soak.
    #[arg(long)]
    pub strata: PathBuf,
    /// Comma-separated targets: tcp, tls, h2c, h2tls.
    #[arg(long, default_value = "tcp,tls,h2c", value_delimiter = ',')]
    pub targets: Vec<Target>,
    /// Good connections per target.
    #[arg(long, default_value_t = 10_000)]
    pub conns: usize,
    /// Seconds of the measured window.
    #[arg(long, default_value_t = 60)]
    pub secs: u64,
    /// Silent sockets beside them.
    #[arg(long, default_value_t = 1000)]
    pub silent: usize,
    /// Slowloris sockets beside them.
    #[arg(long, default_value_t = 100)]
    pub slowloris: usize,
    /// `strata serve --max-connections` (0: leave the server's default).
    #[arg(long, default_value_t = 12_000)]
    pub max_connections: usize,
    /// `strata serve --workers` (default: the server's, one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Seconds one request may take before it counts as an error.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
    /// 1,000 connections, 100 silent, 10 slowloris, 10 s: a smoke run.
    #[arg(long)]
    pub quick: bool,
    /// Also write the Markdown summary to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The command line to show in the summary (the script passes its own).
    #[arg(long)]
    pub shown_command: Option<String>,
}

impl RunArgs {
    /// Applies `--quick`.
    pub fn effective(mut self) -> RunArgs {
        if self.quick {
            self.conns = self.conns.min(1000);
            self.secs = self.secs.min(10);
            self.silent = self.silent.min(100);
            self.slowloris = self.slowloris.min(10);
        }
        self
    }
}
