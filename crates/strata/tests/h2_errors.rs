//! Every protocol error class of RFC 9113, written frame by frame by a raw
//! peer: the error code, its scope (RST_STREAM for a stream error while the
//! other streams go on, GOAWAY for a connection error), and what each
//! request protocol's `connection_lost` receives.

mod h2_support;

use std::time::Duration;

use h2_support::*;
use strata::http::h2::frame::{self, flag, kind, setting, ErrorCode};
use strata::http::h2::H2Config;
use strata::{Close, StreamProtocol, StreamTransport};

/// A server whose requests echo their body; `calls` counts requests that
/// reached the service, `log` records how each ended.
fn echo_server(cfg: H2Config) -> (Raw, Calls, LostLog) {
    let (calls, log) = (Calls::default(), LostLog::default());
    let (c2, l2) = (calls.clone(), log.clone());
    let p = Raw::server(
        service(move |_| {
            c2.hit();
            Box::new(Record::new(Echo, &l2))
        }),
        cfg,
    );
    (p, calls, log)
}

fn ready() -> (Raw, Calls, LostLog) {
    let (mut p, calls, log) = echo_server(H2Config::default());
    p.handshake(&[]);
    (p, calls, log)
}

/// The connection error that ended the connection, and that it then closes.
fn assert_conn_error(p: &mut Raw, code: ErrorCode) {
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(code), "{evs:?}");
    assert!(p.finished().is_some(), "closed after the GOAWAY");
}

/// The HTTP/2 error stream `id`'s protocol received.
fn lost_h2(log: &LostLog, id: u32) -> strata::http::h2::H2Error {
    let why = lost(log, id).unwrap_or_else(|| panic!("stream {id} did not end"));
    h2_error(&why)
        .unwrap_or_else(|| panic!("stream {id}: {why:?}"))
        .clone()
}

/// Stream 1 is open (a POST waiting for its body); after `f`, it still
/// completes.
fn others_go_on(p: &mut Raw, f: impl FnOnce(&mut Raw)) {
    p.post(1, "/");
    p.data(1, b"before ", false);
    f(p);
    p.data(1, b"after", true);
    let evs = p.read();
    assert_eq!(goaway(&evs), None, "{evs:?}");
    assert!(body(&evs, 1).1, "stream 1 completed: {evs:?}");
}

// ---- preface and SETTINGS ---------------------------------------------------

#[test]
fn bad_preface_is_a_protocol_error() {
    let (mut p, calls, _) = echo_server(H2Config::default());
    p.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
    assert_eq!(calls.get(), 0);
}

#[test]
fn preface_may_arrive_byte_by_byte() {
    let (mut p, _, _) = echo_server(H2Config::default());
    for b in frame::PREFACE {
        p.send(&[*b]);
    }
    p.settings(&[]);
    let evs = p.read();
    assert!(
        evs.contains(&Ev::Settings {
            ack: true,
            values: vec![]
        }),
        "{evs:?}"
    );
    assert_eq!(goaway(&evs), None);
}

#[test]
fn first_frame_must_be_settings() {
    for first in [kind::PING, kind::WINDOW_UPDATE] {
        let (mut p, _, _) = echo_server(H2Config::default());
        let mut b = frame::PREFACE.to_vec();
        match first {
            kind::PING => frame::write_ping(&mut b, [0; 8], false),
            _ => frame::write_window_update(&mut b, 0, 100),
        }
        p.send(&b);
        assert_conn_error(&mut p, ErrorCode::ProtocolError);
    }
    // A SETTINGS ACK is not the client's SETTINGS either.
    let (mut p, _, _) = echo_server(H2Config::default());
    let mut b = frame::PREFACE.to_vec();
    frame::write_settings_ack(&mut b);
    p.send(&b);
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
}

#[test]
fn first_frame_is_checked_even_when_the_codec_rejects_it_for_a_stream() {
    // A PRIORITY of the wrong length is a stream error by itself, but as the
    // first frame it is the connection's PROTOCOL_ERROR.
    let (mut p, _, _) = echo_server(H2Config::default());
    let mut b = frame::PREFACE.to_vec();
    frame::write_header(&mut b, 4, kind::PRIORITY, 0, 1);
    b.extend_from_slice(&[0; 4]);
    p.send(&b);
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
}

