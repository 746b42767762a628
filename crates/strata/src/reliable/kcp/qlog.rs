//! The KCP engine's qlog events (issue 14, point 5), in the reliable
//! mapping's vocabulary (category `reliable`, `"wire":"kcp"`): one
//! `transport:packet_sent` / `transport:packet_received` per KCP segment,
//! `recovery:packet_lost` per retransmission, `recovery:metrics_updated`
//! when a figure changed and `recovery:congestion_state_updated`. Off, each
//! site costs one `Option` check.
//!
//! One event per segment, not per datagram: the segment is KCP's unit of
//! sequencing, acknowledgement and retransmission (a datagram has no number
//! on the wire), so a push's `packet_number` is its `sn` and the
//! `packet_lost` of its retransmission names the same number, the pairing
//! qvis draws.

use std::time::Instant;

use super::{Command, Kcp, Segment};
use crate::qlog::{QlogTrace, Value};
pub(super) use crate::reliable::qlog::LossTrigger;
use crate::reliable::qlog::{congestion_state, packet_lost, CATEGORY};

/// A traced engine's trace and the figures it last reported.
#[derive(Debug)]
pub(super) struct KcpQlog {
    trace: QlogTrace,
    /// The last RTT sample (ms), once there is one.
    latest_rtt: Option<u32>,
    /// The smallest RTT sample (ms).
    min_rtt: Option<u32>,
    /// window, ssthresh, bytes and segments in flight, srtt, rttvar,
    /// latest and min RTT, RTO, as last written.
    last: [u64; 9],
    /// The congestion state last written ("" before the first).
    state: &'static str,
}

fn cmd_name(cmd: Command) -> &'static str {
    match cmd {
        Command::Push => "push",
        Command::Ack => "ack",
        Command::WindowAsk => "wask",
        Command::WindowTell => "wins",
    }
}

impl KcpQlog {
    /// Records an RTT sample (ms).
    pub(super) fn rtt_sample(&mut self, rtt: u32) {
        self.latest_rtt = Some(rtt);
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
    }
}

impl Kcp {
    /// Traces this engine's segments and recovery into `trace` (qlog
    /// category `reliable`, `"wire":"kcp"`), or stops tracing with `None`.
    /// The KCP layers call it with the trace their socket's
    /// [`QlogTracer`](crate::qlog::QlogTracer) made.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::qlog::{JsonSeqWriter, QlogTrace, SharedBuf, TraceHeader, Vantage};
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// let now = Instant::now();
    /// let buf = SharedBuf::default();
    /// let trace = QlogTrace::new(JsonSeqWriter::new(TraceHeader::new(Vantage::Client, now), 1000, buf.sink()));
    /// let mut k = Kcp::new(9, KcpConfig::fast_mode()).unwrap();
    /// k.set_qlog(Some(trace));
    /// k.send(b"hello");
    /// k.on_timeout(now);
    /// assert!(k.poll_transmit(now, &mut Vec::new()));
    /// drop(k);
    /// let text = buf.text();
    /// assert!(text.contains(r#""name":"transport:packet_sent""#));
    /// assert!(text.contains(r#""wire":"kcp","kcp":{"cmd":"push","conv":9"#));
    /// ```
    pub fn set_qlog(&mut self, trace: Option<QlogTrace>) {
        self.qlog = trace.map(|trace| {
            Box::new(KcpQlog {
                trace,
                latest_rtt: None,
                min_rtt: None,
                last: [u64::MAX; 9],
                state: "",
            })
        });
    }

    /// Whether the engine is traced ([`Kcp::set_qlog`]).
    ///
    /// ```
    /// use strata::reliable::kcp::{Kcp, KcpConfig};
    /// assert!(!Kcp::new(1, KcpConfig::default()).unwrap().is_traced());
    /// ```
    pub fn is_traced(&self) -> bool {
        self.qlog.is_some()
    }

    /// The engine's latest instant (what the events are stamped with).
    fn qlog_now(&self) -> Option<Instant> {
        self.latest
    }

    /// One packet event per segment of `datagram` (parsed again: only when
    /// tracing), then the metrics if they changed.
    #[cold]
    #[inline(never)]
    pub(super) fn qlog_datagram(&mut self, sent: bool, datagram: &[u8]) {
        let (Some(q), Some(now)) = (&self.qlog, self.qlog_now()) else {
            return;
        };
        for seg in super::segments(datagram).flatten() {
            segment_event(&q.trace, now, sent, &seg);
        }
        if !sent {
            self.qlog_metrics();
        }
    }

    /// `recovery:packet_lost` for a segment about to be sent again.
    #[cold]
    #[inline(never)]
    pub(super) fn qlog_lost(q: &KcpQlog, now: Instant, sn: u32, len: usize, trigger: LossTrigger) {
        let length = (super::HEADER_LEN + len) as u64;
        let lost = ("1RTT", u64::from(sn), length);
        packet_lost(&q.trace, now, lost, Some("kcp"), trigger);
    }

