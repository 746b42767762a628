//! Every phase of an HTTP/1.1 server connection has a deadline, under the
//! virtual clock: version detection in `HttpServer` (no byte, part of the
//! HTTP/2 preface, over TLS after the handshake), the first request of a
//! connection, and a request body that stops or trickles. Plus the small
//! HTTP/1.1 refusals and framing rules of issue 9 (`100 Continue` for a
//! streaming handler, one `Content-Length` value out, `HTTP/1.2` as 1.1,
//! an impossible first byte refused at once).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::http::h1::{H1Config, H1Error, H1Server};
use strata::http::{HttpConfig, HttpExchange, HttpServer, SharedService};
use strata::{BottomInfo, Close, Stack, StackConfig, StreamProtocol, StreamTransport, Timeout};

// ---------------------------------------------------------------- helpers

/// What the request protocols saw: data, end, and how they were lost.
#[derive(Default)]
struct Seen {
    data: Vec<u8>,
    lost: Vec<Close>,
    heads: Vec<http::request::Parts>,
}

type Log = Arc<Mutex<Seen>>;

/// A request protocol. `early`: answers `200` at once (with the request's
/// `Content-Length` copied) and echoes the body as it comes; else keeps the
/// body and answers it whole at its end.
struct Echo {
    log: Log,
    early: bool,
    pause: bool,
}

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if self.pause {
            t.pause_reading();
        }
        if self.early {
            let mut b = http::Response::builder().status(200);
            let req = t.request_head().unwrap().clone();
            if let Some(v) = req.headers.get("content-length") {
                b = b.header("content-length", v);
            }
            t.send_response(b.body(()).unwrap()).unwrap();
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.log.lock().unwrap().data.extend_from_slice(data);
        if self.early {
            t.write(data);
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if !self.early {
            let body = std::mem::take(&mut self.log.lock().unwrap().data);
            let head = http::Response::builder()
                .header("content-length", body.len())
                .body(())
                .unwrap();
            t.send_response(head).unwrap();
            t.write(&body);
        }
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost.push(why.clone());
    }
}

fn svc(log: &Log, early: bool, pause: bool) -> SharedService {
    let log = log.clone();
    Arc::new(move |req: &http::request::Parts| {
        log.lock().unwrap().heads.push(req.clone());
        Box::new(Echo {
            log: log.clone(),
            early,
            pause,
        }) as Box<dyn StreamProtocol>
    })
}

fn h1(log: &Log, early: bool, cfg: H1Config) -> Stack {
    Stack::memory(Box::new(H1Server::new(
        svc(log, early, false),
        Arc::new(cfg),
    )))
}

fn http(log: &Log, cfg: HttpConfig) -> Stack {
    Stack::memory(Box::new(HttpServer::new(svc(log, false, false), cfg)))
}

