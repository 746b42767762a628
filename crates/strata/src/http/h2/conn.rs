//! The HTTP/2 connection: a stream protocol below, a multiplexer of stream
//! transports above.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{request, response, HeaderMap, Method, StatusCode};

use super::frame::{self, flag, kind, setting, ErrorCode, Frame};
use super::head::{response_fields, HeadFields, RequestPseudo};
use super::H2Config;
use crate::http::hpack::{Decoder, Encoder, HpackError};
use crate::http::{
    take_control, HttpControl, HttpError, HttpVersion, RequestHead, ResponseHead, SharedService,
    Trailers,
};
use crate::{
    AbortReason, Close, Introspect, StreamProtocol, StreamTransport, SwapError, SwapRequest,
    Timeout, Wake, WakeRoute,
};

/// The initial window of RFC 9113 §6.9.2.
const DEFAULT_WINDOW: u32 = 65_535;
/// The largest flow-control window (2^31 - 1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Capability of an HTTP/2 stream's transport: its stream id.
///
/// ```
/// use strata::http::h2::StreamId;
/// assert_eq!(StreamId(1).0, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId(pub u32);

/// An HTTP/2 error, ours or the peer's, as it reaches `connection_lost`
/// (inside [`AbortReason::Http2`]).
///
/// ```
/// use strata::http::h2::{H2Error, frame::ErrorCode};
/// let e = H2Error { code: ErrorCode::ProtocolError, detail: "bad", remote: false, stream: None };
/// assert_eq!(e.to_string(), "connection error PROTOCOL_ERROR: bad");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{} {code}: {detail}", if *.remote { "peer sent " } else { "" }, scope(.stream))]
pub struct H2Error {
    /// The RFC 9113 error code sent or received.
    pub code: ErrorCode,
    /// What went wrong.
    pub detail: &'static str,
    /// True when the peer sent it (RST_STREAM or GOAWAY).
    pub remote: bool,
    /// The stream, for a stream error.
    pub stream: Option<u32>,
}

fn scope(s: &Option<u32>) -> String {
    match s {
        Some(id) => format!("stream {id} error"),
        None => "connection error".into(),
    }
}

fn h2_close(code: ErrorCode, detail: &'static str, remote: bool, stream: Option<u32>) -> Close {
    Close::aborted(
        if stream.is_some() { "h2-stream" } else { "h2" },
        AbortReason::Http2(H2Error {
            code,
            detail,
            remote,
            stream,
        }),
    )
}

/// A handle to open requests on a client connection, from the code that
/// built it or from another thread.
///
/// ```
/// use strata::http::h2::{H2Client, H2Config, H2Connection};
/// use std::sync::Arc;
/// let client = H2Client::new();
/// let _conn = H2Connection::client(Arc::new(H2Config::default()), client.clone());
/// ```
#[derive(Clone, Default)]
pub struct H2Client {
    q: Arc<Mutex<ClientQueue>>,
}

#[derive(Default)]
struct ClientQueue {
    pending: VecDeque<(request::Parts, Box<dyn StreamProtocol>)>,
    wake: Option<Wake>,
}

impl std::fmt::Debug for H2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("H2Client")
    }
}

impl H2Client {
    /// A handle with nothing queued.
    pub fn new() -> H2Client {
        H2Client::default()
    }

