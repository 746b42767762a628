//! The native engine's hooks in the generic host ([`Hosted`]): the
//! protocol starts once the handshake is done, a peer RESET ends the
//! connection, writing pauses on the bytes not yet sent (`high_water`) or
//! on everything held (`send_buffer`), `write_eof` sends FIN, `close` and
//! `abort` send CLOSE, and the end maps from [`ConnError`].

use std::any::{Any, TypeId};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::conn::{ConnError, Connection};
use super::host::{hysteresis, HostEngine, Hosted, Received};
use super::wire::ErrorCode;
use crate::qlog::{QlogTrace, QlogTracer, TraceInfo, Vantage};
use crate::stats::PathStats;
use crate::{
    AbortReason, Close, DatagramTransport, HalfClose, ReliableDelivery, StreamProtocol, Timeout,
};

/// The layer name, as in `layer_chain()` and endpoint schemes.
pub(crate) const NAME: &str = "reliable";

/// Most bytes handed to the protocol above in one `data_received`.
const READ_CHUNK: usize = 64 * 1024;

/// The native host's own state.
#[derive(Debug, Default)]
pub(crate) struct NativeExt {
    /// The bytes not yet sent reached `high_water` and have not drained to
    /// `low_water` since.
    over_high: bool,
    /// The send buffer reached `send_buffer` and has not drained to half
    /// of it since.
    over_sndbuf: bool,
    /// The protocol's `abort` reason, reported back to it in
    /// `connection_lost`.
    aborted: Option<Close>,
    /// The path's figures, a capability of the view: refreshed before each
    /// round of calls into the protocol above.
    path: PathStats,
    /// The connection's qlog trace, answered to the layers above so they
    /// write into the same trace.
    qlog: Option<QlogTrace>,
}

/// Capabilities the view answers itself.
static RELIABLE: ReliableDelivery = ReliableDelivery(true);
static HALF_CLOSE: HalfClose = HalfClose(true);

impl HostEngine for Connection {
    const NAME: &'static str = NAME;
    const SETTLE_AFTER_SEND: bool = true;
    type Ext = NativeExt;
    type Chunk = Bytes;

    fn ready(&self) -> bool {
        self.handshake_done()
    }

    fn receive(
        &mut self,
        ext: &mut NativeExt,
        t: &dyn DatagramTransport,
        rx: &mut Bytes,
    ) -> Received {
        let now = t.now();
        *rx = Bytes::new();
        if let Some(data) = self.read(now, READ_CHUNK) {
            *rx = data;
            return Received::Data;
        }
        if self.take_fin(now) {
            return Received::Eof;
        }
        if let Some(code) = self.take_reset() {
            // The peer abandoned its direction (like a TCP RST): the
            // stream cannot be whole any more.
            tracing::debug!("reliable: the peer reset its stream with {code:?}");
            ext.aborted.get_or_insert(Close::Reset);
            self.close(now, ErrorCode::NO_ERROR, b"stream reset");
            return Received::Again;
        }
        Received::Nothing
    }

    /// Two pause sources: the watermarks on the bytes not yet sent, and
    /// the send buffer on every byte held. No resume once closing.
    fn want_pause(&mut self, ext: &mut NativeExt) -> Option<bool> {
        let cfg = self.config();
        let (queued, held) = (self.send_queued(), self.send_buffered());
        hysteresis(&mut ext.over_high, queued, cfg.high_water, cfg.low_water);
        let sndbuf = cfg.send_buffer;
        hysteresis(&mut ext.over_sndbuf, held, sndbuf, sndbuf / 2);
        if ext.over_high || ext.over_sndbuf {
            Some(true)
        } else if self.is_closing() {
            None
        } else {
            Some(false)
        }
    }

    fn ended(&mut self, ext: &mut NativeExt) -> Option<Close> {
        // The protocol above learns the end as soon as the connection is
        // closing and everything received was handed over (a paused reader
        // keeps reading through the closing period): the closing period
        // (which answers a peer's late retransmissions with CLOSE) is the
        // connection's business, not its. A client that closed cleanly
        // exits at once.
        if !(self.is_closed() || (self.is_closing() && !self.has_undelivered())) {
            return None;
        }
        tracing::debug!(
            side = ?self.side(),
            stats = ?self.stats(),
            srtt = ?self.rtt().smoothed(),
            recv_window = self.recv_window(),
            cwnd = self.congestion().window(),
            "reliable: connection ended: {:?}",
            self.error()
        );
        let mut why = ext.aborted.take().unwrap_or_else(|| close_of(self.error()));
        let peer_closed = matches!(self.error(), Some(ConnError::PeerClosed { .. }));
        if peer_closed && why.is_clean() && !self.peer_finished() {
            // A clean close from the peer before its stream ended: the
            // stream is cut short.
            why = Close::aborted(NAME, AbortReason::PeerAborted);
        }
        Some(why)
    }

    fn before_calls(&mut self, ext: &mut NativeExt) {
        let s = self.stats();
        ext.path = PathStats {
            rtt: self.rtt().smoothed(),
            cwnd: self.congestion().window(),
            lost_packets: s.packets_lost,
            sent_packets: s.packets_sent,
        };
    }

