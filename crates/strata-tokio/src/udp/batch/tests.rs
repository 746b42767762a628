//! The batching rules against a scripted socket.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;

use strata::{Ecn, Transmit};

use super::{split, Flushed, SendSocket, SendStats, Sender, MAX_GSO_BYTES};

/// One send the socket took: destination, mark, segment size, bytes.
type Taken = (SocketAddr, Option<Ecn>, Option<usize>, Vec<u8>);

/// Records sends; answers with the scripted results first (then `Ok`), and
/// refuses every segmented send with `EIO` once `refuse_gso` is set, as a
/// device without checksum offload does.
#[derive(Default)]
struct Script {
    max: usize,
    refuse_gso: bool,
    answers: RefCell<VecDeque<io::Result<()>>>,
    taken: RefCell<Vec<Taken>>,
}

impl Script {
    fn gso(max: usize) -> Self {
        Script {
            max,
            ..Script::default()
        }
    }
    fn taken(&self) -> Vec<Taken> {
        self.taken.borrow().clone()
    }
    /// The datagrams that left, each on its own, in order.
    fn datagrams(&self) -> Vec<Vec<u8>> {
        self.taken()
            .iter()
            .flat_map(|(_, _, seg, c)| {
                c.chunks(seg.unwrap_or(c.len()).max(1))
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl SendSocket for Script {
    fn max_segments(&self) -> usize {
        self.max
    }
    fn send(&self, s: &super::Send<'_>) -> io::Result<()> {
        if self.refuse_gso && s.segment_size.is_some() {
            return Err(io::Error::from_raw_os_error(5));
        }
        let answer = self.answers.borrow_mut().pop_front().unwrap_or(Ok(()));
        if answer.is_ok() {
            self.taken.borrow_mut().push((
                s.destination,
                s.ecn,
                s.segment_size,
                s.contents.to_vec(),
            ));
        }
        answer
    }
}

fn a() -> SocketAddr {
    "127.0.0.1:1000".parse().unwrap()
}
fn b() -> SocketAddr {
    "127.0.0.1:2000".parse().unwrap()
}

fn bytes(len: usize, tag: u8) -> Vec<u8> {
    (0..len).map(|i| i as u8 ^ tag).collect()
}

fn to<'a>(dest: SocketAddr, data: &'a [u8]) -> Transmit<'a> {
    Transmit::to(dest, data)
}

#[test]
fn equal_datagrams_to_one_place_leave_in_one_send() {
    let s = Script::gso(64);
    let data: Vec<_> = (0..10).map(|i| bytes(1200, i)).collect();
    let mut tx = Sender::default();
    let f = tx.flush(&s, None, data.iter().map(|d| to(a(), d)), &mut Vec::new());
    assert_eq!(
        f,
        Flushed {
            done: 10,
            ..Flushed::default()
        }
    );
    let taken = s.taken();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].2, Some(1200));
    assert_eq!(s.datagrams(), data);
    assert_eq!(
        tx.stats,
        SendStats {
            sends: 1,
            datagrams: 10,
            dropped: 0
        }
    );
}

#[test]
fn a_shorter_datagram_ends_a_run_and_a_longer_one_starts_the_next() {
    let s = Script::gso(64);
    let sizes = [1000, 1000, 400, 1000, 1000, 1200, 1200];
    let data: Vec<_> = sizes.iter().map(|&n| bytes(n, n as u8)).collect();
    let mut tx = Sender::default();
    tx.flush(&s, None, data.iter().map(|d| to(a(), d)), &mut Vec::new());
    let segs: Vec<_> = s.taken().iter().map(|t| (t.2, t.3.len())).collect();
    assert_eq!(
        segs,
        [(Some(1000), 2400), (Some(1000), 2000), (Some(1200), 2400)]
    );
    assert_eq!(s.datagrams(), data);
}

