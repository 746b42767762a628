//! [`QuicPair`]: a QUIC client and a server over a [`SimNet`] link, with
//! the small apps the examples of [`QuicApp`] and [`QuicConnection`] use
//! ([`Recorder`], [`OnStart`]).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::quic::{
    AppFactory, QuicApp, QuicClient, QuicConfig, QuicConnection, QuicServer, StreamId,
};
use crate::testing::{LinkConfig, NodeId, RunOutcome, SimNet};
use crate::tls::{ClientTls, Identity, ServerTls};
use crate::Close;

/// The ALPN protocol both ends of a [`QuicPair`] offer.
pub const QUIC_PAIR_ALPN: &str = "demo";

/// One self-signed `localhost` identity per process (making one is slow).
fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| Identity::localhost().expect("a self-signed identity"))
}

/// The TLS configurations of a [`QuicPair`]: the server's, with a
/// self-signed `localhost` identity, and an insecure client's (it accepts
/// any certificate), both offering [`QUIC_PAIR_ALPN`]. Share one between
/// pairs to keep the session tickets (0-RTT, resumption).
///
/// ```
/// use strata::quic::testing::QuicPairTls;
/// let tls = QuicPairTls::new();
/// assert_eq!(tls.server.alpn_protocols, [b"demo".to_vec()]);
/// assert_eq!(tls.client.alpn_protocols, [b"demo".to_vec()]);
/// ```
#[derive(Clone)]
pub struct QuicPairTls {
    /// The server's configuration.
    pub server: Arc<rustls::ServerConfig>,
    /// The client's configuration (no certificate check).
    pub client: Arc<rustls::ClientConfig>,
}

impl QuicPairTls {
    /// Fresh configurations (no tickets yet) over the process's identity.
    ///
    /// ```
    /// use strata::quic::testing::QuicPairTls;
    /// let (a, b) = (QuicPairTls::new(), QuicPairTls::new());
    /// assert!(!std::sync::Arc::ptr_eq(&a.client, &b.client));
    /// ```
    pub fn new() -> Self {
        let server = ServerTls::new(identity())
            .alpn([QUIC_PAIR_ALPN])
            .build_rustls()
            .expect("the server's TLS configuration");
        let (client, _) = ClientTls::new("localhost")
            .expect("a valid server name")
            .insecure()
            .alpn([QUIC_PAIR_ALPN])
            .build_rustls()
            .expect("the client's TLS configuration");
        QuicPairTls {
            server: Arc::new(server),
            client: Arc::new(client),
        }
    }
}

impl Default for QuicPairTls {
    fn default() -> Self {
        Self::new()
    }
}

/// How a [`QuicPair`] is built. The default: seed 1, a 10 ms link each
/// way ([`QuicPairConfig::DELAY`]), default [`QuicConfig`]s, fresh TLS.
///
/// ```
/// use std::time::Duration;
/// use strata::testing::{LinkConfig, Loss};
/// use strata::quic::testing::{on_start, CallLog, QuicPair, QuicPairConfig, Recorder};
/// let cfg = QuicPairConfig {
///     seed: 7,
///     link: LinkConfig::default().delay(Duration::from_millis(50)).loss(Loss::Random(0.05)),
///     ..QuicPairConfig::default()
/// };
/// let log = CallLog::default();
/// let mut pair = QuicPair::with(cfg, Recorder::factory(&log), on_start(|c| {
///     let id = c.open(strata::quic::Dir::Uni).unwrap();
///     let _ = c.write(id, b"over a lossy link");
///     let _ = c.finish(id);
/// }));
/// pair.run(Duration::from_secs(10));
/// assert_eq!(log.lines(), ["opened 2", "data 2 over a lossy link", "fin 2"]);
/// ```
#[derive(Clone)]
pub struct QuicPairConfig {
    /// The network's seed.
    pub seed: u64,
    /// The link, both ways.
    pub link: LinkConfig,
    /// The server's QUIC configuration.
    pub server: QuicConfig,
    /// The client's QUIC configuration.
    pub client: QuicConfig,
    /// The TLS configurations of both ends.
    pub tls: QuicPairTls,
}

impl QuicPairConfig {
    /// The default one-way delay of the link.
    pub const DELAY: Duration = Duration::from_millis(10);
}

impl Default for QuicPairConfig {
    fn default() -> Self {
        QuicPairConfig {
            seed: 1,
            link: LinkConfig::default().delay(Self::DELAY),
            server: QuicConfig::default(),
            client: QuicConfig::default(),
            tls: QuicPairTls::new(),
        }
    }
}

