//! The send side and ikcp's timers: acks, RTT/RTO, congestion window,
//! window probing and the periodic flush.

use super::qlog::LossTrigger;
use super::{diff, Kcp, SendSeg, ASK_SEND, PROBE_INIT, PROBE_LIMIT, RTO_MAX, THRESH_MIN};

impl Kcp {
    pub(super) fn update_ack(&mut self, rtt: u32) {
        if self.rx_srtt == 0 {
            self.rx_srtt = rtt;
            self.rx_rttval = rtt / 2;
        } else {
            let delta = rtt.abs_diff(self.rx_srtt);
            self.rx_rttval = ((3 * u64::from(self.rx_rttval) + u64::from(delta)) / 4) as u32;
            self.rx_srtt = ((7 * u64::from(self.rx_srtt) + u64::from(rtt)) / 8).max(1) as u32;
        }
        if let Some(q) = &mut self.qlog {
            q.rtt_sample(rtt);
        }
        let rto = self
            .rx_srtt
            .saturating_add(self.cfg.interval_ms().max(self.rx_rttval.saturating_mul(4)));
        self.rx_rto = rto.clamp(self.rx_minrto, RTO_MAX);
    }

    pub(super) fn shrink_buf(&mut self) {
        self.snd_una = self.snd_buf.front().map_or(self.snd_nxt, |s| s.sn);
    }

    pub(super) fn release(&mut self, seg: &SendSeg) {
        self.snd_bytes = self.snd_bytes.saturating_sub(seg.data.len());
    }

    pub(super) fn parse_una(&mut self, una: u32) {
        while let Some(front) = self.snd_buf.front() {
            if diff(una, front.sn) <= 0 {
                break;
            }
            if let Some(seg) = self.snd_buf.pop_front() {
                self.release(&seg);
            }
        }
        self.shrink_buf();
    }

    pub(super) fn parse_ack(&mut self, sn: u32) {
        if diff(sn, self.snd_una) < 0 || diff(sn, self.snd_nxt) >= 0 {
            return;
        }
        if let Some(i) = self.snd_buf.iter().position(|s| s.sn == sn)
            && let Some(seg) = self.snd_buf.remove(i)
        {
            self.release(&seg);
        }
        self.shrink_buf();
    }

    pub(super) fn parse_fastack(&mut self, sn: u32, ts: u32) {
        if diff(sn, self.snd_una) < 0 || diff(sn, self.snd_nxt) >= 0 {
            return;
        }
        for seg in &mut self.snd_buf {
            if diff(sn, seg.sn) <= 0 {
                break;
            }
            if diff(ts, seg.ts) >= 0 {
                seg.fastack = seg.fastack.saturating_add(1);
            }
        }
    }

    pub(super) fn grow_cwnd(&mut self) {
        let rmt = u32::from(self.rmt_wnd);
        if self.cwnd >= rmt {
            return;
        }
        let mss = self.mss;
        if self.cwnd < self.ssthresh {
            self.cwnd += 1;
            self.incr += mss;
        } else {
            self.incr = self.incr.max(mss);
            self.incr += mss * mss / self.incr + mss / 16;
            if (self.cwnd as usize + 1) * mss <= self.incr {
                self.cwnd = u32::try_from(self.incr.div_ceil(mss)).unwrap_or(u32::MAX);
            }
        }
        if self.cwnd > rmt {
            self.cwnd = rmt;
            self.incr = rmt as usize * mss;
        }
    }

    pub(super) fn probe_wnd_size(&mut self) {
        if self.rmt_wnd != 0 {
            self.ts_probe = 0;
            self.probe_wait = 0;
            return;
        }
        if self.probe_wait == 0 {
            self.probe_wait = PROBE_INIT;
            self.ts_probe = self.current.wrapping_add(self.probe_wait);
        } else if diff(self.current, self.ts_probe) >= 0 {
            self.probe_wait = self.probe_wait.max(PROBE_INIT);
            self.probe_wait = (self.probe_wait + self.probe_wait / 2).min(PROBE_LIMIT);
            self.ts_probe = self.current.wrapping_add(self.probe_wait);
            self.probe |= ASK_SEND;
        }
    }

