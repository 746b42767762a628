//! A BBR-style model-based controller (BBRv1's state machine with a
//! BBRv2-style loss policy).

use std::time::{Duration, Instant};

use super::{
    bytes_in, bytes_per_sec, clamp_mtu, initial_window, AckedPacket, CongestionController,
    RttEstimator,
};
use crate::deadline::after;

/// Startup's pacing and window gain, `2 / ln 2`: doubles the delivery rate
/// each round trip.
const HIGH_GAIN: f64 = 2.885_390_081_777_927;
/// ProbeBW's window gain.
const CWND_GAIN: f64 = 2.0;
/// ProbeBW's pacing gain cycle: probe up, drain the probe's queue, cruise.
const PACING_GAIN_CYCLE: [f64; 8] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
/// The phase ProbeBW starts in (the first cruising phase; a fixed choice so
/// that runs are deterministic).
const PROBE_BW_START_PHASE: usize = 2;
/// The bandwidth filter keeps the maximum over this many round trips.
const BW_WINDOW_ROUNDS: u64 = 10;
/// The min-RTT filter window: without a new minimum for this long, ProbeRTT
/// is entered to measure it again.
pub(crate) const MIN_RTT_WINDOW: Duration = Duration::from_secs(10);
/// How long ProbeRTT holds the window at [`PROBE_RTT_CWND_PACKETS`]
/// (at least one round trip as well).
const PROBE_RTT_DURATION: Duration = Duration::from_millis(200);
/// The window in ProbeRTT and the floor everywhere, in datagrams.
const PROBE_RTT_CWND_PACKETS: u64 = 4;
/// Startup ends once the bandwidth grew by less than 25% ...
const FULL_BW_GROWTH: f64 = 1.25;
/// ... for this many round trips in a row.
const FULL_BW_ROUNDS: u32 = 3;
/// Send quanta added to the window target (BBR's offload budget): what a
/// host that sends in batches and reads acknowledgements in batches holds
/// in flight beyond the path's BDP.
const QUANTA: u64 = 3;
/// A send quantum is what the pacing rate earns in this long ...
const SEND_QUANTUM_INTERVAL: Duration = Duration::from_millis(1);
/// ... at most this much (one GSO batch of the driver, as TSO's 64 KiB is
/// the kernel's), and at least one datagram. (The draft's quantum is two
/// datagrams above 1.2 Mbit/s; one keeps the window of slow lossy paths
/// where the simulated table in docs/reliable.md was tuned.)
const MAX_SEND_QUANTUM: u64 = 64 * 1024;

/// A round must have lost at least this many datagrams' worth before the
/// loss rate is judged (a single loss in a short round is not a signal).
const MIN_LOSS_PACKETS: u64 = 3;
/// In Startup, the least datagrams a round must lose before its loss rate
/// may end Startup (BBRv2's `full_loss_cnt`): early rounds are a few
/// datagrams long, and random loss makes some of them look congested, which
/// would end the search at a fraction of the path's bandwidth.
const STARTUP_MIN_LOSS_PACKETS: u64 = 8;
/// On a high-loss round the in-flight cap is the in-flight amount times this
/// (BBRv2's `beta`).
const LOSS_BETA: f64 = 0.7;

/// The loss-rate threshold, as a ratio `(numerator, denominator)`: BBR
/// reacts to loss only when more than 20% of the bytes of one round trip
/// were lost (BBRv2's `loss_thresh`).
pub const BBR_LOSS_THRESHOLD: (u64, u64) = (1, 5);

/// BBR's state machine modes.
///
/// ```
/// use strata::reliable::cc::{Bbr, BbrMode};
/// assert_eq!(Bbr::new(1200).mode(), BbrMode::Startup);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BbrMode {
    /// Exponential search for the bottleneck bandwidth (gain 2/ln2).
    Startup,
    /// Drains the queue Startup built (pacing gain ln2/2).
    Drain,
    /// Steady state: cycles the pacing gain 1.25, 0.75, then 1 for six
    /// round trips, with the window at twice the estimated BDP.
    ProbeBw,
    /// Holds the window at four datagrams for 200 ms and a round trip to
    /// measure the path's minimum RTT again.
    ProbeRtt,
}

