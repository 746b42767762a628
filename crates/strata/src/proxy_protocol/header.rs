//! The PROXY protocol's wire format (HAProxy's `proxy-protocol.txt`): the
//! v1 text line and the v2 binary block, parsed from a prefix of the input
//! and written back. No state machine here: [`parse`] is called again with
//! more bytes until it answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::ProxyError;

/// The 12 bytes every v2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// What every v1 header starts with.
pub const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest v1 header, `\r\n` included (the specification's bound).
pub const V1_MAX_LEN: usize = 107;
/// The fixed part of a v2 header: signature, version and command, family,
/// length.
pub const V2_FIXED_LEN: usize = 16;
/// The largest address block a v2 header carries (two Unix paths of 108
/// bytes): the smallest `max_v2_len` a receiver may be configured with.
pub const V2_MAX_ADDRESS_LEN: usize = 216;

/// Which version of the protocol a header is written in.
///
/// ```
/// use strata::proxy_protocol::ProxyVersion;
/// assert_eq!(ProxyVersion::V2.to_string(), "v2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyVersion {
    /// The human-readable line (`PROXY TCP4 ...\r\n`).
    V1,
    /// The binary block (signature, addresses, TLVs).
    V2,
}

impl std::fmt::Display for ProxyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProxyVersion::V1 => "v1",
            ProxyVersion::V2 => "v2",
        })
    }
}

/// What the proxy says about the connection.
///
/// ```
/// use strata::proxy_protocol::{ProxyAddresses, ProxyCommand};
/// let relayed = ProxyAddresses::Inet {
///     source: "192.0.2.1:5000".parse().unwrap(),
///     destination: "198.51.100.2:443".parse().unwrap(),
/// };
/// assert!(matches!(relayed, ProxyAddresses::Inet { .. }));
/// assert_ne!(ProxyCommand::Local, ProxyCommand::Proxy);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyCommand {
    /// v2 `LOCAL`: the proxy's own connection (a health check); the
    /// addresses of the connection itself stand.
    Local,
    /// The proxy relays a client: the header's addresses are the client's.
    Proxy,
}

/// The addresses a header carries.
///
/// ```
/// use strata::proxy_protocol::{parse, Parsed, ProxyAddresses, Versions};
/// let Ok(Parsed::Complete { header, .. }) =
///     parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 5000 443\r\n", Versions::ANY, 4096) else { panic!() };
/// assert_eq!(header.addresses, ProxyAddresses::Inet {
///     source: "[2001:db8::1]:5000".parse().unwrap(),
///     destination: "[2001:db8::2]:443".parse().unwrap(),
/// });
/// let Ok(Parsed::Complete { header, .. }) = parse(b"PROXY UNKNOWN\r\n", Versions::ANY, 4096) else { panic!() };
/// assert_eq!(header.addresses, ProxyAddresses::Unspecified);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProxyAddresses {
    /// None (v1 `UNKNOWN`, v2 `UNSPEC`, or a `LOCAL` command): the
    /// connection's own addresses stand.
    Unspecified,
    /// TCP or UDP over IPv4 or IPv6: the client (`source`) and the address
    /// it connected to at the proxy (`destination`).
    Inet {
        /// The client.
        source: SocketAddr,
        /// Where the client connected to.
        destination: SocketAddr,
    },
    /// Unix sockets (v2 only): the two paths, NUL padding removed.
    Unix {
        /// The client's path (often empty: unnamed).
        source: Vec<u8>,
        /// The path the client connected to.
        destination: Vec<u8>,
    },
}

/// One type-length-value field of a v2 header.
///
/// ```
/// use strata::proxy_protocol::Tlv;
/// let t = Tlv { kind: Tlv::ALPN, value: b"h2".to_vec() };
/// assert_eq!(t.kind, 0x01);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tlv {
    /// The type byte (`PP2_TYPE_*`).
    pub kind: u8,
    /// The value.
    pub value: Vec<u8>,
}

