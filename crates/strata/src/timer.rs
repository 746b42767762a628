//! Named timers: one table per state machine, one place for its next deadline.
//!
//! A layer has a handful of timers of its own (an HTTP/2 connection: the
//! preface, the SETTINGS acknowledgement, idle, drain, ...). Each one is a
//! variant of an enum that implements [`TimerName`], and their deadlines live
//! in a [`TimerTable`]: a fixed array indexed by that enum, so arming,
//! stopping and reading a timer never allocates, and the layer's
//! `next_deadline` is [`TimerTable::next_deadline`] (the minimum of the table,
//! plus whatever its inner protocols ask). Arming from a configured timeout
//! goes through [`TimerTable::set_after`], which saturates like
//! [`deadline::after`](crate::deadline::after): no `Instant + Duration` can
//! overflow.
//!
//! A multiplexer's *per-child* deadlines (one per HTTP/2 stream, say) do not
//! fit a fixed table: they live in a [`DeadlineQueue`], an ordered index
//! keyed by the child's id, touched only when a child's deadline changes, so
//! the next deadline is its first entry rather than a scan over every child.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::deadline::after;

/// The timers of one state machine: an enum whose variants index a
/// [`TimerTable`].
///
/// `ALL` lists every variant in index order (`ALL[t.index()] == t`).
///
/// ```
/// use strata::timer::TimerName;
/// #[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// enum T { Idle, Drain }
/// impl TimerName for T {
///     const ALL: &'static [T] = &[T::Idle, T::Drain];
///     fn index(self) -> usize { self as usize }
/// }
/// assert_eq!(T::ALL[T::Drain.index()], T::Drain);
/// ```
pub trait TimerName: Copy + Eq + 'static {
    /// Every timer, in index order.
    const ALL: &'static [Self];
    /// This timer's slot in the table (below `ALL.len()`).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// assert_eq!(T::Idle.index(), 0);
    /// assert_eq!(T::Drain.index(), 1);
    /// ```
    fn index(self) -> usize;
}

/// One deadline per named timer, in a fixed array (no allocation).
///
/// `N` is the number of timers (`T::ALL.len()`, checked when the table is
/// built). Deadlines are absolute; a timer is *due* at `now` when its
/// deadline is at or before `now`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::timer::{TimerName, TimerTable};
/// #[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// enum T { Idle, Drain }
/// impl TimerName for T {
///     const ALL: &'static [T] = &[T::Idle, T::Drain];
///     fn index(self) -> usize { self as usize }
/// }
/// let now = Instant::now();
/// let mut timers = TimerTable::<T, 2>::new();
/// timers.set_after(T::Idle, now, Duration::from_secs(30));
/// timers.set_after(T::Drain, now, Duration::from_secs(5));
/// assert_eq!(timers.next(), Some((T::Drain, now + Duration::from_secs(5))));
/// // A timeout from configuration cannot overflow:
/// timers.set_after(T::Idle, now, Duration::MAX);
/// assert!(!timers.is_due(T::Idle, now + Duration::from_secs(1 << 30)));
/// // Firing takes the timer out of the table.
/// let later = now + Duration::from_secs(5);
/// assert_eq!(timers.pop_due(later), Some(T::Drain));
/// assert_eq!(timers.pop_due(later), None);
/// assert_eq!(timers.get(T::Drain), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerTable<T: TimerName, const N: usize> {
    at: [Option<Instant>; N],
    _names: PhantomData<T>,
}

impl<T: TimerName, const N: usize> Default for TimerTable<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: TimerName, const N: usize> TimerTable<T, N> {
    /// A table with every timer stopped.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let timers = TimerTable::<T, 2>::new();
    /// assert_eq!(timers.next_deadline(), None);
    /// ```
    pub fn new() -> Self {
        const { assert!(T::ALL.len() == N, "TimerTable: N must be T::ALL.len()") };
        TimerTable {
            at: [None; N],
            _names: PhantomData,
        }
    }

