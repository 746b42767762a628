//! Typed parse errors that point at the offending byte.

use std::fmt;

use super::{Family, OptionValue};
use crate::{Fault, LayerError};

/// A parse error: what went wrong and where.
///
/// `pos` is the byte offset of the offending character in `input` (the
/// input's length when something is missing at the end). `Display` prints
/// the message, the input, and a caret under that character:
///
/// ```
/// use strata::endpoint::{Endpoint, EndpointErrorKind};
/// let e = Endpoint::parse("tcp://127.0.0.1:99999").unwrap_err();
/// assert_eq!(e.kind, EndpointErrorKind::BadPort);
/// assert_eq!(e.pos, 16);
/// assert_eq!(
///     e.to_string(),
///     "invalid port: expected 0-65535\n    tcp://127.0.0.1:99999\n                    ^"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointError {
    /// The string that failed to parse.
    pub input: String,
    /// Byte offset of the offending character.
    pub pos: usize,
    /// What went wrong.
    pub kind: EndpointErrorKind,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut pos = self.pos.min(self.input.len());
        while !self.input.is_char_boundary(pos) {
            pos -= 1;
        }
        // One printable char per input char keeps the caret in its column.
        let shown: String = self
            .input
            .chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect();
        let col = self.input[..pos].chars().count();
        writeln!(f, "{}", self.kind)?;
        writeln!(f, "    {shown}")?;
        write!(f, "    {:col$}^", "")
    }
}

impl std::error::Error for EndpointError {}

/// A bad endpoint string is this side's configuration.
///
/// ```
/// use strata::{Fault, LayerError, endpoint::Endpoint};
/// let e = Endpoint::parse("tcp://127.0.0.1:99999").unwrap_err();
/// assert_eq!(e.kind(), Fault::Config);
/// ```
impl LayerError for EndpointError {
    fn kind(&self) -> Fault {
        Fault::Config
    }
}

