//! `strata serve --workers N --listener-per-worker`: one thread and one
//! `SO_REUSEPORT` listener per worker. It answers HTTP on every connection
//! and drains and exits on SIGINT.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use support::{finish, strata};

/// One HTTP/1.1 request on a fresh connection; the whole response.
fn get(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(support::HUNG)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut back = String::new();
    s.read_to_string(&mut back).unwrap();
    back
}

/// The names of the threads of process `pid`.
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn listener_per_worker_answers_http_on_every_connection_and_stops_on_sigint() {
    let mut child = strata(&[
        "serve",
        "--app",
        "http",
        "--workers",
        "2",
        "--listener-per-worker",
        "--drain",
        "5",
        "tcp://127.0.0.1:0",
    ]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // "strata: serving http on tcp://127.0.0.1:PORT"
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        rest
    });

    let names = thread_names(child.id());
    for w in ["strata-worker-0", "strata-worker-1"] {
        assert!(names.iter().any(|n| n == w), "no thread {w}: {names:?}");
    }
    for i in 0..40 {
        let r = get(port);
        assert!(r.starts_with("HTTP/1.1 200"), "request {i}: {r:?}");
    }

    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let done = finish(child);
    assert!(
        done.status.success(),
        "exit {:?}; stderr: {}",
        done.status,
        String::from_utf8_lossy(&done.stderr)
    );
    let _ = drain.join();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after the exit"
    );
}
