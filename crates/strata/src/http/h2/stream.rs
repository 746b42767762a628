//! One HTTP/2 stream: its state, the transport its protocol sees, and
//! how its queued output becomes frames.
//!
//! # Stream states (RFC 9113 §5.1)
//!
//! A stream's state is [`State`], the RFC's diagram with the RFC's names;
//! [`State::on`] is its only transition function:
//!
//! ```text
//!                              +--------+
//!                      send PP |        | recv PP
//!                     ,--------+  Idle  +--------.
//!                    /         |        |         \
//!                   v          +--------+          v
//!            +----------+          |           +----------+
//!            | Reserved |          | send H /  | Reserved |
//!            |  Local   |          | recv H    |  Remote  |
//!            +----------+          v           +----------+
//!                |             +--------+             |
//!                |     recv ES |        | send ES     |
//!         send H |     ,-------+  Open  +-------.     | recv H
//!                |    /        |        |        \    |
//!                v   v         +--------+         v   v
//!            +----------+          |           +----------+
//!            |HalfClosed|          |           |HalfClosed|
//!            |  Remote  |          |           |  Local   |
//!            +----------+          |           +----------+
//!                 |                |                 |
//!                 | send ES /      |       recv ES / |
//!                 | send R /       v        send R / |
//!                 | recv R     +--------+   recv R   |
//!                 `----------->| Closed |<-----------'
//!                              +--------+
//!
//!   send: this end sends the frame     recv: this end receives it
//!   H: HEADERS   ES: END_STREAM flag   R: RST_STREAM   PP: PUSH_PROMISE
//!   (send R / recv R from any state but Idle lead to Closed)
//! ```
//!
//! Push is disabled (we send `SETTINGS_ENABLE_PUSH=0` and a PUSH_PROMISE is
//! a connection error), so the `Reserved` states are never entered; they
//! are named so the code reads as the diagram does. A stream is stored
//! from its first HEADERS on (`Idle` only names ids never used, see
//! `H2Connection::idle`) until both ends closed and its protocol is told.
//!
//! Peer input that the diagram does not allow never reaches [`State::on`]:
//! the receive side answers it first, with the RFC's error: a frame on an
//! idle stream is a connection error PROTOCOL_ERROR; DATA or HEADERS after
//! the peer's END_STREAM, and any frame but PRIORITY after its RST_STREAM,
//! a stream error STREAM_CLOSED (§5.1); frames on a stream we reset are
//! ignored (§5.4.2).
//!
//! Beside the state, each direction keeps its own bookkeeping: [`SendHalf`]
//! (flow-control window, queued data, an END_STREAM asked for but not yet
//! sent, write pauses) and [`RecvHalf`] (window, held input, EOF delivery,
//! declared length, the request-body clock).

use std::any::{Any, TypeId};
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{request, response, HeaderMap, StatusCode};

use super::frame::{self, flag, kind, ErrorCode};
use super::head::{response_fields, RequestPseudo};
use super::{H2Config, H2Error};
use crate::http::hpack::Encoder;
use crate::http::{HttpControl, HttpError, HttpVersion, RequestHead, ResponseHead, Trailers};
use crate::stats::Counters;
use crate::{
    AbortReason, Call, Close, Introspect, ProtocolSlot, StreamProtocol, StreamTransport, Wake,
};

/// Capability of an HTTP/2 stream's transport: its stream id.
///
/// ```
/// use strata::http::h2::StreamId;
/// assert_eq!(StreamId(1).0, 1);
/// assert!(StreamId(1).is_client_initiated());
/// assert!(StreamId(1) < StreamId(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(
    /// The stream's 31-bit identifier.
    pub u32,
);

impl StreamId {
    /// The connection itself (frames such as SETTINGS and GOAWAY).
    pub const CONNECTION: StreamId = StreamId(0);

