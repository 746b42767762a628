//! Endpoint strings: URL-shaped descriptions of a stack.
//!
//! ```text
//! tcp://127.0.0.1:8080            tcp://[::1]:8080         tcp://localhost:8080
//! udp://127.0.0.1:5353            unix:///run/app.sock
//! tls+tcp://example.net:443?tls.alpn=h2,http/1.1
//! tls+reliable+udp://10.0.0.1:4433
//! ```
//!
//! The scheme chain names the layers top first, the transport last
//! (`tls+tcp`: TLS over TCP). The target is `host:port` or an absolute path,
//! depending on the transport. The query carries per-layer options
//! (`layer.key=value`, joined with `&`, values percent-decoded).
//!
//! Parsing is sans-IO: no name is resolved, no socket opened. A
//! [`SchemeRegistry`] says which names exist, whether each is a transport
//! or a layer, which family (stream or datagram) it needs below and gives
//! above, and which options it takes; layers register their own scheme, so
//! the parser never changes when a layer is added. Errors are typed
//! ([`EndpointErrorKind`]) and point at the offending byte.
//!
//! The full grammar, every scheme and option, and the error list are in
//! `docs/endpoints.md`.
//!
//! ```
//! use std::net::{IpAddr, Ipv6Addr};
//! use strata::endpoint::{Endpoint, Host, Target};
//! let ep: Endpoint = "tcp://[::1]:8080?tcp.nodelay=false".parse().unwrap();
//! assert_eq!(ep.transport(), "tcp");
//! assert_eq!(ep.target, Target::Host { host: Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), port: 8080 });
//! assert_eq!(ep.option("tcp", "nodelay"), Some("false"));
//! assert_eq!(ep.to_string(), "tcp://[::1]:8080?tcp.nodelay=false");
//! ```

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

mod error;
mod escape;
mod grammar;
mod registry;
mod value;

pub use error::{EndpointError, EndpointErrorKind};
pub use grammar::{MAX_HOST_LEN, MAX_LABEL_LEN};
pub use registry::{
    OptionHelp, RegistryError, SchemeKind, SchemeRegistry, SchemeSpec, TargetKind, ANY_OPTION,
    BACKLOG_MAX, SOCKET_BUFFER_MAX, SOCKET_BUFFER_MIN,
};
pub use value::OptionValue;

/// A parsed endpoint: the layer chain, the target, and the options.
///
/// `parse(e.to_string()) == e` for every parsed `e`: [`Display`](fmt::Display)
/// writes the canonical form (lowercase schemes, host names and option
/// names; escapes only where needed).
///
/// ```
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse("unix:///tmp/my%20app.sock").unwrap();
/// assert_eq!(ep.transport(), "unix");
/// assert_eq!(ep.to_string(), "unix:///tmp/my%20app.sock");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Scheme names, top first: `tls+tcp` gives `["tls", "tcp"]`. Never empty
    /// once parsed; the last one is the transport.
    pub layers: Vec<String>,
    /// Where the transport goes.
    pub target: Target,
    /// The query's options, in order (later ones override earlier ones).
    pub options: Vec<LayerOption>,
}

/// Where a transport connects or listens.
///
/// ```
/// use strata::endpoint::{Host, Target};
/// let t = Target::Host { host: Host::Name("localhost".into()), port: 80 };
/// assert_eq!(t.to_string(), "localhost:80");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A host and port (tcp, udp).
    Host {
        /// The host.
        host: Host,
        /// The port (0 asks the system to pick one when listening).
        port: u16,
    },
    /// A filesystem path (unix), absolute.
    Path(PathBuf),
}

/// A host: an address, or a name for the driver to resolve.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use strata::endpoint::Host;
/// assert_eq!(Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)).to_string(), "127.0.0.1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name, lowercased (letters, digits, `-`, dots).
    Name(String),
}

/// One `layer.key=value` option of the query, value decoded.
///
/// ```
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse("tcp://h:1?tcp.backlog=64").unwrap();
/// assert_eq!((ep.options[0].layer.as_str(), ep.options[0].key.as_str()), ("tcp", "backlog"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LayerOption {
    /// The layer (a name in the chain), lowercased.
    pub layer: String,
    /// The key, lowercased.
    pub key: String,
    /// The decoded value (may be empty).
    pub value: String,
}

/// The two transport families, which never mix without a mapping layer.
///
/// ```
/// use strata::endpoint::{Endpoint, Family, SchemeRegistry};
/// let ep = Endpoint::parse("udp://127.0.0.1:5353").unwrap();
/// assert_eq!(ep.family(&SchemeRegistry::default()), Family::Datagram);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Ordered, reliable bytes.
    Stream,
    /// Whole messages that may be lost or reordered.
    Datagram,
}

impl Family {
    /// "a stream" or "datagrams", for messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Family::Stream => "a stream",
            Family::Datagram => "datagrams",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Stream => "stream",
            Family::Datagram => "datagram",
        })
    }
}

