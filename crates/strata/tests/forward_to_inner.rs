//! `forward_to_inner!` writes the protocol side of a layer: every callback
//! the layer does not write itself reaches the inner protocol, through the
//! layer's view (deadlines, wakes with their route, shutdown, the write
//! edges, the end), for stream and datagram layers. The framing layers are
//! built with it and checked the same way; the guide's code is the example
//! file.

mod common;

use std::any::{Any, TypeId};
use std::time::{Duration, Instant};

use common::{Log, Mux, Recorder};
use strata::framing::{LengthPrefixed, LineProtocol, Lines, StreamOverFrames};
use strata::testing::{epoch, MemoryDatagramTransport, MemoryTransport};
use strata::{
    Datagram, DatagramProtocol, DatagramTransport, Introspect, Stack, StackConfig, StreamLayer,
    StreamProtocol, StreamTransport, Transmit, WakeRoute,
};

/// Logs every callback with the name of the transport it was given.
struct Probe {
    log: Log,
    at: Instant,
    /// Bytes to write in `connection_made` (to cross a high-water mark).
    burst: usize,
    wakers: Vec<strata::Wake>,
}

impl Probe {
    fn new(log: &Log) -> Self {
        Probe {
            log: log.clone(),
            at: epoch() + Duration::from_secs(1),
            burst: 0,
            wakers: Vec::new(),
        }
    }
    fn note(&self, what: &str, t: &dyn StreamTransport) {
        self.log.push(format!("{what}@{}", t.layer_chain()[0]));
    }
}

impl StreamProtocol for Probe {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.note("connection_made", t);
        self.wakers.push(t.waker());
        t.write(&vec![b'x'; self.burst]);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        self.note("data_received", t);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.note("eof_received", t);
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        self.log.push(format!("connection_lost:{why}"));
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.note("pause_writing", t);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.note("resume_writing", t);
    }
    fn next_deadline(&self) -> Option<Instant> {
        Some(self.at)
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.note("on_deadline", t);
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, mut route: WakeRoute<'_>) {
        let hops: Vec<u64> = std::iter::from_fn(|| route.next_hop()).collect();
        self.note(&format!("on_wake{hops:?}"), t);
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.note("on_shutdown", t);
        t.close();
    }
    fn buffered(&self) -> usize {
        3
    }
}

/// A layer written with the macro: a view named `tagged`, nothing else.
struct Tagged<P> {
    inner: P,
    calls: u64,
}

struct TaggedView<'a> {
    lower: &'a mut dyn StreamTransport,
    calls: &'a u64,
}

impl Introspect for TaggedView<'_> {
    fn name(&self) -> &'static str {
        "tagged"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        strata::capability!(id, *self.calls)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for TaggedView<'_> {
    strata::forward_to_lower!(lower: write, write_eof, close, abort, pause_reading,
        resume_reading, buffered, writable, now, waker);
}

impl<P: StreamProtocol> Tagged<P> {
    fn new(inner: P) -> Self {
        Tagged { inner, calls: 0 }
    }
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        self.calls += 1;
        let mut view = TaggedView {
            lower: t,
            calls: &self.calls,
        };
        f(&mut self.inner, &mut view)
    }
}

impl<P: StreamProtocol> StreamProtocol for Tagged<P> {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.call(t, |p, v| p.data_received(v, data))
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.eof_received(v))
    }
    strata::forward_to_inner!(inner via call);
}

impl<P: StreamProtocol> StreamLayer for Tagged<P> {
    strata::forward_to_inner!(layer: via call);
}

/// Calls every forwarded callback of `layer` over a memory transport and
/// returns what reached the probe at the top.
fn drive(layer: &mut dyn StreamProtocol, log: &Log) -> Vec<String> {
    let mut t = MemoryTransport::new();
    layer.connection_made(&mut t);
    layer.pause_writing(&mut t);
    layer.resume_writing(&mut t);
    assert_eq!(
        layer.next_deadline(),
        Some(epoch() + Duration::from_secs(1))
    );
    t.advance(Duration::from_secs(1));
    layer.on_deadline(&mut t);
    layer.on_wake(&mut t, WakeRoute::new(&[4, 2]));
    assert_eq!(layer.buffered(), 3);
    layer.on_shutdown(&mut t);
    assert!(
        t.is_closed(),
        "the probe's close went down through the layer"
    );
    layer.connection_lost(&strata::Close::Done);
    log.take()
}

