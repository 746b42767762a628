//! [`QuicConfig`]: every knob of the layer, each with a named default.

use std::time::Duration;

/// Default [`QuicConfig::idle_timeout`]: 30 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`QuicConfig::handshake_timeout`]: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`QuicConfig::max_bidi_streams`]: 100 concurrent streams.
pub const DEFAULT_MAX_BIDI_STREAMS: u64 = 100;
/// Default [`QuicConfig::max_uni_streams`]: 100 concurrent streams.
pub const DEFAULT_MAX_UNI_STREAMS: u64 = 100;
/// Default [`QuicConfig::stream_window`]: 1 MiB.
pub const DEFAULT_STREAM_WINDOW: u64 = 1 << 20;
/// Default [`QuicConfig::connection_window`]: 8 MiB.
pub const DEFAULT_CONNECTION_WINDOW: u64 = 8 << 20;
/// Default [`QuicConfig::send_window`]: 8 MiB.
pub const DEFAULT_SEND_WINDOW: u64 = 8 << 20;
/// Default [`QuicConfig::max_connections`]: 10,000.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default [`QuicConfig::high_water`] of a stream view's queue: 256 KiB.
pub const DEFAULT_HIGH_WATER: usize = 256 << 10;
/// Default [`QuicConfig::low_water`] of a stream view's queue: 64 KiB.
pub const DEFAULT_LOW_WATER: usize = 64 << 10;
/// Half-open connections above which [`RetryPolicy::Auto`] asks for Retry.
pub const DEFAULT_RETRY_THRESHOLD: usize = 64;

/// Address validation of new connections with a Retry packet (RFC 9000 §8.1.2).
///
/// ```
/// use strata::quic::RetryPolicy;
/// assert_eq!(RetryPolicy::default(), RetryPolicy::Auto);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RetryPolicy {
    /// Every new connection proves its address first (one more round trip).
    Always,
    /// Never: every Initial is accepted (amplification stays bounded at 3×
    /// by quinn-proto either way).
    Never,
    /// Retry once more than [`DEFAULT_RETRY_THRESHOLD`] connections are
    /// half-open (a flood of Initials then allocates no state).
    #[default]
    Auto,
}

/// The layer's configuration. Every field has a named default (the
/// `DEFAULT_*` constants of this module) and a row in `docs/limits.md`.
///
/// ```
/// use strata::quic::QuicConfig;
/// let cfg = QuicConfig { alpn: vec![b"echo".to_vec()], ..QuicConfig::default() };
/// assert_eq!(cfg.max_bidi_streams, 100);
/// ```
#[derive(Clone, Debug)]
pub struct QuicConfig {
    /// ALPN protocols, in preference order (the TLS configuration's list is
    /// used when this is empty).
    pub alpn: Vec<Vec<u8>>,
    /// A connection with no packet for this long is closed (`max_idle_timeout`).
    pub idle_timeout: Duration,
    /// A handshake not done after this long is abandoned.
    pub handshake_timeout: Duration,
    /// Send a PING after this much quiet, so an idle connection stays up.
    pub keep_alive: Option<Duration>,
    /// Bidirectional streams the peer may have open at once.
    pub max_bidi_streams: u64,
    /// Unidirectional streams the peer may have open at once.
    pub max_uni_streams: u64,
    /// Receive window of one stream, in bytes.
    pub stream_window: u64,
    /// Receive window of the whole connection, in bytes.
    pub connection_window: u64,
    /// Bytes quinn-proto buffers for sending across all streams of a connection.
    pub send_window: u64,
    /// Accept DATAGRAM frames (RFC 9221).
    pub datagrams: bool,
    /// Connections one server holds at once; more are refused
    /// (CONNECTION_REFUSED).
    pub max_connections: usize,
    /// Address validation with Retry: Always / Never / Auto (when half-open
    /// connections pass [`DEFAULT_RETRY_THRESHOLD`]).
    pub retry: RetryPolicy,
    /// A stream view's queue (bytes flow control refused) at which its
    /// protocol gets `pause_writing`.
    pub high_water: usize,
    /// ... and drained to which it gets `resume_writing`.
    pub low_water: usize,
    /// Seeds quinn-proto's random choices (connection ids, tokens), so a run
    /// in the test kit repeats. `None`: from the system.
    pub rng_seed: Option<u64>,
    // `server_id: Option<crate::routing::ServerId>` (routable connection ids,
    // helper `lb`) is wired here at the merge.
}

impl Default for QuicConfig {
    fn default() -> Self {
        QuicConfig {
            alpn: Vec::new(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keep_alive: None,
            max_bidi_streams: DEFAULT_MAX_BIDI_STREAMS,
            max_uni_streams: DEFAULT_MAX_UNI_STREAMS,
            stream_window: DEFAULT_STREAM_WINDOW,
            connection_window: DEFAULT_CONNECTION_WINDOW,
            send_window: DEFAULT_SEND_WINDOW,
            datagrams: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            retry: RetryPolicy::default(),
            high_water: DEFAULT_HIGH_WATER,
            low_water: DEFAULT_LOW_WATER,
            rng_seed: None,
        }
    }
}
