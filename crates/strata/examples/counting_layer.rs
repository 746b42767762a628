//! A complete small layer: counts the bytes that pass through it both ways and
//! answers a `ByteCounts` capability. The walkthrough is docs/first-layer.md.
//!
//! Run it: `cargo run -p strata --example counting_layer`.

use std::any::{Any, TypeId};
use std::time::Instant;

use strata::testing::Pump;
use strata::{Close, Introspect, StreamLayer, StreamProtocol, StreamTransport, WakeRoute};

/// The capability this layer answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteCounts {
    pub read: u64,
    pub written: u64,
}

/// The layer: a protocol to the transport below, owning the protocol above.
pub struct Counting<P> {
    inner: P,
    counts: ByteCounts,
}

impl<P> Counting<P> {
    pub fn new(inner: P) -> Self {
        Counting {
            inner,
            counts: ByteCounts::default(),
        }
    }
}

/// The view: what the inner protocol sees as its transport. Built for one
/// call, over the layer's state and the transport below.
struct View<'a> {
    lower: &'a mut dyn StreamTransport,
    counts: &'a mut ByteCounts,
}

impl Introspect for View<'_> {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        strata::capability!(id, *self.counts)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for View<'_> {
    fn write(&mut self, data: &[u8]) {
        self.counts.written += data.len() as u64;
        self.lower.write(data)
    }
    // Everything else passes straight through to the transport below.
    strata::forward_to_lower!(lower: write_eof, close, abort, pause_reading,
        resume_reading, buffered, writable, now, waker);
}

impl<P: StreamProtocol> Counting<P> {
    /// Splits the borrow: the inner protocol, and a view over the rest.
    fn parts<'a>(&'a mut self, t: &'a mut dyn StreamTransport) -> (&'a mut P, View<'a>) {
        let view = View {
            lower: t,
            counts: &mut self.counts,
        };
        (&mut self.inner, view)
    }
}

impl<P: StreamProtocol> StreamProtocol for Counting<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let (p, mut v) = self.parts(t);
        p.connection_made(&mut v)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.counts.read += data.len() as u64;
        let (p, mut v) = self.parts(t);
        p.data_received(&mut v, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let (p, mut v) = self.parts(t);
        p.eof_received(&mut v)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        let (p, mut v) = self.parts(t);
        p.pause_writing(&mut v)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        let (p, mut v) = self.parts(t);
        p.resume_writing(&mut v)
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let (p, mut v) = self.parts(t);
        p.on_deadline(&mut v)
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        let (p, mut v) = self.parts(t);
        p.on_wake(&mut v, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        let (p, mut v) = self.parts(t);
        p.on_shutdown(&mut v)
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

/// Lets the layer be inserted below a running protocol (`SwapRequest::insert_below`).
impl<P: StreamProtocol> StreamLayer for Counting<P> {
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        let (_, mut v) = self.parts(t);
        f(&mut v)
    }
}

/// A protocol to put on top: echoes, and reports the counts at EOF.
struct Echo;

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let t: &mut dyn StreamTransport = t;
        let counts = *t.get::<ByteCounts>().expect("the layer answers it");
        println!("server side saw {counts:?} through {:?}", t.layer_chain());
        t.close();
    }
}

/// A client that sends a message and half-closes.
struct Client;

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"hello, layers");
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        println!("client got {:?}", String::from_utf8_lossy(data));
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

fn main() {
    let mut pump = Pump::new(Box::new(Client), Box::new(Counting::new(Echo)));
    pump.run(std::time::Duration::from_secs(5));
}
