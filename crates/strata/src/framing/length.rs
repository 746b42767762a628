//! [`LengthPrefixed`]: datagrams over a stream, each behind a big-endian length.

use std::any::{Any, TypeId};

use crate::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramTransport, Introspect,
    ReliableDelivery, StreamProtocol, StreamTransport, Transmit,
};

/// The default largest frame payload: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;

/// The layer name of [`LengthPrefixed`], as in `layer_chain()`.
const FRAMES: &str = "frames";

/// At most this many frames go up in one `datagrams_received` batch, so a
/// chunk full of tiny frames neither allocates without bound nor delays a
/// read pause for long.
const MAX_BATCH: usize = 64;

/// The width of the big-endian length in front of each frame.
///
/// ```
/// use strata::framing::Prefix;
/// assert_eq!(Prefix::U16.len(), 2);
/// assert_eq!(Prefix::U16.max_len(), 65535);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// Two bytes: frames up to 65 535 bytes.
    U16,
    /// Four bytes: frames up to 4 GiB − 1 (in practice `max_frame`).
    U32,
}

impl Prefix {
    /// The prefix's size in bytes.
    ///
    /// ```
    /// use strata::framing::Prefix;
    /// assert_eq!(Prefix::U16.len(), 2);
    /// assert_eq!(Prefix::U32.len(), 4);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a width, not a container
    pub fn len(self) -> usize {
        match self {
            Prefix::U16 => 2,
            Prefix::U32 => 4,
        }
    }

    /// The largest length the prefix can express.
    ///
    /// ```
    /// use strata::framing::Prefix;
    /// assert_eq!(Prefix::U16.max_len(), 65_535);
    /// assert_eq!(Prefix::U32.max_len() as u64, u64::from(u32::MAX));
    /// ```
    pub fn max_len(self) -> usize {
        match self {
            Prefix::U16 => u16::MAX as usize,
            Prefix::U32 => usize::try_from(u32::MAX).unwrap_or(usize::MAX),
        }
    }

    /// Reads a length from the first `self.len()` bytes of `b`; callers
    /// check that `b` holds at least that many.
    fn read(self, b: &[u8]) -> usize {
        match self {
            Prefix::U16 => usize::from(u16::from_be_bytes([b[0], b[1]])),
            Prefix::U32 => {
                let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                usize::try_from(n).unwrap_or(usize::MAX)
            }
        }
    }

    /// Encodes `n` (at most `max_len()`, checked by the caller).
    fn write(self, n: usize, out: &mut [u8; 4]) -> &[u8] {
        match self {
            Prefix::U16 => {
                out[..2].copy_from_slice(&(n as u16).to_be_bytes());
                &out[..2]
            }
            Prefix::U32 => {
                out.copy_from_slice(&(n as u32).to_be_bytes());
                &out[..]
            }
        }
    }
}

/// Configuration of a [`LengthPrefixed`] layer.
///
/// ```
/// use strata::framing::{LengthConfig, Prefix};
/// let cfg = LengthConfig { prefix: Prefix::U16, ..LengthConfig::default() };
/// assert_eq!(cfg.effective_max_frame(), 65535); // clamped to the prefix's range
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthConfig {
    /// The length field (default [`Prefix::U32`]).
    pub prefix: Prefix,
    /// The largest frame payload, both ways (default [`DEFAULT_MAX_FRAME`]);
    /// clamped to what the prefix can express.
    pub max_frame: usize,
}

