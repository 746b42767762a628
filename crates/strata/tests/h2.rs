//! The HTTP/2 connection in memory, against a raw peer that writes frames by
//! hand: requests, bodies, trailers, flow control both ways, GOAWAY, and the
//! client role against the server over the pump.

mod h2_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use h2_support::*;
use strata::http::h2::frame::{self, setting, ErrorCode};
use strata::http::h2::{H2Client, H2Config, H2Connection};
use strata::http::{HttpExchange, ResponseHead};
use strata::testing::{Pump, RunOutcome};
use strata::{Close, StreamProtocol, StreamTransport};

#[test]
fn get_gets_head_body_and_end() {
    let mut p = Raw::server(service(|_| Box::new(Fixed(b"hello"))), H2Config::default());
    let evs = p.handshake(&[]);
    assert!(
        matches!(evs.first(), Some(Ev::Settings { ack: false, .. })),
        "{evs:?}"
    );
    p.get(1, "/");
    let evs = p.read();
    assert_eq!(status(&evs, 1).as_deref(), Some("200"), "{evs:?}");
    assert_eq!(body(&evs, 1), (b"hello".to_vec(), true));
    // The body and END_STREAM travel in one DATA frame.
    let datas = evs.iter().filter(|e| matches!(e, Ev::Data { .. })).count();
    assert_eq!(datas, 1, "{evs:?}");
}

#[test]
fn request_head_reaches_the_service_as_http_types() {
    let seen = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    let mut p = Raw::server(
        service(move |req| {
            *s2.lock().unwrap() = Some((req.method.clone(), req.uri.clone(), req.headers.clone()));
            Box::new(Fixed(b""))
        }),
        H2Config::default(),
    );
    p.handshake(&[]);
    p.headers(
        1,
        &[
            (":method", "PUT"),
            (":scheme", "https"),
            (":authority", "example.org:8443"),
            (":path", "/a/b?c=d"),
            ("x-thing", "1"),
        ],
        true,
    );
    p.read();
    let (m, u, h) = seen.lock().unwrap().take().expect("service called");
    assert_eq!(m, http::Method::PUT);
    assert_eq!(u.to_string(), "https://example.org:8443/a/b?c=d");
    assert_eq!(h["x-thing"], "1");
}

#[test]
fn post_body_is_echoed_across_frames() {
    let mut p = Raw::server(service(|_| Box::new(Echo)), H2Config::default());
    p.handshake(&[]);
    p.post(1, "/echo");
    p.data(1, b"abc", false);
    p.data(1, b"def", true);
    let evs = p.read();
    assert_eq!(status(&evs, 1).as_deref(), Some("200"));
    assert_eq!(body(&evs, 1), (b"abcdef".to_vec(), true));
}

#[test]
fn streams_interleave_independently() {
    let mut p = Raw::server(service(|_| Box::new(Echo)), H2Config::default());
    p.handshake(&[]);
    p.post(1, "/");
    p.post(3, "/");
    p.data(3, b"three", true);
    p.data(1, b"one", false);
    let evs = p.read();
    assert_eq!(body(&evs, 3), (b"three".to_vec(), true));
    assert_eq!(body(&evs, 1), (b"one".to_vec(), false));
    p.data(1, b"!", true);
    let evs = p.read();
    assert_eq!(body(&evs, 1), (b"!".to_vec(), true));
}

struct WithTrailers;
impl StreamProtocol for WithTrailers {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let got = t
            .get::<strata::http::Trailers>()
            .and_then(|tr| tr.0.get("x-sum").cloned());
        let head = http::Response::builder()
            .status(201)
            .header(
                "x-got",
                got.unwrap_or(http::HeaderValue::from_static("none")),
            )
            .body(())
            .unwrap();
        t.send_response(head).unwrap();
        t.write(b"body");
        let mut tr = http::HeaderMap::new();
        tr.insert("grpc-status", "0".parse().unwrap());
        t.send_trailers(tr).unwrap();
    }
}

#[test]
fn trailers_both_ways() {
    let mut p = Raw::server(service(|_| Box::new(WithTrailers)), H2Config::default());
    p.handshake(&[]);
    p.post(1, "/");
    p.data(1, b"x", false);
    p.headers(1, &[("x-sum", "42")], true);
    let evs = p.read();
    assert_eq!(status(&evs, 1).as_deref(), Some("201"));
    let heads: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Headers { fields, end, .. } => Some((fields.clone(), *end)),
            _ => None,
        })
        .collect();
    assert_eq!(heads.len(), 2, "{evs:?}");
    assert!(heads[0].0.contains(&("x-got".into(), "42".into())));
    assert_eq!(heads[1], (vec![("grpc-status".into(), "0".into())], true));
    assert_eq!(body(&evs, 1).0, b"body");
}

