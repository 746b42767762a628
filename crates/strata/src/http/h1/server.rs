//! [`H1Server`]: the server side of an HTTP/1.1 connection.

use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::HeaderMap;

use super::body::{BodyReader, Event, Limits};
use super::server_view::{ExState, ExchangeView, Expect, Framing, Resp};
use super::wire::{
    encode_response_head, find_head_end, leading_empty_lines, parse_request, RequestInfo,
};
use super::{H1Config, H1Error, H1};
use crate::deadline::{after, earliest};
use crate::http::{HttpVersion, RequestHead, SharedService, Trailers};
use crate::timer::{TimerName, TimerTable};
use crate::{AbortReason, Close, StreamProtocol, StreamTransport, Timeout, WakeRoute};

/// An HTTP/1.1 server connection: a stream protocol over the connection's
/// transport that asks a [`Service`](crate::http::Service) for a request
/// protocol per request and is that protocol's transport.
///
/// See the [module documentation](super) for the driving contract.
///
/// ```
/// use std::sync::Arc;
/// use strata::http::h1::{H1Config, H1Server};
/// use strata::http::{HttpExchange, SharedService};
/// use strata::{Stack, StreamProtocol, StreamTransport};
///
/// struct Hello;
/// impl StreamProtocol for Hello {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
///         let head = http::Response::builder().header("content-length", "2").body(()).unwrap();
///         t.send_response(head).unwrap();
///         t.write(b"hi");
///         t.close();
///     }
/// }
/// let service: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Hello) as Box<dyn StreamProtocol>);
/// let mut s = Stack::memory(Box::new(H1Server::new(service, Arc::new(H1Config::default()))));
/// let now = s.now();
/// s.handle_input(now, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
/// assert_eq!(s.take_output(now), b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
/// ```
pub struct H1Server {
    core: Core,
    /// Input not consumed yet: part of a head or of a chunk-size line, body
    /// bytes the request protocol paused on, pipelined requests.
    buf: Vec<u8>,
}

struct Core {
    service: SharedService,
    cfg: Arc<H1Config>,
    lim: Limits,
    conn: Conn,
    /// Boxed: an idle connection carries no request head.
    ex: Option<Box<Exchange>>,
}

/// The exchange being served: its request protocol and the state its view
/// works on, in separate fields so both can be borrowed at once.
struct Exchange {
    proto: Box<dyn StreamProtocol>,
    st: ExState,
}

struct Conn {
    read: Read,
    /// Exchanges started so far (the current one's number).
    seq: u64,
    /// The peer sent EOF.
    peer_eof: bool,
    /// `connection_lost` arrived: nothing more is done.
    lost: bool,
    /// `on_shutdown` arrived: no new requests.
    shutdown: bool,
    /// This layer paused reading below.
    below_read_paused: bool,
    /// The stack below delivered `pause_writing` (and no resume yet).
    below_write_paused: bool,
    /// The connection's timers.
    timers: TimerTable<Timer, 6>,
    /// While a request body is being read: the bytes that arrived in the
    /// current period of the body clock (`Timer::Body`).
    body_got: Option<u64>,
    /// How far the current partial head was scanned for its end.
    head_scan: usize,
    /// Body bytes of the current request so far (for `max_body`).
    body_seen: u64,
}

/// What the input is, at the front of what is unconsumed.
#[derive(Debug)]
enum Read {
    /// A request head (no exchange is running).
    Head,
    /// The body of the current exchange's request.
    Body(BodyReader),
    /// The current request is all in; what follows waits for its exchange
    /// to end (pipelining).
    Held,
    /// The rest of a body whose exchange ended, read and thrown away: up
    /// to the budget left, else the connection closes.
    Discard(BodyReader, u64),
    /// Raw bytes for the exchange's protocol (after `101`, or a 2xx to
    /// CONNECT).
    Tunnel,
    /// Nothing more is read: the connection is closing.
    Closed,
}

/// The connection's timers. At most one of `First`, `Head` and `KeepAlive`
/// (the wait for a request) runs at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// The first request of the connection, not one byte of it yet: it
    /// must arrive within the head timeout of the connection's start.
    First,
    /// A request head started arriving and must end in time.
    Head,
    /// Idle between requests.
    KeepAlive,
    /// The end of a period of a request body being read: by then, at least
    /// `H1Config::min_body_bytes` must have arrived since it began.
    Body,
    /// The stack below became full and stayed so (`stall_timeout`).
    Stall,
    /// The drain after `on_shutdown` gives up (`drain_timeout`).
    Drain,
}

