//! Target `kcp_segment`: arbitrary datagrams into the KCP engine
//! (`strata::reliable::kcp::Kcp::input`), into a `KcpStream` layer and into
//! a `KcpListener`, the last two in a `DatagramStack` over memory.
//!
//! Input: one mode byte, then records `[ctl, len_lo, len_hi, bytes...]`
//! (the length is capped at 2048; a short last record takes what is left).
//! `ctl`'s low 6 bits advance the virtual clock by that many times 8 ms;
//! its top 2 bits pick the sender (the peer, or one of three strangers).
//! The mode byte picks stream or message mode and fast or default mode.
//! No input may panic, and:
//! - `input` accepts a datagram exactly when every segment in it parses
//!   (as `segments` says) and carries our conversation id, and counts it;
//! - the engine's send buffer, its acknowledgement output and what one
//!   `recv` returns stay within the configured bounds, and every datagram
//!   produced fits the MTU;
//! - the layers never end a conversation because of bad input (only a dead
//!   link or the idle timer may end one), hold no more than their
//!   watermarks allow, send only datagrams that fit, and the listener never
//!   runs more conversations than its limit.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::reliable::kcp::{segments, Kcp, KcpConfig, KcpError, HEADER_LEN};
use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
use strata::{
    AbortReason, Close, Datagram, DatagramStack, StreamFactory, StreamProtocol, StreamTransport,
    Timeout,
};

/// The conversation id the target's peers use.
pub const CONV: u32 = 0x0102_0304;
/// The memory transport's datagram size, used as the MTU.
const MTU: usize = 1200;
/// The largest record.
const MAX_RECORD: usize = 2048;
/// At most this many conversations in the listener.
const MAX_CONNECTIONS: usize = 3;

/// One datagram of the input.
struct Record<'a> {
    advance: Duration,
    sender: u8,
    data: &'a [u8],
}

fn records(mut rest: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    while let Some((&ctl, tail)) = rest.split_first() {
        let (len, tail) = match tail {
            [lo, hi, tail @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), tail),
            _ => (0, &[][..]),
        };
        let len = len.min(MAX_RECORD).min(tail.len());
        let (data, tail) = tail.split_at(len);
        out.push(Record {
            advance: Duration::from_millis(u64::from(ctl & 0x3f) * 8),
            sender: ctl >> 6,
            data,
        });
        rest = tail;
    }
    out
}

fn engine_config(mode: u8) -> KcpConfig {
    let base = if mode & 1 == 0 {
        KcpConfig::fast_mode()
    } else {
        KcpConfig::default_mode()
    };
    KcpConfig {
        stream: mode & 2 == 0,
        mtu: MTU,
        send_buffer: 8 * 1024,
        ack_nodelay: mode & 4 != 0,
        ..base
    }
}

/// Feeds `data` (see the module documentation) to the engine and to both
/// layers, checking the properties listed there.
pub fn kcp_segment(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let recs = records(rest);
    engine(mode, &recs);
    stream_layer(mode, &recs);
    listener(mode, &recs);
}

