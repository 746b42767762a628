//! Listening and connecting on simulated hosts, by endpoint string.

use std::net::SocketAddr;
use std::sync::Arc;

use strata::endpoint::{Endpoint, Target};
use strata::testing::NodeId;
use strata::{Addr, Close, DatagramProtocol, StackConfig, StreamFactory, StreamProtocol};

use crate::error::SimError;
use crate::stream::LayerWrap;
use crate::world::{pair, HostId, ListenKey, Listener, Sim};
use crate::ConnId;

/// Builds the layers an endpoint names above its transport (`tls` in
/// `tls+tcp://`), for one end. The simulator opens the transports itself
/// (`tcp`, `unix`, `udp`); the layers are the same code the real driver
/// runs, given to the simulator by whoever can build them.
///
/// ```
/// use strata::endpoint::Endpoint;
/// use strata_sim::{LayerWrap, Layers, SimError};
/// struct NoLayers;
/// impl Layers for NoLayers {
///     fn stream(&self, ep: &Endpoint, _server: bool) -> Result<Option<LayerWrap>, SimError> {
///         match ep.layers.len() {
///             1 => Ok(None),
///             _ => Err(SimError::Unsupported { what: ep.layers[0].clone() }),
///         }
///     }
/// }
/// let ep = Endpoint::parse("tls+tcp://a:1").unwrap();
/// assert!(NoLayers.stream(&ep, true).is_err());
/// ```
pub trait Layers {
    /// The wrapper of every layer of `ep` above its transport, outermost
    /// first, for a server (`true`) or a client; `None` when `ep` names
    /// only a transport.
    fn stream(&self, ep: &Endpoint, server: bool) -> Result<Option<LayerWrap>, SimError>;
}

/// What the simulator builds without help: transports only.
struct TransportsOnly;

impl Layers for TransportsOnly {
    fn stream(&self, ep: &Endpoint, _server: bool) -> Result<Option<LayerWrap>, SimError> {
        if ep.layers.len() <= 1 {
            return Ok(None);
        }
        Err(SimError::Unsupported {
            what: format!(
                "the `{}` layer (give the simulator a layer builder with Sim::set_layers)",
                ep.layers[0]
            ),
        })
    }
}

impl Sim {
    /// Gives the simulator what builds layers above transports.
    pub fn set_layers(&mut self, layers: impl Layers + 'static) {
        self.layers = Some(Box::new(layers));
    }

    fn wrap(&self, ep: &Endpoint, server: bool) -> Result<Option<LayerWrap>, SimError> {
        match &self.layers {
            Some(l) => l.stream(ep, server),
            None => TransportsOnly.stream(ep, server),
        }
    }

    /// Listens on `host` at `endpoint` (`tcp://10.0.0.2:80`,
    /// `tcp://0.0.0.0:0`, `unix:///run/app.sock`, with layers above if a
    /// [`Layers`] builder was given); each accepted connection runs a
    /// protocol from `factory`. Returns the address listened on (a port 0
    /// gets a free port).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::{Addr, StreamFactory, StreamProtocol, StreamTransport};
    /// struct Nop;
    /// impl StreamProtocol for Nop {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let h = sim.add_host("s", "10.0.0.2".parse().unwrap());
    /// let f: StreamFactory = Arc::new(|| Box::new(Nop) as Box<dyn StreamProtocol>);
    /// let a = sim.listen(h, "tcp://10.0.0.2:0", f.clone()).unwrap();
    /// assert!(matches!(a, Addr::Inet(s) if s.port() != 0));
    /// let err = sim.listen(h, "tcp://10.0.0.9:80", f).unwrap_err();
    /// assert_eq!(err.to_string(), "host s has no address 10.0.0.9");
    /// ```
    pub fn listen(
        &mut self,
        host: HostId,
        endpoint: &str,
        factory: StreamFactory,
    ) -> Result<Addr, SimError> {
        self.listen_with(host, endpoint, factory, None)
    }

    /// [`listen`](Sim::listen) with the stack limits of its connections.
    pub fn listen_with(
        &mut self,
        host: HostId,
        endpoint: &str,
        factory: StreamFactory,
        cfg: Option<Arc<StackConfig>>,
    ) -> Result<Addr, SimError> {
        let ep = Endpoint::parse(endpoint)?;
        let wrap = self.wrap(&ep, true)?;
        let transport = ep.layers.last().map(String::as_str).unwrap_or_default();
        let (key, addr) = match (transport, &ep.target) {
            ("tcp", Target::Host { host: name, port }) => {
                let ip = self.resolve(name)?;
                self.own_address(host, ip)?;
                let port = match *port {
                    0 => self.free_port(host),
                    p => p,
                };
                let ip = self.host_ip(host);
                (ListenKey::Port(port), Addr::Inet(SocketAddr::new(ip, port)))
            }
            ("unix", Target::Path(p)) => (ListenKey::Path(p.clone()), Addr::Unix(Some(p.clone()))),
            (t, _) => {
                return Err(SimError::Unsupported {
                    what: format!("listening on `{t}` streams"),
                })
            }
        };
        let h = &mut self.hosts[host.0 as usize];
        if h.listeners.contains_key(&key) {
            return Err(SimError::InUse {
                host: h.name.clone(),
                what: addr.to_string(),
            });
        }
        let cfg = cfg.unwrap_or_else(|| self.stack_cfg.clone());
        h.listeners.insert(key, Listener { factory, wrap, cfg });
        self.trace_line(format_args!("{host} listen {addr}"));
        Ok(addr)
    }

