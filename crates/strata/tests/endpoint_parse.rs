//! Endpoint strings: every example of the grammar, every error with its
//! exact position, and the canonical form's round trip.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use strata::endpoint::{
    Endpoint, EndpointErrorKind as K, Family, Host, LayerOption, OptionValue, RegistryError,
    SchemeKind, SchemeRegistry, SchemeSpec, Target, ANY_OPTION, SOCKET_BUFFER_MAX,
    SOCKET_BUFFER_MIN,
};

const TLS: SchemeSpec = SchemeSpec {
    name: "tls",
    kind: SchemeKind::Layer {
        below: Family::Stream,
        above: Family::Stream,
    },
    options: &["alpn", "sni", "verify"],
    values: &[],
    help: &[],
};
const RELIABLE: SchemeSpec = SchemeSpec {
    name: "reliable",
    kind: SchemeKind::Layer {
        below: Family::Datagram,
        above: Family::Stream,
    },
    options: &[ANY_OPTION],
    values: &[],
    help: &[],
};
const QUIC: SchemeSpec = SchemeSpec {
    name: "quic",
    kind: SchemeKind::Layer {
        below: Family::Datagram,
        above: Family::Stream,
    },
    options: &["alpn"],
    values: &[],
    help: &[],
};

/// The default registry plus the layers that register later, added the way
/// those layers will: without touching the parser.
fn layered() -> SchemeRegistry {
    let mut reg = SchemeRegistry::transports();
    for spec in [TLS, RELIABLE, QUIC] {
        reg.register(spec).unwrap();
    }
    reg
}

fn ip(s: &str) -> Host {
    Host::Ip(s.parse::<IpAddr>().unwrap())
}

fn hp(host: Host, port: u16) -> Target {
    Target::Host { host, port }
}

fn opt(layer: &str, key: &str, value: &str) -> LayerOption {
    LayerOption {
        layer: layer.into(),
        key: key.into(),
        value: value.into(),
    }
}

#[test]
fn every_example_parses() {
    let reg = layered();
    let name = |n: &str| Host::Name(n.into());
    let cases: Vec<(&str, &[&str], Target, Vec<LayerOption>)> = vec![
        (
            "tcp://127.0.0.1:8080",
            &["tcp"],
            hp(ip("127.0.0.1"), 8080),
            vec![],
        ),
        ("tcp://[::1]:8080", &["tcp"], hp(ip("::1"), 8080), vec![]),
        (
            "tcp://localhost:8080",
            &["tcp"],
            hp(name("localhost"), 8080),
            vec![],
        ),
        (
            "udp://127.0.0.1:5353",
            &["udp"],
            hp(ip("127.0.0.1"), 5353),
            vec![],
        ),
        (
            "unix:///path/to.sock",
            &["unix"],
            Target::Path("/path/to.sock".into()),
            vec![],
        ),
        (
            "tls+tcp://h:1?tls.alpn=h2,http/1.1",
            &["tls", "tcp"],
            hp(name("h"), 1),
            vec![opt("tls", "alpn", "h2,http/1.1")],
        ),
        (
            "reliable+udp://127.0.0.1:9000",
            &["reliable", "udp"],
            hp(ip("127.0.0.1"), 9000),
            vec![],
        ),
        (
            "tls+reliable+udp://127.0.0.1:1?tls.alpn=h2",
            &["tls", "reliable", "udp"],
            hp(ip("127.0.0.1"), 1),
            vec![opt("tls", "alpn", "h2")],
        ),
        (
            "quic+udp://[::1]:443?quic.alpn=h3",
            &["quic", "udp"],
            hp(ip("::1"), 443),
            vec![opt("quic", "alpn", "h3")],
        ),
        (
            "tls+unix:///p",
            &["tls", "unix"],
            Target::Path("/p".into()),
            vec![],
        ),
        (
            "tls+tls+tcp://a.example:443",
            &["tls", "tls", "tcp"],
            hp(name("a.example"), 443),
            vec![],
        ),
        // Case-insensitive names are canonicalised to lowercase.
        (
            "TCP://LocalHost:80?TCP.NoDelay=true",
            &["tcp"],
            hp(name("localhost"), 80),
            vec![opt("tcp", "nodelay", "true")],
        ),
        ("tcp://0.0.0.0:0", &["tcp"], hp(ip("0.0.0.0"), 0), vec![]),
        ("tcp://[::]:65535", &["tcp"], hp(ip("::"), 65535), vec![]),
        (
            "tcp://[::ffff:1.2.3.4]:7",
            &["tcp"],
            hp(ip("::ffff:1.2.3.4"), 7),
            vec![],
        ),
        (
            "tcp://xn--bcher-kva.example:1",
            &["tcp"],
            hp(name("xn--bcher-kva.example"), 1),
            vec![],
        ),
        (
            "unix:///tmp/a%20b%3Fc.sock",
            &["unix"],
            Target::Path("/tmp/a b?c.sock".into()),
            vec![],
        ),
    ];
    for (input, layers, target, options) in cases {
        let ep = Endpoint::parse_with(input, &reg).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(ep.layers, layers, "{input}");
        assert_eq!(ep.target, target, "{input}");
        assert_eq!(ep.options, options, "{input}");
    }
}

