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
    pub fn new() -> H2Client {
        H2Client::default()
    }

    /// Queues a request. When every handle is dropped, the connection
    /// closes (GOAWAY) once its streams have ended. `proto` gets `connection_made` when its stream
    /// opens; it writes the request body and ends it with `write_eof` (a
    /// request without a body: `write_eof` at once). The response head is the
    /// [`ResponseHead`](crate::http::ResponseHead) capability, present before the first
    /// `data_received` (or `eof_received`).
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
