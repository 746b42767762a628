//! Issue 10, point 11: `reliable+tcp://`, `reliable+unix://` and
//! `reliable+udp://` are one layer chosen by the endpoint, on both sides.
//! Over a stream the layer is a pass-through; over UDP it is the mapping.
//! One protocol value serves all three, and one client protocol talks to
//! each: the bytes come back, the half-close is clean, and the protocols
//! see the same capabilities (`ReliableDelivery(true)`, `HalfClose(true)`, a peer).
//!
//! Point 12: [`Listening::endpoint`] is an endpoint string for every bind
//! kind, which parses back to what was bound and connects.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{sock_path, within};
use strata::endpoint::Endpoint;
use strata::{
    Close, HalfClose, PeerAddr, ReliableDelivery, StackConfig, StreamProtocol, StreamTransport,
};
use strata_tokio::{ListenConfig, Server, StreamFactory};

/// What one side saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    reliable: Option<ReliableDelivery>,
    half_close: Option<HalfClose>,
    peer: bool,
    data: Vec<u8>,
    eof: bool,
    lost: Option<Close>,
}

fn record_caps(seen: &Mutex<Seen>, t: &dyn StreamTransport) {
    let mut s = seen.lock().unwrap();
    s.reliable = t.get::<ReliableDelivery>().copied();
    s.half_close = t.get::<HalfClose>().copied();
    s.peer = t.get::<PeerAddr>().is_some();
}

