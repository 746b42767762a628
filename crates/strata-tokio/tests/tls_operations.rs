//! Operating TLS endpoints over loopback: session secrets logged to
//! `SSLKEYLOGFILE`, session resumption for a client that reuses its
//! configuration, and a certificate reloaded under a running listener
//! (new connections get it, a connection already made is unaffected).
//!
//! `key_log_file_gets_the_session_secrets` is the only test here that sets
//! `SSLKEYLOGFILE`; it lives in this binary so that no other test binary
//! sees the variable.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{echo_factory, eventually, within};
use strata::endpoint::Endpoint;
use strata::tls::{Tls, TlsConfig, TlsInfo};
use strata::{StackConfig, StreamProtocol, StreamTransport, Wake, WakeRoute};
use strata_tokio::{registry, server_identity, ListenConfig, Server};

fn ep(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &registry()).unwrap()
}

/// What a client saw.
#[derive(Default)]
struct Seen {
    info: Option<TlsInfo>,
    got: Vec<u8>,
    waker: Option<Wake>,
}

type Shared = Arc<Mutex<Seen>>;

/// Sends `first` at once and `second` when woken; closes once both came
/// back. With an empty `second` it closes after the first echo.
struct Talk {
    seen: Shared,
    first: &'static [u8],
    second: &'static [u8],
}

impl Talk {
    fn new(seen: &Shared, first: &'static [u8], second: &'static [u8]) -> Box<Talk> {
        Box::new(Talk {
            seen: seen.clone(),
            first,
            second,
        })
    }
}

impl StreamProtocol for Talk {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().waker = Some(t.waker());
        t.write(self.first);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut s = self.seen.lock().unwrap();
        s.info = t.get::<TlsInfo>().cloned();
        s.got.extend_from_slice(data);
        if s.got.len() == self.first.len() + self.second.len() {
            t.close();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _route: WakeRoute<'_>) {
        t.write(self.second);
    }
}

/// Listens on `listen` with the identity given (if any); returns the server
/// and the bound `127.0.0.1:port`.
async fn serve(listen: &str, id: Option<strata_tokio::TlsIdentity>) -> (Server, String) {
    let server = Server::new();
    let (f, _) = echo_factory();
    let bound = server
        .listen_with_identity(&ep(listen), id, f, ListenConfig::default())
        .await
        .unwrap();
    match bound.local {
        strata::Addr::Inet(a) => (server, a.to_string()),
        other => panic!("unexpected address {other:?}"),
    }
}

