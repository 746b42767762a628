//! Issue 13, point 1: the bridges, in memory. A strata stack runs over one
//! end of a tokio `DuplexStream` ([`spawn_async`]: async into a stack) with
//! a bridge at its top ([`bridge`]: the top of a stack as async); the test
//! holds the other end. Everything runs on one thread, and the test lets
//! the tasks run to quiescence ([`settle`]) before it asserts, so what is
//! asserted is a state, never a timing: back-pressure both ways, EOF,
//! half-close, abort, drop.

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use common::bridge::{settle, small_stack, PIPE};
use common::within;
use strata::{AbortReason, BottomInfo, Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{bridge, spawn_async, BridgeConfig, BridgeStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// A bridged stack over one end of a pipe; the other end, and the task.
fn bridged(cfg: BridgeConfig) -> (BridgeStream, DuplexStream, tokio::task::JoinHandle<Close>) {
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let (proto, s) = bridge(cfg);
    let task = spawn_async(ours, proto, BottomInfo::new("duplex"), small_stack());
    (s, theirs, task)
}

/// One `poll_write`, with a waker that does nothing: `Pending` or how much.
fn try_write<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> Poll<std::io::Result<usize>> {
    Pin::new(w).poll_write(&mut Context::from_waker(Waker::noop()), data)
}

/// One `poll_read`: `Pending`, or the bytes read (empty: EOF).
fn try_read<R: AsyncRead + Unpin>(r: &mut R) -> Poll<std::io::Result<Vec<u8>>> {
    let mut buf = vec![0; 64 * 1024];
    let mut rb = ReadBuf::new(&mut buf);
    match Pin::new(r).poll_read(&mut Context::from_waker(Waker::noop()), &mut rb) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().to_vec())),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// One write of the next 1 KiB of a known pattern, after the tasks
/// settled; records what was taken in `sent`. False when it stays `Pending`.
async fn step<W: AsyncWrite + Unpin>(w: &mut W, sent: &mut Vec<u8>) -> bool {
    settle().await;
    let chunk: Vec<u8> = (0..1024).map(|i| ((sent.len() + i) % 251) as u8).collect();
    match try_write(w, &chunk) {
        Poll::Ready(Ok(n)) => {
            sent.extend_from_slice(&chunk[..n]);
            true
        }
        Poll::Ready(Err(e)) => panic!("write failed: {e}"),
        Poll::Pending => false,
    }
}

/// Writes as much as `w` takes, letting the tasks run between writes, until
/// a write stays `Pending` after they settled; returns what was taken.
async fn write_until_pending<W: AsyncWrite + Unpin>(w: &mut W, sent: &mut Vec<u8>) -> usize {
    while step(w, sent).await {
        assert!(sent.len() < 64 << 20, "the writer was never held back");
    }
    sent.len()
}

/// After the tasks settled, a write is still `Pending`.
async fn try_write_pending<W: AsyncWrite + Unpin>(w: &mut W, sent: &mut Vec<u8>) -> bool {
    !step(w, sent).await
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_write_side_stays_pending_until_the_peer_reads() {
    let cfg = BridgeConfig {
        write_buffer: 8 * 1024,
        ..BridgeConfig::default()
    };
    let (mut s, mut peer, _task) = bridged(cfg);
    settle().await;
    let mut sent = Vec::new();
    let taken = write_until_pending(&mut s, &mut sent).await;
    // The pipe, the stack (its high mark, overshot by at most one write of
    // the bridge's buffer) and the bridge's buffer: nothing more.
    let bound = PIPE + 8 * 1024 + 2 * cfg.write_buffer;
    assert!(
        taken <= bound,
        "the writer got {taken} bytes ahead (bound {bound})"
    );
    assert!(taken >= cfg.write_buffer, "only {taken} bytes taken");
    // Still held back, however long the tasks run, while nobody reads.
    for _ in 0..5 {
        assert!(try_write_pending(&mut s, &mut sent).await);
    }
    // The peer reads: the writer goes on, and every byte arrives in order.
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        got
    });
    let more: Vec<u8> = (0..200_000).map(|i| (i % 7) as u8).collect();
    within("the writer resumes", s.write_all(&more))
        .await
        .unwrap();
    sent.extend_from_slice(&more);
    within("shutdown", s.shutdown()).await.unwrap();
    let got = within("the peer reads all", reader).await.unwrap();
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "bytes differ");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unread_read_side_pauses_the_stack_and_holds_back_the_remote_writer() {
    let cfg = BridgeConfig {
        read_buffer: 8 * 1024,
        ..BridgeConfig::default()
    };
    let (mut s, mut peer, _task) = bridged(cfg);
    settle().await;
    let mut sent = Vec::new();
    let taken = write_until_pending(&mut peer, &mut sent).await;
    // The pipe, the bridge's read buffer, plus what one read from the pipe
    // can bring past the mark (the pipe's size).
    let bound = PIPE + cfg.read_buffer + PIPE;
    assert!(
        taken <= bound,
        "the remote writer got {taken} bytes ahead (bound {bound})"
    );
    for _ in 0..5 {
        assert!(try_write_pending(&mut peer, &mut sent).await);
    }
    // Reading resumes the stack, and the remote writer with it.
    let mut got = Vec::new();
    while got.len() < sent.len() {
        match try_read(&mut s) {
            Poll::Ready(Ok(b)) => {
                assert!(!b.is_empty(), "early EOF");
                got.extend(b);
            }
            Poll::Ready(Err(e)) => panic!("read failed: {e}"),
            Poll::Pending => settle().await,
        }
    }
    assert!(got == sent);
    assert!(
        try_write(&mut peer, &[1; 100]).is_ready(),
        "the remote writer is still held back after everything was read"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn eof_and_half_close_map_to_reads_of_zero_and_shutdown() {
    let (mut s, mut peer, task) = bridged(BridgeConfig::default());
    // The peer half-closes: the bridge reads its bytes, then EOF, and can
    // still answer.
    peer.write_all(b"question").await.unwrap();
    peer.shutdown().await.unwrap();
    let mut q = Vec::new();
    within("read to EOF", s.read_to_end(&mut q)).await.unwrap();
    assert_eq!(q, b"question");
    assert_eq!(s.read(&mut [0; 8]).await.unwrap(), 0, "EOF again");
    s.write_all(b"answer").await.unwrap();
    // Our shutdown is the stack's write_eof: the peer reads EOF, and with
    // both directions ended the stack closes cleanly.
    within("shutdown", s.shutdown()).await.unwrap();
    let mut a = Vec::new();
    within("peer reads to EOF", peer.read_to_end(&mut a))
        .await
        .unwrap();
    assert_eq!(a, b"answer");
    let why = within("the stack ends", task).await.unwrap();
    assert!(why.is_clean(), "{why:?}");
    // Writing after the shutdown is an error, not a silent loss.
    let e = s.write_all(b"late").await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
}

#[tokio::test(flavor = "current_thread")]
async fn a_half_closed_bridge_still_reads_until_the_peer_ends() {
    let (mut s, mut peer, task) = bridged(BridgeConfig::default());
    s.write_all(b"request").await.unwrap();
    within("shutdown", s.shutdown()).await.unwrap();
    let mut r = Vec::new();
    within("peer reads to EOF", peer.read_to_end(&mut r))
        .await
        .unwrap();
    assert_eq!(r, b"request");
    // Our write side is closed; the stack lives on for the answer.
    settle().await;
    assert!(!task.is_finished());
    peer.write_all(b"response").await.unwrap();
    peer.shutdown().await.unwrap();
    let mut a = Vec::new();
    within("read to EOF", s.read_to_end(&mut a)).await.unwrap();
    assert_eq!(a, b"response");
    assert!(within("the stack ends", task).await.unwrap().is_clean());
}

#[tokio::test(flavor = "current_thread")]
async fn abort_ends_the_stack_and_fails_reads_and_writes_with_a_kind() {
    let (mut s, _peer, task) = bridged(BridgeConfig::default());
    s.write_all(b"dropped").await.unwrap();
    s.abort();
    let why = within("the stack ends", task).await.unwrap();
    assert!(
        matches!(
            why,
            Close::Aborted {
                layer: "bridge",
                reason: AbortReason::Requested
            }
        ),
        "{why:?}"
    );
    assert!(s.end().is_some_and(|e| !e.is_clean()));
    let e = s.read(&mut [0; 4]).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted);
    assert!(e.to_string().contains("bridge"), "{e}");
    let e = s.write(b"x").await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted);
}

