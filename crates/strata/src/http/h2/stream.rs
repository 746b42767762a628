//! One HTTP/2 stream: its state, the transport its protocol sees, and
//! how its queued output becomes frames.

use std::any::{Any, TypeId};
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{request, response, HeaderMap, StatusCode};

use super::frame::{self, flag, kind, ErrorCode};
use super::head::{response_fields, RequestPseudo};
use super::H2Config;
use crate::http::hpack::Encoder;
use crate::http::{
    take_control, HttpControl, HttpError, HttpVersion, RequestHead, ResponseHead, Trailers,
};
use crate::{AbortReason, Close, Introspect, ProtocolSlot, StreamProtocol, StreamTransport, Wake};

/// Capability of an HTTP/2 stream's transport: its stream id.
///
/// ```
/// use strata::http::h2::StreamId;
/// assert_eq!(StreamId(1).0, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId(pub u32);

/// What a stream has queued to send, in order.
#[derive(Debug)]
pub(super) enum HeadOut {
    Response(response::Parts),
    Request(Box<request::Parts>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Local {
    /// Sending.
    Open,
    /// `write_eof`/`close` asked; END_STREAM goes after what is queued.
    Ending,
    /// END_STREAM sent (or the stream was reset).
    Done,
}

pub(super) struct StreamState {
    pub(super) id: u32,
    pub(super) sid: StreamId,
    pub(super) server: bool,
    pub(super) req: Option<RequestHead>,
    pub(super) resp: Option<ResponseHead>,
    pub(super) trailers_in: Option<Trailers>,
    pub(super) head_request: bool,
    pub(super) heads: Vec<HeadOut>,
    pub(super) final_head_sent: bool,
    pub(super) send_window: i64,
    pub(super) pending: VecDeque<Bytes>,
    pub(super) pending_len: usize,
    pub(super) local: Local,
    pub(super) trailers_out: Option<HeaderMap>,
    pub(super) close_requested: bool,
    pub(super) remote_done: bool,
    pub(super) eof_delivered: bool,
    pub(super) read_paused: bool,
    /// Body bytes that arrived while the protocol was not reading; handed
    /// over in pieces of at most one frame's size (see `H2Connection::settle`).
    pub(super) stash: BytesMut,
    /// The peer reset this stream (RST_STREAM received): any later frame
    /// but PRIORITY on it is a stream error STREAM_CLOSED (RFC 9113 §5.1).
    pub(super) peer_reset: bool,
    /// The request body's rate period: when it started (`None` while the
    /// body is not being read) and the bytes that arrived in it.
    pub(super) body_since: Option<Instant>,
    pub(super) body_bytes: u64,
    pub(super) recv_window: i64,
    pub(super) recv_unacked: u32,
    pub(super) expect_len: Option<u64>,
    pub(super) recv_len: u64,
    pub(super) write_paused: bool,
    /// The protocol saw `writable()` false since the last settle. It may
    /// have paused on that level check alone; if the stream is writable
    /// again by the settle step (its queue went out at once), no
    /// `pause_writing` edge is due but `resume_writing` is, or a protocol
    /// waiting for it (an echo that paused reading) waits forever.
    pub(super) saw_blocked: Cell<bool>,
    pub(super) finished: Option<Close>,
    pub(super) swap: Option<(Box<dyn StreamProtocol>, Vec<u8>)>,
    pub(super) stall_since: Option<Instant>,
    pub(super) dirty: bool,
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
    pub(super) enc: Encoder,
    pub(super) hbuf: Vec<u8>,
    pub(super) out: Vec<u8>,
    pub(super) send_window: i64,
    pub(super) peer_initial_window: u32,
    pub(super) peer_max_frame: u32,
    pub(super) pending_total: usize,
    /// Streams we reset recently (bounded by `RESET_MEMORY`).
    pub(super) reset_ids: VecDeque<u32>,
    pub(super) dirty: Vec<u32>,
    pub(super) recv_unacked: u32,
    /// True while the connection handles one read's frames: streams' output
    /// then waits for the settle step, so nothing is sent on a stream a
    /// later frame of the same read resets (RFC 9113 §5.1).
    pub(super) reading: bool,
}

/// Sends RST_STREAM and remembers the stream for a while: frames the peer
/// sent before it saw the reset (trailers, DATA) are then ignored (RFC 9113
/// §5.4.2). Every reset is logged at debug level with its reason.
pub(super) fn rst(sh: &mut Shared, id: u32, code: ErrorCode, why: &'static str) {
    tracing::debug!(stream = id, %code, why, "HTTP/2 RST_STREAM sent");
    frame::write_rst_stream(&mut sh.out, id, code);
    if sh.reset_ids.len() >= RESET_MEMORY {
        sh.reset_ids.pop_front();
    }
    sh.reset_ids.push_back(id);
}

/// How many reset streams are remembered (RFC 9113 §5.1: frames may still
/// arrive on a stream after we reset it).
pub(super) const RESET_MEMORY: usize = 128;

pub(super) fn stream_writable(st: &StreamState, sh: &Shared, below: bool) -> bool {
    st.local == Local::Open
        && st.pending_len < sh.cfg.stream_send_buffer
        && sh.pending_total < sh.cfg.connection_send_buffer
        && below
}

pub(super) fn drop_pending(st: &mut StreamState, sh: &mut Shared) {
    sh.pending_total -= st.pending_len;
    st.pending.clear();
    st.pending_len = 0;
    st.heads.clear();
    st.trailers_out = None;
}

/// Delivers EOF once the body is complete; true if it did.
pub(super) fn deliver_eof(child: &mut Child, sh: &mut Shared, t: &mut dyn StreamTransport) -> bool {
    let st = &child.st;
    if !st.remote_done
        || st.eof_delivered
        || st.finished.is_some()
        || !st.stash.is_empty()
        || st.read_paused
    {
        return false;
    }
    child.st.eof_delivered = true;
    let mut v = View {
        st: &mut child.st,
        sh,
        below: t,
    };
    child.proto.eof_received(&mut v);
    true
}

/// The protocol consumed `n` bytes: give the window back when half is used.
pub(super) fn credit(st: &mut StreamState, sh: &mut Shared, n: usize) {
    let n = n as u32;
    sh.recv_unacked += n;
    if st.remote_done {
        return;
    }
    st.recv_unacked += n;
    let target = sh.cfg.initial_stream_window;
    if st.recv_unacked >= target / 2 {
        frame::write_window_update(&mut sh.out, st.id, st.recv_unacked);
        st.recv_window += st.recv_unacked as i64;
        st.recv_unacked = 0;
    }
}

/// Writes the stream's queued heads, data (as the windows allow) and end.
pub(super) fn emit(st: &mut StreamState, sh: &mut Shared, t: &mut dyn StreamTransport) {
    if st.local == Local::Done {
        return;
    }
    let ending = st.local == Local::Ending;
    let n_heads = st.heads.len();
    for (i, h) in std::mem::take(&mut st.heads).into_iter().enumerate() {
        let last = i + 1 == n_heads;
        let end = last && ending && st.pending_len == 0 && st.trailers_out.is_none();
        let end = end && !matches!(&h, HeadOut::Response(p) if p.status.is_informational());
        sh.hbuf.clear();
        match &h {
            HeadOut::Response(p) => sh
                .enc
                .encode(response_fields(&p.status, &p.headers), &mut sh.hbuf),
            HeadOut::Request(p) => {
                let ps = RequestPseudo::of(p);
                sh.enc.encode(ps.fields(&p.headers), &mut sh.hbuf);
            }
        }
        frame::write_headers(&mut sh.out, st.id, &sh.hbuf, end, sh.peer_max_frame);
        if sh.hbuf.capacity() > 64 << 10 {
            sh.hbuf = Vec::new();
        }
        if end {
            return ended(st, sh);
        }
    }
    while st.pending_len > 0 {
        let can = st
            .send_window
            .min(sh.send_window)
            .min(sh.peer_max_frame as i64);
        if can <= 0 {
            return;
        }
        let Some(front) = st.pending.front_mut() else {
            break;
        };
        let n = front.len().min(can as usize);
        let chunk = front.split_to(n);
        if front.is_empty() {
            st.pending.pop_front();
        }
        st.pending_len -= n;
        sh.pending_total -= n;
        st.send_window -= n as i64;
        sh.send_window -= n as i64;
        let end = ending && st.pending_len == 0 && st.trailers_out.is_none();
        frame::write_header(
            &mut sh.out,
            n as u32,
            kind::DATA,
            if end { flag::END_STREAM } else { 0 },
            st.id,
        );
        if n >= 4096 {
            t.write(&sh.out);
            sh.out.clear();
            t.write_bytes(chunk);
        } else {
            sh.out.extend_from_slice(&chunk);
        }
        if end {
            return ended(st, sh);
        }
    }
    if ending && st.pending_len == 0 {
        match st.trailers_out.take() {
            Some(tr) => {
                sh.hbuf.clear();
                sh.enc.encode(super::head::regular(&tr), &mut sh.hbuf);
                frame::write_headers(&mut sh.out, st.id, &sh.hbuf, true, sh.peer_max_frame);
            }
            None => frame::write_header(&mut sh.out, 0, kind::DATA, flag::END_STREAM, st.id),
        }
        ended(st, sh);
    }
}

/// END_STREAM went out. After `close()`, a request still arriving is
/// stopped with RST_STREAM(NO_ERROR) (RFC 9113 §8.1: the response is
/// complete).
pub(super) fn ended(st: &mut StreamState, sh: &mut Shared) {
    st.local = Local::Done;
    if st.close_requested && !st.remote_done {
        rst(
            sh,
            st.id,
            ErrorCode::NoError,
            "response complete before the request",
        );
        st.remote_done = true;
        st.eof_delivered = true;
    }
}

/// The transport an HTTP/2 stream's protocol sees.
pub(super) struct View<'a> {
    pub(super) st: &'a mut StreamState,
    pub(super) sh: &'a mut Shared,
    pub(super) below: &'a mut dyn StreamTransport,
}

impl View<'_> {
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
        if self.st.local != Local::Open || data.is_empty() {
            return;
        }
        self.default_head();
        if self.st.head_request {
            return;
        }
        if self.st.pending_len + data.len() > self.sh.cfg.stream_send_limit {
            let id = self.st.id;
            rst(
                self.sh,
                id,
                ErrorCode::InternalError,
                "stream_send_limit passed: the protocol ignored writable()",
            );
            drop_pending(self.st, self.sh);
            self.st.local = Local::Done;
            let limit = self.sh.cfg.stream_send_limit;
            self.st.finished = Some(Close::aborted(
                "h2-stream",
                AbortReason::MemoryBudget { limit },
            ));
            return;
        }
        self.st.pending_len += data.len();
        self.sh.pending_total += data.len();
        self.st.pending.push_back(data);
        // Large writes go out now, so a bulk sender's bytes are copied once;
        // not while a read's frames are handled (a later one may reset us).
        if self.st.pending_len >= 16 << 10 && !self.sh.reading {
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
            return Some(&self.st.sid);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below as &dyn Introspect)
    }
}

