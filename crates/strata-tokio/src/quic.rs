//! The `quic` row of the scheme table: QUIC over UDP (`quic+udp://`, and any
//! stream layer above it, `tls+quic+udp://`). The listener is one UDP socket
//! running a [`QuicServer`] whose connections each run a [`PerStream`] app:
//! every stream the client opens gets a protocol from the listener's
//! factory. A client is a connected UDP socket running a
//! [`QuicClient::stream`]: one bidirectional stream carrying the protocol.
//! Over a stream (`quic+tcp://`, for networks that block UDP), QUIC runs
//! over length-prefixed frames, one stream per stream connection
//! ([`over_stream`]).
//!
//! | option | side | meaning |
//! |---|---|---|
//! | `quic.alpn=a,b` | both | ALPN protocols (default [`DEFAULT_ALPN`]); a client offering none the server serves is refused by the handshake |
//! | `quic.cert`, `quic.key`, `quic.ca` | both | as `tls.*`: the server's certificate files (default: self-signed), the client's trust roots (default: the Mozilla roots) |
//! | `quic.sni`, `quic.insecure` | client | as `tls.*` |
//! | `quic.idle=MS` | both | the idle timeout, milliseconds |
//! | `quic.keepalive=MS` | both | a PING after this much quiet |
//! | `quic.streams=N` | both | streams of each direction the peer may have open at once |
//! | `quic.window=BYTES` | both | the receive window of one stream |
//! | `quic.datagrams=BOOL` | both | accept DATAGRAM frames (RFC 9221) |
//! | `quic.retry=always\|never\|auto` | server | address validation with Retry |
//! | `quic.server_id=HEX` | server | routable connection ids carrying this server id (`strata::routing`) |
//! | `quic.seed=N` | both | seeds the layer's random choices (tests) |
//! | `quic.0rtt=BOOL` | both | 0-RTT ([`QuicConfig::zero_rtt`], default off): a client resumes with a ticket from an earlier connection to the same endpoint and sends in its first flight; a server accepts it. Early data can be replayed: see `docs/quic.md` |
//!
//! The handshake is TLS 1.3 only (RFC 9001), with the same provider as the
//! `tls` layer; the certificate handling is the `tls` layer's
//! ([`server_identity`](crate::server_identity) and friends), read from the
//! `quic.*` options. Every phase has a deadline: the handshake
//! ([`QuicConfig::handshake_timeout`]), then the idle timeout.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use strata::endpoint::{Endpoint, Host, Target};
use strata::framing::LengthPrefixed;
use strata::quic::{
    AppFactory, PerStream, QuicApp, QuicClient, QuicConfig, QuicError, QuicServer, RetryPolicy,
    RoutableCidGenerator,
};
use strata::routing::ServerId;
use strata::{AbortReason, Close, DatagramProtocol, StackConfig, StreamFactory, StreamProtocol};

use crate::config::ListenConfig;
use crate::error::DriverError;
use crate::layer::{Carry, LayerCx, LayerWrap, Role};
use crate::scheme::Refused;
use crate::tls::{
    client_rustls, own_identity, seeded_client_rustls, seeded_server_rustls, TlsIdentity,
};

mod apps;
mod endpoint;
mod pool;

pub use apps::connect_quic;
pub use endpoint::QuicEndpoint;

pub use pool::QuicPool;

/// The layer name in endpoint chains.
pub(crate) const NAME: &str = "quic";

/// The ALPN protocol both ends use when `quic.alpn` is not given: QUIC
/// requires one (RFC 9001 §8.1).
///
/// ```
/// assert_eq!(strata_tokio::QUIC_DEFAULT_ALPN, "strata");
/// ```
pub const DEFAULT_ALPN: &str = "strata";

/// QUIC's handshake is TLS 1.3 only.
pub(crate) const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The `quic` row: over datagrams, QUIC carries the streams; over a stream
/// (`quic+tcp`, length-prefixed frames) see [`over_stream`].
pub(crate) const CARRY: Carry = Carry { serve, connect };

