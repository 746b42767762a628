//! What the reliable mapping's two engines (the native connection and KCP)
//! write into qlog alike.

use std::time::Instant;

use crate::qlog::{QlogTrace, Value};

/// The category of every event the reliable mapping writes (both wires).
pub(crate) const CATEGORY: &str = "reliable";

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
