//! The test kit's `Pump`: transfers, end-to-end back-pressure, deadlines
//! under virtual time, graceful close, abort and the close deadline. These
//! exercise the `Stack` driver logic (settle, watermarks, deadlines) the same
//! way the tokio driver does, with no real time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata::testing::{epoch, Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
use strata::{
    AbortReason, Close, StackConfig, StreamProtocol, StreamTransport, Timeout, Wake, WakeRoute,
};

/// Deterministic test bytes (xorshift).
fn pattern(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Debug, Default)]
struct Log {
    received: Vec<u8>,
    /// (virtual time since epoch, bytes received so far) at each EOF.
    eof_at: Option<(Duration, usize)>,
    lost: Option<Close>,
    pauses: usize,
    resumes: usize,
    max_buffered: usize,
    fired: Vec<Duration>,
    all_written: bool,
    data_at: Vec<Duration>,
    waker: Option<Wake>,
}

type Shared = Arc<Mutex<Log>>;

fn shared() -> Shared {
    Arc::default()
}

fn since_epoch(t: &dyn StreamTransport) -> Duration {
    t.now() - epoch()
}

/// Writes `data` in `write`-sized pieces while the transport is writable,
/// then half-closes (or closes); records what comes back.
struct Writer {
    log: Shared,
    data: Vec<u8>,
    sent: usize,
    write: usize,
    close_when_done: bool,
    done: bool,
}

impl Writer {
    fn pump_out(&mut self, t: &mut dyn StreamTransport) {
        while self.sent < self.data.len() && t.writable() {
            let end = (self.sent + self.write).min(self.data.len());
            t.write(&self.data[self.sent..end]);
            self.sent = end;
            let mut log = self.log.lock().unwrap();
            log.max_buffered = log.max_buffered.max(t.buffered());
        }
        if self.sent == self.data.len() && !self.done {
            self.done = true;
            self.log.lock().unwrap().all_written = true;
            if self.close_when_done {
                t.close();
            } else {
                t.write_eof();
            }
        }
    }
}

impl StreamProtocol for Writer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump_out(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.log.lock().unwrap().received.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut log = self.log.lock().unwrap();
        log.eof_at = Some((since_epoch(t), log.received.len()));
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.log.lock().unwrap().pauses += 1;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.log.lock().unwrap().resumes += 1;
        self.pump_out(t);
    }
}

/// Echoes everything, closes after EOF.
struct Echo;

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// Reads, pausing each time another `pause_every` bytes have arrived (0:
/// pause at once and never read); a wake resumes it. Closes after EOF.
struct Reader {
    log: Shared,
    pause_every: usize,
    next_pause: usize,
}

