//! The scheme registry: which names the parser knows and how they stack.

use super::{Family, OptionValue};

/// Declared in [`SchemeSpec::options`], lets a layer accept every key (it
/// then validates its own options when it is built).
pub const ANY_OPTION: &str = "*";

/// What one scheme name means.
///
/// ```
/// use strata::endpoint::{Family, SchemeKind, SchemeSpec};
/// use strata::endpoint::OptionValue;
/// const TLS: SchemeSpec = SchemeSpec {
///     name: "tls",
///     kind: SchemeKind::Layer { below: Family::Stream, above: Family::Stream },
///     options: &["alpn", "sni"],
///     values: &[("sni", OptionValue::Text { min_len: 1, max_len: 253 })],
///     help: &[],
/// };
/// assert!(TLS.accepts_option("alpn"));
/// assert!(!TLS.accepts_option("nodelay"));
/// assert_eq!(TLS.value_rule("sni"), Some(OptionValue::Text { min_len: 1, max_len: 253 }));
/// assert_eq!(TLS.value_rule("alpn"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemeSpec {
    /// The name in the chain: a lowercase letter, then lowercase letters,
    /// digits or `-`.
    pub name: &'static str,
    /// A transport (bottom of the chain) or a layer.
    pub kind: SchemeKind,
    /// The option keys this scheme takes in the query (`tls.alpn`): an
    /// empty list means none, [`ANY_OPTION`] means any.
    pub options: &'static [&'static str],
    /// The values each option takes, checked at parse time: an option
    /// without a rule takes any value (its layer then checks it when it is
    /// built, and must refuse, never panic on, what it cannot use).
    pub values: &'static [(&'static str, OptionValue)],
    /// What each option does and its default, for `strata endpoints` and
    /// error messages: one [`OptionHelp`] per declared key (the built-in
    /// schemes document every one; a test checks it).
    pub help: &'static [OptionHelp],
}

/// What one option does, its default, and (for an option without a value
/// rule, whose layer checks it when built) its bounds in words.
///
/// ```
/// use strata::endpoint::{OptionHelp, SchemeSpec};
/// let h = SchemeSpec::TCP.help_for("nodelay").unwrap();
/// assert_eq!(h.default, "true");
/// const MTU: OptionHelp = OptionHelp::new("mtu", "1200", "largest datagram sent, bytes")
///     .bounded("1200 to 65527");
/// assert_eq!(MTU.bounds, "1200 to 65527");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionHelp {
    /// The option key, as in [`SchemeSpec::options`].
    pub key: &'static str,
    /// Its default, in words (`true`, `1024`, `none`, `the endpoint's host`).
    pub default: &'static str,
    /// What it does, one line.
    pub about: &'static str,
    /// Its bounds in words when [`SchemeSpec::values`] has no rule for it
    /// (empty otherwise: the rule says it).
    pub bounds: &'static str,
}

impl OptionHelp {
    /// Help for `key`: its default and what it does.
    ///
    /// ```
    /// use strata::endpoint::OptionHelp;
    /// let h = OptionHelp::new("window", "64", "packets in flight");
    /// assert_eq!((h.key, h.default, h.bounds), ("window", "64", ""));
    /// ```
    pub const fn new(key: &'static str, default: &'static str, about: &'static str) -> Self {
        OptionHelp {
            key,
            default,
            about,
            bounds: "",
        }
    }

    /// The same, with its bounds in words (for an option without a value rule).
    ///
    /// ```
    /// use strata::endpoint::OptionHelp;
    /// let h = OptionHelp::new("alpn", "h2", "protocols offered").bounded("1 to 8 names");
    /// assert_eq!(h.bounds, "1 to 8 names");
    /// ```
    pub const fn bounded(self, bounds: &'static str) -> Self {
        OptionHelp { bounds, ..self }
    }
}

/// The smallest `tcp.sndbuf`/`tcp.rcvbuf` accepted: 4 KiB.
pub const SOCKET_BUFFER_MIN: u64 = 4 * 1024;
/// The largest `tcp.sndbuf`/`tcp.rcvbuf` accepted: 64 MiB (the kernel caps
/// the value further at `net.core.wmem_max`/`rmem_max`).
pub const SOCKET_BUFFER_MAX: u64 = 64 * 1024 * 1024;
/// The largest `tcp.backlog` accepted (the kernel caps it further at
/// `net.core.somaxconn`).
pub const BACKLOG_MAX: u64 = 65_535;

