//! Several certificates on one TLS listener, chosen by the client's SNI
//! name (`tls.cert=a.pem,b.pem&tls.key=a.key,b.key`), the first when there
//! is no SNI or no match, and reloading them all. Real loopback sockets;
//! certificates made with rcgen into a temp dir.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::within;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use strata::endpoint::Endpoint;
use strata::tls::TlsInfo;
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{
    registry, server_identity, DriverError, ListenConfig, Server, StreamFactory, TlsIdentity,
    TlsSetupError,
};

/// One CA and two leaves it signed: `a` for `a.test`, `b` for `b.test`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("strata-sni-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        for (file, name) in [("a", "a.test"), ("b", "b.test")] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &ca_cert, &ca_key)
                .unwrap();
            std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{file}.der")), cert.der()).unwrap();
            std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
        }
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The DER of leaf `which` (`a` or `b`).
    fn der(&self, which: &str) -> Vec<u8> {
        std::fs::read(self.path(&format!("{which}.der"))).unwrap()
    }

    /// `tls.cert`/`tls.key` listing the leaves in `order`.
    fn opts(&self, order: &[&str]) -> String {
        let list = |ext: &str| {
            order
                .iter()
                .map(|f| self.path(&format!("{f}.{ext}")).display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!("tls.cert={}&tls.key={}", list("pem"), list("key"))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ep(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &registry()).unwrap()
}

/// Echoes, closing on EOF.
struct Echo;

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// Sends a byte, waits for the echo, and records the TLS parameters.
struct Probe {
    info: Arc<Mutex<Option<TlsInfo>>>,
    lost: Arc<Mutex<Option<Close>>>,
}

impl StreamProtocol for Probe {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"?");
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        *self.info.lock().unwrap() = t.get::<TlsInfo>().cloned();
        t.close();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        *self.lost.lock().unwrap() = Some(why.clone());
    }
}

/// A TLS listener on loopback with `opts`, presenting `id` when given.
async fn listen(opts: &str, id: Option<TlsIdentity>) -> (Server, String) {
    let server = Server::new();
    let f: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
    let bound = server
        .listen_with_identity(
            &ep(&format!("tls+tcp://127.0.0.1:0?{opts}")),
            id,
            f,
            ListenConfig::default(),
        )
        .await
        .unwrap();
    (server, bound.local.to_string())
}

/// Connects to `addr` with the client options `opts` and returns the leaf
/// certificate the server presented.
async fn leaf_seen(addr: &str, opts: &str) -> Vec<u8> {
    let (info, lost) = (Arc::default(), Arc::default());
    let proto = Box::new(Probe {
        info: Arc::clone(&info),
        lost: Arc::clone(&lost),
    });
    let url = format!("tls+tcp://{addr}?{opts}");
    let conn = strata_tokio::connect(&ep(&url), proto, Arc::new(StackConfig::default()))
        .await
        .unwrap();
    within("the client ends", conn.closed()).await;
    let why = lost.lock().unwrap().clone();
    assert!(why.as_ref().is_some_and(Close::is_clean), "{url}: {why:?}");
    let info = info.lock().unwrap().take().expect("the handshake finished");
    info.peer_certificates
        .first()
        .cloned()
        .expect("the server sent a certificate")
}

