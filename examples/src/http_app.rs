//! An HTTP app with strata's request-handler API, served on HTTP/1.1 and
//! HTTP/2, in cleartext (h2c) and over TLS (the version chosen by ALPN).
//!
//! A [`Service`](strata::http::Service) makes one *request protocol* per
//! request: an ordinary [`StreamProtocol`] whose transport is the exchange.
//! The request body arrives as `data_received`, the response goes out with
//! `send_response` (the head) and `write` (the body), and `close` ends it.
//! The same handlers serve both versions: [`HttpServer`] reads the version
//! from ALPN over TLS, or from the first bytes in cleartext (the HTTP/2
//! preface means h2c). Routes:
//!
//! * `GET /hello`: a greeting naming the HTTP version.
//! * `POST /echo`: the request body back, streamed under back-pressure.
//! * `GET /status`: a small JSON document (requests served, version).
//! * anything else: `404` (`405` for a known path with another method).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), strata_examples::Error> {
//! use strata::http::VersionChoice;
//! use strata_examples::http_app::{fetch, serve, App};
//! let server = strata_tokio::Server::new();
//! let ep = strata_examples::endpoint("tcp://127.0.0.1:0")?;
//! let l = serve(&server, &ep, App::new()).await?;
//! let to = strata_examples::reach::dial(&l)?;
//! let resp = fetch(&to, "GET", "/hello", b"", VersionChoice::Http2).await?;
//! assert_eq!(resp.status, 200);
//! assert_eq!(resp.body, "hello from strata over HTTP/2.0\n");
//! server.shutdown(std::time::Duration::from_secs(1)).await;
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use strata::endpoint::Endpoint;
use strata::http::{
    request, HttpClient, HttpConfig, HttpExchange, HttpServer, HttpVersion, SharedService,
    StatusCode, Version, VersionChoice,
};
use strata::{AbortReason, Close, StackConfig, StreamFactory, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Listening, Server};
use tokio::sync::oneshot;

use crate::Error;

/// The app's state, shared by every connection and request.
#[derive(Clone, Debug, Default)]
pub struct App {
    requests: Arc<AtomicU64>,
}

impl App {
    /// An app that has served nothing yet.
    pub fn new() -> App {
        App::default()
    }

    /// Requests served so far (every route).
    ///
    /// ```
    /// assert_eq!(strata_examples::http_app::App::new().requests(), 0);
    /// ```
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The router: picks the request protocol from the request head.
    pub fn service(&self) -> SharedService {
        let app = self.clone();
        Arc::new(move |req: &request::Parts| -> Box<dyn StreamProtocol> {
            let n = app.requests.fetch_add(1, Ordering::Relaxed) + 1;
            match (req.method.as_str(), req.uri.path()) {
                ("GET", "/hello") => Box::new(Hello),
                ("POST", "/echo") => Box::new(Echo),
                ("GET", "/status") => Box::new(Status { requests: n }),
                (_, "/hello" | "/echo" | "/status") => {
                    Box::new(Simple(StatusCode::METHOD_NOT_ALLOWED))
                }
                _ => Box::new(Simple(StatusCode::NOT_FOUND)),
            }
        })
    }
}

/// The version of the exchange `t`, as `HTTP/1.1` or `HTTP/2.0`.
fn version(t: &dyn StreamTransport) -> Version {
    t.get::<HttpVersion>().map_or(Version::HTTP_11, |v| v.0)
}

/// Sends a whole response: head (with its length) and body, then ends it.
fn respond(t: &mut dyn StreamTransport, status: StatusCode, content_type: &str, body: &str) {
    let head = http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(());
    let sent = head
        .map_err(|_| ())
        .and_then(|h| t.send_response(h).map_err(|_| ()));
    if sent.is_err() {
        return t.abort(Close::aborted("http-app", AbortReason::Requested));
    }
    t.write(body.as_bytes());
    t.close();
}

/// `GET /hello`.
struct Hello;

