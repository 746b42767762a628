//! The reliable mapping with a server id (`ReliableConfig::server_id`):
//! every id the listener issues carries it in the QUIC-LB plaintext layout
//! (`strata::routing`), so a balancer reading a packet's destination id
//! routes every packet after the client's first Initial to the listener,
//! whatever the client's address.

mod reliable_support;

use std::time::Duration;

use reliable_support::{addr, transfer_wire};
use strata::reliable::wire::{self, ConnId, Header};
use strata::reliable::{ConfigError, ReliableConfig};
use strata::routing::{LbConfig, Route, ServerId};
use strata::testing::{LinkConfig, Loss};

fn bytes(id: ConnId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// What each datagram of a run tells a balancer of rotation 0 with
/// `sid_len`-byte server ids: (client-chosen Initials, routed to `sid`,
/// routed elsewhere or by the fallback).
fn routes(seed: u64, cfg: ReliableConfig, sid: &[u8]) -> (usize, usize, Vec<String>) {
    let link = LinkConfig::default()
        .delay(Duration::from_millis(5))
        .loss(Loss::Random(0.05));
    let (t, wire) = transfer_wire(seed, cfg, link, 200_000, 100_000, Duration::from_secs(60));
    t.check_delivery(200_000, 100_000);
    let lb = LbConfig::new(0, sid.len()).unwrap();
    let server = addr("10.0.0.2:4433");
    let (mut first_initials, mut routed, mut wrong) = (0, 0, Vec::new());
    for d in &wire {
        let p = wire::parse_packet(&d.data).expect("every datagram parses");
        // The id a balancer in front of the server reads: the destination
        // of what the client sends, the server's id in what it answers.
        let id = match p.header {
            Header::Initial { token: [], .. } => {
                first_initials += 1;
                continue;
            }
            Header::Retry { src, .. } | Header::Handshake { src, .. } => src,
            h if d.to == server => h.dst(),
            _ => continue,
        };
        let id = bytes(id);
        match lb.route(&id) {
            Route::Server(s) if s == sid => routed += 1,
            other => wrong.push(format!("{:?} {id:02x?}: {other:?}", p.header)),
        }
    }
    (first_initials, routed, wrong)
}

#[test]
fn every_id_the_listener_issues_carries_its_server_id() {
    for (seed, sid) in [
        (1, &[0x5a][..]),
        (2, &[0xab, 0xcd][..]),
        (3, &[1, 2, 3][..]),
    ] {
        let cfg = ReliableConfig {
            server_id: Some(ServerId::new(sid).unwrap()),
            ..ReliableConfig::default()
        };
        let (first, routed, wrong) = routes(seed, cfg, sid);
        assert!(first >= 1);
        assert!(routed > 100, "{routed}");
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}

#[test]
fn without_a_server_id_the_ids_stay_random() {
    let cfg = ReliableConfig {
        rng_seed: Some([4; 32]),
        ..ReliableConfig::default()
    };
    let (_, routed, wrong) = routes(4, cfg, &[0x5a]);
    assert_eq!(routed, 0);
    assert!(!wrong.is_empty());
}

#[test]
fn a_server_id_longer_than_an_8_byte_id_allows_is_refused() {
    let cfg = ReliableConfig {
        server_id: Some(ServerId::new(&[1, 2, 3, 4]).unwrap()),
        ..ReliableConfig::default()
    };
    assert_eq!(cfg.validate(), Err(ConfigError::ServerId(4)));
}
