//! KCP mode as a layer: a byte stream over a datagram transport, spoken
//! with the [`kcp`](super::kcp) engine so that the peer can be any ikcp
//! implementation (the C reference, the `kcp` crate, kcp-go...).
//!
//! * [`KcpStream`] runs one conversation over a *connected* datagram
//!   transport (a client, or a connected UDP socket) and hosts a
//!   [`StreamProtocol`] on it.
//! * [`KcpListener`] serves an *unconnected* socket: it demultiplexes
//!   datagrams by (source address, conversation id) and runs one
//!   conversation per pair, each hosting a protocol made by a factory.
//!
//! The protocol above sees a [`StreamTransport`](crate::StreamTransport)
//! named `kcp`. The bytes on the wire are exactly the bytes written (stream
//! mode, no framing of our own), so either side can be a foreign ikcp peer.
//!
//! # What KCP cannot say, and what this layer does instead
//!
//! * **No FIN.** KCP has no end-of-stream, so by default the protocol
//!   above never gets `eof_received`, and `write_eof` cannot half-close
//!   (the [`HalfClose`] capability is `false`). A protocol that calls it
//!   anyway, expecting to keep reading, fails fast: what it wrote is
//!   flushed (as by `close`), then the conversation ends with
//!   `Close::Aborted { layer: "kcp", reason: Custom(KcpError::NoHalfClose) }`,
//!   instead of a reader waiting for an end its peer cannot see. A `close`
//!   after it (nothing more to read is expected) ends with [`Close::Done`].
//! * **The end marker, between strata ends.** With
//!   [`KcpStreamConfig::fin`] (`reliable.kcp_fin=true`) on both ends,
//!   `write_eof` (and `close`) send a zero-byte data segment after the last
//!   byte ([`Kcp::send_end`]): it is sequenced, acknowledged and
//!   retransmitted like data, and ikcp in stream mode never sends one, so
//!   it cannot be mistaken for data (a dedicated command byte would be
//!   dropped, unacknowledged, by a stock peer's `ikcp_input`, and would need
//!   its own retransmission). The peer's protocol gets `eof_received` after
//!   every byte; [`HalfClose`] is `true`; the conversation ends with
//!   [`Close::Done`] once our marker is acknowledged and the peer's
//!   delivered. A stock peer acknowledges the marker like any segment.
//!   The last acknowledgement is not retransmitted: if it is lost, the side
//!   waiting for it ends by its close timeout or dead-link detection.
//! * **No close handshake.** `close` flushes what is queued, waits until the
//!   peer acknowledged all of it, then ends the conversation with
//!   [`Close::Done`], bounded by [`KcpStreamConfig::close_timeout`]
//!   (`Close::Timeout(Timeout::CloseFlush)` past it). Without the end
//!   marker the peer learns nothing: it notices by its idle timer or its
//!   dead-link detection.
//! * **No keep-alive.** A conversation with no valid datagram from the peer
//!   for [`KcpStreamConfig::idle_timeout`] ends with
//!   `Close::Timeout(Timeout::Idle)`.
//! * **Dead link.** When the engine sent a segment `dead_link` times without
//!   an acknowledgement ([`Kcp::is_dead_link`]), the conversation ends with
//!   `Close::aborted("kcp", AbortReason::PeerAborted)`.
//!
//! # Driving contract
//!
//! The contract of [`crate::stream`] and [`crate::datagram`]: every callback
//! is followed by this layer's settle step, which moves bytes written over
//! the engine's send buffer into it as acknowledgements free room, delivers
//! what the engine reassembled (unless reading is paused), delivers the
//! `pause_writing`/`resume_writing` edges, finishes a close, and then sends
//! every datagram the engine has ready. Timers are the engine's
//! ([`Kcp::next_timeout`]), the idle and close timers, and the inner
//! protocol's, all behind one `next_deadline`.
//!
//! * **Write back-pressure.** Bytes go straight into the engine, which keeps
//!   them until acknowledged. The level `writable()` is false once the bytes
//!   not yet acknowledged reach [`KcpStreamConfig::high_water`] (or the
//!   transport below is not writable); `pause_writing` is delivered when
//!   they reach it and `resume_writing` once they drain to `low_water`
//!   (and the transport below is writable again). A protocol that ignores
//!   the signal and holds more than [`KcpStreamConfig::memory_budget`] is
//!   aborted with [`AbortReason::MemoryBudget`]. The layer reports those
//!   bytes as its `buffered()`, so the datagram stack below counts them
//!   toward its own watermarks too (for a listener, all conversations'
//!   together), and its `pause_writing` pauses the protocol(s) above.
//! * **Read back-pressure.** While the protocol above has paused reading,
//!   the layer stops taking bytes out of the engine: its receive window
//!   fills and the peer stops sending (KCP's flow control). Reading from
//!   the transport below never stops, since acknowledgements must flow.
//! * **Bad datagrams** (malformed, another conversation, from another
//!   address) are counted in [`KcpCounters`] and dropped; they never end a
//!   conversation.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
//! use strata::testing::{LinkConfig, SimNet};
//! use strata::{StreamProtocol, StreamTransport};
//!
//! struct Echo;
//! impl StreamProtocol for Echo {
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//! struct Hello(Arc<Mutex<Vec<u8>>>);
//! impl StreamProtocol for Hello {
//!     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello") }
//!     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
//!         self.0.lock().unwrap().extend_from_slice(d)
//!     }
//!     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
//! }
//!
//! let got = Arc::new(Mutex::new(Vec::new()));
//! let (ca, sa) = ("127.0.0.1:1000".parse().unwrap(), "127.0.0.2:2000".parse().unwrap());
//! let client = KcpStream::new(7, KcpStreamConfig::default(), Hello(got.clone()))
//!     .unwrap()
//!     .with_peer(sa);
//! let server = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(Echo) as _)).unwrap();
//! let mut net = SimNet::new(1);
//! let c = net.add_node(ca, Box::new(client));
//! let s = net.add_node(sa, Box::new(server));
//! net.link_both(c, s, LinkConfig::default().delay(Duration::from_millis(5)));
//! net.run_until(Duration::from_secs(5), |_| got.lock().unwrap().len() == 5);
//! assert_eq!(&got.lock().unwrap()[..], b"hello");
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::kcp::{Kcp, KcpConfig, KcpError};
use crate::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramTransport, HalfClose, StreamProtocol,
    WakeRoute,
};

