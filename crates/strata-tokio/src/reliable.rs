//! Endpoint glue for the reliable mapping: `reliable+udp://` (and any stream
//! layer above it, `tls+reliable+udp://`). The listener is one UDP socket
//! running a [`ReliableListener`]; a connection is a connected UDP socket
//! running [`Reliable`]. With `reliable.mode=kcp` the KCP-compatible mode
//! runs instead ([`KcpListener`], [`KcpStream`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use strata::endpoint::{Endpoint, Host, Target};
use strata::reliable::cc::CcAlgorithm;
use strata::reliable::kcp::KcpConfig;
use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
use strata::reliable::{Reliable, ReliableConfig, ReliableFactory, ReliableListener};
use strata::{Addr, StackConfig, StreamProtocol};

use crate::connect::Connection;
use crate::control::Shared;
use crate::endpoint::bad_option;
use crate::{DriverError, ListenConfig, Listening, StreamFactory};

/// The layer name in endpoint chains.
pub(crate) const NAME: &str = "reliable";

/// Whether `ep` is a reliable mapping over UDP (`…reliable+udp://`).
pub(crate) fn is_reliable_udp(ep: &Endpoint) -> bool {
    let n = ep.layers.len();
    n >= 2 && ep.transport() == "udp" && ep.layers[n - 2] == NAME
}

/// The KCP mode's settings, when `reliable.mode=kcp`; `None` for the
/// native mode. The conversation id is `reliable.conv`, if given.
fn kcp_config(ep: &Endpoint) -> Result<Option<(KcpStreamConfig, Option<u32>)>, DriverError> {
    match ep
        .option(NAME, "mode")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("native") => return Ok(None),
        Some("kcp") => {}
        Some(other) => {
            return Err(DriverError::BadOption {
                layer: NAME.into(),
                key: "mode".into(),
                value: other.into(),
                expected: "native or kcp",
            })
        }
    }
    let mut kcp = match ep
        .option(NAME, "kcp")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("default") => KcpConfig::default_mode(),
        Some("fast") => KcpConfig::fast_mode(),
        Some(other) => {
            return Err(DriverError::BadOption {
                layer: NAME.into(),
                key: "kcp".into(),
                value: other.into(),
                expected: "default or fast",
            })
        }
    };
    // Congestion control stays on unless asked off, in either preset.
    kcp.no_congestion_control = ep
        .option_as::<bool>(NAME, "nocc")
        .map_err(|e| bad_option(e, "true or false"))?
        .unwrap_or(false);
    if let Some(mtu) = ep
        .option_as::<usize>(NAME, "mtu")
        .map_err(|e| bad_option(e, "a datagram size in bytes"))?
    {
        kcp.mtu = mtu;
    }
    let conv = ep
        .option_as::<u32>(NAME, "conv")
        .map_err(|e| bad_option(e, "a conversation id (u32)"))?;
    let mut cfg = KcpStreamConfig {
        kcp,
        ..KcpStreamConfig::default()
    };
    if let Some(idle) = ep
        .option_as::<u64>(NAME, "idle")
        .map_err(|e| bad_option(e, "seconds"))?
    {
        cfg.idle_timeout = Some(Duration::from_secs(idle));
    }
    cfg.kcp.validate().map_err(|e| DriverError::BadOption {
        layer: NAME.into(),
        key: "kcp".into(),
        value: e.to_string(),
        expected: "settings in range",
    })?;
    Ok(Some((cfg, conv)))
}

fn kcp_error(e: strata::reliable::kcp::KcpError) -> DriverError {
    DriverError::BadOption {
        layer: NAME.into(),
        key: "kcp".into(),
        value: e.to_string(),
        expected: "settings the KCP engine accepts",
    }
}

/// The mapping's settings from the endpoint's `reliable.*` options.
pub(crate) fn config(ep: &Endpoint) -> Result<ReliableConfig, DriverError> {
    let mut cfg = ReliableConfig::default();
    if let Some(cc) = ep.option(NAME, "cc") {
        cfg.cc = match cc.to_ascii_lowercase().as_str() {
            "bbr" => CcAlgorithm::Bbr,
            "cubic" => CcAlgorithm::Cubic,
            "newreno" | "reno" => CcAlgorithm::NewReno,
            _ => {
                return Err(DriverError::BadOption {
                    layer: NAME.into(),
                    key: "cc".into(),
                    value: cc.into(),
                    expected: "bbr, cubic or newreno",
                })
            }
        };
    }
    if let Some(v) = ep
        .option_as::<usize>(NAME, "mtu")
        .map_err(|e| bad_option(e, "a datagram size in bytes"))?
    {
        cfg.mtu = v;
    }
    if let Some(v) = ep
        .option_as::<u64>(NAME, "window")
        .map_err(|e| bad_option(e, "a window in bytes"))?
    {
        cfg.max_recv_window = v;
        cfg.recv_window = cfg.recv_window.min(v);
    }
    if let Some(v) = ep
        .option_as::<u64>(NAME, "idle")
        .map_err(|e| bad_option(e, "seconds"))?
    {
        cfg.idle_timeout = Duration::from_secs(v);
        cfg.keepalive = (v >= 3).then(|| Duration::from_secs(v / 3));
    }
    if let Some(v) = ep
        .option_as::<bool>(NAME, "retry")
        .map_err(|e| bad_option(e, "true or false"))?
    {
        cfg.require_retry = v;
    }
    cfg.validate().map_err(|e| DriverError::BadOption {
        layer: NAME.into(),
        key: "*".into(),
        value: e.to_string(),
        expected: "settings in range",
    })?;
    Ok(cfg)
}

