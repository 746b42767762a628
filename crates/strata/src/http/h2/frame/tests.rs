use super::*;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

/// A raw frame: header then payload, written by hand.
fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, len_u32(payload.len()), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

fn one(wire: &[u8]) -> Frame<'_> {
    match parse(wire, MAX) {
        Ok(Some((f, used))) => {
            assert_eq!(used, wire.len(), "{f:?} did not use the whole input");
            f
        }
        other => panic!("expected a frame, got {other:?}"),
    }
}

fn err(wire: &[u8]) -> FrameError {
    match parse(wire, MAX) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn conn_err(wire: &[u8], code: ErrorCode) {
    let e = err(wire);
    assert_eq!((e.code, e.stream), (code, None), "{e}");
}

fn stream_err(wire: &[u8], code: ErrorCode, stream: u32) {
    let e = err(wire);
    assert_eq!((e.code, e.stream), (code, Some(stream)), "{e}");
}

const PRIO: Priority = Priority {
    depends_on: 3,
    exclusive: true,
    weight: 200,
};

fn samples() -> Vec<Frame<'static>> {
    vec![
        Frame::Data {
            stream: 1,
            end_stream: false,
            data: b"hello",
            flow_len: 5,
        },
        Frame::Data {
            stream: MAX_STREAM_ID,
            end_stream: true,
            data: b"",
            flow_len: 0,
        },
        Frame::Headers {
            stream: 1,
            end_stream: true,
            end_headers: true,
            priority: None,
            block: b"\x82\x86",
        },
        Frame::Headers {
            stream: 5,
            end_stream: false,
            end_headers: false,
            priority: Some(PRIO),
            block: b"",
        },
        Frame::Priority {
            stream: 7,
            priority: Priority {
                depends_on: 0,
                exclusive: false,
                weight: 15,
            },
        },
        Frame::RstStream {
            stream: 9,
            code: ErrorCode::Cancel,
        },
        Frame::RstStream {
            stream: 9,
            code: ErrorCode::Unknown(0xdead_beef),
        },
        Frame::Settings {
            ack: false,
            settings: Settings {
                payload: &[0, 1, 0, 0, 0x10, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff],
            },
        },
        Frame::Settings {
            ack: false,
            settings: Settings { payload: &[] },
        },
        Frame::Settings {
            ack: true,
            settings: Settings { payload: &[] },
        },
        Frame::PushPromise {
            stream: 1,
            promised: 2,
            end_headers: true,
            block: b"\x82",
        },
        Frame::Ping {
            ack: false,
            data: *b"abcdefgh",
        },
        Frame::Ping {
            ack: true,
            data: [0xff; 8],
        },
        Frame::GoAway {
            last_stream: 11,
            code: ErrorCode::EnhanceYourCalm,
            debug: b"calm down",
        },
        Frame::GoAway {
            last_stream: 0,
            code: ErrorCode::NoError,
            debug: b"",
        },
        Frame::WindowUpdate {
            stream: 0,
            increment: MAX_STREAM_ID,
        },
        Frame::WindowUpdate {
            stream: 3,
            increment: 1,
        },
        Frame::Continuation {
            stream: 1,
            end_headers: false,
            block: b"\x84",
        },
        Frame::Continuation {
            stream: 1,
            end_headers: true,
            block: b"",
        },
        Frame::Unknown {
            kind: 0xa,
            stream: 0,
        },
        Frame::Unknown {
            kind: 0xff,
            stream: 3,
        },
    ]
}

#[test]
fn round_trip_every_type() {
    let mut kinds = std::collections::BTreeSet::new();
    for f in samples() {
        let mut wire = Vec::new();
        f.encode(&mut wire);
        kinds.insert(parse_header(&wire).map(|h| h.kind));
        assert_eq!(one(&wire), f);
    }
    // Every defined type and at least one unknown one.
    assert!((0..=9).all(|k| kinds.contains(&Some(k))), "{kinds:?}");
    assert!(kinds.contains(&Some(0xa)));
}

