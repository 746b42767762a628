//! [`WebSocket`]: the layer's state machine (a stream protocol below, a
//! message transport above).

use std::time::Instant;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use ring::rand::SecureRandom;

use super::config::WsConfig;
use super::deflate::{Deflate, DeflateParams};
use super::error::WsError;
use super::frame::{apply_mask, encode_header, Opcode, MAX_HEADER};
use super::handshake::{self, ClientHandshake, HandshakeVersion};
use super::recv::{feed, Rx};
use super::view::{Caps, WsView};
use super::{MessageKind, Role, Subprotocol};
use crate::deadline::earliest;
use crate::http::HttpExchange;
use crate::timer::{TimerName, TimerTable};
use crate::{
    AbortReason, Close, DatagramProtocol, DatagramTransport, StreamProtocol, StreamTransport,
    Timeout,
};

/// The layer name of [`WebSocket`], as in `layer_chain()`.
pub(crate) const WS: &str = "websocket";

/// A WebSocket connection (RFC 6455): a [`StreamProtocol`] to the byte
/// stream below (a TCP or TLS connection after an HTTP/1.1 `Upgrade`, an
/// HTTP/2 or HTTP/3 extended CONNECT stream) that presents a
/// [`DatagramTransport`] named `websocket` to a [`DatagramProtocol`] above:
/// each datagram is one whole message. So a message protocol written for
/// `framing::LengthPrefixed` runs over WebSocket
/// unchanged.
///
/// # Driving contract
///
/// * **Messages up.** Each complete message is one `datagrams_received`
///   batch of one [`Datagram`](crate::Datagram) (source `None`); during that call the view
///   answers the [`MessageKind`] capability (text or binary, see
///   [`message_kind`](super::message_kind)). Fragments are reassembled up
///   to [`WsConfig::max_message`] (over it: close 1009, checked on each
///   frame header before its payload is kept); text is checked to be UTF-8
///   as it arrives, fragment by fragment (close 1007).
/// * **Messages down.** `send` sends one message, binary by default; text
///   with [`send_text`](super::send_text). A message over
///   [`WsConfig::fragment_size`] goes out in fragments of that size. A
///   client masks every frame with a fresh key from the layer's generator
///   ([`WsConfig::rng_seed`]); a server never masks. `max_datagram_size` is
///   `max_message`. Sends after our close frame are dropped.
/// * **Control frames** may come between fragments. A ping is answered with
///   a pong carrying its payload; a pong is ignored. RSV bits, reserved
///   opcodes, fragmented or over-long control frames, a mask from a server
///   or no mask from a client, a continuation out of place, a length not in
///   its shortest form: each fails the connection with a typed
///   [`WsError`] and its close code (1002).
/// * **Close.** `close` (or `write_eof`) on the view sends a close frame,
///   code 1000 or the one given with [`close_with`](super::close_with), and
///   waits for the peer's; then the stream below is closed. A close frame
///   from the peer (its code and UTF-8 reason are checked) is the inner
///   protocol's `eof_received`; the layer then answers it with the same
///   code (unless the inner protocol closed first) and closes the stream.
///   The inner protocol's `connection_lost` gets `Close::Done` for 1000,
///   1001 or no code, else [`WsError::PeerClosed`]; a failure gets the
///   [`WsError`]; a stream that ends with no close frame gets
///   [`WsError::NoCloseFrame`].
/// * **Deadlines.** The close handshake is bounded by
///   [`WsConfig::close_timeout`] (`Timeout::CloseFlush`), a client's
///   opening handshake by [`WsConfig::handshake_timeout`]
///   (`Timeout::Handshake`), and with [`WsConfig::ping_interval`] a silent
///   peer is pinged, then failed (close 1011). The inner protocol's
///   deadlines are composed in.
/// * **Handshakes.** [`WebSocket::server`] is a request protocol for an
///   HTTP server (any version): it checks the request head, answers `101`
///   (HTTP/1.1) or `200` (extended CONNECT) and starts the inner protocol,
///   or answers 400/426 and closes ([`WsError::BadRequest`]).
///   [`WebSocket::client`] returns the request for an HTTP client and the
///   protocol that runs in its exchange; the inner protocol starts at once
///   (HTTP/1.1 holds what it sends until the `101`) and the answer is
///   checked when it is seen. [`WebSocket::new`] skips the handshake (it
///   was made elsewhere, or in tests).
/// * **Read pause** takes effect between messages and is forwarded below;
///   input that arrives meanwhile is kept and parsed on resume.
///   Back-pressure and wakes pass through; `on_shutdown` reaches the inner
///   protocol with 1001 (going away) as the close code, unless it gives
///   another with [`close_with`](super::close_with).
///
/// ```
/// use strata::http::ws::{Role, WebSocket};
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack, Transmit};
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
///         for d in batch { t.send(&Transmit::connected(d.data)) }
///     }
/// }
/// let mut s = Stack::memory(Box::new(WebSocket::new(Role::Server, Echo, Default::default())));
/// let now = s.now();
/// // A masked binary frame "hi" from a client; the echo comes back unmasked.
/// s.handle_input(now, &[0x82, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
/// assert_eq!(s.take_output(now), [0x82, 2, b'h', b'i']);
/// ```
pub struct WebSocket<P> {
    inner: P,
    rx: Rx,
    /// Input kept while paused, not yet parsed.
    held: Vec<u8>,
    st: State,
}

