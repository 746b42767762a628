//! Issue 13, point 3: the HTTP/2 and HTTP/3 stream layers count their
//! frames and body bytes (`strata::stats::Counters`, read with
//! `t.layer_stats()` from the stream's protocol). In memory, after a known
//! exchange, the counts are exact.

mod h2_support;
mod h3_support;

use std::sync::{Arc, Mutex};

use strata::http::h2::H2Config;
use strata::http::h3::H3Config;
use strata::stats::Counters;
use strata::{StreamProtocol, StreamTransport};

/// Echoes the body; keeps its layer's counters at the request's end.
struct CountingEcho {
    layer: &'static str,
    seen: Arc<Mutex<Option<Counters>>>,
}

impl StreamProtocol for CountingEcho {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let stats = t.layer_stats();
        let mine = stats.iter().find(|l| l.layer == self.layer);
        *self.seen.lock().unwrap() = mine.and_then(|l| l.counters);
        t.close();
    }
}

fn counting(layer: &'static str) -> (strata::http::SharedService, Arc<Mutex<Option<Counters>>>) {
    let seen = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    let svc: strata::http::SharedService = Arc::new(move |_: &http::request::Parts| {
        Box::new(CountingEcho {
            layer,
            seen: s2.clone(),
        }) as Box<dyn StreamProtocol>
    });
    (svc, seen)
}

#[test]
fn an_h2_stream_counts_its_frames_and_body_bytes() {
    use h2_support::*;
    let (svc, seen) = counting("h2-stream");
    let mut p = Raw::server(svc, H2Config::default());
    p.handshake(&[]);
    p.post(1, "/echo");
    p.data(1, b"abc", false);
    p.data(1, b"defgh", true);
    let evs = p.read();
    assert_eq!(body(&evs, 1), (b"abcdefgh".to_vec(), true));
    let c = seen.lock().unwrap().expect("h2-stream counts");
    // In: the request's HEADERS and its two DATA frames, 8 body bytes.
    assert_eq!((c.frames_in, c.bytes_in), (3, 8));
    // Out by the end of the request: the response head and the first
    // echo's DATA frame; the second echo waits for the settle step.
    assert_eq!((c.frames_out, c.bytes_out, c.buffered), (2, 3, 5));
}

#[test]
fn an_h3_stream_counts_its_frames_and_body_bytes() {
    use h3_support::*;
    let (svc, seen) = counting("h3-stream");
    let mut h = Harness::server(svc, H3Config::default());
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let mut wire = h.headers(
        id,
        &[
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", "/echo"),
        ],
    );
    wire.extend(Harness::data(b"hello "));
    wire.extend(Harness::data(b"world"));
    // One byte at a time: a frame's body in pieces still counts once.
    for b in wire.chunks(1) {
        h.send(id, b);
    }
    h.fin(id);
    let m = h.message(id);
    assert_eq!(m.body, b"hello world");
    let c = seen.lock().unwrap().expect("h3-stream counts");
    assert_eq!((c.frames_in, c.bytes_in), (3, 11));
    // Out: the response HEADERS and one DATA frame per echoed piece.
    assert_eq!(c.bytes_out, 11);
    assert_eq!(c.frames_out, 1 + 11);
    assert_eq!(c.buffered, 0);
}
