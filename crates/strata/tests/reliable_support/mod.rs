//! Shared workloads for the reliable mapping's tests: a stream protocol that
//! sends a deterministic byte pattern (respecting back-pressure), then FIN,
//! and checks the pattern it receives, and the harness that runs a client and
//! a listener over a `SimNet` link.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::testing::{LinkConfig, LinkStats, RunOutcome, SimNet};
use strata::{Close, StreamProtocol, StreamTransport};

const TABLE_BITS: u32 = 16;
const TABLE_LEN: u64 = 1 << TABLE_BITS;

/// A pseudo-random table; the pattern is this table XORed with the block
/// number and the seed, so a byte out of place, lost or repeated shows.
fn table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..TABLE_LEN)
            .map(|k| {
                (k.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_mul(0x2545_F491_4F6C_DD1D)
                    >> 56) as u8
            })
            .collect()
    })
}

/// The table XORed with `k`: the pattern's bytes for every block whose key
/// is `k`, made once, so that filling and checking are slice copies and
/// compares (the seed sweeps move gigabytes through them in debug builds).
fn block(k: u8) -> &'static [u8] {
    static BLOCKS: [std::sync::OnceLock<Vec<u8>>; 256] =
        [const { std::sync::OnceLock::new() }; 256];
    BLOCKS[k as usize].get_or_init(|| table().iter().map(|b| b ^ k).collect())
}

/// Byte `i` of the pattern seeded by `seed`.
pub fn pattern(seed: u64, i: u64) -> u8 {
    table()[(i & (TABLE_LEN - 1)) as usize] ^ ((i >> TABLE_BITS) ^ seed) as u8
}

/// Appends pattern bytes `start..start + n`.
pub fn fill(seed: u64, start: u64, n: u64, out: &mut Vec<u8>) {
    let mut i = start;
    while i < start + n {
        let at = (i & (TABLE_LEN - 1)) as usize;
        let run = ((TABLE_LEN - at as u64).min(start + n - i)) as usize;
        let k = ((i >> TABLE_BITS) ^ seed) as u8;
        out.extend_from_slice(&block(k)[at..at + run]);
        i += run as u64;
    }
}

/// The offset of the first byte of `data` (at `start`) that is not the
/// pattern's.
pub fn first_mismatch(seed: u64, start: u64, data: &[u8]) -> Option<u64> {
    let mut done = 0usize;
    while done < data.len() {
        let i = start + done as u64;
        let at = (i & (TABLE_LEN - 1)) as usize;
        let run = (TABLE_LEN as usize - at).min(data.len() - done);
        let k = ((i >> TABLE_BITS) ^ seed) as u8;
        let chunk = &data[done..done + run];
        let want = &block(k)[at..at + run];
        if chunk != want {
            let j = chunk.iter().zip(want).position(|(d, e)| d != e)?;
            return Some(i + j as u64);
        }
        done += run;
    }
    None
}

/// What one side saw.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub connected: bool,
    pub received: u64,
    /// The first offset where the data differed from the pattern.
    pub mismatch: Option<u64>,
    pub eof: bool,
    pub sent_all: bool,
    pub lost: Option<String>,
    pub clean: bool,
    pub pauses: u32,
    /// (virtual time, bytes received so far), one sample per callback.
    pub timeline: Vec<(std::time::Instant, u64)>,
    pub record: bool,
}

pub type Shared = Arc<Mutex<Outcome>>;

/// Sends `total` bytes of pattern `send_seed`, then FIN; expects `expect`
/// bytes of pattern `recv_seed`, then FIN.
pub struct Bulk {
    pub total: u64,
    pub sent: u64,
    pub send_seed: u64,
    pub recv_seed: u64,
    pub chunk: usize,
    pub out: Shared,
}

impl Bulk {
    pub fn new(total: u64, send_seed: u64, recv_seed: u64, out: Shared) -> Bulk {
        Bulk {
            total,
            sent: 0,
            send_seed,
            recv_seed,
            chunk: 16 * 1024,
            out,
        }
    }

    fn pump(&mut self, t: &mut dyn StreamTransport) {
        let mut buf = Vec::with_capacity(self.chunk);
        while self.sent < self.total && t.writable() {
            let n = (self.total - self.sent).min(self.chunk as u64);
            buf.clear();
            fill(self.send_seed, self.sent, n, &mut buf);
            t.write(&buf);
            self.sent += n;
        }
        if self.sent == self.total {
            let mut o = self.out.lock().unwrap();
            if !o.sent_all {
                o.sent_all = true;
                drop(o);
                t.write_eof();
            }
        }
    }
}

