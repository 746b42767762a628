//! The TCP user timeout of simulated connections: a kernel whose
//! retransmissions go unanswered for too long (`tcp_retries2`,
//! `TCP_USER_TIMEOUT`) gives up on the connection ([`Link::user_timeout`](crate::Link::user_timeout)).
//!
//! Bytes count as acknowledged once they reach the peer's kernel, read or
//! not, so only a partition can make them wait: it holds a pipe's
//! segments (the timeout counts from when the oldest byte or FIN still on
//! the wire left), or the acknowledgements of bytes that arrived (it
//! counts from when the first held one would have reached the sender, at
//! most a round trip late). A sender whose window was already closed by a
//! reader that stopped reading has neither, and does not time out (a real
//! kernel's unanswered zero-window probes would end it after about as
//! long).

use std::io::{Error, ErrorKind};

use strata::deadline::after;
use strata::Close;

use super::{shift_now, side_name, Seg, State};
use crate::world::{EvKind, Sim};

impl Sim {
    /// Side `dir` of `conn` met a partition (its bytes on the wire, or the
    /// acknowledgements of its bytes): its user timeout, from when its
    /// oldest unacknowledged byte left.
    pub(super) fn arm_user_timeout(&mut self, conn: u64, dir: usize) {
        if let Some(at) = self.times_out_at(conn, dir) {
            self.schedule(at, EvKind::UserTimeout { conn, dir });
        }
    }

    /// When side `dir` of `conn` times out, as things stand: its user
    /// timeout after its oldest unacknowledged byte left, if the
    /// partition holds it or its acknowledgement. `None` once the
    /// partition heals: its pending timeout events are then stale.
    pub(super) fn times_out_at(&self, conn: u64, dir: usize) -> Option<std::time::Instant> {
        let c = self.conns.get(&conn)?;
        let link = self.links.get(&c.link).filter(|l| l.partitioned)?;
        let on_wire = oldest_unacked(&c.pipes[dir]);
        let ack = link
            .held_acks
            .iter()
            .filter(|(id, to, _, _)| (*id, *to) == (conn, dir))
            .map(|(_, _, _, at)| *at)
            .min();
        let oldest = match (on_wire, ack) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(after(oldest, link.cfg.user_timeout))
    }

    /// A user timeout may be due: if the partition still holds bytes of
    /// the side that sent `dir` older than the timeout, its kernel gives
    /// up: the stack hears what a real kernel's `ETIMEDOUT` gives through
    /// the tokio driver, and the socket is gone (what it had on the wire
    /// with it; the peer hears a reset when it next sends).
    pub(crate) fn user_timeout(&mut self, conn: u64, dir: usize) {
        if self.times_out_at(conn, dir).is_none_or(|t| t > self.now) {
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.sides[dir].state == State::Gone {
            return;
        }
        if let Some(l) = self.links.get_mut(&c.link) {
            l.held_acks
                .retain(|(id, to, _, _)| (*id, *to) != (conn, dir));
        }
        let pipe = &mut c.pipes[dir];
        pipe.segs.clear();
        pipe.scheduled = None;
        pipe.busy_until = None;
        let now = shift_now(&self.hosts, c.sides[dir].host, self.now);
        let side = &mut c.sides[dir];
        side.state = State::Gone;
        side.snd.clear();
        side.snd_bytes = 0;
        side.unacked = 0;
        side.rx.clear();
        side.proto = None;
        let why = Close::from(Error::from(ErrorKind::TimedOut));
        if let Some(st) = side.stack.as_mut() {
            st.handle_lost(now, why);
        }
        self.trace_line(format_args!("c{conn} {} user timeout", side_name(dir)));
        self.record_close(conn, dir);
    }
}

/// When the oldest byte or FIN on the wire in `pipe` left.
fn oldest_unacked(pipe: &super::Pipe) -> Option<std::time::Instant> {
    pipe.segs
        .iter()
        .find(|(_, _, s)| matches!(s, Seg::Data(_) | Seg::Fin))
        .map(|(_, left, _)| *left)
}
