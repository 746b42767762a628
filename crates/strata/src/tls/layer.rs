//! [`Tls`]: the TLS layer over rustls' buffered, sans-IO API.

use std::io::Read;
use std::marker::PhantomData;
use std::time::Instant;

use crate::qlog::QlogTrace;
use crate::tls::qlog::TlsQlog;
use crate::tls::state::State;
use crate::tls::view::TlsView;
use crate::tls::{TlsConfig, TlsError, TlsInfo};
use crate::{Close, ProtocolSlot, StreamLayer, StreamProtocol, StreamTransport};

/// The most plaintext delivered in one `data_received` (rustls keeps about
/// this much decrypted input before it refuses more).
const READ_CHUNK: usize = 16 * 1024;

/// A TLS layer (client or server) over any stream transport, owning the
/// protocol above it. See the [module documentation](crate::tls) for the
/// driving contract.
///
/// The protocol above is held in a [`ProtocolSlot`]: it may swap itself
/// (an ALPN choice, STARTTLS inside TLS) and the swap is applied here, above
/// this layer, which stays in place. `P` is the type the layer was built
/// with; after a swap the protocol above may be another.
///
/// ```
/// use std::sync::Arc;
/// use strata::tls::{Tls, TlsConfig};
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Hello;
/// impl StreamProtocol for Hello {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello") }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let client = rustls::ClientConfig::builder_with_provider(provider)
///     .with_safe_default_protocol_versions()
///     .unwrap()
///     .with_root_certificates(rustls::RootCertStore::empty())
///     .with_no_client_auth();
/// let cfg = TlsConfig::client(Arc::new(client), "example.test".try_into().unwrap());
/// let tls = Tls::new(Hello, &cfg).unwrap();
/// let mut stack = Stack::memory(Box::new(tls));
/// let now = stack.now();
/// // The ClientHello went out; the plaintext waits for the handshake.
/// let hello = stack.take_output(now);
/// assert_eq!(hello[0], 0x16, "a TLS handshake record");
/// assert!(!hello.windows(5).any(|w| w == b"hello"));
/// ```
pub struct Tls<P> {
    inner: ProtocolSlot,
    built_with: PhantomData<fn() -> P>,
    st: State,
    /// Undecrypted input rustls has not taken yet (while the inner protocol's
    /// read pause holds it back).
    held: Vec<u8>,
    /// Where plaintext is read out of rustls before it is handed up.
    scratch: Vec<u8>,
    lost: bool,
}