#[test]
fn bad_settings_values() {
    let cases: [(&str, (u16, u32), ErrorCode); 5] = [
        (
            "ENABLE_PUSH=2",
            (setting::ENABLE_PUSH, 2),
            ErrorCode::ProtocolError,
        ),
        (
            "INITIAL_WINDOW_SIZE=2^31",
            (setting::INITIAL_WINDOW_SIZE, 1 << 31),
            ErrorCode::FlowControlError,
        ),
        (
            "MAX_FRAME_SIZE=16383",
            (setting::MAX_FRAME_SIZE, 16_383),
            ErrorCode::ProtocolError,
        ),
        (
            "MAX_FRAME_SIZE=2^24",
            (setting::MAX_FRAME_SIZE, 1 << 24),
            ErrorCode::ProtocolError,
        ),
        (
            "ENABLE_CONNECT_PROTOCOL=2",
            (setting::ENABLE_CONNECT_PROTOCOL, 2),
            ErrorCode::ProtocolError,
        ),
    ];
    for (name, s, code) in cases {
        let (mut p, _, _) = echo_server(H2Config::default());
        // ENABLE_PUSH=1 from a client is allowed (and means nothing to a server).
        let evs = p.handshake(&[(setting::ENABLE_PUSH, 1), s]);
        assert_eq!(goaway(&evs), Some(code), "{name}: {evs:?}");
        assert!(
            !evs.contains(&Ev::Settings {
                ack: true,
                values: vec![]
            }),
            "{name}: a bad SETTINGS is not acknowledged"
        );
    }
}

#[test]
fn extreme_but_valid_settings_are_accepted() {
    let (mut p, _, _) = echo_server(H2Config::default());
    let evs = p.handshake(&[
        (setting::INITIAL_WINDOW_SIZE, (1 << 31) - 1),
        (setting::MAX_FRAME_SIZE, (1 << 24) - 1),
        (setting::MAX_FRAME_SIZE, 16_384),
        (setting::HEADER_TABLE_SIZE, 0),
        (setting::MAX_CONCURRENT_STREAMS, 0),
        (0xff, 7), // unknown: ignored
    ]);
    assert_eq!(goaway(&evs), None, "{evs:?}");
    assert!(evs.contains(&Ev::Settings {
        ack: true,
        values: vec![]
    }));
    p.get(1, "/");
    assert_eq!(body(&p.read(), 1), (Vec::new(), true));
}

#[test]
fn malformed_settings_frames_are_frame_size_or_protocol_errors() {
    type Case = (&'static str, u8, u32, &'static [u8], ErrorCode);
    let cases: [Case; 3] = [
        (
            "length not a multiple of 6",
            0,
            0,
            &[0, 3, 0, 0, 0],
            ErrorCode::FrameSizeError,
        ),
        (
            "ACK with a payload",
            flag::ACK,
            0,
            &[0, 3, 0, 0, 0, 1],
            ErrorCode::FrameSizeError,
        ),
        ("on stream 1", 0, 1, &[], ErrorCode::ProtocolError),
    ];
    for (name, flags, stream, payload, code) in cases {
        let (mut p, _, _) = ready();
        p.raw_frame(kind::SETTINGS, flags, stream, payload);
        let evs = p.read();
        assert_eq!(goaway(&evs), Some(code), "{name}: {evs:?}");
    }
}

#[test]
fn settings_ack_timeout() {
    let cfg = H2Config::default();
    let timeout = cfg.settings_timeout;
    let (mut p, _, log) = echo_server(cfg);
    // The client's SETTINGS, but never an ACK of ours.
    let mut b = frame::PREFACE.to_vec();
    frame::write_settings(&mut b, &[]);
    p.send(&b);
    p.post(1, "/");
    p.read();
    p.advance(timeout - Duration::from_millis(1));
    assert_eq!(goaway(&p.read()), None);
    p.advance(Duration::from_millis(1));
    assert_conn_error(&mut p, ErrorCode::SettingsTimeout);
    let e = lost_h2(&log, 1);
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::SettingsTimeout, false, None)
    );
    let why = lost(&log, 1).unwrap();
    assert_eq!(why.kind(), Some(strata::Fault::LocalLimit));
}

