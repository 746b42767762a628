//! The batching of the UDP task, apart from the socket: which queued
//! transmits leave in one system call, and how one received buffer splits
//! into datagrams. Plain functions over a small socket trait, so that the
//! rules are tested without a kernel (and the kernel's refusals, which
//! loopback never produces, can be scripted).
//!
//! Sending: the head of the queue and the transmits after it that go to the
//! same place (destination, source IP, ECN mark) with the same size (the
//! last may be shorter) become one GSO send of up to
//! [`SendSocket::max_segments`] datagrams and [`MAX_GSO_BYTES`] bytes. A
//! transmit that is already a GSO batch (`segment_size`) is sent as it is,
//! cut to those limits. When the kernel refuses segmentation (`EIO` or
//! `EINVAL`: a device without checksum offload), GSO is off for the socket
//! from then on and the same datagrams go one per send; nothing is lost.
//! Any other error costs the datagrams of that send, which are counted.

use std::io;
use std::net::{IpAddr, SocketAddr};

use strata::{Ecn, Transmit};

/// The most bytes one GSO send carries: the largest UDP payload of one IPv4
/// datagram, since the kernel builds the whole batch as one before cutting
/// it.
pub(crate) const MAX_GSO_BYTES: usize = 65_507;

/// One system call's worth: one datagram, or with `segment_size` several of
/// that size back to back (the last may be shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Send<'a> {
    pub(crate) destination: SocketAddr,
    pub(crate) src_ip: Option<IpAddr>,
    pub(crate) ecn: Option<Ecn>,
    pub(crate) segment_size: Option<usize>,
    pub(crate) contents: &'a [u8],
}

/// The sending half of a UDP socket, as the batching needs it.
pub(crate) trait SendSocket {
    /// The most datagrams one send may carry (1: no GSO).
    fn max_segments(&self) -> usize;
    /// One non-blocking send. `WouldBlock`: nothing was sent.
    fn send(&self, s: &Send<'_>) -> io::Result<()>;
}

/// What one [`Sender::flush`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Whole transmits sent or given up on: the stack's `consume`.
    pub(crate) done: usize,
    /// The socket buffer is full: wait until it is writable.
    pub(crate) blocked: bool,
    /// A soft error (an ICMP unreachable for an earlier datagram) seen.
    pub(crate) soft: Option<io::ErrorKind>,
}

/// The send side of one socket, across flushes.
#[derive(Debug, Default)]
pub(crate) struct Sender {
    /// Datagrams of the head transmit (a GSO batch) already sent: a batch
    /// longer than one send allows goes out in parts.
    head_sent: usize,
    /// The kernel refused segmentation once: one datagram per send.
    gso_off: bool,
    /// Counters, for logs and tests.
    pub(crate) stats: SendStats,
}

/// What a [`Sender`] did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendStats {
    /// System calls that sent something.
    pub(crate) sends: u64,
    /// Datagrams they carried.
    pub(crate) datagrams: u64,
    /// Datagrams given up on: refused by the kernel (too large, no route,
    /// no buffer), or without a destination on an unconnected socket.
    pub(crate) dropped: u64,
}