impl Tlv {
    /// `PP2_TYPE_ALPN`: the application protocol the client chose.
    pub const ALPN: u8 = 0x01;
    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for (SNI).
    pub const AUTHORITY: u8 = 0x02;
    /// `PP2_TYPE_CRC32C`: a checksum of the header.
    pub const CRC32C: u8 = 0x03;
    /// `PP2_TYPE_NOOP`: padding.
    pub const NOOP: u8 = 0x04;
    /// `PP2_TYPE_UNIQUE_ID`: an opaque connection id.
    pub const UNIQUE_ID: u8 = 0x05;
    /// `PP2_TYPE_SSL`: the client's TLS connection to the proxy.
    pub const SSL: u8 = 0x20;
    /// `PP2_SUBTYPE_SSL_VERSION`, inside [`Tlv::SSL`].
    pub const SSL_VERSION: u8 = 0x21;
    /// `PP2_SUBTYPE_SSL_CN`, inside [`Tlv::SSL`].
    pub const SSL_CN: u8 = 0x22;
    /// `PP2_SUBTYPE_SSL_CIPHER`, inside [`Tlv::SSL`].
    pub const SSL_CIPHER: u8 = 0x23;
    /// `PP2_TYPE_NETNS`: the network namespace.
    pub const NETNS: u8 = 0x30;
}

/// A parsed header: also the capability the `proxy` layer answers, so a
/// protocol above can read the TLVs (`t.get::<ProxyHeader>()`).
///
/// ```
/// use strata::proxy_protocol::{parse, Parsed, ProxyAddresses, ProxyVersion, Versions};
/// let Parsed::Complete { header, len } =
///     parse(b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\nGET", Versions::ANY, 4096).unwrap()
/// else { panic!() };
/// assert_eq!(len, 44);
/// assert_eq!(header.version, ProxyVersion::V1);
/// assert_eq!(header.source(), Some("192.0.2.1:5000".parse().unwrap()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProxyHeader {
    /// v1 or v2.
    pub version: ProxyVersion,
    /// `LOCAL` or `PROXY` (v1 is always `PROXY`).
    pub command: ProxyCommand,
    /// The addresses, if the header carries any that apply.
    pub addresses: ProxyAddresses,
    /// v2 TLVs, in order (v1 has none).
    pub tlvs: Vec<Tlv>,
}

/// The SSL TLV of a v2 header, decoded.
///
/// ```
/// use strata::proxy_protocol::SslInfo;
/// let s = SslInfo { client: 1, verify: 0, version: Some("TLSv1.3".into()), cn: None, cipher: None };
/// assert!(s.client_ssl());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SslInfo {
    /// The client bit field (`PP2_CLIENT_SSL` = 1, `CERT_CONN` = 2,
    /// `CERT_SESS` = 4).
    pub client: u8,
    /// Zero when the client's certificate was verified.
    pub verify: u32,
    /// The TLS version the client used, e.g. `TLSv1.3`.
    pub version: Option<String>,
    /// The common name of the client's certificate.
    pub cn: Option<String>,
    /// The cipher suite.
    pub cipher: Option<String>,
}

impl SslInfo {
    /// Whether the client connected over TLS.
    ///
    /// ```
    /// use strata::proxy_protocol::SslInfo;
    /// let plain = SslInfo { client: 0, verify: 0, version: None, cn: None, cipher: None };
    /// assert!(!plain.client_ssl());
    /// let tls = SslInfo { client: 1 | 2, ..plain }; // PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN
    /// assert!(tls.client_ssl());
    /// ```
    pub fn client_ssl(&self) -> bool {
        self.client & 1 != 0
    }
}