impl<P: StreamProtocol + 'static> Tls<P> {
    /// A layer in the role `cfg` says, around `inner`. Fails only when rustls
    /// refuses the configuration.
    ///
    /// ```
    /// use strata::tls::{ClientTls, Tls};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let cfg = ClientTls::new("localhost").unwrap().insecure().build().unwrap();
    /// let tls = Tls::new(Quiet, &cfg).unwrap();
    /// assert!(tls.is_handshaking() && tls.info().is_none());
    /// ```
    pub fn new(inner: P, cfg: &TlsConfig) -> Result<Self, TlsError> {
        let (conn, sni) = cfg.connect().map_err(TlsError::Config)?;
        Ok(Self::with_connection(inner, conn, sni, cfg))
    }

    pub(crate) fn with_connection(
        inner: P,
        conn: rustls::Connection,
        sni: Option<String>,
        cfg: &TlsConfig,
    ) -> Self {
        Tls {
            inner: ProtocolSlot::from_protocol(inner),
            built_with: PhantomData,
            st: State::new(conn, sni, cfg.limits()),
            held: Vec::new(),
            scratch: Vec::new(),
            lost: false,
        }
    }

    /// The protocol above (after a swap above this layer, the new one).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Quiet(Vec<u8>);
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let client_cfg = ClientTls::new("localhost").unwrap().insecure().alpn(["h2"]).build().unwrap();
    /// # let server_cfg = ServerTls::new(&Identity::localhost().unwrap()).alpn(["h2"]).build().unwrap();
    /// use strata::tls::Tls;
    /// let tls = Tls::new(Quiet(b"kept".to_vec()), &client_cfg).unwrap();
    /// let inner = tls.inner() as &dyn std::any::Any;
    /// assert_eq!(inner.downcast_ref::<Quiet>().unwrap().0, b"kept");
    /// ```
    pub fn inner(&self) -> &dyn StreamProtocol {
        self.inner.get()
    }

    /// The protocol above, mutably.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Quiet(Vec<u8>);
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let client_cfg = ClientTls::new("localhost").unwrap().insecure().alpn(["h2"]).build().unwrap();
    /// # let server_cfg = ServerTls::new(&Identity::localhost().unwrap()).alpn(["h2"]).build().unwrap();
    /// use strata::tls::Tls;
    /// let mut tls = Tls::new(Quiet::default(), &client_cfg).unwrap();
    /// let inner = tls.inner_mut() as &mut dyn std::any::Any;
    /// inner.downcast_mut::<Quiet>().unwrap().0.push(1);
    /// assert_eq!((tls.inner() as &dyn std::any::Any).downcast_ref::<Quiet>().unwrap().0, [1]);
    /// ```
    pub fn inner_mut(&mut self) -> &mut dyn StreamProtocol {
        self.inner.get_mut()
    }

    /// What the handshake agreed, once it completed.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Quiet(Vec<u8>);
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let client_cfg = ClientTls::new("localhost").unwrap().insecure().alpn(["h2"]).build().unwrap();
    /// # let server_cfg = ServerTls::new(&Identity::localhost().unwrap()).alpn(["h2"]).build().unwrap();
    /// use strata::tls::Tls;
    /// let client = Tls::new(Quiet::default(), &client_cfg).unwrap();
    /// let server = Tls::new(Quiet::default(), &server_cfg).unwrap();
    /// assert!(client.info().is_none(), "before the handshake");
    /// let mut pump = Pump::new(Box::new(client), Box::new(server));
    /// pump.run(Duration::from_secs(1));
    /// let info = pump.a().protocol::<Tls<Quiet>>().unwrap().info().unwrap();
    /// assert_eq!(info.alpn.as_deref(), Some(&b"h2"[..]));
    /// ```
    pub fn info(&self) -> Option<&TlsInfo> {
        self.st.info.as_ref()
    }

    /// True until the handshake completes.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::tls::{ClientTls, Identity, ServerTls};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # #[derive(Default)]
    /// # struct Quiet(Vec<u8>);
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let client_cfg = ClientTls::new("localhost").unwrap().insecure().alpn(["h2"]).build().unwrap();
    /// # let server_cfg = ServerTls::new(&Identity::localhost().unwrap()).alpn(["h2"]).build().unwrap();
    /// use strata::tls::Tls;
    /// let client = Tls::new(Quiet::default(), &client_cfg).unwrap();
    /// let server = Tls::new(Quiet::default(), &server_cfg).unwrap();
    /// assert!(client.is_handshaking());
    /// let mut pump = Pump::new(Box::new(client), Box::new(server));
    /// pump.run(Duration::from_secs(1));
    /// assert!(!pump.a().protocol::<Tls<Quiet>>().unwrap().is_handshaking());
    /// ```
    pub fn is_handshaking(&self) -> bool {
        self.st.handshaking()
    }

    /// Starts the handshake clock and sends what rustls has to say first
    /// (a client's ClientHello), on the first call with a transport.
    fn start(&mut self, t: &mut dyn StreamTransport) {
        if !self.st.started {
            self.st.started = true;
            self.st.deadline = Some(t.now() + self.st.limits.handshake_timeout);
            if let Some(q) = t.get::<QlogTrace>() {
                let client = matches!(self.st.conn, rustls::Connection::Client(_));
                let sni = self.st.client_sni.as_deref();
                self.st.qlog = Some(TlsQlog::new(q.clone(), client, sni, t.now()));
            }
            self.st.flush(t);
        }
    }

    /// Calls the inner protocol with this layer's view, then settles.
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut ProtocolSlot, &mut dyn StreamTransport),
    ) {
        if !self.st.dead {
            f(&mut self.inner, &mut TlsView::new(t, &mut self.st));
        }
        self.settle(t, &[]);
    }

    /// This layer's settle step, after every input and every call into the
    /// inner protocol: feed `src` (and held input) to rustls, hand plaintext
    /// and EOF up while the inner protocol reads, deliver write-pause edges,
    /// and hold whatever cannot be taken now, pausing below past the limit.
    fn settle(&mut self, t: &mut dyn StreamTransport, src: &[u8]) {
        let used = self.run(t, src);
        if !self.st.dead {
            self.held.extend_from_slice(&src[used..]);
        }
        let limit = self.st.limits.max_held_input;
        if self.st.dead {
            self.held = Vec::new();
            return;
        }
        // Pause below while the protocol above is paused and this layer
        // still holds input for it (decrypted, undecrypted, or a close_notify
        // not yet delivered), and whenever held input passes the limit. Then
        // the bottom slot stashes what follows, including the transport's
        // EOF, instead of seeing both directions end while data is pending.
        let holding = self.st.read_paused
            && (self.st.plain > 0
                || !self.held.is_empty()
                || (self.st.peer_closed && !self.st.eof_delivered));
        let pause = holding || self.held.len() > limit;
        if pause != self.st.below_read_paused {
            self.st.below_read_paused = pause;
            if pause {
                t.pause_reading();
            } else {
                t.resume_reading();
            }
        }
    }

    /// Loops until nothing changes; returns how much of `src` was taken.
    fn run(&mut self, t: &mut dyn StreamTransport, src: &[u8]) -> usize {
        let mut used = 0;
        loop {
            if self.st.dead {
                return src.len();
            }
            let reading = !self.st.read_paused;
            if reading && self.st.plain > 0 {
                self.deliver_chunk(t);
                continue;
            }
            if reading && self.st.peer_closed && !self.st.eof_delivered {
                self.st.eof_delivered = true;
                self.inner.eof_received(&mut TlsView::new(t, &mut self.st));
                continue;
            }
            if self.st.peer_closed {
                // Nothing may follow close_notify: whatever does is dropped.
                self.held.clear();
                used = src.len();
            }
            if reading || self.st.plain < READ_CHUNK {
                if !self.held.is_empty() {
                    let buf = std::mem::take(&mut self.held);
                    let n = self.feed(t, &buf);
                    self.held = buf;
                    self.held.drain(..n.min(self.held.len()));
                    continue;
                }
                if used < src.len() {
                    used += self.feed(t, &src[used..]);
                    continue;
                }
            }
            if self.st.below_eof
                && !self.st.peer_closed
                && self.held.is_empty()
                && used == src.len()
                && self.st.plain == 0
            {
                let err = if self.st.handshaking() {
                    TlsError::HandshakeTruncated
                } else {
                    TlsError::Truncated
                };
                self.st.fail(t, err);
                continue;
            }
            let pause = self.st.below_write_paused || self.st.own_write_pause();
            if pause != self.st.inner_write_paused {
                self.st.inner_write_paused = pause;
                let mut v = TlsView::new(t, &mut self.st);
                if pause {
                    self.inner.pause_writing(&mut v);
                } else {
                    self.inner.resume_writing(&mut v);
                }
                continue;
            }
            return used;
        }
    }

    /// Gives rustls one read's worth of `src` and processes it. Returns how
    /// many bytes rustls took (all of them once it will take no more).
    fn feed(&mut self, t: &mut dyn StreamTransport, src: &[u8]) -> usize {
        let mut rd = src;
        if let Err(e) = self.st.conn.read_tls(&mut rd) {
            self.st.fail(t, TlsError::InputRefused(e.to_string()));
            return src.len();
        }
        let n = src.len() - rd.len();
        self.st.counters.received(n);
        if let Some(q) = self.st.qlog.as_mut() {
            q.received(t.now(), &src[..n]);
        }
        match self.st.conn.process_new_packets() {
            Ok(io) => {
                self.st.plain = io.plaintext_bytes_to_read();
                self.st.peer_closed |= io.peer_has_closed();
                if self.st.handshaking() && !self.st.conn.is_handshaking() {
                    self.st.handshake_done(t);
                }
                self.st.flush(t);
            }
            Err(e) => {
                self.st.fail(t, e.into());
                return src.len();
            }
        }
        // rustls takes nothing after close_notify: drop the rest.
        if n == 0 {
            src.len()
        } else {
            n
        }
    }

    /// Hands one chunk of decrypted input to the inner protocol.
    fn deliver_chunk(&mut self, t: &mut dyn StreamTransport) {
        let want = self.st.plain.min(READ_CHUNK);
        if self.scratch.len() < want {
            self.scratch.resize(want, 0);
        }
        match self.st.conn.reader().read(&mut self.scratch[..want]) {
            Ok(n) if n > 0 => {
                self.st.plain = self.st.plain.saturating_sub(n);
                let mut v = TlsView::new(t, &mut self.st);
                self.inner.data_received(&mut v, &self.scratch[..n]);
            }
            // Nothing left after all (the count is refreshed on every
            // process): close_notify, or no data yet.
            _ => self.st.plain = 0,
        }
    }
}

