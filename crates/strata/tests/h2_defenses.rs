//! HTTP/2 server defenses against abusive peers, each attack written frame
//! by frame: rapid reset (CVE-2023-44487), CONTINUATION floods
//! (CVE-2024-27316), HPACK bombs, control-frame and empty-DATA floods, peers
//! that never read, too many streams, oversized frames and stream-id misuse.
//!
//! Every test checks the exact RFC 9113 reaction *and* that memory stays
//! bounded (the stack's unread output, the connection's own `buffered()`,
//! the streams it holds, how many requests reached the service).

mod h2_support;

use std::time::Duration;

use h2_support::*;
use strata::http::h2::frame::{self, kind, setting, ErrorCode};
use strata::http::h2::H2Config;
use strata::{AbortReason, Close, StackConfig, StreamProtocol, StreamTransport, Timeout};

/// Slack for our own frames (SETTINGS, WINDOW_UPDATE, a GOAWAY with its
/// debug text) on top of a bound.
const SLACK: usize = 512;

fn counted_hold(
    calls: &Calls,
    log: &LostLog,
) -> impl Fn(&http::request::Parts) -> Box<dyn StreamProtocol> + Send + Sync + 'static + use<> {
    let (calls, log) = (calls.clone(), log.clone());
    move |_| {
        calls.hit();
        Box::new(Record::new(Hold, &log))
    }
}

// ---- 1. rapid reset ---------------------------------------------------------

#[test]
fn rapid_reset_ends_with_enhance_your_calm_after_max_resets() {
    let cfg = H2Config::default();
    let max = cfg.max_resets as usize;
    let (calls, log) = (Calls::default(), LostLog::default());
    let mut p = Raw::server(service(counted_hold(&calls, &log)), cfg);
    p.handshake(&[]);
    let mut goaway_at = None;
    for i in 0..max + 50 {
        let id = 1 + 2 * i as u32;
        p.post(id, "/");
        p.rst(id, ErrorCode::Cancel);
        let evs = p.read();
        assert!(p.open_streams() <= 1, "reset streams are dropped at once");
        if let Some(code) = goaway(&evs) {
            assert_eq!(code, ErrorCode::EnhanceYourCalm, "{evs:?}");
            let last = evs.iter().find_map(|e| match e {
                Ev::GoAway { last, .. } => Some(*last),
                _ => None,
            });
            assert_eq!(last, Some(id), "GOAWAY names the last stream processed");
            goaway_at = Some(i);
            break;
        }
    }
    // The reset that passes `max_resets` ends the connection.
    assert_eq!(goaway_at, Some(max));
    assert_eq!(calls.get(), max + 1);
    // Each request protocol saw the peer's CANCEL.
    for i in 0..max {
        let id = 1 + 2 * i as u32;
        let why = lost(&log, id).expect("every stream ended");
        let e = h2_error(&why).unwrap_or_else(|| panic!("stream {id}: {why:?}"));
        assert_eq!(
            (e.code, e.remote, e.stream),
            (ErrorCode::Cancel, true, Some(id))
        );
    }
    // Nothing more reaches the service; nothing is held.
    let next = 1 + 2 * (max as u32 + 1);
    p.post(next, "/");
    assert_eq!(calls.get(), max + 1);
    assert_eq!(p.open_streams(), 0);
    assert!(p.held() < SLACK);
    assert!(p.read().is_empty());
}

#[test]
fn resets_spread_over_time_are_fine() {
    let cfg = H2Config {
        max_resets: 50,
        reset_window: Duration::from_secs(10),
        ..H2Config::default()
    };
    let (calls, log) = (Calls::default(), LostLog::default());
    let mut p = Raw::server(service(counted_hold(&calls, &log)), cfg);
    p.handshake(&[]);
    let mut id = 1;
    for _round in 0..5 {
        for _ in 0..50 {
            p.post(id, "/");
            p.rst(id, ErrorCode::Cancel);
            id += 2;
        }
        assert_eq!(goaway(&p.read()), None);
        p.advance(Duration::from_secs(11));
    }
    assert_eq!(calls.get(), 250);
    assert!(p.finished().is_none());
    assert_eq!(p.open_streams(), 0);
}