mod conn;
mod listener;
#[cfg(test)]
mod tests;

pub use listener::{KcpListener, KcpListenerConfig};

use conn::Conn;

/// The layer name, as in `layer_chain()`.
pub const KCP: &str = "kcp";

/// Settings of one KCP conversation as a stream layer.
///
/// ```
/// use std::time::Duration;
/// use strata::reliable::kcp::KcpConfig;
/// use strata::reliable::kcp_stream::KcpStreamConfig;
/// let cfg = KcpStreamConfig { kcp: KcpConfig::fast_mode(), idle_timeout: None, ..KcpStreamConfig::default() };
/// assert_eq!(cfg.high_water, 64 * 1024);
/// assert_eq!(KcpStreamConfig::default().idle_timeout, Some(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcpStreamConfig {
    /// The engine's settings (default: [`KcpConfig::default_mode`], with
    /// congestion control). `stream` is forced on: this layer carries a
    /// byte stream.
    pub kcp: KcpConfig,
    /// `pause_writing` when the bytes written and not yet acknowledged
    /// reach this (default 64 KiB).
    pub high_water: usize,
    /// `resume_writing` when they drain to this (default 16 KiB).
    pub low_water: usize,
    /// Bytes written and not yet acknowledged past which the conversation
    /// is aborted with [`AbortReason::MemoryBudget`] (default 4 MiB).
    pub memory_budget: usize,
    /// End the conversation when nothing valid arrived for this long
    /// (default 60 s; `None`: never).
    pub idle_timeout: Option<Duration>,
    /// How long `close` may wait for the peer to acknowledge what was
    /// written (default 10 s).
    pub close_timeout: Duration,
    /// Half-close with an end marker both strata ends agree on (default
    /// false; endpoint option `reliable.kcp_fin=true`): `write_eof` sends a
    /// zero-byte data segment after the last byte, the peer's protocol gets
    /// `eof_received`, and the conversation ends with [`Close::Done`] once
    /// both directions ended. ikcp in stream mode never sends an empty
    /// segment, so the marker cannot be mistaken for data; a stock peer
    /// acknowledges it like any segment, but what its API makes of an empty
    /// segment varies. Both ends must set it. Without
    /// it `write_eof` cannot half-close: see the module documentation.
    pub fin: bool,
}

