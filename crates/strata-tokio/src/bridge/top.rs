//! The top of a stack as tokio's `AsyncRead + AsyncWrite`: a
//! [`StreamProtocol`] at the top of the stack ([`BridgeProtocol`]) and the
//! async handle ([`BridgeStream`]) share one small state behind a mutex.
//!
//! The protocol runs on the stack's task, the handle on the user's; they
//! meet without a channel or a task of their own:
//!
//! * **Reads**: `data_received` queues the bytes (no copy: `Bytes`) and wakes
//!   the reader. Once [`BridgeConfig::read_buffer`] bytes wait unread, the
//!   protocol pauses reading below (`pause_reading`), so the peer's flow
//!   control (TCP window, QUIC `MAX_STREAM_DATA`, the mapping's window)
//!   pushes back; it resumes when the reader has taken half of them.
//! * **Writes**: `poll_write` copies into a buffer of at most
//!   [`BridgeConfig::write_buffer`] bytes and wakes the protocol through the
//!   stack's wake handle (once per batch, not per write); on that wake the
//!   protocol hands the whole batch down while the stack is `writable()`,
//!   else at `resume_writing`. A full buffer makes `poll_write` `Pending`.
//! * **Ends**: the peer's EOF is a read of 0 bytes; `poll_shutdown` is
//!   `write_eof` once the buffered bytes are handed down; dropping the
//!   handle closes the stack gracefully; [`BridgeStream::abort`] aborts it.
//!   An unclean end ([`Close`]) is an `io::Error` with a matching kind
//!   ([`close_to_io`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use strata::{
    AbortReason, Addr, Close, PeerAddr, StreamProtocol, StreamTransport, Wake, WakeRoute,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Default of [`BridgeConfig::read_buffer`]: 64 KiB.
///
/// ```
/// assert_eq!(strata_tokio::DEFAULT_BRIDGE_READ_BUFFER, 64 * 1024);
/// ```
pub const DEFAULT_BRIDGE_READ_BUFFER: usize = 64 * 1024;
/// Default of [`BridgeConfig::write_buffer`]: 64 KiB.
///
/// ```
/// assert_eq!(strata_tokio::DEFAULT_BRIDGE_WRITE_BUFFER, 64 * 1024);
/// ```
pub const DEFAULT_BRIDGE_WRITE_BUFFER: usize = 64 * 1024;

/// The bounds of one bridged stream.
///
/// ```
/// use strata_tokio::BridgeConfig;
/// let cfg = BridgeConfig { write_buffer: 16 * 1024, ..BridgeConfig::default() };
/// assert_eq!(cfg.read_buffer, strata_tokio::DEFAULT_BRIDGE_READ_BUFFER);
/// assert_eq!(cfg.backlog, strata_tokio::DEFAULT_BRIDGE_BACKLOG);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Unread bytes past which the stack stops reading from below, so the
    /// peer's flow control pushes back (default
    /// [`DEFAULT_BRIDGE_READ_BUFFER`]). Reading resumes at half of it.
    /// What is queued can exceed it by the one delivery that crossed it.
    /// Zero is taken as one byte.
    pub read_buffer: usize,
    /// Bytes `poll_write` accepts before the stack has taken them; past it
    /// `poll_write` is `Pending` (default [`DEFAULT_BRIDGE_WRITE_BUFFER`]).
    /// Zero is taken as one byte.
    pub write_buffer: usize,
    /// A [`BridgeListener`](crate::BridgeListener)'s accept queue: started
    /// connections not yet accepted, past which a new one is aborted
    /// (default [`DEFAULT_BRIDGE_BACKLOG`](crate::DEFAULT_BRIDGE_BACKLOG)).
    /// Zero is taken as one. Unused by a connect.
    pub backlog: usize,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            read_buffer: DEFAULT_BRIDGE_READ_BUFFER,
            write_buffer: DEFAULT_BRIDGE_WRITE_BUFFER,
            backlog: crate::DEFAULT_BRIDGE_BACKLOG,
        }
    }
}