#[test]
fn percent_escapes_decode_in_paths_and_values() {
    let ep = Endpoint::parse("unix:///tmp/a%20b%3Fc%23.sock").unwrap();
    assert_eq!(ep.target, Target::Path(PathBuf::from("/tmp/a b?c#.sock")));
    let ep =
        Endpoint::parse_with("tls+tcp://h:1?tls.sni=a%26b&tls.alpn=x%3Dy=z+w", &layered()).unwrap();
    assert_eq!(ep.option("tls", "sni"), Some("a&b"));
    // `=` after the first is literal; `+` is not a space.
    assert_eq!(ep.option("tls", "alpn"), Some("x=y=z+w"));
    // A literal non-ASCII character and its escaped form decode alike.
    let a = Endpoint::parse("unix:///tmp/é").unwrap();
    let b = Endpoint::parse("unix:///tmp/%C3%A9").unwrap();
    assert_eq!(a, b);
}

#[test]
fn options_last_one_wins_and_parse_typed() {
    let ep = Endpoint::parse("tcp://h:1?tcp.backlog=8&tcp.nodelay=false&tcp.backlog=16").unwrap();
    assert_eq!(ep.options.len(), 3, "every option is kept, in order");
    assert_eq!(ep.option("tcp", "backlog"), Some("16"));
    assert_eq!(ep.option_as::<u32>("tcp", "backlog").unwrap(), Some(16));
    assert_eq!(ep.option_as::<bool>("tcp", "nodelay").unwrap(), Some(false));
    assert_eq!(ep.option("tcp", "reuseport"), None);
    assert_eq!(ep.option("udp", "backlog"), None);
}

#[test]
fn transport_and_family() {
    let reg = layered();
    let fam = |s: &str| Endpoint::parse_with(s, &reg).unwrap().family(&reg);
    let bottom = |s: &str| {
        Endpoint::parse_with(s, &reg)
            .unwrap()
            .transport()
            .to_owned()
    };
    assert_eq!(fam("tcp://h:1"), Family::Stream);
    assert_eq!(fam("udp://h:1"), Family::Datagram);
    assert_eq!(fam("unix:///x"), Family::Stream);
    assert_eq!(fam("reliable+udp://h:1"), Family::Stream);
    assert_eq!(fam("tls+reliable+udp://h:1"), Family::Stream);
    assert_eq!(bottom("tls+reliable+udp://h:1"), "udp");
    assert_eq!(bottom("tls+unix:///p"), "unix");
    // Asked of a registry that lacks the upper layers, the answer comes
    // from the highest scheme it knows.
    let ep = Endpoint::parse_with("reliable+udp://h:1", &reg).unwrap();
    assert_eq!(ep.family(&SchemeRegistry::transports()), Family::Datagram);
}

