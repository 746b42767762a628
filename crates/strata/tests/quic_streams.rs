//! The QUIC layer's streams in memory (issue 11, points 1 and 5): a
//! `QuicClient` and a `QuicServer` over a simulated network, each stream a
//! `quic-stream` transport for a stream protocol.

mod quic_support;

use std::sync::Arc;
use std::time::Duration;

use quic_support::*;
use strata::StreamProtocol;

#[test]
fn a_client_stream_is_echoed_by_the_server_and_both_close_cleanly() {
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let sl = server_log.clone();
    let srv = server(
        config(1),
        per_stream(Arc::new(move || {
            Box::new(Echo(sl.clone())) as Box<dyn StreamProtocol>
        })),
    );
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: b"hello over quic".to_vec(),
            log: client_log.clone(),
        }),
    );
    let (mut net, c, _s) = net(7, lan(), srv, cli);
    run_until(&mut net, Duration::from_secs(10), || {
        client_log.lock().unwrap().lost.is_some() && server_log.lock().unwrap().lost.is_some()
    });
    let (cl, sl) = (client_log.lock().unwrap(), server_log.lock().unwrap());
    assert_eq!(sl.data, b"hello over quic");
    assert!(sl.eof);
    assert_eq!(cl.data, b"hello over quic");
    assert!(cl.eof);
    assert!(cl.lost.as_ref().unwrap().is_clean(), "{:?}", cl.lost);
    assert!(sl.lost.as_ref().unwrap().is_clean(), "{:?}", sl.lost);
    assert_eq!(cl.chain[..2], ["quic-stream", "quic"]);
    assert_eq!(cl.stream_id, Some(0));
    assert_eq!(sl.stream_id, Some(0));
    drop((cl, sl));
    // The client closes its connection once its one stream is done, and its
    // datagram stack finishes after the drain.
    net.run(Duration::from_secs(10));
    assert!(net.stack(c).unwrap().finished().is_some());
}
