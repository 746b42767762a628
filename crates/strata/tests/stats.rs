//! Per-layer statistics: exact counters after a known exchange, in memory,
//! and the walk that collects every layer's figures in chain order.

use std::any::{Any, TypeId};
use std::time::Instant;

use strata::stats::{Counters, LayerStats, PathStats};
use strata::{Close, Introspect, Stack, StreamProtocol, StreamTransport, Wake};

struct Echo;
impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

fn bottom(s: &mut Stack) -> Counters {
    let all = s.inspect(|t| t.layer_stats());
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].layer, "memory");
    all[0].counters.expect("the bottom counts")
}

/// The bottom counts what arrived, what was queued for the transport below
/// (when it was handed down, as every layer counts), and what of it the
/// transport below has not taken yet.
#[test]
fn the_bottom_counts_input_output_and_what_waits() {
    let mut s = Stack::memory(Box::new(Echo));
    let now = s.now();
    s.handle_input(now, b"hello");
    s.handle_input_bytes(now, bytes::Bytes::from_static(b", world"));
    let c = bottom(&mut s);
    assert_eq!(c.bytes_in, 12);
    assert_eq!(c.bytes_out, 12, "handed down");
    assert_eq!(c.buffered, 12, "nothing was taken yet");
    // The transport below takes 5 bytes, then the rest.
    s.consume(now, 5);
    let c = bottom(&mut s);
    assert_eq!((c.bytes_out, c.buffered), (12, 7));
    assert_eq!(s.take_output(now), b", world");
    let c = bottom(&mut s);
    assert_eq!((c.bytes_in, c.bytes_out, c.buffered), (12, 12, 0));
    assert_eq!(
        (c.frames_in, c.frames_out),
        (0, 0),
        "a byte stream has no frames"
    );
}

/// Input stashed while reading is paused counts when it arrives (it is in).
#[test]
fn stashed_input_counts_once() {
    struct Pauser(usize);
    impl StreamProtocol for Pauser {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.pause_reading();
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
            self.0 += d.len();
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }
    let mut s = Stack::memory(Box::new(Pauser(0)));
    let now = s.now();
    s.handle_input(now, b"abc");
    s.handle_input(now, b"de");
    assert_eq!(bottom(&mut s).bytes_in, 5);
}

/// A test layer: counts what passes through it and answers path figures.
struct Layer<P> {
    inner: P,
    counters: Counters,
    path: PathStats,
}

struct LayerView<'a> {
    below: &'a mut dyn StreamTransport,
    counters: &'a mut Counters,
    path: &'a PathStats,
}

impl Introspect for LayerView<'_> {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<Counters>() {
            return Some(&*self.counters);
        }
        (id == TypeId::of::<PathStats>()).then_some(self.path as &dyn Any)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for LayerView<'_> {
    fn write(&mut self, d: &[u8]) {
        self.counters.sent(d.len());
        self.counters.frame_sent();
        self.below.write(d)
    }
    fn write_eof(&mut self) {
        self.below.write_eof()
    }
    fn close(&mut self) {
        self.below.close()
    }
    fn abort(&mut self, why: Close) {
        self.below.abort(why)
    }
    fn pause_reading(&mut self) {
        self.below.pause_reading()
    }
    fn resume_reading(&mut self) {
        self.below.resume_reading()
    }
    fn buffered(&self) -> usize {
        self.below.buffered()
    }
    fn writable(&self) -> bool {
        self.below.writable()
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker()
    }
}

impl<P: StreamProtocol> StreamProtocol for Layer<P> {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.counters.received(d.len());
        self.counters.frame_received();
        let mut v = LayerView {
            below: t,
            counters: &mut self.counters,
            path: &self.path,
        };
        self.inner.data_received(&mut v, d)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut v = LayerView {
            below: t,
            counters: &mut self.counters,
            path: &self.path,
        };
        self.inner.eof_received(&mut v)
    }
}