/// Listens on one UDP socket per address of `addrs` (the first that binds),
/// running the mapping's listener with `factory`'s protocols.
pub(crate) async fn listen(
    shared: &Arc<Shared>,
    ep: &Endpoint,
    addrs: &[SocketAddr],
    factory: StreamFactory,
    lcfg: &ListenConfig,
) -> Result<Listening, DriverError> {
    let kcp = kcp_config(ep)?;
    let mut cfg = config(ep)?;
    cfg.max_connections = cfg.max_connections.min(lcfg.max_connections);
    let factory: ReliableFactory = Arc::new(move || factory());
    let mut last_err = None;
    let mut first: Option<SocketAddr> = None;
    for &a in addrs {
        let mut a = a;
        if let (0, Some(f)) = (a.port(), first) {
            a.set_port(f.port());
        }
        let proto: Box<dyn strata::DatagramProtocol> = match &kcp {
            None => Box::new(ReliableListener::new(cfg.clone(), factory.clone())),
            Some((stream, _)) => {
                let lc = KcpListenerConfig {
                    stream: stream.clone(),
                    max_connections: cfg.max_connections,
                    ..KcpListenerConfig::default()
                };
                Box::new(KcpListener::new(lc, factory.clone()).map_err(kcp_error)?)
            }
        };
        match crate::udp::bind(shared, a, None, proto, lcfg.stack.clone()).await {
            Ok(local) => {
                first.get_or_insert(local);
            }
            Err(e) => {
                tracing::warn!("listen udp {a}: {e}");
                last_err.get_or_insert(DriverError::io("listen", a, e));
            }
        }
    }
    match (first, last_err) {
        (Some(local), _) => Ok(Listening {
            local: Addr::Inet(local),
        }),
        (None, Some(e)) => Err(e),
        (None, None) => Err(DriverError::NoAddresses {
            host: format!("{addrs:?}"),
        }),
    }
}

/// Connects: a UDP socket connected to the server (the first address the
/// host resolves to), running [`Reliable`] with `proto` above.
pub(crate) async fn connect(
    ep: &Endpoint,
    proto: Box<dyn StreamProtocol>,
    stack: Arc<StackConfig>,
) -> Result<Connection, DriverError> {
    let kcp = kcp_config(ep)?;
    let cfg = config(ep)?;
    let Target::Host { host, port } = &ep.target else {
        return Err(DriverError::NotStream {
            endpoint: ep.to_string(),
        });
    };
    let peer = match host {
        Host::Ip(ip) => SocketAddr::new(*ip, *port),
        Host::Name(_) => *crate::endpoint::resolve(host, *port)
            .await?
            .first()
            .ok_or_else(|| DriverError::NoAddresses {
                host: host.to_string(),
            })?,
    };
    let local = SocketAddr::new(
        if peer.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        },
        0,
    );
    let layer: Box<dyn strata::DatagramProtocol> = match kcp {
        None => Box::new(Reliable::new(cfg, proto)),
        Some((stream, conv)) => {
            let conv = match conv {
                Some(c) => c,
                None => random_conv()?,
            };
            Box::new(KcpStream::new(conv, stream, proto).map_err(kcp_error)?)
        }
    };
    let shared = Arc::new(Shared::default());
    let (_, task) = crate::udp::spawn(&shared, local, Some(peer), layer, stack)
        .await
        .map_err(|e| DriverError::io("connect", peer, e))?;
    Ok(Connection::new(Addr::Inet(peer), task))
}

/// A random KCP conversation id.
fn random_conv() -> Result<u32, DriverError> {
    let mut b = [0u8; 4];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).map_err(|_| {
        DriverError::io(
            "connect",
            "kcp",
            std::io::Error::other("no secure random numbers"),
        )
    })?;
    Ok(u32::from_be_bytes(b))
}
