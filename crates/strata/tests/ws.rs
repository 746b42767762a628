//! The WebSocket layer in memory: frames, messages, control frames, close
//! handshake, deadlines and every refusal, with the peer scripted byte by
//! byte (RFC 6455). The handshakes over HTTP are in `ws_handshake.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::http::ws::{self, MessageKind, Opcode, Role, WebSocket, WsConfig, WsError};
use strata::testing::Pump;
use strata::{Close, Datagram, DatagramProtocol, DatagramTransport, Stack, Timeout, Transmit};

/// What the protocol above saw.
#[derive(Default, Debug)]
struct Log {
    messages: Vec<(Option<MessageKind>, Vec<u8>)>,
    eof: bool,
    lost: Option<Close>,
    chain: Vec<&'static str>,
}

type Shared = Arc<Mutex<Log>>;

/// Records messages; echoes them (kind kept) when `echo`; pauses after the
/// first when `pause_after_one`.
struct Rec {
    log: Shared,
    echo: bool,
    pause_after_one: bool,
}

impl DatagramProtocol for Rec {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.log.lock().unwrap().chain = t.layer_chain();
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let kind = ws::message_kind(t);
        for d in batch {
            self.log
                .lock()
                .unwrap()
                .messages
                .push((kind, d.data.to_vec()));
            if self.echo {
                match kind {
                    Some(MessageKind::Text) => {
                        ws::send_text(t, std::str::from_utf8(d.data).unwrap());
                    }
                    _ => t.send(&Transmit::connected(d.data)),
                }
            }
        }
        if self.pause_after_one {
            t.pause_reading();
        }
    }
    fn eof_received(&mut self, _: &mut dyn DatagramTransport) {
        self.log.lock().unwrap().eof = true;
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
}

fn rec(echo: bool) -> (Rec, Shared) {
    let log = Shared::default();
    let r = Rec {
        log: log.clone(),
        echo,
        pause_after_one: false,
    };
    (r, log)
}

fn server_with(cfg: WsConfig, echo: bool) -> (Stack, Shared) {
    let (r, log) = rec(echo);
    let s = Stack::memory(Box::new(WebSocket::new(Role::Server, r, cfg)));
    (s, log)
}

fn server(echo: bool) -> (Stack, Shared) {
    server_with(WsConfig::default(), echo)
}

/// A frame as a client sends it (masked with `key`), or unmasked.
fn frame(fin: bool, op: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut hdr = [0u8; ws::MAX_HEADER];
    let mut out = ws::encode_header(&mut hdr, fin, op, payload.len(), mask).to_vec();
    let mut p = payload.to_vec();
    if let Some(k) = mask {
        ws::apply_mask(&mut p, k, 0);
    }
    out.extend_from_slice(&p);
    out
}

const KEY: Option<[u8; 4]> = Some([0x11, 0x22, 0x33, 0x44]);

fn c(fin: bool, op: Opcode, payload: &[u8]) -> Vec<u8> {
    frame(fin, op, payload, KEY)
}