    /// Arms `t` for `at` (replacing its previous deadline).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now + 30 * s);
    /// timers.set(T::Idle, now + 10 * s); // replaces
    /// assert_eq!(timers.get(T::Idle), Some(now + 10 * s));
    /// ```
    pub fn set(&mut self, t: T, at: Instant) {
        self.at[t.index()] = Some(at);
    }

    /// Arms `t` for `now + d`, saturating (see [`crate::deadline::after`]).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set_after(T::Drain, now, 5 * s);
    /// assert_eq!(timers.get(T::Drain), Some(now + 5 * s));
    /// timers.set_after(T::Idle, now, Duration::MAX); // saturates, no panic
    /// assert!(timers.is_armed(T::Idle));
    /// ```
    pub fn set_after(&mut self, t: T, now: Instant, d: Duration) {
        self.set(t, after(now, d));
    }

    /// Arms `t` for `at`, or stops it for `None`.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set_opt(T::Idle, Some(now));
    /// assert!(timers.is_armed(T::Idle));
    /// timers.set_opt(T::Idle, None);
    /// assert!(!timers.is_armed(T::Idle));
    /// ```
    pub fn set_opt(&mut self, t: T, at: Option<Instant>) {
        self.at[t.index()] = at;
    }

    /// Stops `t`.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now);
    /// timers.stop(T::Idle);
    /// assert_eq!(timers.get(T::Idle), None);
    /// ```
    pub fn stop(&mut self, t: T) {
        self.at[t.index()] = None;
    }

    /// Stops every timer.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now);
    /// timers.set(T::Drain, now);
    /// timers.stop_all();
    /// assert_eq!(timers.next(), None);
    /// ```
    pub fn stop_all(&mut self) {
        self.at = [None; N];
    }

    /// `t`'s deadline, if armed.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// assert_eq!(timers.get(T::Drain), None);
    /// timers.set(T::Drain, now + s);
    /// assert_eq!(timers.get(T::Drain), Some(now + s));
    /// ```
    pub fn get(&self, t: T) -> Option<Instant> {
        self.at[t.index()]
    }

    /// Whether `t` is armed.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now + s);
    /// assert!(timers.is_armed(T::Idle));
    /// assert!(!timers.is_armed(T::Drain));
    /// ```
    pub fn is_armed(&self, t: T) -> bool {
        self.at[t.index()].is_some()
    }

    /// Whether `t` is armed and its deadline has come at `now`.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now + s);
    /// assert!(!timers.is_due(T::Idle, now));
    /// assert!(timers.is_due(T::Idle, now + s)); // at the deadline counts
    /// ```
    pub fn is_due(&self, t: T, now: Instant) -> bool {
        self.at[t.index()].is_some_and(|at| at <= now)
    }

    /// If `t` is due at `now`, stops it and returns true (the timer fired).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Drain, now);
    /// assert!(timers.take_due(T::Drain, now));
    /// assert!(!timers.take_due(T::Drain, now)); // it fired once
    /// ```
    pub fn take_due(&mut self, t: T, now: Instant) -> bool {
        let due = self.is_due(t, now);
        if due {
            self.stop(t);
        }
        due
    }

    /// The earliest armed timer and its deadline (the lowest index first
    /// among equal deadlines).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now + s);
    /// timers.set(T::Drain, now + s);
    /// assert_eq!(timers.next(), Some((T::Idle, now + s))); // lowest index on a tie
    /// ```
    pub fn next(&self) -> Option<(T, Instant)> {
        let mut best: Option<(T, Instant)> = None;
        for (i, at) in self.at.iter().enumerate() {
            if let Some(at) = *at
                && best.is_none_or(|(_, b)| at < b)
            {
                best = Some((T::ALL[i], at));
            }
        }
        best
    }

