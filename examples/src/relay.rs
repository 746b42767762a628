//! A relay written with the library: it accepts on one endpoint and relays
//! every connection, both ways, to a new connection to another endpoint.
//! Typical use: cleartext `tcp://` in front of a `tls+tcp://` server (a TLS
//! client for an app that cannot speak TLS), or `tcp://` in front of
//! `reliable+udp://` (TCP clients reach a server over the reliable mapping).
//!
//! Both sides are async streams: [`BridgeListener`] yields the accepted
//! connections and [`connect_bridged`] opens the upstream ones, each over
//! whatever stack its endpoint names. Then tokio's `copy_bidirectional`
//! moves the bytes. Back-pressure holds end to end: a full write side
//! returns `Pending`, so the copy stops reading the other side, whose
//! stack stops reading its socket. An EOF on one side becomes a half-close
//! on the other.
//!
//! (`strata relay` in `crates/strata-cli` is the same idea written as a
//! pair of sans-IO protocols, with PROXY-protocol headers and statistics.)
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), strata_examples::Error> {
//! let answer = strata_examples::relay::demo(b"through the relay").await?;
//! assert_eq!(answer, b"through the relay");
//! # Ok(()) }
//! ```

use std::time::Duration;

use strata::endpoint::Endpoint;
use strata_tokio::{connect_bridged, BridgeListener, BridgeStream, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{echo, endpoint, reach, Error};

/// Relays every connection of `l` to a new connection to `upstream`, until
/// the listener ends (its server shut down).
pub async fn run(mut l: BridgeListener, upstream: Endpoint) {
    while let Some(down) = l.accept().await {
        let upstream = upstream.clone();
        tokio::spawn(async move {
            if let Err(e) = relay_one(down, &upstream).await {
                eprintln!("relay to {upstream}: {e}");
            }
        });
    }
}

/// Relays one accepted connection to `upstream`; returns the bytes moved
/// each way (client to upstream, upstream to client).
pub async fn relay_one(mut down: BridgeStream, upstream: &Endpoint) -> Result<(u64, u64), Error> {
    let mut up = connect_bridged(upstream, Default::default(), Default::default()).await?;
    Ok(tokio::io::copy_bidirectional(&mut down, &mut up).await?)
}

/// A TLS echo server, a relay from cleartext TCP to it, and a plain tokio
/// TCP client that sends `msg` through the relay, half-closes and reads the
/// answer to its end; returns the answer.
pub async fn demo(msg: &[u8]) -> Result<Vec<u8>, Error> {
    let server = Server::new();
    // The upstream: echo over TLS (a self-signed certificate).
    let tls_echo = echo::serve(&server, &endpoint("tls+tcp://127.0.0.1:0")?).await?;
    let upstream = reach::dial(&tls_echo)?;
    // The relay's front: cleartext TCP.
    let front = endpoint("tcp://127.0.0.1:0")?;
    let l = BridgeListener::bind(&server, &front, Default::default(), Default::default()).await?;
    let addr = l
        .listening()
        .socket_addr()
        .ok_or("a TCP listener has an address")?;
    let relaying = tokio::spawn(run(l, upstream));

    let answer = async {
        let mut c = TcpStream::connect(addr).await?;
        c.write_all(msg).await?;
        c.shutdown().await?; // EOF: the echo server closes after it
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).await?;
        Ok::<_, Error>(answer)
    }
    .await;
    server.shutdown(Duration::from_secs(1)).await;
    relaying.abort();
    answer
}
