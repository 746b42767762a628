//! Listening and connecting on simulated hosts, by endpoint string.

use std::net::SocketAddr;
use std::sync::Arc;

use strata::endpoint::{Endpoint, Target};
use strata::testing::NodeId;
use strata::{Addr, Close, DatagramProtocol, StackConfig, StreamFactory, StreamProtocol};

use crate::error::SimError;
use crate::world::{pair, HostId, ListenKey, Listener, Sim};
use crate::ConnId;
use strata_tokio::{ListenConfig, StackPlan};

/// What a connect opened: a simulated stream connection, or a UDP socket
/// whose layer carries the stream (`reliable+udp://`, `quic+udp://`).
///
/// ```
/// use strata_sim::{ConnId, Opened};
/// assert_eq!(Opened::Stream(ConnId(1)).conn(), Some(ConnId(1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A TCP-like connection (or a Unix socket's).
    Stream(ConnId),
    /// A UDP socket, by its node in [`Sim::datagrams`].
    Datagram(NodeId),
}

impl Opened {
    /// The stream connection, if it is one.
    ///
    /// ```
    /// use strata_sim::{Opened, Sim};
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut sim = Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default());
    /// let tcp = sim.connect(a, "tcp://b:80", Box::new(Nop)).unwrap();
    /// assert!(tcp.conn().is_some());
    /// let udp = sim.connect(a, "reliable+udp://b:9000", Box::new(Nop)).unwrap();
    /// assert!(matches!(udp, Opened::Datagram(_)) && udp.conn().is_none());
    /// ```
    pub fn conn(self) -> Option<ConnId> {
        match self {
            Opened::Stream(c) => Some(c),
            Opened::Datagram(_) => None,
        }
    }
}

