//! `strata`: serve, connect and relay over any strata stack.

/// The binary's allocator: mimalloc. A small HTTP/2 request costs about a
/// dozen allocations (the `http` crate's heads and maps, a protocol per
/// stream); under glibc's malloc they were 30 % of the server's
/// instructions (callgrind, BENCHMARKS.md). The library allocates through
/// whatever allocator its user's binary chooses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use strata::endpoint::{Endpoint, Family, Host, LayerOption, SchemeRegistry, Target};
use strata::{Addr, Close, StackConfig};
use strata_cli::apps::{self, ChatConfig, ChatRoom};
use strata_tokio::{DriverError, ListenConfig, Server};

mod get;
mod stdio;
mod wsconnect;

/// The exit statuses of `strata` (README and `docs/endpoints.md` list them).
/// 0 is success.
mod exit {
    /// The connection failed after it was made (reset, closed before the
    /// response was complete, an HTTP error status), or a listener could not
    /// bind.
    pub const FAILED: u8 = 1;
    /// Bad arguments: an endpoint, URL, option value or flag out of range.
    pub const USAGE: u8 = 2;
    /// Could not connect: refused, unreachable, the name did not resolve.
    pub const CONNECT: u8 = 3;
    /// Connecting took longer than `--connect-timeout`.
    pub const CONNECT_TIMEOUT: u8 = 4;
    /// `strata get`: no byte for `--idle-timeout`.
    pub const IDLE_TIMEOUT: u8 = 5;
    /// `strata get`: the whole operation took longer than `--timeout`.
    pub const TIMEOUT: u8 = 6;
}

/// `--connect-timeout` when not given (`get`, `connect`), in seconds: how
/// long establishing the transport may take.
const DEFAULT_CONNECT_SECS: &str = "10";
/// `get --idle-timeout` when not given, in seconds: how long a download may
/// go without a byte of the response body (before the first one: from the
/// moment the connection is up).
const DEFAULT_IDLE_SECS: &str = "30";

/// The longest duration any flag takes: one week.
const MAX_FLAG_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// A duration flag: seconds, fractions allowed (`1.5`), more than zero and
/// at most a week.
fn duration_flag(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected seconds, e.g. 10 or 0.5; got {s:?}"))?;
    if !(v > 0.0 && v <= MAX_FLAG_SECS) {
        return Err(format!(
            "expected more than 0 and at most {MAX_FLAG_SECS} seconds"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// An integer flag in `lo..=hi`.
fn bounded<const LO: u64, const HI: u64>(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(v) if (LO..=HI).contains(&v) => Ok(v),
        _ => Err(format!("expected a whole number from {LO} to {HI}")),
    }
}

/// `bounded`, as a `usize`.
fn bounded_usize<const LO: u64, const HI: u64>(s: &str) -> Result<usize, String> {
    bounded::<LO, HI>(s).and_then(|v| usize::try_from(v).map_err(|e| e.to_string()))
}

/// `bounded`, as a `u32`.
fn bounded_u32<const LO: u64, const HI: u64>(s: &str) -> Result<u32, String> {
    bounded::<LO, HI>(s).and_then(|v| u32::try_from(v).map_err(|e| e.to_string()))
}

/// Connects within `limit`; a failure is an error message and the exit
/// status that says which (usage, could not connect, connect timeout).
pub(crate) async fn connect_within(
    ep: &Endpoint,
    proto: Box<dyn strata::StreamProtocol>,
    stack: Arc<StackConfig>,
    limit: Duration,
) -> Result<strata_tokio::Connection, (String, u8)> {
    within(ep, strata_tokio::connect(ep, proto, stack), limit).await
}

/// [`connect_within`] for a connect already under way (a QUIC app's).
pub(crate) async fn within(
    ep: &Endpoint,
    connect: impl std::future::Future<Output = Result<strata_tokio::Connection, DriverError>>,
    limit: Duration,
) -> Result<strata_tokio::Connection, (String, u8)> {
    match tokio::time::timeout(limit, connect).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e @ (DriverError::Tls(_) | DriverError::BadOption { .. }))) => {
            Err((format!("{ep}: {e}"), exit::USAGE))
        }
        Ok(Err(e)) => Err((format!("cannot connect to {ep}: {e}"), exit::CONNECT)),
        Err(_) => Err((
            format!(
                "cannot connect to {ep}: no connection after {}s (--connect-timeout)",
                limit.as_secs_f64()
            ),
            exit::CONNECT_TIMEOUT,
        )),
    }
}

/// The endpoint `strata serve --app echo` (or another byte app) listens on
/// when given none.
const DEFAULT_ENDPOINT: &str = "tcp://127.0.0.1:7000";
/// The endpoints of the HTTP demo when given none: h2 and http/1.1 over TLS
/// (self-signed), http/1.1 and h2c in cleartext, HTTP/3 over QUIC on the
/// TLS endpoint's port number (UDP), and HTTP/2 over TLS over the reliable
/// mapping on UDP.
const DEFAULT_HTTP_ENDPOINTS: [&str; 4] = [
    "tls+tcp://127.0.0.1:8443",
    "tcp://127.0.0.1:8080",
    "quic+udp://127.0.0.1:8443",
    "tls+reliable+udp://127.0.0.1:8444",
];

