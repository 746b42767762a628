//! TLS as a transport of the load generator: `tls::Client` (tokio-rustls
//! client streams sharing one `Arc<ClientConfig>`, so one session store)
//! implements the loads' [`Transport`]. The loads themselves are in `load`,
//! written once; over TLS the connection loop also counts what kind of
//! handshake each connection had (so `--resume` is checked to have resumed).

use std::io;
use std::net::SocketAddr;

use rustls::HandshakeKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::load::{mismatch, Transport};
use crate::tls::{Client, ClientStream};

impl Transport for Client {
    type Stream = ClientStream;
    type Reader = ReadHalf<ClientStream>;
    type Writer = WriteHalf<ClientStream>;
    const PREFIX: &'static str = "tls ";
    const HANDSHAKES: bool = true;

    async fn connect(&self, addr: SocketAddr) -> io::Result<ClientStream> {
        Client::connect(self, addr).await
    }
    fn split(s: ClientStream) -> (Self::Reader, Self::Writer) {
        tokio::io::split(s)
    }
    async fn finish(r: Self::Reader, w: Self::Writer) -> io::Result<()> {
        // A clean close_notify; the measurement is already taken.
        let _ = r.unsplit(w).shutdown().await;
        Ok(())
    }
    fn resumed(s: &ClientStream) -> io::Result<bool> {
        match s.get_ref().1.handshake_kind() {
            Some(k) => Ok(k == HandshakeKind::Resumed),
            None => Err(io::Error::other("handshake done but of no kind")),
        }
    }
    async fn close(mut s: ClientStream) -> io::Result<()> {
        s.shutdown().await?;
        // The server answers our close_notify with its own, then EOF.
        let mut rest = [0u8; 16];
        if s.read(&mut rest).await? != 0 {
            return Err(mismatch("handshakes: data after the echo"));
        }
        Ok(())
    }
}
