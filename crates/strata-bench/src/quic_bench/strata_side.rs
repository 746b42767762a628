//! strata's side: `strata::quic::{QuicServer, QuicClient}` as datagram
//! protocols on UDP sockets of the tokio driver (`Server::bind_udp`), with
//! connection-level apps written against `QuicApp`; the handshakes run on
//! one `strata_tokio::QuicEndpoint` (one socket), as quinn's do.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use strata::quic::{
    AppFactory, Dir, QuicApp, QuicClient, QuicConfig, QuicConnection, QuicServer, StreamId,
};
use strata::{Close, StackConfig};
use strata_tokio::{QuicEndpoint, Server};
use tokio::sync::mpsc;

use crate::{announce, count_reply, runtime, self_signed, Transport, Workload, ALPN, CHUNK, SMALL};

fn config(t: &Transport) -> QuicConfig {
    QuicConfig {
        alpn: vec![ALPN.to_vec()],
        stream_window: t.stream_window,
        connection_window: t.conn_window,
        send_window: t.send_window,
        max_bidi_streams: t.max_streams,
        ..QuicConfig::default()
    }
}

/// The server app: counts each stream's bytes and answers with the count
/// at its end.
#[derive(Default)]
struct Counter {
    counts: HashMap<StreamId, u64>,
}

impl QuicApp for Counter {
    fn stream_data(&mut self, _c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        *self.counts.entry(id).or_default() += data.len() as u64;
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        let n = self.counts.remove(&id).unwrap_or(0);
        // 8 bytes always fit a fresh stream's window.
        let _ = c.write(id, &count_reply(n));
        let _ = c.finish(id);
    }
    fn stream_reset(&mut self, _c: &mut dyn QuicConnection, id: StreamId, _code: u64) {
        self.counts.remove(&id);
    }
}

/// Serves until stdin closes.
pub fn serve(t: Transport) -> io::Result<()> {
    let (cert, _, cert_pem, key_pem) = self_signed()?;
    let id = strata::tls::Identity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())
        .map_err(io::Error::other)?;
    let tls = strata::tls::ServerTls::new(&id)
        .alpn([ALPN])
        .versions(&[&rustls::version::TLS13])
        .build_rustls()
        .map_err(io::Error::other)?;
    let apps: AppFactory =
        Arc::new(|_alpn: Option<&[u8]>| Some(Box::new(Counter::default()) as Box<dyn QuicApp>));
    let layer = QuicServer::new(config(&t), Arc::new(tls), apps).map_err(io::Error::other)?;
    let rt = runtime()?;
    rt.block_on(async move {
        let server = Server::new();
        let bound = server
            .bind_udp(
                "127.0.0.1:0".parse().map_err(io::Error::other)?,
                None,
                Box::new(layer),
                Arc::new(StackConfig::default()),
            )
            .await?;
        let addr = bound
            .socket_addr()
            .ok_or_else(|| io::Error::other("no address"))?;
        announce(addr, &cert);
        tokio::task::spawn_blocking(crate::until_stdin_closes)
            .await
            .map_err(io::Error::other)??;
        println!("CPU secs={:.6}", crate::cpu_secs()?);
        Ok(())
    })
}

/// A stream the client is writing: what is left to send, and the reply.
struct Upload {
    left: u64,
    total: u64,
    reply: Vec<u8>,
}

/// The client app: `total` streams of `each` bytes, at most `lanes` open at
/// once (bulk: one stream; handshakes: none).
struct Driver {
    each: u64,
    to_open: u64,
    lanes: u64,
    open: HashMap<StreamId, Upload>,
    body: Vec<u8>,
    done: Option<mpsc::UnboundedSender<Result<(), String>>>,
}

impl Driver {
    fn finish(&mut self, r: Result<(), String>) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(r);
        }
    }

    fn pump(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        let Some(up) = self.open.get_mut(&id) else {
            return;
        };
        while up.left > 0 {
            let n = up.left.min(self.body.len() as u64) as usize;
            match c.write(id, &self.body[..n]) {
                Ok(0) => return,
                Ok(w) => up.left -= w as u64,
                Err(e) => {
                    let msg = format!("write on {id:?}: {e}");
                    self.finish(Err(msg));
                    return;
                }
            }
        }
        if let Err(e) = c.finish(id) {
            let msg = format!("finish {id:?}: {e}");
            self.finish(Err(msg));
        }
    }

    fn open_more(&mut self, c: &mut dyn QuicConnection) {
        while self.to_open > 0 && (self.open.len() as u64) < self.lanes {
            let Some(id) = c.open(Dir::Bi) else { return };
            self.to_open -= 1;
            self.open.insert(
                id,
                Upload {
                    left: self.each,
                    total: self.each,
                    reply: Vec::new(),
                },
            );
            self.pump(c, id);
        }
        if self.to_open == 0 && self.open.is_empty() {
            c.close(0, b"done");
            self.finish(Ok(()));
        }
    }
}

