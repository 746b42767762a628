//! A simulation run writes qlog (issue 14, point 5: "and so can a
//! simulation run"): one JSON-SEQ trace per connection, on the virtual
//! clock, with qlog's required fields; the same seed writes the same bytes.

mod common;
use common::{lossy_echo, validate, Traces};

/// TLS over the reliable mapping across a lossy link, then the traces'
/// text, by vantage and protocol, in the order they were made.
fn lossy_run(seed: u64) -> Vec<(String, String, String)> {
    let traces = Traces::default();
    let _sim = lossy_echo(
        seed,
        &traces,
        (20, 0.05),
        "tls+reliable+udp://10.0.0.2:9000",
        "tls+reliable+udp://server:9000?tls.insecure=true",
        150_000,
    );
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
