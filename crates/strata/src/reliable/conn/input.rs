//! Receiving: a datagram is parsed, checked against the connection's state
//! and ids, deduplicated by packet number, and its frames applied.

use std::time::{Duration, Instant};

use super::config::ConnError;
use super::recvbuf::RecvError;
use super::{Connection, Side, State, Timer};
use crate::reliable::wire::{self, ErrorCode, Frame, Header, Packet, PacketType, WireError};

/// Ack-eliciting packets received before an ACK goes out at once.
const ACK_EVERY: u32 = 2;

impl Connection {
    /// Handles one received datagram. Malformed, unexpected, duplicate and
    /// replayed ones are dropped and counted ([`stats`](Self::stats)); a
    /// packet that breaks the protocol closes the connection with the code
    /// the wire spec gives.
    ///
    /// ```
    /// use strata::reliable::{Connection, ReliableConfig, wire::ConnId};
    /// let now = std::time::Instant::now();
    /// let mut c = Connection::connect(ReliableConfig::default(), now, ConnId(1), ConnId(2));
    /// let mut s = Connection::accept(ReliableConfig::default(), now, ConnId(3), ConnId(1), true);
    /// let mut initial = Vec::new();
    /// assert!(c.poll_transmit(now, &mut initial));
    /// s.handle_datagram(now, &initial);
    /// s.handle_datagram(now, &initial); // a duplicate
    /// s.handle_datagram(now, &[0xff; 3]); // garbage
    /// let st = s.stats();
    /// assert_eq!((st.packets_received, st.dropped_duplicate, st.dropped_malformed), (1, 1, 1));
    /// ```
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        if matches!(self.state, State::Closed | State::Draining) {
            return;
        }
        let packet = match wire::parse_packet(datagram) {
            Ok(p) => p,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        let Some(pn) = self.accept_header(now, &packet) else {
            return;
        };
        if pn < self.pn_floor || self.recv_pns.contains(pn) {
            self.stats.dropped_duplicate += 1;
            return;
        }
        if self.state == State::Closing {
            // Answer with the CLOSE again, once per packet received.
            self.close_pending = true;
            self.last_recv = now;
            return;
        }
        let ack_eliciting = match self.apply_frames(now, &packet) {
            Ok(e) => e,
            Err((code, why)) => {
                tracing::debug!("reliable: closing: {why}");
                self.close_with(now, code, why.as_bytes());
                return;
            }
        };
        self.stats.packets_received += 1;
        self.qlog_packet(now, false, datagram);
        self.last_recv = now;
        self.unanswered_ptos = 0;
        // The peer answers: any unreachable hint was stale or forged.
        self.hints = 0;
        self.first_hint = None;
        self.amp_received += datagram.len() as u64;
        self.record_pn(now, pn, ack_eliciting);
        if self.state == State::Draining {
            return;
        }
        self.check_done(now);
    }

    /// Checks the header against our state; returns the packet number to
    /// process, or `None` when the datagram is dropped (or fully handled:
    /// Retry, Version Negotiation).
    fn accept_header(&mut self, now: Instant, packet: &Packet<'_>) -> Option<u64> {
        let mine = packet.header.dst() == self.local_cid;
        let ok = match (self.side, packet.header) {
            (Side::Client, Header::Retry { src, token, .. }) => {
                if mine
                    && self.state == State::Handshake
                    && !self.retried
                    && self.largest_recv.is_none()
                {
                    self.on_retry(now, src, token);
                } else {
                    self.stats.dropped_unexpected += 1;
                }
                return None;
            }
            (Side::Client, Header::VersionNegotiation { versions, .. }) => {
                if mine
                    && self.state == State::Handshake
                    && self.largest_recv.is_none()
                    && !versions.iter().any(|v| v == wire::VERSION)
                {
                    self.error = Some(ConnError::VersionMismatch);
                    self.state = State::Closed;
                } else {
                    self.stats.dropped_unexpected += 1;
                }
                return None;
            }
            (Side::Client, Header::Handshake { src, .. }) => {
                if mine && self.state == State::Handshake {
                    self.remote_cid = src;
                    self.set_established();
                    true
                } else {
                    mine && src == self.remote_cid
                }
            }
            (Side::Server, Header::Initial { src, .. }) => {
                // A repeated Initial: our Handshake may be lost; send it again.
                if src == self.remote_cid && self.state == State::Handshake {
                    self.handshake_pending = true;
                }
                src == self.remote_cid
            }
            (Side::Server, Header::Short { .. }) if mine && self.state == State::Handshake => {
                // The client got our Handshake: it knows our id.
                self.validated = true;
                self.set_established();
                true
            }
            (_, Header::Short { .. }) => mine && self.state != State::Handshake,
            _ => false,
        };
        if !ok {
            self.stats.dropped_unexpected += 1;
            return None;
        }
        packet.header.number().map(|n| n.0)
    }

