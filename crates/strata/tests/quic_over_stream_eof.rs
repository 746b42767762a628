//! QUIC over length-prefixed frames on a stream: once the client's QUIC
//! connection is over and it closed the stream, the server side closes its
//! end too (found with `quic+tcp://`: the driver's TCP lingered 2 s for a
//! server EOF that never came). Over a stream, EOF means no datagram will
//! ever arrive: a server with no connection left has nothing to wait for.

mod quic_support;

use std::time::Duration;

use quic_support::*;
use strata::framing::LengthPrefixed;
use strata::testing::Pump;

#[test]
fn the_server_closes_the_stream_after_the_clients_eof() {
    let server_log = SharedLog::default();
    let client_log = SharedLog::default();
    let srv = server(config(1), echo_apps(&server_log));
    let cli = client_stream(
        config(2),
        Box::new(Say {
            msg: b"one exchange".to_vec(),
            log: client_log.clone(),
        }),
    );
    let mut pump = Pump::new(
        Box::new(LengthPrefixed::new(cli)),
        Box::new(LengthPrefixed::new(srv)),
    );
    pump.run(Duration::from_secs(60));
    assert_eq!(client_log.lock().unwrap().data, b"one exchange");
    assert!(pump.a().finished().is_some(), "the client closed its end");
    let server_end = pump.b().finished();
    assert!(
        server_end.is_some_and(|c| c.is_clean()),
        "the server closed its end cleanly: {server_end:?}"
    );
}
