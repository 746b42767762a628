//! echo, discard and chargen over the in-memory stack: correct output, and
//! bounded memory when the client never reads.

use strata::{Stack, StackConfig};
use strata_cli::apps::{self, chargen, Chargen, Discard, Echo};

const CHUNK: usize = 8 * 1024;

fn small() -> StackConfig {
    StackConfig {
        high_water: 16 * 1024,
        low_water: 4 * 1024,
        ..StackConfig::default()
    }
}

/// Deterministic, non-repeating-looking input.
fn input(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn echo_of_a_client_that_never_reads_stays_bounded() {
    let cfg = small();
    let mut s = Stack::memory_with(Box::new(Echo::new()), cfg.clone());
    let now = s.now();
    let data = input(1024 * 1024);
    let mut sent = 0;
    // Like the driver: read only while the stack wants to.
    while sent < data.len() && s.wants_read() {
        s.handle_input(now, &data[sent..sent + CHUNK]);
        sent += CHUNK;
        assert!(s.pending_output() <= cfg.high_water + CHUNK);
    }
    assert!(
        sent < data.len(),
        "echo kept reading a client that never reads"
    );
    assert!(s.is_read_paused());
    assert!(s.pending_output() >= cfg.high_water);
    assert!(s.pending_output() <= cfg.high_water + CHUNK);

    // The client reads: echo resumes, and nothing is lost or reordered.
    let mut echoed = Vec::new();
    while echoed.len() < data.len() {
        echoed.extend(s.take_output(now));
        while sent < data.len() && s.wants_read() {
            s.handle_input(now, &data[sent..sent + CHUNK]);
            sent += CHUNK;
            assert!(s.pending_output() <= cfg.high_water + CHUNK);
        }
    }
    assert!(echoed == data, "echo changed the bytes");
    s.handle_eof(now);
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn echo_answers_then_closes_on_eof() {
    let mut s = Stack::memory(Box::new(Echo::new()));
    let now = s.now();
    s.handle_input(now, b"one ");
    s.handle_input(now, b"two");
    s.handle_eof(now);
    assert!(s.finished().is_none(), "the echo is flushed before closing");
    assert_eq!(s.take_output(now), b"one two");
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn discard_writes_nothing_and_closes_on_eof() {
    let mut s = Stack::memory(Box::new(Discard));
    let now = s.now();
    for chunk in input(256 * 1024).chunks(CHUNK) {
        s.handle_input(now, chunk);
        assert_eq!(s.pending_output(), 0);
    }
    s.handle_eof(now);
    assert!(s.finished().unwrap().is_clean());
}

/// Checks RFC 864 lines: each 72 printable characters and CRLF, each
/// starting one character after the previous one.
fn check_lines(out: &[u8], first: &mut usize) {
    assert_eq!(out.len() % (chargen::LINE_LEN + 2), 0);
    for line in out.chunks(chargen::LINE_LEN + 2) {
        let expect: Vec<u8> = (0..chargen::LINE_LEN)
            .map(|j| b' ' + ((*first + j) % chargen::PRINTABLE) as u8)
            .chain(*b"\r\n")
            .collect();
        assert_eq!(line, &expect[..]);
        *first = (*first + 1) % chargen::PRINTABLE;
    }
}

#[test]
fn chargen_writes_while_writable_and_resumes() {
    let cfg = small();
    let batch = chargen::LINES_PER_WRITE * (chargen::LINE_LEN + 2);
    let mut s = Stack::memory_with(Box::new(Chargen::new()), cfg.clone());
    let now = s.now();
    let mut first = 1;
    for _ in 0..5 {
        // A client that does not read: the queue stops within one batch of the mark.
        assert!(s.pending_output() >= cfg.high_water);
        assert!(s.pending_output() < cfg.high_water + batch);
        s.handle_input(now, b"input is discarded");
        assert!(s.pending_output() < cfg.high_water + batch);
        let out = s.take_output(now);
        check_lines(&out, &mut first);
    }
    // The peer's EOF stops it: what is queued is flushed, then it closes.
    s.handle_eof(now);
    assert!(s.finished().is_none());
    let out = s.take_output(now);
    check_lines(&out, &mut first);
    assert!(s.finished().unwrap().is_clean());
}

#[test]
fn every_app_is_reachable_by_name() {
    for name in apps::NAMES {
        let factory = apps::by_name(name).unwrap();
        let mut s = Stack::memory(factory());
        let now = s.now();
        s.handle_input(now, b"hi\n");
        s.take_output(now);
        s.handle_eof(now);
        s.take_output(now);
        assert!(s.finished().unwrap().is_clean(), "{name}");
    }
    assert!(apps::by_name("nope").is_none());
}
