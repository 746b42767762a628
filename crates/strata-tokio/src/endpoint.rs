//! Endpoint glue: listening on and connecting to what an endpoint string
//! describes (`tcp://`, `unix://`, `tls+tcp://`, `tls+unix://`,
//! `tls+tls+tcp://`).
//!
//! The transport (the last scheme) is opened here. Every scheme above it is a
//! layer, built from [`STREAM_LAYERS`]: the one seam where new layers plug in
//! (one line: the layer's [`SchemeSpec`] and its builder). An endpoint naming
//! a layer not in the table is [`DriverError::Unsupported`]; [`registry`]
//! gives the parser every scheme the table holds.

use std::net::SocketAddr;
use std::sync::Arc;

use strata::endpoint::{Endpoint, Host, SchemeRegistry, SchemeSpec, Target};
use strata::tls::TlsConfig;
use strata::{Addr, StackConfig, StreamProtocol};

use crate::connect::{happy_eyeballs, run_tcp, tcp_connect, Buffers, Connection};
use crate::tls::TlsIdentity;
use crate::{DriverError, ListenConfig, Listening, Server, StreamFactory};

/// Which end of the connection a layer is built for: TLS, for one, needs it,
/// and it is not always the end that connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

/// Builds one layer around the protocol above it.
pub(crate) type LayerWrap =
    Arc<dyn Fn(Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> + Send + Sync>;

/// What the builders of one endpoint's layers share: the endpoint, the role,
/// and what is worth making once for the whole chain (`tls+tls+tcp` reads
/// its files, or makes its certificate, once).
pub(crate) struct LayerCx<'a> {
    pub(crate) ep: &'a Endpoint,
    pub(crate) role: Role,
    /// The identity a TLS server presents, when the caller gave one.
    pub(crate) identity: Option<TlsIdentity>,
    /// The TLS configuration, once the first `tls` layer has made it.
    pub(crate) tls: Option<TlsConfig>,
}

