//! The HTTP/3 connection engine shared by [`H3Server`](super::H3Server)
//! and [`H3Client`](super::H3Client): the control and QPACK streams both
//! ways (RFC 9114 §6.2), the request streams, the settle step, deadlines
//! and GOAWAY.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::client::ClientQueue;
use super::frame::{self, kind, Event, Frame, FrameReader, ReadError};
use super::head;
use super::qlog::{self, H3Qlog, Owner};
use super::quic_api::{Dir, QuicConnection, StreamId};
use super::recv::{body_too_slow, finish_input, pump, retry_blocked};
use super::stream::{drop_queue, stopped, stream_error, Child, OurUni, ReqState, Shared, View};
use super::{varint, Code, H3Config, H3Error};
use crate::deadline::{after, after_opt, earliest, expired};
use crate::http::qpack::{QpackDecoder, QpackEncoder};
use crate::http::{Protocol, RequestHead, SharedService};
use crate::qlog::QlogTrace;
use crate::timer::DeadlineQueue;
use crate::{Close, Introspect, ProtocolSlot, StreamProtocol, Timeout, WakeRoute};

/// Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).
mod uni {
    pub const CONTROL: u64 = 0x00;
    pub const PUSH: u64 = 0x01;
    pub const QPACK_ENCODER: u64 = 0x02;
    pub const QPACK_DECODER: u64 = 0x03;
}

/// The most rounds one settle step runs (see `h2`'s `SETTLE_ROUNDS`: a
/// protocol that always has more to do cannot keep the driver's thread).
const SETTLE_ROUNDS: usize = 64;

pub(super) enum Role {
    Server(SharedService),
    Client(Arc<Mutex<ClientQueue>>),
}

/// A unidirectional stream the peer opened.
enum PeerUni {
    /// Its type varint is still arriving.
    Type(Vec<u8>),
    /// The peer's control stream (SETTINGS seen yet?).
    Control {
        reader: FrameReader,
        settings: bool,
    },
    Encoder,
    Decoder,
    /// Unknown type: ignored (STOP_SENDING sent).
    Ignored,
}

/// The `QuicApp` methods [`H3Server`](super::H3Server) and
/// [`H3Client`](super::H3Client) share (all but `connection_made` and
/// `on_shutdown`): each event goes to the connection's [`Conn`], which
/// then settles. Expanded inside each `impl QuicApp` block.
macro_rules! app_events_via_conn {
    () => {
        fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
            self.conn.stream_opened(c, id);
            self.conn.settle(c);
        }
        fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
            self.conn.stream_data(c, id, data);
            self.conn.settle(c);
        }
        fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
            self.conn.stream_finished(c, id);
            self.conn.settle(c);
        }
        fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
            self.conn.stream_acked(id);
            self.conn.settle(c);
        }
        fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
            self.conn.stream_reset(c, id, code);
            self.conn.settle(c);
        }
        fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
            self.conn.stream_stopped(c, id, code);
            self.conn.settle(c);
        }
        fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
            self.conn.stream_writable(c, id);
            self.conn.settle(c);
        }
        fn streams_available(&mut self, c: &mut dyn QuicConnection, _: Dir) {
            self.conn.streams_available(c);
        }
        fn next_deadline(&self) -> Option<std::time::Instant> {
            self.conn.next_deadline()
        }
        fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
            self.conn.on_deadline(c);
        }
        fn on_wake(&mut self, c: &mut dyn QuicConnection) {
            self.conn.on_wake(c, $crate::WakeRoute::new(&[]));
        }
        fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: $crate::WakeRoute<'_>) {
            self.conn.on_wake(c, route);
        }
        fn connection_lost(&mut self, why: &$crate::Close) {
            self.conn.lose_all(why);
        }
    };
}
pub(super) use app_events_via_conn;

