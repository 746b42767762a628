//! What the stream and datagram tasks share: panic containment, the timer,
//! and the poll of the non-socket events (shutdown, timer, wakes).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::time::Sleep;

use crate::control::TaskGuard;

/// A panic caught in a protocol callback, with its message.
pub(crate) struct Panicked(pub(crate) String);

/// Runs one call into a stack, catching a panic.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string panic payload)".into());
        Panicked(msg)
    })
}

/// Arms, moves or drops a task's timer for `deadline`. The timer is boxed
/// and exists only while there is a deadline: an idle task holds 8 bytes.
pub(crate) fn arm(timer: &mut Option<Pin<Box<Sleep>>>, deadline: Option<Instant>) {
    match (deadline, timer.as_mut()) {
        (None, None) => {}
        (None, Some(_)) => *timer = None,
        (Some(d), Some(t)) => {
            let d = tokio::time::Instant::from_std(d);
            if t.deadline() != d {
                t.as_mut().reset(d);
            }
        }
        (Some(d), None) => {
            *timer = Some(Box::pin(tokio::time::sleep_until(d.into())));
        }
    }
}

/// The earlier of two optional instants.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What woke a task.
pub(crate) enum Event {
    /// The socket is readable (the stream task has already read, and handed
    /// the input to its stack).
    Readable,
    Writable,
    Timer,
    Wake,
    Shutdown,
}

/// Polls the shutdown signal (`shutdown`: the task's guard, until the task
/// has seen the shutdown), the timer and the wake hub.
pub(crate) fn poll_common(
    cx: &mut Context<'_>,
    shutdown: Option<&mut TaskGuard>,
    timer: Option<&mut Pin<Box<Sleep>>>,
    hub: Option<&Arc<strata::WakeHub>>,
) -> Poll<Event> {
    if shutdown.is_some_and(|g| g.shutdown_started(cx.waker())) {
        return Poll::Ready(Event::Shutdown);
    }
    if timer.is_some_and(|t| t.as_mut().poll(cx).is_ready()) {
        return Poll::Ready(Event::Timer);
    }
    if hub.is_some_and(|h| h.poll_pending(cx).is_ready()) {
        return Poll::Ready(Event::Wake);
    }
    Poll::Pending
}
