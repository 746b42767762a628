//! Examples of strata stacks under the tokio ecosystem, through the async
//! bridges of `strata-tokio` (`docs/bridges.md`). Each module is one
//! example's logic; `examples/*.rs` runs it by hand
//! (`cargo run -p strata-examples --example NAME`), and `tests/` runs it
//! with assertions.
//!
//! * [`hyper_bridge`]: hyper serving HTTP/1.1 and HTTP/2 over
//!   `tls+reliable+udp://` and over a QUIC stream.
//! * [`grpc`]: a tonic gRPC service and client over `reliable+udp://`.
//! * [`codec`]: tokio-util's `LengthDelimitedCodec` over a QUIC stream.
//! * [`rustls_bottom`]: a strata protocol over a tokio-rustls stream.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chat;
pub mod codec;
pub mod echo;
pub mod file_transfer;
pub mod grpc;
pub mod http_app;
pub mod hyper_bridge;
pub mod reach;
pub mod relay;
pub mod rustls_bottom;

/// The error type of the examples.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Parses an endpoint string.
///
/// ```
/// let ep = strata_examples::endpoint("quic+udp://127.0.0.1:0").unwrap();
/// assert_eq!(ep.layers, ["quic", "udp"]);
/// ```
pub fn endpoint(s: &str) -> Result<strata::endpoint::Endpoint, Error> {
    Ok(strata::endpoint::Endpoint::parse(s)?)
}

/// The endpoint a client uses to reach what `l` bound, with `opts`
/// (`tls.insecure=true`) added to its query.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = strata_tokio::Server::new();
/// let ep = strata_examples::endpoint("tcp://127.0.0.1:0").unwrap();
/// let l = strata_tokio::BridgeListener::bind(&server, &ep, Default::default(), Default::default())
///     .await.unwrap();
/// let to = strata_examples::client_endpoint(&l, "tcp.nodelay=true").unwrap();
/// assert_eq!(to.option("tcp", "nodelay"), Some("true"));
/// # }
/// ```
pub fn client_endpoint(
    l: &strata_tokio::BridgeListener,
    opts: &str,
) -> Result<strata::endpoint::Endpoint, Error> {
    let bound = l.listening().endpoint();
    if opts.is_empty() {
        return endpoint(&bound);
    }
    let sep = if bound.contains('?') { '&' } else { '?' };
    endpoint(&format!("{bound}{sep}{opts}"))
}