/// Server output, parsed into unmasked frames: (fin, opcode, payload).
fn frames(mut out: &[u8]) -> Vec<(bool, Opcode, Vec<u8>)> {
    let mut v = Vec::new();
    while !out.is_empty() {
        let (h, used) = ws::parse_header(out).unwrap().expect("a whole header");
        let len = h.len as usize;
        let mut p = out[used..used + len].to_vec();
        if let Some(k) = h.mask {
            ws::apply_mask(&mut p, k, 0);
        }
        v.push((h.fin, h.opcode, p));
        out = &out[used + len..];
    }
    v
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

fn ws_error(why: &Option<Close>) -> Option<WsError> {
    why.as_ref().and_then(|w| w.error::<WsError>()).cloned()
}

#[test]
fn text_and_binary_messages_are_told_apart_and_echoed_in_kind() {
    let (mut s, log) = server(true);
    let now = s.now();
    let mut input = c(true, Opcode::Text, "héllo".as_bytes());
    input.extend(c(true, Opcode::Binary, &[0, 1, 2]));
    s.handle_input(now, &input);
    let l = log.lock().unwrap();
    assert_eq!(
        l.messages,
        vec![
            (Some(MessageKind::Text), "héllo".as_bytes().to_vec()),
            (Some(MessageKind::Binary), vec![0, 1, 2]),
        ]
    );
    assert_eq!(l.chain, vec!["websocket", "memory"]);
    assert_eq!(
        frames(&s.take_output(now)),
        vec![
            (true, Opcode::Text, "héllo".as_bytes().to_vec()),
            (true, Opcode::Binary, vec![0, 1, 2]),
        ]
    );
}

#[test]
fn input_split_at_every_byte_gives_the_same_messages() {
    let mut input = c(false, Opcode::Text, b"frag");
    input.extend(c(true, Opcode::Ping, b"p"));
    input.extend(c(true, Opcode::Continuation, "ment é".as_bytes()));
    input.extend(c(true, Opcode::Binary, &vec![7u8; 300]));
    input.extend(c(true, Opcode::Binary, &vec![9u8; 70_000]));
    let (mut s, log) = server(false);
    let now = s.now();
    for b in &input {
        s.handle_input(now, std::slice::from_ref(b));
    }
    let l = log.lock().unwrap();
    assert_eq!(l.messages.len(), 3);
    assert_eq!(
        l.messages[0],
        (Some(MessageKind::Text), "fragment é".as_bytes().to_vec())
    );
    assert_eq!(l.messages[1].1, vec![7u8; 300]);
    assert_eq!(l.messages[2].1, vec![9u8; 70_000]);
    assert_eq!(
        frames(&s.take_output(now)),
        vec![(true, Opcode::Pong, b"p".to_vec())]
    );
}

#[test]
fn a_ping_between_fragments_is_answered_and_a_pong_is_ignored() {
    let (mut s, log) = server(false);
    let now = s.now();
    let mut input = c(false, Opcode::Binary, b"ab");
    input.extend(c(true, Opcode::Pong, b"unsolicited"));
    input.extend(c(true, Opcode::Ping, b"are you there"));
    input.extend(c(true, Opcode::Continuation, b"cd"));
    s.handle_input(now, &input);
    assert_eq!(
        frames(&s.take_output(now)),
        vec![(true, Opcode::Pong, b"are you there".to_vec())]
    );
    assert_eq!(
        log.lock().unwrap().messages,
        vec![(Some(MessageKind::Binary), b"abcd".to_vec())]
    );
    assert!(s.finished().is_none());
}

#[test]
fn large_messages_go_out_in_fragments_of_the_configured_size() {
    let cfg = WsConfig {
        fragment_size: 4,
        ..WsConfig::default()
    };
    let (mut s, _log) = server_with(cfg, true);
    let now = s.now();
    s.handle_input(now, &c(true, Opcode::Text, b"0123456789"));
    let got = frames(&s.take_output(now));
    assert_eq!(
        got,
        vec![
            (false, Opcode::Text, b"0123".to_vec()),
            (false, Opcode::Continuation, b"4567".to_vec()),
            (true, Opcode::Continuation, b"89".to_vec()),
        ]
    );
}

#[test]
fn a_message_over_the_limit_is_refused_with_1009_before_its_payload() {
    let cfg = WsConfig {
        max_message: 10,
        ..WsConfig::default()
    };
    let (mut s, log) = server_with(cfg, false);
    let now = s.now();
    // Two fragments: 6 + 6 > 10; only the second header is needed to refuse.
    let mut input = c(false, Opcode::Binary, b"aaaaaa");
    let second = c(true, Opcode::Continuation, b"bbbbbb");
    input.extend_from_slice(&second[..6]); // its header only
    s.handle_input(now, &input);
    assert_eq!(
        frames(&s.take_output(now)),
        vec![(true, Opcode::Close, 1009u16.to_be_bytes().to_vec())]
    );
    s.handle_eof(now);
    let l = log.lock().unwrap();
    assert!(l.messages.is_empty());
    assert_eq!(
        ws_error(&l.lost),
        Some(WsError::MessageTooBig { limit: 10 })
    );
}

#[test]
fn invalid_utf8_is_refused_with_1007_as_soon_as_it_arrives() {
    // A two-byte character split across fragments is fine...
    let (mut s, log) = server(false);
    let now = s.now();
    let e = "é".as_bytes();
    let mut input = c(false, Opcode::Text, &[b'a', e[0]]);
    input.extend(c(true, Opcode::Continuation, &[e[1]]));
    s.handle_input(now, &input);
    assert_eq!(log.lock().unwrap().messages[0].1, "aé".as_bytes());
    // ...a bad byte in the first fragment fails at once, before FIN.
    let (mut s, log) = server(false);
    s.handle_input(now, &c(false, Opcode::Text, &[b'a', 0xFF]));
    assert_eq!(
        frames(&s.take_output(now)),
        vec![(true, Opcode::Close, 1007u16.to_be_bytes().to_vec())]
    );
    s.handle_eof(now);
    assert_eq!(
        ws_error(&log.lock().unwrap().lost),
        Some(WsError::InvalidUtf8)
    );
    // ...and a message that ends inside a character fails at its end.
    let (mut s, log) = server(false);
    s.handle_input(now, &c(true, Opcode::Text, &[b'a', e[0]]));
    assert_eq!(frames(&s.take_output(now))[0].2, 1007u16.to_be_bytes());
    s.handle_eof(now);
    assert_eq!(
        ws_error(&log.lock().unwrap().lost),
        Some(WsError::InvalidUtf8)
    );
}

/// Each bad frame fails the connection with its typed error and close code.
#[test]
fn protocol_errors_close_with_their_code_and_typed_error() {
    let cases: Vec<(&str, Vec<u8>, WsError, u16)> = vec![
        (
            "rsv1",
            vec![0xC2, 0x80, 0, 0, 0, 0],
            WsError::ReservedBits,
            1002,
        ),
        (
            "rsv3",
            vec![0x92, 0x80, 0, 0, 0, 0],
            WsError::ReservedBits,
            1002,
        ),
        (
            "opcode 3",
            vec![0x83, 0x80, 0, 0, 0, 0],
            WsError::ReservedOpcode(3),
            1002,
        ),
        (
            "opcode 0xB",
            vec![0x8B, 0x80, 0, 0, 0, 0],
            WsError::ReservedOpcode(0xB),
            1002,
        ),
        (
            "fragmented ping",
            c(false, Opcode::Ping, b""),
            WsError::FragmentedControl,
            1002,
        ),
        (
            "long ping",
            vec![0x89, 0xFE, 0, 126],
            WsError::ControlTooLong,
            1002,
        ),
        (
            "unmasked",
            frame(true, Opcode::Binary, b"x", None),
            WsError::UnmaskedFrame,
            1002,
        ),
        (
            "continuation first",
            c(true, Opcode::Continuation, b"x"),
            WsError::UnexpectedContinuation,
            1002,
        ),
        (
            "new message in fragments",
            [c(false, Opcode::Text, b"a"), c(true, Opcode::Binary, b"b")].concat(),
            WsError::UnfinishedMessage,
            1002,
        ),
        (
            "close of 1 byte",
            c(true, Opcode::Close, &[3]),
            WsError::InvalidClose(None),
            1002,
        ),
        (
            "close code 1005",
            c(true, Opcode::Close, &close_payload(1005, "")),
            WsError::InvalidClose(Some(1005)),
            1002,
        ),
        (
            "close code 999",
            c(true, Opcode::Close, &close_payload(999, "")),
            WsError::InvalidClose(Some(999)),
            1002,
        ),
        (
            "close reason not UTF-8",
            c(true, Opcode::Close, &[0x03, 0xE8, 0xFF]),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            "non-minimal length",
            vec![0x82, 0xFE, 0, 5],
            WsError::NonMinimalLength,
            1002,
        ),
    ];
    for (name, input, want, code) in cases {
        let (mut s, log) = server(false);
        let now = s.now();
        s.handle_input(now, &input);
        let out = frames(&s.take_output(now));
        assert_eq!(out.len(), 1, "{name}: {out:?}");
        assert_eq!(out[0].1, Opcode::Close, "{name}");
        assert_eq!(out[0].2[..2], code.to_be_bytes(), "{name}");
        s.handle_eof(now);
        assert!(s.finished().is_some(), "{name}: the stream is closed");
        let l = log.lock().unwrap();
        assert!(l.messages.is_empty(), "{name}");
        assert_eq!(ws_error(&l.lost), Some(want), "{name}");
    }
}

#[test]
fn a_client_refuses_masked_frames_from_the_server() {
    let (r, log) = rec(false);
    let mut s = Stack::memory(Box::new(WebSocket::new(
        Role::Client,
        r,
        WsConfig::default(),
    )));
    let now = s.now();
    s.handle_input(now, &c(true, Opcode::Binary, b"x"));
    let out = frames(&s.take_output(now));
    assert_eq!(
        out,
        vec![(true, Opcode::Close, 1002u16.to_be_bytes().to_vec())]
    );
    s.handle_eof(now);
    assert_eq!(
        ws_error(&log.lock().unwrap().lost),
        Some(WsError::MaskedFrame)
    );
}

#[test]
fn the_peers_close_is_echoed_and_ends_cleanly_for_1000() {
    let (mut s, log) = server(false);
    let now = s.now();
    s.handle_input(now, &c(true, Opcode::Close, &close_payload(1000, "done")));
    assert_eq!(
        frames(&s.take_output(now)),
        vec![(true, Opcode::Close, close_payload(1000, "done"))]
    );
    assert!(log.lock().unwrap().eof);
    assert!(
        s.finished().is_some(),
        "the stream is closed after the echo"
    );
    let l = log.lock().unwrap();
    assert!(matches!(l.lost, Some(Close::Done)), "{:?}", l.lost);
}

#[test]
fn another_close_code_reaches_the_protocol_as_peer_closed() {
    let (mut s, log) = server(false);
    let now = s.now();
    s.handle_input(now, &c(true, Opcode::Close, &close_payload(4001, "bye")));
    assert_eq!(frames(&s.take_output(now))[0].2, close_payload(4001, "bye"));
    let l = log.lock().unwrap();
    assert_eq!(
        ws_error(&l.lost),
        Some(WsError::PeerClosed {
            code: 4001,
            reason: "bye".into()
        })
    );
}

/// Closes with 4000 "bye" on its first message.
struct CloseOnFirst;

impl DatagramProtocol for CloseOnFirst {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {
        assert!(ws::close_with(t, 4000, "bye"));
        t.send(&Transmit::connected(b"dropped: after our close"));
    }
}

#[test]
fn a_local_close_sends_its_code_and_waits_for_the_peers() {
    let mut s = Stack::memory(Box::new(WebSocket::new(
        Role::Server,
        CloseOnFirst,
        WsConfig::default(),
    )));
    let now = s.now();
    s.handle_input(now, &c(true, Opcode::Text, b"hi"));
    assert_eq!(
        frames(&s.take_output(now)),
        vec![(true, Opcode::Close, close_payload(4000, "bye"))]
    );
    assert!(s.finished().is_none(), "waiting for the peer's close");
    s.handle_input(now, &c(true, Opcode::Close, &close_payload(4000, "")));
    assert!(s.take_output(now).is_empty(), "no second close frame");
    assert!(s.finished().is_some());
}

#[test]
fn a_close_the_peer_never_answers_times_out() {
    let cfg = WsConfig {
        close_timeout: Duration::from_secs(3),
        ..WsConfig::default()
    };
    let (r, log) = rec(false);
    let mut s = Stack::memory(Box::new(WebSocket::new(
        Role::Server,
        CloseOnFirstRec(r),
        cfg,
    )));
    let now = s.now();
    s.handle_input(now, &c(true, Opcode::Text, b"hi"));
    let due = s.next_deadline().expect("the close deadline");
    assert_eq!(due - now, Duration::from_secs(3));
    s.handle_timeout(due);
    assert!(s.finished().is_some());
    assert!(matches!(
        log.lock().unwrap().lost,
        Some(Close::Timeout(Timeout::CloseFlush))
    ));
}

/// A `Rec` that closes on its first message.
struct CloseOnFirstRec(Rec);

impl DatagramProtocol for CloseOnFirstRec {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.connection_lost(why)
    }
}

