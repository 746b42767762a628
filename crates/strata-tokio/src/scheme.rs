//! The scheme table: every scheme the driver can build, each registered
//! the same way, in one place ([`SCHEMES`]): its [`SchemeSpec`] (name and
//! options, from the core) and how the driver runs it, from the parts
//! [`layer`](crate::layer) defines: how it opens (a transport), wraps the
//! protocol above over a stream (a layer), or carries streams over
//! datagrams (the reliable mapping). A new scheme (QUIC) is one more row.
//!
//! The rows' own code lives with them: the sockets in `accept`, `connect`
//! and `udp`, the TLS configuration in `tls`, the mapping in `reliable`;
//! the short adapters from a row to that code are below.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use strata::endpoint::{Endpoint, Host, SchemeRegistry, SchemeSpec, Target};
use strata::tls::Tls;
use strata::{
    AbortReason, Addr, Close, DatagramProtocol, StackConfig, StreamProtocol, StreamTransport,
};

use crate::config::ListenConfig;
use crate::connect::{self, happy_eyeballs, resolve, run_tcp, tcp_connect, Connection};
use crate::control::Shared;
use crate::error::DriverError;
use crate::layer::{Carry, Fut, LayerCx, LayerWrap, MakeDatagram, Open, Role, WrapBuilder};
use crate::options::{bool_option, buffers, listen_options};
use crate::tls::{
    seeded_client_config, seeded_server_config, TlsIdentity, TlsSetupError, SELF_SIGNED_NAMES,
};
use strata::StreamFactory;

/// One row of the table: a scheme and how the driver runs it. A row has the
/// parts its [`SchemeSpec::kind`] calls for: `open` for a transport,
/// `over_stream` for a layer over a stream, `over_datagrams` for a layer
/// over datagrams (a mapping has both).
pub(crate) struct Scheme {
    /// The name, the family below and above, the options.
    pub(crate) spec: SchemeSpec,
    /// How the driver opens it (transports).
    pub(crate) open: Option<Open>,
    /// How it wraps the protocol above over a stream.
    pub(crate) over_stream: Option<WrapBuilder>,
    /// How it carries streams over the datagram transport below.
    pub(crate) over_datagrams: Option<Carry>,
}

/// Every scheme the driver builds.
pub(crate) const SCHEMES: &[Scheme] = &[
    Scheme {
        spec: SchemeSpec::TCP,
        open: Some(Open::Stream {
            listen: stream_listen,
            connect: stream_connect,
        }),
        over_stream: None,
        over_datagrams: None,
    },
    Scheme {
        spec: SchemeSpec::UDP,
        open: Some(Open::Datagram {
            bind: udp_bind,
            connect: udp_connect,
        }),
        over_stream: None,
        over_datagrams: None,
    },
    Scheme {
        spec: SchemeSpec::UNIX,
        open: Some(Open::Stream {
            listen: stream_listen,
            connect: stream_connect,
        }),
        over_stream: None,
        over_datagrams: None,
    },
    Scheme {
        spec: SchemeSpec::TLS,
        open: None,
        over_stream: Some(tls_layer),
        over_datagrams: None,
    },
    Scheme {
        spec: SchemeSpec::RELIABLE,
        open: None,
        over_stream: Some(crate::reliable::pass_through),
        over_datagrams: Some(crate::reliable::CARRY),
    },
    Scheme {
        spec: SchemeSpec::QUIC,
        open: None,
        over_stream: Some(crate::quic::over_stream),
        over_datagrams: Some(crate::quic::CARRY),
    },
    Scheme {
        spec: SchemeSpec::PROXY,
        open: None,
        over_stream: Some(crate::proxy::over_stream),
        over_datagrams: None,
    },
];

/// The row of `name`.
pub(crate) fn find(name: &str) -> Result<&'static Scheme, DriverError> {
    SCHEMES
        .iter()
        .find(|s| s.spec.name == name)
        .ok_or_else(|| DriverError::Unsupported {
            scheme: name.to_string(),
        })
}

/// The schemes the driver can build, for [`Endpoint::parse_with`]: every
/// row of its table (today the same as the core's default registry:
/// `tcp`, `udp`, `unix`, `tls`, `reliable`, `quic`, `proxy`).
///
/// ```
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse_with("tls+tcp://localhost:8443?tls.alpn=h2", &strata_tokio::registry()).unwrap();
/// assert_eq!(ep.layers, ["tls", "tcp"]);
/// ```
pub fn registry() -> SchemeRegistry {
    let mut reg = SchemeRegistry::empty();
    for row in SCHEMES {
        // Invariant: the table's names are valid and distinct (checked by
        // a unit test below).
        if let Err(e) = reg.register(row.spec) {
            tracing::error!("driver scheme table: {e}");
        }
    }
    reg
}