    /// A valid Retry: the next Initial goes to `src` with `token`, with a
    /// new packet number; the old Initials are forgotten.
    fn on_retry(&mut self, now: Instant, src: wire::ConnId, token: &[u8]) {
        // The Retry answers our Initial: with a single one sent, the time
        // since is a round trip (RFC 9002 allows this sample), which makes
        // the next Initial's probe timer realistic.
        if let [only] = self.sent.make_contiguous() {
            let rtt = now.saturating_duration_since(only.time);
            self.rtt.update(rtt, Duration::ZERO);
        }
        self.retried = true;
        self.remote_cid = src;
        self.token = token.to_vec();
        self.sent.clear();
        self.bytes_in_flight = 0;
        self.ack_eliciting_in_flight = 0;
        self.timers.stop(Timer::LossDetection);
        self.pto_count = 0;
        self.handshake_pending = true;
    }

    /// Applies the frames of a packet; returns whether it was ack-eliciting,
    /// or the code and reason to close with.
    fn apply_frames(
        &mut self,
        now: Instant,
        packet: &Packet<'_>,
    ) -> Result<bool, (ErrorCode, String)> {
        let mut ack_eliciting = false;
        let mut any = false;
        let ty = packet.header.packet_type();
        for frame in packet.frames() {
            let frame = frame.map_err(|e: WireError| (e.close_code(), e.to_string()))?;
            any = true;
            ack_eliciting |= frame.is_ack_eliciting();
            match frame {
                Frame::Padding { .. } | Frame::Ping => {}
                Frame::Ack(ack) => {
                    let largest = ack.largest().0;
                    if largest >= self.next_pn {
                        return Err((
                            ErrorCode::PROTOCOL_VIOLATION,
                            format!("ACK of packet {largest}, never sent"),
                        ));
                    }
                    let delay = Duration::from_micros(ack.delay_micros());
                    self.on_ack_ranges(now, largest, delay, ack.ranges());
                }
                Frame::Reset { code, final_size } => {
                    self.recv.on_reset(code, final_size).map_err(recv_error)?;
                }
                Frame::MaxData { max } => {
                    self.peer_max_data = self.peer_max_data.max(max);
                }
                Frame::DataBlocked { limit } => self.recv.on_blocked(limit),
                Frame::Close { code, reason } => {
                    self.error = Some(ConnError::PeerClosed {
                        code,
                        reason: String::from_utf8_lossy(&reason[..reason.len().min(256)])
                            .into_owned(),
                    });
                    if self.side == Side::Client && self.stats.packets_received == 0 {
                        // A CLOSE in the packet that ended the handshake is a
                        // refusal: the connection never started.
                        self.handshake_done = false;
                    }
                    self.state = State::Draining;
                    let d = self.closing_period();
                    self.timers.set_after(Timer::Close, now, d);
                    self.release_buffers();
                    return Ok(false);
                }
                Frame::Stream { offset, fin, data } => {
                    self.recv.on_stream(offset, data, fin).map_err(recv_error)?;
                }
            }
        }
        if !any && ty != PacketType::Retry {
            return Err((
                ErrorCode::PROTOCOL_VIOLATION,
                "a packet without frames".into(),
            ));
        }
        Ok(ack_eliciting)
    }

    /// Notes a processed packet number for acknowledgement.
    fn record_pn(&mut self, now: Instant, pn: u64, ack_eliciting: bool) {
        let in_order = self.largest_recv.is_none_or(|(l, _)| pn == l + 1);
        self.recv_pns.insert(pn..pn + 1);
        // Keep what one ACK frame can carry (and a margin); older numbers
        // are treated as replays from now on.
        self.recv_pns.keep_highest(wire::MAX_ACK_RANGES + 1);
        if let Some(first) = self.recv_pns.first() {
            self.pn_floor = first.start;
        }
        if self.largest_recv.is_none_or(|(l, _)| pn > l) {
            self.largest_recv = Some((pn, now));
        }
        if ack_eliciting {
            self.ack_eliciting_unacked += 1;
            if self.ack_eliciting_unacked >= ACK_EVERY
                || !in_order
                || self.state == State::Handshake
            {
                self.ack_now = true;
            } else if !self.timers.is_armed(Timer::Ack) {
                let d = self.cfg.max_ack_delay;
                self.timers.set_after(Timer::Ack, now, d);
            }
        }
        // The client answers a Handshake at once so the server is established.
        if self.side == Side::Client && self.stats.packets_received == 1 {
            self.ack_now = true;
        }
    }
}

fn recv_error(e: RecvError) -> (ErrorCode, String) {
    let why = match e {
        RecvError::FlowControl => "stream data past the flow-control limit",
        RecvError::FinalSize => "stream data past, or a change of, the final size",
    };
    (e.code(), why.into())
}
