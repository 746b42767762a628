//! Limits and settings of an HTTP/2 connection.

use std::time::Duration;

/// Limits and settings of an HTTP/2 connection, every one with a documented
/// default (see `docs/limits.md`). Shared by the connections of a listener.
///
/// ```
/// use strata::http::h2::H2Config;
/// let cfg = H2Config { max_concurrent_streams: 250, ..H2Config::default() };
/// assert_eq!(cfg.initial_stream_window, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS we announce; a HEADERS past it is
    /// refused with RST_STREAM(REFUSED_STREAM). Default 128.
    pub max_concurrent_streams: u32,
    /// The receive window we give each stream (SETTINGS_INITIAL_WINDOW_SIZE).
    /// A paused request protocol holds at most this much. Default 1 MiB.
    pub initial_stream_window: u32,
    /// The connection-level receive window. Default 2 MiB.
    pub connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE we accept; a larger frame is a
    /// FRAME_SIZE_ERROR seen from its header alone. Default 16 KiB.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 accounting: name + value +
    /// 32 per field). A request over it gets `431`. Default 16 KiB.
    pub max_header_list_size: u32,
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table the peer may make us
    /// keep. Default 4096.
    pub header_table_size: u32,
    /// The largest HPACK table we keep for our own encoder, whatever the
    /// peer allows. Default 4096.
    pub max_encoder_table_size: u32,
    /// Compressed bytes of one header block (HEADERS plus CONTINUATION,
    /// 9 bytes of frame header counted for each frame, so empty frames count
    /// too) past which the connection is ended with ENHANCE_YOUR_CALM: the
    /// defense against CONTINUATION floods (CVE-2024-27316). Default 64 KiB.
    pub max_header_block: usize,
    /// Bytes a stream may queue while its send window is closed before it is
    /// no longer `writable()`. Default 64 KiB. These bytes are not counted in
    /// the stack's watermarks (no draining of the transport sends them);
    /// a stream stuck this way for `stall_timeout` is reset.
    pub stream_send_buffer: usize,
    /// Bytes all streams together may queue while windows are closed before
    /// none of them is `writable()`: with handlers that respect it, a
    /// connection's queued output stays under this plus one write per
    /// stream. Default 1 MiB.
    pub connection_send_buffer: usize,
    /// Bytes a stream that ignores `writable()` may queue before it is reset
    /// with INTERNAL_ERROR. Default 1 MiB.
    pub stream_send_limit: usize,
    /// Streams the peer may reset (or that end in a stream error) within
    /// [`reset_window`](H2Config::reset_window) before the connection is ended
    /// with ENHANCE_YOUR_CALM: the rapid-reset defense (CVE-2023-44487).
    /// Default 200.
    pub max_resets: u32,
    /// The window over which resets are counted. Default 10 s.
    pub reset_window: Duration,
    /// Control frames (SETTINGS, PING) we may owe an answer to while the
    /// peer is not reading, before ENHANCE_YOUR_CALM. Default 1024.
    pub max_pending_control: u32,
    /// DATA frames with no payload and no END_STREAM the peer may send in a
    /// row before ENHANCE_YOUR_CALM. Default 100.
    pub max_empty_data: u32,
    /// With no open stream for this long, the connection is closed with a
    /// GOAWAY(NO_ERROR). Default 60 s.
    pub idle_timeout: Duration,
    /// A peer that reads nothing while we have output for this long: the
    /// connection ends with Timeout::Stall; a single stream stuck on its own
    /// closed window this long is reset with CANCEL. Default 30 s.
    pub stall_timeout: Duration,
    /// After our GOAWAY (for shutdown, or when the connection was idle),
    /// how long streams in flight may run; then they are reset with CANCEL,
    /// their protocols get `Close::Timeout(Timeout::Drain)`, and the
    /// connection closes. Default 10 s.
    pub drain_timeout: Duration,
    /// From the start of the connection until the peer's preface (on a
    /// server: the 24-byte magic and its first SETTINGS; on a client: the
    /// server's first SETTINGS) has arrived. At expiry the connection is
    /// dropped with `Close::Timeout(Timeout::Preface)`, without a GOAWAY
    /// (a peer that sent no preface has not shown it speaks HTTP/2).
    /// Default 10 s.
    pub preface_timeout: Duration,
    /// How long a header block (HEADERS without END_HEADERS) may wait for
    /// its last CONTINUATION. At expiry: GOAWAY(ENHANCE_YOUR_CALM, "header
    /// block timeout") and close; open streams' protocols get
    /// `Close::Timeout(Timeout::Head)`. (The connection cannot go on: the
    /// HPACK state is the unfinished block's.) Default 10 s.
    pub header_block_timeout: Duration,
    /// A request body's rate period. While a stream's request body is being
    /// read (its protocol is not paused, the body has not ended, our
    /// windows to the peer are open), at least `body_timeout ×
    /// min_body_rate` bytes (at least one) must arrive in each period, or
    /// the stream ends: `408` and END_STREAM (then RST_STREAM(NO_ERROR)) if
    /// no response was started, else RST_STREAM(CANCEL); its protocol gets
    /// `Close::Timeout(Timeout::Body)`; the other streams go on. Zero turns
    /// the rule off. Default 30 s.
    pub body_timeout: Duration,
    /// The least mean rate, in bytes per second, of a request body over
    /// each [`body_timeout`](H2Config::body_timeout) period. Zero keeps only
    /// the idle rule (no byte at all for a whole period). Default 1024.
    pub min_body_rate: u64,
    /// How long the peer may take to acknowledge our SETTINGS. Default 10 s.
    pub settings_timeout: Duration,
    /// Announce SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 tunnels).
    /// Default true.
    pub enable_connect_protocol: bool,
}

impl Default for H2Config {
    fn default() -> Self {
        H2Config {
            max_concurrent_streams: 128,
            initial_stream_window: 1 << 20,
            connection_window: 2 << 20,
            max_frame_size: 16_384,
            max_header_list_size: 16 << 10,
            header_table_size: 4096,
            max_encoder_table_size: 4096,
            max_header_block: 64 << 10,
            stream_send_buffer: 64 << 10,
            connection_send_buffer: 1 << 20,
            stream_send_limit: 1 << 20,
            max_resets: 200,
            reset_window: Duration::from_secs(10),
            max_pending_control: 1024,
            max_empty_data: 100,
            idle_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            preface_timeout: Duration::from_secs(10),
            header_block_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            min_body_rate: 1024,
            settings_timeout: Duration::from_secs(10),
            enable_connect_protocol: true,
        }
    }
}
