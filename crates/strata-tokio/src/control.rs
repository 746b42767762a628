//! What a server shares with its tasks: the shutdown signal, the drain
//! deadline, and the counts of live tasks (per server and per listener).
//!
//! A connection task learns of a shutdown through one `Notified` it polls with
//! its socket; it then reads the drain deadline and enforces it with its own
//! timer, so the server never reaches into a task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// State shared by a [`Server`](crate::Server) handle and all its tasks.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// `notify_waiters` once, when the shutdown starts.
    shutdown: Notify,
    /// Set (once) when the shutdown starts: when the drain ends.
    drain_deadline: OnceLock<Instant>,
    /// Live stream connections.
    conns: AtomicUsize,
    /// Live tasks of any kind (connections and UDP sockets).
    tasks: AtomicUsize,
    /// `notify_waiters` whenever `tasks` drops to zero.
    idle: Notify,
    /// The accept loops, to await on shutdown.
    pub(crate) acceptors: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// A future that completes once the shutdown has started (also when it
    /// started after this call but before the first poll).
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
}

/// Per listener: its live connections, for the connection cap.
#[derive(Debug)]
pub(crate) struct ListenerState {
    pub(crate) live: AtomicUsize,
    /// `notify_one` whenever one of its connections ends.
    pub(crate) freed: Notify,
}

impl ListenerState {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ListenerState {
            live: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }
}

/// Held by every task a server spawned; counts it while it lives.
#[derive(Debug)]
pub(crate) struct TaskGuard {
    shared: Arc<Shared>,
    listener: Option<Arc<ListenerState>>,
    stream: bool,
}

impl TaskGuard {
    /// Counts a stream connection (of `listener`, if accepted).
    pub(crate) fn stream(shared: &Arc<Shared>, listener: Option<&Arc<ListenerState>>) -> Self {
        shared.conns.fetch_add(1, Ordering::AcqRel);
        if let Some(l) = listener {
            l.live.fetch_add(1, Ordering::AcqRel);
        }
        Self::task(shared, listener.cloned(), true)
    }

    /// Counts a datagram socket.
    pub(crate) fn datagram(shared: &Arc<Shared>) -> Self {
        Self::task(shared, None, false)
    }

    fn task(shared: &Arc<Shared>, listener: Option<Arc<ListenerState>>, stream: bool) -> Self {
        shared.tasks.fetch_add(1, Ordering::AcqRel);
        TaskGuard {
            shared: shared.clone(),
            listener,
            stream,
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(l) = &self.listener {
            l.live.fetch_sub(1, Ordering::AcqRel);
            l.freed.notify_one();
        }
        if self.stream {
            self.shared.conns.fetch_sub(1, Ordering::AcqRel);
        }
        if self.shared.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.idle.notify_waiters();
        }
    }
}