const SOCKET_BUFFER: OptionValue = OptionValue::Int {
    min: SOCKET_BUFFER_MIN,
    max: SOCKET_BUFFER_MAX,
};
/// Paths: a comma-separated list of a few `PATH_MAX`-long paths at most.
const PATHS: OptionValue = OptionValue::Text {
    min_len: 1,
    max_len: 16 * 1024,
};

impl SchemeSpec {
    /// `tcp`: a stream to a host and port.
    pub const TCP: SchemeSpec = SchemeSpec {
        name: "tcp",
        kind: SchemeKind::Transport {
            family: Family::Stream,
            target: TargetKind::HostPort,
        },
        options: &["nodelay", "reuseport", "backlog", "sndbuf", "rcvbuf"],
        values: &[
            ("nodelay", OptionValue::Bool),
            ("reuseport", OptionValue::Bool),
            (
                "backlog",
                OptionValue::Int {
                    min: 1,
                    max: BACKLOG_MAX,
                },
            ),
            ("sndbuf", SOCKET_BUFFER),
            ("rcvbuf", SOCKET_BUFFER),
        ],
        help: &[
            OptionHelp::new(
                "nodelay",
                "true",
                "TCP_NODELAY (writes are already coalesced per wake-up)",
            ),
            OptionHelp::new("reuseport", "false", "SO_REUSEPORT on the listening socket"),
            OptionHelp::new(
                "backlog",
                "1024",
                "listen backlog (the kernel caps it at somaxconn)",
            ),
            OptionHelp::new(
                "sndbuf",
                "kernel autotuning (strata serve: 262144)",
                "SO_SNDBUF, bytes (Linux doubles it)",
            ),
            OptionHelp::new("rcvbuf", "kernel autotuning", "SO_RCVBUF, bytes"),
        ],
    };
    /// `udp`: datagrams to or from a host and port.
    pub const UDP: SchemeSpec = SchemeSpec {
        name: "udp",
        kind: SchemeKind::Transport {
            family: Family::Datagram,
            target: TargetKind::HostPort,
        },
        options: &["reuseport"],
        values: &[("reuseport", OptionValue::Bool)],
        help: &[OptionHelp::new(
            "reuseport",
            "false",
            "SO_REUSEPORT on the UDP socket",
        )],
    };
    /// `unix`: a stream over a Unix socket path.
    pub const UNIX: SchemeSpec = SchemeSpec {
        name: "unix",
        kind: SchemeKind::Transport {
            family: Family::Stream,
            target: TargetKind::Path,
        },
        options: &[],
        values: &[],
        help: &[],
    };
    /// `tls`: the TLS layer (`strata::tls::Tls`), a stream over a stream.
    /// In [`SchemeRegistry::default`] (the layer lives in the core; the
    /// driver adds only how to build it). Its options are documented in
    /// `docs/endpoints.md`.
    pub const TLS: SchemeSpec = SchemeSpec {
        name: "tls",
        kind: SchemeKind::Layer {
            below: Family::Stream,
            above: Family::Stream,
        },
        options: &["cert", "key", "ca", "alpn", "sni", "insecure"],
        values: &[
            ("cert", PATHS),
            ("key", PATHS),
            ("ca", PATHS),
            (
                "alpn",
                OptionValue::List {
                    item_max: 255,
                    max_items: 32,
                },
            ),
            (
                "sni",
                OptionValue::Text {
                    min_len: 1,
                    max_len: 253,
                },
            ),
            ("insecure", OptionValue::Bool),
        ],
        help: &[
            OptionHelp::new(
                "cert",
                "server: a self-signed certificate",
                "PEM certificate chain(s), comma-separated (several: chosen by SNI)",
            ),
            OptionHelp::new(
                "key",
                "none",
                "PEM private key(s) of tls.cert, paired in order",
            ),
            OptionHelp::new(
                "ca",
                "client: the Mozilla roots",
                "PEM trust roots (on a server: client certificates required)",
            ),
            OptionHelp::new("alpn", "none", "ALPN protocols, in preference order"),
            OptionHelp::new(
                "sni",
                "the endpoint's host",
                "client: the name sent and verified",
            ),
            OptionHelp::new(
                "insecure",
                "false",
                "client: accept any certificate (testing only)",
            ),
        ],
    };

