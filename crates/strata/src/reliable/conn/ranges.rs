//! [`RangeSet`]: a set of `u64` kept as sorted, disjoint, non-adjacent
//! half-open ranges. Used for received packet numbers (the ACK ranges),
//! acknowledged and lost stream bytes, and received out-of-order bytes.

use std::ops::Range;

/// Sorted, disjoint, non-adjacent half-open ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The lowest range.
    pub(crate) fn first(&self) -> Option<&Range<u64>> {
        self.ranges.first()
    }

    /// The highest range.
    pub(crate) fn last(&self) -> Option<&Range<u64>> {
        self.ranges.last()
    }

    /// Whether `v` is in the set.
    pub(crate) fn contains(&self, v: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.end <= v);
        self.ranges.get(i).is_some_and(|r| r.start <= v)
    }

    /// Adds `r`; returns whether anything new was added.
    pub(crate) fn insert(&mut self, r: Range<u64>) -> bool {
        if r.start >= r.end {
            return false;
        }
        // First range that ends at or after r.start (may merge: adjacency counts).
        let lo = self.ranges.partition_point(|x| x.end < r.start);
        // First range that starts after r.end (cannot merge).
        let hi = self.ranges.partition_point(|x| x.start <= r.end);
        if lo == hi {
            self.ranges.insert(lo, r);
            return true;
        }
        let (first, last) = (&self.ranges[lo], &self.ranges[hi - 1]);
        if hi - lo == 1 && first.start <= r.start && first.end >= r.end {
            return false;
        }
        let merged = first.start.min(r.start)..last.end.max(r.end);
        self.ranges.splice(lo..hi, std::iter::once(merged));
        true
    }

    /// Removes `r` from the set.
    pub(crate) fn remove(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        let lo = self.ranges.partition_point(|x| x.end <= r.start);
        let hi = self.ranges.partition_point(|x| x.start < r.end);
        if lo >= hi {
            return;
        }
        let mut keep = Vec::with_capacity(2);
        let (first, last) = (self.ranges[lo].clone(), self.ranges[hi - 1].clone());
        if first.start < r.start {
            keep.push(first.start..r.start);
        }
        if last.end > r.end {
            keep.push(r.end..last.end);
        }
        self.ranges.splice(lo..hi, keep);
    }

    /// Removes every value below `v`.
    pub(crate) fn remove_below(&mut self, v: u64) {
        self.remove(0..v);
    }

    /// Drops the lowest ranges until at most `n` are left.
    pub(crate) fn keep_highest(&mut self, n: usize) {
        if self.ranges.len() > n {
            let drop = self.ranges.len() - n;
            self.ranges.drain(..drop);
        }
    }

    /// Takes the lowest value range, at most `max` long, out of the set.
    pub(crate) fn pop_first(&mut self, max: u64) -> Option<Range<u64>> {
        let first = self.ranges.first_mut()?;
        let end = first.start.saturating_add(max).min(first.end);
        let out = first.start..end;
        if end >= first.end {
            self.ranges.remove(0);
        } else {
            first.start = end;
        }
        Some(out)
    }

    /// The parts of `r` not in the set, in order.
    pub(crate) fn gaps_in(&self, r: Range<u64>) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut at = r.start;
        let i = self.ranges.partition_point(|x| x.end <= r.start);
        for x in &self.ranges[i..] {
            if x.start >= r.end {
                break;
            }
            if x.start > at {
                out.push(at..x.start);
            }
            at = at.max(x.end);
        }
        if at < r.end {
            out.push(at..r.end);
        }
        out
    }

    /// The ranges, highest first.
    pub(crate) fn iter_desc(&self) -> impl Iterator<Item = &Range<u64>> {
        self.ranges.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &RangeSet) -> Vec<Range<u64>> {
        s.ranges.clone()
    }

    #[test]
    fn insert_merges_overlapping_and_adjacent_ranges() {
        let mut s = RangeSet::default();
        assert!(s.insert(10..20));
        assert!(s.insert(30..40));
        assert!(!s.insert(12..18));
        assert!(s.insert(20..25));
        assert_eq!(v(&s), [10..25, 30..40]);
        assert!(s.insert(0..100));
        assert_eq!(v(&s), vec![0..100]);
        assert!(!s.insert(5..5));
    }

    #[test]
    fn remove_splits_ranges() {
        let mut s = RangeSet::default();
        s.insert(0..100);
        s.remove(10..20);
        s.remove(50..60);
        assert_eq!(v(&s), [0..10, 20..50, 60..100]);
        s.remove_below(25);
        assert_eq!(v(&s), [25..50, 60..100]);
        assert!(s.contains(25) && !s.contains(50) && s.contains(99) && !s.contains(100));
        assert_eq!(s.gaps_in(0..120), [0..25, 50..60, 100..120]);
        assert_eq!(s.pop_first(10), Some(25..35));
        assert_eq!(s.pop_first(100), Some(35..50));
        s.keep_highest(0);
        assert!(s.is_empty());
    }

    #[test]
    fn matches_a_naive_model_under_random_operations() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut s = RangeSet::default();
        let mut model = [false; 200];
        for _ in 0..5000 {
            let a = rng.gen_range(0..200u64);
            let b = rng.gen_range(a..=200u64);
            if rng.gen_bool(0.6) {
                s.insert(a..b);
                model[a as usize..b as usize].fill(true);
            } else {
                s.remove(a..b);
                model[a as usize..b as usize].fill(false);
            }
            for (i, m) in model.iter().enumerate() {
                assert_eq!(s.contains(i as u64), *m);
            }
            for w in s.ranges.windows(2) {
                assert!(w[0].end < w[1].start);
            }
        }
    }
}
