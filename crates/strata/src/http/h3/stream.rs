//! One request stream: its state, the transport its protocol sees, and how
//! its queued output reaches QUIC.
//!
//! A request stream carries one exchange (RFC 9114 §4.1): a HEADERS frame,
//! DATA frames, optionally trailing HEADERS, then FIN, in each direction.
//! The receive side is [`RecvPhase`], the frame sequence the RFC allows;
//! anything else is a connection error H3_FRAME_UNEXPECTED. The send side
//! queues whole frames and hands them to QUIC as its flow control allows.

use std::any::{Any, TypeId};
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use http::StatusCode;

use super::frame::{self, FrameReader};
use super::head;
use super::quic_api::{QuicConnection, StreamError, StreamId};
use super::{Code, H3Config, H3Error};
use crate::http::qpack::{HeaderField, QpackDecoder, QpackEncoder};
use crate::http::{HttpControl, HttpError, HttpVersion, RequestHead, ResponseHead, Trailers};
use crate::stats::Counters;
use crate::{AbortReason, Call, Close, HalfClose, Introspect, ProtocolSlot, StreamTransport, Wake};

/// Where the peer's side of a request stream is in RFC 9114 §4.1's
/// sequence: HEADERS, DATA*, HEADERS (trailers)?, FIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RecvPhase {
    /// Waiting for the head (a client also waits here after a 1xx).
    Head,
    /// The head's field section waits for QPACK encoder instructions.
    HeadBlocked(Bytes),
    /// The body: DATA, or trailers.
    Body,
    /// The trailers' section waits for QPACK encoder instructions.
    TrailersBlocked(Bytes),
    /// Trailers came: only FIN (or unknown frames) may follow.
    Done,
}

/// One request stream's state.
pub(super) struct ReqState {
    pub(super) id: StreamId,
    pub(super) server: bool,
    pub(super) reader: FrameReader,
    pub(super) phase: RecvPhase,
    // --- receiving ---
    /// The protocol paused reading.
    pub(super) paused: bool,
    /// QUIC was told to stop delivering (follows `paused` at settle).
    pub(super) quic_paused: bool,
    /// Stream bytes not yet parsed (held while paused or blocked).
    pub(super) stash: Vec<u8>,
    /// The peer's FIN arrived.
    pub(super) fin: bool,
    /// The protocol got `eof_received` (or input no longer matters).
    pub(super) eof_delivered: bool,
    /// The declared content-length and the body bytes so far.
    pub(super) expect_len: Option<u64>,
    pub(super) body_len: u64,
    // --- sending ---
    pub(super) q: VecDeque<Bytes>,
    pub(super) queued: usize,
    /// FIN asked for: it goes after what is queued.
    pub(super) ending: bool,
    pub(super) fin_sent: bool,
    /// `close()` was called: once FIN is out, a request still arriving is
    /// stopped with STOP_SENDING(H3_NO_ERROR) (RFC 9114 §4.1.1).
    pub(super) close_requested: bool,
    /// The peer sent STOP_SENDING(H3_NO_ERROR): we send no more, quietly.
    pub(super) send_stopped: bool,
    /// We reset the stream: nothing more is sent or read.
    pub(super) reset: bool,
    pub(super) write_paused: bool,
    pub(super) saw_blocked: Cell<bool>,
    pub(super) final_head_sent: bool,
    /// A client's CONNECT tunnel before its final response: the bytes of
    /// the request head not yet handed to QUIC; the protocol's bytes wait
    /// behind them. A tunnel's data sent with its head could be discarded
    /// with it by an abort (RESET_STREAM drops what has not left), and the
    /// server would never hear of the tunnel.
    pub(super) head_only: Option<usize>,
    /// A message without a body (HEAD, 204, 304): body writes are dropped.
    pub(super) no_body: bool,
    // --- the exchange ---
    pub(super) req: Option<RequestHead>,
    pub(super) resp: Option<ResponseHead>,
    pub(super) trailers_in: Option<Trailers>,
    /// Why the stream's protocol ends; set, the stream is removed at settle.
    pub(super) finished: Option<Close>,
    /// When the request head must be complete (server).
    pub(super) head_deadline: Option<Instant>,
    /// The request body's rate period: its start (`None` while the body is
    /// not being read) and the bytes that arrived in it.
    pub(super) body_since: Option<Instant>,
    pub(super) body_bytes: u64,
    /// Its entry in the connection's deadline queue.
    pub(super) deadline: Option<Instant>,
    /// What the `h3-stream` layer counts: body bytes (DATA payloads) and
    /// frames (HEADERS and DATA) each way, and the bytes queued for QUIC.
    pub(super) counters: Counters,
}

