//! The HTTP/2 connection: a stream protocol below, a multiplexer of stream
//! transports above.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method};

use super::client::H2Client;
use super::frame::{self, setting, ErrorCode};
use super::head::HeadFields;
use super::stream::{
    credit, deliver_eof, drop_pending, emit, rst, stream_writable, Child, HeadOut, Local, Shared,
    StreamState, View,
};
use super::H2Config;

mod recv;
use crate::deadline::{after, after_opt, earliest, expired};
use crate::http::hpack::{Decoder, Encoder};
use crate::http::{RequestHead, SharedService};
use crate::{AbortReason, Close, StreamProtocol, StreamTransport, Timeout, WakeRoute};

/// The initial window of RFC 9113 §6.9.2.
const DEFAULT_WINDOW: u32 = 65_535;
/// The largest flow-control window (2^31 - 1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

enum Role {
    Server(SharedService),
    Client(H2Client),
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
    /// A stream the peer reset: decoded, then a stream error STREAM_CLOSED.
    closed: bool,
    /// When the block's first frame arrived (`header_block_timeout`).
    since: Instant,
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
    /// Until the peer's preface and first SETTINGS arrived.
    preface_deadline: Option<Instant>,
    idle_since: Option<Instant>,
    stall_since: Option<Instant>,
    resets: VecDeque<Instant>,
    /// Streams the peer reset recently (bounded by `RESET_MEMORY`): a
    /// HEADERS on one is a stream error STREAM_CLOSED (RFC 9113 §5.1), not
    /// a new stream with a bad id.
    peer_reset_ids: VecDeque<u32>,
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
                preface_deadline: None,
                idle_since: None,
                stall_since: None,
                resets: VecDeque::new(),
                peer_reset_ids: VecDeque::new(),
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
                reading: false,
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
        self.c.settings_deadline = Some(after(now, cfg.settings_timeout));
        self.c.preface_deadline = Some(after(now, cfg.preface_timeout));
        self.c.idle_since = Some(now);
        if let Role::Client(cl) = &self.c.role {
            let mut q = cl.q.lock().unwrap_or_else(|e| e.into_inner());
            q.wake = Some(t.waker());
        }
        self.open_client_streams(t);
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
            // The request-body rate rule runs while a body is being read.
            let body_rule = self.is_server() && !self.sh.cfg.body_timeout.is_zero();
            let conn_open = self.c.recv_window > 0;
            for i in 0..self.ids.len() {
                let id = self.ids[i];
                let Some(child) = self.streams.get_mut(&id) else {
                    continue;
                };
                if let Some((p, leftover)) = child.st.swap.take() {
                    child.proto = p.into();
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
                // Input held while the protocol was not reading goes to it
                // in pieces of at most one frame (what a DATA frame could
                // deliver), so a protocol that pauses reading when its
                // writes fill the stream (an echo) never writes back the
                // whole window at once and passes `stream_send_limit`.
                let piece = (self.sh.cfg.max_frame_size as usize).max(1);
                while !child.st.stash.is_empty()
                    && child.st.finished.is_none()
                    && !child.st.read_paused
                    && child.st.swap.is_none()
                {
                    let n = child.st.stash.len().min(piece);
                    let data = child.st.stash.split_to(n).freeze();
                    let mut v = View {
                        st: &mut child.st,
                        sh: &mut self.sh,
                        below: t,
                    };
                    child.proto.data_received_bytes(&mut v, data);
                    credit(&mut child.st, &mut self.sh, n);
                    changed = true;
                }
                if child.st.finished.is_none()
                    && !child.st.read_paused
                    && child.st.swap.is_none()
                    && child.st.stash.is_empty()
                    && deliver_eof(child, &mut self.sh, t)
                {
                    changed = true;
                }
                let st = &mut child.st;
                if st.finished.is_none() {
                    let w = stream_writable(st, &self.sh, writable_below);
                    let saw_blocked = st.saw_blocked.replace(false);
                    if w == st.write_paused || (w && saw_blocked) {
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
                if body_rule && reading_body(st) && conn_open {
                    if st.body_since.is_none() {
                        st.body_since = Some(now);
                        st.body_bytes = 0;
                    }
                } else {
                    st.body_since = None;
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
        self.c.drain_deadline = Some(after(t.now(), self.sh.cfg.drain_timeout));
    }
}

/// A protocol that ignores everything (the refused request's slot).
struct Sink;
impl StreamProtocol for Sink {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// Whether the request body of `st` is being read now: the body has not
/// ended, its protocol takes input (not paused, nothing held back, no swap
/// pending), our stream window to the peer is open, and it is not a
/// CONNECT tunnel (whose quiet periods are the application's).
fn reading_body(st: &StreamState) -> bool {
    st.finished.is_none()
        && !st.remote_done
        && !st.read_paused
        && st.stash.is_empty()
        && st.swap.is_none()
        && st.recv_window > 0
        && st
            .req
            .as_ref()
            .is_none_or(|r| r.0.method != Method::CONNECT)
}

/// The bytes a body must bring in each `body_timeout` period: the period
/// times `min_body_rate`, at least one (a rate of zero: only the idle rule).
fn body_quota(cfg: &H2Config) -> u64 {
    let q = cfg
        .body_timeout
        .as_millis()
        .saturating_mul(cfg.min_body_rate as u128)
        / 1000;
    q.clamp(1, u64::MAX as u128) as u64
}

/// A request body trickled below the rate for a whole period: the stream
/// ends. Without a response yet, `408` and END_STREAM (then RST_STREAM
/// (NO_ERROR), the request being unfinished); else RST_STREAM(CANCEL). The
/// protocol gets `Timeout::Body` either way.
fn body_too_slow(child: &mut Child, sh: &mut Shared) {
    let why = Close::Timeout(Timeout::Body);
    let st = &mut child.st;
    st.body_since = None;
    if st.final_head_sent {
        rst(sh, st.id, ErrorCode::Cancel, "request body too slow");
        drop_pending(st, sh);
        st.local = Local::Done;
        st.finished.get_or_insert(why);
        return;
    }
    tracing::debug!(stream = st.id, "HTTP/2 request body too slow: 408");
    child.proto.connection_lost(&why);
    child.proto = crate::ProtocolSlot::new(Box::new(Sink));
    drop_pending(st, sh);
    let (mut p, ()) = http::Response::new(()).into_parts();
    p.status = http::StatusCode::REQUEST_TIMEOUT;
    st.heads.push(HeadOut::Response(p));
    st.final_head_sent = true;
    st.local = Local::Ending;
    st.close_requested = true;
    st.stash.clear();
    if !st.dirty {
        st.dirty = true;
        sh.dirty.push(st.id);
    }
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

impl StreamProtocol for H2Connection {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.start(t);
        self.settle(t);
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.start(t);
        self.sh.reading = true;
        self.input(t, data);
        self.sh.reading = false;
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
        let c = &self.c;
        let mut d = [
            c.settings_deadline,
            c.drain_deadline,
            c.preface_deadline.filter(|_| !c.dead),
            c.block
                .as_ref()
                .map(|b| after(b.since, cfg.header_block_timeout)),
            after_opt(c.stall_since, cfg.stall_timeout),
            after_opt(
                c.idle_since.filter(|_| self.streams.is_empty() && !c.dead),
                cfg.idle_timeout,
            ),
        ]
        .into_iter()
        .flatten()
        .min();
        for c in self.streams.values() {
            let st = &c.st;
            d = earliest(d, after_opt(st.stall_since, cfg.stall_timeout));
            d = earliest(d, after_opt(st.body_since, cfg.body_timeout));
            d = earliest(d, c.proto.next_deadline());
        }
        d
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let now = t.now();
        let cfg = self.sh.cfg.clone();
        if !self.c.dead && self.c.preface_deadline.is_some_and(|d| d <= now) {
            self.c.preface_deadline = None;
            tracing::debug!("HTTP/2 connection preface not received in time");
            self.c.dead = true;
            t.abort(Close::Timeout(Timeout::Preface));
            return;
        }
        if self
            .c
            .block
            .as_ref()
            .is_some_and(|b| expired(Some(b.since), cfg.header_block_timeout, now))
        {
            self.conn_error_as(
                t,
                ErrorCode::EnhanceYourCalm,
                "header block timeout",
                Close::Timeout(Timeout::Head),
            );
        }
        if self.c.settings_deadline.is_some_and(|d| d <= now) {
            self.c.settings_deadline = None;
            self.conn_error(t, ErrorCode::SettingsTimeout, "SETTINGS not acknowledged");
        }
        if expired(self.c.stall_since, cfg.stall_timeout, now) {
            if t.writable() {
                // The transport drained meanwhile: no stall, and no timer
                // left in the past.
                self.c.stall_since = None;
            } else {
                for c in self.streams.values_mut() {
                    c.st.finished.get_or_insert(Close::Timeout(Timeout::Stall));
                }
                self.c.dead = true;
                t.abort(Close::Timeout(Timeout::Stall));
                return;
            }
        }
        if self.c.drain_deadline.is_some_and(|d| d <= now) {
            self.c.drain_deadline = None;
            if !self.streams.is_empty() {
                tracing::debug!(streams = self.streams.len(), "HTTP/2 drain timeout");
            }
            for c in self.streams.values_mut() {
                c.st.finished.get_or_insert(Close::Timeout(Timeout::Drain));
                rst(
                    &mut self.sh,
                    c.st.id,
                    ErrorCode::Cancel,
                    "drain_timeout passed",
                );
            }
        }
        if self.streams.is_empty()
            && !self.c.dead
            && expired(self.c.idle_since, cfg.idle_timeout, now)
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
            if expired(child.st.body_since, cfg.body_timeout, now) {
                if child.st.body_bytes >= body_quota(&cfg) {
                    child.st.body_since = Some(now);
                    child.st.body_bytes = 0;
                } else {
                    body_too_slow(child, &mut self.sh);
                    continue;
                }
            }
            if expired(child.st.stall_since, cfg.stall_timeout, now) {
                rst(
                    &mut self.sh,
                    id,
                    ErrorCode::Cancel,
                    "stall_timeout passed on the stream's window",
                );
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
