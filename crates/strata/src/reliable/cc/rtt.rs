//! Round-trip time estimation (RFC 6298, with RFC 9002 §5's ack-delay and
//! min-RTT rules).

use std::time::Duration;

/// The RTT assumed before any sample: 333 ms (RFC 9002 §6.2.2).
pub const DEFAULT_INITIAL_RTT: Duration = Duration::from_millis(333);

/// The largest ACK delay the peer is assumed to add by default: 25 ms
/// (RFC 9000 §18.2's `max_ack_delay` default).
pub const DEFAULT_MAX_ACK_DELAY: Duration = Duration::from_millis(25);

/// The timer granularity: 1 ms (RFC 9002 §6.1.2 `kGranularity`). The RTT
/// variance term of the probe timeout never goes below it.
pub const TIMER_GRANULARITY: Duration = Duration::from_millis(1);

/// The RTT estimator of one path.
///
/// Before the first sample, `smoothed` is the configured initial RTT and
/// `rttvar` half of it. On each sample (RFC 9002 §5.3):
/// - `min_rtt` is the smallest sample seen (ACK delay not subtracted);
/// - the peer's reported ACK delay, capped at `max_ack_delay`, is
///   subtracted from the sample unless that would bring it below `min_rtt`;
/// - the first sample sets `smoothed = sample`, `rttvar = sample / 2`; later
///   ones `rttvar = 3/4 rttvar + 1/4 |smoothed - sample|`,
///   `smoothed = 7/8 smoothed + 1/8 sample` (RFC 6298 §2).
///
/// ```
/// use std::time::Duration;
/// use strata::reliable::cc::RttEstimator;
///
/// let mut rtt = RttEstimator::new(Duration::from_millis(100));
/// assert_eq!(rtt.smoothed(), Duration::from_millis(100));
/// rtt.update(Duration::from_millis(40), Duration::ZERO);
/// assert_eq!(rtt.smoothed(), Duration::from_millis(40));
/// assert_eq!(rtt.rttvar(), Duration::from_millis(20));
/// assert_eq!(rtt.min_rtt(), Some(Duration::from_millis(40)));
/// // PTO base = smoothed + max(4 * rttvar, 1 ms)
/// assert_eq!(rtt.pto_base(), Duration::from_millis(120));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    initial: Duration,
    max_ack_delay: Duration,
    latest: Option<Duration>,
    smoothed: Option<Duration>,
    rttvar: Duration,
    min: Option<Duration>,
}

impl Default for RttEstimator {
    /// An estimator with [`DEFAULT_INITIAL_RTT`] and [`DEFAULT_MAX_ACK_DELAY`].
    fn default() -> Self {
        Self::new(DEFAULT_INITIAL_RTT)
    }
}

impl RttEstimator {
    /// An estimator that assumes `initial_rtt` until the first sample.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// let rtt = RttEstimator::new(Duration::from_millis(50));
    /// assert_eq!(rtt.latest(), None);
    /// assert_eq!(rtt.rttvar(), Duration::from_millis(25));
    /// ```
    pub fn new(initial_rtt: Duration) -> Self {
        RttEstimator {
            initial: initial_rtt,
            max_ack_delay: DEFAULT_MAX_ACK_DELAY,
            latest: None,
            smoothed: None,
            rttvar: initial_rtt / 2,
            min: None,
        }
    }

    /// Sets the cap applied to the peer's reported ACK delay (its
    /// `max_ack_delay`). Use `Duration::ZERO` before the handshake is
    /// confirmed so that no delay is subtracted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// let mut rtt = RttEstimator::default();
    /// rtt.set_max_ack_delay(Duration::from_millis(5));
    /// assert_eq!(rtt.max_ack_delay(), Duration::from_millis(5));
    /// ```
    pub fn set_max_ack_delay(&mut self, max_ack_delay: Duration) {
        self.max_ack_delay = max_ack_delay;
    }

    /// The cap applied to reported ACK delays.
    ///
    /// ```
    /// use strata::reliable::cc::{RttEstimator, DEFAULT_MAX_ACK_DELAY};
    /// assert_eq!(RttEstimator::default().max_ack_delay(), DEFAULT_MAX_ACK_DELAY);
    /// ```
    pub fn max_ack_delay(&self) -> Duration {
        self.max_ack_delay
    }