#[test]
fn a_layer_registers_without_touching_the_parser() {
    let mut reg = SchemeRegistry::transports();
    assert!(Endpoint::parse_with("tls+reliable+udp://127.0.0.1:1?tls.alpn=h2", &reg).is_err());
    reg.register(TLS).unwrap();
    reg.register(RELIABLE).unwrap();
    let ep = Endpoint::parse_with("tls+reliable+udp://127.0.0.1:1?tls.alpn=h2", &reg).unwrap();
    assert_eq!(ep.layers, ["tls", "reliable", "udp"]);
    assert_eq!(ep.target, hp(Host::Ip(Ipv4Addr::LOCALHOST.into()), 1));
    assert_eq!(ep.option("tls", "alpn"), Some("h2"));
    // A layer declaring ANY_OPTION takes every key.
    let ep = Endpoint::parse_with("reliable+udp://h:1?reliable.window=64", &reg).unwrap();
    assert_eq!(ep.option("reliable", "window"), Some("64"));

    assert_eq!(
        reg.register(TLS),
        Err(RegistryError::Duplicate { name: "tls" })
    );
    let bad = SchemeSpec { name: "Tls", ..TLS };
    assert_eq!(
        reg.register(bad),
        Err(RegistryError::InvalidName { name: "Tls" })
    );
    let bad = SchemeSpec { name: "x+y", ..TLS };
    assert!(matches!(
        reg.register(bad),
        Err(RegistryError::InvalidName { .. })
    ));
    let bad = SchemeSpec {
        name: "zz",
        options: &["a=b"],
        ..TLS
    };
    assert!(matches!(
        reg.register(bad),
        Err(RegistryError::InvalidOption { .. })
    ));
    assert!(reg.get("zz").is_none());

    let empty = SchemeRegistry::empty();
    let e = Endpoint::parse_with("tcp://h:1", &empty).unwrap_err();
    assert_eq!(
        e.kind,
        K::UnknownScheme {
            name: "tcp".into(),
            known: vec![]
        }
    );
}

#[test]
fn ipv6_zones_are_rejected_with_their_position() {
    let e = Endpoint::parse("tcp://[fe80::1%25eth0]:80").unwrap_err();
    assert_eq!((e.pos, e.kind), (14, K::Ipv6Zone));
    let e = Endpoint::parse("tcp://[fe80::1%eth0]:80").unwrap_err();
    assert_eq!((e.pos, e.kind), (14, K::Ipv6Zone));
}

