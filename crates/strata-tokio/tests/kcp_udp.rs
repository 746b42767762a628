//! KCP over real UDP on 127.0.0.1, against the `kcp` crate (a port of
//! ikcp) driven by a `std::net::UdpSocket` in a plain thread:
//! (a) our `KcpStream` client on a connected socket <-> a `kcp` crate server;
//! (b) a `kcp` crate client <-> our `KcpListener` on an unconnected socket.
//! 1 MB each way at once, every byte checked. The `kcp` crate runs in fast
//! mode; our side uses the default config (congestion control on).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
use strata::{Addr, Close, PeerAddr, StackConfig, StreamFactory, StreamProtocol, StreamTransport};
use strata_tokio::Server;

const MB: usize = 1 << 20;
const CONV: u32 = 0x0BAD_CAFE;
/// Each test must finish well within this.
const LIMIT: Duration = Duration::from_secs(20);

/// Deterministic bytes (xorshift), different per seed.
fn pattern(n: usize, seed: u64) -> Arc<Vec<u8>> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Arc::new(
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect(),
    )
}

/// Our side's protocol: writes `to_send` under back-pressure, collects what
/// arrives and checks it byte by byte.
#[derive(Default)]
struct Side {
    to_send: Arc<Vec<u8>>,
    sent: usize,
    expect: Arc<Vec<u8>>,
    got: Vec<u8>,
    bad_at: Option<usize>,
    pauses: u32,
    peer: Option<PeerAddr>,
    chain: Vec<&'static str>,
    lost: Option<Close>,
}

struct Peer(Arc<Mutex<Side>>);

impl Peer {
    fn pump(s: &mut Side, t: &mut dyn StreamTransport) {
        while s.sent < s.to_send.len() && t.writable() {
            let end = (s.sent + 16 * 1024).min(s.to_send.len());
            t.write(&s.to_send[s.sent..end]);
            s.sent = end;
        }
    }
}

impl StreamProtocol for Peer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.0.lock().unwrap();
        s.peer = t.get::<PeerAddr>().cloned();
        s.chain = t.layer_chain();
        Self::pump(&mut s, t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        let mut s = self.0.lock().unwrap();
        let at = s.got.len();
        if s.bad_at.is_none() && s.expect.get(at..at + data.len()) != Some(data) {
            s.bad_at = Some(at);
        }
        s.got.extend_from_slice(data);
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.0.lock().unwrap().pauses += 1;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        Self::pump(&mut self.0.lock().unwrap(), t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

fn side(to_send: &Arc<Vec<u8>>, expect: &Arc<Vec<u8>>) -> Arc<Mutex<Side>> {
    Arc::new(Mutex::new(Side {
        to_send: to_send.clone(),
        expect: expect.clone(),
        ..Side::default()
    }))
}

/// The `kcp` crate's output: one `write` per datagram.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<VecDeque<Vec<u8>>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().push_back(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The foreign peer: a `kcp` crate engine in fast mode on a blocking std
/// socket, in its own thread, until `stop` (or the time limit).
struct Foreign {
    received: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<ForeignOutcome>,
}

struct ForeignOutcome {
    got: Vec<u8>,
    input_errors: usize,
    acked_all: bool,
}

impl Foreign {
    /// Runs on `sock`; sends to `peer`, or to whoever sends first.
    fn spawn(sock: UdpSocket, peer: Option<SocketAddr>, to_send: Arc<Vec<u8>>) -> Foreign {
        let received = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, st) = (received.clone(), stop.clone());
        let handle = std::thread::spawn(move || foreign_loop(sock, peer, &to_send, &r, &st));
        Foreign {
            received,
            stop,
            handle,
        }
    }

    fn finish(self) -> ForeignOutcome {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the foreign peer panicked")
    }
}

fn foreign_loop(
    sock: UdpSocket,
    mut peer: Option<SocketAddr>,
    to_send: &[u8],
    received: &AtomicUsize,
    stop: &AtomicBool,
) -> ForeignOutcome {
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let sink = Sink::default();
    let mut k = kcp::Kcp::new_stream(CONV, sink.clone());
    k.set_nodelay(true, 10, 2, true);
    k.set_wndsize(128, 128);
    let t0 = Instant::now();
    let (mut sent, mut input_errors) = (0, 0);
    let mut got = Vec::with_capacity(MB);
    let mut buf = vec![0u8; 65_536];
    let mut rbuf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) && t0.elapsed() < LIMIT {
        while sent < to_send.len() && k.wait_snd() < 256 {
            let end = (sent + 8192).min(to_send.len());
            sent += k.send(&to_send[sent..end]).unwrap();
        }
        for _ in 0..64 {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    peer.get_or_insert(from);
                    if k.input(&buf[..n]).is_err() {
                        input_errors += 1;
                    }
                }
                Err(_) => break,
            }
        }
        k.update(t0.elapsed().as_millis() as u32).unwrap();
        let out: Vec<Vec<u8>> = sink.0.borrow_mut().drain(..).collect();
        if let Some(p) = peer {
            for d in out {
                // Loopback may drop under a burst; KCP repairs it.
                let _ = sock.send_to(&d, p);
            }
        }
        while let Ok(n) = k.recv(&mut rbuf) {
            got.extend_from_slice(&rbuf[..n]);
        }
        received.store(got.len(), Ordering::Relaxed);
    }
    ForeignOutcome {
        got,
        input_errors,
        acked_all: sent == to_send.len() && k.wait_snd() == 0,
    }
}

