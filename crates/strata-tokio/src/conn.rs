//! The connection task: runs one [`Stack`] over one stream socket.
//!
//! Idle memory per connection is a headline figure, so the task's future is
//! written by hand ([`Drive`]): it holds the socket, the stack, and 32 bytes
//! of its own, and no sub-future at all. Reads and write readiness are
//! polled straight from the socket, the read buffer is per worker thread and
//! borrowed only within one poll, the timer is boxed and exists only while
//! there is a deadline, and the shutdown signal is a slot in the server's
//! waker table.

use std::cell::RefCell;

use bytes::BytesMut;
use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use std::sync::Arc;
use strata::deadline::after;

use strata::proxy_protocol::{client_label, ProxyProtocol};
use strata::{
    AbortReason, BottomInfo, Close, PeerAddr, Stack, StackConfig, StreamProtocol, StreamTransport,
};
use tokio::io::ReadBuf;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use crate::control::TaskGuard;
use crate::socket::{self, private::Socket};
use crate::task::{arm, earliest, guarded, poll_common, Event, Panicked};

/// Size of the per-worker read buffer.
pub(crate) const READ_BUF_SIZE: usize = 64 * 1024;
/// Most slices handed to one vectored write.
const MAX_IOV: usize = 64;
/// Slices tried first: most writes need no more, and filling
/// [`MAX_IOV`] empty slices on every write is measurable.
const FEW_IOV: usize = 4;
/// How long a cleanly closed connection keeps reading (and discarding) what
/// the peer still sends, so that closing with unread input does not turn
/// into a reset that destroys our last bytes at the peer.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// How much a lingering close reads at most before giving up.
const LINGER_MAX_BYTES: u32 = 1024 * 1024;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF_SIZE]);
}

thread_local! {
    static OWNED_READ_BUF: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A socket seen as tokio's `AsyncRead`, for `poll_read_buf`.
struct AsRead<'a, S>(&'a mut S);

impl<S: Socket> tokio::io::AsyncRead for AsRead<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.get_mut().0.poll_read(cx, buf)
    }
}

/// The least spare room a read is attempted with; below it the buffer is
/// renewed (reusing its memory when no `Bytes` split from it is alive, else
/// allocating a fresh one).
const MIN_READ: usize = 4096;

/// Gives the owned read buffer room for the next read: a full
/// [`READ_BUF_SIZE`] whenever that costs no allocation (no `Bytes` split
/// from it is alive any more: the protocol borrowed them, or its echo was
/// written), else whatever is left, and a fresh buffer only below
/// [`MIN_READ`]. Reading into the leftover of a buffer that a short read
/// split from, while the whole of it is free, would cut the next read short
/// and cost a read and a write more per 64 KiB on a bulk echo.
fn prepare_read_buf(buf: &mut BytesMut) {
    let spare = buf.capacity() - buf.len();
    if spare < READ_BUF_SIZE && !buf.try_reclaim(READ_BUF_SIZE) && spare < MIN_READ {
        buf.reserve(READ_BUF_SIZE);
    }
}

/// Runs `f` with this worker thread's owned read buffer (a fresh one if it is
/// already borrowed).
fn with_owned_read_buf<R>(f: impl FnOnce(&mut BytesMut) -> R) -> R {
    OWNED_READ_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut BytesMut::with_capacity(READ_BUF_SIZE)),
    })
}

/// Runs `f` with this worker thread's read buffer (a fresh one if it is
/// already borrowed, which only nested drivers on one thread could cause).
pub(crate) fn with_read_buf<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut vec![0; READ_BUF_SIZE]),
    })
}

/// Runs `proto` over `stream` in a new tokio task and returns its handle,
/// which yields why the connection ended. `info` is what the protocol can
/// look up (`t.get::<PeerAddr>()`); use name `"tcp"` or `"unix"`.
///
/// Must be called from within a tokio runtime.
///
/// ```no_run
/// # async fn run(proto: Box<dyn strata::StreamProtocol>) -> std::io::Result<()> {
/// use std::sync::Arc;
/// use strata::{Addr, BottomInfo, StackConfig};
/// let s = tokio::net::TcpStream::connect("127.0.0.1:7").await?;
/// let info = BottomInfo::new("tcp").peer(Addr::Inet(s.peer_addr()?));
/// let why = strata_tokio::spawn_stream(s, proto, info, Arc::new(StackConfig::default())).await;
/// # Ok(()) }
/// ```
pub fn spawn_stream<S: socket::DriverStream>(
    stream: S,
    proto: Box<dyn StreamProtocol>,
    info: BottomInfo,
    stack: Arc<StackConfig>,
) -> JoinHandle<Close> {
    let stack = strata::Stack::new(proto, info, stack, Instant::now());
    tokio::spawn(drive(stream, stack, None))
}

