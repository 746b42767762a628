//! `strata serve` bounds the kernel send buffer of every accepted TCP
//! connection (default 256 KiB, `--sndbuf`, endpoint option `tcp.sndbuf`),
//! so a client that stops reading cannot pin megabytes of kernel memory
//! outside strata's limits. Checked from outside with `ss -tm` (Linux), which
//! shows the socket's `tb` (its `sk_sndbuf`: twice what was set).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `strata serve --app echo` with `args` and returns it with its port.
fn serve(args: &[&str]) -> (Serve, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--app", "echo"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run strata serve");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // "strata: serving echo on tcp://127.0.0.1:PORT"
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    // Keep draining stdout so the server never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (Serve(child), port)
}

/// The `tb` (send buffer) of the server's side of the one connection on
/// `port`, or `None` when `ss` is not installed.
fn server_sndbuf(port: u16) -> Option<u64> {
    let out = Command::new("ss")
        .args([
            "-tmnH",
            "state",
            "established",
            "sport",
            "=",
            &format!(":{port}"),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let tb = text
        .split(|c: char| c == ',' || c == '(' || c == ')' || c.is_whitespace())
        .find_map(|f| f.strip_prefix("tb"))
        .unwrap_or_else(|| panic!("no skmem in ss output {text:?}"));
    Some(tb.parse().unwrap())
}

/// Opens a connection and makes sure the server has accepted it.
fn connected(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    s
}

fn wmem_max() -> u64 {
    std::fs::read_to_string("/proc/sys/net/core/wmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(212_992)
}

#[test]
fn serve_bounds_the_kernel_send_buffer_by_default() {
    let (_srv, port) = serve(&["tcp://127.0.0.1:0"]);
    let _c = connected(port);
    let Some(tb) = server_sndbuf(port) else {
        eprintln!("ss not installed: skipped");
        return;
    };
    // Twice 256 KiB, or twice the system's cap if that is lower.
    assert_eq!(tb, 2 * wmem_max().min(256 * 1024));
}

#[test]
fn the_endpoint_option_overrides_the_default() {
    let (_srv, port) = serve(&["tcp://127.0.0.1:0?tcp.sndbuf=65536"]);
    let _c = connected(port);
    let Some(tb) = server_sndbuf(port) else {
        eprintln!("ss not installed: skipped");
        return;
    };
    assert_eq!(tb, 2 * wmem_max().min(65_536));
}
