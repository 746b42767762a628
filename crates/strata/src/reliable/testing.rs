//! [`ConnPair`]: two [`reliable::Connection`](Connection)s joined in
//! memory, each hop taking [`ConnPair::HOP`] of virtual time.

use std::time::{Duration, Instant};

use crate::reliable::wire::ConnId;
use crate::reliable::{Connection, ReliableConfig};
use crate::testing::epoch;

/// A client and a server [`Connection`] of the reliable mapping, and the
/// virtual time they are at. The client's id is 1 (its Initial goes to 2),
/// the server's 3. Datagrams move only when [`pump`](ConnPair::pump) (or
/// [`hop_conns`] / [`pump_conns`]) moves them, without loss.
///
/// ```
/// use strata::reliable::{ReliableConfig, wire::ConnId};
/// use strata::reliable::testing::ConnPair;
/// let mut p = ConnPair::established(ReliableConfig::default());
/// assert!(p.client.is_established() && p.server.is_established());
/// assert!(p.client.write(p.now, b"hello"));
/// p.pump();
/// assert_eq!(&p.server.read(p.now, 100).unwrap()[..], b"hello");
/// assert_eq!(p.client.remote_cid(), ConnId(3));
/// ```
pub struct ConnPair {
    /// The current virtual time.
    pub now: Instant,
    /// The client (local id 1).
    pub client: Connection,
    /// The server (local id 3).
    pub server: Connection,
}

impl ConnPair {
    /// The virtual time one hop takes.
    pub const HOP: Duration = Duration::from_millis(10);

    /// A client and a server with `cfg`, before the handshake (the server
    /// as a listener makes it on the client's Initial; its address counts
    /// as validated), at [`epoch`].
    ///
    /// ```
    /// use strata::reliable::{ReliableConfig, Side};
    /// use strata::reliable::testing::ConnPair;
    /// let mut p = ConnPair::new(ReliableConfig::default());
    /// assert_eq!((p.client.side(), p.server.side()), (Side::Client, Side::Server));
    /// assert!(!p.client.is_established());
    /// p.pump();
    /// assert!(p.client.is_established());
    /// ```
    pub fn new(cfg: ReliableConfig) -> Self {
        let now = epoch();
        ConnPair {
            now,
            client: Connection::connect(cfg.clone(), now, ConnId(1), ConnId(2)),
            server: Connection::accept(cfg, now, ConnId(3), ConnId(1), true),
        }
    }

    /// [`new`](ConnPair::new), pumped once: the handshake is done.
    ///
    /// ```
    /// use strata::reliable::ReliableConfig;
    /// use strata::reliable::testing::ConnPair;
    /// let p = ConnPair::established(ReliableConfig::default());
    /// assert!(p.client.handshake_done() && p.server.handshake_done());
    /// ```
    pub fn established(cfg: ReliableConfig) -> Self {
        let mut p = Self::new(cfg);
        p.pump();
        p
    }

    /// Ten round trips: [`pump_conns`] on the client and the server.
    ///
    /// ```
    /// use strata::reliable::ReliableConfig;
    /// use strata::reliable::testing::ConnPair;
    /// let mut p = ConnPair::established(ReliableConfig::default());
    /// let before = p.now;
    /// p.pump();
    /// assert_eq!(p.now - before, 20 * ConnPair::HOP);
    /// ```
    pub fn pump(&mut self) {
        pump_conns(&mut self.now, &mut self.client, &mut self.server);
    }
}

/// One hop from `from` to `to`: `from` handles its timeout if due and sends
/// all it has, the clock moves [`ConnPair::HOP`], and `to` receives it.
///
/// ```
/// use strata::reliable::ReliableConfig;
/// use strata::reliable::testing::{hop_conns, ConnPair};
/// let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::new(ReliableConfig::default());
/// hop_conns(&mut now, &mut c, &mut s); // the Initial
/// hop_conns(&mut now, &mut s, &mut c); // the server's Handshake
/// assert!(c.handshake_done());
/// ```
pub fn hop_conns(now: &mut Instant, from: &mut Connection, to: &mut Connection) {
    if from.next_timeout().is_some_and(|t| t <= *now) {
        from.handle_timeout(*now)
    }
    let (mut d, mut out) = (Vec::new(), Vec::new());
    while from.poll_transmit(*now, &mut d) {
        out.push(d.clone())
    }
    *now += ConnPair::HOP;
    for d in &out {
        to.handle_datagram(*now, d)
    }
}

/// Ten round trips of [`hop_conns`] between `a` and `b`, `a` first: for
/// examples that hold the two connections apart (see [`ConnPair`]).
///
/// ```
/// use strata::reliable::ReliableConfig;
/// use strata::reliable::testing::{pump_conns, ConnPair};
/// let ConnPair { mut now, client: mut c, server: mut s } = ConnPair::established(ReliableConfig::default());
/// assert!(s.write(now, b"from the server"));
/// pump_conns(&mut now, &mut c, &mut s);
/// assert_eq!(&c.read(now, 100).unwrap()[..], b"from the server");
/// ```
pub fn pump_conns(now: &mut Instant, a: &mut Connection, b: &mut Connection) {
    for _ in 0..10 {
        hop_conns(now, a, b);
        hop_conns(now, b, a)
    }
}
