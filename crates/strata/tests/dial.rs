//! The `Dialer` capability: the bottom of a stack answers the driver's
//! dialer, and every carrier's children find it through their chain (an
//! HTTP/2 stream, a stream of the reliable mapping, a QUIC stream).

#[path = "quic_support/mod.rs"]
mod quic_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::endpoint::Endpoint;
use strata::http::h2::{frame, H2Config, H2Connection};
use strata::http::hpack::Encoder;
use strata::http::SharedService;
use strata::quic::QuicServer;
use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::testing::{LinkConfig, SimNet};
use strata::{
    BottomInfo, Dialer, Stack, StackConfig, StreamFactory, StreamProtocol, StreamTransport,
};

/// What a probe saw: `Some(true)` once it found a dialer and dialed
/// through it.
type Seen = Arc<Mutex<Option<bool>>>;

/// On `connection_made`, looks the dialer up and dials through it.
struct Probe(Seen);

impl StreamProtocol for Probe {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let found = t.get::<Dialer>().cloned();
        let ok = found.is_some_and(|d| {
            let ep = Endpoint::parse("tcp://10.0.0.9:80").unwrap();
            d.dial(&ep, Box::new(Quiet), Arc::default()).is_ok()
        });
        *self.0.lock().unwrap() = Some(ok);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

struct Quiet;
impl StreamProtocol for Quiet {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

/// A dialer that counts its dials.
fn counting() -> (Dialer, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    let d = Dialer::from_fn(move |_, _, _| {
        c.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    (d, n)
}

fn probe_factory(seen: &Seen) -> StreamFactory {
    let seen = seen.clone();
    Arc::new(move || Box::new(Probe(seen.clone())) as Box<dyn StreamProtocol>)
}

#[test]
fn the_bottom_answers_the_drivers_dialer_and_only_when_given_one() {
    let (d, n) = counting();
    let now = strata::testing::epoch();
    let seen = Seen::default();
    let info = BottomInfo::new("tcp").dialer(d.register());
    let mut s = Stack::new(Box::new(Probe(seen.clone())), info, Arc::default(), now);
    s.start(now);
    assert_eq!(*seen.lock().unwrap(), Some(true));
    assert_eq!(n.load(Ordering::Relaxed), 1);

    let bare = Seen::default();
    let _s = Stack::memory(Box::new(Probe(bare.clone())));
    assert_eq!(*bare.lock().unwrap(), Some(false), "no driver, no dialer");
}

#[test]
fn an_h2_stream_finds_the_dialer_below_its_connection() {
    let (d, n) = counting();
    let seen = Seen::default();
    let s2 = seen.clone();
    let service: SharedService = Arc::new(move |_: &http::request::Parts| {
        Box::new(Probe(s2.clone())) as Box<dyn StreamProtocol>
    });
    let conn = H2Connection::server(Arc::new(H2Config::default()), service);
    let now = strata::testing::epoch();
    let info = BottomInfo::new("memory").dialer(d.register());
    let mut s = Stack::new(Box::new(conn), info, Arc::new(StackConfig::default()), now);
    s.start(now);
    let mut b = frame::PREFACE.to_vec();
    frame::write_settings(&mut b, &[]);
    let mut block = Vec::new();
    let fields = [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", "/"),
    ];
    Encoder::new().encode(
        fields
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes(), false)),
        &mut block,
    );
    frame::write_headers(&mut b, 1, &block, true, 16_384);
    s.handle_input(now, &b);
    assert_eq!(
        *seen.lock().unwrap(),
        Some(true),
        "the stream's handler ran"
    );
    assert_eq!(n.load(Ordering::Relaxed), 1);
}

#[test]
fn a_stream_of_the_reliable_mapping_finds_the_dialer_of_its_socket() {
    let (d, n) = counting();
    let seen = Seen::default();
    let mut net = SimNet::new(1);
    let server_addr = "10.0.0.2:4433".parse().unwrap();
    let listener = ReliableListener::new(ReliableConfig::default(), probe_factory(&seen));
    let server = net.add_node_with_dialer(server_addr, Box::new(listener), Some(d.register()));
    let client = net.add_node(
        "10.0.0.1:5000".parse().unwrap(),
        Box::new(Reliable::connect_to(
            server_addr,
            ReliableConfig::default(),
            Quiet,
        )),
    );
    net.link_both(client, server, LinkConfig::default());
    net.run_until(Duration::from_secs(5), |_| seen.lock().unwrap().is_some());
    assert_eq!(*seen.lock().unwrap(), Some(true));
    assert_eq!(n.load(Ordering::Relaxed), 1);
}

#[test]
fn a_quic_stream_finds_the_dialer_of_its_socket() {
    use quic_support::*;
    let (d, n) = counting();
    let seen = Seen::default();
    let server: QuicServer = quic_support::server(config(1), per_stream(probe_factory(&seen)));
    let client = client_stream(config(2), Box::new(Hello));
    let mut net = SimNet::new(1);
    let s = net.add_node_with_dialer(addr(SERVER), Box::new(server), Some(d.register()));
    let c = net.add_node(addr(CLIENT), Box::new(client));
    net.link_both(c, s, lan());
    net.run_until(Duration::from_secs(5), |_| seen.lock().unwrap().is_some());
    assert_eq!(*seen.lock().unwrap(), Some(true));
    assert_eq!(n.load(Ordering::Relaxed), 1);
}

/// Opens its stream by writing (a QUIC stream exists for the peer once a
/// byte crosses).
struct Hello;
impl StreamProtocol for Hello {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"hello")
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}