/// Makes a bridge: the protocol to put at the top of a stack, and the async
/// handle on it. Writes made on the handle before the stack starts wait in
/// its buffer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// // Two bridges joined by an in-memory pipe, each at the top of a stack
/// // that runs over one end of it.
/// let (a, b) = tokio::io::duplex(4096);
/// let (pa, mut sa) = strata_tokio::bridge(Default::default());
/// let (pb, mut sb) = strata_tokio::bridge(Default::default());
/// let info = || strata::BottomInfo::new("duplex");
/// strata_tokio::spawn_async(a, pa, info(), Default::default());
/// strata_tokio::spawn_async(b, pb, info(), Default::default());
/// sa.write_all(b"ping").await.unwrap();
/// sa.shutdown().await.unwrap();
/// let mut got = Vec::new();
/// sb.read_to_end(&mut got).await.unwrap();
/// assert_eq!(got, b"ping");
/// # }
/// ```
pub fn bridge(cfg: BridgeConfig) -> (Box<dyn StreamProtocol>, BridgeStream) {
    let (p, s) = pair(cfg);
    (Box::new(p), s)
}

pub(crate) fn pair(cfg: BridgeConfig) -> (BridgeProtocol, BridgeStream) {
    let p = BridgeProtocol::new(cfg, None);
    let s = BridgeStream {
        shared: p.shared.clone(),
    };
    (p, s)
}

/// What the protocol and the handle share.
#[derive(Debug)]
struct Shared {
    read_cap: usize,
    write_cap: usize,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Poisoning needs a panic while the lock is held; nothing done under
        // it panics.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Default)]
struct State {
    // Stack to handle.
    rbuf: VecDeque<Bytes>,
    rlen: usize,
    eof_in: bool,
    read_paused: bool,
    reader: Option<Waker>,
    // Handle to stack.
    wbuf: BytesMut,
    shutdown_requested: bool,
    eof_out_sent: bool,
    writer: Option<Waker>,
    // Life.
    /// Reaches the protocol; set by `connection_made`.
    wake: Option<Wake>,
    /// A wake is on its way: the next ones would be merged anyway.
    stack_woken: bool,
    end: Option<Close>,
    dropped: bool,
    abort_requested: bool,
    peer: Option<Addr>,
    chain: Vec<&'static str>,
    /// The owner of the stack is shutting down (`on_shutdown`).
    shutting_down: bool,
    signal: Option<Waker>,
    /// Set when the handle's future runs inside the stack's task.
    inline: Option<Arc<InlineFlags>>,
}

impl State {
    /// Asks the protocol to run (`on_wake`) unless it already will.
    fn wake_stack(&mut self) {
        // Within one of the protocol's callbacks, which pumps before it
        // returns: no wake needs to travel through the stack.
        if let Some(f) = &self.inline
            && f.busy.load(SeqCst)
        {
            f.again.store(true, SeqCst);
            return;
        }
        if !self.stack_woken
            && let Some(w) = &self.wake
        {
            self.stack_woken = true;
            w.wake();
        }
    }

    fn wake_handle(&mut self) {
        for w in [self.reader.take(), self.writer.take(), self.signal.take()]
            .into_iter()
            .flatten()
        {
            w.wake();
        }
    }
}

/// The protocol half of a bridge: put it at the top of a stack (made by
/// [`bridge`]; the listener and connector of this module do it for you).
pub(crate) struct BridgeProtocol {
    shared: Arc<Shared>,
    /// Called once with the handle at `connection_made` (a listener's
    /// accept queue); `false` aborts the connection.
    on_start: Option<OnStart>,
    /// The handle's consumer, polled by this protocol in the stack's task
    /// ([`bridge_inline`](crate::bridge_inline)).
    inline: Option<Inline>,
}

/// A boxed consumer future of a bridged stream.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The handle's consumer future, run inside the stack's task: the
/// protocol polls it at the end of each of its callbacks when it was woken,
/// and its waker reaches the protocol through the stack's wake handle. A
/// request then costs no wake of a second task either way.
struct Inline {
    /// `None` once it completed, or moved to a task of its own when the
    /// stack ended first.
    fut: Option<BoxFuture>,
    flags: Arc<InlineFlags>,
    /// Wakes `flags`.
    waker: Waker,
}

/// Polls of the future asked for in one callback, past which the protocol
/// leaves the rest to a wake, so that a future that keeps waking itself
/// cannot starve the stack's reads and timers.
const INLINE_ROUNDS: u32 = 32;

/// What the inline future's waker and the handle share with the protocol.
#[derive(Debug, Default)]
pub(crate) struct InlineFlags {
    /// The future asked to be polled.
    woken: AtomicBool,
    /// One of the protocol's callbacks is running: it polls the future and
    /// pumps before it returns, so wakes stay here.
    busy: AtomicBool,
    /// The handle asked for a pump while `busy`.
    again: AtomicBool,
    /// The protocol's wake handle, from `connection_made` on.
    wake: OnceLock<Wake>,
}

impl std::task::Wake for InlineFlags {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // `woken` already set: a wake is on its way, or a busy callback
        // will see the flag before it returns.
        if !self.woken.swap(true, SeqCst)
            && !self.busy.load(SeqCst)
            && let Some(w) = self.wake.get()
        {
            w.wake();
        }
    }
}

