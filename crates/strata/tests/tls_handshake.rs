//! The TLS layer in memory: handshakes in both roles with ALPN and SNI, a
//! 4 MB transfer with back-pressure, close_notify, half-close on TLS 1.3 and
//! TLS 1.2, and TLS over TLS.

mod tls_support;

use std::time::{Duration, Instant};

use strata::testing::{Pump, PumpConfig, RunOutcome};
use strata::tls::{Tls, TlsInfo};
use strata::{Close, StreamProtocol, StreamTransport};
use tls_support::*;

const NAME: &str = "example.test";

/// A server (on side `a` when `server_first`) and a client with the given
/// ALPN offers; returns what each saw.
fn handshake(server_first: bool, server_alpn: &[&[u8]], client_alpn: &[&[u8]]) -> (Rec, Rec) {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let s = Probe::new(&srec).data(|t, d| {
        t.write(&d.to_ascii_uppercase());
        t.close();
    });
    let c = Probe::new(&crec).made(|t| t.write(b"ping"));
    let s = Tls::new(s, &server(server_config(&leaf, server_alpn, ALL))).unwrap();
    let c = Tls::new(
        c,
        &client(client_config(ca.roots(), client_alpn, ALL), NAME),
    )
    .unwrap();
    let (a, b): (Box<dyn StreamProtocol>, Box<dyn StreamProtocol>) = if server_first {
        (Box::new(s), Box::new(c))
    } else {
        (Box::new(c), Box::new(s))
    };
    let mut pump = Pump::new(a, b);
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert!(pump.a().finished().unwrap().is_clean());
    assert!(pump.b().finished().unwrap().is_clean());
    let cert = leaf.cert.as_ref().to_vec();
    let cinfo = crec.get(|r| r.info.clone()).expect("client saw TlsInfo");
    assert_eq!(cinfo.peer_certificates, vec![cert]);
    assert_eq!(cinfo.server_name.as_deref(), Some(NAME));
    assert_eq!(cinfo.version, rustls::ProtocolVersion::TLSv1_3);
    assert!(
        cinfo.cipher_suite.starts_with("TLS13_"),
        "{}",
        cinfo.cipher_suite
    );
    let sinfo = srec.get(|r| r.info.clone()).expect("server saw TlsInfo");
    assert_eq!(
        sinfo.server_name.as_deref(),
        Some(NAME),
        "SNI reached the server"
    );
    assert!(sinfo.peer_certificates.is_empty());
    assert_eq!(sinfo.alpn, cinfo.alpn);
    assert_eq!(crec.data(), b"PING");
    assert_eq!(srec.data(), b"ping");
    assert_eq!(srec.get(|r| r.chain.clone()), vec!["tls", "memory"]);
    // No TlsInfo and no half-close before the handshake; both after it.
    assert_eq!(crec.get(|r| r.half_close.clone()), vec![false, true, true]);
    (srec, crec)
}

fn alpn(r: &Rec) -> Option<Vec<u8>> {
    r.get(|r| r.info.clone()).and_then(|i| i.alpn)
}

#[test]
fn alpn_picks_h2_when_both_offer_it_whoever_connected() {
    for server_first in [false, true] {
        let (s, c) = handshake(server_first, &[b"h2", b"http/1.1"], &[b"http/1.1", b"h2"]);
        assert_eq!(alpn(&c).as_deref(), Some(&b"h2"[..]));
        assert_eq!(alpn(&s).as_deref(), Some(&b"h2"[..]));
    }
}

#[test]
fn alpn_falls_back_to_http11_and_to_none() {
    let (_, c) = handshake(false, &[b"h2", b"http/1.1"], &[b"http/1.1"]);
    assert_eq!(alpn(&c).as_deref(), Some(&b"http/1.1"[..]));
    let (_, c) = handshake(true, &[], &[]);
    assert_eq!(alpn(&c), None);
}

