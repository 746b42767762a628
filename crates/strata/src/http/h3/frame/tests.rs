use super::*;

/// A frame and, for DATA, its payload.
type Seen = (Option<Frame>, Vec<u8>);

/// All events of `wire` fed in pieces of `step` bytes (DATA chunks joined).
fn events(wire: &[u8], step: usize, limit: usize) -> Result<Vec<Seen>, ReadError> {
    let mut r = FrameReader::new(limit);
    let mut out: Vec<Seen> = Vec::new();
    for piece in wire.chunks(step.max(1)) {
        let mut input = piece;
        while let Some(ev) = r.read(&mut input)? {
            match ev {
                Event::Frame(f) => out.push((Some(f), Vec::new())),
                Event::Data(d) => out
                    .last_mut()
                    .expect("data after a header")
                    .1
                    .extend_from_slice(d),
            }
        }
        assert!(input.is_empty());
    }
    assert!(r.at_boundary(), "the wire ends on a frame boundary");
    Ok(out)
}

fn sample() -> Vec<u8> {
    let mut w = Vec::new();
    write_settings(
        &mut w,
        &Settings {
            qpack_max_table_capacity: 4096,
            max_field_section_size: Some(16 << 10),
            qpack_blocked_streams: 16,
            enable_connect_protocol: true,
            h3_datagram: true,
        },
    );
    write_headers(&mut w, b"\x00\x00\xd1\xd7");
    write_data_header(&mut w, 0);
    write_header(&mut w, 0x21, 3); // reserved type: skipped
    w.extend_from_slice(b"xyz");
    write_data_header(&mut w, 300);
    w.extend((0..300).map(|i| i as u8));
    write_varint_frame(&mut w, kind::GOAWAY, 1 << 20);
    write_varint_frame(&mut w, kind::MAX_PUSH_ID, 7);
    write_varint_frame(&mut w, kind::CANCEL_PUSH, 3);
    write_header(&mut w, kind::PUSH_PROMISE, 3);
    w.extend_from_slice(b"\x05\x00\x00");
    write_headers(&mut w, b"");
    w
}

#[test]
fn every_split_gives_the_same_frames() {
    let wire = sample();
    let whole = events(&wire, wire.len(), 1024).unwrap();
    assert_eq!(whole.len(), 10);
    assert!(
        matches!(&whole[0].0, Some(Frame::Settings(s)) if s.enable_connect_protocol && s.qpack_blocked_streams == 16)
    );
    assert_eq!(
        whole[1].0,
        Some(Frame::Headers(Bytes::from_static(b"\x00\x00\xd1\xd7")))
    );
    assert_eq!(whole[2], (Some(Frame::Data { len: 0 }), vec![]));
    assert_eq!(whole[3].0, Some(Frame::Unknown { kind: 0x21, len: 3 }));
    assert_eq!(whole[4].0, Some(Frame::Data { len: 300 }));
    assert_eq!(whole[4].1, (0..300).map(|i| i as u8).collect::<Vec<_>>());
    assert_eq!(whole[5].0, Some(Frame::Goaway(1 << 20)));
    assert_eq!(whole[6].0, Some(Frame::MaxPushId(7)));
    assert_eq!(whole[7].0, Some(Frame::CancelPush(3)));
    assert_eq!(
        whole[8].0,
        Some(Frame::PushPromise {
            push_id: 5,
            fields: Bytes::from_static(b"\x00\x00")
        })
    );
    assert_eq!(whole[9].0, Some(Frame::Headers(Bytes::new())));
    for step in 1..40 {
        assert_eq!(events(&wire, step, 1024).unwrap(), whole, "step {step}");
    }
}

#[test]
fn http2_frame_types_are_unexpected() {
    for k in kind::HTTP2_ONLY {
        let mut w = Vec::new();
        write_header(&mut w, k, 0);
        let e = events(&w, 1, 1024).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::Invalid(H3Error {
                    code: Code::FrameUnexpected,
                    ..
                })
            ),
            "{k}: {e:?}"
        );
    }
}

