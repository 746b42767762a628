//! Loss recovery in the style of RFC 9002: the record of sent packets,
//! acknowledgement processing, loss detection by packet and time
//! thresholds, probe timeouts, and the calls into congestion control.

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use super::qlog::LossTrigger;
use super::{Connection, State, Timer};
use crate::deadline::after;
use crate::reliable::cc::SentPacketInfo;

/// Packet reordering threshold (RFC 9002 §6.1.1).
const PACKET_THRESHOLD: u64 = 3;

/// Persistent congestion: lost packets spanning this many PTOs (RFC 9002 §7.6).
const PERSISTENT_CONGESTION_THRESHOLD: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    Outstanding,
    Acked,
    Lost,
}

/// What a sent, ack-eliciting packet carried that must be sent again if it
/// is lost.
#[derive(Clone, Debug)]
pub(super) struct SentPacket {
    pub(super) pn: u64,
    pub(super) time: Instant,
    pub(super) size: u64,
    pub(super) fate: Fate,
    /// Stream bytes `offset..offset+len`, and whether it carried the FIN.
    pub(super) stream: Option<(u64, u32, bool)>,
    pub(super) max_data: bool,
    pub(super) reset: bool,
    /// An Initial or Handshake packet.
    pub(super) handshake: bool,
    pub(super) info: Option<SentPacketInfo>,
}

impl Connection {
    /// Records an ack-eliciting packet just sent.
    pub(super) fn on_packet_sent(&mut self, now: Instant, mut p: SentPacket) {
        let bytes = p.size;
        p.info = Some(self.rate.on_packet_sent(now, bytes, self.bytes_in_flight));
        self.cc.on_packet_sent(now, bytes, self.bytes_in_flight);
        self.pacer.on_sent(now, bytes);
        self.bytes_in_flight += bytes;
        self.ack_eliciting_in_flight += 1;
        self.last_ack_eliciting_sent = Some(now);
        self.sent.push_back(p);
    }

    fn index_of(&self, pn: u64) -> usize {
        self.sent.partition_point(|p| p.pn < pn)
    }

    /// An ACK frame's ranges (highest first).
    pub(super) fn on_ack_ranges(
        &mut self,
        now: Instant,
        largest: u64,
        delay: Duration,
        ranges: impl Iterator<Item = RangeInclusive<u64>>,
    ) {
        let mut newly: Vec<usize> = Vec::new();
        for r in ranges {
            let mut i = self.index_of(*r.start());
            while let Some(p) = self.sent.get(i) {
                if p.pn > *r.end() {
                    break;
                }
                if p.fate == Fate::Outstanding {
                    newly.push(i);
                }
                i += 1;
            }
        }
        if newly.is_empty() {
            return;
        }
        newly.sort_unstable();
        self.largest_acked = Some(self.largest_acked.map_or(largest, |l| l.max(largest)));
        // RTT from the largest acknowledged, if it is newly acknowledged.
        if let Some(&last) = newly.last() {
            let p = &self.sent[last];
            if p.pn == largest {
                let latest = now.saturating_duration_since(p.time);
                let delay = if self.state == State::Established {
                    delay.min(self.cfg.max_ack_delay)
                } else {
                    Duration::ZERO
                };
                self.rtt.update(latest, delay);
            }
        }
        let app_limited = self.rate.is_app_limited();
        for i in newly {
            let p = self.sent[i].clone();
            self.sent[i].fate = Fate::Acked;
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(p.size);
            self.ack_eliciting_in_flight = self.ack_eliciting_in_flight.saturating_sub(1);
            if let Some((off, len, fin)) = p.stream {
                self.send.on_acked(off..off + u64::from(len), fin);
            }
            if p.reset {
                self.send.on_reset_outcome(true);
            }
            if p.handshake && self.state == State::Handshake && self.side == super::Side::Server {
                // The client acknowledged our Handshake: it has our id, and
                // its address is proven.
                self.validated = true;
                self.set_established();
            }
            if let Some(info) = p.info {
                let min_rtt = self.rtt.min_rtt();
                let acked = self.rate.on_packet_acked(now, &info, min_rtt);
                self.cc.on_ack(now, &acked, &self.rtt, app_limited);
            }
        }
        self.pto_count = 0;
        self.detect_lost(now);
        self.refresh_pacer();
        self.trim_sent();
    }

    pub(super) fn refresh_pacer(&mut self) {
        self.pacer
            .set_rate(self.cc.pacing_rate(&self.rtt), self.cc.window());
    }