    /// `reliable`: the reliable mapping
    /// (`strata::reliable::Reliable` / `ReliableListener`): a stream
    /// over datagrams (`reliable+udp`), and a pass-through over a stream
    /// (`reliable+tcp`, `reliable+unix`), so one endpoint string chooses.
    /// In [`SchemeRegistry::default`]. Options:
    /// `cc` (`bbr`, `cubic`, `newreno`), `mtu` (bytes), `window` (largest
    /// receive window, bytes), `idle` (idle timeout, seconds), `retry`
    /// (listener: validate addresses with Retry, `true`/`false`),
    /// `handshake` (handshake timeout, seconds), `unreachable_hints` (ICMP
    /// unreachable reports that, with silence, make the peer dead; 0..=100,
    /// 0 ignores ICMP); and the
    /// KCP-compatible mode: `mode` (`native` or `kcp`), `conv` (KCP's
    /// conversation id; a client picks a random one by default), `kcp`
    /// (the timer preset, `default` or `fast`), `nocc` (KCP without
    /// congestion control, `true`/`false`; it is on by default).
    pub const RELIABLE: SchemeSpec = SchemeSpec {
        name: "reliable",
        kind: SchemeKind::Mapping {
            above: Family::Stream,
        },
        options: &[
            "cc",
            "mtu",
            "window",
            "idle",
            "retry",
            "mode",
            "conv",
            "kcp",
            "nocc",
            "handshake",
            "unreachable_hints",
            "sndbuf",
            "kcp_fin",
            "server_id",
        ],
        // Bounded where they are read, when the layer is built
        // (`strata_tokio`'s reliable glue).
        values: &[],
        help: &[
            OptionHelp::new("cc", "bbr", "congestion controller").bounded("bbr, cubic or newreno"),
            OptionHelp::new("mtu", "1200", "largest datagram sent, bytes")
                .bounded("1200 to 65527 (kcp mode: 50 to 65507)"),
            OptionHelp::new("window", "16777216", "largest receive window, bytes")
                .bounded("65536 to 1073741824"),
            OptionHelp::new("idle", "30", "idle timeout, seconds").bounded("1 to 86400"),
            OptionHelp::new(
                "retry",
                "true",
                "listener: validate client addresses with Retry",
            )
            .bounded("true or false"),
            OptionHelp::new("mode", "native", "wire format").bounded("native or kcp"),
            OptionHelp::new("conv", "client: random", "kcp mode: the conversation id")
                .bounded("a 32-bit number"),
            OptionHelp::new("kcp", "default", "kcp mode: the timer preset")
                .bounded("default or fast"),
            OptionHelp::new("nocc", "true", "kcp mode: no congestion control")
                .bounded("true or false"),
            OptionHelp::new("handshake", "20", "handshake timeout, seconds").bounded("1 to 600"),
            OptionHelp::new(
                "unreachable_hints",
                "3",
                "ICMP unreachable reports that, with silence, make the peer dead (0: ignore ICMP)",
            )
            .bounded("0 to 100"),
            OptionHelp::new(
                "sndbuf",
                "4194304",
                "bytes held for sending, in flight included",
            )
            .bounded("65536 to 1073741824"),
            OptionHelp::new("kcp_fin", "false", "kcp mode: the end marker (half-close)")
                .bounded("true or false"),
            OptionHelp::new(
                "server_id",
                "none",
                "listener: server id in connection ids, hex",
            )
            .bounded("1 to 3 bytes in hex"),
        ],
    };

