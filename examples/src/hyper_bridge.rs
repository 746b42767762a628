//! hyper serving HTTP/1.1 and HTTP/2 over any strata stack: a
//! [`BridgeListener`] yields async streams, and hyper-util's `auto`
//! builder serves each (it tells HTTP/1.1 from HTTP/2 by the preface). The
//! client side is hyper's connection API over [`connect_bridged`].
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), strata_examples::Error> {
//! let bodies = strata_examples::hyper_bridge::demo("tls+reliable+udp://127.0.0.1:0", "tls.insecure=true").await?;
//! for b in bodies { println!("{b}"); }
//! # Ok(()) }
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use strata_tokio::{connect_bridged, BridgeListener, BridgeStream, Server};

use crate::{client_endpoint, endpoint, Error};

/// The one handler: says what it served, over which HTTP version.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello {} over {:?}", req.uri().path(), req.version());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Serves every connection of `l` with hyper (HTTP/1.1 or HTTP/2), until
/// the listener ends. When the strata server shuts down, each connection
/// is told (`shutdown_signal`) and finishes gracefully (hyper's
/// `graceful_shutdown`: HTTP/2 GOAWAY, HTTP/1.1 closes after the response
/// in flight).
pub async fn serve(mut l: BridgeListener) {
    while let Some(stream) = l.accept().await {
        tokio::spawn(async move {
            let signal = stream.shutdown_signal();
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service_fn(hello));
            let mut conn = std::pin::pin!(conn);
            let res = tokio::select! {
                res = conn.as_mut() => res,
                () = signal => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = res {
                eprintln!("connection ended: {e}");
            }
        });
    }
}

/// GETs `path` over `stream` with hyper's client, in `version` (HTTP/1.1 or
/// HTTP/2); returns the status and the body.
pub async fn get(
    stream: BridgeStream,
    version: Version,
    path: &str,
) -> Result<(http::StatusCode, String), Error> {
    let io = TokioIo::new(stream);
    let resp = if version == Version::HTTP_2 {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(TokioExecutor::new(), io)
                .await?;
        tokio::spawn(conn);
        let req = Request::get(format!("http://localhost{path}")).body(Empty::new())?;
        send.send_request(req).await?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io).await?;
        tokio::spawn(conn);
        let req = Request::get(path)
            .header(http::header::HOST, "localhost")
            .body(Empty::new())?;
        send.send_request(req).await?
    };
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Listens on `listen` with a hyper server, then GETs `/h1` over HTTP/1.1
/// and `/h2` over HTTP/2, each on its own connection (`client_opts` added
/// to the client's endpoint, `tls.insecure=true` for a self-signed
/// server); returns the two bodies.
pub async fn demo(listen: &str, client_opts: &str) -> Result<Vec<String>, Error> {
    let server = Server::new();
    let l = BridgeListener::bind(
        &server,
        &endpoint(listen)?,
        Default::default(),
        Default::default(),
    )
    .await?;
    let to = client_endpoint(&l, client_opts)?;
    let serving = tokio::spawn(serve(l));
    let mut bodies = Vec::new();
    for (version, path) in [(Version::HTTP_11, "/h1"), (Version::HTTP_2, "/h2")] {
        let stream = connect_bridged(&to, Default::default(), Default::default()).await?;
        let (status, body) = get(stream, version, path).await?;
        if !status.is_success() {
            return Err(format!("{path}: {status}").into());
        }
        bodies.push(body);
    }
    server.shutdown(std::time::Duration::from_secs(1)).await;
    serving.abort();
    Ok(bodies)
}
