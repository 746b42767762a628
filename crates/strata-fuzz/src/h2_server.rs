//! Target `h2_server`: arbitrary bytes after the client preface, in
//! arbitrary chunks, into an HTTP/2 server connection (`H2Connection` with
//! an echo service) over a whole stack, with virtual time passing.
//!
//! Input: two control bytes, then the frames. The first control byte seeds
//! the chunk sizes ([`crate::Chunks`]); the second says whether the
//! peer reads the server's output after each chunk or never, whether a
//! valid SETTINGS and SETTINGS ACK go first (so most inputs get past the
//! handshake), and how far the clock moves after each chunk.
//!
//! Checks, besides the absence of panics:
//! * the connection's own queue (`buffered()` plus what its streams hold
//!   for the peer's windows) stays within its per-stream limits;
//! * the stack's memory budget is never hit, and a peer that does not read
//!   gets at most the high-water mark, the bounded control answers, and a
//!   small multiple of what it sent (each request gets an answer; nothing
//!   else grows);
//! * a finished stack takes no more input and produces no more output;
//! * after a deadline has been handled, the next one is in the future (no
//!   busy timer loop).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use strata::http::h2::frame::{self, setting};
use strata::http::h2::{H2Config, H2Connection};
use strata::http::SharedService;
use strata::{AbortReason, Close, Stack, StackConfig, StreamProtocol, StreamTransport, WakeRoute};

use crate::{control, Chunks};

/// Limits small enough for short inputs to reach them.
fn h2_config() -> H2Config {
    H2Config {
        max_concurrent_streams: 4,
        initial_stream_window: 4096,
        connection_window: 8192,
        max_header_list_size: 1024,
        max_header_block: 4096,
        stream_send_buffer: 1024,
        stream_send_limit: 8192,
        max_resets: 8,
        max_pending_control: 16,
        max_empty_data: 4,
        ..H2Config::default()
    }
}

fn stack_config() -> StackConfig {
    StackConfig {
        high_water: 4096,
        low_water: 1024,
        memory_budget: 256 * 1024,
        ..StackConfig::default()
    }
}

/// Echoes the request body and ends with it; a path starting with `/b`
/// instead answers with 64 KiB, written while the stream is writable.
struct Echo {
    bulk: usize,
}

impl Echo {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.bulk > 0 && t.writable() {
            let n = self.bulk.min(4096);
            t.write(&[b'b'; 4096][..n]);
            self.bulk -= n;
            if self.bulk == 0 {
                t.close();
            }
        }
    }
}

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.bulk == 0 && t.writable() {
            t.write(data);
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if self.bulk == 0 {
            t.close();
        }
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
}

/// Owns the connection for the stack; the target looks at it between
/// callbacks. Forwards every method.
struct Probe(Arc<Mutex<H2Connection>>);

impl Probe {
    fn c(&self) -> MutexGuard<'_, H2Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StreamProtocol for Probe {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.c().connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.c().data_received(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.c().eof_received(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.c().connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.c().pause_writing(t)
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.c().resume_writing(t)
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.c().next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.c().on_deadline(t)
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.c().on_wake(t, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.c().on_shutdown(t)
    }
    fn buffered(&self) -> usize {
        self.c().buffered()
    }
}

/// How far the clock moves after a chunk, from three control bits: mostly
/// not at all, sometimes past each of the connection's timers.
fn step(bits: u8) -> Duration {
    match bits & 7 {
        0..=3 => Duration::ZERO,
        4 => Duration::from_millis(500),
        5 => Duration::from_secs(11),
        6 => Duration::from_secs(31),
        _ => Duration::from_secs(61),
    }
}

/// Feeds the client preface, optionally a SETTINGS exchange, then `data`
/// (after two control bytes) to an HTTP/2 server stack; see the module
/// documentation for what it checks.
pub fn h2_server(data: &[u8]) {
    let ([seed, mode], frames) = control::<2>(data);
    let reads = mode & 1 != 0;
    let handshake = mode & 2 != 0;
    let tick = step(mode >> 2);

    let cfg = h2_config();
    let scfg = stack_config();
    // What the streams may hold, whatever the peer does: each is reset past
    // its send limit.
    let held_max = cfg.max_concurrent_streams as usize * (cfg.stream_send_limit + 4096);
    // Unread output: the high-water mark, then at most one write of each
    // stream, the control answers owed and our own final frames, plus the
    // answers to requests (see the loop).
    let unread_max = scfg.high_water
        + cfg.max_concurrent_streams as usize * (4096 + 2 * frame::HEADER_LEN + 64)
        + (cfg.max_pending_control as usize + 2) * 17
        + (cfg.max_resets as usize + 2) * 13
        + 1024;
    let service: SharedService = Arc::new(|req: &strata::http::request::Parts| {
        let bulk = if req.uri.path().starts_with("/b") {
            64 << 10
        } else {
            0
        };
        Box::new(Echo { bulk }) as Box<dyn StreamProtocol>
    });
    let conn = Arc::new(Mutex::new(H2Connection::server(Arc::new(cfg), service)));
    let mut s = Stack::memory_with(Box::new(Probe(conn.clone())), scfg);
    let mut now = s.now();

    let mut input = frame::PREFACE.to_vec();
    if handshake {
        frame::write_settings(&mut input, &[(setting::INITIAL_WINDOW_SIZE, 1 << 20)]);
        frame::write_settings_ack(&mut input);
    }
    input.extend_from_slice(frames);

    let held = |c: &Arc<Mutex<H2Connection>>| {
        let c = c.lock().unwrap_or_else(|e| e.into_inner());
        c.buffered() + c.queued()
    };
    let mut fed = 0;
    for chunk in Chunks::new(&input, seed) {
        fed += chunk.len();
        let was_finished = s.finished().is_some();
        s.handle_input(now, chunk);
        if was_finished {
            assert_eq!(s.pending_output(), 0, "a finished stack wrote");
        }
        if !tick.is_zero() {
            now += tick;
            s.handle_timeout(now);
            if let Some(d) = s.next_deadline() {
                assert!(
                    d > now,
                    "deadline {d:?} already passed at {now:?}: a busy timer"
                );
            }
        }
        let h = held(&conn);
        assert!(h <= held_max, "the connection holds {h} bytes");
        if reads {
            s.take_output(now);
        } else {
            // A request of 10 bytes (a frame header and one HPACK byte) gets
            // a response head and an end of stream: about 20 bytes.
            let n = s.pending_output();
            assert!(
                n <= unread_max + 3 * fed,
                "{n} bytes queued for a peer that never reads, after {fed}"
            );
        }
    }
    // The peer hangs up; then every timer may fire.
    s.handle_eof(now);
    for _ in 0..4 {
        now += Duration::from_secs(61);
        s.handle_timeout(now);
        if reads {
            s.take_output(now);
        }
    }
    match s.finished() {
        Some(Close::Aborted {
            reason: AbortReason::MemoryBudget { .. },
            ..
        }) => panic!("the stack's memory budget was hit"),
        Some(_) => {}
        None => panic!("the connection outlived the peer's EOF and every timer"),
    }
    assert_eq!(held(&conn), 0, "a finished connection holds nothing");
}
