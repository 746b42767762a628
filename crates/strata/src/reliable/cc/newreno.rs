//! NewReno (RFC 9002 §7, RFC 6582): slow start, additive increase, one
//! halving per recovery period.

use std::time::Instant;

use super::{
    bytes_per_sec, clamp_mtu, initial_window, minimum_window, AckedPacket, CongestionController,
    RttEstimator,
};

/// NewReno's multiplicative decrease: the window is halved on loss.
const NEWRENO_LOSS_REDUCTION: (u64, u64) = (1, 2);

/// Pacing gain over `cwnd / smoothed_rtt` for the window-based controllers
/// (RFC 9002 §7.7 suggests 1.25), as a ratio.
pub(crate) const WINDOW_PACING_GAIN: (u64, u64) = (5, 4);

/// The NewReno controller.
///
/// Slow start adds the acknowledged bytes to the window; congestion
/// avoidance adds one datagram per window acknowledged. A congestion event
/// for a packet sent after the current recovery period started halves the
/// window (never below [`minimum_window`]) and starts a new recovery period;
/// the window does not grow for packets sent before it started.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::reliable::cc::{CongestionController, NewReno};
/// let t0 = Instant::now();
/// let mut cc = NewReno::new(1200);
/// cc.on_congestion_event(t0 + Duration::from_millis(1), t0, 1200);
/// assert_eq!(cc.window(), 6000);
/// assert!(cc.in_recovery(t0));
/// ```
#[derive(Clone, Debug)]
pub struct NewReno {
    mtu: u64,
    cwnd: u64,
    ssthresh: u64,
    recovery_start: Option<Instant>,
    /// Bytes acknowledged in congestion avoidance toward the next increase.
    acked_in_ca: u64,
}

impl NewReno {
    /// A controller for datagrams of `mtu` bytes, starting at
    /// [`initial_window`] in slow start.
    ///
    /// ```
    /// use strata::reliable::cc::{CongestionController, NewReno};
    /// assert_eq!(NewReno::new(1200).window(), 12000);
    /// ```
    pub fn new(mtu: u64) -> Self {
        let mtu = clamp_mtu(mtu);
        NewReno {
            mtu,
            cwnd: initial_window(mtu),
            ssthresh: u64::MAX,
            recovery_start: None,
            acked_in_ca: 0,
        }
    }

    /// The slow-start threshold (`u64::MAX` until the first loss).
    ///
    /// ```
    /// use strata::reliable::cc::NewReno;
    /// assert_eq!(NewReno::new(1200).ssthresh(), u64::MAX);
    /// ```
    pub fn ssthresh(&self) -> u64 {
        self.ssthresh
    }

    /// Whether a packet sent at `sent_time` belongs to the current recovery
    /// period (was sent before it started).
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::cc::NewReno;
    /// assert!(!NewReno::new(1200).in_recovery(Instant::now()));
    /// ```
    pub fn in_recovery(&self, sent_time: Instant) -> bool {
        self.recovery_start.is_some_and(|r| sent_time <= r)
    }
}

impl CongestionController for NewReno {
    fn on_packet_sent(&mut self, _now: Instant, _bytes: u64, _bytes_in_flight: u64) {}

    fn on_ack(
        &mut self,
        _now: Instant,
        acked: &AckedPacket,
        _rtt: &RttEstimator,
        app_limited: bool,
    ) {
        if self.in_recovery(acked.sent_time) || app_limited {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(acked.bytes);
            return;
        }
        self.acked_in_ca = self.acked_in_ca.saturating_add(acked.bytes);
        if self.acked_in_ca >= self.cwnd {
            self.acked_in_ca -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(self.mtu);
        }
    }

    fn on_congestion_event(&mut self, now: Instant, lost_sent_time: Instant, _lost_bytes: u64) {
        if self.in_recovery(lost_sent_time) {
            return;
        }
        self.recovery_start = Some(now);
        let (num, den) = NEWRENO_LOSS_REDUCTION;
        self.ssthresh = (self.cwnd / den * num).max(minimum_window(self.mtu));
        self.cwnd = self.ssthresh;
        self.acked_in_ca = 0;
    }

    fn on_persistent_congestion(&mut self) {
        self.cwnd = minimum_window(self.mtu);
        self.recovery_start = None;
        self.acked_in_ca = 0;
    }

    fn window(&self) -> u64 {
        self.cwnd
    }

    fn pacing_rate(&self, rtt: &RttEstimator) -> Option<u64> {
        window_pacing_rate(self.cwnd, rtt)
    }

    fn name(&self) -> &'static str {
        "newreno"
    }

    fn state(&self) -> &'static str {
        if self.cwnd < self.ssthresh {
            "slow_start"
        } else {
            "congestion_avoidance"
        }
    }
}

/// `1.25 * cwnd / smoothed_rtt`, the pacing rate of the window-based
/// controllers.
pub(crate) fn window_pacing_rate(cwnd: u64, rtt: &RttEstimator) -> Option<u64> {
    let (num, den) = WINDOW_PACING_GAIN;
    bytes_per_sec(cwnd.saturating_mul(num) / den, rtt.smoothed())
}
