//! The `Lines` layer: splitting, limits, read pause, swaps, capabilities.
//! The upgrade tests run at every depth (memory bottom, TLS, TLS in TLS, an
//! HTTP/2 CONNECT stream): `Lines` hands the swap to the swap point below it.

mod depth;
mod tls_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use depth::{Depth, Rig, DEPTHS};
use strata::framing::{send_line, Delimiter, LineProtocol, Lines, LinesConfig};
use strata::testing::MemoryTransport;
use strata::{
    AbortReason, Addr, Close, HalfClose, PeerAddr, Stack, StreamLayer, StreamProtocol,
    StreamTransport, SwapRequest, Wake, WakeRoute,
};

#[derive(Debug, Default)]
struct Log {
    lines: Vec<Vec<u8>>,
    eof: Option<Vec<u8>>,
    lost: Option<String>,
    chain: Vec<&'static str>,
    waker: Option<Wake>,
}

/// Records what it sees; pauses on `PAUSE`, asks for an XOR layer below on
/// `UPGRADE`, resumes on a wake, echoes `ECHO ...` lines.
struct Rec {
    log: Arc<Mutex<Log>>,
    deadline: Option<Instant>,
}

fn rec() -> (Rec, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let r = Rec {
        log: log.clone(),
        deadline: None,
    };
    (r, log)
}

impl LineProtocol for Rec {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut log = self.log.lock().unwrap();
        log.chain = t.layer_chain();
        log.waker = Some(t.waker());
    }
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        {
            let mut log = self.log.lock().unwrap();
            log.lines.push(line.to_vec());
            log.chain = t.layer_chain();
        }
        match line {
            b"PAUSE" => t.pause_reading(),
            b"UPGRADE" => t
                .request_swap(SwapRequest::insert_below(xor_layer), Vec::new())
                .unwrap(),
            _ if line.starts_with(b"ECHO ") => send_line(t, &line[5..]),
            _ => {}
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, unterminated: &[u8]) {
        self.log.lock().unwrap().eof = Some(unterminated.to_vec());
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.to_string());
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.deadline = None;
        t.write(b"tick");
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _route: WakeRoute<'_>) {
        t.resume_reading();
    }
}

fn lines_of(log: &Arc<Mutex<Log>>) -> Vec<String> {
    let log = log.lock().unwrap();
    log.lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

fn stack_with(cfg: LinesConfig) -> (Stack, Arc<Mutex<Log>>) {
    let (r, log) = rec();
    (Stack::memory(Box::new(Lines::with_config(r, cfg))), log)
}

fn cfg(delim: &'static [u8], max_line: usize) -> LinesConfig {
    LinesConfig {
        delimiter: Delimiter::new(delim).unwrap(),
        max_line,
    }
}

#[test]
fn lines_split_at_every_pair_of_boundaries() {
    for delim in [&b"\r\n"[..], b"\n", b"<END>"] {
        let d = std::str::from_utf8(delim).unwrap();
        let text = format!("alpha{d}{d}beta gamma{d}x{d}");
        let input = text.as_bytes();
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let (mut s, log) = stack_with(cfg(delim, 64));
                let now = s.now();
                for chunk in [&input[..i], &input[i..j], &input[j..]] {
                    s.handle_input(now, chunk);
                }
                assert_eq!(
                    lines_of(&log),
                    ["alpha", "", "beta gamma", "x"],
                    "{d:?} {i} {j}"
                );
                assert!(s.finished().is_none());
            }
        }
    }
}