    /// Queues a request. When every handle is dropped, the connection
    /// closes (GOAWAY) once its streams have ended. `proto` gets `connection_made` when its stream
    /// opens; it writes the request body and ends it with `write_eof` (a
    /// request without a body: `write_eof` at once). The response head is the
    /// [`ResponseHead`] capability, present before the first
    /// `data_received` (or `eof_received`).
    pub fn send(&self, req: http::Request<()>, proto: Box<dyn StreamProtocol>) {
        let wake = {
            let mut q = self.q.lock().unwrap_or_else(|e| e.into_inner());
            q.pending.push_back((req.into_parts().0, proto));
            q.wake.clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
    }
}

enum Role {
    Server(SharedService),
    Client(H2Client),
}

/// What a stream has queued to send, in order.
#[derive(Debug)]
enum HeadOut {
    Response(response::Parts),
    Request(Box<request::Parts>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Local {
    /// Sending.
    Open,
    /// `write_eof`/`close` asked; END_STREAM goes after what is queued.
    Ending,
    /// END_STREAM sent (or the stream was reset).
    Done,
}

struct StreamState {
    id: u32,
    sid: StreamId,
    server: bool,
    req: Option<RequestHead>,
    resp: Option<ResponseHead>,
    trailers_in: Option<Trailers>,
    head_request: bool,
    heads: Vec<HeadOut>,
    final_head_sent: bool,
    send_window: i64,
    pending: VecDeque<Bytes>,
    pending_len: usize,
    local: Local,
    trailers_out: Option<HeaderMap>,
    close_requested: bool,
    remote_done: bool,
    eof_delivered: bool,
    read_paused: bool,
    stash: Vec<u8>,
    recv_window: i64,
    recv_unacked: u32,
    expect_len: Option<u64>,
    recv_len: u64,
    write_paused: bool,
    finished: Option<Close>,
    swap: Option<(Box<dyn StreamProtocol>, Vec<u8>)>,
    stall_since: Option<Instant>,
    dirty: bool,
}

struct Child {
    proto: Box<dyn StreamProtocol>,
    st: StreamState,
}

/// What the stream views share with the connection.
struct Shared {
    cfg: Arc<H2Config>,
    enc: Encoder,
    hbuf: Vec<u8>,
    out: Vec<u8>,
    send_window: i64,
    peer_initial_window: u32,
    peer_max_frame: u32,
    pending_total: usize,
    /// Streams we reset recently (bounded by `RESET_MEMORY`).
    reset_ids: VecDeque<u32>,
    dirty: Vec<u32>,
    recv_unacked: u32,
}

struct Block {
    stream: u32,
    end_stream: bool,
    bytes: usize,
    fields: HeadFields,
    /// A second block on an open stream: trailers (or, on a client, a
    /// response after 1xx).
    existing: bool,
    /// The stream had already ended its side: STREAM_CLOSED once decoded.
    after_end: bool,
    /// A peer's stream we reset recently: decoded to keep HPACK in step,
    /// then ignored (RFC 9113 §5.1: frames the peer sent before it saw our
    /// RST_STREAM, trailers for instance, may still arrive).
    gone: bool,
}

struct Conn {
    role: Role,
    inbuf: Vec<u8>,
    preface_left: usize,
    got_settings: bool,
    dec: Decoder,
    block: Option<Block>,
    last_peer_stream: u32,
    next_local: u32,
    recv_window: i64,
    peer_max_concurrent: u32,
    goaway_sent: bool,
    goaway_recv: Option<u32>,
    drain_deadline: Option<Instant>,
    settings_deadline: Option<Instant>,
    idle_since: Option<Instant>,
    stall_since: Option<Instant>,
    resets: VecDeque<Instant>,
    empty_data: u32,
    pending_control: u32,
    dead: bool,
    started: bool,
}

/// An HTTP/2 connection (RFC 9113), server or client: a stream protocol to
/// the transport below, and a stream transport to one protocol per stream.
///
/// On a server, each request's head goes to the [`Service`](crate::http::Service),
/// whose protocol gets the body as `data_received`/`eof_received` and answers
/// through [`HttpExchange`](crate::http::HttpExchange). Flow control is
/// back-pressure: a stream whose protocol pauses reading stops getting
/// WINDOW_UPDATEs; a stream out of send window (its own or the
/// connection's) stops being `writable()` and gets `pause_writing`.
///
/// ```
/// use std::sync::Arc;
/// use strata::http::{h2::{H2Config, H2Connection}, HttpExchange};
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Hello;
/// impl StreamProtocol for Hello {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
///         t.write(b"hello");
///         t.close();
///     }
/// }
/// let service = Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>);
/// let conn = H2Connection::server(Arc::new(H2Config::default()), service);
/// let mut stack = Stack::memory(Box::new(conn));
/// let now = stack.now();
/// stack.handle_input(now, strata::http::h2::frame::PREFACE);
/// // Our SETTINGS went out at once.
/// assert!(!stack.take_output(now).is_empty());
/// ```
pub struct H2Connection {
    c: Conn,
    sh: Shared,
    streams: BTreeMap<u32, Child>,
    ids: Vec<u32>,
}

impl H2Connection {
    /// A server connection: expects the client preface, then requests.
    pub fn server(cfg: Arc<H2Config>, service: SharedService) -> H2Connection {
        H2Connection::new(cfg, Role::Server(service))
    }

    /// A client connection (prior knowledge, or after ALPN `h2`): sends the
    /// preface, then the requests queued on `client`.
    pub fn client(cfg: Arc<H2Config>, client: H2Client) -> H2Connection {
        H2Connection::new(cfg, Role::Client(client))
    }

    fn new(cfg: Arc<H2Config>, role: Role) -> H2Connection {
        let server = matches!(role, Role::Server(_));
        H2Connection {
            c: Conn {
                role,
                inbuf: Vec::new(),
                preface_left: if server { frame::PREFACE.len() } else { 0 },
                got_settings: false,
                dec: Decoder::new(cfg.header_table_size as usize),
                block: None,
                last_peer_stream: 0,
                next_local: 1,
                recv_window: DEFAULT_WINDOW as i64,
                peer_max_concurrent: u32::MAX,
                goaway_sent: false,
                goaway_recv: None,
                drain_deadline: None,
                settings_deadline: None,
                idle_since: None,
                stall_since: None,
                resets: VecDeque::new(),
                empty_data: 0,
                pending_control: 0,
                dead: false,
                started: false,
            },
            sh: Shared {
                enc: Encoder::new(),
                hbuf: Vec::new(),
                out: Vec::new(),
                send_window: DEFAULT_WINDOW as i64,
                peer_initial_window: DEFAULT_WINDOW,
                peer_max_frame: frame::DEFAULT_MAX_FRAME_SIZE,
                pending_total: 0,
                reset_ids: VecDeque::new(),
                dirty: Vec::new(),
                recv_unacked: 0,
                cfg,
            },
            streams: BTreeMap::new(),
            ids: Vec::new(),
        }
    }

    fn is_server(&self) -> bool {
        matches!(self.c.role, Role::Server(_))
    }

    /// Streams open now (for tests and metrics).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Response bytes the streams hold, waiting for the peer's flow-control
    /// windows (for tests and metrics). At most `stream_send_limit` per
    /// stream, and a stream stuck on its window for `stall_timeout` is reset.
    pub fn queued(&self) -> usize {
        self.sh.pending_total
    }

    fn start(&mut self, t: &mut dyn StreamTransport) {
        if self.c.started {
            return;
        }
        self.c.started = true;
        let cfg = self.sh.cfg.clone();
        if !self.is_server() {
            self.sh.out.extend_from_slice(frame::PREFACE);
        }
        let mut s = vec![
            (setting::MAX_CONCURRENT_STREAMS, cfg.max_concurrent_streams),
            (setting::INITIAL_WINDOW_SIZE, cfg.initial_stream_window),
            (setting::MAX_FRAME_SIZE, cfg.max_frame_size),
            (setting::MAX_HEADER_LIST_SIZE, cfg.max_header_list_size),
            (setting::ENABLE_PUSH, 0),
        ];
        if cfg.header_table_size != 4096 {
            s.push((setting::HEADER_TABLE_SIZE, cfg.header_table_size));
        }
        if self.is_server() && cfg.enable_connect_protocol {
            s.push((setting::ENABLE_CONNECT_PROTOCOL, 1));
        }
        frame::write_settings(&mut self.sh.out, &s);
        let extra = cfg.connection_window as i64 - self.c.recv_window;
        if extra > 0 {
            frame::write_window_update(&mut self.sh.out, 0, extra as u32);
            self.c.recv_window += extra;
        }
        let now = t.now();
        self.c.settings_deadline = Some(now + cfg.settings_timeout);
        self.c.idle_since = Some(now);
        if let Role::Client(cl) = &self.c.role {
            let mut q = cl.q.lock().unwrap_or_else(|e| e.into_inner());
            q.wake = Some(t.waker());
        }
        self.open_client_streams(t);
    }

    // ---- input ------------------------------------------------------------

    fn input(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.c.dead {
            return;
        }
        if self.c.inbuf.is_empty() {
            let used = self.frames(t, data);
            if !self.c.dead {
                if let Some(rest) = data.get(used..) {
                    self.c.inbuf.extend_from_slice(rest);
                }
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
    fn frames(&mut self, t: &mut dyn StreamTransport, src: &[u8]) -> usize {
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
                    } else if !self.c.got_settings || self.c.block.is_some() {
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
                    self.stream_error(t, id, e.code, e.reason);
                }
            }
        }
        pos
    }

    fn frame(&mut self, t: &mut dyn StreamTransport, f: Frame<'_>) {
        if !self.c.got_settings {
            if !matches!(f, Frame::Settings { ack: false, .. }) {
                self.conn_error(t, ErrorCode::ProtocolError, "first frame is not SETTINGS");
                return;
            }
            self.c.got_settings = true;
        }
        if let Some(b) = &self.c.block {
            let ok = matches!(f, Frame::Continuation { stream, .. } if stream == b.stream);
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
            } => self.on_data(t, stream, end_stream, data, flow_len),
            Frame::Headers {
                stream,
                end_stream,
                end_headers,
                block,
                ..
            } => self.on_headers(t, stream, end_stream, end_headers, block),
            Frame::Continuation {
                stream,
                end_headers,
                block,
            } => {
                if self.c.block.is_none() {
                    self.conn_error(t, ErrorCode::ProtocolError, "CONTINUATION without HEADERS");
                    return;
                }
                self.header_fragment(t, stream, block, end_headers);
            }
            Frame::Priority { .. } => {}
            Frame::RstStream { stream, code } => self.on_rst(t, stream, code),
            Frame::Settings { ack, settings } => {
                if ack {
                    self.c.settings_deadline = None;
                    return;
                }
                for (id, v) in settings.iter() {
                    if let Err((code, why)) = self.apply_setting(id, v) {
                        self.conn_error(t, code, why);
                        return;
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
            } => self.on_goaway(t, last_stream, code),
            Frame::WindowUpdate { stream, increment } => {
                self.on_window_update(t, stream, increment)
            }
            Frame::Unknown { .. } => {}
        }
    }

    fn count_control(&mut self, t: &mut dyn StreamTransport) {
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

    fn apply_setting(&mut self, id: u16, v: u32) -> Result<(), (ErrorCode, &'static str)> {
        match id {
            setting::HEADER_TABLE_SIZE => {
                let cap = self.sh.cfg.max_encoder_table_size;
                self.sh.enc.set_max_table_size(v.min(cap) as usize);
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
                    c.st.send_window += delta;
                    if c.st.send_window > MAX_WINDOW as i64 {
                        return Err((ErrorCode::FlowControlError, "stream window overflow"));
                    }
                    if delta > 0 && c.st.pending_len > 0 && !c.st.dirty {
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

    fn peer_initiated(&self, id: u32) -> bool {
        (id % 2 == 1) == self.is_server()
    }

    /// Whether `id` names a stream that was never opened (RFC 9113 §5.1 idle).
    fn idle(&self, id: u32) -> bool {
        if self.peer_initiated(id) {
            id > self.c.last_peer_stream
        } else {
            id >= self.c.next_local
        }
    }

    fn on_data(
        &mut self,
        t: &mut dyn StreamTransport,
        id: u32,
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
        let Some(child) = self.streams.get_mut(&id) else {
            self.sh.recv_unacked += data.len() as u32;
            if self.sh.reset_ids.contains(&id) {
                // Sent before the peer saw our RST_STREAM: ignored.
                return;
            }
            self.send_rst(id, ErrorCode::StreamClosed);
            // Each one owes the peer a frame: bounded like PING answers.
            self.count_control(t);
            return;
        };
        let st = &mut child.st;
        if st.remote_done {
            self.sh.recv_unacked += data.len() as u32;
            self.stream_error(t, id, ErrorCode::StreamClosed, "DATA after END_STREAM");
            return;
        }
        if flow_len as i64 > st.recv_window {
            self.sh.recv_unacked += data.len() as u32;
            self.stream_error(t, id, ErrorCode::FlowControlError, "stream window exceeded");
            return;
        }
        st.recv_window -= flow_len as i64;
        st.recv_len += data.len() as u64;
        if st
            .expect_len
            .is_some_and(|n| st.recv_len > n || (end_stream && st.recv_len != n))
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
            st.remote_done = true;
        }
        if st.read_paused || !st.stash.is_empty() || st.swap.is_some() {
            st.stash.extend_from_slice(data);
        } else {
            if !data.is_empty() {
                let mut v = View {
                    st: &mut child.st,
                    sh: &mut self.sh,
                    below: t,
                };
                child.proto.data_received(&mut v, data);
                credit(&mut child.st, &mut self.sh, data.len());
            }
            deliver_eof(child, &mut self.sh, t);
        }
    }

    fn on_headers(
        &mut self,
        t: &mut dyn StreamTransport,
        id: u32,
        end_stream: bool,
        end_headers: bool,
        block: &[u8],
    ) {
        let existing = self.streams.contains_key(&id);
        let gone = !existing
            && self.peer_initiated(id)
            && id <= self.c.last_peer_stream
            && self.sh.reset_ids.contains(&id);
        if !existing && !gone {
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
        let after_end = self.streams.get(&id).is_some_and(|c| c.st.remote_done);
        let trailers = existing
            && (self.is_server() || self.streams.get(&id).is_some_and(|c| c.st.resp.is_some()));
        self.c
            .dec
            .begin_block(self.sh.cfg.max_header_list_size as usize);
        self.c.block = Some(Block {
            stream: id,
            end_stream,
            bytes: 0,
            fields: HeadFields::new(trailers),
            existing,
            after_end,
            gone,
        });
        self.header_fragment(t, id, block, end_headers);
    }

    fn header_fragment(&mut self, t: &mut dyn StreamTransport, _id: u32, frag: &[u8], end: bool) {
        let Some(b) = self.c.block.as_mut() else {
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
        let r = self
            .c
            .dec
            .decode_fragment(frag, end, &mut |n, v, s| fields.add(n, v, s));
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
        let Some(b) = self.c.block.take() else {
            return;
        };
        self.end_block(t, b, too_large);
    }

    fn end_block(&mut self, t: &mut dyn StreamTransport, b: Block, too_large: bool) {
        let id = b.stream;
        if b.gone {
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
            self.send_rst(id, ErrorCode::StreamClosed);
            return;
        }
        let Role::Server(service) = &self.c.role else {
            self.send_rst(id, ErrorCode::ProtocolError);
            return;
        };
        if self.c.goaway_sent {
            self.send_rst(id, ErrorCode::RefusedStream);
            return;
        }
        if self.streams.len() >= self.sh.cfg.max_concurrent_streams as usize {
            self.send_rst(id, ErrorCode::RefusedStream);
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
                let mut st = self.new_stream(id, t.now());
                st.remote_done = b.end_stream;
                if too_large {
                    // Answer 431 and end the stream; the rest of the request is refused.
                    let (mut p, ()) = http::Response::new(()).into_parts();
                    p.status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
                    st.heads.push(HeadOut::Response(p));
                    st.final_head_sent = true;
                    st.local = Local::Ending;
                    st.close_requested = true;
                    st.dirty = true;
                    self.sh.dirty.push(id);
                    self.streams.insert(
                        id,
                        Child {
                            proto: Box::new(Sink),
                            st,
                        },
                    );
                    // A refused request like a stream error: a flood of
                    // them (an HPACK bomb costs a few bytes each) is bounded
                    // by the rapid-reset limit.
                    self.count_reset(t);
                } else {
                    tracing::debug!(stream = id, why, "malformed request");
                    self.send_rst(id, ErrorCode::ProtocolError);
                    self.count_reset(t);
                }
                return;
            }
        };
        if b.end_stream && expect.is_some_and(|n| n != 0) {
            // Malformed (§8.1.1): refused like the others, before the
            // service sees it.
            self.send_rst(id, ErrorCode::ProtocolError);
            self.count_reset(t);
            return;
        }
        let proto = service.call(&parts);
        let mut st = self.new_stream(id, t.now());
        st.head_request = parts.method == Method::HEAD;
        st.expect_len = expect;
        st.req = Some(RequestHead(parts));
        st.remote_done = b.end_stream;
        self.open(t, st, proto);
        if let Some(child) = self.streams.get_mut(&id) {
            deliver_eof(child, &mut self.sh, t);
        }
    }

    /// A new stream: its protocol gets `connection_made` with its view.
    fn open(
        &mut self,
        t: &mut dyn StreamTransport,
        st: StreamState,
        proto: Box<dyn StreamProtocol>,
    ) {
        self.c.idle_since = None;
        let child = self.streams.entry(st.id).or_insert(Child { proto, st });
        let mut v = View {
            st: &mut child.st,
            sh: &mut self.sh,
            below: t,
        };
        child.proto.connection_made(&mut v);
    }

    /// Trailers, or a client's response head.
    fn later_block(&mut self, t: &mut dyn StreamTransport, b: Block, too_large: bool) {
        let id = b.stream;
        let server = self.is_server();
        let Some(child) = self.streams.get_mut(&id) else {
            return;
        };
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
                    child.st.expect_len = content_length(&p.headers);
                    if child.st.head_request
                        || p.status == StatusCode::NO_CONTENT
                        || p.status == StatusCode::NOT_MODIFIED
                    {
                        child.st.expect_len = None;
                    }
                    child.st.resp = Some(ResponseHead(p));
                    if b.end_stream {
                        child.st.remote_done = true;
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
                if child.st.expect_len.is_some_and(|n| n != child.st.recv_len) {
                    self.stream_error(
                        t,
                        id,
                        ErrorCode::ProtocolError,
                        "body length differs from content-length",
                    );
                    return;
                }
                child.st.trailers_in = Some(Trailers(h));
                child.st.remote_done = true;
                if child.st.stash.is_empty() && !child.st.read_paused {
                    deliver_eof(child, &mut self.sh, t);
                }
            }
            Err(why) => self.stream_error(t, id, ErrorCode::ProtocolError, why),
        }
    }

    fn new_stream(&self, id: u32, _now: Instant) -> StreamState {
        StreamState {
            id,
            sid: StreamId(id),
            server: self.is_server(),
            req: None,
            resp: None,
            trailers_in: None,
            head_request: false,
            heads: Vec::new(),
            final_head_sent: false,
            send_window: self.sh.peer_initial_window as i64,
            pending: VecDeque::new(),
            pending_len: 0,
            local: Local::Open,
            trailers_out: None,
            close_requested: false,
            remote_done: false,
            eof_delivered: false,
            read_paused: false,
            stash: Vec::new(),
            recv_window: self.sh.cfg.initial_stream_window as i64,
            recv_unacked: 0,
            expect_len: None,
            recv_len: 0,
            write_paused: false,
            finished: None,
            swap: None,
            stall_since: None,
            dirty: false,
        }
    }

    fn on_rst(&mut self, t: &mut dyn StreamTransport, id: u32, code: ErrorCode) {
        if self.idle(id) {
            self.conn_error(t, ErrorCode::ProtocolError, "RST_STREAM on an idle stream");
            return;
        }
        if let Some(c) = self.streams.get_mut(&id) {
            // A reset before the response was complete counts toward the
            // rapid-reset limit, whatever its code: a peer resetting with
            // NO_ERROR costs us as much as with CANCEL.
            let complete = c.st.local == Local::Done;
            drop_pending(&mut c.st, &mut self.sh);
            c.st.local = Local::Done;
            if c.st.finished.is_none() {
                c.st.finished = Some(h2_close(code, "stream reset", true, Some(id)));
            }
            if !complete {
                self.count_reset(t);
            }
        }
    }

    fn count_reset(&mut self, t: &mut dyn StreamTransport) {
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

    fn on_goaway(&mut self, t: &mut dyn StreamTransport, last: u32, code: ErrorCode) {
        self.c.goaway_recv = Some(last);
        let server = self.is_server();
        for c in self.streams.values_mut() {
            let ours = (c.st.id % 2 == 1) != server;
            if ours && c.st.id > last && c.st.finished.is_none() {
                c.st.finished = Some(h2_close(
                    ErrorCode::RefusedStream,
                    "not processed before GOAWAY",
                    true,
                    Some(c.st.id),
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

    fn on_window_update(&mut self, t: &mut dyn StreamTransport, id: u32, inc: u32) {
        if id == 0 {
            self.sh.send_window += inc as i64;
            if self.sh.send_window > MAX_WINDOW as i64 {
                self.conn_error(t, ErrorCode::FlowControlError, "connection window overflow");
                return;
            }
            for c in self.streams.values_mut() {
                if c.st.pending_len > 0 && !c.st.dirty {
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
        c.st.send_window += inc as i64;
        if c.st.send_window > MAX_WINDOW as i64 {
            self.stream_error(t, id, ErrorCode::FlowControlError, "stream window overflow");
            return;
        }
        c.st.stall_since = None;
        if !c.st.dirty {
            c.st.dirty = true;
            self.sh.dirty.push(id);
        }
    }

    // ---- errors -----------------------------------------------------------

    fn send_rst(&mut self, id: u32, code: ErrorCode) {
        rst(&mut self.sh, id, code);
    }

    fn stream_error(
        &mut self,
        t: &mut dyn StreamTransport,
        id: u32,
        code: ErrorCode,
        why: &'static str,
    ) {
        tracing::debug!(stream = id, %code, why, "HTTP/2 stream error");
        self.send_rst(id, code);
        if let Some(c) = self.streams.get_mut(&id) {
            drop_pending(&mut c.st, &mut self.sh);
            c.st.local = Local::Done;
            c.st.remote_done = true;
            if c.st.finished.is_none() {
                c.st.finished = Some(h2_close(code, why, false, Some(id)));
            }
        }
        self.count_reset(t);
    }

    fn conn_error(&mut self, t: &mut dyn StreamTransport, code: ErrorCode, why: &'static str) {
        if self.c.dead {
            return;
        }
        tracing::debug!(%code, why, "HTTP/2 connection error");
        frame::write_goaway(
            &mut self.sh.out,
            self.c.last_peer_stream,
            code,
            why.as_bytes(),
        );
        self.c.dead = true;
        self.c.block = None;
        let why = h2_close(code, why, false, None);
        for c in self.streams.values_mut() {
            drop_pending(&mut c.st, &mut self.sh);
            if c.st.finished.is_none() {
                c.st.finished = Some(why.clone());
            }
        }
        self.flush(t);
        t.close();
    }

    // ---- client -----------------------------------------------------------

    fn open_client_streams(&mut self, t: &mut dyn StreamTransport) {
        let Role::Client(cl) = &self.c.role else {
            return;
        };
        let cl = cl.clone();
        loop {
            if self.c.dead || self.c.goaway_recv.is_some() {
                break;
            }
            if self.streams.len() as u64 >= self.c.peer_max_concurrent as u64 {
                break;
            }
            if self.c.next_local > frame::MAX_STREAM_ID {
                break;
            }
            let Some((req, proto)) =
                cl.q.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pending
                    .pop_front()
            else {
                break;
            };
            let id = self.c.next_local;
            self.c.next_local += 2;
            let mut st = self.new_stream(id, t.now());
            st.head_request = req.method == Method::HEAD;
            st.heads.push(HeadOut::Request(Box::new(req.clone())));
            st.req = Some(RequestHead(req));
            st.dirty = true;
            self.sh.dirty.push(id);
            self.open(t, st, proto);
        }
    }

    // ---- settle and output ------------------------------------------------

    /// The settle step for the children, then the output flush.
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        for _ in 0..64 {
            let mut changed = false;
            // Emit what streams queued.
            // In the order they were marked: new streams' HEADERS must go
            // out in increasing id order.
            let mut dirty = std::mem::take(&mut self.sh.dirty);
            for &id in &dirty {
                if let Some(c) = self.streams.get_mut(&id) {
                    c.st.dirty = false;
                    emit(&mut c.st, &mut self.sh, t);
                }
            }
            dirty.clear();
            if self.sh.dirty.is_empty() {
                self.sh.dirty = dirty;
            }
            self.ids.clear();
            self.ids.extend(self.streams.keys().copied());
            let writable_below = t.writable();
            let now = t.now();
            for i in 0..self.ids.len() {
                let id = self.ids[i];
                let Some(child) = self.streams.get_mut(&id) else {
                    continue;
                };
                if let Some((p, leftover)) = child.st.swap.take() {
                    child.proto = p;
                    let mut v = View {
                        st: &mut child.st,
                        sh: &mut self.sh,
                        below: t,
                    };
                    child.proto.connection_made(&mut v);
                    if !leftover.is_empty() {
                        child.proto.data_received(&mut v, &leftover);
                    }
                    changed = true;
                }
                if child.st.finished.is_none() && !child.st.read_paused && child.st.swap.is_none() {
                    if !child.st.stash.is_empty() {
                        let data = std::mem::take(&mut child.st.stash);
                        let mut v = View {
                            st: &mut child.st,
                            sh: &mut self.sh,
                            below: t,
                        };
                        child.proto.data_received(&mut v, &data);
                        credit(&mut child.st, &mut self.sh, data.len());
                        changed = true;
                    }
                    if child.st.stash.is_empty() && deliver_eof(child, &mut self.sh, t) {
                        changed = true;
                    }
                }
                let st = &mut child.st;
                if st.finished.is_none() {
                    let w = stream_writable(st, &self.sh, writable_below);
                    if w == st.write_paused {
                        st.write_paused = !w;
                        let mut v = View {
                            st: &mut child.st,
                            sh: &mut self.sh,
                            below: t,
                        };
                        if w {
                            child.proto.resume_writing(&mut v);
                        } else {
                            child.proto.pause_writing(&mut v);
                        }
                        changed = true;
                    }
                }
                let st = &mut child.st;
                if st.pending_len > 0 && st.send_window <= 0 {
                    st.stall_since.get_or_insert(now);
                } else {
                    st.stall_since = None;
                }
                if st.finished.is_none()
                    && st.local == Local::Done
                    && st.remote_done
                    && st.eof_delivered
                {
                    st.finished = Some(Close::Done);
                }
                if let Some(why) = st.finished.take() {
                    drop_pending(&mut child.st, &mut self.sh);
                    if let Some(c) = self.streams.remove(&id) {
                        let mut c = c;
                        c.proto.connection_lost(&why);
                    }
                    changed = true;
                }
            }
            if !self.sh.dirty.is_empty() {
                changed = true;
            }
            if !changed {
                break;
            }
        }
        if self.streams.is_empty() && self.c.idle_since.is_none() {
            self.c.idle_since = Some(t.now());
        }
        if !self.c.dead {
            self.open_client_streams(t);
            // Connection-level window.
            let target = self.sh.cfg.connection_window as i64;
            if self.sh.recv_unacked > 0
                && (self.sh.recv_unacked as i64 >= target / 2 || self.c.recv_window < target / 2)
            {
                frame::write_window_update(&mut self.sh.out, 0, self.sh.recv_unacked);
                self.c.recv_window += self.sh.recv_unacked as i64;
                self.sh.recv_unacked = 0;
            }
            // A client whose every handle is gone closes once its streams end.
            if let Role::Client(cl) = &self.c.role {
                if self.streams.is_empty()
                    && Arc::strong_count(&cl.q) == 1
                    && cl
                        .q
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pending
                        .is_empty()
                {
                    self.goaway(t);
                }
            }
            if (self.c.goaway_sent || self.c.goaway_recv.is_some()) && self.streams.is_empty() {
                self.flush(t);
                t.close();
                self.c.dead = true;
            }
        }
        self.flush(t);
        if t.writable() {
            self.c.stall_since = None;
            self.c.pending_control = 0;
        } else if self.c.stall_since.is_none() {
            self.c.stall_since = Some(t.now());
        }
    }

    fn flush(&mut self, t: &mut dyn StreamTransport) {
        if !self.sh.out.is_empty() {
            t.write(&self.sh.out);
            self.sh.out.clear();
            if self.sh.out.capacity() > 256 << 10 {
                self.sh.out = Vec::new();
            }
        }
    }

    fn goaway(&mut self, t: &mut dyn StreamTransport) {
        if self.c.goaway_sent || self.c.dead {
            return;
        }
        self.c.goaway_sent = true;
        frame::write_goaway(
            &mut self.sh.out,
            self.c.last_peer_stream,
            ErrorCode::NoError,
            b"",
        );
        self.c.drain_deadline = Some(t.now() + self.sh.cfg.drain_timeout);
    }
}

/// A protocol that ignores everything (the refused request's slot).
struct Sink;
impl StreamProtocol for Sink {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Sends RST_STREAM and remembers the stream for a while: frames the peer
/// sent before it saw the reset (trailers, DATA) are then ignored.
fn rst(sh: &mut Shared, id: u32, code: ErrorCode) {
    frame::write_rst_stream(&mut sh.out, id, code);
    if sh.reset_ids.len() >= RESET_MEMORY {
        sh.reset_ids.pop_front();
    }
    sh.reset_ids.push_back(id);
}

/// How many reset streams are remembered (RFC 9113 §5.1: frames may still
/// arrive on a stream after we reset it).
const RESET_MEMORY: usize = 128;

fn stream_writable(st: &StreamState, sh: &Shared, below: bool) -> bool {
    st.local == Local::Open
        && st.pending_len < sh.cfg.stream_send_buffer
        && sh.pending_total < sh.cfg.connection_send_buffer
        && below
}

fn drop_pending(st: &mut StreamState, sh: &mut Shared) {
    sh.pending_total -= st.pending_len;
    st.pending.clear();
    st.pending_len = 0;
    st.heads.clear();
    st.trailers_out = None;
}

/// Delivers EOF once the body is complete; true if it did.
fn deliver_eof(child: &mut Child, sh: &mut Shared, t: &mut dyn StreamTransport) -> bool {
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
fn credit(st: &mut StreamState, sh: &mut Shared, n: usize) {
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
fn emit(st: &mut StreamState, sh: &mut Shared, t: &mut dyn StreamTransport) {
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
fn ended(st: &mut StreamState, sh: &mut Shared) {
    st.local = Local::Done;
    if st.close_requested && !st.remote_done {
        rst(sh, st.id, ErrorCode::NoError);
        st.remote_done = true;
        st.eof_delivered = true;
    }
}

/// The transport an HTTP/2 stream's protocol sees.
struct View<'a> {
    st: &'a mut StreamState,
    sh: &'a mut Shared,
    below: &'a mut dyn StreamTransport,
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
            rst(self.sh, id, ErrorCode::InternalError);
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
        // Large writes go out now, so a bulk sender's bytes are copied once.
        if self.st.pending_len >= 16 << 10 {
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
            rst(self.sh, self.st.id, ErrorCode::NoError);
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
        rst(self.sh, self.st.id, code);
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
        stream_writable(self.st, self.sh, self.below.writable())
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker().child(self.st.id as u64)
    }
    fn request_swap(&mut self, req: SwapRequest, leftover: Vec<u8>) -> Result<(), SwapError> {
        if self.st.finished.is_some() {
            return Err(SwapError::Closed);
        }
        if self.st.swap.is_some() {
            return Err(SwapError::AlreadyPending);
        }
        match req {
            SwapRequest::Replace(p) => {
                self.st.swap = Some((p, leftover));
                self.mark();
                Ok(())
            }
            SwapRequest::InsertBelow(_) => Err(SwapError::Unsupported { layer: "h2-stream" }),
        }
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

impl StreamProtocol for H2Connection {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.start(t);
        self.settle(t);
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.start(t);
        self.input(t, data);
        self.settle(t);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if !self.c.dead {
            for c in self.streams.values_mut() {
                if c.st.finished.is_none() && !(c.st.local == Local::Done && c.st.remote_done) {
                    c.st.finished = Some(Close::aborted("h2", AbortReason::PeerAborted));
                }
            }
            self.c.dead = true;
        }
        self.settle(t);
        t.close();
    }

    fn connection_lost(&mut self, why: &Close) {
        for (_, mut c) in std::mem::take(&mut self.streams) {
            let w = c.st.finished.take().unwrap_or_else(|| why.clone());
            c.proto.connection_lost(&w);
        }
        self.sh.pending_total = 0;
    }

    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.settle(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.c.pending_control = 0;
        // The peer read down to the low-water mark: it is not stalled, even
        // if our next writes fill the transport again before settle ends.
        self.c.stall_since = None;
        for c in self.streams.values_mut() {
            if c.st.pending_len > 0 && !c.st.dirty {
                c.st.dirty = true;
                self.sh.dirty.push(c.st.id);
            }
        }
        self.settle(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        let cfg = &self.sh.cfg;
        let mut d = [
            self.c.settings_deadline,
            self.c.drain_deadline,
            self.c.stall_since.map(|s| s + cfg.stall_timeout),
            self.c
                .idle_since
                .filter(|_| self.streams.is_empty() && !self.c.dead)
                .map(|s| s + cfg.idle_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        for c in self.streams.values() {
            let s = c.st.stall_since.map(|s| s + cfg.stall_timeout);
            for x in [s, c.proto.next_deadline()].into_iter().flatten() {
                d = Some(d.map_or(x, |d| d.min(x)));
            }
        }
        d
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let now = t.now();
        let cfg = self.sh.cfg.clone();
        if self.c.settings_deadline.is_some_and(|d| d <= now) {
            self.c.settings_deadline = None;
            self.conn_error(t, ErrorCode::SettingsTimeout, "SETTINGS not acknowledged");
        }
        if self
            .c
            .stall_since
            .is_some_and(|s| s + cfg.stall_timeout <= now)
            && !t.writable()
        {
            for c in self.streams.values_mut() {
                c.st.finished.get_or_insert(Close::Timeout(Timeout::Stall));
            }
            self.c.dead = true;
            t.abort(Close::Timeout(Timeout::Stall));
            return;
        }
        if self.c.drain_deadline.is_some_and(|d| d <= now) {
            self.c.drain_deadline = None;
            for c in self.streams.values_mut() {
                c.st.finished
                    .get_or_insert(Close::aborted("h2", AbortReason::Shutdown));
                rst(&mut self.sh, c.st.id, ErrorCode::Cancel);
            }
        }
        if self.streams.is_empty()
            && !self.c.dead
            && self
                .c
                .idle_since
                .is_some_and(|s| s + cfg.idle_timeout <= now)
        {
            self.goaway(t);
        }
        self.ids.clear();
        self.ids.extend(self.streams.keys().copied());
        for i in 0..self.ids.len() {
            let id = self.ids[i];
            let Some(child) = self.streams.get_mut(&id) else {
                continue;
            };
            if child
                .st
                .stall_since
                .is_some_and(|s| s + cfg.stall_timeout <= now)
            {
                rst(&mut self.sh, id, ErrorCode::Cancel);
                drop_pending(&mut child.st, &mut self.sh);
                child.st.local = Local::Done;
                child
                    .st
                    .finished
                    .get_or_insert(Close::Timeout(Timeout::Stall));
                continue;
            }
            if child.proto.next_deadline().is_some_and(|d| d <= now) {
                let mut v = View {
                    st: &mut child.st,
                    sh: &mut self.sh,
                    below: t,
                };
                child.proto.on_deadline(&mut v);
            }
        }
        self.settle(t);
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, mut route: WakeRoute<'_>) {
        match route.next_hop() {
            None => self.open_client_streams(t),
            Some(id) => {
                let Ok(id) = u32::try_from(id) else {
                    return;
                };
                if let Some(child) = self.streams.get_mut(&id) {
                    let mut v = View {
                        st: &mut child.st,
                        sh: &mut self.sh,
                        below: t,
                    };
                    child.proto.on_wake(&mut v, route);
                }
            }
        }
        self.settle(t);
    }

    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.goaway(t);
        self.settle(t);
    }

    fn buffered(&self) -> usize {
        // Not `pending_total`: after settle, what the streams still hold is
        // waiting for the peer's windows, which no draining of the transport
        // can send. Counted here, it kept the stack above its low-water mark
        // after the peer read everything, so `resume_writing` never came and
        // every other stream stayed paused behind one stuck stream. Those
        // bytes are bounded per stream instead (`stream_send_buffer`,
        // `stream_send_limit`, `stall_timeout`); see `queued`.
        self.sh.out.len()
    }
}
