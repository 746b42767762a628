//! The bottom output queue: owned chunks plus a tail that small writes append to.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};

/// Writes at least this long are kept as their own chunk instead of copied.
const OWN_CHUNK_MIN: usize = 4096;

/// The first allocation of an empty tail: a burst of small writes (a
/// batch of HTTP/2 responses) grows it a few times at most.
const FIRST_TAIL: usize = 1024;

/// Small on purpose: it lives in every connection, so the chunk list (only
/// used by large owned writes) is boxed and allocated on first use.
#[derive(Debug, Default)]
// The box is the point: `None` costs 8 bytes where a VecDeque costs 32.
#[allow(clippy::box_collection)]
pub(crate) struct OutBuf {
    chunks: Option<Box<VecDeque<Bytes>>>,
    tail: Vec<u8>,
    tail_off: usize,
    len: usize,
}

impl OutBuf {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.tail.capacity() == 0 {
            self.tail.reserve(data.len().max(FIRST_TAIL));
        }
        self.tail.extend_from_slice(data);
        self.len += data.len();
    }

    pub(crate) fn push_bytes(&mut self, data: Bytes) {
        if data.len() < OWN_CHUNK_MIN {
            return self.push(&data);
        }
        self.seal_tail();
        self.len += data.len();
        self.chunks.get_or_insert_with(Box::default).push_back(data);
    }

    /// Moves the tail into the chunk list so a later chunk keeps its order.
    fn seal_tail(&mut self) {
        if self.tail.len() > self.tail_off {
            let mut t = std::mem::take(&mut self.tail);
            t.drain(..self.tail_off);
            self.tail_off = 0;
            self.chunks
                .get_or_insert_with(Box::default)
                .push_back(Bytes::from(t));
        } else {
            self.tail.clear();
            self.tail_off = 0;
        }
    }

    /// Fills `dst` with the queued bytes in order; returns how many slices.
    pub(crate) fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for c in self.chunks.iter().flat_map(|c| c.iter()) {
            if n == dst.len() {
                return n;
            }
            dst[n] = IoSlice::new(c);
            n += 1;
        }
        if n < dst.len() && self.tail.len() > self.tail_off {
            dst[n] = IoSlice::new(&self.tail[self.tail_off..]);
            n += 1;
        }
        n
    }

    /// Drops the first `n` bytes (they were written).
    pub(crate) fn consume(&mut self, mut n: usize) {
        if n >= self.len && self.chunks.is_none() {
            // Everything was written, and it all sat in the tail.
            self.len = 0;
            self.reset_tail();
            return;
        }
        n = n.min(self.len);
        self.len -= n;
        if let Some(chunks) = self.chunks.as_mut() {
            while n > 0 {
                let Some(front) = chunks.front_mut() else {
                    break;
                };
                if front.len() > n {
                    front.advance(n);
                    return;
                }
                n -= front.len();
                chunks.pop_front();
            }
            if chunks.is_empty() {
                self.chunks = None;
            }
        }
        self.tail_off += n;
        if self.tail_off >= self.tail.len() {
            self.reset_tail();
        }
    }

    /// Empties the tail once all of it was written, and frees it: an idle
    /// connection then holds no output buffer at all (the write that drained
    /// it was a system call; one allocation beside it is noise, while a kept
    /// buffer costs every idle connection its size).
    fn reset_tail(&mut self) {
        self.tail_off = 0;
        self.tail = Vec::new();
    }

    pub(crate) fn clear(&mut self) {
        *self = OutBuf::default();
    }

    /// Copies everything out and empties the queue (for tests).
    pub(crate) fn take_all(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for c in self.chunks.iter().flat_map(|c| c.iter()) {
            v.extend_from_slice(c);
        }
        v.extend_from_slice(&self.tail[self.tail_off..]);
        self.clear();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_copied_and_owned_writes() {
        let mut b = OutBuf::default();
        b.push(b"ab");
        b.push_bytes(Bytes::from(vec![b'x'; 5000]));
        b.push(b"cd");
        assert_eq!(b.len(), 5004);
        b.consume(3);
        let all = b.take_all();
        assert_eq!(all.len(), 5001);
        assert_eq!(&all[..4999], &[b'x'; 4999][..]);
        assert_eq!(&all[4999..], b"cd");
    }

    #[test]
    fn a_drained_queue_holds_no_memory() {
        let mut b = OutBuf::default();
        b.push(b"SETTINGS and its ACK");
        assert!(b.tail.capacity() >= FIRST_TAIL);
        b.consume(5);
        assert!(b.tail.capacity() > 0, "a partly written tail stays");
        b.consume(b.len());
        assert!(b.is_empty());
        assert_eq!(b.tail.capacity(), 0, "a drained tail is freed");
        assert!(b.chunks.is_none());
    }

    #[test]
    fn slices_cover_everything() {
        let mut b = OutBuf::default();
        b.push(b"hello ");
        b.push_bytes(Bytes::from(vec![1u8; 4096]));
        b.push(b"world");
        let mut s = [IoSlice::new(&[]); 8];
        let n = b.io_slices(&mut s);
        let total: usize = s[..n].iter().map(|s| s.len()).sum();
        assert_eq!(total, b.len());
        b.consume(b.len());
        assert!(b.is_empty());
        let mut s2 = [IoSlice::new(&[]); 8];
        assert_eq!(b.io_slices(&mut s2), 0);
    }
}
