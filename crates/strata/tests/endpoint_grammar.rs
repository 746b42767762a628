//! The endpoint grammar, finished: every scheme composes with every scheme
//! whose family fits (and with no other, the error at the scheme that does
//! not fit); for generated endpoints `parse(print(e)) == e`, and a written
//! form with other case, needless escapes and leading zeros parses to the
//! same endpoint and prints canonically; every option of the registry is
//! documented.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use proptest::prelude::*;
use strata::endpoint::{
    Endpoint, EndpointErrorKind as K, Host, LayerOption, OptionValue, RegistryError, SchemeKind,
    SchemeRegistry, SchemeSpec, Target, TargetKind,
};

fn reg() -> SchemeRegistry {
    SchemeRegistry::default()
}

fn specs() -> Vec<SchemeSpec> {
    reg().schemes().copied().collect()
}

fn target_for(bottom: &SchemeSpec) -> &'static str {
    match bottom.kind {
        SchemeKind::Transport {
            target: TargetKind::Path,
            ..
        } => "/run/x.sock",
        _ => "[::1]:4433",
    }
}

/// Independent of the parser: the index of the first scheme (top first)
/// that does not fit, with the error it must give.
fn oracle(chain: &[SchemeSpec]) -> Option<(usize, K)> {
    let last = chain.len() - 1;
    for (i, s) in chain.iter().enumerate() {
        let transport = matches!(s.kind, SchemeKind::Transport { .. });
        if transport && i != last {
            let name = s.name.into();
            return Some((i, K::TransportNotAtBottom { name }));
        }
        if !transport && i == last {
            let name = s.name.into();
            return Some((i, K::LayerAtBottom { name }));
        }
    }
    // Checked bottom-up: the lowest misfit is reported.
    for i in (0..last).rev() {
        if let SchemeKind::Layer { below, .. } = chain[i].kind {
            let gives = chain[i + 1].kind.above();
            if below != gives {
                return Some((
                    i,
                    K::FamilyMismatch {
                        layer: chain[i].name.into(),
                        needs: below,
                        below: chain[i + 1].name.into(),
                        gives,
                    },
                ));
            }
        }
    }
    None
}

#[test]
fn every_scheme_composes_with_every_scheme_whose_family_fits() {
    let all = specs();
    let mut chains: Vec<Vec<SchemeSpec>> = all.iter().map(|s| vec![*s]).collect();
    for _ in 0..2 {
        let longer: Vec<_> = chains
            .iter()
            .filter(|c| c.len() == chains.last().map_or(0, Vec::len))
            .flat_map(|c| {
                all.iter().map(move |s| {
                    let mut n = vec![*s];
                    n.extend_from_slice(c);
                    n
                })
            })
            .collect();
        chains.extend(longer);
    }
    let (mut ok, mut refused) = (0, 0);
    for chain in &chains {
        let names: Vec<&str> = chain.iter().map(|s| s.name).collect();
        let input = format!(
            "{}://{}",
            names.join("+"),
            target_for(chain.last().unwrap())
        );
        match (Endpoint::parse(&input), oracle(chain)) {
            (Ok(ep), None) => {
                ok += 1;
                assert_eq!(ep.layers, names, "{input}");
                assert_eq!(ep.family(&reg()), chain[0].kind.above(), "{input}");
                assert_eq!(Endpoint::parse(&ep.to_string()).unwrap(), ep);
            }
            (Err(e), Some((i, kind))) => {
                refused += 1;
                let pos: usize = names[..i].iter().map(|n| n.len() + 1).sum();
                assert_eq!((e.pos, e.kind), (pos, kind), "{input}");
            }
            (got, want) => panic!("{input}: parsed {got:?}, expected {want:?}"),
        }
    }
    // Every layer over every transport it fits, at least.
    assert!(ok > 20 && refused > 100, "{ok} accepted, {refused} refused");
    for good in [
        "proxy+tls+tcp://h:1",
        "tls+proxy+tcp://h:1",
        "proxy+reliable+udp://h:1",
        "proxy+quic+udp://h:1",
        "tls+quic+tcp://h:1",
        "proxy+unix:///p",
        "reliable+proxy+tcp://h:1",
    ] {
        assert!(Endpoint::parse(good).is_ok(), "{good}");
    }
}