impl StreamProtocol for Hello {
    // A GET has no body: answer at its (immediate) end.
    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let body = format!("hello from strata over {:?}\n", version(t));
        respond(t, StatusCode::OK, "text/plain", &body);
    }
}

/// `POST /echo`: answers at once and streams the body back as it comes.
struct Echo;

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let head = http::Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/octet-stream")
            .body(())
            .expect("a static head is valid");
        if t.send_response(head).is_err() {
            t.abort(Close::aborted("http-app", AbortReason::Requested));
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
        // Back-pressure: a client that sends faster than it reads is slowed
        // down (HTTP/2 holds its window, HTTP/1.1 stops reading the socket).
        if !t.writable() {
            t.pause_reading();
        }
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        t.resume_reading();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// `GET /status`.
struct Status {
    requests: u64,
}

impl StreamProtocol for Status {
    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let body = format!(
            "{{\"requests\": {}, \"version\": \"{:?}\"}}\n",
            self.requests,
            version(t)
        );
        respond(t, StatusCode::OK, "application/json", &body);
    }
}

/// A status with a one-line body (`404 Not Found`).
struct Simple(StatusCode);

impl StreamProtocol for Simple {
    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let body = format!("{}\n", self.0);
        respond(t, self.0, "text/plain", &body);
    }
}

/// Serves `app` on `ep`: `tcp://` (HTTP/1.1, and h2c by prior knowledge),
/// or `tls+tcp://…?tls.alpn=h2,http/1.1` (the version chosen by ALPN).
pub async fn serve(server: &Server, ep: &Endpoint, app: App) -> Result<Listening, Error> {
    let service = app.service();
    let factory: StreamFactory = Arc::new(move || {
        Box::new(HttpServer::new(service.clone(), HttpConfig::default())) as Box<dyn StreamProtocol>
    });
    Ok(server.listen(ep, factory, ListenConfig::default()).await?)
}

/// A response as the client got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The status code.
    pub status: StatusCode,
    /// The HTTP version it came over.
    pub version: Version,
    /// The body, as text.
    pub body: String,
}

/// The client's request protocol: sends the body, collects the response.
struct Collect {
    body: Vec<u8>,
    got: Vec<u8>,
    done: Option<oneshot::Sender<Result<Fetched, Close>>>,
}

impl StreamProtocol for Collect {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        // On a client exchange, writes are the request body; EOF ends it.
        t.write(&self.body);
        t.write_eof();
    }
    fn data_received(&mut self, _t: &mut dyn StreamTransport, data: &[u8]) {
        self.got.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let head = t.response_head();
        let fetched = Fetched {
            status: head.map_or(StatusCode::BAD_GATEWAY, |h| h.status),
            version: head.map_or(Version::HTTP_11, |h| h.version),
            body: String::from_utf8_lossy(&self.got).into_owned(),
        };
        if let Some(done) = self.done.take() {
            let _ = done.send(Ok(fetched));
        }
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        if let Some(done) = self.done.take() {
            let _ = done.send(Err(why.clone()));
        }
    }
}

/// Sends one request to `to` with strata's HTTP client (`choice`: the
/// version; over TLS, `Auto` follows ALPN) and returns the response.
pub async fn fetch(
    to: &Endpoint,
    method: &str,
    path: &str,
    body: &[u8],
    choice: VersionChoice,
) -> Result<Fetched, Error> {
    let scheme = if to.layers.iter().any(|l| l == "tls") {
        "https"
    } else {
        "http"
    };
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{scheme}://localhost{path}"))
        .body(())?;
    let (tx, rx) = oneshot::channel();
    let collect = Collect {
        body: body.to_vec(),
        got: Vec::new(),
        done: Some(tx),
    };
    let client = HttpClient::new(req, Box::new(collect), choice);
    let conn =
        strata_tokio::connect(to, Box::new(client), Arc::new(StackConfig::default())).await?;
    let fetched = rx.await.map_err(|_| "the client was dropped")?;
    // One request per connection here: the request protocol's `close`
    // ends the exchange, and the client connection closes after it.
    conn.closed().await;
    Ok(fetched?)
}
