//! [`Lines`]: a layer that splits a byte stream into delimited lines.

use std::time::Instant;

use crate::framing::delimiter::Delimiter;
use crate::framing::lines_view::LinesView;
use crate::{AbortReason, Close, StreamLayer, StreamProtocol, StreamTransport, WakeRoute};

/// The default longest line, delimiter excluded: 16 KiB.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

/// The layer name of [`Lines`], as in `layer_chain()`.
pub const LINES: &str = "lines";

/// Configuration of a [`Lines`] layer.
///
/// ```
/// use strata::framing::{Delimiter, LinesConfig};
/// let cfg = LinesConfig { delimiter: Delimiter::LF, ..LinesConfig::default() };
/// assert_eq!(cfg.max_line, 16 * 1024);
/// assert_eq!(cfg.delimiter.as_bytes(), b"\n");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinesConfig {
    /// What ends a line (default `\r\n`). It is stripped from delivered lines.
    pub delimiter: Delimiter,
    /// The longest line accepted, delimiter excluded (default
    /// [`DEFAULT_MAX_LINE`]). A longer one aborts the connection with
    /// [`AbortReason::LineTooLong`] as soon as it is known to be too long,
    /// even before its delimiter arrives: the layer never buffers more than
    /// `max_line + delimiter.len() - 1` bytes of one line.
    pub max_line: usize,
}

