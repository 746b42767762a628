//! Version detection over a real TLS layer, in memory: a client that
//! completes its handshake (ALPN `h2`, `http/1.1`, or none) and then sends
//! nothing is cut at the detect deadline, `detect_timeout` after the end of
//! its handshake.

mod tls_support;

use std::sync::Arc;
use std::time::Duration;

use strata::http::{HttpConfig, HttpServer, SharedService};
use strata::testing::Pump;
use strata::tls::Tls;
use strata::{Close, StreamProtocol, StreamTransport, Timeout};
use tls_support::*;

const NAME: &str = "example.test";

struct Never;
impl StreamProtocol for Never {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

/// Runs the pair until the server gives up; returns when, and why. A
/// handshake that never finished would end in `Timeout::Handshake` at 10 s
/// instead: `Timeout::Detect` says the TLS phase was over.
fn silent_after_handshake(client_alpn: &[&[u8]]) -> (Duration, Close) {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let svc: SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Never) as Box<dyn StreamProtocol>);
    let http = HttpServer::new(svc, HttpConfig::default());
    let s = Tls::new(
        http,
        &server(server_config(&leaf, &[b"h2", b"http/1.1"], ALL)),
    )
    .unwrap();
    let crec = Rec::default();
    let c = Tls::new(
        Probe::new(&crec),
        &client(client_config(ca.roots(), client_alpn, ALL), NAME),
    )
    .unwrap();
    let mut pump = Pump::new(Box::new(s), Box::new(c));
    pump.run(Duration::from_secs(60));
    let why = pump.a().finished().expect("the server gave up").clone();
    (pump.elapsed(), why)
}

#[test]
fn a_quiet_peer_after_its_handshake_is_cut_with_either_alpn() {
    for alpn in [&[&b"h2"[..]][..], &[b"http/1.1"], &[]] {
        let (elapsed, why) = silent_after_handshake(alpn);
        assert!(
            matches!(why, Close::Timeout(Timeout::Detect)),
            "{alpn:?}: {why}"
        );
        assert!(
            elapsed >= Duration::from_secs(10) && elapsed <= Duration::from_secs(11),
            "{alpn:?}: cut after {elapsed:?}"
        );
    }
}
