//! HTTP over the reliable mapping, without TLS: the client's and the
//! server's version choice is a `Replace` swap, applied by the swap point
//! the driver puts above the mapping (client) and by each accepted
//! connection's slot (server). The mapping stays below.

mod common;

use std::sync::{Arc, Mutex};

use common::within;
use strata::endpoint::Endpoint;
use strata::http::{
    HttpClient, HttpConfig, HttpExchange, HttpServer, SharedService, VersionChoice,
};
use strata::{StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{registry, ListenConfig, Server, StreamFactory};

/// Answers with the version and the layer chain it sees.
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

/// Keeps the response status and body.
#[derive(Clone, Default)]
struct Got(Arc<Mutex<(Option<u16>, Vec<u8>)>>);

struct Response(Got);
impl StreamProtocol for Response {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write_eof();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        let status = t.response_head().map(|h| h.status.as_u16());
        let mut g = (self.0).0.lock().unwrap();
        g.0 = status;
        g.1.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

async fn get(scheme: &str, choice: VersionChoice) -> (Option<u16>, String) {
    let reg = registry();
    let ep = Endpoint::parse_with(&format!("{scheme}://127.0.0.1:0"), &reg).unwrap();
    let server = Server::new();
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>);
    let f: StreamFactory = Arc::new(move || {
        Box::new(HttpServer::new(svc.clone(), HttpConfig::default())) as Box<dyn StreamProtocol>
    });
    let bound = server
        .listen(&ep, f, ListenConfig::default())
        .await
        .unwrap();
    let to = Endpoint::parse_with(&format!("{scheme}://{}", bound.local), &reg).unwrap();
    let got = Got::default();
    let req = http::Request::get("http://localhost/").body(()).unwrap();
    let client = HttpClient::new(req, Box::new(Response(got.clone())), choice);
    let conn = strata_tokio::connect(&to, Box::new(client), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let why = within("the exchange ends", conn.closed()).await;
    assert!(why.is_clean(), "{scheme} {choice:?}: {why:?}");
    server.shutdown(std::time::Duration::from_secs(1)).await;
    let g = got.0.lock().unwrap();
    (g.0, String::from_utf8_lossy(&g.1).into_owned())
}

#[tokio::test]
async fn http_chooses_its_version_by_a_swap_above_the_reliable_mapping() {
    for scheme in ["reliable+udp"] {
        for (choice, want) in [
            (VersionChoice::Http1, "HTTP/1.1 http1>"),
            (VersionChoice::Http2, "HTTP/2.0 h2-stream>"),
        ] {
            let (status, body) = get(scheme, choice).await;
            assert_eq!(status, Some(200), "{scheme} {choice:?}");
            assert!(body.starts_with(want), "{scheme} {choice:?}: {body}");
            assert!(
                body.contains(">reliable>"),
                "{scheme} {choice:?}: the mapping stays below: {body}"
            );
        }
    }
}
