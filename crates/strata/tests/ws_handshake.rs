//! WebSocket opening handshakes in memory: HTTP/1.1 `Upgrade` (RFC 6455
//! §4), HTTP/2 extended CONNECT (RFC 8441) and HTTP/3 (RFC 9220), server
//! and client, and the refusals (400, 426) with their typed errors.

mod h3_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::http::h3::H3Config;
use strata::http::ws::{
    self, HandshakeVersion, MessageKind, Opcode, Subprotocol, WebSocket, WsConfig, WsError,
};
use strata::http::{HttpClient, HttpConfig, HttpServer, SharedService, VersionChoice};
use strata::testing::Pump;
use strata::{
    Close, Datagram, DatagramProtocol, DatagramTransport, Stack, StreamProtocol, Timeout,
};

#[derive(Default, Debug)]
struct Log {
    messages: Vec<(Option<MessageKind>, Vec<u8>)>,
    subprotocol: Option<String>,
    chain: Vec<&'static str>,
    lost: Option<Close>,
}

type Shared = Arc<Mutex<Log>>;

/// The server side: echoes every message in its kind.
struct Echo(Shared);

impl DatagramProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        let mut l = self.0.lock().unwrap();
        l.subprotocol = t.get::<Subprotocol>().map(|s| s.0.clone());
        l.chain = t.layer_chain();
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let kind = ws::message_kind(t);
        for d in batch {
            self.0
                .lock()
                .unwrap()
                .messages
                .push((kind, d.data.to_vec()));
            match kind {
                Some(MessageKind::Text) => {
                    ws::send_text(t, std::str::from_utf8(d.data).unwrap());
                }
                _ => ws::send_binary(t, d.data),
            }
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// The client side: sends a text and a binary message, closes after both echoes.
struct Talk(Shared);

impl DatagramProtocol for Talk {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        ws::send_text(t, "hello");
        ws::send_binary(t, &[1, 2, 3]);
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let kind = ws::message_kind(t);
        let mut l = self.0.lock().unwrap();
        for d in batch {
            l.messages.push((kind, d.data.to_vec()));
        }
        l.subprotocol = t.get::<Subprotocol>().map(|s| s.0.clone());
        if l.messages.len() == 2 {
            drop(l);
            t.close();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

fn ws_service(log: Shared, cfg: WsConfig) -> SharedService {
    Arc::new(move |_: &http::request::Parts| {
        Box::new(WebSocket::server(Echo(log.clone()), cfg.clone())) as Box<dyn StreamProtocol>
    })
}

fn chat_cfg(offer: &[&str]) -> WsConfig {
    WsConfig {
        subprotocols: offer.iter().map(|s| s.to_string()).collect(),
        rng_seed: Some([3; 32]),
        ..WsConfig::default()
    }
}

/// A client and a server over HTTP (`version`) in memory: both logs.
fn exchange(version: HandshakeVersion, choice: VersionChoice) -> (Log, Log) {
    let (client_log, server_log) = (Shared::default(), Shared::default());
    let uri = "ws://localhost/chat".parse().unwrap();
    let (req, ws) = WebSocket::client(
        &uri,
        version,
        Talk(client_log.clone()),
        chat_cfg(&["v2.chat", "v1.chat"]),
    )
    .unwrap();
    let client = HttpClient::new(req, Box::new(ws), choice);
    let server = HttpServer::new(
        ws_service(server_log.clone(), chat_cfg(&["v1.chat", "v2.chat"])),
        HttpConfig::default(),
    );
    let mut pump = Pump::new(Box::new(client), Box::new(server));
    pump.run(Duration::from_secs(10));
    let c = std::mem::take(&mut *client_log.lock().unwrap());
    let s = std::mem::take(&mut *server_log.lock().unwrap());
    (c, s)
}

fn check_exchange(c: &Log, s: &Log) {
    let want = vec![
        (Some(MessageKind::Text), b"hello".to_vec()),
        (Some(MessageKind::Binary), vec![1, 2, 3]),
    ];
    assert_eq!(s.messages, want);
    assert_eq!(c.messages, want);
    // The server's preference among what the client offered.
    assert_eq!(s.subprotocol.as_deref(), Some("v1.chat"));
    assert_eq!(c.subprotocol.as_deref(), Some("v1.chat"));
    assert!(matches!(c.lost, Some(Close::Done)), "{:?}", c.lost);
    assert!(matches!(s.lost, Some(Close::Done)), "{:?}", s.lost);
}

#[test]
fn over_http1_upgrade_text_stays_text_and_both_close_cleanly() {
    let (c, s) = exchange(HandshakeVersion::Http1, VersionChoice::Http1);
    check_exchange(&c, &s);
    assert_eq!(s.chain.first(), Some(&"websocket"));
    assert!(s.chain.contains(&"http1"), "{:?}", s.chain);
}

#[test]
fn over_http2_extended_connect_rfc8441() {
    let (c, s) = exchange(HandshakeVersion::Http2, VersionChoice::Http2);
    check_exchange(&c, &s);
    assert!(s.chain.iter().any(|l| l.starts_with("h2")), "{:?}", s.chain);
}

/// One raw HTTP/1.1 request to a WebSocket route: the response head.
fn raw_h1(request: &str) -> (String, Shared) {
    let log = Shared::default();
    let server = HttpServer::new(
        ws_service(log.clone(), WsConfig::default()),
        HttpConfig::default(),
    );
    let mut s = Stack::memory(Box::new(server));
    let now = s.now();
    s.handle_input(now, request.as_bytes());
    (
        String::from_utf8_lossy(&s.take_output(now)).into_owned(),
        log,
    )
}

const GOOD: &str =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn the_rfc_example_handshake_is_accepted() {
    let (out, log) = raw_h1(GOOD);
    assert!(
        out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{out}"
    );
    let lower = out.to_ascii_lowercase();
    assert!(
        lower.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{out}"
    );
    assert!(lower.contains("upgrade: websocket"), "{out}");
    assert!(log.lock().unwrap().lost.is_none(), "running");
}

#[test]
fn bad_handshakes_get_400_or_426() {
    let cases = [
        // No Upgrade at all: a plain GET to a WebSocket route.
        ("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426, None),
        (
            &*GOOD.replace("Version: 13", "Version: 8"),
            426,
            Some("sec-websocket-version: 13"),
        ),
        (
            &*GOOD.replace("Sec-WebSocket-Version: 13\r\n", ""),
            426,
            None,
        ),
        (
            &*GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
            400,
            None,
        ),
        (
            &*GOOD.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
            400,
            None,
        ),
        (
            &*GOOD.replace("keep-alive, Upgrade", "keep-alive"),
            400,
            None,
        ),
        (&*GOOD.replace("GET", "POST"), 400, None),
    ];
    for (req, status, header) in cases {
        let (out, log) = raw_h1(req);
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status} ")),
            "{req:?}: {out}"
        );
        if let Some(h) = header {
            assert!(out.to_ascii_lowercase().contains(h), "{out}");
        }
        let l = log.lock().unwrap();
        assert!(
            l.chain.is_empty(),
            "the protocol above never started: {req:?}"
        );
    }
}

/// A server that answers a WebSocket upgrade with a wrong accept key.
struct BadAccept;

impl StreamProtocol for BadAccept {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        use strata::http::HttpExchange;
        let head = http::Response::builder()
            .status(101)
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .header("sec-websocket-accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .body(())
            .unwrap();
        t.send_response(head).unwrap();
        t.write(&[0x81, 2, b'h', b'i']);
    }
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
        t.close();
    }
}

#[test]
fn a_client_refuses_a_wrong_accept_key() {
    let log = Shared::default();
    let uri = "ws://localhost/".parse().unwrap();
    let (req, ws) = WebSocket::client(
        &uri,
        HandshakeVersion::Http1,
        Talk(log.clone()),
        WsConfig::default(),
    )
    .unwrap();
    let client = HttpClient::new(req, Box::new(ws), VersionChoice::Http1);
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(BadAccept) as Box<dyn StreamProtocol>);
    let server = HttpServer::new(svc, HttpConfig::default());
    let mut pump = Pump::new(Box::new(client), Box::new(server));
    pump.run(Duration::from_secs(10));
    let l = log.lock().unwrap();
    assert!(
        l.messages.is_empty(),
        "nothing is delivered from a bad server"
    );
    let err = l.lost.as_ref().and_then(|w| w.error::<WsError>()).cloned();
    assert_eq!(
        err,
        Some(WsError::HandshakeFailed(
            "wrong Sec-WebSocket-Accept".into()
        ))
    );
}