/// A protocol below the bridge aborts (a layer's typed error): the bridge's
/// reads and writes fail with that reason.
#[tokio::test(flavor = "current_thread")]
async fn a_stack_that_ends_uncleanly_fails_the_reads_with_its_reason() {
    struct AbortOnData(Box<dyn StreamProtocol>);
    impl StreamProtocol for AbortOnData {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            self.0.connection_made(t)
        }
        fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
            t.abort(Close::Reset)
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            self.0.eof_received(t)
        }
        fn connection_lost(&mut self, why: &Close) {
            self.0.connection_lost(why)
        }
        fn on_wake(&mut self, t: &mut dyn StreamTransport, r: strata::WakeRoute<'_>) {
            self.0.on_wake(t, r)
        }
    }
    let (ours, mut peer) = tokio::io::duplex(PIPE);
    let (proto, mut s) = bridge(BridgeConfig::default());
    let task = spawn_async(
        ours,
        Box::new(AbortOnData(proto)),
        BottomInfo::new("duplex"),
        Default::default(),
    );
    peer.write_all(b"boom").await.unwrap();
    let why = within("the stack ends", task).await.unwrap();
    assert!(matches!(why, Close::Reset), "{why:?}");
    let e = s.read(&mut [0; 4]).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_handle_closes_gracefully_after_what_was_written() {
    let (mut s, mut peer, task) = bridged(BridgeConfig::default());
    let data: Vec<u8> = (0..100_000).map(|i| (i % 13) as u8).collect();
    // More than the pipe and the stack hold: part of it is still in the
    // bridge's buffer at the drop.
    let writer = async {
        s.write_all(&data).await.unwrap();
        drop(s);
    };
    let mut got = Vec::new();
    let (_, r) = within("write, drop and read", async {
        tokio::join!(writer, peer.read_to_end(&mut got))
    })
    .await;
    r.unwrap();
    assert!(got == data, "{} of {} bytes", got.len(), data.len());
    assert!(within("the stack ends", task).await.unwrap().is_clean());
}

