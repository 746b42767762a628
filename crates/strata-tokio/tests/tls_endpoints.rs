//! TLS endpoints over real loopback sockets: `tls+tcp://` with ALPN,
//! `tls+unix://`, nested `tls+tls+tcp://`, the self-signed default,
//! untrusted certificates, required client certificates, and the typed
//! errors for bad certificate and key files. Certificates are made with
//! rcgen into a temp dir.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{sock_path, within};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use strata::endpoint::Endpoint;
use strata::tls::{TlsError, TlsInfo};
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{
    registry, server_identity, DriverError, ListenConfig, Server, StreamFactory, TlsSetupError,
};

/// What one end saw: the TLS parameters, its layer chain, the bytes it
/// read, and why it ended.
#[derive(Debug, Default)]
struct Seen {
    info: Option<TlsInfo>,
    chain: Vec<&'static str>,
    got: Vec<u8>,
    lost: Option<Close>,
}

type Shared = Arc<Mutex<Seen>>;

/// Server side: echoes, recording what `t.get::<TlsInfo>()` says.
struct Echo(Shared);

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().chain = t.layer_chain();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut s = self.0.lock().unwrap();
        s.info = t.get::<TlsInfo>().cloned();
        s.got.extend_from_slice(data);
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// Client side: sends a message, reads it back, closes.
struct Ask {
    seen: Shared,
    msg: &'static [u8],
}