impl Inline {
    /// Hands the future, if still running, to a task of its own: the stack
    /// ended under it. It is polled there at once, so it sees the end.
    fn release(&mut self) {
        if let Some(fut) = self.fut.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            drop(rt.spawn(fut));
        }
    }
}

/// Called once with the handle when the stack starts; `false` aborts.
pub(crate) type OnStart = Box<dyn FnOnce(BridgeStream) -> bool + Send>;

impl BridgeProtocol {
    /// A bridge's protocol whose handle is made when the stack starts and
    /// given to `on_start` (a listener's accept queue).
    pub(crate) fn new(cfg: BridgeConfig, on_start: Option<OnStart>) -> BridgeProtocol {
        let shared = Arc::new(Shared {
            read_cap: cfg.read_buffer.max(1),
            write_cap: cfg.write_buffer.max(1),
            state: Mutex::new(State::default()),
        });
        BridgeProtocol {
            shared,
            on_start,
            inline: None,
        }
    }

    /// A bridge's protocol that runs `f`'s future on its handle inside the
    /// stack's task.
    pub(crate) fn inline(
        cfg: BridgeConfig,
        f: impl FnOnce(BridgeStream) -> BoxFuture,
    ) -> BridgeProtocol {
        let mut p = BridgeProtocol::new(cfg, None);
        let flags = Arc::new(InlineFlags::default());
        // The first poll is due at `connection_made`.
        flags.woken.store(true, SeqCst);
        p.shared.lock().inline = Some(flags.clone());
        let fut = f(BridgeStream {
            shared: p.shared.clone(),
        });
        p.inline = Some(Inline {
            fut: Some(fut),
            waker: Waker::from(flags.clone()),
            flags,
        });
        p
    }

    /// At the start of a callback: the inline future's wakes and the
    /// handle's stay here until [`finish`](Self::finish).
    fn enter(&self) {
        if let Some(i) = &self.inline {
            i.flags.busy.store(true, SeqCst);
        }
    }

    /// At the end of a callback: with an inline future, polls it while it
    /// is woken and pumps after each poll; else pumps if `pump`.
    fn finish(&mut self, t: &mut dyn StreamTransport, pump: bool) {
        let Some(inl) = &mut self.inline else {
            if pump {
                self.pump(t);
            }
            return;
        };
        let shared = &self.shared;
        for _ in 0..INLINE_ROUNDS {
            if inl.flags.woken.swap(false, SeqCst)
                && let Some(fut) = &mut inl.fut
            {
                let mut cx = Context::from_waker(&inl.waker);
                if fut.as_mut().poll(&mut cx).is_ready() {
                    inl.fut = None;
                }
            }
            inl.flags.again.store(false, SeqCst);
            pump_shared(shared, t);
            inl.flags.busy.store(false, SeqCst);
            // A wake that came after the check sees `busy` clear and
            // travels through the stack.
            if !inl.flags.woken.load(SeqCst) && !inl.flags.again.load(SeqCst) {
                return;
            }
            inl.flags.busy.store(true, SeqCst);
        }
        inl.flags.busy.store(false, SeqCst);
        if let Some(w) = inl.flags.wake.get() {
            w.wake();
        }
    }

    /// Does what the handle asked for (see [`pump_shared`]).
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        pump_shared(&self.shared, t)
    }
}

