//! A strata protocol over a tokio-rustls stream (async into a stack).
//!
//! `cargo run -p strata-examples --example strata_over_rustls [MESSAGE]`

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    let msg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "hello over tokio-rustls".into());
    let (answer, chain) = strata_examples::rustls_bottom::demo(msg.as_bytes()).await?;
    println!(
        "{} (server's layer chain: {chain:?})",
        String::from_utf8_lossy(&answer)
    );
    Ok(())
}
