//! Helpers shared by the driver's socket tests.
#![allow(dead_code)]

pub mod bridge;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::{Close, PeerAddr, StreamProtocol, StreamTransport};
use strata_tokio::StreamFactory;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every test step is bounded so that a bug cannot hang the suite.
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(10), f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// What a server-side protocol saw, for the test to assert on.
#[derive(Debug, Default)]
pub struct Seen {
    pub peer: Option<strata::Addr>,
    pub chain: Vec<&'static str>,
    pub lost: Option<Close>,
}

pub type Shared = Arc<Mutex<Seen>>;

/// Writes back what it reads; closes on EOF. Records its peer, its layer
/// chain and why it ended.
pub struct Echo {
    pub seen: Shared,
}

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let mut s = self.seen.lock().unwrap();
        s.peer = t.get::<PeerAddr>().map(|p| p.0.clone());
        s.chain = t.layer_chain();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.clone());
    }
}

/// A factory of [`Echo`]s that all record into the returned list.
pub fn echo_factory() -> (StreamFactory, Arc<Mutex<Vec<Shared>>>) {
    let all: Arc<Mutex<Vec<Shared>>> = Arc::default();
    let a = all.clone();
    let f: StreamFactory = Arc::new(move || {
        let seen = Shared::default();
        a.lock().unwrap().push(seen.clone());
        Box::new(Echo { seen }) as Box<dyn StreamProtocol>
    });
    (f, all)
}

/// A factory from a closure, boxed.
pub fn factory<P: StreamProtocol + 'static>(
    f: impl Fn() -> P + Send + Sync + 'static,
) -> StreamFactory {
    Arc::new(move || Box::new(f()) as Box<dyn StreamProtocol>)
}

/// Sends `msg` and reads exactly as many bytes back.
pub async fn roundtrip<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    msg: &[u8],
) -> Vec<u8> {
    within("roundtrip", async {
        s.write_all(msg).await.unwrap();
        let mut back = vec![0; msg.len()];
        s.read_exact(&mut back).await.unwrap();
        back
    })
    .await
}

/// Waits until `cond` holds, polling every few milliseconds (bounded).
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// A fresh path for a Unix socket in the temp dir.
pub fn sock_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "strata-tokio-{}-{tag}-{n}.sock",
        std::process::id()
    ))
}

/// True if this machine can bind the IPv6 loopback.
pub fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}
