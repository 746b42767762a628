//! Every phase of an HTTP/2 server connection has a deadline, checked on a
//! virtual clock with a raw peer: the preface, each header block, a request
//! body that trickles, the idle connection, and draining after our GOAWAY.

mod h2_support;

use std::time::Duration;

use h2_support::*;
use strata::http::h2::frame::{self, ErrorCode};
use strata::http::h2::H2Config;
use strata::{Close, StreamProtocol, StreamTransport, Timeout};

const MS: Duration = Duration::from_millis(1);

/// A server whose requests go to `f()` wrapped in a `Record`.
fn server(
    cfg: H2Config,
    f: impl Fn() -> Box<dyn StreamProtocol> + Send + Sync + 'static,
) -> (Raw, LostLog) {
    let log = LostLog::default();
    let l2 = log.clone();
    let p = Raw::server(service(move |_| Box::new(Record::new(f(), &l2))), cfg);
    (p, log)
}

/// Reads and ignores the body; never answers.
struct Sink;
impl StreamProtocol for Sink {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// Answers 200 with a first body byte at once, then reads the body.
struct Started;
impl StreamProtocol for Started {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"x");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// Pauses reading at once and stays paused.
struct Paused;
impl StreamProtocol for Paused {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.pause_reading();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[track_caller]
fn assert_timeout(c: Option<&Close>, want: Timeout) {
    assert!(
        matches!(c, Some(Close::Timeout(t)) if *t == want),
        "{c:?}, wanted Timeout::{want:?}"
    );
}

fn rsts(evs: &[Ev], stream: u32) -> Vec<ErrorCode> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Rst { stream: s, code } if *s == stream => Some(*code),
            _ => None,
        })
        .collect()
}

// ---- the preface -------------------------------------------------------------

#[test]
fn no_preface_ends_at_preface_timeout() {
    let cfg = H2Config::default();
    let d = cfg.preface_timeout;
    let (mut p, _) = server(cfg, || Box::new(Sink));
    p.advance(d - MS);
    assert!(p.finished().is_none());
    p.advance(MS);
    assert_timeout(p.finished(), Timeout::Preface);
}

#[test]
fn a_preface_without_settings_ends_at_preface_timeout() {
    let cfg = H2Config::default();
    let d = cfg.preface_timeout;
    let (mut p, _) = server(cfg, || Box::new(Sink));
    // Part of the magic, then the rest of it later: the deadline runs from
    // the start, not from the last byte.
    p.send(&frame::PREFACE[..10]);
    p.advance(d / 2);
    p.send(&frame::PREFACE[10..]);
    p.advance(d / 2 - MS);
    assert!(p.finished().is_none());
    p.advance(MS);
    assert_timeout(p.finished(), Timeout::Preface);
}

#[test]
fn a_complete_preface_stops_the_preface_deadline() {
    let cfg = H2Config::default();
    let d = cfg.preface_timeout;
    let (mut p, _) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    p.advance(d * 2);
    assert!(p.finished().is_none());
    assert_eq!(goaway(&p.read()), None);
}

// ---- header blocks -----------------------------------------------------------

#[test]
fn an_unfinished_header_block_ends_the_connection_at_header_block_timeout() {
    let cfg = H2Config::default();
    let d = cfg.header_block_timeout;
    let (mut p, log) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    // Stream 1 is open, reading its body.
    p.post(1, "/");
    p.read();
    // Stream 3's HEADERS has no END_HEADERS, and no CONTINUATION follows.
    let block = plain_request("GET", "/", &[]);
    p.headers_frame(3, &block[..4], true, false);
    p.advance(d - MS);
    assert_eq!(goaway(&p.read()), None);
    p.advance(MS);
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(ErrorCode::EnhanceYourCalm), "{evs:?}");
    assert!(p.finished().is_some());
    assert_timeout(lost(&log, 1).as_ref(), Timeout::Head);
}