impl Default for LengthConfig {
    fn default() -> Self {
        LengthConfig {
            prefix: Prefix::U32,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl LengthConfig {
    /// `max_frame`, clamped to the prefix's range: the limit in force.
    ///
    /// ```
    /// use strata::framing::{LengthConfig, Prefix};
    /// let cfg = LengthConfig { prefix: Prefix::U32, max_frame: 4096 };
    /// assert_eq!(cfg.effective_max_frame(), 4096);
    /// let wide = LengthConfig { prefix: Prefix::U16, max_frame: 1 << 20 };
    /// assert_eq!(wide.effective_max_frame(), 65_535);
    /// ```
    pub fn effective_max_frame(&self) -> usize {
        self.max_frame.min(self.prefix.max_len())
    }
}

/// Datagrams over a stream: a [`StreamProtocol`] below that presents a
/// [`DatagramTransport`] named `frames` to a [`DatagramProtocol`] above.
///
/// # Driving contract
///
/// * **Wire format.** Each datagram is one frame: its length as a big-endian
///   [`Prefix`], then its bytes. Empty datagrams are allowed.
/// * **Input.** Each `data_received` delivers the frames it completes as
///   batches of [`Datagram`]s (source `None`, at most 64 per batch). A
///   partial frame is kept, bounded by `max_frame` plus the prefix. A length
///   over `max_frame` aborts the connection with
///   `AbortReason::FrameTooLarge { size, limit }` as soon as the prefix is
///   read, before any of the frame is buffered; the frames before it are
///   delivered first.
/// * **EOF.** At a frame boundary it becomes the inner protocol's
///   `eof_received`; in the middle of a frame it aborts with
///   [`AbortReason::TruncatedFrame`].
/// * **Output.** Each `send` writes one frame (a `Transmit` with
///   `segment_size` writes one frame per segment). A datagram over
///   `max_frame` is dropped and counted ([`dropped_sends`](Self::dropped_sends)),
///   as every datagram transport does with oversize datagrams; `destination`
///   and ECN are ignored (a stream is connected and has no marks).
///   `write_eof` half-closes the stream below.
/// * **Read pause** takes effect between batches; the rest of the chunk is
///   kept and delivered once the inner protocol resumes (by this layer, at
///   the end of that callback). It is forwarded below too.
/// * **Back-pressure, close, abort, time, wakes, deadlines** pass through:
///   the stack's `pause_writing`/`resume_writing` edges reach the inner
///   protocol, and `writable()`/`buffered()` are the stream's.
/// * **Capabilities.** The view answers [`ReliableDelivery(true)`](ReliableDelivery):
///   nothing is lost, duplicated or reordered; [`HalfClose`](crate::HalfClose),
///   addresses and the rest are the stream's. `max_datagram_size` is
///   `max_frame`.
///
/// ```
/// use strata::framing::LengthPrefixed;
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack, Transmit};
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
///         for d in batch { t.send(&Transmit::connected(d.data)) }
///     }
/// }
/// let mut s = Stack::memory(Box::new(LengthPrefixed::new(Echo)));
/// let now = s.now();
/// s.handle_input(now, &[0, 0, 0, 2, b'h', b'i', 0, 0]);
/// s.handle_input(now, &[0, 0]); // an empty frame, split across chunks
/// assert_eq!(s.take_output(now), [0, 0, 0, 2, b'h', b'i', 0, 0, 0, 0]);
/// ```
pub struct LengthPrefixed<P> {
    inner: P,
    /// The frame being received: prefix, then payload (bounded by max_frame).
    rx: Vec<u8>,
    /// Input kept while paused, not yet parsed.
    held: Vec<u8>,
    st: State,
}

struct State {
    prefix: Prefix,
    max_frame: usize,
    paused: bool,
    dead: bool,
    eof: Eof,
    dropped: u64,
    /// Bytes and frames in and out: a capability of the `frames` view.
    counters: crate::stats::Counters,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eof {
    No,
    Pending,
    Delivered,
}

impl<P: DatagramProtocol> LengthPrefixed<P> {
    /// A layer with the default configuration (u32 prefix, 1 MiB frames).
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl DatagramProtocol for Count {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) { self.0 += b.len() }
    /// # }
    /// use strata::framing::{LengthPrefixed, Prefix, DEFAULT_MAX_FRAME};
    /// let l = LengthPrefixed::new(Count::default());
    /// assert_eq!(l.config().prefix, Prefix::U32);
    /// assert_eq!(l.config().max_frame, DEFAULT_MAX_FRAME);
    /// ```
    pub fn new(inner: P) -> Self {
        Self::with_config(inner, LengthConfig::default())
    }

    /// A layer with an explicit configuration.
    ///
    /// ```
    /// use strata::framing::{LengthConfig, LengthPrefixed, Prefix};
    /// # struct P;
    /// # impl strata::DatagramProtocol for P {
    /// #     fn datagrams_received(&mut self, _: &mut dyn strata::DatagramTransport, _: &[strata::Datagram<'_>]) {}
    /// # }
    /// let l = LengthPrefixed::with_config(P, LengthConfig { prefix: Prefix::U16, max_frame: 1200 });
    /// assert_eq!(l.config().max_frame, 1200);
    /// ```
    pub fn with_config(inner: P, cfg: LengthConfig) -> Self {
        LengthPrefixed {
            inner,
            rx: Vec::new(),
            held: Vec::new(),
            st: State {
                prefix: cfg.prefix,
                max_frame: cfg.effective_max_frame(),
                paused: false,
                dead: false,
                eof: Eof::No,
                dropped: 0,
                counters: crate::stats::Counters::default(),
            },
        }
    }

    /// The configuration in force (`max_frame` already clamped).
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl DatagramProtocol for Count {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) { self.0 += b.len() }
    /// # }
    /// use strata::framing::{LengthConfig, LengthPrefixed, Prefix};
    /// let cfg = LengthConfig { prefix: Prefix::U16, max_frame: 100_000 };
    /// let l = LengthPrefixed::with_config(Count::default(), cfg);
    /// assert_eq!(l.config().max_frame, 65_535); // clamped to the u16 prefix
    /// ```
    pub fn config(&self) -> LengthConfig {
        LengthConfig {
            prefix: self.st.prefix,
            max_frame: self.st.max_frame,
        }
    }

    /// The inner protocol.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl DatagramProtocol for Count {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) { self.0 += b.len() }
    /// # }
    /// use strata::framing::LengthPrefixed;
    /// let mut s = Stack::memory(Box::new(LengthPrefixed::new(Count::default())));
    /// let now = s.now();
    /// s.handle_input(now, &[0, 0, 0, 1, b'a', 0, 0, 0, 1, b'b']);
    /// assert_eq!(s.protocol::<LengthPrefixed<Count>>().unwrap().inner().0, 2);
    /// ```
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The inner protocol, mutably.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl DatagramProtocol for Count {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) { self.0 += b.len() }
    /// # }
    /// use strata::framing::LengthPrefixed;
    /// let mut l = LengthPrefixed::new(Count::default());
    /// l.inner_mut().0 = 5;
    /// assert_eq!(l.inner().0, 5);
    /// ```
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// Input bytes held and not yet delivered: the partial frame (at most
    /// the prefix plus `max_frame`) and, while paused, the unparsed rest.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl DatagramProtocol for Count {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, b: &[Datagram<'_>]) { self.0 += b.len() }
    /// # }
    /// use strata::framing::LengthPrefixed;
    /// let mut s = Stack::memory(Box::new(LengthPrefixed::new(Count::default())));
    /// let now = s.now();
    /// s.handle_input(now, &[0, 0, 0, 5, b'h', b'e']); // a prefix and 2 of 5 bytes
    /// assert_eq!(s.protocol::<LengthPrefixed<Count>>().unwrap().pending_input(), 6);
    /// ```
    pub fn pending_input(&self) -> usize {
        self.rx.len() + self.held.len()
    }

    /// Datagrams the inner protocol sent over `max_frame`, dropped.
    ///
    /// ```
    /// use strata::framing::{LengthConfig, LengthPrefixed, Prefix};
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack, Transmit};
    /// struct Big;
    /// impl DatagramProtocol for Big {
    ///     fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
    ///         t.send(&Transmit::connected(&[0; 200])); // over max_frame: dropped
    ///         t.send(&Transmit::connected(&[1; 2]));
    ///     }
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let cfg = LengthConfig { prefix: Prefix::U16, max_frame: 100 };
    /// let mut s = Stack::memory(Box::new(LengthPrefixed::with_config(Big, cfg)));
    /// let now = s.now();
    /// assert_eq!(s.take_output(now), [0, 2, 1, 1]);
    /// assert_eq!(s.protocol::<LengthPrefixed<Big>>().unwrap().dropped_sends(), 1);
    /// ```
    pub fn dropped_sends(&self) -> u64 {
        self.st.dropped
    }

    /// Calls the inner protocol with this layer's view, then settles.
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut P, &mut dyn DatagramTransport),
    ) {
        f(
            &mut self.inner,
            &mut FramesView {
                below: t,
                st: &mut self.st,
            },
        );
        self.settle(t);
    }

