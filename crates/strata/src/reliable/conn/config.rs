//! [`ReliableConfig`], [`ConnError`] and [`ConnStats`].

use std::time::Duration;

use crate::reliable::cc::CcAlgorithm;
use crate::reliable::wire::ErrorCode;
use crate::routing::{RoutableIds, ServerId, DEFAULT_CONFIG_ID};
use crate::{Fault, LayerError};

/// The reliable mapping's settings, for one connection (and, for a
/// listener, for each connection it accepts). Every limit that bounds
/// memory is here.
///
/// ```
/// use strata::reliable::ReliableConfig;
/// use strata::reliable::cc::CcAlgorithm;
/// let cfg = ReliableConfig { cc: CcAlgorithm::Cubic, ..ReliableConfig::default() };
/// assert_eq!(cfg.mtu, 1200);
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReliableConfig {
    /// The largest datagram sent, in bytes (default 1200, which every IPv6
    /// and nearly every IPv4 path carries). At least 1200: an Initial must
    /// be padded to 1200.
    pub mtu: usize,
    /// The congestion controller (default BBR-style, which does not read
    /// random loss as congestion).
    pub cc: CcAlgorithm,
    /// The receive window announced at first, in bytes (default 1 MiB).
    pub recv_window: u64,
    /// The largest the receive window auto-tunes to (default 16 MiB): a
    /// window the application reads within two round trips doubles. This
    /// bounds the memory a peer can make us hold for its data.
    pub max_recv_window: u64,
    /// The watermark the protocol above sees, as over any other transport
    /// (default [`DEFAULT_HIGH_WATER`], the stack's own default; the driver
    /// copies its [`StackConfig`](crate::StackConfig)'s mark here): once
    /// the bytes written and not yet sent reach it, `writable()` is false
    /// and the protocol gets `pause_writing`.
    pub high_water: usize,
    /// `resume_writing` once the bytes not yet sent drain to this (default
    /// [`DEFAULT_LOW_WATER`]), and the send buffer to half of
    /// `send_buffer`.
    pub low_water: usize,
    /// The send buffer (default 4 MiB; endpoint option `reliable.sndbuf`):
    /// every byte held for sending, those in flight and not yet
    /// acknowledged included, like a socket's `SO_SNDBUF`. At it
    /// `writable()` is false and the protocol above gets `pause_writing`,
    /// and `resume_writing` below half. It bounds the memory of a protocol
    /// that follows the watermarks, and the bytes in flight.
    pub send_buffer: usize,
    /// The hard limit on the send buffer (default 4 × `send_buffer`): a
    /// protocol that writes past it although paused is aborted.
    pub max_send_buffer: usize,
    /// A connection that hears nothing for this long is dead (default 30 s).
    pub idle_timeout: Duration,
    /// Send a PING after this much silence so that an idle connection stays
    /// up (default 10 s; `None`: never).
    pub keepalive: Option<Duration>,
    /// A connection whose peer answers none of this many probe timeouts in
    /// a row, and has been silent for at least two thirds of the idle
    /// timeout, is dead ([`ConnError::PeerUnresponsive`]) before the idle
    /// timeout (default [`DEFAULT_DEAD_AFTER_PROBES`]; with the default
    /// 30 s idle timeout, 20 s after the last packet heard, where the idle
    /// timeout would take 30 s). Probes back off exponentially, at most a
    /// quarter of the idle timeout apart, and at most a second apart from
    /// the third unanswered one. ICMP unreachable messages are a separate,
    /// faster rule: [`unreachable_hints`](Self::unreachable_hints).
    pub dead_after_probes: u32,
    /// How many ICMP unreachable hints (port, host or network unreachable,
    /// reported by a connected socket for a datagram we sent) make the peer
    /// dead ([`ConnError::Unreachable`]), with nothing heard from it for
    /// max(3 × PTO, 1 s) after the first of them while we kept probing
    /// (default [`DEFAULT_UNREACHABLE_HINTS`]; 0: ignore ICMP entirely).
    /// Anything heard from the peer starts the count over. A forged ICMP
    /// message costs at most a probe: it cannot end a connection whose peer
    /// still answers. With the defaults a dead peer on loopback is noticed
    /// about a second after the first datagram sent to it, and a connect to
    /// a closed port fails in about 3 s (the PTO is about 1 s before any
    /// RTT sample).
    ///
    /// ```
    /// use strata::reliable::ReliableConfig;
    /// let ignore_icmp = ReliableConfig { unreachable_hints: 0, ..ReliableConfig::default() };
    /// assert!(ignore_icmp.validate().is_ok());
    /// ```
    pub unreachable_hints: u32,
    /// The longest the handshake may take (default 20 s: on a link losing
    /// 30 % each way an attempt succeeds about half the time, and attempts
    /// are at most 2 s apart).
    pub handshake_timeout: Duration,
    /// The longest we hold an acknowledgement (default 25 ms).
    pub max_ack_delay: Duration,
    /// Listener: answer every first Initial with a Retry (stateless address
    /// validation; default true). Without it a new connection is created on
    /// the first Initial and sends at most 3× what it received until the
    /// client's address is validated.
    pub require_retry: bool,
    /// Listener: the most connections at once (default 4096); more are
    /// refused with CONNECTION_REFUSED, without state.
    pub max_connections: usize,
    /// Listener: the most half-open connections (created by an Initial, the
    /// handshake not finished) at once (default 1024), apart from
    /// `max_connections`. When full, the oldest half-open connection is
    /// evicted for a new one: a flood of Initials from spoofed sources
    /// (possible with `require_retry` off) cannot lock real clients out.
    pub max_half_open: usize,
    /// Listener: a half-open connection whose handshake has not finished
    /// after this long is dropped (default 10 s; the client's Initials come
    /// at most 2 s apart, and a fresh one starts over).
    pub half_open_timeout: Duration,
    /// Listener: how long a Retry token is valid (default 10 s).
    pub cookie_lifetime: Duration,
    /// The seed of every random choice of the endpoint (connection ids,
    /// and a listener's Retry cookie key); `None` (the default,
    /// [`DEFAULT_RNG_SEED`]) draws from the operating system's secure
    /// generator. With a seed the choices come from a ChaCha20 stream keyed
    /// by it, so a run under the test kit's simulated network repeats byte
    /// for byte. **For tests and simulations only**: whoever knows the seed
    /// can guess the ids and forge Retry tokens.
    ///
    /// ```
    /// use strata::reliable::ReliableConfig;
    /// let repeatable = ReliableConfig { rng_seed: Some([7; 32]), ..ReliableConfig::default() };
    /// assert!(repeatable.validate().is_ok());
    /// ```
    pub rng_seed: Option<[u8; 32]>,
    /// Listener: the server id every connection id it issues carries
    /// (default [`DEFAULT_SERVER_ID`], none: the ids are all random; endpoint
    /// option `reliable.server_id`, in hex). With one, the ids take the
    /// QUIC-LB plaintext layout of [`crate::routing`]: a first octet
    /// (config rotation 0, length 7), the server id, then random bytes, so a
    /// stateless balancer in front of several listeners routes every packet
    /// of a connection to this one even after the client's address changes
    /// (`docs/routing.md`). Ids are 8 bytes and keep at least 4 random ones:
    /// the server id is 1 to 3 bytes. A client ignores it.
    ///
    /// ```
    /// use strata::reliable::ReliableConfig;
    /// use strata::routing::ServerId;
    /// let routable = ReliableConfig { server_id: Some(ServerId::parse_hex("0a01")?), ..ReliableConfig::default() };
    /// assert!(routable.validate().is_ok());
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub server_id: Option<ServerId>,
}

