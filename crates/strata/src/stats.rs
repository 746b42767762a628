//! Statistics: what each layer counted, readable through the stack.
//!
//! Counting is the layer's own business and costs plain `u64` adds: a layer
//! keeps a [`Counters`] beside its state, bumps it where it already handles
//! the bytes, and answers it as a capability from the view it presents
//! above (`local_capability`). A layer that knows its path (the reliable
//! mapping, QUIC) answers [`PathStats`] too. Nothing is shared between
//! threads here: the owner of a stack (the driver) reads the counters when
//! it wants them and aggregates them itself.
//!
//! `layer_stats()` (on `dyn` [`Introspect`] and `dyn`
//! [`StreamTransport`]) walks the stack top-down and
//! collects every layer's figures, in chain order (the same order as
//! `layer_chain()`):
//!
//! ```
//! use strata::{Stack, StreamProtocol, StreamTransport};
//! struct Echo;
//! impl StreamProtocol for Echo {
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//! let mut s = Stack::memory(Box::new(Echo));
//! let now = s.now();
//! s.handle_input(now, b"ping");
//! let stats = s.inspect(|t| t.layer_stats());
//! assert_eq!(stats[0].layer, "memory");
//! let c = stats[0].counters.unwrap();
//! assert_eq!((c.bytes_in, c.bytes_out, c.buffered), (4, 4, 4));
//! ```

use std::time::Duration;

use crate::{Introspect, StreamTransport};

/// Capability: what one layer counted. Bytes are counted where the layer
/// meets the transport below it: `bytes_in` it received from below,
/// `bytes_out` it handed below (so a TLS layer counts records, with their
/// overhead; the bottom counts what was queued for the socket, and what of
/// it the socket has not taken yet is `buffered`). Frames are the
/// layer's own units where it has any (TLS records, HTTP/2 frames,
/// datagrams); zero where it has none. `buffered` is what the layer holds
/// for output at the last event, as far as it knows it.
///
/// ```
/// use strata::stats::Counters;
/// let mut c = Counters::default();
/// c.received(100);
/// c.sent(40);
/// c.frame_sent();
/// assert_eq!((c.bytes_in, c.bytes_out, c.frames_out), (100, 40, 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes received from the transport below.
    pub bytes_in: u64,
    /// Bytes handed to the transport below (for the bottom: queued for the socket).
    pub bytes_out: u64,
    /// Frames (the layer's units) received.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Bytes held for output at the last event.
    pub buffered: u64,
}

impl Counters {
    /// Counts `n` bytes received from below.
    ///
    /// ```
    /// let mut c = strata::stats::Counters::default();
    /// c.received(3);
    /// assert_eq!(c.bytes_in, 3);
    /// ```
    #[inline]
    pub fn received(&mut self, n: usize) {
        self.bytes_in = self.bytes_in.wrapping_add(n as u64);
    }

    /// Counts `n` bytes handed below.
    ///
    /// ```
    /// let mut c = strata::stats::Counters::default();
    /// c.sent(3);
    /// assert_eq!(c.bytes_out, 3);
    /// ```
    #[inline]
    pub fn sent(&mut self, n: usize) {
        self.bytes_out = self.bytes_out.wrapping_add(n as u64);
    }

    /// Counts one frame received.
    ///
    /// ```
    /// let mut c = strata::stats::Counters::default();
    /// c.frame_received();
    /// assert_eq!(c.frames_in, 1);
    /// ```
    #[inline]
    pub fn frame_received(&mut self) {
        self.frames_in = self.frames_in.wrapping_add(1);
    }

    /// Counts one frame sent.
    ///
    /// ```
    /// let mut c = strata::stats::Counters::default();
    /// c.frame_sent();
    /// assert_eq!(c.frames_out, 1);
    /// ```
    #[inline]
    pub fn frame_sent(&mut self) {
        self.frames_out = self.frames_out.wrapping_add(1);
    }

    /// What was counted since `earlier` (a snapshot of the same counters):
    /// the byte and frame counts as differences, `buffered` as now. The
    /// driver adds these deltas into its totals.
    ///
    /// ```
    /// use strata::stats::Counters;
    /// let a = Counters { bytes_in: 10, bytes_out: 4, ..Counters::default() };
    /// let b = Counters { bytes_in: 25, bytes_out: 4, buffered: 7, ..a };
    /// let d = b.since(&a);
    /// assert_eq!((d.bytes_in, d.bytes_out, d.buffered), (15, 0, 7));
    /// ```
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            bytes_in: self.bytes_in.wrapping_sub(earlier.bytes_in),
            bytes_out: self.bytes_out.wrapping_sub(earlier.bytes_out),
            frames_in: self.frames_in.wrapping_sub(earlier.frames_in),
            frames_out: self.frames_out.wrapping_sub(earlier.frames_out),
            buffered: self.buffered,
        }
    }
}

/// Capability: the state of the network path, where a layer measures it
/// (the reliable mapping, QUIC).
///
/// ```
/// use strata::stats::PathStats;
/// let s = PathStats::default();
/// assert_eq!(s.lost_packets, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathStats {
    /// Smoothed round-trip time.
    pub rtt: Duration,
    /// Congestion window, in bytes.
    pub cwnd: u64,
    /// Packets declared lost so far.
    pub lost_packets: u64,
    /// Packets sent so far.
    pub sent_packets: u64,
}

/// One layer's figures, as `layer_stats()` collects them.
///
/// ```
/// use strata::stats::LayerStats;
/// let s = LayerStats { layer: "tcp", counters: None, path: None };
/// assert_eq!(s.layer, "tcp");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerStats {
    /// The layer's name, as in `layer_chain()`.
    pub layer: &'static str,
    /// Its counters, if it keeps any.
    pub counters: Option<Counters>,
    /// Its path figures, if it measures a path.
    pub path: Option<PathStats>,
}

impl<'a> dyn Introspect + 'a {
    /// Every layer's figures, top first, one entry per layer of
    /// `layer_chain()` (a layer that counts nothing has
    /// `counters: None`). Each layer answers for itself only: this is a walk
    /// of `local_capability`, not a lookup that stops at the first answer.
    ///
    /// ```
    /// use strata::{Introspect, testing::MemoryTransport};
    /// let t = MemoryTransport::new();
    /// let t: &dyn Introspect = &t;
    /// assert_eq!(t.layer_stats().len(), t.layer_chain().len());
    /// ```
    pub fn layer_stats(&self) -> Vec<LayerStats> {
        let mut out = Vec::new();
        let mut cur: Option<&dyn Introspect> = Some(self);
        while let Some(t) = cur {
            out.push(LayerStats {
                layer: t.name(),
                counters: local::<Counters>(t),
                path: local::<PathStats>(t),
            });
            cur = t.below();
        }
        out
    }
}

impl<'a> dyn StreamTransport + 'a {
    /// Every layer's figures, top first (as on `dyn Introspect`).
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new();
    /// let t: &dyn StreamTransport = &t;
    /// assert_eq!(t.layer_stats()[0].layer, t.layer_chain()[0]);
    /// ```
    pub fn layer_stats(&self) -> Vec<LayerStats> {
        (self as &dyn Introspect).layer_stats()
    }
}

/// What `t` itself answers for `T`, not a layer below it.
fn local<T: std::any::Any + Copy>(t: &dyn Introspect) -> Option<T> {
    t.local_capability(std::any::TypeId::of::<T>())
        .and_then(|v| v.downcast_ref::<T>())
        .copied()
}
