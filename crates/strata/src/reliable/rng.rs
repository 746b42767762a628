//! The mapping's one source of randomness: connection ids and the Retry
//! cookie key.
//!
//! By default it is the operating system's secure generator: ids must be
//! unguessable, since they are what stops blind injection. With
//! [`ReliableConfig::rng_seed`](super::ReliableConfig::rng_seed) it is a
//! ChaCha20 stream keyed by the seed (as quinn-proto's `rng_seed`), so that
//! a simulated run repeats byte for byte. A client and a listener given
//! the same seed draw from different ChaCha20 streams ([`Role`]).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use ring::rand::SecureRandom;

use super::wire::ConnId;

/// Who draws: selects the ChaCha20 stream of a seeded generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// [`Reliable`](super::Reliable) over a datagram transport.
    Client = 1,
    /// [`ReliableListener`](super::ReliableListener).
    Listener = 2,
}

/// The generator of one endpoint (a client connection, or a listener).
pub(crate) enum IdRng {
    /// The operating system's generator (no seed configured).
    Os(ring::rand::SystemRandom),
    /// A ChaCha20 stream keyed by the configured seed.
    Seeded(Box<ChaCha20Rng>),
}

impl IdRng {
    /// The OS generator without a seed; with one, a ChaCha20 stream keyed by
    /// it, on `role`'s stream.
    pub(crate) fn new(seed: Option<[u8; 32]>, role: Role) -> IdRng {
        match seed {
            None => IdRng::Os(ring::rand::SystemRandom::new()),
            Some(seed) => {
                let mut rng = ChaCha20Rng::from_seed(seed);
                rng.set_stream(role as u64);
                IdRng::Seeded(Box::new(rng))
            }
        }
    }

    /// Fills `out`; `None` when the OS has no random numbers to give.
    pub(crate) fn fill(&mut self, out: &mut [u8]) -> Option<()> {
        match self {
            IdRng::Os(os) => os.fill(out).ok(),
            IdRng::Seeded(rng) => {
                rng.fill_bytes(out);
                Some(())
            }
        }
    }

    /// A fresh connection id.
    pub(crate) fn conn_id(&mut self) -> Option<ConnId> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Some(ConnId(u64::from_be_bytes(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_and_roles_draw_apart() {
        let ids = |seed, role| {
            let mut r = IdRng::new(Some(seed), role);
            [r.conn_id(), r.conn_id()]
        };
        assert_eq!(ids([1; 32], Role::Client), ids([1; 32], Role::Client));
        assert_ne!(ids([1; 32], Role::Client), ids([2; 32], Role::Client));
        assert_ne!(ids([1; 32], Role::Client), ids([1; 32], Role::Listener));
    }

    #[test]
    fn without_a_seed_the_os_draws() {
        let mut r = IdRng::new(None, Role::Client);
        assert!(matches!(r, IdRng::Os(_)));
        assert_ne!(r.conn_id(), r.conn_id());
    }
}