#[test]
fn several_lines_in_one_chunk_and_a_lone_cr_stays_in_the_line() {
    let (mut s, log) = stack_with(LinesConfig::default());
    let now = s.now();
    s.handle_input(now, b"a\rb\r\nc\r\n\r\nd\n\r\ntail");
    assert_eq!(lines_of(&log), ["a\rb", "c", "", "d\n"]);
    s.handle_eof(now);
    assert_eq!(log.lock().unwrap().eof.as_deref(), Some(&b"tail"[..]));
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn send_line_uses_the_configured_delimiter() {
    let (mut s, _log) = stack_with(cfg(b"\n", 64));
    let now = s.now();
    s.handle_input(now, b"ECHO one\nECHO two\n");
    assert_eq!(s.take_output(now), b"one\ntwo\n");
    let (mut s, _log) = stack_with(LinesConfig::default());
    s.handle_input(now, b"ECHO three\r\n");
    assert_eq!(s.take_output(now), b"three\r\n");
}

#[test]
fn a_line_at_the_limit_passes_one_over_aborts() {
    // Exactly max_line, with a two-byte delimiter split across chunks.
    let (mut s, log) = stack_with(cfg(b"\r\n", 8));
    let now = s.now();
    s.handle_input(now, b"12345678\r");
    s.handle_input(now, b"\n");
    assert_eq!(lines_of(&log), ["12345678"]);
    assert!(s.finished().is_none());

    // One over, with its delimiter in the same chunk.
    s.handle_input(now, b"123456789\r\nafter\r\n");
    assert_eq!(lines_of(&log), ["12345678"]);
    assert_line_too_long(&s, 8);
    assert!(log
        .lock()
        .unwrap()
        .lost
        .as_deref()
        .unwrap()
        .contains("longer than 8"));
    s.handle_input(now, b"more\r\n");
    assert_eq!(lines_of(&log).len(), 1, "no delivery after the abort");
}

#[test]
fn an_overlong_line_aborts_before_its_delimiter_and_bounds_the_buffer() {
    let max = 8;
    for delim in [&b"\n"[..], b"\r\n", b"<END>"] {
        let mut lines = Lines::with_config(rec().0, cfg(delim, max));
        let mut t = MemoryTransport::new();
        lines.connection_made(&mut t);
        let mut fed = 0;
        while t.aborted().is_none() {
            assert!(lines.pending_input() < max + delim.len());
            lines.data_received(&mut t, b"x");
            fed += 1;
        }
        // Aborted at the first byte that no delimiter could save.
        assert_eq!(fed, max + delim.len());
        assert!(matches!(
            t.aborted(),
            Some(Close::Aborted {
                layer: "lines",
                reason: AbortReason::LineTooLong { limit: 8 }
            })
        ));
        assert_eq!(lines.pending_input(), 0);
    }
    // A single huge chunk with no delimiter aborts too.
    let (mut s, _log) = stack_with(cfg(b"\r\n", 1024));
    let now = s.now();
    s.handle_input(now, &vec![b'z'; 1 << 20]);
    assert_line_too_long(&s, 1024);
}

fn assert_line_too_long(s: &Stack, limit: usize) {
    match s.finished() {
        Some(Close::Aborted {
            layer: "lines",
            reason: AbortReason::LineTooLong { limit: l },
        }) => {
            assert_eq!(*l, limit)
        }
        other => panic!("expected a LineTooLong abort, got {other:?}"),
    }
}

#[test]
fn pause_stops_delivery_in_the_middle_of_a_chunk() {
    let (mut s, log) = stack_with(LinesConfig::default());
    let now = s.now();
    s.handle_input(now, b"a\r\nPAUSE\r\nc\r\nd");
    assert_eq!(lines_of(&log), ["a", "PAUSE"]);
    assert!(s.is_read_paused(), "the pause is forwarded below");
    // More input and the EOF wait behind the kept lines.
    s.handle_input(now, b"\r\ne\r\n");
    s.handle_eof(now);
    assert_eq!(lines_of(&log), ["a", "PAUSE"]);
    assert!(log.lock().unwrap().eof.is_none());

    let waker = log.lock().unwrap().waker.clone().unwrap();
    waker.wake();
    s.handle_wakes(now);
    assert_eq!(lines_of(&log), ["a", "PAUSE", "c", "d", "e"]);
    assert_eq!(log.lock().unwrap().eof.as_deref(), Some(&b""[..]));
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn pause_twice_in_one_chunk_at_unit_level() {
    let (r, log) = rec();
    let mut lines = Lines::new(r);
    let mut t = MemoryTransport::new();
    lines.connection_made(&mut t);
    lines.data_received(&mut t, b"PAUSE\r\nx\r\nPAUSE\r\ny\r\npart");
    assert_eq!(lines_of(&log), ["PAUSE"]);
    assert!(t.is_read_paused());
    lines.on_wake(&mut t, WakeRoute::new(&[]));
    assert_eq!(lines_of(&log), ["PAUSE", "x", "PAUSE"]);
    assert!(t.is_read_paused());
    lines.on_wake(&mut t, WakeRoute::new(&[]));
    assert_eq!(lines_of(&log), ["PAUSE", "x", "PAUSE", "y"]);
    assert!(!t.is_read_paused());
    assert_eq!(lines.pending_input(), 4);
    lines.data_received(&mut t, b"ial\r\n");
    assert_eq!(lines_of(&log).last().unwrap(), "partial");
}

#[test]
fn swap_forwards_the_rest_of_the_chunk_as_leftover() {
    let (r, log) = rec();
    let mut lines = Lines::new(r);
    let mut t = MemoryTransport::new();
    lines.connection_made(&mut t);
    lines.data_received(
        &mut t,
        b"hello\r\nUPGRADE\r\n\x01\x02secret\r\nnot a line\r\n",
    );
    assert_eq!(lines_of(&log), ["hello", "UPGRADE"]);
    let swaps = t.take_swaps();
    assert_eq!(swaps.len(), 1);
    assert!(matches!(swaps[0].0, SwapRequest::InsertBelow(_)));
    assert_eq!(swaps[0].1, b"\x01\x02secret\r\nnot a line\r\n");
    assert_eq!(lines.pending_input(), 0, "the bytes went with the swap");
    // Input that arrives afterwards (through the new layer) is split again.
    lines.data_received(&mut t, b"next\r\n");
    assert_eq!(lines_of(&log), ["hello", "UPGRADE", "next"]);
}

#[test]
fn swap_leftover_follows_the_protocols_own_leftover() {
    struct Swapper;
    impl LineProtocol for Swapper {
        fn line_received(&mut self, t: &mut dyn StreamTransport, _line: &[u8]) {
            t.request_swap(SwapRequest::insert_below(xor_layer), b"mine|".to_vec())
                .unwrap();
        }
        fn eof_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    }
    let mut lines = Lines::new(Swapper);
    let mut t = MemoryTransport::new();
    lines.connection_made(&mut t);
    // Split so that the line is completed from the kept buffer (slow path).
    lines.data_received(&mut t, b"GO");
    lines.data_received(&mut t, b"\r\nrest");
    assert_eq!(t.take_swaps()[0].1, b"mine|rest");
}

fn rig_with(depth: Depth) -> (Rig, Arc<Mutex<Log>>) {
    let (r, log) = rec();
    let lines = Lines::with_config(r, LinesConfig::default());
    (Rig::new(depth, Box::new(lines)), log)
}

#[test]
fn upgrade_inserts_a_layer_below_lines_and_feeds_it_the_leftover() {
    for depth in DEPTHS {
        let (mut rig, log) = rig_with(depth);
        let mut input = b"one\r\nUPGRADE\r\n".to_vec();
        input.extend(xor(b"two\r\nECHO three\r\nthr"));
        rig.send(&input);
        rig.send(&xor(b"ee\r\n"));
        assert_eq!(
            lines_of(&log),
            ["one", "UPGRADE", "two", "ECHO three", "three"],
            "{depth:?}"
        );
        // The echo went through the inserted layer.
        assert_eq!(rig.output(), xor(b"three\r\n"), "{depth:?}");
        let mut chain = vec!["lines", "xor"];
        chain.extend(depth.layers());
        assert_eq!(log.lock().unwrap().chain, chain, "{depth:?}");
        rig.send_eof();
        assert_eq!(
            log.lock().unwrap().eof.as_deref(),
            Some(&b""[..]),
            "{depth:?}"
        );
        assert_eq!(
            log.lock().unwrap().lost.as_deref(),
            Some("closed cleanly"),
            "{depth:?}"
        );
        if depth == Depth::Tcp {
            assert!(rig.pump.b().finished().unwrap().is_clean());
        }
    }
}

#[test]
fn eof_right_after_an_upgrade_line_reaches_the_protocol_through_the_new_layer() {
    let (mut s, log) = stack_with(LinesConfig::default());
    let now = s.now();
    s.handle_input(now, b"UPGRADE\r\n");
    s.handle_eof(now);
    assert_eq!(log.lock().unwrap().eof.as_deref(), Some(&b""[..]));
    s.handle_input(now, b"ignored after EOF");
    assert!(s.finished().unwrap().is_clean());
    for depth in DEPTHS {
        let (mut rig, log) = rig_with(depth);
        rig.send(b"UPGRADE\r\n");
        rig.send_eof();
        assert_eq!(
            log.lock().unwrap().eof.as_deref(),
            Some(&b""[..]),
            "{depth:?}"
        );
        assert_eq!(
            log.lock().unwrap().lost.as_deref(),
            Some("closed cleanly"),
            "{depth:?}"
        );
    }
}

#[test]
fn the_view_is_a_real_layer_view() {
    let (_s, log) = stack_with(LinesConfig::default());
    assert_eq!(log.lock().unwrap().chain, ["lines", "memory"]);
    struct Caps;
    impl LineProtocol for Caps {
        fn line_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
            assert_eq!(t.get::<PeerAddr>(), Some(&PeerAddr(Addr::Memory(2))));
            assert_eq!(t.get::<HalfClose>(), Some(&HalfClose(true)));
            assert_eq!(t.get::<Delimiter>(), Some(&Delimiter::LF));
            assert!(t.writable());
            t.write(b"ok");
            assert_eq!(t.buffered(), 2);
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
            t.write_eof();
        }
    }
    let mut s2 = Stack::memory(Box::new(Lines::with_config(Caps, cfg(b"\n", 16))));
    let now = s2.now();
    s2.handle_input(now, b"x\n");
    assert_eq!(s2.take_output(now), b"ok");
    s2.handle_eof(now);
    assert!(s2.should_shutdown_write(), "write_eof passes through");
}

#[test]
fn deadlines_pass_through_to_the_inner_protocol() {
    let (mut r, _log) = rec();
    let at = strata::testing::epoch() + Duration::from_secs(5);
    r.deadline = Some(at);
    let mut s = Stack::memory(Box::new(Lines::new(r)));
    assert_eq!(s.next_deadline(), Some(at));
    s.handle_timeout(at);
    assert_eq!(s.take_output(at), b"tick");
    assert_eq!(s.next_deadline(), None);
}

// An XOR "cipher" layer for the swap test: a real StreamLayer inserted below
// `Lines` at run time.

const KEY: u8 = 0x5a;

fn xor(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ KEY).collect()
}

