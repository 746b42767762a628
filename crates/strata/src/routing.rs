//! Routable connection ids: a server id carried in the connection ids a
//! server issues, so that a stateless layer-4 balancer sends every packet of
//! a connection to the same server, even after the client's address or port
//! changed (migration, NAT rebinding).
//!
//! The layout is the plaintext (unencrypted) algorithm of the QUIC-LB draft
//! (draft-ietf-quic-load-balancers-19, §2 and §5):
//!
//! ```text
//! +--------+--------+--------------------+----------------------+
//! | CR (3) | L (5)  | server id (1..=15) | nonce (4..=18)       |
//! +--------+--------+--------------------+----------------------+
//!  first octet        bytes 1..=sid        random, unique
//! ```
//!
//! * **CR**, the three high bits: the *config rotation*, 0 to 6, which lets a
//!   deployment change its server id length or assignment while old ids are
//!   still in use. 7 ([`UNROUTABLE_CONFIG`]) marks an id that carries no
//!   routing information: a balancer routes it by its fallback.
//! * **L**, the five low bits: the length of the id after the first octet
//!   (the draft's length self-description, so the id's length is readable
//!   without knowing the configuration).
//! * the **server id**, in clear, then the **nonce**: random bytes, which keep
//!   the id unguessable (at least [`MIN_NONCE_LEN`] of them).
//!
//! A balancer knows the config rotation and the server id length of each of
//! its configurations ([`LbConfig`]); it reads the server id of a packet's
//! destination id and forwards the packet to that server. Ids it cannot read
//! (another config rotation, a client-chosen id in a first Initial, a server
//! id it does not know) go to a *fallback*: a hash of the packet's 4-tuple
//! ([`four_tuple_hash`]), which keeps a connection on one server as long as
//! the client's address does not change.
//!
//! This module is core: it names no layer. The layers that issue ids (QUIC,
//! the reliable mapping) take a [`ServerId`] in their configuration and draw
//! their ids through [`RoutableIds`].
//!
//! ```
//! use strata::routing::{LbConfig, Route, RoutableIds, ServerId};
//! let ids = RoutableIds::new(0, ServerId::parse_hex("a1b2")?, 5)?;
//! let mut cid = [0u8; 8];
//! ids.write(&[9, 9, 9, 9, 9], &mut cid);
//! assert_eq!(cid, [0x07, 0xa1, 0xb2, 9, 9, 9, 9, 9]);
//! assert_eq!(RoutableIds::server_of(&cid, 2), Some(&[0xa1, 0xb2][..]));
//! // A balancer with this configuration (rotation 0, 2-byte server ids):
//! let lb = LbConfig::new(0, 2)?;
//! assert_eq!(lb.route(&cid), Route::Server(&[0xa1, 0xb2][..]));
//! # Ok::<(), strata::routing::RoutingError>(())
//! ```

use std::fmt;
use std::hash::Hasher;
use std::net::SocketAddr;

use crate::{Fault, LayerError};

/// The longest server id (the draft's plaintext algorithm: 1 to 15 octets).
pub const MAX_SERVER_ID_LEN: usize = 15;

/// The shortest nonce: four random octets after the server id (the draft's
/// lower bound; what keeps ids unguessable).
pub const MIN_NONCE_LEN: usize = 4;

/// The longest connection id (QUIC's limit, RFC 9000 §17.2): the first
/// octet, the server id and the nonce fit in it.
pub const MAX_CID_LEN: usize = 20;

/// The config rotation that marks an id with no routing information
/// (0b111): a balancer routes it by its fallback.
pub const UNROUTABLE_CONFIG: u8 = 0b111;

/// The config rotation a server uses unless configured otherwise.
pub const DEFAULT_CONFIG_ID: u8 = 0;

/// A server id carried in connection ids (QUIC-LB draft, plaintext
/// algorithm): 1 to [`MAX_SERVER_ID_LEN`] bytes, unique per server within
/// one balancer configuration.
///
/// ```
/// use strata::routing::ServerId;
/// let id = ServerId::parse_hex("0A0b")?;
/// assert_eq!(id.as_bytes(), &[0x0a, 0x0b]);
/// assert_eq!(id.to_string(), "0a0b");
/// assert!(ServerId::new(&[]).is_err());
/// assert_eq!(format!("{id:?}"), "ServerId(0a0b)");
/// # Ok::<(), strata::routing::RoutingError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerId {
    len: u8,
    /// The id in `bytes[..len]`; the rest is zero (so derived equality and
    /// hashing see only the id).
    bytes: [u8; MAX_SERVER_ID_LEN],
}

