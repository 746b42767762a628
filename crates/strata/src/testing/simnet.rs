//! [`SimNet`]: a simulated datagram network, seeded, under virtual time.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::epoch;
use super::netem::{DropReason, LinkConfig, LinkStats, Netem};
use super::pump_config::{RunOutcome, MAX_ROUNDS_PER_INSTANT};
use super::simtrace::{digest, payload_hash, NodeId, SimEvent, SimEventKind};
use super::tamper::{InFlight, Injection, Tamper, Verdict};
use crate::{
    Addr, Datagram, DatagramInfo, DatagramProtocol, DatagramStack, Ecn, LocalAddr, OwnedTransmit,
    StackConfig,
};

mod run;
mod skew;
#[cfg(test)]
mod tests;

/// A node's datagram size when it has no outgoing link.
const DEFAULT_MTU: usize = 1500;

/// A simulated datagram network, seeded, under virtual time.
///
/// Nodes are [`DatagramStack`]s with an IP address; links are one-way
/// [`Netem`] impairment models between two nodes. A datagram sent to an
/// address travels the link from its sender to the node with that address
/// and arrives at the virtual time the link decides, or is dropped and
/// counted. The clock jumps from one event to the next: an arrival, or a
/// node's deadline.
///
/// # Determinism
///
/// Every random choice comes from one ChaCha8 RNG per link, keyed by the
/// network's seed and set to a stream derived from the link's two node ids
/// (`from << 32 | to`). Adding a link, or sending more on one link, does not
/// change the numbers another link draws. Events at the same instant are
/// handled in a fixed order (arrivals in the order they were scheduled,
/// nodes by id), so the same seed and the same protocols give the same
/// [`trace`](SimNet::trace), event for event and nanosecond for nanosecond.
///
/// ```
/// use std::time::Duration;
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
/// use strata::testing::{LinkConfig, Loss, RunOutcome, SimNet};
///
/// struct Sender { to: std::net::SocketAddr }
/// impl DatagramProtocol for Sender {
///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
///         for i in 0..100u8 {
///             t.send(&Transmit::to(self.to, &[i; 100]));
///         }
///     }
///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// }
/// struct Sink;
/// impl DatagramProtocol for Sink {
///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// }
///
/// let mut net = SimNet::new(42);
/// let sink_addr = "127.0.0.2:4000".parse().unwrap();
/// let a = net.add_node("127.0.0.1:4000".parse().unwrap(), Box::new(Sender { to: sink_addr }));
/// let b = net.add_node(sink_addr, Box::new(Sink));
/// net.link(a, b, LinkConfig::default().delay(Duration::from_millis(25)).loss(Loss::Random(0.1)));
/// assert_eq!(net.run(Duration::from_secs(1)), RunOutcome::Idle);
/// let stats = net.link_stats(a, b).unwrap();
/// assert_eq!(stats.sent, 100);
/// assert_eq!(stats.delivered + stats.lost(), 100);
/// assert_eq!(net.elapsed(), Duration::from_millis(25));
/// ```
///
/// # Starting
///
/// Nodes start lazily, on the first [`step`](SimNet::step) or run (or an
/// explicit [`start`](SimNet::start)), so that a node's
/// `max_datagram_size` can be the largest MTU of the links leading out of it
/// (its "interface" MTU; a smaller MTU further along a path then drops, as
/// path MTU does). Nodes added later start at once.
///
/// ```
/// use strata::testing::{SimNet, LinkConfig};
/// # use strata::{DatagramProtocol, DatagramTransport, Datagram};
/// # use strata::testing::Quiet;
/// let mut net = SimNet::new(1);
/// let a = net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Quiet));
/// let b = net.add_node("127.0.0.2:1".parse().unwrap(), Box::new(Quiet));
/// net.link_both(a, b, LinkConfig::default().mtu(1280));
/// net.start();
/// assert!(net.stack(a).unwrap().finished().is_none());
/// assert_eq!(net.stack(a).unwrap().transmits().count(), 0);
/// ```
///
/// # Clock skew
///
/// [`set_skew`](SimNet::set_skew) moves the clock of a host (an IP
/// address, so all the nodes there): its stacks read the network's time
/// plus the offset, and their timers last their duration of the
/// network's time (an offset, not a rate). Links and the trace keep the
/// network's time.
///
/// ```
/// use std::time::Duration;
/// use strata::testing::{Quiet, SimNet};
/// let mut net = SimNet::new(1);
/// let a = net.add_node("10.0.0.1:1".parse().unwrap(), Box::new(Quiet));
/// net.set_skew("10.0.0.1".parse().unwrap(), 2_000_000_000); // 2 s ahead
/// assert_eq!(net.node_now(a), Some(net.now() + Duration::from_secs(2)));
/// ```
///
/// # Tampering
///
/// [`set_tamper`](SimNet::set_tamper) installs a hook that sees every
/// datagram a node sends (to a node or not), before the link: it may read
/// it, rewrite it, drop it, hold it back, or inject datagrams of its own
/// from any address (an on-path attacker, or a recorder of the wire).
/// [`inject`](SimNet::inject) hands a datagram to a node at once (an
/// off-path attacker). Links can also flip bits on their own
/// ([`LinkConfig::corrupt`]).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
/// use strata::testing::{LinkConfig, SimNet, Verdict};
///
/// struct Send3 { to: std::net::SocketAddr }
/// impl DatagramProtocol for Send3 {
///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
///         for i in 0..3u8 { t.send(&Transmit::to(self.to, &[i; 10])); }
///     }
///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// }
/// #[derive(Default)]
/// struct Sink(Arc<Mutex<Vec<Vec<u8>>>>);
/// impl DatagramProtocol for Sink {
///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
///         self.0.lock().unwrap().extend(b.iter().map(|d| d.data.to_vec()));
///     }
/// }
///
/// let got = Arc::new(Mutex::new(Vec::new()));
/// let wire = Arc::new(Mutex::new(Vec::new()));
/// let mut net = SimNet::new(1);
/// let b_addr = "127.0.0.2:1".parse().unwrap();
/// let a = net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Send3 { to: b_addr }));
/// let b = net.add_node(b_addr, Box::new(Sink(got.clone())));
/// net.link(a, b, LinkConfig::default().delay(Duration::from_millis(5)));
/// let w = wire.clone();
/// net.set_tamper(move |d| {
///     w.lock().unwrap().push(d.data.clone()); // record the wire
///     match d.data[0] {
///         0 => Verdict::Drop,                              // drop the first
///         1 => { d.data.push(0xff); Verdict::Pass }        // rewrite the second
///         _ => Verdict::Hold(Duration::from_millis(20)),   // hold the third
///     }
/// });
/// net.run(Duration::from_secs(1));
/// assert_eq!(wire.lock().unwrap().len(), 3);
/// assert_eq!(*got.lock().unwrap(), vec![[&[1u8; 10][..], &[0xff]].concat(), vec![2; 10]]);
/// assert_eq!(net.elapsed(), Duration::from_millis(25));
/// // An off-path datagram from an address no node has:
/// assert!(net.inject("192.0.2.9:9".parse().unwrap(), b_addr, b"spoofed"));
/// assert_eq!(got.lock().unwrap().last().unwrap(), b"spoofed");
/// ```
pub struct SimNet {
    seed: u64,
    now: Instant,
    stack_cfg: Arc<StackConfig>,
    /// Given to every node's stack at its start ([`SimNet::set_qlog`]).
    qlog: Option<crate::qlog::QlogTracer>,
    nodes: Vec<Node>,
    by_addr: HashMap<SocketAddr, NodeId>,
    links: BTreeMap<(NodeId, NodeId), Netem>,
    flights: BinaryHeap<Reverse<Flight>>,
    seq: u64,
    trace: Vec<SimEvent>,
    tracing: bool,
    unroutable: u64,
    tamper: Option<Tamper>,
    /// Each host's clock offset, by address ([`SimNet::set_skew`]); only
    /// the ones not zero.
    skews: BTreeMap<IpAddr, i64>,
}

