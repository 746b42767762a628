//! The QUIC layer's streams in memory (issue 11, points 1 and 5): a
//! `QuicClient` and a `QuicServer` over a simulated network, each stream a
//! `quic-stream` transport for a stream protocol.

mod quic_support;

use std::sync::Arc;
use std::time::Duration;

use quic_support::*;
use strata::StreamProtocol;

#[test]
fn a_client_stream_is_echoed_by_the_server_and_both_close_cleanly() {
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let srv = server(config(1), echo_apps(&server_log));
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: b"hello over quic".to_vec(),
            log: client_log.clone(),
        }),
    );
    let (mut net, c, _s) = pair(7, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some() && server_log.lock().unwrap().lost.is_some()
    });
    let (cl, sl) = (client_log.lock().unwrap(), server_log.lock().unwrap());
    assert_eq!(sl.data, b"hello over quic");
    assert!(sl.eof);
    assert_eq!(cl.data, b"hello over quic");
    assert!(cl.eof);
    assert!(cl.lost.as_ref().unwrap().is_clean(), "{:?}", cl.lost);
    assert!(sl.lost.as_ref().unwrap().is_clean(), "{:?}", sl.lost);
    assert_eq!(cl.chain[..2], ["quic-stream", "quic"]);
    assert_eq!(cl.stream_id, Some(0));
    assert_eq!(sl.stream_id, Some(0));
    drop((cl, sl));
    // The client closes its connection once its one stream is done, and its
    // datagram stack finishes after the drain.
    net.run(Duration::from_secs(10));
    assert!(net.stack(c).unwrap().finished().is_some());
}

/// Answers only after the peer's FIN: the half-closed stream still carries
/// the reply the other way.
struct ReplyAtEof(Vec<u8>);

impl StreamProtocol for ReplyAtEof {
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, data: &[u8]) {
        self.0.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
        assert_eq!(t.get::<strata::HalfClose>(), Some(&strata::HalfClose(true)));
        let mut r = std::mem::take(&mut self.0);
        r.reverse();
        t.write(&r);
        t.close();
    }
}

#[test]
fn a_half_closed_stream_still_carries_the_reply() {
    let client_log = SharedLog::default();
    let srv = server(
        config(1),
        per_stream(Arc::new(|| {
            Box::new(ReplyAtEof(Vec::new())) as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: b"abcdef".to_vec(),
            log: client_log.clone(),
        }),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some()
    });
    let l = client_log.lock().unwrap();
    assert_eq!(l.data, b"fedcba");
    assert!(l.eof && l.lost.as_ref().unwrap().is_clean(), "{:?}", l.lost);
}

/// Opens `n` bidirectional streams of its own (each a `Say`), and runs
/// `PerStream` (echo) for the peer's.
struct Opener {
    inner: strata::quic::PerStream,
    to_open: Vec<Box<dyn StreamProtocol>>,
}

impl Opener {
    fn open(&mut self, c: &mut dyn strata::quic::QuicConnection) {
        while let Some(p) = self.to_open.pop() {
            if let Err(p) = self.inner.open_stream(c, strata::quic::Dir::Bi, p) {
                self.to_open.push(p);
                break;
            }
        }
    }
}

impl strata::quic::QuicApp for Opener {
    fn connection_made(&mut self, c: &mut dyn strata::quic::QuicConnection) {
        self.inner.connection_made(c);
        self.open(c);
    }
    fn stream_opened(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
    ) {
        self.inner.stream_opened(c, id)
    }
    fn stream_data(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
        d: &[u8],
    ) {
        self.inner.stream_data(c, id, d)
    }
    fn stream_finished(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
    ) {
        self.inner.stream_finished(c, id)
    }
    fn stream_reset(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
        code: u64,
    ) {
        self.inner.stream_reset(c, id, code)
    }
    fn stream_stopped(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
        code: u64,
    ) {
        self.inner.stream_stopped(c, id, code)
    }
    fn stream_writable(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        id: strata::quic::StreamId,
    ) {
        self.inner.stream_writable(c, id)
    }
    fn streams_available(
        &mut self,
        c: &mut dyn strata::quic::QuicConnection,
        _: strata::quic::Dir,
    ) {
        self.open(c);
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        self.inner.connection_lost(why)
    }
}