/// Writes `total` bytes while writable; records the edges it saw.
struct Bulk {
    left: usize,
    edges: Arc<Mutex<Vec<&'static str>>>,
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
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.edges.lock().unwrap().push("pause");
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.edges.lock().unwrap().push("resume");
        self.pump(t);
    }
}

#[test]
fn send_window_is_back_pressure() {
    let edges = Arc::new(Mutex::new(Vec::new()));
    let e2 = edges.clone();
    let mut p = Raw::server(
        service(move |_| {
            Box::new(Bulk {
                left: 300_000,
                edges: e2.clone(),
            })
        }),
        H2Config::default(),
    );
    // The peer gives each stream 1000 bytes of window.
    p.handshake(&[(setting::INITIAL_WINDOW_SIZE, 1000)]);
    p.get(1, "/");
    let evs = p.read();
    let (b, end) = body(&evs, 1);
    assert_eq!(b.len(), 1000, "only the window is sent");
    assert!(!end);
    // Paused on the window. (The stream's output waits for the end of the
    // read, so Bulk may first see writable() turn false and true again:
    // a resume edge, since it stopped on the level check.)
    assert_eq!(edges.lock().unwrap().last(), Some(&"pause"));
    let before = edges.lock().unwrap().len();
    // Open the window wide: the rest flows, with a resume edge.
    p.window_update(1, 400_000);
    p.window_update(0, 400_000);
    let mut got = b.len();
    let mut done = false;
    for _ in 0..100 {
        let evs = p.read();
        let (b, end) = body(&evs, 1);
        got += b.len();
        if end {
            done = true;
            break;
        }
        p.window_update(0, 0x10000);
    }
    assert!(done, "stream finished");
    assert_eq!(got, 300_000);
    assert!(edges.lock().unwrap()[before..].contains(&"resume"));
}

/// Pauses reading at once; resumes when woken by the test.
struct Lazy {
    got: Arc<Mutex<usize>>,
}
impl StreamProtocol for Lazy {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.pause_reading();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        *self.got.lock().unwrap() += d.len();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        t.resume_reading();
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        Some(strata::testing::epoch() + Duration::from_secs(5))
    }
}

#[test]
fn paused_reader_closes_the_peers_window() {
    let got = Arc::new(Mutex::new(0));
    let g2 = got.clone();
    let cfg = H2Config {
        initial_stream_window: 65_535,
        ..H2Config::default()
    };
    let mut p = Raw::server(service(move |_| Box::new(Lazy { got: g2.clone() })), cfg);
    p.handshake(&[]);
    p.post(1, "/");
    p.data(1, &[1; 16_000], false);
    p.data(1, &[1; 16_000], false);
    p.data(1, &[1; 16_000], false);
    let evs = p.read();
    assert!(
        !evs.iter()
            .any(|e| matches!(e, Ev::WindowUpdate { stream: 1, .. })),
        "no window for a paused stream: {evs:?}"
    );
    assert_eq!(*got.lock().unwrap(), 0);
    // Over the window: a stream FLOW_CONTROL_ERROR.
    p.data(1, &[1; 16_000], false);
    p.data(1, &[1; 16_000], false);
    assert_eq!(rst(&p.read(), 1), Some(ErrorCode::FlowControlError));

    // A well-behaved peer on another stream: resume delivers and reopens.
    p.post(3, "/");
    for _ in 0..3 {
        p.data(3, &[1; 13_000], false);
    }
    assert!(!p
        .read()
        .iter()
        .any(|e| matches!(e, Ev::WindowUpdate { stream: 3, .. })));
    p.advance(Duration::from_secs(6));
    let evs = p.read();
    assert!(
        evs.iter()
            .any(|e| matches!(e, Ev::WindowUpdate { stream: 3, .. })),
        "{evs:?}"
    );
    assert_eq!(*got.lock().unwrap(), 39_000);
}

