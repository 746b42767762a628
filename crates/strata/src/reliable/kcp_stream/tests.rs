//! Unit tests of the layer against a memory datagram transport.

use super::*;
use crate::reliable::kcp::{Command, Segment};
use crate::testing::MemoryDatagramTransport;
use crate::StreamFactory;
use crate::{ReliableDelivery, StreamTransport};

/// Records what the layer did to it.
#[derive(Default)]
struct Rec {
    got: Vec<u8>,
    lost: Option<Close>,
    chain: Vec<&'static str>,
    half_close: Option<HalfClose>,
    close_on_connect: bool,
    /// And `close` right after that `write_eof`.
    then_close: bool,
}

impl StreamProtocol for Rec {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.chain = t.layer_chain();
        self.half_close = t.get::<HalfClose>().copied();
        t.write(b"ping");
        if self.close_on_connect {
            t.write_eof();
            t.write(b"ignored");
            if self.then_close {
                t.close();
            }
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

/// Without the end marker KCP cannot half-close: `write_eof` flushes what
/// was written, then ends the conversation with a typed error instead of
/// leaving a reader waiting for an end its peer cannot see; `write_eof`
/// then `close` (no reading expected) ends cleanly.
#[test]
fn kcp_stream_write_eof_without_the_marker_flushes_then_fails_fast() {
    write_eof_flushes(false);
    write_eof_flushes(true);
}

fn write_eof_flushes(then_close: bool) {
    let rec = Rec {
        close_on_connect: true,
        then_close,
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
    if then_close {
        assert!(t.is_closed() && t.aborted().is_none());
        assert!(s.next_deadline().is_none());
        return;
    }
    let why = t.aborted().expect("ended by the kcp layer");
    assert_eq!(why.layer(), Some("kcp"), "{why}");
    let e = why.error::<KcpError>();
    assert_eq!(e, Some(&KcpError::NoHalfClose), "{why}");
    assert!(why.to_string().contains("reliable.kcp_fin=true"), "{why}");
    assert_eq!(s.buffered(), 0);
    assert!(s.next_deadline().is_none());
}

/// What one end of a half-close exchange saw.
#[derive(Default)]
struct HalfSeen {
    got: Vec<u8>,
    eof: bool,
    half_close: Option<HalfClose>,
    reliable: Option<ReliableDelivery>,
    lost: Option<Close>,
}

type HalfShared = Arc<std::sync::Mutex<HalfSeen>>;

/// The server: writes `n` bytes, then `write_eof`, and keeps reading.
struct Sender(HalfShared, usize);
impl StreamProtocol for Sender {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut seen = self.0.lock().unwrap();
        seen.half_close = t.get::<HalfClose>().copied();
        seen.reliable = t.get::<ReliableDelivery>().copied();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        let mut seen = self.0.lock().unwrap();
        if seen.got.is_empty() {
            // The request: answer it, then the end of our direction.
            t.write(&vec![7; self.1]);
            t.write_eof();
            t.write(b"refused after write_eof");
        }
        seen.got.extend_from_slice(d);
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        self.0.lock().unwrap().eof = true;
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// The client: a request, then reads to the end, then `write_eof` (which
/// with the marker on ends the conversation: both directions are done).
struct Getter(HalfShared);
impl StreamProtocol for Getter {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut seen = self.0.lock().unwrap();
        seen.half_close = t.get::<HalfClose>().copied();
        seen.reliable = t.get::<ReliableDelivery>().copied();
        t.write(b"GET");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.0.lock().unwrap().got.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().eof = true;
        t.write(b"thanks");
        t.write_eof();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// A client and a listener over a lossy simulated link, both with `fin`;
/// runs for at most 30 s of virtual time (half the idle timeout).
fn half_close_run(fin: bool, n: usize) -> (HalfSeen, HalfSeen) {
    use crate::testing::{LinkConfig, Loss, SimNet};
    let (client, server): (HalfShared, HalfShared) = (Arc::default(), Arc::default());
    let cfg = KcpStreamConfig {
        fin,
        ..KcpStreamConfig::default()
    };
    let sv = server.clone();
    let factory: StreamFactory = Arc::new(move || Box::new(Sender(sv.clone(), n)));
    let lcfg = KcpListenerConfig {
        stream: cfg.clone(),
        ..KcpListenerConfig::default()
    };
    let (ca, sa): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:4000".parse().unwrap(),
    );
    let mut net = SimNet::new(11);
    net.set_tracing(false);
    let s = net.add_node(sa, Box::new(KcpListener::new(lcfg, factory).unwrap()));
    let c = net.add_node(
        ca,
        Box::new(
            KcpStream::new(5, cfg, Getter(client.clone()))
                .unwrap()
                .with_peer(sa),
        ),
    );
    let link = LinkConfig::default()
        .delay(Duration::from_millis(10))
        .loss(Loss::Random(0.05));
    net.link_both(c, s, link);
    net.run_until(Duration::from_secs(30), |_| {
        client.lock().unwrap().lost.is_some() && server.lock().unwrap().lost.is_some()
    });
    let take = |x: &HalfShared| std::mem::take(&mut *x.lock().unwrap());
    (take(&client), take(&server))
}

/// With the end marker on both ends, the server's `write_eof` is the
/// client's `eof_received` after every byte, the server keeps reading, and
/// both ends close cleanly long before the idle timeout.
#[test]
fn kcp_stream_with_the_end_marker_half_closes_and_both_ends_finish() {
    let n = 200_000;
    let (client, server) = half_close_run(true, n);
    assert_eq!(client.half_close, Some(HalfClose(true)));
    assert_eq!(server.half_close, Some(HalfClose(true)));
    // KCP delivers every byte once and in order, as the native mapping does.
    assert_eq!(client.reliable, Some(ReliableDelivery(true)));
    assert_eq!(server.reliable, Some(ReliableDelivery(true)));
    assert_eq!((client.got.len(), client.eof), (n, true));
    assert!(client.got.iter().all(|b| *b == 7));
    assert_eq!((&server.got[..], server.eof), (&b"GETthanks"[..], true));
    assert!(
        matches!(client.lost, Some(Close::Done)),
        "{:?}",
        client.lost
    );
    assert!(
        matches!(server.lost, Some(Close::Done)),
        "{:?}",
        server.lost
    );
}

/// Without it, the server's `write_eof` fails fast with the typed error
/// (after its bytes were acknowledged); the client has every byte but, as
/// the KCP wire cannot say more, no end.
#[test]
fn kcp_stream_without_the_end_marker_write_eof_is_a_typed_error() {
    let n = 50_000;
    let (client, server) = half_close_run(false, n);
    assert_eq!(server.half_close, Some(HalfClose(false)));
    assert_eq!((client.got.len(), client.eof), (n, false));
    let why = server.lost.as_ref().expect("the server ended");
    assert_eq!(why.layer(), Some("kcp"), "{why}");
    assert_eq!(why.error::<KcpError>(), Some(&KcpError::NoHalfClose));
}

/// The engine: an end marker is read alone, after every byte before it, and
/// a stream-mode `send` after it takes nothing.
#[test]
fn kcp_end_marker_is_read_after_the_bytes_before_it() {
    use crate::reliable::kcp::Kcp;
    let mut a = Kcp::new(1, KcpConfig::default()).unwrap();
    let mut b = Kcp::new(1, KcpConfig::default()).unwrap();
    let now = std::time::Instant::now();
    assert_eq!(a.send(b"abc"), 3);
    assert!(a.send_end());
    assert_eq!(a.send(b"late"), 0);
    let mut tx = Vec::new();
    let mut t = now;
    for _ in 0..10 {
        a.on_timeout(t);
        while a.poll_transmit(t, &mut tx) {
            b.input(t, &tx).unwrap();
        }
        b.on_timeout(t);
        while b.poll_transmit(t, &mut tx) {
            a.input(t, &tx).unwrap();
        }
        t += Duration::from_millis(100);
    }
    let mut out = Vec::new();
    assert_eq!(b.recv(&mut out), Some(3));
    assert!(!b.end_received());
    assert_eq!(b.recv(&mut out), Some(0));
    assert!(b.end_received());
    assert_eq!(out, b"abc");
    assert_eq!(b.recv(&mut out), None);
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
    // The same counts in the native listener's shape.
    let s = l.stats();
    assert_eq!(
        (s.accepted, s.dropped_unknown, s.dropped_malformed),
        (2, 2, 1)
    );
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