fn expected(top: &str) -> Vec<String> {
    [
        "connection_made",
        "pause_writing",
        "resume_writing",
        "on_deadline",
        "on_wake[4, 2]",
        "on_shutdown",
    ]
    .iter()
    .map(|c| format!("{c}@{top}"))
    .chain([format!("connection_lost:{}", strata::Close::Done)])
    .collect()
}

#[test]
fn a_macro_built_layer_forwards_every_callback_through_its_view() {
    let log = Log::default();
    let mut layer = Tagged::new(Probe::new(&log));
    assert_eq!(drive(&mut layer, &log), expected("tagged"));
    assert_eq!(
        layer.calls, 6,
        "each callback with a transport built the view"
    );
}

/// `forward_to_inner!(layer: via call)` writes `with_inner_transport`: what
/// the stack replays through an inserted layer goes through its view.
#[test]
fn a_macro_built_with_inner_transport_hands_out_the_layer_view() {
    let log = Log::default();
    let mut layer = Tagged::new(Probe::new(&log));
    let mut t = MemoryTransport::new();
    let mut seen = Vec::new();
    layer.with_inner_transport(&mut t, &mut |v| {
        seen.push(v.name());
        seen.push(if v.get::<u64>() == Some(&1) {
            "calls=1"
        } else {
            "?"
        });
        v.write(b"replayed");
    });
    assert_eq!(seen, ["tagged", "calls=1"]);
    assert_eq!(layer.calls, 1);
    assert_eq!(t.take_written(), b"replayed");
    assert!(log.take().is_empty(), "the inner protocol is not called");
}

#[test]
fn the_framing_layers_forward_every_callback() {
    let log = Log::default();
    let mut lines = Lines::new(LineProbe(Probe::new(&log)));
    assert_eq!(drive(&mut lines, &log), expected("lines"));
    let mut framed = LengthPrefixed::new(StreamOverFrames::new(Probe::new(&log)));
    assert_eq!(drive(&mut framed, &log), expected("stream"));
}

/// A line protocol that is the probe: the macro without a view forwards a
/// `LineProtocol` to a `StreamProtocol` (same shapes), passing `t` as it is.
struct LineProbe(Probe);

impl LineProtocol for LineProbe {
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        self.0.data_received(t, line)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, _unterminated: &[u8]) {
        self.0.eof_received(t)
    }
    strata::forward_to_inner!(0);
}

#[test]
fn a_stack_delivers_edges_deadlines_wakes_and_shutdown_through_the_layer() {
    let log = Log::default();
    let mut probe = Probe::new(&log);
    probe.burst = 16;
    let cfg = StackConfig {
        high_water: 8,
        low_water: 4,
        ..StackConfig::default()
    };
    let mut s = Stack::memory_with(Box::new(Tagged::new(probe)), cfg);
    // The burst crossed the high mark: the edge came from the settle step.
    assert_eq!(
        log.take(),
        ["connection_made@tagged", "pause_writing@tagged"]
    );
    let now = s.now();
    assert_eq!(s.take_output(now).len(), 16);
    assert_eq!(log.take(), ["resume_writing@tagged"]);
    let at = s
        .next_deadline()
        .expect("the probe's deadline, through the layer");
    assert_eq!(at, epoch() + Duration::from_secs(1));
    s.handle_timeout(at);
    assert_eq!(log.take(), ["on_deadline@tagged"]);
    s.handle_shutdown(at);
    assert_eq!(log.take(), ["on_shutdown@tagged"]);
}

#[test]
fn a_wake_route_crosses_a_macro_built_layer_to_one_child() {
    let log = Log::default();
    let kids: Vec<Recorder> = ["c0", "c1"]
        .into_iter()
        .map(|n| Recorder::new(n, &log))
        .collect();
    let wakers: Vec<_> = kids.iter().map(|k| k.wakers.clone()).collect();
    let mux = Mux {
        children: kids
            .into_iter()
            .map(|k| Box::new(k) as Box<dyn StreamProtocol>)
            .collect(),
    };
    let mut s = Stack::memory(Box::new(Tagged::new(Tagged::new(mux))));
    log.take();
    let w1 = wakers[1].lock().unwrap()[0].clone();
    std::thread::spawn(move || w1.wake()).join().unwrap();
    let now = s.now();
    s.handle_wakes(now);
    assert_eq!(log.take(), ["c1:wake"]);
}

#[test]
fn a_wake_handle_reaches_the_protocol_under_the_layer() {
    let log = Log::default();
    let probe = Probe::new(&log);
    let mut s = Stack::memory(Box::new(Tagged::new(probe)));
    log.take();
    let w = s.inspect(|t| t.waker());
    w.wake();
    let now = s.now();
    s.handle_wakes(now);
    assert_eq!(log.take(), ["on_wake[]@tagged"]);
}