#[test]
fn a_stream_that_ends_without_a_close_frame_is_no_close_frame() {
    let (mut s, log) = server(false);
    let now = s.now();
    s.handle_input(now, &c(true, Opcode::Text, b"hi"));
    s.handle_eof(now);
    let l = log.lock().unwrap();
    assert!(l.eof);
    assert_eq!(ws_error(&l.lost), Some(WsError::NoCloseFrame));
}

#[test]
fn a_silent_peer_is_pinged_then_failed_with_1011() {
    let cfg = WsConfig {
        ping_interval: Some(Duration::from_secs(10)),
        ..WsConfig::default()
    };
    let (mut s, log) = server_with(cfg, false);
    let t0 = s.now();
    let first = s.next_deadline().unwrap();
    assert_eq!(first - t0, Duration::from_secs(10));
    s.handle_timeout(first);
    assert_eq!(frames(&s.take_output(first))[0].1, Opcode::Ping);
    // Any input (a pong here) resets the timer.
    let later = first + Duration::from_secs(5);
    s.handle_input(later, &c(true, Opcode::Pong, b"strata"));
    assert_eq!(s.next_deadline().unwrap() - later, Duration::from_secs(10));
    let second = s.next_deadline().unwrap();
    s.handle_timeout(second);
    assert_eq!(frames(&s.take_output(second))[0].1, Opcode::Ping);
    let third = s.next_deadline().unwrap();
    s.handle_timeout(third);
    assert_eq!(
        frames(&s.take_output(third)),
        vec![(true, Opcode::Close, 1011u16.to_be_bytes().to_vec())]
    );
    s.handle_eof(third);
    assert_eq!(
        ws_error(&log.lock().unwrap().lost),
        Some(WsError::PingTimeout)
    );
}