    /// Whether a client opened it (odd ids, RFC 9113 §5.1.1).
    ///
    /// ```
    /// use strata::http::h2::StreamId;
    /// assert!(StreamId(1).is_client_initiated() && StreamId(3).is_client_initiated());
    /// assert!(!StreamId(2).is_client_initiated()); // a server's (push)
    /// assert!(!StreamId::CONNECTION.is_client_initiated());
    /// ```
    pub fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A stream's state in the RFC 9113 §5.1 diagram (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Idle,
    /// Never entered: push is disabled.
    #[allow(dead_code)]
    ReservedLocal,
    /// Never entered: push is disabled.
    #[allow(dead_code)]
    ReservedRemote,
    Open,
    /// We sent END_STREAM; the peer still sends.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we still send.
    HalfClosedRemote,
    Closed(Closed),
}

/// How a stream reached `Closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Closed {
    /// Both ends sent END_STREAM.
    Ended,
    /// We sent RST_STREAM.
    ResetSent,
    /// The peer sent RST_STREAM (remembered even if we had reset first:
    /// any later frame but PRIORITY is then STREAM_CLOSED).
    ResetByPeer,
}

/// What moves a stream along the diagram: a frame sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    SendHeaders,
    RecvHeaders,
    SendEndStream,
    RecvEndStream,
    SendReset,
    RecvReset,
}

impl Event {
    /// The `trigger` of the qlog event for the transition it makes.
    pub(super) fn trigger(self) -> &'static str {
        match self {
            Event::SendHeaders | Event::RecvHeaders => "headers",
            Event::SendEndStream | Event::RecvEndStream => "end_stream",
            Event::SendReset => "reset_sent",
            Event::RecvReset => "reset_received",
        }
    }
}

impl State {
    /// The transition of RFC 9113 §5.1 for `ev`, edge by edge. An event the
    /// diagram has no edge for leaves the state as it is: the send side
    /// never produces one, and the receive side refuses such peer input
    /// with its typed error before it gets here.
    pub(super) fn on(self, ev: Event) -> State {
        use Event::*;
        use State::*;
        match (self, ev) {
            (Idle, SendHeaders | RecvHeaders) => Open,
            (ReservedLocal, SendHeaders) => HalfClosedRemote,
            (ReservedRemote, RecvHeaders) => HalfClosedLocal,
            (Open, SendEndStream) => HalfClosedLocal,
            (Open, RecvEndStream) => HalfClosedRemote,
            (HalfClosedLocal, RecvEndStream) | (HalfClosedRemote, SendEndStream) => {
                Closed(self::Closed::Ended)
            }
            (Idle, SendReset | RecvReset) => Idle,
            (_, RecvReset) => Closed(self::Closed::ResetByPeer),
            (Closed(c), _) => Closed(c),
            (_, SendReset) => Closed(self::Closed::ResetSent),
            (s, _) => s,
        }
    }

    /// The RFC's name for the state, as qlog writes it.
    pub(super) fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::ReservedLocal => "reserved_local",
            State::ReservedRemote => "reserved_remote",
            State::Open => "open",
            State::HalfClosedLocal => "half_closed_local",
            State::HalfClosedRemote => "half_closed_remote",
            State::Closed(_) => "closed",
        }
    }

    /// We can send no more on it (END_STREAM sent, or reset).
    pub(super) fn send_closed(self) -> bool {
        matches!(self, State::HalfClosedLocal | State::Closed(_))
    }

    /// The peer can send no more on it (END_STREAM received, or reset).
    pub(super) fn recv_closed(self) -> bool {
        matches!(self, State::HalfClosedRemote | State::Closed(_))
    }
}

/// What a stream has queued to send, in order.
#[derive(Debug)]
pub(super) enum HeadOut {
    Response(response::Parts),
    Request(Box<request::Parts>),
}

/// The send side as the stream's protocol sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Local {
    /// Sending.
    Open,
    /// `write_eof`/`close` asked; END_STREAM goes after what is queued.
    Ending,
    /// END_STREAM sent (or the stream was reset).
    Done,
}

