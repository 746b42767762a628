//! Our mapping (`strata::reliable`) as a transport of the benchmark.

use std::net::SocketAddr;
use std::time::Duration;

use strata::reliable::cc::CcAlgorithm;
use strata::reliable::kcp::KcpConfig;
use strata::reliable::kcp_stream::{KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig};
use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::{DatagramProtocol, StreamFactory, StreamProtocol};

use super::kcp_host::KcpSetup;

/// A transport's two endpoints: the client node's protocol, then the
/// server node's (defined here, not in `mod.rs`, which calls this module:
/// no import cycle).
pub type Nodes = (Box<dyn DatagramProtocol>, Box<dyn DatagramProtocol>);

/// The conversation id of the KCP-mode runs.
const CONV: u32 = 0x5354_5241;

/// Our datagram size (the mapping's default MTU).
pub const OURS_DATAGRAM: usize = 1200;

/// Application payload bytes per full data packet of our mapping, for the
/// Mathis bound: the datagram less the short header (flags 1, connection
/// id 8, packet number varint 4) and the STREAM frame's head (type 1,
/// offset varint 4, length varint 2).
pub const OURS_MSS: usize = OURS_DATAGRAM - 20;

/// The two nodes of a connection of our mapping with congestion controller
/// `cc`: the client ([`Reliable`] sending every datagram to `server_addr`,
/// hosting `client`) and the server (a [`ReliableListener`] that hosts what
/// `server` makes for each connection). Everything else is the mapping's
/// default configuration (receive window auto-tuned, Retry on), with its
/// randomness (connection ids, the Retry key) seeded by `seed`, so a run
/// repeats byte for byte.
pub fn run_ours(
    cc: CcAlgorithm,
    seed: u64,
    server_addr: SocketAddr,
    client: Box<dyn StreamProtocol>,
    server: StreamFactory,
) -> Result<Nodes, String> {
    let cfg = ReliableConfig {
        cc,
        mtu: OURS_DATAGRAM,
        rng_seed: Some(rng_seed(seed)),
        ..ReliableConfig::default()
    };
    cfg.validate().map_err(|e| e.to_string())?;
    let c = Reliable::connect_to(server_addr, cfg.clone(), client);
    let s = ReliableListener::new(cfg, server);
    Ok((Box::new(c), Box::new(s)))
}

/// The two nodes of a conversation of our mapping's KCP mode
/// ([`KcpStream`] and [`KcpListener`]): ikcp's fast-mode timers (nodelay,
/// 10 ms tick, fast resend after 2) with congestion control **on**, and the
/// datagram size, windows and write watermarks of the `kcp` crate's runs.
/// `close` may take an hour of virtual time to flush.
pub fn run_ours_kcp(
    setup: &KcpSetup,
    server_addr: SocketAddr,
    client: Box<dyn StreamProtocol>,
    server: StreamFactory,
) -> Result<Nodes, String> {
    let window = usize::from(setup.wnd) * setup.mss();
    let cfg = KcpStreamConfig {
        kcp: KcpConfig {
            no_congestion_control: false,
            snd_wnd: setup.wnd,
            rcv_wnd: setup.wnd,
            mtu: setup.mtu,
            send_buffer: 4 * window,
            ..KcpConfig::fast_mode()
        },
        high_water: 2 * window,
        low_water: 3 * window / 2,
        memory_budget: 4 * window,
        // The workloads close when they have written everything: give the
        // conversation the whole run to deliver it.
        close_timeout: Duration::from_secs(3600),
        ..KcpStreamConfig::default()
    };
    let c = KcpStream::new(CONV, cfg.clone(), client)
        .map_err(|e| e.to_string())?
        .with_peer(server_addr);
    let lcfg = KcpListenerConfig {
        stream: cfg,
        ..KcpListenerConfig::default()
    };
    let s = KcpListener::new(lcfg, server).map_err(|e| e.to_string())?;
    Ok((Box::new(c), Box::new(s)))
}

/// The mapping's 32-byte RNG seed for the network's seed `seed`.
fn rng_seed(seed: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s
}
