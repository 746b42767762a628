//! Codec tests: round trips of every packet and frame type, and every
//! malformed case giving a typed error.

use std::ops::RangeInclusive;

use super::*;

const DST: ConnId = ConnId(0x0102_0304_0506_0708);
const SRC: ConnId = ConnId(0xf0e0_d0c0_b0a0_9080);

fn short(number: u64) -> Vec<u8> {
    let mut out = Vec::new();
    Header::Short {
        dst: DST,
        number: PacketNumber(number),
    }
    .encode(&mut out)
    .unwrap();
    out
}

fn frames_of(buf: &[u8]) -> Result<Vec<Frame<'_>>, WireError> {
    parse_packet(buf)?.frames().collect()
}

/// One of every frame, with explicit lengths (so no prefix of it is valid
/// by accident), and an ACK with several ranges.
fn sample_frames(out: &mut Vec<u8>) -> Vec<usize> {
    let mut ends = Vec::new();
    let frames = [
        Frame::Ping,
        Frame::Reset {
            code: ErrorCode(0x1234),
            final_size: 1 << 40,
        },
        Frame::MaxData { max: 1 << 20 },
        Frame::DataBlocked { limit: 70_000 },
        Frame::Close {
            code: ErrorCode::PROTOCOL_VIOLATION,
            reason: b"bad frame",
        },
        Frame::Stream {
            offset: 0,
            fin: false,
            data: b"abc",
        },
        Frame::Stream {
            offset: 1 << 33,
            fin: true,
            data: b"",
        },
    ];
    for f in frames {
        f.encode(out).unwrap();
        ends.push(out.len());
    }
    encode_ack(out, &[1000..=1005, 900..=990, 0..=3], 1234, 100).unwrap();
    ends.push(out.len());
    ends
}

#[test]
fn every_frame_round_trips() {
    let mut out = short(7);
    let header_len = out.len();
    let ack_ranges = [
        u64::from(u32::MAX)..=u64::from(u32::MAX) + 3,
        500..=600,
        5..=10,
        0..=3,
    ];
    encode_ack(&mut out, &ack_ranges, 0, DEFAULT_MTU).unwrap();
    let frames = [
        Frame::Padding { len: 3 },
        Frame::Ping,
        Frame::Reset {
            code: ErrorCode(varint::MAX),
            final_size: varint::MAX,
        },
        Frame::MaxData { max: 0 },
        Frame::DataBlocked { limit: 1 << 30 },
        Frame::Close {
            code: ErrorCode::NO_ERROR,
            reason: b"",
        },
        Frame::Close {
            code: ErrorCode(0x100),
            reason: &[0xff; 300],
        },
        Frame::Stream {
            offset: 0,
            fin: true,
            data: b"",
        },
        Frame::Stream {
            offset: varint::MAX - 5,
            fin: false,
            data: b"12345",
        },
        Frame::Stream {
            offset: 64,
            fin: false,
            data: &[7; 500],
        },
    ];
    for f in &frames {
        let before = out.len();
        f.encode(&mut out).unwrap();
        assert_eq!(out.len() - before, f.encoded_len(), "{f:?}");
    }
    let parsed = frames_of(&out).unwrap();
    let Frame::Ack(ack) = parsed[0] else {
        panic!("{:?}", parsed[0]);
    };
    assert_eq!(ack.ranges().collect::<Vec<_>>(), ack_ranges);
    assert_eq!(ack.range_count(), 4);
    assert_eq!(ack.smallest(), PacketNumber(0));
    assert_eq!(ack.largest(), PacketNumber(u64::from(u32::MAX) + 3));
    assert_eq!(&parsed[1..], &frames);
    // Re-encoding the parsed frames gives the same bytes.
    let mut again = out[..header_len].to_vec();
    for f in &parsed {
        f.encode(&mut again).unwrap();
    }
    assert_eq!(again, out);
}