impl Endpoint {
    /// Parses with the default registry: every built-in scheme (`tcp`,
    /// `udp`, `unix`, `tls`, `reliable`).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tls+reliable+tcp://localhost:443?tls.alpn=h2").unwrap();
    /// assert_eq!(ep.layers, ["tls", "reliable", "tcp"]);
    /// ```
    pub fn parse(s: &str) -> Result<Endpoint, EndpointError> {
        Self::parse_with(s, &SchemeRegistry::default())
    }

    /// Parses with the schemes of `reg`.
    ///
    /// ```
    /// use strata::endpoint::{Endpoint, SchemeRegistry};
    /// let reg = SchemeRegistry::transports(); // tcp, udp and unix only
    /// assert!(Endpoint::parse_with("tcp://127.0.0.1:80", &reg).is_ok());
    /// assert!(Endpoint::parse_with("tls+tcp://127.0.0.1:443", &reg).is_err());
    /// ```
    pub fn parse_with(s: &str, reg: &SchemeRegistry) -> Result<Endpoint, EndpointError> {
        grammar::parse(s, reg)
    }

    /// The bottom scheme, the one the driver opens: `"tcp"`, `"udp"`, `"unix"`.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tls+tcp://example.com:443").unwrap();
    /// assert_eq!(ep.transport(), "tcp");
    /// ```
    pub fn transport(&self) -> &str {
        self.layers.last().map_or("", String::as_str)
    }

    /// The value of `layer.key`; when given more than once, the last one wins.
    /// Names compare case-insensitively.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tcp://h:1?tcp.backlog=100&TCP.Backlog=200").unwrap();
    /// assert_eq!(ep.option("tcp", "backlog"), Some("200")); // the last one wins
    /// assert_eq!(ep.option("tcp", "nodelay"), None);
    /// ```
    pub fn option(&self, layer: &str, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|o| o.layer.eq_ignore_ascii_case(layer) && o.key.eq_ignore_ascii_case(key))
            .map(|o| o.value.as_str())
    }

    /// [`option`](Endpoint::option) parsed as `T` (`bool` takes `true` or
    /// `false`, numbers are decimal).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tcp://h:1?tcp.backlog=300&tcp.nodelay=true").unwrap();
    /// assert_eq!(ep.option_as::<u32>("tcp", "backlog").unwrap(), Some(300));
    /// assert_eq!(ep.option_as::<bool>("tcp", "reuseport").unwrap(), None);
    /// let e = ep.option_as::<u8>("tcp", "backlog").unwrap_err();
    /// assert_eq!(e.to_string(), "option tcp.backlog=300: number too large to fit in target type");
    /// ```
    pub fn option_as<T>(&self, layer: &str, key: &str) -> Result<Option<T>, OptionValueError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let Some(v) = self.option(layer, key) else {
            return Ok(None);
        };
        v.parse().map(Some).map_err(|e: T::Err| OptionValueError {
            layer: layer.to_owned(),
            key: key.to_owned(),
            value: v.to_owned(),
            reason: e.to_string(),
        })
    }

    /// What the top of the chain presents upward, by `reg`: `udp` gives
    /// datagrams, `reliable+udp` a stream. Schemes `reg` does not know are
    /// taken as pass-through (a chain of unknown schemes counts as a stream);
    /// use the registry the endpoint was parsed with.
    ///
    /// ```
    /// use strata::endpoint::{Endpoint, Family, SchemeRegistry};
    /// let reg = SchemeRegistry::default();
    /// assert_eq!(Endpoint::parse("udp://h:1").unwrap().family(&reg), Family::Datagram);
    /// assert_eq!(Endpoint::parse("reliable+udp://h:1").unwrap().family(&reg), Family::Stream);
    /// ```
    pub fn family(&self, reg: &SchemeRegistry) -> Family {
        self.layers
            .iter()
            .find_map(|l| reg.get(l))
            .map_or(Family::Stream, |s| s.kind.above())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.layers.join("+"), self.target)?;
        for (i, o) in self.options.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{}.{}=", o.layer, o.key)?;
            escape::encode(f, o.value.as_bytes(), escape::VALUE_RESERVED)?;
        }
        Ok(())
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Host {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            } => write!(f, "[{ip}]:{port}"),
            Target::Host { host, port } => write!(f, "{host}:{port}"),
            Target::Path(p) => escape::encode(f, &path_bytes(p), escape::PATH_RESERVED),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

#[cfg(unix)]
fn path_bytes(p: &std::path::Path) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().into()
}

#[cfg(not(unix))]
fn path_bytes(p: &std::path::Path) -> std::borrow::Cow<'_, [u8]> {
    match p.to_string_lossy() {
        std::borrow::Cow::Borrowed(s) => s.as_bytes().into(),
        std::borrow::Cow::Owned(s) => s.into_bytes().into(),
    }
}

/// An option whose value does not parse as the type asked for.
///
/// ```
/// use strata::endpoint::Endpoint;
/// let ep = Endpoint::parse("tcp://h:1?tcp.backlog=64").unwrap();
/// assert!(ep.option_as::<bool>("tcp", "backlog").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("option {layer}.{key}={value}: {reason}")]
pub struct OptionValueError {
    /// The layer.
    pub layer: String,
    /// The key.
    pub key: String,
    /// The value as given.
    pub value: String,
    /// Why it did not parse.
    pub reason: String,
}