/// A stack over an async stream keeps the driver's rules: the protocol's
/// deadline fires (time is the driver's), and a wake from another thread
/// reaches it.
#[tokio::test]
async fn deadlines_and_wakes_reach_a_protocol_over_an_async_stream() {
    use std::time::{Duration, Instant};
    struct Timed {
        at: Option<Instant>,
        tx: Option<tokio::sync::oneshot::Sender<strata::Wake>>,
    }
    impl StreamProtocol for Timed {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            self.at = Some(t.now() + Duration::from_millis(20));
            let _ = self.tx.take().unwrap().send(t.waker());
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
        fn next_deadline(&self) -> Option<Instant> {
            self.at
        }
        fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
            self.at = None;
            t.write(b"tick ");
        }
        fn on_wake(&mut self, t: &mut dyn StreamTransport, _: strata::WakeRoute<'_>) {
            t.write(b"woken");
            t.close();
        }
    }
    let (ours, mut peer) = tokio::io::duplex(PIPE);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let proto = Timed {
        at: None,
        tx: Some(tx),
    };
    let task = spawn_async(
        ours,
        Box::new(proto),
        BottomInfo::new("duplex"),
        Default::default(),
    );
    let wake = rx.await.unwrap();
    let mut tick = [0; 5];
    within("the deadline fires", peer.read_exact(&mut tick))
        .await
        .unwrap();
    assert_eq!(&tick, b"tick ");
    std::thread::spawn(move || wake.wake()).join().unwrap();
    let mut rest = Vec::new();
    within("the wake arrives", peer.read_to_end(&mut rest))
        .await
        .unwrap();
    assert_eq!(rest, b"woken");
    assert!(within("the stack ends", task).await.unwrap().is_clean());
}

/// Vectored writes (hyper's and h2's frame head and body) are taken in
/// order, up to the buffer's room, and arrive whole.
#[tokio::test(flavor = "current_thread")]
async fn vectored_writes_fill_the_buffer_in_order() {
    use std::io::IoSlice;
    let cfg = BridgeConfig {
        write_buffer: 10,
        ..BridgeConfig::default()
    };
    let (mut s, mut peer, _task) = bridged(cfg);
    assert!(s.is_write_vectored());
    let bufs = [
        IoSlice::new(b"head"),
        IoSlice::new(b""),
        IoSlice::new(b"body-body"),
    ];
    let n = match Pin::new(&mut s)
        .poll_write_vectored(&mut Context::from_waker(Waker::noop()), &bufs)
    {
        Poll::Ready(Ok(n)) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(n, 10, "as much as the buffer has room for");
    s.write_all(b"-body").await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = Vec::new();
    within("read", peer.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"headbody-b-body");
}

/// The send-stall rule holds over an async stream as over the driver's TCP:
/// output that the stream never takes (the peer reads nothing) ends the
/// stack with `Timeout::Stall`.
#[tokio::test(flavor = "current_thread")]
async fn output_the_stream_never_takes_ends_the_stack_at_the_stall_deadline() {
    struct Flood;
    impl StreamProtocol for Flood {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(&[0; 64 * 1024]);
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }
    let (ours, _peer) = tokio::io::duplex(PIPE);
    let cfg = StackConfig {
        stall_timeout: std::time::Duration::from_millis(50),
        ..StackConfig::default()
    };
    let task = spawn_async(
        ours,
        Box::new(Flood),
        BottomInfo::new("duplex"),
        Arc::new(cfg),
    );
    let why = within("the stall deadline", task).await.unwrap();
    assert!(
        matches!(why, Close::Timeout(strata::Timeout::Stall)),
        "{why:?}"
    );
}

/// The handle is what async code needs: `Send`, `Sync`, `Unpin`, `'static`.
#[test]
fn the_handle_is_send_sync_unpin_and_static() {
    fn check<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static>() {}
    check::<BridgeStream>();
    fn halves<T: AsyncRead + Send + Unpin + 'static>() {}
    halves::<tokio::io::ReadHalf<BridgeStream>>();
}
