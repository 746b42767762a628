//! A simulation run writes qlog (issue 14, point 5: "and so can a
//! simulation run"): one JSON-SEQ trace per connection, on the virtual
//! clock, with qlog's required fields; the same seed writes the same bytes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use strata::qlog::{JsonSeqWriter, QlogTrace, QlogTracer, SharedBuf, TraceHeader, TraceInfo};
use strata::testing::{LinkConfig, Loss};
use strata_sim::{Link, Sim};

mod common;
use common::Client;

/// Every trace made: (vantage, protocol, bytes).
type Traces = Arc<Mutex<Vec<(String, String, SharedBuf)>>>;

fn tracer(traces: Traces) -> QlogTracer {
    QlogTracer::new(move |i: &TraceInfo| {
        let buf = SharedBuf::default();
        let v = i.vantage.as_str().to_string();
        traces
            .lock()
            .unwrap()
            .push((v, i.protocol.to_string(), buf.clone()));
        let h = TraceHeader::new(i.vantage, i.now).title(format!(
            "{} {}",
            i.protocol,
            i.vantage.as_str()
        ));
        Some(QlogTrace::new(JsonSeqWriter::new(h, 100_000, buf.sink())))
    })
}

/// Checks qlog's required fields; returns the events.
fn validate(text: &str) -> Vec<Json> {
    assert!(text.starts_with('\u{1e}'), "JSON-SEQ records start with RS");
    let mut records = text.split('\u{1e}').skip(1).map(|r| {
        assert!(r.ends_with('\n'), "a record ends with LF");
        serde_json::from_str::<Json>(r).unwrap_or_else(|e| panic!("{e}: {r}"))
    });
    let header = records.next().expect("a header record");
    assert!(header["qlog_version"].is_string(), "{header}");
    assert_eq!(header["qlog_format"], "JSON-SEQ");
    let vp = &header["trace"]["vantage_point"]["type"];
    assert!(vp == "client" || vp == "server", "{header}");
    let events: Vec<Json> = records.collect();
    let mut last = 0.0;
    for e in &events {
        let t = e["time"].as_f64().expect("time");
        assert!(t >= last, "times never go back: {e}");
        last = t;
        assert!(e["name"].as_str().is_some_and(|n| n.contains(':')), "{e}");
        assert!(e["data"].is_object() && e["category"].is_string(), "{e}");
    }
    events
}

/// TLS over the reliable mapping across a lossy link, then the traces'
/// text, by vantage and protocol, in the order they were made.
fn lossy_run(seed: u64) -> Vec<(String, String, String)> {
    let traces = Traces::default();
    let mut sim = Sim::new(seed);
    sim.set_qlog(tracer(traces.clone()));
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let d = Duration::from_millis(20);
    sim.link(
        c,
        s,
        Link::default()
            .latency(d)
            .datagram(LinkConfig::default().delay(d).loss(Loss::Random(0.05))),
    );
    sim.listen(
        s,
        "tls+reliable+udp://10.0.0.2:9000",
        strata_cli::apps::Echo::factory(),
    )
    .unwrap();
    let (proto, seen) = Client::new(vec![7; 150_000]);
    sim.connect(c, "tls+reliable+udp://server:9000?tls.insecure=true", proto)
        .unwrap();
    sim.run(Duration::from_secs(60));
    assert_eq!(seen.lock().unwrap().data.len(), 150_000);
    let t = traces.lock().unwrap();
    t.iter()
        .map(|(v, p, b)| (v.clone(), p.clone(), b.text()))
        .collect()
}

#[test]
fn a_simulated_lossy_transfer_writes_valid_qlog_with_losses_and_tls_in_one_trace() {
    let traces = lossy_run(3);
    // The reliable mapping asks for one trace per connection, each side;
    // TLS above it writes into the same trace.
    let reliable: Vec<_> = traces.iter().filter(|t| !t.2.is_empty()).collect();
    assert!(
        reliable.len() >= 2,
        "{:?}",
        traces.iter().map(|t| (&t.0, &t.1)).collect::<Vec<_>>()
    );
    let mut lost = 0;
    let mut tls = 0;
    for (v, p, text) in &reliable {
        let events = validate(text);
        assert!(!events.is_empty(), "{v} {p}: no events");
        lost += events
            .iter()
            .filter(|e| e["name"] == "recovery:packet_lost")
            .count();
        tls += events.iter().filter(|e| e["category"] == "tls").count();
    }
    assert!(lost > 0, "a 5 % loss shows as packet_lost events");
    assert!(tls > 0, "the TLS handshake is in the same trace");
}

#[test]
fn the_same_seed_writes_the_same_qlog_bytes() {
    let a = lossy_run(9);
    let b = lossy_run(9);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(x.2 == y.2, "{} {}: traces differ", x.0, x.1);
    }
    assert!(a != lossy_run(10), "another seed, another trace");
}
