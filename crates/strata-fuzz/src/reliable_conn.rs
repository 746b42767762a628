//! Target `reliable_conn`: arbitrary datagrams into the reliable mapping's
//! connection state machine (`strata::reliable::Connection`) and into a
//! `ReliableListener` over a memory datagram transport.
//!
//! Input: two control bytes, then records `[flags, len (2 bytes, big
//! endian), len bytes]`.
//! - Control byte 0, bit 0 clear: a **client connection**, first brought
//!   to the state `control[1] % 6` picks (Initial sent; Retry taken;
//!   established with data both ways; closing; draining; half-closed).
//!   Set: a **listener** (`control[1]` bit 0: without Retry, so that
//!   Initials create connections).
//! - Record flags: bit 0 writes the target's connection id over the
//!   datagram's destination id (bit 1: at the long header's offset), so
//!   that datagrams get past the id check; bits 2-3 pick the source
//!   address (listener); bit 4 has the client write 3000 bytes; bits 5-7
//!   advance the clock by that many × 150 ms and fire due timers.
//!
//! No input may panic, and after every record: every datagram sent fits
//! the MTU (an Initial is padded to 1200); each connection's send and
//! receive buffers stay within the configured limits; a listener keeps at
//! most `max_connections` connections; a closed connection sends nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::reliable::wire::{ConnId, ErrorCode, Frame, Header, PacketNumber};
use strata::reliable::{Connection, ReliableConfig, ReliableListener};
use strata::testing::{epoch, MemoryDatagramTransport};
use strata::StreamFactory;
use strata::{Datagram, DatagramProtocol, DatagramTransport, StreamProtocol, StreamTransport};

const MTU: usize = 1200;
const MAX_CONNECTIONS: usize = 4;

fn config() -> ReliableConfig {
    ReliableConfig {
        recv_window: 64 * 1024,
        max_recv_window: 128 * 1024,
        send_buffer: 16 * 1024,
        max_send_buffer: 64 * 1024,
        max_connections: MAX_CONNECTIONS,
        max_half_open: MAX_CONNECTIONS,
        ..ReliableConfig::default()
    }
}

/// Feeds `data` (see the module documentation) to a client connection or
/// a listener and checks the invariants.
pub fn reliable_conn(data: &[u8]) {
    let (ctl, rest) = crate::control::<2>(data);
    if ctl[0] & 1 == 0 {
        client(ctl[1], rest);
    } else {
        listener(ctl[1] & 1 == 1, rest);
    }
}

/// One record: its flags and datagram.
fn records(mut rest: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&flags, r) = rest.split_first()?;
        let (len, r) = r.split_at(r.len().min(2));
        let len = len.iter().fold(0usize, |n, &b| n << 8 | usize::from(b));
        let n = len.min(r.len());
        let (d, r) = r.split_at(n);
        rest = r;
        Some((flags, d))
    })
}

/// `d` with `id` written over its destination id (if it is long enough).
fn patch(flags: u8, d: &[u8], id: ConnId) -> Vec<u8> {
    let mut d = d.to_vec();
    if flags & 1 != 0 {
        let at = if flags & 2 != 0 { 5 } else { 1 };
        if let Some(slot) = d.get_mut(at..at + 8) {
            slot.copy_from_slice(&id.0.to_be_bytes());
        }
    }
    d
}

fn tick(flags: u8) -> Duration {
    Duration::from_millis(150 * u64::from(flags >> 5))
}

// --- a client connection ---

struct Client {
    now: Instant,
    conn: Connection,
    /// The server of the setup, kept so that established states are real.
    server: Option<Connection>,
    out: Vec<u8>,
}

const CLIENT_ID: ConnId = ConnId(0x0123_4567_89ab_cdef);
const SERVER_ID: ConnId = ConnId(0x0fed_cba9_8765_4321);

impl Client {
    /// Sends what is due; checks each datagram.
    fn flush(&mut self) -> Vec<Vec<u8>> {
        let mut sent = Vec::new();
        while self.conn.poll_transmit(self.now, &mut self.out) {
            assert!(!self.conn.is_closed(), "a closed connection sent");
            assert!(self.out.len() <= MTU, "{} > mtu", self.out.len());
            sent.push(self.out.clone());
            assert!(sent.len() < 10_000, "poll_transmit never stops");
        }
        sent
    }

    /// Plays the setup's server for a few rounds.
    fn exchange(&mut self, rounds: usize) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        for _ in 0..rounds {
            for d in self.flush() {
                server.handle_datagram(self.now, &d);
            }
            while server.poll_transmit(self.now, &mut self.out) {
                let d = self.out.clone();
                self.conn.handle_datagram(self.now, &d);
            }
            while server.read(self.now, usize::MAX).is_some() {}
            self.now += Duration::from_millis(5);
        }
        self.server = Some(server);
    }

    fn check(&self) {
        let cfg = self.conn.config();
        assert!(self.conn.send_buffered() <= cfg.max_send_buffer);
        assert!(self.conn.recv_buffered() as u64 <= cfg.max_recv_window);
        if let Some(t) = self.conn.next_timeout() {
            // A deadline far in the past would be a stale timer.
            assert!(t + Duration::from_secs(3600) > self.now);
        }
    }
}

