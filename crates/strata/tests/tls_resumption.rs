//! Session resumption through the TLS layer in memory: a client that reuses
//! its `Arc<ClientConfig>` resumes on its second connection to a server that
//! reuses its `Arc<ServerConfig>`, with TLS 1.3 and TLS 1.2, with the
//! server's default session cache and with a ticketer; `TlsInfo::resumed`
//! says which. A fresh client config, or a server that forgot the session,
//! falls back to a full handshake.

mod tls_support;

use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig, SupportedProtocolVersion};
use strata::testing::{Pump, RunOutcome};
use strata::tls::{Tls, TlsConfig, TlsInfo};
use tls_support::*;

const NAME: &str = "resume.test";

/// One echo exchange between a client and a server built from these
/// configurations; returns what the client and the server saw.
fn exchange(client_cfg: &Arc<ClientConfig>, server_cfg: &Arc<ServerConfig>) -> (TlsInfo, TlsInfo) {
    let (srec, crec) = (Rec::default(), Rec::default());
    let s = Probe::new(&srec).data(|t, d| {
        t.write(&d.to_ascii_uppercase());
        t.close();
    });
    let c = Probe::new(&crec).made(|t| t.write(b"ping"));
    let ccfg = TlsConfig::client(client_cfg.clone(), NAME.try_into().unwrap());
    let scfg = TlsConfig::server(server_cfg.clone());
    let mut pump = Pump::new(
        Box::new(Tls::new(c, &ccfg).unwrap()),
        Box::new(Tls::new(s, &scfg).unwrap()),
    );
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert!(pump.a().finished().unwrap().is_clean());
    assert!(pump.b().finished().unwrap().is_clean());
    assert_eq!(crec.data(), b"PING");
    assert_eq!(srec.data(), b"ping");
    let ci = crec.get(|r| r.info.clone()).expect("client saw TlsInfo");
    let si = srec.get(|r| r.info.clone()).expect("server saw TlsInfo");
    (ci, si)
}

struct Setup {
    ca: Ca,
    leaf: Leaf,
}

impl Setup {
    fn new() -> Setup {
        let ca = Ca::new("resumption ca");
        let leaf = ca.leaf(&[NAME]);
        Setup { ca, leaf }
    }

    fn server(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        tickets: bool,
    ) -> Arc<ServerConfig> {
        let mut cfg = server_config(&self.leaf, &[], versions);
        if tickets {
            cfg.ticketer = rustls::crypto::ring::Ticketer::new().unwrap();
        }
        Arc::new(cfg)
    }

    fn client(&self, versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
        Arc::new(client_config(self.ca.roots(), &[], versions))
    }
}

fn check_resumes(versions: &[&'static SupportedProtocolVersion], tickets: bool) {
    let what = format!("{versions:?}, tickets {tickets}");
    let s = Setup::new();
    let server = s.server(versions, tickets);
    let client = s.client(versions);
    let (c1, s1) = exchange(&client, &server);
    assert!(
        !c1.resumed && !s1.resumed,
        "{what}: the first is a full handshake"
    );
    assert_eq!(c1.version, versions[0].version, "{what}");
    let (c2, s2) = exchange(&client, &server);
    assert!(c2.resumed, "{what}: the client resumed");
    assert!(s2.resumed, "{what}: the server resumed");
    assert_eq!(c2.version, versions[0].version, "{what}");
    // The resumed session still names the certificate of the full handshake.
    assert_eq!(c2.peer_certificates, c1.peer_certificates, "{what}");
    assert_eq!(c2.peer_certificates, vec![s.leaf.cert.as_ref().to_vec()]);
    // And it keeps resuming.
    let (c3, s3) = exchange(&client, &server);
    assert!(c3.resumed && s3.resumed, "{what}: the third resumed too");
}

#[test]
fn tls13_resumes_with_the_default_session_cache() {
    check_resumes(TLS13, false);
}

#[test]
fn tls13_resumes_with_a_ticketer() {
    check_resumes(TLS13, true);
}

#[test]
fn tls12_resumes_by_session_id() {
    check_resumes(TLS12, false);
}

#[test]
fn tls12_resumes_with_a_ticketer() {
    check_resumes(TLS12, true);
}

#[test]
fn a_fresh_client_config_does_a_full_handshake() {
    for versions in [TLS13, TLS12] {
        let s = Setup::new();
        let server = s.server(versions, true);
        let (c1, _) = exchange(&s.client(versions), &server);
        let (c2, s2) = exchange(&s.client(versions), &server);
        assert!(!c1.resumed && !c2.resumed && !s2.resumed, "{versions:?}");
    }
}

#[test]
fn a_server_that_forgot_the_session_falls_back_to_a_full_handshake() {
    for (versions, tickets) in [(TLS13, false), (TLS13, true), (TLS12, false), (TLS12, true)] {
        let s = Setup::new();
        let client = s.client(versions);
        let (c1, _) = exchange(&client, &s.server(versions, tickets));
        // Another server config: another session cache, another ticket key.
        let (c2, s2) = exchange(&client, &s.server(versions, tickets));
        assert!(!c1.resumed, "{versions:?} {tickets}");
        assert!(
            !c2.resumed && !s2.resumed,
            "{versions:?} {tickets}: not resumed"
        );
        assert_eq!(c2.peer_certificates, vec![s.leaf.cert.as_ref().to_vec()]);
    }
}