#[test]
fn many_streams_opened_by_both_sides_over_a_low_stream_limit_all_echo() {
    const N: usize = 40;
    let cfg = |seed| strata::quic::QuicConfig {
        max_bidi_streams: 4,
        ..config(seed)
    };
    let logs = |n| (0..n).map(|_| SharedLog::default()).collect::<Vec<_>>();
    let (client_logs, server_logs) = (logs(N), logs(N));
    let says = |logs: &[SharedLog], who: &str| -> Vec<Box<dyn StreamProtocol>> {
        logs.iter()
            .enumerate()
            .map(|(i, l)| {
                Box::new(Say {
                    msg: format!("{who} stream {i} ").repeat(50).into_bytes(),
                    log: l.clone(),
                }) as Box<dyn StreamProtocol>
            })
            .collect()
    };
    let echo = || -> strata::StreamFactory {
        Arc::new(|| Box::new(Echo(SharedLog::default())) as Box<dyn StreamProtocol>)
    };
    let server_says = std::sync::Mutex::new(Some(says(&server_logs, "server")));
    let srv = server(
        cfg(1),
        Arc::new(move |_| {
            Some(Box::new(Opener {
                inner: strata::quic::PerStream::new(echo()),
                to_open: server_says.lock().unwrap().take().unwrap_or_default(),
            }) as Box<dyn strata::quic::QuicApp>)
        }),
    );
    let cli = client_app(
        cfg(2),
        Box::new(Opener {
            inner: strata::quic::PerStream::new(echo()),
            to_open: says(&client_logs, "client"),
        }),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    let all_done = || {
        client_logs
            .iter()
            .chain(&server_logs)
            .all(|l| l.lock().unwrap().lost.is_some())
    };
    let outcome = run_until(&mut net, Duration::from_secs(30), all_done);
    assert_eq!(outcome, strata::testing::RunOutcome::Reached);
    let mut ids = std::collections::BTreeSet::new();
    for (who, logs) in [("client", &client_logs), ("server", &server_logs)] {
        for (i, l) in logs.iter().enumerate() {
            let l = l.lock().unwrap();
            let want = format!("{who} stream {i} ").repeat(50).into_bytes();
            assert_eq!(l.data, want, "{who} {i}");
            assert!(
                l.lost.as_ref().unwrap().is_clean(),
                "{who} {i}: {:?}",
                l.lost
            );
            assert!(ids.insert(l.stream_id.unwrap()));
        }
    }
    // Client-initiated bidi ids are 0 mod 4, the server's 1 mod 4.
    assert_eq!(ids.iter().filter(|i| *i % 4 == 0).count(), N);
    assert_eq!(ids.iter().filter(|i| *i % 4 == 1).count(), N);
}

/// Aborts its stream with `code` as soon as it is made.
struct AbortWith(u64, SharedLog);

impl StreamProtocol for AbortWith {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        t.write(b"doomed");
        let why = strata::Close::aborted(
            "test",
            strata::AbortReason::layer(strata::quic::QuicError::StreamAborted(self.0)),
        );
        t.abort(why);
    }
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    fn connection_lost(&mut self, why: &strata::Close) {
        self.1.lock().unwrap().lost = Some(why.clone());
    }
}

/// Reads, and at the first bytes stops the peer with STOP_SENDING `code`
/// through the app below (a `PerStream` aborting: RESET + STOP_SENDING).
struct StopAfterFirst(u64);

impl StreamProtocol for StopAfterFirst {
    fn data_received(&mut self, t: &mut dyn strata::StreamTransport, _: &[u8]) {
        let why = strata::Close::aborted(
            "test",
            strata::AbortReason::layer(strata::quic::QuicError::StreamAborted(self.0)),
        );
        t.abort(why);
    }
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
}

