//! The dynamic table (RFC 9204 §3.2): entries in insertion order, oldest
//! first, addressed by absolute index, bounded by a byte capacity.

use std::collections::VecDeque;

use super::HeaderField;

/// A table both the encoder and the decoder keep (each its own copy).
#[derive(Debug, Default)]
pub(super) struct DynamicTable {
    entries: VecDeque<HeaderField>,
    /// The absolute index of `entries[0]`: how many were evicted.
    dropped: u64,
    size: usize,
    capacity: usize,
}

impl DynamicTable {
    /// Insert Count: every entry ever inserted.
    pub(super) fn insert_count(&self) -> u64 {
        self.dropped + self.entries.len() as u64
    }

    /// The absolute index of the oldest entry still held.
    #[cfg(test)]
    pub(super) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(super) fn size(&self) -> usize {
        self.size
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The entry at absolute index `abs`, if it is still held.
    pub(super) fn get(&self, abs: u64) -> Option<&HeaderField> {
        let i = usize::try_from(abs.checked_sub(self.dropped)?).ok()?;
        self.entries.get(i)
    }

    /// Absolute indices with the entries, oldest first.
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &HeaderField)> {
        let dropped = self.dropped;
        self.entries
            .iter()
            .enumerate()
            .map(move |(i, e)| (dropped + i as u64, e))
    }

    /// Sets the capacity, evicting down to it (the caller checked it is
    /// allowed).
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    /// Evicts the oldest entries until the size is at most `size`.
    pub(super) fn evict_to(&mut self, size: usize) {
        while self.size > size {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.size -= e.size();
            self.dropped += 1;
        }
    }

    /// Inserts `field`, evicting what it needs; the caller checked that it
    /// fits in the capacity.
    pub(super) fn insert(&mut self, field: HeaderField) {
        let need = field.size();
        self.evict_to(self.capacity.saturating_sub(need));
        self.size += need;
        self.entries.push_back(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_evicts_oldest_and_keeps_absolute_indices() {
        let mut t = DynamicTable::default();
        t.set_capacity(100);
        t.insert(HeaderField::new("a", "1")); // 34
        t.insert(HeaderField::new("b", "2")); // 34
        assert_eq!((t.insert_count(), t.size()), (2, 68));
        t.insert(HeaderField::new("c", "3")); // evicts "a"
        assert_eq!((t.insert_count(), t.dropped(), t.size()), (3, 1, 68));
        assert!(t.get(0).is_none());
        assert_eq!(t.get(2).map(|f| &f.name[..]), Some(&b"c"[..]));
        assert!(t.get(3).is_none());
        t.set_capacity(0);
        assert_eq!((t.insert_count(), t.size()), (3, 0));
    }
}
