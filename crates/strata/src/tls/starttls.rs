//! [`starttls`]: inserting a [`Tls`] layer below a running protocol.

use crate::tls::state::TLS;
use crate::tls::{Tls, TlsConfig, TlsError};
use crate::{AbortReason, Close, StreamLayer, StreamProtocol, StreamTransport, SwapRequest};

/// A swap request that puts a [`Tls`] layer between the requesting protocol
/// and the transport below it (STARTTLS).
///
/// Hand it to [`StreamTransport::request_swap`] with the input read but not
/// consumed: those bytes are fed to the new layer as TLS records, so
/// plaintext pipelined after the STARTTLS command ends the connection as a
/// handshake failure and never reaches the protocol as a command. Writes made
/// after the request in the same callback go through the new layer. If
/// rustls refuses the configuration, the connection is aborted with
/// [`TlsError::Config`].
///
/// ```
/// use std::sync::Arc;
/// use strata::tls::{starttls, TlsConfig};
/// use strata::{StreamProtocol, StreamTransport};
/// struct Smtp { tls: TlsConfig }
/// impl StreamProtocol for Smtp {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
///         if let Some(rest) = data.strip_prefix(b"STARTTLS\r\n") {
///             t.write(b"220 go ahead\r\n");
///             let _ = t.request_swap(starttls(self.tls.clone()), rest.to_vec());
///         }
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// ```
pub fn starttls(cfg: TlsConfig) -> SwapRequest {
    SwapRequest::insert_below(move |inner| match cfg.connect() {
        Ok((conn, sni)) => Box::new(Tls::with_connection(inner, conn, sni, &cfg)),
        Err(e) => Box::new(Refused {
            inner,
            why: Close::aborted(TLS, AbortReason::layer(TlsError::Config(e))),
        }),
    })
}

/// Stands in for a TLS layer rustls would not build: aborts the connection
/// as soon as it is inserted, and tells the inner protocol why.
struct Refused {
    inner: Box<dyn StreamProtocol>,
    why: Close,
}

impl StreamProtocol for Refused {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, _: &Close) {
        self.inner.connection_lost(&self.why);
    }
}

impl StreamLayer for Refused {
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        _: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        t.abort(self.why.clone());
    }
}