/// The layer's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// A client waits for the server's answer.
    Handshake,
    /// Our close frame went out; the peer's and the stream's end are due.
    Close,
    /// The ping interval: ping a silent peer, then give up on it.
    Ping,
}

impl TimerName for Timer {
    const ALL: &'static [Timer] = &[Timer::Handshake, Timer::Close, Timer::Ping];
    fn index(self) -> usize {
        self as usize
    }
}

/// Where the opening handshake is.
pub(super) enum Hs {
    /// None to do, or done.
    Done,
    /// A server checks the request in `connection_made`.
    Server,
    /// A client waits for the answer to its request.
    Client(ClientHandshake),
}

pub(super) struct State {
    pub(super) role: Role,
    pub(super) cfg: WsConfig,
    pub(super) rng: Option<ChaCha20Rng>,
    /// permessage-deflate, once agreed.
    pub(super) deflate: Option<Deflate>,
    pub(super) hs: Hs,
    pub(super) timers: TimerTable<Timer, 3>,
    /// The inner protocol got `connection_made` (so it gets `connection_lost`).
    pub(super) started: bool,
    pub(super) paused: bool,
    /// No more input is parsed (closed, failed, or the peer's close is in).
    pub(super) dead: bool,
    pub(super) close_sent: bool,
    pub(super) close_received: bool,
    /// A ping went out and nothing came in since.
    pub(super) ping_outstanding: bool,
    /// What the inner protocol's `connection_lost` gets instead of the
    /// reason from below, when the WebSocket knows better.
    pub(super) outcome: Option<Close>,
    pub(super) eof: Eof,
    /// Capabilities the view answers.
    pub(super) caps: Caps,
    /// Bytes and frames through this layer (the `Counters` capability).
    pub(super) counters: crate::stats::Counters,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Eof {
    No,
    Pending,
    Delivered,
}

impl<P: DatagramProtocol> WebSocket<P> {
    /// A WebSocket whose handshake is done (or not needed): frames flow at
    /// once, in `role`.
    ///
    /// ```
    /// use strata::http::ws::{Role, WebSocket, WsConfig};
    /// # struct P;
    /// # impl strata::DatagramProtocol for P {
    /// #     fn datagrams_received(&mut self, _: &mut dyn strata::DatagramTransport, _: &[strata::Datagram<'_>]) {}
    /// # }
    /// let ws = WebSocket::new(Role::Client, P, WsConfig::default());
    /// assert_eq!(ws.role(), Role::Client);
    /// ```
    pub fn new(role: Role, inner: P, cfg: WsConfig) -> Self {
        WebSocket {
            inner,
            rx: Rx::default(),
            held: Vec::new(),
            st: State {
                role,
                rng: cfg.rng_seed.map(|seed| {
                    let mut r = ChaCha20Rng::from_seed(seed);
                    r.set_stream(role as u64);
                    r
                }),
                cfg,
                deflate: None,
                hs: Hs::Done,
                timers: TimerTable::new(),
                started: false,
                paused: false,
                dead: false,
                close_sent: false,
                close_received: false,
                ping_outstanding: false,
                outcome: None,
                eof: Eof::No,
                caps: Caps::default(),
                counters: crate::stats::Counters::default(),
            },
        }
    }

