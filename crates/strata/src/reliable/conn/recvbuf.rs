//! The receiving half of the connection's one stream: reassembly of
//! out-of-order data, the final size, and the flow-control window (with
//! auto-tuning).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::ranges::RangeSet;
use crate::reliable::wire::ErrorCode;

/// Why a STREAM or RESET frame was refused (closes the connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// Data past the flow-control limit we announced.
    FlowControl,
    /// Data past the final size, or a final size that changed.
    FinalSize,
}

impl RecvError {
    pub(crate) fn code(self) -> ErrorCode {
        match self {
            RecvError::FlowControl => ErrorCode::FLOW_CONTROL_ERROR,
            RecvError::FinalSize => ErrorCode::FINAL_SIZE_ERROR,
        }
    }
}

/// The receive side of the stream.
#[derive(Debug)]
pub(crate) struct RecvStream {
    /// In-order bytes not yet taken by the application, from `read_off`.
    ready: BytesMut,
    /// Offset of `ready[0]`: everything below was handed over.
    read_off: u64,
    /// Out-of-order chunks above the contiguous end, by offset; never
    /// overlapping (only the new parts of a frame are kept).
    ooo: BTreeMap<u64, Vec<u8>>,
    /// Which offsets `ooo` holds.
    ooo_ranges: RangeSet,
    /// Bytes held in `ooo`.
    ooo_bytes: usize,
    pub(crate) final_size: Option<u64>,
    /// The application was told of the end (FIN or RESET).
    pub(crate) end_delivered: bool,
    /// The peer reset its direction with this code.
    pub(crate) reset: Option<ErrorCode>,
    /// The flow-control limit we announced (exclusive).
    pub(crate) max_data: u64,
    /// The current window (how far past `read_off` the peer may send).
    pub(crate) window: u64,
    /// The largest the window may grow to.
    max_window: u64,
    /// A MAX_DATA frame should be sent.
    pub(crate) max_data_pending: bool,
    /// When the last window update was queued (for auto-tuning).
    last_update: Option<Instant>,
}

impl RecvStream {
    /// A receive side with an initial window of `window` bytes that may
    /// auto-tune up to `max_window`. The peer may send `window` bytes before
    /// any MAX_DATA reaches it only if we announce it (the handshake does).
    pub(crate) fn new(window: u64, max_window: u64) -> RecvStream {
        RecvStream {
            ready: BytesMut::new(),
            read_off: 0,
            ooo: BTreeMap::new(),
            ooo_ranges: RangeSet::default(),
            ooo_bytes: 0,
            final_size: None,
            end_delivered: false,
            reset: None,
            max_data: window,
            window,
            max_window: max_window.max(window),
            max_data_pending: false,
            last_update: None,
        }
    }

    /// The contiguous end: every byte below it arrived.
    fn contiguous_end(&self) -> u64 {
        self.read_off + self.ready.len() as u64
    }

    /// Bytes held (in order and out of order).
    pub(crate) fn buffered(&self) -> usize {
        self.ready.len() + self.ooo_bytes
    }

    /// Bytes ready for the application.
    pub(crate) fn readable(&self) -> usize {
        self.ready.len()
    }

    /// A STREAM frame.
    pub(crate) fn on_stream(
        &mut self,
        offset: u64,
        data: &[u8],
        fin: bool,
    ) -> Result<(), RecvError> {
        let end = offset.saturating_add(data.len() as u64);
        if end > self.max_data {
            return Err(RecvError::FlowControl);
        }
        if let Some(f) = self.final_size
            && (end > f || (fin && end != f))
        {
            return Err(RecvError::FinalSize);
        }
        if fin {
            if end
                < self
                    .contiguous_end()
                    .max(self.ooo_ranges.last().map_or(0, |r| r.end))
            {
                return Err(RecvError::FinalSize);
            }
            self.final_size = Some(end);
        }
        if self.reset.is_some() {
            return Ok(());
        }
        let cend = self.contiguous_end();
        if end <= cend {
            return Ok(());
        }
        let (offset, data) = if offset < cend {
            let skip = (cend - offset) as usize;
            (cend, &data[skip..])
        } else {
            (offset, data)
        };
        if offset == cend {
            self.ready.extend_from_slice(data);
            self.drain_ooo();
            let cend = self.contiguous_end();
            self.ooo_ranges.remove_below(cend);
            return Ok(());
        }
        for gap in self.ooo_ranges.gaps_in(offset..end) {
            let a = (gap.start - offset) as usize;
            let b = (gap.end - offset) as usize;
            self.ooo.insert(gap.start, data[a..b].to_vec());
            self.ooo_bytes += b - a;
        }
        self.ooo_ranges.insert(offset..end);
        Ok(())
    }

    /// Moves out-of-order chunks that became contiguous into `ready`.
    fn drain_ooo(&mut self) {
        loop {
            let cend = self.contiguous_end();
            let Some(entry) = self.ooo.first_entry() else {
                return;
            };
            let off = *entry.key();
            if off > cend {
                return;
            }
            let chunk = entry.remove();
            self.ooo_bytes -= chunk.len();
            let end = off + chunk.len() as u64;
            if end > cend {
                self.ready
                    .extend_from_slice(&chunk[(cend - off) as usize..]);
            }
        }
    }

