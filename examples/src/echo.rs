//! Echo: the smallest strata protocol, served on any endpoint string, and a
//! client protocol that checks the echo.
//!
//! A protocol is a plain struct with callbacks. It never touches a socket:
//! it gets its transport (`t`) as an argument and writes to it; the driver
//! (`strata-tokio`) does the I/O. So [`Echo`] runs unchanged over
//! `tcp://`, `tls+tcp://`, `unix:///path`, `reliable+udp://`,
//! `quic+udp://`: the endpoint string decides which layers sit below it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), strata_examples::Error> {
//! let back = strata_examples::echo::demo("tcp://127.0.0.1:0", b"ping").await?;
//! assert_eq!(back, b"ping");
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use strata::endpoint::Endpoint;
use strata::{Close, StackConfig, StreamFactory, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Listening, Server};
use tokio::sync::oneshot;

use crate::{endpoint, reach, Error};

/// The server side: writes back every byte it reads; when the peer has
/// finished sending (EOF), closes (after flushing what is queued).
pub struct Echo;

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

/// The client side: sends `msg`, half-closes, collects the echo, and hands
/// it over when the server closes.
pub struct Check {
    msg: Vec<u8>,
    got: Vec<u8>,
    done: Option<oneshot::Sender<Result<Vec<u8>, Close>>>,
}

impl Check {
    /// A client that sends `msg`; the receiver gets what came back (or why
    /// the connection ended before the echo was complete).
    pub fn new(msg: &[u8]) -> (Check, oneshot::Receiver<Result<Vec<u8>, Close>>) {
        let (tx, rx) = oneshot::channel();
        let check = Check {
            msg: msg.to_vec(),
            got: Vec::new(),
            done: Some(tx),
        };
        (check, rx)
    }
}

impl StreamProtocol for Check {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(&self.msg);
        // Half-close: "I have nothing more to send". The echo server sees EOF.
        t.write_eof();
    }
    fn data_received(&mut self, _t: &mut dyn StreamTransport, data: &[u8]) {
        self.got.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if let Some(done) = self.done.take() {
            let _ = done.send(Ok(std::mem::take(&mut self.got)));
        }
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        // Ended before the server's EOF: say why.
        if let Some(done) = self.done.take() {
            let _ = done.send(Err(why.clone()));
        }
    }
}

/// Serves [`Echo`] on `ep` (any stream endpoint); returns what was bound.
pub async fn serve(server: &Server, ep: &Endpoint) -> Result<Listening, Error> {
    // One protocol per accepted connection, made by the factory.
    let factory: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
    Ok(server.listen(ep, factory, ListenConfig::default()).await?)
}

/// Connects to `to`, sends `msg` and returns the echo.
pub async fn check(to: &Endpoint, msg: &[u8]) -> Result<Vec<u8>, Error> {
    let (client, echoed) = Check::new(msg);
    let conn =
        strata_tokio::connect(to, Box::new(client), Arc::new(StackConfig::default())).await?;
    let echoed = echoed.await.map_err(|_| "the client was dropped")?;
    conn.closed().await;
    Ok(echoed?)
}

/// Serves echo on `listen`, checks it once with `msg`, shuts down; returns
/// the echo.
pub async fn demo(listen: &str, msg: &[u8]) -> Result<Vec<u8>, Error> {
    let server = Server::new();
    let l = serve(&server, &endpoint(listen)?).await?;
    let back = check(&reach::dial(&l)?, msg).await;
    // Everything is answered: a short drain. (Over `reliable+udp://` the
    // socket lingers in its closing period, which the drain cuts short.)
    server.shutdown(Duration::from_millis(100)).await;
    back
}