#[test]
fn ipv6_zones_are_refused_with_the_position_of_the_zone() {
    for (input, pos) in [
        ("tcp://[fe80::1%eth0]:80", 14),
        ("tcp://[fe80::1%25eth0]:80", 14),
        ("proxy+tcp://[fe80::1%eth0]:80", 20),
    ] {
        let e = Endpoint::parse(input).unwrap_err();
        assert_eq!((e.pos, &e.kind), (pos, &K::Ipv6Zone), "{input}");
        let caret = e.to_string().lines().last().unwrap().to_owned();
        assert_eq!(caret.len() - 1 - 4, pos, "the caret is under the `%`: {e}");
    }
    let ep = Endpoint::parse("tcp://[::ffff:192.0.2.1]:1").unwrap();
    assert_eq!(ep.to_string(), "tcp://[::ffff:192.0.2.1]:1");
}

#[test]
fn every_option_of_every_scheme_is_documented() {
    for s in specs() {
        for key in s.options {
            let h = s
                .help_for(key)
                .unwrap_or_else(|| panic!("{}.{key} has no help", s.name));
            assert!(!h.default.is_empty() && !h.about.is_empty(), "{h:?}");
            assert!(
                s.value_rule(key).is_some() || !h.bounds.is_empty(),
                "{}.{key}: no value rule and no bounds in words",
                s.name
            );
        }
        assert_eq!(s.help.len(), s.options.len(), "{}", s.name);
    }
    const HELP: &[strata::endpoint::OptionHelp] =
        &[strata::endpoint::OptionHelp::new("nope", "1", "x")];
    let mut r = SchemeRegistry::empty();
    let bad = SchemeSpec {
        name: "zz",
        help: HELP,
        ..SchemeSpec::UNIX
    };
    assert_eq!(
        r.register(bad),
        Err(RegistryError::UndeclaredHelp {
            name: "zz",
            option: "nope"
        })
    );
}

// ---------------------------------------------------------------------------
// Generated endpoints.

/// A chain from the default registry: a transport, then 0 to 3 schemes
/// that each fit what is below them.
fn chain() -> impl Strategy<Value = Vec<SchemeSpec>> {
    let all = specs();
    let transports: Vec<SchemeSpec> = all
        .iter()
        .filter(|s| matches!(s.kind, SchemeKind::Transport { .. }))
        .copied()
        .collect();
    (
        proptest::sample::select(transports),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    )
        .prop_map(move |(bottom, picks)| {
            let mut chain = vec![bottom];
            for pick in picks {
                let gives = chain[0].kind.above();
                let fits: Vec<&SchemeSpec> = all
                    .iter()
                    .filter(|s| match s.kind {
                        SchemeKind::Transport { .. } => false,
                        SchemeKind::Layer { below, .. } => below == gives,
                        SchemeKind::Mapping { .. } => true,
                    })
                    .collect();
                if !fits.is_empty() {
                    chain.insert(0, *fits[pick.index(fits.len())]);
                }
            }
            chain
        })
}

fn label() -> impl Strategy<Value = String> {
    let alnum: Vec<char> = ('a'..='z').chain('0'..='9').collect();
    let inner: Vec<char> = alnum.iter().copied().chain(['-']).collect();
    (
        proptest::sample::select(alnum.clone()),
        proptest::collection::vec(proptest::sample::select(inner), 0..6),
        proptest::sample::select(alnum),
    )
        .prop_map(|(a, mid, z)| {
            let mut s = String::from(a);
            if !mid.is_empty() {
                s.extend(mid);
                s.push(z);
            }
            s
        })
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        any::<u32>().prop_map(|v| Host::Ip(IpAddr::V4(Ipv4Addr::from(v)))),
        any::<u128>().prop_map(|v| Host::Ip(IpAddr::V6(Ipv6Addr::from(v)))),
        (
            proptest::collection::vec(label(), 0..3),
            proptest::sample::select(('a'..='z').collect::<Vec<_>>()),
            label()
        )
            // The last label starts with a letter: an all-digit one is IPv4.
            .prop_map(|(mut labels, first, last)| {
                labels.push(format!("{first}{last}"));
                Host::Name(labels.join("."))
            }),
    ]
}

/// Text of any characters but NUL (which no endpoint can carry).
fn text(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::sample::select(
            " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~azAZ09\t\u{7f}".chars().collect::<Vec<_>>()
        ),
        1 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
    ];
    proptest::collection::vec(ch, 0..max).prop_map(String::from_iter)
}

fn value(rule: Option<OptionValue>) -> BoxedStrategy<String> {
    match rule {
        Some(OptionValue::Bool) => proptest::sample::select(vec!["true", "false"])
            .prop_map(String::from)
            .boxed(),
        Some(OptionValue::Int { min, max }) => (min..=max).prop_map(|v| v.to_string()).boxed(),
        Some(OptionValue::OneOf(words)) => proptest::sample::select(words.to_vec())
            .prop_map(String::from)
            .boxed(),
        Some(rule) => text(24)
            .prop_filter("within the rule", move |v| rule.check(v))
            .boxed(),
        None => text(24).boxed(),
    }
}

