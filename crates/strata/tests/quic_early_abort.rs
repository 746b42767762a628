//! A stream aborted before any of its bytes left (found by the transport
//! matrix's `abort_midway` rows over the simulated network): the peer's
//! protocol still hears the typed reset, and the connection is not closed
//! under the RESET_STREAM before it arrived.

mod quic_support;

use std::time::Duration;

use quic_support::*;
use strata::quic::QuicError;
use strata::{Close, StreamProtocol, StreamTransport};

/// Writes `n` bytes while the transport is writable, then aborts: all in
/// `connection_made`, before the layer sent anything.
struct WriteThenAbort(usize, SharedLog);

impl StreamProtocol for WriteThenAbort {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let chunk = [7u8; 16 * 1024];
        let mut sent = 0;
        while sent < self.0 && t.writable() {
            t.write(&chunk);
            sent += chunk.len();
        }
        t.abort(Close::aborted(
            "test",
            strata::AbortReason::layer(QuicError::StreamAborted(42)),
        ));
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, why: &Close) {
        self.1.lock().unwrap().lost = Some(why.clone());
    }
}

type Hook = Box<dyn FnMut(&mut strata::testing::InFlight<'_>) -> strata::testing::Verdict + Send>;

fn aborted_early(written: usize, link: strata::testing::LinkConfig) -> Option<Close> {
    aborted_early_with(written, link, None)
}

/// Runs a client that writes `written` bytes and aborts (code 42) against
/// an echo server; returns why the server's protocol ended.
fn aborted_early_with(
    written: usize,
    link: strata::testing::LinkConfig,
    hook: Option<Hook>,
) -> Option<Close> {
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let srv = server(config(1), echo_apps(&server_log));
    let cli = client_stream(
        config(2),
        Box::new(WriteThenAbort(written, client_log.clone())),
    );
    let (mut net, _, _) = pair(3, link, srv, cli);
    if let Some(hook) = hook {
        net.set_tamper(hook);
    }
    run_until(&mut net, Duration::from_secs(60), || {
        server_log.lock().unwrap().lost.is_some()
    });
    let lost = server_log.lock().unwrap().lost.clone();
    assert!(client_log.lock().unwrap().lost.is_some());
    lost
}

fn assert_reset(lost: Option<Close>) {
    let lost = lost.expect("the server's protocol heard of the stream");
    assert!(
        matches!(
            lost.error::<QuicError>(),
            Some(QuicError::StreamReset(42) | QuicError::StreamStopped(42))
        ),
        "{lost}"
    );
}

#[test]
fn a_stream_aborted_after_filling_its_window_is_reset_at_the_peer() {
    let link = lan().delay(Duration::from_millis(20));
    assert_reset(aborted_early(4 << 20, link));
}

#[test]
fn a_stream_aborted_before_sending_is_reset_at_the_peer_over_a_slow_link() {
    let link = lan().delay(Duration::from_millis(20));
    assert_reset(aborted_early(6, link));
}

/// The matrix's case: the client's handshake flight (with its RESET_STREAM
/// coalesced) is held back and its next datagram overtakes it. The client
/// must not have closed the connection by then: the close would reach the
/// server first and the stream would never exist there.
#[test]
fn a_reset_overtaken_by_the_next_datagram_still_reaches_the_peer() {
    let link = lan().delay(Duration::from_millis(20));
    let client = sock(CLIENT);
    // The client's second datagram: its handshake flight, the stream's
    // frames coalesced.
    let mut sent = 0;
    let hook = move |d: &mut strata::testing::InFlight<'_>| {
        if d.from != client {
            return strata::testing::Verdict::Pass;
        }
        sent += 1;
        if sent == 2 {
            strata::testing::Verdict::Hold(Duration::from_millis(10))
        } else {
            strata::testing::Verdict::Pass
        }
    };
    assert_reset(aborted_early_with(4 << 20, link, Some(Box::new(hook))));
}
