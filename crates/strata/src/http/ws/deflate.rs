//! permessage-deflate (RFC 7692): the negotiation and the per-message
//! compressor and decompressor.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use http::header::HeaderMap;

use super::error::WsError;
use super::Role;

/// The extension's name in `Sec-WebSocket-Extensions`.
const NAME: &str = "permessage-deflate";
/// The bytes a sync flush ends with, taken off each message (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];
/// Output grows by at most this much per decompression step, so a small
/// message that inflates past the limit is caught within one step.
const STEP: usize = 16 * 1024;

/// The agreed parameters of permessage-deflate (RFC 7692 §7.1). strata
/// compresses with a 32 KiB window (`max_window_bits` 15) and inflates any
/// window, so only the context-takeover flags matter to it.
///
/// ```
/// use strata::http::ws::DeflateParams;
/// let p = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
/// assert!(!p.client_no_context_takeover);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server starts each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts each message with an empty window.
    pub client_no_context_takeover: bool,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value that states these parameters.
    pub(crate) fn header(&self) -> String {
        let mut s = NAME.to_owned();
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        s
    }
}

/// The client's offer.
/// No `client_max_window_bits`: strata cannot compress with a window under
/// 32 KiB, so it never lets the server ask for one (RFC 7692 §7.1.2.2).
pub(crate) const CLIENT_OFFER: &str = "permessage-deflate";

/// One extension of a `Sec-WebSocket-Extensions` list: its name and
/// parameters (`name`, optional value without quotes).
type Ext<'a> = (&'a str, Vec<(&'a str, Option<&'a str>)>);

fn extensions(h: &HeaderMap) -> Vec<Ext<'_>> {
    h.get_all("sec-websocket-extensions")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .filter_map(|e| {
            let mut parts = e.split(';').map(str::trim);
            let name = parts.next().filter(|n| !n.is_empty())?;
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                    None => (p, None),
                })
                .collect();
            Some((name, params))
        })
        .collect()
}

/// Window bits as RFC 7692 §7.1.2 allows them: 8 to 15.
fn window_bits(v: Option<&str>) -> Option<u8> {
    v?.parse().ok().filter(|b| (8..=15).contains(b))
}

/// A server picks the first offer of permessage-deflate it can honour:
/// every parameter known, each once, and `server_max_window_bits` (if
/// asked) 15, since strata's compressor always uses a 32 KiB window.
pub(crate) fn server_negotiate(req: &HeaderMap) -> Option<DeflateParams> {
    'offers: for (name, params) in extensions(req) {
        if !name.eq_ignore_ascii_case(NAME) {
            continue;
        }
        let mut p = DeflateParams::default();
        let mut seen = Vec::new();
        for (k, v) in params {
            if seen.contains(&k) {
                continue 'offers;
            }
            seen.push(k);
            match (k, v) {
                ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
                ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
                ("server_max_window_bits", v) if window_bits(v) == Some(15) => {}
                ("client_max_window_bits", None) => {}
                ("client_max_window_bits", v) if window_bits(v).is_some() => {}
                _ => continue 'offers,
            }
        }
        return Some(p);
    }
    None
}

/// A client reads the server's answer to its offer: `Ok(None)` when the
/// server declined, an error for an extension not offered or parameters
/// strata cannot honour (a client window under 15 bits).
pub(crate) fn client_accept(
    resp: &HeaderMap,
    offered: bool,
) -> Result<Option<DeflateParams>, WsError> {
    let fail = |s: &str| Err(WsError::HandshakeFailed(s.to_owned()));
    let exts = extensions(resp);
    match exts.as_slice() {
        [] => Ok(None),
        [(name, params)] if offered && name.eq_ignore_ascii_case(NAME) => {
            let mut p = DeflateParams::default();
            for (k, v) in params {
                match (*k, *v) {
                    ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
                    ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
                    ("server_max_window_bits", v) if window_bits(v).is_some() => {}
                    ("client_max_window_bits", v) if window_bits(v) == Some(15) => {}
                    _ => return fail("permessage-deflate parameters strata cannot honour"),
                }
            }
            Ok(Some(p))
        }
        _ => fail("an extension that was not offered"),
    }
}

