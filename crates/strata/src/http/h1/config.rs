//! [`H1Config`]: the limits and timers of an HTTP/1.1 connection.

use std::time::Duration;

/// The default longest request or response head (start line and fields): 64 KiB.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;

/// The default largest number of header fields in one head: 100.
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// The default time from the first byte of a request head to its end: 10 s.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The default idle time allowed between two requests: 60 s.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The default period in which a request body being read must make
/// progress: 30 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The default least rate of a request body being read, in bytes per
/// second, averaged over each [`DEFAULT_BODY_TIMEOUT`] period: 1024.
pub const DEFAULT_MIN_BODY_RATE: u64 = 1024;

/// The default longest time the peer may read nothing while output waits:
/// 30 s.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The default longest time an exchange may run on after a shutdown
/// begins: 10 s.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The default amount of unread pipelined input held before reading below is
/// paused: 64 KiB.
pub const DEFAULT_MAX_PIPELINED_BYTES: usize = 64 * 1024;

/// The default longest chunk-size line (size and extensions): 4 KiB.
pub const DEFAULT_MAX_CHUNK_LINE: usize = 4 * 1024;

/// The default largest trailer section of a chunked body: 16 KiB.
pub const DEFAULT_MAX_TRAILER_BYTES: usize = 16 * 1024;

/// The default amount of an unread request body the server reads and throws
/// away to keep a connection alive after its handler ended the response
/// early: 64 KiB.
pub const DEFAULT_MAX_DISCARD_BYTES: u64 = 64 * 1024;

/// The limits and timers of an HTTP/1.1 connection, server or client. Every
/// limit is a named field with a documented default.
///
/// Memory per connection is bounded by these: a head is never buffered past
/// `max_head_bytes`, a chunk-size line past `max_chunk_line`, trailers past
/// `max_trailer_bytes`, unread pipelined input past `max_pipelined_bytes`
/// (plus one read from below). Bodies are streamed, never buffered whole.
///
/// ```
/// use std::time::Duration;
/// use strata::http::h1::H1Config;
/// let cfg = H1Config { head_timeout: Duration::from_secs(5), ..H1Config::default() };
/// assert_eq!(cfg.max_head_bytes, 64 * 1024);
/// assert_eq!(cfg.max_body, None);
/// assert_eq!(cfg.min_body_rate, 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H1Config {
    /// The longest head, start line and fields together (default
    /// [`DEFAULT_MAX_HEAD_BYTES`]). A longer request head is answered with
    /// `431` ([`H1Error::HeadTooLarge`](super::H1Error::HeadTooLarge)).
    pub max_head_bytes: usize,
    /// The most header fields in one head, and in one trailer section
    /// (default [`DEFAULT_MAX_HEADERS`]). More are answered with `431`.
    pub max_headers: usize,
    /// How long a request head may take from its first byte to its end
    /// (default [`DEFAULT_HEAD_TIMEOUT`]): the slowloris bound. On expiry
    /// the server answers `408` and closes.
    pub head_timeout: Duration,
    /// How long a server connection may stay idle between requests before
    /// it is closed quietly (default [`DEFAULT_KEEP_ALIVE_TIMEOUT`]). The
    /// first request of a connection has no idle allowance: it must arrive
    /// whole within `head_timeout` of the connection's start.
    pub keep_alive_timeout: Duration,
    /// The period in which a request body being read (the handler has not
    /// paused reading, the body has not ended) must bring at least
    /// `body_timeout × min_body_rate` bytes, or its end (default
    /// [`DEFAULT_BODY_TIMEOUT`]). Otherwise the server answers `408` and
    /// closes if no response head went out yet, else aborts; the handler
    /// gets `connection_lost(Close::Timeout(Timeout::Body))`. The same holds
    /// for a body read and discarded after its response. `Duration::ZERO`
    /// turns the deadline off.
    pub body_timeout: Duration,
    /// The least average rate of a request body in bytes per second over
    /// each `body_timeout` period (default [`DEFAULT_MIN_BODY_RATE`]); `0`
    /// keeps only the idle rule (one byte per period is enough).
    pub min_body_rate: u64,
    /// How long the stack below may stay full (the peer reads none of our
    /// output) before a server connection is aborted with
    /// `Close::Timeout(Timeout::Stall)`, which the handler gets too
    /// (default [`DEFAULT_STALL_TIMEOUT`], as HTTP/2's `stall_timeout`).
    /// Any drain below the low-water mark starts it afresh.
    /// `Duration::ZERO` turns it off.
    pub stall_timeout: Duration,
    /// How long the exchange in progress may run on after `on_shutdown`
    /// (default [`DEFAULT_DRAIN_TIMEOUT`], as HTTP/2's `drain_timeout`);
    /// then the connection is aborted with `Close::Timeout(Timeout::Drain)`,
    /// which the handler gets too. `Duration::ZERO` turns it off.
    pub drain_timeout: Duration,
    /// Unread pipelined input (requests after the one being answered) held
    /// before reading below is paused (default
    /// [`DEFAULT_MAX_PIPELINED_BYTES`]).
    pub max_pipelined_bytes: usize,
    /// The longest chunk-size line of a chunked body, extensions included
    /// (default [`DEFAULT_MAX_CHUNK_LINE`]).
    pub max_chunk_line: usize,
    /// The largest trailer section of a chunked body (default
    /// [`DEFAULT_MAX_TRAILER_BYTES`]).
    pub max_trailer_bytes: usize,
    /// The largest request body a server accepts, `None` for no limit (the
    /// default: bodies are streamed to the handler, which applies its own).
    /// A larger one is answered with `413` when nothing was sent yet.
    pub max_body: Option<u64>,
    /// How much of a request body the server reads and discards after the
    /// handler closed its response without reading it all, to keep the
    /// connection alive (default [`DEFAULT_MAX_DISCARD_BYTES`]). A longer
    /// remainder closes the connection after the response instead.
    pub max_discard_bytes: u64,
}

impl Default for H1Config {
    fn default() -> Self {
        H1Config {
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            min_body_rate: DEFAULT_MIN_BODY_RATE,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_pipelined_bytes: DEFAULT_MAX_PIPELINED_BYTES,
            max_chunk_line: DEFAULT_MAX_CHUNK_LINE,
            max_trailer_bytes: DEFAULT_MAX_TRAILER_BYTES,
            max_body: None,
            max_discard_bytes: DEFAULT_MAX_DISCARD_BYTES,
        }
    }
}

impl H1Config {
    /// The bytes a request body must bring in each `body_timeout` period:
    /// `body_timeout × min_body_rate`, at least one (saturating).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::http::h1::H1Config;
    /// assert_eq!(H1Config::default().min_body_bytes(), 30 * 1024);
    /// let idle_only = H1Config { min_body_rate: 0, ..H1Config::default() };
    /// assert_eq!(idle_only.min_body_bytes(), 1);
    /// let huge = H1Config { body_timeout: Duration::MAX, min_body_rate: u64::MAX, ..H1Config::default() };
    /// assert_eq!(huge.min_body_bytes(), u64::MAX);
    /// ```
    pub fn min_body_bytes(&self) -> u64 {
        let n = self
            .body_timeout
            .as_millis()
            .saturating_mul(u128::from(self.min_body_rate))
            / 1000;
        u64::try_from(n).unwrap_or(u64::MAX).max(1)
    }
}