/// A BBR-style controller: it models the path as a bottleneck bandwidth
/// (windowed max of delivery-rate samples over 10 round trips) and a
/// propagation delay (min RTT over 10 s), paces at `gain x bandwidth` and
/// caps in-flight data at `gain x BDP`.
///
/// # Loss policy
///
/// Loss does not by itself reduce the rate: random loss on a lossy link
/// leaves the bandwidth model intact, since delivery-rate samples measure
/// what gets through. Only when a round trip loses more than
/// [`BBR_LOSS_THRESHOLD`] (20%) of its bytes, and at least three datagrams,
/// does BBR treat it as congestion (as BBRv2 does): Startup ends, a ProbeBW
/// probe ends early, and in-flight data is capped at 0.7 x the amount in
/// flight when the loss was seen. The cap is lifted at the start of the
/// next bandwidth probe (ProbeBW's 1.25 phase), so BBR keeps searching.
/// Persistent congestion collapses the window to four datagrams, regrown
/// from ACKs toward the model's target. There is no separate packet
/// conservation phase in recovery.
///
/// BBR ignores the `app_limited` argument of
/// [`on_ack`](CongestionController::on_ack): the delivery-rate sample's own
/// flag (set through [`DeliveryRateSampler::on_app_limited`](super::DeliveryRateSampler::on_app_limited))
/// is used instead: an app-limited sample enters the bandwidth filter only
/// if it raises the estimate, and does not count toward Startup's
/// full-pipe check.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::reliable::cc::{Bbr, BbrMode, CongestionController, RttEstimator};
/// let bbr = Bbr::new(1200);
/// assert_eq!(bbr.mode(), BbrMode::Startup);
/// assert_eq!(bbr.window(), 12000);
/// // Before any bandwidth sample: pace at 2/ln2 x window / RTT.
/// let rtt = RttEstimator::new(Duration::from_millis(100));
/// assert_eq!(bbr.pacing_rate(&rtt), Some(346_240));
/// ```
#[derive(Clone, Debug)]
pub struct Bbr {
    mtu: u64,
    mode: BbrMode,
    cwnd: u64,
    inflight: u64,
    pacing_rate: u64,
    pacing_gain: f64,
    cwnd_gain: f64,
    /// Per-round maximum delivery rates, indexed by `round % BW_WINDOW_ROUNDS`.
    bw_slots: [(u64, u64); BW_WINDOW_ROUNDS as usize],
    min_rtt: Option<Duration>,
    min_rtt_stamp: Option<Instant>,
    round_count: u64,
    next_round_delivered: u64,
    round_start: bool,
    full_bw: u64,
    full_bw_count: u32,
    filled_pipe: bool,
    cycle_index: usize,
    cycle_stamp: Option<Instant>,
    probe_rtt_done: Option<Instant>,
    probe_rtt_round_done: bool,
    prior_cwnd: u64,
    round_acked: u64,
    round_lost: u64,
    high_loss_round: Option<u64>,
    inflight_hi: u64,
}

impl Bbr {
    /// A controller for datagrams of `mtu` bytes, in Startup with
    /// [`initial_window`].
    ///
    /// ```
    /// use strata::reliable::cc::{Bbr, CongestionController};
    /// assert_eq!(Bbr::new(1200).name(), "bbr");
    /// ```
    pub fn new(mtu: u64) -> Self {
        let mtu = clamp_mtu(mtu);
        Bbr {
            mtu,
            mode: BbrMode::Startup,
            cwnd: initial_window(mtu),
            inflight: 0,
            pacing_rate: 0,
            pacing_gain: HIGH_GAIN,
            cwnd_gain: HIGH_GAIN,
            bw_slots: [(0, 0); BW_WINDOW_ROUNDS as usize],
            min_rtt: None,
            min_rtt_stamp: None,
            round_count: 0,
            next_round_delivered: 0,
            round_start: false,
            full_bw: 0,
            full_bw_count: 0,
            filled_pipe: false,
            cycle_index: 0,
            cycle_stamp: None,
            probe_rtt_done: None,
            probe_rtt_round_done: false,
            prior_cwnd: 0,
            round_acked: 0,
            round_lost: 0,
            high_loss_round: None,
            inflight_hi: u64::MAX,
        }
    }

    /// The current mode.
    ///
    /// ```
    /// use strata::reliable::cc::{Bbr, BbrMode};
    /// assert_eq!(Bbr::new(1200).mode(), BbrMode::Startup);
    /// ```
    pub fn mode(&self) -> BbrMode {
        self.mode
    }

