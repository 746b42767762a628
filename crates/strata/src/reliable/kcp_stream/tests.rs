//! Unit tests of the layer against a memory datagram transport.

use super::*;
use crate::reliable::kcp::{Command, Segment};
use crate::testing::MemoryDatagramTransport;
use crate::StreamTransport;

/// Records what the layer did to it.
#[derive(Default)]
struct Rec {
    got: Vec<u8>,
    lost: Option<Close>,
    chain: Vec<&'static str>,
    half_close: Option<HalfClose>,
    close_on_connect: bool,
}

impl StreamProtocol for Rec {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.chain = t.layer_chain();
        self.half_close = t.get::<HalfClose>().copied();
        t.write(b"ping");
        if self.close_on_connect {
            t.write_eof();
            t.write(b"ignored");
        }
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.got.extend_from_slice(d);
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, why: &Close) {
        self.lost = Some(why.clone());
    }
}

fn push(conv: u32, sn: u32, una: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Segment {
        conv,
        cmd: Command::Push,
        frg: 0,
        wnd: 128,
        ts: 0,
        sn,
        una,
        data,
    }
    .encode(&mut out);
    out
}

#[test]
fn kcp_stream_view_is_named_kcp_and_cannot_half_close() {
    let mut s = KcpStream::new(3, KcpStreamConfig::default(), Rec::default()).unwrap();
    let mut t = MemoryDatagramTransport::new(1500);
    s.connection_made(&mut t);
    assert_eq!(s.inner().chain, ["kcp", "memory"]);
    assert_eq!(s.inner().half_close, Some(HalfClose(false)));
    assert_eq!(s.buffered(), 4);
}

#[test]
fn kcp_stream_bad_datagrams_are_counted_not_fatal() {
    let mut s = KcpStream::new(3, KcpStreamConfig::default(), Rec::default()).unwrap();
    let counters = s.counters();
    let mut t = MemoryDatagramTransport::new(1500);
    s.connection_made(&mut t);
    let garbage: [&[u8]; 4] = [b"", b"short", &[0xff; 30], &push(4, 0, 0, b"other conv")];
    for g in garbage {
        s.datagrams_received(&mut t, &[Datagram::new(None, g)]);
    }
    assert_eq!(counters.bad_datagrams(), 4);
    s.datagrams_received(&mut t, &[Datagram::new(None, &push(3, 0, 0, b"ok"))]);
    assert_eq!(s.inner().got, b"ok");
    assert!(t.aborted().is_none());
    assert!(s.inner().lost.is_none());
}

#[test]
fn kcp_stream_with_peer_drops_datagrams_from_elsewhere() {
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let other: SocketAddr = "127.0.0.1:10".parse().unwrap();
    let s = KcpStream::new(3, KcpStreamConfig::default(), Rec::default()).unwrap();
    let mut s = s.with_peer(peer);
    let counters = s.counters();
    let mut t = MemoryDatagramTransport::new(1500);
    s.connection_made(&mut t);
    let d = push(3, 0, 0, b"x");
    s.datagrams_received(&mut t, &[Datagram::new(Some(other), &d)]);
    assert_eq!(counters.stray_datagrams(), 1);
    assert!(s.inner().got.is_empty());
    s.datagrams_received(&mut t, &[Datagram::new(Some(peer), &d)]);
    assert_eq!(s.inner().got, b"x");
}

#[test]
fn kcp_stream_write_eof_closes_after_the_peer_acked_everything() {
    let rec = Rec {
        close_on_connect: true,
        ..Rec::default()
    };
    let mut s = KcpStream::new(3, KcpStreamConfig::default(), rec).unwrap();
    let mut t = MemoryDatagramTransport::new(1500);
    s.connection_made(&mut t);
    assert!(!t.is_closed());
    // Congestion control: the first tick opens the window, the second sends.
    for _ in 0..2 {
        let at = s.next_deadline().unwrap();
        t.advance(at.saturating_duration_since(t.now()));
        s.on_deadline(&mut t);
    }
    let sent = t.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(&sent[0].contents[24..], b"ping");
    // The peer acknowledges sn 0 (una 1): nothing is left, so it closes.
    let mut ack = Vec::new();
    Segment {
        conv: 3,
        cmd: Command::Ack,
        frg: 0,
        wnd: 128,
        ts: 0,
        sn: 0,
        una: 1,
        data: &[],
    }
    .encode(&mut ack);
    s.datagrams_received(&mut t, &[Datagram::new(None, &ack)]);
    assert!(t.is_closed());
    assert_eq!(s.buffered(), 0);
    assert!(s.next_deadline().is_none());
}

#[test]
fn kcp_stream_refuses_a_transport_too_small_for_its_mtu() {
    let mut s = KcpStream::new(3, KcpStreamConfig::default(), Rec::default()).unwrap();
    let mut t = MemoryDatagramTransport::new(1000);
    s.connection_made(&mut t);
    assert!(matches!(
        t.aborted(),
        Some(Close::Aborted {
            layer: "kcp",
            reason: AbortReason::FrameTooLarge {
                size: 1400,
                limit: 1000
            }
        })
    ));
}