/// The sending direction of a stream.
pub(super) struct SendHalf {
    /// The peer's flow-control window for this stream.
    pub(super) window: i64,
    /// Data written and not yet framed, and its length.
    pub(super) queue: VecDeque<Bytes>,
    pub(super) queued: usize,
    /// Trailers to end the stream with.
    pub(super) trailers: Option<HeaderMap>,
    /// END_STREAM was asked for (`write_eof`, `close`, trailers): it goes
    /// out after what is queued.
    pub(super) ending: bool,
    /// `close()` was called: once END_STREAM is out, a request still
    /// arriving is stopped with RST_STREAM(NO_ERROR) (RFC 9113 §8.1).
    pub(super) close_requested: bool,
    /// The protocol got `pause_writing` (and no resume since).
    pub(super) write_paused: bool,
    /// The protocol saw `writable()` false since the last settle. It may
    /// have paused on that level check alone; if the stream is writable
    /// again by the settle step (its queue went out at once), no
    /// `pause_writing` edge is due but `resume_writing` is, or a protocol
    /// waiting for it (an echo that paused reading) waits forever.
    pub(super) saw_blocked: Cell<bool>,
    /// Since when data waits on the stream's window (`stall_timeout`).
    pub(super) stall_since: Option<Instant>,
}

/// The receiving direction of a stream.
pub(super) struct RecvHalf {
    /// Our flow-control window for the peer, and what the protocol consumed
    /// since the last WINDOW_UPDATE.
    pub(super) window: i64,
    pub(super) unacked: u32,
    /// The declared content-length, and the body bytes so far.
    pub(super) expect_len: Option<u64>,
    pub(super) len: u64,
    /// The protocol paused reading.
    pub(super) paused: bool,
    /// Body bytes that arrived while the protocol was not reading; handed
    /// over in pieces of at most one frame's size (see `H2Connection::settle`).
    pub(super) stash: BytesMut,
    /// The protocol got `eof_received`.
    pub(super) eof_delivered: bool,
    /// The request body's rate period: when it started (`None` while the
    /// body is not being read) and the bytes that arrived in it.
    pub(super) body_since: Option<Instant>,
    pub(super) body_bytes: u64,
}

pub(super) struct StreamState {
    pub(super) id: StreamId,
    /// Where the stream is in the RFC 9113 §5.1 diagram.
    pub(super) state: State,
    pub(super) send: SendHalf,
    pub(super) recv: RecvHalf,
    // --- the HTTP exchange it carries ---
    pub(super) server: bool,
    pub(super) req: Option<RequestHead>,
    pub(super) resp: Option<ResponseHead>,
    pub(super) trailers_in: Option<Trailers>,
    /// A response without a body (HEAD, 204, 304): written data is dropped.
    pub(super) head_request: bool,
    pub(super) heads: Vec<HeadOut>,
    pub(super) final_head_sent: bool,
    // --- its protocol's lifecycle and the connection's bookkeeping ---
    /// Why its protocol's stream ends; set, the stream is removed at the
    /// next settle.
    pub(super) finished: Option<Close>,
    /// In `Shared::dirty`: output to emit at the settle step.
    pub(super) dirty: bool,
    /// In `Shared::touched`: its deadline is to be recomputed.
    pub(super) touched: bool,
    /// Its entry in the connection's deadline queue.
    pub(super) deadline: Option<Instant>,
    /// What the `h2-stream` layer counts: body bytes (DATA payloads) and
    /// frames (header blocks and DATA frames) each way, and the bytes
    /// written and not yet framed.
    pub(super) counters: Counters,
}

impl StreamState {
    /// A stream just out of `Idle`: `ev` is the HEADERS that opened it
    /// (`H2Connection::new_stream` writes that move to a trace).
    pub(super) fn new(
        id: StreamId,
        server: bool,
        ev: Event,
        send_window: u32,
        recv_window: u32,
    ) -> StreamState {
        StreamState {
            id,
            state: State::Idle.on(ev),
            send: SendHalf {
                window: send_window as i64,
                queue: VecDeque::new(),
                queued: 0,
                trailers: None,
                ending: false,
                close_requested: false,
                write_paused: false,
                saw_blocked: Cell::new(false),
                stall_since: None,
            },
            recv: RecvHalf {
                window: recv_window as i64,
                unacked: 0,
                expect_len: None,
                len: 0,
                paused: false,
                stash: BytesMut::new(),
                eof_delivered: false,
                body_since: None,
                body_bytes: 0,
            },
            server,
            req: None,
            resp: None,
            trailers_in: None,
            head_request: false,
            heads: Vec::new(),
            final_head_sent: false,
            finished: None,
            dirty: false,
            touched: false,
            deadline: None,
            counters: Counters::default(),
        }
    }

