//! Issue 11, point 1, over real UDP: `quic+udp://` endpoints on both sides
//! through the driver. Echo over IPv4 and IPv6 with the stream's
//! capabilities, 10 MB both ways with the bytes checked, many streams of
//! one connection, the idle timeout, a server that is not there (a typed
//! error within the deadline), an ALPN the server does not serve, and a
//! client whose source port changes mid-transfer (NAT rebinding, through a
//! forwarder written for the test: the connection migrates and completes).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::within;
use strata::endpoint::Endpoint;
use strata::quic::{Dir, QuicApp, QuicClient, QuicConfig, QuicConnection, QuicError, StreamId};
use strata::{AppProtocol, Close, PeerAddr, StackConfig, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server, StreamFactory};
use tokio::net::UdpSocket;

const ALPN: &str = "strata-test";

/// What one side saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    alpn: Option<Vec<u8>>,
    stream: Option<StreamId>,
    peer: bool,
    peer_addr: Option<strata::Addr>,
    chain: Vec<&'static str>,
    data: Vec<u8>,
    eof: bool,
    lost: Option<Close>,
    early: Option<bool>,
}

fn record(seen: &Mutex<Seen>, t: &dyn StreamTransport) {
    let mut s = seen.lock().unwrap();
    s.alpn = t
        .get::<AppProtocol>()
        .and_then(|a| a.alpn().map(<[u8]>::to_vec));
    s.stream = t.get::<StreamId>().copied();
    s.peer = t.get::<PeerAddr>().is_some();
    s.peer_addr = t.get::<PeerAddr>().map(|p| p.0.clone());
    s.chain = t.layer_chain();
    s.early = t.get::<strata::quic::EarlyData>().map(|e| e.0);
}

