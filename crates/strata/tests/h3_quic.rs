//! HTTP/3 end to end over the real QUIC layer: `H3Client` in a
//! `QuicClient`, `H3Server` in a `QuicServer` (ALPN `h3`), joined by the
//! simulated network: requests with bodies checked byte for byte, a tunnel
//! (extended CONNECT), and a lossy link.

mod quic_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use quic_support::{addr, client_tls, config, server_tls, CLIENT, SERVER};
use strata::http::h3::{H3Client, H3Config, H3Server};
use strata::http::{HttpExchange, Protocol, SharedService};
use strata::quic::{AppFactory, QuicApp, QuicClient, QuicConfig, QuicServer};
use strata::testing::{LinkConfig, Loss, SimNet};
use strata::{Close, StreamProtocol, StreamTransport};

/// The byte at offset `i` of a test body.
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8)) as u8
}

/// The server side: echoes a request body back after a `200` head (so both
/// directions carry it, pausing its reading while its stream is not
/// writable), with the byte count in a trailer. A CONNECT with a
/// `:protocol` becomes an upper-casing tunnel.
struct Handler {
    n: usize,
    tunnel: bool,
}

impl StreamProtocol for Handler {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.tunnel = t
            .request_head()
            .is_some_and(|r| r.extensions.get::<Protocol>().is_some());
        t.send_response(http::Response::builder().status(200).body(()).unwrap())
            .unwrap();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.n += data.len();
        if self.tunnel {
            t.write(&data.to_ascii_uppercase());
        } else {
            t.write(data);
        }
        if !t.writable() {
            t.pause_reading();
        }
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        t.resume_reading();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if !self.tunnel {
            let mut tr = http::HeaderMap::new();
            tr.insert("x-count", self.n.to_string().parse().unwrap());
            t.send_trailers(tr).unwrap();
        }
        t.close();
    }
}

fn service() -> SharedService {
    Arc::new(|_: &http::request::Parts| {
        Box::new(Handler {
            n: 0,
            tunnel: false,
        }) as Box<dyn StreamProtocol>
    })
}

#[derive(Default, Debug)]
struct Got {
    status: Option<u16>,
    body: Vec<u8>,
    trailers: Option<http::HeaderMap>,
    eof: bool,
    lost: Option<Close>,
}

/// Sends `len` pattern bytes (writing while `writable()`), records the answer.
struct Upload {
    len: usize,
    sent: usize,
    got: Arc<Mutex<Got>>,
}

impl Upload {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.sent < self.len && t.writable() {
            let n = (self.len - self.sent).min(8192);
            let chunk: Vec<u8> = (self.sent..self.sent + n).map(pattern).collect();
            t.write(&chunk);
            self.sent += n;
        }
        if self.sent == self.len {
            self.sent += 1;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Upload {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut g = self.got.lock().unwrap();
        g.status = t.response_head().map(|r| r.status.as_u16());
        g.body.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut g = self.got.lock().unwrap();
        g.status = t.response_head().map(|r| r.status.as_u16());
        g.trailers = t.get::<strata::http::Trailers>().map(|x| x.0.clone());
        g.eof = true;
    }
    fn connection_lost(&mut self, why: &Close) {
        self.got.lock().unwrap().lost = Some(why.clone());
    }
}

fn h3_pair(seed: u64, link: LinkConfig, client: H3Client) -> SimNet {
    h3_pair_with(seed, link, client, config(seed))
}

fn h3_pair_with(seed: u64, link: LinkConfig, client: H3Client, server_cfg: QuicConfig) -> SimNet {
    let svc = service();
    let apps: AppFactory = Arc::new(move |alpn| match alpn {
        Some(b"h3") => {
            Some(Box::new(H3Server::new(svc.clone(), H3Config::default())) as Box<dyn QuicApp>)
        }
        _ => None,
    });
    let server = QuicServer::new(server_cfg, server_tls(&[b"h3"]), apps).unwrap();
    let client = QuicClient::new(
        config(seed ^ 0x5eed),
        client_tls(&[b"h3"]),
        "localhost",
        addr(SERVER),
        Box::new(client),
    )
    .unwrap();
    let mut net = SimNet::new(seed);
    net.set_tracing(false);
    let s = net.add_node(addr(SERVER), Box::new(server));
    let c = net.add_node(addr(CLIENT), Box::new(client));
    net.link_both(c, s, link);
    net
}

/// Runs uploads of `sizes` on one connection; returns what each got.
fn uploads(seed: u64, link: LinkConfig, sizes: &[usize]) -> Vec<Got> {
    let client = H3Client::new(H3Config::default());
    let requests = client.requests();
    let gots: Vec<Arc<Mutex<Got>>> = sizes.iter().map(|_| Arc::default()).collect();
    for (len, got) in sizes.iter().zip(&gots) {
        let req = http::Request::post("https://localhost/echo")
            .body(())
            .unwrap();
        requests.send(
            req,
            Box::new(Upload {
                len: *len,
                sent: 0,
                got: got.clone(),
            }),
        );
    }
    drop(requests);
    let mut net = h3_pair(seed, link, client);
    let g2 = gots.clone();
    net.run_until(Duration::from_secs(120), move |_| {
        g2.iter().all(|g| g.lock().unwrap().lost.is_some())
    });
    gots.iter()
        .map(|g| std::mem::take(&mut *g.lock().unwrap()))
        .collect()
}

fn check(got: &Got, len: usize) {
    assert_eq!(got.status, Some(200), "{got:?}");
    assert!(got.eof, "no end: {:?}", got.lost);
    assert!(
        got.lost.as_ref().is_some_and(Close::is_clean),
        "{:?}",
        got.lost
    );
    assert_eq!(got.body.len(), len);
    assert!(
        got.body.iter().enumerate().all(|(i, &b)| b == pattern(i)),
        "bytes differ"
    );
    let n = got
        .trailers
        .as_ref()
        .and_then(|t| t.get("x-count"))
        .cloned();
    assert_eq!(n.unwrap().to_str().unwrap(), len.to_string());
}

#[test]
fn requests_over_quic_are_byte_exact() {
    let sizes = [0, 1, 5000, 1 << 20, 300_000];
    let gots = uploads(
        1,
        LinkConfig::default().delay(Duration::from_millis(5)),
        &sizes,
    );
    for (g, len) in gots.iter().zip(sizes) {
        check(g, len);
    }
}

#[test]
fn requests_survive_a_lossy_reordering_link() {
    for seed in 0..16 {
        let loss = if seed % 2 == 0 {
            Loss::Random(0.02 + 0.01 * (seed % 5) as f64)
        } else {
            Loss::GilbertElliott {
                p_good_to_bad: 0.02,
                p_bad_to_good: 0.4,
                loss_good: 0.0,
                loss_bad: 0.8,
            }
        };
        let link = LinkConfig::default()
            .delay(Duration::from_millis(2 + seed % 10))
            .loss(loss)
            .duplicate(0.02)
            .reorder(0.05, Duration::from_millis(3));
        let sizes = [200_000, 7, 50_000];
        let gots = uploads(100 + seed, link, &sizes);
        for (g, len) in gots.iter().zip(sizes) {
            check(g, len);
        }
    }
}

#[test]
fn an_extended_connect_tunnel_over_quic() {
    let got: Arc<Mutex<Got>> = Arc::default();
    let mut req = http::Request::connect("https://localhost/chat")
        .body(())
        .unwrap();
    req.extensions_mut().insert(Protocol("echo".into()));
    struct Chat(Arc<Mutex<Got>>);
    impl StreamProtocol for Chat {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(b"hello tunnel");
            t.write_eof();
        }
        fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
            let mut g = self.0.lock().unwrap();
            g.status = t.response_head().map(|r| r.status.as_u16());
            g.body.extend_from_slice(data);
        }
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {
            self.0.lock().unwrap().eof = true;
        }
        fn connection_lost(&mut self, why: &Close) {
            self.0.lock().unwrap().lost = Some(why.clone());
        }
    }
    let client = H3Client::request(req, Box::new(Chat(got.clone())), H3Config::default());
    let mut net = h3_pair(7, LinkConfig::default(), client);
    let g2 = got.clone();
    net.run_until(Duration::from_secs(30), move |_| {
        g2.lock().unwrap().lost.is_some()
    });
    let g = got.lock().unwrap();
    assert_eq!(g.status, Some(200));
    assert_eq!(g.body, b"HELLO TUNNEL");
    assert!(
        g.eof && g.lost.as_ref().is_some_and(Close::is_clean),
        "{g:?}"
    );
}

