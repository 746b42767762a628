//! qlog from HTTP/3 (issue 14, point 5): an `H3Client` and an `H3Server`
//! over the real QUIC layer on the simulated network write their frames
//! (`http3:frame_created` / `http3:frame_parsed`, category `h3`) and the
//! types of their unidirectional streams (`http3:stream_type_set`) into
//! the trace of their QUIC connection: one valid trace per side.

mod qlog_support;
mod quic_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use qlog_support::{tracer, validate, Traces};
use quic_support::{addr, client_tls, config, server_tls, CLIENT, SERVER};
use serde_json::Value as Json;
use strata::http::h3::{H3Client, H3Config, H3Server};
use strata::http::{HttpExchange, SharedService};
use strata::quic::{AppFactory, QuicApp, QuicClient, QuicServer};
use strata::testing::{LinkConfig, SimNet};
use strata::{Close, StreamProtocol, StreamTransport};

const BODY: usize = 3000;

/// Answers every request with `BODY` bytes.
struct Reply;

impl StreamProtocol for Reply {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.send_response(http::Response::builder().status(200).body(()).unwrap())
            .unwrap();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.write(&[b'x'; BODY]);
        t.close();
    }
}

#[derive(Default)]
struct Got {
    body: usize,
    lost: Option<Close>,
}

/// Sends a request of `len` body bytes, counts the answer.
struct Upload(usize, Arc<Mutex<Got>>);

impl StreamProtocol for Upload {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(&vec![b'u'; self.0]);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.1.lock().unwrap().body += data.len();
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, why: &Close) {
        self.1.lock().unwrap().lost = Some(why.clone());
    }
}

/// One POST of 1000 bytes answered with `BODY`; the traces of both sides.
fn exchange(seed: u64, traced: bool) -> (Vec<(String, String)>, usize) {
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Reply) as Box<dyn StreamProtocol>);
    let apps: AppFactory = Arc::new(move |alpn| match alpn {
        Some(b"h3") => {
            Some(Box::new(H3Server::new(svc.clone(), H3Config::default())) as Box<dyn QuicApp>)
        }
        _ => None,
    });
    let server = QuicServer::new(config(seed), server_tls(&[b"h3"]), apps).unwrap();
    let client = H3Client::new(H3Config::default());
    let got: Arc<Mutex<Got>> = Arc::default();
    let req = http::Request::post("https://localhost/up")
        .body(())
        .unwrap();
    client
        .requests()
        .send(req, Box::new(Upload(1000, got.clone())));
    let client = QuicClient::new(
        config(seed ^ 0x5eed),
        client_tls(&[b"h3"]),
        "localhost",
        addr(SERVER),
        Box::new(client),
    )
    .unwrap();
    let traces = Traces::default();
    let mut net = SimNet::new(seed);
    net.set_tracing(false);
    if traced {
        net.set_qlog(tracer(traces.clone()));
    }
    let s = net.add_node(addr(SERVER), Box::new(server));
    let c = net.add_node(addr(CLIENT), Box::new(client));
    net.link_both(c, s, LinkConfig::default().delay(Duration::from_millis(5)));
    net.run_until(Duration::from_secs(30), |_| {
        got.lock().unwrap().lost.is_some()
    });
    // Let both ends close (the client's GOAWAY, the server's answer).
    net.run(Duration::from_secs(2));
    let body = got.lock().unwrap().body;
    drop(net);
    let t = traces.lock().unwrap();
    (t.iter().map(|(v, b)| (v.clone(), b.text())).collect(), body)
}

fn h3(events: &[Json], name: &str) -> Vec<Json> {
    events
        .iter()
        .filter(|e| e["name"] == name)
        .inspect(|e| assert_eq!(e["category"], "h3", "{e}"))
        .cloned()
        .collect()
}

/// (stream id, frame type, length) of each frame event named `name`.
fn frames(events: &[Json], name: &str) -> Vec<(u64, String, u64)> {
    h3(events, name)
        .iter()
        .map(|e| {
            let d = &e["data"];
            (
                d["stream_id"].as_u64().unwrap(),
                d["frame"]["frame_type"].as_str().unwrap().to_string(),
                d["length"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("length: {e}")),
            )
        })
        .collect()
}

fn side<'a>(traces: &'a [(String, String)], v: &str) -> &'a str {
    &traces.iter().find(|(s, _)| s == v).unwrap().1
}

