//! `Box<dyn StreamProtocol>` (and the datagram twin) forward every method: a
//! forgotten default would silently change stacks built at run time. So
//! does the swap point, `ProtocolSlot`, both ways: to its protocol, and from
//! its protocol to the transport it holds it over.

mod common;

use std::time::{Duration, Instant};

use common::Log;
use strata::testing::{MemoryDatagramTransport, MemoryTransport};
use strata::{
    Addr, Close, Datagram, DatagramProtocol, DatagramTransport, PeerAddr, ProtocolSlot,
    StreamProtocol, StreamTransport, WakeRoute,
};

/// Overrides every method with something observable.
struct All {
    log: Log,
    at: Instant,
}

impl StreamProtocol for All {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("connection_made");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {
        self.log.push("data_received");
    }
    fn data_received_bytes(&mut self, _: &mut dyn StreamTransport, _: bytes::Bytes) {
        self.log.push("data_received_bytes");
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("eof_received");
    }
    fn connection_lost(&mut self, _: &Close) {
        self.log.push("connection_lost");
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("pause_writing");
    }
    fn resume_writing(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("resume_writing");
    }
    fn next_deadline(&self) -> Option<Instant> {
        Some(self.at)
    }
    fn on_deadline(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("on_deadline");
    }
    fn on_wake(&mut self, _: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        self.log.push("on_wake");
    }
    fn on_shutdown(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("on_shutdown");
    }
    fn buffered(&self) -> usize {
        77
    }
}

/// Calls every method of `p` (which holds an [`All`]) and checks each arrived.
fn forwards_every_method(p: &mut dyn StreamProtocol, log: &Log, at: Instant) {
    let mut t = MemoryTransport::new();
    p.connection_made(&mut t);
    p.data_received(&mut t, b"x");
    p.data_received_bytes(&mut t, bytes::Bytes::from_static(b"y"));
    p.eof_received(&mut t);
    p.pause_writing(&mut t);
    p.resume_writing(&mut t);
    assert_eq!(p.next_deadline(), Some(at));
    p.on_deadline(&mut t);
    p.on_wake(&mut t, WakeRoute::new(&[]));
    p.on_shutdown(&mut t);
    assert_eq!(p.buffered(), 77);
    p.connection_lost(&Close::Done);
    assert_eq!(
        log.take(),
        vec![
            "connection_made",
            "data_received",
            "data_received_bytes",
            "eof_received",
            "pause_writing",
            "resume_writing",
            "on_deadline",
            "on_wake",
            "on_shutdown",
            "connection_lost"
        ]
    );
    assert!(
        !t.is_closed(),
        "the default on_shutdown (close) was not used"
    );
}

#[test]
fn boxed_stream_protocol_forwards_every_method() {
    let log = Log::default();
    let at = strata::testing::epoch() + Duration::from_secs(3);
    let p: Box<dyn StreamProtocol> = Box::new(All {
        log: log.clone(),
        at,
    });
    // Box<Box<dyn ..>> exercises the blanket impl on top of the vtable.
    let mut p: Box<Box<dyn StreamProtocol>> = Box::new(p);
    forwards_every_method(&mut p, &log, at);
}

#[test]
fn a_protocol_slot_forwards_every_method() {
    let log = Log::default();
    let at = strata::testing::epoch() + Duration::from_secs(3);
    let mut slot = ProtocolSlot::new(Box::new(All {
        log: log.clone(),
        at,
    }));
    forwards_every_method(&mut slot, &log, at);
}

/// Uses every transport method once, in `connection_made`.
struct UseAll;

impl StreamProtocol for UseAll {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        assert_eq!(t.get::<PeerAddr>(), Some(&PeerAddr(Addr::Memory(9))));
        assert_eq!(t.layer_chain(), ["memory"], "the slot is not a layer");
        t.write(b"a");
        t.write_bytes(bytes::Bytes::from_static(b"b"));
        assert_eq!(t.buffered(), 2);
        assert!(t.writable());
        let _ = (t.now(), t.waker());
        t.pause_reading();
        t.write_eof();
        struct Ping;
        impl strata::Control for Ping {
            type Reply = u8;
        }
        assert_eq!(t.ask(Ping), None, "control reaches the transport below");
        t.close();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        t.resume_reading();
        t.abort(Close::Reset);
    }
}

#[test]
fn a_protocol_slot_passes_every_transport_call_below() {
    let mut t = MemoryTransport::new().with_peer(Addr::Memory(9));
    let mut slot = ProtocolSlot::new(Box::new(UseAll));
    slot.connection_made(&mut t);
    assert_eq!(t.take_written(), b"ab");
    assert!(t.is_read_paused());
    assert!(t.eof_written());
    assert!(t.is_closed());
    slot.on_shutdown(&mut t);
    assert!(!t.is_read_paused());
    assert!(matches!(t.aborted(), Some(Close::Reset)));
}

struct AllD {
    log: Log,
    at: Instant,
}

impl DatagramProtocol for AllD {
    fn connection_made(&mut self, _: &mut dyn DatagramTransport) {
        self.log.push("connection_made");
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
        self.log.push(format!("datagrams_received:{}", b.len()));
    }
    fn eof_received(&mut self, _: &mut dyn DatagramTransport) {
        self.log.push("eof_received");
    }
    fn connection_lost(&mut self, _: &Close) {
        self.log.push("connection_lost");
    }
    fn pause_writing(&mut self, _: &mut dyn DatagramTransport) {
        self.log.push("pause_writing");
    }
    fn resume_writing(&mut self, _: &mut dyn DatagramTransport) {
        self.log.push("resume_writing");
    }
    fn next_deadline(&self) -> Option<Instant> {
        Some(self.at)
    }
    fn on_deadline(&mut self, _: &mut dyn DatagramTransport) {
        self.log.push("on_deadline");
    }
    fn on_wake(&mut self, _: &mut dyn DatagramTransport, _: WakeRoute<'_>) {
        self.log.push("on_wake");
    }
    fn on_shutdown(&mut self, _: &mut dyn DatagramTransport) {
        self.log.push("on_shutdown");
    }
    fn error_received(&mut self, _: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        self.log.push(format!("error_received:{kind:?}"));
    }
    fn buffered(&self) -> usize {
        78
    }
}

#[test]
fn boxed_datagram_protocol_forwards_every_method() {
    let log = Log::default();
    let at = strata::testing::epoch() + Duration::from_secs(4);
    let mut p: Box<dyn DatagramProtocol> = Box::new(AllD {
        log: log.clone(),
        at,
    });
    let mut t = MemoryDatagramTransport::new(1200);
    p.connection_made(&mut t);
    p.datagrams_received(
        &mut t,
        &[Datagram::new(None, b"a"), Datagram::new(None, b"b")],
    );
    p.eof_received(&mut t);
    p.pause_writing(&mut t);
    p.resume_writing(&mut t);
    assert_eq!(p.next_deadline(), Some(at));
    p.on_deadline(&mut t);
    p.on_wake(&mut t, WakeRoute::new(&[]));
    p.on_shutdown(&mut t);
    p.error_received(&mut t, std::io::ErrorKind::ConnectionRefused);
    assert_eq!(p.buffered(), 78);
    p.connection_lost(&Close::Done);
    assert_eq!(
        log.take(),
        vec![
            "connection_made",
            "datagrams_received:2",
            "eof_received",
            "pause_writing",
            "resume_writing",
            "on_deadline",
            "on_wake",
            "on_shutdown",
            "error_received:ConnectionRefused",
            "connection_lost"
        ]
    );
    assert!(!t.is_closed());
}