/// The engine alone, with data of its own in flight so that acks matter.
fn engine(mode: u8, recs: &[Record<'_>]) {
    let cfg = engine_config(mode);
    let mut k = Kcp::new(CONV, cfg.clone()).expect("a valid config");
    let mut now = strata::testing::epoch();
    if cfg.stream {
        assert_eq!(k.send(&[0xab; 20_000]), cfg.send_buffer);
    } else {
        k.send_message(&[0xcd; 3000]).expect("fits");
    }
    let mss = cfg.mtu - HEADER_LEN;
    let (mut inputs, mut out) = (0, Vec::new());
    for r in recs {
        now += r.advance;
        let got = k.input(now, r.data);
        inputs += 1;
        assert_eq!(got, verdict(r.data));
        assert_eq!(k.stats().datagrams_in, inputs);
        if k.next_timeout(now).is_some_and(|t| t <= now) {
            k.on_timeout(now);
        }
        let mut n = 0;
        while k.poll_transmit(now, &mut out) {
            assert!(out.len() <= cfg.mtu, "datagram of {} bytes", out.len());
            assert!(segments(&out).all(|s| s.is_ok_and(|s| s.conv == CONV)));
            n += 1;
            assert!(n <= 1000, "poll_transmit does not run dry");
        }
        assert!(k.buffered() <= cfg.send_buffer);
        let mut got = Vec::new();
        while let Some(len) = k.recv(&mut got) {
            assert!(len <= usize::from(cfg.rcv_wnd) * mss);
            got.clear();
        }
    }
}

/// What `input` must answer: the first malformed segment's error, or a
/// conversation mismatch, in segment order; an empty datagram is truncated.
fn verdict(datagram: &[u8]) -> Result<(), KcpError> {
    if datagram.is_empty() {
        return Err(KcpError::Truncated { len: 0 });
    }
    for seg in segments(datagram) {
        let seg = seg?;
        if seg.conv != CONV {
            return Err(KcpError::ConvMismatch {
                expected: CONV,
                found: seg.conv,
            });
        }
    }
    Ok(())
}

/// Echoes under back-pressure, pausing reading on every third chunk until
/// its next deadline; records the worst it saw.
#[derive(Default)]
struct Echo {
    max_buffered: usize,
    resume_at: Option<std::time::Instant>,
    chunks: u32,
}

struct Shared(Arc<Mutex<Echo>>);

impl StreamProtocol for Shared {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut e = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if t.writable() {
            t.write(data);
        }
        e.max_buffered = e.max_buffered.max(t.buffered());
        e.chunks += 1;
        if e.chunks == 3 {
            e.chunks = 0;
            t.pause_reading();
            e.resume_at = Some(t.now() + Duration::from_millis(50));
        }
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        panic!("KCP has no EOF");
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).resume_at
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        let mut e = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if e.resume_at.is_some_and(|at| at <= t.now()) {
            e.resume_at = None;
            t.resume_reading();
        }
    }
}

fn stream_config(mode: u8) -> KcpStreamConfig {
    KcpStreamConfig {
        kcp: engine_config(mode),
        high_water: 4096,
        low_water: 1024,
        memory_budget: 1 << 20,
        ..KcpStreamConfig::default()
    }
}

fn addr(sender: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1 + sender], 4000))
}

/// Runs the stack's deadlines up to `until`, as a driver would.
fn advance(s: &mut DatagramStack, until: std::time::Instant) {
    let mut n = 0;
    while let Some(at) = s.next_deadline().filter(|&at| at <= until) {
        s.handle_timeout(at.max(s.now()));
        n += 1;
        assert!(n <= 10_000, "deadlines do not settle");
    }
}

/// How a conversation may end with nobody acknowledging its data.
fn allowed_end(why: &Close) -> bool {
    matches!(
        why,
        Close::Timeout(Timeout::Idle)
            | Close::Aborted {
                layer: "kcp",
                reason: AbortReason::PeerAborted
            }
    )
}

fn check_transmits(s: &mut DatagramStack) {
    let now = s.now();
    for t in s.take_transmits(now) {
        assert!(t.contents.len() <= MTU);
        assert!(segments(&t.contents).all(|s| s.is_ok_and(|s| s.conv == CONV)));
    }
}

