//! [`Hosted`]: one engine connection and the stream protocol above it, and
//! the view that protocol sees, written once for both engines (issue 10,
//! point 7).
//!
//! The generic part: when the protocol is called (and that the settle step
//! follows every call), the read pause, handing over what arrived and the
//! end of the stream, the `pause_writing`/`resume_writing` edges, sending
//! what is due to the right address, the view's name, capabilities, peer
//! address and wake route, and `connection_lost` once. What differs
//! between the engines is a [`HostEngine`] hook, by static dispatch: when
//! the protocol starts (the native handshake; KCP starts at once), what
//! one read step yields, when writing pauses (the native send buffer; KCP's
//! overflow and the transport below), what `write_eof`/`close`/`abort` do
//! (native FIN and CLOSE; KCP's end marker and close flush), and how the
//! end maps to a [`Close`]. The native hooks are in [`super::native_host`],
//! KCP's in `kcp_stream/conn.rs`.

use std::any::{Any, TypeId};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::engine::Engine;
use crate::{
    Addr, Close, DatagramTransport, Introspect, PeerAddr, StreamProtocol, StreamTransport,
    Transmit, Wake,
};

/// What one read step of an engine gave ([`HostEngine::receive`]).
pub(crate) enum Received {
    /// Bytes, in the host's read chunk: handed to `data_received`.
    Data,
    /// The peer's end of stream: `eof_received`.
    Eof,
    /// Something the engine handled itself: read again.
    Again,
    /// Nothing ready.
    Nothing,
}

/// What a host needs from an engine beyond [`Engine`]: its own state kept
/// next to the engine ([`Ext`](HostEngine::Ext)) and the hooks where the
/// two hosts differ. Every method is called by static dispatch.
pub(crate) trait HostEngine: Engine + Sized {
    /// The view's name, as in `layer_chain()`.
    const NAME: &'static str;
    /// Sending may free a paused writer at once: settle again after
    /// sending (the native send buffer counts bytes not yet sent).
    const SETTLE_AFTER_SEND: bool;
    /// The host's per-engine state.
    type Ext;
    /// One chunk read from the engine.
    type Chunk: Default + AsRef<[u8]>;

    /// At each entry point (KCP keeps its own monotonic time). The hooks
    /// take the transport, not its time: each reads the clock only if it
    /// needs it (no `dyn` call more per packet than before).
    fn tick(_ext: &mut Self::Ext, _t: &dyn DatagramTransport) {}
    /// The protocol above may still be called (KCP: no end decided yet).
    fn live(_ext: &Self::Ext) -> bool {
        true
    }
    /// The protocol above may start now (`connection_made`).
    fn ready(&self) -> bool;
    /// Before each round of calls (KCP moves its overflow into the engine).
    fn before_calls(&mut self, _ext: &mut Self::Ext) {}
    /// One read step into `rx`.
    fn receive(
        &mut self,
        ext: &mut Self::Ext,
        t: &dyn DatagramTransport,
        rx: &mut Self::Chunk,
    ) -> Received;
    /// The write pause wanted now (`None`: keep the current one).
    fn want_pause(&mut self, ext: &mut Self::Ext) -> Option<bool>;
    /// After the calls settled, before sending.
    fn after_calls(&mut self, _ext: &mut Self::Ext, _rx: &mut Self::Chunk) {}
    /// The time to send at, or `None` when nothing may be sent.
    fn send_time(_ext: &Self::Ext, t: &dyn DatagramTransport) -> Option<Instant> {
        Some(t.now())
    }
    /// The end to report to a started protocol, once (`None`: not over, or
    /// the owner reports it through [`Hosted::lost`]).
    fn ended(&mut self, _ext: &mut Self::Ext) -> Option<Close> {
        None
    }
    /// The transport below is gone.
    fn on_lost(_ext: &mut Self::Ext, _why: &Close) {}
    /// A capability the view answers for this engine (before `PeerAddr`).
    fn capability(ext: &Self::Ext, id: TypeId) -> Option<&dyn Any>;