/// Does what the handle asked for: hands the written bytes down while the
/// stack is writable, the half-close after them, resumes reading, closes or
/// aborts.
fn pump_shared(shared: &Shared, t: &mut dyn StreamTransport) {
    // One lock for the whole step: the transport never calls back into
    // the handle, so holding it across `t`'s calls cannot deadlock, and
    // the async side waits at most for one hand-down.
    let mut st = shared.lock();
    st.stack_woken = false;
    if st.end.is_some() {
        return;
    }
    if st.abort_requested {
        drop(st);
        t.abort(Close::aborted("bridge", AbortReason::Requested));
        return;
    }
    if !st.wbuf.is_empty() && t.writable() {
        t.write_bytes(st.wbuf.split().freeze());
        if let Some(w) = st.writer.take() {
            w.wake();
        }
    }
    if st.wbuf.is_empty() && st.shutdown_requested && !st.eof_out_sent {
        st.eof_out_sent = true;
        if let Some(w) = st.writer.take() {
            w.wake();
        }
        t.write_eof();
        if st.eof_in {
            t.close();
        }
    }
    if st.dropped {
        st.rbuf.clear();
        st.rlen = 0;
        // `close` flushes what was handed down; the rest of the
        // buffer goes first.
        if st.wbuf.is_empty() {
            t.close();
        }
        return;
    }
    if st.read_paused && st.rlen <= shared.read_cap / 2 {
        st.read_paused = false;
        t.resume_reading();
    }
}

impl StreamProtocol for BridgeProtocol {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.enter();
        if let Some(i) = &self.inline {
            let _ = i.flags.wake.set(t.waker());
        }
        {
            let mut st = self.shared.lock();
            st.wake = Some(t.waker());
            st.peer = t.get::<PeerAddr>().map(|p| p.0.clone());
            st.chain = t.layer_chain();
        }
        if let Some(start) = self.on_start.take() {
            let handle = BridgeStream {
                shared: self.shared.clone(),
            };
            if !start(handle) {
                t.abort(Close::aborted("bridge", AbortReason::Shutdown));
                return;
            }
        }
        self.finish(t, true);
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.data_received_bytes(t, Bytes::copy_from_slice(data))
    }

    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.enter();
        self.queue(t, data);
        self.finish(t, false);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.enter();
        {
            let mut st = self.shared.lock();
            st.eof_in = true;
            if let Some(w) = st.reader.take() {
                w.wake();
            }
            if st.eof_out_sent || st.dropped {
                drop(st);
                t.close();
            }
        }
        self.finish(t, false);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.enter();
        {
            let mut st = self.shared.lock();
            st.end = Some(why.clone());
            st.wake = None;
            st.wake_handle();
        }
        // `busy` stays set: no wake can reach the stack any more. The
        // future sees the end now, or on a task of its own.
        if let Some(inl) = &mut self.inline {
            if let Some(fut) = &mut inl.fut {
                inl.flags.woken.store(false, SeqCst);
                if fut
                    .as_mut()
                    .poll(&mut Context::from_waker(&inl.waker))
                    .is_ready()
                {
                    inl.fut = None;
                }
            }
            inl.release();
        }
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.enter();
        self.finish(t, true)
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, _route: WakeRoute<'_>) {
        self.enter();
        self.finish(t, true)
    }

    /// The server drains: the async side learns it through
    /// [`BridgeStream::shutdown_signal`]; the stack goes on until the
    /// handle ends it (or the drain time does).
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.enter();
        {
            let mut st = self.shared.lock();
            st.shutting_down = true;
            if let Some(w) = st.signal.take() {
                w.wake();
            }
        }
        self.finish(t, false)
    }

    // `buffered` stays 0: the bridge's two buffers are bounded by its
    // `BridgeConfig`, and counting them in the stack's would make an
    // unread read side (or the bridge's own write buffer) close the stack's
    // `writable()`, which is what drains that write buffer.
}

impl BridgeProtocol {
    /// Queues what the stack read for the handle; pauses the stack past
    /// the read buffer.
    fn queue(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        let mut st = self.shared.lock();
        if st.dropped || data.is_empty() {
            return;
        }
        st.rlen += data.len();
        st.rbuf.push_back(data);
        if let Some(w) = st.reader.take() {
            w.wake();
        }
        if st.rlen >= self.shared.read_cap && !st.read_paused {
            st.read_paused = true;
            drop(st);
            t.pause_reading();
        }
    }
}

impl Drop for BridgeProtocol {
    /// A stack dropped without `connection_lost` (its task was cancelled):
    /// the handle must not wait for ever.
    fn drop(&mut self) {
        {
            let mut st = self.shared.lock();
            if let Some(f) = &st.inline {
                f.busy.store(true, SeqCst);
            }
            if st.end.is_none() {
                st.end = Some(Close::aborted("driver", AbortReason::Shutdown));
                st.wake = None;
                st.wake_handle();
            }
        }
        if let Some(inl) = &mut self.inline {
            // A stack that never started never polled the future: it goes
            // with it.
            if inl.flags.wake.get().is_some() {
                inl.release();
            }
        }
    }
}

