//! The [`Pump`](super::Pump)'s configuration, directions, outcomes and trace.

use std::fmt;
use std::time::Duration;

use crate::StackConfig;

/// How a [`Pump`](super::Pump) joins its two stacks.
///
/// Build it with struct update syntax or the builder methods:
///
/// ```
/// use std::time::Duration;
/// use strata::testing::PumpConfig;
/// let cfg = PumpConfig::default()
///     .latency(Duration::from_millis(20))
///     .rate(1_000_000)
///     .chunk(1400);
/// assert_eq!(cfg.rate, Some(1_000_000));
/// assert_eq!(cfg.window, 256 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PumpConfig {
    /// Limits used for both stacks (watermarks, budget, close deadline).
    pub stack: StackConfig,
    /// One-way latency added to every delivery (default 0).
    pub latency: Duration,
    /// Bytes per second per direction; `None` (the default) is unlimited.
    /// With a rate, each delivery occupies the wire for `bytes / rate`
    /// seconds of virtual time. `Some(0)` is treated as 1 byte/s.
    pub rate: Option<u64>,
    /// Largest number of bytes moved by one delivery, i.e. the size of one
    /// `data_received` call on the receiving side (default 64 KiB; 0 counts
    /// as 1).
    pub chunk: usize,
    /// Most bytes in flight per direction (sent but not yet delivered): a
    /// stand-in for the socket buffers and TCP window (default 256 KiB). It
    /// only matters with a latency or a rate; bytes wait at the sender
    /// beyond it (0 counts as 1).
    pub window: usize,
    /// Whether to record [`Pump::trace`](super::Pump::trace) (default on).
    pub trace: bool,
}

impl Default for PumpConfig {
    fn default() -> Self {
        PumpConfig {
            stack: StackConfig::default(),
            latency: Duration::ZERO,
            rate: None,
            chunk: 64 * 1024,
            window: 256 * 1024,
            trace: true,
        }
    }
}

impl PumpConfig {
    /// Sets the stack limits used by both sides.
    ///
    /// ```
    /// use strata::{StackConfig, testing::PumpConfig};
    /// let cfg = PumpConfig::default().stack(StackConfig { high_water: 1024, low_water: 256, ..StackConfig::default() });
    /// assert_eq!(cfg.stack.high_water, 1024);
    /// ```
    pub fn stack(mut self, cfg: StackConfig) -> Self {
        self.stack = cfg;
        self
    }

    /// Sets the one-way latency.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind};
    /// # struct Send3;
    /// # impl StreamProtocol for Send3 {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"abc"); t.close() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # #[derive(Default)]
    /// # struct Collect(Vec<u8>);
    /// # impl StreamProtocol for Collect {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let cfg = PumpConfig::default().latency(Duration::from_millis(40));
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run(Duration::from_secs(1));
    /// let at = pump.trace().iter().find(|e| e.kind == PumpEventKind::Delivered).unwrap().at;
    /// assert_eq!(at, Duration::from_millis(40));
    /// ```
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// Limits each direction to `bytes_per_sec`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind};
    /// # struct Send3;
    /// # impl StreamProtocol for Send3 {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"abc"); t.close() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # #[derive(Default)]
    /// # struct Collect(Vec<u8>);
    /// # impl StreamProtocol for Collect {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let cfg = PumpConfig::default().rate(3); // three bytes a second
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run(Duration::from_secs(10));
    /// let at = pump.trace().iter().find(|e| e.kind == PumpEventKind::Delivered).unwrap().at;
    /// assert_eq!(at, Duration::from_secs(1));
    /// ```
    pub fn rate(mut self, bytes_per_sec: u64) -> Self {
        self.rate = Some(bytes_per_sec);
        self
    }

    /// Sets the largest delivery (at least 1 byte).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind};
    /// # struct Send3;
    /// # impl StreamProtocol for Send3 {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"abc"); t.close() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # #[derive(Default)]
    /// # struct Collect(Vec<u8>);
    /// # impl StreamProtocol for Collect {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let cfg = PumpConfig::default().chunk(1);
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run(Duration::from_secs(1));
    /// let deliveries = pump.trace().iter().filter(|e| e.kind == PumpEventKind::Delivered).count();
    /// assert_eq!(deliveries, 3); // one byte per data_received
    /// ```
    pub fn chunk(mut self, bytes: usize) -> Self {
        self.chunk = bytes.max(1);
        self
    }

    /// Sets the most bytes in flight per direction (at least 1 byte).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind};
    /// # struct Send3;
    /// # impl StreamProtocol for Send3 {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"abc"); t.close() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # #[derive(Default)]
    /// # struct Collect(Vec<u8>);
    /// # impl StreamProtocol for Collect {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let cfg = PumpConfig::default().latency(Duration::from_millis(10)).window(2);
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run_until_idle();
    /// assert_eq!(pump.in_flight(Dir::AtoB), 2); // the third byte waits at the sender
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(pump.b().protocol::<Collect>().unwrap().0, b"abc");
    /// ```
    pub fn window(mut self, bytes: usize) -> Self {
        self.window = bytes.max(1);
        self
    }