impl ReqState {
    pub(super) fn new(id: StreamId, server: bool, cfg: &H3Config) -> ReqState {
        ReqState {
            id,
            server,
            reader: FrameReader::new(cfg.max_field_section_size.min(usize::MAX as u64) as usize),
            phase: RecvPhase::Head,
            paused: false,
            quic_paused: false,
            stash: Vec::new(),
            fin: false,
            eof_delivered: false,
            expect_len: None,
            body_len: 0,
            q: VecDeque::new(),
            queued: 0,
            ending: false,
            fin_sent: false,
            close_requested: false,
            send_stopped: false,
            reset: false,
            write_paused: false,
            saw_blocked: Cell::new(false),
            final_head_sent: false,
            head_only: None,
            no_body: false,
            req: None,
            resp: None,
            trailers_in: None,
            finished: None,
            head_deadline: None,
            body_since: None,
            body_bytes: 0,
            deadline: None,
            counters: Counters::default(),
        }
    }

    /// Input waits: the protocol paused, or a section is blocked on QPACK.
    pub(super) fn holding(&self) -> bool {
        self.paused
            || matches!(
                self.phase,
                RecvPhase::HeadBlocked(_) | RecvPhase::TrailersBlocked(_)
            )
    }

    /// Whether a server is reading this request's body now: the body has
    /// not ended, its protocol takes input, and it is not a CONNECT tunnel
    /// (whose quiet periods are the application's).
    pub(super) fn reading_body(&self) -> bool {
        self.server
            && self.phase == RecvPhase::Body
            && !self.fin
            && !self.holding()
            && self.stash.is_empty()
            && self.finished.is_none()
            && !self.reset
            && !self.eof_delivered
            && self
                .req
                .as_ref()
                .is_some_and(|r| r.0.method != http::Method::CONNECT)
    }

    /// Whether our side may still send.
    pub(super) fn send_open(&self) -> bool {
        !self.ending && !self.fin_sent && !self.reset && !self.send_stopped
    }
}

/// A request stream and its protocol (none yet on a server before the
/// head, nor for a request refused with `431`). The protocol is held in a
/// swap point: a tunnel's protocol may replace itself or insert a layer.
pub(super) struct Child {
    pub(super) proto: Option<ProtocolSlot>,
    pub(super) st: ReqState,
}

/// Our three unidirectional streams (RFC 9114 §6.2): the id once opened,
/// and bytes not yet taken by QUIC.
#[derive(Default)]
pub(super) struct OurUni {
    pub(super) id: Option<StreamId>,
    pub(super) buf: Vec<u8>,
}

/// What the request streams share with the connection.
pub(super) struct Shared {
    pub(super) cfg: Arc<H3Config>,
    pub(super) enc: QpackEncoder,
    pub(super) dec: QpackDecoder,
    /// Our control, QPACK encoder and QPACK decoder streams.
    pub(super) control: OurUni,
    pub(super) encoder: OurUni,
    pub(super) decoder: OurUni,
    /// Bytes all request streams hold for QUIC.
    pub(super) pending_total: usize,
    /// The connection error to close with (the first one wins).
    pub(super) error: Option<H3Error>,
    /// The peer's settings, once its SETTINGS frame arrived.
    pub(super) peer: Option<frame::Settings>,
    /// Request streams whose FIN we sent and the peer has not yet
    /// acknowledged: a graceful close waits for them (closing the
    /// connection earlier would throw away data still in flight).
    pub(super) unacked: std::collections::BTreeSet<StreamId>,
    /// The QUIC connection's qlog trace, when traced.
    pub(super) qlog: Option<super::qlog::H3Qlog>,
}

