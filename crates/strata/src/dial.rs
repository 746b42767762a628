//! [`Dialer`]: the capability to open a new connection from inside a
//! stack, answered by whichever driver runs it.
//!
//! A relay, a proxy or a client that fans out needs to connect somewhere
//! while it handles a connection. A layer may not touch sockets or a
//! runtime, so it asks its transport: `t.get::<Dialer>()`. The bottom of
//! every stack a driver runs answers with the driver's dialer (the tokio
//! driver spawns a real connect; the simulator opens a simulated one from
//! the same host), so a protocol written once runs on either driver
//! unchanged. Any layer's child finds it: the lookup walks down through
//! TLS, an HTTP/2 stream, a QUIC stream or a stream carried by the
//! reliable mapping to the bottom that answers.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use strata::endpoint::Endpoint;
//! use strata::{BottomInfo, Dialer, Stack, StackConfig, StreamProtocol, StreamTransport};
//!
//! /// Connects to a fixed endpoint once its own connection is made.
//! struct Fanout;
//! impl StreamProtocol for Fanout {
//!     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
//!         let ep = Endpoint::parse("tcp://10.0.0.2:80").unwrap();
//!         let dialer = t.get::<Dialer>().expect("the driver dials").clone();
//!         dialer.dial(&ep, Box::new(Quiet), Arc::new(StackConfig::default())).unwrap();
//!     }
//!     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//! struct Quiet;
//! impl StreamProtocol for Quiet {
//!     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//!
//! // A driver that only records what it was asked for.
//! let asked = Arc::new(Mutex::new(Vec::new()));
//! let log = asked.clone();
//! let dialer = Dialer::from_fn(move |ep, _proto, _cfg| {
//!     log.lock().unwrap().push(ep.to_string());
//!     Ok(())
//! });
//! let info = BottomInfo::new("tcp").dialer(dialer.register());
//! let now = std::time::Instant::now();
//! let mut s = Stack::new(Box::new(Fanout), info, Arc::new(StackConfig::default()), now);
//! s.start(now);
//! assert_eq!(*asked.lock().unwrap(), ["tcp://10.0.0.2:80"]);
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;

use crate::endpoint::Endpoint;
use crate::{Close, StackConfig, StreamProtocol, StreamTransport};

/// What a driver does when a protocol asks it to connect: the contract
/// behind [`Dialer`].
///
/// * **Never blocks.** `dial` returns at once; connecting happens later
///   (after the current callback at the earliest), on the driver's own
///   schedule.
/// * **An endpoint the driver cannot build is an `Err` at once** (an
///   unknown scheme, a bad option, a transport it does not have), and
///   `proto` is dropped without a callback.
/// * **Otherwise the outcome reaches `proto`**, exactly once: either
///   `connection_made` (then it runs like any connected protocol, inside
///   the endpoint's layers), or `connection_lost(why)` *without*
///   `connection_made` when connecting fails: refused, unreachable, the
///   name does not resolve, a carrier's handshake failed.
/// * **The driver adds no timeout of its own**: it applies only the
///   failures of its network (the operating system's, or the simulated
///   one's). How long to wait is the caller's business: a deadline of the
///   protocol that dialed (a relay closes its client when the upstream
///   connection is not made in time).
///
/// [`DialGuard`] gives a driver the "exactly once" part: a protocol lost
/// on a failure path is handed back to be told why.
///
/// ```
/// use std::sync::Arc;
/// use strata::endpoint::Endpoint;
/// use strata::{Dial, DialError, StackConfig, StreamProtocol};
///
/// /// A driver that can build nothing.
/// struct Nowhere;
/// impl Dial for Nowhere {
///     fn dial(&self, ep: &Endpoint, _: Box<dyn StreamProtocol>, _: Arc<StackConfig>) -> Result<(), DialError> {
///         Err(DialError::Stopped { endpoint: ep.to_string() })
///     }
/// }
/// let d = strata::Dialer::new(Nowhere);
/// # struct Q;
/// # impl StreamProtocol for Q {
/// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
/// # }
/// let ep = Endpoint::parse("tcp://10.0.0.2:80").unwrap();
/// let err = d.dial(&ep, Box::new(Q), Arc::default()).unwrap_err();
/// assert_eq!(err.to_string(), "cannot dial tcp://10.0.0.2:80: the driver stopped");
/// ```
pub trait Dial: Send + Sync + 'static {
    /// Starts connecting to `endpoint` and runs `proto` (inside the
    /// endpoint's layers) over the connection, with `cfg`'s limits. See
    /// the trait's contract.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use strata::endpoint::Endpoint;
    /// use strata::{Close, Dial, DialError, StackConfig, StreamProtocol, StreamTransport};
    ///
    /// /// A network where every connect is refused: the protocol hears it.
    /// struct Refusing;
    /// impl Dial for Refusing {
    ///     fn dial(&self, _: &Endpoint, mut proto: Box<dyn StreamProtocol>, _: Arc<StackConfig>) -> Result<(), DialError> {
    ///         proto.connection_lost(&Close::Io(std::io::ErrorKind::ConnectionRefused));
    ///         Ok(())
    ///     }
    /// }
    /// struct Upstream(Arc<Mutex<Option<String>>>);
    /// impl StreamProtocol for Upstream {
    ///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    ///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
    ///     fn connection_lost(&mut self, why: &Close) { *self.0.lock().unwrap() = Some(why.to_string()) }
    /// }
    /// let heard = Arc::new(Mutex::new(None));
    /// let ep = Endpoint::parse("tcp://10.0.0.2:80").unwrap();
    /// Refusing.dial(&ep, Box::new(Upstream(heard.clone())), Arc::default()).unwrap();
    /// assert_eq!(heard.lock().unwrap().as_deref(), Some("I/O error: connection refused"));
    /// ```
    fn dial(
        &self,
        endpoint: &Endpoint,
        proto: Box<dyn StreamProtocol>,
        cfg: Arc<StackConfig>,
    ) -> Result<(), DialError>;
}

