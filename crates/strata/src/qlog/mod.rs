//! qlog: one structured event trace per connection, from every layer
//! (issue 14, point 5).
//!
//! [qlog](https://datatracker.ietf.org/doc/draft-ietf-quic-qlog-main-schema/)
//! is the IETF's event format for QUIC, which qvis draws. strata writes it
//! for every layer that has something to say: the reliable mapping (packets
//! sent, received and lost, congestion state, RTT), HTTP/2 (frames, stream
//! state, flow-control windows), TLS (handshake steps) and QUIC. One trace
//! holds one connection; each event names its layer in `category`.
//!
//! The core defines the model and stays free of files and clocks:
//!
//! * [`QlogTrace`]: the handle a layer emits into (cheap `Clone`, an `Arc`
//!   inside). A layer finds it with `t.get::<QlogTrace>()` at
//!   `connection_made`; the bottom of the stack answers it when the driver
//!   set one ([`Stack::set_qlog`](crate::Stack::set_qlog)). With no trace
//!   set, an event site costs one `Option` check.
//! * [`QlogTracer`]: makes a trace per connection, for a datagram socket
//!   that carries many ([`DatagramStack::set_qlog`](crate::DatagramStack::set_qlog)):
//!   the reliable listener and QUIC ask it for each new connection.
//! * [`QlogSink`]: where events go. [`JsonSeqWriter`] formats them as
//!   JSON-SEQ (RFC 7464) into a bounded buffer and hands full buffers to a
//!   function the driver gives (a file for `strata serve --qlog DIR`, a
//!   shared `Vec` for tests and the simulator).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use strata::qlog::{JsonSeqWriter, QlogTrace, SharedBuf, TraceHeader, Value, Vantage};
//!
//! let t0 = Instant::now();
//! let buf = SharedBuf::default();
//! let header = TraceHeader::new(Vantage::Client, t0);
//! let trace = QlogTrace::new(JsonSeqWriter::new(header, 100, buf.sink()));
//! trace.emit(t0 + Duration::from_millis(5), "reliable", "transport:packet_sent",
//!     &[("header", Value::Obj(&[("packet_number", Value::U64(0))])), ("length", Value::U64(1200))]);
//! drop(trace); // the last handle flushes
//! let text = buf.text();
//! let records: Vec<&str> = text.split('\u{1e}').filter(|r| !r.is_empty()).collect();
//! assert_eq!(records.len(), 2); // the header, then one event
//! assert!(records[0].contains(r#""qlog_format":"JSON-SEQ""#));
//! assert_eq!(records[1].trim_end(), r#"{"time":5.000,"name":"transport:packet_sent","category":"reliable","data":{"header":{"packet_number":0},"length":1200}}"#);
//! ```

mod json;
mod writer;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

pub use json::write_value;
pub use writer::{
    JsonSeqWriter, QlogOutput, SharedBuf, TraceHeader, DEFAULT_QLOG_FLUSH_BYTES,
    DEFAULT_QLOG_MAX_EVENTS,
};

use crate::Addr;

