//! The JSON-SEQ writer (RFC 7464: each record is RS, JSON text, LF): the
//! qlog header, then one record per event, bounded.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::json::{write_fields, write_str};
use super::{QlogEvent, QlogSink, Vantage};

/// Events a trace keeps by default; past it, events are counted and the
/// trace ends with one `loglevel:warning` saying how many were dropped.
pub const DEFAULT_QLOG_MAX_EVENTS: usize = 100_000;

/// Buffered bytes past which a [`JsonSeqWriter`] hands its text to its
/// output (and at the end): a slow disk is touched once per this much.
pub const DEFAULT_QLOG_FLUSH_BYTES: usize = 64 * 1024;

/// The record separator that starts every JSON-SEQ record.
const RS: char = '\u{1e}';

/// What the first record of a trace says (qlog's header and trace fields).
///
/// ```
/// use strata::qlog::{TraceHeader, Vantage};
/// let h = TraceHeader::new(Vantage::Client, std::time::Instant::now()).title("get 127.0.0.1:443");
/// assert_eq!(h.title.as_deref(), Some("get 127.0.0.1:443"));
/// ```
#[derive(Clone, Debug)]
pub struct TraceHeader {
    /// Our end of the connection.
    pub vantage: Vantage,
    /// The instant event times count from (written as ms after it).
    pub reference: Instant,
    /// The same instant as ms since the Unix epoch (`reference_time`), when
    /// the driver knows the wall clock; 0 otherwise (a simulation).
    pub reference_unix_ms: f64,
    /// A title for the trace (the connection's role, peer and number).
    pub title: Option<String>,
}

impl TraceHeader {
    /// A header with no wall-clock reference and no title.
    ///
    /// ```
    /// let h = strata::qlog::TraceHeader::new(strata::qlog::Vantage::Server, std::time::Instant::now());
    /// assert_eq!(h.reference_unix_ms, 0.0);
    /// ```
    pub fn new(vantage: Vantage, reference: Instant) -> TraceHeader {
        TraceHeader {
            vantage,
            reference,
            reference_unix_ms: 0.0,
            title: None,
        }
    }

    /// Sets the title.
    ///
    /// ```
    /// let h = strata::qlog::TraceHeader::new(strata::qlog::Vantage::Server, std::time::Instant::now()).title("x");
    /// assert_eq!(h.title.unwrap(), "x");
    /// ```
    pub fn title(mut self, t: impl Into<String>) -> TraceHeader {
        self.title = Some(t.into());
        self
    }

    /// Sets the wall-clock reference (ms since the Unix epoch).
    ///
    /// ```
    /// let h = strata::qlog::TraceHeader::new(strata::qlog::Vantage::Server, std::time::Instant::now()).unix_ms(1.7e12);
    /// assert_eq!(h.reference_unix_ms, 1.7e12);
    /// ```
    pub fn unix_ms(mut self, ms: f64) -> TraceHeader {
        self.reference_unix_ms = ms;
        self
    }

