//! qlog traces from the reliable mapping's KCP mode, in memory (issue 14,
//! point 5): a lossy KCP transfer over the simulated network writes one
//! JSON-SEQ trace per conversation (category `reliable`, `"wire":"kcp"` on
//! packet events) with one packet event per KCP segment, losses with the
//! trigger ikcp retransmitted on (RTO expiry or fast resend), and the
//! recovery metrics; the same seed writes the same bytes. Against the
//! `kcp` crate (an ikcp port), our engine's trace reads the peer's acks.

mod qlog_support;
mod reliable_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qlog_support::{tracer_max_events, validate, Traces};
use reliable_support::{Bulk, Shared};
use serde_json::Value as Json;
use strata::qlog::{JsonSeqWriter, QlogTrace, QlogTracer, SharedBuf, TraceHeader};
use strata::reliable::kcp::KcpConfig;
use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
use strata::testing::{LinkConfig, Loss, SimNet};
use strata::{StreamProtocol, StreamTransport};

const TOTAL: u64 = 200_000;

/// The upload's two ends (the end marker on, so both end with `Done`).
fn stream_config(kcp: KcpConfig) -> KcpStreamConfig {
    KcpStreamConfig {
        kcp,
        fin: true,
        ..KcpStreamConfig::default()
    }
}

/// Uploads 200 kB in KCP mode over a link losing 5 % each way (20 ms each
/// way); returns each conversation's trace as (vantage, text).
fn lossy_transfer(seed: u64, kcp: KcpConfig) -> Vec<(String, String)> {
    let traces = Traces::default();
    let mut net = SimNet::new(seed);
    net.set_tracing(false);
    net.set_qlog(tracer_max_events(traces.clone(), 200_000));
    let server_addr: SocketAddr = "10.0.0.2:4433".parse().unwrap();
    let (c_out, s_out) = (Shared::default(), Shared::default());
    let so = s_out.clone();
    let factory: strata::StreamFactory =
        Arc::new(move || Box::new(Bulk::new(0, 2, 1, so.clone())) as Box<dyn StreamProtocol>);
    let lcfg = KcpListenerConfig {
        stream: stream_config(kcp.clone()),
        ..KcpListenerConfig::default()
    };
    let server = net.add_node(
        server_addr,
        Box::new(KcpListener::new(lcfg, factory).unwrap()),
    );
    let client = KcpStream::new(7, stream_config(kcp), Bulk::new(TOTAL, 1, 2, c_out.clone()))
        .unwrap()
        .with_peer(server_addr);
    let client = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(client));
    let link = LinkConfig::default()
        .delay(Duration::from_millis(20))
        .loss(Loss::Random(0.05));
    net.link_both(client, server, link);
    net.run_until(Duration::from_secs(120), |_| {
        s_out.lock().unwrap().received == TOTAL && c_out.lock().unwrap().lost.is_some()
    });
    assert_eq!(s_out.lock().unwrap().received, TOTAL);
    assert_eq!(s_out.lock().unwrap().mismatch, None);
    drop(net); // the conversations end: each trace is flushed
    let t = traces.lock().unwrap();
    t.iter().map(|(v, b)| (v.clone(), b.text())).collect()
}

fn named<'a>(events: &'a [Json], name: &'a str) -> impl Iterator<Item = &'a Json> + 'a {
    events.iter().filter(move |e| e["name"] == name)
}

fn trace_of<'a>(traces: &'a [(String, String)], vantage: &str) -> &'a str {
    &traces.iter().find(|(v, _)| v == vantage).unwrap().1
}

