//! Capabilities: typed facts about a stack, looked up through every layer.

use std::any::{Any, TypeId};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What every transport, stream or datagram, tells about itself: its name and
/// the capabilities it answers locally, plus the transport below it.
///
/// A lookup (`get::<T>()`) walks from the top down and stops at the first
/// layer that answers, so a layer can override what a lower one says (a PROXY
/// protocol layer above TCP reports the client's address, not the proxy's).
/// No layer forwards by hand, so none can forget to.
///
/// ```
/// use std::any::{Any, TypeId};
/// use strata::{Introspect, PeerAddr, Addr};
/// struct Fake(PeerAddr);
/// impl Introspect for Fake {
///     fn name(&self) -> &'static str { "fake" }
///     fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
///         (id == TypeId::of::<PeerAddr>()).then_some(&self.0 as &dyn Any)
///     }
///     fn below(&self) -> Option<&dyn Introspect> { None }
/// }
/// let t = Fake(PeerAddr(Addr::Memory(7)));
/// let t: &dyn Introspect = &t;
/// assert_eq!(t.get::<PeerAddr>(), Some(&PeerAddr(Addr::Memory(7))));
/// assert_eq!(t.layer_chain(), vec!["fake"]);
/// ```
pub trait Introspect {
    /// The layer's short name, as used in endpoint schemes (`tcp`, `tls`, `lines`).
    ///
    /// ```
    /// use strata::{Introspect, testing::MemoryTransport};
    /// assert_eq!(MemoryTransport::new().name(), "memory");
    /// ```
    fn name(&self) -> &'static str;
    /// A capability this layer itself answers, by type id.
    ///
    /// ```
    /// use std::any::TypeId;
    /// use strata::{Addr, Introspect, PeerAddr, testing::MemoryTransport};
    /// let t = MemoryTransport::new().with_peer(Addr::Memory(4));
    /// let peer = t.local_capability(TypeId::of::<PeerAddr>()).and_then(|a| a.downcast_ref::<PeerAddr>());
    /// assert_eq!(peer, Some(&PeerAddr(Addr::Memory(4))));
    /// assert!(t.local_capability(TypeId::of::<String>()).is_none());
    /// ```
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        let _ = id;
        None
    }
    /// The transport below this one, if any.
    ///
    /// ```
    /// use strata::framing::{LineProtocol, Lines};
    /// use strata::{Stack, StreamTransport};
    /// #[derive(Default)]
    /// struct Names(Vec<&'static str>);
    /// impl LineProtocol for Names {
    ///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
    ///         // The lines layer's view, then the transport below it.
    ///         self.0 = vec![t.name(), t.below().unwrap().name()];
    ///     }
    ///     fn line_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) { t.close() }
    /// }
    /// let s = Stack::memory(Box::new(Lines::new(Names::default())));
    /// assert_eq!(s.protocol::<Lines<Names>>().unwrap().inner().0, ["lines", "memory"]);
    /// ```
    fn below(&self) -> Option<&dyn Introspect>;
}

impl<'a> dyn Introspect + 'a {
    /// Looks a capability up through the stack, top layer first.
    ///
    /// ```
    /// use strata::{Addr, HalfClose, Introspect, PeerAddr, StreamTransport, testing::MemoryTransport};
    /// let t = MemoryTransport::new().with_peer(Addr::Memory(4));
    /// let t: &dyn Introspect = &t;
    /// assert_eq!(t.get::<PeerAddr>(), Some(&PeerAddr(Addr::Memory(4))));
    /// assert_eq!(t.get::<HalfClose>(), Some(&HalfClose(true)));
    /// assert_eq!(t.get::<String>(), None); // nobody answers that type
    /// ```
    pub fn get<T: Any>(&self) -> Option<&T> {
        let mut cur: Option<&dyn Introspect> = Some(self);
        while let Some(t) = cur {
            if let Some(v) = t.local_capability(TypeId::of::<T>()) {
                return v.downcast_ref();
            }
            cur = t.below();
        }
        None
    }

    /// The names of the layers, top first (`["lines", "tls", "tcp"]`).
    ///
    /// ```
    /// use strata::{Introspect, testing::MemoryTransport};
    /// let t = MemoryTransport::new();
    /// let t: &dyn Introspect = &t;
    /// assert_eq!(t.layer_chain(), vec!["memory"]);
    /// ```
    pub fn layer_chain(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut cur: Option<&dyn Introspect> = Some(self);
        while let Some(t) = cur {
            out.push(t.name());
            cur = t.below();
        }
        out
    }
}

/// Answers `local_capability` for a list of fields: `capability!(id, self.peer, self.local)`.
///
/// ```
/// use std::any::{Any, TypeId};
/// use strata::{capability, Addr, Introspect, LocalAddr, PeerAddr};
/// struct Sock { peer: PeerAddr, local: LocalAddr }
/// impl Introspect for Sock {
///     fn name(&self) -> &'static str { "sock" }
///     fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
///         capability!(id, self.peer, self.local)
///     }
///     fn below(&self) -> Option<&dyn Introspect> { None }
/// }
/// let s = Sock { peer: PeerAddr(Addr::Memory(2)), local: LocalAddr(Addr::Memory(1)) };
/// let s: &dyn Introspect = &s;
/// assert_eq!(s.get::<LocalAddr>(), Some(&LocalAddr(Addr::Memory(1))));
/// assert_eq!(s.get::<PeerAddr>(), Some(&PeerAddr(Addr::Memory(2))));
/// ```
#[macro_export]
macro_rules! capability {
    ($id:expr_2021 $(, $field:expr_2021)* $(,)?) => {{
        let id: ::std::any::TypeId = $id;
        $(
            if id == $crate::__type_id_of(&$field) {
                return Some(&$field as &dyn ::std::any::Any);
            }
        )*
        None
    }};
}

