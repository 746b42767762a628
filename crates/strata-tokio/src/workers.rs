//! [`Workers`]: one thread per worker, each a current-thread tokio runtime
//! with its own [`Server`] and its own listening socket per TCP endpoint
//! (`SO_REUSEPORT`), so that a connection lives its whole life on the thread
//! that accepted it.
//!
//! The kernel spreads new connections over the sockets of one port by a hash
//! of the 4-tuple. Nothing on the per-connection or per-request path is
//! shared between workers: each worker's `Server` has its own shutdown
//! signal, task counts and waker table, touched only from its own thread.
//! The handle reaches a worker only through a control channel (a bind, the
//! shutdown), never while it serves.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use strata::endpoint::{Endpoint, Target};
use tokio::sync::{mpsc, oneshot};

use crate::config::ListenConfig;
use crate::error::DriverError;
use crate::server::{Listening, Server};
use crate::stats::ServerStats;
use crate::tls::TlsIdentity;
use strata::StreamFactory;

/// A job a worker runs on its own thread, given its server.
type Job = Box<dyn FnOnce(Server) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// One worker: its control channel and its server (a handle, for counts).
#[derive(Debug)]
struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
    server: Server,
    thread: Option<thread::JoinHandle<()>>,
}

/// N workers, each a thread running a current-thread tokio runtime with its
/// own [`Server`]. A TCP endpoint given to [`listen`](Workers::listen) is
/// bound once per worker with `SO_REUSEPORT` on the same port; the kernel
/// spreads the connections over the sockets, and each connection is served
/// from start to end by the worker that accepted it, with no lock or queue
/// shared with the other workers.
///
/// Other endpoints (Unix sockets, and everything over UDP: `reliable+udp`,
/// and through [`run_on`](Workers::run_on) QUIC and plain UDP) are bound on
/// worker 0 only: a Unix path has no `SO_REUSEPORT`, and a UDP socket per
/// worker would route a QUIC or reliable connection by the kernel's 4-tuple
/// hash, which a client's address change (migration) would break.
///
/// Limits of a [`ListenConfig`] (`max_connections`, `max_accepts_per_sec`)
/// apply per worker's listener.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use strata::{StreamProtocol, StreamTransport};
/// use strata_tokio::{ListenConfig, Workers};
///
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let workers = Workers::start(2).unwrap();
/// let factory: strata_tokio::StreamFactory = Arc::new(|| Box::new(Echo));
/// let ep = "tcp://127.0.0.1:0".parse().unwrap();
/// let bound = workers.listen(&ep, None, factory, ListenConfig::default()).await.unwrap();
/// println!("echo on {} with {} workers", bound.endpoint(), workers.len());
/// workers.shutdown(Duration::from_secs(5)).await;
/// # }
/// ```
#[derive(Debug)]
pub struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// Starts `n` worker threads (at least one), each with a current-thread
    /// runtime and an empty [`Server`]. Fails when the OS refuses a thread
    /// or an epoll descriptor.
    ///
    /// ```
    /// let w = strata_tokio::Workers::start(3).unwrap();
    /// assert_eq!(w.len(), 3);
    /// ```
    pub fn start(n: usize) -> io::Result<Workers> {
        Workers::start_inner(n, None)
    }

    /// [`start`](Workers::start), each worker's server keeping statistics
    /// in `stats` ([`Server::with_stats`]): `serve --stats` and `/stats`
    /// with `--listener-per-worker`. The listeners of one endpoint on every
    /// worker are one stack in its snapshot.
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// let w = strata_tokio::Workers::start_with_stats(2, stats.clone()).unwrap();
    /// assert_eq!(w.len(), 2);
    /// assert!(stats.snapshot().stacks.is_empty()); // nothing bound yet
    /// ```
    pub fn start_with_stats(n: usize, stats: Arc<ServerStats>) -> io::Result<Workers> {
        Workers::start_inner(n, Some(stats))
    }

    fn start_inner(n: usize, stats: Option<Arc<ServerStats>>) -> io::Result<Workers> {
        let mut workers = Vec::with_capacity(n.max(1));
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
            let server = match &stats {
                Some(s) => Server::with_stats(s.clone()),
                None => Server::new(),
            };
            let mine = server.clone();
            let thread = thread::Builder::new()
                .name(format!("strata-worker-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        // Jobs run one at a time; what they spawn runs beside.
                        while let Some(job) = rx.recv().await {
                            job(mine.clone()).await;
                        }
                        // The handle is gone: stop what is left, at once.
                        mine.shutdown(Duration::ZERO).await;
                    });
                })?;
            workers.push(Worker {
                jobs,
                server,
                thread: Some(thread),
            });
        }
        Ok(Workers { workers })
    }

    /// How many workers there are.
    ///
    /// ```
    /// let w = strata_tokio::Workers::start(2).unwrap();
    /// assert_eq!(w.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Never true: there is always at least one worker.
    ///
    /// ```
    /// let w = strata_tokio::Workers::start(0).unwrap(); // at least one worker
    /// assert!(!w.is_empty());
    /// assert_eq!(w.len(), 1);
    /// ```
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Runs `job` on worker `i`'s thread, inside its runtime, given its
    /// server, and returns what it returns: to bind there what
    /// [`listen`](Workers::listen) does not (`listen_quic`, `bind_udp`), or
    /// to read its counts. Jobs of one worker run one after another: spawn
    /// what must outlive the job. `None` when `i` is out of range or the
    /// worker has stopped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let w = strata_tokio::Workers::start(2).unwrap();
    /// let name = w.run_on(1, |_server| async { std::thread::current().name().map(String::from) }).await;
    /// assert_eq!(name.flatten().as_deref(), Some("strata-worker-1"));
    /// w.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn run_on<F, Fut, T>(&self, i: usize, job: F) -> Option<T>
    where
        F: FnOnce(Server) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |server| {
            Box::pin(async move {
                let _ = tx.send(job(server).await);
            })
        });
        self.workers.get(i)?.jobs.send(job).ok()?;
        rx.await.ok()
    }

    /// Listens on `ep` as [`Server::listen_with_identity`] does. Over TCP
    /// (the chain ends in `tcp`: `tcp://`, `tls+tcp://`), on every worker,
    /// each with its own socket (`SO_REUSEPORT` is set whatever `cfg` or
    /// `tcp.reuseport` say); port 0 is bound by worker 0, the others bind the
    /// port it got. Anything else is bound on worker 0 only. `identity` is
    /// shared by all workers: a reload reaches them all. On an error, the
    /// workers that had bound keep their listener until the shutdown.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use strata::{StreamProtocol, StreamTransport};
    /// # struct Discard;
    /// # impl StreamProtocol for Discard {
    /// #     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    /// #     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
    /// # }
    /// let w = strata_tokio::Workers::start(2).unwrap();
    /// let f: strata_tokio::StreamFactory = std::sync::Arc::new(|| Box::new(Discard));
    /// let ep = "tcp://127.0.0.1:0".parse().unwrap();
    /// let l = w.listen(&ep, None, f, Default::default()).await.unwrap();
    /// assert_ne!(l.socket_addr().unwrap().port(), 0);
    /// w.shutdown(std::time::Duration::ZERO).await;
    /// # }
    /// ```
    pub async fn listen(
        &self,
        ep: &Endpoint,
        identity: Option<TlsIdentity>,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        let tcp = ep.layers.last().is_some_and(|l| l == "tcp");
        let mut ep = ep.clone();
        let mut cfg = cfg;
        if tcp {
            ep.options
                .retain(|o| !(o.layer == "tcp" && o.key == "reuseport"));
            cfg.reuse_port = true;
        }
        let first = self
            .listen_on(
                0,
                ep.clone(),
                identity.clone(),
                factory.clone(),
                cfg.clone(),
            )
            .await?;
        if !tcp {
            return Ok(first);
        }
        if let (Target::Host { port, .. }, Some(a)) = (&mut ep.target, first.socket_addr()) {
            *port = a.port();
        }
        for i in 1..self.workers.len() {
            self.listen_on(
                i,
                ep.clone(),
                identity.clone(),
                factory.clone(),
                cfg.clone(),
            )
            .await?;
        }
        Ok(first)
    }

    async fn listen_on(
        &self,
        i: usize,
        ep: Endpoint,
        identity: Option<TlsIdentity>,
        factory: StreamFactory,
        cfg: ListenConfig,
    ) -> Result<Listening, DriverError> {
        self.run_on(i, move |server| async move {
            server
                .listen_with_identity(&ep, identity, factory, cfg)
                .await
        })
        .await
        .unwrap_or_else(|| {
            Err(DriverError::Io {
                op: "listen",
                addr: format!("worker {i}"),
                source: io::Error::other("the worker has stopped"),
            })
        })
    }

    /// Live stream connections of each worker, in worker order (each a
    /// relaxed read of that worker's own counter).
    ///
    /// ```
    /// let w = strata_tokio::Workers::start(2).unwrap();
    /// assert_eq!(w.connections_per_worker(), vec![0, 0]);
    /// ```
    pub fn connections_per_worker(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|w| w.server.connections())
            .collect()
    }

    /// Live stream connections of all workers.
    ///
    /// ```
    /// let w = strata_tokio::Workers::start(2).unwrap();
    /// assert_eq!(w.connections(), 0);
    /// ```
    pub fn connections(&self) -> usize {
        self.connections_per_worker().iter().sum()
    }

    /// Shuts every worker's server down at once, as [`Server::shutdown`]
    /// (stop accepting, `on_shutdown`, abort after `drain`), waits until all
    /// have ended, then until their threads have exited.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let w = strata_tokio::Workers::start(2).unwrap();
    /// assert_eq!(w.connections(), 0);
    /// w.shutdown(std::time::Duration::ZERO).await; // every worker thread has exited
    /// # }
    /// ```
    pub async fn shutdown(mut self, drain: Duration) {
        let mut waits = Vec::with_capacity(self.workers.len());
        for w in &self.workers {
            let (tx, rx) = oneshot::channel();
            let job: Job = Box::new(move |server| {
                Box::pin(async move {
                    server.shutdown(drain).await;
                    let _ = tx.send(());
                })
            });
            if w.jobs.send(job).is_ok() {
                waits.push(rx);
            }
        }
        for rx in waits {
            let _ = rx.await;
        }
        let threads: Vec<_> = self
            .workers
            .drain(..)
            .filter_map(|mut w| w.thread.take())
            .collect();
        // Each thread ends right away: its channel closes with the handle.
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}
