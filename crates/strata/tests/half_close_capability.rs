//! Whether `write_eof` half-closes is a capability that can change during a
//! connection (TLS 1.2 vs 1.3 decides it only after the handshake). A layer
//! that cannot half-close says so, and turns `write_eof` into a close rather
//! than hanging.

use std::any::{Any, TypeId};

use strata::{HalfClose, Introspect, Stack, StreamProtocol, StreamTransport};

/// Answers `HalfClose(false)` until it has seen `DONE` (its "handshake").
struct Handshaking<P> {
    inner: P,
    half_close: HalfClose,
}

struct View<'a> {
    lower: &'a mut dyn StreamTransport,
    half_close: HalfClose,
}

impl Introspect for View<'_> {
    fn name(&self) -> &'static str {
        "handshaking"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        strata::capability!(id, self.half_close)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for View<'_> {
    fn write_eof(&mut self) {
        if self.half_close.0 {
            self.lower.write_eof()
        } else {
            self.lower.close()
        }
    }
    strata::forward_to_lower!(lower: write, close, abort, pause_reading, resume_reading, buffered, writable, now, waker);
}

impl<P: StreamProtocol> StreamProtocol for Handshaking<P> {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if data == b"DONE" {
            self.half_close = HalfClose(true);
            return;
        }
        let mut v = View {
            lower: t,
            half_close: self.half_close,
        };
        self.inner.data_received(&mut v, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut v = View {
            lower: t,
            half_close: self.half_close,
        };
        self.inner.eof_received(&mut v)
    }
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&self.inner)
    }
}

/// On "?" reports the capability; on "eof" half-closes.
struct User {
    seen: Vec<Option<HalfClose>>,
}

impl StreamProtocol for User {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        match data {
            b"?" => self.seen.push(t.get::<HalfClose>().copied()),
            b"eof" => t.write_eof(),
            _ => {}
        }
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

fn stack() -> Stack {
    let p = Handshaking {
        inner: User { seen: Vec::new() },
        half_close: HalfClose(false),
    };
    Stack::memory(Box::new(p))
}

#[test]
fn the_answer_changes_after_the_handshake() {
    let mut s = stack();
    let now = s.now();
    s.handle_input(now, b"?");
    s.handle_input(now, b"DONE");
    s.handle_input(now, b"?");
    assert_eq!(
        s.protocol::<User>().unwrap().seen,
        vec![Some(HalfClose(false)), Some(HalfClose(true))]
    );
    s.handle_input(now, b"eof");
    assert!(s.should_shutdown_write(), "a real half-close");
    assert!(s.finished().is_none(), "still reading");
}

#[test]
fn without_half_close_write_eof_closes_instead_of_hanging() {
    let mut s = stack();
    let now = s.now();
    s.handle_input(now, b"eof");
    assert!(s.finished().unwrap().is_clean(), "closed both ways");
}
