//! What a server shares with its tasks: the shutdown signal, the drain
//! deadline, and the counts of live tasks (per server and per group).
//!
//! The shutdown signal costs an idle task no future of its own: each task
//! registers its waker once, in one slot of a table the server owns, and
//! checks the drain deadline (an atomic load) whenever it runs. Starting the
//! shutdown sets the deadline, then wakes every registered task; a task then
//! enforces the deadline with its own timer, so the server never reaches into
//! a task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::Instant;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// State shared by a [`Server`](crate::Server) handle and all its tasks.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// `notify_waiters` once, when the shutdown starts (for the accept loops).
    shutdown: Notify,
    /// Set (once) when the shutdown starts: when the drain ends.
    drain_deadline: OnceLock<Instant>,
    /// The wakers of the tasks, woken once when the shutdown starts.
    wakers: Mutex<WakerTable>,
    /// Live stream connections.
    conns: AtomicUsize,
    /// Live tasks of any kind (connections and UDP sockets).
    tasks: AtomicUsize,
    /// `notify_waiters` whenever `tasks` drops to zero.
    idle: Notify,
    /// The accept loops, to await on shutdown.
    pub(crate) acceptors: Mutex<Vec<JoinHandle<()>>>,
    /// Whether the stacks count bytes (the server keeps statistics).
    count_bytes: bool,
}

impl Shared {
    /// The state of a server whose stacks count bytes
    /// ([`Stack::count_bytes`](strata::Stack::count_bytes)).
    pub(crate) fn counting() -> Shared {
        Shared {
            count_bytes: true,
            ..Shared::default()
        }
    }

    /// Whether the stacks count bytes.
    pub(crate) fn counts_bytes(&self) -> bool {
        self.count_bytes
    }

    /// A future that completes once the shutdown has started (also when it
    /// started after this call but before the first poll). For the accept
    /// loops; a task uses [`TaskGuard::shutdown_started`].
    pub(crate) fn shutdown_signal(&self) -> Notified<'_> {
        self.shutdown.notified()
    }

    /// When the drain ends, once the shutdown has started.
    pub(crate) fn drain_deadline(&self) -> Option<Instant> {
        self.drain_deadline.get().copied()
    }

    /// Starts the shutdown (idempotent: the first deadline stays).
    pub(crate) fn start_shutdown(&self, deadline: Instant) {
        let _ = self.drain_deadline.set(deadline);
        self.shutdown.notify_waiters();
        // After the deadline is set: a task registering from now on sees it
        // (the table's lock orders the two), one registered before is woken.
        // Waking a tokio task only schedules it, so holding the lock is short.
        for w in self.wakers().slots.iter().flatten() {
            w.wake_by_ref();
        }
    }

    pub(crate) fn connections(&self) -> usize {
        self.conns.load(Ordering::Acquire)
    }

    /// Waits until no task is left.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            // Registered before the check, so a drop to zero in between is seen.
            idle.as_mut().enable();
            if self.tasks.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    fn wakers(&self) -> MutexGuard<'_, WakerTable> {
        // Poisoning needs a panic under the lock; nothing there panics.
        self.wakers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A slab of wakers: one 16-byte slot per live task, reused once freed.
#[derive(Debug, Default)]
struct WakerTable {
    slots: Vec<Option<Waker>>,
    free: Vec<u32>,
}

impl WakerTable {
    fn insert(&mut self, w: Waker) -> u32 {
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = Some(w);
            return i;
        }
        self.slots.push(Some(w));
        // More than u32::MAX live tasks would exhaust memory long before.
        u32::try_from(self.slots.len() - 1).unwrap_or(NO_SLOT)
    }

    fn remove(&mut self, i: u32) {
        if let Some(slot) = self.slots.get_mut(i as usize)
            && slot.take().is_some()
        {
            self.free.push(i);
        }
    }
}

/// `TaskGuard::slot` of a task that has not registered its waker.
const NO_SLOT: u32 = u32::MAX;

/// Tasks counted together: the connections of one listener (for its
/// connection cap), or one UDP socket.
#[derive(Debug)]
pub(crate) struct Group {
    shared: Arc<Shared>,
    /// Whether its tasks are stream connections (counted by `connections()`).
    stream: bool,
    pub(crate) live: AtomicUsize,
    /// `notify_one` whenever one of its tasks ends.
    pub(crate) freed: Notify,
}

