//! The KCP baseline: a [`DatagramProtocol`] that runs the `kcp` crate (the
//! Rust port of ikcp) for one side of a conversation and hosts a workload
//! [`StreamProtocol`] over it, through a short-lived view.
//!
//! It drives the engine the canonical ikcp way: `update` at the times
//! `check` asks for (every `interval` at most), `input` for each datagram,
//! `recv` drained after input, `send` for the application's writes. Output
//! leaves at `update` only, as in ikcp: nothing is flushed early.
//!
//! KCP has no end of stream: `write_eof` and `close` are recorded and
//! nothing goes on the wire; the workloads' receivers finish on a byte or
//! message count.

use std::any::{Any, TypeId};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kcp::Kcp;
use strata::testing::epoch;
use strata::{
    Close, Datagram, DatagramProtocol, DatagramTransport, Introspect, StreamProtocol,
    StreamTransport, Transmit, Wake, WakeRoute,
};

/// The conversation id both sides use.
const CONV: u32 = 0x5354_5241;

/// The largest slice handed to one `Kcp::send` (the crate refuses 128
/// segments or more at once).
const MAX_SEND_SEGMENTS: usize = 100;

/// The two ways of running KCP that the benchmark compares against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KcpMode {
    /// `nodelay 1, interval 10 ms, fast resend 2, no congestion control`.
    Fast,
    /// The engine's defaults: `nodelay 0, interval 100 ms, no fast resend,
    /// congestion control on`.
    Default,
}

/// How to set up one KCP engine.
#[derive(Clone, Copy, Debug)]
pub struct KcpSetup {
    /// Fast or default mode.
    pub mode: KcpMode,
    /// Datagram size (KCP's `mtu`, header included).
    pub mtu: usize,
    /// `snd_wnd` and `rcv_wnd`, in segments.
    pub wnd: u16,
}

impl KcpSetup {
    /// Payload bytes per segment.
    pub fn mss(&self) -> usize {
        self.mtu.saturating_sub(kcp::KCP_OVERHEAD)
    }

    /// The bytes the sender may queue (in flight plus waiting) before its
    /// application gets `pause_writing`: twice the send window, so the
    /// window never runs dry for want of data.
    fn high_water(&self) -> usize {
        2 * usize::from(self.wnd) * self.mss()
    }

    /// Where `resume_writing` comes: one and a half windows.
    fn low_water(&self) -> usize {
        3 * usize::from(self.wnd) * self.mss() / 2
    }
}

/// The engine's output: each `write` is one datagram.
#[derive(Clone, Debug, Default)]
struct Outbox(Arc<Mutex<Vec<Vec<u8>>>>);

impl Outbox {
    fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Write for Outbox {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.push(data.to_vec());
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One side of a KCP conversation with `peer`, hosting `inner`.
pub struct KcpHost {
    kcp: Kcp<Outbox>,
    outbox: Outbox,
    peer: SocketAddr,
    inner: Box<dyn StreamProtocol>,
    st: HostState,
    /// Received bytes not yet delivered (kept while reading is paused).
    rx: Vec<u8>,
    recv_buf: Vec<u8>,
    kcp_deadline: Option<Instant>,
    /// Datagrams the engine refused.
    bad_input: u64,
}

struct HostState {
    high_water: usize,
    low_water: usize,
    mss: usize,
    write_paused: bool,
    read_paused: bool,
    closed: bool,
    eof_written: bool,
}

impl KcpHost {
    /// A side that talks to `peer` with `setup`, hosting `inner`.
    pub fn new(peer: SocketAddr, setup: KcpSetup, inner: Box<dyn StreamProtocol>) -> KcpHost {
        let outbox = Outbox::default();
        let mut kcp = Kcp::new_stream(CONV, outbox.clone());
        // An MTU under 50 bytes is refused and the default (1400) kept.
        let _ = kcp.set_mtu(setup.mtu);
        kcp.set_wndsize(setup.wnd, setup.wnd);
        match setup.mode {
            KcpMode::Fast => kcp.set_nodelay(true, 10, 2, true),
            KcpMode::Default => kcp.set_nodelay(false, 100, 0, false),
        }
        let mss = kcp.mss();
        KcpHost {
            kcp,
            outbox,
            peer,
            inner,
            st: HostState {
                high_water: setup.high_water(),
                low_water: setup.low_water(),
                mss,
                write_paused: false,
                read_paused: false,
                closed: false,
                eof_written: false,
            },
            rx: Vec::new(),
            recv_buf: vec![0; mss.max(1)],
            kcp_deadline: None,
            bad_input: 0,
        }
    }

    /// Calls the inner protocol with the view, then settles and sends.
    fn call(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut dyn StreamProtocol, &mut dyn StreamTransport),
    ) {
        self.with_view(t, f);
        self.settle(t);
    }

    /// Runs `update` if the engine asks for it now, and sets the next
    /// engine deadline.
    fn service(&mut self, now: Instant) {
        let cur = millis(now);
        if self.kcp.check(cur) == 0 {
            // Errors are I/O errors of the outbox, which never fails.
            let _ = self.kcp.update(cur);
        }
        // At least the next millisecond: `check` works in whole ones.
        let wait = self.kcp.check(cur).max(1);
        self.kcp_deadline = Some(epoch() + Duration::from_millis(u64::from(cur) + u64::from(wait)));
    }

    /// Drains `recv` into the held input.
    fn drain_recv(&mut self) {
        while let Ok(n) = self.kcp.recv(&mut self.recv_buf) {
            self.rx.extend_from_slice(&self.recv_buf[..n]);
        }
    }

    /// The settle step: held input (unless paused), then the write edges;
    /// then the datagrams the engine produced go out.
    fn settle(&mut self, t: &mut dyn DatagramTransport) {
        loop {
            if !self.st.read_paused {
                // While paused the engine keeps what arrives and its
                // receive window closes: KCP's own back-pressure.
                self.drain_recv();
            }
            if !self.st.read_paused && !self.rx.is_empty() {
                let data = std::mem::take(&mut self.rx);
                self.with_view(t, |p, v| p.data_received(v, &data));
                if self.rx.is_empty() {
                    // Keep the allocation.
                    self.rx = data;
                    self.rx.clear();
                }
                continue;
            }
            let queued = queued_bytes(&self.kcp, self.st.mss);
            if !self.st.write_paused && queued >= self.st.high_water {
                self.st.write_paused = true;
                self.with_view(t, |p, v| p.pause_writing(v));
                continue;
            }
            if self.st.write_paused && queued <= self.st.low_water {
                self.st.write_paused = false;
                self.with_view(t, |p, v| p.resume_writing(v));
                continue;
            }
            break;
        }
        for pkt in self.outbox.take() {
            t.send(&Transmit::to(self.peer, &pkt));
        }
    }

    /// Calls the inner protocol with the view, nothing more.
    fn with_view(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut dyn StreamProtocol, &mut dyn StreamTransport),
    ) {
        f(
            &mut *self.inner,
            &mut KcpView {
                below: t,
                kcp: &mut self.kcp,
                st: &mut self.st,
            },
        );
    }
}

