//! Reading HTTP/2 qlog traces back in tests: JSON-SEQ with qlog's required
//! fields checked, and the `h2` events picked apart.

use std::time::Duration;

use serde_json::Value as Json;
use strata::qlog::{JsonSeqWriter, QlogTrace, SharedBuf, TraceHeader, Vantage};

/// The qlog tests' shared tracer and validator (`tests/qlog_support`).
#[path = "../qlog_support/mod.rs"]
pub mod qlog_support;

/// Parses JSON-SEQ and checks qlog's required fields, times never going
/// back: `qlog_support::validate`. Returns the events.
pub fn validate(text: &str) -> Vec<Json> {
    qlog_support::validate(text)
}

/// A trace into `buf`, timed from the test kit's epoch.
pub fn trace_into(buf: &SharedBuf, v: Vantage) -> QlogTrace {
    let h = TraceHeader::new(v, strata::testing::epoch());
    QlogTrace::new(JsonSeqWriter::new(h, 100_000, buf.sink()))
}

/// One `http:stream_state_updated`: (stream, old, new, trigger).
pub type Transition = (u64, String, String, String);

/// Every `http:stream_state_updated` event, in order; each must carry
/// `stream_id`, `old`, `new` and `trigger`, and move to another state.
pub fn transitions(events: &[Json]) -> Vec<Transition> {
    events
        .iter()
        .filter(|e| e["name"] == "http:stream_state_updated")
        .map(|e| {
            assert_eq!(e["category"], "h2", "{e}");
            let d = &e["data"];
            let s = |k: &str| {
                d[k].as_str()
                    .unwrap_or_else(|| panic!("{k} in {e}"))
                    .to_string()
            };
            let t = (
                d["stream_id"].as_u64().unwrap(),
                s("old"),
                s("new"),
                s("trigger"),
            );
            assert_ne!(t.1, t.2, "a transition changes the state: {e}");
            t
        })
        .collect()
}

/// The transitions of one stream, as (old, new, trigger).
pub fn of_stream(all: &[Transition], id: u64) -> Vec<(&str, &str, &str)> {
    all.iter()
        .filter(|t| t.0 == id)
        .map(|t| (t.1.as_str(), t.2.as_str(), t.3.as_str()))
        .collect()
}

/// The position in `events` of the first event matching `f`.
pub fn position(events: &[Json], f: impl Fn(&Json) -> bool) -> Option<usize> {
    events.iter().position(f)
}

/// A pump config with some latency, so the two ends' events interleave.
pub fn latency(ms: u64) -> strata::testing::PumpConfig {
    strata::testing::PumpConfig::default().latency(Duration::from_millis(ms))
}
