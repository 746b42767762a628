//! [`TlsInfo`]: what a completed handshake agreed, as a capability.

/// Capability of the `tls` view once the handshake has completed: what was
/// negotiated, found with `t.get::<TlsInfo>()` from any layer above.
///
/// ```
/// use strata::tls::TlsInfo;
/// use strata::StreamTransport;
/// fn alpn_is_h2(t: &dyn StreamTransport) -> bool {
///     t.get::<TlsInfo>().and_then(|i| i.alpn.as_deref()) == Some(b"h2")
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The application protocol chosen by ALPN, if any.
    pub alpn: Option<Vec<u8>>,
    /// The server name: the SNI the client sent (server side), or the DNS
    /// name the client asked for (client side, when SNI is enabled).
    pub server_name: Option<String>,
    /// The protocol version.
    pub version: rustls::ProtocolVersion,
    /// The cipher suite's IANA name (`TLS13_AES_128_GCM_SHA256`).
    pub cipher_suite: &'static str,
    /// The peer's certificate chain as DER, its own certificate first (empty
    /// when the peer sent none, as a client usually does).
    pub peer_certificates: Vec<Vec<u8>>,
    /// True when this handshake resumed an earlier session (a TLS 1.3
    /// ticket, or a TLS 1.2 session ID or ticket) rather than running a
    /// full handshake. A client resumes when it reuses its
    /// `Arc<rustls::ClientConfig>` (whose resumption store keeps the
    /// sessions) with a server that remembers them (its session cache or
    /// ticketer). On a resumed session `peer_certificates` is the chain
    /// presented at the original full handshake.
    pub resumed: bool,
}

impl TlsInfo {
    /// True when TLS 1.3 was negotiated.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::testing::Pump;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// use strata::tls::{ClientTls, Identity, ServerTls, Tls, TlsInfo};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let info = |versions: &[&'static rustls::SupportedProtocolVersion]| -> TlsInfo {
    ///     let client = ClientTls::new("localhost").unwrap().insecure().versions(versions);
    ///     let server = ServerTls::new(&Identity::localhost().unwrap()).build().unwrap();
    ///     let a = Tls::new(Quiet, &client.build().unwrap()).unwrap();
    ///     let b = Tls::new(Quiet, &server).unwrap();
    ///     let mut pump = Pump::new(Box::new(a), Box::new(b));
    ///     pump.run(Duration::from_secs(1));
    ///     pump.a().protocol::<Tls<Quiet>>().unwrap().info().unwrap().clone()
    /// };
    /// assert!(info(&[&rustls::version::TLS13]).is_tls13());
    /// assert!(!info(&[&rustls::version::TLS12]).is_tls13());
    /// ```
    pub fn is_tls13(&self) -> bool {
        self.version == rustls::ProtocolVersion::TLSv1_3
    }

    /// Reads the agreed parameters off a connection whose handshake is done.
    pub(crate) fn of(conn: &rustls::Connection, client_sni: Option<&str>) -> TlsInfo {
        let server_name = match conn {
            rustls::Connection::Server(s) => s.server_name().map(str::to_owned),
            rustls::Connection::Client(_) => client_sni.map(str::to_owned),
        };
        TlsInfo {
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            server_name,
            // Both are known once the handshake is done; the fallbacks are
            // never seen in practice but keep this total.
            version: conn
                .protocol_version()
                .unwrap_or(rustls::ProtocolVersion::Unknown(0)),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or("unknown"),
            peer_certificates: conn
                .peer_certificates()
                .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
                .unwrap_or_default(),
            resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        }
    }
}