impl ServerId {
    /// A server id of these bytes (1 to [`MAX_SERVER_ID_LEN`] of them).
    ///
    /// ```
    /// use strata::routing::{RoutingError, ServerId};
    /// assert_eq!(ServerId::new(&[1; 16]), Err(RoutingError::ServerIdLength(16)));
    /// ```
    pub fn new(bytes: &[u8]) -> Result<Self, RoutingError> {
        if bytes.is_empty() || bytes.len() > MAX_SERVER_ID_LEN {
            return Err(RoutingError::ServerIdLength(bytes.len()));
        }
        let mut id = ServerId {
            len: bytes.len() as u8,
            bytes: [0; MAX_SERVER_ID_LEN],
        };
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(id)
    }

    /// A server id written in hexadecimal, two digits a byte (either case;
    /// as in the endpoint options `reliable.server_id` and `quic.server_id`).
    ///
    /// ```
    /// use strata::routing::{RoutingError, ServerId};
    /// assert_eq!(ServerId::parse_hex("01")?.as_bytes(), &[1]);
    /// assert!(matches!(ServerId::parse_hex("1"), Err(RoutingError::Hex(_))));
    /// assert!(matches!(ServerId::parse_hex("zz"), Err(RoutingError::Hex(_))));
    /// # Ok::<(), RoutingError>(())
    /// ```
    pub fn parse_hex(s: &str) -> Result<Self, RoutingError> {
        let digits = s.as_bytes();
        if !digits.len().is_multiple_of(2) {
            return Err(RoutingError::Hex("an odd number of hex digits"));
        }
        if digits.len() / 2 > MAX_SERVER_ID_LEN {
            return Err(RoutingError::ServerIdLength(digits.len() / 2));
        }
        let mut bytes = [0u8; MAX_SERVER_ID_LEN];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let (Some(hi), Some(lo)) = (hex(pair[0]), hex(pair[1])) else {
                return Err(RoutingError::Hex("a character that is not a hex digit"));
            };
            bytes[i] = hi << 4 | lo;
        }
        ServerId::new(&bytes[..digits.len() / 2])
    }

    /// The id's bytes.
    ///
    /// ```
    /// use strata::routing::ServerId;
    /// assert_eq!(ServerId::parse_hex("c0ffee")?.as_bytes(), &[0xc0, 0xff, 0xee]);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// How many bytes (1 to [`MAX_SERVER_ID_LEN`]).
    ///
    /// ```
    /// assert_eq!(strata::routing::ServerId::new(&[7, 8])?.len(), 2);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    #[allow(clippy::len_without_is_empty)] // never empty, by construction
    pub fn len(&self) -> usize {
        self.len as usize
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerId({self})")
    }
}

impl std::str::FromStr for ServerId {
    type Err = RoutingError;

    /// [`ServerId::parse_hex`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServerId::parse_hex(s)
    }
}

fn hex(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

/// Encodes (and decodes) routable ids of one server: first octet = config
/// rotation (3 bits) + the length after it (5 bits), then the server id,
/// then `nonce_len` random bytes.
///
/// ```
/// use strata::routing::{RoutableIds, ServerId};
/// let ids = RoutableIds::new(2, ServerId::new(&[0x42])?, 6)?;
/// assert_eq!(ids.len(), 8);
/// let mut cid = [0u8; 8];
/// ids.write(&[1, 2, 3, 4, 5, 6], &mut cid);
/// assert_eq!(cid[0], 2 << 5 | 7);
/// assert!(ids.is_ours(&cid));
/// assert_eq!(RoutableIds::config_of(&cid), Some(2));
/// # Ok::<(), strata::routing::RoutingError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutableIds {
    config_id: u8,
    server_id: ServerId,
    nonce_len: u8,
}

