//! An HTTP/3 connection in memory, driven by hand: a mock
//! `QuicConnection` that records what the app writes per stream, and a
//! scripted peer that writes frames byte by byte (QPACK from the real
//! encoder and decoder).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata::http::h3::frame::{self, Event, Frame, FrameReader, Settings};
use strata::http::h3::{varint, Code, H3Client, H3Config, H3Server};
use strata::http::qpack::{Decoded, HeaderField, QpackDecoder, QpackEncoder};
use strata::http::{HttpExchange, SharedService};
use strata::quic::{Dir, QuicApp, QuicConnection, StreamError, StreamId};
use strata::{Close, Introspect, StreamProtocol, StreamTransport, Wake, WakeHub};

/// What the app did to the connection.
pub struct MockConn {
    pub now: Instant,
    pub server: bool,
    next_bi: u64,
    next_uni: u64,
    /// Bytes written per stream.
    pub written: BTreeMap<u64, Vec<u8>>,
    pub finished: BTreeSet<u64>,
    pub resets: Vec<(u64, u64)>,
    pub stops: Vec<(u64, u64)>,
    pub paused: BTreeSet<u64>,
    pub closed: Option<(u64, Vec<u8>)>,
    /// Flow-control credit per stream (none: unlimited).
    pub credit: BTreeMap<u64, usize>,
    /// Streams whose writes the peer stopped, with the code.
    pub stopped_by_peer: BTreeMap<u64, u64>,
    /// Bidirectional streams we may still open.
    pub bidi_left: u64,
    pub hub: Arc<WakeHub>,
}

impl MockConn {
    pub fn new(server: bool) -> MockConn {
        MockConn {
            now: Instant::now(),
            server,
            next_bi: if server { 1 } else { 0 },
            next_uni: if server { 3 } else { 2 },
            written: BTreeMap::new(),
            finished: BTreeSet::new(),
            resets: Vec::new(),
            stops: Vec::new(),
            paused: BTreeSet::new(),
            closed: None,
            credit: BTreeMap::new(),
            stopped_by_peer: BTreeMap::new(),
            bidi_left: 100,
            hub: WakeHub::new(),
        }
    }
}

impl Introspect for MockConn {
    fn name(&self) -> &'static str {
        "mock-quic"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        None
    }
}

impl QuicConnection for MockConn {
    fn now(&self) -> Instant {
        self.now
    }
    fn is_server(&self) -> bool {
        self.server
    }
    fn alpn(&self) -> Option<&[u8]> {
        Some(b"h3")
    }
    fn open(&mut self, dir: Dir) -> Option<StreamId> {
        let n = match dir {
            Dir::Bi => {
                if self.bidi_left == 0 {
                    return None;
                }
                self.bidi_left -= 1;
                &mut self.next_bi
            }
            Dir::Uni => &mut self.next_uni,
        };
        let id = *n;
        *n += 4;
        Some(StreamId(id))
    }
    fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        if let Some(&code) = self.stopped_by_peer.get(&id.0) {
            return Err(StreamError::Stopped(code));
        }
        if self.finished.contains(&id.0) {
            return Err(StreamError::Finished);
        }
        let n = match self.credit.get_mut(&id.0) {
            Some(c) => {
                let n = (*c).min(data.len());
                *c -= n;
                n
            }
            None => data.len(),
        };
        self.written
            .entry(id.0)
            .or_default()
            .extend_from_slice(&data[..n]);
        Ok(n)
    }
    fn finish(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.finished.insert(id.0);
        Ok(())
    }
    fn reset(&mut self, id: StreamId, code: u64) {
        self.resets.push((id.0, code));
    }
    fn stop_sending(&mut self, id: StreamId, code: u64) {
        self.stops.push((id.0, code));
    }
    fn pause_reading(&mut self, id: StreamId) {
        self.paused.insert(id.0);
    }
    fn resume_reading(&mut self, id: StreamId) {
        self.paused.remove(&id.0);
    }
    fn send_datagram(&mut self, _: Bytes) -> Result<(), StreamError> {
        Err(StreamError::ConnectionClosed)
    }
    fn max_datagram_size(&self) -> Option<usize> {
        None
    }
    fn close(&mut self, code: u64, reason: &[u8]) {
        self.closed.get_or_insert((code, reason.to_vec()));
    }
    fn waker(&self) -> Wake {
        Wake::root(self.hub.clone())
    }
}

