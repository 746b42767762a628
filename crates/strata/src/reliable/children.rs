//! [`Children`]: the core both listeners share (issue 10, point 7): the
//! connections by id, the index from a routing key (the native client's
//! (address, connection id), KCP's (address, conv)) to that id, the
//! ordered deadline index (the listener's own deadline is its first entry,
//! and a timeout visits only the children due), the batch of children a
//! burst of datagrams touched (settled once per batch), and the drain.
//!
//! What is the listener's own stays in it: the native handshake, Retry,
//! half-open accounting and refusals in `listener.rs`; KCP's opening rule,
//! counters and lingering in `kcp_stream/listener.rs`.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

struct Entry<K, C> {
    key: K,
    /// The deadline this child has in the index.
    armed: Option<Instant>,
    child: C,
}

/// A listener's children `C`, by id (`u64`) and by routing key `K`.
pub(crate) struct Children<K, C> {
    map: HashMap<u64, Entry<K, C>>,
    by_key: HashMap<K, u64>,
    /// Every child's next deadline, earliest first (ties by id).
    timers: BTreeSet<(Instant, u64)>,
    /// Children that received datagrams in the current batch.
    touched: Vec<u64>,
}

impl<K: Hash + Eq + Copy, C> Children<K, C> {
    pub(crate) fn new() -> Self {
        Children {
            map: HashMap::new(),
            by_key: HashMap::new(),
            timers: BTreeSet::new(),
            touched: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    pub(crate) fn get(&self, id: u64) -> Option<&C> {
        self.map.get(&id).map(|e| &e.child)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut C> {
        self.map.get_mut(&id).map(|e| &mut e.child)
    }

    /// The child routed by `key`.
    pub(crate) fn id_of(&self, key: &K) -> Option<u64> {
        self.by_key.get(key).copied()
    }

    /// Files a new child (not armed yet: [`rearm`](Self::rearm) it after
    /// its first call).
    pub(crate) fn insert(&mut self, id: u64, key: K, child: C) {
        self.by_key.insert(key, id);
        self.map.insert(
            id,
            Entry {
                key,
                armed: None,
                child,
            },
        );
    }

    /// Removes a child and every index entry of it.
    pub(crate) fn remove(&mut self, id: u64) -> Option<(K, C)> {
        let e = self.map.remove(&id)?;
        if let Some(at) = e.armed {
            self.timers.remove(&(at, id));
        }
        self.by_key.remove(&e.key);
        Some((e.key, e.child))
    }

    /// Files child `id`'s next deadline.
    pub(crate) fn rearm(&mut self, id: u64, next: Option<Instant>) {
        let Some(e) = self.map.get_mut(&id) else {
            return;
        };
        if next != e.armed {
            if let Some(at) = e.armed {
                self.timers.remove(&(at, id));
            }
            if let Some(at) = next {
                self.timers.insert((at, id));
            }
            e.armed = next;
        }
    }

    /// The earliest deadline of any child.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Takes the children due at `now` out of the index, earliest first
    /// (they are re-armed after their call).
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(e) = self.map.get_mut(&id) {
                e.armed = None;
            }
            due.push(id);
        }
        due
    }

    /// Notes that child `id` received datagrams in this batch.
    pub(crate) fn touch(&mut self, id: u64) {
        if !self.touched.contains(&id) {
            self.touched.push(id);
        }
    }

    /// The children touched in this batch, in the order first touched; hand
    /// the vector back with [`untouch`](Self::untouch) to reuse it.
    pub(crate) fn take_touched(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.touched)
    }

    /// Gives back the vector of [`take_touched`](Self::take_touched).
    pub(crate) fn untouch(&mut self, mut touched: Vec<u64>) {
        touched.clear();
        self.touched = touched;
    }

    /// The ids, in order (not the map's order: a seeded simulation repeats
    /// byte for byte).
    pub(crate) fn ids_sorted(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.map.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Every child.
    pub(crate) fn values(&self) -> impl Iterator<Item = &C> {
        self.map.values().map(|e| &e.child)
    }

    /// Every child with its id, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &C)> {
        self.ids_sorted()
            .into_iter()
            .filter_map(|id| self.map.get(&id).map(|e| (id, &e.child)))
    }

    /// Empties the table, handing each child to `f` in id order (not the
    /// map's: what the children do as they go, such as their apps'
    /// `connection_lost`, is the same in every seeded run).
    pub(crate) fn drain(&mut self, mut f: impl FnMut(C)) {
        for id in self.ids_sorted() {
            if let Some(e) = self.map.remove(&id) {
                f(e.child);
            }
        }
        self.by_key.clear();
        self.timers.clear();
        self.touched.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Children;

    #[test]
    fn the_deadline_index_gives_due_children_earliest_first_and_forgets_removed_ones() {
        let now = Instant::now();
        let at = |ms| now + Duration::from_millis(ms);
        let mut c: Children<u32, &str> = Children::new();
        for (id, key, next) in [(1, 10, 30), (2, 20, 10), (3, 30, 20)] {
            c.insert(id, key, "child");
            c.rearm(id, Some(at(next)));
        }
        assert_eq!(c.next_deadline(), Some(at(10)));
        c.rearm(2, Some(at(40)));
        assert_eq!(c.next_deadline(), Some(at(20)));
        assert_eq!(c.remove(3).map(|(k, _)| k), Some(30));
        assert_eq!(c.id_of(&30), None);
        assert_eq!(c.take_due(at(35)), [1]);
        assert_eq!(c.next_deadline(), Some(at(40)));
        assert_eq!(c.id_of(&20), Some(2));
        assert_eq!(c.ids_sorted(), [1, 2]);
        let mut n = 0;
        c.drain(|_| n += 1);
        assert_eq!((n, c.len(), c.next_deadline()), (2, 0, None));
    }

    #[test]
    fn drain_and_iter_visit_children_in_id_order() {
        // What a listener's children do when it ends (the apps' own
        // `connection_lost`, which a relay turns into closes) must not
        // follow the map's random order: a seeded simulation repeats.
        let mut c: Children<u64, u64> = Children::new();
        for id in (1..=32).rev() {
            c.insert(id, id * 10, id);
        }
        let ids: Vec<u64> = c.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, (1..=32).collect::<Vec<_>>());
        let mut order = Vec::new();
        c.drain(|child| order.push(child));
        assert_eq!(order, (1..=32).collect::<Vec<_>>());
    }
}
