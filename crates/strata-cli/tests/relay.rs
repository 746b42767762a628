//! `strata relay`: the pair over in-memory stacks (back-pressure, EOF,
//! aborts), and the real binary and library over 127.0.0.1 (10 MB both
//! ways, half-close, a destination that never reads, a failed connect, TLS,
//! Unix sockets).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use strata::endpoint::Endpoint;
use strata::{AbortReason, Close, Stack, StackConfig};
use strata_cli::relay::{pair, Relay, RelayConfig, RelayStats};

const MB10: usize = 10 * 1024 * 1024;

/// Deterministic, non-repeating-looking bytes.
fn input(len: usize, seed: u32) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// FNV-1a, 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fnv(u64, usize);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325, 0)
    }
    fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self.1 += data.len();
    }
    fn of(data: &[u8]) -> Self {
        let mut h = Fnv::new();
        h.update(data);
        h
    }
}

/// Reads until EOF, hashing.
fn read_all_hash(r: &mut impl Read) -> std::io::Result<Fnv> {
    let mut h = Fnv::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(h),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------------------
// The pair over in-memory stacks.

fn small() -> StackConfig {
    StackConfig {
        high_water: 16 * 1024,
        low_water: 4 * 1024,
        ..StackConfig::default()
    }
}

/// Delivers wakes on both stacks until none is pending.
fn deliver(c: &mut Stack, u: &mut Stack) {
    for _ in 0..1000 {
        let now = c.now();
        let pending = [&*c, &*u]
            .iter()
            .any(|s| s.wake_hub().is_some_and(|h| h.is_pending()));
        if !pending {
            return;
        }
        c.handle_wakes(now);
        u.handle_wakes(now);
    }
    panic!("wakes never settle");
}

#[test]
fn pair_pauses_the_reader_when_the_writer_is_stuck_and_loses_nothing() {
    const BUF: usize = 32 * 1024;
    const CHUNK: usize = 8 * 1024;
    let stats = Arc::new(RelayStats::default());
    let (client, upstream) = pair(BUF, stats.clone());
    let mut c = Stack::memory_with(Box::new(client), small());
    let mut u = Stack::memory_with(Box::new(upstream), small());
    let now = c.now();
    let data = input(1024 * 1024, 1);
    let mut sent = 0;
    // Upstream never drains its output: like the driver, feed the client
    // only while it wants to read.
    while sent < data.len() && c.wants_read() {
        c.handle_input(now, &data[sent..sent + CHUNK]);
        sent += CHUNK;
        deliver(&mut c, &mut u);
    }
    assert!(sent < data.len(), "the relay kept reading a stuck upstream");
    assert!(c.is_read_paused());
    assert!(u.pending_output() <= small().high_water + CHUNK);
    assert!(
        stats.peak_queued() >= BUF,
        "the queue filled before pausing"
    );
    assert!(stats.peak_queued() < BUF + CHUNK, "{}", stats.peak_queued());

    // Upstream drains: the client resumes, and the bytes arrive in order.
    let mut out = Vec::new();
    while out.len() < data.len() {
        out.extend(u.take_output(now));
        deliver(&mut c, &mut u);
        while sent < data.len() && c.wants_read() {
            c.handle_input(now, &data[sent..sent + CHUNK]);
            sent += CHUNK;
            deliver(&mut c, &mut u);
        }
        assert!(stats.peak_queued() < BUF + CHUNK);
    }
    assert!(out == data, "the relay changed the bytes");
    assert_eq!(stats.bytes_up(), data.len() as u64);

    // EOF both ways: each reaches the other side, then both finish cleanly.
    c.handle_eof(now);
    deliver(&mut c, &mut u);
    assert!(u.should_shutdown_write());
    u.handle_input(now, b"last words");
    deliver(&mut c, &mut u);
    assert_eq!(c.take_output(now), b"last words");
    assert!(
        c.finished().is_none(),
        "the upstream direction is still open"
    );
    u.handle_eof(now);
    deliver(&mut c, &mut u);
    assert!(c.should_shutdown_write());
    c.write_shutdown_done(now);
    assert!(c.finished().unwrap().is_clean());
    u.write_shutdown_done(now);
    assert!(u.finished().unwrap().is_clean());
    drop((c, u));
    assert_eq!(stats.active(), 0);
}

#[test]
fn pair_aborts_the_other_side_when_one_fails() {
    let stats = Arc::new(RelayStats::default());
    let (client, upstream) = pair(4096, stats.clone());
    let mut c = Stack::memory(Box::new(client));
    let mut u = Stack::memory(Box::new(upstream));
    let now = c.now();
    c.handle_input(now, b"request");
    deliver(&mut c, &mut u);
    assert_eq!(u.take_output(now), b"request");
    u.handle_lost(now, Close::Reset);
    deliver(&mut c, &mut u);
    match c.finished() {
        Some(Close::Aborted {
            layer: "relay",
            reason: AbortReason::PeerAborted,
        }) => {}
        other => panic!("client should be aborted, got {other:?}"),
    }
    drop((c, u));
    assert_eq!(stats.active(), 0);
}

#[test]
fn pair_queues_client_bytes_until_upstream_is_up() {
    let stats = Arc::new(RelayStats::default());
    let (client, upstream) = pair(4096, stats.clone());
    let mut c = Stack::memory(Box::new(client));
    let now = c.now();
    c.handle_input(now, b"early ");
    c.handle_input(now, b"bytes");
    c.handle_eof(now);
    // The upstream connection is only now made.
    let mut u = Stack::memory(Box::new(upstream));
    assert_eq!(u.take_output(now), b"early bytes");
    assert!(u.should_shutdown_write());
    u.write_shutdown_done(now);
    u.handle_input(now, b"answer");
    u.handle_eof(now);
    deliver(&mut c, &mut u);
    assert_eq!(c.take_output(now), b"answer");
    c.write_shutdown_done(now);
    assert!(c.finished().unwrap().is_clean());
    assert!(u.finished().unwrap().is_clean());
}

#[test]
fn pair_flushes_then_closes_when_the_other_side_closes_without_eof() {
    let (client, upstream) = pair(4096, Arc::new(RelayStats::default()));
    let mut c = Stack::memory(Box::new(client));
    let mut u = Stack::memory(Box::new(upstream));
    let now = c.now();
    u.handle_input(now, b"bye");
    // Upstream ends cleanly (e.g. a transport without half-close) while
    // the client has not sent EOF.
    u.handle_lost(now, Close::Done);
    deliver(&mut c, &mut u);
    assert_eq!(c.take_output(now), b"bye");
    assert!(c.finished().unwrap().is_clean(), "{:?}", c.finished());
}

// ---------------------------------------------------------------------------
// The binary over real sockets.

/// A running `strata relay`, killed on drop.
struct RelayProc {
    child: Child,
    /// The address it listens on, from its "relaying" line.
    listen: String,
    stderr: Arc<Mutex<String>>,
}

impl RelayProc {
    fn start(args: &[&str]) -> RelayProc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("relay")
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run strata");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("strata: relaying ") {
                    let _ = tx.send(rest.split(" -> ").next().unwrap_or("").to_string());
                }
            }
        });
        let listen = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "relay did not start; stderr: {}",
                    stderr.lock().unwrap().as_str()
                );
            }
        };
        RelayProc {
            child,
            listen,
            stderr,
        }
    }

    /// The host:port part of a tcp listen endpoint.
    fn addr(&self) -> SocketAddr {
        let hp = self.listen.split("://").nth(1).expect("scheme");
        hp.parse().expect("host:port")
    }

    fn stderr_contains(&self, needle: &str, within: Duration) -> bool {
        let until = Instant::now() + within;
        loop {
            if self.stderr.lock().unwrap().contains(needle) {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An echo server: writes back what it reads, half-closes after EOF.
fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

/// Sends `data` through `s` and half-closes, from a thread, while this
/// thread reads the answer to EOF.
fn round_trip(s: TcpStream, data: Arc<Vec<u8>>) -> Fnv {
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        for c in data.chunks(64 * 1024) {
            w.write_all(c).unwrap();
        }
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut r = s;
    let h = read_all_hash(&mut r).expect("read the echo");
    writer.join().unwrap();
    h
}

#[test]
fn relays_10mb_both_ways_through_the_binary() {
    let echo = echo_server();
    let relay = RelayProc::start(&["tcp://127.0.0.1:0", &format!("tcp://{echo}")]);
    let data = Arc::new(input(MB10, 2));
    let want = Fnv::of(&data);
    let got = round_trip(connect(relay.addr()), data);
    assert_eq!(got, want, "the echo through the relay differs");
}

#[test]
fn half_close_reaches_each_side_in_turn() {
    // The destination sends 10 MB and half-closes at once; it then reads
    // what the client sends until the client's EOF and reports its hash.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = l.local_addr().unwrap();
    let down = Arc::new(input(MB10, 3));
    let up = Arc::new(input(MB10, 4));
    let (tx, rx) = mpsc::channel();
    let d = down.clone();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        for c in d.chunks(64 * 1024) {
            s.write_all(c).unwrap();
        }
        s.shutdown(Shutdown::Write).unwrap();
        let _ = tx.send(read_all_hash(&mut s).map_err(|e| e.kind()));
    });
    let relay = RelayProc::start(&["tcp://127.0.0.1:0", &format!("tcp://{dest}")]);
    let mut s = connect(relay.addr());
    // Everything the destination sent, then its EOF, reaches the client
    // while the client has not sent a byte.
    assert_eq!(read_all_hash(&mut s).unwrap(), Fnv::of(&down));
    // The other direction is still open: the client now sends 10 MB.
    for c in up.chunks(64 * 1024) {
        s.write_all(c).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let got = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the destination saw the client's EOF");
    assert_eq!(got, Ok(Fnv::of(&up)));
    // Both directions are done: the relay closes the client.
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn a_failed_connect_closes_the_client_promptly_with_a_log_line() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("tcp://127.0.0.1:{port}");
    let relay = RelayProc::start(&["tcp://127.0.0.1:0", &target]);
    let mut s = TcpStream::connect(relay.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(b"anyone there?");
    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the client should be closed, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(
        relay.stderr_contains(
            &format!("cannot connect to {target}"),
            Duration::from_secs(5)
        ),
        "no log line naming the endpoint: {}",
        relay.stderr.lock().unwrap()
    );
}

/// Issue 9: with an unreachable `reliable+udp` (or `tls+reliable+udp`)
/// upstream the client was never closed and nothing was logged. The
/// connect timeout applies to every upstream kind.
#[test]
fn an_unreachable_reliable_upstream_closes_the_client_within_the_connect_timeout() {
    for scheme in ["reliable+udp", "tls+reliable+udp"] {
        // A UDP port nobody listens on.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = format!("{scheme}://127.0.0.1:{port}");
        let mut args = vec!["tcp://127.0.0.1:0", &target, "--connect-timeout", "2"];
        if scheme.starts_with("tls") {
            args.push("--insecure");
        }
        let relay = RelayProc::start(&args);
        let mut s = TcpStream::connect(relay.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let _ = s.write_all(b"anyone there?");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("{scheme}: the client should be closed, got {other:?}"),
        }
        assert!(
            relay.stderr_contains(
                &format!("cannot connect to {target}"),
                Duration::from_secs(5)
            ),
            "{scheme}: no log line naming the endpoint: {}",
            relay.stderr.lock().unwrap()
        );
    }
}

/// Runs `strata connect` to a UDP port on loopback that nobody listens on,
/// with `query` appended to the endpoint; fails the test if it is still
/// running after `limit`. Returns its exit status and stderr.
fn connect_to_a_closed_udp_port(query: &str, limit: Duration) -> (Option<i32>, String) {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("connect")
        .arg(format!("reliable+udp://127.0.0.1:{port}{query}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("strata connect still running after {limit:?}");
        }
        thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// Issue 9: `strata connect reliable+udp://127.0.0.1:1` hung past 60 s (the
/// never-started protocol kept the stdout thread waiting). A failed connect
/// exits 3 ("could not connect", docs/endpoints.md) with the reason once the
/// handshake times out.
#[test]
fn connect_over_reliable_udp_to_nobody_exits_3_with_the_reason() {
    let (code, err) =
        connect_to_a_closed_udp_port("?reliable.handshake=1", Duration::from_secs(30));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("handshake timed out"), "{err}");
}

/// Issue 9: with the default 20 s handshake timeout, a connect to a closed
/// UDP port on loopback now fails in about 3 s: the kernel's ICMP port
/// unreachable is a hint, three of them and 3 PTO of silence (about 1 s
/// each before any RTT sample) make the peer unreachable. Exit 3 with the
/// reason. (The handshake timeout alone would take 20 s.)
#[test]
fn connect_over_reliable_udp_to_a_closed_port_fails_early_as_unreachable() {
    let (code, err) = connect_to_a_closed_udp_port("", Duration::from_secs(15));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("the peer is unreachable"), "{err}");
}

/// Issue 9: when the far relay of a `reliable+udp` tunnel was killed, the
/// near side noticed only at the 30 s idle timeout (then at 20 s, by the
/// probe rule). On loopback the kernel answers the data sent to the dead
/// port with ICMP port unreachable: three of those, and max(3 PTO, 1 s) of
/// silence after the first, end the connection, about 1 s after the write
/// (docs/limits.md, `unreachable_hints`). The bound leaves room for a
/// loaded machine; the probe rule alone would take 20 s.
#[test]
fn killing_the_far_relay_closes_the_near_client_before_the_idle_timeout() {
    // client --tcp--> relay B --reliable+udp--> relay A --tcp--> echo
    let echo = echo_server();
    let mut a = RelayProc::start(&["reliable+udp://127.0.0.1:0", &format!("tcp://{echo}")]);
    let b = RelayProc::start(&["tcp://127.0.0.1:0", &format!("reliable+udp://{}", a.addr())]);
    let mut s = connect(b.addr());
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    // kill -9 (SIGKILL): nothing more from A, not even a CLOSE.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let _ = s.write_all(&input(64 * 1024, 9));
    let mut rest = [0u8; 4096];
    loop {
        match s.read(&mut rest) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the client should be closed, got {e}"),
        }
    }
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(10), "closed only after {took:?}");
    assert!(
        b.stderr_contains("ended:", Duration::from_secs(5)),
        "no log line: {}",
        b.stderr.lock().unwrap()
    );
}

#[test]
fn relays_over_tls_both_ways() {
    // client --tcp--> relay B --tls--> relay A --tcp--> echo
    let echo = echo_server();
    let a = RelayProc::start(&["tls+tcp://127.0.0.1:0", &format!("tcp://{echo}")]);
    let b = RelayProc::start(&[
        "tcp://127.0.0.1:0",
        &format!("tls+tcp://{}", a.addr()),
        "--insecure",
    ]);
    let data = Arc::new(input(2 * 1024 * 1024, 5));
    let want = Fnv::of(&data);
    assert_eq!(round_trip(connect(b.addr()), data), want);
}

#[test]
fn tunnels_tcp_over_the_reliable_mapping_like_kcptun() {
    // client --tcp--> relay B --reliable+udp--> relay A --tcp--> echo
    let echo = echo_server();
    let a = RelayProc::start(&["reliable+udp://127.0.0.1:0", &format!("tcp://{echo}")]);
    let b = RelayProc::start(&["tcp://127.0.0.1:0", &format!("reliable+udp://{}", a.addr())]);
    let data = Arc::new(input(MB10, 6));
    let want = Fnv::of(&data);
    assert_eq!(
        round_trip(connect(b.addr()), data),
        want,
        "the echo through the UDP tunnel differs"
    );
    // Several connections share the tunnel's one UDP socket at once.
    let runs: Vec<_> = (0..4u32)
        .map(|k| {
            let data = Arc::new(input(1 << 20, 10 + k));
            let want = Fnv::of(&data);
            let s = connect(b.addr());
            thread::spawn(move || (round_trip(s, data), want))
        })
        .collect();
    for r in runs {
        let (got, want) = r.join().unwrap();
        assert_eq!(got, want);
    }
}

#[test]
fn tls_over_the_reliable_mapping_through_relays() {
    // client --tcp--> relay B --tls+reliable+udp--> relay A --tcp--> echo
    let echo = echo_server();
    let a = RelayProc::start(&["tls+reliable+udp://127.0.0.1:0", &format!("tcp://{echo}")]);
    let b = RelayProc::start(&[
        "tcp://127.0.0.1:0",
        &format!("tls+reliable+udp://{}", a.addr()),
        "--insecure",
    ]);
    let data = Arc::new(input(2 * 1024 * 1024, 7));
    let want = Fnv::of(&data);
    assert_eq!(round_trip(connect(b.addr()), data), want);
}

#[test]
fn relays_from_a_unix_socket() {
    let echo = echo_server();
    let dir = std::env::temp_dir().join(format!("strata-relay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.sock");
    let _ = std::fs::remove_file(&path);
    let _relay = RelayProc::start(&[
        &format!("unix://{}", path.display()),
        &format!("tcp://{echo}"),
    ]);
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"over a unix socket").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"over a unix socket");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_flags_need_a_tls_connect_endpoint() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "relay",
            "tcp://127.0.0.1:0",
            "tcp://127.0.0.1:9",
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure needs a tls"));
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["relay", "tcp://127.0.0.1:0", "udp://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------------------
// The library over real sockets: a destination that never reads.

#[test]
fn a_destination_that_never_reads_bounds_the_relay_and_blocks_the_client() {
    const BUF: usize = 64 * 1024;
    // One driver read at most overshoots the bound.
    const READ: usize = 64 * 1024;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dest = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = Endpoint::parse(&format!("tcp://{}", dest.local_addr().unwrap())).unwrap();
    let relay = Relay::new(
        target,
        RelayConfig {
            buffer: BUF,
            ..RelayConfig::default()
        },
    );
    let stats = relay.stats().clone();
    let server = strata_tokio::Server::new();
    let listen = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    let local = rt
        .block_on(server.listen(&listen, relay.factory(), Default::default()))
        .unwrap()
        .local;
    let strata::Addr::Inet(addr) = local else {
        panic!("not inet: {local}")
    };

    let client = TcpStream::connect(addr).unwrap();
    let (mut held, _) = dest.accept().unwrap();
    // The client writes until its writes stay blocked for a while.
    client.set_nonblocking(true).unwrap();
    let mut c = &client;
    let chunk = vec![0x5au8; 64 * 1024];
    let mut written = 0usize;
    let mut last_progress = Instant::now();
    let started = Instant::now();
    while last_progress.elapsed() < Duration::from_millis(1500) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the client never blocked ({written} bytes written)"
        );
        match c.write(&chunk) {
            Ok(n) => {
                written += n;
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("write failed: {e}"),
        }
        assert!(
            written < 256 * 1024 * 1024,
            "the relay buffers without bound"
        );
    }
    let peak = stats.peak_queued();
    assert!(
        peak >= BUF,
        "the queue never filled ({peak}), blocked elsewhere?"
    );
    assert!(peak <= BUF + READ, "queue peak {peak} over the bound");

    // The destination reads after all: everything arrives, then EOF.
    client.set_nonblocking(false).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let got = read_all_hash(&mut held).expect("read at the destination");
    assert_eq!(got.1, written);
    assert!(stats.peak_queued() <= BUF + READ);
    drop(held);
    // The pair ends once both sides have.
    let until = Instant::now() + Duration::from_secs(10);
    while stats.active() > 0 && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(stats.active(), 0);
    rt.block_on(server.shutdown(Duration::from_secs(1)));
}

#[test]
fn a_reset_upstream_aborts_the_client_with_a_log_line() {
    // The destination closes with unread input: the kernel resets.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = l.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut one = [0u8; 1];
        let _ = s.read_exact(&mut one);
        thread::sleep(Duration::from_millis(200));
        drop(s);
    });
    let relay = RelayProc::start(&["tcp://127.0.0.1:0", &format!("tcp://{dest}")]);
    let mut s = connect(relay.addr());
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&input(64 * 1024, 6)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the client should be aborted, got {other:?}"),
    }
    assert!(
        relay.stderr_contains(
            "ended: reset by peer; aborting client",
            Duration::from_secs(5)
        ),
        "no abort log line: {}",
        relay.stderr.lock().unwrap()
    );
}

#[test]
fn ctrl_c_drains_open_relays_then_exits() {
    let echo = echo_server();
    let mut relay = RelayProc::start(&[
        "tcp://127.0.0.1:0",
        &format!("tcp://{echo}"),
        "--drain",
        "2",
    ]);
    let mut s = connect(relay.addr());
    s.write_all(b"before ").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    let pid = relay.child.id().to_string();
    let t0 = Instant::now();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(
        relay.stderr_contains("draining 1 connection(s)", Duration::from_secs(5)),
        "{}",
        relay.stderr.lock().unwrap()
    );
    // The open relay keeps working while draining...
    s.write_all(b"during").unwrap();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"during");
    // ...new connections are refused...
    assert!(TcpStream::connect(relay.addr()).is_err());
    // ...and at the drain deadline it is reset and the relay exits cleanly.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let status = relay.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}
