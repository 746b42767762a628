//! HTTP/3 error paths, each with its RFC 9114 (or RFC 9204) code: the peer
//! is scripted frame by frame against an `H3Server` on a mock connection.

mod h3_support;

use std::time::Duration;

use h3_support::*;
use strata::http::h3::frame::{kind, write_header, write_settings, write_varint_frame, Settings};
use strata::http::h3::{Code, H3Config};
use strata::{Close, Timeout};

fn server() -> (Harness, Shared) {
    let seen = Shared::default();
    let h = Harness::server(recording(seen.clone(), b"ok", false), H3Config::default());
    (h, seen)
}

fn ready() -> (Harness, Shared) {
    let (mut h, seen) = server();
    h.peer_setup(&settings());
    (h, seen)
}

/// The connection was closed with `code`.
fn closed_with(h: &Harness, code: u64) {
    assert_eq!(h.close_code(), Some(code), "closed: {:?}", h.conn.closed);
}

#[test]
fn control_stream_must_start_with_settings() {
    let (mut h, _) = server();
    let mut w = vec![0x00];
    write_varint_frame(&mut w, kind::GOAWAY, 0);
    h.send(PEER_CONTROL, &w);
    closed_with(&h, 0x10a);
}

#[test]
fn a_second_settings_is_unexpected() {
    let (mut h, _) = ready();
    let mut w = Vec::new();
    write_settings(&mut w, &Settings::default());
    h.send(PEER_CONTROL, &w);
    closed_with(&h, 0x105);
}

#[test]
fn a_second_control_stream_is_a_creation_error() {
    let (mut h, _) = ready();
    let id = h.next_uni_id();
    let mut w = vec![0x00];
    write_settings(&mut w, &Settings::default());
    h.send(id, &w);
    closed_with(&h, 0x103);
}

#[test]
fn closing_a_critical_stream_closes_the_connection() {
    for stream in [PEER_CONTROL, PEER_ENCODER, PEER_DECODER] {
        let (mut h, _) = ready();
        h.fin(stream);
        closed_with(&h, 0x104);
        let (mut h, _) = ready();
        h.reset(stream, 0x100);
        closed_with(&h, 0x104);
    }
}

#[test]
fn frames_on_the_wrong_stream_are_unexpected() {
    // Request frames on the control stream.
    let (mut h, _) = ready();
    let id = 0;
    let hd = h.get(id, "/");
    h.send(PEER_CONTROL, &hd);
    closed_with(&h, 0x105);
    let (mut h, _) = ready();
    h.send(PEER_CONTROL, &Harness::data(b"x"));
    closed_with(&h, 0x105);
    // Control frames on a request stream.
    for k in [
        kind::SETTINGS,
        kind::GOAWAY,
        kind::MAX_PUSH_ID,
        kind::CANCEL_PUSH,
    ] {
        let (mut h, _) = ready();
        let id = h.next_request_id();
        let mut w = h.get(id, "/");
        if k == kind::SETTINGS {
            write_settings(&mut w, &Settings::default());
        } else {
            write_varint_frame(&mut w, k, 0);
        }
        h.send(id, &w);
        closed_with(&h, 0x105);
    }
    // PUSH_PROMISE from a client.
    let (mut h, _) = ready();
    let id = h.next_request_id();
    let mut w = h.get(id, "/");
    write_header(&mut w, kind::PUSH_PROMISE, 3);
    w.extend_from_slice(&[0, 0, 0]);
    h.send(id, &w);
    closed_with(&h, 0x105);
}

#[test]
fn data_before_headers_is_unexpected() {
    let (mut h, seen) = ready();
    let id = h.next_request_id();
    h.send(id, &Harness::data(b"early"));
    closed_with(&h, 0x105);
    assert!(seen.lock().unwrap().heads.is_empty());
}

#[test]
fn http2_frame_types_are_unexpected() {
    for k in [0x02, 0x06, 0x08, 0x09] {
        let (mut h, _) = ready();
        let mut w = Vec::new();
        write_header(&mut w, k, 0);
        h.send(PEER_CONTROL, &w);
        closed_with(&h, 0x105);
    }
}

