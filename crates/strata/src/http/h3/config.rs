//! Limits and settings of an HTTP/3 connection.

use std::time::Duration;

/// Default [`H3Config::max_field_section_size`]: 16 KiB.
pub const DEFAULT_MAX_FIELD_SECTION_SIZE: u64 = 16 << 10;
/// Default [`H3Config::qpack_max_table_capacity`]: 4096 bytes.
pub const DEFAULT_QPACK_MAX_TABLE_CAPACITY: usize = 4096;
/// Default [`H3Config::qpack_blocked_streams`]: 16.
pub const DEFAULT_QPACK_BLOCKED_STREAMS: usize = 16;
/// Default [`H3Config::qpack_encoder_capacity`]: 4096 bytes.
pub const DEFAULT_QPACK_ENCODER_CAPACITY: usize = 4096;
/// Default [`H3Config::stream_send_buffer`]: 64 KiB.
pub const DEFAULT_STREAM_SEND_BUFFER: usize = 64 << 10;
/// Default [`H3Config::connection_send_buffer`]: 1 MiB.
pub const DEFAULT_CONNECTION_SEND_BUFFER: usize = 1 << 20;
/// Default [`H3Config::stream_send_limit`]: 1 MiB.
pub const DEFAULT_STREAM_SEND_LIMIT: usize = 1 << 20;
/// Default [`H3Config::head_timeout`]: 10 s.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`H3Config::body_timeout`]: 30 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`H3Config::min_body_rate`]: 1024 bytes per second.
pub const DEFAULT_MIN_BODY_RATE: u64 = 1024;
/// Default [`H3Config::drain_timeout`]: 10 s.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`H3Config::max_control_buffer`]: 64 KiB.
pub const DEFAULT_MAX_CONTROL_BUFFER: usize = 64 << 10;

/// Limits and settings of an HTTP/3 connection, every one with a documented
/// default (see `docs/limits.md`). The QUIC limits under it (streams,
/// windows, idle timeout) are the QUIC layer's configuration.
///
/// ```
/// use strata::http::h3::H3Config;
/// let cfg = H3Config { qpack_max_table_capacity: 0, ..H3Config::default() };
/// assert_eq!(cfg.max_field_section_size, 16 << 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H3Config {
    /// SETTINGS_MAX_FIELD_SECTION_SIZE we announce (RFC 9114 §4.2.2 sizes:
    /// name + value + 32 per field). A request head over it gets `431` (a
    /// HEADERS frame longer than it is refused from its frame header alone);
    /// a response head over it ends the request with H3_EXCESSIVE_LOAD.
    /// Default [`DEFAULT_MAX_FIELD_SECTION_SIZE`].
    pub max_field_section_size: u64,
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY we announce: the dynamic table the
    /// peer's encoder may make us keep (0: static table only). Default
    /// [`DEFAULT_QPACK_MAX_TABLE_CAPACITY`].
    pub qpack_max_table_capacity: usize,
    /// SETTINGS_QPACK_BLOCKED_STREAMS we announce: streams whose field
    /// section may wait for encoder instructions. Default
    /// [`DEFAULT_QPACK_BLOCKED_STREAMS`].
    pub qpack_blocked_streams: usize,
    /// The most dynamic-table capacity our encoder uses, whatever the peer
    /// allows (0: static table only). Default
    /// [`DEFAULT_QPACK_ENCODER_CAPACITY`].
    pub qpack_encoder_capacity: usize,
    /// Announce SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 tunnels), on a
    /// server. Default true.
    pub enable_connect_protocol: bool,
    /// Bytes a stream may queue that QUIC flow control has not taken before
    /// it is no longer `writable()`. Default [`DEFAULT_STREAM_SEND_BUFFER`].
    pub stream_send_buffer: usize,
    /// Bytes all streams together may queue before none is `writable()`.
    /// Default [`DEFAULT_CONNECTION_SEND_BUFFER`].
    pub connection_send_buffer: usize,
    /// Bytes a stream that ignores `writable()` may queue before it is
    /// reset with H3_INTERNAL_ERROR. Default [`DEFAULT_STREAM_SEND_LIMIT`].
    pub stream_send_limit: usize,
    /// From a request stream's opening until its request head is decoded
    /// (including a section blocked on QPACK); at expiry the stream is
    /// reset with H3_REQUEST_REJECTED. Default [`DEFAULT_HEAD_TIMEOUT`].
    pub head_timeout: Duration,
    /// A request body's rate period (server). While a request body is
    /// being read (its protocol not paused, the body not ended, not a
    /// CONNECT tunnel), each period must bring `body_timeout ×
    /// min_body_rate` bytes (at least one), or the request ends: `408` and
    /// FIN (then STOP_SENDING(H3_NO_ERROR)) if no response was started,
    /// else RESET_STREAM(H3_REQUEST_CANCELLED); its protocol gets
    /// `Close::Timeout(Timeout::Body)`. Zero turns the rule off. Default
    /// [`DEFAULT_BODY_TIMEOUT`].
    pub body_timeout: Duration,
    /// The least mean rate, in bytes per second, of a request body over
    /// each [`body_timeout`](H3Config::body_timeout) period. Default
    /// [`DEFAULT_MIN_BODY_RATE`].
    pub min_body_rate: u64,
    /// After GOAWAY (ours or the peer's), how long requests in flight may
    /// run; then they are reset with H3_REQUEST_CANCELLED, their protocols
    /// get `Close::Timeout(Timeout::Drain)`, and the connection closes with
    /// H3_NO_ERROR. Default [`DEFAULT_DRAIN_TIMEOUT`].
    pub drain_timeout: Duration,
    /// Bytes the control and QPACK streams (ours, waiting for flow control,
    /// and the peer's, not yet parsed) may hold before the connection is
    /// closed with H3_EXCESSIVE_LOAD. Default [`DEFAULT_MAX_CONTROL_BUFFER`].
    pub max_control_buffer: usize,
}

impl H3Config {
    /// The bytes a body must bring in each `body_timeout` period: the period
    /// times `min_body_rate`, at least one.
    pub(super) fn body_quota(&self) -> u64 {
        let q = self
            .body_timeout
            .as_millis()
            .saturating_mul(self.min_body_rate as u128)
            / 1000;
        q.clamp(1, u64::MAX as u128) as u64
    }
}

impl Default for H3Config {
    fn default() -> Self {
        H3Config {
            max_field_section_size: DEFAULT_MAX_FIELD_SECTION_SIZE,
            qpack_max_table_capacity: DEFAULT_QPACK_MAX_TABLE_CAPACITY,
            qpack_blocked_streams: DEFAULT_QPACK_BLOCKED_STREAMS,
            qpack_encoder_capacity: DEFAULT_QPACK_ENCODER_CAPACITY,
            enable_connect_protocol: true,
            stream_send_buffer: DEFAULT_STREAM_SEND_BUFFER,
            connection_send_buffer: DEFAULT_CONNECTION_SEND_BUFFER,
            stream_send_limit: DEFAULT_STREAM_SEND_LIMIT,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            min_body_rate: DEFAULT_MIN_BODY_RATE,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_control_buffer: DEFAULT_MAX_CONTROL_BUFFER,
        }
    }
}
