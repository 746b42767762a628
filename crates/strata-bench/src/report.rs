//! Results of a benchmark session: samples per (benchmark, metric, server),
//! their medians, ratios strata / anchor, and the targets.

use std::collections::BTreeMap;
use std::fmt::Write;

/// A benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Bench {
    /// 50 connections, 64-byte messages, one in flight each.
    Pingpong,
    /// One connection, a large payload echoed back concurrently.
    Bulk,
    /// Connections per second: connect, 1-byte echo, close.
    Cps,
    /// Memory per idle connection.
    Idle,
    /// `pingpong` over TLS.
    TlsPingpong,
    /// `bulk` over TLS.
    TlsBulk,
    /// Full TLS handshakes per second: connect, handshake, 1-byte echo, close.
    TlsHandshakes,
    /// The same with the client resuming TLS 1.3 sessions.
    TlsResumed,
    /// Memory per idle TLS connection.
    TlsIdle,
}

impl Bench {
    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Bench::Pingpong => "pingpong",
            Bench::Bulk => "bulk",
            Bench::Cps => "cps",
            Bench::Idle => "idle",
            Bench::TlsPingpong => "tls-pingpong",
            Bench::TlsBulk => "tls-bulk",
            Bench::TlsHandshakes => "tls-handshakes",
            Bench::TlsResumed => "tls-resumed",
            Bench::TlsIdle => "tls-idle",
        }
    }

    /// True for the benchmarks over TLS (strata-tls against tokio-rustls).
    pub fn is_tls(self) -> bool {
        self.subject() == Side::StrataTls
    }

    /// The strata side this benchmark measures.
    pub fn subject(self) -> Side {
        match self {
            Bench::Pingpong | Bench::Bulk | Bench::Cps | Bench::Idle => Side::Strata,
            _ => Side::StrataTls,
        }
    }
}

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// strata's tokio driver with the echo protocol.
    Strata,
    /// The raw tokio idiom.
    Tokio,
    /// A bare tokio task per socket.
    TokioBare,
    /// Twisted's echo `Protocol`.
    Twisted,
    /// strata's tokio driver with `Tls<Echo>`.
    StrataTls,
    /// The raw tokio idiom behind tokio-rustls.
    TokioRustls,
}

impl Side {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Side::Strata => "strata",
            Side::Tokio => "tokio",
            Side::TokioBare => "tokio-bare",
            Side::Twisted => "twisted",
            Side::StrataTls => "strata-tls",
            Side::TokioRustls => "tokio-rustls",
        }
    }
}

/// What a benchmark measures; `higher` says which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Metric {
    /// The benchmark.
    pub bench: Bench,
    /// Name and unit, e.g. `msg/s`.
    pub name: &'static str,
    /// True when a larger value is better.
    pub higher: bool,
}

/// Pingpong round trips per second.
pub const PINGPONG_RATE: Metric = m(Bench::Pingpong, "msg/s", true);
/// Server CPU per pingpong round trip.
pub const PINGPONG_CPU: Metric = m(Bench::Pingpong, "server CPU µs/msg", false);
/// Bulk echo throughput.
pub const BULK_RATE: Metric = m(Bench::Bulk, "MB/s", true);
/// Server CPU per gigabyte echoed.
pub const BULK_CPU: Metric = m(Bench::Bulk, "server CPU ms/GB", false);
/// Connections per second.
pub const CPS_RATE: Metric = m(Bench::Cps, "conn/s", true);
/// Server CPU per connection.
pub const CPS_CPU: Metric = m(Bench::Cps, "server CPU µs/conn", false);
/// Resident memory per idle connection.
pub const IDLE_RSS: Metric = m(Bench::Idle, "RSS bytes/conn", false);
/// Pingpong round trips per second over TLS.
pub const TLS_PINGPONG_RATE: Metric = m(Bench::TlsPingpong, "msg/s", true);
/// Server CPU per TLS pingpong round trip.
pub const TLS_PINGPONG_CPU: Metric = m(Bench::TlsPingpong, "server CPU µs/msg", false);
/// Bulk echo throughput over TLS.
pub const TLS_BULK_RATE: Metric = m(Bench::TlsBulk, "MB/s", true);
/// Server CPU per gigabyte echoed over TLS.
pub const TLS_BULK_CPU: Metric = m(Bench::TlsBulk, "server CPU ms/GB", false);
/// Full handshakes per second.
pub const TLS_HANDSHAKE_RATE: Metric = m(Bench::TlsHandshakes, "handshakes/s", true);
/// Server CPU per full handshake (and its connection).
pub const TLS_HANDSHAKE_CPU: Metric = m(Bench::TlsHandshakes, "server CPU µs/handshake", false);
/// Resumed handshakes per second.
pub const TLS_RESUMED_RATE: Metric = m(Bench::TlsResumed, "handshakes/s", true);
/// Server CPU per resumed handshake (and its connection).
pub const TLS_RESUMED_CPU: Metric = m(Bench::TlsResumed, "server CPU µs/handshake", false);
/// Resident memory per idle TLS connection.
pub const TLS_IDLE_RSS: Metric = m(Bench::TlsIdle, "RSS bytes/conn", false);

