//! [`KcpConfig`]: ikcp's knobs, with congestion control on by default.

use std::time::Duration;

/// Smallest MTU accepted (ikcp's limit).
pub const MIN_MTU: usize = 50;
/// Largest MTU accepted (a UDP payload).
pub const MAX_MTU: usize = 65_507;
/// Smallest receive window: a whole message (up to 127 fragments) must fit.
pub const MIN_RCV_WND: u16 = 128;

/// Engine configuration, mirroring ikcp's `ikcp_nodelay`, `ikcp_wndsize`,
/// `ikcp_setmtu` and stream flag, plus strata's memory bound.
///
/// Both peers must agree on `stream` and should use the same `mtu` (segments
/// larger than our MSS are dropped).
///
/// ```
/// use std::time::Duration;
/// use strata::reliable::kcp::KcpConfig;
///
/// let fast = KcpConfig::fast_mode();
/// assert!(fast.nodelay && fast.no_congestion_control);
/// assert_eq!((fast.interval, fast.fast_resend), (Duration::from_millis(10), 2));
/// let normal = KcpConfig::default();
/// assert!(!normal.no_congestion_control);
/// assert_eq!(normal.mtu, 1400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcpConfig {
    /// ikcp `nodelay`: minimum RTO 30 ms instead of 100 ms, gentler back-off
    /// (×1.5 instead of ×2) and no extra RTO/8 on the first transmission.
    pub nodelay: bool,
    /// Flush tick (ikcp `interval`), clamped by ikcp to 10..=5000 ms.
    pub interval: Duration,
    /// Fast retransmit after this many later ACKs (0: off).
    pub fast_resend: u32,
    /// Fast retransmit at most while a segment was sent this many times
    /// (0: no limit; ikcp's default 5).
    pub fast_limit: u32,
    /// ikcp `nc`: ignore the congestion window (send up to the windows).
    pub no_congestion_control: bool,
    /// Send window, in segments.
    pub snd_wnd: u16,
    /// Receive window, in segments (at least [`MIN_RCV_WND`]).
    pub rcv_wnd: u16,
    /// Largest datagram produced, headers included.
    pub mtu: usize,
    /// Stream mode (bytes, no message boundaries) instead of message mode.
    pub stream: bool,
    /// Send acks on the next `poll_transmit` instead of the next tick.
    pub ack_nodelay: bool,
    /// A segment sent this many times marks the link dead.
    pub dead_link: u32,
    /// Bound on bytes accepted by `send` and not yet acknowledged.
    pub send_buffer: usize,
}

/// Why a [`KcpConfig`] was rejected.
///
/// ```
/// use strata::reliable::kcp::{KcpConfig, KcpConfigError};
/// let cfg = KcpConfig { rcv_wnd: 16, ..KcpConfig::default() };
/// assert_eq!(cfg.validate(), Err(KcpConfigError::ReceiveWindow(16)));
/// assert_eq!(KcpConfigError::Mtu(10).to_string(), "mtu 10 outside 50..=65507");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KcpConfigError {
    /// MTU outside [`MIN_MTU`]..=[`MAX_MTU`].
    #[error("mtu {0} outside {MIN_MTU}..={MAX_MTU}")]
    Mtu(usize),
    /// Interval outside 10..=5000 ms.
    #[error("interval {0:?} outside 10..=5000 ms")]
    Interval(Duration),
    /// Zero send window.
    #[error("send window must be at least 1")]
    SendWindow,
    /// Receive window below [`MIN_RCV_WND`].
    #[error("receive window {0} below {MIN_RCV_WND}")]
    ReceiveWindow(u16),
    /// Send buffer smaller than one MSS.
    #[error("send buffer {0} smaller than one segment")]
    SendBuffer(usize),
    /// `dead_link` of zero.
    #[error("dead_link must be at least 1")]
    DeadLink,
}

impl Default for KcpConfig {
    fn default() -> Self {
        KcpConfig::default_mode()
    }
}

