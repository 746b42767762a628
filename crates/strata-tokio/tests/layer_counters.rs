//! Issue 13, point 3: layers count what they carry (`strata::stats`), read
//! through the stack with `t.layer_stats()`. In memory, after a known
//! exchange, the counts are exact.

use std::sync::{Arc, Mutex};

use strata::proxy_protocol::{encode_v2, ProxyConfig, ProxyProtocol};
use strata::stats::{Counters, LayerStats};
use strata::{Stack, StreamProtocol, StreamTransport};

/// Echoes, and keeps what `layer_stats()` said after its last callback.
struct Echo {
    seen: Arc<Mutex<Vec<LayerStats>>>,
}

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
        *self.seen.lock().unwrap() = t.layer_stats();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        *self.seen.lock().unwrap() = t.layer_stats();
        t.close()
    }
}

fn layer(stats: &[LayerStats], name: &str) -> Counters {
    stats
        .iter()
        .find(|l| l.layer == name)
        .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
        .counters
        .unwrap_or_else(|| panic!("{name} counts nothing"))
}

#[test]
fn the_proxy_layer_counts_its_bytes_both_ways_and_the_header_as_its_frame() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let echo = Echo { seen: seen.clone() };
    let mut s = Stack::memory(Box::new(ProxyProtocol::new(echo, ProxyConfig::default())));
    let now = s.now();
    let header = encode_v2(
        Some((
            "192.0.2.1:1000".parse().unwrap(),
            "192.0.2.2:443".parse().unwrap(),
        )),
        &[],
    );
    // The header in two pieces, the first payload with its end.
    let (a, b) = header.split_at(7);
    s.handle_input(now, a);
    s.handle_input(now, &[b, b"hello"].concat());
    s.handle_input(now, b"world!");
    assert_eq!(s.take_output(now), b"helloworld!");
    let c = layer(&seen.lock().unwrap(), "proxy");
    assert_eq!(c.bytes_in, (header.len() + 11) as u64);
    assert_eq!(c.bytes_out, 11);
    assert_eq!((c.frames_in, c.frames_out), (1, 0));
    // The bottom's figures are its own, below.
    let m = layer(&seen.lock().unwrap(), "memory");
    assert_eq!(m.bytes_in, (header.len() + 11) as u64);
}