/// Makes the wrapper for a layer, from the endpoint's options for it.
type LayerBuilder = fn(&mut LayerCx<'_>) -> Result<LayerWrap, DriverError>;

/// The stream layers the driver can build: the scheme each registers and
/// the builder that reads its options and returns the wrapper. Adding a
/// layer is one line.
const STREAM_LAYERS: &[(SchemeSpec, LayerBuilder)] = &[(SchemeSpec::TLS, crate::tls::layer)];

/// The schemes the driver can build, for [`Endpoint::parse_with`]: `tcp`,
/// `udp`, `unix` and every layer of the driver's table (`tls`).
///
/// ```
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse_with("tls+tcp://localhost:8443?tls.alpn=h2", &strata_tokio::registry()).unwrap();
/// assert_eq!(ep.layers, ["tls", "tcp"]);
/// ```
pub fn registry() -> SchemeRegistry {
    let mut reg = SchemeRegistry::default();
    if let Err(e) = reg.register(SchemeSpec::RELIABLE) {
        tracing::error!("driver layer table: {e}");
    }
    for (spec, _) in STREAM_LAYERS {
        // Invariant: the table's names are valid and distinct from the
        // transports' (checked by a unit test below).
        if let Err(e) = reg.register(*spec) {
            tracing::error!("driver layer table: {e}");
        }
    }
    reg
}

/// The wrappers for every layer above the transport, top first.
fn layers(cx: &mut LayerCx<'_>) -> Result<Vec<LayerWrap>, DriverError> {
    let ep = cx.ep;
    // The stream layers: all but the transport, and but the mapping that
    // turns UDP's datagrams into a stream.
    let adapter = usize::from(crate::reliable::is_reliable_udp(ep));
    let above = ep.layers.len().saturating_sub(1 + adapter);
    ep.layers[..above]
        .iter()
        .map(
            |name| match STREAM_LAYERS.iter().find(|(s, _)| s.name == name) {
                Some((_, build)) => build(cx),
                None => Err(DriverError::Unsupported {
                    scheme: name.to_string(),
                }),
            },
        )
        .collect()
}

/// Wraps `proto` in the layers, top first, so the transport's layer is outermost.
fn wrap(proto: Box<dyn StreamProtocol>, wraps: &[LayerWrap]) -> Box<dyn StreamProtocol> {
    wraps.iter().fold(proto, |p, w| w(p))
}

/// Checks that the transport gives a stream (the only family the driver
/// builds stream stacks on today).
fn stream_transport(ep: &Endpoint) -> Result<(), DriverError> {
    match ep.transport() {
        "tcp" | "unix" => Ok(()),
        "udp" if crate::reliable::is_reliable_udp(ep) => Ok(()),
        "udp" => Err(DriverError::NotStream {
            endpoint: ep.to_string(),
        }),
        other => Err(DriverError::Unsupported {
            scheme: other.to_string(),
        }),
    }
}

fn bool_option(ep: &Endpoint, key: &str) -> Result<Option<bool>, DriverError> {
    tcp_option(ep, key, "true or false")
}

/// A `tcp.*` option, checked against the bounds the parser enforces (an
/// `Endpoint` built by hand skips the parser) and parsed as `T`.
fn tcp_option<T: std::str::FromStr>(
    ep: &Endpoint,
    key: &str,
    expected: &'static str,
) -> Result<Option<T>, DriverError> {
    let Some(value) = ep.option("tcp", key) else {
        return Ok(None);
    };
    let in_bounds = SchemeSpec::TCP
        .value_rule(key)
        .is_none_or(|rule| rule.check(value));
    match value.parse::<T>() {
        Ok(v) if in_bounds => Ok(Some(v)),
        _ => Err(DriverError::BadOption {
            layer: "tcp".into(),
            key: key.into(),
            value: value.into(),
            expected,
        }),
    }
}

/// What `tcp.sndbuf` and `tcp.rcvbuf` say must be expected.
const BUFFER_EXPECTED: &str = "a byte count from 4096 to 67108864";

/// `tcp.sndbuf` and `tcp.rcvbuf`.
fn buffers(ep: &Endpoint) -> Result<Buffers, DriverError> {
    Ok(Buffers {
        send: tcp_option(ep, "sndbuf", BUFFER_EXPECTED)?,
        recv: tcp_option(ep, "rcvbuf", BUFFER_EXPECTED)?,
    })
}

pub(crate) fn bad_option(
    e: strata::endpoint::OptionValueError,
    expected: &'static str,
) -> DriverError {
    DriverError::BadOption {
        layer: e.layer,
        key: e.key,
        value: e.value,
        expected,
    }
}

/// The listener options of `cfg`, overridden by the endpoint's `tcp.*` ones.
fn listen_options(ep: &Endpoint, mut cfg: ListenConfig) -> Result<ListenConfig, DriverError> {
    if let Some(v) = bool_option(ep, "nodelay")? {
        cfg.nodelay = v;
    }
    if let Some(v) = bool_option(ep, "reuseport")? {
        cfg.reuse_port = v;
    }
    if let Some(v) = tcp_option(ep, "backlog", "a number of connections from 1 to 65535")? {
        cfg.backlog = v;
    }
    let bufs = buffers(ep)?;
    cfg.send_buffer = bufs.send.or(cfg.send_buffer);
    cfg.recv_buffer = bufs.recv.or(cfg.recv_buffer);
    Ok(cfg)
}

impl Server {
    /// Listens on what `ep` describes: `tcp://` (a name is resolved and every
    /// address it gives is bound, on the same port) or `unix://`, under the
    /// layers the chain names (`tls+`). Options `tcp.nodelay`,
    /// `tcp.reuseport`, `tcp.backlog`, `tcp.sndbuf` and `tcp.rcvbuf` override `cfg`; the `tls.*` options
    /// are in [`server_config`](crate::server_config). A `tls` layer without
    /// `tls.cert`/`tls.key` serves a fresh self-signed certificate and logs
    /// its fingerprint; use [`listen_with_identity`](Server::listen_with_identity)
    /// to choose (or show) the certificate.
    ///
    /// ```no_run
    /// # async fn run(f: strata_tokio::StreamFactory) -> Result<(), strata_tokio::DriverError> {
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::{ListenConfig, Server};
    /// let ep = Endpoint::parse("tcp://127.0.0.1:0?tcp.backlog=64").unwrap();
    /// let bound = Server::new().listen(&ep, f, ListenConfig::default()).await?;
    /// println!("listening on {}", bound.local);
    /// # Ok(()) }
    /// ```
    pub async fn listen(
        &self,
        ep: &Endpoint,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        self.listen_with_identity(ep, None, factory, cfg).await
    }

    /// [`listen`](Server::listen), with the certificate every `tls` layer
    /// presents given by the caller (`None`: from the options, as `listen`).
    ///
    /// ```no_run
    /// # async fn run(f: strata_tokio::StreamFactory) -> Result<(), strata_tokio::DriverError> {
    /// use strata::endpoint::Endpoint;
    /// use strata_tokio::{server_identity, ListenConfig, Server};
    /// let ep = Endpoint::parse_with("tls+tcp://127.0.0.1:8443", &strata_tokio::registry()).unwrap();
    /// let id = server_identity(&ep)?;
    /// if let Some(id) = &id {
    ///     println!("certificate sha256 {}", id.fingerprint_hex());
    /// }
    /// Server::new().listen_with_identity(&ep, id, f, ListenConfig::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn listen_with_identity(
        &self,
        ep: &Endpoint,
        identity: Option<TlsIdentity>,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        stream_transport(ep)?;
        let wraps = layers(&mut LayerCx {
            ep,
            role: Role::Server,
            identity,
            tls: None,
        })?;
        let factory: StreamFactory = if wraps.is_empty() {
            factory
        } else {
            Arc::new(move || wrap(factory(), &wraps))
        };
        if crate::reliable::is_reliable_udp(ep) {
            let Target::Host { host, port } = &ep.target else {
                return Err(DriverError::NotStream {
                    endpoint: ep.to_string(),
                });
            };
            let addrs = resolve(host, *port).await?;
            return crate::reliable::listen(&self.shared, ep, &addrs, factory, &cfg).await;
        }
        let cfg = listen_options(ep, cfg)?;
        match &ep.target {
            Target::Path(path) => {
                self.listen_unix(path, factory, cfg)
                    .await
                    .map_err(|e| DriverError::io("listen", path.display(), e))?;
                Ok(Listening {
                    local: Addr::Unix(Some(path.clone())),
                })
            }
            Target::Host { host, port } => {
                let addrs = resolve(host, *port).await?;
                self.listen_all(&addrs, factory, cfg).await
            }
        }
    }

    /// Binds every address; with port 0, the later ones take the port the
    /// first one got. Fails only if none can be bound.
    async fn listen_all(
        &self,
        addrs: &[SocketAddr],
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        let mut first: Option<SocketAddr> = None;
        let mut first_err = None;
        for &a in addrs {
            let mut a = a;
            if let (0, Some(f)) = (a.port(), first) {
                a.set_port(f.port());
            }
            match self.listen_tcp(a, factory.clone(), cfg.clone()).await {
                Ok(bound) => {
                    first.get_or_insert(bound);
                }
                Err(e) if first.is_some() => {
                    tracing::warn!("listen {a}: {e}; serving on the other addresses");
                }
                Err(e) => {
                    tracing::warn!("listen {a}: {e}");
                    first_err.get_or_insert(DriverError::io("listen", a, e));
                }
            }
        }
        match (first, first_err) {
            (Some(local), _) => Ok(Listening {
                local: Addr::Inet(local),
            }),
            (None, Some(e)) => Err(e),
            (None, None) => Err(DriverError::NoAddresses {
                host: format!("{addrs:?}"),
            }),
        }
    }
}