/// The compressor and decompressor of one connection.
pub(crate) struct Deflate {
    tx: Compress,
    rx: Decompress,
    /// Our side starts each message afresh.
    reset_tx: bool,
    /// The peer starts each message afresh.
    reset_rx: bool,
}

impl Deflate {
    pub(crate) fn new(p: DeflateParams, role: Role) -> Deflate {
        let (ours, theirs) = match role {
            Role::Server => (p.server_no_context_takeover, p.client_no_context_takeover),
            Role::Client => (p.client_no_context_takeover, p.server_no_context_takeover),
        };
        Deflate {
            tx: Compress::new(Compression::fast(), false),
            rx: Decompress::new(false),
            reset_tx: ours,
            reset_rx: theirs,
        }
    }

    /// Compresses one message (RFC 7692 §7.2.1: a sync flush, its tail removed).
    pub(crate) fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start = self.tx.total_in();
        loop {
            let used = (self.tx.total_in() - start) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            // A raw in-memory compressor cannot fail.
            let _ = self
                .tx
                .compress_vec(&data[used..], &mut out, FlushCompress::Sync);
            let used = (self.tx.total_in() - start) as usize;
            if used == data.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.reset_tx {
            self.tx.reset();
        }
        out
    }

    /// Inflates one message, refusing output over `limit` bytes.
    pub(crate) fn decompress(&mut self, data: &[u8], limit: usize) -> Result<Vec<u8>, WsError> {
        let mut input = Vec::with_capacity(data.len() + TAIL.len());
        input.extend_from_slice(data);
        input.extend_from_slice(&TAIL);
        let mut out = Vec::new();
        let start = self.rx.total_in();
        loop {
            let used = (self.rx.total_in() - start) as usize;
            let before = (used, out.len());
            out.reserve(STEP.min(limit + 1 - out.len().min(limit)).max(1));
            let status = self
                .rx
                .decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
                .map_err(|_| WsError::BadCompression)?;
            if out.len() > limit {
                return Err(WsError::MessageTooBig { limit });
            }
            let used = (self.rx.total_in() - start) as usize;
            let done = used == input.len() && out.len() < out.capacity();
            if done || status == Status::StreamEnd || (used, out.len()) == before {
                break;
            }
        }
        if self.reset_rx {
            self.rx.reset(false);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7692_hello_compresses_and_inflates() {
        // RFC 7692 §7.2.3.1: "Hello" compressed, no context takeover.
        let mut d = Deflate::new(DeflateParams::default(), Role::Client);
        let wire = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(d.decompress(&wire, 100).unwrap(), b"Hello");
        let mut c = Deflate::new(DeflateParams::default(), Role::Server);
        let z = c.compress(b"Hello Hello Hello");
        assert_eq!(d.decompress(&z, 100).unwrap(), b"Hello Hello Hello");
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        let mut c = Deflate::new(DeflateParams::default(), Role::Server);
        let z = c.compress(&vec![0u8; 1 << 20]);
        assert!(z.len() < 1 << 14, "{}", z.len());
        let mut d = Deflate::new(DeflateParams::default(), Role::Client);
        assert_eq!(
            d.decompress(&z, 1000),
            Err(WsError::MessageTooBig { limit: 1000 })
        );
    }

    #[test]
    fn offers_are_read_in_order() {
        let mut h = HeaderMap::new();
        h.append(
            "sec-websocket-extensions",
            "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits; server_no_context_takeover"
                .parse()
                .unwrap(),
        );
        let p = server_negotiate(&h).unwrap();
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!(p.header(), "permessage-deflate; server_no_context_takeover");
    }
}