impl Shared {
    /// A connection error: the connection closes at the next settle.
    pub(super) fn fail(&mut self, e: H3Error) {
        if self.error.is_none() {
            tracing::debug!(error = %e, "HTTP/3 connection error");
            self.error = Some(e);
        }
    }

    /// Hands what our unidirectional streams hold to QUIC.
    pub(super) fn flush_uni(&mut self, c: &mut dyn QuicConnection) {
        for u in [&mut self.control, &mut self.encoder, &mut self.decoder] {
            let Some(id) = u.id else { continue };
            if u.buf.is_empty() {
                continue;
            }
            match c.write(id, &u.buf) {
                Ok(n) => {
                    u.buf.drain(..n);
                }
                Err(_) => u.buf.clear(),
            }
        }
        let held = self.control.buf.len() + self.encoder.buf.len() + self.decoder.buf.len();
        if held > self.cfg.max_control_buffer {
            self.fail(H3Error::conn(
                Code::ExcessiveLoad,
                "the peer does not read our control or QPACK streams",
            ));
        }
    }

    /// Encodes a field section for `id` as a HEADERS frame (the QPACK
    /// instructions go to our encoder stream).
    pub(super) fn headers_frame(
        &mut self,
        now: Instant,
        id: StreamId,
        fields: &[HeaderField],
    ) -> Option<Bytes> {
        let mut section = Vec::new();
        if let Err(e) = self
            .enc
            .encode(id.0, fields, &mut section, &mut self.encoder.buf)
        {
            tracing::debug!(error = %e, "QPACK encoding failed");
            self.fail(H3Error::conn(Code::InternalError, "QPACK encoding failed"));
            return None;
        }
        if let Some(q) = &self.qlog {
            q.headers(now, true, id, fields, section.len() as u64);
        }
        let mut f = Vec::with_capacity(section.len() + 16);
        frame::write_headers(&mut f, &section);
        Some(Bytes::from(f))
    }
}

/// Hands the stream's queued frames to QUIC as flow control allows, then
/// FIN once asked for and everything is out.
pub(super) fn flush(st: &mut ReqState, sh: &mut Shared, c: &mut dyn QuicConnection) {
    flush_queue(st, sh, c);
    st.counters.buffered = st.queued as u64;
}

fn flush_queue(st: &mut ReqState, sh: &mut Shared, c: &mut dyn QuicConnection) {
    if st.fin_sent || st.reset {
        return;
    }
    while let Some(front) = st.q.front_mut() {
        let allowed = st
            .head_only
            .map_or(front.len(), |left| left.min(front.len()));
        if allowed == 0 {
            return; // a tunnel's bytes wait for its response
        }
        match c.write(st.id, &front[..allowed]) {
            Ok(n) => {
                st.queued -= n;
                sh.pending_total -= n;
                if let Some(left) = st.head_only.as_mut() {
                    *left -= n;
                }
                if n == front.len() {
                    st.q.pop_front();
                } else {
                    front.advance(n);
                    if n < allowed {
                        return;
                    }
                }
            }
            Err(StreamError::Stopped(code)) => {
                stopped(st, sh, c, code);
                return;
            }
            Err(_) => {
                drop_queue(st, sh);
                st.reset = true;
                st.finished
                    .get_or_insert(Close::aborted("h3-stream", AbortReason::PeerAborted));
                return;
            }
        }
    }
    if st.ending && !st.fin_sent {
        if c.finish(st.id).is_ok() {
            sh.unacked.insert(st.id);
        }
        st.fin_sent = true;
        if st.close_requested && !st.fin {
            // The response is complete before the request (RFC 9114 §4.1.1).
            c.stop_sending(st.id, Code::NoError.value());
            st.eof_delivered = true;
            st.stash.clear();
        }
    }
}

