//! HTTP chooses its version with a `Replace` swap: `HttpServer` and
//! `HttpClient` put the HTTP/1.1 or HTTP/2 connection in their own place at
//! whatever swap point holds them. A request completes with either version
//! at every depth: on the memory bottom, over TLS, TLS in TLS, and inside an
//! HTTP/2 CONNECT stream (HTTP in a tunnel).

mod common;
mod depth;
mod tls_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use depth::{Depth, DEPTHS};
use strata::http::{
    HttpClient, HttpConfig, HttpExchange, HttpServer, SharedService, VersionChoice,
};
use strata::{Stack, StreamProtocol, StreamTransport, SwapError};

/// Answers every request with the version it came in and the layer chain
/// it sees.
struct Hello;
impl StreamProtocol for Hello {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let v = t.request_head().map(|h| format!("{:?}", h.version));
        let chain = t.layer_chain().join(">");
        t.write(format!("{} {chain}", v.unwrap_or_default()).as_bytes());
        t.close();
    }
}

/// The response status, body and end, as the client saw them.
#[derive(Default)]
struct Seen {
    status: Option<u16>,
    body: Vec<u8>,
    ended: bool,
}

#[derive(Clone, Default)]
struct Got(Arc<Mutex<Seen>>);

struct Response(Got);
impl StreamProtocol for Response {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write_eof();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        let status = t.response_head().map(|h| h.status.as_u16());
        let mut g = (self.0).0.lock().unwrap();
        g.status = status;
        g.body.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        (self.0).0.lock().unwrap().ended = true;
        t.close();
    }
}

fn exchange(depth: Depth, choice: VersionChoice) -> (Option<u16>, String, bool) {
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>);
    let server = HttpServer::new(svc, HttpConfig::default());
    let got = Got::default();
    let req = http::Request::get("http://depth.test/").body(()).unwrap();
    let client = HttpClient::new(req, Box::new(Response(got.clone())), choice);
    let mut pump = depth.pair(Box::new(client), Box::new(server));
    pump.run_until(Duration::from_secs(5), |_| got.0.lock().unwrap().ended);
    let g = got.0.lock().unwrap();
    (
        g.status,
        String::from_utf8_lossy(&g.body).into_owned(),
        g.ended,
    )
}

#[test]
fn the_version_is_chosen_by_a_swap_at_every_depth() {
    for depth in DEPTHS {
        for (choice, version, layer) in [
            (VersionChoice::Http1, "HTTP/1.1", "http1"),
            (VersionChoice::Http2, "HTTP/2.0", "h2-stream"),
        ] {
            let (status, body, ended) = exchange(depth, choice);
            assert!(ended, "{depth:?} {choice:?}: the response ended");
            assert_eq!(status, Some(200), "{depth:?} {choice:?}");
            let want = format!("{version} {layer}>{}", depth.chain());
            assert_eq!(body, want, "{depth:?} {choice:?}");
        }
    }
}

#[test]
fn a_holder_that_cannot_swap_ends_the_connection_with_a_typed_reason() {
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>);
    let server = HttpServer::new(svc, HttpConfig::default());
    let mux = common::Mux {
        children: vec![Box::new(server)],
    };
    let mut s = Stack::memory(Box::new(mux));
    let now = s.now();
    s.handle_input(now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let why = s.finished().expect("aborted").clone();
    assert_eq!(why.layer(), Some("http"), "{why:?}");
    assert_eq!(
        why.error::<SwapError>(),
        Some(&SwapError::Unsupported { layer: "mux" })
    );
    assert_eq!(why.kind(), Some(strata::Fault::Config));
    assert!(s.take_output(now).is_empty(), "nothing was answered");
}