/// The async half of a bridge: a strata stream transport at the top of a
/// stack, as tokio's [`AsyncRead`] + [`AsyncWrite`] (`Unpin + Send`), for
/// hyper, tonic, tokio-util codecs or `tokio::io::copy`.
///
/// * `poll_read` gives what the peer sent; 0 bytes is its EOF. Not reading
///   pauses the stack (see [`BridgeConfig::read_buffer`]).
/// * `poll_write` takes up to [`BridgeConfig::write_buffer`] bytes ahead of
///   the stack and is `Pending` past that, until the stack (and so the
///   peer) takes them.
/// * `poll_flush` is ready at once, as a socket's is: what was written is
///   handed down in order, and a close flushes it.
/// * `poll_shutdown` half-closes (`write_eof`) once the written bytes are
///   handed down; the stack closes when both sides have ended. On a stack
///   that already ended cleanly it is `Ok`.
/// * Dropping the handle closes the stack gracefully; [`abort`](Self::abort)
///   aborts it.
///
/// An unclean end of the stack is an `io::Error` ([`close_to_io`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let (a, mut peer) = tokio::io::duplex(4096);
/// let (proto, mut s) = strata_tokio::bridge(Default::default());
/// strata_tokio::spawn_async(a, proto, strata::BottomInfo::new("duplex"), Default::default());
/// peer.write_all(b"hi").await.unwrap();
/// let mut buf = [0; 2];
/// s.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"hi");
/// assert_eq!(s.layer_chain(), ["duplex"]);
/// # }
/// ```
#[derive(Debug)]
pub struct BridgeStream {
    shared: Arc<Shared>,
}

impl BridgeStream {
    /// The peer's address, as the stack knows it (`t.get::<PeerAddr>()`),
    /// once the stack has started.
    ///
    /// ```
    /// let (_proto, s) = strata_tokio::bridge(Default::default());
    /// assert_eq!(s.peer_addr(), None); // not started
    /// ```
    pub fn peer_addr(&self) -> Option<Addr> {
        self.shared.lock().peer.clone()
    }

    /// The layers below the bridge, top first (`["tls", "reliable", "udp"]`),
    /// once the stack has started; empty before.
    ///
    /// ```
    /// let (_proto, s) = strata_tokio::bridge(Default::default());
    /// assert!(s.layer_chain().is_empty());
    /// ```
    pub fn layer_chain(&self) -> Vec<&'static str> {
        self.shared.lock().chain.clone()
    }

    /// Aborts the stack now (a TCP reset, a QUIC `RESET_STREAM`): buffered
    /// bytes are dropped, and further reads and writes fail with
    /// `ConnectionAborted`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tokio::io::AsyncReadExt;
    /// let (a, _peer) = tokio::io::duplex(64);
    /// let (proto, mut s) = strata_tokio::bridge(Default::default());
    /// let task = strata_tokio::spawn_async(a, proto, strata::BottomInfo::new("duplex"), Default::default());
    /// s.abort();
    /// assert!(!task.await.unwrap().is_clean());
    /// let err = s.read_u8().await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
    /// # }
    /// ```
    pub fn abort(&self) {
        let mut st = self.shared.lock();
        st.abort_requested = true;
        st.wake_stack();
    }

    /// A future that resolves when the owner of the stack starts a graceful
    /// shutdown ([`Server::shutdown`](crate::Server::shutdown) delivers
    /// `on_shutdown`), or when the stack has ended: the cue for an async
    /// server to finish (hyper's `graceful_shutdown`). It does not hold the
    /// stream open, and is `Clone`, `Send` and `Unpin`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (a, _peer) = tokio::io::duplex(64);
    /// let (proto, s) = strata_tokio::bridge(Default::default());
    /// strata_tokio::spawn_async(a, proto, strata::BottomInfo::new("duplex"), Default::default());
    /// let signal = s.shutdown_signal();
    /// drop(s); // closes the stack: its end resolves the signal too
    /// signal.await;
    /// # }
    /// ```
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            shared: self.shared.clone(),
        }
    }

    /// Why the stack ended, once it has.
    ///
    /// ```
    /// let (_proto, s) = strata_tokio::bridge(Default::default());
    /// assert!(s.end().is_none());
    /// ```
    pub fn end(&self) -> Option<Close> {
        self.shared.lock().end.clone()
    }
}