#[test]
fn acknowledged_settings_never_time_out() {
    let (mut p, _, _) = ready();
    p.post(1, "/");
    p.advance(Duration::from_secs(100));
    assert_eq!(goaway(&p.read()), None);
}

// ---- flow control -----------------------------------------------------------

#[test]
fn connection_window_overflow() {
    let (mut p, _, log) = ready();
    p.post(1, "/");
    // 65 535 + (2^31 - 1) is past the largest window.
    p.window_update(0, (1 << 31) - 1);
    assert_conn_error(&mut p, ErrorCode::FlowControlError);
    let e = lost_h2(&log, 1);
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::FlowControlError, false, None)
    );
    // The core's taxonomy, with no H2 type in sight: the peer is at fault.
    let why = lost(&log, 1).unwrap();
    assert_eq!(why.kind(), Some(strata::Fault::PeerMisbehaved));
}

#[test]
fn stream_window_overflow_is_a_stream_error() {
    let (mut p, _, log) = ready();
    others_go_on(&mut p, |p| {
        p.post(3, "/");
        p.window_update(3, (1 << 31) - 1);
        let evs = p.read();
        assert_eq!(rst(&evs, 3), Some(ErrorCode::FlowControlError), "{evs:?}");
    });
    let e = lost_h2(&log, 3);
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::FlowControlError, false, Some(3))
    );
}

#[test]
fn initial_window_change_that_overflows_a_stream_is_a_connection_error() {
    let (mut p, _, _) = ready();
    p.post(1, "/");
    p.window_update(1, 1000);
    // Stream 1's window would become 2^31 - 1 + 1000.
    p.settings(&[(setting::INITIAL_WINDOW_SIZE, (1 << 31) - 1)]);
    assert_conn_error(&mut p, ErrorCode::FlowControlError);
}

#[test]
fn zero_window_increment() {
    let (mut p, _, _) = ready();
    others_go_on(&mut p, |p| {
        p.post(3, "/");
        p.raw_frame(kind::WINDOW_UPDATE, 0, 3, &[0; 4]);
        assert_eq!(rst(&p.read(), 3), Some(ErrorCode::ProtocolError));
    });
    p.raw_frame(kind::WINDOW_UPDATE, 0, 0, &[0; 4]);
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
}

/// Pauses reading at once, so nothing it receives gives window back.
struct Paused;
impl StreamProtocol for Paused {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.pause_reading();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn data_beyond_the_stream_window_is_a_stream_error() {
    let cfg = H2Config {
        initial_stream_window: 65_535,
        ..H2Config::default()
    };
    let log = LostLog::default();
    let l2 = log.clone();
    let mut p = Raw::server(
        service(move |req| match req.uri.path() {
            "/paused" => Box::new(Record::new(Paused, &l2)),
            _ => Box::new(Record::new(Echo, &l2)),
        }),
        cfg,
    );
    p.handshake(&[]);
    others_go_on(&mut p, |p| {
        p.post(3, "/paused");
        for _ in 0..4 {
            p.data(3, &[0; 16_383], false);
        }
        p.data(3, &[0; 3], false);
        assert_eq!(rst(&p.read(), 3), None, "exactly the window is fine");
        p.data(3, &[0], false);
        assert_eq!(rst(&p.read(), 3), Some(ErrorCode::FlowControlError));
    });
    let e = lost_h2(&log, 3);
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::FlowControlError, false, Some(3))
    );
}

#[test]
fn data_beyond_the_connection_window_is_a_connection_error() {
    let cfg = H2Config {
        connection_window: 65_535,
        ..H2Config::default()
    };
    let log = LostLog::default();
    let l2 = log.clone();
    let mut p = Raw::server(service(move |_| Box::new(Record::new(Paused, &l2))), cfg);
    let evs = p.handshake(&[]);
    assert!(!evs
        .iter()
        .any(|e| matches!(e, Ev::WindowUpdate { stream: 0, .. })));
    p.post(1, "/");
    p.post(3, "/");
    p.data(1, &[0; 16_000], false);
    p.data(1, &[0; 16_000], false);
    p.data(1, &[0; 8_000], false);
    p.data(3, &[0; 16_000], false);
    p.data(3, &[0; 9_535], false);
    assert_eq!(goaway(&p.read()), None, "exactly the window is fine");
    p.data(3, &[0], false);
    assert_conn_error(&mut p, ErrorCode::FlowControlError);
    for id in [1, 3] {
        let e = lost_h2(&log, id);
        assert_eq!(
            (e.code, e.remote, e.stream),
            (ErrorCode::FlowControlError, false, None)
        );
    }
}

