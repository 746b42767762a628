//! [`SimNet`]'s clock skew: what a skewed node's stack reads, and when its
//! timers fire in the network's time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::testing::{DatagramEcho, Ping, Quiet, RunOutcome};
use crate::DatagramTransport;

type Log = Arc<Mutex<Vec<(&'static str, Duration)>>>;

/// Records its clock (since the epoch) at start, at each batch it
/// receives and at each of its timers: one `every` after the start, and
/// after each firing, `left` times in all.
struct Clock {
    every: Duration,
    left: u32,
    due: Option<Instant>,
    log: Log,
}

impl Clock {
    fn boxed(every: Duration, left: u32, log: &Log) -> Box<dyn DatagramProtocol> {
        Box::new(Clock {
            every,
            left,
            due: None,
            log: log.clone(),
        })
    }
    fn note(&self, what: &'static str, t: &dyn DatagramTransport) {
        let since = t.now().saturating_duration_since(epoch());
        self.log.lock().unwrap().push((what, since));
    }
}

impl DatagramProtocol for Clock {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.note("start", t);
        if self.left > 0 {
            self.due = Some(t.now() + self.every);
        }
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {
        self.note("recv", t);
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.due
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        if self.due.is_none_or(|d| t.now() < d) {
            return;
        }
        self.note("timer", t);
        self.left -= 1;
        self.due = (self.left > 0).then(|| t.now() + self.every);
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const A: &str = "10.0.0.1:1";
const B: &str = "10.0.0.2:1";

fn ip(s: &str) -> IpAddr {
    s.parse::<SocketAddr>().unwrap().ip()
}

/// Runs until `log` holds `n` entries, returning the network's elapsed
/// time then.
fn run_to_entries(net: &mut SimNet, log: &Log, n: usize) -> Duration {
    let out = net.run_until(secs(60), |_| log.lock().unwrap().len() >= n);
    assert_eq!(out, RunOutcome::Reached, "{:?}", log.lock().unwrap());
    net.elapsed()
}

#[test]
fn a_node_skewed_ahead_reads_its_clock_ahead_and_its_timer_fires_on_the_networks_time() {
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.set_skew(ip(B), 2_000_000_000);
    let a = net.add_node(A.parse().unwrap(), Box::new(Ping(B.parse().unwrap())));
    let b = net.add_node(B.parse().unwrap(), Clock::boxed(secs(1), 1, &log));
    net.link(a, b, LinkConfig::default().delay(ms(10)));
    assert_eq!(net.node_now(b), Some(epoch() + secs(2)));
    assert_eq!(net.node_now(a), Some(epoch()));
    // The timer of 1 s of b's clock fires after 1 s of the network's.
    assert_eq!(run_to_entries(&mut net, &log, 3), secs(1));
    assert_eq!(
        *log.lock().unwrap(),
        [
            ("start", secs(2)),
            ("recv", secs(2) + ms(10)),
            ("timer", secs(3))
        ]
    );
    // The trace keeps the network's time.
    assert_eq!(net.trace().last().unwrap().at_ns, 10_000_000);
}

#[test]
fn a_node_skewed_behind_reads_its_clock_behind_and_its_timer_fires_on_the_networks_time() {
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.advance(secs(10));
    net.set_skew(ip(A), -3_000_000_000);
    // Added while others run or not, a node starts on its host's clock.
    net.add_node(A.parse().unwrap(), Clock::boxed(secs(1), 2, &log));
    assert_eq!(run_to_entries(&mut net, &log, 3), secs(12));
    assert_eq!(
        *log.lock().unwrap(),
        [("start", secs(7)), ("timer", secs(8)), ("timer", secs(9))]
    );
}

#[test]
fn a_clock_behind_by_more_than_the_elapsed_time_stands_at_the_epoch_then_moves() {
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.set_skew(ip(A), -5_000_000_000);
    let a = net.add_node(A.parse().unwrap(), Clock::boxed(secs(1), 1, &log));
    net.start();
    assert_eq!(net.node_now(a), Some(epoch()));
    net.advance(secs(2));
    assert_eq!(net.node_now(a), Some(epoch()));
    // It reads the epoch until 5 s, then 1 s on its clock is 6 s.
    assert_eq!(run_to_entries(&mut net, &log, 2), secs(6));
    assert_eq!(
        *log.lock().unwrap(),
        [("start", Duration::ZERO), ("timer", secs(1))]
    );
}

#[test]
fn a_skew_changed_mid_run_moves_the_pending_timer() {
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.add_node(A.parse().unwrap(), Clock::boxed(secs(10), 1, &log));
    net.advance(secs(2));
    net.set_skew(ip(A), 4_000_000_000);
    // Set for 10 s of its clock, which jumped 4 s at 2 s: 6 s.
    assert_eq!(run_to_entries(&mut net, &log, 2), secs(6));
    assert_eq!(log.lock().unwrap()[1], ("timer", secs(10)));
}

#[test]
fn a_skew_pushed_past_a_pending_timer_fires_it_at_once() {
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.add_node(A.parse().unwrap(), Clock::boxed(secs(10), 1, &log));
    net.advance(secs(2));
    net.set_skew(ip(A), 30_000_000_000);
    assert_eq!(run_to_entries(&mut net, &log, 2), secs(2));
    assert_eq!(log.lock().unwrap()[1], ("timer", secs(32)));
}

#[test]
fn a_lowered_skew_never_runs_a_clock_backward() {
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.set_skew(ip(A), 2_000_000_000);
    net.add_node(A.parse().unwrap(), Clock::boxed(secs(1), 3, &log));
    net.advance(ms(1500)); // its clock read 3 s at its first timer
    net.set_skew(ip(A), 0);
    net.advance(ms(500));
    // At 2 s of the network's, a datagram: its stack's clock still reads
    // 3 s, where it was.
    assert!(net.inject("192.0.2.1:9".parse().unwrap(), A.parse().unwrap(), b"x"));
    // The next timer, at 4 s of its clock, fires at 4 s of the network's.
    assert_eq!(run_to_entries(&mut net, &log, 4), secs(4));
    let got = log.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            ("start", secs(2)),
            ("timer", secs(3)),
            ("recv", secs(3)),
            ("timer", secs(4))
        ]
    );
}

#[test]
fn a_node_rebound_to_a_skewed_host_takes_its_clock() {
    let mut net = SimNet::new(1);
    let a = net.add_node(A.parse().unwrap(), Box::new(Quiet));
    net.set_skew(ip(B), 1_000_000);
    assert_eq!(net.node_now(a), Some(epoch()));
    assert!(net.rebind(a, "10.0.0.2:7".parse().unwrap()));
    assert_eq!(net.node_now(a), Some(epoch() + ms(1)));
    assert_eq!(net.skew(ip(A)), 0);
    assert_eq!(net.skew(ip(B)), 1_000_000);
}

/// The ping and its echo, with the hosts' clocks skewed: the digest.
fn ping_echo(skew_a: i64, skew_b: i64) -> u64 {
    let mut net = SimNet::new(3);
    net.set_skew(ip(A), skew_a);
    net.set_skew(ip(B), skew_b);
    let a = net.add_node(A.parse().unwrap(), Box::new(Ping(B.parse().unwrap())));
    let b = net.add_node(B.parse().unwrap(), Box::new(DatagramEcho));
    let cfg = LinkConfig::default().delay(ms(10)).jitter(ms(5));
    net.link_both(a, b, cfg);
    net.run(secs(1));
    net.trace_digest()
}

#[test]
fn skew_is_an_offset_so_it_changes_no_trace_without_timers() {
    let plain = ping_echo(0, 0);
    assert_eq!(ping_echo(2_000_000_000, -7_000_000_000), plain);
    assert_eq!(ping_echo(i64::MAX, i64::MIN), plain);
}

#[test]
fn extreme_skews_saturate_and_never_panic() {
    for ns in [i64::MAX, 1, -1] {
        let log = Log::default();
        let mut net = SimNet::new(1);
        net.set_skew(ip(A), ns);
        net.add_node(A.parse().unwrap(), Clock::boxed(secs(1), 2, &log));
        net.run(secs(10));
        let t: Vec<Duration> = log.lock().unwrap().iter().map(|e| e.1).collect();
        assert_eq!(t.len(), 3, "{ns}: {t:?}");
        assert!(
            t[0] + secs(1) == t[1] && t[1] + secs(1) == t[2],
            "{ns}: {t:?}"
        );
    }
    // A century behind: the clock stands at the epoch for the whole run.
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.set_skew(ip(A), i64::MIN);
    let a = net.add_node(A.parse().unwrap(), Clock::boxed(secs(1), 2, &log));
    assert_eq!(net.run(secs(10)), RunOutcome::Limit);
    assert_eq!(net.node_now(a), Some(epoch()));
    assert_eq!(*log.lock().unwrap(), [("start", Duration::ZERO)]);
}

#[test]
fn an_injected_datagram_reaches_a_skewed_node_on_its_clock() {
    let log = Log::default();
    let mut net = SimNet::new(1);
    net.set_skew(ip(A), 500_000_000);
    net.add_node(A.parse().unwrap(), Clock::boxed(secs(1), 0, &log));
    net.advance(ms(100));
    assert!(net.inject("192.0.2.1:9".parse().unwrap(), A.parse().unwrap(), b"x"));
    assert_eq!(log.lock().unwrap()[1], ("recv", ms(600)));
}
