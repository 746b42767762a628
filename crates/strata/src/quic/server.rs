//! [`QuicServer`]: accepts connections on one datagram transport.

use std::sync::Arc;

use super::{AppFactory, QuicConfig, QuicError};
use crate::{Datagram, DatagramProtocol, DatagramTransport};

/// The server: a datagram protocol over one socket (or any datagram transport).
pub struct QuicServer {
    _cfg: QuicConfig,
    _apps: AppFactory,
}

impl QuicServer {
    /// A server answering with `tls` (TLS 1.3) and running, per connection,
    /// the app `apps` picks by the negotiated ALPN.
    pub fn new(
        cfg: QuicConfig,
        tls: Arc<rustls::ServerConfig>,
        apps: AppFactory,
    ) -> Result<Self, QuicError> {
        let _ = (cfg, tls, apps);
        todo!()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        todo!()
    }
}

impl DatagramProtocol for QuicServer {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let _ = (t, batch);
        todo!()
    }
}