#[test]
fn padding_counts_against_the_window_and_is_given_back() {
    let cfg = H2Config {
        connection_window: 65_535,
        ..H2Config::default()
    };
    let (mut p, _, _) = echo_server(cfg);
    p.handshake(&[]);
    p.post(1, "/");
    // DATA "hi" with 200 bytes of padding, many times: far more than the
    // window in total, fine because the padding is credited back.
    let mut payload = vec![200u8];
    payload.extend_from_slice(b"hi");
    payload.extend_from_slice(&[0; 200]);
    let mut got = Vec::new();
    for _ in 0..1000 {
        p.raw_frame(kind::DATA, flag::PADDED, 1, &payload);
        got.extend(body(&p.read(), 1).0);
    }
    assert_eq!(got.len(), 2000);
    // Padding longer than the payload is a PROTOCOL_ERROR.
    p.raw_frame(kind::DATA, flag::PADDED, 1, &[5, 1, 2]);
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
}

// ---- frames in the wrong place ----------------------------------------------

#[test]
fn push_promise_from_a_client() {
    let (mut p, _, _) = ready();
    p.post(1, "/");
    let mut payload = vec![0, 0, 0, 2];
    payload.extend(plain_request("GET", "/pushed", &[]));
    p.raw_frame(kind::PUSH_PROMISE, flag::END_HEADERS, 1, &payload);
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
}

#[test]
fn connection_frames_on_a_stream_and_stream_frames_on_zero() {
    type Case = (&'static str, u8, u32, &'static [u8], ErrorCode);
    let cases: [Case; 6] = [
        ("DATA on 0", kind::DATA, 0, b"x", ErrorCode::ProtocolError),
        (
            "HEADERS on 0",
            kind::HEADERS,
            0,
            &[0x82],
            ErrorCode::ProtocolError,
        ),
        (
            "PING on 1",
            kind::PING,
            1,
            &[0; 8],
            ErrorCode::ProtocolError,
        ),
        (
            "GOAWAY on 1",
            kind::GOAWAY,
            1,
            &[0; 8],
            ErrorCode::ProtocolError,
        ),
        (
            "RST_STREAM on 0",
            kind::RST_STREAM,
            0,
            &[0; 4],
            ErrorCode::ProtocolError,
        ),
        (
            "PRIORITY on 0",
            kind::PRIORITY,
            0,
            &[0; 5],
            ErrorCode::ProtocolError,
        ),
    ];
    for (name, k, stream, payload, code) in cases {
        let (mut p, _, _) = ready();
        p.raw_frame(k, 0, stream, payload);
        assert_eq!(goaway(&p.read()), Some(code), "{name}");
    }
}

#[test]
fn wrong_frame_lengths() {
    type Case = (&'static str, u8, u32, &'static [u8]);
    let cases: [Case; 4] = [
        ("PING of 7", kind::PING, 0, &[0; 7]),
        ("RST_STREAM of 3", kind::RST_STREAM, 1, &[0; 3]),
        (
            "WINDOW_UPDATE of 5",
            kind::WINDOW_UPDATE,
            0,
            &[0, 0, 0, 1, 0],
        ),
        ("GOAWAY of 7", kind::GOAWAY, 0, &[0; 7]),
    ];
    for (name, k, stream, payload) in cases {
        let (mut p, _, _) = ready();
        p.post(1, "/");
        p.raw_frame(k, 0, stream, payload);
        assert_eq!(goaway(&p.read()), Some(ErrorCode::FrameSizeError), "{name}");
    }
    // PRIORITY of the wrong length is a stream error only.
    let (mut p, _, _) = ready();
    others_go_on(&mut p, |p| {
        p.raw_frame(kind::PRIORITY, 0, 3, &[0; 4]);
        assert_eq!(rst(&p.read(), 3), Some(ErrorCode::FrameSizeError));
    });
}