    /// A port no listener of `host` has.
    fn free_port(&mut self, host: HostId) -> u16 {
        let h = &mut self.hosts[host.0 as usize];
        loop {
            let p = h.next_port;
            h.next_port = h.next_port.checked_add(1).unwrap_or(49152);
            if !h.listeners.contains_key(&ListenKey::Port(p)) {
                return p;
            }
        }
    }

    /// Connects from `host` to `endpoint` (`tcp://server:80`,
    /// `tcp://10.0.0.2:80`, `unix:///run/app.sock` on the same host),
    /// running `proto` (inside the endpoint's layers) once connected. A
    /// connect that fails reaches `proto` as `connection_lost` with the
    /// reason (refused, timed out) and no `connection_made`.
    pub fn connect(
        &mut self,
        host: HostId,
        endpoint: &str,
        proto: Box<dyn StreamProtocol>,
    ) -> Result<ConnId, SimError> {
        self.connect_with(host, endpoint, proto, None)
    }

    /// [`connect`](Sim::connect) with the stack limits of the connection.
    pub fn connect_with(
        &mut self,
        host: HostId,
        endpoint: &str,
        proto: Box<dyn StreamProtocol>,
        cfg: Option<Arc<StackConfig>>,
    ) -> Result<ConnId, SimError> {
        let ep = Endpoint::parse(endpoint)?;
        let transport = ep.layers.last().map(String::as_str).unwrap_or_default();
        let (dst, key) = match (transport, &ep.target) {
            ("tcp", Target::Host { host: name, port }) => {
                let ip = self.resolve(name)?;
                let dst = self.host_at(ip).ok_or_else(|| SimError::NoSuchHost {
                    name: ip.to_string(),
                })?;
                (dst, ListenKey::Port(*port))
            }
            ("unix", Target::Path(p)) => (host, ListenKey::Path(p.clone())),
            (t, _) => {
                return Err(SimError::Unsupported {
                    what: format!("connecting over `{t}` streams"),
                })
            }
        };
        if !self.links.contains_key(&pair(host, dst)) {
            return Err(SimError::NoRoute {
                from: self.hosts[host.0 as usize].name.clone(),
                to: self.hosts[dst.0 as usize].name.clone(),
            });
        }
        let proto = match self.wrap(&ep, false)? {
            Some(w) => w(proto),
            None => proto,
        };
        Ok(self.open_stream(host, dst, key, proto, cfg))
    }

    /// Binds a UDP socket of `host` at `addr` (its own address; port 0
    /// gets a free port) running `proto`; it reaches the UDP sockets of the
    /// hosts it has links to. Returns its node in [`datagrams`](Sim::datagrams).
    pub fn bind_udp(
        &mut self,
        host: HostId,
        mut addr: SocketAddr,
        proto: Box<dyn DatagramProtocol>,
    ) -> Result<NodeId, SimError> {
        self.own_address(host, addr.ip())?;
        addr.set_ip(self.host_ip(host));
        if addr.port() == 0 {
            addr.set_port(self.free_port(host));
        }
        if self.udp.node_at(addr).is_some() {
            return Err(SimError::InUse {
                host: self.hosts[host.0 as usize].name.clone(),
                what: format!("udp {addr}"),
            });
        }
        let id = self.udp.add_node(addr, proto);
        self.hosts[host.0 as usize].udp_nodes.push(id);
        let peers: Vec<HostId> = self
            .links
            .keys()
            .filter_map(|&(a, b)| match (a == host, b == host) {
                (true, _) => Some(b),
                (_, true) => Some(a),
                _ => None,
            })
            .collect();
        for p in peers {
            self.relink_udp(host, p);
        }
        self.trace_line(format_args!("{host} bind udp {addr}"));
        Ok(id)
    }

    /// Moves a UDP socket to another address of its host's network (a
    /// client behind a NAT that rebinds): see
    /// [`SimNet::rebind`](strata::testing::SimNet::rebind).
    pub fn rebind_udp(&mut self, node: NodeId, addr: SocketAddr) -> bool {
        let ok = self.udp.rebind(node, addr);
        self.trace_line(format_args!("rebind {node} {addr} {ok}"));
        ok
    }

    /// Every side that closed so far: the connection, whether it was the
    /// client side, and why (a host restart shows as `Io(Interrupted)`).
    pub fn closes(&self) -> impl Iterator<Item = (ConnId, bool, &Close)> {
        self.closed.iter().map(|(c, s, why)| (*c, *s == 0, why))
    }

    pub(crate) fn drop_host_datagrams(&mut self, host: HostId) {
        let nodes = std::mem::take(&mut self.hosts[host.0 as usize].udp_nodes);
        for n in nodes {
            self.udp.remove_node(n);
        }
    }

    /// A host's clock changed: its stacks' timers move with it.
    pub(crate) fn retime_host(&mut self, host: HostId) {
        for (conn, s) in self.sides_of(host) {
            self.service(conn, s);
        }
    }

    /// Settles every side of `host` (after it reads again).
    pub(crate) fn service_host(&mut self, host: HostId) {
        for (conn, s) in self.sides_of(host) {
            self.service(conn, s);
        }
    }
}