#[test]
fn a_client_refuses_a_refusal_status() {
    let log = Shared::default();
    let uri = "ws://localhost/nope".parse().unwrap();
    let (req, ws) = WebSocket::client(
        &uri,
        HandshakeVersion::Http2,
        Talk(log.clone()),
        WsConfig::default(),
    )
    .unwrap();
    let client = HttpClient::new(req, Box::new(ws), VersionChoice::Http2);
    // A WebSocket service whose server only offers HTTP/1.1-style handshakes
    // is not needed: a 404 from any service is a refusal.
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(NotFound) as Box<dyn StreamProtocol>);
    let server = HttpServer::new(svc, HttpConfig::default());
    let mut pump = Pump::new(Box::new(client), Box::new(server));
    pump.run(Duration::from_secs(10));
    let l = log.lock().unwrap();
    let err = l.lost.as_ref().and_then(|w| w.error::<WsError>()).cloned();
    assert_eq!(
        err,
        Some(WsError::HandshakeFailed("status 404".into())),
        "{:?}",
        l.lost
    );
}

struct NotFound;

impl StreamProtocol for NotFound {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        use strata::http::HttpExchange;
        let head = http::Response::builder()
            .status(404)
            .header("content-length", "2");
        t.send_response(head.body(()).unwrap()).unwrap();
        t.write(b"no");
        t.close();
    }
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
}