/// The connection task. `ctl` is set for connections a server owns: it
/// counts them and carries the shutdown signal.
///
/// Only ever spawned directly with `tokio::spawn` (see
/// [`TaskGuard::shutdown_started`]).
pub(crate) fn drive<S: Socket>(sock: S, mut stack: Stack, ctl: Option<TaskGuard>) -> Drive<S> {
    // A stack that reads a PROXY header keeps its protocol past its end,
    // for the log line naming the client the header named (see
    // [`peer_label`]); the rest go as soon as they end.
    if proxy_layer(&stack).is_some() {
        stack.keep_protocol();
    }
    Drive {
        sock,
        stack,
        timer: None,
        ctl,
        phase: Phase::Start,
        eof_seen: false,
        shutdown_seen: false,
        lingered: 0,
    }
}

/// The future of a connection task; yields why the connection ended.
///
/// The owner loop of [`Stack`], by hand: every poll (re)runs the loop
/// "deliver the shutdown, flush, stop if finished, arm the timer, wait for
/// the next event", handling events until one is not ready. Re-running the
/// top of the loop on a spurious wake costs a few comparisons.
pub(crate) struct Drive<S> {
    sock: S,
    stack: Stack,
    /// The stack's next deadline (or the drain deadline, or the end of a
    /// lingering close); `None` while there is none.
    timer: Option<Pin<Box<Sleep>>>,
    ctl: Option<TaskGuard>,
    phase: Phase,
    /// The peer's EOF was read: no need to linger after a clean close.
    eof_seen: bool,
    /// `handle_shutdown` was delivered.
    shutdown_seen: bool,
    /// Bytes read and discarded while lingering.
    lingered: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not polled yet: `start` is due.
    Start,
    /// The owner loop.
    Run,
    /// Cleanly closed before the peer's EOF: draining what the peer sends.
    Linger,
    /// Returned `Ready`.
    Done,
}

impl<S: Socket> Future for Drive<S> {
    type Output = Close;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Close> {
        // Every field is `Unpin`: the future is never structurally pinned.
        let this = self.get_mut();
        loop {
            match this.phase {
                Phase::Start => {
                    this.phase = Phase::Run;
                    if let Err(p) = guarded(|| this.stack.start(Instant::now())) {
                        return Poll::Ready(this.panicked(p));
                    }
                }
                // One panic guard per wake-up, around everything the loop
                // calls into the stack, rather than one per call.
                Phase::Run => match guarded(|| this.poll_run(cx)) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(())) => this.finish_clean(),
                    Err(p) => return Poll::Ready(this.panicked(p)),
                },
                Phase::Linger => {
                    ready!(this.poll_linger(cx));
                    this.phase = Phase::Done;
                }
                Phase::Done => return Poll::Ready(this.reason()),
            }
        }
    }
}

/// The time events are stamped with: read once per wake-up, and again for
/// every further event the same poll handles (a busy connection can handle
/// many in one poll). The work an event causes (flushing the output it
/// queued) shares its time.
struct Clock {
    now: Instant,
    used: bool,
}

impl Clock {
    fn start() -> Self {
        Clock {
            now: Instant::now(),
            used: false,
        }
    }

    /// The time of a new event.
    fn event(&mut self) -> Instant {
        if self.used {
            self.now = Instant::now();
        }
        self.used = true;
        self.now
    }

    /// The time of a new event that must not predate this call.
    fn fresh(&mut self) -> Instant {
        self.now = Instant::now();
        self.used = true;
        self.now
    }

    /// The time of the work following the last event.
    fn now(&self) -> Instant {
        self.now
    }
}

impl<S: Socket> Drive<S> {
    /// When the drain ends, once the server's shutdown has started.
    fn drain_at(&self) -> Option<Instant> {
        self.ctl.as_ref().and_then(|g| g.shared().drain_deadline())
    }

    /// Why the connection ended. After `finish_clean` or `panicked` the
    /// stack has finished; the fallback covers a `connection_lost` that
    /// panicked before the stack could record the reason.
    fn reason(&self) -> Close {
        self.stack
            .finished()
            .cloned()
            .unwrap_or_else(|| Close::aborted("driver", AbortReason::Panicked))
    }

