//! The PROXY protocol (HAProxy's, v1 and v2): how a load balancer tells the
//! server behind it who the client is.
//!
//! * [`ProxyProtocol`] is the receiving side, the `proxy` scheme of
//!   `proxy+tcp://` (Twisted's `haproxy:` endpoint wrapper is the anchor):
//!   it reads one header first, then is transparent, and answers
//!   [`PeerAddr`] and [`LocalAddr`] with the client's addresses from the
//!   header, so every lookup above it (and the driver's log lines) sees the
//!   real client rather than the load balancer.
//! * [`ProxySender`] is the sending side: it writes a header before the
//!   protocol above it writes anything (`strata relay` puts one on its
//!   upstream with the downstream client's addresses).
//! * [`parse`], [`encode_v1`] and [`encode_v2`] are the wire format.
//!
//! ```
//! use strata::proxy_protocol::{ProxyConfig, ProxyProtocol};
//! use strata::{Addr, PeerAddr, Stack, StreamProtocol, StreamTransport};
//!
//! struct WhoIsIt;
//! impl StreamProtocol for WhoIsIt {
//!     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
//!         let PeerAddr(peer) = t.get::<PeerAddr>().unwrap().clone();
//!         t.write(format!("hello {peer}\n").as_bytes());
//!     }
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//!
//! let mut s = Stack::memory(Box::new(ProxyProtocol::new(WhoIsIt, ProxyConfig::default())));
//! let now = s.now();
//! s.handle_input(now, b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\r\nping");
//! assert_eq!(s.take_output(now), b"hello 192.0.2.7:40000\nping");
//! ```

use std::any::{Any, TypeId};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::deadline::{after_opt, expired};
use crate::stats::Counters;
use crate::{
    AbortReason, Addr, Close, Introspect, LocalAddr, PeerAddr, StreamProtocol, StreamTransport,
    WakeRoute,
};

mod error;
mod header;

pub use error::ProxyError;
pub use header::{
    encode_v1, encode_v2, parse, Parsed, ProxyAddresses, ProxyCommand, ProxyHeader, ProxyVersion,
    SslInfo, Tlv, Versions, V1_MAX_LEN, V2_FIXED_LEN, V2_MAX_ADDRESS_LEN, V2_SIGNATURE,
};

/// The layer name of [`ProxyProtocol`], as in `layer_chain()` and endpoint
/// schemes.
pub const PROXY: &str = "proxy";

/// The default time a header may take to arrive whole: 10 s (nginx's
/// `proxy_protocol_timeout` is 30 s; a load balancer sends its header at
/// once).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The default bound on a v2 header's variable part (addresses and TLVs):
/// 4 KiB. HAProxy's headers, SSL TLVs included, are a few hundred bytes.
pub const DEFAULT_MAX_V2_LEN: usize = 4096;

/// How a [`ProxyProtocol`] layer receives.
///
/// ```
/// use strata::proxy_protocol::{ProxyConfig, Versions, DEFAULT_HEADER_TIMEOUT};
/// let cfg = ProxyConfig::default();
/// assert_eq!(cfg.versions, Versions::ANY);
/// assert_eq!(cfg.timeout, DEFAULT_HEADER_TIMEOUT);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The versions accepted (default both; `proxy.versions`).
    pub versions: Versions,
    /// How long the header may take, from the connection's start (default
    /// [`DEFAULT_HEADER_TIMEOUT`]; `proxy.timeout`, milliseconds).
    pub timeout: Duration,
    /// The longest v2 variable part accepted, in bytes (default
    /// [`DEFAULT_MAX_V2_LEN`]; `proxy.max_header`). Values below
    /// [`V2_MAX_ADDRESS_LEN`] are raised to it, so any address fits. The
    /// layer holds at most `16 +` this many bytes before the header ends.
    pub max_v2_len: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            versions: Versions::ANY,
            timeout: DEFAULT_HEADER_TIMEOUT,
            max_v2_len: DEFAULT_MAX_V2_LEN,
        }
    }
}

