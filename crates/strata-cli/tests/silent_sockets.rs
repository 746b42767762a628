//! Silent sockets cannot lock a server out (issue 9, item 1): the HTTP demo
//! on a real 127.0.0.1 listener with a small connection cap, filled with
//! sockets that never write or send only part of the HTTP/2 preface. The
//! server sheds them at its detect deadline and a new client, queued in the
//! backlog meanwhile, gets `/hello`.
//!
//! Also over loopback: an upload that trickles below the minimum body rate
//! is cut.
//!
//! The bounds below are generous limits on waiting (a failure shows as a
//! timed-out read), not measurements: the detect timeout is 1 s and each
//! wait allows several times that.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::http::h1::H1Config;
use strata::http::{HttpConfig, HttpServer};
use strata_tokio::{ListenConfig, Server, StreamFactory};

const CAP: usize = 64;
const DETECT: Duration = Duration::from_secs(1);
/// How long any one wait may take before the test fails.
const BOUND: Duration = Duration::from_secs(8);

fn factory(detect: Duration) -> StreamFactory {
    factory_with(HttpConfig {
        detect_timeout: detect,
        ..HttpConfig::default()
    })
}

fn factory_with(cfg: HttpConfig) -> StreamFactory {
    let service = strata_cli::apps::http::service(None);
    Arc::new(move || {
        Box::new(HttpServer::new(service.clone(), cfg.clone())) as Box<dyn strata::StreamProtocol>
    })
}

/// Reads until EOF or an error, within `BOUND`: what the server did to a
/// socket it closed.
fn read_to_end_or_reset(mut s: TcpStream) -> Result<Vec<u8>, String> {
    s.set_read_timeout(Some(BOUND)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(got),
            Err(e) => return Err(format!("{e} after {} bytes", got.len())),
        }
    }
}

#[test]
fn a_cap_full_of_silent_sockets_is_shed_and_a_new_client_is_served() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = Server::new();
    let cfg = ListenConfig {
        max_connections: CAP,
        ..ListenConfig::default()
    };
    let addr: SocketAddr = rt
        .block_on(server.listen_tcp("127.0.0.1:0".parse().unwrap(), factory(DETECT), cfg))
        .unwrap();

    // Fill the cap: three quarters say nothing, a quarter send part of the
    // HTTP/2 preface.
    let mut silent = Vec::new();
    for i in 0..CAP {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 4 == 0 {
            s.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
        }
        silent.push(s);
    }
    let start = Instant::now();
    while server.connections() < CAP {
        assert!(start.elapsed() < BOUND, "the listener never filled its cap");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.connections(), CAP, "the cap holds");

    // A new client: it waits in the backlog until silent ones are shed.
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let answer = read_to_end_or_reset(client).expect("the new client is served");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello, world\n"), "{text}");

    // Every silent socket was closed by the server, none answered.
    for (i, s) in silent.into_iter().enumerate() {
        let got = read_to_end_or_reset(s).unwrap_or_else(|e| panic!("socket {i}: {e}"));
        assert!(got.is_empty(), "socket {i} got {got:?}");
    }
    rt.block_on(server.shutdown(Duration::from_secs(1)));
}

#[test]
fn an_upload_below_the_minimum_rate_is_cut_over_loopback() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = Server::new();
    let h1 = H1Config {
        body_timeout: Duration::from_secs(1),
        min_body_rate: 1000,
        ..H1Config::default()
    };
    let cfg = HttpConfig {
        h1: Arc::new(h1),
        ..HttpConfig::default()
    };
    let addr: SocketAddr = rt
        .block_on(server.listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_with(cfg),
            ListenConfig::default(),
        ))
        .unwrap();

    // The head, then nothing: 408 before any response.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    let got = read_to_end_or_reset(s).expect("cut within the bound");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );

    // Ten bytes every 100 ms (100 B/s, a tenth of the minimum): the echo
    // has started its answer, so the connection is cut short of it.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    let mut w = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < BOUND {
            if w.write_all(&[b'x'; 10]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let got = read_to_end_or_reset(s).expect("cut within the bound");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    assert!(body < 100_000, "the upload was cut: {body} bytes echoed");
    trickle.join().unwrap();
    rt.block_on(server.shutdown(Duration::from_secs(1)));
}