/// `KcpStream` with an echo on top, the peer at sender 0.
fn stream_layer(mode: u8, recs: &[Record<'_>]) {
    let cfg = stream_config(mode);
    let echo = Arc::new(Mutex::new(Echo::default()));
    let layer = KcpStream::new(CONV, cfg.clone(), Shared(echo.clone()))
        .expect("a valid config")
        .with_peer(addr(0));
    let counters = layer.counters();
    let mut s = DatagramStack::memory(Box::new(layer));
    let mut now = s.now();
    let mut bad = 0;
    for r in recs {
        now += r.advance;
        advance(&mut s, now);
        s.handle_datagrams(now, &[Datagram::new(Some(addr(r.sender)), r.data)]);
        if r.sender == 0 && segments(r.data).any(|s| s.is_err()) {
            bad += 1;
        }
        check_transmits(&mut s);
        if let Some(why) = s.finished() {
            assert!(allowed_end(why), "{why}");
            return;
        }
    }
    assert!(counters.bad_datagrams() >= bad);
    let e = echo.lock().unwrap_or_else(|e| e.into_inner());
    let window = usize::from(cfg.kcp.rcv_wnd) * (cfg.kcp.mtu - HEADER_LEN);
    assert!(e.max_buffered <= cfg.high_water + window + 64 * 1024);
}

/// `KcpListener` with echoes, four senders.
fn listener(mode: u8, recs: &[Record<'_>]) {
    let factory: StreamFactory = Arc::new(|| Box::new(Shared(Arc::default())));
    let cfg = KcpListenerConfig {
        stream: stream_config(mode),
        max_connections: MAX_CONNECTIONS,
        ..KcpListenerConfig::default()
    };
    let l = KcpListener::new(cfg, factory).expect("a valid config");
    let counters = l.counters();
    let mut s = DatagramStack::memory(Box::new(l));
    let mut now = s.now();
    for r in recs {
        now += r.advance;
        advance(&mut s, now);
        s.handle_datagrams(now, &[Datagram::new(Some(addr(r.sender)), r.data)]);
        let now = s.now();
        for t in s.take_transmits(now) {
            assert!(t.contents.len() <= MTU);
            assert!(t.destination.is_some());
        }
        assert!(s.finished().is_none(), "the listener ended");
        let live = counters.accepted() - counters.closed();
        assert!(live <= MAX_CONNECTIONS as u64);
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use strata::reliable::kcp::{Command, Segment};

    use super::*;

    /// One mostly well-formed datagram: a few segments of our conversation
    /// (now and then another), plausible numbers, with the odd flipped byte,
    /// bad length or cut-off end.
    fn datagram(rng: &mut ChaCha8Rng) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..rng.gen_range(1..5) {
            let cmd = [
                Command::Push,
                Command::Push,
                Command::Ack,
                Command::WindowAsk,
            ][rng.gen_range(0..4)];
            let data: Vec<u8> = match cmd {
                Command::Push => (0..rng.gen_range(0..300)).map(|_| rng.gen()).collect(),
                _ => Vec::new(),
            };
            Segment {
                conv: if rng.gen_ratio(1, 20) {
                    rng.gen()
                } else {
                    CONV
                },
                cmd: if rng.gen_ratio(1, 30) {
                    Command::WindowTell
                } else {
                    cmd
                },
                frg: if rng.gen_ratio(1, 4) {
                    rng.gen_range(0..4)
                } else {
                    0
                },
                wnd: [0, 1, 32, 128, u16::MAX][rng.gen_range(0..5)],
                ts: rng.gen_range(0..5000),
                sn: if rng.gen_ratio(1, 10) {
                    rng.gen()
                } else {
                    rng.gen_range(0..40)
                },
                una: match rng.gen_range(0..10) {
                    0 => rng.gen(),
                    1..=4 => 0,
                    _ => rng.gen_range(0..10),
                },
                data: &data,
            }
            .encode(&mut out);
        }
        if rng.gen_ratio(1, 8) {
            let i = rng.gen_range(0..out.len());
            out[i] = rng.gen();
        }
        if rng.gen_ratio(1, 10) {
            out.truncate(rng.gen_range(0..out.len()));
        }
        if rng.gen_ratio(1, 20) {
            out = (0..rng.gen_range(0..60)).map(|_| rng.gen()).collect();
        }
        out
    }

    /// The seeded smoke run (`scripts/fuzz-smoke` runs this crate's tests).
    #[test]
    fn kcp_segment_smoke() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for _ in 0..3000 {
            let mut input = vec![rng.gen::<u8>()];
            for _ in 0..rng.gen_range(0..24) {
                let d = datagram(&mut rng);
                let sender = if rng.gen_ratio(3, 4) {
                    0
                } else {
                    rng.gen_range(1..4)
                };
                input.push(rng.gen_range(0..8) | sender << 6);
                input.extend_from_slice(&(d.len() as u16).to_le_bytes());
                input.extend_from_slice(&d);
            }
            kcp_segment(&input);
        }
    }

    #[test]
    fn kcp_segment_odd_inputs() {
        for input in [
            &[][..],
            &[0],
            &[0, 1],
            &[0, 1, 2],
            &[7, 0xff, 0xff, 0xff, 1, 2],
        ] {
            kcp_segment(input);
        }
    }
}
