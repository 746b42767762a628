//! The reliable mapping under attack: a [`ReliableListener`] and a
//! [`Reliable`] client on the test kit's simulated network, whose tamper
//! hook records and drops datagrams, and whose `inject` replays them and
//! sends from spoofed addresses.
//!
//! Off-path attackers (wire spec §9.1-9.2): Initial floods from spoofed
//! sources, forged and misused tokens, blind injection and CLOSE with
//! guessed ids, replays, malformed datagrams, a full listener, a peer that
//! goes silent.

mod reliable_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reliable_support::{fill, first_mismatch};
use strata::reliable::wire::{self, ConnId, ErrorCode, Frame, Header, PacketNumber, PacketType};
use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::testing::{LinkConfig, NodeId, SimNet, Verdict};
use strata::StreamFactory;
use strata::{
    Close, Datagram, DatagramProtocol, DatagramTransport, StreamProtocol, StreamTransport, Timeout,
    WakeRoute,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const SERVER: &str = "10.0.0.2:4433";
const CLIENT: &str = "10.0.0.1:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The `i`th spoofed source address.
fn spoofed(i: u32) -> SocketAddr {
    let [a, b, c, d] = (0x0b00_0000u32 | i).to_be_bytes();
    SocketAddr::from(([a, b, c, d], 1024 + (i % 60_000) as u16))
}

// --- the application on each end ---

/// What one end's application saw.
#[derive(Debug, Default)]
struct Seen {
    connected: bool,
    received: u64,
    mismatch: Option<u64>,
    eof: bool,
    lost: Option<Close>,
}

type Shared = Arc<Mutex<Seen>>;

/// Sends `total` bytes of pattern `seed` then FIN (respecting
/// back-pressure); checks it receives pattern `expect`.
struct Peer {
    total: u64,
    sent: u64,
    seed: u64,
    expect: u64,
    seen: Shared,
}

impl Peer {
    fn new(total: u64, seed: u64, expect: u64, seen: Shared) -> Peer {
        Peer {
            total,
            sent: 0,
            seed,
            expect,
            seen,
        }
    }

    fn pump(&mut self, t: &mut dyn StreamTransport) {
        let mut buf = Vec::new();
        while self.sent < self.total && t.writable() {
            let n = (self.total - self.sent).min(8192);
            buf.clear();
            fill(self.seed, self.sent, n, &mut buf);
            t.write(&buf);
            self.sent += n;
        }
        if self.sent == self.total {
            self.sent += 1;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Peer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().connected = true;
        self.pump(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        let mut s = self.seen.lock().unwrap();
        if s.mismatch.is_none() {
            s.mismatch = first_mismatch(self.expect, s.received, data);
        }
        s.received += data.len() as u64;
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().eof = true;
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
}

// --- the network ---

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum To {
    Server,
    Client,
}

impl To {
    fn addr(self) -> SocketAddr {
        match self {
            To::Server => addr(SERVER),
            To::Client => addr(CLIENT),
        }
    }
}

/// A datagram in flight or recorded: its source, destination and bytes.
#[derive(Clone, Debug)]
struct Wire {
    from: SocketAddr,
    to: To,
    data: Vec<u8>,
}

/// What the tamper hook saw, and whether it cuts the path.
#[derive(Default)]
struct Tap {
    /// Every datagram the two ends sent to each other.
    log: Vec<Wire>,
    /// What the listener sent to addresses no node has (spoofed sources).
    elsewhere: Vec<(SocketAddr, Vec<u8>)>,
    /// Drop everything between the two ends.
    cut: bool,
}

/// A protocol the simulated network runs and the test reads between steps.
struct Node<P>(Arc<Mutex<P>>);

impl<P: DatagramProtocol> DatagramProtocol for Node<P> {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.0.lock().unwrap().connection_made(t)
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        self.0.lock().unwrap().datagrams_received(t, batch)
    }
    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        self.0.lock().unwrap().eof_received(t)
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.0.lock().unwrap().pause_writing(t)
    }
    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        self.0.lock().unwrap().resume_writing(t)
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.0.lock().unwrap().next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        self.0.lock().unwrap().on_deadline(t)
    }
    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        self.0.lock().unwrap().on_wake(t, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn DatagramTransport) {
        self.0.lock().unwrap().on_shutdown(t)
    }
    fn error_received(&mut self, t: &mut dyn DatagramTransport, kind: std::io::ErrorKind) {
        self.0.lock().unwrap().error_received(t, kind)
    }
    fn buffered(&self) -> usize {
        self.0.lock().unwrap().buffered()
    }
}

/// The listener and (maybe) a client on the test kit's simulated network,
/// joined by a 10 ms link; a tamper hook records the wire and can cut it.
struct Net {
    sim: SimNet,
    listener: Arc<Mutex<ReliableListener>>,
    client: Option<(NodeId, Arc<Mutex<Reliable<Peer>>>)>,
    tap: Arc<Mutex<Tap>>,
    client_seen: Shared,
    server_seen: Shared,
}

impl Net {
    /// A listener (its connections send `down` bytes) and, if `up` is set,
    /// a client that sends `up` bytes.
    fn new(cfg: ReliableConfig, up: Option<u64>, down: u64) -> Net {
        let server_seen = Shared::default();
        let ss = server_seen.clone();
        let factory: StreamFactory = Arc::new(move || {
            Box::new(Peer::new(down, 2, 1, ss.clone())) as Box<dyn StreamProtocol>
        });
        let mut sim = SimNet::new(1);
        sim.set_tracing(false);
        let listener = Arc::new(Mutex::new(ReliableListener::new(cfg.clone(), factory)));
        let server = sim.add_node(addr(SERVER), Box::new(Node(listener.clone())));
        let client_seen = Shared::default();
        let client = up.map(|up| {
            let c =
                Reliable::connect_to(addr(SERVER), cfg, Peer::new(up, 1, 2, client_seen.clone()));
            let c = Arc::new(Mutex::new(c));
            let id = sim.add_node(addr(CLIENT), Box::new(Node(c.clone())));
            sim.link_both(id, server, LinkConfig::default().delay(ms(10)));
            (id, c)
        });
        let tap = Arc::new(Mutex::new(Tap::default()));
        let t = tap.clone();
        sim.set_tamper(move |d| {
            let mut tap = t.lock().unwrap();
            if d.to_node.is_none() {
                tap.elsewhere.push((d.to, d.data.clone()));
                return Verdict::Pass;
            }
            let to = if d.to == addr(SERVER) {
                To::Server
            } else {
                To::Client
            };
            tap.log.push(Wire {
                from: d.from,
                to,
                data: d.data.clone(),
            });
            if tap.cut {
                Verdict::Drop
            } else {
                Verdict::Pass
            }
        });
        sim.start();
        Net {
            sim,
            listener,
            client,
            tap,
            client_seen,
            server_seen,
        }
    }

    fn listener(&self) -> MutexGuard<'_, ReliableListener> {
        self.listener.lock().unwrap()
    }

    fn tap(&self) -> MutexGuard<'_, Tap> {
        self.tap.lock().unwrap()
    }

    fn now(&self) -> Instant {
        self.sim.now()
    }

    /// Reads the client's connection.
    fn conn<R>(&self, f: impl FnOnce(&strata::reliable::Connection) -> R) -> R {
        let c = self.client.as_ref().expect("a client").1.lock().unwrap();
        f(c.connection().expect("a client connection"))
    }

    /// How the client's transport ended, if it did.
    fn client_finished(&self) -> Option<Close> {
        let id = self.client.as_ref()?.0;
        self.sim.stack(id)?.finished().cloned()
    }

    /// Hands `w` to its end now (an attacker's datagram, or a replay).
    fn inject(&mut self, w: &Wire) {
        self.sim.inject(w.from, w.to.addr(), &w.data);
    }

    fn attack(&mut self, from: SocketAddr, data: &[u8]) {
        self.sim.inject(from, addr(SERVER), data);
    }

    fn advance_to(&mut self, t: Instant) {
        let d = t.saturating_duration_since(self.now());
        self.sim.advance(d);
    }

    /// Delivers what is due or fires the next timer; false when nothing is
    /// left to happen.
    fn step(&mut self) -> bool {
        self.sim.step()
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now() + limit;
        let mut same = 0;
        for _ in 0..1_000_000 {
            if done(self) {
                return true;
            }
            let before = self.now();
            if self.now() > end || !self.step() {
                return done(self);
            }
            same = if self.now() == before { same + 1 } else { 0 };
            assert!(same < 10_000, "a timer spins");
        }
        panic!("the link did not settle");
    }

    fn transfer_done(&self, up: u64, down: u64) -> bool {
        let c = self.client_seen.lock().unwrap();
        let s = self.server_seen.lock().unwrap();
        c.eof
            && s.eof
            && c.received == down
            && s.received == up
            && c.lost.is_some()
            && s.lost.is_some()
    }

    /// Every byte arrived once, in order, both ways; both ends closed
    /// cleanly; the listener forgot the connection.
    fn check_transfer(&self, up: u64, down: u64) {
        let c = self.client_seen.lock().unwrap();
        let s = self.server_seen.lock().unwrap();
        assert!(c.connected && s.connected, "{c:?} {s:?}");
        assert_eq!((c.mismatch, s.mismatch), (None, None));
        assert_eq!((s.received, c.received), (up, down));
        assert!(c.eof && s.eof);
        assert!(
            c.lost.as_ref().is_some_and(|l| l.is_clean()),
            "client: {:?}",
            c.lost
        );
        assert!(
            s.lost.as_ref().is_some_and(|l| l.is_clean()),
            "server: {:?}",
            s.lost
        );
    }
}