#[test]
fn oversized_headers_are_seen_from_the_header_alone() {
    let mut w = Vec::new();
    write_header(&mut w, kind::HEADERS, 1 << 40);
    let mut r = FrameReader::new(1024);
    let mut input = &w[..];
    assert_eq!(
        r.read(&mut input),
        Err(ReadError::TooLarge {
            kind: kind::HEADERS,
            len: 1 << 40
        })
    );
    // Nothing more is read after an error.
    assert_eq!(r.read(&mut &b"\x00\x01x"[..]), Ok(None));
    let mut w = Vec::new();
    write_header(&mut w, kind::SETTINGS, MAX_SETTINGS_PAYLOAD + 1);
    assert!(matches!(
        events(&w, 1, 1 << 20),
        Err(ReadError::TooLarge {
            kind: kind::SETTINGS,
            ..
        })
    ));
}

#[test]
fn bad_payloads_are_frame_errors() {
    for (k, p) in [
        (kind::GOAWAY, &b""[..]),
        (kind::GOAWAY, b"\x01\x02"),
        (kind::MAX_PUSH_ID, b"\x40"),
        (kind::CANCEL_PUSH, b"\x01\x02\x03\x04\x05\x06\x07\x08\x09"),
        (kind::SETTINGS, b"\x01"),
        (kind::PUSH_PROMISE, b""),
    ] {
        let mut w = Vec::new();
        write_header(&mut w, k, p.len() as u64);
        w.extend_from_slice(p);
        let e = events(&w, w.len(), 1024).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::Invalid(H3Error {
                    code: Code::FrameError,
                    ..
                })
            ),
            "{k} {p:?}: {e:?}"
        );
    }
}

#[test]
fn forbidden_and_duplicate_settings() {
    for p in [
        &b"\x02\x00"[..],
        b"\x00\x00",
        b"\x05\x01",
        b"\x01\x00\x01\x00",
        b"\x08\x02",
        b"\x33\x05",
    ] {
        let e = Settings::parse(p).unwrap_err();
        assert_eq!(e.code, Code::SettingsError, "{p:?}");
    }
    // Unknown and reserved identifiers are ignored.
    assert_eq!(
        Settings::parse(b"\x21\x07\x40\x40\x01"),
        Ok(Settings::default())
    );
}

#[test]
fn a_frame_read_to_its_end_is_a_boundary() {
    let mut w = Vec::new();
    write_data_header(&mut w, 2);
    w.extend_from_slice(b"hi");
    let mut r = FrameReader::new(16);
    let mut input = &w[..];
    assert_eq!(
        r.read(&mut input),
        Ok(Some(Event::Frame(Frame::Data { len: 2 })))
    );
    assert!(!r.at_boundary());
    assert_eq!(r.read(&mut input), Ok(Some(Event::Data(b"hi"))));
    assert!(r.at_boundary(), "no more read call needed to see the end");
}

#[test]
fn a_huge_limit_does_not_allocate_on_a_header() {
    let mut w = Vec::new();
    write_header(&mut w, kind::HEADERS, 1 << 60);
    let mut r = FrameReader::new(usize::MAX);
    let mut input = &w[..];
    assert_eq!(r.read(&mut input), Ok(None));
    assert!(r.buf.capacity() <= 64 << 10, "{}", r.buf.capacity());
}

#[test]
fn buffer_is_bounded_by_the_limit() {
    let mut w = Vec::new();
    write_header(&mut w, kind::HEADERS, 100);
    w.extend_from_slice(&[0; 99]);
    let mut r = FrameReader::new(100);
    let mut input = &w[..];
    assert_eq!(r.read(&mut input), Ok(None));
    assert!(r.buffered() <= 100 && !r.at_boundary());
}