    /// The server side over HTTP: the request protocol an HTTP server's
    /// [`Service`](crate::http::Service) returns for a WebSocket route. Its
    /// `connection_made` checks the request (see the
    /// [module docs](super)), answers it, and starts `inner`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::http::{HttpConfig, HttpServer};
    /// use strata::http::ws::{WebSocket, WsConfig};
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack, StreamProtocol};
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let svc = Arc::new(|_: &http::request::Parts| {
    ///     Box::new(WebSocket::server(Quiet, WsConfig::default())) as Box<dyn StreamProtocol>
    /// });
    /// let mut s = Stack::memory(Box::new(HttpServer::new(svc, HttpConfig::default())));
    /// let now = s.now();
    /// s.handle_input(now, b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\n\r\n");
    /// let out = String::from_utf8(s.take_output(now)).unwrap();
    /// assert!(out.starts_with("HTTP/1.1 101"), "{out}");
    /// assert!(out.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{out}");
    /// ```
    pub fn server(inner: P, cfg: WsConfig) -> Self {
        let mut ws = Self::new(Role::Server, inner, cfg);
        ws.st.hs = Hs::Server;
        ws
    }

    /// The client side over HTTP: the request to send to `uri` (`ws://`,
    /// `wss://`) over `version`, and the protocol to give the HTTP client
    /// with it. Its key comes from the layer's generator.
    ///
    /// ```
    /// use strata::http::{HttpClient, VersionChoice};
    /// use strata::http::ws::{HandshakeVersion, WebSocket, WsConfig};
    /// # struct P;
    /// # impl strata::DatagramProtocol for P {
    /// #     fn datagrams_received(&mut self, _: &mut dyn strata::DatagramTransport, _: &[strata::Datagram<'_>]) {}
    /// # }
    /// let uri = "ws://example.test/chat".parse().unwrap();
    /// let (req, ws) = WebSocket::client(&uri, HandshakeVersion::Http1, P, WsConfig::default()).unwrap();
    /// assert_eq!(req.headers()["upgrade"], "websocket");
    /// let _client = HttpClient::new(req, Box::new(ws), VersionChoice::Http1);
    /// ```
    pub fn client(
        uri: &http::Uri,
        version: HandshakeVersion,
        inner: P,
        cfg: WsConfig,
    ) -> Result<(http::Request<()>, Self), WsError> {
        let mut ws = Self::new(Role::Client, inner, cfg);
        let mut key = [0u8; 16];
        ws.st.fill(&mut key)?;
        let cfg = &ws.st.cfg;
        let (req, hs) =
            handshake::client_request(uri, version, key, &cfg.subprotocols, cfg.deflate)?;
        ws.st.hs = Hs::Client(hs);
        Ok((req, ws))
    }

    /// Compresses messages with permessage-deflate (RFC 7692) as agreed in
    /// a handshake made elsewhere (the constructors over HTTP negotiate it
    /// themselves when [`WsConfig::deflate`] is set).
    ///
    /// ```
    /// use strata::http::ws::{DeflateParams, Role, WebSocket};
    /// # struct P;
    /// # impl strata::DatagramProtocol for P {
    /// #     fn datagrams_received(&mut self, _: &mut dyn strata::DatagramTransport, _: &[strata::Datagram<'_>]) {}
    /// # }
    /// let ws = WebSocket::new(Role::Server, P, Default::default()).with_deflate(DeflateParams::default());
    /// # let _ = ws;
    /// ```
    pub fn with_deflate(mut self, params: DeflateParams) -> Self {
        self.st.deflate = Some(Deflate::new(params, self.st.role));
        self
    }

    /// This side's role.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # // Keeps every message it gets.
    /// # #[derive(Default)]
    /// # struct Keep(Vec<Vec<u8>>);
    /// # impl DatagramProtocol for Keep {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
    /// #         self.0.extend(batch.iter().map(|d| d.data.to_vec()));
    /// #     }
    /// # }
    /// use strata::http::ws::{Role, WebSocket};
    /// let ws = WebSocket::new(Role::Client, Keep::default(), Default::default());
    /// assert_eq!(ws.role(), Role::Client);
    /// ```
    pub fn role(&self) -> Role {
        self.st.role
    }

    /// The inner protocol.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # // Keeps every message it gets.
    /// # #[derive(Default)]
    /// # struct Keep(Vec<Vec<u8>>);
    /// # impl DatagramProtocol for Keep {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
    /// #         self.0.extend(batch.iter().map(|d| d.data.to_vec()));
    /// #     }
    /// # }
    /// use strata::http::ws::{Role, WebSocket};
    /// let mut s = Stack::memory(Box::new(WebSocket::new(Role::Server, Keep::default(), Default::default())));
    /// let now = s.now();
    /// s.handle_input(now, &[0x82, 0x82, 0, 0, 0, 0, 1, 2]); // binary [1, 2], zero mask
    /// let ws = s.protocol::<WebSocket<Keep>>().unwrap();
    /// assert_eq!(ws.inner().0, [vec![1, 2]]);
    /// ```
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The inner protocol, mutably.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # // Keeps every message it gets.
    /// # #[derive(Default)]
    /// # struct Keep(Vec<Vec<u8>>);
    /// # impl DatagramProtocol for Keep {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
    /// #         self.0.extend(batch.iter().map(|d| d.data.to_vec()));
    /// #     }
    /// # }
    /// use strata::http::ws::{Role, WebSocket};
    /// let mut ws = WebSocket::new(Role::Server, Keep::default(), Default::default());
    /// ws.inner_mut().0.push(b"seeded".to_vec());
    /// assert_eq!(ws.inner().0.len(), 1);
    /// ```
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// Input bytes held and not yet delivered: the partial header, the
    /// message being reassembled (at most `max_message`), a control frame,
    /// and input kept while paused.
    ///
    /// ```
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
    /// # // Keeps every message it gets.
    /// # #[derive(Default)]
    /// # struct Keep(Vec<Vec<u8>>);
    /// # impl DatagramProtocol for Keep {
    /// #     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
    /// #         self.0.extend(batch.iter().map(|d| d.data.to_vec()));
    /// #     }
    /// # }
    /// use strata::http::ws::{Role, WebSocket};
    /// let mut s = Stack::memory(Box::new(WebSocket::new(Role::Server, Keep::default(), Default::default())));
    /// let now = s.now();
    /// // A text frame's first fragment (FIN clear): held until the message is whole.
    /// s.handle_input(now, &[0x01, 0x83, 0, 0, 0, 0, b'a', b'b', b'c']);
    /// assert_eq!(s.protocol::<WebSocket<Keep>>().unwrap().pending_input(), 3);
    /// s.handle_input(now, &[0x80, 0x81, 0, 0, 0, 0, b'd']); // the last fragment
    /// let ws = s.protocol::<WebSocket<Keep>>().unwrap();
    /// assert_eq!((ws.pending_input(), ws.inner().0.concat()), (0, b"abcd".to_vec()));
    /// ```
    pub fn pending_input(&self) -> usize {
        self.rx.hdr.len() + self.rx.msg.len() + self.rx.ctl.len() + self.held.len()
    }

    /// Calls the inner protocol with this layer's view, then settles.
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut P, &mut dyn DatagramTransport),
    ) {
        if !self.st.started {
            return;
        }
        f(&mut self.inner, &mut WsView::new(t, &mut self.st));
        self.settle(t);
    }