    /// `quic`: the QUIC layer (`strata::quic::QuicServer` / `QuicClient`):
    /// a stream per connection over datagrams (`quic+udp`), and over a
    /// stream through length-prefixed frames (`quic+tcp`). In
    /// [`SchemeRegistry::default`]. Options: `alpn` (comma list), `sni`,
    /// `cert`, `key`, `ca`, `insecure` (as `tls`), `idle` and `keepalive`
    /// (milliseconds), `streams` (concurrent streams the peer may open),
    /// `window` (stream receive window, bytes), `datagrams` (RFC 9221),
    /// `retry` (`always`, `never`, `auto`), `server_id` (hex, routable
    /// connection ids), `seed` (the RNG seed, for tests), `0rtt` (0-RTT).
    pub const QUIC: SchemeSpec = SchemeSpec {
        name: "quic",
        kind: SchemeKind::Mapping {
            above: Family::Stream,
        },
        options: &[
            "alpn",
            "sni",
            "cert",
            "key",
            "ca",
            "insecure",
            "idle",
            "keepalive",
            "streams",
            "window",
            "datagrams",
            "retry",
            "server_id",
            "seed",
            "0rtt",
        ],
        values: &[
            ("cert", PATHS),
            ("key", PATHS),
            ("ca", PATHS),
            (
                "alpn",
                OptionValue::List {
                    item_max: 255,
                    max_items: 32,
                },
            ),
            (
                "sni",
                OptionValue::Text {
                    min_len: 1,
                    max_len: 253,
                },
            ),
            ("insecure", OptionValue::Bool),
            ("datagrams", OptionValue::Bool),
            ("0rtt", OptionValue::Bool),
            (
                "idle",
                OptionValue::Int {
                    min: 1,
                    max: 3_600_000,
                },
            ),
            (
                "keepalive",
                OptionValue::Int {
                    min: 1,
                    max: 3_600_000,
                },
            ),
            (
                "streams",
                OptionValue::Int {
                    min: 0,
                    max: 1 << 20,
                },
            ),
            (
                "window",
                OptionValue::Int {
                    min: 1024,
                    max: 1 << 30,
                },
            ),
            ("retry", OptionValue::OneOf(&["always", "never", "auto"])),
            (
                "server_id",
                OptionValue::Text {
                    min_len: 2,
                    max_len: 30,
                },
            ),
            (
                "seed",
                OptionValue::Int {
                    min: 0,
                    max: u64::MAX,
                },
            ),
        ],
        help: &[
            OptionHelp::new("alpn", "strata", "ALPN protocols (QUIC requires one)"),
            OptionHelp::new(
                "sni",
                "the endpoint's host",
                "client: the name sent and verified",
            ),
            OptionHelp::new("cert", "server: a self-signed certificate", "as tls.cert"),
            OptionHelp::new("key", "none", "as tls.key"),
            OptionHelp::new("ca", "client: the Mozilla roots", "as tls.ca"),
            OptionHelp::new(
                "insecure",
                "false",
                "client: accept any certificate (testing only)",
            ),
            OptionHelp::new(
                "idle",
                "30000",
                "idle timeout, milliseconds (bounds the handshake)",
            ),
            OptionHelp::new(
                "keepalive",
                "off",
                "a PING after this many quiet milliseconds",
            ),
            OptionHelp::new(
                "streams",
                "100",
                "streams of each direction the peer may open",
            ),
            OptionHelp::new("window", "1048576", "receive window of one stream, bytes"),
            OptionHelp::new("datagrams", "true", "accept DATAGRAM frames (RFC 9221)"),
            OptionHelp::new("retry", "auto", "server: address validation with Retry"),
            OptionHelp::new(
                "server_id",
                "none",
                "server: server id in connection ids, hex",
            ),
            OptionHelp::new(
                "seed",
                "the system's generator",
                "seeds the layer's random choices (tests)",
            ),
            OptionHelp::new("0rtt", "false", "0-RTT (early data can be replayed)"),
        ],
    };

