//! Graceful shutdown, timers, wakes from other threads, and back-pressure
//! over a real socket.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use strata::{AbortReason, Close, StackConfig, StreamProtocol, StreamTransport, Wake, WakeRoute};
use strata_tokio::{ListenConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Echoes and never closes on its own; on shutdown either says goodbye and
/// closes (`polite`) or ignores it.
struct Drainable {
    polite: bool,
    lost: Arc<Mutex<Option<Close>>>,
}

impl StreamProtocol for Drainable {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        if self.polite {
            t.write(b"bye");
            t.close();
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        *self.lost.lock().unwrap() = Some(why.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_polite_protocols_and_aborts_the_rest() {
    let server = Server::new();
    let polite_lost = Arc::<Mutex<Option<Close>>>::default();
    let stubborn_lost = Arc::<Mutex<Option<Close>>>::default();
    let (p, s) = (polite_lost.clone(), stubborn_lost.clone());
    let local = "127.0.0.1:0".parse().unwrap();
    let polite_addr = server
        .listen_tcp(
            local,
            factory(move || Drainable {
                polite: true,
                lost: p.clone(),
            }),
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let stubborn_addr = server
        .listen_tcp(
            local,
            factory(move || Drainable {
                polite: false,
                lost: s.clone(),
            }),
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let mut polite = TcpStream::connect(polite_addr).await.unwrap();
    let mut stubborn = TcpStream::connect(stubborn_addr).await.unwrap();
    assert_eq!(roundtrip(&mut polite, b"hi").await, b"hi");
    assert_eq!(roundtrip(&mut stubborn, b"hi").await, b"hi");
    assert_eq!(server.connections(), 2);

    let drain = Duration::from_millis(300);
    let started = Instant::now();
    let shutdown = tokio::spawn({
        let server = server.clone();
        async move { server.shutdown(drain).await }
    });
    // The polite one says goodbye and closes cleanly, within the drain.
    let mut bye = Vec::new();
    within("polite EOF", polite.read_to_end(&mut bye))
        .await
        .unwrap();
    assert_eq!(bye, b"bye");
    drop(polite);
    // The stubborn one is reset once the drain time is over.
    let mut buf = [0; 8];
    let res = within("stubborn reset", stubborn.read(&mut buf)).await;
    assert_eq!(
        res.map_err(|e| e.kind()).unwrap_err(),
        std::io::ErrorKind::ConnectionReset
    );
    within("shutdown returns", shutdown).await.unwrap();
    assert!(
        started.elapsed() >= drain,
        "aborted before the drain deadline"
    );
    assert!(matches!(*polite_lost.lock().unwrap(), Some(Close::Done)));
    let stubborn_why = stubborn_lost.lock().unwrap().clone();
    assert!(
        matches!(
            stubborn_why,
            Some(Close::Aborted {
                reason: AbortReason::Shutdown,
                ..
            })
        ),
        "{stubborn_why:?}"
    );
    assert_eq!(server.connections(), 0);
    // The listeners are gone.
    assert!(TcpStream::connect(polite_addr).await.is_err());
}

/// Asks for a deadline 50 ms after it starts and writes "tick" when it fires.
struct Ticker {
    deadline: Option<Instant>,
    late_enough: Arc<Mutex<Option<bool>>>,
}

impl StreamProtocol for Ticker {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.deadline = Some(t.now() + Duration::from_millis(50));
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if let Some(d) = self.deadline.take() {
            *self.late_enough.lock().unwrap() = Some(t.now() >= d);
            t.write(b"tick");
        }
    }
}

#[tokio::test]
async fn a_deadline_reaches_on_deadline() {
    let server = Server::new();
    let late = Arc::<Mutex<Option<bool>>>::default();
    let l = late.clone();
    let f = factory(move || Ticker {
        deadline: None,
        late_enough: l.clone(),
    });
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0; 4];
    within("tick", c.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"tick");
    assert_eq!(
        *late.lock().unwrap(),
        Some(true),
        "on_deadline ran before its deadline"
    );
    drop(c);
    server.shutdown(Duration::from_millis(200)).await;
}

/// Hands its waker out, and writes "woken" on each wake.
struct Wakeable {
    hand_out: mpsc::Sender<Wake>,
}

impl StreamProtocol for Wakeable {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let _ = self.hand_out.send(t.waker());
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        assert!(route.is_here());
        t.write(b"woken");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_from_another_thread_reaches_on_wake() {
    let server = Server::new();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let f = factory(move || Wakeable {
        hand_out: tx.lock().unwrap().clone(),
    });
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    let waker = within(
        "waker",
        tokio::task::spawn_blocking(move || rx.recv().unwrap()),
    )
    .await
    .unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    let mut buf = [0; 5];
    within("woken", c.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"woken");
    drop(c);
    server.shutdown(Duration::from_millis(200)).await;
}

const CHUNK: usize = 16 * 1024;

/// Writes while the transport is writable; records the most it ever had
/// queued and the pause/resume edges.
struct Flood {
    max_queued: Arc<AtomicUsize>,
    pauses: Arc<AtomicUsize>,
    resumes: Arc<AtomicUsize>,
}

impl Flood {
    fn fill(&mut self, t: &mut dyn StreamTransport) {
        let chunk = [b'x'; CHUNK];
        while t.writable() {
            t.write(&chunk);
            self.max_queued.fetch_max(t.buffered(), Ordering::SeqCst);
        }
    }
}

impl StreamProtocol for Flood {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.fill(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn pause_writing(&mut self, _: &mut dyn StreamTransport) {
        self.pauses.fetch_add(1, Ordering::SeqCst);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.resumes.fetch_add(1, Ordering::SeqCst);
        self.fill(t);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_pauses_the_writer() {
    let server = Server::new();
    let (max_queued, pauses, resumes) =
        <(Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>)>::default();
    let (m, p, r) = (max_queued.clone(), pauses.clone(), resumes.clone());
    let f = factory(move || Flood {
        max_queued: m.clone(),
        pauses: p.clone(),
        resumes: r.clone(),
    });
    let stack = StackConfig::default();
    let high = stack.high_water;
    let cfg = ListenConfig {
        stack: Arc::new(stack),
        ..ListenConfig::default()
    };
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, cfg)
        .await
        .unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    // Not reading: the stack's queue crosses the high mark (and drains into
    // the kernel's buffers, pausing and resuming, until those are full).
    let paused = || pauses.load(Ordering::SeqCst) > resumes.load(Ordering::SeqCst);
    eventually("pause_writing", paused).await;
    // Reading drains it: resume_writing, and the writer fills again.
    let resumed_before = resumes.load(Ordering::SeqCst);
    let mut buf = vec![0; 1 << 20];
    let mut read = 0;
    while resumes.load(Ordering::SeqCst) == resumed_before || read < 8 << 20 {
        read += within("read", c.read(&mut buf)).await.unwrap();
    }
    let max = max_queued.load(Ordering::SeqCst);
    assert!(
        max <= high + CHUNK,
        "queued {max} > high mark {high} + one write"
    );
    drop(c);
    server.shutdown(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn shutdown_closes_with_the_default_on_shutdown() {
    let server = Server::new();
    let (f, _) = echo_factory();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(roundtrip(&mut c, b"x").await, b"x");
    // Echo's default on_shutdown closes: the client sees EOF.
    let s = server.clone();
    let done = tokio::spawn(async move { s.shutdown(Duration::from_secs(5)).await });
    let mut rest = Vec::new();
    within("EOF", c.read_to_end(&mut rest)).await.unwrap();
    c.shutdown().await.unwrap();
    drop(c);
    within("shutdown", done).await.unwrap();
    assert_eq!(server.connections(), 0);
}
