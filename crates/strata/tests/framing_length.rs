//! `LengthPrefixed` (datagrams over a stream) and `StreamOverFrames` (a
//! stream over reliable datagrams).

use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use strata::framing::{LengthConfig, LengthPrefixed, Prefix, StreamOverFrames};
use strata::testing::{MemoryDatagramTransport, MemoryTransport};
use strata::{
    AbortReason, Close, Datagram, DatagramProtocol, DatagramStack, DatagramTransport, HalfClose,
    ReliableDelivery, Stack, StreamProtocol, StreamTransport, Transmit,
};

#[derive(Debug, Default)]
struct Log {
    frames: Vec<Vec<u8>>,
    batches: usize,
    eof: bool,
    lost: Option<Close>,
    chain: Vec<&'static str>,
    caps: Option<(Option<ReliableDelivery>, Option<HalfClose>, usize)>,
}

/// Records frames; echoes each one back; pauses on a frame `PAUSE`.
struct Collector(Arc<Mutex<Log>>);

impl DatagramProtocol for Collector {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        let mut log = self.0.lock().unwrap();
        log.chain = t.layer_chain();
        log.caps = Some((
            t.get::<ReliableDelivery>().copied(),
            t.get::<HalfClose>().copied(),
            t.max_datagram_size(),
        ));
    }
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        let mut log = self.0.lock().unwrap();
        log.batches += 1;
        for d in batch {
            assert_eq!(d.source, None);
            log.frames.push(d.data.to_vec());
            t.send(&Transmit::connected(d.data));
            if d.data == b"PAUSE" {
                t.pause_reading();
            }
        }
    }
    fn eof_received(&mut self, t: &mut dyn DatagramTransport) {
        self.0.lock().unwrap().eof = true;
        t.write_eof();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.0.lock().unwrap().lost = Some(why.clone());
    }
}

fn framed(cfg: LengthConfig) -> (Stack, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let layer = LengthPrefixed::with_config(Collector(log.clone()), cfg);
    (Stack::memory(Box::new(layer)), log)
}

/// The reference encoder the layer must agree with.
fn encode(prefix: Prefix, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        match prefix {
            Prefix::U16 => out.extend((f.len() as u16).to_be_bytes()),
            Prefix::U32 => out.extend((f.len() as u32).to_be_bytes()),
        }
        out.extend(f);
    }
    out
}

