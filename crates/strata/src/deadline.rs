//! Deadline arithmetic that cannot overflow: the one helper every layer uses.
//!
//! A timeout comes from configuration (an endpoint option, a config field),
//! so it can be anything a `Duration` holds, `u64::MAX` seconds included.
//! `Instant + Duration` panics when the sum does not fit; a listener that
//! computed `now + idle_timeout` that way was taken down by one client. Every
//! layer computes its deadlines with [`after`] instead.

use std::time::{Duration, Instant};

/// The longest timeout honoured as given. Longer ones are treated as this
/// long: a connection's timer that far out is, in practice, "never", and any
/// `Instant` of the platform can hold `now` plus this much.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `now + d`, saturating: a `d` beyond [`MAX_TIMEOUT`] counts as
/// `MAX_TIMEOUT`, and a sum the platform's `Instant` cannot hold is pushed
/// back until it can. The result is never earlier than `now`, and is later
/// than `now` whenever `d` is not zero, so a long timeout never fires at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::deadline::after;
/// let now = Instant::now();
/// assert_eq!(after(now, Duration::from_secs(3)), now + Duration::from_secs(3));
/// // A value from an endpoint option such as `reliable.idle=18446744073709551615`:
/// let far = after(now, Duration::from_secs(u64::MAX));
/// assert!(far > now + Duration::from_secs(365 * 24 * 3600));
/// ```
pub fn after(now: Instant, d: Duration) -> Instant {
    let mut d = d.min(MAX_TIMEOUT);
    loop {
        if let Some(t) = now.checked_add(d) {
            return t;
        }
        // Only on a platform whose Instant is close to its own end: halve
        // until it fits. Ends at a zero duration, which always fits.
        d /= 2;
    }
}

/// [`after`] for an optional start: `None` stays `None`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::deadline::after_opt;
/// let now = Instant::now();
/// assert_eq!(after_opt(None, Duration::from_secs(1)), None);
/// assert_eq!(after_opt(Some(now), Duration::ZERO), Some(now));
/// ```
pub fn after_opt(start: Option<Instant>, d: Duration) -> Option<Instant> {
    start.map(|s| after(s, d))
}

/// True when `start + d` has passed at `now` (saturating, as [`after`]).
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::deadline::expired;
/// let t0 = Instant::now();
/// assert!(!expired(Some(t0), Duration::from_secs(5), t0));
/// assert!(expired(Some(t0), Duration::from_secs(5), t0 + Duration::from_secs(5)));
/// assert!(!expired(Some(t0), Duration::MAX, t0 + Duration::from_secs(1_000_000)));
/// assert!(!expired(None, Duration::ZERO, t0));
/// ```
pub fn expired(start: Option<Instant>, d: Duration, now: Instant) -> bool {
    start.is_some_and(|s| after(s, d) <= now)
}

/// The earlier of two optional deadlines.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::deadline::earliest;
/// let t0 = Instant::now();
/// let t1 = t0 + Duration::from_secs(1);
/// assert_eq!(earliest(Some(t1), Some(t0)), Some(t0));
/// assert_eq!(earliest(None, Some(t1)), Some(t1));
/// assert_eq!(earliest(None, None), None);
/// ```
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_panics_and_never_fires_early() {
        let now = Instant::now();
        for secs in [0, 1, u32::MAX as u64, u64::MAX / 2, u64::MAX] {
            for nanos in [0, 999_999_999] {
                let d = Duration::new(secs, nanos);
                let t = after(now, d);
                assert!(t >= now);
                if !d.is_zero() {
                    assert!(t > now);
                }
            }
        }
        assert_eq!(after(now, Duration::MAX), after(now, MAX_TIMEOUT));
    }
}