impl Default for KcpStreamConfig {
    fn default() -> Self {
        KcpStreamConfig {
            kcp: KcpConfig::default_mode(),
            high_water: 64 * 1024,
            low_water: 16 * 1024,
            memory_budget: 4 * 1024 * 1024,
            idle_timeout: Some(Duration::from_secs(60)),
            close_timeout: Duration::from_secs(10),
            fin: false,
        }
    }
}

impl KcpStreamConfig {
    /// The engine settings actually used (stream mode forced on), checked.
    fn engine(&self) -> Result<KcpConfig, KcpError> {
        let cfg = KcpConfig {
            stream: true,
            ..self.kcp.clone()
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Counters shared by a [`KcpStream`] or a [`KcpListener`] and whoever
/// holds a clone of the handle (tests, metrics).
///
/// ```
/// use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
/// # struct P;
/// # impl strata::StreamProtocol for P {
/// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
/// # }
/// let s = KcpStream::new(1, KcpStreamConfig::default(), P).unwrap();
/// let c = s.counters();
/// assert_eq!(c.bad_datagrams(), 0);
/// ```
#[derive(Debug, Default)]
pub struct KcpCounters {
    bad: AtomicU64,
    stray: AtomicU64,
    refused: AtomicU64,
    accepted: AtomicU64,
    closed: AtomicU64,
}

impl KcpCounters {
    /// Datagrams the engine rejected: malformed, or for another conversation.
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// let mut layer = KcpStream::new(1, cfg, P).unwrap().with_peer(peer);
    /// let counters = layer.counters();
    /// DatagramProtocol::connection_made(&mut layer, &mut t);
    /// DatagramProtocol::datagrams_received(&mut layer, &mut t, &[Datagram::new(Some(peer), b"not kcp")]);
    /// assert_eq!(counters.bad_datagrams(), 1);
    /// ```
    pub fn bad_datagrams(&self) -> u64 {
        self.bad.load(Ordering::Relaxed)
    }

    /// Datagrams that belong to no conversation: from an address other than
    /// the peer's, without a source, or (listener) not opening a new one.
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// let mut layer = KcpStream::new(1, cfg, P).unwrap().with_peer(peer);
    /// let counters = layer.counters();
    /// DatagramProtocol::connection_made(&mut layer, &mut t);
    /// let stranger = "192.0.2.99:4000".parse().unwrap();
    /// DatagramProtocol::datagrams_received(&mut layer, &mut t, &[Datagram::new(Some(stranger), b"hello?")]);
    /// assert_eq!((counters.stray_datagrams(), counters.bad_datagrams()), (1, 0));
    /// ```
    pub fn stray_datagrams(&self) -> u64 {
        self.stray.load(Ordering::Relaxed)
    }

    /// Listener: new conversations refused (at the connection limit, or
    /// shutting down).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::kcp::{Command, Segment};
    /// # use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Quit;
    /// # impl StreamProtocol for Quit {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # /// A client's first datagram: one PUSH of `data`, acknowledging nothing.
    /// # fn first(conv: u32, data: &[u8]) -> Vec<u8> {
    /// #     let mut d = Vec::new();
    /// #     Segment { conv, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn: 0, una: 0, data }.encode(&mut d);
    /// #     d
    /// # }
    /// # let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = ("192.0.2.1:4000".parse().unwrap(), "192.0.2.2:4000".parse().unwrap());
    /// # let mut t = MemoryDatagramTransport::new(1500);
    /// # use strata::DatagramTransport;
    /// # struct Hold;
    /// # impl StreamProtocol for Hold {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let _ = Quit;
    /// let cfg = KcpListenerConfig { max_connections: 1, ..KcpListenerConfig::default() };
    /// let mut l = KcpListener::new(cfg, Arc::new(|| Box::new(Hold) as _)).unwrap();
    /// let counters = l.counters();
    /// l.connection_made(&mut t);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(a), &first(1, b"x"))]);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(b), &first(1, b"x"))]); // one too many
    /// assert_eq!((counters.accepted(), counters.refused()), (1, 1));
    /// ```
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Listener: conversations accepted.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::kcp::{Command, Segment};
    /// # use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Quit;
    /// # impl StreamProtocol for Quit {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # /// A client's first datagram: one PUSH of `data`, acknowledging nothing.
    /// # fn first(conv: u32, data: &[u8]) -> Vec<u8> {
    /// #     let mut d = Vec::new();
    /// #     Segment { conv, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn: 0, una: 0, data }.encode(&mut d);
    /// #     d
    /// # }
    /// # let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = ("192.0.2.1:4000".parse().unwrap(), "192.0.2.2:4000".parse().unwrap());
    /// # let mut t = MemoryDatagramTransport::new(1500);
    /// # use strata::DatagramTransport;
    /// let mut l = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(Quit) as _)).unwrap();
    /// let counters = l.counters();
    /// l.connection_made(&mut t);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(a), &first(1, b"x"))]);
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(b), &first(1, b"x"))]);
    /// assert_eq!(counters.accepted(), 2); // one conversation per (address, conv)
    /// ```
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Listener: conversations ended (any reason).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::reliable::kcp::{Command, Segment};
    /// # use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct Quit;
    /// # impl StreamProtocol for Quit {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # /// A client's first datagram: one PUSH of `data`, acknowledging nothing.
    /// # fn first(conv: u32, data: &[u8]) -> Vec<u8> {
    /// #     let mut d = Vec::new();
    /// #     Segment { conv, cmd: Command::Push, frg: 0, wnd: 128, ts: 0, sn: 0, una: 0, data }.encode(&mut d);
    /// #     d
    /// # }
    /// # let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = ("192.0.2.1:4000".parse().unwrap(), "192.0.2.2:4000".parse().unwrap());
    /// # let mut t = MemoryDatagramTransport::new(1500);
    /// # use strata::DatagramTransport;
    /// let mut l = KcpListener::new(KcpListenerConfig::default(), Arc::new(|| Box::new(Quit) as _)).unwrap();
    /// let counters = l.counters();
    /// l.connection_made(&mut t);
    /// // The conversation's protocol closes on its first bytes: nothing to wait for.
    /// l.datagrams_received(&mut t, &[Datagram::new(Some(a), &first(1, b"x"))]);
    /// assert_eq!((counters.accepted(), counters.closed()), (1, 1));
    /// assert_eq!(l.connections(), 0);
    /// ```
    pub fn closed(&self) -> u64 {
        self.closed.load(Ordering::Relaxed)
    }

    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// One KCP conversation over a connected datagram transport, hosting a
/// stream protocol `P`: a [`DatagramProtocol`] below, a
/// [`StreamTransport`](crate::StreamTransport)
/// named `kcp` above. See the [module documentation](self) for the
/// behaviour (close, back-pressure, timers) and an example.
///
/// Both sides of a conversation use the same `conv`. Datagrams go to the
/// connected peer, or to the address given with [`with_peer`](KcpStream::with_peer)
/// (then datagrams from any other address are dropped and counted).
///
/// ```
/// use strata::reliable::kcp::KcpConfig;
/// use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
/// use strata::{DatagramStack, StreamProtocol, StreamTransport};
/// struct Greeter;
/// impl StreamProtocol for Greeter {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
///         assert_eq!(t.layer_chain(), ["kcp", "memory"]);
///         t.write(b"hi");
///     }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
/// }
/// // The memory transport carries 1200-byte datagrams: use that MTU.
/// let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
/// let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
/// let layer = KcpStream::new(9, cfg, Greeter).unwrap();
/// let mut s = DatagramStack::memory(Box::new(layer));
/// // Congestion control: the first tick opens the window, the second sends.
/// for _ in 0..2 {
///     let at = s.next_deadline().unwrap();
///     s.handle_timeout(at);
/// }
/// let out = s.take_transmits(s.now());
/// assert_eq!(out.len(), 1);
/// assert_eq!(&out[0].contents[..4], &9u32.to_le_bytes());
/// assert_eq!(&out[0].contents[24..], b"hi");
/// ```
pub struct KcpStream<P> {
    conn: Conn<P>,
    /// The end was passed below (close or abort).
    ended: bool,
}

impl<P: StreamProtocol> KcpStream<P> {
    /// A conversation `conv` hosting `inner`. Fails if `cfg.kcp` is invalid.
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// # let _ = (&peer, &mut t);
    /// assert!(KcpStream::new(1, cfg.clone(), P).is_ok());
    /// let bad = KcpStreamConfig { kcp: KcpConfig { mtu: 10, ..KcpConfig::default() }, ..cfg };
    /// assert!(KcpStream::new(1, bad, P).is_err()); // the engine's settings are checked
    /// ```
    pub fn new(conv: u32, cfg: KcpStreamConfig, inner: P) -> Result<Self, KcpError> {
        let kcp = Kcp::new(conv, cfg.engine()?)?;
        Ok(KcpStream {
            conn: Conn::kcp(inner, kcp, &cfg, Arc::default()),
            ended: false,
        })
    }

