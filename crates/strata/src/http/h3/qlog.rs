//! The connection's qlog events (issue 14, point 5), category `h3`, after
//! draft-ietf-quic-qlog-h3-events-07 (the names quiche's `qlog` crate
//! writes): every frame queued for a stream (`http3:frame_created`) and
//! every frame read (`http3:frame_parsed`) with its stream, type and
//! length; HEADERS with their field count and pseudo-headers (never the
//! values of other fields), SETTINGS with their values, GOAWAY,
//! MAX_PUSH_ID and CANCEL_PUSH with their id, unknown and reserved types
//! with their raw type; and the type of each unidirectional stream
//! (`http3:stream_type_set`), ours and the peer's. They go into the trace
//! of the QUIC connection below (`c.get::<QlogTrace>()`), so a connection
//! has one trace. Off, each site costs one `Option` check.

use std::time::Instant;

use super::frame::{Frame, Settings};
use super::quic_api::StreamId;
use crate::http::qpack::HeaderField;
use crate::qlog::{QlogTrace, Value};

/// The category of this layer's events.
const CATEGORY: &str = "h3";

/// Pseudo-headers written per HEADERS frame at most (a request has four,
/// five with `:protocol`).
const MAX_PSEUDO: usize = 8;

/// A traced connection's trace.
pub(super) struct H3Qlog(QlogTrace);

/// Which end opened a unidirectional stream.
#[derive(Clone, Copy)]
pub(super) enum Owner {
    Local,
    Remote,
}

impl H3Qlog {
    pub(super) fn new(trace: QlogTrace) -> H3Qlog {
        H3Qlog(trace)
    }

    /// A unidirectional stream's type: ours when opened, the peer's when
    /// its type varint arrived.
    #[cold]
    #[inline(never)]
    pub(super) fn stream_type_set(&self, now: Instant, owner: Owner, id: StreamId, ty: u64) {
        let name = match ty {
            0x00 => "control",
            0x01 => "push",
            0x02 => "qpack_encode",
            0x03 => "qpack_decode",
            t if reserved(t) => "reserved",
            _ => "unknown",
        };
        let owner = match owner {
            Owner::Local => "local",
            Owner::Remote => "remote",
        };
        let mut data = vec![
            ("owner", Value::Str(owner)),
            ("stream_id", Value::U64(id.0)),
            ("stream_type", Value::Str(name)),
        ];
        if matches!(name, "reserved" | "unknown") {
            data.push(("stream_type_value", Value::U64(ty)));
        }
        self.0.emit(now, CATEGORY, "http3:stream_type_set", &data);
    }

    /// A frame read on `id` (`len`: its payload length). HEADERS are
    /// written by [`H3Qlog::headers`] once QPACK decoded them.
    #[cold]
    #[inline(never)]
    pub(super) fn parsed(&self, now: Instant, id: StreamId, f: &Frame, len: u64) {
        self.described(now, "http3:frame_parsed", id, f, len);
    }

    /// A frame we queued on `id` (HEADERS: [`H3Qlog::headers`]).
    #[cold]
    #[inline(never)]
    pub(super) fn created(&self, now: Instant, id: StreamId, f: &Frame, len: u64) {
        self.described(now, "http3:frame_created", id, f, len);
    }

    fn described(&self, now: Instant, name: &'static str, id: StreamId, f: &Frame, len: u64) {
        let (ty, field) = match f {
            Frame::Data { .. } => ("data", None),
            Frame::Headers(_) => ("headers", None),
            Frame::CancelPush(v) => ("cancel_push", Some(("push_id", *v))),
            Frame::PushPromise { push_id, .. } => ("push_promise", Some(("push_id", *push_id))),
            Frame::Goaway(v) => ("goaway", Some(("id", *v))),
            Frame::MaxPushId(v) => ("max_push_id", Some(("push_id", *v))),
            Frame::Unknown { kind, .. } if reserved(*kind) => {
                ("reserved", Some(("frame_type_value", *kind)))
            }
            Frame::Unknown { kind, .. } => ("unknown", Some(("frame_type_value", *kind))),
            Frame::Settings(s) => {
                let pairs = settings_pairs(s);
                let list: Vec<Value<'_>> = pairs.iter().map(|p| Value::Obj(p)).collect();
                let fr = [
                    ("frame_type", Value::Str("settings")),
                    ("settings", Value::List(&list)),
                ];
                return self.frame(now, name, id, &fr, len);
            }
        };
        match field {
            Some((k, v)) => self.frame(
                now,
                name,
                id,
                &[("frame_type", Value::Str(ty)), (k, Value::U64(v))],
                len,
            ),
            None => self.frame(now, name, id, &[("frame_type", Value::Str(ty))], len),
        }
    }

