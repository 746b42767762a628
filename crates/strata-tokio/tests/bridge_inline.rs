//! Issue 13, point 1: a bridged stream's consumer future run inside the
//! stack's own task ([`bridge_inline`], [`serve_bridged`]), so a bridged
//! connection is one task, not two. In memory over a `DuplexStream` on one
//! thread (the tasks settle before each assertion: states, never timings),
//! plus one loopback test over `tcp://`.

mod common;

use std::sync::{Arc, Mutex};
use std::task::Poll;

use common::bridge::{settle, small_stack, PIPE};
use common::within;
use strata::endpoint::Endpoint;
use strata::{BottomInfo, Close, StackConfig};
use strata_tokio::{bridge_inline, serve_bridged, spawn_async, BridgeConfig, BridgeStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// The future runs on the stack's task: the id it sees is the task's.
#[tokio::test(flavor = "current_thread")]
async fn the_future_runs_inside_the_stacks_task() {
    let (ours, mut peer) = tokio::io::duplex(PIPE);
    let (tx, rx) = oneshot::channel();
    let proto = bridge_inline(
        BridgeConfig::default(),
        move |mut s: BridgeStream| async move {
            let _ = tx.send(tokio::task::try_id());
            let mut buf = [0; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        },
    );
    let task = spawn_async(ours, proto, BottomInfo::new("duplex"), small_stack());
    let seen = within("the future starts", rx).await.unwrap();
    assert_eq!(seen, Some(task.id()), "the future ran on another task");
    peer.write_all(b"ping").await.unwrap();
    let mut got = [0; 4];
    within("the echo", peer.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"ping");
}

/// The future completes: its handle is dropped with it, and the stack
/// closes cleanly after what it wrote.
#[tokio::test(flavor = "current_thread")]
async fn a_completed_future_closes_the_stack_cleanly() {
    let (ours, mut peer) = tokio::io::duplex(PIPE);
    let proto = bridge_inline(BridgeConfig::default(), |mut s: BridgeStream| async move {
        s.write_all(b"bye").await.unwrap();
    });
    let task = spawn_async(ours, proto, BottomInfo::new("duplex"), small_stack());
    let mut got = Vec::new();
    within("the peer reads to EOF", peer.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"bye");
    drop(peer);
    let why = within("the stack ends", task).await.unwrap();
    assert!(why.is_clean(), "{why:?}");
}

/// The peer ends: the future reads what it sent, then EOF.
#[tokio::test(flavor = "current_thread")]
async fn the_future_sees_the_peers_eof() {
    let (ours, mut peer) = tokio::io::duplex(PIPE);
    let (tx, rx) = oneshot::channel();
    let proto = bridge_inline(
        BridgeConfig::default(),
        move |mut s: BridgeStream| async move {
            let mut got = Vec::new();
            let r = s.read_to_end(&mut got).await.map(|_| got);
            let _ = tx.send(r);
        },
    );
    let task = spawn_async(ours, proto, BottomInfo::new("duplex"), small_stack());
    peer.write_all(b"abc").await.unwrap();
    peer.shutdown().await.unwrap();
    let got = within("the future's read", rx).await.unwrap().unwrap();
    assert_eq!(got, b"abc");
    drop(peer);
    let why = within("the stack ends", task).await.unwrap();
    assert!(why.is_clean(), "{why:?}");
}

/// The stack ends uncleanly (its output stalls) while the future still
/// waits on it: the future goes on (on a task of its own) and its read
/// fails with the reason's kind.
#[tokio::test(flavor = "current_thread")]
async fn the_stack_ending_under_the_future_fails_its_read() {
    let (ours, _peer) = tokio::io::duplex(PIPE);
    let (tx, rx) = oneshot::channel();
    let proto = bridge_inline(
        BridgeConfig::default(),
        move |mut s: BridgeStream| async move {
            // More than the pipe and the stack take: the stack's output stalls.
            s.write_all(&[7; 32 * 1024]).await.unwrap();
            let mut buf = [0; 1];
            let _ = tx.send(s.read(&mut buf).await);
        },
    );
    let cfg = StackConfig {
        stall_timeout: std::time::Duration::from_millis(50),
        ..StackConfig::default()
    };
    let task = spawn_async(ours, proto, BottomInfo::new("duplex"), Arc::new(cfg));
    let why = within("the stall deadline", task).await.unwrap();
    assert!(
        matches!(why, Close::Timeout(strata::Timeout::Stall)),
        "{why:?}"
    );
    let err = within("the future's read", rx).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
}

/// The stack's task is cancelled: the future is not lost with it; its
/// read fails.
#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_stack_task_fails_the_futures_read() {
    let (ours, _peer) = tokio::io::duplex(PIPE);
    let (tx, rx) = oneshot::channel();
    let proto = bridge_inline(
        BridgeConfig::default(),
        move |mut s: BridgeStream| async move {
            let mut buf = [0; 1];
            let _ = tx.send(s.read(&mut buf).await);
        },
    );
    let task = spawn_async(ours, proto, BottomInfo::new("duplex"), small_stack());
    settle().await;
    task.abort();
    let err = within("the future's read", rx).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
}

/// A future that never reads pauses the stack: the remote writer is held
/// back by the bridge's read buffer, as with a handle on another task.
#[tokio::test(flavor = "current_thread")]
async fn a_future_that_never_reads_pauses_the_stack() {
    let cfg = BridgeConfig {
        read_buffer: 8 * 1024,
        ..BridgeConfig::default()
    };
    let (ours, mut peer) = tokio::io::duplex(PIPE);
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let total = Arc::new(Mutex::new(0usize));
    let count = total.clone();
    let proto = bridge_inline(cfg, move |mut s: BridgeStream| async move {
        // Holds the stream unread until told to read.
        let _ = go_rx.await;
        let mut buf = vec![0; 64 * 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => *count.lock().unwrap() += n,
            }
        }
    });
    let _task = spawn_async(ours, proto, BottomInfo::new("duplex"), small_stack());
    settle().await;
    let mut sent = 0usize;
    let chunk = [5u8; 1024];
    loop {
        settle().await;
        let w = std::pin::pin!(peer.write(&chunk));
        match futures_poll_once(w) {
            Poll::Ready(Ok(n)) => sent += n,
            Poll::Ready(Err(e)) => panic!("write failed: {e}"),
            Poll::Pending => break,
        }
        assert!(sent < 16 << 20, "the writer was never held back");
    }
    let bound = PIPE + cfg.read_buffer + PIPE;
    assert!(
        sent <= bound,
        "the remote writer got {sent} bytes ahead (bound {bound})"
    );
    assert_eq!(*total.lock().unwrap(), 0);
    // Reading resumes the stack, and the writer with it.
    go_tx.send(()).unwrap();
    let more = vec![6u8; 100_000];
    within("the writer resumes", peer.write_all(&more))
        .await
        .unwrap();
    peer.shutdown().await.unwrap();
    let want = sent + more.len();
    within("the future reads everything", async {
        while *total.lock().unwrap() < want {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// Polls a future once with a waker that does nothing.
fn futures_poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

/// A listener whose connections run their handler inside the connection's
/// task, over loopback TCP: an echo until EOF, then the stack closes.
#[tokio::test]
async fn serve_bridged_runs_each_connection_in_its_own_task() {
    let server = strata_tokio::Server::new();
    let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    let l = serve_bridged(
        &server,
        &ep,
        Default::default(),
        BridgeConfig::default(),
        |mut s: BridgeStream| async move {
            assert_eq!(s.layer_chain(), ["tcp"]);
            let mut buf = vec![0; 1024];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => s.write_all(&buf[..n]).await.unwrap(),
                }
            }
        },
    )
    .await
    .unwrap();
    let addr = l.socket_addr().unwrap();
    for _ in 0..3 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut got = [0; 5];
        within("the echo", c.read_exact(&mut got)).await.unwrap();
        assert_eq!(&got, b"hello");
        c.shutdown().await.unwrap();
        let mut rest = Vec::new();
        within("the close", c.read_to_end(&mut rest)).await.unwrap();
        assert!(rest.is_empty());
    }
}

/// A bridge whose stack never starts drops its future unpolled: the
/// handler of a connection that was refused never runs.
#[tokio::test(flavor = "current_thread")]
async fn a_stack_that_never_starts_drops_the_future_unpolled() {
    let (tx, rx) = oneshot::channel::<()>();
    let polled = Arc::new(Mutex::new(false));
    let p2 = polled.clone();
    let proto = bridge_inline(
        BridgeConfig::default(),
        move |_s: BridgeStream| async move {
            *p2.lock().unwrap() = true;
            let _keep = tx;
        },
    );
    drop(proto);
    settle().await;
    assert!(rx.await.is_err(), "the future was dropped");
    assert!(!*polled.lock().unwrap());
}
