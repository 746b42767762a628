//! HTTP/1.1 server and client layers, in memory: keep-alive and pipelining,
//! bodies both ways (content-length, chunked, split at every byte),
//! trailers, 100-continue, Upgrade and CONNECT tunnels, HEAD, HTTP/1.0,
//! every refusal with its status and typed error, timers under virtual time,
//! bounded memory against a client that never reads, and the client against
//! the server over the pump.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::http::h1::{H1Config, H1Error, H1Server};
use strata::http::{HttpExchange, HttpVersion, Protocol, RequestHead, SharedService, Trailers};
use strata::{
    AbortReason, Addr, Close, PeerAddr, Stack, StackConfig, StreamProtocol, StreamTransport, Wake,
    WakeRoute,
};

// ---------------------------------------------------------------- helpers

/// What the request protocols of a test saw, in order.
#[derive(Default)]
struct Seen {
    events: Vec<String>,
    requests: Vec<http::request::Parts>,
    lost: Vec<Close>,
    trailers: Vec<http::HeaderMap>,
    chain: Vec<&'static str>,
    peer: Option<PeerAddr>,
    version: Option<HttpVersion>,
    wakers: Vec<Wake>,
}

type Log = Arc<Mutex<Seen>>;

fn push(log: &Log, e: impl Into<String>) {
    log.lock().unwrap().events.push(e.into());
}

fn events(log: &Log) -> Vec<String> {
    std::mem::take(&mut log.lock().unwrap().events)
}

type Hook = fn(&mut dyn StreamTransport);
type DataHook = fn(&mut dyn StreamTransport, &[u8]);

/// A request protocol driven by plain functions, recording what it sees.
struct Handler {
    log: Log,
    made: Hook,
    data: DataHook,
    eof: Hook,
    wake: Hook,
}

impl StreamProtocol for Handler {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        {
            let mut l = self.log.lock().unwrap();
            l.events.push("made".into());
            l.chain = t.layer_chain();
            l.peer = t.get::<PeerAddr>().cloned();
            l.version = t.get::<HttpVersion>().copied();
            l.wakers.push(t.waker());
        }
        (self.made)(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        push(&self.log, format!("data:{}", String::from_utf8_lossy(data)));
        (self.data)(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        {
            let mut l = self.log.lock().unwrap();
            l.events.push("eof".into());
            if let Some(tr) = t.get::<Trailers>() {
                l.trailers.push(tr.0.clone());
            }
        }
        (self.eof)(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        let mut l = self.log.lock().unwrap();
        l.events.push(format!("lost:{why}"));
        l.lost.push(why.clone());
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        push(&self.log, "wake");
        (self.wake)(t)
    }
}

fn nothing(_: &mut dyn StreamTransport) {}
fn ignore(_: &mut dyn StreamTransport, _: &[u8]) {}
fn echo(t: &mut dyn StreamTransport, d: &[u8]) {
    t.write(d)
}
fn close(t: &mut dyn StreamTransport) {
    t.close()
}
fn resume(t: &mut dyn StreamTransport) {
    t.resume_reading()
}

fn respond(t: &mut dyn StreamTransport, status: u16, headers: &[(&str, &str)]) {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    t.send_response(b.body(()).unwrap()).unwrap();
}

/// A service whose protocols run these hooks.
fn service(log: &Log, made: Hook, data: DataHook, eof: Hook) -> SharedService {
    service_w(log, made, data, eof, nothing)
}

fn service_w(log: &Log, made: Hook, data: DataHook, eof: Hook, wake: Hook) -> SharedService {
    let log = log.clone();
    Arc::new(move |req: &http::request::Parts| {
        log.lock().unwrap().requests.push(req.clone());
        Box::new(Handler {
            log: log.clone(),
            made,
            data,
            eof,
            wake,
        }) as Box<dyn StreamProtocol>
    })
}

/// Echoes the body back, chunked, and ends at the request's end.
fn echo_service(log: &Log) -> SharedService {
    service(log, nothing, echo, close)
}

fn server(svc: SharedService) -> Stack {
    server_with(svc, H1Config::default())
}

fn server_with(svc: SharedService, cfg: H1Config) -> Stack {
    Stack::memory(Box::new(H1Server::new(svc, Arc::new(cfg))))
}

/// Feeds `input`, returns the output as text.
fn exchange(s: &mut Stack, input: &[u8]) -> String {
    let now = s.now();
    s.handle_input(now, input);
    String::from_utf8(s.take_output(now)).unwrap()
}

fn h1_error(why: &Close) -> Option<H1Error> {
    match why.layer() {
        Some("http1") => why.error::<H1Error>().cloned(),
        _ => None,
    }
}

const CHUNKED_ECHO_HEAD: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

// ------------------------------------------------- keep-alive and pipelining

#[test]
fn pipelined_gets_are_answered_in_order_on_one_connection() {
    let log = Log::default();
    let svc = service(&log, nothing, ignore, |t| {
        let path = t.request_head().unwrap().uri.path().to_owned();
        let body = format!("you asked for {path}");
        let len = body.len().to_string();
        respond(t, 200, &[("content-length", &len)]);
        t.write(body.as_bytes());
        t.close();
    });
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let one = |p: &str| format!("HTTP/1.1 200 OK\r\ncontent-length: 16\r\n\r\nyou asked for /{p}");
    assert_eq!(out, one("a") + &one("b") + &one("c"));
    assert!(s.finished().is_none(), "keep-alive: the connection stays");
    let l = log.lock().unwrap();
    let paths: Vec<_> = l.requests.iter().map(|r| r.uri.path().to_owned()).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
    assert_eq!(
        l.events,
        ["made", "eof", "lost:closed cleanly"].repeat(3),
        "one exchange at a time, each ended cleanly"
    );
    drop(l);
    // A later request on the same connection.
    assert_eq!(
        exchange(&mut s, b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n"),
        one("d")
    );
}

#[test]
fn pipelined_requests_with_bodies_are_echoed_in_order() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let out = exchange(
        &mut s,
        b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none\
          POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n\
          GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let one = |b: &str| format!("{CHUNKED_ECHO_HEAD}3\r\n{b}\r\n0\r\n\r\n");
    assert_eq!(
        out,
        one("one") + &one("two") + "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    );
    assert!(s.finished().is_none());
}

#[test]
fn a_slow_handler_holds_the_next_pipelined_request() {
    let log = Log::default();
    // Answers only when woken.
    let svc = service_w(&log, nothing, ignore, nothing, |t| {
        respond(t, 204, &[]);
        t.close();
    });
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(out, "");
    assert_eq!(log.lock().unwrap().requests.len(), 1, "the second waits");
    let w = log.lock().unwrap().wakers[0].clone();
    w.wake();
    let now = s.now();
    s.handle_wakes(now);
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
    assert_eq!(
        log.lock().unwrap().requests.len(),
        2,
        "then the second starts"
    );
    // The first exchange's waker is stale now: it must not reach the second.
    w.wake();
    s.handle_wakes(now);
    assert_eq!(s.take_output(now), b"");
    let evs = events(&log);
    assert_eq!(evs.iter().filter(|e| *e == "wake").count(), 1, "{evs:?}");
    log.lock().unwrap().wakers[1].wake();
    s.handle_wakes(now);
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
}

#[test]
fn connection_close_is_honoured_and_later_requests_ignored() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let out = exchange(
        &mut s,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    assert!(s.finished().unwrap().is_clean());
    assert_eq!(log.lock().unwrap().requests.len(), 1);
}

#[test]
fn a_handler_saying_connection_close_ends_the_connection() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            respond(t, 200, &[("connection", "close"), ("content-length", "0")]);
            t.close();
        },
        ignore,
        nothing,
    );
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    assert!(s.finished().unwrap().is_clean());
}

// ------------------------------------------------------------------ bodies

#[test]
fn content_length_bodies_both_ways() {
    let log = Log::default();
    let svc = service(&log, nothing, ignore, |t| {
        respond(t, 201, &[("content-length", "5")]);
        t.write(b"hel");
        t.write(b"lo and more");
        t.close();
    });
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
    );
    assert_eq!(
        out,
        "HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhello"
    );
    assert_eq!(
        events(&log),
        ["made", "data:hello world", "eof", "lost:closed cleanly"]
    );
}

