//! What the simulator's tests share: a client that sends, half-closes and
//! records what it sees; a firehose and a paced sender recording into each
//! test's own record; a qlog tracer and the check of qlog's required
//! fields. (Servers use the CLI's apps: `apps::Echo`.)

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use strata::qlog::{JsonSeqWriter, QlogTrace, QlogTracer, SharedBuf, TraceHeader, TraceInfo};
use strata::testing::{LinkConfig, Loss};
use strata::{Close, StreamProtocol, StreamTransport};
use strata_sim::{Link, Sim};

/// What a [`Client`] saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// Every byte read.
    pub data: Vec<u8>,
    /// Why it closed, as text.
    pub lost: Option<String>,
    /// The layer chain at `connection_made`.
    pub chain: Vec<&'static str>,
}

/// A [`Seen`] the test keeps while the protocol runs.
pub type Shared = Arc<Mutex<Seen>>;

/// Sends `out`, half-closes, records what comes back.
pub struct Client {
    pub out: Vec<u8>,
    pub seen: Shared,
}

impl Client {
    /// A client sending `out`, and what it will see.
    pub fn new(out: Vec<u8>) -> (Box<Client>, Shared) {
        let seen = Shared::default();
        (
            Box::new(Client {
                out,
                seen: seen.clone(),
            }),
            seen,
        )
    }
}

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().chain = t.layer_chain();
        t.write(&self.out);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.seen.lock().unwrap().data.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.to_string());
    }
}

/// What a test records of a [`Firehose`] or a [`Sender`]: each test keeps
/// its own record and says how an event lands in it.
pub trait Record: Send + 'static {
    /// Bytes read, at the app's clock `now`.
    fn data(&mut self, _now: Instant, _d: &[u8]) {}
    /// The connection closed.
    fn lost(&mut self, why: &Close);
    /// The transport paused writing.
    fn paused(&mut self) {}
}

/// Writes `left` bytes as fast as the transport takes them, then closes.
pub struct Firehose<S> {
    pub left: usize,
    pub seen: Arc<Mutex<S>>,
}

impl<S: Record> Firehose<S> {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.left > 0 && t.writable() {
            let n = self.left.min(16 * 1024);
            t.write(&vec![b'x'; n]);
            self.left -= n;
        }
        if self.left == 0 {
            t.close();
        }
    }
}

impl<S: Record> StreamProtocol for Firehose<S> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().paused();
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost(why);
    }
}

/// Sends `out` in pieces as the transport takes them, half-closes if
/// `eof`, records the echo.
pub struct Sender<S> {
    pub out: Vec<u8>,
    pub sent: usize,
    pub eof: bool,
    pub seen: Arc<Mutex<S>>,
}

impl<S: Record> Sender<S> {
    /// A sender of `out`, boxed.
    pub fn boxed(out: Vec<u8>, eof: bool, seen: &Arc<Mutex<S>>) -> Box<dyn StreamProtocol> {
        Box::new(Sender {
            out,
            sent: 0,
            eof,
            seen: seen.clone(),
        })
    }
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.sent < self.out.len() && t.writable() {
            let end = (self.sent + 8192).min(self.out.len());
            t.write(&self.out[self.sent..end]);
            self.sent = end;
        }
        if self.sent == self.out.len() && self.eof {
            self.sent += 1;
            t.write_eof();
        }
    }
}

impl<S: Record> StreamProtocol for Sender<S> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.seen.lock().unwrap().data(t.now(), d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost(why);
    }
}

/// Every trace made: (vantage, protocol, bytes).
pub type Traces = Arc<Mutex<Vec<(String, String, SharedBuf)>>>;

/// A tracer writing each connection's trace into its own `SharedBuf`.
pub fn tracer(traces: Traces) -> QlogTracer {
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

/// Parses JSON-SEQ (RFC 7464) and checks qlog's required fields: the header
/// (`qlog_version`, `qlog_format`, `trace.vantage_point.type`,
/// `reference_time`), then every event (`time`, `name`, `data`, and our
/// `category`); times never go back. Returns the events.
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

/// Echoes `n` bytes from host `client` (10.0.0.1) to host `server`
/// (10.0.0.2) across a link of `ms` milliseconds each way whose datagrams
/// are lost at random at rate `loss`, the server listening on `listen` and
/// the client connecting to `connect`, every connection traced into
/// `traces`; runs 60 s and checks the echo came back whole. Returns the
/// simulation (drop it to end the connections and flush their traces).
pub fn lossy_echo(
    seed: u64,
    traces: &Traces,
    (ms, loss): (u64, f64),
    listen: &str,
    connect: &str,
    n: usize,
) -> Sim {
    let mut sim = Sim::new(seed);
    sim.set_qlog(tracer(traces.clone()));
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let d = Duration::from_millis(ms);
    sim.link(
        c,
        s,
        Link::default()
            .latency(d)
            .datagram(LinkConfig::default().delay(d).loss(Loss::Random(loss))),
    );
    sim.listen(s, listen, strata_cli::apps::Echo::factory())
        .unwrap();
    let (proto, seen) = Client::new(vec![7; n]);
    sim.connect(c, connect, proto).unwrap();
    sim.run(Duration::from_secs(60));
    assert_eq!(seen.lock().unwrap().data.len(), n);
    sim
}
