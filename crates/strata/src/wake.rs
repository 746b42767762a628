//! Wake handles: reaching one protocol, at any depth, from another thread.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// A `Send` handle that makes the driver call `on_wake` on exactly the
/// protocol that asked for it, at its depth in the stack.
///
/// The bottom of a stack hands out a root handle. A multiplexer wraps its
/// children's handles with [`Wake::child`], so a wake carries a *route*; on
/// delivery each multiplexer takes the next hop with [`WakeRoute::next_hop`] and
/// calls that child only. Plain layers forward `on_wake` with the route
/// unchanged, so a handle keeps working after a layer is inserted or replaced.
///
/// ```
/// use strata::testing::MemoryTransport;
/// use strata::StreamTransport;
/// let t = MemoryTransport::new();
/// let w = t.waker().child(3);
/// std::thread::spawn(move || w.wake()).join().unwrap();
/// assert_eq!(t.take_wakes(), vec![vec![3]]);
/// ```
#[derive(Clone, Debug)]
pub struct Wake {
    hub: Arc<WakeHub>,
    route: Arc<[u64]>,
}

impl Wake {
    /// A root handle on `hub`.
    ///
    /// ```
    /// use strata::{Wake, WakeHub};
    /// let hub = WakeHub::new();
    /// Wake::root(hub.clone()).wake();
    /// assert_eq!(hub.take().len(), 1);
    /// ```
    pub fn root(hub: Arc<WakeHub>) -> Wake {
        Wake {
            hub,
            route: Arc::from([]),
        }
    }

    /// A handle that routes one hop further, to child `id` of a multiplexer.
    ///
    /// ```
    /// use strata::{Wake, WakeHub};
    /// let hub = WakeHub::new();
    /// Wake::root(hub.clone()).child(1).child(5).wake();
    /// assert_eq!(&*hub.take()[0], &[1, 5]);
    /// ```
    pub fn child(&self, id: u64) -> Wake {
        let mut r = Vec::with_capacity(self.route.len() + 1);
        r.extend_from_slice(&self.route);
        r.push(id);
        Wake {
            hub: self.hub.clone(),
            route: r.into(),
        }
    }

    /// Asks the driver to call `on_wake` along this handle's route soon.
    /// Wakes for the same route that are not yet delivered are merged.
    ///
    /// ```
    /// use strata::{Wake, WakeHub};
    /// let hub = WakeHub::new();
    /// let w = Wake::root(hub.clone()).child(2);
    /// w.wake();
    /// w.wake(); // merged with the first: not yet delivered
    /// assert_eq!(hub.take().len(), 1);
    /// ```
    pub fn wake(&self) {
        self.hub.push(self.route.clone());
    }
}

/// Where wakes queue up until the owner of a stack delivers them.
///
/// ```
/// use strata::{Wake, WakeHub};
/// let hub = WakeHub::new();
/// assert!(!hub.is_pending());
/// Wake::root(hub.clone()).wake();
/// assert!(hub.is_pending());
/// ```
#[derive(Debug, Default)]
pub struct WakeHub {
    inner: Mutex<HubInner>,
}

#[derive(Debug, Default)]
struct HubInner {
    routes: Vec<Arc<[u64]>>,
    waker: Option<Waker>,
}

impl WakeHub {
    /// A new, empty hub.
    ///
    /// ```
    /// use strata::WakeHub;
    /// let hub = WakeHub::new();
    /// assert!(hub.take().is_empty());
    /// ```
    pub fn new() -> Arc<WakeHub> {
        Arc::default()
    }

    fn push(&self, route: Arc<[u64]>) {
        let waker = {
            // Poisoning needs a panic while the lock is held; nothing below panics.
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if !g.routes.iter().any(|r| **r == *route) {
                g.routes.push(route);
            }
            g.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Takes every pending route, oldest first.
    ///
    /// ```
    /// use strata::{Wake, WakeHub};
    /// let hub = WakeHub::new();
    /// let root = Wake::root(hub.clone());
    /// root.child(1).wake();
    /// root.child(2).wake();
    /// let routes: Vec<Vec<u64>> = hub.take().iter().map(|r| r.to_vec()).collect();
    /// assert_eq!(routes, vec![vec![1], vec![2]]); // oldest first
    /// assert!(!hub.is_pending());
    /// ```
    pub fn take(&self) -> Vec<Arc<[u64]>> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut g.routes)
    }

    /// Ready when at least one wake is pending; otherwise remembers the task
    /// to wake (for async drivers).
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    /// use strata::{Wake, WakeHub};
    /// let hub = WakeHub::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(hub.poll_pending(&mut cx), Poll::Pending);
    /// Wake::root(hub.clone()).wake();
    /// assert_eq!(hub.poll_pending(&mut cx), Poll::Ready(()));
    /// ```
    pub fn poll_pending(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.routes.is_empty() {
            g.waker = Some(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// True when a wake is waiting.
    ///
    /// ```
    /// use strata::{Wake, WakeHub};
    /// let hub = WakeHub::new();
    /// Wake::root(hub.clone()).wake();
    /// assert!(hub.is_pending());
    /// hub.take();
    /// assert!(!hub.is_pending());
    /// ```
    pub fn is_pending(&self) -> bool {
        !self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .routes
            .is_empty()
    }
}

/// The rest of a wake's route, handed to `on_wake`. A multiplexer calls
/// [`next_hop`](WakeRoute::next_hop) to learn which child to wake; other layers pass
/// it on unchanged.
///
/// ```
/// use strata::WakeRoute;
/// let hops = [4, 9];
/// let mut r = WakeRoute::new(&hops);
/// assert_eq!(r.next_hop(), Some(4)); // the multiplexer at the top wakes child 4
/// assert_eq!(r.next_hop(), Some(9)); // which passes it to its child 9
/// assert!(r.is_here());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeRoute<'a> {
    rest: &'a [u64],
}

impl<'a> WakeRoute<'a> {
    /// A route over `hops`.
    ///
    /// ```
    /// use strata::WakeRoute;
    /// let r = WakeRoute::new(&[]);
    /// assert!(r.is_here());
    /// ```
    pub fn new(hops: &'a [u64]) -> Self {
        WakeRoute { rest: hops }
    }

    /// Takes the next hop: the child id a multiplexer gave in [`Wake::child`].
    /// `None` means the wake is for the protocol that receives this route.
    ///
    /// ```
    /// use strata::WakeRoute;
    /// let mut r = WakeRoute::new(&[3]);
    /// assert_eq!(r.next_hop(), Some(3));
    /// assert_eq!(r.next_hop(), None);
    /// ```
    pub fn next_hop(&mut self) -> Option<u64> {
        let (first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(*first)
    }

    /// True when no hop is left.
    ///
    /// ```
    /// use strata::WakeRoute;
    /// let mut r = WakeRoute::new(&[1]);
    /// assert!(!r.is_here());
    /// r.next_hop();
    /// assert!(r.is_here());
    /// ```
    pub fn is_here(&self) -> bool {
        self.rest.is_empty()
    }
}