/// The chunked echo of the data pieces a handler saw.
fn chunked_echo_of(evs: &[String]) -> (String, String) {
    let mut body = String::new();
    let mut wire = CHUNKED_ECHO_HEAD.to_owned();
    for d in evs.iter().filter_map(|e| e.strip_prefix("data:")) {
        body += d;
        wire += &format!("{:x}\r\n{d}\r\n", d.len());
    }
    wire += "0\r\n\r\n";
    (body, wire)
}

#[test]
fn chunked_request_echoed_chunked_at_every_split() {
    let req: &[u8] =
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\n6;x=y\r\n pong!\r\n0\r\n\r\n";
    for cut in 1..req.len() {
        let log = Log::default();
        let mut s = server(echo_service(&log));
        let mut out = exchange(&mut s, &req[..cut]);
        out += &exchange(&mut s, &req[cut..]);
        let evs = events(&log);
        let (body, wire) = chunked_echo_of(&evs);
        assert_eq!(body, "ping pong!", "cut at {cut}");
        assert_eq!(out, wire, "cut at {cut}");
        assert_eq!(evs.last().unwrap(), "lost:closed cleanly");
        assert!(s.finished().is_none());
    }
    // One byte at a time.
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let mut out = String::new();
    for b in req {
        out += &exchange(&mut s, std::slice::from_ref(b));
    }
    let (body, wire) = chunked_echo_of(&events(&log));
    assert_eq!(body, "ping pong!");
    assert_eq!(out, wire);
}

#[test]
fn trailers_both_ways() {
    let log = Log::default();
    let svc = service(&log, nothing, echo, |t| {
        let mut tr = http::HeaderMap::new();
        tr.insert("x-checksum", "abc".parse().unwrap());
        t.send_trailers(tr).unwrap();
        assert!(!t.writable(), "the body has ended");
    });
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-sum: 3\r\nx-more: yes\r\n\r\n",
    );
    assert_eq!(
        out,
        format!("{CHUNKED_ECHO_HEAD}3\r\nabc\r\n0\r\nx-checksum: abc\r\n\r\n")
    );
    let l = log.lock().unwrap();
    assert_eq!(l.trailers.len(), 1);
    assert_eq!(l.trailers[0]["x-sum"], "3");
    assert_eq!(l.trailers[0]["x-more"], "yes");
    assert_eq!(l.events.last().unwrap(), "lost:closed cleanly");
}