#[test]
fn self_dependency_is_a_stream_error_and_hpack_stays_in_step() {
    let (mut p, calls, _) = ready();
    others_go_on(&mut p, |p| {
        p.raw_frame(kind::PRIORITY, 0, 5, &[0, 0, 0, 5, 15]);
        assert_eq!(rst(&p.read(), 5), Some(ErrorCode::ProtocolError));
        // HEADERS depending on itself, with a block that adds to the table.
        let block = p.block(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", "/"),
            ("x-custom", "a value worth indexing"),
        ]);
        let mut payload = vec![0, 0, 0, 7, 15];
        payload.extend_from_slice(&block);
        p.raw_frame(
            kind::HEADERS,
            flag::PRIORITY | flag::END_HEADERS | flag::END_STREAM,
            7,
            &payload,
        );
        assert_eq!(rst(&p.read(), 7), Some(ErrorCode::ProtocolError));
    });
    // The next request refers to what stream 7's block put in the table.
    let before = calls.get();
    p.headers(
        9,
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", "/"),
            ("x-custom", "a value worth indexing"),
        ],
        true,
    );
    let evs = p.read();
    assert_eq!(goaway(&evs), None, "{evs:?}");
    assert_eq!(body(&evs, 9), (Vec::new(), true));
    assert_eq!(calls.get(), before + 1);
}

#[test]
fn unknown_frame_types_are_ignored() {
    let (mut p, _, _) = ready();
    others_go_on(&mut p, |p| {
        p.raw_frame(0xfa, 0xff, 0, b"whatever");
        p.raw_frame(0xfb, 0, 99, b"");
    });
}

// ---- header blocks ----------------------------------------------------------

#[test]
fn header_block_interrupted_by_another_frame() {
    type Interrupt = fn(&mut Raw);
    let cases: [(&str, Interrupt); 5] = [
        ("PING", |p| p.ping([0; 8])),
        ("DATA on the same stream", |p| p.data(3, b"x", false)),
        ("CONTINUATION of another stream", |p| {
            p.continuation(5, &[0x82], true)
        }),
        ("HEADERS of another stream", |p| {
            p.headers_frame(5, &plain_request("GET", "/", &[]), true, true)
        }),
        // A frame the codec rejects for its stream alone is still an
        // interruption.
        ("a bad PRIORITY", |p| {
            p.raw_frame(kind::PRIORITY, 0, 5, &[0; 4])
        }),
    ];
    for (name, interrupt) in cases {
        let (mut p, calls, _) = ready();
        p.headers_frame(3, &plain_request("GET", "/", &[]), true, false);
        interrupt(&mut p);
        let evs = p.read();
        assert_eq!(
            goaway(&evs),
            Some(ErrorCode::ProtocolError),
            "{name}: {evs:?}"
        );
        assert_eq!(calls.get(), 0, "{name}");
    }
}

#[test]
fn continuation_without_headers() {
    let (mut p, _, _) = ready();
    p.continuation(1, &[0x82], true);
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
}

#[test]
fn header_block_split_across_frames_is_one_request() {
    let (mut p, calls, _) = ready();
    let block = plain_request("GET", "/split", &[("x-a", "1")]);
    let (a, rest) = block.split_at(3);
    let (b, c) = rest.split_at(rest.len() / 2);
    p.headers_frame(1, a, true, false);
    p.continuation(1, b, false);
    p.continuation(1, &[], false);
    p.continuation(1, c, true);
    let evs = p.read();
    assert_eq!(status(&evs, 1).as_deref(), Some("200"), "{evs:?}");
    assert_eq!(calls.get(), 1);
}

#[test]
fn hpack_failure_is_a_compression_error() {
    let (mut p, _, log) = ready();
    p.post(1, "/");
    // Index 0 does not exist.
    p.headers_frame(3, &[0x80], true, true);
    assert_conn_error(&mut p, ErrorCode::CompressionError);
    let e = lost_h2(&log, 1);
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::CompressionError, false, None)
    );
}

// ---- malformed requests -----------------------------------------------------

