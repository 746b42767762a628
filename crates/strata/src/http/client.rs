//! One client protocol for both versions: ALPN (or the caller) decides.

use std::sync::Arc;
use std::time::Instant;

use super::h1::{H1Client, H1Config};
use super::h2::{H2Client, H2Config, H2Connection};
use crate::tls::TlsInfo;
use crate::{Close, StreamProtocol, StreamTransport, WakeRoute};

/// Which HTTP version a client connection speaks.
///
/// ```
/// use strata::http::VersionChoice;
/// assert_ne!(VersionChoice::Auto, VersionChoice::Http2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VersionChoice {
    /// Over TLS, what ALPN chose (`h2`, else HTTP/1.1); in cleartext, HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (h2c with prior knowledge in cleartext).
    Http2,
}

impl VersionChoice {
    /// The ALPN list a TLS client should offer for this choice.
    ///
    /// ```
    /// use strata::http::VersionChoice;
    /// assert_eq!(VersionChoice::Auto.alpn(), "h2,http/1.1");
    /// ```
    pub fn alpn(self) -> &'static str {
        match self {
            VersionChoice::Auto => "h2,http/1.1",
            VersionChoice::Http1 => "http/1.1",
            VersionChoice::Http2 => "h2",
        }
    }
}

/// The request waiting for the version to be chosen.
type Pending = (http::Request<()>, Box<dyn StreamProtocol>);

enum Mode {
    Waiting(Option<Box<Pending>>),
    H1(Box<H1Client>),
    H2(Box<H2Connection>),
}

/// A client connection for one request that speaks HTTP/1.1 or HTTP/2. Over
/// TLS it waits for the handshake and follows ALPN; the request protocol
/// sees the same [`HttpExchange`](super::HttpExchange) either way.
///
/// ```
/// use strata::http::{HttpClient, VersionChoice};
/// use strata::{StreamProtocol, StreamTransport};
/// struct Print;
/// impl StreamProtocol for Print {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { print!("{}", String::from_utf8_lossy(d)) }
///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
/// }
/// let req = http::Request::get("https://localhost:8443/").body(()).unwrap();
/// let _client = HttpClient::new(req, Box::new(Print), VersionChoice::Auto);
/// ```
pub struct HttpClient {
    choice: VersionChoice,
    h1: Arc<H1Config>,
    h2: Arc<H2Config>,
    mode: Mode,
}

impl HttpClient {
    /// A client that sends `req` and hands the response to `proto`.
    pub fn new(
        req: http::Request<()>,
        proto: Box<dyn StreamProtocol>,
        choice: VersionChoice,
    ) -> HttpClient {
        HttpClient {
            choice,
            h1: Arc::default(),
            h2: Arc::default(),
            mode: Mode::Waiting(Some(Box::new((req, proto)))),
        }
    }

    /// Decides once TLS (if any) has finished its handshake.
    fn decide(&mut self, t: &mut dyn StreamTransport) {
        let Mode::Waiting(slot) = &mut self.mode else {
            return;
        };
        let h2 = match self.choice {
            VersionChoice::Http1 => false,
            VersionChoice::Http2 => true,
            VersionChoice::Auto => match t.get::<TlsInfo>() {
                Some(info) => info.alpn.as_deref() == Some(b"h2"),
                None if t.layer_chain().contains(&"tls") => return,
                None => false,
            },
        };
        let Some(pending) = slot.take() else {
            return;
        };
        let (req, proto) = *pending;
        self.mode = if h2 {
            let client = H2Client::new();
            client.send(req, proto);
            Mode::H2(Box::new(H2Connection::client(self.h2.clone(), client)))
        } else {
            Mode::H1(Box::new(H1Client::new(req, proto, self.h1.clone())))
        };
        self.inner(|p| p.connection_made(t));
    }

    fn inner<R>(&mut self, f: impl FnOnce(&mut dyn StreamProtocol) -> R) -> Option<R> {
        match &mut self.mode {
            Mode::Waiting(_) => None,
            Mode::H1(p) => Some(f(&mut **p)),
            Mode::H2(p) => Some(f(&mut **p)),
        }
    }
}

impl StreamProtocol for HttpClient {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.decide(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.decide(t);
        self.inner(|p| p.data_received(t, data));
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.decide(t);
        if self.inner(|p| p.eof_received(t)).is_none() {
            t.close();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        match &mut self.mode {
            Mode::Waiting(slot) => {
                if let Some(mut pending) = slot.take() {
                    pending.1.connection_lost(why);
                }
            }
            Mode::H1(p) => p.connection_lost(why),
            Mode::H2(p) => p.connection_lost(why),
        }
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner(|p| p.pause_writing(t));
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        // TLS lifts its own pause when the handshake is done: ALPN is known.
        if matches!(self.mode, Mode::Waiting(_)) {
            self.decide(t);
            return;
        }
        self.inner(|p| p.resume_writing(t));
    }
    fn next_deadline(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Waiting(_) => None,
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
            Mode::Waiting(_) => 0,
            Mode::H1(p) => p.buffered(),
            Mode::H2(p) => p.buffered(),
        }
    }
}
