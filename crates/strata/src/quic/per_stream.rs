//! [`PerStream`]: one stream protocol per QUIC stream.

use super::{QuicApp, QuicConnection, StreamId};
use crate::StreamFactory;

/// The app that runs one [`StreamProtocol`](crate::StreamProtocol) per
/// stream, from a factory, each seeing a `quic-stream`
/// [`StreamTransport`](crate::StreamTransport).
pub struct PerStream {
    _factory: StreamFactory,
}

impl PerStream {
    /// Runs a protocol from `factory` on every stream the peer opens.
    pub fn new(factory: StreamFactory) -> Self {
        PerStream { _factory: factory }
    }
}

impl QuicApp for PerStream {
    fn stream_data(&mut self, c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        let _ = (c, id, data);
        todo!()
    }
}