/// The server: echoes, and closes once the client has half-closed. It
/// stops reading while its echo cannot leave (the peer reads slower than it
/// sends): without that its queue outgrows the stream's budget
/// (`DEFAULT_STREAM_QUEUE_BUDGET`) and the stream is aborted, as it must be.
struct Echo(Arc<Mutex<Seen>>);
impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        record(&self.0, t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        t.pause_reading();
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        t.resume_reading();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// What every stream served saw, in order.
type Served = Arc<Mutex<Vec<Arc<Mutex<Seen>>>>>;

fn echo_factory() -> (StreamFactory, Served) {
    let all: Served = Arc::default();
    let a = all.clone();
    let f: StreamFactory = Arc::new(move || {
        let seen = Arc::new(Mutex::new(Seen::default()));
        a.lock().unwrap().push(seen.clone());
        Box::new(Echo(seen)) as Box<dyn StreamProtocol>
    });
    (f, all)
}

/// The client: sends `msg` as fast as the stream is writable, half-closes,
/// reads the echo to its end.
struct Bulk {
    seen: Arc<Mutex<Seen>>,
    msg: Arc<Vec<u8>>,
    sent: usize,
}

impl Bulk {
    fn new(seen: Arc<Mutex<Seen>>, msg: Vec<u8>) -> Self {
        Bulk {
            seen,
            msg: Arc::new(msg),
            sent: 0,
        }
    }

    fn pump(&mut self, t: &mut dyn StreamTransport) {
        const CHUNK: usize = 64 * 1024;
        while self.sent < self.msg.len() && t.writable() {
            let end = (self.sent + CHUNK).min(self.msg.len());
            t.write(&self.msg[self.sent..end]);
            self.sent = end;
        }
        if self.sent == self.msg.len() {
            self.sent += 1; // once
            t.write_eof();
        }
    }
}

impl StreamProtocol for Bulk {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        record(&self.seen, t);
        self.pump(t);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.seen.lock().unwrap().data.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

/// Pseudo-random bytes (a repeated pattern would hide reordering).
fn message(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn parse(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &strata_tokio::registry()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A server on `host` serving echo; returns it and its address.
async fn echo_server(host: &str, query: &str) -> (Server, SocketAddr, Served) {
    let server = Server::new();
    let (factory, seen) = echo_factory();
    let ep = parse(&format!("quic+udp://{host}:0?quic.alpn={ALPN}{query}"));
    let l = server
        .listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap_or_else(|e| panic!("listen {ep}: {e}"));
    let addr = l.socket_addr().expect("an address");
    (server, addr, seen)
}

fn client_ep(addr: SocketAddr, query: &str) -> Endpoint {
    parse(&format!(
        "quic+udp://{addr}?quic.alpn={ALPN}&quic.insecure=true{query}"
    ))
}

/// Echoes `msg` over a fresh connection to `ep`; returns what the client saw.
async fn echo(ep: &Endpoint, msg: Vec<u8>, limit: Duration) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let conn = strata_tokio::connect(
        ep,
        Box::new(Bulk::new(seen.clone(), msg)),
        Arc::new(StackConfig::default()),
    )
    .await
    .unwrap_or_else(|e| panic!("connect {ep}: {e}"));
    match tokio::time::timeout(limit, conn.closed()).await {
        Ok(why) => assert!(why.is_clean(), "{ep}: {why}"),
        Err(_) => panic!(
            "{ep}: no end within {limit:?}; received {}",
            seen.lock().unwrap().data.len()
        ),
    }

    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn echo_over_quic_udp_with_the_stream_capabilities() {
    let (server, addr, served) = echo_server("127.0.0.1", "").await;
    let msg = message(100_000);
    let seen = echo(&client_ep(addr, ""), msg.clone(), Duration::from_secs(10)).await;
    assert!(seen.data == msg && seen.eof);
    assert_eq!(
        seen.alpn.as_deref(),
        Some(ALPN.as_bytes()),
        "the client's ALPN"
    );
    assert_eq!(
        seen.stream,
        Some(StreamId(0)),
        "the client's first bidi stream"
    );
    assert!(seen.peer, "the client sees the server's address");
    assert!(seen.chain.contains(&"quic-stream"), "{:?}", seen.chain);
    let s = served.lock().unwrap()[0].lock().unwrap().clone();
    assert_eq!(
        s.alpn.as_deref(),
        Some(ALPN.as_bytes()),
        "the server's ALPN"
    );
    assert_eq!(s.stream, Some(StreamId(0)));
    assert!(s.eof && s.peer);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn echo_over_quic_udp_ipv6() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback: skipped");
        return;
    }
    let (server, addr, _) = echo_server("[::1]", "").await;
    assert!(addr.is_ipv6());
    let msg = message(50_000);
    let seen = echo(&client_ep(addr, ""), msg.clone(), Duration::from_secs(10)).await;
    assert!(seen.data == msg && seen.eof);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn ten_megabytes_both_ways_byte_exact() {
    let (server, addr, served) = echo_server("127.0.0.1", "").await;
    let msg = message(10 << 20);
    let start = Instant::now();
    let seen = echo(&client_ep(addr, ""), msg.clone(), Duration::from_secs(60)).await;
    eprintln!("10 MiB echoed over quic+udp in {:?}", start.elapsed());
    assert_eq!(seen.data.len(), msg.len());
    assert!(seen.data == msg, "the echo differs");
    let s = served.lock().unwrap()[0].lock().unwrap().clone();
    assert!(
        s.lost.as_ref().is_some_and(Close::is_clean),
        "the server's stream: {:?}",
        s.lost
    );
    server.shutdown(Duration::from_secs(1)).await;
}

/// `quic.0rtt=true` on both ends: the second connection resumes with the
/// first one's ticket and its stream starts in 0-RTT, on both sides.
#[tokio::test]
async fn a_second_connection_sends_in_zero_rtt() {
    let (server, addr, served) = echo_server("127.0.0.1", "&quic.0rtt=true").await;
    let ep = client_ep(addr, "&quic.0rtt=true");
    let msg = message(3_000);
    let first = echo(&ep, msg.clone(), Duration::from_secs(10)).await;
    assert!(first.data == msg && first.eof);
    assert_eq!(first.early, Some(false), "no ticket yet");
    let second = echo(&ep, msg.clone(), Duration::from_secs(10)).await;
    assert!(second.data == msg && second.eof);
    assert_eq!(second.early, Some(true), "the client started in 0-RTT");
    let early: Vec<_> = (served.lock().unwrap().iter())
        .map(|s| s.lock().unwrap().early)
        .collect();
    assert_eq!(early, [Some(false), Some(true)], "the server saw it early");
    server.shutdown(Duration::from_secs(1)).await;
}

/// Our client against aioquic's server (tests/interop/peers), 0-RTT: the
/// second connection resumes with the first one's ticket and the server
/// sees its request arrive before the handshake is done. Here and not in
/// tests/interop because it takes two connections in one process (the
/// ticket lives in the process); it runs when ./.venv holds aioquic
/// (`scripts/test` installs it), and says it skipped otherwise.
#[tokio::test]
async fn our_client_sends_in_zero_rtt_to_aioquic() {
    use std::io::BufRead;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let has_aioquic = std::process::Command::new(&python)
        .args(["-c", "import aioquic"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_aioquic {
        eprintln!("no aioquic in {}: skipped", python.display());
        return;
    }
    let dir = std::env::temp_dir().join(format!("strata-zrtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let mut peer = std::process::Command::new(&python)
        .arg(root.join("tests/interop/peers/aioquic_server.py"))
        .args(["--alpn", ALPN, "--mode", "early", "--tickets", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(peer.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("aioquic server: {line:?}"));
    let ep = client_ep(
        format!("127.0.0.1:{port}").parse().unwrap(),
        "&quic.0rtt=true&quic.sni=localhost",
    );
    let msg = message(2_000);
    let first = echo(&ep, msg.clone(), Duration::from_secs(10)).await;
    let second = echo(&ep, msg.clone(), Duration::from_secs(10)).await;
    let _ = peer.kill();
    let _ = peer.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(first.early, Some(false));
    assert_eq!(&first.data[..5], b"late\n");
    assert_eq!(first.data[5..], msg[..]);
    assert_eq!(second.early, Some(true), "our client started in 0-RTT");
    assert_eq!(&second.data[..6], b"early\n", "aioquic got it in 0-RTT");
    assert_eq!(second.data[6..], msg[..]);
}

/// Many echo connections at once, each its own stream and connection.
#[tokio::test]
async fn many_connections_at_once() {
    let (server, addr, served) = echo_server("127.0.0.1", "").await;
    let ep = client_ep(addr, "");
    let runs = (0..20).map(|i| {
        let ep = ep.clone();
        tokio::spawn(async move {
            let msg = message(10_000 + i * 997);
            let seen = echo(&ep, msg.clone(), Duration::from_secs(20)).await;
            assert!(seen.data == msg, "connection {i}");
        })
    });
    for r in runs.collect::<Vec<_>>() {
        within("a connection", r).await.unwrap();
    }
    assert_eq!(served.lock().unwrap().len(), 20);
    server.shutdown(Duration::from_secs(1)).await;
}

/// A connection-level app that opens `n` bidirectional streams, echoes a
/// message on each and closes the connection when all came back.
struct ManyStreams {
    n: usize,
    msgs: Vec<(StreamId, Vec<u8>, Vec<u8>, bool)>,
    done: Arc<Mutex<Option<Result<usize, String>>>>,
}

impl ManyStreams {
    fn open_more(&mut self, c: &mut dyn QuicConnection) {
        while self.msgs.len() < self.n {
            let Some(id) = c.open(Dir::Bi) else {
                return; // at the peer's limit: streams_available follows
            };
            let msg = message(1000 + self.msgs.len() * 13);
            let wrote = c.write(id, &msg).expect("a fresh stream takes a write");
            assert_eq!(wrote, msg.len(), "1 KB fits the initial window");
            c.finish(id).expect("finish");
            self.msgs.push((id, msg, Vec::new(), false));
        }
    }
}

impl QuicApp for ManyStreams {
    fn connection_made(&mut self, c: &mut dyn QuicConnection) {
        self.open_more(c);
    }
    fn streams_available(&mut self, c: &mut dyn QuicConnection, _: Dir) {
        self.open_more(c);
    }
    fn stream_data(&mut self, _: &mut dyn QuicConnection, id: StreamId, data: &[u8]) {
        if let Some(m) = self.msgs.iter_mut().find(|m| m.0 == id) {
            m.2.extend_from_slice(data);
        }
    }
    fn stream_finished(&mut self, c: &mut dyn QuicConnection, id: StreamId) {
        if let Some(m) = self.msgs.iter_mut().find(|m| m.0 == id) {
            m.3 = true;
        }
        if self.msgs.len() == self.n && self.msgs.iter().all(|m| m.3) {
            let bad = self.msgs.iter().filter(|m| m.1 != m.2).count();
            *self.done.lock().unwrap() = Some(if bad == 0 {
                Ok(self.n)
            } else {
                Err(format!("{bad} streams differ"))
            });
            c.close(0, b"done");
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        let mut d = self.done.lock().unwrap();
        if d.is_none() {
            *d = Some(Err(format!("lost before the end: {why}")));
        }
    }
}

fn client_tls() -> Arc<rustls::ClientConfig> {
    let (mut cfg, _) = strata::tls::ClientTls::new("localhost")
        .unwrap()
        .insecure()
        .versions(&[&rustls::version::TLS13])
        .build_rustls()
        .unwrap();
    cfg.alpn_protocols = vec![ALPN.as_bytes().to_vec()];
    Arc::new(cfg)
}

/// 300 streams over one connection (three times the default stream limit,
/// so the client waits for credit), each echoed byte-exact.
#[tokio::test]
async fn many_streams_over_one_connection() {
    let (server, addr, served) = echo_server("127.0.0.1", "").await;
    let done = Arc::new(Mutex::new(None));
    let app = ManyStreams {
        n: 300,
        msgs: Vec::new(),
        done: done.clone(),
    };
    let cfg = QuicConfig {
        alpn: vec![ALPN.as_bytes().to_vec()],
        ..QuicConfig::default()
    };
    let client = QuicClient::new(cfg, client_tls(), "localhost", addr, Box::new(app)).unwrap();
    let driver = Server::new();
    driver
        .bind_udp(
            "127.0.0.1:0".parse().unwrap(),
            Some(addr),
            Box::new(client),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap();
    within("300 streams", async {
        while done.lock().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let r = done.lock().unwrap().clone();
    assert_eq!(r, Some(Ok(300)));
    assert_eq!(served.lock().unwrap().len(), 300);
    driver.shutdown(Duration::from_secs(1)).await;
    server.shutdown(Duration::from_secs(1)).await;
}

/// Opens its stream and then says nothing.
struct Silent(Arc<Mutex<Seen>>);
impl StreamProtocol for Silent {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

fn is_idle_timeout(why: &Close) -> bool {
    matches!(why.error::<QuicError>(), Some(QuicError::IdleTimeout))
        || matches!(why, Close::Timeout(_))
}

/// Both ends at a 400 ms idle timeout: a connection nobody uses ends, as a
/// timeout, on the client and on the server.
#[tokio::test]
async fn an_idle_connection_times_out() {
    let (server, addr, served) = echo_server("127.0.0.1", "&quic.idle=400").await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let start = Instant::now();
    let conn = strata_tokio::connect(
        &client_ep(addr, "&quic.idle=400"),
        Box::new(Silent(seen.clone())),
        Arc::new(StackConfig::default()),
    )
    .await
    .expect("connect");
    let why = within("the idle timeout", conn.closed()).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "ended after {took:?}: {why}"
    );
    let lost = seen
        .lock()
        .unwrap()
        .lost
        .clone()
        .expect("the protocol saw the end");
    assert!(is_idle_timeout(&lost), "client: {lost}");
    // The server's stream protocol ends too (it may have never been made
    // if the stream carried no frame yet: then nothing was served).
    within("the server's side", async {
        loop {
            let ended = served
                .lock()
                .unwrap()
                .iter()
                .all(|s| s.lock().unwrap().lost.is_some());
            if ended {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    server.shutdown(Duration::from_secs(1)).await;
}

/// Nothing listens: the client gets an error within its handshake
/// deadline (here the 1 s idle timeout, which bounds the handshake too).
#[tokio::test]
async fn a_server_that_is_not_there_is_a_typed_error_in_time() {
    // A bound socket that never answers (a closed port would do the same:
    // QUIC ignores ICMP).
    let hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(15),
        strata_tokio::connect(
            &client_ep(addr, "&quic.idle=1000"),
            Box::new(Silent(Arc::default())),
            Arc::new(StackConfig::default()),
        ),
    )
    .await
    .expect("connect returns within its own deadline");
    let took = start.elapsed();
    let err = match r {
        Ok(_) => panic!("connected to nobody"),
        Err(e) => e,
    };
    assert!(took < Duration::from_secs(12), "took {took:?}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut, "{io}");
}

/// A client offering an ALPN the server does not serve is refused by the
/// handshake: `connect` fails, the server ran nothing.
#[tokio::test]
async fn another_alpn_is_refused() {
    let (server, addr, served) = echo_server("127.0.0.1", "").await;
    let ep = parse(&format!(
        "quic+udp://{addr}?quic.alpn=something-else&quic.insecure=true&quic.idle=2000"
    ));
    let r = within(
        "the refusal",
        strata_tokio::connect(
            &ep,
            Box::new(Silent(Arc::default())),
            Arc::new(StackConfig::default()),
        ),
    )
    .await;
    assert!(
        r.is_err(),
        "connected with an ALPN the server does not serve"
    );
    assert!(served.lock().unwrap().is_empty());
    server.shutdown(Duration::from_secs(1)).await;
}

/// A client verifying the server (no `quic.insecure`, the Mozilla roots)
/// refuses the self-signed certificate.
#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let (server, addr, _) = echo_server("127.0.0.1", "").await;
    let ep = parse(&format!(
        "quic+udp://{addr}?quic.alpn={ALPN}&quic.sni=localhost&quic.idle=2000"
    ));
    let r = within(
        "the refusal",
        strata_tokio::connect(
            &ep,
            Box::new(Silent(Arc::default())),
            Arc::new(StackConfig::default()),
        ),
    )
    .await;
    assert!(r.is_err(), "trusted a self-signed certificate");
    server.shutdown(Duration::from_secs(1)).await;
}

/// A UDP forwarder standing for a NAT: relays the client's datagrams to
/// the server from its own socket, and the server's back; after `switch_at`
/// bytes from the client it moves to a new socket (a new source port), as
/// a NAT rebinding does mid-transfer.
struct Rebinder {
    front: SocketAddr,
    switched: Arc<AtomicBool>,
    after_switch: Arc<AtomicU64>,
}

async fn rebinder(server: SocketAddr, switch_at: u64) -> Rebinder {
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap();
    let switched = Arc::new(AtomicBool::new(false));
    let after_switch = Arc::new(AtomicU64::new(0));
    let (sw, after) = (switched.clone(), after_switch.clone());
    tokio::spawn(async move {
        let mut back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut client = None;
        let mut up = 0u64;
        let (mut b1, mut b2) = (vec![0u8; 65536], vec![0u8; 65536]);
        loop {
            tokio::select! {
                r = front.recv_from(&mut b1) => {
                    let Ok((n, from)) = r else { return };
                    client = Some(from);
                    up += n as u64;
                    if up >= switch_at && !sw.load(Ordering::SeqCst) {
                        back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                        sw.store(true, Ordering::SeqCst);
                    }
                    if sw.load(Ordering::SeqCst) {
                        after.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    let _ = back.send_to(&b1[..n], server).await;
                }
                r = back.recv_from(&mut b2) => {
                    let Ok((n, _)) = r else { return };
                    if let Some(c) = client {
                        let _ = front.send_to(&b2[..n], c).await;
                    }
                }
            }
        }
    });
    Rebinder {
        front: front_addr,
        switched,
        after_switch,
    }
}

/// The client's address, as the server sees it, changes after 1 MB of a
/// 4 MiB echo: the server validates the new path and the transfer completes
/// byte-exact.
#[tokio::test]
async fn a_client_whose_source_port_changes_keeps_going() {
    let (server, addr, _) = echo_server("127.0.0.1", "").await;
    let nat = rebinder(addr, 1_000_000).await;
    let msg = message(4 << 20);
    let seen = echo(
        &client_ep(nat.front, ""),
        msg.clone(),
        Duration::from_secs(30),
    )
    .await;
    assert!(nat.switched.load(Ordering::SeqCst), "the forwarder moved");
    assert!(
        nat.after_switch.load(Ordering::SeqCst) > 1_000_000,
        "the transfer went on from the new port"
    );
    assert_eq!(seen.data.len(), msg.len());
    assert!(seen.data == msg, "the echo differs");
    server.shutdown(Duration::from_secs(1)).await;
}

/// Echoes `msg` on a stream of `pool`'s connection to `ep`.
async fn pooled_echo(pool: &strata_tokio::QuicPool, ep: &Endpoint, msg: Vec<u8>) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let conn = pool
        .connect(
            ep,
            Box::new(Bulk::new(seen.clone(), msg)),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("pooled connect {ep}: {e}"));
    let why = tokio::time::timeout(Duration::from_secs(20), conn.closed())
        .await
        .expect("the pooled stream ends");
    assert!(why.is_clean(), "{why}");

    seen.lock().unwrap().clone()
}

/// 150 protocols connected through a pool at once share one connection (one
/// client address at the server), a stream each: past the server's limit
/// of 100 streams, the rest wait for credit; every echo is byte-exact.
#[tokio::test]
async fn a_pool_shares_one_connection_among_streams() {
    let (server, addr, served) = echo_server("127.0.0.1", "").await;
    let pool = strata_tokio::QuicPool::new();
    let ep = client_ep(addr, "");
    let runs: Vec<_> = (0..150)
        .map(|i| {
            let (pool, ep) = (pool.clone(), ep.clone());
            tokio::spawn(async move {
                let msg = message(5_000 + i * 101);
                let seen = pooled_echo(&pool, &ep, msg.clone()).await;
                assert!(seen.data == msg && seen.eof, "stream {i}");
                seen.stream.expect("a stream id")
            })
        })
        .collect();
    let mut ids = Vec::new();
    for r in runs {
        ids.push(within("a pooled stream", r).await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 150, "a stream each");
    assert_eq!(pool.connections(), 1);
    let served: Vec<Seen> = served
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.lock().unwrap().clone())
        .collect();
    assert_eq!(served.len(), 150);
    let peers: std::collections::HashSet<_> = served
        .iter()
        .map(|s| format!("{:?}", s.peer_addr))
        .collect();
    assert_eq!(peers.len(), 1, "one client address: {peers:?}");
    server.shutdown(Duration::from_secs(1)).await;
}

/// A pool whose server is not there fails every caller in time, and holds
/// no connection afterwards.
#[tokio::test]
async fn a_pool_without_a_server_fails_in_time() {
    let hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ep = client_ep(hole.local_addr().unwrap(), "&quic.idle=800");
    let pool = strata_tokio::QuicPool::new();
    let tries: Vec<_> = (0..3)
        .map(|_| {
            let (pool, ep) = (pool.clone(), ep.clone());
            tokio::spawn(async move {
                pool.connect(
                    &ep,
                    Box::new(Silent(Arc::default())),
                    Arc::new(StackConfig::default()),
                )
                .await
                .err()
            })
        })
        .collect();
    for t in tries {
        let err = within("a refusal", t).await.unwrap().expect("an error");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut, "{io}");
    }
    within("the pool empties", async {
        while pool.connections() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A client endpoint on a loopback socket, speaking the test's ALPN.
async fn client_endpoint() -> strata_tokio::QuicEndpoint {
    let cfg = QuicConfig {
        alpn: vec![ALPN.as_bytes().to_vec()],
        ..QuicConfig::default()
    };
    strata_tokio::QuicEndpoint::bind(
        "127.0.0.1:0".parse().unwrap(),
        cfg,
        client_tls(),
        Arc::new(StackConfig::default()),
    )
    .await
    .unwrap()
}

/// Echoes `msg` on a new connection of `ep` to `server`; returns what came back.
async fn endpoint_echo(
    ep: &strata_tokio::QuicEndpoint,
    server: SocketAddr,
    msg: Vec<u8>,
) -> Vec<u8> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let conn = ep
        .connect_stream(server, "localhost", Box::new(Bulk::new(seen.clone(), msg)))
        .await
        .unwrap_or_else(|e| panic!("connect {server}: {e}"));
    let why = within("the echo", conn.closed()).await;
    assert!(why.is_clean(), "{why}");

    seen.lock().unwrap().data.clone()
}

/// The driver's client endpoint: one UDP socket carries 10 sequential and
/// then 10 concurrent connections to two servers, every echo byte-exact;
/// the servers saw one source address; bad input is refused with a clear
/// error; shutdown closes the socket.
#[tokio::test]
async fn one_client_endpoint_socket_carries_sequential_and_concurrent_connections() {
    let (server_a, a, served_a) = echo_server("127.0.0.1", "").await;
    let (server_b, b, served_b) = echo_server("127.0.0.1", "").await;
    let ep = client_endpoint().await;
    for i in 0..10 {
        let server = if i % 2 == 0 { a } else { b };
        let msg = message(1_000 + i * 4_099);
        assert!(
            endpoint_echo(&ep, server, msg.clone()).await == msg,
            "sequential {i}"
        );
    }
    let runs: Vec<_> = (0..10)
        .map(|i| {
            let ep = ep.clone();
            let server = if i % 2 == 0 { a } else { b };
            tokio::spawn(async move {
                let msg = message(50_000 + i * 7_919);
                assert!(
                    endpoint_echo(&ep, server, msg.clone()).await == msg,
                    "concurrent {i}"
                );
            })
        })
        .collect();
    for r in runs {
        within("a concurrent connection", r).await.unwrap();
    }
    let local = strata::Addr::Inet(ep.local_addr());
    for served in [&served_a, &served_b] {
        let s = served.lock().unwrap();
        assert_eq!(s.len(), 10);
        for seen in s.iter() {
            assert_eq!(
                seen.lock().unwrap().peer_addr.as_ref(),
                Some(&local),
                "one socket"
            );
        }
    }
    let err = ep
        .connect_stream(a, "not a name!", Box::new(Silent(Arc::default())))
        .await
        .expect_err("a bad server name");
    assert!(err.to_string().contains("invalid server name"), "{err}");
    let v6: SocketAddr = "[::1]:4433".parse().unwrap();
    let err = ep
        .connect_stream(v6, "localhost", Box::new(Silent(Arc::default())))
        .await
        .expect_err("another address family");
    assert!(err.to_string().contains("invalid server address"), "{err}");
    // The drain covers the closing period (three PTOs) of the last
    // connections: 0.9 to 2.6 s on a loaded machine, where a 2 s drain cut
    // it short ("aborted by driver: server shutting down"); the call
    // returns as soon as the socket closes.
    let why = within("the shutdown", ep.shutdown(Duration::from_secs(8))).await;
    assert!(why.is_clean(), "{why}");
    assert_eq!(ep.connections(), 0);
    let err = ep
        .connect_stream(a, "localhost", Box::new(Silent(Arc::default())))
        .await
        .expect_err("the endpoint is closed");
    assert!(!err.to_string().is_empty());
    server_a.shutdown(Duration::from_secs(1)).await;
    server_b.shutdown(Duration::from_secs(1)).await;
}

/// `QuicEndpoint::shutdown` with a drain shorter than QUIC's closing period
/// (three PTOs; zero here): the socket's task ends aborted by the drain
/// deadline, while the connection, closed by us with code 0 before the
/// deadline, still ends cleanly. With a drain that covers the closing
/// period (the test above) the socket's end is clean too: the doctest of
/// `shutdown` failed under load with a 200 ms drain, shorter than three
/// PTOs once a slow scheduler inflated the handshake's RTT sample.
#[tokio::test]
async fn a_drain_shorter_than_the_closing_period_cuts_it_but_each_close_stays_clean() {
    let (server, addr, _) = echo_server("127.0.0.1", "").await;
    let ep = client_endpoint().await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let conn = ep
        .connect_stream(addr, "localhost", Box::new(Silent(seen.clone())))
        .await
        .unwrap();
    let why = within("the shutdown", ep.shutdown(Duration::ZERO)).await;
    assert!(
        matches!(
            why,
            Close::Aborted {
                reason: strata::AbortReason::Shutdown,
                ..
            }
        ),
        "{why:?}"
    );
    let closed = within("the connection's end", conn.closed()).await;
    assert!(closed.is_clean(), "{closed}");
    assert_eq!(ep.connections(), 0);
    server.shutdown(Duration::from_secs(1)).await;
}
