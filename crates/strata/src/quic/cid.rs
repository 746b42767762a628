//! Routable QUIC connection ids: a [`ConnectionIdGenerator`] for
//! quinn-proto whose ids carry `QuicConfig::server_id` (`super::QuicConfig`) in the QUIC-LB
//! plaintext layout of [`crate::routing`] (first octet: config rotation and
//! length; then the server id; then random bytes), so a stateless balancer
//! in front of several servers routes every packet of a connection to the
//! server that issued its ids, through migration and NAT rebinding
//! (`docs/routing.md`).
//!
//! quinn-proto asks the generator for every id the endpoint issues (the
//! handshake's, and those of NEW_CONNECTION_ID frames), and reads short
//! headers with its fixed [`cid_len`](ConnectionIdGenerator::cid_len).
//! [`validate`](ConnectionIdGenerator::validate) refuses ids of another
//! server or configuration: quinn-proto then drops a short packet for an
//! unknown connection instead of answering it with a stateless reset that
//! is not this server's to send.
//!
//! Sans-IO like the layer: the random bytes come from the operating
//! system's secure generator, or, with a seed (`QuicConfig::rng_seed`), from
//! a ChaCha20 stream keyed by it, so a simulated run repeats.

use std::sync::Arc;
use std::time::Duration;

use quinn_proto::{ConnectionId, ConnectionIdGenerator, InvalidCid};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use ring::rand::SecureRandom;

use crate::routing::{RoutableIds, RoutingError, ServerId, DEFAULT_CONFIG_ID, MAX_CID_LEN};

/// Random bytes after the server id in a QUIC id: 8 (64 bits, as many as
/// quinn-proto's default all-random 8-byte ids), fewer only when a server
/// id over 11 bytes leaves less room in 20 bytes (at least
/// [`MIN_NONCE_LEN`](crate::routing::MIN_NONCE_LEN)).
pub const QUIC_NONCE_LEN: usize = 8;

/// The ChaCha20 stream a seeded generator draws from (apart from
/// quinn-proto's own use of the same seed).
const SEED_STREAM: u64 = 0x6c62;

/// Makes the connection ids of one QUIC endpoint routable: every id carries
/// the configured server id.
///
/// ```
/// use quinn_proto::ConnectionIdGenerator;
/// use strata::quic::RoutableCidGenerator;
/// use strata::routing::{LbConfig, Route, ServerId};
/// let mut ids = RoutableCidGenerator::new(ServerId::parse_hex("0a0b")?, Some(7))?;
/// let cid = ids.generate_cid();
/// assert_eq!(cid.len(), 11);
/// assert_eq!(LbConfig::new(0, 2)?.route(&cid), Route::Server(&[0x0a, 0x0b][..]));
/// # Ok::<(), strata::routing::RoutingError>(())
/// ```
pub struct RoutableCidGenerator {
    layout: RoutableIds,
    source: Source,
    lifetime: Option<Duration>,
}

/// Where the random bytes come from.
enum Source {
    Os(ring::rand::SystemRandom),
    Seeded(Box<ChaCha20Rng>),
}

impl RoutableCidGenerator {
    /// Ids of config rotation 0 carrying `server_id`, with
    /// [`QUIC_NONCE_LEN`] random bytes (or what 20 bytes leave), from the
    /// OS generator or, with `rng_seed`, a ChaCha20 stream keyed by it.
    ///
    /// ```
    /// use quinn_proto::ConnectionIdGenerator;
    /// use strata::quic::RoutableCidGenerator;
    /// use strata::routing::ServerId;
    /// let sid = ServerId::parse_hex("c0ffee")?;
    /// let mut a = RoutableCidGenerator::new(sid.clone(), Some(7))?;
    /// let mut b = RoutableCidGenerator::new(sid, Some(7))?;
    /// let id = a.generate_cid();
    /// assert_eq!(id.len(), 1 + 3 + 8); // first octet, server id, nonce
    /// assert_eq!(&id[1..4], &[0xc0, 0xff, 0xee]);
    /// assert_eq!(id, b.generate_cid(), "the same seed, the same ids");
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn new(server_id: ServerId, rng_seed: Option<u64>) -> Result<Self, RoutingError> {
        RoutableCidGenerator::with_config(DEFAULT_CONFIG_ID, server_id, rng_seed)
    }

