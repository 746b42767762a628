//! [`Pump`]: two stream stacks joined in memory, with a virtual clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::epoch;
use super::pump_config::MAX_ROUNDS_PER_INSTANT;
use super::pump_wire::{copy_front, serialization, Payload, Tracer, Wire};
use crate::{Addr, BottomInfo, Close, Stack, StreamProtocol};

use super::pump_config::{Dir, PumpConfig, PumpEvent, PumpEventKind, RunOutcome};

/// Two stream stacks joined in memory with a virtual clock.
///
/// The pump is Twisted's `iosim` (and quinn-proto's test `Pair`) for strata:
/// it owns two [`Stack`]s, moves the bytes each one queues to the other, and
/// runs a virtual clock that jumps straight to the next thing that can happen
/// (a delivery, a protocol deadline, the close deadline). Nothing sleeps;
/// the same test gives the same result every time.
///
/// What the pump models, per direction:
///
/// * **Back-pressure.** Bytes leave the sender only while the receiver
///   [`wants_read`](Stack::wants_read) (or has finished) and fewer than
///   [`window`](PumpConfig::window) bytes are in flight. A receiver that
///   pauses reading therefore leaves the bytes queued at the sender, whose
///   stack crosses its high-water mark and delivers `pause_writing`: the end
///   to end back-pressure path of a real connection.
/// * **Latency and rate.** Each delivery moves at most
///   [`chunk`](PumpConfig::chunk) bytes, occupies the wire for
///   `bytes / rate` and arrives [`latency`](PumpConfig::latency) later.
/// * **EOF and close.** When a stack asks to half-close
///   ([`should_shutdown_write`](Stack::should_shutdown_write)), or finishes
///   with [`Close::Done`], the other side gets `handle_eof` after the bytes
///   before it. A stack that finishes with any other reason sends a reset:
///   the other side gets `handle_lost(now, Close::Reset)`, and bytes still
///   waiting for it are discarded. Bytes sent to a finished stack are
///   discarded.
/// * **Wakes.** After every round, pending wakes are delivered with
///   [`Stack::handle_wakes`].
///
/// ```
/// use std::time::Duration;
/// use strata::{StreamProtocol, StreamTransport};
/// use strata::testing::{Dir, Pump, PumpConfig, RunOutcome};
///
/// struct Hello;
/// impl StreamProtocol for Hello {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
///         t.write(b"hello");
///         t.close();
///     }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
///
/// let cfg = PumpConfig::default().latency(Duration::from_millis(10));
/// let mut pump = Pump::with_config(Box::new(Hello), Box::new(Echo), cfg);
/// assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
/// assert!(pump.a().finished().unwrap().is_clean());
/// assert_eq!(pump.bytes_moved(Dir::AtoB), 5);
/// // The hello and the EOF behind it took one latency to arrive.
/// assert_eq!(pump.elapsed(), Duration::from_millis(10));
/// ```
///
/// The clock starts at [`epoch`]. Methods group as:
///
/// * time: [`now`](Pump::now), [`elapsed`](Pump::elapsed),
///   [`step`](Pump::step), [`run_until_idle`](Pump::run_until_idle),
///   [`run`](Pump::run), [`run_until`](Pump::run_until),
///   [`advance`](Pump::advance), [`next_event`](Pump::next_event);
/// * the stacks: [`a`](Pump::a), [`b`](Pump::b), [`a_mut`](Pump::a_mut),
///   [`b_mut`](Pump::b_mut) (pass [`now`](Pump::now) to their `handle_*`);
///   the protocols, by type, during the run and after it:
///   `pump.b().protocol::<T>()` ([`Stack::protocol`], which looks under
///   layers such as TLS), so results need no `Arc<Mutex<_>>`;
/// * accounting: [`bytes_moved`](Pump::bytes_moved),
///   [`in_flight`](Pump::in_flight), [`trace`](Pump::trace).
///
/// ```
/// use strata::{StreamProtocol, StreamTransport};
/// use strata::testing::{Dir, Pump};
/// struct Greeter;
/// impl StreamProtocol for Greeter {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi") }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let mut pump = Pump::new(Box::new(Greeter), Box::new(Greeter));
/// pump.run_until_idle();
/// assert_eq!(pump.bytes_moved(Dir::AtoB), 2);
/// assert_eq!(pump.bytes_moved(Dir::BtoA), 2);
/// ```
///
/// The pump keeps each side's protocol after its stack finishes
/// ([`Stack::keep_protocol`]), so a test reads its results from it:
///
/// ```
/// use std::time::Duration;
/// use strata::{StreamProtocol, StreamTransport};
/// use strata::testing::Pump;
/// struct Send3;
/// impl StreamProtocol for Send3 {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"abc"); t.close() }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// #[derive(Default)]
/// struct Collect(Vec<u8>);
/// impl StreamProtocol for Collect {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.extend_from_slice(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
/// pump.run(Duration::from_secs(1));
/// assert!(pump.b().finished().is_some());
/// assert_eq!(pump.b().protocol::<Collect>().unwrap().0, b"abc");
/// ```
pub struct Pump {
    sides: [Stack; 2],
    /// Indexed by the sending side: `wires[0]` carries a→b.
    wires: [Wire; 2],
    now: Instant,
    cfg: PumpConfig,
    trace: Vec<PumpEvent>,
}

