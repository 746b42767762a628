//! Small datagram protocols for [`SimNet`] examples and tests ([`Ping`],
//! [`DatagramEcho`], [`Quiet`]), and [`PingEcho`], a network of one of
//! each joined by a link.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use super::netem::LinkConfig;
use super::simnet::SimNet;
use super::simtrace::NodeId;
use crate::{Datagram, DatagramProtocol, DatagramTransport, Transmit};

/// Sends one `ping` datagram to its address when it starts, and ignores
/// what it receives.
///
/// ```
/// use strata::testing::{LinkConfig, Ping, Quiet, SimNet};
/// let mut net = SimNet::new(1);
/// let to = "127.0.0.2:1".parse().unwrap();
/// let a = net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Ping(to)));
/// let b = net.add_node(to, Box::new(Quiet));
/// net.link(a, b, LinkConfig::default());
/// net.run(std::time::Duration::from_secs(1));
/// assert_eq!(net.link_stats(a, b).unwrap().delivered, 1);
/// ```
pub struct Ping(
    /// Where the ping goes.
    pub SocketAddr,
);

impl DatagramProtocol for Ping {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        t.send(&Transmit::to(self.0, b"ping"))
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
}

/// Sends every datagram back to where it came from.
///
/// ```
/// use strata::testing::PingEcho;
/// let mut p = PingEcho::new();
/// p.net.run(std::time::Duration::from_secs(1));
/// assert_eq!(p.net.link_stats(p.b, p.a).unwrap().delivered, 1); // the echo
/// ```
pub struct DatagramEcho;

impl DatagramProtocol for DatagramEcho {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            if let Some(from) = d.source {
                t.send(&Transmit::to(from, d.data))
            }
        }
    }
}

/// Sends nothing and ignores what it receives.
///
/// ```
/// use strata::testing::{LinkConfig, Quiet, RunOutcome, SimNet};
/// let mut net = SimNet::new(1);
/// let a = net.add_node("127.0.0.1:1".parse().unwrap(), Box::new(Quiet));
/// let b = net.add_node("127.0.0.2:1".parse().unwrap(), Box::new(Quiet));
/// net.link_both(a, b, LinkConfig::default());
/// assert_eq!(net.run(std::time::Duration::from_secs(1)), RunOutcome::Idle);
/// ```
pub struct Quiet;

impl DatagramProtocol for Quiet {
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
}

/// A [`SimNet`] (seed 1) with a [`Ping`] at [`PingEcho::A`] and a
/// [`DatagramEcho`] at [`PingEcho::B`], linked both ways with a 10 ms
/// delay. Nothing moves until the network runs: then the ping goes to B
/// and its echo comes back, 20 ms in all.
///
/// ```
/// use std::time::Duration;
/// use strata::testing::{PingEcho, RunOutcome};
/// let PingEcho { mut net, a, b, .. } = PingEcho::new();
/// assert_eq!(net.run(Duration::from_secs(1)), RunOutcome::Idle);
/// assert_eq!(net.elapsed(), Duration::from_millis(20));
/// assert_eq!(net.link_stats(a, b).unwrap().delivered, 1);
/// assert_eq!(net.link_stats(b, a).unwrap().delivered, 1);
/// ```
pub struct PingEcho {
    /// The network.
    pub net: SimNet,
    /// The node that pings.
    pub a: NodeId,
    /// The node that echoes.
    pub b: NodeId,
    /// [`PingEcho::A`].
    pub a_addr: SocketAddr,
    /// [`PingEcho::B`].
    pub b_addr: SocketAddr,
}

impl PingEcho {
    /// The address of the node that pings.
    pub const A: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 1));
    /// The address of the node that echoes.
    pub const B: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 1));
    /// The one-way delay of the link.
    pub const DELAY: Duration = Duration::from_millis(10);

    /// The network, not started.
    ///
    /// ```
    /// use strata::testing::PingEcho;
    /// let p = PingEcho::new();
    /// assert_eq!(p.net.node_at(PingEcho::B), Some(p.b));
    /// assert_eq!((p.a_addr, p.b_addr), (PingEcho::A, PingEcho::B));
    /// ```
    pub fn new() -> Self {
        let mut net = SimNet::new(1);
        let a = net.add_node(Self::A, Box::new(Ping(Self::B)));
        let b = net.add_node(Self::B, Box::new(DatagramEcho));
        net.link_both(a, b, LinkConfig::default().delay(Self::DELAY));
        PingEcho {
            net,
            a,
            b,
            a_addr: Self::A,
            b_addr: Self::B,
        }
    }
}

impl Default for PingEcho {
    fn default() -> Self {
        Self::new()
    }
}
