//! Closing before the handshake completes and closing after a fatal error:
//! `write_eof` and `close` asked for while the handshake runs are carried
//! out once it completes (after the plaintext queued before them), and a
//! connection that failed with an alert finishes as soon as the alert is
//! flushed rather than at the stack's close timeout.

mod tls_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::{AlertDescription, CertificateError};
use strata::testing::{Pump, RunOutcome};
use strata::tls::{Tls, TlsError};
use strata::{Close, Timeout};
use tls_support::*;

const NAME: &str = "example.test";

/// Far below the stack's 10 s close timeout and the 10 s handshake timeout:
/// an in-memory exchange with no latency takes no virtual time at all.
const PROMPT: Duration = Duration::from_secs(1);

fn err_of(r: &Rec) -> TlsError {
    let why = r.lost().expect("connection_lost ran");
    tls_error(&why)
        .unwrap_or_else(|| panic!("not a TLS error: {why:?}"))
        .clone()
}

/// `echo hi | connect`: the client writes "h", "i" and half-closes in
/// `connection_made`, before any handshake byte has moved, then tries one
/// more write; the server echoes what it read once it sees EOF, then closes.
/// Returns the records and the pump, run to the end; also what `writable()`
/// said right after `write_eof`.
fn echo_after_early_eof(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (Rec, Rec, Pump, bool) {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let writable_after_eof = Arc::new(Mutex::new(None));
    let seen = writable_after_eof.clone();
    let c = Probe::new(&crec).made(move |t| {
        t.write(b"h");
        t.write(b"i");
        t.write_eof();
        *seen.lock().unwrap() = Some(t.writable());
        t.write(b"after eof");
    });
    let echo = srec.clone();
    let s = Probe::new(&srec).eof(move |t| {
        t.write(&echo.data());
        t.close();
    });
    let c = Tls::new(c, &client(client_config(ca.roots(), &[], versions), NAME)).unwrap();
    let s = Tls::new(s, &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(30)), RunOutcome::Finished);
    let writable = writable_after_eof.lock().unwrap().expect("made ran");
    (srec, crec, pump, writable)
}

#[test]
fn tls13_write_eof_before_the_handshake_half_closes_once_it_completes() {
    let (srec, crec, pump, writable) = echo_after_early_eof(TLS13);
    assert!(!writable, "nothing more may be written after write_eof");
    assert_eq!(
        srec.data(),
        b"hi",
        "the writes before EOF, in order, not the one after"
    );
    assert_eq!(srec.events(), vec!["made", "data", "eof", "lost"]);
    assert_eq!(crec.data(), b"hi", "the echo came back after our EOF");
    assert_eq!(crec.events(), vec!["made", "data", "eof", "lost"]);
    let info = crec.get(|r| r.info.clone()).unwrap();
    assert_eq!(info.version, rustls::ProtocolVersion::TLSv1_3);
    assert!(
        matches!(crec.lost(), Some(Close::Done)),
        "{:?}",
        crec.lost()
    );
    assert!(
        matches!(srec.lost(), Some(Close::Done)),
        "{:?}",
        srec.lost()
    );
    assert!(
        matches!(pump.a().finished(), Some(Close::Done)),
        "{:?}",
        pump.a().finished()
    );
    assert!(
        matches!(pump.b().finished(), Some(Close::Done)),
        "{:?}",
        pump.b().finished()
    );
    assert!(pump.elapsed() < PROMPT, "{:?}", pump.elapsed());
}

#[test]
fn tls12_write_eof_before_the_handshake_closes_once_it_completes() {
    // TLS 1.2 has no half-close: the client's write_eof becomes a close after
    // its data. The server still reads "hi" then EOF; its echo reaches a
    // client that already closed and is not delivered. Nobody hangs.
    let (srec, crec, pump, writable) = echo_after_early_eof(TLS12);
    assert!(!writable);
    assert_eq!(srec.data(), b"hi");
    assert_eq!(srec.events(), vec!["made", "data", "eof", "lost"]);
    assert_eq!(crec.data(), b"", "our write_eof closed: the echo is lost");
    assert_eq!(crec.events(), vec!["made", "lost"]);
    let info = srec.get(|r| r.info.clone()).unwrap();
    assert_eq!(info.version, rustls::ProtocolVersion::TLSv1_2);
    assert!(
        matches!(crec.lost(), Some(Close::Done)),
        "{:?}",
        crec.lost()
    );
    assert!(
        matches!(srec.lost(), Some(Close::Done)),
        "{:?}",
        srec.lost()
    );
    assert!(
        matches!(pump.a().finished(), Some(Close::Done)),
        "{:?}",
        pump.a().finished()
    );
    assert!(
        matches!(pump.b().finished(), Some(Close::Done)),
        "{:?}",
        pump.b().finished()
    );
    assert!(pump.elapsed() < PROMPT, "{:?}", pump.elapsed());
}

#[test]
fn close_after_an_early_write_eof_still_closes() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let c = Probe::new(&crec).made(|t| {
        t.write(b"last words");
        t.write_eof();
        t.close();
    });
    let s = Probe::new(&srec).eof(|t| {
        t.write(b"too late");
        t.close();
    });
    let c = Tls::new(c, &client(client_config(ca.roots(), &[], TLS13), NAME)).unwrap();
    let s = Tls::new(s, &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(30)), RunOutcome::Finished);
    assert_eq!(srec.data(), b"last words");
    assert_eq!(srec.events(), vec!["made", "data", "eof", "lost"]);
    assert_eq!(crec.events(), vec!["made", "lost"], "the close won");
    assert!(
        matches!(pump.a().finished(), Some(Close::Done)),
        "{:?}",
        pump.a().finished()
    );
    assert!(
        matches!(pump.b().finished(), Some(Close::Done)),
        "{:?}",
        pump.b().finished()
    );
    assert!(pump.elapsed() < PROMPT, "{:?}", pump.elapsed());
}

