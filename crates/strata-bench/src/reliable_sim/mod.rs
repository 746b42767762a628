//! The simulated-network benchmark of the reliable mapping against KCP.
//!
//! Every run builds a fresh [`SimNet`] (the test kit's one link simulator)
//! with two nodes joined by a link
//! impaired the same way in both directions (rate, one-way delay, a tail-drop
//! queue, random loss), puts a transport's two endpoints on the nodes, runs a
//! workload (a [`StreamProtocol`] pair from [`workload`]) over it in virtual
//! time, and reads the outcome from a shared [`Probe`].
//!
//! Transports are pluggable: [`Transport::endpoints`] turns a client
//! protocol and a server factory into two datagram protocols.

pub mod kcp_host;
pub mod ours;
pub mod report;
pub mod workload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::reliable::cc::CcAlgorithm;
use strata::testing::{LinkConfig, LinkStats, Loss, RunOutcome, SimNet};
use strata::{StackConfig, StreamFactory, StreamProtocol};

use kcp_host::{KcpHost, KcpMode, KcpSetup};
use ours::Nodes;
use workload::{BulkSender, MsgReceiver, MsgSender, Probe, Sink};

const CLIENT: &str = "127.0.0.1:5000";
const SERVER: &str = "127.0.0.2:6000";

/// One direction of the simulated path (both directions are the same).
#[derive(Clone, Copy, Debug)]
pub struct Path {
    /// Bottleneck rate, bits per second.
    pub rate_bps: u64,
    /// One-way propagation delay.
    pub one_way: Duration,
    /// Bottleneck queue, bytes.
    pub queue: usize,
    /// Random loss probability, 0.0..=1.0.
    pub loss: f64,
}

impl Path {
    /// The benchmark's path: 100 Mbit/s, 20 ms each way, a queue of one
    /// bandwidth-delay product, `loss` at random.
    pub fn standard(loss: f64) -> Path {
        let mut p = Path {
            rate_bps: 100_000_000,
            one_way: Duration::from_millis(20),
            queue: 0,
            loss,
        };
        p.queue = p.bdp();
        p
    }

    /// A path of `rate_bps` with `one_way` delay and a `queue` of bytes
    /// (of datagrams, without UDP/IP headers) each way, `loss` at random.
    pub fn custom(rate_bps: u64, one_way: Duration, queue: usize, loss: f64) -> Path {
        Path {
            rate_bps,
            one_way,
            queue,
            loss,
        }
    }

    /// Round-trip propagation time.
    pub fn rtt(&self) -> Duration {
        2 * self.one_way
    }

    /// Bandwidth-delay product in bytes.
    pub fn bdp(&self) -> usize {
        let bits = u128::from(self.rate_bps) * self.rtt().as_nanos() / 1_000_000_000;
        usize::try_from(bits / 8).unwrap_or(usize::MAX)
    }

    fn link(&self) -> LinkConfig {
        let loss = if self.loss > 0.0 {
            Loss::Random(self.loss)
        } else {
            Loss::None
        };
        LinkConfig::default()
            .rate_bps(self.rate_bps)
            .delay(self.one_way)
            .queue_limit(self.queue)
            .loss(loss)
    }
}

/// A transport under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Our mapping with this congestion controller.
    Ours(CcAlgorithm),
    /// The `kcp` crate in this mode.
    Kcp(KcpMode),
    /// The KCP mode of our mapping (`strata::reliable::kcp_stream`): fast
    /// mode's timers with congestion control on.
    StrataKcp,
}

impl Transport {
    /// The row label.
    pub fn label(&self) -> &'static str {
        match self {
            Transport::Ours(CcAlgorithm::NewReno) => "strata newreno",
            Transport::Ours(CcAlgorithm::Cubic) => "strata cubic",
            Transport::Ours(_) => "strata bbr (default)",
            Transport::Kcp(KcpMode::Fast) => "kcp fast",
            Transport::Kcp(KcpMode::Default) => "kcp default",
            Transport::StrataKcp => "strata kcp-mode (fast, cc on)",
        }
    }

    /// The two datagram protocols that carry `client` and what `server`
    /// makes across `path`.
    pub fn endpoints(
        &self,
        opts: &Options,
        path: &Path,
        client: Box<dyn StreamProtocol>,
        server: StreamFactory,
    ) -> Result<Nodes, String> {
        match *self {
            Transport::Ours(cc) => ours::run_ours(cc, opts.seed, server_addr(), client, server),
            Transport::Kcp(mode) => {
                let setup = kcp_setup(opts, path, mode);
                let c = KcpHost::new(server_addr(), setup, client);
                let s = KcpHost::new(client_addr(), setup, server());
                Ok((Box::new(c), Box::new(s)))
            }
            Transport::StrataKcp => {
                let setup = kcp_setup(opts, path, KcpMode::Fast);
                ours::run_ours_kcp(&setup, server_addr(), client, server)
            }
        }
    }
}

