//! Batched UDP in the driver: ECN marks and the destination address reach
//! the protocol, a GSO transmit leaves as datagrams of its segment size, a
//! GRO'd receive is split back into datagrams, queued datagrams of one size
//! are coalesced without changing what arrives, and a burst larger than the
//! kernel's default socket buffer is not lost.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use common::within;
use strata::{Datagram, DatagramProtocol, DatagramTransport, Ecn, StackConfig, Transmit};
use strata_tokio::Server;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// One received datagram, as the protocol saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Got {
    from: Option<SocketAddr>,
    dst_ip: Option<IpAddr>,
    ecn: Option<Ecn>,
    data: Vec<u8>,
}

/// Records every datagram into a channel.
struct Record(mpsc::UnboundedSender<Got>);

impl DatagramProtocol for Record {
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            let _ = self.0.send(Got {
                from: d.source,
                dst_ip: d.dst_ip,
                ecn: d.ecn,
                data: d.data.to_vec(),
            });
        }
    }
}

/// Sends every transmit it was given once connected, then stays quiet.
struct Burst(Vec<OwnedTx>);

#[derive(Clone)]
struct OwnedTx {
    to: Option<SocketAddr>,
    ecn: Option<Ecn>,
    segment_size: Option<usize>,
    src_ip: Option<IpAddr>,
    data: Vec<u8>,
}

impl OwnedTx {
    fn to(to: SocketAddr, data: Vec<u8>) -> Self {
        OwnedTx {
            to: Some(to),
            ecn: None,
            segment_size: None,
            src_ip: None,
            data,
        }
    }
}

impl DatagramProtocol for Burst {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        for tx in &self.0 {
            t.send(&Transmit {
                destination: tx.to,
                src_ip: tx.src_ip,
                ecn: tx.ecn,
                segment_size: tx.segment_size,
                contents: &tx.data,
            });
        }
    }
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
}

fn cfg() -> Arc<StackConfig> {
    Arc::new(StackConfig::default())
}

/// A recording server on `ip`: its address and what it receives.
async fn recorder(server: &Server, ip: &str) -> (SocketAddr, mpsc::UnboundedReceiver<Got>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let addr = server
        .bind_udp(
            SocketAddr::new(ip.parse().unwrap(), 0),
            None,
            Box::new(Record(tx)),
            cfg(),
        )
        .await
        .unwrap()
        .socket_addr()
        .unwrap();
    (addr, rx)
}

/// A sender bound on `ip` that sends `txs` as soon as it runs; its address.
async fn sender(server: &Server, ip: &str, txs: Vec<OwnedTx>, cfg: Arc<StackConfig>) -> SocketAddr {
    server
        .bind_udp(
            SocketAddr::new(ip.parse().unwrap(), 0),
            None,
            Box::new(Burst(txs)),
            cfg,
        )
        .await
        .unwrap()
        .socket_addr()
        .unwrap()
}

async fn take(rx: &mut mpsc::UnboundedReceiver<Got>, n: usize) -> Vec<Got> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        got.push(within("datagram", rx.recv()).await.unwrap());
    }
    got
}

/// A pattern that tells datagrams and their offsets apart.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[tokio::test]
async fn ecn_marks_and_the_destination_ip_reach_the_protocol() {
    let server = Server::new();
    let (to, mut rx) = recorder(&server, "127.0.0.1").await;
    let marks = [None, Some(Ecn::Ect0), Some(Ecn::Ect1), Some(Ecn::Ce)];
    let txs = marks
        .iter()
        .enumerate()
        .map(|(i, &ecn)| OwnedTx {
            ecn,
            src_ip: Some("127.0.0.1".parse().unwrap()),
            ..OwnedTx::to(to, vec![i as u8; 10 + i])
        })
        .collect();
    let from = sender(&server, "127.0.0.1", txs, cfg()).await;
    let got = take(&mut rx, marks.len()).await;
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.data, vec![i as u8; 10 + i]);
        assert_eq!(g.ecn, marks[i], "datagram {i}");
        assert_eq!(g.dst_ip, Some(to.ip()), "datagram {i}");
        assert_eq!(g.from, Some(from), "datagram {i}");
    }
}

