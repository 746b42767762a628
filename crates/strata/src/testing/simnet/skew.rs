//! Clock skew between the hosts of a [`SimNet`]: each address's clock is
//! the network's, moved by an offset.
//!
//! A node's stack reads its clock (`t.now()`) as the network's virtual time
//! plus its host's skew, and its deadlines, set on that clock, are turned
//! back into the network's time to be scheduled. Skew is an offset, not a
//! rate: a timer of one second on a skewed host fires one second of the
//! network's time after it was set, whatever the skew.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{epoch, NodeId, SimNet};
use crate::deadline::{after, MAX_TIMEOUT};

impl SimNet {
    /// Sets the clock of the host at `ip` to run `ahead_ns` nanoseconds
    /// ahead of the network's (negative: behind). It covers every node at
    /// that address, those there now and those added or
    /// [rebound](SimNet::rebind) there later: a host's sockets share its
    /// clock. Zero puts the clock back on the network's.
    ///
    /// What it means exactly:
    ///
    /// * a node's stack is handed `now + skew` wherever the network calls
    ///   it (start, arrivals, deadlines, wakes, sends); its deadlines are
    ///   scheduled at `deadline - skew` of the network's time. Links, the
    ///   tamper hook and the [`trace`](SimNet::trace) keep the network's
    ///   time, so a skew changes no digest by itself;
    /// * it is an offset, not a rate: a timer set for one second fires one
    ///   second of the network's time later;
    /// * changed while a node runs, its pending deadline moves with it
    ///   (forward: a timer may fire at once). A stack's clock never runs
    ///   backward: after a skew is lowered its clock stands still until the
    ///   network's catches up;
    /// * a clock never reads earlier than [`epoch`] (the network's time
    ///   zero): skewed behind by more than the time elapsed, it reads
    ///   `epoch` until it can move. Advance the network first (as a
    ///   simulator of whole hosts does, starting past the epoch) for an
    ///   exact offset from the start;
    /// * its size counts up to [`MAX_TIMEOUT`] (a century) either way.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::{Duration, Instant};
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// use strata::testing::{epoch, SimNet};
    ///
    /// /// Records its clock at start, and again at a timer one second on.
    /// struct Alarm { due: Option<Instant>, seen: Arc<Mutex<Vec<Instant>>> }
    /// impl DatagramProtocol for Alarm {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         self.seen.lock().unwrap().push(t.now());
    ///         self.due = Some(t.now() + Duration::from_secs(1));
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    ///     fn next_deadline(&self) -> Option<Instant> { self.due }
    ///     fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
    ///         self.due = None;
    ///         self.seen.lock().unwrap().push(t.now());
    ///     }
    /// }
    ///
    /// let seen = Arc::default();
    /// let mut net = SimNet::new(1);
    /// net.set_skew("10.0.0.1".parse().unwrap(), 2_000_000_000); // 2 s ahead
    /// net.add_node("10.0.0.1:1".parse().unwrap(), Box::new(Alarm { due: None, seen: Arc::clone(&seen) }));
    /// net.run(Duration::from_secs(5));
    /// let s = |secs| epoch() + Duration::from_secs(secs);
    /// assert_eq!(*seen.lock().unwrap(), [s(2), s(3)]); // its clock, 2 s ahead
    /// assert_eq!(net.elapsed(), Duration::from_secs(1)); // the timer: 1 s of the network's time
    /// ```
    pub fn set_skew(&mut self, ip: IpAddr, ahead_ns: i64) {
        if ahead_ns == 0 {
            self.skews.remove(&ip);
        } else {
            self.skews.insert(ip, ahead_ns);
        }
        for node in self.nodes.iter_mut().filter(|n| n.addr.ip() == ip) {
            node.skew_ns = ahead_ns;
        }
    }

    /// How far the clock of the host at `ip` runs ahead of the network's,
    /// in nanoseconds (negative: behind; zero unless
    /// [`set_skew`](SimNet::set_skew) said otherwise).
    ///
    /// ```
    /// let mut net = strata::testing::SimNet::new(1);
    /// let ip = "10.0.0.2".parse().unwrap();
    /// assert_eq!(net.skew(ip), 0);
    /// net.set_skew(ip, -500_000_000);
    /// assert_eq!(net.skew(ip), -500_000_000);
    /// ```
    pub fn skew(&self, ip: IpAddr) -> i64 {
        self.skews.get(&ip).copied().unwrap_or(0)
    }

    /// The time node `id`'s clock reads now: the network's, moved by its
    /// host's skew. What to pass to its stack when feeding it events
    /// through [`stack_mut`](SimNet::stack_mut).
    ///
    /// ```
    /// use std::time::Duration;
    /// # use strata::testing::Quiet;
    /// let mut net = strata::testing::SimNet::new(1);
    /// let a = net.add_node("10.0.0.1:1".parse().unwrap(), Box::new(Quiet));
    /// net.advance(Duration::from_secs(10));
    /// net.set_skew("10.0.0.1".parse().unwrap(), -3_000_000_000);
    /// assert_eq!(net.node_now(a), Some(net.now() - Duration::from_secs(3)));
    /// assert_eq!(net.node_now(strata::testing::NodeId(7)), None);
    /// ```
    pub fn node_now(&self, id: NodeId) -> Option<Instant> {
        let node = self.nodes.get(id.0 as usize)?;
        Some(local(self.now, node.skew_ns))
    }
}

/// The network's time `t` on a clock `ns` nanoseconds ahead (negative:
/// behind), never earlier than the epoch.
pub(super) fn local(t: Instant, ns: i64) -> Instant {
    if ns == 0 {
        return t;
    }
    let d = magnitude(ns);
    if ns > 0 {
        after(t, d)
    } else {
        back(t, d)
    }
}

/// The network's time at which a clock `ns` nanoseconds ahead reads `t`:
/// the inverse of [`local`] (where `local` did not stop at the epoch).
pub(super) fn world(t: Instant, ns: i64) -> Instant {
    if ns == 0 {
        return t;
    }
    let d = magnitude(ns);
    if ns > 0 {
        back(t, d)
    } else {
        after(t, d)
    }
}

fn magnitude(ns: i64) -> Duration {
    Duration::from_nanos(ns.unsigned_abs()).min(MAX_TIMEOUT)
}

/// `t - d`, saturating at the epoch.
fn back(t: Instant, d: Duration) -> Instant {
    let e = epoch();
    after(e, t.saturating_duration_since(e).saturating_sub(d))
}