#[test]
fn random_frames_split_at_random_points_round_trip() {
    for (prefix, seed) in [
        (Prefix::U16, 1),
        (Prefix::U32, 2),
        (Prefix::U16, 3),
        (Prefix::U32, 4),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let frames: Vec<Vec<u8>> = (0..400)
            .map(|_| {
                let len = match rng.gen_range(0..10) {
                    0 => 0,
                    1..=6 => rng.gen_range(1..40),
                    _ => rng.gen_range(40..3000),
                };
                (0..len).map(|_| rng.r#gen()).collect()
            })
            .collect();
        let wire = encode(prefix, &frames);
        let (mut s, log) = framed(LengthConfig {
            prefix,
            max_frame: 4096,
        });
        let now = s.now();
        let mut pos = 0;
        let mut echoed = Vec::new();
        while pos < wire.len() {
            let n = rng.gen_range(1..=600).min(wire.len() - pos);
            s.handle_input(now, &wire[pos..pos + n]);
            echoed.extend(s.take_output(now));
            pos += n;
        }
        s.handle_eof(now);
        assert_eq!(log.lock().unwrap().frames, frames, "{prefix:?} seed {seed}");
        // Each send is one frame: the echo is the input, byte for byte.
        assert_eq!(echoed, wire);
        assert!(log.lock().unwrap().eof);
        assert!(
            s.should_shutdown_write(),
            "write_eof half-closes the stream"
        );
    }
}

#[test]
fn frames_of_one_chunk_arrive_as_one_batch_and_empty_frames_count() {
    let (mut s, log) = framed(LengthConfig::default());
    let now = s.now();
    let frames = vec![b"a".to_vec(), Vec::new(), b"bc".to_vec(), Vec::new()];
    s.handle_input(now, &encode(Prefix::U32, &frames));
    let log = log.lock().unwrap();
    assert_eq!(log.frames, frames);
    assert_eq!(log.batches, 1);
}

#[test]
fn an_oversize_frame_aborts_on_its_prefix_after_the_frames_before_it() {
    let (mut s, log) = framed(LengthConfig {
        prefix: Prefix::U32,
        max_frame: 100,
    });
    let now = s.now();
    let mut wire = encode(Prefix::U32, &[vec![7; 100]]);
    wire.extend(101u32.to_be_bytes()); // the prefix alone: no payload sent yet
    s.handle_input(now, &wire);
    assert_eq!(log.lock().unwrap().frames, [vec![7; 100]]);
    match s.finished() {
        Some(Close::Aborted {
            layer: "frames",
            reason:
                AbortReason::FrameTooLarge {
                    size: 101,
                    limit: 100,
                },
        }) => {}
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    assert!(log.lock().unwrap().lost.is_some());

    // Prefix split across chunks, at unit level: aborted once it is complete.
    let log = Arc::new(Mutex::new(Log::default()));
    let mut l = LengthPrefixed::with_config(
        Collector(log.clone()),
        LengthConfig {
            prefix: Prefix::U16,
            max_frame: 10,
        },
    );
    let mut t = MemoryTransport::new();
    l.connection_made(&mut t);
    l.data_received(&mut t, &[0xff]);
    assert!(t.aborted().is_none());
    l.data_received(&mut t, &[0xff, 1, 2, 3]);
    assert!(matches!(
        t.aborted(),
        Some(Close::Aborted {
            reason: AbortReason::FrameTooLarge {
                size: 65535,
                limit: 10
            },
            ..
        })
    ));
    l.data_received(&mut t, &[0, 1, 9]);
    assert!(
        log.lock().unwrap().frames.is_empty(),
        "nothing after the abort"
    );
}

#[test]
fn eof_inside_a_frame_is_a_truncated_frame() {
    for cut in [1, 3, 4, 6] {
        let (mut s, log) = framed(LengthConfig::default());
        let now = s.now();
        let wire = encode(Prefix::U32, &[b"whole".to_vec(), b"partial".to_vec()]);
        s.handle_input(now, &wire[..9 + cut]);
        s.handle_eof(now);
        assert_eq!(log.lock().unwrap().frames, [b"whole".to_vec()]);
        assert!(!log.lock().unwrap().eof);
        assert!(matches!(
            s.finished(),
            Some(Close::Aborted {
                layer: "frames",
                reason: AbortReason::TruncatedFrame
            })
        ));
    }
}

#[test]
fn oversize_sends_are_dropped_and_counted() {
    struct Sender;
    impl DatagramProtocol for Sender {
        fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
            t.send(&Transmit::connected(&[1; 9]));
            t.send(&Transmit::connected(&[2; 8]));
            // A GSO-style batch: one frame per segment.
            t.send(&Transmit {
                segment_size: Some(3),
                ..Transmit::connected(b"abcdefg")
            });
        }
        fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    }
    let mut l = LengthPrefixed::with_config(
        Sender,
        LengthConfig {
            prefix: Prefix::U16,
            max_frame: 8,
        },
    );
    let mut t = MemoryTransport::new();
    l.connection_made(&mut t);
    assert_eq!(l.dropped_sends(), 1);
    let mut want = encode(Prefix::U16, &[vec![2; 8]]);
    want.extend(encode(
        Prefix::U16,
        &[b"abc".to_vec(), b"def".to_vec(), b"g".to_vec()],
    ));
    assert_eq!(t.take_written(), want);
}

#[test]
fn the_view_answers_reliable_and_the_streams_capabilities() {
    let (_s, log) = framed(LengthConfig {
        prefix: Prefix::U16,
        max_frame: 1 << 20,
    });
    let log = log.lock().unwrap();
    assert_eq!(log.chain, ["frames", "memory"]);
    // max_frame is clamped to what a u16 prefix can say.
    assert_eq!(
        log.caps,
        Some((Some(ReliableDelivery(true)), Some(HalfClose(true)), 65535))
    );
}

#[test]
fn pause_between_batches_keeps_the_rest() {
    let (mut s, log) = framed(LengthConfig::default());
    let now = s.now();
    let frames = vec![b"one".to_vec(), b"PAUSE".to_vec(), b"three".to_vec()];
    s.handle_input(now, &encode(Prefix::U32, &frames));
    // The batch already handed up is not taken back; reading stops below.
    assert!(s.is_read_paused());
    s.handle_input(now, &encode(Prefix::U32, &[b"four".to_vec()]));
    s.handle_eof(now);
    assert_eq!(log.lock().unwrap().frames.len(), 3);
    assert!(!log.lock().unwrap().eof);
}

/// Sends `total` pseudo-random bytes while writable, then half-closes;
/// records what comes back.
struct Bulk {
    data: Arc<Vec<u8>>,
    sent: usize,
    got: Arc<Mutex<Vec<u8>>>,
    eof: Arc<Mutex<bool>>,
    echo: bool,
}

impl Bulk {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        if self.echo {
            return; // the echo side writes once, after the peer's EOF
        }
        while self.sent < self.data.len() && t.writable() {
            let n = 10_000.min(self.data.len() - self.sent);
            t.write(&self.data[self.sent..self.sent + n]);
            self.sent += n;
        }
        if self.sent == self.data.len() {
            self.sent += 1;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Bulk {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        assert_eq!(t.layer_chain(), ["stream", "frames", "memory"]);
        self.pump(t);
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.got.lock().unwrap().extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        *self.eof.lock().unwrap() = true;
        if self.echo {
            // Half-close: we can still write after the peer's EOF.
            let got = self.got.lock().unwrap().clone();
            t.write(&got);
            t.write_eof();
        }
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
}

/// Moves `from`'s output (and its half-close) to `to`, in uneven chunks so
/// that frames split across reads.
fn transfer(from: &mut Stack, to: &mut Stack) {
    let now = from.now();
    let out = from.take_output(now);
    for chunk in out.chunks(7919) {
        to.handle_input(now, chunk);
    }
    if from.should_shutdown_write() {
        from.write_shutdown_done(now);
        to.handle_eof(now);
    }
}

#[test]
fn stream_over_frames_round_trips_a_megabyte_with_half_close() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let data: Arc<Vec<u8>> = Arc::new((0..1_000_000).map(|_| rng.r#gen()).collect());
    let mk = |data: Arc<Vec<u8>>, echo: bool| {
        let got = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(Mutex::new(false));
        let p = Bulk {
            data,
            sent: 0,
            got: got.clone(),
            eof: eof.clone(),
            echo,
        };
        let cfg = LengthConfig {
            prefix: Prefix::U16,
            max_frame: 4000,
        };
        let s = Stack::memory(Box::new(LengthPrefixed::with_config(
            StreamOverFrames::new(p),
            cfg,
        )));
        (s, got, eof)
    };
    let (mut a, a_got, a_eof) = mk(data.clone(), false);
    let (mut b, b_got, b_eof) = mk(Arc::new(Vec::new()), true);
    for _ in 0..10_000 {
        transfer(&mut a, &mut b);
        transfer(&mut b, &mut a);
        if a.finished().is_some() && b.finished().is_some() {
            break;
        }
    }
    assert_eq!(b_got.lock().unwrap().len(), data.len());
    assert!(*b_got.lock().unwrap() == *data);
    assert!(
        *a_got.lock().unwrap() == *data,
        "echoed after the half-close"
    );
    assert!(*a_eof.lock().unwrap() && *b_eof.lock().unwrap());
    assert!(a.finished().unwrap().is_clean(), "{:?}", a.finished());
    assert!(b.finished().unwrap().is_clean(), "{:?}", b.finished());
}

struct Never;
impl StreamProtocol for Never {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        panic!("must not start over an unreliable transport");
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    fn connection_lost(&mut self, _: &Close) {
        panic!("was never started");
    }
}

#[test]
fn stream_over_an_unreliable_transport_aborts_with_not_reliable() {
    let mut t = MemoryDatagramTransport::new(1200);
    let mut p = StreamOverFrames::new(Never);
    p.connection_made(&mut t);
    assert!(matches!(
        t.aborted(),
        Some(Close::Aborted {
            layer: "stream",
            reason: AbortReason::NotReliable
        })
    ));
    p.datagrams_received(&mut t, &[Datagram::new(None, b"ignored")]);

    let s = DatagramStack::memory(Box::new(StreamOverFrames::new(Never)));
    assert!(matches!(
        s.finished(),
        Some(Close::Aborted {
            layer: "stream",
            reason: AbortReason::NotReliable
        })
    ));
}

#[test]
fn stream_writes_are_split_at_the_datagram_size() {
    struct W;
    impl StreamProtocol for W {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            t.write(&[5; 10]);
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    }
    let cfg = LengthConfig {
        prefix: Prefix::U16,
        max_frame: 4,
    };
    let mut l = LengthPrefixed::with_config(StreamOverFrames::new(W), cfg);
    let mut t = MemoryTransport::new();
    l.connection_made(&mut t);
    assert_eq!(
        t.take_written(),
        encode(Prefix::U16, &[vec![5; 4], vec![5; 4], vec![5; 2]])
    );
}