/// A header block still waiting when the connection ended for another
/// reason (here: our shutdown GOAWAY with no stream open) must not leave its
/// deadline behind: it fired on every call, for ever, a busy timer (found
/// by the `http_server` fuzz target).
#[test]
fn a_header_block_on_a_connection_that_ended_leaves_no_timer_in_the_past() {
    let cfg = H2Config::default();
    // A close that may take longer to flush than the block may wait.
    let stack = strata::StackConfig {
        close_timeout: Duration::from_secs(60),
        ..strata::StackConfig::default()
    };
    let mut p = Raw::with_stack(service(|_| Box::new(Sink)), cfg.clone(), stack);
    p.handshake(&[]);
    let block = plain_request("GET", "/", &[]);
    p.headers_frame(1, &block[..4], true, false);
    // The GOAWAY ends the connection (no stream is open yet); the peer
    // reads nothing, so the close waits for its flush.
    p.shutdown();
    assert!(p.finished().is_none());
    // Past the block's own deadline: it must be gone, not due.
    p.advance(cfg.header_block_timeout + MS);
    let now = p.now();
    assert!(
        p.next_deadline().is_none_or(|d| d > now),
        "a deadline in the past: {:?} at {now:?}",
        p.next_deadline()
    );
}

#[test]
fn continuations_in_time_complete_the_block() {
    let cfg = H2Config::default();
    let d = cfg.header_block_timeout;
    let (mut p, _) = server(cfg, || Box::new(Fixed(b"ok")));
    p.handshake(&[]);
    let block = plain_request("GET", "/", &[]);
    p.headers_frame(1, &block[..4], true, false);
    p.advance(d - MS);
    p.continuation(1, &block[4..], true);
    let evs = p.read();
    assert_eq!(body(&evs, 1), (b"ok".to_vec(), true), "{evs:?}");
    p.advance(d);
    assert_eq!(goaway(&p.read()), None);
}

// ---- request bodies ----------------------------------------------------------

#[test]
fn a_trickling_body_gets_408_and_other_streams_go_on() {
    let cfg = H2Config::default();
    let period = cfg.body_timeout;
    let (mut p, log) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    p.post(1, "/slow");
    p.post(3, "/fast");
    // Stream 1 brings 2 x 1000 bytes per period (far below 1024 B/s);
    // stream 3 brings 2 x 16 KiB (above 30 s x 1024 B/s = 30 KiB).
    for _ in 0..2 {
        p.advance(period / 3);
        p.data(1, &[b'a'; 1000], false);
        p.data(3, &[b'b'; 16 << 10], false);
    }
    p.advance(period / 3 - MS);
    assert!(lost(&log, 1).is_none());
    p.advance(MS);
    let evs = p.read();
    assert_eq!(status(&evs, 1).as_deref(), Some("408"), "{evs:?}");
    assert!(body(&evs, 1).1, "END_STREAM: {evs:?}");
    assert_eq!(rsts(&evs, 1), vec![ErrorCode::NoError], "{evs:?}");
    assert_timeout(lost(&log, 1).as_ref(), Timeout::Body);
    assert_eq!(goaway(&evs), None);
    // Stream 3 met the rate and goes on.
    assert!(lost(&log, 3).is_none());
    assert_eq!(rsts(&evs, 3), vec![]);
    p.data(3, b"end", true);
    assert!(p.finished().is_none());
}

#[test]
fn a_stalled_body_after_the_response_started_is_cancelled() {
    let cfg = H2Config::default();
    let period = cfg.body_timeout;
    let (mut p, log) = server(cfg, || Box::new(Started));
    p.handshake(&[]);
    p.post(1, "/");
    let evs = p.read();
    assert_eq!(status(&evs, 1).as_deref(), Some("200"));
    p.advance(period);
    let evs = p.read();
    assert_eq!(rsts(&evs, 1), vec![ErrorCode::Cancel], "{evs:?}");
    assert_timeout(lost(&log, 1).as_ref(), Timeout::Body);
    assert_eq!(goaway(&evs), None);
}

#[test]
fn with_min_body_rate_zero_only_silence_ends_a_body() {
    let cfg = H2Config {
        min_body_rate: 0,
        ..H2Config::default()
    };
    let period = cfg.body_timeout;
    let (mut p, log) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    p.post(1, "/");
    // One byte per period is enough, for as long as it lasts.
    for _ in 0..5 {
        p.advance(period - MS);
        p.data(1, b"z", false);
        p.advance(MS);
    }
    assert!(lost(&log, 1).is_none(), "{:?}", lost(&log, 1));
    p.advance(period);
    assert_eq!(status(&p.read(), 1).as_deref(), Some("408"));
    assert_timeout(lost(&log, 1).as_ref(), Timeout::Body);
}

