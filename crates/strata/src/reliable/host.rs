//! [`Hosted`]: one [`Connection`] and the stream protocol above it, and the
//! `reliable` view that protocol sees. Shared by the client layer
//! ([`Reliable`](super::Reliable)) and each connection of a
//! [`ReliableListener`](super::ReliableListener).

use std::any::{Any, TypeId};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::conn::{ConnError, Connection};
use super::wire::ErrorCode;
use crate::{
    AbortReason, Addr, Close, DatagramTransport, HalfClose, Introspect, PeerAddr, ReliableDelivery,
    StreamProtocol, StreamTransport, Timeout, Transmit, Wake,
};

/// The layer name, as in `layer_chain()` and endpoint schemes.
pub(crate) const NAME: &str = "reliable";

/// Most bytes handed to the protocol above in one `data_received`.
const READ_CHUNK: usize = 64 * 1024;

/// The layer's own state, apart from the connection.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    /// The protocol above got `connection_made`.
    pub(crate) started: bool,
    /// It got `connection_lost`.
    pub(crate) lost: bool,
    read_paused: bool,
    /// It was told `pause_writing` (and not yet `resume_writing`).
    write_paused: bool,
    /// The bytes not yet sent reached `high_water` and have not drained to
    /// `low_water` since.
    over_high: bool,
    /// The send buffer reached `send_buffer` and has not drained to half
    /// of it since.
    over_sndbuf: bool,
    /// Its `abort` reason, reported back to it in `connection_lost`.
    aborted: Option<Close>,
}

/// A connection with its protocol.
pub(crate) struct Hosted<P> {
    pub(crate) conn: Connection,
    pub(crate) inner: P,
    pub(crate) st: HostState,
    /// Where datagrams go: `None` on a connected transport.
    pub(crate) dest: Option<SocketAddr>,
    /// The route of this connection's wakes below the transport's (a
    /// listener's connections), or none.
    pub(crate) wake_id: Option<u64>,
    /// The peer's address, answered by the view when `dest` is set.
    peer_cap: Option<PeerAddr>,
    scratch: Vec<u8>,
}

impl<P: StreamProtocol> Hosted<P> {
    pub(crate) fn new(
        conn: Connection,
        inner: P,
        dest: Option<SocketAddr>,
        wake_id: Option<u64>,
    ) -> Self {
        Hosted {
            conn,
            inner,
            st: HostState::default(),
            dest,
            wake_id,
            peer_cap: dest.map(peer_addr),
            scratch: Vec::with_capacity(1500),
        }
    }

    /// Whether this connection is over and its protocol told.
    pub(crate) fn finished(&self) -> bool {
        self.conn.is_closed() && (self.st.lost || !self.st.started)
    }