/// A client connection brought to state `state % 6`.
fn client_in(state: u8) -> Client {
    let now = epoch();
    let mut c = Client {
        now,
        conn: Connection::connect(config(), now, CLIENT_ID, ConnId(7)),
        server: None,
        out: Vec::with_capacity(MTU),
    };
    c.flush();
    match state % 6 {
        0 => {}
        1 => {
            let mut retry = Vec::new();
            let h = Header::Retry {
                dst: CLIENT_ID,
                src: SERVER_ID,
                token: b"token",
            };
            if h.encode(&mut retry).is_ok() {
                c.conn.handle_datagram(now, &retry);
            }
        }
        s => {
            c.server = Some(Connection::accept(
                config(),
                now,
                SERVER_ID,
                CLIENT_ID,
                true,
            ));
            c.conn.write(now, &[0x42; 5000]);
            if let Some(server) = c.server.as_mut() {
                server.write(now, &[0x24; 5000]);
            }
            c.exchange(6);
            match s {
                3 => c.conn.close(c.now, ErrorCode(0x100), b"fuzz"),
                4 => {
                    let mut close = Vec::new();
                    let h = Header::Short {
                        dst: CLIENT_ID,
                        number: PacketNumber(1 << 20),
                    };
                    if h.encode(&mut close).is_ok()
                        && (Frame::Close {
                            code: ErrorCode::NO_ERROR,
                            reason: b"",
                        })
                        .encode(&mut close)
                        .is_ok()
                    {
                        c.conn.handle_datagram(c.now, &close);
                    }
                }
                5 => c.conn.finish(),
                _ => {}
            }
        }
    }
    c
}

fn client(state: u8, rest: &[u8]) {
    let mut c = client_in(state);
    c.check();
    for (flags, d) in records(rest) {
        let d = patch(flags, d, CLIENT_ID);
        c.conn.handle_datagram(c.now, &d);
        if flags & 0x10 != 0 && !c.conn.is_closing() {
            // Within the high-water mark, as the layer keeps it.
            if c.conn.send_buffered() + 3000 <= c.conn.config().send_buffer {
                let _ = c.conn.write(c.now, &[0x5a; 3000]);
            }
        }
        let dt = tick(flags);
        if !dt.is_zero() {
            c.now += dt;
            if c.conn.next_timeout().is_some_and(|t| t <= c.now) {
                c.conn.handle_timeout(c.now);
            }
        }
        c.flush();
        while c.conn.read(c.now, 4096).is_some() {}
        let _ = c.conn.take_fin(c.now);
        let _ = c.conn.take_reset();
        c.check();
    }
    // The real peer still talks to it afterwards without a panic.
    c.exchange(3);
    c.check();
}

// --- a listener ---

/// Echoes what it receives (bounded by the layer's limits).
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

fn listener(no_retry: bool, rest: &[u8]) {
    let cfg = ReliableConfig {
        require_retry: !no_retry,
        ..config()
    };
    let factory: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
    let mut l = ReliableListener::new(cfg.clone(), factory);
    let mut t = MemoryDatagramTransport::new(1500);
    l.connection_made(&mut t);
    let sources: [SocketAddr; 4] = [
        ([192, 0, 2, 1], 1000).into(),
        ([192, 0, 2, 2], 2000).into(),
        ([198, 51, 100, 7], 3000).into(),
        (std::net::Ipv6Addr::LOCALHOST, 4000).into(),
    ];
    let mut now = t.now();
    for (flags, d) in records(rest) {
        // Aim at an open connection now and then.
        let ids = l.connection_ids();
        let target = ids
            .get(usize::from(flags >> 2) % ids.len().max(1))
            .copied()
            .unwrap_or(ConnId(0));
        let d = patch(flags, d, target);
        let from = sources[usize::from(flags >> 2) & 3];
        l.datagrams_received(&mut t, &[Datagram::new(Some(from), &d)]);
        let dt = tick(flags);
        if !dt.is_zero() {
            t.advance(dt);
            now += dt;
            if l.next_deadline().is_some_and(|d| d <= now) {
                l.on_deadline(&mut t);
            }
        }
        for tx in t.take_sent() {
            assert!(tx.contents.len() <= cfg.mtu, "{} > mtu", tx.contents.len());
            assert!(tx.destination.is_some());
        }
        // Established and half-open connections are bounded apart.
        assert!(l.connections() <= 2 * MAX_CONNECTIONS);
        assert!(l.half_open() <= MAX_CONNECTIONS);
        for id in l.connection_ids() {
            if let Some(c) = l.connection(id) {
                assert!(c.send_buffered() <= cfg.max_send_buffer);
                assert!(c.recv_buffered() as u64 <= cfg.max_recv_window);
            }
        }
        if cfg.require_retry {
            // No token can be guessed: nothing is ever accepted.
            assert_eq!(l.stats().accepted, 0);
        }
    }
}