#[test]
fn resets_after_a_complete_response_are_not_counted() {
    let cfg = H2Config {
        max_resets: 10,
        ..H2Config::default()
    };
    let mut p = Raw::server(service(|_| Box::new(Fixed(b"done"))), cfg);
    p.handshake(&[]);
    let mut id = 1;
    for _ in 0..100 {
        p.get(id, "/");
        p.rst(id, ErrorCode::Cancel);
        id += 2;
    }
    let evs = p.read();
    assert_eq!(goaway(&evs), None);
    assert_eq!(body(&evs, 199), (b"done".to_vec(), true));
}

#[test]
fn resets_with_no_error_count_too() {
    // RST_STREAM(NO_ERROR) before the response is complete is no more polite
    // than CANCEL: the rapid-reset limit cannot be dodged by the code.
    let cfg = H2Config {
        max_resets: 10,
        ..H2Config::default()
    };
    let (calls, log) = (Calls::default(), LostLog::default());
    let mut p = Raw::server(service(counted_hold(&calls, &log)), cfg);
    p.handshake(&[]);
    for i in 0..11 {
        p.post(1 + 2 * i, "/");
        p.rst(1 + 2 * i, ErrorCode::NoError);
    }
    assert_eq!(goaway(&p.read()), Some(ErrorCode::EnhanceYourCalm));
    assert_eq!(calls.get(), 11);
}

// ---- 2. CONTINUATION flood ------------------------------------------------

#[test]
fn continuation_flood_ends_with_enhance_your_calm() {
    let cfg = H2Config::default();
    let limit = cfg.max_header_block;
    let (calls, log) = (Calls::default(), LostLog::default());
    let mut p = Raw::server(service(counted_hold(&calls, &log)), cfg);
    p.handshake(&[]);
    let first = plain_request("GET", "/", &[]);
    // What the limit counts: fragment bytes plus 9 per frame header.
    let mut counted = first.len() + frame::HEADER_LEN;
    p.headers_frame(1, &first, true, false);
    // Endless CONTINUATION, each a fresh 1000-byte header.
    let mut field = Vec::new();
    hpack_literal(&mut field, false, b"x-flood", &[b'a'; 990]);
    let per_frame = field.len() + frame::HEADER_LEN;
    let mut frames = 0;
    let evs = loop {
        p.continuation(1, &field, false);
        counted += per_frame;
        frames += 1;
        assert!(p.held() < SLACK);
        assert!(p.pending() < SLACK);
        let evs = p.read();
        if !evs.is_empty() || frames > 1000 {
            break evs;
        }
    };
    assert_eq!(goaway(&evs), Some(ErrorCode::EnhanceYourCalm), "{evs:?}");
    // Right when the block passed the limit, not before.
    assert!(
        counted > limit && counted - per_frame <= limit,
        "{counted} after {frames} frames"
    );
    assert_eq!(calls.get(), 0);
    assert_eq!(p.open_streams(), 0);
    // More CONTINUATION after the GOAWAY costs nothing.
    for _ in 0..100 {
        p.continuation(1, &field, false);
    }
    assert!(p.read().is_empty());
}

#[test]
fn empty_continuation_flood_ends_too() {
    // Empty fragments carry no header bytes: only counting the frames
    // themselves stops them (the CPU side of CVE-2024-27316).
    let cfg = H2Config::default();
    let limit = cfg.max_header_block;
    let (calls, log) = (Calls::default(), LostLog::default());
    let mut p = Raw::server(service(counted_hold(&calls, &log)), cfg);
    p.handshake(&[]);
    p.headers_frame(1, &plain_request("GET", "/", &[]), true, false);
    let mut batch = Vec::new();
    for _ in 0..1000 {
        frame::write_header(&mut batch, 0, kind::CONTINUATION, 0, 1);
    }
    let mut frames = 0;
    let evs = loop {
        p.send(&batch);
        frames += 1000;
        let evs = p.read();
        if !evs.is_empty() || frames > 1_000_000 {
            break evs;
        }
    };
    assert_eq!(goaway(&evs), Some(ErrorCode::EnhanceYourCalm), "{evs:?}");
    // Within the block budget counted in frame headers.
    assert!(
        frames <= limit / frame::HEADER_LEN + 1000,
        "{frames} empty frames taken"
    );
    assert_eq!(calls.get(), 0);
}

// ---- 3. HPACK bomb and oversized header lists -------------------------------