/// The receiving side of the PROXY protocol, as a layer.
///
/// # Driving contract
///
/// * **Header first.** Input is held (at most [`V1_MAX_LEN`] bytes for v1,
///   `16 + max_v2_len` for v2) until one whole header has arrived. The
///   inner protocol is not started before: its `connection_made` comes once
///   the header is parsed, so it already sees the client's address. Bytes
///   after the header in the same read go to it at once (or when it
///   resumes reading, if it paused in `connection_made`).
/// * **Bad headers.** Input that cannot start a header, a header that does
///   not parse, one over the bounds, an EOF inside it, or a header
///   still incomplete after [`ProxyConfig::timeout`] abort the connection
///   with `Close::aborted("proxy", AbortReason::layer(ProxyError::..))`: a
///   typed error, a log line from the driver, and nothing reaches the
///   inner protocol but `connection_lost`. An EOF before any byte (a load
///   balancer's plain TCP health check) closes quietly.
/// * **Then transparent.** Every call passes through; the view answers
///   [`PeerAddr`] (the header's source), [`LocalAddr`] (its destination)
///   and [`ProxyHeader`] (TLVs: ALPN, authority, SSL), and every other
///   lookup walks below. A v2 `LOCAL` header (a health check) or a v1
///   `UNKNOWN` one leaves the connection's own addresses in place.
///
/// ```
/// use strata::proxy_protocol::{encode_v2, ProxyConfig, ProxyProtocol};
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let mut s = Stack::memory(Box::new(ProxyProtocol::new(Echo, ProxyConfig::default())));
/// let now = s.now();
/// let mut input = encode_v2(Some(("192.0.2.1:1".parse().unwrap(), "192.0.2.2:2".parse().unwrap())), &[]);
/// input.extend_from_slice(b"hi");
/// for b in input.chunks(1) { s.handle_input(now, b) }
/// assert_eq!(s.take_output(now), b"hi");
/// ```
pub struct ProxyProtocol<P> {
    inner: P,
    cfg: ProxyConfig,
    phase: Phase,
    caps: Caps,
    /// Bytes from below (the header's too) and to below; the header is
    /// the one frame in.
    counters: Counters,
    /// The inner protocol paused reading (through the view).
    paused: bool,
    /// Input for the inner protocol held while it is paused.
    held: Vec<u8>,
    /// An EOF to deliver after `held`.
    held_eof: bool,
    lost: bool,
}

enum Phase {
    /// Reading the header since `since`; `buf` holds what arrived.
    Header {
        buf: Vec<u8>,
        since: Option<Instant>,
    },
    /// The header was read; the inner protocol runs.
    Passing,
    /// The connection was refused.
    Failed,
}

/// What the view answers, from the header.
#[derive(Default)]
struct Caps {
    peer: Option<PeerAddr>,
    local: Option<LocalAddr>,
    header: Option<ProxyHeader>,
}

impl<P: StreamProtocol> ProxyProtocol<P> {
    /// A layer that reads a header with `cfg`, then runs `inner`.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::proxy_protocol::{ProxyConfig, ProxyProtocol, Versions};
    /// let v2_only = ProxyConfig { versions: Versions::V2_ONLY, ..ProxyConfig::default() };
    /// let mut s = Stack::memory(Box::new(ProxyProtocol::new(Quiet, v2_only)));
    /// let now = s.now();
    /// s.handle_input(now, b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\n"); // a v1 header
    /// assert!(!s.finished().unwrap().is_clean()); // refused
    /// ```
    pub fn new(inner: P, cfg: ProxyConfig) -> Self {
        ProxyProtocol {
            inner,
            cfg,
            phase: Phase::Header {
                buf: Vec::new(),
                since: None,
            },
            caps: Caps::default(),
            counters: Counters::default(),
            paused: false,
            held: Vec::new(),
            held_eof: false,
            lost: false,
        }
    }