/// A response (or request) as the peer's frames carried it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Message {
    /// Every head, interim ones first, as field lists.
    pub heads: Vec<Vec<(String, String)>>,
    pub body: Vec<u8>,
    pub trailers: Option<Vec<(String, String)>>,
}

impl Message {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.heads
            .last()?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn status(&self) -> Option<u16> {
        self.field(":status")?.parse().ok()
    }
}

/// The scripted peer and the app under test, on one mock connection.
pub struct Harness {
    pub app: Box<dyn QuicApp>,
    pub conn: MockConn,
    pub enc: QpackEncoder,
    pub dec: QpackDecoder,
    /// Bytes our encoder stream still owes the app (sent with `flush_encoder`).
    pub enc_stream: Vec<u8>,
    pub dec_stream: Vec<u8>,
    opened: BTreeSet<u64>,
    /// How far the app's uni streams were read.
    seen_uni: BTreeMap<u64, usize>,
    pub peer_settings: Option<Settings>,
    pub goaway: Option<u64>,
    /// The peer's next stream ids.
    next_bi: u64,
    next_uni: u64,
}

pub const PEER_CONTROL: u64 = 2;
pub const PEER_ENCODER: u64 = 6;
pub const PEER_DECODER: u64 = 10;

impl Harness {
    /// A server under test; the peer (a client) has not sent anything.
    pub fn server(service: SharedService, cfg: H3Config) -> Harness {
        Harness::new(Box::new(H3Server::new(service, cfg)), true)
    }

    /// A client under test.
    pub fn client(app: H3Client) -> Harness {
        Harness::new(Box::new(app), false)
    }

    fn new(app: Box<dyn QuicApp>, server: bool) -> Harness {
        let mut h = Harness {
            app,
            conn: MockConn::new(server),
            enc: QpackEncoder::new(0),
            dec: QpackDecoder::new(4096, 16, 1 << 20),
            enc_stream: Vec::new(),
            dec_stream: Vec::new(),
            opened: BTreeSet::new(),
            seen_uni: BTreeMap::new(),
            peer_settings: None,
            goaway: None,
            next_bi: if server { 0 } else { 1 },
            next_uni: if server { 14 } else { 15 },
        };
        h.app.connection_made(&mut h.conn);
        h
    }

    /// Control stream (SETTINGS with `s`) and QPACK streams of the peer.
    pub fn peer_setup(&mut self, s: &Settings) {
        let (c, e, d) = self.peer_uni_ids();
        let mut w = vec![0x00];
        frame::write_settings(&mut w, s);
        self.send(c, &w);
        self.send(e, &[0x02]);
        self.send(d, &[0x03]);
    }

    /// The peer's control, encoder and decoder stream ids.
    pub fn peer_uni_ids(&self) -> (u64, u64, u64) {
        if self.conn.server {
            (2, 6, 10)
        } else {
            (3, 7, 11)
        }
    }

    /// A fresh stream id of the peer's.
    pub fn next_request_id(&mut self) -> u64 {
        let id = self.next_bi;
        self.next_bi += 4;
        id
    }

    pub fn next_uni_id(&mut self) -> u64 {
        let id = self.next_uni;
        self.next_uni += 4;
        id
    }

    /// Bytes from the peer on `id` (opening it first if new).
    pub fn send(&mut self, id: u64, data: &[u8]) {
        let peer_initiated = (id & 1 == 0) == self.conn.server;
        if peer_initiated && self.opened.insert(id) {
            self.app.stream_opened(&mut self.conn, StreamId(id));
        }
        self.app.stream_data(&mut self.conn, StreamId(id), data);
    }

    pub fn fin(&mut self, id: u64) {
        self.app.stream_finished(&mut self.conn, StreamId(id));
    }

