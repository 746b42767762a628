//! The TLS layer as a server, fed arbitrary bytes: no panic, bounded output,
//! and nothing reaches the protocol above without a completed handshake.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use strata::tls::{Tls, TlsConfig};
use strata::{Stack, StreamProtocol, StreamTransport};

use crate::Chunks;

/// What the server may ever write in answer to one input: handshake
/// messages and an alert, far below this.
const MAX_OUTPUT: usize = 64 * 1024;

static DELIVERED: AtomicBool = AtomicBool::new(false);

/// Records whether any plaintext reached it.
struct Above;

impl StreamProtocol for Above {
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {
        DELIVERED.store(true, Ordering::Relaxed);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

fn config() -> &'static TlsConfig {
    static CFG: OnceLock<TlsConfig> = OnceLock::new();
    CFG.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("ring makes a P-256 key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .expect("a valid name")
            .self_signed(&key)
            .expect("self-signing works");
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the defaults")
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
            .expect("the key matches");
        TlsConfig::server(Arc::new(server))
    })
}

/// Byte 0 picks how the rest is cut into chunks; the rest goes to a TLS
/// server stack as if from a client.
pub fn tls_server(data: &[u8]) {
    let Some((&seed, payload)) = data.split_first() else {
        return;
    };
    DELIVERED.store(false, Ordering::Relaxed);
    let layer = Tls::new(Above, config()).expect("the config is valid");
    let mut s = Stack::memory(Box::new(layer));
    let now = s.now();
    let mut written = 0;
    for chunk in Chunks::new(payload, seed) {
        s.handle_input(now, chunk);
        written += s.take_output(now).len();
        assert!(written <= MAX_OUTPUT, "server wrote {written} bytes");
        if s.finished().is_some() {
            break;
        }
    }
    s.handle_eof(now);
    let _ = s.take_output(now);
    // Random bytes never complete a handshake, so nothing may be delivered.
    assert!(
        !DELIVERED.load(Ordering::Relaxed),
        "plaintext before a handshake"
    );
}
