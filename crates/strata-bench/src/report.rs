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
}

impl Bench {
    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Bench::Pingpong => "pingpong",
            Bench::Bulk => "bulk",
            Bench::Cps => "cps",
            Bench::Idle => "idle",
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
}

impl Side {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Side::Strata => "strata",
            Side::Tokio => "tokio",
            Side::TokioBare => "tokio-bare",
            Side::Twisted => "twisted",
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

    /// Median of strata divided by median of the anchor.
    pub fn ratio(&self, metric: Metric, anchor: Side) -> Option<f64> {
        Some(self.median(metric, Side::Strata)? / self.median(metric, anchor)?)
    }

    /// The markdown table of medians and ratios, one row per metric and anchor.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| benchmark | metric | strata median [min–max] | anchor | anchor median [min–max] | strata/anchor | better |\n\
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
                .filter(|(m, s)| *m == metric && *s != Side::Strata)
                .map(|(_, s)| *s);
            for anchor in anchors {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    metric.bench.name(),
                    metric.name,
                    cell(self.samples(metric, Side::Strata)),
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
        let mut ratio_row = |what: &str, metric: Metric, anchor: Side, min: f64| {
            let (measured, verdict) = match self.ratio(metric, anchor) {
                Some(r) => (format!("{r:.3}×"), pass(r >= min)),
                None => ("not measured".into(), "–"),
            };
            let _ = writeln!(out, "| {what} | {measured} | {verdict} |");
        };
        ratio_row(
            "pingpong msg/s ≥ 0.95× raw tokio",
            PINGPONG_RATE,
            Side::Tokio,
            0.95,
        );
        ratio_row("bulk MB/s ≥ 0.95× raw tokio", BULK_RATE, Side::Tokio, 0.95);
        ratio_row(
            "pingpong msg/s ≥ 3× Twisted",
            PINGPONG_RATE,
            Side::Twisted,
            3.0,
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
        out
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
    }
}
