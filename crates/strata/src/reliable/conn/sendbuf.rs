//! The sending half of the connection's one stream: bytes kept until
//! acknowledged, what is lost and must go again, the FIN and a RESET.

use std::collections::VecDeque;
use std::ops::Range;

use super::ranges::RangeSet;
use crate::reliable::wire::ErrorCode;

/// The send side of the stream.
#[derive(Debug, Default)]
pub(crate) struct SendStream {
    /// Offset of `buf[0]`: everything below is acknowledged and dropped.
    base: u64,
    /// Bytes from `base` up to the write offset.
    buf: VecDeque<u8>,
    /// First offset never sent.
    pub(crate) next_new: u64,
    /// Acknowledged ranges above `base`.
    acked: RangeSet,
    /// Ranges to send again (lost, or queued by a probe), below `next_new`.
    lost: RangeSet,
    /// The final size, once `finish` was called.
    pub(crate) fin: Option<u64>,
    pub(crate) fin_sent: bool,
    pub(crate) fin_acked: bool,
    /// The FIN must go again.
    fin_lost: bool,
    /// A RESET to send: code and final size.
    pub(crate) reset: Option<(ErrorCode, u64)>,
    pub(crate) reset_pending: bool,
    pub(crate) reset_acked: bool,
}

/// What the packet builder may send next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) offset: u64,
    pub(crate) len: usize,
    pub(crate) fin: bool,
    /// Data sent before (does not count against flow control again).
    pub(crate) retransmit: bool,
}

impl SendStream {
    /// The write offset: bytes ever written.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Bytes held: unacknowledged and unsent.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Unsent bytes (new data only).
    pub(crate) fn unsent(&self) -> u64 {
        self.end() - self.next_new
    }

    /// Appends bytes; refused (false) after `finish` or a reset.
    pub(crate) fn write(&mut self, data: &[u8]) -> bool {
        if self.fin.is_some() || self.reset.is_some() {
            return false;
        }
        self.buf.extend(data);
        true
    }

    /// No more writes: the stream ends at the current offset.
    pub(crate) fn finish(&mut self) {
        if self.fin.is_none() && self.reset.is_none() {
            self.fin = Some(self.end());
        }
    }

    /// Abandons the stream with `code`: nothing more is (re)sent.
    pub(crate) fn reset(&mut self, code: ErrorCode) {
        if self.reset.is_some() || self.fin_acked {
            return;
        }
        let final_size = self.next_new;
        self.reset = Some((code, final_size));
        self.reset_pending = true;
        self.lost = RangeSet::default();
        self.fin_lost = false;
        self.buf.clear();
        self.base = final_size;
    }

    /// Everything written, and the FIN, is acknowledged.
    pub(crate) fn all_acked(&self) -> bool {
        (self.fin_acked && self.buf.is_empty()) || self.reset_acked
    }

    /// Whether there is anything to send (ignoring flow control for new data
    /// when `flow_limit` allows none).
    pub(crate) fn has_pending(&self, flow_limit: u64) -> bool {
        if self.reset.is_some() {
            return self.reset_pending;
        }
        !self.lost.is_empty()
            || self.fin_lost
            || (self.next_new < self.end() && self.next_new < flow_limit)
            || (self.fin == Some(self.next_new) && !self.fin_sent)
    }

    /// The next chunk to send, at most `max` bytes: lost data first, then
    /// new data up to `flow_limit`.
    pub(crate) fn next_chunk(&mut self, max: usize, flow_limit: u64) -> Option<Chunk> {
        if self.reset.is_some() {
            return None;
        }
        if let Some(r) = self.lost.pop_first(max as u64) {
            let fin = self.fin == Some(r.end) && !self.fin_acked;
            if fin {
                self.fin_lost = false;
            }
            return Some(Chunk {
                offset: r.start,
                len: (r.end - r.start) as usize,
                fin,
                retransmit: true,
            });
        }
        let end = self.end();
        let room = flow_limit.saturating_sub(self.next_new);
        let len = (end - self.next_new).min(room).min(max as u64);
        let at_fin = self.fin == Some(self.next_new + len);
        if len > 0 || (at_fin && !self.fin_sent) {
            let offset = self.next_new;
            self.next_new += len;
            if at_fin {
                self.fin_sent = true;
                self.fin_lost = false;
            }
            return Some(Chunk {
                offset,
                len: len as usize,
                fin: at_fin,
                retransmit: false,
            });
        }
        if self.fin_lost {
            self.fin_lost = false;
            let offset = self.fin.unwrap_or(self.next_new);
            return Some(Chunk {
                offset,
                len: 0,
                fin: true,
                retransmit: true,
            });
        }
        None
    }

