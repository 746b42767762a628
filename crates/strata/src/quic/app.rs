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
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), on_start(move |c| tx.send(c.now()).unwrap()));
    /// let made_at = rx.try_recv().unwrap();
    /// // The handshake took one round trip (2 × 10 ms) of simulated time.
    /// assert!(made_at - strata::testing::epoch() >= Duration::from_millis(20));
    /// ```
    fn now(&self) -> Instant;
    /// True on the server's side of the connection.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let (tx, rx) = mpsc::channel();
    /// let on_server = tx.clone();
    /// QuicPair::exchange(
    ///     move || { let tx = on_server.clone(); on_start(move |c| tx.send(("server", c.is_server())).unwrap()) },
    ///     on_start(move |c| tx.send(("client", c.is_server())).unwrap()),
    /// );
    /// let mut seen: Vec<_> = rx.try_iter().collect();
    /// seen.sort();
    /// assert_eq!(seen, [("client", false), ("server", true)]);
    /// ```
    fn is_server(&self) -> bool;
    /// The negotiated ALPN protocol.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), on_start(move |c| tx.send(c.alpn().map(<[u8]>::to_vec)).unwrap()));
    /// assert_eq!(rx.try_recv().unwrap().as_deref(), Some(&b"demo"[..]));
    /// ```
    fn alpn(&self) -> Option<&[u8]>;
    /// A new locally opened stream, or `None` at the peer's stream limit (then
    /// [`QuicApp::streams_available`] follows when credit arrives).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), on_start(move |c| {
    ///     tx.send([c.open(Dir::Bi), c.open(Dir::Uni), c.open(Dir::Bi)]).unwrap()
    /// }));
    /// // The client's ids: bidirectional 0, 4, ...; unidirectional 2, 6, ...
    /// assert_eq!(rx.try_recv().unwrap(), [Some(StreamId(0)), Some(StreamId(2)), Some(StreamId(4))]);
    /// ```
    fn open(&mut self, dir: Dir) -> Option<StreamId>;
    /// Bytes accepted: all of `data`, or fewer (0 when none fits) when flow
    /// control stopped it; a short write is always followed by
    /// [`QuicApp::stream_writable`] once credit comes back.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let log = CallLog::default();
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&log), on_start(move |c| {
    ///     let id = c.open(Dir::Uni).unwrap();
    ///     tx.send(c.write(id, b"hello")).unwrap();
    ///     tx.send(c.write(StreamId(99), b"x")).unwrap(); // never opened
    /// }));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [Ok(5), Err(StreamError::UnknownStream)]);
    /// assert_eq!(log.lines(), ["opened 2", "data 2 hello"]);
    /// ```
    fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError>;
    /// FIN.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let log = CallLog::default();
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&log), on_start(move |c| {
    ///     let id = c.open(Dir::Uni).unwrap();
    ///     let _ = c.write(id, b"bye");
    ///     tx.send(c.finish(id)).unwrap();
    /// }));
    /// assert_eq!(rx.try_recv().unwrap(), Ok(()));
    /// assert_eq!(log.lines(), ["opened 2", "data 2 bye", "fin 2"]);
    /// ```
    fn finish(&mut self, id: StreamId) -> Result<(), StreamError>;
    /// RESET_STREAM with an application code.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let log = CallLog::default();
    /// QuicPair::exchange(Recorder::factory(&log), on_start(|c| {
    ///     let id = c.open(Dir::Uni).unwrap();
    ///     let _ = c.write(id, b"never mind");
    ///     c.reset(id, 7);
    /// }));
    /// assert_eq!(log.lines().last().unwrap(), "reset 2 7");
    /// ```
    fn reset(&mut self, id: StreamId, code: u64);
    /// STOP_SENDING with an application code.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// The server refuses every stream the client opens.
    /// struct Refuse;
    /// impl QuicApp for Refuse {
    ///     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
    ///         c.stop_sending(id, 9);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// }
    /// /// The client writes once, and again when told to stop.
    /// struct Writer(mpsc::Sender<Result<usize, StreamError>>);
    /// impl QuicApp for Writer {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.write(id, b"first");
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, _code: u64) {
    ///         self.0.send(c.write(id, b"more")).unwrap();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(|| Refuse, Writer(tx));
    /// assert_eq!(rx.try_recv().unwrap(), Err(StreamError::Stopped(9)));
    /// ```
    fn stop_sending(&mut self, id: StreamId, code: u64);
    /// Stop delivering `stream_data` for `id` (unread data then stops
    /// opening the flow-control window, which slows the peer).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// A server that reads nothing of the streams it is sent.
    /// struct Deaf(CallLog);
    /// impl QuicApp for Deaf {
    ///     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
    ///         c.pause_reading(id);
    ///         self.0.push(format!("paused {}", id.0));
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, id: StreamId, d: &[u8]) {
    ///         self.0.push(format!("data {}", id.0));
    ///     }
    /// }
    /// let log = CallLog::default();
    /// let l = log.clone();
    /// QuicPair::exchange(move || Deaf(l.clone()), on_start(|c| {
    ///     let id = c.open(Dir::Uni).unwrap();
    ///     let _ = c.write(id, b"unread");
    /// }));
    /// assert_eq!(log.lines(), ["paused 2"]);
    /// ```
    fn pause_reading(&mut self, id: StreamId);
    /// Restart delivering `stream_data` for `id`.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// A server that reads each stream only a second after it opened.
    /// struct Later { log: CallLog, paused: Vec<StreamId>, at: Option<std::time::Instant> }
    /// impl QuicApp for Later {
    ///     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
    ///         c.pause_reading(id);
    ///         self.paused.push(id);
    ///         self.at = Some(c.now() + Duration::from_secs(1));
    ///     }
    ///     fn next_deadline(&self) -> Option<std::time::Instant> { self.at }
    ///     fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
    ///         if self.at.is_some_and(|at| c.now() >= at) {
    ///             self.at = None;
    ///             self.log.push("resumed".into());
    ///             for id in self.paused.drain(..) {
    ///                 c.resume_reading(id);
    ///             }
    ///         }
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, d: &[u8]) {
    ///         self.log.push(String::from_utf8_lossy(d).into_owned());
    ///     }
    /// }
    /// let log = CallLog::default();
    /// let l = log.clone();
    /// QuicPair::exchange(move || Later { log: l.clone(), paused: vec![], at: None }, on_start(|c| {
    ///     let id = c.open(Dir::Uni).unwrap();
    ///     let _ = c.write(id, b"held back");
    /// }));
    /// assert_eq!(log.lines(), ["resumed", "held back"]);
    /// ```
    fn resume_reading(&mut self, id: StreamId);
    /// An unreliable DATAGRAM frame (RFC 9221); Err when the peer did not
    /// enable them or it is too large, or, while early, when it would pass
    /// [`MAX_EARLY_BYTES`](super::MAX_EARLY_BYTES).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let log = CallLog::default();
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&log), on_start(move |c| {
    ///     tx.send(c.send_datagram(Bytes::from_static(b"ping"))).unwrap();
    ///     tx.send(c.send_datagram(Bytes::from(vec![0; 64 << 10]))).unwrap(); // larger than a packet
    /// }));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [Ok(()), Err(StreamError::DatagramRejected)]);
    /// assert_eq!(log.lines(), ["datagram ping"]);
    /// ```
    fn send_datagram(&mut self, data: Bytes) -> Result<(), StreamError>;
    /// The largest DATAGRAM payload the peer accepts now (`None`: disabled).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), on_start(move |c| tx.send(c.max_datagram_size()).unwrap()));
    /// let max = rx.try_recv().unwrap().expect("the server enabled DATAGRAM frames");
    /// assert!(max > 1000 && max < 1500, "what one packet holds: {max}");
    /// ```
    fn max_datagram_size(&self) -> Option<usize>;
    /// CONNECTION_CLOSE with an application error code and reason.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Sends one message, and closes once the server has it.
    /// struct LastWords;
    /// impl QuicApp for LastWords {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.write(id, b"farewell");
    ///         let _ = c.finish(id);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn stream_acked(&mut self, c: &mut dyn QuicConnection, _: StreamId) {
    ///         c.close(42, b"done");
    ///     }
    /// }
    /// let log = CallLog::default();
    /// QuicPair::exchange(Recorder::factory(&log), LastWords);
    /// let last = log.lines().pop().unwrap();
    /// assert!(last.ends_with("application error 0x2a"), "{last}");
    /// ```
    fn close(&mut self, code: u64, reason: &[u8]);
    /// A handle that reaches [`QuicApp::on_wake`] from any thread.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Hands its waker to another thread, which wakes the connection.
    /// struct Poke(mpsc::Sender<&'static str>);
    /// impl QuicApp for Poke {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let w = c.waker();
    ///         std::thread::spawn(move || w.wake()).join().unwrap();
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn on_wake(&mut self, _: &mut dyn QuicConnection) {
    ///         self.0.send("woken").unwrap();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), Poke(tx));
    /// assert_eq!(rx.try_recv(), Ok("woken"));
    /// ```
    fn waker(&self) -> Wake;
    /// True while the app runs ahead of the handshake, which only happens
    /// with [`QuicConfig::zero_rtt`](super::QuicConfig::zero_rtt): on the
    /// client what it sends now leaves in 0-RTT packets (the server may
    /// reject them, or an attacker replay them); on the server the client
    /// has not finished its handshake yet, so what arrived came in 0-RTT and
    /// may be a replay. False once [`QuicApp::zero_rtt_accepted`] or
    /// [`QuicApp::zero_rtt_rejected`] was called. See `docs/quic.md`, "0-RTT".
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// let (tx, rx) = mpsc::channel();
    /// // Without `QuicConfig::zero_rtt` an app never starts early.
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), on_start(move |c| tx.send(c.is_early()).unwrap()));
    /// assert_eq!(rx.try_recv(), Ok(false));
    /// ```
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
pub struct EarlyData(
    /// True while the connection's data is 0-RTT (before the handshake confirmed it).
    pub bool,
);

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
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Says hello on a stream of its own as soon as it can.
    /// struct Hello;
    /// impl QuicApp for Hello {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.write(id, b"hello");
    ///         let _ = c.finish(id);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// }
    /// let log = CallLog::default();
    /// QuicPair::exchange(Recorder::factory(&log), Hello);
    /// assert_eq!(log.lines(), ["opened 2", "data 2 hello", "fin 2"]);
    /// ```
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {}
    /// The peer opened a stream (called before its first `stream_data`).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Tells which streams the peer opened.
    /// struct Opened(mpsc::Sender<StreamId>);
    /// impl QuicApp for Opened {
    ///     fn stream_opened(&mut self, _: &mut dyn QuicConnection, id: StreamId) {
    ///         self.0.send(id).unwrap();
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(move || Opened(tx.clone()), on_start(|c| {
    ///     for dir in [Dir::Bi, Dir::Uni] {
    ///         let id = c.open(dir).unwrap();
    ///         let _ = c.write(id, b"x");
    ///     }
    /// }));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [StreamId(0), StreamId(2)]);
    /// ```
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// Bytes arrived on a stream, in order.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Answers every chunk in upper case, on the stream it came on.
    /// struct Upper;
    /// impl QuicApp for Upper {
    ///     fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
    ///         let _ = c.write(id, &data.to_ascii_uppercase());
    ///     }
    /// }
    /// /// Sends "hello" and keeps the answer.
    /// struct Ask(CallLog);
    /// impl QuicApp for Ask {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Bi).unwrap();
    ///         let _ = c.write(id, b"hello");
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, data: &[u8]) {
    ///         self.0.push(String::from_utf8_lossy(data).into_owned());
    ///     }
    /// }
    /// let answer = CallLog::default();
    /// QuicPair::exchange(|| Upper, Ask(answer.clone()));
    /// assert_eq!(answer.lines().concat(), "HELLO");
    /// ```
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]);
    /// The peer's FIN (after its last `stream_data`).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Counts the bytes of each stream, and reports the total at its FIN.
    /// #[derive(Default)]
    /// struct Count(usize, Option<mpsc::Sender<(StreamId, usize)>>);
    /// impl QuicApp for Count {
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, data: &[u8]) {
    ///         self.0 += data.len();
    ///     }
    ///     fn stream_finished(&mut self, _: &mut dyn QuicConnection, id: StreamId) {
    ///         self.1.as_ref().unwrap().send((id, self.0)).unwrap();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(move || Count(0, Some(tx.clone())), on_start(|c| {
    ///     let id = c.open(Dir::Uni).unwrap();
    ///     let _ = c.write(id, b"twelve bytes");
    ///     let _ = c.finish(id);
    /// }));
    /// assert_eq!(rx.try_recv(), Ok((StreamId(2), 12)));
    /// ```
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// The peer reset its sending side (RESET_STREAM).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Reports the streams the peer abandoned.
    /// struct Resets(mpsc::Sender<(StreamId, u64)>);
    /// impl QuicApp for Resets {
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn stream_reset(&mut self, _: &mut dyn QuicConnection, id: StreamId, code: u64) {
    ///         self.0.send((id, code)).unwrap();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(move || Resets(tx.clone()), on_start(|c| {
    ///     let id = c.open(Dir::Uni).unwrap();
    ///     let _ = c.write(id, b"half a request");
    ///     c.reset(id, 3);
    /// }));
    /// assert_eq!(rx.try_recv(), Ok((StreamId(2), 3)));
    /// ```
    fn stream_reset(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {}
    /// The peer asked us to stop sending (STOP_SENDING).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Streams a long answer, and gives it up when the reader says stop.
    /// struct Talker(mpsc::Sender<(StreamId, u64)>);
    /// impl QuicApp for Talker {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.write(id, b"chapter one");
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {
    ///         c.reset(id, code); // what RFC 9000 §3.5 asks of the sender
    ///         self.0.send((id, code)).unwrap();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// /// The server stops every stream as it comes.
    /// struct Stop;
    /// impl QuicApp for Stop {
    ///     fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) { c.stop_sending(id, 5) }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// }
    /// QuicPair::exchange(|| Stop, Talker(tx));
    /// assert_eq!(rx.try_recv(), Ok((StreamId(2), 5)));
    /// ```
    fn stream_stopped(&mut self, c: &mut dyn QuicConnection, id: StreamId, code: u64) {}
    /// Everything we sent on the stream, FIN included, was acknowledged (or
    /// the peer stopped it), or the RESET_STREAM that ended it was: closing
    /// the connection now loses nothing of it.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Closes the connection once its one message was surely delivered.
    /// struct Deliver(mpsc::Sender<StreamId>);
    /// impl QuicApp for Deliver {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.write(id, b"important");
    ///         let _ = c.finish(id);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
    ///         self.0.send(id).unwrap();
    ///         c.close(0, b"");
    ///     }
    /// }
    /// let log = CallLog::default();
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&log), Deliver(tx));
    /// assert_eq!(rx.try_recv(), Ok(StreamId(2)));
    /// assert_eq!(log.lines()[..3], ["opened 2", "data 2 important", "fin 2"]);
    /// ```
    fn stream_acked(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// Flow-control credit came back after a short `write`.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Sends 3 MiB on one stream, more each time flow control allows it.
    /// struct Bulk { left: Vec<u8>, short_writes: mpsc::Sender<usize> }
    /// impl Bulk {
    ///     fn push(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
    ///         let n = c.write(id, &self.left).unwrap();
    ///         self.left.drain(..n);
    ///         if self.left.is_empty() {
    ///             let _ = c.finish(id);
    ///         } else {
    ///             self.short_writes.send(n).unwrap(); // stream_writable follows
    ///         }
    ///     }
    /// }
    /// impl QuicApp for Bulk {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         self.push(c, id);
    ///     }
    ///     fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
    ///         self.push(c, id);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// }
    /// /// Counts what arrives.
    /// struct Sink(Arc<Mutex<usize>>);
    /// impl QuicApp for Sink {
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, d: &[u8]) {
    ///         *self.0.lock().unwrap() += d.len();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// let got = Arc::new(Mutex::new(0));
    /// let g = got.clone();
    /// QuicPair::exchange(move || Sink(g.clone()), Bulk { left: vec![7; 3 << 20], short_writes: tx });
    /// assert!(rx.try_iter().count() > 0, "the 1 MiB stream window made writes short");
    /// assert_eq!(*got.lock().unwrap(), 3 << 20);
    /// ```
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {}
    /// The peer raised its limit: `open(dir)` may succeed again.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Opens unidirectional streams until the server's limit (100 at once),
    /// /// and notes when the server allows more.
    /// struct Many { opened: usize, more: mpsc::Sender<(usize, Dir)> }
    /// impl QuicApp for Many {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         while let Some(id) = c.open(Dir::Uni) {
    ///             let _ = c.write(id, b"x");
    ///             let _ = c.finish(id);
    ///             self.opened += 1;
    ///         }
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {
    ///         self.more.send((self.opened, dir)).unwrap();
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), Many { opened: 0, more: tx });
    /// // The server read the 100 streams to their end, which raised the limit.
    /// assert_eq!(rx.try_recv(), Ok((100, Dir::Uni)));
    /// ```
    fn streams_available(&mut self, c: &mut dyn QuicConnection, dir: Dir) {}
    /// A DATAGRAM frame arrived.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Answers each datagram with its length, as a datagram.
    /// struct Measure;
    /// impl QuicApp for Measure {
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {
    ///         let _ = c.send_datagram(Bytes::from(data.len().to_string()));
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// struct Client(mpsc::Sender<Vec<u8>>);
    /// impl QuicApp for Client {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let _ = c.send_datagram(Bytes::from_static(b"how long?"));
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn datagram_received(&mut self, _: &mut dyn QuicConnection, data: &[u8]) {
    ///         self.0.send(data.to_vec()).unwrap();
    ///     }
    /// }
    /// QuicPair::exchange(|| Measure, Client(tx));
    /// assert_eq!(rx.try_recv().unwrap(), b"9");
    /// ```
    fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {}
    /// The earliest time the app wants `on_deadline`.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Closes the connection 2 s after it started.
    /// struct Brief { ends_at: Option<std::time::Instant>, closed_at: mpsc::Sender<std::time::Instant> }
    /// impl QuicApp for Brief {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         self.ends_at = Some(c.now() + Duration::from_secs(2));
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn next_deadline(&self) -> Option<std::time::Instant> {
    ///         self.ends_at
    ///     }
    ///     fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
    ///         if self.ends_at.is_some_and(|t| c.now() >= t) {
    ///             self.ends_at = None;
    ///             self.closed_at.send(c.now()).unwrap();
    ///             c.close(0, b"time is up");
    ///         }
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), Brief { ends_at: None, closed_at: tx });
    /// let t = rx.try_recv().unwrap() - strata::testing::epoch();
    /// assert!(t >= Duration::from_secs(2) && t < Duration::from_secs(3), "{t:?}");
    /// ```
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// A deadline passed (spurious calls are allowed).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Sends a datagram every 100 ms, five in all.
    /// struct Ticker { next: Option<std::time::Instant>, sent: u32 }
    /// impl QuicApp for Ticker {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         self.next = Some(c.now());
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn next_deadline(&self) -> Option<std::time::Instant> {
    ///         self.next
    ///     }
    ///     fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
    ///         let Some(at) = self.next else { return };
    ///         if c.now() < at {
    ///             return; // a spurious call
    ///         }
    ///         self.sent += 1;
    ///         let _ = c.send_datagram(Bytes::from(format!("tick {}", self.sent)));
    ///         self.next = (self.sent < 5).then(|| at + Duration::from_millis(100));
    ///     }
    /// }
    /// let log = CallLog::default();
    /// QuicPair::exchange(Recorder::factory(&log), Ticker { next: None, sent: 0 });
    /// assert_eq!(log.lines(), ["datagram tick 1", "datagram tick 2", "datagram tick 3", "datagram tick 4", "datagram tick 5"]);
    /// ```
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {}
    /// A waker from [`QuicConnection::waker`] was woken.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Sends what another thread queued, when that thread wakes it.
    /// struct Outbox(Arc<Mutex<Vec<&'static [u8]>>>);
    /// impl QuicApp for Outbox {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let (queue, w) = (self.0.clone(), c.waker());
    ///         std::thread::spawn(move || {
    ///             queue.lock().unwrap().push(b"from elsewhere");
    ///             w.wake();
    ///         })
    ///         .join()
    ///         .unwrap();
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn on_wake(&mut self, c: &mut dyn QuicConnection) {
    ///         for msg in self.0.lock().unwrap().drain(..) {
    ///             let _ = c.send_datagram(Bytes::from_static(msg));
    ///         }
    ///     }
    /// }
    /// let log = CallLog::default();
    /// QuicPair::exchange(Recorder::factory(&log), Outbox(Arc::default()));
    /// assert_eq!(log.lines(), ["datagram from elsewhere"]);
    /// ```
    fn on_wake(&mut self, c: &mut dyn QuicConnection) {}
    /// A wake with the rest of its route (the hops below the connection,
    /// for an app that hands wakers to its own children); the default
    /// calls [`on_wake`](QuicApp::on_wake).
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Hands its children wakers of their own, and tells whose wake came.
    /// struct Parent(mpsc::Sender<Option<u64>>);
    /// impl QuicApp for Parent {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let child = c.waker().child(7); // what a child app would hold
    ///         std::thread::spawn(move || child.wake()).join().unwrap();
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn on_wake_at(&mut self, _: &mut dyn QuicConnection, mut route: strata::WakeRoute<'_>) {
    ///         self.0.send(route.next_hop()).unwrap(); // Some(7): for child 7
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// QuicPair::exchange(Recorder::factory(&CallLog::default()), Parent(tx));
    /// assert_eq!(rx.try_recv(), Ok(Some(7)));
    /// ```
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        self.on_wake(c)
    }
    /// The owner is shutting down gracefully (the server's drain): the
    /// default closes the connection with code 0 at once; an app with a
    /// goodbye of its own (HTTP/3's GOAWAY) sends it and closes once its
    /// streams are done. The driver's drain deadline bounds the wait.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Says goodbye on a stream before closing, when the server drains.
    /// struct Polite;
    /// impl QuicApp for Polite {
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn on_shutdown(&mut self, c: &mut dyn QuicConnection) {
    ///         if let Some(id) = c.open(Dir::Uni) {
    ///             let _ = c.write(id, b"going away");
    ///             let _ = c.finish(id);
    ///         }
    ///     }
    ///     fn stream_acked(&mut self, c: &mut dyn QuicConnection, _: StreamId) {
    ///         c.close(0, b"bye");
    ///     }
    /// }
    /// let log = CallLog::default(); // what the client sees
    /// let mut pair = QuicPair::exchange(|| Polite, Recorder(log.clone()));
    /// pair.shutdown_server(); // the server's stack drains
    /// pair.run(Duration::from_secs(5));
    /// let lines = log.lines();
    /// assert_eq!(lines[..3], ["opened 3", "data 3 going away", "fin 3"]);
    /// assert!(lines[3].starts_with("lost: "), "{lines:?}");
    /// ```
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
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// use strata::StreamFactory;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Echo;
    /// # impl StreamProtocol for Echo {
    /// #     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// /// An app that has not thought about replays: it keeps the default.
    /// struct Plain;
    /// impl QuicApp for Plain {
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    /// }
    /// assert!(!Plain.early_data());
    /// let echo: StreamFactory = Arc::new(|| Box::new(Echo));
    /// assert!(PerStream::new(echo).early_data());
    /// ```
    fn early_data(&self) -> bool {
        false
    }
    /// The handshake finished after [`connection_made`](QuicApp::connection_made)
    /// came early ([`QuicConnection::is_early`]). On the client the server
    /// accepted the 0-RTT data: the streams go on as they are. On the server
    /// the client finished its handshake: what arrives from now on is not
    /// a replay.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// # use strata::quic::testing::{QuicPairConfig, QuicPairTls};
    /// # // One connection with 0-RTT on at the client (and at the server when
    /// # // `server_zero_rtt`), the TLS configurations shared (they keep the tickets).
    /// # fn connect(tls: &QuicPairTls, server_zero_rtt: bool, log: &CallLog, client: impl QuicApp + 'static) {
    /// #     let cfg = |zero_rtt| QuicConfig { zero_rtt, ..QuicConfig::default() };
    /// #     let pair = QuicPairConfig { server: cfg(server_zero_rtt), client: cfg(true), tls: tls.clone(), ..QuicPairConfig::default() };
    /// #     QuicPair::with(pair, Recorder::factory(log), client).run(Duration::from_secs(5));
    /// # }
    /// # let tls = QuicPairTls::new();
    /// /// Sends its request as early as it may, and says how 0-RTT went.
    /// struct Eager(mpsc::Sender<&'static str>);
    /// impl Eager {
    ///     fn ask(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.write(id, b"GET /");
    ///         let _ = c.finish(id);
    ///     }
    /// }
    /// impl QuicApp for Eager {
    ///     fn early_data(&self) -> bool {
    ///         true // it only sends an idempotent request early
    ///     }
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         self.0.send(if c.is_early() { "early" } else { "after the handshake" }).unwrap();
    ///         self.ask(c);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn zero_rtt_accepted(&mut self, _: &mut dyn QuicConnection) {
    ///         self.0.send("accepted").unwrap(); // the early request stands
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// let (first, second) = (CallLog::default(), CallLog::default());
    /// connect(&tls, true, &first, Eager(tx.clone())); // a full handshake leaves a ticket
    /// connect(&tls, true, &second, Eager(tx)); // which the next connection resumes with
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["after the handshake", "early", "accepted"]);
    /// assert_eq!(second.lines()[..2], ["opened 2", "data 2 GET /"]);
    /// ```
    fn zero_rtt_accepted(&mut self, c: &mut dyn QuicConnection) {}
    /// Client only, instead of [`zero_rtt_accepted`](QuicApp::zero_rtt_accepted):
    /// the server refused the 0-RTT data. quinn-proto dropped every stream
    /// opened while early, with what was written on it (the server never saw
    /// any of it), and the stream ids start again from 0: an app that wants
    /// its requests to go through sends them again on new streams.
    /// [`PerStream`](super::PerStream) does that for its protocols.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// # use strata::quic::testing::{QuicPairConfig, QuicPairTls};
    /// # // One connection with 0-RTT on at the client (and at the server when
    /// # // `server_zero_rtt`), the TLS configurations shared (they keep the tickets).
    /// # fn connect(tls: &QuicPairTls, server_zero_rtt: bool, log: &CallLog, client: impl QuicApp + 'static) {
    /// #     let cfg = |zero_rtt| QuicConfig { zero_rtt, ..QuicConfig::default() };
    /// #     let pair = QuicPairConfig { server: cfg(server_zero_rtt), client: cfg(true), tls: tls.clone(), ..QuicPairConfig::default() };
    /// #     QuicPair::with(pair, Recorder::factory(log), client).run(Duration::from_secs(5));
    /// # }
    /// # let tls = QuicPairTls::new();
    /// /// Sends its request as early as it may, and says how 0-RTT went.
    /// struct Eager(mpsc::Sender<&'static str>);
    /// impl Eager {
    ///     fn ask(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.write(id, b"GET /");
    ///         let _ = c.finish(id);
    ///     }
    /// }
    /// impl QuicApp for Eager {
    ///     fn early_data(&self) -> bool {
    ///         true // it only sends an idempotent request early
    ///     }
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         self.0.send(if c.is_early() { "early" } else { "after the handshake" }).unwrap();
    ///         self.ask(c);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn zero_rtt_rejected(&mut self, c: &mut dyn QuicConnection) {
    ///         self.0.send("rejected").unwrap();
    ///         self.ask(c); // the early stream is gone: ask again
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// let (first, second) = (CallLog::default(), CallLog::default());
    /// connect(&tls, true, &first, Eager(tx.clone()));
    /// connect(&tls, false, &second, Eager(tx)); // this time the server refuses early data
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["after the handshake", "early", "rejected"]);
    /// // The request arrived once, on stream 2 again (the ids start over).
    /// let data: Vec<_> = second.lines().into_iter().filter(|l| l.starts_with("data")).collect();
    /// assert_eq!(data, ["data 2 GET /"]);
    /// ```
    fn zero_rtt_rejected(&mut self, c: &mut dyn QuicConnection) {}
    /// The connection is gone; called once, last.
    ///
    /// ```
    /// # use std::{sync::{mpsc, Arc, Mutex}, time::Duration};
    /// # use bytes::Bytes; use strata::{quic::*, Close};
    /// use strata::quic::testing::{on_start, CallLog, QuicPair, Recorder};
    /// /// Reports how the connection ended.
    /// struct Ending(mpsc::Sender<Close>);
    /// impl QuicApp for Ending {
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn connection_lost(&mut self, why: &Close) {
    ///         self.0.send(why.clone()).unwrap();
    ///     }
    /// }
    /// /// Closes with `code` once the server read its one stream.
    /// struct Closer(u64);
    /// impl QuicApp for Closer {
    ///     fn connection_made(&mut self, c: &mut dyn QuicConnection) {
    ///         let id = c.open(Dir::Uni).unwrap();
    ///         let _ = c.finish(id);
    ///     }
    ///     fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    ///     fn stream_acked(&mut self, c: &mut dyn QuicConnection, _: StreamId) {
    ///         c.close(self.0, b"");
    ///     }
    /// }
    /// let (tx, rx) = mpsc::channel();
    /// let t = tx.clone();
    /// QuicPair::exchange(move || Ending(t.clone()), Closer(0));
    /// assert!(matches!(rx.try_recv(), Ok(Close::Done)), "code 0: a clean end");
    /// QuicPair::exchange(move || Ending(tx.clone()), Closer(7));
    /// let why = rx.try_recv().unwrap();
    /// assert!(matches!(why.error::<QuicError>(), Some(QuicError::ApplicationClosed { code: 7, .. })));
    /// ```
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
