//! One server protocol for both versions: ALPN or the preface decides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::h1::{H1Config, H1Server};
use super::h2::{frame::PREFACE, H2Config, H2Connection};
use super::SharedService;
use crate::deadline::after;
use crate::{AppProtocol, Close, StreamProtocol, StreamTransport, SwapRequest, Timeout};

/// The default time a connection may take to show which HTTP version it
/// speaks: 10 s.
pub const DEFAULT_DETECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The configuration of both HTTP versions of a listener.
///
/// ```
/// use std::time::Duration;
/// use strata::http::HttpConfig;
/// let cfg = HttpConfig { detect_timeout: Duration::from_secs(2), ..HttpConfig::default() };
/// assert_eq!(cfg.h2.max_concurrent_streams, 128);
/// assert_eq!(HttpConfig::default().detect_timeout, strata::http::DEFAULT_DETECT_TIMEOUT);
/// ```
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// HTTP/1.1 limits.
    pub h1: Arc<H1Config>,
    /// HTTP/2 limits.
    pub h2: Arc<H2Config>,
    /// How long a connection may stay without a chosen version (default
    /// [`DEFAULT_DETECT_TIMEOUT`]): no byte at all, only part of the HTTP/2
    /// preface, or over TLS an agreed ALPN and no request yet. Counted from
    /// `connection_made`; over TLS, whose inner protocol starts before the
    /// handshake ends (that phase has the TLS handshake timeout), the clock
    /// starts again when the handshake is seen done (TLS resumes writing
    /// then), and failing that once at its first expiry: a peer always gets
    /// at least this long after its handshake.
    /// At expiry the connection is aborted with
    /// `Close::Timeout(Timeout::Detect)`: the peer is owed nothing.
    /// `Duration::ZERO` turns the deadline off.
    pub detect_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            h1: Arc::default(),
            h2: Arc::default(),
            detect_timeout: DEFAULT_DETECT_TIMEOUT,
        }
    }
}

/// An HTTP server connection that speaks HTTP/2 or HTTP/1.1: over TLS the
/// ALPN result chooses (`h2`, else HTTP/1.1); in cleartext the first bytes
/// do (the HTTP/2 preface means h2c with prior knowledge). Both versions
/// serve the same [`Service`](super::Service). Until a version is chosen
/// the [`HttpConfig::detect_timeout`] deadline runs; from then on the chosen
/// version's own deadlines do.
///
/// The choice is a [`SwapRequest::Replace`]: this protocol asks its holder
/// (the stack, a TLS layer, an HTTP/2 stream: any swap point) to put the
/// chosen version in its place, with what arrived so far as the leftover.
/// A holder that cannot swap ends the connection.
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
    /// What arrived before the version was known.
    sniffed: Vec<u8>,
    /// The version was chosen (the swap is asked for).
    chosen: bool,
    /// When detection gives up (`None` once a version is chosen, or off).
    detect: Option<Instant>,
    /// The detect clock was restarted after a TLS handshake (once).
    restarted: bool,
}

impl HttpServer {
    /// A connection serving `service`.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::{HttpConfig, HttpServer, ResponseHead, SharedService};
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # // Answers every request with its version.
    /// # struct Which;
    /// # impl StreamProtocol for Which {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let v = t.get::<strata::http::RequestHead>().map(|h| format!("{:?}", h.0.version));
    /// #         t.write(v.unwrap_or_default().as_bytes());
    /// #         t.close()
    /// #     }
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # let which: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Which) as Box<dyn StreamProtocol>);
    /// use strata::http::{HttpClient, VersionChoice};
    /// let (tx, rx) = mpsc::channel();
    /// // In cleartext the first bytes choose: the HTTP/2 preface means h2c.
    /// let req = http::Request::get("http://localhost/").body(()).unwrap();
    /// let client = HttpClient::new(req, Box::new(Get(tx, Vec::new())), VersionChoice::Http2);
    /// let server = HttpServer::new(which, HttpConfig::default());
    /// Pump::new(Box::new(client), Box::new(server)).run(Duration::from_secs(1));
    /// assert_eq!(rx.try_recv(), Ok((200, "HTTP/2.0".into())));
    /// ```
    pub fn new(service: SharedService, cfg: HttpConfig) -> HttpServer {
        HttpServer {
            service,
            cfg,
            sniffed: Vec::new(),
            chosen: false,
            detect: None,
            restarted: false,
        }
    }