    /// Sends to `peer` (for an unconnected transport) and drops datagrams
    /// from any other source.
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// let mut layer = KcpStream::new(1, cfg, Hi).unwrap().with_peer(peer);
    /// DatagramProtocol::connection_made(&mut layer, &mut t);
    /// let sent = loop {
    ///     // Congestion control: the first tick opens the window, the next sends.
    ///     t.advance(DatagramProtocol::next_deadline(&layer).unwrap() - t.now());
    ///     DatagramProtocol::on_deadline(&mut layer, &mut t);
    ///     let sent = t.take_sent();
    ///     if !sent.is_empty() {
    ///         break sent;
    ///     }
    /// };
    /// assert_eq!(sent[0].destination, Some(peer));
    /// # let _ = Datagram::new(None, b"");
    /// ```
    pub fn with_peer(mut self, peer: SocketAddr) -> Self {
        self.conn.set_peer(peer);
        self
    }

    /// The counters handle (clone it before handing the layer over).
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// let mut layer = KcpStream::new(1, cfg, P).unwrap();
    /// let counters = layer.counters(); // a handle that outlives handing the layer over
    /// DatagramProtocol::connection_made(&mut layer, &mut t);
    /// DatagramProtocol::datagrams_received(&mut layer, &mut t, &[Datagram::new(None, &[0; 30])]);
    /// assert_eq!(counters.bad_datagrams(), 1);
    /// # let _ = peer;
    /// ```
    pub fn counters(&self) -> Arc<KcpCounters> {
        self.conn.ext.counters.clone()
    }

