//! [`Sim`]: the simulated world (hosts, links, the event queue and the
//! virtual clock) and its run loop.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::testing::{epoch, NodeId, RunOutcome, SimNet, Verdict};
use strata::{StackConfig, StreamFactory};

use crate::error::SimError;
use crate::fault::Fault;
use crate::link::Link;
use crate::stream::{Conn, LayerWrap};
use crate::trace::Trace;

/// Where virtual time starts, past the test kit's epoch: room for a host's
/// clock to run behind the world's (negative skew) without going before
/// the process's first `Instant`.
const BASE: Duration = Duration::from_secs(3600);

/// How many rounds one instant may take before the run is called spinning
/// (a protocol that wakes itself for ever without time passing).
const MAX_ROUNDS: usize = 100_000;

/// A simulated host, by number in the order added.
///
/// ```
/// let mut sim = strata_sim::Sim::new(1);
/// let h = sim.add_host("server", "10.0.0.2".parse().unwrap());
/// assert_eq!(h, strata_sim::HostId(0));
/// assert_eq!(h.to_string(), "h0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(
    /// The host's number: the order it was added in, from 0.
    pub u32,
);

impl std::fmt::Display for HostId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "h{}", self.0)
    }
}

/// What a host listens on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ListenKey {
    Port(u16),
    Path(PathBuf),
}

/// One listener: the protocol each accepted connection runs.
pub(crate) struct Listener {
    pub(crate) factory: StreamFactory,
    pub(crate) wrap: Option<LayerWrap>,
    pub(crate) cfg: Arc<StackConfig>,
}

/// Runs on a host when it boots: at [`Sim::on_boot`] and after every
/// restart. It listens and connects as the host's applications do.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use strata_sim::{Boot, Fault, Sim};
/// let mut sim = Sim::new(1);
/// let h = sim.add_host("server", "10.0.0.2".parse().unwrap());
/// let boots = Rc::new(Cell::new(0));
/// let count = boots.clone();
/// let boot: Boot = Box::new(move |_sim, _host| count.set(count.get() + 1));
/// sim.on_boot(h, boot);
/// assert_eq!(boots.get(), 1);
/// sim.apply(Fault::Restart { host: h, down: Duration::from_secs(1) });
/// sim.run(Duration::from_secs(5));
/// assert_eq!(boots.get(), 2);
/// ```
pub type Boot = Box<dyn FnMut(&mut Sim, HostId)>;

pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) ip: IpAddr,
    /// How far this host's clock is ahead of the world's (negative: behind).
    pub(crate) skew_ns: i64,
    /// False between a restart and the boot that follows.
    pub(crate) up: bool,
    /// Its applications stopped reading (the stall fault).
    pub(crate) stalled: bool,
    pub(crate) listeners: BTreeMap<ListenKey, Listener>,
    pub(crate) boot: Option<Boot>,
    pub(crate) next_port: u16,
    pub(crate) udp_nodes: Vec<NodeId>,
}

/// A link between two hosts, and its state.
pub(crate) struct LinkState {
    pub(crate) cfg: Link,
    pub(crate) partitioned: bool,
    /// Pipes whose next segment met the partition: `(conn, direction)`.
    pub(crate) held: Vec<(u64, usize)>,
    /// Acknowledgements that met the partition: `(conn, to side, bytes,
    /// when)`.
    pub(crate) held_acks: Vec<(u64, usize, usize, Instant)>,
}

/// Something due at a virtual time.
pub(crate) struct Ev {
    pub(crate) at: Instant,
    pub(crate) seq: u64,
    pub(crate) kind: EvKind,
}

impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

pub(crate) enum EvKind {
    /// The next segment of a pipe is due.
    Arrive { conn: u64, dir: usize },
    /// An acknowledgement reaches a sender.
    Ack { conn: u64, to: usize, n: usize },
    /// A stack's deadline.
    Deadline { conn: u64, side: usize },
    /// A connect gives up.
    ConnectTimeout { conn: u64 },
    /// The user timeout of a pipe held by a partition may be due.
    UserTimeout { conn: u64, dir: usize },
    /// A restarted host boots.
    Boot { host: HostId },
    /// A scheduled fault.
    Fault(Fault),
}