impl Default for LinesConfig {
    fn default() -> Self {
        LinesConfig {
            delimiter: Delimiter::CRLF,
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// A protocol that reacts to lines, run by a [`Lines`] layer.
///
/// The hooks mirror [`StreamProtocol`]; the transport each receives is the
/// `lines` layer's view (writes pass through unchanged; use
/// [`send_line`](crate::framing::send_line) to append the delimiter).
///
/// ```
/// use strata::framing::{send_line, LineProtocol};
/// use strata::StreamTransport;
/// struct Greeter;
/// impl LineProtocol for Greeter {
///     fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
///         let mut reply = b"hello ".to_vec();
///         reply.extend_from_slice(line);
///         send_line(t, &reply);
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _unterminated: &[u8]) {
///         t.close();
///     }
/// }
/// ```
pub trait LineProtocol: Send {
    /// The transport is ready; called once, first.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// struct Banner;
    /// impl LineProtocol for Banner {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { send_line(t, b"220 ready") }
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Lines::new(Banner)));
    /// let now = s.now();
    /// assert_eq!(s.take_output(now), b"220 ready\r\n");
    /// ```
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// A complete line arrived, its delimiter stripped.
    ///
    /// ```
    /// # use strata::framing::{LineProtocol, Lines};
    /// # use strata::{Stack, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Vec<Vec<u8>>);
    /// # impl LineProtocol for Seen {
    /// #     fn line_received(&mut self, _: &mut dyn StreamTransport, l: &[u8]) { self.0.push(l.to_vec()) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// # }
    /// let mut s = Stack::memory(Box::new(Lines::new(Seen::default())));
    /// let now = s.now();
    /// s.handle_input(now, b"one\r\ntw");
    /// s.handle_input(now, b"o\r\n");
    /// assert_eq!(s.protocol::<Lines<Seen>>().unwrap().inner().0, [b"one".to_vec(), b"two".to_vec()]);
    /// ```
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]);
    /// The peer will send nothing more. `unterminated` holds the bytes after
    /// the last delimiter (usually empty): they never form a line, so they are
    /// handed over here rather than dropped silently. No default: a protocol
    /// that answers after EOF must not forget to.
    ///
    /// ```
    /// use strata::framing::{send_line, LineProtocol, Lines};
    /// use strata::{Stack, StreamTransport};
    /// struct Tail;
    /// impl LineProtocol for Tail {
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, rest: &[u8]) {
    ///         send_line(t, rest); // the bytes after the last delimiter
    ///         t.close();
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(Lines::new(Tail)));
    /// let now = s.now();
    /// s.handle_input(now, b"a\r\nunfinished");
    /// s.handle_eof(now);
    /// assert_eq!(s.take_output(now), b"unfinished\r\n");
    /// ```
    fn eof_received(&mut self, t: &mut dyn StreamTransport, unterminated: &[u8]);
    /// The connection is gone; called once, last.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// #[derive(Default)]
    /// struct Seen { clean: Option<bool> }
    /// impl LineProtocol for Seen {
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn connection_lost(&mut self, why: &Close) { self.clean = Some(why.is_clean()) }
    /// }
    /// let mut s = Stack::memory(Box::new(Lines::new(Seen::default())));
    /// s.keep_protocol();
    /// let now = s.now();
    /// s.handle_eof(now);
    /// assert_eq!(s.protocol::<Lines<Seen>>().unwrap().inner().clean, Some(true));
    /// ```
    fn connection_lost(&mut self, why: &Close) {
        let _ = why;
    }
    /// Edge: the stack crossed its high-water mark.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// #[derive(Default)]
    /// struct Chatty { paused: bool }
    /// impl LineProtocol for Chatty {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { send_line(t, &[b'x'; 30]) }
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn pause_writing(&mut self, _: &mut dyn StreamTransport) { self.paused = true }
    /// }
    /// let cfg = StackConfig { high_water: 16, low_water: 4, ..StackConfig::default() };
    /// let s = Stack::memory_with(Box::new(Lines::new(Chatty::default())), cfg);
    /// assert!(s.protocol::<Lines<Chatty>>().unwrap().inner().paused);
    /// ```
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// Edge: the stack drained to its low-water mark.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// #[derive(Default)]
    /// struct Chatty { paused: bool }
    /// impl LineProtocol for Chatty {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { send_line(t, &[b'x'; 30]) }
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn pause_writing(&mut self, _: &mut dyn StreamTransport) { self.paused = true }
    ///     fn resume_writing(&mut self, _: &mut dyn StreamTransport) { self.paused = false }
    /// }
    /// let cfg = StackConfig { high_water: 16, low_water: 4, ..StackConfig::default() };
    /// let mut s = Stack::memory_with(Box::new(Lines::new(Chatty::default())), cfg);
    /// let now = s.now();
    /// assert!(s.protocol::<Lines<Chatty>>().unwrap().inner().paused);
    /// s.take_output(now); // the bottom drains
    /// assert!(!s.protocol::<Lines<Chatty>>().unwrap().inner().paused);
    /// ```
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// When this protocol next wants `on_deadline`.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// struct Idle(Option<Instant>);
    /// impl LineProtocol for Idle {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { self.0 = Some(t.now() + Duration::from_secs(30)) }
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn next_deadline(&self) -> Option<Instant> { self.0 }
    /// }
    /// let s = Stack::memory(Box::new(Lines::new(Idle(None))));
    /// assert_eq!(s.next_deadline(), Some(s.now() + Duration::from_secs(30)));
    /// ```
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// A deadline passed (spurious calls are allowed).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// struct Idle(Option<Instant>);
    /// impl LineProtocol for Idle {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { self.0 = Some(t.now() + Duration::from_secs(30)) }
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn next_deadline(&self) -> Option<Instant> { self.0 }
    ///     fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
    ///         if self.0.is_some_and(|d| t.now() >= d) {
    ///             send_line(t, b"421 idle");
    ///             t.close();
    ///         }
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(Lines::new(Idle(None))));
    /// let t0 = s.now();
    /// s.handle_timeout(t0 + Duration::from_secs(30));
    /// assert_eq!(s.take_output(t0 + Duration::from_secs(30)), b"421 idle\r\n");
    /// ```
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let _ = t;
    }
    /// A [`Wake`](crate::Wake) handle was woken.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// use strata::WakeRoute;
    /// #[derive(Default)]
    /// struct Notified { woken: usize }
    /// impl LineProtocol for Notified {
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
    ///         self.woken += 1;
    ///         send_line(t, b"* news");
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(Lines::new(Notified::default())));
    /// s.inspect(|t| t.waker()).wake(); // from another task, say
    /// let now = s.now();
    /// s.handle_wakes(now);
    /// assert_eq!(s.protocol::<Lines<Notified>>().unwrap().inner().woken, 1);
    /// assert_eq!(s.take_output(now), b"* news\r\n");
    /// ```
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        let _ = (t, route);
    }
    /// The owner is shutting down gracefully; the default closes.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// struct Polite;
    /// impl LineProtocol for Polite {
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
    ///         send_line(t, b"421 shutting down");
    ///         t.close();
    ///     }
    /// }
    /// let mut s = Stack::memory(Box::new(Lines::new(Polite)));
    /// let now = s.now();
    /// s.handle_shutdown(now);
    /// assert_eq!(s.take_output(now), b"421 shutting down\r\n");
    /// assert!(s.finished().unwrap().is_clean());
    /// ```
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    /// Bytes this protocol holds for output.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use strata::framing::{send_line, LineProtocol, Lines};
    /// # use strata::{Close, Stack, StackConfig, StreamTransport};
    /// // A protocol that holds 100 bytes of output of its own.
    /// struct Holding;
    /// impl LineProtocol for Holding {
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    ///     fn buffered(&self) -> usize { 100 }
    /// }
    /// // They count against the stack's watermarks.
    /// let cfg = StackConfig { high_water: 64, low_water: 16, ..StackConfig::default() };
    /// let s = Stack::memory_with(Box::new(Lines::new(Holding)), cfg);
    /// assert!(s.is_write_paused());
    /// ```
    fn buffered(&self) -> usize {
        0
    }
}

