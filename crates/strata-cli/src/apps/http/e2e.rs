//! The demo service behind strata's real HTTP server layer, loaded by its
//! HTTP client over the in-memory pump, in both versions: what the routes
//! look like on the wire, flow control included.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use strata::http::{HttpClient, HttpConfig, HttpExchange, HttpServer, VersionChoice};
use strata::testing::{Pump, RunOutcome};
use strata::{Close, StreamProtocol, StreamTransport};

use super::body::ALPHABET;
use super::{service, HELLO};

/// What the client saw.
#[derive(Debug, Default)]
struct Got {
    status: Option<u16>,
    headers: HeaderMap,
    body: Vec<u8>,
    eof: bool,
    lost: Option<String>,
}

/// A client request protocol: sends its body (while the transport is
/// writable), then EOF; records the response.
struct Collector {
    to_send: Bytes,
    got: Arc<Mutex<Got>>,
}

/// Request body bytes per write.
const PIECE: usize = 16 * 1024;

impl Collector {
    fn send(&mut self, t: &mut dyn StreamTransport) {
        while !self.to_send.is_empty() && t.writable() {
            let n = self.to_send.len().min(PIECE);
            t.write_bytes(self.to_send.split_to(n));
        }
        if self.to_send.is_empty() {
            t.write_eof();
            // Sent: stop sending again on later resumes.
            self.to_send = Bytes::new();
        }
    }

    fn record_head(&self, t: &mut dyn StreamTransport) {
        let mut got = self.got.lock().unwrap();
        if got.status.is_none()
            && let Some(head) = t.response_head()
        {
            got.status = Some(head.status.as_u16());
            got.headers = head.headers.clone();
        }
    }
}

impl StreamProtocol for Collector {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.send(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.record_head(t);
        self.got.lock().unwrap().body.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.record_head(t);
        self.got.lock().unwrap().eof = true;
        t.close();
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        if !self.to_send.is_empty() {
            self.send(t);
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        if !why.is_clean() {
            self.got.lock().unwrap().lost = Some(why.to_string());
        }
    }
}

/// One request over a fresh pumped connection to the demo service.
fn fetch(version: VersionChoice, method: &str, uri: &str, body: &[u8]) -> Got {
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://demo.test{uri}"));
    if !body.is_empty() {
        req = req.header(header::CONTENT_LENGTH, body.len());
    }
    let req = req.body(()).unwrap();
    let got = Arc::new(Mutex::new(Got::default()));
    let collector = Collector {
        to_send: Bytes::copy_from_slice(body),
        got: got.clone(),
    };
    let client = HttpClient::new(req, Box::new(collector), version);
    let server = HttpServer::new(service(None), HttpConfig::default());
    let mut pump = Pump::new(Box::new(client), Box::new(server));
    let outcome = pump.run_until(Duration::from_secs(30), |_| {
        let g = got.lock().unwrap();
        g.eof || g.lost.is_some()
    });
    assert_eq!(outcome, RunOutcome::Reached, "{version:?} {method} {uri}");
    // The pump keeps its protocols (and their clones of `got`).

    std::mem::take(&mut *got.lock().unwrap())
}

const VERSIONS: [VersionChoice; 2] = [VersionChoice::Http1, VersionChoice::Http2];

#[test]
fn hello_over_both_versions() {
    for v in VERSIONS {
        let got = fetch(v, "GET", "/hello", b"");
        assert_eq!(got.status, Some(200), "{v:?}");
        assert_eq!(got.body, HELLO, "{v:?}");
        assert_eq!(got.lost, None, "{v:?}");
    }
}

#[test]
fn a_large_download_arrives_whole() {
    let n = 1_000_000;
    for v in VERSIONS {
        let got = fetch(v, "GET", &format!("/bytes/{n}"), b"");
        assert_eq!(got.status, Some(200), "{v:?}");
        assert_eq!(
            got.headers.get(header::CONTENT_LENGTH).unwrap(),
            &n.to_string()
        );
        assert_eq!(got.body.len(), n, "{v:?}");
        assert!(got
            .body
            .iter()
            .enumerate()
            .all(|(i, b)| *b == ALPHABET[i % ALPHABET.len()]));
    }
}

#[test]
fn a_large_echo_comes_back_whole() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    for v in VERSIONS {
        let got = fetch(v, "POST", "/echo", &body);
        assert_eq!(got.status, Some(200), "{v:?}");
        assert_eq!(got.lost, None, "{v:?}");
        assert_eq!(got.body.len(), body.len(), "{v:?}");
        assert!(got.body == body, "{v:?}: echo differs");
    }
}

#[test]
fn a_large_upload_to_the_sink_is_read_to_its_end() {
    // 1 MiB: more than HTTP/2's initial stream and connection windows, so
    // the upload ends only if the sink's reads give the client credit back.
    let body = vec![7u8; 1 << 20];
    for v in VERSIONS {
        let got = fetch(v, "POST", "/sink", &body);
        assert_eq!(got.status, Some(200), "{v:?}");
        assert_eq!(got.lost, None, "{v:?}");
        assert!(got.body.is_empty(), "{v:?}");
        assert_eq!(got.headers.get(header::CONTENT_LENGTH).unwrap(), "0");
    }
}

#[test]
fn status_head_and_errors_over_both_versions() {
    for v in VERSIONS {
        let got = fetch(v, "GET", "/status/404", b"");
        assert_eq!(got.status, Some(404), "{v:?}");
        assert!(got.body.is_empty());
        let got = fetch(v, "HEAD", "/bytes/100", b"");
        assert_eq!(got.status, Some(200), "{v:?}");
        assert_eq!(got.headers.get(header::CONTENT_LENGTH).unwrap(), "100");
        assert!(got.body.is_empty(), "{v:?}");
        let got = fetch(v, "DELETE", "/hello", b"");
        assert_eq!(got.status, Some(405), "{v:?}");
        assert_eq!(got.headers.get(header::ALLOW).unwrap(), "GET, HEAD");
        // An early answer to a request whose body is still coming.
        let got = fetch(v, "POST", "/nope", &[7u8; 200_000]);
        assert_eq!(got.status, Some(404), "{v:?}");
        assert_eq!(got.body, b"404 Not Found\n", "{v:?}");
        assert!(got.eof, "{v:?}");
    }
}

/// A client that sends its request and never reads the response.
struct Stalled;

impl StreamProtocol for Stalled {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write_eof();
        t.pause_reading();
    }
    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}
    fn eof_received(&mut self, _t: &mut dyn StreamTransport) {}
}

#[test]
fn a_client_that_never_reads_holds_the_server_to_its_high_water_mark() {
    let high_water = strata::StackConfig::default().high_water;
    for v in VERSIONS {
        let req = http::Request::get("http://demo.test/bytes/1099511627776")
            .body(())
            .unwrap();
        let client = HttpClient::new(req, Box::new(Stalled), v);
        let server = HttpServer::new(service(None), HttpConfig::default());
        let mut pump = Pump::new(Box::new(client), Box::new(server));
        pump.run(Duration::from_secs(5));
        let server = pump.b();
        assert!(server.finished().is_none(), "{v:?}: still serving");
        // One chunk past the mark at most (plus framing), nowhere near 1 TiB.
        let queued = server.pending_output();
        assert!(
            queued <= high_water + super::CHUNK + 1024,
            "{v:?}: {queued} bytes queued"
        );
        assert!(
            pump.bytes_moved(strata::testing::Dir::BtoA) < 4 << 20,
            "{v:?}: the client's buffers are bounded too"
        );
    }
}
