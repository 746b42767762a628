//! The bottom view: the transport the stack's protocol writes to.

use super::*;

/// The transport the bottom protocol sees.
pub(super) struct BottomView<'a> {
    pub(super) b: &'a mut Bottom,
}

impl BottomView<'_> {
    fn open(&self) -> bool {
        self.b.closing().is_none() && !self.b.abort_pending() && !self.b.eof_out_requested
    }

    /// While an insert-below swap is pending, what the protocol does is
    /// recorded to go through the new layer.
    fn record(&mut self, op: Op) -> Option<Op> {
        match self.b.cold.as_mut().and_then(|c| c.swap.as_mut()) {
            Some(s) if s.insert => {
                s.replay.push(op);
                None
            }
            _ => Some(op),
        }
    }

    fn replay_len(&self) -> usize {
        self.b.swap().map_or(0, PendingSwap::replay_len)
    }

    fn queue(&mut self, data: &[u8], owned: Option<Bytes>) {
        if !self.open() || data.is_empty() {
            return;
        }
        let limit = self.b.cfg.memory_budget;
        if self.b.out.len() + self.b.stash_len() + data.len() > limit {
            // The protocol ignored back-pressure: stop here rather than grow.
            self.b.out.clear();
            let layer = self.b.info.name;
            self.b
                .set_abort(Close::aborted(layer, AbortReason::MemoryBudget { limit }));
            return;
        }
        match owned {
            Some(b) => self.b.out.push_bytes(b),
            None => self.b.out.push(data),
        }
        if let Some(c) = self.b.counters() {
            c.sent(data.len());
        }
        self.b.note_buffered();
    }
}

/// What a stream stack's bottom answers for [`ReliableDelivery`](crate::ReliableDelivery).
static STREAM_IS_RELIABLE: crate::ReliableDelivery = crate::ReliableDelivery(true);

impl Introspect for BottomView<'_> {
    fn name(&self) -> &'static str {
        self.b.info.name
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        let i = &self.b.info;
        if id == TypeId::of::<PeerAddr>() {
            return i.peer.as_ref().map(|a| a as &dyn Any);
        }
        if id == TypeId::of::<LocalAddr>() {
            return i.local.as_ref().map(|a| a as &dyn Any);
        }
        if id == TypeId::of::<crate::Dialer>() {
            return i.dialer.map(|d| d.dialer() as &dyn Any);
        }
        // A stream stack's bottom is a byte stream: every byte once, in order.
        if id == TypeId::of::<Counters>() {
            let c = self.b.cold.as_ref().filter(|_| self.b.counting);
            return c.map(|c| &c.counters as &dyn Any);
        }
        if id == TypeId::of::<QlogTrace>() {
            let q = self.b.cold.as_ref().and_then(|c| c.qlog.as_ref());
            return q.map(|q| q as &dyn Any);
        }
        crate::capability!(id, i.half_close, STREAM_IS_RELIABLE)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        None
    }
}

impl StreamTransport for BottomView<'_> {
    fn write(&mut self, data: &[u8]) {
        if self.b.swap().is_some_and(|s| s.insert) {
            self.record(Op::Write(Bytes::copy_from_slice(data)));
            return;
        }
        self.queue(data, None);
    }
    fn write_bytes(&mut self, data: Bytes) {
        if let Some(Op::Write(data)) = self.record(Op::Write(data)) {
            let d = data.clone();
            self.queue(&d, Some(data));
        }
    }
    fn write_eof(&mut self) {
        if self.record(Op::WriteEof).is_some() && self.open() {
            if self.b.info.half_close.0 {
                self.b.eof_out_requested = true;
            } else {
                self.close();
            }
        }
    }
    fn close(&mut self) {
        if self.record(Op::Close).is_some() && self.b.closing().is_none() {
            let at = crate::deadline::after(self.b.now, self.b.cfg.close_timeout);
            self.b.cold().closing = Some(at);
        }
    }
    fn abort(&mut self, why: Close) {
        self.b.set_abort(why);
    }
    fn pause_reading(&mut self) {
        if self.record(Op::PauseReading).is_some() {
            self.b.read_paused = true;
        }
    }
    fn resume_reading(&mut self) {
        if self.record(Op::ResumeReading).is_some() {
            self.b.read_paused = false;
        }
    }
    fn buffered(&self) -> usize {
        self.b.out.len() + self.replay_len()
    }
    fn writable(&self) -> bool {
        self.open() && self.buffered() < self.b.cfg.high_water
    }
    fn now(&self) -> Instant {
        self.b.now
    }
    fn waker(&self) -> Wake {
        Wake::root(self.b.hub.get_or_init(WakeHub::new).clone())
    }
    fn request_swap(&mut self, req: SwapRequest, leftover: Vec<u8>) -> Result<(), SwapError> {
        if self.b.abort_pending() || self.b.closing().is_some() {
            return Err(SwapError::Closed);
        }
        if self.b.swap().is_some() {
            return Err(SwapError::AlreadyPending);
        }
        self.b.cold().swap = Some(PendingSwap::new(req, leftover));
        Ok(())
    }
}