/// A QUIC client at [`QuicPair::CLIENT`] and a server at
/// [`QuicPair::SERVER`] over a [`SimNet`] link: the server runs a new app
/// from `server()` on each connection, the client runs `client`. Nothing
/// moves until [`run`](QuicPair::run) (or a step of [`net`](QuicPair::net)).
///
/// ```
/// use std::time::Duration;
/// use strata::quic::Dir;
/// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
/// let log = CallLog::default(); // what the server's app saw
/// let mut pair = QuicPair::new(Recorder::factory(&log), on_start(|c| {
///     let id = c.open(Dir::Bi).unwrap();
///     let _ = c.write(id, b"hello");
/// }));
/// pair.run(Duration::from_secs(1));
/// assert_eq!(log.lines(), ["opened 0", "data 0 hello"]);
/// ```
pub struct QuicPair {
    /// The network: both nodes and their link.
    pub net: SimNet,
    /// The client's node.
    pub client: NodeId,
    /// The server's node.
    pub server: NodeId,
}

impl QuicPair {
    /// The server's address.
    pub const SERVER: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 4433));
    /// The client's address.
    pub const CLIENT: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000));

    /// A pair with the [default](QuicPairConfig::default) configuration.
    ///
    /// ```
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let pair = QuicPair::new(Recorder::factory(&CallLog::default()), on_start(|_| {}));
    /// assert_eq!(pair.net.node_at(QuicPair::SERVER), Some(pair.server));
    /// assert_eq!(pair.net.node_at(QuicPair::CLIENT), Some(pair.client));
    /// ```
    pub fn new<S: QuicApp + 'static>(
        server: impl Fn() -> S + Send + Sync + 'static,
        client: impl QuicApp + 'static,
    ) -> Self {
        Self::with(QuicPairConfig::default(), server, client)
    }

    /// A pair built as `cfg` says.
    ///
    /// ```
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, QuicPairConfig, Recorder};
    /// let cfg = QuicPairConfig { seed: 9, ..QuicPairConfig::default() };
    /// let pair = QuicPair::with(cfg, Recorder::factory(&CallLog::default()), on_start(|_| {}));
    /// assert_eq!(pair.net.seed(), 9);
    /// ```
    pub fn with<S: QuicApp + 'static>(
        cfg: QuicPairConfig,
        server: impl Fn() -> S + Send + Sync + 'static,
        client: impl QuicApp + 'static,
    ) -> Self {
        let apps: AppFactory = Arc::new(move |_| Some(Box::new(server()) as Box<dyn QuicApp>));
        let srv = QuicServer::new(cfg.server, cfg.tls.server, apps).expect("a QUIC server");
        let cli = QuicClient::new(
            cfg.client,
            cfg.tls.client,
            "localhost",
            Self::SERVER,
            Box::new(client),
        )
        .expect("a QUIC client");
        let mut net = SimNet::new(cfg.seed);
        let server = net.add_node(Self::SERVER, Box::new(srv));
        let client = net.add_node(Self::CLIENT, Box::new(cli));
        net.link_both(client, server, cfg.link);
        QuicPair {
            net,
            client,
            server,
        }
    }

    /// [`new`](QuicPair::new), run for 5 simulated seconds: enough for the
    /// handshake and a short exchange on the default 10 ms link.
    ///
    /// ```
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let log = CallLog::default();
    /// let pair = QuicPair::exchange(Recorder::factory(&log), on_start(|c| {
    ///     let id = c.open(strata::quic::Dir::Uni).unwrap();
    ///     let _ = c.write(id, b"hi");
    ///     let _ = c.finish(id);
    /// }));
    /// assert!(pair.net.elapsed() >= std::time::Duration::from_millis(20)); // a round trip at least
    /// assert_eq!(log.lines(), ["opened 2", "data 2 hi", "fin 2"]);
    /// ```
    pub fn exchange<S: QuicApp + 'static>(
        server: impl Fn() -> S + Send + Sync + 'static,
        client: impl QuicApp + 'static,
    ) -> Self {
        let mut pair = Self::new(server, client);
        pair.run(Duration::from_secs(5));
        pair
    }

    /// Runs the network for at most `limit` of simulated time
    /// ([`SimNet::run`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let mut pair = QuicPair::new(Recorder::factory(&CallLog::default()), on_start(|_| {}));
    /// pair.run(Duration::from_millis(5));
    /// assert_eq!(pair.net.elapsed(), Duration::from_millis(5)); // the Initial is still on the wire
    /// ```
    pub fn run(&mut self, limit: Duration) -> RunOutcome {
        self.net.run(limit)
    }

    /// Tells the server to shut down gracefully now (the driver's drain:
    /// [`QuicApp::on_shutdown`] on each connection); run the pair after.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let log = CallLog::default(); // what the client sees
    /// let mut pair = QuicPair::exchange(|| on_start(|_| {}), Recorder(log.clone()));
    /// assert!(log.lines().is_empty());
    /// pair.shutdown_server();
    /// pair.run(Duration::from_secs(5));
    /// let lines = log.lines(); // the default `on_shutdown` closes at once
    /// assert!(lines.len() == 1 && lines[0].starts_with("lost: "), "{lines:?}");
    /// ```
    pub fn shutdown_server(&mut self) {
        let now = self.net.now();
        if let Some(stack) = self.net.stack_mut(self.server) {
            stack.handle_shutdown(now);
        }
    }
}

