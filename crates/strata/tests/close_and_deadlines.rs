//! Typed close reasons through the stack, graceful close with a deadline,
//! half-close, and deadlines composed as the minimum over the layers.

mod common;

use std::time::{Duration, Instant};

use common::{Log, Recorder, Xor};
use strata::{AbortReason, Close, Stack, StackConfig, StreamProtocol, StreamTransport, Timeout};

/// Runs a script of transport calls on the first input.
struct Script {
    log: Log,
    on_data: fn(&mut dyn StreamTransport),
    deadline: Option<Instant>,
}

impl StreamProtocol for Script {
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        (self.on_data)(t)
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("eof");
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.push(format!("lost:{why}"));
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.deadline.is_some_and(|d| d <= t.now()) {
            self.deadline = None;
            self.log.push("inner:deadline");
        }
    }
}

fn script(log: &Log, f: fn(&mut dyn StreamTransport)) -> Script {
    Script {
        log: log.clone(),
        on_data: f,
        deadline: None,
    }
}

#[test]
fn graceful_close_flushes_then_reports_done() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(script(&log, |t| {
        t.write(b"last words");
        t.close();
        t.write(b"ignored after close");
    })));
    let now = s.now();
    s.handle_input(now, b"x");
    assert!(s.finished().is_none(), "not before the flush");
    assert_eq!(s.take_output(now), b"last words");
    assert!(s.finished().unwrap().is_clean());
    assert_eq!(log.take(), vec!["lost:closed cleanly"]);
}

#[test]
fn a_close_that_cannot_flush_times_out() {
    let log = Log::default();
    let cfg = StackConfig {
        close_timeout: Duration::from_secs(2),
        ..StackConfig::default()
    };
    let mut s = Stack::memory_with(
        Box::new(script(&log, |t| {
            t.write(b"never read");
            t.close();
        })),
        cfg,
    );
    let t0 = s.now();
    s.handle_input(t0, b"x");
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(2)));
    s.handle_timeout(t0 + Duration::from_secs(2));
    assert!(matches!(
        s.finished(),
        Some(Close::Timeout(Timeout::CloseFlush))
    ));
    assert_eq!(s.pending_output(), 0);
    assert_eq!(log.take(), vec!["lost:graceful close timed out"]);
}

#[test]
fn abort_carries_its_typed_reason_through_a_layer() {
    let log = Log::default();
    let inner = script(&log, |t| {
        t.write(b"dropped");
        t.abort(Close::aborted("app", AbortReason::Requested));
    });
    let mut s = Stack::memory(Box::new(Xor::new(inner, 3, Log::default())));
    let now = s.now();
    s.handle_input(now, b"x");
    assert_eq!(s.pending_output(), 0, "abort discards buffers");
    assert!(matches!(
        s.finished(),
        Some(Close::Aborted {
            layer: "app",
            reason: AbortReason::Requested
        })
    ));
    assert_eq!(
        log.take(),
        vec!["lost:aborted by app: requested by the application"]
    );
}

#[test]
fn half_close_both_ways_ends_done() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(script(&log, |t| {
        t.write(b"bye");
        t.write_eof();
    })));
    let now = s.now();
    s.handle_input(now, b"x");
    assert!(!s.should_shutdown_write(), "flush first");
    assert_eq!(s.take_output(now), b"bye");
    assert!(s.should_shutdown_write());
    s.write_shutdown_done(now);
    assert!(s.finished().is_none(), "still reading");
    s.handle_eof(now);
    assert_eq!(log.take(), vec!["eof", "lost:closed cleanly"]);
}

#[test]
fn a_peer_reset_reaches_connection_lost() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(Recorder::new("r", &log)));
    let now = s.now();
    s.handle_lost(now, Close::Reset);
    assert_eq!(
        log.take(),
        vec!["r:connection_made", "r:lost:reset by peer"]
    );
    s.handle_input(now, b"after");
    assert!(log.take().is_empty(), "nothing after connection_lost");
}

