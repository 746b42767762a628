//! HTTP/3 in the CLI (issue 11, point 3): `strata serve` answers h3 on its
//! `quic+udp://` endpoint with the same handler as h1 and h2, advertises it
//! with `Alt-Svc` from the TLS endpoint, and `strata get --http3` fetches
//! from it, byte for byte what HTTP/2 gives.

mod support;

use std::time::{Duration, Instant};

use support::{finish, serve_http, strata, Serve};

fn serve() -> Serve {
    serve_http(&["tls+tcp://127.0.0.1:0", "quic+udp://127.0.0.1:0"])
}

fn port(hostport: &str) -> &str {
    hostport.rsplit(':').next().unwrap()
}

#[test]
fn get_http3_fetches_what_http2_fetches() {
    let mut s = serve();
    let dir = std::env::temp_dir().join(format!("strata-h3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (h3, h2) = (dir.join("h3.bin"), dir.join("h2.bin"));
    let n = 3_000_000;
    let url = |hp: &str| format!("https://{hp}/bytes/{n}");
    let out = finish(strata(&[
        "get",
        "--http3",
        "--insecure",
        "-o",
        h3.to_str().unwrap(),
        &url(s.addr("quic+udp")),
    ]));
    assert!(
        out.status.success(),
        "{}; {}",
        String::from_utf8_lossy(&out.stderr),
        s.state()
    );
    let out = finish(strata(&[
        "get",
        "--http2",
        "--insecure",
        "-o",
        h2.to_str().unwrap(),
        &url(s.addr("tls+tcp")),
    ]));
    // Once seen (CI, 2026-12-07, not reproduced in 80 loaded runs): this
    // connect refused after the HTTP/3 fetch had succeeded. The server's
    // state and stderr are in the message for the next time.
    assert!(
        out.status.success(),
        "{}; {}",
        String::from_utf8_lossy(&out.stderr),
        s.state()
    );
    let (a, b) = (std::fs::read(&h3).unwrap(), std::fs::read(&h2).unwrap());
    assert_eq!(a.len(), n);
    assert!(a == b, "HTTP/3 and HTTP/2 bodies differ");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_tls_endpoint_advertises_http3_and_get_speaks_it() {
    let s = serve();
    let out = finish(strata(&[
        "get",
        "--insecure",
        "-v",
        &format!("https://{}/hello", s.addr("tls+tcp")),
    ]));
    assert!(out.status.success());
    let head = String::from_utf8_lossy(&out.stderr);
    let want = format!("< alt-svc: h3=\":{}\"", port(s.addr("quic+udp")));
    assert!(head.contains(&want), "no {want} in {head}");
    let out = finish(strata(&[
        "get",
        "--http3",
        "--insecure",
        "-v",
        &format!("https://{}/hello", s.addr("quic+udp")),
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello, world\n");
    let head = String::from_utf8_lossy(&out.stderr);
    assert!(head.contains("< HTTP/3.0 200"), "{head}");
    // HTTP/3 responses carry no Alt-Svc of their own.
    assert!(!head.contains("alt-svc"), "{head}");
}

#[test]
fn get_http3_refuses_plain_http_and_bad_combinations() {
    for args in [
        vec!["get", "--http3", "http://127.0.0.1:1/"],
        vec!["get", "--http3", "--http1", "https://127.0.0.1:1/"],
        vec![
            "get",
            "--http3",
            "--transport",
            "reliable+udp",
            "https://127.0.0.1:1/",
        ],
    ] {
        let out = finish(strata(&args));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn get_http3_from_a_silent_port_ends_within_the_connect_timeout() {
    // A bound UDP socket that never answers: no ICMP either.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/", silent.local_addr().unwrap());
    let start = Instant::now();
    let out = finish(strata(&[
        "get",
        "--http3",
        "--insecure",
        "--connect-timeout",
        "1",
        &url,
    ]));
    assert!(!out.status.success());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connect"), "{err}");
}
