//! The simulated kernel's TCP user timeout: bytes that stay on the wire
//! unacknowledged (a long partition) end the connection with the close a
//! real kernel's `ETIMEDOUT` gives, and the peer learns of it as a reset
//! when it next sends; a reader that stops reading is not a timeout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::{Close, StreamFactory, StreamProtocol, StreamTransport, Timeout};
use strata_sim::{Fault, HostId, Link, Script, Sim};

mod common;
use common::{Firehose, Record};

#[derive(Default, Debug)]
struct Seen {
    got: usize,
    lost: Option<Close>,
    lost_at: Option<Duration>,
}
type Shared = Arc<Mutex<Seen>>;

impl Record for Seen {
    fn lost(&mut self, why: &Close) {
        self.lost = Some(why.clone());
    }
}

/// Counts what it reads; writes `late` once `after` has passed on its
/// clock, if given.
struct Sink {
    wake: Option<Instant>,
    after: Option<Duration>,
    seen: Shared,
}
impl StreamProtocol for Sink {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.wake = self.after.map(|d| t.now() + d);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.seen.lock().unwrap().got += d.len();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.wake
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.wake = None;
        t.write(b"late");
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

fn sink(after: Option<Duration>, seen: &Shared) -> StreamFactory {
    let seen = seen.clone();
    Arc::new(move || {
        Box::new(Sink {
            wake: None,
            after,
            seen: seen.clone(),
        }) as Box<dyn StreamProtocol>
    })
}

fn world(user_timeout: Duration) -> (Sim, HostId, HostId) {
    let mut sim = Sim::new(1);
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let link = Link::default()
        .latency(Duration::from_millis(5))
        .user_timeout(user_timeout);
    sim.link(c, s, link);
    (sim, c, s)
}

/// Runs until `seen` has a close, noting when (world time).
fn run_to_close(sim: &mut Sim, seen: &Shared, limit: Duration) {
    let watch = seen.clone();
    sim.run_until(limit, |sim| {
        let mut g = watch.lock().unwrap();
        if g.lost.is_some() && g.lost_at.is_none() {
            g.lost_at = Some(sim.elapsed());
        }
        g.lost.is_some()
    });
}

#[test]
fn bytes_unacknowledged_past_the_user_timeout_end_the_connection_and_the_peer_hears_a_reset() {
    let (mut sim, c, s) = world(Duration::from_secs(5));
    let server = Shared::default();
    sim.listen(
        s,
        "tcp://10.0.0.2:7",
        sink(Some(Duration::from_secs(25)), &server),
    )
    .unwrap();
    let client = Shared::default();
    let hose = Firehose {
        left: 100 << 20,
        seen: client.clone(),
    };
    sim.connect(c, "tcp://server:7", Box::new(hose)).unwrap();
    let script = Script::parse(
        &sim,
        "at 1s partition client server\nat 20s heal client server",
    );
    sim.script(&script.unwrap());
    run_to_close(&mut sim, &client, Duration::from_secs(60));
    let g = client.lock().unwrap();
    // What a real kernel's ETIMEDOUT gives through the tokio driver.
    let timed_out = Close::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    assert!(matches!(timed_out, Close::Timeout(Timeout::Io)));
    assert_eq!(
        g.lost.as_ref().map(Close::to_string),
        Some(timed_out.to_string())
    );
    // The oldest bytes held by the partition left just before 1 s.
    let at = g.lost_at.unwrap();
    assert!(
        at > Duration::from_millis(5900) && at <= Duration::from_secs(6),
        "closed at {at:?}"
    );
    drop(g);
    // After the heal, the server writes: the client's socket is gone, the
    // server hears a reset.
    let got_before = server.lock().unwrap().got;
    run_to_close(&mut sim, &server, Duration::from_secs(60));
    let g = server.lock().unwrap();
    assert!(matches!(g.lost, Some(Close::Reset)), "{:?}", g.lost);
    let at = g.lost_at.unwrap();
    assert!(at >= Duration::from_secs(25), "reset at {at:?}");
    // Nothing the timed-out side had on the wire arrived after the heal.
    assert_eq!(g.got, got_before);
}

#[test]
fn a_partition_shorter_than_the_user_timeout_loses_nothing() {
    let (mut sim, c, s) = world(Duration::from_secs(5));
    let server = Shared::default();
    sim.listen(s, "tcp://10.0.0.2:7", sink(None, &server))
        .unwrap();
    let client = Shared::default();
    let hose = Firehose {
        left: 4 << 20,
        seen: client.clone(),
    };
    sim.connect(c, "tcp://server:7", Box::new(hose)).unwrap();
    let script = Script::parse(
        &sim,
        "at 10ms partition client server\nat 4s heal client server",
    );
    sim.script(&script.unwrap());
    run_to_close(&mut sim, &server, Duration::from_secs(60));
    assert!(matches!(client.lock().unwrap().lost, Some(Close::Done)));
    assert_eq!(server.lock().unwrap().got, 4 << 20);
}

#[test]
fn a_reader_that_stops_reading_is_not_a_user_timeout() {
    // The window closes and stays closed for 20 s: the sender waits (a
    // real kernel's zero-window probes are answered), and nothing times
    // out at 5 s.
    let (mut sim, c, s) = world(Duration::from_secs(5));
    let server = Shared::default();
    sim.listen(s, "tcp://10.0.0.2:7", sink(None, &server))
        .unwrap();
    sim.apply(Fault::Stall(s));
    let client = Shared::default();
    let hose = Firehose {
        left: 4 << 20,
        seen: client.clone(),
    };
    sim.connect(c, "tcp://server:7", Box::new(hose)).unwrap();
    sim.run(Duration::from_secs(20));
    assert!(client.lock().unwrap().lost.is_none());
    sim.apply(Fault::Resume(s));
    run_to_close(&mut sim, &server, Duration::from_secs(60));
    assert!(matches!(client.lock().unwrap().lost, Some(Close::Done)));
    assert_eq!(server.lock().unwrap().got, 4 << 20);
}

#[test]
fn a_healed_partition_leaves_no_user_timeout_pending() {
    // The default timeout (924.6 s): after the heal, the world is idle at
    // once; no timer of the healed partition keeps it running.
    let mut sim = Sim::new(1);
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    sim.link(c, s, Link::default().latency(Duration::from_millis(5)));
    let server = Shared::default();
    sim.listen(s, "tcp://10.0.0.2:7", sink(None, &server))
        .unwrap();
    /// Writes once, then stays open and quiet.
    struct Once;
    impl StreamProtocol for Once {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(&[1; 100_000]);
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    }
    sim.connect(c, "tcp://server:7", Box::new(Once)).unwrap();
    // Partitioned as the connection is made, with the bytes on the wire.
    let script = Script::parse(
        &sim,
        "at 11ms partition client server\nat 2s heal client server",
    );
    sim.script(&script.unwrap());
    assert_eq!(
        sim.run(Duration::from_secs(3600)),
        strata::testing::RunOutcome::Idle
    );
    assert!(
        sim.elapsed() < Duration::from_secs(3),
        "{:?}",
        sim.elapsed()
    );
    assert_eq!(server.lock().unwrap().got, 100_000);
    assert_eq!(sim.open_connections(), 1);
}

#[test]
fn a_user_timeout_shorter_than_the_latency_still_fires() {
    let mut sim = Sim::new(1);
    let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    let link = Link::default()
        .latency(Duration::from_millis(50))
        .user_timeout(Duration::from_millis(1));
    sim.link(c, s, link);
    let server = Shared::default();
    sim.listen(s, "tcp://10.0.0.2:7", sink(None, &server))
        .unwrap();
    let client = Shared::default();
    let hose = Firehose {
        left: 1 << 20,
        seen: client.clone(),
    };
    sim.connect(c, "tcp://server:7", Box::new(hose)).unwrap();
    let script = Script::parse(&sim, "at 120ms partition client server");
    sim.script(&script.unwrap());
    run_to_close(&mut sim, &client, Duration::from_secs(10));
    let g = client.lock().unwrap();
    assert!(
        matches!(g.lost, Some(Close::Timeout(Timeout::Io))),
        "{:?}",
        g.lost
    );
    assert!(
        g.lost_at.unwrap() < Duration::from_millis(200),
        "{:?}",
        g.lost_at
    );
}