impl Default for ReliableConfig {
    fn default() -> Self {
        let send_buffer = 4 << 20;
        ReliableConfig {
            mtu: crate::reliable::wire::DEFAULT_MTU,
            cc: CcAlgorithm::default(),
            recv_window: 1 << 20,
            max_recv_window: 16 << 20,
            high_water: DEFAULT_HIGH_WATER,
            low_water: DEFAULT_LOW_WATER,
            send_buffer,
            max_send_buffer: 4 * send_buffer,
            idle_timeout: Duration::from_secs(30),
            keepalive: Some(Duration::from_secs(10)),
            handshake_timeout: Duration::from_secs(20),
            dead_after_probes: DEFAULT_DEAD_AFTER_PROBES,
            unreachable_hints: DEFAULT_UNREACHABLE_HINTS,
            max_ack_delay: Duration::from_millis(25),
            require_retry: true,
            max_connections: 4096,
            max_half_open: 1024,
            half_open_timeout: Duration::from_secs(10),
            cookie_lifetime: Duration::from_secs(10),
            rng_seed: DEFAULT_RNG_SEED,
            server_id: DEFAULT_SERVER_ID,
        }
    }
}

/// The default of [`ReliableConfig::high_water`]: 64 KiB, the default of
/// [`StackConfig::high_water`](crate::StackConfig::high_water).
///
/// ```
/// assert_eq!(strata::reliable::DEFAULT_HIGH_WATER, strata::StackConfig::default().high_water);
/// ```
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;