    /// The owner loop, until the stack finishes. A protocol's panic unwinds
    /// out of it, to the guard in `poll`.
    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut clock = Clock::start();
        loop {
            let drain_at = self.drain_at();
            // Also covers a shutdown that began before this task did, and
            // one that woke this task (see `poll_event`).
            if drain_at.is_some() && !self.shutdown_seen {
                self.shutdown_seen = true;
                self.stack.handle_shutdown(clock.now());
            }
            self.flush(clock.now());
            if self.stack.finished().is_some() {
                return Poll::Ready(());
            }
            arm(
                &mut self.timer,
                earliest(self.stack.next_deadline(), drain_at),
            );
            match ready!(self.poll_event(cx, &mut clock)) {
                // Handled (and stamped) by `poll_input`.
                Event::Readable => {}
                // The flush or the shutdown at the top of the loop is due:
                // stamp it.
                Event::Writable | Event::Shutdown => {
                    clock.event();
                }
                Event::Wake => self.stack.handle_wakes(clock.event()),
                Event::Timer => {
                    self.timer = None;
                    // Fresh, not the wake-up's: the deadline just passed.
                    let now = clock.fresh();
                    if self.drain_at().is_some_and(|d| d <= now) {
                        let why = Close::aborted("driver", AbortReason::Shutdown);
                        self.stack.handle_lost(now, why);
                    } else {
                        self.stack.handle_timeout(now);
                    }
                }
            }
        }
    }

    /// Waits for the next event. Input is read and handed to the stack
    /// right here (`Event::Readable`): polling the read itself, rather than
    /// readiness and then a read, lets a short read mark the socket drained,
    /// which saves the read that would only say "would block".
    fn poll_event(&mut self, cx: &mut Context<'_>, clock: &mut Clock) -> Poll<Event> {
        // The shutdown signal is polled only until the task's waker is
        // registered: from then on, the start of the shutdown wakes the
        // task, and the top of the loop sees it.
        let shutdown = self
            .ctl
            .as_mut()
            .filter(|g| !self.shutdown_seen && !g.registered());
        let hub = self.stack.wake_hub();
        if let Poll::Ready(ev) = poll_common(cx, shutdown, self.timer.as_mut(), hub) {
            return Poll::Ready(ev);
        }
        // A readiness error is reported by the write that follows.
        if self.stack.pending_output() > 0 && self.sock.poll_write_ready(cx).is_ready() {
            return Poll::Ready(Event::Writable);
        }
        if self.stack.wants_read() {
            ready!(self.poll_input(cx, clock));
            return Poll::Ready(Event::Readable);
        }
        Poll::Pending
    }

    /// One read into the worker's owned buffer, handed to the stack as
    /// `Bytes`: a protocol that keeps them (an echo, a relay) writes them on
    /// without a copy. Each read gets the whole buffer back when no piece of
    /// it is still held, else its spare room until less than `MIN_READ` is
    /// left, then a fresh buffer (see [`prepare_read_buf`]). Nothing is kept
    /// per connection.
    fn poll_input(&mut self, cx: &mut Context<'_>, clock: &mut Clock) -> Poll<()> {
        let (sock, stack) = (&mut self.sock, &mut self.stack);
        with_owned_read_buf(|buf| {
            prepare_read_buf(buf);
            let res = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut AsRead(&mut *sock)),
                cx,
                buf
            ));
            let now = clock.event();
            match res {
                Ok(0) => {
                    self.eof_seen = true;
                    stack.handle_eof(now);
                }
                Ok(_) => stack.handle_input_bytes(now, buf.split().freeze()),
                Err(e) if socket::is_transient(&e) => {}
                Err(e) => stack.handle_lost(now, Close::from(e)),
            }
            Poll::Ready(())
        })
    }

    /// One write of the queued output, then the half-close if due.
    fn flush(&mut self, now: Instant) {
        if self.stack.pending_output() > 0 {
            match self.write_out() {
                Ok(0) => {
                    let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                    self.stack.handle_lost(now, Close::from(e));
                }
                Ok(n) => self.stack.consume(now, n),
                // The socket took nothing: the peer is not reading. This
                // starts the stack's send-stall clock if it is not running.
                Err(e) if socket::is_transient(&e) => self.stack.consume(now, 0),
                Err(e) => self.stack.handle_lost(now, Close::from(e)),
            }
        }
        if self.stack.should_shutdown_write() {
            match socket::shutdown_write(&self.sock) {
                Ok(()) => self.stack.write_shutdown_done(now),
                Err(e) => self.stack.handle_lost(now, Close::from(e)),
            }
        }
    }

    /// Writes out as much of the queued output as one call takes: a plain
    /// write for one slice (a request/response connection's usual case), a
    /// vectored one for more. The small array spares filling the big one.
    fn write_out(&self) -> std::io::Result<usize> {
        let mut few = [IoSlice::new(&[]); FEW_IOV];
        let n = self.stack.io_slices(&mut few);
        if n == 1 {
            return self.sock.try_write(&few[0]);
        }
        if n < FEW_IOV {
            return self.sock.try_write_vectored(&few[..n]);
        }
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let n = self.stack.io_slices(&mut slices);
        self.sock.try_write_vectored(&slices[..n])
    }

    /// The stack finished: a clean close shuts the socket down (and lingers
    /// if the peer's EOF is still to come), any other reason resets it.
    fn finish_clean(&mut self) {
        self.timer = None;
        self.phase = Phase::Done;
        // `finished()` is Some: `poll_run` only returns Ok there.
        if !self.stack.finished().is_some_and(Close::is_clean) {
            self.log_unclean();
            socket::reset_on_close(&self.sock);
        } else if !self.eof_seen {
            // The stack flushed everything before finishing cleanly.
            let _ = socket::shutdown_write(&self.sock);
            let until = earliest(Some(after(Instant::now(), LINGER_TIME)), self.drain_at());
            arm(&mut self.timer, until);
            self.phase = Phase::Linger;
        }
    }

    /// Logs why a connection ended uncleanly, at a level that fits: a layer's
    /// abort for bad input is worth a warning, a peer's reset is routine.
    fn log_unclean(&mut self) {
        let Some(why) = self.stack.finished().cloned() else {
            return;
        };
        let level = log_level(&why);
        if !level_enabled(level) {
            return;
        }
        let (peer, via) = peer_label(&mut self.stack);
        let (peer, via) = (peer.as_str(), via.as_deref());
        match level {
            tracing::Level::WARN => tracing::warn!(peer, via, "connection closed: {why}"),
            tracing::Level::INFO => tracing::info!(peer, via, "connection closed: {why}"),
            _ => tracing::debug!(peer, via, "connection closed: {why}"),
        }
    }

    /// After a clean close: reads and discards what the peer still sends
    /// until its EOF, an error, the timer, or [`LINGER_MAX_BYTES`].
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self
                .timer
                .as_mut()
                .is_none_or(|t| t.as_mut().poll(cx).is_ready())
            {
                return Poll::Ready(());
            }
            if ready!(self.sock.poll_read_ready(cx)).is_err() {
                return Poll::Ready(());
            }
            let done = with_read_buf(|buf| match self.sock.try_read(buf) {
                Ok(0) => true,
                Ok(n) => {
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    self.lingered = self.lingered.saturating_add(n);
                    self.lingered >= LINGER_MAX_BYTES
                }
                Err(e) => !socket::is_transient(&e),
            });
            if done {
                return Poll::Ready(());
            }
        }
    }

    /// A protocol panicked: log, let it see `connection_lost`, reset.
    fn panicked(&mut self, Panicked(msg): Panicked) -> Close {
        self.timer = None;
        self.phase = Phase::Done;
        let (peer, via) = peer_label(&mut self.stack);
        tracing::error!(
            peer = peer.as_str(),
            via = via.as_deref(),
            "protocol panicked: {msg}; resetting the connection"
        );
        let why = Close::aborted("driver", AbortReason::Panicked);
        // Best effort: let the protocol see `connection_lost` (it may hold
        // shared state to clean up); a second panic is ignored. Either way
        // the stack no longer holds the protocol, so dropping this future
        // runs no protocol code.
        let stack = &mut self.stack;
        let _ = guarded(|| stack.handle_lost(Instant::now(), why.clone()));
        socket::reset_on_close(&self.sock);
        why
    }
}