#[test]
fn write_eof_ends_the_response_and_keeps_reading_the_body() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            respond(t, 200, &[("content-length", "2")]);
            t.write(b"ok");
            t.write_eof();
        },
        ignore,
        nothing,
    );
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc",
    );
    assert_eq!(out, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    assert_eq!(events(&log), ["made", "data:abc"]);
    exchange(&mut s, b"def");
    assert_eq!(events(&log), ["data:def", "eof", "lost:closed cleanly"]);
    assert!(s.finished().is_none());
}

#[test]
fn an_unread_body_is_discarded_when_small_and_closes_when_large() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            respond(t, 413, &[("content-length", "0")]);
            t.close();
        },
        ignore,
        nothing,
    );
    let cfg = H1Config {
        max_discard_bytes: 10,
        ..H1Config::default()
    };
    let mut s = server_with(svc.clone(), cfg.clone());
    let out = exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n1234",
    );
    assert_eq!(
        out,
        "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n"
    );
    assert_eq!(events(&log), ["made", "lost:closed cleanly"]);
    // The rest of the body is thrown away, then the next request is served.
    let out = exchange(&mut s, b"5678GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        out,
        "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n"
    );
    assert!(s.finished().is_none());

    // Over the discard budget: close after the response.
    let mut s = server_with(svc.clone(), cfg.clone());
    exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n12",
    );
    assert!(s.finished().unwrap().is_clean());
    // Chunked: discarded chunk by chunk until the budget runs out.
    let mut s = server_with(svc, cfg);
    exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n",
    );
    assert!(s.finished().is_none());
    exchange(&mut s, b"9\r\n123456789\r\n");
    assert!(s.finished().unwrap().is_clean());
}

// --------------------------------------------------------- 100-continue

#[test]
fn continue_is_sent_when_the_handler_wants_the_body() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let out = exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    assert_eq!(out, "HTTP/1.1 100 Continue\r\n\r\n");
    let out = exchange(&mut s, b"body");
    assert_eq!(out, format!("{CHUNKED_ECHO_HEAD}4\r\nbody\r\n0\r\n\r\n"));
    assert!(s.finished().is_none());
}

#[test]
fn continue_waits_while_the_handler_pauses_and_is_skipped_on_a_final_answer() {
    let log = Log::default();
    let svc = service_w(&log, |t| t.pause_reading(), echo, close, resume);
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert_eq!(out, "", "paused: no 100 yet");
    log.lock().unwrap().wakers[0].wake();
    let now = s.now();
    s.handle_wakes(now);
    assert_eq!(s.take_output(now), b"HTTP/1.1 100 Continue\r\n\r\n");

    // A handler that refuses at once: no 100, and no reuse (the client may
    // never send the body).
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            respond(t, 417, &[("content-length", "0")]);
            t.close();
        },
        ignore,
        nothing,
    );
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert_eq!(
        out,
        "HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    assert!(s.finished().unwrap().is_clean());
}

// ----------------------------------------------------------------- tunnels

#[test]
fn upgrade_turns_the_connection_into_a_tunnel_with_leftover_bytes() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            assert!(t.get::<RequestHead>().is_some());
            respond(t, 101, &[("connection", "upgrade"), ("upgrade", "shout")]);
            assert_eq!(
                t.send_response(http::Response::new(())),
                Err(strata::http::HttpError::HeadAlreadySent)
            );
        },
        |t, d| t.write(&d.to_ascii_uppercase()),
        |t| {
            t.write(b"bye");
            t.close();
        },
    );
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\nhello",
    );
    assert_eq!(
        out,
        "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: shout\r\n\r\nHELLO"
    );
    let l = log.lock().unwrap();
    assert_eq!(
        l.requests[0].extensions.get::<Protocol>(),
        Some(&Protocol("shout".into()))
    );
    drop(l);
    // Raw bytes both ways, HTTP-looking or not.
    assert_eq!(
        exchange(&mut s, b"GET / HTTP/1.1\r\n\r\n"),
        "GET / HTTP/1.1\r\n\r\n"
    );
    let now = s.now();
    s.handle_eof(now);
    assert_eq!(s.take_output(now), b"bye");
    assert!(s.finished().unwrap().is_clean());
    assert_eq!(
        events(&log),
        [
            "made",
            "data:hello",
            "data:GET / HTTP/1.1\r\n\r\n",
            "eof",
            "lost:closed cleanly"
        ]
    );
}

#[test]
fn switching_protocols_needs_an_upgrade_request() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            let r = t.send_response(http::Response::builder().status(101).body(()).unwrap());
            assert!(r.is_err());
            respond(t, 200, &[("content-length", "0")]);
            t.close();
        },
        ignore,
        nothing,
    );
    let mut s = server(svc);
    let out = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(out, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
}

#[test]
fn connect_with_2xx_is_a_tunnel() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            respond(t, 200, &[("content-length", "5")]);
        },
        echo,
        close,
    );
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"CONNECT db.test:5432 HTTP/1.1\r\nHost: db.test:5432\r\n\r\nraw\x00bytes",
    );
    assert_eq!(
        out, "HTTP/1.1 200 OK\r\n\r\nraw\x00bytes",
        "no length on a tunnel"
    );
    let l = log.lock().unwrap();
    assert_eq!(
        l.requests[0].uri.authority().unwrap().as_str(),
        "db.test:5432"
    );
}

// ------------------------------------------------- HEAD, 204/304, HTTP/1.0

