//! A small deterministic packet-level simulation for the controllers: one
//! bulk sender (controller + pacer + RTT estimator + delivery-rate sampler,
//! SACK-style loss detection with packet and time thresholds, and a probe
//! timeout) over a bottleneck link: the test kit's link model
//! ([`Netem`]: rate, one-way delay, FIFO tail-drop queue, seeded random
//! loss after the queue). Every packet is acknowledged over a lossless
//! return path of the same delay: at once, or, to model a user-space host
//! (a driver that wakes, reads a batch and acknowledges it), held until the
//! next tick of an acknowledgement clock ([`Link::ack_every`]); the pacer's
//! wake-ups can likewise be rounded up to a timer's granularity
//! ([`Link::timer_granularity`], tokio's is 1 ms).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use crate::testing::{DropReason, LinkConfig, Loss, Netem};

use super::{
    bytes_in, new_controller, CcAlgorithm, CongestionController, DeliveryRateSampler, Pacer,
    RttEstimator, SentPacketInfo,
};

/// The simulated path.
#[derive(Clone, Copy, Debug)]
pub(super) struct Link {
    /// Bottleneck rate, bytes per second.
    pub rate: u64,
    /// One-way propagation delay (each direction).
    pub one_way: Duration,
    /// FIFO queue limit in bytes.
    pub queue: u64,
    /// Random loss probability per packet, applied after the queue.
    pub loss: f64,
    pub seed: u64,
    /// Acknowledgements leave the receiver only on this clock's ticks (all
    /// those due since the last tick in one burst). Zero: each at once.
    pub ack_every: Duration,
    /// The sender's pacing timer fires only on this clock's ticks. Zero:
    /// exactly when due.
    pub timer_granularity: Duration,
}

impl Link {
    /// `mbit` Mbit/s, `rtt` round trip, queue of one BDP.
    pub fn bdp_queue(mbit: u64, rtt: Duration, loss: f64, seed: u64) -> Self {
        let rate = mbit * 1_000_000 / 8;
        Link {
            rate,
            one_way: rtt / 2,
            queue: bytes_in(rate, rtt),
            loss,
            seed,
            ack_every: Duration::ZERO,
            timer_granularity: Duration::ZERO,
        }
    }

    pub fn rtt(&self) -> Duration {
        self.one_way * 2
    }