/// Answers `ok` plus the length of an `x-bomb` header, if any.
struct Report;
impl StreamProtocol for Report {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let n = t
            .get::<strata::http::RequestHead>()
            .and_then(|h| h.0.headers.get("x-bomb").map(|v| v.len()))
            .unwrap_or(0);
        t.write(format!("ok {n}").as_bytes());
        t.close();
    }
}

#[test]
fn hpack_bomb_gets_431_and_the_connection_goes_on() {
    let calls = Calls::default();
    let c2 = calls.clone();
    let mut p = Raw::server(
        service(move |_| {
            c2.hit();
            Box::new(Report)
        }),
        H2Config::default(),
    );
    p.handshake(&[]);
    // A request that puts one 4000-byte header in the dynamic table (index 62).
    let mut block = plain_request("GET", "/", &[]);
    hpack_literal(&mut block, true, b"x-bomb", &[b'b'; 4000]);
    p.headers_frame(1, &block, true, true);
    let evs = p.read();
    assert_eq!(body(&evs, 1), (b"ok 4000".to_vec(), true));
    // Then a request that refers to it 12 000 times: 12 KB on the wire,
    // 48 MB decoded.
    let mut bomb = plain_request("GET", "/bomb", &[]);
    bomb.extend(std::iter::repeat_n(0xbe, 12_000));
    for id in [3, 5] {
        p.headers_frame(id, &bomb, true, true);
        assert!(p.held() < SLACK);
        let evs = p.read();
        assert_eq!(status(&evs, id).as_deref(), Some("431"), "{evs:?}");
        assert_eq!(body(&evs, id), (Vec::new(), true));
    }
    assert_eq!(
        calls.get(),
        1,
        "a refused request never reaches the service"
    );
    // The table is still in step: one reference is a normal request.
    let mut one = plain_request("GET", "/one", &[]);
    one.push(0xbe);
    p.headers_frame(7, &one, true, true);
    let evs = p.read();
    assert_eq!(body(&evs, 7), (b"ok 4000".to_vec(), true));
    assert_eq!(p.open_streams(), 0);
    assert!(p.finished().is_none());
}

#[test]
fn oversized_header_list_gets_431_others_served() {
    let cfg = H2Config::default();
    let max = cfg.max_header_list_size as usize;
    let calls = Calls::default();
    let c2 = calls.clone();
    let mut p = Raw::server(
        service(move |_| {
            c2.hit();
            Box::new(Fixed(b"fine"))
        }),
        cfg,
    );
    p.handshake(&[]);
    p.post(1, "/slow");
    // One header just over the budget, across HEADERS and CONTINUATION.
    let big = vec![b'v'; max];
    let block = plain_request(
        "GET",
        "/big",
        &[("x-big", std::str::from_utf8(&big).unwrap())],
    );
    let mut wire = Vec::new();
    frame::write_headers(&mut wire, 3, &block, true, 16_384);
    p.send(&wire);
    let evs = p.read();
    assert_eq!(status(&evs, 3).as_deref(), Some("431"), "{evs:?}");
    assert_eq!(body(&evs, 3), (Vec::new(), true));
    assert_eq!(calls.get(), 1);
    // A block just within the budget is served; stream 1 goes on.
    let fits = "v".repeat(max - 400);
    let block = plain_request("GET", "/fits", &[("x-big", &fits)]);
    let mut wire = Vec::new();
    frame::write_headers(&mut wire, 5, &block, true, 16_384);
    p.send(&wire);
    p.data(1, b"", true);
    let evs = p.read();
    assert_eq!(body(&evs, 5), (b"fine".to_vec(), true));
    assert_eq!(body(&evs, 1), (b"fine".to_vec(), true));
    assert_eq!(p.open_streams(), 0);
}

