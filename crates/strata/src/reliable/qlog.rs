//! What the reliable mapping's two engines (the native connection and KCP)
//! write into qlog alike.

use std::time::Instant;

use crate::qlog::{QlogTrace, Value};

/// The category of every event the reliable mapping writes (both wires).
pub(crate) const CATEGORY: &str = "reliable";

/// Why a packet (or a KCP segment) was declared lost.
#[derive(Clone, Copy)]
pub(crate) enum LossTrigger {
    /// Too long without its acknowledgment (its RTO expired).
    Time,
    /// Later ones were acknowledged (KCP: `fast_resend` of them).
    Reordering,
}

/// Writes `recovery:packet_lost` for packet `number` of `packet_type`,
/// `length` bytes on the wire; `wire` names a wire other than the native
/// one (`"kcp"`).
pub(crate) fn packet_lost(
    trace: &QlogTrace,
    now: Instant,
    (packet_type, number, length): (&'static str, u64, u64),
    wire: Option<&'static str>,
    trigger: LossTrigger,
) {
    let trigger = match trigger {
        LossTrigger::Time => "time_threshold",
        LossTrigger::Reordering => "reordering_threshold",
    };
    let header = [
        ("packet_type", Value::Str(packet_type)),
        ("packet_number", Value::U64(number)),
    ];
    let raw = [("length", Value::U64(length))];
    let (header, raw) = (("header", Value::Obj(&header)), ("raw", Value::Obj(&raw)));
    let trigger = ("trigger", Value::Str(trigger));
    let name = "recovery:packet_lost";
    match wire {
        Some(w) => trace.emit(
            now,
            CATEGORY,
            name,
            &[header, raw, ("wire", Value::Str(w)), trigger],
        ),
        None => trace.emit(now, CATEGORY, name, &[header, raw, trigger]),
    }
}

/// Writes `recovery:congestion_state_updated` when `state` differs from
/// the last one written (`*last`, `""` before the first), and remembers it.
/// The first state has no `old` one.
pub(crate) fn congestion_state(
    trace: &QlogTrace,
    now: Instant,
    last: &mut &'static str,
    state: &'static str,
) {
    if state == *last {
        return;
    }
    let old = std::mem::replace(last, state);
    let data = [("new", Value::Str(state)), ("old", Value::Str(old))];
    let n = if old.is_empty() { 1 } else { 2 };
    trace.emit(
        now,
        CATEGORY,
        "recovery:congestion_state_updated",
        &data[..n],
    );
}
