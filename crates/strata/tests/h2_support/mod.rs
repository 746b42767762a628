//! A raw HTTP/2 peer for tests: writes frames by hand, reads the server's
//! output back as events.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::http::h2::frame::{self, ErrorCode, Frame};
use strata::http::h2::{H2Config, H2Connection, StreamId};
use strata::http::hpack::{Decoder, Encoder};
use strata::http::SharedService;
use strata::{Close, Stack, StackConfig, StreamProtocol, StreamTransport, WakeRoute};

pub mod qlog;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Settings {
        ack: bool,
        values: Vec<(u16, u32)>,
    },
    Headers {
        stream: u32,
        end: bool,
        fields: Vec<(String, String)>,
    },
    Data {
        stream: u32,
        end: bool,
        data: Vec<u8>,
    },
    Rst {
        stream: u32,
        code: ErrorCode,
    },
    GoAway {
        last: u32,
        code: ErrorCode,
    },
    WindowUpdate {
        stream: u32,
        inc: u32,
    },
    Ping {
        ack: bool,
        data: [u8; 8],
    },
}

pub struct Raw {
    pub stack: Stack,
    /// The connection inside the stack, for `buffered()` and `open_streams()`.
    pub conn: Arc<Mutex<H2Connection>>,
    pub enc: Encoder,
    pub dec: Decoder,
    pub inbuf: Vec<u8>,
    pub now: Instant,
    /// While `Some`, `send` collects bytes here instead of handing them to
    /// the stack (see [`Raw::batch`]).
    pub batched: Option<Vec<u8>>,
}

/// Owns the connection for the stack and lets the test look at it between
/// callbacks. Forwards every method.
pub struct Probe(pub Arc<Mutex<H2Connection>>);

impl Probe {
    fn c(&self) -> std::sync::MutexGuard<'_, H2Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StreamProtocol for Probe {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.c().connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.c().data_received(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.c().eof_received(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.c().connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.c().pause_writing(t)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.c().resume_writing(t)
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.c().next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.c().on_deadline(t)
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.c().on_wake(t, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.c().on_shutdown(t)
    }
    fn buffered(&self) -> usize {
        self.c().buffered()
    }
}

impl Raw {
    pub fn server(service: SharedService, cfg: H2Config) -> Raw {
        Raw::with_stack(service, cfg, StackConfig::default())
    }

    pub fn with_stack(service: SharedService, cfg: H2Config, scfg: StackConfig) -> Raw {
        Raw::build(service, cfg, scfg, None)
    }

    /// A server whose connection writes its qlog events into `trace`.
    pub fn traced(service: SharedService, cfg: H2Config, trace: strata::qlog::QlogTrace) -> Raw {
        Raw::build(service, cfg, StackConfig::default(), Some(trace))
    }

    fn build(
        service: SharedService,
        cfg: H2Config,
        scfg: StackConfig,
        trace: Option<strata::qlog::QlogTrace>,
    ) -> Raw {
        let conn = Arc::new(Mutex::new(H2Connection::server(Arc::new(cfg), service)));
        let now = strata::testing::epoch();
        let mut stack = Stack::new(
            Box::new(Probe(conn.clone())),
            strata::BottomInfo::new("memory"),
            Arc::new(scfg),
            now,
        );
        if let Some(q) = trace {
            stack.set_qlog(q);
        }
        stack.start(now);
        Raw {
            stack,
            conn,
            enc: Encoder::new(),
            dec: Decoder::new(4096),
            inbuf: Vec::new(),
            now,
            batched: None,
        }
    }

    pub fn send(&mut self, b: &[u8]) {
        match &mut self.batched {
            Some(buf) => buf.extend_from_slice(b),
            None => self.stack.handle_input(self.now, b),
        }
    }

    /// Runs `f` with every frame it sends collected, then hands them to the
    /// server in one read (`together`), or frame by frame as `f` sent them.
    pub fn batch(&mut self, together: bool, f: impl FnOnce(&mut Raw)) {
        if !together {
            return f(self);
        }
        self.batched = Some(Vec::new());
        f(self);
        let b = self.batched.take().unwrap_or_default();
        self.send(&b);
    }

