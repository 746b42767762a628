//! The `websocket` view: the message transport the inner protocol sees.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};

use super::layer::{State, WS};
use super::{MessageKind, Subprotocol};
use crate::{Close, DatagramTransport, Introspect, StreamTransport, Transmit};

/// Capability on a WebSocket transport: the kind of the next message
/// [`send`](DatagramTransport::send) sends (reset to binary after each).
/// Set it with [`send_text`](super::send_text).
#[derive(Debug)]
///
/// ```
/// use strata::http::ws::{self, NextMessage, Role, WebSocket};
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
/// /// Answers each message with "ok", as text when it can.
/// struct Ok;
/// impl DatagramProtocol for Ok {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {
///         assert!(t.get::<NextMessage>().is_some(), "a WebSocket transport");
///         ws::send_text(t, "ok"); // sets NextMessage to text for this send
///     }
/// }
/// let mut s = Stack::memory(Box::new(WebSocket::new(Role::Server, Ok, Default::default())));
/// let now = s.now();
/// s.handle_input(now, &[0x82, 0x80, 0, 0, 0, 0]); // an empty binary message
/// assert_eq!(s.take_output(now), [0x81, 2, b'o', b'k']); // a text frame
/// ```
pub struct NextMessage(pub(super) Cell<MessageKind>);

/// Capability on a WebSocket transport: the code and reason of the close
/// frame `close` will send. Set it with [`close_with`](super::close_with).
#[derive(Debug, Default)]
///
/// ```
/// use strata::http::ws::{self, CloseWith, Role, WebSocket};
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Stack};
/// /// Closes at the first message, with code 4000.
/// struct Done;
/// impl DatagramProtocol for Done {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {
///         assert!(t.get::<CloseWith>().is_some(), "a WebSocket transport");
///         ws::close_with(t, 4000, "bye");
///     }
/// }
/// let mut s = Stack::memory(Box::new(WebSocket::new(Role::Server, Done, Default::default())));
/// let now = s.now();
/// s.handle_input(now, &[0x82, 0x80, 0, 0, 0, 0]);
/// assert_eq!(s.take_output(now), [0x88, 5, 0x0f, 0xa0, b'b', b'y', b'e']); // close 4000 "bye"
/// ```
pub struct CloseWith(pub(super) RefCell<Option<(u16, String)>>);

/// What the view answers besides the stream's capabilities.
#[derive(Debug)]
pub(super) struct Caps {
    /// The kind of the message being delivered, during `datagrams_received`.
    pub(super) received: Option<MessageKind>,
    pub(super) next: NextMessage,
    pub(super) close_with: CloseWith,
    pub(super) subprotocol: Option<Subprotocol>,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            received: None,
            next: NextMessage(Cell::new(MessageKind::Binary)),
            close_with: CloseWith::default(),
            subprotocol: None,
        }
    }
}

pub(super) struct WsView<'a> {
    below: &'a mut dyn StreamTransport,
    st: &'a mut State,
}

impl<'a> WsView<'a> {
    pub(super) fn new(below: &'a mut dyn StreamTransport, st: &'a mut State) -> Self {
        WsView { below, st }
    }

    fn close_frame(&mut self) {
        if self.st.dead && !self.st.close_received {
            return self.below.close();
        }
        let (code, reason) = self
            .st
            .caps
            .close_with
            .0
            .borrow_mut()
            .take()
            .unwrap_or((1000, String::new()));
        self.st.send_close(self.below, Some(code), &reason);
    }
}

impl Introspect for WsView<'_> {
    fn name(&self) -> &'static str {
        WS
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        let c = &self.st.caps;
        if id == TypeId::of::<MessageKind>() {
            return c.received.as_ref().map(|k| k as &dyn Any);
        }
        if id == TypeId::of::<Subprotocol>() {
            return c.subprotocol.as_ref().map(|s| s as &dyn Any);
        }
        if id == TypeId::of::<crate::stats::Counters>() {
            return Some(&self.st.counters);
        }
        crate::capability!(id, c.next, c.close_with)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl DatagramTransport for WsView<'_> {
    fn send(&mut self, tx: &Transmit<'_>) {
        let kind = self.st.caps.next.0.replace(MessageKind::Binary);
        match tx.segment_size {
            None => self.st.send_message(self.below, kind, tx.contents),
            Some(_) => tx
                .segments()
                .for_each(|s| self.st.send_message(self.below, kind, s)),
        }
    }
    fn max_datagram_size(&self) -> usize {
        self.st.cfg.max_message
    }
    fn write_eof(&mut self) {
        self.close_frame();
    }
    fn close(&mut self) {
        self.close_frame();
    }
    fn abort(&mut self, why: Close) {
        self.st.dead = true;
        self.below.abort(why);
    }
    fn pause_reading(&mut self) {
        self.st.paused = true;
        self.below.pause_reading();
    }
    fn resume_reading(&mut self) {
        self.st.paused = false;
        self.below.resume_reading();
    }
    crate::forward_to_lower!(below: buffered, writable, now, waker);
}