#[test]
fn last_stream_frame_without_length() {
    for (offset, fin) in [(0, false), (0, true), (1, false), (1 << 50, true)] {
        let mut out = short(1);
        Frame::Ping.encode(&mut out).unwrap();
        let before = out.len();
        encode_stream(&mut out, offset, b"tail data", fin, true).unwrap();
        assert_eq!(out.len() - before, stream_frame_len(offset, 9, true));
        assert_eq!(
            frames_of(&out).unwrap(),
            [
                Frame::Ping,
                Frame::Stream {
                    offset,
                    fin,
                    data: b"tail data"
                }
            ]
        );
    }
}

#[test]
fn every_packet_type_round_trips() {
    let token = [0xaa; MAX_TOKEN_LEN];
    let versions_raw = [0, 0, 0, 1, 0x0a, 0x1a, 0x2a, 0x3a];
    let headers = [
        Header::Initial {
            dst: DST,
            src: SRC,
            token: &[],
            number: PacketNumber(0),
        },
        Header::Initial {
            dst: DST,
            src: SRC,
            token: &token,
            number: PacketNumber(1),
        },
        Header::Handshake {
            dst: SRC,
            src: DST,
            number: PacketNumber(varint::MAX),
        },
        Header::Retry {
            dst: SRC,
            src: DST,
            token: &token[..41],
        },
        Header::VersionNegotiation {
            dst: SRC,
            src: DST,
            versions: VersionList::new(&versions_raw).unwrap(),
        },
        Header::Short {
            dst: DST,
            number: PacketNumber(16_384),
        },
    ];
    for h in headers {
        let mut out = Vec::new();
        h.encode(&mut out).unwrap();
        assert_eq!(out.len(), h.encoded_len(), "{h:?}");
        let carries_frames = h.number().is_some();
        if carries_frames {
            Frame::Ping.encode(&mut out).unwrap();
        }
        if h.packet_type() == PacketType::Initial {
            pad_to(&mut out, 0, MIN_INITIAL_SIZE);
        }
        let p = parse_packet(&out).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.header.dst(), h.dst());
        if carries_frames {
            let frames: Vec<_> = p.frames().collect::<Result<_, _>>().unwrap();
            assert_eq!(frames[0], Frame::Ping);
            let padding = MIN_INITIAL_SIZE - h.encoded_len() - 1;
            match h.packet_type() {
                PacketType::Initial => assert_eq!(frames[1..], [Frame::Padding { len: padding }]),
                _ => assert_eq!(frames.len(), 1),
            }
        } else {
            assert!(p.payload().is_empty());
            assert_eq!(p.frames().next(), None);
        }
    }
}

#[test]
fn version_negotiation_lists_versions() {
    let mut raw = Vec::new();
    VersionList::write(&mut raw, &[VERSION, 0xface_b00c]).unwrap();
    let mut out = Vec::new();
    Header::VersionNegotiation {
        dst: SRC,
        src: DST,
        versions: VersionList::new(&raw).unwrap(),
    }
    .encode(&mut out)
    .unwrap();
    let Header::VersionNegotiation { versions, .. } = parse_packet(&out).unwrap().header else {
        panic!();
    };
    assert_eq!(versions.iter().collect::<Vec<_>>(), [VERSION, 0xface_b00c]);
    assert_eq!(
        VersionList::write(&mut raw, &[]),
        Err(EncodeError::BadVersionList)
    );
    assert_eq!(
        VersionList::write(&mut raw, &[1; MAX_VERSIONS + 1]),
        Err(EncodeError::BadVersionList)
    );
    // Too many, empty, or ragged.
    let mut long = out[..21].to_vec();
    long.extend_from_slice(&[0; 4 * (MAX_VERSIONS + 1)]);
    for bad in [&long[..], &out[..21], &out[..out.len() - 1]] {
        assert_eq!(parse_packet(bad), Err(WireError::BadVersionList));
    }
}

