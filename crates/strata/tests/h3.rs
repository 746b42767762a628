//! HTTP/3 requests served in memory: an `H3Server` on a mock QUIC
//! connection, a peer scripted frame by frame (QPACK from the real codec).

mod h3_support;

use std::sync::{Arc, Mutex};

use h3_support::*;
use strata::http::h3::H3Config;
use strata::http::{HttpExchange, Protocol, SharedService};
use strata::{StreamProtocol, StreamTransport};

fn setup(reply: &'static [u8], trailers: bool) -> (Harness, Shared) {
    let seen = Shared::default();
    let mut h = Harness::server(
        recording(seen.clone(), reply, trailers),
        H3Config::default(),
    );
    h.peer_setup(&settings());
    (h, seen)
}

#[test]
fn get_is_served_with_settings_and_fin() {
    let (mut h, seen) = setup(b"hello", false);
    let id = h.next_request_id();
    let head = h.get(id, "/index?x=1");
    h.send(id, &head);
    h.fin(id);
    let m = h.message(id);
    assert_eq!(m.status(), Some(200));
    assert_eq!(m.field("content-type"), Some("text/plain"));
    assert_eq!(m.body, b"hello");
    assert!(h.conn.finished.contains(&id), "FIN after the response");
    assert_eq!(h.close_code(), None);
    let s = h.peer_settings.clone().expect("the server's SETTINGS");
    assert!(s.enable_connect_protocol);
    assert_eq!(s.max_field_section_size, Some(16 << 10));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.heads[0].uri, "https://localhost/index?x=1");
    assert_eq!(seen.heads[0].version, http::Version::HTTP_3);
    assert!(seen.eof);
    assert!(clean(&seen.lost));
}

#[test]
fn post_body_in_any_split_with_trailers_both_ways() {
    let (mut h, seen) = setup(b"ok", true);
    let id = h.next_request_id();
    let mut wire = h.headers(
        id,
        &[
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", "/upload"),
            ("content-length", "11"),
        ],
    );
    wire.extend(Harness::data(b"hello "));
    wire.extend(Harness::data(b""));
    wire.extend(Harness::data(b"world"));
    let trailers = h.headers(id, &[("x-sum", "7")]);
    wire.extend(trailers);
    for b in wire.chunks(1) {
        h.send(id, b);
    }
    h.fin(id);
    let m = h.message(id);
    assert_eq!(m.status(), Some(200));
    assert_eq!(m.body, b"ok");
    assert_eq!(m.trailers, Some(vec![("x-checksum".into(), "42".into())]));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.body, b"hello world");
    assert_eq!(seen.trailers.as_ref().unwrap()["x-sum"], "7");
    assert_eq!(seen.heads[0].method, http::Method::POST);
}

#[test]
fn many_concurrent_requests_interleaved() {
    let (mut h, seen) = setup(b"r", false);
    let ids: Vec<u64> = (0..50).map(|_| h.next_request_id()).collect();
    let heads: Vec<Vec<u8>> = ids.iter().map(|&id| h.get(id, &format!("/{id}"))).collect();
    for (id, head) in ids.iter().zip(&heads) {
        h.send(*id, &head[..2]);
    }
    for (id, head) in ids.iter().zip(&heads) {
        h.send(*id, &head[2..]);
    }
    for &id in ids.iter().rev() {
        h.fin(id);
    }
    for &id in &ids {
        let m = h.message(id);
        assert_eq!(
            (m.status(), m.body.as_slice()),
            (Some(200), &b"r"[..]),
            "stream {id}"
        );
    }
    assert_eq!(seen.lock().unwrap().heads.len(), 50);
}

/// Writes `total` bytes while `writable()`, more on `resume_writing`.
struct Bulk {
    left: usize,
    max_buffered: Arc<Mutex<usize>>,
}
impl Bulk {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.left > 0 && t.writable() {
            let n = self.left.min(10_000);
            t.write(&vec![b'x'; n]);
            self.left -= n;
            let mut m = self.max_buffered.lock().unwrap();
            *m = (*m).max(t.buffered());
        }
        if self.left == 0 {
            t.close();
        }
    }
}
impl StreamProtocol for Bulk {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t)
    }
}

