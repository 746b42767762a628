//! The layers an endpoint names above its transport, built as the driver
//! builds them, for any driver: [`StackPlan`].
//!
//! The driver opens transports (`tcp`, `unix`, `udp`) with sockets; what
//! sits above them (`tls`, `proxy`, `reliable`, `quic`, with their
//! options, certificates and checks) is plain sans-IO protocols. Another
//! driver (the simulator, `strata-sim`) opens its own transports and takes
//! the layers from here, so an endpoint string means the same thing on
//! both.

use std::net::SocketAddr;
use std::sync::Arc;

use strata::endpoint::Endpoint;
use strata::tls::TlsConfig;
use strata::{DatagramProtocol, StackConfig, StreamFactory, StreamProtocol};

use crate::config::ListenConfig;
use crate::endpoint::{plan, wrap};
use crate::error::DriverError;
use crate::layer::{Carry, LayerCx, LayerWrap, Open, Role};
use crate::tls::TlsIdentity;

/// What an endpoint's chain builds above its transport, for one end: the
/// stream layers (outermost first: `tls` in `tls+tcp://`), and over a
/// datagram transport the layer that carries streams (`reliable` in
/// `tls+reliable+udp://`, `quic` in `quic+udp://`). Each layer's options
/// are checked when the plan is made; a TLS configuration is made once per
/// plan, as the driver does per endpoint.
///
/// ```
/// use strata::endpoint::Endpoint;
/// use strata_tokio::StackPlan;
/// let ep = Endpoint::parse_with("tls+reliable+udp://127.0.0.1:9000", &strata_tokio::registry()).unwrap();
/// let plan = StackPlan::client(&ep).unwrap();
/// assert_eq!(plan.transport(), "udp");
/// assert!(plan.carries_streams());
/// assert_eq!(plan.layers(), 1); // tls, above the mapping
///
/// // Options are checked (and files read) when the plan is made.
/// let bad = Endpoint::parse_with("tls+tcp://127.0.0.1:1?tls.ca=/nonexistent/ca.pem", &strata_tokio::registry()).unwrap();
/// assert!(StackPlan::client(&bad).is_err());
/// ```
pub struct StackPlan {
    ep: Endpoint,
    role: Role,
    /// The identity the caller gave (kept to plan again when seeded).
    given: Option<TlsIdentity>,
    /// The identity a server's QUIC layer presents (given, read or made),
    /// and any layer's when the caller gave it.
    identity: Option<TlsIdentity>,
    /// The identity a server's `tls` layer presents.
    tls_identity: Option<TlsIdentity>,
    seed: Option<u64>,
    tls: Option<TlsConfig>,
    datagrams: bool,
    carry: Option<Carry>,
    wraps: Vec<LayerWrap>,
}

impl StackPlan {
    /// The plan of a server (a listener) at `ep`; a `tls` layer presents
    /// `identity`, or the endpoint's files, or a fresh self-signed
    /// certificate.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tls+tcp://127.0.0.1:8443").unwrap();
    /// let plan = strata_tokio::StackPlan::server(&ep, None).unwrap();
    /// assert_eq!(plan.layers(), 1);
    /// assert!(!plan.carries_streams());
    /// ```
    pub fn server(ep: &Endpoint, identity: Option<TlsIdentity>) -> Result<StackPlan, DriverError> {
        StackPlan::make(ep, Role::Server, identity, None)
    }

    /// The plan of a client connecting to `ep`.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tcp://127.0.0.1:80").unwrap();
    /// let plan = strata_tokio::StackPlan::client(&ep).unwrap();
    /// assert_eq!((plan.transport(), plan.layers()), ("tcp", 0));
    /// ```
    pub fn client(ep: &Endpoint) -> Result<StackPlan, DriverError> {
        StackPlan::make(ep, Role::Client, None, None)
    }