#[test]
fn destination_mark_and_source_break_a_run() {
    let s = Script::gso(64);
    let d = bytes(100, 1);
    let q = [
        to(a(), &d),
        to(a(), &d),
        to(b(), &d),
        Transmit {
            ecn: Some(Ecn::Ect0),
            ..to(b(), &d)
        },
        Transmit {
            ecn: Some(Ecn::Ect0),
            ..to(b(), &d)
        },
        Transmit {
            ecn: Some(Ecn::Ect0),
            src_ip: Some("127.0.0.2".parse().unwrap()),
            ..to(b(), &d)
        },
    ];
    Sender::default().flush(&s, None, q.iter().copied(), &mut Vec::new());
    let shape: Vec<_> = s
        .taken()
        .iter()
        .map(|t| (t.0, t.1, t.3.len() / 100))
        .collect();
    assert_eq!(
        shape,
        [
            (a(), None, 2),
            (b(), None, 1),
            (b(), Some(Ecn::Ect0), 2),
            (b(), Some(Ecn::Ect0), 1)
        ]
    );
}

#[test]
fn a_run_stops_at_the_segment_limit_and_the_gso_byte_limit() {
    let s = Script::gso(4);
    let d = bytes(10, 0);
    Sender::default().flush(
        &s,
        None,
        std::iter::repeat_n(to(a(), &d), 10),
        &mut Vec::new(),
    );
    let runs: Vec<_> = s.taken().iter().map(|t| t.3.len() / 10).collect();
    assert_eq!(runs, [4, 4, 2]);

    let s = Script::gso(64);
    let big = bytes(20_000, 0);
    Sender::default().flush(
        &s,
        None,
        std::iter::repeat_n(to(a(), &big), 7),
        &mut Vec::new(),
    );
    let runs: Vec<_> = s.taken().iter().map(|t| t.3.len() / 20_000).collect();
    assert_eq!(runs, [3, 3, 1]);
    assert!(s.taken().iter().all(|t| t.3.len() <= MAX_GSO_BYTES));
}

#[test]
fn without_gso_every_datagram_is_its_own_send() {
    let s = Script::gso(1);
    let d = bytes(50, 0);
    let f = Sender::default().flush(
        &s,
        None,
        std::iter::repeat_n(to(a(), &d), 5),
        &mut Vec::new(),
    );
    assert_eq!(f.done, 5);
    assert!(s.taken().iter().all(|t| t.2.is_none() && t.3.len() == 50));
    assert_eq!(s.taken().len(), 5);
}

#[test]
fn a_gso_transmit_longer_than_one_send_goes_in_parts() {
    let s = Script::gso(3);
    let data = bytes(7 * 100 + 30, 9);
    let t = Transmit {
        segment_size: Some(100),
        ..to(a(), &data)
    };
    let f = Sender::default().flush(&s, None, [t].into_iter(), &mut Vec::new());
    assert_eq!(f.done, 1);
    let parts: Vec<_> = s.taken().iter().map(|t| (t.2, t.3.len())).collect();
    assert_eq!(
        parts,
        [(Some(100), 300), (Some(100), 300), (Some(100), 130)]
    );
    assert_eq!(s.datagrams().concat(), data);
}

#[test]
fn a_full_socket_stops_the_flush_and_the_next_one_resumes_where_it_stopped() {
    let s = Script::gso(2);
    let data = bytes(5 * 10, 1);
    let gso = Transmit {
        segment_size: Some(10),
        ..to(a(), &data)
    };
    let plain = bytes(10, 2);
    let q = [gso, to(a(), &plain), to(a(), &plain)];
    // The second part of the GSO transmit finds the socket full.
    s.answers
        .borrow_mut()
        .extend([Ok(()), Err(io::ErrorKind::WouldBlock.into())]);
    let mut tx = Sender::default();
    let f = tx.flush(&s, None, q.iter().copied(), &mut Vec::new());
    assert_eq!((f.done, f.blocked), (0, true));
    assert_eq!(s.datagrams().len(), 2);
    // Writable again: the rest of the batch, then the two plain ones.
    let f = tx.flush(&s, None, q.iter().copied(), &mut Vec::new());
    assert_eq!((f.done, f.blocked), (3, false));
    let mut want: Vec<Vec<u8>> = data.chunks(10).map(<[u8]>::to_vec).collect();
    want.extend([plain.clone(), plain]);
    assert_eq!(s.datagrams(), want);
}

