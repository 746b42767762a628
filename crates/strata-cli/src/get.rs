//! `strata get URL`: an HTTP/1.1 and HTTP/2 client over strata's stacks.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::http::h3::{H3Client, H3Config};
use strata::http::{HttpClient, HttpExchange, VersionChoice};
use strata::{Close, StackConfig, StreamProtocol, StreamTransport};
use tokio::sync::oneshot;

use crate::exit;

/// The three timers of `strata get`, as curl has them: connecting, going
/// without a byte, and the whole operation (none by default: a large
/// download may take as long as it keeps moving).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Establishing the transport (`--connect-timeout`).
    pub connect: Duration,
    /// No body byte for this long ends the download (`--idle-timeout`).
    pub idle: Duration,
    /// The whole operation, connect included (`--timeout`, like curl's `-m`).
    pub total: Option<Duration>,
}

/// The HTTP version `strata get` speaks.
#[derive(Clone, Copy, Debug)]
pub enum Version {
    /// HTTP/1.1 or HTTP/2 over a stream (TCP, TLS, the reliable mapping).
    Tcp(VersionChoice),
    /// HTTP/3 over QUIC (`--http3`).
    Http3,
}

/// What the download ended with.
#[derive(Debug)]
pub struct Outcome {
    /// The response status, if a head arrived.
    pub status: Option<http::StatusCode>,
    /// Body bytes received.
    pub bytes: u64,
    /// Whether the body ended cleanly (EOF, not a reset).
    pub complete: bool,
    /// Why the exchange ended.
    pub why: Close,
}

/// Writes the response body to a file or stdout, with a progress bar on a
/// terminal for large downloads.
pub struct Download {
    out: Box<dyn Write + Send>,
    status: Option<http::StatusCode>,
    version: Option<http::Version>,
    total: Option<u64>,
    bytes: u64,
    complete: bool,
    progress: Option<Progress>,
    done: Option<oneshot::Sender<Outcome>>,
    write_error: bool,
    verbose: bool,
    /// Body bytes so far, for the idle watchdog on the runtime's side.
    received: Arc<AtomicU64>,
}

struct Progress {
    started: Instant,
    last: Instant,
}

impl Download {
    /// A download into `out` (stdout when `None`).
    pub fn new(
        out: Option<PathBuf>,
        verbose: bool,
    ) -> std::io::Result<(Download, oneshot::Receiver<Outcome>)> {
        let (tx, rx) = oneshot::channel();
        let (out, progress): (Box<dyn Write + Send>, bool) = match out {
            Some(p) => (
                Box::new(std::io::BufWriter::new(File::create(p)?)),
                std::io::stderr().is_terminal(),
            ),
            None => (
                Box::new(std::io::stdout()),
                std::io::stderr().is_terminal() && !std::io::stdout().is_terminal(),
            ),
        };
        let now = Instant::now();
        Ok((
            Download {
                out,
                status: None,
                version: None,
                total: None,
                bytes: 0,
                complete: false,
                progress: progress.then_some(Progress {
                    started: now,
                    last: now,
                }),
                done: Some(tx),
                write_error: false,
                verbose,
                received: Arc::default(),
            },
            rx,
        ))
    }

    fn head(&mut self, t: &dyn StreamTransport) {
        if self.status.is_some() {
            return;
        }
        let Some(h) = t.response_head() else {
            return;
        };
        self.status = Some(h.status);
        self.version = Some(h.version);
        self.total = h
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        if self.verbose {
            eprintln!("< {:?} {}", h.version, h.status);
            for (n, v) in &h.headers {
                eprintln!("< {n}: {}", String::from_utf8_lossy(v.as_bytes()));
            }
        }
        // A bar only for downloads worth watching.
        if self.total.is_some_and(|n| n < 1 << 20) {
            self.progress = None;
        }
    }