impl<P: LineProtocol + ?Sized> LineProtocol for Box<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        (**self).connection_made(t)
    }
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        (**self).line_received(t, line)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, unterminated: &[u8]) {
        (**self).eof_received(t, unterminated)
    }
    fn connection_lost(&mut self, why: &Close) {
        (**self).connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        (**self).pause_writing(t)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        (**self).resume_writing(t)
    }
    fn next_deadline(&self) -> Option<Instant> {
        (**self).next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        (**self).on_deadline(t)
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        (**self).on_wake(t, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        (**self).on_shutdown(t)
    }
    fn buffered(&self) -> usize {
        (**self).buffered()
    }
}

/// A stream layer that splits its input into lines for a [`LineProtocol`].
///
/// # Driving contract
///
/// `Lines` is a [`StreamProtocol`] to the transport below and presents a
/// transport named `lines` to its inner protocol, built afresh for every call.
///
/// * **Input.** Each `data_received` delivers every complete line it
///   completes, in order, one `line_received` per line. A line split across
///   chunks (its delimiter too) is reassembled. The bytes of an unfinished
///   line are kept, bounded by [`LinesConfig::max_line`]: a line known to be
///   longer aborts the connection with
///   `Close::aborted("lines", AbortReason::LineTooLong { limit })`, logs a
///   warning, and delivers nothing more.
/// * **Read pause.** `pause_reading` on the view takes effect at once, even
///   between two lines of one chunk: the rest is kept and delivered after the
///   inner protocol calls `resume_reading` (at the end of that callback, by
///   this layer: it owns the inner protocol). Both are forwarded below too, so
///   the stack stops reading from the peer. An EOF that arrives while paused
///   waits for the lines before it.
/// * **EOF.** Delivered after the last complete line, with the unterminated
///   tail (see [`LineProtocol::eof_received`]).
/// * **Swaps.** `request_swap(req, leftover)` is forwarded below with
///   `leftover ++` the bytes this layer still holds after the current line,
///   so the slot hands them to the new layer (an `UPGRADE\r\n` line followed
///   by TLS bytes in the same chunk). Once the request is accepted, no more
///   lines are cut from those bytes; input that arrives afterwards (through
///   the newly inserted layer) is split as usual.
/// * **Writes, close, abort, back-pressure, time, wakes, deadlines** pass
///   through unchanged; `next_deadline` is the inner protocol's (this layer
///   has no timers of its own).
/// * **Capabilities.** The view answers [`Delimiter`]; every other lookup
///   walks to the transport below (`layer_chain()` is `["lines", ...]`).
///
/// ```
/// use strata::framing::{send_line, LineProtocol, Lines};
/// use strata::{Stack, StreamTransport};
/// struct Upper;
/// impl LineProtocol for Upper {
///     fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
///         send_line(t, &line.to_ascii_uppercase());
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _rest: &[u8]) { t.close() }
/// }
/// let mut s = Stack::memory(Box::new(Lines::new(Upper)));
/// let now = s.now();
/// s.handle_input(now, b"one\r\ntw");
/// s.handle_input(now, b"o\r\n");
/// assert_eq!(s.take_output(now), b"ONE\r\nTWO\r\n");
/// ```
pub struct Lines<P> {
    inner: P,
    /// Unconsumed input: an unfinished line, or (while paused) everything
    /// not yet delivered.
    buf: Vec<u8>,
    st: State,
}

