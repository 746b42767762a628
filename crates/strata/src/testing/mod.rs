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
//!
//! Nothing here reads the system clock except [`epoch`], taken once per
//! process so that virtual instants are real `Instant`s.

use std::sync::OnceLock;
use std::time::Instant;

mod memory;
mod netem;
mod pump;
mod pump_config;
mod pump_wire;
mod simnet;
mod simtrace;
mod tamper;

pub use memory::{MemoryDatagramTransport, MemoryTransport};
pub use netem::{Arrival, Arrivals, DropReason, LinkConfig, LinkStats, Loss, Netem};
pub use pump::Pump;
pub use pump_config::{
    Dir, PumpConfig, PumpEvent, PumpEventKind, RunOutcome, MAX_ROUNDS_PER_INSTANT,
};
pub use simnet::SimNet;
pub use simtrace::{payload_hash, NodeId, SimEvent, SimEventKind};
pub use tamper::{InFlight, Tamper, Verdict};

/// The instant virtual time starts from (fixed for the whole process).
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