    fn write(&self, out: &mut String) {
        out.push(RS);
        out.push_str(r#"{"qlog_version":"0.3","qlog_format":"JSON-SEQ","title":"#);
        write_str(out, self.title.as_deref().unwrap_or("strata"));
        out.push_str(r#","trace":{"vantage_point":{"type":"#);
        write_str(out, self.vantage.as_str());
        let _ = write!(
            out,
            r#","name":"strata"}},"common_fields":{{"time_format":"relative","reference_time":{:.3}}}}}}}"#,
            self.reference_unix_ms
        );
        out.push('\n');
    }
}

/// Where a [`JsonSeqWriter`] hands its text: a file's writer in the
/// driver, [`SharedBuf::sink`] in tests.
pub type QlogOutput = Box<dyn FnMut(&[u8]) + Send>;

/// A [`QlogSink`] that writes JSON-SEQ: the header record at once, each
/// event as a record, into a buffer it hands to `out` when it passes
/// [`DEFAULT_QLOG_FLUSH_BYTES`] and when the last handle is dropped (the
/// connection's end). Keeps at most `max_events` events; the rest are
/// counted and reported by a final `loglevel:warning` event.
///
/// ```
/// use strata::qlog::{JsonSeqWriter, QlogTrace, SharedBuf, TraceHeader, Vantage};
/// let buf = SharedBuf::default();
/// let now = std::time::Instant::now();
/// let t = QlogTrace::new(JsonSeqWriter::new(TraceHeader::new(Vantage::Client, now), 1, buf.sink()));
/// for _ in 0..3 {
///     t.emit(now, "h2", "http:frame_created", &[]);
/// }
/// drop(t);
/// let text = buf.text();
/// assert_eq!(text.matches("http:frame_created").count(), 1);
/// assert!(text.contains(r#""dropped":2"#));
/// ```
pub struct JsonSeqWriter {
    state: Mutex<State>,
}

struct State {
    reference: Instant,
    buf: String,
    flush_bytes: usize,
    max_events: usize,
    events: usize,
    dropped: u64,
    last: Instant,
    out: QlogOutput,
}

impl JsonSeqWriter {
    /// A writer: `header` now, events up to `max_events`, text to `out`.
    ///
    /// ```
    /// use strata::qlog::{JsonSeqWriter, SharedBuf, TraceHeader, Vantage};
    /// let buf = SharedBuf::default();
    /// let w = JsonSeqWriter::new(TraceHeader::new(Vantage::Client, std::time::Instant::now()), 10, buf.sink());
    /// drop(w);
    /// assert!(buf.text().starts_with("\u{1e}{\"qlog_version\""));
    /// ```
    pub fn new(header: TraceHeader, max_events: usize, out: QlogOutput) -> JsonSeqWriter {
        let mut buf = String::new();
        header.write(&mut buf);
        JsonSeqWriter {
            state: Mutex::new(State {
                reference: header.reference,
                buf,
                flush_bytes: DEFAULT_QLOG_FLUSH_BYTES,
                max_events,
                events: 0,
                dropped: 0,
                last: header.reference,
                out,
            }),
        }
    }

    /// Hands the text to `out` whenever `bytes` are buffered (default
    /// [`DEFAULT_QLOG_FLUSH_BYTES`]).
    ///
    /// ```
    /// use strata::qlog::{JsonSeqWriter, QlogTrace, SharedBuf, TraceHeader, Vantage};
    /// let buf = SharedBuf::default();
    /// let now = std::time::Instant::now();
    /// let w = JsonSeqWriter::new(TraceHeader::new(Vantage::Client, now), 10, buf.sink()).flush_bytes(1);
    /// let t = QlogTrace::new(w);
    /// t.emit(now, "tls", "security:handshake_done", &[]);
    /// assert!(buf.text().contains("handshake_done")); // written before the end
    /// ```
    pub fn flush_bytes(self, bytes: usize) -> JsonSeqWriter {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush_bytes = bytes;
        self
    }
}

impl State {
    fn record(
        &mut self,
        time: Instant,
        category: &str,
        name: &str,
        data: &[(&str, super::Value<'_>)],
    ) {
        let ms = time
            .checked_duration_since(self.reference)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0;
        self.buf.push(RS);
        let _ = write!(self.buf, r#"{{"time":{ms:.3},"name":"#);
        write_str(&mut self.buf, name);
        self.buf.push_str(r#","category":"#);
        write_str(&mut self.buf, category);
        self.buf.push_str(r#","data":"#);
        write_fields(&mut self.buf, data);
        self.buf.push_str("}\n");
        if self.buf.len() >= self.flush_bytes {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            (self.out)(self.buf.as_bytes());
            self.buf.clear();
        }
    }
}

impl QlogSink for JsonSeqWriter {
    fn event(&self, e: &QlogEvent<'_>) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.last = s.last.max(e.time);
        if s.events >= s.max_events {
            s.dropped += 1;
            return;
        }
        s.events += 1;
        s.record(e.time, e.category, e.name, e.data);
    }
}

impl Drop for JsonSeqWriter {
    fn drop(&mut self) {
        let s = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if s.dropped > 0 {
            let (last, dropped, max) = (s.last, s.dropped, s.max_events as u64);
            use super::Value::{Str, U64};
            s.record(
                last,
                "qlog",
                "loglevel:warning",
                &[
                    ("message", Str("events past the trace's limit were dropped")),
                    ("dropped", U64(dropped)),
                    ("max_events", U64(max)),
                ],
            );
        }
        s.flush();
    }
}

/// A shared, growable byte buffer to write traces into (tests, the
/// simulator, a memory-only recording).
///
/// ```
/// let b = strata::qlog::SharedBuf::default();
/// let mut out = b.sink();
/// out(b"abc");
/// assert_eq!(b.text(), "abc");
/// ```
#[derive(Clone, Default, Debug)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    /// An output for [`JsonSeqWriter::new`] that appends here.
    ///
    /// ```
    /// let b = strata::qlog::SharedBuf::default();
    /// (b.sink())(b"x");
    /// assert_eq!(b.bytes(), b"x");
    /// ```
    pub fn sink(&self) -> QlogOutput {
        let b = self.0.clone();
        Box::new(move |d: &[u8]| {
            b.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(d)
        })
    }

    /// A copy of the bytes so far.
    ///
    /// ```
    /// assert!(strata::qlog::SharedBuf::default().bytes().is_empty());
    /// ```
    pub fn bytes(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The bytes so far as text (lossy).
    ///
    /// ```
    /// assert_eq!(strata::qlog::SharedBuf::default().text(), "");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}