impl StreamProtocol for Bulk {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.out.lock().unwrap().connected = true;
        self.pump(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut o = self.out.lock().unwrap();
        if o.mismatch.is_none() {
            o.mismatch = first_mismatch(self.recv_seed, o.received, data);
        }
        o.received += data.len() as u64;
        if o.record {
            let at = (t.now(), o.received);
            o.timeline.push(at);
        }
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        self.out.lock().unwrap().eof = true;
    }
    fn connection_lost(&mut self, why: &Close) {
        let mut o = self.out.lock().unwrap();
        o.clean = why.is_clean();
        o.lost = Some(why.to_string());
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.out.lock().unwrap().pauses += 1;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The result of one transfer over a simulated link.
#[derive(Debug)]
pub struct Transfer {
    pub client: Outcome,
    pub server: Outcome,
    pub outcome: RunOutcome,
    pub elapsed: Duration,
    /// Link counters client → server.
    pub up: LinkStats,
    /// Link counters server → client.
    pub down: LinkStats,
}

impl Transfer {
    /// Every byte arrived once, in order, both ways, with FIN, and both
    /// ends closed cleanly.
    pub fn check(&self, up: u64, down: u64) {
        let (c, s) = (&self.client, &self.server);
        assert!(c.connected && s.connected, "{self:#?}");
        assert_eq!(c.mismatch, None, "{self:#?}");
        assert_eq!(s.mismatch, None, "{self:#?}");
        assert_eq!((s.received, c.received), (up, down), "{self:#?}");
        assert!(c.eof && s.eof, "{self:#?}");
        assert!(c.clean && s.clean, "{self:#?}");
    }

    /// As [`check`](Self::check), except that one side may end by idle
    /// timeout instead of cleanly: the last-ACK race, where the ACK of its
    /// FIN and every CLOSE the other side sent (three, and one per
    /// retransmission heard) were lost. Returns whether that happened.
    pub fn check_delivery(&self, up: u64, down: u64) -> bool {
        let (c, s) = (&self.client, &self.server);
        assert!(c.connected && s.connected, "{self:#?}");
        assert_eq!(c.mismatch, None, "{self:#?}");
        assert_eq!(s.mismatch, None, "{self:#?}");
        assert_eq!((s.received, c.received), (up, down), "{self:#?}");
        assert!(c.eof && s.eof, "{self:#?}");
        if c.clean && s.clean {
            return false;
        }
        let idle = |o: &Outcome| o.lost.as_deref().is_some_and(|l| l.contains("idle"));
        assert!((c.clean && idle(s)) || (s.clean && idle(c)), "{self:#?}");
        true
    }
}

/// Moves `up` bytes client→server and `down` bytes server→client over a
/// link with `link` both ways.
pub fn transfer(
    seed: u64,
    cfg: ReliableConfig,
    link: LinkConfig,
    up: u64,
    down: u64,
    limit: Duration,
) -> Transfer {
    transfer_recorded(seed, cfg, link, up, down, limit, false)
}

/// One datagram a node sent, as the tamper hook saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnWire {
    /// Virtual time since the epoch.
    pub at: Duration,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// [`transfer`], and every datagram the two ends sent, in order, recorded
/// by the simulated network's tamper hook.
pub fn transfer_wire(
    seed: u64,
    cfg: ReliableConfig,
    link: LinkConfig,
    up: u64,
    down: u64,
    limit: Duration,
) -> (Transfer, Vec<OnWire>) {
    let wire = Arc::new(Mutex::new(Vec::new()));
    let w = wire.clone();
    let t = run(seed, cfg, link, up, down, limit, false, move |net| {
        net.set_tamper(move |d| {
            w.lock().unwrap().push(OnWire {
                at: d.now.saturating_duration_since(strata::testing::epoch()),
                from: d.from,
                to: d.to,
                data: d.data.clone(),
            });
            strata::testing::Verdict::Pass
        })
    });
    let wire = std::mem::take(&mut *wire.lock().unwrap());
    (t, wire)
}

/// [`transfer`], optionally recording the receivers' timelines.
pub fn transfer_recorded(
    seed: u64,
    cfg: ReliableConfig,
    link: LinkConfig,
    up: u64,
    down: u64,
    limit: Duration,
    record: bool,
) -> Transfer {
    run(seed, cfg, link, up, down, limit, record, |_| {})
}

#[allow(clippy::too_many_arguments)]
fn run(
    seed: u64,
    cfg: ReliableConfig,
    link: LinkConfig,
    up: u64,
    down: u64,
    limit: Duration,
    record: bool,
    setup: impl FnOnce(&mut SimNet),
) -> Transfer {
    let client_out = Shared::default();
    let server_out = Shared::default();
    client_out.lock().unwrap().record = record;
    server_out.lock().unwrap().record = record;
    let mut net = SimNet::new(seed);
    net.set_tracing(false);
    setup(&mut net);
    let server_addr = addr("10.0.0.2:4433");
    let so = server_out.clone();
    let factory: strata::StreamFactory =
        Arc::new(move || Box::new(Bulk::new(down, 2, 1, so.clone())) as Box<dyn StreamProtocol>);
    let server = net.add_node(
        server_addr,
        Box::new(ReliableListener::new(cfg.clone(), factory)),
    );
    let client_proto = Bulk::new(up, 1, 2, client_out.clone());
    let client = net.add_node(
        addr("10.0.0.1:5000"),
        Box::new(Reliable::connect_to(server_addr, cfg, client_proto)),
    );
    net.link_both(client, server, link);
    let (client_node, server_node) = (client, server);
    let outcome = net.run_until(limit, |_| {
        let c = client_out.lock().unwrap();
        let s = server_out.lock().unwrap();
        c.lost.is_some() && s.lost.is_some()
    });
    let elapsed = net.elapsed();
    let client = client_out.lock().unwrap().clone();
    let server = server_out.lock().unwrap().clone();
    Transfer {
        client,
        server,
        outcome,
        elapsed,
        up: net
            .link_stats(client_node, server_node)
            .copied()
            .unwrap_or_default(),
        down: net
            .link_stats(server_node, client_node)
            .copied()
            .unwrap_or_default(),
    }
}