#[test]
fn every_error_points_at_its_byte() {
    let reg = layered();
    let long_label = format!("tcp://{}.com:1", "a".repeat(64));
    let long_host = format!("tcp://{}:1", vec!["a".repeat(63); 4].join("."));
    let cases: Vec<(&str, usize, K)> = vec![
        ("", 0, K::Empty),
        ("tcp:127.0.0.1:80", 3, K::MissingSeparator),
        ("tcp", 3, K::MissingSeparator),
        ("127.0.0.1:80", 3, K::MissingSeparator),
        ("tc_p://h:1", 2, K::InvalidSchemeChar { ch: '_' }),
        ("1tcp://h:1", 0, K::InvalidSchemeChar { ch: '1' }),
        ("://h:1", 0, K::EmptySchemeSegment),
        ("tls++tcp://h:1", 4, K::EmptySchemeSegment),
        ("tls+://h:1", 4, K::EmptySchemeSegment),
        (
            "tls+tcpp://h:1",
            4,
            K::UnknownScheme {
                name: "tcpp".into(),
                known: vec!["tcp", "udp", "unix", "tls", "reliable", "quic"],
            },
        ),
        (
            "tcp+tls://h:1",
            0,
            K::TransportNotAtBottom { name: "tcp".into() },
        ),
        (
            "tls+udp+tcp://h:1",
            4,
            K::TransportNotAtBottom { name: "udp".into() },
        ),
        (
            "tcp+tls://h:1",
            0,
            K::TransportNotAtBottom { name: "tcp".into() },
        ),
        ("tls://h:1", 0, K::LayerAtBottom { name: "tls".into() }),
        (
            "tls+udp://h:1",
            0,
            K::FamilyMismatch {
                layer: "tls".into(),
                needs: Family::Stream,
                below: "udp".into(),
                gives: Family::Datagram,
            },
        ),
        (
            "tls+reliable+tcp://h:1",
            4,
            K::FamilyMismatch {
                layer: "reliable".into(),
                needs: Family::Datagram,
                below: "tcp".into(),
                gives: Family::Stream,
            },
        ),
        ("tcp://:80", 6, K::MissingHost),
        ("tcp://", 6, K::MissingHost),
        ("tcp://::1:80", 6, K::Ipv6NeedsBrackets),
        ("tcp://[::1:80", 6, K::UnclosedBracket),
        ("tcp://[::1?x]:80", 6, K::UnclosedBracket),
        ("tcp://[::g]:80", 7, K::BadIpv6),
        ("tcp://[1.2.3.4]:80", 7, K::BadIpv6),
        ("tcp://[fe80::1%eth0]:80", 14, K::Ipv6Zone),
        ("tcp://1.2.3.256:80", 6, K::BadIpv4),
        ("tcp://1.2.3:80", 6, K::BadIpv4),
        ("tcp://01.2.3.4:80", 6, K::BadIpv4),
        ("tcp://exa_mple.com:80", 9, K::BadHostChar { ch: '_' }),
        ("tcp://user@h:80", 10, K::BadHostChar { ch: '@' }),
        ("tcp://h/x:80", 7, K::BadHostChar { ch: '/' }),
        ("tcp://hé:80", 7, K::BadHostChar { ch: 'é' }),
        ("tcp://a..b:80", 8, K::EmptyLabel),
        ("tcp://.a:80", 6, K::EmptyLabel),
        ("tcp://a.:80", 8, K::EmptyLabel),
        (long_label.as_str(), 69, K::LabelTooLong),
        (long_host.as_str(), 259, K::HostTooLong),
        ("tcp://-a.com:80", 6, K::HyphenAtLabelEdge),
        ("tcp://a-.com:80", 7, K::HyphenAtLabelEdge),
        ("tcp://127.0.0.1", 15, K::MissingPort),
        ("tcp://127.0.0.1:", 16, K::MissingPort),
        ("tcp://h:?tcp.nodelay=true", 8, K::MissingPort),
        ("tcp://[::1]", 11, K::MissingPort),
        ("tcp://[::1]80", 11, K::MissingPort),
        ("tcp://127.0.0.1:99999", 16, K::BadPort),
        ("tcp://127.0.0.1:65536", 16, K::BadPort),
        ("tcp://h:x", 8, K::BadPort),
        ("tcp://h:-1", 8, K::BadPort),
        ("tcp://h:80x", 10, K::TrailingGarbage { ch: 'x' }),
        ("tcp://h:80/", 10, K::TrailingGarbage { ch: '/' }),
        ("unix://", 7, K::MissingPath),
        ("unix://?x.y=1", 7, K::MissingPath),
        ("unix://tmp/x.sock", 7, K::RelativePath),
        ("unix:///tmp/%4", 12, K::BadEscape),
        ("unix:///tmp/%g0", 12, K::BadEscape),
        ("unix:///tmp/a%00b", 13, K::NulByte),
        ("unix:///tmp/a\nb", 13, K::ControlChar { ch: '\n' }),
        ("tcp://h:1?tcp.backlog=1%", 23, K::BadEscape),
        ("tcp://h:1?tcp.backlog=ok%FFx", 24, K::ValueNotUtf8),
        ("tcp://h:1?", 10, K::EmptyOption),
        ("tcp://h:1?tcp.nodelay=true&", 27, K::EmptyOption),
        ("tcp://h:1?&tcp.nodelay=true", 10, K::EmptyOption),
        (
            "tcp://h:1?tcp.no delay=1",
            16,
            K::InvalidOptionChar { ch: ' ' },
        ),
        (
            "tcp://h:1?nodelay=true",
            10,
            K::OptionWithoutLayer {
                name: "nodelay".into(),
            },
        ),
        (
            "tcp://h:1?.nodelay=true",
            10,
            K::OptionWithoutLayer {
                name: ".nodelay".into(),
            },
        ),
        ("tcp://h:1?tcp.=1", 14, K::EmptyOptionKey),
        (
            "tcp://h:1?tcp.nodelay",
            21,
            K::MissingOptionValue {
                name: "tcp.nodelay".into(),
            },
        ),
        (
            "tcp://h:1?tls.alpn=h2",
            10,
            K::UnknownOptionLayer {
                layer: "tls".into(),
                chain: vec!["tcp".into()],
            },
        ),
        (
            "tcp://h:1?tcp.nodelay=true&tcp.nodealy=true",
            31,
            K::UnknownOptionKey {
                layer: "tcp".into(),
                key: "nodealy".into(),
                valid: vec!["nodelay", "reuseport", "backlog", "sndbuf", "rcvbuf"],
            },
        ),
        (
            "unix:///x?unix.mode=600",
            15,
            K::UnknownOptionKey {
                layer: "unix".into(),
                key: "mode".into(),
                valid: vec![],
            },
        ),
        ("tcp://h:1#frag", 9, K::Fragment),
        ("tcp://h:#", 8, K::MissingPort),
        ("tcp://h:1?tcp.backlog=1#x", 23, K::Fragment),
        ("unix:///x#y", 9, K::Fragment),
    ];
    for (input, pos, kind) in cases {
        let e = Endpoint::parse_with(input, &reg).unwrap_err_or_else(input);
        assert_eq!((e.pos, &e.kind), (pos, &kind), "{input:?}: {e}");
        assert_eq!(e.input, input);
    }
}

