//! An aborted HTTP/3 tunnel (found by the transport matrix's
//! `abort_midway` rows over HTTP/3): the server's protocol must hear the
//! client's H3_REQUEST_CANCELLED.
//!
//! * The client's connection closes only once the RESET_STREAM is
//!   acknowledged, so the close cannot discard or overtake it (the server
//!   would hear the connection's H3_NO_ERROR instead).
//! * A tunnel's bytes leave only after its response: handed to QUIC with
//!   the request head, an abort in the same callback discarded the head
//!   with them and the server never heard of the tunnel.

mod h3_support;

use h3_support::*;
use strata::http::h3::frame::Settings;
use strata::http::h3::{H3Client, H3Config};
use strata::http::Protocol;
use strata::{AbortReason, Close, StreamProtocol, StreamTransport};

/// Writes a little, then aborts at the response.
struct AbortAtResponse;

impl StreamProtocol for AbortAtResponse {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"hello");
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.abort(Close::aborted("test", AbortReason::Requested));
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn the_close_waits_for_the_reset_of_an_aborted_request() {
    let mut req = http::Request::connect("https://localhost/chat")
        .body(())
        .unwrap();
    req.extensions_mut().insert(Protocol("echo".into()));
    let client = H3Client::request(req, Box::new(AbortAtResponse), H3Config::default());
    let mut h = Harness::client(client);
    h.peer_setup(&Settings {
        enable_connect_protocol: true,
        ..Settings::default()
    });
    let m = h.message(0);
    assert_eq!(m.field(":method"), Some("CONNECT"));
    let mut w = h.headers(0, &[(":status", "200")]);
    w.extend(Harness::data(b"hi"));
    h.send(0, &w);
    assert!(h.conn.resets.contains(&(0, 0x10c)), "{:?}", h.conn.resets);
    h.read_app_uni();
    assert_eq!(h.goaway, Some(0), "the client winds down");
    assert_eq!(h.close_code(), None, "not before the reset is acknowledged");
    h.acked(0);
    assert_eq!(h.close_code(), Some(0x100));
}

/// Writes `n` bytes while writable at `connection_made`, then aborts.
struct FillThenAbort(usize);

impl StreamProtocol for FillThenAbort {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut sent = 0;
        while sent < self.0 && t.writable() {
            t.write(&[1u8; 16 * 1024]);
            sent += 16 * 1024;
        }
        if sent >= self.0 {
            t.abort(Close::aborted("test", AbortReason::Requested));
        }
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.connection_made(t)
    }
}

#[test]
fn a_tunnels_bytes_wait_for_its_response_and_the_head_goes_alone() {
    let mut req = http::Request::connect("https://localhost/chat")
        .body(())
        .unwrap();
    req.extensions_mut().insert(Protocol("echo".into()));
    let client = H3Client::request(req, Box::new(FillThenAbort(1 << 20)), H3Config::default());
    let mut h = Harness::client(client);
    h.peer_setup(&Settings {
        enable_connect_protocol: true,
        ..Settings::default()
    });
    // QUIC took the head, and nothing else: the protocol stopped at the
    // stream's send buffer and did not reach its abort.
    let m = h.message(0);
    assert_eq!(m.field(":method"), Some("CONNECT"));
    assert!(m.body.is_empty());
    assert!(h.conn.resets.is_empty(), "{:?}", h.conn.resets);
    // The tunnel is up: the bytes go, and the abort that follows resets
    // a stream whose head the server has.
    let w = h.headers(0, &[(":status", "200")]);
    h.send(0, &w);
    assert!(!h.message(0).body.is_empty());
    assert!(h.conn.resets.contains(&(0, 0x10c)), "{:?}", h.conn.resets);
}