    /// The header, once read.
    ///
    /// ```
    /// use strata::proxy_protocol::{ProxyConfig, ProxyProtocol};
    /// # struct P;
    /// # impl strata::StreamProtocol for P {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// assert!(ProxyProtocol::new(P, ProxyConfig::default()).header().is_none());
    /// ```
    pub fn header(&self) -> Option<&ProxyHeader> {
        self.caps.header.as_ref()
    }

    /// The inner protocol.
    ///
    /// ```
    /// use strata::proxy_protocol::{ProxyConfig, ProxyProtocol};
    /// use strata::{Stack, StreamProtocol, StreamTransport};
    /// #[derive(Default)]
    /// struct Count(usize);
    /// impl StreamProtocol for Count {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) { self.0 += d.len() }
    ///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// }
    /// let mut s = Stack::memory(Box::new(ProxyProtocol::new(Count::default(), ProxyConfig::default())));
    /// let now = s.now();
    /// s.handle_input(now, b"PROXY UNKNOWN\r\nabc");
    /// assert_eq!(s.protocol::<ProxyProtocol<Count>>().unwrap().inner().0, 3); // the header is not its
    /// ```
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Calls the inner protocol with this layer's view, then delivers what
    /// was held while it was paused, if it resumed.
    fn call(&mut self, t: &mut dyn StreamTransport, f: impl FnOnce(&mut P, &mut ProxyView<'_>)) {
        if !matches!(self.phase, Phase::Passing) {
            return;
        }
        let mut view = ProxyView {
            lower: t,
            caps: &self.caps,
            paused: &mut self.paused,
            counters: &mut self.counters,
        };
        f(&mut self.inner, &mut view);
        self.settle(t);
    }

    fn settle(&mut self, t: &mut dyn StreamTransport) {
        while !self.paused && matches!(self.phase, Phase::Passing) {
            if !self.held.is_empty() {
                let data = std::mem::take(&mut self.held);
                let mut view = ProxyView {
                    lower: t,
                    caps: &self.caps,
                    paused: &mut self.paused,
                    counters: &mut self.counters,
                };
                self.inner.data_received(&mut view, &data);
            } else if std::mem::take(&mut self.held_eof) {
                let mut view = ProxyView {
                    lower: t,
                    caps: &self.caps,
                    paused: &mut self.paused,
                    counters: &mut self.counters,
                };
                self.inner.eof_received(&mut view);
            } else {
                break;
            }
        }
    }

    fn fail(&mut self, t: &mut dyn StreamTransport, e: ProxyError) {
        self.phase = Phase::Failed;
        t.abort(Close::aborted(PROXY, AbortReason::layer(e)));
    }

    /// Adds input to the header being read; starts the inner protocol once
    /// it is whole.
    fn header_input(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let Phase::Header { buf, .. } = &mut self.phase else {
            return;
        };
        // Never hold more than the longest header allowed: what is past it
        // can wait in `data` until the header is parsed.
        let room = (V2_FIXED_LEN + self.cfg.max_v2_len.max(V2_MAX_ADDRESS_LEN))
            .max(V1_MAX_LEN)
            .saturating_sub(buf.len());
        let take = data.len().min(room);
        buf.extend_from_slice(&data[..take]);
        let max = self.cfg.max_v2_len.max(V2_MAX_ADDRESS_LEN);
        match parse(buf, self.cfg.versions, max) {
            Ok(Parsed::Incomplete) => {}
            Err(e) => self.fail(t, e),
            Ok(Parsed::Complete { header, len }) => {
                let mut rest = buf.split_off(len);
                rest.extend_from_slice(&data[take..]);
                self.start(t, header, rest);
            }
        }
    }

    fn start(&mut self, t: &mut dyn StreamTransport, header: ProxyHeader, rest: Vec<u8>) {
        self.caps.peer = match &header.addresses {
            _ if header.command == ProxyCommand::Local => None,
            ProxyAddresses::Inet { source, .. } => Some(PeerAddr(Addr::Inet(*source))),
            ProxyAddresses::Unix { source, .. } => Some(PeerAddr(unix_addr(source))),
            ProxyAddresses::Unspecified => None,
        };
        self.caps.local = match &header.addresses {
            _ if header.command == ProxyCommand::Local => None,
            ProxyAddresses::Inet { destination, .. } => Some(LocalAddr(Addr::Inet(*destination))),
            ProxyAddresses::Unix { destination, .. } => Some(LocalAddr(unix_addr(destination))),
            ProxyAddresses::Unspecified => None,
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            let via = t.get::<PeerAddr>().map(|p| p.0.to_string());
            tracing::debug!(
                client = %client_label(&header),
                via = via.as_deref().unwrap_or("?"),
                tlvs = %tlv_summary(&header),
                "proxy: PROXY {} header read",
                header.version
            );
        }
        self.caps.header = Some(header);
        self.counters.frame_received();
        self.phase = Phase::Passing;
        self.held = rest;
        self.call(t, |p, v| p.connection_made(v));
    }
}

fn unix_addr(path: &[u8]) -> Addr {
    if path.is_empty() {
        return Addr::Unix(None);
    }
    #[cfg(unix)]
    let p = {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(path))
    };
    #[cfg(not(unix))]
    let p = PathBuf::from(String::from_utf8_lossy(path).into_owned());
    Addr::Unix(Some(p))
}

