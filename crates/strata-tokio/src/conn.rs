//! The connection task: runs one [`Stack`] over one stream socket.
//!
//! The task future is kept small because idle memory per connection is a
//! headline figure: readiness is polled straight from the socket (no stored
//! readiness futures), the read buffer is per worker thread and borrowed only
//! between two awaits, the timer is boxed and exists only while the stack has
//! a deadline, and the rare paths (lingering close) are boxed.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::IoSlice;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use strata::{AbortReason, Close, PeerAddr, Stack, StreamTransport};
use tokio::sync::futures::Notified;
use tokio::time::Sleep;

use crate::control::{Shared, TaskGuard};
use crate::socket::{self, private::Socket};

/// Size of the per-worker read buffer.
pub(crate) const READ_BUF_SIZE: usize = 64 * 1024;
/// Most slices handed to one vectored write.
const MAX_IOV: usize = 64;
/// How long a cleanly closed connection keeps reading (and discarding) what
/// the peer still sends, so that closing with unread input does not turn
/// into a reset that destroys our last bytes at the peer.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// How much a lingering close reads at most before giving up.
const LINGER_MAX_BYTES: usize = 1024 * 1024;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF_SIZE]);
}

/// Runs `f` with this worker thread's read buffer (a fresh one if it is
/// already borrowed, which only nested drivers on one thread could cause).
pub(crate) fn with_read_buf<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut vec![0; READ_BUF_SIZE]),
    })
}

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

