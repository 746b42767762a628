//! A token-bucket pacer: spreads a window's worth of packets over the round
//! trip at the controller's pacing rate instead of sending them in bursts.

use std::time::{Duration, Instant};

use super::{bytes_in, clamp_mtu};
use crate::deadline::after;

/// The bucket holds the bytes the pacing rate earns in this long ...
pub const PACER_BURST_INTERVAL: Duration = Duration::from_millis(2);

/// ... but at least this many datagrams (and at most the congestion window).
pub const PACER_MIN_BURST_PACKETS: u64 = 2;

const NANOS: u128 = 1_000_000_000;
/// Waits are capped at one hour (only reachable with absurdly low rates).
const MAX_WAIT_NANOS: u64 = 3_600_000_000_000;

/// A token bucket filled at the pacing rate.
///
/// Credit is kept in byte-nanoseconds, so no fraction of a byte is lost
/// however often it is refilled. The bucket starts full. Without a rate
/// (`set_rate(None, ..)`) nothing is paced.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::reliable::cc::Pacer;
///
/// let t0 = Instant::now();
/// let mut p = Pacer::new(1000);
/// p.set_rate(Some(1_000_000), 100_000); // 1 MB/s: burst of 2 datagrams
/// assert_eq!(p.next_send_time(t0, 1000), None);
/// p.on_sent(t0, 1000);
/// p.on_sent(t0, 1000);
/// // The bucket is empty: the next 1000 bytes are earned in 1 ms.
/// assert_eq!(p.next_send_time(t0, 1000), Some(t0 + Duration::from_millis(1)));
/// ```
#[derive(Clone, Debug)]
pub struct Pacer {
    mtu: u64,
    rate: Option<u64>,
    capacity: u64,
    /// Credit in byte-nanoseconds (bytes x 1e9).
    credit: u128,
    last: Option<Instant>,
}

impl Pacer {
    /// An unpaced pacer for datagrams of `mtu` bytes.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::cc::Pacer;
    /// let mut p = Pacer::new(1200);
    /// assert_eq!(p.next_send_time(Instant::now(), 1200), None);
    /// ```
    pub fn new(mtu: u64) -> Self {
        let mtu = clamp_mtu(mtu);
        let capacity = PACER_MIN_BURST_PACKETS * mtu;
        Pacer {
            mtu,
            rate: None,
            capacity,
            credit: u128::from(capacity) * NANOS,
            last: None,
        }
    }

    /// The current rate in bytes per second (`None`: unpaced).
    ///
    /// ```
    /// use strata::reliable::cc::Pacer;
    /// assert_eq!(Pacer::new(1200).rate(), None);
    /// ```
    pub fn rate(&self) -> Option<u64> {
        self.rate
    }

    /// The bucket size in bytes.
    ///
    /// ```
    /// use strata::reliable::cc::Pacer;
    /// let mut p = Pacer::new(1200);
    /// p.set_rate(Some(12_500_000), 1_000_000); // 100 Mbit/s: 2 ms = 25000 bytes
    /// assert_eq!(p.capacity(), 25_000);
    /// ```
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Sets the pacing rate (bytes per second; `None` or zero: unpaced) and
    /// the congestion window, which bounds the burst size.
    ///
    /// ```
    /// use strata::reliable::cc::Pacer;
    /// let mut p = Pacer::new(1200);
    /// p.set_rate(Some(1000), 12_000);
    /// assert_eq!(p.capacity(), 2400);
    /// ```
    pub fn set_rate(&mut self, rate: Option<u64>, window: u64) {
        self.rate = rate.filter(|&r| r > 0);
        let min = PACER_MIN_BURST_PACKETS * self.mtu;
        let earned = self.rate.map_or(min, |r| bytes_in(r, PACER_BURST_INTERVAL));
        self.capacity = earned.min(window).max(min);
        self.credit = self.credit.min(u128::from(self.capacity) * NANOS);
    }

    fn refill(&mut self, now: Instant) {
        let cap = u128::from(self.capacity) * NANOS;
        if let (Some(last), Some(rate)) = (self.last, self.rate) {
            let elapsed = now.saturating_duration_since(last).as_nanos();
            self.credit = self
                .credit
                .saturating_add(elapsed.saturating_mul(u128::from(rate)))
                .min(cap);
        } else if self.rate.is_none() {
            self.credit = cap;
        }
        if self.last.is_none_or(|l| now > l) {
            self.last = Some(now);
        }
    }

    /// When `bytes` may be sent: `None` for now, else the instant the bucket
    /// will hold enough (a packet larger than the bucket waits for a full
    /// bucket).
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::cc::Pacer;
    /// let mut p = Pacer::new(1200);
    /// p.set_rate(Some(1200), 12_000);
    /// let t0 = Instant::now();
    /// p.on_sent(t0, 2400);
    /// assert!(p.next_send_time(t0, 1200).is_some());
    /// ```
    pub fn next_send_time(&mut self, now: Instant, bytes: u64) -> Option<Instant> {
        let rate = self.rate?;
        self.refill(now);
        let need = u128::from(bytes.min(self.capacity)) * NANOS;
        if self.credit >= need {
            return None;
        }
        let missing = need - self.credit;
        let wait = missing.div_ceil(u128::from(rate));
        let wait = u64::try_from(wait).unwrap_or(u64::MAX).min(MAX_WAIT_NANOS);
        Some(after(now, Duration::from_nanos(wait)))
    }

    /// `bytes` were sent at `now`.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::cc::Pacer;
    /// let mut p = Pacer::new(1200);
    /// p.on_sent(Instant::now(), 1200); // unpaced: no effect
    /// ```
    pub fn on_sent(&mut self, now: Instant, bytes: u64) {
        self.refill(now);
        self.credit = self.credit.saturating_sub(u128::from(bytes) * NANOS);
    }
}