#[tokio::test]
async fn the_certificate_is_chosen_by_sni() {
    let pki = Pki::new("choose");
    let (server, addr) = listen(&pki.opts(&["a", "b"]), None).await;
    let ca = format!("tls.ca={}", pki.path("ca.pem").display());
    // Verified against the CA and the name: the right certificate or no
    // handshake at all.
    assert_eq!(
        leaf_seen(&addr, &format!("{ca}&tls.sni=a.test")).await,
        pki.der("a")
    );
    assert_eq!(
        leaf_seen(&addr, &format!("{ca}&tls.sni=b.test")).await,
        pki.der("b")
    );
    // No SNI (an IP address host) and an unknown name: the first listed.
    assert_eq!(leaf_seen(&addr, "tls.insecure=true").await, pki.der("a"));
    assert_eq!(
        leaf_seen(&addr, "tls.insecure=true&tls.sni=c.test").await,
        pki.der("a")
    );
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_default_is_the_first_listed_not_a_fixed_one() {
    let pki = Pki::new("order");
    let (server, addr) = listen(&pki.opts(&["b", "a"]), None).await;
    assert_eq!(leaf_seen(&addr, "tls.insecure=true").await, pki.der("b"));
    let ca = format!("tls.ca={}", pki.path("ca.pem").display());
    assert_eq!(
        leaf_seen(&addr, &format!("{ca}&tls.sni=a.test")).await,
        pki.der("a")
    );
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn reloading_replaces_every_certificate() {
    let pki = Pki::new("reload");
    let listen_ep = ep(&format!("tls+tcp://127.0.0.1:0?{}", pki.opts(&["a"])));
    let id = server_identity(&listen_ep).unwrap().unwrap();
    let (server, addr) = listen(&pki.opts(&["a"]), Some(id.clone())).await;
    let ca = format!("tls.ca={}", pki.path("ca.pem").display());
    assert_eq!(leaf_seen(&addr, "tls.insecure=true").await, pki.der("a"));

    let both = ep(&format!("tls+tcp://127.0.0.1:0?{}", pki.opts(&["b", "a"])));
    id.reloader().reload_from(&both).unwrap();
    assert_eq!(id.reloader().all().len(), 2);
    assert_eq!(id.certificate_der(), pki.der("b"));
    let b_opts = format!("{ca}&tls.sni=b.test");
    assert_eq!(leaf_seen(&addr, &b_opts).await, pki.der("b"));
    assert_eq!(leaf_seen(&addr, "tls.insecure=true").await, pki.der("b"));

    // A failed reload (one bad pair) keeps both.
    let bad = [
        (pki.path("a.pem"), pki.path("a.key")),
        (pki.path("b.pem"), pki.path("a.key")),
    ];
    let e = id.reloader().reload_all(&bad).unwrap_err();
    assert!(matches!(e, TlsSetupError::KeyMismatch { .. }), "{e}");
    assert_eq!(id.reloader().all().len(), 2);

    // The single-pair reload replaces all of them.
    id.reloader()
        .reload(&pki.path("a.pem"), &pki.path("a.key"))
        .unwrap();
    assert_eq!(id.reloader().all().len(), 1);
    assert_eq!(
        leaf_seen(&addr, &format!("{ca}&tls.sni=a.test")).await,
        pki.der("a")
    );
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

#[test]
fn lists_must_pair_up() {
    let pki = Pki::new("pairs");
    let a = |f: &str| pki.path(f).display().to_string();
    let uneven = ep(&format!(
        "tls+tcp://127.0.0.1:0?tls.cert={},{}&tls.key={}",
        a("a.pem"),
        a("b.pem"),
        a("a.key")
    ));
    let e = server_identity(&uneven).unwrap_err();
    assert!(
        matches!(e, TlsSetupError::PairCount { certs: 2, keys: 1 }),
        "{e}"
    );
    let empty = ep(&format!(
        "tls+tcp://127.0.0.1:0?tls.cert={},&tls.key={},{}",
        a("a.pem"),
        a("a.key"),
        a("b.key")
    ));
    let e = TlsIdentity::cert_key_pairs(&empty).unwrap_err();
    assert!(
        matches!(e, TlsSetupError::EmptyPath { option: "cert" }),
        "{e}"
    );
    // A client presents one chain: a list is refused, not truncated.
    let client = ep(&format!("tls+tcp://127.0.0.1:1?{}", pki.opts(&["a", "b"])));
    let e = strata_tokio::client_config(&client).unwrap_err();
    assert!(
        matches!(&e, DriverError::BadOption { key, .. } if key == "cert"),
        "{e}"
    );
}
