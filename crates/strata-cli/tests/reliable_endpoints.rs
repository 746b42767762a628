//! Issue 10, point 11: `reliable+tcp://`, `reliable+unix://` and
//! `reliable+udp://` are one layer chosen by the endpoint, and the binary
//! takes all three: `strata serve` listens on them, `strata connect` talks
//! to each (the echo comes back whole, then a clean end), and `strata relay`
//! listens on one and connects to another.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Past this a client is hung.
const HUNG: Duration = Duration::from_secs(60);

/// A child killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `strata ARGS` and returns it with the first `n` lines of its
/// stdout that start with `prefix` (the rest of each line).
fn start(args: &[&str], prefix: &'static str, n: usize) -> (Proc, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run strata");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    let p = Proc(child);
    let lines = (0..n)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("strata {args:?} did not start"))
        })
        .collect();
    (p, lines)
}

/// `strata connect EP` with `data` on stdin, to its end.
fn connect(ep: &str, data: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["connect", ep])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata connect");
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&data);
        // Dropped: EOF, which `connect` turns into a half-close.
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > HUNG {
            let _ = child.kill();
            panic!("strata connect {ep} hung");
        }
        thread::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap();
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr,
    }
}

fn input(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

fn assert_echoes(ep: &str, data: &[u8]) {
    let out = connect(ep, data);
    assert!(
        out.status.success(),
        "strata connect {ep}: {:?}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data, "strata connect {ep}: the echo differs");
}

#[test]
fn serve_connect_and_relay_take_reliable_over_tcp_unix_and_udp() {
    let path =
        std::env::temp_dir().join(format!("strata-cli-reliable-{}.sock", std::process::id()));
    let unix = format!("reliable+unix://{}", path.display());
    let (_serve, bound) = start(
        &[
            "serve",
            "--app",
            "echo",
            "reliable+tcp://127.0.0.1:0",
            &unix,
            "reliable+udp://127.0.0.1:0",
        ],
        "strata: serving echo on ",
        3,
    );
    assert!(
        bound[0].starts_with("reliable+tcp://127.0.0.1:"),
        "{bound:?}"
    );
    assert!(bound[1].starts_with("reliable+unix://"), "{bound:?}");
    assert!(
        bound[2].starts_with("reliable+udp://127.0.0.1:"),
        "{bound:?}"
    );
    let data = input(200_000);
    for ep in &bound {
        assert_echoes(ep, &data);
    }
    // A relay listening on the pass-through, connecting over the mapping.
    let (_relay, listen) = start(
        &["relay", "reliable+tcp://127.0.0.1:0", &bound[2]],
        "strata: relaying ",
        1,
    );
    let listen = listen[0].split(" -> ").next().unwrap().to_string();
    assert!(listen.starts_with("reliable+tcp://"), "{listen}");
    assert_echoes(&listen, &data);
    let _ = std::fs::remove_file(&path);
}
