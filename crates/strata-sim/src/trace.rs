//! The simulation's own trace: one line per stream-level event (connects,
//! segments, closes, faults), in virtual nanoseconds. Datagrams are traced
//! by the [`SimNet`](strata::testing::SimNet) inside; a run's digest folds
//! both.

use std::fmt::Write;

use strata::testing::payload_hash;

/// The text trace of a run, one event per line, with a running digest.
#[derive(Default)]
pub(crate) struct Trace {
    text: String,
    lines: usize,
    /// Whether lines are kept (the digest is always kept).
    keep: bool,
    digest: u64,
}

impl Trace {
    pub(crate) fn new(keep: bool) -> Trace {
        Trace {
            keep,
            digest: payload_hash(b""),
            ..Trace::default()
        }
    }

    /// Records one event: `at_ns` then the rest of the line.
    pub(crate) fn line(&mut self, at_ns: u64, what: std::fmt::Arguments<'_>) {
        let mut l = String::with_capacity(64);
        // Writing to a String cannot fail.
        let _ = write!(l, "{at_ns} {what}");
        self.digest = fold(self.digest, l.as_bytes());
        self.lines += 1;
        if self.keep {
            self.text.push_str(&l);
            self.text.push('\n');
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    pub(crate) fn len(&self) -> usize {
        self.lines
    }
}

/// Folds `line` into `h` (FNV-1a over the line and a newline).
fn fold(mut h: u64, line: &[u8]) -> u64 {
    for &b in line.iter().chain(b"\n") {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The hash of a payload, for trace lines.
pub(crate) fn hash(data: &[u8]) -> u64 {
    payload_hash(data)
}
