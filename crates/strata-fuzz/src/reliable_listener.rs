//! Target `reliable_listener`: datagrams from a few source addresses into
//! a `ReliableListener` (the server side of the reliable mapping, with an
//! echo protocol on every connection), next to a real client connection
//! that keeps talking to it, with virtual time passing.
//!
//! Input: one control byte, then records `[flags, len (2 bytes, big
//! endian), len bytes]`.
//! - Control byte: bit 0, the listener skips Retry (else it requires a
//!   token); bit 1, the listener shuts down gracefully half-way through;
//!   bits 2-3, how many 3000-byte writes the real client makes at the
//!   start (0 to 3).
//! - Record flags: bits 0-1 pick the source address (0 is the real
//!   client's, so a record there is spoofed); bit 2 makes the datagram the
//!   real client's latest with the record XORed over it from its second
//!   byte (so that mutations keep a valid header); bit 3 writes an open
//!   connection's id over the destination id (bit 1 of the datagram's first
//!   byte set: at the long header's offset); bit 4 has the real client
//!   write 1000 bytes; bits 5-7 advance the clock by that many × 150 ms
//!   and fire due timers.
//!
//! After every record the real client and the listener exchange datagrams
//! for one round. Checks, besides the absence of panics: every datagram
//! sent has a destination and fits the MTU; the listener keeps at most
//! `max_connections` connections, each within its buffer limits; a few
//! calls at a passed deadline leave the next one in the future; and once
//! everyone falls silent and the idle timeout has passed, the listener
//! holds no connection at all (nothing survives by a stale timer).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::reliable::wire::ConnId;
use strata::reliable::{Connection, ReliableConfig, ReliableListener};
use strata::testing::MemoryDatagramTransport;
use strata::StreamFactory;
use strata::{Datagram, DatagramProtocol, DatagramTransport, StreamProtocol, StreamTransport};

const MAX_CONNECTIONS: usize = 4;

fn config(require_retry: bool) -> ReliableConfig {
    ReliableConfig {
        recv_window: 64 * 1024,
        max_recv_window: 128 * 1024,
        send_buffer: 16 * 1024,
        max_send_buffer: 64 * 1024,
        max_connections: MAX_CONNECTIONS,
        require_retry,
        ..ReliableConfig::default()
    }
}

/// Echoes what it receives while writable; closes at EOF.
struct Echo;

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if t.writable() {
            t.write(data);
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// The sources: the real client first.
fn sources() -> [SocketAddr; 4] {
    [
        ([192, 0, 2, 1], 1000).into(),
        ([192, 0, 2, 2], 2000).into(),
        ([198, 51, 100, 7], 3000).into(),
        (std::net::Ipv6Addr::LOCALHOST, 4000).into(),
    ]
}

const CLIENT_ID: ConnId = ConnId(0x0123_4567_89ab_cdef);

struct Rig {
    l: ReliableListener,
    t: MemoryDatagramTransport,
    cfg: ReliableConfig,
    client: Connection,
    /// The real client's latest datagram.
    latest: Vec<u8>,
    now: Instant,
}

impl Rig {
    /// Delivers `d` from `from` to the listener.
    fn deliver(&mut self, from: SocketAddr, d: &[u8]) {
        self.l
            .datagrams_received(&mut self.t, &[Datagram::new(Some(from), d)]);
    }

    /// One round: the client's datagrams to the listener, the listener's
    /// answers to the client (the rest are checked and dropped).
    fn round(&mut self) {
        let client_addr = sources()[0];
        let mut out = Vec::new();
        let mut n = 0;
        while self.client.poll_transmit(self.now, &mut out) {
            n += 1;
            assert!(n < 10_000, "poll_transmit never stops");
            self.latest.clone_from(&out);
            let d = std::mem::take(&mut out);
            self.deliver(client_addr, &d);
        }
        for tx in self.t.take_sent() {
            assert!(
                tx.contents.len() <= self.cfg.mtu,
                "{} > mtu",
                tx.contents.len()
            );
            let Some(to) = tx.destination else {
                panic!("a datagram without a destination");
            };
            if to == client_addr {
                self.client.handle_datagram(self.now, &tx.contents);
            }
        }
        while self.client.read(self.now, usize::MAX).is_some() {}
        let _ = self.client.take_fin(self.now);
        let _ = self.client.take_reset();
    }

    /// Moves the clock and fires whatever is due, on both sides.
    fn advance(&mut self, dt: Duration) {
        self.t.advance(dt);
        self.now += dt;
        // A driver calls again while a deadline has passed. One call may
        // leave another timer due (loss detection first, then the probe
        // timer, as RFC 9002 §6.2 has it), but they must settle at once:
        // a deadline still past after a few calls is a busy timer.
        for _ in 0..4 {
            if self.l.next_deadline().is_some_and(|d| d <= self.now) {
                self.l.on_deadline(&mut self.t);
            }
        }
        if let Some(d) = self.l.next_deadline() {
            assert!(d > self.now, "a listener timer stays past: busy");
        }
        for _ in 0..4 {
            if self.client.next_timeout().is_some_and(|t| t <= self.now) {
                self.client.handle_timeout(self.now);
            }
        }
    }

    fn check(&self) {
        assert!(self.l.connections() <= MAX_CONNECTIONS);
        for id in self.l.connection_ids() {
            if let Some(c) = self.l.connection(id) {
                assert!(c.send_buffered() <= self.cfg.max_send_buffer);
                assert!(c.recv_buffered() as u64 <= self.cfg.max_recv_window);
            }
        }
    }
}

/// One record: its flags and bytes.
fn records(mut rest: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&flags, r) = rest.split_first()?;
        let (len, r) = r.split_at(r.len().min(2));
        let len = len.iter().fold(0usize, |n, &b| n << 8 | usize::from(b));
        let (d, r) = r.split_at(len.min(r.len()));
        rest = r;
        Some((flags, d))
    })
}

