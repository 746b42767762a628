//! The HTTP/2 connection: a stream protocol below, a multiplexer of stream
//! transports above.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method};

use super::client::H2Client;
use super::frame::{self, setting, ErrorCode};
use super::head::HeadFields;
use super::qlog::H2Qlog;
use super::stream::{
    credit, deliver_eof, drop_pending, emit, rst, stream_writable, Child, Event, HeadOut, Local,
    Shared, StreamId, StreamState, View,
};
use super::H2Config;

mod recv;
use crate::deadline::{after_opt, earliest, expired};
use crate::http::hpack::Decoder;
use crate::http::{RequestHead, SharedService};
use crate::qlog::QlogTrace;
use crate::timer::{DeadlineQueue, TimerName, TimerTable};
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
    stream: StreamId,
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
}

/// The connection's own timers (RFC 9113 phases and this layer's limits).
/// Per-stream deadlines are in [`H2Connection`]'s `deadlines` queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnTimer {
    /// The peer's preface and first SETTINGS (`preface_timeout`).
    Preface,
    /// The peer's acknowledgement of our SETTINGS (`settings_timeout`).
    Settings,
    /// A header block's CONTINUATION frames (`header_block_timeout`).
    HeaderBlock,
    /// The transport below stayed full (`stall_timeout`).
    Stall,
    /// No stream open (`idle_timeout`): GOAWAY.
    Idle,
    /// After our GOAWAY, streams still open are cancelled (`drain_timeout`).
    Drain,
}

impl TimerName for ConnTimer {
    const ALL: &'static [ConnTimer] = &[
        ConnTimer::Preface,
        ConnTimer::Settings,
        ConnTimer::HeaderBlock,
        ConnTimer::Stall,
        ConnTimer::Idle,
        ConnTimer::Drain,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

type ConnTimers = TimerTable<ConnTimer, 6>;

struct Conn {
    role: Role,
    inbuf: Vec<u8>,
    preface_left: usize,
    got_settings: bool,
    /// The HPACK decoder and the header block being read, boxed and made at
    /// the first HEADERS: an idle connection (a browser's preconnect, a
    /// pool's spare) holds 8 bytes here instead of about 580.
    hdr: Option<Box<HeaderState>>,
    last_peer_stream: StreamId,
    /// The id our next stream gets.
    next_local: StreamId,
    recv_window: i64,
    peer_max_concurrent: u32,
    goaway_sent: bool,
    goaway_recv: Option<StreamId>,
    timers: ConnTimers,
    resets: VecDeque<Instant>,
    /// Streams the peer reset recently (bounded by `RESET_MEMORY`): a
    /// HEADERS on one is a stream error STREAM_CLOSED (RFC 9113 §5.1), not
    /// a new stream with a bad id.
    peer_reset_ids: VecDeque<StreamId>,
    empty_data: u32,
    pending_control: u32,
    dead: bool,
    started: bool,
}

/// What reading header blocks needs: see `Conn::hdr`.
struct HeaderState {
    dec: Decoder,
    block: Option<Block>,
}

impl Conn {
    /// The header block being read, if one is.
    fn block(&self) -> Option<&Block> {
        self.hdr.as_ref().and_then(|h| h.block.as_ref())
    }

    /// Drops the header block being read, if any.
    fn drop_block(&mut self) {
        if let Some(h) = self.hdr.as_mut() {
            h.block = None;
        }
    }

    /// Nothing more is read or opened: the preface and idle timers go.
    fn set_dead(&mut self) {
        self.dead = true;
        self.timers.stop(ConnTimer::Preface);
        self.timers.stop(ConnTimer::Idle);
    }
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
    /// Boxed: a `Child` is several hundred bytes (its request and response
    /// heads inline), and a B-tree moves its values as nodes split and merge
    /// (memmove was 16 % of a small request's instructions unboxed).
    streams: BTreeMap<StreamId, Box<Child>>,
    ids: Vec<StreamId>,
    /// Every stream's next deadline (its stall and body rules, its
    /// protocol's own), ordered: `next_deadline` reads the first, and
    /// `on_deadline` visits only the streams that are due.
    deadlines: DeadlineQueue<StreamId>,
}

impl H2Connection {
    /// A server connection: expects the client preface, then requests.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h2::{H2Client, H2Config, H2Connection};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("http://localhost{path}")).body(()).unwrap()
    /// # }
    /// let server = H2Connection::server(Arc::new(H2Config::default()), hello());
    /// let (tx, rx) = mpsc::channel();
    /// let requests = H2Client::new();
    /// requests.send(req("/"), get(&tx));
    /// let client = H2Connection::client(Arc::default(), requests);
    /// let mut pump = Pump::new(Box::new(client), Box::new(server));
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(rx.try_recv(), Ok((200, "hello".into())));
    /// ```
    pub fn server(cfg: Arc<H2Config>, service: SharedService) -> H2Connection {
        H2Connection::new(cfg, Role::Server(service))
    }