#[test]
fn malformed_requests_are_stream_errors() {
    let get = [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", "/"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        get.iter().copied().chain(extra.iter().copied()).collect()
    };
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "missing :path",
            vec![(":method", "GET"), (":scheme", "http"), (":authority", "x")],
        ),
        (
            "missing :method",
            vec![(":scheme", "http"), (":authority", "x"), (":path", "/")],
        ),
        (
            "missing :scheme",
            vec![(":method", "GET"), (":authority", "x"), (":path", "/")],
        ),
        (
            "empty :path",
            vec![
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "x"),
                (":path", ""),
            ],
        ),
        ("duplicate :path", with(&[(":path", "/again")])),
        ("unknown pseudo-header", with(&[(":foo", "bar")])),
        (
            "pseudo after regular",
            vec![
                (":method", "GET"),
                (":scheme", "http"),
                ("x-a", "1"),
                (":path", "/"),
            ],
        ),
        (":status in a request", with(&[(":status", "200")])),
        ("uppercase name", with(&[("X-Upper", "1")])),
        ("connection", with(&[("connection", "keep-alive")])),
        ("keep-alive", with(&[("keep-alive", "5")])),
        ("proxy-connection", with(&[("proxy-connection", "x")])),
        (
            "transfer-encoding",
            with(&[("transfer-encoding", "chunked")]),
        ),
        ("upgrade", with(&[("upgrade", "h2c")])),
        ("te: gzip", with(&[("te", "gzip")])),
        ("bad content-length", with(&[("content-length", "abc")])),
        (
            "two content-lengths",
            with(&[("content-length", "1"), ("content-length", "2")]),
        ),
        (
            "content-length without a body",
            with(&[("content-length", "3")]),
        ),
        (
            ":protocol without CONNECT",
            with(&[(":protocol", "websocket")]),
        ),
        (
            "CONNECT with :path",
            vec![
                (":method", "CONNECT"),
                (":authority", "x:443"),
                (":path", "/"),
            ],
        ),
    ];
    let (mut p, calls, _) = ready();
    let mut id = 3;
    others_go_on(&mut p, |p| {
        for (name, fields) in &cases {
            // Each block is encoded (and its fields indexed) like any other,
            // so the tables stay in step across the refusals.
            p.headers(id, fields, true);
            let evs = p.read();
            assert_eq!(
                rst(&evs, id),
                Some(ErrorCode::ProtocolError),
                "{name}: {evs:?}"
            );
            assert_eq!(status(&evs, id), None, "{name}");
            id += 2;
        }
    });
    assert_eq!(calls.get(), 1, "only stream 1 reached the service");
    // Well-formed neighbours of the cases above are served.
    let fine: Vec<Vec<(&str, &str)>> = vec![
        with(&[("te", "trailers")]),
        with(&[("content-length", "0")]),
        vec![(":method", "CONNECT"), (":authority", "x:443")],
        vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("host", "x"),
        ],
    ];
    for fields in &fine {
        p.headers(id, fields, true);
        let evs = p.read();
        assert_eq!(rst(&evs, id), None, "{fields:?}: {evs:?}");
        assert_eq!(status(&evs, id).as_deref(), Some("200"), "{fields:?}");
        id += 2;
    }
}

#[test]
fn body_shorter_or_longer_than_content_length() {
    let (mut p, _, log) = ready();
    others_go_on(&mut p, |p| {
        // Shorter: detected at END_STREAM.
        p.headers(
            3,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "x"),
                (":path", "/"),
                ("content-length", "5"),
            ],
            false,
        );
        p.data(3, b"abc", true);
        assert_eq!(rst(&p.read(), 3), Some(ErrorCode::ProtocolError));
        // Longer: detected as soon as it is passed.
        p.headers(
            5,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "x"),
                (":path", "/"),
                ("content-length", "2"),
            ],
            false,
        );
        p.data(5, b"abc", false);
        assert_eq!(rst(&p.read(), 5), Some(ErrorCode::ProtocolError));
        // Shorter, ended by trailers.
        p.headers(
            7,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "x"),
                (":path", "/"),
                ("content-length", "5"),
            ],
            false,
        );
        p.data(7, b"abc", false);
        p.headers(7, &[("x-trailer", "1")], true);
        assert_eq!(rst(&p.read(), 7), Some(ErrorCode::ProtocolError));
    });
    for id in [3, 5, 7] {
        let e = lost_h2(&log, id);
        assert_eq!(
            (e.code, e.remote, e.stream),
            (ErrorCode::ProtocolError, false, Some(id)),
            "stream {id}"
        );
    }
}