impl RoutableIds {
    /// Ids of config rotation `config_id` (0 to 6) carrying `server_id`,
    /// with `nonce_len` random bytes after it (at least [`MIN_NONCE_LEN`];
    /// server id and nonce together at most [`MAX_CID_LEN`] - 1).
    ///
    /// ```
    /// use strata::routing::{RoutableIds, RoutingError, ServerId};
    /// let sid = ServerId::new(&[1, 2, 3])?;
    /// assert_eq!(RoutableIds::new(7, sid.clone(), 4), Err(RoutingError::ConfigId(7)));
    /// assert_eq!(RoutableIds::new(0, sid.clone(), 3), Err(RoutingError::NonceLength(3)));
    /// assert_eq!(RoutableIds::new(0, sid, 17), Err(RoutingError::NonceLength(17)));
    /// # Ok::<(), RoutingError>(())
    /// ```
    pub fn new(config_id: u8, server_id: ServerId, nonce_len: usize) -> Result<Self, RoutingError> {
        if config_id >= UNROUTABLE_CONFIG {
            return Err(RoutingError::ConfigId(config_id));
        }
        if nonce_len < MIN_NONCE_LEN || 1 + server_id.len() + nonce_len > MAX_CID_LEN {
            return Err(RoutingError::NonceLength(nonce_len));
        }
        Ok(RoutableIds {
            config_id,
            server_id,
            nonce_len: nonce_len as u8,
        })
    }

    /// Ids of exactly `cid_len` bytes (a layer whose ids have a fixed
    /// length): the nonce fills what the first octet and the server id
    /// leave.
    ///
    /// ```
    /// use strata::routing::{RoutableIds, RoutingError, ServerId};
    /// let ids = RoutableIds::with_len(0, ServerId::new(&[1, 2, 3])?, 8)?;
    /// assert_eq!((ids.len(), ids.nonce_len()), (8, 4));
    /// // 8-byte ids leave room for a server id of at most 3 bytes.
    /// let long = ServerId::new(&[1, 2, 3, 4])?;
    /// assert_eq!(RoutableIds::with_len(0, long, 8), Err(RoutingError::NonceLength(3)));
    /// # Ok::<(), RoutingError>(())
    /// ```
    pub fn with_len(
        config_id: u8,
        server_id: ServerId,
        cid_len: usize,
    ) -> Result<Self, RoutingError> {
        let nonce_len = cid_len.saturating_sub(1 + server_id.len());
        RoutableIds::new(config_id, server_id, nonce_len)
    }

    /// The length of the ids, in bytes: 1 + server id + nonce.
    ///
    /// ```
    /// use strata::routing::{RoutableIds, ServerId};
    /// let ids = RoutableIds::new(0, ServerId::new(&[1, 2, 3])?, 8)?;
    /// assert_eq!(ids.len(), 1 + 3 + 8);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    #[allow(clippy::len_without_is_empty)] // never empty, by construction
    pub fn len(&self) -> usize {
        1 + self.server_id.len() + self.nonce_len as usize
    }