/// Whether the HTTP demo serves HTTP/3 on `ep` (`quic+udp://`: a QUIC
/// connection per client, HTTP/3 on it, rather than a stream protocol per
/// QUIC stream).
fn is_h3(ep: &Endpoint) -> bool {
    ep.layers.len() == 2 && ep.layers[0] == "quic" && ep.layers[1] == "udp"
}

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "Serve and connect over any strata stack"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve an app on one or more endpoints at once (Ctrl-C drains and exits).
    Serve(ServeArgs),
    /// Netcat-like: stdin to the stack, the stack to stdout.
    Connect(ConnectArgs),
    /// Fetch a URL over HTTP/2 or HTTP/1.1 (http:// or https://).
    Get(GetArgs),
    /// Relay every connection accepted on LISTEN to a new connection to CONNECT.
    Relay(strata_cli::relay::RelayArgs),
    /// List every endpoint scheme with its options, defaults and bounds.
    Endpoints(strata_cli::endpoints::EndpointsArgs),
    /// Work with qlog traces (`strata qlog plot FILE -o out.svg`).
    #[command(subcommand)]
    Qlog(strata_cli::qlog_plot::QlogCmd),
}

#[derive(Parser)]
struct GetArgs {
    /// The URL, e.g. https://127.0.0.1:8443/bytes/1000000
    url: String,
    /// Write the body to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// TLS: accept any server certificate. For testing only.
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// TLS: trust the PEM certificates in FILE instead of the Mozilla roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<String>,
    /// Speak HTTP/1.1 only.
    #[arg(long, conflicts_with = "http2")]
    http1: bool,
    /// Speak HTTP/2 only (h2c with prior knowledge on http://).
    #[arg(long, conflicts_with = "http3")]
    http2: bool,
    /// Speak HTTP/3 over QUIC (UDP to the URL's port; https:// only).
    #[arg(long, conflicts_with_all = ["http1", "transport"])]
    http3: bool,
    /// Print the response head to stderr.
    #[arg(short, long)]
    verbose: bool,
    /// What carries the connection below TLS (or HTTP): `tcp`, or
    /// `reliable+udp` (the reliable mapping over UDP, as `strata serve`
    /// offers on udp 127.0.0.1:8444).
    #[arg(long, default_value = "tcp", value_name = "CHAIN")]
    transport: String,
    /// Seconds the whole operation may take, connecting included (like
    /// curl's -m); exit status 6 past it. Default: no limit.
    #[arg(short = 'm', long, value_name = "SECS", value_parser = duration_flag)]
    timeout: Option<Duration>,
    /// Seconds connecting may take; exit status 4 past it.
    #[arg(long, value_name = "SECS", value_parser = duration_flag, default_value = DEFAULT_CONNECT_SECS)]
    connect_timeout: Duration,
    /// Seconds the download may go without a byte of the body; exit status
    /// 5 past it.
    #[arg(long, value_name = "SECS", value_parser = duration_flag, default_value = DEFAULT_IDLE_SECS)]
    idle_timeout: Duration,
    /// Write a qlog trace of the connection (TLS handshake, HTTP/2 frames,
    /// the reliable mapping's packets and congestion) into DIR, one
    /// JSON-SEQ `.sqlog` file per connection; `strata qlog plot` draws it.
    /// See docs/qlog.md.
    #[arg(long, value_name = "DIR")]
    qlog: Option<std::path::PathBuf>,
}

#[derive(Parser)]
struct ConnectArgs {
    /// Where to connect, e.g. tcp://127.0.0.1:7000, unix:///tmp/s.sock,
    /// tls+tcp://localhost:8443?tls.alpn=h2, or a WebSocket URL
    /// (ws://host:port/path, wss://...): stdin lines go out as text
    /// messages, messages come back as lines, the end of stdin closes.
    endpoint: String,
    /// ws:// and wss://: make the handshake over HTTP/2 extended CONNECT
    /// (RFC 8441) instead of an HTTP/1.1 Upgrade.
    #[arg(long)]
    h2: bool,
    /// TLS: accept any server certificate (adds tls.insecure=true, or
    /// quic.insecure=true). For testing only: anyone on the path can
    /// impersonate the server.
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// TLS: trust the PEM certificates in FILE instead of the Mozilla roots
    /// (adds tls.ca=FILE, or quic.ca=FILE).
    #[arg(long, value_name = "FILE")]
    ca: Option<String>,
    /// Seconds connecting may take; exit status 4 past it.
    #[arg(long, value_name = "SECS", value_parser = duration_flag, default_value = DEFAULT_CONNECT_SECS)]
    connect_timeout: Duration,
}

