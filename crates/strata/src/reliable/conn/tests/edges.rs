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

/// Timeouts from configuration can be anything a `Duration` holds: every
/// deadline saturates (`reliable.idle=18446744073709551615` once panicked a
/// listener with "overflow when adding duration to instant").
#[test]
fn the_longest_timeouts_do_not_overflow() {
    let cfg = ReliableConfig {
        idle_timeout: Duration::MAX,
        handshake_timeout: Duration::MAX,
        keepalive: Some(Duration::from_secs(u64::MAX)),
        max_ack_delay: Duration::MAX,
        ..default_cfg()
    };
    let mut l = Link::pair(cfg, true);
    l.ca.total = 10_000;
    l.sa.reads = true;
    l.handshake();
    assert!(l.run_until(Duration::from_secs(60), |l| l.sa.received.len() == 10_000));
    // Everything in flight is lost from now on: the timers run far out.
    l.drop_if(|_, _| true);
    l.ca.total = 20_000;
    // The probes back off to "practically never": an hour passes quietly.
    l.run_until(Duration::from_secs(3600), |l| l.c.is_closed());
    for c in [&l.c, &l.s] {
        assert!(c.next_timeout().is_none_or(|t| t >= l.now));
    }
}

/// A peer that answers nothing is dead after `dead_after_probes` probe
/// timeouts, long before the idle timeout, whether data was outstanding
/// or only the keepalive PING.
#[test]
fn a_silent_peer_is_dead_after_the_probes_before_the_idle_timeout() {
    for busy in [true, false] {
        let mut l = Link::pair(default_cfg(), true);
        l.sa.reads = true;
        l.handshake();
        let start = l.now;
        l.drop_if(|dir, _| dir == Dir::ToClient);
        if busy {
            l.ca.total = 50_000;
        }
        assert!(l.run_until(Duration::from_secs(60), |l| l.c.is_closed()));
        assert_eq!(
            l.c.error(),
            Some(&ConnError::PeerUnresponsive {
                probes: super::super::DEFAULT_DEAD_AFTER_PROBES
            }),
            "busy {busy}"
        );
        // Virtual time: eight backed-off probes and half the idle timeout
        // of silence (after the 10 s keepalive when idle), under the 30 s.
        assert!(
            l.now - start < Duration::from_secs(30),
            "{:?}",
            l.now - start
        );
    }
}

/// A peer that answers probes keeps the connection: the dead-peer rule
/// counts probe timeouts with nothing heard, not probe timeouts.
#[test]
fn probes_answered_now_and_then_keep_the_connection() {
    let mut l = Link::pair(default_cfg(), true);
    l.sa.reads = true;
    l.handshake();
    let mut n = 0u32;
    // Nine of ten datagrams to the client are lost.
    l.drop_if(move |dir, _| {
        n += 1;
        dir == Dir::ToClient && !n.is_multiple_of(10)
    });
    l.ca.total = 200_000;
    assert!(l.run_until(Duration::from_secs(600), |l| l.sa.received.len() == 200_000));
    assert!(l.c.error().is_none(), "{:?}", l.c.error());
}
