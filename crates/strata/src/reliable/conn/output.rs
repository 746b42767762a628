//! Sending: one packet per call, with what is due, in priority order:
//! CLOSE, the handshake, ACK, control frames, then stream data within the
//! congestion window and the pacing rate.

use std::time::{Duration, Instant};

use super::recovery::{Fate, SentPacket};
use super::{Connection, Side, State, Timer};
use crate::reliable::wire::{self, varint, Frame, Header, PacketNumber};

/// STREAM frame type bits (wire spec §6.4).
const STREAM: u8 = 0x08;
const STREAM_OFF: u8 = 0x04;
const STREAM_FIN: u8 = 0x01;

impl Connection {
    /// Writes the next datagram to send into `out` (cleared first) and
    /// returns true, or returns false when nothing is due now (see
    /// [`next_timeout`](Self::next_timeout)). Call it until it returns false
    /// after every input and timeout.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = std::time::Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut out = Vec::new();
    /// assert!(c.poll_transmit(now, &mut out));
    /// assert_eq!(out.len(), 1200); // the padded Initial
    /// assert!(!c.poll_transmit(now, &mut out)); // nothing more until an answer or a timeout
    /// assert!(out.is_empty());
    /// ```
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        out.clear();
        let sent = match self.state {
            State::Closed | State::Draining => false,
            State::Closing => self.build_close(out),
            State::Handshake => self.build_handshake(now, out),
            State::Established => self.build_short(now, out),
        };
        if sent {
            self.stats.packets_sent += 1;
            self.amp_sent += out.len() as u64;
            self.last_send = now;
            self.qlog_packet(now, true, out);
        }
        sent
    }

    fn take_pn(&mut self) -> PacketNumber {
        let pn = self.next_pn;
        self.next_pn += 1;
        PacketNumber(pn)
    }

    /// The header for a packet of the current state.
    fn header(&mut self) -> Header<'static> {
        let number = self.take_pn();
        match (self.side, self.handshake_done) {
            (Side::Client, false) => Header::Initial {
                dst: self.remote_cid,
                src: self.local_cid,
                token: &[],
                number,
            },
            (Side::Server, false) => Header::Handshake {
                dst: self.remote_cid,
                src: self.local_cid,
                number,
            },
            _ => Header::Short {
                dst: self.remote_cid,
                number,
            },
        }
    }

    /// Writes `h`, with the client's token when it is an Initial.
    fn write_header(&self, h: Header<'_>, out: &mut Vec<u8>) -> bool {
        let h = match h {
            Header::Initial {
                dst, src, number, ..
            } => Header::Initial {
                dst,
                src,
                token: &self.token,
                number,
            },
            other => other,
        };
        h.encode(out).is_ok()
    }

    fn build_close(&mut self, out: &mut Vec<u8>) -> bool {
        if !self.close_pending {
            return false;
        }
        self.close_pending = false;
        let Some((code, reason)) = self.close_frame.clone() else {
            return false;
        };
        let h = self.header();
        let initial = matches!(h, Header::Initial { .. });
        if !self.write_header(h, out) {
            return false;
        }
        if (Frame::Close {
            code,
            reason: &reason,
        })
        .encode(out)
        .is_err()
        {
            return false;
        }
        if initial {
            wire::pad_to(out, 0, wire::MIN_INITIAL_SIZE);
        }
        true
    }

    /// Client: the Initial. Server: the Handshake (with ACK and MAX_DATA).
    fn build_handshake(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        if !self.handshake_pending {
            return false;
        }
        let h = self.header();
        if !self.write_header(h, out) {
            return false;
        }
        if self.side == Side::Server {
            self.write_ack(now, out, self.cfg.mtu);
        }
        let max = self.recv.max_data;
        if (Frame::MaxData { max }).encode(out).is_err() {
            return false;
        }
        if self.side == Side::Client {
            wire::pad_to(out, 0, wire::MIN_INITIAL_SIZE);
        } else if !self.validated && self.amp_sent + out.len() as u64 > 3 * self.amp_received {
            // Anti-amplification: wait for more from the client.
            self.next_pn -= 1;
            out.clear();
            return false;
        }
        self.handshake_pending = false;
        self.probes = self.probes.saturating_sub(1);
        let pn = self.next_pn - 1;
        self.record_sent(now, pn, out.len(), None, true, false, true);
        true
    }

    /// Whether an ACK is due, or worth adding.
    fn ack_due(&self, now: Instant) -> bool {
        self.ack_eliciting_unacked > 0 && (self.ack_now || self.timers.is_due(Timer::Ack, now))
    }

    /// Appends an ACK of what we received, if anything; resets the ACK
    /// timers.
    fn write_ack(&mut self, now: Instant, out: &mut Vec<u8>, budget: usize) {
        if self.recv_pns.is_empty() {
            return;
        }
        let ranges: Vec<_> = self
            .recv_pns
            .iter_desc()
            .take(wire::MAX_ACK_RANGES + 1)
            .map(|r| r.start..=r.end - 1)
            .collect();
        let delay = self
            .largest_recv
            .map_or(Duration::ZERO, |(_, t)| now.saturating_duration_since(t));
        let room = budget.saturating_sub(out.len());
        let micros = u64::try_from(delay.as_micros())
            .unwrap_or(u64::MAX)
            .min(varint::MAX);
        if wire::encode_ack(out, &ranges, micros, room).is_ok() {
            self.last_ack_sent = Some(now);
            self.ack_eliciting_unacked = 0;
            self.timers.stop(Timer::Ack);
            self.ack_now = false;
        }
    }

    /// A short packet: ACK, control frames and stream data.
    fn build_short(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let mtu = self.cfg.mtu;
        let window_open = self.bytes_in_flight + mtu as u64 <= self.cc.window();
        let probing = self.probes > 0;
        let mut may_send_data = probing || window_open;
        let data_waiting = self.send.has_pending(self.peer_max_data);
        if may_send_data
            && data_waiting
            && !probing
            && let Some(t) = self.pacer.next_send_time(now, mtu as u64)
        {
            self.timers.set(Timer::Pacing, t);
            may_send_data = false;
        }
        // Held at the peer's limit with data to send: say so once per limit
        // (the peer grows its window in answer).
        let blocked = self.send.unsent() > 0
            && self.peer_max_data <= self.send.next_new
            && self.blocked_reported != Some(self.peer_max_data);
        // A probe always goes out (a PING if nothing else is due): the
        // packets it probes for may hold only data acknowledged since, and
        // a probe timer that sends nothing would fire again at once.
        let control = self.recv.max_data_pending
            || self.send.reset_pending
            || self.ping_pending
            || blocked
            || probing;
        let ack = self.ack_due(now);
        if !(ack || control || (may_send_data && data_waiting)) {
            // Application-limited: nothing to send at all. Held back by the
            // peer's flow-control window is not: those samples still measure
            // the path (BBR's full-pipe check needs them).
            if !self.send.has_pending(u64::MAX) && window_open {
                self.rate.on_app_limited(self.bytes_in_flight);
            }
            return false;
        }
        let h = self.header();
        let pn = self.next_pn - 1;
        if !self.write_header(h, out) {
            return false;
        }
        let header_len = out.len();
        // Data packets also repeat the ACK every quarter round trip: an
        // ACK-only packet may be lost, and a peer that never hears one
        // stays stuck at its initial window (seen at 28 % loss).
        let repeat = may_send_data
            && data_waiting
            && self
                .last_ack_sent
                .is_none_or(|t| now.saturating_duration_since(t) >= self.rtt.smoothed() / 4);
        if self.ack_eliciting_unacked > 0 || ack {
            self.write_ack(now, out, mtu / 2);
        } else if repeat {
            // Only the newest ranges: a repeat must not take the room of
            // the data it rides with.
            let budget = out.len() + 32;
            self.write_ack(now, out, budget);
        }
        let mut eliciting = false;
        let mut max_data = false;
        let mut reset = false;
        if self.recv.max_data_pending {
            self.recv.max_data_pending = false;
            max_data = (Frame::MaxData {
                max: self.recv.max_data,
            })
            .encode(out)
            .is_ok();
            eliciting |= max_data;
        }
        if self.send.reset_pending
            && let Some((code, final_size)) = self.send.reset
        {
            self.send.reset_pending = false;
            reset = (Frame::Reset { code, final_size }).encode(out).is_ok();
            eliciting |= reset;
        }
        // Every other frame goes before the STREAM frame: it has no length
        // field and runs to the end of the packet, so a frame after it
        // would be read as stream data (seed 56432 of the sweep: a
        // keepalive PING became a byte of the stream).
        if blocked {
            let limit = self.peer_max_data;
            self.blocked_reported = Some(limit);
            eliciting |= (Frame::DataBlocked { limit }).encode(out).is_ok();
        }
        if self.ping_pending {
            self.ping_pending = false;
            eliciting |= Frame::Ping.encode(out).is_ok();
        }
        let mut stream = None;
        if may_send_data {
            stream = self.write_stream(out, mtu);
            eliciting |= stream.is_some();
        }
        if probing && !eliciting {
            // Nothing else elicits an ACK (and no STREAM frame was written).
            eliciting |= Frame::Ping.encode(out).is_ok();
        }
        if out.len() == header_len {
            // Nothing fitted after all: take the number back.
            self.next_pn -= 1;
            out.clear();
            return false;
        }
        if eliciting {
            self.probes = self.probes.saturating_sub(1);
            self.record_sent(now, pn, out.len(), stream, false, reset, max_data);
        }
        true
    }

    /// Appends one STREAM frame (the last of the packet: no length field)
    /// with what the send side has next; returns what it covers.
    fn write_stream(&mut self, out: &mut Vec<u8>, mtu: usize) -> Option<(u64, u32, bool)> {
        // Type byte and the largest offset field.
        let room = mtu.checked_sub(out.len() + 1 + 8)?;
        if room == 0 && self.send.fin.is_none_or(|_| self.send.fin_acked) {
            return None;
        }
        let chunk = self.send.next_chunk(room, self.peer_max_data)?;
        let mut ty = STREAM;
        if chunk.offset != 0 {
            ty |= STREAM_OFF;
        }
        if chunk.fin {
            ty |= STREAM_FIN;
        }
        out.push(ty);
        if chunk.offset != 0 && varint::write(out, chunk.offset).is_err() {
            return None;
        }
        self.send.copy_out(chunk.offset, chunk.len, out);
        if chunk.retransmit {
            self.stats.bytes_retransmitted += chunk.len as u64;
        } else {
            self.stats.bytes_sent += chunk.len as u64;
        }
        Some((chunk.offset, chunk.len as u32, chunk.fin))
    }

    #[allow(clippy::too_many_arguments)]
    fn record_sent(
        &mut self,
        now: Instant,
        pn: u64,
        size: usize,
        stream: Option<(u64, u32, bool)>,
        handshake: bool,
        reset: bool,
        max_data: bool,
    ) {
        self.on_packet_sent(
            now,
            SentPacket {
                pn,
                time: now,
                size: size as u64,
                fate: Fate::Outstanding,
                stream,
                max_data,
                reset,
                handshake,
                info: None,
            },
        );
    }
}
