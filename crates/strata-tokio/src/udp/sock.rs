//! The UDP socket of one task: tokio's socket for readiness, quinn-udp's
//! state for the system calls (`sendmsg` with GSO, ECN and source address;
//! `recvmmsg` with GRO, ECN and destination address). quinn-udp holds the
//! `unsafe` code; this file has none.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::Arc;

use quinn_udp::{EcnCodepoint, RecvMeta, UdpSocketState};
use strata::Ecn;
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::batch::{self, SendSocket};

/// What the driver asks the kernel for as `SO_SNDBUF` and `SO_RCVBUF` of
/// every UDP socket (4 MiB). The kernel's default (about 208 KiB) holds
/// fewer than 100 datagrams of 1,200 bytes: a burst of a paced sender, or
/// a task that was busy for a millisecond, loses more than that at the
/// receiver. The kernel grants at most `net.core.wmem_max` /
/// `net.core.rmem_max` (an unprivileged process cannot go past them), and
/// never less than it had: a buffer already larger is left alone.
pub(crate) const UDP_SOCKET_BUFFER: usize = 4 << 20;

/// The bytes of one receive slot: the largest UDP payload, and also the
/// largest run of datagrams GRO hands over in one buffer (the kernel caps a
/// GRO packet at 64 KiB).
pub(crate) const SLOT: usize = 64 * 1024;

/// One UDP socket with its batching state.
pub(crate) struct UdpSock {
    pub(crate) io: Arc<UdpSocket>,
    state: UdpSocketState,
}

impl UdpSock {
    /// Sets the socket up for ECN, GRO and destination addresses, and
    /// enlarges its buffers to [`UDP_SOCKET_BUFFER`].
    pub(crate) fn new(io: UdpSocket) -> io::Result<Self> {
        let state = UdpSocketState::new((&io).into())?;
        // Linux reports twice what was asked for (its bookkeeping), so a
        // buffer set here reads as larger and is left alone next time.
        let sock = || (&io).into();
        if state.send_buffer_size(sock()).unwrap_or(0) < UDP_SOCKET_BUFFER
            && let Err(e) = state.set_send_buffer_size(sock(), UDP_SOCKET_BUFFER)
        {
            tracing::debug!("udp: cannot set SO_SNDBUF: {e}");
        }
        if state.recv_buffer_size(sock()).unwrap_or(0) < UDP_SOCKET_BUFFER
            && let Err(e) = state.set_recv_buffer_size(sock(), UDP_SOCKET_BUFFER)
        {
            tracing::debug!("udp: cannot set SO_RCVBUF: {e}");
        }
        Ok(UdpSock {
            io: Arc::new(io),
            state,
        })
    }

    /// One `recvmmsg`: fills `meta[..n]`, one per buffer (a buffer may hold
    /// several datagrams of `stride` bytes). `WouldBlock` when none is
    /// waiting; tokio's readiness is cleared then.
    pub(crate) fn recv(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> io::Result<usize> {
        self.io.try_io(Interest::READABLE, || {
            self.state.recv((&*self.io).into(), bufs, meta)
        })
    }
}

impl SendSocket for UdpSock {
    fn max_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn send(&self, s: &batch::Send<'_>) -> io::Result<()> {
        let t = quinn_udp::Transmit {
            destination: s.destination,
            ecn: s.ecn.map(to_codepoint),
            contents: s.contents,
            segment_size: s.segment_size,
            src_ip: s.src_ip,
        };
        self.io.try_io(Interest::WRITABLE, || {
            self.state.try_send((&*self.io).into(), &t)
        })
    }
}

/// The datagrams of one received buffer, for the stack.
pub(crate) fn datagrams<'a>(meta: &RecvMeta, buf: &'a [u8], out: &mut Vec<strata::Datagram<'a>>) {
    let from: Option<SocketAddr> = Some(meta.addr);
    let ecn = meta.ecn.map(from_codepoint);
    for data in batch::split(&buf[..meta.len.min(buf.len())], meta.stride) {
        out.push(strata::Datagram {
            source: from,
            dst_ip: meta.dst_ip,
            ecn,
            data,
        });
    }
}

fn to_codepoint(e: Ecn) -> EcnCodepoint {
    match e {
        Ecn::Ect0 => EcnCodepoint::Ect0,
        Ecn::Ect1 => EcnCodepoint::Ect1,
        Ecn::Ce => EcnCodepoint::Ce,
    }
}

fn from_codepoint(e: EcnCodepoint) -> Ecn {
    match e {
        EcnCodepoint::Ect0 => Ecn::Ect0,
        EcnCodepoint::Ect1 => Ecn::Ect1,
        EcnCodepoint::Ce => Ecn::Ce,
    }
}
