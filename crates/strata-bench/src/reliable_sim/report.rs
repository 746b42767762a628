//! Figures derived from the runs, and the Markdown tables.

use std::fmt::Write as _;
use std::time::Duration;

use strata::reliable::cc::CcAlgorithm;

use super::kcp_host::KcpMode;
use super::{ours, RunResult, Transport};

/// The Mathis et al. bound on the throughput of a Reno-style flow,
/// `MSS / RTT * 1.22 / sqrt(p)`, in bits per second; `None` without loss.
pub fn mathis_bps(mss: usize, rtt: Duration, p: f64) -> Option<f64> {
    let rtt = rtt.as_secs_f64();
    (p > 0.0 && rtt > 0.0).then(|| mss as f64 * 8.0 / rtt * 1.22 / p.sqrt())
}

/// The `q`-quantile (0.0..=1.0) of `v` by nearest rank; `v` need not be sorted.
pub fn percentile(v: &[Duration], q: f64) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let rank = (q * s.len() as f64).ceil() as usize;
    s.get(rank.clamp(1, s.len()) - 1).copied()
}

fn mbit(bps: f64) -> String {
    format!("{:.2}", bps / 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// The goodput of `t` at `loss` among `runs`, if it completed.
fn goodput_of(runs: &[RunResult], t: Transport, loss: f64) -> Option<f64> {
    runs.iter()
        .find(|r| r.transport == t && r.path.loss == loss && r.complete())
        .map(RunResult::goodput_bps)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".into(), |r| format!("{r:.2}"))
}

/// The goodput table of the bulk runs.
pub fn bulk_table(runs: &[RunResult]) -> String {
    let mut out = String::new();
    out.push_str(
        "| scenario | transport | goodput Mbit/s | fraction of capacity | ratio | Mathis bound Mbit/s | sim time s | wall time s |\n",
    );
    out.push_str("|---|---|---:|---:|---|---:|---:|---:|\n");
    for r in runs {
        let scenario = format!(
            "{} MB, {:.0}% loss",
            r.expected / 1_000_000,
            r.path.loss * 100.0
        );
        let (goodput, fraction) = if let Some(why) = &r.unavailable {
            (format!("not available ({why})"), "-".to_string())
        } else {
            let g = r.goodput_bps();
            let mut cell = mbit(g);
            if let Some(e) = &r.error {
                cell = format!("{cell} ({e}; {} of {} bytes)", r.delivered, r.expected);
            } else if r.gave_up {
                let mb = r.delivered as f64 / 1e6;
                cell = format!("{cell} (incomplete: {mb:.1} MB in {} s)", secs(r.sim));
            }
            (cell, format!("{:.3}", g / r.path.rate_bps as f64))
        };
        let ratio = match r.transport {
            Transport::Ours(_) | Transport::StrataKcp => {
                let me = goodput_of(runs, r.transport, r.path.loss);
                let fast = goodput_of(runs, Transport::Kcp(KcpMode::Fast), r.path.loss);
                let dflt = goodput_of(runs, Transport::Kcp(KcpMode::Default), r.path.loss);
                format!(
                    "{} vs kcp fast, {} vs kcp default",
                    fmt_ratio(ratio(me, fast)),
                    fmt_ratio(ratio(me, dflt))
                )
            }
            Transport::Kcp(_) => "-".into(),
        };
        let mathis = match r.transport {
            Transport::Ours(CcAlgorithm::NewReno | CcAlgorithm::Cubic) => {
                mathis_bps(ours::OURS_MSS, r.path.rtt(), r.path.loss).map_or("∞".into(), mbit)
            }
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {scenario} | {} | {goodput} | {fraction} | {ratio} | {mathis} | {} | {} |",
            r.transport.label(),
            secs(r.sim),
            secs(r.wall),
        );
    }
    out
}

/// The latency table of the message runs.
pub fn latency_table(runs: &[RunResult]) -> String {
    let mut out = String::new();
    out.push_str(
        "| scenario | transport | p50 ms | p99 ms | max ms | messages | sim time s | wall time s |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---|---:|---:|\n");
    for r in runs {
        let scenario = format!(
            "{} x 1 KB, {:.0}% loss",
            r.expected / super::workload::MSG_SIZE as u64,
            r.path.loss * 100.0
        );
        let q = |p| percentile(&r.latencies, p).map_or_else(|| "-".into(), ms);
        let mut msgs = r.latencies.len().to_string();
        if let Some(why) = &r.unavailable {
            msgs = format!("not available ({why})");
        } else if let Some(e) = &r.error {
            msgs = format!("{msgs} ({e})");
        } else if r.gave_up {
            msgs = format!("{msgs} (incomplete)");
        }
        let _ = writeln!(
            out,
            "| {scenario} | {} | {} | {} | {} | {msgs} | {} | {} |",
            r.transport.label(),
            q(0.5),
            q(0.99),
            q(1.0),
            secs(r.sim),
            secs(r.wall),
        );
    }
    out
}

/// The ratios the issue sets targets for, each with its verdict.
pub fn targets(bulk: &[RunResult], lat: &[RunResult]) -> String {
    let ours = Transport::Ours(CcAlgorithm::Bbr);
    let fast = Transport::Kcp(KcpMode::Fast);
    let dflt = Transport::Kcp(KcpMode::Default);
    let mut out = String::new();
    out.push_str("| check | value | target | verdict |\n|---|---:|---|---|\n");
    let mut row = |name: String, v: Option<f64>, target: &str, ok: fn(f64) -> bool| {
        let verdict = match v {
            None => "n/a",
            Some(v) if ok(v) => "met",
            Some(_) => "missed",
        };
        let _ = writeln!(out, "| {name} | {} | {target} | {verdict} |", fmt_ratio(v));
    };
    // The default controller's goodput as a fraction of the link's capacity.
    for (loss, target, ok) in [
        (0.0, ">= 0.90", (|v| v >= 0.90) as fn(f64) -> bool),
        (0.01, ">= 0.85", |v| v >= 0.85),
        (0.05, ">= 0.70", |v| v >= 0.70),
    ] {
        let fraction = bulk
            .iter()
            .find(|r| r.transport == ours && r.path.loss == loss && r.complete())
            .map(|r| r.goodput_bps() / r.path.rate_bps as f64);
        row(
            format!("goodput ours / capacity at {:.0}% loss", loss * 100.0),
            fraction,
            target,
            ok,
        );
    }
    for loss in [0.01, 0.05] {
        let pct = loss * 100.0;
        let me = goodput_of(bulk, ours, loss);
        row(
            format!("goodput ours / kcp fast at {pct:.0}% loss"),
            ratio(me, goodput_of(bulk, fast, loss)),
            ">= 0.9",
            |v| v >= 0.9,
        );
        row(
            format!("goodput ours / kcp default at {pct:.0}% loss"),
            ratio(me, goodput_of(bulk, dflt, loss)),
            ">= 3",
            |v| v >= 3.0,
        );
    }
    let p99 = |t: Transport| {
        lat.iter()
            .find(|r| r.transport == t && r.complete())
            .and_then(|r| percentile(&r.latencies, 0.99))
            .map(|d| d.as_secs_f64())
    };
    row(
        "p99 latency ours / kcp fast".into(),
        ratio(p99(ours), p99(fast)),
        "<= 1.2",
        |v| v <= 1.2,
    );
    row(
        "p99 latency ours / kcp default".into(),
        ratio(p99(ours), p99(dflt)),
        "< 1",
        |v| v < 1.0,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mathis_matches_the_formula() {
        // 1200-byte segments, 40 ms, 1%: 1200*8/0.04*1.22/0.1 = 2.928 Mbit/s.
        let b = mathis_bps(1200, Duration::from_millis(40), 0.01).unwrap();
        assert!((b - 2_928_000.0).abs() < 1.0, "{b}");
        assert_eq!(mathis_bps(1200, Duration::from_millis(40), 0.0), None);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&v, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
