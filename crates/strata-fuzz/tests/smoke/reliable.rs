//! Seeded generators of the reliable-mapping targets: wire datagrams,
//! connection and listener inputs (from a real exchange), KCP segments.

use super::*;

/// Appends `v` as a varint, now and then in a longer form than needed.
pub(super) fn rw_varint(out: &mut Vec<u8>, v: u64, rng: &mut ChaCha8Rng) {
    let shortest = match v {
        0..=63 => 0,
        64..=16_383 => 1,
        16_384..=0x3fff_ffff => 2,
        _ => 3,
    };
    let size = if rng.gen_ratio(1, 10) {
        rng.gen_range(shortest..4)
    } else {
        shortest
    };
    let n = 1usize << size;
    let bytes = (v | (size as u64) << (8 * n - 2)).to_be_bytes();
    out.extend_from_slice(&bytes[8 - n..]);
}

/// A value for a varint field: mostly small, often at a size boundary.
pub(super) fn rw_value(rng: &mut ChaCha8Rng) -> u64 {
    const MAX: u64 = (1 << 62) - 1;
    match rng.gen_range(0..10) {
        0..=4 => rng.gen_range(0..64),
        5 => rng.gen_range(0..20_000),
        6 => [63, 64, 16_383, 16_384, (1 << 30) - 1, 1 << 30][rng.gen_range(0..6)],
        7 => MAX - rng.gen_range(0..4),
        _ => rng.gen_range(0..=MAX),
    }
}

/// One frame of the reliable mapping, mostly well-formed.
pub(super) fn rw_frame(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    match rng.gen_range(0..12) {
        0 => out.resize(out.len() + rng.gen_range(1..5), 0),
        1 => out.push(0x01),
        2 | 3 => {
            out.push(0x02);
            let largest = rw_value(rng);
            rw_varint(out, largest, rng);
            rw_varint(out, rw_value(rng), rng);
            let count = if rng.gen_ratio(1, 10) {
                rng.gen_range(60..70)
            } else {
                rng.gen_range(0..5)
            };
            rw_varint(out, count, rng);
            rw_varint(out, rng.gen_range(0..8), rng);
            for _ in 0..count {
                rw_varint(out, rng.gen_range(0..6), rng);
                rw_varint(out, rng.gen_range(0..6), rng);
            }
        }
        4..=6 => {
            let ty = rng.gen_range(0x08..0x10u8);
            out.push(ty);
            if ty & 0x04 != 0 {
                rw_varint(out, rw_value(rng), rng);
            }
            let data: Vec<u8> = (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect();
            if ty & 0x02 != 0 {
                let len = if rng.gen_ratio(1, 10) {
                    rw_value(rng)
                } else {
                    data.len() as u64
                };
                rw_varint(out, len, rng);
            }
            out.extend_from_slice(&data);
        }
        7 => {
            out.push(0x06);
            rw_varint(out, rw_value(rng), rng);
            let reason = &b"flow control violated"[..rng.gen_range(0..21)];
            rw_varint(
                out,
                reason.len() as u64 + u64::from(rng.gen_ratio(1, 10)),
                rng,
            );
            out.extend_from_slice(reason);
        }
        8 => {
            out.push(0x03);
            rw_varint(out, rw_value(rng), rng);
            rw_varint(out, rw_value(rng), rng);
        }
        9 | 10 => {
            out.push(rng.gen_range(0x04..0x06));
            rw_varint(out, rw_value(rng), rng);
        }
        _ => out.push(rng.gen()),
    }
}

/// One datagram of the reliable mapping: mostly short-header packets, also
/// Initial (padded, with or without a token), Handshake, Retry, Version
/// Negotiation and other versions; with the odd flipped byte or cut-off
/// end.
pub(super) fn rw_datagram(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let kind = rng.gen_range(0..12);
    let long = |rng: &mut ChaCha8Rng, out: &mut Vec<u8>, first: u8, version: u32| {
        out.push(first);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&rng.gen::<[u8; 16]>());
    };
    let token = |rng: &mut ChaCha8Rng, out: &mut Vec<u8>| {
        let len = [0, 41, 128, 129][rng.gen_range(0..4)];
        rw_varint(out, len as u64, rng);
        out.extend((0..len).map(|_| rng.gen::<u8>()));
    };
    let mut frames = true;
    match kind {
        0..=5 => {
            out.push(if rng.gen_ratio(1, 20) {
                rng.gen()
            } else {
                0x40
            });
            out.extend_from_slice(&rng.gen::<[u8; 8]>());
            rw_varint(&mut out, rw_value(rng), rng);
        }
        6 | 7 => {
            long(rng, &mut out, 0xc0, 1);
            token(rng, &mut out);
            rw_varint(&mut out, rng.gen_range(0..3), rng);
        }
        8 => {
            long(rng, &mut out, 0xd0, 1);
            rw_varint(&mut out, rng.gen_range(0..3), rng);
        }
        9 => {
            long(rng, &mut out, 0xe0, 1);
            token(rng, &mut out);
            frames = false;
        }
        10 => {
            let first = 0xc0 | rng.gen::<u8>();
            long(rng, &mut out, first, 0);
            out.extend((0..4 * rng.gen_range(0..18)).map(|_| rng.gen::<u8>()));
            frames = false;
        }
        _ => {
            let first = 0xc0 | (rng.gen::<u8>() & 0x3f);
            let version = rng.gen_range(0..4);
            long(rng, &mut out, first, version);
        }
    }
    if frames {
        for _ in 0..rng.gen_range(0..6) {
            rw_frame(rng, &mut out);
        }
    }
    if matches!(kind, 6 | 7) && rng.gen_ratio(7, 8) {
        out.resize(out.len().max(1200), 0);
    }
    if !out.is_empty() && rng.gen_ratio(1, 8) {
        let i = rng.gen_range(0..out.len());
        out[i] = rng.gen();
    }
    if !out.is_empty() && rng.gen_ratio(1, 8) {
        out.truncate(rng.gen_range(0..out.len()));
    }
    out
}

