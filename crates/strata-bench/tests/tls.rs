//! The TLS benchmarks through the real processes: each TLS server kind
//! echoes over TLS with a certificate it is given, and a tiny `run --tls`
//! session measures every TLS benchmark on both sides.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A self-signed certificate for `localhost` in a fresh directory.
fn cert_files(tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("strata-bench-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    (dir, cert, key)
}

/// Starts `strata-bench server --kind KIND` and returns it with its address.
fn start_server(kind: &str, cert: &Path, key: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata-bench"))
        .args(["server", "--kind", kind, "--addr", "127.0.0.1:0", "--cert"])
        .arg(cert)
        .arg("--key")
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("{kind}: unexpected first line {line:?}"))
        .trim()
        .to_string();
    (child, addr)
}

async fn tls_echo(addr: &str, cert: &Path) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, sock)
        .await
        .unwrap();
    let msg: Vec<u8> = (0..=255u8).cycle().take(50_000).collect();
    s.write_all(&msg).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, msg);
    back
}

#[tokio::test]
async fn each_tls_server_kind_echoes_over_tls_with_the_given_certificate() {
    let (dir, cert, key) = cert_files("kinds");
    for kind in ["strata-tls", "tokio-rustls"] {
        let (mut child, addr) = start_server(kind, &cert, &key);
        assert_eq!(tls_echo(&addr, &cert).await.len(), 50_000, "{kind}");
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "{kind}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_tls_server_without_a_certificate_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata-bench"))
        .args(["server", "--kind", "strata-tls"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cert"));
}

#[test]
fn a_tiny_tls_session_measures_every_tls_benchmark_on_both_sides() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata-bench"))
        .args([
            "run",
            "--tls",
            "--runs",
            "1",
            "--secs",
            "0.3",
            "--tls-bulk-bytes",
            "2000000",
            "--tls-idle-conns",
            "100",
        ])
        .output()
        .expect("strata-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        !stdout.contains("Failed measurements"),
        "{stdout}\n{stderr}"
    );
    for row in [
        "| tls-pingpong | msg/s | ",
        "| tls-bulk | MB/s | ",
        "| tls-handshakes | handshakes/s | ",
        "| tls-handshakes | server CPU µs/handshake | ",
        "| tls-resumed | handshakes/s | ",
        "| tls-idle | RSS bytes/conn | ",
    ] {
        assert!(stdout.contains(row), "missing `{row}` in:\n{stdout}");
    }
    // Every TLS row compares with tokio-rustls; no plain anchor took part.
    assert!(!stdout.contains("| tokio |"), "{stdout}");
    assert!(!stdout.contains("twisted"), "{stdout}");
    let verdicts = stdout.matches("| PASS |").count() + stdout.matches("| MISS |").count();
    assert_eq!(verdicts, 5, "{stdout}");
}
