//! A tonic gRPC service and client over `reliable+udp://`, with no code
//! generator: the messages derive [`prost::Message`], the service is a
//! [`UnaryService`] served by [`tonic::server::Grpc`] inside a hyper HTTP/2
//! server, and the client is [`tonic::client::Grpc`] over hyper's HTTP/2
//! client connection; both run on bridged strata streams.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), strata_examples::Error> {
//! let reply = strata_examples::grpc::demo("reliable+udp://127.0.0.1:0", "strata").await?;
//! assert_eq!(reply, "hello, strata");
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use strata_tokio::{connect_bridged, BridgeListener, BridgeStream, Server};
use tonic::body::BoxBody;
use tonic::codec::ProstCodec;
use tonic::server::UnaryService;
use tonic::{Request, Response, Status};

use crate::{client_endpoint, endpoint, Error};

/// The method's path: `/package.Service/Method`.
pub const SAY_HELLO: &str = "/strata.demo.Greeter/SayHello";

/// The request message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// The reply message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub message: String,
}

/// The service: greets, and refuses an empty name with `INVALID_ARGUMENT`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Greeter;

impl UnaryService<HelloRequest> for Greeter {
    type Response = HelloReply;
    type Future = std::future::Ready<Result<Response<HelloReply>, Status>>;

    fn call(&mut self, req: Request<HelloRequest>) -> Self::Future {
        let name = req.into_inner().name;
        std::future::ready(if name.is_empty() {
            Err(Status::invalid_argument("name is empty"))
        } else {
            Ok(Response::new(HelloReply {
                message: format!("hello, {name}"),
            }))
        })
    }
}

/// Routes one HTTP/2 request: [`SAY_HELLO`] to [`Greeter`], anything else
/// is `UNIMPLEMENTED`.
async fn route(req: http::Request<Incoming>) -> Result<http::Response<BoxBody>, Infallible> {
    if req.uri().path() == SAY_HELLO {
        let mut grpc = tonic::server::Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
        return Ok(grpc.unary(Greeter, req).await);
    }
    Ok(Status::unimplemented(req.uri().path().to_string()).into_http())
}

/// Serves every connection of `l` as a gRPC server (HTTP/2), until the
/// listener ends.
pub async fn serve(mut l: BridgeListener) {
    while let Some(stream) = l.accept().await {
        tokio::spawn(async move {
            let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service_fn(route))
                .await
            {
                eprintln!("grpc connection ended: {e}");
            }
        });
    }
}

/// hyper's HTTP/2 client connection as the tower service tonic's client
/// calls.
#[derive(Clone, Debug)]
pub struct H2Channel(hyper::client::conn::http2::SendRequest<BoxBody>);

impl tower_service::Service<http::Request<BoxBody>> for H2Channel {
    type Response = http::Response<Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<BoxBody>) -> Self::Future {
        Box::pin(self.0.send_request(req))
    }
}

/// A gRPC client over `stream`: HTTP/2 handshake, then tonic's client.
pub async fn client(stream: BridgeStream) -> Result<tonic::client::Grpc<H2Channel>, Error> {
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let origin: http::Uri = "http://localhost".parse()?;
    Ok(tonic::client::Grpc::with_origin(H2Channel(send), origin))
}

/// Calls [`SAY_HELLO`] with `name`.
pub async fn say_hello(
    client: &mut tonic::client::Grpc<H2Channel>,
    name: &str,
) -> Result<String, Status> {
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let req = Request::new(HelloRequest {
        name: name.to_string(),
    });
    let codec = ProstCodec::<HelloRequest, HelloReply>::default();
    let path = PathAndQuery::from_static(SAY_HELLO);
    Ok(client.unary(req, path, codec).await?.into_inner().message)
}

/// Listens on `listen` with the gRPC server, connects a client and calls
/// [`SAY_HELLO`] with `name`; returns the reply (or the status, as an error).
pub async fn demo(listen: &str, name: &str) -> Result<String, Error> {
    let server = Server::new();
    let l = BridgeListener::bind(
        &server,
        &endpoint(listen)?,
        Default::default(),
        Default::default(),
    )
    .await?;
    let to = client_endpoint(&l, "")?;
    let serving = tokio::spawn(serve(l));
    let stream = connect_bridged(&to, Default::default(), Default::default()).await?;
    let mut c = client(stream).await?;
    let reply = say_hello(&mut c, name).await;
    drop(c);
    server.shutdown(std::time::Duration::from_secs(1)).await;
    serving.abort();
    Ok(reply?)
}
