//! RTT estimation, congestion control and pacing for the reliable mapping.
//!
//! Everything here is sans-IO: time is an [`Instant`] passed in by the
//! caller, nothing reads a clock or owns a timer.
//!
//! # Driving contract
//!
//! The connection (next session) owns one [`RttEstimator`], one
//! [`DeliveryRateSampler`], one boxed [`CongestionController`] (built by
//! [`new_controller`]) and one [`Pacer`], and calls them in this order:
//!
//! 1. **Sending a packet** that counts toward bytes in flight: ask
//!    [`Pacer::next_send_time`] (send only when it returns `None`) and check
//!    `bytes_in_flight + size <= controller.window()`; then call
//!    [`DeliveryRateSampler::on_packet_sent`] (store the returned
//!    [`SentPacketInfo`] with the packet: it is the only per-packet state),
//!    [`CongestionController::on_packet_sent`] and [`Pacer::on_sent`].
//! 2. **Processing an ACK**: update the RTT first
//!    ([`RttEstimator::update`], from the largest newly acknowledged packet),
//!    then for each newly acknowledged packet call
//!    [`DeliveryRateSampler::on_packet_acked`] and pass its [`AckedPacket`]
//!    to [`CongestionController::on_ack`].
//! 3. **Losses** found by loss detection: one call to
//!    [`CongestionController::on_congestion_event`] per ACK (or timeout) with
//!    the send time of the newest lost packet and the bytes lost;
//!    [`CongestionController::on_persistent_congestion`] when RFC 9002 §7.6
//!    declares persistent congestion.
//! 4. After 2 and 3, refresh the pacer with
//!    [`Pacer::set_rate`]`(controller.pacing_rate(&rtt), controller.window())`.
//!
//! Time passed in must never go backwards; a smaller `now` is treated as
//! equal to the last one seen.
//!
//! # Sizes
//!
//! All windows and rates are in bytes (rates in bytes per second). The
//! default datagram size is [`DEFAULT_MTU`] (1200 bytes, the size every IPv4
//! and IPv6 path is assumed to carry, as in QUIC); the initial window is
//! [`initial_window`] (RFC 9002 §7.2: ten datagrams, capped at 14720 bytes)
//! and no controller goes below [`minimum_window`] (two datagrams).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use strata::reliable::cc::{new_controller, CcAlgorithm, DeliveryRateSampler, RttEstimator, DEFAULT_MTU};
//!
//! let t0 = Instant::now();
//! let mut cc = new_controller(CcAlgorithm::default(), DEFAULT_MTU);
//! let mut rtt = RttEstimator::default();
//! let mut rate = DeliveryRateSampler::new();
//! let info = rate.on_packet_sent(t0, DEFAULT_MTU, 0);
//! cc.on_packet_sent(t0, DEFAULT_MTU, 0);
//! let t1 = t0 + Duration::from_millis(50);
//! rtt.update(Duration::from_millis(50), Duration::ZERO);
//! let acked = rate.on_packet_acked(t1, &info, rtt.min_rtt());
//! cc.on_ack(t1, &acked, &rtt, false);
//! assert!(cc.window() >= 2 * DEFAULT_MTU);
//! ```

use std::fmt::Debug;
use std::time::{Duration, Instant};

mod bbr;
mod cubic;
mod newreno;
mod pacer;
mod rate;
mod rtt;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

pub use bbr::{Bbr, BbrMode, BBR_LOSS_THRESHOLD};
pub use cubic::{Cubic, CUBIC_BETA, CUBIC_C};
pub use newreno::NewReno;
pub use pacer::Pacer;
pub use rate::{AckedPacket, DeliveryRateSampler, RateSample, SentPacketInfo};
pub use rtt::{RttEstimator, DEFAULT_INITIAL_RTT, DEFAULT_MAX_ACK_DELAY, TIMER_GRANULARITY};

/// The default datagram payload size in bytes (the QUIC minimum, carried by
/// every IPv4 and IPv6 path).
pub const DEFAULT_MTU: u64 = 1200;

/// The smallest datagram size a controller accepts; smaller values passed to
/// [`new_controller`] are raised to it so windows never collapse to zero.
pub const MIN_MTU: u64 = 64;

/// The largest datagram size a controller accepts (the largest UDP
/// payload); larger values are lowered to it so window arithmetic cannot
/// overflow.
pub const MAX_MTU: u64 = 65_535;

/// `mtu` clamped to `MIN_MTU..=MAX_MTU`.
pub(crate) fn clamp_mtu(mtu: u64) -> u64 {
    mtu.clamp(MIN_MTU, MAX_MTU)
}

/// Initial window in datagrams (RFC 9002 §7.2).
pub const INITIAL_WINDOW_PACKETS: u64 = 10;

