//! The soak's summary: one row per target for the good connections, one
//! row per target and kind for the hostile sockets, as Markdown.

use std::fmt::Write;

use super::args::RunArgs;
use super::{field, fields, Target};

/// What one target's soak measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The target.
    pub target: Target,
    /// Good connections up after the ramp.
    pub good: usize,
    /// Hostile sockets open when the ramp ended.
    pub hostile_open: usize,
    /// Seconds the ramp took.
    pub ramp_secs: f64,
    /// Requests scheduled, answered correctly, and not.
    pub requests: u64,
    /// Requests answered correctly.
    pub ok: u64,
    /// Requests not answered correctly (errors, timeouts, lost connections).
    pub errors: u64,
    /// Latency percentiles, in µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Slowest request, µs.
    pub max_us: u64,
    /// Server VmRSS before any connection, at full load, at the end, and its
    /// peak (VmHWM), in bytes.
    pub rss_before: u64,
    /// Right after the ramp.
    pub rss_ready: u64,
    /// At full load: the middle of the window.
    pub rss_full: u64,
    /// At the end of the window.
    pub rss_end: u64,
    /// Peak.
    pub rss_peak: u64,
    /// Server CPU over the window, in seconds.
    pub server_cpu_secs: f64,
    /// The load generator's CPU over the window, in seconds.
    pub client_cpu_secs: f64,
    /// CPU every other process on the machine used over the window.
    pub other_cpu_secs: f64,
    /// How late the requests were sent against their schedule, µs.
    pub lag_p50_us: u64,
    /// 99th percentile of that.
    pub lag_p99_us: u64,
    /// The window's length, in seconds.
    pub window_secs: f64,
    /// The client's `HOSTILE` lines.
    pub hostile: Vec<String>,
    /// The client's first error, if any.
    pub first_error: Option<String>,
    /// The client's `RESULT` line.
    pub line: String,
    /// Whether the client exited cleanly with a result.
    pub client_ok: bool,
    /// Whether the server was still running at the end.
    pub server_alive: bool,
    /// Lines the server logged at `warn` and above, and panics among them.
    pub server_log_lines: usize,
    /// Panics in the server's log.
    pub server_panics: usize,
}

impl Outcome {
    /// An empty outcome for `target`.
    pub fn new(target: Target) -> Outcome {
        Outcome {
            target,
            good: 0,
            hostile_open: 0,
            ramp_secs: 0.0,
            requests: 0,
            ok: 0,
            errors: 0,
            p50_us: 0,
            p99_us: 0,
            p999_us: 0,
            max_us: 0,
            rss_before: 0,
            rss_ready: 0,
            rss_full: 0,
            rss_end: 0,
            rss_peak: 0,
            server_cpu_secs: 0.0,
            client_cpu_secs: 0.0,
            other_cpu_secs: 0.0,
            lag_p50_us: 0,
            lag_p99_us: 0,
            window_secs: 0.0,
            hostile: Vec::new(),
            first_error: None,
            line: String::new(),
            client_ok: false,
            server_alive: false,
            server_log_lines: 0,
            server_panics: 0,
        }
    }

    /// Reads the client's `RESULT` fields.
    pub fn result(&mut self, fs: &[(&str, &str)]) {
        let u = |k: &str| field::<u64>(fs, k).unwrap_or(0);
        self.requests = u("requests");
        self.ok = u("ok");
        self.errors = u("errors");
        self.p50_us = u("p50_us");
        self.p99_us = u("p99_us");
        self.p999_us = u("p999_us");
        self.max_us = u("max_us");
        self.lag_p50_us = u("lag_p50_us");
        self.lag_p99_us = u("lag_p99_us");
        self.window_secs = field(fs, "window_secs").unwrap_or(0.0);
    }

    /// Whether every good request succeeded and the server survived.
    pub fn clean(&self) -> bool {
        self.client_ok
            && self.errors == 0
            && self.ok == self.requests
            && self.server_alive
            && self.server_panics == 0
    }

    fn rss_per_conn(&self) -> f64 {
        let n = (self.good + self.hostile_open).max(1) as f64;
        self.rss_full.saturating_sub(self.rss_before) as f64 / n
    }
}

/// Every target's outcome and how the run was asked for.
pub struct Report {
    args: RunArgs,
    outcomes: Vec<Outcome>,
}

impl Report {
    /// An empty report of a run with `args`.
    pub fn new(args: &RunArgs) -> Report {
        Report {
            args: args.clone(),
            outcomes: Vec::new(),
        }
    }

