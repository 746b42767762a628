//! The core examples (echo, chat, file transfer, HTTP app, relay), each run
//! with assertions over loopback.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use strata::http::{StatusCode, Version, VersionChoice};
use strata_examples::{chat, echo, endpoint, file_transfer, http_app, reach, relay};
use strata_tokio::Server;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(20), f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

// ---- echo ----

#[tokio::test]
async fn echo_over_tcp() {
    let back = within("echo", echo::demo("tcp://127.0.0.1:0", b"hello, echo"))
        .await
        .unwrap();
    assert_eq!(back, b"hello, echo");
}

#[tokio::test]
async fn echo_over_tls_reliable_udp() {
    let msg = vec![7u8; 100_000];
    let back = within("echo", echo::demo("tls+reliable+udp://127.0.0.1:0", &msg))
        .await
        .unwrap();
    assert_eq!(back, msg);
}

// ---- chat ----

struct Client {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    /// Connects, reads the welcome, says `name`, reads the greeting.
    async fn join(addr: std::net::SocketAddr, name: &str) -> Client {
        let (r, write) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut c = Client {
            lines: BufReader::new(r).lines(),
            write,
        };
        assert_eq!(c.next().await, "* welcome! your name?");
        c.say(name).await;
        assert_eq!(c.next().await, format!("* hello {name}"));
        c
    }
    async fn say(&mut self, line: &str) {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    async fn next(&mut self) -> String {
        self.lines.next_line().await.unwrap().expect("a line")
    }
}

#[tokio::test]
async fn chat_broadcasts_to_the_others() {
    within("chat", async {
        let server = Server::new();
        let room = chat::Room::new();
        let ep = endpoint("tcp://127.0.0.1:0").unwrap();
        let l = chat::serve(&server, &ep, room.clone()).await.unwrap();
        let addr = l.socket_addr().unwrap();

        // Each joins once the one before has been greeted: all are in the
        // room before anyone speaks.
        let mut alice = Client::join(addr, "alice").await;
        let mut bob = Client::join(addr, "bob").await;
        assert_eq!(alice.next().await, "* bob joined");
        let mut carol = Client::join(addr, "carol").await;
        assert_eq!(alice.next().await, "* carol joined");
        assert_eq!(bob.next().await, "* carol joined");
        assert_eq!(room.names(), ["alice", "bob", "carol"]);

        alice.say("hi all").await;
        assert_eq!(bob.next().await, "alice: hi all");
        assert_eq!(carol.next().await, "alice: hi all");
        carol.say("hey alice").await;
        assert_eq!(bob.next().await, "carol: hey alice");
        // Alice's next line is Carol's: her own message did not come back.
        assert_eq!(alice.next().await, "carol: hey alice");

        drop(bob);
        assert_eq!(alice.next().await, "* bob left");
        assert_eq!(carol.next().await, "* bob left");
        assert_eq!(room.names(), ["alice", "carol"]);
        server.shutdown(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn chat_drops_a_member_whose_line_is_too_long() {
    within("chat", async {
        let server = Server::new();
        let ep = endpoint("tcp://127.0.0.1:0").unwrap();
        let l = chat::serve(&server, &ep, chat::Room::new()).await.unwrap();
        let mut eve = Client::join(l.socket_addr().unwrap(), "eve").await;
        let long = "x".repeat(chat::MAX_LINE + 1);
        let _ = eve.write.write_all(long.as_bytes()).await;
        // The server ends the connection (a reset or an EOF, no more lines).
        assert!(!matches!(eve.lines.next_line().await, Ok(Some(_))));
        server.shutdown(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn chat_drops_a_member_who_stops_reading() {
    within("chat", async {
        let server = Server::new();
        let room = chat::Room::new();
        let ep = endpoint("tcp://127.0.0.1:0").unwrap();
        let l = chat::serve(&server, &ep, room.clone()).await.unwrap();
        let addr = l.socket_addr().unwrap();

        // Small kernel buffers on the slow side, so its backlog fills soon.
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        let (r, write) = sock.connect(addr).await.unwrap().into_split();
        let mut slow = Client {
            lines: BufReader::new(r).lines(),
            write,
        };
        assert_eq!(slow.next().await, "* welcome! your name?");
        slow.say("slow").await;
        assert_eq!(slow.next().await, "* hello slow");
        // From here on, `slow` reads nothing.

        let mut watcher = Client::join(addr, "watcher").await;
        let mut talker = Client::join(addr, "talker").await;
        assert_eq!(watcher.next().await, "* talker joined");
        let line = "x".repeat(chat::MAX_LINE - 10);
        let talking = tokio::spawn(async move {
            for _ in 0..100_000 {
                talker.say(&line).await;
            }
        });
        let mut heard = 0;
        loop {
            let l = watcher.next().await;
            if l == "* slow left" {
                break;
            }
            assert!(l.starts_with("talker: xxx"), "{l}");
            heard += 1;
        }
        talking.abort();
        // The slow member was dropped after its backlog filled, not before.
        assert!(heard > chat::MAX_BACKLOG, "{heard}");
        assert_eq!(room.names(), ["talker", "watcher"]);
        server.shutdown(Duration::from_secs(1)).await;
    })
    .await;
}

// ---- file transfer ----

/// 1 MiB of bytes that differ by position, so a reordering shows.
fn one_mib() -> Bytes {
    (0..1usize << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect::<Vec<u8>>()
        .into()
}

async fn transfer_over(listen: &str, chain: &[&str]) {
    let data = one_mib();
    let got = within(
        listen,
        file_transfer::demo(listen, "one-mib.bin", data.clone()),
    )
    .await
    .unwrap();
    assert_eq!(got.name, "one-mib.bin");
    assert_eq!(got.data.len(), data.len());
    assert!(got.data == data, "{listen}: the bytes differ");
    assert_eq!(got.chain, chain, "{listen}");
}

#[tokio::test]
async fn file_transfer_over_tcp() {
    transfer_over("tcp://127.0.0.1:0", &["tcp"]).await;
}

#[tokio::test]
async fn file_transfer_over_tls_tcp() {
    transfer_over("tls+tcp://127.0.0.1:0", &["tls", "tcp"]).await;
}

#[tokio::test]
async fn file_transfer_over_reliable_udp() {
    transfer_over("reliable+udp://127.0.0.1:0", &["reliable", "udp"]).await;
}

#[tokio::test]
async fn file_transfer_over_tls_reliable_udp() {
    transfer_over(
        "tls+reliable+udp://127.0.0.1:0",
        &["tls", "reliable", "udp"],
    )
    .await;
}

#[tokio::test]
async fn file_transfer_over_a_quic_stream() {
    transfer_over("quic+udp://127.0.0.1:0", &["quic-stream", "quic", "udp"]).await;
}

#[tokio::test]
async fn file_transfer_refuses_a_file_over_the_limit() {
    within("limit", async {
        let server = Server::new();
        let (inbox, mut files) = tokio::sync::mpsc::unbounded_channel();
        let cfg = file_transfer::ReceiverConfig { max_size: 1000 };
        let ep = endpoint("tcp://127.0.0.1:0").unwrap();
        let l = file_transfer::serve(&server, &ep, cfg, inbox)
            .await
            .unwrap();
        let to = reach::dial(&l).unwrap();
        let sent = file_transfer::send(&to, "big", Bytes::from(vec![0u8; 1001])).await;
        assert!(sent.is_err(), "{sent:?}");
        server.shutdown(Duration::from_secs(1)).await;
        assert!(files.recv().await.is_none(), "nothing was received");
    })
    .await;
}

// ---- HTTP app ----

async fn routes_over(listen: &str, versions: &[(VersionChoice, &str, Version)]) {
    let server = Server::new();
    let app = http_app::App::new();
    let l = http_app::serve(&server, &endpoint(listen).unwrap(), app.clone())
        .await
        .unwrap();
    let base = reach::dial(&l).unwrap().to_string();
    for (choice, opts, version) in versions {
        let sep = if base.contains('?') { '&' } else { '?' };
        let to = if opts.is_empty() {
            endpoint(&base).unwrap()
        } else {
            endpoint(&format!("{base}{sep}{opts}")).unwrap()
        };
        let fetch = |m, p, b| http_app::fetch(&to, m, p, b, *choice);
        let what = format!("{listen} {version:?}");

        let hello = within(&what, fetch("GET", "/hello", b"")).await.unwrap();
        assert_eq!(hello.status, StatusCode::OK, "{what}");
        assert_eq!(hello.version, *version, "{what}");
        assert_eq!(hello.body, format!("hello from strata over {version:?}\n"));

        let body = "x".repeat(100_000);
        let echoed = within(&what, fetch("POST", "/echo", body.as_bytes()))
            .await
            .unwrap();
        assert_eq!(echoed.status, StatusCode::OK, "{what}");
        assert!(echoed.body == body, "{what}: the echo differs");

        let before = app.requests();
        let status = within(&what, fetch("GET", "/status", b"")).await.unwrap();
        assert_eq!(
            status.body,
            format!(
                "{{\"requests\": {}, \"version\": \"{version:?}\"}}\n",
                before + 1
            )
        );

        let missing = within(&what, fetch("GET", "/nope", b"")).await.unwrap();
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{what}");
        let wrong = within(&what, fetch("POST", "/hello", b"")).await.unwrap();
        assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
    }
    assert_eq!(app.requests(), 5 * versions.len() as u64);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn http_app_over_cleartext_http1_and_h2c() {
    routes_over(
        "tcp://127.0.0.1:0",
        &[
            (VersionChoice::Http1, "", Version::HTTP_11),
            (VersionChoice::Http2, "", Version::HTTP_2),
        ],
    )
    .await;
}

#[tokio::test]
async fn http_app_over_tls_with_alpn() {
    routes_over(
        "tls+tcp://127.0.0.1:0?tls.alpn=h2,http/1.1",
        &[
            (VersionChoice::Auto, "tls.alpn=http/1.1", Version::HTTP_11),
            (VersionChoice::Auto, "tls.alpn=h2", Version::HTTP_2),
        ],
    )
    .await;
}

// ---- relay ----

#[tokio::test]
async fn relay_cleartext_tcp_to_a_tls_echo() {
    let msg: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let back = within("relay", relay::demo(&msg)).await.unwrap();
    assert!(
        back == msg,
        "the relayed echo differs ({} bytes)",
        back.len()
    );
}

// ---- file transfer, in memory (the test kit: no sockets, virtual time) ----

mod in_memory {
    use bytes::Bytes;
    use strata::testing::Pump;
    use strata::{Close, Stack};
    use strata_examples::file_transfer::{
        Checksum, Receiver, ReceiverConfig, Sender, TransferError, MAX_HEADER,
    };
    use tokio::sync::mpsc;

    /// The layer error a stack ended with.
    fn error_of(why: Option<&Close>) -> TransferError {
        let why = why.expect("the stack ended");
        match why {
            Close::Aborted { reason, .. } => reason
                .error::<TransferError>()
                .cloned()
                .unwrap_or_else(|| panic!("not a transfer error: {why}")),
            other => panic!("not an abort: {other}"),
        }
    }

    fn receiver(
        max_size: u64,
    ) -> (
        Stack,
        mpsc::UnboundedReceiver<strata_examples::file_transfer::Received>,
    ) {
        let (inbox, files) = mpsc::unbounded_channel();
        let r = Receiver::new(ReceiverConfig { max_size }, inbox);
        (Stack::memory(Box::new(r)), files)
    }

    #[test]
    fn sender_and_receiver_over_the_pump() {
        let data: Bytes = (0..300_000u32)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>()
            .into();
        let (sender, mut acked) = Sender::new("a.bin", data.clone());
        let (inbox, mut files) = mpsc::unbounded_channel();
        let receiver = Receiver::new(ReceiverConfig::default(), inbox);
        let mut pump = Pump::new(Box::new(sender), Box::new(receiver));
        pump.run(std::time::Duration::from_secs(5));
        let file = files.try_recv().expect("a file");
        assert_eq!(file.name, "a.bin");
        assert!(file.data == data);
        let ack = acked.try_recv().expect("an answer").expect("acknowledged");
        assert_eq!(ack, Checksum::of(&data));
        assert!(pump.a().finished().is_some_and(Close::is_clean));
        assert!(pump.b().finished().is_some_and(Close::is_clean));
    }

    #[test]
    fn a_header_over_the_limit_is_refused_before_it_arrives() {
        let (mut s, _files) = receiver(1000);
        let now = s.now();
        s.handle_input(now, &(MAX_HEADER as u32 + 1).to_be_bytes());
        assert_eq!(
            error_of(s.finished()),
            TransferError::HeaderTooLarge(MAX_HEADER + 1)
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused_at_its_header() {
        let (mut s, mut files) = receiver(1000);
        let now = s.now();
        let mut wire = 10u32.to_be_bytes().to_vec();
        wire.extend_from_slice(&0u16.to_be_bytes());
        wire.extend_from_slice(&1001u64.to_be_bytes());
        s.handle_input(now, &wire);
        assert_eq!(
            error_of(s.finished()),
            TransferError::TooLarge {
                size: 1001,
                limit: 1000
            }
        );
        assert!(files.try_recv().is_err());
    }

    #[test]
    fn a_malformed_header_is_refused() {
        let (mut s, _files) = receiver(1000);
        let now = s.now();
        // The name's length says 5, the header holds 1 byte of name.
        let mut wire = 11u32.to_be_bytes().to_vec();
        wire.extend_from_slice(&5u16.to_be_bytes());
        wire.push(b'x');
        wire.extend_from_slice(&3u64.to_be_bytes());
        s.handle_input(now, &wire);
        assert_eq!(error_of(s.finished()), TransferError::BadHeader);
    }

    #[test]
    fn a_truncated_file_is_refused_at_eof() {
        let (mut s, mut files) = receiver(1000);
        let now = s.now();
        let mut wire = 11u32.to_be_bytes().to_vec();
        wire.extend_from_slice(&1u16.to_be_bytes());
        wire.push(b'x');
        wire.extend_from_slice(&3u64.to_be_bytes());
        wire.extend_from_slice(b"ab");
        s.handle_input(now, &wire);
        assert!(s.finished().is_none());
        s.handle_eof(now);
        assert_eq!(error_of(s.finished()), TransferError::Truncated);
        assert!(files.try_recv().is_err());
    }

    #[test]
    fn bytes_after_the_file_are_refused() {
        let (mut s, _files) = receiver(1000);
        let now = s.now();
        let mut wire = 11u32.to_be_bytes().to_vec();
        wire.extend_from_slice(&1u16.to_be_bytes());
        wire.push(b'x');
        wire.extend_from_slice(&3u64.to_be_bytes());
        wire.extend_from_slice(b"abcd");
        s.handle_input(now, &wire);
        assert_eq!(error_of(s.finished()), TransferError::Trailing);
    }
}
