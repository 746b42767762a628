//! tokio-util's `LengthDelimitedCodec` over a QUIC stream (`quic+udp://`).
//!
//! `cargo run -p strata-examples --example codec_over_quic [FRAME...]`

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let frames: Vec<&str> = if args.is_empty() {
        vec!["one", "two", "three"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let back =
        strata_examples::codec::demo("quic+udp://127.0.0.1:0", "quic.insecure=true", &frames)
            .await?;
    for (sent, got) in frames.iter().zip(&back) {
        println!("{sent} -> {got}");
    }
    Ok(())
}