/// Resolves when the owner of a bridged stack starts a graceful shutdown,
/// or the stack ends ([`BridgeStream::shutdown_signal`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (proto, s) = strata_tokio::bridge(Default::default());
/// let signal = s.shutdown_signal();
/// drop(proto); // a stack dropped unstarted has ended
/// signal.await;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ShutdownSignal {
    shared: Arc<Shared>,
}

impl std::future::Future for ShutdownSignal {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.shared.lock();
        if st.shutting_down || st.end.is_some() {
            return Poll::Ready(());
        }
        set_waker(&mut st.signal, cx);
        Poll::Pending
    }
}

/// The `io::Error` of a stack's unclean end, with a kind that says what
/// happened: a reset is `ConnectionReset`, a timeout `TimedOut`, an I/O
/// error keeps its kind, any abort (by a layer, by this side) is
/// `ConnectionAborted`; the message is the reason.
///
/// ```
/// use strata::{AbortReason, Close};
/// use std::io::ErrorKind;
/// assert_eq!(strata_tokio::close_to_io(&Close::Reset).kind(), ErrorKind::ConnectionReset);
/// let e = strata_tokio::close_to_io(&Close::aborted("tls", AbortReason::Requested));
/// assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
/// assert!(e.to_string().contains("tls"));
/// ```
pub fn close_to_io(why: &Close) -> io::Error {
    let kind = match why {
        Close::Reset => io::ErrorKind::ConnectionReset,
        Close::Timeout(_) => io::ErrorKind::TimedOut,
        Close::Io(k) => *k,
        Close::Done => io::ErrorKind::BrokenPipe,
        _ => io::ErrorKind::ConnectionAborted,
    };
    io::Error::new(kind, why.to_string())
}

/// Keeps `cx`'s waker in `slot`, without a clone when it is the same task's.
fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *slot = Some(cx.waker().clone());
    }
}

impl AsyncRead for BridgeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read_cap = self.shared.read_cap;
        let mut st = self.shared.lock();
        if st.rlen > 0 {
            while buf.remaining() > 0 {
                let Some(front) = st.rbuf.front_mut() else {
                    break;
                };
                let n = front.len().min(buf.remaining());
                buf.put_slice(&front[..n]);
                front.advance(n);
                if front.is_empty() {
                    st.rbuf.pop_front();
                }
                st.rlen -= n;
            }
            if st.read_paused && st.rlen <= read_cap / 2 {
                st.wake_stack();
            }
            return Poll::Ready(Ok(()));
        }
        if st.eof_in {
            return Poll::Ready(Ok(()));
        }
        match &st.end {
            Some(why) if why.is_clean() => Poll::Ready(Ok(())),
            Some(why) => Poll::Ready(Err(close_to_io(why))),
            None => {
                set_waker(&mut st.reader, cx);
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for BridgeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(data)])
    }

    /// The slices are copied into the one buffer in one go (hyper and h2
    /// write a frame head and its body as two slices).
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let cap = self.shared.write_cap;
        let mut st = self.shared.lock();
        if let Some(why) = &st.end {
            return Poll::Ready(Err(close_to_io(why)));
        }
        if st.shutdown_requested {
            let e = io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown");
            return Poll::Ready(Err(e));
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let mut room = cap.saturating_sub(st.wbuf.len());
        if room == 0 {
            set_waker(&mut st.writer, cx);
            st.wake_stack();
            return Poll::Pending;
        }
        let mut n = 0;
        for b in bufs {
            let take = room.min(b.len());
            st.wbuf.extend_from_slice(&b[..take]);
            n += take;
            room -= take;
            if room == 0 {
                break;
            }
        }
        st.wake_stack();
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let st = self.shared.lock();
        match &st.end {
            Some(why) if !st.wbuf.is_empty() => Poll::Ready(Err(close_to_io(why))),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.lock();
        if st.eof_out_sent {
            return Poll::Ready(Ok(()));
        }
        match &st.end {
            // Ended cleanly: nothing is left to shut down.
            Some(why) if why.is_clean() => return Poll::Ready(Ok(())),
            Some(why) => return Poll::Ready(Err(close_to_io(why))),
            None => {}
        }
        st.shutdown_requested = true;
        set_waker(&mut st.writer, cx);
        st.wake_stack();
        Poll::Pending
    }
}

impl Drop for BridgeStream {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.dropped = true;
        st.reader = None;
        st.writer = None;
        st.wake_stack();
    }
}

#[cfg(test)]
#[path = "top_tests.rs"]
mod tests;