    /// Moves the stream along the diagram (see [`State::on`]); a traced
    /// connection writes the move as `http:stream_state_updated`. Every
    /// transition of a stored stream goes through here (its first, out of
    /// `Idle`, is made with it: [`StreamState::new`]). Untraced, the trace
    /// costs one `Option` check.
    #[inline]
    pub(super) fn apply(&mut self, ev: Event, sh: &Shared, t: &dyn StreamTransport) {
        let old = self.step(ev);
        if let Some(q) = &sh.qlog {
            q.state(t, self.id, old, self.state, ev);
        }
    }

    /// The move alone; returns the state it left.
    fn step(&mut self, ev: Event) -> State {
        let old = self.state;
        self.state = old.on(ev);
        old
    }

    /// The send side as its protocol sees it.
    pub(super) fn local(&self) -> Local {
        if self.state.send_closed() {
            Local::Done
        } else if self.send.ending {
            Local::Ending
        } else {
            Local::Open
        }
    }

    /// The peer sent END_STREAM (or the stream was reset).
    pub(super) fn remote_done(&self) -> bool {
        self.state.recv_closed()
    }

    /// The peer reset this stream (RST_STREAM received): any later frame
    /// but PRIORITY on it is a stream error STREAM_CLOSED (RFC 9113 §5.1).
    pub(super) fn peer_reset(&self) -> bool {
        self.state == State::Closed(Closed::ResetByPeer)
    }

    /// We reset the stream (RST_STREAM sent with `rst`): nothing more is
    /// sent on it, and nothing more is read.
    pub(super) fn reset_sent(&mut self, sh: &Shared, t: &dyn StreamTransport) {
        self.apply(Event::SendReset, sh, t);
    }

    /// Its deadline may have changed (its protocol was called, or a clock
    /// of its own moved): recomputed at the end of the settle step.
    pub(super) fn touch(&mut self, touched: &mut Vec<StreamId>) {
        if !self.touched {
            self.touched = true;
            touched.push(self.id);
        }
    }
}

/// A stream and its protocol. The protocol is held in a swap point: a
/// swap it asks for (a `Replace` after a CONNECT, STARTTLS inside a tunnel)
/// is applied here, after its callback, by the slot.
pub(super) struct Child {
    pub(super) proto: ProtocolSlot,
    pub(super) st: StreamState,
}

/// What the stream views share with the connection.
pub(super) struct Shared {
    pub(super) cfg: Arc<H2Config>,
    /// The HPACK encoder, boxed and made when first needed
    /// ([`lazy_encoder`]): an idle connection holds 8 bytes here, not 72.
    pub(super) encoder: Option<Box<Encoder>>,
    pub(super) hbuf: Vec<u8>,
    pub(super) out: Vec<u8>,
    pub(super) send_window: i64,
    pub(super) peer_initial_window: u32,
    pub(super) peer_max_frame: u32,
    pub(super) pending_total: usize,
    /// Streams we reset recently (bounded by `RESET_MEMORY`).
    pub(super) reset_ids: VecDeque<StreamId>,
    pub(super) dirty: Vec<StreamId>,
    pub(super) recv_unacked: u32,
    /// True while the connection handles one read's frames: streams' output
    /// then waits for the settle step, so nothing is sent on a stream a
    /// later frame of the same read resets (RFC 9113 §5.1).
    pub(super) reading: bool,
    /// Streams whose deadline is to be recomputed (see `StreamState::touch`).
    pub(super) touched: Vec<StreamId>,
    /// The qlog trace and output scanner, when traced (boxed: 8 bytes idle).
    pub(super) qlog: Option<Box<super::qlog::H2Qlog>>,
}

/// The HPACK encoder in `slot` (`Shared::encoder`), made on first use.
pub(super) fn lazy_encoder(slot: &mut Option<Box<Encoder>>) -> &mut Encoder {
    slot.get_or_insert_with(Box::default)
}