impl<F> Dial for F
where
    F: Fn(&Endpoint, Box<dyn StreamProtocol>, Arc<StackConfig>) -> Result<(), DialError>
        + Send
        + Sync
        + 'static,
{
    fn dial(
        &self,
        endpoint: &Endpoint,
        proto: Box<dyn StreamProtocol>,
        cfg: Arc<StackConfig>,
    ) -> Result<(), DialError> {
        self(endpoint, proto, cfg)
    }
}

/// The capability to open connections, as a stack's bottom answers it:
/// `t.get::<Dialer>()`. Cheap to clone (one `Arc`); see [`Dial`] for what
/// a dial promises.
///
/// ```
/// use strata::{BottomInfo, Dialer};
/// let d = Dialer::from_fn(|_, _, _| Ok(()));
/// let info = BottomInfo::new("tcp").dialer(d.clone().register());
/// assert!(info.dialer.is_some());
/// assert_eq!(format!("{d:?}"), "Dialer");
/// ```
#[derive(Clone)]
pub struct Dialer(Arc<dyn Dial>);

impl Dialer {
    /// A dialer that asks `driver`.
    ///
    /// ```
    /// use strata::{Dial, Dialer};
    /// # use std::sync::Arc;
    /// struct Refuse;
    /// impl Dial for Refuse {
    ///     fn dial(&self, ep: &strata::endpoint::Endpoint, mut p: Box<dyn strata::StreamProtocol>, _: Arc<strata::StackConfig>) -> Result<(), strata::DialError> {
    ///         p.connection_lost(&strata::Close::Io(std::io::ErrorKind::ConnectionRefused));
    ///         Ok(())
    ///     }
    /// }
    /// let _d = Dialer::new(Refuse);
    /// ```
    pub fn new(driver: impl Dial) -> Self {
        Dialer(Arc::new(driver))
    }

    /// A dialer from a closure with [`Dial::dial`]'s signature (test
    /// drivers, recorders).
    ///
    /// ```
    /// let d = strata::Dialer::from_fn(|_, _, _| Ok(()));
    /// # let _ = d;
    /// ```
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn(&Endpoint, Box<dyn StreamProtocol>, Arc<StackConfig>) -> Result<(), DialError>
            + Send
            + Sync
            + 'static,
    {
        Dialer(Arc::new(f))
    }