#[test]
fn a_read_pause_holds_the_next_message_until_resumed() {
    let log = Shared::default();
    let r = Rec {
        log: log.clone(),
        echo: false,
        pause_after_one: true,
    };
    let mut s = Stack::memory(Box::new(WebSocket::new(
        Role::Server,
        r,
        WsConfig::default(),
    )));
    let now = s.now();
    let input = [
        c(true, Opcode::Binary, b"one"),
        c(true, Opcode::Binary, b"two"),
    ]
    .concat();
    s.handle_input(now, &input);
    assert_eq!(log.lock().unwrap().messages.len(), 1);
    assert!(s.is_read_paused());
    let ws: &WebSocket<Rec> = s.protocol().expect("the layer");
    assert!(ws.pending_input() >= 5, "the second frame is held");
}

/// Sends the messages it is given on connect, then closes once every echo is in.
struct Talk {
    send: Vec<(MessageKind, Vec<u8>)>,
    log: Shared,
}

impl DatagramProtocol for Talk {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        for (kind, m) in &self.send {
            match kind {
                MessageKind::Text => {
                    ws::send_text(t, std::str::from_utf8(m).unwrap());
                }
                MessageKind::Binary => ws::send_binary(t, m),
            }
        }
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let kind = ws::message_kind(t);
        let mut l = self.log.lock().unwrap();
        for d in batch {
            l.messages.push((kind, d.data.to_vec()));
        }
        if l.messages.len() == self.send.len() {
            drop(l);
            t.close();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
}

fn talk_pair(seed: [u8; 32]) -> (Shared, Shared, Vec<u8>) {
    let client_log = Shared::default();
    let big = vec![0x5Au8; 200_000];
    let talk = Talk {
        send: vec![
            (MessageKind::Text, "hello".into()),
            (MessageKind::Binary, big.clone()),
        ],
        log: client_log.clone(),
    };
    let cfg = WsConfig {
        rng_seed: Some(seed),
        ..WsConfig::default()
    };
    let client = WebSocket::new(Role::Client, talk, cfg);
    let (r, server_log) = rec(true);
    let server = WebSocket::new(Role::Server, r, WsConfig::default());
    let mut pump = Pump::new(Box::new(client), Box::new(server));
    pump.run(Duration::from_secs(10));
    assert!(pump.a().finished().is_some() && pump.b().finished().is_some());
    let _ = big;
    let wire = pump
        .bytes_moved(strata::testing::Dir::AtoB)
        .to_be_bytes()
        .to_vec();
    (client_log, server_log, wire)
}

#[test]
fn a_client_and_a_server_talk_and_close_cleanly_in_memory() {
    let (client, server, _) = talk_pair([7; 32]);
    let c = client.lock().unwrap();
    assert_eq!(c.messages[0], (Some(MessageKind::Text), b"hello".to_vec()));
    assert_eq!(
        c.messages[1],
        (Some(MessageKind::Binary), vec![0x5A; 200_000])
    );
    assert!(matches!(c.lost, Some(Close::Done)), "{:?}", c.lost);
    let s = server.lock().unwrap();
    assert_eq!(s.messages.len(), 2);
    assert!(s.eof, "the client's close is the server's EOF");
    assert!(matches!(s.lost, Some(Close::Done)), "{:?}", s.lost);
}

/// Masking keys come from the seeded generator: the same seed gives the
/// same bytes on the wire, another seed other bytes.
#[test]
fn masking_keys_come_from_the_seeded_generator() {
    let bytes = |seed: [u8; 32]| {
        let cfg = WsConfig {
            rng_seed: Some(seed),
            ..WsConfig::default()
        };
        let mut s = Stack::memory(Box::new(WebSocket::new(
            Role::Client,
            Talk {
                send: vec![(MessageKind::Binary, b"same".to_vec())],
                log: Shared::default(),
            },
            cfg,
        )));
        let now = s.now();
        s.take_output(now)
    };
    let a = bytes([1; 32]);
    assert_eq!(a, bytes([1; 32]));
    assert_ne!(a, bytes([2; 32]));
    let f = ws::parse_header(&a).unwrap().unwrap().0;
    assert!(f.mask.is_some(), "a client masks");
    assert_ne!(&a[6..], b"same");
}

#[test]
fn a_shutdown_closes_with_1001_going_away() {
    let (mut s, _log) = server(false);
    let now = s.now();
    s.handle_shutdown(now);
    assert_eq!(
        frames(&s.take_output(now)),
        vec![(true, Opcode::Close, close_payload(1001, "going away"))]
    );
}

/// Pauses after each message; a wake resumes it.
struct PauseEach {
    log: Shared,
    wake: Arc<Mutex<Option<strata::Wake>>>,
}

impl DatagramProtocol for PauseEach {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        *self.wake.lock().unwrap() = Some(t.waker());
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            self.log
                .lock()
                .unwrap()
                .messages
                .push((ws::message_kind(t), d.data.to_vec()));
        }
        t.pause_reading();
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, _: strata::WakeRoute<'_>) {
        t.resume_reading();
    }
    fn eof_received(&mut self, _: &mut dyn DatagramTransport) {
        self.log.lock().unwrap().eof = true;
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
}

