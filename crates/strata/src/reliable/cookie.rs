//! Stateless address validation: the tokens a server puts in Retry packets
//! and checks in the Initial that comes back (see `docs/reliable-wire.md`,
//! "Handshake").
//!
//! A cookie proves that the client receives packets at the address it
//! claims: only a host that saw the Retry knows it. The server keeps no
//! state between the two; the cookie carries its issue time and an
//! HMAC-SHA256 tag, keyed by a server secret, over that time, the client's
//! address and the client's connection id. Time is passed in, as whole
//! seconds of any monotonic clock the server keeps (sans-IO).
//!
//! Layout ([`COOKIE_LEN`] bytes): format byte [`COOKIE_FORMAT`], issue time
//! (u64, big-endian seconds), tag (32 bytes).
//!
//! ```
//! use std::net::SocketAddr;
//! use strata::reliable::cookie::{CookieError, CookieKey};
//!
//! let key = CookieKey::new([7; 32]);
//! let peer: SocketAddr = "192.0.2.1:4433".parse().unwrap();
//! let cookie = key.mint(100, &peer, 0xfeed);
//! assert_eq!(key.check(&cookie, 105, &peer, 0xfeed), Ok(()));
//! assert_eq!(key.check(&cookie, 111, &peer, 0xfeed), Err(CookieError::Expired));
//! let other: SocketAddr = "192.0.2.2:4433".parse().unwrap();
//! assert_eq!(key.check(&cookie, 105, &other, 0xfeed), Err(CookieError::Invalid));
//! ```

use std::fmt;
use std::net::SocketAddr;

use ring::hmac;

/// The length of a cookie in bytes.
pub const COOKIE_LEN: usize = 1 + 8 + 32;

/// The first byte of every cookie of this format.
pub const COOKIE_FORMAT: u8 = 1;

/// How long a cookie stays valid after it was minted, in seconds (default
/// for [`CookieKey::new`]).
pub const DEFAULT_LIFETIME_SECS: u64 = 10;

// A cookie must fit the token field of Initial and Retry packets.
const _: () = assert!(COOKIE_LEN <= crate::reliable::wire::MAX_TOKEN_LEN);

/// Domain separation: MAC inputs start with this label.
const LABEL: &[u8] = b"strata reliable cookie v1";

/// Why a cookie was refused. Whoever sent it is at fault (or it is stale);
/// the server answers with a new Retry, or closes with `INVALID_TOKEN`.
///
/// ```
/// use strata::reliable::cookie::{CookieError, CookieKey};
/// let key = CookieKey::new([0; 32]);
/// let peer = "[2001:db8::1]:9".parse().unwrap();
/// assert_eq!(key.check(&[1, 2, 3], 0, &peer, 1), Err(CookieError::Malformed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// Not [`COOKIE_LEN`] bytes, or an unknown format byte.
    #[error("malformed cookie")]
    Malformed,
    /// Older than the lifetime.
    #[error("cookie expired")]
    Expired,
    /// Issued in the future (by this server's clock): forged or from
    /// another server with a different clock.
    #[error("cookie issued in the future")]
    FromFuture,
    /// The tag does not match: another key, address or connection id, or
    /// tampered bytes.
    #[error("cookie invalid")]
    Invalid,
}

/// The server's cookie secret. Rotate it by keeping the previous key for
/// one lifetime and checking against both.
///
/// ```
/// use strata::reliable::cookie::CookieKey;
/// let key = CookieKey::new([1; 32]).with_lifetime(30);
/// assert_eq!(key.lifetime_secs(), 30);
/// assert_eq!(format!("{key:?}"), "CookieKey { lifetime_secs: 30, .. }");
/// ```
pub struct CookieKey {
    key: hmac::Key,
    lifetime_secs: u64,
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieKey")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

impl CookieKey {
    /// A key from 32 secret random bytes, with the default lifetime
    /// ([`DEFAULT_LIFETIME_SECS`]).
    ///
    /// ```
    /// use strata::reliable::cookie::{CookieError, CookieKey, DEFAULT_LIFETIME_SECS};
    /// let peer = "10.0.0.1:1".parse().unwrap();
    /// let (key, other) = (CookieKey::new([1; 32]), CookieKey::new([2; 32]));
    /// assert_eq!(key.lifetime_secs(), DEFAULT_LIFETIME_SECS);
    /// let cookie = key.mint(0, &peer, 7);
    /// assert_eq!(key.check(&cookie, 1, &peer, 7), Ok(()));
    /// assert_eq!(other.check(&cookie, 1, &peer, 7), Err(CookieError::Invalid)); // another secret
    /// ```
    pub fn new(secret: [u8; 32]) -> Self {
        CookieKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            lifetime_secs: DEFAULT_LIFETIME_SECS,
        }
    }

