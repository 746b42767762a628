//! The [`Pump`](super::Pump)'s wire: one direction's queue of bytes, EOF
//! and reset, with arrival times, and the trace it writes.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use super::pump_config::{Dir, PumpEvent, PumpEventKind};
use crate::Stack;

/// Slices asked of a stack per delivery; a chunk spread over more is cut
/// short (and the rest moves in the next delivery).
const MAX_SLICES: usize = 64;

/// One direction of the connection.
#[derive(Default)]
pub(super) struct Wire {
    pub(super) queue: VecDeque<Item>,
    /// Payload bytes in `queue`.
    pub(super) in_flight: usize,
    /// When the wire has finished serializing the last delivery (rate only).
    pub(super) free_at: Option<Instant>,
    /// Arrival time of the last item, so deliveries stay in order.
    pub(super) last_arrival: Option<Instant>,
    pub(super) eof_queued: bool,
    /// The sender's `finished()` has been turned into an EOF or a reset.
    pub(super) finish_seen: bool,
    pub(super) moved: u64,
}

/// Something on the wire, arriving at `at`.
pub(super) struct Item {
    pub(super) at: Instant,
    pub(super) what: Payload,
}

/// What an [`Item`] carries.
pub(super) enum Payload {
    Data(Vec<u8>),
    Eof,
    Reset,
}

impl Wire {
    /// Queues an item arriving at `at`, never before the previous one.
    pub(super) fn push(&mut self, at: Instant, what: Payload) {
        let at = self.last_arrival.map_or(at, |l| l.max(at));
        self.last_arrival = Some(at);
        self.queue.push_back(Item { at, what });
    }

    /// Queues the EOF behind everything sent (and still serializing).
    pub(super) fn push_eof(&mut self, now: Instant, latency: Duration, tr: &mut Tracer<'_>) {
        self.eof_queued = true;
        let departs = self.free_at.map_or(now, |t| t.max(now));
        tr.push(PumpEventKind::EofSent, 0);
        self.push(departs + latency, Payload::Eof);
    }

    /// Queues a reset. It does not wait behind earlier items: once due, it
    /// discards whatever the receiver has not read.
    pub(super) fn push_reset(&mut self, at: Instant) {
        self.queue.push_back(Item {
            at,
            what: Payload::Reset,
        });
    }
}

/// Appends to the pump's trace, stamped with one instant and direction.
pub(super) struct Tracer<'a> {
    pub(super) on: bool,
    pub(super) events: &'a mut Vec<PumpEvent>,
    pub(super) at: Duration,
    pub(super) dir: Dir,
}

impl Tracer<'_> {
    pub(super) fn push(&mut self, kind: PumpEventKind, bytes: usize) {
        if self.on {
            self.events.push(PumpEvent {
                at: self.at,
                dir: self.dir,
                kind,
                bytes,
            });
        }
    }
}

/// Copies up to `n` bytes from the front of the stack's output.
pub(super) fn copy_front(s: &Stack, n: usize) -> Vec<u8> {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let k = s.io_slices(&mut slices);
    let mut out = Vec::with_capacity(n);
    for sl in &slices[..k] {
        let take = sl.len().min(n - out.len());
        out.extend_from_slice(&sl[..take]);
        if out.len() == n {
            break;
        }
    }
    out
}

/// How long `bytes` occupy a wire of `rate` bytes per second (rounded up to
/// the nanosecond, so a rate is never exceeded).
pub(super) fn serialization(bytes: usize, rate: u64) -> Duration {
    let ns = (bytes as u128 * 1_000_000_000).div_ceil(rate as u128);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}