/// The peer sent STOP_SENDING with `code`. H3_NO_ERROR on a client's
/// request means "the response is complete, stop the body": the request
/// stops quietly; so does a server's whose response is all sent (FIN
/// included: the peer read what it wanted, and what it still sends is read
/// as usual). Any other code ends the exchange.
pub(super) fn stopped(st: &mut ReqState, sh: &mut Shared, c: &mut dyn QuicConnection, code: u64) {
    let all_sent = st.fin_sent && st.q.is_empty();
    drop_queue(st, sh);
    c.reset(st.id, code);
    // A reset stream's data is never all acknowledged.
    sh.unacked.remove(&st.id);
    if code == Code::NoError.value() && (!st.server || all_sent) {
        st.send_stopped = true;
        return;
    }
    st.reset = true;
    let e = H3Error {
        code: Code::from_value(code),
        detail: "STOP_SENDING",
        remote: true,
        stream: Some(st.id.0),
    };
    st.finished.get_or_insert(e.close());
}

pub(super) fn drop_queue(st: &mut ReqState, sh: &mut Shared) {
    sh.pending_total -= st.queued;
    st.q.clear();
    st.queued = 0;
}

/// A stream error of ours: RESET_STREAM and STOP_SENDING with `code`, and
/// the protocol (if any) learns why.
pub(super) fn stream_error(
    st: &mut ReqState,
    sh: &mut Shared,
    c: &mut dyn QuicConnection,
    code: Code,
    detail: &'static str,
) {
    tracing::debug!(stream = st.id.0, %code, detail, "HTTP/3 stream error");
    if !st.fin_sent && !st.reset {
        c.reset(st.id, code.value());
        // The close waits for the RESET_STREAM's acknowledgment: earlier,
        // it would discard the reset or overtake it, and the peer would
        // never hear the stream's code.
        sh.unacked.insert(st.id);
    } else {
        // An exchange that failed needs no other acknowledgment.
        sh.unacked.remove(&st.id);
    }
    if !st.fin {
        c.stop_sending(st.id, code.value());
    }
    if matches!(
        st.phase,
        RecvPhase::HeadBlocked(_) | RecvPhase::TrailersBlocked(_)
    ) {
        sh.dec.cancel_stream(st.id.0, &mut sh.decoder.buf);
    }
    drop_queue(st, sh);
    st.reset = true;
    st.stash = Vec::new();
    st.eof_delivered = true;
    let e = H3Error {
        code,
        detail,
        remote: false,
        stream: Some(st.id.0),
    };
    st.finished.get_or_insert(e.close());
}

/// The transport a request stream's protocol sees.
pub(super) struct View<'a> {
    pub(super) st: &'a mut ReqState,
    pub(super) sh: &'a mut Shared,
    pub(super) c: &'a mut dyn QuicConnection,
}

impl View<'_> {
    /// Sends `p` as the whole response and closes (a refusal).
    pub(super) fn close_with(&mut self, p: http::response::Parts) {
        self.head(p);
        self.close();
    }

    fn push(&mut self, b: Bytes) {
        self.st.queued += b.len();
        self.sh.pending_total += b.len();
        self.st.q.push_back(b);
        self.st.counters.buffered = self.st.queued as u64;
    }

    /// A server's default `200` head before the first body byte.
    fn default_head(&mut self) {
        if self.st.server && !self.st.final_head_sent {
            let (p, ()) = http::Response::new(()).into_parts();
            self.head(p);
        }
    }

    fn head(&mut self, p: http::response::Parts) {
        if !p.status.is_informational() {
            self.st.final_head_sent = true;
            if head::bodiless(p.status) {
                self.st.no_body = true;
            }
        }
        if let Some(f) = self
            .sh
            .headers_frame(self.c.now(), self.st.id, &head::response_fields(&p))
        {
            self.st.counters.frame_sent();
            self.push(f);
        }
    }

    fn queue(&mut self, data: Bytes) {
        if !self.st.send_open() || data.is_empty() {
            return;
        }
        self.default_head();
        if self.st.no_body {
            return;
        }
        if self.st.queued + data.len() > self.sh.cfg.stream_send_limit {
            let limit = self.sh.cfg.stream_send_limit;
            stream_error(
                self.st,
                self.sh,
                self.c,
                Code::InternalError,
                "stream_send_limit passed: the protocol ignored writable()",
            );
            self.st.finished = Some(Close::aborted(
                "h3-stream",
                AbortReason::MemoryBudget { limit },
            ));
            return;
        }
        let mut h = Vec::with_capacity(9);
        frame::write_data_header(&mut h, data.len() as u64);
        if let Some(q) = &self.sh.qlog {
            let len = data.len() as u64;
            q.created(self.c.now(), self.st.id, &frame::Frame::Data { len }, len);
        }
        self.st.counters.frame_sent();
        self.st.counters.sent(data.len());
        self.push(Bytes::from(h));
        self.push(data);
        self.sh.flush_uni(self.c);
        flush(self.st, self.sh, self.c);
    }
}

