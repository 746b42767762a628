//! The QUIC layer's qlog events (issue 14, point 5), category `quic`, in
//! the connection's one trace.
//!
//! With the feature `quic-qlog` (off by default; strata-cli and strata-sim
//! turn it on) they come from quinn-proto's
//! own qlog, packet by packet: a traced connection gets a quinn-proto
//! `QlogStream` of its own whose writer (`quinn::Records`) takes each
//! JSON-SEQ record quinn-proto writes, drops its header (the trace has
//! one), and emits the event into the trace under its own name:
//! `transport:packet_sent` and `transport:packet_received` (packet type
//! and number), `recovery:packet_lost` (packet number, trigger) and
//! `recovery:metrics_updated` (the figures that changed:
//! `congestion_window`, `bytes_in_flight`, `smoothed_rtt`, `latest_rtt`,
//! `min_rtt`, `rtt_variance`, `ssthresh`, `packets_in_flight`,
//! `pto_count`). quinn-proto 0.11.19 writes RTTs in seconds; they are
//! written in ms, as qlog's schema says and every other layer does
//! (quinn-rs/quinn#2631 fixed it upstream, after 0.11.19). Times are
//! quinn-proto's, counted from the connection's start on the layer's clock
//! (so a simulated run repeats byte for byte), and never go back.
//!
//! Without the feature they come from quinn-proto's statistics after each
//! drive: `recovery:metrics_updated` (congestion window, smoothed RTT, and
//! the packets sent and lost so far) when they change, and one
//! `recovery:packet_lost` per packet newly counted lost (no packet
//! numbers).
//!
//! Either way the layer writes `connectivity:connection_closed` once, when
//! the connection closes (quinn-proto has no event for it).

use std::time::Instant;

use crate::qlog::QlogTrace;
use crate::stats::PathStats;

impl QuicQlog {
    /// The connection's trace (the application writes into it too).
    pub(crate) fn trace(&self) -> &QlogTrace {
        &self.trace
    }
}

/// The category of this layer's events.
const CATEGORY: &str = "quic";

/// A traced connection's trace and what the layer itself writes into it.
pub(crate) struct QuicQlog {
    trace: QlogTrace,
    #[cfg(not(feature = "quic-qlog"))]
    last: Option<PathStats>,
    /// The latest time written (quinn-proto's records and ours).
    #[cfg(feature = "quic-qlog")]
    clock: std::sync::Arc<quinn::Clock>,
    /// `connectivity:connection_closed` was written.
    closed: bool,
}