fn out(s: &mut Stack) -> String {
    let now = s.now();
    String::from_utf8(s.take_output(now)).unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn h1_error(why: &Close) -> Option<H1Error> {
    match why.layer() {
        Some("http1") => why.error::<H1Error>().cloned(),
        _ => None,
    }
}

const POST_10: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n";

// ------------------------------------------------------- version detection

#[test]
fn a_connection_that_sends_nothing_is_aborted_at_the_detect_timeout() {
    let log = Log::default();
    let mut s = http(&log, HttpConfig::default());
    let t0 = s.now();
    let d = s.next_deadline().expect("a detect deadline from the start");
    assert_eq!(d, t0 + secs(10));
    s.handle_timeout(d - Duration::from_millis(1));
    assert!(s.finished().is_none());
    s.handle_timeout(d);
    assert!(matches!(
        s.finished(),
        Some(Close::Timeout(Timeout::Detect))
    ));
    assert!(log.lock().unwrap().heads.is_empty());
}

#[test]
fn part_of_the_h2_preface_does_not_hold_the_connection_open() {
    let log = Log::default();
    let mut s = http(&log, HttpConfig::default());
    let t0 = s.now();
    // Byte by byte, slowly: the deadline does not move.
    for (i, b) in b"PRI * HTTP/2.0\r\n".iter().enumerate() {
        s.handle_input(t0 + Duration::from_millis(500 * i as u64), &[*b]);
        assert_eq!(s.next_deadline(), Some(t0 + secs(10)));
    }
    s.handle_timeout(t0 + secs(10));
    assert!(matches!(
        s.finished(),
        Some(Close::Timeout(Timeout::Detect))
    ));
}

#[test]
fn once_a_version_is_chosen_the_detect_deadline_is_gone() {
    let log = Log::default();
    let cfg = HttpConfig {
        detect_timeout: secs(1),
        ..HttpConfig::default()
    };
    let mut s = http(&log, cfg);
    let t0 = s.now();
    s.handle_input(t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(out(&mut s).starts_with("HTTP/1.1 200 OK\r\n"));
    // Idle between requests now: HTTP/1.1's keep-alive, not detection.
    assert_eq!(s.next_deadline(), Some(t0 + secs(60)));
    s.handle_timeout(t0 + secs(1));
    assert!(s.finished().is_none());
}

#[test]
fn a_zero_detect_timeout_turns_the_deadline_off() {
    let log = Log::default();
    let cfg = HttpConfig {
        detect_timeout: Duration::ZERO,
        ..HttpConfig::default()
    };
    let s = http(&log, cfg);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn over_tls_with_no_handshake_edge_seen_the_detect_clock_restarts_once() {
    // A bottom named "tls" stands for a TLS layer whose inner protocol
    // started before its handshake ended.
    let log = Log::default();
    let server = HttpServer::new(svc(&log, false, false), HttpConfig::default());
    let t0 = strata::testing::epoch();
    let mut s = Stack::new(
        Box::new(server),
        BottomInfo::new("tls"),
        Arc::new(StackConfig::default()),
        t0,
    );
    s.start(t0);
    s.handle_timeout(t0 + secs(10));
    assert!(s.finished().is_none(), "a full period after the handshake");
    assert_eq!(s.next_deadline(), Some(t0 + secs(20)));
    s.handle_timeout(t0 + secs(20));
    assert!(matches!(
        s.finished(),
        Some(Close::Timeout(Timeout::Detect))
    ));
}

// ------------------------------------------------------- the first request

#[test]
fn the_first_request_is_bounded_by_the_head_timeout_not_the_keep_alive() {
    let log = Log::default();
    let mut s = h1(&log, false, H1Config::default());
    let t0 = s.now();
    assert_eq!(s.next_deadline(), Some(t0 + secs(10)));
    // Empty lines (allowed before a request line) do not buy time.
    s.handle_input(t0 + secs(5), b"\r\n\r\n");
    assert_eq!(s.next_deadline(), Some(t0 + secs(10)));
    s.handle_timeout(t0 + secs(10));
    assert_eq!(out(&mut s), "", "no request began: closed quietly");
    assert!(s.finished().unwrap().is_clean());

    // A head begun late must still end by the first request's deadline.
    let mut s = h1(&log, false, H1Config::default());
    s.handle_input(t0 + secs(9), b"GET / HTTP/1.1\r\n");
    assert_eq!(s.next_deadline(), Some(t0 + secs(10)));
    s.handle_timeout(t0 + secs(10));
    assert!(out(&mut s).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(s.finished().unwrap().is_clean());
}

// ----------------------------------------------------------- request bodies

#[test]
fn a_body_that_stops_gets_408_when_no_response_started() {
    let log = Log::default();
    let mut s = h1(&log, false, H1Config::default());
    let t0 = s.now();
    s.handle_input(t0, POST_10);
    s.handle_input(t0 + secs(1), b"abc");
    let d = s.next_deadline().unwrap();
    assert_eq!(d, t0 + secs(30), "a body period from the head's end");
    s.handle_timeout(d);
    let text = out(&mut s);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("connection: close"), "{text}");
    assert!(s.finished().unwrap().is_clean());
    let l = log.lock().unwrap();
    assert_eq!(l.data, b"abc");
    assert!(matches!(l.lost[..], [Close::Timeout(Timeout::Body)]));
}

#[test]
fn a_trickling_body_under_the_minimum_rate_is_cut_once_a_response_started() {
    let log = Log::default();
    let cfg = H1Config {
        body_timeout: secs(2),
        min_body_rate: 10,
        ..H1Config::default()
    };
    let mut s = h1(&log, true, cfg);
    let t0 = s.now();
    s.handle_input(
        t0,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n",
    );
    assert!(out(&mut s).starts_with("HTTP/1.1 200 OK\r\n"));
    // 20 bytes per 2 s are needed; 25 arrive in the first period, 19 in
    // the second.
    s.handle_input(t0 + secs(1), &[b'x'; 25]);
    s.handle_timeout(t0 + secs(2));
    assert!(s.finished().is_none(), "enough in the first period");
    assert_eq!(s.next_deadline(), Some(t0 + secs(4)));
    s.handle_input(t0 + secs(3), &[b'y'; 19]);
    s.handle_timeout(t0 + secs(4));
    assert!(matches!(s.finished(), Some(Close::Timeout(Timeout::Body))));
    let l = log.lock().unwrap();
    assert_eq!(l.data.len(), 44);
    assert!(matches!(l.lost[..], [Close::Timeout(Timeout::Body)]));
}

#[test]
fn a_body_at_the_minimum_rate_is_served_whatever_its_length() {
    let log = Log::default();
    let cfg = H1Config {
        body_timeout: secs(1),
        min_body_rate: 4,
        ..H1Config::default()
    };
    let mut s = h1(&log, false, cfg);
    let t0 = s.now();
    s.handle_input(
        t0,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n",
    );
    for i in 0..10u64 {
        s.handle_input(t0 + Duration::from_millis(1000 * i + 500), b"abcd");
        s.handle_timeout(t0 + secs(i + 1));
        assert!(s.finished().is_none(), "period {i}");
    }
    let text = out(&mut s);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 40\r\n"),
        "{text}"
    );
    assert_eq!(log.lock().unwrap().lost[..].len(), 1);
    assert!(log.lock().unwrap().lost[0].is_clean());
}

#[test]
fn no_body_clock_while_the_handler_pauses_and_rate_zero_keeps_the_idle_rule() {
    let log = Log::default();
    let paused = svc(&log, false, true);
    let mut s = Stack::memory(Box::new(H1Server::new(
        paused,
        Arc::new(H1Config::default()),
    )));
    let t0 = s.now();
    s.handle_input(t0, POST_10);
    assert_eq!(s.next_deadline(), None, "the handler holds the body back");

    let cfg = H1Config {
        body_timeout: secs(5),
        min_body_rate: 0,
        ..H1Config::default()
    };
    let mut s = h1(&log, false, cfg);
    s.handle_input(t0, POST_10);
    for i in 1..=9u64 {
        s.handle_input(t0 + secs(5 * i - 1), b"z");
        s.handle_timeout(t0 + secs(5 * i));
        assert!(s.finished().is_none(), "one byte per period is enough");
    }
    s.handle_timeout(t0 + secs(50));
    assert!(out(&mut s).contains("408 Request Timeout"));
}

#[test]
fn a_zero_body_timeout_turns_the_clock_off() {
    let log = Log::default();
    let cfg = H1Config {
        body_timeout: Duration::ZERO,
        ..H1Config::default()
    };
    let mut s = h1(&log, false, cfg);
    let t0 = s.now();
    s.handle_input(t0, POST_10);
    assert_eq!(s.next_deadline(), None);
}

// ------------------------------------------------- small HTTP/1.1 rules

#[test]
fn a_streaming_handler_gets_100_continue_and_the_connection_is_kept() {
    let log = Log::default();
    let mut s = h1(&log, true, H1Config::default());
    let t0 = s.now();
    s.handle_input(
        t0,
        b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    assert_eq!(
        out(&mut s),
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n"
    );
    s.handle_input(t0, b"body");
    assert_eq!(out(&mut s), "body");
    assert!(s.finished().is_none(), "reusable");
    s.handle_input(t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(out(&mut s).starts_with("HTTP/1.1 200 OK\r\n"));
}

#[test]
fn content_length_goes_out_as_one_value() {
    let log = Log::default();
    let mut s = h1(&log, true, H1Config::default());
    let t0 = s.now();
    s.handle_input(
        t0,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(
        out(&mut s),
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"
    );
    let l = log.lock().unwrap();
    let cl: Vec<_> = l.heads[0]
        .headers
        .get_all("content-length")
        .iter()
        .collect();
    assert_eq!(cl, ["3"], "the handler sees one value too");
    drop(l);

    // A handler that writes the list itself: still one value on the wire.
    let svc: SharedService = Arc::new(|_: &http::request::Parts| {
        struct Listy;
        impl StreamProtocol for Listy {
            fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
            fn eof_received(&mut self, t: &mut dyn StreamTransport) {
                let head = http::Response::builder()
                    .header("content-length", "2, 2")
                    .body(())
                    .unwrap();
                t.send_response(head).unwrap();
                t.write(b"hi");
                t.close();
            }
        }
        Box::new(Listy) as Box<dyn StreamProtocol>
    });
    let mut s = Stack::memory(Box::new(H1Server::new(svc, Arc::default())));
    s.handle_input(t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        out(&mut s),
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"
    );
}

#[test]
fn http_1_2_is_served_as_1_1() {
    let log = Log::default();
    let mut s = h1(&log, false, H1Config::default());
    let t0 = s.now();
    s.handle_input(t0, b"GET / HTTP/1.2\r\nHost: a\r\n\r\n");
    let text = out(&mut s);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert_eq!(log.lock().unwrap().heads[0].version, http::Version::HTTP_11);
    assert!(s.finished().is_none(), "kept alive as 1.1");
    // Other versions are still refused.
    let mut s = h1(&log, false, H1Config::default());
    s.handle_input(t0, b"GET / HTTP/3.0\r\nHost: a\r\n\r\n");
    assert!(out(&mut s).starts_with("HTTP/1.1 505 "));
}

#[test]
fn a_first_byte_that_cannot_start_a_method_is_refused_at_once() {
    for first in [
        &b"\x16\x03\x01\x02\x00"[..],
        b" GET",
        b"\x00",
        b"\r\r",
        b"{",
    ] {
        let log = Log::default();
        let mut s = http(&log, HttpConfig::default());
        let t0 = s.now();
        s.handle_input(t0, first);
        let text = out(&mut s);
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{first:?}: {text:?}"
        );
        assert!(s.finished().unwrap().is_clean(), "{first:?}");
    }
}

#[test]
fn bad_chunk_framing_before_any_response_gets_400() {
    let log = Log::default();
    let mut s = h1(&log, false, H1Config::default());
    let t0 = s.now();
    s.handle_input(
        t0,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
    );
    let text = out(&mut s);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(s.finished().unwrap().is_clean());
    assert_eq!(
        h1_error(&log.lock().unwrap().lost[0]),
        Some(H1Error::MalformedChunk)
    );
}

#[test]
fn the_largest_timeouts_and_rates_neither_panic_nor_fire() {
    let log = Log::default();
    let h1cfg = H1Config {
        head_timeout: Duration::MAX,
        keep_alive_timeout: Duration::MAX,
        body_timeout: Duration::MAX,
        min_body_rate: u64::MAX,
        ..H1Config::default()
    };
    let cfg = HttpConfig {
        detect_timeout: Duration::MAX,
        h1: Arc::new(h1cfg),
        ..HttpConfig::default()
    };
    let mut s = http(&log, cfg);
    let t0 = s.now();
    let far = t0 + Duration::from_secs(1_000_000_000);
    s.handle_timeout(far);
    assert!(s.finished().is_none());
    s.handle_input(far, POST_10);
    s.handle_timeout(far + Duration::from_secs(1_000_000_000));
    assert!(s.finished().is_none());
    assert!(s.next_deadline().is_some_and(|d| d > far));
}

/// Streams `left` bytes of `x`, a 16 KiB write at a time while writable;
/// closes after the last one.
struct Big {
    left: usize,
    log: Log,
}

impl Big {
    fn fill(&mut self, t: &mut dyn StreamTransport) {
        while self.left > 0 && t.writable() {
            let n = self.left.min(16 * 1024);
            t.write(&vec![b'x'; n]);
            self.left -= n;
        }
        if self.left == 0 {
            t.close();
        }
    }
}

impl StreamProtocol for Big {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let head = http::Response::builder()
            .header("content-length", self.left)
            .body(())
            .unwrap();
        t.send_response(head).unwrap();
        self.fill(t);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.fill(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost.push(why.clone());
    }
}

fn big(log: &Log, len: usize) -> Stack {
    let log = log.clone();
    let svc: SharedService = Arc::new(move |_: &http::request::Parts| {
        Box::new(Big {
            left: len,
            log: log.clone(),
        }) as Box<dyn StreamProtocol>
    });
    Stack::memory(Box::new(H1Server::new(svc, Arc::default())))
}

#[test]
fn a_peer_that_reads_nothing_is_cut_at_the_stall_timeout() {
    let log = Log::default();
    let mut s = big(&log, 1 << 20);
    let t0 = s.now();
    s.handle_input(t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(s.is_write_paused(), "the stack below is full");
    assert_eq!(s.next_deadline(), Some(t0 + secs(30)));
    s.handle_timeout(t0 + secs(30));
    assert!(matches!(s.finished(), Some(Close::Timeout(Timeout::Stall))));
    assert!(matches!(
        log.lock().unwrap().lost[..],
        [Close::Timeout(Timeout::Stall)]
    ));
}

#[test]
fn a_slow_reader_that_keeps_draining_is_not_a_stall() {
    let log = Log::default();
    let len = 1 << 20;
    let mut s = big(&log, len);
    let t0 = s.now();
    s.handle_input(t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut got = 0;
    let mut now = t0;
    // Drain everything every 20 s: never 30 s without a resume.
    while got < len {
        now += secs(20);
        s.handle_timeout(now);
        assert!(s.finished().is_none(), "cut at {:?}", now - t0);
        got += s.take_output(now).len();
    }
    assert!(log.lock().unwrap().lost[0].is_clean());
}

#[test]
fn an_exchange_running_past_the_drain_after_shutdown_is_cut() {
    let log = Log::default();
    let cfg = H1Config {
        body_timeout: Duration::ZERO,
        ..H1Config::default()
    };
    let mut s = h1(&log, true, cfg);
    let t0 = s.now();
    s.handle_input(t0, POST_10);
    s.handle_input(t0, b"abc");
    s.handle_shutdown(t0 + secs(1));
    assert!(s.finished().is_none(), "the exchange may finish");
    assert_eq!(s.next_deadline(), Some(t0 + secs(11)));
    s.handle_timeout(t0 + secs(11));
    assert!(matches!(s.finished(), Some(Close::Timeout(Timeout::Drain))));
    assert!(matches!(
        log.lock().unwrap().lost[..],
        [Close::Timeout(Timeout::Drain)]
    ));

    // One that finishes in time closes cleanly.
    let log = Log::default();
    let mut s = h1(&log, true, H1Config::default());
    s.handle_input(t0, POST_10);
    s.handle_shutdown(t0 + secs(1));
    s.handle_input(t0 + secs(2), b"0123456789");
    let text = out(&mut s);
    assert!(text.ends_with("\r\n\r\n0123456789"), "{text}");
    assert!(
        s.finished().unwrap().is_clean(),
        "closed after the exchange"
    );
}
