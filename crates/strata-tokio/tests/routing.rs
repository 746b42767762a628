//! Routable connection ids behind a stateless balancer (issue 11, point 6):
//! two server processes (this test binary run again, see [`ChildServer`])
//! with server ids `01` and `02` behind a small UDP router written for the
//! test, for each [`Scheme`] that issues routable ids: `reliable+udp://` and
//! `quic+udp://`. The router reads the server id from each packet's
//! destination id (`strata::routing::LbConfig`), and routes a client's first
//! Initial, and any id it cannot read, by a hash of the 4-tuple
//! (`four_tuple_hash`, the draft's fallback). Each client sits behind a NAT
//! of its own that rebinds to a new source port mid-transfer, a port the
//! fallback would send to the *other* server.
//!
//! With server ids every connection stays on its server and the echo
//! completes byte for byte (for QUIC, through the connection's migration to
//! the new path); without them (the control) the fallback sends the
//! client's packets to the other server after the rebind, which knows
//! nothing of the connection, and the transfer dies.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::echo_factory;
use strata::endpoint::Endpoint;
use strata::quic::RoutableCidGenerator;
use strata::reliable::wire::{self, Header};
use strata::routing::{four_tuple_hash, LbConfig, Route, ServerId};
use strata::{Close, StackConfig, StreamProtocol, StreamTransport, Timeout};
use strata_tokio::{registry, ListenConfig, Server};
use tokio::net::UdpSocket;

/// The protocol behind the balancer: both issue routable ids, in headers
/// of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// `reliable+udp://`: 8-byte ids (`docs/reliable-wire.md`).
    Reliable,
    /// `quic+udp://`: QUIC's headers (RFC 9000 §17), the ids of
    /// [`RoutableCidGenerator`].
    Quic,
}

/// What the router reads from a client's datagram.
enum Dst {
    /// Not a packet of the scheme.
    Unparsed,
    /// A client's first Initial (or QUIC's 0-RTT): its destination id is
    /// the client's random choice.
    ClientChosen(Vec<u8>),
    /// A destination id the server issued (or a guess at one).
    Id(Vec<u8>),
}

impl Scheme {
    /// A server's endpoint, with its server id in hex (or none) and more
    /// options (`key=value`, the layer's).
    fn server_url(self, server_id: Option<&str>, more: &[&str]) -> String {
        let layer = match self {
            Scheme::Reliable => "reliable",
            Scheme::Quic => "quic",
        };
        let id = server_id.map(|id| format!("{layer}.server_id={id}"));
        let opts: Vec<String> = id
            .into_iter()
            .chain(more.iter().map(|o| format!("{layer}.{o}")))
            .collect();
        let query = if opts.is_empty() {
            String::new()
        } else {
            format!("?{}", opts.join("&"))
        };
        format!("{layer}+udp://127.0.0.1:0{query}")
    }

    /// A client's endpoint: to `to`, ending `idle` seconds after the last
    /// packet it heard.
    fn client_url(self, to: SocketAddr, idle: u64) -> String {
        match self {
            Scheme::Reliable => format!("reliable+udp://{to}?reliable.idle={idle}"),
            // The servers' certificates are self-signed.
            Scheme::Quic => format!(
                "quic+udp://{to}?quic.insecure=true&quic.idle={}",
                idle * 1000
            ),
        }
    }

    /// The destination id of a client's datagram.
    fn dst(self, data: &[u8]) -> Dst {
        match self {
            Scheme::Reliable => {
                let Ok(p) = wire::parse_packet(data) else {
                    return Dst::Unparsed;
                };
                let id = p.header.dst().0.to_be_bytes().to_vec();
                if matches!(p.header, Header::Initial { token: [], .. }) {
                    Dst::ClientChosen(id)
                } else {
                    Dst::Id(id)
                }
            }
            Scheme::Quic => quic_dst(data),
        }
    }
}

/// The length of the ids a QUIC server with a one-byte server id issues:
/// short headers carry no length, a balancer knows it from its settings.
fn quic_short_cid_len() -> usize {
    let sid = ServerId::parse_hex("01").expect("a server id");
    RoutableCidGenerator::new(sid, None)
        .expect("a layout")
        .layout()
        .len()
}

