//! The PROXY protocol layer (v1 and v2), receiving and sending, in memory:
//! the client's address reaches the protocol above through the capability
//! lookup; every malformed, truncated, oversized or silent header ends in a
//! typed error and an abort, with nothing reaching the protocol above.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::proxy_protocol::{
    encode_v1, encode_v2, parse, Parsed, ProxyCommand, ProxyConfig, ProxyError, ProxyHeader,
    ProxyProtocol, ProxySender, ProxyVersion, Tlv, Versions, V2_SIGNATURE,
};
use strata::{
    Addr, BottomInfo, Close, LocalAddr, PeerAddr, Stack, StackConfig, StreamProtocol,
    StreamTransport,
};

/// What the protocol above saw.
#[derive(Debug, Default)]
struct Seen {
    made: bool,
    peer: Option<Addr>,
    local: Option<Addr>,
    chain: Vec<&'static str>,
    header: Option<ProxyHeader>,
    data: Vec<u8>,
    eof: bool,
    lost: Option<Close>,
}

/// Records what it sees; echoes input; pauses reading at start if asked.
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    pause_at_start: bool,
}

impl StreamProtocol for Recorder {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.seen.lock().unwrap();
        s.made = true;
        s.peer = t.get::<PeerAddr>().map(|p| p.0.clone());
        s.local = t.get::<LocalAddr>().map(|p| p.0.clone());
        s.chain = t.layer_chain();
        s.header = t.get::<ProxyHeader>().cloned();
        if self.pause_at_start {
            t.pause_reading();
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.seen.lock().unwrap().data.extend_from_slice(data);
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

const LB: &str = "10.9.9.9:33333";
const US: &str = "10.0.0.1:8080";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn stack_with(cfg: ProxyConfig, pause: bool) -> (Stack, Arc<Mutex<Seen>>, Instant) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let rec = Recorder {
        seen: seen.clone(),
        pause_at_start: pause,
    };
    let info = BottomInfo::new("tcp")
        .peer(Addr::Inet(sa(LB)))
        .local(Addr::Inet(sa(US)));
    let now = Instant::now();
    let mut s = Stack::new(
        Box::new(ProxyProtocol::new(rec, cfg)),
        info,
        Arc::new(StackConfig::default()),
        now,
    );
    s.start(now);
    (s, seen, now)
}

fn stack() -> (Stack, Arc<Mutex<Seen>>, Instant) {
    stack_with(ProxyConfig::default(), false)
}

fn proxy_error(s: &Stack) -> ProxyError {
    let why = s.finished().expect("the connection was aborted");
    assert_eq!(why.layer(), Some("proxy"), "{why}");
    why.error::<ProxyError>().cloned().expect("a ProxyError")
}

#[test]
fn v1_header_byte_by_byte_gives_the_client_address_to_the_protocol_above() {
    let (mut s, seen, now) = stack();
    let input = b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\r\nping";
    let header_len = input.len() - 4;
    for (i, b) in input.chunks(1).enumerate() {
        assert_eq!(seen.lock().unwrap().made, i >= header_len, "byte {i}");
        s.handle_input(now, b);
    }
    let seen = seen.lock().unwrap();
    assert!(seen.made);
    assert_eq!(seen.peer, Some(Addr::Inet(sa("192.0.2.7:40000"))));
    assert_eq!(seen.local, Some(Addr::Inet(sa("10.0.0.1:443"))));
    assert_eq!(seen.chain, ["proxy", "tcp"]);
    assert_eq!(seen.header.as_ref().unwrap().version, ProxyVersion::V1);
    assert_eq!(seen.data, b"ping");
    assert_eq!(s.take_output(now), b"ping");
    assert!(s.finished().is_none());
}

#[test]
fn the_protocol_is_not_started_before_the_header_is_whole() {
    let (mut s, seen, now) = stack();
    s.handle_input(now, b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2");
    assert!(!seen.lock().unwrap().made);
    s.handle_input(now, b"\r\n");
    let seen = seen.lock().unwrap();
    assert!(seen.made);
    assert_eq!(seen.peer, Some(Addr::Inet(sa("[2001:db8::1]:1"))));
}

#[test]
fn v2_tcp4_and_tcp6_with_tlvs_answer_addresses_and_the_header() {
    let ssl = {
        let mut v = vec![1u8, 0, 0, 0, 0];
        v.extend_from_slice(&[Tlv::SSL_VERSION, 0, 7]);
        v.extend_from_slice(b"TLSv1.3");
        v.extend_from_slice(&[Tlv::SSL_CN, 0, 6]);
        v.extend_from_slice(b"client");
        v
    };
    let tlvs = [
        Tlv {
            kind: Tlv::ALPN,
            value: b"h2".to_vec(),
        },
        Tlv {
            kind: Tlv::AUTHORITY,
            value: b"example.net".to_vec(),
        },
        Tlv {
            kind: Tlv::SSL,
            value: ssl,
        },
    ];
    for (src, dst) in [
        ("192.0.2.1:5000", "198.51.100.2:443"),
        ("[2001:db8::1]:5000", "[2001:db8::2]:443"),
    ] {
        let (mut s, seen, now) = stack();
        let mut input = encode_v2(Some((sa(src), sa(dst))), &tlvs);
        input.extend_from_slice(b"after");
        s.handle_input(now, &input);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.peer, Some(Addr::Inet(sa(src))));
        assert_eq!(seen.local, Some(Addr::Inet(sa(dst))));
        let h = seen.header.as_ref().unwrap();
        assert_eq!(h.command, ProxyCommand::Proxy);
        assert_eq!(h.alpn(), Some(&b"h2"[..]));
        assert_eq!(h.authority(), Some("example.net"));
        let ssl = h.ssl().unwrap();
        assert!(ssl.client_ssl());
        assert_eq!(ssl.version.as_deref(), Some("TLSv1.3"));
        assert_eq!(ssl.cn.as_deref(), Some("client"));
        assert_eq!(seen.data, b"after");
    }
}

#[test]
fn v2_local_and_v1_unknown_keep_the_connection_addresses() {
    let local = encode_v2(None, &[]);
    assert_eq!(local[12], 0x20, "LOCAL command");
    for input in [local, b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".to_vec()] {
        let (mut s, seen, now) = stack();
        s.handle_input(now, &input);
        let seen = seen.lock().unwrap();
        assert!(seen.made);
        assert_eq!(seen.peer, Some(Addr::Inet(sa(LB))));
        assert_eq!(seen.local, Some(Addr::Inet(sa(US))));
        assert!(seen.header.is_some());
    }
}

#[test]
fn v2_unix_addresses_become_unix_peers() {
    let mut input = V2_SIGNATURE.to_vec();
    input.extend_from_slice(&[0x21, 0x31, 0, 216]);
    let mut a = [0u8; 216];
    a[..9].copy_from_slice(b"/tmp/c.sk");
    a[108..117].copy_from_slice(b"/tmp/s.sk");
    input.extend_from_slice(&a);
    let (mut s, seen, now) = stack();
    s.handle_input(now, &input);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.peer, Some(Addr::Unix(Some("/tmp/c.sk".into()))));
    assert_eq!(seen.local, Some(Addr::Unix(Some("/tmp/s.sk".into()))));
}