impl Introspect for View<'_> {
    fn name(&self) -> &'static str {
        "h3-stream"
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
            return Some(&HttpVersion(http::Version::HTTP_3));
        }
        if id == TypeId::of::<StreamId>() {
            return Some(&self.st.id);
        }
        if id == TypeId::of::<HalfClose>() {
            // `write_eof` is FIN; the peer's side stays open.
            return Some(&HalfClose(true));
        }
        if id == TypeId::of::<Counters>() {
            return Some(&self.st.counters);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.c as &dyn Introspect)
    }
}

impl StreamTransport for View<'_> {
    fn write(&mut self, data: &[u8]) {
        if self.st.send_open() && !data.is_empty() {
            self.queue(Bytes::copy_from_slice(data));
        }
    }
    fn write_bytes(&mut self, data: Bytes) {
        self.queue(data);
    }
    fn write_eof(&mut self) {
        if self.st.send_open() {
            self.default_head();
            self.st.ending = true;
            self.sh.flush_uni(self.c);
            flush(self.st, self.sh, self.c);
        }
    }
    fn close(&mut self) {
        self.st.close_requested = true;
        if self.st.send_open() {
            self.write_eof();
        } else if self.st.fin_sent && !self.st.fin && !self.st.reset {
            self.c.stop_sending(self.st.id, Code::NoError.value());
            self.st.eof_delivered = true;
            self.st.stash.clear();
        }
    }
    fn abort(&mut self, why: Close) {
        if self.st.finished.is_some() {
            return;
        }
        let code = match &why {
            Close::Aborted {
                reason: AbortReason::Requested,
                ..
            } => Code::RequestCancelled,
            _ => why
                .error::<H3Error>()
                .map_or(Code::InternalError, |e| e.code),
        };
        stream_error(
            self.st,
            self.sh,
            self.c,
            code,
            "aborted by the stream's protocol",
        );
        self.st.finished = Some(why);
    }
    fn pause_reading(&mut self) {
        self.st.paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.paused = false;
    }
    fn buffered(&self) -> usize {
        self.st.queued
    }
    fn writable(&self) -> bool {
        let w = self.st.send_open()
            && self.sh.error.is_none()
            && self.st.queued < self.sh.cfg.stream_send_buffer
            && self.sh.pending_total < self.sh.cfg.connection_send_buffer;
        if !w {
            self.st.saw_blocked.set(true);
        }
        w
    }
    fn now(&self) -> Instant {
        self.c.now()
    }
    fn waker(&self) -> Wake {
        self.c.waker().child(self.st.id.0)
    }
    fn control(&mut self, mut call: Call<'_>) {
        call.answer(|m: HttpControl| match m {
            HttpControl::Respond(p) => {
                if !self.st.server {
                    Err(HttpError::NotHttp)
                } else if self.st.final_head_sent {
                    Err(HttpError::HeadAlreadySent)
                } else if !self.st.send_open() {
                    Err(HttpError::BodyEnded)
                } else {
                    self.head(p);
                    self.sh.flush_uni(self.c);
                    flush(self.st, self.sh, self.c);
                    Ok(())
                }
            }
            HttpControl::Trailers(h) => {
                if !self.st.send_open() {
                    Err(HttpError::BodyEnded)
                } else {
                    self.default_head();
                    if let Some(f) =
                        self.sh
                            .headers_frame(self.c.now(), self.st.id, &head::trailer_fields(&h))
                    {
                        self.st.counters.frame_sent();
                        self.push(f);
                    }
                    self.st.ending = true;
                    self.sh.flush_uni(self.c);
                    flush(self.st, self.sh, self.c);
                    Ok(())
                }
            }
        });
    }
}

/// The status a server answers a request head over its limit with.
pub(super) const TOO_LARGE: StatusCode = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