    /// Drops settled packets from the front of the record.
    fn trim_sent(&mut self) {
        while self
            .sent
            .front()
            .is_some_and(|p| p.fate != Fate::Outstanding)
        {
            self.sent.pop_front();
        }
    }

    /// Declares packets lost by the packet and time thresholds, and arms the
    /// loss timer for the earliest one that may still arrive.
    pub(super) fn detect_lost(&mut self, now: Instant) {
        self.timers.stop(Timer::LossDetection);
        let Some(largest) = self.largest_acked else {
            return;
        };
        let loss_delay = self.rtt.loss_delay();
        let mut lost_bytes = 0;
        let mut newest_lost: Option<Instant> = None;
        let mut first_lost: Option<(usize, Instant)> = None;
        let mut last_lost_idx = 0;
        let mut loss_time: Option<Instant> = None;
        for i in 0..self.sent.len() {
            let p = &self.sent[i];
            if p.pn > largest {
                break;
            }
            if p.fate != Fate::Outstanding {
                continue;
            }
            let by_time = now.saturating_duration_since(p.time) >= loss_delay;
            if largest >= p.pn + PACKET_THRESHOLD || by_time {
                let trigger = if by_time {
                    LossTrigger::Time
                } else {
                    LossTrigger::Reordering
                };
                let p = self.sent[i].clone();
                self.sent[i].fate = Fate::Lost;
                self.on_lost(&p);
                self.qlog_lost(now, p.pn, p.size, p.handshake, trigger);
                lost_bytes += p.size;
                newest_lost = Some(newest_lost.map_or(p.time, |t: Instant| t.max(p.time)));
                first_lost.get_or_insert((i, p.time));
                last_lost_idx = i;
            } else {
                let t = after(p.time, loss_delay);
                loss_time = Some(loss_time.map_or(t, |l: Instant| l.min(t)));
            }
        }
        self.timers.set_opt(Timer::LossDetection, loss_time);
        if let Some(newest) = newest_lost {
            self.cc.on_congestion_event(now, newest, lost_bytes);
            if let Some((first_idx, first_time)) = first_lost {
                self.check_persistent_congestion(first_idx, first_time, last_lost_idx, newest);
            }
            self.refresh_pacer();
        }
        self.trim_sent();
    }

    /// RFC 9002 §7.6, simplified to one loss event: the lost packets span
    /// more than three PTOs and nothing between them was acknowledged.
    fn check_persistent_congestion(&mut self, first: usize, t0: Instant, last: usize, t1: Instant) {
        if !self.rtt.has_sample() {
            return;
        }
        let pc = self
            .rtt
            .pto_base()
            .saturating_add(self.cfg.max_ack_delay)
            .saturating_mul(PERSISTENT_CONGESTION_THRESHOLD);
        if t1.saturating_duration_since(t0) <= pc {
            return;
        }
        let all_lost = self.sent.range(first..=last).all(|p| p.fate == Fate::Lost);
        if all_lost {
            self.cc.on_persistent_congestion();
        }
    }

    /// One packet declared lost: its contents go again.
    fn on_lost(&mut self, p: &SentPacket) {
        self.stats.packets_lost += 1;
        self.bytes_in_flight = self.bytes_in_flight.saturating_sub(p.size);
        self.ack_eliciting_in_flight = self.ack_eliciting_in_flight.saturating_sub(1);
        self.requeue(p);
    }

    /// Queues what `p` carried to be sent again.
    fn requeue(&mut self, p: &SentPacket) {
        if let Some((off, len, fin)) = p.stream {
            self.send.on_lost(off..off + u64::from(len), fin);
        }
        if p.reset {
            self.send.on_reset_outcome(false);
        }
        if p.max_data {
            self.recv.max_data_pending = true;
        }
        if p.handshake && self.state == State::Handshake {
            self.handshake_pending = true;
        }
    }

    /// The probe timeout fired (RFC 9002 §6.2): send one or two probes,
    /// carrying the oldest outstanding data again (or a PING).
    pub(super) fn on_pto(&mut self) {
        self.stats.ptos += 1;
        self.pto_count += 1;
        if self.state == State::Established {
            // Counted for the dead-peer rule (`dead_deadline`); the
            // handshake has its own timeout.
            self.unanswered_ptos += 1;
        }
        self.probes = if self.state == State::Handshake { 1 } else { 2 };
        let oldest = self
            .sent
            .iter()
            .find(|p| p.fate == Fate::Outstanding)
            .cloned();
        match oldest {
            Some(p) if p.stream.is_some() || p.handshake || p.reset || p.max_data => {
                self.requeue(&p)
            }
            _ => self.ping_pending = true,
        }
    }
}