/// One value of an event's `data`: a JSON scalar, object or list, borrowed
/// so an event site builds it on the stack and allocates nothing.
///
/// ```
/// use strata::qlog::{write_value, Value};
/// let mut s = String::new();
/// write_value(&mut s, &Value::Obj(&[("cwnd", Value::U64(12000)), ("lost", Value::Bool(false))]));
/// assert_eq!(s, r#"{"cwnd":12000,"lost":false}"#);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// An unsigned integer.
    U64(u64),
    /// A signed integer.
    I64(i64),
    /// A number (written with three decimals: times in ms).
    F64(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string (escaped as JSON).
    Str(&'a str),
    /// An object: its fields in order.
    Obj(&'a [(&'a str, Value<'a>)]),
    /// A list.
    List(&'a [Value<'a>]),
    /// Text that is already one JSON value, written as it is (the events
    /// another library formats: quinn-proto's QUIC events). The writer does
    /// not check it: the caller passes valid JSON.
    ///
    /// ```
    /// use strata::qlog::{write_value, Value};
    /// let mut s = String::new();
    /// write_value(&mut s, &Value::Obj(&[("header", Value::Raw(r#"{"packet_number":7}"#))]));
    /// assert_eq!(s, r#"{"header":{"packet_number":7}}"#);
    /// ```
    Raw(&'a str),
}

/// One event as a layer emits it.
///
/// ```
/// use strata::qlog::{QlogEvent, Value};
/// let e = QlogEvent { time: std::time::Instant::now(), category: "h2", name: "http:frame_created", data: &[("length", Value::U64(9))] };
/// assert_eq!(e.category, "h2");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct QlogEvent<'a> {
    /// The layer's `t.now()` when it happened.
    pub time: Instant,
    /// The layer's name: `reliable`, `h2`, `tls`, `quic`.
    pub category: &'static str,
    /// qlog's event name, `namespace:event` (`transport:packet_sent`,
    /// `recovery:metrics_updated`, `http:frame_created`, ...).
    pub name: &'static str,
    /// The event's data fields.
    pub data: &'a [(&'a str, Value<'a>)],
}

/// Where a trace's events go. Called from the connection's own task, one
/// event at a time; an implementation keeps its memory bounded.
///
/// ```
/// use std::sync::Mutex;
/// use strata::qlog::{QlogEvent, QlogSink, QlogTrace};
/// #[derive(Default)]
/// struct Names(Mutex<Vec<&'static str>>);
/// impl QlogSink for Names {
///     fn event(&self, e: &QlogEvent<'_>) { self.0.lock().unwrap().push(e.name) }
/// }
/// let trace = QlogTrace::new(Names::default());
/// trace.emit(std::time::Instant::now(), "tls", "security:handshake_done", &[]);
/// ```
pub trait QlogSink: Send + Sync {
    /// Records one event.
    fn event(&self, e: &QlogEvent<'_>);
}

/// A connection's trace: the handle layers emit into. Cheap to clone (an
/// `Arc`); the sink sees the last clone dropped (a [`JsonSeqWriter`]
/// flushes then).
///
/// A layer looks it up once, at `connection_made`, and keeps the
/// `Option`: `if let Some(q) = &self.qlog { q.emit(..) }`.
///
/// ```
/// use strata::qlog::{QlogTrace, SharedBuf, JsonSeqWriter, TraceHeader, Vantage};
/// let buf = SharedBuf::default();
/// let now = std::time::Instant::now();
/// let t = QlogTrace::new(JsonSeqWriter::new(TraceHeader::new(Vantage::Server, now), 10, buf.sink()));
/// t.emit(now, "tls", "security:handshake_done", &[]);
/// drop(t);
/// assert!(buf.text().contains(r#""name":"security:handshake_done""#));
/// ```
#[derive(Clone)]
pub struct QlogTrace(Arc<dyn QlogSink>);

impl QlogTrace {
    /// A trace over a sink.
    ///
    /// ```
    /// # use strata::qlog::{QlogEvent, QlogSink, QlogTrace};
    /// struct Nowhere;
    /// impl QlogSink for Nowhere { fn event(&self, _: &QlogEvent<'_>) {} }
    /// let t = QlogTrace::new(Nowhere);
    /// let _also = t.clone();
    /// ```
    pub fn new(sink: impl QlogSink + 'static) -> QlogTrace {
        QlogTrace(Arc::new(sink))
    }

    /// Emits one event.
    ///
    /// ```
    /// # use strata::qlog::{QlogEvent, QlogSink, QlogTrace, Value};
    /// # struct Nowhere;
    /// # impl QlogSink for Nowhere { fn event(&self, _: &QlogEvent<'_>) {} }
    /// let t = QlogTrace::new(Nowhere);
    /// t.emit(std::time::Instant::now(), "reliable", "recovery:metrics_updated", &[("cwnd", Value::U64(14720))]);
    /// ```
    pub fn emit(
        &self,
        time: Instant,
        category: &'static str,
        name: &'static str,
        data: &[(&str, Value<'_>)],
    ) {
        self.0.event(&QlogEvent {
            time,
            category,
            name,
            data,
        });
    }
}

impl fmt::Debug for QlogTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QlogTrace")
    }
}

/// Which end of a connection a trace sees it from (qlog's `vantage_point`).
///
/// ```
/// assert_eq!(strata::qlog::Vantage::Client.as_str(), "client");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vantage {
    /// The end that connected.
    Client,
    /// The end that accepted.
    Server,
}

impl Vantage {
    /// qlog's name for it.
    ///
    /// ```
    /// assert_eq!(strata::qlog::Vantage::Server.as_str(), "server");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Vantage::Client => "client",
            Vantage::Server => "server",
        }
    }
}

