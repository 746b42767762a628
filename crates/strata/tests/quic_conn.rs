//! The QUIC layer at the connection level (issue 11, points 1 and 5): the
//! `QuicApp`/`QuicConnection` contract over a simulated network: uni
//! streams, RESET_STREAM and STOP_SENDING codes, CONNECTION_CLOSE with an
//! application code, the idle timeout and keep-alive, DATAGRAM frames,
//! ALPN refusals, capabilities, wakes.

mod quic_support;

use std::sync::Arc;
use std::time::Duration;

use quic_support::*;
use strata::quic::{Dir, QuicConfig, QuicError, StreamError, StreamId};
use strata::{Close, Timeout};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn uni_streams_carry_bytes_and_fin_both_ways_with_the_ids_of_rfc_9000() {
    let (cev, sev) = (SharedEvents::default(), SharedEvents::default());
    let s2 = sev.clone();
    let srv = script_server(config(1), move || {
        Script::new(s2.clone()).finished(|c, id| {
            // The client's uni stream ended: answer on a uni stream of ours.
            assert_eq!(id, StreamId(2));
            let back = c.open(Dir::Uni).unwrap();
            assert_eq!(c.write(back, b"xyz"), Ok(3));
            c.finish(back).unwrap();
            // The peer's uni stream is receive-only for us.
            assert_eq!(c.write(id, b"no"), Err(StreamError::UnknownStream));
        })
    });
    let cli = client_app(
        config(2),
        Box::new(Script::new(cev.clone()).made(|c, ()| {
            let id = c.open(Dir::Uni).unwrap();
            assert_eq!(id, StreamId(2));
            assert_eq!(c.write(id, b"abc"), Ok(3));
            c.finish(id).unwrap();
            assert_eq!(c.write(id, b"more"), Err(StreamError::Finished));
        })),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || {
        cev.lock().unwrap().finished.contains(&3)
    });
    let (c, s) = (cev.lock().unwrap(), sev.lock().unwrap());
    assert_eq!(s.opened, [2]);
    assert_eq!(s.data[&2], b"abc");
    assert_eq!(s.finished, [2]);
    assert_eq!(c.opened, [3]);
    assert_eq!(c.data[&3], b"xyz");
    assert_eq!(c.alpn.as_deref(), Some(ALPN));
    assert_eq!(s.alpn.as_deref(), Some(ALPN));
    assert_eq!(c.certs, 1, "the client sees the server's certificate");
    let stats = c.stats.unwrap();
    assert!(
        stats.rtt >= Duration::from_millis(10) && stats.sent_packets > 0,
        "{stats:?}"
    );
    assert!(stats.cwnd > 0);
}

#[test]
fn reset_stream_and_stop_sending_codes_reach_the_peer_app() {
    let (cev, sev) = (SharedEvents::default(), SharedEvents::default());
    let s2 = sev.clone();
    let srv = script_server(config(1), move || {
        Script::new(s2.clone()).data(|c, (id, _)| {
            // Stop the client's sending on stream 0, reset ours on it.
            c.stop_sending(id, 7);
            c.reset(id, 9);
        })
    });
    let cli = client_app(
        config(2),
        Box::new(Script::new(cev.clone()).made(|c, ()| {
            let id = c.open(Dir::Bi).unwrap();
            c.write(id, b"first").unwrap();
        })),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || {
        let c = cev.lock().unwrap();
        !c.stopped.is_empty() && !c.reset.is_empty()
    });
    let c = cev.lock().unwrap();
    assert_eq!(c.stopped, [(0, 7)]);
    assert_eq!(c.reset, [(0, 9)]);
}

#[test]
fn connection_close_carries_the_application_code_and_reason() {
    let (cev, sev) = (SharedEvents::default(), SharedEvents::default());
    let s2 = sev.clone();
    let srv = script_server(config(1), move || {
        Script::new(s2.clone()).made(|c, ()| c.close(0x42, b"bye"))
    });
    let cli = client_app(config(2), Box::new(Script::new(cev.clone())));
    let (mut net, c_node, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || cev.lock().unwrap().lost.is_some());
    let lost = cev.lock().unwrap().lost.clone().unwrap();
    assert_eq!(
        lost.error::<QuicError>(),
        Some(&QuicError::ApplicationClosed {
            code: 0x42,
            reason: b"bye".to_vec()
        }),
        "{lost}"
    );
    let slost = sev.lock().unwrap().lost.clone();
    assert_eq!(
        slost.as_ref().and_then(|l| l.error::<QuicError>()),
        Some(&QuicError::LocallyClosed { code: 0x42 })
    );
    // The client's stack ends once the connection drained.
    net.run(LIMIT);
    assert!(net.stack(c_node).unwrap().finished().is_some());
}

