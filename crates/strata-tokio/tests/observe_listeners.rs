//! Issue 13, point 3: `serve --stats` and `/stats` count the connections of
//! every listener kind. Per-worker listeners (`--listener-per-worker`)
//! count into the server's statistics as one stack, and a QUIC listener of
//! connection-level apps (`listen_quic`, HTTP/3's) counts its connections.

mod common;

use std::sync::Arc;

use common::{echo_factory, eventually, roundtrip, within};
use std::sync::Mutex;
use strata::endpoint::Endpoint;
use strata::quic::{AppFactory, PerStream, QuicApp};

use strata::{StackConfig, StreamProtocol, StreamTransport, Wake, WakeRoute};
use strata_tokio::{ListenConfig, Server, ServerStats, Workers};
use tokio::io::AsyncWriteExt;

fn ep(s: &str) -> Endpoint {
    Endpoint::parse_with(s, &strata_tokio::registry()).unwrap()
}

#[tokio::test]
async fn per_worker_listeners_count_into_one_stack() {
    let stats = ServerStats::new();
    let workers = Workers::start_with_stats(2, stats.clone()).unwrap();
    let (f, _) = echo_factory();
    let l = workers
        .listen(&ep("tcp://127.0.0.1:0"), None, f, ListenConfig::default())
        .await
        .unwrap();
    let addr = l.socket_addr().unwrap();
    for _ in 0..4 {
        let mut c = within("connect", tokio::net::TcpStream::connect(addr))
            .await
            .unwrap();
        assert_eq!(roundtrip(&mut c, b"ping").await, b"ping");
        c.shutdown().await.unwrap();
    }
    let mine = |s: &ServerStats| {
        let snap = s.snapshot();
        let rows: Vec<_> = snap
            .stacks
            .iter()
            .filter(|r| r.endpoint == l.endpoint())
            .cloned()
            .collect();
        rows
    };
    eventually("four connections counted, all closed", || {
        let rows = mine(&stats);
        rows.len() == 1 && rows[0].total == 4 && rows[0].open == 0
    })
    .await;
    let rows = mine(&stats);
    assert_eq!(rows[0].chain, ["tcp"]);
    let tcp = rows[0].layers[0].counters;
    assert_eq!((tcp.bytes_in, tcp.bytes_out), (16, 16));
    workers.shutdown(std::time::Duration::ZERO).await;
}

#[tokio::test]
async fn a_quic_listener_of_apps_counts_its_connections() {
    let stats = ServerStats::new();
    let server = Server::with_stats(stats.clone());
    let (f, _) = echo_factory();
    let apps: AppFactory = Arc::new(move |_: Option<&[u8]>| {
        Some(Box::new(PerStream::new(f.clone())) as Box<dyn QuicApp>)
    });
    let l = server
        .listen_quic(
            &ep("quic+udp://127.0.0.1:0?quic.alpn=echo"),
            None,
            apps,
            ListenConfig::default(),
        )
        .await
        .unwrap();
    let addr = l.socket_addr().unwrap();
    let client = ep(&format!(
        "quic+udp://{addr}?quic.alpn=echo&quic.insecure=true"
    ));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let wake = Arc::new(Mutex::new(None));
    let probe = Probe {
        seen: seen.clone(),
        wake: wake.clone(),
    };
    let conn = within(
        "connect",
        strata_tokio::connect(&client, Box::new(probe), Arc::new(StackConfig::default())),
    )
    .await
    .unwrap();
    eventually("the echo", || seen.lock().unwrap().as_slice() == b"ping").await;
    let row = |s: &ServerStats| {
        s.snapshot()
            .stacks
            .into_iter()
            .find(|r| r.endpoint == l.endpoint())
    };
    let open = row(&stats).expect("the QUIC listener is a stack");
    assert_eq!((open.open, open.total), (1, 1));
    assert_eq!(open.chain.first(), Some(&"quic"));
    // The probe half-closes; the echo ends its stream, the probe closes.
    wake.lock().unwrap().as_ref().map(Wake::wake).unwrap();
    let why = within("the client ends", conn.closed()).await;
    assert!(why.is_clean(), "{why}");
    eventually("the connection ends", || {
        row(&stats).is_some_and(|r| r.open == 0 && r.total == 1)
    })
    .await;
    server.shutdown(std::time::Duration::ZERO).await;
}

/// Sends "ping", keeps what comes back; half-closes when woken, closes at
/// the peer's EOF.
struct Probe {
    seen: Arc<Mutex<Vec<u8>>>,
    wake: Arc<Mutex<Option<Wake>>>,
}

impl StreamProtocol for Probe {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        *self.wake.lock().unwrap() = Some(t.waker());
        t.write(b"ping");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.seen.lock().unwrap().extend_from_slice(d);
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        t.write_eof();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}