/// A numeric option, or `None` when absent. The parser checks the bounds
/// of [`SchemeSpec::QUIC`](strata::endpoint::SchemeSpec::QUIC); an endpoint
/// built by hand skips it, so they are checked again here.
fn number(ep: &Endpoint, key: &str, expected: &'static str) -> Result<Option<u64>, DriverError> {
    let Some(value) = ep.option(NAME, key) else {
        return Ok(None);
    };
    let in_bounds = strata::endpoint::SchemeSpec::QUIC
        .value_rule(key)
        .is_none_or(|rule| rule.check(value));
    match value.parse::<u64>() {
        Ok(v) if in_bounds => Ok(Some(v)),
        _ => Err(bad(key, value, expected)),
    }
}

fn bad(key: &str, value: &str, expected: &'static str) -> DriverError {
    DriverError::BadOption {
        layer: NAME.into(),
        key: key.into(),
        value: value.into(),
        expected,
    }
}

/// The layer's settings from the endpoint's `quic.*` options and the
/// stack's watermarks (a stream protocol sees the same marks as over TCP).
pub(crate) fn config(ep: &Endpoint, stack: &StackConfig) -> Result<QuicConfig, DriverError> {
    let mut cfg = QuicConfig {
        alpn: alpn(ep)?,
        ..QuicConfig::default()
    };
    if let Some(ms) = number(ep, "idle", "milliseconds, 1..=3600000")? {
        cfg.idle_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = number(ep, "keepalive", "milliseconds, 1..=3600000")? {
        cfg.keep_alive = Some(Duration::from_millis(ms));
    }
    if let Some(n) = number(ep, "streams", "a stream count, 0..=1048576")? {
        (cfg.max_bidi_streams, cfg.max_uni_streams) = (n, n);
    }
    if let Some(w) = number(ep, "window", "a window in bytes, 1024..=1073741824")? {
        cfg.stream_window = w;
        cfg.connection_window = cfg.connection_window.max(w);
    }
    if let Some(seed) = number(ep, "seed", "a number (u64)")? {
        cfg.rng_seed = Some(seed);
    }
    if let Some(v) = ep.option(NAME, "datagrams") {
        cfg.datagrams = v
            .parse()
            .map_err(|_| bad("datagrams", v, "true or false"))?;
    }
    if let Some(v) = ep.option(NAME, "0rtt") {
        cfg.zero_rtt = v.parse().map_err(|_| bad("0rtt", v, "true or false"))?;
    }
    if let Some(v) = ep.option(NAME, "retry") {
        cfg.retry = match v.to_ascii_lowercase().as_str() {
            "always" => RetryPolicy::Always,
            "never" => RetryPolicy::Never,
            "auto" => RetryPolicy::Auto,
            _ => return Err(bad("retry", v, "always, never or auto")),
        };
    }
    if let Some(v) = ep.option(NAME, "server_id") {
        // Checked the way the layer will use it, so a bad id is refused
        // here and not on every connection.
        let expected = "a server id in hex, 1..=15 bytes";
        let sid = ServerId::parse_hex(v).map_err(|_| bad("server_id", v, expected))?;
        RoutableCidGenerator::new(sid.clone(), None).map_err(|_| bad("server_id", v, expected))?;
        cfg.server_id = Some(sid);
    }
    let high = stack.high_water.max(1);
    (cfg.high_water, cfg.low_water) = (high, stack.low_water.min(high));
    Ok(cfg)
}

/// `quic.alpn`, or [`DEFAULT_ALPN`].
fn alpn(ep: &Endpoint) -> Result<Vec<Vec<u8>>, DriverError> {
    let list = crate::tls::alpn(ep, NAME)?;
    Ok(if list.is_empty() {
        vec![DEFAULT_ALPN.as_bytes().to_vec()]
    } else {
        list
    })
}

/// The server side: a [`QuicServer`] for one socket, presenting the
/// listener's identity (made once per endpoint: the files of
/// `quic.cert`/`quic.key`, or a self-signed certificate), running a
/// [`PerStream`] app with `factory`'s protocols on every connection whose
/// ALPN is one of `quic.alpn`.
fn serve(
    cx: &mut LayerCx<'_>,
    factory: &StreamFactory,
    lcfg: &ListenConfig,
) -> Result<Box<dyn DatagramProtocol>, DriverError> {
    let ep = cx.ep;
    let mut cfg = config(ep, &lcfg.stack)?;
    cfg.rng_seed = cfg.rng_seed.or(cx.seed_for(NAME));
    cfg.max_connections = cfg.max_connections.min(lcfg.max_connections);
    let tls = server_tls(cx, &cfg)?;
    let served = cfg.alpn.clone();
    let factory = factory.clone();
    let apps: AppFactory = Arc::new(move |alpn: Option<&[u8]>| {
        let ours = alpn.is_some_and(|a| served.iter().any(|s| s == a));
        ours.then(|| Box::new(PerStream::new(factory.clone())) as Box<dyn QuicApp>)
    });
    let server = QuicServer::new(cfg, Arc::new(tls), apps).map_err(|e| DriverError::BadOption {
        layer: NAME.into(),
        key: "*".into(),
        value: e.to_string(),
        expected: "settings QUIC accepts",
    })?;
    Ok(Box::new(server))
}

/// The identity a QUIC listener presents: `quic.cert`/`quic.key`, or a
/// fresh self-signed certificate whose fingerprint is logged.
pub(crate) fn identity(ep: &Endpoint) -> Result<TlsIdentity, DriverError> {
    if let Some(id) = own_identity(ep, NAME)? {
        return Ok(id);
    }
    let id = TlsIdentity::self_signed()?;
    tracing::info!(
        "quic: serving a self-signed certificate for {}; sha256 {}",
        crate::SELF_SIGNED_NAMES.join(", "),
        id.fingerprint_hex()
    );
    Ok(id)
}

/// The client side: a [`QuicClient`] to `peer` carrying `proto` on one
/// bidirectional stream, verifying the server as `tls+tcp://` does (from
/// the `quic.*` options).
fn connect(
    cx: &LayerCx<'_>,
    proto: Box<dyn StreamProtocol>,
    stack: &StackConfig,
    peer: SocketAddr,
) -> Result<Box<dyn DatagramProtocol>, DriverError> {
    let ep = cx.ep;
    let mut cfg = config(ep, stack)?;
    cfg.rng_seed = cfg.rng_seed.or(cx.seed_for(NAME));
    let (tls, name) = match cx.seed_for("quic.tls") {
        // A simulation's plan (never 0-RTT's shared configuration).
        Some(seed) => seeded_client_tls(ep, &cfg, seed)?,
        None => client_tls(ep, &cfg)?,
    };
    let client =
        QuicClient::stream(cfg, tls, &name, peer, proto).map_err(|e| connect_error(peer, e))?;
    Ok(Box::new(client))
}

/// [`client_tls`] for a simulation's seeded plan: the seeded provider
/// ([`crate::tls::seeded`]), one configuration per connection.
fn seeded_client_tls(
    ep: &Endpoint,
    cfg: &QuicConfig,
    seed: u64,
) -> Result<(Arc<rustls::ClientConfig>, String), DriverError> {
    let (mut tls, name) = seeded_client_rustls(ep, NAME, Some(VERSIONS), Some(seed))?;
    tls.alpn_protocols = cfg.alpn.clone();
    Ok((Arc::new(tls), server_name_string(&name)))
}

/// The client's TLS 1.3 configuration from the `quic.*` options, offering
/// `cfg`'s ALPN, and the server name it verifies.
pub(crate) fn client_tls(
    ep: &Endpoint,
    cfg: &QuicConfig,
) -> Result<(Arc<rustls::ClientConfig>, String), DriverError> {
    let (mut tls, name) = client_rustls(ep, NAME, Some(VERSIONS))?;
    tls.alpn_protocols = cfg.alpn.clone();
    let name = server_name_string(&name);
    if cfg.zero_rtt {
        return Ok((shared_client_tls(ep, || Ok(Arc::new(tls)))?, name));
    }
    Ok((Arc::new(tls), name))
}

/// The name quinn-proto is given for `name`.
fn server_name_string(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// Most endpoints whose connections share a TLS configuration, for 0-RTT.
pub(crate) const MAX_ZERO_RTT_ENDPOINTS: usize = 64;

/// With `quic.0rtt=true`, every connection to the endpoint `ep` in this
/// process shares one TLS configuration (made by `build` the first time),
/// so it resumes, and sends in 0-RTT, with a ticket of an earlier one:
/// rustls resumes only a session verified by the same configuration (its
/// verifier and session store). Keyed by the whole endpoint string
/// (address and trust options), so a session verified one way is never
/// resumed by a connection configured another way. Past
/// [`MAX_ZERO_RTT_ENDPOINTS`] endpoints a new one is not kept (a full
/// handshake each time).
fn shared_client_tls(
    ep: &Endpoint,
    build: impl FnOnce() -> Result<Arc<rustls::ClientConfig>, DriverError>,
) -> Result<Arc<rustls::ClientConfig>, DriverError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Shared = Mutex<HashMap<String, Arc<rustls::ClientConfig>>>;
    static SHARED: OnceLock<Shared> = OnceLock::new();
    let mut shared = SHARED
        .get_or_init(Shared::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let key = ep.to_string();
    if let Some(tls) = shared.get(&key) {
        return Ok(tls.clone());
    }
    let tls = build()?;
    if shared.len() < MAX_ZERO_RTT_ENDPOINTS {
        shared.insert(key, tls.clone());
    }
    Ok(tls)
}

/// A client the layer refused to make (a configuration it cannot use).
pub(crate) fn connect_error(peer: SocketAddr, e: strata::quic::QuicError) -> DriverError {
    DriverError::io(
        "connect",
        peer,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
    )
}

/// The server's TLS configuration: the listener's identity (made once per
/// endpoint and kept in `cx`: the files of `quic.cert`/`quic.key`, or one
/// self-signed certificate), TLS 1.3, and the endpoint's ALPN list.
fn server_tls(cx: &mut LayerCx<'_>, cfg: &QuicConfig) -> Result<rustls::ServerConfig, DriverError> {
    let seed = cx.seed_for("quic.tls");
    let id = match &cx.identity {
        Some(id) => id.clone(),
        None => {
            let id = match (own_identity(cx.ep, NAME)?, seed) {
                (None, Some(seed)) => TlsIdentity::seeded(seed)?,
                _ => identity(cx.ep)?,
            };
            cx.identity = Some(id.clone());
            id
        }
    };
    let mut tls = seeded_server_rustls(cx.ep, &id, NAME, Some(VERSIONS), seed)?;
    tls.alpn_protocols = cfg.alpn.clone();
    Ok(tls)
}

/// Over a stream (`quic+tcp://`, for networks that block UDP): QUIC over
/// length-prefixed frames, the datagram-over-stream mapping. Each stream
/// connection carries one QUIC connection, and that one stream: the client
/// opens it for its protocol; the server runs the protocol the listener
/// made for the connection on the client's first bidirectional stream (the
/// peer may open only one at a time; a later one is reset, code
/// [`DEFAULT_ABORT_CODE`](strata::quic::DEFAULT_ABORT_CODE)). Options as
/// for `quic+udp://` (watermarks: the stack's defaults); the configuration
/// is checked here, once.
pub(crate) fn over_stream(cx: &mut LayerCx<'_>) -> Result<LayerWrap, DriverError> {
    let ep = cx.ep;
    let mut cfg = config(ep, &StackConfig::default())?;
    cfg.rng_seed = cfg.rng_seed.or(cx.seed_for(NAME));
    match cx.role {
        Role::Client => {
            let (tls, name) = match cx.seed_for("quic.tls") {
                Some(seed) => seeded_client_tls(ep, &cfg, seed)?,
                None => client_tls(ep, &cfg)?,
            };
            let peer = framed_peer(ep);
            let made =
                move |inner| QuicClient::stream(cfg.clone(), tls.clone(), &name, peer, inner);
            made(Box::<Refused>::default()).map_err(|e| connect_error(peer, e))?;
            Ok(Arc::new(move |inner| match made(inner) {
                Ok(client) => Box::new(LengthPrefixed::new(client)) as Box<dyn StreamProtocol>,
                Err(e) => refused(e),
            }))
        }
        Role::Server => {
            let tls = Arc::new(server_tls(cx, &cfg)?);
            (cfg.max_bidi_streams, cfg.max_uni_streams) = (1, 0);
            let made = move |inner: Box<dyn StreamProtocol>| {
                let served = cfg.alpn.clone();
                let one = one_stream(inner);
                let apps: AppFactory = Arc::new(move |alpn: Option<&[u8]>| {
                    let ours = alpn.is_some_and(|a| served.iter().any(|s| s == a));
                    ours.then(|| Box::new(PerStream::new(one.clone())) as Box<dyn QuicApp>)
                });
                QuicServer::new(cfg.clone(), tls.clone(), apps)
            };
            made(Box::<Refused>::default()).map_err(|e| DriverError::BadOption {
                layer: NAME.into(),
                key: "*".into(),
                value: e.to_string(),
                expected: "settings QUIC accepts",
            })?;
            Ok(Arc::new(move |inner| match made(inner) {
                Ok(server) => Box::new(LengthPrefixed::new(server)) as Box<dyn StreamProtocol>,
                Err(e) => refused(e),
            }))
        }
    }
}

/// The address a client over a stream names its server by (frames carry
/// none; the stream below knows the real one): the endpoint's own when it
/// is an address, else [`FRAMED_PLACEHOLDER`] (quinn-proto refuses an
/// unspecified address or port 0).
fn framed_peer(ep: &Endpoint) -> SocketAddr {
    match &ep.target {
        Target::Host {
            host: Host::Ip(ip),
            port,
        } if !ip.is_unspecified() && *port != 0 => SocketAddr::new(*ip, *port),
        _ => FRAMED_PLACEHOLDER,
    }
}

/// The server address a `quic+tcp://` client to a name uses inside QUIC:
/// an RFC 5737 documentation address, never routed.
const FRAMED_PLACEHOLDER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 443);

/// A stream factory that hands out `proto` once, then refuses: one
/// protocol per stream connection.
fn one_stream(proto: Box<dyn StreamProtocol>) -> StreamFactory {
    let slot = Mutex::new(Some(proto));
    Arc::new(move || {
        let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        taken.unwrap_or_else(|| {
            let why = QuicError::StreamAborted(strata::quic::DEFAULT_ABORT_CODE);
            Box::new(Refused::because(Close::aborted(
                NAME,
                AbortReason::layer(why),
            )))
        })
    })
}

/// Stands in for a layer QUIC refused to make (never seen once the
/// configuration passed the check in [`over_stream`]).
fn refused(e: QuicError) -> Box<dyn StreamProtocol> {
    Box::new(Refused::because(Close::aborted(
        NAME,
        AbortReason::layer(e),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(query: &str) -> Endpoint {
        Endpoint::parse_with(
            &format!("quic+udp://127.0.0.1:4433?{query}"),
            &crate::registry(),
        )
        .expect("the endpoint parses")
    }

    #[test]
    fn options_reach_the_config() {
        let stack = StackConfig::default();
        let cfg = config(
            &ep("quic.alpn=a,bc&quic.idle=1500&quic.keepalive=500&quic.streams=7&quic.window=65536&quic.datagrams=false&quic.retry=always&quic.seed=9"),
            &stack,
        )
        .unwrap();
        assert_eq!(cfg.alpn, [b"a".to_vec(), b"bc".to_vec()]);
        assert_eq!(cfg.idle_timeout, Duration::from_millis(1500));
        assert_eq!(cfg.keep_alive, Some(Duration::from_millis(500)));
        assert_eq!((cfg.max_bidi_streams, cfg.max_uni_streams), (7, 7));
        assert_eq!(cfg.stream_window, 65536);
        assert!(!cfg.datagrams);
        assert_eq!(cfg.retry, RetryPolicy::Always);
        assert_eq!(cfg.rng_seed, Some(9));
        assert_eq!(cfg.high_water, stack.high_water);
        let routed = config(&ep("quic.server_id=0a0b"), &stack).unwrap();
        assert_eq!(routed.server_id.unwrap().as_bytes(), [0x0a, 0x0b]);
        let dflt = config(&ep("quic.seed=1"), &stack).unwrap();
        assert_eq!(dflt.alpn, [DEFAULT_ALPN.as_bytes().to_vec()]);
        assert!(!dflt.zero_rtt, "0-RTT is opt-in");
        assert!(config(&ep("quic.0rtt=true"), &stack).unwrap().zero_rtt);
    }

    #[test]
    fn zero_rtt_clients_of_one_endpoint_share_their_tls() {
        let cfg = |q| config(&ep(q), &StackConfig::default()).unwrap();
        let on = "quic.0rtt=true&quic.insecure=true";
        let (a, _) = client_tls(&ep(on), &cfg(on)).unwrap();
        let (b, _) = client_tls(&ep(on), &cfg(on)).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one session store, one verifier");
        let other = "quic.0rtt=true&quic.insecure=true&quic.alpn=x";
        let (c, _) = client_tls(&ep(other), &cfg(other)).unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "another endpoint, another store");
        let off = "quic.insecure=true";
        let (d, _) = client_tls(&ep(off), &cfg(off)).unwrap();
        let (e, _) = client_tls(&ep(off), &cfg(off)).unwrap();
        assert!(!Arc::ptr_eq(&d, &e), "without 0-RTT nothing is kept");
    }

    #[test]
    fn an_endpoint_built_by_hand_is_checked_too() {
        for (key, value) in [
            ("idle", "0"),
            ("idle", "soon"),
            ("window", "1"),
            ("streams", "18446744073709551615"),
            ("retry", "sometimes"),
            ("datagrams", "yes"),
            ("0rtt", "1"),
            ("alpn", ""),
            ("server_id", "0g"),
            ("server_id", "123"),
            ("server_id", "00112233445566778899aabbccddeeff"),
        ] {
            let mut e = ep("quic.seed=1");
            e.options.push(strata::endpoint::LayerOption {
                layer: NAME.into(),
                key: key.into(),
                value: value.into(),
            });
            let err = config(&e, &StackConfig::default()).expect_err(key);
            assert!(
                err.to_string().starts_with(&format!("option quic.{key}:")),
                "{err}"
            );
        }
    }

    #[test]
    fn over_a_stream_a_connection_serves_one_stream() {
        struct Quiet;
        impl StreamProtocol for Quiet {
            fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
            fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
        }
        let one = one_stream(Box::new(Quiet));
        let mut first = strata::testing::MemoryTransport::new();
        one().connection_made(&mut first);
        assert!(first.aborted().is_none());
        let mut second = strata::testing::MemoryTransport::new();
        one().connection_made(&mut second);
        let why = second.aborted().expect("a second stream is refused");
        assert_eq!(
            why.error::<QuicError>(),
            Some(&QuicError::StreamAborted(strata::quic::DEFAULT_ABORT_CODE))
        );
    }

    #[test]
    fn over_a_stream_a_client_names_its_server_by_the_endpoint() {
        let tcp = |s: &str| Endpoint::parse_with(s, &crate::registry()).unwrap();
        assert_eq!(
            framed_peer(&tcp("quic+tcp://10.1.2.3:4433")),
            "10.1.2.3:4433".parse().unwrap()
        );
        assert_eq!(
            framed_peer(&tcp("quic+tcp://[::1]:4433")),
            "[::1]:4433".parse().unwrap()
        );
        assert_eq!(
            framed_peer(&tcp("quic+tcp://localhost:4433")),
            FRAMED_PLACEHOLDER
        );
        assert_eq!(
            framed_peer(&tcp("quic+tcp://0.0.0.0:4433")),
            FRAMED_PLACEHOLDER
        );
    }

    #[test]
    fn client_only_options_are_refused_on_a_server() {
        let e = ep("quic.insecure=true");
        let id = TlsIdentity::self_signed().unwrap();
        let err = crate::tls::server_rustls(&e, &id, NAME, Some(VERSIONS)).unwrap_err();
        assert!(err.to_string().contains("quic.insecure"), "{err}");
    }
}