pub(super) fn reliable_wire_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        input.extend(rw_datagram(&mut rng));
        all.push(input);
    }
    all
}

/// Inputs for `reliable_conn`: the two control bytes, then up to eight
/// records of a datagram (see `rw_datagram`) with flags that mostly aim
/// it at the target's connection id (at the right offset for its header)
/// and now and then write or let time pass. For a listener, half the
/// inputs open with a well-formed Initial without a token (which opens a
/// connection when the listener skips Retry).
pub(super) fn reliable_conn_inputs() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for _ in 0..RUNS {
        let ctl: [u8; 2] = rng.gen();
        let mut input = ctl.to_vec();
        let record = |input: &mut Vec<u8>, flags: u8, d: &[u8]| {
            input.push(flags);
            input.extend_from_slice(&(d.len() as u16).to_be_bytes());
            input.extend_from_slice(d);
        };
        if ctl[0] & 1 == 1 && rng.gen_ratio(1, 2) {
            let mut d = vec![0xc0, 0, 0, 0, 1];
            d.extend_from_slice(&rng.gen::<[u8; 16]>());
            d.extend_from_slice(&[0, 0, 0x04, 0x40, 0x80]);
            d.resize(1200, 0);
            record(&mut input, 0, &d);
        }
        for _ in 0..rng.gen_range(0..8) {
            let d = rw_datagram(&mut rng);
            let mut flags: u8 = rng.gen::<u8>() & 0xfc;
            if rng.gen_ratio(3, 4) {
                flags |= 1;
            }
            if d.first().is_some_and(|b| b & 0x80 != 0) {
                flags |= 2;
            }
            if rng.gen_ratio(1, 2) {
                flags &= 0x1f;
            }
            record(&mut input, flags, &d);
        }
        all.push(input);
    }
    all
}

