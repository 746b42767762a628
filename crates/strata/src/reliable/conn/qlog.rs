//! The connection's qlog events (issue 14, point 5): packets sent and
//! received (number, size, frames), packets lost, and the recovery metrics
//! (congestion window, bytes in flight, RTTs) each time they change. Off,
//! each site costs one `Option` check.

use std::time::{Duration, Instant};

use super::{Connection, Side};
use crate::qlog::{QlogTrace, Value};
pub(super) use crate::reliable::qlog::LossTrigger;
use crate::reliable::qlog::{congestion_state, packet_lost, CATEGORY};
use crate::reliable::wire::{self, Frame, PacketType};

/// Frames listed per packet event (a packet holds a handful).
const MAX_FRAMES: usize = 16;

/// Ack ranges listed per ACK frame.
const MAX_RANGES: usize = 8;

/// A traced connection's trace and the metrics it last reported.
pub(super) struct Qlog {
    trace: QlogTrace,
    /// cwnd, bytes in flight, smoothed, latest and min RTT (µs).
    last: [u64; 5],
    /// The congestion controller's state last written.
    cc_state: &'static str,
}

impl Connection {
    /// Traces this connection's packets and recovery into `trace` (qlog
    /// category `reliable`), or stops tracing with `None`.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::qlog::{JsonSeqWriter, QlogTrace, SharedBuf, TraceHeader, Vantage};
    /// use strata::reliable::wire::ConnId;
    /// use strata::reliable::{Connection, ReliableConfig};
    /// let now = Instant::now();
    /// let buf = SharedBuf::default();
    /// let trace = QlogTrace::new(JsonSeqWriter::new(TraceHeader::new(Vantage::Client, now), 1000, buf.sink()));
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// c.set_qlog(Some(trace));
    /// let mut out = Vec::new();
    /// assert!(c.poll_transmit(now, &mut out));
    /// drop(c);
    /// assert!(buf.text().contains(r#""packet_type":"initial","packet_number":0"#));
    /// ```
    pub fn set_qlog(&mut self, trace: Option<QlogTrace>) {
        self.qlog = trace.map(|trace| {
            Box::new(Qlog {
                trace,
                last: [u64::MAX; 5],
                cc_state: "",
            })
        });
    }

    /// `transport:packet_sent` / `transport:packet_received` for one
    /// datagram (parsed again: only when tracing).
    #[inline]
    pub(super) fn qlog_packet(&mut self, now: Instant, sent: bool, datagram: &[u8]) {
        if let Some(q) = &self.qlog {
            packet_event(&q.trace, now, sent, datagram);
            self.qlog_metrics(now);
        }
    }

    /// `recovery:packet_lost`.
    #[inline]
    pub(super) fn qlog_lost(
        &self,
        now: Instant,
        pn: u64,
        size: u64,
        handshake: bool,
        trigger: LossTrigger,
    ) {
        if let Some(q) = &self.qlog {
            let kind = match (handshake, self.side) {
                (false, _) => "1RTT",
                (true, Side::Client) => "initial",
                (true, Side::Server) => "handshake",
            };
            packet_lost(&q.trace, now, (kind, pn, size), None, trigger);
        }
    }

    /// `recovery:metrics_updated` when any of the figures changed.
    #[cold]
    #[inline(never)]
    pub(super) fn qlog_metrics(&mut self, now: Instant) {
        let us = |d: Option<Duration>| {
            d.map_or(u64::MAX, |d| {
                u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
            })
        };
        let sample = self.rtt.has_sample();
        let now_figures = [
            self.cc.window(),
            self.bytes_in_flight,
            us(sample.then(|| self.rtt.smoothed())),
            us(self.rtt.latest()),
            us(self.rtt.min_rtt()),
        ];
        let Some(q) = self.qlog.as_mut() else {
            return;
        };
        let state = self.cc.state();
        congestion_state(&q.trace, now, &mut q.cc_state, state);
        if q.last == now_figures {
            return;
        }
        q.last = now_figures;
        let ms = |v: u64| Value::F64(v as f64 / 1000.0);
        let [cwnd, in_flight, srtt, latest, min] = now_figures;
        let mut data = vec![
            ("congestion_window", Value::U64(cwnd)),
            ("bytes_in_flight", Value::U64(in_flight)),
        ];
        if sample {
            data.push(("smoothed_rtt", ms(srtt)));
            data.push((
                "rtt_variance",
                Value::F64(self.rtt.rttvar().as_secs_f64() * 1000.0),
            ));
        }
        if latest != u64::MAX {
            data.push(("latest_rtt", ms(latest)));
        }
        if min != u64::MAX {
            data.push(("min_rtt", ms(min)));
        }
        q.trace
            .emit(now, CATEGORY, "recovery:metrics_updated", &data);
    }
}