#[test]
fn an_idle_connection_times_out_and_keep_alive_prevents_it() {
    let idle = |keep: Option<Duration>| QuicConfig {
        idle_timeout: Duration::from_secs(2),
        keep_alive: keep,
        ..config(5)
    };
    let cev = SharedEvents::default();
    let sev = SharedEvents::default();
    let s2 = sev.clone();
    let srv = script_server(idle(None), move || Script::new(s2.clone()));
    let cli = client_app(idle(None), Box::new(Script::new(cev.clone())));
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || cev.lock().unwrap().lost.is_some());
    let lost = cev.lock().unwrap().lost.clone().unwrap();
    assert!(matches!(lost, Close::Timeout(Timeout::Idle)), "{lost}");
    assert!(
        net.elapsed() < Duration::from_secs(4),
        "{:?}",
        net.elapsed()
    );

    let cev = SharedEvents::default();
    let s2 = sev.clone();
    let srv = script_server(idle(None), move || Script::new(s2.clone()));
    let cli = client_app(
        idle(Some(Duration::from_millis(500))),
        Box::new(Script::new(cev.clone())),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    net.run_until(Duration::from_secs(20), |_| {
        cev.lock().unwrap().lost.is_some()
    });
    let c = cev.lock().unwrap();
    assert!(c.made && c.lost.is_none(), "{:?}", c.lost);
}

#[test]
fn datagram_frames_go_both_ways_and_are_refused_when_the_peer_disabled_them() {
    let (cev, sev) = (SharedEvents::default(), SharedEvents::default());
    let s2 = sev.clone();
    let srv = script_server(config(1), move || {
        Script::new(s2.clone()).datagram(|c, d| {
            let mut back = d.clone();
            back.reverse();
            c.send_datagram(back.into()).unwrap();
        })
    });
    let cli = client_app(
        config(2),
        Box::new(Script::new(cev.clone()).made(|c, ()| {
            assert!(c.max_datagram_size().unwrap() >= 1000);
            c.send_datagram(bytes::Bytes::from_static(b"ping")).unwrap();
        })),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || {
        !cev.lock().unwrap().datagrams.is_empty()
    });
    assert_eq!(sev.lock().unwrap().datagrams, [b"ping".to_vec()]);
    assert_eq!(cev.lock().unwrap().datagrams, [b"gnip".to_vec()]);

    let off = QuicConfig {
        datagrams: false,
        ..config(1)
    };
    let result = Arc::new(std::sync::Mutex::new(None));
    let r = result.clone();
    let sev = SharedEvents::default();
    let s2 = sev.clone();
    let srv = script_server(off, move || Script::new(s2.clone()));
    let cli = client_app(
        config(2),
        Box::new(Script::new(SharedEvents::default()).made(move |c, ()| {
            *r.lock().unwrap() = Some((
                c.max_datagram_size(),
                c.send_datagram(bytes::Bytes::from_static(b"ping")),
            ));
        })),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || result.lock().unwrap().is_some());
    assert_eq!(
        *result.lock().unwrap(),
        Some((None, Err(StreamError::DatagramRejected)))
    );
}

#[test]
fn no_common_alpn_fails_the_handshake_and_no_app_for_it_closes_with_code_0x178() {
    // The TLS handshake itself finds no common protocol.
    let cev = SharedEvents::default();
    let srv = script_server(config(1), || Script::new(SharedEvents::default()));
    let cli = strata::quic::QuicClient::new(
        config(2),
        client_tls(&[b"other"]),
        "localhost",
        addr(SERVER),
        Box::new(Script::new(cev.clone())),
    )
    .unwrap();
    let (mut net, _, s) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || cev.lock().unwrap().lost.is_some());
    let lost = cev.lock().unwrap().lost.clone().unwrap();
    assert!(!cev.lock().unwrap().made);
    assert_eq!(
        lost.error::<QuicError>(),
        Some(&QuicError::NoApplicationProtocol),
        "{lost}"
    );
    assert_eq!(lost.kind(), Some(strata::Fault::PeerIncompatible));
    net.run(LIMIT);
    let _ = s;

    // The handshake agrees, but the server has no app for the protocol.
    let cev = SharedEvents::default();
    let srv = server(config(1), Arc::new(|_| None));
    let cli = client_app(config(2), Box::new(Script::new(cev.clone())));
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || cev.lock().unwrap().lost.is_some());
    let lost = cev.lock().unwrap().lost.clone().unwrap();
    assert_eq!(
        lost.error::<QuicError>().and_then(QuicError::code),
        Some(strata::quic::NO_APPLICATION_CODE),
        "{lost}"
    );
}

