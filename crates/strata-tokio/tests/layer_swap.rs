//! Run-time layer swaps at the driver's bottom slot, over a real TCP socket:
//! inserting a layer below a running protocol (STARTTLS-shaped: the bytes
//! already read and the reply written right after the request both go
//! through the new layer), and a sniffing protocol replacing itself.

mod common;

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::{factory, within};
use strata::{
    Close, Introspect, StreamLayer, StreamProtocol, StreamTransport, SwapRequest, Wake, WakeRoute,
};
use strata_tokio::{ListenConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: u8 = 0x5a;

fn xor(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ KEY).collect()
}

/// A layer that XORs every byte with [`KEY`] both ways: the smallest
/// "encryption" that makes it visible on the wire which bytes went through it.
struct XorLayer {
    inner: Box<dyn StreamProtocol>,
}

impl XorLayer {
    fn new(inner: Box<dyn StreamProtocol>) -> Self {
        XorLayer { inner }
    }
}

/// What the protocol above the XOR layer writes to.
struct XorView<'a> {
    lower: &'a mut dyn StreamTransport,
}

impl Introspect for XorView<'_> {
    fn name(&self) -> &'static str {
        "xor"
    }
    fn local_capability(&self, _: std::any::TypeId) -> Option<&dyn Any> {
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for XorView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.lower.write(&xor(data));
    }
    fn write_eof(&mut self) {
        self.lower.write_eof()
    }
    fn close(&mut self) {
        self.lower.close()
    }
    fn abort(&mut self, why: Close) {
        self.lower.abort(why)
    }
    fn pause_reading(&mut self) {
        self.lower.pause_reading()
    }
    fn resume_reading(&mut self) {
        self.lower.resume_reading()
    }
    fn buffered(&self) -> usize {
        self.lower.buffered()
    }
    fn writable(&self) -> bool {
        self.lower.writable()
    }
    fn now(&self) -> Instant {
        self.lower.now()
    }
    fn waker(&self) -> Wake {
        self.lower.waker()
    }
}

impl StreamProtocol for XorLayer {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.inner.connection_made(&mut XorView { lower: t })
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner
            .data_received(&mut XorView { lower: t }, &xor(data))
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(&mut XorView { lower: t })
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.pause_writing(&mut XorView { lower: t })
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.inner.resume_writing(&mut XorView { lower: t })
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_deadline(&mut XorView { lower: t })
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.inner.on_wake(&mut XorView { lower: t }, route)
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.inner.on_shutdown(&mut XorView { lower: t })
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

impl StreamLayer for XorLayer {
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        f(&mut XorView { lower: t })
    }
}

/// What the line protocol saw, for the test to assert on.
#[derive(Debug, Default)]
struct LineLog {
    made: usize,
    /// Each line received, with the layer chain it was received through.
    lines: Vec<(String, Vec<&'static str>)>,
    lost: Option<Close>,
}

/// A CRLF line protocol: echoes each line; on `UPGRADE` inserts the XOR
/// layer below itself, handing over the rest of its buffer, and answers
/// `UPGRADED` in the same callback (that answer must go through the layer).
struct Lines {
    buf: Vec<u8>,
    log: Arc<Mutex<LineLog>>,
}

impl StreamProtocol for Lines {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.log.lock().unwrap().made += 1;
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.buf.drain(..at + 2).take(at).collect();
            let text = String::from_utf8_lossy(&line).into_owned();
            self.log.lock().unwrap().lines.push((text, t.layer_chain()));
            if line == b"UPGRADE" {
                let leftover = std::mem::take(&mut self.buf);
                let req = SwapRequest::insert_below(|inner| Box::new(XorLayer::new(inner)));
                t.request_swap(req, leftover)
                    .expect("the bottom slot swaps");
                t.write(b"UPGRADED\r\n");
                return;
            }
            t.write(&line);
            t.write(b"\r\n");
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.lock().unwrap().lost = Some(why.clone());
    }
}