impl QuicApp for Driver {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.open_more(c);
    }
    fn stream_data(&mut self, _c: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        if let Some(up) = self.open.get_mut(&id) {
            up.reply.extend_from_slice(data);
        }
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        let Some(up) = self.open.remove(&id) else {
            return;
        };
        if up.reply != count_reply(up.total) {
            let msg = format!(
                "{id:?}: the server counted {:?}, not {}",
                up.reply, up.total
            );
            self.finish(Err(msg));
            c.close(1, b"bad count");
            return;
        }
        self.open_more(c);
    }
    fn stream_writable(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        self.pump(c, id);
    }
    fn streams_available(&mut self, c: &mut dyn QuicConnection, _dir: Dir) {
        self.open_more(c);
    }
    fn connection_lost(&mut self, why: &Close) {
        let msg = format!("connection lost: {why}");
        self.finish(Err(msg));
    }
}

/// Runs one workload against `addr`.
pub fn client(
    w: Workload,
    addr: SocketAddr,
    cert: Vec<u8>,
    count: u64,
    t: Transport,
) -> io::Result<()> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.into()).map_err(io::Error::other)?;
    let mut tls = strata::tls::ClientTls::new("localhost")
        .map_err(io::Error::other)?
        .roots(roots)
        .alpn([ALPN])
        .versions(&[&rustls::version::TLS13])
        .build_rustls()
        .map_err(io::Error::other)?
        .0;
    // Full handshakes only, as quinn_side's client (see there).
    tls.resumption = rustls::client::Resumption::disabled();
    let tls = Arc::new(tls);
    let rt = runtime()?;
    rt.block_on(async move {
        let server = Server::new();
        let (connections, each, streams, lanes) = match w {
            Workload::Bulk => (1, count, 1, 1),
            Workload::Streams => (1, SMALL as u64, count, t.lanes.max(1)),
            Workload::Handshakes => (0, 0, 0, 0),
        };
        if let Workload::Handshakes = w {
            return handshakes(&tls, addr, count, &t).await;
        }
        for _ in 0..connections {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let app = Driver {
                each,
                to_open: streams,
                lanes,
                open: HashMap::new(),
                body: vec![0x5a; CHUNK],
                done: Some(tx),
            };
            let layer = QuicClient::new(
                config(&t),
                Arc::clone(&tls),
                "localhost",
                addr,
                Box::new(app),
            )
            .map_err(io::Error::other)?;
            let _bound = server
                .bind_udp(
                    "127.0.0.1:0".parse().map_err(io::Error::other)?,
                    Some(addr),
                    Box::new(layer),
                    Arc::new(StackConfig::default()),
                )
                .await?;
            match tokio::time::timeout(crate::CLIENT_DEADLINE, rx.recv()).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(e))) => return Err(io::Error::other(e)),
                Ok(None) => return Err(io::Error::other("the client app ended without a result")),
                Err(_) => return Err(io::Error::other("the client did not finish in time")),
            }
        }
        server.shutdown(std::time::Duration::from_secs(1)).await;
        Ok(())
    })
}

/// `count` connections one after the other on one client endpoint (one
/// socket, as quinn's `Endpoint`), each closed by its app once its
/// handshake is done.
async fn handshakes(
    tls: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    count: u64,
    t: &Transport,
) -> io::Result<()> {
    let ep = QuicEndpoint::bind(
        "127.0.0.1:0".parse().map_err(io::Error::other)?,
        config(t),
        Arc::clone(tls),
        Arc::new(StackConfig::default()),
    )
    .await
    .map_err(io::Error::other)?;
    for _ in 0..count {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let app = Driver {
            each: 0,
            to_open: 0,
            lanes: 0,
            open: HashMap::new(),
            body: Vec::new(),
            done: Some(tx),
        };
        let connect = ep.connect(addr, "localhost", Box::new(app));
        match tokio::time::timeout(crate::CLIENT_DEADLINE, connect).await {
            Ok(Ok(_conn)) => {}
            Ok(Err(e)) => return Err(io::Error::other(e)),
            Err(_) => return Err(io::Error::other("the handshake did not finish in time")),
        }
        match rx.try_recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(io::Error::other(e)),
            Err(_) => return Err(io::Error::other("the client app ended without a result")),
        }
    }
    ep.shutdown(std::time::Duration::from_secs(1)).await;
    Ok(())
}