trait UnwrapErr {
    fn unwrap_err_or_else(self, input: &str) -> strata::endpoint::EndpointError;
}

impl UnwrapErr for Result<Endpoint, strata::endpoint::EndpointError> {
    fn unwrap_err_or_else(self, input: &str) -> strata::endpoint::EndpointError {
        match self {
            Ok(ep) => panic!("{input:?} parsed as {ep:?}"),
            Err(e) => e,
        }
    }
}

#[test]
fn error_display_has_message_input_and_caret() {
    let e = Endpoint::parse("tcp://127.0.0.1:99999").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid port: expected 0-65535\n    tcp://127.0.0.1:99999\n                    ^"
    );
    let e = Endpoint::parse_with("tls+udp://h:1", &SchemeRegistry::transports()).unwrap_err();
    assert_eq!(
        e.to_string().lines().next(),
        Some("unknown scheme `tls` (known: tcp, udp, unix)")
    );
    // The default parse knows every built-in scheme (issue 10, point 12).
    let e = Endpoint::parse("tls+udp://h:1").unwrap_err();
    assert_eq!(
        e.to_string().lines().next(),
        Some("tls needs a stream below, udp gives datagrams")
    );
    let e = Endpoint::parse("sctp+udp://h:1").unwrap_err();
    assert_eq!(
        e.to_string().lines().next(),
        Some("unknown scheme `sctp` (known: tcp, udp, unix, tls, reliable, quic, proxy)")
    );
    // `quic` is built in since issue 11.
    assert!(Endpoint::parse("quic+udp://h:1").is_ok());
    let mut reg = SchemeRegistry::transports();
    reg.register(TLS).unwrap();
    let e = Endpoint::parse_with("tls+udp://h:1", &reg).unwrap_err();
    assert_eq!(
        e.to_string().lines().next(),
        Some("tls needs a stream below, udp gives datagrams")
    );
    let e = Endpoint::parse("unix:///x?unix.mode=600").unwrap_err();
    assert!(e
        .to_string()
        .starts_with("unknown option `unix.mode` (unix takes no options)"));
    // The caret counts characters, not bytes, and a control character is
    // shown as one replacement character so the caret stays aligned.
    let e = Endpoint::parse("unix:///é\tx").unwrap_err();
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[1], "    unix:///é\u{fffd}x");
    assert_eq!(lines[2], "             ^");
}