#[test]
fn head_and_204_and_304_carry_no_body() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            let status = match t.request_head().unwrap().uri.path() {
                "/204" => 204,
                "/304" => 304,
                _ => 200,
            };
            respond(t, status, &[("content-length", "5")]);
            t.write(b"hello");
            t.close();
        },
        ignore,
        nothing,
    );
    let mut s = server(svc);
    let out = exchange(
        &mut s,
        b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n\
         HTTP/1.1 204 No Content\r\n\r\n\
         HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n\
         HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
    );
}

#[test]
fn http10_gets_close_delimited_or_kept_alive_responses() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let out = exchange(&mut s, b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(out, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhi");
    assert!(s.finished().unwrap().is_clean(), "the close ends the body");
    assert_eq!(
        log.lock().unwrap().version,
        Some(HttpVersion(http::Version::HTTP_10))
    );

    let svc = service(&log, nothing, ignore, |t| {
        respond(t, 200, &[("content-length", "2")]);
        t.write(b"ok");
        t.close();
    });
    let mut s = server(svc);
    let req = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let want = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok";
    assert_eq!(exchange(&mut s, req), want);
    assert_eq!(exchange(&mut s, req), want);
    assert!(s.finished().is_none());
}

#[test]
fn leading_empty_lines_are_ignored() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let out = exchange(&mut s, b"\r\n\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(out, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
}

// --------------------------------------------------------------- refusals

/// Sends `input` (then EOF when `eof`) and returns the output and the
/// error the request protocol got, if one was running.
fn refused(input: &[u8], cfg: H1Config, eof: bool) -> (String, Option<H1Error>) {
    let log = Log::default();
    // Reads everything, answers nothing: a refusal still has its status.
    let mut s = server_with(service(&log, nothing, ignore, nothing), cfg);
    let mut out = exchange(&mut s, input);
    if eof {
        let now = s.now();
        s.handle_eof(now);
        out += &String::from_utf8(s.take_output(now)).unwrap();
    }
    assert!(s.finished().is_some(), "{input:?} must end the connection");
    let err = log.lock().unwrap().lost.iter().find_map(h1_error);
    (out, err)
}

#[test]
fn bad_heads_are_refused_with_their_status() {
    let cases: &[(&[u8], &str)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", "400 Bad Request"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400 Bad Request"),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", "505 HTTP Version Not Supported"),
        (b"GET / HTTQ/1.1\r\nHost: a\r\n\r\n", "400 Bad Request"),
        (b"GE\x7fT / HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request"),
        (b"GET nope HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", "400 Bad Request"),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "400 Bad Request",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "400 Bad Request",
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", "400 Bad Request"),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            "400 Bad Request",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "501 Not Implemented",
        ),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "400 Bad Request"),
    ];
    for (input, status) in cases {
        let (out, err) = refused(input, H1Config::default(), false);
        assert_eq!(
            out,
            format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(err, None, "no exchange ran");
    }
}

#[test]
fn oversized_heads_get_431() {
    let cfg = H1Config {
        max_head_bytes: 64,
        max_headers: 3,
        ..H1Config::default()
    };
    let want = "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    // Refused as soon as it is known to be too long, before its end.
    let (out, _) = refused(&[b'a'; 65], cfg.clone(), false);
    assert_eq!(out, want);
    let (out, _) = refused(
        b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
        cfg.clone(),
        false,
    );
    assert_eq!(out, want);
    let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "x".repeat(50));
    let (out, _) = refused(long.as_bytes(), cfg, false);
    assert_eq!(out, want);
}

#[test]
fn bad_bodies_reach_the_request_protocol_as_typed_errors() {
    let chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: &[(String, bool, H1Error)] = &[
        (format!("{chunked}zz\r\n"), false, H1Error::InvalidChunkSize),
        (
            format!("{chunked}3\r\nabcX"),
            false,
            H1Error::MalformedChunk,
        ),
        (
            format!("{chunked}3;{}", "e".repeat(5000)),
            false,
            H1Error::ChunkLineTooLong { limit: 4096 },
        ),
        (format!("{chunked}3\r\nab"), true, H1Error::TruncatedBody),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc".into(),
            true,
            H1Error::TruncatedBody,
        ),
    ];
    for (input, eof, want) in cases {
        let (out, err) = refused(input.as_bytes(), H1Config::default(), *eof);
        assert_eq!(err.as_ref(), Some(want), "{input:?}");
        let status = want.status();
        assert!(
            out.starts_with(&format!("HTTP/1.1 {} ", status.as_str())),
            "{input:?}: {out:?}"
        );
    }
}

#[test]
fn a_bad_body_after_the_response_started_closes_without_the_last_chunk() {
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            respond(t, 200, &[]);
            t.write(b"partial");
        },
        ignore,
        nothing,
    );
    let mut s = server(svc);
    let now = s.now();
    s.handle_input(
        now,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nQ\r\n",
    );
    // No reset: the peer gets what was sent, and sees the chunked
    // response end without its last chunk.
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        format!("{CHUNKED_ECHO_HEAD}7\r\npartial\r\n")
    );
    assert!(s.finished().expect("closed").is_clean());
    assert_eq!(
        h1_error(&log.lock().unwrap().lost[0]),
        Some(H1Error::InvalidChunkSize)
    );
    assert_eq!(
        log.lock().unwrap().lost[0].kind(),
        Some(strata::Fault::PeerMisbehaved)
    );
}

