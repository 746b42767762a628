//! Run-time layer swaps under the driver, over a real TCP socket: inserting
//! a layer below a running protocol (STARTTLS-shaped: the bytes already read
//! and the reply written right after the request both go through the new
//! layer), and a sniffing protocol replacing itself. Each runs at every
//! depth: at the driver's bottom slot, over TLS, over TLS in TLS, and inside
//! an HTTP/2 extended CONNECT stream; the swap point right below the
//! protocol applies the swap and the layers below it stay.

mod common;

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{eventually, within};
use strata::endpoint::Endpoint;
use strata::http::h2::{H2Client, H2Config, H2Connection};
use strata::http::{HttpExchange, Protocol};
use strata::tls::{Tls, TlsConfig};
use strata::{
    Close, Introspect, StackConfig, StreamLayer, StreamProtocol, StreamTransport, SwapRequest,
    Wake, WakeRoute,
};
use strata_tokio::{ListenConfig, Server, StreamFactory, TlsIdentity};

const KEY: u8 = 0x5a;

fn xor(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ KEY).collect()
}

/// A layer that XORs every byte with [`KEY`] both ways: the smallest
/// "encryption" that makes it visible on the wire which bytes went through it.
struct XorLayer {
    inner: Box<dyn StreamProtocol>,
}

impl XorLayer {
    fn new(inner: Box<dyn StreamProtocol>) -> Self {
        XorLayer { inner }
    }
}

/// What the protocol above the XOR layer writes to.
struct XorView<'a> {
    lower: &'a mut dyn StreamTransport,
}

impl Introspect for XorView<'_> {
    fn name(&self) -> &'static str {
        "xor"
    }
    fn local_capability(&self, _: std::any::TypeId) -> Option<&dyn Any> {
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for XorView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.lower.write(&xor(data));
    }
    fn write_eof(&mut self) {
        self.lower.write_eof()
    }
    fn close(&mut self) {
        self.lower.close()
    }
    fn abort(&mut self, why: Close) {
        self.lower.abort(why)
    }
    fn pause_reading(&mut self) {
        self.lower.pause_reading()
    }
    fn resume_reading(&mut self) {
        self.lower.resume_reading()
    }
    fn buffered(&self) -> usize {
        self.lower.buffered()
    }
    fn writable(&self) -> bool {
        self.lower.writable()
    }
    fn now(&self) -> Instant {
        self.lower.now()
    }
    fn waker(&self) -> Wake {
        self.lower.waker()
    }
}

impl StreamProtocol for XorLayer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.inner.connection_made(&mut XorView { lower: t })
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner
            .data_received(&mut XorView { lower: t }, &xor(data))
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(&mut XorView { lower: t })
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.pause_writing(&mut XorView { lower: t })
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.resume_writing(&mut XorView { lower: t })
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_deadline(&mut XorView { lower: t })
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.inner.on_wake(&mut XorView { lower: t }, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_shutdown(&mut XorView { lower: t })
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

impl StreamLayer for XorLayer {
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        f(&mut XorView { lower: t })
    }
}

/// What the line protocol saw, for the test to assert on.
#[derive(Debug, Default)]
struct LineLog {
    made: usize,
    /// Each line received, with the layer chain it was received through.
    lines: Vec<(String, Vec<&'static str>)>,
    lost: Option<Close>,
}

/// A CRLF line protocol: echoes each line; on `UPGRADE` inserts the XOR
/// layer below itself, handing over the rest of its buffer, and answers
/// `UPGRADED` in the same callback (that answer must go through the layer).
struct Lines {
    buf: Vec<u8>,
    log: Arc<Mutex<LineLog>>,
}

impl StreamProtocol for Lines {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.log.lock().unwrap().made += 1;
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.buf.drain(..at + 2).take(at).collect();
            let text = String::from_utf8_lossy(&line).into_owned();
            self.log.lock().unwrap().lines.push((text, t.layer_chain()));
            if line == b"UPGRADE" {
                let leftover = std::mem::take(&mut self.buf);
                let req = SwapRequest::insert_below(|inner| Box::new(XorLayer::new(inner)));
                t.request_swap(req, leftover)
                    .expect("the holder below is a swap point");
                t.write(b"UPGRADED\r\n");
                return;
            }
            t.write(&line);
            t.write(b"\r\n");
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
}

/// Where the protocol under test sits, over the driver's TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Depth {
    Tcp,
    Tls,
    TlsInTls,
    H2Connect,
}