    /// The bottleneck bandwidth estimate in bytes per second (0 before the
    /// first sample).
    ///
    /// ```
    /// use strata::reliable::cc::Bbr;
    /// assert_eq!(Bbr::new(1200).bandwidth(), 0);
    /// ```
    pub fn bandwidth(&self) -> u64 {
        self.bw_slots
            .iter()
            .filter(|(round, _)| self.round_count.saturating_sub(*round) < BW_WINDOW_ROUNDS)
            .map(|&(_, bw)| bw)
            .max()
            .unwrap_or(0)
    }

    /// The min-RTT estimate, if any.
    ///
    /// ```
    /// use strata::reliable::cc::Bbr;
    /// assert_eq!(Bbr::new(1200).min_rtt(), None);
    /// ```
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// Whether Startup judged the pipe full.
    ///
    /// ```
    /// use strata::reliable::cc::Bbr;
    /// assert!(!Bbr::new(1200).filled_pipe());
    /// ```
    pub fn filled_pipe(&self) -> bool {
        self.filled_pipe
    }

    fn min_cwnd(&self) -> u64 {
        PROBE_RTT_CWND_PACKETS * self.mtu
    }

    /// `gain x bandwidth x min_rtt` in bytes, or the initial window without
    /// a model yet.
    fn bdp(&self, gain: f64) -> u64 {
        let bw = self.bandwidth();
        match self.min_rtt {
            Some(rtt) if bw > 0 => (bytes_in(bw, rtt) as f64 * gain) as u64,
            _ => (initial_window(self.mtu) as f64 * gain) as u64,
        }
    }

    fn update_bw(&mut self, sample: u64) {
        let slot = (self.round_count % BW_WINDOW_ROUNDS) as usize;
        if let Some(entry) = self.bw_slots.get_mut(slot) {
            if entry.0 != self.round_count {
                *entry = (self.round_count, sample);
            } else if sample > entry.1 {
                entry.1 = sample;
            }
        }
    }

    fn enter_probe_bw(&mut self, now: Instant) {
        self.mode = BbrMode::ProbeBw;
        self.cwnd_gain = CWND_GAIN;
        self.cycle_index = PROBE_BW_START_PHASE;
        self.cycle_stamp = Some(now);
        self.pacing_gain = PACING_GAIN_CYCLE
            .get(self.cycle_index)
            .copied()
            .unwrap_or(1.0);
    }

    fn advance_cycle(&mut self, now: Instant) {
        self.cycle_index = (self.cycle_index + 1) % PACING_GAIN_CYCLE.len();
        self.cycle_stamp = Some(now);
        self.pacing_gain = PACING_GAIN_CYCLE
            .get(self.cycle_index)
            .copied()
            .unwrap_or(1.0);
        if self.cycle_index == 0 {
            // A new bandwidth probe: lift the loss-imposed cap.
            self.inflight_hi = u64::MAX;
        }
    }

    fn update_cycle_phase(&mut self, now: Instant) {
        if self.mode != BbrMode::ProbeBw {
            return;
        }
        let min_rtt = self.min_rtt.unwrap_or(Duration::ZERO);
        let full_length = self
            .cycle_stamp
            .is_none_or(|s| now.saturating_duration_since(s) > min_rtt);
        let high_loss = self.high_loss_round == Some(self.round_count);
        let next = if self.pacing_gain > 1.0 {
            high_loss || (full_length && self.inflight >= self.bdp(self.pacing_gain))
        } else if self.pacing_gain < 1.0 {
            full_length || self.inflight <= self.bdp(1.0)
        } else {
            full_length
        };
        if next {
            self.advance_cycle(now);
        }
    }

    fn check_full_pipe(&mut self, app_limited: bool) {
        if self.filled_pipe || !self.round_start || app_limited {
            return;
        }
        let bw = self.bandwidth();
        if bw as f64 >= self.full_bw as f64 * FULL_BW_GROWTH {
            self.full_bw = bw;
            self.full_bw_count = 0;
            return;
        }
        self.full_bw_count += 1;
        if self.full_bw_count >= FULL_BW_ROUNDS {
            self.filled_pipe = true;
        }
    }

