//! Back-pressure: the level `writable()` bounds the bottom buffer, edges come
//! from settle, and a protocol that ignores both is aborted at the budget.

mod common;

use std::sync::{Arc, Mutex};

use common::{Log, Xor};
use strata::{AbortReason, Close, Stack, StackConfig, StreamProtocol, StreamTransport};

const CHUNK: usize = 1000;

/// Writes chunks while the transport says it is writable; resumes on the edge.
struct Writer {
    left: usize,
    max_seen: Arc<Mutex<usize>>,
    log: Log,
}

impl Writer {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.left > 0 && t.writable() {
            let n = CHUNK.min(self.left);
            t.write(&[7u8; CHUNK][..n]);
            self.left -= n;
            let mut m = self.max_seen.lock().unwrap();
            *m = (*m).max(t.buffered());
        }
        if self.left == 0 {
            t.close();
        }
    }
}

impl StreamProtocol for Writer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t)
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("pause");
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.log.push("resume");
        self.pump(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.push(format!("lost:{why}"));
    }
}

fn run_bound(proto: Box<dyn StreamProtocol>, max_seen: &Arc<Mutex<usize>>, log: &Log) {
    let cfg = StackConfig::default();
    let high = cfg.high_water;
    let mut s = Stack::memory_with(proto, cfg);
    let mut now = s.now();
    let mut total = 0;
    // Drain 3000 bytes at a time, like a slow socket.
    while s.finished().is_none() {
        assert!(s.pending_output() <= high + CHUNK, "{}", s.pending_output());
        let n = s.pending_output().min(3000);
        now += std::time::Duration::from_millis(1);
        s.consume(now, n);
        total += n;
    }
    assert_eq!(total, 1_000_000);
    assert!(*max_seen.lock().unwrap() <= high + CHUNK);
    let events = log.take();
    let pauses = events.iter().filter(|e| *e == "pause").count();
    let resumes = events.iter().filter(|e| *e == "resume").count();
    assert!(pauses > 10, "{events:?}");
    // Every pause edge is matched by a resume, alternating.
    assert!(pauses == resumes || pauses == resumes + 1);
    assert_eq!(events.last().unwrap(), "lost:closed cleanly");
}

#[test]
fn writable_loop_stays_within_high_mark_plus_one_write() {
    let max_seen = Arc::new(Mutex::new(0));
    let log = Log::default();
    let w = Writer {
        left: 1_000_000,
        max_seen: max_seen.clone(),
        log: log.clone(),
    };
    run_bound(Box::new(w), &max_seen, &log);
}

#[test]
fn writable_is_merged_through_a_layer() {
    let max_seen = Arc::new(Mutex::new(0));
    let log = Log::default();
    let w = Writer {
        left: 1_000_000,
        max_seen: max_seen.clone(),
        log: log.clone(),
    };
    run_bound(Box::new(Xor::new(w, 0x5a, Log::default())), &max_seen, &log);
}

/// Ignores back-pressure entirely.
struct Flooder {
    log: Log,
}

impl StreamProtocol for Flooder {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        for _ in 0..10_000 {
            t.write(&[0u8; 1024]);
        }
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, why: &Close) {
        let budget = matches!(
            why,
            Close::Aborted {
                reason: AbortReason::MemoryBudget { limit: 1_000_000 },
                ..
            }
        );
        self.log.push(format!("lost budget={budget}"));
    }
}

#[test]
fn ignoring_the_signal_is_aborted_at_the_budget() {
    let log = Log::default();
    let cfg = StackConfig {
        memory_budget: 1_000_000,
        ..StackConfig::default()
    };
    let s = Stack::memory_with(Box::new(Flooder { log: log.clone() }), cfg);
    assert_eq!(log.take(), vec!["lost budget=true"]);
    assert!(matches!(
        s.finished(),
        Some(Close::Aborted {
            layer: "memory",
            reason: AbortReason::MemoryBudget { .. }
        })
    ));
    // Nothing was kept: the aborted connection holds no output.
    assert_eq!(s.pending_output(), 0);
}

/// Pauses reading after the first chunk; input that arrives is stashed and
/// delivered on resume, EOF after it.
struct Pauser {
    log: Log,
}

impl StreamProtocol for Pauser {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.log
            .push(format!("data:{}", String::from_utf8_lossy(data)));
        t.pause_reading();
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("eof");
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: strata::WakeRoute<'_>) {
        t.resume_reading();
    }
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.log.push("made");
        let w = t.waker();
        WAKER.lock().unwrap().replace(w);
    }
}

static WAKER: Mutex<Option<strata::Wake>> = Mutex::new(None);

#[test]
fn input_is_stashed_while_paused_and_delivered_in_order() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(Pauser { log: log.clone() }));
    let now = s.now();
    s.handle_input(now, b"one");
    assert!(!s.wants_read());
    s.handle_input(now, b"two");
    s.handle_input(now, b"three");
    s.handle_eof(now);
    assert_eq!(log.take(), vec!["made", "data:one"]);
    WAKER.lock().unwrap().as_ref().unwrap().wake();
    s.handle_wakes(now);
    // Stashed chunks come as one delivery; the protocol paused again after it.
    assert_eq!(log.take(), vec!["data:twothree"]);
    WAKER.lock().unwrap().as_ref().unwrap().wake();
    s.handle_wakes(now);
    assert_eq!(log.take(), vec!["eof"]);
}