/// The destination id of a QUIC packet (the first of a datagram): a long
/// header (RFC 9000 §17.2: form bit 1, a 4-byte version, the id's length
/// byte, the id) or a short one (§17.3: form bit 0, the id of the servers'
/// length). A client's first Initial carries an id it chose (§7.2), and
/// its later Initials have no token either: an Initial without a token goes
/// by the fallback, which keeps the whole handshake on one server. One
/// with a token answers a Retry, whose id the server made, or reuses a
/// NEW_TOKEN (an id of the client's again, which the lookup then rarely
/// knows). 0-RTT shares the first Initial's id.
fn quic_dst(data: &[u8]) -> Dst {
    let Some(&first) = data.first() else {
        return Dst::Unparsed;
    };
    if first & 0x80 == 0 {
        let n = quic_short_cid_len();
        return match data.get(1..1 + n) {
            Some(id) => Dst::Id(id.to_vec()),
            None => Dst::Unparsed,
        };
    }
    let Some(&dcid_len) = data.get(5) else {
        return Dst::Unparsed;
    };
    let dcid_end = 6 + usize::from(dcid_len);
    let Some(dcid) = data.get(6..dcid_end) else {
        return Dst::Unparsed;
    };
    let dcid = dcid.to_vec();
    if data[1..5] == [0; 4] {
        // Version Negotiation: a server's packet.
        return Dst::Unparsed;
    }
    match (first >> 4) & 0b11 {
        // Initial: the token's length follows the source id.
        0b00 => {
            let Some(&scid_len) = data.get(dcid_end) else {
                return Dst::Unparsed;
            };
            let at = dcid_end + 1 + usize::from(scid_len);
            match data.get(at) {
                // A variable-length integer: 0 is the single byte 0x00.
                Some(0) => Dst::ClientChosen(dcid),
                Some(_) => Dst::Id(dcid),
                None => Dst::Unparsed,
            }
        }
        0b01 => Dst::ClientChosen(dcid),
        _ => Dst::Id(dcid),
    }
}

/// How the router chose a packet's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// By the server id in the destination id.
    ById,
    /// By the 4-tuple hash.
    Fallback,
}

/// One client→server packet the router forwarded.
#[derive(Clone, Debug)]
struct Forwarded {
    /// The source the router saw (the client's NAT).
    from: SocketAddr,
    /// The datagram's first byte (its header's form and type).
    first: u8,
    /// The destination id (absent in a datagram that did not parse).
    dst: Option<Vec<u8>>,
    how: How,
    /// Index of the server it went to.
    server: usize,
}

/// The router's view: the scheme, the server addresses by index, and their
/// ids.
struct Backends {
    scheme: Scheme,
    vip: SocketAddr,
    addrs: Vec<SocketAddr>,
    ids: HashMap<Vec<u8>, usize>,
    lb: LbConfig,
}

impl Backends {
    /// The fallback's choice for a client address.
    fn fallback(&self, from: SocketAddr) -> usize {
        (four_tuple_hash(from, self.vip) % self.addrs.len() as u64) as usize
    }

    /// Where a client's packet goes, and why. Stateless: a function of the
    /// packet and its 4-tuple.
    fn route(&self, from: SocketAddr, data: &[u8]) -> (Option<Vec<u8>>, How, usize) {
        let fallback = |dst| (dst, How::Fallback, self.fallback(from));
        let id = match self.scheme.dst(data) {
            Dst::Unparsed => return fallback(None),
            Dst::ClientChosen(id) => return fallback(Some(id)),
            Dst::Id(id) => id,
        };
        match self.lb.route(&id) {
            Route::Server(sid) => match self.ids.get(sid) {
                Some(&i) => (Some(id), How::ById, i),
                None => fallback(Some(id)),
            },
            Route::Fallback => fallback(Some(id)),
        }
    }
}