#[test]
fn shutdown_sends_goaway_and_finishes_streams_in_flight() {
    let mut p = Raw::server(service(|_| Box::new(Echo)), H2Config::default());
    p.handshake(&[]);
    p.post(1, "/");
    p.read();
    p.stack.handle_shutdown(p.now);
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(ErrorCode::NoError));
    assert!(p.finished().is_none(), "stream 1 is still running");
    // A new stream after GOAWAY is refused; the old one completes.
    p.get(3, "/");
    p.data(1, b"end", true);
    let evs = p.read();
    assert_eq!(rst(&evs, 3), Some(ErrorCode::RefusedStream));
    assert_eq!(body(&evs, 1), (b"end".to_vec(), true));
    assert!(
        p.finished().is_some_and(Close::is_clean),
        "{:?}",
        p.finished()
    );
}

#[test]
fn ping_is_answered_and_settings_acked() {
    let mut p = Raw::server(service(|_| Box::new(Echo)), H2Config::default());
    p.handshake(&[]);
    let mut b = Vec::new();
    frame::write_ping(&mut b, *b"12345678", false);
    frame::write_settings(&mut b, &[(setting::MAX_FRAME_SIZE, 32_768)]);
    p.send(&b);
    let evs = p.read();
    assert!(evs.contains(&Ev::Ping {
        ack: true,
        data: *b"12345678"
    }));
    assert!(evs.contains(&Ev::Settings {
        ack: true,
        values: vec![]
    }));
}

/// Responses a client collected: (status, body, ended).
type Responses = Arc<Mutex<Vec<(u16, Vec<u8>, bool)>>>;

/// A client request: collects the response.
struct Collect {
    out: Responses,
    body: Vec<u8>,
    send: &'static [u8],
}
impl StreamProtocol for Collect {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(self.send);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.body.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
        self.out
            .lock()
            .unwrap()
            .push((status, std::mem::take(&mut self.body), true));
    }
}

#[test]
fn client_and_server_over_the_pump() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let client = H2Client::new();
    for i in 0..5 {
        let req = http::Request::post(format!("http://x/{i}"))
            .body(())
            .unwrap();
        client.send(
            req,
            Box::new(Collect {
                out: out.clone(),
                body: Vec::new(),
                send: b"ping",
            }),
        );
    }
    let c = H2Connection::client(Arc::new(H2Config::default()), client.clone());
    let s = H2Connection::server(Arc::new(H2Config::default()), service(|_| Box::new(Echo)));
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    let r = pump.run(Duration::from_secs(5));
    // The connection stays open (idle timeout 60 s): the limit is reached.
    assert_eq!(r, RunOutcome::Limit);
    let got = out.lock().unwrap().clone();
    assert_eq!(got.len(), 5);
    for g in got {
        assert_eq!(g, (200, b"ping".to_vec(), true));
    }
}

/// Answers at once and closes, before the request body has ended.
struct Early;
impl StreamProtocol for Early {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"early");
        t.close();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn frames_in_flight_after_our_reset_are_ignored() {
    let mut p = Raw::server(service(|_| Box::new(Early)), H2Config::default());
    p.handshake(&[]);
    p.post(1, "/");
    let evs = p.read();
    assert_eq!(body(&evs, 1), (b"early".to_vec(), true));
    // RFC 9113 §8.1: a complete response before the request ended stops it.
    assert_eq!(rst(&evs, 1), Some(ErrorCode::NoError));
    // What the client had already sent, body and trailers, is ignored.
    p.data(1, b"more body", false);
    p.headers(1, &[("x-trailer", "1")], true);
    let evs = p.read();
    assert_eq!(goaway(&evs), None, "{evs:?}");
    assert_eq!(rst(&evs, 1), None, "{evs:?}");
    p.post(3, "/");
    assert_eq!(body(&p.read(), 3), (b"early".to_vec(), true));
}

/// Records what its transport says about itself.
struct Caps(Arc<Mutex<Vec<String>>>);
impl StreamProtocol for Caps {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut v = self.0.lock().unwrap();
        v.push(format!("{:?}", t.get::<strata::http::h2::StreamId>()));
        v.push(format!("{:?}", t.get::<strata::http::HttpVersion>()));
        v.push(format!(
            "{:?}",
            t.request_head().map(|h| h.uri.path().to_owned())
        ));
        v.push(format!("{:?}", t.layer_chain()));
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[test]
fn a_streams_transport_answers_its_capabilities_and_the_stack_below() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let mut p = Raw::server(
        service(move |_| Box::new(Caps(s2.clone()))),
        H2Config::default(),
    );
    p.handshake(&[]);
    p.get(5, "/caps");
    p.read();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "Some(StreamId(5))".to_string(),
            "Some(HttpVersion(HTTP/2.0))".into(),
            "Some(\"/caps\")".into(),
            "[\"h2-stream\", \"memory\"]".into(),
        ]
    );
}