/// Minimum congestion window in datagrams (RFC 9002 §7.2).
pub const MINIMUM_WINDOW_PACKETS: u64 = 2;

/// The initial congestion window for a datagram size, in bytes: ten
/// datagrams, limited to `max(14720, 2 * mtu)` (RFC 9002 §7.2).
///
/// ```
/// use strata::reliable::cc::initial_window;
/// assert_eq!(initial_window(1200), 12000);
/// assert_eq!(initial_window(1500), 14720);
/// ```
pub fn initial_window(mtu: u64) -> u64 {
    let mtu = clamp_mtu(mtu);
    (INITIAL_WINDOW_PACKETS * mtu).min(14720.max(2 * mtu))
}

/// The minimum congestion window for a datagram size, in bytes (two
/// datagrams, RFC 9002 §7.2).
///
/// ```
/// use strata::reliable::cc::minimum_window;
/// assert_eq!(minimum_window(1200), 2400);
/// ```
pub fn minimum_window(mtu: u64) -> u64 {
    MINIMUM_WINDOW_PACKETS * clamp_mtu(mtu)
}

/// A congestion controller, called by the connection as described in the
/// [module documentation](self). Object safe: the connection holds a
/// `Box<dyn CongestionController>`.
///
/// ```
/// use strata::reliable::cc::{new_controller, CcAlgorithm, CongestionController};
/// let cc: Box<dyn CongestionController> = new_controller(CcAlgorithm::NewReno, 1200);
/// assert_eq!(cc.window(), 12000);
/// assert_eq!(cc.name(), "newreno");
/// ```
pub trait CongestionController: Send + Debug {
    /// A packet of `bytes` that counts toward bytes in flight was sent;
    /// `bytes_in_flight` is the amount in flight *before* it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::reliable::cc::{new_controller, CcAlgorithm, DeliveryRateSampler, RttEstimator};
    /// let (t0, mut rate, mut rtt) = (Instant::now(), DeliveryRateSampler::new(), RttEstimator::default());
    /// let mut cc = new_controller(CcAlgorithm::NewReno, 1200);
    /// // Sent: recorded with the rate sampler and the controller, before the packet leaves.
    /// let info = rate.on_packet_sent(t0, 1200, 0);
    /// cc.on_packet_sent(t0, 1200, 0);
    /// let t1 = t0 + Duration::from_millis(40);
    /// rtt.update(Duration::from_millis(40), Duration::ZERO);
    /// cc.on_ack(t1, &rate.on_packet_acked(t1, &info, rtt.min_rtt()), &rtt, false);
    /// assert_eq!(cc.window(), 12_000 + 1200); // slow start: grows by what was acknowledged
    /// ```
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64);

    /// A packet was newly acknowledged. `rtt` has already been updated for
    /// this ACK. `app_limited` is true when the sender did not fill the
    /// window since this packet was sent (the window then does not grow,
    /// RFC 9002 §7.8).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::reliable::cc::{new_controller, CcAlgorithm, DeliveryRateSampler, RttEstimator};
    /// let (t0, mut rate, mut rtt) = (Instant::now(), DeliveryRateSampler::new(), RttEstimator::default());
    /// let mut cc = new_controller(CcAlgorithm::NewReno, 1200);
    /// let (a, b) = (rate.on_packet_sent(t0, 1200, 0), rate.on_packet_sent(t0, 1200, 1200));
    /// let t1 = t0 + Duration::from_millis(40);
    /// rtt.update(Duration::from_millis(40), Duration::ZERO);
    /// // An application-limited sender did not fill the window: no growth.
    /// cc.on_ack(t1, &rate.on_packet_acked(t1, &a, rtt.min_rtt()), &rtt, true);
    /// assert_eq!(cc.window(), 12_000);
    /// cc.on_ack(t1, &rate.on_packet_acked(t1, &b, rtt.min_rtt()), &rtt, false);
    /// assert_eq!(cc.window(), 13_200);
    /// ```
    fn on_ack(&mut self, now: Instant, acked: &AckedPacket, rtt: &RttEstimator, app_limited: bool);

    /// Loss detection declared packets lost: `lost_bytes` in total, the
    /// newest of them sent at `lost_sent_time`. Call once per ACK or timeout
    /// that found losses; controllers reduce at most once per recovery
    /// period.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::reliable::cc::{new_controller, CcAlgorithm};
    /// let t0 = Instant::now();
    /// let mut cc = new_controller(CcAlgorithm::NewReno, 1200);
    /// let t1 = t0 + Duration::from_millis(100);
    /// cc.on_congestion_event(t1, t0, 1200);
    /// assert_eq!(cc.window(), 6000); // halved
    /// cc.on_congestion_event(t1, t0, 1200); // a loss sent before recovery began
    /// assert_eq!(cc.window(), 6000); // at most once per recovery period
    /// ```
    fn on_congestion_event(&mut self, now: Instant, lost_sent_time: Instant, lost_bytes: u64);

    /// Persistent congestion was declared (RFC 9002 §7.6): collapse to the
    /// minimum window.
    ///
    /// ```
    /// use strata::reliable::cc::{minimum_window, new_controller, CcAlgorithm};
    /// for alg in [CcAlgorithm::NewReno, CcAlgorithm::Cubic] {
    ///     let mut cc = new_controller(alg, 1200);
    ///     cc.on_persistent_congestion();
    ///     assert_eq!(cc.window(), minimum_window(1200));
    /// }
    /// ```
    fn on_persistent_congestion(&mut self);

    /// The congestion window in bytes.
    ///
    /// ```
    /// use strata::reliable::cc::{initial_window, new_controller, CcAlgorithm};
    /// let cc = new_controller(CcAlgorithm::Cubic, 1500);
    /// assert_eq!(cc.window(), initial_window(1500));
    /// ```
    fn window(&self) -> u64;

    /// The pacing rate in bytes per second, or `None` for no pacing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::reliable::cc::{new_controller, CcAlgorithm, RttEstimator};
    /// let cc = new_controller(CcAlgorithm::NewReno, 1200);
    /// let mut rtt = RttEstimator::default();
    /// rtt.update(Duration::from_millis(100), Duration::ZERO);
    /// // 1.25 windows per smoothed RTT: 1.25 × 12000 bytes / 0.1 s.
    /// assert_eq!(cc.pacing_rate(&rtt), Some(150_000));
    /// ```
    fn pacing_rate(&self, rtt: &RttEstimator) -> Option<u64>;

    /// A short lowercase name for logs ("newreno", "cubic", "bbr").
    ///
    /// ```
    /// use strata::reliable::cc::{new_controller, CcAlgorithm};
    /// let names: Vec<_> = [CcAlgorithm::NewReno, CcAlgorithm::Cubic, CcAlgorithm::Bbr]
    ///     .into_iter()
    ///     .map(|alg| new_controller(alg, 1200).name())
    ///     .collect();
    /// assert_eq!(names, ["newreno", "cubic", "bbr"]);
    /// ```
    fn name(&self) -> &'static str;

    /// The controller's state as qlog's `recovery:congestion_state_updated`
    /// names it: `slow_start` or `congestion_avoidance` for the
    /// loss-based ones, BBR's mode (`startup`, `drain`, `probe_bw`,
    /// `probe_rtt`); `unknown` by default.
    fn state(&self) -> &'static str {
        "unknown"
    }
}