/// KCP's engine settings for `mode` on `path`: the configured datagram
/// size, and windows of twice the bandwidth-delay product in segments
/// (unless set), so the window is never what limits it.
pub fn kcp_setup(opts: &Options, path: &Path, mode: KcpMode) -> KcpSetup {
    let mut s = KcpSetup {
        mode,
        mtu: opts.datagram,
        wnd: 0,
    };
    let wnd = opts
        .kcp_wnd
        .unwrap_or_else(|| (2 * path.bdp()).div_ceil(s.mss().max(1)));
    s.wnd = u16::try_from(wnd).unwrap_or(u16::MAX);
    s
}

fn client_addr() -> SocketAddr {
    CLIENT
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid literal"))
}

fn server_addr() -> SocketAddr {
    SERVER
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid literal"))
}

/// Knobs shared by every run.
#[derive(Clone, Debug)]
pub struct Options {
    /// The simulated network's seed.
    pub seed: u64,
    /// Datagram size of every transport.
    pub datagram: usize,
    /// KCP `snd_wnd`/`rcv_wnd` override, in segments.
    pub kcp_wnd: Option<usize>,
    /// Virtual time after which a run is given up.
    pub max_sim: Duration,
}

/// What one run measured.
#[derive(Debug)]
pub struct RunResult {
    /// The transport.
    pub transport: Transport,
    /// The path.
    pub path: Path,
    /// Application bytes delivered in order (and checked).
    pub delivered: u64,
    /// Bytes the workload meant to deliver.
    pub expected: u64,
    /// When the last byte (message) arrived.
    pub done_at: Option<Duration>,
    /// The transport could not be built (why): nothing ran.
    pub unavailable: Option<String>,
    /// The first error seen (bad byte, lost message, early EOF).
    pub error: Option<String>,
    /// The run hit [`Options::max_sim`] (or went idle) before the receiver
    /// had everything: its goodput is over what arrived by then.
    pub gave_up: bool,
    /// Latency workload: one latency per message, in order.
    pub latencies: Vec<Duration>,
    /// Virtual time the run took.
    pub sim: Duration,
    /// Wall time the run took.
    pub wall: Duration,
    /// Link counters client → server.
    pub up: LinkStats,
    /// Link counters server → client.
    pub down: LinkStats,
}

impl RunResult {
    /// Every expected byte arrived, checked, in order.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.done_at.is_some() && self.delivered == self.expected
    }

    /// Something went wrong other than running out of virtual time: a
    /// byte out of place, a message lost.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Goodput in bits per second: bytes delivered in order over the time
    /// to deliver them (the whole run when it did not finish).
    pub fn goodput_bps(&self) -> f64 {
        let secs = self.done_at.unwrap_or(self.sim).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        self.delivered as f64 * 8.0 / secs
    }
}

/// Transfers `bytes` from client to server over `transport`.
pub fn run_bulk(opts: &Options, transport: Transport, path: Path, bytes: u64) -> RunResult {
    let probe = Probe::new();
    let sender = Box::new(BulkSender::new(bytes, probe.clone()));
    let p = probe.clone();
    let sink: StreamFactory = Arc::new(move || Box::new(Sink::new(bytes, p.clone())));
    run(opts, transport, path, sender, sink, probe, bytes)
}

/// Sends `count` messages of [`workload::MSG_SIZE`] bytes, one every
/// `every`, from client to server over `transport`.
pub fn run_latency(
    opts: &Options,
    transport: Transport,
    path: Path,
    count: u64,
    every: Duration,
) -> RunResult {
    let probe = Probe::new();
    let sender = Box::new(MsgSender::new(count, every));
    let p = probe.clone();
    let rx: StreamFactory = Arc::new(move || Box::new(MsgReceiver::new(count, p.clone())));
    let expected = count * workload::MSG_SIZE as u64;
    run(opts, transport, path, sender, rx, probe, expected)
}