#[test]
fn an_eof_while_paused_still_delivers_the_messages_before_it() {
    let log = Shared::default();
    let wake = Arc::default();
    let p = PauseEach {
        log: log.clone(),
        wake: Arc::clone(&wake),
    };
    let mut s = Stack::memory(Box::new(WebSocket::new(
        Role::Server,
        p,
        WsConfig::default(),
    )));
    let now = s.now();
    let mut input = [
        c(true, Opcode::Binary, b"one"),
        c(true, Opcode::Binary, b"two"),
    ]
    .concat();
    input.extend_from_slice(&c(true, Opcode::Binary, b"cut")[..4]); // a partial frame
    s.handle_input(now, &input);
    s.handle_eof(now);
    assert_eq!(log.lock().unwrap().messages.len(), 1, "paused");
    assert!(!log.lock().unwrap().eof);
    for _ in 0..2 {
        wake.lock().unwrap().as_ref().unwrap().wake();
        s.handle_wakes(now);
    }
    let l = log.lock().unwrap();
    assert_eq!(l.messages.len(), 2, "the held message is delivered");
    assert!(l.eof, "then the end");
    assert_eq!(ws_error(&l.lost), Some(WsError::NoCloseFrame));
}

// --- permessage-deflate (RFC 7692) ---------------------------------------