    pub fn reset(&mut self, id: u64, code: u64) {
        self.app.stream_reset(&mut self.conn, StreamId(id), code);
    }

    pub fn stop(&mut self, id: u64, code: u64) {
        self.conn.stopped_by_peer.insert(id, code);
        self.app.stream_stopped(&mut self.conn, StreamId(id), code);
    }

    /// A HEADERS frame for `fields` on stream `id`, QPACK-encoded.
    pub fn headers(&mut self, id: u64, fields: &[(&str, &str)]) -> Vec<u8> {
        let fields: Vec<HeaderField> = fields
            .iter()
            .map(|(n, v)| HeaderField::new(n.to_string(), v.to_string()))
            .collect();
        let mut section = Vec::new();
        self.enc
            .encode(id, &fields, &mut section, &mut self.enc_stream)
            .unwrap();
        let mut f = Vec::new();
        frame::write_headers(&mut f, &section);
        f
    }

    /// A DATA frame.
    pub fn data(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        frame::write_data_header(&mut f, payload.len() as u64);
        f.extend_from_slice(payload);
        f
    }

    /// A GET request head for `path`.
    pub fn get(&mut self, id: u64, path: &str) -> Vec<u8> {
        self.headers(
            id,
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "localhost"),
                (":path", path),
            ],
        )
    }

    /// Reads the app's uni streams: its settings, its QPACK instructions
    /// (fed to our decoder), GOAWAY. Panics on anything unexpected.
    pub fn read_app_uni(&mut self) {
        let ids: Vec<u64> = self
            .conn
            .written
            .keys()
            .copied()
            .filter(|id| id % 4 >= 2)
            .collect();
        for id in ids {
            let bytes = self.conn.written[&id].clone();
            let from = *self.seen_uni.get(&id).unwrap_or(&0);
            if from == bytes.len() {
                continue;
            }
            self.seen_uni.insert(id, bytes.len());
            let ty = bytes[0];
            let new = &bytes[from.max(1)..];
            match ty {
                0x00 => {
                    let mut r = FrameReader::new(1 << 16);
                    let mut input = &bytes[1..];
                    self.goaway = None;
                    while let Some(ev) = r.read(&mut input).unwrap() {
                        match ev {
                            Event::Frame(Frame::Settings(s)) => self.peer_settings = Some(s),
                            Event::Frame(Frame::Goaway(g)) => self.goaway = Some(g),
                            other => panic!("unexpected on the control stream: {other:?}"),
                        }
                    }
                }
                0x02 => {
                    self.dec.on_encoder_stream(new).unwrap();
                }
                0x03 => {
                    self.enc.on_decoder_stream(new).unwrap();
                }
                t => panic!("unknown uni stream type {t}"),
            }
        }
    }

    /// The message the app wrote on stream `id` so far, decoded.
    pub fn message(&mut self, id: u64) -> Message {
        self.read_app_uni();
        let bytes = self.conn.written.get(&id).cloned().unwrap_or_default();
        let mut r = FrameReader::new(1 << 20);
        let mut input = &bytes[..];
        let mut m = Message::default();
        let mut body_started = false;
        let mut scratch = Vec::new();
        while let Some(ev) = r.read(&mut input).unwrap() {
            match ev {
                Event::Frame(Frame::Headers(section)) => {
                    let fields = match self.dec.decode(id, &section, &mut scratch).unwrap() {
                        Decoded::Fields(f) => f,
                        Decoded::Blocked => panic!("blocked section"),
                    };
                    let list: Vec<(String, String)> = fields
                        .iter()
                        .map(|f| {
                            (
                                String::from_utf8_lossy(&f.name).into_owned(),
                                String::from_utf8_lossy(&f.value).into_owned(),
                            )
                        })
                        .collect();
                    if body_started {
                        m.trailers = Some(list);
                    } else {
                        m.heads.push(list);
                    }
                }
                Event::Frame(Frame::Data { .. }) => body_started = true,
                Event::Data(d) => m.body.extend_from_slice(d),
                Event::Frame(Frame::Unknown { .. }) => {}
                other => panic!("unexpected on stream {id}: {other:?}"),
            }
        }
        m
    }

    /// Sends our pending QPACK encoder instructions.
    pub fn flush_encoder(&mut self) {
        let (_, e, _) = self.peer_uni_ids();
        let b = std::mem::take(&mut self.enc_stream);
        if !b.is_empty() {
            self.send(e, &b);
        }
    }

    /// The connection-close code, if the app closed the connection.
    pub fn close_code(&self) -> Option<u64> {
        self.conn.closed.as_ref().map(|c| c.0)
    }

    /// Moves the clock and calls `on_deadline` if one is due.
    pub fn advance(&mut self, d: Duration) {
        self.conn.now += d;
        if self.app.next_deadline().is_some_and(|t| t <= self.conn.now) {
            self.app.on_deadline(&mut self.conn);
        }
    }

    /// The peer acknowledged everything we sent on `id`, FIN included.
    pub fn acked(&mut self, id: u64) {
        self.app
            .stream_acked(&mut self.conn, strata::quic::StreamId(id));
    }

    /// Delivers pending wakes along their routes.
    pub fn wakes(&mut self) {
        for route in self.conn.hub.take() {
            self.app
                .on_wake_at(&mut self.conn, strata::WakeRoute::new(&route));
        }
    }
}