/// A server that takes the request and never answers.
struct Silent;

impl StreamProtocol for Silent {
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
}

#[test]
fn a_server_that_never_answers_is_cut_at_the_handshake_timeout() {
    let log = Shared::default();
    let uri = "ws://localhost/".parse().unwrap();
    let cfg = WsConfig {
        handshake_timeout: Duration::from_secs(4),
        ..WsConfig::default()
    };
    let (req, ws) =
        WebSocket::client(&uri, HandshakeVersion::Http1, Talk(log.clone()), cfg).unwrap();
    let mut s = Stack::memory(Box::new(HttpClient::new(
        req,
        Box::new(ws),
        VersionChoice::Http1,
    )));
    let t0 = s.now();
    let sent = String::from_utf8(s.take_output(t0)).unwrap();
    assert!(sent.starts_with("GET / HTTP/1.1\r\n"), "{sent}");
    assert!(
        sent.to_ascii_lowercase().contains("sec-websocket-key: "),
        "{sent}"
    );
    let due = s.next_deadline().unwrap();
    assert_eq!(due - t0, Duration::from_secs(4));
    s.handle_timeout(due);
    assert!(s.finished().is_some());
    let l = log.lock().unwrap();
    assert!(
        matches!(l.lost, Some(Close::Timeout(Timeout::Handshake))),
        "{:?}",
        l.lost
    );
    let _ = Silent;
}

