//! Echo on any endpoint string, checked by a strata client.
//!
//! ```text
//! cargo run -p strata-examples --example echo                         # tcp://127.0.0.1:0
//! cargo run -p strata-examples --example echo -- quic+udp://127.0.0.1:0
//! cargo run -p strata-examples --example echo -- tcp://127.0.0.1:7007 --serve   # then: nc 127.0.0.1 7007
//! ```

use std::time::Duration;

use strata_examples::{echo, endpoint, reach};

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_forever = args.iter().any(|a| a == "--serve");
    let listen = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("tcp://127.0.0.1:0", String::as_str);

    let server = strata_tokio::Server::new();
    let l = echo::serve(&server, &endpoint(listen)?).await?;
    println!(
        "echo on {} (layers {:?})",
        l.endpoint(),
        endpoint(listen)?.layers
    );

    let msg = b"hello, echo";
    let back = echo::check(&reach::dial(&l)?, msg).await?;
    println!(
        "sent {:?}, got {:?}",
        String::from_utf8_lossy(msg),
        String::from_utf8_lossy(&back)
    );
    if back != msg {
        return Err("the echo differs".into());
    }

    if serve_forever {
        println!("serving; Ctrl-C stops");
        tokio::signal::ctrl_c().await?;
    }
    server.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