/// A compressed frame as a client sends it: RSV1 on, masked.
fn deflated(op: Opcode, fin: bool, compressed: &[u8]) -> Vec<u8> {
    let mut f = c(fin, op, compressed);
    f[0] |= 0x40;
    f
}

fn deflate_server(echo: bool) -> (Stack, Shared) {
    let (r, log) = rec(echo);
    let ws = WebSocket::new(Role::Server, r, WsConfig::default()).with_deflate(Default::default());
    (Stack::memory(Box::new(ws)), log)
}

#[test]
fn deflated_messages_inflate_and_echoes_go_out_compressed() {
    let (mut s, log) = deflate_server(true);
    let now = s.now();
    // RFC 7692 §7.2.3.1: "Hello", compressed, in one frame; then in two
    // fragments (§7.2.3.3: RSV1 on the first only).
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut input = deflated(Opcode::Text, true, &hello);
    input.extend(deflated(Opcode::Text, false, &hello[..3]));
    input.extend(c(true, Opcode::Continuation, &hello[3..]));
    s.handle_input(now, &input);
    let l = log.lock().unwrap();
    assert_eq!(l.messages.len(), 2, "{:?}", l.messages);
    assert_eq!(l.messages[0], (Some(MessageKind::Text), b"Hello".to_vec()));
    assert_eq!(l.messages[1].1, b"Hello");
    drop(l);
    let out = s.take_output(now);
    assert_eq!(out[0], 0xC1, "FIN, RSV1, text");
}

