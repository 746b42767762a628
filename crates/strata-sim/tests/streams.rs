//! The simulated TCP connections: timing from the link model, no byte lost
//! across partitions, refusals, restarts, stalled readers, skewed clocks,
//! and the same trace from the same seed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::testing::RunOutcome;
use strata::{
    AbortReason, Close, StackConfig, StreamFactory, StreamProtocol, StreamTransport, Timeout,
};
use strata_sim::{Fault, HostId, Link, Script, Sim};

mod common;
use common::{Firehose, Record};

/// What a client saw.
#[derive(Default, Debug)]
struct Seen {
    made: bool,
    data: Vec<u8>,
    eof: bool,
    lost: Option<String>,
    paused: usize,
}

type Shared = Arc<Mutex<Seen>>;

/// Sends `out` (then EOF if `eof`), records everything.
struct Client {
    out: Vec<u8>,
    eof: bool,
    seen: Shared,
}

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().made = true;
        t.write(&self.out);
        if self.eof {
            t.write_eof();
        }
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.seen.lock().unwrap().data.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.to_string());
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().paused += 1;
    }
}

struct Echo;
impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

impl Record for Seen {
    fn lost(&mut self, why: &Close) {
        self.lost = Some(why.to_string());
    }
    fn paused(&mut self) {
        self.paused += 1;
    }
}

fn echo() -> StreamFactory {
    Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>)
}

fn world(seed: u64, link: Link) -> (Sim, HostId, HostId) {
    let mut sim = Sim::new(seed);
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    sim.link(c, s, link);
    (sim, c, s)
}

fn client(out: &[u8], eof: bool) -> (Box<Client>, Shared) {
    let seen = Shared::default();
    (
        Box::new(Client {
            out: out.to_vec(),
            eof,
            seen: seen.clone(),
        }),
        seen,
    )
}

#[test]
fn an_echo_takes_the_round_trips_and_the_bandwidth_the_link_has() {
    // 10 ms each way, 8 Mbit/s: 100 kB take 100 ms on the wire each way.
    let link = Link::default()
        .latency(Duration::from_millis(10))
        .bandwidth_bps(8_000_000);
    let (mut sim, c, s) = world(1, link);
    sim.listen(s, "tcp://10.0.0.2:7", echo()).unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (p, seen) = client(&data, true);
    sim.connect(c, "tcp://server:7", p).unwrap();
    assert_eq!(sim.run(Duration::from_secs(10)), RunOutcome::Idle);
    let seen = seen.lock().unwrap();
    assert!(seen.eof);
    assert_eq!(seen.data, data);
    // Connect (one round trip: 20 ms), then 100 ms on the wire out, the
    // echo of the first 64 KiB segment starting when it arrived (95.5 ms)
    // and 100 ms on the wire back, plus the last latency: 205.5 ms.
    let t = sim.elapsed();
    assert!(t >= Duration::from_millis(205), "{t:?}");
    assert!(t <= Duration::from_millis(206), "{t:?}");
}

#[test]
fn a_partition_delays_bytes_and_loses_none() {
    let (mut sim, c, s) = world(2, Link::default().latency(Duration::from_millis(5)));
    sim.listen(s, "tcp://10.0.0.2:7", echo()).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let (p, seen) = client(&data, true);
    sim.connect(c, "tcp://server:7", p).unwrap();
    let script = Script::parse(
        &sim,
        "at 20ms partition client server\nat 3s heal client server\n\
         at 3100ms partition client server\nat 4s heal client server",
    )
    .unwrap();
    sim.script(&script);
    assert_eq!(sim.run(Duration::from_secs(30)), RunOutcome::Idle);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.data.len(), data.len());
    assert!(seen.data == data, "bytes reordered or changed");
    assert!(
        seen.lost.as_deref() == Some("closed cleanly"),
        "{:?}",
        seen.lost
    );
    assert!(sim.elapsed() > Duration::from_secs(4));
}

