//! `strata serve --listener-per-worker --stats`: the connections every
//! worker's listener accepts are counted, as one stack per endpoint, in
//! `/stats.json`.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use support::{finish, strata};

/// One HTTP/1.1 request on a fresh connection; the whole response.
fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(support::HUNG)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut back = String::new();
    s.read_to_string(&mut back).unwrap();
    back
}

/// The number after `"key":` in `json`.
fn number(json: &str, key: &str) -> u64 {
    let at = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    json[at + key.len() + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn per_worker_listeners_count_their_connections_as_one_stack() {
    let mut child = strata(&[
        "serve",
        "--app",
        "http",
        "--workers",
        "2",
        "--listener-per-worker",
        "--stats=60",
        "--drain",
        "5",
        "tcp://127.0.0.1:0",
    ]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
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
    for i in 0..20 {
        let r = get(port, "/");
        assert!(r.starts_with("HTTP/1.1 200"), "request {i}: {r:?}");
    }
    // Connections are counted when they start: the 20 above, and this one.
    let r = get(port, "/stats.json");
    assert!(r.starts_with("HTTP/1.1 200"), "{r:?}");
    let json = &r[r.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(json.matches("\"endpoint\":").count(), 1, "{json}");
    assert!(
        json.contains(&format!("\"endpoint\":\"tcp://127.0.0.1:{port}\"")),
        "{json}"
    );
    assert_eq!(number(json, "total"), 21, "{json}");
    // This one, and any of the others whose end the server is still
    // finishing.
    assert!((1..=21).contains(&number(json, "open")), "{json}");

    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let done = finish(child);
    assert!(done.status.success(), "exit {:?}", done.status);
    let _ = drain.join();
}
