//! Target `reliable_wire`: the reliable mapping's packet and frame codec
//! (`strata::reliable::wire`) and its cookie check on arbitrary bytes.
//!
//! The first byte is a byte budget for re-encoding ACK frames; the rest is
//! one datagram. No input may panic, and:
//! - an error is consistent with the bytes (a too-small Initial is under
//!   the minimum; an unsupported version is neither 0 nor ours);
//! - a parsed header re-encodes to `encoded_len` bytes that, followed by
//!   the same payload, parse to the same header and payload;
//! - every frame decoded is allowed in its packet type, there are no more
//!   frames than payload bytes, and after an error the frames end;
//! - every decoded frame re-encodes to `encoded_len` bytes that decode to
//!   the same frame; an ACK's ranges are descending, disjoint and not
//!   adjacent, and re-encoded within the budget they give back its highest
//!   ranges;
//! - a token from the wire never passes a cookie check (it cannot be
//!   forged without the key).

use std::net::SocketAddr;

use strata::reliable::cookie::{CookieError, CookieKey};
use strata::reliable::wire::{
    self, encode_ack, Frame, Frames, Header, PacketType, WireError, MAX_ACK_RANGES,
    MIN_INITIAL_SIZE, VERSION,
};

/// Parses `data` (after one control byte, the ACK budget) as a datagram;
/// see the module documentation for what it checks.
pub fn reliable_wire(data: &[u8]) {
    let Some((&budget, datagram)) = data.split_first() else {
        return;
    };
    let packet = match wire::parse_packet(datagram) {
        Ok(p) => p,
        Err(e) => return check_error(e, datagram),
    };
    check_header(&packet.header, packet.payload());
    let kind = packet.header.packet_type();
    let mut count = 0;
    let mut failed = false;
    for frame in packet.frames() {
        assert!(!failed, "a frame after an error");
        count += 1;
        assert!(count <= packet.payload().len(), "more frames than bytes");
        match frame {
            Ok(f) => {
                assert!(f.allowed_in(kind), "{f:?} in {kind:?}");
                check_frame(&f, kind, usize::from(budget));
            }
            Err(e) => {
                failed = true;
                let _ = e.close_code();
            }
        }
    }
    if let Header::Initial { token, src, .. } = packet.header {
        let key = CookieKey::new([0x5a; 32]);
        let peer: SocketAddr = ([192, 0, 2, 1], 4433).into();
        for now in [0, u64::from(budget), u64::MAX] {
            let got = key.check(token, now, &peer, src.0);
            assert!(
                matches!(got, Err(CookieError::Malformed | CookieError::Invalid)),
                "{got:?}"
            );
        }
    }
}

fn check_error(e: WireError, datagram: &[u8]) {
    match e {
        WireError::InitialTooSmall { len } => {
            assert_eq!(len, datagram.len());
            assert!(len < MIN_INITIAL_SIZE);
        }
        WireError::UnsupportedVersion { version, .. } => {
            assert!(version != 0 && version != VERSION);
        }
        WireError::FixedBitClear => assert!(datagram[0] & 0x40 == 0),
        _ => {}
    }
    let _ = e.close_code();
}

/// Re-encodes `header`, appends `payload`, and checks both come back.
fn check_header(header: &Header<'_>, payload: &[u8]) {
    let mut out = Vec::new();
    header.encode(&mut out).expect("a parsed header re-encodes");
    assert_eq!(out.len(), header.encoded_len());
    out.extend_from_slice(payload);
    if header.packet_type() == PacketType::Initial {
        // The re-encoding may be shorter (shortest varints).
        wire::pad_to(&mut out, 0, MIN_INITIAL_SIZE);
    }
    let again = wire::parse_packet(&out).expect("a re-encoded packet parses");
    assert_eq!(again.header, *header);
    assert!(again.payload().starts_with(payload));
}

/// Re-encodes `f` and checks it decodes the same; for an ACK, also checks
/// its ranges and re-encodes them within `budget`.
fn check_frame(f: &Frame<'_>, kind: PacketType, budget: usize) {
    let mut out = Vec::new();
    f.encode(&mut out).expect("a parsed frame re-encodes");
    assert_eq!(out.len(), f.encoded_len(), "{f:?}");
    let mut frames = Frames::new(&out, kind);
    assert_eq!(frames.next(), Some(Ok(*f)));
    assert_eq!(frames.next(), None);

    let Frame::Ack(ack) = f else { return };
    let ranges: Vec<_> = ack.ranges().collect();
    assert_eq!(ranges.len(), ack.range_count());
    assert!(ranges.len() <= MAX_ACK_RANGES + 1);
    assert_eq!(ranges.first().map(|r| *r.end()), Some(ack.largest().0));
    for pair in ranges.windows(2) {
        assert!(pair[0].start() <= pair[0].end());
        assert!(pair[1].end() + 1 < *pair[0].start(), "{ranges:?}");
    }
    let mut again = Vec::new();
    match encode_ack(&mut again, &ranges, ack.delay_micros(), budget) {
        Ok(n) => {
            assert!(again.len() <= budget);
            let Some(Ok(Frame::Ack(back))) = Frames::new(&again, PacketType::Short).next() else {
                panic!("re-encoded ACK does not parse");
            };
            assert!(back.ranges().eq(ranges[..n].iter().cloned()));
        }
        Err(wire::EncodeError::NoRoom { needed, .. }) => assert!(needed > budget),
        Err(e) => panic!("{e} for {ranges:?}"),
    }
}