    /// Starts connecting to `endpoint`, running `proto` over the
    /// connection: see [`Dial`] for the contract (never blocks; an
    /// unbuildable endpoint is an `Err` at once; otherwise `proto` hears
    /// `connection_made` or `connection_lost`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # struct Q;
    /// # impl strata::StreamProtocol for Q {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let d = strata::Dialer::from_fn(|_, _, _| Ok(()));
    /// let ep = strata::endpoint::Endpoint::parse("tcp://10.0.0.2:80").unwrap();
    /// assert!(d.dial(&ep, Box::new(Q), Arc::default()).is_ok());
    /// ```
    pub fn dial(
        &self,
        endpoint: &Endpoint,
        proto: Box<dyn StreamProtocol>,
        cfg: Arc<StackConfig>,
    ) -> Result<(), DialError> {
        self.0.dial(endpoint, proto, cfg)
    }
}

impl Dialer {
    /// Registers this dialer for the life of the process and returns the
    /// compact id a stack's [`BottomInfo`](crate::BottomInfo) (or
    /// [`DatagramInfo`](crate::DatagramInfo)) carries.
    ///
    /// Why an id: the bottom info lives in every connection, and an idle
    /// connection's memory is a headline number; a `u32` fits in the
    /// padding the info already has, where a pointer would grow every
    /// connection (the tokio driver's task cell by a 128-byte step). The
    /// price is that a registration is never freed: register once per
    /// dialer a driver keeps (`strata-tokio`: once per process; the
    /// simulator reuses its registrations from one world to the next).
    ///
    /// ```
    /// let id = strata::Dialer::from_fn(|_, _, _| Ok(())).register();
    /// let again = id.dialer().clone().register();
    /// assert_eq!(id, again, "the same dialer is registered once");
    /// ```
    pub fn register(self) -> DialerId {
        let mut g = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = g.iter().position(|d| Arc::ptr_eq(&d.0, &self.0)) {
            return DialerId::at(i);
        }
        g.push(Box::leak(Box::new(self)));
        DialerId::at(g.len() - 1)
    }
}

/// Every registered dialer, by id minus one; entries are never removed.
static REGISTRY: RwLock<Vec<&'static Dialer>> = RwLock::new(Vec::new());

/// A registered [`Dialer`]: what a stack's bottom info carries (4 bytes).
///
/// ```
/// use strata::{BottomInfo, Dialer};
/// let id = Dialer::from_fn(|_, _, _| Ok(())).register();
/// let info = BottomInfo::new("tcp").dialer(id);
/// assert_eq!(info.dialer, Some(id));
/// assert_eq!(std::mem::size_of::<Option<strata::DialerId>>(), 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DialerId(NonZeroU32);

impl DialerId {
    fn at(index: usize) -> DialerId {
        // More than 2^32 - 1 registrations cannot happen: each leaks memory
        // and drivers register a handful.
        let n = u32::try_from(index + 1).unwrap_or(u32::MAX);
        DialerId(NonZeroU32::new(n).unwrap_or(NonZeroU32::MAX))
    }

    /// The dialer registered under this id.
    ///
    /// ```
    /// let d = strata::Dialer::from_fn(|_, _, _| Ok(()));
    /// let id = d.register();
    /// assert_eq!(format!("{:?}", id.dialer()), "Dialer");
    /// ```
    pub fn dialer(self) -> &'static Dialer {
        let g = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
        // Ids are only made by `register`, for an entry that stays.
        g[self.0.get() as usize - 1]
    }
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dialer")
    }
}

/// Why a [`Dialer`] refused a dial at once (a connect that fails later
/// reaches the protocol as `connection_lost` instead).
///
/// ```
/// let e = strata::DialError::Stopped { endpoint: "tcp://a:1".into() };
/// assert_eq!(e.to_string(), "cannot dial tcp://a:1: the driver stopped");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// The driver cannot build this endpoint: an unknown scheme or option,
    /// a transport or target it does not have (a configuration error).
    #[error("cannot dial {endpoint}: {source}")]
    Endpoint {
        /// The endpoint, as written.
        endpoint: String,
        /// The driver's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The driver is not running any more (its runtime or world is gone).
    #[error("cannot dial {endpoint}: the driver stopped")]
    Stopped {
        /// The endpoint, as written.
        endpoint: String,
    },
}