/// A v2 header with this version/command, family and body.
fn v2(vc: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(vc);
    h.push(fam);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

#[test]
fn malformed_headers_abort_with_a_typed_error_and_never_reach_the_protocol() {
    let cases: Vec<(Vec<u8>, ProxyError)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), ProxyError::NotProxy),
        (b"\r\n\r\n\0\r\nQUIX".to_vec(), ProxyError::NotProxy),
        (
            [b"PROXY TCP4 1.2.3.4 ".as_slice(), &[b'9'; 100]].concat(),
            ProxyError::V1TooLong,
        ),
        (
            b"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n".to_vec(),
            ProxyError::V1Malformed {
                why: "bad IPv4 address",
            },
        ),
        (
            b"PROXY TCP4 ::1 ::2 1 2\r\n".to_vec(),
            ProxyError::V1Malformed {
                why: "bad IPv4 address",
            },
        ),
        (
            b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            ProxyError::V1Malformed {
                why: "bad IPv6 address",
            },
        ),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n".to_vec(),
            ProxyError::V1Malformed { why: "bad port" },
        ),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n".to_vec(),
            ProxyError::V1Malformed {
                why: "expected 4 fields after TCP4/TCP6",
            },
        ),
        (
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            ProxyError::V1Malformed {
                why: "protocol is not TCP4, TCP6 or UNKNOWN",
            },
        ),
        (
            b"PROXY TCP4 1.2.3.4\n".to_vec(),
            ProxyError::V1Malformed {
                why: "control character in the line",
            },
        ),
        (
            v2(0x11, 0x11, &[0; 12]),
            ProxyError::V2BadVersion { byte: 0x11 },
        ),
        (
            v2(0x22, 0x11, &[0; 12]),
            ProxyError::V2BadCommand { byte: 0x22 },
        ),
        (
            v2(0x21, 0x41, &[0; 12]),
            ProxyError::V2BadFamily { byte: 0x41 },
        ),
        (
            v2(0x21, 0x13, &[0; 12]),
            ProxyError::V2BadFamily { byte: 0x13 },
        ),
        (
            v2(0x21, 0x21, &[0; 12]),
            ProxyError::V2AddressesTooShort {
                family: 0x21,
                len: 12,
            },
        ),
        (
            v2(0x21, 0x11, &[[0; 12].as_slice(), &[1, 0, 9, b'x']].concat()),
            ProxyError::V2BadTlv {
                why: "TLV longer than the header",
            },
        ),
        (
            v2(0x21, 0x11, &[[0; 12].as_slice(), &[1, 0]].concat()),
            ProxyError::V2BadTlv {
                why: "TLV header cut short",
            },
        ),
        (
            v2(
                0x21,
                0x11,
                &[[0; 12].as_slice(), &[0x20, 0, 2, 1, 0]].concat(),
            ),
            ProxyError::V2BadTlv {
                why: "SSL TLV shorter than 5 bytes",
            },
        ),
        (
            v2(0x21, 0x11, &[0; 5000]),
            ProxyError::V2TooLong {
                len: 5000,
                max: 4096,
            },
        ),
    ];
    for (input, want) in cases {
        let (mut s, seen, now) = stack();
        s.handle_input(now, &input);
        assert_eq!(
            proxy_error(&s),
            want,
            "{:?}",
            String::from_utf8_lossy(&input)
        );
        assert!(s.take_output(now).is_empty());
        let seen = seen.lock().unwrap();
        assert!(!seen.made && seen.data.is_empty());
        assert!(seen.lost.is_some(), "connection_lost is still called");
    }
}