impl ProxyHeader {
    /// The client's address, when the header relays an IP connection.
    ///
    /// ```
    /// # use strata::proxy_protocol::{ProxyAddresses, ProxyCommand, ProxyHeader, ProxyVersion, Tlv};
    /// let mut h = ProxyHeader {
    ///     version: ProxyVersion::V2,
    ///     command: ProxyCommand::Proxy,
    ///     addresses: ProxyAddresses::Inet {
    ///         source: "192.0.2.1:5000".parse().unwrap(),
    ///         destination: "198.51.100.2:443".parse().unwrap(),
    ///     },
    ///     tlvs: vec![],
    /// };
    /// assert_eq!(h.source(), Some("192.0.2.1:5000".parse().unwrap()));
    /// h.command = ProxyCommand::Local; // a health check: the addresses do not apply
    /// assert_eq!(h.source(), None);
    /// ```
    pub fn source(&self) -> Option<SocketAddr> {
        match (&self.command, &self.addresses) {
            (ProxyCommand::Proxy, ProxyAddresses::Inet { source, .. }) => Some(*source),
            _ => None,
        }
    }

    /// Where the client connected to, when the header relays an IP
    /// connection.
    ///
    /// ```
    /// use strata::proxy_protocol::{parse, Parsed, Versions};
    /// let Ok(Parsed::Complete { header, .. }) =
    ///     parse(b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\n", Versions::ANY, 4096) else { panic!() };
    /// assert_eq!(header.destination(), Some("198.51.100.2:443".parse().unwrap()));
    /// ```
    pub fn destination(&self) -> Option<SocketAddr> {
        match (&self.command, &self.addresses) {
            (ProxyCommand::Proxy, ProxyAddresses::Inet { destination, .. }) => Some(*destination),
            _ => None,
        }
    }

    /// The value of the first TLV of type `kind`.
    ///
    /// ```
    /// # use strata::proxy_protocol::{ProxyAddresses, ProxyCommand, ProxyHeader, ProxyVersion, Tlv};
    /// let h = ProxyHeader {
    ///     version: ProxyVersion::V2,
    ///     command: ProxyCommand::Proxy,
    ///     addresses: ProxyAddresses::Unspecified,
    ///     tlvs: vec![Tlv { kind: Tlv::UNIQUE_ID, value: b"conn-42".to_vec() }],
    /// };
    /// assert_eq!(h.tlv(Tlv::UNIQUE_ID), Some(&b"conn-42"[..]));
    /// assert_eq!(h.tlv(Tlv::NETNS), None);
    /// ```
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| &t.value[..])
    }

    /// The ALPN TLV: the protocol the client chose with the proxy.
    ///
    /// ```
    /// # use strata::proxy_protocol::{ProxyAddresses, ProxyCommand, ProxyHeader, ProxyVersion, Tlv};
    /// # let h = ProxyHeader {
    /// #     version: ProxyVersion::V2,
    /// #     command: ProxyCommand::Proxy,
    /// #     addresses: ProxyAddresses::Unspecified,
    /// #     tlvs: vec![Tlv { kind: Tlv::ALPN, value: b"h2".to_vec() }],
    /// # };
    /// // h carries an ALPN TLV of "h2"
    /// assert_eq!(h.alpn(), Some(&b"h2"[..]));
    /// ```
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tlv(Tlv::ALPN)
    }

    /// The authority TLV (the SNI the client sent), when it is UTF-8.
    ///
    /// ```
    /// # use strata::proxy_protocol::{ProxyAddresses, ProxyCommand, ProxyHeader, ProxyVersion, Tlv};
    /// # let h = ProxyHeader {
    /// #     version: ProxyVersion::V2,
    /// #     command: ProxyCommand::Proxy,
    /// #     addresses: ProxyAddresses::Unspecified,
    /// #     tlvs: vec![Tlv { kind: Tlv::AUTHORITY, value: b"example.com".to_vec() }],
    /// # };
    /// // h carries an authority TLV of "example.com"
    /// assert_eq!(h.authority(), Some("example.com"));
    /// ```
    pub fn authority(&self) -> Option<&str> {
        self.tlv(Tlv::AUTHORITY)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The SSL TLV, decoded (its sub-TLVs were checked when parsed).
    ///
    /// ```
    /// # use strata::proxy_protocol::{ProxyAddresses, ProxyCommand, ProxyHeader, ProxyVersion, Tlv};
    /// // client bit 1 (TLS), verify 0, then a PP2_SUBTYPE_SSL_VERSION sub-TLV.
    /// let mut ssl = vec![1, 0, 0, 0, 0, Tlv::SSL_VERSION, 0, 7];
    /// ssl.extend_from_slice(b"TLSv1.3");
    /// let h = ProxyHeader {
    ///     version: ProxyVersion::V2,
    ///     command: ProxyCommand::Proxy,
    ///     addresses: ProxyAddresses::Unspecified,
    ///     tlvs: vec![Tlv { kind: Tlv::SSL, value: ssl }],
    /// };
    /// let info = h.ssl().unwrap();
    /// assert!(info.client_ssl());
    /// assert_eq!(info.version.as_deref(), Some("TLSv1.3"));
    /// assert_eq!(info.cn, None);
    /// ```
    pub fn ssl(&self) -> Option<SslInfo> {
        let v = self.tlv(Tlv::SSL)?;
        let client = *v.first()?;
        let verify = u32::from_be_bytes(v.get(1..5)?.try_into().ok()?);
        let mut info = SslInfo {
            client,
            verify,
            version: None,
            cn: None,
            cipher: None,
        };
        for t in tlvs(&v[5..]).ok()? {
            let s = String::from_utf8_lossy(&t.value).into_owned();
            match t.kind {
                Tlv::SSL_VERSION => info.version = Some(s),
                Tlv::SSL_CN => info.cn = Some(s),
                Tlv::SSL_CIPHER => info.cipher = Some(s),
                _ => {}
            }
        }
        Some(info)
    }
}