struct Node {
    addr: SocketAddr,
    /// The peer of a connected socket: where a transmit with no
    /// destination goes.
    peer: Option<SocketAddr>,
    /// The protocol until the node starts.
    pending: Option<Box<dyn DatagramProtocol>>,
    stack: Option<DatagramStack>,
    /// What the node's stack answers for `Dialer` (a driver above sets it).
    dialer: Option<crate::DialerId>,
    /// Its host's clock offset (the skew of its address's IP).
    skew_ns: i64,
}

/// A datagram copy on its way.
struct Flight {
    at: Instant,
    /// Scheduling order, to break ties between equal arrival times.
    seq: u64,
    /// The sending node ([`NodeId::EXTERNAL`] for an injection from an
    /// address no node has).
    from: NodeId,
    /// The source address the receiver sees.
    source: SocketAddr,
    to: NodeId,
    ecn: Option<Ecn>,
    payload: Arc<[u8]>,
    /// Injected: it crossed no link.
    injected: bool,
}

impl PartialEq for Flight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Flight {}
impl PartialOrd for Flight {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Flight {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

impl SimNet {
    /// An empty network whose links draw from `seed`; nodes use the default
    /// [`StackConfig`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::SimNet;
    /// let net = SimNet::new(42);
    /// assert_eq!(net.seed(), 42);
    /// assert_eq!(net.elapsed(), Duration::ZERO);
    /// assert_eq!(net.in_flight(), 0);
    /// ```
    pub fn new(seed: u64) -> SimNet {
        SimNet::with_stack_config(seed, StackConfig::default())
    }