    /// Preface and our SETTINGS, then the server's SETTINGS are acked.
    pub fn handshake(&mut self, settings: &[(u16, u32)]) -> Vec<Ev> {
        let mut b = frame::PREFACE.to_vec();
        frame::write_settings(&mut b, settings);
        frame::write_settings_ack(&mut b);
        self.send(&b);
        self.read()
    }

    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        self.enc.encode(
            fields
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes(), false)),
            &mut out,
        );
        out
    }

    pub fn headers(&mut self, stream: u32, fields: &[(&str, &str)], end: bool) {
        let block = self.block(fields);
        let mut b = Vec::new();
        frame::write_headers(&mut b, stream, &block, end, 16_384);
        self.send(&b);
    }

    pub fn get(&mut self, stream: u32, path: &str) {
        self.headers(
            stream,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "x"),
                (":path", path),
            ],
            true,
        );
    }

    pub fn post(&mut self, stream: u32, path: &str) {
        self.headers(
            stream,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "x"),
                (":path", path),
            ],
            false,
        );
    }

    pub fn data(&mut self, stream: u32, data: &[u8], end: bool) {
        let mut b = Vec::new();
        frame::write_data(&mut b, stream, data, end);
        self.send(&b);
    }

    pub fn window_update(&mut self, stream: u32, inc: u32) {
        let mut b = Vec::new();
        frame::write_window_update(&mut b, stream, inc);
        self.send(&b);
    }

    pub fn rst(&mut self, stream: u32, code: ErrorCode) {
        let mut b = Vec::new();
        frame::write_rst_stream(&mut b, stream, code);
        self.send(&b);
    }

    /// One frame header and its payload, as given (for malformed frames).
    pub fn raw_frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut b = Vec::new();
        frame::write_header(&mut b, payload.len() as u32, kind, flags, stream);
        b.extend_from_slice(payload);
        self.send(&b);
    }

    /// A HEADERS frame carrying `block` as is (no split), END_HEADERS as asked.
    pub fn headers_frame(
        &mut self,
        stream: u32,
        block: &[u8],
        end_stream: bool,
        end_headers: bool,
    ) {
        let mut flags = 0;
        if end_stream {
            flags |= frame::flag::END_STREAM;
        }
        if end_headers {
            flags |= frame::flag::END_HEADERS;
        }
        self.raw_frame(frame::kind::HEADERS, flags, stream, block);
    }

    /// A CONTINUATION frame.
    pub fn continuation(&mut self, stream: u32, block: &[u8], end_headers: bool) {
        let flags = if end_headers {
            frame::flag::END_HEADERS
        } else {
            0
        };
        self.raw_frame(frame::kind::CONTINUATION, flags, stream, block);
    }

    pub fn ping(&mut self, data: [u8; 8]) {
        let mut b = Vec::new();
        frame::write_ping(&mut b, data, false);
        self.send(&b);
    }

    pub fn settings(&mut self, settings: &[(u16, u32)]) {
        let mut b = Vec::new();
        frame::write_settings(&mut b, settings);
        self.send(&b);
    }

    /// The connection's own `buffered()` (queued stream data and frames not
    /// yet handed to the stack).
    pub fn conn_buffered(&self) -> usize {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .buffered()
    }

    /// Stream bytes the connection holds for the peer's windows.
    pub fn queued(&self) -> usize {
        self.conn.lock().unwrap_or_else(|e| e.into_inner()).queued()
    }

    /// Everything the connection holds for output: `buffered()` plus the
    /// streams' queues.
    pub fn held(&self) -> usize {
        self.conn_buffered() + self.queued()
    }

    /// Streams the connection holds now.
    pub fn open_streams(&self) -> usize {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open_streams()
    }

    /// Bytes the stack holds for the peer, unread.
    pub fn pending(&self) -> usize {
        self.stack.pending_output()
    }

    /// The stack's next deadline (for "no timer left in the past" checks).
    pub fn next_deadline(&self) -> Option<std::time::Instant> {
        self.stack.next_deadline()
    }

    /// The virtual clock.
    pub fn now(&self) -> std::time::Instant {
        self.now
    }

    /// The owner drains: `on_shutdown` (our GOAWAY).
    pub fn shutdown(&mut self) {
        self.stack.handle_shutdown(self.now);
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.stack.handle_timeout(self.now);
    }

    /// Takes the server's output and parses it into events.
    pub fn read(&mut self) -> Vec<Ev> {
        let out = self.stack.take_output(self.now);
        self.inbuf.extend_from_slice(&out);
        let mut evs = Vec::new();
        let mut pos = 0;
        while let Ok(Some((f, used))) =
            frame::parse(&self.inbuf[pos..], frame::MAX_FRAME_SIZE_LIMIT)
        {
            evs.push(match f {
                Frame::Settings { ack, settings } => Ev::Settings {
                    ack,
                    values: settings.iter().collect(),
                },
                Frame::Headers {
                    stream,
                    end_stream,
                    block,
                    end_headers,
                    ..
                } => {
                    assert!(end_headers, "test peer expects whole blocks");
                    let mut fields = Vec::new();
                    self.dec.begin_block(1 << 20);
                    self.dec
                        .decode_fragment(block, true, &mut |n, v, _| {
                            fields.push((
                                String::from_utf8_lossy(n).into_owned(),
                                String::from_utf8_lossy(v).into_owned(),
                            ))
                        })
                        .expect("server's header block decodes");
                    Ev::Headers {
                        stream,
                        end: end_stream,
                        fields,
                    }
                }
                Frame::Data {
                    stream,
                    end_stream,
                    data,
                    ..
                } => Ev::Data {
                    stream,
                    end: end_stream,
                    data: data.to_vec(),
                },
                Frame::RstStream { stream, code } => Ev::Rst { stream, code },
                Frame::GoAway {
                    last_stream, code, ..
                } => Ev::GoAway {
                    last: last_stream,
                    code,
                },
                Frame::WindowUpdate { stream, increment } => Ev::WindowUpdate {
                    stream,
                    inc: increment,
                },
                Frame::Ping { ack, data } => Ev::Ping { ack, data },
                other => panic!("unexpected frame from server: {other:?}"),
            });
            pos += used;
        }
        self.inbuf.drain(..pos);
        evs
    }

    pub fn finished(&self) -> Option<&Close> {
        self.stack.finished()
    }
}

