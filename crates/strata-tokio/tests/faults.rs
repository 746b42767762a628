//! Faults beside well-behaved connections (issue 9): a peer that resets in
//! the middle of a TLS handshake, one that resets (SO_LINGER 0) in the
//! middle of an echo stream over TCP and over TLS, and half-open TLS peers
//! that vanish without FIN or RST (connected and silent, or silent after
//! their ClientHello) and are shed by the handshake timeout.
//!
//! Every test runs a real server on loopback with a few good clients that
//! stop halfway through their transfer, waits for the fault to take effect
//! on the server, then lets the good clients finish: every byte they sent
//! must come back, in order.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcp};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rustls::pki_types::{CertificateDer, ServerName};
use strata::endpoint::Endpoint;
use strata::tls::Tls;
use strata::{Close, StreamProtocol, Timeout};
use strata_tokio::{registry, server_config, ListenConfig, Server, StreamFactory, TlsIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Good clients per test.
const GOOD: usize = 3;
/// Bytes per round of a good client (written, then read back).
const CHUNK: usize = 16 * 1024;
/// Rounds per good client: 1 MiB each, half before the fault, half after.
const ROUNDS: usize = 64;
/// The TLS handshake timeout of the TLS servers here.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the good clients wait for the fault to have happened.
#[derive(Default)]
struct Gate {
    arrived: AtomicUsize,
    go: AtomicBool,
}

impl Gate {
    /// Waits (bounded) until the test opens the gate.
    fn arrive_and_wait(&self) -> io::Result<()> {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(20);
        while !self.go.load(Ordering::SeqCst) {
            if Instant::now() > until {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "gate never opened"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

/// Round `r` of good client `seed`: bytes no other round or client sends.
fn chunk(seed: usize, r: usize) -> Vec<u8> {
    (0..CHUNK)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(101) ^ r.wrapping_mul(7)) as u8)
        .collect()
}

/// A good client's whole transfer over a blocking stream: every round is
/// written and read back and compared; halfway it waits at the gate.
fn good_transfer<S: Read + Write>(mut s: S, seed: usize, gate: &Gate) -> io::Result<usize> {
    let mut total = 0;
    for r in 0..ROUNDS {
        if r == ROUNDS / 2 {
            gate.arrive_and_wait()?;
        }
        let out = chunk(seed, r);
        s.write_all(&out)?;
        s.flush()?;
        let mut back = vec![0; CHUNK];
        s.read_exact(&mut back)?;
        if back != out {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("client {seed} round {r}: the echo differs"),
            ));
        }
        total += CHUNK;
    }
    Ok(total)
}

fn blocking_tcp(addr: SocketAddr) -> io::Result<StdTcp> {
    let s = StdTcp::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(20)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// The TLS client side: trusts only the server's self-signed certificate.
fn client_tls(id: &TlsIdentity) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(id.certificate_der()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn tls_client(
    cfg: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
) -> io::Result<rustls::StreamOwned<rustls::ClientConnection, StdTcp>> {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(io::Error::other)?;
    Ok(rustls::StreamOwned::new(conn, blocking_tcp(addr)?))
}

/// What a test runs against: the server, its address, and for TLS the
/// client configuration.
struct Fixture {
    server: Server,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    seen: Arc<std::sync::Mutex<Vec<Shared>>>,
}

async fn tcp_echo() -> Fixture {
    let server = Server::new();
    let (f, seen) = echo_factory();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    Fixture {
        server,
        addr,
        tls: None,
        seen,
    }
}

/// `Tls<Echo>` with a self-signed certificate and a short handshake timeout.
async fn tls_echo() -> Fixture {
    let id = TlsIdentity::self_signed().unwrap();
    let ep = Endpoint::parse_with("tls+tcp://127.0.0.1:0", &registry()).unwrap();
    let cfg = server_config(&ep, &id)
        .unwrap()
        .handshake_timeout(HANDSHAKE_TIMEOUT);
    let seen: Arc<std::sync::Mutex<Vec<Shared>>> = Arc::default();
    let all = seen.clone();
    let f: StreamFactory = Arc::new(move || {
        let s = Shared::default();
        all.lock().unwrap().push(s.clone());
        // The configuration was accepted by rustls when the first was made.
        Box::new(Tls::new(Echo { seen: s }, &cfg).expect("a valid TLS configuration"))
            as Box<dyn StreamProtocol>
    });
    let server = Server::new();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    Fixture {
        server,
        addr,
        tls: Some(client_tls(&id)),
        seen,
    }
}

/// Starts the good clients; they stop halfway at the returned gate.
fn start_good(fx: &Fixture) -> (Arc<Gate>, Vec<tokio::task::JoinHandle<io::Result<usize>>>) {
    let gate = Arc::new(Gate::default());
    let handles = (0..GOOD)
        .map(|seed| {
            let (gate, addr, tls) = (gate.clone(), fx.addr, fx.tls.clone());
            tokio::task::spawn_blocking(move || match tls {
                Some(cfg) => good_transfer(tls_client(&cfg, addr)?, seed, &gate),
                None => good_transfer(blocking_tcp(addr)?, seed, &gate),
            })
        })
        .collect();
    (gate, handles)
}

/// Waits until every good client is halfway (so its connection is up and
/// has carried data), then returns.
async fn good_halfway(gate: &Gate) {
    eventually("the good clients reach halfway", || {
        gate.arrived.load(Ordering::SeqCst) == GOOD
    })
    .await;
}

/// Opens the gate and checks every good client moved every byte.
async fn good_finish(gate: &Gate, handles: Vec<tokio::task::JoinHandle<io::Result<usize>>>) {
    gate.go.store(true, Ordering::SeqCst);
    for h in handles {
        let moved = within("a good client finishes", h).await.unwrap();
        assert_eq!(moved.unwrap(), CHUNK * ROUNDS);
    }
}

/// Resets a socket: SO_LINGER 0, then close.
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// The reasons the server's connections ended so far.
fn ended(fx: &Fixture) -> Vec<Close> {
    fx.seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| s.lock().unwrap().lost.clone())
        .collect()
}

/// Writes `n` bytes without reading any echo, then resets.
async fn write_then_reset(mut s: TcpStream, n: usize) {
    let junk = vec![0x5a; n];
    within("the faulty client writes", s.write_all(&junk))
        .await
        .unwrap();
    reset(s);
}

/// The first bytes a real TLS client sends: its ClientHello record(s).
fn client_hello(cfg: &Arc<rustls::ClientConfig>) -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
    let mut out = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut out).unwrap();
    }
    out
}