#[test]
fn display_round_trips() {
    let reg = layered();
    let cases = [
        ("tcp://127.0.0.1:8080", "tcp://127.0.0.1:8080"),
        ("tcp://[::1]:8080", "tcp://[::1]:8080"),
        ("tcp://[0:0::1]:08080", "tcp://[::1]:8080"),
        ("TCP://LOCALHOST:1", "tcp://localhost:1"),
        (
            "udp://127.0.0.1:5353?udp.reuseport=true",
            "udp://127.0.0.1:5353?udp.reuseport=true",
        ),
        ("unix:///path/to.sock", "unix:///path/to.sock"),
        ("unix:///a b/%3f%23%25.sock", "unix:///a%20b/%3F%23%25.sock"),
        ("unix:///tmp/é", "unix:///tmp/%C3%A9"),
        ("unix:///tmp/%FF", "unix:///tmp/%FF"),
        (
            "tls+tcp://h:1?tls.alpn=h2,http/1.1",
            "tls+tcp://h:1?tls.alpn=h2,http/1.1",
        ),
        (
            "tls+tcp://h:1?tls.sni=a%26b%23c%25d e&TLS.ALPN=h2",
            "tls+tcp://h:1?tls.sni=a%26b%23c%25d%20e&tls.alpn=h2",
        ),
        ("tls+tcp://h:1?tls.sni=", "tls+tcp://h:1?tls.sni="),
        (
            "tls+reliable+udp://[::1]:1?reliable.x=1",
            "tls+reliable+udp://[::1]:1?reliable.x=1",
        ),
        (
            "quic+udp://h.example:443?quic.alpn=h3",
            "quic+udp://h.example:443?quic.alpn=h3",
        ),
        (
            "tls+unix:///p?tls.verify=false",
            "tls+unix:///p?tls.verify=false",
        ),
        ("tls+tls+tcp://h:1", "tls+tls+tcp://h:1"),
    ];
    for (input, canonical) in cases {
        let ep = Endpoint::parse_with(input, &reg).unwrap_or_else(|e| panic!("{input}: {e}"));
        let shown = ep.to_string();
        assert_eq!(shown, canonical, "{input}");
        let again = Endpoint::parse_with(&shown, &reg).unwrap_or_else(|e| panic!("{shown}: {e}"));
        assert_eq!(again, ep, "{input} -> {shown}");
    }
    // Values and paths built in code, with every byte that needs escaping.
    let ep = Endpoint {
        layers: vec!["tls".into(), "tcp".into()],
        target: hp(Host::Ip(Ipv6Addr::LOCALHOST.into()), 443),
        options: vec![opt("tls", "alpn", "a&b#c%d e\u{7f}é?=+,/")],
    };
    assert_eq!(Endpoint::parse_with(&ep.to_string(), &reg).unwrap(), ep);
    let ep = Endpoint {
        layers: vec!["unix".into()],
        target: Target::Path("/r/a?b#c%d e\té".into()),
        options: vec![],
    };
    assert_eq!(Endpoint::parse(&ep.to_string()).unwrap(), ep);
}

#[test]
fn from_str_matches_parse() {
    let a: Endpoint = "tcp://localhost:80".parse().unwrap();
    assert_eq!(a, Endpoint::parse("tcp://localhost:80").unwrap());
    assert!("nope".parse::<Endpoint>().is_err());
}

// ---------------------------------------------------------------------------
// Option values are bounded at parse time: a value the layer could not use is
// an error with a caret under the value, never a panic when it is built.

/// The error for `input`, which must fail at the value of its last option.
fn bad_value(input: &str, reg: &SchemeRegistry) -> (usize, K) {
    let e = Endpoint::parse_with(input, reg).unwrap_err();
    (e.pos, e.kind)
}

#[test]
fn tcp_option_values_out_of_bounds_point_at_the_value() {
    let reg = SchemeRegistry::default();
    let cases = [
        ("tcp://127.0.0.1:1?tcp.backlog=0", "backlog"),
        (
            "tcp://127.0.0.1:1?tcp.backlog=99999999999999999999",
            "backlog",
        ),
        ("tcp://127.0.0.1:1?tcp.backlog=-1", "backlog"),
        ("tcp://127.0.0.1:1?tcp.nodelay=yes", "nodelay"),
        ("tcp://127.0.0.1:1?tcp.reuseport=1", "reuseport"),
        (
            "tcp://127.0.0.1:1?tcp.sndbuf=18446744073709551615",
            "sndbuf",
        ),
        ("tcp://127.0.0.1:1?tcp.sndbuf=4095", "sndbuf"),
        ("tcp://127.0.0.1:1?tcp.rcvbuf=67108865", "rcvbuf"),
        ("tcp://127.0.0.1:1?tcp.rcvbuf=", "rcvbuf"),
        ("udp://127.0.0.1:1?udp.reuseport=on", "reuseport"),
    ];
    for (input, key) in cases {
        let (pos, kind) = bad_value(input, &reg);
        assert_eq!(pos, input.find('=').unwrap() + 1, "{input}");
        assert!(
            matches!(&kind, K::BadOptionValue { key: k, .. } if k == key),
            "{input}: {kind:?}"
        );
    }
    let e = Endpoint::parse("tcp://127.0.0.1:1?tcp.sndbuf=1").unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad value for `tcp.sndbuf`: expected a whole number from 4096 to 67108864\n    \
         tcp://127.0.0.1:1?tcp.sndbuf=1\n                                 ^"
    );
    for ok in [
        format!("tcp://h:1?tcp.sndbuf={SOCKET_BUFFER_MIN}&tcp.rcvbuf={SOCKET_BUFFER_MAX}"),
        "tcp://h:1?tcp.backlog=1&tcp.nodelay=false&tcp.reuseport=true".into(),
    ] {
        assert!(Endpoint::parse(&ok).is_ok(), "{ok}");
    }
}