/// The checks both modes share: every event is the reliable layer's, every
/// packet event one KCP segment with its header fields, a metrics series
/// with a window and RTTs; the client's losses name segments it sent.
/// Returns the client's loss triggers.
fn check_trace(traces: &[(String, String)]) -> Vec<String> {
    assert_eq!(traces.len(), 2, "one trace per conversation");
    for (vantage, text) in traces {
        let events = validate(text);
        assert!(events.iter().all(|e| e["category"] == "reliable"));
        for name in ["transport:packet_sent", "transport:packet_received"] {
            let packets: Vec<&Json> = named(&events, name).collect();
            assert!(packets.len() > 20, "{vantage} {name}");
            for p in &packets {
                let d = &p["data"];
                assert_eq!(d["wire"], "kcp", "{p}");
                let k = &d["kcp"];
                assert_eq!(k["conv"], 7, "{p}");
                for f in ["sn", "una", "wnd", "len", "ts", "frg"] {
                    assert!(k[f].is_u64(), "{f}: {p}");
                }
                let cmd = k["cmd"].as_str().unwrap();
                assert!(["push", "ack", "wask", "wins"].contains(&cmd), "{p}");
                assert_eq!(d["raw"]["length"], 24 + k["len"].as_u64().unwrap());
                if cmd == "push" {
                    assert_eq!(d["header"]["packet_number"], k["sn"], "{p}");
                }
                assert!(d["frames"].is_array(), "{p}");
            }
        }
        let metrics: Vec<&Json> = named(&events, "recovery:metrics_updated").collect();
        assert!(!metrics.is_empty(), "{vantage}");
        assert!(metrics
            .iter()
            .all(|m| m["data"]["congestion_window"].is_u64()));
        if vantage == "client" {
            assert!(
                metrics
                    .iter()
                    .any(|m| m["data"]["bytes_in_flight"].as_u64() > Some(2_000)),
                "more than one 1376-byte segment in flight at some point"
            );
            assert!(
                metrics
                    .iter()
                    .any(|m| m["data"]["smoothed_rtt"].as_f64() >= Some(40.0)),
                "20 ms each way"
            );
            assert!(metrics.iter().any(|m| m["data"]["latest_rtt"].is_f64()));
            assert!(metrics.iter().any(|m| m["data"]["rtt_variance"].is_f64()));
            assert!(metrics
                .iter()
                .any(|m| m["data"]["min_rtt"].as_f64() >= Some(40.0)));
        }
    }
    let events = validate(trace_of(traces, "client"));
    let pushed: std::collections::HashSet<u64> = named(&events, "transport:packet_sent")
        .filter(|p| p["data"]["kcp"]["cmd"] == "push")
        .map(|p| p["data"]["kcp"]["sn"].as_u64().unwrap())
        .collect();
    assert!(pushed.len() as u64 > TOTAL / 1400, "200 kB in segments");
    let lost: Vec<&Json> = named(&events, "recovery:packet_lost").collect();
    assert!(
        !lost.is_empty(),
        "5 % loss loses some of the sender's segments"
    );
    for l in &lost {
        let sn = l["data"]["header"]["packet_number"].as_u64().unwrap();
        assert!(pushed.contains(&sn), "a lost segment was sent: {l}");
        assert_eq!(l["data"]["wire"], "kcp");
    }
    lost.iter()
        .map(|l| l["data"]["trigger"].as_str().unwrap().to_string())
        .collect()
}