#[test]
fn errors_are_found_as_early_as_the_bytes_allow() {
    // The version byte of a v2 header is checked before its length arrives.
    let (mut s, _, now) = stack();
    s.handle_input(now, &[V2_SIGNATURE.as_slice(), &[0x31]].concat());
    assert_eq!(proxy_error(&s), ProxyError::V2BadVersion { byte: 0x31 });
    // A v2 length over the bound is refused before its body arrives.
    let (mut s, _, now) = stack();
    s.handle_input(
        now,
        &[V2_SIGNATURE.as_slice(), &[0x21, 0x11, 0xff, 0xff]].concat(),
    );
    assert!(matches!(
        proxy_error(&s),
        ProxyError::V2TooLong { len: 65535, .. }
    ));
}

#[test]
fn an_eof_before_any_byte_closes_quietly() {
    // A load balancer's plain TCP health check: connect, close.
    let (mut s, seen, now) = stack();
    s.handle_eof(now);
    let why = s.finished().expect("closed");
    assert!(why.is_clean(), "{why}");
    assert!(!seen.lock().unwrap().made);
}

#[test]
fn an_eof_inside_the_header_is_truncated() {
    let (mut s, seen, now) = stack();
    s.handle_input(now, b"PROXY TCP4 1.2.3.4 ");
    s.handle_eof(now);
    assert_eq!(proxy_error(&s), ProxyError::Truncated { got: 19 });
    assert!(!seen.lock().unwrap().eof);
    let (mut s, _, now) = stack();
    s.handle_input(now, &v2(0x21, 0x11, &[0; 12])[..20]);
    s.handle_eof(now);
    assert_eq!(proxy_error(&s), ProxyError::Truncated { got: 20 });
}

