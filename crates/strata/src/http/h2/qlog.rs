//! The connection's qlog events (issue 14, point 5), category `h2`:
//!
//! * every frame written (`http:frame_created`) and read
//!   (`http:frame_parsed`) with its type, stream, length and flags; the
//!   window increments of WINDOW_UPDATE and the codes of RST_STREAM and
//!   GOAWAY; the connection's send window after each DATA frame. Frames
//!   written are found by scanning the bytes handed below, so no write site
//!   can be missed;
//! * each stream's moves in the RFC 9113 §5.1 diagram
//!   (`http:stream_state_updated`: `stream_id`, `old`, `new`, `trigger`),
//!   written where the state changes: `H2Connection::new_stream` (the move
//!   out of idle, as the stream is made) and `StreamState::apply` (every
//!   later move), and by the connection when a stream leaves without a
//!   close of its own (a GOAWAY refused it, the connection ended);
//! * each change of a flow-control window (`http:flow_control_updated`:
//!   `stream_id`, `trigger`, and the windows that changed), written where
//!   the window changes.
//!
//! Off, each site costs one `Option` check; the emitters are cold.

use std::cell::Cell;
use std::time::Instant;

use super::frame::{self, flag, kind, FrameHeader, HEADER_LEN};
use super::stream::{Event, State, StreamId, StreamState};
use crate::qlog::{QlogTrace, Value};
use crate::StreamTransport;

/// The category of this layer's events.
const CATEGORY: &str = "h2";

/// Payload bytes kept of a frame being scanned: enough for WINDOW_UPDATE,
/// RST_STREAM and GOAWAY's last stream and code.
const KEEP: usize = 8;

/// A traced connection's trace and the scanner of its output.
pub(super) struct H2Qlog {
    trace: QlogTrace,
    /// Bytes still to skip before the next frame header (the client
    /// preface, then each frame's payload past `KEEP`).
    skip: usize,
    hdr: [u8; HEADER_LEN],
    have: usize,
    /// The header of the frame whose payload start is being kept.
    cur: Option<FrameHeader>,
    payload: [u8; KEEP],
    plen: usize,
    /// The time of the last event: events written from `connection_lost`,
    /// which is not told the time, carry it (kept by the emitters, so an
    /// untraced connection pays nothing for it).
    last: Cell<Instant>,
}

impl H2Qlog {
    /// Tracing into `trace` from `now`; a client's output starts with the
    /// preface.
    pub(super) fn new(trace: QlogTrace, client: bool, now: Instant) -> Box<H2Qlog> {
        Box::new(H2Qlog {
            last: Cell::new(now),
            trace,
            skip: if client { frame::PREFACE.len() } else { 0 },
            hdr: [0; HEADER_LEN],
            have: 0,
            cur: None,
            payload: [0; KEEP],
            plen: 0,
        })
    }

    /// Scans bytes handed to the transport below; emits one
    /// `http:frame_created` per frame header found. `send_window` is the
    /// connection's send window now.
    #[cold]
    #[inline(never)]
    pub(super) fn sent(&mut self, now: Instant, mut bytes: &[u8], send_window: i64) {
        self.last.set(now);
        while !bytes.is_empty() {
            if let Some(h) = self.cur {
                let want = (h.len as usize).min(KEEP) - self.plen;
                let n = want.min(bytes.len());
                self.payload[self.plen..self.plen + n].copy_from_slice(&bytes[..n]);
                self.plen += n;
                bytes = &bytes[n..];
                if self.plen == (h.len as usize).min(KEEP) {
                    let p = self.payload;
                    emit(
                        &self.trace,
                        now,
                        "http:frame_created",
                        h,
                        &p[..self.plen],
                        Some(send_window),
                    );
                    self.skip = h.len as usize - self.plen;
                    self.cur = None;
                }
                continue;
            }
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (HEADER_LEN - self.have).min(bytes.len());
            self.hdr[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == HEADER_LEN {
                self.have = 0;
                self.plen = 0;
                self.cur = frame::parse_header(&self.hdr);
                if let Some(h) = self.cur
                    && h.len == 0
                {
                    emit(
                        &self.trace,
                        now,
                        "http:frame_created",
                        h,
                        &[],
                        Some(send_window),
                    );
                    self.cur = None;
                }
            }
        }
    }

    /// One whole frame read (`raw` is its header and payload).
    #[cold]
    #[inline(never)]
    pub(super) fn parsed(&self, now: Instant, raw: &[u8]) {
        self.last.set(now);
        if let Some(h) = frame::parse_header(raw) {
            let end = raw.len().min(HEADER_LEN + KEEP);
            emit(
                &self.trace,
                now,
                "http:frame_parsed",
                h,
                raw.get(HEADER_LEN..end).unwrap_or_default(),
                None,
            );
        }
    }
}

impl H2Qlog {
    /// The time of the last event written (or frame scanned).
    pub(super) fn last_seen(&self) -> Instant {
        self.last.get()
    }