/// The status of the response head on `stream` among `evs`.
pub fn status(evs: &[Ev], stream: u32) -> Option<String> {
    evs.iter().find_map(|e| match e {
        Ev::Headers {
            stream: s, fields, ..
        } if *s == stream => fields
            .iter()
            .find(|(n, _)| n == ":status")
            .map(|(_, v)| v.clone()),
        _ => None,
    })
}

/// The body bytes sent on `stream`, and whether END_STREAM came.
pub fn body(evs: &[Ev], stream: u32) -> (Vec<u8>, bool) {
    let mut b = Vec::new();
    let mut end = false;
    for e in evs {
        match e {
            Ev::Data {
                stream: s,
                end: e,
                data,
            } if *s == stream => {
                b.extend_from_slice(data);
                end |= *e;
            }
            Ev::Headers {
                stream: s, end: e, ..
            } if *s == stream => end |= *e,
            _ => {}
        }
    }
    (b, end)
}

pub fn goaway(evs: &[Ev]) -> Option<ErrorCode> {
    evs.iter().find_map(|e| match e {
        Ev::GoAway { code, .. } => Some(*code),
        _ => None,
    })
}

pub fn rst(evs: &[Ev], stream: u32) -> Option<ErrorCode> {
    evs.iter().find_map(|e| match e {
        Ev::Rst { stream: s, code } if *s == stream => Some(*code),
        _ => None,
    })
}

/// Echoes the request body; answers 200 at once.
pub struct Echo;
impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// Answers with a fixed body after the request ends.
pub struct Fixed(pub &'static [u8]);
impl StreamProtocol for Fixed {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.write(self.0);
        t.close();
    }
}

