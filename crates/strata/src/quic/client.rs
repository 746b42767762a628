//! [`QuicClient`]: one connection to one server.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{QuicApp, QuicConfig, QuicError};
use crate::{Datagram, DatagramProtocol, DatagramTransport, StreamProtocol};

/// The client: a datagram protocol that connects to one server and runs one app.
pub struct QuicClient {
    _cfg: QuicConfig,
}

impl QuicClient {
    /// A client that connects to `server` (named `server_name` for TLS) when
    /// its transport is ready, and runs `app` over the connection.
    pub fn new(
        cfg: QuicConfig,
        tls: Arc<rustls::ClientConfig>,
        server_name: &str,
        server: SocketAddr,
        app: Box<dyn QuicApp>,
    ) -> Result<Self, QuicError> {
        let _ = (cfg, tls, server_name, server, app);
        todo!()
    }

    /// The common case: one bidirectional stream carrying `proto` (closing the
    /// connection when that stream's protocol is done).
    pub fn stream(
        cfg: QuicConfig,
        tls: Arc<rustls::ClientConfig>,
        server_name: &str,
        server: SocketAddr,
        proto: Box<dyn StreamProtocol>,
    ) -> Result<Self, QuicError> {
        let _ = (cfg, tls, server_name, server, proto);
        todo!()
    }
}

impl DatagramProtocol for QuicClient {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let _ = (t, batch);
        todo!()
    }
}