#[test]
fn a_header_that_never_completes_times_out() {
    let timeout = Duration::from_millis(1500);
    let cfg = ProxyConfig {
        timeout,
        ..ProxyConfig::default()
    };
    let (mut s, seen, t0) = stack_with(cfg, false);
    assert_eq!(s.next_deadline(), Some(t0 + timeout));
    s.handle_input(t0 + Duration::from_millis(100), b"PROXY TCP4");
    // Input does not move the deadline: a trickling header times out too.
    assert_eq!(s.next_deadline(), Some(t0 + timeout));
    s.handle_timeout(t0 + Duration::from_millis(1499));
    assert!(s.finished().is_none());
    s.handle_timeout(t0 + timeout);
    assert_eq!(
        proxy_error(&s),
        ProxyError::Timeout {
            after: timeout,
            got: 10
        }
    );
    assert!(!seen.lock().unwrap().made);
    // A silent client too.
    let (mut s, _, t0) = stack_with(cfg, false);
    s.handle_timeout(t0 + timeout);
    assert_eq!(
        proxy_error(&s),
        ProxyError::Timeout {
            after: timeout,
            got: 0
        }
    );
}

#[test]
fn once_the_header_is_read_the_deadline_is_the_protocols() {
    let (mut s, _, now) = stack();
    s.handle_input(now, b"PROXY UNKNOWN\r\n");
    assert_eq!(s.next_deadline(), None);
    s.handle_timeout(now + Duration::from_secs(3600));
    assert!(s.finished().is_none());
}

#[test]
fn versions_refuse_the_other_one() {
    let cfg = ProxyConfig {
        versions: Versions::V2_ONLY,
        ..ProxyConfig::default()
    };
    let (mut s, _, now) = stack_with(cfg, false);
    s.handle_input(now, b"PROXY UNKNOWN\r\n");
    assert_eq!(
        proxy_error(&s),
        ProxyError::VersionRefused {
            version: ProxyVersion::V1
        }
    );
    let cfg = ProxyConfig {
        versions: Versions::V1_ONLY,
        ..ProxyConfig::default()
    };
    let (mut s, _, now) = stack_with(cfg, false);
    s.handle_input(now, &encode_v2(None, &[]));
    assert_eq!(
        proxy_error(&s),
        ProxyError::VersionRefused {
            version: ProxyVersion::V2
        }
    );
}

#[test]
fn memory_held_for_a_header_is_bounded() {
    // 1 MiB arriving at once that claims to be a v1 header: refused at
    // 107 bytes, and the layer never holds more than its bound.
    let (mut s, _, now) = stack();
    let mut input = b"PROXY ".to_vec();
    input.resize(1 << 20, b'1');
    s.handle_input(now, &input);
    assert_eq!(proxy_error(&s), ProxyError::V1TooLong);
    // A v2 header within the bound is held until whole, no more.
    let (mut s, _, now) = stack();
    let mut body = vec![0u8; 12];
    body.extend_from_slice(&[Tlv::NOOP, 0x0f, 0x91]); // 3985 bytes of padding
    body.resize(4000, 0);
    let h = v2(0x21, 0x11, &body);
    s.handle_input(now, &h[..4000]);
    assert!(s.finished().is_none());
    s.handle_input(now, &h[4000..]);
    assert!(s.finished().is_none());
}

#[test]
fn a_protocol_that_pauses_at_start_gets_the_rest_when_it_resumes() {
    struct PauseThenResume {
        got: Arc<Mutex<Vec<u8>>>,
    }
    impl StreamProtocol for PauseThenResume {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.pause_reading();
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
            self.got.lock().unwrap().extend_from_slice(data);
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            self.got.lock().unwrap().extend_from_slice(b"<eof>");
            t.close();
        }
        fn on_wake(&mut self, t: &mut dyn StreamTransport, _: strata::WakeRoute<'_>) {
            t.resume_reading();
        }
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let p = ProxyProtocol::new(PauseThenResume { got: got.clone() }, ProxyConfig::default());
    let mut s = Stack::memory(Box::new(p));
    let now = s.now();
    s.handle_input(now, b"PROXY UNKNOWN\r\nearly");
    s.handle_eof(now);
    assert!(got.lock().unwrap().is_empty(), "held while paused");
    let wake = s.inspect(|t| t.waker());
    wake.wake();
    s.handle_wakes(now);
    assert_eq!(&got.lock().unwrap()[..], b"early<eof>");
}

