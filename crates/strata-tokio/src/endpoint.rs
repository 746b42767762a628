//! Endpoint glue: listening on and connecting to what an endpoint string
//! describes, for every chain the scheme table can build (`tcp://`,
//! `unix://`, `tls+tcp://`, `tls+tls+tcp://`, `reliable+udp://`,
//! `reliable+tcp://`, `tls+reliable+udp://`, ...).
//!
//! One walk, the same for every scheme: the transport (the last scheme) is
//! opened by its row of the [table](crate::scheme); over a datagram
//! transport, the scheme right above it carries the streams (the reliable
//! mapping); every scheme above that is a layer wrapped around the protocol
//! over a stream. No scheme is named here.

use std::sync::Arc;

use strata::endpoint::Endpoint;
use strata::{Addr, StackConfig, StreamProtocol, StreamTransport};

use crate::config::ListenConfig;
use crate::connect::Connection;
use crate::control::Shared;
use crate::error::DriverError;
use crate::layer::{Carry, LayerCx, LayerWrap, Open, Role};
use crate::scheme::find;
use crate::tls::TlsIdentity;
use strata::StreamFactory;

/// What an endpoint's chain takes to run: the transport, the layer that
/// carries streams over it (over datagrams), and the stream layers' wrappers.
pub(crate) struct Plan {
    pub(crate) open: Open,
    pub(crate) carry: Option<Carry>,
    /// The stream layers' wrappers, top first.
    pub(crate) wraps: Vec<LayerWrap>,
}

/// Reads the chain against the table; each layer's builder checks its
/// options now (and `tls` makes its configuration once).
pub(crate) fn plan(cx: &mut LayerCx<'_>) -> Result<Plan, DriverError> {
    let ep = cx.ep;
    let not_stream = || DriverError::NotStream {
        endpoint: ep.to_string(),
    };
    let Some((transport, mut above)) = ep.layers.split_last() else {
        return Err(DriverError::Unsupported {
            scheme: String::new(),
        });
    };
    let open = find(transport)?
        .open
        .ok_or_else(|| DriverError::Unsupported {
            scheme: transport.clone(),
        })?;
    let mut carry = None;
    if let Open::Datagram { .. } = open {
        let Some((carrier, rest)) = above.split_last() else {
            return Err(not_stream());
        };
        carry = Some(find(carrier)?.over_datagrams.ok_or_else(not_stream)?);
        above = rest;
    }
    let wraps = above
        .iter()
        .map(|name| {
            let build = find(name)?
                .over_stream
                .ok_or_else(|| DriverError::Unsupported {
                    scheme: name.clone(),
                })?;
            build(cx)
        })
        .collect::<Result<_, _>>()?;
    Ok(Plan { open, carry, wraps })
}

/// Wraps `proto` in the layers, top first, so the transport's layer is outermost.
pub(crate) fn wrap(proto: Box<dyn StreamProtocol>, wraps: &[LayerWrap]) -> Box<dyn StreamProtocol> {
    wraps.iter().fold(proto, |p, w| w(p))
}

/// Listens on what `ep` describes with `factory`'s protocols (see
/// [`Server::listen`](crate::Server::listen)); returns the bound address.
pub(crate) async fn listen(
    shared: &Arc<Shared>,
    ep: &Endpoint,
    identity: Option<TlsIdentity>,
    factory: StreamFactory,
    cfg: ListenConfig,
) -> Result<Addr, DriverError> {
    let mut cx = LayerCx {
        ep,
        role: Role::Server,
        identity,
        tls: None,
        tls_identity: None,
        seed: None,
    };
    let plan = plan(&mut cx)?;
    let wraps = plan.wraps;
    let factory: StreamFactory = if wraps.is_empty() {
        factory
    } else {
        Arc::new(move || wrap(factory(), &wraps))
    };
    match (plan.open, plan.carry) {
        (Open::Stream { listen, .. }, _) => listen(shared, ep, factory, cfg).await,
        (Open::Datagram { bind, .. }, Some(carry)) => {
            // Checked once before binding: a bad option binds nothing.
            drop((carry.serve)(&mut cx, &factory, &cfg)?);
            let stack = cfg.stack.clone();
            let mut make = || (carry.serve)(&mut cx, &factory, &cfg);
            bind(shared, ep, &mut make, stack).await
        }
        (Open::Datagram { .. }, None) => Err(DriverError::NotStream {
            endpoint: ep.to_string(),
        }),
    }
}

