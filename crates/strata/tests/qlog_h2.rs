//! HTTP/2's qlog beyond frames (issue 14, point 5): each stream's state
//! (`http:stream_state_updated`, RFC 9113 §5.1 as our stream code goes
//! through it) and the flow-control windows (`http:flow_control_updated`),
//! seen from both ends of in-memory exchanges: a normal request and
//! response, a reset from either side, a GOAWAY refusing streams above its
//! last stream id, and a connection that ends under open streams. Every
//! record passes qlog's required-fields validation.
//!
//! Server push is disabled in strata (`SETTINGS_ENABLE_PUSH=0`, a
//! PUSH_PROMISE is a connection error), so the reserved states never occur.

mod h2_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use h2_support::qlog::{latency, of_stream, position, trace_into, transitions, validate};
use h2_support::{Echo, Upload};
use serde_json::Value as Json;
use strata::http::h2::frame::{self, ErrorCode};
use strata::http::h2::{H2Client, H2Config, H2Connection};
use strata::qlog::{SharedBuf, Vantage};
use strata::testing::Pump;
use strata::{AbortReason, Close, Stack, StackConfig, StreamProtocol, StreamTransport};

/// Runs `client` against `server` over the pump, both traced; returns the
/// (client, server) events, validated.
fn exchange(client: H2Connection, server: H2Connection, run: Duration) -> (Vec<Json>, Vec<Json>) {
    let (cb, sb) = (SharedBuf::default(), SharedBuf::default());
    let traces = [
        Some(trace_into(&cb, Vantage::Client)),
        Some(trace_into(&sb, Vantage::Server)),
    ];
    let mut pump = Pump::with_qlog(Box::new(client), Box::new(server), latency(10), traces);
    pump.run(run);
    drop(pump);
    (validate(&cb.text()), validate(&sb.text()))
}

fn post() -> http::Request<()> {
    http::Request::post("http://x/up").body(()).unwrap()
}

fn echo_server() -> H2Connection {
    H2Connection::server(
        Arc::new(H2Config::default()),
        h2_support::service(|_| Box::new(Echo)),
    )
}

#[test]
fn a_request_and_its_response_take_each_stream_from_idle_to_closed_on_both_ends() {
    let got = Arc::new(Mutex::new(0));
    let client = H2Client::new();
    for body in [&b"hello"[..], b"a second body"] {
        client.send(
            post(),
            Box::new(Upload {
                body: body.to_vec(),
                got: got.clone(),
            }),
        );
    }
    let c = H2Connection::client(Arc::new(H2Config::default()), client);
    let (ce, se) = exchange(c, echo_server(), Duration::from_secs(2));
    assert_eq!(*got.lock().unwrap(), 18, "both bodies echoed");
    let (ct, st) = (transitions(&ce), transitions(&se));
    for id in [1, 3] {
        // The client sends its HEADERS and body with END_STREAM, then reads
        // the response to its END_STREAM.
        assert_eq!(
            of_stream(&ct, id),
            [
                ("idle", "open", "headers"),
                ("open", "half_closed_local", "end_stream"),
                ("half_closed_local", "closed", "end_stream"),
            ],
            "client, stream {id}: {ct:?}"
        );
        // The server reads the request to its END_STREAM, then answers.
        assert_eq!(
            of_stream(&st, id),
            [
                ("idle", "open", "headers"),
                ("open", "half_closed_remote", "end_stream"),
                ("half_closed_remote", "closed", "end_stream"),
            ],
            "server, stream {id}: {st:?}"
        );
    }
    assert!(ct.iter().chain(&st).all(|t| t.0 == 1 || t.0 == 3));
    // In time with the frames: the client's stream closes when the
    // response's END_STREAM is read, not before.
    let end_read = position(&ce, |e| {
        e["name"] == "http:frame_parsed"
            && e["data"]["stream_id"] == 1
            && e["data"]["end_stream"] == true
    })
    .unwrap();
    let closed = position(&ce, |e| {
        e["name"] == "http:stream_state_updated"
            && e["data"]["stream_id"] == 1
            && e["data"]["new"] == "closed"
    })
    .unwrap();
    assert!(
        closed > end_read,
        "closed at {closed}, END_STREAM read at {end_read}"
    );
    // The server's stream opens when the request's HEADERS is read.
    let headers_read = position(&se, |e| {
        e["name"] == "http:frame_parsed" && e["data"]["stream_id"] == 1
    })
    .unwrap();
    let opened = position(&se, |e| {
        e["name"] == "http:stream_state_updated" && e["data"]["stream_id"] == 1
    })
    .unwrap();
    assert!(opened > headers_read);
}