#[test]
fn truncation_at_every_byte_of_a_short_packet() {
    let mut out = short(300);
    let header_len = out.len();
    let ends = sample_frames(&mut out);
    let all = frames_of(&out).unwrap();
    assert_eq!(all.len(), ends.len());
    for cut in 0..out.len() {
        let got = frames_of(&out[..cut]);
        if cut < header_len {
            assert!(matches!(got, Err(WireError::Truncated { .. })), "{cut}");
        } else if cut == header_len {
            assert_eq!(got, Err(WireError::EmptyPayload));
        } else if let Some(i) = ends.iter().position(|&e| e == cut) {
            // A frame boundary: a valid packet of the frames before it.
            assert_eq!(got.unwrap(), all[..=i], "{cut}");
        } else {
            assert!(
                matches!(got, Err(WireError::Truncated { .. })),
                "{cut}: {got:?}"
            );
        }
    }
}

#[test]
fn truncation_at_every_byte_of_long_packets() {
    let token = [5u8; 41];
    let mut initial = Vec::new();
    Header::Initial {
        dst: DST,
        src: SRC,
        token: &token,
        number: PacketNumber(1),
    }
    .encode(&mut initial)
    .unwrap();
    Frame::Ping.encode(&mut initial).unwrap();
    pad_to(&mut initial, 0, MIN_INITIAL_SIZE);
    for cut in 0..initial.len() {
        let got = parse_packet(&initial[..cut]);
        if cut < 21 {
            assert!(matches!(got, Err(WireError::Truncated { .. })), "{cut}");
        } else {
            assert_eq!(got, Err(WireError::InitialTooSmall { len: cut }));
        }
    }

    let mut retry = Vec::new();
    Header::Retry {
        dst: SRC,
        src: DST,
        token: &token,
    }
    .encode(&mut retry)
    .unwrap();
    for cut in 0..retry.len() {
        let got = parse_packet(&retry[..cut]);
        assert!(matches!(got, Err(WireError::Truncated { .. })), "{cut}");
    }

    let mut handshake = Vec::new();
    Header::Handshake {
        dst: SRC,
        src: DST,
        number: PacketNumber(1 << 20),
    }
    .encode(&mut handshake)
    .unwrap();
    let header_len = handshake.len();
    encode_ack(&mut handshake, &[5..=9, 0..=2], 77, 100).unwrap();
    for cut in 0..handshake.len() {
        let got = frames_of(&handshake[..cut]);
        if cut == header_len {
            assert_eq!(got, Err(WireError::EmptyPayload));
        } else {
            assert!(matches!(got, Err(WireError::Truncated { .. })), "{cut}");
        }
    }
}

#[test]
fn bad_first_bytes() {
    let mut out = short(0);
    Frame::Ping.encode(&mut out).unwrap();
    for (first, want) in [
        (0x00, WireError::FixedBitClear),
        (0x80, WireError::FixedBitClear),
        (0x41, WireError::ReservedBits(0x01)),
        (0x60, WireError::ReservedBits(0x20)),
    ] {
        out[0] = first;
        assert_eq!(parse_packet(&out), Err(want));
    }
    let mut long = Vec::new();
    Header::Handshake {
        dst: DST,
        src: SRC,
        number: PacketNumber(0),
    }
    .encode(&mut long)
    .unwrap();
    Frame::Ping.encode(&mut long).unwrap();
    assert_eq!(long[0], 0xd0);
    long[0] = 0xf0;
    assert_eq!(parse_packet(&long), Err(WireError::UnknownPacketType));
    long[0] = 0xd8;
    assert_eq!(parse_packet(&long), Err(WireError::ReservedBits(0x08)));
}

#[test]
fn unsupported_version_keeps_the_ids() {
    let mut out = Vec::new();
    Header::Handshake {
        dst: DST,
        src: SRC,
        number: PacketNumber(0),
    }
    .encode(&mut out)
    .unwrap();
    out[1..5].copy_from_slice(&2u32.to_be_bytes());
    // Even with nothing after the ids, the ids are reported.
    assert_eq!(
        parse_packet(&out[..21]),
        Err(WireError::UnsupportedVersion {
            version: 2,
            dst: DST,
            src: SRC
        })
    );
}

