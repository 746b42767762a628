//! How a client reaches what a server bound: the bound endpoint, plus what
//! the client needs to trust the demo's self-signed certificate.

use strata::endpoint::Endpoint;
use strata_tokio::Listening;

use crate::{endpoint, Error};

/// The endpoint a client connects to for what `l` bound: its endpoint
/// string (the bound port, not `:0`), with `tls.insecure=true` added when the
/// chain has `tls` and `quic.insecure=true` when it has `quic`. A listener
/// without `tls.cert` serves a fresh self-signed certificate, which a client
/// cannot verify: fine for a demo on loopback, never for a real server (give
/// the client `tls.ca=` instead).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = strata_tokio::Server::new();
/// let ep = strata_examples::endpoint("tls+tcp://127.0.0.1:0").unwrap();
/// let l = strata_examples::echo::serve(&server, &ep).await.unwrap();
/// let to = strata_examples::reach::dial(&l).unwrap();
/// assert_eq!(to.option("tls", "insecure"), Some("true"));
/// assert_ne!(to.to_string(), ep.to_string()); // the port is the bound one
/// server.shutdown(std::time::Duration::ZERO).await;
/// # }
/// ```
pub fn dial(l: &Listening) -> Result<Endpoint, Error> {
    let bound = l.endpoint();
    let ep = endpoint(&bound)?;
    let mut opts = Vec::new();
    for (layer, opt) in [("tls", "tls.insecure=true"), ("quic", "quic.insecure=true")] {
        if ep.layers.iter().any(|l| l == layer) {
            opts.push(opt);
        }
    }
    if opts.is_empty() {
        return Ok(ep);
    }
    let sep = if bound.contains('?') { '&' } else { '?' };
    endpoint(&format!("{bound}{sep}{}", opts.join("&")))
}