#[test]
fn a_paused_handler_is_not_timed_out_for_its_body() {
    let cfg = H2Config::default();
    let period = cfg.body_timeout;
    let (mut p, log) = server(cfg, || Box::new(Paused));
    p.handshake(&[]);
    p.post(1, "/");
    p.data(1, b"held", false);
    for _ in 0..10 {
        p.advance(period);
    }
    assert!(lost(&log, 1).is_none());
    assert_eq!(rsts(&p.read(), 1), vec![]);
}

#[test]
fn a_body_that_ended_is_not_timed_out() {
    let cfg = H2Config::default();
    let period = cfg.body_timeout;
    let (mut p, log) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    p.post(1, "/");
    p.data(1, b"all", true);
    p.advance(period * 3);
    assert!(lost(&log, 1).is_none());
}

#[test]
fn body_timeout_zero_turns_the_rule_off() {
    let cfg = H2Config {
        body_timeout: Duration::ZERO,
        ..H2Config::default()
    };
    let (mut p, log) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    p.post(1, "/");
    p.advance(Duration::from_secs(3600));
    assert!(lost(&log, 1).is_none());
}

// ---- idle and drain ----------------------------------------------------------

#[test]
fn a_silent_connection_without_streams_ends_at_idle_timeout() {
    let cfg = H2Config::default();
    let d = cfg.idle_timeout;
    let (mut p, _) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    p.advance(d - MS);
    assert_eq!(goaway(&p.read()), None);
    p.advance(MS);
    assert_eq!(goaway(&p.read()), Some(ErrorCode::NoError));
    assert!(p.finished().is_some(), "closed after the idle GOAWAY");
}

#[test]
fn drain_after_shutdown_ends_streams_the_client_keeps_open() {
    let cfg = H2Config::default();
    let d = cfg.drain_timeout;
    let (mut p, log) = server(cfg, || Box::new(Hold));
    p.handshake(&[]);
    p.post(1, "/");
    p.read();
    let now = p.now;
    p.stack.handle_shutdown(now);
    assert_eq!(goaway(&p.read()), Some(ErrorCode::NoError));
    p.advance(d - MS);
    assert!(lost(&log, 1).is_none());
    assert!(p.finished().is_none());
    p.advance(MS);
    let evs = p.read();
    assert_eq!(rsts(&evs, 1), vec![ErrorCode::Cancel], "{evs:?}");
    assert_timeout(lost(&log, 1).as_ref(), Timeout::Drain);
    assert!(p.finished().is_some(), "closed at drain_timeout");
}

#[test]
fn after_our_goaway_without_streams_the_connection_closes_at_once() {
    let (mut p, _) = server(H2Config::default(), || Box::new(Hold));
    p.handshake(&[]);
    let now = p.now;
    p.stack.handle_shutdown(now);
    assert_eq!(goaway(&p.read()), Some(ErrorCode::NoError));
    assert!(p.finished().is_some());
}

#[test]
fn timeouts_of_any_size_do_not_panic() {
    let cfg = H2Config {
        preface_timeout: Duration::MAX,
        header_block_timeout: Duration::MAX,
        body_timeout: Duration::MAX,
        min_body_rate: u64::MAX,
        idle_timeout: Duration::MAX,
        stall_timeout: Duration::MAX,
        drain_timeout: Duration::MAX,
        settings_timeout: Duration::MAX,
        reset_window: Duration::MAX,
        ..H2Config::default()
    };
    let (mut p, _) = server(cfg, || Box::new(Sink));
    p.handshake(&[]);
    p.post(1, "/");
    let block = plain_request("GET", "/", &[]);
    p.headers_frame(3, &block[..4], true, false);
    p.advance(Duration::from_secs(1 << 40));
    let now = p.now;
    p.stack.handle_shutdown(now);
    p.advance(Duration::from_secs(1 << 40));
    p.read();
}