const fn m(bench: Bench, name: &'static str, higher: bool) -> Metric {
    Metric {
        bench,
        name,
        higher,
    }
}

/// The idle target: at most this many bytes of server RSS per connection.
pub const IDLE_TARGET_BYTES: f64 = 1200.0;

/// Every sample taken in a session.
#[derive(Debug, Default)]
pub struct Results {
    samples: BTreeMap<(Metric, Side), Vec<f64>>,
}

impl Results {
    /// Records one sample.
    pub fn add(&mut self, metric: Metric, side: Side, value: f64) {
        self.samples.entry((metric, side)).or_default().push(value);
    }

    /// The samples of one metric and side, in the order taken.
    pub fn samples(&self, metric: Metric, side: Side) -> &[f64] {
        self.samples
            .get(&(metric, side))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The median of one metric and side, if it was measured.
    pub fn median(&self, metric: Metric, side: Side) -> Option<f64> {
        median(self.samples(metric, side))
    }

    /// Median of the strata side (plain or TLS, as the metric's benchmark
    /// says) divided by median of the anchor.
    pub fn ratio(&self, metric: Metric, anchor: Side) -> Option<f64> {
        Some(self.median(metric, metric.bench.subject())? / self.median(metric, anchor)?)
    }

    /// The markdown table of medians and ratios, one row per metric and anchor.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| benchmark | metric | strata (or strata-tls) median [min–max] | anchor | anchor median [min–max] | strata/anchor | better |\n\
             |---|---|---|---|---|---|---|\n",
        );
        let metrics: Vec<Metric> = {
            let mut v: Vec<Metric> = self.samples.keys().map(|(m, _)| *m).collect();
            v.dedup();
            v
        };
        for metric in metrics {
            let anchors = self
                .samples
                .keys()
                .filter(|(m, s)| *m == metric && *s != metric.bench.subject())
                .map(|(_, s)| *s);
            for anchor in anchors {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    metric.bench.name(),
                    metric.name,
                    cell(self.samples(metric, metric.bench.subject())),
                    anchor.name(),
                    cell(self.samples(metric, anchor)),
                    self.ratio(metric, anchor)
                        .map_or("–".into(), |r| format!("{r:.3}×")),
                    if metric.higher { "higher" } else { "lower" },
                );
            }
        }
        out
    }

    /// The targets, each with its measured value and PASS / MISS (or `not
    /// measured`), as a markdown table.
    pub fn targets(&self) -> String {
        let mut out = String::from("| target | measured | result |\n|---|---|---|\n");
        let tls = self.samples.keys().any(|(m, _)| m.bench.is_tls());
        let plain = self.samples.keys().any(|(m, _)| !m.bench.is_tls());
        if plain || !tls {
            self.plain_targets(&mut out);
        }
        if tls {
            for (what, metric) in [
                ("tls-pingpong msg/s", TLS_PINGPONG_RATE),
                ("tls-bulk MB/s", TLS_BULK_RATE),
                ("tls-handshakes handshakes/s", TLS_HANDSHAKE_RATE),
                ("tls-resumed handshakes/s", TLS_RESUMED_RATE),
            ] {
                let what = format!("{what} ≥ 0.95× tokio-rustls");
                self.ratio_row(&mut out, &what, metric, Side::TokioRustls, |r| r >= 0.95);
            }
            self.ratio_row(
                &mut out,
                "tls-idle bytes/conn ≤ 1× tokio-rustls",
                TLS_IDLE_RSS,
                Side::TokioRustls,
                |r| r <= 1.0,
            );
        }
        out
    }

    fn ratio_row(
        &self,
        out: &mut String,
        what: &str,
        metric: Metric,
        anchor: Side,
        ok: impl Fn(f64) -> bool,
    ) {
        let (measured, verdict) = match self.ratio(metric, anchor) {
            Some(r) => (format!("{r:.3}×"), pass(ok(r))),
            None => ("not measured".into(), "–"),
        };
        let _ = writeln!(out, "| {what} | {measured} | {verdict} |");
    }

    fn plain_targets(&self, out: &mut String) {
        let at_least = |min: f64| move |r: f64| r >= min;
        self.ratio_row(
            out,
            "pingpong msg/s ≥ 0.95× raw tokio",
            PINGPONG_RATE,
            Side::Tokio,
            at_least(0.95),
        );
        self.ratio_row(
            out,
            "bulk MB/s ≥ 0.95× raw tokio",
            BULK_RATE,
            Side::Tokio,
            at_least(0.95),
        );
        self.ratio_row(
            out,
            "pingpong msg/s ≥ 3× Twisted",
            PINGPONG_RATE,
            Side::Twisted,
            at_least(3.0),
        );
        let (measured, verdict) = match self.median(IDLE_RSS, Side::Strata) {
            Some(b) => {
                let bare = self
                    .median(IDLE_RSS, Side::TokioBare)
                    .map_or(String::new(), |t| format!(" (tokio-bare: {t:.0} B)"));
                (format!("{b:.0} B{bare}"), pass(b <= IDLE_TARGET_BYTES))
            }
            None => ("not measured".into(), "–"),
        };
        let _ = writeln!(
            out,
            "| idle ≤ {IDLE_TARGET_BYTES:.0} bytes/conn | {measured} | {verdict} |"
        );
    }
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn cell(v: &[f64]) -> String {
    match median(v) {
        None => "–".into(),
        Some(med) => {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{} [{}–{}]", num(med), num(lo), num(hi))
        }
    }
}

