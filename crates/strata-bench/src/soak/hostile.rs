//! Hostile sockets that push against the soaked server beside the good
//! connections:
//!
//! * **silent**: connect and never write (they read, only to see when the
//!   server sheds them);
//! * **slowloris**: write one byte every [`SLOWLORIS_PERIOD`] and never
//!   finish a message: an HTTP/1.1 head on the cleartext HTTP port, a TLS
//!   ClientHello on TLS ports, and stray bytes (echoed, nothing useful) on
//!   the TCP echo port.
//!
//! A shed socket (EOF or error from the server) is recorded with its
//! lifetime and reconnects after [`RECONNECT_DELAY`], so the pressure stays
//! on for the whole soak.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Target;

/// How often a slowloris client sends its next byte.
pub const SLOWLORIS_PERIOD: Duration = Duration::from_secs(3);
/// How long a shed hostile socket waits before it connects again.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(200);
/// How long a hostile connect may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The two kinds of hostile socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Connects and never writes.
    Silent,
    /// Writes one byte every few seconds, never a whole message.
    Slowloris,
}

/// What the hostile sockets of one kind went through.
#[derive(Clone, Debug, Default)]
pub struct Fate {
    /// Sockets of this kind kept (re)connecting.
    pub sockets: usize,
    /// Connections made, reconnections included.
    pub connects: u64,
    /// Connects that failed or timed out.
    pub connect_failures: u64,
    /// Connections the server ended (EOF, reset, or a write error).
    pub shed: u64,
    /// Each shed connection's lifetime, in milliseconds.
    pub lifetimes_ms: Vec<u64>,
    /// When each shed happened, in ms since the hostile sockets started.
    pub shed_at_ms: Vec<u64>,
    /// Bytes the server sent to these sockets (an error page, an alert).
    pub bytes_received: u64,
    /// Connections still open when the soak stopped.
    pub open_at_end: u64,
}

impl Fate {
    fn merge(&mut self, o: Fate) {
        self.connects += o.connects;
        self.connect_failures += o.connect_failures;
        self.shed += o.shed;
        self.lifetimes_ms.extend(o.lifetimes_ms);
        self.shed_at_ms.extend(o.shed_at_ms);
        self.bytes_received += o.bytes_received;
        self.open_at_end += o.open_at_end;
    }
}

/// The bytes a slowloris client trickles on `target`, one at a time; it
/// runs out of them only after far longer than any soak.
fn trickle(target: Target, i: usize) -> u8 {
    const HTTP_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    // A TLS handshake record announcing a 512-byte ClientHello.
    const CLIENT_HELLO: &[u8] = &[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let head = match target {
        Target::Tcp => return b'.',
        Target::Tls | Target::H2Tls => CLIENT_HELLO,
        Target::H2c => HTTP_HEAD,
    };
    head.get(i).copied().unwrap_or(b'a')
}

/// Runs `n` hostile sockets of `kind` against `addr` until `stop` turns
/// true, counting the ones open in `open`.
pub async fn run(
    kind: Kind,
    n: usize,
    target: Target,
    addr: std::net::SocketAddr,
    began: Instant,
    stop: watch::Receiver<bool>,
    open: Arc<AtomicUsize>,
) -> Fate {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let open = open.clone();
        set.spawn(one(kind, target, addr, began, stop.clone(), open));
    }
    let mut fate = Fate {
        sockets: n,
        ..Fate::default()
    };
    while let Some(r) = set.join_next().await {
        if let Ok(f) = r {
            fate.merge(f);
        }
    }
    fate
}

async fn one(
    kind: Kind,
    target: Target,
    addr: std::net::SocketAddr,
    began: Instant,
    mut stop: watch::Receiver<bool>,
    open: Arc<AtomicUsize>,
) -> Fate {
    let mut f = Fate::default();
    while !*stop.borrow() {
        let sock = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            _ => {
                f.connect_failures += 1;
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        f.connects += 1;
        open.fetch_add(1, Ordering::Relaxed);
        let opened = Instant::now();
        let (mut rd, mut wr) = sock.into_split();
        let mut got = 0u64;
        let reader = async {
            let mut buf = [0u8; 4096];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got += n as u64,
                }
            }
        };
        let writer = async {
            if kind == Kind::Silent {
                return std::future::pending::<()>().await;
            }
            let mut i = 0;
            loop {
                if wr.write_all(&[trickle(target, i)]).await.is_err() {
                    return;
                }
                i += 1;
                tokio::time::sleep(SLOWLORIS_PERIOD).await;
            }
        };
        let shed = tokio::select! {
            () = reader => true,
            () = writer => true,
            _ = stop.wait_for(|s| *s) => false,
        };
        open.fetch_sub(1, Ordering::Relaxed);
        f.bytes_received += got;
        if !shed {
            f.open_at_end += 1;
            break;
        }
        let now = Instant::now();
        f.shed += 1;
        f.lifetimes_ms.push(ms(now - opened));
        f.shed_at_ms.push(ms(now - began));
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
    f
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowloris_bytes_start_a_message_that_never_ends() {
        let http: Vec<u8> = (0..60).map(|i| trickle(Target::H2c, i)).collect();
        assert!(http.starts_with(b"GET / HTTP/1.1\r\n"));
        assert!(!http.windows(4).any(|w| w == b"\r\n\r\n"));
        assert_eq!(trickle(Target::Tls, 0), 0x16);
        assert_eq!(trickle(Target::H2Tls, 5), 0x01);
    }
}