    /// The engine, for its statistics.
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// # let _ = (&peer, &mut t);
    /// let no_stream = KcpStreamConfig { kcp: KcpConfig { stream: false, ..cfg.kcp.clone() }, ..cfg };
    /// let layer = KcpStream::new(7, no_stream, P).unwrap();
    /// assert_eq!(layer.engine().conv(), 7);
    /// assert!(layer.engine().config().stream); // forced on: the layer carries a byte stream
    /// ```
    pub fn engine(&self) -> &Kcp {
        &self.conn.engine
    }

    /// The inner protocol.
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// # let _ = (&peer, &mut t);
    /// # struct Named(&'static str);
    /// # impl StreamProtocol for Named {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// let layer = KcpStream::new(1, cfg, Named("app")).unwrap();
    /// assert_eq!(layer.inner().0, "app");
    /// ```
    pub fn inner(&self) -> &P {
        &self.conn.inner
    }

    /// The inner protocol, mutably.
    ///
    /// ```
    /// # use strata::reliable::kcp::KcpConfig;
    /// # use strata::reliable::kcp_stream::{KcpStream, KcpStreamConfig};
    /// # use strata::testing::MemoryDatagramTransport;
    /// # use strata::{Datagram, DatagramProtocol, StreamProtocol, StreamTransport};
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// # let kcp = KcpConfig { mtu: 1200, ..KcpConfig::default() };
    /// # let cfg = KcpStreamConfig { kcp, ..KcpStreamConfig::default() };
    /// # let peer: std::net::SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// # let mut t = MemoryDatagramTransport::new(1200);
    /// # use strata::DatagramTransport;
    /// # let _ = (&peer, &mut t);
    /// # struct Count(u32);
    /// # impl StreamProtocol for Count {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// # }
    /// let mut layer = KcpStream::new(1, cfg, Count(0)).unwrap();
    /// layer.inner_mut().0 = 5;
    /// assert_eq!(layer.inner().0, 5);
    /// ```
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.conn.inner
    }