#[test]
fn deadlines_compose_as_the_minimum_over_the_stack() {
    let log = Log::default();
    let t0 = strata::testing::epoch();
    let mut inner = script(&log, |_| {});
    inner.deadline = Some(t0 + Duration::from_secs(3));
    let mut layer = Xor::new(inner, 0, log.clone());
    layer.deadline = Some(t0 + Duration::from_secs(5));
    let mut s = Stack::memory(Box::new(layer));
    assert_eq!(log.take(), vec!["xor:connection_made"]);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(3)));
    s.handle_timeout(t0 + Duration::from_secs(1));
    assert!(log.take().is_empty(), "not yet");
    s.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(log.take(), vec!["inner:deadline"]);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(5)));
    s.handle_timeout(t0 + Duration::from_secs(6));
    assert_eq!(log.take(), vec!["xor:deadline"]);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn shutdown_asks_the_protocol_and_the_default_closes() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(Recorder::new("r", &log)));
    let now = s.now();
    s.handle_shutdown(now);
    assert!(s.finished().unwrap().is_clean());
    assert_eq!(
        log.take(),
        vec!["r:connection_made", "r:lost:closed cleanly"]
    );
}

/// A peer that reads nothing while a response waits (issue 9: an HTTP/1.1
/// client asked for a large body and never read it, and held the connection
/// for ever): the stack's send-stall deadline ends it, whatever the layer.
#[test]
fn output_nobody_takes_ends_the_connection_at_the_stall_deadline() {
    let log = Log::default();
    let cfg = StackConfig {
        stall_timeout: Duration::from_secs(5),
        ..StackConfig::default()
    };
    let mut s = Stack::memory_with(
        Box::new(script(&log, |t| {
            t.write(b"a response the peer never reads");
        })),
        cfg,
    );
    let t0 = s.now();
    s.handle_input(t0, b"x");
    assert_eq!(s.next_deadline(), None, "the transport has not refused yet");
    // The socket took nothing (WouldBlock): the clock starts.
    s.consume(t0, 0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(5)));
    // Refusing again does not restart it.
    s.consume(t0 + Duration::from_secs(1), 0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(5)));
    // Progress moves the deadline: part of the output was taken.
    let t1 = t0 + Duration::from_secs(4);
    s.consume(t1, 2);
    assert_eq!(s.next_deadline(), Some(t1 + Duration::from_secs(5)));
    s.handle_timeout(t1 + Duration::from_secs(4));
    assert!(s.finished().is_none(), "not before the deadline");
    s.handle_timeout(t1 + Duration::from_secs(5));
    assert!(matches!(s.finished(), Some(Close::Timeout(Timeout::Stall))));
    assert_eq!(s.pending_output(), 0);
    assert_eq!(log.take(), vec!["lost:stalled peer timed out"]);
}

/// Output that is taken as it comes, or no output at all, never stalls;
/// a zero `stall_timeout` turns the rule off; the largest value saturates.
#[test]
fn the_stall_deadline_runs_only_while_output_waits() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(script(&log, |t| t.write(b"hi"))));
    let t0 = s.now();
    assert_eq!(s.next_deadline(), None, "nothing queued: no deadline");
    s.handle_input(t0, b"x");
    s.consume(t0, 1);
    assert!(s.next_deadline().is_some(), "one byte of two taken");
    s.consume(t0, 1);
    assert_eq!(s.next_deadline(), None, "all taken: no deadline");
    s.handle_input(t0, b"x");
    s.consume(t0, 0);
    assert!(s.next_deadline().is_some());
    assert_eq!(s.take_output(t0), b"hi");
    assert_eq!(s.next_deadline(), None, "all taken: no deadline");
    for stall in [Duration::ZERO, Duration::MAX] {
        let mut s = Stack::memory_with(
            Box::new(script(&log, |t| t.write(b"hi"))),
            StackConfig {
                stall_timeout: stall,
                ..StackConfig::default()
            },
        );
        let t0 = s.now();
        s.handle_input(t0, b"x");
        s.consume(t0, 0);
        let year = Duration::from_secs(365 * 24 * 3600);
        s.handle_timeout(t0 + year);
        assert!(s.finished().is_none(), "{stall:?}");
    }
}
