//! The UDP task: runs one [`DatagramStack`] over one UDP socket, connected or
//! not.
//!
//! Receiving is batched: on readiness, up to [`MAX_BATCH`] datagrams are read
//! back to back into one per-worker buffer and handed to the stack in one
//! `handle_datagrams`. Sending walks the queued transmits with one
//! `try_send_to` per datagram; a GSO batch (`segment_size`) is split with
//! [`Transmit::segments`](strata::Transmit::segments). Real UDP GSO/GRO
//! (`UDP_SEGMENT`, `UDP_GRO`) and ECN marks need `sendmsg`/`recvmsg` with
//! control messages and are a later improvement; until then `ecn` and
//! `src_ip` of a transmit are ignored and received datagrams carry neither.
//!
//! A connected socket's soft errors (an ICMP port, host or network
//! unreachable for an earlier datagram) reach the stack as
//! `handle_error`, once per batch, as a hint; an unconnected (listener)
//! socket ignores them, as it cannot tell which peer they concern.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use strata::{
    AbortReason, Addr, Close, Datagram, DatagramInfo, DatagramProtocol, DatagramStack, LocalAddr,
    PeerAddr, StackConfig,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::Sleep;

use crate::control::{Group, Shared, TaskGuard};
use crate::task::{arm, earliest, guarded, poll_common, Event, Panicked};

/// Most datagrams read per readiness and handed over in one batch.
pub const MAX_BATCH: usize = 32;
/// Room kept free in the receive buffer for one more datagram (the largest
/// UDP payload fits).
const MAX_UDP_PAYLOAD: usize = 64 * 1024;
/// The per-worker receive buffer: room for [`MAX_BATCH`] small datagrams, or
/// several of the largest.
const RECV_BUF_SIZE: usize = 4 * MAX_UDP_PAYLOAD;

thread_local! {
    static RECV_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; RECV_BUF_SIZE]);
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
    };
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
    sock: Arc<UdpSocket>,
    peer: Option<SocketAddr>,
    /// Connected sockets only: the wait for a pending error, and whether it
    /// fired (the error is taken on the next read).
    error_wait: Option<ErrorWait>,
    error_ready: bool,
    stack: DatagramStack,
    /// Segments of the first queued transmit already sent (a GSO batch can
    /// be cut by a full socket buffer).
    head_sent: usize,
}

impl Udp {
    fn call(&mut self, f: impl FnOnce(&mut DatagramStack, Instant)) -> Result<(), Panicked> {
        let stack = &mut self.stack;
        guarded(|| f(stack, Instant::now()))
    }

    /// Sends queued datagrams until the socket buffer is full.
    fn flush(&mut self) -> Result<(), Panicked> {
        let mut done = 0;
        let mut soft = None;
        'transmits: for t in self.stack.transmits() {
            let t = t.as_transmit();
            let Some(dest) = t.destination.or(self.peer) else {
                tracing::debug!("udp: dropping a datagram without destination");
                done += 1;
                continue;
            };
            for seg in t.segments().skip(self.head_sent) {
                let res = match (t.destination, self.peer) {
                    (None, Some(_)) => self.sock.try_send(seg),
                    _ => self.sock.try_send_to(seg, dest),
                };
                match res {
                    Ok(_) => self.head_sent += 1,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 'transmits,
                    // Datagrams may be lost: an error (ICMP unreachable,
                    // EMSGSIZE...) costs this segment, not the socket.
                    Err(e) => {
                        tracing::debug!("udp: send to {dest} failed: {e}");
                        if is_soft_error(&e) {
                            soft = Some(e.kind());
                        }
                        self.head_sent += 1;
                    }
                }
            }
            self.head_sent = 0;
            done += 1;
        }
        if done > 0 {
            self.call(|s, now| s.consume(now, done))?;
        }
        self.hint(soft)
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
        let soft = match self.sock.take_error() {
            Ok(Some(e)) if is_soft_error(&e) => Some(e.kind()),
            Ok(Some(e)) => {
                tracing::debug!("udp: socket error: {e}");
                None
            }
            _ => None,
        };
        // Clears tokio's cached error readiness: the next wait sleeps until
        // a new error.
        let _ = self.sock.try_io(Interest::ERROR, || {
            Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
        });
        self.error_wait = Some(error_wait(&self.sock));
        self.hint(soft)
    }

    /// Reads up to [`MAX_BATCH`] datagrams and hands them over as one batch.
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
        let mut spans = [(None, 0, 0); MAX_BATCH];
        let (mut n, mut off, mut tries) = (0, 0, 0);
        let mut fatal = None;
        let mut soft = None;
        while n < MAX_BATCH && buf.len() - off >= MAX_UDP_PAYLOAD && tries < 2 * MAX_BATCH {
            tries += 1;
            let res = match self.peer {
                Some(p) => self
                    .sock
                    .try_recv(&mut buf[off..])
                    .map(|len| (len, Some(p))),
                None => self
                    .sock
                    .try_recv_from(&mut buf[off..])
                    .map(|(len, a)| (len, Some(a))),
            };
            match res {
                Ok((len, src)) => {
                    spans[n] = (src, off, len);
                    n += 1;
                    off += len;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if is_soft_error(&e) => soft = Some(e.kind()),
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
        }
        if n > 0 {
            let mut batch = [Datagram::new(None, &[]); MAX_BATCH];
            for (d, &(src, at, len)) in batch.iter_mut().zip(&spans[..n]) {
                *d = Datagram::new(src, &buf[at..at + len]);
            }
            self.call(|s, now| s.handle_datagrams(now, &batch[..n]))?;
        }
        self.hint(soft)?;
        if let Some(e) = fatal {
            self.call(|s, now| s.handle_lost(now, Close::from(e)))?;
        }
        Ok(())
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
        if let Some(w) = self.error_wait.as_mut() {
            if w.as_mut().poll(cx).is_ready() {
                self.error_wait = None;
                self.error_ready = true;
                return Poll::Ready(Event::Readable);
            }
        }
        if self.stack.transmits().next().is_some() && self.sock.poll_send_ready(cx).is_ready() {
            return Poll::Ready(Event::Writable);
        }
        if self.stack.wants_read() && self.sock.poll_recv_ready(cx).is_ready() {
            return Poll::Ready(Event::Readable);
        }
        Poll::Pending
    }
}

/// Errors a UDP socket reports for one earlier datagram (an ICMP message),
/// after which it keeps working.
fn is_soft_error(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionReset | Interrupted | HostUnreachable | NetworkUnreachable
    )
}

async fn drive(
    sock: UdpSocket,
    peer: Option<SocketAddr>,
    stack: DatagramStack,
    mut ctl: TaskGuard,
) -> Close {
    let sock = Arc::new(sock);
    let mut udp = Udp {
        error_wait: peer.map(|_| error_wait(&sock)),
        error_ready: false,
        sock,
        peer,
        stack,
        head_sent: 0,
    };
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    let mut drain_at: Option<Instant> = None;
    let run = async {
        udp.call(|s, now| s.start(now))?;
        loop {
            if drain_at.is_none() {
                if let Some(d) = ctl.shared().drain_deadline() {
                    drain_at = Some(d);
                    udp.call(|s, now| s.handle_shutdown(now))?;
                }
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
    match outcome {
        Ok(()) => udp.stack.finished().cloned().unwrap_or(Close::Done),
        Err(Panicked(msg)) => {
            let local = udp.sock.local_addr().map(|a| a.to_string());
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