impl StreamProtocol for Reader {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.log.lock().unwrap().waker = Some(t.waker());
        if self.pause_every == 0 {
            t.pause_reading();
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut log = self.log.lock().unwrap();
        log.received.extend_from_slice(data);
        log.data_at.push(since_epoch(t));
        if self.pause_every > 0 && log.received.len() >= self.next_pause {
            self.next_pause = log.received.len() + self.pause_every;
            t.pause_reading();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut log = self.log.lock().unwrap();
        log.eof_at = Some((since_epoch(t), log.received.len()));
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        t.resume_reading();
    }
}

#[test]
fn echo_transfer_through_latency_and_rate() {
    let data = pattern(1 << 20, 1);
    let log = shared();
    let client = Writer {
        log: log.clone(),
        data: data.clone(),
        sent: 0,
        write: 16 * 1024,
        close_when_done: false,
        done: false,
    };
    let cfg = PumpConfig::default()
        .latency(ms(5))
        .rate(10_000_000)
        .chunk(4000);
    let mut pump = Pump::with_config(Box::new(client), Box::new(Echo), cfg);
    assert_eq!(pump.run(Duration::from_secs(60)), RunOutcome::Finished);

    let log = log.lock().unwrap();
    assert!(log.received == data, "echoed bytes differ");
    assert_eq!(log.eof_at.map(|e| e.1), Some(data.len()));
    assert!(pump.a().finished().unwrap().is_clean());
    assert!(pump.b().finished().unwrap().is_clean());
    assert_eq!(pump.bytes_moved(Dir::AtoB), data.len() as u64);
    assert_eq!(pump.bytes_moved(Dir::BtoA), data.len() as u64);
    // The rate bounds the transfer from below: 1 MiB at 10 MB/s, plus the
    // echo's one-way latency.
    assert!(pump.elapsed() >= Duration::from_nanos(104_857_600) + ms(5));

    // The trace accounts for every byte, in time order, in chunks.
    let trace = pump.trace();
    assert!(trace.windows(2).all(|w| w[0].at <= w[1].at));
    for dir in [Dir::AtoB, Dir::BtoA] {
        let delivered: usize = trace
            .iter()
            .filter(|e| e.dir == dir && e.kind == PumpEventKind::Delivered)
            .map(|e| e.bytes)
            .sum();
        assert_eq!(delivered, data.len());
        assert!(trace.iter().all(|e| e.bytes <= 4000));
    }
}

#[test]
fn half_close_delivers_eof_after_data_and_keeps_reading() {
    // Writer half-closes after its data; the echo answers after EOF; the
    // writer still reads the answer, then both finish cleanly.
    let log = shared();
    let client = Writer {
        log: log.clone(),
        data: b"request".to_vec(),
        sent: 0,
        write: 3,
        close_when_done: false,
        done: false,
    };
    let mut pump = Pump::with_config(
        Box::new(client),
        Box::new(Echo),
        PumpConfig::default().latency(ms(1)),
    );
    assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
    let log = log.lock().unwrap();
    assert_eq!(log.received, b"request");
    // Request out (1 ms), echo and its EOF back (1 ms).
    assert_eq!(log.eof_at, Some((ms(2), 7)));
    let kinds: Vec<_> = pump
        .trace()
        .iter()
        .filter(|e| e.dir == Dir::AtoB)
        .map(|e| e.kind)
        .collect();
    let eof = kinds.iter().position(|k| *k == PumpEventKind::EofDelivered);
    let last_data = kinds.iter().rposition(|k| *k == PumpEventKind::Delivered);
    assert!(last_data < eof, "EOF overtook data: {kinds:?}");
}

/// A writer of `total` bytes against a reader that pauses every
/// `pause_every` bytes: the sender's bottom buffer must stay bounded by the
/// high-water mark plus one write, and the edges must come in pairs.
fn slow_reader(cfg: PumpConfig, max_in_flight: usize) {
    const WRITE: usize = 16 * 1024;
    // The reader stays paused until the test wakes it, however long the
    // virtual clock runs: the stacks' send-stall deadline would end the
    // writer first (as it should for a peer that stops reading), so it is
    // off here.
    let stack = StackConfig {
        stall_timeout: Duration::ZERO,
        ..cfg.stack.clone()
    };
    let cfg = cfg.stack(stack);
    let (high, low) = (cfg.stack.high_water, cfg.stack.low_water);
    let data = pattern(2 << 20, 7);
    let (wlog, rlog) = (shared(), shared());
    let writer = Writer {
        log: wlog.clone(),
        data: data.clone(),
        sent: 0,
        write: WRITE,
        close_when_done: true,
        done: false,
    };
    let reader = Reader {
        log: rlog.clone(),
        pause_every: 300 * 1024,
        next_pause: 300 * 1024,
    };
    let mut pump = Pump::with_config(Box::new(writer), Box::new(reader), cfg);
    let mut stalls = 0;
    loop {
        let outcome = pump.run(Duration::from_secs(600));
        if outcome == RunOutcome::Finished {
            break;
        }
        // Stalled on the paused reader: nothing else can happen.
        assert_eq!(outcome, RunOutcome::Idle);
        assert!(pump.b().is_read_paused());
        assert!(pump.a().is_write_paused(), "no pause_writing edge");
        // The writer got `pause_writing` and has not been resumed, so its
        // buffer is above the low mark (or it has written everything); the
        // buffer never passed the high mark by more than one write.
        let out = pump.a().pending_output();
        if !wlog.lock().unwrap().all_written {
            assert!(pump.a().is_write_paused(), "no pause_writing edge");
            assert!(out > low, "{out} buffered while paused");
        }
        assert!(out < high + WRITE, "{out} buffered");
        // Bytes wait at the sender, not on the wire.
        assert!(pump.in_flight(Dir::AtoB) <= max_in_flight);
        stalls += 1;
        let waker = rlog.lock().unwrap().waker.clone().unwrap();
        waker.wake();
    }
    assert!(stalls >= 6, "reader paused only {stalls} times");
    let w = wlog.lock().unwrap();
    assert!(w.max_buffered < high + WRITE, "{} buffered", w.max_buffered);
    // Every stall was followed by a resume; the last pause may end in the
    // close instead (the stack finishes once drained).
    assert!(w.resumes >= stalls);
    assert!(w.pauses - w.resumes <= 1);
    assert!(w.lost.as_ref().unwrap().is_clean());
    let r = rlog.lock().unwrap();
    assert!(r.received == data, "bytes lost or reordered");
    assert_eq!(r.eof_at.map(|e| e.1), Some(data.len()));
}

#[test]
fn slow_reader_bounds_sender_buffer() {
    // No latency: the chunk that made the reader pause was the last to leave.
    slow_reader(PumpConfig::default(), 0);
}

#[test]
fn slow_reader_bounds_sender_buffer_with_latency_and_rate() {
    slow_reader(
        PumpConfig::default()
            .latency(ms(20))
            .rate(5_000_000)
            .chunk(1500)
            .window(64 * 1024),
        64 * 1024,
    );
}

/// Ticks `n` times, `every` apart, writing `tick`; then closes.
struct Ticker {
    log: Shared,
    every: Duration,
    left: usize,
    next: Option<Instant>,
}

impl StreamProtocol for Ticker {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.next = Some(t.now() + self.every);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.next
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let Some(due) = self.next.filter(|d| *d <= t.now()) else {
            return; // spurious
        };
        self.log.lock().unwrap().fired.push(since_epoch(t));
        t.write(b"tick");
        self.left -= 1;
        self.next = (self.left > 0).then(|| due + self.every);
        if self.left == 0 {
            t.close();
        }
    }
}