#[test]
fn writers_produce_what_parse_reads() {
    let mut wire = Vec::new();
    write_data(&mut wire, 3, b"body", true);
    write_headers(&mut wire, 3, b"block", false, MAX);
    write_settings(
        &mut wire,
        &[(setting::INITIAL_WINDOW_SIZE, 1 << 20), (0x99, 1)],
    );
    write_settings_ack(&mut wire);
    write_ping(&mut wire, *b"pingpong", true);
    write_goaway(&mut wire, 5, ErrorCode::ProtocolError, b"why");
    write_rst_stream(&mut wire, 7, ErrorCode::StreamClosed);
    write_window_update(&mut wire, 0, 10);
    let mut frames = Vec::new();
    let mut rest = &wire[..];
    while let Some((f, used)) = parse(rest, MAX).unwrap() {
        frames.push(f);
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    let settings = match &frames[2] {
        Frame::Settings {
            ack: false,
            settings,
        } => settings.iter().collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        settings,
        [(setting::INITIAL_WINDOW_SIZE, 1 << 20), (0x99, 1)]
    );
    assert_eq!(
        frames,
        [
            Frame::Data {
                stream: 3,
                end_stream: true,
                data: b"body",
                flow_len: 4
            },
            Frame::Headers {
                stream: 3,
                end_stream: false,
                end_headers: true,
                priority: None,
                block: b"block"
            },
            frames[2],
            Frame::Settings {
                ack: true,
                settings: Settings { payload: &[] }
            },
            Frame::Ping {
                ack: true,
                data: *b"pingpong"
            },
            Frame::GoAway {
                last_stream: 5,
                code: ErrorCode::ProtocolError,
                debug: b"why"
            },
            Frame::RstStream {
                stream: 7,
                code: ErrorCode::StreamClosed
            },
            Frame::WindowUpdate {
                stream: 0,
                increment: 10
            },
        ]
    );
}

#[test]
fn write_headers_splits_into_continuations() {
    let block: Vec<u8> = (0..=255).cycle().take(1000).collect();
    for max in [1, 7, 100, 999, 1000, 1001, MAX] {
        for end_stream in [false, true] {
            let mut wire = Vec::new();
            write_headers(&mut wire, 9, &block, end_stream, max);
            let mut rest = &wire[..];
            let mut got = Vec::new();
            let mut n = 0;
            while let Some((f, used)) = parse(rest, max).unwrap() {
                rest = &rest[used..];
                let last = rest.is_empty();
                match f {
                    Frame::Headers {
                        stream: 9,
                        end_stream: es,
                        end_headers,
                        priority: None,
                        block,
                    } if n == 0 => {
                        assert_eq!((es, end_headers), (end_stream, last));
                        got.extend_from_slice(block);
                    }
                    Frame::Continuation {
                        stream: 9,
                        end_headers,
                        block,
                    } if n > 0 => {
                        assert_eq!(end_headers, last);
                        assert!(!block.is_empty());
                        got.extend_from_slice(block);
                    }
                    other => panic!("frame {n}: {other:?}"),
                }
                n += 1;
            }
            assert!(rest.is_empty());
            assert_eq!(got, block, "max {max}");
            assert_eq!(n, block.len().div_ceil(max as usize), "max {max}");
        }
    }
    // An empty block is one HEADERS frame with END_HEADERS.
    let mut wire = Vec::new();
    write_headers(&mut wire, 1, b"", true, MAX);
    assert_eq!(
        wire,
        raw(kind::HEADERS, flag::END_STREAM | flag::END_HEADERS, 1, b"")
    );
    // A zero size is taken as 1 rather than looping forever.
    let mut wire = Vec::new();
    write_headers(&mut wire, 1, b"ab", false, 0);
    assert_eq!(wire.len(), 2 * (HEADER_LEN + 1));
}

#[test]
fn stream_zero_is_a_protocol_error() {
    use ErrorCode::ProtocolError;
    conn_err(&raw(kind::DATA, 0, 0, b"x"), ProtocolError);
    conn_err(
        &raw(kind::HEADERS, flag::END_HEADERS, 0, b"x"),
        ProtocolError,
    );
    conn_err(&raw(kind::PRIORITY, 0, 0, &[0, 0, 0, 1, 1]), ProtocolError);
    // Stream 0 wins over a bad length.
    conn_err(&raw(kind::PRIORITY, 0, 0, &[0; 4]), ProtocolError);
    conn_err(&raw(kind::RST_STREAM, 0, 0, &[0, 0, 0, 8]), ProtocolError);
    conn_err(&raw(kind::PUSH_PROMISE, 0, 0, &[0, 0, 0, 2]), ProtocolError);
    conn_err(
        &raw(kind::CONTINUATION, flag::END_HEADERS, 0, b""),
        ProtocolError,
    );
    // The reserved bit alone does not make a stream id.
    conn_err(&raw(kind::DATA, 0, 0, b""), ProtocolError);
    let mut wire = raw(kind::DATA, 0, 0, b"");
    wire[5] = 0x80;
    conn_err(&wire, ProtocolError);
}

#[test]
fn connection_frames_on_a_stream_are_a_protocol_error() {
    use ErrorCode::ProtocolError;
    conn_err(&raw(kind::SETTINGS, 0, 1, b""), ProtocolError);
    conn_err(&raw(kind::SETTINGS, flag::ACK, 1, b""), ProtocolError);
    conn_err(&raw(kind::PING, 0, 1, &[0; 8]), ProtocolError);
    conn_err(&raw(kind::GOAWAY, 0, 1, &[0; 8]), ProtocolError);
}

#[test]
fn length_rules_are_frame_size_errors() {
    use ErrorCode::FrameSizeError;
    for n in [1, 5, 7, 13] {
        conn_err(&raw(kind::SETTINGS, 0, 0, &vec![0; n]), FrameSizeError);
    }
    conn_err(&raw(kind::SETTINGS, flag::ACK, 0, &[0; 6]), FrameSizeError);
    for n in [0, 7, 9, 16] {
        conn_err(&raw(kind::PING, 0, 0, &vec![0; n]), FrameSizeError);
    }
    for n in [0, 3, 5, 8] {
        conn_err(&raw(kind::RST_STREAM, 0, 1, &vec![0; n]), FrameSizeError);
        conn_err(&raw(kind::WINDOW_UPDATE, 0, 0, &vec![1; n]), FrameSizeError);
        conn_err(&raw(kind::WINDOW_UPDATE, 0, 1, &vec![1; n]), FrameSizeError);
    }
    for n in [0, 4, 6, 10] {
        // PRIORITY's length is a stream error (§6.3).
        stream_err(&raw(kind::PRIORITY, 0, 3, &vec![0; n]), FrameSizeError, 3);
    }
    for n in [0, 4, 7] {
        conn_err(&raw(kind::GOAWAY, 0, 0, &vec![0; n]), FrameSizeError);
    }
    // Mandatory fields that do not fit.
    conn_err(
        &raw(kind::HEADERS, flag::PRIORITY, 1, &[0; 4]),
        FrameSizeError,
    );
    conn_err(
        &raw(kind::HEADERS, flag::PRIORITY | flag::PADDED, 1, &[0; 5]),
        FrameSizeError,
    );
    conn_err(&raw(kind::PUSH_PROMISE, 0, 1, &[0; 3]), FrameSizeError);
    conn_err(
        &raw(kind::PUSH_PROMISE, flag::PADDED, 1, &[0; 4]),
        FrameSizeError,
    );
    for k in [kind::DATA, kind::HEADERS, kind::PUSH_PROMISE] {
        conn_err(&raw(k, flag::PADDED, 1, b""), FrameSizeError);
    }
    // The boundaries are accepted.
    assert!(matches!(
        one(&raw(kind::GOAWAY, 0, 0, &[0; 8])),
        Frame::GoAway { debug: [], .. }
    ));
    let six = raw(kind::SETTINGS, 0, 0, &[0, 9, 0, 0, 0, 1]);
    assert!(matches!(one(&six), Frame::Settings { settings, .. } if settings.len() == 1));
}

#[test]
fn window_update_zero_increment() {
    use ErrorCode::ProtocolError;
    conn_err(&raw(kind::WINDOW_UPDATE, 0, 0, &[0; 4]), ProtocolError);
    stream_err(&raw(kind::WINDOW_UPDATE, 0, 5, &[0; 4]), ProtocolError, 5);
    // Only the reserved bit set: still a zero increment.
    stream_err(
        &raw(kind::WINDOW_UPDATE, 0, 5, &[0x80, 0, 0, 0]),
        ProtocolError,
        5,
    );
}

#[test]
fn self_dependency_is_a_stream_error() {
    let mut payload = vec![0x80, 0, 0, 7, 16];
    payload.extend_from_slice(b"\x82");
    let wire = raw(
        kind::HEADERS,
        flag::PRIORITY | flag::END_HEADERS,
        7,
        &payload,
    );
    stream_err(&wire, ErrorCode::ProtocolError, 7);
    // The block can still be recovered for HPACK.
    let (f, used) = parse_rejected_headers(&wire, MAX).unwrap();
    assert_eq!(used, wire.len());
    assert_eq!(
        f,
        Frame::Headers {
            stream: 7,
            end_stream: false,
            end_headers: true,
            priority: Some(Priority {
                depends_on: 7,
                exclusive: true,
                weight: 16
            }),
            block: b"\x82",
        }
    );
    // ... but only for HEADERS, complete, and otherwise valid.
    assert_eq!(parse_rejected_headers(&wire[..wire.len() - 1], MAX), None);
    assert_eq!(parse_rejected_headers(&wire, 5), None);
    let bad_pad = raw(
        kind::HEADERS,
        flag::PRIORITY | flag::PADDED,
        7,
        &[9, 0, 0, 0, 7, 16],
    );
    assert_eq!(parse_rejected_headers(&bad_pad, MAX), None);
    assert_eq!(
        parse_rejected_headers(&raw(kind::DATA, 0, 1, b""), MAX),
        None
    );

    let wire = raw(kind::PRIORITY, 0, 9, &[0, 0, 0, 9, 0]);
    stream_err(&wire, ErrorCode::ProtocolError, 9);
    // Depending on another stream is fine.
    assert!(matches!(
        one(&raw(kind::PRIORITY, 0, 9, &[0, 0, 0, 8, 0])),
        Frame::Priority { .. }
    ));
}

#[test]
fn padding() {
    // DATA: 1 pad length byte, 3 data bytes, 2 padding bytes.
    let wire = raw(
        kind::DATA,
        flag::PADDED | flag::END_STREAM,
        1,
        &[2, b'a', b'b', b'c', 0, 0],
    );
    assert_eq!(
        one(&wire),
        Frame::Data {
            stream: 1,
            end_stream: true,
            data: b"abc",
            flow_len: 6
        }
    );
    // Padding that fills the payload exactly, and a zero pad length.
    assert!(matches!(
        one(&raw(kind::DATA, flag::PADDED, 1, &[3, 0, 0, 0])),
        Frame::Data {
            data: [],
            flow_len: 4,
            ..
        }
    ));
    assert!(matches!(
        one(&raw(kind::DATA, flag::PADDED, 1, &[0])),
        Frame::Data {
            data: [],
            flow_len: 1,
            ..
        }
    ));
    // Padding as long as the payload or longer.
    conn_err(
        &raw(kind::DATA, flag::PADDED, 1, &[1]),
        ErrorCode::ProtocolError,
    );
    conn_err(
        &raw(kind::DATA, flag::PADDED, 1, &[4, 0, 0, 0]),
        ErrorCode::ProtocolError,
    );
    conn_err(
        &raw(kind::DATA, flag::PADDED, 1, &[255; 10]),
        ErrorCode::ProtocolError,
    );

    // HEADERS with padding and priority: the padding comes after both.
    let mut p = vec![2, 0, 0, 0, 3, 10];
    p.extend_from_slice(b"\x82\x86\0\0");
    let wire = raw(kind::HEADERS, flag::PADDED | flag::PRIORITY, 5, &p);

    let f = one(&wire);
    assert!(
        matches!(
            f,
            Frame::Headers {
                block: b"\x82\x86",
                priority: Some(Priority {
                    depends_on: 3,
                    exclusive: false,
                    weight: 10
                }),
                ..
            }
        ),
        "{f:?}"
    );
    // Padding that would eat into the priority fields.
    let p = [5, 0, 0, 0, 3, 10, 0];
    conn_err(
        &raw(kind::HEADERS, flag::PADDED | flag::PRIORITY, 5, &p),
        ErrorCode::ProtocolError,
    );
    let p = [2, 0x82, 0, 0];
    assert!(matches!(
        one(&raw(kind::HEADERS, flag::PADDED, 5, &p)),
        Frame::Headers { block: [0x82], .. }
    ));
    conn_err(
        &raw(kind::HEADERS, flag::PADDED, 5, &[4, 0, 0, 0]),
        ErrorCode::ProtocolError,
    );

    // PUSH_PROMISE: pad length, promised id, block, padding.
    let p = [1, 0x80, 0, 0, 4, 0x82, 0];
    assert_eq!(
        one(&raw(
            kind::PUSH_PROMISE,
            flag::PADDED | flag::END_HEADERS,
            1,
            &p
        )),
        Frame::PushPromise {
            stream: 1,
            promised: 4,
            end_headers: true,
            block: b"\x82"
        }
    );
    let p = [3, 0, 0, 0, 4, 0x82, 0];
    conn_err(
        &raw(kind::PUSH_PROMISE, flag::PADDED, 1, &p),
        ErrorCode::ProtocolError,
    );

    // PADDED means nothing on other types.
    assert!(matches!(
        one(&raw(kind::CONTINUATION, flag::PADDED, 1, &[9])),
        Frame::Continuation { block: [9], .. }
    ));
}

#[test]
fn oversized_frame_rejected_from_the_header_alone() {
    let mut header = Vec::new();
    write_header(&mut header, MAX + 1, kind::DATA, 0, 1);
    conn_err(&header, ErrorCode::FrameSizeError);
    // Whatever the type, even unknown or a connection frame.
    for k in [kind::SETTINGS, kind::HEADERS, 0x42] {
        let mut h = Vec::new();
        write_header(&mut h, MAX_FRAME_SIZE_LIMIT, k, 0, 0);
        conn_err(&h, ErrorCode::FrameSizeError);
    }
    // Exactly the limit is fine: more input is wanted.
    let mut h = Vec::new();
    write_header(&mut h, MAX, kind::DATA, 0, 1);
    assert_eq!(parse(&h, MAX), Ok(None));
    // The limit is the caller's.
    let wire = raw(kind::DATA, 0, 1, &[0; 100]);
    assert!(parse(&wire, 100).unwrap().is_some());
    assert_eq!(
        parse(&wire, 99).unwrap_err().code,
        ErrorCode::FrameSizeError
    );
}

#[test]
fn incomplete_input_at_every_split_point() {
    let mut wire = Vec::new();
    for f in samples() {
        f.encode(&mut wire);
    }
    // Add padded frames and frames that are errors once complete.
    wire.extend(raw(kind::DATA, flag::PADDED, 1, &[2, 1, 0, 0]));
    let errors = [
        raw(kind::PING, 0, 0, &[0; 7]),
        raw(kind::PRIORITY, 0, 3, &[0; 4]),
        raw(kind::WINDOW_UPDATE, 0, 3, &[0; 4]),
        raw(kind::DATA, flag::PADDED, 1, &[9, 0]),
    ];
    let mut pos = 0;
    while pos < wire.len() {
        let (_, used) = parse(&wire[pos..], MAX).unwrap().unwrap();
        for cut in 0..used {
            assert_eq!(
                parse(&wire[pos..pos + cut], MAX),
                Ok(None),
                "at {pos}+{cut}"
            );
        }
        pos += used;
    }
    for e in &errors {
        for cut in 0..e.len() {
            assert_eq!(parse(&e[..cut], MAX), Ok(None));
        }
        assert!(parse(e, MAX).is_err());
    }
}

#[test]
fn reserved_bits_ignored() {
    let mut wire = raw(kind::DATA, 0, 1, b"x");
    wire[5] |= 0x80;
    assert!(matches!(one(&wire), Frame::Data { stream: 1, .. }));
    assert_eq!(parse_header(&wire).map(|h| h.stream), Some(1));
    // WINDOW_UPDATE increment, GOAWAY last stream, PUSH_PROMISE promised id.
    assert_eq!(
        one(&raw(kind::WINDOW_UPDATE, 0, 0, &[0x80, 0, 0, 9])),
        Frame::WindowUpdate {
            stream: 0,
            increment: 9
        }
    );
    let wire = raw(kind::GOAWAY, 0, 0, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

    let g = one(&wire);
    assert!(matches!(
        g,
        Frame::GoAway {
            last_stream: MAX_STREAM_ID,
            code: ErrorCode::NoError,
            ..
        }
    ));
    let wire = raw(kind::PUSH_PROMISE, 0, 1, &[0x80, 0, 0, 2]);

    let p = one(&wire);
    assert!(matches!(
        p,
        Frame::PushPromise {
            promised: 2,
            end_headers: false,
            block: [],
            ..
        }
    ));
    // The writers clear it too.
    let mut out = Vec::new();
    write_window_update(&mut out, 0x8000_0003, 0x8000_0001);
    assert_eq!(out, raw(kind::WINDOW_UPDATE, 0, 3, &[0, 0, 0, 1]));
}

#[test]
fn unknown_types_and_flags_ignored() {
    for k in [0xa, 0xb, 0x10, 0xff] {
        for stream in [0, 1, MAX_STREAM_ID] {
            let wire = raw(k, 0xff, stream, b"anything at all");
            assert_eq!(one(&wire), Frame::Unknown { kind: k, stream });
        }
    }
    // Undefined flags on known types change nothing.
    let wire = raw(kind::PING, 0xfe, 0, &[1; 8]);
    let f = one(&wire);
    assert_eq!(
        f,
        Frame::Ping {
            ack: false,
            data: [1; 8]
        }
    );
    let wire = raw(kind::RST_STREAM, 0xff, 1, &[0, 0, 0, 2]);

    let f = one(&wire);
    assert_eq!(
        f,
        Frame::RstStream {
            stream: 1,
            code: ErrorCode::InternalError
        }
    );
    let wire = raw(kind::SETTINGS, 0xfe, 0, b"");

    let f = one(&wire);
    assert!(matches!(f, Frame::Settings { ack: false, .. }));
}

#[test]
fn error_codes() {
    for v in 0..=0x20 {
        let c = ErrorCode::from_u32(v);
        assert_eq!(c.to_u32(), v);
        assert_eq!(matches!(c, ErrorCode::Unknown(_)), v > 0xd, "{v}");
    }
    assert_eq!(ErrorCode::from_u32(u32::MAX).to_u32(), u32::MAX);
    assert_eq!(ErrorCode::NoError.to_string(), "NO_ERROR");
    assert_eq!(ErrorCode::Http11Required.to_string(), "HTTP_1_1_REQUIRED");
    assert_eq!(ErrorCode::Unknown(0x2a).to_string(), "UNKNOWN_ERROR(0x2a)");
    let e = FrameError::stream(ErrorCode::FrameSizeError, 3, "PRIORITY length is not 5");
    assert_eq!(
        e.to_string(),
        "stream 3 error FRAME_SIZE_ERROR: PRIORITY length is not 5"
    );
}

#[test]
fn frame_stream_accessor() {
    for f in samples() {
        let mut wire = Vec::new();
        f.encode(&mut wire);
        assert_eq!(
            parse_header(&wire).map(|h| h.stream),
            Some(f.stream()),
            "{f:?}"
        );
    }
}

#[test]
fn settings_debug_lists_pairs() {
    let s = Settings {
        payload: &[0, 3, 0, 0, 0, 100],
    };
    assert_eq!(format!("{s:?}"), "[(3, 100)]");
    assert_eq!(s.into_iter().len(), 1);
    assert_eq!(s.as_bytes().len(), 6);
}

/// A seeded random sweep of the fuzz target's checks: arbitrary bytes
/// (biased towards plausible headers) never panic, and what parses
/// re-encodes to a frame that parses the same.
#[test]
fn random_input_round_trips() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let n = (next() % 64) as usize;
        let mut buf: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        // Often make the length plausible and the type known.
        if buf.len() >= HEADER_LEN && next() % 4 != 0 {
            buf[0] = 0;
            buf[1] = 0;
            buf[2] = (next() % 48) as u8;
            buf[3] %= 12;
        }
        let max = [MAX, 16, 0][(next() % 3) as usize];
        check_round_trip(&buf, max);
    }
}

/// The fuzz target's checks on one input.
fn check_round_trip(mut buf: &[u8], max: u32) {
    loop {
        let (f, used) = match parse(buf, max) {
            Ok(Some(x)) => x,
            Ok(None) => {
                if let Some(h) = parse_header(buf) {
                    assert!(h.len <= max && buf.len() < HEADER_LEN + h.len as usize);
                }
                return;
            }
            Err(e) => {
                let h = parse_header(buf).unwrap();
                if let Some(s) = e.stream {
                    assert!(s != 0 && s == h.stream);
                    assert!(buf.len() >= HEADER_LEN + h.len as usize);
                }
                return;
            }
        };
        let h = parse_header(buf).unwrap();
        assert_eq!(used, HEADER_LEN + h.len as usize);
        let mut again = Vec::new();
        f.encode(&mut again);
        let (g, n) = parse(&again, MAX_FRAME_SIZE_LIMIT).unwrap().unwrap();
        assert_eq!(n, again.len());
        match (&f, &g) {
            (Frame::Data { data, .. }, Frame::Data { flow_len, .. }) => {
                assert_eq!(*flow_len as usize, data.len());
            }
            _ => assert_eq!(f, g),
        }
        buf = &buf[used..];
    }
}
