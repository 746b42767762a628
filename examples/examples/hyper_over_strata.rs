//! hyper serving HTTP/1.1 and HTTP/2 over `tls+reliable+udp://` and over a
//! QUIC stream, with a hyper client on a strata stack each time.
//!
//! `cargo run -p strata-examples --example hyper_over_strata`

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    use strata_examples::hyper_bridge::demo;
    for (listen, opts) in [
        ("tls+reliable+udp://127.0.0.1:0", "tls.insecure=true"),
        ("quic+udp://127.0.0.1:0", "quic.insecure=true"),
    ] {
        for body in demo(listen, opts).await? {
            println!("{listen}: {body}");
        }
    }
    Ok(())
}