    /// A HEADERS frame of `len` payload bytes carrying `fields` (created
    /// or parsed): the field count and the pseudo-headers.
    #[cold]
    #[inline(never)]
    pub(super) fn headers(
        &self,
        now: Instant,
        created: bool,
        id: StreamId,
        fields: &[HeaderField],
        len: u64,
    ) {
        let mut pseudo: Vec<[(&str, Value<'_>); 2]> = Vec::with_capacity(4);
        for f in fields
            .iter()
            .filter(|f| f.name.starts_with(b":"))
            .take(MAX_PSEUDO)
        {
            pseudo.push([
                (
                    "name",
                    Value::Str(std::str::from_utf8(&f.name).unwrap_or("?")),
                ),
                (
                    "value",
                    Value::Str(std::str::from_utf8(&f.value).unwrap_or("?")),
                ),
            ]);
        }
        let list: Vec<Value<'_>> = pseudo.iter().map(|p| Value::Obj(p)).collect();
        let fr = [
            ("frame_type", Value::Str("headers")),
            ("field_count", Value::U64(fields.len() as u64)),
            ("headers", Value::List(&list)),
        ];
        let name = if created {
            "http3:frame_created"
        } else {
            "http3:frame_parsed"
        };
        self.frame(now, name, id, &fr, len);
    }

    fn frame(
        &self,
        now: Instant,
        name: &'static str,
        id: StreamId,
        fr: &[(&str, Value<'_>)],
        len: u64,
    ) {
        let data = [
            ("stream_id", Value::U64(id.0)),
            ("length", Value::U64(len)),
            ("frame", Value::Obj(fr)),
        ];
        self.0.emit(now, CATEGORY, name, &data);
    }
}

/// A type of the form `0x1f * N + 0x21`, reserved for greasing (RFC 9114
/// §6.2.3, §7.2.8).
fn reserved(t: u64) -> bool {
    t >= 0x21 && (t - 0x21).is_multiple_of(0x1f)
}

/// The payload length of the frame at the start of `wire` (a frame we
/// just wrote), 0 if it does not parse.
pub(super) fn payload_len(wire: &[u8]) -> u64 {
    super::varint::read(wire)
        .and_then(|(_, n)| super::varint::read(&wire[n..]))
        .map_or(0, |(len, _)| len)
}

/// SETTINGS as qlog's `{name, value}` pairs: the ones off their default
/// (a peer's unknown identifiers are not kept by the parser).
fn settings_pairs(s: &Settings) -> Vec<[(&'static str, Value<'static>); 2]> {
    // What `write_settings` puts on the wire: every value off its default.
    let items: [(&'static str, Option<u64>); 5] = [
        (
            "settings_qpack_max_table_capacity",
            Some(s.qpack_max_table_capacity).filter(|v| *v != 0),
        ),
        ("settings_max_field_section_size", s.max_field_section_size),
        (
            "settings_qpack_blocked_streams",
            Some(s.qpack_blocked_streams).filter(|v| *v != 0),
        ),
        (
            "settings_enable_connect_protocol",
            s.enable_connect_protocol.then_some(1),
        ),
        ("settings_h3_datagram", s.h3_datagram.then_some(1)),
    ];
    items
        .into_iter()
        .filter_map(|(name, v)| Some([("name", Value::Str(name)), ("value", Value::U64(v?))]))
        .collect()
}