#[test]
fn a_flood_of_431s_counts_as_resets() {
    let cfg = H2Config {
        max_resets: 20,
        ..H2Config::default()
    };
    let mut p = Raw::server(service(|_| Box::new(Fixed(b""))), cfg);
    p.handshake(&[]);
    let mut block = plain_request("GET", "/", &[]);
    hpack_literal(&mut block, true, b"x-bomb", &[b'b'; 4000]);
    p.headers_frame(1, &block, true, true);
    p.read();
    let mut bomb = plain_request("GET", "/bomb", &[]);
    bomb.extend(std::iter::repeat_n(0xbe, 5));
    let mut refused = 0;
    let mut id = 3;
    let evs = loop {
        p.headers_frame(id, &bomb, true, true);
        let evs = p.read();
        if goaway(&evs).is_some() || refused > 100 {
            break evs;
        }
        assert_eq!(status(&evs, id).as_deref(), Some("431"));
        refused += 1;
        id += 2;
    };
    assert_eq!(goaway(&evs), Some(ErrorCode::EnhanceYourCalm));
    assert_eq!(refused, 20);
}

// ---- 4. control-frame and empty-DATA floods ---------------------------------

/// Sends `frame_bytes` one by one without ever reading; returns how many
/// were answered after the output passed the high-water mark, and the
/// output when the connection gave up.
fn flood_unread(p: &mut Raw, frame_bytes: &[u8], answer_len: usize) -> (usize, Vec<Ev>) {
    let hw = StackConfig::default().high_water;
    let max = H2Config::default().max_pending_control as usize;
    let mut over = 0;
    for _ in 0..100_000 {
        let before = p.pending();
        p.send(frame_bytes);
        let after = p.pending();
        assert!(
            after <= hw + (max + 2) * answer_len + SLACK,
            "{after} queued"
        );
        assert!(p.held() < SLACK);
        if after == before {
            break;
        }
        if before >= hw {
            over += 1;
        }
    }
    // The peer reads at last: the answers, then the GOAWAY.
    let evs = p.read();
    (over, evs)
}

#[test]
fn ping_flood_while_not_reading_ends_with_enhance_your_calm() {
    let mut p = Raw::server(service(|_| Box::new(Echo)), H2Config::default());
    p.handshake(&[]);
    let mut ping = Vec::new();
    frame::write_ping(&mut ping, *b"flooding", false);
    let (over, evs) = flood_unread(&mut p, &ping, ping.len());
    let max = H2Config::default().max_pending_control as usize;
    // The PING that passes the limit is the last answered.
    assert_eq!(over, max + 1);
    assert_eq!(
        evs.last().and_then(|e| goaway(std::slice::from_ref(e))),
        Some(ErrorCode::EnhanceYourCalm)
    );
    let acks = evs
        .iter()
        .filter(|e| matches!(e, Ev::Ping { ack: true, .. }))
        .count();
    assert!(acks > max);
}

#[test]
fn settings_flood_while_not_reading_ends_with_enhance_your_calm() {
    let mut p = Raw::server(service(|_| Box::new(Echo)), H2Config::default());
    p.handshake(&[]);
    let mut s = Vec::new();
    frame::write_settings(&mut s, &[]);
    let (over, evs) = flood_unread(&mut p, &s, frame::HEADER_LEN);
    assert_eq!(over, H2Config::default().max_pending_control as usize + 1);
    assert_eq!(
        evs.last().and_then(|e| goaway(std::slice::from_ref(e))),
        Some(ErrorCode::EnhanceYourCalm)
    );
}

#[test]
fn control_frames_from_a_reading_peer_are_answered_forever() {
    let mut p = Raw::server(service(|_| Box::new(Echo)), H2Config::default());
    p.handshake(&[]);
    for i in 0..5000u32 {
        p.ping(u64::from(i).to_be_bytes());
        p.settings(&[]);
        if i % 100 == 0 {
            let evs = p.read();
            assert_eq!(goaway(&evs), None);
        }
    }
    let evs = p.read();
    assert_eq!(goaway(&evs), None);
    assert!(p.finished().is_none());
}

#[test]
fn empty_data_flood_ends_with_enhance_your_calm() {
    let cfg = H2Config::default();
    let max = cfg.max_empty_data as usize;
    let mut p = Raw::server(service(|_| Box::new(Hold)), cfg);
    p.handshake(&[]);
    p.post(1, "/");
    // Up to the limit, and data in between, are fine.
    for _ in 0..3 {
        for _ in 0..max {
            p.data(1, b"", false);
        }
        p.data(1, b"x", false);
    }
    assert_eq!(goaway(&p.read()), None);
    // One past the limit in a row is not.
    for _ in 0..max {
        p.data(1, b"", false);
    }
    assert_eq!(goaway(&p.read()), None);
    p.data(1, b"", false);
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(ErrorCode::EnhanceYourCalm), "{evs:?}");
    assert_eq!(p.open_streams(), 0);
}

