//! `strata serve --workers N --listener-per-worker`: one thread and one
//! `SO_REUSEPORT` listener per worker. It answers HTTP on every connection
//! and drains and exits on SIGINT; with `--stats`, the connections every
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

/// `strata serve --app APP --workers 2 --listener-per-worker EXTRA
/// ENDPOINT`: the child, its port, and the thread that reads the rest of
/// its output (so that it never blocks on a full pipe).
fn serve_per_worker(
    app: &str,
    extra: &[&str],
    endpoint: &str,
) -> (std::process::Child, u16, std::thread::JoinHandle<String>) {
    let mut args = vec![
        "serve",
        "--app",
        app,
        "--workers",
        "2",
        "--listener-per-worker",
    ];
    args.extend_from_slice(extra);
    args.push(endpoint);
    let mut child = strata(&args);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // "strata: serving APP on SCHEME://127.0.0.1:PORT"
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
    (child, port, drain)
}

/// Sends SIGINT to `child`, which must exit with success.
fn interrupt(child: std::process::Child) {
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
    let (child, port, drain) = serve_per_worker("http", &["--drain", "5"], "tcp://127.0.0.1:0");
    let names = thread_names(child.id());
    for w in ["strata-worker-0", "strata-worker-1"] {
        assert!(names.iter().any(|n| n == w), "no thread {w}: {names:?}");
    }
    for i in 0..40 {
        let r = get(port, "/");
        assert!(r.starts_with("HTTP/1.1 200"), "request {i}: {r:?}");
    }

    interrupt(child);
    let _ = drain.join();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after the exit"
    );
}

#[test]
fn per_worker_listeners_count_their_connections_as_one_stack() {
    let (child, port, drain) =
        serve_per_worker("http", &["--stats=60", "--drain", "5"], "tcp://127.0.0.1:0");
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

    interrupt(child);
    let _ = drain.join();
}

/// A self-signed P-256 certificate for localhost made by OpenSSL (CA:FALSE:
/// rustls refuses a CA certificate as a server's own), at `dir/NAME.pem`
/// and `dir/NAME.key`; `None` when `openssl` is not installed.
fn make_cert(
    dir: &std::path::Path,
    name: &str,
) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj", "/CN=localhost", "-days", "2"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?
        .status
        .success();
    ok.then_some((cert, key))
}

/// The certificate (PEM) the server on `port` presents to a new connection.
fn served_cert(port: u16) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let begin = text
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("no certificate from s_client: {text}"));
    let end = text[begin..].find("-----END CERTIFICATE-----").unwrap() + begin;
    text[begin..end + "-----END CERTIFICATE-----".len()].to_string()
}

fn pem(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[test]
fn listener_per_worker_reloads_the_certificate_of_every_worker_on_sighup() {
    let dir = std::env::temp_dir().join(format!("strata-per-worker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((cert, key)) = make_cert(&dir, "server") else {
        eprintln!("skipped: no openssl");
        return;
    };
    let ep = format!(
        "tls+tcp://127.0.0.1:0?tls.cert={}&tls.key={}",
        cert.display(),
        key.display()
    );
    let mut child = strata(&[
        "serve",
        "--app",
        "echo",
        "--workers",
        "2",
        "--listener-per-worker",
        &ep,
    ]);
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for l in out.lines() {
            let Ok(l) = l else { return };
            if lines_tx.send(l).is_err() {
                return;
            }
        }
    });
    let line_with = |word: &str| loop {
        match lines.recv_timeout(support::HUNG) {
            Ok(l) if l.contains(word) => return l,
            Ok(_) => {}
            Err(e) => panic!("no line with {word:?}: {e:?}"),
        }
    };
    // "strata: serving echo on tls+tcp://127.0.0.1:PORT"
    let serving = line_with("serving");
    let port: u16 = serving.rsplit(':').next().unwrap().parse().unwrap();

    let first = pem(&cert);
    for _ in 0..8 {
        assert_eq!(served_cert(port), first);
    }
    let (next_cert, next_key) = make_cert(&dir, "next").unwrap();
    std::fs::rename(&next_cert, &cert).unwrap();
    std::fs::rename(&next_key, &key).unwrap();
    let second = pem(&cert);
    assert_ne!(first, second);
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    line_with("certificate reloaded");
    // The kernel spreads the 16 connections over both workers (all on one:
    // odds of 2^-15); each must present the new certificate.
    for i in 0..16 {
        assert_eq!(served_cert(port), second, "connection {i} after the reload");
    }
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let done = finish(child);
    assert!(done.status.success(), "exit {:?}", done.status);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn listener_per_worker_serves_a_udp_endpoint_and_stops_on_sigint() {
    let (child, port, _) = serve_per_worker("echo", &[], "udp://127.0.0.1:0");
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(support::HUNG)).unwrap();
    s.send_to(b"hi", ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 16];
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hi");
    interrupt(child);
}
