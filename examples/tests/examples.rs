//! Each example of issue 13, point 1, run with assertions (loopback only).

use std::future::Future;
use std::time::Duration;

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(20), f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

#[tokio::test]
async fn hyper_serves_http1_and_http2_over_tls_reliable_udp() {
    let bodies = within(
        "hyper over tls+reliable+udp",
        strata_examples::hyper_bridge::demo("tls+reliable+udp://127.0.0.1:0", "tls.insecure=true"),
    )
    .await
    .unwrap();
    assert_eq!(
        bodies,
        ["hello /h1 over HTTP/1.1", "hello /h2 over HTTP/2.0"]
    );
}

#[tokio::test]
async fn hyper_serves_http1_and_http2_over_a_quic_stream() {
    let bodies = within(
        "hyper over quic",
        strata_examples::hyper_bridge::demo("quic+udp://127.0.0.1:0", "quic.insecure=true"),
    )
    .await
    .unwrap();
    assert_eq!(
        bodies,
        ["hello /h1 over HTTP/1.1", "hello /h2 over HTTP/2.0"]
    );
}

#[tokio::test]
async fn tonic_calls_a_service_over_reliable_udp() {
    let reply = within(
        "grpc",
        strata_examples::grpc::demo("reliable+udp://127.0.0.1:0", "strata"),
    )
    .await
    .unwrap();
    assert_eq!(reply, "hello, strata");
}

#[tokio::test]
async fn tonic_carries_a_status_over_reliable_udp() {
    let err = within(
        "grpc",
        strata_examples::grpc::demo("reliable+udp://127.0.0.1:0", ""),
    )
    .await
    .unwrap_err();
    let status = err.downcast::<tonic::Status>().unwrap();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "name is empty");
}

#[tokio::test]
async fn length_delimited_frames_over_a_quic_stream() {
    let big = "x".repeat(200_000);
    let frames = ["one", "", big.as_str(), "two"];
    let back = within(
        "codec over quic",
        strata_examples::codec::demo("quic+udp://127.0.0.1:0", "quic.insecure=true", &frames),
    )
    .await
    .unwrap();
    let want: Vec<String> = frames.iter().map(|f| f.to_ascii_uppercase()).collect();
    assert_eq!(back, want);
}

#[tokio::test]
async fn a_strata_protocol_over_a_tokio_rustls_stream() {
    let (answer, chain) = within(
        "strata over tokio-rustls",
        strata_examples::rustls_bottom::demo(b"hello over rustls"),
    )
    .await
    .unwrap();
    assert_eq!(answer, b"HELLO OVER RUSTLS");
    assert_eq!(chain, ["tokio-rustls"]);
}
