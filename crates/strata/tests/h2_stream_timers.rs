//! The HTTP/2 connection's per-stream deadlines live in an ordered queue:
//! with many streams they fire in deadline order, a stream that is gone
//! never fires, and the connection's next deadline is the queue's first.
//! Also: the settle step's bound on rounds leaves no work stranded.

mod h2_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use h2_support::*;
use strata::http::h2::frame::{self, setting, ErrorCode};
use strata::http::h2::{H2Config, StreamId};
use strata::{StackConfig, StreamProtocol, StreamTransport};

const MS: Duration = Duration::from_millis(1);

type Fired = Arc<Mutex<Vec<u32>>>;

/// Sets one deadline, `delay` after it starts; records its stream id when
/// the deadline fires.
struct Alarm {
    delay: Duration,
    at: Option<Instant>,
    fired: Fired,
    /// Answers and closes once the request is in, before its deadline.
    close_at_eof: bool,
}

impl StreamProtocol for Alarm {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.at = Some(t.now() + self.delay);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if self.close_at_eof {
            t.write(b"done");
            t.close();
        }
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.at
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.at.is_some_and(|at| at <= t.now()) {
            self.at = None;
            let id = (t as &dyn StreamTransport)
                .get::<StreamId>()
                .map_or(0, |s| s.0);
            self.fired.lock().unwrap().push(id);
        }
    }
}

#[test]
fn many_streams_deadlines_fire_in_order_and_gone_streams_never() {
    let fired = Fired::default();
    let f2 = fired.clone();
    // The request path is the delay in milliseconds; `?close`: the stream
    // ends at once, its deadline still pending.
    let svc = service(move |p| {
        let ms: u64 = p.uri.path()[1..].parse().unwrap_or(0);
        Box::new(Alarm {
            delay: Duration::from_millis(ms),
            at: None,
            fired: f2.clone(),
            close_at_eof: p.uri.query() == Some("close"),
        }) as Box<dyn StreamProtocol>
    });
    let cfg = H2Config {
        max_concurrent_streams: 1000,
        max_resets: 1000,
        ..H2Config::default()
    };
    let mut p = Raw::server(svc, cfg);
    p.handshake(&[]);
    let n = 200u32;
    // Stream 2k+1 waits (n - k) * 10 ms + (k % 7) ms: later streams first,
    // and not in id order either.
    let delay = |k: u32| (n - k) * 10 + k % 7;
    // Every fifth stream from the second on closes itself at once.
    let closes = |k: u32| k % 5 == 1;
    for k in 0..n {
        let q = if closes(k) { "?close" } else { "" };
        p.get(2 * k + 1, &format!("/{}{q}", delay(k)));
    }
    let closed = (0..n).filter(|&k| closes(k)).count();
    assert_eq!(p.open_streams(), n as usize - closed);
    // Every fifth stream is reset by the peer (the earliest one among
    // them): its deadline must never fire, nor wake the connection.
    let resets = |k: u32| k % 5 == 4;
    for k in (0..n).filter(|&k| resets(k)) {
        p.rst(2 * k + 1, ErrorCode::Cancel);
    }
    p.read();
    let mut expect: Vec<(u32, u32)> = (0..n)
        .filter(|&k| !resets(k) && !closes(k))
        .map(|k| (delay(k), 2 * k + 1))
        .collect();
    expect.sort();
    let t0 = p.now();
    assert_eq!(
        p.next_deadline(),
        Some(t0 + expect[0].0 * MS),
        "the next deadline is the earliest live stream's"
    );
    // Half of them, 1 ms at a time: each fires when due, in order, and
    // the next deadline is always the next live stream's.
    let half = expect.len() / 2;
    while fired.lock().unwrap().len() < half {
        p.advance(MS);
        let next = expect[fired.lock().unwrap().len()].0;
        assert_eq!(p.next_deadline(), Some(t0 + next * MS));
    }
    let order: Vec<u32> = expect.iter().map(|&(_, id)| id).collect();
    assert_eq!(*fired.lock().unwrap(), order[..half]);
    // The rest at once, in one `on_deadline`: still in deadline order.
    p.advance(Duration::from_secs(10));
    assert_eq!(*fired.lock().unwrap(), order);
    // No timer is left: the streams are open, their protocols want none.
    assert_eq!(p.open_streams(), expect.len());
    assert_eq!(p.next_deadline(), None);
}

/// Writes `chunk` bytes at every chance (start and each `resume_writing`)
/// until `total` went out, checking `writable()` after each write.
struct Flood {
    chunk: usize,
    left: usize,
}

impl Flood {
    fn go(&mut self, t: &mut dyn StreamTransport) {
        while self.left > 0 {
            let n = self.chunk.min(self.left);
            t.write(&vec![b'x'; n]);
            self.left -= n;
            if !t.writable() {
                return;
            }
        }
        t.close();
    }
}

impl StreamProtocol for Flood {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.go(t);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.go(t);
    }
}

/// A protocol that answers every `resume_writing` with a write the windows
/// let out at once keeps the settle step going round after round. The step
/// stops at its bound and wakes the connection, so the rest goes out on the
/// next turn instead of waiting for an event that may never come.
#[test]
fn settle_stops_at_its_bound_and_carries_on_after_a_wake() {
    let total = 2 << 20;
    let svc = service(move |_| {
        Box::new(Flood {
            chunk: 8 << 10,
            left: total,
        }) as Box<dyn StreamProtocol>
    });
    let cfg = H2Config {
        // Each write of 8 KiB makes the stream unwritable until emitted.
        stream_send_buffer: 4 << 10,
        ..H2Config::default()
    };
    let scfg = StackConfig {
        high_water: 64 << 20,
        low_water: 32 << 20,
        memory_budget: 256 << 20,
        ..StackConfig::default()
    };
    let mut p = Raw::with_stack(svc, cfg, scfg);
    let max = (1u32 << 31) - 1;
    p.handshake(&[(setting::INITIAL_WINDOW_SIZE, max)]);
    let mut b = Vec::new();
    frame::write_window_update(&mut b, 0, max - 65_535);
    p.send(&b);
    p.get(1, "/");
    let mut got = body(&p.read(), 1).0.len();
    assert!(
        got < total,
        "one settle step sent everything ({got} bytes): the bound never hit"
    );
    let mut turns = 0;
    while got < total {
        turns += 1;
        assert!(turns < 1000, "stuck at {got} of {total} bytes");
        let hub = p.stack.wake_hub().cloned();
        assert!(
            hub.is_some_and(|h| h.is_pending()),
            "stuck at {got} of {total} bytes with no wake pending"
        );
        let now = p.now();
        p.stack.handle_wakes(now);
        got += body(&p.read(), 1).0.len();
    }
    assert_eq!(got, total);
}