    /// A client connection (prior knowledge, or after ALPN `h2`): sends the
    /// preface, then the requests queued on `client`.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h2::{H2Client, H2Config, H2Connection};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("http://localhost{path}")).body(()).unwrap()
    /// # }
    /// let (tx, rx) = mpsc::channel();
    /// let requests = H2Client::new();
    /// requests.send(req("/a"), get(&tx));
    /// requests.send(req("/b"), get(&tx)); // a second stream on the same connection
    /// let client = H2Connection::client(Arc::new(H2Config::default()), requests);
    /// let server = H2Connection::server(Arc::default(), hello());
    /// let mut pump = Pump::new(Box::new(client), Box::new(server));
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(rx.try_iter().count(), 2);
    /// ```
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
                hdr: None,
                last_peer_stream: StreamId::CONNECTION,
                next_local: StreamId(1),
                recv_window: DEFAULT_WINDOW as i64,
                peer_max_concurrent: u32::MAX,
                goaway_sent: false,
                goaway_recv: None,
                timers: ConnTimers::new(),
                resets: VecDeque::new(),
                peer_reset_ids: VecDeque::new(),
                empty_data: 0,
                pending_control: 0,
                dead: false,
                started: false,
            },
            sh: Shared {
                encoder: None,
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
                touched: Vec::new(),
                qlog: None,
                cfg,
            },
            streams: BTreeMap::new(),
            ids: Vec::new(),
            deadlines: DeadlineQueue::new(),
        }
    }

    fn is_server(&self) -> bool {
        matches!(self.c.role, Role::Server(_))
    }

    /// Streams open now (for tests and metrics).
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h2::{H2Client, H2Config, H2Connection};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("http://localhost{path}")).body(()).unwrap()
    /// # }
    /// /// Reads the request and never answers.
    /// struct Mute;
    /// impl StreamProtocol for Mute {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// }
    /// let mute: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Mute) as Box<dyn StreamProtocol>);
    /// let (tx, _rx) = mpsc::channel();
    /// let requests = H2Client::new();
    /// requests.send(req("/"), get(&tx));
    /// let server = H2Connection::server(Arc::default(), mute);
    /// assert_eq!(server.open_streams(), 0);
    /// let mut pump = Pump::new(Box::new(H2Connection::client(Arc::default(), requests)), Box::new(server));
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(pump.b().protocol::<H2Connection>().unwrap().open_streams(), 1);
    /// ```
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Response bytes the streams hold, waiting for the peer's flow-control
    /// windows (for tests and metrics). At most `stream_send_limit` per
    /// stream, and a stream stuck on its window for `stall_timeout` is reset.
    ///
    /// ```
    /// # use std::sync::{mpsc, Arc};
    /// # use std::time::Duration;
    /// # use strata::http::h2::{H2Client, H2Config, H2Connection};
    /// # use strata::http::{ResponseHead, SharedService};
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # // Answers every request with "hello".
    /// # struct Hello;
    /// # impl StreamProtocol for Hello {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello"); t.close() }
    /// # }
    /// # fn hello() -> SharedService {
    /// #     Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>)
    /// # }
    /// # // Sends a request without a body; reports the status and the body at its end.
    /// # struct Get(mpsc::Sender<(u16, String)>, Vec<u8>);
    /// # fn get(tx: &mpsc::Sender<(u16, String)>) -> Box<dyn StreamProtocol> { Box::new(Get(tx.clone(), Vec::new())) }
    /// # impl StreamProtocol for Get {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write_eof() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.1.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
    /// #         let status = t.get::<ResponseHead>().map_or(0, |h| h.0.status.as_u16());
    /// #         self.0.send((status, String::from_utf8_lossy(&self.1).into_owned())).unwrap();
    /// #         t.close();
    /// #     }
    /// # }
    /// # fn req(path: &str) -> http::Request<()> {
    /// #     http::Request::get(format!("http://localhost{path}")).body(()).unwrap()
    /// # }
    /// /// Answers with 200,000 bytes at once.
    /// struct Big;
    /// impl StreamProtocol for Big {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(&[b'x'; 200_000]); t.close() }
    /// }
    /// /// Asks, and never reads the answer: no WINDOW_UPDATE goes back.
    /// struct Stuck;
    /// impl StreamProtocol for Stuck {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.pause_reading(); t.write_eof() }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    /// }
    /// let big: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Big) as Box<dyn StreamProtocol>);
    /// let requests = H2Client::new();
    /// requests.send(req("/"), Box::new(Stuck));
    /// let server = H2Connection::server(Arc::default(), big);
    /// let small = H2Config { initial_stream_window: 65_535, ..H2Config::default() };
    /// let client = H2Connection::client(Arc::new(small), requests);
    /// let mut pump = Pump::new(Box::new(client), Box::new(server));
    /// pump.run(Duration::from_secs(1));
    /// let queued = pump.b().protocol::<H2Connection>().unwrap().queued();
    /// assert_eq!(queued, 200_000 - 65_535, "what the client's window did not take");
    /// ```
    pub fn queued(&self) -> usize {
        self.sh.pending_total
    }

    fn start(&mut self, t: &mut dyn StreamTransport) {
        if self.c.started {
            return;
        }
        self.c.started = true;
        if let Some(q) = t.get::<QlogTrace>() {
            self.sh.qlog = Some(H2Qlog::new(q.clone(), !self.is_server(), t.now()));
        }
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
            self.traced_recv_window(t);
        }
        let now = t.now();
        let tt = &mut self.c.timers;
        tt.set_after(ConnTimer::Settings, now, cfg.settings_timeout);
        tt.set_after(ConnTimer::Preface, now, cfg.preface_timeout);
        tt.set_after(ConnTimer::Idle, now, cfg.idle_timeout);
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
            if self.c.next_local.0 > frame::MAX_STREAM_ID {
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
            self.c.next_local = StreamId(id.0 + 2);
            let mut st = self.new_stream(id, Event::SendHeaders, t);
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
    ///
    /// Runs rounds until one changes nothing (see [`SETTLE_ROUNDS`] for why
    /// the rounds are bounded and what happens at the bound).
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        let mut settled = false;
        for _ in 0..SETTLE_ROUNDS {
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
            let (goaway, server) = (self.c.goaway_recv, self.is_server());
            // The request-body rate rule runs while a body is being read.
            let body_rule = self.is_server() && !self.sh.cfg.body_timeout.is_zero();
            let conn_open = self.c.recv_window > 0;
            for i in 0..self.ids.len() {
                let id = self.ids[i];
                let Some(child) = self.streams.get_mut(&id) else {
                    continue;
                };
                // Input held while the protocol was not reading goes to it
                // in pieces of at most one frame (what a DATA frame could
                // deliver), so a protocol that pauses reading when its
                // writes fill the stream (an echo) never writes back the
                // whole window at once and passes `stream_send_limit`.
                let piece = (self.sh.cfg.max_frame_size as usize).max(1);
                while !child.st.recv.stash.is_empty()
                    && child.st.finished.is_none()
                    && !child.st.recv.paused
                {
                    let n = child.st.recv.stash.len().min(piece);
                    let data = child.st.recv.stash.split_to(n).freeze();
                    let mut v = View::new(&mut child.st, &mut self.sh, t);
                    child.proto.data_received_bytes(&mut v, data);
                    credit(&mut child.st, &mut self.sh, t, n);
                    changed = true;
                }
                if child.st.finished.is_none()
                    && !child.st.recv.paused
                    && child.st.recv.stash.is_empty()
                    && deliver_eof(child, &mut self.sh, t)
                {
                    changed = true;
                }
                let st = &mut child.st;
                if st.finished.is_none() {
                    let w = stream_writable(st, &self.sh, writable_below);
                    let saw_blocked = st.send.saw_blocked.replace(false);
                    if w == st.send.write_paused || (w && saw_blocked) {
                        st.send.write_paused = !w;
                        let mut v = View::new(&mut child.st, &mut self.sh, t);
                        if w {
                            child.proto.resume_writing(&mut v);
                        } else {
                            child.proto.pause_writing(&mut v);
                        }
                        changed = true;
                    }
                }
                let st = &mut child.st;
                let clocks = (st.send.stall_since, st.recv.body_since);
                if st.send.queued > 0 && st.send.window <= 0 {
                    st.send.stall_since.get_or_insert(now);
                } else {
                    st.send.stall_since = None;
                }
                if body_rule && reading_body(st) && conn_open {
                    if st.recv.body_since.is_none() {
                        st.recv.body_since = Some(now);
                        st.recv.body_bytes = 0;
                    }
                } else {
                    st.recv.body_since = None;
                }
                if clocks != (st.send.stall_since, st.recv.body_since) {
                    st.touch(&mut self.sh.touched);
                }
                if st.finished.is_none()
                    && st.local() == Local::Done
                    && st.remote_done()
                    && st.recv.eof_delivered
                {
                    st.finished = Some(Close::Done);
                }
                if let Some(why) = st.finished.take() {
                    if let Some(q) = &self.sh.qlog {
                        q.left(now, &child.st, left_trigger(goaway, server, id));
                    }
                    drop_pending(&mut child.st, &mut self.sh);
                    if let Some(mut c) = self.streams.remove(&id) {
                        self.deadlines.remove(&mut c.st.deadline, c.st.id);
                        c.proto.connection_lost(&why);
                    }
                    changed = true;
                }
            }
            if !self.sh.dirty.is_empty() {
                changed = true;
            }
            if !changed {
                settled = true;
                break;
            }
        }
        if !settled {
            // Work is left (a protocol kept making more): the next turn
            // does it, and it comes at once.
            tracing::debug!("HTTP/2 settle: {SETTLE_ROUNDS} rounds, more work left");
            t.waker().wake();
        }
        if self.streams.is_empty() && !self.c.dead && !self.c.timers.is_armed(ConnTimer::Idle) {
            self.c
                .timers
                .set_after(ConnTimer::Idle, t.now(), self.sh.cfg.idle_timeout);
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
                self.traced_recv_window(t);
            }
            // A client whose every handle is gone closes once its streams end.
            if let Role::Client(cl) = &self.c.role
                && self.streams.is_empty()
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
            if (self.c.goaway_sent || self.c.goaway_recv.is_some()) && self.streams.is_empty() {
                self.flush(t);
                t.close();
                self.c.set_dead();
            }
        }
        self.flush(t);
        if t.writable() {
            self.c.timers.stop(ConnTimer::Stall);
            self.c.pending_control = 0;
        } else if !self.c.timers.is_armed(ConnTimer::Stall) {
            self.c
                .timers
                .set_after(ConnTimer::Stall, t.now(), self.sh.cfg.stall_timeout);
        }
        self.sync_deadlines();
    }

    /// Puts the deadlines of the streams touched since the last call
    /// (called, or their stall or body clock moved) in the queue.
    fn sync_deadlines(&mut self) {
        let cfg = &self.sh.cfg;
        let mut touched = std::mem::take(&mut self.sh.touched);
        for id in touched.drain(..) {
            let Some(c) = self.streams.get_mut(&id) else {
                continue;
            };
            c.st.touched = false;
            let d = earliest(
                earliest(
                    after_opt(c.st.send.stall_since, cfg.stall_timeout),
                    after_opt(c.st.recv.body_since, cfg.body_timeout),
                ),
                c.proto.next_deadline(),
            );
            self.deadlines.set(&mut c.st.deadline, id, d);
        }
        self.sh.touched = touched;
    }

    /// A traced connection writes its receive window (a WINDOW_UPDATE on
    /// stream 0 just went out).
    fn traced_recv_window(&self, t: &dyn StreamTransport) {
        if let Some(q) = &self.sh.qlog {
            let w = [("connection_recv_window", self.c.recv_window)];
            q.flow(t, 0, "window_update_sent", &w);
        }
    }

    fn flush(&mut self, t: &mut dyn StreamTransport) {
        if !self.sh.out.is_empty() {
            if let Some(q) = &mut self.sh.qlog {
                q.sent(t.now(), &self.sh.out, self.sh.send_window);
            }
            t.write(&self.sh.out);
            self.sh.out.clear();
        }
        if self.sh.out.capacity() > 256 << 10 {
            self.sh.out = Vec::new();
        }
    }

    fn goaway(&mut self, t: &mut dyn StreamTransport) {
        if self.c.goaway_sent || self.c.dead {
            return;
        }
        self.c.goaway_sent = true;
        frame::write_goaway(
            &mut self.sh.out,
            self.c.last_peer_stream.0,
            ErrorCode::NoError,
            b"",
        );
        self.c
            .timers
            .set_after(ConnTimer::Drain, t.now(), self.sh.cfg.drain_timeout);
    }
}