#[test]
fn writes_before_the_handshake_are_queued_in_order_with_back_pressure() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    struct Writer {
        payload: Vec<u8>,
        sent: usize,
        /// (writable, buffered) after each burst of writes.
        seen: Vec<(bool, usize)>,
        rec: Rec,
    }
    impl Writer {
        fn pump(&mut self, t: &mut dyn StreamTransport) {
            while self.sent < self.payload.len() && t.writable() {
                let end = (self.sent + 4096).min(self.payload.len());
                t.write(&self.payload[self.sent..end]);
                self.sent = end;
            }
            self.seen.push((t.writable(), t.buffered()));
            if self.sent == self.payload.len() {
                t.close();
            }
        }
    }
    impl StreamProtocol for Writer {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            // Early writes are queued even though the handshake is a pause.
            t.write(&self.payload[..8192]);
            self.sent = 8192;
            self.pump(t);
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
        fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
            self.rec.0.lock().unwrap().events.push("pause".into());
        }
        fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
            self.rec.0.lock().unwrap().events.push("resume".into());
            self.pump(t);
        }
    }
    let w = Writer {
        payload: payload.clone(),
        sent: 0,
        seen: Vec::new(),
        rec: crec.clone(),
    };
    let c = Tls::new(w, &client(client_config(ca.roots(), &[], ALL), NAME)).unwrap();
    let s = Tls::new(Probe::new(&srec), &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    // Before any byte moved: the handshake is a pause (the default write
    // limit is 0), so the writer stopped after its early 8 KiB.
    let first = pump.a().protocol::<Writer>().unwrap().seen[0];
    assert!(!first.0, "not writable during the handshake");
    // 8 KiB of plaintext waits in rustls; the ClientHello waits below it.
    assert!(
        (8 * 1024..10 * 1024).contains(&first.1),
        "buffered {}",
        first.1
    );
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert_eq!(crec.events(), vec!["pause", "resume"]);
    assert_eq!(
        srec.data(),
        payload,
        "all of it, in order, after the handshake"
    );
    assert!(srec.lost().unwrap().is_clean());
}

/// Writes `total` bytes of a pattern while writable; checks what it reads
/// against the same pattern; reads slowly when `slow` (pauses after every
/// chunk for 1 ms of virtual time). What it saw is read back from the pump.
struct Bulk {
    total: usize,
    sent: usize,
    got: usize,
    bad: bool,
    slow: bool,
    resume_at: Option<Instant>,
    pauses: usize,
    lost: Option<Close>,
}

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 11)) as u8
}

impl Bulk {
    fn new(total: usize, slow: bool) -> Bulk {
        Bulk {
            total,
            sent: 0,
            got: 0,
            bad: false,
            slow,
            resume_at: None,
            pauses: 0,
            lost: None,
        }
    }
    fn fill(&mut self, t: &mut dyn StreamTransport) {
        while self.sent < self.total && t.writable() {
            let end = (self.sent + 8192).min(self.total);
            let chunk: Vec<u8> = (self.sent..end).map(pattern).collect();
            t.write(&chunk);
            self.sent = end;
        }
        if self.sent == self.total && self.got == self.total {
            t.close();
        }
    }
}

impl StreamProtocol for Bulk {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.fill(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        for (k, b) in data.iter().enumerate() {
            if *b != pattern(self.got + k) {
                self.bad = true;
            }
        }
        self.got += data.len();
        if self.slow {
            t.pause_reading();
            self.resume_at = Some(t.now() + Duration::from_millis(1));
        }
        self.fill(t);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.pauses += 1;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.fill(t);
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.resume_at
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.resume_at.is_some_and(|d| d <= t.now()) {
            self.resume_at = None;
            t.resume_reading();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.lost = Some(why.clone());
    }
}

#[test]
fn four_megabytes_both_ways_with_a_slow_reader() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    const TOTAL: usize = 4 * 1024 * 1024;
    let c = Tls::new(
        Bulk::new(TOTAL, false),
        &client(client_config(ca.roots(), &[], ALL), NAME),
    )
    .unwrap();
    let s = Tls::new(
        Bulk::new(TOTAL, true),
        &server(server_config(&leaf, &[], ALL)),
    )
    .unwrap();
    let cfg = PumpConfig::default()
        .latency(Duration::from_micros(200))
        .chunk(16 * 1024)
        .window(64 * 1024);
    let mut pump = Pump::with_config(Box::new(c), Box::new(s), cfg);
    let mut peak = 0;
    let out = pump.run_until(Duration::from_secs(60), |p| {
        peak = peak.max(p.a().pending_output());
        false
    });
    assert_eq!(out, RunOutcome::Finished);
    // The applications, found under their TLS layers.
    let c = pump.a().protocol::<Bulk>().unwrap();
    let s = pump.b().protocol::<Bulk>().unwrap();
    assert_eq!(
        (c.got, c.bad),
        (TOTAL, false),
        "client got everything intact"
    );
    assert_eq!(
        (s.got, s.bad),
        (TOTAL, false),
        "server got everything intact"
    );
    assert!(c.lost.as_ref().unwrap().is_clean() && s.lost.as_ref().unwrap().is_clean());
    assert!(c.pauses > 0, "the slow reader pushed back on the writer");
    // The writer's stack stayed near its high-water mark, far from 4 MB.
    assert!(peak < 200 * 1024, "peak output queue {peak}");
}