// --- crafted packets ---

/// A padded Initial from client id `src` to `dst` with `token`.
fn initial(src: ConnId, dst: ConnId, token: &[u8], pn: u64) -> Vec<u8> {
    let mut out = Vec::new();
    Header::Initial {
        dst,
        src,
        token,
        number: PacketNumber(pn),
    }
    .encode(&mut out)
    .unwrap();
    Frame::MaxData { max: 65_536 }.encode(&mut out).unwrap();
    wire::pad_to(&mut out, 0, wire::MIN_INITIAL_SIZE);
    out
}

fn short(dst: ConnId, pn: u64, frames: &[Frame<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    Header::Short {
        dst,
        number: PacketNumber(pn),
    }
    .encode(&mut out)
    .unwrap();
    for f in frames {
        f.encode(&mut out).unwrap();
    }
    out
}

/// The CLOSE code of a stateless refusal (a Handshake to `client` with only
/// a CLOSE).
fn refusal_code(d: &[u8], client: ConnId) -> Option<ErrorCode> {
    let p = wire::parse_packet(d).ok()?;
    let Header::Handshake { dst, .. } = p.header else {
        return None;
    };
    assert_eq!(dst, client);
    let frames: Vec<_> = p.frames().collect::<Result<_, _>>().ok()?;
    match frames.as_slice() {
        [Frame::Close { code, .. }] => Some(*code),
        _ => None,
    }
}

/// The token of a Retry to `client`.
fn retry_token(d: &[u8], client: ConnId) -> (ConnId, Vec<u8>) {
    match wire::parse_packet(d).expect("a Retry").header {
        Header::Retry { dst, src, token } => {
            assert_eq!(dst, client);
            (src, token.to_vec())
        }
        h => panic!("not a Retry: {h:?}"),
    }
}

fn cfg() -> ReliableConfig {
    ReliableConfig::default()
}

// --- spoofed floods ---

#[test]
fn an_initial_flood_from_spoofed_sources_allocates_nothing() {
    let mut net = Net::new(cfg(), None, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    const N: u32 = 10_000;
    for i in 0..N {
        let d = initial(
            ConnId(rng.r#gen()),
            ConnId(rng.r#gen()),
            &[],
            rng.gen_range(0..4),
        );
        net.attack(spoofed(i), &d);
    }
    assert_eq!(net.listener().connections(), 0);
    let st = net.listener().stats();
    assert_eq!(st.retries, u64::from(N));
    assert_eq!(st.accepted, 0);
    assert_eq!(net.tap().elsewhere.len(), N as usize);
    for (i, (to, d)) in net.tap().elsewhere.iter().enumerate() {
        assert_eq!(*to, spoofed(i as u32));
        assert!(
            d.len() < wire::MIN_INITIAL_SIZE,
            "a Retry of {} bytes",
            d.len()
        );
        assert_eq!(
            wire::parse_packet(d).unwrap().header.packet_type(),
            PacketType::Retry
        );
    }
    assert_eq!(net.listener().next_deadline(), None, "no timers either");
}

#[test]
fn no_answer_is_bigger_than_the_datagram_that_caused_it() {
    let mut net = Net::new(cfg(), None, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut answered_big = 0;
    for i in 0..2000u32 {
        // Long headers of other versions, small and Initial-sized.
        let mut d = vec![0xc0 | (rng.r#gen::<u8>() & 0x3f)];
        d.extend_from_slice(&rng.gen_range(2u32..u32::MAX).to_be_bytes());
        d.extend_from_slice(&rng.r#gen::<[u8; 16]>());
        let extra = if i % 2 == 0 {
            rng.gen_range(0..40)
        } else {
            1200 - 21
        };
        d.extend((0..extra).map(|_| rng.r#gen::<u8>()));
        let before = net.tap().elsewhere.len();
        net.attack(spoofed(i), &d);
        for (_, out) in &net.tap().elsewhere[before..] {
            assert!(
                out.len() <= d.len(),
                "{} bytes answered with {}",
                d.len(),
                out.len()
            );
            if d.len() >= wire::MIN_INITIAL_SIZE {
                answered_big += 1;
            }
        }
    }
    // A client that could have opened a connection still learns the
    // versions.
    assert_eq!(answered_big, 1000);
}

// --- tokens ---

#[test]
fn forged_misused_and_expired_tokens_are_refused_without_state() {
    let mut net = Net::new(cfg(), None, 0);
    let a = spoofed(1);
    let b = spoofed(2);
    let me = ConnId(0x1234);
    let other = ConnId(0x5678);
    let refused = |net: &mut Net, from: SocketAddr, client: ConnId, dst: ConnId, token: &[u8]| {
        let before = net.tap().elsewhere.len();
        net.attack(from, &initial(client, dst, token, 1));
        assert_eq!(net.listener().connections(), 0, "state for a bad token");
        let tap = net.tap();
        let sent = &tap.elsewhere[before..];
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, from);
        assert!(sent[0].1.len() < wire::MIN_INITIAL_SIZE);
        assert_eq!(
            refusal_code(&sent[0].1, client),
            Some(ErrorCode::INVALID_TOKEN)
        );
    };
    // A real token, for `me` at `a`.
    net.attack(a, &initial(me, ConnId(9), &[], 0));
    let (server_id, token) = retry_token(&net.tap().elsewhere[0].1, me);
    // Forged: random bytes of the right length, a flipped bit, garbage.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let random: Vec<u8> = (0..token.len()).map(|_| rng.r#gen()).collect();
    refused(&mut net, a, me, server_id, &random);
    let mut flipped = token.clone();
    flipped[20] ^= 1;
    refused(&mut net, a, me, server_id, &flipped);
    refused(&mut net, a, me, server_id, b"x");
    // Another address, another client id.
    refused(&mut net, b, me, server_id, &token);
    refused(&mut net, a, other, server_id, &token);
    assert_eq!(net.listener().stats().invalid_tokens, 5);
    // Expired.
    // A token lives as long as a handshake may: max(cookie_lifetime, handshake_timeout).
    let lifetime = cfg().cookie_lifetime.max(cfg().handshake_timeout);
    let t = net.now() + lifetime + Duration::from_secs(2);
    net.advance_to(t);
    refused(&mut net, a, me, server_id, &token);
    assert_eq!(net.listener().stats().invalid_tokens, 6);
    assert_eq!(net.listener().stats().accepted, 0);
    // The control: a fresh token, used as issued, is accepted.
    let before = net.tap().elsewhere.len();
    net.attack(a, &initial(me, ConnId(9), &[], 0));
    let (server_id, token) = retry_token(&net.tap().elsewhere[before].1, me);
    net.attack(a, &initial(me, server_id, &token, 1));
    assert_eq!(net.listener().connections(), 1);
}

// --- a live transfer under attack ---

const UP: u64 = 400_000;
const DOWN: u64 = 300_000;

fn live() -> Net {
    let mut net = Net::new(cfg(), Some(UP), DOWN);
    assert!(net.run_until(Duration::from_secs(5), |n| {
        n.client_seen.lock().unwrap().connected && n.listener().connections() == 1
    }));
    net
}

#[test]
fn the_transfer_completes_without_an_attacker() {
    let mut net = live();
    assert!(net.run_until(Duration::from_secs(60), |n| n.transfer_done(UP, DOWN)));
    net.check_transfer(UP, DOWN);
    assert!(net.run_until(Duration::from_secs(30), |n| n.listener().connections() == 0));
}

#[test]
fn blind_injection_with_guessed_ids_changes_nothing() {
    let mut net = live();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let server_before = net.listener().stats().dropped_unknown;
    let mut injected = 0u64;
    // Step by hand and inject between steps.
    let mut steps = 0u64;
    let done = loop {
        if net.transfer_done(UP, DOWN) {
            break true;
        }
        if steps > 200_000 || !net.step() {
            break false;
        }
        steps += 1;
        for _ in 0..3 {
            let dst = ConnId(rng.r#gen());
            let mut d = short(dst, rng.gen_range(0..1 << 20), &[]);
            match rng.gen_range(0..4) {
                0 => {
                    let data: Vec<u8> = (0..rng.gen_range(1..200)).map(|_| rng.r#gen()).collect();
                    wire::encode_stream(&mut d, rng.gen_range(0..UP), &data, false, true).unwrap();
                }
                1 => Frame::Close {
                    code: ErrorCode::PROTOCOL_VIOLATION,
                    reason: b"x",
                }
                .encode(&mut d)
                .unwrap(),
                2 => Frame::Reset {
                    code: ErrorCode(0x100),
                    final_size: rng.gen_range(0..UP),
                }
                .encode(&mut d)
                .unwrap(),
                _ => d.extend((0..rng.gen_range(1..100)).map(|_| rng.r#gen::<u8>())),
            }
            let to = if rng.r#gen() { To::Server } else { To::Client };
            let from = if rng.r#gen() {
                addr(CLIENT)
            } else {
                spoofed(rng.gen_range(0..100))
            };
            net.inject(&Wire { from, to, data: d });
            injected += 1;
        }
    };
    assert!(done, "the transfer did not complete");
    net.check_transfer(UP, DOWN);
    assert!(injected > 1000);
    assert!(net.listener().stats().dropped_unknown > server_before);
    let cs = net.conn(|c| c.stats());
    assert!(cs.dropped_unexpected + cs.dropped_malformed > 0, "{cs:?}");
}

#[test]
fn a_blind_close_with_a_wrong_id_does_not_end_the_connection() {
    let mut net = live();
    let real = net.conn(|c| c.local_cid());
    let server_id = net.conn(|c| c.remote_cid());
    for k in 1..=64u64 {
        let close = Frame::Close {
            code: ErrorCode::NO_ERROR,
            reason: b"bye",
        };
        // One bit off each id, with packet numbers far ahead.
        let bit = 1u64 << (k - 1);
        let to_client = short(ConnId(real.0 ^ bit), 1 << 30, &[close]);
        let to_server = short(ConnId(server_id.0 ^ bit), 1 << 30, &[close]);
        net.inject(&Wire {
            from: addr(SERVER),
            to: To::Client,
            data: to_client,
        });
        net.attack(addr(CLIENT), &to_server);
    }
    assert!(net.conn(|c| c.is_established()));
    assert_eq!(net.listener().connections(), 1);
    assert!(net.run_until(Duration::from_secs(60), |n| n.transfer_done(UP, DOWN)));
    net.check_transfer(UP, DOWN);
}

#[test]
fn replayed_packets_do_not_corrupt_the_stream() {
    let mut net = live();
    // Record the first part of the transfer.
    assert!(net.run_until(Duration::from_secs(60), |n| {
        n.server_seen.lock().unwrap().received > UP / 3
    }));
    let recorded: Vec<Wire> = net.tap().log.clone();
    assert!(recorded.len() > 100);
    let dup_server = net.listener().stats();
    // Replay everything (the handshake, data, ACKs) now and then, from
    // the original addresses and from others.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut steps = 0;
    let done = loop {
        if net.transfer_done(UP, DOWN) {
            break true;
        }
        if steps > 200_000 || !net.step() {
            break false;
        }
        steps += 1;
        if steps % 50 == 0 {
            for w in &recorded {
                let mut w = w.clone();
                if rng.gen_ratio(1, 4) {
                    w.from = spoofed(rng.gen_range(0..10));
                }
                net.inject(&w);
            }
        }
    };
    assert!(done, "the transfer did not complete");
    net.check_transfer(UP, DOWN);
    let cs = net.conn(|c| c.stats());
    assert!(cs.dropped_duplicate > 100, "{cs:?}");
    // The replayed Initial with its token, from another address, is
    // refused; from the client's own, it is routed and dropped.
    assert!(net.listener().stats().invalid_tokens > dup_server.invalid_tokens);
    assert_eq!(net.listener().stats().accepted, 1);
}

#[test]
fn malformed_datagrams_are_counted_and_never_panic() {
    let mut net = live();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let samples: Vec<Vec<u8>> = net.tap().log.iter().map(|w| w.data.clone()).collect();
    let before = net.listener().stats().dropped_malformed;
    let client_before = net.conn(|c| c.stats()).dropped_malformed;
    let mut sent = 0u64;
    for i in 0..3000u32 {
        let base = &samples[i as usize % samples.len()];
        let d: Vec<u8> = match i % 5 {
            // Truncated inside the header.
            0 => base[..rng.gen_range(1..base.len().min(9))].to_vec(),
            // Fixed bit clear.
            1 => {
                let mut d = base.clone();
                d[0] &= !0x40;
                d
            }
            // Reserved bits set in a short header.
            2 => {
                let mut d = base.clone();
                d[0] = 0x40 | rng.gen_range(1..0x40);
                d
            }
            // Garbage.
            3 => (0..rng.gen_range(1..1500))
                .map(|_| rng.r#gen::<u8>() & !0x40)
                .collect(),
            // Empty.
            _ => Vec::new(),
        };
        for to in [To::Server, To::Client] {
            net.inject(&Wire {
                from: addr(CLIENT),
                to,
                data: d.clone(),
            });
        }
        sent += 1;
    }
    assert_eq!(net.listener().stats().dropped_malformed - before, sent);
    assert_eq!(
        net.conn(|c| c.stats()).dropped_malformed - client_before,
        sent
    );
    assert!(net.run_until(Duration::from_secs(60), |n| n.transfer_done(UP, DOWN)));
    net.check_transfer(UP, DOWN);
}

/// Completes the handshake of the half-open connection a spoofed `from`
/// opened (its Handshake went to `Tap::elsewhere`): a short packet to the
/// server's id.
fn establish(net: &mut Net, from: SocketAddr) {
    let (_, d) = net
        .tap()
        .elsewhere
        .iter()
        .rev()
        .find(|(a, _)| *a == from)
        .expect("the server answered")
        .clone();
    let Header::Handshake { src, .. } = wire::parse_packet(&d).unwrap().header else {
        panic!("not a Handshake");
    };
    net.attack(from, &short(src, 0, &[Frame::Ping]));
}

#[test]
fn at_max_connections_new_clients_are_refused_without_state() {
    let cfg = ReliableConfig {
        max_connections: 2,
        require_retry: false,
        ..cfg()
    };
    let mut net = Net::new(cfg.clone(), None, 0);
    for i in 1..=2u32 {
        let id = ConnId(u64::from(i));
        net.attack(spoofed(i), &initial(id, ConnId(100 + u64::from(i)), &[], 0));
        establish(&mut net, spoofed(i));
    }
    assert_eq!(net.listener().connections(), 2);
    assert_eq!(net.listener().half_open(), 0);
    for i in 3..50u32 {
        let before = net.tap().elsewhere.len();
        let id = ConnId(u64::from(i));
        net.attack(spoofed(i), &initial(id, ConnId(100 + u64::from(i)), &[], 0));
        assert_eq!(net.listener().connections(), 2);
        let tap = net.tap();
        let sent = &tap.elsewhere[before..];
        assert_eq!(sent.len(), 1);
        assert!(sent[0].1.len() < wire::MIN_INITIAL_SIZE);
        assert_eq!(
            refusal_code(&sent[0].1, id),
            Some(ErrorCode::CONNECTION_REFUSED)
        );
    }
    assert_eq!(net.listener().stats().refused, 47);
    assert_eq!(net.listener().stats().accepted, 2);
}

/// Issue 9: with `require_retry` off, 10,000 spoofed Initials from 1,000
/// sources once filled the 4,096-entry table and refused real clients for
/// up to 30 s. Half-open state has its own bound and is evicted first.
#[test]
fn a_spoofed_initial_flood_without_retry_does_not_lock_out_a_real_client() {
    let cfg = ReliableConfig {
        require_retry: false,
        ..cfg()
    };
    let mut net = Net::new(cfg.clone(), Some(UP), DOWN);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut received = std::collections::HashMap::<SocketAddr, u64>::new();
    for i in 0..10_000u32 {
        let from = spoofed(i % 1000);
        let d = initial(ConnId(rng.r#gen()), ConnId(rng.r#gen()), &[], 0);
        *received.entry(from).or_default() += d.len() as u64;
        net.attack(from, &d);
        assert!(net.listener().half_open() <= cfg.max_half_open);
    }
    assert_eq!(net.listener().stats().refused, 0);
    assert!(net.listener().stats().evicted_half_open >= 10_000 - cfg.max_half_open as u64);
    // No spoofed source got more than three times what it sent.
    let mut sent = std::collections::HashMap::<SocketAddr, u64>::new();
    for (to, d) in &net.tap().elsewhere {
        *sent.entry(*to).or_default() += d.len() as u64;
    }
    for (to, n) in sent {
        assert!(n <= 3 * received[&to], "{to}: {n} for {}", received[&to]);
    }
    // The real client's Initial arrives after the flood: it is served.
    assert!(net.run_until(Duration::from_secs(120), |n| n.transfer_done(UP, DOWN)));
    net.check_transfer(UP, DOWN);
    // The flood's half-open state times out on its own, in 10 s.
    let t = net.now();
    assert!(net.run_until(Duration::from_secs(60), |n| n.listener().connections() == 0));
    assert!(
        net.now() - t <= Duration::from_secs(11),
        "{:?}",
        net.now() - t
    );
}

/// Datagram floods from many source ports beside a live transfer, with and
/// without Retry: the transfer loses nothing, no state is kept for an
/// unvalidated source with Retry on, and no source gets more than 3× what
/// it sent.
#[test]
fn a_flood_from_many_ports_beside_a_transfer_loses_nothing() {
    for retry in [true, false] {
        let cfg = ReliableConfig {
            require_retry: retry,
            ..cfg()
        };
        let mut net = Net::new(cfg.clone(), Some(UP), DOWN);
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut received = std::collections::HashMap::<SocketAddr, u64>::new();
        let mut sent_flood = 0u32;
        loop {
            for _ in 0..20 {
                let from = spoofed(rng.gen_range(0..5000));
                let d = match rng.gen_range(0..4) {
                    0 => initial(ConnId(rng.r#gen()), ConnId(rng.r#gen()), &[], 0),
                    1 => short(ConnId(rng.r#gen()), rng.gen_range(0..100), &[Frame::Ping]),
                    2 => (0..rng.gen_range(1..1400)).map(|_| rng.r#gen()).collect(),
                    _ => initial(ConnId(rng.r#gen()), ConnId(rng.r#gen()), &[1; 41], 0),
                };
                *received.entry(from).or_default() += d.len() as u64;
                net.attack(from, &d);
                sent_flood += 1;
            }
            if retry {
                assert!(
                    net.listener().connections() <= 1,
                    "state for a spoofed source"
                );
            }
            if net.transfer_done(UP, DOWN) || !net.step() {
                break;
            }
        }
        assert!(sent_flood > 1000, "{sent_flood}");
        net.check_transfer(UP, DOWN);
        let mut sent = std::collections::HashMap::<SocketAddr, u64>::new();
        for (to, d) in &net.tap().elsewhere {
            *sent.entry(*to).or_default() += d.len() as u64;
        }
        for (to, n) in sent {
            assert!(n <= 3 * received[&to], "{to}: {n} for {}", received[&to]);
        }
    }
}

/// A client that closed cleanly is told at once; the closing period (which
/// answers a peer's late retransmissions) goes on below it. Issue 9: every
/// `strata connect` over `reliable+udp` took at least 2 s to exit.
#[test]
fn the_protocol_learns_a_clean_close_before_the_closing_period_ends() {
    let mut net = live();
    assert!(net.run_until(Duration::from_secs(60), |n| {
        n.client_seen.lock().unwrap().lost.is_some()
    }));
    assert!(net
        .client_seen
        .lock()
        .unwrap()
        .lost
        .as_ref()
        .unwrap()
        .is_clean());
    assert!(net.conn(|c| c.is_closing()));
    assert!(
        !net.conn(|c| c.is_closed()),
        "told only after the closing period"
    );
    assert!(net.run_until(Duration::from_secs(60), |n| n.transfer_done(UP, DOWN)));
    net.check_transfer(UP, DOWN);
}

/// A real client against a listener whose only slot is taken: what the
/// client's owner (the transport's abort) or its protocol (connection_lost)
/// was told.
fn refused_client() -> (Net, String) {
    let cfg = ReliableConfig {
        max_connections: 1,
        ..cfg()
    };
    let mut net = Net::new(cfg, Some(1000), 0);
    // Someone else takes the only slot first (with a valid token).
    let other = spoofed(7);
    net.attack(other, &initial(ConnId(77), ConnId(1), &[], 0));
    let (sid, token) = retry_token(&net.tap().elsewhere[0].1, ConnId(77));
    net.attack(other, &initial(ConnId(77), sid, &token, 1));
    // ... and finishes its handshake: half-open state would be evicted.
    establish(&mut net, other);
    assert_eq!(net.listener().connections(), 1);
    assert_eq!(net.listener().half_open(), 0);
    net.run_until(Duration::from_secs(5), |n| {
        n.client_finished().is_some() || n.client_seen.lock().unwrap().lost.is_some()
    });
    let why = match net.client_finished() {
        Some(a) => a.to_string(),
        None => net
            .client_seen
            .lock()
            .unwrap()
            .lost
            .as_ref()
            .map(|l| l.to_string())
            .expect("the client was told"),
    };
    assert_eq!(net.listener().connections(), 1);
    assert_eq!(net.listener().stats().refused, 1);
    (net, why)
}

#[test]
fn a_real_client_refused_by_a_full_listener_learns_why() {
    let (_, why) = refused_client();
    assert!(why.contains("CONNECTION_REFUSED"), "{why}");
}

#[test]
fn a_refused_client_never_reports_a_connection() {
    let (net, why) = refused_client();
    assert!(
        !net.client_seen.lock().unwrap().connected,
        "connection_made for a refused attempt ({why})"
    );
    assert!(
        net.client_finished().is_some_and(|c| !c.is_clean()),
        "the connect fails: {why}"
    );
}

#[test]
fn a_silent_peer_is_declared_dead_on_both_sides_within_the_idle_timeout() {
    let cfg = ReliableConfig {
        idle_timeout: Duration::from_secs(6),
        keepalive: Some(Duration::from_secs(2)),
        ..cfg()
    };
    let mut net = Net::new(cfg, Some(50_000_000), 50_000_000);
    assert!(net.run_until(Duration::from_secs(5), |n| {
        n.client_seen.lock().unwrap().received > 100_000
    }));
    // The path dies both ways in the middle of the transfer.
    let cut = net.now();
    net.tap().cut = true;
    assert!(net.run_until(Duration::from_secs(60), |n| {
        n.client_seen.lock().unwrap().lost.is_some()
            && n.server_seen.lock().unwrap().lost.is_some()
            && n.listener().connections() == 0
    }));
    let took = net.now() - cut;
    assert!(took <= Duration::from_secs(6) + ms(100), "{took:?}");
    for seen in [&net.client_seen, &net.server_seen] {
        let s = seen.lock().unwrap();
        assert!(
            matches!(s.lost, Some(Close::Timeout(Timeout::Idle))),
            "{:?}",
            s.lost
        );
    }
    assert_eq!(net.listener().next_deadline(), None);
}
