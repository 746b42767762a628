//! `Connection::closed` borrows the handle: wait with a timeout, then abort,
//! then learn why the connection ended.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use strata::{AbortReason, Close, StackConfig, StreamProtocol, StreamTransport};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Sends nothing and waits for the peer for ever.
struct Idle;

impl StreamProtocol for Idle {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[tokio::test]
async fn a_timed_out_wait_leaves_the_handle_to_abort() {
    // A peer that accepts and then neither sends nor closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move { listener.accept().await.unwrap().0 });
    let conn = strata_tokio::connect_tcp(addr, Box::new(Idle), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let mut peer = within("accept", accept).await.unwrap();

    // The wait gives up; the connection runs on and the handle is still ours.
    let waited = tokio::time::timeout(Duration::from_millis(50), conn.closed()).await;
    assert!(waited.is_err(), "the peer never closes: {waited:?}");

    conn.abort();
    let why = within("the aborted connection ends", conn.closed()).await;
    let aborted = |c: &Close| {
        matches!(
            c,
            Close::Aborted {
                layer: "driver",
                reason: AbortReason::Shutdown
            }
        )
    };
    assert!(aborted(&why), "{why}");
    // Asking again (or from a second waiter) gives the same answer.
    let (again, other) = tokio::join!(conn.closed(), conn.closed());
    assert!(aborted(&again) && aborted(&other), "{again} / {other}");

    // The socket went away with the task: the peer reads its end.
    let mut buf = [0u8; 16];
    let n = within("the peer sees the end", peer.read(&mut buf)).await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
}

#[tokio::test]
async fn a_wait_cancelled_midway_does_not_lose_the_clean_end() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move { listener.accept().await.unwrap().0 });
    let conn = strata_tokio::connect_tcp(addr, Box::new(Idle), Arc::new(StackConfig::default()))
        .await
        .unwrap();
    let peer = within("accept", accept).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(20), conn.closed())
            .await
            .is_err(),
        "still open"
    );
    // The peer closes: `Idle` closes on EOF, a clean end seen by a later wait.
    drop(peer);
    let why = within("clean end", conn.closed()).await;
    assert!(why.is_clean(), "{why}");
}
