//! The bridge protocol alone, over the test kit's `MemoryTransport`:
//! every step is a call, nothing runs in between.

use std::task::Waker;

use strata::testing::MemoryTransport;

use super::*;

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn write(s: &mut BridgeStream, d: &[u8]) -> Poll<io::Result<usize>> {
    Pin::new(s).poll_write(&mut cx(), d)
}

/// What one read gives; `None` while it is `Pending`.
fn read(s: &mut BridgeStream, n: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0; n];
    let mut rb = ReadBuf::new(&mut buf);
    match Pin::new(s).poll_read(&mut cx(), &mut rb) {
        Poll::Ready(Ok(())) => Some(rb.filled().to_vec()),
        Poll::Ready(Err(e)) => panic!("read failed: {e}"),
        Poll::Pending => None,
    }
}

fn wake(p: &mut BridgeProtocol, t: &mut MemoryTransport) {
    p.on_wake(t, WakeRoute::new(&[]))
}

#[test]
fn writes_wake_the_protocol_once_per_batch_and_go_down_while_writable() {
    let cfg = BridgeConfig {
        write_buffer: 8,
        ..BridgeConfig::default()
    };
    let (mut p, mut s) = pair(cfg);
    let mut t = MemoryTransport::new().with_high_water(4);
    // Before the start: buffered, nobody to wake yet.
    assert!(matches!(write(&mut s, b"abc"), Poll::Ready(Ok(3))));
    p.connection_made(&mut t);
    assert_eq!(t.take_written(), b"abc", "handed down at the start");
    assert!(matches!(write(&mut s, b"defgh"), Poll::Ready(Ok(5))));
    assert!(matches!(write(&mut s, b"ijk"), Poll::Ready(Ok(3))));
    assert_eq!(t.take_wakes().len(), 1, "one wake for the batch");
    wake(&mut p, &mut t);
    // The transport holds 8 >= its high mark of 4: not writable.
    assert!(matches!(write(&mut s, b"12345678"), Poll::Ready(Ok(8))));
    assert!(write(&mut s, b"9").is_pending(), "the buffer is full");
    wake(&mut p, &mut t);
    assert!(write(&mut s, b"9").is_pending(), "held until writable");
    assert_eq!(t.take_written(), b"defghijk");
    p.resume_writing(&mut t);
    assert_eq!(t.take_written(), b"12345678");
    assert!(matches!(write(&mut s, b"9"), Poll::Ready(Ok(1))));
}

#[test]
fn an_unread_read_side_pauses_reading_and_resumes_at_half() {
    let cfg = BridgeConfig {
        read_buffer: 10,
        ..BridgeConfig::default()
    };
    let (mut p, mut s) = pair(cfg);
    let mut t = MemoryTransport::new();
    p.connection_made(&mut t);
    p.data_received(&mut t, b"012345");
    assert!(!t.is_read_paused());
    p.data_received(&mut t, b"6789ab");
    assert!(t.is_read_paused(), "12 bytes unread >= 10");
    assert_eq!(read(&mut s, 3).unwrap(), b"012");
    assert!(t.take_wakes().is_empty(), "9 unread: still above half");
    assert_eq!(read(&mut s, 4).unwrap(), b"3456");
    assert_eq!(t.take_wakes().len(), 1, "5 unread: at half");
    wake(&mut p, &mut t);
    assert!(!t.is_read_paused());
    assert_eq!(read(&mut s, 64).unwrap(), b"789ab");
    assert!(read(&mut s, 64).is_none());
}

#[test]
fn eof_then_shutdown_half_closes_then_closes() {
    let (mut p, mut s) = pair(BridgeConfig::default());
    let mut t = MemoryTransport::new();
    p.connection_made(&mut t);
    p.eof_received(&mut t);
    assert_eq!(read(&mut s, 8).unwrap(), b"", "EOF");
    assert!(!t.is_closed(), "our side may still write");
    assert!(matches!(write(&mut s, b"bye"), Poll::Ready(Ok(3))));
    assert!(Pin::new(&mut s).poll_shutdown(&mut cx()).is_pending());
    wake(&mut p, &mut t);
    assert_eq!(t.take_written(), b"bye");
    assert!(t.eof_written());
    assert!(t.is_closed(), "both directions ended");
    assert!(Pin::new(&mut s).poll_shutdown(&mut cx()).is_ready());
}