/// The state the view shares with the layer (disjoint from `inner` and `buf`).
pub(crate) struct State {
    pub(crate) delim: Delimiter,
    max_line: usize,
    pub(crate) paused: bool,
    /// A swap was accepted: the held bytes went with it.
    pub(crate) handed_over: bool,
    dead: bool,
    eof: Eof,
    /// How many leading bytes of `buf` are known to hold no delimiter start.
    clean: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eof {
    No,
    Pending,
    Delivered,
}

impl<P: LineProtocol> Lines<P> {
    /// A layer with the default configuration (`\r\n`, 16 KiB lines).
    ///
    /// ```
    /// # use strata::framing::{LineProtocol, Lines};
    /// # use strata::{Stack, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Vec<Vec<u8>>);
    /// # impl LineProtocol for Seen {
    /// #     fn line_received(&mut self, _: &mut dyn StreamTransport, l: &[u8]) { self.0.push(l.to_vec()) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// # }
    /// let lines = Lines::new(Seen::default());
    /// assert_eq!(lines.config().max_line, 16 * 1024);
    /// ```
    pub fn new(inner: P) -> Self {
        Self::with_config(inner, LinesConfig::default())
    }

    /// A layer with an explicit configuration.
    ///
    /// ```
    /// use strata::framing::{Delimiter, LineProtocol, Lines, LinesConfig};
    /// # struct P;
    /// # impl LineProtocol for P {
    /// #     fn line_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// # }
    /// let cfg = LinesConfig { delimiter: Delimiter::new("\0").unwrap(), max_line: 512 };
    /// let lines = Lines::with_config(P, cfg);
    /// assert_eq!(lines.config().max_line, 512);
    /// ```
    pub fn with_config(inner: P, cfg: LinesConfig) -> Self {
        Lines {
            inner,
            buf: Vec::new(),
            st: State {
                delim: cfg.delimiter,
                max_line: cfg.max_line,
                paused: false,
                handed_over: false,
                dead: false,
                eof: Eof::No,
                clean: 0,
            },
        }
    }

    /// The configuration in force.
    ///
    /// ```
    /// # use strata::framing::{LineProtocol, Lines};
    /// # use strata::{Stack, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Vec<Vec<u8>>);
    /// # impl LineProtocol for Seen {
    /// #     fn line_received(&mut self, _: &mut dyn StreamTransport, l: &[u8]) { self.0.push(l.to_vec()) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// # }
    /// let lines = Lines::new(Seen::default());
    /// assert_eq!(lines.config(), strata::framing::LinesConfig::default());
    /// ```
    pub fn config(&self) -> LinesConfig {
        LinesConfig {
            delimiter: self.st.delim.clone(),
            max_line: self.st.max_line,
        }
    }