/// The default of [`ReliableConfig::low_water`]: 16 KiB, the default of
/// [`StackConfig::low_water`](crate::StackConfig::low_water).
///
/// ```
/// assert_eq!(strata::reliable::DEFAULT_LOW_WATER, strata::StackConfig::default().low_water);
/// ```
pub const DEFAULT_LOW_WATER: usize = 16 * 1024;

/// The default of [`ReliableConfig::dead_after_probes`]: eight probe
/// timeouts in a row with nothing heard. At 30 % loss each way both probes
/// of one timeout go unanswered with probability about 0.26, so a live peer
/// is taken for dead with probability about 0.26^8 = 2e-5 per loss episode.
pub const DEFAULT_DEAD_AFTER_PROBES: u32 = 8;

/// The default of [`ReliableConfig::rng_seed`]: none, the operating
/// system's secure generator.
pub const DEFAULT_RNG_SEED: Option<[u8; 32]> = None;

/// The default of [`ReliableConfig::server_id`]: none, all-random ids.
pub const DEFAULT_SERVER_ID: Option<ServerId> = None;

/// The default of [`ReliableConfig::unreachable_hints`]: three ICMP
/// unreachable messages with nothing heard from the peer in between.
pub const DEFAULT_UNREACHABLE_HINTS: u32 = 3;

