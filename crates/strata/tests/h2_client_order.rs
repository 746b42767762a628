//! Requests queued on an HTTP/2 client before its connection starts open
//! their streams in the order they were queued, whatever their sizes: a
//! small request then a large one used to send stream 3's HEADERS before
//! stream 1's, and the server answered GOAWAY(PROTOCOL_ERROR) (found by the
//! qlog traces, issue 14).

mod h2_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn queued_requests_open_their_streams_in_order_whatever_their_sizes() {
    for sizes in [[5, 40_000, 300], [40_000, 5, 300], [5, 300, 70_000]] {
        let got = Arc::new(Mutex::new(0));
        let (c, s) = h2_support::upload_pair(&sizes, &got);
        let cfg = strata::testing::PumpConfig::default().latency(Duration::from_millis(10));
        let mut pump = strata::testing::Pump::with_config(Box::new(c), Box::new(s), cfg);
        pump.run(Duration::from_secs(2));
        drop(pump);
        let total: usize = sizes.iter().sum();
        assert_eq!(*got.lock().unwrap(), total, "{sizes:?}: every body echoed");
    }
}