/// The simulated world: hosts with addresses, links between them, and
/// every connection's stacks, under one virtual clock.
///
/// A `Sim` is a second driver beside `strata-tokio`: it runs the same
/// [`Stack`](strata::Stack)s and [`DatagramStack`](strata::DatagramStack)s,
/// built from the same protocols and endpoint strings, over simulated TCP
/// connections, UDP (through the test kit's
/// [`SimNet`](strata::testing::SimNet)) and Unix sockets, in one thread.
/// The clock jumps from one event to the next, so a minute of a busy
/// network runs in milliseconds, and everything random comes from the
/// seed: the same seed gives the same [`trace`](Sim::trace_digest), byte
/// for byte.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use strata::{StreamFactory, StreamProtocol, StreamTransport};
/// use strata::testing::RunOutcome;
/// use strata_sim::{Link, Sim};
///
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// struct Hello(Arc<std::sync::Mutex<Vec<u8>>>);
/// impl StreamProtocol for Hello {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.write_eof() }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
///
/// let mut sim = Sim::new(7);
/// let server = sim.add_host("server", "10.0.0.2".parse().unwrap());
/// let client = sim.add_host("client", "10.0.0.1".parse().unwrap());
/// sim.link(client, server, Link::default().latency(Duration::from_millis(10)));
/// let echo: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
/// sim.listen(server, "tcp://10.0.0.2:7", echo).unwrap();
/// let got = Arc::new(std::sync::Mutex::new(Vec::new()));
/// sim.connect(client, "tcp://server:7", Box::new(Hello(got.clone()))).unwrap();
/// assert_eq!(sim.run(Duration::from_secs(5)), RunOutcome::Idle);
/// assert_eq!(&*got.lock().unwrap(), b"hello");
/// // One round trip to connect, one for the echo.
/// assert!(sim.elapsed() >= Duration::from_millis(40));
/// ```
pub struct Sim {
    pub(crate) seed: u64,
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    pub(crate) hosts: Vec<Host>,
    pub(crate) links: BTreeMap<(HostId, HostId), LinkState>,
    pub(crate) conns: BTreeMap<u64, Conn>,
    pub(crate) next_conn: u64,
    events: BinaryHeap<Reverse<Ev>>,
    seq: u64,
    /// Stream sides whose wake hub woke: `(conn, side)`, in wake order.
    pub(crate) ready: Arc<Mutex<Vec<(u64, usize)>>>,
    pub(crate) udp: SimNet,
    /// Host pairs (by address) the tamper hook drops datagrams between.
    pub(crate) cut: Arc<Mutex<BTreeSet<(IpAddr, IpAddr)>>>,
    pub(crate) trace: Trace,
    pub(crate) stack_cfg: Arc<StackConfig>,
    /// What each connection still connecting asks for on its server host.
    pub(crate) pending_listen: BTreeMap<u64, ListenKey>,
    /// Every side that closed, with its reason, in order.
    pub(crate) closed: Vec<(crate::ConnId, usize, strata::Close)>,
    /// Plans made so far (each seeded from the world's seed and its number).
    pub(crate) plans: u64,
    /// Dials of protocols, for the run loop to open.
    pub(crate) dials: crate::dial::DialQueue,
    /// Each host's registered dialer, by host number.
    pub(crate) dial_slots: Vec<crate::dial::Slot>,
}

