//! Frames on a stream after a reset (RFC 9113 §5.1, §5.4.2), written by a
//! raw peer, each case twice: every frame in one read, and frame by frame.
//! The answer must not depend on how the bytes were split.
//!
//! - after the peer's RST_STREAM, DATA and HEADERS are a stream error
//!   STREAM_CLOSED (not ignored, not a connection error);
//! - nothing is sent on a stream the peer has reset, even when the request
//!   and its reset came together;
//! - after our own RST_STREAM, what the peer sent before it saw it is
//!   ignored: one RST_STREAM per stream, never more.

mod h2_support;

use h2_support::*;
use strata::http::h2::frame::{self, ErrorCode};
use strata::http::h2::H2Config;
use strata::{StreamProtocol, StreamTransport};

static BIG: [u8; 65536] = [b'x'; 65536];

/// A server whose `/ok` answers "ok"; every other path gets `f()`.
fn server(f: impl Fn() -> Box<dyn StreamProtocol> + Send + Sync + 'static) -> Raw {
    let svc = service(move |req| {
        if req.uri.path() == "/ok" {
            Box::new(Fixed(b"ok"))
        } else {
            f()
        }
    });
    let mut p = Raw::server(svc, H2Config::default());
    p.handshake(&[]);
    p
}

fn post_fields() -> [(&'static str, &'static str); 4] {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", "/"),
    ]
}

/// Every RST_STREAM the server sent on `stream`.
fn rsts(evs: &[Ev], stream: u32) -> Vec<ErrorCode> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Rst { stream: s, code } if *s == stream => Some(*code),
            _ => None,
        })
        .collect()
}

/// Whether any HEADERS or DATA went out on `stream`.
fn sent_on(evs: &[Ev], stream: u32) -> bool {
    evs.iter().any(
        |e| matches!(e, Ev::Headers { stream: s, .. } | Ev::Data { stream: s, .. } if *s == stream),
    )
}

/// Stream 3, a plain GET answered with a fixed body, still works.
fn still_serves(p: &mut Raw) {
    p.get(3, "/ok");
    let evs = p.read();
    assert_eq!(goaway(&evs), None, "{evs:?}");
    assert_eq!(status(&evs, 3).as_deref(), Some("200"), "{evs:?}");
}

#[test]
fn data_after_the_peers_rst_stream_is_stream_closed() {
    for together in [true, false] {
        let mut p = server(|| Box::new(Hold));
        p.post(1, "/");
        p.data(1, b"body", false);
        p.read();
        p.batch(together, |p| {
            p.rst(1, ErrorCode::Cancel);
            p.data(1, b"more", false);
            p.data(1, b"again", false);
        });
        let evs = p.read();
        assert_eq!(
            rsts(&evs, 1),
            vec![ErrorCode::StreamClosed],
            "together={together}: {evs:?}"
        );
        assert_eq!(goaway(&evs), None, "together={together}: {evs:?}");
        still_serves(&mut p);
    }
}

#[test]
fn headers_after_the_peers_rst_stream_is_stream_closed() {
    for together in [true, false] {
        let mut p = server(|| Box::new(Hold));
        p.post(1, "/");
        p.read();
        p.batch(together, |p| {
            p.rst(1, ErrorCode::Cancel);
            // Trailers, HPACK-encoded with the connection's table.
            p.headers(1, &[("x-trailer", "1")], true);
        });
        let evs = p.read();
        assert_eq!(goaway(&evs), None, "together={together}: {evs:?}");
        assert_eq!(
            rsts(&evs, 1),
            vec![ErrorCode::StreamClosed],
            "together={together}: {evs:?}"
        );
        // The block was decoded: the HPACK state is still in step.
        still_serves(&mut p);
    }
}

#[test]
fn nothing_is_sent_on_a_stream_reset_in_the_same_read() {
    let mut p = server(|| Box::new(Fixed(&BIG)));
    p.batch(true, |p| {
        p.get(1, "/");
        p.rst(1, ErrorCode::Cancel);
    });
    let evs = p.read();
    assert!(!sent_on(&evs, 1), "{evs:?}");
    assert_eq!(rsts(&evs, 1), vec![], "{evs:?}");
    assert_eq!(goaway(&evs), None, "{evs:?}");
    still_serves(&mut p);
}

#[test]
fn nothing_more_is_sent_after_the_peers_rst_stream() {
    // Frame by frame: the response starts (up to the 64 KiB window); after
    // the reset nothing more goes out on the stream, nor a reset of ours.
    let mut p = server(|| Box::new(Fixed(&BIG)));
    p.get(1, "/");
    let evs = p.read();
    assert!(sent_on(&evs, 1), "{evs:?}");
    p.rst(1, ErrorCode::Cancel);
    p.window_update(0, 1 << 20);
    let evs = p.read();
    assert!(!sent_on(&evs, 1), "{evs:?}");
    assert_eq!(rsts(&evs, 1), vec![], "{evs:?}");
}

#[test]
fn one_rst_stream_after_a_stream_error_of_ours() {
    for together in [true, false] {
        let mut p = server(|| Box::new(Echo));
        let mut fields = post_fields().to_vec();
        fields.push(("content-length", "4"));
        p.headers(1, &fields, false);
        p.read();
        p.batch(together, |p| {
            // Longer than content-length: PROTOCOL_ERROR on stream 1.
            p.data(1, b"123456", false);
            // All sent before the peer saw our reset.
            p.data(1, b"78", false);
            p.window_update(1, 100);
            p.data(1, b"9", false);
            p.headers(1, &[("x-trailer", "1")], true);
        });
        let evs = p.read();
        assert_eq!(
            rsts(&evs, 1),
            vec![ErrorCode::ProtocolError],
            "together={together}: {evs:?}"
        );
        assert_eq!(goaway(&evs), None, "together={together}: {evs:?}");
        still_serves(&mut p);
    }
}

/// Answers at once and closes, before the request body arrives.
struct Early;
impl StreamProtocol for Early {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"early");
        t.close();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

#[test]
fn one_rst_stream_after_an_early_response() {
    for together in [true, false] {
        let mut p = server(|| Box::new(Early));
        p.batch(together, |p| {
            p.post(1, "/");
            p.data(1, b"a", false);
            p.data(1, b"b", false);
            p.data(1, b"c", true);
        });
        let evs = p.read();
        assert_eq!(body(&evs, 1), (b"early".to_vec(), true), "{evs:?}");
        // Frame by frame the response ends before the request: RST(NO_ERROR)
        // stops the body (§8.1); together, the request had already ended.
        let want = if together {
            vec![]
        } else {
            vec![ErrorCode::NoError]
        };
        assert_eq!(rsts(&evs, 1), want, "together={together}: {evs:?}");
        assert_eq!(goaway(&evs), None, "together={together}: {evs:?}");
    }
}

#[test]
fn headers_on_a_stream_never_reset_nor_open_is_still_a_connection_error() {
    // The STREAM_CLOSED answer is for streams the peer reset; HEADERS that
    // reuse the id of a stream that simply ended stay a connection error.
    let mut p = server(|| Box::new(Fixed(b"ok")));
    p.get(1, "/");
    let evs = p.read();
    assert!(body(&evs, 1).1, "{evs:?}");
    let mut b = Vec::new();
    let block = p.block(&[
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", "/"),
    ]);
    frame::write_headers(&mut b, 1, &block, true, 16_384);
    p.send(&b);
    let evs = p.read();
    assert_eq!(goaway(&evs), Some(ErrorCode::ProtocolError), "{evs:?}");
}