impl Pump {
    /// Joins `a` and `b` with the default [`PumpConfig`] and starts both.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// assert_eq!(pump.run(Duration::from_secs(1)), RunOutcome::Finished);
    /// ```
    pub fn new(a: Box<dyn StreamProtocol>, b: Box<dyn StreamProtocol>) -> Pump {
        Pump::with_config(a, b, PumpConfig::default())
    }

    /// Joins `a` and `b` with `cfg` and starts both (`a` first). Side `a`
    /// is `Addr::Memory(1)` and sees `Addr::Memory(2)` as its peer; `b` the
    /// reverse. Both bottoms are named `memory`.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let cfg = PumpConfig::default().latency(Duration::from_millis(10));
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run(Duration::from_secs(1));
    /// assert!(pump.elapsed() >= Duration::from_millis(10));
    /// ```
    pub fn with_config(
        a: Box<dyn StreamProtocol>,
        b: Box<dyn StreamProtocol>,
        cfg: PumpConfig,
    ) -> Pump {
        Pump::with_qlog(a, b, cfg, [None, None])
    }

    /// Like [`with_config`](Pump::with_config), with a qlog trace for each
    /// side (`a`, `b`) set before it starts ([`Stack::set_qlog`]): every
    /// layer of that side that emits qlog events writes into it, timed by
    /// the virtual clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::qlog::{JsonSeqWriter, QlogTrace, SharedBuf, TraceHeader, Vantage};
    /// use strata::testing::{Pump, PumpConfig};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Idle;
    /// # impl StreamProtocol for Idle {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let buf = SharedBuf::default();
    /// let h = TraceHeader::new(Vantage::Client, strata::testing::epoch());
    /// let trace = QlogTrace::new(JsonSeqWriter::new(h, 1000, buf.sink()));
    /// let mut pump = Pump::with_qlog(Box::new(Idle), Box::new(Idle), PumpConfig::default(), [Some(trace), None]);
    /// pump.run(Duration::from_secs(1));
    /// ```
    pub fn with_qlog(
        a: Box<dyn StreamProtocol>,
        b: Box<dyn StreamProtocol>,
        cfg: PumpConfig,
        qlog: [Option<crate::qlog::QlogTrace>; 2],
    ) -> Pump {
        let now = epoch();
        let stack_cfg = Arc::new(cfg.stack.clone());
        let side = |p, me, peer| {
            let info = BottomInfo::new("memory")
                .local(Addr::Memory(me))
                .peer(Addr::Memory(peer));
            let mut s = Stack::new(p, info, stack_cfg.clone(), now);
            s.keep_protocol();
            s
        };
        let mut pump = Pump {
            sides: [side(a, 1, 2), side(b, 2, 1)],
            wires: [Wire::default(), Wire::default()],
            now,
            cfg,
            trace: Vec::new(),
        };
        for (s, q) in pump.sides.iter_mut().zip(qlog) {
            if let Some(q) = q {
                s.set_qlog(q);
            }
            s.start(now);
        }
        pump
    }