#[tokio::test]
async fn ecn_and_destination_over_ipv6() {
    let server = Server::new();
    let Ok(probe) = UdpSocket::bind("[::1]:0").await else {
        return; // no IPv6 loopback here
    };
    drop(probe);
    let (to, mut rx) = recorder(&server, "::1").await;
    let txs = vec![OwnedTx {
        ecn: Some(Ecn::Ect1),
        ..OwnedTx::to(to, b"six".to_vec())
    }];
    sender(&server, "::1", txs, cfg()).await;
    let got = take(&mut rx, 1).await;
    assert_eq!(got[0].ecn, Some(Ecn::Ect1));
    assert_eq!(got[0].dst_ip, Some(to.ip()));
}

#[tokio::test]
async fn a_gso_transmit_arrives_as_datagrams_of_its_segment_size() {
    let server = Server::new();
    // A plain socket: no GRO, so every datagram is read on its own.
    let sink = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = sink.local_addr().unwrap();
    let data = pattern(4 * 1000 + 500, 7);
    let txs = vec![OwnedTx {
        segment_size: Some(1000),
        ..OwnedTx::to(to, data.clone())
    }];
    sender(&server, "127.0.0.1", txs, cfg()).await;
    let mut buf = vec![0; 65_536];
    for (i, want) in data.chunks(1000).enumerate() {
        let n = within("segment", sink.recv(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], want, "segment {i}");
    }
}

#[tokio::test]
async fn a_gso_transmit_of_more_segments_than_the_kernel_takes_arrives_whole() {
    let server = Server::new();
    let (to, mut rx) = recorder(&server, "127.0.0.1").await;
    // 200 segments: more than one GSO send may carry (64), and more bytes
    // than one UDP datagram: the driver cuts it into several sends.
    let data = pattern(200 * 400 - 17, 3);
    let txs = vec![OwnedTx {
        segment_size: Some(400),
        ..OwnedTx::to(to, data.clone())
    }];
    sender(&server, "127.0.0.1", txs, cfg()).await;
    let got = take(&mut rx, 200).await;
    for (i, (g, want)) in got.iter().zip(data.chunks(400)).enumerate() {
        assert_eq!(g.data, want, "segment {i}");
    }
}

#[tokio::test]
async fn a_gro_receive_is_split_into_the_datagrams_sent() {
    let server = Server::new();
    // Both ends are strata sockets: the sender coalesces the 40 equal
    // datagrams (the last shorter) into GSO sends, and the receiver's
    // socket has GRO on, so it may read them as one buffer of 40.
    let (to, mut rx) = recorder(&server, "127.0.0.1").await;
    let txs: Vec<_> = (0..40)
        .map(|i| OwnedTx::to(to, pattern(if i == 39 { 300 } else { 1200 }, i as u8)))
        .collect();
    let want: Vec<Vec<u8>> = txs.iter().map(|t| t.data.clone()).collect();
    let from = sender(&server, "127.0.0.1", txs, cfg()).await;
    let got = take(&mut rx, 40).await;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(&g.data, w, "datagram {i}");
        assert_eq!(g.from, Some(from));
    }
}

#[tokio::test]
async fn coalescing_keeps_each_datagram_its_mark_and_destination() {
    let server = Server::new();
    let (a, mut rx_a) = recorder(&server, "127.0.0.1").await;
    let (b, mut rx_b) = recorder(&server, "127.0.0.1").await;
    // Runs that may be coalesced, broken by a change of destination, of
    // mark, of size (a longer one), and by an empty datagram.
    let mut txs = Vec::new();
    let mut want_a = Vec::new();
    let mut want_b = Vec::new();
    for i in 0..60u8 {
        let (to, ecn, len) = match i {
            0..=9 => (a, None, 500),
            10..=14 => (b, None, 500),
            15..=24 => (a, Some(Ecn::Ect0), 500),
            25 => (a, Some(Ecn::Ect0), 0),
            26..=35 => (a, Some(Ecn::Ect0), 700),
            36..=39 => (a, Some(Ecn::Ect0), 900),
            _ => (b, Some(Ecn::Ce), 1300 - 10 * usize::from(i)),
        };
        let data = pattern(len, i);
        let got = Got {
            from: None,
            dst_ip: Some(to.ip()),
            ecn,
            data: data.clone(),
        };
        if to == a {
            want_a.push(got);
        } else {
            want_b.push(got);
        }
        txs.push(OwnedTx {
            ecn,
            ..OwnedTx::to(to, data)
        });
    }
    sender(&server, "127.0.0.1", txs, cfg()).await;
    for (rx, want) in [(&mut rx_a, want_a), (&mut rx_b, want_b)] {
        let got = take(rx, want.len()).await;
        for (i, (mut g, w)) in got.into_iter().zip(want).enumerate() {
            g.from = None;
            // The mark of a datagram that arrived in a GRO'd buffer is
            // lost by quinn-udp 0.6.3 (see `ecn_survives_a_gro_receive`);
            // a wrong mark is never seen.
            assert!(g.ecn == w.ecn || g.ecn.is_none(), "datagram {i}: {g:?}");
            g.ecn = w.ecn;
            assert_eq!(g, w, "datagram {i}");
        }
    }
}

