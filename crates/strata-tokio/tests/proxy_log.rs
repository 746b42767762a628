//! Issue 13, point 4: behind a load balancer, the driver's logs name the
//! real client. A fake balancer connects over loopback and sends a PROXY v2
//! header naming another client; a test subscriber captures what the
//! driver logs: the connection's span and its "connection closed" line
//! carry the header's source as `peer`, and the balancer as `via`.

mod common;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{eventually, within};
use strata::endpoint::Endpoint;
use strata::proxy_protocol::encode_v2;
use strata::{AbortReason, Addr, Close, StreamProtocol, StreamTransport};
use strata_tokio::{ListenConfig, Server, StreamFactory};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What was logged: spans and events, by name or message, with their
/// fields as text.
#[derive(Clone, Debug)]
struct Logged {
    span: bool,
    name: String,
    fields: Vec<(String, String)>,
}

impl Logged {
    fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct Capture {
    all: Arc<Mutex<Vec<Logged>>>,
    ids: Arc<AtomicU64>,
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.push((f.name().into(), v.into()));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn Debug) {
        self.0.push((f.name().into(), format!("{v:?}")));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        let mut f = Fields::default();
        a.record(&mut f);
        self.all.lock().unwrap().push(Logged {
            span: true,
            name: a.metadata().name().into(),
            fields: f.0,
        });
        Id::from_u64(self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut f = Fields::default();
        e.record(&mut f);
        let name =
            f.0.iter()
                .find(|(k, _)| k == "message")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
        self.all.lock().unwrap().push(Logged {
            span: false,
            name,
            fields: f.0,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Aborts the connection on any input: an unclean close, which the driver
/// logs with the peer.
struct Boom;

impl StreamProtocol for Boom {
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.abort(Close::aborted("app", AbortReason::Requested));
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_logs_name_the_client_of_the_proxy_header_not_the_balancer() {
    let capture = Capture::default();
    // This thread's subscriber: the runtime is this thread.
    let _g = tracing::subscriber::set_default(capture.clone());
    let server = Server::new();
    let f: StreamFactory = Arc::new(|| Box::new(Boom));
    let ep = Endpoint::parse_with("proxy+tcp://127.0.0.1:0", &strata_tokio::registry()).unwrap();
    let l = server
        .listen(&ep, f, ListenConfig::default())
        .await
        .unwrap();
    let Addr::Inet(addr) = l.local else {
        panic!("{:?}", l.local)
    };
    let client: std::net::SocketAddr = "203.0.113.9:41000".parse().unwrap();
    let mut lb = within("connect", TcpStream::connect(addr)).await.unwrap();
    let balancer = lb.local_addr().unwrap().to_string();
    let mut hello = encode_v2(Some((client, addr)), &[]);
    hello.extend_from_slice(b"boom");
    lb.write_all(&hello).await.unwrap();
    let mut rest = Vec::new();
    // Reset or EOF: either way the server ended the connection.
    let _ = within("the server ends it", lb.read_to_end(&mut rest)).await;
    let closed = |all: &[Logged]| {
        all.iter()
            .find(|l| !l.span && l.name.starts_with("connection closed"))
            .cloned()
    };
    eventually("the close is logged", || {
        closed(&capture.all.lock().unwrap()).is_some()
    })
    .await;
    let all = capture.all.lock().unwrap().clone();
    let line = closed(&all).unwrap();
    assert_eq!(
        line.field("peer"),
        Some(client.to_string().as_str()),
        "{line:?}"
    );
    assert_eq!(line.field("via"), Some(balancer.as_str()), "{line:?}");
    let span = all
        .iter()
        .find(|l| l.span && l.name == "conn")
        .unwrap_or_else(|| panic!("no connection span in {all:?}"));
    assert_eq!(
        span.field("peer"),
        Some(client.to_string().as_str()),
        "{span:?}"
    );
}
