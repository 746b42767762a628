//! The driver's answer to [`Dialer`]: every stack it runs (accepted,
//! connected, UDP sockets) can open connections with `t.get::<Dialer>()`.
//!
//! A dial checks the endpoint at once (an endpoint the driver cannot build
//! is an `Err`), then spawns [`connect`](crate::connect()) on the runtime
//! the dialing stack runs on. `quic+udp://` goes through one [`QuicPool`]
//! shared by the process: every dial to the same QUIC server is a stream
//! of one connection. A connect that fails reaches the protocol as
//! `connection_lost` with the operating system's reason; the dialer adds
//! no timeout (the protocol that dialed keeps its own deadline).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use strata::endpoint::Endpoint;
use strata::{Close, Dial, DialError, DialGuard, Dialer, DialerId, StackConfig, StreamProtocol};

use crate::{DriverError, QuicPool, StackPlan};

/// How many endpoints the dialer remembers as checked: a relay dials one
/// target for every connection, and checks it once.
const CHECKED_ENDPOINTS: usize = 64;

/// The dialer every stack of this driver answers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use strata::endpoint::Endpoint;
/// # use strata::{StreamProtocol, StreamTransport};
/// # struct Quiet;
/// # impl StreamProtocol for Quiet {
/// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
/// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// # }
/// let d = strata_tokio::dialer();
/// // A CA file that does not exist: the endpoint cannot be built, refused at once.
/// let ep = Endpoint::parse("tls+tcp://127.0.0.1:1?tls.ca=/nonexistent/ca.pem").unwrap();
/// assert!(d.dial(&ep, Box::new(Quiet), Arc::default()).is_err());
/// # }
/// ```
pub fn dialer() -> Dialer {
    dialer_id().dialer().clone()
}

/// The driver's dialer, registered once: what every stack's bottom info
/// carries.
pub(crate) fn dialer_id() -> DialerId {
    static ID: OnceLock<DialerId> = OnceLock::new();
    *ID.get_or_init(|| {
        Dialer::new(TokioDial {
            pool: QuicPool::new(),
            checked: Mutex::default(),
        })
        .register()
    })
}

struct TokioDial {
    pool: QuicPool,
    /// Endpoints already planned successfully (planning builds TLS
    /// configurations: not on every dial).
    checked: Mutex<HashSet<Endpoint>>,
}

impl TokioDial {
    fn check(&self, ep: &Endpoint) -> Result<(), DriverError> {
        let mut g = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        if g.contains(ep) {
            return Ok(());
        }
        StackPlan::client(ep)?;
        if g.len() >= CHECKED_ENDPOINTS {
            g.clear();
        }
        g.insert(ep.clone());
        Ok(())
    }
}

impl Dial for TokioDial {
    fn dial(
        &self,
        ep: &Endpoint,
        proto: Box<dyn StreamProtocol>,
        cfg: Arc<StackConfig>,
    ) -> Result<(), DialError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| DialError::Stopped {
            endpoint: ep.to_string(),
        })?;
        self.check(ep).map_err(|e| DialError::Endpoint {
            endpoint: ep.to_string(),
            source: Box::new(e),
        })?;
        let (proto, guard) = DialGuard::watch(proto);
        let pool = self.pool.clone();
        let ep = ep.clone();
        rt.spawn(async move {
            // The connection runs on its own task once made.
            if let Err(e) = pool.connect(&ep, proto, cfg).await {
                tracing::debug!("dial {ep}: {e}");
                guard.fail(&close_of(&e));
            }
        });
        Ok(())
    }
}

/// The close a protocol hears when connecting failed with `e`.
fn close_of(e: &DriverError) -> Close {
    use std::io::ErrorKind;
    match e {
        DriverError::Io { source, .. } | DriverError::Resolve { source, .. } => {
            Close::Io(source.kind())
        }
        DriverError::NoAddresses { .. } => Close::Io(ErrorKind::NotFound),
        _ => Close::Io(ErrorKind::InvalidInput),
    }
}

#[cfg(test)]
mod tests {
    use strata::{Close, StreamProtocol, StreamTransport};

    use super::*;

    type Log = tokio::sync::mpsc::UnboundedSender<String>;

    /// Sends what it hears.
    struct Rec(Log);
    impl StreamProtocol for Rec {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            let _ = self.0.send("made".into());
            t.close();
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
        fn connection_lost(&mut self, why: &Close) {
            let _ = self.0.send(format!("lost {why}"));
        }
    }

    async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("an outcome in time")
            .expect("the protocol was told")
    }

    #[tokio::test]
    async fn a_refused_connect_reaches_the_protocol_without_connection_made() {
        // A port nobody listens on: bind one, then close it.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ep = Endpoint::parse(&format!("tcp://{addr}")).unwrap();
        dialer()
            .dial(&ep, Box::new(Rec(tx)), Arc::default())
            .unwrap();
        let got = next(&mut rx).await;
        assert!(got.starts_with("lost "), "{got}");
        assert!(got.contains("refused"), "{got}");
        assert!(rx.recv().await.is_none(), "told once, then dropped");
    }

    #[tokio::test]
    async fn a_made_connection_runs_the_protocol() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ep = Endpoint::parse(&format!("tcp://{addr}")).unwrap();
        dialer()
            .dial(&ep, Box::new(Rec(tx)), Arc::default())
            .unwrap();
        let _accepted = l.accept().await.unwrap();
        assert_eq!(next(&mut rx).await, "made");
        assert!(next(&mut rx).await.starts_with("lost"));
    }

    #[test]
    fn without_a_runtime_the_dial_is_refused_at_once() {
        let ep = Endpoint::parse("tcp://127.0.0.1:9").unwrap();
        let err = dialer()
            .dial(
                &ep,
                Box::new(Rec(tokio::sync::mpsc::unbounded_channel().0)),
                Arc::default(),
            )
            .unwrap_err();
        assert!(matches!(err, DialError::Stopped { .. }), "{err}");
    }

    /// Tells whether its transport answers a dialer, then closes.
    struct Finds(Log);
    impl StreamProtocol for Finds {
        fn connection_made(&mut self, t: &mut dyn StreamTransport) {
            let _ = self.0.send(format!("{}", t.get::<Dialer>().is_some()));
            t.close();
        }
        fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, t: &mut dyn StreamTransport) {
            t.close()
        }
    }

    #[tokio::test]
    async fn accepted_and_connected_stacks_answer_the_dialer() {
        for listen in ["tcp://127.0.0.1:0", "reliable+udp://127.0.0.1:0"] {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let stx = tx.clone();
            let f: strata::StreamFactory =
                Arc::new(move || Box::new(Finds(stx.clone())) as Box<dyn StreamProtocol>);
            let server = crate::Server::new();
            let ep = Endpoint::parse_with(listen, &crate::registry()).unwrap();
            let l = server.listen(&ep, f, Default::default()).await.unwrap();
            let scheme = ep.layers.join("+");
            let to = format!("{scheme}://{}", l.socket_addr().unwrap());
            let to = Endpoint::parse_with(&to, &crate::registry()).unwrap();
            let conn = crate::connect(&to, Box::new(Finds(tx)), Arc::default())
                .await
                .unwrap();
            assert_eq!(next(&mut rx).await, "true", "{listen}");
            assert_eq!(next(&mut rx).await, "true", "{listen}");
            drop(conn);
            server.shutdown(std::time::Duration::ZERO).await;
        }
    }
}