#[test]
fn deadlines_fire_at_exact_virtual_times() {
    let (tlog, rlog) = (shared(), shared());
    let ticker = Ticker {
        log: tlog.clone(),
        every: ms(1500),
        left: 3,
        next: None,
    };
    let reader = Reader {
        log: rlog.clone(),
        pause_every: usize::MAX,
        next_pause: usize::MAX,
    };
    let cfg = PumpConfig::default().latency(ms(100));
    let mut pump = Pump::with_config(Box::new(ticker), Box::new(reader), cfg);

    // advance() stops exactly where asked and fires only what is due.
    assert_eq!(pump.advance(ms(1000)), RunOutcome::Limit);
    assert_eq!(pump.elapsed(), ms(1000));
    assert!(tlog.lock().unwrap().fired.is_empty());
    assert_eq!(pump.next_event(), Some(epoch() + ms(1500)));
    pump.advance(ms(550));
    assert_eq!(tlog.lock().unwrap().fired, vec![ms(1500)]);
    assert_eq!(rlog.lock().unwrap().data_at, Vec::<Duration>::new());
    pump.advance(ms(50));
    assert_eq!(rlog.lock().unwrap().data_at, vec![ms(1600)]);

    // run() jumps from deadline to deadline and stops when both finished.
    assert_eq!(pump.run(Duration::from_secs(60)), RunOutcome::Finished);
    assert_eq!(
        tlog.lock().unwrap().fired,
        vec![ms(1500), ms(3000), ms(4500)]
    );
    let r = rlog.lock().unwrap();
    assert_eq!(r.data_at, vec![ms(1600), ms(3100), ms(4600)]);
    assert_eq!(r.received, b"tick".repeat(3));
    // The last tick's close flushed at once; its EOF arrived one latency later.
    assert_eq!(r.eof_at, Some((ms(4600), 12)));
    assert_eq!(pump.elapsed(), ms(4600));
}

#[test]
fn run_limit_and_idle() {
    let log = shared();
    let ticker = Ticker {
        log: log.clone(),
        every: Duration::from_secs(10),
        left: 1,
        next: None,
    };
    let mut pump = Pump::new(Box::new(ticker), Box::new(Echo));
    assert_eq!(pump.run(Duration::from_secs(4)), RunOutcome::Limit);
    assert_eq!(pump.elapsed(), Duration::from_secs(4));
    assert_eq!(pump.run(Duration::from_secs(60)), RunOutcome::Finished);
    assert_eq!(log.lock().unwrap().fired, vec![Duration::from_secs(10)]);

    // Two silent protocols: nothing can ever happen.
    let (l1, l2) = (shared(), shared());
    let quiet = |log| Reader {
        log,
        pause_every: usize::MAX,
        next_pause: usize::MAX,
    };
    let mut idle = Pump::new(Box::new(quiet(l1)), Box::new(quiet(l2)));
    assert_eq!(idle.run(Duration::from_secs(60)), RunOutcome::Idle);
    assert_eq!(idle.elapsed(), Duration::ZERO);
    assert!(!idle.step());
}

/// Always asks for a deadline in the past.
struct Stuck;

impl StreamProtocol for Stuck {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn next_deadline(&self) -> Option<Instant> {
        Some(epoch())
    }
}

#[test]
fn a_deadline_stuck_in_the_past_is_reported_not_looped_on() {
    let mut pump = Pump::new(Box::new(Stuck), Box::new(Echo));
    assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Spinning);
    assert_eq!(pump.elapsed(), Duration::ZERO);
}

