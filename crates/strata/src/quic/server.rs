//! [`QuicServer`]: accepts connections on one datagram transport.

use std::sync::Arc;

use super::engine::{Engine, Role};
use super::{AppFactory, QuicConfig, QuicError};

/// The server: a datagram protocol over one socket (or any datagram
/// transport). Each connection runs the [`QuicApp`](super::QuicApp) its
/// [`AppFactory`] picks by the negotiated ALPN; a connection without one is
/// closed with [`NO_APPLICATION_CODE`](super::NO_APPLICATION_CODE).
///
/// Over the limit of [`QuicConfig::max_connections`] new connections are
/// refused (CONNECTION_REFUSED); with [`RetryPolicy`](super::RetryPolicy)
/// new clients first prove their address with a Retry.
///
/// ```
/// use std::sync::Arc;
/// use strata::quic::{PerStream, QuicApp, QuicConfig, QuicServer};
/// use strata::tls::{Identity, ServerTls};
/// # use strata::{StreamProtocol, StreamTransport};
/// # struct Echo;
/// # impl StreamProtocol for Echo {
/// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let tls = ServerTls::new(&Identity::localhost()?).alpn(["echo"]).build_rustls()?;
/// let server = QuicServer::new(
///     QuicConfig::default(),
///     Arc::new(tls),
///     Arc::new(|_alpn| Some(Box::new(PerStream::new(Arc::new(|| Box::new(Echo)))) as Box<dyn QuicApp>)),
/// )?;
/// assert_eq!(server.connections(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct QuicServer {
    engine: Engine,
}

impl QuicServer {
    /// A server answering with `tls` (TLS 1.3) and running, per connection,
    /// the app `apps` picks by the negotiated ALPN. `cfg.alpn`, when not
    /// empty, replaces the ALPN list of `tls`.
    pub fn new(
        cfg: QuicConfig,
        tls: Arc<rustls::ServerConfig>,
        apps: AppFactory,
    ) -> Result<Self, QuicError> {
        let tls = if cfg.alpn.is_empty() {
            tls
        } else {
            let mut t = (*tls).clone();
            t.alpn_protocols = cfg.alpn.clone();
            Arc::new(t)
        };
        let tls = cfg.server_tls(tls);
        let crypto = quinn_proto::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| QuicError::Config(format!("TLS configuration: {e}")))?;
        let role = Role::Server {
            crypto: Arc::new(crypto),
            apps,
        };
        Ok(QuicServer {
            engine: Engine::new(cfg, role),
        })
    }

    /// Connections open now (handshaking, established or closing).
    pub fn connections(&self) -> usize {
        self.engine.connections()
    }
}

super::engine::datagram_protocol_via_engine!(QuicServer);