fn packet_type(t: PacketType) -> &'static str {
    match t {
        PacketType::Initial => "initial",
        PacketType::Handshake => "handshake",
        PacketType::Retry => "retry",
        PacketType::VersionNegotiation => "version_negotiation",
        PacketType::Short => "1RTT",
    }
}

/// One frame's summary; the ack ranges go to `ranges`, listed after.
fn frame_fields<'a>(f: &Frame<'_>, ranges: &'a [Value<'a>]) -> Vec<(&'static str, Value<'a>)> {
    match *f {
        Frame::Padding { len } => vec![
            ("frame_type", Value::Str("padding")),
            ("length", Value::U64(len as u64)),
        ],
        Frame::Ping => vec![("frame_type", Value::Str("ping"))],
        Frame::Ack(a) => vec![
            ("frame_type", Value::Str("ack")),
            ("ack_delay", Value::F64(a.delay_micros() as f64 / 1000.0)),
            ("acked_ranges", Value::List(ranges)),
        ],
        Frame::Reset { code, final_size } => vec![
            ("frame_type", Value::Str("reset_stream")),
            ("error_code", Value::U64(code.0)),
            ("final_size", Value::U64(final_size)),
        ],
        Frame::MaxData { max } => vec![
            ("frame_type", Value::Str("max_data")),
            ("maximum", Value::U64(max)),
        ],
        Frame::DataBlocked { limit } => vec![
            ("frame_type", Value::Str("data_blocked")),
            ("limit", Value::U64(limit)),
        ],
        Frame::Close { code, .. } => vec![
            ("frame_type", Value::Str("connection_close")),
            ("error_code", Value::U64(code.0)),
        ],
        Frame::Stream { offset, fin, data } => vec![
            ("frame_type", Value::Str("stream")),
            ("stream_id", Value::U64(0)),
            ("offset", Value::U64(offset)),
            ("length", Value::U64(data.len() as u64)),
            ("fin", Value::Bool(fin)),
        ],
    }
}

#[cold]
#[inline(never)]
fn packet_event(trace: &QlogTrace, now: Instant, sent: bool, datagram: &[u8]) {
    let name = if sent {
        "transport:packet_sent"
    } else {
        "transport:packet_received"
    };
    let Ok(p) = wire::parse_packet(datagram) else {
        return;
    };
    let frames: Vec<Frame<'_>> = p.frames().take(MAX_FRAMES).filter_map(Result::ok).collect();
    // Storage for the ack ranges: [smallest, largest] pairs.
    let pairs: Vec<Vec<[Value<'_>; 2]>> = frames
        .iter()
        .map(|f| match f {
            Frame::Ack(a) => a
                .ranges()
                .take(MAX_RANGES)
                .map(|r| [Value::U64(*r.start()), Value::U64(*r.end())])
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let lists: Vec<Vec<Value<'_>>> = pairs
        .iter()
        .map(|v| v.iter().map(|pair| Value::List(pair)).collect())
        .collect();
    let fields: Vec<Vec<(&str, Value<'_>)>> = frames
        .iter()
        .zip(&lists)
        .map(|(f, r)| frame_fields(f, r))
        .collect();
    let objs: Vec<Value<'_>> = fields.iter().map(|f| Value::Obj(f)).collect();
    let pn = p
        .header
        .number()
        .map_or(Value::Str("none"), |n| Value::U64(n.0));
    trace.emit(
        now,
        CATEGORY,
        name,
        &[
            (
                "header",
                Value::Obj(&[
                    (
                        "packet_type",
                        Value::Str(packet_type(p.header.packet_type())),
                    ),
                    ("packet_number", pn),
                ]),
            ),
            (
                "raw",
                Value::Obj(&[("length", Value::U64(datagram.len() as u64))]),
            ),
            ("frames", Value::List(&objs)),
        ],
    );
}