    /// The config rotation (0 to 6).
    ///
    /// ```
    /// use strata::routing::{RoutableIds, ServerId};
    /// let ids = RoutableIds::new(3, ServerId::new(&[1])?, 4)?;
    /// assert_eq!(ids.config_id(), 3);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn config_id(&self) -> u8 {
        self.config_id
    }

    /// The server id the ids carry.
    ///
    /// ```
    /// use strata::routing::{RoutableIds, ServerId};
    /// let ids = RoutableIds::new(0, ServerId::parse_hex("0102")?, 4)?;
    /// assert_eq!(ids.server_id().to_string(), "0102");
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn server_id(&self) -> &ServerId {
        &self.server_id
    }

    /// How many nonce bytes follow the server id.
    ///
    /// ```
    /// use strata::routing::{RoutableIds, ServerId};
    /// let ids = RoutableIds::new(0, ServerId::new(&[1, 2])?, 6)?;
    /// assert_eq!(ids.nonce_len(), 6);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn nonce_len(&self) -> usize {
        self.nonce_len as usize
    }

    /// The first octet of every id: the config rotation, then the length
    /// after the first octet.
    ///
    /// ```
    /// use strata::routing::{RoutableIds, ServerId};
    /// // Rotation 1, then 7 bytes after the first octet (2 of server id, 5 of nonce).
    /// let ids = RoutableIds::new(1, ServerId::new(&[1, 2])?, 5)?;
    /// assert_eq!(ids.first_octet(), 0b001_00111);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn first_octet(&self) -> u8 {
        self.config_id << 5 | (self.len() - 1) as u8
    }

    /// Writes one id into `out[..self.len()]`, with the nonce from
    /// `nonce[..self.nonce_len()]` (fresh random bytes for every id: they
    /// are what makes the id unguessable).
    ///
    /// # Panics
    ///
    /// When `out` is shorter than [`len`](Self::len) or `nonce` shorter than
    /// [`nonce_len`](Self::nonce_len): a caller's bug, never input.
    ///
    /// ```
    /// use strata::routing::{RoutableIds, ServerId};
    /// let ids = RoutableIds::new(0, ServerId::new(&[0xaa])?, 4)?;
    /// let mut cid = [0u8; 6];
    /// ids.write(&[1, 2, 3, 4], &mut cid);
    /// assert_eq!(cid, [0x05, 0xaa, 1, 2, 3, 4]);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn write(&self, nonce: &[u8], out: &mut [u8]) {
        let sid = self.server_id.len();
        let n = self.nonce_len as usize;
        out[0] = self.first_octet();
        out[1..1 + sid].copy_from_slice(self.server_id.as_bytes());
        out[1 + sid..1 + sid + n].copy_from_slice(&nonce[..n]);
    }

    /// Whether `cid` is an id of this configuration and server (the check a
    /// server makes before answering an unknown id, e.g. with a stateless
    /// reset: another server's ids are not its to answer).
    ///
    /// ```
    /// use strata::routing::{RoutableIds, ServerId};
    /// let mine = RoutableIds::new(0, ServerId::new(&[1])?, 4)?;
    /// let theirs = RoutableIds::new(0, ServerId::new(&[2])?, 4)?;
    /// let mut cid = [0u8; 6];
    /// theirs.write(&[9; 4], &mut cid);
    /// assert!(theirs.is_ours(&cid));
    /// assert!(!mine.is_ours(&cid)); // another server's id: not ours to reset
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn is_ours(&self, cid: &[u8]) -> bool {
        cid.len() == self.len()
            && RoutableIds::config_of(cid) == Some(self.config_id)
            && RoutableIds::server_of(cid, self.server_id.len()) == Some(self.server_id.as_bytes())
    }

    /// The server id of an id made by any server of this configuration (a
    /// balancer's view, knowing the configuration's server id length):
    /// the bytes after the first octet. `None` when the id is too short or
    /// is marked unroutable ([`UNROUTABLE_CONFIG`]).
    ///
    /// ```
    /// use strata::routing::RoutableIds;
    /// assert_eq!(RoutableIds::server_of(&[0x07, 5, 6, 0, 0, 0, 0, 0], 2), Some(&[5, 6][..]));
    /// assert_eq!(RoutableIds::server_of(&[0xe7, 5, 6, 0, 0, 0, 0, 0], 2), None);
    /// assert_eq!(RoutableIds::server_of(&[0x07, 5], 2), None);
    /// ```
    pub fn server_of(cid: &[u8], server_id_len: usize) -> Option<&[u8]> {
        RoutableIds::config_of(cid)?;
        if server_id_len == 0 {
            return None;
        }
        cid.get(1..1 + server_id_len)
    }

    /// The config rotation of `cid`, `None` when it is empty or marked
    /// unroutable.
    ///
    /// ```
    /// use strata::routing::RoutableIds;
    /// assert_eq!(RoutableIds::config_of(&[0b010_00101, 1, 2, 3, 4, 5]), Some(2));
    /// assert_eq!(RoutableIds::config_of(&[0b111_00101, 1, 2, 3, 4, 5]), None); // unroutable
    /// assert_eq!(RoutableIds::config_of(&[]), None);
    /// ```
    pub fn config_of(cid: &[u8]) -> Option<u8> {
        let rotation = cid.first()? >> 5;
        (rotation != UNROUTABLE_CONFIG).then_some(rotation)
    }
}

/// A balancer's configuration: which config rotation it reads, and how long
/// the server ids of that rotation are.
///
/// ```
/// use strata::routing::{LbConfig, Route};
/// let lb = LbConfig::new(1, 1)?;
/// assert_eq!(lb.route(&[1 << 5 | 7, 0x42, 0, 0, 0, 0, 0, 0]), Route::Server(&[0x42][..]));
/// // Another rotation (or 0b111, unroutable): the fallback.
/// assert_eq!(lb.route(&[7, 0x42, 0, 0, 0, 0, 0, 0]), Route::Fallback);
/// # Ok::<(), strata::routing::RoutingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbConfig {
    config_id: u8,
    server_id_len: u8,
}

/// Where a balancer sends a packet ([`LbConfig::route`]).
///
/// ```
/// use strata::routing::{LbConfig, Route};
/// let lb = LbConfig::new(0, 1)?;
/// match lb.route(&[0x05, 0x42, 1, 2, 3, 4]) {
///     Route::Server(id) => assert_eq!(id, [0x42]),
///     Route::Fallback => unreachable!("a routable id of rotation 0"),
/// }
/// assert_eq!(lb.route(&[0xe5, 0x42, 1, 2, 3, 4]), Route::Fallback);
/// # Ok::<(), strata::routing::RoutingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// To the server with this id.
    Server(&'a [u8]),
    /// By the fallback: a hash of the 4-tuple ([`four_tuple_hash`]).
    Fallback,
}

