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
use crate::routing::RoutableIds;

/// The length of a connection id on the wire (`docs/reliable-wire.md` §2).
pub(crate) const CONN_ID_LEN: usize = 8;

/// Who draws: selects the ChaCha20 stream of a seeded generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// [`Reliable`](super::Reliable) over a datagram transport.
    Client = 1,
    /// [`ReliableListener`](super::ReliableListener).
    Listener = 2,
}

/// The generator of one endpoint (a client connection, or a listener).
pub(crate) struct IdRng {
    source: Source,
    /// A listener's server id layout ([`ReliableConfig::server_id`]): its
    /// ids are then routable, with the random bytes after the server id.
    ///
    /// [`ReliableConfig::server_id`]: super::ReliableConfig::server_id
    layout: Option<RoutableIds>,
}

/// Where the random bytes come from.
enum Source {
    /// The operating system's generator (no seed configured).
    Os(ring::rand::SystemRandom),
    /// A ChaCha20 stream keyed by the configured seed.
    Seeded(Box<ChaCha20Rng>),
}

impl IdRng {
    /// The OS generator without a seed; with one, a ChaCha20 stream keyed by
    /// it, on `role`'s stream.
    pub(crate) fn new(seed: Option<[u8; 32]>, role: Role) -> IdRng {
        let source = match seed {
            None => Source::Os(ring::rand::SystemRandom::new()),
            Some(seed) => {
                let mut rng = ChaCha20Rng::from_seed(seed);
                rng.set_stream(role as u64);
                Source::Seeded(Box::new(rng))
            }
        };
        IdRng {
            source,
            layout: None,
        }
    }

    /// Ids in `layout` (a server id, then random bytes), when given; all
    /// random otherwise. The layout's ids must be [`CONN_ID_LEN`] long.
    pub(crate) fn routable(mut self, layout: Option<RoutableIds>) -> IdRng {
        self.layout = layout.filter(|l| l.len() == CONN_ID_LEN);
        self
    }

    /// Fills `out`; `None` when the OS has no random numbers to give.
    pub(crate) fn fill(&mut self, out: &mut [u8]) -> Option<()> {
        match &mut self.source {
            Source::Os(os) => os.fill(out).ok(),
            Source::Seeded(rng) => {
                rng.fill_bytes(out);
                Some(())
            }
        }
    }

    /// A fresh connection id: random, or routable with random bytes after
    /// the server id.
    pub(crate) fn conn_id(&mut self) -> Option<ConnId> {
        let mut b = [0u8; CONN_ID_LEN];
        self.fill(&mut b)?;
        if let Some(layout) = &self.layout {
            let nonce = b;
            layout.write(&nonce, &mut b);
        }
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
        assert!(matches!(r.source, Source::Os(_)));
        assert_ne!(r.conn_id(), r.conn_id());
    }

    #[test]
    fn a_layout_puts_the_server_id_after_the_first_octet() {
        use crate::routing::{RoutableIds, ServerId};
        let layout = RoutableIds::with_len(0, ServerId::new(&[0xab, 0xcd]).unwrap(), 8).unwrap();
        let mut r = IdRng::new(Some([3; 32]), Role::Listener).routable(Some(layout.clone()));
        let (a, b) = (r.conn_id().unwrap(), r.conn_id().unwrap());
        assert_ne!(a, b);
        for id in [a, b] {
            let bytes = id.0.to_be_bytes();
            assert_eq!(bytes[..3], [0x07, 0xab, 0xcd]);
            assert!(layout.is_ours(&bytes));
        }
        // A layout of another length is not used (ids stay 8 bytes).
        let long = RoutableIds::new(0, ServerId::new(&[1]).unwrap(), 10).unwrap();
        assert!(IdRng::new(None, Role::Listener)
            .routable(Some(long))
            .layout
            .is_none());
    }
}
