//! The receive path of [`WebSocket`](super::WebSocket): frames parsed out
//! of the stream, messages reassembled and delivered, control frames acted
//! on (RFC 6455 §5 and §7).

use super::error::WsError;
use super::frame::{apply_mask, parse_header, FrameHeader, Opcode, MAX_HEADER};
use super::layer::{State, WS};
use super::view::WsView;
use super::{MessageKind, Role};
use crate::{AbortReason, Close, Datagram, DatagramProtocol, StreamTransport};

/// The parser: a partial header, the frame being read, the message being
/// reassembled.
#[derive(Default)]
pub(super) struct Rx {
    pub(super) hdr: Vec<u8>,
    pub(super) frame: Option<Cur>,
    /// The data message in progress (its kind), if any.
    pub(super) kind: Option<MessageKind>,
    pub(super) msg: Vec<u8>,
    /// How much of `msg` is checked UTF-8 (text only).
    pub(super) utf8_ok: usize,
    /// The control frame being read.
    pub(super) ctl: Vec<u8>,
    /// The message in progress is compressed (RSV1 on its first frame).
    pub(super) compressed: bool,
}

#[derive(Clone, Copy)]
pub(super) struct Cur {
    pub(super) opcode: Opcode,
    pub(super) fin: bool,
    pub(super) remaining: u64,
    pub(super) mask: Option<[u8; 4]>,
    pub(super) offset: usize,
}

/// Parses frames out of `data`, delivering complete messages one by one.
/// Returns how much of `data` was used: less than all only when paused or
/// dead.
pub(super) fn feed<P: DatagramProtocol>(
    inner: &mut P,
    rx: &mut Rx,
    st: &mut State,
    t: &mut dyn StreamTransport,
    data: &[u8],
) -> usize {
    let mut pos = 0;
    while pos < data.len() {
        if st.paused || st.dead {
            return pos;
        }
        let Some(cur) = &mut rx.frame else {
            // A header: from the start of this chunk, or completing one.
            let before = rx.hdr.len();
            let take = (MAX_HEADER - before).min(data.len() - pos);
            rx.hdr.extend_from_slice(&data[pos..pos + take]);
            match parse_header(&rx.hdr) {
                Ok(None) => {
                    pos += take;
                    continue;
                }
                Ok(Some((h, used))) => {
                    pos += used - before;
                    rx.hdr.clear();
                    st.counters.frame_received();
                    if let Err(e) = on_header(rx, st, h) {
                        st.fail(t, e);
                        return pos;
                    }
                    if h.len == 0 {
                        end_frame(inner, rx, st, t);
                    }
                }
                Err(e) => {
                    st.fail(t, e);
                    return pos;
                }
            }
            continue;
        };
        let n = usize::try_from(cur.remaining)
            .unwrap_or(usize::MAX)
            .min(data.len() - pos);
        let chunk = &data[pos..pos + n];
        let buf = if cur.opcode.is_control() {
            &mut rx.ctl
        } else {
            &mut rx.msg
        };
        let start = buf.len();
        buf.extend_from_slice(chunk);
        if let Some(k) = cur.mask {
            apply_mask(&mut buf[start..], k, cur.offset);
        }
        cur.offset += n;
        cur.remaining -= n as u64;
        pos += n;
        if rx.kind == Some(MessageKind::Text)
            && !rx.compressed
            && !cur.opcode.is_control()
            && let Err(e) = check_utf8(rx)
        {
            st.fail(t, e);
            return pos;
        }
        if rx.frame.is_some_and(|c| c.remaining == 0) {
            end_frame(inner, rx, st, t);
        }
    }
    pos
}

/// Checks a frame header against the role and the message in progress.
fn on_header(rx: &mut Rx, st: &State, h: FrameHeader) -> Result<(), WsError> {
    // RSV1 marks a compressed message, on its first frame only.
    let first_data = matches!(h.opcode, Opcode::Text | Opcode::Binary);
    if h.rsv1 && (st.deflate.is_none() || !first_data) {
        return Err(WsError::ReservedBits);
    }
    match (st.role, h.mask.is_some()) {
        (Role::Server, false) => return Err(WsError::UnmaskedFrame),
        (Role::Client, true) => return Err(WsError::MaskedFrame),
        _ => {}
    }
    match h.opcode {
        Opcode::Text | Opcode::Binary if rx.kind.is_some() => {
            return Err(WsError::UnfinishedMessage)
        }
        Opcode::Text => {
            rx.kind = Some(MessageKind::Text);
            rx.utf8_ok = 0;
            rx.compressed = h.rsv1;
        }
        Opcode::Binary => {
            rx.kind = Some(MessageKind::Binary);
            rx.compressed = h.rsv1;
        }
        Opcode::Continuation if rx.kind.is_none() => return Err(WsError::UnexpectedContinuation),
        _ => {}
    }
    if !h.opcode.is_control() {
        let limit = st.cfg.max_message;
        let total = (rx.msg.len() as u64).saturating_add(h.len);
        if total > limit as u64 {
            return Err(WsError::MessageTooBig { limit });
        }
        // What the header promises is within the limit: reserve for it.
        rx.msg
            .reserve(usize::try_from(h.len).unwrap_or(0).min(64 * 1024));
    }
    rx.frame = Some(Cur {
        opcode: h.opcode,
        fin: h.fin,
        remaining: h.len,
        mask: h.mask,
        offset: 0,
    });
    Ok(())
}