/// Connects to what `ep` describes and runs `proto` over it: `tcp://` (a
/// name with Happy Eyeballs, RFC 8305) or `unix://`, or `udp://` under a
/// layer that carries streams (`reliable+udp://`), under the layers the
/// chain names (`tls+`, configured as [`client_config`](crate::client_config)
/// says; `reliable+` over a stream is a pass-through). Options
/// `tcp.nodelay` (default true), `tcp.sndbuf` and `tcp.rcvbuf` (default:
/// the kernel's) apply.
///
/// Over datagrams it returns once the mapping's handshake is done, as
/// `tcp://` returns once TCP's is, and fails with the reason when it cannot
/// be (nobody answers, the server refuses).
///
/// ```no_run
/// # async fn run(proto: Box<dyn strata::StreamProtocol>) -> Result<(), strata_tokio::DriverError> {
/// use std::sync::Arc;
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse("reliable+tcp://localhost:8080").unwrap();
/// let conn = strata_tokio::connect(&ep, proto, Arc::new(strata::StackConfig::default())).await?;
/// let why = conn.closed().await;
/// # Ok(()) }
/// ```
pub async fn connect(
    ep: &Endpoint,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
) -> Result<Connection, DriverError> {
    let mut cx = LayerCx {
        ep,
        role: Role::Client,
        identity: None,
        tls: None,
        tls_identity: None,
        seed: None,
    };
    let plan = plan(&mut cx)?;
    let proto = wrap(proto, &plan.wraps);
    match (plan.open, plan.carry) {
        (Open::Stream { connect, .. }, _) => connect(ep, proto, stack).await,
        (Open::Datagram { connect, .. }, Some(carry)) => {
            // The protocol sits in a swap point: an HTTP client choosing its
            // version (or STARTTLS) swaps above the mapping, which stays.
            let slot = strata::ProtocolSlot::new(proto);
            let (proto, started, ended) = Started::new(Box::new(slot));
            // The carrier is told the peer (QUIC keys its connection to it);
            // the socket connects to that same address, resolved once.
            let (peer, resolved) = resolve_first(ep).await?;
            let layer = (carry.connect)(&cx, Box::new(proto), &stack, peer)?;
            let (peer, task) = connect(&resolved, layer, stack).await?;
            until_started(peer, task, started, Some(ended)).await
        }
        (Open::Datagram { .. }, None) => Err(DriverError::NotStream {
            endpoint: ep.to_string(),
        }),
    }
}

/// The first address `ep`'s host resolves to, and `ep` with that address
/// as its host (so that opening it resolves nothing again).
pub(crate) async fn resolve_first(
    ep: &Endpoint,
) -> Result<(std::net::SocketAddr, Endpoint), DriverError> {
    let strata::endpoint::Target::Host { host, port } = &ep.target else {
        return Err(DriverError::NotStream {
            endpoint: ep.to_string(),
        });
    };
    let peer = *crate::connect::resolve(host, *port)
        .await?
        .first()
        .ok_or_else(|| DriverError::NoAddresses {
            host: host.to_string(),
        })?;
    let mut resolved = ep.clone();
    resolved.target = strata::endpoint::Target::Host {
        host: strata::endpoint::Host::Ip(peer.ip()),
        port: peer.port(),
    };
    Ok((peer, resolved))
}

/// Waits until the protocol above the carrier started (its handshake is
/// done). If it never does (the handshake timed out, the server refused),
/// the connect fails with the reason the protocol was given (a carrier that
/// ends its socket cleanly still tells the protocol why), else the task's.
pub(crate) async fn until_started(
    peer: std::net::SocketAddr,
    task: tokio::task::JoinHandle<strata::Close>,
    started: tokio::sync::oneshot::Receiver<Result<(), strata::Close>>,
    ended: Option<tokio::sync::oneshot::Receiver<strata::Close>>,
) -> Result<Connection, DriverError> {
    // A caller that gives up first (a relay's `--connect-timeout`) drops
    // this future: the attempt is stopped with it, not left to finish on
    // its own and start a protocol nobody waits for.
    struct StopOnDrop(Option<tokio::task::AbortHandle>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            if let Some(h) = self.0.take() {
                h.abort();
            }
        }
    }
    let mut guard = StopOnDrop(Some(task.abort_handle()));
    let outcome = started.await;
    guard.0 = None;
    let why = match outcome {
        Ok(Ok(())) => {
            return Ok(match ended {
                Some(ended) => Connection::with_end(Addr::Inet(peer), task, ended),
                None => Connection::new(Addr::Inet(peer), task),
            })
        }
        Ok(Err(why)) => why,
        Err(_) => Connection::new(Addr::Inet(peer), task).closed().await,
    };
    Err(not_started(peer, why))
}

/// The error of a connect whose protocol never started, from the reason:
/// a timeout (or a local limit, the handshake's deadline) is `TimedOut`,
/// an I/O error keeps its kind, anything else is a refusal.
pub(crate) fn not_started(peer: std::net::SocketAddr, why: strata::Close) -> DriverError {
    let kind = match (&why, why.kind()) {
        (strata::Close::Timeout(_), _) => std::io::ErrorKind::TimedOut,
        (strata::Close::Io(k), _) => *k,
        // A local limit before the start: the handshake's deadline.
        (_, Some(strata::Fault::LocalLimit)) => std::io::ErrorKind::TimedOut,
        _ => std::io::ErrorKind::ConnectionRefused,
    };
    DriverError::io("connect", peer, std::io::Error::new(kind, why.to_string()))
}

