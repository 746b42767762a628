//! The TLS layer under attack and misconfiguration: every failure ends with
//! the alert on the wire (where there is one) and a typed `TlsError` in the
//! inner protocol's `connection_lost`, on both sides.

mod tls_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::{AlertDescription, CertificateError};
use strata::testing::{Pump, RunOutcome};
use strata::tls::{ServerTls, Tls, TlsError};
use strata::{Close, Stack, Timeout};
use tls_support::*;

const NAME: &str = "example.test";

fn err_of(r: &Rec) -> TlsError {
    let why = r.lost().expect("connection_lost ran");
    tls_error(&why)
        .unwrap_or_else(|| panic!("not a TLS error: {why:?}"))
        .clone()
}

/// Runs a TLS client against a TLS server and returns both records.
fn run(c: Tls<Probe>, s: Tls<Probe>) -> Pump {
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(30)), RunOutcome::Finished);
    pump
}

#[test]
fn a_record_tampered_in_flight_ends_with_an_alert_and_typed_errors() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let armed = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let arm = armed.clone();
    // The client writes once the server's greeting proves the handshake done.
    let c = Probe::new(&crec).data(move |t, _| {
        arm.store(true, Ordering::SeqCst);
        t.write(b"secret");
    });
    let s = Probe::new(&srec).made(|t| t.write(b"hello"));
    let c = Tls::new(c, &client(client_config(ca.roots(), &[], ALL), NAME)).unwrap();
    let c = Tamper::new(c, armed, done.clone());
    let s = Tls::new(s, &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert!(done.load(Ordering::SeqCst), "one record was tampered with");
    assert_eq!(
        srec.data(),
        b"",
        "nothing tampered reached the server's protocol"
    );
    assert!(
        matches!(
            err_of(&srec),
            TlsError::PeerMisbehaved(rustls::Error::DecryptError)
        ),
        "{:?}",
        err_of(&srec)
    );
    assert!(matches!(
        err_of(&crec),
        TlsError::AlertReceived(AlertDescription::BadRecordMac)
    ));
    // Who is at fault, through the core's taxonomy: the tampered record is
    // the peer's misbehaviour to the server; the client was rejected.
    assert_eq!(
        srec.lost().unwrap().kind(),
        Some(strata::Fault::PeerMisbehaved)
    );
    assert_eq!(
        crec.lost().unwrap().kind(),
        Some(strata::Fault::PeerAborted)
    );
}