    fn draw(&mut self, last: bool) {
        let Some(p) = self.progress.as_mut() else {
            return;
        };
        let now = Instant::now();
        if !last && now.duration_since(p.last) < Duration::from_millis(100) {
            return;
        }
        p.last = now;
        let secs = now.duration_since(p.started).as_secs_f64().max(1e-3);
        let rate = self.bytes as f64 / secs / 1e6;
        let line = match self.total {
            Some(total) if total > 0 => {
                let frac = (self.bytes as f64 / total as f64).min(1.0);
                let filled = (frac * 30.0) as usize;
                format!(
                    "[{}{}] {:>5.1}% {} / {} MB  {:.1} MB/s",
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    frac * 100.0,
                    self.bytes / 1_000_000,
                    total / 1_000_000,
                    rate
                )
            }
            _ => format!("{} MB  {:.1} MB/s", self.bytes / 1_000_000, rate),
        };
        eprint!("\r{line}");
        if last {
            eprintln!();
        }
    }
}

impl StreamProtocol for Download {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        // A GET has no body.
        t.write_eof();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.head(t);
        self.bytes += data.len() as u64;
        self.received.store(self.bytes, Ordering::Relaxed);
        if !self.write_error && self.out.write_all(data).is_err() {
            // stdout closed (e.g. piped into head): stop downloading.
            self.write_error = true;
            t.abort(Close::aborted("get", strata::AbortReason::Requested));
            return;
        }
        self.draw(false);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.head(t);
        self.complete = true;
        let _ = self.out.flush();
        self.draw(true);
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        let _ = self.out.flush();
        if let Some(tx) = self.done.take() {
            let _ = tx.send(Outcome {
                status: self.status,
                bytes: self.bytes,
                complete: self.complete,
                why: why.clone(),
            });
        }
    }
}

/// Builds the endpoint string for a URL: `tcp://host:port` or
/// `tls+tcp://host:port?tls.alpn=…`, with `transport` (`tcp`, or a chain
/// such as `reliable+udp`) in place of `tcp`.
pub fn endpoint_for(
    raw: &str,
    url: &http::Uri,
    choice: VersionChoice,
    insecure: bool,
    ca: Option<&str>,
    transport: &str,
) -> Result<String, String> {
    if !matches!(transport, "tcp" | "reliable+udp" | "quic+udp") {
        return Err(format!(
            "unsupported transport {transport:?} (use tcp or reliable+udp)"
        ));
    }
    let quic = transport == "quic+udp";
    let host = url.host().ok_or("the URL has no host")?;
    let tls = match url.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(s) => {
            return Err(format!(
                "unsupported scheme {s:?} (use http:// or https://)"
            ))
        }
        None => return Err("the URL needs a scheme (http:// or https://)".into()),
    };
    // `port_u16` is `None` for a port that does not fit in 16 bits too:
    // never fall back to the default port for one that was written.
    let auth = url.authority().map_or("", |a| a.as_str());
    let port = match written_port(auth) {
        Some((_, p)) => p.parse::<u16>().map_err(|_| bad_port(raw, auth))?,
        None => {
            if tls {
                443
            } else {
                80
            }
        }
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if quic {
        // HTTP/3 runs over QUIC, whose handshake is TLS 1.3: https:// only.
        if !tls {
            return Err("HTTP/3 needs an https:// URL".into());
        }
        let mut ep = format!("quic+udp://{host}:{port}?quic.alpn=h3");
        if insecure {
            ep.push_str("&quic.insecure=true");
        }
        if let Some(ca) = ca {
            ep.push_str("&quic.ca=");
            ep.push_str(ca);
        }
        return Ok(ep);
    }
    if !tls {
        return Ok(format!("{transport}://{host}:{port}"));
    }
    let mut ep = format!("tls+{transport}://{host}:{port}?tls.alpn={}", choice.alpn());
    if insecure {
        ep.push_str("&tls.insecure=true");
    }
    if let Some(ca) = ca {
        ep.push_str("&tls.ca=");
        ep.push_str(ca);
    }
    Ok(ep)
}

/// The port of `url` (written as `raw`) does not fit in 16 bits: the error,
/// with a caret under the port's first digit.
fn bad_port(raw: &str, auth: &str) -> String {
    let at = raw.find(auth).unwrap_or(0);
    let pos = at + written_port(auth).map_or(0, |(i, _)| i);
    strata::endpoint::EndpointError {
        input: raw.to_owned(),
        pos,
        kind: strata::endpoint::EndpointErrorKind::BadPort,
    }
    .to_string()
}

