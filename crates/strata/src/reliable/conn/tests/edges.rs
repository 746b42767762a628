//! Edge cases of the packet builder, the timers and the close, found by the
//! 100,000-seed sweep and by the hardening review (issue 9).

use super::*;

/// The STREAM frame has no length field and runs to the end of the packet:
/// a keepalive PING due when data is sent must go before it, or the peer
/// reads the PING's type byte as stream data (seed 56432 of the sweep).
#[test]
fn a_keepalive_ping_due_with_data_does_not_become_stream_data() {
    let mut l = Link::pair(default_cfg(), true);
    l.sa.reads = true;
    l.handshake();
    // Quiet until the keepalive is due, then data on the same packet.
    l.now += ms(10_001);
    l.c.handle_timeout(l.now);
    let data: Vec<u8> = (0..500).map(|i| pat(1, i)).collect();
    assert!(l.c.write(l.now, &data));
    let mut out = Vec::new();
    assert!(l.c.poll_transmit(l.now, &mut out));
    let frames: Vec<String> = wire::parse_packet(&out)
        .unwrap()
        .frames()
        .map(|f| format!("{:?}", f.unwrap()))
        .collect();
    assert!(frames.iter().any(|f| f.starts_with("Ping")), "{frames:?}");
    l.s.handle_datagram(l.now, &out);
    let got = l.s.read(l.now, 1 << 20).unwrap();
    assert_eq!(&got[..], &data[..]);
}