#[test]
fn trailers_must_end_the_stream() {
    let (mut p, _, log) = ready();
    others_go_on(&mut p, |p| {
        p.post(3, "/");
        p.data(3, b"x", false);
        p.headers(3, &[("x-trailer", "1")], false);
        assert_eq!(rst(&p.read(), 3), Some(ErrorCode::ProtocolError));
        // Pseudo-headers in trailers are malformed too.
        p.post(5, "/");
        p.headers(5, &[(":path", "/x")], true);
        assert_eq!(rst(&p.read(), 5), Some(ErrorCode::ProtocolError));
    });
    let e = lost_h2(&log, 3);
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::ProtocolError, false, Some(3))
    );
}

// ---- timeouts ---------------------------------------------------------------

#[test]
fn idle_connection_gets_goaway_no_error_and_closes() {
    let cfg = H2Config::default();
    let idle = cfg.idle_timeout;
    let (mut p, _, _) = echo_server(cfg);
    p.handshake(&[]);
    // A request in the middle restarts the clock when it ends.
    p.advance(idle / 2);
    p.post(1, "/");
    p.advance(idle);
    assert_eq!(goaway(&p.read()), None, "not idle while a stream is open");
    p.data(1, b"", true);
    p.read();
    p.advance(idle - Duration::from_millis(1));
    assert_eq!(goaway(&p.read()), None);
    p.advance(Duration::from_millis(1));
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(ErrorCode::NoError), "{evs:?}");
    assert!(
        p.finished().is_some_and(Close::is_clean),
        "{:?}",
        p.finished()
    );
}

// ---- what request protocols are told ------------------------------------------

#[test]
fn peer_reset_reaches_connection_lost_as_remote() {
    let (mut p, _, log) = ready();
    others_go_on(&mut p, |p| {
        p.post(3, "/");
        p.rst(3, ErrorCode::Cancel);
        p.post(5, "/");
        p.rst(5, ErrorCode::from_u32(0x77));
    });
    let e = lost_h2(&log, 3);
    assert_eq!(
        (e.code, e.remote, e.stream),
        (ErrorCode::Cancel, true, Some(3))
    );
    let e = lost_h2(&log, 5);
    assert_eq!((e.code, e.remote), (ErrorCode::Unknown(0x77), true));
    match lost(&log, 3) {
        Some(Close::Aborted { layer, .. }) => assert_eq!(layer, "h2-stream"),
        other => panic!("{other:?}"),
    }
    // A finished exchange ends cleanly.
    assert!(lost(&log, 1).is_some_and(|c| c.is_clean()));
}

#[test]
fn peer_goaway_with_an_error_ends_every_stream() {
    let (mut p, _, log) = ready();
    p.post(1, "/");
    p.post(3, "/");
    let mut b = Vec::new();
    frame::write_goaway(&mut b, 0, ErrorCode::InternalError, b"bye");
    p.send(&b);
    p.read();
    for id in [1, 3] {
        let e = lost_h2(&log, id);
        assert_eq!(
            (e.code, e.remote, e.stream),
            (ErrorCode::InternalError, true, None)
        );
    }
    assert!(p.finished().is_some());
}

#[test]
fn peer_goaway_no_error_lets_streams_finish() {
    let (mut p, _, log) = ready();
    p.post(1, "/");
    let mut b = Vec::new();
    frame::write_goaway(&mut b, 0, ErrorCode::NoError, b"");
    p.send(&b);
    assert!(p.finished().is_none());
    p.data(1, b"last", true);
    let evs = p.read();
    assert_eq!(body(&evs, 1), (b"last".to_vec(), true));
    assert!(lost(&log, 1).is_some_and(|c| c.is_clean()));
    assert!(p.finished().is_some_and(Close::is_clean));
}

#[test]
fn our_connection_error_reaches_every_stream_as_local() {
    let (mut p, _, log) = ready();
    p.post(1, "/");
    p.post(3, "/");
    p.get(2, "/");
    assert_conn_error(&mut p, ErrorCode::ProtocolError);
    for id in [1, 3] {
        let why = lost(&log, id).expect("ended");
        assert!(
            matches!(&why, Close::Aborted { layer: "h2", .. }),
            "{why:?}"
        );
        let e = lost_h2(&log, id);
        assert_eq!(
            (e.code, e.remote, e.stream),
            (ErrorCode::ProtocolError, false, None)
        );
    }
}
