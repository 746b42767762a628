//! The impairment model of one direction of a simulated link: loss (random
//! or bursty), duplication, reordering, delay and jitter, a rate-limited
//! bottleneck queue with tail drop, an MTU, and bit corruption.
//!
//! [`SimNet`](super::SimNet) gives every link a [`Netem`]; it can also be used
//! alone to impair any packet flow under virtual time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A loss model.
///
/// ```
/// use strata::testing::Loss;
/// // Bursts of 4 packets on average, entered once per 100 packets.
/// let l = Loss::GilbertElliott { p_good_to_bad: 0.01, p_bad_to_good: 0.25, loss_good: 0.0, loss_bad: 1.0 };
/// assert!((l.mean_rate() - 0.01 / 0.26).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Loss {
    /// Nothing is lost.
    #[default]
    None,
    /// Each packet is lost independently with this probability (0.0..=1.0).
    Random(f64),
    /// The two-state Gilbert-Elliott model: before each packet the link
    /// moves good→bad with `p_good_to_bad` or bad→good with
    /// `p_bad_to_good`, then loses the packet with `loss_good` or `loss_bad`
    /// (all probabilities, 0.0..=1.0). With `loss_good = 0` and
    /// `loss_bad = 1`, bursts last `1 / p_bad_to_good` packets on average.
    GilbertElliott {
        /// Per packet, the chance to enter the bad state.
        p_good_to_bad: f64,
        /// Per packet, the chance to leave the bad state.
        p_bad_to_good: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
}

impl Loss {
    /// The long-run fraction of packets lost.
    ///
    /// ```
    /// use strata::testing::Loss;
    /// assert_eq!(Loss::None.mean_rate(), 0.0);
    /// assert_eq!(Loss::Random(0.05).mean_rate(), 0.05);
    /// ```
    pub fn mean_rate(&self) -> f64 {
        match *self {
            Loss::None => 0.0,
            Loss::Random(p) => p,
            Loss::GilbertElliott {
                p_good_to_bad: g,
                p_bad_to_good: b,
                loss_good,
                loss_bad,
            } => {
                if g + b == 0.0 {
                    return loss_good;
                }
                let bad = g / (g + b);
                bad * loss_bad + (1.0 - bad) * loss_good
            }
        }
    }
}

/// The impairments of one direction of a link. The default is a perfect
/// link with a 1500-byte MTU.
///
/// ```
/// use std::time::Duration;
/// use strata::testing::{LinkConfig, Loss};
/// let wan = LinkConfig::default()
///     .delay(Duration::from_millis(40))
///     .jitter(Duration::from_millis(5))
///     .loss(Loss::Random(0.01))
///     .rate_bps(10_000_000)
///     .queue_limit(64 * 1024);
/// assert_eq!(wan.mtu, 1500);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// How packets are lost on the wire (default none).
    pub loss: Loss,
    /// Probability that a packet is delivered twice (default 0).
    pub duplicate: f64,
    /// Probability that a packet is held back by `reorder_delay`, so later
    /// packets overtake it (default 0).
    pub reorder: f64,
    /// The extra delay of a reordered packet (default 10 ms).
    pub reorder_delay: Duration,
    /// One-way propagation delay (default 0).
    pub delay: Duration,
    /// Each packet's delay varies uniformly within `delay ± jitter` (default
    /// 0). Jitter never reorders packets by itself.
    pub jitter: Duration,
    /// Bottleneck bandwidth in **bits** per second; `None` (the default) is
    /// unlimited. `Some(0)` is treated as 1 bit/s.
    pub rate: Option<u64>,
    /// Bytes the bottleneck queue holds (the packet being serialized
    /// included) before it tail-drops; only used with a `rate` (default 256 KiB).
    pub queue_limit: usize,
    /// Largest packet in bytes; larger ones are dropped (default 1500).
    pub mtu: usize,
    /// Probability that a delivered packet is corrupted (default 0): see
    /// [`corrupt_bits`](LinkConfig::corrupt_bits).
    pub corrupt: f64,
    /// How many distinct random bits of a corrupted packet flip (default
    /// 1; at most all of them).
    pub corrupt_bits: u32,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            loss: Loss::None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: None,
            queue_limit: 256 * 1024,
            mtu: 1500,
            corrupt: 0.0,
            corrupt_bits: 1,
        }
    }
}

