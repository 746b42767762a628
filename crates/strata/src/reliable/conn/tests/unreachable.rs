//! The unreachable rule (issue 9): ICMP port/host/network unreachable
//! reports taken as a hint that the peer is gone, never as proof.

use super::*;

/// Steps the link; every datagram the client sent since `seen` (an index
/// into the log) is answered with an unreachable hint while `icmp` says so,
/// as a kernel answers datagrams to a closed port. Returns whether `done`.
fn run_with_hints(
    l: &mut Link,
    limit: Duration,
    mut icmp: impl FnMut(u32) -> bool,
    done: impl Fn(&Link) -> bool,
) -> bool {
    let end = l.now + limit;
    let mut seen = l.log.len();
    let mut sent = 0u32;
    while l.now <= end {
        if done(l) {
            return true;
        }
        if !l.step() {
            break;
        }
        let fresh = l.log[seen..]
            .iter()
            .filter(|(d, _)| *d == Dir::ToServer)
            .count();
        seen = l.log.len();
        for _ in 0..fresh {
            sent += 1;
            if icmp(sent) {
                l.c.unreachable_hint(l.now);
            }
        }
    }
    done(l)
}

/// A server gone with the kernel answering port unreachable: the client
/// is dead max(3 PTO, 1 s) after the first hint (1 s on this 20 ms
/// round trip), far before the probe rule's 20 s.
#[test]
fn a_peer_reported_unreachable_three_times_and_silent_is_dead_in_about_a_second() {
    let mut l = Link::pair(default_cfg(), true);
    l.handshake();
    l.drop_if(|_, _| true);
    l.ca.total = 50_000;
    let start = l.now;
    assert!(run_with_hints(
        &mut l,
        Duration::from_secs(60),
        |_| true,
        |l| l.c.is_closed()
    ));
    assert!(
        matches!(l.c.error(), Some(ConnError::Unreachable { hints }) if *hints >= 3),
        "{:?}",
        l.c.error()
    );
    // Virtual time: the rule's 1 s of silence after the first hint.
    let took = l.now - start;
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// Forged ICMP: a hint for every datagram sent, while the peer answers.
/// Every answer starts the count over: the connection stays up and the
/// data all arrives.
#[test]
fn spoofed_unreachable_hints_do_not_end_a_connection_whose_peer_answers() {
    let mut l = Link::pair(default_cfg(), true);
    l.handshake();
    l.ca.total = 2_000_000;
    assert!(run_with_hints(
        &mut l,
        Duration::from_secs(60),
        |_| true,
        |l| l.sa.received.len() == 2_000_000
    ));
    assert_eq!(l.c.error(), None);
    assert!(l.c.is_established());
    // And an idle connection, hinted at every keepalive, stays up too.
    let start = l.now;
    assert!(!run_with_hints(
        &mut l,
        Duration::from_secs(45),
        |_| true,
        |l| l.c.is_closing()
    ));
    assert!(l.now - start >= Duration::from_secs(45));
}

/// Fewer hints than `unreachable_hints`: the rule does not fire; the probe
/// rule ends the connection, as without ICMP.
#[test]
fn fewer_hints_than_the_count_do_nothing() {
    let mut l = Link::pair(default_cfg(), true);
    l.handshake();
    l.drop_if(|_, _| true);
    l.ca.total = 50_000;
    let start = l.now;
    assert!(run_with_hints(
        &mut l,
        Duration::from_secs(60),
        |n| n <= 2,
        |l| l.c.is_closed()
    ));
    assert!(
        matches!(l.c.error(), Some(ConnError::PeerUnresponsive { .. })),
        "{:?}",
        l.c.error()
    );
    assert!(l.now - start >= Duration::from_secs(20));
}

/// `unreachable_hints = 0`: ICMP is ignored entirely.
#[test]
fn zero_unreachable_hints_ignores_icmp() {
    let cfg = ReliableConfig {
        unreachable_hints: 0,
        ..default_cfg()
    };
    let mut l = Link::pair(cfg, true);
    l.handshake();
    l.drop_if(|_, _| true);
    l.ca.total = 50_000;
    let start = l.now;
    let before = l.log.len();
    assert!(run_with_hints(
        &mut l,
        Duration::from_secs(60),
        |_| true,
        |l| l.c.is_closed()
    ));
    assert!(
        matches!(l.c.error(), Some(ConnError::PeerUnresponsive { .. })),
        "{:?}",
        l.c.error()
    );
    assert!(l.now - start >= Duration::from_secs(20));
    assert!(l.log.len() > before);
}

/// A connect to a closed port: the handshake fails with `Unreachable` in
/// about 3 s (3 PTO before any RTT sample), not at the 20 s handshake
/// timeout.
#[test]
fn a_connect_to_a_closed_port_fails_early() {
    let mut l = Link::pair(default_cfg(), true);
    l.drop_if(|_, _| true);
    assert!(run_with_hints(
        &mut l,
        Duration::from_secs(60),
        |_| true,
        |l| l.c.is_closed()
    ));
    assert!(
        matches!(l.c.error(), Some(ConnError::Unreachable { .. })),
        "{:?}",
        l.c.error()
    );
    let took = l.now - t0();
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// The layer: `error_received` of a port unreachable reaches the
/// connection (other errors do not), and a connect that only ever hears
/// port unreachable is aborted with `ConnError::Unreachable`.
#[test]
fn the_reliable_layer_takes_port_unreachable_as_a_hint() {
    struct Quiet;
    impl crate::StreamProtocol for Quiet {
        fn data_received(&mut self, _: &mut dyn crate::StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn crate::StreamTransport) {}
    }
    for (kind, unreachable) in [
        (std::io::ErrorKind::ConnectionRefused, true),
        (std::io::ErrorKind::PermissionDenied, false),
    ] {
        let layer = crate::reliable::Reliable::new(default_cfg(), Quiet);
        let mut s = crate::DatagramStack::memory(Box::new(layer));
        let mut now = s.now();
        s.start(now);
        let end = now + Duration::from_secs(60);
        while s.finished().is_none() && now < end {
            // Every datagram sent is answered with the error.
            let sent = s.take_transmits(now).len();
            for _ in 0..sent {
                s.handle_error(now, kind);
            }
            if s.transmits().next().is_some() {
                continue;
            }
            let Some(next) = s.next_deadline() else { break };
            now = now.max(next);
            s.handle_timeout(now);
        }
        let why = s.finished().expect("the connect ends").to_string();
        assert_eq!(why.contains("unreachable"), unreachable, "{kind:?}: {why}");
        if !unreachable {
            assert!(why.contains("handshake"), "{why}");
        }
    }
}