pub(super) fn kcp_segment_inputs() -> Vec<Vec<u8>> {
    // Records `[ctl, len_lo, len_hi, bytes]` of mostly well-formed KCP
    // segments (24-byte header: conv, cmd 81-84, frg, wnd, ts, sn, una,
    // len) for the target's conversation.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut all = Vec::new();
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        for _ in 0..rng.gen_range(0..8) {
            let mut d = Vec::new();
            for _ in 0..rng.gen_range(1..4) {
                let conv = if rng.gen_ratio(7, 8) {
                    strata_fuzz::KCP_CONV
                } else {
                    rng.gen()
                };
                d.extend_from_slice(&conv.to_le_bytes());
                d.push(rng.gen_range(81..85));
                d.push(rng.gen_range(0..3));
                d.extend_from_slice(&rng.gen_range(0u16..256).to_le_bytes());
                d.extend_from_slice(&rng.gen_range(0u32..5000).to_le_bytes());
                d.extend_from_slice(&rng.gen_range(0u32..40).to_le_bytes());
                d.extend_from_slice(&rng.gen_range(0u32..40).to_le_bytes());
                let data: Vec<u8> = (0..rng.gen_range(0..60)).map(|_| rng.gen()).collect();
                let len = if rng.gen_ratio(1, 12) {
                    rng.gen()
                } else {
                    data.len() as u32
                };
                d.extend_from_slice(&len.to_le_bytes());
                d.extend_from_slice(&data);
            }
            if rng.gen_ratio(1, 8) {
                d.truncate(rng.gen_range(0..=d.len()));
            }
            input.push(rng.gen());
            input.extend_from_slice(&(d.len() as u16).to_le_bytes());
            input.extend_from_slice(&d);
        }
        all.push(input);
    }
    all
}

/// The datagrams of a real exchange between two reliable connections
/// (handshake, data both ways, FIN, close), as the encoders write them.
pub(super) fn reliable_exchange(seed: u64) -> Vec<Vec<u8>> {
    let cfg = ReliableConfig::default();
    let mut now = strata::testing::epoch();
    let (a, b) = (ConnId(0x0123_4567_89ab_cdef), ConnId(0x0fed_cba9_8765_4321));
    let mut client = Connection::connect(cfg.clone(), now, a, ConnId(seed));
    let mut server = Connection::accept(cfg, now, b, a, true);
    client.write(now, &vec![0x42; 3000 + seed as usize * 500]);
    server.write(now, &vec![0x24; 2000]);
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for round in 0..12 {
        if round == 6 {
            client.finish();
            server.finish();
        }
        if round == 9 {
            client.close_gracefully(now);
        }
        while client.poll_transmit(now, &mut out) {
            seen.push(out.clone());
            server.handle_datagram(now, &out);
        }
        while server.poll_transmit(now, &mut out) {
            seen.push(out.clone());
            client.handle_datagram(now, &out);
        }
        while client.read(now, usize::MAX).is_some() {}
        while server.read(now, usize::MAX).is_some() {}
        now += std::time::Duration::from_millis(20);
    }
    seen
}

pub(super) fn record(input: &mut Vec<u8>, flags: u8, d: &[u8]) {
    input.push(flags);
    input.extend_from_slice(&(d.len() as u16).to_be_bytes());
    input.extend_from_slice(d);
}

/// Inputs for `reliable_listener`: the control byte, then records that
/// mostly replay or nudge the real client's latest datagram (from its own
/// address or another), or are datagrams of the reliable wire format, and
/// let time pass.
pub(super) fn reliable_listener_inputs() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let mut all = Vec::new();
    for _ in 0..RUNS {
        let mut input = vec![rng.gen::<u8>()];
        for _ in 0..rng.gen_range(0..10) {
            let mut flags: u8 = rng.gen::<u8>() & !0x0c;
            if rng.gen_ratio(1, 2) {
                flags &= 0x1f;
            }
            if rng.gen_ratio(1, 2) {
                // The real client's latest, changed in a byte or two.
                flags |= 4;
                let mut x = vec![0u8; rng.gen_range(0..40)];
                for _ in 0..rng.gen_range(0..3) {
                    if !x.is_empty() {
                        let i = rng.gen_range(0..x.len());
                        x[i] = rng.gen();
                    }
                }
                record(&mut input, flags, &x);
            } else {
                if rng.gen_ratio(1, 2) {
                    flags |= 8;
                }
                record(&mut input, flags, &rw_datagram(&mut rng));
            }
        }
        all.push(input);
    }
    all
}