/// The congestion control algorithms on offer.
///
/// ```
/// use strata::reliable::cc::CcAlgorithm;
/// assert_eq!(CcAlgorithm::default(), CcAlgorithm::Bbr);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CcAlgorithm {
    /// NewReno as in RFC 9002 §7 / RFC 6582.
    NewReno,
    /// CUBIC, RFC 9438.
    Cubic,
    /// The BBR-style model-based controller (the default): it does not read
    /// isolated random loss as congestion.
    #[default]
    Bbr,
}

/// Builds a controller for `alg` and datagram size `mtu` (bytes; raised to
/// [`MIN_MTU`] if smaller, lowered to [`MAX_MTU`] if larger).
///
/// ```
/// use strata::reliable::cc::{new_controller, CcAlgorithm};
/// let cc = new_controller(CcAlgorithm::Cubic, 1200);
/// assert_eq!(cc.name(), "cubic");
/// ```
pub fn new_controller(alg: CcAlgorithm, mtu: u64) -> Box<dyn CongestionController> {
    match alg {
        CcAlgorithm::NewReno => Box::new(NewReno::new(mtu)),
        CcAlgorithm::Cubic => Box::new(Cubic::new(mtu)),
        CcAlgorithm::Bbr => Box::new(Bbr::new(mtu)),
    }
}

/// `bytes` transferred over `interval`, in bytes per second (saturating;
/// `None` for a zero interval).
pub(crate) fn bytes_per_sec(bytes: u64, interval: Duration) -> Option<u64> {
    let nanos = interval.as_nanos();
    if nanos == 0 {
        return None;
    }
    let rate = u128::from(bytes).saturating_mul(1_000_000_000) / nanos;
    Some(u64::try_from(rate).unwrap_or(u64::MAX))
}

/// `rate` (bytes per second) times `d`, in bytes (saturating).
pub(crate) fn bytes_in(rate: u64, d: Duration) -> u64 {
    let b = u128::from(rate).saturating_mul(d.as_nanos()) / 1_000_000_000;
    u64::try_from(b).unwrap_or(u64::MAX)
}
