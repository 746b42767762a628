//! What the scheme table is made of: the contract between the driver's
//! endpoint glue and each scheme it can build. A scheme is a transport the
//! driver opens ([`Open`]: `tcp`, `unix`, `udp`), a layer it wraps around
//! the protocol above over a stream ([`WrapBuilder`]: `tls`, and `reliable`
//! as a pass-through), or a layer that carries streams over datagrams
//! ([`Carry`]: `reliable`, `quic`). The table itself is in
//! `scheme` module; this module names no scheme.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use strata::endpoint::Endpoint;
use strata::tls::TlsConfig;
use strata::{Addr, Close, DatagramProtocol, StackConfig, StreamProtocol};
use tokio::task::JoinHandle;

use crate::config::ListenConfig;
use crate::connect::Connection;
use crate::control::Shared;
use crate::error::DriverError;
use crate::tls::TlsIdentity;
use strata::StreamFactory;

/// Which end of the connection a layer is built for: TLS, for one, needs it,
/// and it is not always the end that connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

/// Builds one layer around the protocol above it.
pub(crate) type LayerWrap =
    Arc<dyn Fn(Box<dyn StreamProtocol>) -> Box<dyn StreamProtocol> + Send + Sync>;

/// What the builders of one endpoint's layers share: the endpoint, the role,
/// and what is worth making once for the whole chain (`tls+tls+tcp` reads
/// its files, or makes its certificate, once).
pub(crate) struct LayerCx<'a> {
    pub(crate) ep: &'a Endpoint,
    pub(crate) role: Role,
    /// The identity a TLS server presents, when the caller gave one.
    pub(crate) identity: Option<TlsIdentity>,
    /// The TLS configuration, once the first `tls` layer has made it.
    pub(crate) tls: Option<TlsConfig>,
    /// The identity a server's `tls` layer presents, once made (kept apart
    /// from `identity`: QUIC below it makes its own from `quic.*`).
    pub(crate) tls_identity: Option<TlsIdentity>,
    /// A simulation's seed (`StackPlan::seeded`): every random choice of
    /// the layers comes from it. Always `None` in the real driver.
    pub(crate) seed: Option<u64>,
}

impl LayerCx<'_> {
    /// The seed of `layer`'s random choices, derived from the plan's seed
    /// (so that two layers of one chain draw apart); `None` without one.
    pub(crate) fn seed_for(&self, layer: &str) -> Option<u64> {
        let seed = self.seed?;
        // FNV-1a of the name, mixed into the seed by splitmix64's finalizer.
        let label = layer.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut z = seed ^ label;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Some(z ^ (z >> 31))
    }
}

/// Makes the wrapper of a layer over a stream, from the endpoint's options
/// for it (checked here, once, not per connection).
pub(crate) type WrapBuilder = fn(&mut LayerCx<'_>) -> Result<LayerWrap, DriverError>;

/// What the driver's async entry points return: set-up time only, never a
/// per-connection path.
pub(crate) type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, DriverError>> + Send + 'a>>;

/// Makes the datagram protocol of one more bound socket.
pub(crate) type MakeDatagram<'a> = dyn FnMut() -> Made + Send + 'a;

/// A stream transport's listen: binds what the endpoint names, serves the
/// factory's protocols; returns the bound address.
pub(crate) type ListenStreams =
    for<'a> fn(&'a Arc<Shared>, &'a Endpoint, StreamFactory, ListenConfig) -> Fut<'a, Addr>;

/// A stream transport's connect: connects and runs the protocol.
pub(crate) type ConnectStream =
    for<'a> fn(&'a Endpoint, Box<dyn StreamProtocol>, Arc<StackConfig>) -> Fut<'a, Connection>;

/// A datagram transport's bind: every address the endpoint resolves to
/// (those that bind), each socket running a protocol from the maker;
/// returns the first bound.
pub(crate) type BindDatagrams = for<'a> fn(
    &'a Arc<Shared>,
    &'a Endpoint,
    &'a mut MakeDatagram<'a>,
    Arc<StackConfig>,
) -> Fut<'a, Addr>;

/// A socket's task, which ends with the stack's reason.
pub(crate) type Task = JoinHandle<Close>;

/// A datagram transport's connect: a socket connected to the endpoint's
/// (first) address running the protocol; the peer and the task.
pub(crate) type ConnectDatagrams = for<'a> fn(
    &'a Endpoint,
    Box<dyn DatagramProtocol>,
    Arc<StackConfig>,
) -> Fut<'a, (SocketAddr, Task)>;

/// What a layer that carries streams makes, or why it cannot.
pub(crate) type Made = Result<Box<dyn DatagramProtocol>, DriverError>;

/// How the driver opens a transport (the last scheme of a chain).
#[derive(Clone, Copy)]
pub(crate) enum Open {
    /// A stream transport: listens with a factory of stream protocols,
    /// connects with one.
    Stream {
        /// See [`ListenStreams`].
        listen: ListenStreams,
        /// See [`ConnectStream`].
        connect: ConnectStream,
    },
    /// A datagram transport: a socket per bound address runs a datagram
    /// protocol (made by the layer above it, a [`Carry`]).
    Datagram {
        /// See [`BindDatagrams`].
        bind: BindDatagrams,
        /// See [`ConnectDatagrams`].
        connect: ConnectDatagrams,
    },
}

/// How a layer carries streams over a datagram transport: the reliable
/// mapping, QUIC.
#[derive(Clone, Copy)]
pub(crate) struct Carry {
    /// The server side: the datagram protocol of one socket, serving the
    /// factory's protocols (made once per bound socket; what is worth
    /// making once per endpoint, such as a server identity, is kept in the
    /// context for the next socket).
    pub(crate) serve: fn(&mut LayerCx<'_>, &StreamFactory, &ListenConfig) -> Made,
    /// The client side: the datagram protocol of one socket connected to
    /// the peer (the endpoint's address, resolved), running the protocol
    /// above once its handshake is done.
    pub(crate) connect: fn(&LayerCx<'_>, Box<dyn StreamProtocol>, &StackConfig, SocketAddr) -> Made,
}