/// Sends RST_STREAM and remembers the stream for a while: frames the peer
/// sent before it saw the reset (trailers, DATA) are then ignored (RFC 9113
/// §5.4.2). Every reset is logged at debug level with its reason.
pub(super) fn rst(sh: &mut Shared, id: StreamId, code: ErrorCode, why: &'static str) {
    tracing::debug!(stream = id.0, %code, why, "HTTP/2 RST_STREAM sent");
    frame::write_rst_stream(&mut sh.out, id.0, code);
    if sh.reset_ids.len() >= RESET_MEMORY {
        sh.reset_ids.pop_front();
    }
    sh.reset_ids.push_back(id);
}

/// How many reset streams are remembered (RFC 9113 §5.1: frames may still
/// arrive on a stream after we reset it).
pub(super) const RESET_MEMORY: usize = 128;

pub(super) fn stream_writable(st: &StreamState, sh: &Shared, below: bool) -> bool {
    st.local() == Local::Open
        && st.send.queued < sh.cfg.stream_send_buffer
        && sh.pending_total < sh.cfg.connection_send_buffer
        && below
}

pub(super) fn drop_pending(st: &mut StreamState, sh: &mut Shared) {
    sh.pending_total -= st.send.queued;
    st.send.queue.clear();
    st.send.queued = 0;
    st.heads.clear();
    st.send.trailers = None;
}

/// Delivers EOF once the body is complete; true if it did.
pub(super) fn deliver_eof(child: &mut Child, sh: &mut Shared, t: &mut dyn StreamTransport) -> bool {
    let st = &child.st;
    if !st.remote_done()
        || st.recv.eof_delivered
        || st.finished.is_some()
        || !st.recv.stash.is_empty()
        || st.recv.paused
    {
        return false;
    }
    child.st.recv.eof_delivered = true;
    let mut v = View::new(&mut child.st, sh, t);
    child.proto.eof_received(&mut v);
    true
}

/// The protocol consumed `n` bytes: give the window back when half is used.
pub(super) fn credit(st: &mut StreamState, sh: &mut Shared, t: &dyn StreamTransport, n: usize) {
    let n = n as u32;
    sh.recv_unacked += n;
    if st.remote_done() {
        return;
    }
    st.recv.unacked += n;
    let target = sh.cfg.initial_stream_window;
    if st.recv.unacked >= target / 2 {
        frame::write_window_update(&mut sh.out, st.id.0, st.recv.unacked);
        st.recv.window += st.recv.unacked as i64;
        st.recv.unacked = 0;
        if let Some(q) = &sh.qlog {
            let w = [("recv_window", st.recv.window)];
            q.flow(t, st.id.0, "window_update_sent", &w);
        }
    }
}

/// Writes the stream's queued heads, data (as the windows allow) and end.
pub(super) fn emit(st: &mut StreamState, sh: &mut Shared, t: &mut dyn StreamTransport) {
    emit_frames(st, sh, t);
    st.counters.buffered = st.send.queued as u64;
}