    /// `proxy`: the PROXY protocol (`strata::proxy_protocol`), a stream over
    /// a stream (`proxy+tcp://`). In [`SchemeRegistry::default`]. A
    /// listener reads a v1 or v2 header first and reports the client's
    /// address it carries; a client sends one with its own addresses.
    /// Options: `versions` (accepted: `1`, `2`, `1,2`), `timeout` (for the
    /// header to arrive, milliseconds), `max_header` (the longest v2
    /// variable part, bytes), `send` (the version a client sends, `1` or
    /// `2`).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("proxy+tcp://0.0.0.0:8080?proxy.versions=2&proxy.timeout=3000").unwrap();
    /// assert_eq!(ep.layers, ["proxy", "tcp"]);
    /// assert!(Endpoint::parse("proxy+tcp://h:1?proxy.versions=3").is_err());
    /// ```
    pub const PROXY: SchemeSpec = SchemeSpec {
        name: "proxy",
        kind: SchemeKind::Layer {
            below: Family::Stream,
            above: Family::Stream,
        },
        options: &["versions", "timeout", "max_header", "send"],
        values: &[
            ("versions", OptionValue::OneOf(&["1", "2", "1,2", "2,1"])),
            (
                "timeout",
                OptionValue::Int {
                    min: 1,
                    max: 3_600_000,
                },
            ),
            (
                "max_header",
                OptionValue::Int {
                    min: 216,
                    max: 65_535,
                },
            ),
            ("send", OptionValue::OneOf(&["1", "2"])),
        ],
        help: &[
            OptionHelp::new("versions", "1,2", "listener: the header versions accepted"),
            OptionHelp::new(
                "timeout",
                "10000",
                "listener: milliseconds for the header to arrive whole",
            ),
            OptionHelp::new(
                "max_header",
                "4096",
                "listener: the longest v2 header after its 16 fixed bytes",
            ),
            OptionHelp::new("send", "2", "client: the version of the header it sends"),
        ],
    };

    /// Whether `key` is a declared option of this scheme.
    ///
    /// ```
    /// use strata::endpoint::SchemeSpec;
    /// assert!(SchemeSpec::UDP.accepts_option("reuseport"));
    /// assert!(!SchemeSpec::UDP.accepts_option("nodelay"));
    /// ```
    pub fn accepts_option(&self, key: &str) -> bool {
        self.options.iter().any(|o| *o == ANY_OPTION || *o == key)
    }

    /// The values option `key` takes, when this scheme bounds them.
    ///
    /// ```
    /// use strata::endpoint::{OptionValue, SchemeSpec};
    /// assert_eq!(SchemeSpec::UDP.value_rule("reuseport"), Some(OptionValue::Bool));
    /// assert_eq!(SchemeSpec::UDP.value_rule("nodelay"), None);
    /// ```
    pub fn value_rule(&self, key: &str) -> Option<OptionValue> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// What option `key` does and its default, when documented.
    ///
    /// ```
    /// use strata::endpoint::SchemeSpec;
    /// let h = SchemeSpec::UDP.help_for("reuseport").unwrap();
    /// assert_eq!(h.default, "false");
    /// ```
    pub fn help_for(&self, key: &str) -> Option<OptionHelp> {
        self.help.iter().find(|h| h.key == key).copied()
    }
}

/// Where a scheme sits in the chain and what it gives upward.
///
/// ```
/// use strata::endpoint::{Family, SchemeKind};
/// let reliable = SchemeKind::Layer { below: Family::Datagram, above: Family::Stream };
/// assert_eq!(reliable.above(), Family::Stream);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeKind {
    /// The bottom of a chain: something the driver opens.
    Transport {
        /// What it presents upward.
        family: Family,
        /// What its target looks like.
        target: TargetKind,
    },
    /// A layer: a protocol of family `below`, a transport of family `above`.
    Layer {
        /// What it needs under it.
        below: Family,
        /// What it presents upward.
        above: Family,
    },
    /// A layer over either family that presents `above`: over `above` it
    /// passes through, over the other family it maps. The reliable mapping:
    /// a stream over datagrams, a pass-through over a stream.
    ///
    /// ```
    /// use strata::endpoint::{Endpoint, Family, SchemeKind, SchemeSpec};
    /// assert_eq!(SchemeSpec::RELIABLE.kind, SchemeKind::Mapping { above: Family::Stream });
    /// for s in ["reliable+tcp://h:1", "reliable+unix:///p", "reliable+udp://h:1"] {
    ///     assert_eq!(Endpoint::parse(s).unwrap().layers[0], "reliable");
    /// }
    /// ```
    Mapping {
        /// What it presents upward, whatever is below.
        above: Family,
    },
}

