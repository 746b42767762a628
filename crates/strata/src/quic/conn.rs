//! One QUIC connection as the app sees it: [`ConnState`] (what the layer
//! keeps beside quinn-proto's `Connection`) and [`ConnView`], the short-lived
//! [`QuicConnection`] built over both for each call into the app.

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashSet};
use std::time::Instant;

use bytes::Bytes;
use quinn_proto::{Connection, VarInt};

use super::{
    from_proto_id, to_proto_id, Dir, EarlyData, PathStats, PeerCertificates, QuicConnection,
    QuicError, StreamBuffer, StreamError, StreamId,
};
use crate::{AppProtocol, Introspect, PeerAddr, Wake};

/// What the layer keeps about one connection beside quinn-proto's state.
pub(crate) struct ConnState {
    pub(crate) is_server: bool,
    pub(crate) now: Instant,
    pub(crate) wake: Wake,
    pub(crate) peer: PeerAddr,
    pub(crate) app_protocol: AppProtocol,
    pub(crate) peer_certs: Option<PeerCertificates>,
    pub(crate) stats: PathStats,
    pub(crate) max_datagram: Option<usize>,
    /// Set until the handshake completes.
    pub(crate) handshake_deadline: Option<Instant>,
    /// Counted in the engine's half-open connections (Retry's `Auto`
    /// threshold): from its creation until its handshake completes or it
    /// ends, whichever comes first (see `Engine`'s `leave_half_open`).
    pub(crate) half_open: bool,
    /// quinn-proto's next timer, cached after every drive (`poll_timeout`
    /// needs `&mut`).
    pub(crate) timeout: Option<Instant>,
    /// Streams whose reading the app paused.
    pub(crate) read_paused: HashSet<StreamId>,
    /// Streams that may have data to deliver (in id order: a seeded run repeats).
    pub(crate) to_read: BTreeSet<StreamId>,
    /// Streams we finished (a write after it is `StreamError::Finished`).
    pub(crate) finished: HashSet<StreamId>,
    /// Streams we reset whose RESET_STREAM the peer has not acknowledged
    /// yet (quinn-proto has no event for that: the engine polls them, in
    /// id order, and reports each with `stream_acked`).
    pub(crate) resets_unacked: BTreeSet<StreamId>,
    /// Why we closed the connection ourselves, when we did.
    pub(crate) local_close: Option<QuicError>,
    /// `connection_lost` went to the app.
    pub(crate) lost: bool,
    pub(crate) buffer: StreamBuffer,
    /// The app started before the handshake finished (0-RTT): until
    /// `zero_rtt_accepted`/`zero_rtt_rejected`.
    pub(crate) early: bool,
    /// A server's app made when the client's hello was read, which does not
    /// start early ([`QuicApp::early_data`](super::QuicApp::early_data)
    /// false): it starts when the handshake is done.
    pub(crate) parked: Option<Box<dyn super::QuicApp>>,
    /// Stream and DATAGRAM bytes taken while early (bounded by
    /// [`MAX_EARLY_BYTES`](super::config::MAX_EARLY_BYTES)).
    pub(crate) early_sent: usize,
    /// Streams whose `write` that bound cut short: `stream_writable` for
    /// each when the handshake ends.
    pub(crate) early_blocked: BTreeSet<StreamId>,
    /// The connection's qlog events, when traced.
    pub(crate) qlog: Option<Box<super::qlog::QuicQlog>>,
}

impl ConnState {
    pub(crate) fn new(is_server: bool, now: Instant, wake: Wake, peer: PeerAddr) -> Self {
        ConnState {
            is_server,
            now,
            wake,
            peer,
            app_protocol: AppProtocol::Negotiating,
            peer_certs: None,
            stats: PathStats::default(),
            max_datagram: None,
            handshake_deadline: None,
            half_open: false,
            timeout: None,
            read_paused: HashSet::new(),
            to_read: BTreeSet::new(),
            finished: HashSet::new(),
            resets_unacked: BTreeSet::new(),
            local_close: None,
            lost: false,
            buffer: StreamBuffer::default(),
            early: false,
            parked: None,
            early_sent: 0,
            early_blocked: BTreeSet::new(),
            qlog: None,
        }
    }