impl LbConfig {
    /// A configuration of rotation `config_id` (0 to 6) and server ids of
    /// `server_id_len` bytes (1 to [`MAX_SERVER_ID_LEN`]).
    ///
    /// ```
    /// use strata::routing::{LbConfig, RoutingError};
    /// assert!(LbConfig::new(6, 15).is_ok());
    /// assert_eq!(LbConfig::new(7, 2), Err(RoutingError::ConfigId(7)));
    /// assert_eq!(LbConfig::new(0, 16), Err(RoutingError::ServerIdLength(16)));
    /// ```
    pub fn new(config_id: u8, server_id_len: usize) -> Result<Self, RoutingError> {
        if config_id >= UNROUTABLE_CONFIG {
            return Err(RoutingError::ConfigId(config_id));
        }
        if !(1..=MAX_SERVER_ID_LEN).contains(&server_id_len) {
            return Err(RoutingError::ServerIdLength(server_id_len));
        }
        Ok(LbConfig {
            config_id,
            server_id_len: server_id_len as u8,
        })
    }

    /// The server id in a packet's destination id, or the fallback when the
    /// id is of another rotation, unroutable, or shorter than a server id
    /// and a nonce. `cid` is the id, or the packet's bytes from the id's
    /// start on (a QUIC short header, whose id length only the id's first
    /// octet tells): the length the first octet self-describes must fit in
    /// it. (A client's first Initial carries an id the client chose: route
    /// it by the fallback without looking.)
    ///
    /// ```
    /// use strata::routing::{LbConfig, Route};
    /// let lb = LbConfig::new(0, 2)?;
    /// // An 8-byte id at the start of a longer packet: 0x07 says 7 more bytes.
    /// let packet = [0x07, 0xa1, 0xb2, 1, 2, 3, 4, 5, 0xff, 0xff];
    /// assert_eq!(lb.route(&packet), Route::Server(&[0xa1, 0xb2][..]));
    /// // It says 9 more bytes, but the packet ends first: not an id of ours.
    /// assert_eq!(lb.route(&[0x09, 0xa1, 0xb2, 1, 2, 3, 4, 5]), Route::Fallback);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn route<'a>(&self, cid: &'a [u8]) -> Route<'a> {
        let Some(&first) = cid.first() else {
            return Route::Fallback;
        };
        let len = usize::from(first & 0x1f) + 1;
        if RoutableIds::config_of(cid) != Some(self.config_id)
            || len > cid.len()
            || len < 1 + self.server_id_len as usize + MIN_NONCE_LEN
        {
            return Route::Fallback;
        }
        match RoutableIds::server_of(cid, self.server_id_len as usize) {
            Some(sid) => Route::Server(sid),
            None => Route::Fallback,
        }
    }
}

/// The fallback of a balancer: a stable hash (64-bit FNV-1a) of the
/// packet's source and destination addresses and ports. The same 4-tuple
/// always gives the same value, in every process and version; a client
/// whose address changes gets another one.
///
/// ```
/// use strata::routing::four_tuple_hash;
/// let (a, b, vip) = ("10.0.0.1:5000".parse()?, "10.0.0.1:5001".parse()?, "10.0.0.9:443".parse()?);
/// assert_eq!(four_tuple_hash(a, vip), four_tuple_hash(a, vip));
/// assert_ne!(four_tuple_hash(a, vip), four_tuple_hash(b, vip));
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn four_tuple_hash(from: SocketAddr, to: SocketAddr) -> u64 {
    let mut h = Fnv1a::default();
    for a in [from, to] {
        match a {
            SocketAddr::V4(v4) => h.write(&v4.ip().octets()),
            SocketAddr::V6(v6) => h.write(&v6.ip().octets()),
        }
        h.write(&a.port().to_be_bytes());
    }
    h.finish()
}

