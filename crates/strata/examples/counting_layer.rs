//! A complete small layer: counts the bytes that pass through it both ways and
//! answers a `ByteCounts` capability. The walkthrough is docs/first-layer.md,
//! whose code is this file. Run it: `cargo run -p strata --example counting_layer`.

use std::any::{Any, TypeId};

use strata::{Introspect, StreamLayer, StreamProtocol, StreamTransport};

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

/// The view: the transport the inner protocol sees, built for one call.
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
    // What this layer does not change goes straight to the transport below.
    strata::forward_to_lower!(lower: write_eof, close, abort, pause_reading,
        resume_reading, buffered, writable, now, waker);
}

impl<P: StreamProtocol> Counting<P> {
    /// Calls the inner protocol with this layer's view over `t`.
    fn call(&mut self, t: &mut dyn StreamTransport, f: impl FnOnce(&mut P, &mut View)) {
        let mut view = View {
            lower: t,
            counts: &mut self.counts,
        };
        f(&mut self.inner, &mut view)
    }
}

impl<P: StreamProtocol> StreamProtocol for Counting<P> {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.counts.read += data.len() as u64;
        self.call(t, |p, v| p.data_received(v, data))
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.eof_received(v))
    }
    // Every other callback (on_wake, deadlines, shutdown...) goes through the view.
    strata::forward_to_inner!(inner via call);
}

/// Lets the layer be inserted below a running protocol (`SwapRequest::insert_below`).
impl<P: StreamProtocol> StreamLayer for Counting<P> {
    strata::forward_to_inner!(layer: via call);
}

/// On both sides: say hello, half-close, and check the counts at the peer's EOF.
struct Hello;

impl StreamProtocol for Hello {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"hello, layers");
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let counts = *t.get::<ByteCounts>().expect("the layer answers it");
        assert_eq!((counts.read, counts.written), (13, 13));
        println!("{counts:?} through {:?}", t.layer_chain());
        t.close();
    }
}

fn main() {
    let counting = || {
        Box::new(Counting {
            inner: Hello,
            counts: ByteCounts::default(),
        })
    };
    let mut pump = strata::testing::Pump::new(counting(), counting());
    pump.run(std::time::Duration::from_secs(5));
}