    /// Adds a target's outcome.
    pub fn push(&mut self, o: Outcome) {
        self.outcomes.push(o);
    }

    /// Whether every target was clean.
    pub fn clean(&self) -> bool {
        self.outcomes.iter().all(Outcome::clean)
    }

    /// The Markdown block for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let a = &self.args;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} good connections per target for {} s (one {} B request per connection per second), \
             beside {} silent and {} slowloris sockets; `strata serve --max-connections {}`{}; \
             request timeout {} s.\n",
            a.conns,
            a.secs,
            64,
            a.silent,
            a.slowloris,
            if a.max_connections == 0 { "default".to_string() } else { a.max_connections.to_string() },
            a.workers.map_or(String::new(), |w| format!(" --workers {w}")),
            a.timeout,
        );
        s.push_str("| target | good conns up | requests | errors | p50 ms | p99 ms | p99.9 ms | max ms | send lag p50 / p99 ms | server RSS before → after ramp → mid-window (peak) MB | RSS / conn | CPU over the window, in cores: server / load / other processes | ramp s |\n");
        s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for o in &self.outcomes {
            let per = |c: f64| {
                if o.window_secs > 0.0 {
                    c / o.window_secs
                } else {
                    0.0
                }
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} / {:.1} | {:.1} → {:.1} → {:.1} ({:.1}) | {:.0} B | {:.2} / {:.2} / {:.2} | {:.1} |",
                label(o.target),
                o.good,
                o.requests,
                o.errors,
                ms(o.p50_us),
                ms(o.p99_us),
                ms(o.p999_us),
                ms(o.max_us),
                ms(o.lag_p50_us),
                ms(o.lag_p99_us),
                mb(o.rss_before),
                mb(o.rss_ready),
                mb(o.rss_full),
                mb(o.rss_peak),
                o.rss_per_conn(),
                per(o.server_cpu_secs),
                per(o.client_cpu_secs),
                per(o.other_cpu_secs),
                o.ramp_secs,
            );
        }
        s.push_str("\nRSS / conn = (RSS mid-window − RSS before) / (good connections + hostile sockets open after the ramp). Latency is send to last byte back; send lag is how late the load generator sent each request against its schedule (its own delay: a starved load process shows here, not in the server).\n\n");
        s.push_str("| target | hostile | sockets | connects | shed by the server | lifetime of the shed min / p50 / max s | first / last shed at s | open at end | bytes from server |\n");
        s.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for o in &self.outcomes {
            for h in &o.hostile {
                let fs = fields(h);
                let u = |k: &str| field::<u64>(&fs, k).unwrap_or(0);
                let kind: String = field(&fs, "kind").unwrap_or_default();
                let shed = u("shed");
                let (life, when) = if shed == 0 {
                    ("–".to_string(), "–".to_string())
                } else {
                    (
                        format!(
                            "{:.1} / {:.1} / {:.1}",
                            secs(u("life_min_ms")),
                            secs(u("life_p50_ms")),
                            secs(u("life_max_ms"))
                        ),
                        format!(
                            "{:.1} / {:.1}",
                            secs(u("first_shed_ms")),
                            secs(u("last_shed_ms"))
                        ),
                    )
                };
                let _ = writeln!(
                    s,
                    "| {} | {kind} | {} | {} | {shed} | {life} | {when} | {} | {} |",
                    o.target,
                    u("sockets"),
                    u("connects"),
                    u("open_at_end"),
                    u("bytes_received"),
                );
            }
        }
        s.push_str("\nShed times count from the start of the hostile sockets (before the good ramp); a shed socket reconnects after 0.2 s.\n");
        let bad: Vec<&Outcome> = self.outcomes.iter().filter(|o| !o.clean()).collect();
        for o in bad {
            let _ = writeln!(
                s,
                "\n**{}: not clean**: {} errors, client ok {}, server alive {}, {} server panics; first error: {}",
                o.target,
                o.errors,
                o.client_ok,
                o.server_alive,
                o.server_panics,
                o.first_error.as_deref().unwrap_or("none")
            );
        }
        s
    }
}

fn label(t: Target) -> &'static str {
    match t {
        Target::Tcp => "TCP echo (`--app echo tcp://`)",
        Target::Tls => "TLS echo (`--app echo tls+tcp://`)",
        Target::H2c => "HTTP/2 h2c (`--app http tcp://`, POST /echo)",
        Target::H2Tls => "HTTP/2 over TLS, ALPN h2 (`--app http tls+tcp://`, POST /echo)",
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}