fn states(text: &str) -> Vec<String> {
    named(&validate(text), "recovery:congestion_state_updated")
        .map(|e| e["data"]["new"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_lossy_kcp_transfer_in_default_mode_traces_segments_rto_losses_and_metrics() {
    let traces = lossy_transfer(7, KcpConfig::default_mode());
    let triggers = check_trace(&traces);
    // ikcp's default mode has no fast resend: every loss is an RTO expiry.
    assert!(
        triggers.iter().all(|t| t == "time_threshold"),
        "{triggers:?}"
    );
    // Congestion control is on: slow start first, congestion avoidance
    // once cwnd reaches ssthresh, and back to slow start on a timeout.
    let s = states(trace_of(&traces, "client"));
    assert_eq!(s.first().map(String::as_str), Some("slow_start"), "{s:?}");
    assert!(s.iter().any(|s| s == "congestion_avoidance"), "{s:?}");
    let events = validate(trace_of(&traces, "client"));
    let ssthresh = named(&events, "recovery:metrics_updated")
        .filter_map(|m| m["data"]["ssthresh"].as_u64())
        .count();
    assert!(ssthresh > 0, "ssthresh is reported in bytes");
}

#[test]
fn a_lossy_kcp_transfer_in_fast_mode_traces_fast_resends_as_reordering_losses() {
    let traces = lossy_transfer(7, KcpConfig::fast_mode());
    let triggers = check_trace(&traces);
    assert!(
        triggers.iter().any(|t| t == "reordering_threshold"),
        "fast resend after 2 later acks: {triggers:?}"
    );
    assert!(triggers
        .iter()
        .all(|t| t == "time_threshold" || t == "reordering_threshold"));
    // No congestion control: one state, said once.
    let s = states(trace_of(&traces, "client"));
    assert_eq!(s, ["no_congestion_control"]);
}

#[test]
fn the_same_seed_gives_the_same_kcp_trace_byte_for_byte() {
    let cfg = KcpConfig::fast_mode();
    let (a, b) = (
        lossy_transfer(11, cfg.clone()),
        lossy_transfer(11, cfg.clone()),
    );
    assert_eq!(a, b);
    assert_ne!(a, lossy_transfer(12, cfg));
}

/// Records whether the layer below answers the connection's trace.
struct SeesTrace(Arc<Mutex<Option<bool>>>);

impl StreamProtocol for SeesTrace {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        *self.0.lock().unwrap() = Some(t.get::<QlogTrace>().is_some());
        t.write(b"hi");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn a_traced_conversation_answers_its_trace_to_the_layers_above_and_an_untraced_one_runs() {
    for traced in [true, false] {
        let mut net = SimNet::new(3);
        let traces = Traces::default();
        if traced {
            net.set_qlog(tracer_max_events(traces.clone(), 200_000));
        } else {
            // The tracer may decline a conversation: nothing is written.
            net.set_qlog(QlogTracer::new(|_| None));
        }
        let server_addr: SocketAddr = "10.0.0.2:4433".parse().unwrap();
        let (seen_c, seen_s) = (Arc::default(), Arc::new(Mutex::new(None)));
        let ss = seen_s.clone();
        let factory: strata::StreamFactory =
            Arc::new(move || Box::new(SeesTrace(ss.clone())) as Box<dyn StreamProtocol>);
        let server = KcpListener::new(KcpListenerConfig::default(), factory).unwrap();
        let s = net.add_node(server_addr, Box::new(server));
        let client = KcpStream::new(
            7,
            KcpStreamConfig::default(),
            SeesTrace(Arc::clone(&seen_c)),
        )
        .unwrap()
        .with_peer(server_addr);
        let c = net.add_node("10.0.0.1:5000".parse().unwrap(), Box::new(client));
        net.link_both(c, s, LinkConfig::default());
        net.run_until(Duration::from_secs(10), |_| {
            seen_s.lock().unwrap().is_some()
        });
        assert_eq!(*seen_c.lock().unwrap(), Some(traced));
        assert_eq!(*seen_s.lock().unwrap(), Some(traced));
        drop(net);
        assert_eq!(traces.lock().unwrap().len(), if traced { 2 } else { 0 });
    }
}

/// The `kcp` crate's output: one entry per datagram.
#[derive(Clone, Default)]
struct KcpSink(std::rc::Rc<std::cell::RefCell<Vec<Vec<u8>>>>);

impl std::io::Write for KcpSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn our_engine_against_the_kcp_crate_traces_its_segments_and_losses() {
    use std::time::Instant;
    use strata::qlog::Vantage;
    use strata::reliable::kcp::Kcp;
    const CONV: u32 = 0xC0FF_EE01;
    const N: usize = 100_000;
    let buf = SharedBuf::default();
    let t0 = Instant::now();
    let trace = QlogTrace::new(JsonSeqWriter::new(
        TraceHeader::new(Vantage::Client, t0),
        100_000,
        buf.sink(),
    ));
    let mut ours = Kcp::new(CONV, KcpConfig::fast_mode()).unwrap();
    ours.set_qlog(Some(trace));
    let sink = KcpSink::default();
    let mut theirs = kcp::Kcp::new_stream(CONV, sink.clone());
    theirs.set_nodelay(true, 10, 2, true);
    theirs.set_wndsize(128, 128);
    let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got, mut rbuf) = (0, Vec::new(), vec![0u8; 64 * 1024]);
    // Each datagram arrives 10 ms later; every 13th of ours is lost.
    let mut to_theirs: Vec<(Instant, Vec<u8>)> = Vec::new();
    let mut to_ours: Vec<(Instant, Vec<u8>)> = Vec::new();
    let (mut now, mut n, mut d) = (t0, 0u64, Vec::new());
    // Until every byte arrived and every segment was acknowledged.
    while got.len() < N || ours.buffered() > 0 {
        assert!(
            now < t0 + Duration::from_secs(600),
            "stalled at {}",
            got.len()
        );
        sent += ours.send(&data[sent..]);
        for (_, dg) in to_theirs.extract_if(.., |(at, _)| *at <= now) {
            theirs.input(&dg).unwrap();
        }
        for (_, dg) in to_ours.extract_if(.., |(at, _)| *at <= now) {
            ours.input(now, &dg).unwrap();
        }
        if ours.next_timeout(now).is_some_and(|t| t <= now) {
            ours.on_timeout(now);
        }
        while ours.poll_transmit(now, &mut d) {
            n += 1;
            if n % 13 != 0 {
                to_theirs.push((now + Duration::from_millis(10), d.clone()));
            }
        }
        theirs
            .update(now.duration_since(t0).as_millis() as u32)
            .unwrap();
        for dg in sink.0.borrow_mut().drain(..) {
            to_ours.push((now + Duration::from_millis(10), dg));
        }
        while let Ok(k) = theirs.recv(&mut rbuf) {
            got.extend_from_slice(&rbuf[..k]);
        }
        now += Duration::from_millis(1);
    }
    assert_eq!(got, data);
    drop(ours);
    let events = validate(&buf.text());
    let pushed: std::collections::HashSet<u64> = named(&events, "transport:packet_sent")
        .filter(|p| p["data"]["kcp"]["cmd"] == "push")
        .map(|p| p["data"]["header"]["packet_number"].as_u64().unwrap())
        .collect();
    assert_eq!(pushed.len(), N.div_ceil(1376), "every segment sent, by sn");
    // The kcp crate's acks, as our trace read them: each acknowledges a
    // segment we sent.
    let acks: Vec<&Json> = named(&events, "transport:packet_received")
        .filter(|p| p["data"]["kcp"]["cmd"] == "ack")
        .collect();
    assert!(acks.len() >= pushed.len());
    for a in &acks {
        assert_eq!(a["data"]["kcp"]["conv"], CONV);
        let sn = a["data"]["frames"][0]["acked_ranges"][0][0]
            .as_u64()
            .unwrap();
        assert!(pushed.contains(&sn), "{a}");
    }
    let lost: Vec<&Json> = named(&events, "recovery:packet_lost").collect();
    assert!(!lost.is_empty(), "one datagram in 13 is lost");
    for l in &lost {
        let sn = l["data"]["header"]["packet_number"].as_u64().unwrap();
        assert!(pushed.contains(&sn), "{l}");
    }
    assert!(named(&events, "recovery:metrics_updated")
        .any(|m| m["data"]["smoothed_rtt"].as_f64() >= Some(20.0)));
}