impl LinkConfig {
    /// Sets the loss model.
    ///
    /// ```
    /// use strata::testing::{LinkConfig, Loss};
    /// let lossy = LinkConfig::default().loss(Loss::Random(0.02));
    /// assert_eq!(lossy.loss, Loss::Random(0.02));
    /// ```
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// Sets the duplication probability.
    ///
    /// ```
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// let mut link = Netem::new(LinkConfig::default().duplicate(1.0), 1, 0);
    /// let copies = link.offer(epoch(), 100).unwrap();
    /// assert!(copies.second.is_some_and(|c| c.duplicate));
    /// assert_eq!(link.stats().duplicated, 1);
    /// ```
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Holds back a fraction `p` of the packets by `extra`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// let cfg = LinkConfig::default().reorder(1.0, Duration::from_millis(15));
    /// let mut link = Netem::new(cfg, 1, 0);
    /// let a = link.offer(epoch(), 100).unwrap();
    /// assert!(a.first.reordered);
    /// assert_eq!(a.first.at, epoch() + Duration::from_millis(15));
    /// ```
    pub fn reorder(mut self, p: f64, extra: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = extra;
        self
    }

    /// Sets the one-way delay.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// let mut link = Netem::new(LinkConfig::default().delay(Duration::from_millis(50)), 1, 0);
    /// let a = link.offer(epoch(), 100).unwrap();
    /// assert_eq!(a.first.at - epoch(), Duration::from_millis(50));
    /// ```
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// Sets the jitter (uniform, `±d`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// let ms = Duration::from_millis;
    /// let cfg = LinkConfig::default().delay(ms(40)).jitter(ms(10));
    /// let mut link = Netem::new(cfg, 3, 0);
    /// for _ in 0..20 {
    ///     let at = link.offer(epoch(), 100).unwrap().first.at - epoch();
    ///     assert!(at >= ms(30) && at <= ms(50));
    /// }
    /// ```
    pub fn jitter(mut self, d: Duration) -> Self {
        self.jitter = d;
        self
    }

    /// Sets the bottleneck bandwidth in bits per second.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// // 1000 bytes at 8 Mbit/s take 1 ms to serialize.
    /// let mut link = Netem::new(LinkConfig::default().rate_bps(8_000_000), 1, 0);
    /// let a = link.offer(epoch(), 1000).unwrap();
    /// assert_eq!(a.first.at - epoch(), Duration::from_millis(1));
    /// let b = link.offer(epoch(), 1000).unwrap(); // queued behind the first
    /// assert_eq!(b.first.at - epoch(), Duration::from_millis(2));
    /// ```
    pub fn rate_bps(mut self, bits_per_sec: u64) -> Self {
        self.rate = Some(bits_per_sec);
        self
    }

    /// Sets the bottleneck queue size in bytes.
    ///
    /// ```
    /// use strata::testing::{epoch, DropReason, LinkConfig, Netem};
    /// let cfg = LinkConfig::default().rate_bps(1_000_000).queue_limit(2000);
    /// let mut link = Netem::new(cfg, 1, 0);
    /// assert!(link.offer(epoch(), 1000).is_ok());
    /// assert!(link.offer(epoch(), 1000).is_ok());
    /// assert_eq!(link.offer(epoch(), 1000), Err(DropReason::QueueFull));
    /// ```
    pub fn queue_limit(mut self, bytes: usize) -> Self {
        self.queue_limit = bytes;
        self
    }

    /// Sets the MTU in bytes.
    ///
    /// ```
    /// use strata::testing::{epoch, DropReason, LinkConfig, Netem};
    /// let mut link = Netem::new(LinkConfig::default().mtu(1280), 1, 0);
    /// assert!(link.offer(epoch(), 1280).is_ok());
    /// assert_eq!(link.offer(epoch(), 1281), Err(DropReason::Mtu));
    /// ```
    pub fn mtu(mut self, bytes: usize) -> Self {
        self.mtu = bytes;
        self
    }