    /// Starts the inner protocol (once).
    fn start(&mut self, t: &mut dyn StreamTransport) {
        self.st.started = true;
        if let Some(every) = self.st.cfg.ping_interval {
            self.st.timers.set_after(Timer::Ping, t.now(), every);
        }
        self.call(t, |p, v| p.connection_made(v));
    }

    /// This layer's settle step: parse input kept while paused once
    /// resumed, then a pending EOF.
    fn settle(&mut self, t: &mut dyn StreamTransport) {
        if self.st.close_sent && !self.st.timers.is_armed(Timer::Close) && !self.st.dead {
            self.st
                .timers
                .set_after(Timer::Close, t.now(), self.st.cfg.close_timeout);
        }
        if self.st.paused || self.st.dead {
            return;
        }
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            let pos = feed(&mut self.inner, &mut self.rx, &mut self.st, t, &held);
            if self.st.dead {
                return;
            }
            self.held = held;
            self.held.drain(..pos);
            if self.st.paused {
                return;
            }
        }
        if self.st.eof == Eof::Pending && self.held.is_empty() {
            self.st.eof = Eof::Delivered;
            self.st.stream_ended(&mut self.inner, t);
        }
    }

    /// A client checks the server's answer once its head is known.
    fn check_answer(&mut self, t: &mut dyn StreamTransport) {
        let Hs::Client(hs) = &self.st.hs else {
            return;
        };
        let Some(head) = t.response_head() else {
            return;
        };
        match hs.check(head) {
            Ok(agreed) => {
                self.st.hs = Hs::Done;
                self.st.timers.stop(Timer::Handshake);
                self.st.caps.subprotocol = agreed.subprotocol.map(Subprotocol);
                let role = self.st.role;
                self.st.deflate = agreed.deflate.map(|p| Deflate::new(p, role));
            }
            Err(e) => {
                self.st.hs = Hs::Done;
                tracing::debug!(error = %e, "websocket: the server refused the handshake");
                self.st.dead = true;
                let why = Close::aborted(WS, AbortReason::layer(e));
                self.st.outcome = Some(why.clone());
                t.abort(why);
            }
        }
    }

    /// A server checks the request and answers it.
    fn accept(&mut self, t: &mut dyn StreamTransport) {
        self.st.hs = Hs::Done;
        let Some(req) = t.request_head() else {
            self.st.dead = true;
            return t.abort(Close::aborted(WS, AbortReason::layer(WsError::NotHttp)));
        };
        match handshake::server_accept(req, &self.st.cfg.subprotocols, self.st.cfg.deflate) {
            Ok(ok) => {
                if t.send_response(ok.head).is_err() {
                    self.st.dead = true;
                    return t.abort(Close::aborted(WS, AbortReason::layer(WsError::NotHttp)));
                }
                self.st.caps.subprotocol = ok.subprotocol.map(Subprotocol);
                self.st.deflate = ok.deflate.map(|p| Deflate::new(p, Role::Server));
                self.start(t);
            }
            Err(e) => {
                tracing::debug!(error = %e, "websocket: refusing a handshake");
                let status = match e {
                    WsError::BadRequest { status, .. } => status,
                    _ => 400,
                };
                self.st.dead = true;
                let _ = t.send_response(handshake::refusal(status));
                t.close();
            }
        }
    }
}

