//! Connection-level QUIC applications in the driver: a listener whose
//! connections each run an app chosen by ALPN ([`Server::listen_quic`]:
//! HTTP/3 is one), and a client connection running one app
//! ([`connect_quic`]). The `quic+udp://` endpoint's options, certificate
//! handling and deadlines are those of the scheme-table row; only what runs
//! on each connection differs (an app, not a stream protocol per stream).

use std::sync::Arc;
use std::time::Instant;

use strata::endpoint::Endpoint;
use strata::quic::{AppFactory, Dir, QuicApp, QuicClient, QuicConnection, QuicServer, StreamId};
use strata::{Close, DatagramProtocol, StackConfig, WakeRoute};
use tokio::sync::oneshot;

use super::{client_tls, config, identity, NAME, VERSIONS};
use crate::config::ListenConfig;
use crate::connect::Connection;
use crate::error::DriverError;
use crate::layer::Open;
use crate::server::{Listening, Server};
use crate::tls::{server_rustls, TlsIdentity};

/// The endpoint is exactly `quic+udp://…`.
fn check(ep: &Endpoint) -> Result<(), DriverError> {
    if ep.layers.len() == 2 && ep.layers[0] == NAME && ep.layers[1] == "udp" {
        Ok(())
    } else {
        Err(DriverError::Unsupported {
            scheme: format!("{} (a QUIC app needs quic+udp://)", ep.layers.join("+")),
        })
    }
}

fn udp_open() -> Result<Open, DriverError> {
    crate::scheme::find("udp")?
        .open
        .ok_or_else(|| DriverError::Unsupported {
            scheme: "udp".into(),
        })
}

fn refused(e: strata::quic::QuicError) -> DriverError {
    DriverError::BadOption {
        layer: NAME.into(),
        key: "*".into(),
        value: e.to_string(),
        expected: "settings QUIC accepts",
    }
}

impl Server {
    /// Listens on a `quic+udp://` endpoint and runs, on every connection,
    /// the app `apps` gives for its negotiated ALPN (`None`: the connection
    /// is closed). The endpoint's `quic.alpn` lists what the handshake
    /// accepts; the certificate is `identity`, or the endpoint's
    /// `quic.cert`/`quic.key`, or a self-signed one.
    ///
    /// ```no_run
    /// # async fn run(service: strata::http::SharedService) -> Result<(), strata_tokio::DriverError> {
    /// use std::sync::Arc;
    /// use strata::endpoint::Endpoint;
    /// use strata::http::h3::{H3Config, H3Server};
    /// use strata::quic::{AppFactory, QuicApp};
    /// let ep = Endpoint::parse_with("quic+udp://127.0.0.1:8443?quic.alpn=h3", &strata_tokio::registry()).unwrap();
    /// let apps: AppFactory = Arc::new(move |_alpn: Option<&[u8]>| {
    ///     Some(Box::new(H3Server::new(service.clone(), H3Config::default())) as Box<dyn QuicApp>)
    /// });
    /// let bound = strata_tokio::Server::new()
    ///     .listen_quic(&ep, None, apps, strata_tokio::ListenConfig::default())
    ///     .await?;
    /// println!("HTTP/3 on {}", bound.endpoint());
    /// # Ok(()) }
    /// ```
    pub async fn listen_quic(
        &self,
        ep: &Endpoint,
        identity: Option<TlsIdentity>,
        apps: AppFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        check(ep)?;
        let id = match identity {
            Some(id) => id,
            None => self::identity(ep)?,
        };
        // Observed as a stream listener is (`listen_with_identity`).
        let observed = (self.stats().is_some() || crate::stats::lifecycle_enabled())
            .then(|| crate::StackStats::new(&ep.to_string()));
        let apps = match &observed {
            Some(s) => crate::stats::observe_apps(apps, s.clone()),
            None => apps,
        };
        let make_one = || -> Result<Box<dyn DatagramProtocol>, DriverError> {
            let mut qcfg = config(ep, &cfg.stack)?;
            qcfg.max_connections = qcfg.max_connections.min(cfg.max_connections);
            let mut tls = server_rustls(ep, &id, NAME, Some(VERSIONS))?;
            tls.alpn_protocols = qcfg.alpn.clone();
            let server = QuicServer::new(qcfg, Arc::new(tls), apps.clone()).map_err(refused)?;
            Ok(Box::new(server))
        };
        // Checked once before binding: a bad option binds nothing.
        drop(make_one()?);
        let Open::Datagram { bind, .. } = udp_open()? else {
            return Err(DriverError::Unsupported {
                scheme: "udp".into(),
            });
        };
        let mut make = make_one;
        let local = bind(&self.shared, ep, &mut make, cfg.stack.clone()).await?;
        let bound = Listening::bound(ep, local);
        if let Some(s) = observed {
            s.set_endpoint(&bound.endpoint());
            if let Some(stats) = self.stats() {
                stats.adopt(s);
            }
        }
        Ok(bound)
    }
}