    /// The inner protocol.
    ///
    /// ```
    /// # use strata::framing::{LineProtocol, Lines};
    /// # use strata::{Stack, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Vec<Vec<u8>>);
    /// # impl LineProtocol for Seen {
    /// #     fn line_received(&mut self, _: &mut dyn StreamTransport, l: &[u8]) { self.0.push(l.to_vec()) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// # }
    /// let lines = Lines::new(Seen::default());
    /// assert!(lines.inner().0.is_empty());
    /// ```
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The inner protocol, mutably.
    ///
    /// ```
    /// # use strata::framing::{LineProtocol, Lines};
    /// # use strata::{Stack, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Vec<Vec<u8>>);
    /// # impl LineProtocol for Seen {
    /// #     fn line_received(&mut self, _: &mut dyn StreamTransport, l: &[u8]) { self.0.push(l.to_vec()) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// # }
    /// let mut lines = Lines::new(Seen::default());
    /// lines.inner_mut().0.push(b"seeded".to_vec());
    /// assert_eq!(lines.inner().0.len(), 1);
    /// ```
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// Unwraps the inner protocol.
    ///
    /// ```
    /// # use strata::framing::{LineProtocol, Lines};
    /// # use strata::{Stack, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Vec<Vec<u8>>);
    /// # impl LineProtocol for Seen {
    /// #     fn line_received(&mut self, _: &mut dyn StreamTransport, l: &[u8]) { self.0.push(l.to_vec()) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// # }
    /// let lines = Lines::new(Seen(vec![b"x".to_vec()]));
    /// assert_eq!(lines.into_inner().0, [b"x".to_vec()]);
    /// ```
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// Bytes received but not yet delivered as lines.
    ///
    /// ```
    /// # use strata::framing::{LineProtocol, Lines};
    /// # use strata::{Stack, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Seen(Vec<Vec<u8>>);
    /// # impl LineProtocol for Seen {
    /// #     fn line_received(&mut self, _: &mut dyn StreamTransport, l: &[u8]) { self.0.push(l.to_vec()) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// # }
    /// let mut s = Stack::memory(Box::new(Lines::new(Seen::default())));
    /// let now = s.now();
    /// s.handle_input(now, b"partial");
    /// assert_eq!(s.protocol::<Lines<Seen>>().unwrap().pending_input(), 7);
    /// ```
    pub fn pending_input(&self) -> usize {
        self.buf.len()
    }

    /// Calls the inner protocol with this layer's view, then settles.
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        let mut view = LinesView::new(t, &mut self.st, &self.buf);
        f(&mut self.inner, &mut view);
        self.settle(t);
    }

    /// This layer's own settle step, run after every call into the inner
    /// protocol: deliver lines kept while paused once resumed, drop what a
    /// swap took, then deliver a pending EOF.
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        let stopped = self.st.dead || self.st.paused || self.st.handed_over;
        if !stopped && !self.buf.is_empty() {
            self.drain(t);
        }
        if self.st.handed_over || self.st.dead {
            self.buf = Vec::new();
            self.st.clean = 0;
            // Whatever arrives next comes from the layer now below.
            self.st.handed_over = false;
            return;
        }
        if self.st.paused {
            return;
        }
        if self.st.eof == Eof::Pending {
            self.st.eof = Eof::Delivered;
            let rest = std::mem::take(&mut self.buf);
            self.st.clean = 0;
            let mut view = LinesView::new(t, &mut self.st, &[]);
            self.inner.eof_received(&mut view, &rest);
        }
    }

    /// Delivers the lines held in `buf` and compacts it.
    fn drain(&mut self, t: &mut dyn StreamTransport) {
        let scan = self.st.clean;
        let pos = deliver(&mut self.inner, &mut self.st, t, &self.buf, 0, scan);
        if self.st.handed_over || self.st.dead {
            self.buf = Vec::new();
            self.st.clean = 0;
            return;
        }
        self.buf.drain(..pos);
        self.st.clean = if self.st.paused {
            0
        } else {
            self.buf.len().saturating_sub(self.st.delim.len() - 1)
        };
    }
}

