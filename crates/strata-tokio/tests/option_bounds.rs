//! Every `tcp.*` and `tls.*` option value the parser accepts runs a
//! connection without a panic; every value it refuses is refused with
//! `BadOptionValue` (pointing at the value). A seeded loop over edge values
//! (0, 1, each bound and its neighbours, the integer limits, empty, huge,
//! malformed) on both ends of a real loopback connection.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{echo_factory, within};
use strata::endpoint::{Endpoint, EndpointErrorKind, SchemeRegistry};
use strata::{AbortReason, Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server};
use tokio::sync::oneshot;

/// Sends `hello`, half-closes, and reports what came back and why it ended.
struct Client {
    got: Vec<u8>,
    done: Option<oneshot::Sender<(Vec<u8>, Close)>>,
}

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"hello");
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.got.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send((std::mem::take(&mut self.got), why.clone()));
        }
    }
}

fn panicked(why: &Close) -> bool {
    matches!(
        why,
        Close::Aborted {
            reason: AbortReason::Panicked,
            ..
        }
    )
}

/// The values tried for every option: bounds and their neighbours, integer
/// limits, empty, malformed, huge; plus a few seeded random numbers.
fn edge_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "0",
        "1",
        "2",
        "4095",
        "4096",
        "4097",
        "50000",
        "65535",
        "65536",
        "67108863",
        "67108864",
        "67108865",
        "2147483647",
        "2147483648",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "+1",
        "1e9",
        "0x10",
        " 1",
        "true",
        "false",
        "True",
        "yes",
        "h2",
        "h2,http/1.1",
        ",",
        "a,,b",
        "localhost",
        "127.0.0.1",
        "::1",
        "-bad-",
        "/nonexistent/strata-test",
    ]
    .map(String::from)
    .to_vec();
    v.push("x".repeat(255));
    v.push("x".repeat(256));
    v.push("a".repeat(253));
    v.push("a".repeat(254));
    v.push(vec!["p"; 32].join(","));
    v.push(vec!["p"; 33].join(","));
    v.push("y".repeat(20_000));
    // Seeded xorshift: the same numbers on every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push((x >> (x % 64)).to_string());
    }
    v
}

/// Percent-encodes what the query grammar reserves.
fn enc(v: &str) -> String {
    v.replace('%', "%25")
        .replace('&', "%26")
        .replace('#', "%23")
        .replace(' ', "%20")
        .replace('+', "%2B")
}

/// Parses `s` (`PORT` read as 1); a refusal must be a bounded-value error.
fn parse(s: &str, reg: &SchemeRegistry) -> Option<Endpoint> {
    let s = &s.replace("PORT", "1");
    match Endpoint::parse_with(s, reg) {
        Ok(ep) => Some(ep),
        Err(e) => {
            assert!(
                matches!(e.kind, EndpointErrorKind::BadOptionValue { .. }),
                "{s:.80}: {e}"
            );
            None
        }
    }
}

/// Listens on `server`, connects with `client` (its target's port filled
/// in), exchanges a few bytes; either end may refuse its options with a
/// typed error, but nothing panics. Returns whether bytes went both ways.
async fn run(server: &Endpoint, client: &str, reg: &SchemeRegistry) -> bool {
    let srv = Server::new();
    let (factory, seen) = echo_factory();
    let local = match srv.listen(server, factory, ListenConfig::default()).await {
        Ok(l) => l.local,
        Err(_) => return false,
    };
    let port = match local {
        strata::Addr::Inet(a) => a.port(),
        other => panic!("{other}"),
    };
    let client = Endpoint::parse_with(&client.replace("PORT", &port.to_string()), reg)
        .expect("the client endpoint was checked already");
    let (tx, rx) = oneshot::channel();
    let proto = Box::new(Client {
        got: Vec::new(),
        done: Some(tx),
    });
    let ok = match strata_tokio::connect(&client, proto, Arc::new(StackConfig::default())).await {
        Ok(conn) => {
            let (got, why) = within("client exchange", rx)
                .await
                .expect("connection_lost");
            let closed = within("client close", conn.closed()).await;
            assert!(!panicked(&why) && !panicked(&closed), "{client}: {why}");
            got == b"hello" && why.is_clean()
        }
        Err(_) => false,
    };
    within("shutdown", srv.shutdown(Duration::from_millis(200))).await;
    for s in seen.lock().unwrap().iter() {
        if let Some(why) = &s.lock().unwrap().lost {
            assert!(!panicked(why), "server of {server}: {why}");
        }
    }
    ok
}

#[tokio::test]
async fn every_accepted_tcp_option_value_runs_a_connection() {
    let reg = strata_tokio::registry();
    let mut accepted = 0;
    for key in ["nodelay", "reuseport", "backlog", "sndbuf", "rcvbuf"] {
        for v in edge_values() {
            let q = format!("tcp.{key}={}", enc(&v));
            let Some(server) = parse(&format!("tcp://127.0.0.1:0?{q}"), &reg) else {
                continue;
            };
            let client = format!("tcp://127.0.0.1:PORT?{q}");
            assert!(
                parse(&client, &reg).is_some(),
                "the same option parses for a client"
            );
            accepted += 1;
            // Every accepted tcp option works on both ends.
            assert!(run(&server, &client, &reg).await, "{q:.80}");
        }
    }
    assert!(accepted >= 5 * 2, "only {accepted} values accepted");
}

#[tokio::test]
async fn every_accepted_tls_option_value_runs_a_connection() {
    let reg = strata_tokio::registry();
    let mut exchanged = 0;
    for key in ["alpn", "sni", "insecure", "cert", "key", "ca"] {
        for v in edge_values() {
            let q = format!("tls.{key}={}", enc(&v));
            // On the server, with a plain client.
            if let Some(server) = parse(&format!("tls+tcp://127.0.0.1:0?{q}"), &reg) {
                let client = "tls+tcp://127.0.0.1:PORT?tls.insecure=true";
                exchanged += usize::from(run(&server, client, &reg).await);
            }
            // On the client, with a plain server.
            let client = format!("tls+tcp://127.0.0.1:PORT?tls.insecure=true&{q}");
            if parse(&client, &reg).is_some() {
                let server = Endpoint::parse_with("tls+tcp://127.0.0.1:0", &reg).unwrap();
                exchanged += usize::from(run(&server, &client, &reg).await);
            }
        }
    }
    // ALPN names both ends accept and the client's insecure=true at least.
    assert!(exchanged >= 10, "only {exchanged} exchanges completed");
}

#[tokio::test]
async fn a_drain_time_past_the_clock_range_does_not_panic() {
    let srv = Server::new();
    let (factory, _) = echo_factory();
    let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    srv.listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap();
    within("shutdown", srv.shutdown(Duration::MAX)).await;
}

#[test]
fn an_endless_certificate_file_is_refused_not_read_into_memory() {
    let reg = strata_tokio::registry();
    for opts in [
        "tls.cert=/dev/zero&tls.key=/dev/zero",
        "tls.insecure=false&tls.ca=/dev/zero",
    ] {
        let ep = Endpoint::parse_with(&format!("tls+tcp://127.0.0.1:1?{opts}"), &reg).unwrap();
        let msg = if opts.contains("ca=") {
            strata_tokio::client_config(&ep)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        } else {
            strata_tokio::server_identity(&ep)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert!(
            msg.contains("/dev/zero") && msg.contains("larger than"),
            "{msg}"
        );
    }
}