    /// A RESET frame: the peer abandons its direction.
    pub(crate) fn on_reset(&mut self, code: ErrorCode, final_size: u64) -> Result<(), RecvError> {
        if final_size > self.max_data {
            return Err(RecvError::FlowControl);
        }
        if let Some(f) = self.final_size
            && f != final_size
        {
            return Err(RecvError::FinalSize);
        }
        let highest = self
            .contiguous_end()
            .max(self.ooo_ranges.last().map_or(0, |r| r.end));
        if final_size < highest {
            return Err(RecvError::FinalSize);
        }
        self.final_size = Some(final_size);
        if self.reset.is_none() && !self.end_delivered {
            self.reset = Some(code);
            self.ready.clear();
            self.ooo.clear();
            self.ooo_bytes = 0;
        }
        Ok(())
    }

    /// Takes up to `max` ready bytes for the application, and opens the
    /// window as they go (auto-tuning it: a window consumed within two
    /// round trips doubles, up to the maximum).
    pub(crate) fn take(&mut self, max: usize, now: Instant, srtt: Duration) -> Option<Bytes> {
        if self.ready.is_empty() {
            return None;
        }
        let n = max.min(self.ready.len());
        let out = self.ready.split_to(n).freeze();
        self.read_off += n as u64;
        self.maybe_update(now, srtt);
        Some(out)
    }

    fn maybe_update(&mut self, now: Instant, srtt: Duration) {
        let credit = self.max_data.saturating_sub(self.read_off);
        if self.final_size.is_some() || credit >= self.window / 2 {
            return;
        }
        if let Some(last) = self.last_update
            && now.saturating_duration_since(last) < srtt.saturating_mul(2)
        {
            self.window = (self.window.saturating_mul(2)).min(self.max_window);
        }
        self.last_update = Some(now);
        self.max_data = self.read_off + self.window;
        self.max_data_pending = true;
    }

    /// The peer says it is blocked at `limit`. When that is our current
    /// limit and the application keeps up (little is waiting for it), the
    /// window is too small for the path: double it (up to the maximum) and
    /// announce at once.
    pub(crate) fn on_blocked(&mut self, limit: u64) {
        if limit < self.max_data || self.final_size.is_some() {
            return;
        }
        if (self.ready.len() as u64) < self.window / 4 && self.window < self.max_window {
            self.window = (self.window.saturating_mul(2)).min(self.max_window);
            self.max_data = self.read_off + self.window;
            self.max_data_pending = true;
        }
    }

    /// The FIN (final size reached and everything handed over) is next.
    pub(crate) fn at_fin(&self) -> bool {
        self.ready.is_empty() && self.final_size == Some(self.read_off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        crate::testing::epoch()
    }

    fn take_all(r: &mut RecvStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = r.take(7, now(), Duration::from_millis(10)) {
            out.extend_from_slice(&b);
        }
        out
    }

    #[test]
    fn reassembles_out_of_order_overlapping_and_duplicate_data() {
        let mut r = RecvStream::new(1000, 1000);
        let data: Vec<u8> = (0..100).collect();
        r.on_stream(50, &data[50..80], false).unwrap();
        r.on_stream(40, &data[40..60], false).unwrap();
        r.on_stream(70, &data[70..100], true).unwrap();
        r.on_stream(40, &data[40..60], false).unwrap();
        assert_eq!(r.buffered(), 60);
        assert_eq!(r.readable(), 0);
        r.on_stream(0, &data[0..45], false).unwrap();
        assert_eq!(take_all(&mut r), data);
        assert!(r.at_fin());
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn flow_control_and_final_size_violations_are_errors() {
        let mut r = RecvStream::new(100, 100);
        assert_eq!(
            r.on_stream(90, &[0; 11], false),
            Err(RecvError::FlowControl)
        );
        r.on_stream(0, &[0; 10], true).unwrap();
        assert_eq!(r.on_stream(5, &[0; 6], false), Err(RecvError::FinalSize));
        assert_eq!(r.on_stream(0, &[0; 5], true), Err(RecvError::FinalSize));
        r.on_stream(0, &[0; 10], true).unwrap();
        assert_eq!(r.on_reset(ErrorCode(0x100), 9), Err(RecvError::FinalSize));
    }

    #[test]
    fn the_window_opens_as_the_application_reads_and_grows_when_read_fast() {
        let mut r = RecvStream::new(100, 400);
        r.on_stream(0, &[0; 100], false).unwrap();
        let t = now();
        let rtt = Duration::from_millis(50);
        r.take(60, t, rtt).unwrap();
        assert!(r.max_data_pending);
        assert_eq!(r.max_data, 160);
        r.max_data_pending = false;
        r.on_stream(100, &[0; 60], false).unwrap();
        r.take(100, t + Duration::from_millis(10), rtt).unwrap();
        assert_eq!(r.window, 200);
        assert_eq!(r.max_data, 360);
    }

    #[test]
    fn a_reset_discards_held_data() {
        let mut r = RecvStream::new(100, 100);
        r.on_stream(10, &[1; 10], false).unwrap();
        r.on_reset(ErrorCode(0x101), 20).unwrap();
        assert_eq!(r.reset, Some(ErrorCode(0x101)));
        assert_eq!(r.buffered(), 0);
    }
}