    /// Feeds one RTT sample: `latest` is the time from sending the largest
    /// newly acknowledged packet to receiving its ACK, `ack_delay` the delay
    /// the peer reports having added (capped at [`Self::max_ack_delay`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// let ms = Duration::from_millis;
    /// let mut rtt = RttEstimator::default();
    /// rtt.update(ms(100), ms(0));
    /// rtt.update(ms(120), ms(10)); // adjusted sample: 110 ms
    /// assert_eq!(rtt.smoothed(), ms(100) * 7 / 8 + ms(110) / 8);
    /// assert_eq!(rtt.min_rtt(), Some(ms(100)));
    /// ```
    pub fn update(&mut self, latest: Duration, ack_delay: Duration) {
        self.latest = Some(latest);
        let min = match self.min {
            Some(m) if m <= latest => m,
            _ => latest,
        };
        self.min = Some(min);
        let ack_delay = ack_delay.min(self.max_ack_delay);
        let adjusted = match latest.checked_sub(ack_delay) {
            Some(a) if a >= min => a,
            _ => latest,
        };
        match self.smoothed {
            None => {
                self.smoothed = Some(adjusted);
                self.rttvar = adjusted / 2;
            }
            Some(s) => {
                let diff = s.abs_diff(adjusted);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.smoothed = Some((s * 7 + adjusted) / 8);
            }
        }
    }

    /// The most recent sample, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// let mut rtt = RttEstimator::default();
    /// rtt.update(Duration::from_millis(7), Duration::ZERO);
    /// assert_eq!(rtt.latest(), Some(Duration::from_millis(7)));
    /// ```
    pub fn latest(&self) -> Option<Duration> {
        self.latest
    }

    /// The smoothed RTT (the initial RTT before any sample).
    ///
    /// ```
    /// use strata::reliable::cc::{RttEstimator, DEFAULT_INITIAL_RTT};
    /// assert_eq!(RttEstimator::default().smoothed(), DEFAULT_INITIAL_RTT);
    /// ```
    pub fn smoothed(&self) -> Duration {
        self.smoothed.unwrap_or(self.initial)
    }

    /// Whether at least one sample has been taken.
    ///
    /// ```
    /// use strata::reliable::cc::RttEstimator;
    /// assert!(!RttEstimator::default().has_sample());
    /// ```
    pub fn has_sample(&self) -> bool {
        self.smoothed.is_some()
    }

    /// The RTT variation (half the initial RTT before any sample).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// assert_eq!(RttEstimator::new(Duration::from_millis(10)).rttvar(), Duration::from_millis(5));
    /// ```
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The smallest sample seen, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// let mut rtt = RttEstimator::default();
    /// rtt.update(Duration::from_millis(30), Duration::ZERO);
    /// rtt.update(Duration::from_millis(50), Duration::ZERO);
    /// assert_eq!(rtt.min_rtt(), Some(Duration::from_millis(30)));
    /// ```
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min
    }

    /// The probe-timeout base without the ACK delay term:
    /// `smoothed + max(4 * rttvar, 1 ms)` (RFC 9002 §6.2.1). The connection
    /// adds `max_ack_delay` and applies its exponential backoff.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// let rtt = RttEstimator::new(Duration::from_millis(100));
    /// assert_eq!(rtt.pto_base(), Duration::from_millis(300));
    /// ```
    pub fn pto_base(&self) -> Duration {
        self.smoothed()
            .saturating_add((self.rttvar.saturating_mul(4)).max(TIMER_GRANULARITY))
    }

    /// The loss-detection time threshold: `9/8 * max(smoothed, latest)`,
    /// at least the timer granularity (RFC 9002 §6.1.2).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::RttEstimator;
    /// let mut rtt = RttEstimator::default();
    /// rtt.update(Duration::from_millis(80), Duration::ZERO);
    /// assert_eq!(rtt.loss_delay(), Duration::from_millis(90));
    /// ```
    pub fn loss_delay(&self) -> Duration {
        let base = self.smoothed().max(self.latest.unwrap_or(Duration::ZERO));
        (base.saturating_mul(9) / 8).max(TIMER_GRANULARITY)
    }
}
