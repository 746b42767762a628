//! [`Reliable`]: the mapping layer on the client side, and a pass-through
//! over a stream.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::conn::{ConnError, Connection, ReliableConfig};
use super::native_host::{close_of, NativeHosted, NAME};
use super::rng::{IdRng, Role};
use crate::qlog::Vantage;
use crate::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramTransport, StreamProtocol,
    StreamTransport, WakeRoute,
};

/// The reliable mapping: one type, two behaviours.
///
/// * Over a **datagram** transport it is a full reliable transport (the
///   client side of the native wire format, `docs/reliable-wire.md`): it
///   connects on `connection_made`, and the stream protocol above sees a
///   `reliable` stream transport once the handshake is done. The protocol
///   above gets `connection_made` only then, and `connection_lost` with a
///   typed reason at the end ([`ConnError`] inside
///   [`AbortReason::Layer`], read with `why.error::<ConnError>()`, or
///   [`Close::Timeout`] for idle and handshake
///   timeouts).
/// * Over a **stream** transport it is a plain pass-through: every call
///   goes to the protocol above unchanged, so a stack is written once and
///   runs over TCP or UDP.
///
/// The server side is [`ReliableListener`](super::ReliableListener).
///
/// # Driving contract
///
/// * **Writes** are queued in the connection's send buffer. The protocol
///   above sees the stack's watermarks: once the bytes not yet sent reach
///   [`ReliableConfig::high_water`] (or everything held reaches
///   [`ReliableConfig::send_buffer`]) `writable()` is false and it gets
///   `pause_writing`, and `resume_writing` once they drain to `low_water`
///   (and the send buffer to half); past `max_send_buffer` the connection
///   is closed. `write_eof` sends FIN
///   (half-close); `close` sends FIN and closes once everything is
///   acknowledged; `abort` closes at once (CLOSE with code 0x100 and the
///   reason).
/// * **Reads**: `pause_reading` stops delivery; the receive window then
///   stops opening, which slows the peer. A peer RESET ends the connection
///   with [`Close::Reset`].
/// * **Both directions finished** (our FIN acknowledged, the peer's
///   delivered) closes the connection with NO_ERROR: `connection_lost` gets
///   [`Close::Done`].
///
/// ```
/// use strata::reliable::{Reliable, ReliableConfig};
/// use strata::{DatagramStack, StreamProtocol, StreamTransport};
/// struct Hello;
/// impl StreamProtocol for Hello {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello") }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let layer = Reliable::new(ReliableConfig::default(), Hello);
/// let mut stack = DatagramStack::memory(Box::new(layer));
/// let now = stack.now();
/// stack.start(now);
/// // The first datagram is the padded Initial.
/// assert_eq!(stack.transmits().next().unwrap().as_transmit().contents.len(), 1200);
/// ```
pub struct Reliable<P> {
    cfg: ReliableConfig,
    server: Option<SocketAddr>,
    /// The protocol above until the connection starts (and for good in
    /// pass-through mode).
    inner: Option<P>,
    host: Option<NativeHosted<P>>,
}

impl<P: StreamProtocol> Reliable<P> {
    /// The layer for a connected transport (a connected UDP socket), or for
    /// pass-through over a stream.
    ///
    /// ```
    /// use strata::reliable::{Reliable, ReliableConfig};
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Hello;
    /// impl StreamProtocol for Hello {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello") }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// // Over a stream it is a pass-through: the bytes go out unchanged.
    /// let mut stack = Stack::memory(Box::new(Reliable::new(ReliableConfig::default(), Hello)));
    /// let now = stack.now();
    /// assert_eq!(stack.take_output(now), b"hello");
    /// ```
    pub fn new(cfg: ReliableConfig, inner: P) -> Self {
        Reliable {
            cfg,
            server: None,
            inner: Some(inner),
            host: None,
        }
    }

    /// The layer for an unconnected datagram transport: every datagram goes
    /// to `server`.
    ///
    /// ```
    /// use strata::reliable::{Reliable, ReliableConfig};
    /// # struct P;
    /// # impl strata::StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let layer = Reliable::connect_to("127.0.0.1:9001".parse().unwrap(), ReliableConfig::default(), P);
    /// assert!(layer.connection().is_none());
    /// ```
    pub fn connect_to(server: SocketAddr, cfg: ReliableConfig, inner: P) -> Self {
        Reliable {
            server: Some(server),
            ..Reliable::new(cfg, inner)
        }
    }

    /// The connection, once started (over a datagram transport).
    ///
    /// ```
    /// use strata::reliable::{Reliable, ReliableConfig, Side};
    /// use strata::testing::MemoryDatagramTransport;
    /// use strata::DatagramProtocol;
    /// # struct P;
    /// # impl strata::StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let mut layer = Reliable::new(ReliableConfig::default(), P);
    /// assert!(layer.connection().is_none());
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// DatagramProtocol::connection_made(&mut layer, &mut t); // over a datagram transport
    /// let conn = layer.connection().unwrap();
    /// assert_eq!(conn.side(), Side::Client);
    /// assert!(!conn.is_established()); // its Initial is out
    /// assert_eq!(t.take_sent().len(), 1);
    /// ```
    pub fn connection(&self) -> Option<&Connection> {
        self.host.as_ref().map(|h| &h.engine)
    }