/// A stateless UDP router in front of the servers: the routing decision
/// needs no state; replies go back through one upstream socket per client
/// address (what a NAT-ing user-space balancer needs to relay them).
struct Router {
    vip: SocketAddr,
    log: Arc<Mutex<Vec<Forwarded>>>,
    /// Every server→client datagram relayed: (the client address, the
    /// server's index).
    back: Arc<Mutex<Vec<(SocketAddr, usize)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Router {
    async fn start(scheme: Scheme, addrs: Vec<SocketAddr>, ids: Vec<Vec<u8>>) -> Router {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let vip = front.local_addr().unwrap();
        let backends = Backends {
            scheme,
            vip,
            addrs,
            ids: ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect(),
            lb: LbConfig::new(0, 1).unwrap(),
        };
        let log: Arc<Mutex<Vec<Forwarded>>> = Arc::default();
        let back: Arc<Mutex<Vec<(SocketAddr, usize)>>> = Arc::default();
        let (l, b) = (log.clone(), back.clone());
        let task = tokio::spawn(async move {
            let mut upstream: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = front.recv_from(&mut buf).await else {
                    return;
                };
                let (dst, how, server) = backends.route(from, &buf[..n]);
                l.lock().unwrap().push(Forwarded {
                    from,
                    first: buf[..n].first().copied().unwrap_or(0),
                    dst,
                    how,
                    server,
                });
                let up = match upstream.get(&from) {
                    Some(up) => up.clone(),
                    None => {
                        let up = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
                        let (up2, front2) = (up.clone(), front.clone());
                        let (b2, addrs) = (b.clone(), backends.addrs.clone());
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; 65_536];
                            while let Ok((n, server)) = up2.recv_from(&mut buf).await {
                                if let Some(i) = addrs.iter().position(|a| *a == server) {
                                    b2.lock().unwrap().push((from, i));
                                }
                                let _ = front2.send_to(&buf[..n], from).await;
                            }
                        });
                        upstream.insert(from, up.clone());
                        up
                    }
                };
                let _ = up.send_to(&buf[..n], backends.addrs[server]).await;
            }
        });
        Router {
            vip,
            log,
            back,
            task,
        }
    }
}

/// A client's NAT: the client sends to `inside`; the NAT forwards from an
/// outside socket to the router, and relays the answers back. After
/// `rebind_after` datagrams from the client it drops its outside socket for
/// a new one (a new source port, as a NAT rebinding does) whose fallback
/// hash points at another server than the first one's.
struct Nat {
    inside: SocketAddr,
    /// The outside addresses, in order of use.
    outside: Arc<Mutex<Vec<SocketAddr>>>,
}

/// An outside socket whose fallback choice is (or is not) `server`.
async fn outside_socket(backends: &Backends, server: usize, want: bool) -> UdpSocket {
    for _ in 0..256 {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if (backends.fallback(s.local_addr().unwrap()) == server) == want {
            return s;
        }
    }
    panic!("no port hashes as wanted in 256 tries");
}

impl Nat {
    /// A NAT whose first outside port the fallback sends to server
    /// `first`, and its second to another one.
    async fn start(backends: Arc<Backends>, first: usize, rebind_after: usize) -> Nat {
        let inside_sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let inside = inside_sock.local_addr().unwrap();
        let outside: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        let o = outside.clone();
        tokio::spawn(async move {
            let vip = backends.vip;
            let mut out = Arc::new(outside_socket(&backends, first, true).await);
            o.lock().unwrap().push(out.local_addr().unwrap());
            let mut relay: Option<tokio::task::JoinHandle<()>> = None;
            let mut sent = 0usize;
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = inside_sock.recv_from(&mut buf).await else {
                    return;
                };
                sent += 1;
                if sent == rebind_after {
                    // The old mapping is gone: answers to it are lost.
                    if let Some(r) = relay.take() {
                        r.abort();
                    }
                    out = Arc::new(outside_socket(&backends, first, false).await);
                    o.lock().unwrap().push(out.local_addr().unwrap());
                }
                if relay.is_none() {
                    let (out2, in2, to) = (out.clone(), inside_sock.clone(), from);
                    relay = Some(tokio::spawn(async move {
                        let mut buf = vec![0u8; 65_536];
                        while let Ok(n) = out2.recv(&mut buf).await {
                            let _ = in2.send_to(&buf[..n], to).await;
                        }
                    }));
                }
                let _ = out.send_to(&buf[..n], vip).await;
            }
        });
        Nat { inside, outside }
    }
}