#[test]
fn eof_in_the_middle_of_the_handshake_is_a_truncated_handshake() {
    // A real ClientHello, cut in half, then EOF.
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let hello = {
        let rec = Rec::default();
        let c = Tls::new(
            Probe::new(&rec),
            &client(client_config(ca.roots(), &[], ALL), NAME),
        );
        let mut s = Stack::memory(Box::new(c.unwrap()));
        let now = s.now();
        s.take_output(now)
    };
    let half = hello[..hello.len() / 2].to_vec();
    let raw = Rec::default();
    let c = Probe::new(&raw).made(move |t| {
        t.write(&half);
        t.write_eof();
    });
    let srec = Rec::default();
    let s = Tls::new(Probe::new(&srec), &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    pump.run(Duration::from_secs(5));
    assert!(matches!(err_of(&srec), TlsError::HandshakeTruncated));
    assert_eq!(srec.events(), vec!["made", "lost"]);
    // Nothing to send back: the server's stack itself ends with the reason.
    let why = pump.b().finished().unwrap().clone();
    assert!(matches!(
        tls_error(&why),
        Some(TlsError::HandshakeTruncated)
    ));
}

#[test]
fn garbage_instead_of_a_client_hello_gets_an_alert() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let raw = Rec::default();
    let c = Probe::new(&raw).made(|t| t.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    let srec = Rec::default();
    let s = Tls::new(Probe::new(&srec), &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    pump.run(Duration::from_secs(5));
    let e = err_of(&srec);
    assert!(matches!(e, TlsError::PeerMisbehaved(_)), "{e:?}");
    assert_eq!(srec.data(), b"");
    let reply = raw.data();
    assert_eq!(
        reply.first(),
        Some(&0x15),
        "an alert record came back: {reply:?}"
    );
    assert!(raw.events().contains(&"eof".to_owned()));
}

fn untrusted_like(cfg_client: rustls::ClientConfig, name: &str, leaf: &Leaf) -> (Rec, Rec) {
    let (srec, crec) = (Rec::default(), Rec::default());
    let c = Tls::new(
        Probe::new(&crec).made(|t| t.write(b"x")),
        &client(cfg_client, name),
    );
    let s = Tls::new(Probe::new(&srec), &server(server_config(leaf, &[], ALL)));
    run(c.unwrap(), s.unwrap());
    assert_eq!(srec.data(), b"", "the client's plaintext never left");
    (srec, crec)
}

fn cert_error(r: &Rec) -> CertificateError {
    match err_of(r) {
        TlsError::Certificate(rustls::Error::InvalidCertificate(c)) => c,
        e => panic!("not a certificate error: {e:?}"),
    }
}

#[test]
fn an_untrusted_certificate_is_rejected() {
    let ca = Ca::new("ca");
    let other = Ca::new("other ca");
    let leaf = ca.leaf(&[NAME]);
    let cfg = client_config(other.roots(), &[], ALL);
    let (srec, crec) = untrusted_like(cfg, NAME, &leaf);
    assert_eq!(cert_error(&crec), CertificateError::UnknownIssuer);
    assert!(matches!(
        err_of(&srec),
        TlsError::AlertReceived(AlertDescription::UnknownCA)
    ));
}

#[test]
fn a_certificate_for_another_name_is_rejected() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let cfg = client_config(ca.roots(), &[], ALL);
    let (srec, crec) = untrusted_like(cfg, "other.test", &leaf);
    assert!(
        matches!(
            cert_error(&crec),
            CertificateError::NotValidForNameContext { .. }
        ),
        "{:?}",
        cert_error(&crec)
    );
    assert!(matches!(err_of(&srec), TlsError::AlertReceived(_)));
}

#[test]
fn an_expired_certificate_is_rejected() {
    let ca = Ca::new("ca");
    let leaf = ca.expired_leaf(&[NAME]);
    let cfg = client_config(ca.roots(), &[], ALL);
    let (srec, crec) = untrusted_like(cfg, NAME, &leaf);
    assert!(
        matches!(cert_error(&crec), CertificateError::ExpiredContext { .. }),
        "{:?}",
        cert_error(&crec)
    );
    assert!(matches!(
        err_of(&srec),
        TlsError::AlertReceived(AlertDescription::CertificateExpired)
    ));
}

#[test]
fn a_missing_client_certificate_is_rejected_when_required() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let scfg = ServerTls::new(&leaf.id).client_roots(ca.roots()).build();
    let (srec, crec) = (Rec::default(), Rec::default());
    let c = Probe::new(&crec).made(|t| t.write(b"let me in"));
    let c = Tls::new(c, &client(client_config(ca.roots(), &[], ALL), NAME)).unwrap();
    let s = Tls::new(Probe::new(&srec), &scfg.unwrap()).unwrap();
    run(c, s);
    assert!(matches!(
        err_of(&srec),
        TlsError::Certificate(rustls::Error::NoCertificatesPresented)
    ));
    assert!(matches!(
        err_of(&crec),
        TlsError::AlertReceived(AlertDescription::CertificateRequired)
    ));
    assert_eq!(
        srec.data(),
        b"",
        "the unauthenticated client's data was not delivered"
    );
}

#[test]
fn the_handshake_times_out_at_the_virtual_deadline() {
    let ca = Ca::new("ca");
    let crec = Rec::default();
    let silent = Rec::default();
    let cfg =
        client(client_config(ca.roots(), &[], ALL), NAME).handshake_timeout(Duration::from_secs(3));
    let c = Tls::new(Probe::new(&crec), &cfg).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(Probe::new(&silent)));
    pump.run(Duration::from_secs(60));
    assert_eq!(pump.elapsed(), Duration::from_secs(3));
    assert!(matches!(
        crec.lost(),
        Some(Close::Timeout(Timeout::Handshake))
    ));
    assert!(matches!(
        pump.a().finished(),
        Some(Close::Timeout(Timeout::Handshake))
    ));
    // The default is 10 s.
    let crec = Rec::default();
    let cfg = client(client_config(ca.roots(), &[], ALL), NAME);
    let c = Tls::new(Probe::new(&crec), &cfg).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(Probe::new(&Rec::default())));
    pump.run(Duration::from_secs(60));
    assert_eq!(pump.elapsed(), Duration::from_secs(10));
    assert!(matches!(
        crec.lost(),
        Some(Close::Timeout(Timeout::Handshake))
    ));
}

#[test]
fn a_peer_that_drops_the_transport_without_close_notify_is_a_truncation() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    // After the handshake and some data, the client's transport reports EOF
    // with no close_notify before it (a cut connection, or an attacker).
    let s = Probe::new(&srec).made(|t| t.write(b"partial"));
    let c = Probe::new(&crec);
    let c = Tls::new(c, &client(client_config(ca.roots(), &[], ALL), NAME)).unwrap();
    let s = Tls::new(s, &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    pump.run_until_idle();
    assert_eq!(crec.data(), b"partial");
    // The server's socket goes away without a TLS close.
    let now = pump.now();
    pump.a_mut().handle_eof(now);
    let e = err_of(&crec);
    assert!(matches!(e, TlsError::Truncated), "{e:?}");
}