/// Every way an endpoint string can be wrong.
///
/// ```
/// use strata::endpoint::{Endpoint, EndpointErrorKind, Family};
/// let e = Endpoint::parse("unix+tcp://127.0.0.1:1").unwrap_err();
/// assert_eq!(e.kind, EndpointErrorKind::TransportNotAtBottom { name: "unix".into() });
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointErrorKind {
    /// The string is empty.
    #[error("empty endpoint: expected scheme://target, e.g. tcp://127.0.0.1:8080")]
    Empty,
    /// No `://` after the scheme chain.
    #[error("missing `://` after the scheme, e.g. tcp://127.0.0.1:8080")]
    MissingSeparator,
    /// A character that cannot appear in a scheme name.
    #[error("invalid character {ch:?} in scheme: names are a letter then letters, digits or `-`, joined by `+`")]
    InvalidSchemeChar {
        /// The character.
        ch: char,
    },
    /// An empty name in the chain (`tls++tcp`, `+tcp`, `://`).
    #[error("empty scheme name: `+` goes between two names, e.g. tls+tcp")]
    EmptySchemeSegment,
    /// The registry does not know this scheme.
    #[error("unknown scheme `{name}` (known: {})", list(.known))]
    UnknownScheme {
        /// The scheme as written (lowercased).
        name: String,
        /// The schemes the registry knows.
        known: Vec<&'static str>,
    },
    /// A transport scheme (tcp, udp, unix) that is not last in the chain.
    #[error("`{name}` is a transport: it must be the last scheme of the chain")]
    TransportNotAtBottom {
        /// The transport's name.
        name: String,
    },
    /// A layer scheme at the bottom of the chain, with no transport under it.
    #[error("`{name}` is a layer: it needs a transport scheme after it, e.g. {name}+tcp")]
    LayerAtBottom {
        /// The layer's name.
        name: String,
    },
    /// A layer over something of the wrong family.
    #[error("{layer} needs {} below, {below} gives {}", .needs.noun(), .gives.noun())]
    FamilyMismatch {
        /// The layer that does not fit.
        layer: String,
        /// What it needs below it.
        needs: Family,
        /// The scheme right below it.
        below: String,
        /// What that scheme presents upward.
        gives: Family,
    },
    /// No host before the port.
    #[error("missing host: expected an IPv4 address, [IPv6] or a DNS name")]
    MissingHost,
    /// An IPv6 address written without brackets.
    #[error("IPv6 addresses go in brackets, e.g. tcp://[::1]:8080")]
    Ipv6NeedsBrackets,
    /// A `[` with no matching `]`.
    #[error("unclosed `[`: expected `]` after the IPv6 address")]
    UnclosedBracket,
    /// The text between brackets is not an IPv6 address.
    #[error("invalid IPv6 address")]
    BadIpv6,
    /// An IPv6 zone (`[fe80::1%eth0]`), which endpoints do not carry.
    #[error("IPv6 zone identifiers are not supported: use a global or loopback address")]
    Ipv6Zone,
    /// A host whose last label is numeric but that is not an IPv4 address.
    #[error("invalid IPv4 address")]
    BadIpv4,
    /// A character that cannot appear in a DNS name.
    #[error("invalid character {ch:?} in host name: letters, digits, `-` and `.` only")]
    BadHostChar {
        /// The character.
        ch: char,
    },
    /// An empty label (`a..b`, a leading or trailing dot).
    #[error("empty label in host name")]
    EmptyLabel,
    /// A label over 63 bytes.
    #[error("host name label longer than 63 bytes")]
    LabelTooLong,
    /// A name over 253 bytes.
    #[error("host name longer than 253 bytes")]
    HostTooLong,
    /// A label that starts or ends with `-`.
    #[error("host name label starts or ends with `-`")]
    HyphenAtLabelEdge,
    /// No `:port` after the host.
    #[error("missing port: expected `:` and 0-65535 after the host")]
    MissingPort,
    /// A port that is not a number in 0-65535.
    #[error("invalid port: expected 0-65535")]
    BadPort,
    /// Something other than `?options` after the port.
    #[error("unexpected {ch:?} after the port: only `?layer.key=value` options may follow")]
    TrailingGarbage {
        /// The character.
        ch: char,
    },
    /// A path transport with no path.
    #[error("missing socket path: expected an absolute path, e.g. unix:///run/app.sock")]
    MissingPath,
    /// A path that does not start with `/`.
    #[error("socket path must be absolute: write three slashes, e.g. unix:///run/app.sock")]
    RelativePath,
    /// A path that is not UTF-8 on a platform whose paths must be.
    #[error("socket path is not valid UTF-8 after decoding")]
    PathNotUtf8,
    /// A `%` not followed by two hex digits.
    #[error("bad percent escape: expected `%` and two hex digits")]
    BadEscape,
    /// `%00`: paths and values cannot carry NUL.
    #[error("NUL (`%00`) is not allowed")]
    NulByte,
    /// A raw control character; escape it as `%XX`.
    #[error("control character {ch:?} must be percent-escaped")]
    ControlChar {
        /// The character.
        ch: char,
    },
    /// An option value that is not UTF-8 after decoding.
    #[error("option value is not valid UTF-8 after decoding")]
    ValueNotUtf8,
    /// An empty option (`?&a.b=1`, a trailing `&`, a bare `?`).
    #[error("empty option: expected layer.key=value")]
    EmptyOption,
    /// A character that cannot appear in an option name.
    #[error("invalid character {ch:?} in option name: letters, digits, `.`, `_` and `-` only")]
    InvalidOptionChar {
        /// The character.
        ch: char,
    },
    /// An option name without a `layer.` prefix.
    #[error("option `{name}` needs a layer prefix, e.g. tcp.nodelay=true")]
    OptionWithoutLayer {
        /// The option name as written.
        name: String,
    },
    /// `layer.` with nothing after the dot.
    #[error("empty option key after `.`")]
    EmptyOptionKey,
    /// An option with no `=value`.
    #[error("option `{name}` needs a value: {name}=...")]
    MissingOptionValue {
        /// The option name as written.
        name: String,
    },
    /// An option for a layer that is not in the chain.
    #[error("option for `{layer}`, which is not in the chain ({})", .chain.join("+"))]
    UnknownOptionLayer {
        /// The layer named by the option.
        layer: String,
        /// The chain, top first.
        chain: Vec<String>,
    },
    /// A key the layer does not declare.
    #[error("unknown option `{layer}.{key}` ({})", valid_keys(.layer, .valid))]
    UnknownOptionKey {
        /// The layer.
        layer: String,
        /// The key as written (lowercased).
        key: String,
        /// The keys the layer declares.
        valid: Vec<&'static str>,
    },
    /// A value outside the bounds the option's scheme declares.
    #[error("bad value for `{layer}.{key}`: expected {rule}")]
    BadOptionValue {
        /// The layer.
        layer: String,
        /// The key.
        key: String,
        /// What the option takes.
        rule: OptionValue,
    },
    /// A `#fragment`: endpoints have none.
    #[error("`#` is not allowed in an endpoint (escape it as %23)")]
    Fragment,
}

fn list(names: &[&'static str]) -> String {
    names.join(", ")
}

fn valid_keys(layer: &str, valid: &[&'static str]) -> String {
    if valid.is_empty() {
        format!("{layer} takes no options")
    } else {
        format!("valid: {}", list(valid))
    }
}