    /// The earliest deadline of the table: the state machine's own
    /// `next_deadline`.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now + 9 * s);
    /// timers.set(T::Drain, now + 2 * s);
    /// assert_eq!(timers.next_deadline(), Some(now + 2 * s));
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// The earliest timer due at `now`, stopped (it fired); `None` when no
    /// timer is due. Call it in a loop to fire every due timer in deadline
    /// order.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::{TimerName, TimerTable};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # enum T { Idle, Drain }
    /// # impl TimerName for T {
    /// #     const ALL: &'static [T] = &[T::Idle, T::Drain];
    /// #     fn index(self) -> usize { self as usize }
    /// # }
    /// # let now = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut timers = TimerTable::<T, 2>::new();
    /// timers.set(T::Idle, now + 2 * s);
    /// timers.set(T::Drain, now + s);
    /// let mut fired = Vec::new();
    /// while let Some(t) = timers.pop_due(now + 3 * s) { fired.push(t) }
    /// assert_eq!(fired, [T::Drain, T::Idle]); // in deadline order
    /// ```
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let (t, at) = self.next()?;
        if at > now {
            return None;
        }
        self.stop(t);
        Some(t)
    }
}

/// Per-child deadlines of a multiplexer, ordered by time: the first entry is
/// the next deadline, and only the children whose deadline has come are
/// visited when it fires.
///
/// Each child keeps its current deadline in a slot of its own
/// (`Option<Instant>`), passed to [`DeadlineQueue::set`], so an update costs
/// nothing when the deadline did not change and one removal plus one
/// insertion when it did. A child that goes away must be [`remove`](Self::remove)d
/// with its slot; its deadline then never fires.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::timer::DeadlineQueue;
/// let t0 = Instant::now();
/// let s = Duration::from_secs(1);
/// let mut q = DeadlineQueue::new();
/// let (mut a, mut b, mut c) = (None, None, None);
/// q.set(&mut a, 1u32, Some(t0 + 3 * s));
/// q.set(&mut b, 3u32, Some(t0 + s));
/// q.set(&mut c, 5u32, Some(t0 + 2 * s));
/// q.remove(&mut c, 5); // stream 5 closed: its timer never fires
/// assert_eq!(q.next_deadline(), Some(t0 + s));
/// assert_eq!(q.pop_due(t0), None);
/// assert_eq!(q.pop_due(t0 + 5 * s), Some(3));
/// b = None; // the caller clears the slot of what fired
/// assert_eq!(q.pop_due(t0 + 5 * s), Some(1));
/// a = None;
/// assert_eq!(q.pop_due(t0 + 5 * s), None);
/// assert!(q.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct DeadlineQueue<K> {
    set: BTreeSet<(Instant, K)>,
}

impl<K: Ord + Copy> Default for DeadlineQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Copy> DeadlineQueue<K> {
    /// An empty queue.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let q = DeadlineQueue::<u32>::new();
    /// assert!(q.is_empty());
    /// assert_eq!(q.next_deadline(), None);
    /// ```
    pub fn new() -> Self {
        DeadlineQueue {
            set: BTreeSet::new(),
        }
    }

    /// Sets `key`'s deadline to `at` (`None`: no deadline). `slot` is where
    /// the child keeps its current one; it is updated here. No work when the
    /// deadline did not change.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut q = DeadlineQueue::new();
    /// let mut slot = None;
    /// q.set(&mut slot, 7u32, Some(t0 + s));
    /// assert_eq!(slot, Some(t0 + s));
    /// q.set(&mut slot, 7, Some(t0 + 2 * s)); // moves the child's entry
    /// assert_eq!((q.len(), q.next_deadline()), (1, Some(t0 + 2 * s)));
    /// ```
    pub fn set(&mut self, slot: &mut Option<Instant>, key: K, at: Option<Instant>) {
        if *slot == at {
            return;
        }
        if let Some(old) = slot.take() {
            self.set.remove(&(old, key));
        }
        if let Some(at) = at {
            self.set.insert((at, key));
        }
        *slot = at;
    }

    /// Forgets `key`'s deadline (the child went away).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut q = DeadlineQueue::new();
    /// let mut slot = None;
    /// q.set(&mut slot, 1u32, Some(t0));
    /// q.remove(&mut slot, 1);
    /// assert_eq!((slot, q.len()), (None, 0));
    /// ```
    pub fn remove(&mut self, slot: &mut Option<Instant>, key: K) {
        self.set(slot, key, None);
    }