impl SchemeKind {
    /// The family this scheme presents to what is above it.
    ///
    /// ```
    /// use strata::endpoint::{Family, SchemeSpec};
    /// assert_eq!(SchemeSpec::UDP.kind.above(), Family::Datagram);
    /// assert_eq!(SchemeSpec::RELIABLE.kind.above(), Family::Stream);
    /// ```
    pub fn above(&self) -> Family {
        match *self {
            SchemeKind::Transport { family, .. } => family,
            SchemeKind::Layer { above, .. } | SchemeKind::Mapping { above } => above,
        }
    }
}

/// The shape of a transport's target.
///
/// ```
/// use strata::endpoint::{SchemeSpec, SchemeKind, TargetKind};
/// assert!(matches!(SchemeSpec::UNIX.kind, SchemeKind::Transport { target: TargetKind::Path, .. }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// `host:port`, host an IPv4 address, `[IPv6]` or a DNS name.
    HostPort,
    /// An absolute filesystem path (`unix:///run/app.sock`).
    Path,
}

/// The schemes a parser knows. [`SchemeRegistry::default`] has every
/// built-in scheme: the transports `tcp`, `udp` and `unix`, and the layers
/// of the core, `tls` and `reliable` (what [`Endpoint::parse`](crate::endpoint::Endpoint::parse) uses). A new
/// layer adds its own with [`register`](SchemeRegistry::register) without
/// touching the parser.
///
/// ```
/// use strata::endpoint::{Endpoint, Family, SchemeKind, SchemeRegistry, SchemeSpec};
/// assert!(Endpoint::parse("tls+reliable+udp://localhost:443?tls.alpn=h2").is_ok());
/// let mut reg = SchemeRegistry::transports();
/// assert!(Endpoint::parse_with("tls+tcp://localhost:443", &reg).is_err());
/// reg.register(SchemeSpec {
///     name: "tls",
///     kind: SchemeKind::Layer { below: Family::Stream, above: Family::Stream },
///     options: &["alpn"],
///     values: &[],
///     help: &[],
/// })
/// .unwrap();
/// let ep = Endpoint::parse_with("tls+tcp://localhost:443?tls.alpn=h2", &reg).unwrap();
/// assert_eq!(ep.layers, ["tls", "tcp"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeRegistry {
    specs: Vec<SchemeSpec>,
}

impl Default for SchemeRegistry {
    /// Every built-in scheme: `tcp`, `udp`, `unix`, `tls`, `reliable`,
    /// `quic`, `proxy`.
    fn default() -> Self {
        SchemeRegistry {
            specs: vec![
                SchemeSpec::TCP,
                SchemeSpec::UDP,
                SchemeSpec::UNIX,
                SchemeSpec::TLS,
                SchemeSpec::RELIABLE,
                SchemeSpec::QUIC,
                SchemeSpec::PROXY,
            ],
        }
    }
}

impl SchemeRegistry {
    /// The transports only (`tcp`, `udp`, `unix`), for a parser that must
    /// not know the layers (or that registers its own).
    ///
    /// ```
    /// use strata::endpoint::SchemeRegistry;
    /// let names: Vec<_> = SchemeRegistry::transports().schemes().map(|s| s.name).collect();
    /// assert_eq!(names, ["tcp", "udp", "unix"]);
    /// ```
    pub fn transports() -> Self {
        SchemeRegistry {
            specs: vec![SchemeSpec::TCP, SchemeSpec::UDP, SchemeSpec::UNIX],
        }
    }

    /// A registry that knows no scheme at all.
    ///
    /// ```
    /// use strata::endpoint::{Endpoint, SchemeRegistry};
    /// let reg = SchemeRegistry::empty();
    /// assert_eq!(reg.schemes().count(), 0);
    /// assert!(Endpoint::parse_with("tcp://h:1", &reg).is_err());
    /// ```
    pub fn empty() -> Self {
        SchemeRegistry { specs: Vec::new() }
    }