#[tokio::test]
async fn insert_below_hands_over_leftover_input_and_later_writes() {
    let log = Arc::new(Mutex::new(LineLog::default()));
    let l = log.clone();
    let f = factory(move || Lines {
        buf: Vec::new(),
        log: l.clone(),
    });
    let server = Server::new();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();

    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    let mut msg = b"hello\r\nUPGRADE\r\n".to_vec();
    msg.extend(xor(b"after\r\n"));
    c.write_all(&msg).await.unwrap();

    let mut want = b"hello\r\n".to_vec();
    want.extend(xor(b"UPGRADED\r\n"));
    want.extend(xor(b"after\r\n"));
    let mut got = vec![0; want.len()];
    within("replies", c.read_exact(&mut got)).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got[..7]),
        "hello\r\n",
        "before the swap: plaintext"
    );
    assert_eq!(
        got, want,
        "after the swap every byte goes through the layer"
    );

    // The connection still works both ways through the layer, then closes.
    c.write_all(&xor(b"more\r\n")).await.unwrap();
    let mut more = [0; 6];
    within("echo through the layer", c.read_exact(&mut more))
        .await
        .unwrap();
    assert_eq!(more.to_vec(), xor(b"more\r\n"));
    c.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within("close", c.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    within(
        "server shutdown",
        server.shutdown(std::time::Duration::from_secs(5)),
    )
    .await;

    let log = log.lock().unwrap();
    assert_eq!(
        log.made, 1,
        "an inserted layer does not restart the protocol"
    );
    let lines: Vec<_> = log
        .lines
        .iter()
        .map(|(l, c)| (l.as_str(), c.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("hello", vec!["tcp"]),
            ("UPGRADE", vec!["tcp"]),
            ("after", vec!["xor", "tcp"]),
            ("more", vec!["xor", "tcp"]),
        ]
    );
    assert!(
        log.lost.as_ref().is_some_and(Close::is_clean),
        "{:?}",
        log.lost
    );
}

/// How many of each protocol were started, and the chain the echo saw.
#[derive(Default)]
struct Counts {
    sniffers: AtomicUsize,
    echoes: AtomicUsize,
    echo_chain: Mutex<Vec<&'static str>>,
}

/// Waits for a 4-byte preface; `ECHO` replaces it by [`Echo`], handing over
/// every byte it read (the preface included). Anything else is refused.
struct Sniffer {
    buf: Vec<u8>,
    counts: Arc<Counts>,
}

impl StreamProtocol for Sniffer {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.counts.sniffers.fetch_add(1, Ordering::SeqCst);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.buf.extend_from_slice(data);
        if self.buf.len() < 4 {
            return;
        }
        if self.buf.starts_with(b"ECHO") {
            let echo = Box::new(Echo {
                counts: self.counts.clone(),
            });
            let read = std::mem::take(&mut self.buf);
            t.request_swap(SwapRequest::Replace(echo), read)
                .expect("the bottom slot swaps");
        } else {
            t.write(b"unknown preface\r\n");
            t.close();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

struct Echo {
    counts: Arc<Counts>,
}

impl StreamProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.counts.echoes.fetch_add(1, Ordering::SeqCst);
        *self.counts.echo_chain.lock().unwrap() = t.layer_chain();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        t.write(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

#[tokio::test]
async fn a_sniffer_replaces_itself_and_hands_over_what_it_read() {
    let counts = Arc::new(Counts::default());
    let c2 = counts.clone();
    let f = factory(move || Sniffer {
        buf: Vec::new(),
        counts: c2.clone(),
    });
    let server = Server::new();
    let addr = server
        .listen_tcp("127.0.0.1:0".parse().unwrap(), f, ListenConfig::default())
        .await
        .unwrap();

    let mut c = within("connect", TcpStream::connect(addr)).await.unwrap();
    // The preface arrives in two pieces: the sniffer must wait for all of it.
    c.write_all(b"EC").await.unwrap();
    c.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    c.write_all(b"HO first").await.unwrap();
    let mut got = [0; 10];
    within("echo of the preface", c.read_exact(&mut got))
        .await
        .unwrap();
    assert_eq!(
        &got, b"ECHO first",
        "the bytes the sniffer read are handed over"
    );
    let mut got = [0; 6];
    c.write_all(b" again").await.unwrap();
    within("echo after the swap", c.read_exact(&mut got))
        .await
        .unwrap();
    assert_eq!(&got, b" again");
    c.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within("close", c.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());

    // A client with another preface is refused by the sniffer itself.
    let mut other = within("connect", TcpStream::connect(addr)).await.unwrap();
    other.write_all(b"HELO").await.unwrap();
    let mut reply = Vec::new();
    within("refusal", other.read_to_end(&mut reply))
        .await
        .unwrap();
    assert_eq!(reply, b"unknown preface\r\n");
    // Our EOF ends the server's lingering close at once.
    drop(other);

    within(
        "server shutdown",
        server.shutdown(std::time::Duration::from_secs(5)),
    )
    .await;
    assert_eq!(counts.sniffers.load(Ordering::SeqCst), 2);
    assert_eq!(
        counts.echoes.load(Ordering::SeqCst),
        1,
        "the replacement gets connection_made once"
    );
    assert_eq!(*counts.echo_chain.lock().unwrap(), ["tcp"]);
}
