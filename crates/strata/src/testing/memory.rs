//! Memory transports that record what a protocol did (Twisted's StringTransport).

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{
    Addr, BottomInfo, Close, DatagramInfo, DatagramStack, DatagramTransport, HalfClose, Introspect,
    LocalAddr, OwnedTransmit, PeerAddr, Stack, StackConfig, StreamProtocol, StreamTransport,
    SwapError, SwapRequest, Transmit, Wake, WakeHub,
};

/// A stream transport that records writes and control calls, for unit tests
/// of a single protocol or layer.
///
/// ```
/// use strata::{StreamTransport, testing::MemoryTransport};
/// let mut t = MemoryTransport::new();
/// t.write(b"a");
/// t.write_eof();
/// assert_eq!(t.take_written(), b"a");
/// assert!(t.eof_written());
/// ```
#[derive(Debug)]
pub struct MemoryTransport {
    written: Vec<u8>,
    eof_written: bool,
    closed: bool,
    aborted: Option<Close>,
    read_paused: bool,
    now: Instant,
    hub: Arc<WakeHub>,
    peer: Option<PeerAddr>,
    local: Option<LocalAddr>,
    high_water: usize,
    swaps: Vec<(SwapRequest, Vec<u8>)>,
}

impl Default for MemoryTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryTransport {
    /// An open transport at a fixed virtual time.
    pub fn new() -> Self {
        MemoryTransport {
            written: Vec::new(),
            eof_written: false,
            closed: false,
            aborted: None,
            read_paused: false,
            now: super::epoch(),
            hub: WakeHub::new(),
            peer: None,
            local: None,
            high_water: StackConfig::default().high_water,
            swaps: Vec::new(),
        }
    }

    /// Reports `a` as the peer address.
    pub fn with_peer(mut self, a: Addr) -> Self {
        self.peer = Some(PeerAddr(a));
        self
    }

    /// Reports `a` as the local address.
    pub fn with_local(mut self, a: Addr) -> Self {
        self.local = Some(LocalAddr(a));
        self
    }

    /// Sets the high-water mark `writable()` compares against.
    pub fn with_high_water(mut self, n: usize) -> Self {
        self.high_water = n;
        self
    }

    /// Takes what was written so far (as if it had been sent).
    pub fn take_written(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.written)
    }

    /// Whether `write_eof` was called.
    pub fn eof_written(&self) -> bool {
        self.eof_written
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The reason given to `abort`, if it was called.
    pub fn aborted(&self) -> Option<&Close> {
        self.aborted.as_ref()
    }

    /// Whether reading is paused.
    pub fn is_read_paused(&self) -> bool {
        self.read_paused
    }

    /// Moves the virtual clock forward.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// The routes of the wakes received, oldest first.
    pub fn take_wakes(&self) -> Vec<Vec<u64>> {
        self.hub.take().iter().map(|r| r.to_vec()).collect()
    }

    /// The swap requests received, with their leftovers.
    pub fn take_swaps(&mut self) -> Vec<(SwapRequest, Vec<u8>)> {
        std::mem::take(&mut self.swaps)
    }
}

impl Introspect for MemoryTransport {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<PeerAddr>() {
            return self.peer.as_ref().map(|a| a as &dyn Any);
        }
        if id == TypeId::of::<LocalAddr>() {
            return self.local.as_ref().map(|a| a as &dyn Any);
        }
        (id == TypeId::of::<HalfClose>()).then_some(&HalfClose(true) as &dyn Any)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        None
    }
}

impl StreamTransport for MemoryTransport {
    fn write(&mut self, data: &[u8]) {
        if !self.closed && self.aborted.is_none() && !self.eof_written {
            self.written.extend_from_slice(data);
        }
    }
    fn write_eof(&mut self) {
        self.eof_written = true;
    }
    fn close(&mut self) {
        self.closed = true;
    }
    fn abort(&mut self, why: Close) {
        self.aborted.get_or_insert(why);
    }
    fn pause_reading(&mut self) {
        self.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.written.len()
    }
    fn writable(&self) -> bool {
        self.written.len() < self.high_water
    }
    fn now(&self) -> Instant {
        self.now
    }
    fn waker(&self) -> Wake {
        Wake::root(self.hub.clone())
    }
    fn request_swap(&mut self, req: SwapRequest, leftover: Vec<u8>) -> Result<(), SwapError> {
        self.swaps.push((req, leftover));
        Ok(())
    }
}