    /// The earliest deadline of the connection and its protocol.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let inner = if self.st.started && !self.st.lost {
            self.inner.next_deadline()
        } else {
            None
        };
        match (self.conn.next_timeout(), inner) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Calls the protocol above with the view, then settles.
    pub(crate) fn call(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        if self.st.started && !self.st.lost {
            self.with_view(t, f);
        }
        self.settle(t);
    }

    /// The peer's address changed (NAT rebinding): answer there from now on.
    pub(crate) fn set_dest(&mut self, addr: SocketAddr) {
        if self.dest.is_some() && self.dest != Some(addr) {
            self.dest = Some(addr);
            self.peer_cap = Some(peer_addr(addr));
        }
    }

    /// A deadline passed.
    pub(crate) fn timeout(&mut self, t: &mut dyn DatagramTransport) {
        let now = t.now();
        if self.conn.next_timeout().is_some_and(|d| now >= d) {
            self.conn.handle_timeout(now);
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

    /// The settle step: start the protocol once established, hand it what
    /// arrived (unless it paused reading), the end of the stream, the
    /// write back-pressure edges; send what is due; report the end.
    pub(crate) fn settle(&mut self, t: &mut dyn DatagramTransport) {
        loop {
            self.settle_calls(t);
            self.flush(t);
            // Sending drained the bytes queued: a paused protocol may write
            // again now rather than at the next event, which keeps the
            // pipe full with only `high_water` queued.
            if !self.st.write_paused || self.st.lost || self.write_edge() != Some(false) {
                break;
            }
        }
        self.report_end();
    }

    /// Updates the two write-pause sources (the watermarks on the bytes not
    /// yet sent, and the send buffer on every byte held) and returns the
    /// edge due: `Some(true)` pause, `Some(false)` resume.
    fn write_edge(&mut self) -> Option<bool> {
        let cfg = self.conn.config();
        let (queued, held) = (self.conn.send_queued(), self.conn.send_buffered());
        if queued >= cfg.high_water {
            self.st.over_high = true;
        } else if queued <= cfg.low_water {
            self.st.over_high = false;
        }
        if held >= cfg.send_buffer {
            self.st.over_sndbuf = true;
        } else if held <= cfg.send_buffer / 2 {
            self.st.over_sndbuf = false;
        }
        let pause = self.st.over_high || self.st.over_sndbuf;
        if pause && !self.st.write_paused {
            Some(true)
        } else if !pause && self.st.write_paused && !self.conn.is_closing() {
            Some(false)
        } else {
            None
        }
    }

    /// The calls into the protocol above, until none is due.
    fn settle_calls(&mut self, t: &mut dyn DatagramTransport) {
        loop {
            let now = t.now();
            // Started once the handshake is done, even if the connection
            // is already closing: the protocol above then sees what arrived
            // and why it ended.
            if !self.st.started && self.conn.handshake_done() {
                self.st.started = true;
                self.with_view(t, |p, v| p.connection_made(v));
                continue;
            }
            if !self.st.started || self.st.lost {
                break;
            }
            if !self.st.read_paused {
                if let Some(data) = self.conn.read(now, READ_CHUNK) {
                    self.with_view(t, |p, v| p.data_received(v, &data));
                    continue;
                }
                if self.conn.take_fin(now) {
                    self.with_view(t, |p, v| p.eof_received(v));
                    continue;
                }
                if let Some(code) = self.conn.take_reset() {
                    // The peer abandoned its direction (like a TCP RST): the
                    // stream cannot be whole any more.
                    tracing::debug!("reliable: the peer reset its stream with {code:?}");
                    self.st.aborted.get_or_insert(Close::Reset);
                    self.conn.close(now, ErrorCode::NO_ERROR, b"stream reset");
                    continue;
                }
            }
            match self.write_edge() {
                Some(true) => {
                    self.st.write_paused = true;
                    self.with_view(t, |p, v| p.pause_writing(v));
                }
                Some(false) => {
                    self.st.write_paused = false;
                    self.with_view(t, |p, v| p.resume_writing(v));
                }
                None => break,
            }
        }
    }

    /// Tells the protocol above the end, once.
    fn report_end(&mut self) {
        // The protocol above learns the end as soon as the connection is
        // closing and everything received was handed over (a paused reader
        // keeps reading through the closing period): the closing period
        // (which answers a peer's late retransmissions with CLOSE) is the
        // connection's business, not its. A client that closed cleanly
        // exits at once.
        let over =
            self.conn.is_closed() || (self.conn.is_closing() && !self.conn.has_undelivered());
        if over && self.st.started && !self.st.lost {
            tracing::debug!(
                side = ?self.conn.side(),
                stats = ?self.conn.stats(),
                srtt = ?self.conn.rtt().smoothed(),
                recv_window = self.conn.recv_window(),
                cwnd = self.conn.congestion().window(),
                "reliable: connection ended: {:?}",
                self.conn.error()
            );
            self.st.lost = true;
            let mut why = self
                .st
                .aborted
                .take()
                .unwrap_or_else(|| close_of(self.conn.error()));
            let peer_closed = matches!(self.conn.error(), Some(ConnError::PeerClosed { .. }));
            if peer_closed && why.is_clean() && !self.conn.peer_finished() {
                // A clean close from the peer before its stream ended: the
                // stream is cut short.
                why = Close::aborted(NAME, AbortReason::PeerAborted);
            }
            self.inner.connection_lost(&why);
        }
    }

    fn with_view(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        let mut view = View {
            conn: &mut self.conn,
            st: &mut self.st,
            below: t,
            peer: self.peer_cap.as_ref(),
            wake_id: self.wake_id,
        };
        f(&mut self.inner, &mut view);
    }

    /// Sends every datagram that is due.
    pub(crate) fn flush(&mut self, t: &mut dyn DatagramTransport) {
        let now = t.now();
        while self.conn.poll_transmit(now, &mut self.scratch) {
            let tx = Transmit {
                destination: self.dest,
                ..Transmit::connected(&self.scratch)
            };
            t.send(&tx);
        }
    }

    /// The transport below is gone: the connection ends with it.
    pub(crate) fn lost(&mut self, why: &Close) {
        if self.st.started && !self.st.lost {
            self.st.lost = true;
            self.inner.connection_lost(why);
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

/// The `reliable` view: a stream transport over the connection.
struct View<'a> {
    conn: &'a mut Connection,
    st: &'a mut HostState,
    below: &'a mut dyn DatagramTransport,
    peer: Option<&'a PeerAddr>,
    wake_id: Option<u64>,
}

/// Capabilities the view answers itself.
static RELIABLE: ReliableDelivery = ReliableDelivery(true);
static HALF_CLOSE: HalfClose = HalfClose(true);

impl Introspect for View<'_> {
    fn name(&self) -> &'static str {
        NAME
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<ReliableDelivery>() {
            return Some(&RELIABLE);
        }
        if id == TypeId::of::<HalfClose>() {
            return Some(&HALF_CLOSE);
        }
        if id == TypeId::of::<PeerAddr>() {
            return self.peer.map(|p| p as &dyn Any);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for View<'_> {
    fn write(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let now = self.below.now();
        self.conn.write(now, data);
    }
    fn write_bytes(&mut self, data: Bytes) {
        self.write(&data);
    }
    fn write_eof(&mut self) {
        self.conn.finish();
    }
    fn close(&mut self) {
        let now = self.below.now();
        self.conn.close_gracefully(now);
    }
    fn abort(&mut self, why: Close) {
        let now = self.below.now();
        let reason = why.to_string();
        self.st.aborted.get_or_insert(why);
        self.conn
            .close(now, ErrorCode::APPLICATION_MIN, reason.as_bytes());
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.conn.send_buffered() + self.below.buffered()
    }
    /// The stack's rule: false once the bytes not yet sent reach
    /// `high_water`, or every byte held reaches `send_buffer`.
    fn writable(&self) -> bool {
        let cfg = self.conn.config();
        self.conn.send_queued() < cfg.high_water
            && self.conn.send_buffered() < cfg.send_buffer
            && !self.conn.is_closing()
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        match self.wake_id {
            Some(id) => self.below.waker().child(id),
            None => self.below.waker(),
        }
    }
}

/// The peer's address, for a listener's connections (the socket below is
/// not connected, so it cannot tell).
pub(crate) fn peer_addr(addr: SocketAddr) -> PeerAddr {
    PeerAddr(Addr::Inet(addr))
}
