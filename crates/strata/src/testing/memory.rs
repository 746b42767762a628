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
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new();
    /// assert!(t.writable());
    /// assert!(!t.is_closed());
    /// ```
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
    ///
    /// ```
    /// use strata::{Addr, PeerAddr, StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new().with_peer(Addr::Memory(9));
    /// let t: &dyn StreamTransport = &t;
    /// assert_eq!(t.get::<PeerAddr>(), Some(&PeerAddr(Addr::Memory(9))));
    /// ```
    pub fn with_peer(mut self, a: Addr) -> Self {
        self.peer = Some(PeerAddr(a));
        self
    }

    /// Reports `a` as the local address.
    ///
    /// ```
    /// use strata::{Addr, LocalAddr, StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new().with_local(Addr::Memory(1));
    /// let t: &dyn StreamTransport = &t;
    /// assert_eq!(t.get::<LocalAddr>(), Some(&LocalAddr(Addr::Memory(1))));
    /// ```
    pub fn with_local(mut self, a: Addr) -> Self {
        self.local = Some(LocalAddr(a));
        self
    }

    /// Sets the high-water mark `writable()` compares against.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new().with_high_water(4);
    /// t.write(b"abc");
    /// assert!(t.writable());
    /// t.write(b"d");
    /// assert!(!t.writable());
    /// ```
    pub fn with_high_water(mut self, n: usize) -> Self {
        self.high_water = n;
        self
    }

    /// Takes what was written so far (as if it had been sent).
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.write(b"ab");
    /// assert_eq!(t.buffered(), 2);
    /// assert_eq!(t.take_written(), b"ab");
    /// assert_eq!(t.buffered(), 0);
    /// ```
    pub fn take_written(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.written)
    }

    /// Whether `write_eof` was called.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// assert!(!t.eof_written());
    /// t.write_eof();
    /// assert!(t.eof_written());
    /// ```
    pub fn eof_written(&self) -> bool {
        self.eof_written
    }

    /// Whether `close` was called.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.close();
    /// assert!(t.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The reason given to `abort`, if it was called.
    ///
    /// ```
    /// use strata::{AbortReason, Close, StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.abort(Close::aborted("app", AbortReason::Requested));
    /// assert_eq!(t.aborted().unwrap().layer(), Some("app"));
    /// ```
    pub fn aborted(&self) -> Option<&Close> {
        self.aborted.as_ref()
    }

    /// Whether reading is paused.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// t.pause_reading();
    /// assert!(t.is_read_paused());
    /// t.resume_reading();
    /// assert!(!t.is_read_paused());
    /// ```
    pub fn is_read_paused(&self) -> bool {
        self.read_paused
    }

    /// Moves the virtual clock forward.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let mut t = MemoryTransport::new();
    /// let before = t.now();
    /// t.advance(Duration::from_millis(5));
    /// assert_eq!(t.now() - before, Duration::from_millis(5));
    /// ```
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// The routes of the wakes received, oldest first.
    ///
    /// ```
    /// use strata::{StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new();
    /// t.waker().wake();
    /// assert_eq!(t.take_wakes().len(), 1);
    /// assert!(t.take_wakes().is_empty());
    /// ```
    pub fn take_wakes(&self) -> Vec<Vec<u64>> {
        self.hub.take().iter().map(|r| r.to_vec()).collect()
    }

    /// The swap requests received, with their leftovers.
    ///
    /// ```
    /// use strata::{StreamTransport, SwapRequest, testing::MemoryTransport};
    /// # use strata::StreamProtocol;
    /// # struct Next;
    /// # impl StreamProtocol for Next {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut t = MemoryTransport::new();
    /// t.request_swap(SwapRequest::Replace(Box::new(Next)), b"rest".to_vec()).unwrap();
    /// let swaps = t.take_swaps();
    /// assert!(matches!(swaps[0].0, SwapRequest::Replace(_)));
    /// assert_eq!(swaps[0].1, b"rest");
    /// ```
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
    ///
    /// ```
    /// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
    /// let t = MemoryDatagramTransport::new(1200);
    /// assert_eq!(t.max_datagram_size(), 1200);
    /// ```
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
    ///
    /// ```
    /// use strata::{DatagramTransport, Transmit, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// t.send(&Transmit::connected(b"a"));
    /// t.send(&Transmit::connected(b"b"));
    /// assert_eq!(t.take_sent().len(), 2);
    /// assert!(t.take_sent().is_empty());
    /// ```
    pub fn take_sent(&mut self) -> Vec<OwnedTransmit> {
        std::mem::take(&mut self.sent)
    }

    /// The reason given to `abort`, if any.
    ///
    /// ```
    /// use strata::{AbortReason, Close, DatagramTransport, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// assert!(t.aborted().is_none());
    /// t.abort(Close::aborted("app", AbortReason::Requested));
    /// assert!(t.aborted().is_some());
    /// ```
    pub fn aborted(&self) -> Option<&Close> {
        self.aborted.as_ref()
    }

    /// Whether `close` was called.
    ///
    /// ```
    /// use strata::{DatagramTransport, Transmit, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// t.close();
    /// assert!(t.is_closed());
    /// t.send(&Transmit::connected(b"late"));
    /// assert!(t.take_sent().is_empty());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Moves the virtual clock forward.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{DatagramTransport, testing::MemoryDatagramTransport};
    /// let mut t = MemoryDatagramTransport::new(1200);
    /// let before = t.now();
    /// t.advance(Duration::from_secs(1));
    /// assert_eq!(t.now() - before, Duration::from_secs(1));
    /// ```
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
    ///
    /// ```
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Hello;
    /// impl StreamProtocol for Hello {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello") }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(Hello));
    /// let now = s.now();
    /// assert_eq!(s.bottom_name(), "memory");
    /// assert_eq!(s.take_output(now), b"hello");
    /// ```
    pub fn memory(proto: Box<dyn StreamProtocol>) -> Stack {
        Stack::memory_with(proto, StackConfig::default())
    }

    /// [`Stack::memory`] with explicit limits.
    ///
    /// ```
    /// use strata::{Stack, StackConfig, StreamProtocol, StreamTransport};
    /// struct Big;
    /// impl StreamProtocol for Big {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(&[0; 32]) }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let cfg = StackConfig { high_water: 16, low_water: 4, ..StackConfig::default() };
    /// let s = Stack::memory_with(Box::new(Big), cfg);
    /// assert!(s.is_write_paused());
    /// ```
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
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramStack, DatagramTransport};
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let s = DatagramStack::memory(Box::new(Quiet));
    /// assert!(s.finished().is_none());
    /// ```
    pub fn memory(proto: Box<dyn crate::DatagramProtocol>) -> DatagramStack {
        let now = super::epoch();
        let info = DatagramInfo {
            name: "memory",
            local: Some(LocalAddr(Addr::Memory(1))),
            peer: None,
            max_datagram_size: 1200,
            dialer: None,
        };
        let mut s = DatagramStack::new(proto, info, Arc::new(StackConfig::default()), now);
        s.start(now);
        s
    }
}