#[derive(Parser)]
struct ServeArgs {
    /// Endpoints to listen on (default: for http, tls+tcp://127.0.0.1:8443 and
    /// tcp://127.0.0.1:8080; for the others tcp://127.0.0.1:7000); see docs/endpoints.md.
    endpoints: Vec<String>,
    /// The app every connection runs.
    #[arg(long, value_enum, default_value_t = App::Http)]
    app: App,
    /// http: serve the files under DIR (range requests, content types).
    #[arg(long, value_name = "DIR")]
    root: Option<std::path::PathBuf>,
    /// Most connections per listener at once (1 to 1000000).
    #[arg(long, default_value_t = 10_000, value_parser = bounded_usize::<1, 1_000_000>)]
    max_connections: usize,
    /// Most accepted connections per second per listener, 1 to 1000000
    /// (unlimited when absent).
    #[arg(long, value_parser = bounded_u32::<1, 1_000_000>)]
    max_accepts_per_sec: Option<u32>,
    /// Seconds a graceful shutdown waits for connections to finish (0 to 86400).
    #[arg(long, default_value_t = 10, value_parser = bounded::<0, 86_400>)]
    drain: u64,
    /// chat: bytes queued for one member before it misses messages (1 to 1 GiB).
    #[arg(long, default_value_t = ChatConfig::default().inbox_limit,
          value_parser = bounded_usize::<1, { 1 << 30 }>)]
    chat_inbox: usize,
    /// chat: seconds a member may stay unable to drain before it is
    /// disconnected (1 to 86400).
    #[arg(long, default_value_t = ChatConfig::default().stall_timeout.as_secs(),
          value_parser = bounded::<1, 86_400>)]
    chat_stall: u64,
    /// Worker threads, 1 to 1024 (default: one per core).
    #[arg(long, value_parser = bounded_usize::<1, 1024>)]
    workers: Option<usize>,
    /// One thread per worker, each with its own runtime and its own listening
    /// socket per TCP endpoint (SO_REUSEPORT: the kernel spreads the
    /// connections), so a connection stays on one thread and workers share
    /// no lock or queue. UDP and Unix endpoints are served by worker 0.
    /// --max-connections and --max-accepts-per-sec then apply per worker.
    /// See docs/endpoints.md.
    #[arg(long)]
    listener_per_worker: bool,
    /// Kernel send buffer (SO_SNDBUF) of every accepted TCP connection:
    /// bytes from 4096 to 67108864, or `auto` for the kernel's autotuning
    /// (up to net.ipv4.tcp_wmem's maximum, 4 MiB on most systems, per client
    /// that stops reading). Linux doubles the value. Endpoint option
    /// tcp.sndbuf overrides it per listener. See docs/limits.md.
    #[arg(long, value_name = "BYTES|auto", default_value = DEFAULT_SERVE_SNDBUF,
          value_parser = kernel_buffer)]
    sndbuf: KernelBuffer,
    /// Log to stderr: -v each connection's lifecycle (accepted, closed,
    /// aborted, timed out, with the peer and the layer chain), -vv also
    /// every layer's counters. RUST_LOG, when set, decides instead.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Keep statistics (the HTTP demo then serves /stats and /stats.json)
    /// and print the totals to stderr every SECS seconds (1 to 86400; 10
    /// when SECS is left out), one line each, and once more at exit (see
    /// docs/observability.md).
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true,
          default_missing_value = "10", value_parser = bounded::<1, 86_400>)]
    stats: Option<u64>,
    /// Write a qlog trace of every connection (TLS handshake, HTTP/2
    /// frames, the reliable mapping's packets and congestion) into DIR, one
    /// JSON-SEQ `.sqlog` file per connection, at most 100000 events each.
    /// See docs/qlog.md.
    #[arg(long, value_name = "DIR")]
    qlog: Option<std::path::PathBuf>,
}

/// `strata serve --sndbuf` when not given: 256 KiB (512 KiB of kernel
/// memory once Linux doubles it), enough for a gigabit at a few
/// milliseconds of round trip, and a bound on what a stalled client pins.
const DEFAULT_SERVE_SNDBUF: &str = "262144";

/// A kernel socket buffer size, or `None` for the kernel's autotuning.
#[derive(Clone, Copy, Debug)]
struct KernelBuffer(Option<u32>);

fn kernel_buffer(s: &str) -> Result<KernelBuffer, String> {
    use strata::endpoint::{SOCKET_BUFFER_MAX, SOCKET_BUFFER_MIN};
    if s.trim() == "auto" {
        return Ok(KernelBuffer(None));
    }
    bounded::<SOCKET_BUFFER_MIN, SOCKET_BUFFER_MAX>(s)
        .map_err(|e| format!("{e}, or auto"))
        .and_then(|v| u32::try_from(v).map_err(|e| e.to_string()))
        .map(|v| KernelBuffer(Some(v)))
}

#[derive(Clone, Copy, ValueEnum)]
enum App {
    /// The HTTP demo: h2 and http/1.1 (docs/http.md).
    Http,
    Echo,
    Discard,
    Chargen,
    Chat,
}

