//! [`QuicConfig`]: every knob of the layer, each with a named default.

use std::sync::Arc;
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
/// Default [`QuicConfig::zero_rtt`]: off (early data is replayable).
pub const DEFAULT_ZERO_RTT: bool = false;
/// Bytes of stream data (and DATAGRAM frames, refused past it) an app may
/// hand the layer before the handshake is done (a client's 0-RTT data, a server's 0.5-RTT answer; see
/// [`QuicConfig::zero_rtt`]): 6 KiB per connection. Past it `write` takes
/// nothing until the handshake ends, then `stream_writable` follows (on the
/// client only if the server accepted 0-RTT). Why: quinn-proto 0.11.19 arms
/// no loss timer for data sent before the handshake completes, so when a
/// handshake packet was lost and early data filled the congestion window
/// (12,000 bytes at the start), the side holding it could never send its
/// next handshake packet (the client's Finished, the server's
/// HANDSHAKE_DONE) and both ends waited for the idle timeout
/// (`quic_zero_rtt::over_lossy_links_zero_rtt_delivers_exactly_once`, seeds
/// 140 and 272). Half the window leaves room.
pub const MAX_EARLY_BYTES: usize = 6 << 10;
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
    /// Routable connection ids (QUIC-LB plaintext, `docs/routing.md`):
    /// every id this endpoint issues carries this server id, so a stateless
    /// balancer keeps a connection on this server through migration.
    /// `None`: random 8-byte ids.
    pub server_id: Option<crate::routing::ServerId>,
    /// 0-RTT (RFC 9001 §4.6), off by default because early data can be
    /// replayed (RFC 9001 §9.2, RFC 8446 §8): see `docs/quic.md`, "0-RTT".
    /// A client with a session ticket from an earlier connection to the same
    /// server starts its app at once, its first flight carrying stream data;
    /// a server accepts such data (single-use tickets: resumption becomes
    /// stateful) and starts its app as soon as the client's hello is read,
    /// so its answer leaves in its first flight.
    pub zero_rtt: bool,
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
            server_id: None,
            zero_rtt: DEFAULT_ZERO_RTT,
        }
    }
}

/// The smallest datagram QUIC runs over (RFC 9000 §14: 1200 bytes).
pub const MIN_DATAGRAM_SIZE: usize = 1200;
/// The largest UDP payload the layer sends when its transport allows more
/// (an Ethernet MTU less the IPv6 and UDP headers, quinn's default ceiling).
pub const DEFAULT_MAX_UDP_PAYLOAD: usize = 1452;

impl QuicConfig {
    /// quinn-proto's transport parameters for a transport whose datagrams
    /// carry at most `max_payload` bytes.
    pub(crate) fn transport(
        &self,
        max_payload: usize,
    ) -> Result<quinn_proto::TransportConfig, super::QuicError> {
        use quinn_proto::{IdleTimeout, MtuDiscoveryConfig, VarInt};
        let bad = |what: &str| super::QuicError::Config(what.to_string());
        if max_payload < MIN_DATAGRAM_SIZE {
            return Err(bad("the transport's datagrams are under 1200 bytes"));
        }
        let var = |v: u64, what: &str| VarInt::from_u64(v).map_err(|_| bad(what));
        let mut tc = quinn_proto::TransportConfig::default();
        // quinn-proto adds these to `now` unchecked: a year is "never" and
        // keeps that sum far from the end of `Instant`.
        let idle = self.idle_timeout.min(MAX_TIMER);
        tc.max_idle_timeout(Some(
            IdleTimeout::try_from(idle).map_err(|_| bad("idle_timeout"))?,
        ));
        tc.keep_alive_interval(
            self.keep_alive
                .map(|k| k.clamp(Duration::from_millis(1), MAX_TIMER)),
        );
        tc.max_concurrent_bidi_streams(var(self.max_bidi_streams, "max_bidi_streams")?);
        tc.max_concurrent_uni_streams(var(self.max_uni_streams, "max_uni_streams")?);
        tc.stream_receive_window(var(self.stream_window, "stream_window")?);
        tc.receive_window(var(self.connection_window, "connection_window")?);
        tc.send_window(self.send_window);
        tc.datagram_receive_buffer_size(self.datagrams.then_some(DATAGRAM_BUFFER));
        tc.datagram_send_buffer_size(DATAGRAM_BUFFER);
        let ceiling = max_payload.min(usize::from(u16::MAX) - 8) as u16;
        tc.initial_mtu(ceiling.min(DEFAULT_MAX_UDP_PAYLOAD as u16));
        tc.min_mtu(MIN_DATAGRAM_SIZE as u16);
        // Discovery climbs no higher than quinn-proto's own default ceiling
        // (1452): above it, seeds of the lossy sweep stalled mid-transfer
        // after bursts lost full-size packets (quic_sim, seeds 5413, 11757).
        let mut mtud = MtuDiscoveryConfig::default();
        mtud.upper_bound(ceiling.min(DEFAULT_MAX_UDP_PAYLOAD as u16));
        tc.mtu_discovery_config(Some(mtud));
        tc.enable_segmentation_offload(true);
        Ok(tc)
    }

    /// The server's TLS configuration for [`zero_rtt`](Self::zero_rtt):
    /// early data allowed (quinn-proto takes `max_early_data_size` 0 or
    /// `u32::MAX` only), and resumption made stateful, because rustls
    /// accepts 0-RTT only from single-use tickets of its session cache
    /// (RFC 8446 §8.1: a replayed hello finds its ticket gone). Unchanged
    /// without 0-RTT.
    pub(crate) fn server_tls(&self, tls: Arc<rustls::ServerConfig>) -> Arc<rustls::ServerConfig> {
        if !self.zero_rtt {
            return tls;
        }
        let mut t = (*tls).clone();
        t.max_early_data_size = u32::MAX;
        t.ticketer = Arc::new(NoTickets);
        Arc::new(t)
    }

    /// The client's TLS configuration: early data offered exactly when
    /// [`zero_rtt`](Self::zero_rtt) is on (the session store is shared
    /// with `tls`, so tickets of earlier connections are found).
    pub(crate) fn client_tls(&self, tls: Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
        if tls.enable_early_data == self.zero_rtt {
            return tls;
        }
        let mut t = (*tls).clone();
        t.enable_early_data = self.zero_rtt;
        Arc::new(t)
    }

    /// The 32-byte seed of one of quinn-proto's random sources, derived from
    /// [`rng_seed`](Self::rng_seed) and a label.
    pub(crate) fn seed_bytes(&self, label: u8) -> Option<[u8; 32]> {
        use rand::{RngCore, SeedableRng};
        let seed = self.rng_seed?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ u64::from(label) << 56);
        let mut out = [0u8; 32];
        rng.fill_bytes(&mut out);
        Some(out)
    }
}

/// The longest idle timeout and keep-alive interval the layer hands
/// quinn-proto (longer values are taken as this): one year.
pub const MAX_TIMER: Duration = Duration::from_secs(365 * 86_400);

/// DATAGRAM frames (RFC 9221) buffered each way per connection: 64 KiB.
pub const DATAGRAM_BUFFER: usize = 64 << 10;

/// A ticketer that issues none, so rustls keeps resumption state in its
/// session cache (bounded: 256 sessions by default) and uses each entry once.
#[derive(Debug)]
struct NoTickets;

impl rustls::server::ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}