/// A setting of [`ReliableConfig`] out of range.
///
/// ```
/// use strata::reliable::{ReliableConfig, ConfigError};
/// let cfg = ReliableConfig { mtu: 500, ..ReliableConfig::default() };
/// assert_eq!(cfg.validate(), Err(ConfigError::Mtu(500)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `mtu` must be 1200..=65527.
    #[error("reliable: mtu {0} is out of range (1200..=65527)")]
    Mtu(usize),
    /// The windows and buffers must be at least one datagram (the receive
    /// window at least 65 536 bytes, the wire format's default limit).
    #[error("reliable: {0} must be at least one datagram (a receive window 65536 bytes) and not above its maximum")]
    Window(&'static str),
    /// The timeouts must be non-zero, and the keepalive shorter than the idle timeout.
    #[error("reliable: {0} must be non-zero (keepalive below the idle timeout)")]
    Timeout(&'static str),
    /// The server id must leave at least 4 random bytes in an 8-byte id:
    /// 1 to 3 bytes.
    #[error("reliable: a server id of {0} bytes does not fit an 8-byte connection id (1..=3)")]
    ServerId(usize),
}

impl ReliableConfig {
    /// Checks the settings.
    ///
    /// ```
    /// assert!(strata::reliable::ReliableConfig::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1200..=65_527).contains(&self.mtu) {
            return Err(ConfigError::Mtu(self.mtu));
        }
        let mtu = self.mtu as u64;
        // Below the spec's default limit (65 536) a peer could break it
        // before our first MAX_DATA reaches it.
        let floor = mtu.max(crate::reliable::wire::INITIAL_MAX_DATA);
        if self.recv_window < floor || self.max_recv_window < self.recv_window {
            return Err(ConfigError::Window("recv_window"));
        }
        if self.send_buffer < self.mtu || self.max_send_buffer < self.send_buffer {
            return Err(ConfigError::Window("send_buffer"));
        }
        if self.high_water == 0 || self.low_water > self.high_water {
            return Err(ConfigError::Window("high_water/low_water"));
        }
        if self.idle_timeout.is_zero() || self.handshake_timeout.is_zero() {
            return Err(ConfigError::Timeout("idle_timeout/handshake_timeout"));
        }
        if self
            .keepalive
            .is_some_and(|k| k.is_zero() || k >= self.idle_timeout)
        {
            return Err(ConfigError::Timeout("keepalive"));
        }
        if self.dead_after_probes == 0 {
            return Err(ConfigError::Timeout("dead_after_probes"));
        }
        if self.half_open_timeout.is_zero() {
            return Err(ConfigError::Timeout("half_open_timeout"));
        }
        if self.max_half_open == 0 {
            return Err(ConfigError::Window("max_half_open"));
        }
        if self.max_connections == 0 || self.cookie_lifetime.as_secs() == 0 {
            return Err(ConfigError::Window("max_connections/cookie_lifetime"));
        }
        if let Some(sid) = &self.server_id
            && self.routable_ids().is_none()
        {
            return Err(ConfigError::ServerId(sid.len()));
        }
        Ok(())
    }

    /// The layout of a listener's ids when [`server_id`](Self::server_id)
    /// is set and fits; `None` otherwise.
    pub(crate) fn routable_ids(&self) -> Option<RoutableIds> {
        let sid = self.server_id.clone()?;
        RoutableIds::with_len(DEFAULT_CONFIG_ID, sid, crate::reliable::rng::CONN_ID_LEN).ok()
    }
}

/// Why a connection ended.
///
/// ```
/// use strata::reliable::ConnError;
/// assert_eq!(ConnError::IdleTimeout.to_string(), "reliable: no packet from the peer within the idle timeout");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// Nothing arrived for the idle timeout: the peer is gone.
    #[error("reliable: no packet from the peer within the idle timeout")]
    IdleTimeout,
    /// The peer answered none of [`ReliableConfig::dead_after_probes`]
    /// probe timeouts in a row: it is gone (crashed, or the path is down).
    #[error("reliable: the peer answered none of {probes} probes in a row")]
    PeerUnresponsive {
        /// The probe timeouts that went unanswered.
        probes: u32,
    },
    /// The socket reported the peer unreachable (ICMP port, host or network
    /// unreachable) [`ReliableConfig::unreachable_hints`] times, and the
    /// peer answered none of the probes sent meanwhile: nothing listens
    /// there (any more), or the path is down.
    #[error("reliable: the peer is unreachable ({hints} ICMP unreachable reports, no answer to the probes sent meanwhile)")]
    Unreachable {
        /// The hints received since the peer was last heard.
        hints: u32,
    },
    /// The handshake did not complete in time.
    #[error("reliable: the handshake did not complete in time")]
    HandshakeTimeout,
    /// The server speaks none of our versions.
    #[error("reliable: the server does not speak version 1")]
    VersionMismatch,
    /// The peer closed the connection with this code.
    #[error("reliable: the peer closed the connection: {} ({reason})", code_name(*.code))]
    PeerClosed {
        /// Its code.
        code: ErrorCode,
        /// Its reason, lossily decoded.
        reason: String,
    },
    /// We closed the connection with this code (locally, or because the
    /// peer broke the protocol: then `code` says how).
    #[error("reliable: closed: {} ({reason})", code_name(*.code))]
    Closed {
        /// The code sent.
        code: ErrorCode,
        /// The reason sent.
        reason: String,
    },
    /// The protocol above wrote past the send buffer's hard limit.
    #[error("reliable: the send buffer passed its limit of {limit} bytes")]
    SendBuffer {
        /// The limit.
        limit: usize,
    },
}