    /// `recovery:congestion_state_updated` when the state changed, and
    /// `recovery:metrics_updated` when a figure did.
    ///
    /// `congestion_window` is the window the sender obeys, in bytes:
    /// `min(cwnd, snd_wnd, rmt_wnd) × mss` (cwnd left out when congestion
    /// control is off); `ssthresh` is in bytes too.
    #[cold]
    #[inline(never)]
    pub(super) fn qlog_metrics(&mut self) {
        let Some(now) = self.qlog_now() else {
            return;
        };
        let mss = self.mss as u64;
        let mut wnd = u32::from(self.cfg.snd_wnd).min(u32::from(self.rmt_wnd));
        let state = if self.cfg.no_congestion_control {
            "no_congestion_control"
        } else {
            wnd = wnd.min(self.cwnd);
            if self.cwnd < self.ssthresh {
                "slow_start"
            } else {
                "congestion_avoidance"
            }
        };
        let in_flight: u64 = self.snd_buf.iter().map(|s| s.data.len() as u64).sum();
        let Some(q) = self.qlog.as_mut() else {
            return;
        };
        let none = u64::MAX;
        let sampled = self.rx_srtt > 0 || q.latest_rtt.is_some();
        let figures = [
            u64::from(wnd) * mss,
            if self.cfg.no_congestion_control {
                none
            } else {
                u64::from(self.ssthresh) * mss
            },
            in_flight,
            self.snd_buf.len() as u64,
            if sampled {
                u64::from(self.rx_srtt)
            } else {
                none
            },
            if sampled {
                u64::from(self.rx_rttval)
            } else {
                none
            },
            q.latest_rtt.map_or(none, u64::from),
            q.min_rtt.map_or(none, u64::from),
            u64::from(self.rx_rto),
        ];
        congestion_state(&q.trace, now, &mut q.state, state);
        if q.last == figures {
            return;
        }
        q.last = figures;
        let [window, ssthresh, bytes, packets, srtt, rttvar, latest, min, rto] = figures;
        let ms = |v: u64| Value::F64(v as f64);
        let mut data = Vec::with_capacity(9);
        data.push(("congestion_window", Value::U64(window)));
        if ssthresh != none {
            data.push(("ssthresh", Value::U64(ssthresh)));
        }
        data.push(("bytes_in_flight", Value::U64(bytes)));
        data.push(("packets_in_flight", Value::U64(packets)));
        if srtt != none {
            data.push(("smoothed_rtt", ms(srtt)));
            data.push(("rtt_variance", ms(rttvar)));
        }
        if latest != none {
            data.push(("latest_rtt", ms(latest)));
        }
        if min != none {
            data.push(("min_rtt", ms(min)));
        }
        data.push(("rto", ms(rto)));
        q.trace
            .emit(now, CATEGORY, "recovery:metrics_updated", &data);
    }
}

/// One segment's `transport:packet_sent` / `transport:packet_received`:
/// qlog's header (a push's `packet_number` is its `sn`; acks and window
/// segments carry none of their own), the raw length, the KCP header as
/// `kcp`, and the segment as qlog frames (a push as a `stream` frame, an
/// ack as an `ack` frame of its one `sn`).
fn segment_event(trace: &QlogTrace, now: Instant, sent: bool, seg: &Segment<'_>) {
    let name = if sent {
        "transport:packet_sent"
    } else {
        "transport:packet_received"
    };
    let sn = Value::U64(u64::from(seg.sn));
    let len = seg.data.len() as u64;
    let push_header = [("packet_type", Value::Str("1RTT")), ("packet_number", sn)];
    let other_header = [("packet_type", Value::Str("1RTT"))];
    let header = if seg.cmd == Command::Push {
        &push_header[..]
    } else {
        &other_header[..]
    };
    let range = [sn, sn];
    let ranges = [Value::List(&range)];
    let stream = [
        ("frame_type", Value::Str("stream")),
        ("stream_id", Value::U64(0)),
        ("length", Value::U64(len)),
    ];
    let ack = [
        ("frame_type", Value::Str("ack")),
        ("acked_ranges", Value::List(&ranges)),
    ];
    let unknown = [
        ("frame_type", Value::Str("unknown")),
        ("raw_frame_type", Value::U64(u64::from(seg.cmd.byte()))),
    ];
    let frame = match seg.cmd {
        Command::Push => &stream[..],
        Command::Ack => &ack[..],
        Command::WindowAsk | Command::WindowTell => &unknown[..],
    };
    let frames = [Value::Obj(frame)];
    trace.emit(
        now,
        CATEGORY,
        name,
        &[
            ("header", Value::Obj(header)),
            (
                "raw",
                Value::Obj(&[
                    ("length", Value::U64(super::HEADER_LEN as u64 + len)),
                    ("payload_length", Value::U64(len)),
                ]),
            ),
            ("wire", Value::Str("kcp")),
            (
                "kcp",
                Value::Obj(&[
                    ("cmd", Value::Str(cmd_name(seg.cmd))),
                    ("conv", Value::U64(u64::from(seg.conv))),
                    ("frg", Value::U64(u64::from(seg.frg))),
                    ("wnd", Value::U64(u64::from(seg.wnd))),
                    ("ts", Value::U64(u64::from(seg.ts))),
                    ("sn", sn),
                    ("una", Value::U64(u64::from(seg.una))),
                    ("len", Value::U64(len)),
                ]),
            ),
            ("frames", Value::List(&frames)),
        ],
    );
}