/// Polls until both sides have everything, within [`LIMIT`].
async fn wait_both(ours: &Arc<Mutex<Side>>, foreign: &Foreign, t0: Instant) {
    loop {
        let mine = ours.lock().unwrap().got.len();
        let theirs = foreign.received.load(Ordering::Relaxed);
        if mine >= MB && theirs >= MB {
            return;
        }
        assert!(
            t0.elapsed() < LIMIT,
            "stalled: we got {mine}, the kcp crate got {theirs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn check(ours: &Arc<Mutex<Side>>, out: &ForeignOutcome, up: &[u8], down: &[u8]) {
    let s = ours.lock().unwrap();
    assert_eq!(s.bad_at, None, "wrong bytes from the kcp crate");
    assert_eq!(s.got.len(), down.len());
    assert!(s.got == down);
    assert_eq!(out.got.len(), up.len());
    assert!(out.got == up, "the kcp crate got wrong bytes");
    assert_eq!(out.input_errors, 0, "the kcp crate rejected our datagrams");
    assert!(s.lost.is_none(), "{:?}", s.lost);
    assert_eq!(s.chain, ["kcp", "udp"]);
}

#[tokio::test]
async fn kcp_udp_our_client_against_kcp_crate_server_1mb_each_way() {
    let t0 = Instant::now();
    let up = pattern(MB, 1);
    let down = pattern(MB, 2);
    let foreign_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let foreign_addr = foreign_sock.local_addr().unwrap();
    let foreign = Foreign::spawn(foreign_sock, None, down.clone());

    let ours = side(&up, &down);
    let client = KcpStream::new(CONV, KcpStreamConfig::default(), Peer(ours.clone())).unwrap();
    let counters = client.counters();
    let server = Server::new();
    server
        .bind_udp(
            "127.0.0.1:0".parse().unwrap(),
            Some(foreign_addr),
            Box::new(client),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap();
    wait_both(&ours, &foreign, t0).await;
    // Let the last acknowledgements reach the kcp crate.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = foreign.finish();
    check(&ours, &out, &up, &down);
    assert!(
        out.acked_all,
        "the kcp crate's data was not all acknowledged"
    );
    assert_eq!(
        ours.lock().unwrap().peer,
        Some(PeerAddr(Addr::Inet(foreign_addr)))
    );
    assert_eq!(counters.bad_datagrams(), 0);
    server.shutdown(Duration::from_secs(1)).await;
    eprintln!("our client vs kcp crate server: {:?}", t0.elapsed());
}

#[tokio::test]
async fn kcp_udp_kcp_crate_client_against_our_listener_1mb_each_way() {
    let t0 = Instant::now();
    let up = pattern(MB, 3);
    let down = pattern(MB, 4);
    let ours = side(&down, &up);
    let child = ours.clone();
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let factory: StreamFactory = Arc::new(move || {
        m.fetch_add(1, Ordering::Relaxed);
        Box::new(Peer(child.clone())) as Box<dyn StreamProtocol>
    });
    let listener = KcpListener::new(KcpListenerConfig::default(), factory).unwrap();
    let counters = listener.counters();
    let server = Server::new();
    let addr = server
        .bind_udp(
            "127.0.0.1:0".parse().unwrap(),
            None,
            Box::new(listener),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap()
        .socket_addr()
        .unwrap();

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client_addr = sock.local_addr().unwrap();
    let foreign = Foreign::spawn(sock, Some(addr), up.clone());
    wait_both(&ours, &foreign, t0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = foreign.finish();
    // Here the foreign peer sends `up` and we send `down`.
    check(&ours, &out, &down, &up);
    assert!(
        out.acked_all,
        "the kcp crate's data was not all acknowledged"
    );
    assert_eq!(
        ours.lock().unwrap().peer,
        Some(PeerAddr(Addr::Inet(client_addr)))
    );
    assert_eq!(made.load(Ordering::Relaxed), 1);
    assert_eq!((counters.accepted(), counters.bad_datagrams()), (1, 0));
    server.shutdown(Duration::from_secs(1)).await;
    eprintln!("kcp crate client vs our listener: {:?}", t0.elapsed());
}