/// The PROXY protocol layer of a stack built by the `proxy` scheme, if it
/// has one.
fn proxy_layer(stack: &Stack) -> Option<&ProxyProtocol<Box<dyn StreamProtocol>>> {
    stack.protocol::<ProxyProtocol<Box<dyn StreamProtocol>>>()
}

/// Who the peer is, for a log line: the client a PROXY header named, with
/// the load balancer it came through as `via`, when the stack read one;
/// else the address at the bottom of the stack (`?` when it has none).
fn peer_label(stack: &mut Stack) -> (String, Option<String>) {
    let bottom =
        stack.inspect(|t: &dyn StreamTransport| t.get::<PeerAddr>().map(|p| p.0.to_string()));
    match proxy_layer(stack).and_then(|p| p.header()) {
        Some(h) => (client_label(h), bottom),
        None => (bottom.unwrap_or_else(|| "?".into()), None),
    }
}

fn level_enabled(level: tracing::Level) -> bool {
    match level {
        tracing::Level::WARN => tracing::enabled!(tracing::Level::WARN),
        tracing::Level::INFO => tracing::enabled!(tracing::Level::INFO),
        _ => tracing::enabled!(tracing::Level::DEBUG),
    }
}

/// The level an unclean close is logged at: a layer's abort for bad input
/// or a broken limit is worth a warning; a timeout is news; what peers do
/// every day (a reset, a TLS peer that hangs up without `close_notify`, as
/// curl and browsers do after their last response) is debug.
fn log_level(why: &Close) -> tracing::Level {
    match why {
        Close::Aborted {
            reason: AbortReason::Requested | AbortReason::Shutdown,
            ..
        } => tracing::Level::DEBUG,
        Close::Aborted { .. }
            if why
                .error::<strata::tls::TlsError>()
                .is_some_and(strata::tls::TlsError::is_routine) =>
        {
            tracing::Level::DEBUG
        }
        Close::Aborted { .. } => tracing::Level::WARN,
        Close::Timeout(_) => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_peer_that_hangs_up_without_close_notify_is_routine() {
        use strata::tls::TlsError;
        let tls = |e: TlsError| Close::aborted("tls", AbortReason::layer(e));
        assert_eq!(log_level(&tls(TlsError::Truncated)), tracing::Level::DEBUG);
        let bad = tls(TlsError::from(rustls::Error::DecryptError));
        assert_eq!(log_level(&bad), tracing::Level::WARN);
        assert_eq!(
            log_level(&tls(TlsError::HandshakeTruncated)),
            tracing::Level::WARN
        );
        let budget = Close::aborted("stack", AbortReason::MemoryBudget { limit: 1 });
        assert_eq!(log_level(&budget), tracing::Level::WARN);
        assert_eq!(log_level(&Close::Reset), tracing::Level::DEBUG);
    }

    /// Room for a read: the whole buffer again once every piece split from
    /// it is dropped (no allocation), the leftover while a piece is held,
    /// and a fresh buffer only when the leftover is below `MIN_READ`.
    #[test]
    fn the_read_buffer_is_reused_whole_when_free_and_its_leftover_while_held() {
        let mut buf = BytesMut::new();
        prepare_read_buf(&mut buf);
        assert!(buf.capacity() >= READ_BUF_SIZE);
        let base = buf.as_ptr();
        // A short read whose piece is dropped: the whole buffer is back.
        buf.extend_from_slice(&[1; 1000]);
        drop(buf.split().freeze());
        prepare_read_buf(&mut buf);
        assert!(buf.capacity() >= READ_BUF_SIZE);
        assert_eq!(buf.as_ptr(), base, "reclaimed, not reallocated");
        // A piece still held: the next read takes the leftover, no new buffer.
        buf.extend_from_slice(&[2; 1000]);
        let held = buf.split().freeze();
        prepare_read_buf(&mut buf);
        assert_eq!(buf.as_ptr(), base.wrapping_add(1000));
        assert!(buf.capacity() >= MIN_READ);
        // Held and nearly full: a fresh buffer, the held piece untouched.
        let fill = buf.capacity() - MIN_READ + 1;
        buf.extend_from_slice(&vec![3; fill]);
        let held2 = buf.split().freeze();
        prepare_read_buf(&mut buf);
        assert!(buf.capacity() >= READ_BUF_SIZE);
        assert_eq!(held[..], [2; 1000][..]);
        assert!(held2.iter().all(|&b| b == 3));
    }

    struct Echo;
    impl strata::StreamProtocol for Echo {
        fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
            t.write(d)
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }

    /// Idle memory per connection is a headline figure: the task future
    /// holds the stack, the socket and 32 bytes of its own (the boxed timer,
    /// the guard with its waker slot, the phase and flags), and no
    /// sub-future: nothing else is kept across the idle wait.
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
        assert!(size <= fixed + 32, "connection future grew to {size} bytes");
        assert_eq!(std::mem::size_of::<Option<TaskGuard>>(), 16);
        assert_eq!(std::mem::size_of::<Option<Pin<Box<Sleep>>>>(), 8);
        // tokio's task cell is its own 104 bytes plus the future, rounded up
        // to 128 on x86_64 (tokio 1.x `runtime/task/core.rs`): past 280
        // bytes, every connection costs 128 more.
        #[cfg(target_arch = "x86_64")]
        assert!(
            size <= 280,
            "connection future is {size} bytes: the task cell grows to the next 128-byte step"
        );
    }
}