impl Sim {
    /// Listens on `host` at `endpoint` (`tcp://10.0.0.2:80`,
    /// `tcp://0.0.0.0:0`, `unix:///run/app.sock`, `tls+tcp://...`,
    /// `reliable+udp://...`, `quic+udp://...`: the layers are the real
    /// driver's, from [`StackPlan`]); each accepted connection runs a
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
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::{StackConfig, StreamFactory, StreamProtocol};
    /// # use strata::StreamTransport;
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let s = sim.add_host("s", "10.0.0.2".parse().unwrap());
    /// let f: StreamFactory = Arc::new(|| Box::new(Nop) as Box<dyn StreamProtocol>);
    /// let small = Arc::new(StackConfig { high_water: 4096, low_water: 1024, ..StackConfig::default() });
    /// let addr = sim.listen_with(s, "tcp://10.0.0.2:7", f, Some(small)).unwrap();
    /// assert_eq!(addr.to_string(), "10.0.0.2:7");
    /// ```
    pub fn listen_with(
        &mut self,
        host: HostId,
        endpoint: &str,
        factory: StreamFactory,
        cfg: Option<Arc<StackConfig>>,
    ) -> Result<Addr, SimError> {
        let ep = Endpoint::parse_with(endpoint, &strata_tokio::registry())?;
        let plan = StackPlan::server(&ep, None)?;
        let mut plan = self.seed_plan(plan)?;
        let cfg = cfg.unwrap_or_else(|| self.stack_cfg.clone());
        if plan.carries_streams() {
            let Target::Host { host: name, port } = &ep.target else {
                return Err(SimError::Unsupported {
                    what: format!("{endpoint}: a datagram transport needs a host and port"),
                });
            };
            let ip = self.resolve(name)?;
            let listen = ListenConfig {
                stack: cfg,
                ..ListenConfig::default()
            };
            let proto = plan.serve_datagrams(factory, &listen)?;
            let node = self.bind_udp(host, SocketAddr::new(ip, *port), proto)?;
            let addr = self
                .udp
                .addr(node)
                .map(Addr::Inet)
                .unwrap_or(Addr::Memory(0));
            return Ok(addr);
        }
        let wrap = plan.wrapper();
        let transport = plan.transport().to_string();
        let (key, addr) = match (transport.as_str(), &ep.target) {
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
        h.listeners.insert(key, Listener { factory, wrap, cfg });
        self.trace_line(format_args!("{host} listen {addr}"));
        Ok(addr)
    }

    /// A port no listener of `host` has.
    pub(crate) fn free_port(&mut self, host: HostId) -> u16 {
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
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{Close, StreamProtocol, StreamTransport};
    /// use std::sync::{Arc, Mutex};
    /// struct Knock(Arc<Mutex<Option<String>>>);
    /// impl StreamProtocol for Knock {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    ///     fn connection_lost(&mut self, why: &Close) { *self.0.lock().unwrap() = Some(why.to_string()) }
    /// }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default());
    /// let heard = Arc::new(Mutex::new(None));
    /// sim.connect(a, "tcp://b:81", Box::new(Knock(heard.clone()))).unwrap(); // nobody listens
    /// sim.run(Duration::from_secs(1));
    /// assert_eq!(heard.lock().unwrap().as_deref(), Some("I/O error: connection refused"));
    /// ```
    pub fn connect(
        &mut self,
        host: HostId,
        endpoint: &str,
        proto: Box<dyn StreamProtocol>,
    ) -> Result<Opened, SimError> {
        self.connect_with(host, endpoint, proto, None)
    }

    /// [`connect`](Sim::connect) with the stack limits of the connection.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata::StackConfig;
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// // No link between them: the connect is refused at once, with its reason.
    /// let err = sim.connect_with(a, "tcp://b:80", Box::new(Nop), Some(Arc::new(StackConfig::default()))).unwrap_err();
    /// assert_eq!(err.to_string(), "no link from host a to host b");
    /// ```
    pub fn connect_with(
        &mut self,
        host: HostId,
        endpoint: &str,
        proto: Box<dyn StreamProtocol>,
        cfg: Option<Arc<StackConfig>>,
    ) -> Result<Opened, SimError> {
        let ep = Endpoint::parse_with(endpoint, &strata_tokio::registry())?;
        self.connect_endpoint(host, &ep, proto, cfg)
    }

    /// [`connect_with`](Sim::connect_with), with the endpoint parsed.
    pub(crate) fn connect_endpoint(
        &mut self,
        host: HostId,
        ep: &Endpoint,
        proto: Box<dyn StreamProtocol>,
        cfg: Option<Arc<StackConfig>>,
    ) -> Result<Opened, SimError> {
        let endpoint = ep;
        let plan = StackPlan::client(ep)?;
        let plan = self.seed_plan(plan)?;
        if plan.carries_streams() {
            let Target::Host { host: name, port } = &ep.target else {
                return Err(SimError::Unsupported {
                    what: format!("{endpoint}: a datagram transport needs a host and port"),
                });
            };
            let ip = self.resolve(name)?;
            let dst = self.host_at(ip).ok_or_else(|| SimError::NoSuchHost {
                name: ip.to_string(),
            })?;
            self.route(host, dst)?;
            let stack = cfg.unwrap_or_else(|| self.stack_cfg.clone());
            let proto = plan.connect_datagrams(proto, &stack, SocketAddr::new(ip, *port))?;
            let local = SocketAddr::new(self.host_ip(host), 0);
            let node = self.bind_udp(host, local, proto)?;
            self.udp.connect_node(node, SocketAddr::new(ip, *port));
            return Ok(Opened::Datagram(node));
        }
        let transport = plan.transport().to_string();
        let (dst, key) = match (transport.as_str(), &ep.target) {
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
        self.route(host, dst)?;
        let proto = plan.wrap(proto);
        Ok(Opened::Stream(self.open_stream(host, dst, key, proto, cfg)))
    }

    /// Checks that a link leads from `host` to `dst`.
    fn route(&self, host: HostId, dst: HostId) -> Result<(), SimError> {
        if self.links.contains_key(&pair(host, dst)) {
            return Ok(());
        }
        Err(SimError::NoRoute {
            from: self.hosts[host.0 as usize].name.clone(),
            to: self.hosts[dst.0 as usize].name.clone(),
        })
    }

    /// Binds a UDP socket of `host` at `addr` (its own address; port 0
    /// gets a free port) running `proto`; it reaches the UDP sockets of the
    /// hosts it has links to. Returns its node in [`datagrams`](Sim::datagrams).
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// struct Sink;
    /// impl DatagramProtocol for Sink {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let node = sim.bind_udp(a, "0.0.0.0:53".parse().unwrap(), Box::new(Sink)).unwrap();
    /// assert_eq!(sim.datagrams().addr(node), Some("10.0.0.1:53".parse().unwrap()));
    /// assert!(sim.bind_udp(a, "10.0.0.1:53".parse().unwrap(), Box::new(Sink)).is_err()); // in use
    /// ```
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
        let dialer = self.dialer_id(host);
        let id = self.udp.add_node_with_dialer(addr, proto, Some(dialer));
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
    ///
    /// ```
    /// use strata::{Datagram, DatagramProtocol, DatagramTransport};
    /// struct Sink;
    /// impl DatagramProtocol for Sink {
    ///     fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
    /// }
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let node = sim.bind_udp(a, "10.0.0.1:4000".parse().unwrap(), Box::new(Sink)).unwrap();
    /// assert!(sim.rebind_udp(node, "10.0.0.1:4001".parse().unwrap()));
    /// assert_eq!(sim.datagrams().addr(node), Some("10.0.0.1:4001".parse().unwrap()));
    /// ```
    pub fn rebind_udp(&mut self, node: NodeId, addr: SocketAddr) -> bool {
        let ok = self.udp.rebind(node, addr);
        self.trace_line(format_args!("rebind {node} {addr} {ok}"));
        ok
    }

    /// Every side that closed so far: the connection, whether it was the
    /// client side, and why (a host restart shows as `Io(Interrupted)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::Close;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default());
    /// sim.listen(b, "tcp://b:7", strata_cli_free_echo()).unwrap();
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Nop;
    /// # impl StreamProtocol for Nop {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// # fn strata_cli_free_echo() -> strata::StreamFactory {
    /// #     struct Bye;
    /// #     impl StreamProtocol for Bye {
    /// #         fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// #         fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #         fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// #     }
    /// #     std::sync::Arc::new(|| Box::new(Bye) as Box<dyn StreamProtocol>)
    /// # }
    /// let conn = sim.connect(a, "tcp://b:7", Box::new(Nop)).unwrap().conn().unwrap();
    /// sim.run(Duration::from_secs(1));
    /// // The server closed at once; the client closed on its EOF: both clean.
    /// let closes: Vec<_> = sim.closes().filter(|(c, _, _)| *c == conn).map(|(_, client, why)| (client, why.is_clean())).collect();
    /// assert_eq!(closes, [(false, true), (true, true)]);
    /// ```
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