#[test]
fn a_connect_to_a_port_nobody_listens_on_is_refused() {
    let (mut sim, c, _s) = world(3, Link::default());
    let (p, seen) = client(b"x", true);
    sim.connect(c, "tcp://server:81", p).unwrap();
    sim.run(Duration::from_secs(1));
    let seen = seen.lock().unwrap();
    assert!(!seen.made);
    assert_eq!(seen.lost.as_deref(), Some("I/O error: connection refused"));
}

#[test]
fn a_connect_across_a_partition_times_out() {
    let (mut sim, c, s) = world(4, Link::default());
    sim.listen(s, "tcp://10.0.0.2:7", echo()).unwrap();
    sim.apply(Fault::Partition(c, s));
    let (p, seen) = client(b"x", true);
    sim.connect(c, "tcp://server:7", p).unwrap();
    sim.run(Duration::from_secs(60));
    assert_eq!(
        seen.lock().unwrap().lost.as_deref(),
        Some("connect timed out")
    );
    assert_eq!(sim.elapsed(), strata_sim::DEFAULT_CONNECT_TIMEOUT);
}

#[test]
fn a_restarted_host_resets_old_connections_and_accepts_new_ones() {
    let (mut sim, c, s) = world(5, Link::default().latency(Duration::from_millis(2)));
    sim.on_boot(s, |sim, h| {
        sim.listen(h, "tcp://0.0.0.0:7", echo()).unwrap();
    });
    // A client that says one thing now and one thing after a second.
    struct Twice(Shared, Option<std::time::Instant>);
    impl StreamProtocol for Twice {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(b"one");
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
            self.0.lock().unwrap().data.extend_from_slice(d);
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close();
        }
        fn next_deadline(&self) -> Option<std::time::Instant> {
            self.1
        }
        fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
            self.1 = None;
            t.write(b"two");
        }
        fn connection_lost(&mut self, why: &Close) {
            self.0.lock().unwrap().lost = Some(why.to_string());
        }
    }
    let seen = Shared::default();
    // It says "two" at 500 ms: after the restart below, while the host is down.
    let at = sim.now() + Duration::from_millis(500);
    sim.connect(c, "tcp://server:7", Box::new(Twice(seen.clone(), Some(at))))
        .unwrap();
    sim.run(Duration::from_millis(100));
    assert_eq!(seen.lock().unwrap().data, b"one");
    sim.apply(Fault::Restart {
        host: s,
        down: Duration::from_millis(500),
    });
    // While it is down, nothing answers: the old connection is silent.
    sim.run(Duration::from_millis(100));
    assert!(seen.lock().unwrap().lost.is_none());
    // The client speaks (at 500 ms): the host, down or rebooted, has no
    // such socket and answers with a reset.
    sim.run(Duration::from_secs(2));
    assert_eq!(seen.lock().unwrap().lost.as_deref(), Some("reset by peer"));
    // And it serves again.
    let (p, seen2) = client(b"again", true);
    sim.connect(c, "tcp://server:7", p).unwrap();
    sim.run(Duration::from_secs(2));
    assert_eq!(seen2.lock().unwrap().data, b"again");
}

#[test]
fn a_reader_that_stalls_stops_its_sender_within_the_window_and_buffers() {
    let link = Link::default()
        .latency(Duration::from_millis(1))
        .window(64 * 1024)
        .send_buffer(32 * 1024);
    let (mut sim, c, s) = world(6, link);
    let cfg = StackConfig {
        stall_timeout: Duration::from_secs(5),
        ..StackConfig::default()
    };
    sim.set_stack_config(cfg);
    let hose_seen = Shared::default();
    let hs = hose_seen.clone();
    let f: StreamFactory = Arc::new(move || {
        Box::new(Firehose {
            left: 50 << 20,
            seen: hs.clone(),
        }) as Box<dyn StreamProtocol>
    });
    sim.listen(s, "tcp://10.0.0.2:9", f).unwrap();
    let (p, seen) = client(b"", false);
    let conn = sim.connect(c, "tcp://server:9", p).unwrap().conn().unwrap();
    sim.run(Duration::from_millis(50));
    sim.apply(Fault::Stall(c));
    sim.run(Duration::from_millis(500));
    let got = seen.lock().unwrap().data.len();
    // Held by the kernel: at most the window (in flight and unread) and the
    // send buffer; the server's stack holds at most its high-water mark and
    // a write.
    assert!(
        sim.kernel_bytes(conn) <= 64 * 1024 + 32 * 1024,
        "{}",
        sim.kernel_bytes(conn)
    );
    assert!(hose_seen.lock().unwrap().paused >= 1);
    sim.run(Duration::from_millis(500));
    assert_eq!(
        seen.lock().unwrap().data.len(),
        got,
        "a stalled reader read"
    );
    // The server sheds the stalled peer at its stall timeout.
    sim.run(Duration::from_secs(10));
    assert_eq!(
        hose_seen.lock().unwrap().lost.as_deref(),
        Some(Close::Timeout(Timeout::Stall).to_string().as_str())
    );
    assert_eq!(seen.lock().unwrap().lost.as_deref(), Some("reset by peer"));
    let _ = AbortReason::PeerAborted;
}