#[test]
fn a_deflate_pair_in_memory_compresses_repetitive_messages() {
    let client_log = Shared::default();
    let text = "strata ".repeat(2000);
    let talk = Talk {
        send: vec![
            (MessageKind::Text, text.clone().into_bytes()),
            (MessageKind::Text, text.clone().into_bytes()),
        ],
        log: client_log.clone(),
    };
    let cfg = WsConfig {
        rng_seed: Some([9; 32]),
        ..WsConfig::default()
    };
    let client = WebSocket::new(Role::Client, talk, cfg).with_deflate(Default::default());
    let (r, server_log) = rec(true);
    let server =
        WebSocket::new(Role::Server, r, WsConfig::default()).with_deflate(Default::default());
    let mut pump = Pump::new(Box::new(client), Box::new(server));
    pump.run(Duration::from_secs(10));
    let c = client_log.lock().unwrap();
    assert_eq!(c.messages.len(), 2);
    assert!(c.messages.iter().all(|m| m.1 == text.as_bytes()));
    assert!(matches!(c.lost, Some(Close::Done)), "{:?}", c.lost);
    assert_eq!(server_log.lock().unwrap().messages.len(), 2);
    let moved = pump.bytes_moved(strata::testing::Dir::AtoB);
    assert!(moved < 1000, "28,000 bytes of text went as {moved} bytes");
}

