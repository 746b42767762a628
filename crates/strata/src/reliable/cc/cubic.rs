//! CUBIC (RFC 9438): the window follows a cubic function of the time since
//! the last reduction, with fast convergence and a Reno-friendly region.

use std::time::Instant;

use super::newreno::window_pacing_rate;
use super::{
    clamp_mtu, initial_window, minimum_window, AckedPacket, CongestionController, RttEstimator,
};

/// CUBIC's `C` constant, in segments per second cubed (RFC 9438 §5.1).
pub const CUBIC_C: f64 = 0.4;

/// CUBIC's multiplicative decrease factor `beta_cubic` (RFC 9438 §4.6).
pub const CUBIC_BETA: f64 = 0.7;

/// The CUBIC controller (RFC 9438).
///
/// Windows are computed in segments of `mtu` bytes. After a reduction the
/// window follows `W_cubic(t) = C (t - K)^3 + W_max`, aiming one RTT ahead
/// and growing at most 50% per RTT (§4.2), unless the Reno-friendly estimate
/// `W_est` (which grows by `3(1-beta)/(1+beta)` segments per window, and by
/// one once it passes `W_max`) is larger (§4.3). On loss the window is
/// multiplied by [`CUBIC_BETA`]; with fast convergence (§4.7) a window lost
/// below the previous `W_max` sets `W_max = cwnd (1 + beta) / 2` to yield
/// bandwidth to newer flows. The window does not grow while
/// application-limited and that time is excluded from the epoch (§5.8).
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::reliable::cc::{CongestionController, Cubic};
/// let t0 = Instant::now();
/// let mut cc = Cubic::new(1200);
/// cc.on_congestion_event(t0 + Duration::from_millis(1), t0, 1200);
/// assert_eq!(cc.window(), 8400); // 0.7 * 12000
/// assert_eq!(cc.w_max(), 10.0); // segments
/// ```
#[derive(Clone, Debug)]
pub struct Cubic {
    mtu: u64,
    /// Congestion window in bytes (fractional growth kept).
    cwnd: f64,
    ssthresh: f64,
    /// `W_max` in segments.
    w_max: f64,
    /// The Reno-friendly estimate `W_est`, in segments.
    w_est: f64,
    /// `K` in seconds.
    k: f64,
    epoch_start: Option<Instant>,
    recovery_start: Option<Instant>,
    app_limited_since: Option<Instant>,
}

impl Cubic {
    /// A controller for datagrams of `mtu` bytes, starting at
    /// [`initial_window`] in slow start.
    ///
    /// ```
    /// use strata::reliable::cc::{CongestionController, Cubic};
    /// assert_eq!(Cubic::new(1200).window(), 12000);
    /// ```
    pub fn new(mtu: u64) -> Self {
        let mtu = clamp_mtu(mtu);
        Cubic {
            mtu,
            cwnd: initial_window(mtu) as f64,
            ssthresh: f64::INFINITY,
            w_max: 0.0,
            w_est: 0.0,
            k: 0.0,
            epoch_start: None,
            recovery_start: None,
            app_limited_since: None,
        }
    }

    /// `W_max`, the window (in segments) before the last reduction.
    ///
    /// ```
    /// use strata::reliable::cc::Cubic;
    /// assert_eq!(Cubic::new(1200).w_max(), 0.0);
    /// ```
    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    /// `K`, the time (seconds) the cubic function takes to return to
    /// `W_max` from the start of the current epoch.
    ///
    /// ```
    /// use strata::reliable::cc::Cubic;
    /// assert_eq!(Cubic::new(1200).k(), 0.0);
    /// ```
    pub fn k(&self) -> f64 {
        self.k
    }

    /// `W_cubic(t)` in segments, `t` seconds into the epoch.
    fn w_cubic(&self, t: f64) -> f64 {
        CUBIC_C * (t - self.k).powi(3) + self.w_max
    }

    fn in_recovery(&self, sent_time: Instant) -> bool {
        self.recovery_start.is_some_and(|r| sent_time <= r)
    }

    fn segments(&self) -> f64 {
        self.cwnd / self.mtu as f64
    }

    fn start_epoch(&mut self, now: Instant) {
        let cwnd = self.segments();
        if self.w_max < cwnd {
            // No loss yet, or the window already passed W_max (e.g. after
            // slow start): start on the plateau.
            self.w_max = cwnd;
        }
        self.k = ((self.w_max - cwnd) / CUBIC_C).cbrt();
        self.w_est = cwnd;
        self.epoch_start = Some(now);
    }
}

impl CongestionController for Cubic {
    fn on_packet_sent(&mut self, _now: Instant, _bytes: u64, _bytes_in_flight: u64) {}

    fn on_ack(&mut self, now: Instant, acked: &AckedPacket, rtt: &RttEstimator, app_limited: bool) {
        if self.in_recovery(acked.sent_time) {
            return;
        }
        if app_limited {
            self.app_limited_since.get_or_insert(now);
            return;
        }
        if let (Some(since), Some(start)) = (self.app_limited_since.take(), self.epoch_start) {
            self.epoch_start = start
                .checked_add(now.saturating_duration_since(since))
                .or(Some(start));
        }
        if self.cwnd < self.ssthresh {
            self.cwnd += acked.bytes as f64;
            return;
        }
        let start = match self.epoch_start {
            Some(s) => s,
            None => {
                self.start_epoch(now);
                now
            }
        };
        let mss = self.mtu as f64;
        let cwnd = self.segments();
        let acked_segments = acked.bytes as f64 / mss;
        let t = now.saturating_duration_since(start).as_secs_f64();
        let rtt_s = rtt.smoothed().as_secs_f64();
        let target = self.w_cubic(t + rtt_s).clamp(cwnd, 1.5 * cwnd);
        let alpha = if self.w_est >= self.w_max {
            1.0
        } else {
            3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)
        };
        self.w_est += alpha * acked_segments / cwnd;
        let next = if self.w_cubic(t) < self.w_est {
            // Reno-friendly region.
            self.w_est.max(cwnd)
        } else {
            cwnd + (target - cwnd) / cwnd * acked_segments
        };
        self.cwnd = (next * mss).max(minimum_window(self.mtu) as f64);
    }

    fn on_congestion_event(&mut self, now: Instant, lost_sent_time: Instant, _lost_bytes: u64) {
        if self.in_recovery(lost_sent_time) {
            return;
        }
        self.recovery_start = Some(now);
        let cwnd = self.segments();
        // Fast convergence (RFC 9438 §4.7).
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + CUBIC_BETA) / 2.0
        } else {
            cwnd
        };
        let min = minimum_window(self.mtu) as f64;
        self.ssthresh = (self.cwnd * CUBIC_BETA).max(min);
        self.cwnd = self.ssthresh;
        self.epoch_start = None;
        self.app_limited_since = None;
        // The epoch starts now; the first ACK after recovery grows from it.
        self.start_epoch(now);
    }

    fn on_persistent_congestion(&mut self) {
        self.cwnd = minimum_window(self.mtu) as f64;
        self.recovery_start = None;
        self.epoch_start = None;
        self.w_max = 0.0;
    }

    fn window(&self) -> u64 {
        self.cwnd as u64
    }

    fn pacing_rate(&self, rtt: &RttEstimator) -> Option<u64> {
        window_pacing_rate(self.window(), rtt)
    }

    fn name(&self) -> &'static str {
        "cubic"
    }

    fn state(&self) -> &'static str {
        if self.cwnd < self.ssthresh {
            "slow_start"
        } else {
            "congestion_avoidance"
        }
    }
}
