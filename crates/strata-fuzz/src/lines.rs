//! Target `lines`: the `Lines` layer against a naive line splitter.

use std::sync::{Arc, Mutex};

use strata::framing::{Delimiter, LineProtocol, Lines, LinesConfig};
use strata::testing::MemoryTransport;
use strata::{AbortReason, Close, StreamProtocol, StreamTransport, SwapRequest, WakeRoute};

use crate::{control, Chunks, MAX_CHUNK};

/// What a correct line splitter makes of a whole input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Expected {
    pub(crate) lines: Vec<Vec<u8>>,
    /// `Some(tail)` for a clean EOF, `None` for a line-too-long abort.
    pub(crate) eof: Option<Vec<u8>>,
}

/// The reference: split on the leftmost delimiter, enforce the limit.
pub(crate) fn reference(input: &[u8], delim: &[u8], max: usize) -> Expected {
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &input[pos..];
        match rest.windows(delim.len()).position(|w| w == delim) {
            Some(i) if i > max => return Expected { lines, eof: None },
            Some(i) => {
                lines.push(rest[..i].to_vec());
                pos += i + delim.len();
            }
            None if rest.len() > max + delim.len() - 1 => return Expected { lines, eof: None },
            None => {
                return Expected {
                    lines,
                    eof: Some(rest.to_vec()),
                }
            }
        }
    }
}

/// The delimiter and limit chosen by control bytes.
pub(crate) fn config(a: u8, b: u8) -> LinesConfig {
    let delimiter = match a % 4 {
        0 => Ok(Delimiter::CRLF),
        1 => Ok(Delimiter::LF),
        2 => Delimiter::new(&b"<E>"[..]),
        _ => Delimiter::new(&b"aab"[..]), // self-overlapping
    };
    LinesConfig {
        // Both constructors get a non-empty literal.
        delimiter: delimiter.unwrap_or(Delimiter::CRLF),
        max_line: usize::from(b % 40),
    }
}

#[derive(Default)]
struct Seen {
    lines: Vec<Vec<u8>>,
    eof: Option<Vec<u8>>,
}

/// Records lines; pauses on lines starting with `P`, asks for a swap on
/// lines starting with `S`, resumes on a wake.
struct Rec(Arc<Mutex<Seen>>);

struct Nothing;
impl StreamProtocol for Nothing {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

impl LineProtocol for Rec {
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        lock(&self.0).lines.push(line.to_vec());
        match line.first() {
            Some(b'P') => t.pause_reading(),
            Some(b'S') => {
                let _ = t.request_swap(SwapRequest::Replace(Box::new(Nothing)), Vec::new());
            }
            _ => {}
        }
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport, unterminated: &[u8]) {
        lock(&self.0).eof = Some(unterminated.to_vec());
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        t.resume_reading();
    }
}

fn lock(m: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Feeds `data` (after two control bytes for the configuration and one for
/// the chunking) through a `Lines` layer over a memory transport, resuming
/// after every pause and feeding every swap's leftover back in (as an
/// identity layer inserted below would). The lines, the EOF tail and the
/// abort must match [`reference`], and the buffer must stay bounded.
pub fn lines(data: &[u8]) {
    let ([a, b, seed], payload) = control::<3>(data);
    let cfg = config(a, b);
    let (dlen, max) = (cfg.delimiter.len(), cfg.max_line);
    let want = reference(payload, cfg.delimiter.as_bytes(), max);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut l = Lines::with_config(Rec(seen.clone()), cfg);
    let mut t = MemoryTransport::new();
    l.connection_made(&mut t);
    let bound = max + dlen - 1 + MAX_CHUNK;
    for chunk in Chunks::new(payload, seed) {
        unblock(&mut l, &mut t);
        l.data_received(&mut t, chunk);
        assert!(l.pending_input() <= bound, "buffer over its bound");
        if t.aborted().is_some() {
            break;
        }
    }
    unblock(&mut l, &mut t);
    if t.aborted().is_none() {
        l.eof_received(&mut t);
        unblock(&mut l, &mut t);
    }
    let seen = lock(&seen);
    assert_eq!(seen.lines, want.lines);
    match t.aborted() {
        None => assert_eq!(seen.eof, want.eof),
        Some(Close::Aborted {
            layer: "lines",
            reason: AbortReason::LineTooLong { limit },
        }) => {
            assert_eq!(*limit, max);
            assert_eq!(want.eof, None, "aborted a stream the reference accepts");
            assert_eq!(seen.eof, None);
        }
        Some(other) => panic!("unexpected abort: {other}"),
    }
}

/// Resumes while paused and feeds swap leftovers back in, until neither
/// remains. Each round delivers at least one line, so it ends.
fn unblock<P: LineProtocol + 'static>(l: &mut Lines<P>, t: &mut MemoryTransport) {
    loop {
        let mut swaps = t.take_swaps();
        assert!(swaps.len() <= 1, "no line after an accepted swap");
        if let Some((_, leftover)) = swaps.pop() {
            l.data_received(t, &leftover);
            continue;
        }
        if t.is_read_paused() && t.aborted().is_none() {
            l.on_wake(t, WakeRoute::new(&[]));
            continue;
        }
        return;
    }
}
