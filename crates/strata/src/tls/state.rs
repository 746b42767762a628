//! The state a [`Tls`](crate::tls::Tls) layer shares with its view: the
//! rustls connection and the layer's flags, apart from the inner protocol so
//! that both can be borrowed at once.

use std::io;
use std::time::Instant;

use crate::tls::qlog::TlsQlog;
use crate::tls::{TlsError, TlsInfo, TlsLimits};
use crate::{AbortReason, Close, HalfClose, StreamTransport};

/// The layer name of [`Tls`](crate::tls::Tls), as in `layer_chain()`.
pub const TLS: &str = "tls";

/// Where the write direction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteSide {
    /// Plaintext is accepted.
    Open,
    /// The inner protocol called `write_eof` before the handshake completed
    /// (when it is not yet known whether the session can half-close): its
    /// queued plaintext, then the half-close (TLS 1.3) or the close (TLS 1.2)
    /// follow the handshake.
    EofWhenReady,
    /// The inner protocol closed before the handshake completed: its queued
    /// plaintext, `close_notify` and the close below follow the handshake.
    CloseWhenReady,
    /// `close_notify` was sent (or the layer failed): nothing more is written.
    Shut,
}

pub(crate) struct State {
    pub(crate) conn: rustls::Connection,
    pub(crate) limits: TlsLimits,
    pub(crate) client_sni: Option<String>,
    /// The layer has met its transport (connection_made or insertion).
    pub(crate) started: bool,
    /// The handshake deadline, while handshaking.
    pub(crate) deadline: Option<Instant>,
    /// What the handshake agreed, once it completed.
    pub(crate) info: Option<TlsInfo>,
    pub(crate) half_close: HalfClose,
    /// The core capability the layers above read ALPN from.
    pub(crate) app: crate::AppProtocol,
    /// Plaintext written before the handshake completed, held by rustls.
    pub(crate) early: usize,
    /// Decrypted bytes held by rustls, not yet delivered up.
    pub(crate) plain: usize,
    /// The inner protocol paused reading.
    pub(crate) read_paused: bool,
    /// This layer paused reading below (it holds too much input).
    pub(crate) below_read_paused: bool,
    /// The stack below delivered `pause_writing` (and no resume yet).
    pub(crate) below_write_paused: bool,
    /// The inner protocol got `pause_writing` (and no resume yet).
    pub(crate) inner_write_paused: bool,
    pub(crate) write: WriteSide,
    /// This layer closed the transport below.
    closed_below: bool,
    /// The peer's close_notify arrived.
    pub(crate) peer_closed: bool,
    /// The inner protocol got `eof_received`.
    pub(crate) eof_delivered: bool,
    /// The transport below delivered EOF.
    pub(crate) below_eof: bool,
    /// The reason this layer ended the connection with, for the inner
    /// protocol's `connection_lost`.
    pub(crate) failed: Option<Close>,
    /// Failed, aborted or lost: the layer does no more work.
    pub(crate) dead: bool,
    /// Record bytes in and out, plaintext held: a capability of the view.
    pub(crate) counters: crate::stats::Counters,
    /// The handshake's qlog events, while traced and handshaking.
    pub(crate) qlog: Option<Box<TlsQlog>>,
}

impl State {
    pub(crate) fn new(
        conn: rustls::Connection,
        client_sni: Option<String>,
        limits: TlsLimits,
    ) -> Self {
        let mut conn = conn;
        // This layer bounds plaintext itself (`writable`, the stack's budget
        // counts `early`) and moves every TLS record below as soon as rustls
        // makes it, so rustls' own write limit would only split writes.
        conn.set_buffer_limit(None);
        State {
            conn,
            limits,
            client_sni,
            started: false,
            deadline: None,
            info: None,
            half_close: HalfClose(false),
            app: crate::AppProtocol::Negotiating,
            early: 0,
            plain: 0,
            read_paused: false,
            below_read_paused: false,
            below_write_paused: false,
            inner_write_paused: false,
            write: WriteSide::Open,
            closed_below: false,
            peer_closed: false,
            eof_delivered: false,
            below_eof: false,
            failed: None,
            dead: false,
            counters: crate::stats::Counters::default(),
            qlog: None,
        }
    }

    pub(crate) fn handshaking(&self) -> bool {
        self.info.is_none()
    }

    /// Whether the inner protocol should be told to stop writing on this
    /// layer's account: too much plaintext waits for the handshake.
    pub(crate) fn own_write_pause(&self) -> bool {
        self.handshaking() && self.early >= self.limits.handshake_write_limit
    }

    pub(crate) fn writable(&self, below: &dyn StreamTransport) -> bool {
        !self.dead && self.write == WriteSide::Open && !self.own_write_pause() && below.writable()
    }

    /// Moves every TLS record rustls has made to the transport below.
    pub(crate) fn flush(&mut self, below: &mut dyn StreamTransport) {
        // The clock is read only when traced: untraced, one `Option` check.
        let tap = self.qlog.as_deref_mut().map(|q| (q, below.now()));
        let mut sink = Sink(below, tap);
        while self.conn.wants_write() {
            // The sink takes everything and never fails.
            match self.conn.write_tls(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.counters.sent(n),
            }
        }
    }