    /// The forward direction as the test kit's link model.
    fn netem(&self) -> Netem {
        let cfg = LinkConfig::default()
            .rate_bps(self.rate.saturating_mul(8))
            .delay(self.one_way)
            .queue_limit(usize::try_from(self.queue).unwrap_or(usize::MAX))
            .loss(Loss::Random(self.loss))
            .mtu(MSS as usize);
        Netem::new(cfg, self.seed, 0)
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub(super) struct Outcome {
    /// Bytes delivered in order to the receiver within the run.
    pub goodput_bytes: u64,
    pub duration: Duration,
    pub packets_sent: u64,
    pub random_drops: u64,
    pub queue_drops: u64,
    pub timeouts: u64,
}

impl Outcome {
    pub fn goodput_rate(&self) -> f64 {
        self.goodput_bytes as f64 / self.duration.as_secs_f64()
    }
}

pub(super) const MSS: u64 = super::DEFAULT_MTU;
const PACKET_THRESHOLD: u64 = 3;

struct Sent {
    info: SentPacketInfo,
    segment: u64,
}

/// Runs `alg` over `link` for `duration` of simulated time.
pub(super) fn run(alg: CcAlgorithm, link: Link, duration: Duration) -> Outcome {
    let mut cc = new_controller(alg, MSS);
    run_with(cc.as_mut(), link, duration)
}

/// Runs the controller `cc` (datagram size [`MSS`]) over `link` for
/// `duration` of simulated time.
pub(super) fn run_with(
    cc: &mut dyn CongestionController,
    link: Link,
    duration: Duration,
) -> Outcome {
    let t0 = Instant::now();
    let end = t0 + duration;
    let mut wire = link.netem();
    let mut rtt = RttEstimator::default();
    let mut rate = DeliveryRateSampler::new();
    let mut pacer = Pacer::new(MSS);
    pacer.set_rate(cc.pacing_rate(&rtt), cc.window());

    // Sender.
    let mut sent: BTreeMap<u64, Sent> = BTreeMap::new();
    let mut next_pn = 0u64;
    let mut next_segment = 0u64;
    let mut retransmit: VecDeque<u64> = VecDeque::new();
    let mut inflight = 0u64;
    let mut largest_acked: Option<u64> = None;
    let mut last_send = t0;
    let mut backoff = 0u32;
    // Receiver.
    let mut acks: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut received: Vec<bool> = Vec::new();
    let mut out = Outcome {
        goodput_bytes: 0,
        duration,
        packets_sent: 0,
        random_drops: 0,
        queue_drops: 0,
        timeouts: 0,
    };

    let mut now = t0;
    loop {
        // Acknowledgements due.
        let mut newly_acked = false;
        while let Some(&Reverse((at, pn))) = acks.peek() {
            if at > now {
                break;
            }
            acks.pop();
            let Some(p) = sent.remove(&pn) else { continue }; // already declared lost
            newly_acked = true;
            inflight -= p.info.bytes;
            largest_acked = Some(largest_acked.map_or(pn, |l| l.max(pn)));
            rtt.update(
                now.saturating_duration_since(p.info.sent_time),
                Duration::ZERO,
            );
            let acked = rate.on_packet_acked(now, &p.info, rtt.min_rtt());
            cc.on_ack(now, &acked, &rtt, false);
        }
        if newly_acked {
            backoff = 0;
            // Loss detection: packet and time thresholds.
            let largest = largest_acked.unwrap_or(0);
            let loss_delay = rtt.loss_delay();
            let mut lost_bytes = 0;
            let mut newest_lost = None;
            while let Some((&pn, p)) = sent.first_key_value() {
                let by_count = pn + PACKET_THRESHOLD <= largest;
                let by_time = pn < largest && p.info.sent_time + loss_delay <= now;
                if !(by_count || by_time) {
                    break;
                }
                lost_bytes += p.info.bytes;
                newest_lost = Some(p.info.sent_time);
                retransmit.push_back(p.segment);
                inflight -= p.info.bytes;
                sent.remove(&pn);
            }
            if let Some(t) = newest_lost {
                cc.on_congestion_event(now, t, lost_bytes);
            }
        }
        // Probe timeout: everything outstanding is declared lost.
        if inflight > 0 && now >= last_send + rtt.pto_base() * 2u32.pow(backoff.min(6)) {
            out.timeouts += 1;
            backoff += 1;
            let lost: u64 = sent.values().map(|p| p.info.bytes).sum();
            let newest = sent.values().map(|p| p.info.sent_time).max().unwrap_or(now);
            retransmit.extend(sent.values().map(|p| p.segment));
            sent.clear();
            inflight = 0;
            cc.on_congestion_event(now, newest, lost);
            cc.on_persistent_congestion();
            last_send = now;
        }
        pacer.set_rate(cc.pacing_rate(&rtt), cc.window());

        // Send while the window and the pacer allow.
        let mut pacer_wake = None;
        while inflight + MSS <= cc.window() {
            if let Some(t) = pacer.next_send_time(now, MSS) {
                pacer_wake = Some(t);
                break;
            }
            let segment = retransmit.pop_front().unwrap_or_else(|| {
                next_segment += 1;
                next_segment - 1
            });
            let pn = next_pn;
            next_pn += 1;
            let info = rate.on_packet_sent(now, MSS, inflight);
            cc.on_packet_sent(now, MSS, inflight);
            pacer.on_sent(now, MSS);
            sent.insert(pn, Sent { info, segment });
            inflight += MSS;
            last_send = now;
            out.packets_sent += 1;
            // The bottleneck and the wire.
            let arrival = match wire.offer(now, MSS as usize) {
                Ok(a) => a.first.at,
                Err(DropReason::QueueFull) => {
                    out.queue_drops += 1;
                    continue;
                }
                Err(_) => {
                    out.random_drops += 1;
                    continue;
                }
            };
            if arrival <= end {
                let i = segment as usize;
                if received.len() <= i {
                    received.resize(i + 1, false);
                }
                received[i] = true;
            }
            let acked_at = on_tick(t0, arrival, link.ack_every) + link.one_way;
            acks.push(Reverse((acked_at, pn)));
        }

        // Next event.
        let pto = (inflight > 0).then(|| last_send + rtt.pto_base() * 2u32.pow(backoff.min(6)));
        let pacer_wake = pacer_wake.map(|t| on_tick(t0, t, link.timer_granularity));
        let next = [acks.peek().map(|r| r.0 .0), pacer_wake, pto]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= end => now = t.max(now),
            _ => break,
        }
    }
    let in_order = received.iter().position(|r| !r).unwrap_or(received.len()) as u64;
    out.goodput_bytes = in_order * MSS;
    out
}

/// `at` rounded up to the next tick of a clock started at `t0` with period
/// `tick` (`at` itself when it falls on a tick, or when `tick` is zero).
fn on_tick(t0: Instant, at: Instant, tick: Duration) -> Instant {
    let tick = tick.as_nanos();
    if tick == 0 {
        return at;
    }
    let since = at.saturating_duration_since(t0).as_nanos();
    let ticks = since.div_ceil(tick);
    let nanos = u64::try_from(ticks.saturating_mul(tick)).unwrap_or(u64::MAX);
    t0 + Duration::from_nanos(nanos)
}