#[test]
fn kcp_stream_rejects_an_invalid_engine_config() {
    let cfg = KcpStreamConfig {
        kcp: KcpConfig {
            mtu: 1,
            ..KcpConfig::default()
        },
        ..KcpStreamConfig::default()
    };
    assert!(KcpStream::new(1, cfg.clone(), Rec::default()).is_err());
    let factory: StreamFactory = Arc::new(|| Box::new(Rec::default()));
    let lcfg = KcpListenerConfig {
        stream: cfg,
        ..KcpListenerConfig::default()
    };
    assert!(KcpListener::new(lcfg, factory).is_err());
}

#[test]
fn kcp_listener_opens_only_on_a_first_data_datagram() {
    let factory: StreamFactory = Arc::new(|| Box::new(Rec::default()));
    let mut l = KcpListener::new(KcpListenerConfig::default(), factory).unwrap();
    let c = l.counters();
    let mut t = MemoryDatagramTransport::new(1500);
    l.connection_made(&mut t);
    let from: SocketAddr = "127.0.0.1:7".parse().unwrap();
    // Acknowledges something: a stale datagram, not an opening one.
    l.datagrams_received(&mut t, &[Datagram::new(Some(from), &push(5, 3, 2, b"x"))]);
    // No source, garbage.
    l.datagrams_received(&mut t, &[Datagram::new(None, &push(5, 0, 0, b"x"))]);
    l.datagrams_received(&mut t, &[Datagram::new(Some(from), b"garbage")]);
    assert_eq!(l.connections(), 0);
    assert_eq!((c.stray_datagrams(), c.bad_datagrams()), (2, 1));
    l.datagrams_received(&mut t, &[Datagram::new(Some(from), &push(5, 0, 0, b"x"))]);
    assert_eq!(l.connections(), 1);
    assert_eq!(c.accepted(), 1);
    // The same pair again goes to the same conversation; another conv opens another.
    l.datagrams_received(&mut t, &[Datagram::new(Some(from), &push(5, 1, 0, b"y"))]);
    l.datagrams_received(&mut t, &[Datagram::new(Some(from), &push(6, 0, 0, b"z"))]);
    assert_eq!(l.connections(), 2);
    assert!(l.next_deadline().is_some());
}

#[test]
fn kcp_listener_limits_connections() {
    let factory: StreamFactory = Arc::new(|| Box::new(Rec::default()));
    let cfg = KcpListenerConfig {
        max_connections: 3,
        ..KcpListenerConfig::default()
    };
    let mut l = KcpListener::new(cfg, factory).unwrap();
    let c = l.counters();
    let mut t = MemoryDatagramTransport::new(1500);
    l.connection_made(&mut t);
    for port in 1..=100u16 {
        let from = SocketAddr::from(([127, 0, 0, 1], port));
        l.datagrams_received(&mut t, &[Datagram::new(Some(from), &push(1, 0, 0, b"x"))]);
    }
    assert_eq!(l.connections(), 3);
    assert_eq!((c.accepted(), c.refused()), (3, 97));
}

/// A waker taken at `connection_made`, and the number of `on_wake` calls.
type WakeSlot = Arc<std::sync::Mutex<(Option<crate::Wake>, u32)>>;

/// Takes a waker at `connection_made`; counts `on_wake` calls.
struct Wakeable(WakeSlot);

impl StreamProtocol for Wakeable {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().0 = Some(t.waker());
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        assert!(route.is_here());
        t.write(b"woken");
        self.0.lock().unwrap().1 += 1;
    }
}

#[test]
fn kcp_listener_routes_a_wake_to_its_child_only() {
    let slots: Vec<WakeSlot> = (0..2).map(|_| Arc::default()).collect();
    let made = Arc::new(std::sync::Mutex::new(slots.clone().into_iter()));
    let factory: StreamFactory = Arc::new(move || {
        let slot = made.lock().unwrap().next().unwrap();
        Box::new(Wakeable(slot))
    });
    let cfg = KcpListenerConfig {
        stream: KcpStreamConfig {
            kcp: KcpConfig {
                mtu: 1200,
                ..KcpConfig::fast_mode()
            },
            ..KcpStreamConfig::default()
        },
        ..KcpListenerConfig::default()
    };
    let l = KcpListener::new(cfg, factory).unwrap();
    let mut s = crate::DatagramStack::memory(Box::new(l));
    let now = s.now();
    for port in [1, 2] {
        let from = SocketAddr::from(([127, 0, 0, 1], port));
        s.handle_datagrams(now, &[Datagram::new(Some(from), &push(8, 0, 0, b"x"))]);
    }
    let wake = slots[1].lock().unwrap().0.clone().unwrap();
    wake.wake();
    s.handle_wakes(now);
    assert_eq!(slots[0].lock().unwrap().1, 0);
    assert_eq!(slots[1].lock().unwrap().1, 1);
}

#[test]
fn kcp_stream_huge_timeouts_do_not_overflow() {
    let cfg = KcpStreamConfig {
        idle_timeout: Some(Duration::MAX),
        close_timeout: Duration::MAX,
        ..KcpStreamConfig::default()
    };
    let rec = Rec {
        close_on_connect: true,
        ..Rec::default()
    };
    let mut s = KcpStream::new(3, cfg, rec).unwrap();
    let mut t = MemoryDatagramTransport::new(1500);
    s.connection_made(&mut t);
    assert!(s.next_deadline().is_some());
}