    /// Encrypts (or, during the handshake, queues) plaintext from above.
    pub(crate) fn write(&mut self, below: &mut dyn StreamTransport, data: &[u8]) {
        if self.dead || self.write != WriteSide::Open || data.is_empty() {
            return;
        }
        if let Err(e) = io::Write::write_all(&mut self.conn.writer(), data) {
            // With no buffer limit rustls accepts every write; this is an
            // internal fault, reported rather than hidden.
            let err = rustls::Error::General(format!("rustls refused plaintext: {e}"));
            self.fail(below, TlsError::Other(err));
            return;
        }
        if self.handshaking() {
            self.early += data.len();
            self.counters.buffered = self.early as u64;
        }
        self.flush(below);
    }

    /// `write_eof` from above: a half-close on TLS 1.3, a close otherwise;
    /// after the handshake when it is still running, since only the agreed
    /// version tells which (and queued plaintext goes first).
    pub(crate) fn write_eof(&mut self, below: &mut dyn StreamTransport) {
        if self.dead || self.write != WriteSide::Open {
            return;
        }
        if self.handshaking() {
            self.write = WriteSide::EofWhenReady;
            return;
        }
        self.end_writes(below);
    }

    /// The write side ends after the handshake: `close_notify` and keep
    /// reading where the session can half-close, a close otherwise.
    fn end_writes(&mut self, below: &mut dyn StreamTransport) {
        if !self.half_close.0 {
            self.close(below);
            return;
        }
        self.send_close_notify(below);
        // The peer already knows from close_notify; also end the transport's
        // write side where it can half-close, never closing our reading.
        let below_half_closes = below.get::<HalfClose>().is_some_and(|h| h.0);
        if below_half_closes {
            below.write_eof();
        }
    }

    /// `close` from above: close_notify, then close below; after the
    /// handshake when it is still running, so queued plaintext goes first.
    pub(crate) fn close(&mut self, below: &mut dyn StreamTransport) {
        if self.dead || self.closed_below {
            return;
        }
        if self.handshaking() {
            // A close overrides an earlier write_eof.
            if matches!(self.write, WriteSide::Open | WriteSide::EofWhenReady) {
                self.write = WriteSide::CloseWhenReady;
            }
            return;
        }
        self.send_close_notify(below);
        self.closed_below = true;
        below.close();
    }

    fn send_close_notify(&mut self, below: &mut dyn StreamTransport) {
        if self.write != WriteSide::Shut {
            self.conn.send_close_notify();
            self.write = WriteSide::Shut;
        }
        self.flush(below);
    }

    /// The handshake just completed: record what it agreed and carry out a
    /// close or `write_eof` asked for while it ran. rustls has already
    /// encrypted the plaintext queued meanwhile, in order.
    pub(crate) fn handshake_done(&mut self, below: &mut dyn StreamTransport) {
        let info = TlsInfo::of(&self.conn, self.client_sni.as_deref());
        tracing::debug!(
            version = ?info.version,
            suite = info.cipher_suite,
            alpn = ?info.alpn.as_deref().map(String::from_utf8_lossy),
            "tls: handshake complete"
        );
        if let Some(q) = self.qlog.take() {
            q.done(below.now(), &info);
        }
        self.half_close = HalfClose(info.is_tls13());
        self.app = crate::AppProtocol::Agreed(info.alpn.clone());
        self.info = Some(info);
        self.deadline = None;
        self.early = 0;
        self.counters.buffered = 0;
        self.flush(below);
        match self.write {
            WriteSide::CloseWhenReady => self.close(below),
            WriteSide::EofWhenReady => self.end_writes(below),
            WriteSide::Open | WriteSide::Shut => {}
        }
    }

    /// Ends the connection for `err`: the alert rustls queued goes out first.
    ///
    /// Plaintext queued for the handshake can never be sent: it is dropped
    /// from the count (and the layer's `buffered()` is 0 from now on), so a
    /// graceful close below finishes as soon as the alert is flushed.
    ///
    /// With an alert to deliver the transport below is closed gracefully
    /// (so the alert is flushed) and the typed reason is kept for the inner
    /// protocol's `connection_lost`; with nothing to deliver it is aborted
    /// with that reason.
    pub(crate) fn fail(&mut self, below: &mut dyn StreamTransport, err: TlsError) {
        if self.dead {
            return;
        }
        tracing::debug!(error = %err, "tls: connection failed");
        if let Some(q) = self.qlog.take() {
            q.failed(below.now(), &err.to_string());
        }
        let alert = self.conn.wants_write();
        self.flush(below);
        let why = Close::aborted(TLS, AbortReason::layer(err));
        self.failed = Some(why.clone());
        self.dead = true;
        self.early = 0;
        self.counters.buffered = 0;
        self.write = WriteSide::Shut;
        if alert {
            self.closed_below = true;
            below.close();
        } else {
            below.abort(why);
        }
    }

    /// The handshake ran out of time.
    pub(crate) fn time_out(&mut self, below: &mut dyn StreamTransport) {
        if self.dead {
            return;
        }
        tracing::debug!("tls: handshake timed out");
        if let Some(q) = self.qlog.take() {
            q.failed(below.now(), "handshake timed out");
        }
        let why = Close::Timeout(crate::Timeout::Handshake);
        self.failed = Some(why.clone());
        self.dead = true;
        self.early = 0;
        self.counters.buffered = 0;
        below.abort(why);
    }
}

/// Hands TLS records to the transport below.
/// While the handshake is traced, it shows them to the trace.
struct Sink<'a>(
    &'a mut dyn StreamTransport,
    Option<(&'a mut TlsQlog, Instant)>,
);

impl io::Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some((q, now)) = &mut self.1 {
            q.sent(*now, buf);
        }
        self.0.write(buf);
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            if let Some((q, now)) = &mut self.1 {
                q.sent(*now, b);
            }
            self.0.write(b);
            n += b.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
