//! The [`SimNet`](super::SimNet) tamper hook: an on-path observer and
//! attacker that sees every datagram a node sends, before the link.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::simtrace::NodeId;

/// What the tamper hook decides for one datagram.
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
pub type Tamper = Box<dyn FnMut(&mut InFlight<'_>) -> Verdict + Send>;