    /// The same key with cookies valid for `secs` seconds.
    ///
    /// ```
    /// use strata::reliable::cookie::{CookieError, CookieKey};
    /// let peer = "10.0.0.1:1".parse().unwrap();
    /// let key = CookieKey::new([1; 32]).with_lifetime(10);
    /// let cookie = key.mint(100, &peer, 7);
    /// assert_eq!(key.check(&cookie, 110, &peer, 7), Ok(())); // inclusive
    /// assert_eq!(key.check(&cookie, 111, &peer, 7), Err(CookieError::Expired));
    /// ```
    pub fn with_lifetime(mut self, secs: u64) -> Self {
        self.lifetime_secs = secs;
        self
    }

    /// How long a cookie stays valid, in seconds.
    ///
    /// ```
    /// use strata::reliable::cookie::CookieKey;
    /// assert_eq!(CookieKey::new([1; 32]).with_lifetime(5).lifetime_secs(), 5);
    /// ```
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    /// A cookie for the client at `peer` whose connection id (the `src` of
    /// its Initial) is `client_cid`, issued at `now_secs`.
    ///
    /// ```
    /// use strata::reliable::cookie::{CookieKey, COOKIE_LEN};
    /// let key = CookieKey::new([2; 32]);
    /// let cookie = key.mint(0, &"10.0.0.1:1".parse().unwrap(), 5);
    /// assert_eq!(cookie.len(), COOKIE_LEN);
    /// ```
    pub fn mint(&self, now_secs: u64, peer: &SocketAddr, client_cid: u64) -> [u8; COOKIE_LEN] {
        let mut cookie = [0u8; COOKIE_LEN];
        cookie[0] = COOKIE_FORMAT;
        cookie[1..9].copy_from_slice(&now_secs.to_be_bytes());
        let tag = hmac::sign(&self.key, &mac_input(now_secs, peer, client_cid));
        cookie[9..].copy_from_slice(tag.as_ref());
        cookie
    }

    /// Checks `cookie` for the client at `peer` with connection id
    /// `client_cid`, at `now_secs`: valid from its issue time for the
    /// lifetime (inclusive). The tag is compared in constant time.
    ///
    /// ```
    /// use strata::reliable::cookie::{CookieError, CookieKey};
    /// let key = CookieKey::new([3; 32]);
    /// let peer = "10.0.0.1:1".parse().unwrap();
    /// let mut cookie = key.mint(50, &peer, 9);
    /// assert_eq!(key.check(&cookie, 60, &peer, 9), Ok(()));
    /// assert_eq!(key.check(&cookie, 60, &peer, 8), Err(CookieError::Invalid));
    /// cookie[20] ^= 1;
    /// assert_eq!(key.check(&cookie, 60, &peer, 9), Err(CookieError::Invalid));
    /// ```
    pub fn check(
        &self,
        cookie: &[u8],
        now_secs: u64,
        peer: &SocketAddr,
        client_cid: u64,
    ) -> Result<(), CookieError> {
        let (&format, rest) = cookie.split_first().ok_or(CookieError::Malformed)?;
        if cookie.len() != COOKIE_LEN || format != COOKIE_FORMAT {
            return Err(CookieError::Malformed);
        }
        let (issued, tag) = rest.split_at(8);
        let mut secs = [0u8; 8];
        secs.copy_from_slice(issued);
        let issued = u64::from_be_bytes(secs);
        // The tag first, so a forged time learns nothing from the error.
        hmac::verify(&self.key, &mac_input(issued, peer, client_cid), tag)
            .map_err(|_| CookieError::Invalid)?;
        if issued > now_secs {
            return Err(CookieError::FromFuture);
        }
        if now_secs - issued > self.lifetime_secs {
            return Err(CookieError::Expired);
        }
        Ok(())
    }
}