#[test]
fn close_sends_close_notify_and_the_peer_sees_eof_then_done() {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let c = Probe::new(&crec).made(|t| {
        t.write(b"bye");
        t.close();
    });
    let c = Tls::new(c, &client(client_config(ca.roots(), &[], ALL), NAME)).unwrap();
    let s = Tls::new(Probe::new(&srec), &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert_eq!(srec.events(), vec!["made", "data", "eof", "lost"]);
    assert_eq!(srec.data(), b"bye");
    assert!(srec.lost().unwrap().is_clean());
    assert!(crec.lost().unwrap().is_clean());
    assert!(pump.a().finished().unwrap().is_clean());
    assert!(pump.b().finished().unwrap().is_clean());
}

/// The client writes a request and half-closes once the server's greeting
/// shows the handshake is done; the server answers after EOF, then closes.
fn half_close(versions: &[&'static rustls::SupportedProtocolVersion]) -> (Rec, Rec) {
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&[NAME]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let c = Probe::new(&crec).data(|t, d| {
        if d == b"hello" {
            t.write(b"request");
            t.write_eof();
        }
    });
    let s = Probe::new(&srec).made(|t| t.write(b"hello")).eof(|t| {
        t.write(b"response");
        t.close();
    });
    let c = Tls::new(c, &client(client_config(ca.roots(), &[], versions), NAME)).unwrap();
    let s = Tls::new(s, &server(server_config(&leaf, &[], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert!(pump.a().finished().unwrap().is_clean());
    assert!(pump.b().finished().unwrap().is_clean());
    assert_eq!(srec.data(), b"request");
    (srec, crec)
}

#[test]
fn tls13_half_close_keeps_reading_until_the_answer() {
    let (srec, crec) = half_close(TLS13);
    assert_eq!(
        crec.get(|r| r.half_close.clone()),
        vec![false, true, true, true]
    );
    assert_eq!(
        crec.data(),
        b"helloresponse",
        "the answer arrived after our EOF"
    );
    assert_eq!(crec.events(), vec!["made", "data", "data", "eof", "lost"]);
    assert_eq!(srec.events(), vec!["made", "data", "eof", "lost"]);
}

#[test]
fn tls12_cannot_half_close_so_write_eof_closes() {
    let (srec, crec) = half_close(TLS12);
    let info: TlsInfo = crec.get(|r| r.info.clone()).unwrap();
    assert_eq!(info.version, rustls::ProtocolVersion::TLSv1_2);
    assert!(!info.cipher_suite.starts_with("TLS13_"));
    assert_eq!(crec.get(|r| r.half_close.clone()), vec![false, false]);
    assert_eq!(
        crec.data(),
        b"hello",
        "our write_eof closed: no answer is read"
    );
    assert_eq!(srec.events(), vec!["made", "data", "eof", "lost"]);
    assert!(crec.lost().unwrap().is_clean());
}

#[test]
fn tls_over_tls_round_trip() {
    let ca = Ca::new("ca");
    let outer = ca.leaf(&["outer.test"]);
    let inner = ca.leaf(&["inner.test"]);
    let (srec, crec) = (Rec::default(), Rec::default());
    let c = Probe::new(&crec)
        .made(|t| t.write(b"nested ping"))
        .data(|t, _| t.close());
    let s = Probe::new(&srec).data(|t, d| t.write(&d.to_ascii_uppercase()));
    let c = Tls::new(
        c,
        &client(client_config(ca.roots(), &[b"in"], ALL), "inner.test"),
    )
    .unwrap();
    let c = Tls::new(
        c,
        &client(client_config(ca.roots(), &[b"out"], ALL), "outer.test"),
    )
    .unwrap();
    let s = Tls::new(s, &server(server_config(&inner, &[b"in"], ALL))).unwrap();
    let s = Tls::new(s, &server(server_config(&outer, &[b"out"], ALL))).unwrap();
    let mut pump = Pump::new(Box::new(c), Box::new(s));
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    assert_eq!(crec.data(), b"NESTED PING");
    assert_eq!(srec.data(), b"nested ping");
    assert_eq!(srec.get(|r| r.chain.clone()), vec!["tls", "tls", "memory"]);
    // The nearest TLS layer answers first: the inner session's details.
    let info = srec.get(|r| r.info.clone()).unwrap();
    assert_eq!(info.server_name.as_deref(), Some("inner.test"));
    assert_eq!(info.alpn.as_deref(), Some(&b"in"[..]));
    assert!(crec.lost().unwrap().is_clean() && srec.lost().unwrap().is_clean());
}
