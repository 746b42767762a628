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
//! `t.now()`, timers are `next_deadline`/`on_deadline`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod close;
pub mod datagram;
mod datagram_stack;
pub mod deadline;
pub mod endpoint;
mod forward;
pub mod framing;
pub mod http;
mod introspect;
mod outbuf;
pub mod reliable;
mod slot;
mod stack;
pub mod stream;
pub mod testing;
pub mod tls;
mod wake;

#[doc(hidden)]
pub use bytes::Bytes as __Bytes;
pub use close::{AbortReason, Close, Timeout};
pub use datagram::{Datagram, DatagramProtocol, DatagramTransport, Ecn, Transmit};
pub use datagram_stack::{DatagramInfo, DatagramStack, OwnedTransmit};
#[doc(hidden)]
pub use introspect::__type_id_of;
pub use introspect::{Addr, AppProtocol, HalfClose, Introspect, LocalAddr, PeerAddr, Reliable};
pub use slot::ProtocolSlot;
pub use stack::{BottomInfo, Stack, StackConfig};
pub use stream::{InsertFn, StreamLayer, StreamProtocol, StreamTransport, SwapError, SwapRequest};
pub use wake::{Wake, WakeHub, WakeRoute};