    /// Corrupts a fraction `p` of the packets, flipping `bits` random bits
    /// in each.
    ///
    /// ```
    /// use strata::testing::LinkConfig;
    /// let noisy = LinkConfig::default().corrupt(0.01, 3);
    /// assert_eq!((noisy.corrupt, noisy.corrupt_bits), (0.01, 3));
    /// ```
    pub fn corrupt(mut self, p: f64, bits: u32) -> Self {
        self.corrupt = p;
        self.corrupt_bits = bits;
        self
    }
}

/// Counters of one link direction.
///
/// `delivered = sent - lost() - dropped_queue - dropped_mtu + duplicated`
/// once nothing is in flight.
///
/// ```
/// use strata::testing::{epoch, LinkConfig, Loss, Netem};
/// let cfg = LinkConfig::default().loss(Loss::Random(0.5)).mtu(1000);
/// let mut link = Netem::new(cfg, 9, 0);
/// for _ in 0..100 {
///     if link.offer(epoch(), 500).is_ok() {
///         link.record_delivered();
///     }
/// }
/// let _ = link.offer(epoch(), 2000);
/// let s = link.stats();
/// assert_eq!((s.sent, s.dropped_mtu), (101, 1));
/// assert_eq!(s.delivered, s.sent - s.lost() - s.dropped_queue - s.dropped_mtu + s.duplicated);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets offered to the link.
    pub sent: u64,
    /// Packets (duplicates included) that reached the other end.
    pub delivered: u64,
    /// Lost by [`Loss::Random`], or in the good state of Gilbert-Elliott.
    pub lost_random: u64,
    /// Lost in the bad state of Gilbert-Elliott.
    pub lost_burst: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Packets held back by the reorder delay.
    pub reordered: u64,
    /// Tail-dropped at the bottleneck queue.
    pub dropped_queue: u64,
    /// Dropped for exceeding the MTU.
    pub dropped_mtu: u64,
    /// Packets with bits flipped ([`Netem::corrupt`]).
    pub corrupted: u64,
}

impl LinkStats {
    /// All packets lost on the wire.
    ///
    /// ```
    /// use strata::testing::LinkStats;
    /// let s = LinkStats { lost_random: 3, lost_burst: 4, ..LinkStats::default() };
    /// assert_eq!(s.lost(), 7);
    /// ```
    pub fn lost(&self) -> u64 {
        self.lost_random + self.lost_burst
    }
}

/// Why [`Netem::offer`] dropped a packet.
///
/// ```
/// use strata::testing::{epoch, DropReason, LinkConfig, Loss, Netem};
/// let mut link = Netem::new(LinkConfig::default().loss(Loss::Random(1.0)), 1, 0);
/// assert_eq!(link.offer(epoch(), 100), Err(DropReason::Lost));
/// assert_eq!(link.offer(epoch(), 9000), Err(DropReason::Mtu));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Larger than the MTU.
    Mtu,
    /// The bottleneck queue was full.
    QueueFull,
    /// Lost at random (or in the good state of Gilbert-Elliott).
    Lost,
    /// Lost in the bad state of Gilbert-Elliott.
    BurstLost,
}

/// One copy of a packet that will arrive.
///
/// ```
/// use std::time::Duration;
/// use strata::testing::{epoch, LinkConfig, Netem};
/// let mut link = Netem::new(LinkConfig::default().delay(Duration::from_millis(5)), 1, 0);
/// let first = link.offer(epoch(), 100).unwrap().first;
/// assert_eq!(first.at, epoch() + Duration::from_millis(5));
/// assert!(!first.reordered && !first.duplicate);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// When it arrives.
    pub at: Instant,
    /// It was held back by the reorder delay.
    pub reordered: bool,
    /// It is the extra copy made by duplication.
    pub duplicate: bool,
}

/// The copies of an accepted packet: the packet, and maybe a duplicate.
///
/// ```
/// use strata::testing::{epoch, LinkConfig, Netem};
/// let mut link = Netem::new(LinkConfig::default(), 1, 0);
/// let a = link.offer(epoch(), 100).unwrap();
/// assert!(a.second.is_none()); // no duplication configured
/// assert_eq!(a.first.at, epoch());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrivals {
    /// The packet itself.
    pub first: Arrival,
    /// The duplicate, if one was made.
    pub second: Option<Arrival>,
}