/// The server: echoes, and half-closes once the client has.
struct Echo(Arc<Mutex<Seen>>);
impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        record_caps(&self.0, t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.0.lock().unwrap().data.extend_from_slice(d);
        t.write(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

/// The client: sends `msg`, half-closes, reads the echo to its end.
struct Client(Arc<Mutex<Seen>>, Vec<u8>);
impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        record_caps(&self.0, t);
        t.write(&self.1);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.0.lock().unwrap().data.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.0.lock().unwrap().eof = true;
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

fn message(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// What every connection served saw, in order.
type Served = Arc<Mutex<Vec<Arc<Mutex<Seen>>>>>;

/// One protocol value: every connection's `Seen` is collected.
fn one_protocol() -> (StreamFactory, Served) {
    let all: Served = Arc::default();
    let a = all.clone();
    let f: StreamFactory = Arc::new(move || {
        let seen = Arc::new(Mutex::new(Seen::default()));
        a.lock().unwrap().push(seen.clone());
        Box::new(Echo(seen)) as Box<dyn StreamProtocol>
    });
    (f, all)
}

async fn echo_once(ep: &Endpoint, msg: &[u8]) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let client = Client(seen.clone(), msg.to_vec());
    let conn = strata_tokio::connect(ep, Box::new(client), Arc::new(StackConfig::default()))
        .await
        .unwrap_or_else(|e| panic!("connect {ep}: {e}"));
    let why = within("the echo", conn.closed()).await;
    assert!(why.is_clean(), "{ep}: {why}");

    seen.lock().unwrap().clone()
}

fn assert_sees_a_reliable_stream(side: &str, ep: &str, s: &Seen) {
    assert_eq!(s.reliable, Some(ReliableDelivery(true)), "{side} over {ep}");
    assert_eq!(s.half_close, Some(HalfClose(true)), "{side} over {ep}");
    assert!(s.peer, "{side} over {ep}: no peer address");
    assert!(s.eof, "{side} over {ep}: no clean half-close");
}

#[tokio::test]
async fn one_protocol_served_over_reliable_tcp_unix_and_udp() {
    let path = sock_path("reliable-unix");
    let server = Server::new();
    let (factory, served) = one_protocol();
    let msg = message(300_000);
    let listens = [
        "reliable+tcp://127.0.0.1:0".to_owned(),
        format!("reliable+unix://{}", path.display()),
        "reliable+udp://127.0.0.1:0".to_owned(),
    ];
    for (i, listen) in listens.iter().enumerate() {
        // The default parse knows `reliable` (point 12).
        let ep = Endpoint::parse(listen).unwrap();
        let bound = server
            .listen(&ep, factory.clone(), ListenConfig::default())
            .await
            .unwrap_or_else(|e| panic!("listen {listen}: {e}"));
        let name = bound.endpoint();
        assert!(
            name.starts_with(&listen[..listen.find(':').unwrap()]),
            "{name}"
        );
        let cep = Endpoint::parse(&name).unwrap();
        let got = echo_once(&cep, &msg).await;
        assert!(got.data == msg, "{listen}: the echo differs");
        assert_sees_a_reliable_stream("the client", listen, &got);
        within("the server side", async {
            loop {
                let done = served.lock().unwrap().get(i).is_some_and(|s| {
                    let s = s.lock().unwrap();
                    s.lost.is_some()
                });
                if done {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let s = served.lock().unwrap()[i].lock().unwrap().clone();
        assert!(s.data == msg, "{listen}: the server got other bytes");
        assert_sees_a_reliable_stream("the server", listen, &s);
        assert!(s.lost.as_ref().is_some_and(Close::is_clean), "{s:?}");
    }
    server.shutdown(Duration::from_secs(1)).await;
}

/// `Listening::endpoint()` parses back to the kind bound, on the bound
/// address, and connects; for every bind kind.
#[tokio::test]
async fn listening_endpoint_round_trips_and_connects() {
    let path = sock_path("listening-endpoint");
    let server = Server::new();
    let (factory, _) = one_protocol();
    let msg = message(10_000);
    let cases = [
        ("tcp://127.0.0.1:0".to_owned(), ""),
        (format!("unix://{}", path.display()), ""),
        ("tls+tcp://127.0.0.1:0".to_owned(), "?tls.insecure=true"),
        ("reliable+udp://127.0.0.1:0".to_owned(), ""),
    ];
    for (listen, client_opts) in cases {
        let ep = Endpoint::parse(&listen).unwrap();
        let bound = server
            .listen(&ep, factory.clone(), ListenConfig::default())
            .await
            .unwrap_or_else(|e| panic!("listen {listen}: {e}"));
        let name = bound.endpoint();
        let back = Endpoint::parse(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back.to_string(), name, "canonical");
        assert_eq!(back.layers, ep.layers, "{name}");
        assert_ne!(back.target.to_string().rsplit(':').next(), Some("0"));
        let sep = if name.contains('?') { '&' } else { '?' };
        let cname = match client_opts {
            "" => name.clone(),
            o => format!("{name}{sep}{}", &o[1..]),
        };
        let got = echo_once(&Endpoint::parse(&cname).unwrap(), &msg).await;
        assert!(got.data == msg, "{name}");
    }
    // The options that choose the wire stay in the name (KCP has no
    // half-close, so this echo client, which half-closes, is not run).
    let ep =
        Endpoint::parse("reliable+udp://127.0.0.1:0?reliable.mode=kcp&reliable.kcp=fast").unwrap();
    let bound = server
        .listen(&ep, factory.clone(), ListenConfig::default())
        .await
        .unwrap();
    let back = Endpoint::parse(&bound.endpoint()).unwrap();
    assert_eq!(back.option("reliable", "mode"), Some("kcp"));
    assert_eq!(back.option("reliable", "kcp"), Some("fast"));
    assert_eq!(back.target.to_string(), bound.local.to_string());
    // A UDP socket bound on its own has a name too.
    struct Quiet;
    impl strata::DatagramProtocol for Quiet {
        fn datagrams_received(
            &mut self,
            _: &mut dyn strata::DatagramTransport,
            _: &[strata::Datagram<'_>],
        ) {
        }
    }
    let bound = server
        .bind_udp(
            "127.0.0.1:0".parse().unwrap(),
            None,
            Box::new(Quiet),
            Arc::new(StackConfig::default()),
        )
        .await
        .unwrap();
    let back = Endpoint::parse(&bound.endpoint()).unwrap();
    assert_eq!(back.layers, ["udp"]);
    assert_eq!(back.target.to_string(), bound.local.to_string());
    server.shutdown(Duration::from_secs(1)).await;
}
