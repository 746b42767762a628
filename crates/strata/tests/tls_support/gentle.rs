//! A pass-through layer that turns an abort from above into a graceful
//! close: a peer that, like many real ones, answers a fatal alert by closing
//! its socket normally (FIN) instead of resetting it.

use std::time::Instant;

use strata::{Close, Introspect, StreamProtocol, StreamTransport, Wake, WakeRoute};

/// Wraps `inner`; every `abort` it makes becomes `close` below.
pub struct Gentle<P>(pub P);

struct GentleView<'a>(&'a mut dyn StreamTransport);

impl Introspect for GentleView<'_> {
    fn name(&self) -> &'static str {
        "gentle"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.0)
    }
}

impl StreamTransport for GentleView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.0.write(data)
    }
    fn write_eof(&mut self) {
        self.0.write_eof()
    }
    fn close(&mut self) {
        self.0.close()
    }
    fn abort(&mut self, _why: Close) {
        self.0.close()
    }
    fn pause_reading(&mut self) {
        self.0.pause_reading()
    }
    fn resume_reading(&mut self) {
        self.0.resume_reading()
    }
    fn buffered(&self) -> usize {
        self.0.buffered()
    }
    fn writable(&self) -> bool {
        self.0.writable()
    }
    fn now(&self) -> Instant {
        self.0.now()
    }
    fn waker(&self) -> Wake {
        self.0.waker()
    }
}

impl<P: StreamProtocol> StreamProtocol for Gentle<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.0.connection_made(&mut GentleView(t))
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.0.data_received(&mut GentleView(t), data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.eof_received(&mut GentleView(t))
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.0.pause_writing(&mut GentleView(t))
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.0.resume_writing(&mut GentleView(t))
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.0.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.0.on_deadline(&mut GentleView(t))
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.0.on_wake(&mut GentleView(t), route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.0.on_shutdown(&mut GentleView(t))
    }
    fn buffered(&self) -> usize {
        self.0.buffered()
    }
}
