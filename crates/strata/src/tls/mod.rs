//! TLS over any stream transport, on rustls' buffered sans-IO API.
//!
//! [`Tls<P>`](Tls) is a stream protocol to the transport below it and
//! presents a transport named `tls` to the protocol `P` above it. The role
//! (client or server) comes from [`TlsConfig`], not from who connected, so a
//! server socket can run a TLS client and STARTTLS works in either direction.
//!
//! # Driving contract
//!
//! `Tls` follows the [stream contract](crate::stream) (context passing, the
//! owner rule, a settle step after every call into its inner protocol):
//!
//! * **Start.** On `connection_made` (or, for a layer inserted with
//!   [`starttls`], on the first call with a transport) the layer starts the
//!   handshake clock and sends what rustls says first (a client's
//!   ClientHello). The inner protocol gets `connection_made` at once, not
//!   after the handshake: what it writes meanwhile is queued in rustls and
//!   sent, in order, as soon as the handshake completes.
//! * **Input.** Every chunk from below goes through `read_tls` →
//!   `process_new_packets`; handshake records are answered at once; plaintext
//!   is handed up in chunks of at most 16 KiB, only once decrypted. The
//!   peer's `close_notify` becomes `eof_received` after the plaintext before
//!   it. An EOF from below *without* `close_notify` ends the connection with
//!   [`TlsError::HandshakeTruncated`] or [`TlsError::Truncated`] (the data
//!   may have been cut short), after the plaintext that did arrive.
//! * **Read pause.** `pause_reading` on the view stops handing plaintext up
//!   (even between two chunks of one input). Input keeps being processed
//!   until rustls holds 16 KiB of plaintext; the rest of the ciphertext is
//!   held, and past [`TlsLimits::max_held_input`] reading below is paused
//!   too. `resume_reading` delivers what was held when the inner callback
//!   returns.
//! * **Output and back-pressure.** TLS records go below as soon as rustls
//!   makes them. `writable()` is false while the handshake runs (more
//!   precisely, once [`TlsLimits::handshake_write_limit`] bytes of plaintext
//!   wait for it: 0 by default, so `resume_writing` marks the handshake's
//!   end), or when the transport below is not writable; `pause_writing` and
//!   `resume_writing` reach the inner protocol once for both causes together.
//!   `buffered()` is the queued plaintext plus what lies below, and
//!   [`StreamProtocol::buffered`](crate::StreamProtocol::buffered) reports the plaintext so the stack's
//!   watermarks and memory budget count it.
//! * **Close.** `close()` sends `close_notify`, then closes below (after the
//!   handshake, if it is still running, so queued plaintext goes first).
//!   `write_eof()` sends `close_notify` and keeps reading where the
//!   [`HalfClose`](crate::HalfClose) capability is true — TLS 1.3 only; on
//!   TLS 1.2 it closes. Asked for before the handshake completes (when the
//!   version is not known yet), `write_eof` is remembered and carried out
//!   once it completes, after the plaintext queued before it; a later
//!   `close` overrides it. Writes after either are ignored. The handshake
//!   timeout bounds both waits. `abort` passes down.
//! * **Errors.** A rustls error sends the alert rustls queued, then ends the
//!   connection: the inner protocol's `connection_lost` gets
//!   `Close::Aborted { layer: "tls", reason: AbortReason::Layer(..) }`;
//!   `why.error::<TlsError>()` reads it, `why.kind()` says who is at fault.
//!   With an alert to deliver the transport below is closed gracefully so
//!   the alert reaches the peer; with none it is aborted with that reason.
//!   Plaintext still queued (for the handshake, or in the protocol above)
//!   can never be sent: from then on `buffered()` is 0, so the stack
//!   finishes as soon as the alert is flushed, not at its close timeout.
//!   Nothing panics on peer input; rustls bounds handshake messages (64 KiB)
//!   and records (16 KiB).
//! * **Time.** The handshake must complete within
//!   [`TlsLimits::handshake_timeout`] (10 s by default), else the connection
//!   is aborted with `Close::Timeout(Timeout::Handshake)`. `next_deadline`
//!   is the earlier of that and the inner protocol's. rustls checks
//!   certificate validity against its own `TimeProvider` (the wall clock by
//!   default), configured on the rustls config.
//! * **Wakes and shutdown** pass to the inner protocol unchanged.
//! * **Capabilities.** The view answers [`TlsInfo`] once the handshake is
//!   done and [`HalfClose`](crate::HalfClose) always; every other lookup
//!   walks below (`layer_chain()` is `["tls", ...]`).
//! * **Swaps.** `Tls` is a swap point: it holds the protocol above in a
//!   [`ProtocolSlot`](crate::ProtocolSlot), so a swap asked for above TLS
//!   (an HTTP version chosen by ALPN, STARTTLS for TLS in TLS) is applied
//!   above this layer, which stays in place. `Tls` can itself be inserted
//!   below a running protocol ([`starttls`]).
//!
//! The configurations come from the sans-IO builders of this module
//! ([`Identity`], [`ServerTls`], [`ClientTls`], [`roots_from_pem`]), or from
//! a rustls configuration built by hand ([`TlsConfig::server`],
//! [`TlsConfig::client`]):
//!
//! ```
//! use strata::tls::{roots_from_pem, ClientTls, Identity, ServerTls, Tls, TlsInfo};
//! use strata::testing::Pump;
//! use strata::{StreamProtocol, StreamTransport};
//!
//! let id = Identity::self_signed(&["example.test"]).unwrap();
//! let server = ServerTls::new(&id).build().unwrap();
//! let roots = roots_from_pem(id.certificate_pem().as_bytes()).unwrap();
//! let client = ClientTls::new("example.test").unwrap().roots(roots).build().unwrap();
//!
//! struct Ping;
//! impl StreamProtocol for Ping {
//!     fn connection_made(&mut self, t: &mut dyn StreamTransport) {
//!         t.write(b"ping");
//!         t.close();
//!     }
//!     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//! struct Check;
//! impl StreamProtocol for Check {
//!     fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
//!         assert_eq!(data, b"ping");
//!         assert_eq!(t.layer_chain(), ["tls", "memory"]);
//!         assert_eq!(t.get::<TlsInfo>().unwrap().server_name.as_deref(), Some("example.test"));
//!     }
//!     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
//! }
//! let a = Tls::new(Ping, &client).unwrap();
//! let b = Tls::new(Check, &server).unwrap();
//! let mut pump = Pump::new(Box::new(a), Box::new(b));
//! pump.run(std::time::Duration::from_secs(1));
//! assert!(pump.b().finished().unwrap().is_clean());
//! ```

mod builder;
mod config;
mod error;
mod identity;
mod info;
mod insecure;
mod layer;
mod qlog;
mod starttls;
mod state;
mod view;

pub use builder::{parse_alpn, parse_server_name, ClientTls, ServerTls, TlsBuildError};
pub use config::{
    TlsConfig, TlsLimits, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HANDSHAKE_WRITE_LIMIT,
    DEFAULT_MAX_HELD_INPUT,
};
pub use error::TlsError;
pub use identity::{certs_from_pem, key_from_pem, roots_from_pem, Identity, SELF_SIGNED_NAMES};
pub use info::TlsInfo;
pub use insecure::AcceptAnyServerCert;
pub use layer::Tls;
pub use starttls::starttls;
pub use state::TLS;