    /// Stream `id` moved from `old` to `new` on `ev` (written when the
    /// RFC's state names differ: a peer's reset after ours is closed to
    /// closed). Takes the transport, not the time: the clock is read here,
    /// off the hot path.
    #[cold]
    #[inline(never)]
    pub(super) fn state(
        &self,
        t: &dyn StreamTransport,
        id: StreamId,
        old: State,
        new: State,
        ev: Event,
    ) {
        if old.name() != new.name() {
            self.state_event(t.now(), id, old.name(), new.name(), ev.trigger());
        }
    }

    /// A stream leaves the connection: unless its state is already
    /// closed, it closes now for `trigger` (`goaway`, `connection_closed`).
    #[cold]
    #[inline(never)]
    pub(super) fn left(&self, now: Instant, st: &StreamState, trigger: &'static str) {
        if !matches!(st.state, State::Closed(_)) {
            self.state_event(now, st.id, st.state.name(), "closed", trigger);
        }
    }

    fn state_event(&self, now: Instant, id: StreamId, old: &str, new: &str, trigger: &str) {
        self.last.set(now);
        self.trace.emit(
            now,
            CATEGORY,
            "http:stream_state_updated",
            &[
                ("stream_id", Value::U64(u64::from(id.0))),
                ("old", Value::Str(old)),
                ("new", Value::Str(new)),
                ("trigger", Value::Str(trigger)),
            ],
        );
    }

    /// Flow-control windows changed on `stream` (0: the connection's
    /// alone) for `trigger`; `windows` are their new values, by name
    /// (`send_window`, `recv_window` for the stream's,
    /// `connection_send_window`, `connection_recv_window`).
    #[cold]
    #[inline(never)]
    pub(super) fn flow(
        &self,
        t: &dyn StreamTransport,
        stream: u32,
        trigger: &'static str,
        windows: &[(&'static str, i64)],
    ) {
        let now = t.now();
        self.last.set(now);
        let mut data: Vec<(&str, Value<'_>)> = Vec::with_capacity(2 + windows.len());
        data.push(("stream_id", Value::U64(u64::from(stream))));
        data.extend(windows.iter().map(|&(k, v)| (k, Value::I64(v))));
        data.push(("trigger", Value::Str(trigger)));
        self.trace
            .emit(now, CATEGORY, "http:flow_control_updated", &data);
    }
}

fn type_name(k: u8) -> &'static str {
    match k {
        kind::DATA => "data",
        kind::HEADERS => "headers",
        kind::PRIORITY => "priority",
        kind::RST_STREAM => "rst_stream",
        kind::SETTINGS => "settings",
        kind::PUSH_PROMISE => "push_promise",
        kind::PING => "ping",
        kind::GOAWAY => "goaway",
        kind::WINDOW_UPDATE => "window_update",
        kind::CONTINUATION => "continuation",
        _ => "unknown",
    }
}

fn u32_at(p: &[u8], at: usize) -> Option<u32> {
    let b = p.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn emit(
    trace: &QlogTrace,
    now: Instant,
    name: &'static str,
    h: FrameHeader,
    p: &[u8],
    window: Option<i64>,
) {
    let end_stream =
        matches!(h.kind, kind::DATA | kind::HEADERS) && h.flags & flag::END_STREAM != 0;
    let mut fr: Vec<(&str, Value<'_>)> = vec![("frame_type", Value::Str(type_name(h.kind)))];
    match h.kind {
        kind::WINDOW_UPDATE => {
            if let Some(v) = u32_at(p, 0) {
                fr.push(("increment", Value::U64(u64::from(v & 0x7fff_ffff))));
            }
        }
        kind::RST_STREAM => {
            if let Some(v) = u32_at(p, 0) {
                fr.push(("error_code", Value::U64(u64::from(v))));
            }
        }
        kind::GOAWAY => {
            if let (Some(last), Some(code)) = (u32_at(p, 0), u32_at(p, 4)) {
                fr.push(("last_stream_id", Value::U64(u64::from(last & 0x7fff_ffff))));
                fr.push(("error_code", Value::U64(u64::from(code))));
            }
        }
        kind::SETTINGS | kind::PING => fr.push(("ack", Value::Bool(h.flags & flag::ACK != 0))),
        _ => {}
    }
    let raw = [("length", Value::U64(u64::from(h.len)))];
    let mut data = vec![
        ("stream_id", Value::U64(u64::from(h.stream))),
        ("frame", Value::Obj(&fr)),
        ("raw", Value::Obj(&raw)),
        ("flags", Value::U64(u64::from(h.flags))),
        ("end_stream", Value::Bool(end_stream)),
    ];
    if let Some(w) = window.filter(|_| h.kind == kind::DATA) {
        data.push(("connection_send_window", Value::I64(w)));
    }
    trace.emit(now, CATEGORY, name, &data);
}
