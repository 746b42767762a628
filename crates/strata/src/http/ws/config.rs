//! [`WsConfig`]: the limits and deadlines of a WebSocket layer.

use std::time::Duration;

/// The default largest message received, reassembled: 1 MiB (as
/// `framing::DEFAULT_MAX_FRAME` and Python
/// websockets' `max_size`).
pub const DEFAULT_MAX_MESSAGE: usize = 1024 * 1024;
/// The default largest frame payload sent: 64 KiB (larger messages go out
/// in fragments of this size).
pub const DEFAULT_FRAGMENT_SIZE: usize = 64 * 1024;
/// The default time the client waits for the server's handshake answer: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a close handshake may take once a close frame is sent: 5 s.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Configuration of a [`WebSocket`](super::WebSocket) layer. Every field has
/// a named default and a row in `docs/limits.md`.
///
/// ```
/// use std::time::Duration;
/// use strata::http::ws::{WsConfig, DEFAULT_MAX_MESSAGE};
/// let cfg = WsConfig { ping_interval: Some(Duration::from_secs(20)), ..WsConfig::default() };
/// assert_eq!(cfg.max_message, DEFAULT_MAX_MESSAGE);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsConfig {
    /// The largest message received (all its fragments together); a larger
    /// one is refused with close code 1009 as soon as a frame header shows
    /// it, before its payload is buffered. Default [`DEFAULT_MAX_MESSAGE`].
    pub max_message: usize,
    /// The largest frame payload sent: messages over it go out in fragments.
    /// Default [`DEFAULT_FRAGMENT_SIZE`]; 0 is taken as 1.
    pub fragment_size: usize,
    /// Client only: how long the server may take to accept the handshake.
    /// At expiry the connection is aborted with `Timeout::Handshake`.
    /// Default [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// How long the close handshake may take after our close frame went
    /// out (the peer's close frame, then the stream's end); at expiry the
    /// connection is aborted with `Timeout::CloseFlush`. Default
    /// [`DEFAULT_CLOSE_TIMEOUT`].
    pub close_timeout: Duration,
    /// When set, a ping goes out after this long without input, and a
    /// second such period without any input fails the connection
    /// ([`WsError::PingTimeout`](super::WsError::PingTimeout), close 1011).
    /// Default `None` (off).
    pub ping_interval: Option<Duration>,
    /// Subprotocols, in order of preference: a client offers them
    /// (`Sec-WebSocket-Protocol`); a server picks the first of its own list
    /// that the client offered. Default empty.
    pub subprotocols: Vec<String>,
    /// Offer (client) or accept (server) permessage-deflate (RFC 7692):
    /// messages compressed with a 32 KiB window; context takeover as the
    /// peer asks. Incoming messages inflate up to `max_message` (over it:
    /// close 1009). Default `false`.
    pub deflate: bool,
    /// Seeds the generator of masking keys and handshake keys (ChaCha20),
    /// so that a simulated run repeats byte for byte. Default `None`: a
    /// generator seeded once per connection from the operating system.
    pub rng_seed: Option<[u8; 32]>,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message: DEFAULT_MAX_MESSAGE,
            fragment_size: DEFAULT_FRAGMENT_SIZE,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            ping_interval: None,
            subprotocols: Vec::new(),
            deflate: false,
            rng_seed: None,
        }
    }
}