impl Arrivals {
    /// Both copies, the original first.
    ///
    /// ```
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// let mut link = Netem::new(LinkConfig::default().duplicate(1.0), 1, 0);
    /// let copies: Vec<_> = link.offer(epoch(), 100).unwrap().iter().collect();
    /// assert_eq!(copies.len(), 2);
    /// assert!(!copies[0].duplicate && copies[1].duplicate);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = Arrival> + use<> {
        std::iter::once(self.first).chain(self.second)
    }
}

/// One direction of a link: the impairment model with its own seeded RNG.
///
/// The RNG is ChaCha8 (portable: the same numbers on every platform), keyed
/// by `seed` and set to `stream`, so links built from one seed with
/// different streams are independent.
///
/// # The path of one packet
///
/// [`offer`](Netem::offer) takes a packet of `len` bytes sent at `now` through, in
/// this order (and draws random numbers in this order, so a seed fixes the
/// outcome):
///
/// 1. **MTU**: over [`LinkConfig::mtu`] bytes, it is dropped.
/// 2. **Bottleneck** (only with a [`rate`](LinkConfig::rate)): if the bytes
///    queued ahead of it plus its own exceed
///    [`queue_limit`](LinkConfig::queue_limit), it is tail-dropped; otherwise
///    it is serialized after them, taking `len * 8 / rate` seconds.
/// 3. **Loss** on the wire, by the [`Loss`] model (a lost packet did use
///    the bottleneck).
/// 4. **Duplication** with probability [`duplicate`](LinkConfig::duplicate);
///    the copy then goes through step 5 on its own.
/// 5. **Delay**: [`delay`](LinkConfig::delay) plus a uniform jitter in
///    `±jitter`, never before the packet left the bottleneck. With
///    probability [`reorder`](LinkConfig::reorder) the packet gets
///    [`reorder_delay`](LinkConfig::reorder_delay) more and later packets
///    may overtake it; every other packet arrives no earlier than the one
///    before it, so jitter alone never reorders.
/// 6. **Corruption**, for whoever holds the bytes (a [`SimNet`](super::SimNet)
///    does): [`corrupt`](Netem::corrupt), called once per accepted packet,
///    flips [`corrupt_bits`](LinkConfig::corrupt_bits) random bits with
///    probability [`corrupt`](LinkConfig::corrupt); both copies of a
///    duplicated packet carry the same bits.
///
/// A probability of 0 draws no random number, so turning on an impairment
/// changes the numbers the steps after it draw, and nothing else does.
///
/// ```
/// use std::time::Duration;
/// use strata::testing::{epoch, DropReason, LinkConfig, Netem};
/// let cfg = LinkConfig::default().delay(Duration::from_millis(30)).mtu(1200);
/// let mut link = Netem::new(cfg, 7, 0);
/// let now = epoch();
/// assert_eq!(link.offer(now, 1300), Err(DropReason::Mtu));
/// let a = link.offer(now, 1000).unwrap();
/// assert_eq!(a.first.at, now + Duration::from_millis(30));
/// assert_eq!(link.stats().sent, 2);
/// ```
#[derive(Clone, Debug)]
pub struct Netem {
    cfg: LinkConfig,
    rng: ChaCha8Rng,
    /// Gilbert-Elliott state.
    bad: bool,
    /// Packets accepted by the bottleneck: (when serialized, length).
    backlog: VecDeque<(Instant, usize)>,
    backlog_bytes: usize,
    /// When the bottleneck finishes the last accepted packet.
    busy_until: Option<Instant>,
    /// Arrival of the last in-order packet (the FIFO floor).
    last_arrival: Option<Instant>,
    stats: LinkStats,
}

impl Netem {
    /// A link direction with `cfg`, its RNG keyed by `seed` on `stream`.
    ///
    /// ```
    /// use strata::testing::{epoch, LinkConfig, Loss, Netem};
    /// let cfg = LinkConfig::default().loss(Loss::Random(0.5));
    /// let fates = |stream| {
    ///     let mut link = Netem::new(cfg.clone(), 42, stream);
    ///     (0..32).map(|_| link.offer(epoch(), 100).is_ok()).collect::<Vec<_>>()
    /// };
    /// assert_eq!(fates(0), fates(0)); // same seed and stream: same fates
    /// assert_ne!(fates(0), fates(1)); // another stream draws other numbers
    /// ```
    pub fn new(cfg: LinkConfig, seed: u64, stream: u64) -> Netem {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Netem {
            cfg,
            rng,
            bad: false,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            busy_until: None,
            last_arrival: None,
            stats: LinkStats::default(),
        }
    }