#[test]
fn the_sender_writes_its_header_first_then_passes_through() {
    struct Hello;
    impl StreamProtocol for Hello {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(b"hello");
        }
        fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
            t.write(d)
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }
    let (src, dst) = (sa("[2001:db8::7]:1234"), sa("[2001:db8::1]:80"));
    let mut s = Stack::memory(Box::new(ProxySender::with_header(
        Hello,
        ProxyVersion::V2,
        Some((src, dst)),
    )));
    let now = s.now();
    let out = s.take_output(now);
    let Ok(Parsed::Complete { header, len }) = parse(&out, Versions::ANY, 4096) else {
        panic!("{out:?}")
    };
    assert_eq!(
        (header.source(), header.destination()),
        (Some(src), Some(dst))
    );
    assert_eq!(&out[len..], b"hello");
    s.handle_input(now, b"x");
    assert_eq!(s.take_output(now), b"x");

    // Its own addresses: local as the source, the peer as the destination.
    let info = BottomInfo::new("tcp")
        .peer(Addr::Inet(sa(US)))
        .local(Addr::Inet(sa(LB)));
    let sender = ProxySender::own_addresses(Hello, ProxyVersion::V1);
    let mut s = Stack::new(
        Box::new(sender),
        info,
        Arc::new(StackConfig::default()),
        now,
    );
    s.start(now);
    assert_eq!(
        s.take_output(now),
        b"PROXY TCP4 10.9.9.9 10.0.0.1 33333 8080\r\nhello"
    );
}

#[test]
fn sender_and_receiver_agree_on_both_versions_and_families() {
    let pairs = [
        (sa("192.0.2.1:1"), sa("192.0.2.2:65535")),
        (sa("[::1]:0"), sa("[2001:db8::2]:443")),
        // A dual-stack listener's view of an IPv4 client is written as IPv4.
        (sa("[::ffff:192.0.2.1]:7"), sa("[::ffff:192.0.2.2]:8")),
    ];
    for (src, dst) in pairs {
        for enc in [encode_v1, |a| encode_v2(a, &[])] {
            let h = enc(Some((src, dst)));
            let Ok(Parsed::Complete { header, len }) = parse(&h, Versions::ANY, 4096) else {
                panic!("{h:?}")
            };
            assert_eq!(len, h.len());
            let unmapped = |a: SocketAddr| match a.ip() {
                std::net::IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(a, |v4| SocketAddr::new(v4.into(), a.port())),
                _ => a,
            };
            assert_eq!(header.source(), Some(unmapped(src)));
            assert_eq!(header.destination(), Some(unmapped(dst)));
        }
    }
    // Mixed families have no common header: UNKNOWN / LOCAL.
    let mixed = Some((sa("192.0.2.1:1"), sa("[::1]:2")));
    assert_eq!(encode_v1(mixed), b"PROXY UNKNOWN\r\n");
    assert_eq!(encode_v2(mixed, &[])[12], 0x20);
}

/// Found by the `proxy_header` fuzz target: a control byte early in a v1
/// line used to give `V1TooLong` when the whole line arrived at once and
/// the control-character error when it arrived byte by byte.
#[test]
fn a_v1_error_does_not_depend_on_how_the_bytes_are_cut() {
    let mut input = b"PROXY \x01".to_vec();
    input.resize(200, b'1');
    let whole = parse(&input, Versions::ANY, 4096);
    for k in 7..input.len() {
        assert_eq!(parse(&input[..k], Versions::ANY, 4096), whole, "prefix {k}");
    }
    let cr = b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n";
    assert_eq!(
        parse(cr, Versions::ANY, 4096),
        Err(ProxyError::V1Malformed {
            why: "control character in the line"
        })
    );
    assert_eq!(
        parse(&cr[..19], Versions::ANY, 4096),
        Ok(Parsed::Incomplete)
    );
}
