//! [`StreamOverFrames`]: a byte stream over a reliable datagram transport.

use std::any::{Any, TypeId};

use bytes::Bytes;

use crate::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramTransport, Introspect,
    ReliableDelivery, StreamProtocol, StreamTransport, Transmit,
};

/// The layer name of [`StreamOverFrames`], as in `layer_chain()`.
const STREAM: &str = "stream";

/// A byte stream over a **reliable** datagram transport: a
/// [`DatagramProtocol`] below that presents a [`StreamTransport`] named
/// `stream` to a [`StreamProtocol`] above.
///
/// Over [`LengthPrefixed`](crate::framing::LengthPrefixed) (which is
/// reliable: it runs over a stream) this makes a stream transport again, so
/// any stream protocol runs on a framed connection unchanged. It does no
/// sequencing or retransmission: over a lossy transport (UDP) use the
/// reliable mapping layer instead.
///
/// # Driving contract
///
/// * **Reliability check.** `connection_made` looks up the
///   [`ReliableDelivery`] capability through the transport; unless it is
///   `ReliableDelivery(true)` the connection is aborted with
///   `Close::aborted("stream", AbortReason::NotReliable)` and the inner
///   protocol is never called (not even `connection_lost`).
/// * **Input.** Each datagram is the next chunk of the stream: one
///   `data_received` per non-empty datagram, in order.
/// * **Output.** `write` splits the bytes into datagrams of at most
///   `max_datagram_size()`; `write_eof` is the transport's `write_eof`
///   (over `LengthPrefixed`, a half-close of the stream below).
/// * **EOF** from below is the inner protocol's `eof_received`.
/// * **Read pause** takes effect at the next datagram: the rest of the batch
///   is kept and delivered (as one chunk) once the inner protocol resumes, at
///   the end of that callback. It is forwarded below too.
/// * **Back-pressure, close, abort, time, wakes, deadlines** pass through.
///   `request_swap` answers [`SwapError::Unsupported`](crate::SwapError):
///   the inner protocol is held by type (a dispatch per frame saved). To
///   let the protocol above swap itself, give it in a swap point:
///   `StreamOverFrames::new(ProtocolSlot::new(p))` (see
///   [`ProtocolSlot`](crate::ProtocolSlot)).
///
/// ```
/// use strata::framing::{LengthPrefixed, StreamOverFrames};
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let layer = LengthPrefixed::new(StreamOverFrames::new(Echo));
/// let mut s = Stack::memory(Box::new(layer));
/// let now = s.now();
/// s.handle_input(now, &[0, 0, 0, 3, b'a', b'b', b'c']);
/// assert_eq!(s.take_output(now), [0, 0, 0, 3, b'a', b'b', b'c']);
/// ```
pub struct StreamOverFrames<P> {
    inner: P,
    /// Input kept while paused.
    held: Vec<u8>,
    st: State,
}

struct State {
    /// The inner protocol got `connection_made` (so it gets `connection_lost`).
    started: bool,
    paused: bool,
    dead: bool,
    eof: Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eof {
    No,
    Pending,
    Delivered,
}

impl<P: StreamProtocol> StreamOverFrames<P> {
    /// Wraps a stream protocol.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len() }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::framing::{LengthPrefixed, StreamOverFrames};
    /// let mut s = Stack::memory(Box::new(LengthPrefixed::new(StreamOverFrames::new(Count::default()))));
    /// let now = s.now();
    /// s.handle_input(now, &[0, 0, 0, 3, b'a', b'b', b'c']); // one frame: 3 stream bytes
    /// assert!(s.finished().is_none()); // LengthPrefixed is reliable: accepted
    /// ```
    pub fn new(inner: P) -> Self {
        StreamOverFrames {
            inner,
            held: Vec::new(),
            st: State {
                started: false,
                paused: false,
                dead: false,
                eof: Eof::No,
            },
        }
    }