    /// The configuration.
    ///
    /// ```
    /// use strata::testing::{LinkConfig, Netem};
    /// let link = Netem::new(LinkConfig::default().mtu(1280), 1, 0);
    /// assert_eq!(link.config().mtu, 1280);
    /// ```
    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// The counters.
    ///
    /// ```
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// let mut link = Netem::new(LinkConfig::default(), 1, 0);
    /// link.offer(epoch(), 100).unwrap();
    /// assert_eq!((link.stats().sent, link.stats().delivered), (1, 0));
    /// ```
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// Counts a delivered copy (the owner of the link calls it on arrival).
    ///
    /// ```
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// let mut link = Netem::new(LinkConfig::default(), 1, 0);
    /// link.offer(epoch(), 100).unwrap();
    /// link.record_delivered(); // the packet reached its Arrival::at
    /// assert_eq!(link.stats().delivered, 1);
    /// ```
    pub fn record_delivered(&mut self) {
        self.stats.delivered += 1;
    }

    /// Bytes waiting in (or being serialized by) the bottleneck at `now`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::{epoch, LinkConfig, Netem};
    /// // 1000 bytes take 1 ms at 8 Mbit/s.
    /// let mut link = Netem::new(LinkConfig::default().rate_bps(8_000_000), 1, 0);
    /// link.offer(epoch(), 1000).unwrap();
    /// link.offer(epoch(), 1000).unwrap();
    /// assert_eq!(link.queued_bytes(epoch()), 2000);
    /// assert_eq!(link.queued_bytes(epoch() + Duration::from_millis(1)), 1000);
    /// assert_eq!(link.queued_bytes(epoch() + Duration::from_millis(2)), 0);
    /// ```
    pub fn queued_bytes(&mut self, now: Instant) -> usize {
        self.drain_backlog(now);
        self.backlog_bytes
    }

    /// Sends a packet of `len` bytes at `now` (times must not go backwards):
    /// the times its copies arrive, or why it was dropped. See
    /// [`Netem`] for the order of the steps.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::testing::{epoch, DropReason, LinkConfig, Loss, Netem};
    /// let cfg = LinkConfig::default().delay(Duration::from_millis(10)).loss(Loss::Random(1.0));
    /// let mut link = Netem::new(cfg, 1, 0);
    /// assert_eq!(link.offer(epoch(), 100), Err(DropReason::Lost));
    /// let mut perfect = Netem::new(LinkConfig::default().delay(Duration::from_millis(10)), 1, 0);
    /// let a = perfect.offer(epoch(), 100).unwrap();
    /// assert_eq!(a.first.at, epoch() + Duration::from_millis(10));
    /// ```
    pub fn offer(&mut self, now: Instant, len: usize) -> Result<Arrivals, DropReason> {
        self.stats.sent += 1;
        if len > self.cfg.mtu {
            self.stats.dropped_mtu += 1;
            return Err(DropReason::Mtu);
        }
        let departs = match self.cfg.rate {
            None => now,
            Some(rate) => {
                self.drain_backlog(now);
                if self.backlog_bytes + len > self.cfg.queue_limit {
                    self.stats.dropped_queue += 1;
                    return Err(DropReason::QueueFull);
                }
                let start = self.busy_until.map_or(now, |b| b.max(now));
                let done = start + serialization(len, rate.max(1));
                self.busy_until = Some(done);
                self.backlog.push_back((done, len));
                self.backlog_bytes += len;
                done
            }
        };
        if let Some(why) = self.lose() {
            return Err(why);
        }
        let duplicate = self.cfg.duplicate > 0.0 && self.rng.r#gen::<f64>() < self.cfg.duplicate;
        let first = self.arrival(departs, false);
        let second = duplicate.then(|| {
            self.stats.duplicated += 1;
            self.arrival(departs, true)
        });
        Ok(Arrivals { first, second })
    }