    /// Starts the detect clock again from now, once: the TLS handshake
    /// below is over and the peer gets a full period from its end.
    fn restart_after_handshake(&mut self, t: &mut dyn StreamTransport) {
        if self.detect.is_some() && !self.restarted {
            self.restarted = true;
            self.detect = Some(after(t.now(), self.cfg.detect_timeout));
        }
    }

    /// The detect deadline ran out: over TLS whose handshake's end was not
    /// seen, start it once more; else give up on the peer.
    fn detect_expired(&mut self, t: &mut dyn StreamTransport) {
        if !self.restarted && t.layer_chain().contains(&"tls") {
            // The handshake (bounded by its own timer) took part of this
            // period and its end was not seen: a full period from here.
            self.restart_after_handshake(t);
            return;
        }
        tracing::debug!(
            sniffed = self.sniffed.len(),
            "http: no HTTP version chosen in time; aborting"
        );
        self.detect = None;
        self.sniffed = Vec::new();
        t.abort(Close::Timeout(Timeout::Detect));
    }

    /// Decides the version once it can: over TLS by ALPN, in cleartext by
    /// the preface (or, at `eof`, HTTP/1.1 whatever arrived). Then asks the
    /// holder to replace this protocol by it, handing on what arrived so far
    /// (and the EOF, which a replaced protocol hands on).
    fn decide(&mut self, t: &mut dyn StreamTransport, data: &[u8], eof: bool) {
        self.sniffed.extend_from_slice(data);
        let alpn = t
            .get::<AppProtocol>()
            .and_then(|a| a.alpn())
            .map(<[u8]>::to_vec);
        let h2 = match alpn.as_deref() {
            Some(b"h2") => true,
            Some(_) => false,
            None => {
                let n = self.sniffed.len().min(PREFACE.len());
                let prefix = self.sniffed[..n] == PREFACE[..n];
                if prefix && n < PREFACE.len() && !eof {
                    return;
                }
                prefix && n == PREFACE.len()
            }
        };
        let p: Box<dyn StreamProtocol> = if h2 {
            Box::new(H2Connection::server(
                self.cfg.h2.clone(),
                self.service.clone(),
            ))
        } else {
            Box::new(H1Server::new(self.service.clone(), self.cfg.h1.clone()))
        };
        self.detect = None;
        self.chosen = true;
        let buf = std::mem::take(&mut self.sniffed);
        if let Err(e) = t.request_swap(SwapRequest::Replace(p), buf) {
            super::client::swap_refused(t, e);
        }
    }
}

impl StreamProtocol for HttpServer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if !self.chosen && !self.cfg.detect_timeout.is_zero() {
            self.detect = Some(after(t.now(), self.cfg.detect_timeout));
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if !self.chosen {
            self.decide(t, data, false);
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if !self.chosen {
            // Whatever arrived is too short to be a request: HTTP/1.1 answers it.
            self.decide(t, &[], true);
        }
    }
    fn connection_lost(&mut self, _: &Close) {
        self.detect = None;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        // TLS pauses writing during its handshake: this edge is its end.
        if !self.chosen && matches!(t.get::<AppProtocol>(), Some(AppProtocol::Agreed(_))) {
            self.restart_after_handshake(t);
        }
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.detect
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.detect.is_some_and(|d| d <= t.now()) {
            self.detect_expired(t);
        }
    }
}