    /// **For simulations only, not secure.** The same plan with every
    /// random choice of its layers drawn from `seed`, so that a simulated
    /// run repeats byte for byte: TLS client and server randoms, session
    /// ids and X25519 key shares (a seeded rustls provider, in place of the
    /// operating system's generator), a self-signed server certificate
    /// from the seed (Ed25519, fixed serial and validity) unless the
    /// endpoint names files, no stateless TLS tickets (resumption by
    /// session cache, ids from the seed), QUIC's and the reliable mapping's
    /// `rng_seed` (unless `quic.seed` is given), and the KCP conversation
    /// id (unless `reliable.conv` is given). A seeded QUIC client makes its
    /// own TLS configuration, never the process-wide one `quic.0rtt=true`
    /// shares between connections (which would carry state from one run
    /// into the next), so it does not resume. Whoever knows the seed knows
    /// every key: never use it for real traffic. The simulator
    /// (`strata-sim`) calls it for each listen and connect; the real
    /// driver never does.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// use strata::Stack;
    /// use strata_tokio::StackPlan;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let ep = Endpoint::parse("tls+tcp://example.com:443").unwrap();
    /// let hello = |plan: StackPlan| {
    ///     let mut stack = Stack::memory(plan.wrap(Box::new(Nop)));
    ///     let now = stack.now();
    ///     stack.take_output(now)
    /// };
    /// let seeded = |s| hello(StackPlan::client(&ep).unwrap().seeded(s).unwrap());
    /// assert_eq!(seeded(1), seeded(1)); // the same ClientHello, byte for byte
    /// assert_ne!(seeded(1), seeded(2));
    /// assert_ne!(hello(StackPlan::client(&ep).unwrap()), hello(StackPlan::client(&ep).unwrap()));
    /// ```
    pub fn seeded(self, seed: u64) -> Result<StackPlan, DriverError> {
        StackPlan::make(&self.ep, self.role, self.given, Some(seed))
    }

    /// The identity a server's `tls` layer (else its QUIC layer) presents:
    /// the one given, the endpoint's files, or the self-signed one made for
    /// the plan (by QUIC, on its first
    /// [`serve_datagrams`](StackPlan::serve_datagrams)); `None` for a
    /// client, or without such a layer.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tls+tcp://127.0.0.1:8443").unwrap();
    /// let plan = strata_tokio::StackPlan::server(&ep, None).unwrap();
    /// assert!(plan.identity().is_some_and(|id| id.is_self_signed()));
    /// ```
    pub fn identity(&self) -> Option<&TlsIdentity> {
        self.tls_identity.as_ref().or(self.identity.as_ref())
    }

    fn make(
        ep: &Endpoint,
        role: Role,
        identity: Option<TlsIdentity>,
        seed: Option<u64>,
    ) -> Result<StackPlan, DriverError> {
        let given = identity.clone();
        let mut cx = LayerCx {
            ep,
            role,
            identity,
            tls: None,
            tls_identity: None,
            seed,
        };
        let p = plan(&mut cx)?;
        Ok(StackPlan {
            ep: ep.clone(),
            role,
            given,
            identity: cx.identity,
            tls_identity: cx.tls_identity,
            seed,
            tls: cx.tls,
            datagrams: matches!(p.open, Open::Datagram { .. }),
            carry: p.carry,
            wraps: p.wraps,
        })
    }

