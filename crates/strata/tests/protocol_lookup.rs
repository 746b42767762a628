//! `Stack::protocol::<T>()`: a test reads its protocols' results from the
//! stack (during the run and after the connection ended), under layers that
//! answer `inner_protocol`, with no `Arc<Mutex<_>>`.

use std::time::Duration;

use strata::testing::{Pump, RunOutcome};
use strata::{Stack, StreamProtocol, StreamTransport, SwapRequest};

/// Writes a greeting, then closes after EOF.
struct Greet;

impl StreamProtocol for Greet {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"hello");
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// Keeps what it reads and whether it saw the end.
#[derive(Default)]
struct Collect {
    got: Vec<u8>,
    lost: bool,
}

impl StreamProtocol for Collect {
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.got.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, _: &strata::Close) {
        self.lost = true;
    }
}

/// A pass-through layer that holds its inner protocol boxed, and may hide it.
struct Wrap {
    inner: Box<dyn StreamProtocol>,
    answers: bool,
}

impl StreamProtocol for Wrap {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.inner.connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.inner.data_received(t, d)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(t)
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        self.inner.connection_lost(why)
    }
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        self.answers.then_some(&self.inner as &dyn StreamProtocol)
    }
}

#[test]
fn the_pump_gives_the_protocols_back_after_the_end() {
    let mut pump = Pump::new(Box::new(Greet), Box::new(Collect::default()));
    assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
    assert!(pump.b().finished().unwrap().is_clean());
    let c = pump.b().protocol::<Collect>().expect("kept after the end");
    assert_eq!(c.got, b"hello");
    assert!(c.lost, "connection_lost ran before it was kept");
    assert!(pump.a().protocol::<Greet>().is_some());
    assert!(pump.a().protocol::<Collect>().is_none(), "wrong type: none");
}

#[test]
fn a_plain_stack_drops_its_protocol_at_the_end_unless_asked() {
    for keep in [false, true] {
        let mut s = Stack::memory(Box::new(Collect::default()));
        if keep {
            s.keep_protocol();
        }
        let now = s.now();
        s.handle_input(now, b"ab");
        assert_eq!(s.protocol::<Collect>().unwrap().got, b"ab", "while running");
        s.handle_eof(now);
        assert!(s.finished().is_some());
        assert_eq!(s.protocol::<Collect>().is_some(), keep);
    }
}

#[test]
fn the_lookup_goes_under_layers_that_answer_and_into_boxes() {
    for answers in [true, false] {
        let inner: Box<dyn StreamProtocol> = Box::new(Collect::default());
        let wrap = Wrap { inner, answers };
        let mut pump = Pump::new(Box::new(Greet), Box::new(wrap));
        assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
        assert!(pump.b().protocol::<Wrap>().is_some());
        let found = pump.b().protocol::<Collect>();
        assert_eq!(
            found.is_some(),
            answers,
            "a layer that does not answer hides"
        );
        if let Some(c) = found {
            assert_eq!(c.got, b"hello");
        }
    }
}

/// Replaces itself with a `Collect` on its first input.
struct Swapper;

impl StreamProtocol for Swapper {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.request_swap(
            SwapRequest::Replace(Box::new(Collect::default())),
            d.to_vec(),
        )
        .unwrap();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[test]
fn after_a_replace_the_lookup_finds_the_new_protocol() {
    let mut pump = Pump::new(Box::new(Greet), Box::new(Swapper));
    assert!(pump.b().protocol::<Swapper>().is_some());
    assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
    assert!(pump.b().protocol::<Swapper>().is_none());
    assert_eq!(pump.b().protocol::<Collect>().unwrap().got, b"hello");
}
