//! Simulated TCP (and Unix socket) connections: what each end's kernel
//! holds (a send buffer, bytes in flight, a receive queue within the
//! window) and the stacks the applications run over them.
//!
//! The model is the one an application sees, not TCP's packets: bytes
//! leave the send buffer in segments of at most [`MAX_SEGMENT`], no faster
//! than the link's bandwidth, arrive in order one latency later, and are
//! acknowledged one latency after the receiving stack took them; a sender
//! has at most the receive window unacknowledged. A FIN follows the last
//! byte; a reset (an abort, a segment for a socket that no longer exists)
//! overtakes nothing and discards what the receiver had not read.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Instant;

use bytes::Bytes;
use strata::{Addr, BottomInfo, Close, Stack, StackConfig, StreamProtocol, Timeout};

use crate::link::MAX_SEGMENT;
use crate::world::{pair, shift, EvKind, HostId, ListenKey, Sim};

mod user_timeout;

/// Builds the layers of an endpoint around the protocol above them.
///
/// ```
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Nop;
/// impl StreamProtocol for Nop {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let ep = strata::endpoint::Endpoint::parse("tls+tcp://example.com:443").unwrap();
/// let wrap: strata_sim::LayerWrap = strata_tokio::StackPlan::client(&ep).unwrap().wrapper().unwrap();
/// let mut stack = Stack::memory(wrap(Box::new(Nop)));
/// let now = stack.now();
/// assert_eq!(stack.take_output(now)[0], 0x16); // TLS speaks first
/// ```
pub type LayerWrap = Arc<dyn Fn(Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> + Send + Sync>;

/// A simulated connection, by number in the order connects were made.
///
/// ```
/// assert_eq!(strata_sim::ConnId(3).to_string(), "c3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(
    /// The number, from 1.
    pub u64,
);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A segment on the wire.
pub(crate) enum Seg {
    Syn,
    SynAck,
    Data(Bytes),
    Fin,
    Rst,
}

/// One direction of a connection.
#[derive(Default)]
pub(crate) struct Pipe {
    /// On the wire: `(arrival, departure, segment)`.
    segs: VecDeque<(Instant, Instant, Seg)>,
    busy_until: Option<Instant>,
    /// The arrival time an `Arrive` event is scheduled for.
    scheduled: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A client waiting for its SYN to be answered.
    Connecting,
    Open,
    /// The socket is closed (the stack finished); what it still has to send
    /// drains.
    Closed,
    /// The host restarted: the socket is gone with the kernel's state.
    Gone,
}

pub(crate) struct Side {
    host: HostId,
    local: Addr,
    peer: Addr,
    stack: Option<Stack>,
    /// A client's protocol until its connection is made.
    proto: Option<Box<dyn StreamProtocol>>,
    cfg: Arc<StackConfig>,
    state: State,
    waker: Waker,
    snd: VecDeque<Bytes>,
    snd_bytes: usize,
    fin_queued: bool,
    fin_sent: bool,
    unacked: usize,
    rx: VecDeque<Bytes>,
    eof_in: bool,
    eof_given: bool,
    rst_sent: bool,
    deadline: Option<Instant>,
}

pub(crate) struct Conn {
    link: (HostId, HostId),
    sides: [Side; 2],
    pipes: [Pipe; 2],
}

/// Wakes a stream side: queues it for the run loop.
struct SideWaker {
    ready: Arc<Mutex<Vec<(u64, usize)>>>,
    key: (u64, usize),
}

impl Wake for SideWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let mut g = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        if !g.contains(&self.key) {
            g.push(self.key);
        }
    }
}

const CLIENT: usize = 0;
const SERVER: usize = 1;

fn side_name(s: usize) -> &'static str {
    if s == CLIENT {
        "client"
    } else {
        "server"
    }
}