    /// Step 6 of the path: with probability [`LinkConfig::corrupt`], flips
    /// [`LinkConfig::corrupt_bits`] distinct random bits of `data` (all of
    /// them if it has fewer). Returns how many flipped.
    ///
    /// ```
    /// use strata::testing::{LinkConfig, Netem};
    /// let mut link = Netem::new(LinkConfig::default().corrupt(1.0, 2), 1, 0);
    /// let mut data = [0u8; 100];
    /// assert_eq!(link.corrupt(&mut data), 2);
    /// assert_eq!(data.iter().map(|b| b.count_ones()).sum::<u32>(), 2);
    /// assert_eq!(link.stats().corrupted, 1);
    /// ```
    pub fn corrupt(&mut self, data: &mut [u8]) -> u32 {
        let p = self.cfg.corrupt;
        if p <= 0.0 || data.is_empty() || self.rng.r#gen::<f64>() >= p {
            return 0;
        }
        let bits = data.len().saturating_mul(8);
        let n = usize::try_from(self.cfg.corrupt_bits)
            .unwrap_or(usize::MAX)
            .min(bits);
        if n == bits {
            data.iter_mut().for_each(|b| *b = !*b);
        } else {
            // Distinct bits: drawn again when one comes twice. Past half of
            // them, the bits left alone are drawn instead.
            let (draw, invert) = if 2 * n > bits {
                (bits - n, true)
            } else {
                (n, false)
            };
            let mut chosen = vec![0u64; bits.div_ceil(64)];
            let mut k = 0;
            while k < draw {
                let bit = self.rng.gen_range(0..bits);
                if chosen[bit / 64] & (1 << (bit % 64)) == 0 {
                    chosen[bit / 64] |= 1 << (bit % 64);
                    k += 1;
                }
            }
            for (i, b) in data.iter_mut().enumerate() {
                let mask = (chosen[i / 8] >> (8 * (i % 8))) as u8;
                *b ^= if invert { !mask } else { mask };
            }
        }
        if n > 0 {
            self.stats.corrupted += 1;
        }
        n as u32
    }

    fn drain_backlog(&mut self, now: Instant) {
        while let Some(&(done, len)) = self.backlog.front() {
            if done > now {
                break;
            }
            self.backlog.pop_front();
            self.backlog_bytes -= len;
        }
    }

    fn lose(&mut self) -> Option<DropReason> {
        match self.cfg.loss {
            Loss::None => None,
            Loss::Random(p) => (self.rng.r#gen::<f64>() < p).then(|| {
                self.stats.lost_random += 1;
                DropReason::Lost
            }),
            Loss::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let flip = self.rng.r#gen::<f64>();
                if self.bad && flip < p_bad_to_good {
                    self.bad = false;
                } else if !self.bad && flip < p_good_to_bad {
                    self.bad = true;
                }
                let p = if self.bad { loss_bad } else { loss_good };
                if self.rng.r#gen::<f64>() >= p {
                    return None;
                }
                if self.bad {
                    self.stats.lost_burst += 1;
                    Some(DropReason::BurstLost)
                } else {
                    self.stats.lost_random += 1;
                    Some(DropReason::Lost)
                }
            }
        }
    }

    fn arrival(&mut self, departs: Instant, duplicate: bool) -> Arrival {
        let mut at = departs + self.cfg.delay;
        let jitter = u64::try_from(self.cfg.jitter.as_nanos()).unwrap_or(u64::MAX / 2);
        if jitter > 0 {
            let j = self.rng.gen_range(0..=2 * jitter);
            at = if j >= jitter {
                at + Duration::from_nanos(j - jitter)
            } else {
                // Never before the packet left the bottleneck.
                at.checked_sub(Duration::from_nanos(jitter - j))
                    .map_or(departs, |t| t.max(departs))
            };
        }
        let reordered = self.cfg.reorder > 0.0 && self.rng.r#gen::<f64>() < self.cfg.reorder;
        if reordered {
            self.stats.reordered += 1;
            at += self.cfg.reorder_delay;
        } else {
            at = self.last_arrival.map_or(at, |l| l.max(at));
            self.last_arrival = Some(at);
        }
        Arrival {
            at,
            reordered,
            duplicate,
        }
    }
}

/// How long `bytes` take at `bits_per_sec`, rounded up to the nanosecond.
fn serialization(bytes: usize, bits_per_sec: u64) -> Duration {
    let ns = (bytes as u128 * 8 * 1_000_000_000).div_ceil(bits_per_sec as u128);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}