/// Which versions a receiver accepts.
///
/// ```
/// use strata::proxy_protocol::Versions;
/// let v: Versions = "2".parse().unwrap();
/// assert_eq!(v, Versions::V2_ONLY);
/// assert_eq!("1,2".parse::<Versions>().unwrap(), Versions::ANY);
/// assert!("3".parse::<Versions>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Versions {
    /// Accept the v1 text line.
    pub v1: bool,
    /// Accept the v2 binary block.
    pub v2: bool,
}

impl Versions {
    /// Both (the default): the header says which it is.
    pub const ANY: Versions = Versions { v1: true, v2: true };
    /// v1 only.
    pub const V1_ONLY: Versions = Versions {
        v1: true,
        v2: false,
    };
    /// v2 only.
    pub const V2_ONLY: Versions = Versions {
        v1: false,
        v2: true,
    };
}

impl std::str::FromStr for Versions {
    type Err = String;
    /// `1`, `2`, `1,2` or `2,1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut v = Versions {
            v1: false,
            v2: false,
        };
        for item in s.split(',') {
            match item.trim() {
                "1" => v.v1 = true,
                "2" => v.v2 = true,
                other => return Err(format!("unknown PROXY protocol version {other:?}")),
            }
        }
        Ok(v)
    }
}

/// What [`parse`] found in a prefix of the input.
///
/// ```
/// use strata::proxy_protocol::{parse, Parsed, Versions};
/// let input = b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\nGET / HTTP/1.1\r\n";
/// assert_eq!(parse(&input[..10], Versions::ANY, 4096), Ok(Parsed::Incomplete));
/// match parse(input, Versions::ANY, 4096) {
///     Ok(Parsed::Complete { len, .. }) => assert_eq!(&input[len..], b"GET / HTTP/1.1\r\n"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet, and nothing wrong so far.
    Incomplete,
    /// A whole header, `len` bytes long; what follows is the application's.
    Complete {
        /// The header.
        header: ProxyHeader,
        /// Its length in bytes.
        len: usize,
    },
}