    /// As [`new`](Self::new), with config rotation `config_id` (0 to 6).
    ///
    /// ```
    /// use quinn_proto::ConnectionIdGenerator;
    /// use strata::quic::RoutableCidGenerator;
    /// use strata::routing::{RoutableIds, RoutingError, ServerId};
    /// let sid = ServerId::parse_hex("0a0b")?;
    /// let mut ids = RoutableCidGenerator::with_config(3, sid.clone(), None)?;
    /// assert_eq!(RoutableIds::config_of(&ids.generate_cid()), Some(3));
    /// assert!(matches!(RoutableCidGenerator::with_config(7, sid, None), Err(RoutingError::ConfigId(7))));
    /// # Ok::<(), RoutingError>(())
    /// ```
    pub fn with_config(
        config_id: u8,
        server_id: ServerId,
        rng_seed: Option<u64>,
    ) -> Result<Self, RoutingError> {
        let nonce_len = QUIC_NONCE_LEN.min(MAX_CID_LEN - 1 - server_id.len());
        let layout = RoutableIds::new(config_id, server_id, nonce_len)?;
        let source = match rng_seed {
            None => Source::Os(ring::rand::SystemRandom::new()),
            Some(seed) => {
                let mut rng = ChaCha20Rng::seed_from_u64(seed);
                rng.set_stream(SEED_STREAM);
                Source::Seeded(Box::new(rng))
            }
        };
        Ok(RoutableCidGenerator {
            layout,
            source,
            lifetime: None,
        })
    }

    /// Retires each id after `lifetime` (quinn-proto then issues new ones,
    /// with the same server id). Default: never.
    ///
    /// ```
    /// use std::time::Duration;
    /// use quinn_proto::ConnectionIdGenerator;
    /// use strata::quic::RoutableCidGenerator;
    /// use strata::routing::ServerId;
    /// let ids = RoutableCidGenerator::new(ServerId::parse_hex("0a")?, None)?;
    /// assert_eq!(ids.cid_lifetime(), None);
    /// let ids = ids.with_lifetime(Duration::from_secs(600));
    /// assert_eq!(ids.cid_lifetime(), Some(Duration::from_secs(600)));
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The layout of the ids.
    ///
    /// ```
    /// use strata::quic::{RoutableCidGenerator, QUIC_NONCE_LEN};
    /// use strata::routing::ServerId;
    /// let ids = RoutableCidGenerator::new(ServerId::parse_hex("0a0b")?, None)?;
    /// let layout = ids.layout();
    /// assert_eq!((layout.config_id(), layout.server_id().as_bytes()), (0, &[0x0a, 0x0b][..]));
    /// assert_eq!(layout.nonce_len(), QUIC_NONCE_LEN);
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn layout(&self) -> &RoutableIds {
        &self.layout
    }

    /// A factory for `quinn_proto::EndpointConfig::cid_generator`: each
    /// endpoint gets its own generator (the same sequence of ids, with a
    /// seed).
    ///
    /// ```
    /// use strata::quic::RoutableCidGenerator;
    /// use strata::routing::{LbConfig, Route, ServerId};
    /// let factory = RoutableCidGenerator::factory(ServerId::parse_hex("0a0b")?, Some(1))?;
    /// let mut config = quinn_proto::EndpointConfig::default();
    /// let f = factory.clone();
    /// config.cid_generator(move || f());
    /// // Each endpoint gets a generator of its own; with a seed, the same ids.
    /// let (mut a, mut b) = (factory(), factory());
    /// let id = a.generate_cid();
    /// assert_eq!(id, b.generate_cid());
    /// assert_eq!(LbConfig::new(0, 2)?.route(&id), Route::Server(&[0x0a, 0x0b][..]));
    /// # Ok::<(), strata::routing::RoutingError>(())
    /// ```
    pub fn factory(
        server_id: ServerId,
        rng_seed: Option<u64>,
    ) -> Result<Arc<dyn Fn() -> Box<dyn ConnectionIdGenerator> + Send + Sync>, RoutingError> {
        // Checked once here, so that the factory cannot fail.
        let layout = RoutableCidGenerator::new(server_id, rng_seed)?.layout;
        Ok(Arc::new(move || {
            let sid = layout.server_id().clone();
            match RoutableCidGenerator::with_config(layout.config_id(), sid, rng_seed) {
                Ok(g) => Box::new(g) as Box<dyn ConnectionIdGenerator>,
                // Unreachable: the same settings passed above.
                Err(_) => Box::new(quinn_proto::RandomConnectionIdGenerator::new(layout.len())),
            }
        }))
    }

