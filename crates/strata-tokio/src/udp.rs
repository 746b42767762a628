//! The UDP task: runs one [`DatagramStack`] over one UDP socket, connected or
//! not, with the system calls batched (quinn-udp under [`sock`], the rules
//! in [`batch`]).
//!
//! Receiving: on readiness, one `recvmmsg` fills up to
//! `quinn_udp::BATCH_SIZE` slots of a per-worker buffer; with GRO a slot
//! holds a run of datagrams from one sender, split again at its stride. The
//! whole call's datagrams reach the stack in one `handle_datagrams`, each
//! with its ECN mark and the local address it was sent to (`dst_ip`).
//!
//! Sending: the queued transmits leave through `sendmsg` with their ECN
//! mark and source address; a run of them to one place with one size is
//! coalesced into one GSO send (so a protocol that sends one datagram per
//! call, as the reliable mapping does, gets batching without asking), and a
//! transmit that is a GSO batch already is sent as one where the kernel
//! allows. Where the kernel has no GSO, or refuses it once, it is one
//! datagram per call. What the kernel refuses is counted and logged.
//! Datagrams are never fragmented (quinn-udp sets don't-fragment): one
//! larger than the interface's MTU is refused with `EMSGSIZE`.
//!
//! Every socket asks for [`UDP_SOCKET_BUFFER`](sock::UDP_SOCKET_BUFFER)
//! bytes of send and receive buffer, so that bursts are not lost in the
//! kernel.
//!
//! A connected socket's soft errors (an ICMP port, host or network
//! unreachable for an earlier datagram) reach the stack as
//! `handle_error`, once per batch, as a hint; an unconnected (listener)
//! socket ignores them, as it cannot tell which peer they concern.

mod batch;
mod sock;

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use quinn_udp::{RecvMeta, BATCH_SIZE};
use strata::{
    AbortReason, Addr, Close, DatagramInfo, DatagramProtocol, DatagramStack, LocalAddr, PeerAddr,
    StackConfig,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::Sleep;

use crate::control::{Group, Shared, TaskGuard};
use crate::task::{arm, earliest, guarded, poll_common, Event, Panicked};
use batch::{is_soft_error, Sender};
use sock::{UdpSock, SLOT};

/// The per-worker receive buffer: one [`SLOT`] per message of one
/// `recvmmsg` (2 MiB, of which only what arrives is ever touched).
const RECV_BUF_SIZE: usize = BATCH_SIZE * SLOT;

thread_local! {
    static RECV_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; RECV_BUF_SIZE]);
    /// Where coalesced datagrams are copied for one GSO send (at most
    /// 64 KiB, per worker thread: a socket holds no buffer between flushes).
    static SEND_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Binds, optionally connects, and spawns the task; returns the bound
/// address and the task, which ends with the stack's reason.
pub(crate) async fn spawn(
    shared: &Arc<Shared>,
    addr: SocketAddr,
    connect_to: Option<SocketAddr>,
    proto: Box<dyn DatagramProtocol>,
    cfg: Arc<StackConfig>,
) -> io::Result<(SocketAddr, tokio::task::JoinHandle<Close>)> {
    let sock = UdpSocket::bind(addr).await?;
    if let Some(peer) = connect_to {
        sock.connect(peer).await?;
    }
    let local = sock.local_addr()?;
    let info = DatagramInfo {
        name: "udp",
        local: Some(LocalAddr(Addr::Inet(local))),
        peer: connect_to.map(|p| PeerAddr(Addr::Inet(p))),
        // The largest payload of one IPv4 / IPv6 UDP datagram.
        max_datagram_size: if local.is_ipv4() { 65_507 } else { 65_527 },
        dialer: Some(crate::dial::dialer_id()),
    };
    let sock = UdpSock::new(sock)?;
    let stack = DatagramStack::new(proto, info, cfg, Instant::now());
    let guard = TaskGuard::new(&Group::datagram(shared));
    let task = tokio::spawn(drive(sock, connect_to, stack, guard));
    Ok((local, task))
}