pub(super) struct Conn {
    role: Role,
    sh: Shared,
    streams: BTreeMap<StreamId, Child>,
    peer_uni: BTreeMap<StreamId, PeerUni>,
    peer_control: bool,
    peer_encoder: bool,
    peer_decoder: bool,
    ids: Vec<StreamId>,
    deadlines: DeadlineQueue<StreamId>,
    /// Streams QPACK can decode now.
    unblocked: Vec<u64>,
    started: bool,
    dead: bool,
    /// The id in the GOAWAY we sent / received.
    goaway_sent: Option<u64>,
    goaway_recv: Option<u64>,
    drain: Option<Instant>,
    /// The next client bidi stream id a server expects at the least.
    next_peer_bidi: u64,
}

impl Conn {
    pub(super) fn new(role: Role, cfg: H3Config) -> Conn {
        let cfg = Arc::new(cfg);
        Conn {
            role,
            sh: Shared {
                enc: QpackEncoder::new(cfg.qpack_encoder_capacity),
                dec: QpackDecoder::new(
                    cfg.qpack_max_table_capacity,
                    cfg.qpack_blocked_streams,
                    cfg.max_field_section_size.min(usize::MAX as u64) as usize,
                ),
                control: OurUni::default(),
                encoder: OurUni::default(),
                decoder: OurUni::default(),
                pending_total: 0,
                error: None,
                peer: None,
                unacked: Default::default(),
                qlog: None,
                cfg,
            },
            streams: BTreeMap::new(),
            peer_uni: BTreeMap::new(),
            peer_control: false,
            peer_encoder: false,
            peer_decoder: false,
            ids: Vec::new(),
            deadlines: DeadlineQueue::new(),
            unblocked: Vec::new(),
            started: false,
            dead: false,
            goaway_sent: None,
            goaway_recv: None,
            drain: None,
            next_peer_bidi: 0,
        }
    }

    fn server(&self) -> bool {
        matches!(self.role, Role::Server(_))
    }

    pub(super) fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Opens our control stream (SETTINGS first) and QPACK streams.
    fn start(&mut self, c: &mut dyn QuicConnection) {
        if self.started {
            return;
        }
        self.started = true;
        self.sh.qlog = (&*c as &dyn Introspect)
            .get::<QlogTrace>()
            .cloned()
            .map(H3Qlog::new);
        let settings = self.our_settings();
        varint::write(&mut self.sh.control.buf, uni::CONTROL);
        frame::write_settings(&mut self.sh.control.buf, &settings);
        // Our stream types go first, before anything QPACK queued.
        let mut enc = vec![uni::QPACK_ENCODER as u8];
        enc.append(&mut self.sh.encoder.buf);
        self.sh.encoder.buf = enc;
        let mut dec = vec![uni::QPACK_DECODER as u8];
        dec.append(&mut self.sh.decoder.buf);
        self.sh.decoder.buf = dec;
        self.open_uni(c);
    }

    /// The SETTINGS we send.
    fn our_settings(&self) -> frame::Settings {
        let cfg = &self.sh.cfg;
        frame::Settings {
            qpack_max_table_capacity: cfg.qpack_max_table_capacity as u64,
            max_field_section_size: Some(cfg.max_field_section_size),
            qpack_blocked_streams: cfg.qpack_blocked_streams as u64,
            enable_connect_protocol: self.server() && cfg.enable_connect_protocol,
            h3_datagram: false,
        }
    }

    /// Opens whichever of our unidirectional streams is not open yet (the
    /// peer's stream limit may hold one back until `streams_available`).
    fn open_uni(&mut self, c: &mut dyn QuicConnection) {
        let mut opened = [None; 3];
        for (u, o) in [
            &mut self.sh.control,
            &mut self.sh.encoder,
            &mut self.sh.decoder,
        ]
        .into_iter()
        .zip(&mut opened)
        {
            if u.id.is_none() {
                u.id = c.open(Dir::Uni);
                *o = u.id;
            }
        }
        if let Some(q) = &self.sh.qlog {
            self.uni_opened(c.now(), q, opened);
        }
        self.sh.flush_uni(c);
    }