/// The port as written in an authority (`user@host:port`, `[::1]:port`),
/// with its offset: `http::Uri::port` hides one that does not fit in 16
/// bits.
fn written_port(auth: &str) -> Option<(usize, &str)> {
    let start = auth.rfind('@').map_or(0, |i| i + 1);
    let host_end = match auth[start..].strip_prefix('[') {
        Some(rest) => start + 1 + rest.find(']')?,
        None => start,
    };
    let colon = host_end + auth[host_end..].rfind(':')?;
    let port = &auth[colon + 1..];
    (!port.is_empty()).then_some((colon + 1, port))
}

/// Runs one GET within `timeouts`; returns the outcome (or an error message
/// and exit code).
pub async fn get(
    url: http::Uri,
    ep: &strata::endpoint::Endpoint,
    choice: Version,
    out: Option<PathBuf>,
    verbose: bool,
    timeouts: Timeouts,
    qlog: Option<strata::qlog::QlogTracer>,
) -> Result<Outcome, (String, u8)> {
    let run = get_inner(url, ep, choice, out, verbose, timeouts, qlog);
    match timeouts.total {
        // tokio saturates a deadline past its range to "far future".
        Some(total) => tokio::time::timeout(total, run).await.unwrap_or_else(|_| {
            Err((
                format!("timed out after {} (--timeout)", secs(total)),
                exit::TIMEOUT,
            ))
        }),
        None => run.await,
    }
}

/// "2s", "1.5s": a duration as the flags take it.
fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

async fn get_inner(
    url: http::Uri,
    ep: &strata::endpoint::Endpoint,
    choice: Version,
    out: Option<PathBuf>,
    verbose: bool,
    timeouts: Timeouts,
    qlog: Option<strata::qlog::QlogTracer>,
) -> Result<Outcome, (String, u8)> {
    let (dl, done) = Download::new(out.clone(), verbose).map_err(|e| {
        let p = out.map(|p| p.display().to_string()).unwrap_or_default();
        (format!("cannot write {p}: {e}"), exit::USAGE)
    })?;
    let progress = dl.received.clone();
    let req = http::Request::get(url)
        .header(
            http::header::USER_AGENT,
            concat!("strata/", env!("CARGO_PKG_VERSION")),
        )
        .body(())
        .map_err(|e| (format!("bad request: {e}"), exit::USAGE))?;
    let stack = Arc::new(StackConfig {
        qlog,
        ..StackConfig::default()
    });
    let conn = match choice {
        Version::Tcp(choice) => {
            let client = HttpClient::new(req, Box::new(dl), choice);
            crate::connect_within(ep, Box::new(client), stack, timeouts.connect).await?
        }
        Version::Http3 => {
            let app = H3Client::request(req, Box::new(dl), H3Config::default());
            let connect = strata_tokio::connect_quic(ep, Box::new(app), stack);
            crate::within(ep, connect, timeouts.connect).await?
        }
    };
    let mut done = done;
    let outcome = tokio::select! {
        o = &mut done => o,
        () = idle_watch(&progress, timeouts.idle) => {
            conn.abort();
            let n = progress.load(Ordering::Relaxed);
            return Err((
                format!(
                    "no data for {} after {n} bytes (--idle-timeout)",
                    secs(timeouts.idle)
                ),
                exit::IDLE_TIMEOUT,
            ));
        }
    };
    let why = conn.closed().await;
    match outcome {
        Ok(o) => Ok(o),
        Err(_) => Err((
            format!("connection ended before a response: {why}"),
            exit::FAILED,
        )),
    }
}

/// Returns once `progress` has not moved for `idle` (checked a few times
/// per period, so it fires between `idle` and `idle` + a quarter of it).
async fn idle_watch(progress: &AtomicU64, idle: Duration) {
    let step = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut seen = progress.load(Ordering::Relaxed);
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(step).await;
        let now = tokio::time::Instant::now();
        let n = progress.load(Ordering::Relaxed);
        if n != seen {
            (seen, since) = (n, now);
        } else if now.duration_since(since) >= idle {
            return;
        }
    }
}