    /// This layer's settle step: parse input kept while paused once resumed,
    /// then a pending EOF.
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        if self.st.dead || self.st.paused {
            return;
        }
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            let pos = feed(&mut self.inner, &mut self.st, &mut self.rx, t, &held);
            if self.st.dead {
                return;
            }
            self.held = held;
            self.held.drain(..pos);
            if self.st.paused || self.st.dead {
                return;
            }
        }
        if self.st.eof == Eof::Pending && self.held.is_empty() {
            self.st.eof = Eof::Delivered;
            if !self.rx.is_empty() {
                self.rx = Vec::new();
                self.st.abort(t, AbortReason::TruncatedFrame);
                return;
            }
            self.inner.eof_received(&mut FramesView {
                below: t,
                st: &mut self.st,
            });
        }
    }
}

/// Parses frames out of `data`, delivering complete ones in batches and
/// keeping a trailing partial frame in `rx`. Returns how much of `data` was
/// used: less than all only when paused or aborted.
fn feed<P: DatagramProtocol>(
    inner: &mut P,
    st: &mut State,
    rx: &mut Vec<u8>,
    t: &mut dyn StreamTransport,
    data: &[u8],
) -> usize {
    let h = st.prefix.len();
    let mut pos = 0;
    loop {
        if st.paused || st.dead {
            return pos;
        }
        // 1. Complete the frame started by an earlier chunk.
        let mut rx_done = false;
        if !rx.is_empty() {
            if rx.len() < h {
                let take = (h - rx.len()).min(data.len() - pos);
                rx.extend_from_slice(&data[pos..pos + take]);
                pos += take;
                if rx.len() < h {
                    return pos;
                }
                let size = st.prefix.read(rx);
                if size > st.max_frame {
                    st.too_large(t, size);
                    return pos;
                }
            }
            let total = h + st.prefix.read(rx);
            let take = (total - rx.len()).min(data.len() - pos);
            rx.extend_from_slice(&data[pos..pos + take]);
            pos += take;
            if rx.len() < total {
                return pos;
            }
            rx_done = true;
        }
        // 2. Whole frames inside this chunk, referenced in place.
        let mut batch: Vec<Datagram<'_>> = Vec::new();
        if rx_done {
            batch.push(Datagram::new(None, &rx[h..]));
        }
        let mut oversize = None;
        while batch.len() < MAX_BATCH && data.len() - pos >= h {
            let size = st.prefix.read(&data[pos..]);
            if size > st.max_frame {
                oversize = Some(size);
                break;
            }
            if data.len() - pos - h < size {
                break;
            }
            batch.push(Datagram::new(None, &data[pos + h..pos + h + size]));
            pos += h + size;
        }
        if !batch.is_empty() {
            st.counters.frames_in += batch.len() as u64;
            inner.datagrams_received(&mut FramesView { below: t, st }, &batch);
            drop(batch);
            if rx_done {
                rx.clear();
            }
            continue;
        }
        if let Some(size) = oversize {
            st.too_large(t, size);
            return pos;
        }
        // 3. A partial frame (its prefix, if complete, is within the limit).
        rx.extend_from_slice(&data[pos..]);
        return data.len();
    }
}