/// `tcp://` and `unix://`: a name is resolved and every address it gives is
/// bound, on the same port; a path is a Unix socket. Options `tcp.*`
/// override `cfg`.
fn stream_listen<'a>(
    shared: &'a Arc<Shared>,
    ep: &'a Endpoint,
    factory: StreamFactory,
    cfg: ListenConfig,
) -> Fut<'a, Addr> {
    Box::pin(async move {
        let cfg = listen_options(ep, cfg)?;
        match &ep.target {
            Target::Path(path) => {
                crate::accept::listen_unix(shared, path, factory, cfg)
                    .map_err(|e| DriverError::io("listen", path.display(), e))?;
                Ok(Addr::Unix(Some(path.clone())))
            }
            Target::Host { host, port } => {
                let addrs = resolve(host, *port).await?;
                listen_all(shared, &addrs, factory, cfg).await
            }
        }
    })
}

/// Binding each address an endpoint resolved to, in order (TCP listeners
/// and UDP sockets alike): with port 0, the later ones take the port the
/// first one got, and the whole fails only if none could be bound.
#[derive(Default)]
struct BindEach {
    first: Option<SocketAddr>,
    err: Option<DriverError>,
}

impl BindEach {
    /// The address to bind for `a`.
    fn addr(&self, mut a: SocketAddr) -> SocketAddr {
        if let (0, Some(f)) = (a.port(), self.first) {
            a.set_port(f.port());
        }
        a
    }

    /// Notes how binding `a` went.
    fn bound(&mut self, what: &str, a: SocketAddr, r: std::io::Result<SocketAddr>) {
        match r {
            Ok(bound) => {
                self.first.get_or_insert(bound);
            }
            Err(e) if self.first.is_some() => {
                tracing::warn!("listen {what}{a}: {e}; serving on the other addresses");
            }
            Err(e) => {
                tracing::warn!("listen {what}{a}: {e}");
                self.err.get_or_insert(DriverError::io("listen", a, e));
            }
        }
    }

    /// The first bound address, or the first error.
    fn end(self, addrs: &[SocketAddr]) -> Result<Addr, DriverError> {
        match (self.first, self.err) {
            (Some(local), _) => Ok(Addr::Inet(local)),
            (None, Some(e)) => Err(e),
            (None, None) => Err(DriverError::NoAddresses {
                host: format!("{addrs:?}"),
            }),
        }
    }
}

/// Binds a TCP listener on every address (see [`BindEach`]).
async fn listen_all(
    shared: &Arc<Shared>,
    addrs: &[SocketAddr],
    factory: StreamFactory,
    cfg: ListenConfig,
) -> Result<Addr, DriverError> {
    let mut each = BindEach::default();
    for &a in addrs {
        let a = each.addr(a);
        let r = crate::accept::listen_tcp(shared, a, factory.clone(), cfg.clone());
        each.bound("", a, r);
    }
    each.end(addrs)
}

/// `tcp://` (a name with Happy Eyeballs, RFC 8305) and `unix://`. Options
/// `tcp.nodelay` (default true), `tcp.sndbuf` and `tcp.rcvbuf`.
fn stream_connect<'a>(
    ep: &'a Endpoint,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
) -> Fut<'a, Connection> {
    Box::pin(async move {
        let nodelay = bool_option(ep, "nodelay")?.unwrap_or(true);
        let bufs = buffers(ep)?;
        match &ep.target {
            Target::Path(path) => connect::connect_unix(path, proto, stack)
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
    })
}

/// `udp://` under a layer that carries streams: one unconnected socket per
/// address the host resolves to (the later ones on the port the first got),
/// each running a protocol from `make`. Fails only if none can be bound.
fn udp_bind<'a>(
    shared: &'a Arc<Shared>,
    ep: &'a Endpoint,
    make: &'a mut MakeDatagram<'a>,
    stack: Arc<StackConfig>,
) -> Fut<'a, Addr> {
    Box::pin(async move {
        let Target::Host { host, port } = &ep.target else {
            return Err(DriverError::NotStream {
                endpoint: ep.to_string(),
            });
        };
        let addrs = resolve(host, *port).await?;
        let mut each = BindEach::default();
        for &a in &addrs {
            let a = each.addr(a);
            let proto = make()?;
            let r = crate::udp::bind(shared, a, None, proto, stack.clone()).await;
            each.bound("udp ", a, r);
        }
        each.end(&addrs)
    })
}

/// `udp://` for a client: a socket connected to the first address the host
/// resolves to, running `proto`.
fn udp_connect<'a>(
    ep: &'a Endpoint,
    proto: Box<dyn DatagramProtocol>,
    stack: Arc<StackConfig>,
) -> Fut<'a, (SocketAddr, tokio::task::JoinHandle<Close>)> {
    Box::pin(async move {
        let Target::Host { host, port } = &ep.target else {
            return Err(DriverError::NotStream {
                endpoint: ep.to_string(),
            });
        };
        let peer =
            *resolve(host, *port)
                .await?
                .first()
                .ok_or_else(|| DriverError::NoAddresses {
                    host: host.to_string(),
                })?;
        let local = SocketAddr::new(
            if peer.is_ipv4() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            },
            0,
        );
        let shared = Arc::new(Shared::default());
        let (_, task) = crate::udp::spawn(&shared, local, Some(peer), proto, stack)
            .await
            .map_err(|e| DriverError::io("connect", peer, e))?;
        Ok((peer, task))
    })
}

