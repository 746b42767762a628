//! What a stack is given: its limits ([`StackConfig`]) and what the
//! bottom transport says about itself ([`BottomInfo`]).

use std::time::Duration;

use crate::qlog::QlogTracer;
use crate::{HalfClose, LocalAddr, PeerAddr};

/// Limits of one stack. Watermarks and budget are per stack, not per layer.
///
/// ```
/// use strata::StackConfig;
/// let cfg = StackConfig { high_water: 128 * 1024, ..StackConfig::default() };
/// assert_eq!(cfg.low_water, 16 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackConfig {
    /// `pause_writing` is delivered when the queued output reaches this (default 64 KiB).
    pub high_water: usize,
    /// `resume_writing` is delivered when it drains to this (default 16 KiB).
    pub low_water: usize,
    /// Output plus stashed input plus what layers hold, past which the
    /// connection is aborted with [`AbortReason::MemoryBudget`](crate::AbortReason::MemoryBudget) (default 4 MiB).
    pub memory_budget: usize,
    /// How long a graceful `close` may take to flush (default 10 s).
    pub close_timeout: Duration,
    /// How long queued output may wait with no byte taken by the transport
    /// below (the peer reads nothing: its receive window and our socket
    /// buffer are full) before the connection is aborted with
    /// `Close::Timeout(Timeout::Stall)` (default 60 s, as nginx's
    /// `send_timeout`). Any layer, HTTP/1.1, echo or a protocol of yours,
    /// is covered: a peer that asks for a large response and never reads
    /// cannot hold a connection for ever. Zero turns the rule off.
    pub stall_timeout: Duration,
    /// Makes a qlog trace for each connection (default `None`: no traces).
    /// A datagram stack answers it to the layers that make connections
    /// (the reliable mapping, QUIC); for a stream stack the driver asks it
    /// once, knowing the role ([`Stack::qlog_from_config`](crate::Stack::qlog_from_config)).
    pub qlog: Option<QlogTracer>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            high_water: 64 * 1024,
            low_water: 16 * 1024,
            memory_budget: 4 * 1024 * 1024,
            close_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(60),
            qlog: None,
        }
    }
}

/// What the bottom transport says about itself: its name and addresses.
///
/// ```
/// use strata::{BottomInfo, Addr};
/// let info = BottomInfo::new("tcp").peer(Addr::Memory(1));
/// assert_eq!(info.name, "tcp");
/// ```
#[derive(Clone, Debug)]
pub struct BottomInfo {
    /// The layer name (`tcp`, `unix`, `memory`).
    pub name: &'static str,
    /// The peer's address, if known.
    pub peer: Option<PeerAddr>,
    /// Our address, if known.
    pub local: Option<LocalAddr>,
    /// Whether `write_eof` half-closes.
    pub half_close: HalfClose,
    /// How protocols of this stack open connections (`t.get::<Dialer>()`):
    /// the driver's, if it gave one.
    pub dialer: Option<crate::DialerId>,
}

impl BottomInfo {
    /// Info with a name, no addresses, and half-close supported.
    ///
    /// ```
    /// use strata::{BottomInfo, HalfClose};
    /// let info = BottomInfo::new("unix");
    /// assert!(info.peer.is_none() && info.local.is_none());
    /// assert_eq!(info.half_close, HalfClose(true));
    /// ```
    pub fn new(name: &'static str) -> Self {
        BottomInfo {
            name,
            peer: None,
            local: None,
            half_close: HalfClose(true),
            dialer: None,
        }
    }

    /// Sets the peer address.
    ///
    /// ```
    /// use strata::{Addr, BottomInfo, PeerAddr};
    /// let info = BottomInfo::new("tcp").peer(Addr::Inet("192.0.2.1:443".parse().unwrap()));
    /// assert_eq!(info.peer.unwrap().0.to_string(), "192.0.2.1:443");
    /// ```
    pub fn peer(mut self, a: crate::Addr) -> Self {
        self.peer = Some(PeerAddr(a));
        self
    }

    /// Sets the local address.
    ///
    /// ```
    /// use strata::{Addr, BottomInfo, LocalAddr};
    /// let info = BottomInfo::new("memory").local(Addr::Memory(1));
    /// assert_eq!(info.local, Some(LocalAddr(Addr::Memory(1))));
    /// ```
    pub fn local(mut self, a: crate::Addr) -> Self {
        self.local = Some(LocalAddr(a));
        self
    }

    /// Sets the dialer the stack's protocols find with `t.get::<Dialer>()`.
    ///
    /// ```
    /// use strata::{BottomInfo, Dialer};
    /// let info = BottomInfo::new("tcp").dialer(Dialer::from_fn(|_, _, _| Ok(())).register());
    /// assert!(info.dialer.is_some());
    /// ```
    pub fn dialer(mut self, d: crate::DialerId) -> Self {
        self.dialer = Some(d);
        self
    }
}
