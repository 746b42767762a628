//! Target `proxy_header`: the PROXY protocol header parser (v1 and v2) and
//! the `proxy` layer over a whole `Stack`.
//!
//! Input: two control bytes (how the input is cut into chunks; which
//! versions are accepted and the v2 bound), then the bytes a load balancer
//! (or an attacker) sends first.

use std::sync::{Arc, Mutex};

use strata::proxy_protocol::{
    encode_v1, encode_v2, parse, Parsed, ProxyAddresses, ProxyCommand, ProxyConfig, ProxyError,
    ProxyProtocol, ProxyVersion, Versions, V1_MAX_LEN, V2_FIXED_LEN, V2_MAX_ADDRESS_LEN,
};
use strata::{Close, Stack, StreamProtocol, StreamTransport};

use crate::{control, Chunks};

/// Records what reaches the protocol above the layer.
struct Sink {
    got: Arc<Mutex<(bool, Vec<u8>)>>,
}

impl StreamProtocol for Sink {
    fn connection_made(&mut self, _: &mut dyn StreamTransport) {
        self.got.lock().unwrap().0 = true;
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, data: &[u8]) {
        self.got.lock().unwrap().1.extend_from_slice(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

/// Checks, besides the absence of panics:
///
/// * every prefix of the input parses to `Incomplete` or to what the whole
///   input gives (an error, once found, stays the same; a complete header
///   is the same header of the same length), so the layer's answer does
///   not depend on how the bytes arrive;
/// * a complete header re-encodes (v1 with TCP4/TCP6, v2 `PROXY` over
///   IPv4/IPv6 with its TLVs) to bytes that parse to the same header;
/// * the layer in a `Stack`, fed in chunks, ends as the parser says: the
///   protocol above starts exactly when the header is complete and gets
///   every byte after it; a refused header aborts with that same error
///   (an EOF inside one with `Truncated`, before any byte a clean close);
///   it never holds more than its bound before the header ends.
pub fn proxy_header(data: &[u8]) {
    let ([cut, cfg_byte], input) = control::<2>(data);
    let versions = match cfg_byte % 3 {
        0 => Versions::ANY,
        1 => Versions::V1_ONLY,
        _ => Versions::V2_ONLY,
    };
    let max = V2_MAX_ADDRESS_LEN + usize::from(cfg_byte >> 2) * 8;
    let whole = parse(input, versions, max);
    for k in 0..input.len() {
        match (parse(&input[..k], versions, max), &whole) {
            (Ok(Parsed::Incomplete), _) => {}
            (Ok(p @ Parsed::Complete { .. }), Ok(w)) => assert_eq!(&p, w, "prefix {k}"),
            (Err(e), Err(w)) => assert_eq!(&e, w, "prefix {k}"),
            (p, w) => panic!("prefix {k} gives {p:?}, the whole input {w:?}"),
        }
    }
    if let Ok(Parsed::Complete { header, len }) = &whole {
        assert!(*len <= input.len());
        let addrs = match header.addresses {
            ProxyAddresses::Inet {
                source,
                destination,
            } => Some((source, destination)),
            _ => None,
        };
        let again = match (header.version, header.command, addrs) {
            (ProxyVersion::V1, _, Some(a)) => Some(encode_v1(Some(a))),
            (ProxyVersion::V2, ProxyCommand::Proxy, Some(a)) => {
                Some(encode_v2(Some(a), &header.tlvs))
            }
            _ => None,
        };
        if let Some(bytes) = again {
            match parse(&bytes, Versions::ANY, 1 << 16) {
                Ok(Parsed::Complete { header: h, len }) => {
                    assert_eq!(len, bytes.len());
                    assert_eq!(h.addresses, header.addresses);
                    assert_eq!(h.tlvs, header.tlvs);
                }
                other => panic!("{header:?} re-encoded to {bytes:?}: {other:?}"),
            }
        }
    }

    // The layer, in chunks.
    let got = Arc::new(Mutex::new((false, Vec::new())));
    let cfg = ProxyConfig {
        versions,
        max_v2_len: max,
        ..ProxyConfig::default()
    };
    let layer = ProxyProtocol::new(Sink { got: got.clone() }, cfg);
    let mut s = Stack::memory(Box::new(layer));
    let now = s.now();
    let bound = (V2_FIXED_LEN + max).max(V1_MAX_LEN);
    let mut fed = 0;
    for chunk in Chunks::new(input, cut) {
        s.handle_input(now, chunk);
        fed += chunk.len();
        if let Some(p) = s.protocol::<ProxyProtocol<Sink>>() {
            if p.header().is_none() {
                assert!(p.buffered() <= bound, "{} held", p.buffered());
            }
        }
        if s.finished().is_some() {
            break;
        }
    }
    s.handle_eof(now);
    let (made, data) = got.lock().unwrap().clone();
    match whole {
        Ok(Parsed::Complete { len, .. }) => {
            assert!(made);
            assert_eq!(data, &input[len..fed.max(len)]);
        }
        Ok(Parsed::Incomplete) => {
            assert!(!made);
            let why = s.finished().expect("an EOF inside the header ends it");
            if input.is_empty() {
                assert!(
                    why.is_clean(),
                    "an EOF before any byte closes quietly: {why}"
                );
            } else {
                assert!(
                    matches!(layer_error(why), Some(ProxyError::Truncated { .. })),
                    "{why}"
                );
            }
        }
        Err(e) => {
            assert!(!made && data.is_empty());
            let why = s.finished().expect("a refused header ends it");
            assert_eq!(layer_error(why), Some(e), "{why}");
        }
    }
}

fn layer_error(why: &Close) -> Option<ProxyError> {
    why.error::<ProxyError>().cloned()
}
