//! The strata echo server: `strata_tokio::Server` serving [`Echo`], with
//! the driver's defaults except the connection cap, which the idle benchmark
//! must not hit (the anchors have none).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use strata::StreamProtocol;
use strata_tokio::{ListenConfig, Server, StreamFactory};

use crate::echo::Echo;

/// Listens on `addr`; returns the server handle (keep it while serving) and
/// the bound address. `max_connections` should be the process's fd limit.
pub async fn listen(addr: SocketAddr, max_connections: usize) -> io::Result<(Server, SocketAddr)> {
    let server = Server::new();
    let factory: StreamFactory = Arc::new(|| Box::new(Echo) as Box<dyn StreamProtocol>);
    let cfg = ListenConfig {
        max_connections,
        nodelay: true,
        ..ListenConfig::default()
    };
    let local = server.listen_tcp(addr, factory, cfg).await?;
    Ok((server, local))
}