    /// The protocol above.
    ///
    /// ```
    /// use strata::reliable::{Reliable, ReliableConfig};
    /// # struct Named(&'static str);
    /// # impl strata::StreamProtocol for Named {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let layer = Reliable::new(ReliableConfig::default(), Named("app"));
    /// assert_eq!(layer.inner().unwrap().0, "app");
    /// ```
    pub fn inner(&self) -> Option<&P> {
        match &self.host {
            Some(h) => Some(&h.inner),
            None => self.inner.as_ref(),
        }
    }

    /// The protocol above, mutably.
    ///
    /// ```
    /// use strata::reliable::{Reliable, ReliableConfig};
    /// # struct Count(u32);
    /// # impl strata::StreamProtocol for Count {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let mut layer = Reliable::new(ReliableConfig::default(), Count(0));
    /// layer.inner_mut().unwrap().0 += 1;
    /// assert_eq!(layer.inner().unwrap().0, 1);
    /// ```
    pub fn inner_mut(&mut self) -> Option<&mut P> {
        match &mut self.host {
            Some(h) => Some(&mut h.inner),
            None => self.inner.as_mut(),
        }
    }

    fn close_if_finished(&mut self, t: &mut dyn DatagramTransport) {
        let Some(h) = self.host.as_ref().filter(|h| h.finished()) else {
            return;
        };
        if h.st.started {
            t.close();
        } else {
            // The handshake failed: the protocol above never started, so the
            // reason goes to whoever owns the transport (the driver's
            // connect reports it).
            t.abort(close_of(h.engine.error()));
        }
    }
}

impl<P: StreamProtocol> DatagramProtocol for Reliable<P> {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if let Err(e) = self.cfg.validate() {
            tracing::warn!("{e}");
            return t.abort(Close::aborted(NAME, AbortReason::layer(e)));
        }
        // Ids must be unguessable (they stop blind injection): the OS
        // generator, unless the configuration gives a seed.
        let mut rng = IdRng::new(self.cfg.rng_seed, Role::Client);
        let (Some(local), Some(dst)) = (rng.conn_id(), rng.conn_id()) else {
            let e = ConnError::Closed {
                code: super::wire::ErrorCode::INTERNAL_ERROR,
                reason: "no secure random numbers".into(),
            };
            return t.abort(Close::aborted(NAME, AbortReason::layer(e)));
        };
        let conn = Connection::connect(self.cfg.clone(), t.now(), local, dst);
        let mut host = NativeHosted::native(conn, inner, self.server, None).traced(
            t,
            Vantage::Client,
            self.server,
        );
        host.settle(t);
        self.host = Some(host);
    }

    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let Some(host) = self.host.as_mut() else {
            return;
        };
        for d in batch {
            host.engine.handle_datagram(t.now(), d.data);
        }
        host.settle(t);
        self.close_if_finished(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        if let Some(h) = self.host.as_mut() {
            h.lost(why);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.host.as_ref()?.next_deadline()
    }

    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        if let Some(h) = self.host.as_mut() {
            h.timeout(t);
        }
        self.close_if_finished(t);
    }

    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        if let Some(h) = self.host.as_mut() {
            h.call(t, |p, v| p.on_wake(v, route));
        }
        self.close_if_finished(t);
    }

    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        match self.host.as_mut() {
            Some(h) => h.call(t, |p, v| p.on_shutdown(v)),
            None => t.close(),
        }
        self.close_if_finished(t);
    }

    /// An ICMP unreachable for a datagram we sent: a hint to the
    /// connection ([`Connection::unreachable_hint`]), which probes and
    /// declares the peer dead only if it stays silent.
    fn error_received(&mut self, t: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        use std::io::ErrorKind::*;
        // ConnectionReset: what Windows reports for a port unreachable.
        if !matches!(
            kind,
            ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable
        ) {
            return;
        }
        let Some(host) = self.host.as_mut() else {
            return;
        };
        host.engine.unreachable_hint(t.now());
        host.settle(t);
        self.close_if_finished(t);
    }

    fn buffered(&self) -> usize {
        self.host.as_ref().map_or(0, |h| h.engine.send_buffered())
    }
}

/// Pass-through: over a stream transport the layer is transparent.
impl<P: StreamProtocol> StreamProtocol for Reliable<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Some(p) = self.inner.as_mut() {
            p.connection_made(t)
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if let Some(p) = self.inner.as_mut() {
            p.data_received(t, data)
        }
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        if let Some(p) = self.inner.as_mut() {
            p.data_received_bytes(t, data)
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if let Some(p) = self.inner.as_mut() {
            p.eof_received(t)
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        if let Some(p) = self.inner.as_mut() {
            p.connection_lost(why)
        }
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        if let Some(p) = self.inner.as_mut() {
            p.pause_writing(t)
        }
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        if let Some(p) = self.inner.as_mut() {
            p.resume_writing(t)
        }
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.as_ref()?.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if let Some(p) = self.inner.as_mut() {
            p.on_deadline(t)
        }
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        if let Some(p) = self.inner.as_mut() {
            p.on_wake(t, route)
        }
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        match self.inner.as_mut() {
            Some(p) => p.on_shutdown(t),
            None => t.close(),
        }
    }
    fn buffered(&self) -> usize {
        self.inner
            .as_ref()
            .map_or(0, |p| StreamProtocol::buffered(p))
    }
}