    /// An empty network whose nodes use `cfg`.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport, StackConfig, Transmit};
    /// use strata::testing::SimNet;
    /// struct Burst(std::net::SocketAddr);
    /// impl DatagramProtocol for Burst {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         for _ in 0..10 { t.send(&Transmit::to(self.0, &[0; 100])) }
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// // Each node may hold 250 bytes of unsent datagrams: 2 of the 10 fit.
    /// let cfg = StackConfig { memory_budget: 250, ..StackConfig::default() };
    /// let mut net = SimNet::with_stack_config(1, cfg);
    /// let a = net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Burst("127.0.0.2:1".parse().unwrap())));
    /// net.start();
    /// assert_eq!(net.stack(a).unwrap().dropped(), 8);
    /// ```
    pub fn with_stack_config(seed: u64, cfg: StackConfig) -> SimNet {
        SimNet {
            seed,
            now: epoch(),
            stack_cfg: Arc::new(cfg),
            qlog: None,
            nodes: Vec::new(),
            by_addr: HashMap::new(),
            links: BTreeMap::new(),
            flights: BinaryHeap::new(),
            seq: 0,
            trace: Vec::new(),
            tracing: true,
            unroutable: 0,
            tamper: None,
            skews: BTreeMap::new(),
        }
    }

    /// Installs the tamper hook (replacing any): it is called for every
    /// datagram a node sends from now on, before the link. See
    /// [`InFlight`] and [`Verdict`], and "Tampering" above.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// use strata::testing::Verdict;
    /// net.set_tamper(|d| if d.data.as_slice() == b"ping" { Verdict::Drop } else { Verdict::Pass });
    /// assert_eq!(net.run(Duration::from_secs(1)), RunOutcome::Idle);
    /// assert_eq!(net.link_stats(a, b).unwrap().sent, 0); // dropped before the link
    /// assert_eq!(net.link_stats(b, a).unwrap().sent, 0); // so no echo
    /// ```
    pub fn set_tamper(&mut self, hook: impl FnMut(&mut InFlight<'_>) -> Verdict + Send + 'static) {
        self.tamper = Some(Box::new(hook));
    }

    /// Removes the tamper hook.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// use strata::testing::Verdict;
    /// net.set_tamper(|_| Verdict::Drop);
    /// net.clear_tamper();
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(net.link_stats(b, a).unwrap().delivered, 1); // the echo came back
    /// ```
    pub fn clear_tamper(&mut self) {
        self.tamper = None;
    }

    /// Hands `data` to the node at `to` now, as if sent from `from` (any
    /// address), outside any link; then sends what the nodes queued in
    /// answer (through the tamper hook and the links). False, and nothing
    /// happens, if no node has `to`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// let spoofed = "192.0.2.7:7".parse().unwrap();
    /// assert!(net.inject(spoofed, b_addr, b"hello"));
    /// // The echo answered the spoofed address, which no node has.
    /// assert_eq!(net.unroutable(), 1);
    /// assert!(!net.inject(spoofed, "127.0.0.9:1".parse().unwrap(), b"nobody"));
    /// ```
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        self.start();
        let Some(id) = self.node_at(to) else {
            return false;
        };
        let sender = self.node_at(from).unwrap_or(NodeId::EXTERNAL);
        self.record(sender, Some(id), SimEventKind::Injected, data);
        let node = &mut self.nodes[id.0 as usize];
        let now = skew::local(self.now, node.skew_ns);
        let batch = [Datagram {
            source: Some(from),
            dst_ip: Some(to.ip()),
            ecn: None,
            data,
        }];
        if let Some(stack) = node.stack.as_mut() {
            stack.handle_datagrams(now, &batch);
        }
        let mut rounds = 0;
        while rounds < MAX_ROUNDS_PER_INSTANT && self.round() {
            rounds += 1;
        }
        true
    }