/// Logs every datagram callback with the name of the transport it was given.
struct DatagramProbe(Log);

impl DatagramProbe {
    fn note(&self, what: &str, t: &dyn DatagramTransport) {
        self.0.push(format!("{what}@{}", t.layer_chain()[0]));
    }
}

impl DatagramProtocol for DatagramProbe {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.note("connection_made", t);
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {
        self.note("datagrams_received", t);
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        self.0.push(format!("connection_lost:{why}"));
    }
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.note("pause_writing", t);
    }
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.note("resume_writing", t);
    }
    fn next_deadline(&self) -> Option<Instant> {
        Some(epoch() + Duration::from_secs(1))
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        self.note("on_deadline", t);
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, mut route: WakeRoute<'_>) {
        let hops: Vec<u64> = std::iter::from_fn(|| route.next_hop()).collect();
        self.note(&format!("on_wake{hops:?}"), t);
    }
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.note("on_shutdown", t);
        t.close();
    }
    fn error_received(&mut self, t: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        self.note(&format!("error_received:{kind:?}"), t);
    }
    fn buffered(&self) -> usize {
        3
    }
}

/// A datagram layer written with `datagram:`: a view named `dtagged`.
struct DatagramTagged<P> {
    inner: P,
}

struct DatagramView<'a> {
    lower: &'a mut dyn DatagramTransport,
}

impl Introspect for DatagramView<'_> {
    fn name(&self) -> &'static str {
        "dtagged"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl DatagramTransport for DatagramView<'_> {
    fn send(&mut self, tx: &Transmit<'_>) {
        self.lower.send(tx)
    }
    fn max_datagram_size(&self) -> usize {
        self.lower.max_datagram_size()
    }
    strata::forward_to_lower!(lower: write_eof, close, abort, pause_reading,
        resume_reading, buffered, writable, now, waker);
}

impl<P: DatagramProtocol> DatagramTagged<P> {
    fn call(&mut self, t: &mut dyn DatagramTransport, f: impl FnOnce(&mut P, &mut DatagramView)) {
        f(&mut self.inner, &mut DatagramView { lower: t })
    }
}

impl<P: DatagramProtocol> DatagramProtocol for DatagramTagged<P> {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        self.call(t, |p, v| p.datagrams_received(v, batch))
    }
    strata::forward_to_inner!(datagram: inner via call);
}

#[test]
fn a_datagram_layer_forwards_every_callback_error_received_included() {
    let log = Log::default();
    let mut layer = DatagramTagged {
        inner: DatagramProbe(log.clone()),
    };
    let mut t = MemoryDatagramTransport::new(1200);
    layer.connection_made(&mut t);
    layer.pause_writing(&mut t);
    layer.resume_writing(&mut t);
    assert_eq!(
        layer.next_deadline(),
        Some(epoch() + Duration::from_secs(1))
    );
    layer.on_deadline(&mut t);
    layer.on_wake(&mut t, WakeRoute::new(&[7]));
    layer.error_received(&mut t, std::io::ErrorKind::ConnectionRefused);
    assert_eq!(layer.buffered(), 3);
    layer.on_shutdown(&mut t);
    assert!(t.is_closed());
    layer.connection_lost(&strata::Close::Done);
    let calls = [
        "connection_made",
        "pause_writing",
        "resume_writing",
        "on_deadline",
        "on_wake[7]",
        "error_received:ConnectionRefused",
        "on_shutdown",
    ];
    let want: Vec<String> = calls
        .iter()
        .map(|c| format!("{c}@dtagged"))
        .chain([format!("connection_lost:{}", strata::Close::Done)])
        .collect();
    assert_eq!(log.take(), want);
}

/// The walkthrough's code block is the example file, so the guide compiles
/// (as a doctest) and runs (as `cargo run --example`) and cannot drift.
#[test]
fn the_first_layer_guide_shows_the_example_file() {
    let root = env!("CARGO_MANIFEST_DIR");
    let guide = std::fs::read_to_string(format!("{root}/../../docs/first-layer.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/counting_layer.rs")).unwrap();
    let code: String = example
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let block = guide
        .split("```rust\n")
        .nth(1)
        .and_then(|b| b.split("```\n").next())
        .expect("a rust block in the guide");
    assert_eq!(block, code, "docs/first-layer.md and the example differ");
}