/// A datagram transport that records what was sent.
///
/// ```
/// use strata::{DatagramTransport, Transmit, testing::MemoryDatagramTransport};
/// let mut t = MemoryDatagramTransport::new(4);
/// t.send(&Transmit::connected(b"toolong"));
/// assert!(t.take_sent().is_empty());
/// ```
#[derive(Debug)]
pub struct MemoryDatagramTransport {
    sent: Vec<OwnedTransmit>,
    max: usize,
    closed: bool,
    aborted: Option<Close>,
    read_paused: bool,
    now: Instant,
    hub: Arc<WakeHub>,
}

impl MemoryDatagramTransport {
    /// A transport whose datagrams carry at most `max` bytes.
    pub fn new(max: usize) -> Self {
        MemoryDatagramTransport {
            sent: Vec::new(),
            max,
            closed: false,
            aborted: None,
            read_paused: false,
            now: super::epoch(),
            hub: WakeHub::new(),
        }
    }

    /// Takes what was sent.
    pub fn take_sent(&mut self) -> Vec<OwnedTransmit> {
        std::mem::take(&mut self.sent)
    }

    /// The reason given to `abort`, if any.
    pub fn aborted(&self) -> Option<&Close> {
        self.aborted.as_ref()
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Moves the virtual clock forward.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }
}

impl Introspect for MemoryDatagramTransport {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        None
    }
}

impl DatagramTransport for MemoryDatagramTransport {
    fn send(&mut self, tx: &Transmit<'_>) {
        if tx.contents.len() <= self.max && !self.closed && self.aborted.is_none() {
            self.sent.push(OwnedTransmit::from_transmit(tx));
        }
    }
    fn max_datagram_size(&self) -> usize {
        self.max
    }
    fn close(&mut self) {
        self.closed = true;
    }
    fn abort(&mut self, why: Close) {
        self.aborted.get_or_insert(why);
    }
    fn pause_reading(&mut self) {
        self.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.sent.iter().map(|t| t.contents.len()).sum()
    }
    fn writable(&self) -> bool {
        true
    }
    fn now(&self) -> Instant {
        self.now
    }
    fn waker(&self) -> Wake {
        Wake::root(self.hub.clone())
    }
}

impl Stack {
    /// A started stack over an in-memory bottom named `memory`, at the test
    /// kit's epoch, with default limits.
    pub fn memory(proto: Box<dyn StreamProtocol>) -> Stack {
        Stack::memory_with(proto, StackConfig::default())
    }

    /// [`Stack::memory`] with explicit limits.
    pub fn memory_with(proto: Box<dyn StreamProtocol>, cfg: StackConfig) -> Stack {
        let now = super::epoch();
        let info = BottomInfo::new("memory")
            .peer(Addr::Memory(2))
            .local(Addr::Memory(1));
        let mut s = Stack::new(proto, info, Arc::new(cfg), now);
        // The test kit counts, so a test can read the bottom's figures.
        s.count_bytes();
        s.start(now);
        s
    }
}

impl DatagramStack {
    /// A started datagram stack over an in-memory bottom (1200-byte datagrams).
    pub fn memory(proto: Box<dyn crate::DatagramProtocol>) -> DatagramStack {
        let now = super::epoch();
        let info = DatagramInfo {
            name: "memory",
            local: Some(LocalAddr(Addr::Memory(1))),
            peer: None,
            max_datagram_size: 1200,
        };
        let mut s = DatagramStack::new(proto, info, Arc::new(StackConfig::default()), now);
        s.start(now);
        s
    }
}