/// Runs one [`Talk`] that closes after its echo over `connect`; returns
/// what the client saw.
async fn ask(connect: &str, proto: Box<dyn StreamProtocol>, seen: &Shared) -> TlsInfo {
    let conn = strata_tokio::connect(&ep(connect), proto, Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let why = within("client ends", conn.closed()).await;
    assert!(why.is_clean(), "{why:?}");
    let s = seen.lock().unwrap();
    assert_eq!(s.got, b"hello", "the echo came back");
    s.info.clone().expect("the client saw TlsInfo")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-tlsops-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn key_log_file_gets_the_session_secrets() {
    let dir = temp_dir("keylog");
    let log = dir.join("keys.log");
    // KeyLogFile reads the variable when a configuration is built, so it is
    // set before the listener and the client build theirs.
    // TODO: Audit that the environment access only happens in single-threaded code.
    unsafe { std::env::set_var("SSLKEYLOGFILE", &log) };
    let (server, addr) = serve("tls+tcp://127.0.0.1:0", None).await;
    let seen = Shared::default();
    let connect = format!("tls+tcp://{addr}?tls.insecure=true");
    let info = ask(&connect, Talk::new(&seen, b"hello", b""), &seen).await;
    server.shutdown(std::time::Duration::from_secs(1)).await;
    // TODO: Audit that the environment access only happens in single-threaded code.
    unsafe { std::env::remove_var("SSLKEYLOGFILE") };
    assert!(info.is_tls13());

    let text = std::fs::read_to_string(&log).expect("the key log file was written");
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    for l in &lines {
        assert!(
            l.len() == 3 && l[1].len() == 64 && hex(l[1]) && hex(l[2]),
            "NSS key log format: {l:?}"
        );
    }
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        let of: Vec<&Vec<&str>> = lines.iter().filter(|l| l[0] == label).collect();
        // Both ends log each secret; they agree on it.
        assert!(
            of.iter()
                .any(|a| of.iter().filter(|b| **b == *a).count() >= 2),
            "{label} logged by both ends: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_client_reusing_its_configuration_resumes() {
    let (server, addr) = serve("tls+tcp://127.0.0.1:0", None).await;
    // One client configuration for every connection; the layer is put on
    // by hand over plain tcp:// since `connect` builds a configuration per
    // call.
    let tls_ep = ep(&format!("tls+tcp://{addr}?tls.insecure=true"));
    let cfg: TlsConfig = strata_tokio::client_config(&tls_ep).unwrap();
    let mut infos = Vec::new();
    for _ in 0..3 {
        let seen = Shared::default();
        let proto = Tls::new(*Talk::new(&seen, b"hello", b""), &cfg).unwrap();
        infos.push(ask(&format!("tcp://{addr}"), Box::new(proto), &seen).await);
    }
    assert!(!infos[0].resumed, "the first is a full handshake");
    assert!(infos[1].resumed && infos[2].resumed, "the next ones resume");
    assert!(infos.iter().all(TlsInfo::is_tls13));
    assert_eq!(infos[1].peer_certificates, infos[0].peer_certificates);

    // A configuration built per connection (what `connect` does) does not.
    let seen = Shared::default();
    let connect = format!("tls+tcp://{addr}?tls.insecure=true");
    let info = ask(&connect, Talk::new(&seen, b"hello", b""), &seen).await;
    assert!(!info.resumed);
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Writes a fresh self-signed certificate for `localhost` and its key.
fn write_identity(cert: &Path, key: &Path) -> Vec<u8> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.key_pair.serialize_pem()).unwrap();
    made.cert.der().to_vec()
}

#[tokio::test]
async fn a_reloaded_certificate_serves_new_connections_only() {
    let dir = temp_dir("reload");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let first = write_identity(&cert, &key);
    let listen = format!(
        "tls+tcp://127.0.0.1:0?tls.cert={}&tls.key={}",
        cert.display(),
        key.display()
    );
    let id = server_identity(&ep(&listen)).unwrap().unwrap();
    assert!(!id.is_self_signed());
    let (server, addr) = serve(&listen, Some(id.clone())).await;
    let connect = format!("tls+tcp://{addr}?tls.insecure=true");

    // A connection made before the reload, kept open across it.
    let before = Shared::default();
    let conn = strata_tokio::connect(
        &ep(&connect),
        Talk::new(&before, b"hel", b"lo"),
        Arc::new(StackConfig::default()),
    )
    .await
    .unwrap();
    eventually("the first echo", || before.lock().unwrap().got == b"hel").await;
    let old = before.lock().unwrap().info.clone().unwrap();
    assert_eq!(old.peer_certificates[0], first);

    // A bad reload changes nothing.
    let missing = dir.join("missing.pem");
    assert!(id.reloader().reload(&missing, &key).is_err());
    let seen = Shared::default();
    let info = ask(&connect, Talk::new(&seen, b"hello", b""), &seen).await;
    assert_eq!(info.peer_certificates[0], first);

    let second = write_identity(&cert, &key);
    assert_ne!(first, second);
    id.reloader().reload(&cert, &key).unwrap();
    assert_eq!(id.certificate_der(), second);

    let seen = Shared::default();
    let info = ask(&connect, Talk::new(&seen, b"hello", b""), &seen).await;
    assert_eq!(
        info.peer_certificates[0], second,
        "a new connection gets it"
    );

    // The connection made before goes on with its session.
    let waker = before.lock().unwrap().waker.clone().unwrap();
    waker.wake();
    let why = within("the first connection ends", conn.closed()).await;
    assert!(why.is_clean(), "{why:?}");
    {
        let s = before.lock().unwrap();
        assert_eq!(s.got, b"hello");
        assert_eq!(s.info.as_ref().unwrap().peer_certificates[0], first);
    }
    server.shutdown(std::time::Duration::from_secs(1)).await;
    let _ = std::fs::remove_dir_all(dir);
}