impl App {
    fn name(self) -> &'static str {
        match self {
            App::Http => "http",
            App::Echo => "echo",
            App::Discard => "discard",
            App::Chargen => "chargen",
            App::Chat => "chat",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbose = match &cli.cmd {
        Cmd::Serve(a) => a.verbose,
        _ => 0,
    };
    observe::init_tracing(verbose);
    match cli.cmd {
        Cmd::Serve(args) => serve(args),
        Cmd::Connect(args) => connect(args),
        Cmd::Get(args) => get_cmd(args),
        Cmd::Relay(args) => strata_cli::relay::run(args),
        Cmd::Endpoints(args) => strata_cli::endpoints::run(args),
        Cmd::Qlog(cmd) => strata_cli::qlog_plot::run(cmd),
    }
}

/// Parses every endpoint with the driver's schemes (`tls` included), or
/// exits 2 with an error that points at the character.
fn parse_endpoints(raw: &[String], reg: &SchemeRegistry) -> Result<Vec<Endpoint>, ExitCode> {
    raw.iter()
        .map(|s| {
            Endpoint::parse_with(s, reg).map_err(|e| {
                eprintln!("strata: bad endpoint: {e}");
                ExitCode::from(exit::USAGE)
            })
        })
        .collect()
}

fn runtime(workers: Option<usize>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        b.worker_threads(n.max(1));
    }
    // Building a runtime fails only when the OS refuses threads or an epoll fd.
    b.enable_all()
        .build()
        .expect("cannot start the tokio runtime")
}