    /// ikcp's `flush`, minus the output: marks what to send.
    pub(super) fn flush(&mut self) {
        self.acks_due = !self.acklist.is_empty();
        self.probe_wnd_size();

        let mut wnd = u32::from(self.cfg.snd_wnd).min(u32::from(self.rmt_wnd));
        if !self.cfg.no_congestion_control {
            wnd = wnd.min(self.cwnd);
        }
        while diff(self.snd_nxt, self.snd_una.wrapping_add(wnd)) < 0 {
            let Some(mut seg) = self.snd_queue.pop_front() else {
                break;
            };
            seg.sn = self.snd_nxt;
            self.snd_nxt = self.snd_nxt.wrapping_add(1);
            self.snd_buf.push_back(seg);
        }

        let resent = if self.cfg.fast_resend > 0 {
            self.cfg.fast_resend
        } else {
            u32::MAX
        };
        let rtomin = if self.cfg.nodelay {
            0
        } else {
            self.rx_rto >> 3
        };
        let now = self.current;
        let mut lost = false;
        let mut change = false;
        for seg in &mut self.snd_buf {
            if seg.xmit == 0 {
                seg.xmit = 1;
                seg.rto = self.rx_rto;
                seg.resendts = now.wrapping_add(seg.rto).wrapping_add(rtomin);
                self.stats.segments_sent += 1;
            } else if diff(now, seg.resendts) >= 0 {
                seg.xmit += 1;
                seg.rto = if self.cfg.nodelay {
                    seg.rto.saturating_add(seg.rto / 2)
                } else {
                    seg.rto.saturating_add(seg.rto.max(self.rx_rto))
                }
                .min(RTO_MAX);
                seg.resendts = now.wrapping_add(seg.rto);
                lost = true;
                self.stats.timeout_retransmits += 1;
                if let (Some(q), Some(at)) = (&self.qlog, self.latest) {
                    Kcp::qlog_lost(q, at, seg.sn, seg.data.len(), LossTrigger::Time);
                }
            } else if seg.fastack >= resent
                && (self.cfg.fast_limit == 0 || seg.xmit <= self.cfg.fast_limit)
            {
                seg.xmit += 1;
                seg.fastack = 0;
                seg.resendts = now.wrapping_add(seg.rto);
                change = true;
                self.stats.fast_retransmits += 1;
                if let (Some(q), Some(at)) = (&self.qlog, self.latest) {
                    Kcp::qlog_lost(q, at, seg.sn, seg.data.len(), LossTrigger::Reordering);
                }
            } else {
                continue;
            }
            seg.ts = now;
            seg.pending = true;
            if seg.xmit >= self.cfg.dead_link {
                self.dead = true;
            }
        }

        if change {
            let inflight = self.snd_nxt.wrapping_sub(self.snd_una);
            self.ssthresh = (inflight / 2).max(THRESH_MIN);
            self.cwnd = self.ssthresh.saturating_add(resent);
            self.incr = self.cwnd as usize * self.mss;
        }
        if lost {
            self.ssthresh = (wnd / 2).max(THRESH_MIN);
            self.cwnd = 1;
            self.incr = self.mss;
        }
        if self.cwnd < 1 {
            self.cwnd = 1;
            self.incr = self.mss;
        }
        if self.qlog.is_some() {
            self.qlog_metrics();
        }
    }
}

pub(super) fn new_send_seg(data: &[u8], frg: u8) -> SendSeg {
    SendSeg {
        sn: 0,
        frg,
        ts: 0,
        resendts: 0,
        rto: 0,
        fastack: 0,
        xmit: 0,
        pending: false,
        data: data.to_vec(),
    }
}
