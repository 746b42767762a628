//! STARTTLS over real loopback TCP: an SMTP-like line protocol served with
//! `Server::listen_tcp` upgrades in place with `strata::tls::starttls`,
//! against a strata client that upgrades too, and plaintext pipelined
//! behind STARTTLS by a raw socket ends as a TLS error, never a command.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, within};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use strata::endpoint::Endpoint;
use strata::framing::{send_line, LineProtocol, Lines};
use strata::tls::{starttls, TlsConfig, TlsError, TlsInfo};
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{registry, ListenConfig, Server, StreamFactory, TlsIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA and a leaf for `localhost` it signed, as PEM files, and the TLS
/// configurations of both ends built from them by the driver.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("strata-stls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca_cert, &ca_key)
            .unwrap();
        std::fs::write(dir.join("leaf.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("leaf.key"), key.serialize_pem()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        Pki { dir }
    }

    fn server(&self) -> TlsConfig {
        let id = TlsIdentity::load(&self.dir.join("leaf.pem"), &self.dir.join("leaf.key")).unwrap();
        let ep = Endpoint::parse_with("tls+tcp://127.0.0.1:0", &registry()).unwrap();
        strata_tokio::server_config(&ep, &id).unwrap()
    }

    fn client(&self) -> TlsConfig {
        let url = format!(
            "tls+tcp://127.0.0.1:1?tls.sni=localhost&tls.ca={}",
            self.dir.join("ca.pem").display()
        );
        strata_tokio::client_config(&Endpoint::parse_with(&url, &registry()).unwrap()).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one end saw, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// The server: greets in plaintext, upgrades on STARTTLS, then answers
/// every line with `250 <line>`. Logs each line (with whether it came over
/// TLS) and how the connection ended.
struct Smtp {
    tls: TlsConfig,
    log: Log,
}

impl LineProtocol for Smtp {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        send_line(t, b"220 ready");
    }
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        let line = String::from_utf8_lossy(line).into_owned();
        let over_tls = t.get::<TlsInfo>().is_some();
        self.log.push(format!("{line} tls={over_tls}"));
        if line == "STARTTLS" && !over_tls {
            send_line(t, b"220 go ahead");
            // `Lines` adds the bytes it holds after this line: they are
            // fed to the new layer as TLS records.
            let leftover = Vec::new();
            if let Err(e) = t.request_swap(starttls(self.tls.clone()), leftover) {
                self.log.push(format!("swap refused: {e}"));
                t.close();
            }
        } else {
            send_line(t, format!("250 {line}").as_bytes());
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        let entry = match why {
            Close::Aborted { layer: "tls", .. } => match why.error::<TlsError>() {
                Some(TlsError::PeerMisbehaved(r)) => format!("lost: TlsError::PeerMisbehaved({r})"),
                Some(other) => format!("lost: TlsError {other}"),
                None => format!("lost: {why:?}"),
            },
            _ if why.is_clean() => "lost: clean".to_string(),
            _ => format!("lost: {why:?}"),
        };
        self.log.push(entry);
    }
}

/// The client: STARTTLS after the greeting, inserts TLS below itself on
/// "220 go ahead" and sends HELLO through it; closes on the answer.
struct Client {
    tls: TlsConfig,
    log: Log,
    info: Arc<Mutex<Option<TlsInfo>>>,
}

impl LineProtocol for Client {
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        self.log.push(String::from_utf8_lossy(line).into_owned());
        match line {
            b"220 ready" => send_line(t, b"STARTTLS"),
            b"220 go ahead" => {
                match t.request_swap(starttls(self.tls.clone()), Vec::new()) {
                    // Written after the request: goes through TLS.
                    Ok(()) => send_line(t, b"HELLO"),
                    Err(e) => {
                        self.log.push(format!("swap refused: {e}"));
                        t.close();
                    }
                }
            }
            _ => {
                *self.info.lock().unwrap() = t.get::<TlsInfo>().cloned();
                self.log.push(format!("chain={:?}", t.layer_chain()));
                t.close();
            }
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.close();
    }
}

/// Serves [`Smtp`] on a loopback TCP port; every connection logs into the
/// returned list.
async fn serve(tls: TlsConfig) -> (Server, SocketAddr, Arc<Mutex<Vec<Log>>>) {
    let server = Server::new();
    let logs: Arc<Mutex<Vec<Log>>> = Arc::default();
    let l = logs.clone();
    let f: StreamFactory = Arc::new(move || {
        let log = Log::default();
        l.lock().unwrap().push(log.clone());
        Box::new(Lines::new(Smtp {
            tls: tls.clone(),
            log,
        })) as Box<dyn StreamProtocol>
    });
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    (server, addr, logs)
}

/// The log of the first connection, once it has ended.
async fn ended(logs: &Arc<Mutex<Vec<Log>>>) -> Vec<String> {
    eventually("the server connection ends", || {
        logs.lock()
            .unwrap()
            .first()
            .is_some_and(|l| l.get().last().is_some_and(|e| e.starts_with("lost: ")))
    })
    .await;
    logs.lock().unwrap()[0].get()
}

#[tokio::test]
async fn starttls_upgrades_both_ends_over_tcp() {
    let pki = Pki::new("upgrade");
    let (server, addr, logs) = serve(pki.server()).await;
    let (log, info) = (Log::default(), Arc::new(Mutex::new(None)));
    let client = Lines::new(Client {
        tls: pki.client(),
        log: log.clone(),
        info: info.clone(),
    });
    let ep = Endpoint::parse_with(&format!("tcp://{addr}"), &registry()).unwrap();
    let conn = strata_tokio::connect(&ep, Box::new(client), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let why = within("the client ends", conn.closed()).await;
    assert!(why.is_clean(), "{why:?}");
    assert_eq!(
        log.get(),
        [
            "220 ready",
            "220 go ahead",
            "250 HELLO",
            r#"chain=["lines", "tls", "tcp"]"#
        ]
    );
    let info = info
        .lock()
        .unwrap()
        .clone()
        .expect("TlsInfo over the upgrade");
    assert_eq!(info.peer_certificates.len(), 1);
    assert!(info.is_tls13());
    assert_eq!(
        ended(&logs).await,
        ["STARTTLS tls=false", "HELLO tls=true", "lost: clean"]
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn plaintext_injected_after_starttls_is_a_tls_error_not_a_command() {
    let pki = Pki::new("inject");
    let (server, addr, logs) = serve(pki.server()).await;
    let mut raw = within("connect", tokio::net::TcpStream::connect(addr))
        .await
        .unwrap();
    let mut greeting = [0u8; 11];
    within("the greeting", raw.read_exact(&mut greeting))
        .await
        .unwrap();
    assert_eq!(&greeting, b"220 ready\r\n");
    // One write: the upgrade and a command smuggled behind it.
    raw.write_all(b"STARTTLS\r\nINJECTED\r\n").await.unwrap();
    let plain = b"220 go ahead\r\n";
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let mut shut = false;
    loop {
        match within("the server closes", raw.read(&mut buf)).await {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
        // Once the alert is in, end our side too, as a TLS client would:
        // the server need not wait for the peer to close.
        if reply.len() > plain.len() && !shut {
            shut = true;
            raw.shutdown().await.unwrap();
        }
    }
    assert!(reply.starts_with(plain), "{reply:?}");
    assert_eq!(reply.get(plain.len()), Some(&0x15), "then a TLS alert");
    assert!(
        !reply.windows(12).any(|w| w == b"250 INJECTED"),
        "{reply:?}"
    );
    let log = ended(&logs).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        log[0], "STARTTLS tls=false",
        "INJECTED never reached the protocol"
    );
    assert!(
        log[1].starts_with("lost: TlsError::PeerMisbehaved("),
        "{log:?}"
    );
    server.shutdown(Duration::from_secs(1)).await;
}