    /// The transport's scheme (`tcp`, `unix`, `udp`).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tls+reliable+udp://127.0.0.1:9000").unwrap();
    /// assert_eq!(strata_tokio::StackPlan::client(&ep).unwrap().transport(), "udp");
    /// ```
    pub fn transport(&self) -> &str {
        self.ep
            .layers
            .last()
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// True when the transport carries datagrams and a layer carries
    /// streams over it ([`serve_datagrams`](StackPlan::serve_datagrams),
    /// [`connect_datagrams`](StackPlan::connect_datagrams)).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let over_udp = Endpoint::parse("quic+udp://127.0.0.1:4433").unwrap();
    /// let over_tcp = Endpoint::parse("reliable+tcp://127.0.0.1:9000").unwrap();
    /// assert!(strata_tokio::StackPlan::client(&over_udp).unwrap().carries_streams());
    /// // Over a stream, `reliable` is a pass-through layer, not a carrier.
    /// assert!(!strata_tokio::StackPlan::client(&over_tcp).unwrap().carries_streams());
    /// ```
    pub fn carries_streams(&self) -> bool {
        self.datagrams && self.carry.is_some()
    }

    /// How many stream layers wrap the protocol (above the transport, or
    /// above the layer that carries streams).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// let ep = Endpoint::parse("tls+tls+tcp://127.0.0.1:443").unwrap();
    /// assert_eq!(strata_tokio::StackPlan::client(&ep).unwrap().layers(), 2);
    /// ```
    pub fn layers(&self) -> usize {
        self.wraps.len()
    }

    /// `proto` inside the stream layers (the transport's neighbour
    /// outermost).
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Nop;
    /// impl StreamProtocol for Nop {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let ep = Endpoint::parse("tls+tcp://example.com:443").unwrap();
    /// let plan = strata_tokio::StackPlan::client(&ep).unwrap();
    /// let mut stack = Stack::memory(plan.wrap(Box::new(Nop)));
    /// let now = stack.now();
    /// // The TLS layer speaks first: a ClientHello record.
    /// assert_eq!(stack.take_output(now)[0], 0x16);
    /// ```
    pub fn wrap(&self, proto: Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> {
        wrap(proto, &self.wraps)
    }

    /// The stream layers as one function, for a factory: `None` when there
    /// are none.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// struct Nop;
    /// impl StreamProtocol for Nop {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let plain = Endpoint::parse("tcp://127.0.0.1:80").unwrap();
    /// assert!(strata_tokio::StackPlan::server(&plain, None).unwrap().wrapper().is_none());
    /// let tls = Endpoint::parse("tls+tcp://127.0.0.1:443").unwrap();
    /// let wrap = strata_tokio::StackPlan::client(&tls).unwrap().wrapper().unwrap();
    /// let mut stack = Stack::memory(wrap(Box::new(Nop)));
    /// let now = stack.now();
    /// assert_eq!(stack.take_output(now)[0], 0x16); // a TLS handshake record
    /// ```
    pub fn wrapper(&self) -> Option<LayerWrap> {
        if self.wraps.is_empty() {
            return None;
        }
        let wraps = self.wraps.clone();
        Some(Arc::new(move |p| wrap(p, &wraps)))
    }

    /// The datagram protocol of one server socket: the layer that carries
    /// streams, serving `factory`'s protocols inside the stream layers.
    /// Errors when the chain has no such layer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::endpoint::Endpoint;
    /// use strata::{StreamFactory, StreamProtocol, StreamTransport};
    /// use strata_tokio::{ListenConfig, StackPlan};
    /// struct Nop;
    /// impl StreamProtocol for Nop {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let f: StreamFactory = Arc::new(|| Box::new(Nop) as Box<dyn StreamProtocol>);
    /// let ep = Endpoint::parse("reliable+udp://127.0.0.1:9000").unwrap();
    /// let mut plan = StackPlan::server(&ep, None).unwrap();
    /// assert!(plan.serve_datagrams(f.clone(), &ListenConfig::default()).is_ok());
    /// let tcp = Endpoint::parse("tcp://127.0.0.1:80").unwrap();
    /// let mut plan = StackPlan::server(&tcp, None).unwrap();
    /// assert!(plan.serve_datagrams(f, &ListenConfig::default()).is_err()); // nothing carries streams
    /// ```
    pub fn serve_datagrams(
        &mut self,
        factory: StreamFactory,
        cfg: &ListenConfig,
    ) -> Result<Box<dyn DatagramProtocol>, DriverError> {
        let carry = self.carry_or_err()?;
        let factory: StreamFactory = match self.wrapper() {
            None => factory,
            Some(w) => Arc::new(move || w(factory())),
        };
        let mut cx = LayerCx {
            ep: &self.ep,
            role: self.role,
            identity: self.identity.take(),
            tls: self.tls.take(),
            tls_identity: None,
            seed: self.seed,
        };
        let made = (carry.serve)(&mut cx, &factory, cfg);
        self.identity = cx.identity;
        self.tls = cx.tls;
        made
    }

    /// The datagram protocol of a client socket talking to `peer`: the
    /// layer that carries streams, running `proto` inside the stream layers
    /// (in a swap point, as the driver's connect does) once its handshake
    /// is done. A handshake that fails reaches `proto` as
    /// `connection_lost`.
    ///
    /// ```
    /// use strata::endpoint::Endpoint;
    /// use strata::{StackConfig, StreamProtocol, StreamTransport};
    /// struct Nop;
    /// impl StreamProtocol for Nop {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let ep = Endpoint::parse("reliable+udp://127.0.0.1:9000").unwrap();
    /// let plan = strata_tokio::StackPlan::client(&ep).unwrap();
    /// let peer = "127.0.0.1:9000".parse().unwrap();
    /// let layer = plan.connect_datagrams(Box::new(Nop), &StackConfig::default(), peer);
    /// assert!(layer.is_ok());
    /// ```
    pub fn connect_datagrams(
        &self,
        proto: Box<dyn StreamProtocol>,
        stack: &StackConfig,
        peer: SocketAddr,
    ) -> Result<Box<dyn DatagramProtocol>, DriverError> {
        let carry = self.carry_or_err()?;
        let slot = strata::ProtocolSlot::new(self.wrap(proto));
        let cx = LayerCx {
            ep: &self.ep,
            role: self.role,
            identity: None,
            tls: None,
            tls_identity: None,
            seed: self.seed,
        };
        (carry.connect)(&cx, Box::new(slot), stack, peer)
    }

    fn carry_or_err(&self) -> Result<Carry, DriverError> {
        self.carry
            .filter(|_| self.datagrams)
            .ok_or_else(|| DriverError::NotStream {
                endpoint: self.ep.to_string(),
            })
    }
}
