//! Run-time layer swaps at every swap point: insert below (STARTTLS-shaped)
//! in the middle of a chunk, and replace self (ALPN/sniffing-shaped). Each
//! test runs at every depth: on the memory bottom, over TLS, over TLS in
//! TLS, and inside an HTTP/2 CONNECT stream; the holder right below the
//! requesting protocol applies the swap, and the layers below stay.

mod common;
mod depth;
mod tls_support;

use common::{x20, Log, Recorder, Upgrader};
use depth::{Depth, Rig, DEPTHS};
use strata::{StreamProtocol, StreamTransport, SwapError, SwapRequest};

#[test]
fn insert_below_mid_chunk_feeds_the_leftover_through_the_new_layer() {
    for depth in DEPTHS {
        let log = Log::default();
        let mut rig = Rig::new(depth, Box::new(Upgrader::new(&log)));
        // One chunk: a plaintext line, the upgrade command, then bytes that
        // are already meant for the new layer (encoded by it).
        let mut chunk = b"hello\r\nCHAIN\r\nUPGRADE\r\n".to_vec();
        chunk.extend(x20(b"after\r\nCHAIN\r\n"));
        rig.send(&chunk);
        let base = depth.chain();
        assert_eq!(
            log.take(),
            vec![
                "up:connection_made".to_string(),
                "up:line:hello".into(),
                format!("up:chain:{base}"),
                "up:requested".into(),
                "up:line:after".into(),
                format!("up:chain:xor>{base}"),
            ],
            "{depth:?}: the leftover was decoded by the new layer, with no second \
             connection_made, and the layers below stayed"
        );
        let mut want = b"got:hello\r\n".to_vec();
        want.extend(x20(b"got:after\r\n"));
        assert_eq!(rig.output(), want, "{depth:?}");
    }
}

#[test]
fn writes_after_the_request_go_through_the_new_layer_in_order() {
    for depth in DEPTHS {
        let log = Log::default();
        let mut up = Upgrader::new(&log);
        up.write_after = Some(b"220 ready\r\n");
        let mut rig = Rig::new(depth, Box::new(up));
        rig.send(b"one\r\nUPGRADE\r\n");
        let mut want = b"got:one\r\n".to_vec();
        want.extend(x20(b"220 ready\r\n"));
        assert_eq!(rig.output(), want, "{depth:?}");
    }
}

#[test]
fn the_read_pause_survives_the_insert_and_the_leftover_waits() {
    for depth in DEPTHS {
        let log = Log::default();
        let mut up = Upgrader::new(&log);
        up.pause_on_upgrade = true;
        let wakers = up.wakers.clone();
        let mut rig = Rig::new(depth, Box::new(up));
        let mut chunk = b"UPGRADE\r\n".to_vec();
        chunk.extend(x20(b"queued\r\n"));
        rig.send(&chunk);
        if depth == Depth::Tcp {
            let s = rig.pump.b();
            assert!(
                s.is_read_paused(),
                "the pause was re-applied through the layer"
            );
            assert!(!s.wants_read());
        }
        // More input waits behind the pause too.
        rig.send(&x20(b"later\r\n"));
        assert_eq!(
            log.take(),
            vec!["up:connection_made", "up:requested"],
            "{depth:?}: nothing delivered while paused"
        );
        // The wake taken before the swap resumes reading through the new layer.
        let w = wakers.lock().unwrap()[0].clone();
        std::thread::spawn(move || w.wake()).join().unwrap();
        rig.settle();
        assert_eq!(
            log.take(),
            vec!["up:wake", "up:line:queued", "up:line:later"],
            "{depth:?}"
        );
    }
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
    for depth in DEPTHS {
        let log = Log::default();
        let mut rig = Rig::new(depth, Box::new(Sniffer { log: log.clone() }));
        rig.send(b"PRI * HTTP/2.0");
        rig.send(b" more");
        assert_eq!(
            log.take(),
            vec![
                "sniffer:connection_made",
                "next:connection_made",
                "next:data:PRI * HTTP/2.0",
                "next:data: more",
            ],
            "{depth:?}"
        );
        assert_eq!(rig.output(), b"sniffed bye", "{depth:?}");
        rig.send_eof();
        assert_eq!(log.take(), vec!["next:eof"], "{depth:?}");
    }
}