/// The `tls` entry of the table: one configuration per
/// endpoint (so `tls+tls+tcp` reads its files once), one [`Tls`] per layer
/// and connection.
fn tls_layer(cx: &mut LayerCx<'_>) -> Result<LayerWrap, DriverError> {
    let cfg = match &cx.tls {
        Some(cfg) => cfg.clone(),
        None => {
            let seed = cx.seed_for("tls");
            let cfg = match cx.role {
                Role::Client => seeded_client_config(cx.ep, seed)?,
                Role::Server => {
                    let id = match cx.identity.clone() {
                        Some(id) => id,
                        None => made_identity(cx.ep, seed)?,
                    };
                    cx.tls_identity = Some(id.clone());
                    seeded_server_config(cx.ep, &id, seed)?
                }
            };
            cx.tls = Some(cfg.clone());
            cfg
        }
    };
    // rustls checks the configuration when a connection is made; try one
    // now so that a refusal is an error here, not on every connection.
    Tls::new(Refused::default(), &cfg).map_err(|e| {
        let r = e.rustls_error().cloned();
        TlsSetupError::Config(r.unwrap_or_else(|| rustls::Error::General(e.to_string())))
    })?;
    Ok(Arc::new(move |inner| match Tls::new(inner, &cfg) {
        Ok(tls) => Box::new(tls) as Box<dyn StreamProtocol>,
        Err(e) => Box::new(Refused {
            why: Some(Close::aborted("tls", AbortReason::layer(e))),
        }),
    }))
}

/// The server identity when the layer builds it: the files, or a fresh
/// self-signed certificate whose fingerprint is logged (in a seeded plan,
/// one from the seed: [`TlsIdentity::seeded`]).
fn made_identity(ep: &Endpoint, seed: Option<u64>) -> Result<TlsIdentity, TlsSetupError> {
    let own = crate::tls::own_identity(ep, "tls")?;
    let id = match (own, seed) {
        (Some(id), _) => id,
        (None, Some(seed)) => TlsIdentity::seeded(seed)?,
        (None, None) => TlsIdentity::self_signed()?,
    };
    if !id.is_self_signed() {
        return Ok(id);
    }
    tracing::info!(
        "tls: serving a self-signed certificate for {}; sha256 {}",
        SELF_SIGNED_NAMES.join(", "),
        id.fingerprint_hex()
    );
    Ok(id)
}

/// Aborts the connection at once with the reason rustls gave: stands in for
/// a `Tls` that rustls refused to create (never seen once the configuration
/// passed the check in [`tls_layer`]); `quic+tcp` uses it the same way.
#[derive(Default)]
pub(crate) struct Refused {
    why: Option<Close>,
}

impl Refused {
    /// Aborts at `connection_made` with `why` (a layer the driver could not
    /// make, a stream it does not serve).
    pub(crate) fn because(why: Close) -> Refused {
        Refused { why: Some(why) }
    }
}

impl StreamProtocol for Refused {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Some(why) = self.why.take() {
            t.abort(why);
        }
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::endpoint::SchemeKind;

    #[test]
    fn every_row_has_the_parts_its_kind_needs() {
        for row in SCHEMES {
            let name = row.spec.name;
            match row.spec.kind {
                SchemeKind::Transport { .. } => assert!(row.open.is_some(), "{name}"),
                SchemeKind::Layer { below, .. } => {
                    let has = match below {
                        strata::endpoint::Family::Stream => row.over_stream.is_some(),
                        strata::endpoint::Family::Datagram => row.over_datagrams.is_some(),
                    };
                    assert!(has, "{name}");
                }
                SchemeKind::Mapping { .. } => {
                    assert!(
                        row.over_stream.is_some() && row.over_datagrams.is_some(),
                        "{name}"
                    )
                }
            }
        }
    }

    #[test]
    fn the_registry_holds_every_row_of_the_table() {
        let reg = registry();
        for row in SCHEMES {
            assert_eq!(reg.get(row.spec.name), Some(&row.spec));
        }
        assert_eq!(reg.schemes().count(), SCHEMES.len());
        // Every built-in scheme of the core is one the driver builds, in
        // the same order (error messages list them).
        let core: Vec<_> = SchemeRegistry::default().schemes().copied().collect();
        let ours: Vec<_> = reg.schemes().copied().collect();
        assert_eq!(ours, core);
    }
}