/// The addresses of a host: an IP as is, a name through the resolver.
pub(crate) async fn resolve(host: &Host, port: u16) -> Result<Vec<SocketAddr>, DriverError> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, port)]),
        Host::Name(n) => n,
    };
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
        .await
        .map_err(|source| DriverError::Resolve {
            host: name.clone(),
            source,
        })?
        .collect();
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(*a));
    if addrs.is_empty() {
        return Err(DriverError::NoAddresses { host: name.clone() });
    }
    Ok(addrs)
}

/// Connects to what `ep` describes and runs `proto` over it: `tcp://` (a name
/// with Happy Eyeballs, RFC 8305) or `unix://`, under the layers the chain
/// names (`tls+`, configured as [`client_config`](crate::client_config)
/// says). Options `tcp.nodelay` (default true), `tcp.sndbuf` and
/// `tcp.rcvbuf` (default: the kernel's) apply.
///
/// ```no_run
/// # async fn run(proto: Box<dyn strata::StreamProtocol>) -> Result<(), strata_tokio::DriverError> {
/// use std::sync::Arc;
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse("tcp://localhost:8080").unwrap();
/// let conn = strata_tokio::connect(&ep, proto, Arc::new(strata::StackConfig::default())).await?;
/// let why = conn.closed().await;
/// # Ok(()) }
/// ```
pub async fn connect(
    ep: &Endpoint,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
) -> Result<Connection, DriverError> {
    stream_transport(ep)?;
    let wraps = layers(&mut LayerCx {
        ep,
        role: Role::Client,
        identity: None,
        tls: None,
    })?;
    let proto = wrap(proto, &wraps);
    if crate::reliable::is_reliable_udp(ep) {
        return crate::reliable::connect(ep, proto, stack).await;
    }
    let nodelay = bool_option(ep, "nodelay")?.unwrap_or(true);
    let bufs = buffers(ep)?;
    match &ep.target {
        Target::Path(path) => crate::connect_unix(path, proto, stack)
            .await
            .map_err(|e| DriverError::io("connect", path.display(), e)),
        Target::Host {
            host: Host::Ip(ip),
            port,
        } => {
            let addr = SocketAddr::new(*ip, *port);
            let s = tcp_connect(addr, bufs)
                .await
                .map_err(|e| DriverError::io("connect", addr, e))?;
            Ok(run_tcp(s, addr, proto, stack, nodelay))
        }
        Target::Host {
            host: Host::Name(name),
            port,
        } => {
            let (s, addr) = happy_eyeballs(name, *port, bufs).await?;
            Ok(run_tcp(s, addr, proto, stack, nodelay))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(ep: &Endpoint, role: Role) -> LayerCx<'_> {
        LayerCx {
            ep,
            role,
            identity: None,
            tls: None,
        }
    }

    #[test]
    fn layers_not_in_the_table_are_unsupported() {
        let ep = Endpoint {
            layers: vec!["reliable".into(), "tcp".into()],
            target: Target::Host {
                host: Host::Name("localhost".into()),
                port: 1,
            },
            options: vec![],
        };
        match layers(&mut cx(&ep, Role::Client)) {
            Err(DriverError::Unsupported { scheme }) => assert_eq!(scheme, "reliable"),
            other => panic!("expected Unsupported, got {:?}", other.map(|v| v.len())),
        }
        let plain = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
        assert!(layers(&mut cx(&plain, Role::Server)).unwrap().is_empty());
        let udp = Endpoint::parse("udp://127.0.0.1:1").unwrap();
        assert!(matches!(
            stream_transport(&udp),
            Err(DriverError::NotStream { .. })
        ));
    }

    #[test]
    fn the_registry_holds_every_layer_of_the_table() {
        let reg = registry();
        for (spec, _) in STREAM_LAYERS {
            assert_eq!(reg.get(spec.name), Some(spec));
        }
        assert_eq!(reg.schemes().count(), 4 + STREAM_LAYERS.len());
    }

    #[test]
    fn nested_tls_layers_share_one_configuration() {
        let ep = Endpoint::parse_with("tls+tls+tcp://127.0.0.1:1", &registry()).unwrap();
        let mut c = cx(&ep, Role::Server);
        assert_eq!(layers(&mut c).unwrap().len(), 2);
        assert!(c.tls.is_some_and(|t| !t.is_client()));
    }

    #[test]
    fn endpoint_options_override_the_listen_config() {
        let ep = Endpoint::parse(
            "tcp://127.0.0.1:1?tcp.nodelay=false&tcp.backlog=7&tcp.reuseport=true&tcp.sndbuf=65536",
        )
        .unwrap();
        let dflt = ListenConfig {
            recv_buffer: Some(8192),
            ..ListenConfig::default()
        };
        let cfg = listen_options(&ep, dflt).unwrap();
        assert!(!cfg.nodelay && cfg.reuse_port);
        assert_eq!(cfg.backlog, 7);
        assert_eq!(
            (cfg.send_buffer, cfg.recv_buffer),
            (Some(65536), Some(8192))
        );
        // An endpoint built by hand skips the parser: the driver checks the
        // same bounds.
        for (key, value) in [
            ("backlog", "lots"),
            ("backlog", "0"),
            ("sndbuf", "18446744073709551615"),
            ("rcvbuf", "1"),
        ] {
            let mut bad = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
            bad.options.push(strata::endpoint::LayerOption {
                layer: "tcp".into(),
                key: key.into(),
                value: value.into(),
            });
            assert!(matches!(
                listen_options(&bad, ListenConfig::default()),
                Err(DriverError::BadOption { .. })
            ));
        }
    }
}