impl Sim {
    /// An empty world whose every random choice comes from `seed`.
    ///
    /// ```
    /// let sim = strata_sim::Sim::new(42);
    /// assert_eq!(sim.seed(), 42);
    /// assert_eq!(sim.elapsed(), std::time::Duration::ZERO);
    /// ```
    pub fn new(seed: u64) -> Sim {
        let start = epoch() + BASE;
        let mut udp = SimNet::new(seed);
        // Both clocks start at the same instant.
        udp.advance(start.saturating_duration_since(udp.now()));
        let cut: Arc<Mutex<BTreeSet<(IpAddr, IpAddr)>>> = Arc::default();
        let hook = cut.clone();
        udp.set_tamper(move |f| {
            let g = hook.lock().unwrap_or_else(|e| e.into_inner());
            if g.contains(&pair(f.from.ip(), f.to.ip())) {
                Verdict::Drop
            } else {
                Verdict::Pass
            }
        });
        Sim {
            seed,
            start,
            now: start,
            hosts: Vec::new(),
            links: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            events: BinaryHeap::new(),
            seq: 0,
            ready: Arc::default(),
            udp,
            cut,
            trace: Trace::new(true),
            stack_cfg: Arc::new(StackConfig::default()),
            pending_listen: BTreeMap::new(),
            closed: Vec::new(),
            plans: 0,
            dials: Arc::default(),
            dial_slots: Vec::new(),
        }
    }

    /// The seed.
    ///
    /// ```
    /// assert_eq!(strata_sim::Sim::new(9).seed(), 9);
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The world's virtual time.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let t0 = sim.now();
    /// sim.advance(std::time::Duration::from_secs(3));
    /// assert_eq!(sim.now() - t0, std::time::Duration::from_secs(3));
    /// ```
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the world was made.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// sim.advance(std::time::Duration::from_millis(250));
    /// assert_eq!(sim.elapsed(), std::time::Duration::from_millis(250));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The stack limits of connections made from now on whose listener or
    /// connect gave none.
    ///
    /// ```
    /// use strata::StackConfig;
    /// let mut sim = strata_sim::Sim::new(1);
    /// sim.set_stack_config(StackConfig { high_water: 4096, low_water: 1024, ..StackConfig::default() });
    /// ```
    pub fn set_stack_config(&mut self, cfg: StackConfig) {
        self.stack_cfg = Arc::new(cfg);
    }