#[test]
fn over_http3_extended_connect_rfc9220() {
    use h3_support::{settings, Harness};
    let log = Shared::default();
    let mut h = Harness::server(
        ws_service(log.clone(), WsConfig::default()),
        H3Config::default(),
    );
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let head = h.headers(
        id,
        &[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":authority", "localhost"),
            (":path", "/chat"),
            ("sec-websocket-version", "13"),
        ],
    );
    h.send(id, &head);
    // A masked text frame "hi".
    h.send(id, &Harness::data(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']));
    let m = h.message(id);
    assert_eq!(m.status(), Some(200));
    let echo = ws::parse_header(&m.body).unwrap().unwrap();
    assert_eq!(
        (echo.0.opcode, &m.body[echo.1..]),
        (Opcode::Text, &b"hi"[..])
    );
    assert_eq!(
        log.lock().unwrap().messages,
        vec![(Some(MessageKind::Text), b"hi".to_vec())]
    );
}

#[test]
fn an_extended_connect_for_another_protocol_is_400() {
    use h3_support::{settings, Harness};
    let log = Shared::default();
    let mut h = Harness::server(
        ws_service(log.clone(), WsConfig::default()),
        H3Config::default(),
    );
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let head = h.headers(
        id,
        &[
            (":method", "CONNECT"),
            (":protocol", "chat"),
            (":scheme", "https"),
            (":authority", "localhost"),
            (":path", "/chat"),
            ("sec-websocket-version", "13"),
        ],
    );
    h.send(id, &head);
    assert_eq!(h.message(id).status(), Some(400));
    assert!(log.lock().unwrap().chain.is_empty());
}

#[test]
fn a_client_over_http3_sends_an_extended_connect_and_talks_after_200() {
    use h3_support::{Harness, MockConn};
    use strata::http::h3::frame::Settings;
    use strata::http::h3::H3Client;
    let _ = MockConn::new;
    let log = Shared::default();
    let uri = "wss://example.test/chat".parse().unwrap();
    let cfg = WsConfig {
        rng_seed: Some([5; 32]),
        ..WsConfig::default()
    };
    let (req, ws) =
        WebSocket::client(&uri, HandshakeVersion::Http3, Talk(log.clone()), cfg).unwrap();
    let mut h = Harness::client(H3Client::request(req, Box::new(ws), H3Config::default()));
    h.peer_setup(&Settings {
        enable_connect_protocol: true,
        ..Settings::default()
    });
    let m = h.message(0);
    assert_eq!(m.field(":method"), Some("CONNECT"));
    assert_eq!(m.field(":protocol"), Some("websocket"));
    assert_eq!(m.field(":scheme"), Some("https"));
    assert_eq!(m.field(":path"), Some("/chat"));
    assert_eq!(m.field("sec-websocket-version"), Some("13"));
    // Its messages wait for the answer (HTTP/3 holds a CONNECT's bytes
    // until a 2xx); the server accepts and echoes both.
    assert!(m.body.is_empty(), "{:?}", m.body);
    let mut w = h.headers(0, &[(":status", "200")]);
    w.extend(Harness::data(&[
        0x81, 5, b'h', b'e', b'l', b'l', b'o', 0x82, 3, 1, 2, 3,
    ]));
    h.send(0, &w);
    let want = vec![
        (Some(MessageKind::Text), b"hello".to_vec()),
        (Some(MessageKind::Binary), vec![1, 2, 3]),
    ];
    assert_eq!(log.lock().unwrap().messages, want);
    // What it sent: both messages, masked, then its close once both came back.
    let m = h.message(0);
    let mut body = &m.body[..];
    let mut sent = Vec::new();
    while let Some((hdr, used)) = ws::parse_header(body).unwrap() {
        let mut p = body[used..used + hdr.len as usize].to_vec();
        ws::apply_mask(&mut p, hdr.mask.expect("a client masks"), 0);
        sent.push((hdr.opcode, p));
        body = &body[used + hdr.len as usize..];
    }
    let close = 1000u16.to_be_bytes().to_vec();
    assert_eq!(
        sent,
        vec![
            (Opcode::Text, b"hello".to_vec()),
            (Opcode::Binary, vec![1, 2, 3]),
            (Opcode::Close, close)
        ]
    );
}

#[test]
fn permessage_deflate_is_negotiated_when_both_sides_want_it() {
    let offer = GOOD.replace(
        "\r\n\r\n",
        "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    );
    let on = WsConfig {
        deflate: true,
        ..WsConfig::default()
    };
    let server = HttpServer::new(
        ws_service(Shared::default(), on.clone()),
        HttpConfig::default(),
    );
    let mut s = Stack::memory(Box::new(server));
    let now = s.now();
    s.handle_input(now, offer.as_bytes());
    let out = String::from_utf8_lossy(&s.take_output(now)).to_ascii_lowercase();
    assert!(
        out.contains("sec-websocket-extensions: permessage-deflate\r\n"),
        "{out}"
    );
    // Off by default: the offer is ignored.
    let (out, _) = raw_h1(&offer);
    assert!(
        !out.to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{out}"
    );
    // Both ends of a real exchange, over HTTP/1.1 and HTTP/2.
    for (version, choice) in [
        (HandshakeVersion::Http1, VersionChoice::Http1),
        (HandshakeVersion::Http2, VersionChoice::Http2),
    ] {
        let (client_log, server_log) = (Shared::default(), Shared::default());
        let uri = "ws://localhost/chat".parse().unwrap();
        let (req, ws) =
            WebSocket::client(&uri, version, Talk(client_log.clone()), on.clone()).unwrap();
        assert_eq!(
            req.headers()["sec-websocket-extensions"],
            "permessage-deflate"
        );
        let client = HttpClient::new(req, Box::new(ws), choice);
        let server = HttpServer::new(
            ws_service(server_log.clone(), on.clone()),
            HttpConfig::default(),
        );
        let mut pump = Pump::new(Box::new(client), Box::new(server));
        pump.run(Duration::from_secs(10));
        let (c, s) = (client_log.lock().unwrap(), server_log.lock().unwrap());
        assert_eq!(c.messages.len(), 2, "{version:?}");
        assert_eq!(c.messages, s.messages, "{version:?}");
        assert!(
            matches!(c.lost, Some(Close::Done)),
            "{version:?}: {:?}",
            c.lost
        );
    }
}