/// Binds, optionally connects, and spawns the task; returns the bound
/// address.
pub(crate) async fn bind(
    shared: &Arc<Shared>,
    addr: SocketAddr,
    connect_to: Option<SocketAddr>,
    proto: Box<dyn DatagramProtocol>,
    cfg: Arc<StackConfig>,
) -> io::Result<SocketAddr> {
    Ok(spawn(shared, addr, connect_to, proto, cfg).await?.0)
}

/// Waits until the socket has an error pending (an ICMP unreachable). A
/// pending error does not make the socket readable for tokio, and the next
/// send would report it in place of its datagram: it is taken as it comes.
type ErrorWait = Pin<Box<dyn Future<Output = ()> + Send>>;

fn error_wait(sock: &Arc<UdpSocket>) -> ErrorWait {
    let sock = Arc::clone(sock);
    Box::pin(async move {
        let _ = sock.ready(Interest::ERROR).await;
    })
}

struct Udp {
    sock: UdpSock,
    peer: Option<SocketAddr>,
    /// Connected sockets only: the wait for a pending error, and whether it
    /// fired (the error is taken on the next read).
    error_wait: Option<ErrorWait>,
    error_ready: bool,
    stack: DatagramStack,
    sender: Sender,
    /// Datagrams received, and the `recvmmsg` calls that brought them.
    received: u64,
    recv_calls: u64,
}

impl Udp {
    fn call(&mut self, f: impl FnOnce(&mut DatagramStack, Instant)) -> Result<(), Panicked> {
        let stack = &mut self.stack;
        guarded(|| f(stack, Instant::now()))
    }

    /// Sends queued datagrams until the socket buffer is full.
    fn flush(&mut self) -> Result<(), Panicked> {
        let queue = self.stack.transmits().map(|t| t.as_transmit());
        let (sender, sock, peer) = (&mut self.sender, &self.sock, self.peer);
        let f = SEND_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => sender.flush(sock, peer, queue, &mut buf),
            Err(_) => sender.flush(sock, peer, queue, &mut Vec::new()),
        });
        if f.done > 0 {
            self.call(|s, now| s.consume(now, f.done))?;
        }
        self.hint(f.soft)
    }

    /// Tells the stack of a soft error (an ICMP unreachable for an earlier
    /// datagram), once per batch, on a connected socket only: a listener
    /// cannot tell which peer it concerns, and a spoofer could aim it at
    /// any. Only a hint: see `DatagramProtocol::error_received`.
    fn hint(&mut self, soft: Option<io::ErrorKind>) -> Result<(), Panicked> {
        match soft {
            Some(kind) if self.peer.is_some() && kind != io::ErrorKind::Interrupted => {
                self.call(|s, now| s.handle_error(now, kind))
            }
            _ => Ok(()),
        }
    }

    /// Takes the socket's pending error (`SO_ERROR`), hands a soft one to
    /// the stack, and waits for the next.
    fn take_error(&mut self) -> Result<(), Panicked> {
        self.error_ready = false;
        let soft = match self.sock.io.take_error() {
            Ok(Some(e)) if is_soft_error(&e) => Some(e.kind()),
            Ok(Some(e)) => {
                tracing::debug!("udp: socket error: {e}");
                None
            }
            _ => None,
        };
        // Clears tokio's cached error readiness: the next wait sleeps until
        // a new error.
        let _ = self.sock.io.try_io(Interest::ERROR, || {
            Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
        });
        self.error_wait = Some(error_wait(&self.sock.io));
        self.hint(soft)
    }

    /// Reads one `recvmmsg`'s worth and hands it over as one batch.
    fn recv(&mut self) -> Result<(), Panicked> {
        if self.error_ready {
            self.take_error()?;
            if !self.stack.wants_read() {
                return Ok(());
            }
        }
        RECV_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => self.recv_into(&mut buf),
            Err(_) => self.recv_into(&mut vec![0; RECV_BUF_SIZE]),
        })
    }

    fn recv_into(&mut self, buf: &mut [u8]) -> Result<(), Panicked> {
        let mut meta = [RecvMeta::default(); BATCH_SIZE];
        let res = {
            let mut slots = buf.chunks_mut(SLOT);
            let mut bufs: [IoSliceMut<'_>; BATCH_SIZE] =
                std::array::from_fn(|_| IoSliceMut::new(slots.next().unwrap_or(&mut [])));
            // A soft error takes one call (the socket stays readable);
            // what follows it is read by the next.
            self.sock.recv(&mut bufs, &mut meta)
        };
        match res {
            Ok(n) => {
                self.recv_calls += 1;
                let mut batch = Vec::with_capacity(n);
                for (m, slot) in meta[..n].iter().zip(buf.chunks(SLOT)) {
                    sock::datagrams(m, slot, &mut batch);
                }
                self.received += batch.len() as u64;
                if !batch.is_empty() {
                    self.call(|s, now| s.handle_datagrams(now, &batch))?;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) if is_soft_error(&e) => self.hint(Some(e.kind())),
            Err(e) => self.call(|s, now| s.handle_lost(now, Close::from(e))),
        }
    }

    // `&mut self`: a shared borrow held across the await would need `Stack: Sync`.
    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        shutdown: Option<&mut TaskGuard>,
        timer: Option<&mut Pin<Box<Sleep>>>,
    ) -> Poll<Event> {
        if let Poll::Ready(ev) = poll_common(cx, shutdown, timer, self.stack.wake_hub()) {
            return Poll::Ready(ev);
        }
        if let Some(w) = self.error_wait.as_mut()
            && w.as_mut().poll(cx).is_ready()
        {
            self.error_wait = None;
            self.error_ready = true;
            return Poll::Ready(Event::Readable);
        }
        if self.stack.transmits().next().is_some() && self.sock.io.poll_send_ready(cx).is_ready() {
            return Poll::Ready(Event::Writable);
        }
        if self.stack.wants_read() && self.sock.io.poll_recv_ready(cx).is_ready() {
            return Poll::Ready(Event::Readable);
        }
        Poll::Pending
    }
}

