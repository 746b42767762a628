//! One client protocol for both versions: ALPN (or the caller) decides.

use std::sync::Arc;

use super::h1::{H1Client, H1Config};
use super::h2::{H2Client, H2Config, H2Connection};
use crate::{
    AbortReason, AppProtocol, Close, StreamProtocol, StreamTransport, SwapError, SwapRequest,
};

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

/// A client connection for one request that speaks HTTP/1.1 or HTTP/2. Over
/// TLS it waits for the handshake and follows ALPN; the request protocol
/// sees the same [`HttpExchange`](super::HttpExchange) either way. The
/// choice is a [`SwapRequest::Replace`]: the chosen version's connection
/// takes this protocol's place in its holder (any swap point).
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
    pending: Option<Box<Pending>>,
}

impl HttpClient {
    /// A client that sends `req` and hands the response to `proto`.
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
    /// for choice in [VersionChoice::Http1, VersionChoice::Http2] {
    ///     let req = http::Request::get("http://localhost/").body(()).unwrap();
    ///     let client = HttpClient::new(req, Box::new(Get(tx.clone(), Vec::new())), choice);
    ///     let server = HttpServer::new(which.clone(), HttpConfig::default());
    ///     Pump::new(Box::new(client), Box::new(server)).run(Duration::from_secs(1));
    /// }
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [(200, "HTTP/1.1".into()), (200, "HTTP/2.0".into())]);
    /// ```
    pub fn new(
        req: http::Request<()>,
        proto: Box<dyn StreamProtocol>,
        choice: VersionChoice,
    ) -> HttpClient {
        HttpClient {
            choice,
            h1: Arc::default(),
            h2: Arc::default(),
            pending: Some(Box::new((req, proto))),
        }
    }

    /// Decides once TLS (if any) has finished its handshake, and asks the
    /// holder to replace this protocol by the chosen version, with
    /// `leftover` (input that arrived first) handed on to it.
    fn decide(&mut self, t: &mut dyn StreamTransport, leftover: &[u8]) {
        if self.pending.is_none() {
            return;
        }
        let h2 = match self.choice {
            VersionChoice::Http1 => false,
            VersionChoice::Http2 => true,
            VersionChoice::Auto => match t.get::<AppProtocol>() {
                Some(AppProtocol::Negotiating) => return,
                Some(agreed) => agreed.alpn() == Some(b"h2"),
                None => false,
            },
        };
        let Some(pending) = self.pending.take() else {
            return;
        };
        let (req, proto) = *pending;
        let p: Box<dyn StreamProtocol> = if h2 {
            let client = H2Client::new();
            client.send(req, proto);
            Box::new(H2Connection::client(self.h2.clone(), client))
        } else {
            Box::new(H1Client::new(req, proto, self.h1.clone()))
        };
        if let Err(e) = t.request_swap(SwapRequest::Replace(p), leftover.to_vec()) {
            swap_refused(t, e);
        }
    }
}

impl StreamProtocol for HttpClient {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.decide(t, &[]);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.decide(t, data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.decide(t, &[]);
        if self.pending.is_some() {
            t.close();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        if let Some(mut pending) = self.pending.take() {
            pending.1.connection_lost(why);
        }
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        // TLS lifts its own pause when the handshake is done: ALPN is known.
        self.decide(t, &[]);
    }
}

/// The holder could not put the chosen version in place (it cannot swap,
/// or the connection is closing): nothing can serve this connection.
pub(super) fn swap_refused(t: &mut dyn StreamTransport, e: SwapError) {
    tracing::debug!(error = %e, "http: the chosen version could not take over");
    t.abort(Close::aborted("http", AbortReason::layer(e)));
}