#[test]
fn a_large_body_follows_quic_flow_control() {
    let max = Arc::new(Mutex::new(0));
    let m2 = max.clone();
    let svc: SharedService = Arc::new(move |_: &http::request::Parts| {
        Box::new(Bulk {
            left: 1 << 20,
            max_buffered: m2.clone(),
        }) as Box<dyn StreamProtocol>
    });
    let cfg = H3Config::default();
    let limit = cfg.stream_send_buffer;
    let mut h = Harness::server(svc, cfg);
    h.peer_setup(&settings());
    let id = h.next_request_id();
    h.conn.credit.insert(id, 1000);
    let head = h.get(id, "/big");
    h.send(id, &head);
    h.fin(id);
    let mut rounds = 0;
    while !h.conn.finished.contains(&id) {
        rounds += 1;
        assert!(rounds < 10_000, "no progress");
        h.conn.credit.insert(id, 16 << 10);
        h.app
            .stream_writable(&mut h.conn, strata::quic::StreamId(id));
    }
    assert!(
        rounds > 50,
        "flow control held the body back ({rounds} rounds)"
    );
    let m = h.message(id);
    assert_eq!(m.body.len(), 1 << 20);
    assert!(m.body.iter().all(|&b| b == b'x'));
    // The protocol never queued past the stream's buffer by more than a write.
    assert!(
        *max.lock().unwrap() <= limit + 10_000 + 64,
        "{}",
        max.lock().unwrap()
    );
}

/// Pauses reading on each piece of data; a wake (from its waker, which the
/// test holds) resumes it.
struct Pauser {
    seen: Shared,
    waker: Arc<Mutex<Option<strata::Wake>>>,
}
impl StreamProtocol for Pauser {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        *self.waker.lock().unwrap() = Some(t.waker());
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.seen.lock().unwrap().body.extend_from_slice(data);
        t.pause_reading();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().eof = true;
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: strata::WakeRoute<'_>) {
        t.resume_reading();
    }
}

#[test]
fn a_paused_request_stops_quic_delivery_and_resumes() {
    let seen = Shared::default();
    let s2 = seen.clone();
    let waker: Arc<Mutex<Option<strata::Wake>>> = Arc::default();
    let w2 = waker.clone();
    let svc: SharedService = Arc::new(move |_: &http::request::Parts| {
        Box::new(Pauser {
            seen: s2.clone(),
            waker: w2.clone(),
        }) as Box<dyn StreamProtocol>
    });
    let mut h = Harness::server(svc, H3Config::default());
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let mut wire = h.headers(
        id,
        &[
            (":method", "PUT"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
        ],
    );
    wire.extend(Harness::data(b"abc"));
    wire.extend(Harness::data(b"def"));
    h.send(id, &wire);
    assert_eq!(seen.lock().unwrap().body, b"abc", "held after the pause");
    assert!(h.conn.paused.contains(&id), "QUIC told to stop delivering");
    h.fin(id);
    assert!(!seen.lock().unwrap().eof, "no EOF while paused");
    // A wake of the connection itself reaches no request.
    h.app.on_wake(&mut h.conn);
    assert_eq!(seen.lock().unwrap().body, b"abc");
    // The request's own waker, from another thread, reaches it alone.
    let w = waker.lock().unwrap().clone().expect("a waker");
    std::thread::spawn(move || w.wake()).join().unwrap();
    h.wakes();
    assert_eq!(seen.lock().unwrap().body, b"abcdef");
    assert!(
        !seen.lock().unwrap().eof,
        "paused again after the held DATA"
    );
    waker.lock().unwrap().clone().unwrap().wake();
    h.wakes();
    assert!(seen.lock().unwrap().eof);
    assert!(!h.conn.paused.contains(&id));
    assert!(h.conn.finished.contains(&id));
}

/// An extended CONNECT tunnel: `200`, then the protocol echoes raw bytes.
struct Tunnel;
impl StreamProtocol for Tunnel {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let ok = t
            .request_head()
            .is_some_and(|r| r.extensions.get::<Protocol>() == Some(&Protocol("echo".into())));
        let status = if ok { 200 } else { 400 };
        t.send_response(http::Response::builder().status(status).body(()).unwrap())
            .unwrap();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(&data.to_ascii_uppercase());
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[test]
fn extended_connect_carries_a_stream_protocol() {
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Tunnel) as Box<dyn StreamProtocol>);
    let mut h = Harness::server(svc, H3Config::default());
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let head = h.headers(
        id,
        &[
            (":method", "CONNECT"),
            (":protocol", "echo"),
            (":scheme", "https"),
            (":authority", "localhost"),
            (":path", "/chat"),
        ],
    );
    h.send(id, &head);
    assert_eq!(h.message(id).status(), Some(200));
    h.send(id, &Harness::data(b"ping"));
    h.send(id, &Harness::data(b"pong"));
    h.fin(id);
    let m = h.message(id);
    assert_eq!(m.body, b"PINGPONG");
    assert!(h.conn.finished.contains(&id));
}