impl Sim {
    fn new_side(&self, conn: u64, s: usize, host: HostId, local: Addr, peer: Addr) -> Side {
        Side {
            host,
            local,
            peer,
            stack: None,
            proto: None,
            cfg: self.stack_cfg.clone(),
            state: State::Connecting,
            waker: Waker::from(Arc::new(SideWaker {
                ready: self.ready.clone(),
                key: (conn, s),
            })),
            snd: VecDeque::new(),
            snd_bytes: 0,
            fin_queued: false,
            fin_sent: false,
            unacked: 0,
            rx: VecDeque::new(),
            eof_in: false,
            eof_given: false,
            rst_sent: false,
            deadline: None,
        }
    }

    /// Opens a connection from `host` to `to` (a listener's key on
    /// `dst`), running `proto` once it is made. The transport's name is
    /// `tcp` or `unix`.
    pub(crate) fn open_stream(
        &mut self,
        host: HostId,
        dst: HostId,
        to: ListenKey,
        proto: Box<dyn StreamProtocol>,
        cfg: Option<Arc<StackConfig>>,
    ) -> crate::ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        let (local, peer) = match &to {
            ListenKey::Port(port) => {
                let h = &mut self.hosts[host.0 as usize];
                let eport = h.next_port;
                h.next_port = h.next_port.checked_add(1).unwrap_or(49152);
                (
                    Addr::Inet(SocketAddr::new(h.ip, eport)),
                    Addr::Inet(SocketAddr::new(self.host_ip(dst), *port)),
                )
            }
            ListenKey::Path(p) => (Addr::Unix(None), Addr::Unix(Some(p.clone()))),
        };
        let mut client = self.new_side(id, CLIENT, host, local.clone(), peer.clone());
        client.proto = Some(proto);
        if let Some(cfg) = cfg {
            client.cfg = cfg;
        }
        let server = self.new_side(id, SERVER, dst, peer, local);
        let link = pair(host, dst);
        self.conns.insert(
            id,
            Conn {
                link,
                sides: [client, server],
                pipes: [Pipe::default(), Pipe::default()],
            },
        );
        self.trace_line(format_args!("c{id} connect {host}->{dst} {to:?}"));
        self.pending_listen.insert(id, to);
        self.send(id, CLIENT, Seg::Syn);
        let timeout = self.links.get(&link).map(|l| l.cfg.connect_timeout);
        if let Some(t) = timeout {
            self.schedule(self.now + t, EvKind::ConnectTimeout { conn: id });
        }
        crate::ConnId(id)
    }

    /// Puts `seg` on the wire from side `s` of `conn`.
    fn send(&mut self, conn: u64, s: usize, seg: Seg) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(link) = self.links.get(&c.link) else {
            return;
        };
        let cfg = &link.cfg;
        let len = match &seg {
            Seg::Data(b) => b.len(),
            _ => 0,
        };
        let pipe = &c.pipes[s];
        let start = pipe.busy_until.map_or(self.now, |b| b.max(self.now));
        let departs = start + cfg.serialization(len);
        let mut at = departs + cfg.latency;
        if let Some((last, _, _)) = pipe.segs.back() {
            at = at.max(*last);
        }
        let what = match &seg {
            Seg::Syn => "syn".to_string(),
            Seg::SynAck => "syn-ack".to_string(),
            Seg::Data(b) => format!("data len={} hash={:016x}", b.len(), crate::trace::hash(b)),
            Seg::Fin => "fin".to_string(),
            Seg::Rst => "rst".to_string(),
        };
        self.trace_line(format_args!("c{conn} {} sends {what}", side_name(s)));
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let pipe = &mut c.pipes[s];
        pipe.busy_until = Some(departs);
        let was_empty = pipe.segs.is_empty();
        pipe.segs.push_back((at, departs, seg));
        if was_empty && pipe.scheduled.is_none() {
            pipe.scheduled = Some(at);
            self.schedule(at, EvKind::Arrive { conn, dir: s });
        }
    }

    /// The `Arrive` event of direction `dir`: delivers every segment due.
    pub(crate) fn arrive(&mut self, conn: u64, dir: usize, at: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.pipes[dir].scheduled != Some(at) {
            return; // stale
        }
        c.pipes[dir].scheduled = None;
        let link = c.link;
        if self.links.get(&link).is_some_and(|l| l.partitioned) {
            if let Some(l) = self.links.get_mut(&link) {
                l.held.push((conn, dir));
            }
            self.arm_user_timeout(conn, dir);
            return;
        }
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let pipe = &mut c.pipes[dir];
            match pipe.segs.front() {
                Some((t, _, _)) if *t <= self.now => {}
                Some((t, _, _)) => {
                    let t = *t;
                    pipe.scheduled = Some(t);
                    self.schedule(t, EvKind::Arrive { conn, dir });
                    return;
                }
                None => return,
            }
            let Some((_, _, seg)) = pipe.segs.pop_front() else {
                return;
            };
            self.receive(conn, 1 - dir, seg);
        }
    }

    /// Side `r` of `conn` receives `seg`.
    fn receive(&mut self, conn: u64, r: usize, seg: Seg) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let state = c.sides[r].state;
        match (seg, state) {
            (Seg::Rst, State::Gone | State::Closed) => {}
            (Seg::Rst, State::Connecting) => {
                self.trace_line(format_args!("c{conn} {} refused", side_name(r)));
                self.fail_connect(conn, Close::Io(std::io::ErrorKind::ConnectionRefused));
            }
            (Seg::Rst, State::Open) => {
                let now = shift_now(&self.hosts, c.sides[r].host, self.now);
                let side = &mut c.sides[r];
                side.rx.clear();
                side.snd.clear();
                side.snd_bytes = 0;
                side.state = State::Closed;
                if let Some(st) = side.stack.as_mut() {
                    st.handle_lost(now, Close::Reset);
                }
                self.trace_line(format_args!("c{conn} {} reset", side_name(r)));
                self.record_close(conn, r);
            }
            (_, State::Gone) => self.reset_from(conn, r),
            (Seg::Syn, _) if r == SERVER => self.accept(conn),
            (Seg::SynAck, State::Connecting) => self.made(conn, CLIENT),
            (Seg::SynAck, _) | (Seg::Syn, _) => {}
            (Seg::Data(b), State::Open) => {
                if c.sides[r].eof_given || c.sides[r].stack.is_none() {
                    self.reset_from(conn, r);
                } else {
                    c.sides[r].rx.push_back(b);
                    self.service(conn, r);
                }
            }
            (Seg::Data(_), _) => self.reset_from(conn, r),
            (Seg::Fin, State::Open) => {
                c.sides[r].eof_in = true;
                self.service(conn, r);
            }
            (Seg::Fin, _) => {}
        }
    }

    /// Side `r` answers a segment it cannot take with a reset.
    fn reset_from(&mut self, conn: u64, r: usize) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.sides[r].rst_sent {
            return;
        }
        c.sides[r].rst_sent = true;
        self.send(conn, r, Seg::Rst);
    }

    /// A SYN reached the server's host: a listener accepts it, or the host
    /// answers with a reset.
    fn accept(&mut self, conn: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let host = c.sides[SERVER].host;
        let key = self.pending_listen.get(&conn).cloned();
        let h = &self.hosts[host.0 as usize];
        let listener = key
            .as_ref()
            .filter(|_| h.up)
            .and_then(|k| h.listeners.get(k));
        let Some(l) = listener else {
            self.trace_line(format_args!("c{conn} no listener"));
            if let Some(c) = self.conns.get_mut(&conn) {
                c.sides[SERVER].state = State::Closed;
            }
            self.send(conn, SERVER, Seg::Rst);
            return;
        };
        let mut proto = (l.factory)();
        if let Some(w) = &l.wrap {
            proto = w(proto);
        }
        let cfg = l.cfg.clone();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.sides[SERVER].proto = Some(proto);
            c.sides[SERVER].cfg = cfg;
        }
        self.send(conn, SERVER, Seg::SynAck);
        self.made(conn, SERVER);
    }

    /// Side `s` of `conn` is connected: its stack starts.
    fn made(&mut self, conn: u64, s: usize) {
        self.pending_listen.remove(&conn);
        let Some(host) = self.conns.get(&conn).map(|c| c.sides[s].host) else {
            return;
        };
        let dialer = self.dialer_id(host);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let side = &mut c.sides[s];
        let Some(proto) = side.proto.take() else {
            return;
        };
        let name = match side.local {
            Addr::Unix(_) => "unix",
            _ => "tcp",
        };
        let now = shift_now(&self.hosts, side.host, self.now);
        let info = BottomInfo::new(name)
            .peer(side.peer.clone())
            .local(side.local.clone())
            .dialer(dialer);
        let mut stack = Stack::new(proto, info, side.cfg.clone(), now);
        stack.qlog_from_config(if s == CLIENT {
            strata::qlog::Vantage::Client
        } else {
            strata::qlog::Vantage::Server
        });
        side.state = State::Open;
        stack.start(now);
        side.stack = Some(stack);
        self.trace_line(format_args!("c{conn} {} made", side_name(s)));
        self.service(conn, s);
    }

    /// A client's connect failed: its protocol hears why.
    fn fail_connect(&mut self, conn: u64, why: Close) {
        self.pending_listen.remove(&conn);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let side = &mut c.sides[CLIENT];
        side.state = State::Closed;
        if let Some(mut p) = side.proto.take() {
            p.connection_lost(&why);
        }
        self.trace_line(format_args!("c{conn} client failed: {why}"));
    }

    pub(crate) fn connect_timeout(&mut self, conn: u64) {
        let connecting = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.sides[CLIENT].state == State::Connecting);
        if connecting {
            self.fail_connect(conn, Close::Timeout(Timeout::Connect));
        }
    }

    /// An acknowledgement of `n` bytes reaches side `to`.
    pub(crate) fn ack(&mut self, conn: u64, to: usize, n: usize) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if self.links.get(&c.link).is_some_and(|l| l.partitioned) {
            let link = c.link;
            if let Some(l) = self.links.get_mut(&link) {
                l.held_acks.push((conn, to, n, self.now));
            }
            self.arm_user_timeout(conn, to);
            return;
        }
        let side = &mut c.sides[to];
        side.unacked = side.unacked.saturating_sub(n);
        self.transmit(conn, to);
        self.service(conn, to);
    }

    /// A stack's deadline event.
    pub(crate) fn deadline(&mut self, conn: u64, s: usize, at: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let side = &mut c.sides[s];
        if side.deadline != Some(at) {
            return; // stale
        }
        side.deadline = None;
        let now = shift_now(&self.hosts, side.host, self.now);
        if let Some(st) = side.stack.as_mut() {
            st.handle_timeout(now);
        }
        self.service(conn, s);
    }

    /// Side `s` was woken.
    pub(crate) fn wake_side(&mut self, conn: u64, s: usize) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let side = &mut c.sides[s];
        let now = shift_now(&self.hosts, side.host, self.now);
        if let Some(st) = side.stack.as_mut() {
            st.handle_wakes(now);
        }
        self.service(conn, s);
    }

    /// Settles side `s` after anything happened to it: moves the stack's
    /// output into the send buffer, feeds it what arrived, closes its
    /// socket when it finished, sends, and sets its timer.
    pub(crate) fn service(&mut self, conn: u64, s: usize) {
        for _ in 0..64 {
            let stalled;
            let changed;
            {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let Some(link) = self.links.get(&c.link) else {
                    return;
                };
                let send_buffer = link.cfg.send_buffer;
                let latency = link.cfg.latency;
                let side = &mut c.sides[s];
                stalled = self.hosts[side.host.0 as usize].stalled;
                let now = shift_now(&self.hosts, side.host, self.now);
                let Some(st) = side.stack.as_mut() else {
                    break;
                };
                let mut moved = false;
                // The stack's output into the send buffer.
                let room = send_buffer.saturating_sub(side.snd_bytes);
                if st.pending_output() > 0 && room > 0 {
                    let bytes = take_output(st, now, room);
                    side.snd_bytes += bytes.len();
                    side.snd.push_back(bytes);
                    moved = true;
                }
                if st.should_shutdown_write() && st.pending_output() == 0 && !side.fin_queued {
                    side.fin_queued = true;
                    st.write_shutdown_done(now);
                    moved = true;
                }
                // What arrived, into the stack.
                let mut acks = Vec::new();
                if !stalled {
                    while st.wants_read() && st.finished().is_none() {
                        let Some(b) = side.rx.pop_front() else {
                            break;
                        };
                        acks.push(b.len());
                        st.handle_input_bytes(now, b);
                        moved = true;
                    }
                    if side.rx.is_empty()
                        && side.eof_in
                        && !side.eof_given
                        && st.finished().is_none()
                    {
                        side.eof_given = true;
                        st.handle_eof(now);
                        moved = true;
                    }
                }
                let finished = st.finished().cloned();
                changed = moved;
                for n in acks {
                    let at = self.now + latency;
                    self.seq_ack(conn, 1 - s, n, at);
                }
                if let Some(why) = finished {
                    self.close_side(conn, s, why);
                    self.transmit(conn, s);
                    break;
                }
            }
            self.transmit(conn, s);
            if !changed {
                break;
            }
        }
        self.set_timer(conn, s);
    }

    fn seq_ack(&mut self, conn: u64, to: usize, n: usize, at: Instant) {
        self.schedule(at, EvKind::Ack { conn, to, n });
    }

    /// The socket of side `s` closes: cleanly (what is queued drains, then a
    /// FIN) or not (a reset).
    fn close_side(&mut self, conn: u64, s: usize, why: Close) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let side = &mut c.sides[s];
        let now = shift_now(&self.hosts, side.host, self.now);
        let Some(mut st) = side.stack.take() else {
            return;
        };
        side.state = State::Closed;
        side.deadline = None;
        if why.is_clean() {
            let rest = st.pending_output();
            if rest > 0 {
                let b = take_output(&mut st, now, rest);
                side.snd_bytes += b.len();
                side.snd.push_back(b);
            }
            side.fin_queued = true;
            self.trace_line(format_args!("c{conn} {} closed: {why}", side_name(s)));
        } else {
            side.snd.clear();
            side.snd_bytes = 0;
            side.rx.clear();
            let reset = !side.rst_sent && !matches!(why, Close::Reset);
            side.rst_sent = true;
            self.trace_line(format_args!("c{conn} {} closed: {why}", side_name(s)));
            if reset {
                self.send(conn, s, Seg::Rst);
            }
        }
        self.closed.push((crate::ConnId(conn), s, why));
    }

    /// Records the close of a side whose stack heard a reset.
    fn record_close(&mut self, conn: u64, s: usize) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let side = &mut c.sides[s];
        if let Some(st) = side.stack.take() {
            let why = st.finished().cloned().unwrap_or(Close::Reset);
            side.deadline = None;
            self.closed.push((crate::ConnId(conn), s, why));
        }
    }

    /// Sends what the window allows from side `s`'s send buffer, then its
    /// FIN once the buffer is empty.
    fn transmit(&mut self, conn: u64, s: usize) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(link) = self.links.get(&c.link) else {
                return;
            };
            let window = link.cfg.window;
            let side = &mut c.sides[s];
            if matches!(side.state, State::Gone | State::Connecting) {
                return;
            }
            let room = window.saturating_sub(side.unacked).min(MAX_SEGMENT);
            if let Some(front) = side.snd.front_mut() {
                if room == 0 {
                    return;
                }
                let seg = if front.len() <= room {
                    side.snd.pop_front().unwrap_or_default()
                } else {
                    front.split_to(room)
                };
                side.snd_bytes -= seg.len();
                side.unacked += seg.len();
                self.send(conn, s, Seg::Data(seg));
                continue;
            }
            if side.fin_queued && !side.fin_sent {
                side.fin_sent = true;
                self.send(conn, s, Seg::Fin);
            }
            return;
        }
    }

    /// Keeps one deadline event per stack, at its next deadline.
    fn set_timer(&mut self, conn: u64, s: usize) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let side = &mut c.sides[s];
        let want = side.stack.as_ref().and_then(|st| st.next_deadline());
        let want = want.map(|t| shift_back(&self.hosts, side.host, t));
        // Registers the waker so a wake from anywhere reaches the run loop.
        if let Some(hub) = side.stack.as_ref().and_then(|st| st.wake_hub()) {
            let mut cx = Context::from_waker(&side.waker);
            if hub.poll_pending(&mut cx).is_ready() {
                side.waker.wake_by_ref();
            }
        }
        if want != side.deadline {
            side.deadline = want;
            if let Some(at) = want {
                self.schedule(at, EvKind::Deadline { conn, side: s });
            }
        }
    }

    /// A host restarts: its sockets vanish with no word to their peers
    /// (they learn of it when they next send: a reset).
    pub(crate) fn drop_host_streams(&mut self, host: HostId) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            for s in [CLIENT, SERVER] {
                let side = &mut c.sides[s];
                if side.host != host || side.state == State::Gone {
                    continue;
                }
                side.stack = None;
                side.proto = None;
                side.state = State::Gone;
                side.snd.clear();
                side.snd_bytes = 0;
                side.rx.clear();
                side.deadline = None;
                self.closed.push((
                    crate::ConnId(id),
                    s,
                    Close::Io(std::io::ErrorKind::Interrupted),
                ));
            }
        }
    }

    /// The partition of `link` healed: what it held moves on, one latency
    /// from now.
    pub(crate) fn release(&mut self, link: (HostId, HostId)) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let latency = l.cfg.latency;
        let held = std::mem::take(&mut l.held);
        let acks = std::mem::take(&mut l.held_acks);
        let at = self.now + latency;
        for (conn, dir) in held {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            let pipe = &mut c.pipes[dir];
            for (t, _, _) in pipe.segs.iter_mut() {
                *t = (*t).max(at);
            }
            if let Some((t, _, _)) = pipe.segs.front() {
                let t = *t;
                pipe.scheduled = Some(t);
                self.schedule(t, EvKind::Arrive { conn, dir });
            }
        }
        for (conn, to, n, _) in acks {
            self.schedule(at, EvKind::Ack { conn, to, n });
        }
    }

    /// Forgets connections whose both sides are done and whose pipes are
    /// empty.
    pub(crate) fn reap(&mut self) {
        self.conns.retain(|_, c| {
            let done =
                |s: &Side| matches!(s.state, State::Closed | State::Gone) && s.snd.is_empty();
            !(done(&c.sides[0])
                && done(&c.sides[1])
                && c.pipes[0].segs.is_empty()
                && c.pipes[1].segs.is_empty())
        });
    }

    /// How many simulated stream connections have a side still open.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let mut sim = strata_sim::Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// # sim.link(a, b, strata_sim::Link::default());
    /// # let f: StreamFactory = Arc::new(|| Box::new(Quiet) as Box<dyn StreamProtocol>);
    /// # sim.listen(b, "tcp://b:7", f).unwrap();
    /// sim.connect(a, "tcp://b:7", Box::new(Quiet)).unwrap();
    /// sim.run(Duration::from_secs(1));
    /// assert_eq!(sim.open_connections(), 1); // neither side closes
    /// ```
    pub fn open_connections(&self) -> usize {
        self.conns
            .values()
            .filter(|c| c.sides.iter().any(|s| s.state == State::Open))
            .count()
    }

    /// Bytes the kernel side of `conn` holds (both send buffers and both
    /// receive queues): the simulated kernel's memory for it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let mut sim = strata_sim::Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// # sim.link(a, b, strata_sim::Link::default());
    /// # let f: StreamFactory = Arc::new(|| Box::new(Quiet) as Box<dyn StreamProtocol>);
    /// # sim.listen(b, "tcp://b:7", f).unwrap();
    /// // Reads nothing, so what is sent to it waits in the kernel.
    /// sim.apply(strata_sim::Fault::Stall(b));
    /// struct Push;
    /// impl StreamProtocol for Push {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(&[0; 10_000]) }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let conn = sim.connect(a, "tcp://b:7", Box::new(Push)).unwrap().conn().unwrap();
    /// sim.run(Duration::from_secs(1));
    /// assert_eq!(sim.kernel_bytes(conn), 10_000);
    /// ```
    pub fn kernel_bytes(&self, conn: crate::ConnId) -> usize {
        self.conns.get(&conn.0).map_or(0, |c| {
            c.sides
                .iter()
                .map(|s| s.snd_bytes + s.rx.iter().map(Bytes::len).sum::<usize>())
                .sum()
        })
    }

    /// Runs `f` on the stack of side `client` (true) or server of `conn`,
    /// if it is running.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # let mut sim = strata_sim::Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// # sim.link(a, b, strata_sim::Link::default());
    /// # let f: StreamFactory = Arc::new(|| Box::new(Quiet) as Box<dyn StreamProtocol>);
    /// # sim.listen(b, "tcp://b:7", f).unwrap();
    /// let conn = sim.connect(a, "tcp://b:7", Box::new(Quiet)).unwrap().conn().unwrap();
    /// sim.run(Duration::from_secs(1));
    /// let name = sim.inspect_stack(conn, false, |st| st.bottom_name());
    /// assert_eq!(name, Some("tcp"));
    /// ```
    pub fn inspect_stack<R>(
        &mut self,
        conn: crate::ConnId,
        client: bool,
        f: impl FnOnce(&mut Stack) -> R,
    ) -> Option<R> {
        let s = if client { CLIENT } else { SERVER };
        let st = self.conns.get_mut(&conn.0)?.sides[s].stack.as_mut()?;
        Some(f(st))
    }
}