    /// Turns the trace on or off.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind};
    /// # struct Send3;
    /// # impl StreamProtocol for Send3 {
    /// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"abc"); t.close() }
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # #[derive(Default)]
    /// # struct Collect(Vec<u8>);
    /// # impl StreamProtocol for Collect {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let cfg = PumpConfig::default().trace(false);
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run(Duration::from_secs(1));
    /// assert!(pump.trace().is_empty());
    /// assert_eq!(pump.bytes_moved(Dir::AtoB), 3);
    /// ```
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }
}

/// A direction of the pump: from side `a` to side `b`, or back.
///
/// ```
/// use strata::testing::Dir;
/// assert_eq!(Dir::AtoB.reverse(), Dir::BtoA);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// From `a` to `b`.
    AtoB,
    /// From `b` to `a`.
    BtoA,
}

impl Dir {
    /// The other direction.
    ///
    /// ```
    /// use strata::testing::Dir;
    /// assert_eq!(Dir::BtoA.reverse(), Dir::AtoB);
    /// assert_eq!(Dir::AtoB.reverse().reverse(), Dir::AtoB);
    /// ```
    pub fn reverse(self) -> Dir {
        match self {
            Dir::AtoB => Dir::BtoA,
            Dir::BtoA => Dir::AtoB,
        }
    }

    /// Index of the sending side (0 for `a`).
    pub(crate) fn sender(self) -> usize {
        match self {
            Dir::AtoB => 0,
            Dir::BtoA => 1,
        }
    }
}

/// Why a run of the virtual clock stopped.
///
/// ```
/// use strata::testing::RunOutcome;
/// assert_ne!(RunOutcome::Idle, RunOutcome::Finished);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every stack finished.
    Finished,
    /// Nothing is in flight, nothing can move and no deadline is set:
    /// nothing will ever happen again without outside help.
    Idle,
    /// The virtual time limit was reached; the clock stands at the limit.
    Limit,
    /// The predicate of a `run_until` became true.
    Reached,
    /// The stacks kept working without the clock moving (a deadline that
    /// stays in the past, a protocol that wakes itself forever): the run
    /// gave up after [`MAX_ROUNDS_PER_INSTANT`] rounds at one instant.
    Spinning,
}

/// Rounds of work at one virtual instant before a run reports
/// [`RunOutcome::Spinning`].
pub const MAX_ROUNDS_PER_INSTANT: usize = 100_000;

/// What happened in one [`PumpEvent`].
///
/// ```
/// # use std::time::Duration;
/// # use strata::{StreamProtocol, StreamTransport};
/// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind};
/// # struct Send3;
/// # impl StreamProtocol for Send3 {
/// #     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"abc"); t.close() }
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// # #[derive(Default)]
/// # struct Collect(Vec<u8>);
/// # impl StreamProtocol for Collect {
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
/// pump.run(Duration::from_secs(1));
/// let kinds: Vec<PumpEventKind> = pump.trace().iter().filter(|e| e.dir == Dir::AtoB).map(|e| e.kind).collect();
/// assert!(kinds.contains(&PumpEventKind::Sent));
/// assert!(kinds.contains(&PumpEventKind::EofDelivered));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PumpEventKind {
    /// Bytes left the sender's output queue onto the wire.
    Sent,
    /// Bytes were handed to the receiver's `handle_input`.
    Delivered,
    /// The sender's EOF (half-close, or end of a clean close) went on the wire.
    EofSent,
    /// The EOF was handed to the receiver.
    EofDelivered,
    /// The sender ended uncleanly; a reset went on the wire.
    ResetSent,
    /// The reset reached the receiver as `handle_lost(Close::Reset)`.
    ResetDelivered,
    /// Bytes were thrown away: the receiver had finished, or a reset
    /// overtook them.
    Discarded,
}

/// One entry of [`Pump::trace`](super::Pump::trace).
///
/// ```
/// use std::time::Duration;
/// use strata::testing::{Dir, PumpEvent, PumpEventKind};
/// let e = PumpEvent { at: Duration::from_millis(5), dir: Dir::AtoB, kind: PumpEventKind::Sent, bytes: 3 };
/// assert_eq!(e.to_string(), "0.005000000s a->b Sent 3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PumpEvent {
    /// Virtual time since [`epoch`](super::epoch).
    pub at: Duration,
    /// Which way the bytes (or the EOF, or the reset) went.
    pub dir: Dir,
    /// What happened.
    pub kind: PumpEventKind,
    /// How many payload bytes (0 for EOF and reset).
    pub bytes: usize,
}

impl fmt::Display for PumpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.dir {
            Dir::AtoB => "a->b",
            Dir::BtoA => "b->a",
        };
        write!(
            f,
            "{}.{:09}s {dir} {:?} {}",
            self.at.as_secs(),
            self.at.subsec_nanos(),
            self.kind,
            self.bytes
        )
    }
}