/// What a [`Recorder`] saw, one line per callback; clones share the lines.
///
/// ```
/// use strata::quic::testing::CallLog;
/// let log = CallLog::default();
/// log.clone().push("one".into());
/// assert_eq!(log.lines(), ["one"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// Adds a line.
    ///
    /// ```
    /// use strata::quic::testing::CallLog;
    /// let log = CallLog::default();
    /// log.push(format!("data {}", 2));
    /// assert_eq!(log.lines(), ["data 2"]);
    /// ```
    pub fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// The lines so far, oldest first.
    ///
    /// ```
    /// use strata::quic::testing::CallLog;
    /// let log = CallLog::default();
    /// assert!(log.lines().is_empty());
    /// ```
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A [`QuicApp`] that logs its callbacks to a [`CallLog`]: `opened {id}`,
/// `data {id} {text}`, `fin {id}`, `reset {id} {code}`, `datagram {text}`,
/// `lost: {why}`.
///
/// ```
/// use strata::quic::Dir;
/// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
/// let log = CallLog::default();
/// QuicPair::exchange(Recorder::factory(&log), on_start(|c| {
///     let id = c.open(Dir::Uni).unwrap();
///     let _ = c.write(id, b"abc");
///     c.reset(id, 4);
/// }));
/// assert_eq!(log.lines().last().unwrap(), "reset 2 4");
/// ```
pub struct Recorder(
    /// Where the lines go.
    pub CallLog,
);

impl Recorder {
    /// A server's app factory: a `Recorder` into `log` for each connection.
    ///
    /// ```
    /// use strata::quic::testing::{CallLog, Recorder};
    /// let log = CallLog::default();
    /// let make = Recorder::factory(&log);
    /// make().0.push("shared".into());
    /// assert_eq!(log.lines(), ["shared"]);
    /// ```
    pub fn factory(log: &CallLog) -> impl Fn() -> Recorder + Send + Sync + 'static {
        let log = log.clone();
        move || Recorder(log.clone())
    }
}

impl QuicApp for Recorder {
    fn stream_opened(&mut self, _: &mut dyn QuicConnection, id: StreamId) {
        self.0.push(format!("opened {}", id.0))
    }
    fn stream_data(&mut self, _: &mut dyn QuicConnection, id: StreamId, d: &[u8]) {
        self.0
            .push(format!("data {} {}", id.0, String::from_utf8_lossy(d)))
    }
    fn stream_finished(&mut self, _: &mut dyn QuicConnection, id: StreamId) {
        self.0.push(format!("fin {}", id.0))
    }
    fn stream_reset(&mut self, _: &mut dyn QuicConnection, id: StreamId, code: u64) {
        self.0.push(format!("reset {} {code}", id.0))
    }
    fn datagram_received(&mut self, _: &mut dyn QuicConnection, d: &[u8]) {
        self.0
            .push(format!("datagram {}", String::from_utf8_lossy(d)))
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.push(format!("lost: {why}"))
    }
}

/// A [`QuicApp`] that runs its closure once the connection is made, and
/// ignores the rest. See [`on_start`].
///
/// ```
/// use strata::quic::testing::OnStart;
/// let app = OnStart(|c: &mut dyn strata::quic::QuicConnection| assert!(!c.is_server()));
/// # let _ = app;
/// ```
pub struct OnStart<F>(
    /// Run once, in `connection_made`.
    pub F,
);

/// An [`OnStart`] app that runs `f` in `connection_made`.
///
/// ```
/// use std::sync::mpsc;
/// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
/// let (tx, rx) = mpsc::channel();
/// QuicPair::exchange(Recorder::factory(&CallLog::default()), on_start(move |c| {
///     tx.send(c.is_server()).unwrap()
/// }));
/// assert_eq!(rx.try_recv(), Ok(false));
/// ```
pub fn on_start<F: FnMut(&mut dyn QuicConnection) + Send>(f: F) -> OnStart<F> {
    OnStart(f)
}

impl<F: FnMut(&mut dyn QuicConnection) + Send> QuicApp for OnStart<F> {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        (self.0)(c)
    }
    fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
}