    fn capability(ext: &NativeExt, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<PathStats>() {
            return Some(&ext.path);
        }
        if id == TypeId::of::<ReliableDelivery>() {
            return Some(&RELIABLE);
        }
        if id == TypeId::of::<HalfClose>() {
            return Some(&HALF_CLOSE);
        }
        if id == TypeId::of::<QlogTrace>() {
            return ext.qlog.as_ref().map(|q| q as &dyn Any);
        }
        None
    }

    fn view_write(&mut self, _ext: &mut NativeExt, below: &dyn DatagramTransport, data: &[u8]) {
        Connection::write(self, below.now(), data);
    }
    fn view_write_eof(&mut self, _ext: &mut NativeExt, _below: &dyn DatagramTransport) {
        Connection::finish(self);
    }
    fn view_close(&mut self, _ext: &mut NativeExt, below: &dyn DatagramTransport) {
        self.close_gracefully(below.now());
    }
    fn view_abort(&mut self, ext: &mut NativeExt, below: &dyn DatagramTransport, why: Close) {
        let now = below.now();
        let reason = why.to_string();
        ext.aborted.get_or_insert(why);
        self.close(now, ErrorCode::APPLICATION_MIN, reason.as_bytes());
    }
    fn view_buffered(&self, _ext: &NativeExt) -> usize {
        Connection::send_buffered(self)
    }
    /// The stack's rule: false once the bytes not yet sent reach
    /// `high_water`, or every byte held reaches `send_buffer`.
    fn view_writable(&self, _ext: &NativeExt, _below: &dyn DatagramTransport) -> bool {
        let cfg = self.config();
        self.send_queued() < cfg.high_water
            && Connection::send_buffered(self) < cfg.send_buffer
            && !self.is_closing()
    }
}

/// A native connection with its protocol (the client layer's, and each of
/// a listener's).
pub(crate) type NativeHosted<P> = Hosted<Connection, P>;

impl<P: StreamProtocol> Hosted<Connection, P> {
    /// A connection hosting `inner`.
    pub(crate) fn native(
        conn: Connection,
        inner: P,
        dest: Option<SocketAddr>,
        wake_id: Option<u64>,
    ) -> Self {
        Hosted::new(conn, NativeExt::default(), inner, dest, wake_id)
    }

    /// Traces the connection into a trace from the socket's
    /// [`QlogTracer`], when the driver set one: the connection's packets
    /// and recovery, and every layer above it.
    pub(crate) fn traced(
        mut self,
        t: &dyn DatagramTransport,
        vantage: Vantage,
        peer: Option<SocketAddr>,
    ) -> Self {
        let Some(tracer) = t.get::<QlogTracer>() else {
            return self;
        };
        let info = TraceInfo {
            vantage,
            peer: peer.map(crate::Addr::Inet),
            protocol: NAME,
            now: t.now(),
        };
        let trace = tracer.trace(&info);
        self.engine.set_qlog(trace.clone());
        self.ext.qlog = trace;
        self
    }

    /// Whether this connection is over and its protocol told.
    pub(crate) fn finished(&self) -> bool {
        self.engine.is_closed() && (self.st.lost || !self.st.started)
    }

    /// The earliest deadline of the connection and its protocol.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let inner = if self.st.started && !self.st.lost {
            self.inner.next_deadline()
        } else {
            None
        };
        match (self.engine.next_timeout(), inner) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The peer's address changed (NAT rebinding): answer there from now on.
    pub(crate) fn set_dest(&mut self, addr: SocketAddr) {
        if self.dest.is_some() && self.dest != Some(addr) {
            self.set_peer(addr);
        }
    }

    /// A deadline passed.
    pub(crate) fn timeout(&mut self, t: &mut dyn DatagramTransport) {
        let now = t.now();
        if self.engine.next_timeout().is_some_and(|d| now >= d) {
            self.engine.handle_timeout(now);
        }
        let due = self.st.started
            && !self.st.lost
            && self.inner.next_deadline().is_some_and(|d| now >= d);
        if due {
            self.call(t, |p, v| p.on_deadline(v));
        } else {
            self.settle(t);
        }
    }
}

/// The [`Close`] a connection's end maps to.
pub(crate) fn close_of(e: Option<&ConnError>) -> Close {
    match e {
        None => Close::Done,
        Some(e) if e.is_clean() => Close::Done,
        Some(ConnError::IdleTimeout) => Close::Timeout(Timeout::Idle),
        Some(ConnError::HandshakeTimeout) => Close::Timeout(Timeout::Handshake),
        Some(ConnError::PeerUnresponsive { .. }) => Close::Timeout(Timeout::Idle),
        // The peer's protocol aborted (an application code): like a reset.
        Some(ConnError::PeerClosed { code, .. }) if code.0 >= ErrorCode::APPLICATION_MIN.0 => {
            Close::aborted(NAME, AbortReason::PeerAborted)
        }
        Some(e) => Close::aborted(NAME, AbortReason::layer(e.clone())),
    }
}
