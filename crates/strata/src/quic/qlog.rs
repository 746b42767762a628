//! The QUIC layer's qlog events (issue 14, point 5), category `quic`, from
//! quinn-proto's statistics after each drive of a connection:
//! `recovery:metrics_updated` (congestion window, smoothed RTT, and the
//! packets sent and lost so far) when they change, one
//! `recovery:packet_lost` per packet newly counted lost, and
//! `connectivity:connection_closed` once it closes. quinn-proto's own `qlog`
//! feature (its events, packet by packet) writes a stream of its own and
//! is not used yet.

use std::time::Instant;

use crate::qlog::{QlogTrace, Value};
use crate::stats::PathStats;

impl QuicQlog {
    /// The connection's trace (the application writes into it too).
    pub(crate) fn trace(&self) -> &QlogTrace {
        &self.trace
    }
}

/// The category of this layer's events.
const CATEGORY: &str = "quic";

/// Loss events written per drive at most (the rest are counted in
/// `recovery:metrics_updated`'s `lost_packets`).
const MAX_LOSSES_PER_DRIVE: u64 = 64;

/// A traced connection's trace and the figures it last wrote.
pub(crate) struct QuicQlog {
    trace: QlogTrace,
    last: Option<PathStats>,
    /// `connectivity:connection_closed` was written.
    closed: bool,
}

impl QuicQlog {
    pub(crate) fn new(trace: QlogTrace) -> Box<QuicQlog> {
        Box::new(QuicQlog {
            trace,
            last: None,
            closed: false,
        })
    }

    /// After a drive: what changed in `now_stats`.
    #[cold]
    #[inline(never)]
    pub(crate) fn tick(&mut self, now: Instant, s: &PathStats) {
        let before = self.last.unwrap_or_default();
        if self.last == Some(*s) {
            return;
        }
        let lost = s.lost_packets.saturating_sub(before.lost_packets);
        for _ in 0..lost.min(MAX_LOSSES_PER_DRIVE) {
            self.trace.emit(
                now,
                CATEGORY,
                "recovery:packet_lost",
                &[("trigger", Value::Str("quinn"))],
            );
        }
        if (s.cwnd, s.rtt) != (before.cwnd, before.rtt) || self.last.is_none() || lost > 0 {
            self.trace.emit(
                now,
                CATEGORY,
                "recovery:metrics_updated",
                &[
                    ("congestion_window", Value::U64(s.cwnd)),
                    ("smoothed_rtt", Value::F64(s.rtt.as_secs_f64() * 1000.0)),
                    ("packets_sent", Value::U64(s.sent_packets)),
                    ("lost_packets", Value::U64(s.lost_packets)),
                ],
            );
        }
        self.last = Some(*s);
    }

    /// The connection is closing or closed (by either end): once.
    pub(crate) fn closed(&mut self, now: Instant) {
        if !self.closed {
            self.closed = true;
            self.trace
                .emit(now, CATEGORY, "connectivity:connection_closed", &[]);
        }
    }
}
