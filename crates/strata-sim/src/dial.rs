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
use strata::{Close, Dial, DialError, DialGuard, Dialer, StackConfig, StreamProtocol};
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

/// Dials from one host.
struct SimDial {
    host: HostId,
    queue: DialQueue,
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
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(PendingDial {
            host: self.host,
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
    /// sim.dialer(a).dial(&ep, Box::new(Hello(got.clone())), Arc::default()).unwrap();
    /// sim.run(Duration::from_secs(5));
    /// assert_eq!(&*got.lock().unwrap(), b"hi");
    /// ```
    pub fn dialer(&self, host: HostId) -> Dialer {
        Sim::dialer_of(&self.dials, host)
    }

    /// [`dialer`](Sim::dialer), for a caller holding other fields of the
    /// world.
    pub(crate) fn dialer_of(queue: &DialQueue, host: HostId) -> Dialer {
        Dialer::new(SimDial {
            host,
            queue: queue.clone(),
        })
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
