//! The accept rate cap end to end: `max_accepts_per_sec = 20` lets a burst
//! of 20 through, then paces the rest, and every client is served in the end.
//!
//! Only lower bounds on time are asserted: the token bucket makes the k-th
//! accept impossible before a given instant, however fast the machine, while
//! a slow machine only makes things later. The upper bound is the generous
//! overall timeout.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{factory, within};
use strata::{StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const RATE: u32 = 20;
const CLIENTS: usize = 30;

struct Echo;

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[tokio::test]
async fn accepts_beyond_the_burst_are_paced_and_all_are_served() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let a2 = accepted.clone();
    let f = factory(move || {
        a2.fetch_add(1, Ordering::SeqCst);
        Echo
    });
    let cfg = ListenConfig {
        max_accepts_per_sec: Some(RATE),
        ..ListenConfig::default()
    };
    let server = Server::new();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, cfg)
        .await
        .unwrap();

    // All clients connect at once: the kernel completes the handshakes from
    // the backlog; the server's echo shows when each one was accepted.
    let t0 = Instant::now();
    let mut clients = JoinSet::new();
    for i in 0..CLIENTS {
        clients.spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            let msg = [i as u8];
            c.write_all(&msg).await.unwrap();
            let mut back = [0; 1];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
            (Instant::now(), c)
        });
    }
    let mut served = Vec::new();
    let mut held = Vec::new();
    within("every client served", async {
        while let Some(r) = clients.join_next().await {
            let (at, c) = r.unwrap();
            served.push(at.duration_since(t0));
            held.push(c);
        }
    })
    .await;
    served.sort();
    assert_eq!(accepted.load(Ordering::SeqCst), CLIENTS);

    // At t0 the bucket holds at most RATE tokens, and the accept loop may
    // already hold one more for the accept it is waiting in; then it gains
    // RATE per second. So the k-th client (1-based) cannot have been served
    // before (k - RATE - 1) / RATE seconds.
    for (k, at) in served.iter().enumerate().map(|(i, at)| (i + 1, at)) {
        let earliest = (k as f64 - f64::from(RATE) - 1.0) / f64::from(RATE);
        assert!(
            at.as_secs_f64() >= earliest - 0.01,
            "client {k} served after {at:?}, before the cap allows ({earliest:.3} s); all: {served:?}"
        );
    }
    let last = served[CLIENTS - 1];
    assert!(
        last >= Duration::from_millis(400),
        "all {CLIENTS} clients served within {last:?}: the cap did not pace them"
    );

    drop(held);
    within("shutdown", server.shutdown(Duration::from_secs(5))).await;
}