/// Feeds `data` (see the module documentation) to a listener next to a
/// real client and checks the invariants.
pub fn reliable_listener(data: &[u8]) {
    let ([ctl], rest) = crate::control::<1>(data);
    let cfg = config(ctl & 1 == 0);
    let factory: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
    let mut t = MemoryDatagramTransport::new(1500);
    let mut l = ReliableListener::new(cfg.clone(), factory);
    l.connection_made(&mut t);
    let now = t.now();
    let client_cfg = ReliableConfig {
        require_retry: false,
        ..config(false)
    };
    let mut client = Connection::connect(client_cfg, now, CLIENT_ID, ConnId(0x77));
    for _ in 0..(ctl >> 2) & 3 {
        let _ = client.write(now, &[0x5a; 3000]);
    }
    let mut r = Rig {
        l,
        t,
        cfg,
        client,
        latest: Vec::new(),
        now,
    };
    r.round();
    let all: Vec<(u8, &[u8])> = records(rest).collect();
    let half = all.len() / 2;
    for (i, (flags, bytes)) in all.into_iter().enumerate() {
        if ctl & 2 != 0 && i == half {
            r.l.on_shutdown(&mut r.t);
        }
        let mut d = if flags & 4 != 0 {
            let mut d = r.latest.clone();
            for (slot, b) in d.iter_mut().skip(1).zip(bytes) {
                *slot ^= b;
            }
            d
        } else {
            bytes.to_vec()
        };
        if flags & 8 != 0 {
            let ids = r.l.connection_ids();
            if let Some(id) = ids.get(usize::from(flags) % ids.len().max(1)) {
                let at = if d.first().is_some_and(|b| b & 0x80 != 0) {
                    5
                } else {
                    1
                };
                if let Some(slot) = d.get_mut(at..at + 8) {
                    slot.copy_from_slice(&id.0.to_be_bytes());
                }
            }
        }
        let from = sources()[usize::from(flags & 3)];
        r.deliver(from, &d);
        if flags & 0x10 != 0 && !r.client.is_closing() {
            let _ = r.client.write(r.now, &[0xa5; 1000]);
        }
        r.round();
        let dt = Duration::from_millis(150 * u64::from(flags >> 5));
        if !dt.is_zero() {
            r.advance(dt);
        }
        r.check();
    }
    // A few more rounds with the real client, then silence: once the idle
    // timeout (and any draining) has passed, nothing may be left.
    for _ in 0..4 {
        r.round();
        r.advance(Duration::from_millis(50));
        r.check();
    }
    let quiet = r.cfg.idle_timeout + r.cfg.handshake_timeout;
    for _ in 0..8 {
        r.t.take_sent();
        r.advance(quiet / 4);
    }
    r.check();
    assert_eq!(
        r.l.connections(),
        0,
        "connections outlived the idle timeout: {:?}",
        r.l.stats()
    );
}