#[test]
fn a_layer_holding_its_inner_by_type_refuses_a_swap() {
    // A layer that holds its inner protocol by type answers Unsupported.
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
    for depth in DEPTHS {
        let log = Log::default();
        let mux = common::Mux {
            children: vec![Box::new(AskThroughMux {
                result: log.clone(),
            })],
        };
        let mut rig = Rig::new(depth, Box::new(mux));
        rig.send(b"x");
        assert_eq!(
            log.take(),
            vec![r#"Err(Unsupported { layer: "mux" })"#],
            "{depth:?}"
        );
    }
}

/// Replaces itself once it has seen EOF: the new protocol gets the leftover,
/// then the EOF the old one handed on.
struct ReplaceAtEof {
    log: Log,
}

impl StreamProtocol for ReplaceAtEof {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let next = Recorder::new("next", &self.log);
        t.request_swap(SwapRequest::Replace(Box::new(next)), b"held".to_vec())
            .unwrap();
    }
}

#[test]
fn a_protocol_replaced_at_eof_hands_the_eof_on() {
    for depth in DEPTHS {
        let log = Log::default();
        let mut rig = Rig::new(depth, Box::new(ReplaceAtEof { log: log.clone() }));
        rig.send_eof();
        assert_eq!(
            log.take(),
            vec!["next:connection_made", "next:data:held", "next:eof"],
            "{depth:?}"
        );
    }
}

/// Closes, then asks for a swap: refused as closed.
struct SwapAfterClose {
    log: Log,
}

impl StreamProtocol for SwapAfterClose {
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.close();
        let r = t.request_swap(
            SwapRequest::Replace(Box::new(Recorder::new("x", &Log::default()))),
            vec![],
        );
        self.log.push(format!("{r:?}"));
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn a_swap_asked_for_after_close_is_refused() {
    for depth in DEPTHS {
        let log = Log::default();
        let mut rig = Rig::new(depth, Box::new(SwapAfterClose { log: log.clone() }));
        rig.send(b"x");
        assert_eq!(
            log.take(),
            vec![format!("{:?}", Err::<(), _>(SwapError::Closed))],
            "{depth:?}"
        );
    }
}

/// Logs the layer chain it sees, then replaces itself by one that does too.
struct ChainThenReplace {
    log: Log,
}

fn chain_of(t: &dyn StreamTransport) -> String {
    t.layer_chain().join(">")
}

impl StreamProtocol for ChainThenReplace {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.log.push(format!("before:{}", chain_of(t)));
        let next = ChainLogger {
            log: self.log.clone(),
        };
        t.request_swap(SwapRequest::Replace(Box::new(next)), data.to_vec())
            .unwrap();
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

struct ChainLogger {
    log: Log,
}

impl StreamProtocol for ChainLogger {
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        self.log.push(format!("after:{}", chain_of(t)));
        t.write(b"ok");
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn a_swap_asked_for_above_tls_is_applied_above_tls_and_tls_stays() {
    for depth in [Depth::Tls, Depth::TlsInTls] {
        let log = Log::default();
        let mut rig = Rig::new(depth, Box::new(ChainThenReplace { log: log.clone() }));
        rig.send(b"x");
        let base = depth.chain();
        assert_eq!(
            log.take(),
            vec![format!("before:{base}"), format!("after:{base}")],
            "{depth:?}: the protocol above TLS was replaced, TLS was not"
        );
        assert_eq!(
            rig.output(),
            b"ok",
            "{depth:?}: the new protocol writes through TLS"
        );
    }
}
