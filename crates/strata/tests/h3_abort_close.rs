//! An aborted HTTP/3 tunnel (found by the transport matrix's
//! `abort_midway` rows over HTTP/3): the server's protocol must hear the
//! client's H3_REQUEST_CANCELLED.
//!
//! * The client's connection closes only once the RESET_STREAM is
//!   acknowledged, so the close cannot discard or overtake it (the server
//!   would hear the connection's H3_NO_ERROR instead).

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