impl State {
    fn abort(&mut self, t: &mut dyn StreamTransport, reason: AbortReason) {
        tracing::warn!(%reason, "frames: aborting the connection");
        self.dead = true;
        t.abort(Close::aborted(FRAMES, reason));
    }

    fn too_large(&mut self, t: &mut dyn StreamTransport, size: usize) {
        let limit = self.max_frame;
        self.abort(t, AbortReason::FrameTooLarge { size, limit });
    }
}

impl<P: DatagramProtocol + 'static> StreamProtocol for LengthPrefixed<P> {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.st.dead {
            return;
        }
        self.st.counters.received(data.len());
        if self.held.is_empty() && !self.st.paused {
            let pos = feed(&mut self.inner, &mut self.st, &mut self.rx, t, data);
            if !self.st.dead {
                self.held.extend_from_slice(&data[pos..]);
            }
        } else {
            self.held.extend_from_slice(data);
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
        self.rx = Vec::new();
        self.held = Vec::new();
        self.inner.connection_lost(why);
    }

    // The rest reaches the inner protocol through the view, then settles.
    crate::forward_to_inner!(inner via call, except connection_lost);
}

impl<P> std::fmt::Debug for LengthPrefixed<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LengthPrefixed")
            .field("prefix", &self.st.prefix)
            .field("max_frame", &self.st.max_frame)
            .field("partial_frame", &self.rx.len())
            .field("paused", &self.st.paused)
            .field("dropped_sends", &self.st.dropped)
            .finish_non_exhaustive()
    }
}

/// The `frames` view: a datagram transport over the stream below.
struct FramesView<'a> {
    below: &'a mut dyn StreamTransport,
    st: &'a mut State,
}

impl FramesView<'_> {
    fn frame(&mut self, payload: &[u8]) {
        if payload.len() > self.st.max_frame {
            self.st.dropped += 1;
            tracing::debug!(
                size = payload.len(),
                limit = self.st.max_frame,
                "frames: dropping an oversize datagram"
            );
            return;
        }
        let mut hdr = [0u8; 4];
        // `max_frame` is clamped to the prefix's range, so the length fits.
        let hdr = self.st.prefix.write(payload.len(), &mut hdr);
        self.st.counters.sent(hdr.len() + payload.len());
        self.st.counters.frame_sent();
        self.below.write(hdr);
        self.below.write(payload);
    }
}

impl Introspect for FramesView<'_> {
    fn name(&self) -> &'static str {
        FRAMES
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<crate::stats::Counters>() {
            return Some(&self.st.counters);
        }
        (id == TypeId::of::<ReliableDelivery>()).then_some(&ReliableDelivery(true) as &dyn Any)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl DatagramTransport for FramesView<'_> {
    fn send(&mut self, tx: &Transmit<'_>) {
        match tx.segment_size {
            None => self.frame(tx.contents),
            Some(_) => tx.segments().for_each(|s| self.frame(s)),
        }
    }
    fn max_datagram_size(&self) -> usize {
        self.st.max_frame
    }
    fn pause_reading(&mut self) {
        self.st.paused = true;
        self.below.pause_reading();
    }
    fn resume_reading(&mut self) {
        self.st.paused = false;
        self.below.resume_reading();
    }
    crate::forward_to_lower!(below: write_eof, close, abort, buffered, writable, now, waker);
}
