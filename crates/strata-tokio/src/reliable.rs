//! The `reliable` row of the scheme table: one layer, chosen by the
//! endpoint. Over UDP (`reliable+udp://`, and any stream layer above it,
//! `tls+reliable+udp://`) the listener is one UDP socket running a
//! [`ReliableListener`], and a connection is a connected UDP socket running
//! [`Reliable`]; with `reliable.mode=kcp` the KCP-compatible mode runs
//! instead ([`KcpListener`], [`KcpStream`]). Over a stream
//! (`reliable+tcp://`, `reliable+unix://`) [`Reliable`] is a pass-through.

use std::sync::Arc;
use std::time::Duration;

use strata::endpoint::Endpoint;
use strata::reliable::cc::CcAlgorithm;
use strata::reliable::kcp::KcpConfig;
use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::routing::ServerId;
use strata::{DatagramProtocol, StackConfig, StreamProtocol};

use crate::config::ListenConfig;
use crate::error::DriverError;
use crate::layer::{Carry, LayerCx, LayerWrap};
use strata::StreamFactory;

/// The layer name in endpoint chains.
pub(crate) const NAME: &str = "reliable";

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
        .map_err(|e| DriverError::bad_option(e, "true or false"))?
        .unwrap_or(false);
    if let Some(mtu) = ranged(
        ep,
        "mtu",
        bounds::KCP_MTU,
        "a datagram size in bytes, 50..=65507",
    )? {
        kcp.mtu = mtu as usize;
    }
    let conv = ep
        .option_as::<u32>(NAME, "conv")
        .map_err(|e| DriverError::bad_option(e, "a conversation id (u32)"))?;
    let mut cfg = KcpStreamConfig {
        kcp,
        ..KcpStreamConfig::default()
    };
    if let Some(idle) = ranged(ep, "idle", bounds::IDLE_SECS, "seconds, 1..=86400")? {
        cfg.idle_timeout = Some(Duration::from_secs(idle));
    }
    // The end marker between strata ends (both must set it).
    cfg.fin = ep
        .option_as::<bool>(NAME, "kcp_fin")
        .map_err(|e| DriverError::bad_option(e, "true or false"))?
        .unwrap_or(false);
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

/// Bounds of the numeric `reliable.*` options, checked at parse time (an
/// option outside them is a [`DriverError::BadOption`] naming it).
pub(crate) mod bounds {
    use std::ops::RangeInclusive;

    /// `reliable.mtu` (native mode): an Initial is padded to 1200, and 65527
    /// is the largest UDP payload over IPv6.
    pub const MTU: RangeInclusive<u64> = 1200..=65_527;
    /// `reliable.mtu` in KCP mode (the engine's own limits).
    pub const KCP_MTU: RangeInclusive<u64> = 50..=65_507;
    /// `reliable.window`, bytes: at least the wire format's initial limit,
    /// at most 1 GiB per connection.
    pub const WINDOW: RangeInclusive<u64> = 65_536..=1 << 30;
    /// `reliable.idle`, seconds: one second to one day.
    pub const IDLE_SECS: RangeInclusive<u64> = 1..=86_400;
    /// `reliable.handshake`, seconds: one second to ten minutes.
    pub const HANDSHAKE_SECS: RangeInclusive<u64> = 1..=600;
    /// `reliable.sndbuf`, bytes (native mode): at least the largest MTU,
    /// at most 1 GiB per connection (the hard limit is four times it).
    pub const SNDBUF: RangeInclusive<u64> = 65_536..=1 << 30;
    /// `reliable.unreachable_hints`: ICMP unreachable reports that, with
    /// silence, make the peer dead; 0 ignores ICMP entirely.
    pub const UNREACHABLE_HINTS: RangeInclusive<u64> = 0..=100;
    /// `reliable.server_id`, bytes: an 8-byte connection id keeps its first
    /// octet and at least 4 random bytes (`strata::routing`).
    pub const SERVER_ID_BYTES: usize = 3;
}

/// A numeric option within `range`, or `None` when absent.
fn ranged(
    ep: &Endpoint,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
    expected: &'static str,
) -> Result<Option<u64>, DriverError> {
    let Some(v) = ep
        .option_as::<u64>(NAME, key)
        .map_err(|e| DriverError::bad_option(e, expected))?
    else {
        return Ok(None);
    };
    if !range.contains(&v) {
        return Err(DriverError::BadOption {
            layer: NAME.into(),
            key: key.into(),
            value: v.to_string(),
            expected,
        });
    }
    Ok(Some(v))
}