    fn check_drain(&mut self, now: Instant) {
        if self.mode == BbrMode::Startup && self.filled_pipe {
            self.mode = BbrMode::Drain;
            self.pacing_gain = 1.0 / HIGH_GAIN;
            self.cwnd_gain = HIGH_GAIN;
        }
        if self.mode == BbrMode::Drain && self.inflight <= self.bdp(1.0) {
            self.enter_probe_bw(now);
        }
    }

    fn update_min_rtt(&mut self, now: Instant, sample: Duration, total_delivered: u64) {
        let expired = self
            .min_rtt_stamp
            .is_some_and(|s| now.saturating_duration_since(s) > MIN_RTT_WINDOW);
        if self.min_rtt.is_none_or(|m| sample <= m) || expired {
            self.min_rtt = Some(sample);
            self.min_rtt_stamp = Some(now);
        }
        if expired && self.mode != BbrMode::ProbeRtt {
            self.mode = BbrMode::ProbeRtt;
            self.pacing_gain = 1.0;
            self.cwnd_gain = 1.0;
            self.prior_cwnd = self.cwnd;
            self.probe_rtt_done = None;
        }
        if self.mode == BbrMode::ProbeRtt {
            match self.probe_rtt_done {
                None if self.inflight <= self.min_cwnd() => {
                    self.probe_rtt_done = Some(after(now, PROBE_RTT_DURATION));
                    self.probe_rtt_round_done = false;
                    self.next_round_delivered = total_delivered;
                }
                None => {}
                Some(done) => {
                    if self.round_start {
                        self.probe_rtt_round_done = true;
                    }
                    if self.probe_rtt_round_done && now >= done {
                        self.min_rtt_stamp = Some(now);
                        self.cwnd = self.cwnd.max(self.prior_cwnd);
                        if self.filled_pipe {
                            self.enter_probe_bw(now);
                        } else {
                            self.mode = BbrMode::Startup;
                            self.pacing_gain = HIGH_GAIN;
                            self.cwnd_gain = HIGH_GAIN;
                        }
                    }
                }
            }
        }
    }

    fn set_pacing_rate(&mut self) {
        let bw = self.bandwidth();
        if bw == 0 {
            return;
        }
        let rate = (bw as f64 * self.pacing_gain) as u64;
        if self.filled_pipe || rate > self.pacing_rate {
            self.pacing_rate = rate;
        }
    }

    /// The send quantum: what the pacer releases in one burst and the
    /// driver in one batch (draft-ietf-ccwg-bbr, `BBRSetSendQuantum`).
    fn send_quantum(&self) -> u64 {
        bytes_in(self.pacing_rate, SEND_QUANTUM_INTERVAL)
            .clamp(self.mtu, MAX_SEND_QUANTUM.max(self.mtu))
    }

    fn set_cwnd(&mut self, acked: u64, total_delivered: u64) {
        // The model's BDP covers the path; the quanta cover the host: on a
        // path whose round trip is shorter than the sender's cycle of
        // wake-ups and batched system calls (loopback, a LAN), a window of
        // `gain x BDP` alone holds less than one cycle's worth, so the ACK
        // clock, not the path, sets the rate, and Startup sees no growth.
        let mut target = self
            .bdp(self.cwnd_gain)
            .saturating_add(QUANTA * self.send_quantum());
        if self.mode == BbrMode::ProbeBw && self.cycle_index == 0 {
            target = target.saturating_add(2 * self.mtu);
        }
        if self.filled_pipe {
            self.cwnd = self.cwnd.saturating_add(acked).min(target);
        } else if self.cwnd < target || total_delivered < initial_window(self.mtu) {
            self.cwnd = self.cwnd.saturating_add(acked);
        }
        self.cwnd = self.cwnd.min(self.inflight_hi).max(self.min_cwnd());
        if self.mode == BbrMode::ProbeRtt {
            self.cwnd = self.cwnd.min(self.min_cwnd());
        }
    }

