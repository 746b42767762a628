//! The [`SimNet`](super::SimNet) tamper hook: an on-path observer and
//! attacker that sees every datagram a node sends, before the link.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::simtrace::NodeId;

/// What the tamper hook decides for one datagram.
///
/// ```
/// # use std::time::Duration;
/// # use std::sync::{Arc, Mutex};
/// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
/// # use strata::testing::{LinkConfig, SimNet, Verdict};
/// # struct Ping(std::net::SocketAddr);
/// # impl DatagramProtocol for Ping {
/// #     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.send(&Transmit::to(self.0, b"ping")) }
/// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// # }
/// # struct Sink(Arc<Mutex<Vec<(std::net::SocketAddr, Vec<u8>)>>>);
/// # impl DatagramProtocol for Sink {
/// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
/// #         self.0.lock().unwrap().extend(b.iter().map(|d| (d.source.unwrap(), d.data.to_vec())));
/// #     }
/// # }
/// # let got = Arc::new(Mutex::new(Vec::new()));
/// # let mut net = SimNet::new(1);
/// # let (a_addr, b_addr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.2:1".parse().unwrap());
/// # let a = net.add_node(a_addr, Box::new(Ping(b_addr)));
/// # let b = net.add_node(b_addr, Box::new(Sink(got.clone())));
/// # net.link(a, b, LinkConfig::default().delay(Duration::from_millis(10)));
/// // Hold every datagram 5 ms past what the link decides.
/// net.set_tamper(|_| Verdict::Hold(Duration::from_millis(5)));
/// net.run(Duration::from_secs(1));
/// assert_eq!(got.lock().unwrap().len(), 1);
/// assert_eq!(net.elapsed(), Duration::from_millis(15));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Verdict {
    /// On to the link, as the hook left it (possibly rewritten).
    #[default]
    Pass,
    /// Gone before the link: the link never sees it (traced as
    /// [`SimEventKind::Tampered`](super::SimEventKind::Tampered)).
    Drop,
    /// On to the link, and each copy arrives this much later than the link
    /// says, so later datagrams may overtake it.
    Hold(Duration),
}

/// One datagram in the tamper hook's hands: where it goes, and its bytes,
/// which the hook may rewrite. [`inject`](InFlight::inject) adds datagrams
/// of the hook's own.
///
/// ```
/// use strata::testing::{InFlight, Verdict};
/// // A hook that flips the last byte of every datagram to 10.0.0.2:
/// let _hook = |d: &mut InFlight<'_>| {
///     if d.to == "10.0.0.2:443".parse().unwrap() {
///         if let Some(b) = d.data.last_mut() { *b ^= 1 }
///     }
///     Verdict::Pass
/// };
/// ```
#[derive(Debug)]
pub struct InFlight<'a> {
    /// The virtual time it was sent at.
    pub now: Instant,
    /// The sender's address.
    pub from: SocketAddr,
    /// The sending node.
    pub from_node: NodeId,
    /// The destination address.
    pub to: SocketAddr,
    /// The node at `to` with a link from the sender, or `None`: the
    /// datagram is unroutable (the hook still sees it: an answer to a
    /// spoofed source, for instance).
    pub to_node: Option<NodeId>,
    /// The payload; the hook may change it in place (the link then carries
    /// the new bytes, its length included).
    pub data: &'a mut Vec<u8>,
    pub(crate) injected: &'a mut Vec<Injection>,
}

impl InFlight<'_> {
    /// Sends `data` as if from `from` (any address: a spoofed one, or a
    /// node's) to the node at `to`, arriving `after` from now, outside any
    /// link (no loss, no counters); traced as
    /// [`SimEventKind::Injected`](super::SimEventKind::Injected) when it
    /// arrives. Nothing happens if no node has `to`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use std::sync::{Arc, Mutex};
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, SimNet, Verdict};
    /// # struct Ping(std::net::SocketAddr);
    /// # impl DatagramProtocol for Ping {
    /// #     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.send(&Transmit::to(self.0, b"ping")) }
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// # }
    /// # struct Sink(Arc<Mutex<Vec<(std::net::SocketAddr, Vec<u8>)>>>);
    /// # impl DatagramProtocol for Sink {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
    /// #         self.0.lock().unwrap().extend(b.iter().map(|d| (d.source.unwrap(), d.data.to_vec())));
    /// #     }
    /// # }
    /// # let got = Arc::new(Mutex::new(Vec::new()));
    /// # let mut net = SimNet::new(1);
    /// # let (a_addr, b_addr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.2:1".parse().unwrap());
    /// # let a = net.add_node(a_addr, Box::new(Ping(b_addr)));
    /// # let b = net.add_node(b_addr, Box::new(Sink(got.clone())));
    /// # net.link(a, b, LinkConfig::default().delay(Duration::from_millis(10)));
    /// // Replay each datagram from a spoofed source, 50 ms later.
    /// let spoofed: std::net::SocketAddr = "192.0.2.1:53".parse().unwrap();
    /// net.set_tamper(move |d| {
    ///     let copy = d.data.clone();
    ///     d.inject(spoofed, d.to, copy, Duration::from_millis(50));
    ///     Verdict::Pass
    /// });
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(*got.lock().unwrap(), [(a_addr, b"ping".to_vec()), (spoofed, b"ping".to_vec())]);
    /// assert_eq!(net.elapsed(), Duration::from_millis(50));
    /// ```
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>, after: Duration) {
        self.injected.push(Injection {
            from,
            to,
            data,
            after,
        });
    }
}

/// A datagram the hook injected.
#[derive(Debug)]
pub(crate) struct Injection {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub data: Vec<u8>,
    pub after: Duration,
}

/// The hook: called once per datagram (per segment of a GSO batch) a node
/// sends, in send order, before the link draws its fate.
///
/// ```
/// # use std::time::Duration;
/// # use std::sync::{Arc, Mutex};
/// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
/// # use strata::testing::{LinkConfig, SimNet, Verdict};
/// # struct Ping(std::net::SocketAddr);
/// # impl DatagramProtocol for Ping {
/// #     fn connection_made(&mut self, t: &mut dyn DatagramTransport) { t.send(&Transmit::to(self.0, b"ping")) }
/// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
/// # }
/// # struct Sink(Arc<Mutex<Vec<(std::net::SocketAddr, Vec<u8>)>>>);
/// # impl DatagramProtocol for Sink {
/// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
/// #         self.0.lock().unwrap().extend(b.iter().map(|d| (d.source.unwrap(), d.data.to_vec())));
/// #     }
/// # }
/// # let got = Arc::new(Mutex::new(Vec::new()));
/// # let mut net = SimNet::new(1);
/// # let (a_addr, b_addr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.2:1".parse().unwrap());
/// # let a = net.add_node(a_addr, Box::new(Ping(b_addr)));
/// # let b = net.add_node(b_addr, Box::new(Sink(got.clone())));
/// # net.link(a, b, LinkConfig::default().delay(Duration::from_millis(10)));
/// use strata::testing::{InFlight, Tamper};
/// // A hook kept as a value, installed later: it drops every "ping".
/// let hook: Tamper = Box::new(|d: &mut InFlight<'_>| {
///     if d.data.as_slice() == b"ping" { Verdict::Drop } else { Verdict::Pass }
/// });
/// net.set_tamper(hook);
/// net.run(Duration::from_secs(1));
/// assert!(got.lock().unwrap().is_empty());
/// ```
pub type Tamper = Box<dyn FnMut(&mut InFlight<'_>) -> Verdict + Send>;