/// The mapping's settings from the endpoint's `reliable.*` options. Every
/// option is bounded here ([`bounds`]), and an error names the option.
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
    if !is_kcp(ep)
        && let Some(v) = ranged(
            ep,
            "mtu",
            bounds::MTU,
            "a datagram size in bytes, 1200..=65527",
        )?
    {
        cfg.mtu = v as usize;
    }
    if let Some(v) = ranged(
        ep,
        "window",
        bounds::WINDOW,
        "a window in bytes, 65536..=1073741824",
    )? {
        cfg.max_recv_window = v;
        cfg.recv_window = cfg.recv_window.min(v);
    }
    if let Some(v) = ranged(
        ep,
        "sndbuf",
        bounds::SNDBUF,
        "a send buffer in bytes, 65536..=1073741824",
    )? {
        cfg.send_buffer = v as usize;
        cfg.max_send_buffer = cfg.send_buffer.saturating_mul(4);
    }
    if let Some(v) = ranged(ep, "idle", bounds::IDLE_SECS, "seconds, 1..=86400")? {
        cfg.idle_timeout = Duration::from_secs(v);
        cfg.keepalive = (v >= 3).then(|| Duration::from_secs(v / 3));
    }
    if let Some(v) = ranged(ep, "handshake", bounds::HANDSHAKE_SECS, "seconds, 1..=600")? {
        cfg.handshake_timeout = Duration::from_secs(v);
    }
    if let Some(v) = ranged(
        ep,
        "unreachable_hints",
        bounds::UNREACHABLE_HINTS,
        "a count, 0..=100 (0: ignore ICMP)",
    )? {
        cfg.unreachable_hints = v as u32;
    }
    if let Some(v) = ep
        .option_as::<bool>(NAME, "retry")
        .map_err(|e| DriverError::bad_option(e, "true or false"))?
    {
        cfg.require_retry = v;
    }
    if let Some(v) = ep.option(NAME, "server_id") {
        let bad = || DriverError::BadOption {
            layer: NAME.into(),
            key: "server_id".into(),
            value: v.into(),
            expected: "a server id in hex, 1..=3 bytes",
        };
        if is_kcp(ep) {
            // KCP's conversations carry no server id: say so rather than
            // run unroutable.
            return Err(DriverError::BadOption {
                layer: NAME.into(),
                key: "server_id".into(),
                value: v.into(),
                expected: "the native mode (reliable.mode=native; KCP ids carry no server id)",
            });
        }
        let sid = ServerId::parse_hex(v).map_err(|_| bad())?;
        if sid.len() > bounds::SERVER_ID_BYTES {
            return Err(bad());
        }
        cfg.server_id = Some(sid);
    }
    // The bounds above keep every combination valid; this is a backstop.
    cfg.validate().map_err(|e| DriverError::BadOption {
        layer: NAME.into(),
        key: "*".into(),
        value: e.to_string(),
        expected: "settings in range",
    })?;
    Ok(cfg)
}

/// The stack's watermarks, for the protocol above the mapping: it sees the
/// same `pause_writing`/`resume_writing` marks as over TCP.
fn marks(stack: &StackConfig) -> (usize, usize) {
    let high = stack.high_water.max(1);
    (high, stack.low_water.min(high))
}