impl KcpConfig {
    /// ikcp's default mode (`ikcp_nodelay(kcp, 0, 100, 0, 0)`): 100 ms tick,
    /// no fast retransmit, congestion control on; windows 32/128, MTU 1400,
    /// stream mode, 256 KiB send buffer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::kcp::KcpConfig;
    /// let cfg = KcpConfig::default_mode();
    /// assert_eq!(cfg, KcpConfig::default());
    /// assert_eq!((cfg.interval, cfg.snd_wnd, cfg.rcv_wnd), (Duration::from_millis(100), 32, 128));
    /// assert!(cfg.stream && !cfg.nodelay && !cfg.no_congestion_control);
    /// ```
    pub fn default_mode() -> KcpConfig {
        KcpConfig {
            nodelay: false,
            interval: Duration::from_millis(100),
            fast_resend: 0,
            fast_limit: 5,
            no_congestion_control: false,
            snd_wnd: 32,
            rcv_wnd: 128,
            mtu: 1400,
            stream: true,
            ack_nodelay: false,
            dead_link: 20,
            send_buffer: 256 * 1024,
        }
    }

    /// ikcp's documented fast mode (`ikcp_nodelay(kcp, 1, 10, 2, 1)`):
    /// nodelay, 10 ms tick, fast retransmit after 2 ACKs, no congestion
    /// control; windows 128/128.
    ///
    /// ```
    /// use strata::reliable::kcp::KcpConfig;
    /// let cfg = KcpConfig::fast_mode();
    /// assert!(cfg.nodelay && cfg.no_congestion_control);
    /// assert_eq!((cfg.fast_resend, cfg.snd_wnd), (2, 128));
    /// assert_eq!(cfg.mtu, KcpConfig::default_mode().mtu); // the rest as in default mode
    /// ```
    pub fn fast_mode() -> KcpConfig {
        KcpConfig {
            nodelay: true,
            interval: Duration::from_millis(10),
            fast_resend: 2,
            no_congestion_control: true,
            snd_wnd: 128,
            rcv_wnd: 128,
            ..KcpConfig::default_mode()
        }
    }

    /// Checks the bounds documented on each field.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::kcp::{KcpConfig, KcpConfigError};
    /// assert_eq!(KcpConfig::default().validate(), Ok(()));
    /// let slow = KcpConfig { interval: Duration::from_secs(10), ..KcpConfig::default() };
    /// assert_eq!(slow.validate(), Err(KcpConfigError::Interval(Duration::from_secs(10))));
    /// let tiny = KcpConfig { send_buffer: 100, ..KcpConfig::default() };
    /// assert_eq!(tiny.validate(), Err(KcpConfigError::SendBuffer(100)));
    /// ```
    pub fn validate(&self) -> Result<(), KcpConfigError> {
        if !(MIN_MTU..=MAX_MTU).contains(&self.mtu) {
            return Err(KcpConfigError::Mtu(self.mtu));
        }
        let ms = self.interval.as_millis();
        if !(10..=5000).contains(&ms) {
            return Err(KcpConfigError::Interval(self.interval));
        }
        if self.snd_wnd == 0 {
            return Err(KcpConfigError::SendWindow);
        }
        if self.rcv_wnd < MIN_RCV_WND {
            return Err(KcpConfigError::ReceiveWindow(self.rcv_wnd));
        }
        if self.send_buffer < self.mtu - super::HEADER_LEN {
            return Err(KcpConfigError::SendBuffer(self.send_buffer));
        }
        if self.dead_link == 0 {
            return Err(KcpConfigError::DeadLink);
        }
        Ok(())
    }

    pub(super) fn interval_ms(&self) -> u32 {
        // validate() bounds the interval to 10..=5000 ms.
        u32::try_from(self.interval.as_millis()).unwrap_or(5000)
    }

    pub(super) fn min_rto_ms(&self) -> u32 {
        if self.nodelay {
            30
        } else {
            100
        }
    }
}