impl<P: StreamProtocol> StreamProtocol for ProxyProtocol<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Phase::Header { since, .. } = &mut self.phase {
            *since = Some(t.now());
        }
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.counters.received(data.len());
        match self.phase {
            Phase::Header { .. } => self.header_input(t, data),
            Phase::Passing if self.paused || !self.held.is_empty() => {
                self.held.extend_from_slice(data)
            }
            Phase::Passing => self.call(t, |p, v| p.data_received(v, data)),
            Phase::Failed => {}
        }
    }

    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        match self.phase {
            Phase::Passing if !self.paused && self.held.is_empty() => {
                self.counters.received(data.len());
                self.call(t, |p, v| p.data_received_bytes(v, data))
            }
            _ => self.data_received(t, &data),
        }
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        match &self.phase {
            // A connection closed before its first byte (a load balancer's
            // plain TCP health check) ends quietly.
            Phase::Header { buf, .. } if buf.is_empty() => {
                self.phase = Phase::Failed;
                t.close();
            }
            Phase::Header { buf, .. } => {
                let got = buf.len();
                self.fail(t, ProxyError::Truncated { got });
            }
            Phase::Passing if self.paused || !self.held.is_empty() => self.held_eof = true,
            Phase::Passing => self.call(t, |p, v| p.eof_received(v)),
            Phase::Failed => {}
        }
    }

    fn connection_lost(&mut self, why: &Close) {
        if std::mem::replace(&mut self.lost, true) {
            return;
        }
        self.held = Vec::new();
        if let Phase::Header { .. } = self.phase {
            self.phase = Phase::Failed;
        }
        self.inner.connection_lost(why);
    }

    fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Header { since, .. } => after_opt(*since, self.cfg.timeout),
            Phase::Passing => self.inner.next_deadline(),
            Phase::Failed => None,
        }
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        match &self.phase {
            Phase::Header { buf, since } => {
                if expired(*since, self.cfg.timeout, t.now()) {
                    let e = ProxyError::Timeout {
                        after: self.cfg.timeout,
                        got: buf.len(),
                    };
                    self.fail(t, e);
                }
            }
            Phase::Passing => self.call(t, |p, v| p.on_deadline(v)),
            Phase::Failed => {}
        }
    }

    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        match self.phase {
            Phase::Passing => self.call(t, |p, v| p.on_shutdown(v)),
            _ => t.close(),
        }
    }

    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.pause_writing(v))
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.resume_writing(v))
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.call(t, |p, v| p.on_wake(v, route))
    }

    fn buffered(&self) -> usize {
        let own = match &self.phase {
            Phase::Header { buf, .. } => buf.len(),
            _ => self.held.len(),
        };
        own.saturating_add(self.inner.buffered())
    }

    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&self.inner)
    }
}