// ---- 5. a peer that never reads ---------------------------------------------

/// Writes `left` bytes in 4 KiB writes while the transport is writable.
struct Bulk {
    left: usize,
}
impl Bulk {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.left > 0 && t.writable() {
            let n = self.left.min(4096);
            t.write(&vec![b'x'; n]);
            self.left -= n;
        }
        if self.left == 0 {
            t.close();
        }
    }
}
impl StreamProtocol for Bulk {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
}

/// The peer's settings and window updates for "send me anything".
fn open_windows(p: &mut Raw) {
    p.handshake(&[(setting::INITIAL_WINDOW_SIZE, (1 << 31) - 1)]);
    p.window_update(0, (1 << 31) - 1 - 65_535);
}

#[test]
fn peer_that_never_reads_is_bounded_then_stalls_out() {
    let cfg = H2Config::default();
    let stall = cfg.stall_timeout;
    let hw = StackConfig::default().high_water;
    let log = LostLog::default();
    let l2 = log.clone();
    let mut p = Raw::server(
        service(move |_| Box::new(Record::new(Bulk { left: 50 << 20 }, &l2))),
        cfg.clone(),
    );
    open_windows(&mut p);
    // Three streams, all writing 50 MiB to a peer that reads nothing.
    for id in [1, 3, 5] {
        p.get(id, "/");
        // The stack's queue stays near its high-water mark, each stream's
        // own queue within its send buffer.
        assert!(
            p.pending() <= hw + 3 * (16 << 10) + SLACK,
            "{}",
            p.pending()
        );
        assert!(p.held() <= 3 * cfg.stream_send_buffer, "{}", p.held());
    }
    p.advance(stall - Duration::from_secs(1));
    assert!(p.finished().is_none());
    p.advance(Duration::from_secs(2));
    assert!(
        matches!(p.finished(), Some(Close::Timeout(Timeout::Stall))),
        "{:?}",
        p.finished()
    );
    for id in [1, 3, 5] {
        assert!(
            matches!(lost(&log, id), Some(Close::Timeout(Timeout::Stall))),
            "{:?}",
            lost(&log, id)
        );
    }
}

#[test]
fn a_slow_but_steady_reader_is_not_a_stall() {
    let cfg = H2Config::default();
    let mut p = Raw::server(service(|_| Box::new(Bulk { left: 4 << 20 })), cfg.clone());
    open_windows(&mut p);
    p.get(1, "/");
    let mut got = 0;
    for _ in 0..200 {
        p.advance(cfg.stall_timeout / 2);
        let (b, end) = body(&p.read(), 1);
        got += b.len();
        if end {
            break;
        }
    }
    assert_eq!(got, 4 << 20);
    assert!(p.finished().is_none());
}

