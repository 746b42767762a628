//! The test kit: deterministic, in-memory harnesses for every layer.
//!
//! * [`MemoryTransport`] / [`MemoryDatagramTransport`]: record what one
//!   protocol did (Twisted's `StringTransport`).
//! * [`Pump`]: joins two stream stacks in memory with a virtual clock that
//!   jumps to the next deadline (Twisted's iosim, quinn-proto's `Pair`).
//! * [`SimNet`]: a simulated datagram network with seeded loss, duplication,
//!   reordering, delay, jitter, bandwidth, queue limits, MTU and bit
//!   corruption ([`Netem`] is one direction of one of its links), and a
//!   tamper hook ([`SimNet::set_tamper`]) that sees, rewrites, drops, holds
//!   or injects datagrams. It is the one link simulator: the mapping's
//!   tests, the attack tests, the congestion controllers' simulation and
//!   the `reliable_sim` benchmark all run on it.
//! * [`PingEcho`]: a [`SimNet`] of a [`Ping`] and a [`DatagramEcho`]. The
//!   layers keep their own helpers: `strata::quic::testing::QuicPair` (a
//!   QUIC client and server over a `SimNet` link, with small apps for
//!   examples) and `strata::reliable::testing::ConnPair` (two
//!   reliable-mapping connections joined in memory).
//!
//! # Tampering and corruption
//!
//! A [`SimNet`] link can flip bits ([`LinkConfig::corrupt`]), and its tamper
//! hook plays an on-path attacker: it sees each datagram a node sends, and
//! may rewrite, drop ([`Verdict::Drop`]), hold ([`Verdict::Hold`]) or
//! inject ([`InFlight::inject`]). Here it replays every datagram from a
//! spoofed address, 50 ms later, and the link corrupts one in ten:
//!
//! ```
//! use std::time::Duration;
//! use strata::testing::{LinkConfig, SimNet, Verdict};
//! let mut net = SimNet::new(7);
//! # use strata::testing::Quiet;
//! let a = net.add_node("10.0.0.1:1000".parse().unwrap(), Box::new(Quiet));
//! let b = net.add_node("10.0.0.2:2000".parse().unwrap(), Box::new(Quiet));
//! net.link_both(a, b, LinkConfig::default().corrupt(0.1, 1));
//! let attacker = "192.0.2.66:6666".parse().unwrap();
//! net.set_tamper(move |d| {
//!     let copy = d.data.clone();
//!     d.inject(attacker, d.to, copy, Duration::from_millis(50));
//!     Verdict::Pass
//! });
//! ```
//!
//! Nothing here reads the system clock except [`epoch`], taken once per
//! process so that virtual instants are real `Instant`s.

use std::sync::OnceLock;
use std::time::Instant;

mod memory;
mod netem;
mod ping_echo;
mod pump;
mod pump_config;
mod pump_wire;
mod simnet;
mod simtrace;
mod tamper;

pub use memory::{MemoryDatagramTransport, MemoryTransport};
pub use netem::{Arrival, Arrivals, DropReason, LinkConfig, LinkStats, Loss, Netem};
pub use ping_echo::{DatagramEcho, Ping, PingEcho, Quiet};
pub use pump::Pump;
pub use pump_config::{
    Dir, PumpConfig, PumpEvent, PumpEventKind, RunOutcome, MAX_ROUNDS_PER_INSTANT,
};
pub use simnet::SimNet;
pub use simtrace::{payload_hash, NodeId, SimEvent, SimEventKind};
pub use tamper::{InFlight, Tamper, Verdict};

/// The instant virtual time starts from (fixed for the whole process).
///
/// ```
/// use strata::{StreamTransport, testing::{epoch, MemoryTransport}};
/// assert_eq!(epoch(), epoch()); // fixed for the whole process
/// assert_eq!(MemoryTransport::new().now(), epoch());
/// ```
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
