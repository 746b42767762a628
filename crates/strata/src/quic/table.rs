//! [`ConnTable`]: the server's connections by id and by quinn-proto handle,
//! with their deadlines in one ordered index (a timeout visits only the
//! connections due) and the batch of connections a burst of datagrams
//! touched (each driven once per batch).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use quinn_proto::ConnectionHandle;

struct Entry<C> {
    handle: ConnectionHandle,
    armed: Option<Instant>,
    conn: C,
}

pub(crate) struct ConnTable<C> {
    map: HashMap<u64, Entry<C>>,
    by_handle: HashMap<ConnectionHandle, u64>,
    timers: BTreeSet<(Instant, u64)>,
    touched: Vec<u64>,
}

impl<C> ConnTable<C> {
    pub(crate) fn new() -> Self {
        ConnTable {
            map: HashMap::new(),
            by_handle: HashMap::new(),
            timers: BTreeSet::new(),
            touched: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut C> {
        self.map.get_mut(&id).map(|e| &mut e.conn)
    }

    pub(crate) fn id_of(&self, h: &ConnectionHandle) -> Option<u64> {
        self.by_handle.get(h).copied()
    }

    pub(crate) fn insert(&mut self, id: u64, handle: ConnectionHandle, conn: C) {
        self.by_handle.insert(handle, id);
        self.map.insert(
            id,
            Entry {
                handle,
                armed: None,
                conn,
            },
        );
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<C> {
        let e = self.map.remove(&id)?;
        if let Some(at) = e.armed {
            self.timers.remove(&(at, id));
        }
        self.by_handle.remove(&e.handle);
        Some(e.conn)
    }

    /// Files connection `id`'s next deadline.
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

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// The connections due at `now`, earliest first, out of the index
    /// (re-armed after they ran).
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

    pub(crate) fn touch(&mut self, id: u64) {
        if !self.touched.contains(&id) {
            self.touched.push(id);
        }
    }

    pub(crate) fn take_touched(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.touched)
    }

    pub(crate) fn untouch(&mut self, mut v: Vec<u64>) {
        v.clear();
        self.touched = v;
    }

    /// The ids in order (not the map's: a seeded run repeats).
    pub(crate) fn ids_sorted(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.map.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn drain(&mut self, mut f: impl FnMut(C)) {
        let mut ids = self.ids_sorted();
        for id in ids.drain(..) {
            if let Some(c) = self.remove(id) {
                f(c);
            }
        }
        self.touched.clear();
    }
}