impl TimerName for Timer {
    const ALL: &'static [Timer] = &[
        Timer::First,
        Timer::Head,
        Timer::KeepAlive,
        Timer::Body,
        Timer::Stall,
        Timer::Drain,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

/// The timers that wait for a request.
const WAITS: [Timer; 3] = [Timer::First, Timer::Head, Timer::KeepAlive];

impl Conn {
    /// The running wait for a request, if any.
    fn wait(&self) -> Option<(Instant, Timer)> {
        WAITS
            .into_iter()
            .find_map(|w| self.timers.get(w).map(|at| (at, w)))
    }

    fn set_wait(&mut self, wait: Option<(Instant, Timer)>) {
        for w in WAITS {
            self.timers.stop(w);
        }
        if let Some((at, w)) = wait {
            self.timers.set(w, at);
        }
    }

    /// The body clock stops.
    fn stop_body_clock(&mut self) {
        self.body_got = None;
        self.timers.stop(Timer::Body);
    }
}

/// What one step of the input loop did.
enum Flow {
    /// Consumed this many bytes (maybe none) and changed state: go on.
    Advance(usize),
    /// Nothing more can be done now.
    Stop,
}

impl H1Server {
    /// A server connection that asks `service` for a protocol per request.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::http::h1::{H1Config, H1Server};
    /// use strata::http::SharedService;
    /// use strata::{StreamProtocol, StreamTransport};
    /// struct Ignore;
    /// impl StreamProtocol for Ignore {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let service: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Ignore) as Box<dyn StreamProtocol>);
    /// let cfg = Arc::new(H1Config { max_headers: 50, ..H1Config::default() });
    /// let server = H1Server::new(service, cfg);
    /// assert_eq!(server.config().max_headers, 50);
    /// assert_eq!(server.pending_input(), 0);
    /// ```
    pub fn new(service: SharedService, cfg: Arc<H1Config>) -> H1Server {
        let lim = Limits {
            max_chunk_line: cfg.max_chunk_line,
            max_trailer_bytes: cfg.max_trailer_bytes,
            max_headers: cfg.max_headers,
        };
        H1Server {
            core: Core {
                service,
                cfg,
                lim,
                conn: Conn {
                    read: Read::Head,
                    seq: 0,
                    peer_eof: false,
                    lost: false,
                    shutdown: false,
                    below_read_paused: false,
                    below_write_paused: false,
                    timers: TimerTable::new(),
                    body_got: None,
                    head_scan: 0,
                    body_seen: 0,
                },
                ex: None,
            },
            buf: Vec::new(),
        }
    }

    /// The configuration in force.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::http::h1::{H1Config, H1Server};
    /// # use strata::http::SharedService;
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi"); t.close() }
    /// # }
    /// # let service: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Hi) as Box<dyn StreamProtocol>);
    /// let cfg = H1Config { max_headers: 20, ..H1Config::default() };
    /// let server = H1Server::new(service, Arc::new(cfg));
    /// assert_eq!(server.config().max_headers, 20);
    /// ```
    pub fn config(&self) -> &H1Config {
        &self.core.cfg
    }

    /// Input held and not yet consumed (bounded by the configuration).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use strata::http::h1::{H1Config, H1Server};
    /// # use strata::http::SharedService;
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Hi;
    /// # impl StreamProtocol for Hi {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi"); t.close() }
    /// # }
    /// # let service: SharedService = Arc::new(|_: &http::request::Parts| Box::new(Hi) as Box<dyn StreamProtocol>);
    /// let mut s = Stack::memory(Box::new(H1Server::new(service, Arc::default())));
    /// let now = s.now();
    /// s.handle_input(now, b"GET / HTTP/1.1\r\nHost: a"); // a head cut short: held
    /// assert_eq!(s.protocol::<H1Server>().unwrap().pending_input(), 23);
    /// s.handle_input(now, b"\r\n\r\n");
    /// assert_eq!(s.protocol::<H1Server>().unwrap().pending_input(), 0);
    /// ```
    pub fn pending_input(&self) -> usize {
        self.buf.len()
    }

