//! A raw HTTP/2 peer for tests: writes frames by hand, reads the server's
//! output back as events.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::http::h2::frame::{self, ErrorCode, Frame};
use strata::http::h2::{H2Config, H2Connection};
use strata::http::hpack::{Decoder, Encoder};
use strata::http::SharedService;
use strata::{Close, Stack, StackConfig, StreamProtocol, StreamTransport};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Settings { ack: bool, values: Vec<(u16, u32)> },
    Headers { stream: u32, end: bool, fields: Vec<(String, String)> },
    Data { stream: u32, end: bool, data: Vec<u8> },
    Rst { stream: u32, code: ErrorCode },
    GoAway { last: u32, code: ErrorCode },
    WindowUpdate { stream: u32, inc: u32 },
    Ping { ack: bool, data: [u8; 8] },
}

pub struct Raw {
    pub stack: Stack,
    pub enc: Encoder,
    pub dec: Decoder,
    pub inbuf: Vec<u8>,
    pub now: Instant,
}

impl Raw {
    pub fn server(service: SharedService, cfg: H2Config) -> Raw {
        Raw::with_stack(service, cfg, StackConfig::default())
    }

    pub fn with_stack(service: SharedService, cfg: H2Config, scfg: StackConfig) -> Raw {
        let conn = H2Connection::server(Arc::new(cfg), service);
        let now = strata::testing::epoch();
        let mut stack = Stack::new(
            Box::new(conn),
            strata::BottomInfo::new("memory"),
            Arc::new(scfg),
            now,
        );
        stack.start(now);
        Raw {
            stack,
            enc: Encoder::new(),
            dec: Decoder::new(4096),
            inbuf: Vec::new(),
            now,
        }
    }

    pub fn send(&mut self, b: &[u8]) {
        self.stack.handle_input(self.now, b);
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
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes(), false)),
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
            &[(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)],
            true,
        );
    }

    pub fn post(&mut self, stream: u32, path: &str) {
        self.headers(
            stream,
            &[(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", path)],
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
        while let Ok(Some((f, used))) = frame::parse(&self.inbuf[pos..], frame::MAX_FRAME_SIZE_LIMIT) {
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
        Ev::Headers { stream: s, fields, .. } if *s == stream => fields
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
            Ev::Data { stream: s, end: e, data } if *s == stream => {
                b.extend_from_slice(data);
                end |= *e;
            }
            Ev::Headers { stream: s, end: e, .. } if *s == stream => end |= *e,
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
