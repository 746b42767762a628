//! Target `ws_frame`: the WebSocket layer (server role) against a naive
//! frame parser that reads the whole input at once.

use std::sync::{Arc, Mutex};

use strata::http::ws::{self, MessageKind, Role, WebSocket, WsConfig};
use strata::testing::MemoryTransport;
use strata::{Datagram, DatagramProtocol, DatagramTransport, StreamProtocol, WakeRoute};

use crate::{control, Chunks, MAX_CHUNK};

/// How the input ended, by the reference.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The bytes ran out (whole frames or not): no close frame is sent.
    Eof,
    /// The peer's close frame, echoed with its code (or empty).
    Close(Option<u16>, Vec<u8>),
    /// A failure with its close code.
    Fail(u16),
}

struct Reference {
    messages: Vec<(MessageKind, Vec<u8>)>,
    pongs: Vec<Vec<u8>>,
    end: End,
}

fn valid_code(c: u16) -> bool {
    matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether `b` is UTF-8 up to a sequence cut at its end.
fn utf8_prefix_ok(b: &[u8]) -> bool {
    match std::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The reference: RFC 6455 §5 read naively, for a server (client frames
/// must be masked), no extension, messages up to `max`.
fn reference(wire: &[u8], max: usize) -> Reference {
    let mut r = Reference {
        messages: Vec::new(),
        pongs: Vec::new(),
        end: End::Eof,
    };
    let mut msg: Option<(MessageKind, Vec<u8>)> = None;
    let mut pos = 0;
    loop {
        let rest = &wire[pos..];
        if rest.len() < 2 {
            return r;
        }
        let (b0, b1) = (rest[0], rest[1]);
        let fin = b0 & 0x80 != 0;
        let op = b0 & 0x0F;
        let control = op >= 8;
        if b0 & 0x30 != 0
            || !matches!(op, 0 | 1 | 2 | 8 | 9 | 10)
            || (control && (!fin || b1 & 0x7F > 125))
        {
            r.end = End::Fail(1002);
            return r;
        }
        let (len, mut at) = match b1 & 0x7F {
            126 => {
                if rest.len() < 4 {
                    return r;
                }
                let n = u64::from(rest[2]) << 8 | u64::from(rest[3]);
                if n < 126 {
                    r.end = End::Fail(1002);
                    return r;
                }
                (n, 4)
            }
            127 => {
                if rest.len() < 10 {
                    return r;
                }
                let n = rest[2..10].iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
                if n >> 63 != 0 || n < 65536 {
                    r.end = End::Fail(1002);
                    return r;
                }
                (n, 10)
            }
            n => (u64::from(n), 2),
        };
        let masked = b1 & 0x80 != 0;
        if masked && rest.len() < at + 4 {
            return r;
        }
        if b0 & 0x40 != 0
            || !masked
            || (op == 0 && msg.is_none())
            || (matches!(op, 1 | 2) && msg.is_some())
        {
            r.end = End::Fail(1002);
            return r;
        }
        let key = [rest[at], rest[at + 1], rest[at + 2], rest[at + 3]];
        at += 4;
        if !control {
            let have = msg.as_ref().map_or(0, |m| m.1.len()) as u64;
            if have.saturating_add(len) > max as u64 {
                r.end = End::Fail(1009);
                return r;
            }
        }
        let avail = (rest.len() - at).min(usize::try_from(len).unwrap_or(usize::MAX));
        let mut payload: Vec<u8> = rest[at..at + avail].to_vec();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i & 3];
        }
        let complete = avail as u64 == len;
        if !control {
            let m = msg.get_or_insert_with(|| {
                let kind = if op == 1 {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                (kind, Vec::new())
            });
            m.1.extend_from_slice(&payload);
            if m.0 == MessageKind::Text && !utf8_prefix_ok(&m.1) {
                r.end = End::Fail(1007);
                return r;
            }
            if !complete {
                return r;
            }
            if fin {
                let m = msg.take().expect("a message in progress");
                if m.0 == MessageKind::Text && std::str::from_utf8(&m.1).is_err() {
                    r.end = End::Fail(1007);
                    return r;
                }
                r.messages.push(m);
            }
        } else {
            if !complete {
                return r;
            }
            match op {
                9 => r.pongs.push(payload),
                10 => {}
                _ => {
                    r.end = match payload.as_slice() {
                        [] => End::Close(None, Vec::new()),
                        [_] => End::Fail(1002),
                        [a, b, reason @ ..] => {
                            let code = u16::from_be_bytes([*a, *b]);
                            if !valid_code(code) {
                                End::Fail(1002)
                            } else if std::str::from_utf8(reason).is_err() {
                                End::Fail(1007)
                            } else {
                                End::Close(Some(code), reason.to_vec())
                            }
                        }
                    };
                    return r;
                }
            }
        }
        pos += at + avail;
    }
}

/// What the server writes for the reference's run: pongs, then the close
/// frame (an echo, or the failure's code).
fn expected_output(r: &Reference) -> Vec<u8> {
    let mut out = Vec::new();
    let mut frame = |op: u8, p: &[u8]| {
        out.push(0x80 | op);
        out.push(p.len() as u8); // control payloads are at most 125 bytes
        out.extend_from_slice(p);
    };
    for p in &r.pongs {
        frame(0xA, p);
    }
    match &r.end {
        End::Eof => {}
        End::Close(None, _) => frame(0x8, &[]),
        End::Close(Some(code), reason) => {
            let mut p = code.to_be_bytes().to_vec();
            p.extend_from_slice(reason);
            frame(0x8, &p);
        }
        End::Fail(code) => frame(0x8, &code.to_be_bytes()),
    }
    out
}

#[derive(Default)]
struct Seen {
    messages: Vec<(MessageKind, Vec<u8>)>,
}

/// Records messages; pauses on those starting with `P`, resumes on a wake.
struct Rec(Arc<Mutex<Seen>>);

impl DatagramProtocol for Rec {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let kind = ws::message_kind(t).expect("a message has a kind");
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for d in batch {
            seen.messages.push((kind, d.data.to_vec()));
            if d.data.first() == Some(&b'P') {
                t.pause_reading();
            }
        }
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, _: WakeRoute<'_>) {
        t.resume_reading();
    }
}

/// Feeds `data` (after one control byte for the message limit and one for
/// the chunking) to a server-side `WebSocket` over a memory transport,
/// resuming after every pause. The messages, the frames written back
/// (pongs, the close frame) and whether it closed must match the
/// reference, and the held input must stay within the limit's bound.
pub fn ws_frame(data: &[u8]) {
    let ([a, seed], wire) = control::<2>(data);
    let max = usize::from(a) * 4;
    let want = reference(wire, max);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cfg = WsConfig {
        max_message: max,
        ..WsConfig::default()
    };
    let mut l = WebSocket::new(Role::Server, Rec(seen.clone()), cfg);
    let mut t = MemoryTransport::new();
    l.connection_made(&mut t);
    for chunk in Chunks::new(wire, seed) {
        resume(&mut l, &mut t);
        l.data_received(&mut t, chunk);
        assert!(l.pending_input() <= ws::MAX_HEADER + max + 125 + 2 * MAX_CHUNK);
        if t.is_closed() {
            break;
        }
    }
    resume(&mut l, &mut t);
    l.eof_received(&mut t);
    resume(&mut l, &mut t);
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(seen.messages, want.messages);
    assert_eq!(t.take_written(), expected_output(&want));
    assert!(t.is_closed(), "the stream is closed at the end");
    assert!(t.aborted().is_none());
}

fn resume<P: DatagramProtocol + 'static>(l: &mut WebSocket<P>, t: &mut MemoryTransport) {
    while t.is_read_paused() && !t.is_closed() {
        l.on_wake(t, WakeRoute::new(&[]));
    }
}