fn xor_layer(inner: Box<dyn StreamProtocol>) -> Box<dyn StreamLayer> {
    Box::new(Xor { inner })
}

struct Xor {
    inner: Box<dyn StreamProtocol>,
}

struct XorView<'a> {
    below: &'a mut dyn StreamTransport,
}

impl strata::Introspect for XorView<'_> {
    fn name(&self) -> &'static str {
        "xor"
    }
    fn below(&self) -> Option<&dyn strata::Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for XorView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.below.write(&xor(data));
    }
    fn write_eof(&mut self) {
        self.below.write_eof();
    }
    fn close(&mut self) {
        self.below.close();
    }
    fn abort(&mut self, why: Close) {
        self.below.abort(why);
    }
    fn pause_reading(&mut self) {
        self.below.pause_reading();
    }
    fn resume_reading(&mut self) {
        self.below.resume_reading();
    }
    fn buffered(&self) -> usize {
        self.below.buffered()
    }
    fn writable(&self) -> bool {
        self.below.writable()
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker()
    }
}

impl StreamProtocol for Xor {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner
            .data_received(&mut XorView { below: t }, &xor(data));
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(&mut XorView { below: t });
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why);
    }
}

impl StreamLayer for Xor {
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        f(&mut XorView { below: t });
    }
}