/// 64-bit FNV-1a: small, stable across builds (std's hasher is not).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A routing setting out of range (always [`Fault::Config`]).
///
/// ```
/// use strata::routing::{RoutingError, ServerId};
/// use strata::{Fault, LayerError};
/// let e = ServerId::parse_hex("").unwrap_err();
/// assert_eq!(e, RoutingError::ServerIdLength(0));
/// assert_eq!(e.kind(), Fault::Config);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// A server id must be 1 to 15 bytes.
    #[error("routing: a server id of {0} bytes (1..=15)")]
    ServerIdLength(usize),
    /// A server id in hex did not parse.
    #[error("routing: the server id is not hex: {0}")]
    Hex(&'static str),
    /// The nonce must be at least 4 bytes, and the whole id at most 20.
    #[error("routing: a nonce of {0} bytes (at least 4, and the id at most 20 bytes)")]
    NonceLength(usize),
    /// The config rotation must be 0 to 6 (7 marks unroutable ids).
    #[error("routing: config rotation {0} (0..=6)")]
    ConfigId(u8),
}

impl LayerError for RoutingError {
    /// Always [`Fault::Config`].
    fn kind(&self) -> Fault {
        Fault::Config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_octet_holds_the_rotation_and_the_length_after_it() {
        for (sid, nonce) in [(1, 4), (3, 4), (15, 4), (1, 18), (4, 15)] {
            let ids = RoutableIds::new(6, ServerId::new(&vec![0xab; sid]).unwrap(), nonce).unwrap();
            let mut cid = [0u8; MAX_CID_LEN];
            ids.write(&[0x5a; 18], &mut cid);
            let cid = &cid[..ids.len()];
            assert_eq!(cid[0] >> 5, 6);
            assert_eq!(usize::from(cid[0] & 0x1f), cid.len() - 1);
            assert_eq!(RoutableIds::server_of(cid, sid), Some(&vec![0xab; sid][..]));
            assert!(cid[1 + sid..].iter().all(|&b| b == 0x5a));
            assert!(ids.is_ours(cid));
        }
    }

    #[test]
    fn another_server_or_rotation_is_not_ours() {
        let a = RoutableIds::with_len(0, ServerId::new(&[1]).unwrap(), 8).unwrap();
        let b = RoutableIds::with_len(0, ServerId::new(&[2]).unwrap(), 8).unwrap();
        let c = RoutableIds::with_len(1, ServerId::new(&[1]).unwrap(), 8).unwrap();
        let mut cid = [0u8; 8];
        b.write(&[0; 6], &mut cid);
        assert!(!a.is_ours(&cid));
        c.write(&[0; 6], &mut cid);
        assert!(!a.is_ours(&cid));
        assert!(!a.is_ours(&cid[..7]));
    }

    #[test]
    fn a_balancer_never_reads_past_the_id() {
        let lb = LbConfig::new(0, 3).unwrap();
        for len in 0..=MAX_CID_LEN {
            for first in [0x00, 0x06, 0x07, 0x08, 0x13, 0x1f, 0x20, 0x27, 0xe7, 0xff] {
                let mut cid = vec![0x11; len];
                if let Some(f) = cid.first_mut() {
                    *f = first;
                }
                let said = usize::from(first & 0x1f) + 1;
                let routed = matches!(lb.route(&cid), Route::Server(_));
                let want = first >> 5 == 0 && (8..=len).contains(&said);
                assert_eq!(routed, want, "{first:#x} {len}");
            }
        }
    }

    #[test]
    fn hex_ids_round_trip_and_bad_ones_are_typed() {
        let id = ServerId::parse_hex("00ffA5").unwrap();
        assert_eq!(id.as_bytes(), &[0, 0xff, 0xa5]);
        assert_eq!(id.to_string().parse::<ServerId>().unwrap(), id);
        assert_eq!(
            ServerId::parse_hex(&"ab".repeat(16)),
            Err(RoutingError::ServerIdLength(16))
        );
        assert!(matches!(
            ServerId::parse_hex("0g"),
            Err(RoutingError::Hex(_))
        ));
        assert!(matches!(
            ServerId::parse_hex("é1"),
            Err(RoutingError::Hex(_))
        ));
        assert_ne!(
            ServerId::new(&[1]).unwrap(),
            ServerId::new(&[1, 0]).unwrap()
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(LbConfig::new(7, 1), Err(RoutingError::ConfigId(7)));
        assert_eq!(LbConfig::new(0, 0), Err(RoutingError::ServerIdLength(0)));
        assert_eq!(LbConfig::new(0, 16), Err(RoutingError::ServerIdLength(16)));
        let sid = ServerId::new(&[1; 15]).unwrap();
        assert!(RoutableIds::new(0, sid.clone(), 4).is_ok());
        assert_eq!(
            RoutableIds::new(0, sid, 5),
            Err(RoutingError::NonceLength(5))
        );
    }
}
