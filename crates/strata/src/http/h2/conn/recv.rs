//! The receive side of the HTTP/2 connection: frames in, state changes,
//! request heads to the service, and the errors they lead to.

use http::{Method, StatusCode};

use super::{content_length, Block, ConnTimer, H2Connection, HeaderState, Role, Sink, MAX_WINDOW};
use crate::http::h2::error::h2_close;
use crate::http::h2::frame::{self, setting, ErrorCode, Frame};
use crate::http::h2::head::HeadFields;
use crate::http::h2::stream::{
    credit, deliver_eof, drop_pending, lazy_encoder, rst, Child, Event, HeadOut, Local, State,
    StreamId, StreamState, View, RESET_MEMORY,
};
use crate::http::hpack::{Decoder, HpackError};
use crate::http::{RequestHead, ResponseHead, Trailers};
use crate::{Close, StreamProtocol, StreamTransport};

impl H2Connection {
    // ---- input ------------------------------------------------------------

    pub(super) fn input(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.c.dead {
            return;
        }
        if self.c.inbuf.is_empty() {
            let used = self.frames(t, data);
            if !self.c.dead
                && let Some(rest) = data.get(used..)
            {
                self.c.inbuf.extend_from_slice(rest);
            }
            return;
        }
        let mut buf = std::mem::take(&mut self.c.inbuf);
        buf.extend_from_slice(data);
        let used = self.frames(t, &buf);
        buf.drain(..used.min(buf.len()));
        if self.c.dead || (buf.is_empty() && buf.capacity() > 64 << 10) {
            buf = Vec::new();
        }
        self.c.inbuf = buf;
    }

    /// Handles every complete frame at the front of `src`; returns the bytes used.
    pub(super) fn frames(&mut self, t: &mut dyn StreamTransport, src: &[u8]) -> usize {
        let mut pos = 0;
        if self.c.preface_left > 0 {
            let done = frame::PREFACE.len() - self.c.preface_left;
            let n = self.c.preface_left.min(src.len());
            if src[..n] != frame::PREFACE[done..done + n] {
                self.conn_error(t, ErrorCode::ProtocolError, "bad connection preface");
                return src.len();
            }
            self.c.preface_left -= n;
            pos = n;
            if self.c.preface_left > 0 {
                return pos;
            }
        }
        let max = self.sh.cfg.max_frame_size;
        while !self.c.dead {
            let rest = &src[pos..];
            match frame::parse(rest, max) {
                Ok(None) => break,
                Ok(Some((f, used))) => {
                    if let Some(q) = &self.sh.qlog {
                        q.parsed(t.now(), &rest[..used]);
                    }
                    pos += used;
                    self.frame(t, f);
                }
                Err(e) => {
                    let Some(id) = e.stream else {
                        self.conn_error(t, e.code, e.reason);
                        return src.len();
                    };
                    // A stream error: the whole frame is here.
                    let Some(h) = frame::parse_header(rest) else {
                        return src.len();
                    };
                    let used = frame::HEADER_LEN + h.len as usize;
                    if let Some((f @ Frame::Headers { .. }, _)) =
                        frame::parse_rejected_headers(rest, max)
                    {
                        // Decode the block anyway (the HPACK state is shared),
                        // then refuse the stream.
                        self.frame(t, f);
                        if self.c.dead {
                            return src.len();
                        }
                    } else if !self.c.got_settings || self.c.block().is_some() {
                        // Still a frame: it cannot be the first one, nor come
                        // between a HEADERS and its CONTINUATION (§6.10).
                        let why = if self.c.got_settings {
                            "header block interrupted"
                        } else {
                            "first frame is not SETTINGS"
                        };
                        self.conn_error(t, ErrorCode::ProtocolError, why);
                        return src.len();
                    }
                    pos += used;
                    self.stream_error(t, StreamId(id), e.code, e.reason);
                }
            }
        }
        pos
    }