/// Whether `reliable.mode=kcp` (any other value is checked by [`kcp_config`]).
fn is_kcp(ep: &Endpoint) -> bool {
    ep.option(NAME, "mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("kcp"))
}

/// The `reliable` row of the scheme table: over datagrams, the mapping
/// carries the streams; over a stream, it is a pass-through.
pub(crate) const CARRY: Carry = Carry { serve, connect };

/// The server side over datagrams: the listener of one socket, native
/// ([`ReliableListener`]) or KCP ([`KcpListener`]), serving `factory`'s
/// protocols, at most `lcfg.max_connections` at a time.
fn serve(
    cx: &mut LayerCx<'_>,
    factory: &StreamFactory,
    lcfg: &ListenConfig,
) -> Result<Box<dyn DatagramProtocol>, DriverError> {
    let ep = cx.ep;
    let mut kcp = kcp_config(ep)?;
    let mut cfg = config(ep)?;
    cfg.rng_seed = seed_bytes(cx);
    cfg.max_connections = cfg.max_connections.min(lcfg.max_connections);
    (cfg.high_water, cfg.low_water) = marks(&lcfg.stack);
    if let Some((stream, _)) = kcp.as_mut() {
        (stream.high_water, stream.low_water) = (cfg.high_water, cfg.low_water);
    }
    let factory = factory.clone();
    Ok(match kcp {
        None => Box::new(ReliableListener::new(cfg, factory)),
        Some((stream, _)) => {
            let lc = KcpListenerConfig {
                stream,
                max_connections: cfg.max_connections,
                ..KcpListenerConfig::default()
            };
            Box::new(KcpListener::new(lc, factory).map_err(kcp_error)?)
        }
    })
}

/// The client side over datagrams: [`Reliable`] (or [`KcpStream`]) with
/// `proto` above, for a socket connected to the server.
fn connect(
    cx: &LayerCx<'_>,
    proto: Box<dyn StreamProtocol>,
    stack: &StackConfig,
    _peer: std::net::SocketAddr,
) -> Result<Box<dyn DatagramProtocol>, DriverError> {
    let ep = cx.ep;
    let mut kcp = kcp_config(ep)?;
    let mut cfg = config(ep)?;
    cfg.rng_seed = seed_bytes(cx);
    (cfg.high_water, cfg.low_water) = marks(stack);
    if let Some((stream, _)) = kcp.as_mut() {
        (stream.high_water, stream.low_water) = (cfg.high_water, cfg.low_water);
    }
    Ok(match kcp {
        None => Box::new(Reliable::new(cfg, proto)),
        Some((stream, conv)) => {
            let conv = match (conv, cx.seed_for("reliable.conv")) {
                (Some(c), _) => c,
                // A simulation's plan: the conversation id from its seed.
                (None, Some(seed)) => (seed >> 32) as u32 ^ seed as u32,
                (None, None) => random_conv()?,
            };
            Box::new(KcpStream::new(conv, stream, proto).map_err(kcp_error)?)
        }
    })
}

/// Over a stream (`reliable+tcp`, `reliable+unix`): [`Reliable`] as the
/// pass-through it is there, so one protocol value runs over either. The
/// options are checked as over UDP.
pub(crate) fn pass_through(cx: &mut LayerCx<'_>) -> Result<LayerWrap, DriverError> {
    kcp_config(cx.ep)?;
    let cfg = config(cx.ep)?;
    Ok(Arc::new(move |inner| {
        Box::new(Reliable::new(cfg.clone(), inner)) as Box<dyn StreamProtocol>
    }))
}

/// The mapping's `rng_seed` in a simulation's seeded plan (`None` in the
/// real driver: the operating system's generator).
fn seed_bytes(cx: &LayerCx<'_>) -> Option<[u8; 32]> {
    cx.seed_for(NAME)
        .map(|seed| crate::tls::seeded::key(seed, NAME))
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

#[cfg(test)]
mod tests {
    //! Every `reliable.*` option is bounded at parse time, and any value the
    //! parser accepts runs a connection, through every timer, without a
    //! panic (issue 9: `reliable.idle=18446744073709551615` once took a
    //! listener down).
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use strata::endpoint::Endpoint;
    use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream};
    use strata::reliable::{Reliable, ReliableListener};
    use strata::testing::{LinkConfig, SimNet};
    use strata::{Close, StreamProtocol, StreamTransport};

    use super::{config, kcp_config};

    fn ep(query: &str) -> Endpoint {
        let reg = crate::registry();
        Endpoint::parse_with(&format!("reliable+udp://127.0.0.1:9555?{query}"), &reg)
            .expect("the endpoint parses")
    }

    #[test]
    fn a_bad_value_names_the_option_once() {
        for (key, value) in [
            ("mtu", "100"),
            ("mtu", "70000"),
            ("window", "1"),
            ("window", "99999999999"),
            ("idle", "0"),
            ("idle", "18446744073709551615"),
            ("idle", "soon"),
            ("handshake", "0"),
            ("handshake", "601"),
            ("unreachable_hints", "101"),
            ("unreachable_hints", "-1"),
            ("sndbuf", "65535"),
            ("sndbuf", "1073741825"),
            ("server_id", "01020304"),
            ("server_id", "0g"),
            ("server_id", "123"),
        ] {
            let e = config(&ep(&format!("reliable.{key}={value}")))
                .expect_err("out of bounds")
                .to_string();
            assert!(
                e.starts_with(&format!("option reliable.{key}: invalid value `{value}`")),
                "{e}"
            );
            assert_eq!(e.matches("reliable").count(), 1, "{e}");
        }
        let fin = kcp_config(&ep("reliable.mode=kcp&reliable.kcp_fin=yes"));
        assert!(fin
            .unwrap_err()
            .to_string()
            .starts_with("option reliable.kcp_fin:"));
        let fin = kcp_config(&ep("reliable.mode=kcp&reliable.kcp_fin=true"));
        assert!(fin.unwrap().unwrap().0.fin);
        let kcp = config(&ep("reliable.mode=kcp&reliable.server_id=01"));
        assert!(kcp
            .unwrap_err()
            .to_string()
            .starts_with("option reliable.server_id: invalid value `01`"));
        let kcp = kcp_config(&ep("reliable.mode=kcp&reliable.idle=18446744073709551615"));
        assert!(kcp
            .unwrap_err()
            .to_string()
            .starts_with("option reliable.idle:"));
    }

    /// `reliable.unreachable_hints` reaches the configuration; 0 (ignore
    /// ICMP) is a valid value.
    #[test]
    fn unreachable_hints_is_an_option() {
        assert_eq!(config(&ep("reliable.cc=bbr")).unwrap().unreachable_hints, 3);
        for v in [0, 1, 100] {
            let cfg = config(&ep(&format!("reliable.unreachable_hints={v}"))).unwrap();
            assert_eq!(cfg.unreachable_hints, v);
        }
    }

    /// `reliable.sndbuf` sets the send buffer, and the hard limit at four
    /// times it; the watermarks stay the stack's.
    #[test]
    fn sndbuf_is_an_option() {
        let cfg = config(&ep("reliable.sndbuf=262144")).unwrap();
        assert_eq!((cfg.send_buffer, cfg.max_send_buffer), (262_144, 1 << 20));
        assert_eq!(config(&ep("reliable.cc=bbr")).unwrap().send_buffer, 4 << 20);
        let stack = strata::StackConfig {
            high_water: 8192,
            low_water: 1024,
            ..strata::StackConfig::default()
        };
        assert_eq!(super::marks(&stack), (8192, 1024));
    }

    /// `reliable.server_id` (hex) reaches the configuration: the ids a
    /// listener issues then carry it.
    #[test]
    fn server_id_is_an_option() {
        assert_eq!(config(&ep("reliable.cc=bbr")).unwrap().server_id, None);
        for v in ["0a", "A0b1", "ffffff"] {
            let cfg = config(&ep(&format!("reliable.server_id={v}"))).unwrap();
            let want = strata::routing::ServerId::parse_hex(v).unwrap();
            assert_eq!(cfg.server_id, Some(want));
        }
    }

    /// A small deterministic generator (no dependency for one test).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    /// Values at and around every bound, and beyond.
    fn value(rng: &mut Rng, key: &str) -> String {
        let (lo, hi): (u64, u64) = match key {
            "mtu" => (50, 65_527),
            "window" => (65_536, 1 << 30),
            "idle" => (1, 86_400),
            "handshake" => (1, 600),
            "unreachable_hints" => (0, 100),
            "sndbuf" => (65_536, 1 << 30),
            _ => (0, 1),
        };
        let edges = [
            0,
            1,
            2,
            lo.saturating_sub(1),
            lo,
            lo + 1,
            1200,
            hi - 1,
            hi,
            hi + 1,
            u64::MAX,
        ];
        match rng.next() % 4 {
            0 => (rng.next() % (hi + 2)).to_string(),
            _ => edges[(rng.next() % edges.len() as u64) as usize].to_string(),
        }
    }

    #[derive(Default)]
    struct Seen {
        lost: Option<Close>,
    }

    /// Writes a little, then half-closes; records the end.
    struct Talk(Arc<Mutex<Seen>>, bool);
    impl StreamProtocol for Talk {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(&[7; 3000]);
            if self.1 {
                t.write_eof();
            }
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close();
        }
        fn connection_lost(&mut self, why: &Close) {
            self.0.lock().unwrap().lost = Some(why.clone());
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Runs one connection over a simulated link with `query`'s settings:
    /// a clean exchange (`fin`), or one side that never finishes, so that
    /// the keepalive and idle timers (or KCP's) run; and a client with no
    /// server, so that the handshake timer runs.
    fn run(query: &str, fin: bool, seed: u64) {
        let e = ep(query);
        let (Ok(kcp), Ok(cfg)) = (kcp_config(&e), config(&e)) else {
            return;
        };
        // Past every timer of the settings: three idle timeouts (the
        // longest accepted is a day) and the handshake.
        let idle = match &kcp {
            None => cfg.idle_timeout,
            Some((stream, _)) => stream.idle_timeout.unwrap_or_default(),
        };
        // KCP ticks every 10-100 ms: keep its runs to ten minutes (the
        // deadlines are computed, saturating, from the first tick on).
        let cap = if kcp.is_some() { 600 } else { 3 * 3600 };
        let limit = (idle * 3 + cfg.handshake_timeout + Duration::from_secs(60))
            .min(Duration::from_secs(cap));
        let mut net = SimNet::new(seed);
        net.set_tracing(false);
        let server_addr = addr("10.0.0.2:9555");
        let client_seen = Arc::new(Mutex::new(Seen::default()));
        let factory: strata::StreamFactory =
            Arc::new(move || Box::new(Talk(Arc::default(), fin)) as Box<dyn StreamProtocol>);
        let client_proto = Talk(client_seen.clone(), fin);
        let (server, client): (
            Box<dyn strata::DatagramProtocol>,
            Box<dyn strata::DatagramProtocol>,
        ) = match kcp {
            None => (
                Box::new(ReliableListener::new(cfg.clone(), factory)),
                Box::new(Reliable::connect_to(server_addr, cfg, client_proto)),
            ),
            Some((stream, _)) => {
                let lc = KcpListenerConfig {
                    stream: stream.clone(),
                    ..KcpListenerConfig::default()
                };
                let Ok(listener) = KcpListener::new(lc, factory) else {
                    return;
                };
                let Ok(c) = KcpStream::new(7, stream, client_proto) else {
                    return;
                };
                (Box::new(listener), Box::new(c.with_peer(server_addr)))
            }
        };
        let s = net.add_node(server_addr, server);
        let c = net.add_node(addr("10.0.0.1:5000"), client);
        net.link_both(c, s, LinkConfig::default().delay(Duration::from_millis(5)));
        net.run_until(limit, |_| client_seen.lock().unwrap().lost.is_some());
        // No server: the handshake (or KCP's dead link) must end it.
        let mut net = SimNet::new(seed);
        net.set_tracing(false);
        let alone = Arc::new(Mutex::new(Seen::default()));
        let e = ep(query);
        let proto = Talk(alone.clone(), fin);
        let client: Box<dyn strata::DatagramProtocol> = match kcp_config(&e).unwrap() {
            None => Box::new(Reliable::connect_to(
                server_addr,
                config(&e).unwrap(),
                proto,
            )),
            Some((stream, _)) => match KcpStream::new(7, stream, proto) {
                Ok(c) => Box::new(c.with_peer(server_addr)),
                Err(_) => return,
            },
        };
        net.add_node(addr("10.0.0.1:5000"), client);
        net.run(limit);
    }

    #[test]
    fn any_accepted_option_value_runs_a_connection_without_a_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for i in 0..120u64 {
            let mut opts = Vec::new();
            for key in [
                "mtu",
                "window",
                "idle",
                "handshake",
                "unreachable_hints",
                "sndbuf",
            ] {
                if rng.next().is_multiple_of(2) {
                    opts.push(format!("reliable.{key}={}", value(&mut rng, key)));
                }
            }
            opts.push(format!(
                "reliable.cc={}",
                rng.pick(&["bbr", "cubic", "newreno"])
            ));
            opts.push(format!("reliable.retry={}", rng.pick(&["true", "false"])));
            if rng.next().is_multiple_of(3) {
                opts.push("reliable.mode=kcp".into());
                opts.push(format!("reliable.kcp={}", rng.pick(&["default", "fast"])));
                opts.push(format!("reliable.nocc={}", rng.pick(&["true", "false"])));
            }
            let query = opts.join("&");
            let e = ep(&query);
            if config(&e).is_ok() && kcp_config(&e).is_ok() {
                accepted += 1;
            }
            run(&query, i % 2 == 0, i);
        }
        assert!(accepted >= 20, "only {accepted} accepted");
    }
}