    /// Copies `len` bytes at `offset` (which must be held) into `out`.
    pub(crate) fn copy_out(&self, offset: u64, len: usize, out: &mut Vec<u8>) {
        let start = offset.saturating_sub(self.base) as usize;
        let end = (start + len).min(self.buf.len());
        let (a, b) = self.buf.as_slices();
        if start < a.len() {
            out.extend_from_slice(&a[start..end.min(a.len())]);
        }
        if end > a.len() {
            out.extend_from_slice(&b[start.saturating_sub(a.len())..end - a.len()]);
        }
    }

    /// A packet holding `r` (and the FIN, if `fin`) was acknowledged.
    pub(crate) fn on_acked(&mut self, r: Range<u64>, fin: bool) {
        if fin && self.reset.is_none() {
            self.fin_acked = true;
            self.fin_lost = false;
        }
        if r.end <= self.base {
            return;
        }
        let r = r.start.max(self.base)..r.end;
        self.acked.insert(r.clone());
        self.lost.remove(r);
        if let Some(first) = self.acked.first()
            && first.start <= self.base
        {
            let upto = first.end;
            let n = (upto - self.base) as usize;
            self.buf.drain(..n.min(self.buf.len()));
            self.base = upto;
            self.acked.remove_below(upto);
        }
    }

    /// A packet holding `r` (and the FIN) was lost (or a probe wants it
    /// again): queue what of it is not acknowledged.
    pub(crate) fn on_lost(&mut self, r: Range<u64>, fin: bool) {
        if self.reset.is_some() {
            return;
        }
        if fin && !self.fin_acked {
            self.fin_lost = true;
        }
        let r = r.start.max(self.base)..r.end.min(self.next_new);
        for gap in self.acked.gaps_in(r) {
            self.lost.insert(gap);
        }
    }

    /// The RESET was acknowledged, or must go again.
    pub(crate) fn on_reset_outcome(&mut self, acked: bool) {
        if acked {
            self.reset_acked = true;
        } else if self.reset.is_some() && !self.reset_acked {
            self.reset_pending = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_new_data_then_lost_data_first_and_frees_on_ack() {
        let mut s = SendStream::default();
        s.write(&[1; 3000]);
        let a = s.next_chunk(1000, u64::MAX).unwrap();
        let b = s.next_chunk(1000, u64::MAX).unwrap();
        assert_eq!((a.offset, a.len, b.offset), (0, 1000, 1000));
        s.on_lost(0..1000, false);
        let c = s.next_chunk(600, u64::MAX).unwrap();
        assert_eq!((c.offset, c.len, c.retransmit), (0, 600, true));
        s.on_acked(1000..2000, false);
        assert_eq!(s.buffered(), 3000);
        s.on_acked(0..600, false);
        s.on_acked(0..1000, false);
        assert_eq!(s.buffered(), 1000);
        // The rest of the lost range was acked meanwhile: nothing to resend.
        let d = s.next_chunk(5000, u64::MAX).unwrap();
        assert_eq!((d.offset, d.len, d.retransmit), (2000, 1000, false));
    }

    #[test]
    fn flow_control_limits_new_data_and_fin_follows_the_last_byte() {
        let mut s = SendStream::default();
        s.write(b"hello world");
        s.finish();
        let a = s.next_chunk(100, 5).unwrap();
        assert_eq!((a.len, a.fin), (5, false));
        assert!(s.next_chunk(100, 5).is_none());
        let mut out = Vec::new();
        s.copy_out(a.offset, a.len, &mut out);
        assert_eq!(out, b"hello");
        let b = s.next_chunk(100, 100).unwrap();
        assert_eq!((b.offset, b.len, b.fin), (5, 6, true));
        s.on_lost(5..11, true);
        let c = s.next_chunk(100, 100).unwrap();
        assert_eq!((c.offset, c.len, c.fin), (5, 6, true));
        s.on_acked(0..11, true);
        assert!(s.all_acked());
    }

    #[test]
    fn an_empty_stream_sends_a_bare_fin() {
        let mut s = SendStream::default();
        s.finish();
        let a = s.next_chunk(100, 0).unwrap();
        assert_eq!((a.offset, a.len, a.fin), (0, 0, true));
        assert!(s.next_chunk(100, 0).is_none());
        s.on_lost(0..0, true);
        assert!(s.has_pending(0));
        assert!(s.next_chunk(100, 0).unwrap().fin);
    }

    #[test]
    fn copy_out_spans_the_ring_buffer_seam() {
        let mut s = SendStream::default();
        s.write(&[0; 10]);
        let _ = s.next_chunk(10, u64::MAX);
        s.on_acked(0..8, false);
        s.write(&(0u8..20).collect::<Vec<_>>());
        let mut out = Vec::new();
        s.copy_out(9, 5, &mut out);
        assert_eq!(out, [0, 0, 1, 2, 3]);
    }
}
