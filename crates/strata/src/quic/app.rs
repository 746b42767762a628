//! The connection-level contract: [`QuicApp`] runs over one connection and
//! sees it as a [`QuicConnection`].

use std::time::Instant;

use bytes::Bytes;

use super::{Dir, StreamError, StreamId};
use crate::{Close, Introspect, Wake, WakeRoute};

/// The connection as a connection-level application (HTTP/3, [`PerStream`](super::PerStream))
/// sees it. Writes never block: `write` takes what flow control allows and
/// returns how much.
///
/// Capabilities through `get::<T>()` (`(c as &dyn Introspect).get`):
/// [`AppProtocol`](crate::AppProtocol), [`PeerCertificates`](super::PeerCertificates),
/// [`PathStats`](super::PathStats), [`PeerAddr`](crate::PeerAddr), and
/// those of the datagram transport below.
///
/// ```
/// use strata::quic::{Dir, QuicApp, QuicConnection, StreamId};
/// /// Sends "hi" on a new stream once the handshake is done.
/// struct Hello;
/// impl QuicApp for Hello {
///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
///         if let Some(id) = c.open(Dir::Uni) {
///             let _ = c.write(id, b"hi");
///             let _ = c.finish(id);
///         }
///     }
///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
/// }
/// ```
pub trait QuicConnection: Introspect {
    /// The current time, from the driver.
    fn now(&self) -> Instant;
    /// True on the server's side of the connection.
    fn is_server(&self) -> bool;
    /// The negotiated ALPN protocol.
    fn alpn(&self) -> Option<&[u8]>;
    /// A new locally opened stream, or `None` at the peer's stream limit (then
    /// [`QuicApp::streams_available`] follows when credit arrives).
    fn open(&mut self, dir: Dir) -> Option<StreamId>;
    /// Bytes accepted: all of `data`, or fewer (0 when none fits) when flow
    /// control stopped it; a short write is always followed by
    /// [`QuicApp::stream_writable`] once credit comes back.
    fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError>;
    /// FIN.
    fn finish(&mut self, id: StreamId) -> Result<(), StreamError>;
    /// RESET_STREAM with an application code.
    fn reset(&mut self, id: StreamId, code: u64);
    /// STOP_SENDING with an application code.
    fn stop_sending(&mut self, id: StreamId, code: u64);
    /// Stop delivering `stream_data` for `id` (unread data then stops
    /// opening the flow-control window, which slows the peer).
    fn pause_reading(&mut self, id: StreamId);
    /// Restart delivering `stream_data` for `id`.
    fn resume_reading(&mut self, id: StreamId);
    /// An unreliable DATAGRAM frame (RFC 9221); Err when the peer did not
    /// enable them or it is too large, or, while early, when it would pass
    /// [`MAX_EARLY_BYTES`](super::MAX_EARLY_BYTES).
    fn send_datagram(&mut self, data: Bytes) -> Result<(), StreamError>;
    /// The largest DATAGRAM payload the peer accepts now (`None`: disabled).
    fn max_datagram_size(&self) -> Option<usize>;
    /// CONNECTION_CLOSE with an application error code and reason.
    fn close(&mut self, code: u64, reason: &[u8]);
    /// A handle that reaches [`QuicApp::on_wake`] from any thread.
    fn waker(&self) -> Wake;
    /// True while the app runs ahead of the handshake, which only happens
    /// with [`QuicConfig::zero_rtt`](super::QuicConfig::zero_rtt): on the
    /// client what it sends now leaves in 0-RTT packets (the server may
    /// reject them, or an attacker replay them); on the server the client
    /// has not finished its handshake yet, so what arrived came in 0-RTT and
    /// may be a replay. False once [`QuicApp::zero_rtt_accepted`] or
    /// [`QuicApp::zero_rtt_rejected`] was called. See `docs/quic.md`, "0-RTT".
    fn is_early(&self) -> bool {
        false
    }
}

/// A capability of a `quic-stream` transport (and of the connection, where
/// it says whether the connection is early now): true when the stream was
/// opened while the connection was early. On a server its first bytes came
/// in 0-RTT and may be a replay (RFC 8446 §8): act on them only if doing it
/// twice is harmless (an idempotent request). On a client its first bytes
/// left in 0-RTT.
///
/// ```
/// use strata::quic::EarlyData;
/// # use strata::{StreamProtocol, StreamTransport};
/// struct Careful;
/// impl StreamProtocol for Careful {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
///         if t.get::<EarlyData>() == Some(&EarlyData(true)) && d.starts_with(b"POST") {
///             t.write(b"425 too early\n"); // RFC 8470's answer
///         } else {
///             t.write(d);
///         }
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// assert_eq!(EarlyData::default(), EarlyData(false));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EarlyData(pub bool);