impl Group {
    /// A listener's group of connections.
    pub(crate) fn listener(shared: &Arc<Shared>) -> Arc<Self> {
        Self::new(shared, true)
    }

    /// The group of one datagram socket.
    pub(crate) fn datagram(shared: &Arc<Shared>) -> Arc<Self> {
        Self::new(shared, false)
    }

    fn new(shared: &Arc<Shared>, stream: bool) -> Arc<Self> {
        Arc::new(Group {
            shared: shared.clone(),
            stream,
            live: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }
}

/// Held by every task a server spawned: counts it while it lives, and holds
/// its slot in the server's waker table. 16 bytes, in every idle task.
#[derive(Debug)]
pub(crate) struct TaskGuard {
    group: Arc<Group>,
    slot: u32,
}

impl TaskGuard {
    /// Counts a new task of `group`.
    pub(crate) fn new(group: &Arc<Group>) -> Self {
        let shared = &group.shared;
        shared.tasks.fetch_add(1, Ordering::AcqRel);
        if group.stream {
            shared.conns.fetch_add(1, Ordering::AcqRel);
        }
        group.live.fetch_add(1, Ordering::AcqRel);
        TaskGuard {
            group: group.clone(),
            slot: NO_SLOT,
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.group.shared
    }

    /// Whether the task's waker is registered: from then on, the start of
    /// the shutdown wakes the task, so a check of the drain deadline
    /// whenever it runs suffices.
    pub(crate) fn registered(&self) -> bool {
        self.slot != NO_SLOT
    }

    /// Whether the shutdown has started. The first call registers `waker`,
    /// which the start of the shutdown wakes; later calls are one atomic load.
    ///
    /// The waker is registered once, not on every poll: a task's futures run
    /// only inside `tokio::spawn`, whose wakers all wake that same task.
    pub(crate) fn shutdown_started(&mut self, waker: &Waker) -> bool {
        if self.slot == NO_SLOT {
            let slot = self.shared().wakers().insert(waker.clone());
            self.slot = slot;
        }
        // Read after registering: see `Shared::start_shutdown`.
        self.shared().drain_deadline().is_some()
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.slot != NO_SLOT {
            self.shared().wakers().remove(self.slot);
        }
        let g = &self.group;
        g.live.fetch_sub(1, Ordering::AcqRel);
        g.freed.notify_one();
        if g.stream {
            g.shared.conns.fetch_sub(1, Ordering::AcqRel);
        }
        if g.shared.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            g.shared.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    use super::*;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn flag() -> (Arc<Flag>, Waker) {
        let f = Arc::new(Flag(AtomicBool::new(false)));
        (f.clone(), Waker::from(f))
    }

    #[test]
    fn the_shutdown_wakes_registered_tasks_and_is_seen_by_later_ones() {
        let shared = Arc::new(Shared::default());
        let group = Group::listener(&shared);
        let (woken, waker) = flag();
        let mut a = TaskGuard::new(&group);
        assert!(!a.shutdown_started(&waker));
        assert_eq!(shared.connections(), 1);
        shared.start_shutdown(Instant::now());
        assert!(woken.0.load(Ordering::SeqCst), "a registered task is woken");
        let (_, w2) = flag();
        let mut b = TaskGuard::new(&group);
        assert!(b.shutdown_started(&w2), "a later task sees the shutdown");
        drop((a, b));
        assert_eq!(shared.connections(), 0);
        assert_eq!(group.live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn waker_slots_are_reused_and_released() {
        let shared = Arc::new(Shared::default());
        let group = Group::datagram(&shared);
        let (f, waker) = flag();
        let guards: Vec<_> = (0..3)
            .map(|_| {
                let mut g = TaskGuard::new(&group);
                g.shutdown_started(&waker);
                g
            })
            .collect();
        assert_eq!(shared.wakers().slots.len(), 3);
        // Datagram tasks are tasks, not connections.
        assert_eq!(shared.connections(), 0);
        drop(guards);
        assert!(shared.wakers().slots.iter().all(Option::is_none));
        // Every clone of the waker was dropped with its slot.
        assert_eq!(Arc::strong_count(&f), 2);
        let mut g = TaskGuard::new(&group);
        g.shutdown_started(&waker);
        assert_eq!(shared.wakers().slots.len(), 3, "a freed slot is reused");
    }
}