impl StreamProtocol for Ask {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().chain = t.layer_chain();
        t.write(self.msg);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut s = self.seen.lock().unwrap();
        s.info = t.get::<TlsInfo>().cloned();
        s.got.extend_from_slice(data);
        if s.got.len() >= self.msg.len() {
            t.close();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

/// A CA, a server certificate (localhost, 127.0.0.1) and a client
/// certificate it signed, and a second, unrelated key, as PEM files.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("strata-tls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let leaf = |names: Vec<String>, file: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca_cert, &ca_key)
                .unwrap();
            std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        leaf(vec!["localhost".into(), "127.0.0.1".into()], "server");
        leaf(vec!["client.test".into()], "client");
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        let other = KeyPair::generate().unwrap();
        std::fs::write(dir.join("other.key"), other.serialize_pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// The server's `tls.cert` and `tls.key` options.
    fn server_opts(&self) -> String {
        format!(
            "tls.cert={}&tls.key={}",
            self.path("server.pem"),
            self.path("server.key")
        )
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

/// A server of [`Echo`]s recording into the returned list.
fn echo_server() -> (StreamFactory, Arc<Mutex<Vec<Shared>>>) {
    let all: Arc<Mutex<Vec<Shared>>> = Arc::default();
    let a = all.clone();
    let f: StreamFactory = Arc::new(move || {
        let s = Shared::default();
        a.lock().unwrap().push(s.clone());
        Box::new(Echo(s)) as Box<dyn StreamProtocol>
    });
    (f, all)
}

/// Listens on `listen` (its port or path), connects with `connect` (where
/// `{}` is replaced by the bound address) and runs one [`Ask`]; returns
/// what the client and the server saw.
async fn exchange(
    listen: &str,
    id: Option<strata_tokio::TlsIdentity>,
    connect: &str,
    msg: &'static [u8],
) -> (Seen, Seen) {
    let server = Server::new();
    let (f, all) = echo_server();
    let bound = server
        .listen_with_identity(&ep(listen), id, f, ListenConfig::default())
        .await
        .unwrap();
    let addr = match &bound.local {
        strata::Addr::Inet(a) => a.to_string(),
        strata::Addr::Unix(Some(p)) => p.display().to_string(),
        other => panic!("unexpected address {other:?}"),
    };
    let seen = Shared::default();
    let proto = Box::new(Ask {
        seen: seen.clone(),
        msg,
    });
    let conn = strata_tokio::connect(
        &ep(&connect.replace("{}", &addr)),
        proto,
        Arc::new(StackConfig::default()),
    )
    .await
    .unwrap();
    within("client ends", conn.closed()).await;
    common::eventually("server ends", || {
        all.lock()
            .unwrap()
            .first()
            .is_some_and(|s| s.lock().unwrap().lost.is_some())
    })
    .await;
    server.shutdown(std::time::Duration::from_secs(1)).await;
    let client = std::mem::take(&mut *seen.lock().unwrap());
    let server_side = std::mem::take(&mut *all.lock().unwrap()[0].lock().unwrap());
    (client, server_side)
}

/// The `TlsError` a connection ended with, if it was one.
fn tls_error(why: &Option<Close>) -> Option<&TlsError> {
    match why {
        Some(why) if why.layer() == Some("tls") => why.error::<TlsError>(),
        _ => None,
    }
}

#[tokio::test]
async fn echo_over_tls_tcp_negotiates_alpn() {
    let pki = Pki::new("alpn");
    let listen = format!(
        "tls+tcp://127.0.0.1:0?{}&tls.alpn=h2,http/1.1",
        pki.server_opts()
    );
    let connect = format!(
        "tls+tcp://{{}}?tls.ca={}&tls.alpn=http/1.1,h2&tls.sni=localhost",
        pki.path("ca.pem")
    );
    let (c, s) = exchange(&listen, None, &connect, b"hello over tls").await;
    assert_eq!(c.got, b"hello over tls");
    assert_eq!(s.got, b"hello over tls");
    assert!(c.lost.as_ref().is_some_and(Close::is_clean), "{:?}", c.lost);
    assert!(s.lost.as_ref().is_some_and(Close::is_clean), "{:?}", s.lost);
    // The server's preference wins.
    let si = s.info.expect("the server saw TlsInfo");
    let ci = c.info.expect("the client saw TlsInfo");
    assert_eq!(si.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(ci.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(si.server_name.as_deref(), Some("localhost"));
    assert!(si.is_tls13() && ci.is_tls13());
    assert_eq!(ci.peer_certificates.len(), 1);
    assert_eq!(s.chain, ["tls", "tcp"]);
    assert_eq!(c.chain, ["tls", "tcp"]);
}

#[tokio::test]
async fn the_endpoint_ip_is_verified_when_no_sni_is_given() {
    let pki = Pki::new("ip");
    let listen = format!("tls+tcp://127.0.0.1:0?{}", pki.server_opts());
    let connect = format!("tls+tcp://{{}}?tls.ca={}", pki.path("ca.pem"));
    let (c, s) = exchange(&listen, None, &connect, b"by address").await;
    assert_eq!(c.got, b"by address");
    let si = s.info.unwrap();
    assert_eq!(si.server_name, None, "no SNI is sent for an IP address");
    assert_eq!(si.alpn, None);
}

#[tokio::test]
async fn echo_over_tls_unix() {
    let pki = Pki::new("unix");
    let path = sock_path("tls");
    let listen = format!("tls+unix://{}?{}", path.display(), pki.server_opts());
    // No tls.sni: a Unix path verifies `localhost`.
    let connect = format!("tls+unix://{{}}?tls.ca={}", pki.path("ca.pem"));
    let (c, s) = exchange(&listen, None, &connect, b"over a unix socket").await;
    assert_eq!(c.got, b"over a unix socket");
    assert_eq!(s.chain, ["tls", "unix"]);
    assert_eq!(s.info.unwrap().server_name.as_deref(), Some("localhost"));
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn nested_tls_over_tls_over_tcp() {
    let pki = Pki::new("nested");
    let listen = format!(
        "tls+tls+tcp://127.0.0.1:0?{}&tls.alpn=h2",
        pki.server_opts()
    );
    let connect = format!(
        "tls+tls+tcp://{{}}?tls.ca={}&tls.sni=localhost&tls.alpn=h2",
        pki.path("ca.pem")
    );
    let (c, s) = exchange(&listen, None, &connect, b"twice wrapped").await;
    assert_eq!(c.got, b"twice wrapped");
    assert_eq!(s.chain, ["tls", "tls", "tcp"]);
    assert_eq!(c.chain, ["tls", "tls", "tcp"]);
    assert_eq!(s.info.unwrap().alpn.as_deref(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn the_self_signed_default_is_accepted_only_when_insecure() {
    let id = server_identity(&ep("tls+tcp://127.0.0.1:0"))
        .unwrap()
        .unwrap();
    assert!(id.is_self_signed());
    let (c, _) = exchange(
        "tls+tcp://127.0.0.1:0",
        Some(id.clone()),
        "tls+tcp://{}?tls.insecure=true",
        b"trust me",
    )
    .await;
    assert_eq!(c.got, b"trust me");
    let cert = &c.info.unwrap().peer_certificates[0];
    let digest = ring::digest::digest(&ring::digest::SHA256, cert);
    assert_eq!(
        digest.as_ref(),
        id.fingerprint(),
        "the fingerprint shown is the one served"
    );

    // A client that trusts another CA rejects it, with a typed error.
    let pki = Pki::new("untrusted");
    let connect = format!("tls+tcp://{{}}?tls.ca={}", pki.path("ca.pem"));
    let (c, s) = exchange("tls+tcp://127.0.0.1:0", None, &connect, b"x").await;
    assert!(c.got.is_empty() && s.got.is_empty());
    match tls_error(&c.lost) {
        Some(TlsError::Certificate(rustls::Error::InvalidCertificate(_))) => {}
        other => panic!(
            "expected a certificate error, got {other:?} from {:?}",
            c.lost
        ),
    }
    assert!(!s.lost.unwrap().is_clean());
}

#[tokio::test]
async fn a_client_trusts_a_self_signed_server_through_its_certificate_pem() {
    let id = strata_tokio::TlsIdentity::self_signed().unwrap();
    let pki = Pki::new("self-signed-pem");
    std::fs::write(pki.path("served.pem"), id.certificate_pem()).unwrap();
    let connect = format!("tls+tcp://{{}}?tls.ca={}", pki.path("served.pem"));
    let (c, s) = exchange("tls+tcp://127.0.0.1:0", Some(id.clone()), &connect, b"pem").await;
    assert_eq!(c.got, b"pem", "verified, not insecure: {:?}", c.lost);
    assert!(s.lost.unwrap().is_clean());
    let served = &c.info.unwrap().peer_certificates[0];
    assert_eq!(served, &id.certificate_der());
}

#[tokio::test]
async fn a_server_with_a_ca_requires_client_certificates() {
    let pki = Pki::new("mtls");
    let listen = format!(
        "tls+tcp://127.0.0.1:0?{}&tls.ca={}",
        pki.server_opts(),
        pki.path("ca.pem")
    );
    let without = format!("tls+tcp://{{}}?tls.ca={}", pki.path("ca.pem"));
    let (c, s) = exchange(&listen, None, &without, b"no cert").await;
    assert!(s.got.is_empty(), "no plaintext reaches the server");
    match tls_error(&s.lost) {
        Some(TlsError::Certificate(rustls::Error::NoCertificatesPresented)) => {}
        other => panic!(
            "expected NoCertificatesPresented, got {other:?} from {:?}",
            s.lost
        ),
    }
    assert!(!c.lost.unwrap().is_clean());

    let with = format!(
        "tls+tcp://{{}}?tls.ca={}&tls.cert={}&tls.key={}",
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key")
    );
    let (c, s) = exchange(&listen, None, &with, b"with cert").await;
    assert_eq!(c.got, b"with cert");
    assert_eq!(s.info.unwrap().peer_certificates.len(), 1);
}

async fn listen_err(s: &str) -> TlsSetupError {
    let (f, _) = echo_server();
    match Server::new()
        .listen(&ep(s), f, ListenConfig::default())
        .await
    {
        Err(DriverError::Tls(e)) => e,
        other => panic!("expected a TLS setup error for {s}, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_certificate_and_key_files_are_typed_errors() {
    let pki = Pki::new("bad");
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let base = "tls+tcp://127.0.0.1:0";
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let missing = pki.path("missing.pem");

    let e = listen_err(&format!("{base}?tls.cert={missing}&tls.key={key}")).await;
    assert!(matches!(&e, TlsSetupError::Unreadable { path, .. } if path == Path::new(&missing)));
    assert!(e.to_string().contains("missing.pem"), "{e}");

    let e = listen_err(&format!("{base}?tls.cert={garbage}&tls.key={key}")).await;
    assert!(matches!(&e, TlsSetupError::NoCertificate { path } if path == Path::new(&garbage)));

    let e = listen_err(&format!("{base}?tls.cert={cert}&tls.key={cert}")).await;
    assert!(matches!(&e, TlsSetupError::NoKey { path } if path == Path::new(&cert)));

    let other = pki.path("other.key");
    let e = listen_err(&format!("{base}?tls.cert={cert}&tls.key={other}")).await;
    assert!(matches!(&e, TlsSetupError::KeyMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("other.key") && e.to_string().contains("server.pem"));

    let e = listen_err(&format!("{base}?tls.cert={cert}")).await;
    assert!(matches!(
        e,
        TlsSetupError::Incomplete {
            given: "cert",
            missing: "key"
        }
    ));

    let e = listen_err(&format!("{base}?tls.ca={garbage}")).await;
    assert!(matches!(&e, TlsSetupError::NoCertificate { path } if path == Path::new(&garbage)));

    // Client side: an unreadable CA file, and contradicting options.
    let proto = Box::new(Echo(Shared::default()));
    let stack = Arc::new(StackConfig::default());
    let bad_ca = ep(&format!("{base}?tls.ca={missing}"));
    assert!(matches!(
        strata_tokio::connect(&bad_ca, proto, stack.clone()).await,
        Err(DriverError::Tls(TlsSetupError::Unreadable { .. }))
    ));
    let both = ep(&format!("{base}?tls.ca={cert}&tls.insecure=true"));
    let proto = Box::new(Echo(Shared::default()));
    assert!(matches!(
        strata_tokio::connect(&both, proto, stack).await,
        Err(DriverError::Tls(TlsSetupError::Conflict("insecure", "ca")))
    ));
}

#[tokio::test]
async fn option_values_are_checked() {
    let (f, _) = echo_server();
    // The parser refuses values out of bounds (`alpn=h2,,x`, `insecure=yes`);
    // an endpoint built by hand skips it, and the driver still checks.
    let bad = |s: &str| {
        let (base, opt) = s.split_once('?').unwrap();
        let (name, value) = opt.split_once('=').unwrap();
        let mut e = ep(base);
        e.options.push(strata::endpoint::LayerOption {
            layer: "tls".into(),
            key: name.trim_start_matches("tls.").into(),
            value: value.into(),
        });
        e
    };
    for s in [
        "tls+tcp://127.0.0.1:0?tls.alpn=h2,,x",
        "tls+tcp://127.0.0.1:0?tls.sni=localhost",
        "tls+tcp://127.0.0.1:0?tls.insecure=true",
    ] {
        match Server::new()
            .listen(&bad(s), f.clone(), ListenConfig::default())
            .await
        {
            Err(DriverError::BadOption { layer, .. }) => assert_eq!(layer, "tls"),
            other => panic!("{s}: expected BadOption, got {other:?}"),
        }
    }
    let proto = Box::new(Echo(Shared::default()));
    let r = strata_tokio::connect(
        &bad("tls+tcp://127.0.0.1:1?tls.insecure=yes"),
        proto,
        Arc::new(StackConfig::default()),
    )
    .await;
    assert!(matches!(r, Err(DriverError::BadOption { .. })));
}
