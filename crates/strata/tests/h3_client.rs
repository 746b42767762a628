//! `H3Client` in memory: its requests, read by a peer scripted as the
//! server, and the responses it hands to the request protocols.

mod h3_support;

use h3_support::*;
use strata::http::h3::frame::Settings;
use strata::http::h3::{H3Client, H3Config};
use strata::http::Protocol;

fn fetch(req: http::Request<()>, body: &[u8]) -> (Harness, Shared) {
    let seen = Shared::default();
    let proto = Box::new(Fetch {
        seen: seen.clone(),
        body: body.to_vec(),
    });
    let mut h = Harness::client(H3Client::request(req, proto, H3Config::default()));
    h.peer_setup(&Settings {
        enable_connect_protocol: true,
        ..Settings::default()
    });
    (h, seen)
}

#[test]
fn a_request_and_its_response() {
    let req = http::Request::post("https://example.com/upload?q=1")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    let (mut h, seen) = fetch(req, b"payload");
    let m = h.message(0);
    assert_eq!(m.field(":method"), Some("POST"));
    assert_eq!(m.field(":scheme"), Some("https"));
    assert_eq!(m.field(":authority"), Some("example.com"));
    assert_eq!(m.field(":path"), Some("/upload?q=1"));
    assert_eq!(m.field("content-type"), Some("text/plain"));
    assert_eq!(m.body, b"payload");
    assert!(h.conn.finished.contains(&0), "write_eof is FIN");
    // An interim response, then the final one, a body and trailers.
    let mut w = h.headers(0, &[(":status", "103"), ("link", "</a>")]);
    w.extend(h.headers(0, &[(":status", "201"), ("server", "scripted")]));
    w.extend(Harness::data(b"created"));
    w.extend(h.headers(0, &[("x-done", "yes")]));
    for b in w.chunks(3) {
        h.send(0, b);
    }
    h.fin(0);
    let s = seen.lock().unwrap();
    assert!(s.eof);
    assert_eq!(s.body, b"created");
    let resp = s.response.as_ref().expect("the response head");
    assert_eq!(resp.status, 201);
    assert_eq!(resp.version, http::Version::HTTP_3);
    assert_eq!(s.trailers.as_ref().unwrap()["x-done"], "yes");
    assert!(clean(&s.lost));
    drop(s);
    // Its only request done, the client winds down: GOAWAY, then the close
    // once its request's FIN is acknowledged.
    h.read_app_uni();
    assert_eq!(h.goaway, Some(0));
    assert_eq!(h.close_code(), None);
    h.acked(0);
    assert_eq!(h.close_code(), Some(0x100));
}

#[test]
fn a_malformed_response_is_a_message_error() {
    let (mut h, seen) = fetch(http::Request::get("https://a/").body(()).unwrap(), b"");
    let w = h.headers(0, &[(":status", "2000")]);
    h.send(0, &w);
    // The request was complete (FIN sent): STOP_SENDING carries the code.
    assert!(h.conn.stops.contains(&(0, 0x10e)), "{:?}", h.conn.stops);
    let lost = seen.lock().unwrap().lost.clone().expect("lost");
    assert_eq!(h3_code(&lost), Some(strata::http::h3::Code::MessageError));
}

#[test]
fn extended_connect_waits_for_settings_and_tunnels() {
    let seen = Shared::default();
    let mut req = http::Request::connect("https://localhost/chat")
        .body(())
        .unwrap();
    req.extensions_mut().insert(Protocol("echo".into()));
    let proto = Box::new(Fetch {
        seen: seen.clone(),
        body: b"ping".to_vec(),
    });
    let mut h = Harness::client(H3Client::request(req, proto, H3Config::default()));
    assert!(
        !h.conn.written.contains_key(&0),
        "no CONNECT before SETTINGS"
    );
    h.peer_setup(&Settings {
        enable_connect_protocol: true,
        ..Settings::default()
    });
    let m = h.message(0);
    assert_eq!(m.field(":method"), Some("CONNECT"));
    assert_eq!(m.field(":protocol"), Some("echo"));
    assert_eq!(m.field(":path"), Some("/chat"));
    assert_eq!(m.body, b"", "the tunnel's bytes wait for its 2xx");
    let mut w = h.headers(0, &[(":status", "200")]);
    w.extend(Harness::data(b"PING"));
    h.send(0, &w);
    assert_eq!(h.message(0).body, b"ping");
    h.fin(0);
    assert_eq!(seen.lock().unwrap().body, b"PING");
}

#[test]
fn extended_connect_without_the_setting_is_refused() {
    let seen = Shared::default();
    let mut req = http::Request::connect("https://localhost/chat")
        .body(())
        .unwrap();
    req.extensions_mut().insert(Protocol("echo".into()));
    let proto = Box::new(Fetch {
        seen: seen.clone(),
        body: Vec::new(),
    });
    let mut h = Harness::client(H3Client::request(req, proto, H3Config::default()));
    h.peer_setup(&Settings::default());
    let lost = seen.lock().unwrap().lost.clone().expect("refused");
    assert_eq!(
        h3_code(&lost),
        Some(strata::http::h3::Code::RequestRejected)
    );
    assert!(!h.conn.written.contains_key(&0));
}

#[test]
fn a_server_goaway_rejects_requests_it_will_not_process() {
    let client = H3Client::new(H3Config::default());
    let requests = client.requests();
    let mut h = Harness::client(client);
    h.peer_setup(&Settings::default());
    let seen: Vec<Shared> = (0..3).map(|_| Shared::default()).collect();
    for s in &seen {
        requests.send(
            http::Request::get("https://a/").body(()).unwrap(),
            Box::new(Fetch {
                seen: s.clone(),
                body: Vec::new(),
            }),
        );
    }
    h.wakes();
    assert!(h.conn.written.contains_key(&8), "three streams opened");
    let (ctl, _, _) = h.peer_uni_ids();
    let mut w = Vec::new();
    strata::http::h3::frame::write_varint_frame(&mut w, strata::http::h3::frame::kind::GOAWAY, 4);
    h.send(ctl, &w);
    for s in &seen[1..] {
        let lost = s.lock().unwrap().lost.clone().expect("rejected");
        assert_eq!(
            h3_code(&lost),
            Some(strata::http::h3::Code::RequestRejected)
        );
    }
    assert!(seen[0].lock().unwrap().lost.is_none(), "stream 0 goes on");
    let r = h.headers(0, &[(":status", "200")]);
    h.send(0, &r);
    h.fin(0);
    assert!(clean(&seen[0].lock().unwrap().lost));
    h.acked(0);
    assert_eq!(h.close_code(), Some(0x100));
}
