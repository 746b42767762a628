//! A tonic gRPC service and client over `reliable+udp://` (no protoc: the
//! messages derive `prost::Message`).
//!
//! `cargo run -p strata-examples --example tonic_over_reliable [NAME]`

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "strata".into());
    let reply = strata_examples::grpc::demo("reliable+udp://127.0.0.1:0", &name).await?;
    println!("{reply}");
    Ok(())
}