    /// Judges the current round's loss rate; reacts once per round.
    fn check_loss(&mut self, now: Instant, inflight_at_loss: u64) {
        if self.high_loss_round == Some(self.round_count) {
            return;
        }
        let (num, den) = BBR_LOSS_THRESHOLD;
        let total = self.round_acked.saturating_add(self.round_lost);
        let min_lost = if self.mode == BbrMode::Startup {
            STARTUP_MIN_LOSS_PACKETS
        } else {
            MIN_LOSS_PACKETS
        };
        // The round's loss must be significantly above the threshold, not
        // just above it: a short round of a path with heavy random loss
        // crosses 20% by chance, and each false reaction shrinks the next
        // rounds (a spiral). "Significantly": by two standard deviations of
        // the binomial count at the threshold rate, in datagrams.
        let packets = |b: u64| b as f64 / self.mtu as f64;
        let (lost, n) = (packets(self.round_lost), packets(total));
        let p = num as f64 / den as f64;
        let bound = n * p + 2.0 * (n * p * (1.0 - p)).sqrt();
        let too_high = self.round_lost >= min_lost * self.mtu && lost > bound;
        if !too_high {
            return;
        }
        self.high_loss_round = Some(self.round_count);
        // As BBRv2: the cap comes from the larger of what was in flight and
        // the model's BDP. In flight alone may be momentarily small (flow
        // control, the application), and a cap from it would hold the
        // window far below the path for many rounds.
        let base = inflight_at_loss.max(self.bdp(1.0));
        self.inflight_hi = ((base as f64 * LOSS_BETA) as u64).max(self.min_cwnd());
        self.cwnd = self.cwnd.min(self.inflight_hi);
        match self.mode {
            BbrMode::Startup => {
                self.filled_pipe = true;
                self.check_drain(now);
            }
            BbrMode::ProbeBw if self.pacing_gain > 1.0 => self.advance_cycle(now),
            _ => {}
        }
    }
}

impl CongestionController for Bbr {
    fn on_packet_sent(&mut self, _now: Instant, bytes: u64, bytes_in_flight: u64) {
        self.inflight = bytes_in_flight.saturating_add(bytes);
    }

    fn on_ack(
        &mut self,
        now: Instant,
        acked: &AckedPacket,
        _rtt: &RttEstimator,
        _app_limited: bool,
    ) {
        self.inflight = self.inflight.saturating_sub(acked.bytes);
        self.round_start = false;
        if acked.delivered_at_send >= self.next_round_delivered {
            self.next_round_delivered = acked.total_delivered;
            self.round_count += 1;
            self.round_start = true;
            self.round_acked = 0;
            self.round_lost = 0;
        }
        self.round_acked = self.round_acked.saturating_add(acked.bytes);
        let sample_app_limited = acked.rate_sample.is_some_and(|s| s.app_limited);
        if let Some(sample) = acked.rate_sample
            && (!sample.app_limited || sample.delivery_rate >= self.bandwidth())
        {
            self.update_bw(sample.delivery_rate);
        }
        self.update_cycle_phase(now);
        self.check_full_pipe(sample_app_limited);
        self.check_drain(now);
        let rtt_sample = now.saturating_duration_since(acked.sent_time);
        self.update_min_rtt(now, rtt_sample, acked.total_delivered);
        self.set_pacing_rate();
        self.set_cwnd(acked.bytes, acked.total_delivered);
    }

    fn on_congestion_event(&mut self, now: Instant, _lost_sent_time: Instant, lost_bytes: u64) {
        let inflight_at_loss = self.inflight;
        self.inflight = self.inflight.saturating_sub(lost_bytes);
        self.round_lost = self.round_lost.saturating_add(lost_bytes);
        self.check_loss(now, inflight_at_loss);
    }

    fn on_persistent_congestion(&mut self) {
        self.prior_cwnd = self.cwnd;
        self.cwnd = self.min_cwnd();
        self.inflight = 0;
    }

    fn window(&self) -> u64 {
        self.cwnd
    }

    fn pacing_rate(&self, rtt: &RttEstimator) -> Option<u64> {
        if self.pacing_rate > 0 {
            return Some(self.pacing_rate);
        }
        let rtt = self.min_rtt.unwrap_or_else(|| rtt.smoothed());
        bytes_per_sec((self.cwnd as f64 * HIGH_GAIN) as u64, rtt)
    }

    fn name(&self) -> &'static str {
        "bbr"
    }

    fn state(&self) -> &'static str {
        match self.mode {
            BbrMode::Startup => "startup",
            BbrMode::Drain => "drain",
            BbrMode::ProbeBw => "probe_bw",
            BbrMode::ProbeRtt => "probe_rtt",
        }
    }
}
