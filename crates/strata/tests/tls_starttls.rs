//! STARTTLS in memory: a small SMTP-like line protocol upgrades to TLS with
//! `SwapRequest::insert_below`, and plaintext pipelined after STARTTLS ends
//! as a handshake failure, never as a command. Each runs at every depth
//! (memory bottom, over TLS, TLS in TLS, in an HTTP/2 CONNECT stream): over
//! TLS, STARTTLS puts a second TLS layer above the first.

mod depth;
mod tls_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use depth::{Depth, DEPTHS};
use strata::framing::{send_line, LineProtocol, Lines};
use strata::testing::RunOutcome;
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

/// The chain a line protocol at `depth` sees, with `extra` layers between.
fn chain(extra: &[&'static str], depth: Depth) -> Vec<&'static str> {
    let mut c = vec!["lines"];
    c.extend_from_slice(extra);
    c.extend(depth.layers());
    c
}

/// Whether TLS details are already there before STARTTLS (TLS below).
fn tls_below(depth: Depth) -> bool {
    depth.layers().contains(&"tls")
}

fn upgrade_in_place(depth: Depth) {
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
    let mut pump = depth.pair(Box::new(Lines::new(c)), Box::new(Lines::new(s)));
    assert_eq!(
        pump.run(Duration::from_secs(5)),
        RunOutcome::Finished,
        "{depth:?}"
    );
    assert_eq!(
        slog.take(),
        vec![
            format!(
                "STARTTLS tls={} chain={:?}",
                tls_below(depth),
                chain(&[], depth)
            ),
            format!("HELLO SECRET tls=true chain={:?}", chain(&["tls"], depth)),
        ],
        "{depth:?}"
    );
    assert_eq!(
        clog.take(),
        vec!["220 greeting", "220 go ahead", "250 HELLO SECRET tls=true"],
        "{depth:?}"
    );
    let l = lost.lock().unwrap().clone().expect("connection_lost ran");
    if depth == Depth::H2Connect {
        // In a tunnel, the client's close ends its HTTP/2 stream with
        // RST_STREAM(NO_ERROR) once its side is done: the server's stream
        // sees the reset. The connections below still end cleanly.
        assert!(
            l.is_clean()
                || matches!(
                    l,
                    Close::Aborted {
                        layer: "h2-stream",
                        ..
                    }
                ),
            "{depth:?}: {l:?}"
        );
    } else {
        assert!(l.is_clean(), "{depth:?}: {l:?}");
    }
    assert!(pump.a().finished().unwrap().is_clean(), "{depth:?}");
    assert!(pump.b().finished().unwrap().is_clean(), "{depth:?}");
}

#[test]
fn starttls_upgrades_a_line_protocol_in_place() {
    for depth in DEPTHS {
        upgrade_in_place(depth);
    }
}

#[test]
fn starttls_above_tls_puts_a_second_tls_layer_above_the_first() {
    // The swap is applied by the TLS layer's slot, above it: TLS in TLS.
    upgrade_in_place(Depth::Tls);
    assert_eq!(
        chain(&["tls"], Depth::Tls),
        vec!["lines", "tls", "tls", "memory"]
    );
}

fn injection_fails_the_handshake(depth: Depth) {
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
    let mut pump = depth.pair(Box::new(c), Box::new(Lines::new(s)));
    pump.run(Duration::from_secs(5));
    assert_eq!(
        slog.take(),
        vec![format!(
            "STARTTLS tls={} chain={:?}",
            tls_below(depth),
            chain(&[], depth)
        )],
        "{depth:?}: the injected command never reached the line protocol"
    );
    let why = lost.lock().unwrap().clone().expect("connection_lost ran");
    assert!(
        matches!(tls_error(&why), Some(TlsError::PeerMisbehaved(_))),
        "{depth:?}: {why:?}"
    );
    let reply = raw.data();
    let plain = b"220 greeting\r\n220 go ahead\r\n";
    assert!(reply.starts_with(plain), "{depth:?}: {reply:?}");
    assert_eq!(
        reply.get(plain.len()),
        Some(&0x15),
        "{depth:?}: then a TLS alert"
    );
}

#[test]
fn plaintext_pipelined_after_starttls_is_a_handshake_failure_not_a_command() {
    for depth in DEPTHS {
        injection_fails_the_handshake(depth);
    }
}