#[test]
fn malformed_requests_are_message_errors_on_their_stream() {
    let bad: &[&[(&str, &str)]] = &[
        // Missing :path.
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
        ],
        // Missing :method.
        &[(":scheme", "https"), (":authority", "a"), (":path", "/")],
        // No authority at all for https.
        &[(":method", "GET"), (":scheme", "https"), (":path", "/")],
        // A pseudo-header after a regular field.
        &[
            (":method", "GET"),
            ("x", "y"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
        ],
        // An unknown pseudo-header.
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
            (":bogus", "1"),
        ],
        // Upper case, connection-specific fields.
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
            ("X-Up", "1"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
            ("connection", "close"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
            ("te", "gzip"),
        ],
        // A :status in a request; :protocol without CONNECT.
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
            (":status", "200"),
        ],
        &[
            (":method", "GET"),
            (":protocol", "ws"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
        ],
    ];
    for fields in bad {
        let (mut h, seen) = ready();
        let id = h.next_request_id();
        let w = h.headers(id, fields);
        h.send(id, &w);
        assert!(
            h.conn.resets.contains(&(id, 0x10e)),
            "{fields:?}: {:?}",
            h.conn.resets
        );
        assert!(h.conn.stops.contains(&(id, 0x10e)), "{fields:?}");
        assert_eq!(h.close_code(), None, "a stream error only");
        assert!(seen.lock().unwrap().heads.is_empty());
        // The connection goes on.
        let id = h.next_request_id();
        let w = h.get(id, "/");
        h.send(id, &w);
        h.fin(id);
        assert_eq!(h.message(id).status(), Some(200), "{fields:?}");
    }
}

#[test]
fn content_length_must_match_the_body() {
    for (len, body) in [("3", &b"abcd"[..]), ("5", b"abc")] {
        let (mut h, seen) = ready();
        let id = h.next_request_id();
        let mut w = h.headers(
            id,
            &[
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", "a"),
                (":path", "/"),
                ("content-length", len),
            ],
        );
        w.extend(Harness::data(body));
        h.send(id, &w);
        h.fin(id);
        assert!(
            h.conn.resets.contains(&(id, 0x10e)),
            "{len}: {:?}",
            h.conn.resets
        );
        let lost = seen
            .lock()
            .unwrap()
            .lost
            .clone()
            .expect("the protocol learns");
        assert_eq!(h3_code(&lost), Some(Code::MessageError));
    }
}

#[test]
fn oversized_request_heads_get_431() {
    // Seen from the frame header alone.
    let cfg = H3Config {
        max_field_section_size: 100,
        ..H3Config::default()
    };
    let seen = Shared::default();
    let mut h = Harness::server(recording(seen.clone(), b"", false), cfg);
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let long = "v".repeat(200);
    let w = h.headers(
        id,
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
            ("x-long", &long),
        ],
    );
    h.send(id, &w[..5]);
    let m = h.message(id);
    assert_eq!(m.status(), Some(431));
    assert!(h.conn.finished.contains(&id));
    assert!(h.conn.stops.contains(&(id, 0x100)), "{:?}", h.conn.stops);
    assert_eq!(h.close_code(), None);
    assert!(seen.lock().unwrap().heads.is_empty());
    // Seen once decoded: a small frame whose fields count over the limit
    // (RFC 9114 §4.2.2 counts 32 per field).
    let id = h.next_request_id();
    let many: Vec<(&str, &str)> = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "a"),
        (":path", "/"),
    ]
    .into_iter()
    .chain(std::iter::repeat_n(("a", "b"), 3))
    .collect();
    let w = h.headers(id, &many);
    assert!(w.len() < 100);
    h.send(id, &w);
    assert_eq!(h.message(id).status(), Some(431));
}

#[test]
fn unknown_frames_and_stream_types_are_ignored() {
    let (mut h, _) = ready();
    // A reserved frame type (0x1f * 3 + 0x21) on the control stream.
    let mut w = Vec::new();
    vi(&mut w, 0x1f * 3 + 0x21);
    vi(&mut w, 4);
    w.extend_from_slice(b"junk");
    h.send(PEER_CONTROL, &w);
    // An unknown uni stream type: STOP_SENDING(H3_STREAM_CREATION_ERROR).
    let uni = h.next_uni_id();
    let mut t = Vec::new();
    vi(&mut t, 0x21);
    t.extend_from_slice(b"whatever");
    h.send(uni, &t);
    assert!(h.conn.stops.contains(&(uni, 0x103)));
    // Unknown frames around a request.
    let id = h.next_request_id();
    let mut r = Vec::new();
    vi(&mut r, 0x40);
    vi(&mut r, 2);
    r.extend_from_slice(b"zz");
    r.extend(h.get(id, "/"));
    vi(&mut r, 0x21);
    vi(&mut r, 0);
    h.send(id, &r);
    h.fin(id);
    assert_eq!(h.message(id).status(), Some(200));
    assert_eq!(h.close_code(), None);
}

