//! `quic+tcp://`: QUIC over length-prefixed frames on a TCP connection, for
//! networks that block UDP (issue 11, point 1: the datagram-over-stream
//! mapping, as an endpoint). One QUIC connection per TCP connection,
//! carrying one stream: echo with the bytes checked and the stream's layer
//! chain, TLS above the QUIC stream, and a bad option refused when the
//! endpoint is read. (A second stream is refused: a unit test in
//! `src/quic.rs`; the transfer matrix runs its three modes here too.)

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{echo_factory, within};
use strata::endpoint::Endpoint;
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server};

/// What the client read, why it ended, and its layer chain.
type Got = (Vec<u8>, Option<Close>, Vec<&'static str>);

/// Writes `msg`, half-closes, records what comes back and why it ended.
struct Say {
    msg: Vec<u8>,
    got: Arc<Mutex<Got>>,
}

impl StreamProtocol for Say {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.got.lock().unwrap().2 = t.layer_chain();
        t.write(&self.msg);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.got.lock().unwrap().0.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.got.lock().unwrap().1 = Some(why.clone());
    }
}

fn ep(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &strata_tokio::registry()).unwrap()
}

/// Echoes `msg` through `scheme` (a chain ending in `quic+tcp`); returns
/// the client's record and the server side's layer chain.
async fn echo_over(scheme: &str, msg: &[u8]) -> Got {
    let srv = Server::new();
    let (factory, served) = echo_factory();
    let bound = srv
        .listen(
            &ep(&format!("{scheme}://127.0.0.1:0")),
            factory,
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let opts = "quic.insecure=true&tls.insecure=true";
    let to = if scheme.starts_with("tls+") {
        format!(
            "{scheme}://localhost:{}?{opts}",
            bound.socket_addr().unwrap().port()
        )
    } else {
        format!("{scheme}://{}?quic.insecure=true", bound.local)
    };
    let got = Arc::default();
    let say = Say {
        msg: msg.to_vec(),
        got: Arc::clone(&got),
    };
    let conn = strata_tokio::connect(&ep(&to), Box::new(say), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    within("the echo", conn.closed()).await;
    common::eventually("the server's stream ended", || {
        served
            .lock()
            .unwrap()
            .first()
            .is_some_and(|s| s.lock().unwrap().lost.is_some())
    })
    .await;
    let chain = served.lock().unwrap()[0].lock().unwrap().chain.clone();
    srv.shutdown(Duration::from_secs(1)).await;
    let (data, lost, _) = std::mem::take(&mut *got.lock().unwrap());
    (data, lost, chain)
}

#[tokio::test]
async fn a_quic_stream_runs_over_length_prefixed_frames_on_tcp() {
    let msg: Vec<u8> = (0..300_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
    let (data, lost, chain) = echo_over("quic+tcp", &msg).await;
    assert!(data == msg, "echo: {} of {} bytes", data.len(), msg.len());
    assert!(lost.as_ref().is_some_and(Close::is_clean), "{lost:?}");
    assert_eq!(chain[..3], ["quic-stream", "quic", "frames"], "{chain:?}");
    assert_eq!(chain.last(), Some(&"tcp"), "{chain:?}");
}

#[tokio::test]
async fn tls_runs_above_the_quic_stream() {
    let msg = b"through TLS, QUIC, frames and TCP".to_vec();
    let (data, lost, chain) = echo_over("tls+quic+tcp", &msg).await;
    assert_eq!(data, msg);
    assert!(lost.as_ref().is_some_and(Close::is_clean), "{lost:?}");
    assert_eq!(
        chain[..4],
        ["tls", "quic-stream", "quic", "frames"],
        "{chain:?}"
    );
}

#[tokio::test]
async fn a_bad_option_is_refused_before_anything_is_bound() {
    let srv = Server::new();
    let (factory, _) = echo_factory();
    let err = srv
        .listen(
            &ep("quic+tcp://127.0.0.1:0?quic.insecure=true"),
            factory,
            ListenConfig::default(),
        )
        .await
        .expect_err("a client-only option on a listener");
    assert!(err.to_string().contains("quic.insecure"), "{err}");
}
