//! What a link between two simulated hosts is like: its stream half (the
//! TCP-like connections between them) and its datagram half (UDP, through
//! the test kit's [`SimNet`](strata::testing::SimNet) and its
//! [`LinkConfig`]).

use std::time::Duration;

use strata::testing::LinkConfig;

/// The default one-way latency of a link: 1 ms.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(1);

/// The default receive window of a simulated TCP connection: 256 KiB (what
/// the receiver's kernel buffers before the application reads).
pub const DEFAULT_WINDOW: usize = 256 * 1024;

/// The default send buffer of a simulated TCP connection: 256 KiB (what
/// the sender's kernel accepts from the application before the network
/// takes it).
pub const DEFAULT_SEND_BUFFER: usize = 256 * 1024;

/// The largest segment a simulated TCP connection puts on the link at once
/// (the size of a TSO burst): 64 KiB.
pub const MAX_SEGMENT: usize = 64 * 1024;

/// How long a simulated TCP connect keeps trying before it fails with
/// `Close::Timeout(Timeout::Connect)`: 20 s (Linux gives up after about two
/// minutes; a simulation has no use for the wait).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long bytes a simulated TCP connection sent may stay unacknowledged
/// (a partition holds them) before its kernel gives up on the connection:
/// 924.6 s, what Linux's default `tcp_retries2` of 15 amounts to (its
/// documented lower bound for that timeout). A socket with
/// `TCP_USER_TIMEOUT` set uses its own value ([`Link::user_timeout`]).
pub const DEFAULT_USER_TIMEOUT: Duration = Duration::from_millis(924_600);

/// A link between two hosts.
///
/// The stream half models what a TCP connection shows an application, not
/// its packets: bytes arrive in order after the latency, no faster than
/// the bandwidth, and a sender has at most a receive window of bytes
/// unacknowledged (an acknowledgement comes back one latency after the
/// receiving application took the bytes), so a peer that stops reading
/// stops its sender. Nothing is lost: during a partition the bytes wait
/// and arrive after the heal, as TCP's retransmissions would deliver them,
/// unless the partition outlasts the [user timeout](Link::user_timeout).
///
/// The datagram half is a [`LinkConfig`] of the test kit (loss,
/// duplication, reordering, delay, rate, MTU), used for UDP sockets of the
/// two hosts; its delay defaults to the stream half's latency.
///
/// ```
/// use std::time::Duration;
/// use strata_sim::Link;
/// let l = Link::default().latency(Duration::from_millis(20)).bandwidth_bps(10_000_000);
/// assert_eq!(l.latency, Duration::from_millis(20));
/// assert_eq!(l.datagram.delay, Duration::from_millis(20));
/// ```
#[derive(Clone, Debug)]
pub struct Link {
    /// One-way latency (default [`DEFAULT_LATENCY`]).
    pub latency: Duration,
    /// Bits per second each way; `None` (the default) is unlimited.
    pub bandwidth_bps: Option<u64>,
    /// The receive window of each connection (default [`DEFAULT_WINDOW`]).
    pub window: usize,
    /// The send buffer of each connection (default [`DEFAULT_SEND_BUFFER`]).
    pub send_buffer: usize,
    /// How long a connect keeps trying (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// How long sent bytes may stay on the wire unacknowledged before the
    /// sender's kernel ends the connection (default
    /// [`DEFAULT_USER_TIMEOUT`]; see [`Link::user_timeout`]).
    pub user_timeout: Duration,
    /// The datagram half: UDP between the two hosts.
    pub datagram: LinkConfig,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            latency: DEFAULT_LATENCY,
            bandwidth_bps: None,
            window: DEFAULT_WINDOW,
            send_buffer: DEFAULT_SEND_BUFFER,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_timeout: DEFAULT_USER_TIMEOUT,
            datagram: LinkConfig::default().delay(DEFAULT_LATENCY),
        }
    }
}

impl Link {
    /// Sets the one-way latency of both halves.
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = strata_sim::Link::default().latency(Duration::from_millis(50));
    /// assert_eq!(l.datagram.delay, Duration::from_millis(50));
    /// ```
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self.datagram = self.datagram.delay(d);
        self
    }

    /// Sets the bandwidth of both halves, in bits per second each way.
    ///
    /// ```
    /// let l = strata_sim::Link::default().bandwidth_bps(8_000_000);
    /// assert_eq!(l.bandwidth_bps, Some(8_000_000));
    /// ```
    pub fn bandwidth_bps(mut self, bps: u64) -> Self {
        self.bandwidth_bps = Some(bps.max(1));
        self.datagram = self.datagram.rate_bps(bps.max(1));
        self
    }

    /// Sets the receive window of the stream half (at least 1 byte).
    ///
    /// ```
    /// let l = strata_sim::Link::default().window(64 * 1024);
    /// assert_eq!(l.window, 65536);
    /// ```
    pub fn window(mut self, bytes: usize) -> Self {
        self.window = bytes.max(1);
        self
    }

    /// Sets the send buffer of the stream half (at least 1 byte).
    ///
    /// ```
    /// let l = strata_sim::Link::default().send_buffer(16 * 1024);
    /// assert_eq!(l.send_buffer, 16384);
    /// ```
    pub fn send_buffer(mut self, bytes: usize) -> Self {
        self.send_buffer = bytes.max(1);
        self
    }

    /// Sets the stream half's user timeout: a connection whose oldest
    /// byte (or FIN) on the wire has waited that long without reaching the
    /// peer (a partition holds it) ends, as a kernel's retransmissions
    /// give up (`tcp_retries2`, `TCP_USER_TIMEOUT`). The sending side's
    /// stack hears `Close::Timeout(Timeout::Io)`, what the tokio driver
    /// makes of the kernel's `ETIMEDOUT`; its socket is gone, so the peer
    /// hears a reset when it next sends. Bytes count as acknowledged once
    /// they reach the peer's kernel, read or not: a peer that stops
    /// reading closes the window, which is no timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata_sim::{Link, DEFAULT_USER_TIMEOUT};
    /// assert_eq!(Link::default().user_timeout, DEFAULT_USER_TIMEOUT);
    /// assert_eq!(DEFAULT_USER_TIMEOUT, Duration::from_millis(924_600));
    /// let l = Link::default().user_timeout(Duration::from_secs(30));
    /// assert_eq!(l.user_timeout, Duration::from_secs(30));
    /// ```
    pub fn user_timeout(mut self, d: Duration) -> Self {
        self.user_timeout = d;
        self
    }

    /// Sets the datagram half (its delay is then its own).
    ///
    /// ```
    /// use strata::testing::{LinkConfig, Loss};
    /// let l = strata_sim::Link::default().datagram(LinkConfig::default().loss(Loss::Random(0.01)));
    /// assert_eq!(l.datagram.loss, Loss::Random(0.01));
    /// ```
    pub fn datagram(mut self, cfg: LinkConfig) -> Self {
        self.datagram = cfg;
        self
    }

    /// The time `len` bytes take on the wire at this link's bandwidth.
    pub(crate) fn serialization(&self, len: usize) -> Duration {
        match self.bandwidth_bps {
            None => Duration::ZERO,
            Some(bps) => {
                let ns = (len as u128 * 8 * 1_000_000_000) / bps as u128;
                Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
            }
        }
    }
}