#[test]
fn a_push_stream_from_a_client_is_a_creation_error() {
    let (mut h, _) = ready();
    let id = h.next_uni_id();
    h.send(id, &[0x01, 0x00]);
    closed_with(&h, 0x103);
}

#[test]
fn a_stream_ending_inside_a_frame_is_a_frame_error() {
    let (mut h, _) = ready();
    let id = h.next_request_id();
    let w = h.get(id, "/");
    h.send(id, &w[..w.len() - 1]);
    h.fin(id);
    closed_with(&h, 0x106);
}

#[test]
fn a_stream_ending_before_its_head_is_incomplete() {
    let (mut h, _) = ready();
    let id = h.next_request_id();
    let mut w = Vec::new();
    vi(&mut w, 0x21);
    vi(&mut w, 0);
    h.send(id, &w);
    h.fin(id);
    assert!(h.conn.resets.contains(&(id, 0x10d)), "{:?}", h.conn.resets);
    assert_eq!(h.close_code(), None);
}

#[test]
fn bad_qpack_input_closes_with_rfc_9204_codes() {
    // Garbage on the encoder stream: QPACK_ENCODER_STREAM_ERROR.
    let (mut h, _) = ready();
    h.send(
        PEER_ENCODER,
        &[
            0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ],
    );
    closed_with(&h, 0x201);
    // A field section that does not decode: QPACK_DECOMPRESSION_FAILED.
    let (mut h, _) = ready();
    let id = h.next_request_id();
    let mut w = Vec::new();
    write_header(&mut w, kind::HEADERS, 3);
    w.extend_from_slice(&[0x00, 0x00, 0xff]);
    h.send(id, &w);
    closed_with(&h, 0x200);
    // Garbage on the decoder stream: QPACK_DECODER_STREAM_ERROR
    // (an acknowledgment of a section never sent).
    let (mut h, _) = ready();
    h.send(PEER_DECODER, &[0x84]);
    closed_with(&h, 0x202);
}

#[test]
fn a_request_head_that_never_comes_times_out() {
    let (mut h, seen) = ready();
    let id = h.next_request_id();
    h.send(id, &[0x01]);
    h.advance(Duration::from_secs(11));
    assert!(h.conn.resets.contains(&(id, 0x10b)), "{:?}", h.conn.resets);
    assert!(seen.lock().unwrap().heads.is_empty());
    assert_eq!(h.close_code(), None);
}

#[test]
fn a_peer_reset_reaches_the_protocol_with_its_code() {
    let (mut h, seen) = ready();
    let id = h.next_request_id();
    let w = h.get(id, "/");
    h.send(id, &w);
    h.reset(id, 0x10c);
    let lost = seen.lock().unwrap().lost.clone().expect("connection_lost");
    let e = lost
        .error::<strata::http::h3::H3Error>()
        .expect("an H3Error");
    assert_eq!((e.code, e.remote), (Code::RequestCancelled, true));
    assert!(!matches!(lost, Close::Timeout(Timeout::Head)));
}

#[test]
fn a_server_initiated_stream_id_in_goaway_is_an_id_error_on_a_client() {
    let client = strata::http::h3::H3Client::new(H3Config::default());
    let _requests = client.requests();
    let mut h = Harness::client(client);
    h.peer_setup(&settings());
    let (ctl, _, _) = h.peer_uni_ids();
    let mut w = Vec::new();
    write_varint_frame(&mut w, kind::GOAWAY, 1);
    h.send(ctl, &w);
    closed_with(&h, 0x108);
}

#[test]
fn a_second_qpack_encoder_stream_is_a_creation_error() {
    let (mut h, _) = ready();
    let id = h.next_uni_id();
    h.send(id, &[0x02]);
    closed_with(&h, 0x103);
}

#[test]
fn requests_still_running_at_the_drain_deadline_are_cancelled() {
    let (mut h, seen) = ready();
    let id = h.next_request_id();
    let w = h.get(id, "/slow");
    h.send(id, &w); // no FIN: the handler waits for the body
    let mut g = Vec::new();
    write_varint_frame(&mut g, kind::GOAWAY, 0);
    h.send(PEER_CONTROL, &g);
    assert_eq!(h.close_code(), None);
    h.advance(Duration::from_secs(9));
    assert_eq!(h.close_code(), None, "within drain_timeout");
    h.advance(Duration::from_secs(2));
    assert!(h.conn.resets.contains(&(id, 0x10c)), "{:?}", h.conn.resets);
    let lost = seen.lock().unwrap().lost.clone();
    assert!(
        matches!(lost, Some(Close::Timeout(Timeout::Drain))),
        "{lost:?}"
    );
    closed_with(&h, 0x100);
}