    /// Adds a scheme. Names are unique; names and option keys must be
    /// lowercase (`a-z`, digits, `-`; keys may also hold `_` and `.`).
    ///
    /// ```
    /// use strata::endpoint::{RegistryError, SchemeRegistry, SchemeSpec};
    /// let mut reg = SchemeRegistry::empty();
    /// reg.register(SchemeSpec::TCP).unwrap();
    /// let again = reg.register(SchemeSpec::TCP);
    /// assert!(matches!(again, Err(RegistryError::Duplicate { name: "tcp" })));
    /// ```
    pub fn register(&mut self, spec: SchemeSpec) -> Result<(), RegistryError> {
        if !valid_scheme_name(spec.name) {
            return Err(RegistryError::InvalidName { name: spec.name });
        }
        if let Some(option) = spec.options.iter().find(|o| !valid_option_key(o)) {
            return Err(RegistryError::InvalidOption {
                name: spec.name,
                option,
            });
        }
        if let Some((option, _)) = spec.values.iter().find(|(k, _)| !spec.accepts_option(k)) {
            return Err(RegistryError::UndeclaredValue {
                name: spec.name,
                option,
            });
        }
        if let Some(h) = spec.help.iter().find(|h| !spec.accepts_option(h.key)) {
            return Err(RegistryError::UndeclaredHelp {
                name: spec.name,
                option: h.key,
            });
        }
        if self.get(spec.name).is_some() {
            return Err(RegistryError::Duplicate { name: spec.name });
        }
        self.specs.push(spec);
        Ok(())
    }

    /// The scheme called `name`, if registered.
    ///
    /// ```
    /// use strata::endpoint::SchemeRegistry;
    /// let reg = SchemeRegistry::default();
    /// assert_eq!(reg.get("tls").unwrap().name, "tls");
    /// assert!(reg.get("gopher").is_none());
    /// ```
    pub fn get(&self, name: &str) -> Option<&SchemeSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// Every registered scheme, in registration order.
    ///
    /// ```
    /// use strata::endpoint::SchemeRegistry;
    /// let names: Vec<&str> = SchemeRegistry::transports().schemes().map(|s| s.name).collect();
    /// assert_eq!(names, ["tcp", "udp", "unix"]);
    /// ```
    pub fn schemes(&self) -> impl Iterator<Item = &SchemeSpec> {
        self.specs.iter()
    }

    pub(super) fn names(&self) -> Vec<&'static str> {
        self.specs.iter().map(|s| s.name).collect()
    }
}

/// Why [`SchemeRegistry::register`] refused a scheme.
///
/// ```
/// use strata::endpoint::{RegistryError, SchemeRegistry, SchemeSpec};
/// let mut reg = SchemeRegistry::default();
/// assert_eq!(reg.register(SchemeSpec::TCP), Err(RegistryError::Duplicate { name: "tcp" }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is taken.
    #[error("scheme `{name}` is already registered")]
    Duplicate {
        /// The name.
        name: &'static str,
    },
    /// The name is not a lowercase letter followed by `a-z`, `0-9` or `-`.
    #[error("invalid scheme name `{name}`: a lowercase letter, then a-z, 0-9 or `-`")]
    InvalidName {
        /// The name.
        name: &'static str,
    },
    /// A value rule for an option the scheme does not declare.
    #[error("scheme `{name}` bounds the values of `{option}`, which it does not declare")]
    UndeclaredValue {
        /// The scheme.
        name: &'static str,
        /// The key.
        option: &'static str,
    },
    /// Help for an option the scheme does not declare.
    #[error("scheme `{name}` documents `{option}`, which it does not declare")]
    UndeclaredHelp {
        /// The scheme.
        name: &'static str,
        /// The key.
        option: &'static str,
    },
    /// An option key that the query grammar could not express.
    #[error("invalid option key `{option}` for scheme `{name}`: a-z, 0-9, `_`, `-`, `.`")]
    InvalidOption {
        /// The scheme.
        name: &'static str,
        /// The key.
        option: &'static str,
    },
}

fn valid_scheme_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

fn valid_option_key(key: &str) -> bool {
    key == ANY_OPTION
        || (!key.is_empty()
            && key
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.".contains(&c)))
}