    /// This layer's settle step, after every input and every call into a
    /// request protocol: consume what the state allows, then fix the read
    /// pause below and the timers.
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        if self.core.conn.lost {
            return;
        }
        let used = self.core.process(t, &self.buf);
        self.buf.drain(..used.min(self.buf.len()));
        if self.buf.is_empty() {
            // An idle connection holds no input buffer.
            self.buf = Vec::new();
        }
        self.core.after(t, self.buf.len());
    }
}

impl Core {
    /// Consumes `src` as far as the state allows; returns how much.
    fn process(&mut self, t: &mut dyn StreamTransport, src: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            if matches!(self.conn.read, Read::Closed) {
                return src.len();
            }
            if let Some(ex) = self.ex.as_mut() {
                if ex.st.aborted {
                    // The request protocol aborted the connection below.
                    self.conn.read = Read::Closed;
                    continue;
                }
                if ex.st.resp == Resp::Tunnel && !matches!(self.conn.read, Read::Tunnel) {
                    self.conn.read = Read::Tunnel;
                    ex.st.eof_delivered = false;
                    continue;
                }
                if finished(&ex.st) {
                    self.finish_exchange(t);
                    continue;
                }
            }
            match self.step(t, &src[pos..]) {
                Flow::Advance(n) => pos += n,
                Flow::Stop => return pos,
            }
        }
    }

    fn step(&mut self, t: &mut dyn StreamTransport, rest: &[u8]) -> Flow {
        let exchange_states = matches!(self.conn.read, Read::Body(_) | Read::Held | Read::Tunnel);
        if exchange_states && self.ex.is_none() {
            // Those states live only as long as their exchange.
            return self.close(t);
        }
        match &mut self.conn.read {
            Read::Closed => Flow::Advance(rest.len()),
            Read::Head => self.head(t, rest),
            Read::Body(r) => {
                let Some(ex) = self.ex.as_mut() else {
                    return Flow::Stop;
                };
                if ex.st.read_paused {
                    return Flow::Stop;
                }
                // The protocol wants the body: a client holding it back
                // for `100 Continue` gets it now.
                ex.st.send_continue(t);
                let ev = r.step(rest, &self.lim);
                self.body_event(t, rest, ev)
            }
            Read::Held => {
                let Some(ex) = self.ex.as_mut() else {
                    return Flow::Stop;
                };
                if ex.st.eof_delivered || ex.st.read_paused {
                    return Flow::Stop;
                }
                ex.st.eof_delivered = true;
                self.call(t, |p, v| p.eof_received(v));
                Flow::Advance(0)
            }
            Read::Tunnel => {
                let Some(ex) = self.ex.as_mut() else {
                    return Flow::Stop;
                };
                if ex.st.read_paused {
                    return Flow::Stop;
                }
                if !rest.is_empty() {
                    self.call(t, |p, v| p.data_received(v, rest));
                    return Flow::Advance(rest.len());
                }
                if self.conn.peer_eof && !ex.st.eof_delivered {
                    ex.st.eof_delivered = true;
                    self.call(t, |p, v| p.eof_received(v));
                    return Flow::Advance(0);
                }
                Flow::Stop
            }
            Read::Discard(r, budget) => match r.step(rest, &self.lim) {
                Ok(Event::Skip(n)) => {
                    self.conn.progress(n);
                    Flow::Advance(n)
                }
                Ok(Event::Data(n)) if n as u64 <= *budget => {
                    *budget -= n as u64;
                    self.conn.progress(n);
                    Flow::Advance(n)
                }
                Ok(Event::End(n, _)) => {
                    self.conn.read = Read::Head;
                    Flow::Advance(n)
                }
                Ok(Event::Need) if !self.conn.peer_eof => Flow::Stop,
                Ok(Event::Data(_) | Event::Need) => self.close(t),
                Err(e) => {
                    tracing::debug!(error = %e, "http1: bad framing in a discarded body; closing");
                    self.close(t)
                }
            },
        }
    }

    /// The `Head` state: skip empty lines, then parse a head once it is
    /// complete and the output has room for its response.
    fn head(&mut self, t: &mut dyn StreamTransport, rest: &[u8]) -> Flow {
        let skip = leading_empty_lines(rest);
        if skip > 0 {
            self.conn.head_scan = 0;
            return Flow::Advance(skip);
        }
        if self.conn.shutdown {
            return self.close(t);
        }
        if rest.is_empty() || rest == b"\r" {
            if self.conn.peer_eof {
                return self.close(t);
            }
            return Flow::Stop;
        }
        if !is_tchar(rest[0]) {
            // No method starts so (a TLS ClientHello, a stray byte): there
            // is no point in waiting for the rest of a head.
            self.fail(t, H1Error::MalformedHead("invalid token"));
            return Flow::Stop;
        }
        if !self.ready(t) {
            return Flow::Stop;
        }
        let max = self.cfg.max_head_bytes;
        match find_head_end(rest, &mut self.conn.head_scan) {
            None => {
                if rest.len() > max {
                    self.fail(t, H1Error::HeadTooLarge { limit: max });
                } else if self.conn.peer_eof {
                    self.fail(t, H1Error::TruncatedHead);
                }
                Flow::Stop
            }
            Some(end) => {
                self.conn.head_scan = 0;
                if end > max {
                    self.fail(t, H1Error::HeadTooLarge { limit: max });
                    return Flow::Stop;
                }
                match parse_request(&rest[..end], self.cfg.max_headers) {
                    Ok(info) => {
                        self.start_exchange(t, info);
                        Flow::Advance(end)
                    }
                    Err(e) => {
                        self.fail(t, e);
                        Flow::Stop
                    }
                }
            }
        }
    }

    fn body_event(
        &mut self,
        t: &mut dyn StreamTransport,
        rest: &[u8],
        ev: Result<Event, H1Error>,
    ) -> Flow {
        match ev {
            Err(e) => {
                self.fail(t, e);
                Flow::Stop
            }
            Ok(Event::Need) => {
                if self.conn.peer_eof {
                    self.fail(t, H1Error::TruncatedBody);
                }
                Flow::Stop
            }
            Ok(Event::Skip(n)) => {
                self.conn.progress(n);
                Flow::Advance(n)
            }
            Ok(Event::Data(n)) => {
                self.conn.progress(n);
                self.conn.body_seen = self.conn.body_seen.saturating_add(n as u64);
                if let Some(limit) = self.cfg.max_body.filter(|&m| self.conn.body_seen > m) {
                    self.fail(t, H1Error::BodyTooLarge { limit });
                    return Flow::Stop;
                }
                let data = &rest[..n];
                self.call(t, |p, v| p.data_received(v, data));
                Flow::Advance(n)
            }
            Ok(Event::End(n, trailers)) => {
                if let Some(ex) = self.ex.as_mut() {
                    ex.st.trailers = trailers.map(Trailers);
                    ex.st.body_done = true;
                }
                self.conn.read = Read::Held;
                Flow::Advance(n)
            }
        }
    }

    /// Whether a new exchange may start: the output below has room.
    fn ready(&self, t: &dyn StreamTransport) -> bool {
        !self.conn.below_write_paused && t.writable()
    }

    fn start_exchange(&mut self, t: &mut dyn StreamTransport, info: RequestInfo) {
        let RequestInfo {
            parts,
            body,
            keep_alive,
            expect_continue,
            upgrade,
        } = info;
        if let (Some(limit), BodyReader::Length(n)) = (self.cfg.max_body, &body)
            && *n > limit
        {
            self.fail(t, H1Error::BodyTooLarge { limit });
            return;
        }
        self.conn.seq += 1;
        self.conn.body_seen = 0;
        self.conn.set_wait(None);
        tracing::trace!(method = %parts.method, uri = %parts.uri, "http1: request");
        let proto = self.service.call(&parts);
        let body_done = matches!(body, BodyReader::Length(0));
        self.conn.read = if body_done {
            Read::Held
        } else {
            Read::Body(body)
        };
        let expect = if expect_continue && !body_done {
            Expect::Pending
        } else {
            Expect::No
        };
        let st = ExState {
            seq: self.conn.seq,
            is_head: parts.method == http::Method::HEAD,
            is_connect: parts.method == http::Method::CONNECT,
            version: HttpVersion(parts.version),
            head: RequestHead(parts),
            trailers: None,
            upgrade,
            keep_alive: keep_alive && !self.conn.shutdown,
            expect,
            resp: Resp::Waiting,
            read_paused: false,
            body_done,
            eof_delivered: false,
            aborted: false,
        };
        self.ex = Some(Box::new(Exchange { proto, st }));
        self.call(t, |p, v| p.connection_made(v));
    }

    /// The exchange is over: its protocol gets `connection_lost(Done)` and
    /// the connection reads the next request, discards the rest of this
    /// body, or closes.
    fn finish_exchange(&mut self, t: &mut dyn StreamTransport) {
        let Some(ex) = self.ex.take() else {
            return;
        };
        let keep = ex.st.keep_alive && !self.conn.shutdown;
        // Idle from now: the keep-alive timer starts afresh.
        self.conn.set_wait(None);
        let max_discard = self.cfg.max_discard_bytes;
        self.conn.read = match std::mem::replace(&mut self.conn.read, Read::Closed) {
            Read::Held if keep => Read::Head,
            Read::Body(BodyReader::Length(n)) if keep && n > max_discard => Read::Closed,
            Read::Body(r) if keep => Read::Discard(r, max_discard),
            _ => Read::Closed,
        };
        let mut proto = ex.proto;
        proto.connection_lost(&Close::Done);
        if matches!(self.conn.read, Read::Closed) {
            t.close();
        }
    }

    /// Closes the connection quietly (no new requests, or idle too long).
    fn close(&mut self, t: &mut dyn StreamTransport) -> Flow {
        self.conn.read = Read::Closed;
        if let Some(mut ex) = self.ex.take() {
            ex.proto.connection_lost(&Close::Done);
        }
        t.close();
        Flow::Stop
    }

    /// Refuses the peer's input: an error response if no response head went
    /// out yet, then close; the exchange's protocol gets the typed error.
    fn fail(&mut self, t: &mut dyn StreamTransport, err: H1Error) {
        tracing::debug!(error = %err, status = %err.status(), "http1: refusing the peer's input");
        let timeout = matches!(err, H1Error::BodyTimeout { .. });
        let why = if timeout {
            Close::Timeout(Timeout::Body)
        } else {
            Close::aborted(H1, AbortReason::layer(err.clone()))
        };
        self.conn.read = Read::Closed;
        self.conn.stop_body_clock();
        let resp = self.ex.as_ref().map_or(Resp::Waiting, |ex| ex.st.resp);
        match resp {
            Resp::Waiting => {
                let mut h = HeaderMap::new();
                h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
                t.write(&encode_response_head(err.status(), &h));
                t.close();
            }
            // The response is complete: the peer has all it needs.
            Resp::Ended { .. } => t.close(),
            // Bad framing from the peer while a body goes out whose cut the
            // peer can see (no last chunk, bytes short of the length): a
            // clean close, so the response sent so far is not lost to a
            // reset.
            Resp::Body(Framing::Chunked) if !timeout => t.close(),
            Resp::Body(Framing::Length(rem)) if rem > 0 && !timeout => t.close(),
            // A response is under way: the peer must see it cut.
            Resp::Body(_) | Resp::Tunnel => t.abort(why.clone()),
        }
        if let Some(mut ex) = self.ex.take() {
            ex.proto.connection_lost(&why);
        }
    }

    /// A connection-wide deadline ran out: abort, and the exchange's
    /// protocol (if any) gets the same typed reason.
    fn give_up(&mut self, t: &mut dyn StreamTransport, which: Timeout) {
        let why = Close::Timeout(which);
        let c = &mut self.conn;
        c.timers.stop_all();
        c.body_got = None;
        c.read = Read::Closed;
        t.abort(why.clone());
        if let Some(mut ex) = self.ex.take() {
            ex.proto.connection_lost(&why);
        }
    }

    /// Calls the current request protocol with its view.
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut dyn StreamProtocol, &mut dyn StreamTransport),
    ) {
        if let Some(ex) = self.ex.as_mut()
            && !ex.st.aborted
        {
            f(&mut *ex.proto, &mut ExchangeView::new(t, &mut ex.st));
        }
    }

    /// After the input loop: pause reading below while input cannot be
    /// consumed (the protocol paused, or pipelined input past its bound),
    /// and set the head or keep-alive timer while waiting for a request.
    fn after(&mut self, t: &mut dyn StreamTransport, held: usize) {
        let paused = self.ex.as_ref().is_some_and(|e| e.st.read_paused);
        let ready = self.ready(t);
        let over = held > self.cfg.max_pipelined_bytes;
        let want = match self.conn.read {
            Read::Body(_) | Read::Tunnel => paused,
            Read::Held => over,
            Read::Head => !ready && over,
            // Closing: input is read and dropped, so a peer still sending
            // gets the response rather than a reset for unread data.
            Read::Discard(..) | Read::Closed => false,
        };
        if want != self.conn.below_read_paused {
            self.conn.below_read_paused = want;
            if want {
                t.pause_reading();
            } else {
                t.resume_reading();
            }
        }
        let now = t.now();
        let waiting = self.ex.is_none() && ready && matches!(self.conn.read, Read::Head);
        let first = self.conn.seq == 0;
        let wait = match (waiting, held, self.conn.wait()) {
            (false, _, _) => None,
            (true, 0, Some((at, w @ (Timer::KeepAlive | Timer::First)))) => Some((at, w)),
            (true, 0, _) if first => Some((after(now, self.cfg.head_timeout), Timer::First)),
            (true, 0, _) => Some((after(now, self.cfg.keep_alive_timeout), Timer::KeepAlive)),
            // The first head is due by the first request's deadline.
            (true, _, Some((at, Timer::Head | Timer::First))) => Some((at, Timer::Head)),
            (true, _, _) => Some((after(now, self.cfg.head_timeout), Timer::Head)),
        };
        self.conn.set_wait(wait);
        // The body clock runs while a body is being read: not while the
        // handler paused it, nor once it ended.
        let reading = match self.conn.read {
            Read::Body(_) => self.ex.as_ref().is_some_and(|e| !e.st.read_paused),
            Read::Discard(..) => true,
            _ => false,
        };
        if !reading || self.cfg.body_timeout.is_zero() {
            self.conn.stop_body_clock();
        } else if self.conn.body_got.is_none() {
            self.conn.body_got = Some(0);
            self.conn
                .timers
                .set_after(Timer::Body, now, self.cfg.body_timeout);
        }
    }

    /// The body clock's period ended at `now`: a new period if enough
    /// arrived, else the body is too slow.
    fn body_period(&mut self, t: &mut dyn StreamTransport, now: Instant) {
        let Some(got) = self.conn.body_got else {
            return;
        };
        if !self.conn.timers.is_due(Timer::Body, now) {
            return;
        }
        let need = self.cfg.min_body_bytes();
        if got >= need {
            self.conn.body_got = Some(0);
            self.conn
                .timers
                .set_after(Timer::Body, now, self.cfg.body_timeout);
            return;
        }
        self.conn.stop_body_clock();
        if matches!(self.conn.read, Read::Discard(..)) {
            tracing::debug!("http1: a discarded request body stalled; closing");
            self.close(t);
            return;
        }
        self.fail(
            t,
            H1Error::BodyTimeout {
                min_bytes: need,
                period: self.cfg.body_timeout,
            },
        );
    }
}