/// Sends a request without a body; resets its stream when the response's
/// first bytes arrive.
struct Impatient;
impl StreamProtocol for Impatient {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write_eof();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.abort(Close::aborted("test", AbortReason::Requested));
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// Answers part of a body and never ends it.
struct Partial;
impl StreamProtocol for Partial {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"partial");
    }
}

/// Resets the stream once the request has ended.
struct Refuser;
impl StreamProtocol for Refuser {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.abort(Close::aborted("test", AbortReason::Requested));
    }
}

#[test]
fn a_reset_from_the_client_closes_the_stream_as_reset_sent_and_reset_received() {
    let client = H2Client::new();
    client.send(post(), Box::new(Impatient));
    let c = H2Connection::client(Arc::new(H2Config::default()), client);
    let s = H2Connection::server(
        Arc::new(H2Config::default()),
        h2_support::service(|_| Box::new(Partial)),
    );
    let (ce, se) = exchange(c, s, Duration::from_secs(2));
    let (ct, st) = (transitions(&ce), transitions(&se));
    assert_eq!(
        of_stream(&ct, 1),
        [
            ("idle", "open", "headers"),
            ("open", "half_closed_local", "end_stream"),
            ("half_closed_local", "closed", "reset_sent"),
        ],
        "{ct:?}"
    );
    assert_eq!(
        of_stream(&st, 1),
        [
            ("idle", "open", "headers"),
            ("open", "half_closed_remote", "end_stream"),
            ("half_closed_remote", "closed", "reset_received"),
        ],
        "{st:?}"
    );
}

#[test]
fn a_reset_from_the_server_closes_the_stream_as_reset_sent_and_reset_received() {
    let got = Arc::new(Mutex::new(0));
    let client = H2Client::new();
    client.send(
        post(),
        Box::new(Upload {
            body: b"x".to_vec(),
            got,
        }),
    );
    let c = H2Connection::client(Arc::new(H2Config::default()), client);
    let s = H2Connection::server(
        Arc::new(H2Config::default()),
        h2_support::service(|_| Box::new(Refuser)),
    );
    let (ce, se) = exchange(c, s, Duration::from_secs(2));
    let (ct, st) = (transitions(&ce), transitions(&se));
    assert_eq!(
        of_stream(&st, 1),
        [
            ("idle", "open", "headers"),
            ("open", "half_closed_remote", "end_stream"),
            ("half_closed_remote", "closed", "reset_sent"),
        ],
        "{st:?}"
    );
    assert_eq!(
        of_stream(&ct, 1),
        [
            ("idle", "open", "headers"),
            ("open", "half_closed_local", "end_stream"),
            ("half_closed_local", "closed", "reset_received"),
        ],
        "{ct:?}"
    );
}

