//! # strata: protocols written once, run over any transport
//!
//! strata composes network protocols as *layers*. Every layer is a
//! **protocol** to the transport below it and a **transport** to the protocol
//! above it (Twisted's model, typed and sans-IO). The canonical stack:
//!
//! ```text
//! driver <-> TCP <-> TLS <-> H2 connection <-> H2 stream <-> your protocol
//! ```
//!
//! There are two families that never mix: **streams** ([`StreamProtocol`],
//! [`StreamTransport`]: ordered bytes) and **datagrams** ([`DatagramProtocol`],
//! [`DatagramTransport`]: whole messages that may be lost). Crossing between
//! them takes an explicit mapping layer such as
//! [`framing::LengthPrefixed`].
//!
//! ## How to read this crate
//!
//! * [`stream`] states the driving contract: context passing, the owner rule,
//!   the settle step, injected time. [`datagram`] mirrors it.
//! * [`Stack`] is the bottom slot that runs the settle step; the tokio driver
//!   (`strata-tokio`) and the [`testing`] kit both drive one.
//! * [`framing::Lines`] is a complete small layer: read it to learn how to
//!   write your own (and `docs/first-layer.md` walks through one).
//!
//! A layer never touches a socket, a thread or the system clock: input
//! arrives as calls, output leaves through the transport it was given, time is
//! `t.now()`, timers are `next_deadline`/`on_deadline` (a layer keeps its own
//! in a [`timer::TimerTable`], saturating by construction).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod close;
pub mod control;
pub mod datagram;
mod datagram_stack;
pub mod deadline;
mod dial;
pub mod endpoint;
pub mod fault;
mod forward;
pub mod framing;
pub mod http;
mod introspect;
mod outbuf;
pub mod proxy_protocol;
pub mod qlog;
pub mod quic;
pub mod reliable;
pub mod routing;
mod slot;
mod stack;
pub mod stats;
pub mod stream;
pub mod testing;
pub mod timer;
pub mod tls;
mod wake;

#[doc(hidden)]
pub use bytes::Bytes as __Bytes;
pub use close::{AbortReason, Close, Timeout};
pub use control::{Call, Control};
pub use datagram::{Datagram, DatagramProtocol, DatagramTransport, Ecn, Transmit};
pub use datagram_stack::{DatagramInfo, DatagramStack, OwnedTransmit};
pub use dial::{Dial, DialError, DialGuard, Dialer, DialerId};
pub use fault::{Fault, LayerError};
#[doc(hidden)]
pub use introspect::__type_id_of;
pub use introspect::{
    Addr, AppProtocol, HalfClose, Introspect, LocalAddr, PeerAddr, ReliableDelivery,
};
pub use slot::ProtocolSlot;
pub use stack::{BottomInfo, Stack, StackConfig};
pub use stream::{
    InsertFn, StreamFactory, StreamLayer, StreamProtocol, StreamTransport, SwapError, SwapRequest,
};
pub use wake::{Wake, WakeHub, WakeRoute};

/// The guides in `docs/` whose code blocks run as doctests, so they compile
/// against the API they describe (`cargo test -p strata --doc`).
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/first-layer.md")]
    struct FirstLayer;
    #[doc = include_str!("../../../docs/http.md")]
    struct Http;
    #[doc = include_str!("../../../docs/quic.md")]
    struct Quic;
    #[doc = include_str!("../../../docs/proxy.md")]
    struct Proxy;
    #[doc = include_str!("../../../docs/websocket.md")]
    struct WebSocket;
    #[doc = include_str!("../../../docs/observability.md")]
    struct Observability;
    #[doc = include_str!("../../../docs/guide.md")]
    struct Guide;
}
