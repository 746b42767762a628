//! **Simulation only, not secure**: TLS whose every random choice comes
//! from a seed, so that a simulated run (`strata-sim`) repeats byte for
//! byte. Anyone who knows the seed knows every key of every session.
//!
//! Reached only through [`StackPlan::seeded`](crate::StackPlan::seeded);
//! the real driver's plans never use it (they draw from the operating
//! system).
//!
//! - [`provider`]: ring's rustls provider with its generator (client and
//!   server randoms, session ids, the extension order, ticket ids) replaced
//!   by a ChaCha20 stream keyed by the seed, and its key exchange by X25519
//!   alone, the private key drawn from that stream (ring's generator cannot
//!   be seeded, so X25519 comes from `x25519-dalek`). Signatures need no
//!   randomness: the seeded identity is Ed25519.
//! - [`identity`]: a self-signed Ed25519 certificate from the seed, with
//!   a fixed serial and validity.
//!
//! rustls keeps its generator and key-exchange groups as `&'static`
//! references, so each seeded provider leaks its generator: about 400 bytes
//! per plan, for the life of the process. A simulation makes a few plans
//! per run; the real driver makes none.

use std::fmt;
use std::sync::{Arc, Mutex};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{NamedGroup, PeerMisbehaved};
use strata::tls::{Identity, SELF_SIGNED_NAMES};

use super::TlsSetupError;

/// A 32-byte key for the ChaCha20 stream of `what`, derived from `seed`:
/// each use of one seed (the provider, the identity) draws apart.
pub(crate) fn key(seed: u64, what: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&seed.to_le_bytes());
    let label = what.as_bytes();
    let n = label.len().min(24);
    k[8..8 + n].copy_from_slice(&label[..n]);
    let mut rng = ChaCha20Rng::from_seed(k);
    rng.fill_bytes(&mut k);
    k
}

/// The generator and the X25519 group of one seeded provider.
struct Seeded {
    rng: Mutex<ChaCha20Rng>,
}

impl Seeded {
    fn draw(&self, buf: &mut [u8]) {
        // A poisoned lock still holds a usable generator.
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.fill_bytes(buf);
    }
}

impl fmt::Debug for Seeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seeded (simulation only)")
    }
}

impl SecureRandom for Seeded {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.draw(buf);
        Ok(())
    }
}

impl SupportedKxGroup for Seeded {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let mut secret = [0u8; 32];
        self.draw(&mut secret);
        let secret = x25519_dalek::StaticSecret::from(secret);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Ok(Box::new(Share { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// One X25519 key share.
struct Share {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl ActiveKeyExchange for Share {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let peer: [u8; 32] = peer
            .try_into()
            .map_err(|_| rustls::Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // An all-zero secret (a small-order point): refused, as ring does.
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// **Simulation only, not secure**: ring's provider with a generator and
/// X25519 key shares drawn from `seed` (see the module's docs).
pub(crate) fn provider(seed: u64) -> Arc<CryptoProvider> {
    let seeded: &'static Seeded = Box::leak(Box::new(Seeded {
        rng: Mutex::new(ChaCha20Rng::from_seed(key(seed, "tls provider"))),
    }));
    Arc::new(CryptoProvider {
        secure_random: seeded,
        kx_groups: vec![seeded],
        ..rustls::crypto::ring::default_provider()
    })
}

/// The PKCS#8 (v1) prefix of an Ed25519 private key (RFC 8410): the
/// 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// **Simulation only, not secure**: a self-signed Ed25519 certificate for
/// [`SELF_SIGNED_NAMES`], its key drawn from `seed`, with a serial from the
/// seed and a fixed validity (1975 to 4096): the same seed gives the same
/// certificate, byte for byte.
pub(crate) fn identity(seed: u64) -> Result<Identity, TlsSetupError> {
    let bad = |e: &dyn fmt::Display| TlsSetupError::SelfSigned(e.to_string());
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&key(seed, "tls identity"));
    let pkcs8 = PrivatePkcs8KeyDer::from(der.clone());
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
        .map_err(|e| bad(&e))?;
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| bad(&e))?;
    params.serial_number = Some(rcgen::SerialNumber::from(seed));
    params.not_before = rcgen::date_time_ymd(1975, 1, 1);
    params.not_after = rcgen::date_time_ymd(4096, 1, 1);
    let cert = params.self_signed(&key).map_err(|e| bad(&e))?;
    Identity::from_der(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(der.into()))
        .map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_its_draws_and_another_does_not() {
        let draw = |seed| {
            let p = provider(seed);
            let mut b = [0u8; 16];
            p.secure_random.fill(&mut b).unwrap();
            let share = p.kx_groups[0].start().unwrap();
            (b, share.pub_key().to_vec())
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn seeded_key_shares_agree() {
        let p = provider(5);
        let (a, b) = (
            p.kx_groups[0].start().unwrap(),
            p.kx_groups[0].start().unwrap(),
        );
        let (pa, pb) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        let sa = a.complete(&pb).unwrap();
        let sb = b.complete(&pa).unwrap();
        assert_eq!(sa.secret_bytes(), sb.secret_bytes());
        // A small-order point, or a share of the wrong size, is refused.
        let c = p.kx_groups[0].start().unwrap();
        assert!(c.complete(&[0u8; 32]).is_err());
        let d = p.kx_groups[0].start().unwrap();
        assert!(d.complete(&[1u8; 31]).is_err());
    }

    #[test]
    fn what_a_seeded_provider_leaks_stays_small() {
        // The module's docs promise about 400 bytes per plan.
        assert!(
            std::mem::size_of::<Seeded>() <= 400,
            "{}",
            std::mem::size_of::<Seeded>()
        );
    }

    #[test]
    fn the_identity_is_the_seed_s() {
        let a = identity(9).unwrap();
        assert_eq!(a.certificate_der(), identity(9).unwrap().certificate_der());
        assert_ne!(a.fingerprint(), identity(10).unwrap().fingerprint());
    }
}