    pub(super) fn frame(&mut self, t: &mut dyn StreamTransport, f: Frame<'_>) {
        if !self.c.got_settings {
            if !matches!(f, Frame::Settings { ack: false, .. }) {
                self.conn_error(t, ErrorCode::ProtocolError, "first frame is not SETTINGS");
                return;
            }
            self.c.got_settings = true;
            self.c.timers.stop(ConnTimer::Preface);
        }
        if let Some(b) = self.c.block() {
            let ok = matches!(f, Frame::Continuation { stream, .. } if stream == b.stream.0);
            if !ok {
                self.conn_error(t, ErrorCode::ProtocolError, "header block interrupted");
                return;
            }
        }
        if !matches!(f, Frame::Data { .. }) {
            self.c.empty_data = 0;
        }
        match f {
            Frame::Data {
                stream,
                end_stream,
                data,
                flow_len,
            } => self.on_data(t, StreamId(stream), end_stream, data, flow_len),
            Frame::Headers {
                stream,
                end_stream,
                end_headers,
                block,
                ..
            } => self.on_headers(t, StreamId(stream), end_stream, end_headers, block),
            Frame::Continuation {
                stream,
                end_headers,
                block,
            } => {
                let stream = StreamId(stream);
                if self.c.block().is_none() {
                    self.conn_error(t, ErrorCode::ProtocolError, "CONTINUATION without HEADERS");
                    return;
                }
                self.header_fragment(t, stream, block, end_headers);
            }
            Frame::Priority { .. } => {}
            Frame::RstStream { stream, code } => self.on_rst(t, StreamId(stream), code),
            Frame::Settings { ack, settings } => {
                if ack {
                    self.c.timers.stop(ConnTimer::Settings);
                    return;
                }
                let initial = self.sh.peer_initial_window;
                for (id, v) in settings.iter() {
                    if let Err((code, why)) = self.apply_setting(id, v) {
                        self.conn_error(t, code, why);
                        return;
                    }
                }
                if let Some(q) = &self.sh.qlog
                    && initial != self.sh.peer_initial_window
                {
                    // SETTINGS_INITIAL_WINDOW_SIZE moved every stream's send window.
                    for c in self.streams.values() {
                        let w = [("send_window", c.st.send.window)];
                        q.flow(t, c.st.id.0, "settings", &w);
                    }
                }
                frame::write_settings_ack(&mut self.sh.out);
                self.count_control(t);
            }
            Frame::PushPromise { .. } => {
                self.conn_error(
                    t,
                    ErrorCode::ProtocolError,
                    "PUSH_PROMISE (push is disabled)",
                );
            }
            Frame::Ping { ack, data } => {
                if !ack {
                    frame::write_ping(&mut self.sh.out, data, true);
                    self.count_control(t);
                }
            }
            Frame::GoAway {
                last_stream, code, ..
            } => self.on_goaway(t, StreamId(last_stream), code),
            Frame::WindowUpdate { stream, increment } => {
                self.on_window_update(t, StreamId(stream), increment)
            }
            Frame::Unknown { .. } => {}
        }
    }

    pub(super) fn count_control(&mut self, t: &mut dyn StreamTransport) {
        if t.writable() {
            self.c.pending_control = 0;
            return;
        }
        self.c.pending_control += 1;
        if self.c.pending_control > self.sh.cfg.max_pending_control {
            self.conn_error(
                t,
                ErrorCode::EnhanceYourCalm,
                "control frames while not reading",
            );
        }
    }