/// Parses the header at the start of `buf`: [`Parsed::Incomplete`] while the
/// bytes so far could still start a valid header, an error as soon as they
/// cannot. `max_v2_len` bounds a v2 header's variable part (addresses and
/// TLVs); a longer one is [`ProxyError::V2TooLong`], so the caller never
/// buffers more than `16 + max_v2_len` bytes (v1: [`V1_MAX_LEN`]).
///
/// ```
/// use strata::proxy_protocol::{parse, Parsed, ProxyError, Versions};
/// assert_eq!(parse(b"PRO", Versions::ANY, 4096), Ok(Parsed::Incomplete));
/// assert_eq!(parse(b"GET / HTTP/1.1\r\n", Versions::ANY, 4096), Err(ProxyError::NotProxy));
/// ```
pub fn parse(buf: &[u8], versions: Versions, max_v2_len: usize) -> Result<Parsed, ProxyError> {
    let v1 = starts(buf, V1_PREFIX);
    let v2 = starts(buf, &V2_SIGNATURE);
    match (v1, v2) {
        (Start::Mismatch, Start::Mismatch) => Err(ProxyError::NotProxy),
        (Start::Match, _) if !versions.v1 => Err(ProxyError::VersionRefused {
            version: ProxyVersion::V1,
        }),
        (_, Start::Match) if !versions.v2 => Err(ProxyError::VersionRefused {
            version: ProxyVersion::V2,
        }),
        (Start::Match, _) => parse_v1(buf),
        (_, Start::Match) => parse_v2(buf, max_v2_len),
        _ => Ok(Parsed::Incomplete),
    }
}

enum Start {
    Match,
    Prefix,
    Mismatch,
}