/// Milliseconds of virtual time, KCP's clock (wraps after 49 days).
fn millis(now: Instant) -> u32 {
    now.saturating_duration_since(epoch()).as_millis() as u32
}

/// Bytes in the engine's send queue and send buffer.
fn queued_bytes<O>(kcp: &Kcp<O>, mss: usize) -> usize {
    kcp.wait_snd().saturating_mul(mss)
}

impl DatagramProtocol for KcpHost {
    fn connection_made(&mut self, t: &mut dyn DatagramTransport) {
        self.service(t.now());
        self.call(t, |p, v| p.connection_made(v));
    }

    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            if d.source != Some(self.peer) || self.kcp.input(d.data).is_err() {
                self.bad_input += 1;
            }
        }
        self.service(t.now());
        self.settle(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        match (self.kcp_deadline, self.inner.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_deadline(&mut self, t: &mut dyn DatagramTransport) {
        let now = t.now();
        // The inner protocol first: what it writes now leaves with this
        // update, as an application that writes then updates would have it.
        if self.inner.next_deadline().is_some_and(|d| d <= now) {
            self.call(t, |p, v| p.on_deadline(v));
        }
        if self.kcp_deadline.is_some_and(|d| d <= now) {
            self.service(now);
            self.settle(t);
        }
    }

    fn on_wake(&mut self, t: &mut dyn DatagramTransport, route: WakeRoute<'_>) {
        self.call(t, |p, v| p.on_wake(v, route));
    }

    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why);
    }

    fn buffered(&self) -> usize {
        queued_bytes(&self.kcp, self.st.mss)
    }
}

impl std::fmt::Debug for KcpHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpHost")
            .field("peer", &self.peer)
            .field("wait_snd", &self.kcp.wait_snd())
            .field("bad_input", &self.bad_input)
            .field("eof_written", &self.st.eof_written)
            .finish_non_exhaustive()
    }
}

/// The stream transport a workload sees over KCP.
struct KcpView<'a> {
    below: &'a mut dyn DatagramTransport,
    kcp: &'a mut Kcp<Outbox>,
    st: &'a mut HostState,
}

impl Introspect for KcpView<'_> {
    fn name(&self) -> &'static str {
        "kcp-crate"
    }
    fn local_capability(&self, _: TypeId) -> Option<&dyn Any> {
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for KcpView<'_> {
    fn write(&mut self, data: &[u8]) {
        if self.st.closed || self.st.eof_written {
            return;
        }
        for chunk in data.chunks(self.st.mss.max(1) * MAX_SEND_SEGMENTS) {
            // Refused only for 128 segments or more at once.
            let _ = self.kcp.send(chunk);
        }
    }
    fn write_eof(&mut self) {
        self.st.eof_written = true;
    }
    fn close(&mut self) {
        self.st.closed = true;
    }
    fn abort(&mut self, _: Close) {
        self.st.closed = true;
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
    }
    fn buffered(&self) -> usize {
        queued_bytes(self.kcp, self.st.mss)
    }
    fn writable(&self) -> bool {
        !self.st.closed && self.buffered() < self.st.high_water
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker()
    }
}