fn shown(ep: &Endpoint, local: &Addr) -> String {
    match local {
        Addr::Inet(a) => format!("{}://{a}", ep.layers.join("+")),
        Addr::Unix(Some(p)) => format!("{}://{}", ep.layers.join("+"), p.display()),
        other => format!("{}://{other}", ep.layers.join("+")),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let raw = match (args.endpoints.is_empty(), args.app) {
        (true, App::Http) => DEFAULT_HTTP_ENDPOINTS.map(String::from).to_vec(),
        (true, _) => vec![DEFAULT_ENDPOINT.to_string()],
        (false, _) => args.endpoints.clone(),
    };
    let reg = strata_tokio::registry();
    let mut endpoints = match parse_endpoints(&raw, &reg) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if matches!(args.app, App::Http) {
        // Over TLS, ALPN offers both versions unless the endpoint says otherwise;
        // over QUIC, HTTP/3.
        for ep in &mut endpoints {
            if ep.layers.iter().any(|l| l == "tls") && ep.option("tls", "alpn").is_none() {
                ep.options.push(LayerOption {
                    layer: "tls".into(),
                    key: "alpn".into(),
                    value: "h2,http/1.1".into(),
                });
            }
            if is_h3(ep) && ep.option("quic", "alpn").is_none() {
                ep.options.push(LayerOption {
                    layer: "quic".into(),
                    key: "alpn".into(),
                    value: "h3".into(),
                });
            }
        }
        // HTTP/3 listeners first: the TLS endpoints advertise the port they got.
        endpoints.sort_by_key(|ep| !is_h3(ep));
    } else if args.root.is_some() {
        eprintln!("strata: --root is for --app http");
        return ExitCode::from(exit::USAGE);
    }
    for ep in &endpoints {
        if ep.family(&reg) == Family::Datagram && apps::datagram_by_name(args.app.name()).is_none()
        {
            eprintln!(
                "strata: the {} app needs a stream; {ep} carries datagrams (try --app echo)",
                args.app.name()
            );
            return ExitCode::from(exit::USAGE);
        }
    }
    let qlog = match qlog_tracer(args.qlog.as_deref()) {
        Ok(q) => q,
        Err(code) => return code,
    };
    let stack = Arc::new(StackConfig {
        qlog,
        ..StackConfig::default()
    });
    let stats = observe::server_stats(&args);
    let http_service = observe::with_stats_page(apps::http::service(args.root.clone()), &stats);
    let http_factory = apps::http::factory;
    let factory = match args.app {
        App::Http => http_factory(http_service.clone()),
        App::Chat => ChatRoom::new(ChatConfig {
            inbox_limit: args.chat_inbox,
            stall_timeout: Duration::from_secs(args.chat_stall),
            ..ChatConfig::default()
        })
        .factory(),
        other => match apps::by_name(other.name()) {
            Some(f) => f,
            None => unreachable!("every App value names an app"),
        },
    };
    let cfg = ListenConfig {
        stack: stack.clone(),
        max_connections: args.max_connections,
        max_accepts_per_sec: args.max_accepts_per_sec,
        send_buffer: args.sndbuf.0,
        ..ListenConfig::default()
    };
    let (rt, server) = if args.listener_per_worker {
        let n = args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let started = match &stats {
            Some(s) => strata_tokio::Workers::start_with_stats(n, s.clone()),
            None => strata_tokio::Workers::start(n),
        };
        let workers = match started {
            Ok(w) => w,
            Err(e) => {
                eprintln!("strata: cannot start {n} workers: {e}");
                return ExitCode::from(exit::FAILED);
            }
        };
        // This thread only waits for signals; the workers serve.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot start the tokio runtime");
        (rt, Serving::PerWorker(workers))
    } else {
        let server = match &stats {
            Some(s) => Server::with_stats(s.clone()),
            None => Server::new(),
        };
        (runtime(args.workers), Serving::Shared(server))
    };
    rt.block_on(async move {
        // Before the first "serving" line: a signal sent once it is read is
        // handled, not fatal.
        let signals = strata_cli::signals::Signals::install();
        observe::spawn_reporting(stats.clone(), args.stats);
        let mut shown_eps = Vec::new();
        let mut reloadable = Vec::new();
        // The port HTTP/3 got, advertised by the TLS endpoints (Alt-Svc).
        let mut h3_port = None;
        // One self-signed certificate for every endpoint given no files: a
        // client that follows Alt-Svc from TLS to QUIC meets the same one.
        let mut self_signed = None;
        for ep in &endpoints {
            let is_http = matches!(args.app, App::Http);
            let bound = match ep.family(&reg) {
                _ if is_http && is_h3(ep) => {
                    let id = match identity_for(ep, &mut self_signed) {
                        Ok(id) => id,
                        Err(code) => return code,
                    };
                    if let (Some(id), Some(_)) = (&id, ep.option("quic", "cert")) {
                        reloadable.push(Reloadable {
                            id: id.clone(),
                            endpoint: ep.clone(),
                        });
                    }
                    let service = http_service.clone();
                    let apps: strata::quic::AppFactory = Arc::new(move |alpn: Option<&[u8]>| {
                        (alpn == Some(b"h3".as_slice())).then(|| {
                            Box::new(strata::http::h3::H3Server::new(
                                service.clone(),
                                strata::http::h3::H3Config::default(),
                            )) as Box<dyn strata::quic::QuicApp>
                        })
                    });
                    match server.listen_quic(ep, id, apps, cfg.clone()).await {
                        Ok(l) => {
                            if let Some(a) = l.socket_addr() {
                                h3_port.get_or_insert(a.port());
                            }
                            Ok(l.local)
                        }
                        Err(e @ (DriverError::Tls(_) | DriverError::BadOption { .. })) => {
                            eprintln!("strata: {ep}: {e}");
                            return ExitCode::from(exit::USAGE);
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
                Family::Stream => {
                    let factory = match h3_port {
                        Some(port) if is_http && ep.layers.iter().any(|l| l == "tls") => {
                            http_factory(Arc::new(apps::http::AltSvc::h3(http_service.clone(), port)))
                        }
                        _ => factory.clone(),
                    };
                    let id = match identity_for(ep, &mut self_signed) {
                        Ok(id) => id,
                        Err(code) => return code,
                    };
                    let files = ep.option("tls", "cert").or(ep.option("quic", "cert"));
                    if let (Some(id), Some(_)) = (&id, files) {
                        reloadable.push(Reloadable {
                            id: id.clone(),
                            endpoint: ep.clone(),
                        });
                    }
                    match server
                        .listen_with_identity(ep, id, factory.clone(), cfg.clone())
                        .await
                    {
                        Ok(l) => Ok(l.local),
                        Err(e @ (DriverError::Tls(_) | DriverError::BadOption { .. })) => {
                            eprintln!("strata: {ep}: {e}");
                            return ExitCode::from(exit::USAGE);
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
                Family::Datagram => server.bind_datagram(ep, args.app, stack.clone()).await,
            };
            match bound {
                Ok(local) => {
                    let s = shown(ep, &local);
                    println!("strata: serving {} on {s}", args.app.name());
                    shown_eps.push(s);
                }
                Err(e) => {
                    eprintln!("strata: cannot listen on {ep}: {e}");
                    return ExitCode::from(exit::FAILED);
                }
            }
        }
        println!("strata: ready; try:");
        // One shown endpoint per endpoint, in order (a failure returned above).
        for (s, ep) in shown_eps.iter().zip(&endpoints) {
            if matches!(args.app, App::Http) {
                let (tls, hostport) = match s.split_once("://") {
                    Some((l, hp)) => (l.contains("tls"), hp),
                    None => (false, s.as_str()),
                };
                if s.starts_with("quic") {
                    println!("  cargo run --release -p strata-cli -- get --http3 --insecure https://{hostport}/  # HTTP/3 over QUIC");
                } else if s.contains("reliable") {
                    println!("  cargo run --release -p strata-cli -- get --insecure --transport reliable+udp https://{hostport}/  # HTTP/2 over TLS over UDP");
                } else if tls {
                    println!("  curl --insecure --http2 https://{hostport}/");
                    println!("  curl --insecure --http1.1 https://{hostport}/bytes/1000");
                    println!("  cargo run --release -p strata-cli -- get --insecure https://{hostport}/");
                } else if !s.starts_with("unix") {
                    println!("  curl http://{hostport}/");
                    println!("  curl --http2-prior-knowledge http://{hostport}/echo -d hello");
                    println!("  cargo run --release -p strata-cli -- get http://{hostport}/bytes/100");
                }
                continue;
            }
            if s.starts_with("quic") {
                // The client must offer the ALPN the listener serves.
                let alpn = ep
                    .option("quic", "alpn")
                    .map(|a| format!("?quic.alpn={a}"))
                    .unwrap_or_default();
                println!("  cargo run --release -p strata-cli -- connect --insecure '{s}{alpn}'");
            } else if s.starts_with("tls") {
                println!("  cargo run --release -p strata-cli -- connect --insecure {s}");
                println!("  openssl s_client -connect {}", s.split("://").nth(1).unwrap_or(s));
            } else if s.starts_with("udp") {
                println!("  (a datagram endpoint) e.g. python3 -c \"import socket;s=socket.socket(2,2);s.sendto(b'hi',('127.0.0.1',PORT));print(s.recv(99))\"  # {s}");
            } else {
                println!("  cargo run --release -p strata-cli -- connect {s}");
            }
        }
        signals
            .wait_for_stop(|| reloadable.iter().for_each(Reloadable::reload))
            .await;
        observe::report_final(&stats, args.stats);
        eprintln!(
            "strata: draining {} connection(s), up to {}s",
            server.connections(),
            args.drain
        );
        server.shutdown(Duration::from_secs(args.drain)).await;
        ExitCode::SUCCESS
    })
}

/// `strata serve`'s observability: the tracing filter of `-v`/`-vv`, the
/// statistics behind `--stats` and the demo's `/stats` page.
mod observe {
    use std::sync::Arc;
    use std::time::Duration;

    use strata_tokio::ServerStats;

    use super::ServeArgs;

    /// The log filter when RUST_LOG is not set: connection lifecycles and
    /// per-layer events stay quiet by default, `-v` shows lifecycles
    /// (INFO on `strata::conn`), `-vv` per-layer events and every debug
    /// event of the strata crates.
    pub(super) fn filter(verbose: u8) -> &'static str {
        match verbose {
            0 => "info,strata::conn=warn,strata::layer=warn",
            1 => "info,strata::layer=warn",
            _ => "info,strata=debug,strata_tokio=debug,strata_cli=debug",
        }
    }

    pub(super) fn init_tracing(verbose: u8) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter(verbose))),
            )
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }

    /// Statistics are kept for `--stats` and for `-v` (the lifecycle
    /// events come from the same observer); the HTTP demo then serves its
    /// `/stats` page. Off by default: the benchmarks run `strata serve`, and
    /// an observed connection costs a little per callback and per idle
    /// connection (docs/observability.md).
    pub(super) fn server_stats(args: &ServeArgs) -> Option<Arc<ServerStats>> {
        (args.stats.is_some() || args.verbose > 0).then(ServerStats::new)
    }

    /// The HTTP demo, with `/stats` and `/stats.json` when statistics are kept.
    pub(super) fn with_stats_page(
        service: strata::http::SharedService,
        stats: &Option<Arc<ServerStats>>,
    ) -> strata::http::SharedService {
        match stats {
            Some(s) => strata_cli::apps::http::StatsPage::shared(service, s.clone()),
            None => service,
        }
    }

    /// With `--stats`, the totals once more when the server stops.
    pub(super) fn report_final(stats: &Option<Arc<ServerStats>>, every: Option<u64>) {
        if let (Some(stats), Some(_)) = (stats, every) {
            eprintln!("strata: {}", stats.snapshot().line());
        }
    }

    /// Samples the request rate once a second and, with `--stats=SECS`,
    /// prints the totals every SECS seconds. Must run inside the runtime.
    pub(super) fn spawn_reporting(stats: Option<Arc<ServerStats>>, every: Option<u64>) {
        let Some(stats) = stats else {
            return;
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            let mut secs = 0u64;
            loop {
                tick.tick().await;
                stats.sample();
                secs += 1;
                if every.is_some_and(|n| secs.is_multiple_of(n)) {
                    eprintln!("strata: {}", stats.snapshot().line());
                }
            }
        });
    }
}

/// The certificate a TLS or QUIC listener presents: its files, or the one
/// self-signed certificate of this run (made at the first endpoint that
/// needs it, its fingerprint printed once).
fn identity_for(
    ep: &Endpoint,
    shared: &mut Option<strata_tokio::TlsIdentity>,
) -> Result<Option<strata_tokio::TlsIdentity>, ExitCode> {
    let secure = ep.layers.iter().any(|l| l == "tls" || l == "quic");
    let files = ep.option("tls", "cert").is_some() || ep.option("quic", "cert").is_some();
    if !secure || files {
        return tls_identity(ep);
    }
    if let Some(id) = shared {
        return Ok(Some(id.clone()));
    }
    let id = tls_identity(ep)?;
    shared.clone_from(&id);
    Ok(id)
}

/// The certificate a TLS listener presents (files or self-signed), its
/// fingerprint printed; exits 2 naming the file when one is unusable.
fn tls_identity(ep: &Endpoint) -> Result<Option<strata_tokio::TlsIdentity>, ExitCode> {
    let id = strata_tokio::server_identity(ep).map_err(|e| {
        eprintln!("strata: {ep}: {e}");
        ExitCode::from(exit::USAGE)
    })?;
    if let Some(id) = &id {
        strata_cli::relay::print_identity(id);
    }
    Ok(id)
}

async fn bind_datagram(
    server: &Server,
    ep: &Endpoint,
    app: App,
    stack: Arc<StackConfig>,
) -> Result<Addr, String> {
    if ep.layers.len() != 1 {
        return Err(format!("no datagram layer stack for {:?} yet", ep.layers));
    }
    let addr: SocketAddr = match &ep.target {
        Target::Host {
            host: Host::Ip(ip),
            port,
        } => SocketAddr::new(*ip, *port),
        Target::Host {
            host: Host::Name(n),
            port,
        } => tokio::net::lookup_host((n.as_str(), *port))
            .await
            .map_err(|e| format!("cannot resolve {n}: {e}"))?
            .next()
            .ok_or_else(|| format!("{n} has no address"))?,
        Target::Path(_) => return Err("a datagram endpoint needs host:port".into()),
    };
    let proto = apps::datagram_by_name(app.name()).ok_or("not a datagram app")?;
    server
        .bind_udp(addr, None, proto, stack)
        .await
        .map(|l| l.local)
        .map_err(|e| e.to_string())
}

/// Where `strata serve` binds: one [`Server`] on the multi-thread runtime,
/// or one per worker thread (`--listener-per-worker`: TCP endpoints on every
/// worker, the others on worker 0).
enum Serving {
    Shared(Server),
    PerWorker(strata_tokio::Workers),
}

/// What a stopped worker makes of a bind.
fn worker_stopped() -> DriverError {
    DriverError::Io {
        op: "listen",
        addr: "worker 0".into(),
        source: std::io::Error::other("the worker has stopped"),
    }
}

impl Serving {
    async fn listen_with_identity(
        &self,
        ep: &Endpoint,
        id: Option<strata_tokio::TlsIdentity>,
        factory: strata_tokio::StreamFactory,
        cfg: ListenConfig,
    ) -> Result<strata_tokio::Listening, DriverError> {
        match self {
            Serving::Shared(s) => s.listen_with_identity(ep, id, factory, cfg).await,
            Serving::PerWorker(w) => w.listen(ep, id, factory, cfg).await,
        }
    }

    async fn listen_quic(
        &self,
        ep: &Endpoint,
        id: Option<strata_tokio::TlsIdentity>,
        apps: strata::quic::AppFactory,
        cfg: ListenConfig,
    ) -> Result<strata_tokio::Listening, DriverError> {
        match self {
            Serving::Shared(s) => s.listen_quic(ep, id, apps, cfg).await,
            Serving::PerWorker(w) => {
                let ep = ep.clone();
                w.run_on(0, move |s| async move {
                    s.listen_quic(&ep, id, apps, cfg).await
                })
                .await
                .unwrap_or_else(|| Err(worker_stopped()))
            }
        }
    }

    async fn bind_datagram(
        &self,
        ep: &Endpoint,
        app: App,
        stack: Arc<StackConfig>,
    ) -> Result<Addr, String> {
        match self {
            Serving::Shared(s) => bind_datagram(s, ep, app, stack).await,
            Serving::PerWorker(w) => {
                let ep = ep.clone();
                w.run_on(0, move |s| async move {
                    bind_datagram(&s, &ep, app, stack).await
                })
                .await
                .unwrap_or_else(|| Err(worker_stopped().to_string()))
            }
        }
    }

    fn connections(&self) -> usize {
        match self {
            Serving::Shared(s) => s.connections(),
            Serving::PerWorker(w) => w.connections(),
        }
    }

    async fn shutdown(self, drain: Duration) {
        match self {
            Serving::Shared(s) => s.shutdown(drain).await,
            Serving::PerWorker(w) => w.shutdown(drain).await,
        }
    }
}

/// A TLS listener whose certificate files are read again on SIGHUP.
struct Reloadable {
    id: strata_tokio::TlsIdentity,
    endpoint: Endpoint,
}

impl Reloadable {
    /// Reads the files again; new connections get the new certificate, open
    /// ones keep theirs; a bad file keeps the old certificate.
    fn reload(&self) {
        // Every `tls.cert`/`tls.key` pair of the endpoint, checked before any
        // is swapped in.
        match self.id.reloader().reload_from(&self.endpoint) {
            Ok(()) => println!(
                "strata: {}: certificate reloaded, sha256 {}",
                self.endpoint,
                self.id.fingerprint_hex()
            ),
            Err(e) => eprintln!(
                "strata: {}: reload failed, keeping the old certificate: {e}",
                self.endpoint
            ),
        }
    }
}

fn connect(args: ConnectArgs) -> ExitCode {
    if args.endpoint.starts_with("ws://") || args.endpoint.starts_with("wss://") {
        let (ep, ca) = (&args.endpoint, args.ca.as_deref());
        let limit = args.connect_timeout;
        return ExitCode::from(wsconnect::run(ep, args.h2, args.insecure, ca, limit));
    }
    if args.h2 {
        eprintln!("strata: --h2 is for ws:// and wss:// URLs");
        return ExitCode::from(exit::USAGE);
    }
    let reg = strata_tokio::registry();
    let mut ep = match parse_endpoints(&[args.endpoint], &reg) {
        Ok(mut v) => v.remove(0),
        Err(code) => return code,
    };
    let mut tls_flag = |flag: &str, key: &str, value: String| {
        // The outermost layer that verifies a server: `tls`, or QUIC's handshake.
        let Some(layer) = ep
            .layers
            .iter()
            .find(|l| *l == "tls" || *l == "quic")
            .cloned()
        else {
            eprintln!(
                "strata: {flag} needs a tls or quic endpoint (tls+tcp://, tls+unix://, quic+udp://); {ep} has none"
            );
            return Err(ExitCode::from(exit::USAGE));
        };
        ep.options.push(LayerOption {
            layer,
            key: key.into(),
            value,
        });
        Ok(())
    };
    if args.insecure
        && let Err(code) = tls_flag("--insecure", "insecure", "true".into())
    {
        return code;
    }
    if let Some(ca) = args.ca
        && let Err(code) = tls_flag("--ca", "ca", ca)
    {
        return code;
    }
    if ep.family(&reg) != Family::Stream {
        eprintln!("strata: connect needs a stream endpoint; {ep} carries datagrams");
        return ExitCode::from(exit::USAGE);
    }
    let (proto, done, stdout) = stdio::Stdio::new();
    let rt = runtime(Some(1));
    let why = rt.block_on(async move {
        let stack = Arc::new(StackConfig::default());
        let limit = args.connect_timeout;
        let _conn = connect_within(&ep, Box::new(proto), stack, limit).await?;
        Ok(done.await.unwrap_or(Close::Done))
    });
    let why = match why {
        Ok(why) => why,
        Err((msg, code)) => {
            // The protocol never ran (or is gone): nothing is queued for
            // stdout, and the threads were told to stop when it dropped.
            eprintln!("strata: {msg}");
            return ExitCode::from(code);
        }
    };
    // Everything received is written out before exiting.
    let _ = stdout.join();
    if why.is_clean() {
        ExitCode::SUCCESS
    } else {
        eprintln!("strata: connection ended: {why}");
        ExitCode::from(exit::FAILED)
    }
}

/// `--qlog DIR`: a tracer writing one file per connection into DIR.
fn qlog_tracer(
    dir: Option<&std::path::Path>,
) -> Result<Option<strata::qlog::QlogTracer>, ExitCode> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    match strata_tokio::qlog::dir_tracer(dir, strata_tokio::qlog::DEFAULT_QLOG_MAX_EVENTS) {
        Ok(t) => Ok(Some(t)),
        Err(e) => {
            eprintln!("strata: --qlog {}: {e}", dir.display());
            Err(ExitCode::from(exit::USAGE))
        }
    }
}

