//! What a listener is given: the protocol factory and the accept settings.
//! A leaf module: every part of the driver that listens reads these.

use std::sync::Arc;

use strata::StackConfig;

/// How a listener accepts connections.
///
/// ```
/// use strata_tokio::ListenConfig;
/// let cfg = ListenConfig { max_connections: 100, ..ListenConfig::default() };
/// assert!(cfg.nodelay);
/// assert_eq!(cfg.backlog, 1024);
/// ```
#[derive(Clone, Debug)]
pub struct ListenConfig {
    /// Limits of every connection's stack, shared by all of them.
    pub stack: Arc<StackConfig>,
    /// Live connections past which the listener stops accepting until one
    /// ends (default 10 000). Waiting clients queue in the backlog.
    pub max_connections: usize,
    /// Accepts per second, as a token bucket with a one-second burst
    /// (default: no limit).
    pub max_accepts_per_sec: Option<u32>,
    /// Sets `SO_REUSEPORT`, so several listeners can share the port (default false).
    pub reuse_port: bool,
    /// Sets `TCP_NODELAY` on accepted connections (default true).
    pub nodelay: bool,
    /// The listen backlog (default 1024).
    pub backlog: u32,
    /// `SO_SNDBUF` of every accepted TCP connection, in bytes (default
    /// `None`: the kernel's autotuning, which lets one connection whose
    /// peer does not read hold up to `net.ipv4.tcp_wmem`'s maximum, 4 MiB
    /// on most Linux systems, outside the stack's memory budget). Linux
    /// doubles the value for its bookkeeping. Endpoint option `tcp.sndbuf`.
    pub send_buffer: Option<u32>,
    /// `SO_RCVBUF` of every accepted TCP connection, in bytes (default
    /// `None`: the kernel's autotuning). Endpoint option `tcp.rcvbuf`.
    pub recv_buffer: Option<u32>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            stack: Arc::new(StackConfig::default()),
            max_connections: 10_000,
            max_accepts_per_sec: None,
            reuse_port: false,
            nodelay: true,
            backlog: 1024,
            send_buffer: None,
            recv_buffer: None,
        }
    }
}