#[doc(hidden)]
pub fn __type_id_of<T: Any>(_: &T) -> TypeId {
    TypeId::of::<T>()
}

/// An address at either end of a connection.
///
/// ```
/// use strata::Addr;
/// let a = Addr::Inet("[2001:db8::1]:443".parse().unwrap());
/// assert_eq!(a.to_string(), "[2001:db8::1]:443");
/// assert_eq!(Addr::Unix(Some("/run/app.sock".into())).to_string(), "unix:/run/app.sock");
/// assert_eq!(Addr::Memory(3).to_string(), "memory:3");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Addr {
    /// An IP socket address.
    Inet(SocketAddr),
    /// A Unix socket path (`None` for an unnamed socket).
    Unix(Option<PathBuf>),
    /// An in-memory endpoint of the test kit, by number.
    Memory(u64),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet(a) => write!(f, "{a}"),
            Addr::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            Addr::Unix(None) => f.write_str("unix:(unnamed)"),
            Addr::Memory(n) => write!(f, "memory:{n}"),
        }
    }
}

/// Capability: the peer's address.
///
/// ```
/// use strata::{Addr, PeerAddr, Stack, StreamProtocol, StreamTransport};
/// #[derive(Default)]
/// struct Who(Option<PeerAddr>);
/// impl StreamProtocol for Who {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { self.0 = t.get::<PeerAddr>().cloned() }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let s = Stack::memory(Box::new(Who::default()));
/// assert_eq!(s.protocol::<Who>().unwrap().0, Some(PeerAddr(Addr::Memory(2))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(
    /// The peer's address.
    pub Addr,
);

/// Capability: our own address.
///
/// ```
/// use strata::{Addr, LocalAddr, Stack, StreamProtocol, StreamTransport};
/// # struct Idle;
/// # impl StreamProtocol for Idle {
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let mut s = Stack::memory(Box::new(Idle));
/// let local = s.inspect(|t| t.get::<LocalAddr>().cloned());
/// assert_eq!(local, Some(LocalAddr(Addr::Memory(1))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalAddr(
    /// Our address.
    pub Addr,
);

/// Capability: whether `write_eof` really half-closes (the peer sees EOF while
/// we keep reading). It may change during a connection, e.g. once a TLS
/// handshake has chosen a version. When false, `write_eof` closes both ways.
///
/// ```
/// use strata::{BottomInfo, HalfClose};
/// let mut info = BottomInfo::new("tls");
/// info.half_close = HalfClose(false); // write_eof closes both ways here
/// assert!(!info.half_close.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HalfClose(
    /// True when `write_eof` half-closes.
    pub bool,
);

/// Capability: the application protocol agreed by a layer below that
/// negotiates one (ALPN: TLS today, QUIC next). A layer above reads this
/// core type, never the negotiating layer's own types, so HTTP does not
/// depend on TLS.
///
/// ```
/// use strata::AppProtocol;
/// let agreed = AppProtocol::Agreed(Some(b"h2".to_vec()));
/// assert_eq!(agreed.alpn(), Some(&b"h2"[..]));
/// assert_eq!(AppProtocol::Negotiating.alpn(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppProtocol {
    /// The handshake that chooses it has not finished.
    Negotiating,
    /// The handshake finished: the protocol agreed, or `None` when the peers
    /// agreed on none.
    Agreed(Option<Vec<u8>>),
}

impl AppProtocol {
    /// The agreed protocol's name, once there is one.
    ///
    /// ```
    /// use strata::AppProtocol;
    /// assert_eq!(AppProtocol::Agreed(Some(b"http/1.1".to_vec())).alpn(), Some(&b"http/1.1"[..]));
    /// assert_eq!(AppProtocol::Agreed(None).alpn(), None);
    /// ```
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            AppProtocol::Agreed(Some(p)) => Some(p),
            _ => None,
        }
    }
}

/// Capability: the transport delivers every byte or datagram exactly once and
/// in order (a stream, or datagrams framed over a stream).
///
/// A stream stack's bottom answers it with `true`, and so does any layer that
/// carries a reliable stream over datagrams, for the protocol above it.
///
/// ```
/// use strata::{Introspect, ReliableDelivery, Stack, StreamProtocol, StreamTransport};
/// struct Check;
/// impl StreamProtocol for Check {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
///         assert_eq!(t.get::<ReliableDelivery>(), Some(&ReliableDelivery(true)));
///     }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let _stream_stack = Stack::memory(Box::new(Check));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReliableDelivery(
    /// True when every byte written arrives, in order, or the connection fails.
    pub bool,
);