#[test]
fn body_limit_gives_413() {
    let cfg = H1Config {
        max_body: Some(4),
        ..H1Config::default()
    };
    let (out, err) = refused(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
        cfg.clone(),
        false,
    );
    assert!(
        out.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{out}"
    );
    assert_eq!(err, None, "refused before the service ran");
    let (out, err) = refused(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n",
        cfg,
        false,
    );
    assert!(
        out.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{out}"
    );
    assert_eq!(err, Some(H1Error::BodyTooLarge { limit: 4 }));
}

#[test]
fn eof_inside_a_head_is_refused_and_between_requests_closes() {
    let (out, err) = refused(b"GET / HTTP/1.1\r\nHo", H1Config::default(), true);
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert_eq!(err, None);
    let log = Log::default();
    let mut s = server(echo_service(&log));
    exchange(&mut s, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let now = s.now();
    s.handle_eof(now);
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn eof_after_a_request_still_gets_the_response() {
    let log = Log::default();
    let svc = service_w(&log, nothing, ignore, nothing, |t| {
        respond(t, 200, &[("content-length", "4")]);
        t.write(b"late");
        t.close();
    });
    let mut s = server(svc);
    let now = s.now();
    s.handle_input(now, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    s.handle_eof(now);
    assert!(s.finished().is_none());
    log.lock().unwrap().wakers[0].wake();
    s.handle_wakes(now);
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate"
    );
    assert!(s.finished().unwrap().is_clean());
}

// ------------------------------------------------------------------ timers

#[test]
fn head_timeout_answers_408_under_virtual_time() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let t0 = s.now();
    s.handle_input(t0, b"GET / HTTP/1.1\r\n");
    let deadline = s.next_deadline().unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(10));
    // More bytes of the same head do not move it (slowloris).
    s.handle_input(t0 + Duration::from_secs(9), b"Host: a\r\n");
    assert_eq!(s.next_deadline(), Some(deadline));
    s.handle_timeout(deadline);
    assert_eq!(
        String::from_utf8(s.take_output(deadline)).unwrap(),
        "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn keep_alive_timeout_closes_an_idle_connection_quietly() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let t0 = s.now();
    // Before the first request: the head timeout, not the keep-alive.
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(10)));
    let t1 = t0 + Duration::from_secs(5);
    s.handle_input(t1, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    s.take_output(t1);
    // Idle again: the timer restarts from the end of the exchange.
    assert_eq!(s.next_deadline(), Some(t1 + Duration::from_secs(60)));
    s.handle_timeout(t1 + Duration::from_secs(60));
    assert_eq!(s.take_output(t1 + Duration::from_secs(60)), b"");
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn no_timer_runs_while_an_exchange_does_and_the_handlers_deadline_is_kept() {
    struct Late(Option<std::time::Instant>);
    impl StreamProtocol for Late {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            self.0 = Some(t.now() + Duration::from_secs(120));
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
        fn next_deadline(&self) -> Option<std::time::Instant> {
            self.0
        }
        fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
            if self.0.is_some_and(|d| d <= t.now()) {
                self.0 = None;
                t.write(b"done");
                t.close();
            }
        }
    }
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Late(None)) as Box<dyn StreamProtocol>);
    let mut s = server(svc);
    let t0 = s.now();
    s.handle_input(t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let d = s.next_deadline().unwrap();
    assert_eq!(d, t0 + Duration::from_secs(120));
    s.handle_timeout(d);
    assert_eq!(
        String::from_utf8(s.take_output(d)).unwrap(),
        format!("{CHUNKED_ECHO_HEAD}4\r\ndone\r\n0\r\n\r\n")
    );
    assert_eq!(s.next_deadline(), Some(d + Duration::from_secs(60)));
}

// ------------------------------------------------------- back-pressure

#[test]
fn a_client_that_pipelines_forever_and_never_reads_stays_bounded() {
    let log = Log::default();
    let svc = service(&log, nothing, ignore, |t| {
        respond(t, 200, &[("content-length", "10000")]);
        t.write(&[b'x'; 10_000]);
        t.close();
    });
    let stack_cfg = StackConfig::default();
    let mut s = Stack::memory_with(
        Box::new(H1Server::new(svc, Arc::new(H1Config::default()))),
        stack_cfg.clone(),
    );
    let now = s.now();
    let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(100);
    let mut fed = 0usize;
    // A driver reads only while the stack wants to.
    for _ in 0..10_000 {
        if !s.wants_read() {
            break;
        }
        s.handle_input(now, &req);
        fed += req.len();
    }
    assert!(!s.wants_read(), "reading stopped");
    assert!(s.finished().is_none(), "not aborted: {:?}", s.finished());
    assert!(
        s.pending_output() <= stack_cfg.high_water + 10_100,
        "output {} bounded by the high mark plus one response",
        s.pending_output()
    );
    assert!(fed <= 2 * 64 * 1024 + req.len(), "input {fed} bounded");
    // Reading the output lets it go on, in order.
    let out = s.take_output(now);
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\nxxx"));
    assert!(s.wants_read() || s.pending_output() > 0);
}

