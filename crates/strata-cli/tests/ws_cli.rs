//! WebSocket in the CLI over real sockets: `strata serve --app http`
//! answers `/ws` with an echo, and `strata connect ws://…` / `wss://…`
//! (HTTP/1.1 Upgrade, or RFC 8441 with `--h2`) is a netcat for it.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{finish, serve_http, Serve};

fn serve() -> Serve {
    serve_http(&["tcp://127.0.0.1:0", "tls+tcp://127.0.0.1:0"])
}

/// Runs `strata connect ARGS` with `input` on stdin; returns its output.
fn connect(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("connect")
        .args(args)
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    finish(child)
}

const LINES: &[u8] = "hello\nwörld\n\nlast line without a newline".as_bytes();
const ECHO: &[u8] = "hello\nwörld\n\nlast line without a newline\n".as_bytes();

#[test]
fn connect_ws_echoes_lines_over_http1_and_http2() {
    let s = serve();
    let url = format!("ws://{}/ws", s.addr("tcp"));
    for extra in [&[][..], &["--h2"][..]] {
        let mut args = extra.to_vec();
        args.push(&url);
        let out = connect(&args, LINES);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(ECHO),
            "{extra:?}"
        );
    }
}

#[test]
fn connect_wss_echoes_over_tls() {
    let s = serve();
    let url = format!("wss://{}/ws", s.addr("tls+tcp"));
    for extra in [&["--insecure"][..], &["--insecure", "--h2"][..]] {
        let mut args = extra.to_vec();
        args.push(&url);
        let out = connect(&args, LINES);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {err}");
        assert_eq!(out.stdout, ECHO, "{extra:?}");
    }
}

#[test]
fn a_route_that_is_not_a_websocket_fails_the_handshake_with_status_1() {
    let s = serve();
    let out = connect(&[&format!("ws://{}/hello", s.addr("tcp"))], b"hi\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("handshake refused: status 200"), "{err}");
    assert!(out.stdout.is_empty(), "the refusal's body is not a message");
}

#[test]
fn bad_urls_are_usage_errors_and_a_closed_port_is_a_connect_error() {
    let out = connect(&["ws://"], b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = connect(&["--h2", "tcp://127.0.0.1:9"], b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let out = connect(&[&format!("ws://127.0.0.1:{port}/ws")], b"");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