/// The most rounds one settle step runs.
///
/// A round hands the streams what they are owed (queued output, held input,
/// EOF, write-pause edges, removal); each of those calls a stream's
/// protocol, which may create more work (a write, `resume_reading`), and
/// the step goes on until a round changes nothing. With well-behaved
/// protocols that comes within a few rounds: input and EOF are finite, an
/// edge needs a change of writability, and every write spends window or
/// buffer. But a protocol is user code, and one that answers every
/// `resume_writing` with a write that the windows let out at once (a bulk
/// sender under very large windows and watermarks) would keep the step, and
/// the driver's thread, for as long as it likes. So the rounds are bounded:
/// at the bound the work left stays queued (the marked streams, held input,
/// the owed `resume_writing`), the connection wakes itself, and the next
/// turn of the driver carries on after other connections had theirs.
pub(crate) const SETTLE_ROUNDS: usize = 64;

/// A protocol that ignores everything (the refused request's slot).
struct Sink;
impl StreamProtocol for Sink {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// Whether the request body of `st` is being read now: the body has not
/// ended, its protocol takes input (not paused, nothing held back), our stream window to the peer is open, and it is not a
/// CONNECT tunnel (whose quiet periods are the application's).
fn reading_body(st: &StreamState) -> bool {
    st.finished.is_none()
        && !st.remote_done()
        && !st.recv.paused
        && st.recv.stash.is_empty()
        && st.recv.window > 0
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
fn body_too_slow(child: &mut Child, sh: &mut Shared, t: &dyn StreamTransport) {
    let why = Close::Timeout(Timeout::Body);
    let st = &mut child.st;
    st.recv.body_since = None;
    if st.final_head_sent {
        rst(sh, st.id, ErrorCode::Cancel, "request body too slow");
        drop_pending(st, sh);
        st.reset_sent(sh, t);
        st.finished.get_or_insert(why);
        return;
    }
    tracing::debug!(stream = st.id.0, "HTTP/2 request body too slow: 408");
    child.proto.connection_lost(&why);
    child.proto = crate::ProtocolSlot::new(Box::new(Sink));
    drop_pending(st, sh);
    let (mut p, ()) = http::Response::new(()).into_parts();
    p.status = http::StatusCode::REQUEST_TIMEOUT;
    st.heads.push(HeadOut::Response(p));
    st.final_head_sent = true;
    st.send.ending = true;
    st.send.close_requested = true;
    st.recv.stash.clear();
    if !st.dirty {
        st.dirty = true;
        sh.dirty.push(st.id);
    }
}

/// Why a stream leaves without a close of its own in the RFC 9113 §5.1
/// diagram (no END_STREAM both ways, no RST_STREAM), for its qlog event:
/// one of ours above the last stream id of the peer's GOAWAY was refused by
/// it; any other ends with the connection (a connection error, the peer's
/// EOF, the transport lost, a stalled transport, an erroring GOAWAY).
fn left_trigger(goaway: Option<StreamId>, server: bool, id: StreamId) -> &'static str {
    let ours = id.is_client_initiated() != server;
    if goaway.is_some_and(|last| ours && id > last) {
        "goaway"
    } else {
        "connection_closed"
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
        let streams_before = (self.c.last_peer_stream, self.c.next_local);
        self.sh.reading = true;
        self.input(t, data);
        self.sh.reading = false;
        self.settle(t);
        // A read that opened no stream, on a connection with none open: the
        // connection is idle (its SETTINGS ACK, a PING, a WINDOW_UPDATE), and
        // its frame and header buffers go. A busy connection opens streams
        // in most reads and keeps them (freeing them there cost 0.6 % of a
        // small request's instructions).
        if self.streams.is_empty() && streams_before == (self.c.last_peer_stream, self.c.next_local)
        {
            self.sh.out = Vec::new();
            self.sh.hbuf = Vec::new();
        }
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if !self.c.dead {
            for c in self.streams.values_mut() {
                if c.st.finished.is_none() && !(c.st.local() == Local::Done && c.st.remote_done()) {
                    c.st.finished = Some(Close::aborted("h2", AbortReason::PeerAborted));
                }
            }
            self.c.set_dead();
        }
        self.settle(t);
        t.close();
    }

    fn connection_lost(&mut self, why: &Close) {
        self.deadlines.clear();
        self.c.timers.stop_all();
        let (goaway, server) = (self.c.goaway_recv, self.is_server());
        for (id, mut c) in std::mem::take(&mut self.streams) {
            if let Some(q) = &self.sh.qlog {
                // Not told the time: that of the connection's last event.
                q.left(q.last_seen(), &c.st, left_trigger(goaway, server, id));
            }
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
        self.c.timers.stop(ConnTimer::Stall);
        for c in self.streams.values_mut() {
            if c.st.send.queued > 0 && !c.st.dirty {
                c.st.dirty = true;
                self.sh.dirty.push(c.st.id);
            }
        }
        self.settle(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        earliest(
            self.c.timers.next_deadline(),
            self.deadlines.next_deadline(),
        )
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let now = t.now();
        let cfg = self.sh.cfg.clone();
        if self.c.timers.take_due(ConnTimer::Preface, now) {
            tracing::debug!("HTTP/2 connection preface not received in time");
            self.c.set_dead();
            t.abort(Close::Timeout(Timeout::Preface));
            return;
        }
        if self.c.timers.take_due(ConnTimer::HeaderBlock, now) && self.c.block().is_some() {
            self.conn_error_as(
                t,
                ErrorCode::EnhanceYourCalm,
                "header block timeout",
                Close::Timeout(Timeout::Head),
            );
        }
        if self.c.timers.take_due(ConnTimer::Settings, now) {
            self.conn_error(t, ErrorCode::SettingsTimeout, "SETTINGS not acknowledged");
        }
        if self.c.timers.take_due(ConnTimer::Stall, now) && !t.writable() {
            // (Writable again: the transport drained meanwhile, no stall.)
            for c in self.streams.values_mut() {
                c.st.finished.get_or_insert(Close::Timeout(Timeout::Stall));
            }
            self.c.set_dead();
            t.abort(Close::Timeout(Timeout::Stall));
            return;
        }
        if self.c.timers.take_due(ConnTimer::Drain, now) {
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
                c.st.reset_sent(&self.sh, t);
            }
        }
        if self.c.timers.take_due(ConnTimer::Idle, now) && self.streams.is_empty() && !self.c.dead {
            self.goaway(t);
        }
        // The streams whose deadline came, in deadline order; each is
        // visited once, and settle puts its next deadline back.
        while let Some(id) = self.deadlines.pop_due(now) {
            let Some(child) = self.streams.get_mut(&id) else {
                continue;
            };
            child.st.deadline = None;
            child.st.touch(&mut self.sh.touched);
            if expired(child.st.recv.body_since, cfg.body_timeout, now) {
                if child.st.recv.body_bytes >= body_quota(&cfg) {
                    child.st.recv.body_since = Some(now);
                    child.st.recv.body_bytes = 0;
                } else {
                    body_too_slow(child, &mut self.sh, t);
                    continue;
                }
            }
            if expired(child.st.send.stall_since, cfg.stall_timeout, now) {
                rst(
                    &mut self.sh,
                    id,
                    ErrorCode::Cancel,
                    "stall_timeout passed on the stream's window",
                );
                drop_pending(&mut child.st, &mut self.sh);
                child.st.reset_sent(&self.sh, t);
                child
                    .st
                    .finished
                    .get_or_insert(Close::Timeout(Timeout::Stall));
                continue;
            }
            if child.proto.next_deadline().is_some_and(|d| d <= now) {
                let mut v = View::new(&mut child.st, &mut self.sh, t);
                child.proto.on_deadline(&mut v);
            }
        }
        self.settle(t);
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, mut route: WakeRoute<'_>) {
        match route.next_hop() {
            None => self.open_client_streams(t),
            Some(id) => {
                let Ok(id) = u32::try_from(id).map(StreamId) else {
                    return;
                };
                if let Some(child) = self.streams.get_mut(&id) {
                    let mut v = View::new(&mut child.st, &mut self.sh, t);
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
#[cfg(test)]
mod idle_size {
    /// What an idle connection holds is a headline figure (BENCHMARKS.md,
    /// "idle"): the HPACK state and the header block in progress are boxed
    /// and made at the first HEADERS, so the connection itself fits
    /// mimalloc's 512-byte size class (it was 1,144 bytes).
    #[test]
    fn an_idle_connection_fits_512_bytes() {
        let size = std::mem::size_of::<super::H2Connection>();
        assert!(size <= 512, "H2Connection grew to {size} bytes");
    }
}
