//! Target `h3_frames`: the HTTP/3 frame reader (`strata::http::h3::frame`)
//! on arbitrary bytes.
//!
//! The first byte picks the reader's HEADERS limit, the second the size of
//! the pieces the rest is fed in. No input may panic, and:
//! - the events are the same whatever the split (the whole input in one
//!   piece is the reference), and so is the error that ends them;
//! - the buffer never holds more than the largest payload the reader may
//!   buffer (the limit, a SETTINGS payload, or a 16-byte frame header);
//! - every whole frame re-encodes to bytes that read back the same;
//! - `Settings::parse` on the same bytes never panics, and settings it
//!   accepts re-encode to a frame that parses to the same settings.

use strata::http::h3::frame::{
    kind, write_data_header, write_header, write_headers, write_settings, write_varint_frame,
    Event, Frame, FrameReader, ReadError, Settings, MAX_SETTINGS_PAYLOAD,
};

/// What the reader gave: frames, and DATA payload joined per frame.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Frame(Frame),
    Data(Vec<u8>),
}

fn run(input: &[u8], limit: usize, piece: usize) -> (Vec<Seen>, Option<ReadError>) {
    let mut r = FrameReader::new(limit);
    let bound = limit.max(MAX_SETTINGS_PAYLOAD as usize).max(16);
    let mut seen = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        let mut rest = chunk;
        loop {
            match r.read(&mut rest) {
                Ok(Some(Event::Frame(f))) => seen.push(Seen::Frame(f)),
                Ok(Some(Event::Data(d))) => match seen.last_mut() {
                    Some(Seen::Data(v)) => v.extend_from_slice(d),
                    _ => seen.push(Seen::Data(d.to_vec())),
                },
                Ok(None) => break,
                Err(e) => return (seen, Some(e)),
            }
            assert!(
                r.buffered() <= bound,
                "{} buffered over {bound}",
                r.buffered()
            );
        }
        assert!(rest.is_empty(), "input left unread without an error");
        assert!(
            r.buffered() <= bound,
            "{} buffered over {bound}",
            r.buffered()
        );
    }
    (seen, None)
}

/// Re-encodes a whole frame (DATA with its payload).
fn encode(f: &Frame, data: &[u8], out: &mut Vec<u8>) {
    match f {
        Frame::Data { .. } => {
            write_data_header(out, data.len() as u64);
            out.extend_from_slice(data);
        }
        Frame::Headers(b) => write_headers(out, b),
        Frame::Settings(s) => write_settings(out, s),
        Frame::CancelPush(v) => write_varint_frame(out, kind::CANCEL_PUSH, *v),
        Frame::Goaway(v) => write_varint_frame(out, kind::GOAWAY, *v),
        Frame::MaxPushId(v) => write_varint_frame(out, kind::MAX_PUSH_ID, *v),
        Frame::PushPromise { push_id, fields } => {
            let mut p = Vec::new();
            strata::http::h3::varint::write(&mut p, *push_id);
            p.extend_from_slice(fields);
            write_header(out, kind::PUSH_PROMISE, p.len() as u64);
            out.extend_from_slice(&p);
        }
        Frame::Unknown { .. } => {}
    }
}

/// Reads `data` (after two control bytes) in pieces; see the module
/// documentation for what it checks.
pub fn h3_frames(data: &[u8]) {
    let [limit_ctl, piece_ctl, rest @ ..] = data else {
        return;
    };
    let limit = usize::from(*limit_ctl) * 8;
    let piece = usize::from(*piece_ctl % 32) + 1;
    let (whole, end) = run(rest, limit, rest.len().max(1));
    let (split, split_end) = run(rest, limit, piece);
    assert_eq!(split, whole, "the events depend on the split");
    assert_eq!(split_end, end, "the error depends on the split");
    // Whole frames re-encode and read back the same.
    let mut i = 0;
    while i < whole.len() {
        let Seen::Frame(f) = &whole[i] else {
            i += 1;
            continue;
        };
        let payload = match (f, whole.get(i + 1)) {
            (Frame::Data { len }, Some(Seen::Data(d))) if d.len() as u64 == *len => d.clone(),
            (Frame::Data { len: 0 }, _) => Vec::new(),
            (Frame::Data { .. }, _) => break, // cut short by the input's end
            _ => Vec::new(),
        };
        let mut wire = Vec::new();
        encode(f, &payload, &mut wire);
        if !wire.is_empty() {
            let (again, err) = run(&wire, limit.max(wire.len()), wire.len());
            assert_eq!(err, None, "{f:?} re-encoded does not read");
            assert_eq!(again.first(), Some(&Seen::Frame(f.clone())), "{f:?}");
        }
        i += 1;
    }
    if let Ok(s) = Settings::parse(rest) {
        let mut wire = Vec::new();
        write_settings(&mut wire, &s);
        let (again, err) = run(&wire, 0, 1);
        assert_eq!(err, None);
        assert_eq!(again, vec![Seen::Frame(Frame::Settings(s))]);
    }
}