/// Sends a request without a body and waits.
struct Ask;
impl StreamProtocol for Ask {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// A traced client connection in a stack, its peer scripted by hand.
fn scripted_client(requests: usize) -> (Stack, SharedBuf) {
    let client = H2Client::new();
    for _ in 0..requests {
        client.send(post(), Box::new(Ask));
    }
    let conn = H2Connection::client(Arc::new(H2Config::default()), client);
    let now = strata::testing::epoch();
    let mut stack = Stack::new(
        Box::new(conn),
        strata::BottomInfo::new("memory"),
        Arc::new(StackConfig::default()),
        now,
    );
    let buf = SharedBuf::default();
    stack.set_qlog(trace_into(&buf, Vantage::Client));
    stack.start(now);
    (stack, buf)
}

#[test]
fn a_goaway_closes_the_streams_above_its_last_stream_id_and_only_those() {
    let (mut stack, buf) = scripted_client(3);
    let now = stack.now() + Duration::from_millis(5);
    let _ = stack.take_output(now);
    // The server's SETTINGS, its ACK of ours, then GOAWAY: stream 1 will be
    // answered, 3 and 5 were not processed.
    let mut b = Vec::new();
    frame::write_settings(&mut b, &[]);
    frame::write_settings_ack(&mut b);
    frame::write_goaway(&mut b, 1, ErrorCode::NoError, b"");
    stack.handle_input(now, &b);
    let now = now + Duration::from_millis(5);
    // Stream 1's answer, a bare head ending the stream.
    let mut enc = strata::http::hpack::Encoder::new();
    let mut block = Vec::new();
    enc.encode([(&b":status"[..], &b"200"[..], false)], &mut block);
    let mut b = Vec::new();
    frame::write_headers(&mut b, 1, &block, true, 16_384);
    stack.handle_input(now, &b);
    drop(stack);
    let events = validate(&buf.text());
    let all = transitions(&events);
    for id in [3, 5] {
        assert_eq!(
            of_stream(&all, id),
            [
                ("idle", "open", "headers"),
                ("open", "half_closed_local", "end_stream"),
                ("half_closed_local", "closed", "goaway"),
            ],
            "stream {id}: {all:?}"
        );
    }
    assert_eq!(
        of_stream(&all, 1),
        [
            ("idle", "open", "headers"),
            ("open", "half_closed_local", "end_stream"),
            ("half_closed_local", "closed", "end_stream"),
        ],
        "{all:?}"
    );
    // Refused when the GOAWAY was read, before stream 1's answer.
    let goaway = position(&events, |e| {
        e["name"] == "http:frame_parsed" && e["data"]["frame"]["frame_type"] == "goaway"
    })
    .unwrap();
    let refused = position(&events, |e| e["data"]["trigger"] == "goaway").unwrap();
    let answered = position(&events, |e| {
        e["name"] == "http:stream_state_updated"
            && e["data"]["stream_id"] == 1
            && e["data"]["new"] == "closed"
    })
    .unwrap();
    assert!(goaway < refused && refused < answered);
}

#[test]
fn a_connection_error_closes_every_open_stream_as_connection_closed() {
    let buf = SharedBuf::default();
    let mut raw = h2_support::Raw::traced(
        h2_support::service(|_| Box::new(h2_support::Hold)),
        H2Config::default(),
        trace_into(&buf, Vantage::Server),
    );
    raw.handshake(&[]);
    raw.post(1, "/a");
    raw.get(3, "/b");
    // PING on a stream: a connection error PROTOCOL_ERROR (RFC 9113 §6.7).
    raw.raw_frame(frame::kind::PING, 0, 1, &[0; 8]);
    assert_eq!(
        h2_support::goaway(&raw.read()),
        Some(ErrorCode::ProtocolError)
    );
    drop(raw);
    let all = transitions(&validate(&buf.text()));
    assert_eq!(
        of_stream(&all, 1),
        [
            ("idle", "open", "headers"),
            ("open", "closed", "connection_closed")
        ],
        "{all:?}"
    );
    assert_eq!(
        of_stream(&all, 3),
        [
            ("idle", "open", "headers"),
            ("open", "half_closed_remote", "end_stream"),
            ("half_closed_remote", "closed", "connection_closed"),
        ],
        "{all:?}"
    );
}

#[test]
fn a_transport_lost_under_open_streams_closes_them_as_connection_closed() {
    let (mut stack, buf) = scripted_client(1);
    let now = stack.now() + Duration::from_millis(5);
    let _ = stack.take_output(now);
    stack.handle_lost(now, Close::aborted("tcp", AbortReason::PeerAborted));
    drop(stack);
    let all = transitions(&validate(&buf.text()));
    assert_eq!(
        of_stream(&all, 1),
        [
            ("idle", "open", "headers"),
            ("open", "half_closed_local", "end_stream"),
            ("half_closed_local", "closed", "connection_closed"),
        ],
        "{all:?}"
    );
}

/// The last value of `field` on `http:flow_control_updated` events for
/// `stream`, and how many such events there were.
fn last_window(events: &[Json], stream: u64, field: &str) -> (Option<i64>, usize) {
    let v: Vec<i64> = events
        .iter()
        .filter(|e| e["name"] == "http:flow_control_updated" && e["data"]["stream_id"] == stream)
        .filter_map(|e| e["data"][field].as_i64())
        .collect();
    (v.last().copied(), v.len())
}

/// The sum of `field` (`length`, or a field of `frame`) over the frame
/// events `name` of type `kind`, on `stream` or on any.
fn sum(events: &[Json], name: &str, kind: &str, stream: Option<u64>, field: &str) -> i64 {
    events
        .iter()
        .filter(|e| e["name"] == name && e["data"]["frame"]["frame_type"] == kind)
        .filter(|e| stream.is_none_or(|s| e["data"]["stream_id"] == s))
        .map(|e| {
            if field == "length" {
                e["data"]["raw"]["length"].as_i64().unwrap()
            } else {
                e["data"]["frame"][field].as_i64().unwrap()
            }
        })
        .sum()
}

#[test]
fn flow_control_events_follow_the_windows_each_way_in_step_with_the_frames() {
    // A body larger than half the server's stream window, so the server
    // gives window back while it reads, and the client's send window moves
    // both ways.
    let got = Arc::new(Mutex::new(0));
    let client = H2Client::new();
    client.send(
        post(),
        Box::new(Upload {
            body: vec![1; 150_000],
            got: got.clone(),
        }),
    );
    let small = H2Config {
        initial_stream_window: 65_535,
        ..H2Config::default()
    };
    let c = H2Connection::client(Arc::new(H2Config::default()), client);
    let s = H2Connection::server(
        Arc::new(small.clone()),
        h2_support::service(|_| Box::new(Echo)),
    );
    let (ce, se) = exchange(c, s, Duration::from_secs(5));
    assert_eq!(*got.lock().unwrap(), 150_000);
    for e in ce.iter().chain(&se) {
        if e["name"] == "http:flow_control_updated" {
            assert_eq!(e["category"], "h2");
            assert!(e["data"]["stream_id"].is_u64(), "{e}");
            assert!(e["data"]["trigger"].is_string(), "{e}");
        }
    }
    // The client's send window for stream 1: the server's initial window,
    // less the DATA it sent, plus the WINDOW_UPDATEs it read.
    let sent = sum(&ce, "http:frame_created", "data", Some(1), "length");
    let credited = sum(
        &ce,
        "http:frame_parsed",
        "window_update",
        Some(1),
        "increment",
    );
    assert_eq!(sent, 150_000);
    assert!(credited > 0, "the server gave window back");
    let (w, n) = last_window(&ce, 1, "send_window");
    assert!(n > 2, "{n} events");
    assert_eq!(w, Some(65_535 - sent + credited));
    // The connection's send window likewise (RFC 9113 §6.9.2: 65,535 to begin).
    let all_sent = sum(&ce, "http:frame_created", "data", None, "length");
    let conn_credit = sum(
        &ce,
        "http:frame_parsed",
        "window_update",
        Some(0),
        "increment",
    );
    // The last event naming the connection's window, whichever stream.
    let last_any = ce
        .iter()
        .filter(|e| e["name"] == "http:flow_control_updated")
        .filter_map(|e| e["data"]["connection_send_window"].as_i64())
        .next_back();
    assert_eq!(last_any, Some(65_535 - all_sent + conn_credit));
    // The server's receive window for stream 1: its initial window, less
    // the DATA it read, plus the WINDOW_UPDATEs it sent.
    let read = sum(&se, "http:frame_parsed", "data", Some(1), "length");
    let given = sum(
        &se,
        "http:frame_created",
        "window_update",
        Some(1),
        "increment",
    );
    assert_eq!(read, 150_000);
    let (w, n) = last_window(&se, 1, "recv_window");
    assert!(n > 2, "{n} events");
    assert_eq!(w, Some(65_535 - read + given));
    // And its connection receive window: 2 MiB by default, opened by a
    // WINDOW_UPDATE at the start.
    let conn_given = sum(
        &se,
        "http:frame_created",
        "window_update",
        Some(0),
        "increment",
    );
    let last_recv = se
        .iter()
        .filter(|e| e["name"] == "http:flow_control_updated")
        .filter_map(|e| e["data"]["connection_recv_window"].as_i64())
        .next_back();
    let all_read = sum(&se, "http:frame_parsed", "data", None, "length");
    assert_eq!(last_recv, Some(65_535 - all_read + conn_given));
}
