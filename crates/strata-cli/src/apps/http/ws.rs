//! `/ws`: a WebSocket echo (RFC 6455 over HTTP/1.1 `Upgrade`, RFC 8441 over
//! HTTP/2, RFC 9220 over HTTP/3): every message comes back in its kind.

use strata::http::ws::{self, MessageKind, WebSocket, WsConfig};
use strata::{Datagram, DatagramProtocol, DatagramTransport, StreamProtocol};

/// The `/ws` route's protocol: the WebSocket handshake (permessage-deflate
/// accepted when offered), then [`WsEcho`].
pub fn route() -> Box<dyn StreamProtocol> {
    let cfg = WsConfig {
        deflate: true,
        ..WsConfig::default()
    };
    Box::new(WebSocket::server(WsEcho::default(), cfg))
}

/// Echoes every message, text as text and binary as binary. While the
/// stack below cannot take more it stops reading, and reads again once it
/// drained: a client that never reads cannot make it buffer without end.
#[derive(Debug, Default)]
pub struct WsEcho {
    paused: bool,
}

impl DatagramProtocol for WsEcho {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let kind = ws::message_kind(t);
        for d in batch {
            match (kind, std::str::from_utf8(d.data)) {
                (Some(MessageKind::Text), Ok(text)) => {
                    ws::send_text(t, text);
                }
                _ => ws::send_binary(t, d.data),
            }
        }
        if !t.writable() && !self.paused {
            self.paused = true;
            t.pause_reading();
        }
    }

    fn resume_writing(&mut self, t: &mut dyn DatagramTransport) {
        if self.paused {
            self.paused = false;
            t.resume_reading();
        }
    }
}