    /// The seed.
    ///
    /// ```
    /// let net = strata::testing::SimNet::new(7);
    /// assert_eq!(net.seed(), 7);
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Turns the trace on (the default) or off, for long runs.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// net.set_tracing(false);
    /// net.run(Duration::from_secs(1));
    /// assert!(net.trace().is_empty());
    /// assert_eq!(net.link_stats(a, b).unwrap().delivered, 1); // the counters still count
    /// ```
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
    }

    /// Adds a node at `addr` (use 127.0.0.0/8 in tests).
    ///
    /// # Panics
    ///
    /// If a node already has `addr`: that is a mistake in the test.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// let mut net = SimNet::new(1);
    /// let b_addr = "127.0.0.2:1".parse().unwrap();
    /// let a = net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Ping(b_addr)));
    /// let b = net.add_node(b_addr, Box::new(Echo));
    /// assert_eq!((a.0, b.0), (0, 1)); // numbered in the order added
    /// assert_eq!(net.node_at(b_addr), Some(b));
    /// ```
    pub fn add_node(&mut self, addr: SocketAddr, proto: Box<dyn DatagramProtocol>) -> NodeId {
        self.add_node_with_dialer(addr, proto, None)
    }

    /// [`add_node`](SimNet::add_node), with the [`Dialer`](crate::Dialer)
    /// its stack answers (a driver built on the network, such as a
    /// simulator of whole hosts, gives its own).
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Dialer};
    /// # struct Quiet;
    /// # impl DatagramProtocol for Quiet {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// # }
    /// let mut net = strata::testing::SimNet::new(1);
    /// let d = Dialer::from_fn(|_, _, _| Ok(()));
    /// let a = net.add_node_with_dialer("127.0.0.1:1".parse().unwrap(), Box::new(Quiet), Some(d.register()));
    /// net.start();
    /// assert!(net.stack(a).is_some());
    /// ```
    pub fn add_node_with_dialer(
        &mut self,
        addr: SocketAddr,
        proto: Box<dyn DatagramProtocol>,
        dialer: Option<crate::DialerId>,
    ) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes"));
        let clash = self.by_addr.insert(addr, id);
        assert!(clash.is_none(), "two SimNet nodes at {addr}");
        self.nodes.push(Node {
            addr,
            peer: None,
            pending: Some(proto),
            stack: None,
            dialer,
            skew_ns: self.skew(addr.ip()),
        });
        if self.nodes.iter().any(|n| n.stack.is_some()) {
            self.start();
        }
        id
    }

    /// Sets (or replaces, with fresh counters) the link from `a` to `b`.
    ///
    /// # Panics
    ///
    /// If `a` or `b` is not a node of this network.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// let mut net = SimNet::new(1);
    /// let (a_addr, b_addr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.2:1".parse().unwrap());
    /// let a = net.add_node(a_addr, Box::new(Ping(b_addr)));
    /// let b = net.add_node(b_addr, Box::new(Echo));
    /// net.link(a, b, LinkConfig::default().delay(Duration::from_millis(30)));
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(net.link_stats(a, b).unwrap().delivered, 1);
    /// assert_eq!(net.unroutable(), 1); // no link back from b to a: the echo is dropped
    /// assert_eq!(net.elapsed(), Duration::from_millis(30));
    /// ```
    pub fn link(&mut self, a: NodeId, b: NodeId, cfg: LinkConfig) {
        let n = self.nodes.len();
        assert!((a.0 as usize) < n && (b.0 as usize) < n, "no such node");
        let stream = (u64::from(a.0) << 32) | u64::from(b.0);
        self.links
            .insert((a, b), Netem::new(cfg, self.seed, stream));
    }

    /// Sets the links `a`→`b` and `b`→`a`, both with `cfg` (each with its
    /// own RNG stream).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// let mut net = SimNet::new(1);
    /// let (a_addr, b_addr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.2:1".parse().unwrap());
    /// let a = net.add_node(a_addr, Box::new(Ping(b_addr)));
    /// let b = net.add_node(b_addr, Box::new(Echo));
    /// net.link_both(a, b, LinkConfig::default().delay(Duration::from_millis(30)));
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(net.link_stats(b, a).unwrap().delivered, 1); // the echo came back
    /// assert_eq!(net.elapsed(), Duration::from_millis(60));
    /// ```
    pub fn link_both(&mut self, a: NodeId, b: NodeId, cfg: LinkConfig) {
        self.link(a, b, cfg.clone());
        self.link(b, a, cfg);
    }

    /// Gives every node started from now on a qlog tracer
    /// ([`DatagramStack::set_qlog`]): each connection they carry writes one
    /// trace, timed by the virtual clock, so the same seed gives the same
    /// trace byte for byte.
    ///
    /// ```
    /// use strata::qlog::QlogTracer;
    /// let mut net = strata::testing::SimNet::new(1);
    /// net.set_qlog(QlogTracer::new(|_| None));
    /// ```
    pub fn set_qlog(&mut self, tracer: crate::qlog::QlogTracer) {
        self.qlog = Some(tracer);
    }

    /// Starts the nodes not started yet (each gets `connection_made`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// assert!(net.stack(a).is_none()); // not started yet
    /// net.start();
    /// assert_eq!(net.stack(a).unwrap().transmits().count(), 1); // the ping, queued
    /// assert_eq!(net.elapsed(), Duration::ZERO);
    /// ```
    pub fn start(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let Some(proto) = node.pending.take() else {
                continue;
            };
            let now = skew::local(self.now, node.skew_ns);
            let id = NodeId(i as u32);
            let mtu = self
                .links
                .iter()
                .filter(|((from, _), _)| *from == id)
                .map(|(_, l)| l.config().mtu)
                .max()
                .unwrap_or(DEFAULT_MTU);
            let info = DatagramInfo {
                name: "sim",
                local: Some(LocalAddr(Addr::Inet(node.addr))),
                peer: node.peer.map(|p| crate::PeerAddr(Addr::Inet(p))),
                max_datagram_size: mtu,
                dialer: node.dialer,
            };
            let mut stack = DatagramStack::new(proto, info, self.stack_cfg.clone(), now);
            if let Some(q) = &self.qlog {
                stack.set_qlog(q.clone());
            }
            stack.start(now);
            node.stack = Some(stack);
        }
    }

    /// The virtual time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// use strata::testing::epoch;
    /// assert_eq!(net.now(), epoch());
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(net.now(), epoch() + Duration::from_millis(20)); // ping and echo
    /// ```
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since [`epoch`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// net.advance(Duration::from_millis(15));
    /// assert_eq!(net.elapsed(), Duration::from_millis(15));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(epoch())
    }

    /// Connects node `id` to `peer`, as `connect` does a UDP socket: its
    /// transmits that name no destination go to `peer`, and its stack's
    /// [`PeerAddr`](crate::PeerAddr) is `peer` (when set before the node
    /// starts). False if there is no such node.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// use strata::testing::{LinkConfig, SimNet};
    /// struct Hello;
    /// impl DatagramProtocol for Hello {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         t.send(&Transmit { destination: None, ..Transmit::to("0.0.0.0:0".parse().unwrap(), b"hi") });
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// struct Sink;
    /// impl DatagramProtocol for Sink {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut net = SimNet::new(1);
    /// let server = "10.0.0.2:53".parse().unwrap();
    /// let a = net.add_node("10.0.0.1:4000".parse().unwrap(), Box::new(Hello));
    /// let b = net.add_node(server, Box::new(Sink));
    /// net.link_both(a, b, LinkConfig::default());
    /// assert!(net.connect_node(a, server));
    /// net.run(std::time::Duration::from_secs(1));
    /// assert_eq!(net.link_stats(a, b).unwrap().delivered, 1);
    /// ```
    pub fn connect_node(&mut self, id: NodeId, peer: SocketAddr) -> bool {
        match self.nodes.get_mut(id.0 as usize) {
            Some(n) => {
                n.peer = Some(peer);
                true
            }
            None => false,
        }
    }

    /// Removes node `id`, as a host that restarts loses its sockets: its
    /// protocol is dropped without a callback, its address is free for a
    /// new node, and datagrams still in flight to it are discarded on
    /// arrival. Returns its stack, if it had started.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// use strata::testing::SimNet;
    /// struct Sink;
    /// impl DatagramProtocol for Sink {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut net = SimNet::new(1);
    /// let addr = "10.0.0.1:53".parse().unwrap();
    /// let a = net.add_node(addr, Box::new(Sink));
    /// net.start();
    /// assert!(net.remove_node(a).is_some());
    /// assert_eq!(net.node_at(addr), None);
    /// let again = net.add_node(addr, Box::new(Sink)); // the address is free
    /// assert_ne!(again, a);
    /// ```
    pub fn remove_node(&mut self, id: NodeId) -> Option<DatagramStack> {
        let node = self.nodes.get_mut(id.0 as usize)?;
        if self.by_addr.get(&node.addr) == Some(&id) {
            self.by_addr.remove(&node.addr);
        }
        node.pending = None;
        node.stack.take()
    }

    /// Moves node `id` to `addr` (a NAT rebinding, a client whose address
    /// changes): what it sends from now on comes from `addr`, and datagrams
    /// to its old address are unroutable. False, and nothing changes, if
    /// another node has `addr` or `id` was removed.
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// use strata::testing::SimNet;
    /// struct Sink;
    /// impl DatagramProtocol for Sink {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut net = SimNet::new(1);
    /// let a = net.add_node("10.0.0.1:4000".parse().unwrap(), Box::new(Sink));
    /// let b = net.add_node("10.0.0.2:53".parse().unwrap(), Box::new(Sink));
    /// assert!(net.rebind(a, "10.0.0.9:4001".parse().unwrap()));
    /// assert_eq!(net.node_at("10.0.0.9:4001".parse().unwrap()), Some(a));
    /// assert!(!net.rebind(a, "10.0.0.2:53".parse().unwrap())); // b's
    /// # let _ = b;
    /// ```
    pub fn rebind(&mut self, id: NodeId, addr: SocketAddr) -> bool {
        if self.by_addr.contains_key(&addr) {
            return false;
        }
        let Some(node) = self.nodes.get_mut(id.0 as usize) else {
            return false;
        };
        if self.by_addr.get(&node.addr) != Some(&id) {
            return false;
        }
        self.by_addr.remove(&node.addr);
        node.addr = addr;
        node.skew_ns = self.skews.get(&addr.ip()).copied().unwrap_or(0);
        self.by_addr.insert(addr, id);
        true
    }

    /// A node's address.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// use strata::testing::NodeId;
    /// assert_eq!(net.addr(b), Some(b_addr));
    /// assert_eq!(net.addr(NodeId(9)), None);
    /// ```
    pub fn addr(&self, id: NodeId) -> Option<SocketAddr> {
        self.nodes.get(id.0 as usize).map(|n| n.addr)
    }

    /// The node at `addr`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// assert_eq!(net.node_at(a_addr), Some(a));
    /// assert_eq!(net.node_at("127.0.0.9:1".parse().unwrap()), None);
    /// ```
    pub fn node_at(&self, addr: SocketAddr) -> Option<NodeId> {
        self.by_addr.get(&addr).copied()
    }

    /// A node's stack, once started.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// net.run(Duration::from_secs(1));
    /// let stack = net.stack(b).unwrap();
    /// assert!(stack.finished().is_none());
    /// assert_eq!(stack.transmits().count(), 0); // the echo went out
    /// ```
    pub fn stack(&self, id: NodeId) -> Option<&DatagramStack> {
        self.nodes.get(id.0 as usize)?.stack.as_ref()
    }

    /// A node's stack, to feed it events (pass [`now`](SimNet::now), or
    /// [`node_now`](SimNet::node_now) on a host whose clock is
    /// [skewed](SimNet::set_skew)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// net.run(Duration::from_secs(1));
    /// let now = net.now();
    /// net.stack_mut(b).unwrap().handle_shutdown(now);
    /// assert!(net.stack(b).unwrap().finished().unwrap().is_clean());
    /// ```
    pub fn stack_mut(&mut self, id: NodeId) -> Option<&mut DatagramStack> {
        self.nodes.get_mut(id.0 as usize)?.stack.as_mut()
    }

    /// The counters of the link from `a` to `b`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// net.run(Duration::from_secs(1));
    /// let s = net.link_stats(a, b).unwrap();
    /// assert_eq!((s.sent, s.delivered, s.lost()), (1, 1, 0));
    /// assert!(net.link_stats(a, a).is_none()); // no such link
    /// ```
    pub fn link_stats(&self, a: NodeId, b: NodeId) -> Option<&LinkStats> {
        self.links.get(&(a, b)).map(|l| l.stats())
    }

    /// Datagrams dropped for lack of a route (unknown address, no link).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// let mut net = SimNet::new(1);
    /// // Nobody at 127.0.0.2: the ping has nowhere to go.
    /// net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Ping("127.0.0.2:1".parse().unwrap())));
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(net.unroutable(), 1);
    /// ```
    pub fn unroutable(&self) -> u64 {
        self.unroutable
    }

    /// Datagram copies on their way.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// net.advance(Duration::from_millis(5));
    /// assert_eq!(net.in_flight(), 1); // the ping, halfway
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(net.in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// Every event so far, oldest first.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// use strata::testing::SimEventKind::{Delivered, Sent};
    /// net.run(Duration::from_secs(1));
    /// let kinds: Vec<_> = net.trace().iter().map(|e| (e.from, e.kind)).collect();
    /// assert_eq!(kinds, [(a, Sent), (a, Delivered), (b, Sent), (b, Delivered)]);
    /// assert_eq!(net.trace()[3].at_ns, 20_000_000);
    /// ```
    pub fn trace(&self) -> &[SimEvent] {
        &self.trace
    }

    /// A hash of the whole trace (of its text form): equal for equal traces.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// use strata::testing::Loss;
    /// let run = |seed| {
    ///     let mut net = SimNet::new(seed);
    ///     let (a_addr, b_addr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.2:1".parse().unwrap());
    ///     let a = net.add_node(a_addr, Box::new(Ping(b_addr)));
    ///     let b = net.add_node(b_addr, Box::new(Echo));
    ///     let jittery = LinkConfig::default().delay(Duration::from_millis(10)).jitter(Duration::from_millis(5));
    ///     net.link_both(a, b, jittery.loss(Loss::Random(0.2)));
    ///     net.run(Duration::from_secs(1));
    ///     net.trace_digest()
    /// };
    /// assert_eq!(run(3), run(3)); // same seed, same run
    /// assert_ne!(run(3), run(4)); // another seed: other delays, another trace
    /// ```
    pub fn trace_digest(&self) -> u64 {
        digest(&self.trace)
    }
}

impl std::fmt::Debug for SimNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNet")
            .field("seed", &self.seed)
            .field("elapsed", &self.elapsed())
            .field("nodes", &self.nodes.len())
            .field("links", &self.links.len())
            .field("in_flight", &self.flights.len())
            .finish()
    }
}