/// Connects to a `quic+udp://` endpoint and runs `app` on the connection;
/// returns once the handshake is done (the app got `connection_made`), or
/// fails with the reason it could not be (nobody answers, the certificate
/// or the ALPN is refused: the handshake's deadline bounds the wait). The
/// connection ends when the app closes it, or the peer does, or it idles
/// out.
///
/// ```no_run
/// # async fn run() -> Result<(), strata_tokio::DriverError> {
/// use std::sync::Arc;
/// use strata::endpoint::Endpoint;
/// use strata::http::h3::{H3Client, H3Config};
/// # struct Print;
/// # impl strata::StreamProtocol for Print {
/// #     fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) { t.write_eof() }
/// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
/// # }
/// let ep = Endpoint::parse_with("quic+udp://localhost:8443?quic.alpn=h3&quic.insecure=true", &strata_tokio::registry()).unwrap();
/// let req = http::Request::get("https://localhost:8443/").body(()).unwrap();
/// let app = H3Client::request(req, Box::new(Print), H3Config::default());
/// let conn = strata_tokio::connect_quic(&ep, Box::new(app), Arc::new(strata::StackConfig::default())).await?;
/// let why = conn.closed().await;
/// # Ok(()) }
/// ```
pub async fn connect_quic(
    ep: &Endpoint,
    app: Box<dyn QuicApp>,
    stack: Arc<StackConfig>,
) -> Result<Connection, DriverError> {
    check(ep)?;
    let cfg = config(ep, &stack)?;
    let (tls, name) = client_tls(ep, &cfg)?;
    let (app, (started, ended)) = Started::new(app);
    let (peer, resolved) = crate::endpoint::resolve_first(ep).await?;
    let client = QuicClient::new(cfg, tls, &name, peer, Box::new(app))
        .map_err(|e| super::connect_error(peer, e))?;
    let Open::Datagram { connect, .. } = udp_open()? else {
        return Err(DriverError::Unsupported {
            scheme: "udp".into(),
        });
    };
    let (peer, task) = connect(&resolved, Box::new(client), stack).await?;
    crate::endpoint::until_started(peer, task, started, Some(ended)).await
}

/// Tells the connect when the app starts (or why it never did), and the
/// connection's handle when it ended (for `Connection::closed`). Used by
/// `connect_quic` and by `QuicEndpoint::connect`.
pub(super) struct Started {
    inner: Box<dyn QuicApp>,
    started: Option<oneshot::Sender<Result<(), Close>>>,
    ended: Option<oneshot::Sender<Close>>,
}

/// What a [`Started`] reports: the start (or why not), then the end.
pub(super) type StartedRx = (
    oneshot::Receiver<Result<(), Close>>,
    oneshot::Receiver<Close>,
);

impl Started {
    pub(super) fn new(inner: Box<dyn QuicApp>) -> (Started, StartedRx) {
        let (tx, rx) = oneshot::channel();
        let (end_tx, end_rx) = oneshot::channel();
        (
            Started {
                inner,
                started: Some(tx),
                ended: Some(end_tx),
            },
            (rx, end_rx),
        )
    }
}

/// Forwards every method (a forgotten one would change the app's
/// behaviour).
impl QuicApp for Started {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Ok(()));
        }
        self.inner.connection_made(c)
    }
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_opened(c, id)
    }
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        self.inner.stream_data(c, id, data)
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_finished(c, id)
    }
    fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        self.inner.stream_reset(c, id, code)
    }
    fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        self.inner.stream_stopped(c, id, code)
    }
    fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_acked(c, id)
    }
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.inner.stream_writable(c, id)
    }
    fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {
        self.inner.streams_available(c, dir)
    }
    fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {
        self.inner.datagram_received(c, data)
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        self.inner.on_deadline(c)
    }
    fn on_wake(&mut self, c: &mut dyn QuicConnection) {
        self.inner.on_wake(c)
    }
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        self.inner.on_wake_at(c, route)
    }
    fn early_data(&self) -> bool {
        self.inner.early_data()
    }
    fn zero_rtt_accepted(&mut self, c: &mut dyn QuicConnection) {
        self.inner.zero_rtt_accepted(c)
    }
    fn zero_rtt_rejected(&mut self, c: &mut dyn QuicConnection) {
        self.inner.zero_rtt_rejected(c)
    }
    fn connection_lost(&mut self, why: &Close) {
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Err(why.clone()));
        }
        self.inner.connection_lost(why);
        // After the app's last callback: a waiter woken by this finds the
        // app done.
        if let Some(tx) = self.ended.take() {
            let _ = tx.send(why.clone());
        }
    }
}