pub fn service<F>(f: F) -> SharedService
where
    F: Fn(&http::request::Parts) -> Box<dyn StreamProtocol> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// Appends an HPACK integer (RFC 7541 §5.1) with an `n`-bit prefix, the
/// first byte's other bits taken from `flags`.
pub fn hpack_int(out: &mut Vec<u8>, flags: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A literal field with a new name (no Huffman): `0x40` adds it to the
/// dynamic table, `0x00` does not.
pub fn hpack_literal(out: &mut Vec<u8>, indexing: bool, name: &[u8], value: &[u8]) {
    out.push(if indexing { 0x40 } else { 0x00 });
    hpack_int(out, 0, 7, name.len());
    out.extend_from_slice(name);
    hpack_int(out, 0, 7, value.len());
    out.extend_from_slice(value);
}

/// A GET request block that leaves the peer's dynamic table alone: static
/// indexes and literals without indexing only, so it can be mixed with
/// hand-made blocks.
pub fn plain_request(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in [
        (":method", method),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", path),
    ] {
        hpack_literal(&mut b, false, n.as_bytes(), v.as_bytes());
    }
    for (n, v) in extra {
        hpack_literal(&mut b, false, n.as_bytes(), v.as_bytes());
    }
    b
}

/// Counts service calls (one per request that reached the application).
#[derive(Clone, Default)]
pub struct Calls(pub Arc<AtomicUsize>);
impl Calls {
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// What each request protocol's `connection_lost` received, by stream id.
pub type LostLog = Arc<Mutex<Vec<(u32, Close)>>>;

/// Wraps a request protocol and records its stream id and end; forwards
/// every method.
pub struct Record<P> {
    pub inner: P,
    pub id: u32,
    pub log: LostLog,
}

impl<P: StreamProtocol> Record<P> {
    pub fn new(inner: P, log: &LostLog) -> Record<P> {
        Record {
            inner,
            id: 0,
            log: log.clone(),
        }
    }
}

impl<P: StreamProtocol> StreamProtocol for Record<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.id = t.get::<StreamId>().map_or(0, |s| s.0);
        self.inner.connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.inner.data_received(t, d)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((self.id, why.clone()));
        self.inner.connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.pause_writing(t)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.resume_writing(t)
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_deadline(t)
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.inner.on_wake(t, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_shutdown(t)
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

/// The end recorded for `stream`, if its protocol ended.
pub fn lost(log: &LostLog, stream: u32) -> Option<Close> {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(s, _)| *s == stream)
        .map(|(_, c)| c.clone())
}

/// The HTTP/2 error inside a `Close`, if it carries one.
pub fn h2_error(c: &Close) -> Option<&strata::http::h2::H2Error> {
    c.error()
}

/// Never answers and never ends: holds its stream open.
pub struct Hold;
impl StreamProtocol for Hold {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// An HTTP/2 client that sends one `Upload` of each size, in order, and
/// an echoing server: both ends, for a pump. The echoed bytes add up in
/// `got`.
#[allow(dead_code)] // not every test binary uses it
pub fn upload_pair(sizes: &[usize], got: &Arc<Mutex<usize>>) -> (H2Connection, H2Connection) {
    let client = strata::http::h2::H2Client::new();
    for &size in sizes {
        let req = http::Request::post("http://x/up").body(()).unwrap();
        client.send(
            req,
            Box::new(Upload {
                body: vec![7; size],
                got: got.clone(),
            }),
        );
    }
    let c = H2Connection::client(Arc::new(H2Config::default()), client);
    let s = H2Connection::server(Arc::new(H2Config::default()), service(|_| Box::new(Echo)));
    (c, s)
}

/// A client request's protocol: sends `body`, ends, and counts the
/// response bytes into `got`.
pub struct Upload {
    pub body: Vec<u8>,
    pub got: Arc<Mutex<usize>>,
}

impl StreamProtocol for Upload {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        t.write(&self.body);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, d: &[u8]) {
        *self.got.lock().unwrap() += d.len();
    }
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
}
