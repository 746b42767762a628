//! Why the simulator refused a listen or a connect.

use std::net::IpAddr;

use strata::endpoint::EndpointError;

/// Why a listen, a connect or a fault script was refused. Each names what
/// it could not use.
///
/// ```
/// use strata::{StreamProtocol, StreamTransport};
/// struct Nop;
/// impl StreamProtocol for Nop {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let mut sim = strata_sim::Sim::new(1);
/// let h = sim.add_host("a", "10.0.0.1".parse().unwrap());
/// let err = sim.connect(h, "tcp://nowhere:80", Box::new(Nop)).unwrap_err();
/// assert_eq!(err.to_string(), "no simulated host is named nowhere");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The endpoint string does not parse.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// No host has this name.
    #[error("no simulated host is named {name}")]
    NoSuchHost {
        /// The name.
        name: String,
    },
    /// A host listened on an address that is not its own.
    #[error("host {host} has no address {addr}")]
    NotOwnAddress {
        /// The host's name.
        host: String,
        /// The address it asked for.
        addr: IpAddr,
    },
    /// The host already listens there.
    #[error("{what} is already in use on host {host}")]
    InUse {
        /// The host's name.
        host: String,
        /// The port or path.
        what: String,
    },
    /// No link leads from one host to the other.
    #[error("no link from host {from} to host {to}")]
    NoRoute {
        /// The connecting host's name.
        from: String,
        /// The other host's name.
        to: String,
    },
    /// The endpoint needs something the simulator cannot build.
    #[error("the simulator cannot build {what}")]
    Unsupported {
        /// What.
        what: String,
    },
    /// A layer of the endpoint could not be built (a bad option, a
    /// certificate that does not load): the driver's own error.
    #[error(transparent)]
    Layer(#[from] strata_tokio::DriverError),
    /// A line of a fault script is wrong.
    #[error("fault script line {line}: {why}")]
    Script {
        /// The line number (from 1).
        line: usize,
        /// What is wrong with it.
        why: String,
    },
}