impl Sender {
    /// Sends from `queue` (the stack's transmits, oldest first) until it is
    /// empty or the socket is full. `peer` is the connected peer, the
    /// destination of transmits without one. Coalesced datagrams are copied
    /// into `scratch` to sit back to back (the caller's, so that a socket
    /// holds no buffer between flushes).
    pub(crate) fn flush<'a>(
        &mut self,
        sock: &impl SendSocket,
        peer: Option<SocketAddr>,
        queue: impl Iterator<Item = Transmit<'a>>,
        scratch: &mut Vec<u8>,
    ) -> Flushed {
        let mut out = Flushed::default();
        let mut q = queue.peekable();
        while let Some(&head) = q.peek() {
            let max = if self.gso_off {
                1
            } else {
                sock.max_segments().max(1)
            };
            let Some(dest) = head.destination.or(peer) else {
                tracing::debug!("udp: dropping a datagram without destination");
                self.stats.dropped += head.segments().count().max(1) as u64;
                self.head_sent = 0;
                out.done += 1;
                q.next();
                continue;
            };
            let step = match gso_size(&head) {
                Some(size) => {
                    let step = self.send_head_batch(sock, dest, &head, size, max, &mut out);
                    if matches!(step, Step::Done(_)) {
                        q.next();
                    }
                    step
                }
                None => {
                    q.next();
                    let run = Run {
                        dest,
                        peer,
                        head,
                        max,
                    };
                    self.send_run(sock, run, &mut q, scratch, &mut out)
                }
            };
            match step {
                Step::Blocked => {
                    out.blocked = true;
                    return out;
                }
                Step::Done(n) => out.done += n,
                Step::Again => {}
            }
        }
        out
    }

    /// The head is a GSO batch: sends its next part.
    fn send_head_batch(
        &mut self,
        sock: &impl SendSocket,
        dest: SocketAddr,
        head: &Transmit<'_>,
        size: usize,
        max: usize,
        out: &mut Flushed,
    ) -> Step {
        let total = head.contents.len().div_ceil(size);
        let k = (total - self.head_sent)
            .min(max)
            .min((MAX_GSO_BYTES / size).max(1));
        let start = self.head_sent * size;
        let end = (start + k * size).min(head.contents.len());
        let send = Send {
            destination: dest,
            src_ip: head.src_ip,
            ecn: head.ecn,
            segment_size: (k > 1).then_some(size),
            contents: &head.contents[start..end],
        };
        match self.send(sock, &send, k, out) {
            Sent::Blocked => return Step::Blocked,
            Sent::GsoRefused => return Step::Again,
            Sent::Yes | Sent::Dropped => self.head_sent += k,
        }
        if self.head_sent < total {
            return Step::Again;
        }
        self.head_sent = 0;
        Step::Done(1)
    }

    /// The head is a plain datagram: sends it with the run of transmits
    /// after it that can share its send. `run.head` is already taken from
    /// `q`.
    fn send_run<'a>(
        &mut self,
        sock: &impl SendSocket,
        run: Run<'a>,
        q: &mut std::iter::Peekable<impl Iterator<Item = Transmit<'a>>>,
        scratch: &mut Vec<u8>,
        out: &mut Flushed,
    ) -> Step {
        let Run {
            dest,
            peer,
            head,
            max,
        } = run;
        let size = head.contents.len();
        let mut n = 1;
        scratch.clear();
        while n < max && size > 0 {
            let Some(next) = q.peek() else { break };
            let len = next.contents.len();
            let joins = gso_size(next).is_none()
                && next.destination.or(peer) == Some(dest)
                && next.ecn == head.ecn
                && next.src_ip == head.src_ip
                && len > 0
                && len <= size
                && (n + 1) * size <= MAX_GSO_BYTES;
            if !joins {
                break;
            }
            if n == 1 {
                scratch.extend_from_slice(head.contents);
            }
            scratch.extend_from_slice(next.contents);
            n += 1;
            q.next();
            if len < size {
                break;
            }
        }
        let send = Send {
            destination: dest,
            src_ip: head.src_ip,
            ecn: head.ecn,
            segment_size: (n > 1).then_some(size),
            contents: if n == 1 { head.contents } else { &scratch[..] },
        };
        match self.send(sock, &send, n, out) {
            Sent::Blocked => Step::Blocked,
            Sent::Yes | Sent::Dropped => Step::Done(n),
            // GSO is off now: the same datagrams, one per send.
            Sent::GsoRefused => self.send_one_by_one(sock, &send, size, out),
        }
    }

    /// After a refused GSO send of a run: its datagrams one at a time.
    /// Stops (blocked) at a full socket with the ones sent counted as done.
    fn send_one_by_one(
        &mut self,
        sock: &impl SendSocket,
        run: &Send<'_>,
        size: usize,
        out: &mut Flushed,
    ) -> Step {
        let mut done = 0;
        for one in run.contents.chunks(size) {
            let send = Send {
                segment_size: None,
                contents: one,
                ..*run
            };
            match self.send(sock, &send, 1, out) {
                Sent::Blocked => {
                    out.done += done;
                    return Step::Blocked;
                }
                _ => done += 1,
            }
        }
        Step::Done(done)
    }

    /// One system call carrying `n` datagrams.
    fn send(&mut self, sock: &impl SendSocket, s: &Send<'_>, n: usize, out: &mut Flushed) -> Sent {
        match sock.send(s) {
            Ok(()) => {
                self.stats.sends += 1;
                self.stats.datagrams += n as u64;
                Sent::Yes
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Sent::Blocked,
            Err(e) if n > 1 && gso_refused(&e) => {
                tracing::debug!("udp: the kernel refused GSO ({e}); sending one datagram per call");
                self.gso_off = true;
                Sent::GsoRefused
            }
            // Datagrams may be lost: an error (ICMP unreachable, EMSGSIZE,
            // ENOBUFS...) costs this send, not the socket.
            Err(e) => {
                tracing::debug!("udp: send to {} failed: {e}", s.destination);
                if is_soft_error(&e) {
                    out.soft = Some(e.kind());
                }
                self.stats.dropped += n as u64;
                Sent::Dropped
            }
        }
    }
}

/// The head of a run of plain datagrams and what bounds the run.
struct Run<'a> {
    dest: SocketAddr,
    peer: Option<SocketAddr>,
    head: Transmit<'a>,
    max: usize,
}

/// How one send went.
enum Sent {
    Yes,
    Blocked,
    /// Lost and counted.
    Dropped,
    /// The kernel cannot segment: nothing was sent, GSO is now off.
    GsoRefused,
}

/// What a step of the flush did.
enum Step {
    Blocked,
    /// This many whole transmits are done.
    Done(usize),
    /// Progress within the head; go on.
    Again,
}

/// The segment size of a transmit that is a GSO batch of more than one
/// datagram.
fn gso_size(t: &Transmit<'_>) -> Option<usize> {
    t.segment_size.filter(|&s| s > 0 && s < t.contents.len())
}

/// `EIO` or `EINVAL` from a segmented send: the device or path cannot do
/// GSO (quinn-udp lowers its own segment limit on the same errors).
fn gso_refused(e: &io::Error) -> bool {
    const EINVAL: i32 = 22;
    const EIO: i32 = 5;
    matches!(e.raw_os_error(), Some(EIO | EINVAL))
}

/// Errors a UDP socket reports for one earlier datagram (an ICMP message),
/// after which it keeps working.
pub(crate) fn is_soft_error(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionReset | Interrupted | HostUnreachable | NetworkUnreachable
    )
}

/// The datagrams of one received buffer: GRO hands several datagrams from
/// one sender in one buffer, each `stride` bytes but the last. A zero
/// stride means one datagram; an empty buffer is one empty datagram.
///
/// ```ignore
/// let d: Vec<&[u8]> = split(b"aabbc", 2).collect();
/// assert_eq!(d, [&b"aa"[..], b"bb", b"c"]);
/// ```
pub(crate) fn split(buf: &[u8], stride: usize) -> impl Iterator<Item = &[u8]> {
    let empty = buf.is_empty().then_some(buf);
    let stride = if stride == 0 { buf.len() } else { stride };
    buf.chunks(stride.max(1)).chain(empty)
}

#[cfg(test)]
mod tests;