/// Copies up to `max` bytes of the stack's output and tells it they left.
fn take_output(st: &mut Stack, now: Instant, max: usize) -> Bytes {
    let mut buf = Vec::with_capacity(st.pending_output().min(max));
    let mut slices = [IoSlice::new(&[]); 64];
    let n = st.io_slices(&mut slices);
    for sl in &slices[..n] {
        let take = sl.len().min(max - buf.len());
        buf.extend_from_slice(&sl[..take]);
        if buf.len() == max {
            break;
        }
    }
    st.consume(now, buf.len());
    Bytes::from(buf)
}

fn shift_now(hosts: &[crate::world::Host], h: HostId, now: Instant) -> Instant {
    shift(now, hosts[h.0 as usize].skew_ns)
}

fn shift_back(hosts: &[crate::world::Host], h: HostId, t: Instant) -> Instant {
    shift(t, -hosts[h.0 as usize].skew_ns)
}

impl Sim {
    /// The running sides on `host`: `(conn, side)`.
    pub(crate) fn sides_of(&self, host: HostId) -> Vec<(u64, usize)> {
        let mut v = Vec::new();
        for (id, c) in &self.conns {
            for s in [CLIENT, SERVER] {
                if c.sides[s].host == host && c.sides[s].stack.is_some() {
                    v.push((*id, s));
                }
            }
        }
        v
    }
}

impl Sim {
    /// Whether an event still matters (timers and arrivals are
    /// rescheduled rather than removed; the old entries are stale).
    pub(crate) fn is_live(&self, kind: &EvKind, at: Instant) -> bool {
        match kind {
            EvKind::Arrive { conn, dir } => self
                .conns
                .get(conn)
                .is_some_and(|c| c.pipes[*dir].scheduled == Some(at)),
            EvKind::Deadline { conn, side } => self
                .conns
                .get(conn)
                .is_some_and(|c| c.sides[*side].deadline == Some(at)),
            EvKind::ConnectTimeout { conn } => self
                .conns
                .get(conn)
                .is_some_and(|c| c.sides[CLIENT].state == State::Connecting),
            EvKind::UserTimeout { conn, dir } => {
                self.times_out_at(*conn, *dir).is_some_and(|t| t <= at)
            }
            EvKind::Ack { conn, to, .. } => self
                .conns
                .get(conn)
                .is_some_and(|c| c.sides[*to].unacked > 0),
            EvKind::Boot { .. } | EvKind::Fault(_) => true,
        }
    }
}
