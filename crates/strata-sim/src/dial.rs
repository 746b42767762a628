//! The simulator's answer to [`Dialer`]: a protocol on a simulated host
//! opens connections with `t.get::<Dialer>()`, as it would on the real
//! driver.
//!
//! A dial checks the endpoint at once (an endpoint the simulator cannot
//! build is an `Err`), then waits in a queue; the run loop opens it after
//! the callback that asked, from the dialing stack's host, as
//! [`Sim::connect_with`] would. So a dial is an event of the run like any
//! other, in a fixed order, and the same seed still gives the same trace.
//! A connect that fails (no route, no such host, refused, timed out)
//! reaches the protocol as `connection_lost` without `connection_made`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use strata::endpoint::Endpoint;
use strata::{Close, Dial, DialError, DialGuard, Dialer, DialerId, StackConfig, StreamProtocol};
use strata_tokio::StackPlan;

use crate::error::SimError;
use crate::world::{HostId, Sim};

/// A dial waiting for the run loop.
pub(crate) struct PendingDial {
    host: HostId,
    endpoint: Endpoint,
    proto: Box<dyn StreamProtocol>,
    cfg: Arc<StackConfig>,
}

/// The dials of a world, in the order they were made.
pub(crate) type DialQueue = Arc<Mutex<VecDeque<PendingDial>>>;

/// Where a registered dialer of the simulator sends its dials now: a
/// world's queue and the host dialing, or nowhere (its world is gone).
type Target = Arc<Mutex<Option<(DialQueue, HostId)>>>;

/// A registered dialer and where it points.
pub(crate) type Slot = (DialerId, Target);

/// Registered dialers no world uses now. Registrations are never freed
/// (see [`Dialer::register`]), so a world hands its dialers back when it
/// is dropped and the next world takes them: a sweep of many seeds
/// registers only as many as its most hosts at once.
static FREE: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

/// Dials from one host of one world (through its slot).
struct SimDial {
    target: Target,
}

impl Dial for SimDial {
    fn dial(
        &self,
        endpoint: &Endpoint,
        proto: Box<dyn StreamProtocol>,
        cfg: Arc<StackConfig>,
    ) -> Result<(), DialError> {
        StackPlan::client(endpoint).map_err(|e| DialError::Endpoint {
            endpoint: endpoint.to_string(),
            source: Box::new(e),
        })?;
        let t = self.target.lock().unwrap_or_else(|e| e.into_inner());
        let Some((queue, host)) = t.as_ref() else {
            return Err(DialError::Stopped {
                endpoint: endpoint.to_string(),
            });
        };
        let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(PendingDial {
            host: *host,
            endpoint: endpoint.clone(),
            proto,
            cfg,
        });
        Ok(())
    }
}

impl Sim {
    /// The dialer the stacks of `host` answer.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use strata::endpoint::Endpoint;
    /// use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// use strata_sim::{Link, Sim};
    /// struct Hello(Arc<Mutex<Vec<u8>>>);
    /// impl StreamProtocol for Hello {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hi"); t.write_eof() }
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0.lock().unwrap().extend_from_slice(d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// struct Echo;
    /// impl StreamProtocol for Echo {
    ///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut sim = Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, Link::default());
    /// let echo: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
    /// sim.listen(b, "tcp://b:7", echo).unwrap();
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let ep = Endpoint::parse("tcp://b:7").unwrap();
    /// let d = sim.dialer(a);
    /// d.dial(&ep, Box::new(Hello(got.clone())), Arc::default()).unwrap();
    /// sim.run(Duration::from_secs(5));
    /// assert_eq!(&*got.lock().unwrap(), b"hi");
    /// ```
    pub fn dialer(&mut self, host: HostId) -> Dialer {
        self.dialer_id(host).dialer().clone()
    }

    /// The registered dialer of `host` (a free one is taken, or one is
    /// registered, on first use).
    pub(crate) fn dialer_id(&mut self, host: HostId) -> DialerId {
        let i = host.0 as usize;
        while self.dial_slots.len() <= i {
            let free = FREE.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let slot = free.unwrap_or_else(|| {
                let target = Target::default();
                let id = Dialer::new(SimDial {
                    target: target.clone(),
                })
                .register();
                (id, target)
            });
            let h = HostId(self.dial_slots.len() as u32);
            *slot.1.lock().unwrap_or_else(|e| e.into_inner()) = Some((self.dials.clone(), h));
            self.dial_slots.push(slot);
        }
        self.dial_slots[i].0
    }

    /// Opens the dials made so far, in order. False if there were none.
    pub(crate) fn open_dials(&mut self) -> bool {
        let mut any = false;
        loop {
            let next = self
                .dials
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            let Some(d) = next else {
                return any;
            };
            any = true;
            self.open_dial(d);
        }
    }

    fn open_dial(&mut self, d: PendingDial) {
        let host = d.host;
        self.trace_line(format_args!("{host} dial {}", d.endpoint));
        let (proto, guard) = DialGuard::watch(d.proto);
        if !self.hosts[host.0 as usize].up {
            // The host restarted since: its programs are gone.
            drop(proto);
            guard.fail(&Close::Io(std::io::ErrorKind::Interrupted));
            return;
        }
        if let Err(e) = self.connect_endpoint(host, &d.endpoint, proto, Some(d.cfg)) {
            let kind = match e {
                SimError::NoRoute { .. } => std::io::ErrorKind::HostUnreachable,
                SimError::NoSuchHost { .. } => std::io::ErrorKind::NotFound,
                _ => std::io::ErrorKind::InvalidInput,
            };
            self.trace_line(format_args!("{host} dial failed: {e}"));
            guard.fail(&Close::Io(kind));
        }
    }
}

impl Drop for Sim {
    /// Hands the world's dialers back for the next world (a stack that
    /// outlived it would now be refused: `DialError::Stopped`).
    fn drop(&mut self) {
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        for (id, target) in self.dial_slots.drain(..) {
            *target.lock().unwrap_or_else(|e| e.into_inner()) = None;
            free.push((id, target));
        }
    }
}