#[test]
fn more_requests_than_the_stream_limit_wait_for_credit() {
    let client = H3Client::new(H3Config::default());
    let requests = client.requests();
    let gots: Vec<Arc<Mutex<Got>>> = (0..40).map(|_| Arc::default()).collect();
    for (i, got) in gots.iter().enumerate() {
        let req = http::Request::post("https://localhost/echo")
            .body(())
            .unwrap();
        requests.send(
            req,
            Box::new(Upload {
                len: 1000 * i,
                sent: 0,
                got: got.clone(),
            }),
        );
    }
    drop(requests);
    let server_cfg = QuicConfig {
        max_bidi_streams: 3,
        ..config(9)
    };
    let mut net = h3_pair_with(9, LinkConfig::default(), client, server_cfg);
    let g2 = gots.clone();
    net.run_until(Duration::from_secs(60), move |_| {
        g2.iter().all(|g| g.lock().unwrap().lost.is_some())
    });
    for (i, g) in gots.iter().enumerate() {
        check(&g.lock().unwrap(), 1000 * i);
    }
}

/// A server shutdown through the QUIC layer is HTTP/3's graceful one
/// (`QuicApp::on_shutdown`): GOAWAY, the request in flight runs to its
/// end, then the connection closes cleanly and the socket with it.
#[test]
fn a_server_shutdown_lets_the_request_in_flight_finish() {
    let len = 1 << 20;
    let client = H3Client::new(H3Config::default());
    let got: Arc<Mutex<Got>> = Arc::default();
    let req = http::Request::post("https://localhost/echo")
        .body(())
        .unwrap();
    client.requests().send(
        req,
        Box::new(Upload {
            len,
            sent: 0,
            got: got.clone(),
        }),
    );
    let mut net = h3_pair(
        7,
        LinkConfig::default().delay(Duration::from_millis(5)),
        client,
    );
    let g = got.clone();
    net.run_until(Duration::from_secs(30), move |_| {
        !g.lock().unwrap().body.is_empty()
    });
    assert!(got.lock().unwrap().body.len() < len, "still in flight");
    // h3_pair adds the server first.
    let server = strata::testing::NodeId(0);
    let now = net.now();
    net.stack_mut(server).unwrap().handle_shutdown(now);
    let g = got.clone();
    net.run_until(Duration::from_secs(30), move |n| {
        g.lock().unwrap().lost.is_some() && n.stack(server).is_some_and(|s| s.finished().is_some())
    });
    check(&got.lock().unwrap(), len);
}
