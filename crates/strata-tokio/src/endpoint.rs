//! Endpoint glue: listening on and connecting to what an endpoint string
//! describes (`tcp://`, `unix://`, later `tls+tcp://` and friends).
//!
//! The transport (the last scheme) is opened here. Every scheme above it is a
//! layer, built by [`stream_layer`]: the one seam where new layers plug in.
//! Until a layer is registered there, an endpoint naming it is
//! [`DriverError::Unsupported`].

use std::net::SocketAddr;
use std::sync::Arc;

use strata::endpoint::{Endpoint, Host, Target};
use strata::{Addr, StackConfig, StreamProtocol};

use crate::connect::{happy_eyeballs, run_tcp, Connection};
use crate::{DriverError, ListenConfig, Listening, Server, StreamFactory};

/// Which end of the connection a layer is built for: TLS, for one, needs it,
/// and it is not always the end that connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

/// Builds one layer around the protocol above it.
type LayerWrap = Arc<dyn Fn(Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> + Send + Sync>;

/// Makes the wrapper for a layer, from the endpoint's options for it.
type LayerBuilder = fn(&Endpoint, Role) -> Result<LayerWrap, DriverError>;

/// The stream layers the driver can build, by scheme name. A layer lands here
/// with one line, e.g. `("tls", tls_layer)`, where `tls_layer` reads the
/// `tls.*` options of the endpoint and returns the wrapper.
const STREAM_LAYERS: &[(&str, LayerBuilder)] = &[];

/// The wrapper for layer `name`, or `Unsupported`.
fn stream_layer(name: &str, ep: &Endpoint, role: Role) -> Result<LayerWrap, DriverError> {
    match STREAM_LAYERS.iter().find(|(n, _)| *n == name) {
        Some((_, build)) => build(ep, role),
        None => Err(DriverError::Unsupported {
            scheme: name.to_string(),
        }),
    }
}

/// The wrappers for every layer above the transport, top first.
fn layers(ep: &Endpoint, role: Role) -> Result<Vec<LayerWrap>, DriverError> {
    let above = ep.layers.len().saturating_sub(1);
    ep.layers[..above]
        .iter()
        .map(|l| stream_layer(l, ep, role))
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
        "udp" => Err(DriverError::NotStream {
            endpoint: ep.to_string(),
        }),
        other => Err(DriverError::Unsupported {
            scheme: other.to_string(),
        }),
    }
}

fn bool_option(ep: &Endpoint, key: &str) -> Result<Option<bool>, DriverError> {
    ep.option_as::<bool>("tcp", key)
        .map_err(|e| bad_option(e, "true or false"))
}

fn bad_option(e: strata::endpoint::OptionValueError, expected: &'static str) -> DriverError {
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
    if let Some(v) = ep
        .option_as::<u32>("tcp", "backlog")
        .map_err(|e| bad_option(e, "a number of connections"))?
    {
        cfg.backlog = v;
    }
    Ok(cfg)
}

impl Server {
    /// Listens on what `ep` describes: `tcp://` (a name is resolved and every
    /// address it gives is bound, on the same port) or `unix://`. Options
    /// `tcp.nodelay`, `tcp.reuseport` and `tcp.backlog` override `cfg`.
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
        stream_transport(ep)?;
        let wraps = layers(ep, Role::Server)?;
        let factory: StreamFactory = if wraps.is_empty() {
            factory
        } else {
            Arc::new(move || wrap(factory(), &wraps))
        };
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
async fn resolve(host: &Host, port: u16) -> Result<Vec<SocketAddr>, DriverError> {
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
/// with Happy Eyeballs, RFC 8305) or `unix://`. Option `tcp.nodelay`
/// (default true) applies.
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
    let proto = wrap(proto, &layers(ep, Role::Client)?);
    let nodelay = bool_option(ep, "nodelay")?.unwrap_or(true);
    match &ep.target {
        Target::Path(path) => crate::connect_unix(path, proto, stack)
            .await
            .map_err(|e| DriverError::io("connect", path.display(), e)),
        Target::Host {
            host: Host::Ip(ip),
            port,
        } => {
            let addr = SocketAddr::new(*ip, *port);
            let s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| DriverError::io("connect", addr, e))?;
            Ok(run_tcp(s, addr, proto, stack, nodelay))
        }
        Target::Host {
            host: Host::Name(name),
            port,
        } => {
            let (s, addr) = happy_eyeballs(name, *port).await?;
            Ok(run_tcp(s, addr, proto, stack, nodelay))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_above_the_transport_are_unsupported_until_registered() {
        let ep = Endpoint {
            layers: vec!["tls".into(), "tcp".into()],
            target: Target::Host {
                host: Host::Name("localhost".into()),
                port: 1,
            },
            options: vec![],
        };
        match layers(&ep, Role::Client) {
            Err(DriverError::Unsupported { scheme }) => assert_eq!(scheme, "tls"),
            other => panic!("expected Unsupported, got {:?}", other.map(|v| v.len())),
        }
        let plain = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
        assert!(layers(&plain, Role::Server).unwrap().is_empty());
        let udp = Endpoint::parse("udp://127.0.0.1:1").unwrap();
        assert!(matches!(
            stream_transport(&udp),
            Err(DriverError::NotStream { .. })
        ));
    }

    #[test]
    fn endpoint_options_override_the_listen_config() {
        let ep =
            Endpoint::parse("tcp://127.0.0.1:1?tcp.nodelay=false&tcp.backlog=7&tcp.reuseport=true")
                .unwrap();
        let cfg = listen_options(&ep, ListenConfig::default()).unwrap();
        assert!(!cfg.nodelay && cfg.reuse_port);
        assert_eq!(cfg.backlog, 7);
        let bad = Endpoint::parse("tcp://127.0.0.1:1?tcp.backlog=lots").unwrap();
        assert!(matches!(
            listen_options(&bad, ListenConfig::default()),
            Err(DriverError::BadOption { .. })
        ));
    }
}