#[test]
fn tls_option_values_are_bounded_at_parse_time() {
    let mut reg = SchemeRegistry::transports();
    reg.register(SchemeSpec::TLS).unwrap();
    let long = "x".repeat(256);
    for input in [
        "tls+tcp://h:1?tls.alpn=".to_string(),
        "tls+tcp://h:1?tls.alpn=h2,,http/1.1".into(),
        "tls+tcp://h:1?tls.alpn=h2,".into(),
        format!("tls+tcp://h:1?tls.alpn={long}"),
        format!("tls+tcp://h:1?tls.alpn={}", vec!["a"; 33].join(",")),
        "tls+tcp://h:1?tls.sni=".into(),
        format!("tls+tcp://h:1?tls.sni={}", "a".repeat(254)),
        "tls+tcp://h:1?tls.insecure=yes".into(),
        "tls+tcp://h:1?tls.cert=".into(),
    ] {
        let (pos, kind) = bad_value(&input, &reg);
        assert_eq!(pos, input.rfind('=').unwrap() + 1, "{input}");
        assert!(
            matches!(kind, K::BadOptionValue { .. }),
            "{input}: {kind:?}"
        );
    }
    let ok = "tls+tcp://h:1?tls.alpn=h2,http/1.1&tls.sni=localhost&tls.insecure=true";
    assert!(Endpoint::parse_with(ok, &reg).is_ok());
}

#[test]
fn a_scheme_may_bound_only_the_options_it_declares() {
    let mut reg = SchemeRegistry::default();
    let bad = SchemeSpec {
        name: "zz",
        values: &[("nope", OptionValue::Bool)],
        ..TLS
    };
    assert_eq!(
        reg.register(bad),
        Err(RegistryError::UndeclaredValue {
            name: "zz",
            option: "nope"
        })
    );
    let words = SchemeSpec {
        name: "zz",
        options: &["mode"],
        values: &[("mode", OptionValue::OneOf(&["a", "b"]))],
        ..TLS
    };
    reg.register(words).unwrap();
    assert!(Endpoint::parse_with("zz+tcp://h:1?zz.mode=b", &reg).is_ok());
    let e = Endpoint::parse_with("zz+tcp://h:1?zz.mode=c", &reg).unwrap_err();
    assert_eq!(e.pos, 21);
    assert!(e
        .to_string()
        .starts_with("bad value for `zz.mode`: expected one of a, b"));
}

/// Issue 10, points 11 and 12: the default parse knows `tls` and
/// `reliable`, and `reliable` runs over either family: the mapping over
/// datagrams, a pass-through over a stream. Each gives a stream.
#[test]
fn the_default_parse_knows_every_built_in_scheme() {
    let reg = SchemeRegistry::default();
    let names: Vec<_> = reg.schemes().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["tcp", "udp", "unix", "tls", "reliable", "quic", "proxy"]
    );
    for s in [
        "reliable+tcp://127.0.0.1:1",
        "reliable+unix:///tmp/x.sock",
        "reliable+udp://127.0.0.1:1?reliable.cc=cubic",
        "tls+reliable+tcp://h:1?tls.alpn=h2",
        "tls+reliable+udp://h:1",
        "reliable+tls+tcp://h:1",
        "tls+tls+tcp://h:1",
    ] {
        let ep = Endpoint::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ep.family(&reg), Family::Stream, "{s}");
        assert_eq!(ep.to_string(), s);
    }
    // `reliable` is still a layer: never the transport.
    let e = Endpoint::parse("reliable://h:1").unwrap_err();
    assert_eq!(
        e.kind,
        K::LayerAtBottom {
            name: "reliable".into()
        }
    );
    // Options are checked against the core's specs.
    assert!(Endpoint::parse("reliable+tcp://h:1?reliable.nope=1").is_err());
    assert!(Endpoint::parse("tls+tcp://h:1?tls.insecure=maybe").is_err());
}