/// A connection-level application over one QUIC connection. All calls come
/// from the layer, one at a time; the default methods do nothing.
///
/// ```
/// use strata::quic::{QuicApp, QuicConnection, StreamId};
/// /// Echoes every stream back on itself.
/// struct Echo;
/// impl QuicApp for Echo {
///     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
///         let _ = c.write(id, data); // a real app keeps what was refused
///     }
///     fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
///         let _ = c.finish(id);
///     }
/// }
/// ```
#[allow(unused_variables)]
pub trait QuicApp: Send {
    /// The handshake finished (ALPN known), or, with
    /// [`QuicConfig::zero_rtt`](super::QuicConfig::zero_rtt), the app may
    /// start early ([`QuicConnection::is_early`]): on a client as soon as
    /// 0-RTT keys exist, on a server once the client's hello is read.
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {}
    /// The peer opened a stream (called before its first `stream_data`).
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// Bytes arrived on a stream, in order.
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]);
    /// The peer's FIN (after its last `stream_data`).
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// The peer reset its sending side (RESET_STREAM).
    fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {}
    /// The peer asked us to stop sending (STOP_SENDING).
    fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {}
    /// Everything we sent on the stream, FIN included, was acknowledged (or
    /// the peer stopped it), or the RESET_STREAM that ended it was: closing
    /// the connection now loses nothing of it.
    fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// Flow-control credit came back after a short `write`.
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// The peer raised its limit: `open(dir)` may succeed again.
    fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {}
    /// A DATAGRAM frame arrived.
    fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {}
    /// The earliest time the app wants `on_deadline`.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// A deadline passed (spurious calls are allowed).
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {}
    /// A waker from [`QuicConnection::waker`] was woken.
    fn on_wake(&mut self, c: &mut dyn QuicConnection) {}
    /// A wake with the rest of its route (the hops below the connection,
    /// for an app that hands wakers to its own children); the default
    /// calls [`on_wake`](QuicApp::on_wake).
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        self.on_wake(c)
    }
    /// The owner is shutting down gracefully (the server's drain): the
    /// default closes the connection with code 0 at once; an app with a
    /// goodbye of its own (HTTP/3's GOAWAY) sends it and closes once its
    /// streams are done. The driver's drain deadline bounds the wait.
    fn on_shutdown(&mut self, c: &mut dyn QuicConnection) {
        c.close(0, b"shutting down");
    }
    /// Whether this app keeps the 0-RTT contract: it may start early
    /// ([`QuicConnection::is_early`]), takes care of what replays can do
    /// (on a server: [`EarlyData`]), and, on a client, handles
    /// [`zero_rtt_rejected`](QuicApp::zero_rtt_rejected). Asked before
    /// `connection_made`; only an app that answers true starts early, and
    /// only with [`QuicConfig::zero_rtt`](super::QuicConfig::zero_rtt) on.
    /// The default is false: such an app starts after the handshake, as
    /// without 0-RTT (a server's app then never sees a replay: a replayed
    /// hello cannot finish the handshake).
    /// [`PerStream`](super::PerStream) answers true.
    fn early_data(&self) -> bool {
        false
    }
    /// The handshake finished after [`connection_made`](QuicApp::connection_made)
    /// came early ([`QuicConnection::is_early`]). On the client the server
    /// accepted the 0-RTT data: the streams go on as they are. On the server
    /// the client finished its handshake: what arrives from now on is not
    /// a replay.
    fn zero_rtt_accepted(&mut self, c: &mut dyn QuicConnection) {}
    /// Client only, instead of [`zero_rtt_accepted`](QuicApp::zero_rtt_accepted):
    /// the server refused the 0-RTT data. quinn-proto dropped every stream
    /// opened while early, with what was written on it (the server never saw
    /// any of it), and the stream ids start again from 0: an app that wants
    /// its requests to go through sends them again on new streams.
    /// [`PerStream`](super::PerStream) does that for its protocols.
    fn zero_rtt_rejected(&mut self, c: &mut dyn QuicConnection) {}
    /// The connection is gone; called once, last.
    fn connection_lost(&mut self, why: &Close) {}
}

/// Chooses the app of a new server connection by its negotiated ALPN
/// (`None`: close the connection, no application protocol).
///
/// ```
/// use std::sync::Arc;
/// use strata::quic::{AppFactory, PerStream, QuicApp};
/// use strata::StreamFactory;
/// # use strata::{StreamProtocol, StreamTransport};
/// # struct Echo;
/// # impl StreamProtocol for Echo {
/// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let echo: StreamFactory = Arc::new(|| Box::new(Echo));
/// let apps: AppFactory = Arc::new(move |alpn| match alpn {
///     Some(b"echo") => Some(Box::new(PerStream::new(echo.clone())) as Box<dyn QuicApp>),
///     _ => None,
/// });
/// assert!(apps(Some(b"h3")).is_none());
/// ```
pub type AppFactory =
    std::sync::Arc<dyn Fn(Option<&[u8]>) -> Option<Box<dyn QuicApp>> + Send + Sync>;
