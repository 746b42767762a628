//! Observing a server: exact counters per stack and per layer after known
//! exchanges, and the connection span's fields and lifecycle events as a
//! test subscriber records them.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata::{AbortReason, Close, Stack, StreamProtocol, StreamTransport};
use strata_tokio::{Observed, Server, ServerStats, StackStats};

struct Echo;
impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

fn echo() -> strata_tokio::StreamFactory {
    Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>)
}

/// Waits (bounded) until `f` holds; the assertion is on the final state.
async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One client: sends `n` bytes, reads them back, half-closes, reads EOF.
fn exchange(addr: std::net::SocketAddr, n: usize) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let data = vec![7u8; n];
    c.write_all(&data).unwrap();
    let mut back = vec![0; n];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_counts_its_connections_and_the_bytes_of_each_layer() {
    let stats = ServerStats::new();
    let server = Server::with_stats(stats.clone());
    let ep = "tcp://127.0.0.1:0".parse().unwrap();
    let l = server
        .listen(&ep, echo(), Default::default())
        .await
        .unwrap();
    let addr = l.socket_addr().unwrap();
    tokio::task::spawn_blocking(move || {
        for n in [100, 2000, 70_000] {
            exchange(addr, n);
        }
    })
    .await
    .unwrap();
    until(|| stats.snapshot().stacks[0].open == 0).await;
    let snap = stats.snapshot();
    assert_eq!(snap.stacks.len(), 1);
    let s = &snap.stacks[0];
    assert_eq!(s.endpoint, l.endpoint());
    assert_eq!((s.open, s.total), (0, 3));
    assert_eq!(s.chain, ["tcp"]);
    assert_eq!(s.layers.len(), 1);
    let tcp = &s.layers[0];
    assert_eq!(tcp.layer, "tcp");
    assert_eq!(tcp.counters.bytes_in, 72_100);
    assert_eq!(tcp.counters.bytes_out, 72_100);
    assert_eq!(
        tcp.counters.buffered, 0,
        "no live connection holds anything"
    );
    let line = snap.line();
    assert!(line.contains("conns=0/3"), "{line}");
    assert!(line.contains(" tcp=in:72100,out:72100,buf:0"), "{line}");
    server.shutdown(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_layer_of_a_tls_stack_is_listed_in_chain_order() {
    let stats = ServerStats::new();
    let server = Server::with_stats(stats.clone());
    let ep = "tls+tcp://127.0.0.1:0".parse().unwrap();
    let l = server
        .listen(&ep, echo(), Default::default())
        .await
        .unwrap();
    let client: strata::endpoint::Endpoint = format!("{}?tls.insecure=true", l.endpoint())
        .parse()
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    struct Once(Option<tokio::sync::oneshot::Sender<Vec<u8>>>, Vec<u8>);
    impl StreamProtocol for Once {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(b"hello");
        }
        fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
            self.1.extend_from_slice(d);
            if self.1.len() == 5 {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(self.1.clone());
                }
                t.write_eof();
            }
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }
    let conn = strata_tokio::connect(
        &client,
        Box::new(Once(Some(tx), Vec::new())),
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(rx.await.unwrap(), b"hello");
    let _ = conn.closed().await;
    until(|| stats.snapshot().stacks[0].open == 0).await;
    let s = &stats.snapshot().stacks[0];
    assert_eq!(s.chain, ["tls", "tcp"]);
    let names: Vec<_> = s.layers.iter().map(|l| l.layer).collect();
    assert_eq!(names, ["tls", "tcp"]);
    assert_eq!(s.total, 1);
    // Over TCP went the handshake and the records: more than the 5 bytes,
    // and every byte TCP read or was handed is one TLS took or made.
    let (tls, tcp) = (s.layers[0].counters, s.layers[1].counters);
    assert!(tcp.bytes_in > 5);
    assert_eq!(tls.bytes_in, tcp.bytes_in);
    assert_eq!(tls.bytes_out, tcp.bytes_out);
    server.shutdown(Duration::ZERO).await;
}

// ---- a test subscriber: records spans (name, fields) and events ----

#[derive(Clone, Debug, Default, PartialEq)]
struct Rec {
    name: String,
    fields: Vec<(String, String)>,
    parent: Option<u64>,
}

#[derive(Default)]
struct Log {
    spans: Vec<Rec>,
    events: Vec<Rec>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Log>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);
impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
        self.0.push((f.name().to_string(), format!("{v:?}")));
    }
    fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
        self.0.push((f.name().to_string(), v.to_string()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, a: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut rec = Rec {
            name: a.metadata().name().to_string(),
            ..Rec::default()
        };
        a.record(&mut Fields(&mut rec.fields));
        let mut log = self.0.lock().unwrap();
        log.spans.push(rec);
        tracing::span::Id::from_u64(log.spans.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        let mut rec = Rec {
            name: e.metadata().target().to_string(),
            parent: e.parent().map(|p| p.into_u64()),
            ..Rec::default()
        };
        e.record(&mut Fields(&mut rec.fields));
        self.0.lock().unwrap().events.push(rec);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn field<'a>(r: &'a Rec, name: &str) -> Option<&'a str> {
    r.fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Runs an observed echo in memory under the recorder; `end` ends it.
fn observed_run(end: impl FnOnce(&mut Stack)) -> (Log, Arc<StackStats>) {
    let rec = Recorder::default();
    let stack = StackStats::new("memory://test");
    tracing::subscriber::with_default(rec.clone(), || {
        let mut s = Stack::memory(Box::new(Observed::new(Box::new(Echo), stack.clone())));
        let now = s.now();
        s.handle_input(now, b"abc");
        s.take_output(now);
        end(&mut s);
    });
    let log = std::mem::take(&mut *rec.0.lock().unwrap());
    (log, stack)
}

#[test]
fn a_connection_span_carries_peer_local_and_chain_and_its_lifecycle() {
    let (log, stack) = observed_run(|s| {
        let now = s.now();
        s.handle_eof(now);
    });
    let conn: Vec<_> = log.spans.iter().filter(|s| s.name == "conn").collect();
    assert_eq!(conn.len(), 1);
    assert_eq!(field(conn[0], "peer"), Some("memory:2"));
    assert_eq!(field(conn[0], "local"), Some("memory://test"));
    assert_eq!(field(conn[0], "chain"), Some("memory"));
    let life: Vec<_> = log
        .events
        .iter()
        .filter(|e| e.name == "strata::conn")
        .map(|e| (field(e, "message").unwrap_or(""), e.parent))
        .collect();
    assert_eq!(life, [("accepted", Some(1)), ("closed", Some(1))]);
    // -vv: one span per layer, with that layer's counters.
    let layer: Vec<_> = log.spans.iter().filter(|s| s.name == "layer").collect();
    assert_eq!(layer.len(), 1);
    assert_eq!(field(layer[0], "name"), Some("memory"));
    let counted = log
        .events
        .iter()
        .find(|e| e.name == "strata::layer")
        .expect("a per-layer event");
    assert_eq!(field(counted, "bytes_in"), Some("3"));
    assert_eq!(field(counted, "bytes_out"), Some("3"));
    assert_eq!(stack.snapshot().total, 1);
}

#[test]
fn an_aborted_connection_logs_why() {
    let (log, stack) = observed_run(|s| {
        let now = s.now();
        s.handle_lost(now, Close::aborted("test", AbortReason::Requested));
    });
    let last = log
        .events
        .iter()
        .rev()
        .find(|e| e.name == "strata::conn")
        .unwrap();
    assert_eq!(field(last, "message"), Some("aborted"));
    assert!(field(last, "reason").unwrap().contains("test"));
    assert_eq!(stack.snapshot().open, 0);
}

#[test]
fn a_timed_out_connection_is_logged_as_such() {
    let (log, _) = observed_run(|s| {
        let now = s.now();
        s.handle_lost(now, Close::Timeout(strata::Timeout::Stall));
    });
    let last = log
        .events
        .iter()
        .rev()
        .find(|e| e.name == "strata::conn")
        .unwrap();
    assert_eq!(field(last, "message"), Some("timed out"));
}
