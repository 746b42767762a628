//! `Workers`: one listener per worker thread with `SO_REUSEPORT`. Both
//! workers serve, each connection stays on the thread that accepted it, and
//! a shutdown drains every worker.

mod common;

use std::time::Duration;

use common::{factory, sock_path, within};
use strata::endpoint::Endpoint;
use strata::{StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Workers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Answers every read with the name of the thread it runs on, and says
/// whether that is the thread it was accepted on; says `bye` on shutdown.
#[derive(Default)]
struct WhichThread {
    accepted_on: Option<String>,
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

impl StreamProtocol for WhichThread {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.accepted_on = Some(thread_name());
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        let now = thread_name();
        let same = self.accepted_on.as_deref() == Some(now.as_str());
        t.write(format!("{now} {same}\n").as_bytes());
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        t.write(b"bye\n");
        t.close();
    }
}

/// Sends a byte and reads one line back.
async fn ask(s: &mut TcpStream) -> String {
    within("a reply", async {
        s.write_all(b"?").await.unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while s.read_exact(&mut b).await.is_ok() && b[0] != b'\n' {
            line.push(b[0]);
        }
        String::from_utf8(line).unwrap()
    })
    .await
}

#[tokio::test]
async fn two_workers_both_serve_each_connection_stays_on_its_thread_and_shutdown_drains_both() {
    let workers = Workers::start(2).unwrap();
    let ep = Endpoint::parse("tcp://127.0.0.1:0").unwrap();
    let bound = within(
        "listen",
        workers.listen(
            &ep,
            None,
            factory(WhichThread::default),
            ListenConfig::default(),
        ),
    )
    .await
    .unwrap();
    let addr = bound.socket_addr().unwrap();
    assert_ne!(addr.port(), 0);

    // The kernel picks a socket by a hash of the client's 4-tuple: with a
    // fresh source port each, all of 64 on one worker has odds of 2^-63.
    let mut conns = Vec::new();
    let mut per_thread = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..64 {
        let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
        let first = ask(&mut s).await;
        let second = ask(&mut s).await;
        assert_eq!(first, second, "a connection moved between threads");
        let (name, same) = first.split_once(' ').unwrap();
        assert_eq!(
            same, "true",
            "served on another thread than it was accepted on"
        );
        *per_thread.entry(name.to_string()).or_default() += 1;
        conns.push(s);
    }
    assert_eq!(
        per_thread.keys().collect::<Vec<_>>(),
        ["strata-worker-0", "strata-worker-1"],
        "both workers serve: {per_thread:?}"
    );
    let live = workers.connections_per_worker();
    assert_eq!(live.len(), 2);
    assert_eq!(live[0], per_thread["strata-worker-0"]);
    assert_eq!(live[1], per_thread["strata-worker-1"]);
    assert_eq!(workers.connections(), 64);

    // Shutdown: every connection, on both workers, gets on_shutdown (its
    // `bye`), then a clean close; the call returns once all have ended.
    within("shutdown", workers.shutdown(Duration::from_secs(10))).await;
    for mut s in conns {
        let mut rest = String::new();
        within("the drain", s.read_to_string(&mut rest))
            .await
            .expect("a clean close, not a reset");
        assert_eq!(rest, "bye\n");
    }
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no worker listens after the shutdown"
    );
}

#[tokio::test]
async fn a_given_port_is_bound_by_every_worker() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let workers = Workers::start(3).unwrap();
    let ep = Endpoint::parse(&format!("tcp://127.0.0.1:{port}?tcp.reuseport=false")).unwrap();
    let bound = within(
        "listen",
        workers.listen(
            &ep,
            None,
            factory(WhichThread::default),
            ListenConfig::default(),
        ),
    )
    .await
    .expect("every worker binds the port (SO_REUSEPORT forced on)");
    assert_eq!(bound.socket_addr().unwrap().port(), port);
    within("shutdown", workers.shutdown(Duration::ZERO)).await;
}

#[tokio::test]
async fn a_unix_socket_is_bound_on_worker_0_only() {
    let workers = Workers::start(2).unwrap();
    let path = sock_path("workers");
    let ep = Endpoint::parse(&format!("unix://{}", path.display())).unwrap();
    within(
        "listen",
        workers.listen(
            &ep,
            None,
            factory(WhichThread::default),
            ListenConfig::default(),
        ),
    )
    .await
    .expect("one socket file, one listener");
    let mut s = within("connect", tokio::net::UnixStream::connect(&path))
        .await
        .unwrap();
    within("write", s.write_all(b"?")).await.unwrap();
    let mut line = [0u8; 17];
    within("reply", s.read_exact(&mut line)).await.unwrap();
    assert_eq!(&line, b"strata-worker-0 t");
    drop(s);
    within("shutdown", workers.shutdown(Duration::ZERO)).await;
}

#[tokio::test]
async fn run_on_a_missing_worker_is_none() {
    let workers = Workers::start(1).unwrap();
    assert_eq!(workers.run_on(1, |_| async { 1 }).await, None);
    assert_eq!(workers.run_on(0, |_| async { 1 }).await, Some(1));
    workers.shutdown(Duration::ZERO).await;
}