/// Ignores `writable()`: writes its whole body at once.
struct Firehose(usize);
impl StreamProtocol for Firehose {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        for _ in 0..self.0 / 4096 {
            t.write(&[b'f'; 4096]);
        }
        t.close();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn handler_ignoring_back_pressure_is_reset_alone() {
    let cfg = H2Config::default();
    let limit = cfg.stream_send_limit;
    let log = LostLog::default();
    let l2 = log.clone();
    let mut p = Raw::server(
        service(move |req| {
            if req.uri.path() == "/firehose" {
                Box::new(Record::new(Firehose(2 * limit), &l2))
            } else {
                Box::new(Record::new(Fixed(b"small"), &l2))
            }
        }),
        cfg,
    );
    p.handshake(&[]);
    p.get(1, "/firehose");
    // The stream queued up to its limit and was reset; its queue is gone.
    assert!(p.pending() <= 65_535 + SLACK, "{}", p.pending());
    assert!(p.held() < SLACK);
    let why = lost(&log, 1).expect("stream 1 ended");
    assert!(
        matches!(why, Close::Aborted { reason: AbortReason::MemoryBudget { limit: l }, .. } if l == limit),
        "{why:?}"
    );
    let evs = p.read();
    assert_eq!(rst(&evs, 1), Some(ErrorCode::InternalError));
    // Output written while the request's read is handled waits for its end
    // (a later frame of the read may reset the stream), so here the reset
    // came first and nothing of stream 1 went out; at most its window.
    assert!(body(&evs, 1).0.len() <= 65_535);
    // The peer read stream 1's window's worth and gives it back.
    p.window_update(0, 65_535);
    p.get(3, "/");
    let evs = p.read();
    assert_eq!(body(&evs, 3), (b"small".to_vec(), true));
    assert!(p.finished().is_none());
}

/// Writes a fixed body at once, then closes.
struct Blob(usize);
impl StreamProtocol for Blob {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(&vec![b'z'; self.0]);
        t.close();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn stream_stuck_on_its_own_window_is_cancelled_others_go_on() {
    let cfg = H2Config::default();
    let stall = cfg.stall_timeout;
    let log = LostLog::default();
    let l2 = log.clone();
    let mut p = Raw::server(
        service(move |req| match req.uri.path() {
            "/stuck" => Box::new(Record::new(Blob(60_000), &l2)),
            _ => Box::new(Record::new(Bulk { left: 1 << 20 }, &l2)),
        }),
        cfg,
    );
    // Every stream starts with no window; the connection's is wide open.
    p.handshake(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
    p.window_update(0, (1 << 31) - 1 - 65_535);
    p.get(1, "/stuck");
    assert!(p.held() >= 60_000);
    // Stream 3 gets a window and the peer reads it all, well within the
    // stall timeout: it is not held back by stream 1's queue.
    p.get(3, "/bulk");
    p.window_update(3, (1 << 31) - 1);
    let mut got = 0;
    let mut done = false;
    for _ in 0..100 {
        let (b, end) = body(&p.read(), 3);
        got += b.len();
        if end {
            done = true;
            break;
        }
        p.advance(Duration::from_millis(100));
    }
    assert!(done, "stream 3 finished ({got} bytes)");
    assert_eq!(got, 1 << 20);
    assert!(p.read().iter().all(|e| !matches!(e, Ev::Rst { .. })));
    // Stream 1 is cancelled once it has been stuck for the stall timeout.
    p.advance(stall);
    let evs = p.read();
    assert_eq!(rst(&evs, 1), Some(ErrorCode::Cancel), "{evs:?}");
    assert!(matches!(
        lost(&log, 1),
        Some(Close::Timeout(Timeout::Stall))
    ));
    assert_eq!(p.open_streams(), 0);
    assert!(p.held() < SLACK);
    assert!(p.finished().is_none());
    // The connection serves on.
    p.get(5, "/stuck");
    p.window_update(5, 60_000);
    let evs = p.read();
    assert_eq!(body(&evs, 5).0.len(), 60_000);
}

// ---- 6. too many concurrent streams ----------------------------------------

#[test]
fn streams_past_the_limit_are_refused_the_others_served() {
    let cfg = H2Config {
        max_concurrent_streams: 2,
        ..H2Config::default()
    };
    let calls = Calls::default();
    let c2 = calls.clone();
    let mut p = Raw::server(
        service(move |_| {
            c2.hit();
            Box::new(Echo)
        }),
        cfg,
    );
    let evs = p.handshake(&[]);
    assert!(evs
        .iter()
        .any(|e| matches!(e, Ev::Settings { ack: false, values }
        if values.contains(&(setting::MAX_CONCURRENT_STREAMS, 2)))));
    p.post(1, "/");
    p.post(3, "/");
    p.post(5, "/");
    let evs = p.read();
    assert_eq!(rst(&evs, 5), Some(ErrorCode::RefusedStream), "{evs:?}");
    assert_eq!(calls.get(), 2);
    // Data the peer had in flight for the refused stream is answered, not fatal.
    p.data(5, b"late", true);
    p.data(1, b"one", true);
    p.data(3, b"three", true);
    let evs = p.read();
    assert_eq!(body(&evs, 1), (b"one".to_vec(), true));
    assert_eq!(body(&evs, 3), (b"three".to_vec(), true));
    // RFC 9113 §5.1: frames the peer sent before it saw our RST_STREAM are
    // ignored, not answered again.
    assert_eq!(rst(&evs, 5), None, "{evs:?}");
    // With room again, a new stream is served.
    p.post(7, "/");
    p.data(7, b"seven", true);
    assert_eq!(body(&p.read(), 7), (b"seven".to_vec(), true));
    assert_eq!(calls.get(), 3);
}

#[test]
fn default_limit_is_128_streams() {
    let mut p = Raw::server(service(|_| Box::new(Hold)), H2Config::default());
    p.handshake(&[]);
    for i in 0..130u32 {
        p.post(1 + 2 * i, "/");
    }
    let evs = p.read();
    let refused: Vec<u32> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Rst {
                stream,
                code: ErrorCode::RefusedStream,
            } => Some(*stream),
            _ => None,
        })
        .collect();
    assert_eq!(refused, vec![257, 259]);
    assert_eq!(p.open_streams(), 128);
}

// ---- 7. oversized frames ----------------------------------------------------

#[test]
fn oversized_frame_is_refused_from_its_header_alone() {
    let log = LostLog::default();
    let l2 = log.clone();
    let mut p = Raw::server(
        service(move |_| Box::new(Record::new(Echo, &l2))),
        H2Config::default(),
    );
    p.handshake(&[]);
    p.post(1, "/");
    // A frame of exactly SETTINGS_MAX_FRAME_SIZE is fine.
    p.data(1, &[7; 16_384], false);
    assert_eq!(body(&p.read(), 1).0.len(), 16_384);
    // One byte more: only the 9-byte header is sent, and that is enough.
    let mut h = Vec::new();
    frame::write_header(&mut h, 16_385, kind::DATA, 0, 1);
    p.send(&h);
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(ErrorCode::FrameSizeError), "{evs:?}");
    assert!(p.held() < SLACK);
    let why = lost(&log, 1).expect("stream 1 ended");
    let e = h2_error(&why).expect("an HTTP/2 error");
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::FrameSizeError, false, None)
    );
    // The announced payload never arrives; nothing waits for it.
    p.send(&[0; 1000]);
    assert!(p.read().is_empty());
}