fn run(
    opts: &Options,
    transport: Transport,
    path: Path,
    client: Box<dyn StreamProtocol>,
    server: StreamFactory,
    probe: Probe,
    expected: u64,
) -> RunResult {
    let wall = Instant::now();
    let mut result = RunResult {
        transport,
        path,
        delivered: 0,
        expected,
        done_at: None,
        unavailable: None,
        error: None,
        gave_up: false,
        latencies: Vec::new(),
        sim: Duration::ZERO,
        wall: Duration::ZERO,
        up: LinkStats::default(),
        down: LinkStats::default(),
    };
    let (c, s) = match transport.endpoints(opts, &path, client, server) {
        Ok(pair) => pair,
        Err(why) => {
            result.unavailable = Some(why);
            return result;
        }
    };
    let cfg = StackConfig {
        // Room for a whole window of datagrams queued in one instant.
        memory_budget: 64 * 1024 * 1024,
        ..StackConfig::default()
    };
    let mut net = SimNet::with_stack_config(opts.seed, cfg);
    net.set_tracing(false);
    let a = net.add_node(client_addr(), c);
    let b = net.add_node(server_addr(), s);
    net.link_both(a, b, path.link());
    let outcome = net.run_until(opts.max_sim, |_| probe.finished());
    result.sim = net.elapsed();
    result.wall = wall.elapsed();
    result.up = net.link_stats(a, b).copied().unwrap_or_default();
    result.down = net.link_stats(b, a).copied().unwrap_or_default();
    let mut o = probe.lock();
    result.delivered = o.delivered;
    result.done_at = o.done_at;
    result.latencies = std::mem::take(&mut o.latencies);
    result.error = o.error.take();
    result.gave_up = result.error.is_none() && result.done_at.is_none();
    if result.gave_up {
        note_gave_up(&result, outcome);
    }
    result
}

/// Says on stderr why a run stopped short.
fn note_gave_up(r: &RunResult, outcome: RunOutcome) {
    eprintln!(
        "note: {} at {:.0}% loss stopped after {:.1} s of virtual time ({outcome:?}) \
         with {} of {} bytes",
        r.transport.label(),
        r.path.loss * 100.0,
        r.sim.as_secs_f64(),
        r.delivered,
        r.expected
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            seed: 3,
            datagram: ours::OURS_DATAGRAM,
            kcp_wnd: None,
            max_sim: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_standard_path_queues_one_bdp() {
        let p = Path::standard(0.01);
        assert_eq!(p.bdp(), 500_000);
        assert_eq!(p.queue, 500_000);
        assert_eq!(p.rtt(), Duration::from_millis(40));
    }

    #[test]
    fn a_custom_path_keeps_its_numbers() {
        let p = Path::custom(96_618_357, Duration::from_micros(50), 483_091, 0.05);
        assert_eq!(p.rtt(), Duration::from_micros(100));
        assert_eq!((p.rate_bps, p.queue, p.loss), (96_618_357, 483_091, 0.05));
        assert_eq!(p.bdp(), 1207);
    }

    #[test]
    fn kcp_windows_cover_twice_the_bdp() {
        let s = kcp_setup(&opts(), &Path::standard(0.0), KcpMode::Fast);
        assert_eq!(s.mss(), 1176);
        assert_eq!(usize::from(s.wnd), (2 * 500_000usize).div_ceil(1176));
    }

    #[test]
    fn every_transport_delivers_a_lossy_bulk_transfer_in_order() {
        for t in [
            Transport::Kcp(KcpMode::Fast),
            Transport::Kcp(KcpMode::Default),
            Transport::Ours(CcAlgorithm::Bbr),
            Transport::StrataKcp,
        ] {
            let r = run_bulk(&opts(), t, Path::standard(0.05), 300_000);
            assert!(r.complete(), "{}: {r:?}", t.label());
            assert!(r.up.lost() > 0, "{}: the link lost nothing", t.label());
            assert!(r.goodput_bps() > 0.0);
        }
    }

    #[test]
    fn a_run_repeats_for_a_seed() {
        let t = Transport::Ours(CcAlgorithm::Bbr);
        let run = || run_bulk(&opts(), t, Path::standard(0.02), 300_000);
        let (a, b) = (run(), run());
        assert!(a.complete(), "{a:?}");
        assert_eq!(
            (a.done_at, a.sim, a.up, a.down),
            (b.done_at, b.sim, b.up, b.down)
        );
    }

    #[test]
    fn the_latency_workload_measures_every_message() {
        let t = Transport::Kcp(KcpMode::Fast);
        let r = run_latency(
            &opts(),
            t,
            Path::standard(0.05),
            50,
            Duration::from_millis(10),
        );
        assert!(r.complete(), "{r:?}");
        assert_eq!(r.latencies.len(), 50);
        // At least the one-way delay, never less.
        assert!(r.latencies.iter().all(|&l| l >= Duration::from_millis(20)));
    }
}
