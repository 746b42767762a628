//! One server protocol for both versions: ALPN or the preface decides.

use std::sync::Arc;
use std::time::Instant;

use super::h1::{H1Config, H1Server};
use super::h2::{frame::PREFACE, H2Config, H2Connection};
use super::SharedService;
use crate::tls::TlsInfo;
use crate::{Close, StreamProtocol, StreamTransport, WakeRoute};

/// The configuration of both HTTP versions of a listener.
///
/// ```
/// use strata::http::HttpConfig;
/// let cfg = HttpConfig::default();
/// assert_eq!(cfg.h2.max_concurrent_streams, 128);
/// ```
#[derive(Clone, Debug, Default)]
pub struct HttpConfig {
    /// HTTP/1.1 limits.
    pub h1: Arc<H1Config>,
    /// HTTP/2 limits.
    pub h2: Arc<H2Config>,
}

enum Mode {
    /// Waiting for enough bytes to tell (or for TLS to finish).
    Sniff(Vec<u8>),
    H1(Box<H1Server>),
    H2(Box<H2Connection>),
}

/// An HTTP server connection that speaks HTTP/2 or HTTP/1.1: over TLS the
/// ALPN result chooses (`h2`, else HTTP/1.1); in cleartext the first bytes
/// do (the HTTP/2 preface means h2c with prior knowledge). Both versions
/// serve the same [`Service`](super::Service).
///
/// ```
/// use std::sync::Arc;
/// use strata::http::{HttpConfig, HttpServer};
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Hi;
/// impl StreamProtocol for Hi {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi"); t.close() }
/// }
/// let svc = Arc::new(|_: &http::request::Parts| Box::new(Hi) as Box<dyn StreamProtocol>);
/// let mut s = Stack::memory(Box::new(HttpServer::new(svc, HttpConfig::default())));
/// let now = s.now();
/// s.handle_input(now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
/// let out = String::from_utf8(s.take_output(now)).unwrap();
/// assert!(out.starts_with("HTTP/1.1 200"), "{out}");
/// assert!(out.ends_with("hi\r\n0\r\n\r\n"), "{out}");
/// ```
pub struct HttpServer {
    service: SharedService,
    cfg: HttpConfig,
    mode: Mode,
}

impl HttpServer {
    /// A connection serving `service`.
    pub fn new(service: SharedService, cfg: HttpConfig) -> HttpServer {
        HttpServer {
            service,
            cfg,
            mode: Mode::Sniff(Vec::new()),
        }
    }

    /// Decides the version once it can; returns the bytes to feed it.
    fn decide(&mut self, t: &mut dyn StreamTransport, data: &[u8]) -> Option<Vec<u8>> {
        let Mode::Sniff(buf) = &mut self.mode else {
            return None;
        };
        buf.extend_from_slice(data);
        let alpn = t.get::<TlsInfo>().and_then(|i| i.alpn.clone());
        let h2 = match alpn.as_deref() {
            Some(b"h2") => true,
            Some(_) => false,
            None => {
                let n = buf.len().min(PREFACE.len());
                if buf[..n] != PREFACE[..n] {
                    false
                } else if n < PREFACE.len() {
                    return None;
                } else {
                    true
                }
            }
        };
        let buf = std::mem::take(buf);
        self.mode = if h2 {
            Mode::H2(Box::new(H2Connection::server(
                self.cfg.h2.clone(),
                self.service.clone(),
            )))
        } else {
            Mode::H1(Box::new(H1Server::new(
                self.service.clone(),
                self.cfg.h1.clone(),
            )))
        };
        self.inner(|p| p.connection_made(t));
        Some(buf)
    }

    fn inner<R>(&mut self, f: impl FnOnce(&mut dyn StreamProtocol) -> R) -> Option<R> {
        match &mut self.mode {
            Mode::Sniff(_) => None,
            Mode::H1(p) => Some(f(&mut **p)),
            Mode::H2(p) => Some(f(&mut **p)),
        }
    }
}

impl StreamProtocol for HttpServer {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if matches!(self.mode, Mode::Sniff(_)) {
            if let Some(buf) = self.decide(t, data) {
                if !buf.is_empty() {
                    self.inner(|p| p.data_received(t, &buf));
                }
            }
            return;
        }
        self.inner(|p| p.data_received(t, data));
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if matches!(self.mode, Mode::Sniff(_)) {
            // Whatever arrived is too short to be a request: HTTP/1.1 answers it.
            if let Some(buf) = self.decide_h1(t) {
                if !buf.is_empty() {
                    self.inner(|p| p.data_received(t, &buf));
                }
            }
        }
        self.inner(|p| p.eof_received(t));
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner(|p| p.connection_lost(why));
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner(|p| p.pause_writing(t));
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner(|p| p.resume_writing(t));
    }
    fn next_deadline(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Sniff(_) => None,
            Mode::H1(p) => p.next_deadline(),
            Mode::H2(p) => p.next_deadline(),
        }
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.inner(|p| p.on_deadline(t));
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.inner(|p| p.on_wake(t, route));
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        if self.inner(|p| p.on_shutdown(t)).is_none() {
            t.close();
        }
    }
    fn buffered(&self) -> usize {
        match &self.mode {
            Mode::Sniff(_) => 0,
            Mode::H1(p) => p.buffered(),
            Mode::H2(p) => p.buffered(),
        }
    }
}

impl HttpServer {
    fn decide_h1(&mut self, t: &mut dyn StreamTransport) -> Option<Vec<u8>> {
        let Mode::Sniff(buf) = &mut self.mode else {
            return None;
        };
        let buf = std::mem::take(buf);
        self.mode = Mode::H1(Box::new(H1Server::new(
            self.service.clone(),
            self.cfg.h1.clone(),
        )));
        self.inner(|p| p.connection_made(t));
        Some(buf)
    }
}
