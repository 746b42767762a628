//! Seeded plans: every layer an endpoint builds on a simulated host draws
//! its random choices from the world's seed (see
//! [`StackPlan::seeded`](strata_tokio::StackPlan::seeded)), so that the same
//! seed gives the same trace, byte for byte, TLS and QUIC included.

use strata_tokio::StackPlan;

use crate::error::SimError;
use crate::world::Sim;

impl Sim {
    /// The seed of the next plan: the world's seed and the plan's number
    /// (listens and connects are numbered in the order the program makes
    /// them, which a run repeats), mixed by splitmix64.
    fn next_plan_seed(&mut self) -> u64 {
        self.plans += 1;
        let mut z = self
            .seed
            .wrapping_add(self.plans.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `plan`, seeded with the next plan seed.
    pub(crate) fn seed_plan(&mut self, plan: StackPlan) -> Result<StackPlan, SimError> {
        let seed = self.next_plan_seed();
        Ok(plan.seeded(seed)?)
    }
}