/// Records what the top of the stack sees.
#[derive(Default)]
struct Seen(Vec<Vec<LayerStats>>);
impl StreamProtocol for Seen {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
        t.write(d);
        self.0.push(t.layer_stats());
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

#[test]
fn the_walk_collects_every_layer_top_first_each_for_itself() {
    let path = PathStats {
        rtt: std::time::Duration::from_millis(7),
        cwnd: 12_000,
        lost_packets: 1,
        sent_packets: 9,
    };
    let layer = Layer {
        inner: Seen::default(),
        counters: Counters::default(),
        path,
    };
    let mut s = Stack::memory(Box::new(layer));
    s.keep_protocol();
    let now = s.now();
    s.handle_input(now, b"abc");
    let seen = &s.protocol::<Layer<Seen>>().unwrap().inner.0;
    let top = &seen[0];
    let names: Vec<_> = top.iter().map(|l| l.layer).collect();
    assert_eq!(names, ["counting", "memory"]);
    // Each layer's own figures: the layer's path is not the bottom's.
    let l = top[0].counters.unwrap();
    assert_eq!(
        (l.bytes_in, l.bytes_out, l.frames_in, l.frames_out),
        (3, 6, 1, 2)
    );
    assert_eq!(top[0].path, Some(path));
    let b = top[1].counters.unwrap();
    assert_eq!((b.bytes_in, b.buffered), (3, 6));
    assert_eq!(top[1].path, None);
}

/// TLS counts the record bytes it reads and writes below (handshake and
/// records, with their overhead): exactly what crossed the wire, or waits
/// below, by the time the server reads the client's `close_notify`.
#[test]
fn tls_counts_the_record_bytes_that_crossed_the_wire() {
    use strata::testing::{Pump, RunOutcome};
    use strata::tls::{roots_from_pem, ClientTls, Identity, ServerTls, Tls};

    struct Hello;
    impl StreamProtocol for Hello {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(b"hello");
            t.close();
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }
    #[derive(Default)]
    struct AtEof(Vec<LayerStats>);
    impl StreamProtocol for AtEof {
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            self.0 = t.layer_stats();
            t.close()
        }
    }
    let id = Identity::self_signed(&["example.test"]).unwrap();
    let server = ServerTls::new(&id).build().unwrap();
    let roots = roots_from_pem(id.certificate_pem().as_bytes()).unwrap();
    let client = ClientTls::new("example.test")
        .unwrap()
        .roots(roots)
        .build()
        .unwrap();
    let a = Tls::new(Hello, &client).unwrap();
    let b = Tls::new(AtEof::default(), &server).unwrap();
    let mut pump = Pump::new(Box::new(a), Box::new(b));
    pump.b_mut().keep_protocol();
    pump.b_mut().count_bytes();
    assert_eq!(
        pump.run(std::time::Duration::from_secs(5)),
        RunOutcome::Finished
    );
    let seen = &pump.b().protocol::<AtEof>().unwrap().0;
    assert_eq!(seen[0].layer, "tls");
    let tls = seen[0].counters.expect("tls counts");
    assert_eq!(tls.bytes_in, pump.bytes_moved(strata::testing::Dir::AtoB));
    // The server's own close_notify went out after the EOF.
    // Every record handed below reached the bottom, taken or waiting.
    let below = seen[1].counters.expect("the bottom counts");
    assert_eq!(below.bytes_in, tls.bytes_in);
    assert!(tls.bytes_out > 0);
    assert_eq!(tls.bytes_out, below.bytes_out);
    assert!(below.buffered <= below.bytes_out);
    assert_eq!(tls.buffered, 0);
}

/// The reliable mapping answers the path's figures: the round-trip time of
/// the simulated link, a congestion window, and packets sent as the link
/// saw them leave, none lost on a perfect link.
#[test]
fn the_reliable_mapping_reports_its_path() {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
    use strata::testing::{LinkConfig, SimNet};

    type Seen = Arc<Mutex<Option<Vec<LayerStats>>>>;
    /// Sends 50 kB, then records the stack's figures once the echo is back.
    struct Client(Seen, usize);
    impl StreamProtocol for Client {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(&[1; 50_000]);
        }
        fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
            self.1 += d.len();
            if self.1 == 50_000 {
                *self.0.lock().unwrap() = Some(t.layer_stats());
                t.close();
            }
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }
    let seen: Seen = Arc::default();
    let mut net = SimNet::new(7);
    net.set_tracing(false);
    let server_addr: SocketAddr = "10.0.0.2:4433".parse().unwrap();
    let echo: strata::StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
    let cfg = ReliableConfig::default();
    let server = net.add_node(
        server_addr,
        Box::new(ReliableListener::new(cfg.clone(), echo)),
    );
    let client = net.add_node(
        "10.0.0.1:5000".parse().unwrap(),
        Box::new(Reliable::connect_to(
            server_addr,
            cfg,
            Client(seen.clone(), 0),
        )),
    );
    let link = LinkConfig {
        delay: Duration::from_millis(20),
        ..LinkConfig::default()
    };
    net.link_both(client, server, link);
    net.run_until(Duration::from_secs(30), |_| seen.lock().unwrap().is_some());
    let stats = seen.lock().unwrap().clone().expect("the echo came back");
    assert_eq!(stats[0].layer, "reliable");
    let path = stats[0].path.expect("the mapping measures its path");
    // 20 ms each way.
    assert!(
        path.rtt >= Duration::from_millis(40) && path.rtt < Duration::from_millis(60),
        "{path:?}"
    );
    assert!(path.cwnd > 0);
    assert_eq!(path.lost_packets, 0);
    let up = net.link_stats(client, server).unwrap().sent;
    assert!(
        path.sent_packets > 0 && path.sent_packets <= up,
        "{path:?} {up}"
    );
    assert_eq!(stats.iter().filter(|l| l.path.is_some()).count(), 1);
}

/// Length-prefixed framing counts its frames each way, and the bytes with
/// their prefixes.
#[test]
fn length_prefixed_framing_counts_frames_and_bytes() {
    use strata::framing::LengthPrefixed;
    use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};

    /// Echoes every datagram, then records the stack's figures.
    #[derive(Default)]
    struct Reply(Vec<LayerStats>);
    impl DatagramProtocol for Reply {
        fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
            for d in batch {
                t.send(&Transmit::connected(d.data));
            }
            self.0 = (&*t as &dyn Introspect).layer_stats();
        }
    }
    let mut s = Stack::memory(Box::new(LengthPrefixed::new(Reply::default())));
    s.keep_protocol();
    let now = s.now();
    // Two frames of 2 and 3 bytes, then half of a third.
    s.handle_input(
        now,
        &[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 3, b'a', b'b', b'c', 0, 0],
    );
    let seen = &s.protocol::<LengthPrefixed<Reply>>().unwrap().inner().0;
    assert_eq!(seen[0].layer, "frames");
    let c = seen[0].counters.unwrap();
    assert_eq!((c.frames_in, c.bytes_in), (2, 15));
    assert_eq!((c.frames_out, c.bytes_out), (2, 13));
    assert_eq!(seen[1].counters.unwrap().bytes_out, 13);
}