#[test]
fn unknown_frame_types() {
    for ty in [0x07, 0x10, 0x1c, 0x80, 0xff] {
        let mut out = short(0);
        out.push(ty);
        out.extend_from_slice(&[0; 8]);
        assert_eq!(frames_of(&out), Err(WireError::UnknownFrame(ty)));
        assert_eq!(
            WireError::UnknownFrame(ty).close_code(),
            ErrorCode::FRAME_ENCODING_ERROR
        );
    }
}

#[test]
fn frames_not_allowed_in_handshake_packets() {
    let stream = Frame::Stream {
        offset: 0,
        fin: false,
        data: b"x",
    };
    let reset = Frame::Reset {
        code: ErrorCode(0),
        final_size: 0,
    };
    let cases: [(PacketType, &[Frame<'_>]); 2] = [
        (
            PacketType::Initial,
            &[stream, reset, Frame::DataBlocked { limit: 1 }],
        ),
        (PacketType::Handshake, &[stream, reset]),
    ];
    for (packet, frames) in cases {
        for f in frames {
            let mut out = Vec::new();
            f.encode(&mut out).unwrap();
            let got = Frames::new(&out, packet).next();
            assert_eq!(
                got,
                Some(Err(WireError::FrameNotAllowed {
                    frame: out[0],
                    packet
                })),
                "{f:?}"
            );
            assert!(!f.allowed_in(packet));
            assert!(f.allowed_in(PacketType::Short));
        }
    }
    // An ACK in an Initial, through the whole parser.
    let mut out = Vec::new();
    Header::Initial {
        dst: DST,
        src: SRC,
        token: &[],
        number: PacketNumber(0),
    }
    .encode(&mut out)
    .unwrap();
    encode_ack(&mut out, &[0..=0], 0, 10).unwrap();
    pad_to(&mut out, 0, MIN_INITIAL_SIZE);
    let err = frames_of(&out).unwrap_err();
    assert_eq!(
        err,
        WireError::FrameNotAllowed {
            frame: 0x02,
            packet: PacketType::Initial
        }
    );
    assert_eq!(err.close_code(), ErrorCode::PROTOCOL_VIOLATION);
}

/// An ACK frame from raw varints: largest, delay, count, first, pairs.
fn raw_ack(values: &[u64]) -> Vec<u8> {
    let mut out = short(0);
    out.push(0x02);
    for &v in values {
        varint::write(&mut out, v).unwrap();
    }
    out
}

#[test]
fn ack_limits() {
    // The most ranges allowed, then one more.
    let mut ok = vec![10_000, 0, MAX_ACK_RANGES as u64, 0];
    ok.extend(std::iter::repeat_n(0, 2 * MAX_ACK_RANGES));
    let frames = frames_of(&raw_ack(&ok)).map(|f| f.len());
    assert_eq!(frames, Ok(1));
    let mut too_many = vec![10_000, 0, MAX_ACK_RANGES as u64 + 1, 0];
    too_many.extend(std::iter::repeat_n(0, 2 * MAX_ACK_RANGES + 2));
    assert_eq!(
        frames_of(&raw_ack(&too_many)),
        Err(WireError::TooManyAckRanges(MAX_ACK_RANGES as u64 + 1))
    );
    assert_eq!(
        frames_of(&raw_ack(&[10, 0, varint::MAX, 0])),
        Err(WireError::TooManyAckRanges(varint::MAX))
    );
}

#[test]
fn ack_ranges_below_zero() {
    // 3..=5, one missing (2), then 1..=1: fine.
    let ok = raw_ack(&[5, 0, 1, 2, 0, 0]);
    let Ok(frames) = frames_of(&ok) else { panic!() };
    let Frame::Ack(ack) = frames[0] else { panic!() };
    assert_eq!(ack.ranges().collect::<Vec<_>>(), [3..=5, 1..=1]);
    // 3..=5, three missing, then 0..=0: fine too.
    let ok = raw_ack(&[5, 0, 1, 2, 1, 0]);
    assert_eq!(frames_of(&ok).map(|f| f.len()), Ok(1));
    for values in [
        &[5, 0, 0, 6][..],                       // the first range past 0
        &[5, 0, 1, 2, 2, 0],                     // a gap past 0
        &[5, 0, 1, 2, 0, 2],                     // a second range past 0
        &[varint::MAX, 0, 1, varint::MAX, 0, 0], // the whole space, then more
    ] {
        assert_eq!(
            frames_of(&raw_ack(values)),
            Err(WireError::AckRangeUnderflow),
            "{values:?}"
        );
    }
}

#[test]
fn ack_encoder_rejects_bad_ranges() {
    let mut out = vec![9];
    for ranges in [
        &[][..],
        &[RangeInclusive::new(5, 3)],          // empty range
        &[1..=5, 10..=15],                     // increasing
        &[10..=15, 12..=20],                   // overlapping
        &[10..=15, 5..=9],                     // adjacent: must be merged
        &[10..=15, 5..=8, 9..=9],              // back up
        &[10..=15, RangeInclusive::new(7, 3)], // an empty later range
    ] {
        assert_eq!(
            encode_ack(&mut out, ranges, 0, 1000),
            Err(EncodeError::BadAckRanges),
            "{ranges:?}"
        );
    }
    assert_eq!(
        encode_ack(&mut out, &[0..=varint::MAX + 1], 0, 1000),
        Err(EncodeError::VarintTooLarge(varint::MAX + 1))
    );
    assert_eq!(
        encode_ack(&mut out, &[0..=1], 0, 4),
        Err(EncodeError::NoRoom {
            needed: 5,
            budget: 4
        })
    );
    assert_eq!(out, [9], "nothing written on error");
}

#[test]
fn ack_encoder_fills_its_budget() {
    // 200 ranges, each one packet, one missing between them.
    let ranges: Vec<_> = (0..200u64)
        .rev()
        .map(|i| 100_000 + 3 * i..=100_000 + 3 * i)
        .collect();
    for budget in 0..400 {
        let mut out = Vec::new();
        match encode_ack(&mut out, &ranges, 5, budget) {
            Ok(n) => {
                assert!(out.len() <= budget);
                assert!(n <= MAX_ACK_RANGES + 1);
                let Some(Ok(Frame::Ack(ack))) = Frames::new(&out, PacketType::Short).next() else {
                    panic!("{budget}")
                };
                assert_eq!(ack.ranges().collect::<Vec<_>>(), ranges[..n]);
                // One more range would not have fitted (or hit the limit).
                let mut bigger = Vec::new();
                if n <= MAX_ACK_RANGES {
                    let more = encode_ack(&mut bigger, &ranges[..n + 1], 5, 10_000).unwrap();
                    assert_eq!(more, n + 1);
                    assert!(bigger.len() > budget, "{budget}: {n} ranges");
                }
            }
            Err(EncodeError::NoRoom { needed, .. }) => assert!(needed > budget),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn lengths_past_the_end() {
    let cases: [(&[u8], &str); 4] = [
        (&[0x0a, 0x05, b'a', b'b'], "STREAM data"),
        (&[0x06, 0x00, 0x10, b'x'], "CLOSE reason"),
        (&[0x0e, 0x41], "STREAM offset"),
        (&[0x04, 0xc0, 0, 0], "MAX_DATA"),
    ];
    for (frame, field) in cases {
        let mut out = short(0);
        out.extend_from_slice(frame);
        assert_eq!(frames_of(&out), Err(WireError::Truncated { field }));
    }
    // A token over the limit, and one past the end of its datagram.
    let mut initial = vec![0xc0];
    initial.extend_from_slice(&VERSION.to_be_bytes());
    initial.extend_from_slice(&[0; 16]);
    initial.extend_from_slice(&[0x40, 0x80]);
    initial.resize(MIN_INITIAL_SIZE, 0);
    assert!(parse_packet(&initial).is_ok(), "128 bytes is the limit");
    initial[22] = 0x81;
    assert_eq!(parse_packet(&initial), Err(WireError::BadTokenLength(129)));
    let mut retry = vec![0xe0];
    retry.extend_from_slice(&VERSION.to_be_bytes());
    retry.extend_from_slice(&[0; 16]);
    retry.extend_from_slice(&[50, 1, 2, 3]);
    assert_eq!(
        parse_packet(&retry),
        Err(WireError::Truncated { field: "token" })
    );
    retry[21] = 0;
    assert_eq!(parse_packet(&retry), Err(WireError::BadTokenLength(0)));
    retry[21] = 2;
    assert_eq!(parse_packet(&retry), Err(WireError::TrailingBytes));
}

#[test]
fn values_past_the_varint_limit() {
    let mut out = Vec::new();
    assert_eq!(
        Frame::MaxData {
            max: varint::MAX + 1
        }
        .encode(&mut out),
        Err(EncodeError::VarintTooLarge(varint::MAX + 1))
    );
    assert_eq!(
        encode_stream(&mut out, varint::MAX, b"x", false, false),
        Err(EncodeError::StreamPastLimit)
    );
    assert_eq!(
        encode_stream(&mut out, u64::MAX, b"", false, false),
        Err(EncodeError::StreamPastLimit)
    );
    assert_eq!(
        Header::Short {
            dst: DST,
            number: PacketNumber(u64::MAX)
        }
        .encode(&mut out),
        Err(EncodeError::VarintTooLarge(u64::MAX))
    );
    assert!(out.is_empty(), "nothing written on error");
    // A STREAM frame whose end passes the limit.
    let mut p = short(0);
    p.push(0x0e);
    varint::write(&mut p, varint::MAX).unwrap();
    p.extend_from_slice(&[1, b'x']);
    assert_eq!(
        frames_of(&p),
        Err(WireError::OutOfRange {
            field: "STREAM end"
        })
    );
    // The largest varint reads back whole; a non-shortest form is accepted.
    let mut p = short(0);
    p.extend_from_slice(&[0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    p.extend_from_slice(&[0x04, 0xc0, 0, 0, 0, 0, 0, 0, 5]);
    assert_eq!(
        frames_of(&p),
        Ok(vec![
            Frame::MaxData { max: varint::MAX },
            Frame::MaxData { max: 5 }
        ])
    );
}

#[test]
fn padding_runs_are_one_frame() {
    let mut out = short(0);
    out.extend_from_slice(&[0, 0, 0, 1, 0, 1]);
    assert_eq!(
        frames_of(&out),
        Ok(vec![
            Frame::Padding { len: 3 },
            Frame::Ping,
            Frame::Padding { len: 1 },
            Frame::Ping
        ])
    );
}

#[test]
fn retry_and_token_encoding_limits() {
    let mut out = Vec::new();
    let long = [0u8; MAX_TOKEN_LEN + 1];
    assert_eq!(
        Header::Retry {
            dst: DST,
            src: SRC,
            token: &[]
        }
        .encode(&mut out),
        Err(EncodeError::BadTokenLength(0))
    );
    assert_eq!(
        Header::Retry {
            dst: DST,
            src: SRC,
            token: &long
        }
        .encode(&mut out),
        Err(EncodeError::BadTokenLength(MAX_TOKEN_LEN + 1))
    );
    let initial = Header::Initial {
        dst: DST,
        src: SRC,
        token: &long,
        number: PacketNumber(0),
    };
    assert_eq!(
        initial.encode(&mut out),
        Err(EncodeError::BadTokenLength(MAX_TOKEN_LEN + 1))
    );
    assert!(out.is_empty());
}

#[test]
fn stream_data_fits_exactly() {
    for offset in [0, 1, 63, 64, 16_383, 16_384, 1 << 30, varint::MAX - 10] {
        for budget in 0..20_000usize {
            if budget > 100 && budget % 97 != 0 && !(16_380..16_400).contains(&budget) {
                continue;
            }
            for last in [false, true] {
                for available in [0, 5, 70, 20_000] {
                    let fits = stream_data_fits(budget, offset, available, last);
                    let Some(n) = fits else {
                        assert!(stream_frame_len(offset, 0, last) > budget);
                        continue;
                    };
                    assert!(n <= available);
                    assert!(
                        stream_frame_len(offset, n, last) <= budget,
                        "{offset} {budget}"
                    );
                    let end_cap = varint::MAX - offset;
                    if n < available && (n as u64) < end_cap {
                        assert!(
                            stream_frame_len(offset, n + 1, last) > budget,
                            "{offset} {budget} {last} {available}: {n} not the most"
                        );
                    }
                    let mut out = Vec::new();
                    let data = vec![1u8; n];
                    encode_stream(&mut out, offset, &data, true, last).unwrap();
                    assert_eq!(out.len(), stream_frame_len(offset, n, last));
                }
            }
        }
    }
}

/// The examples of docs/reliable-wire.md, byte for byte.
#[test]
fn spec_examples() {
    let mut out = Vec::new();
    encode_ack(&mut out, &[10..=12, 3..=5, 0..=0], 250, 100).unwrap();
    assert_eq!(
        out,
        [0x02, 0x0c, 0x40, 0xfa, 0x02, 0x02, 0x03, 0x02, 0x01, 0x00]
    );

    let mut out = short(1);
    encode_stream(&mut out, 0, b"hi", true, true).unwrap();
    assert_eq!(out, [0x40, 1, 2, 3, 4, 5, 6, 7, 8, 0x01, 0x09, b'h', b'i']);
    let mut reencoded = Vec::new();
    for v in [37, 15_293, 494_878_333] {
        varint::write(&mut reencoded, v).unwrap();
    }
    assert_eq!(reencoded, [0x25, 0x7b, 0xbd, 0x9d, 0x7f, 0x3e, 0x7d]);

    // First bytes of each long packet type, and the largest Retry.
    let token = [0u8; MAX_TOKEN_LEN];
    let retry = Header::Retry {
        dst: DST,
        src: SRC,
        token: &token,
    };
    assert_eq!(retry.encoded_len(), 151);
    let mut first = Vec::new();
    for h in [
        Header::Initial {
            dst: DST,
            src: SRC,
            token: &[],
            number: PacketNumber(0),
        },
        Header::Handshake {
            dst: DST,
            src: SRC,
            number: PacketNumber(0),
        },
        retry,
    ] {
        let mut out = Vec::new();
        h.encode(&mut out).unwrap();
        first.push(out[0]);
    }
    assert_eq!(first, [0xc0, 0xd0, 0xe0]);
}

/// A packer fills a datagram to the byte with the length helpers: header,
/// an ACK within what is left, then as much stream data as fits.
#[test]
fn packer_fills_a_datagram_to_the_mtu() {
    let data = vec![0x5a; 5000];
    let ranges: Vec<_> = (0..100u64).rev().map(|i| 10 * i..=10 * i + 4).collect();
    for (number, offset, ack_budget) in [(0, 0, 40), (70, 1 << 20, 13), (1 << 40, 99, 600)] {
        let mut out = Vec::new();
        let header = Header::Short {
            dst: DST,
            number: PacketNumber(number),
        };
        header.encode(&mut out).unwrap();
        let n = encode_ack(&mut out, &ranges, 10, ack_budget).unwrap();
        let room = DEFAULT_MTU - out.len();
        let take = stream_data_fits(room, offset, data.len(), true).unwrap();
        encode_stream(&mut out, offset, &data[..take], false, true).unwrap();
        assert_eq!(out.len(), DEFAULT_MTU, "{number} {offset} {ack_budget}");
        let frames = frames_of(&out).unwrap();
        let Frame::Ack(ack) = frames[0] else { panic!() };
        assert_eq!(ack.range_count(), n);
        assert_eq!(
            frames[1],
            Frame::Stream {
                offset,
                fin: false,
                data: &data[..take]
            }
        );
    }
}