    /// The configuration.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let cfg = PumpConfig::default().chunk(1);
    /// let pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// assert_eq!(pump.config().chunk, 1);
    /// ```
    pub fn config(&self) -> &PumpConfig {
        &self.cfg
    }

    /// The virtual time.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// assert_eq!(pump.now(), strata::testing::epoch());
    /// pump.advance(Duration::from_secs(2));
    /// assert_eq!(pump.now(), strata::testing::epoch() + Duration::from_secs(2));
    /// ```
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since [`epoch`].
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// pump.advance(Duration::from_millis(300));
    /// assert_eq!(pump.elapsed(), Duration::from_millis(300));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(epoch())
    }

    /// Side `a`'s stack.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// pump.run(Duration::from_secs(1));
    /// assert!(pump.a().finished().unwrap().is_clean());
    /// ```
    pub fn a(&self) -> &Stack {
        &self.sides[0]
    }

    /// Side `b`'s stack.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(pump.b().protocol::<Collect>().unwrap().0, b"abc");
    /// ```
    pub fn b(&self) -> &Stack {
        &self.sides[1]
    }

    /// Side `a`'s stack, to feed it events (pass [`now`](Pump::now)).
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// struct Echo;
    /// impl StreamProtocol for Echo {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut pump = Pump::new(Box::new(Echo), Box::new(Collect::default()));
    /// let now = pump.now();
    /// pump.a_mut().handle_input(now, b"hi"); // as if `a` had read it
    /// pump.run_until_idle();
    /// assert_eq!(pump.b().protocol::<Collect>().unwrap().0, b"hi");
    /// ```
    pub fn a_mut(&mut self) -> &mut Stack {
        &mut self.sides[0]
    }

    /// Side `b`'s stack, to feed it events (pass [`now`](Pump::now)).
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Collect::default()), Box::new(Collect::default()));
    /// let now = pump.now();
    /// pump.b_mut().handle_shutdown(now); // drain b: it closes
    /// pump.run(Duration::from_secs(1));
    /// assert!(pump.b().finished().is_some());
    /// ```
    pub fn b_mut(&mut self) -> &mut Stack {
        &mut self.sides[1]
    }

    /// Payload bytes handed to the receiver's `handle_input` so far.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(pump.bytes_moved(Dir::AtoB), 3);
    /// assert_eq!(pump.bytes_moved(Dir::BtoA), 0);
    /// ```
    pub fn bytes_moved(&self, dir: Dir) -> u64 {
        self.wires[dir.sender()].moved
    }

    /// Payload bytes sent but not yet delivered (on the wire, or arrived and
    /// waiting for the receiver to read).
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let cfg = PumpConfig::default().latency(Duration::from_millis(50));
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run_until_idle(); // sent at once, delivered 50 ms later
    /// assert_eq!(pump.in_flight(Dir::AtoB), 3);
    /// pump.run(Duration::from_secs(1));
    /// assert_eq!(pump.in_flight(Dir::AtoB), 0);
    /// ```
    pub fn in_flight(&self, dir: Dir) -> usize {
        self.wires[dir.sender()].in_flight
    }

    /// Everything that happened, oldest first (empty when the trace is off).
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// pump.run(Duration::from_secs(1));
    /// let delivered = pump.trace().iter().find(|e| e.kind == PumpEventKind::Delivered).unwrap();
    /// assert_eq!((delivered.dir, delivered.bytes), (Dir::AtoB, 3));
    /// ```
    pub fn trace(&self) -> &[PumpEvent] {
        &self.trace
    }

    /// Does the work of the next instant: one round at the current time if
    /// anything can move now, otherwise jumps the clock to the next event,
    /// fires due deadlines there and does one round. Returns false when
    /// nothing can happen any more (the pump is idle for good).
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// while pump.step() {}
    /// assert!(pump.a().finished().is_some() && pump.b().finished().is_some());
    /// ```
    pub fn step(&mut self) -> bool {
        if self.round() {
            return true;
        }
        match self.next_event() {
            None => false,
            Some(t) => {
                self.jump_to(t);
                self.round();
                true
            }
        }
    }

    /// Moves bytes, EOFs, resets and wakes until nothing moves at the current
    /// instant. The clock does not move and no deadline fires. Returns
    /// [`RunOutcome::Idle`], or [`RunOutcome::Spinning`] if the stacks never
    /// went quiet.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// pump.run_until_idle();
    /// assert_eq!(pump.elapsed(), Duration::ZERO); // the clock did not move
    /// assert_eq!(pump.b().protocol::<Collect>().unwrap().0, b"abc");
    /// ```
    pub fn run_until_idle(&mut self) -> RunOutcome {
        for _ in 0..MAX_ROUNDS_PER_INSTANT {
            if !self.round() {
                return RunOutcome::Idle;
            }
        }
        RunOutcome::Spinning
    }

    /// Runs the virtual clock for at most `limit`: moves everything at each
    /// instant, then jumps to the earliest of both stacks' deadlines and the
    /// next delivery, and fires the deadlines due. Stops when both stacks
    /// finished, when nothing can happen any more, or at the limit.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// // Two protocols that wait for each other stop with nothing to do.
    /// let mut pump = Pump::new(Box::new(Collect::default()), Box::new(Collect::default()));
    /// assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Idle);
    /// let mut pump = Pump::new(Box::new(Send3), Box::new(Collect::default()));
    /// assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    /// ```
    pub fn run(&mut self, limit: Duration) -> RunOutcome {
        let target = self.now + limit;
        self.run_to(target, true, &mut |_| false)
    }

    /// Like [`run`](Pump::run), and also stops (with
    /// [`RunOutcome::Reached`]) as soon as `pred` holds after an instant's
    /// work.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let cfg = PumpConfig::default().latency(Duration::from_millis(10));
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// let got = pump.run_until(Duration::from_secs(1), |p| p.bytes_moved(Dir::AtoB) == 3);
    /// assert_eq!(got, RunOutcome::Reached);
    /// assert_eq!(pump.elapsed(), Duration::from_millis(10));
    /// ```
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&Pump) -> bool,
    ) -> RunOutcome {
        let target = self.now + limit;
        self.run_to(target, true, &mut pred)
    }

    /// Moves the clock forward by exactly `d`, doing everything that falls
    /// due on the way, in time order. Returns [`RunOutcome::Limit`] (or
    /// [`RunOutcome::Spinning`]).
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let cfg = PumpConfig::default().latency(Duration::from_millis(10));
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// assert_eq!(pump.advance(Duration::from_millis(5)), RunOutcome::Limit);
    /// assert_eq!(pump.bytes_moved(Dir::AtoB), 0); // still on the wire
    /// pump.advance(Duration::from_millis(5));
    /// assert_eq!(pump.bytes_moved(Dir::AtoB), 3);
    /// ```
    pub fn advance(&mut self, d: Duration) -> RunOutcome {
        let target = self.now + d;
        self.run_to(target, false, &mut |_| false)
    }

    /// The next time something can happen: a stack deadline, an arrival, or
    /// the wire becoming free for queued output. `None` when nothing can.
    ///
    /// ```
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # use strata::testing::{Dir, Pump, PumpConfig, PumpEventKind, RunOutcome};
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
    /// # use std::time::Duration;
    /// let cfg = PumpConfig::default().latency(Duration::from_millis(10));
    /// let mut pump = Pump::with_config(Box::new(Send3), Box::new(Collect::default()), cfg);
    /// pump.run_until_idle();
    /// assert_eq!(pump.next_event(), Some(pump.now() + Duration::from_millis(10)));
    /// ```
    pub fn next_event(&self) -> Option<Instant> {
        let mut next = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for s in &self.sides {
            consider(s.next_deadline());
        }
        for dir in [Dir::AtoB, Dir::BtoA] {
            let w = &self.wires[dir.sender()];
            let later = w.queue.iter().map(|i| i.at).filter(|&t| t > self.now);
            consider(later.min());
            let sender_waits = self.sides[dir.sender()].pending_output() > 0;
            consider(w.free_at.filter(|&t| t > self.now && sender_waits));
        }
        next
    }

    fn run_to(
        &mut self,
        target: Instant,
        stop_early: bool,
        pred: &mut dyn FnMut(&Pump) -> bool,
    ) -> RunOutcome {
        let mut rounds = 0;
        loop {
            while self.round() {
                rounds += 1;
                if rounds > MAX_ROUNDS_PER_INSTANT {
                    return RunOutcome::Spinning;
                }
            }
            if pred(self) {
                return RunOutcome::Reached;
            }
            let done = self.sides.iter().all(|s| s.finished().is_some());
            if stop_early && done {
                return RunOutcome::Finished;
            }
            match self.next_event() {
                None if stop_early => return RunOutcome::Idle,
                Some(t) if t <= target => {
                    if t > self.now {
                        rounds = 0;
                    } else {
                        rounds += 1;
                        if rounds > MAX_ROUNDS_PER_INSTANT {
                            return RunOutcome::Spinning;
                        }
                    }
                    self.jump_to(t);
                }
                _ => {
                    self.now = self.now.max(target);
                    return RunOutcome::Limit;
                }
            }
        }
    }

    /// Moves the clock to `t` (never backwards) and fires due deadlines.
    fn jump_to(&mut self, t: Instant) {
        self.now = self.now.max(t);
        let now = self.now;
        for s in &mut self.sides {
            if s.next_deadline().is_some_and(|d| d <= now) {
                s.handle_timeout(now);
            }
        }
    }

    /// One round at the current instant; true if anything happened.
    fn round(&mut self) -> bool {
        let mut progress = false;
        for dir in [Dir::AtoB, Dir::BtoA] {
            // Deliver after every chunk, so that with no latency a reader
            // that pauses stops the very next chunk.
            loop {
                progress |= self.deliver(dir);
                if !self.send_chunk(dir) {
                    break;
                }
                progress = true;
            }
            progress |= self.send_eof(dir);
        }
        for dir in [Dir::AtoB, Dir::BtoA] {
            progress |= self.propagate_finish(dir);
        }
        let now = self.now;
        for s in &mut self.sides {
            if s.wake_hub().is_some_and(|h| h.is_pending()) {
                s.handle_wakes(now);
                progress = true;
            }
        }
        progress
    }

    /// The stacks of `dir` as (sender, receiver), the wire and the trace.
    fn parts(&mut self, dir: Dir) -> (&mut Stack, &mut Stack, &mut Wire, Tracer<'_>) {
        let [a, b] = &mut self.sides;
        let (s, r) = match dir {
            Dir::AtoB => (a, b),
            Dir::BtoA => (b, a),
        };
        let tracer = Tracer {
            on: self.cfg.trace,
            events: &mut self.trace,
            at: self.now.saturating_duration_since(epoch()),
            dir,
        };
        (s, r, &mut self.wires[dir.sender()], tracer)
    }

    /// Hands due arrivals to the receiver, in order, while it reads.
    fn deliver(&mut self, dir: Dir) -> bool {
        let now = self.now;
        let (_, r, w, mut tr) = self.parts(dir);
        let mut progress = false;
        loop {
            // A reset overtakes what waits ahead of it: the receiver drops
            // its unread data, as a TCP receiver does on RST.
            let reset = w
                .queue
                .iter()
                .position(|i| i.at <= now && matches!(i.what, Payload::Reset));
            if let Some(pos) = reset {
                for item in w.queue.drain(..=pos) {
                    if let Payload::Data(d) = item.what {
                        w.in_flight -= d.len();
                        tr.push(PumpEventKind::Discarded, d.len());
                    }
                }
                if r.finished().is_none() {
                    r.handle_lost(now, Close::Reset);
                    tr.push(PumpEventKind::ResetDelivered, 0);
                }
                progress = true;
                continue;
            }
            let Some(head) = w.queue.front() else {
                return progress;
            };
            if head.at > now {
                return progress;
            }
            match &head.what {
                Payload::Data(_) if r.finished().is_none() && !r.wants_read() => {
                    return progress;
                }
                _ => {}
            }
            let Some(item) = w.queue.pop_front() else {
                return progress;
            };
            progress = true;
            match item.what {
                Payload::Data(d) => {
                    w.in_flight -= d.len();
                    if r.finished().is_some() {
                        tr.push(PumpEventKind::Discarded, d.len());
                    } else {
                        w.moved += d.len() as u64;
                        tr.push(PumpEventKind::Delivered, d.len());
                        r.handle_input(now, &d);
                    }
                }
                Payload::Eof => {
                    if r.finished().is_none() {
                        tr.push(PumpEventKind::EofDelivered, 0);
                        r.handle_eof(now);
                    }
                }
                // Every due reset was taken by the scan above.
                Payload::Reset => {}
            }
        }
    }

    /// Moves one chunk of the sender's output onto the wire, if the wire is
    /// free, the window open and the receiver reading (or gone).
    fn send_chunk(&mut self, dir: Dir) -> bool {
        let now = self.now;
        let (chunk, window) = (self.cfg.chunk.max(1), self.cfg.window.max(1));
        let latency = self.cfg.latency;
        let rate = self.cfg.rate.map(|r| r.max(1));
        let (s, r, w, mut tr) = self.parts(dir);
        if w.eof_queued || w.free_at.is_some_and(|t| t > now) {
            return false;
        }
        let pending = s.pending_output();
        if pending == 0 || !(r.wants_read() || r.finished().is_some()) {
            return false;
        }
        let n = pending.min(chunk).min(window.saturating_sub(w.in_flight));
        if n == 0 {
            return false;
        }
        let data = copy_front(s, n);
        let n = data.len();
        s.consume(now, n);
        let departs = match rate {
            Some(rate) => {
                let t = now + serialization(n, rate);
                w.free_at = Some(t);
                t
            }
            None => now,
        };
        w.in_flight += n;
        tr.push(PumpEventKind::Sent, n);
        w.push(departs + latency, Payload::Data(data));
        true
    }

    /// Puts the sender's EOF on the wire once its output is flushed.
    fn send_eof(&mut self, dir: Dir) -> bool {
        let (now, latency) = (self.now, self.cfg.latency);
        let (s, _, w, mut tr) = self.parts(dir);
        if w.eof_queued || !s.should_shutdown_write() {
            return false;
        }
        s.write_shutdown_done(now);
        w.push_eof(now, latency, &mut tr);
        true
    }

    /// Turns a finished sender into an EOF (clean) or a reset for the peer.
    fn propagate_finish(&mut self, dir: Dir) -> bool {
        let now = self.now;
        let latency = self.cfg.latency;
        let (s, r, w, mut tr) = self.parts(dir);
        if w.finish_seen {
            return false;
        }
        let Some(why) = s.finished() else {
            return false;
        };
        w.finish_seen = true;
        if r.finished().is_some() {
            return true;
        }
        if why.is_clean() {
            if !w.eof_queued {
                w.push_eof(now, latency, &mut tr);
            }
        } else {
            tr.push(PumpEventKind::ResetSent, 0);
            w.push_reset(now + latency);
        }
        true
    }
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("elapsed", &self.elapsed())
            .field("a", &self.sides[0])
            .field("b", &self.sides[1])
            .field(
                "in_flight",
                &[self.wires[0].in_flight, self.wires[1].in_flight],
            )
            .finish()
    }
}
