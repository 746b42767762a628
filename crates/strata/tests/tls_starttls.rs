//! STARTTLS in memory: a small SMTP-like line protocol upgrades to TLS with
//! `SwapRequest::insert_below`, and plaintext pipelined after STARTTLS ends
//! as a handshake failure, never as a command.

mod tls_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::framing::{send_line, LineProtocol, Lines};
use strata::testing::{Pump, RunOutcome};
use strata::tls::{starttls, TlsConfig, TlsError, TlsInfo};
use strata::{Close, StreamTransport};
use tls_support::*;

const NAME: &str = "mail.test";

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// The server: greets in plaintext, upgrades on STARTTLS, then answers each
/// command saying whether it came over TLS.
struct Server {
    tls: TlsConfig,
    log: Log,
    lost: Arc<Mutex<Option<Close>>>,
}

impl LineProtocol for Server {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        send_line(t, b"220 greeting");
    }
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        let line = String::from_utf8_lossy(line).into_owned();
        let over_tls = t.get::<TlsInfo>().is_some();
        self.log
            .push(format!("{line} tls={over_tls} chain={:?}", t.layer_chain()));
        if line == "STARTTLS" {
            send_line(t, b"220 go ahead");
            t.request_swap(starttls(self.tls.clone()), Vec::new())
                .unwrap();
        } else {
            send_line(t, format!("250 {line} tls={over_tls}").as_bytes());
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        *self.lost.lock().unwrap() = Some(why.clone());
    }
}

/// The client: asks for STARTTLS after the greeting, upgrades on "220 go
/// ahead" and sends its secret through the new layer in the same callback.
struct Client {
    tls: TlsConfig,
    log: Log,
}

impl LineProtocol for Client {
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        self.log.push(String::from_utf8_lossy(line).into_owned());
        match line {
            b"220 greeting" => send_line(t, b"STARTTLS"),
            b"220 go ahead" => {
                t.request_swap(starttls(self.tls.clone()), Vec::new())
                    .unwrap();
                // Written after the request: goes through TLS.
                send_line(t, b"HELLO SECRET");
            }
            _ => t.close(),
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.close();
    }
}

#[test]
fn starttls_upgrades_a_line_protocol_in_place() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (slog, clog) = (Log::default(), Log::default());
    let lost = Arc::new(Mutex::new(None));
    let s = Server {
        tls: server(server_config(&leaf, &[], ALL)),
        log: slog.clone(),
        lost: lost.clone(),
    };
    let c = Client {
        tls: client(client_config(ca.roots(), &[], ALL), NAME),
        log: clog.clone(),
    };
    let mut pump = Pump::new(Box::new(Lines::new(c)), Box::new(Lines::new(s)));
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert_eq!(
        slog.take(),
        vec![
            r#"STARTTLS tls=false chain=["lines", "memory"]"#,
            r#"HELLO SECRET tls=true chain=["lines", "tls", "memory"]"#,
        ]
    );
    assert_eq!(
        clog.take(),
        vec!["220 greeting", "220 go ahead", "250 HELLO SECRET tls=true"]
    );
    assert!(lost.lock().unwrap().as_ref().unwrap().is_clean());
    assert!(pump.a().finished().unwrap().is_clean());
    assert!(pump.b().finished().unwrap().is_clean());
}

#[test]
fn plaintext_pipelined_after_starttls_is_a_handshake_failure_not_a_command() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let slog = Log::default();
    let lost = Arc::new(Mutex::new(None));
    let s = Server {
        tls: server(server_config(&leaf, &[], ALL)),
        log: slog.clone(),
        lost: lost.clone(),
    };
    let raw = Rec::default();
    // One chunk: the upgrade and an injected command behind it.
    let c = Probe::new(&raw).made(|t| t.write(b"STARTTLS\r\nMAIL FROM:<evil>\r\n"));
    let mut pump = Pump::new(Box::new(c), Box::new(Lines::new(s)));
    pump.run(Duration::from_secs(5));
    assert_eq!(
        slog.take(),
        vec![r#"STARTTLS tls=false chain=["lines", "memory"]"#],
        "the injected command never reached the line protocol"
    );
    let why = lost.lock().unwrap().clone().expect("connection_lost ran");
    assert!(
        matches!(tls_error(&why), Some(TlsError::PeerMisbehaved(_))),
        "{why:?}"
    );
    let reply = raw.data();
    let plain = b"220 greeting\r\n220 go ahead\r\n";
    assert!(reply.starts_with(plain), "{reply:?}");
    assert_eq!(reply.get(plain.len()), Some(&0x15), "then a TLS alert");
}