/// What quinn-proto is given to trace one connection: with `quic-qlog`,
/// the stream its events go to (into the connection's trace).
#[cfg_attr(not(feature = "quic-qlog"), allow(dead_code))]
pub(crate) struct QuinnQlog(#[cfg(feature = "quic-qlog")] quinn_proto::QlogStream);

impl QuinnQlog {
    /// Sets the stream on the connection's transport configuration.
    pub(crate) fn configure(self, tc: &mut quinn_proto::TransportConfig) {
        #[cfg(feature = "quic-qlog")]
        tc.qlog_stream(Some(self.0));
        #[cfg(not(feature = "quic-qlog"))]
        let _ = tc;
    }
}

impl QuicQlog {
    /// The layer's part of a new connection's `trace`, which starts at
    /// `start`, and (with `quic-qlog`) quinn-proto's: give it to the
    /// connection's transport configuration before the connection exists,
    /// so its first packets are traced.
    #[cold]
    pub(crate) fn start(trace: QlogTrace, start: Instant) -> (Box<QuicQlog>, Option<QuinnQlog>) {
        #[cfg(feature = "quic-qlog")]
        {
            let clock = std::sync::Arc::new(quinn::Clock::new(start));
            let stream = quinn::stream(trace.clone(), clock.clone());
            let q = Box::new(QuicQlog {
                trace,
                clock,
                closed: false,
            });
            (q, stream.map(QuinnQlog))
        }
        #[cfg(not(feature = "quic-qlog"))]
        {
            let _ = start;
            let q = Box::new(QuicQlog {
                trace,
                last: None,
                closed: false,
            });
            (q, None)
        }
    }

    /// After a drive: without `quic-qlog`, what changed in the statistics
    /// (with it, quinn-proto wrote its events as they happened).
    #[inline]
    pub(crate) fn tick(&mut self, now: Instant, s: &PathStats) {
        #[cfg(not(feature = "quic-qlog"))]
        self.stats_tick(now, s);
        #[cfg(feature = "quic-qlog")]
        let _ = (now, s);
    }

    /// The connection is closing or closed (by either end): once.
    pub(crate) fn closed(&mut self, now: Instant) {
        if !self.closed {
            self.closed = true;
            #[cfg(feature = "quic-qlog")]
            let now = self.clock.at(now);
            self.trace
                .emit(now, CATEGORY, "connectivity:connection_closed", &[]);
        }
    }
}

#[cfg(not(feature = "quic-qlog"))]
impl QuicQlog {
    /// Loss events written per drive at most (the rest are counted in
    /// `recovery:metrics_updated`'s `lost_packets`).
    const MAX_LOSSES_PER_DRIVE: u64 = 64;

    #[cold]
    #[inline(never)]
    fn stats_tick(&mut self, now: Instant, s: &PathStats) {
        use crate::qlog::Value;
        let before = self.last.unwrap_or_default();
        if self.last == Some(*s) {
            return;
        }
        let lost = s.lost_packets.saturating_sub(before.lost_packets);
        for _ in 0..lost.min(Self::MAX_LOSSES_PER_DRIVE) {
            self.trace.emit(
                now,
                CATEGORY,
                "recovery:packet_lost",
                &[("trigger", Value::Str("quinn"))],
            );
        }
        if (s.cwnd, s.rtt) != (before.cwnd, before.rtt) || self.last.is_none() || lost > 0 {
            self.trace.emit(
                now,
                CATEGORY,
                "recovery:metrics_updated",
                &[
                    ("congestion_window", Value::U64(s.cwnd)),
                    ("smoothed_rtt", Value::F64(s.rtt.as_secs_f64() * 1000.0)),
                    ("packets_sent", Value::U64(s.sent_packets)),
                    ("lost_packets", Value::U64(s.lost_packets)),
                ],
            );
        }
        self.last = Some(*s);
    }
}

/// quinn-proto's qlog records into the connection's trace.
#[cfg(feature = "quic-qlog")]
mod quinn {
    use std::io;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use serde_json::Value as Json;

    use super::CATEGORY;
    use crate::deadline::after;
    use crate::qlog::{QlogTrace, Value};

    /// The longest record kept: quinn-proto's are a few hundred bytes (no
    /// frames); a longer one is dropped whole, so a connection's writer
    /// holds at most this much.
    pub(super) const MAX_RECORD_BYTES: usize = 16 * 1024;

    /// The events quinn-proto 0.11 writes (and the others of its `qlog`
    /// crate's QUIC set it may write), by name: the trace takes `&'static
    /// str` names. A record named otherwise is dropped.
    const NAMES: &[&str] = &[
        "transport:packet_sent",
        "transport:packet_received",
        "transport:packet_dropped",
        "transport:packet_buffered",
        "transport:parameters_set",
        "transport:datagrams_sent",
        "transport:datagrams_received",
        "transport:stream_state_updated",
        "transport:frames_processed",
        "transport:data_moved",
        "recovery:packet_lost",
        "recovery:metrics_updated",
        "recovery:parameters_set",
        "recovery:congestion_state_updated",
        "recovery:loss_timer_updated",
        "recovery:marked_for_retransmit",
        "connectivity:connection_started",
        "connectivity:connection_state_updated",
        "connectivity:connection_closed",
        "connectivity:path_updated",
        "connectivity:spin_bit_updated",
        "security:key_updated",
        "security:key_discarded",
    ];

    /// `recovery:metrics_updated` fields quinn-proto 0.11.19 writes in
    /// seconds, written here in ms.
    const RTT_FIELDS: &[&str] = &["min_rtt", "smoothed_rtt", "latest_rtt", "rtt_variance"];

    /// A connection's start and the latest time written into its trace,
    /// shared by quinn-proto's records and the layer's own events so the
    /// trace's times never go back (quinn-proto's are rounded to `f32`
    /// ms).
    pub(crate) struct Clock {
        start: Instant,
        last_ns: AtomicU64,
    }

    impl Clock {
        pub(super) fn new(start: Instant) -> Clock {
            Clock {
                start,
                last_ns: AtomicU64::new(0),
            }
        }

        /// `t`, or the latest time written if that is later.
        pub(super) fn at(&self, t: Instant) -> Instant {
            let ns = t.saturating_duration_since(self.start).as_nanos();
            let ns = u64::try_from(ns).unwrap_or(u64::MAX);
            let ns = self.last_ns.fetch_max(ns, Ordering::Relaxed).max(ns);
            after(self.start, Duration::from_nanos(ns))
        }

        /// The instant `ms` after the start.
        fn after_ms(&self, ms: f64) -> Instant {
            let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
            let d = Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX);
            after(self.start, d)
        }
    }

    /// A quinn-proto qlog stream writing into `trace` (None if quinn-proto
    /// could not start it).
    pub(super) fn stream(trace: QlogTrace, clock: Arc<Clock>) -> Option<quinn_proto::QlogStream> {
        let start = clock.start;
        let mut cfg = quinn_proto::QlogConfig::default();
        cfg.writer(Box::new(Records::new(trace, clock)))
            .start_time(start);
        cfg.into_stream()
    }

    /// The writer quinn-proto's qlog streamer writes JSON-SEQ into (RS,
    /// JSON text, LF, in pieces): each complete record becomes an event of
    /// the trace. Called synchronously inside quinn-proto, on the
    /// connection's own task.
    pub(super) struct Records {
        trace: QlogTrace,
        clock: Arc<Clock>,
        /// The record being written (at most [`MAX_RECORD_BYTES`]).
        line: Vec<u8>,
        /// The record being written is over the bound: dropped to its LF.
        skipping: bool,
    }

    impl Records {
        pub(super) fn new(trace: QlogTrace, clock: Arc<Clock>) -> Records {
            Records {
                trace,
                clock,
                line: Vec::new(),
                skipping: false,
            }
        }

        /// One complete record (without its LF).
        fn record(&self, text: &[u8]) {
            let text = text.strip_prefix(b"\x1e").unwrap_or(text);
            let Ok(Json::Object(mut event)) = serde_json::from_slice::<Json>(text) else {
                return;
            };
            // quinn-proto's header has no name: dropped.
            let Some(name) = event
                .get("name")
                .and_then(Json::as_str)
                .and_then(|n| NAMES.iter().copied().find(|&k| k == n))
            else {
                return;
            };
            let ms = event.get("time").and_then(Json::as_f64).unwrap_or(0.0);
            let at = self.clock.at(self.clock.after_ms(ms));
            let data = match event.remove("data") {
                Some(Json::Object(d)) => d,
                _ => serde_json::Map::new(),
            };
            let metrics = name == "recovery:metrics_updated";
            let fields: Vec<(String, Field)> = data
                .into_iter()
                .map(|(k, v)| {
                    let f = match v.as_f64() {
                        Some(s) if metrics && RTT_FIELDS.contains(&k.as_str()) => {
                            Field::Ms(s * 1000.0)
                        }
                        _ => Field::Json(v.to_string()),
                    };
                    (k, f)
                })
                .collect();
            let values: Vec<(&str, Value<'_>)> = fields
                .iter()
                .map(|(k, f)| {
                    let v = match f {
                        Field::Ms(ms) => Value::F64(*ms),
                        Field::Json(j) => Value::Raw(j),
                    };
                    (k.as_str(), v)
                })
                .collect();
            self.trace.emit(at, CATEGORY, name, &values);
        }
    }

    /// One data field of a record, re-written.
    enum Field {
        /// An RTT, now in ms.
        Ms(f64),
        /// Any other value, as quinn-proto wrote it.
        Json(String),
    }

    impl io::Write for Records {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            for piece in buf.split_inclusive(|&b| b == b'\n') {
                let (body, ends) = match piece.split_last() {
                    Some((b'\n', body)) => (body, true),
                    _ => (piece, false),
                };
                if self.line.len() + body.len() > MAX_RECORD_BYTES {
                    self.skipping = true;
                    self.line = Vec::new();
                }
                if !self.skipping {
                    self.line.extend_from_slice(body);
                }
                if ends {
                    if !self.skipping {
                        let line = std::mem::take(&mut self.line);
                        self.record(&line);
                        self.line = line;
                    }
                    self.line.clear();
                    self.skipping = false;
                }
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use std::io::Write;

        use super::*;
        use crate::qlog::{JsonSeqWriter, SharedBuf, TraceHeader, Vantage};

        fn records() -> (Records, SharedBuf, Instant) {
            let t0 = crate::testing::epoch();
            let buf = SharedBuf::default();
            let h = TraceHeader::new(Vantage::Client, t0);
            let trace = QlogTrace::new(JsonSeqWriter::new(h, 100, buf.sink()).flush_bytes(1));
            (Records::new(trace, Arc::new(Clock::new(t0))), buf, t0)
        }

        fn events(buf: &SharedBuf) -> Vec<String> {
            let text = buf.text();
            text.split('\u{1e}')
                .skip(2) // before the first RS, our header
                .map(|r| r.trim_end().to_string())
                .collect()
        }

        #[test]
        fn records_in_pieces_become_events_and_quinns_header_is_dropped() {
            let (mut r, buf, _) = records();
            r.write_all(b"\x1e{\"qlog_version\":\"0.3\",\"trace\":{}}")
                .unwrap();
            r.write_all(b"\n").unwrap();
            r.write_all(b"\x1e").unwrap();
            r.write_all(br#"{"time":1.5,"name":"transport:packet_sent","#)
                .unwrap();
            r.write_all(br#""data":{"header":{"packet_type":"1RTT","packet_number":7,"length":1200}},"group_id":"ab"}"#)
                .unwrap();
            r.write_all(b"\n").unwrap();
            assert_eq!(
                events(&buf),
                [
                    r#"{"time":1.500,"name":"transport:packet_sent","category":"quic","data":{"header":{"packet_type":"1RTT","packet_number":7,"length":1200}}}"#
                ]
            );
        }

        #[test]
        fn rtts_are_written_in_ms_and_other_figures_as_they_are() {
            let (mut r, buf, _) = records();
            r.write_all(b"\x1e{\"time\":40.0,\"name\":\"recovery:metrics_updated\",\"data\":{\"smoothed_rtt\":0.04,\"min_rtt\":0.0375,\"bytes_in_flight\":2400}}\n")
                .unwrap();
            assert_eq!(
                events(&buf),
                [
                    r#"{"time":40.000,"name":"recovery:metrics_updated","category":"quic","data":{"smoothed_rtt":40.000,"min_rtt":37.500,"bytes_in_flight":2400}}"#
                ]
            );
        }

        #[test]
        fn times_never_go_back_and_bad_records_are_dropped() {
            let (mut r, buf, t0) = records();
            r.write_all(b"\x1e{\"time\":5.0,\"name\":\"transport:packet_received\",\"data\":{}}\n")
                .unwrap();
            // Earlier, negative, not a number, unknown, not JSON, no LF yet.
            r.write_all(b"\x1e{\"time\":4.0,\"name\":\"transport:packet_sent\",\"data\":{}}\n")
                .unwrap();
            r.write_all(b"\x1e{\"time\":-4.0,\"name\":\"transport:packet_sent\"}\n")
                .unwrap();
            r.write_all(b"\x1e{\"time\":\"x\",\"name\":\"recovery:packet_lost\",\"data\":7}\n")
                .unwrap();
            r.write_all(b"\x1e{\"time\":6,\"name\":\"quic:made_up\",\"data\":{}}\n")
                .unwrap();
            r.write_all(b"\x1e{\"time\":6,\"na\n").unwrap();
            r.write_all(b"\x1e{\"time\":7,\"name\":\"recovery:packet_lost\"")
                .unwrap();
            let e = events(&buf);
            assert_eq!(e.len(), 4, "{e:?}");
            for t in &e {
                assert!(t.starts_with(r#"{"time":5.000,"#), "{t}");
            }
            assert!(e[3].ends_with(r#""data":{}}"#), "{}", e[3]);
            // The layer's own event after them: not before 5 ms either.
            let clock = r.clock.clone();
            assert_eq!(clock.at(t0), t0 + Duration::from_millis(5));
        }

        #[test]
        fn a_record_over_the_bound_is_dropped_whole_and_memory_stays_bounded() {
            let (mut r, buf, _) = records();
            let big = vec![b'x'; MAX_RECORD_BYTES];
            r.write_all(b"\x1e{\"time\":1,\"name\":\"transport:packet_sent\",\"data\":{\"x\":\"")
                .unwrap();
            for _ in 0..4 {
                r.write_all(&big).unwrap();
                assert!(r.line.capacity() <= 2 * MAX_RECORD_BYTES);
            }
            r.write_all(b"\"}}\n").unwrap();
            r.write_all(b"\x1e{\"time\":2,\"name\":\"transport:packet_sent\",\"data\":{}}\n")
                .unwrap();
            let e = events(&buf);
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].starts_with(r#"{"time":2.000,"#));
        }
    }
}
