//! The chat room: broadcast through wake handles, bounded inboxes, the
//! "missed" notice, and the stall abort, all under virtual time.

use std::time::Duration;

use strata::testing::epoch;
use strata::{AbortReason, Close, Stack, StackConfig};
use strata_cli::apps::{ChatConfig, ChatRoom};

const HIGH: usize = 4096;

fn stack_cfg() -> StackConfig {
    StackConfig {
        high_water: HIGH,
        low_water: 1024,
        ..StackConfig::default()
    }
}

fn chat_cfg() -> ChatConfig {
    ChatConfig {
        inbox_limit: 8 * 1024,
        ..ChatConfig::default()
    }
}

struct Client {
    s: Stack,
    got: Vec<u8>,
    reads: bool,
}

fn join(room: &ChatRoom, reads: bool) -> Client {
    let mut c = Client {
        s: Stack::memory_with(Box::new(room.member()), stack_cfg()),
        got: Vec::new(),
        reads,
    };
    let now = c.s.now();
    if reads {
        c.got = c.s.take_output(now);
    }
    c
}

/// Delivers every pending wake; clients that read take their output.
fn pump(clients: &mut [Client], now: std::time::Instant) {
    loop {
        for c in clients.iter_mut() {
            c.s.handle_wakes(now);
            if c.reads {
                let out = c.s.take_output(now);
                c.got.extend(out);
            }
        }
        let pending = clients
            .iter()
            .any(|c| c.s.wake_hub().is_some_and(|h| h.is_pending()));
        if !pending {
            return;
        }
    }
}

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8(b.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The messages from `from`, without the name prefix.
fn said_by(b: &[u8], from: &str) -> Vec<String> {
    let prefix = format!("{from}: ");
    lines(b)
        .into_iter()
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

fn missed(b: &[u8]) -> u64 {
    lines(b)
        .iter()
        .filter_map(|l| l.strip_prefix("*** you missed "))
        .map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn a_member_that_never_reads_costs_bounded_memory_and_loses_nothing_for_others() {
    let room = ChatRoom::new(chat_cfg());
    let mut cs = vec![join(&room, true), join(&room, true), join(&room, false)];
    let now = epoch();
    pump(&mut cs, now);
    let (a, b) = ("memory:2#1", "memory:2#2");
    let pad = "x".repeat(40);
    let longest = format!("{a}: a0999 {pad}\n").len();
    let bound = chat_cfg().inbox_limit + HIGH + longest;

    let mut expect_a = Vec::new();
    let mut expect_b = Vec::new();
    for i in 0..1000 {
        let la = format!("a{i:04} {pad}");
        let lb = format!("b{i:04} {pad}");
        cs[0].s.handle_input(now, format!("{la}\r\n").as_bytes());
        cs[1].s.handle_input(now, format!("{lb}\n").as_bytes());
        expect_a.push(la);
        expect_b.push(lb);
        pump(&mut cs, now);
        let held = cs[2].s.pending_output() + room.stats()[2].inbox_bytes;
        assert!(held <= bound, "stuck member holds {held} > {bound}");
    }
    assert_eq!(said_by(&cs[1].got, a), expect_a, "b lost some of a's lines");
    assert_eq!(said_by(&cs[0].got, b), expect_b, "a lost some of b's lines");
    let dropped = room.stats()[2].dropped;
    assert!(dropped > 0, "the stuck member should have missed messages");
    assert!(
        cs[2].s.finished().is_none(),
        "no virtual time passed: no stall abort"
    );

    // The stuck member drains: it gets what fit, in order, then the notice.
    let mut got = std::mem::take(&mut cs[2].got);
    loop {
        let out = cs[2].s.take_output(now);
        if out.is_empty() && room.stats()[2].inbox_bytes == 0 && cs[2].s.pending_output() == 0 {
            break;
        }
        got.extend(out);
    }
    let (from_a, from_b) = (said_by(&got, a), said_by(&got, b));
    assert_eq!(missed(&got), dropped);
    assert_eq!(from_a.len() + from_b.len() + dropped as usize, 2000);
    assert!(is_subsequence(&from_a, &expect_a) && is_subsequence(&from_b, &expect_b));
    // Once drained it is fully served again.
    cs[2].reads = true;
    cs[0].s.handle_input(now, b"after\n");
    pump(&mut cs, now);
    assert_eq!(said_by(&cs[2].got, a), ["after"]);
    assert_eq!(room.stats()[2].inbox_bytes, 0);
}

fn is_subsequence(sub: &[String], all: &[String]) -> bool {
    let mut it = all.iter();
    sub.iter().all(|s| it.any(|x| x == s))
}

/// Fills `stuck`'s transport and inbox by talking from `talker`.
fn clog(cs: &mut [Client], now: std::time::Instant) {
    let line = format!("{}\n", "y".repeat(100));
    for _ in 0..200 {
        cs[0].s.handle_input(now, line.as_bytes());
        pump(cs, now);
    }
}

#[test]
fn a_member_stuck_for_the_stall_timeout_is_aborted() {
    let room = ChatRoom::new(chat_cfg());
    let mut cs = vec![join(&room, true), join(&room, false)];
    let t0 = epoch();
    clog(&mut cs, t0);
    assert!(room.stats()[1].inbox_bytes > 0);
    let stall = chat_cfg().stall_timeout;
    assert_eq!(cs[1].s.next_deadline(), Some(t0 + stall));

    cs[1]
        .s
        .handle_timeout(t0 + stall - Duration::from_millis(1));
    assert!(cs[1].s.finished().is_none());
    cs[1].s.handle_timeout(t0 + stall);
    match cs[1].s.finished() {
        Some(Close::Aborted {
            layer: "chat",
            reason: AbortReason::SlowPeer,
        }) => {}
        other => panic!("expected a SlowPeer abort, got {other:?}"),
    }
    // It left the room, and the others were told.
    assert_eq!(room.stats().len(), 1);
    pump(&mut cs, t0 + stall);
    assert!(lines(&cs[0].got).contains(&"*** memory:2#2 left".to_owned()));
}

#[test]
fn a_slow_member_that_makes_progress_is_not_aborted() {
    let room = ChatRoom::new(chat_cfg());
    let mut cs = vec![join(&room, true), join(&room, false)];
    let stall = chat_cfg().stall_timeout;
    let mut now = epoch();
    for _ in 0..6 {
        clog(&mut cs, now);
        // Reads a little, less than the stall timeout after the last read.
        now += stall / 2;
        cs[1].s.handle_timeout(now);
        assert!(cs[1].s.finished().is_none());
        cs[1].s.take_output(now);
        assert!(room.stats()[1].inbox_bytes > 0, "still behind");
    }
    assert!(cs[1].s.finished().is_none());
}

#[test]
fn lines_joins_and_leaves() {
    let room = ChatRoom::new(ChatConfig::default());
    let mut cs = vec![join(&room, true), join(&room, true)];
    let now = epoch();
    pump(&mut cs, now);
    assert_eq!(
        lines(&cs[0].got),
        [
            "*** welcome memory:2#1, 0 others here",
            "*** memory:2#2 joined"
        ]
    );
    assert_eq!(lines(&cs[1].got), ["*** welcome memory:2#2, 1 other here"]);
    cs[0].got.clear();
    cs[1].got.clear();

    // LF and CRLF, lines split across reads, empty lines skipped, control
    // characters neutralised; nothing is echoed to the sender.
    cs[0].s.handle_input(now, b"hel");
    cs[0].s.handle_input(now, b"lo\r");
    cs[0]
        .s
        .handle_input(now, b"\nsecond\n\n\r\nbell\x07\x1b[2J\ttab\nunterminated");
    pump(&mut cs, now);
    assert_eq!(
        said_by(&cs[1].got, "memory:2#1"),
        ["hello", "second", "bell??[2J\ttab"]
    );
    assert!(cs[0].got.is_empty());

    // EOF flushes the partial line, closes, and the room hears the leave.
    cs[0].s.handle_eof(now);
    pump(&mut cs, now);
    assert!(cs[0].s.finished().unwrap().is_clean());
    assert_eq!(
        lines(&cs[1].got)[3..],
        ["memory:2#1: unterminated", "*** memory:2#1 left"]
    );
    assert_eq!(room.stats().len(), 1);
}

#[test]
fn an_overlong_line_aborts_its_sender() {
    let cfg = ChatConfig {
        max_line: 16,
        ..ChatConfig::default()
    };
    let room = ChatRoom::new(cfg);
    let mut cs = vec![join(&room, true), join(&room, true)];
    let now = epoch();
    // Exactly the limit passes, CRLF split across reads included.
    cs[0].s.handle_input(now, b"0123456789abcdef\r");
    cs[0].s.handle_input(now, b"\n0123456789abcdef\n");
    pump(&mut cs, now);
    assert_eq!(said_by(&cs[1].got, "memory:2#1").len(), 2);
    // One byte more, without a newline yet, is too long.
    cs[0].s.handle_input(now, b"0123456789abcdefg");
    cs[0].s.handle_input(now, b"h");
    match cs[0].s.finished() {
        Some(Close::Aborted {
            layer: "chat",
            reason: AbortReason::LineTooLong { limit: 16 },
        }) => {}
        other => panic!("expected LineTooLong, got {other:?}"),
    }
    // Also when the whole line arrives in one read.
    let mut c = join(&room, true);
    c.s.handle_input(now, b"0123456789abcdefg\n");
    assert!(c.s.finished().is_some_and(|w| !w.is_clean()));
}
