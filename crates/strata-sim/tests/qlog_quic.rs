//! QUIC's qlog in a simulation run (issue 14, point 5): quinn-proto's
//! events, packet by packet, in each connection's trace, and the same seed
//! writes the same bytes (a simulated host's TLS draws its randoms and its
//! certificate from the seed; quinn-proto's times are the virtual clock's).

mod common;
use common::{lossy_echo, Traces};

/// An echo of 100 kB over QUIC across a lossy link; each trace's
/// (vantage, text), in the order they were made.
fn quic_run(seed: u64) -> Vec<(String, String)> {
    let traces = Traces::default();
    let sim = lossy_echo(
        seed,
        &traces,
        (10, 0.03),
        "quic+udp://10.0.0.2:4433",
        "quic+udp://server:4433?quic.insecure=true",
        100_000,
    );
    drop(sim); // every connection ends: each trace is flushed
    let t = traces.lock().unwrap();
    t.iter().map(|(v, _, b)| (v.clone(), b.text())).collect()
}

#[test]
fn a_simulated_quic_run_writes_the_same_packet_by_packet_qlog_from_its_seed() {
    let a = quic_run(5);
    assert_eq!(a.len(), 2, "one trace per connection");
    for (vantage, text) in &a {
        for name in [
            "transport:packet_sent",
            "transport:packet_received",
            "recovery:metrics_updated",
            "connectivity:connection_closed",
        ] {
            assert!(text.contains(name), "{vantage}: no {name}");
        }
    }
    assert!(
        a.iter().any(|(_, t)| t.contains("recovery:packet_lost")),
        "3 % loss each way"
    );
    let b = quic_run(5);
    for (x, y) in a.iter().zip(&b) {
        assert!(x.1 == y.1, "{}: the traces of one seed differ", x.0);
    }
    assert!(a != quic_run(6), "another seed, another trace");
}