#[test]
fn head_and_204_have_no_body() {
    let (mut h, _) = setup(b"ignored", false);
    let id = h.next_request_id();
    let head = h.headers(
        id,
        &[
            (":method", "HEAD"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
        ],
    );
    h.send(id, &head);
    h.fin(id);
    let m = h.message(id);
    assert_eq!((m.status(), m.body.len()), (Some(200), 0));
}

#[test]
fn qpack_dynamic_table_and_blocked_sections() {
    let seen = Shared::default();
    let mut h = Harness::server(recording(seen.clone(), b"x", false), H3Config::default());
    h.enc = strata::http::qpack::QpackEncoder::new(4096);
    // The server allows a table: our encoder may use it.
    let mut scratch = Vec::new();
    h.enc.set_peer_settings(4096, 16, &mut scratch);
    h.enc_stream.extend(scratch);
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let head = h.headers(
        id,
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "blocked.example"),
            (":path", "/"),
            ("x-custom", "a value worth indexing"),
        ],
    );
    // The section may reference entries the server has not seen yet.
    h.send(id, &head);
    h.fin(id);
    assert!(
        !h.conn.written.contains_key(&id),
        "the section waits for the encoder stream"
    );
    assert!(
        h.conn.paused.contains(&id),
        "QUIC holds the stream meanwhile"
    );
    h.flush_encoder();
    assert!(!h.conn.paused.contains(&id));
    let m = h.message(id);
    assert_eq!(m.status(), Some(200));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.heads[0].headers["x-custom"], "a value worth indexing");
}

#[test]
fn graceful_shutdown_sends_goaway_and_drains() {
    let (mut h, _) = setup(b"bye", false);
    let id = h.next_request_id();
    let head = h.get(id, "/");
    h.send(id, &head);
    // The peer asks to wind down (a client's GOAWAY carries a push id).
    let (ctl, _, _) = h.peer_uni_ids();
    let mut g = Vec::new();
    strata::http::h3::frame::write_varint_frame(&mut g, strata::http::h3::frame::kind::GOAWAY, 0);
    h.send(ctl, &g);
    h.read_app_uni();
    assert_eq!(
        h.goaway,
        Some(4),
        "GOAWAY names the first request not served"
    );
    assert_eq!(h.close_code(), None, "the request in flight goes on");
    // A request after GOAWAY is rejected, safe to retry.
    let late = h.next_request_id();
    let head = h.get(late, "/late");
    h.send(late, &head);
    assert!(
        h.conn.resets.contains(&(late, 0x10b)),
        "{:?}",
        h.conn.resets
    );
    h.fin(id);
    assert_eq!(h.message(id).body, b"bye");
    assert_eq!(
        h.close_code(),
        None,
        "the response's FIN is not yet acknowledged: its bytes may be in flight"
    );
    h.acked(id);
    assert_eq!(
        h.close_code(),
        Some(0x100),
        "closed with H3_NO_ERROR once drained"
    );
}

/// Accepts a tunnel, then hands it to [`Upper`] with a `Replace` swap (the
/// request stream is a swap point like any holder of a protocol).
struct SwapToUpper;
impl StreamProtocol for SwapToUpper {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.send_response(http::Response::builder().status(200).body(()).unwrap())
            .unwrap();
        t.request_swap(strata::SwapRequest::Replace(Box::new(Tunnel2)), Vec::new())
            .unwrap();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {
        unreachable!("replaced before any data")
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// Upper-cases what it reads (no head of its own: the tunnel is accepted).
struct Tunnel2;
impl StreamProtocol for Tunnel2 {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(&data.to_ascii_uppercase());
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[test]
fn a_classic_connect_tunnel_with_a_protocol_swap() {
    let seen = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    let svc: SharedService = Arc::new(move |req: &http::request::Parts| {
        *s2.lock().unwrap() = Some((req.method.clone(), req.uri.to_string()));
        Box::new(SwapToUpper) as Box<dyn StreamProtocol>
    });
    let mut h = Harness::server(svc, H3Config::default());
    h.peer_setup(&settings());
    let id = h.next_request_id();
    // RFC 9114 §4.4: a CONNECT names only :authority.
    let head = h.headers(id, &[(":method", "CONNECT"), (":authority", "echo.test:7")]);
    h.send(id, &head);
    assert_eq!(h.message(id).status(), Some(200));
    h.send(id, &Harness::data(b"abc"));
    h.fin(id);
    assert_eq!(h.message(id).body, b"ABC");
    assert!(h.conn.finished.contains(&id));
    let got = seen.lock().unwrap().clone().unwrap();
    assert_eq!(got, (http::Method::CONNECT, "echo.test:7".to_string()));
}