impl Conn {
    /// `n` bytes of a request body (framing included) were read.
    fn progress(&mut self, n: usize) {
        if let Some(got) = self.body_got.as_mut() {
            *got = got.saturating_add(n as u64);
        }
    }
}

/// Whether `b` may be part of a token (RFC 9110 §5.6.2), so start a method.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether an exchange is over: its response ended by `close`, or ended
/// otherwise and the request body's end was delivered.
fn finished(st: &ExState) -> bool {
    match st.resp {
        Resp::Ended { close: true } => true,
        Resp::Ended { close: false } => st.eof_delivered,
        _ => false,
    }
}

impl StreamProtocol for H1Server {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.settle(t);
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.core.conn.lost {
            return;
        }
        if self.buf.is_empty() {
            // Fast path: consume straight from the caller's chunk and keep
            // only what is left.
            let used = self.core.process(t, data);
            if !matches!(self.core.conn.read, Read::Closed) {
                self.buf.extend_from_slice(&data[used.min(data.len())..]);
            }
        } else {
            self.buf.extend_from_slice(data);
            let used = self.core.process(t, &self.buf);
            self.buf.drain(..used.min(self.buf.len()));
        }
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
        self.core.after(t, self.buf.len());
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.core.conn.peer_eof = true;
        self.settle(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        let c = &mut self.core.conn;
        c.lost = true;
        c.read = Read::Closed;
        c.timers.stop_all();
        c.body_got = None;
        self.buf = Vec::new();
        if let Some(mut ex) = self.core.ex.take() {
            ex.proto.connection_lost(why);
        }
    }

    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.core.conn.below_write_paused = true;
        if !self.core.cfg.stall_timeout.is_zero() {
            let d = self.core.cfg.stall_timeout;
            self.core.conn.timers.set_after(Timer::Stall, t.now(), d);
        }
        self.core.call(t, |p, v| p.pause_writing(v));
        self.settle(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.core.conn.below_write_paused = false;
        self.core.conn.timers.stop(Timer::Stall);
        self.core.call(t, |p, v| p.resume_writing(v));
        self.settle(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.core.conn.lost {
            return None;
        }
        let inner = self.core.ex.as_ref().and_then(|e| e.proto.next_deadline());
        earliest(self.core.conn.timers.next_deadline(), inner)
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.core.conn.lost {
            return;
        }
        let now = t.now();
        let c = &self.core.conn;
        if c.timers.is_due(Timer::Stall, now) {
            // The peer read none of our output for the whole period.
            tracing::debug!("http1: the peer stopped reading; aborting");
            self.core.give_up(t, Timeout::Stall);
            return;
        }
        if c.timers.is_due(Timer::Drain, now) {
            tracing::debug!("http1: the exchange outlived the drain; aborting");
            self.core.give_up(t, Timeout::Drain);
            return;
        }
        if let Some((at, which)) = self.core.conn.wait()
            && at <= now
        {
            self.core.conn.set_wait(None);
            match which {
                Timer::Head => self.core.fail(t, H1Error::HeadTimeout),
                Timer::First => {
                    tracing::debug!("http1: no request on a new connection in time");
                    self.core.close(t);
                }
                Timer::KeepAlive => {
                    tracing::trace!("http1: idle connection closed");
                    self.core.close(t);
                }
                Timer::Body | Timer::Stall | Timer::Drain => {}
            }
        }
        self.core.body_period(t, now);
        let due = self
            .core
            .ex
            .as_ref()
            .and_then(|e| e.proto.next_deadline())
            .is_some_and(|d| d <= now);
        if due {
            self.core.call(t, |p, v| p.on_deadline(v));
        }
        self.settle(t);
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        let mut route = route;
        let hop = route.next_hop();
        // A wake from an exchange that has ended is dropped: it must not
        // reach the protocol of a later request.
        if hop.is_some() && self.core.ex.as_ref().map(|e| e.st.seq) == hop {
            self.core.call(t, |p, v| p.on_wake(v, route));
        }
        self.settle(t);
    }

    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.core.conn.shutdown = true;
        let drain = self.core.cfg.drain_timeout;
        if !self.core.conn.timers.is_armed(Timer::Drain) && !drain.is_zero() {
            self.core
                .conn
                .timers
                .set_after(Timer::Drain, t.now(), drain);
        }
        let tunnel = match self.core.ex.as_mut() {
            Some(ex) => {
                ex.st.keep_alive = false;
                ex.st.resp == Resp::Tunnel
            }
            None => false,
        };
        if tunnel {
            // A tunnel's protocol decides how to drain; an HTTP exchange
            // just finishes its response and the connection closes after.
            self.core.call(t, |p, v| p.on_shutdown(v));
        }
        self.settle(t);
    }

    fn buffered(&self) -> usize {
        self.core.ex.as_ref().map_or(0, |e| e.proto.buffered())
    }
}

impl std::fmt::Debug for H1Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Server")
            .field("read", &self.core.conn.read)
            .field("exchanges", &self.core.conn.seq)
            .field("pending_input", &self.buf.len())
            .field("shutdown", &self.core.conn.shutdown)
            .finish_non_exhaustive()
    }
}