#[test]
fn close_before_the_handshake_is_bounded_by_the_handshake_timeout() {
    // The peer never answers: the close waits for the handshake, which times
    // out at its own deadline; the queued plaintext never leaves.
    let ca = Ca::new("ca");
    let (crec, silent) = (Rec::default(), Rec::default());
    let c = Probe::new(&crec).made(|t| {
        t.write(b"never sent");
        t.close();
    });
    let cfg =
        client(client_config(ca.roots(), &[], ALL), NAME).handshake_timeout(Duration::from_secs(3));
    let c = Tls::new(c, &cfg).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(Probe::new(&silent)));
    assert_eq!(pump.run(Duration::from_secs(60)), RunOutcome::Finished);
    assert_eq!(pump.elapsed(), Duration::from_secs(3));
    assert!(matches!(
        crec.lost(),
        Some(Close::Timeout(Timeout::Handshake))
    ));
    assert!(matches!(
        pump.a().finished(),
        Some(Close::Timeout(Timeout::Handshake))
    ));
    let wire = silent.data();
    assert_eq!(wire.first(), Some(&0x16), "a ClientHello went out");
    assert!(!wire.windows(10).any(|w| w == b"never sent"));
}

#[test]
fn an_untrusted_certificate_ends_when_the_alert_is_flushed() {
    // The client queued plaintext before the handshake; it can never be
    // sent, so the close below must not wait for it.
    let ca = Ca::new("ca");
    let other = Ca::new("other ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let c = Probe::new(&crec).made(|t| t.write(b"queued before the handshake"));
    let c = Tls::new(c, &client(client_config(other.roots(), &[], ALL), NAME)).unwrap();
    let s = Tls::new(Probe::new(&srec), &server(server_config(&leaf, &[], ALL))).unwrap();
    // The server closes its socket gracefully on the alert: nothing resets
    // the client's stack, which must finish on its own.
    let mut pump = Pump::new(Box::new(c), Box::new(Gentle(s)));
    assert_eq!(pump.run(Duration::from_secs(30)), RunOutcome::Finished);
    assert!(pump.elapsed() < PROMPT, "{:?}", pump.elapsed());
    assert!(matches!(
        err_of(&crec),
        TlsError::Certificate(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))
    ));
    assert!(matches!(
        err_of(&srec),
        TlsError::AlertReceived(AlertDescription::UnknownCA)
    ));
    // The client's stack closed gracefully to deliver the alert.
    assert!(
        matches!(pump.a().finished(), Some(Close::Done)),
        "{:?}",
        pump.a().finished()
    );
    assert_eq!(srec.data(), b"");
}

#[test]
fn a_failed_outer_session_drops_what_the_inner_session_queued() {
    // TLS over TLS: the inner client's ClientHello and plaintext wait in the
    // outer layer and in the inner layer; the outer handshake fails on the
    // certificate, and neither queue may hold the close open.
    let ca = Ca::new("ca");
    let other = Ca::new("other ca");
    let outer = ca.leaf(&["outer.test"]);
    let crec = Rec::default();
    let c = Probe::new(&crec).made(|t| t.write(b"inner plaintext"));
    let c = Tls::new(
        c,
        &client(client_config(ca.roots(), &[], ALL), "inner.test"),
    )
    .unwrap();
    let c = Tls::new(
        c,
        &client(client_config(other.roots(), &[], ALL), "outer.test"),
    )
    .unwrap();
    let srec = Rec::default();
    let s = Tls::new(Probe::new(&srec), &server(server_config(&outer, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(Gentle(s)));
    assert_eq!(pump.run(Duration::from_secs(30)), RunOutcome::Finished);
    assert!(pump.elapsed() < PROMPT, "{:?}", pump.elapsed());
    assert!(matches!(err_of(&crec), TlsError::Certificate(_)));
    assert!(
        matches!(pump.a().finished(), Some(Close::Done)),
        "{:?}",
        pump.a().finished()
    );
}

#[test]
fn a_tampered_handshake_record_ends_when_the_alert_is_flushed() {
    // Armed from the start, the tamper layer corrupts the client's first
    // encrypted record: its TLS 1.3 Finished. The server, which queued a
    // greeting before the handshake, answers with an alert and closes.
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let armed = Arc::new(AtomicBool::new(true));
    let done = Arc::new(AtomicBool::new(false));
    let c = Tls::new(
        Probe::new(&crec),
        &client(client_config(ca.roots(), &[], TLS13), NAME),
    )
    .unwrap();
    let c = Tamper::new(c, armed, done.clone());
    // The client closes gracefully on the alert: nothing resets the server.
    let c = Gentle(c);
    let s = Probe::new(&srec).made(|t| t.write(b"greeting"));
    let s = Tls::new(s, &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(30)), RunOutcome::Finished);
    assert!(done.load(Ordering::SeqCst), "one record was tampered with");
    assert!(pump.elapsed() < PROMPT, "{:?}", pump.elapsed());
    let e = err_of(&srec);
    assert!(
        matches!(e, TlsError::PeerMisbehaved(rustls::Error::DecryptError)),
        "{e:?}"
    );
    assert!(matches!(
        err_of(&crec),
        TlsError::AlertReceived(AlertDescription::BadRecordMac)
    ));
    assert!(
        matches!(pump.b().finished(), Some(Close::Done)),
        "{:?}",
        pump.b().finished()
    );
    assert_eq!(crec.data(), b"", "the greeting never left the server");
}
