//! # strata-sim: whole applications under deterministic simulation
//!
//! A second driver beside `strata-tokio`. It runs the same stacks and the
//! same protocols, servers, clients and relays, on simulated hosts in one
//! process, under virtual time, with faults, and gives the same run from
//! the same seed.
//!
//! * **Hosts** have addresses and names ([`Sim::add_host`]); endpoint
//!   strings name them as they would real machines: `tcp://10.0.0.2:80`,
//!   `tcp://server:80`.
//! * **Links** between hosts ([`Link`]) carry TCP-like stream connections
//!   (latency, bandwidth, windows and buffers, resets, partitions) and UDP
//!   through the test kit's [`SimNet`](strata::testing::SimNet) (loss,
//!   duplication, reordering, MTU). A host reaches itself over loopback,
//!   and Unix sockets on itself.
//! * **Time** is virtual: each stack's timers run on its host's clock
//!   (which a fault can skew), wakes are delivered in the order they were
//!   made, and the clock jumps from one event to the next.
//! * **Faults** ([`Fault`]) are applied at once or written as a script
//!   ([`Script`]): partition and heal, restart a host, change latency or
//!   loss, skew a clock, stall a reader.
//! * **The trace** ([`Sim::trace_text`], [`Sim::trace_digest`]) records
//!   every segment, connect, close and fault: the same seed gives the same
//!   trace, byte for byte.
//! * **Randomness** comes from the seed, in the layers too: each listen and
//!   connect builds its layers with
//!   [`StackPlan::seeded`](strata_tokio::StackPlan::seeded) (seeded from
//!   the world's seed and the plan's number), so TLS randoms and key
//!   shares, the server's self-signed certificate, QUIC's and the reliable
//!   mapping's ids and the KCP conversation repeat. That TLS is for
//!   simulation only: whoever knows the seed knows every key.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use strata::{StreamFactory, StreamProtocol, StreamTransport};
//! use strata_sim::{Link, Script, Sim};
//!
//! struct Echo;
//! impl StreamProtocol for Echo {
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//! struct Send10k(Arc<Mutex<usize>>);
//! impl StreamProtocol for Send10k {
//!     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(&[7; 10_000]); t.write_eof() }
//!     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { *self.0.lock().unwrap() += d.len() }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//!
//! let mut sim = Sim::new(3);
//! let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
//! let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
//! sim.link(c, s, Link::default().latency(Duration::from_millis(5)));
//! let echo: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
//! sim.listen(s, "tcp://server:7", echo).unwrap();
//! let got = Arc::new(Mutex::new(0));
//! sim.connect(c, "tcp://server:7", Box::new(Send10k(got.clone()))).unwrap();
//! // The link goes down for two seconds mid-exchange; nothing is lost.
//! let script = Script::parse(&sim, "at 7ms partition client server\nat 2s heal client server").unwrap();
//! sim.script(&script);
//! sim.run(Duration::from_secs(10));
//! assert_eq!(*got.lock().unwrap(), 10_000);
//! assert!(sim.elapsed() >= Duration::from_secs(2));
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod api;
mod dial;
mod error;
mod fault;
mod link;
mod seeded;
mod stream;
mod sweep;
mod trace;
mod world;

pub use api::Opened;
pub use error::SimError;
pub use fault::{Fault, Script, ScriptLine};
pub use link::{
    Link, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LATENCY, DEFAULT_SEND_BUFFER, DEFAULT_USER_TIMEOUT,
    DEFAULT_WINDOW, MAX_SEGMENT,
};
pub use stream::{ConnId, LayerWrap};
pub use sweep::{sweep, Failure, Nemesis, Run, SweepConfig, SweepReport, FAULTS_VAR, SEED_VAR};
pub use world::{Boot, HostId, Sim};

/// The simulation guide, `docs/simulation.md`, whose code blocks run as
/// doctests (`cargo test -p strata-sim --doc`).
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/simulation.md")]
    struct Simulation;
}
