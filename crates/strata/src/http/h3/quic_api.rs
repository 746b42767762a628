//! The one place where HTTP/3 meets the QUIC layer's connection contract
//! (`QuicApp`, `QuicConnection`, stream ids): HTTP/3 is by definition an
//! application of QUIC (RFC 9114 §1), so the rest of `h3` names only this
//! module. When the connection-application contract moves to the core, this
//! file points there instead (see the layering test's `ALLOWED`).
pub(super) use crate::quic::{Dir, QuicApp, QuicConnection, StreamError, StreamId};
