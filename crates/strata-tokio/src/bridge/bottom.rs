//! Any `AsyncRead + AsyncWrite` at the bottom of a stack: the owner loop of
//! [`Stack`] over a tokio byte stream (a `DuplexStream`, a tokio-rustls
//! stream, a `TcpStream` someone else accepted), in a task of its own.
//!
//! It is the driver's connection task ([`crate::conn`]) without what needs
//! a socket: reads go into a buffer of this connection, writes are one
//! vectored `poll_write` per wake-up followed by `poll_flush` (a TLS stream
//! only sends on flush), the half-close is `poll_shutdown`. Deadlines,
//! wakes, the send-stall clock, the memory budget and panics behave as
//! over the driver's own TCP. A clean close shuts the stream down (bounded
//! by [`CLOSE_SHUTDOWN_TIME`]) and drops it; an unclean one drops it.

use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use strata::deadline::after;
use strata::{AbortReason, BottomInfo, Close, Stack, StackConfig, StreamProtocol};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use crate::task::{arm, guarded, poll_common, Event, Panicked};

/// How long a cleanly closed stream's `poll_shutdown` may take before the
/// stream is dropped anyway.
///
/// ```
/// assert_eq!(strata_tokio::CLOSE_SHUTDOWN_TIME.as_secs(), 2);
/// ```
pub const CLOSE_SHUTDOWN_TIME: Duration = Duration::from_secs(2);

/// Bytes read from the stream at most per read.
const READ_CHUNK: usize = 16 * 1024;
/// Most slices handed to one vectored write.
const MAX_IOV: usize = 32;

/// Runs `proto` over `io` in a new tokio task, as [`spawn_stream`](crate::spawn_stream)
/// does over a socket, and returns its handle, which yields why the
/// connection ended. `info` is what the protocol can look up (its name is
/// the bottom of the layer chain, `t.layer_chain()`).
///
/// Must be called from within a tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use strata::{StreamProtocol, StreamTransport};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let (ours, mut theirs) = tokio::io::duplex(1024);
/// let task = strata_tokio::spawn_async(ours, Box::new(Echo), strata::BottomInfo::new("duplex"), Default::default());
/// theirs.write_all(b"echo me").await.unwrap();
/// theirs.shutdown().await.unwrap();
/// let mut back = String::new();
/// theirs.read_to_string(&mut back).await.unwrap();
/// assert_eq!(back, "echo me");
/// assert!(task.await.unwrap().is_clean());
/// # }
/// ```
pub fn spawn_async<S>(
    io: S,
    proto: Box<dyn StreamProtocol>,
    info: BottomInfo,
    stack: Arc<StackConfig>,
) -> JoinHandle<Close>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stack = Stack::new(proto, info, stack, Instant::now());
    tokio::spawn(AsyncDrive {
        io,
        stack,
        timer: None,
        phase: Phase::Start,
        rbuf: BytesMut::new(),
        unflushed: false,
    })
}

/// The future of [`spawn_async`]'s task.
struct AsyncDrive<S> {
    io: S,
    stack: Stack,
    timer: Option<Pin<Box<Sleep>>>,
    phase: Phase,
    rbuf: BytesMut,
    /// Bytes were written since the last completed `poll_flush`.
    unflushed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    Run,
    /// Cleanly closed: shutting the stream down, bounded by the timer.
    Closing,
    Done,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Future for AsyncDrive<S> {
    type Output = Close;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Close> {
        let this = self.get_mut();
        loop {
            match this.phase {
                Phase::Start => {
                    this.phase = Phase::Run;
                    if let Err(p) = guarded(|| this.stack.start(Instant::now())) {
                        return Poll::Ready(this.panicked(p));
                    }
                }
                Phase::Run => match guarded(|| this.poll_run(cx)) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(())) => {
                        let clean = this.stack.finished().is_some_and(Close::is_clean);
                        this.phase = if clean { Phase::Closing } else { Phase::Done };
                        let until = after(Instant::now(), CLOSE_SHUTDOWN_TIME);
                        arm(&mut this.timer, clean.then_some(until));
                    }
                    Err(p) => return Poll::Ready(this.panicked(p)),
                },
                Phase::Closing => {
                    let timed_out = this
                        .timer
                        .as_mut()
                        .is_none_or(|t| t.as_mut().poll(cx).is_ready());
                    if !timed_out && Pin::new(&mut this.io).poll_shutdown(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.timer = None;
                    this.phase = Phase::Done;
                }
                Phase::Done => {
                    return Poll::Ready(
                        this.stack
                            .finished()
                            .cloned()
                            .unwrap_or_else(|| Close::aborted("driver", AbortReason::Panicked)),
                    )
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> AsyncDrive<S> {
    /// The owner loop, until the stack finishes.
    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let now = Instant::now();
            self.flush(cx, now);
            if self.stack.finished().is_some() {
                return Poll::Ready(());
            }
            arm(&mut self.timer, self.stack.next_deadline());
            match poll_common(cx, None, self.timer.as_mut(), self.stack.wake_hub()) {
                Poll::Ready(Event::Timer) => {
                    self.timer = None;
                    self.stack.handle_timeout(Instant::now());
                    continue;
                }
                Poll::Ready(Event::Wake) => {
                    self.stack.handle_wakes(now);
                    continue;
                }
                _ => {}
            }
            if self.stack.wants_read() {
                if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK {
                    self.rbuf.reserve(READ_CHUNK);
                }
                let res = tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf);
                if let Poll::Ready(res) = res {
                    let now = Instant::now();
                    match res {
                        Ok(0) => self.stack.handle_eof(now),
                        Ok(_) => self
                            .stack
                            .handle_input_bytes(now, self.rbuf.split().freeze()),
                        Err(e) => self.stack.handle_lost(now, Close::from(e)),
                    }
                    continue;
                }
            }
            return Poll::Pending;
        }
    }

    /// Writes what the stack queued (until the stream is not ready), flushes
    /// the stream, then the half-close when it is due.
    fn flush(&mut self, cx: &mut Context<'_>, now: Instant) {
        while self.stack.pending_output() > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let n = self.stack.io_slices(&mut slices);
            match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n]) {
                Poll::Ready(Ok(0)) => {
                    let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                    return self.stack.handle_lost(now, Close::from(e));
                }
                Poll::Ready(Ok(n)) => {
                    self.unflushed = true;
                    self.stack.consume(now, n);
                }
                Poll::Ready(Err(e)) => return self.stack.handle_lost(now, Close::from(e)),
                Poll::Pending => {
                    // Nothing taken: starts the send-stall clock.
                    self.stack.consume(now, 0);
                    break;
                }
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return self.stack.handle_lost(now, Close::from(e)),
                Poll::Pending => {}
            }
        }
        if self.stack.should_shutdown_write() {
            match Pin::new(&mut self.io).poll_shutdown(cx) {
                Poll::Ready(Ok(())) => self.stack.write_shutdown_done(now),
                Poll::Ready(Err(e)) => self.stack.handle_lost(now, Close::from(e)),
                Poll::Pending => {}
            }
        }
    }

    /// A protocol panicked: log, let it see `connection_lost`, drop the stream.
    fn panicked(&mut self, Panicked(msg): Panicked) -> Close {
        self.timer = None;
        self.phase = Phase::Done;
        tracing::error!("protocol panicked: {msg}; dropping the stream");
        let why = Close::aborted("driver", AbortReason::Panicked);
        let stack = &mut self.stack;
        let _ = guarded(|| stack.handle_lost(Instant::now(), why.clone()));
        why
    }
}