    /// qlog: the types of our unidirectional streams just opened
    /// (`opened`: control, encoder, decoder), and the SETTINGS frame the
    /// control stream starts with.
    #[cold]
    #[inline(never)]
    fn uni_opened(&self, now: Instant, q: &H3Qlog, opened: [Option<StreamId>; 3]) {
        let types = [uni::CONTROL, uni::QPACK_ENCODER, uni::QPACK_DECODER];
        for (id, ty) in opened.into_iter().zip(types) {
            let Some(id) = id else { continue };
            q.stream_type_set(now, Owner::Local, id, ty);
            if ty == uni::CONTROL {
                let s = self.our_settings();
                let mut wire = Vec::new();
                frame::write_settings(&mut wire, &s);
                q.created(now, id, &Frame::Settings(s), qlog::payload_len(&wire));
            }
        }
    }

    // ---- peer input ---------------------------------------------------------

    pub(super) fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        if !id.is_bidi() {
            self.peer_uni.insert(id, PeerUni::Type(Vec::new()));
            return;
        }
        if !self.server() {
            // RFC 9114 §6.1: servers open no bidirectional streams.
            return self.sh.fail(H3Error::conn(
                Code::StreamCreationError,
                "a server-initiated bidirectional stream",
            ));
        }
        let mut st = ReqState::new(id, true, &self.sh.cfg);
        self.next_peer_bidi = self.next_peer_bidi.max(id.0 + 4);
        if self.goaway_sent.is_some_and(|g| id.0 >= g) || self.dead {
            // After our GOAWAY: not processed, safe to retry.
            c.reset(id, Code::RequestRejected.value());
            c.stop_sending(id, Code::RequestRejected.value());
            return;
        }
        st.head_deadline = Some(after(c.now(), self.sh.cfg.head_timeout));
        self.streams.insert(id, Child { proto: None, st });
    }

    pub(super) fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        let service = match &self.role {
            Role::Server(s) => Some(s.clone()),
            Role::Client(_) => None,
        };
        if let Some(child) = self.streams.get_mut(&id) {
            if child.st.stash.is_empty() {
                pump(child, &mut self.sh, service.as_ref(), c, data);
            } else {
                child.st.stash.extend_from_slice(data);
            }
            return;
        }
        if self.peer_uni.contains_key(&id) {
            self.uni_data(c, id, data);
        }
    }

    pub(super) fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        if let Some(child) = self.streams.get_mut(&id) {
            child.st.fin = true;
            finish_input(child, &mut self.sh, c);
            return;
        }
        self.uni_closed(id);
    }

    pub(super) fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        if let Some(child) = self.streams.get_mut(&id) {
            let st = &mut child.st;
            if matches!(
                st.phase,
                super::stream::RecvPhase::HeadBlocked(_)
                    | super::stream::RecvPhase::TrailersBlocked(_)
            ) {
                self.sh.dec.cancel_stream(id.0, &mut self.sh.decoder.buf);
            }
            st.stash = Vec::new();
            if st.eof_delivered {
                return;
            }
            st.eof_delivered = true;
            if !st.fin_sent && !st.reset {
                c.reset(id, Code::RequestCancelled.value());
            }
            drop_queue(st, &mut self.sh);
            st.reset = true;
            let e = H3Error {
                code: Code::from_value(code),
                detail: "RESET_STREAM",
                remote: true,
                stream: Some(id.0),
            };
            st.finished.get_or_insert(e.close());
            return;
        }
        self.uni_closed(id);
    }

    /// Everything we sent on `id`, FIN included, was acknowledged (or the
    /// RESET_STREAM that ended it was).
    pub(super) fn stream_acked(&mut self, id: StreamId) {
        self.sh.unacked.remove(&id);
    }

    pub(super) fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
        // A stopped stream's data will never all be acknowledged.
        self.sh.unacked.remove(&id);
        if let Some(child) = self.streams.get_mut(&id) {
            stopped(&mut child.st, &mut self.sh, c, code);
            return;
        }
        let ours = [&self.sh.control, &self.sh.encoder, &self.sh.decoder];
        if ours.iter().any(|u| u.id == Some(id)) {
            self.sh.fail(H3Error::conn(
                Code::ClosedCriticalStream,
                "the peer stopped a critical stream",
            ));
        }
    }

    pub(super) fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        if let Some(child) = self.streams.get_mut(&id) {
            super::stream::flush(&mut child.st, &mut self.sh, c);
        } else {
            self.sh.flush_uni(c);
        }
    }

    /// A critical stream of the peer ended (RFC 9114 §6.2.1, RFC 9204 §4.2).
    fn uni_closed(&mut self, id: StreamId) {
        match self.peer_uni.get(&id) {
            Some(PeerUni::Control { .. } | PeerUni::Encoder | PeerUni::Decoder) => {
                self.sh.fail(H3Error::conn(
                    Code::ClosedCriticalStream,
                    "the peer closed a critical stream",
                ))
            }
            _ => {
                self.peer_uni.remove(&id);
            }
        }
    }

    fn uni_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, mut data: &[u8]) {
        let server = self.server();
        let Some(state) = self.peer_uni.get_mut(&id) else {
            return;
        };
        if let PeerUni::Type(buf) = state {
            let before = buf.len();
            let take = 8usize.saturating_sub(before).min(data.len());
            buf.extend_from_slice(&data[..take]);
            let Some((ty, n)) = varint::read(buf) else {
                return;
            };
            // A type complete before this call belongs to a stream already
            // refused (the connection is closing): nothing more to read.
            let Some(used) = n.checked_sub(before) else {
                return;
            };
            data = &data[used..];
            if let Some(q) = &self.sh.qlog {
                q.stream_type_set(c.now(), Owner::Remote, id, ty);
            }
            let next = match ty {
                uni::CONTROL if self.peer_control => {
                    return self.sh.fail(H3Error::conn(
                        Code::StreamCreationError,
                        "a second control stream",
                    ));
                }
                uni::CONTROL => {
                    self.peer_control = true;
                    PeerUni::Control {
                        reader: FrameReader::new(frame::MAX_SETTINGS_PAYLOAD as usize),
                        settings: false,
                    }
                }
                uni::QPACK_ENCODER | uni::QPACK_DECODER => {
                    let seen = if ty == uni::QPACK_ENCODER {
                        &mut self.peer_encoder
                    } else {
                        &mut self.peer_decoder
                    };
                    if *seen {
                        return self.sh.fail(H3Error::conn(
                            Code::StreamCreationError,
                            "a second QPACK stream",
                        ));
                    }
                    *seen = true;
                    if ty == uni::QPACK_ENCODER {
                        PeerUni::Encoder
                    } else {
                        PeerUni::Decoder
                    }
                }
                uni::PUSH if server => {
                    return self.sh.fail(H3Error::conn(
                        Code::StreamCreationError,
                        "a push stream from a client",
                    ));
                }
                uni::PUSH => {
                    return self.sh.fail(H3Error::conn(
                        Code::IdError,
                        "a push stream without MAX_PUSH_ID",
                    ));
                }
                _ => {
                    c.stop_sending(id, Code::StreamCreationError.value());
                    PeerUni::Ignored
                }
            };
            *state = next;
        }
        let mut frames = Vec::new();
        match state {
            PeerUni::Type(_) | PeerUni::Ignored => {}
            PeerUni::Encoder => match self.sh.dec.on_encoder_stream(data) {
                Ok(ids) => {
                    self.unblocked.extend(ids);
                    // Acknowledge the inserts now, not with the next
                    // section: the peer's encoder may be waiting to evict.
                    self.sh.dec.acknowledge_inserts(&mut self.sh.decoder.buf);
                }
                Err(e) => self
                    .sh
                    .fail(H3Error::conn(Code::Other(e.code()), "QPACK encoder stream")),
            },
            PeerUni::Decoder => {
                if let Err(e) = self.sh.enc.on_decoder_stream(data) {
                    self.sh
                        .fail(H3Error::conn(Code::Other(e.code()), "QPACK decoder stream"));
                }
            }
            PeerUni::Control { reader, settings } => loop {
                match reader.read(&mut data) {
                    Ok(Some(Event::Frame(f))) => {
                        if let Some(q) = &self.sh.qlog {
                            q.parsed(c.now(), id, &f, reader.last_len());
                        }
                        frames.push((!*settings, f));
                        *settings = true;
                    }
                    // DATA payload: its header already fails below.
                    Ok(Some(Event::Data(_))) => {}
                    Ok(None) => break,
                    Err(ReadError::Invalid(e)) => {
                        self.sh.fail(e);
                        break;
                    }
                    Err(ReadError::TooLarge { .. }) => {
                        self.sh.fail(H3Error::conn(
                            Code::ExcessiveLoad,
                            "a control frame over our limit",
                        ));
                        break;
                    }
                }
            },
        }
        for (first, f) in frames {
            if self.sh.error.is_some() {
                return;
            }
            match control_frame(&mut self.sh, server, first, f) {
                Ok(Some(goaway)) => self.on_goaway(c, goaway),
                Ok(None) => {}
                Err(e) => self.sh.fail(e),
            }
        }
    }

    /// The peer's GOAWAY (RFC 9114 §5.2): a server's names the first request
    /// it will not process; those are rejected (safe to retry) and no new
    /// ones start. A client's (a push id: we never push) asks us to wind
    /// down: we answer with our own GOAWAY and drain.
    fn on_goaway(&mut self, c: &mut dyn QuicConnection, id: u64) {
        if self.goaway_recv.is_some_and(|g| id > g) {
            return self.sh.fail(H3Error::conn(
                Code::IdError,
                "GOAWAY with a larger id than before",
            ));
        }
        if !self.server() && (!StreamId(id).is_bidi() || !StreamId(id).is_client_initiated()) {
            return self.sh.fail(H3Error::conn(
                Code::IdError,
                "GOAWAY with a stream id not of a request",
            ));
        }
        self.goaway_recv = Some(id);
        self.drain
            .get_or_insert(after(c.now(), self.sh.cfg.drain_timeout));
        if self.server() {
            self.goaway(c);
            return;
        }
        for child in self.streams.values_mut() {
            if child.st.id.0 >= id && child.st.finished.is_none() {
                let e = H3Error {
                    code: Code::RequestRejected,
                    detail: "not processed before GOAWAY",
                    remote: true,
                    stream: Some(child.st.id.0),
                };
                stream_error(
                    &mut child.st,
                    &mut self.sh,
                    c,
                    Code::RequestCancelled,
                    "GOAWAY",
                );
                child.st.finished = Some(e.close());
            }
        }
    }

    /// Sends our GOAWAY: a server names the first request it will not
    /// process; a client sends push id 0 (we never accept pushes).
    pub(super) fn goaway(&mut self, c: &mut dyn QuicConnection) {
        if self.goaway_sent.is_some() || self.dead {
            return;
        }
        let id = if self.server() {
            self.next_peer_bidi
        } else {
            0
        };
        self.goaway_sent = Some(id);
        frame::write_varint_frame(&mut self.sh.control.buf, kind::GOAWAY, id);
        if let (Some(q), Some(control)) = (&self.sh.qlog, self.sh.control.id) {
            let len = varint::size(id) as u64;
            q.created(c.now(), control, &Frame::Goaway(id), len);
        }
        self.drain
            .get_or_insert(after(c.now(), self.sh.cfg.drain_timeout));
        self.sh.flush_uni(c);
    }

    // ---- client ---------------------------------------------------------------

    /// Opens a stream for each queued request while QUIC lets us.
    fn open_client_streams(&mut self, c: &mut dyn QuicConnection) {
        let Role::Client(q) = &self.role else {
            return;
        };
        let q = q.clone();
        loop {
            if self.dead || self.sh.error.is_some() {
                return;
            }
            let mut g = q.lock().unwrap_or_else(|e| e.into_inner());
            let Some((req, _)) = g.pending.front() else {
                return;
            };
            let refused = if self.goaway_recv.is_some() {
                Some("the server sent GOAWAY")
            } else if req.extensions.get::<Protocol>().is_some() {
                match &self.sh.peer {
                    // RFC 9220 §3: wait for the server's SETTINGS.
                    None => return,
                    Some(s) if !s.enable_connect_protocol => {
                        Some("the server did not enable extended CONNECT")
                    }
                    Some(_) => None,
                }
            } else {
                None
            };
            if let Some(detail) = refused {
                let Some((_, mut proto)) = g.pending.pop_front() else {
                    return;
                };
                drop(g);
                let e = H3Error::conn(Code::RequestRejected, detail);
                proto.connection_lost(&e.close());
                continue;
            }
            let Some(id) = c.open(Dir::Bi) else {
                return;
            };
            let Some((req, proto)) = g.pending.pop_front() else {
                return;
            };
            drop(g);
            let mut st = ReqState::new(id, false, &self.sh.cfg);
            let fields = head::request_fields(&req);
            st.req = Some(RequestHead(req));
            let child = self.streams.entry(id).or_insert(Child { proto: None, st });
            if let Some(f) = self.sh.headers_frame(c.now(), id, &fields) {
                child.st.counters.frame_sent();
                child.st.queued += f.len();
                self.sh.pending_total += f.len();
                if child.st.req.as_ref().map(|r| &r.0.method) == Some(&http::Method::CONNECT) {
                    child.st.head_only = Some(f.len());
                }
                child.st.q.push_back(f);
            }
            self.sh.flush_uni(c);
            super::stream::flush(&mut child.st, &mut self.sh, c);
            let slot = child.proto.insert(ProtocolSlot::new(proto));
            let mut v = View {
                st: &mut child.st,
                sh: &mut self.sh,
                c,
            };
            slot.connection_made(&mut v);
        }
    }

    /// A client whose every request handle is gone closes once its streams
    /// are done.
    fn client_done(&self) -> bool {
        match &self.role {
            Role::Client(q) => {
                self.streams.is_empty()
                    && Arc::strong_count(q) == 1
                    && q.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pending
                        .is_empty()
            }
            Role::Server(_) => false,
        }
    }

    // ---- settle -----------------------------------------------------------------

    /// The settle step, after every callback: held input and EOF, blocked
    /// sections QPACK can now decode, read pauses to QUIC, write edges,
    /// removal of finished streams, new client streams, then the
    /// connection's own state (a connection error, GOAWAY's end).
    pub(super) fn settle(&mut self, c: &mut dyn QuicConnection) {
        if self.dead {
            return;
        }
        self.start(c);
        let service = match &self.role {
            Role::Server(s) => Some(s.clone()),
            Role::Client(_) => None,
        };
        for id in std::mem::take(&mut self.unblocked) {
            if let Some(child) = self.streams.get_mut(&StreamId(id)) {
                retry_blocked(child, &mut self.sh, service.as_ref(), c);
            }
        }
        let mut settled = false;
        for _ in 0..SETTLE_ROUNDS {
            if self.sh.error.is_some() {
                break;
            }
            let mut changed = false;
            self.ids.clear();
            self.ids.extend(self.streams.keys().copied());
            for i in 0..self.ids.len() {
                let id = self.ids[i];
                let Some(child) = self.streams.get_mut(&id) else {
                    continue;
                };
                if !child.st.holding() && !child.st.stash.is_empty() {
                    let stash = std::mem::take(&mut child.st.stash);
                    pump(child, &mut self.sh, service.as_ref(), c, &stash);
                    changed = true;
                }
                if finish_input(child, &mut self.sh, c) {
                    changed = true;
                }
                let st = &mut child.st;
                let body_rule = !self.sh.cfg.body_timeout.is_zero();
                if body_rule && st.reading_body() {
                    if st.body_since.is_none() {
                        st.body_since = Some(c.now());
                        st.body_bytes = 0;
                    }
                } else {
                    st.body_since = None;
                }
                // A paused protocol or a section blocked on QPACK: QUIC stops
                // delivering, so what is held stays within its stream window.
                let want_pause = st.holding() && !st.eof_delivered && !st.reset;
                if want_pause != st.quic_paused {
                    st.quic_paused = want_pause;
                    if want_pause {
                        c.pause_reading(id);
                    } else {
                        c.resume_reading(id);
                    }
                }
                if st.finished.is_none()
                    && let Some(p) = child.proto.as_mut()
                {
                    let open = st.send_open();
                    let w = open
                        && st.queued < self.sh.cfg.stream_send_buffer
                        && self.sh.pending_total < self.sh.cfg.connection_send_buffer;
                    let saw = st.saw_blocked.replace(false);
                    if open && (w == st.write_paused || (w && saw)) {
                        st.write_paused = !w;
                        let mut v = View {
                            st: &mut child.st,
                            sh: &mut self.sh,
                            c,
                        };
                        if w {
                            p.resume_writing(&mut v);
                        } else {
                            p.pause_writing(&mut v);
                        }
                        changed = true;
                    }
                }
                let st = &child.st;
                let done = st.finished.is_some()
                    || ((st.fin_sent || st.reset || st.send_stopped) && st.eof_delivered);
                if done {
                    if let Some(mut gone) = self.streams.remove(&id) {
                        self.deadlines.remove(&mut gone.st.deadline, id);
                        drop_queue(&mut gone.st, &mut self.sh);
                        let why = gone.st.finished.take().unwrap_or(Close::Done);
                        if let Some(mut p) = gone.proto {
                            p.connection_lost(&why);
                        }
                    }
                    changed = true;
                }
            }
            if !changed {
                settled = true;
                break;
            }
        }
        if !settled && self.sh.error.is_none() {
            tracing::debug!("HTTP/3 settle: {SETTLE_ROUNDS} rounds, more work left");
            c.waker().wake();
        }
        self.open_client_streams(c);
        self.sh.flush_uni(c);
        if let Some(e) = self.sh.error.clone() {
            return self.fail_now(c, e);
        }
        if self.client_done() {
            self.goaway(c);
        }
        // Closing once our last FIN is acknowledged: earlier, the close
        // would discard response bytes still in flight (the drain deadline
        // bounds the wait).
        if (self.goaway_sent.is_some() || self.goaway_recv.is_some())
            && self.streams.is_empty()
            && self.sh.unacked.is_empty()
        {
            self.dead = true;
            c.close(Code::NoError.value(), b"");
            return;
        }
        self.sync_deadlines();
    }

    fn sync_deadlines(&mut self) {
        for child in self.streams.values_mut() {
            let body = after_opt(child.st.body_since, self.sh.cfg.body_timeout);
            let d = earliest(
                earliest(child.st.head_deadline, body),
                child.proto.as_ref().and_then(|p| p.next_deadline()),
            );
            self.deadlines.set(&mut child.st.deadline, child.st.id, d);
        }
    }

    /// Closes the connection with `e`; every stream's protocol learns why.
    fn fail_now(&mut self, c: &mut dyn QuicConnection, e: H3Error) {
        c.close(e.code.value(), e.detail.as_bytes());
        self.lose_all(&e.close());
    }

    /// The connection is gone: every stream's protocol (and every request
    /// still queued) learns why, once.
    pub(super) fn lose_all(&mut self, why: &Close) {
        self.dead = true;
        self.drain = None;
        self.deadlines.clear();
        for (_, mut child) in std::mem::take(&mut self.streams) {
            let w = child.st.finished.take().unwrap_or_else(|| why.clone());
            if let Some(mut p) = child.proto {
                p.connection_lost(&w);
            }
        }
        if let Role::Client(q) = &self.role {
            let pending = std::mem::take(&mut q.lock().unwrap_or_else(|e| e.into_inner()).pending);
            for (_, mut p) in pending {
                p.connection_lost(why);
            }
        }
        self.sh.pending_total = 0;
    }

    // ---- time and wakes ---------------------------------------------------------

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.dead {
            return None;
        }
        earliest(self.drain, self.deadlines.next_deadline())
    }

    pub(super) fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        let now = c.now();
        if self.drain.is_some_and(|d| d <= now) {
            self.drain = None;
            for child in self.streams.values_mut() {
                stream_error(
                    &mut child.st,
                    &mut self.sh,
                    c,
                    Code::RequestCancelled,
                    "drain_timeout passed",
                );
                child.st.finished = Some(Close::Timeout(Timeout::Drain));
            }
            // The drain is over: the close waits for no acknowledgment.
            self.sh.unacked.clear();
        }
        while let Some(id) = self.deadlines.pop_due(now) {
            let Some(child) = self.streams.get_mut(&id) else {
                continue;
            };
            child.st.deadline = None;
            if child.st.head_deadline.is_some_and(|d| d <= now) {
                child.st.head_deadline = None;
                stream_error(
                    &mut child.st,
                    &mut self.sh,
                    c,
                    Code::RequestRejected,
                    "request head timeout",
                );
                child.st.finished = Some(Close::Timeout(Timeout::Head));
                continue;
            }
            let cfg = &self.sh.cfg;
            if expired(child.st.body_since, cfg.body_timeout, now) {
                if child.st.body_bytes >= cfg.body_quota() {
                    child.st.body_since = Some(now);
                    child.st.body_bytes = 0;
                } else {
                    body_too_slow(child, &mut self.sh, c);
                    continue;
                }
            }
            if let Some(p) = child.proto.as_mut()
                && p.next_deadline().is_some_and(|d| d <= now)
            {
                let mut v = View {
                    st: &mut child.st,
                    sh: &mut self.sh,
                    c,
                };
                p.on_deadline(&mut v);
            }
        }
        self.settle(c);
    }

    /// A wake along `route`: a stream's protocol (its waker is the
    /// connection's with the stream id as the next hop), or, with no hop
    /// left, the connection itself (new client requests).
    pub(super) fn on_wake(&mut self, c: &mut dyn QuicConnection, mut route: WakeRoute<'_>) {
        match route.next_hop() {
            None => self.open_client_streams(c),
            Some(id) => {
                if let Some(child) = self.streams.get_mut(&StreamId(id))
                    && let Some(p) = child.proto.as_mut()
                {
                    let mut v = View {
                        st: &mut child.st,
                        sh: &mut self.sh,
                        c,
                    };
                    p.on_wake(&mut v, route);
                }
            }
        }
        self.settle(c);
    }

    /// The peer raised its stream limit: our uni streams and queued
    /// requests may open now.
    pub(super) fn streams_available(&mut self, c: &mut dyn QuicConnection) {
        self.open_uni(c);
        self.settle(c);
    }
}

