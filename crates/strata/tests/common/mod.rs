//! Test layers shared by the contract tests: a transforming pass-through
//! layer, a multiplexer-shaped layer and a recording protocol.
#![allow(dead_code)]

use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use strata::{
    Close, Introspect, PeerAddr, StreamLayer, StreamProtocol, StreamTransport, SwapError,
    SwapRequest, Wake, WakeRoute,
};

/// A shared event log.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    pub fn count(&self, s: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|e| *e == s).count()
    }
}

/// A layer that XORs every byte both ways: proves bytes really went through it.
pub struct Xor<P> {
    pub inner: P,
    pub key: u8,
    /// A peer address this layer reports, overriding the one below.
    pub peer: Option<PeerAddr>,
    pub deadline: Option<Instant>,
    pub log: Log,
}

impl<P> Xor<P> {
    pub fn new(inner: P, key: u8, log: Log) -> Self {
        Xor {
            inner,
            key,
            peer: None,
            deadline: None,
            log,
        }
    }
}

pub struct XorView<'a> {
    lower: &'a mut dyn StreamTransport,
    key: u8,
    peer: &'a Option<PeerAddr>,
}

impl Introspect for XorView<'_> {
    fn name(&self) -> &'static str {
        "xor"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<PeerAddr>() {
            return self.peer.as_ref().map(|p| p as &dyn Any);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for XorView<'_> {
    fn write(&mut self, data: &[u8]) {
        let enc: Vec<u8> = data.iter().map(|b| b ^ self.key).collect();
        self.lower.write(&enc);
    }
    strata::forward_to_lower!(lower: write_eof, close, abort, pause_reading, resume_reading, buffered, writable, now, waker);
}

impl<P: StreamProtocol> Xor<P> {
    fn view<'a>(&'a self, t: &'a mut dyn StreamTransport) -> XorView<'a> {
        XorView {
            lower: t,
            key: self.key,
            peer: &self.peer,
        }
    }
}

macro_rules! with_view {
    ($self:ident, $t:ident, |$v:ident, $inner:ident| $body:expr_2021) => {{
        let mut $v = XorView {
            lower: $t,
            key: $self.key,
            peer: &$self.peer,
        };
        let $inner = &mut $self.inner;
        $body
    }};
}

impl<P: StreamProtocol> StreamProtocol for Xor<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.log.push("xor:connection_made");
        with_view!(self, t, |v, inner| inner.connection_made(&mut v))
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let dec: Vec<u8> = data.iter().map(|b| b ^ self.key).collect();
        with_view!(self, t, |v, inner| inner.data_received(&mut v, &dec))
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        with_view!(self, t, |v, inner| inner.eof_received(&mut v))
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        with_view!(self, t, |v, inner| inner.pause_writing(&mut v))
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        with_view!(self, t, |v, inner| inner.resume_writing(&mut v))
    }
    fn next_deadline(&self) -> Option<Instant> {
        match (self.deadline, self.inner.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        if self.deadline.is_some_and(|d| d <= t.now()) {
            self.deadline = None;
            self.log.push("xor:deadline");
        }
        with_view!(self, t, |v, inner| inner.on_deadline(&mut v))
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        with_view!(self, t, |v, inner| inner.on_wake(&mut v, route))
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        with_view!(self, t, |v, inner| inner.on_shutdown(&mut v))
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

impl<P: StreamProtocol> StreamLayer for Xor<P> {
    fn with_inner_transport(
        &mut self,
        t: &mut dyn StreamTransport,
        f: &mut dyn FnMut(&mut dyn StreamTransport),
    ) {
        let mut v = self.view(t);
        f(&mut v)
    }
}

/// A multiplexer-shaped layer: N children that all see the same transport,
/// each with its own wake route. Input goes to child 0.
pub struct Mux {
    pub children: Vec<Box<dyn StreamProtocol>>,
}

struct ChildView<'a> {
    lower: &'a mut dyn StreamTransport,
    id: u64,
}

impl Introspect for ChildView<'_> {
    fn name(&self) -> &'static str {
        "mux"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for ChildView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.lower.write(data)
    }
    fn write_eof(&mut self) {}
    fn close(&mut self) {}
    fn abort(&mut self, why: Close) {
        self.lower.abort(why)
    }
    fn pause_reading(&mut self) {}
    fn resume_reading(&mut self) {}
    fn buffered(&self) -> usize {
        self.lower.buffered()
    }
    fn writable(&self) -> bool {
        self.lower.writable()
    }
    fn now(&self) -> Instant {
        self.lower.now()
    }
    fn waker(&self) -> Wake {
        self.lower.waker().child(self.id)
    }
    fn request_swap(&mut self, _: SwapRequest, _: Vec<u8>) -> Result<(), SwapError> {
        Err(SwapError::Unsupported { layer: "mux" })
    }
}