fn starts(buf: &[u8], sig: &[u8]) -> Start {
    let n = buf.len().min(sig.len());
    if buf[..n] != sig[..n] {
        Start::Mismatch
    } else if n == sig.len() {
        Start::Match
    } else {
        Start::Prefix
    }
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, ProxyError> {
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let crlf = window.windows(2).position(|w| w == b"\r\n");
    // A control byte (a `\r` not followed by `\n` included) can never
    // become part of a valid line: refused as soon as it arrives, so the
    // answer does not depend on how the bytes are cut.
    let line = &window[..crlf.unwrap_or(window.len())];
    let control = line.iter().enumerate().any(|(i, &c)| match c {
        b'\r' => line.get(i + 1).is_some() || crlf.is_some(),
        c => c < 0x20 || c == 0x7f,
    });
    if control {
        return Err(ProxyError::V1Malformed {
            why: "control character in the line",
        });
    }
    let Some(end) = crlf else {
        if window.len() == V1_MAX_LEN {
            return Err(ProxyError::V1TooLong);
        }
        return Ok(Parsed::Incomplete);
    };
    let line = std::str::from_utf8(&buf[V1_PREFIX.len()..end])
        .map_err(|_| ProxyError::V1Malformed { why: "not ASCII" })?;
    let bad = |why| ProxyError::V1Malformed { why };
    let mut f = line.split(' ');
    let proto = f.next().unwrap_or("");
    let addresses = match proto {
        "UNKNOWN" => ProxyAddresses::Unspecified,
        "TCP4" | "TCP6" => {
            let fields: Vec<&str> = f.collect();
            let [src, dst, sport, dport] = fields[..] else {
                return Err(bad("expected 4 fields after TCP4/TCP6"));
            };
            let ip = |s: &str| -> Result<IpAddr, ProxyError> {
                if proto == "TCP4" {
                    s.parse::<Ipv4Addr>()
                        .map(IpAddr::V4)
                        .map_err(|_| bad("bad IPv4 address"))
                } else {
                    s.parse::<Ipv6Addr>()
                        .map(IpAddr::V6)
                        .map_err(|_| bad("bad IPv6 address"))
                }
            };
            ProxyAddresses::Inet {
                source: SocketAddr::new(ip(src)?, port(sport)?),
                destination: SocketAddr::new(ip(dst)?, port(dport)?),
            }
        }
        _ => return Err(bad("protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    Ok(Parsed::Complete {
        header: ProxyHeader {
            version: ProxyVersion::V1,
            command: ProxyCommand::Proxy,
            addresses,
            tlvs: Vec::new(),
        },
        len: end + 2,
    })
}

fn port(s: &str) -> Result<u16, ProxyError> {
    let ok = !s.is_empty() && s.len() <= 5 && s.bytes().all(|c| c.is_ascii_digit());
    ok.then(|| s.parse().ok())
        .flatten()
        .ok_or(ProxyError::V1Malformed { why: "bad port" })
}

fn parse_v2(buf: &[u8], max_v2_len: usize) -> Result<Parsed, ProxyError> {
    if buf.len() < V2_FIXED_LEN {
        // Check what has arrived of the version byte early.
        if let Some(&vc) = buf.get(12) {
            check_ver_cmd(vc)?;
        }
        return Ok(Parsed::Incomplete);
    }
    let command = check_ver_cmd(buf[12])?;
    let fam = buf[13];
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if len > max_v2_len {
        return Err(ProxyError::V2TooLong {
            len,
            max: max_v2_len,
        });
    }
    let Some(body) = buf.get(V2_FIXED_LEN..V2_FIXED_LEN + len) else {
        return Ok(Parsed::Incomplete);
    };
    let (addr_len, family) = match fam >> 4 {
        0 => (0, Family::Unspec),
        1 => (12, Family::Inet4),
        2 => (36, Family::Inet6),
        3 => (216, Family::Unix),
        _ => return Err(ProxyError::V2BadFamily { byte: fam }),
    };
    if fam & 0x0f > 2 {
        return Err(ProxyError::V2BadFamily { byte: fam });
    }
    if body.len() < addr_len {
        return Err(ProxyError::V2AddressesTooShort {
            family: fam,
            len: body.len(),
        });
    }
    let (a, rest) = body.split_at(addr_len);
    let addresses = match family {
        Family::Unspec => ProxyAddresses::Unspecified,
        Family::Inet4 => {
            let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]));
            ProxyAddresses::Inet {
                source: SocketAddr::new(ip(0), be16(a, 8)),
                destination: SocketAddr::new(ip(4), be16(a, 10)),
            }
        }
        Family::Inet6 => {
            let ip = |o: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&a[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(b))
            };
            ProxyAddresses::Inet {
                source: SocketAddr::new(ip(0), be16(a, 32)),
                destination: SocketAddr::new(ip(16), be16(a, 34)),
            }
        }
        Family::Unix => {
            let path = |p: &[u8]| p.iter().take_while(|&&c| c != 0).copied().collect();
            ProxyAddresses::Unix {
                source: path(&a[..108]),
                destination: path(&a[108..]),
            }
        }
    };
    let tlvs = tlvs(rest)?;
    if let Some(ssl) = tlvs.iter().find(|t| t.kind == Tlv::SSL) {
        if ssl.value.len() < 5 {
            return Err(ProxyError::V2BadTlv {
                why: "SSL TLV shorter than 5 bytes",
            });
        }
        self::tlvs(&ssl.value[5..])?;
    }
    let addresses = match command {
        ProxyCommand::Local => ProxyAddresses::Unspecified,
        ProxyCommand::Proxy => addresses,
    };
    Ok(Parsed::Complete {
        header: ProxyHeader {
            version: ProxyVersion::V2,
            command,
            addresses,
            tlvs,
        },
        len: V2_FIXED_LEN + len,
    })
}

enum Family {
    Unspec,
    Inet4,
    Inet6,
    Unix,
}

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

fn check_ver_cmd(vc: u8) -> Result<ProxyCommand, ProxyError> {
    if vc >> 4 != 2 {
        return Err(ProxyError::V2BadVersion { byte: vc });
    }
    match vc & 0x0f {
        0 => Ok(ProxyCommand::Local),
        1 => Ok(ProxyCommand::Proxy),
        _ => Err(ProxyError::V2BadCommand { byte: vc }),
    }
}