    pub(super) fn apply_setting(
        &mut self,
        id: u16,
        v: u32,
    ) -> Result<(), (ErrorCode, &'static str)> {
        match id {
            setting::HEADER_TABLE_SIZE => {
                let cap = self.sh.cfg.max_encoder_table_size;
                lazy_encoder(&mut self.sh.encoder).set_max_table_size(v.min(cap) as usize);
            }
            setting::ENABLE_PUSH => {
                if v > 1 {
                    return Err((ErrorCode::ProtocolError, "bad SETTINGS_ENABLE_PUSH"));
                }
                if v == 1 && !self.is_server() {
                    return Err((ErrorCode::ProtocolError, "server sent ENABLE_PUSH=1"));
                }
            }
            setting::MAX_CONCURRENT_STREAMS => self.c.peer_max_concurrent = v,
            setting::INITIAL_WINDOW_SIZE => {
                if v > MAX_WINDOW {
                    return Err((
                        ErrorCode::FlowControlError,
                        "SETTINGS_INITIAL_WINDOW_SIZE too large",
                    ));
                }
                let delta = v as i64 - self.sh.peer_initial_window as i64;
                self.sh.peer_initial_window = v;
                for c in self.streams.values_mut() {
                    c.st.send.window += delta;
                    if c.st.send.window > MAX_WINDOW as i64 {
                        return Err((ErrorCode::FlowControlError, "stream window overflow"));
                    }
                    if delta > 0 && c.st.send.queued > 0 && !c.st.dirty {
                        c.st.dirty = true;
                        self.sh.dirty.push(c.st.id);
                    }
                }
            }
            setting::MAX_FRAME_SIZE => {
                if !(frame::DEFAULT_MAX_FRAME_SIZE..=frame::MAX_FRAME_SIZE_LIMIT).contains(&v) {
                    return Err((ErrorCode::ProtocolError, "bad SETTINGS_MAX_FRAME_SIZE"));
                }
                self.sh.peer_max_frame = v;
            }
            setting::ENABLE_CONNECT_PROTOCOL if v > 1 => {
                return Err((
                    ErrorCode::ProtocolError,
                    "bad SETTINGS_ENABLE_CONNECT_PROTOCOL",
                ));
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn peer_initiated(&self, id: StreamId) -> bool {
        id.is_client_initiated() == self.is_server()
    }

    /// Whether `id` names a stream that was never opened (RFC 9113 §5.1 idle).
    pub(super) fn idle(&self, id: StreamId) -> bool {
        if self.peer_initiated(id) {
            id > self.c.last_peer_stream
        } else {
            id >= self.c.next_local
        }
    }

    pub(super) fn on_data(
        &mut self,
        t: &mut dyn StreamTransport,
        id: StreamId,
        end_stream: bool,
        data: &[u8],
        flow_len: u32,
    ) {
        if self.idle(id) {
            self.conn_error(t, ErrorCode::ProtocolError, "DATA on an idle stream");
            return;
        }
        if flow_len as i64 > self.c.recv_window {
            self.conn_error(t, ErrorCode::FlowControlError, "connection window exceeded");
            return;
        }
        self.c.recv_window -= flow_len as i64;
        if let Some(q) = &self.sh.qlog {
            let w = [("connection_recv_window", self.c.recv_window)];
            q.flow(t, id.0, "data_received", &w);
        }
        if data.is_empty() && !end_stream {
            self.c.empty_data += 1;
            if self.c.empty_data > self.sh.cfg.max_empty_data {
                self.conn_error(t, ErrorCode::EnhanceYourCalm, "flood of empty DATA frames");
                return;
            }
        } else {
            self.c.empty_data = 0;
        }
        // Padding is consumed at once; the data when delivered.
        let padding = flow_len - data.len() as u32;
        self.sh.recv_unacked += padding;
        if !self.sh.reset_ids.is_empty() && self.sh.reset_ids.contains(&id) {
            // A stream we reset, still open or already gone: sent before
            // the peer saw our RST_STREAM, ignored (RFC 9113 §5.4.2).
            self.sh.recv_unacked += data.len() as u32;
            return;
        }
        let Some(child) = self.streams.get_mut(&id) else {
            self.sh.recv_unacked += data.len() as u32;
            self.closed_stream(t, id, "DATA on a closed stream");
            return;
        };
        if child.st.peer_reset() {
            // In the same read as the peer's RST_STREAM (the stream is
            // removed at the next settle): the same answer as after it.
            self.sh.recv_unacked += data.len() as u32;
            self.closed_stream(t, id, "DATA after the peer's RST_STREAM");
            return;
        }
        let st = &mut child.st;
        st.counters.frame_received();
        st.counters.received(data.len());
        if st.remote_done() {
            self.sh.recv_unacked += data.len() as u32;
            self.stream_error(t, id, ErrorCode::StreamClosed, "DATA after END_STREAM");
            return;
        }
        if flow_len as i64 > st.recv.window {
            self.sh.recv_unacked += data.len() as u32;
            self.stream_error(t, id, ErrorCode::FlowControlError, "stream window exceeded");
            return;
        }
        st.recv.window -= flow_len as i64;
        if let Some(q) = &self.sh.qlog {
            let w = [("recv_window", st.recv.window)];
            q.flow(t, id.0, "data_received", &w);
        }
        st.recv.len += data.len() as u64;
        st.recv.body_bytes = st.recv.body_bytes.saturating_add(data.len() as u64);
        if st
            .recv
            .expect_len
            .is_some_and(|n| st.recv.len > n || (end_stream && st.recv.len != n))
        {
            self.sh.recv_unacked += data.len() as u32;
            self.stream_error(
                t,
                id,
                ErrorCode::ProtocolError,
                "body length differs from content-length",
            );
            return;
        }
        if end_stream {
            st.apply(Event::RecvEndStream, &self.sh, t);
        }
        if st.recv.paused || !st.recv.stash.is_empty() {
            st.recv.stash.extend_from_slice(data);
        } else {
            if !data.is_empty() {
                let mut v = View::new(&mut child.st, &mut self.sh, t);
                child.proto.data_received(&mut v, data);
                credit(&mut child.st, &mut self.sh, t, data.len());
            }
            deliver_eof(child, &mut self.sh, t);
        }
    }

    pub(super) fn on_headers(
        &mut self,
        t: &mut dyn StreamTransport,
        id: StreamId,
        end_stream: bool,
        end_headers: bool,
        block: &[u8],
    ) {
        let known = !self.idle(id);
        // A stream we reset: decoded, then ignored (§5.4.2).
        let gone = known && self.sh.reset_ids.contains(&id);
        // A stream the peer reset: decoded, then STREAM_CLOSED (§5.1).
        let closed = known
            && !gone
            && (self.streams.get(&id).is_some_and(|c| c.st.peer_reset())
                || self.c.peer_reset_ids.contains(&id));
        let existing = !gone && !closed && self.streams.contains_key(&id);
        if !existing && !gone && !closed {
            if !self.peer_initiated(id) || id <= self.c.last_peer_stream {
                if self.peer_initiated(id) || self.idle(id) {
                    self.conn_error(t, ErrorCode::ProtocolError, "HEADERS with a bad stream id");
                    return;
                }
                // A closed stream of ours: decode to keep HPACK in step, then reset.
            } else {
                self.c.last_peer_stream = id;
            }
        }
        // RFC 9113 §5.1: a stream error, once the block is decoded (the HPACK
        // state is the connection's).
        let after_end = self.streams.get(&id).is_some_and(|c| c.st.remote_done());
        let trailers = existing
            && (self.is_server() || self.streams.get(&id).is_some_and(|c| c.st.resp.is_some()));
        let table_size = self.sh.cfg.header_table_size as usize;
        let h = self.c.hdr.get_or_insert_with(|| {
            Box::new(HeaderState {
                dec: Decoder::new(table_size),
                block: None,
            })
        });
        h.dec.begin_block(self.sh.cfg.max_header_list_size as usize);
        h.block = Some(Block {
            stream: id,
            end_stream,
            bytes: 0,
            fields: HeadFields::new(trailers),
            existing,
            after_end,
            gone,
            closed,
        });
        let d = self.sh.cfg.header_block_timeout;
        self.c.timers.set_after(ConnTimer::HeaderBlock, t.now(), d);
        self.header_fragment(t, id, block, end_headers);
    }

    pub(super) fn header_fragment(
        &mut self,
        t: &mut dyn StreamTransport,
        _id: StreamId,
        frag: &[u8],
        end: bool,
    ) {
        let Some(HeaderState {
            dec,
            block: Some(b),
        }) = self.c.hdr.as_deref_mut()
        else {
            return;
        };
        // Frame headers count too: a flood of empty CONTINUATION frames adds
        // no header bytes but costs a frame each.
        b.bytes += frag.len() + frame::HEADER_LEN;
        if b.bytes > self.sh.cfg.max_header_block {
            self.conn_error(t, ErrorCode::EnhanceYourCalm, "header block too large");
            return;
        }
        let fields = &mut b.fields;
        let r = dec.decode_fragment(frag, end, &mut |n, v, s| fields.add(n, v, s));
        let too_large = match r {
            Ok(()) => false,
            Err(HpackError::HeaderListTooLarge { .. }) => true,
            Err(_) => {
                self.conn_error(t, ErrorCode::CompressionError, "HPACK decoding failed");
                return;
            }
        };
        if !end {
            return;
        }
        let Some(b) = self.c.hdr.as_mut().and_then(|h| h.block.take()) else {
            return;
        };
        self.c.timers.stop(ConnTimer::HeaderBlock);
        self.end_block(t, b, too_large);
    }

    pub(super) fn end_block(&mut self, t: &mut dyn StreamTransport, b: Block, too_large: bool) {
        let id = b.stream;
        if b.gone {
            return;
        }
        if b.closed {
            self.closed_stream(t, id, "HEADERS after the peer's RST_STREAM");
            return;
        }
        if b.after_end {
            self.stream_error(t, id, ErrorCode::StreamClosed, "HEADERS after END_STREAM");
            return;
        }
        if b.existing {
            return self.later_block(t, b, too_large);
        }
        if !self.peer_initiated(id)
            || self.c.goaway_sent && self.is_server() && id > self.c.last_peer_stream
        {
            self.send_rst(id, ErrorCode::StreamClosed, "HEADERS on a closed stream");
            return;
        }
        let Role::Server(service) = &self.c.role else {
            self.send_rst(id, ErrorCode::ProtocolError, "a request sent to a client");
            return;
        };
        if self.c.goaway_sent {
            self.send_rst(id, ErrorCode::RefusedStream, "request after our GOAWAY");
            return;
        }
        if self.streams.len() >= self.sh.cfg.max_concurrent_streams as usize {
            self.send_rst(
                id,
                ErrorCode::RefusedStream,
                "past SETTINGS_MAX_CONCURRENT_STREAMS",
            );
            self.count_reset(t);
            return;
        }
        let expect = b.fields.content_length;
        let connect = self.sh.cfg.enable_connect_protocol;
        let head = if too_large {
            Err("header list too large")
        } else {
            b.fields.into_request(connect)
        };
        let parts = match head {
            Ok(p) => p,
            Err(why) => {
                let mut st = self.new_stream(id, Event::RecvHeaders, t);
                if b.end_stream {
                    st.apply(Event::RecvEndStream, &self.sh, t);
                }
                if too_large {
                    // Answer 431 and end the stream; the rest of the request is refused.
                    let (mut p, ()) = http::Response::new(()).into_parts();
                    p.status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
                    st.heads.push(HeadOut::Response(p));
                    st.final_head_sent = true;
                    st.send.ending = true;
                    st.send.close_requested = true;
                    st.dirty = true;
                    self.sh.dirty.push(id);
                    // A stream is open: not idle (as in `open`).
                    self.c.timers.stop(ConnTimer::Idle);
                    self.streams.insert(
                        id,
                        Box::new(Child {
                            proto: crate::ProtocolSlot::new(Box::new(Sink)),
                            st,
                        }),
                    );
                    // A refused request like a stream error: a flood of
                    // them (an HPACK bomb costs a few bytes each) is bounded
                    // by the rapid-reset limit.
                    self.count_reset(t);
                } else {
                    self.send_rst(id, ErrorCode::ProtocolError, why);
                    self.count_reset(t);
                }
                return;
            }
        };
        if b.end_stream && expect.is_some_and(|n| n != 0) {
            // Malformed (§8.1.1): refused like the others, before the
            // service sees it.
            self.send_rst(
                id,
                ErrorCode::ProtocolError,
                "END_STREAM with a non-zero content-length",
            );
            self.count_reset(t);
            return;
        }
        let proto = service.call(&parts);
        let mut st = self.new_stream(id, Event::RecvHeaders, t);
        st.head_request = parts.method == Method::HEAD;
        st.recv.expect_len = expect;
        st.req = Some(RequestHead(parts));
        if b.end_stream {
            st.apply(Event::RecvEndStream, &self.sh, t);
        }
        st.counters.frame_received();
        self.open(t, st, proto);
        if let Some(child) = self.streams.get_mut(&id) {
            deliver_eof(child, &mut self.sh, t);
        }
    }

    /// A new stream: its protocol gets `connection_made` with its view.
    pub(super) fn open(
        &mut self,
        t: &mut dyn StreamTransport,
        st: StreamState,
        proto: Box<dyn StreamProtocol>,
    ) {
        self.c.timers.stop(ConnTimer::Idle);
        let proto = proto.into();
        let child = self
            .streams
            .entry(st.id)
            .or_insert_with(|| Box::new(Child { proto, st }));
        let mut v = View::new(&mut child.st, &mut self.sh, t);
        child.proto.connection_made(&mut v);
    }

    /// Trailers, or a client's response head.
    pub(super) fn later_block(&mut self, t: &mut dyn StreamTransport, b: Block, too_large: bool) {
        let id = b.stream;
        let server = self.is_server();
        let Some(child) = self.streams.get_mut(&id) else {
            return;
        };
        child.st.counters.frame_received();
        if too_large {
            self.stream_error(t, id, ErrorCode::ProtocolError, "header list too large");
            return;
        }
        if !server && child.st.resp.is_none() {
            match b.fields.into_response() {
                Ok(p) if p.status.is_informational() => {
                    if b.end_stream || p.status == StatusCode::SWITCHING_PROTOCOLS {
                        self.stream_error(
                            t,
                            id,
                            ErrorCode::ProtocolError,
                            "bad informational response",
                        );
                    }
                }
                Ok(p) => {
                    child.st.recv.expect_len = content_length(&p.headers);
                    if child.st.head_request
                        || p.status == StatusCode::NO_CONTENT
                        || p.status == StatusCode::NOT_MODIFIED
                    {
                        child.st.recv.expect_len = None;
                    }
                    child.st.resp = Some(ResponseHead(p));
                    if b.end_stream {
                        child.st.apply(Event::RecvEndStream, &self.sh, t);
                        deliver_eof(child, &mut self.sh, t);
                    }
                }
                Err(why) => self.stream_error(t, id, ErrorCode::ProtocolError, why),
            }
            return;
        }
        if !b.end_stream {
            self.stream_error(
                t,
                id,
                ErrorCode::ProtocolError,
                "trailers without END_STREAM",
            );
            return;
        }
        match b.fields.into_trailers() {
            Ok(h) => {
                if child
                    .st
                    .recv
                    .expect_len
                    .is_some_and(|n| n != child.st.recv.len)
                {
                    self.stream_error(
                        t,
                        id,
                        ErrorCode::ProtocolError,
                        "body length differs from content-length",
                    );
                    return;
                }
                child.st.trailers_in = Some(Trailers(h));
                child.st.apply(Event::RecvEndStream, &self.sh, t);
                if child.st.recv.stash.is_empty() && !child.st.recv.paused {
                    deliver_eof(child, &mut self.sh, t);
                }
            }
            Err(why) => self.stream_error(t, id, ErrorCode::ProtocolError, why),
        }
    }

    /// A stream out of `Idle` by `ev` (the HEADERS that opened it).
    /// (Its move out of `Idle` is traced here, before the stream is made
    /// in place by its caller. Always inlined: out of line, the stream of
    /// several hundred bytes it returns was copied once more per request,
    /// 77 instructions of an h2c request's 10,900 under callgrind.)
    #[inline(always)]
    pub(super) fn new_stream(
        &self,
        id: StreamId,
        ev: Event,
        t: &dyn StreamTransport,
    ) -> StreamState {
        if let Some(q) = &self.sh.qlog {
            q.state(t, id, State::Idle, State::Idle.on(ev), ev);
        }
        StreamState::new(
            id,
            self.is_server(),
            ev,
            self.sh.peer_initial_window,
            self.sh.cfg.initial_stream_window,
        )
    }

    pub(super) fn on_rst(&mut self, t: &mut dyn StreamTransport, id: StreamId, code: ErrorCode) {
        if self.idle(id) {
            self.conn_error(t, ErrorCode::ProtocolError, "RST_STREAM on an idle stream");
            return;
        }
        if let Some(c) = self.streams.get_mut(&id) {
            // A reset before the response was complete counts toward the
            // rapid-reset limit, whatever its code: a peer resetting with
            // NO_ERROR costs us as much as with CANCEL.
            let complete = c.st.local() == Local::Done;
            if !c.st.peer_reset() {
                if self.c.peer_reset_ids.len() >= RESET_MEMORY {
                    self.c.peer_reset_ids.pop_front();
                }
                self.c.peer_reset_ids.push_back(id);
            }
            c.st.apply(Event::RecvReset, &self.sh, t);
            drop_pending(&mut c.st, &mut self.sh);
            if c.st.finished.is_none() {
                c.st.finished = Some(h2_close(code, "stream reset", true, Some(id.0)));
            }
            if !complete {
                self.count_reset(t);
            }
        }
    }

    pub(super) fn count_reset(&mut self, t: &mut dyn StreamTransport) {
        let now = t.now();
        let w = self.sh.cfg.reset_window;
        while self
            .c
            .resets
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) > w)
        {
            self.c.resets.pop_front();
        }
        self.c.resets.push_back(now);
        if self.c.resets.len() > self.sh.cfg.max_resets as usize {
            self.conn_error(t, ErrorCode::EnhanceYourCalm, "too many streams reset");
        }
    }

    pub(super) fn on_goaway(
        &mut self,
        t: &mut dyn StreamTransport,
        last: StreamId,
        code: ErrorCode,
    ) {
        self.c.goaway_recv = Some(last);
        let server = self.is_server();
        for c in self.streams.values_mut() {
            let ours = c.st.id.is_client_initiated() != server;
            if ours && c.st.id > last && c.st.finished.is_none() {
                c.st.finished = Some(h2_close(
                    ErrorCode::RefusedStream,
                    "not processed before GOAWAY",
                    true,
                    Some(c.st.id.0),
                ));
            }
        }
        if code != ErrorCode::NoError {
            tracing::debug!(%code, "peer sent GOAWAY");
            for c in self.streams.values_mut() {
                if c.st.finished.is_none() {
                    c.st.finished = Some(h2_close(code, "connection closed by GOAWAY", true, None));
                }
            }
        }
        let _ = t;
    }

    pub(super) fn on_window_update(&mut self, t: &mut dyn StreamTransport, id: StreamId, inc: u32) {
        if id == StreamId::CONNECTION {
            self.sh.send_window += inc as i64;
            if self.sh.send_window > MAX_WINDOW as i64 {
                self.conn_error(t, ErrorCode::FlowControlError, "connection window overflow");
                return;
            }
            if let Some(q) = &self.sh.qlog {
                let w = [("connection_send_window", self.sh.send_window)];
                q.flow(t, 0, "window_update_received", &w);
            }
            for c in self.streams.values_mut() {
                if c.st.send.queued > 0 && !c.st.dirty {
                    c.st.dirty = true;
                    self.sh.dirty.push(c.st.id);
                }
            }
            return;
        }
        if self.idle(id) {
            self.conn_error(
                t,
                ErrorCode::ProtocolError,
                "WINDOW_UPDATE on an idle stream",
            );
            return;
        }
        let Some(c) = self.streams.get_mut(&id) else {
            return;
        };
        c.st.send.window += inc as i64;
        if c.st.send.window > MAX_WINDOW as i64 {
            self.stream_error(t, id, ErrorCode::FlowControlError, "stream window overflow");
            return;
        }
        if let Some(q) = &self.sh.qlog {
            let w = [("send_window", c.st.send.window)];
            q.flow(t, id.0, "window_update_received", &w);
        }
        c.st.send.stall_since = None;
        c.st.touch(&mut self.sh.touched);
        if !c.st.dirty {
            c.st.dirty = true;
            self.sh.dirty.push(id);
        }
    }

    // ---- errors -----------------------------------------------------------

    pub(super) fn send_rst(&mut self, id: StreamId, code: ErrorCode, why: &'static str) {
        rst(&mut self.sh, id, code, why);
    }

    /// A frame on a stream that is closed to the peer (RFC 9113 §5.1): a
    /// stream error STREAM_CLOSED. Each one owes the peer a frame: bounded
    /// like PING answers.
    pub(super) fn closed_stream(
        &mut self,
        t: &mut dyn StreamTransport,
        id: StreamId,
        why: &'static str,
    ) {
        self.send_rst(id, ErrorCode::StreamClosed, why);
        self.count_control(t);
    }

    pub(super) fn stream_error(
        &mut self,
        t: &mut dyn StreamTransport,
        id: StreamId,
        code: ErrorCode,
        why: &'static str,
    ) {
        self.send_rst(id, code, why);
        if let Some(c) = self.streams.get_mut(&id) {
            drop_pending(&mut c.st, &mut self.sh);
            c.st.reset_sent(&self.sh, t);
            if c.st.finished.is_none() {
                c.st.finished = Some(h2_close(code, why, false, Some(id.0)));
            }
        }
        self.count_reset(t);
    }

    pub(super) fn conn_error(
        &mut self,
        t: &mut dyn StreamTransport,
        code: ErrorCode,
        why: &'static str,
    ) {
        self.conn_error_as(t, code, why, h2_close(code, why, false, None));
    }

    /// A connection error whose streams' protocols get `close` (a phase
    /// timeout, say) rather than the HTTP/2 error itself.
    pub(super) fn conn_error_as(
        &mut self,
        t: &mut dyn StreamTransport,
        code: ErrorCode,
        why: &'static str,
        close: Close,
    ) {
        // A header block cannot finish on a dead connection: its deadline
        // goes too (kept, it was a timer that fired for ever: the fuzz
        // target http_server found it after a shutdown GOAWAY).
        self.c.drop_block();
        self.c.timers.stop(ConnTimer::HeaderBlock);
        if self.c.dead {
            return;
        }
        tracing::debug!(%code, why, "HTTP/2 connection error");
        frame::write_goaway(
            &mut self.sh.out,
            self.c.last_peer_stream.0,
            code,
            why.as_bytes(),
        );
        self.c.set_dead();
        let why = close;
        for c in self.streams.values_mut() {
            drop_pending(&mut c.st, &mut self.sh);
            if c.st.finished.is_none() {
                c.st.finished = Some(why.clone());
            }
        }
        self.flush(t);
        t.close();
    }
}