/// Writes `n` bytes at once whatever `writable()` says.
struct Flood(usize, Shared);
impl strata::StreamProtocol for Flood {
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
        for _ in 0..self.0 / 65_536 {
            t.write(&[7u8; 65_536]);
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.1.lock().unwrap().lost = Some(why.clone());
    }
}

#[test]
fn a_handler_that_ignores_writable_is_reset_at_the_send_limit() {
    let seen = Shared::default();
    let s2 = seen.clone();
    let svc: strata::http::SharedService = std::sync::Arc::new(move |_: &http::request::Parts| {
        Box::new(Flood(4 << 20, s2.clone())) as Box<dyn strata::StreamProtocol>
    });
    let mut h = Harness::server(svc, H3Config::default());
    h.peer_setup(&settings());
    let id = h.next_request_id();
    h.conn.credit.insert(id, 0);
    let w = h.get(id, "/");
    h.send(id, &w);
    h.fin(id);
    assert!(h.conn.resets.contains(&(id, 0x102)), "{:?}", h.conn.resets);
    let lost = seen.lock().unwrap().lost.clone();
    assert!(
        matches!(
            lost,
            Some(Close::Aborted {
                reason: strata::AbortReason::MemoryBudget { .. },
                ..
            })
        ),
        "{lost:?}"
    );
    assert_eq!(h.close_code(), None);
}

#[test]
fn stop_sending_from_the_peer_ends_the_response_with_its_code() {
    let seen = Shared::default();
    let s2 = seen.clone();
    let svc: strata::http::SharedService = std::sync::Arc::new(move |_: &http::request::Parts| {
        Box::new(Flood(1 << 16, s2.clone())) as Box<dyn strata::StreamProtocol>
    });
    let mut h = Harness::server(svc, H3Config::default());
    h.peer_setup(&settings());
    let id = h.next_request_id();
    h.conn.credit.insert(id, 100);
    let w = h.get(id, "/");
    h.send(id, &w);
    h.fin(id);
    h.stop(id, 0x10c);
    assert!(h.conn.resets.contains(&(id, 0x10c)), "{:?}", h.conn.resets);
    let lost = seen.lock().unwrap().lost.clone().expect("lost");
    let e = lost
        .error::<strata::http::h3::H3Error>()
        .expect("an H3Error");
    assert_eq!((e.code, e.remote), (Code::RequestCancelled, true));
}

#[test]
fn a_server_shutdown_sends_goaway_and_closes_when_idle() {
    use strata::quic::QuicApp;
    let seen = Shared::default();
    let mut conn = MockConn::new(true);
    let mut srv = strata::http::h3::H3Server::new(recording(seen, b"", false), H3Config::default());
    srv.connection_made(&mut conn);
    srv.shutdown(&mut conn);
    // Our control stream (the first server uni stream, 3): type, SETTINGS, GOAWAY(0).
    let ctl = conn.written.get(&3).cloned().unwrap_or_default();
    let mut g = Vec::new();
    write_varint_frame(&mut g, kind::GOAWAY, 0);
    assert!(ctl.ends_with(&g), "{ctl:?}");
    assert_eq!(conn.closed.as_ref().map(|c| c.0), Some(0x100));
}

#[test]
fn a_trickling_request_body_gets_408() {
    let (mut h, seen) = ready();
    let id = h.next_request_id();
    let mut w = h.headers(
        id,
        &[
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
        ],
    );
    w.extend(Harness::data(b"a"));
    h.send(id, &w);
    // A steady body at the minimum rate keeps the request alive...
    for _ in 0..3 {
        h.advance(Duration::from_secs(20));
        h.send(id, &Harness::data(&[b'x'; 32 << 10]));
    }
    assert!(seen.lock().unwrap().lost.is_none());
    assert!(h.conn.written.get(&id).is_none_or(|w| w.is_empty()));
    // ... a trickle below it does not.
    h.advance(Duration::from_secs(20));
    h.send(id, &Harness::data(b"b"));
    h.advance(Duration::from_secs(20));
    assert!(
        seen.lock().unwrap().lost.is_none(),
        "the period with 64 KiB ended well"
    );
    h.advance(Duration::from_secs(20));
    assert_eq!(h.message(id).status(), Some(408));
    assert!(h.conn.finished.contains(&id));
    assert!(h.conn.stops.contains(&(id, 0x100)), "{:?}", h.conn.stops);
    let lost = seen.lock().unwrap().lost.clone();
    assert!(
        matches!(lost, Some(Close::Timeout(Timeout::Body))),
        "{lost:?}"
    );
    assert_eq!(h.close_code(), None);
}