    /// The earliest deadline of every child.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut q = DeadlineQueue::new();
    /// let (mut a, mut b) = (None, None);
    /// q.set(&mut a, 1u32, Some(t0 + 3 * s));
    /// q.set(&mut b, 2u32, Some(t0 + s));
    /// assert_eq!(q.next_deadline(), Some(t0 + s));
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        self.set.first().map(|&(at, _)| at)
    }

    /// The child whose deadline came first, if it has come at `now`, taken
    /// out of the queue so it is visited once. The caller clears that
    /// child's slot (`*slot = None`), then sets a new deadline if the child
    /// still needs one.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut q = DeadlineQueue::new();
    /// let mut slot = None;
    /// q.set(&mut slot, 4u32, Some(t0 + s));
    /// assert_eq!(q.pop_due(t0), None); // not yet
    /// assert_eq!(q.pop_due(t0 + s), Some(4));
    /// slot = None; // the caller clears the slot of what fired
    /// assert!(q.is_empty() && slot.is_none());
    /// ```
    pub fn pop_due(&mut self, now: Instant) -> Option<K> {
        let &(at, key) = self.set.first()?;
        if at > now {
            return None;
        }
        self.set.pop_first();
        Some(key)
    }

    /// Children with a deadline.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut q = DeadlineQueue::new();
    /// let (mut a, mut b) = (None, None);
    /// q.set(&mut a, 1u32, Some(t0));
    /// q.set(&mut b, 2u32, None); // no deadline: not counted
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether no child has a deadline.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut q = DeadlineQueue::new();
    /// let mut slot = None;
    /// assert!(q.is_empty());
    /// q.set(&mut slot, 1u32, Some(t0 + s));
    /// assert!(!q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Forgets every deadline (the caller clears the children's slots).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::timer::DeadlineQueue;
    /// # let t0 = Instant::now();
    /// # let s = Duration::from_secs(1);
    /// let mut q = DeadlineQueue::new();
    /// let mut slot = None;
    /// q.set(&mut slot, 1u32, Some(t0 + s));
    /// q.clear();
    /// slot = None; // the caller clears the children's slots
    /// assert!(q.is_empty() && slot.is_none());
    /// ```
    pub fn clear(&mut self) {
        self.set.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum T {
        A,
        B,
        C,
    }
    impl TimerName for T {
        const ALL: &'static [T] = &[T::A, T::B, T::C];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn table_fires_in_deadline_order_and_only_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut tt = TimerTable::<T, 3>::new();
        assert_eq!(tt.next_deadline(), None);
        tt.set(T::A, t0 + 3 * s);
        tt.set(T::B, t0 + s);
        tt.set(T::C, t0 + 2 * s);
        tt.stop(T::C);
        assert_eq!(tt.next_deadline(), Some(t0 + s));
        assert_eq!(tt.pop_due(t0), None);
        assert_eq!(tt.pop_due(t0 + 10 * s), Some(T::B));
        assert_eq!(tt.pop_due(t0 + 10 * s), Some(T::A));
        assert_eq!(tt.pop_due(t0 + 10 * s), None);
        tt.set_after(T::C, t0, Duration::MAX);
        assert!(tt.is_armed(T::C));
        assert!(!tt.take_due(T::C, t0 + 1000 * s));
        tt.stop_all();
        assert_eq!(tt.next(), None);
    }

    #[test]
    fn queue_keeps_one_entry_per_key() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut q = DeadlineQueue::new();
        let mut slot = None;
        for i in 1..=10u32 {
            q.set(&mut slot, 7u32, Some(t0 + i * s));
        }
        assert_eq!(q.len(), 1);
        assert_eq!(q.next_deadline(), Some(t0 + 10 * s));
        q.set(&mut slot, 7, None);
        assert!(q.is_empty());
        assert_eq!(slot, None);
    }
}
