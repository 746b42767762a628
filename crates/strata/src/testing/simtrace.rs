//! The [`SimNet`](super::SimNet) trace: one record per packet event, enough
//! to tell two runs apart byte for byte.

use std::fmt;

/// A node of a [`SimNet`](super::SimNet), numbered in the order added.
///
/// ```
/// use strata::testing::NodeId;
/// assert_eq!(NodeId(3).to_string(), "n3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(
    /// The node's number, from 0 in the order added.
    pub u32,
);

impl NodeId {
    /// The sender of a datagram injected from an address no node has
    /// ([`SimNet::inject`](super::SimNet::inject)); displayed as `ext`.
    ///
    /// ```
    /// assert_eq!(strata::testing::NodeId::EXTERNAL.to_string(), "ext");
    /// ```
    pub const EXTERNAL: NodeId = NodeId(u32::MAX);
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == NodeId::EXTERNAL {
            return f.write_str("ext");
        }
        write!(f, "n{}", self.0)
    }
}

/// What happened to a packet.
///
/// ```
/// # use std::time::Duration;
/// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
/// # struct Ping(std::net::SocketAddr);
/// # impl DatagramProtocol for Ping {
/// #     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.send(&Transmit::to(self.0, &[0; 1400])) }
/// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// # }
/// # struct Quiet;
/// # impl DatagramProtocol for Quiet {
/// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// # }
/// use strata::testing::{LinkConfig, SimEventKind, SimNet};
/// let mut net = SimNet::new(1);
/// let b_addr = "127.0.0.2:1".parse().unwrap();
/// let a = net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Ping(b_addr)));
/// let b = net.add_node(b_addr, Box::new(Quiet));
/// let c = net.add_node("127.0.0.3:1".parse().unwrap(), Box::new(Quiet));
/// // a's interface takes 1500 bytes (its link to c), the path to b only 1280:
/// net.link(a, b, LinkConfig::default().mtu(1280));
/// net.link(a, c, LinkConfig::default());
/// net.run(Duration::from_secs(1));
/// let kinds: Vec<_> = net.trace().iter().map(|e| e.kind).collect();
/// assert_eq!(kinds, [SimEventKind::Sent, SimEventKind::MtuDrop]); // the 1400 bytes
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimEventKind {
    /// A node sent it onto a link.
    Sent,
    /// It reached the destination node.
    Delivered,
    /// Lost at random (or in the good state of Gilbert-Elliott).
    Lost,
    /// Lost in the bad state of Gilbert-Elliott.
    BurstLost,
    /// The link made an extra copy.
    Duplicated,
    /// The link held it back (a later packet may overtake it).
    Reordered,
    /// Tail-dropped at the bottleneck queue.
    QueueDrop,
    /// Larger than the link MTU.
    MtuDrop,
    /// No node has the destination address, or no link leads there.
    Unroutable,
    /// The link flipped bits of it ([`LinkConfig::corrupt`](super::LinkConfig::corrupt)).
    Corrupted,
    /// The tamper hook dropped it ([`Verdict::Drop`](super::Verdict::Drop)).
    Tampered,
    /// The tamper hook held it back ([`Verdict::Hold`](super::Verdict::Hold)).
    Held,
    /// Injected (by [`SimNet::inject`](super::SimNet::inject) or the tamper
    /// hook) and handed to its destination node; `len` and `hash` are the
    /// injected bytes'.
    Injected,
}

/// One entry of [`SimNet::trace`](super::SimNet::trace).
///
/// ```
/// use strata::testing::{NodeId, SimEvent, SimEventKind};
/// let e = SimEvent { at_ns: 1500, from: NodeId(0), to: Some(NodeId(1)), kind: SimEventKind::Sent, len: 3, hash: 0xab };
/// assert_eq!(e.to_string(), "1500 n0->n1 Sent len=3 hash=00000000000000ab");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SimEvent {
    /// Virtual time in nanoseconds since [`epoch`](super::epoch).
    pub at_ns: u64,
    /// The sending node.
    pub from: NodeId,
    /// The destination node (`None` when unroutable).
    pub to: Option<NodeId>,
    /// What happened.
    pub kind: SimEventKind,
    /// Payload length in bytes.
    pub len: usize,
    /// FNV-1a hash of the payload (see [`payload_hash`]).
    pub hash: u64,
}

impl fmt::Display for SimEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}->", self.at_ns, self.from)?;
        match self.to {
            Some(to) => write!(f, "{to}")?,
            None => f.write_str("?")?,
        }
        write!(
            f,
            " {:?} len={} hash={:016x}",
            self.kind, self.len, self.hash
        )
    }
}

/// The 64-bit FNV-1a hash of `data`: stable across platforms and Rust
/// versions (unlike `DefaultHasher`), which the trace needs.
///
/// ```
/// use strata::testing::payload_hash;
/// assert_eq!(payload_hash(b""), 0xcbf29ce484222325);
/// assert_eq!(payload_hash(b"a"), 0xaf63dc4c8601ec8c);
/// ```
pub fn payload_hash(data: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.feed(data);
    h.0
}

/// Folds a trace into one hash (FNV-1a over its text form, one line per
/// event), to compare runs or record them in a sweep table.
pub(crate) fn digest(events: &[SimEvent]) -> u64 {
    use fmt::Write;
    let mut h = Fnv::default();
    for e in events {
        // Fnv's write_str cannot fail.
        let _ = writeln!(h, "{e}");
    }
    h.0
}

/// A streaming FNV-1a 64 hasher.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.feed(s.as_bytes());
        Ok(())
    }
}