impl<P: StreamProtocol + 'static> StreamProtocol for Tls<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.start(t);
        self.call(t, |p, v| p.connection_made(v));
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.st.dead {
            return;
        }
        self.start(t);
        self.settle(t, data);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if self.st.dead || self.st.below_eof {
            return;
        }
        self.st.below_eof = true;
        self.settle(t, &[]);
    }

    fn connection_lost(&mut self, why: &Close) {
        if std::mem::replace(&mut self.lost, true) {
            return;
        }
        self.st.dead = true;
        self.held = Vec::new();
        self.scratch = Vec::new();
        let reason = self.st.failed.take().unwrap_or_else(|| why.clone());
        self.inner.connection_lost(&reason);
    }

    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.st.below_write_paused = true;
        self.settle(t, &[]);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.st.below_write_paused = false;
        self.settle(t, &[]);
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.st.dead {
            return None;
        }
        let own = self.st.deadline.filter(|_| self.st.handshaking());
        match (own, self.inner.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.st.dead {
            return;
        }
        self.start(t);
        let now = t.now();
        if self.st.handshaking() && self.st.deadline.is_some_and(|d| d <= now) {
            self.st.time_out(t);
            return;
        }
        self.call(t, |p, v| p.on_deadline(v));
    }

    fn buffered(&self) -> usize {
        // A dead layer sends nothing more: neither its queued plaintext nor
        // what the protocol above still holds may keep a close open.
        if self.st.dead {
            return 0;
        }
        self.st.early + self.inner.buffered()
    }

    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&self.inner)
    }

    // Wakes and the shutdown notice reach the protocol above through the
    // view, then settle; the rest is TLS's own.
    crate::forward_to_inner!(inner via call, except connection_made, connection_lost,
        pause_writing, resume_writing, next_deadline, on_deadline, buffered);
}

impl<P: StreamProtocol + 'static> StreamLayer for Tls<P> {
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        // An inserted layer gets no connection_made: start here.
        self.start(t);
        self.call(t, |p, v| p.with_transport(v, f));
    }
}

impl<P> std::fmt::Debug for Tls<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("info", &self.st.info)
            .field("early", &self.st.early)
            .field("held", &self.held.len())
            .field("read_paused", &self.st.read_paused)
            .field("dead", &self.st.dead)
            .finish_non_exhaustive()
    }
}
