//! `strata connect` and `strata get` never hang and never guess: a failed
//! connect exits at once with the reason, an out-of-range port is a usage
//! error with a caret, and a server that accepts and then goes quiet (before
//! answering, or mid-body) ends the download with its own exit status.
//!
//! Every test runs the real binary against a tiny std `TcpListener`. The
//! waits below are safety nets (a hung client fails the test instead of
//! hanging the suite), never timing assertions.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitStatus;
use std::thread;
use std::time::Duration;

mod support;
use support::{finish, strata};

/// The exit statuses `strata get` and `strata connect` document.
const EXIT_USAGE: i32 = 2;
const EXIT_CONNECT: i32 = 3;
const EXIT_CONNECT_TIMEOUT: i32 = 4;
const EXIT_IDLE_TIMEOUT: i32 = 5;
const EXIT_TIMEOUT: i32 = 6;

fn code(s: &ExitStatus) -> Option<i32> {
    s.code()
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A server that accepts, reads the request, writes `reply`, then holds the
/// connection open without a byte more until the client goes away.
fn quiet_server(reply: &'static [u8]) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(reply);
                // Hold the connection: read until the client closes it.
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[test]
fn connect_to_a_closed_port_exits_at_once_with_the_reason() {
    let ep = format!("tcp://127.0.0.1:{}", closed_port());
    let out = finish(strata(&["connect", &ep]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out.status), Some(EXIT_CONNECT), "stderr: {err}");
    assert!(err.to_lowercase().contains("refused"), "stderr: {err}");
}

#[test]
fn get_from_a_closed_port_exits_with_the_connect_status() {
    let url = format!("http://127.0.0.1:{}/hello", closed_port());
    let out = finish(strata(&["get", &url]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out.status), Some(EXIT_CONNECT), "stderr: {err}");
    assert!(err.to_lowercase().contains("refused"), "stderr: {err}");
}

#[test]
fn an_out_of_range_port_in_a_url_is_a_usage_error_with_a_caret() {
    for port in ["99999", "65536", "8080000000"] {
        let url = format!("http://127.0.0.1:{port}/hello");
        let out = finish(strata(&["get", &url]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out.status), Some(EXIT_USAGE), "{url}: {err}");
        assert!(err.contains("invalid port"), "{url}: {err}");
        // The caret sits under the port's first digit.
        let lines: Vec<&str> = err.lines().collect();
        let shown = lines
            .iter()
            .position(|l| l.contains(&url))
            .expect("URL shown");
        let col = lines[shown].find(port).unwrap();
        assert_eq!(lines[shown + 1].find('^'), Some(col), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn an_out_of_range_port_in_an_endpoint_is_a_usage_error_with_a_caret() {
    for args in [
        vec!["connect", "tcp://127.0.0.1:99999"],
        vec!["serve", "--app", "echo", "tcp://127.0.0.1:65536"],
        vec!["relay", "tcp://127.0.0.1:0", "tcp://127.0.0.1:8080000000"],
    ] {
        let out = finish(strata(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out.status), Some(EXIT_USAGE), "{args:?}: {err}");
        assert!(err.contains("invalid port") && err.contains('^'), "{err}");
    }
}

#[test]
fn get_from_a_server_that_never_answers_ends_at_the_idle_timeout() {
    let addr = quiet_server(b"");
    let url = format!("http://{addr}/");
    let out = finish(strata(&["get", "--idle-timeout", "1", &url]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out.status), Some(EXIT_IDLE_TIMEOUT), "stderr: {err}");
    assert!(err.contains("no data for 1s"), "stderr: {err}");
}

#[test]
fn get_from_a_server_that_stalls_mid_body_ends_at_the_idle_timeout() {
    let addr = quiet_server(
        b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ncontent-type: text/plain\r\n\r\nfirst ten.",
    );
    let url = format!("http://{addr}/");
    let out = finish(strata(&["get", "--http1", "--idle-timeout", "1", &url]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out.status), Some(EXIT_IDLE_TIMEOUT), "stderr: {err}");
    assert_eq!(out.stdout, b"first ten.", "the bytes received are kept");
    assert!(err.contains("after 10 bytes"), "stderr: {err}");
}

#[test]
fn get_with_a_total_timeout_ends_even_while_bytes_trickle() {
    // A server that sends one body byte every 200 ms, forever: the idle
    // timer never fires, the whole-operation one does.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n";
        if s.write_all(head).is_err() {
            return;
        }
        while s.write_all(b"x").is_ok() {
            thread::sleep(Duration::from_millis(200));
        }
    });
    let url = format!("http://{addr}/");
    let out = finish(strata(&[
        "get",
        "--http1",
        "--timeout",
        "2",
        "--idle-timeout",
        "30",
        &url,
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out.status), Some(EXIT_TIMEOUT), "stderr: {err}");
    assert!(err.contains("timed out after 2s"), "stderr: {err}");
}

#[test]
fn out_of_range_durations_are_usage_errors() {
    for flag in ["--timeout", "--connect-timeout", "--idle-timeout"] {
        for v in ["0", "18446744073709551615", "-1", "soon"] {
            let out = finish(strata(&["get", flag, v, "http://127.0.0.1:1/"]));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(code(&out.status), Some(EXIT_USAGE), "{flag} {v}: {err}");
        }
    }
    let out = finish(strata(&["serve", "--drain", "18446744073709551615"]));
    assert_eq!(code(&out.status), Some(EXIT_USAGE));
}

/// A listener that never accepts, its queue filled: a new connect gets no
/// answer to its SYN (Linux drops it) and hangs, as towards a black hole.
/// Returns the listener and the connections that keep its queue full.
fn black_hole() -> (TcpListener, Vec<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut held = Vec::new();
    // std's backlog is 128: the queue is full within a few hundred.
    for _ in 0..1024 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(_) => return (l, held),
        }
    }
    panic!("the listen queue never filled");
}

#[test]
fn a_connect_that_gets_no_answer_ends_at_the_connect_timeout() {
    let (l, _held) = black_hole();
    let addr = l.local_addr().unwrap();
    for args in [
        vec!["get".to_string(), format!("http://{addr}/")],
        vec!["connect".to_string(), format!("tcp://{addr}")],
    ] {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.splice(1..1, ["--connect-timeout", "0.5"]);
        let out = finish(strata(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            code(&out.status),
            Some(EXIT_CONNECT_TIMEOUT),
            "{args:?}: {err}"
        );
        assert!(err.contains("--connect-timeout"), "{err}");
    }
}