fn emit_frames(st: &mut StreamState, sh: &mut Shared, t: &mut dyn StreamTransport) {
    if st.local() == Local::Done {
        return;
    }
    let ending = st.local() == Local::Ending;
    let n_heads = st.heads.len();
    for (i, h) in std::mem::take(&mut st.heads).into_iter().enumerate() {
        let last = i + 1 == n_heads;
        let end = last && ending && st.send.queued == 0 && st.send.trailers.is_none();
        let end = end && !matches!(&h, HeadOut::Response(p) if p.status.is_informational());
        sh.hbuf.clear();
        match &h {
            HeadOut::Response(p) => {
                let fields = response_fields(&p.status, &p.headers);
                lazy_encoder(&mut sh.encoder).encode(fields, &mut sh.hbuf)
            }
            HeadOut::Request(p) => {
                let ps = RequestPseudo::of(p);
                lazy_encoder(&mut sh.encoder).encode(ps.fields(&p.headers), &mut sh.hbuf);
            }
        }
        frame::write_headers(&mut sh.out, st.id.0, &sh.hbuf, end, sh.peer_max_frame);
        st.counters.frame_sent();
        if sh.hbuf.capacity() > 64 << 10 {
            sh.hbuf = Vec::new();
        }
        if end {
            return ended(st, sh, t);
        }
    }
    while st.send.queued > 0 {
        let can = st
            .send
            .window
            .min(sh.send_window)
            .min(sh.peer_max_frame as i64);
        if can <= 0 {
            return;
        }
        let Some(front) = st.send.queue.front_mut() else {
            break;
        };
        let n = front.len().min(can as usize);
        let chunk = front.split_to(n);
        if front.is_empty() {
            st.send.queue.pop_front();
        }
        st.send.queued -= n;
        sh.pending_total -= n;
        st.send.window -= n as i64;
        sh.send_window -= n as i64;
        if let Some(q) = &sh.qlog {
            let w = [
                ("send_window", st.send.window),
                ("connection_send_window", sh.send_window),
            ];
            q.flow(t, st.id.0, "data_sent", &w);
        }
        let end = ending && st.send.queued == 0 && st.send.trailers.is_none();
        frame::write_header(
            &mut sh.out,
            n as u32,
            kind::DATA,
            if end { flag::END_STREAM } else { 0 },
            st.id.0,
        );
        st.counters.frame_sent();
        st.counters.sent(n);
        if n >= 4096 {
            if let Some(q) = &mut sh.qlog {
                q.sent(t.now(), &sh.out, sh.send_window);
                q.sent(t.now(), &chunk, sh.send_window);
            }
            t.write(&sh.out);
            sh.out.clear();
            t.write_bytes(chunk);
        } else {
            sh.out.extend_from_slice(&chunk);
        }
        if end {
            return ended(st, sh, t);
        }
    }
    if ending && st.send.queued == 0 {
        match st.send.trailers.take() {
            Some(tr) => {
                sh.hbuf.clear();
                let fields = super::head::regular(&tr);
                lazy_encoder(&mut sh.encoder).encode(fields, &mut sh.hbuf);
                frame::write_headers(&mut sh.out, st.id.0, &sh.hbuf, true, sh.peer_max_frame);
            }
            None => frame::write_header(&mut sh.out, 0, kind::DATA, flag::END_STREAM, st.id.0),
        }
        st.counters.frame_sent();
        ended(st, sh, t);
    }
}

/// END_STREAM went out. After `close()`, a request still arriving is
/// stopped with RST_STREAM(NO_ERROR) (RFC 9113 §8.1: the response is
/// complete). Inline: out of line, it cost a call per request.
#[inline]
pub(super) fn ended(st: &mut StreamState, sh: &mut Shared, t: &dyn StreamTransport) {
    st.apply(Event::SendEndStream, sh, t);
    if st.send.close_requested && !st.remote_done() {
        rst(
            sh,
            st.id,
            ErrorCode::NoError,
            "response complete before the request",
        );
        st.reset_sent(sh, t);
        st.recv.eof_delivered = true;
    }
}

/// The transport an HTTP/2 stream's protocol sees.
pub(super) struct View<'a> {
    pub(super) st: &'a mut StreamState,
    pub(super) sh: &'a mut Shared,
    pub(super) below: &'a mut dyn StreamTransport,
}