#[test]
fn an_abort_reaches_the_peer_protocol_as_a_typed_reset_or_stop_with_its_code() {
    use strata::quic::QuicError;
    // The client aborts: the server's protocol sees code 42.
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let srv = server(config(1), echo_apps(&server_log));
    let cli = client_stream(config(2), Box::new(AbortWith(42, client_log.clone())));
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        server_log.lock().unwrap().lost.is_some()
    });
    // RESET_STREAM and STOP_SENDING travel together: the protocol hears
    // whichever the layer reads first, each with the code.
    let lost = server_log.lock().unwrap().lost.clone().unwrap();
    assert!(
        matches!(
            lost.error::<QuicError>(),
            Some(QuicError::StreamReset(42) | QuicError::StreamStopped(42))
        ),
        "{lost}"
    );
    assert_eq!(lost.kind(), Some(strata::Fault::PeerAborted));
    let mine = client_log.lock().unwrap().lost.clone().unwrap();
    assert_eq!(
        mine.error::<QuicError>(),
        Some(&QuicError::StreamAborted(42))
    );

    // The server aborts while the client is still sending: the client's
    // protocol (a bulk writer, not yet done) sees STOP_SENDING 7 or
    // RESET_STREAM 7, whichever frame it reads first: both carry the code.
    let out = Shared::default();
    let srv = server(
        config(1),
        per_stream(Arc::new(|| {
            Box::new(StopAfterFirst(7)) as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(config(2), Box::new(Bulk::new(4 << 20, 1, 2, out.clone())));
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        out.lock().unwrap().lost.is_some()
    });
    let o = out.lock().unwrap();
    let lost = o.lost.clone().unwrap();
    assert!(
        lost == "aborted by quic-stream: peer stopped the stream with code 7"
            || lost == "aborted by quic-stream: peer reset the stream with code 7",
        "{lost}"
    );
    assert!(!o.sent_all);
}

/// Pauses reading when made; resumes at a deadline 2 s later.
struct SlowReader {
    resume_at: Option<std::time::Instant>,
    inner: Bulk,
    got_while_paused: Shared,
}

impl StreamProtocol for SlowReader {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        t.pause_reading();
        self.resume_at = Some(t.now() + Duration::from_secs(2));
        self.inner.connection_made(t);
    }
    fn data_received(&mut self, t: &mut dyn strata::StreamTransport, data: &[u8]) {
        if self.resume_at.is_some() {
            self.got_while_paused.lock().unwrap().received += data.len() as u64;
        }
        self.inner.data_received(t, data);
    }
    fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
        self.inner.eof_received(t);
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        self.inner.connection_lost(why);
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.resume_at
    }
    fn on_deadline(&mut self, t: &mut dyn strata::StreamTransport) {
        if self.resume_at.is_some_and(|d| d <= t.now()) {
            self.resume_at = None;
            t.resume_reading();
        }
    }
}

