//! [`QuicClient`]: one connection to one server.

use std::net::SocketAddr;
use std::sync::Arc;

use super::engine::{Engine, Role};
use super::{PerStream, QuicApp, QuicConfig, QuicError};
use crate::StreamProtocol;

/// The client: a datagram protocol that connects to one server when its
/// transport is ready and runs one [`QuicApp`]. When the connection is over
/// (closed and drained), the client closes its transport.
///
/// ```
/// use std::sync::Arc;
/// use strata::quic::{QuicClient, QuicConfig};
/// use strata::tls::ClientTls;
/// # use strata::{StreamProtocol, StreamTransport};
/// # struct Hello;
/// # impl StreamProtocol for Hello {
/// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi"); t.write_eof() }
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let (tls, _name) = ClientTls::new("localhost")?.insecure().alpn(["echo"]).build_rustls()?;
/// let client = QuicClient::stream(
///     QuicConfig::default(),
///     Arc::new(tls),
///     "localhost",
///     "127.0.0.1:4433".parse()?,
///     Box::new(Hello),
/// )?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct QuicClient {
    engine: Engine,
}

impl QuicClient {
    /// A client that connects to `server` (named `server_name` for TLS) when
    /// its transport is ready, and runs `app` over the connection.
    /// `cfg.alpn`, when not empty, replaces the ALPN list of `tls`.
    pub fn new(
        cfg: QuicConfig,
        tls: Arc<rustls::ClientConfig>,
        server_name: &str,
        server: SocketAddr,
        app: Box<dyn QuicApp>,
    ) -> Result<Self, QuicError> {
        let tls = if cfg.alpn.is_empty() {
            tls
        } else {
            let mut t = (*tls).clone();
            t.alpn_protocols = cfg.alpn.clone();
            Arc::new(t)
        };
        let tls = cfg.client_tls(tls);
        let crypto = quinn_proto::crypto::rustls::QuicClientConfig::try_from(tls)
            .map_err(|e| QuicError::Config(format!("TLS configuration: {e}")))?;
        let role = Role::Client {
            crypto: Arc::new(crypto),
            server_name: server_name.to_string(),
            server,
            app: Some(app),
        };
        Ok(QuicClient {
            engine: Engine::new(cfg, role),
        })
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
        let app = PerStream::client(proto);
        Self::new(cfg, tls, server_name, server, Box::new(app))
    }

    /// True once the connection is over and the transport was closed.
    pub fn is_done(&self) -> bool {
        self.engine.is_done()
    }
}

super::engine::datagram_protocol_via_engine!(QuicClient);