#[test]
fn a_larger_max_frame_size_is_announced_and_enforced() {
    let cfg = H2Config {
        max_frame_size: 32_768,
        ..H2Config::default()
    };
    let mut p = Raw::server(service(|_| Box::new(Echo)), cfg);
    let evs = p.handshake(&[]);
    assert!(evs
        .iter()
        .any(|e| matches!(e, Ev::Settings { ack: false, values }
        if values.contains(&(setting::MAX_FRAME_SIZE, 32_768)))));
    p.post(1, "/");
    p.data(1, &[1; 32_768], false);
    assert_eq!(body(&p.read(), 1).0.len(), 32_768);
    let mut h = Vec::new();
    frame::write_header(&mut h, 32_769, kind::HEADERS, 0, 3);
    p.send(&h);
    assert_eq!(goaway(&p.read()), Some(ErrorCode::FrameSizeError));
}

// ---- 8. stream-id misuse ----------------------------------------------------

fn served() -> Raw {
    let mut p = Raw::server(service(|_| Box::new(Fixed(b"ok"))), H2Config::default());
    p.handshake(&[]);
    p
}

#[test]
fn even_stream_id_from_a_client_is_a_connection_error() {
    let mut p = served();
    p.get(2, "/");
    assert_eq!(goaway(&p.read()), Some(ErrorCode::ProtocolError));
}

#[test]
fn decreasing_stream_id_is_a_connection_error() {
    let mut p = served();
    p.get(5, "/");
    assert_eq!(body(&p.read(), 5), (b"ok".to_vec(), true));
    p.get(3, "/");
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(ErrorCode::ProtocolError));
    assert_eq!(status(&evs, 3), None);
}

#[test]
fn reusing_a_closed_stream_id_is_a_connection_error() {
    let mut p = served();
    p.get(1, "/");
    assert_eq!(body(&p.read(), 1), (b"ok".to_vec(), true));
    p.get(1, "/");
    assert_eq!(goaway(&p.read()), Some(ErrorCode::ProtocolError));
}

#[test]
fn frames_on_idle_streams_are_connection_errors() {
    type Poke = fn(&mut Raw);
    let cases: [(&str, Poke); 3] = [
        ("DATA", |p| p.data(9, b"x", false)),
        ("WINDOW_UPDATE", |p| p.window_update(9, 10)),
        ("RST_STREAM", |p| p.rst(9, ErrorCode::Cancel)),
    ];
    for (name, poke) in cases {
        let mut p = served();
        p.get(1, "/");
        p.read();
        poke(&mut p);
        assert_eq!(
            goaway(&p.read()),
            Some(ErrorCode::ProtocolError),
            "{name} on idle stream 9"
        );
    }
}

