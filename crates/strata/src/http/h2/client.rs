//! The handle that opens requests on a client connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http::request;

use crate::{StreamProtocol, Wake};

/// A handle to open requests on a client connection, from the code that
/// built it or from another thread.
///
/// ```
/// use strata::http::h2::{H2Client, H2Config, H2Connection};
/// use std::sync::Arc;
/// let client = H2Client::new();
/// let _conn = H2Connection::client(Arc::new(H2Config::default()), client.clone());
/// ```
#[derive(Clone, Default)]
pub struct H2Client {
    pub(super) q: Arc<Mutex<ClientQueue>>,
}

#[derive(Default)]
pub(super) struct ClientQueue {
    pub(super) pending: VecDeque<(request::Parts, Box<dyn StreamProtocol>)>,
    pub(super) wake: Option<Wake>,
}

impl std::fmt::Debug for H2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("H2Client")
    }
}

impl H2Client {
    /// A handle with nothing queued.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h2::{H2Client, H2Config, H2Connection};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("http://localhost{path}")).body(()).unwrap()
    /// # }
    /// let (tx, rx) = mpsc::channel();
    /// let requests = H2Client::new();
    /// let client = H2Connection::client(Arc::default(), requests.clone());
    /// let mut pump = Pump::new(Box::new(client), Box::new(H2Connection::server(Arc::default(), hello())));
    /// pump.run(Duration::from_secs(1));
    /// // A handle queues a request at any time, from any thread.
    /// std::thread::spawn(move || requests.send(req("/later"), get(&tx))).join().unwrap();
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(rx.try_recv(), Ok((200, "hello".into())));
    /// ```
    pub fn new() -> H2Client {
        H2Client::default()
    }

    /// Queues a request. When every handle is dropped, the connection
    /// closes (GOAWAY) once its streams have ended. `proto` gets `connection_made` when its stream
    /// opens; it writes the request body and ends it with `write_eof` (a
    /// request without a body: `write_eof` at once). The response head is the
    /// [`ResponseHead`](crate::http::ResponseHead) capability, present before the first
    /// `data_received` (or `eof_received`).
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h2::{H2Client, H2Config, H2Connection};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("http://localhost{path}")).body(()).unwrap()
    /// # }
    /// let (tx, rx) = mpsc::channel();
    /// let requests = H2Client::new();
    /// for path in ["/1", "/2", "/3"] {
    ///     requests.send(req(path), get(&tx));
    /// }
    /// let client = H2Connection::client(Arc::default(), requests);
    /// let mut pump = Pump::new(Box::new(client), Box::new(H2Connection::server(Arc::default(), hello())));
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![(200, "hello".to_string()); 3]);
    /// ```
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