#[test]
fn an_h3_exchange_writes_its_frames_and_stream_types_into_the_quic_trace() {
    let (traces, body) = exchange(7, true);
    assert_eq!(body, BODY);
    assert_eq!(traces.len(), 2, "one trace per connection");
    let client = validate(side(&traces, "client"));
    let server = validate(side(&traces, "server"));
    for (me, peer, events, other) in [
        ("client", "server", &client, &server),
        ("server", "client", &server, &client),
    ] {
        assert!(
            events.iter().any(|e| e["category"] == "quic"),
            "{me}: QUIC's events in the same trace"
        );
        // Our three unidirectional streams and the peer's three.
        let types = h3(events, "http3:stream_type_set");
        let mut local: Vec<&str> = types
            .iter()
            .filter(|e| e["data"]["owner"] == "local")
            .map(|e| e["data"]["stream_type"].as_str().unwrap())
            .collect();
        local.sort();
        assert_eq!(local, ["control", "qpack_decode", "qpack_encode"], "{me}");
        let mut remote: Vec<&str> = types
            .iter()
            .filter(|e| e["data"]["owner"] == "remote")
            .map(|e| e["data"]["stream_type"].as_str().unwrap())
            .collect();
        remote.sort();
        assert_eq!(remote, ["control", "qpack_decode", "qpack_encode"], "{me}");
        // SETTINGS first on the control stream, with its values.
        let created = h3(events, "http3:frame_created");
        let settings = created
            .iter()
            .find(|e| e["data"]["frame"]["frame_type"] == "settings")
            .unwrap_or_else(|| panic!("{me}: SETTINGS created"));
        let list = settings["data"]["frame"]["settings"].as_array().unwrap();
        assert!(
            list.iter()
                .any(|s| s["name"] == "settings_max_field_section_size"
                    && s["value"].as_u64() == Some(16 << 10)),
            "{settings}"
        );
        let control = settings["data"]["stream_id"].as_u64().unwrap();
        let control_type = h3(events, "http3:stream_type_set")
            .into_iter()
            .find(|e| e["data"]["owner"] == "local" && e["data"]["stream_type"] == "control")
            .unwrap();
        assert_eq!(control_type["data"]["stream_id"].as_u64(), Some(control));
        // Each frame one side created the other parsed, in order, stream
        // by stream; but the GOAWAY that goes out with the close.
        let mine: Vec<_> = frames(events, "http3:frame_created");
        let theirs: Vec<_> = frames(other, "http3:frame_parsed");
        eprintln!("{me} created {mine:?}\n{peer} parsed {theirs:?}");
        let mut ids: Vec<u64> = mine.iter().map(|f| f.0).collect();
        ids.dedup();
        for id in ids {
            let on = |v: &[(u64, String, u64)]| -> Vec<(String, u64)> {
                v.iter()
                    .filter(|f| f.0 == id)
                    .map(|f| (f.1.clone(), f.2))
                    .collect()
            };
            let (a, b) = (on(&mine), on(&theirs));
            assert!(
                a.starts_with(&b) && a.len() - b.len() <= 1,
                "{me} stream {id}: {a:?} {b:?}"
            );
            if a.len() > b.len() {
                assert_eq!(
                    a.last().unwrap().0,
                    "goaway",
                    "only a GOAWAY may be lost at the close"
                );
            }
        }
    }
    // The client, done, sends GOAWAY (push id 0) and closes.
    let goaway = h3(&client, "http3:frame_created")
        .into_iter()
        .find(|e| e["data"]["frame"]["frame_type"] == "goaway")
        .expect("the client's GOAWAY");
    assert_eq!(goaway["data"]["frame"]["id"].as_u64(), Some(0), "{goaway}");
    assert_eq!(goaway["data"]["length"].as_u64(), Some(1), "{goaway}");
    // Request stream 0: HEADERS then DATA, lengths matching the bodies.
    let on0 = |events: &[Json], name: &str| -> Vec<(String, u64)> {
        frames(events, name)
            .into_iter()
            .filter(|f| f.0 == 0)
            .map(|f| (f.1, f.2))
            .collect()
    };
    let up = on0(&client, "http3:frame_created");
    assert_eq!(up.len(), 2, "{up:?}");
    assert_eq!(up[0].0, "headers");
    assert_eq!(up[1], ("data".to_string(), 1000));
    let down = on0(&client, "http3:frame_parsed");
    assert_eq!(down[0].0, "headers");
    let data: u64 = down.iter().filter(|f| f.0 == "data").map(|f| f.1).sum();
    assert_eq!(data, BODY as u64);
    // HEADERS carry the pseudo-headers, not other fields' values.
    let heads = h3(&client, "http3:frame_created");
    let req = heads
        .iter()
        .find(|e| e["data"]["frame"]["frame_type"] == "headers")
        .unwrap();
    let fields = req["data"]["frame"]["headers"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|h| h["name"] == ":method" && h["value"] == "POST"),
        "{req}"
    );
    assert!(
        fields
            .iter()
            .any(|h| h["name"] == ":path" && h["value"] == "/up"),
        "{req}"
    );
    assert!(
        fields
            .iter()
            .all(|h| h["name"].as_str().unwrap().starts_with(':')),
        "{req}"
    );
    assert!(
        req["data"]["frame"]["field_count"].as_u64() >= Some(4),
        "{req}"
    );
    let resp = h3(&server, "http3:frame_created")
        .into_iter()
        .find(|e| e["data"]["frame"]["frame_type"] == "headers")
        .unwrap();
    let fields = resp["data"]["frame"]["headers"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|h| h["name"] == ":status" && h["value"] == "200"),
        "{resp}"
    );
}

/// HTTP/3's records of a trace, as written.
fn h3_lines(traces: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    traces
        .iter()
        .map(|(v, text)| {
            let lines = text
                .split('\u{1e}')
                .filter(|r| r.contains(r#""category":"h3""#))
                .map(str::to_string)
                .collect();
            (v.clone(), lines)
        })
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_h3_events() {
    // HTTP/3's records only: QUIC's own (packet lengths with quinn-proto's
    // packet events) follow the TLS signature's length, which an ECDSA
    // key varies run to run.
    let (a, b) = (
        h3_lines(&exchange(11, true).0),
        h3_lines(&exchange(11, true).0),
    );
    assert!(a.iter().all(|(_, l)| l.len() > 10), "{a:?}");
    assert_eq!(a, b);
}

#[test]
fn an_untraced_h3_exchange_still_runs() {
    let (traces, body) = exchange(7, false);
    assert!(traces.is_empty());
    assert_eq!(body, BODY);
}