/// Arms, moves or drops the task's timer for `deadline`.
pub(crate) fn arm(timer: &mut Option<Pin<Box<Sleep>>>, deadline: Option<Instant>) {
    match (deadline, timer.as_mut()) {
        (None, _) => *timer = None,
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

/// What woke the task.
pub(crate) enum Event {
    Readable,
    Writable,
    Timer,
    Wake,
    Shutdown,
}

/// Polls the shutdown signal, the timer and the wake hub; shared with the
/// datagram task.
pub(crate) fn poll_common(
    cx: &mut Context<'_>,
    shutdown: Option<Pin<&mut Notified<'_>>>,
    timer: Option<&mut Pin<Box<Sleep>>>,
    hub: Option<&std::sync::Arc<strata::WakeHub>>,
) -> Poll<Event> {
    if shutdown.is_some_and(|s| s.poll(cx).is_ready()) {
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

struct Conn<S> {
    sock: S,
    stack: Stack,
    timer: Option<Pin<Box<Sleep>>>,
    eof_seen: bool,
}

impl<S: Socket> Conn<S> {
    /// One guarded call into the stack, with a fresh `now`.
    fn call(&mut self, f: impl FnOnce(&mut Stack, Instant)) -> Result<(), Panicked> {
        let stack = &mut self.stack;
        guarded(|| f(stack, Instant::now()))
    }

    /// One vectored write of the queued output, then the half-close if due.
    fn flush(&mut self) -> Result<(), Panicked> {
        if self.stack.pending_output() > 0 {
            let res = {
                let mut slices = [IoSlice::new(&[]); MAX_IOV];
                let n = self.stack.io_slices(&mut slices);
                self.sock.try_write_vectored(&slices[..n])
            };
            match res {
                Ok(0) => {
                    let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                    self.call(|s, now| s.handle_lost(now, Close::from(e)))?;
                }
                Ok(n) => self.call(|s, now| s.consume(now, n))?,
                Err(e) if socket::is_transient(&e) => {}
                Err(e) => self.call(|s, now| s.handle_lost(now, Close::from(e)))?,
            }
        }
        if self.stack.should_shutdown_write() {
            match socket::shutdown_write(&self.sock) {
                Ok(()) => self.call(|s, now| s.write_shutdown_done(now))?,
                Err(e) => self.call(|s, now| s.handle_lost(now, Close::from(e)))?,
            }
        }
        Ok(())
    }

    /// One read into the worker's buffer, handed to the stack.
    fn read(&mut self) -> Result<(), Panicked> {
        with_read_buf(|buf| match self.sock.try_read(buf) {
            Ok(0) => {
                self.eof_seen = true;
                self.call(|s, now| s.handle_eof(now))
            }
            Ok(n) => self.call(|s, now| s.handle_input(now, &buf[..n])),
            Err(e) if socket::is_transient(&e) => Ok(()),
            Err(e) => self.call(|s, now| s.handle_lost(now, Close::from(e))),
        })
    }

    // `&mut self`: a shared borrow held across the await would need `Stack: Sync`.
    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        shutdown: Option<Pin<&mut Notified<'_>>>,
    ) -> Poll<Event> {
        let hub = self.stack.wake_hub();
        if let Poll::Ready(ev) = poll_common(cx, shutdown, self.timer.as_mut(), hub) {
            return Poll::Ready(ev);
        }
        // A readiness error is reported by the read or write that follows.
        if self.stack.pending_output() > 0 && self.sock.poll_write_ready(cx).is_ready() {
            return Poll::Ready(Event::Writable);
        }
        if self.stack.wants_read() && self.sock.poll_read_ready(cx).is_ready() {
            return Poll::Ready(Event::Readable);
        }
        Poll::Pending
    }

    /// The owner loop, until the stack finishes or a protocol panics.
    async fn run(
        &mut self,
        shared: Option<&Shared>,
        mut shutdown: Pin<&mut Option<Notified<'_>>>,
    ) -> Result<(), Panicked> {
        self.call(|s, now| s.start(now))?;
        // Set once the shutdown has begun (read from `shared`, not kept here:
        // every byte of an idle task counts).
        let drain_at = || shared.and_then(Shared::drain_deadline);
        loop {
            // Also covers a shutdown that began before this task did.
            if shutdown.is_some() && drain_at().is_some() {
                shutdown.set(None);
                self.call(|s, now| s.handle_shutdown(now))?;
            }
            self.flush()?;
            if self.stack.finished().is_some() {
                return Ok(());
            }
            arm(
                &mut self.timer,
                earliest(self.stack.next_deadline(), drain_at()),
            );
            let ev = poll_fn(|cx| self.poll_event(cx, shutdown.as_mut().as_pin_mut())).await;
            match ev {
                Event::Readable => self.read()?,
                Event::Writable | Event::Shutdown => {}
                Event::Wake => self.call(|s, now| s.handle_wakes(now))?,
                Event::Timer => {
                    self.timer = None;
                    if drain_at().is_some_and(|d| d <= Instant::now()) {
                        let why = Close::aborted("driver", AbortReason::Shutdown);
                        self.call(|s, now| s.handle_lost(now, why))?;
                    } else {
                        self.call(|s, now| s.handle_timeout(now))?;
                    }
                }
            }
        }
    }

    /// Ends the connection: shutdown (and linger) after a clean close, reset
    /// otherwise. Returns the close reason.
    async fn finish(&mut self, outcome: Result<(), Panicked>, shared: Option<&Shared>) -> Close {
        self.timer = None;
        match outcome {
            Ok(()) => {
                // `finished()` is Some: `run` only returns Ok there.
                let why = self.stack.finished().cloned().unwrap_or(Close::Done);
                if !why.is_clean() {
                    socket::reset_on_close(&self.sock);
                } else if !self.eof_seen {
                    // The stack flushed everything before finishing cleanly.
                    let _ = socket::shutdown_write(&self.sock);
                    let drain_at = shared.and_then(Shared::drain_deadline);
                    let until = earliest(Some(Instant::now() + LINGER_TIME), drain_at);
                    let until = until.unwrap_or_else(Instant::now);
                    Box::pin(linger(&self.sock, until)).await;
                }
                why
            }
            Err(Panicked(msg)) => {
                let peer = self.stack.inspect(|t: &dyn StreamTransport| {
                    t.get::<PeerAddr>().map(|p| p.0.to_string())
                });
                tracing::error!(
                    peer = peer.as_deref().unwrap_or("?"),
                    "protocol panicked: {msg}; resetting the connection"
                );
                let why = Close::aborted("driver", AbortReason::Panicked);
                // Best effort: let the protocol see `connection_lost` (it may
                // hold shared state to clean up); a second panic is ignored.
                let _ = self.call(|s, now| s.handle_lost(now, why.clone()));
                socket::reset_on_close(&self.sock);
                why
            }
        }
    }
}

/// The connection task. `ctl` is set for connections a server owns: it
/// counts them and carries the shutdown signal.
///
/// Not an `async fn`: its arguments would be kept in the future next to the
/// moved copies, doubling the size of every idle task.
pub(crate) fn drive<S: Socket>(
    sock: S,
    stack: Stack,
    ctl: Option<TaskGuard>,
) -> impl Future<Output = Close> + Send {
    let mut conn = Conn {
        sock,
        stack,
        timer: None,
        eof_seen: false,
    };
    async move {
        let shared = ctl.as_ref().map(TaskGuard::shared);
        let mut shutdown = pin!(shared.map(Shared::shutdown_signal));
        let outcome = conn.run(shared, shutdown.as_mut()).await;
        let why = conn.finish(outcome, shared).await;
        // A protocol's destructor may panic too: contain it.
        let _ = guarded(move || drop(conn));
        why
    }
}

/// After a clean close: reads and discards what the peer still sends until
/// its EOF, an error, `until`, or [`LINGER_MAX_BYTES`].
async fn linger<S: Socket>(sock: &S, until: Instant) {
    let mut total = 0;
    let drain = async {
        loop {
            if poll_fn(|cx| sock.poll_read_ready(cx)).await.is_err() {
                return;
            }
            let done = with_read_buf(|buf| match sock.try_read(buf) {
                Ok(0) => true,
                Ok(n) => {
                    total += n;
                    total >= LINGER_MAX_BYTES
                }
                Err(e) => !socket::is_transient(&e),
            });
            if done {
                return;
            }
        }
    };
    let _ = tokio::time::timeout_at(until.into(), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl strata::StreamProtocol for Echo {
        fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
            t.write(d)
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }

    /// Idle memory per connection is a headline figure: the task future may
    /// hold the stack, the socket and little else (the shutdown signal, the
    /// boxed timer, the guard and the loop's state).
    #[tokio::test]
    async fn the_connection_future_stays_small() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let info = strata::BottomInfo::new("tcp");
        let stack = Stack::new(Box::new(Echo), info, Default::default(), Instant::now());
        let fixed = std::mem::size_of::<Stack>() + std::mem::size_of::<tokio::net::TcpStream>();
        let fut = drive(s, stack, None);
        let size = std::mem::size_of_val(&fut);
        eprintln!("connection future: {size} bytes (stack + socket: {fixed})");
        assert!(
            size <= fixed + 256,
            "connection future grew to {size} bytes"
        );
    }
}