#[test]
fn pausing_the_body_pauses_reading_below() {
    let log = Log::default();
    let svc = service_w(&log, nothing, |t, _| t.pause_reading(), close, resume);
    let mut s = server(svc);
    let now = s.now();
    s.handle_input(now, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n");
    assert!(s.is_read_paused());
    assert_eq!(events(&log), ["made", "data:ab"]);
    log.lock().unwrap().wakers[0].wake();
    s.handle_wakes(now);
    assert_eq!(events(&log), ["wake", "data:cd"]);
    log.lock().unwrap().wakers[0].wake();
    s.handle_wakes(now);
    assert_eq!(events(&log), ["wake", "eof", "lost:closed cleanly"]);
    assert!(!s.is_read_paused());
}

#[test]
fn write_pause_edges_reach_the_handler() {
    struct Flood(Log);
    impl StreamProtocol for Flood {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            while t.writable() {
                t.write(&[b'z'; 4096]);
            }
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
        fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
            push(&self.0, "pause");
        }
        fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
            push(&self.0, "resume");
            t.close();
        }
    }
    let log = Log::default();
    let l2 = log.clone();
    let svc: SharedService = Arc::new(move |_: &http::request::Parts| {
        Box::new(Flood(l2.clone())) as Box<dyn StreamProtocol>
    });
    let mut s = server(svc);
    let now = s.now();
    s.handle_input(now, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(events(&log), ["pause"]);
    let out = s.take_output(now);
    assert_eq!(events(&log), ["resume"]);
    assert!(out.len() >= 64 * 1024);
    assert!(s.take_output(now).ends_with(b"0\r\n\r\n"));
}

// ------------------------------------------------ capabilities, shutdown

#[test]
fn the_view_answers_request_capabilities_and_walks_below() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    exchange(
        &mut s,
        b"GET /x?y=1 HTTP/1.1\r\nHost: h.test\r\nUser-Agent: t\r\n\r\n",
    );
    let l = log.lock().unwrap();
    assert_eq!(l.chain, ["http1", "memory"]);
    assert_eq!(l.peer, Some(PeerAddr(Addr::Memory(2))));
    assert_eq!(l.version, Some(HttpVersion(http::Version::HTTP_11)));
    let r = &l.requests[0];
    assert_eq!(
        (r.method.as_str(), r.uri.path(), r.uri.query()),
        ("GET", "/x", Some("y=1"))
    );
    assert_eq!(r.headers["host"], "h.test");
    assert_eq!(r.headers["user-agent"], "t");
}

#[test]
fn shutdown_finishes_the_current_exchange_then_closes() {
    let log = Log::default();
    let svc = service_w(&log, nothing, ignore, nothing, |t| {
        t.write(b"bye");
        t.close();
    });
    let mut s = server(svc);
    let now = s.now();
    s.handle_input(
        now,
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    s.handle_shutdown(now);
    assert!(s.finished().is_none(), "the exchange runs on");
    log.lock().unwrap().wakers[0].wake();
    s.handle_wakes(now);
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n3\r\nbye\r\n0\r\n\r\n")
    );
    assert!(s.finished().unwrap().is_clean());
    assert_eq!(
        log.lock().unwrap().requests.len(),
        1,
        "no new request after shutdown"
    );
}