#[test]
fn a_skewed_clock_fires_its_host_timers_on_its_own_time() {
    // The server's idle timer is 10 s of its clock; its clock runs 4 s
    // ahead from the start, so it fires at world time 10 s all the same
    // (skew moves the clock, not its rate) ... and a skew applied mid-run
    // moves a pending timer: set at +4 s after 2 s, it fires 4 s early.
    struct IdleProto {
        at: Option<std::time::Instant>,
        seen: Shared,
    }
    impl StreamProtocol for IdleProto {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            self.at = Some(t.now() + Duration::from_secs(10));
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close();
        }
        fn next_deadline(&self) -> Option<std::time::Instant> {
            self.at
        }
        fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
            self.at = None;
            t.abort(Close::Timeout(Timeout::Idle));
        }
        fn connection_lost(&mut self, why: &Close) {
            self.seen.lock().unwrap().lost = Some(why.to_string());
        }
    }
    let (mut sim, c, s) = world(7, Link::default());
    let seen = Shared::default();
    let sn = seen.clone();
    let f: StreamFactory = Arc::new(move || {
        Box::new(IdleProto {
            at: None,
            seen: sn.clone(),
        }) as Box<dyn StreamProtocol>
    });
    sim.listen(s, "tcp://10.0.0.2:9", f).unwrap();
    let (p, _) = client(b"", false);
    sim.connect(c, "tcp://server:9", p).unwrap();
    sim.run(Duration::from_secs(2));
    sim.script(&Script::parse(&sim, "at 0 skew server +4s").unwrap());
    sim.run_until(Duration::from_secs(20), |_| {
        seen.lock().unwrap().lost.is_some()
    });
    assert_eq!(
        seen.lock().unwrap().lost.as_deref(),
        Some("idle timer timed out")
    );
    let t = sim.elapsed();
    assert!(
        t >= Duration::from_millis(6000) && t < Duration::from_millis(6100),
        "{t:?}"
    );
}

/// One run of a busy scenario: three clients, a partition, a restart.
fn busy(seed: u64) -> (u64, String) {
    let link = Link::default()
        .latency(Duration::from_millis(3))
        .bandwidth_bps(50_000_000);
    let (mut sim, c, s) = world(seed, link);
    sim.on_boot(s, |sim, h| {
        sim.listen(h, "tcp://0.0.0.0:7", echo()).unwrap();
    });
    for i in 0..3u8 {
        let (p, _) = client(&vec![i; 200_000], true);
        sim.connect(c, "tcp://server:7", p).unwrap();
    }
    let script = Script::parse(
        &sim,
        "at 10ms partition client server\nat 300ms heal client server\nat 2s restart server for 100ms",
    )
    .unwrap();
    sim.script(&script);
    sim.run(Duration::from_secs(5));
    (sim.trace_digest(), sim.trace_text())
}

#[test]
fn the_same_seed_gives_the_same_trace_byte_for_byte() {
    let (d1, t1) = busy(11);
    let (d2, t2) = busy(11);
    assert_eq!(d1, d2);
    assert!(t1 == t2, "traces differ");
    assert!(t1.lines().count() > 50, "{t1}");
}