impl ConnError {
    /// Whether the connection ended cleanly (a NO_ERROR close by either side).
    ///
    /// ```
    /// use strata::reliable::{ConnError, wire::ErrorCode};
    /// assert!(ConnError::PeerClosed { code: ErrorCode::NO_ERROR, reason: String::new() }.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        matches!(self, ConnError::PeerClosed { code, .. } | ConnError::Closed { code, .. } if *code == ErrorCode::NO_ERROR)
    }
}

impl LayerError for ConnError {
    /// A close the peer sent is its abort; a close we sent says whose fault
    /// it is by its code.
    ///
    /// ```
    /// use strata::reliable::{ConnError, wire::ErrorCode};
    /// use strata::{Fault, LayerError};
    /// assert_eq!(ConnError::VersionMismatch.kind(), Fault::PeerIncompatible);
    /// let e = ConnError::Closed { code: ErrorCode::PROTOCOL_VIOLATION, reason: "bad ack".into() };
    /// assert_eq!(e.kind(), Fault::PeerMisbehaved);
    /// ```
    fn kind(&self) -> Fault {
        match self {
            ConnError::IdleTimeout
            | ConnError::PeerUnresponsive { .. }
            | ConnError::HandshakeTimeout
            | ConnError::SendBuffer { .. } => Fault::LocalLimit,
            ConnError::Unreachable { .. } => Fault::Io,
            ConnError::VersionMismatch => Fault::PeerIncompatible,
            ConnError::PeerClosed { .. } => Fault::PeerAborted,
            ConnError::Closed { code, .. } => match *code {
                ErrorCode::FLOW_CONTROL_ERROR
                | ErrorCode::FINAL_SIZE_ERROR
                | ErrorCode::FRAME_ENCODING_ERROR
                | ErrorCode::PROTOCOL_VIOLATION
                | ErrorCode::INVALID_TOKEN => Fault::PeerMisbehaved,
                ErrorCode::CONNECTION_REFUSED => Fault::LocalLimit,
                _ => Fault::Local,
            },
        }
    }
}

impl LayerError for ConfigError {
    /// Always [`Fault::Config`].
    fn kind(&self) -> Fault {
        Fault::Config
    }
}

/// A code's name, for messages.
pub(crate) fn code_name(code: ErrorCode) -> String {
    let name = match code {
        ErrorCode::NO_ERROR => "NO_ERROR",
        ErrorCode::INTERNAL_ERROR => "INTERNAL_ERROR",
        ErrorCode::CONNECTION_REFUSED => "CONNECTION_REFUSED",
        ErrorCode::FLOW_CONTROL_ERROR => "FLOW_CONTROL_ERROR",
        ErrorCode::FINAL_SIZE_ERROR => "FINAL_SIZE_ERROR",
        ErrorCode::FRAME_ENCODING_ERROR => "FRAME_ENCODING_ERROR",
        ErrorCode::PROTOCOL_VIOLATION => "PROTOCOL_VIOLATION",
        ErrorCode::INVALID_TOKEN => "INVALID_TOKEN",
        ErrorCode(c) => return format!("code {c:#x}"),
    };
    name.to_string()
}

/// What a connection counted.
///
/// ```
/// let s = strata::reliable::ConnStats::default();
/// assert_eq!(s.packets_sent, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets received and processed.
    pub packets_received: u64,
    /// Packets declared lost.
    pub packets_lost: u64,
    /// Stream bytes sent again.
    pub bytes_retransmitted: u64,
    /// Stream bytes sent for the first time.
    pub bytes_sent: u64,
    /// Datagrams dropped as malformed.
    pub dropped_malformed: u64,
    /// Packets dropped as duplicates or replays (number already seen).
    pub dropped_duplicate: u64,
    /// Datagrams dropped for this connection as not fitting its state
    /// (wrong id, wrong type, a second Retry...).
    pub dropped_unexpected: u64,
    /// Probe timeouts that fired.
    pub ptos: u64,
}