impl StreamTransport for View<'_> {
    fn write(&mut self, data: &[u8]) {
        if self.st.local == Local::Open && !data.is_empty() {
            self.queue(Bytes::copy_from_slice(data));
        }
    }
    fn write_bytes(&mut self, data: Bytes) {
        self.queue(data);
    }
    fn write_eof(&mut self) {
        if self.st.local == Local::Open {
            if self.st.server && !self.st.final_head_sent {
                self.default_head();
            }
            self.st.local = Local::Ending;
            self.mark();
        }
    }
    fn close(&mut self) {
        if self.st.local == Local::Open {
            self.write_eof();
        }
        self.st.close_requested = true;
        if self.st.local == Local::Done && !self.st.remote_done {
            rst(
                self.sh,
                self.st.id,
                ErrorCode::NoError,
                "response complete before the request",
            );
            self.st.remote_done = true;
            self.st.eof_delivered = true;
        }
        self.mark();
    }
    fn abort(&mut self, why: Close) {
        if self.st.finished.is_some() {
            return;
        }
        let code = match &why {
            Close::Aborted {
                reason: AbortReason::Http2(e),
                ..
            } => e.code,
            Close::Aborted {
                reason: AbortReason::Requested,
                ..
            } => ErrorCode::Cancel,
            _ => ErrorCode::InternalError,
        };
        rst(
            self.sh,
            self.st.id,
            code,
            "aborted by the stream's protocol",
        );
        drop_pending(self.st, self.sh);
        self.st.local = Local::Done;
        self.st.finished = Some(why);
        self.mark();
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
        self.mark();
    }
    fn buffered(&self) -> usize {
        self.st.pending_len + self.below.buffered()
    }
    fn writable(&self) -> bool {
        let w = stream_writable(self.st, self.sh, self.below.writable());
        if !w {
            self.st.saw_blocked.set(true);
        }
        w
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker().child(self.st.id as u64)
    }
    fn control(&mut self, msg: &mut dyn Any) -> bool {
        let Some((m, slot)) = take_control(msg) else {
            return false;
        };
        slot.result = match m {
            HttpControl::Respond(p) => {
                if !self.st.server {
                    Err(HttpError::NotHttp)
                } else if self.st.final_head_sent {
                    Err(HttpError::HeadAlreadySent)
                } else if self.st.local != Local::Open {
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
                if self.st.local != Local::Open {
                    Err(HttpError::BodyEnded)
                } else {
                    self.default_head();
                    self.st.trailers_out = Some(h);
                    self.st.local = Local::Ending;
                    self.mark();
                    Ok(())
                }
            }
        };
        true
    }
}