/// Known to fail with quinn-udp 0.6.3: its control-message buffer (96
/// bytes) is too small for a GRO'd receive on Linux, which carries four
/// messages (timestamp 32, GRO 24, packet info 32, TOS 24 on IPv4): the
/// kernel sets `MSG_CTRUNC` and drops the last, the TOS byte with the ECN
/// mark (strace shows it; n0-computer/noq#778 reports the same). The send
/// side does mark a GSO send (its `IP_TOS` control message is there), so
/// single datagrams keep their mark and coalesced ones lose it at the
/// receiver. Run with `--ignored` once quinn-udp is fixed.
#[tokio::test]
#[ignore = "quinn-udp 0.6.3 truncates the ECN control message of a GRO'd receive"]
async fn ecn_survives_a_gro_receive() {
    let server = Server::new();
    let (to, mut rx) = recorder(&server, "127.0.0.1").await;
    let txs = (0..20u8)
        .map(|i| OwnedTx {
            ecn: Some(Ecn::Ect0),
            ..OwnedTx::to(to, pattern(1000, i))
        })
        .collect();
    sender(&server, "127.0.0.1", txs, cfg()).await;
    for g in take(&mut rx, 20).await {
        assert_eq!(g.ecn, Some(Ecn::Ect0));
    }
}

#[tokio::test]
async fn a_connected_socket_sends_batches_to_its_peer() {
    let server = Server::new();
    let (to, mut rx) = recorder(&server, "127.0.0.1").await;
    // A connected socket whose protocol sends without a destination.
    struct Connected;
    impl DatagramProtocol for Connected {
        fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
            for i in 0..30u8 {
                t.send(&Transmit {
                    ecn: Some(Ecn::Ect0),
                    ..Transmit::connected(&pattern(1000, i))
                });
            }
        }
        fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    }
    server
        .bind_udp(
            "127.0.0.1:0".parse().unwrap(),
            Some(to),
            Box::new(Connected),
            cfg(),
        )
        .await
        .unwrap();
    let got = take(&mut rx, 30).await;
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.data, pattern(1000, i as u8), "datagram {i}");
        // See `ecn_survives_a_gro_receive`.
        assert!(matches!(g.ecn, Some(Ecn::Ect0) | None), "datagram {i}");
    }
}

/// The receive buffer the kernel grants an unprivileged socket that asks
/// for a lot (capped by `net.core.rmem_max`).
fn granted_rcvbuf() -> usize {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let _ = s.set_recv_buffer_size(64 << 20);
    s.recv_buffer_size().unwrap()
}

#[tokio::test]
async fn a_burst_larger_than_the_default_socket_buffer_arrives_whole() {
    let server = Server::new();
    let (to, mut rx) = recorder(&server, "127.0.0.1").await;
    // 2,000 datagrams of 1,200 bytes in one callback: 2.4 MB, ten times
    // the kernel's default buffer (208 KiB), within the stack's budget and
    // within what the driver asks the kernel for. Where the kernel grants
    // less (a low `net.core.rmem_max`), the burst shrinks to fit.
    let n = (granted_rcvbuf() / 3 / 1200).clamp(10, 2_000);
    let txs: Vec<_> = (0..n)
        .map(|i| OwnedTx::to(to, pattern(1200, i as u8)))
        .collect();
    let cfg = Arc::new(StackConfig {
        memory_budget: 8 << 20,
        ..StackConfig::default()
    });
    sender(&server, "127.0.0.1", txs, cfg).await;
    let got = take(&mut rx, n).await;
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.data, pattern(1200, i as u8), "datagram {i}");
    }
}