/// Reads until the server closes (EOF or reset), bounded; returns the bytes.
async fn until_closed(s: &mut TcpStream) -> usize {
    within("the server sheds the socket", async {
        let mut buf = [0u8; 4096];
        let mut got = 0;
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got += n,
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_reset_mid_stream_loses_nothing_beside_it() {
    let fx = tcp_echo().await;
    let (gate, good) = start_good(&fx);
    good_halfway(&gate).await;
    let bad = TcpStream::connect(fx.addr).await.unwrap();
    write_then_reset(bad, 256 * 1024).await;
    eventually("the reset connection ends with Reset", || {
        ended(&fx).iter().any(|c| matches!(c, Close::Reset))
    })
    .await;
    // The count drops when the connection's task ends, just after its
    // protocol heard `connection_lost`.
    eventually("the server holds only the good connections", || {
        fx.server.connections() == GOOD
    })
    .await;
    good_finish(&gate, good).await;
    fx.server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_reset_mid_stream_loses_nothing_beside_it() {
    let fx = tls_echo().await;
    let (gate, good) = start_good(&fx);
    good_halfway(&gate).await;
    // A real TLS client: handshake, one echo, then 256 KiB unread and a reset.
    let cfg = fx.tls.clone().unwrap();
    let addr = fx.addr;
    let sock = tokio::task::spawn_blocking(move || {
        let mut s = tls_client(&cfg, addr).unwrap();
        s.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
        s.write_all(&vec![0x5a; 256 * 1024]).unwrap();
        s.flush().unwrap();
        s.sock
    })
    .await
    .unwrap();
    sock.set_nonblocking(true).unwrap();
    reset(TcpStream::from_std(sock).unwrap());
    eventually("the reset connection ends", || !ended(&fx).is_empty()).await;
    let why = ended(&fx);
    assert!(
        matches!(why[..], [Close::Reset | Close::Io(_)]),
        "the reset TLS connection ended with {why:?}"
    );
    eventually("only the good connections remain", || {
        fx.server.connections() == GOOD
    })
    .await;
    good_finish(&gate, good).await;
    fx.server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_reset_mid_handshake_loses_nothing_beside_it() {
    let fx = tls_echo().await;
    let (gate, good) = start_good(&fx);
    good_halfway(&gate).await;
    let hello = client_hello(fx.tls.as_ref().unwrap());
    // One peer resets halfway through its ClientHello, another right after
    // the server's first flight arrived.
    let mut half = TcpStream::connect(fx.addr).await.unwrap();
    half.write_all(&hello[..hello.len() / 2]).await.unwrap();
    let mut whole = TcpStream::connect(fx.addr).await.unwrap();
    whole.write_all(&hello).await.unwrap();
    let mut flight = [0u8; 1];
    within("the server's first flight", whole.read_exact(&mut flight))
        .await
        .unwrap();
    assert_eq!(flight[0], 0x16, "a handshake record");
    eventually("both faulty peers are connected", || {
        fx.server.connections() == GOOD + 2
    })
    .await;
    reset(half);
    reset(whole);
    eventually("the reset handshakes end", || {
        fx.server.connections() == GOOD
    })
    .await;
    good_finish(&gate, good).await;
    fx.server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_tls_peers_are_shed_by_the_handshake_timeout() {
    let fx = tls_echo().await;
    let (gate, good) = start_good(&fx);
    good_halfway(&gate).await;
    // Peers that vanish without FIN or RST: one never writes, one stops
    // after its ClientHello. Neither reads nor writes again.
    let mut silent = TcpStream::connect(fx.addr).await.unwrap();
    let mut after_hello = TcpStream::connect(fx.addr).await.unwrap();
    after_hello
        .write_all(&client_hello(fx.tls.as_ref().unwrap()))
        .await
        .unwrap();
    eventually("both half-open peers are connected", || {
        fx.server.connections() == GOOD + 2
    })
    .await;
    // The good clients carry on while the half-open peers hang.
    gate.go.store(true, Ordering::SeqCst);
    // The server sheds both: the silent one with no bytes, the other after
    // its first flight; both connections end with the handshake timeout.
    assert_eq!(until_closed(&mut silent).await, 0);
    assert!(until_closed(&mut after_hello).await > 0);
    eventually("both are shed", || {
        ended(&fx)
            .iter()
            .filter(|c| matches!(c, Close::Timeout(Timeout::Handshake)))
            .count()
            == 2
    })
    .await;
    good_finish(&gate, good).await;
    fx.server.shutdown(Duration::from_secs(1)).await;
}
