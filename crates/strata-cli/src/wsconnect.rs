//! `strata connect ws://…` / `wss://…`: a WebSocket netcat. Lines of stdin
//! go out as text messages (bytes that are not UTF-8 as binary ones),
//! every message received is written to stdout followed by a newline, and
//! the end of stdin closes with 1000.
//!
//! The stdin/stdout side is [`Stdio`](crate::stdio::Stdio), the same
//! protocol as for a byte stream: [`MessageLines`] sits between it and the
//! WebSocket, turning lines into messages and messages into lines.

use std::sync::Arc;
use std::time::Duration;

use strata::http::ws::{self, HandshakeVersion, WebSocket, WsConfig};
use strata::http::{HttpClient, VersionChoice};
use strata::{
    Close, Datagram, DatagramProtocol, DatagramTransport, Introspect, StackConfig, StreamProtocol,
    StreamTransport, WakeRoute,
};

use crate::exit;

/// The most a line may grow before it goes out as a message of its own.
const MAX_LINE: usize = 1024 * 1024;

/// A stream protocol over a WebSocket: what it writes is cut into lines,
/// one text message each; each message received is handed to it as a line.
pub struct MessageLines<P> {
    inner: P,
    /// The line being written, up to its newline.
    line: Vec<u8>,
}

impl<P: StreamProtocol> MessageLines<P> {
    /// Wraps a stream protocol.
    pub fn new(inner: P) -> Self {
        MessageLines {
            inner,
            line: Vec::new(),
        }
    }

    fn call(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        f(
            &mut self.inner,
            &mut LinesView {
                below: t,
                line: &mut self.line,
            },
        );
    }
}

/// Sends one line (without its newline) as a message.
fn send_line(t: &mut dyn DatagramTransport, line: &[u8]) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match std::str::from_utf8(line) {
        Ok(text) => {
            ws::send_text(t, text);
        }
        Err(_) => ws::send_binary(t, line),
    }
}

impl<P: StreamProtocol> DatagramProtocol for MessageLines<P> {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.call(t, |p, v| p.connection_made(v));
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            let mut line = Vec::with_capacity(d.data.len() + 1);
            line.extend_from_slice(d.data);
            line.push(b'\n');
            self.call(t, |p, v| p.data_received(v, &line));
        }
    }
    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        self.call(t, |p, v| p.eof_received(v));
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why);
    }
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.call(t, |p, v| p.resume_writing(v));
    }
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.call(t, |p, v| p.pause_writing(v));
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        self.call(t, |p, v| p.on_deadline(v));
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        self.call(t, |p, v| p.on_wake(v, route));
    }
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.call(t, |p, v| p.on_shutdown(v));
    }
}

/// The stream transport [`MessageLines`] shows its inner protocol.
struct LinesView<'a> {
    below: &'a mut dyn DatagramTransport,
    line: &'a mut Vec<u8>,
}

impl LinesView<'_> {
    fn flush_partial(&mut self) {
        if !self.line.is_empty() {
            let line = std::mem::take(self.line);
            send_line(self.below, &line);
        }
    }
}

impl Introspect for LinesView<'_> {
    fn name(&self) -> &'static str {
        "ws-lines"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for LinesView<'_> {
    fn write(&mut self, mut data: &[u8]) {
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            if self.line.is_empty() {
                send_line(self.below, &data[..nl]);
            } else {
                self.line.extend_from_slice(&data[..nl]);
                let line = std::mem::take(self.line);
                send_line(self.below, &line);
            }
            data = &data[nl + 1..];
        }
        self.line.extend_from_slice(data);
        if self.line.len() >= MAX_LINE {
            self.flush_partial();
        }
    }
    fn write_eof(&mut self) {
        self.flush_partial();
        self.below.close();
    }
    fn close(&mut self) {
        self.flush_partial();
        self.below.close();
    }
    strata::forward_to_lower!(below: abort, pause_reading, resume_reading, buffered, writable, now, waker);
}

/// `strata connect ws://…`: runs the netcat until the WebSocket closes.
/// Returns the exit status (docs/endpoints.md): 0 after a clean close, 1
/// when the handshake is refused or the connection fails, 2 for a bad URL,
/// 3 or 4 when connecting fails or takes too long.
pub fn run(raw: &str, h2: bool, insecure: bool, ca: Option<&str>, connect_timeout: Duration) -> u8 {
    let uri: http::Uri = match raw.parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("strata: bad URL {raw:?}: {e}");
            return exit::USAGE;
        }
    };
    let http_scheme = match uri.scheme_str() {
        Some("ws") => "http",
        Some("wss") => "https",
        _ => {
            eprintln!("strata: a WebSocket URL starts with ws:// or wss://");
            return exit::USAGE;
        }
    };
    let rest = &raw[raw.find("://").map_or(0, |i| i + 3)..];
    let http_raw = format!("{http_scheme}://{rest}");
    let Ok(http_url) = http_raw.parse::<http::Uri>() else {
        eprintln!("strata: bad URL {raw:?}");
        return exit::USAGE;
    };
    let (choice, version) = if h2 {
        (VersionChoice::Http2, HandshakeVersion::Http2)
    } else {
        (VersionChoice::Http1, HandshakeVersion::Http1)
    };
    let ep_raw = match crate::get::endpoint_for(&http_raw, &http_url, choice, insecure, ca, "tcp") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("strata: {e}");
            return exit::USAGE;
        }
    };
    let reg = strata_tokio::registry();
    let ep = match strata::endpoint::Endpoint::parse_with(&ep_raw, &reg) {
        Ok(ep) => ep,
        Err(e) => {
            eprintln!("strata: {e}");
            return exit::USAGE;
        }
    };
    let (stdio, done, stdout) = crate::stdio::Stdio::new();
    let lines = MessageLines::new(stdio);
    let cfg = WsConfig {
        deflate: true,
        ..WsConfig::default()
    };
    let (req, ws) = match WebSocket::client(&uri, version, lines, cfg) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("strata: {e}");
            return exit::USAGE;
        }
    };
    let client = HttpClient::new(req, Box::new(ws), choice);
    let rt = crate::runtime(Some(1));
    let why = rt.block_on(async move {
        let stack = Arc::new(StackConfig::default());
        let _conn = crate::connect_within(&ep, Box::new(client), stack, connect_timeout).await?;
        Ok(done.await.unwrap_or(Close::Done))
    });
    let why = match why {
        Ok(why) => why,
        Err((msg, code)) => {
            eprintln!("strata: {msg}");
            return code;
        }
    };
    let _ = stdout.join();
    if why.is_clean() {
        0
    } else {
        eprintln!("strata: websocket ended: {why}");
        exit::FAILED
    }
}