impl State {
    /// Fills `out` from the generator, seeding it from the OS on first use.
    fn fill(&mut self, out: &mut [u8]) -> Result<(), WsError> {
        if self.rng.is_none() {
            let mut seed = [0u8; 32];
            ring::rand::SystemRandom::new()
                .fill(&mut seed)
                .map_err(|_| WsError::NoRandom)?;
            self.rng = Some(ChaCha20Rng::from_seed(seed));
        }
        if let Some(r) = &mut self.rng {
            r.fill_bytes(out);
        }
        Ok(())
    }

    /// Writes one frame (masked by a client), split into fragments for data.
    pub(super) fn send_frame(
        &mut self,
        t: &mut dyn StreamTransport,
        fin: bool,
        op: Opcode,
        payload: &[u8],
    ) {
        self.send_frame_rsv(t, fin, false, op, payload);
    }

    /// [`send_frame`](Self::send_frame), with RSV1 (a compressed message's
    /// first frame) when `rsv1`.
    fn send_frame_rsv(
        &mut self,
        t: &mut dyn StreamTransport,
        fin: bool,
        rsv1: bool,
        op: Opcode,
        payload: &[u8],
    ) {
        let mask = if self.role == Role::Client {
            let mut k = [0u8; 4];
            if let Err(e) = self.fill(&mut k) {
                self.dead = true;
                return t.abort(Close::aborted(WS, AbortReason::layer(e)));
            }
            Some(k)
        } else {
            None
        };
        let mut hdr = [0u8; MAX_HEADER];
        let n = encode_header(&mut hdr, fin, op, payload.len(), mask).len();
        if rsv1 {
            hdr[0] |= 0x40;
        }
        self.counters.sent(n + payload.len());
        self.counters.frame_sent();
        t.write(&hdr[..n]);
        match mask {
            None => t.write(payload),
            Some(k) => {
                let mut masked = payload.to_vec();
                apply_mask(&mut masked, k, 0);
                t.write(&masked);
            }
        }
    }