    /// Passes the conversation's end below once: a clean end closes the
    /// transport (after the last datagrams), any other aborts it.
    fn after(&mut self, t: &mut dyn DatagramTransport) {
        if self.ended {
            return;
        }
        if let Some(why) = self.conn.ext.end.clone() {
            self.ended = true;
            if why.is_clean() {
                t.close();
            } else {
                t.abort(why);
            }
        }
    }
}

impl<P: StreamProtocol> DatagramProtocol for KcpStream<P> {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        let mtu = self.conn.engine.config().mtu;
        let max = t.max_datagram_size();
        if max < mtu {
            tracing::warn!("kcp: datagrams of {max} bytes cannot carry the MTU of {mtu}");
            self.ended = true;
            self.conn.ext.end = Some(Close::aborted(
                KCP,
                AbortReason::FrameTooLarge {
                    size: mtu,
                    limit: max,
                },
            ));
            if let Some(why) = self.conn.ext.end.clone() {
                t.abort(why);
            }
            return;
        }
        let peer = self.conn.dest;
        self.conn.trace(t, crate::qlog::Vantage::Client, peer);
        self.conn.start(t);
        self.after(t);
    }

    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        if self.ended {
            return;
        }
        for d in batch {
            let foreign = self
                .conn
                .dest
                .is_some_and(|peer| d.source.is_some_and(|s| s != peer));
            if foreign {
                KcpCounters::bump(&self.conn.ext.counters.stray);
                continue;
            }
            self.conn.input(t, d.data);
        }
        self.conn.settle(t);
        self.after(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.conn.lost(why);
    }

    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.conn.ext.below_paused = true;
        self.conn.settle(t);
        self.after(t);
    }

    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.conn.ext.below_paused = false;
        self.conn.settle(t);
        self.after(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        self.conn.next_deadline()
    }

    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        if self.ended {
            return;
        }
        self.conn.on_deadline(t);
        self.after(t);
    }

    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        self.conn.call(t, |p, v| p.on_wake(v, route));
        self.after(t);
    }

    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        if self.ended {
            return t.close();
        }
        self.conn.call(t, |p, v| p.on_shutdown(v));
        self.after(t);
    }

    fn buffered(&self) -> usize {
        self.conn.buffered()
    }
}

impl<P> std::fmt::Debug for KcpStream<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpStream")
            .field("conv", &self.conn.engine.conv())
            .field("buffered", &self.conn.engine.buffered())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// What the `kcp` view answers as its own capabilities: half-close only
/// with the end marker ([`KcpStreamConfig::fin`]).
fn half_close(fin: bool) -> &'static HalfClose {
    static NO: HalfClose = HalfClose(false);
    static YES: HalfClose = HalfClose(true);
    if fin {
        &YES
    } else {
        &NO
    }
}