fn get_cmd(args: GetArgs) -> ExitCode {
    let url: http::Uri = match args.url.parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("strata: bad URL {:?}: {e}", args.url);
            return ExitCode::from(exit::USAGE);
        }
    };
    let choice = if args.http1 {
        strata::http::VersionChoice::Http1
    } else if args.http2 {
        strata::http::VersionChoice::Http2
    } else {
        strata::http::VersionChoice::Auto
    };
    let raw = match get::endpoint_for(
        &args.url,
        &url,
        choice,
        args.insecure,
        args.ca.as_deref(),
        if args.http3 {
            "quic+udp"
        } else {
            &args.transport
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("strata: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let reg = strata_tokio::registry();
    let ep = match parse_endpoints(&[raw], &reg) {
        Ok(mut v) => v.remove(0),
        Err(code) => return code,
    };
    let qlog = match qlog_tracer(args.qlog.as_deref()) {
        Ok(q) => q,
        Err(code) => return code,
    };
    let rt = runtime(Some(1));
    let timeouts = get::Timeouts {
        connect: args.connect_timeout,
        idle: args.idle_timeout,
        total: args.timeout,
    };
    let version = if args.http3 {
        get::Version::Http3
    } else {
        get::Version::Tcp(choice)
    };
    match rt.block_on(get::get(
        url,
        &ep,
        version,
        args.output,
        args.verbose,
        timeouts,
        qlog,
    )) {
        Ok(o) => {
            let status = o.status.map_or(0, |s| s.as_u16());
            if !o.complete {
                eprintln!(
                    "strata: transfer incomplete after {} bytes: {}",
                    o.bytes, o.why
                );
                return ExitCode::from(exit::FAILED);
            }
            if status >= 400 || status == 0 {
                eprintln!("strata: server answered {status}");
                return ExitCode::from(exit::FAILED);
            }
            ExitCode::SUCCESS
        }
        Err((msg, code)) => {
            eprintln!("strata: {msg}");
            ExitCode::from(code)
        }
    }
}