/// The MAC input: label, issue time, connection id, address family, IP
/// address and port.
fn mac_input(issued: u64, peer: &SocketAddr, client_cid: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL.len() + 8 + 8 + 1 + 16 + 2);
    m.extend_from_slice(LABEL);
    m.extend_from_slice(&issued.to_be_bytes());
    m.extend_from_slice(&client_cid.to_be_bytes());
    match peer {
        SocketAddr::V4(a) => {
            m.push(4);
            m.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            m.push(6);
            m.extend_from_slice(&a.ip().octets());
        }
    }
    m.extend_from_slice(&peer.port().to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "198.51.100.7:5000".parse().unwrap()
    }

    #[test]
    fn valid_through_the_whole_lifetime() {
        let key = CookieKey::new([9; 32]);
        let cookie = key.mint(1000, &peer(), 42);
        for now in 1000..=1000 + DEFAULT_LIFETIME_SECS {
            assert_eq!(key.check(&cookie, now, &peer(), 42), Ok(()), "at {now}");
        }
        assert_eq!(
            key.check(&cookie, 1011, &peer(), 42),
            Err(CookieError::Expired)
        );
        assert_eq!(
            key.check(&cookie, u64::MAX, &peer(), 42),
            Err(CookieError::Expired)
        );
        assert_eq!(
            key.check(&cookie, 999, &peer(), 42),
            Err(CookieError::FromFuture)
        );
    }

    #[test]
    fn custom_lifetime() {
        let key = CookieKey::new([9; 32]).with_lifetime(0);
        let cookie = key.mint(5, &peer(), 1);
        assert_eq!(key.check(&cookie, 5, &peer(), 1), Ok(()));
        assert_eq!(key.check(&cookie, 6, &peer(), 1), Err(CookieError::Expired));
    }

    #[test]
    fn bound_to_peer_address_port_and_family() {
        let key = CookieKey::new([9; 32]);
        let cookie = key.mint(0, &peer(), 42);
        for other in [
            "198.51.100.8:5000",
            "198.51.100.7:5001",
            "[::ffff:198.51.100.7]:5000",
        ] {
            let other: SocketAddr = other.parse().unwrap();
            assert_eq!(
                key.check(&cookie, 1, &other, 42),
                Err(CookieError::Invalid),
                "{other}"
            );
        }
        let v6: SocketAddr = "[2001:db8::7]:5000".parse().unwrap();
        let cookie6 = key.mint(0, &v6, 42);
        assert_eq!(key.check(&cookie6, 0, &v6, 42), Ok(()));
        assert_eq!(
            key.check(&cookie6, 0, &peer(), 42),
            Err(CookieError::Invalid)
        );
    }

    #[test]
    fn bound_to_connection_id() {
        let key = CookieKey::new([9; 32]);
        let cookie = key.mint(0, &peer(), 42);
        assert_eq!(
            key.check(&cookie, 0, &peer(), 43),
            Err(CookieError::Invalid)
        );
        assert_eq!(
            key.check(&cookie, 0, &peer(), 42 | 1 << 63),
            Err(CookieError::Invalid)
        );
    }

    #[test]
    fn wrong_key() {
        let cookie = CookieKey::new([9; 32]).mint(0, &peer(), 42);
        let mut other = [9; 32];
        other[31] = 8;
        assert_eq!(
            CookieKey::new(other).check(&cookie, 0, &peer(), 42),
            Err(CookieError::Invalid)
        );
    }

    #[test]
    fn every_tampered_bit_is_caught() {
        let key = CookieKey::new([9; 32]);
        let cookie = key.mint(100, &peer(), 42);
        for i in 0..COOKIE_LEN {
            for bit in 0..8 {
                let mut bad = cookie;
                bad[i] ^= 1 << bit;
                let got = key.check(&bad, 100, &peer(), 42);
                let want = if i == 0 {
                    CookieError::Malformed
                } else {
                    CookieError::Invalid
                };
                assert_eq!(got, Err(want), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn malformed_lengths() {
        let key = CookieKey::new([9; 32]);
        let cookie = key.mint(100, &peer(), 42);
        for len in 0..COOKIE_LEN {
            assert_eq!(
                key.check(&cookie[..len], 100, &peer(), 42),
                Err(CookieError::Malformed)
            );
        }
        let mut long = cookie.to_vec();
        long.push(0);
        assert_eq!(
            key.check(&long, 100, &peer(), 42),
            Err(CookieError::Malformed)
        );
    }
}