    /// The view's `write`.
    fn view_write(&mut self, ext: &mut Self::Ext, below: &dyn DatagramTransport, data: &[u8]);
    /// The view's `write_eof`.
    fn view_write_eof(&mut self, ext: &mut Self::Ext, below: &dyn DatagramTransport);
    /// The view's `close`.
    fn view_close(&mut self, ext: &mut Self::Ext, below: &dyn DatagramTransport);
    /// The view's `abort`.
    fn view_abort(&mut self, ext: &mut Self::Ext, below: &dyn DatagramTransport, why: Close);
    /// Bytes held for the peer (the view adds the transport's).
    fn view_buffered(&self, ext: &Self::Ext) -> usize;
    /// The view's `writable`.
    fn view_writable(&self, ext: &Self::Ext, below: &dyn DatagramTransport) -> bool;
}

/// The host's state common to both engines.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    /// The protocol above got `connection_made`.
    pub(crate) started: bool,
    /// It got `connection_lost`.
    pub(crate) lost: bool,
    read_paused: bool,
    /// It was told `pause_writing` (and not yet `resume_writing`).
    pub(crate) write_paused: bool,
}

/// An engine connection with its protocol.
pub(crate) struct Hosted<E: HostEngine, P> {
    pub(crate) engine: E,
    pub(crate) ext: E::Ext,
    pub(crate) inner: P,
    pub(crate) st: HostState,
    /// Where datagrams go: `None` on a connected transport.
    pub(crate) dest: Option<SocketAddr>,
    /// The route of this connection's wakes below the transport's (a
    /// listener's connections), or none.
    pub(crate) wake_id: Option<u64>,
    /// The peer's address, answered by the view when `dest` is set.
    peer_cap: Option<PeerAddr>,
    rx: E::Chunk,
    tx: Vec<u8>,
}

/// Updates a high/low watermark pair's state for `level`: over once it
/// reaches `high`, until it drains to `low`.
pub(crate) fn hysteresis(over: &mut bool, level: usize, high: usize, low: usize) {
    if level >= high {
        *over = true;
    } else if level <= low {
        *over = false;
    }
}

impl<E: HostEngine, P: StreamProtocol> Hosted<E, P> {
    pub(crate) fn new(
        engine: E,
        ext: E::Ext,
        inner: P,
        dest: Option<SocketAddr>,
        wake_id: Option<u64>,
    ) -> Self {
        Hosted {
            engine,
            ext,
            inner,
            st: HostState::default(),
            dest,
            wake_id,
            peer_cap: dest.map(peer_addr),
            rx: E::Chunk::default(),
            tx: Vec::with_capacity(1500),
        }
    }

    /// Sends to `addr` and answers it as the peer's address.
    pub(crate) fn set_peer(&mut self, addr: SocketAddr) {
        self.dest = Some(addr);
        self.peer_cap = Some(peer_addr(addr));
    }

    /// Calls the protocol above with the view, then settles.
    pub(crate) fn call(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        if !E::live(&self.ext) {
            return;
        }
        E::tick(&mut self.ext, &*t);
        if self.st.started && !self.st.lost {
            self.with_view(t, f);
        }
        self.settle(t);
    }

    /// The settle step: start the protocol once the engine is ready, hand
    /// it what arrived (unless it paused reading) and the end of the
    /// stream, the write back-pressure edges; send what is due; report the
    /// end.
    pub(crate) fn settle(&mut self, t: &mut dyn DatagramTransport) {
        loop {
            self.settle_calls(t);
            self.engine.after_calls(&mut self.ext, &mut self.rx);
            self.flush(t);
            // Sending drained the bytes queued: a paused protocol may write
            // again now rather than at the next event, which keeps the
            // pipe full with only `high_water` queued.
            if !E::SETTLE_AFTER_SEND
                || !self.st.write_paused
                || self.st.lost
                || self.write_edge() != Some(false)
            {
                break;
            }
        }
        if self.st.started
            && !self.st.lost
            && let Some(why) = self.engine.ended(&mut self.ext)
        {
            self.st.lost = true;
            self.inner.connection_lost(&why);
        }
    }

    /// The write-pause edge due: `Some(true)` pause, `Some(false)` resume.
    fn write_edge(&mut self) -> Option<bool> {
        match self.engine.want_pause(&mut self.ext) {
            Some(pause) if pause != self.st.write_paused => Some(pause),
            _ => None,
        }
    }