#[test]
fn deflate_refusals_rsv1_on_a_continuation_bad_data_and_a_bomb() {
    // RSV1 on a continuation frame.
    let (mut s, log) = deflate_server(false);
    let now = s.now();
    let mut input = c(false, Opcode::Binary, b"a");
    input.extend(deflated(Opcode::Continuation, true, b"b"));
    s.handle_input(now, &input);
    assert_eq!(frames(&s.take_output(now))[0].2, 1002u16.to_be_bytes());
    s.handle_eof(now);
    assert_eq!(
        ws_error(&log.lock().unwrap().lost),
        Some(WsError::ReservedBits)
    );
    // Data that does not inflate (a reserved block type).
    let (mut s, log) = deflate_server(false);
    s.handle_input(now, &deflated(Opcode::Binary, true, &[0xff, 0xff, 0xff]));
    assert_eq!(frames(&s.take_output(now))[0].2, 1007u16.to_be_bytes());
    s.handle_eof(now);
    assert_eq!(
        ws_error(&log.lock().unwrap().lost),
        Some(WsError::BadCompression)
    );
    // A small message that inflates past max_message: 1009.
    let (r, log) = rec(false);
    let cfg = WsConfig {
        max_message: 4096,
        ..WsConfig::default()
    };
    let ws = WebSocket::new(Role::Server, r, cfg).with_deflate(Default::default());
    let mut s = Stack::memory(Box::new(ws));
    let mut z = flate2::Compress::new(flate2::Compression::best(), false);
    let mut bomb = Vec::with_capacity(1 << 16);
    z.compress_vec(&vec![0u8; 1 << 20], &mut bomb, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(bomb.len() < 4096, "{}", bomb.len());
    s.handle_input(now, &deflated(Opcode::Binary, true, &bomb));
    assert_eq!(frames(&s.take_output(now))[0].2, 1009u16.to_be_bytes());
    s.handle_eof(now);
    assert_eq!(
        ws_error(&log.lock().unwrap().lost),
        Some(WsError::MessageTooBig { limit: 4096 })
    );
}

/// One message protocol, two message transports: the same `Rec` echo runs
/// over `LengthPrefixed` and over `WebSocket`, unchanged.
#[test]
fn the_same_message_protocol_runs_over_length_prefixed_and_websocket() {
    use strata::framing::LengthPrefixed;
    let (r, framed_log) = rec(true);
    let mut framed = Stack::memory(Box::new(LengthPrefixed::new(r)));
    let now = framed.now();
    framed.handle_input(now, &[0, 0, 0, 3, b'a', b'b', b'c']);
    assert_eq!(framed.take_output(now), [0, 0, 0, 3, b'a', b'b', b'c']);
    let (mut ws_stack, ws_log) = server(true);
    ws_stack.handle_input(now, &c(true, Opcode::Binary, b"abc"));
    assert_eq!(
        frames(&ws_stack.take_output(now)),
        vec![(true, Opcode::Binary, b"abc".to_vec())]
    );
    let (f, w) = (framed_log.lock().unwrap(), ws_log.lock().unwrap());
    assert_eq!(f.messages[0].1, w.messages[0].1);
    assert_eq!(f.messages[0].0, None, "no kinds over plain frames");
    assert_eq!(w.messages[0].0, Some(MessageKind::Binary));
    assert_eq!((f.chain[0], w.chain[0]), ("frames", "websocket"));
}

/// Records the WebSocket layer's counters each time messages arrive.
struct Counting(Arc<Mutex<Option<strata::stats::Counters>>>);
impl DatagramProtocol for Counting {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            t.send(&Transmit::connected(d.data));
        }
        let i: &dyn strata::Introspect = t;
        let ws = i.layer_stats().into_iter().find(|l| l.layer == "websocket");
        *self.0.lock().unwrap() = ws.and_then(|l| l.counters);
    }
}

#[test]
fn the_layer_counts_its_bytes_and_frames_both_ways() {
    let seen = Arc::new(Mutex::new(None));
    let ws = WebSocket::new(Role::Server, Counting(seen.clone()), WsConfig::default());
    let mut s = Stack::memory(Box::new(ws));
    let now = s.now();
    // A ping (answered by the layer) and a two-fragment binary message.
    let mut input = c(true, Opcode::Ping, b"p");
    input.extend(c(false, Opcode::Binary, b"abc"));
    input.extend(c(true, Opcode::Continuation, b"de"));
    s.handle_input(now, &input);
    let out = s.take_output(now);
    let got = frames(&out);
    assert_eq!(got.len(), 2, "the pong and the echo: {got:?}");
    let c = seen.lock().unwrap().expect("the ws layer answers Counters");
    assert_eq!(c.bytes_in, input.len() as u64);
    assert_eq!(c.frames_in, 3);
    // At the time of the callback: the pong went out before the message
    // arrived, the echo inside the callback.
    assert_eq!(c.frames_out, 2);
    assert_eq!(c.bytes_out, out.len() as u64);
}
