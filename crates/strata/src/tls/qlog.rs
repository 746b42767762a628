//! The TLS layer's qlog events (issue 14, point 5), category `tls`: each
//! handshake message rustls sends or receives in the clear (ClientHello,
//! ServerHello, HelloRetryRequest, and in TLS 1.2 the rest of the
//! handshake), the first encrypted records, then `security:handshake_done`
//! with the version, cipher suite, ALPN and resumption, or
//! `security:handshake_failed`. Records are found by scanning the bytes
//! rustls exchanges with the transport below, while the handshake runs.

use std::time::Instant;

use crate::qlog::{QlogTrace, Value};
use crate::tls::TlsInfo;

/// The category of this layer's events.
const CATEGORY: &str = "tls";

/// A TLS record header: type, version, length.
const RECORD_HEADER: usize = 5;

/// Finds record boundaries in one direction's bytes.
#[derive(Default)]
struct Scan {
    hdr: [u8; RECORD_HEADER],
    have: usize,
    /// Payload bytes of the current record still to pass.
    skip: usize,
    /// The current record is a handshake record whose first byte (the
    /// message type) has not been seen yet.
    want_type: Option<u16>,
}

/// A traced TLS layer's trace and its two scanners.
pub(crate) struct TlsQlog {
    trace: QlogTrace,
    out: Scan,
    inp: Scan,
}

impl TlsQlog {
    pub(crate) fn new(
        trace: QlogTrace,
        client: bool,
        sni: Option<&str>,
        now: Instant,
    ) -> Box<TlsQlog> {
        let role = Value::Str(if client { "client" } else { "server" });
        let sni = sni.map_or(Value::Str(""), Value::Str);
        trace.emit(
            now,
            CATEGORY,
            "security:handshake_started",
            &[("role", role), ("server_name", sni)],
        );
        Box::new(TlsQlog {
            trace,
            out: Scan::default(),
            inp: Scan::default(),
        })
    }

    /// Bytes rustls wrote below.
    #[cold]
    #[inline(never)]
    pub(crate) fn sent(&mut self, now: Instant, bytes: &[u8]) {
        self.out
            .scan(&self.trace, now, "security:tls_record_sent", bytes);
    }

    /// Bytes rustls took from below.
    #[cold]
    #[inline(never)]
    pub(crate) fn received(&mut self, now: Instant, bytes: &[u8]) {
        self.inp
            .scan(&self.trace, now, "security:tls_record_received", bytes);
    }

    pub(crate) fn done(&self, now: Instant, info: &TlsInfo) {
        let alpn = info.alpn.as_deref().map(String::from_utf8_lossy);
        let version = format!("{:?}", info.version);
        self.trace.emit(
            now,
            CATEGORY,
            "security:handshake_done",
            &[
                ("version", Value::Str(&version)),
                ("cipher_suite", Value::Str(info.cipher_suite)),
                ("alpn", Value::Str(alpn.as_deref().unwrap_or(""))),
                ("resumed", Value::Bool(info.resumed)),
                (
                    "server_name",
                    Value::Str(info.server_name.as_deref().unwrap_or("")),
                ),
            ],
        );
    }

    pub(crate) fn failed(&self, now: Instant, why: &str) {
        self.trace.emit(
            now,
            CATEGORY,
            "security:handshake_failed",
            &[("error", Value::Str(why))],
        );
    }
}

fn content_type(t: u8) -> &'static str {
    match t {
        20 => "change_cipher_spec",
        21 => "alert",
        22 => "handshake",
        23 => "application_data",
        _ => "unknown",
    }
}

fn message(t: u8) -> &'static str {
    match t {
        1 => "client_hello",
        2 => "server_hello",
        4 => "new_session_ticket",
        8 => "encrypted_extensions",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        _ => "other",
    }
}

impl Scan {
    fn scan(&mut self, trace: &QlogTrace, now: Instant, name: &'static str, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if let Some(len) = self.want_type {
                let kind = message(bytes[0]);
                record(trace, now, name, 22, len, Some(kind));
                self.want_type = None;
            }
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (RECORD_HEADER - self.have).min(bytes.len());
            self.hdr[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == RECORD_HEADER {
                self.have = 0;
                let [kind, _, _, l0, l1] = self.hdr;
                let len = u16::from_be_bytes([l0, l1]);
                self.skip = usize::from(len);
                if kind == 22 && len > 0 {
                    self.want_type = Some(len);
                } else {
                    record(trace, now, name, kind, len, None);
                }
            }
        }
    }
}

fn record(
    trace: &QlogTrace,
    now: Instant,
    name: &'static str,
    kind: u8,
    len: u16,
    msg: Option<&str>,
) {
    let mut data = vec![
        ("content_type", Value::Str(content_type(kind))),
        ("length", Value::U64(u64::from(len))),
    ];
    if let Some(m) = msg {
        data.push(("message", Value::Str(m)));
    }
    trace.emit(now, CATEGORY, name, &data);
}