#[test]
fn a_reader_that_pauses_stops_the_writer_through_pause_writing_and_memory_stays_bounded() {
    const TOTAL: u64 = 8 << 20;
    let cfg = |seed| strata::quic::QuicConfig {
        stream_window: 256 << 10,
        connection_window: 512 << 10,
        high_water: 64 << 10,
        low_water: 16 << 10,
        ..config(seed)
    };
    let client_out = Shared::default();
    let server_out = Shared::default();
    let while_paused = Shared::default();
    let (so, wp) = (server_out.clone(), while_paused.clone());
    let srv = server(
        cfg(1),
        per_stream(Arc::new(move || {
            Box::new(SlowReader {
                resume_at: None,
                inner: Bulk::new(0, 2, 1, so.clone()),
                got_while_paused: wp.clone(),
            }) as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(cfg(2), Box::new(Bulk::new(TOTAL, 1, 2, client_out.clone())));
    let (mut net, c, _) = pair(3, lan(), srv, cli);
    // While the server does not read, the client is held by flow control:
    // its protocol was paused, and what its stack holds stays bounded.
    net.run_until(Duration::from_millis(1500), |_| false);
    {
        let co = client_out.lock().unwrap();
        assert!(co.pauses >= 1, "{co:?}");
        assert!(!co.sent_all);
    }
    assert_eq!(while_paused.lock().unwrap().received, 0);
    let held = net.stack(c).unwrap().transmits().count();
    assert!(held < 64, "{held}");
    // Then it reads: everything arrives, in order.
    run_until(&mut net, Duration::from_secs(60), || {
        server_out.lock().unwrap().eof
    });
    let so = server_out.lock().unwrap();
    assert_eq!((so.received, so.mismatch), (TOTAL, None));
}

/// Inserts TLS below itself as soon as its stream is made (a swap at the
/// QUIC stream's slot), then echoes (server) or says `msg` (client).
struct StartTls {
    tls: Option<strata::tls::TlsConfig>,
    msg: Option<Vec<u8>>,
    log: SharedLog,
}

impl StreamProtocol for StartTls {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        if let Some(tls) = self.tls.take() {
            t.request_swap(strata::tls::starttls(tls), Vec::new())
                .unwrap();
            // Written after the request: goes through the new TLS layer.
            if let Some(m) = self.msg.take() {
                t.write(&m);
                t.write_eof();
            }
        }
    }
    fn data_received(&mut self, t: &mut dyn strata::StreamTransport, data: &[u8]) {
        let mut l = self.log.lock().unwrap();
        l.data.extend_from_slice(data);
        l.chain = t.layer_chain();
        drop(l);
        if t.get::<strata::tls::TlsInfo>().is_none() {
            return t.abort(strata::Close::Reset);
        }
        if self.msg.is_none() && self.log.lock().unwrap().stream_id.is_none() {
            t.write(data); // the server echoes
        }
    }
    fn eof_received(&mut self, t: &mut dyn strata::StreamTransport) {
        let mut l = self.log.lock().unwrap();
        l.eof = true;
        l.chain = t.layer_chain();
        drop(l);
        t.close();
    }
    fn connection_lost(&mut self, why: &strata::Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
}

#[test]
fn a_stream_protocol_can_insert_tls_below_itself_on_a_quic_stream() {
    let id = identity();
    let server_tls = strata::tls::ServerTls::new(id).build().unwrap();
    let client_tls = strata::tls::ClientTls::new("localhost")
        .unwrap()
        .insecure()
        .build()
        .unwrap();
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    // The client's log has a stream id set only to tell the roles apart.
    client_log.lock().unwrap().stream_id = Some(0);
    let sl = server_log.clone();
    let srv = server(
        config(1),
        per_stream(Arc::new(move || {
            Box::new(StartTls {
                tls: Some(server_tls.clone()),
                msg: None,
                log: sl.clone(),
            }) as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(
        config(2),
        Box::new(StartTls {
            tls: Some(client_tls),
            msg: Some(b"secret over tls over quic".to_vec()),
            log: client_log.clone(),
        }),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some() && server_log.lock().unwrap().lost.is_some()
    });
    let (c, s) = (client_log.lock().unwrap(), server_log.lock().unwrap());
    assert_eq!(s.data, b"secret over tls over quic");
    assert_eq!(c.data, b"secret over tls over quic");
    assert_eq!(s.chain[..3], ["tls", "quic-stream", "quic"]);
    assert!(c.lost.as_ref().unwrap().is_clean(), "{:?}", c.lost);
}

/// Hands its waker out when made; writes "woken" and FIN when woken.
struct Sleeper(Arc<std::sync::Mutex<Option<strata::Wake>>>);

impl StreamProtocol for Sleeper {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        *self.0.lock().unwrap() = Some(t.waker());
    }
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    fn on_wake(&mut self, t: &mut dyn strata::StreamTransport, route: strata::WakeRoute<'_>) {
        assert!(route.is_here());
        t.write(b"woken");
        t.close();
    }
}

#[test]
fn a_waker_from_a_quic_stream_reaches_that_streams_protocol_from_another_thread() {
    let waker = Arc::new(std::sync::Mutex::new(None));
    let w = waker.clone();
    let srv = server(
        config(1),
        per_stream(Arc::new(move || {
            Box::new(Sleeper(w.clone())) as Box<dyn StreamProtocol>
        })),
    );
    let client_log = SharedLog::default();
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: b"wake me".to_vec(),
            log: client_log.clone(),
        }),
    );
    let (mut net, _, _) = pair(3, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        waker.lock().unwrap().is_some()
    });
    net.run(Duration::from_secs(1));
    assert!(client_log.lock().unwrap().data.is_empty());
    let wk = waker.lock().unwrap().clone().unwrap();
    std::thread::spawn(move || wk.wake()).join().unwrap();
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some()
    });
    let l = client_log.lock().unwrap();
    assert_eq!(l.data, b"woken");
    assert!(l.lost.as_ref().unwrap().is_clean(), "{:?}", l.lost);
}

