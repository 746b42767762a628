//! Target `length_prefixed`: the `LengthPrefixed` layer against a naive
//! frame parser.

use std::sync::{Arc, Mutex};

use strata::framing::{LengthConfig, LengthPrefixed, Prefix};
use strata::testing::MemoryTransport;
use strata::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramTransport, StreamProtocol, Transmit,
    WakeRoute,
};

use crate::{control, Chunks, MAX_CHUNK};

#[derive(Debug, PartialEq, Eq)]
enum End {
    Eof,
    Truncated,
    TooLarge(usize),
}

/// The reference: frames until an oversize prefix or the end.
fn reference(wire: &[u8], prefix: Prefix, max: usize) -> (Vec<Vec<u8>>, End) {
    let h = prefix.len();
    let mut frames = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &wire[pos..];
        if rest.is_empty() {
            return (frames, End::Eof);
        }
        if rest.len() < h {
            return (frames, End::Truncated);
        }
        let len = rest[..h]
            .iter()
            .fold(0usize, |n, &b| n << 8 | usize::from(b));
        if len > max {
            return (frames, End::TooLarge(len));
        }
        if rest.len() < h + len {
            return (frames, End::Truncated);
        }
        frames.push(rest[h..h + len].to_vec());
        pos += h + len;
    }
}

fn encode(prefix: Prefix, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        let len = f.len().to_be_bytes();
        out.extend_from_slice(&len[len.len() - prefix.len()..]);
        out.extend_from_slice(f);
    }
    out
}

#[derive(Default)]
struct Seen {
    frames: Vec<Vec<u8>>,
    eof: bool,
}

/// Records and echoes frames; pauses on frames starting with `P`, resumes
/// on a wake.
struct Rec(Arc<Mutex<Seen>>);

impl DatagramProtocol for Rec {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for d in batch {
            assert!(d.source.is_none());
            seen.frames.push(d.data.to_vec());
            t.send(&Transmit::connected(d.data));
            if d.data.first() == Some(&b'P') {
                t.pause_reading();
            }
        }
    }
    fn eof_received(&mut self, _: &mut dyn DatagramTransport) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).eof = true;
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, _: WakeRoute<'_>) {
        t.resume_reading();
    }
}

/// Feeds `data` (after one control byte for the prefix and limit and one for
/// the chunking) through `LengthPrefixed` over a memory transport, resuming
/// after every pause. The frames, the echo written back, and the way it ends
/// (EOF, truncated frame, oversize frame) must match the reference, and the
/// held input must stay within the prefix plus `max_frame` plus one chunk.
pub fn length_prefixed(data: &[u8]) {
    let ([a, seed], wire) = control::<2>(data);
    let prefix = if a & 1 == 0 { Prefix::U16 } else { Prefix::U32 };
    let max = usize::from(a >> 1) * 3;
    let (want, end) = reference(wire, prefix, max);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cfg = LengthConfig {
        prefix,
        max_frame: max,
    };
    let mut l = LengthPrefixed::with_config(Rec(seen.clone()), cfg);
    let mut t = MemoryTransport::new();
    l.connection_made(&mut t);
    for chunk in Chunks::new(wire, seed) {
        resume(&mut l, &mut t);
        l.data_received(&mut t, chunk);
        assert!(l.pending_input() <= prefix.len() + max + MAX_CHUNK);
        if t.aborted().is_some() {
            break;
        }
    }
    resume(&mut l, &mut t);
    l.eof_received(&mut t);
    resume(&mut l, &mut t);
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(seen.frames, want);
    assert_eq!(t.take_written(), encode(prefix, &want));
    let got = match t.aborted() {
        None => End::Eof,
        Some(Close::Aborted {
            layer: "frames",
            reason: AbortReason::TruncatedFrame,
        }) => End::Truncated,
        Some(Close::Aborted {
            layer: "frames",
            reason: AbortReason::FrameTooLarge { size, limit },
        }) => {
            assert_eq!(*limit, max);
            End::TooLarge(*size)
        }
        Some(other) => panic!("unexpected abort: {other}"),
    };
    assert_eq!(got, end);
    assert_eq!(seen.eof, end == End::Eof);
}

fn resume<P: DatagramProtocol + 'static>(l: &mut LengthPrefixed<P>, t: &mut MemoryTransport) {
    while t.is_read_paused() && t.aborted().is_none() {
        l.on_wake(t, WakeRoute::new(&[]));
    }
}