#[test]
fn graceful_close_flushes_before_done() {
    // 300 KB at 100 KB/s in 10 KB deliveries: the close is Done only once the
    // last delivery left (2.9 s), and the peer sees every byte, then EOF.
    let data = pattern(300_000, 3);
    let (wlog, rlog) = (shared(), shared());
    let writer = Writer {
        log: wlog.clone(),
        data: data.clone(),
        sent: 0,
        write: 100_000,
        close_when_done: true,
        done: false,
    };
    let reader = Reader {
        log: rlog.clone(),
        pause_every: usize::MAX,
        next_pause: usize::MAX,
    };
    let cfg = PumpConfig::default()
        .latency(ms(20))
        .rate(100_000)
        .chunk(10_000)
        .stack(StackConfig {
            high_water: 1 << 20,
            ..StackConfig::default()
        });
    let mut pump = Pump::with_config(Box::new(writer), Box::new(reader), cfg);
    let out = pump.run_until(Duration::from_secs(60), |p| p.a().finished().is_some());
    assert_eq!(out, RunOutcome::Reached);
    assert_eq!(pump.elapsed(), ms(2900));
    assert!(wlog.lock().unwrap().lost.as_ref().unwrap().is_clean());
    assert!(rlog.lock().unwrap().eof_at.is_none());

    assert_eq!(pump.run(Duration::from_secs(60)), RunOutcome::Finished);
    let r = rlog.lock().unwrap();
    assert!(r.received == data);
    // The last 10 KB finished serializing at 3.0 s and took 20 ms more.
    assert_eq!(r.eof_at, Some((ms(3020), data.len())));
    assert!(r.lost.as_ref().unwrap().is_clean());
}

/// Writes, then aborts, when `boom` arrives.
struct Aborter(Shared);

impl StreamProtocol for Aborter {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if data == b"boom" {
            t.write(b"never sent");
            t.abort(Close::aborted("app", AbortReason::Requested));
        }
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// Records how it ended.
struct LostRecorder(Shared);

impl StreamProtocol for LostRecorder {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"boom");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.0.lock().unwrap().received.extend_from_slice(d);
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

#[test]
fn abort_reaches_peer_as_reset() {
    let (alog, blog) = (shared(), shared());
    let cfg = PumpConfig::default().latency(ms(10));
    let mut pump = Pump::with_config(
        Box::new(Aborter(alog.clone())),
        Box::new(LostRecorder(blog.clone())),
        cfg,
    );
    assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
    // boom out at 0, abort at 10 ms, reset in at 20 ms.
    assert_eq!(pump.elapsed(), ms(20));
    let a = alog.lock().unwrap();
    assert!(matches!(
        a.lost,
        Some(Close::Aborted {
            layer: "app",
            reason: AbortReason::Requested
        })
    ));
    let b = blog.lock().unwrap();
    assert!(matches!(b.lost, Some(Close::Reset)), "{:?}", b.lost);
    assert!(b.received.is_empty(), "an abort discards queued output");
    assert_eq!(pump.bytes_moved(Dir::AtoB), 0);
    let kinds: Vec<_> = pump.trace().iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&PumpEventKind::ResetDelivered));

    // The same from the other side, with no latency.
    let mut other = Pump::new(
        Box::new(LostRecorder(shared())),
        Box::new(Aborter(shared())),
    );
    assert_eq!(other.run(Duration::from_secs(1)), RunOutcome::Finished);
    assert_eq!(other.elapsed(), Duration::ZERO);
    assert!(matches!(other.a().finished(), Some(Close::Reset)));
}

#[test]
fn close_deadline_times_out_when_peer_never_reads() {
    let (wlog, rlog) = (shared(), shared());
    let writer = Writer {
        log: wlog.clone(),
        data: pattern(200_000, 5),
        sent: 0,
        write: 200_000,
        close_when_done: true,
        done: false,
    };
    let reader = Reader {
        log: rlog.clone(),
        pause_every: 0,
        next_pause: 0,
    };
    let cfg = PumpConfig::default().stack(StackConfig {
        close_timeout: Duration::from_secs(2),
        ..StackConfig::default()
    });
    let mut pump = Pump::with_config(Box::new(writer), Box::new(reader), cfg);
    assert_eq!(pump.run(Duration::from_secs(60)), RunOutcome::Finished);
    assert_eq!(pump.elapsed(), Duration::from_secs(2));
    assert!(matches!(
        wlog.lock().unwrap().lost,
        Some(Close::Timeout(Timeout::CloseFlush))
    ));
    assert!(matches!(rlog.lock().unwrap().lost, Some(Close::Reset)));
    assert_eq!(pump.bytes_moved(Dir::AtoB), 0);
}

#[test]
fn same_inputs_same_trace() {
    let run = || {
        let client = Writer {
            log: shared(),
            data: pattern(200_000, 9),
            sent: 0,
            write: 7000,
            close_when_done: false,
            done: false,
        };
        let cfg = PumpConfig::default()
            .latency(ms(3))
            .rate(1_000_000)
            .chunk(1400);
        let mut pump = Pump::with_config(Box::new(client), Box::new(Echo), cfg);
        assert_eq!(pump.run(Duration::from_secs(60)), RunOutcome::Finished);
        pump.trace().to_vec()
    };
    let (one, two) = (run(), run());
    assert!(one.len() > 100);
    assert_eq!(one, two);
}