    /// Whether we may send on `id` (bidirectional, or a uni stream we opened).
    pub(crate) fn can_send(&self, id: StreamId) -> bool {
        id.is_bidi() || id.is_client_initiated() != self.is_server
    }

    /// Whether we may receive on `id` (bidirectional, or a uni stream the peer opened).
    pub(crate) fn can_recv(&self, id: StreamId) -> bool {
        id.is_bidi() || id.is_client_initiated() == self.is_server
    }

    /// The server refused 0-RTT: quinn-proto dropped every stream we
    /// opened, so what we kept about them goes too (their ids are reused).
    pub(crate) fn on_zero_rtt_rejected(&mut self) {
        let ours = |id: &StreamId| id.is_client_initiated() != self.is_server;
        self.finished.retain(|id| !ours(id));
        self.early_blocked.retain(|id| !ours(id));
        self.to_read.retain(|id| !ours(id));
        self.read_paused.retain(|id| !ours(id));
    }

    /// Refreshes what the app reads through `&self` methods.
    pub(crate) fn refresh(&mut self, q: &mut Connection) {
        self.stats = PathStats::of(q);
        self.max_datagram = q.datagrams().max_size();
        self.peer = PeerAddr(crate::Addr::Inet(q.remote_address()));
    }

    /// Records the ALPN protocol, known once the handshake data is (a
    /// server starting early reads it before the handshake is done).
    pub(crate) fn on_handshake_data(&mut self, q: &Connection) {
        let alpn = q
            .crypto_session()
            .handshake_data()
            .and_then(|d| {
                d.downcast::<quinn_proto::crypto::rustls::HandshakeData>()
                    .ok()
            })
            .and_then(|d| d.protocol);
        self.app_protocol = AppProtocol::Agreed(alpn);
    }

    /// Records what the finished handshake agreed.
    pub(crate) fn on_connected(&mut self, q: &Connection) {
        self.handshake_deadline = None;
        self.on_handshake_data(q);
        self.peer_certs = q
            .crypto_session()
            .peer_identity()
            .and_then(|p| {
                p.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                    .ok()
            })
            .map(|v| PeerCertificates(v.iter().map(|c| c.as_ref().to_vec()).collect()));
    }
}

/// The [`QuicConnection`] an app sees during one call.
pub(crate) struct ConnView<'a> {
    pub(crate) q: &'a mut Connection,
    pub(crate) st: &'a mut ConnState,
    pub(crate) below: &'a dyn Introspect,
}

fn var(code: u64) -> VarInt {
    VarInt::from_u64(code).unwrap_or(VarInt::MAX)
}

impl Introspect for ConnView<'_> {
    fn name(&self) -> &'static str {
        "quic"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<PeerCertificates>() {
            return self.st.peer_certs.as_ref().map(|p| p as &dyn Any);
        }
        if id == TypeId::of::<crate::qlog::QlogTrace>() {
            // The connection's trace, for the application's events (HTTP/3).
            return self.st.qlog.as_deref().map(|q| q.trace() as &dyn Any);
        }
        if id == TypeId::of::<EarlyData>() {
            return Some(if self.st.early {
                &EarlyData(true)
            } else {
                &EarlyData(false)
            });
        }
        crate::capability!(
            id,
            self.st.app_protocol,
            self.st.stats,
            self.st.peer,
            self.st.buffer
        )
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(self.below)
    }
}