/// The protocol above, and a signal when it starts (the handshake is done),
/// or why it ended before it could.
struct Started {
    inner: Box<dyn StreamProtocol>,
    started: Option<tokio::sync::oneshot::Sender<Result<(), strata::Close>>>,
    /// The reason `connection_lost` gave, for [`Connection::closed`].
    ended: Option<tokio::sync::oneshot::Sender<strata::Close>>,
}

impl Started {
    fn new(
        inner: Box<dyn StreamProtocol>,
    ) -> (
        Self,
        tokio::sync::oneshot::Receiver<Result<(), strata::Close>>,
        tokio::sync::oneshot::Receiver<strata::Close>,
    ) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (end_tx, end_rx) = tokio::sync::oneshot::channel();
        let s = Started {
            inner,
            started: Some(tx),
            ended: Some(end_tx),
        };
        (s, rx, end_rx)
    }
}

/// Forwards every method (a forgotten one would change the protocol's
/// behaviour).
impl StreamProtocol for Started {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Ok(()));
        }
        self.inner.connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner.data_received(t, data)
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: bytes::Bytes) {
        self.inner.data_received_bytes(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(t)
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Err(why.clone()));
        }
        self.inner.connection_lost(why);
        // After the protocol ran its last callback: a waiter woken by this
        // finds the protocol done.
        if let Some(tx) = self.ended.take() {
            let _ = tx.send(why.clone());
        }
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.pause_writing(t)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.resume_writing(t)
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_deadline(t)
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: strata::WakeRoute<'_>) {
        self.inner.on_wake(t, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_shutdown(t)
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

#[cfg(test)]
mod tests {
    use strata::endpoint::{Host, Target};

    use super::*;

    fn cx(ep: &Endpoint, role: Role) -> LayerCx<'_> {
        LayerCx {
            ep,
            role,
            identity: None,
            tls: None,
            tls_identity: None,
            seed: None,
        }
    }

    fn wraps(ep: &Endpoint, role: Role) -> Result<usize, DriverError> {
        plan(&mut cx(ep, role)).map(|p| p.wraps.len())
    }

    #[test]
    fn layers_not_in_the_table_are_unsupported() {
        // (`quic+tcp` was the example until the driver built it.)
        let ep = Endpoint {
            layers: vec!["frames".into(), "tcp".into()],
            target: Target::Host {
                host: Host::Name("localhost".into()),
                port: 1,
            },
            options: vec![],
        };
        match wraps(&ep, Role::Client) {
            Err(DriverError::Unsupported { scheme }) => assert_eq!(scheme, "frames"),
            other => panic!("expected Unsupported, got {other:?}"),
        }
        let plain = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
        assert_eq!(wraps(&plain, Role::Server).unwrap(), 0);
        for bare in ["udp://127.0.0.1:1", "tls+udp://127.0.0.1:1"] {
            let mut ep = Endpoint::parse("udp://127.0.0.1:1").unwrap();
            ep.layers = bare
                .split("://")
                .next()
                .unwrap()
                .split('+')
                .map(String::from)
                .collect();
            assert!(
                matches!(wraps(&ep, Role::Client), Err(DriverError::NotStream { .. })),
                "{bare}"
            );
        }
    }

    /// `reliable` is one layer chosen by the endpoint: the carrier over
    /// UDP, a wrapped pass-through over a stream.
    #[test]
    fn reliable_is_a_carrier_over_udp_and_a_layer_over_a_stream() {
        for (s, carried, n) in [
            ("reliable+udp://127.0.0.1:1", true, 0),
            ("reliable+tcp://127.0.0.1:1", false, 1),
            ("reliable+unix:///tmp/x.sock", false, 1),
            ("tls+reliable+udp://127.0.0.1:1", true, 1),
            ("tls+reliable+tcp://127.0.0.1:1", false, 2),
        ] {
            let ep = Endpoint::parse(s).unwrap();
            let p = plan(&mut cx(&ep, Role::Client)).unwrap();
            assert_eq!((p.carry.is_some(), p.wraps.len()), (carried, n), "{s}");
        }
        // Over a stream too, a bad `reliable.*` option is refused.
        let bad = Endpoint::parse("reliable+tcp://127.0.0.1:1?reliable.mtu=1").unwrap();
        assert!(matches!(
            wraps(&bad, Role::Server),
            Err(DriverError::BadOption { .. })
        ));
    }

    #[test]
    fn nested_tls_layers_share_one_configuration() {
        let ep = Endpoint::parse("tls+tls+tcp://127.0.0.1:1").unwrap();
        let mut c = cx(&ep, Role::Server);
        assert_eq!(plan(&mut c).unwrap().wraps.len(), 2);
        assert!(c.tls.is_some_and(|t| !t.is_client()));
    }
}