#[test]
fn priority_on_an_idle_stream_is_allowed() {
    let mut p = served();
    p.raw_frame(kind::PRIORITY, 0, 9, &[0, 0, 0, 0, 15]);
    p.get(1, "/");
    let evs = p.read();
    assert_eq!(goaway(&evs), None);
    assert_eq!(body(&evs, 1), (b"ok".to_vec(), true));
}

#[test]
fn data_on_a_closed_stream_is_a_stream_error() {
    let cfg = H2Config {
        connection_window: 65_535,
        ..H2Config::default()
    };
    let mut p = Raw::server(service(|_| Box::new(Fixed(b"ok"))), cfg);
    p.handshake(&[]);
    p.get(1, "/");
    assert_eq!(body(&p.read(), 1), (b"ok".to_vec(), true));
    p.data(1, b"late", true);
    let evs = p.read();
    assert_eq!(rst(&evs, 1), Some(ErrorCode::StreamClosed), "{evs:?}");
    assert_eq!(goaway(&evs), None);
    // The bytes count against the connection window and are given back:
    // far more than the window, in frames the peer had in flight, is fine.
    let mut credited = 0;
    for _ in 0..20 {
        p.data(1, &[0; 16_000], false);
        let evs = p.read();
        assert_eq!(goaway(&evs), None, "{evs:?}");
        credited += evs
            .iter()
            .map(|e| match e {
                Ev::WindowUpdate { stream: 0, inc } => *inc as usize,
                _ => 0,
            })
            .sum::<usize>();
    }
    assert!(credited >= 20 * 16_000 - 65_535, "{credited} given back");
    p.get(3, "/");
    assert_eq!(body(&p.read(), 3), (b"ok".to_vec(), true));
}

#[test]
fn data_on_closed_streams_while_not_reading_is_bounded() {
    // DATA on a closed stream is answered once with RST_STREAM(STREAM_CLOSED);
    // what follows on it is ignored (RFC 9113 §5.1), so a peer that sends
    // them without reading makes us queue nothing more.
    let mut p = served();
    p.get(1, "/");
    p.read();
    let hw = StackConfig::default().high_water;
    let mut d = Vec::new();
    frame::write_data(&mut d, 1, b"x", false);
    for _ in 0..50_000 {
        p.send(&d);
        assert!(p.pending() <= hw + SLACK, "{}", p.pending());
    }
    let evs = p.read();
    let rsts = evs
        .iter()
        .filter(|e| {
            matches!(
                e,
                Ev::Rst {
                    stream: 1,
                    code: ErrorCode::StreamClosed
                }
            )
        })
        .count();
    assert_eq!(rsts, 1, "{evs:?}");
    assert_eq!(goaway(&evs), None);
    // The connection window was given back, and the connection serves on.
    p.get(3, "/");
    assert!(body(&p.read(), 3).1);
}

#[test]
fn headers_after_end_stream_is_stream_closed() {
    let log = LostLog::default();
    let l2 = log.clone();
    let mut p = Raw::server(
        service(move |req| match req.uri.path() {
            "/hold" => Box::new(Record::new(Hold, &l2)),
            _ => Box::new(Fixed(b"ok")),
        }),
        H2Config::default(),
    );
    p.handshake(&[]);
    p.get(1, "/hold");
    p.read();
    // Stream 1 is half-closed (remote): a second HEADERS is a stream error
    // STREAM_CLOSED (RFC 9113 §5.1), decoded first so HPACK stays in step.
    p.headers(1, &[("x-late", "trailer-like")], true);
    let evs = p.read();
    assert_eq!(rst(&evs, 1), Some(ErrorCode::StreamClosed), "{evs:?}");
    assert_eq!(goaway(&evs), None);
    let why = lost(&log, 1).expect("stream 1 ended");
    let e = h2_error(&why).expect("an HTTP/2 error");
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::StreamClosed, false, Some(1))
    );
    p.headers(
        3,
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", "/"),
            ("x-late", "trailer-like"),
        ],
        true,
    );
    assert_eq!(body(&p.read(), 3), (b"ok".to_vec(), true));
}