fn target(bottom: SchemeSpec) -> BoxedStrategy<Target> {
    match bottom.kind {
        SchemeKind::Transport {
            target: TargetKind::Path,
            ..
        } => proptest::collection::vec(1u8..=255, 0..24)
            .prop_map(|bytes| {
                use std::os::unix::ffi::OsStringExt;
                let mut p = vec![b'/'];
                p.extend(bytes);
                Target::Path(PathBuf::from(std::ffi::OsString::from_vec(p)))
            })
            .boxed(),
        _ => (host(), any::<u16>())
            .prop_map(|(host, port)| Target::Host { host, port })
            .boxed(),
    }
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    chain().prop_flat_map(|chain| {
        let bottom = *chain.last().unwrap();
        let options: Vec<(String, &'static str, Option<OptionValue>)> = chain
            .iter()
            .flat_map(|s| {
                s.options
                    .iter()
                    .map(move |k| (s.name.to_owned(), *k, s.value_rule(k)))
            })
            .collect();
        let one = if options.is_empty() {
            Just(None).boxed()
        } else {
            proptest::sample::select(options)
                .prop_flat_map(|(layer, key, rule)| {
                    value(rule).prop_map(move |value| {
                        Some(LayerOption {
                            layer: layer.clone(),
                            key: key.to_owned(),
                            value,
                        })
                    })
                })
                .boxed()
        };
        let names: Vec<String> = chain.iter().map(|s| s.name.to_owned()).collect();
        (
            target(bottom),
            proptest::collection::vec(one, 0..4),
            Just(names),
        )
            .prop_map(|(target, options, layers)| Endpoint {
                layers,
                target,
                options: options.into_iter().flatten().collect(),
            })
    })
}

/// Writes `e` the way a person might: other case where the grammar
/// ignores it, escapes where none is needed, leading zeros on the port.
fn noisy(e: &Endpoint, seed: u64) -> String {
    let mut x = seed | 1;
    let mut coin = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x & 1 == 1
    };
    let case = |s: &str, coin: &mut dyn FnMut() -> bool| -> String {
        s.chars()
            .map(|c| if coin() { c.to_ascii_uppercase() } else { c })
            .collect()
    };
    let mut out = case(&e.layers.join("+"), &mut coin);
    out.push_str("://");
    let escape = |bytes: &[u8], reserved: &[u8], coin: &mut dyn FnMut() -> bool| {
        let mut s = String::new();
        for &c in bytes {
            let must = c <= b' ' || c >= 0x7f || c == b'%' || reserved.contains(&c);
            if must || coin() {
                s.push_str(&format!("%{c:02x}"));
            } else {
                s.push(char::from(c));
            }
        }
        s
    };
    match &e.target {
        Target::Path(p) => {
            use std::os::unix::ffi::OsStrExt;
            // The leading `/` is literal: an escaped one is not absolute.
            let b = p.as_os_str().as_bytes();
            out.push('/');
            out.push_str(&escape(&b[1..], b"?#", &mut coin));
        }
        Target::Host { host, port } => {
            let h = match host {
                Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
                Host::Ip(ip) => ip.to_string(),
                Host::Name(n) => case(n, &mut coin),
            };
            let zeros = if coin() { "00" } else { "" };
            out.push_str(&format!("{h}:{zeros}{port}"));
        }
    }
    for (i, o) in e.options.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&case(&format!("{}.{}", o.layer, o.key), &mut coin));
        out.push('=');
        out.push_str(&escape(o.value.as_bytes(), b"&#", &mut coin));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parsing_the_printed_form_gives_back_the_endpoint(e in endpoint()) {
        let printed = e.to_string();
        let back = Endpoint::parse(&printed);
        prop_assert_eq!(back.as_ref(), Ok(&e), "{}", printed);
        // The canonical form is one printable ASCII word.
        prop_assert!(printed.bytes().all(|c| c.is_ascii_graphic()), "{}", printed);
    }

    #[test]
    fn printing_a_parsed_string_is_canonical(e in endpoint(), seed in any::<u64>()) {
        let written = noisy(&e, seed);
        let parsed = Endpoint::parse(&written);
        prop_assert_eq!(parsed.as_ref(), Ok(&e), "{}", written);
        let canonical = parsed.unwrap().to_string();
        prop_assert_eq!(&canonical, &e.to_string());
        prop_assert_eq!(Endpoint::parse(&canonical).unwrap().to_string(), canonical);
    }
}
