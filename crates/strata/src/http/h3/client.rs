//! [`H3Client`]: requests over HTTP/3, handed to ordinary stream protocols
//! as [`HttpClient`](crate::http::HttpClient) does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http::request;

use super::conn::{Conn, Role};
use super::quic_api::{Dir, QuicApp, QuicConnection, StreamId};
use super::H3Config;
use crate::{StreamProtocol, Wake};

#[derive(Default)]
pub(super) struct ClientQueue {
    pub(super) pending: VecDeque<(request::Parts, Box<dyn StreamProtocol>)>,
    pub(super) wake: Option<Wake>,
}

/// A handle that queues requests on an [`H3Client`] connection, from the
/// code that built it or from another thread. When every handle is gone
/// and the streams have ended, the client sends GOAWAY and closes the
/// connection (H3_NO_ERROR).
///
/// ```
/// use strata::http::h3::{H3Client, H3Config};
/// let client = H3Client::new(H3Config::default());
/// let requests = client.requests();
/// # struct P;
/// # impl strata::StreamProtocol for P {
/// #     fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) { t.write_eof() }
/// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
/// # }
/// requests.send(http::Request::get("https://localhost/").body(()).unwrap(), Box::new(P));
/// ```
#[derive(Clone)]
pub struct H3Requests {
    q: Arc<Mutex<ClientQueue>>,
}

impl H3Requests {
    /// Queues a request. `proto` gets `connection_made` when its stream
    /// opens; it writes the request body and ends it with `write_eof` (a
    /// request without a body: `write_eof` at once). The response head is
    /// the [`ResponseHead`](crate::http::ResponseHead) capability, present
    /// before the first `data_received` (or `eof_received`). An extended
    /// CONNECT ([`Protocol`](crate::http::Protocol) extension) waits for the
    /// server's SETTINGS and fails with H3_REQUEST_REJECTED if it did not
    /// enable it. A CONNECT's tunnel bytes (what `proto` writes) leave only
    /// after the final response: until then the stream queues them (and
    /// stops being `writable()` past [`H3Config::stream_send_buffer`]), so
    /// an abort can never discard the request head together with them.
    pub fn send(&self, req: http::Request<()>, proto: Box<dyn StreamProtocol>) {
        let wake = {
            let mut q = self.q.lock().unwrap_or_else(|e| e.into_inner());
            q.pending.push_back((req.into_parts().0, proto));
            q.wake.clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
    }
}

impl std::fmt::Debug for H3Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("H3Requests")
    }
}

/// The client side of an HTTP/3 connection, a [`QuicApp`] for a QUIC
/// client connection with ALPN `h3`. Requests come from
/// [`H3Requests`] handles (or one, from [`H3Client::request`]); each runs
/// on its own stream, its protocol seeing the same
/// [`HttpExchange`](crate::http::HttpExchange) as over HTTP/1.1 and HTTP/2.
///
/// ```
/// use strata::http::h3::{H3Client, H3Config};
/// use strata::{StreamProtocol, StreamTransport};
/// struct Print;
/// impl StreamProtocol for Print {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { print!("{}", String::from_utf8_lossy(d)) }
///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
/// }
/// let req = http::Request::get("https://localhost:8443/").body(()).unwrap();
/// let _app = H3Client::request(req, Box::new(Print), H3Config::default());
/// ```
pub struct H3Client {
    conn: Conn,
    q: std::sync::Weak<Mutex<ClientQueue>>,
}

impl H3Client {
    /// A client connection with no request queued; take handles with
    /// [`requests`](H3Client::requests) before it starts (with none left,
    /// it closes once its streams end).
    pub fn new(cfg: H3Config) -> H3Client {
        let q = Arc::new(Mutex::new(ClientQueue::default()));
        H3Client {
            q: Arc::downgrade(&q),
            conn: Conn::new(Role::Client(q), cfg),
        }
    }

    /// A client connection for one request: it closes once the exchange
    /// is over.
    pub fn request(
        req: http::Request<()>,
        proto: Box<dyn StreamProtocol>,
        cfg: H3Config,
    ) -> H3Client {
        let c = H3Client::new(cfg);
        c.requests().send(req, proto);
        c
    }

    /// A handle that queues requests on this connection.
    pub fn requests(&self) -> H3Requests {
        H3Requests {
            // The connection holds the queue for as long as it lives.
            q: self.q.upgrade().unwrap_or_default(),
        }
    }

    /// Request streams open now (for tests and metrics).
    pub fn open_streams(&self) -> usize {
        self.conn.open_streams()
    }
}

impl QuicApp for H3Client {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        if let Some(q) = self.q.upgrade() {
            q.lock().unwrap_or_else(|e| e.into_inner()).wake = Some(c.waker());
        }
        self.conn.settle(c);
    }
    super::conn::app_events_via_conn!();
}