/// Splits a TLV block; every TLV must fit whole.
fn tlvs(mut b: &[u8]) -> Result<Vec<Tlv>, ProxyError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 3 {
            return Err(ProxyError::V2BadTlv {
                why: "TLV header cut short",
            });
        }
        let n = usize::from(be16(b, 1));
        let Some(value) = b.get(3..3 + n) else {
            return Err(ProxyError::V2BadTlv {
                why: "TLV longer than the header",
            });
        };
        out.push(Tlv {
            kind: b[0],
            value: value.to_vec(),
        });
        b = &b[3 + n..];
    }
    Ok(out)
}

/// Writes a v1 header for a client at `source` that connected to
/// `destination` (`UNKNOWN` when the two are not both IPv4 or both IPv6).
///
/// ```
/// use strata::proxy_protocol::encode_v1;
/// let h = encode_v1(Some(("192.0.2.1:5000".parse().unwrap(), "198.51.100.2:443".parse().unwrap())));
/// assert_eq!(h, b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\n");
/// assert_eq!(encode_v1(None), b"PROXY UNKNOWN\r\n");
/// ```
pub fn encode_v1(addrs: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    let line = match addrs.map(|(s, d)| (unmap(s), unmap(d))) {
        Some((s @ SocketAddr::V4(_), d @ SocketAddr::V4(_))) => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        ),
        Some((s @ SocketAddr::V6(_), d @ SocketAddr::V6(_))) => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        ),
        _ => "PROXY UNKNOWN\r\n".to_owned(),
    };
    line.into_bytes()
}

/// Writes a v2 `PROXY` header over TCP for a client at `source` that
/// connected to `destination` (`LOCAL` with no addresses when `None`, or
/// when the two are not of one family), followed by `tlvs`.
///
/// ```
/// use strata::proxy_protocol::{encode_v2, parse, Parsed, Versions};
/// let s = "[2001:db8::1]:5000".parse().unwrap();
/// let d = "[2001:db8::2]:443".parse().unwrap();
/// let h = encode_v2(Some((s, d)), &[]);
/// assert_eq!(h.len(), 16 + 36);
/// let Ok(Parsed::Complete { header, .. }) = parse(&h, Versions::ANY, 4096) else { panic!() };
/// assert_eq!(header.source(), Some(s));
/// ```
pub fn encode_v2(addrs: Option<(SocketAddr, SocketAddr)>, tlvs: &[Tlv]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    let mut body = Vec::new();
    let (cmd, fam) = match addrs.map(|(s, d)| (unmap(s), unmap(d))) {
        Some((SocketAddr::V4(s), SocketAddr::V4(d))) => {
            body.extend_from_slice(&s.ip().octets());
            body.extend_from_slice(&d.ip().octets());
            body.extend_from_slice(&s.port().to_be_bytes());
            body.extend_from_slice(&d.port().to_be_bytes());
            (0x21, 0x11)
        }
        Some((SocketAddr::V6(s), SocketAddr::V6(d))) => {
            body.extend_from_slice(&s.ip().octets());
            body.extend_from_slice(&d.ip().octets());
            body.extend_from_slice(&s.port().to_be_bytes());
            body.extend_from_slice(&d.port().to_be_bytes());
            (0x21, 0x21)
        }
        _ => (0x20, 0x00),
    };
    for t in tlvs {
        // A TLV value over 64 KiB cannot be written; callers pass short ones.
        let n = u16::try_from(t.value.len()).unwrap_or(u16::MAX);
        body.push(t.kind);
        body.extend_from_slice(&n.to_be_bytes());
        body.extend_from_slice(&t.value[..usize::from(n)]);
    }
    out.push(cmd);
    out.push(fam);
    let n = u16::try_from(body.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&body[..usize::from(n)]);
    out
}

/// An IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4
/// client) written as the IPv4 address it is.
fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}
