//! Errors of the driver: setting sockets up, resolving, and endpoints it cannot
//! build yet. Errors on a running connection are not here: they end the
//! connection with a typed [`strata::Close`].

use std::io;

/// Why the driver could not listen, bind or connect.
///
/// ```
/// use strata_tokio::DriverError;
/// let e = DriverError::io("connect", "127.0.0.1:1", std::io::ErrorKind::ConnectionRefused.into());
/// assert!(e.to_string().starts_with("connect 127.0.0.1:1: "));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// A system call failed; `op` and `addr` say which and where.
    #[error("{op} {addr}: {source}")]
    Io {
        /// What the driver was doing (`bind`, `listen`, `connect`).
        op: &'static str,
        /// The address or path it was doing it on.
        addr: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A host name could not be resolved.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// A host name resolved to no address at all.
    #[error("{host} resolved to no addresses")]
    NoAddresses {
        /// The name.
        host: String,
    },
    /// The endpoint names a layer or transport the driver cannot build (yet).
    #[error("the driver cannot build `{scheme}` here")]
    Unsupported {
        /// The scheme (layer name) that is not supported.
        scheme: String,
    },
    /// The endpoint gives datagrams where a stream is needed (e.g. `udp://`
    /// for a stream protocol, without a mapping layer such as `reliable+`).
    #[error("{endpoint} gives datagrams; a stream protocol needs a stream")]
    NotStream {
        /// The endpoint, as written back.
        endpoint: String,
    },
    /// An endpoint option has a value the driver cannot use.
    #[error("option {layer}.{key}: invalid value `{value}` (expected {expected})")]
    BadOption {
        /// The layer the option is for.
        layer: String,
        /// The option's key.
        key: String,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A `tls` layer could not be configured from the endpoint's options
    /// (a certificate or key file unreadable, empty, malformed or mismatched).
    #[error(transparent)]
    Tls(crate::TlsSetupError),
}

impl DriverError {
    /// An option whose value does not parse, with what would have been
    /// accepted.
    pub(crate) fn bad_option(
        e: strata::endpoint::OptionValueError,
        expected: &'static str,
    ) -> Self {
        DriverError::BadOption {
            layer: e.layer,
            key: e.key,
            value: e.value,
            expected,
        }
    }

    /// An I/O error with its context.
    ///
    /// ```
    /// use std::io;
    /// use strata_tokio::DriverError;
    /// let e = DriverError::io("bind", "127.0.0.1:80", io::Error::from(io::ErrorKind::PermissionDenied));
    /// assert!(e.to_string().starts_with("bind 127.0.0.1:80: "));
    /// assert_eq!(io::Error::from(e).kind(), io::ErrorKind::PermissionDenied);
    /// ```
    pub fn io(op: &'static str, addr: impl ToString, source: io::Error) -> Self {
        DriverError::Io {
            op,
            addr: addr.to_string(),
            source,
        }
    }
}

impl From<DriverError> for io::Error {
    fn from(e: DriverError) -> io::Error {
        match e {
            DriverError::Io { ref source, .. } => io::Error::new(source.kind(), e),
            DriverError::Resolve { .. } | DriverError::NoAddresses { .. } => {
                io::Error::new(io::ErrorKind::NotFound, e)
            }
            DriverError::Unsupported { .. } | DriverError::NotStream { .. } => {
                io::Error::new(io::ErrorKind::Unsupported, e)
            }
            DriverError::BadOption { .. } | DriverError::Tls(_) => {
                io::Error::new(io::ErrorKind::InvalidInput, e)
            }
        }
    }
}