    /// The calls into the protocol above, until none is due.
    fn settle_calls(&mut self, t: &mut dyn DatagramTransport) {
        loop {
            if !E::live(&self.ext) {
                break;
            }
            self.engine.before_calls(&mut self.ext);
            // Started once the engine is ready, even if the connection is
            // already closing: the protocol above then sees what arrived
            // and why it ended.
            if !self.st.started {
                if !self.engine.ready() {
                    break;
                }
                self.st.started = true;
                self.with_view(t, |p, v| p.connection_made(v));
                continue;
            }
            if self.st.lost {
                break;
            }
            if !self.st.read_paused {
                match self.engine.receive(&mut self.ext, &*t, &mut self.rx) {
                    Received::Data => {
                        let Hosted {
                            engine,
                            ext,
                            inner,
                            st,
                            wake_id,
                            peer_cap,
                            rx,
                            ..
                        } = self;
                        let mut view = View {
                            engine,
                            ext,
                            st,
                            below: &mut *t,
                            peer: peer_cap.as_ref(),
                            wake_id: *wake_id,
                        };
                        inner.data_received(&mut view, rx.as_ref());
                        continue;
                    }
                    Received::Eof => {
                        self.with_view(t, |p, v| p.eof_received(v));
                        continue;
                    }
                    Received::Again => continue,
                    Received::Nothing => {}
                }
            }
            match self.write_edge() {
                Some(true) => {
                    self.st.write_paused = true;
                    self.with_view(t, |p, v| p.pause_writing(v));
                }
                Some(false) => {
                    self.st.write_paused = false;
                    self.with_view(t, |p, v| p.resume_writing(v));
                }
                None => break,
            }
        }
    }

    pub(crate) fn with_view(
        &mut self,
        t: &mut dyn DatagramTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport),
    ) {
        let mut view = View {
            engine: &mut self.engine,
            ext: &mut self.ext,
            st: &mut self.st,
            below: t,
            peer: self.peer_cap.as_ref(),
            wake_id: self.wake_id,
        };
        f(&mut self.inner, &mut view);
    }

    /// Sends every datagram that is due.
    pub(crate) fn flush(&mut self, t: &mut dyn DatagramTransport) {
        let Some(now) = E::send_time(&self.ext, &*t) else {
            return;
        };
        while self.engine.poll_transmit(now, &mut self.tx) {
            let tx = Transmit {
                destination: self.dest,
                ..Transmit::connected(&self.tx)
            };
            t.send(&tx);
        }
    }

    /// The transport below is gone: the connection ends with it, and the
    /// protocol above learns it once.
    pub(crate) fn lost(&mut self, why: &Close) {
        E::on_lost(&mut self.ext, why);
        if self.st.started && !self.st.lost {
            self.st.lost = true;
            self.inner.connection_lost(why);
        }
    }
}

/// The view: a stream transport over the engine.
struct View<'a, E: HostEngine> {
    engine: &'a mut E,
    ext: &'a mut E::Ext,
    st: &'a mut HostState,
    below: &'a mut dyn DatagramTransport,
    peer: Option<&'a PeerAddr>,
    wake_id: Option<u64>,
}

impl<E: HostEngine> Introspect for View<'_, E> {
    fn name(&self) -> &'static str {
        E::NAME
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if let Some(c) = E::capability(self.ext, id) {
            return Some(c);
        }
        if id == TypeId::of::<PeerAddr>() {
            return self.peer.map(|p| p as &dyn Any);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl<E: HostEngine> StreamTransport for View<'_, E> {
    fn write(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.engine.view_write(self.ext, &*self.below, data);
    }
    fn write_bytes(&mut self, data: Bytes) {
        self.write(&data);
    }
    fn write_eof(&mut self) {
        self.engine.view_write_eof(self.ext, &*self.below);
    }
    fn close(&mut self) {
        self.engine.view_close(self.ext, &*self.below);
    }
    fn abort(&mut self, why: Close) {
        self.engine.view_abort(self.ext, &*self.below, why);
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.engine.view_buffered(self.ext) + self.below.buffered()
    }
    fn writable(&self) -> bool {
        self.engine.view_writable(self.ext, &*self.below)
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        match self.wake_id {
            Some(id) => self.below.waker().child(id),
            None => self.below.waker(),
        }
    }
}

/// The peer's address, for a listener's connections (the socket below is
/// not connected, so it cannot tell).
pub(crate) fn peer_addr(addr: SocketAddr) -> PeerAddr {
    PeerAddr(Addr::Inet(addr))
}

#[cfg(test)]
mod tests {
    //! The shared write-pause rule, over both engines' hosts: the edges
    //! alternate, and `writable()` agrees with each.
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::reliable::kcp::KcpConfig;
    use crate::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
    use crate::reliable::{Reliable, ReliableConfig, ReliableListener};
    use crate::testing::{LinkConfig, SimNet};
    use crate::{DatagramProtocol, StreamProtocol, StreamTransport};

