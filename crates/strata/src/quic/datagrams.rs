//! [`DatagramApp`]: the connection's DATAGRAM frames (RFC 9221) as a
//! [`DatagramTransport`] for a [`DatagramProtocol`].

use std::any::{Any, TypeId};
use std::time::Instant;

use bytes::Bytes;

use super::{QuicApp, QuicConnection, QuicError, StreamId};
use crate::{
    Close, Datagram, DatagramProtocol, DatagramTransport, Introspect, Transmit, Wake, WakeRoute,
};

/// The app that runs a [`DatagramProtocol`] over the connection's DATAGRAM
/// frames: unreliable, unordered, boundaries kept, as over UDP. Each sent
/// datagram is one frame (a GSO batch is split); one over the peer's
/// limit is dropped and counted, as a datagram transport drops. Streams the
/// peer opens are refused (STOP_SENDING 0).
///
/// `close` sends CONNECTION_CLOSE 0; `abort` closes with the code of a
/// [`QuicError::StreamAborted`] reason, else 0.
///
/// ```
/// use strata::quic::DatagramApp;
/// use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, b: &[Datagram<'_>]) {
///         for d in b { t.send(&Transmit::connected(d.data)) }
///     }
/// }
/// let app = DatagramApp::new(Box::new(Echo));
/// assert_eq!(app.dropped(), 0);
/// ```
pub struct DatagramApp {
    proto: Box<dyn DatagramProtocol>,
    st: DState,
}

struct DState {
    started: bool,
    read_paused: bool,
    dropped: u64,
    closed: bool,
}

impl DatagramApp {
    /// Runs `proto` once the handshake is done.
    pub fn new(proto: Box<dyn DatagramProtocol>) -> Self {
        DatagramApp {
            proto,
            st: DState {
                started: false,
                read_paused: false,
                dropped: 0,
                closed: false,
            },
        }
    }

    /// Datagrams dropped: over the peer's limit, refused by it, or arrived
    /// while reading was paused.
    pub fn dropped(&self) -> u64 {
        self.st.dropped
    }
}

struct DView<'a> {
    c: &'a mut dyn QuicConnection,
    st: &'a mut DState,
}

impl Introspect for DView<'_> {
    fn name(&self) -> &'static str {
        "quic-datagrams"
    }
    fn local_capability(&self, _: TypeId) -> Option<&dyn Any> {
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.c as &dyn Introspect)
    }
}

impl DatagramTransport for DView<'_> {
    fn send(&mut self, tx: &Transmit<'_>) {
        if self.st.closed {
            self.st.dropped += 1;
            return;
        }
        for seg in tx.segments() {
            if self.c.send_datagram(Bytes::copy_from_slice(seg)).is_err() {
                self.st.dropped += 1;
            }
        }
    }
    fn max_datagram_size(&self) -> usize {
        self.c.max_datagram_size().unwrap_or(0)
    }
    fn close(&mut self) {
        if !self.st.closed {
            self.st.closed = true;
            self.c.close(0, b"");
        }
    }
    fn abort(&mut self, why: Close) {
        if !self.st.closed {
            self.st.closed = true;
            let code = match why.error::<QuicError>() {
                Some(QuicError::StreamAborted(code)) => *code,
                _ => 0,
            };
            self.c.close(code, why.to_string().as_bytes());
        }
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
    }
    fn buffered(&self) -> usize {
        0
    }
    fn writable(&self) -> bool {
        !self.st.closed
    }
    fn now(&self) -> Instant {
        self.c.now()
    }
    fn waker(&self) -> Wake {
        self.c.waker()
    }
}

impl QuicApp for DatagramApp {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.st.started = true;
        self.proto.connection_made(&mut DView {
            c,
            st: &mut self.st,
        });
    }
    fn stream_opened(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        c.stop_sending(id, 0);
        if id.is_bidi() {
            c.reset(id, 0);
        }
    }
    fn stream_data(&mut self, _: &mut dyn QuicConnection, _: StreamId, _: &[u8]) {}
    fn datagram_received(&mut self, c: &mut dyn QuicConnection, data: &[u8]) {
        if self.st.read_paused || self.st.closed {
            self.st.dropped += 1;
            return;
        }
        let batch = [Datagram::new(None, data)];
        self.proto.datagrams_received(
            &mut DView {
                c,
                st: &mut self.st,
            },
            &batch,
        );
    }
    fn next_deadline(&self) -> Option<Instant> {
        if self.st.started {
            self.proto.next_deadline()
        } else {
            None
        }
    }
    fn on_deadline(&mut self, c: &mut dyn QuicConnection) {
        self.proto.on_deadline(&mut DView {
            c,
            st: &mut self.st,
        });
    }
    fn on_wake_at(&mut self, c: &mut dyn QuicConnection, route: WakeRoute<'_>) {
        self.proto.on_wake(
            &mut DView {
                c,
                st: &mut self.st,
            },
            route,
        );
    }
    fn connection_lost(&mut self, why: &Close) {
        self.proto.connection_lost(why);
    }
}
