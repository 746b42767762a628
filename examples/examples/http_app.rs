//! An HTTP app (`strata::http::Service`) on HTTP/1.1 and HTTP/2, in
//! cleartext and over TLS.
//!
//! ```text
//! cargo run -p strata-examples --example http_app                  # serves, fetches each route, exits
//! cargo run -p strata-examples --example http_app -- --serve       # then: curl http://127.0.0.1:8080/hello
//!                                                                  #   curl --http2-prior-knowledge …/status
//!                                                                  #   curl -k https://127.0.0.1:8443/hello
//! ```

use std::time::Duration;

use strata::http::VersionChoice;
use strata_examples::http_app::{fetch, serve, App};
use strata_examples::{endpoint, reach};

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    let serve_forever = std::env::args().any(|a| a == "--serve");
    let (plain, tls) = if serve_forever {
        (
            "tcp://127.0.0.1:8080",
            "tls+tcp://127.0.0.1:8443?tls.alpn=h2,http/1.1",
        )
    } else {
        (
            "tcp://127.0.0.1:0",
            "tls+tcp://127.0.0.1:0?tls.alpn=h2,http/1.1",
        )
    };
    let server = strata_tokio::Server::new();
    let app = App::new();
    let plain = serve(&server, &endpoint(plain)?, app.clone()).await?;
    let tls = serve(&server, &endpoint(tls)?, app.clone()).await?;
    println!("serving on {} and {}", plain.endpoint(), tls.endpoint());

    if serve_forever {
        println!("Ctrl-C stops");
        tokio::signal::ctrl_c().await?;
    } else {
        let plain = reach::dial(&plain)?;
        // The TLS client offers ALPN `h2,http/1.1`; `Auto` follows the choice.
        let tls = reach::dial(&tls)?;
        let tls = endpoint(&format!("{tls}&tls.alpn={}", VersionChoice::Auto.alpn()))?;
        for (to, choice) in [
            (&plain, VersionChoice::Http1),
            (&plain, VersionChoice::Http2), // h2c with prior knowledge
            (&tls, VersionChoice::Auto),    // ALPN picks h2
        ] {
            for (method, path, body) in [
                ("GET", "/hello", &b""[..]),
                ("POST", "/echo", b"echo me"),
                ("GET", "/status", b""),
                ("GET", "/missing", b""),
            ] {
                let r = fetch(to, method, path, body, choice).await?;
                println!(
                    "{:?} {method} {path} -> {} {:?}",
                    r.version,
                    r.status,
                    r.body.trim_end()
                );
            }
        }
    }
    server.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