    fn fill(&mut self, out: &mut [u8]) {
        match &mut self.source {
            Source::Os(os) => {
                if os.fill(out).is_err() {
                    // ring's generator does not fail where it builds; if it
                    // ever does, the getrandom crate's is the second try.
                    // Only a system with no randomness at all panics here,
                    // and on one no TLS handshake could run either.
                    rand::rngs::OsRng.fill_bytes(out);
                }
            }
            Source::Seeded(rng) => rng.fill_bytes(out),
        }
    }
}

impl ConnectionIdGenerator for RoutableCidGenerator {
    fn generate_cid(&mut self) -> ConnectionId {
        let mut nonce = [0u8; MAX_CID_LEN];
        let n = self.layout.nonce_len();
        self.fill(&mut nonce[..n]);
        let mut id = [0u8; MAX_CID_LEN];
        self.layout.write(&nonce, &mut id);
        ConnectionId::new(&id[..self.layout.len()])
    }

    fn validate(&self, cid: &ConnectionId) -> Result<(), InvalidCid> {
        if self.layout.is_ours(cid) {
            Ok(())
        } else {
            Err(InvalidCid)
        }
    }

    fn cid_len(&self) -> usize {
        self.layout.len()
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

/// The ChaCha20 stream of [`SeededCidGenerator`].
const PLAIN_SEED_STREAM: u64 = 0x6c63;

/// Plain 8-byte connection ids (quinn-proto's default length) from a
/// ChaCha20 stream keyed by `QuicConfig::rng_seed`: quinn-proto's own
/// default generator draws from the thread's generator, which no seed
/// reaches, so a seeded endpoint without a server id uses this one.
pub(crate) struct SeededCidGenerator {
    rng: Box<ChaCha20Rng>,
}

impl SeededCidGenerator {
    /// quinn-proto's default id length.
    const LEN: usize = 8;

    pub(crate) fn new(seed: u64) -> SeededCidGenerator {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        rng.set_stream(PLAIN_SEED_STREAM);
        SeededCidGenerator { rng: Box::new(rng) }
    }
}

impl ConnectionIdGenerator for SeededCidGenerator {
    fn generate_cid(&mut self) -> ConnectionId {
        let mut id = [0u8; SeededCidGenerator::LEN];
        self.rng.fill_bytes(&mut id);
        ConnectionId::new(&id)
    }

    fn cid_len(&self) -> usize {
        SeededCidGenerator::LEN
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

/// The ChaCha20 stream of [`seeded_initial_dcid`].
const INITIAL_SEED_STREAM: u64 = 0x6c64;

/// The destination id of a seeded client's `n`th connection's Initial
/// packets (20 bytes, quinn-proto's default length): quinn-proto's default
/// draws it from the thread's generator, which no seed reaches.
pub(crate) fn seeded_initial_dcid(seed: u64, n: u64) -> ConnectionId {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(INITIAL_SEED_STREAM);
    rng.set_word_pos(u128::from(n) * 16);
    let mut id = [0u8; MAX_CID_LEN];
    rng.fill_bytes(&mut id);
    ConnectionId::new(&id)
}

#[cfg(test)]
mod tests {
    use quinn_proto::ConnectionIdGenerator;

    use super::*;
    use crate::routing::{LbConfig, Route};

    fn sid(hex: &str) -> ServerId {
        ServerId::parse_hex(hex).unwrap()
    }

    #[test]
    fn a_seeded_plain_generator_repeats_its_ids() {
        let ids = |seed| {
            let mut g = SeededCidGenerator::new(seed);
            assert_eq!(g.cid_len(), 8);
            (0..3)
                .map(|_| g.generate_cid().to_vec())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(4), ids(4));
        assert_ne!(ids(4), ids(5));
        assert_ne!(ids(4)[0], ids(4)[1]);
        let dcid = seeded_initial_dcid;
        assert_eq!(dcid(4, 0), dcid(4, 0));
        assert_eq!(dcid(4, 0).len(), 20);
        assert_ne!(dcid(4, 0), dcid(4, 1));
        assert_ne!(dcid(4, 0), dcid(5, 0));
    }

    #[test]
    fn every_id_carries_the_server_id_and_64_random_bits() {
        let mut g = RoutableCidGenerator::new(sid("0a0b"), None).unwrap();
        assert_eq!(g.cid_len(), 1 + 2 + 8);
        let lb = LbConfig::new(0, 2).unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let cid = g.generate_cid();
            assert_eq!(cid.len(), 11);
            assert_eq!(cid[0], 10); // rotation 0, 10 bytes after the octet
            assert_eq!(lb.route(&cid), Route::Server(&[0x0a, 0x0b][..]));
            assert!(g.validate(&cid).is_ok());
            assert!(seen.insert(cid[3..].to_vec()), "a nonce repeated");
        }
    }

    #[test]
    fn a_long_server_id_leaves_at_least_four_random_bytes() {
        let g = RoutableCidGenerator::new(ServerId::new(&[1; 15]).unwrap(), None).unwrap();
        assert_eq!((g.cid_len(), g.layout().nonce_len()), (20, 4));
        let g = RoutableCidGenerator::new(ServerId::new(&[1; 11]).unwrap(), None).unwrap();
        assert_eq!((g.cid_len(), g.layout().nonce_len()), (20, 8));
        assert!(RoutableCidGenerator::with_config(7, sid("01"), None).is_err());
    }

    #[test]
    fn ids_of_another_server_or_rotation_do_not_validate() {
        let ours = RoutableCidGenerator::new(sid("01"), Some(1)).unwrap();
        let mut theirs = RoutableCidGenerator::new(sid("02"), Some(1)).unwrap();
        let mut rotated = RoutableCidGenerator::with_config(3, sid("01"), Some(1)).unwrap();
        assert!(ours.validate(&theirs.generate_cid()).is_err());
        assert!(ours.validate(&rotated.generate_cid()).is_err());
        assert!(ours.validate(&ConnectionId::new(&[0; 10])).is_err());
        assert!(ours.validate(&ConnectionId::new(&[])).is_err());
    }

    #[test]
    fn a_seed_repeats_the_ids_and_the_factory_gives_each_endpoint_a_generator() {
        let make = RoutableCidGenerator::factory(sid("abcdef"), Some(9)).unwrap();
        let (mut a, mut b) = (make(), make());
        let xs: Vec<_> = (0..5).map(|_| a.generate_cid()).collect();
        let ys: Vec<_> = (0..5).map(|_| b.generate_cid()).collect();
        assert_eq!(xs, ys);
        let mut other = RoutableCidGenerator::new(sid("abcdef"), Some(10)).unwrap();
        assert_ne!(xs[0], other.generate_cid());
        assert!(RoutableCidGenerator::factory(ServerId::new(&[1; 15]).unwrap(), None).is_ok());
    }

    #[test]
    fn ids_live_forever_unless_given_a_lifetime() {
        let g = RoutableCidGenerator::new(sid("01"), None).unwrap();
        assert_eq!(g.cid_lifetime(), None);
        let g = g.with_lifetime(Duration::from_secs(600));
        assert_eq!(g.cid_lifetime(), Some(Duration::from_secs(600)));
    }

    /// A quinn-proto server endpoint with the generator, a client, and the
    /// handshake run in memory: every short packet the client sends names
    /// the server by its id, as a balancer reads it.
    #[test]
    fn a_quinn_server_hands_out_routable_ids_and_the_client_uses_them() {
        use std::net::SocketAddr;
        use std::time::Instant;

        use bytes::BytesMut;
        use quinn_proto::{
            ClientConfig, DatagramEvent, Dir, Endpoint, EndpointConfig, ServerConfig,
        };
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let made = rcgen::generate_simple_self_signed(vec!["lb.test".to_string()]).unwrap();
        let cert: CertificateDer<'static> = made.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
        let server_cfg = ServerConfig::with_single_cert(vec![cert.clone()], key).unwrap();
        let mut ecfg = EndpointConfig::default();
        let make = RoutableCidGenerator::factory(sid("0a0b"), Some(5)).unwrap();
        ecfg.cid_generator(move || make());
        let mut server = Endpoint::new(
            Arc::new(ecfg),
            Some(Arc::new(server_cfg)),
            true,
            Some([1; 32]),
        );
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client_cfg = ClientConfig::with_root_certificates(Arc::new(roots)).unwrap();
        let mut client = Endpoint::new(
            Arc::new(EndpointConfig::default()),
            None,
            true,
            Some([2; 32]),
        );
        let (s_addr, c_addr): (SocketAddr, SocketAddr) = (
            "10.0.0.2:443".parse().unwrap(),
            "10.0.0.1:5000".parse().unwrap(),
        );
        let mut now = Instant::now();
        let (_, mut cconn) = client.connect(now, client_cfg, s_addr, "lb.test").unwrap();
        let mut sconn = None;
        let mut opened = false;
        let (mut buf, mut resp) = (Vec::new(), Vec::new());
        let lb = LbConfig::new(0, 2).unwrap();
        let mut short = 0;
        for _ in 0..200 {
            if !opened
                && !cconn.is_handshaking()
                && let Some(id) = cconn.streams().open(Dir::Bi)
            {
                cconn.send_stream(id).write(b"routable").unwrap();
                opened = true;
            }
            while let Some(t) = cconn.poll_transmit(now, 1, &mut buf) {
                let data = BytesMut::from(&buf[..t.size]);
                buf.clear();
                if data[0] & 0x80 == 0 {
                    // A short header: the balancer's view of its id.
                    assert_eq!(lb.route(&data[1..]), Route::Server(&[0x0a, 0x0b][..]));
                    short += 1;
                }
                match server.handle(now, c_addr, None, None, data, &mut resp) {
                    Some(DatagramEvent::NewConnection(incoming)) => {
                        let accepted = server.accept(incoming, now, &mut resp, None);
                        sconn = Some(accepted.unwrap());
                    }
                    Some(DatagramEvent::ConnectionEvent(_, ev)) => {
                        if let Some((_, c)) = sconn.as_mut() {
                            c.handle_event(ev);
                        }
                    }
                    _ => {}
                }
            }
            if let Some((h, c)) = sconn.as_mut() {
                while let Some(ev) = c.poll_endpoint_events() {
                    if let Some(back) = server.handle_event(*h, ev) {
                        c.handle_event(back);
                    }
                }
                while let Some(t) = c.poll_transmit(now, 1, &mut buf) {
                    let data = BytesMut::from(&buf[..t.size]);
                    buf.clear();
                    if let Some(DatagramEvent::ConnectionEvent(_, ev)) =
                        client.handle(now, s_addr, None, None, data, &mut resp)
                    {
                        cconn.handle_event(ev);
                    }
                }
                while c.poll().is_some() {}
            }
            while cconn.poll().is_some() {}
            if short >= 3 {
                break;
            }
            now += Duration::from_millis(5);
            cconn.handle_timeout(now);
            if let Some((_, c)) = sconn.as_mut() {
                c.handle_timeout(now);
            }
        }
        assert!(
            short >= 3,
            "the handshake did not complete: {short} short packets"
        );
        // The ids the server handed out are its own.
        let (_, c) = sconn.unwrap();
        let _ = c;
    }
}