/// The transport the inner protocol of a [`ProxyProtocol`] sees.
struct ProxyView<'a> {
    lower: &'a mut dyn StreamTransport,
    caps: &'a Caps,
    paused: &'a mut bool,
    counters: &'a mut Counters,
}

impl Introspect for ProxyView<'_> {
    fn name(&self) -> &'static str {
        PROXY
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<PeerAddr>() {
            return self.caps.peer.as_ref().map(|p| p as &dyn Any);
        }
        if id == TypeId::of::<LocalAddr>() {
            return self.caps.local.as_ref().map(|p| p as &dyn Any);
        }
        if id == TypeId::of::<ProxyHeader>() {
            return self.caps.header.as_ref().map(|p| p as &dyn Any);
        }
        if id == TypeId::of::<Counters>() {
            return Some(&*self.counters);
        }
        None
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for ProxyView<'_> {
    fn pause_reading(&mut self) {
        *self.paused = true;
        self.lower.pause_reading()
    }
    fn resume_reading(&mut self) {
        *self.paused = false;
        self.lower.resume_reading()
    }
    fn write(&mut self, data: &[u8]) {
        self.counters.sent(data.len());
        self.lower.write(data)
    }
    fn write_bytes(&mut self, data: Bytes) {
        self.counters.sent(data.len());
        self.lower.write_bytes(data)
    }
    crate::forward_to_lower!(lower: write_eof, close, abort, buffered,
        writable, now, waker, request_swap);
}

/// The sending side: writes a PROXY header before anything the protocol
/// above writes, then passes every call through.
///
/// The header is given ([`ProxySender::with_header`]) or made at
/// `connection_made` ([`ProxySender::own_addresses`], what a `proxy` scheme
/// on a connecting endpoint builds): with the addresses of a
/// [`ProxySource`] among the protocols above it (a relay's, naming the
/// client it relays), else with the connection's own (a client announcing
/// itself, its local address as the source).
///
/// ```
/// use strata::proxy_protocol::{ProxySender, ProxyVersion};
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Hello;
/// impl StreamProtocol for Hello {
///     fn connection_made(&mut self, t: &mut dyn StreamTransport) { t.write(b"hello") }
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let src = "192.0.2.1:5000".parse().unwrap();
/// let dst = "192.0.2.2:80".parse().unwrap();
/// let sender = ProxySender::with_header(Hello, ProxyVersion::V1, Some((src, dst)));
/// let mut s = Stack::memory(Box::new(sender));
/// let now = s.now();
/// assert_eq!(s.take_output(now), b"PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\nhello");
/// ```
pub struct ProxySender<P> {
    inner: P,
    version: ProxyVersion,
    /// `Some(addrs)`: the header's addresses; `None`: the connection's own.
    given: Option<Option<(SocketAddr, SocketAddr)>>,
}