impl<'a> View<'a> {
    /// The view for a call into the stream's protocol, which may change its
    /// deadline: the stream is touched.
    pub(super) fn new(
        st: &'a mut StreamState,
        sh: &'a mut Shared,
        below: &'a mut dyn StreamTransport,
    ) -> View<'a> {
        st.touch(&mut sh.touched);
        View { st, sh, below }
    }

    fn mark(&mut self) {
        if !self.st.dirty {
            self.st.dirty = true;
            self.sh.dirty.push(self.st.id);
        }
    }

    fn default_head(&mut self) {
        if self.st.server && !self.st.final_head_sent {
            self.st.final_head_sent = true;
            let (p, ()) = http::Response::new(()).into_parts();
            self.st.heads.push(HeadOut::Response(p));
        }
    }

    fn queue(&mut self, data: Bytes) {
        if self.st.local() != Local::Open || data.is_empty() {
            return;
        }
        self.default_head();
        if self.st.head_request {
            return;
        }
        if self.st.send.queued + data.len() > self.sh.cfg.stream_send_limit {
            let id = self.st.id;
            rst(
                self.sh,
                id,
                ErrorCode::InternalError,
                "stream_send_limit passed: the protocol ignored writable()",
            );
            drop_pending(self.st, self.sh);
            self.st.reset_sent(self.sh, &*self.below);
            let limit = self.sh.cfg.stream_send_limit;
            self.st.finished = Some(Close::aborted(
                "h2-stream",
                AbortReason::MemoryBudget { limit },
            ));
            return;
        }
        self.st.send.queued += data.len();
        self.sh.pending_total += data.len();
        self.st.send.queue.push_back(data);
        self.st.counters.buffered = self.st.send.queued as u64;
        // Large writes go out now, so a bulk sender's bytes are copied once;
        // not while a read's frames are handled (a later one may reset us),
        // and not before this stream's HEADERS left: new streams' HEADERS
        // go out in id order, from the settle step (a small request then a
        // large one sent stream 3's HEADERS first, and the server answered
        // GOAWAY: tests/h2_client_order.rs).
        if self.st.send.queued >= 16 << 10 && !self.sh.reading && self.st.heads.is_empty() {
            emit(self.st, self.sh, self.below);
        }
        self.mark();
    }
}

impl Introspect for View<'_> {
    fn name(&self) -> &'static str {
        "h2-stream"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<RequestHead>() {
            return self.st.req.as_ref().map(|r| r as &dyn Any);
        }
        if id == TypeId::of::<ResponseHead>() {
            return self.st.resp.as_ref().map(|r| r as &dyn Any);
        }
        if id == TypeId::of::<Trailers>() {
            return self.st.trailers_in.as_ref().map(|r| r as &dyn Any);
        }
        if id == TypeId::of::<HttpVersion>() {
            return Some(&HttpVersion(http::Version::HTTP_2));
        }
        if id == TypeId::of::<StreamId>() {
            return Some(&self.st.id);
        }
        if id == TypeId::of::<Counters>() {
            return Some(&self.st.counters);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below as &dyn Introspect)
    }
}