/// The variable that makes [`routing_child_server`] serve: the endpoint it
/// listens on.
const CHILD_ENV: &str = "STRATA_ROUTING_CHILD";

/// An echo server of a [`Scheme`] in a process of its own: this test
/// binary run again for [`routing_child_server`] alone. It reports its
/// port, and a line per stream it accepts (one per connection here), on its
/// stdout; it exits when killed or when its stdin closes (the parent is
/// gone).
struct ChildServer {
    addr: SocketAddr,
    child: Child,
    accepted: Arc<AtomicUsize>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ChildServer {
    fn spawn(url: &str) -> ChildServer {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "routing_child_server",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server process starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let acc = accepted.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest's own "test ... " may begin the line.
                if let Some((_, port)) = line.split_once("routing-child port ") {
                    let _ = tx.send(port.trim().parse::<u16>().expect("a port"));
                } else if line.ends_with("routing-child accepted") {
                    acc.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server process reports its port");
        ChildServer {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            accepted,
            reader: Some(reader),
        }
    }

    /// Stops the process; the connections it accepted.
    fn finish(mut self) -> usize {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test: the server process of [`ChildServer`] (does nothing
/// without [`CHILD_ENV`]).
#[tokio::test]
#[ignore = "a server process for the routing tests, started by them"]
async fn routing_child_server() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let ep = Endpoint::parse_with(&url, &registry()).unwrap();
    let server = Server::new();
    let (echo, _) = echo_factory();
    let factory: strata::StreamFactory = Arc::new(move || {
        println!("routing-child accepted");
        echo()
    });
    let bound = server
        .listen(&ep, factory, ListenConfig::default())
        .await
        .unwrap();
    let strata::Addr::Inet(a) = bound.local.clone() else {
        panic!("not an inet address");
    };
    println!("routing-child port {}", a.port());
    std::future::pending::<()>().await;
}

/// What the client saw.
#[derive(Debug, Default)]
struct Got {
    data: Vec<u8>,
    eof: bool,
    lost: Option<Close>,
}

/// Sends `msg` (respecting back-pressure), half-closes, collects the echo.
struct Client {
    msg: Arc<Vec<u8>>,
    sent: usize,
    got: Arc<Mutex<Got>>,
}

impl Client {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.sent < self.msg.len() && t.writable() {
            let end = (self.sent + 16 * 1024).min(self.msg.len());
            t.write(&self.msg[self.sent..end]);
            self.sent = end;
        }
        if self.sent == self.msg.len() {
            self.sent += 1;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.got.lock().unwrap().data.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.got.lock().unwrap().eof = true;
        t.close();
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn connection_lost(&mut self, why: &Close) {
        self.got.lock().unwrap().lost = Some(why.clone());
    }
}

fn message(n: usize, seed: u8) -> Arc<Vec<u8>> {
    Arc::new(
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
            .collect(),
    )
}

/// Bytes each client echoes.
const SIZE: usize = 2 << 20;
/// Client datagrams before its NAT rebinds: well inside the transfer
/// (about 1,800 datagrams of 1,200 bytes carry `SIZE` one way).
const REBIND_AFTER: usize = 300;

/// Two servers (with `ids`, or none), the router, and one client per
/// server behind a rebinding NAT whose first port the fallback sends to
/// that server. Returns what each client saw, its NAT's outside ports, the
/// router's log, and the connections each server accepted.
async fn run(scheme: Scheme, ids: Option<[&str; 2]>, more: &[&str]) -> Run {
    let reg = registry();
    let servers = [
        ChildServer::spawn(&scheme.server_url(ids.map(|i| i[0]), more)),
        ChildServer::spawn(&scheme.server_url(ids.map(|i| i[1]), more)),
    ];
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let router = Router::start(scheme, addrs.clone(), vec![vec![1], vec![2]]).await;
    let backends = Arc::new(Backends {
        scheme,
        vip: router.vip,
        addrs: addrs.clone(),
        ids: HashMap::new(),
        lb: LbConfig::new(0, 1).unwrap(),
    });
    let mut clients = Vec::new();
    for first in 0..2 {
        let nat = Nat::start(backends.clone(), first, REBIND_AFTER).await;
        // The control's clients have a short idle timeout: one whose
        // packets go nowhere ends three seconds after the last it heard.
        let idle = if ids.is_some() { 30 } else { 3 };
        let cep = Endpoint::parse_with(&scheme.client_url(nat.inside, idle), &reg).unwrap();
        let got = Arc::new(Mutex::new(Got::default()));
        let client = Client {
            msg: message(SIZE, first as u8),
            sent: 0,
            got: got.clone(),
        };
        let conn = strata_tokio::connect(&cep, Box::new(client), Arc::new(StackConfig::default()))
            .await
            .unwrap();
        clients.push((conn, got, nat));
    }
    let mut out = Vec::new();
    for (_conn, got, nat) in clients {
        // The protocol's end. (After an idle timeout the handle's
        // `closed()` resolved about ten seconds later than this, which is
        // not what this test is about.)
        tokio::time::timeout(Duration::from_secs(60), async {
            while got.lock().unwrap().lost.is_none() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the connection ends");
        let g = std::mem::take(&mut *got.lock().unwrap());
        let ports = nat.outside.lock().unwrap().clone();
        out.push((g, ports));
    }
    let [a, b] = servers;
    let accepted = [a.finish(), b.finish()];
    router.task.abort();
    let log = router.log.lock().unwrap().clone();
    let back = router.back.lock().unwrap().clone();
    Run {
        clients: out,
        log,
        back,
        accepted,
    }
}

/// What [`run`] saw.
struct Run {
    /// What each client saw, and its NAT's outside addresses in order.
    clients: Vec<(Got, Vec<SocketAddr>)>,
    /// Every client→server datagram the router forwarded.
    log: Vec<Forwarded>,
    /// Every server→client datagram it relayed: (to the client address,
    /// from the server of that index).
    back: Vec<(SocketAddr, usize)>,
    /// The connections each server accepted.
    accepted: [usize; 2],
}

/// With server ids: every connection completes byte for byte on the server
/// it started on, routed by id after the rebind.
async fn each_connection_stays_on_its_server(scheme: Scheme, more: &[&str]) -> Run {
    let r = run(scheme, Some(["01", "02"]), more).await;
    let (clients, log, accepted) = (&r.clients, &r.log, r.accepted);
    assert_eq!(accepted, [1, 1], "one connection on each server");
    for (i, (got, ports)) in clients.iter().enumerate() {
        let msg = message(SIZE, i as u8);
        assert!(
            got.lost.as_ref().is_some_and(|l| l.is_clean()),
            "{:?}",
            got.lost
        );
        assert!(got.eof);
        assert_eq!(got.data.len(), SIZE);
        assert!(got.data == *msg, "client {i}: the echo differs");
        assert_eq!(ports.len(), 2, "client {i}: the NAT rebound once");
        // After the rebind, its packets arrived from the new port and went
        // to its first server by id, though the fallback points elsewhere.
        let after: Vec<_> = log.iter().filter(|f| f.from == ports[1]).collect();
        assert!(
            after.len() > 100,
            "client {i}: {} packets after the rebind",
            after.len()
        );
        assert!(
            after.iter().all(|f| f.how == How::ById && f.server == i),
            "client {i}: {:?}",
            after.iter().find(|f| f.how != How::ById || f.server != i)
        );
    }
    // Each server-issued id went to one server only.
    let mut by_id: HashMap<&[u8], HashSet<usize>> = HashMap::new();
    for f in log.iter().filter(|f| f.how == How::ById) {
        by_id
            .entry(f.dst.as_deref().unwrap())
            .or_default()
            .insert(f.server);
    }
    assert!(by_id.len() >= 2, "{by_id:?}");
    assert!(by_id.values().all(|s| s.len() == 1), "{by_id:?}");
    r
}

/// Without server ids (the control): after the rebind the fallback sends
/// every packet to the other server, and the transfer dies.
async fn the_fallback_misroutes_after_a_rebind(scheme: Scheme) -> Run {
    let r = run(scheme, None, &[]).await;
    let (clients, log, accepted) = (&r.clients, &r.log, r.accepted);
    assert_eq!(
        accepted,
        [1, 1],
        "one connection on each server, by the fallback"
    );
    for (i, (got, ports)) in clients.iter().enumerate() {
        assert_eq!(ports.len(), 2, "client {i}: the NAT rebound once");
        assert!(
            got.lost.as_ref().is_some_and(|l| !l.is_clean()),
            "client {i}: {:?}",
            got.lost
        );
        assert!(got.data.len() < SIZE, "client {i}: the echo completed");
        // Its packets from the new port went to the other server.
        let after: Vec<_> = log.iter().filter(|f| f.from == ports[1]).collect();
        assert!(!after.is_empty());
        assert!(after
            .iter()
            .all(|f| f.how == How::Fallback && f.server != i));
    }
    r
}

#[tokio::test]
async fn reliable_with_server_ids_each_connection_stays_on_its_server_across_a_rebind() {
    each_connection_stays_on_its_server(Scheme::Reliable, &[]).await;
}

#[tokio::test]
async fn reliable_without_server_ids_the_fallback_misroutes_after_a_rebind() {
    the_fallback_misroutes_after_a_rebind(Scheme::Reliable).await;
}

/// QUIC: besides the common checks, every id routed by id has the length
/// of the servers' generator, and the server answered on the new path
/// (quinn-proto validated it and migrated the connection; the router
/// relayed its datagrams to the client's new address).
#[tokio::test]
async fn quic_with_server_ids_each_connection_stays_on_its_server_across_a_rebind() {
    let r = each_connection_stays_on_its_server(Scheme::Quic, &[]).await;
    let n = quic_short_cid_len();
    for f in r.log.iter().filter(|f| f.how == How::ById) {
        let id = f.dst.as_deref().unwrap();
        assert_eq!(id.len(), n, "{f:?}");
        assert_eq!(id[1], f.server as u8 + 1, "{f:?}");
    }
    for (i, (_, ports)) in r.clients.iter().enumerate() {
        let answered = r.back.iter().filter(|&&(to, s)| (to, s) == (ports[1], i));
        assert!(
            answered.count() > 100,
            "client {i}: its server did not answer on the new path"
        );
    }
}

/// QUIC with Retry on every new connection: the client's second Initial
/// carries the Retry's token and, as its destination, the id the Retry
/// gave, which the server minted routable: the router sends it by id to the
/// server that holds the token's key, and the connections go on as without
/// Retry.
#[tokio::test]
async fn quic_with_server_ids_a_retried_initial_is_routed_by_id() {
    let r = each_connection_stays_on_its_server(Scheme::Quic, &["retry=always"]).await;
    for (i, (_, ports)) in r.clients.iter().enumerate() {
        // Long header, fixed bit, type Initial (RFC 9000 §17.2.2).
        let initials: Vec<_> = r
            .log
            .iter()
            .filter(|f| f.from == ports[0] && f.first & 0xf0 == 0xc0)
            .collect();
        assert!(
            initials.iter().any(|f| f.how == How::Fallback),
            "client {i}: {initials:?}"
        );
        let retried: Vec<_> = initials.iter().filter(|f| f.how == How::ById).collect();
        assert!(!retried.is_empty(), "client {i}: {initials:?}");
        assert!(
            retried.iter().all(|f| f.server == i),
            "client {i}: {retried:?}"
        );
    }
}

/// QUIC's control: the other server drops the packets it gets after the
/// rebind without a word (quinn-proto's default ids carry a keyed hash, and
/// its `validate` refuses ids it did not issue: no stateless reset), so the
/// client ends on its idle timeout.
#[tokio::test]
async fn quic_without_server_ids_the_fallback_misroutes_after_a_rebind() {
    let r = the_fallback_misroutes_after_a_rebind(Scheme::Quic).await;
    for (i, (got, ports)) in r.clients.iter().enumerate() {
        assert!(
            matches!(got.lost, Some(Close::Timeout(Timeout::Idle))),
            "client {i}: {:?}",
            got.lost
        );
        let to_new: Vec<_> = r.back.iter().filter(|(to, _)| *to == ports[1]).collect();
        assert!(
            to_new.is_empty(),
            "client {i}: answers on the new path: {to_new:?}"
        );
    }
}