/// Checks the text received since the last check: an error is invalid
/// UTF-8; a sequence cut at the end waits for the next bytes.
fn check_utf8(rx: &mut Rx) -> Result<(), WsError> {
    match std::str::from_utf8(&rx.msg[rx.utf8_ok..]) {
        Ok(_) => rx.utf8_ok = rx.msg.len(),
        Err(e) if e.error_len().is_some() => return Err(WsError::InvalidUtf8),
        Err(e) => rx.utf8_ok += e.valid_up_to(),
    }
    Ok(())
}

/// A frame's payload is complete: deliver a message, or act on a control frame.
fn end_frame<P: DatagramProtocol>(
    inner: &mut P,
    rx: &mut Rx,
    st: &mut State,
    t: &mut dyn StreamTransport,
) {
    let Some(cur) = rx.frame.take() else {
        return;
    };
    match cur.opcode {
        Opcode::Ping => {
            let ping = std::mem::take(&mut rx.ctl);
            if !st.close_sent {
                st.send_frame(t, true, Opcode::Pong, &ping);
            }
        }
        Opcode::Pong => rx.ctl.clear(),
        Opcode::Close => {
            let payload = std::mem::take(&mut rx.ctl);
            peer_close(inner, st, t, &payload);
        }
        Opcode::Text | Opcode::Binary | Opcode::Continuation => {
            if !cur.fin {
                return;
            }
            let Some(kind) = rx.kind.take() else {
                return;
            };
            if std::mem::take(&mut rx.compressed) {
                let limit = st.cfg.max_message;
                let inflated = match st.deflate.as_mut().map(|d| d.decompress(&rx.msg, limit)) {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return st.fail(t, e),
                    None => return st.fail(t, WsError::ReservedBits),
                };
                rx.msg = inflated;
                rx.utf8_ok = match (kind, std::str::from_utf8(&rx.msg)) {
                    (MessageKind::Text, Err(_)) => 0,
                    _ => rx.msg.len(),
                };
            }
            if kind == MessageKind::Text && rx.utf8_ok != rx.msg.len() {
                return st.fail(t, WsError::InvalidUtf8);
            }
            st.caps.received = Some(kind);
            inner.datagrams_received(&mut WsView::new(t, st), &[Datagram::new(None, &rx.msg)]);
            st.caps.received = None;
            rx.msg.clear();
            if rx.msg.capacity() > 1024 * 1024 {
                rx.msg = Vec::new();
            }
        }
    }
}

/// Whether a close code may be sent by an endpoint (RFC 6455 §7.4, the
/// IANA registry's 1012 to 1014 included).
fn valid_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The peer's close frame arrived.
fn peer_close<P: DatagramProtocol>(
    inner: &mut P,
    st: &mut State,
    t: &mut dyn StreamTransport,
    payload: &[u8],
) {
    let (code, reason) = match payload {
        [] => (None, ""),
        [_] => return st.fail(t, WsError::InvalidClose(None)),
        [a, b, rest @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !valid_code(code) {
                return st.fail(t, WsError::InvalidClose(Some(code)));
            }
            match std::str::from_utf8(rest) {
                Ok(r) => (Some(code), r),
                Err(_) => return st.fail(t, WsError::InvalidUtf8),
            }
        }
    };
    st.close_received = true;
    st.dead = true;
    if st.outcome.is_none() {
        // The close handshake is what ends a WebSocket cleanly: what the
        // stream below does after it (an HTTP/2 server's RST_STREAM
        // NO_ERROR once its response is over) no longer matters.
        st.outcome = Some(match code.filter(|c| !matches!(c, 1000 | 1001)) {
            Some(c) => {
                let e = WsError::PeerClosed {
                    code: c,
                    reason: reason.to_owned(),
                };
                Close::aborted(WS, AbortReason::layer(e))
            }
            None => Close::Done,
        });
    }
    if st.started {
        inner.eof_received(&mut WsView::new(t, st));
    }
    // Echo the code (RFC 6455 §5.5.1) unless our own close went first.
    let reason = reason.to_owned();
    st.send_close(t, code, &reason);
    st.timers.stop_all();
    t.close();
}