    #[derive(Default)]
    struct Seen {
        /// `true` pause, `false` resume, in order.
        edges: Vec<bool>,
        /// `writable()` disagreed with an edge.
        wrong: u32,
        received: usize,
    }

    /// Writes `total` bytes while `writable()`, then closes.
    struct Writer {
        total: usize,
        sent: usize,
        seen: Arc<Mutex<Seen>>,
    }
    impl Writer {
        fn go(&mut self, t: &mut dyn StreamTransport) {
            while self.sent < self.total && t.writable() {
                let n = (self.total - self.sent).min(4096);
                t.write(&vec![1; n]);
                self.sent += n;
            }
            if self.sent == self.total {
                self.sent += 1;
                t.close();
            }
        }
    }
    impl StreamProtocol for Writer {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            self.go(t)
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
        fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
            let mut s = self.seen.lock().unwrap();
            s.wrong += u32::from(t.writable());
            s.edges.push(true);
        }
        fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
            {
                let mut s = self.seen.lock().unwrap();
                s.wrong += u32::from(!t.writable());
                s.edges.push(false);
            }
            self.go(t)
        }
    }

    struct Sink(Arc<Mutex<Seen>>);
    impl StreamProtocol for Sink {
        fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
            self.0.lock().unwrap().received += d.len();
        }
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }

    fn run(client: Box<dyn DatagramProtocol>, server: Box<dyn DatagramProtocol>) {
        let (ca, sa) = (
            "127.0.0.1:1000".parse().unwrap(),
            "127.0.0.2:2000".parse().unwrap(),
        );
        let mut net = SimNet::new(3);
        let c = net.add_node(ca, client);
        let s = net.add_node(sa, server);
        net.link_both(c, s, LinkConfig::default().delay(Duration::from_millis(5)));
        net.run(Duration::from_secs(30));
    }

    fn check(seen: &Seen, sink: &Seen, total: usize) {
        assert_eq!(sink.received, total);
        assert!(seen.edges.len() >= 2, "{:?}", seen.edges);
        for (i, &e) in seen.edges.iter().enumerate() {
            assert_eq!(e, i % 2 == 0, "the edges alternate: {:?}", seen.edges);
        }
        assert_eq!(seen.wrong, 0, "writable() agrees with each edge");
    }

    #[test]
    fn both_hosts_deliver_alternating_write_edges_that_writable_agrees_with() {
        let total = 400_000;
        let sa = "127.0.0.2:2000".parse().unwrap();
        // Native.
        let (seen, sink) = (Arc::default(), Arc::new(Mutex::new(Seen::default())));
        let cfg = ReliableConfig {
            high_water: 32 * 1024,
            low_water: 8 * 1024,
            rng_seed: Some([7; 32]),
            ..ReliableConfig::default()
        };
        let writer = Writer {
            total,
            sent: 0,
            seen: Arc::clone(&seen),
        };
        let k = Arc::clone(&sink);
        run(
            Box::new(Reliable::connect_to(sa, cfg.clone(), writer)),
            Box::new(ReliableListener::new(
                cfg,
                Arc::new(move || Box::new(Sink(k.clone())) as _),
            )),
        );
        check(&seen.lock().unwrap(), &sink.lock().unwrap(), total);
        // KCP.
        let (seen, sink) = (Arc::default(), Arc::new(Mutex::new(Seen::default())));
        let kcp = KcpConfig {
            mtu: 1200,
            ..KcpConfig::fast_mode()
        };
        let cfg = KcpStreamConfig {
            kcp,
            high_water: 32 * 1024,
            low_water: 8 * 1024,
            ..KcpStreamConfig::default()
        };
        let writer = Writer {
            total,
            sent: 0,
            seen: Arc::clone(&seen),
        };
        let k = Arc::clone(&sink);
        let lcfg = KcpListenerConfig {
            stream: cfg.clone(),
            ..KcpListenerConfig::default()
        };
        run(
            Box::new(KcpStream::new(5, cfg, writer).unwrap().with_peer(sa)),
            Box::new(
                KcpListener::new(lcfg, Arc::new(move || Box::new(Sink(k.clone())) as _)).unwrap(),
            ),
        );
        check(&seen.lock().unwrap(), &sink.lock().unwrap(), total);
    }
}
