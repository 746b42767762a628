//! `strata connect quic+udp://…` as a user runs it: a server that is not
//! there ends in a typed error and exit status within the connect timeout
//! (no hang), and `--insecure` reaches `quic.insecure` so the echo of a
//! self-signed `strata serve` comes back.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

#[test]
fn connect_to_nobody_fails_within_the_connect_timeout() {
    // A bound socket that never answers.
    let hole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = hole.local_addr().unwrap();
    let start = Instant::now();
    let out = strata()
        .args([
            "connect",
            "--insecure",
            "--connect-timeout",
            "2",
            &format!("quic+udp://{addr}"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
    // 3: could not connect (the handshake's deadline); 4: --connect-timeout.
    assert!(
        matches!(out.status.code(), Some(3) | Some(4)),
        "{:?}: {err}",
        out.status
    );
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn connect_insecure_echoes_through_a_self_signed_serve() {
    let mut serve = strata()
        .args([
            "serve",
            "--app",
            "echo",
            "quic+udp://127.0.0.1:0?quic.alpn=cli",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let shown = loop {
        let line = lines.next().expect("serve prints its endpoint").unwrap();
        if let Some(ep) = line.strip_prefix("strata: serving echo on ") {
            break ep.to_string();
        }
    };
    let mut client = strata()
        .args(["connect", "--insecure", &format!("{shown}?quic.alpn=cli")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello over quic\n")
        .unwrap();
    let out = client.wait_with_output().unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello over quic\n");
}