#[test]
fn a_waker_reaches_the_app_of_its_connection_and_app_deadlines_fire() {
    let cev = SharedEvents::default();
    let waker = Arc::new(std::sync::Mutex::new(None));
    let w = waker.clone();
    let srv = script_server(config(1), || Script::new(SharedEvents::default()));
    let mut script = Script::new(cev.clone()).made(move |c, ()| {
        *w.lock().unwrap() = Some(c.waker());
    });
    script.deadline = Some(strata::testing::epoch() + Duration::from_secs(3));
    let cli = client_app(config(2), Box::new(script));
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || waker.lock().unwrap().is_some());
    waker.lock().unwrap().as_ref().unwrap().wake();
    net.run_until(Duration::from_secs(5), |_| {
        let e = cev.lock().unwrap();
        e.wakes > 0 && e.deadlines > 0
    });
    let e = cev.lock().unwrap();
    assert_eq!((e.wakes, e.deadlines), (1, 1));
}

#[test]
fn a_handshake_nobody_answers_ends_at_the_handshake_timeout() {
    let cev = SharedEvents::default();
    let cfg = QuicConfig {
        handshake_timeout: Duration::from_secs(3),
        ..config(2)
    };
    let mut net = strata::testing::SimNet::new(3);
    net.set_tracing(false);
    net.add_node(
        addr(CLIENT),
        Box::new(client_app(cfg, Box::new(Script::new(cev.clone())))),
    );
    run_until(&mut net, LIMIT, || cev.lock().unwrap().lost.is_some());
    let lost = cev.lock().unwrap().lost.clone().unwrap();
    assert!(matches!(lost, Close::Timeout(Timeout::Handshake)), "{lost}");
    let at = net.elapsed();
    assert!(
        at >= Duration::from_secs(3) && at < Duration::from_secs(4),
        "{at:?}"
    );
}

/// The datagrams a side received, and why it ended.
type DgLog = Arc<std::sync::Mutex<(Vec<Vec<u8>>, Option<Close>)>>;

/// Sends ten datagrams when made, keeps the answers, closes at ten.
struct Pinger(DgLog);

impl strata::DatagramProtocol for Pinger {
    fn connection_made(&mut self, t: &mut dyn strata::DatagramTransport) {
        assert!(t.max_datagram_size() >= 1000);
        assert_eq!(t.layer_chain()[..2], ["quic-datagrams", "quic"]);
        for i in 0..10 {
            t.send(&strata::Transmit::connected(format!("ping {i}").as_bytes()));
        }
    }
    fn datagrams_received(
        &mut self,
        t: &mut dyn strata::DatagramTransport,
        b: &[strata::Datagram<'_>],
    ) {
        let mut g = self.0.lock().unwrap();
        g.0.extend(b.iter().map(|d| d.data.to_vec()));
        if g.0.len() == 10 {
            t.close();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().1 = Some(why.clone());
    }
}

/// Echoes every datagram.
struct DgEcho(DgLog);

impl strata::DatagramProtocol for DgEcho {
    fn datagrams_received(
        &mut self,
        t: &mut dyn strata::DatagramTransport,
        b: &[strata::Datagram<'_>],
    ) {
        for d in b {
            t.send(&strata::Transmit::connected(d.data));
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().1 = Some(why.clone());
    }
}

#[test]
fn datagram_frames_carry_a_datagram_protocol_end_to_end() {
    let client = DgLog::default();
    let server = DgLog::default();
    let s2 = server.clone();
    let srv = quic_support::server(
        config(1),
        Arc::new(move |_| {
            Some(
                Box::new(strata::quic::DatagramApp::new(Box::new(DgEcho(s2.clone()))))
                    as Box<dyn strata::quic::QuicApp>,
            )
        }),
    );
    let cli = client_app(
        config(2),
        Box::new(strata::quic::DatagramApp::new(Box::new(Pinger(
            client.clone(),
        )))),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || {
        client.lock().unwrap().1.is_some() && server.lock().unwrap().1.is_some()
    });
    let mut got = client.lock().unwrap().0.clone();
    got.sort();
    let want: Vec<Vec<u8>> = (0..10).map(|i| format!("ping {i}").into_bytes()).collect();
    assert_eq!(got, want);
    assert!(client.lock().unwrap().1.as_ref().unwrap().is_clean());
    assert!(server.lock().unwrap().1.as_ref().unwrap().is_clean());
}

#[test]
fn extreme_timer_values_do_not_panic() {
    let cev = SharedEvents::default();
    let huge = QuicConfig {
        idle_timeout: Duration::MAX,
        keep_alive: Some(Duration::MAX),
        handshake_timeout: Duration::MAX,
        ..config(2)
    };
    let srv = script_server(huge.clone(), || Script::new(SharedEvents::default()));
    let cli = client_app(huge, Box::new(Script::new(cev.clone())));
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, LIMIT, || cev.lock().unwrap().made);
    assert!(cev.lock().unwrap().made);
    net.run(Duration::from_secs(60));
    assert!(cev.lock().unwrap().lost.is_none());
}
