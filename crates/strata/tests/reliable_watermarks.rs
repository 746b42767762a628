//! The reliable mapping honours the stack's watermarks (issue 10, point 10):
//! a protocol that writes only while `writable()` never has more than the
//! high-water mark plus one write queued in the mapping, in either
//! direction, on a lossy link; the send buffer (`reliable.sndbuf`) bounds
//! everything held, in flight included. The same holds in KCP mode.

mod reliable_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reliable_support::{addr, Bulk, Shared};
use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::testing::{LinkConfig, Loss, SimNet};
use strata::{
    Close, Datagram, DatagramProtocol, DatagramTransport, StreamFactory, StreamProtocol, WakeRoute,
};

const CHUNK: usize = 16 * 1024;

/// Wraps a layer and keeps, after every call into it, the largest value
/// `probe` read from it.
struct Probe<L> {
    layer: L,
    probe: fn(&L) -> usize,
    max: Arc<AtomicUsize>,
}

impl<L> Probe<L> {
    fn look(&self) {
        self.max
            .fetch_max((self.probe)(&self.layer), Ordering::Relaxed);
    }
}

impl<L: DatagramProtocol> DatagramProtocol for Probe<L> {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.layer.connection_made(t);
        self.look();
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        self.layer.datagrams_received(t, batch);
        self.look();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.layer.connection_lost(why);
    }
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.layer.pause_writing(t);
        self.look();
    }
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.layer.resume_writing(t);
        self.look();
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.layer.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        self.layer.on_deadline(t);
        self.look();
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        self.layer.on_wake(t, route);
        self.look();
    }
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.layer.on_shutdown(t);
        self.look();
    }
    fn error_received(&mut self, t: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        self.layer.error_received(t, kind);
        self.look();
    }
    fn buffered(&self) -> usize {
        self.layer.buffered()
    }
}

fn lossy() -> LinkConfig {
    LinkConfig::default()
        .delay(Duration::from_millis(20))
        .rate_bps(20_000_000)
        .loss(Loss::Random(0.05))
}

/// What the two probes saw: the client's and the listener's.
struct Seen {
    client: usize,
    server: usize,
    client_out: Shared,
    server_out: Shared,
}

/// `up` bytes each way between a client and a listener with `cfg`, both
/// probed with `client_probe`/`server_probe`.
fn native(
    cfg: ReliableConfig,
    total: u64,
    client_probe: fn(&Reliable<Bulk>) -> usize,
    server_probe: fn(&ReliableListener) -> usize,
) -> Seen {
    let client_out = Shared::default();
    let server_out = Shared::default();
    let mut net = SimNet::new(7);
    net.set_tracing(false);
    let server_addr = addr("10.0.0.2:4433");
    let so = server_out.clone();
    let factory: StreamFactory =
        Arc::new(move || Box::new(Bulk::new(total, 2, 1, so.clone())) as Box<dyn StreamProtocol>);
    let (cmax, smax) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let server = net.add_node(
        server_addr,
        Box::new(Probe {
            layer: ReliableListener::new(cfg.clone(), factory),
            probe: server_probe,
            max: smax.clone(),
        }),
    );
    let client = net.add_node(
        addr("10.0.0.1:5000"),
        Box::new(Probe {
            layer: Reliable::connect_to(
                server_addr,
                cfg,
                Bulk::new(total, 1, 2, client_out.clone()),
            ),
            probe: client_probe,
            max: cmax.clone(),
        }),
    );
    net.link_both(client, server, lossy());
    net.run_until(Duration::from_secs(120), |_| {
        client_out.lock().unwrap().lost.is_some() && server_out.lock().unwrap().lost.is_some()
    });
    let seen = Seen {
        client: cmax.load(Ordering::Relaxed),
        server: smax.load(Ordering::Relaxed),
        client_out,
        server_out,
    };
    for o in [&seen.client_out, &seen.server_out] {
        let o = o.lock().unwrap();
        assert_eq!(
            (o.received, o.eof, o.mismatch),
            (total, true, None),
            "{o:?}"
        );
    }
    seen
}

fn queued(l: &Reliable<Bulk>) -> usize {
    l.connection().map_or(0, |c| c.send_queued())
}

