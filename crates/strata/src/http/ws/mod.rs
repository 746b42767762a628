//! WebSocket (RFC 6455) as a layer: a stream protocol below, a message
//! transport above.
//!
//! [`WebSocket`] runs over any byte stream: the connection after an
//! HTTP/1.1 `Upgrade`, an HTTP/2 extended CONNECT stream (RFC 8441) or an
//! HTTP/3 one (RFC 9220), or a plain stream when the handshake was made
//! elsewhere. Above it runs an ordinary [`DatagramProtocol`](crate::DatagramProtocol): one datagram
//! per message, so a message protocol written for
//! `framing::LengthPrefixed` runs over WebSocket
//! unchanged. What WebSocket adds is typed through capabilities and helpers
//! on the transport:
//!
//! * [`send_text`] / [`send_binary`] send a message of either kind
//!   (`send` alone sends binary);
//! * [`message_kind`] tells, during `datagrams_received`, which kind arrived;
//! * [`close_with`] closes with a code and a reason;
//! * the [`Subprotocol`] capability is the negotiated subprotocol.
//!
//! The wire format lives in [`frame`](parse_header) functions apart from the
//! state machine; the handshakes in [`accept_key`] and the constructors
//! [`WebSocket::server`] and [`WebSocket::client`]. Limits and deadlines are
//! in [`WsConfig`] (`docs/limits.md`), and `docs/websocket.md` walks
//! through a server and a client.
//!
//! ```
//! use strata::http::ws::{self, MessageKind, Role, WebSocket};
//! use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
//!
//! /// Answers every text message with its length, as text.
//! struct Count;
//! impl DatagramProtocol for Count {
//!     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
//!         if ws::message_kind(t) == Some(MessageKind::Text) {
//!             ws::send_text(t, &batch[0].data.len().to_string());
//!         }
//!     }
//! }
//! let mut s = Stack::memory(Box::new(WebSocket::new(Role::Server, Count, Default::default())));
//! let now = s.now();
//! s.handle_input(now, &[0x81, 0x83, 0, 0, 0, 0, b'a', b'b', b'c']); // text "abc", zero mask
//! assert_eq!(s.take_output(now), [0x81, 1, b'3']);
//! ```

mod config;
mod deflate;
mod error;
mod frame;
mod handshake;
mod layer;
mod recv;
mod view;

pub use config::{
    WsConfig, DEFAULT_CLOSE_TIMEOUT, DEFAULT_FRAGMENT_SIZE, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_MAX_MESSAGE,
};
pub use deflate::DeflateParams;
pub use error::WsError;
pub use frame::{
    apply_mask, encode_header, parse_header, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER,
};
pub use handshake::{accept_key, HandshakeVersion};
pub use layer::WebSocket;
pub use view::{CloseWith, NextMessage};

use crate::{DatagramTransport, Transmit};

/// Which end of a WebSocket this is: a client masks what it sends, a
/// server requires masked frames.
///
/// ```
/// use strata::http::ws::Role;
/// assert_ne!(Role::Client, Role::Server);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that opened the connection.
    Client = 1,
    /// The end that accepted it.
    Server = 2,
}

/// The kind of a data message. As a capability of a WebSocket transport it
/// is the kind of the message being delivered (during
/// `datagrams_received`); [`message_kind`] reads it.
///
/// ```
/// use strata::http::ws::MessageKind;
/// assert_ne!(MessageKind::Text, MessageKind::Binary);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (checked on receipt).
    Text,
    /// Bytes.
    Binary,
}

/// Capability: the subprotocol the handshake agreed on
/// (`Sec-WebSocket-Protocol`), when there is one.
///
/// ```
/// use strata::http::ws::Subprotocol;
/// assert_eq!(Subprotocol("chat".into()).0, "chat");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subprotocol(
    /// The subprotocol's name.
    pub String,
);

/// The kind of the message being delivered, when `t` is a WebSocket
/// transport inside `datagrams_received`; `None` otherwise.
///
/// ```
/// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
/// let mut t = MemoryDatagramTransport::new(1200);
/// assert_eq!(strata::http::ws::message_kind(&mut t), None);
/// ```
pub fn message_kind(t: &dyn DatagramTransport) -> Option<MessageKind> {
    t.get::<MessageKind>().copied()
}

/// Sends `text` as a text message. On a transport that is not a WebSocket
/// it is sent as a plain datagram, and `false` is returned.
///
/// ```
/// use strata::testing::MemoryDatagramTransport;
/// let mut t = MemoryDatagramTransport::new(1200);
/// assert!(!strata::http::ws::send_text(&mut t, "hi"));
/// assert_eq!(t.take_sent()[0].contents, b"hi");
/// ```
pub fn send_text(t: &mut dyn DatagramTransport, text: &str) -> bool {
    let ws = match t.get::<NextMessage>() {
        Some(next) => {
            next.0.set(MessageKind::Text);
            true
        }
        None => false,
    };
    t.send(&Transmit::connected(text.as_bytes()));
    ws
}

/// Sends `data` as a binary message (what `send` does on a WebSocket).
///
/// ```
/// use strata::testing::MemoryDatagramTransport;
/// let mut t = MemoryDatagramTransport::new(1200);
/// strata::http::ws::send_binary(&mut t, b"\x00\x01");
/// assert_eq!(t.take_sent()[0].contents, b"\x00\x01");
/// ```
pub fn send_binary(t: &mut dyn DatagramTransport, data: &[u8]) {
    if let Some(next) = t.get::<NextMessage>() {
        next.0.set(MessageKind::Binary);
    }
    t.send(&Transmit::connected(data));
}

/// Closes with `code` and `reason` (cut to fit a control frame, at a
/// character boundary) instead of 1000. Returns `false`, and closes plainly,
/// on a transport that is not a WebSocket.
///
/// ```
/// use strata::testing::MemoryDatagramTransport;
/// let mut t = MemoryDatagramTransport::new(1200);
/// assert!(!strata::http::ws::close_with(&mut t, 4000, "bye"));
/// assert!(t.is_closed());
/// ```
pub fn close_with(t: &mut dyn DatagramTransport, code: u16, reason: &str) -> bool {
    let ws = match t.get::<CloseWith>() {
        Some(c) => {
            *c.0.borrow_mut() = Some((code, reason.to_owned()));
            true
        }
        None => false,
    };
    t.close();
    ws
}