    /// Records a qlog trace per connection, from `tracer` (which makes
    /// each trace: a JSON-SEQ writer into a buffer or a file), on the
    /// virtual clock: every stream stack (TLS, HTTP/2 and the reliable
    /// mapping's pass-through) and every UDP socket's connections (the
    /// reliable mapping, QUIC) made from now on. Call it before the
    /// listens and connects it should cover.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use strata::qlog::{QlogTrace, QlogTracer, TraceInfo};
    /// let made = Arc::new(Mutex::new(0));
    /// let m = made.clone();
    /// let mut sim = strata_sim::Sim::new(1);
    /// sim.set_qlog(QlogTracer::new(move |_: &TraceInfo| -> Option<QlogTrace> {
    ///     *m.lock().unwrap() += 1;
    ///     None // this one only counts
    /// }));
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default());
    /// # use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let f: StreamFactory = Arc::new(|| Box::new(Nop) as Box<dyn StreamProtocol>);
    /// sim.listen(b, "tls+tcp://b:443", f).unwrap();
    /// sim.connect(a, "tls+tcp://b:443?tls.insecure=true", Box::new(Nop)).unwrap();
    /// sim.run(std::time::Duration::from_secs(1));
    /// assert_eq!(*made.lock().unwrap(), 2); // one per side
    /// ```
    pub fn set_qlog(&mut self, tracer: strata::qlog::QlogTracer) {
        let mut cfg = (*self.stack_cfg).clone();
        cfg.qlog = Some(tracer.clone());
        self.stack_cfg = Arc::new(cfg);
        self.udp.set_qlog(tracer);
    }

    /// Adds a host named `name` (endpoint strings may use the name) with
    /// address `ip`. A host can reach itself (over a loopback link with no
    /// latency) and the hosts it has a [`link`](Sim::link) to.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// assert_eq!(sim.host_ip(a), "10.0.0.1".parse::<std::net::IpAddr>().unwrap());
    /// assert_eq!(sim.host_named("a"), Some(a));
    /// ```
    pub fn add_host(&mut self, name: &str, ip: IpAddr) -> HostId {
        let id = HostId(self.hosts.len() as u32);
        self.hosts.push(Host {
            name: name.to_string(),
            ip,
            skew_ns: 0,
            up: true,
            stalled: false,
            listeners: BTreeMap::new(),
            boot: None,
            next_port: 49152,
            udp_nodes: Vec::new(),
        });
        self.links.insert(
            (id, id),
            LinkState {
                cfg: Link::default().latency(Duration::ZERO),
                partitioned: false,
                held: Vec::new(),
                held_acks: Vec::new(),
            },
        );
        id
    }

    /// The address of `host`.
    ///
    /// # Panics
    ///
    /// If `host` is not one of this world's hosts (a bug in the test).
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let h = sim.add_host("v6", "fd00::2".parse().unwrap());
    /// assert_eq!(sim.host_ip(h).to_string(), "fd00::2");
    /// ```
    pub fn host_ip(&self, host: HostId) -> IpAddr {
        self.hosts[host.0 as usize].ip
    }

    /// The name of `host`.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let h = sim.add_host("db", "10.0.0.5".parse().unwrap());
    /// assert_eq!(sim.host_name(h), "db");
    /// ```
    pub fn host_name(&self, host: HostId) -> &str {
        &self.hosts[host.0 as usize].name
    }

    /// The host with this name, if any.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let db = sim.add_host("db", "10.0.0.5".parse().unwrap());
    /// assert_eq!(sim.host_named("db"), Some(db));
    /// assert_eq!(sim.host_named("web"), None);
    /// ```
    pub fn host_named(&self, name: &str) -> Option<HostId> {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .map(|i| HostId(i as u32))
    }

    /// The host with this address, if any.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let db = sim.add_host("db", "10.0.0.5".parse().unwrap());
    /// assert_eq!(sim.host_at("10.0.0.5".parse().unwrap()), Some(db));
    /// assert_eq!(sim.host_at("10.0.0.6".parse().unwrap()), None);
    /// ```
    pub fn host_at(&self, ip: IpAddr) -> Option<HostId> {
        self.hosts
            .iter()
            .position(|h| h.ip == ip)
            .map(|i| HostId(i as u32))
    }

    /// Links two hosts (both directions), or changes their link.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default().latency(Duration::from_millis(30)));
    /// assert_eq!(sim.link_config(b, a).unwrap().latency, Duration::from_millis(30));
    /// ```
    pub fn link(&mut self, a: HostId, b: HostId, cfg: Link) {
        let key = pair(a, b);
        match self.links.get_mut(&key) {
            Some(l) => l.cfg = cfg,
            None => {
                self.links.insert(
                    key,
                    LinkState {
                        cfg,
                        partitioned: false,
                        held: Vec::new(),
                        held_acks: Vec::new(),
                    },
                );
            }
        }
        self.relink_udp(a, b);
    }

    /// The link between two hosts, if any (a host's link to itself is its
    /// loopback, with no latency).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// assert!(sim.link_config(a, b).is_none());
    /// assert_eq!(sim.link_config(a, a).unwrap().latency, Duration::ZERO);
    /// sim.link(a, b, strata_sim::Link::default().window(8192));
    /// assert_eq!(sim.link_config(b, a).unwrap().window, 8192);
    /// ```
    pub fn link_config(&self, a: HostId, b: HostId) -> Option<&Link> {
        self.links.get(&pair(a, b)).map(|l| &l.cfg)
    }

    /// Sets what runs when `host` boots, and runs it now. It runs again
    /// after every [restart](Fault::Restart).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// struct Discard;
    /// impl StreamProtocol for Discard {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let h = sim.add_host("s", "10.0.0.2".parse().unwrap());
    /// sim.on_boot(h, |sim, h| {
    ///     let f: StreamFactory = Arc::new(|| Box::new(Discard) as Box<dyn StreamProtocol>);
    ///     sim.listen(h, "tcp://10.0.0.2:9", f).unwrap();
    /// });
    /// assert_eq!(sim.listeners(h), 1);
    /// ```
    pub fn on_boot(&mut self, host: HostId, boot: impl FnMut(&mut Sim, HostId) + 'static) {
        self.hosts[host.0 as usize].boot = Some(Box::new(boot));
        self.boot(host);
    }

    /// How many listeners `host` has (a restart closes them all).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// # struct Discard;
    /// # impl StreamProtocol for Discard {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let discard: StreamFactory = Arc::new(|| Box::new(Discard) as Box<dyn StreamProtocol>);
    /// use std::time::Duration;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let h = sim.add_host("s", "10.0.0.2".parse().unwrap());
    /// sim.listen(h, "tcp://s:80", discard.clone()).unwrap();
    /// sim.listen(h, "tcp://s:443", discard).unwrap();
    /// assert_eq!(sim.listeners(h), 2);
    /// sim.apply(strata_sim::Fault::Restart { host: h, down: Duration::ZERO });
    /// assert_eq!(sim.listeners(h), 0);
    /// ```
    pub fn listeners(&self, host: HostId) -> usize {
        self.hosts[host.0 as usize].listeners.len()
    }

    pub(crate) fn boot(&mut self, host: HostId) {
        self.hosts[host.0 as usize].up = true;
        self.trace_line(format_args!("{host} boot"));
        if let Some(mut f) = self.hosts[host.0 as usize].boot.take() {
            f(self, host);
            self.hosts[host.0 as usize].boot = Some(f);
        }
    }

    /// Schedules `kind` at `at`.
    pub(crate) fn schedule(&mut self, at: Instant, kind: EvKind) {
        self.seq += 1;
        self.events.push(Reverse(Ev {
            at: at.max(self.now),
            seq: self.seq,
            kind,
        }));
    }

    /// Records a trace line at the current time.
    pub(crate) fn trace_line(&mut self, what: std::fmt::Arguments<'_>) {
        let ns = (self.now - self.start).as_nanos() as u64;
        self.trace.line(ns, what);
    }

    /// The trace so far: one line per stream event and fault, then the
    /// datagram network's trace (one line per datagram event).
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// assert!(sim.trace_text().is_empty());
    /// ```
    pub fn trace_text(&self) -> String {
        let mut s = self.trace.text().to_string();
        for e in self.udp.trace() {
            s.push_str(&e.to_string());
            s.push('\n');
        }
        s
    }

    /// A hash of the whole trace: two runs with the same seed and the same
    /// programs give the same digest.
    ///
    /// ```
    /// let a = strata_sim::Sim::new(5);
    /// let b = strata_sim::Sim::new(5);
    /// assert_eq!(a.trace_digest(), b.trace_digest());
    /// ```
    pub fn trace_digest(&self) -> u64 {
        self.trace.digest() ^ self.udp.trace_digest().rotate_left(17)
    }

    /// How many events the trace holds.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// assert_eq!(sim.trace_len(), 0);
    /// sim.apply(strata_sim::Fault::Stall(a));
    /// assert_eq!(sim.trace_len(), 1);
    /// assert_eq!(sim.trace_text().lines().count(), 1);
    /// ```
    pub fn trace_len(&self) -> usize {
        self.trace.len() + self.udp.trace().len()
    }

    /// The datagram network (UDP sockets of every host).
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// # struct Sink;
    /// # impl DatagramProtocol for Sink {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// # }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let h = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let node = sim.bind_udp(h, "10.0.0.1:0".parse().unwrap(), Box::new(Sink)).unwrap();
    /// // Port 0 got a free port of the host.
    /// let addr = sim.datagrams().addr(node).unwrap();
    /// assert_eq!(addr.ip(), sim.host_ip(h));
    /// assert_ne!(addr.port(), 0);
    /// assert_eq!(sim.datagrams().now(), sim.now()); // one clock
    /// ```
    pub fn datagrams(&self) -> &SimNet {
        &self.udp
    }

    /// The next time anything is due (dropping stale events on the way).
    fn next_time(&mut self) -> Option<Instant> {
        while let Some(Reverse(ev)) = self.events.peek() {
            if self.is_live(&ev.kind, ev.at) {
                break;
            }
            self.events.pop();
        }
        let ev = self.events.peek().map(|e| e.0.at);
        match (ev, self.udp.next_event()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does everything that can be done at the current instant: wakes,
    /// datagram rounds, settled stacks. False if it spun.
    fn settle(&mut self) -> bool {
        for _ in 0..MAX_ROUNDS {
            let woken = std::mem::take(&mut *self.ready.lock().unwrap_or_else(|e| e.into_inner()));
            for (conn, side) in &woken {
                self.wake_side(*conn, *side);
            }
            // Picks up wakes of datagram stacks and sends what they queued.
            self.udp.advance(Duration::ZERO);
            let dialed = self.open_dials();
            if woken.is_empty()
                && !dialed
                && self
                    .ready
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty()
            {
                return true;
            }
        }
        false
    }

    /// Runs events until nothing is due any more, or for at most `limit` of
    /// virtual time.
    ///
    /// Returns [`RunOutcome::Idle`] when nothing is left to happen (every
    /// connection closed, no timer set), [`RunOutcome::Limit`] at the
    /// limit, [`RunOutcome::Spinning`] if a protocol keeps waking itself
    /// without time passing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::RunOutcome;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// sim.script(&strata_sim::Script::parse(&sim, "at 5s stall a").unwrap());
    /// assert_eq!(sim.run(Duration::from_secs(1)), RunOutcome::Limit);
    /// assert_eq!(sim.elapsed(), Duration::from_secs(1));
    /// // The clock jumps to the fault, and then nothing is left to happen.
    /// assert_eq!(sim.run(Duration::from_secs(60)), RunOutcome::Idle);
    /// assert_eq!(sim.elapsed(), Duration::from_secs(5));
    /// assert!(sim.is_stalled(a));
    /// ```
    pub fn run(&mut self, limit: Duration) -> RunOutcome {
        self.run_until(limit, |_| false)
    }

    /// Like [`run`](Sim::run), and stops with [`RunOutcome::Reached`] as
    /// soon as `pred` holds after an instant.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::RunOutcome;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default());
    /// let s = strata_sim::Script::parse(&sim, "at 2s partition a b\nat 3s heal a b").unwrap();
    /// sim.script(&s);
    /// assert_eq!(sim.run_until(Duration::from_secs(10), |sim| sim.is_partitioned(a, b)), RunOutcome::Reached);
    /// assert_eq!(sim.elapsed(), Duration::from_secs(2));
    /// ```
    pub fn run_until(&mut self, limit: Duration, mut pred: impl FnMut(&Sim) -> bool) -> RunOutcome {
        let target = self.now + limit;
        loop {
            if !self.settle() {
                return RunOutcome::Spinning;
            }
            if pred(self) {
                return RunOutcome::Reached;
            }
            match self.next_time() {
                None => return RunOutcome::Idle,
                Some(t) if t <= target => self.step_to(t),
                Some(_) => {
                    self.jump(target);
                    return RunOutcome::Limit;
                }
            }
        }
    }

    /// Moves the clock forward by exactly `d`, doing everything due on the
    /// way (unlike [`run`](Sim::run), which stops early when nothing is
    /// left to happen).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::RunOutcome;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// sim.script(&strata_sim::Script::parse(&sim, "at 1s stall a").unwrap());
    /// assert_eq!(sim.advance(Duration::from_secs(3)), RunOutcome::Limit);
    /// assert_eq!(sim.elapsed(), Duration::from_secs(3));
    /// assert!(sim.is_stalled(a));
    /// ```
    pub fn advance(&mut self, d: Duration) -> RunOutcome {
        let target = self.now + d;
        loop {
            if !self.settle() {
                return RunOutcome::Spinning;
            }
            match self.next_time() {
                Some(t) if t <= target => self.step_to(t),
                _ => {
                    self.jump(target);
                    return RunOutcome::Limit;
                }
            }
        }
    }

    /// Moves both clocks to `t` (nothing of ours is due before it).
    fn jump(&mut self, t: Instant) {
        self.now = self.now.max(t);
        let d = self.now.saturating_duration_since(self.udp.now());
        if !d.is_zero() {
            self.udp.advance(d);
        }
    }

    /// Moves to `t` and handles what is due then.
    fn step_to(&mut self, t: Instant) {
        self.jump(t);
        while self.events.peek().is_some_and(|e| e.0.at <= self.now) {
            let Some(Reverse(ev)) = self.events.pop() else {
                break;
            };
            self.handle(ev);
        }
        self.reap();
    }

    fn handle(&mut self, ev: Ev) {
        match ev.kind {
            EvKind::Arrive { conn, dir } => self.arrive(conn, dir, ev.at),
            EvKind::Ack { conn, to, n } => self.ack(conn, to, n),
            EvKind::Deadline { conn, side } => self.deadline(conn, side, ev.at),
            EvKind::ConnectTimeout { conn } => self.connect_timeout(conn),
            EvKind::UserTimeout { conn, dir } => self.user_timeout(conn, dir),
            EvKind::Boot { host } => self.boot(host),
            EvKind::Fault(f) => self.apply(f),
        }
    }

    /// Links every UDP node of `a` with every one of `b`, with their link's
    /// datagram half (a host's own nodes over its loopback link).
    pub(crate) fn relink_udp(&mut self, a: HostId, b: HostId) {
        let Some(cfg) = self.links.get(&pair(a, b)).map(|l| l.cfg.datagram.clone()) else {
            return;
        };
        let na = self.hosts[a.0 as usize].udp_nodes.clone();
        let nb = self.hosts[b.0 as usize].udp_nodes.clone();
        for &x in &na {
            for &y in &nb {
                if x != y {
                    self.udp.link_both(x, y, cfg.clone());
                }
            }
        }
    }

    /// Resolves an endpoint's host to an address: an IP as is, a name by
    /// the world's host names.
    pub(crate) fn resolve(&self, host: &strata::endpoint::Host) -> Result<IpAddr, SimError> {
        match host {
            strata::endpoint::Host::Ip(ip) => Ok(*ip),
            strata::endpoint::Host::Name(n) if n == "localhost" => Err(SimError::NoSuchHost {
                name: "localhost: name the host instead".into(),
            }),
            strata::endpoint::Host::Name(n) => self
                .host_named(n)
                .map(|h| self.host_ip(h))
                .ok_or_else(|| SimError::NoSuchHost { name: n.clone() }),
        }
    }

    /// The host an address belongs to, checked against the one asking.
    pub(crate) fn own_address(&self, host: HostId, ip: IpAddr) -> Result<(), SimError> {
        let mine = self.host_ip(host);
        if ip == mine || ip.is_unspecified() {
            Ok(())
        } else {
            Err(SimError::NotOwnAddress {
                host: self.hosts[host.0 as usize].name.clone(),
                addr: SocketAddr::new(ip, 0).ip(),
            })
        }
    }
}

/// The key of the link between two hosts (or addresses): the pair, ordered.
pub(crate) fn pair<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// `t` moved by `ns` nanoseconds (either way), saturating at the base.
pub(crate) fn shift(t: Instant, ns: i64) -> Instant {
    let d = Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        t + d
    } else {
        t.checked_sub(d).unwrap_or(t)
    }
}