fn listener_queued(l: &ReliableListener) -> usize {
    let ids = l.connection_ids();
    ids.iter()
        .filter_map(|id| l.connection(*id))
        .map(|c| c.send_queued())
        .max()
        .unwrap_or(0)
}

fn held(l: &Reliable<Bulk>) -> usize {
    l.connection().map_or(0, |c| c.send_buffered())
}

fn listener_held(l: &ReliableListener) -> usize {
    let ids = l.connection_ids();
    ids.iter()
        .filter_map(|id| l.connection(*id))
        .map(|c| c.send_buffered())
        .max()
        .unwrap_or(0)
}

/// The marks are the stack's defaults: 64 KiB high, 16 KiB low.
#[test]
fn a_writer_that_follows_writable_queues_at_most_the_high_mark_plus_one_write() {
    let cfg = ReliableConfig::default();
    assert_eq!(
        (cfg.high_water, cfg.low_water),
        (
            strata::StackConfig::default().high_water,
            strata::StackConfig::default().low_water
        )
    );
    let seen = native(cfg.clone(), 2 << 20, queued, listener_queued);
    let bound = cfg.high_water + CHUNK;
    assert!(
        seen.client > 0 && seen.client <= bound,
        "client queued {}",
        seen.client
    );
    assert!(
        seen.server > 0 && seen.server <= bound,
        "server queued {}",
        seen.server
    );
    // It paused (the marks were reached) and still delivered everything.
    assert!(seen.client_out.lock().unwrap().pauses > 0);
}

/// A smaller send buffer bounds what is held, unacknowledged bytes
/// included, and the transfer still completes.
#[test]
fn the_send_buffer_bounds_everything_held() {
    let cfg = ReliableConfig {
        send_buffer: 128 * 1024,
        max_send_buffer: 512 * 1024,
        ..ReliableConfig::default()
    };
    let seen = native(cfg.clone(), 1 << 20, held, listener_held);
    let bound = cfg.send_buffer + CHUNK;
    assert!(seen.client <= bound, "client held {}", seen.client);
    assert!(seen.server <= bound, "server held {}", seen.server);
}

/// Counts what arrives; never writes nor closes.
struct Sink(Arc<AtomicUsize>);
impl StreamProtocol for Sink {
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, d: &[u8]) {
        self.0.fetch_add(d.len(), Ordering::Relaxed);
    }
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
}

/// KCP mode: the bytes not yet acknowledged stay under its high mark plus
/// one write (one direction: KCP without `kcp_fin` has no half-close).
#[test]
fn kcp_a_writer_that_follows_writable_holds_at_most_the_high_mark_plus_one_write() {
    let total = 512 * 1024;
    let client_out = Shared::default();
    let got = Arc::new(AtomicUsize::new(0));
    let mut net = SimNet::new(3);
    net.set_tracing(false);
    let (ca, sa): (SocketAddr, SocketAddr) = (addr("10.0.0.1:5000"), addr("10.0.0.2:4433"));
    let g = got.clone();
    let factory: StreamFactory =
        Arc::new(move || Box::new(Sink(g.clone())) as Box<dyn StreamProtocol>);
    let scfg = KcpStreamConfig::default();
    let bound = scfg.high_water + CHUNK;
    let lcfg = KcpListenerConfig {
        stream: scfg.clone(),
        ..KcpListenerConfig::default()
    };
    let cmax = Arc::new(AtomicUsize::new(0));
    let server = net.add_node(sa, Box::new(KcpListener::new(lcfg, factory).unwrap()));
    let client = net.add_node(
        ca,
        Box::new(Probe {
            layer: KcpStream::new(9, scfg, Bulk::new(total, 1, 2, client_out.clone()))
                .unwrap()
                .with_peer(sa),
            probe: |l: &KcpStream<Bulk>| l.buffered(),
            max: cmax.clone(),
        }),
    );
    net.link_both(client, server, lossy());
    net.run_until(Duration::from_secs(120), |_| {
        got.load(Ordering::Relaxed) == total as usize
    });
    assert_eq!(got.load(Ordering::Relaxed), total as usize);
    let max = cmax.load(Ordering::Relaxed);
    assert!(max > 0 && max <= bound, "kcp held {max}");
}