#[test]
fn a_server_shutdown_closes_every_connection_with_code_0() {
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let srv = server(config(1), echo_apps(&server_log));
    // Says "hi" and never finishes: only the shutdown ends it.
    let cli = client_stream(config(2), Box::new(Hold(client_log.clone())));
    let (mut net, _, s) = pair(3, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        !client_log.lock().unwrap().data.is_empty()
    });
    let now = net.now();
    net.stack_mut(s).unwrap().handle_shutdown(now);
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some()
    });
    // The socket closes once its last connection has drained (RFC 9000
    // §10.2: three PTOs after the close), not before.
    net.run_until(Duration::from_secs(10), |n| {
        n.stack(s).is_some_and(|st| st.finished().is_some())
    });
    assert!(net.stack(s).unwrap().finished().is_some());
    // The server's stream was cut by a clean close: typed, not clean.
    let lost = client_log.lock().unwrap().lost.clone().unwrap();
    assert_eq!(
        lost.error::<strata::quic::StreamError>(),
        Some(&strata::quic::StreamError::ConnectionClosed),
        "{lost}"
    );
    assert!(server_log.lock().unwrap().lost.is_some());
}

/// Writes "hi" and keeps its stream open.
struct Hold(SharedLog);

impl StreamProtocol for Hold {
    fn connection_made(&mut self, t: &mut dyn strata::StreamTransport) {
        t.write(b"hi");
    }
    fn data_received(&mut self, _: &mut dyn strata::StreamTransport, data: &[u8]) {
        self.0.lock().unwrap().data.extend_from_slice(data);
    }
    fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    fn connection_lost(&mut self, why: &strata::Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

#[test]
fn a_socket_queue_over_its_high_water_mark_holds_transmits_until_it_drains() {
    const UP: u64 = 2 << 20;
    // A datagram stack that pauses at 4 KiB queued: every GSO batch of a
    // bulk sender crosses it, so the layer waits for resume_writing.
    let stack = strata::StackConfig {
        high_water: 4 * 1024,
        low_water: 1024,
        ..strata::StackConfig::default()
    };
    let mut net = strata::testing::SimNet::with_stack_config(9, stack);
    net.set_tracing(false);
    let server_out = Shared::default();
    let client_out = Shared::default();
    let so = server_out.clone();
    let srv = server(
        config(1),
        per_stream(Arc::new(move || {
            Box::new(Bulk::new(0, 2, 1, so.clone())) as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(config(2), Box::new(Bulk::new(UP, 1, 2, client_out.clone())));
    let s = net.add_node(addr(SERVER), Box::new(srv));
    let c = net.add_node(addr(CLIENT), Box::new(cli));
    net.link_both(c, s, lan());
    run_until(&mut net, Duration::from_secs(60), || {
        server_out.lock().unwrap().eof && client_out.lock().unwrap().lost.is_some()
    });
    let so = server_out.lock().unwrap();
    assert_eq!((so.received, so.mismatch, so.eof), (UP, None, true));
    assert!(client_out.lock().unwrap().clean);
    assert_eq!(
        net.stack(c).unwrap().dropped(),
        0,
        "nothing sent over the budget"
    );
}