impl QuicConnection for ConnView<'_> {
    fn now(&self) -> Instant {
        self.st.now
    }
    fn is_server(&self) -> bool {
        self.st.is_server
    }
    fn alpn(&self) -> Option<&[u8]> {
        self.st.app_protocol.alpn()
    }
    fn open(&mut self, dir: Dir) -> Option<StreamId> {
        let d = match dir {
            Dir::Bi => quinn_proto::Dir::Bi,
            Dir::Uni => quinn_proto::Dir::Uni,
        };
        self.q.streams().open(d).map(from_proto_id)
    }
    fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        use quinn_proto::WriteError;
        if self.q.is_closed() {
            return Err(StreamError::ConnectionClosed);
        }
        let pid = to_proto_id(id).filter(|_| self.st.can_send(id));
        let Some(pid) = pid else {
            return Err(StreamError::UnknownStream);
        };
        if self.st.finished.contains(&id) {
            return Err(StreamError::Finished);
        }
        let whole = data.len();
        let data = if self.st.early {
            let room = super::config::MAX_EARLY_BYTES.saturating_sub(self.st.early_sent);
            &data[..whole.min(room)]
        } else {
            data
        };
        // quinn-proto announces `Writable` only for a stream whose write
        // was refused (`Blocked`), not for one that took part of the data:
        // write until everything is taken or a refusal, so that a short
        // write always has its `stream_writable` to follow (the contract).
        let mut stream = self.q.send_stream(pid);
        let mut taken = 0;
        while taken < data.len() {
            match stream.write(&data[taken..]) {
                Ok(0) | Err(WriteError::Blocked) => break,
                Ok(n) => taken += n,
                Err(_) if taken > 0 => break,
                Err(WriteError::Stopped(c)) => return Err(StreamError::Stopped(c.into_inner())),
                Err(WriteError::ClosedStream) => return Err(StreamError::UnknownStream),
            }
        }
        if self.st.early {
            self.st.early_sent += taken;
            if taken < whole {
                self.st.early_blocked.insert(id);
            }
        }
        Ok(taken)
    }
    fn finish(&mut self, id: StreamId) -> Result<(), StreamError> {
        use quinn_proto::FinishError;
        if self.q.is_closed() {
            return Err(StreamError::ConnectionClosed);
        }
        let pid = to_proto_id(id).filter(|_| self.st.can_send(id));
        let Some(pid) = pid else {
            return Err(StreamError::UnknownStream);
        };
        if self.st.finished.contains(&id) {
            return Err(StreamError::Finished);
        }
        match self.q.send_stream(pid).finish() {
            Ok(()) => {
                self.st.finished.insert(id);
                Ok(())
            }
            Err(FinishError::Stopped(c)) => Err(StreamError::Stopped(c.into_inner())),
            Err(FinishError::ClosedStream) => Err(StreamError::UnknownStream),
        }
    }
    fn reset(&mut self, id: StreamId, code: u64) {
        if let Some(pid) = to_proto_id(id).filter(|_| self.st.can_send(id)) {
            let _ = self.q.send_stream(pid).reset(var(code));
            self.st.finished.remove(&id);
            // Reported once the send side is gone (a refused reset: the
            // stream had already ended, at the next drive).
            self.st.resets_unacked.insert(id);
        }
    }
    fn stop_sending(&mut self, id: StreamId, code: u64) {
        if let Some(pid) = to_proto_id(id).filter(|_| self.st.can_recv(id)) {
            let _ = self.q.recv_stream(pid).stop(var(code));
            self.st.to_read.remove(&id);
            self.st.read_paused.remove(&id);
        }
    }
    fn pause_reading(&mut self, id: StreamId) {
        if self.st.can_recv(id) {
            self.st.read_paused.insert(id);
        }
    }
    fn resume_reading(&mut self, id: StreamId) {
        if self.st.read_paused.remove(&id) {
            self.st.to_read.insert(id);
        }
    }
    fn send_datagram(&mut self, data: Bytes) -> Result<(), StreamError> {
        if self.q.is_closed() {
            return Err(StreamError::ConnectionClosed);
        }
        let len = data.len();
        if self.st.early && self.st.early_sent + len > super::config::MAX_EARLY_BYTES {
            return Err(StreamError::DatagramRejected);
        }
        self.q
            .datagrams()
            .send(data, true)
            .map_err(|_| StreamError::DatagramRejected)?;
        if self.st.early {
            self.st.early_sent += len;
        }
        Ok(())
    }
    fn max_datagram_size(&self) -> Option<usize> {
        self.st.max_datagram
    }
    fn close(&mut self, code: u64, reason: &[u8]) {
        if self.st.local_close.is_none() {
            self.st.local_close = Some(QuicError::LocallyClosed { code });
        }
        self.q
            .close(self.st.now, var(code), Bytes::copy_from_slice(reason));
    }
    fn waker(&self) -> Wake {
        self.st.wake.clone()
    }
    fn is_early(&self) -> bool {
        self.st.early
    }
}