/// Delivers the complete lines of `src[pos..]`, searching for the first
/// delimiter from `scan`. Returns where it stopped: at a paused, handed-over
/// or aborted point, or at the start of an unfinished line.
fn deliver<P: LineProtocol>(
    inner: &mut P,
    st: &mut State,
    t: &mut dyn StreamTransport,
    src: &[u8],
    mut pos: usize,
    mut scan: usize,
) -> usize {
    let dlen = st.delim.len();
    loop {
        if st.paused || st.handed_over || st.dead {
            return pos;
        }
        match st.delim.find(&src[scan.max(pos)..]) {
            Some(i) => {
                let end = scan.max(pos) + i;
                if end - pos > st.max_line {
                    st.line_too_long(t);
                    return pos;
                }
                let next = end + dlen;
                let mut view = LinesView::new(t, st, &src[next..]);
                inner.line_received(&mut view, &src[pos..end]);
                pos = next;
                scan = next;
            }
            None => {
                // Past this, even a delimiter completed by the next byte
                // would end a line over the limit.
                if src.len() - pos > st.max_line.saturating_add(dlen - 1) {
                    st.line_too_long(t);
                }
                return pos;
            }
        }
    }
}

impl State {
    fn line_too_long(&mut self, t: &mut dyn StreamTransport) {
        let limit = self.max_line;
        tracing::warn!(limit, "lines: line over the limit, aborting the connection");
        self.dead = true;
        t.abort(Close::aborted(LINES, AbortReason::LineTooLong { limit }));
    }
}

impl<P: LineProtocol + 'static> StreamProtocol for Lines<P> {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.st.dead {
            return;
        }
        if self.buf.is_empty() && !self.st.paused {
            // Fast path: cut lines straight out of the caller's chunk and keep
            // only the unfinished tail.
            let pos = deliver(&mut self.inner, &mut self.st, t, data, 0, 0);
            if !(self.st.handed_over || self.st.dead) {
                self.buf.extend_from_slice(&data[pos..]);
                self.st.clean = if self.st.paused {
                    0
                } else {
                    self.buf.len().saturating_sub(self.st.delim.len() - 1)
                };
            }
        } else {
            self.buf.extend_from_slice(data);
            if !self.st.paused {
                self.drain(t);
            }
        }
        self.settle(t);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if self.st.dead || self.st.eof != Eof::No {
            return;
        }
        self.st.eof = Eof::Pending;
        self.settle(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.buf = Vec::new();
        self.inner.connection_lost(why);
    }

    // The rest reaches the inner protocol through the view, then settles.
    crate::forward_to_inner!(inner via call, except connection_lost);
}

impl<P: LineProtocol + 'static> StreamLayer for Lines<P> {
    crate::forward_to_inner!(layer: via call);
}

impl<P> std::fmt::Debug for Lines<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines")
            .field("delimiter", &self.st.delim)
            .field("max_line", &self.st.max_line)
            .field("pending_input", &self.buf.len())
            .field("paused", &self.st.paused)
            .finish_non_exhaustive()
    }
}

/// Writes `line` followed by the delimiter of the nearest [`Lines`] layer
/// below (found as the [`Delimiter`] capability; `\r\n` when there is none).
///
/// ```
/// use strata::framing::send_line;
/// use strata::testing::MemoryTransport;
/// let mut t = MemoryTransport::new();
/// send_line(&mut t, b"PING");
/// assert_eq!(t.take_written(), b"PING\r\n");
/// ```
pub fn send_line(t: &mut dyn StreamTransport, line: &[u8]) {
    let delim = t.get::<Delimiter>().cloned().unwrap_or(Delimiter::CRLF);
    t.write(line);
    t.write(delim.as_bytes());
}
