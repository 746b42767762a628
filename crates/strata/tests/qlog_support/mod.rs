//! Shared by the qlog tests: a tracer keeping one in-memory trace per
//! connection, and the check of qlog's required fields.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use strata::qlog::{JsonSeqWriter, QlogTrace, QlogTracer, SharedBuf, TraceHeader, TraceInfo};

/// One trace per connection: (vantage, its bytes).
pub type Traces = Arc<Mutex<Vec<(String, SharedBuf)>>>;

/// A tracer writing each connection's trace into its own `SharedBuf`.
pub fn tracer(traces: Traces) -> QlogTracer {
    tracer_max_events(traces, 100_000)
}

/// [`tracer`], each trace keeping at most `max_events` events.
pub fn tracer_max_events(traces: Traces, max_events: usize) -> QlogTracer {
    QlogTracer::new(move |i: &TraceInfo| {
        let buf = SharedBuf::default();
        traces
            .lock()
            .unwrap()
            .push((i.vantage.as_str().to_string(), buf.clone()));
        let h = TraceHeader::new(i.vantage, i.now).title(format!(
            "{} {}",
            i.protocol,
            i.vantage.as_str()
        ));
        Some(QlogTrace::new(JsonSeqWriter::new(
            h,
            max_events,
            buf.sink(),
        )))
    })
}

/// Parses JSON-SEQ (RFC 7464) and checks qlog's required fields: the header
/// (`qlog_version`, `qlog_format`, `trace.vantage_point.type`), then every
/// event (`time`, `name`, `data`, and our `category`); times never go back.
/// Returns the events.
pub fn validate(text: &str) -> Vec<Json> {
    assert!(text.starts_with('\u{1e}'), "JSON-SEQ records start with RS");
    let mut records = text.split('\u{1e}').skip(1).map(|r| {
        assert!(r.ends_with('\n'), "a record ends with LF: {r:?}");
        serde_json::from_str::<Json>(r).unwrap_or_else(|e| panic!("{e}: {r}"))
    });
    let header = records.next().expect("a header record");
    assert!(header["qlog_version"].is_string(), "{header}");
    assert_eq!(header["qlog_format"], "JSON-SEQ");
    let vp = &header["trace"]["vantage_point"]["type"];
    assert!(vp == "client" || vp == "server", "{header}");
    assert!(header["trace"]["common_fields"]["reference_time"].is_number());
    let events: Vec<Json> = records.collect();
    let mut last = 0.0;
    for e in &events {
        let time = e["time"].as_f64().unwrap_or_else(|| panic!("time: {e}"));
        assert!(time >= last, "times never go back: {e}");
        last = time;
        let name = e["name"].as_str().unwrap_or_else(|| panic!("name: {e}"));
        assert!(name.contains(':'), "namespace:event: {e}");
        assert!(e["data"].is_object(), "data: {e}");
        assert!(e["category"].is_string(), "category: {e}");
    }
    events
}

/// The events of `events` named `name`, in order.
#[allow(dead_code)] // Not every test binary that loads this module uses it.
pub fn named<'a>(events: &'a [Json], name: &str) -> Vec<&'a Json> {
    events.iter().filter(|e| e["name"] == name).collect()
}