/// A number with precision that suits its size.
fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The median; the mean of the middle two for an even count. NaNs sort last.
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    Some(if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn ratios_and_targets_follow_the_medians() {
        let mut r = Results::default();
        for (s, t, w) in [
            (96.0, 100.0, 20.0),
            (90.0, 100.0, 30.0),
            (99.0, 100.0, 31.0),
        ] {
            r.add(PINGPONG_RATE, Side::Strata, s);
            r.add(PINGPONG_RATE, Side::Tokio, t);
            r.add(PINGPONG_RATE, Side::Twisted, w);
        }
        r.add(IDLE_RSS, Side::Strata, 1300.0);
        r.add(IDLE_RSS, Side::TokioBare, 1000.0);
        assert_eq!(r.ratio(PINGPONG_RATE, Side::Tokio), Some(0.96));
        let targets = r.targets();
        assert!(targets.contains("| pingpong msg/s ≥ 0.95× raw tokio | 0.960× | PASS |"));
        // 96 / 30 = 3.2.
        assert!(targets.contains("| pingpong msg/s ≥ 3× Twisted | 3.200× | PASS |"));
        assert!(targets.contains("| bulk MB/s ≥ 0.95× raw tokio | not measured | – |"));
        assert!(targets.contains("1300 B (tokio-bare: 1000 B) | MISS |"));
        let table = r.table();
        assert!(table.contains(
            "| pingpong | msg/s | 96.0 [90.0–99.0] | tokio | 100 [100–100] | 0.960× | higher |"
        ));
        assert!(table.contains("| idle | RSS bytes/conn | 1300 [1300–1300] | tokio-bare |"));
        // No TLS benchmark ran, so no TLS target is shown.
        assert!(!targets.contains("tokio-rustls"), "{targets}");
    }

    #[test]
    fn tls_metrics_compare_strata_tls_with_tokio_rustls_only() {
        let mut r = Results::default();
        r.add(TLS_PINGPONG_RATE, Side::StrataTls, 97.0);
        r.add(TLS_PINGPONG_RATE, Side::TokioRustls, 100.0);
        r.add(TLS_IDLE_RSS, Side::StrataTls, 6000.0);
        r.add(TLS_IDLE_RSS, Side::TokioRustls, 5000.0);
        assert_eq!(r.ratio(TLS_PINGPONG_RATE, Side::TokioRustls), Some(0.97));
        let table = r.table();
        assert!(
            table.contains("| tls-pingpong | msg/s | 97.0 [97.0–97.0] | tokio-rustls | 100 [100–100] | 0.970× | higher |"),
            "{table}"
        );
        assert!(!table.contains("| strata-tls |"), "{table}");
        let targets = r.targets();
        assert!(targets.contains("| tls-pingpong msg/s ≥ 0.95× tokio-rustls | 0.970× | PASS |"));
        assert!(targets.contains("| tls-idle bytes/conn ≤ 1× tokio-rustls | 1.200× | MISS |"));
        assert!(targets.contains("| tls-bulk MB/s ≥ 0.95× tokio-rustls | not measured | – |"));
        // Only TLS ran: the plain targets stay out of the way.
        assert!(!targets.contains("raw tokio"), "{targets}");
    }
}