impl StreamTransport for View<'_> {
    fn write(&mut self, data: &[u8]) {
        if self.st.local() == Local::Open && !data.is_empty() {
            self.queue(Bytes::copy_from_slice(data));
        }
    }
    fn write_bytes(&mut self, data: Bytes) {
        self.queue(data);
    }
    fn write_eof(&mut self) {
        if self.st.local() == Local::Open {
            if self.st.server && !self.st.final_head_sent {
                self.default_head();
            }
            self.st.send.ending = true;
            self.mark();
        }
    }
    fn close(&mut self) {
        if self.st.local() == Local::Open {
            self.write_eof();
        }
        self.st.send.close_requested = true;
        if self.st.local() == Local::Done && !self.st.remote_done() {
            rst(
                self.sh,
                self.st.id,
                ErrorCode::NoError,
                "response complete before the request",
            );
            self.st.reset_sent(self.sh, &*self.below);
            self.st.recv.eof_delivered = true;
        }
        self.mark();
    }
    fn abort(&mut self, why: Close) {
        if self.st.finished.is_some() {
            return;
        }
        let code = match &why {
            Close::Aborted {
                reason: AbortReason::Requested,
                ..
            } => ErrorCode::Cancel,
            _ => why
                .error::<H2Error>()
                .map_or(ErrorCode::InternalError, |e| e.code),
        };
        rst(
            self.sh,
            self.st.id,
            code,
            "aborted by the stream's protocol",
        );
        drop_pending(self.st, self.sh);
        self.st.reset_sent(self.sh, &*self.below);
        self.st.finished = Some(why);
        self.mark();
    }
    fn pause_reading(&mut self) {
        self.st.recv.paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.recv.paused = false;
        self.mark();
    }
    fn buffered(&self) -> usize {
        self.st.send.queued + self.below.buffered()
    }
    fn writable(&self) -> bool {
        let w = stream_writable(self.st, self.sh, self.below.writable());
        if !w {
            self.st.send.saw_blocked.set(true);
        }
        w
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker().child(self.st.id.0 as u64)
    }
    fn control(&mut self, mut call: Call<'_>) {
        call.answer(|m: HttpControl| match m {
            HttpControl::Respond(p) => {
                if !self.st.server {
                    Err(HttpError::NotHttp)
                } else if self.st.final_head_sent {
                    Err(HttpError::HeadAlreadySent)
                } else if self.st.local() != Local::Open {
                    Err(HttpError::BodyEnded)
                } else {
                    if !p.status.is_informational() {
                        self.st.final_head_sent = true;
                        if p.status == StatusCode::NO_CONTENT
                            || p.status == StatusCode::NOT_MODIFIED
                        {
                            self.st.head_request = true;
                        }
                    }
                    self.st.heads.push(HeadOut::Response(p));
                    self.mark();
                    Ok(())
                }
            }
            HttpControl::Trailers(h) => {
                if self.st.local() != Local::Open {
                    Err(HttpError::BodyEnded)
                } else {
                    self.default_head();
                    self.st.send.trailers = Some(h);
                    self.st.send.ending = true;
                    self.mark();
                    Ok(())
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Closed::*;
    use super::Event::*;
    use super::State::*;
    use super::*;

    /// Every edge of the RFC 9113 §5.1 diagram (module doc), and that a
    /// closed stream stays closed.
    #[test]
    fn transitions_follow_the_rfc_diagram() {
        let edges = [
            (Idle, SendHeaders, Open),
            (Idle, RecvHeaders, Open),
            (ReservedLocal, SendHeaders, HalfClosedRemote),
            (ReservedRemote, RecvHeaders, HalfClosedLocal),
            (ReservedLocal, SendReset, Closed(ResetSent)),
            (ReservedRemote, RecvReset, Closed(ResetByPeer)),
            (Open, SendEndStream, HalfClosedLocal),
            (Open, RecvEndStream, HalfClosedRemote),
            (Open, SendReset, Closed(ResetSent)),
            (Open, RecvReset, Closed(ResetByPeer)),
            (HalfClosedLocal, RecvEndStream, Closed(Ended)),
            (HalfClosedLocal, SendReset, Closed(ResetSent)),
            (HalfClosedLocal, RecvReset, Closed(ResetByPeer)),
            (HalfClosedRemote, SendEndStream, Closed(Ended)),
            (HalfClosedRemote, SendReset, Closed(ResetSent)),
            (HalfClosedRemote, RecvReset, Closed(ResetByPeer)),
            // Headers in an open or half-closed stream (a response, trailers)
            // move nothing; END_STREAM is its own event.
            (Open, SendHeaders, Open),
            (Open, RecvHeaders, Open),
            (HalfClosedRemote, SendHeaders, HalfClosedRemote),
            // Closed is final; a peer's reset after ours is remembered.
            (Closed(Ended), SendEndStream, Closed(Ended)),
            (Closed(Ended), SendReset, Closed(Ended)),
            (Closed(ResetSent), RecvReset, Closed(ResetByPeer)),
            (Closed(ResetByPeer), SendReset, Closed(ResetByPeer)),
        ];
        for (from, ev, to) in edges {
            assert_eq!(from.on(ev), to, "{from:?} --{ev:?}-->");
        }
        for s in [HalfClosedLocal, Closed(Ended), Closed(ResetSent)] {
            assert!(s.send_closed(), "{s:?}");
        }
        for s in [Open, HalfClosedRemote, Idle] {
            assert!(!s.send_closed(), "{s:?}");
        }
        for s in [HalfClosedRemote, Closed(Ended), Closed(ResetByPeer)] {
            assert!(s.recv_closed(), "{s:?}");
        }
        for s in [Open, HalfClosedLocal, Idle] {
            assert!(!s.recv_closed(), "{s:?}");
        }
    }

    #[test]
    fn local_view_of_the_send_side() {
        let mut st = StreamState::new(StreamId(1), true, RecvHeaders, 65_535, 65_535);
        assert_eq!(st.local(), Local::Open);
        st.send.ending = true;
        assert_eq!(st.local(), Local::Ending);
        assert_eq!(st.step(RecvEndStream), Open);
        assert!(st.remote_done() && !st.peer_reset());
        st.step(SendEndStream);
        assert_eq!((st.local(), st.state), (Local::Done, Closed(Ended)));
    }
}