    /// Sends a data message, in fragments over `fragment_size`.
    pub(super) fn send_message(
        &mut self,
        t: &mut dyn StreamTransport,
        kind: MessageKind,
        data: &[u8],
    ) {
        if self.close_sent || self.dead {
            return;
        }
        let size = self.cfg.fragment_size.max(1);
        let first = match kind {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        };
        let compressed = self.deflate.as_mut().map(|d| d.compress(data));
        let rsv1 = compressed.is_some();
        let data = compressed.as_deref().unwrap_or(data);
        if data.len() <= size {
            return self.send_frame_rsv(t, true, rsv1, first, data);
        }
        let n = data.len().div_ceil(size);
        for (i, chunk) in data.chunks(size).enumerate() {
            let op = if i == 0 { first } else { Opcode::Continuation };
            self.send_frame_rsv(t, i + 1 == n, rsv1 && i == 0, op, chunk);
        }
    }

    /// Sends our close frame (once): `code` with `reason`, or none.
    pub(super) fn send_close(
        &mut self,
        t: &mut dyn StreamTransport,
        code: Option<u16>,
        reason: &str,
    ) {
        if self.close_sent || self.dead && !self.close_received {
            return;
        }
        self.close_sent = true;
        let mut payload = Vec::with_capacity(2 + reason.len());
        if let Some(c) = code {
            payload.extend_from_slice(&c.to_be_bytes());
            // A control payload is at most 125 bytes: cut at a char boundary.
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            payload.extend_from_slice(&reason.as_bytes()[..end]);
        }
        self.send_frame(t, true, Opcode::Close, &payload);
    }

    /// Fails the connection: a close frame with the error's code, then the
    /// stream is closed; the inner protocol will hear of `err`.
    pub(super) fn fail(&mut self, t: &mut dyn StreamTransport, err: WsError) {
        tracing::debug!(error = %err, "websocket: failing the connection");
        if let Some(code) = err.close_code() {
            self.send_close(t, Some(code), "");
        }
        self.dead = true;
        self.timers.stop_all();
        if self.outcome.is_none() {
            self.outcome = Some(Close::aborted(WS, AbortReason::layer(err)));
        }
        t.close();
    }

