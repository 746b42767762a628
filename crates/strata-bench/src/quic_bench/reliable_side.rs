//! The reliable mapping's bulk in the same run (`reliable+udp://`, BBR,
//! its defaults): no encryption to pay for, so the issue expects it ahead
//! of QUIC. The same exchange as `bulk`: the client sends the bytes and
//! half-closes; the server answers with the count and closes.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use strata::endpoint::Endpoint;
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{registry, ListenConfig, Server, StreamFactory};

use crate::{announce, count_reply, runtime, CHUNK};

fn endpoint(addr: &str) -> io::Result<Endpoint> {
    let url = format!("reliable+udp://{addr}");
    Endpoint::parse_with(&url, &registry())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e}")))
}

/// Counts bytes; at EOF answers with the count and closes.
struct Counter(u64);

impl StreamProtocol for Counter {
    fn data_received(&mut self, _t: &mut dyn StreamTransport, data: &[u8]) {
        self.0 += data.len() as u64;
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.write(&count_reply(self.0));
        t.close();
    }
}

/// Serves until stdin closes.
pub fn serve() -> io::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let factory: StreamFactory = Arc::new(|| Box::new(Counter(0)) as Box<dyn StreamProtocol>);
        let server = Server::new();
        let bound = server
            .listen(&endpoint("127.0.0.1:0")?, factory, ListenConfig::default())
            .await
            .map_err(io::Error::other)?;
        let addr = bound
            .socket_addr()
            .ok_or_else(|| io::Error::other("no address"))?;
        // No certificate: the mapping does not encrypt.
        announce(addr, b"-");
        tokio::task::spawn_blocking(crate::until_stdin_closes)
            .await
            .map_err(io::Error::other)??;
        println!("CPU secs={:.6}", crate::cpu_secs()?);
        Ok(())
    })
}

/// Writes `total` bytes as the transport takes them, half-closes, keeps
/// the reply, and says when the reply's end arrived (the exchange is done
/// there, as QUIC's bulk is done at its stream's end: the connection's close
/// handshake that follows is not counted).
struct Source {
    left: u64,
    paused: bool,
    body: Vec<u8>,
    reply: Arc<Mutex<Vec<u8>>>,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Source {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while !self.paused && self.left > 0 && t.writable() {
            let n = self.left.min(self.body.len() as u64) as usize;
            t.write(&self.body[..n]);
            self.left -= n as u64;
        }
        if self.left == 0 && !self.paused {
            self.paused = true; // nothing more to write
            t.write_eof();
        }
    }
}

impl StreamProtocol for Source {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, _t: &mut dyn StreamTransport, data: &[u8]) {
        if let Ok(mut r) = self.reply.lock() {
            r.extend_from_slice(data);
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
        t.close();
    }
    fn pause_writing(&mut self, _t: &mut dyn StreamTransport) {
        self.paused = true;
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        if self.left > 0 {
            self.paused = false;
            self.pump(t);
        }
    }
}

/// Sends `count` bytes to `addr` and checks the count that comes back.
pub fn client(addr: SocketAddr, count: u64) -> io::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let reply = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = tokio::sync::oneshot::channel();
        let source = Source {
            left: count,
            paused: false,
            body: vec![0x5a; CHUNK],
            reply: Arc::clone(&reply),
            done: Some(tx),
        };
        let conn = strata_tokio::connect(
            &endpoint(&addr.to_string())?,
            Box::new(source),
            Arc::new(StackConfig::default()),
        )
        .await
        .map_err(io::Error::other)?;
        tokio::select! {
            // `done` is sent before the close that ends the connection, so
            // when both are ready the reply's end wins.
            biased;
            _ = done => {}
            why = conn.closed() => {
                let why: Close = why;
                return Err(io::Error::other(format!("connection ended first: {why}")));
            }
        }
        let got = reply
            .lock()
            .map_err(|_| io::Error::other("reply lock poisoned"))?
            .clone();
        if got != count_reply(count) {
            return Err(io::Error::other(format!(
                "the server counted {got:?}, not {count}"
            )));
        }
        Ok(())
    })
}