impl<P: StreamProtocol> ProxySender<P> {
    /// Sends a header with these addresses (client, then the address it
    /// connected to; `None` sends v1 `UNKNOWN` / v2 `LOCAL`).
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::proxy_protocol::{parse, Parsed, ProxySender, ProxyVersion, Versions};
    /// let (src, dst) = ("192.0.2.1:5000".parse().unwrap(), "192.0.2.2:80".parse().unwrap());
    /// let mut s = Stack::memory(Box::new(ProxySender::with_header(Quiet, ProxyVersion::V2, Some((src, dst)))));
    /// let now = s.now();
    /// let out = s.take_output(now);
    /// let Ok(Parsed::Complete { header, len }) = parse(&out, Versions::V2_ONLY, 4096) else { panic!() };
    /// assert_eq!((len, header.source(), header.destination()), (out.len(), Some(src), Some(dst)));
    /// ```
    pub fn with_header(
        inner: P,
        version: ProxyVersion,
        addrs: Option<(SocketAddr, SocketAddr)>,
    ) -> Self {
        ProxySender {
            inner,
            version,
            given: Some(addrs),
        }
    }

    /// Sends a header with the addresses of the first [`ProxySource`] among
    /// the protocols above it (found through
    /// [`inner_protocol`](StreamProtocol::inner_protocol)), or else the
    /// connection's own (`LocalAddr` as the source, `PeerAddr` as the
    /// destination).
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::proxy_protocol::{ProxySender, ProxyVersion};
    /// // An in-memory connection has no IP addresses, and no ProxySource is above:
    /// // the header says UNKNOWN.
    /// let mut s = Stack::memory(Box::new(ProxySender::own_addresses(Quiet, ProxyVersion::V1)));
    /// let now = s.now();
    /// assert_eq!(s.take_output(now), b"PROXY UNKNOWN\r\n");
    /// ```
    pub fn own_addresses(inner: P, version: ProxyVersion) -> Self {
        ProxySender {
            inner,
            version,
            given: None,
        }
    }
}

/// The IP addresses of a connection, as a header's (source, destination).
fn inet_pair(t: &dyn StreamTransport) -> Option<(SocketAddr, SocketAddr)> {
    match (t.get::<LocalAddr>(), t.get::<PeerAddr>()) {
        (Some(LocalAddr(Addr::Inet(l))), Some(PeerAddr(Addr::Inet(p)))) => Some((*l, *p)),
        _ => None,
    }
}

impl<P: StreamProtocol> StreamProtocol for ProxySender<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let addrs = match self.given {
            Some(given) => given,
            None => match find_source(&self.inner) {
                Some(src) => src.addrs,
                None => inet_pair(t),
            },
        };
        let header = match self.version {
            ProxyVersion::V1 => encode_v1(addrs),
            ProxyVersion::V2 => encode_v2(addrs, &[]),
        };
        t.write(&header);
        self.inner.connection_made(t)
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner.data_received(t, data)
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.inner.data_received_bytes(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(t)
    }
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&self.inner)
    }
    crate::forward_to_inner!(inner, except connection_made);
}

/// The TLVs a log line shows: ALPN, authority, the client's TLS version
/// and certificate CN, and how many others.
fn tlv_summary(h: &ProxyHeader) -> String {
    let mut parts = Vec::new();
    if let Some(a) = h.alpn() {
        parts.push(format!("alpn={}", String::from_utf8_lossy(a)));
    }
    if let Some(a) = h.authority() {
        parts.push(format!("authority={a}"));
    }
    if let Some(ssl) = h.ssl() {
        parts.push(format!("ssl={}", ssl.version.as_deref().unwrap_or("?")));
        if let Some(cn) = ssl.cn {
            parts.push(format!("cn={cn}"));
        }
    }
    let known = [Tlv::ALPN, Tlv::AUTHORITY, Tlv::SSL];
    let others = h.tlvs.iter().filter(|t| !known.contains(&t.kind)).count();
    if others > 0 {
        parts.push(format!("+{others}"));
    }
    if parts.is_empty() {
        parts.push("none".into());
    }
    parts.join(" ")
}