#[test]
fn a_refused_gso_send_is_repeated_one_datagram_at_a_time() {
    let mut s = Script::gso(64);
    s.refuse_gso = true;
    let data: Vec<_> = (0..6).map(|i| bytes(300, i)).collect();
    let batch = bytes(4 * 300, 7);
    let mut q: Vec<_> = data.iter().map(|d| to(a(), d)).collect();
    q.push(Transmit {
        segment_size: Some(300),
        ..to(a(), &batch)
    });
    let mut tx = Sender::default();
    let f = tx.flush(&s, None, q.iter().copied(), &mut Vec::new());
    assert_eq!(f.done, 7);
    let mut want = data.clone();
    want.extend(batch.chunks(300).map(<[u8]>::to_vec));
    assert_eq!(s.datagrams(), want, "nothing lost, nothing reordered");
    assert!(s.taken().iter().all(|t| t.2.is_none()));
    assert_eq!(tx.stats.dropped, 0);
    // GSO stays off for the socket: the next run is not even tried as one.
    s.refuse_gso = false;
    let before = s.taken().len();
    tx.flush(&s, None, data.iter().map(|d| to(a(), d)), &mut Vec::new());
    assert_eq!(s.taken().len() - before, 6);
}

#[test]
fn refused_datagrams_are_counted_and_the_rest_still_leave() {
    let s = Script::gso(64);
    let big = bytes(1000, 1);
    let small = bytes(10, 2);
    s.answers.borrow_mut().extend([
        Err(io::Error::from_raw_os_error(90)), // EMSGSIZE
        Err(io::ErrorKind::ConnectionRefused.into()),
    ]);
    let q = [
        to(a(), &big),
        to(a(), &big),
        to(a(), &small),
        to(b(), &small),
        Transmit::connected(&small),
    ];
    let mut tx = Sender::default();
    let f = tx.flush(&s, None, q.iter().copied(), &mut Vec::new());
    assert_eq!(f.done, 5);
    assert_eq!(f.soft, Some(io::ErrorKind::ConnectionRefused));
    // The run of three to `a` is lost, the one to `b` too (refused), the
    // last has no destination on an unconnected socket.
    assert_eq!(tx.stats.dropped, 3 + 1 + 1);
    assert!(s.taken().is_empty());
    // On a connected socket it goes to the peer.
    let f = tx.flush(
        &s,
        Some(b()),
        [Transmit::connected(&small)].into_iter(),
        &mut Vec::new(),
    );
    assert_eq!(f.done, 1);
    assert_eq!(s.taken()[0].0, b());
}

#[test]
fn an_empty_datagram_is_sent_alone() {
    let s = Script::gso(64);
    let d = bytes(10, 0);
    let q = [to(a(), &d), to(a(), &[]), to(a(), &[]), to(a(), &d)];
    let f = Sender::default().flush(&s, None, q.iter().copied(), &mut Vec::new());
    assert_eq!(f.done, 4);
    let lens: Vec<_> = s.taken().iter().map(|t| t.3.len()).collect();
    assert_eq!(lens, [10, 0, 0, 10]);
}

#[test]
fn split_cuts_a_gro_buffer_at_its_stride() {
    let buf = bytes(3 * 1200 + 77, 3);
    let parts: Vec<_> = split(&buf, 1200).collect();
    assert_eq!(parts.len(), 4);
    assert!(parts[..3].iter().all(|p| p.len() == 1200));
    assert_eq!(parts[3].len(), 77);
    assert_eq!(parts.concat(), buf);
    // A stride equal to the length, or larger, or zero: one datagram.
    assert_eq!(split(&buf, buf.len()).count(), 1);
    assert_eq!(split(&buf, 65_535).count(), 1);
    assert_eq!(split(&buf, 0).count(), 1);
    // An empty datagram is still a datagram.
    assert_eq!(split(&[], 1200).collect::<Vec<_>>(), [&[] as &[u8]]);
    // Exact multiples leave no empty tail.
    assert_eq!(split(&bytes(2400, 0), 1200).count(), 2);
}