    /// The inner protocol.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len() }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::framing::{LengthPrefixed, StreamOverFrames};
    /// type Framed = LengthPrefixed<StreamOverFrames<Count>>;
    /// let mut s = Stack::memory(Box::new(LengthPrefixed::new(StreamOverFrames::new(Count::default()))));
    /// let now = s.now();
    /// s.handle_input(now, &[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 1, b'!']);
    /// assert_eq!(s.protocol::<Framed>().unwrap().inner().inner().0, 3);
    /// ```
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The inner protocol, mutably.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Count(usize);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len() }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::framing::StreamOverFrames;
    /// let mut l = StreamOverFrames::new(Count::default());
    /// l.inner_mut().0 = 10;
    /// assert_eq!(l.inner().0, 10);
    /// ```
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// Calls the inner protocol with this layer's view, then settles.
    fn call(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        if self.st.dead {
            return;
        }
        f(
            &mut self.inner,
            &mut StreamView {
                below: t,
                st: &mut self.st,
            },
        );
        self.settle(t);
    }

    /// This layer's settle step: deliver input kept while paused once
    /// resumed, then a pending EOF.
    fn settle(&mut self, t: &mut dyn DatagramTransport) {
        while !self.st.dead && !self.st.paused {
            if !self.held.is_empty() {
                let data = std::mem::take(&mut self.held);
                let mut view = StreamView {
                    below: t,
                    st: &mut self.st,
                };
                self.inner.data_received(&mut view, &data);
                continue;
            }
            if self.st.eof == Eof::Pending {
                self.st.eof = Eof::Delivered;
                let mut view = StreamView {
                    below: t,
                    st: &mut self.st,
                };
                self.inner.eof_received(&mut view);
                continue;
            }
            return;
        }
    }
}

impl<P: StreamProtocol> DatagramProtocol for StreamOverFrames<P> {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        if !t.get::<ReliableDelivery>().is_some_and(|r| r.0) {
            tracing::warn!("stream: the datagram transport below is not reliable, aborting");
            self.st.dead = true;
            t.abort(Close::aborted(STREAM, AbortReason::NotReliable));
            return;
        }
        self.st.started = true;
        self.call(t, |p, v| p.connection_made(v));
    }

    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            if self.st.dead {
                return;
            }
            if self.st.paused || !self.held.is_empty() {
                self.held.extend_from_slice(d.data);
            } else if !d.data.is_empty() {
                let mut view = StreamView {
                    below: t,
                    st: &mut self.st,
                };
                self.inner.data_received(&mut view, d.data);
            }
        }
        self.settle(t);
    }

    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        if self.st.dead || self.st.eof != Eof::No {
            return;
        }
        self.st.eof = Eof::Pending;
        self.settle(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.held = Vec::new();
        if self.st.started {
            self.inner.connection_lost(why);
        }
    }

    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        if self.st.dead {
            return t.close();
        }
        self.call(t, |p, v| p.on_shutdown(v));
    }

    // The rest reaches the inner protocol through the view, then settles. A
    // stream protocol has no `error_received`: the default (ignore) stays.
    crate::forward_to_inner!(datagram: inner via call,
        except connection_made, connection_lost, on_shutdown, error_received);
}

impl<P> std::fmt::Debug for StreamOverFrames<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamOverFrames")
            .field("held", &self.held.len())
            .field("paused", &self.st.paused)
            .finish_non_exhaustive()
    }
}

/// The `stream` view: a stream transport over the datagram transport below.
struct StreamView<'a> {
    below: &'a mut dyn DatagramTransport,
    st: &'a mut State,
}

impl Introspect for StreamView<'_> {
    fn name(&self) -> &'static str {
        STREAM
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        let _ = id;
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for StreamView<'_> {
    fn write(&mut self, data: &[u8]) {
        if data.is_empty() || self.st.dead {
            return;
        }
        let max = self.below.max_datagram_size();
        if max == 0 {
            // Nothing can carry a byte: fail loudly rather than lose data.
            self.st.dead = true;
            let reason = AbortReason::FrameTooLarge {
                size: data.len(),
                limit: 0,
            };
            self.below.abort(Close::aborted(STREAM, reason));
            return;
        }
        for chunk in data.chunks(max) {
            self.below.send(&Transmit::connected(chunk));
        }
    }
    fn write_bytes(&mut self, data: Bytes) {
        self.write(&data);
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
