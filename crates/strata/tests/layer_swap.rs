//! Run-time layer swaps at the bottom slot: insert below (STARTTLS-shaped) in
//! the middle of a chunk, and replace self (ALPN/sniffing-shaped).

mod common;

use common::{x20, Log, Recorder, Upgrader};
use strata::{Stack, StreamProtocol, StreamTransport, SwapError, SwapRequest};

#[test]
fn insert_below_mid_chunk_feeds_the_leftover_through_the_new_layer() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(Upgrader::new(&log)));
    let now = s.now();
    // One chunk: a plaintext line, the upgrade command, then bytes that are
    // already meant for the new layer (encoded by it).
    let mut chunk = b"hello\r\nCHAIN\r\nUPGRADE\r\n".to_vec();
    chunk.extend(x20(b"after\r\nCHAIN\r\n"));
    s.handle_input(now, &chunk);
    assert_eq!(
        log.take(),
        vec![
            "up:connection_made",
            "up:line:hello",
            "up:chain:memory",
            "up:requested",
            "up:line:after",
            "up:chain:xor>memory",
        ],
        "the leftover was decoded by the new layer, with no second connection_made"
    );
    let out = s.take_output(now);
    let mut want = b"got:hello\r\n".to_vec();
    want.extend(x20(b"got:after\r\n"));
    assert_eq!(out, want);
}

#[test]
fn writes_after_the_request_go_through_the_new_layer_in_order() {
    let log = Log::default();
    let mut up = Upgrader::new(&log);
    up.write_after = Some(b"220 ready\r\n");
    let mut s = Stack::memory(Box::new(up));
    let now = s.now();
    s.handle_input(now, b"one\r\nUPGRADE\r\n");
    let out = s.take_output(now);
    let mut want = b"got:one\r\n".to_vec();
    want.extend(x20(b"220 ready\r\n"));
    assert_eq!(out, want);
}

#[test]
fn the_read_pause_survives_the_insert_and_the_leftover_waits() {
    let log = Log::default();
    let mut up = Upgrader::new(&log);
    up.pause_on_upgrade = true;
    let wakers = up.wakers.clone();
    let mut s = Stack::memory(Box::new(up));
    let now = s.now();
    let mut chunk = b"UPGRADE\r\n".to_vec();
    chunk.extend(x20(b"queued\r\n"));
    s.handle_input(now, &chunk);
    assert!(
        s.is_read_paused(),
        "the pause was re-applied through the layer"
    );
    assert!(!s.wants_read());
    assert_eq!(log.take(), vec!["up:connection_made", "up:requested"]);
    // The wake taken before the swap resumes reading through the new layer.
    let w = wakers.lock().unwrap()[0].clone();
    std::thread::spawn(move || w.wake()).join().unwrap();
    s.handle_wakes(now);
    assert_eq!(log.take(), vec!["up:wake", "up:line:queued"]);
}

/// Sniffs the first bytes, then replaces itself by a recorder.
struct Sniffer {
    log: Log,
}

impl StreamProtocol for Sniffer {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.log.push("sniffer:connection_made");
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(b"sniffed ");
        let next = Recorder::new("next", &self.log);
        t.request_swap(SwapRequest::Replace(Box::new(next)), data.to_vec())
            .unwrap();
        assert_eq!(
            t.request_swap(
                SwapRequest::Replace(Box::new(Sniffer {
                    log: Log::default()
                })),
                vec![]
            ),
            Err(SwapError::AlreadyPending)
        );
        // Writes after a replace request are still this protocol's, in order.
        t.write(b"bye");
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, _: &strata::Close) {
        self.log.push("sniffer:lost (must not happen)");
    }
}

#[test]
fn replace_self_hands_the_leftover_to_the_new_protocol() {
    let log = Log::default();
    let mut s = Stack::memory(Box::new(Sniffer { log: log.clone() }));
    let now = s.now();
    s.handle_input(now, b"PRI * HTTP/2.0");
    s.handle_input(now, b" more");
    assert_eq!(
        log.take(),
        vec![
            "sniffer:connection_made",
            "next:connection_made",
            "next:data:PRI * HTTP/2.0",
            "next:data: more",
        ]
    );
    assert_eq!(s.take_output(now), b"sniffed bye");
    s.handle_eof(now);
    assert_eq!(log.take(), vec!["next:eof"]);
}

#[test]
fn a_layer_holding_its_inner_by_type_refuses_a_swap() {
    // A layer that holds its inner protocol by type answers Unsupported.
    let log = Log::default();
    struct AskThroughMux {
        result: Log,
    }
    impl StreamProtocol for AskThroughMux {
        fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
            let r = t.request_swap(
                SwapRequest::Replace(Box::new(Recorder::new("x", &Log::default()))),
                vec![],
            );
            self.result.push(format!("{r:?}"));
        }
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    }
    let mux = common::Mux {
        children: vec![Box::new(AskThroughMux {
            result: log.clone(),
        })],
    };
    let mut s = Stack::memory(Box::new(mux));
    let now = s.now();
    s.handle_input(now, b"x");
    assert_eq!(log.take(), vec![r#"Err(Unsupported { layer: "mux" })"#]);
}
