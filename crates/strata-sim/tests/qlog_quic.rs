//! QUIC's qlog in a simulation run (issue 14, point 5): quinn-proto's
//! events, packet by packet, in each connection's trace, and the same seed
//! writes the same bytes (a simulated host's TLS draws its randoms and its
//! certificate from the seed; quinn-proto's times are the virtual clock's).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::qlog::{JsonSeqWriter, QlogTrace, QlogTracer, SharedBuf, TraceHeader, TraceInfo};
use strata::testing::{LinkConfig, Loss};
use strata_sim::{Link, Sim};

mod common;
use common::Client;

/// An echo of 100 kB over QUIC across a lossy link; each trace's
/// (vantage, text), in the order they were made.
fn quic_run(seed: u64) -> Vec<(String, String)> {
    let traces: Arc<Mutex<Vec<(String, SharedBuf)>>> = Arc::default();
    let t = traces.clone();
    let mut sim = Sim::new(seed);
    sim.set_qlog(QlogTracer::new(move |i: &TraceInfo| {
        let buf = SharedBuf::default();
        t.lock()
            .unwrap()
            .push((i.vantage.as_str().to_string(), buf.clone()));
        let h = TraceHeader::new(i.vantage, i.now);
        Some(QlogTrace::new(JsonSeqWriter::new(h, 100_000, buf.sink())))
    }));
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let d = Duration::from_millis(10);
    sim.link(
        c,
        s,
        Link::default()
            .latency(d)
            .datagram(LinkConfig::default().delay(d).loss(Loss::Random(0.03))),
    );
    sim.listen(
        s,
        "quic+udp://10.0.0.2:4433",
        strata_cli::apps::Echo::factory(),
    )
    .unwrap();
    let (proto, seen) = Client::new(vec![7; 100_000]);
    sim.connect(c, "quic+udp://server:4433?quic.insecure=true", proto)
        .unwrap();
    sim.run(Duration::from_secs(60));
    assert_eq!(seen.lock().unwrap().data.len(), 100_000);
    drop(sim); // every connection ends: each trace is flushed
    let t = traces.lock().unwrap();
    t.iter().map(|(v, b)| (v.clone(), b.text())).collect()
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