/// One frame of the peer's control stream (RFC 9114 §6.2.1, §7.2): the
/// GOAWAY id, if it was one.
fn control_frame(
    sh: &mut Shared,
    server: bool,
    first: bool,
    f: Frame,
) -> Result<Option<u64>, H3Error> {
    let unexpected = |d| Err(H3Error::conn(Code::FrameUnexpected, d));
    if first && !matches!(f, Frame::Settings(_)) {
        return Err(H3Error::conn(
            Code::MissingSettings,
            "the control stream did not start with SETTINGS",
        ));
    }
    match f {
        Frame::Settings(s) if first => {
            let cap = s.qpack_max_table_capacity;
            let blocked = s.qpack_blocked_streams;
            sh.peer = Some(s);
            sh.enc.set_peer_settings(cap, blocked, &mut sh.encoder.buf);
            Ok(None)
        }
        Frame::Settings(_) => unexpected("a second SETTINGS"),
        Frame::Data { .. } | Frame::Headers(_) | Frame::PushPromise { .. } => {
            unexpected("a request frame on the control stream")
        }
        Frame::Goaway(id) => Ok(Some(id)),
        Frame::MaxPushId(_) if !server => unexpected("MAX_PUSH_ID from a server"),
        Frame::CancelPush(_) if !server => Err(H3Error::conn(
            Code::IdError,
            "CANCEL_PUSH without MAX_PUSH_ID",
        )),
        Frame::MaxPushId(_) | Frame::CancelPush(_) | Frame::Unknown { .. } => Ok(None),
    }
}