/// What a [`QlogTracer`] is told about a new connection.
///
/// ```
/// use strata::qlog::{TraceInfo, Vantage};
/// let i = TraceInfo { vantage: Vantage::Server, peer: None, protocol: "reliable", now: std::time::Instant::now() };
/// assert_eq!(i.protocol, "reliable");
/// ```
#[derive(Clone, Debug)]
pub struct TraceInfo {
    /// Our end.
    pub vantage: Vantage,
    /// The peer's address, when known.
    pub peer: Option<Addr>,
    /// The layer that made the connection (`reliable`, `quic`).
    pub protocol: &'static str,
    /// When the connection began (the trace's reference time).
    pub now: Instant,
}

type MakeTrace = dyn Fn(&TraceInfo) -> Option<QlogTrace> + Send + Sync;

/// Makes one trace per connection, for a socket that carries many (a
/// reliable listener, a QUIC endpoint). Answered as a capability by a
/// datagram stack's bottom when the driver set one.
///
/// ```
/// use strata::qlog::{JsonSeqWriter, QlogTracer, SharedBuf, TraceHeader, TraceInfo, Vantage};
/// let buf = SharedBuf::default();
/// let b = buf.clone();
/// let tracer = QlogTracer::new(move |i: &TraceInfo| {
///     Some(strata::qlog::QlogTrace::new(JsonSeqWriter::new(TraceHeader::new(i.vantage, i.now), 100, b.sink())))
/// });
/// let now = std::time::Instant::now();
/// let t = tracer.trace(&TraceInfo { vantage: Vantage::Server, peer: None, protocol: "reliable", now });
/// assert!(t.is_some());
/// ```
#[derive(Clone)]
pub struct QlogTracer(Arc<MakeTrace>);

impl QlogTracer {
    /// A tracer from a function (which may decline with `None`).
    ///
    /// ```
    /// let never = strata::qlog::QlogTracer::new(|_| None);
    /// # let _ = never;
    /// ```
    pub fn new(f: impl Fn(&TraceInfo) -> Option<QlogTrace> + Send + Sync + 'static) -> QlogTracer {
        QlogTracer(Arc::new(f))
    }

    /// A trace for one new connection.
    ///
    /// ```
    /// use strata::qlog::{QlogTracer, TraceInfo, Vantage};
    /// let t = QlogTracer::new(|_| None);
    /// let i = TraceInfo { vantage: Vantage::Client, peer: None, protocol: "quic", now: std::time::Instant::now() };
    /// assert!(t.trace(&i).is_none());
    /// ```
    pub fn trace(&self, info: &TraceInfo) -> Option<QlogTrace> {
        (self.0)(info)
    }
}

/// Two tracers are equal when they are the same one (so configurations
/// holding one still compare).
impl PartialEq for QlogTracer {
    fn eq(&self, other: &QlogTracer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for QlogTracer {}

impl fmt::Debug for QlogTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QlogTracer")
    }
}
