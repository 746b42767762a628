//! TLS in an HTTP/3 tunnel, half-closed (found by the transport matrix's
//! `tls_in_h3_tunnel_over_quic_over_udp` row, where the server lost the end
//! of the client's upload):
//!
//! * An HTTP/3 stream says it half-closes (`HalfClose(true)`: `write_eof`
//!   is FIN and reading goes on), so TLS 1.3's `write_eof` above it sends
//!   close_notify and then FIN; without it the response never ended.
//! * A server stream whose response is complete (FIN sent) gets the
//!   client's STOP_SENDING(H3_NO_ERROR) while the request still arrives
//!   (the client's TLS closed the tunnel once it had read everything,
//!   before the QUIC FIN came): the stop costs nothing, the request's
//!   remaining bytes and its end are read as usual, the exchange ends
//!   cleanly.

mod h3_support;

use std::sync::Arc;

use h3_support::*;
use strata::http::h3::H3Config;
use strata::http::HttpExchange;
use strata::{Close, HalfClose, StreamProtocol, StreamTransport};

/// Answers `200` and "bye", ends its side at once; reads the rest.
struct EarlyFin(Shared);

impl StreamProtocol for EarlyFin {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        assert_eq!(t.get::<HalfClose>(), Some(&HalfClose(true)));
        let ok = http::Response::builder().status(200).body(()).unwrap();
        t.send_response(ok).unwrap();
        t.write(b"bye");
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.0.lock().unwrap().body.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

#[test]
fn a_stream_half_closes_and_a_stop_after_our_fin_leaves_the_request_to_be_read() {
    let seen = Shared::default();
    let s2 = seen.clone();
    let svc: strata::http::SharedService = Arc::new(move |_: &http::request::Parts| {
        Box::new(EarlyFin(s2.clone())) as Box<dyn StreamProtocol>
    });
    let mut h = Harness::server(svc, H3Config::default());
    h.peer_setup(&settings());
    let id = h.next_request_id();
    let head = h.headers(
        id,
        &[
            (":method", "CONNECT"),
            (":protocol", "echo"),
            (":scheme", "https"),
            (":authority", "localhost"),
            (":path", "/chat"),
        ],
    );
    h.send(id, &head);
    h.send(id, &Harness::data(b"a"));
    let m = h.message(id);
    assert_eq!((m.status(), m.body.as_slice()), (Some(200), &b"bye"[..]));
    assert!(h.conn.finished.contains(&id), "our FIN is out");
    h.stop(id, 0x100);
    h.send(id, &Harness::data(b"b"));
    h.fin(id);
    let s = seen.lock().unwrap();
    assert_eq!(s.body, b"ab");
    assert!(s.eof);
    assert!(
        matches!(s.lost, Some(Close::Done)),
        "{:?}",
        s.lost.as_ref().map(|c| c.to_string())
    );
}