/// For drivers: keeps the "exactly once" promise of [`Dial`] on failure
/// paths that consume the protocol.
///
/// [`DialGuard::watch`] wraps the protocol; the wrapper hands the protocol
/// back if it is dropped before it heard `connection_made` or
/// `connection_lost` (a connect that failed before any stack ran it).
/// [`fail`](DialGuard::fail) then tells it why. Once told, the wrapper
/// only passes every callback through.
///
/// ```
/// use strata::{Close, DialGuard, StreamProtocol, StreamTransport};
/// use std::sync::{Arc, Mutex};
/// struct Note(Arc<Mutex<Option<String>>>);
/// impl StreamProtocol for Note {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
///     fn connection_lost(&mut self, why: &Close) { *self.0.lock().unwrap() = Some(why.to_string()) }
/// }
/// let heard = Arc::new(Mutex::new(None));
/// let (proto, guard) = DialGuard::watch(Box::new(Note(heard.clone())));
/// drop(proto); // a connect that failed dropped it unheard
/// assert!(guard.fail(&Close::Io(std::io::ErrorKind::ConnectionRefused)));
/// assert!(heard.lock().unwrap().is_some());
/// ```
pub struct DialGuard {
    back: Arc<Mutex<Option<Box<dyn StreamProtocol>>>>,
}

impl fmt::Debug for DialGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let back = lock(&self.back).is_some();
        f.debug_struct("DialGuard")
            .field("handed_back", &back)
            .finish()
    }
}

impl DialGuard {
    /// Wraps `proto`: run the returned protocol, keep the guard.
    ///
    /// ```
    /// # struct Q;
    /// # impl strata::StreamProtocol for Q {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let (proto, guard) = strata::DialGuard::watch(Box::new(Q));
    /// let mut s = strata::Stack::memory(proto); // connection_made: told
    /// drop(s);
    /// assert!(!guard.fail(&strata::Close::Done), "nothing to tell");
    /// ```
    pub fn watch(proto: Box<dyn StreamProtocol>) -> (Box<dyn StreamProtocol>, DialGuard) {
        let back = Arc::new(Mutex::new(None));
        let w = Watched {
            inner: proto,
            told: false,
            back: back.clone(),
        };
        (Box::new(w), DialGuard { back })
    }

    /// Tells the protocol `why` with `connection_lost`, if it was dropped
    /// unheard. True if it was.
    ///
    /// ```
    /// # struct Q;
    /// # impl strata::StreamProtocol for Q {
    /// #     fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    /// # }
    /// let (proto, guard) = strata::DialGuard::watch(Box::new(Q));
    /// drop(proto);
    /// assert!(guard.fail(&strata::Close::Reset));
    /// ```
    pub fn fail(self, why: &Close) -> bool {
        let p = lock(&self.back).take();
        match p {
            Some(mut p) => {
                p.connection_lost(why);
                true
            }
            None => false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning needs a panic while the lock is held; nothing under it panics.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The protocol a [`DialGuard`] watches.
struct Watched {
    inner: Box<dyn StreamProtocol>,
    /// It heard `connection_made` or `connection_lost`.
    told: bool,
    back: Arc<Mutex<Option<Box<dyn StreamProtocol>>>>,
}

/// What stands in for a protocol handed back.
struct Gone;

impl StreamProtocol for Gone {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

impl Drop for Watched {
    fn drop(&mut self) {
        if !self.told {
            let p = std::mem::replace(&mut self.inner, Box::new(Gone));
            *lock(&self.back) = Some(p);
        }
    }
}

impl StreamProtocol for Watched {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.told = true;
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
    fn connection_lost(&mut self, why: &Close) {
        self.told = true;
        self.inner.connection_lost(why)
    }
    fn inner_protocol(&self) -> Option<&dyn StreamProtocol> {
        Some(&*self.inner)
    }
    crate::forward_to_inner!(inner, except connection_made, connection_lost);
}
