//! Target `h1_server`: arbitrary bytes, in arbitrary chunks, into an
//! HTTP/1.1 server connection with an echo service, over a whole stack.
//!
//! It checks that nothing panics, that the server never writes more than a
//! bounded multiple of what it read (plus one error response), that the
//! stack's memory budget is never hit (the layer keeps to its own bounds and
//! pauses reading instead), and that the connection always ends once the
//! peer has sent EOF and time has passed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::http::h1::{H1Config, H1Server};
use strata::http::{request, HttpExchange, Method, Response, SharedService};
use strata::{
    AbortReason, Close, Stack, StackConfig, StreamProtocol, StreamTransport, Wake, WakeRoute,
};

use crate::{control, Chunks};

/// The waker of the latest exchange.
type Waker = Arc<Mutex<Option<Wake>>>;

/// Echoes request bodies (chunked); pauses reading on data starting with
/// `P` until woken; upgrades `/up` requests that ask for it and accepts
/// CONNECT (then echoes raw bytes); answers `/early` at once without
/// reading the body; closes at the end of the request.
struct Echo {
    waker: Waker,
}

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.waker());
        let Some(req) = t.request_head() else {
            return;
        };
        let status = if req.method == Method::CONNECT {
            200
        } else if req.uri.path() == "/up" && req.headers.contains_key("upgrade") {
            101
        } else if req.uri.path() == "/early" {
            let head = Response::builder().status(413).body(()).unwrap_or_default();
            let _ = t.send_response(head);
            t.close();
            return;
        } else {
            return;
        };
        let head = Response::builder()
            .status(status)
            .body(())
            .unwrap_or_default();
        let _ = t.send_response(head);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
        if data.first() == Some(&b'P') {
            t.pause_reading();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        t.resume_reading();
    }
}

/// The limits, from two control bytes: small, so that inputs reach them.
fn config(a: u8, b: u8) -> H1Config {
    H1Config {
        max_head_bytes: 48 + usize::from(a & 0x3f) * 16,
        max_headers: 1 + usize::from(a >> 6) * 3,
        head_timeout: Duration::from_secs(10),
        keep_alive_timeout: Duration::from_secs(60),
        max_pipelined_bytes: 16 + usize::from(b) * 8,
        max_chunk_line: 4 + usize::from(b & 0x0f) * 2,
        max_trailer_bytes: 64,
        max_body: (a & 0x20 != 0).then_some(u64::from(b) * 4),
        max_discard_bytes: u64::from(b >> 4) * 8,
        ..H1Config::default()
    }
}

/// Feeds `data` (after three control bytes: limits, and the chunking seed)
/// to an [`H1Server`] in a [`Stack`], as a driver would: only while the
/// stack wants to read, taking its output as a peer that reads, waking
/// the handler, and letting 11 s pass before every chunk that starts with
/// `~` (so the head timeout fires).
pub fn h1_server(data: &[u8]) {
    let ([a, b, seed], payload) = control::<3>(data);
    let waker = Waker::default();
    let w = waker.clone();
    let service: SharedService = Arc::new(move |_: &request::Parts| {
        Box::new(Echo { waker: w.clone() }) as Box<dyn StreamProtocol>
    });
    let limits = StackConfig {
        high_water: 1024,
        low_water: 256,
        memory_budget: 64 * 1024,
        ..StackConfig::default()
    };
    let server = H1Server::new(service, Arc::new(config(a, b)));
    let mut s = Stack::memory_with(Box::new(server), limits);
    let mut now = s.now();
    let (mut fed, mut out) = (0usize, 0usize);
    let wake = |s: &mut Stack, now| {
        if let Some(w) = waker.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w.wake();
        }
        s.handle_wakes(now);
    };
    for chunk in Chunks::new(payload, seed) {
        for _ in 0..4 {
            if s.wants_read() || s.finished().is_some() {
                break;
            }
            out += s.take_output(now).len();
            wake(&mut s, now);
        }
        if s.finished().is_some() || !s.wants_read() {
            break;
        }
        if chunk.first() == Some(&b'~') {
            now += Duration::from_secs(11);
            s.handle_timeout(now);
        }
        s.handle_input(now, chunk);
        fed += chunk.len();
        out += s.take_output(now).len();
        check(&s, fed, out);
    }
    // The peer ends: everything must wind down, with time passing.
    s.handle_eof(now);
    for _ in 0..8 {
        if s.finished().is_some() {
            break;
        }
        out += s.take_output(now).len();
        wake(&mut s, now);
        now += Duration::from_secs(61);
        s.handle_timeout(now);
        check(&s, fed, out);
    }
    out += s.take_output(now).len();
    check(&s, fed, out);
    assert!(s.finished().is_some(), "the connection never ended: {s:?}");
}

fn check(s: &Stack, fed: usize, out: usize) {
    // Per request at most a head, a 100 Continue and framing per body
    // piece, all smaller than what caused them; one error response.
    assert!(
        out <= 8 * fed + 512,
        "wrote {out} bytes after reading {fed}"
    );
    if let Some(Close::Aborted {
        reason: AbortReason::MemoryBudget { .. },
        ..
    }) = s.finished()
    {
        panic!("the memory budget was hit: the layer did not bound itself");
    }
}
