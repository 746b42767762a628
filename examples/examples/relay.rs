//! A relay: accepts on one endpoint, relays each connection to another.
//!
//! ```text
//! cargo run -p strata-examples --example relay                     # demo: cleartext TCP in front of a TLS echo
//! cargo run -p strata-examples --example relay -- LISTEN UPSTREAM
//!     # e.g. tcp://127.0.0.1:7009 "tls+tcp://example.com:443"
//! ```

use std::time::Duration;

use strata_examples::{endpoint, relay};
use strata_tokio::{BridgeListener, Server};

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [listen, upstream] = args.as_slice() {
        let server = Server::new();
        let l = BridgeListener::bind(
            &server,
            &endpoint(listen)?,
            Default::default(),
            Default::default(),
        )
        .await?;
        println!(
            "relaying {} -> {upstream}; Ctrl-C stops",
            l.listening().endpoint()
        );
        let relaying = tokio::spawn(relay::run(l, endpoint(upstream)?));
        tokio::signal::ctrl_c().await?;
        server.shutdown(Duration::from_secs(1)).await;
        relaying.abort();
        return Ok(());
    }
    let msg = b"hello through a relay to a TLS echo";
    let back = relay::demo(msg).await?;
    println!("sent {:?}", String::from_utf8_lossy(msg));
    println!("got  {:?}", String::from_utf8_lossy(&back));
    if back != msg {
        return Err("the relayed echo differs".into());
    }
    Ok(())
}
