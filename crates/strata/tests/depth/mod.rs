//! Runs a pair of protocols at a chosen depth: straight on the memory
//! bottom, over TLS, over TLS in TLS, or inside an HTTP/2 extended CONNECT
//! stream. The swap tests run at each depth: a swap point is any holder of a
//! boxed protocol, and every one must apply a swap the same way.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};

use strata::http::h2::{H2Client, H2Config, H2Connection};
use strata::http::{HttpExchange, Protocol};
use strata::testing::Pump;
use strata::tls::{Tls, TlsConfig};
use strata::{StreamProtocol, StreamTransport, SwapRequest, Wake, WakeRoute};

use crate::tls_support::{client, client_config, server, server_config, Ca, ALL};

/// Where the protocols under test sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// On the memory bottom (the stand-in for TCP).
    Tcp,
    /// Over one TLS layer.
    Tls,
    /// Over TLS over TLS.
    TlsInTls,
    /// In an HTTP/2 extended CONNECT stream (RFC 8441).
    H2Connect,
}

/// Every depth, for `for depth in DEPTHS`.
pub const DEPTHS: [Depth; 4] = [Depth::Tcp, Depth::Tls, Depth::TlsInTls, Depth::H2Connect];

const NAME: &str = "depth.test";

/// One CA and leaf for every test of a binary (generating keys is slow).
fn configs() -> &'static (TlsConfig, TlsConfig) {
    static C: OnceLock<(TlsConfig, TlsConfig)> = OnceLock::new();
    C.get_or_init(|| {
        let ca = Ca::new("depth-ca");
        let leaf = ca.leaf(&[NAME]);
        (
            client(client_config(ca.roots(), &[], ALL), NAME),
            server(server_config(&leaf, &[], ALL)),
        )
    })
}

/// A client TLS configuration the depth's peers trust (for STARTTLS tests).
pub fn tls_client() -> TlsConfig {
    configs().0.clone()
}

/// The matching server configuration.
pub fn tls_server() -> TlsConfig {
    configs().1.clone()
}

impl Depth {
    /// The layer chain a protocol at this depth sees, top first, joined by `>`.
    pub fn chain(self) -> &'static str {
        match self {
            Depth::Tcp => "memory",
            Depth::Tls => "tls>memory",
            Depth::TlsInTls => "tls>tls>memory",
            Depth::H2Connect => "h2-stream>memory",
        }
    }

    /// The layers of [`chain`](Depth::chain), as `layer_chain()` lists them.
    pub fn layers(self) -> Vec<&'static str> {
        self.chain().split('>').collect()
    }

    /// A pump with `client` at this depth on side A and `server` on side B.
    pub fn pair(self, client: Box<dyn StreamProtocol>, server: Box<dyn StreamProtocol>) -> Pump {
        let (c, s) = configs();
        match self {
            Depth::Tcp => Pump::new(client, server),
            Depth::Tls => Pump::new(
                Box::new(Tls::new(client, c).unwrap()),
                Box::new(Tls::new(server, s).unwrap()),
            ),
            Depth::TlsInTls => Pump::new(
                Box::new(Tls::new(Tls::new(client, c).unwrap(), c).unwrap()),
                Box::new(Tls::new(Tls::new(server, s).unwrap(), s).unwrap()),
            ),
            Depth::H2Connect => {
                let h2 = H2Client::new();
                let mut req = http::Request::connect("https://localhost/tunnel")
                    .body(())
                    .unwrap();
                req.extensions_mut().insert(Protocol("swap-test".into()));
                h2.send(req, client);
                let cfg = Arc::new(H2Config::default());
                let one = Mutex::new(Some(server));
                let svc = Arc::new(move |_: &http::request::Parts| {
                    let p = one.lock().unwrap().take().expect("one tunnel");
                    Box::new(Tunnel(Some(p))) as Box<dyn StreamProtocol>
                });
                Pump::new(
                    Box::new(H2Connection::client(cfg.clone(), h2)),
                    Box::new(H2Connection::server(cfg, svc)),
                )
            }
        }
    }
}

/// Answers the CONNECT with 200, then replaces itself by the tunnelled
/// protocol: the first swap in the stream, before the one under test.
struct Tunnel(Option<Box<dyn StreamProtocol>>);

impl StreamProtocol for Tunnel {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let ok = http::Response::builder().status(200).body(()).unwrap();
        t.send_response(ok).expect("an HTTP exchange");
        let p = self.0.take().expect("made once");
        t.request_swap(SwapRequest::Replace(p), Vec::new())
            .expect("an H2 stream is a swap point");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {
        unreachable!("replaced in connection_made")
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        unreachable!("replaced in connection_made")
    }
}

/// The far end, driven from the test: what it is told to send goes out at
/// the next pump round; what it receives is kept.
#[derive(Clone, Default)]
pub struct Peer(Arc<Mutex<PeerState>>);

#[derive(Default)]
struct PeerState {
    outbox: Vec<Vec<u8>>,
    eof: bool,
    got: Vec<u8>,
    got_eof: bool,
    wake: Option<Wake>,
}

impl Peer {
    /// The protocol to put at the far end.
    pub fn protocol(&self) -> Box<dyn StreamProtocol> {
        Box::new(PeerProto(self.clone()))
    }

    /// Sends `data` in one write.
    pub fn send(&self, data: &[u8]) {
        let w = {
            let mut s = self.0.lock().unwrap();
            s.outbox.push(data.to_vec());
            s.wake.clone()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Half-closes after what was sent.
    pub fn send_eof(&self) {
        let w = {
            let mut s = self.0.lock().unwrap();
            s.eof = true;
            s.wake.clone()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    /// What arrived since the last call.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().unwrap().got)
    }
}

struct PeerProto(Peer);

impl PeerProto {
    fn flush(&mut self, t: &mut dyn StreamTransport) {
        let mut s = (self.0).0.lock().unwrap();
        for d in s.outbox.drain(..) {
            t.write(&d);
        }
        if std::mem::take(&mut s.eof) {
            t.write_eof();
        }
    }
}

impl StreamProtocol for PeerProto {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        (self.0).0.lock().unwrap().wake = Some(t.waker());
        self.flush(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        (self.0).0.lock().unwrap().got.extend_from_slice(data);
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        (self.0).0.lock().unwrap().got_eof = true;
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        self.flush(t);
    }
}

/// A protocol under test at `depth`, with a [`Peer`] at the far end.
pub struct Rig {
    pub pump: Pump,
    pub peer: Peer,
}

impl Rig {
    /// Sets up the pair and runs it until idle (handshakes done).
    pub fn new(depth: Depth, under_test: Box<dyn StreamProtocol>) -> Rig {
        let peer = Peer::default();
        let pump = depth.pair(peer.protocol(), under_test);
        let mut rig = Rig { pump, peer };
        rig.settle();
        rig
    }

    /// Moves everything that can move now.
    pub fn settle(&mut self) {
        assert_eq!(
            self.pump.run_until_idle(),
            strata::testing::RunOutcome::Idle
        );
    }

    /// The peer sends `data` in one write; runs until idle.
    pub fn send(&mut self, data: &[u8]) {
        self.peer.send(data);
        self.settle();
    }

    /// The peer half-closes; runs until idle.
    pub fn send_eof(&mut self) {
        self.peer.send_eof();
        self.settle();
    }

    /// What the protocol under test wrote, as the peer received it.
    pub fn output(&mut self) -> Vec<u8> {
        self.peer.take()
    }
}