/// Names, for a [`ProxySender`] below it, the addresses its header is to
/// carry: a relay wraps its upstream side in one with the client's
/// addresses, so every `proxy` layer of the upstream chain, above or below
/// TLS, announces the client rather than the relay. Otherwise a
/// pass-through.
///
/// ```
/// use strata::proxy_protocol::{ProxySender, ProxySource, ProxyVersion};
/// use strata::{Stack, StreamProtocol, StreamTransport};
/// struct Quiet;
/// impl StreamProtocol for Quiet {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let client = "203.0.113.5:4000".parse().unwrap();
/// let seen_at = "198.51.100.1:443".parse().unwrap();
/// let above: Box<dyn StreamProtocol> = Box::new(ProxySource::new(Box::new(Quiet), Some((client, seen_at))));
/// let mut s = Stack::memory(Box::new(ProxySender::own_addresses(above, ProxyVersion::V1)));
/// let now = s.now();
/// assert_eq!(s.take_output(now), b"PROXY TCP4 203.0.113.5 198.51.100.1 4000 443\r\n");
/// ```
pub struct ProxySource {
    inner: Box<dyn StreamProtocol>,
    addrs: Option<(SocketAddr, SocketAddr)>,
}

impl ProxySource {
    /// `inner`, announcing `addrs` (the client, then the address it
    /// connected to; `None`: no addresses, v1 `UNKNOWN` / v2 `LOCAL`).
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::proxy_protocol::ProxySource;
    /// let client = "203.0.113.5:4000".parse().unwrap();
    /// let at = "198.51.100.1:443".parse().unwrap();
    /// let src = ProxySource::new(Box::new(Quiet), Some((client, at)));
    /// assert_eq!(src.addresses(), Some((client, at)));
    /// ```
    pub fn new(inner: Box<dyn StreamProtocol>, addrs: Option<(SocketAddr, SocketAddr)>) -> Self {
        ProxySource { inner, addrs }
    }

    /// The addresses it announces.
    ///
    /// ```
    /// # use strata::{Stack, StreamProtocol, StreamTransport};
    /// # struct Quiet;
    /// # impl StreamProtocol for Quiet {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// use strata::proxy_protocol::ProxySource;
    /// let none = ProxySource::new(Box::new(Quiet), None); // v1 UNKNOWN / v2 LOCAL
    /// assert_eq!(none.addresses(), None);
    /// ```
    pub fn addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.addrs
    }
}

impl StreamProtocol for ProxySource {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.inner.data_received(t, data)
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.inner.data_received_bytes(t, data)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(t)
    }
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&*self.inner)
    }
    crate::forward_to_inner!(inner);
}

/// The first [`ProxySource`] in `p` or the protocols it wraps (the walk of
/// `Stack::protocol`: through boxes and `inner_protocol`).
fn find_source(p: &dyn StreamProtocol) -> Option<&ProxySource> {
    let mut p = p;
    // Each turn goes one layer (or one box) down: the chain is finite.
    loop {
        let any: &dyn Any = p;
        if let Some(found) = any.downcast_ref::<ProxySource>() {
            return Some(found);
        }
        p = match any.downcast_ref::<Box<dyn StreamProtocol>>() {
            Some(b) => &**b,
            None => p.inner_protocol()?,
        };
    }
}

/// The header's client, for a log line: its address, `local` for a v2
/// `LOCAL` header, `unknown` when it carries none.
///
/// ```
/// use strata::proxy_protocol::{client_label, parse, Parsed, Versions};
/// let Ok(Parsed::Complete { header, .. }) =
///     parse(b"PROXY UNKNOWN\r\n", Versions::ANY, 4096) else { panic!() };
/// assert_eq!(client_label(&header), "unknown");
/// ```
pub fn client_label(h: &ProxyHeader) -> String {
    match (&h.command, &h.addresses) {
        (ProxyCommand::Local, _) => "local".into(),
        (_, ProxyAddresses::Inet { source, .. }) => source.to_string(),
        (_, ProxyAddresses::Unix { source, .. }) => unix_addr(source).to_string(),
        (_, ProxyAddresses::Unspecified) => "unknown".into(),
    }
}
