//! The test kit: deterministic, in-memory harnesses for every layer.
//!
//! * [`MemoryTransport`] / [`MemoryDatagramTransport`]: record what one
//!   protocol did (Twisted's `StringTransport`).
//! * [`Pump`]: joins two stream stacks in memory with a virtual clock that
//!   jumps to the next deadline (Twisted's iosim, quinn-proto's `Pair`).
//! * [`SimNet`]: a simulated datagram network with seeded loss, duplication,
//!   reordering, delay, jitter, bandwidth, queue limits and MTU.
//!
//! Nothing here reads the system clock except [`epoch`], taken once per
//! process so that virtual instants are real `Instant`s.

use std::sync::OnceLock;
use std::time::Instant;

mod memory;

pub use memory::{MemoryDatagramTransport, MemoryTransport};

/// The instant virtual time starts from (fixed for the whole process).
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
