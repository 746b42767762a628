//! QUIC over length-prefixed frames on a stream (issue 11, point 1: the
//! datagram-over-stream mapping): `LengthPrefixed<QuicClient>` and
//! `LengthPrefixed<QuicServer>` joined by the in-memory `Pump`. Nothing is
//! lost on a stream, and the datagrams carry no addresses: the layer names
//! the peer by the transport's `PeerAddr`, or a placeholder.

mod quic_support;

use std::time::Duration;

use quic_support::*;
use strata::framing::LengthPrefixed;
use strata::testing::Pump;

#[test]
fn a_quic_stream_runs_over_length_prefixed_frames_on_a_memory_stream() {
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let srv = server(config(1), echo_apps(&server_log));
    let msg: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: msg.clone(),
            log: client_log.clone(),
        }),
    );
    let mut pump = Pump::new(
        Box::new(LengthPrefixed::new(cli)),
        Box::new(LengthPrefixed::new(srv)),
    );
    pump.run_until(Duration::from_secs(30), |_| {
        client_log.lock().unwrap().lost.is_some()
    });
    let (c, s) = (client_log.lock().unwrap(), server_log.lock().unwrap());
    assert_eq!(s.data.len(), msg.len());
    assert!(s.data == msg && c.data == msg);
    assert!(c.lost.as_ref().unwrap().is_clean(), "{:?}", c.lost);
    assert_eq!(s.chain[..3], ["quic-stream", "quic", "frames"]);
}