const DEPTHS: [Depth; 4] = [Depth::Tcp, Depth::Tls, Depth::TlsInTls, Depth::H2Connect];

/// A self-signed identity made once; the client accepts it (verification
/// is tested elsewhere).
fn tls_configs() -> &'static (TlsConfig, TlsConfig) {
    static CFG: OnceLock<(TlsConfig, TlsConfig)> = OnceLock::new();
    CFG.get_or_init(|| {
        let reg = strata_tokio::registry();
        let id = TlsIdentity::self_signed().expect("rcgen makes a certificate");
        let srv = Endpoint::parse_with("tls+tcp://127.0.0.1:1", &reg).unwrap();
        let cli = Endpoint::parse_with("tls+tcp://localhost:1?tls.insecure=true", &reg).unwrap();
        (
            strata_tokio::client_config(&cli).unwrap(),
            strata_tokio::server_config(&srv, &id).unwrap(),
        )
    })
}

impl Depth {
    /// The chain below the protocol under test, top first.
    fn layers(self) -> Vec<&'static str> {
        match self {
            Depth::Tcp => vec!["tcp"],
            Depth::Tls => vec!["tls", "tcp"],
            Depth::TlsInTls => vec!["tls", "tls", "tcp"],
            Depth::H2Connect => vec!["h2-stream", "tcp"],
        }
    }

    /// `layers` with `top` above.
    fn under(self, top: &[&'static str]) -> Vec<&'static str> {
        let mut c = top.to_vec();
        c.extend(self.layers());
        c
    }

    fn client(self, p: Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> {
        let c = &tls_configs().0;
        match self {
            Depth::Tcp => p,
            Depth::Tls => Box::new(Tls::new(p, c).unwrap()),
            Depth::TlsInTls => Box::new(Tls::new(Tls::new(p, c).unwrap(), c).unwrap()),
            Depth::H2Connect => {
                let h2 = H2Client::new();
                let mut req = http::Request::connect("https://localhost/tunnel")
                    .body(())
                    .unwrap();
                req.extensions_mut().insert(Protocol("swap-test".into()));
                h2.send(req, p);
                Box::new(H2Connection::client(Arc::new(H2Config::default()), h2))
            }
        }
    }

    fn server(self, p: Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> {
        let s = &tls_configs().1;
        match self {
            Depth::Tcp => p,
            Depth::Tls => Box::new(Tls::new(p, s).unwrap()),
            Depth::TlsInTls => Box::new(Tls::new(Tls::new(p, s).unwrap(), s).unwrap()),
            Depth::H2Connect => {
                let one = Mutex::new(Some(p));
                let svc = Arc::new(move |_: &http::request::Parts| {
                    let p = one.lock().unwrap().take().expect("one tunnel");
                    Box::new(Tunnel(Some(p))) as Box<dyn StreamProtocol>
                });
                Box::new(H2Connection::server(Arc::new(H2Config::default()), svc))
            }
        }
    }

    /// A factory that puts a new `make()` at this depth on each connection.
    fn factory<P: StreamProtocol + 'static>(
        self,
        make: impl Fn() -> P + Send + Sync + 'static,
    ) -> StreamFactory {
        Arc::new(move || self.server(Box::new(make())))
    }
}

/// Answers the CONNECT with 200, then replaces itself by the tunnelled
/// protocol (the stream's first swap).
struct Tunnel(Option<Box<dyn StreamProtocol>>);

impl StreamProtocol for Tunnel {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let ok = http::Response::builder().status(200).body(()).unwrap();
        t.send_response(ok).expect("an HTTP exchange");
        let p = self.0.take().expect("made once");
        t.request_swap(SwapRequest::Replace(p), Vec::new())
            .expect("an H2 stream is a swap point");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// The far end, driven from the test: writes what it is told (one write
/// each), keeps what it receives.
#[derive(Clone, Default)]
struct Peer(Arc<Mutex<PeerState>>);

#[derive(Default)]
struct PeerState {
    outbox: Vec<Vec<u8>>,
    eof: bool,
    got: Vec<u8>,
    got_eof: bool,
    wake: Option<Wake>,
}

impl Peer {
    fn send(&self, data: &[u8]) {
        self.push(|s| s.outbox.push(data.to_vec()));
    }
    fn send_eof(&self) {
        self.push(|s| s.eof = true);
    }
    fn push(&self, f: impl FnOnce(&mut PeerState)) {
        let w = {
            let mut s = self.0.lock().unwrap();
            f(&mut s);
            s.wake.clone()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
    fn got(&self) -> Vec<u8> {
        self.0.lock().unwrap().got.clone()
    }
    fn got_eof(&self) -> bool {
        self.0.lock().unwrap().got_eof
    }
    /// Waits until `n` bytes arrived; returns them all (and clears them).
    async fn recv(&self, what: &str, n: usize) -> Vec<u8> {
        eventually(what, || self.0.lock().unwrap().got.len() >= n).await;
        std::mem::take(&mut self.0.lock().unwrap().got)
    }
}

impl Peer {
    fn flush(&self, t: &mut dyn StreamTransport) {
        let mut s = self.0.lock().unwrap();
        if s.wake.is_none() {
            s.wake = Some(t.waker());
        }
        for d in s.outbox.drain(..) {
            t.write(&d);
        }
        if std::mem::take(&mut s.eof) {
            t.write_eof();
        }
    }
}

impl StreamProtocol for Peer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.flush(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.0.lock().unwrap().got.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().got_eof = true;
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        self.flush(t);
    }
}

/// Connects a [`Peer`] at `depth` to `addr`.
async fn connect(depth: Depth, addr: std::net::SocketAddr) -> (Peer, strata_tokio::Connection) {
    let peer = Peer::default();
    let p = depth.client(Box::new(peer.clone()));
    let conn = within(
        "connect",
        strata_tokio::connect_tcp(addr, p, Arc::new(StackConfig::default())),
    )
    .await
    .unwrap();
    (peer, conn)
}

#[tokio::test]
async fn insert_below_hands_over_leftover_input_and_later_writes() {
    for depth in DEPTHS {
        insert_below_at(depth).await;
    }
}

async fn insert_below_at(depth: Depth) {
    let log = Arc::new(Mutex::new(LineLog::default()));
    let l = log.clone();
    let f = depth.factory(move || Lines {
        buf: Vec::new(),
        log: l.clone(),
    });
    let server = Server::new();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();

    let (c, _conn) = connect(depth, addr).await;
    let mut msg = b"hello\r\nUPGRADE\r\n".to_vec();
    msg.extend(xor(b"after\r\n"));
    c.send(&msg);

    let mut want = b"hello\r\n".to_vec();
    want.extend(xor(b"UPGRADED\r\n"));
    want.extend(xor(b"after\r\n"));
    let got = c.recv("replies", want.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&got[..7]),
        "hello\r\n",
        "{depth:?}: before the swap: plaintext"
    );
    assert_eq!(
        got, want,
        "{depth:?}: after the swap every byte goes through the layer"
    );

    // The connection still works both ways through the layer, then closes.
    c.send(&xor(b"more\r\n"));
    let more = c.recv("echo through the layer", 6).await;
    assert_eq!(more, xor(b"more\r\n"), "{depth:?}");
    c.send_eof();
    eventually("close", || c.got_eof()).await;
    assert!(c.got().is_empty(), "{depth:?}");
    within(
        "server shutdown",
        server.shutdown(std::time::Duration::from_secs(5)),
    )
    .await;

    let log = log.lock().unwrap();
    assert_eq!(
        log.made, 1,
        "{depth:?}: an inserted layer does not restart the protocol"
    );
    let lines: Vec<_> = log
        .lines
        .iter()
        .map(|(l, c)| (l.as_str(), c.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("hello", depth.under(&[])),
            ("UPGRADE", depth.under(&[])),
            ("after", depth.under(&["xor"])),
            ("more", depth.under(&["xor"])),
        ],
        "{depth:?}"
    );
    assert!(
        log.lost.as_ref().is_some_and(Close::is_clean),
        "{depth:?}: {:?}",
        log.lost
    );
}

/// How many of each protocol were started, and the chain the echo saw.
#[derive(Default)]
struct Counts {
    sniffers: AtomicUsize,
    echoes: AtomicUsize,
    echo_chain: Mutex<Vec<&'static str>>,
}

/// Waits for a 4-byte preface; `ECHO` replaces it by [`Echo`], handing over
/// every byte it read (the preface included). Anything else is refused.
struct Sniffer {
    buf: Vec<u8>,
    counts: Arc<Counts>,
}

impl StreamProtocol for Sniffer {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.counts.sniffers.fetch_add(1, Ordering::SeqCst);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.buf.extend_from_slice(data);
        if self.buf.len() < 4 {
            return;
        }
        if self.buf.starts_with(b"ECHO") {
            let echo = Box::new(Echo {
                counts: self.counts.clone(),
            });
            let read = std::mem::take(&mut self.buf);
            t.request_swap(SwapRequest::Replace(echo), read)
                .expect("the holder below is a swap point");
        } else {
            t.write(b"unknown preface\r\n");
            t.close();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

struct Echo {
    counts: Arc<Counts>,
}

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.counts.echoes.fetch_add(1, Ordering::SeqCst);
        *self.counts.echo_chain.lock().unwrap() = t.layer_chain();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[tokio::test]
async fn a_sniffer_replaces_itself_and_hands_over_what_it_read() {
    for depth in DEPTHS {
        sniffer_at(depth).await;
    }
}

async fn sniffer_at(depth: Depth) {
    let counts = Arc::new(Counts::default());
    let c2 = counts.clone();
    let f = depth.factory(move || Sniffer {
        buf: Vec::new(),
        counts: c2.clone(),
    });
    let server = Server::new();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();

    let (c, _conn) = connect(depth, addr).await;
    // The preface arrives in two pieces: the sniffer must wait for all of it.
    c.send(b"EC");
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.send(b"HO first");
    let got = c.recv("echo of the preface", 10).await;
    assert_eq!(
        got, b"ECHO first",
        "{depth:?}: the bytes the sniffer read are handed over"
    );
    c.send(b" again");
    let got = c.recv("echo after the swap", 6).await;
    assert_eq!(got, b" again", "{depth:?}");
    c.send_eof();
    eventually("close", || c.got_eof()).await;
    assert!(c.got().is_empty(), "{depth:?}");

    // A client with another preface is refused by the sniffer itself.
    let (other, _conn) = connect(depth, addr).await;
    other.send(b"HELO");
    eventually("refusal", || other.got_eof()).await;
    assert_eq!(other.got(), b"unknown preface\r\n", "{depth:?}");

    within(
        "server shutdown",
        server.shutdown(std::time::Duration::from_secs(5)),
    )
    .await;
    assert_eq!(counts.sniffers.load(Ordering::SeqCst), 2, "{depth:?}");
    assert_eq!(
        counts.echoes.load(Ordering::SeqCst),
        1,
        "{depth:?}: the replacement gets connection_made once"
    );
    assert_eq!(*counts.echo_chain.lock().unwrap(), depth.layers());
}