#[test]
fn an_idle_connection_closes_at_shutdown_and_abort_closes_everything() {
    let log = Log::default();
    let mut s = server(echo_service(&log));
    let now = s.now();
    s.handle_shutdown(now);
    assert!(s.finished().unwrap().is_clean());

    let svc = service(
        &log,
        |t| t.abort(Close::aborted("app", AbortReason::Requested)),
        ignore,
        nothing,
    );
    let mut s = server(svc);
    s.handle_input(now, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(matches!(
        s.finished(),
        Some(Close::Aborted { layer: "app", .. })
    ));
    assert!(matches!(
        log.lock().unwrap().lost.last(),
        Some(Close::Aborted { layer: "app", .. })
    ));
}

// ------------------------------------------------------------------ client

/// What a client-side protocol saw.
#[derive(Default)]
struct Got {
    status: Option<u16>,
    /// The response head was there before the first data / the EOF.
    head_first: bool,
    body: Vec<u8>,
    eof: bool,
    trailers: Option<http::HeaderMap>,
    lost: Option<Close>,
    chain: Vec<&'static str>,
}

type GotLog = Arc<Mutex<Got>>;

/// A client protocol: writes `body` during `connection_made` (then ends
/// it when `end`), records the response.
struct Fetch {
    got: GotLog,
    body: &'static [u8],
    end: bool,
    on_data: DataHook,
}

impl StreamProtocol for Fetch {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.got.lock().unwrap().chain = t.layer_chain();
        assert!(t.response_head().is_none());
        assert!(t.request_head().unwrap().headers.get("host").is_some());
        if !self.body.is_empty() {
            t.write(self.body);
        }
        if self.end {
            t.close();
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut g = self.got.lock().unwrap();
        if g.body.is_empty() {
            g.status = t.response_head().map(|h| h.status.as_u16());
            g.head_first = g.status.is_some();
        }
        g.body.extend_from_slice(data);
        drop(g);
        (self.on_data)(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut g = self.got.lock().unwrap();
        if g.body.is_empty() {
            g.status = t.response_head().map(|h| h.status.as_u16());
            g.head_first = g.status.is_some();
        }
        g.eof = true;
        g.trailers = t.get::<Trailers>().map(|t| t.0.clone());
    }
    fn connection_lost(&mut self, why: &Close) {
        self.got.lock().unwrap().lost = Some(why.clone());
    }
}

fn fetch(
    req: http::Request<()>,
    body: &'static [u8],
    end: bool,
) -> (strata::http::h1::H1Client, GotLog) {
    fetch_with(req, body, end, ignore)
}

fn fetch_with(
    req: http::Request<()>,
    body: &'static [u8],
    end: bool,
    on_data: DataHook,
) -> (strata::http::h1::H1Client, GotLog) {
    let got = GotLog::default();
    let p = Fetch {
        got: got.clone(),
        body,
        end,
        on_data,
    };
    let c = strata::http::h1::H1Client::new(req, Box::new(p), Arc::new(H1Config::default()));
    (c, got)
}

fn get(uri: &str) -> http::Request<()> {
    http::Request::get(uri).body(()).unwrap()
}

#[test]
fn client_and_server_round_trip_over_the_pump() {
    use strata::testing::{Pump, PumpConfig};
    let log = Log::default();
    let svc = service(&log, nothing, ignore, |t| {
        let body = format!("hello {}", t.request_head().unwrap().uri.path());
        respond(t, 200, &[("content-length", &body.len().to_string())]);
        t.write(body.as_bytes());
        t.close();
    });
    let srv = H1Server::new(svc, Arc::new(H1Config::default()));
    let (cli, got) = fetch(get("http://example.test/there"), b"", false);
    let cfg = PumpConfig::default()
        .chunk(3)
        .latency(Duration::from_millis(5));
    let mut pump = Pump::with_config(Box::new(cli), Box::new(srv), cfg);
    pump.run(Duration::from_secs(5));
    let g = got.lock().unwrap();
    assert_eq!(g.status, Some(200));
    assert!(g.head_first);
    assert_eq!(g.body, b"hello /there");
    assert!(g.eof);
    assert!(g.lost.as_ref().unwrap().is_clean(), "{:?}", g.lost);
    assert_eq!(g.chain, ["http1", "memory"]);
    assert!(pump.a().finished().unwrap().is_clean());
    assert!(
        pump.b().finished().unwrap().is_clean(),
        "the server closes at the client's EOF"
    );
    assert_eq!(
        log.lock().unwrap().requests[0].headers["host"],
        "example.test"
    );
}

#[test]
fn client_streams_a_chunked_body_to_the_echo_server() {
    use strata::testing::Pump;
    let log = Log::default();
    let srv = H1Server::new(echo_service(&log), Arc::new(H1Config::default()));
    let req = http::Request::post("http://e.test/echo").body(()).unwrap();
    let (cli, got) = fetch(req, b"streamed body", true);
    let mut pump = Pump::new(Box::new(cli), Box::new(srv));
    pump.run(Duration::from_secs(5));
    let g = got.lock().unwrap();
    assert_eq!(
        (g.status, g.body.as_slice(), g.eof),
        (Some(200), &b"streamed body"[..], true)
    );
    let r = &log.lock().unwrap().requests[0];
    assert_eq!(r.headers["transfer-encoding"], "chunked");
}

#[test]
fn client_request_heads_and_framing() {
    // A body-carrying method with nothing written and the body ended.
    let req = http::Request::post("http://a.test/p?q=1").body(()).unwrap();
    let (cli, _) = fetch(req, b"", true);
    let mut s = Stack::memory(Box::new(cli));
    let now = s.now();
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        "POST /p?q=1 HTTP/1.1\r\nhost: a.test\r\ncontent-length: 0\r\n\r\n"
    );
    // A declared length frames what is written.
    let req = http::Request::put("/f")
        .header("host", "b.test")
        .header("content-length", "3")
        .body(())
        .unwrap();
    let (cli, _) = fetch(req, b"abcdef", false);
    let mut s = Stack::memory(Box::new(cli));
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        "PUT /f HTTP/1.1\r\nhost: b.test\r\ncontent-length: 3\r\n\r\nabc"
    );
    // A body-carrying method left open streams chunked.
    let req = http::Request::post("http://u:p@c.test:81/")
        .body(())
        .unwrap();
    let (cli, _) = fetch(req, b"", false);
    let mut s = Stack::memory(Box::new(cli));
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        "POST / HTTP/1.1\r\nhost: c.test:81\r\ntransfer-encoding: chunked\r\n\r\n"
    );
}

/// Feeds `response` to a fresh GET client in pieces of `piece` bytes.
fn client_reads(
    req: http::Request<()>,
    response: &[u8],
    piece: usize,
    eof: bool,
) -> (Stack, GotLog) {
    let (cli, got) = fetch(req, b"", false);
    let mut s = Stack::memory(Box::new(cli));
    let now = s.now();
    s.take_output(now);
    for c in response.chunks(piece.max(1)) {
        s.handle_input(now, c);
    }
    if eof {
        s.handle_eof(now);
    }
    (s, got)
}

#[test]
fn client_reads_chunked_responses_with_trailers_at_every_split() {
    let resp: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nx-t: 1\r\n\r\n";
    for piece in 1..resp.len() {
        let (s, got) = client_reads(get("http://a/"), resp, piece, false);
        let g = got.lock().unwrap();
        assert_eq!(g.body, b"hello world", "piece {piece}");
        assert!(g.head_first && g.eof);
        assert_eq!(g.trailers.as_ref().unwrap()["x-t"], "1");
        assert!(s.finished().unwrap().is_clean());
        assert!(g.lost.as_ref().unwrap().is_clean());
    }
}