impl StreamProtocol for Mux {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        for (i, c) in self.children.iter_mut().enumerate() {
            c.connection_made(&mut ChildView {
                lower: t,
                id: i as u64,
            });
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if let Some(c) = self.children.first_mut() {
            c.data_received(&mut ChildView { lower: t, id: 0 }, data);
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, mut route: WakeRoute<'_>) {
        let Some(id) = route.next_hop() else { return };
        if let Some(c) = self.children.get_mut(id as usize) {
            c.on_wake(&mut ChildView { lower: t, id }, route);
        }
    }
}

/// Records every callback it gets; hands its waker out through `wakers`.
pub struct Recorder {
    pub name: &'static str,
    pub log: Log,
    pub wakers: Arc<Mutex<Vec<Wake>>>,
}

impl Recorder {
    pub fn new(name: &'static str, log: &Log) -> Self {
        Recorder {
            name,
            log: log.clone(),
            wakers: Arc::default(),
        }
    }
}

impl StreamProtocol for Recorder {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.wakers.lock().unwrap().push(t.waker());
        self.log.push(format!("{}:connection_made", self.name));
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.log.push(format!(
            "{}:data:{}",
            self.name,
            String::from_utf8_lossy(data)
        ));
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {
        self.log.push(format!("{}:eof", self.name));
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.push(format!("{}:lost:{why}", self.name));
    }
    fn on_wake(&mut self, _: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        assert!(route.is_here());
        self.log.push(format!("{}:wake", self.name));
    }
}

/// A small line protocol (its own splitting, CRLF) that asks for an `Xor`
/// layer beneath itself when it reads `UPGRADE`, handing back the rest of the
/// chunk as leftover. It echoes every other line as `got:<line>\r\n`.
pub struct Upgrader {
    pub log: Log,
    pub buf: Vec<u8>,
    pub wakers: Arc<Mutex<Vec<Wake>>>,
    /// Pause reading right after asking for the swap.
    pub pause_on_upgrade: bool,
    /// Write this right after asking for the swap, in the same callback.
    pub write_after: Option<&'static [u8]>,
    pub upgraded: bool,
}

impl Upgrader {
    pub fn new(log: &Log) -> Self {
        Upgrader {
            log: log.clone(),
            buf: Vec::new(),
            wakers: Arc::default(),
            pause_on_upgrade: false,
            write_after: None,
            upgraded: false,
        }
    }
}

impl StreamProtocol for Upgrader {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.log.push("up:connection_made");
        self.wakers.lock().unwrap().push(t.waker());
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
            if line == b"UPGRADE" && !self.upgraded {
                self.upgraded = true;
                let leftover = std::mem::take(&mut self.buf);
                let log = self.log.clone();
                t.request_swap(
                    SwapRequest::insert_below(move |inner| Box::new(Xor::new(inner, 0x20, log))),
                    leftover,
                )
                .unwrap();
                if self.pause_on_upgrade {
                    t.pause_reading();
                }
                if let Some(w) = self.write_after {
                    t.write(w);
                }
                self.log.push("up:requested");
                return;
            }
            if line == b"CHAIN" {
                let t: &dyn StreamTransport = t;
                self.log
                    .push(format!("up:chain:{}", t.layer_chain().join(">")));
                continue;
            }
            self.log
                .push(format!("up:line:{}", String::from_utf8_lossy(&line)));
            t.write(b"got:");
            t.write(&line);
            t.write(b"\r\n");
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.log.push("up:eof");
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        self.log.push("up:wake");
        t.resume_reading();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.log.push(format!("up:lost:{why}"));
    }
}

/// XOR-encodes bytes the way `Xor` with key 0x20 does (it flips ASCII case).
pub fn x20(b: &[u8]) -> Vec<u8> {
    b.iter().map(|c| c ^ 0x20).collect()
}