async fn drive(
    sock: UdpSock,
    peer: Option<SocketAddr>,
    stack: DatagramStack,
    mut ctl: TaskGuard,
) -> Close {
    let mut udp = Udp {
        error_wait: peer.map(|_| error_wait(&sock.io)),
        error_ready: false,
        sock,
        peer,
        stack,
        sender: Sender::default(),
        received: 0,
        recv_calls: 0,
    };
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    let mut drain_at: Option<Instant> = None;
    let run = async {
        udp.call(|s, now| s.start(now))?;
        loop {
            if drain_at.is_none()
                && let Some(d) = ctl.shared().drain_deadline()
            {
                drain_at = Some(d);
                udp.call(|s, now| s.handle_shutdown(now))?;
            }
            udp.flush()?;
            if udp.stack.finished().is_some() {
                return Ok(());
            }
            arm(&mut timer, earliest(udp.stack.next_deadline(), drain_at));
            let mut shutdown = Some(&mut ctl).filter(|_| drain_at.is_none());
            let ev =
                poll_fn(|cx| udp.poll_event(cx, shutdown.as_deref_mut(), timer.as_mut())).await;
            match ev {
                Event::Readable => udp.recv()?,
                Event::Writable | Event::Shutdown => {}
                Event::Wake => udp.call(|s, now| s.handle_wakes(now))?,
                Event::Timer => {
                    timer = None;
                    if drain_at.is_some_and(|d| d <= Instant::now()) {
                        let why = Close::aborted("driver", AbortReason::Shutdown);
                        udp.call(|s, now| s.handle_lost(now, why))?;
                    } else {
                        udp.call(|s, now| s.handle_timeout(now))?;
                    }
                }
            }
        }
    };
    let outcome: Result<(), Panicked> = run.await;
    let st = udp.sender.stats;
    tracing::debug!(
        sends = st.sends,
        sent = st.datagrams,
        dropped = st.dropped,
        recv_calls = udp.recv_calls,
        received = udp.received,
        "udp: socket done"
    );
    match outcome {
        Ok(()) => udp.stack.finished().cloned().unwrap_or(Close::Done),
        Err(Panicked(msg)) => {
            let local = udp.sock.io.local_addr().map(|a| a.to_string());
            tracing::error!(
                local = local.as_deref().unwrap_or("?"),
                "datagram protocol panicked: {msg}; closing the socket"
            );
            let why = Close::aborted("driver", AbortReason::Panicked);
            let _ = guarded(|| udp.stack.handle_lost(Instant::now(), why.clone()));
            why
        }
    }
}