#[test]
fn client_response_framings() {
    // Until the close.
    let (s, got) = client_reads(
        get("http://a/"),
        b"HTTP/1.0 200 OK\r\n\r\nall of it",
        4,
        true,
    );
    assert_eq!(got.lock().unwrap().body, b"all of it");
    assert!(s.finished().unwrap().is_clean());
    // HEAD: the length describes a body that does not come.
    let head = http::Request::head("http://a/").body(()).unwrap();
    let (s, got) = client_reads(
        head,
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
        100,
        false,
    );
    let g = got.lock().unwrap();
    assert!(g.eof && g.body.is_empty() && g.head_first);
    assert!(s.finished().unwrap().is_clean());
    drop(g);
    // 204 and 304 have none either.
    for st in ["204 No Content", "304 Not Modified"] {
        let r = format!("HTTP/1.1 {st}\r\nContent-Length: 3\r\n\r\n");
        let (s, got) = client_reads(get("http://a/"), r.as_bytes(), 100, false);
        assert!(got.lock().unwrap().eof);
        assert!(s.finished().unwrap().is_clean());
    }
}

#[test]
fn client_refuses_bad_responses_with_typed_errors() {
    let cases: &[(&[u8], bool, H1Error)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
            true,
            H1Error::TruncatedBody,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            true,
            H1Error::TruncatedBody,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnope\r\n",
            false,
            H1Error::InvalidChunkSize,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            false,
            H1Error::ConflictingContentLength,
        ),
        (
            b"HTTP/1.1 2000 OK\r\n\r\n",
            false,
            H1Error::MalformedResponse("invalid status"),
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            false,
            H1Error::MalformedResponse("101 to a request without Upgrade"),
        ),
        (b"HTTP/1.1 200 O", true, H1Error::TruncatedResponse),
        (b"", true, H1Error::TruncatedResponse),
    ];
    for (resp, eof, want) in cases {
        let (s, got) = client_reads(get("http://a/"), resp, 7, *eof);
        let lost = got.lock().unwrap().lost.clone();
        assert_eq!(
            lost.as_ref().and_then(h1_error).as_ref(),
            Some(want),
            "{:?}",
            String::from_utf8_lossy(resp)
        );
        assert_eq!(s.finished().and_then(h1_error).as_ref(), Some(want));
    }
    let long = vec![b'a'; 70 * 1024];
    let (_, got) = client_reads(get("http://a/"), &long, 4096, false);
    let lost = got.lock().unwrap().lost.clone();
    assert_eq!(
        lost.as_ref().and_then(h1_error),
        Some(H1Error::HeadTooLarge { limit: 64 * 1024 })
    );
}

#[test]
fn client_upgrade_and_connect_tunnels_against_the_server() {
    use strata::testing::Pump;
    // The server side upgrades to an upper-casing echo.
    let log = Log::default();
    let svc = service(
        &log,
        |t| {
            respond(t, 101, &[("connection", "upgrade"), ("upgrade", "shout")]);
        },
        |t, d| t.write(&d.to_ascii_uppercase()),
        close,
    );
    let srv = H1Server::new(svc, Arc::new(H1Config::default()));
    let req = http::Request::get("http://a/chat")
        .header("connection", "upgrade")
        .header("upgrade", "shout")
        .body(())
        .unwrap();
    // Written before the 101: held, then sent raw through the tunnel.
    let (cli, got) = fetch_with(req, b"early words", false, |t, _| t.close());
    let mut pump = Pump::new(Box::new(cli), Box::new(srv));
    pump.run(Duration::from_secs(5));
    let g = got.lock().unwrap();
    assert_eq!(g.status, Some(101));
    assert_eq!(g.body, b"EARLY WORDS");
    assert!(g.lost.as_ref().unwrap().is_clean());
    assert_eq!(
        events(&log),
        ["made", "data:early words", "eof", "lost:closed cleanly"]
    );
    drop(g);

    let svc = service(&log, |t| respond(t, 200, &[]), echo, close);
    let srv = H1Server::new(svc, Arc::new(H1Config::default()));
    let req = http::Request::connect("db.test:5432").body(()).unwrap();
    let (cli, got) = fetch_with(req, b"ping", false, |t, _| t.close());
    let mut pump = Pump::new(Box::new(cli), Box::new(srv));
    pump.run(Duration::from_secs(5));
    assert_eq!(got.lock().unwrap().body, b"ping");
    let r = log.lock().unwrap().requests.last().unwrap().clone();
    assert_eq!(
        (r.method, r.uri.to_string()),
        (http::Method::CONNECT, "db.test:5432".to_string())
    );
}

#[test]
fn client_refused_tunnel_drops_held_writes_and_reads_the_body() {
    let req = http::Request::connect("x.test:1").body(()).unwrap();
    let (cli, got) = fetch(req, b"secret", false);
    let mut s = Stack::memory(Box::new(cli));
    let now = s.now();
    assert_eq!(
        String::from_utf8(s.take_output(now)).unwrap(),
        "CONNECT x.test:1 HTTP/1.1\r\nhost: x.test:1\r\n\r\n"
    );
    s.handle_input(
        now,
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
    );
    assert_eq!(s.take_output(now), b"", "held bytes never leave");
    let g = got.lock().unwrap();
    assert_eq!(
        (g.status, g.body.as_slice(), g.eof),
        (Some(403), &b"no"[..], true)
    );
}
