//! Unit tests of the stack's private state.

use std::sync::Arc;

use super::*;
use crate::SwapRequest;

/// Answers what it reads with "ok".
struct Answer;
impl StreamProtocol for Answer {
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.write(b"ok");
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// Replaces itself by `Answer` at the first byte, handing it what came
/// (as the HTTP version detector does with the preface).
struct Detector;
impl StreamProtocol for Detector {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let req = SwapRequest::Replace(Box::new(Answer));
        t.request_swap(req, data.to_vec()).expect("the stack swaps");
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// An idle connection holds no cold part: a swap (the version
/// detector's to HTTP/2) uses it, and it is freed once the swap is
/// done and its leftover delivered.
#[test]
fn the_cold_part_is_freed_after_a_swap() {
    // As the driver makes it when nobody observes (the test kit's
    // `Stack::memory` counts bytes, and its counters live in the cold
    // part).
    let now = crate::testing::epoch();
    let info = BottomInfo::new("tcp");
    let mut s = Stack::new(
        Box::new(Detector),
        info,
        Arc::new(StackConfig::default()),
        now,
    );
    s.start(now);
    s.handle_input_bytes(now, bytes::Bytes::from_static(b"hello"));
    assert_eq!(s.pending_output(), 2, "the new protocol got the leftover");
    s.consume(now, 2);
    assert!(
        s.b.cold.is_none(),
        "the cold part is kept: {:?}",
        s.b.cold
            .as_ref()
            .map(|c| (c.stash.len(), c.closing, c.swap.is_some()))
    );
}