/// The default settings a peer sends.
pub fn settings() -> Settings {
    Settings::default()
}

/// What a test protocol saw, shared with the test.
#[derive(Default, Debug)]
pub struct Seen {
    pub heads: Vec<http::request::Parts>,
    pub body: Vec<u8>,
    pub eof: bool,
    pub lost: Option<Close>,
    pub trailers: Option<http::HeaderMap>,
    pub response: Option<http::response::Parts>,
}

pub type Shared = Arc<Mutex<Seen>>;

/// A request protocol that records what it sees and answers at EOF with
/// `200`, a body, and optionally trailers.
pub struct Record {
    pub seen: Shared,
    pub reply: Vec<u8>,
    pub trailers: bool,
}

impl StreamProtocol for Record {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.seen.lock().unwrap();
        if let Some(h) = t.request_head() {
            s.heads.push(h.clone());
        }
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.seen.lock().unwrap().body.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        {
            let mut s = self.seen.lock().unwrap();
            s.eof = true;
            s.trailers = t.get::<strata::http::Trailers>().map(|x| x.0.clone());
        }
        let head = http::Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(())
            .unwrap();
        t.send_response(head).unwrap();
        t.write(&self.reply);
        if self.trailers {
            let mut tr = http::HeaderMap::new();
            tr.insert("x-checksum", "42".parse().unwrap());
            t.send_trailers(tr).unwrap();
        }
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

/// A service whose protocols record into `seen`.
pub fn recording(seen: Shared, reply: &'static [u8], trailers: bool) -> SharedService {
    Arc::new(move |_: &http::request::Parts| {
        Box::new(Record {
            seen: seen.clone(),
            reply: reply.to_vec(),
            trailers,
        }) as Box<dyn StreamProtocol>
    })
}

/// A client request protocol: sends `body`, records the response.
pub struct Fetch {
    pub seen: Shared,
    pub body: Vec<u8>,
}

impl StreamProtocol for Fetch {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(&self.body);
        t.write_eof();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut s = self.seen.lock().unwrap();
        if s.response.is_none() {
            s.response = t.response_head().cloned();
        }
        s.body.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.seen.lock().unwrap();
        if s.response.is_none() {
            s.response = t.response_head().cloned();
        }
        s.trailers = t.get::<strata::http::Trailers>().map(|x| x.0.clone());
        s.eof = true;
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

/// Whether `why` is a clean close.
pub fn clean(why: &Option<Close>) -> bool {
    why.as_ref().is_some_and(Close::is_clean)
}

/// The code of an `H3Error` in a `Close`.
pub fn h3_code(why: &Close) -> Option<Code> {
    why.error::<strata::http::h3::H3Error>().map(|e| e.code)
}

/// Writes a varint (for hand-made frames).
pub fn vi(out: &mut Vec<u8>, v: u64) {
    varint::write(out, v);
}