    /// The stream below ended (its EOF, after the input before it).
    fn stream_ended<P: DatagramProtocol>(&mut self, inner: &mut P, t: &mut dyn StreamTransport) {
        if self.close_received {
            return;
        }
        if !self.close_sent && self.outcome.is_none() {
            self.outcome = Some(Close::aborted(
                WS,
                AbortReason::layer(WsError::NoCloseFrame),
            ));
        }
        self.dead = true;
        if self.started {
            inner.eof_received(&mut WsView::new(t, self));
        }
        self.timers.stop_all();
        t.close();
    }
}

impl<P: DatagramProtocol + 'static> StreamProtocol for WebSocket<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        match self.st.hs {
            Hs::Server => self.accept(t),
            Hs::Client(_) => {
                let d = self.st.cfg.handshake_timeout;
                self.st.timers.set_after(Timer::Handshake, t.now(), d);
                self.start(t);
            }
            Hs::Done => self.start(t),
        }
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.check_answer(t);
        if self.st.dead {
            return;
        }
        self.st.counters.received(data.len());
        if let Some(every) = self.st.cfg.ping_interval {
            self.st.ping_outstanding = false;
            self.st.timers.set_after(Timer::Ping, t.now(), every);
        }
        if self.held.is_empty() && !self.st.paused {
            let pos = feed(&mut self.inner, &mut self.rx, &mut self.st, t, data);
            if !self.st.dead {
                self.held.extend_from_slice(&data[pos..]);
            }
        } else {
            self.held.extend_from_slice(data);
        }
        self.settle(t);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.check_answer(t);
        if self.st.dead || self.st.eof != Eof::No {
            return;
        }
        self.st.eof = Eof::Pending;
        self.settle(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.rx = Rx::default();
        self.held = Vec::new();
        if self.st.started {
            let why = self.st.outcome.take().unwrap_or_else(|| why.clone());
            self.inner.connection_lost(&why);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let inner = if self.st.started {
            self.inner.next_deadline()
        } else {
            None
        };
        earliest(self.st.timers.next_deadline(), inner)
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let now = t.now();
        self.check_answer(t);
        while let Some(timer) = self.st.timers.pop_due(now) {
            match timer {
                Timer::Handshake => {
                    if matches!(self.st.hs, Hs::Client(_)) {
                        self.st.dead = true;
                        self.st.outcome = Some(Close::Timeout(Timeout::Handshake));
                        return t.abort(Close::Timeout(Timeout::Handshake));
                    }
                }
                Timer::Close => {
                    self.st.dead = true;
                    self.st.outcome = Some(Close::Timeout(Timeout::CloseFlush));
                    return t.abort(Close::Timeout(Timeout::CloseFlush));
                }
                Timer::Ping => {
                    if self.st.dead || self.st.close_sent {
                        continue;
                    }
                    if self.st.ping_outstanding {
                        return self.st.fail(t, WsError::PingTimeout);
                    }
                    self.st.ping_outstanding = true;
                    self.st.send_frame(t, true, Opcode::Ping, b"strata");
                    if let Some(every) = self.st.cfg.ping_interval {
                        self.st.timers.set_after(Timer::Ping, now, every);
                    }
                }
            }
        }
        if !self.st.dead {
            self.call(t, |p, v| p.on_deadline(v));
        }
    }

    /// A server going down closes with 1001 (going away), unless the inner
    /// protocol chooses another code.
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        if !self.st.started || self.st.dead {
            return t.close();
        }
        self.st
            .caps
            .close_with
            .0
            .borrow_mut()
            .get_or_insert_with(|| (1001, "going away".to_owned()));
        self.call(t, |p, v| p.on_shutdown(v));
    }

    // The rest reaches the inner protocol through the view, then settles.
    crate::forward_to_inner!(inner via call,
        except connection_made, connection_lost, next_deadline, on_deadline, on_shutdown);
}

impl<P> std::fmt::Debug for WebSocket<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.st.role)
            .field("message", &self.rx.msg.len())
            .field("paused", &self.st.paused)
            .field("close_sent", &self.st.close_sent)
            .field("close_received", &self.st.close_received)
            .finish_non_exhaustive()
    }
}
