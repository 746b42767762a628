//! qlog end to end (issue 14, point 5): `strata qlog plot` draws the
//! congestion view of a lossy reliable-mapping transfer and the stream view
//! of an HTTP/2 exchange (checked by reading the SVG), refuses a trace
//! without the view's events with a clear error, and `strata serve --qlog`
//! with `strata get --qlog` over real loopback sockets (h2 over TLS, and
//! over TLS over the reliable mapping) write one valid trace per
//! connection on each side.
//!
//! `STRATA_QLOG_DOC_IMAGES=DIR` also writes the SVGs of the two in-memory
//! traces to DIR (how `docs/img/qlog-*.svg` are made).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use strata::qlog::{
    JsonSeqWriter, QlogTrace, QlogTracer, SharedBuf, TraceHeader, TraceInfo, Vantage,
};
use strata::reliable::{Reliable, ReliableConfig, ReliableListener};
use strata::testing::{LinkConfig, Loss, SimNet};
use strata::{DatagramProtocol, StreamProtocol, StreamTransport};
use strata_cli::qlog_plot::{plot, Trace, View};

/// Sends `left` bytes as fast as the transport takes them, then ends.
struct Sender {
    left: usize,
}
impl Sender {
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        let chunk = [0x5a; 16 * 1024];
        while self.left > 0 && t.writable() {
            let n = self.left.min(chunk.len());
            t.write(&chunk[..n]);
            self.left -= n;
        }
        if self.left == 0 {
            t.write_eof();
            self.left = usize::MAX; // ended
        }
    }
}
impl StreamProtocol for Sender {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t)
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        if self.left != usize::MAX {
            self.pump(t)
        }
    }
}

/// Counts what arrives; closes at the end.
struct Sink(Arc<Mutex<usize>>);
impl StreamProtocol for Sink {
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        *self.0.lock().unwrap() += d.len();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

/// The server's address in the simulator's runs.
const SERVER: &str = "10.0.0.2:4433";

/// A [`Sender`] of 1 MB (node `client`, given the server's address) to a
/// [`Sink`] (node `server`, given its apps' factory) over a 20 ms,
/// 8 Mbit/s link losing 2 % each way, in the simulator (seed 3, the same
/// run every time, for at most `secs`); the client's trace, titled `title`.
fn lossy_sim_trace(
    title: &'static str,
    secs: u64,
    server: impl FnOnce(strata::StreamFactory) -> Box<dyn DatagramProtocol>,
    client: impl FnOnce(SocketAddr, Sender) -> Box<dyn DatagramProtocol>,
) -> String {
    let buf = SharedBuf::default();
    let b = buf.clone();
    let tracer = QlogTracer::new(move |i: &TraceInfo| {
        (i.vantage == Vantage::Client).then(|| {
            let h = TraceHeader::new(i.vantage, i.now).title(title);
            QlogTrace::new(JsonSeqWriter::new(h, 1_000_000, b.sink()))
        })
    });
    let mut net = SimNet::new(3);
    net.set_tracing(false);
    net.set_qlog(tracer);
    let got = Arc::new(Mutex::new(0));
    let g = got.clone();
    let server_addr: SocketAddr = SERVER.parse().unwrap();
    let factory: strata::StreamFactory =
        Arc::new(move || Box::new(Sink(g.clone())) as Box<dyn StreamProtocol>);
    let s = net.add_node(server_addr, server(factory));
    let sender = Sender { left: 1_000_000 };
    let c = net.add_node(
        "10.0.0.1:5000".parse().unwrap(),
        client(server_addr, sender),
    );
    let link = LinkConfig::default()
        .delay(Duration::from_millis(20))
        .rate_bps(8_000_000)
        .loss(Loss::Random(0.02));
    net.link_both(c, s, link);
    net.run_until(Duration::from_secs(secs), |_| {
        *got.lock().unwrap() == 1_000_000
    });
    assert_eq!(*got.lock().unwrap(), 1_000_000);
    drop(net);
    buf.text()
}

/// The sender's trace of 1 MB over a 20 ms, 8 Mbit/s link losing 2 %
/// each way, in the simulator (the same run every time).
fn lossy_reliable_trace() -> String {
    let cfg = ReliableConfig::default();
    let c = cfg.clone();
    lossy_sim_trace(
        "reliable+udp, 1 MB, 2 % loss",
        60,
        |factory| Box::new(ReliableListener::new(cfg, factory)),
        |server, sender| Box::new(Reliable::connect_to(server, c, sender)),
    )
}

/// A server certificate with an Ed25519 key (self-signed, `localhost`):
/// its signature has one length every run, so the QUIC trace below is the
/// same every run (an ECDSA signature's length varies with its nonce, and
/// with it the handshake packets').
const ED25519_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBVTCCAQegAwIBAgIUVGWfMxXx0ixHF/0dkHoLufl2b2QwBQYDK2VwMBQxEjAQ
BgNVBAMMCWxvY2FsaG9zdDAgFw0yNjEyMDcxNjQ5MTFaGA8yMTI2MTExMzE2NDkx
MVowFDESMBAGA1UEAwwJbG9jYWxob3N0MCowBQYDK2VwAyEA0cbL8CpIRA3Ay+tq
pOccJsFoHJhEiUtezxE2Wm43LCijaTBnMB0GA1UdDgQWBBQ7q34tFpVabIPZPAnQ
LQF/6EZ7AjAfBgNVHSMEGDAWgBQ7q34tFpVabIPZPAnQLQF/6EZ7AjAPBgNVHRMB
Af8EBTADAQH/MBQGA1UdEQQNMAuCCWxvY2FsaG9zdDAFBgMrZXADQQDpmPPMBEv7
1VGNuND8N9FFuRYoHhPWbESpvo8JB10kDfIPR64muZ2QIx7QHiliLpSe9aRYWJKA
ZvNu7aeCtHcK
-----END CERTIFICATE-----
";
const ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJMJRtcfryLZsvtFBw7ZqlZ+n+asewDL1IB/sAc9g+Lm
-----END PRIVATE KEY-----
";

/// The sender's trace of 1 MB over QUIC, on the link of
/// [`lossy_reliable_trace`] (20 ms, 8 Mbit/s, 2 % loss each way), in the
/// simulator: quinn-proto's events (the same run every time).
fn lossy_quic_trace() -> String {
    use strata::quic::testing::{QuicPairTls, QUIC_PAIR_ALPN};
    use strata::quic::{AppFactory, PerStream, QuicApp, QuicClient, QuicConfig, QuicServer};
    let cfg = |seed| QuicConfig {
        rng_seed: Some(seed),
        ..QuicConfig::default()
    };
    let server = |factory: strata::StreamFactory| -> Box<dyn DatagramProtocol> {
        let apps: AppFactory =
            Arc::new(move |_| Some(Box::new(PerStream::new(factory.clone())) as Box<dyn QuicApp>));
        let id = strata::tls::Identity::from_pem(ED25519_CERT.as_bytes(), ED25519_KEY.as_bytes())
            .unwrap();
        let server_tls = strata::tls::ServerTls::new(&id)
            .alpn([QUIC_PAIR_ALPN])
            .build_rustls()
            .unwrap();
        Box::new(QuicServer::new(cfg(3), Arc::new(server_tls), apps).unwrap())
    };
    lossy_sim_trace("quic, 1 MB, 2 % loss", 60, server, |server, sender| {
        let client_tls = QuicPairTls::new().client;
        let sender = Box::new(sender);
        Box::new(QuicClient::stream(cfg(4), client_tls, "localhost", server, sender).unwrap())
    })
}

/// Echoes a request body.
struct Echo;
impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d)
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close()
    }
}

/// A request that uploads `body` and drops the answer.
struct Upload(Vec<u8>);
impl StreamProtocol for Upload {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write(&self.0);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// The client's trace of five uploads over HTTP/2, 10 ms each way at
/// 4 MB/s.
fn h2_trace() -> String {
    use strata::http::h2::{H2Client, H2Config, H2Connection};
    let client = H2Client::new();
    for size in [200_000, 20_000, 3_000, 500, 50] {
        let req = http::Request::post("http://x/up").body(()).unwrap();
        client.send(req, Box::new(Upload(vec![1; size])));
    }
    let c = H2Connection::client(Arc::new(H2Config::default()), client.clone());
    let svc: strata::http::SharedService =
        Arc::new(|_: &http::request::Parts| Box::new(Echo) as Box<dyn StreamProtocol>);
    let s = H2Connection::server(Arc::new(H2Config::default()), svc);
    let buf = SharedBuf::default();
    let h = TraceHeader::new(Vantage::Client, strata::testing::epoch()).title("h2, five uploads");
    let trace = QlogTrace::new(JsonSeqWriter::new(h, 100_000, buf.sink()));
    let cfg = strata::testing::PumpConfig::default()
        .latency(Duration::from_millis(10))
        .rate(4_000_000)
        .chunk(16 * 1024);
    let mut pump =
        strata::testing::Pump::with_qlog(Box::new(c), Box::new(s), cfg, [Some(trace), None]);
    pump.run(Duration::from_secs(5));
    drop(pump);
    buf.text()
}

fn doc_image(name: &str, svg: &str) {
    if let Some(dir) = std::env::var_os("STRATA_QLOG_DOC_IMAGES") {
        std::fs::write(Path::new(&dir).join(name), svg).unwrap();
    }
}

fn count(svg: &str, tag: &str) -> usize {
    svg.matches(tag).count()
}

/// The congestion view's legend names each of its five series.
fn assert_congestion_legend(svg: &str) {
    for label in [
        "congestion window",
        "bytes in flight",
        "smoothed RTT",
        "latest RTT",
        "min RTT",
    ] {
        assert!(svg.contains(label), "legend {label}");
    }
}

/// The congestion view marks each of `losses` packets lost with a dot.
fn assert_losses_marked(svg: &str, losses: usize) {
    assert!(svg.contains(&format!("packet lost ({losses})")));
    // One red dot per loss, and one in the legend.
    assert_eq!(count(svg, "<circle"), losses + 1);
}

/// The events of `trace` named `name`.
fn named<'a>(trace: &'a Trace, name: &'a str) -> impl Iterator<Item = &'a Json> + 'a {
    trace.events.iter().filter(move |e| e["name"] == name)
}

/// How many points the longest line (`<polyline>`) of `svg` has.
fn longest_polyline(svg: &str) -> Option<usize> {
    svg.split("<polyline")
        .skip(1)
        .map(|p| {
            p.split("points=\"")
                .nth(1)
                .map_or(0, |q| q.split('"').next().unwrap().split(' ').count())
        })
        .max()
}

#[test]
fn the_congestion_view_draws_window_flight_rtt_and_every_loss() {
    let text = lossy_reliable_trace();
    let trace = Trace::parse(&text).unwrap();
    let losses = named(&trace, "recovery:packet_lost").count();
    assert!(losses > 5, "2 % loss over 1 MB: {losses}");
    // BBR leaves startup once the queue fills, and drains it.
    let states: Vec<&str> = named(&trace, "recovery:congestion_state_updated")
        .filter_map(|e| e["data"]["new"].as_str())
        .collect();
    assert_eq!(states[..2], ["startup", "drain"], "{states:?}");
    let svg = plot(&trace, View::Congestion).unwrap();
    doc_image("qlog-reliable-congestion.svg", &svg);
    assert!(svg.starts_with("<svg"));
    assert_congestion_legend(&svg);
    assert_losses_marked(&svg, losses);
    // Five series as lines (plus the legend's short lines).
    assert!(
        count(&svg, "<polyline") >= 5,
        "{}",
        count(&svg, "<polyline")
    );
    // The window line climbs past its start: it has many points.
    let longest = longest_polyline(&svg);
    assert!(longest > Some(100), "{longest:?}");
    // Asked for the other view, a clear error.
    let e = plot(&trace, View::Streams).unwrap_err();
    assert!(
        e.contains("no http:frame_created or http:frame_parsed events"),
        "{e}"
    );
}

#[test]
fn the_congestion_view_draws_a_quic_transfer_from_quinn_protos_events() {
    let text = lossy_quic_trace();
    assert_eq!(text, lossy_quic_trace(), "the same run every time");
    let trace = Trace::parse(&text).unwrap();
    assert_eq!(trace.default_view(), View::Congestion);
    let losses = named(&trace, "recovery:packet_lost")
        .filter(|e| e["data"]["header"]["packet_number"].is_u64())
        .count();
    assert!(losses > 5, "2 % loss over 1 MB: {losses}");
    let svg = plot(&trace, View::Congestion).unwrap();
    doc_image("qlog-quic-congestion.svg", &svg);
    assert_congestion_legend(&svg);
    assert_losses_marked(&svg, losses);
    let updates = named(&trace, "recovery:metrics_updated")
        .filter(|e| e["data"]["bytes_in_flight"].is_u64())
        .count();
    let longest = longest_polyline(&svg);
    assert!(updates > 100, "{updates}");
    assert!(
        longest >= Some(2 * updates - 1),
        "{longest:?} for {updates}"
    );
}

#[test]
fn the_stream_view_draws_one_row_per_stream() {
    let text = h2_trace();
    let trace = Trace::parse(&text).unwrap();
    assert_eq!(trace.default_view(), View::Streams);
    let svg = plot(&trace, View::Streams).unwrap();
    doc_image("qlog-h2-streams.svg", &svg);
    for id in [1, 3, 5, 7, 9] {
        assert!(
            svg.contains(&format!("stream {id}\n")),
            "row for stream {id}"
        );
    }
    assert!(!svg.contains("stream 11\n"));
    for kind in ["headers", "data"] {
        assert!(svg.contains(&format!("{kind}\n")), "legend {kind}");
    }
    // A mark per frame on a stream (sent and received), plus the legend's.
    let frames = trace
        .events
        .iter()
        .filter(|e| e["data"]["stream_id"].as_u64().is_some_and(|s| s > 0))
        .filter(|e| {
            matches!(
                e["data"]["frame"]["frame_type"].as_str(),
                Some("headers" | "data" | "window_update" | "rst_stream")
            )
        })
        .count();
    assert!(frames > 20, "{frames}");
    // Rectangles: the background, the legend box and its marks, the frames.
    let rects = count(&svg, "<rect");
    assert!(
        rects >= frames && rects <= frames + 10,
        "{rects} for {frames} frames"
    );
    let e = plot(&trace, View::Congestion).unwrap_err();
    assert!(e.contains("no recovery:metrics_updated events"), "{e}");
}

#[test]
fn plot_on_the_command_line_writes_the_svg_or_says_why_not() {
    let dir = tempdir("plot");
    let file = dir.join("h2.sqlog");
    std::fs::write(&file, h2_trace()).unwrap();
    let out = dir.join("h2.svg");
    let run = |args: &[&str]| support::finish(support::strata(args));
    let o = run(&[
        "qlog",
        "plot",
        file.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("stream 1\n"));
    let o = run(&[
        "qlog",
        "plot",
        file.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--view",
        "congestion",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no recovery:metrics_updated events"), "{err}");
    let bad = dir.join("bad.sqlog");
    std::fs::write(&bad, "{}\n").unwrap();
    let o = run(&[
        "qlog",
        "plot",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a JSON-SEQ qlog trace"));
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("strata-qlog-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Checks qlog's required fields in a JSON-SEQ file: the header's
/// qlog_version, qlog_format and trace.vantage_point.type; each event's
/// time, name and data. Returns the vantage point and the events.
fn validate(text: &str) -> (String, Vec<Json>) {
    assert!(text.starts_with('\u{1e}'));
    let mut records = text.split('\u{1e}').skip(1).map(|r| {
        assert!(r.ends_with('\n'));
        serde_json::from_str::<Json>(r).unwrap_or_else(|e| panic!("{e}: {r}"))
    });
    let h = records.next().unwrap();
    assert!(
        h["qlog_version"].is_string() && h["qlog_format"] == "JSON-SEQ",
        "{h}"
    );
    assert!(
        h["trace"]["common_fields"]["reference_time"].as_f64() > Some(1.5e12),
        "wall clock: {h}"
    );
    let vantage = h["trace"]["vantage_point"]["type"]
        .as_str()
        .unwrap()
        .to_string();
    let events: Vec<Json> = records.collect();
    for e in &events {
        assert!(
            e["time"].is_number() && e["name"].is_string() && e["data"].is_object(),
            "{e}"
        );
    }
    (vantage, events)
}

/// The traces in `dir` once the server's is complete (it is written when
/// its connection ends, just after the client's): (vantage, events) each.
fn traces_when_done(dir: &Path, want: usize) -> Traces {
    let start = Instant::now();
    loop {
        let mut got = Vec::new();
        for f in std::fs::read_dir(dir).unwrap() {
            let p = f.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            // A server trace is written out at its connection's end.
            if text.contains("http:frame_created") {
                got.push(validate(&text));
            }
        }
        if got.len() >= want {
            return got;
        }
        assert!(
            start.elapsed() < support::HUNG,
            "{} traces of {want} in {}",
            got.len(),
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The text of the one trace in `dir` once it holds `needle` (a trace is
/// written out when it passes 64 KiB and when its connection ends).
fn trace_with(dir: &Path, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .collect();
        if let [file] = &files[..] {
            let text = std::fs::read_to_string(file).unwrap();
            // Whole records only: a trace is written out in pieces.
            if text.ends_with("}\n") && text.contains(needle) {
                return text;
            }
        }
        assert!(
            start.elapsed() < support::HUNG,
            "{} traces in {}, none with {needle}",
            files.len(),
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `strata serve`, killed on drop.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `strata serve --app http --qlog DIR` on `endpoint`; its host:port.
fn serve(dir: &Path, endpoint: &str) -> (Served, String) {
    serve_app(dir, "http", endpoint)
}

/// `strata serve --app APP --qlog DIR` on `endpoint`; its host:port.
fn serve_app(dir: &Path, app: &str, endpoint: &str) -> (Served, String) {
    use std::io::{BufRead, BufReader};
    let args = [
        "serve",
        "--app",
        app,
        "--qlog",
        dir.to_str().unwrap(),
        endpoint,
    ];
    let mut served = Served(support::strata(&args));
    let out = served.0.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        let line = lines
            .next()
            .expect("strata serve prints its endpoint")
            .unwrap();
        if let Some(ep) = line
            .strip_prefix("strata: serving ")
            .and_then(|l| l.strip_prefix(app))
            .and_then(|l| l.strip_prefix(" on "))
        {
            let hostport = ep.split("://").nth(1).unwrap().split('?').next().unwrap();
            let hostport = hostport.to_string();
            std::thread::spawn(move || for _ in lines {});
            return (served, hostport);
        }
    }
}

/// `strata get URL --insecure FLAGS -o /dev/null --qlog DIR`, which must
/// succeed.
fn get(dir: &Path, url: &str, flags: &[&str]) {
    let mut args = vec!["get", url, "--insecure"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["-o", "/dev/null", "--qlog", dir.to_str().unwrap()]);
    let o = support::finish(support::strata(&args));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Serves HTTP/3 and gets `bytes` from it with `strata get --http3`, both
/// with `--qlog`: the one trace of the client (its vantage point and events,
/// valid qlog) and the server's text, once its connection drained (it is
/// written out then).
fn serve_and_get_http3(name: &str, bytes: usize) -> ((String, Vec<Json>), String) {
    let (sdir, cdir) = (
        tempdir(&format!("{name}-serve")),
        tempdir(&format!("{name}-get")),
    );
    let (server, hostport) = serve(&sdir, "quic+udp://127.0.0.1:0");
    get(
        &cdir,
        &format!("https://{hostport}/bytes/{bytes}"),
        &["--http3"],
    );
    let server_text = trace_with(&sdir, "connectivity:connection_closed");
    drop(server);
    let files: Vec<_> = std::fs::read_dir(&cdir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one trace for the one connection");
    let client = validate(&std::fs::read_to_string(&files[0]).unwrap());
    (client, server_text)
}

/// Each trace of a directory: its vantage point and events.
type Traces = Vec<(String, Vec<Json>)>;

/// Serves on `endpoint` and gets 300 kB from it over `transport`, both with
/// `--qlog`; the client's traces and the server's.
fn serve_and_get(name: &str, endpoint: &str, transport: &str) -> (Traces, Traces) {
    let (sdir, cdir) = (
        tempdir(&format!("{name}-serve")),
        tempdir(&format!("{name}-get")),
    );
    let (server, hostport) = serve(&sdir, endpoint);
    let url = format!("https://{hostport}/bytes/300000");
    get(&cdir, &url, &["--http2", "--transport", transport]);
    let client = traces_when_done(&cdir, 1);
    let srv = traces_when_done(&sdir, 1);
    drop(server);
    (client, srv)
}

fn has(events: &[Json], name: &str, category: &str) -> bool {
    events
        .iter()
        .any(|e| e["name"] == name && e["category"] == category)
}

#[test]
fn serve_and_get_write_one_valid_trace_per_connection_over_tls_and_tcp() {
    let (client, server) = serve_and_get("tcp", "tls+tcp://127.0.0.1:0", "tcp");
    assert_eq!(client.len(), 1);
    assert_eq!(server.len(), 1);
    for ((vantage, events), want) in [(&client[0], "client"), (&server[0], "server")] {
        assert_eq!(vantage, want);
        assert!(has(events, "security:handshake_done", "tls"), "{want}");
        assert!(
            has(events, "http:frame_created", "h2") && has(events, "http:frame_parsed", "h2"),
            "{want}"
        );
    }
    let data: u64 = client[0]
        .1
        .iter()
        .filter(|e| e["name"] == "http:frame_parsed" && e["data"]["frame"]["frame_type"] == "data")
        .map(|e| e["data"]["raw"]["length"].as_u64().unwrap())
        .sum();
    assert_eq!(data, 300_000, "the body, frame by frame");
}

#[test]
fn serve_and_get_trace_the_reliable_mapping_under_tls_in_the_same_file() {
    let (client, server) =
        serve_and_get("reliable", "tls+reliable+udp://127.0.0.1:0", "reliable+udp");
    assert_eq!((client.len(), server.len()), (1, 1));
    for (_, events) in [&client[0], &server[0]] {
        assert!(has(events, "transport:packet_sent", "reliable"));
        assert!(has(events, "recovery:metrics_updated", "reliable"));
        assert!(has(events, "security:handshake_done", "tls"));
        assert!(has(events, "http:frame_parsed", "h2"));
    }
    // The server sent the body: its trace plots.
    let text_trace = Trace {
        vantage: "server".into(),
        title: String::new(),
        events: server[0].1.clone(),
    };
    assert!(plot(&text_trace, View::Congestion)
        .unwrap()
        .contains("congestion window"));
}

#[test]
fn get_http3_writes_the_quic_connection_s_trace_packet_by_packet_and_it_plots() {
    let ((vantage, events), server_text) = serve_and_get_http3("h3", 100_000);
    assert_eq!(vantage, "client");
    assert!(has(&events, "recovery:metrics_updated", "quic"));
    assert!(has(&events, "connectivity:connection_closed", "quic"));
    // quinn-proto's events, packet by packet, with their numbers.
    let numbered = |name: &str| {
        events
            .iter()
            .filter(|e| e["name"] == name && e["category"] == "quic")
            .filter(|e| e["data"]["header"]["packet_number"].is_u64())
            .count()
    };
    // 100 kB down in packets of at most 1,452 bytes.
    assert!(numbered("transport:packet_received") > 60, "{events:?}");
    // The client sends little (its hello, acknowledgments, its close): how
    // many acknowledgments depends on how the packets were batched.
    for ty in ["initial", "handshake", "1RTT"] {
        assert!(
            events.iter().any(|e| e["name"] == "transport:packet_sent"
                && e["data"]["header"]["packet_type"] == ty
                && e["data"]["header"]["packet_number"].is_u64()),
            "a {ty} packet sent"
        );
    }
    assert!(events
        .iter()
        .any(|e| e["name"] == "recovery:metrics_updated" && e["data"]["bytes_in_flight"].is_u64()));
    // The server sent the body: its trace draws the congestion view.
    validate(&server_text);
    let trace = Trace::parse(&server_text).unwrap();
    assert_eq!(trace.vantage, "server");
    assert_eq!(trace.default_view(), View::Congestion);
    let sent = named(&trace, "transport:packet_sent").count();
    assert!(sent > 60, "{sent}");
    let svg = plot(&trace, View::Congestion).unwrap();
    assert_congestion_legend(&svg);
    // quinn-proto updates the bytes in flight after each batch of packets
    // sent and each acknowledgment: each update is a step of its line.
    let updates = named(&trace, "recovery:metrics_updated")
        .filter(|e| e["data"]["bytes_in_flight"].is_u64())
        .count();
    assert!(updates >= 4, "{updates}");
    let longest = longest_polyline(&svg);
    assert!(
        longest >= Some(2 * updates - 1),
        "{longest:?} for {updates}"
    );
}

/// A trace written by hand: qlog's header, then `events` (JSON objects).
fn handmade(events: &[&str]) -> Trace {
    let mut text = String::from(
        "\u{1e}{\"qlog_version\":\"0.3\",\"qlog_format\":\"JSON-SEQ\",\"trace\":{\"vantage_point\":{\"type\":\"client\"}}}\n",
    );
    for e in events {
        text.push('\u{1e}');
        text.push_str(e);
        text.push('\n');
    }
    Trace::parse(&text).unwrap()
}

fn state(t: f64, id: u64, old: &str, new: &str, trigger: &str) -> String {
    format!(
        r#"{{"time":{t},"name":"http:stream_state_updated","category":"h2","data":{{"stream_id":{id},"old":"{old}","new":"{new}","trigger":"{trigger}"}}}}"#
    )
}

fn headers_sent(t: f64, id: u64) -> String {
    format!(
        r#"{{"time":{t},"name":"http:frame_created","category":"h2","data":{{"stream_id":{id},"frame":{{"frame_type":"headers"}},"raw":{{"length":10}}}}}}"#
    )
}

/// The `<polyline>` elements of `svg` stroked in `color`, as their points.
fn lines_in(svg: &str, color: Rgb) -> Vec<Vec<(f64, f64)>> {
    let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
    svg.split('<')
        .filter(|el| el.starts_with("polyline") && el.contains(&stroke))
        .map(|el| {
            let pts = el
                .split("points=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            pts.split(' ')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

type Rgb = (u8, u8, u8);
const OPEN: Rgb = (60, 60, 60);
const HALF_LOCAL: Rgb = (110, 150, 220);
const HALF_REMOTE: Rgb = (170, 200, 150);

#[test]
fn the_stream_view_draws_each_stream_s_life_state_by_state() {
    // Stream 1: open 0-10, half closed (local) 10-30, reset by the peer at
    // 30. Stream 3: open 5-20, then refused by a GOAWAY. Stream 5: open at
    // 40, half closed (remote) from 50 to the trace's end (60).
    let events = [
        state(0.0, 1, "idle", "open", "headers"),
        headers_sent(0.0, 1),
        state(5.0, 3, "idle", "open", "headers"),
        headers_sent(5.0, 3),
        state(10.0, 1, "open", "half_closed_local", "end_stream"),
        state(20.0, 3, "open", "closed", "goaway"),
        state(30.0, 1, "half_closed_local", "closed", "reset_received"),
        state(40.0, 5, "idle", "open", "headers"),
        state(50.0, 5, "open", "half_closed_remote", "end_stream"),
        headers_sent(60.0, 5),
    ];
    let trace = handmade(&events.iter().map(String::as_str).collect::<Vec<_>>());
    let svg = plot(&trace, View::Streams).unwrap();
    for label in [
        "open\n",
        "half closed (local)\n",
        "half closed (remote)\n",
        "reset\n",
        "closed by GOAWAY or connection end\n",
    ] {
        assert!(svg.contains(label), "legend {label:?}");
    }
    // One line per span, and one in the legend; the legend's is the last
    // drawn, and the shortest.
    let open = lines_in(&svg, OPEN);
    assert_eq!(open.len(), 3 + 1, "{open:?}");
    let (local, remote) = (lines_in(&svg, HALF_LOCAL), lines_in(&svg, HALF_REMOTE));
    assert_eq!((local.len(), remote.len()), (1 + 1, 1 + 1));
    // Spans in time: x grows with the time, rows go down with the id.
    let x = |l: &Vec<(f64, f64)>| (l[0].0, l[1].0);
    let (o1, o3, o5) = (x(&open[0]), x(&open[1]), x(&open[2]));
    let width = |s: (f64, f64)| s.1 - s.0;
    assert!(o1.0 < o3.0 && o3.0 < o5.0, "{open:?}");
    // Stream 1 open 10 ms, stream 3 open 15 ms, stream 5 open 10 ms.
    assert!((width(o1) * 1.5 - width(o3)).abs() <= 2.0, "{o1:?} {o3:?}");
    assert!((width(o1) - width(o5)).abs() <= 1.0, "{o1:?} {o5:?}");
    // Half closed (local) on stream 1 for 20 ms; half closed (remote) on
    // stream 5 until the trace's last event, 10 ms.
    assert!((width(x(&local[0])) - 2.0 * width(o1)).abs() <= 2.0);
    assert!((width(x(&remote[0])) - width(o1)).abs() <= 1.0);
    assert_eq!(open[0][0].1, local[0][0].1, "stream 1's spans share a row");
    // Stream 1's row at the bottom (SVG's y grows downward).
    assert!(open[0][0].1 > open[1][0].1 && open[1][0].1 > open[2][0].1);
    // The ends: a cross where stream 1's reset (red) and stream 3's GOAWAY
    // (black) closed them, then one of each in the legend; stream 5 never
    // closed.
    let (red, black) = (crosses_in(&svg, (255, 0, 0)), crosses_in(&svg, (0, 0, 0)));
    assert_eq!(
        (red.len(), black.len()),
        (1 + 1, 1 + 1),
        "{red:?} {black:?}"
    );
    let near = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() <= 1.0 && (a.1 - b.1).abs() <= 1.0;
    assert!(near(red[0], local[0][1]), "{red:?} {local:?}");
    assert!(near(black[0], open[1][1]), "{black:?} {open:?}");
}

/// The centres of the crosses (two crossing `<line>`s of width 2) stroked
/// in `color`.
fn crosses_in(svg: &str, color: Rgb) -> Vec<(f64, f64)> {
    let stroke = format!(
        "stroke=\"#{:02X}{:02X}{:02X}\" stroke-width=\"2\"",
        color.0, color.1, color.2
    );
    let attr = |el: &str, k: &str| -> f64 {
        let v = el.split(&format!(" {k}=\"")).nth(1).unwrap();
        v.split('"').next().unwrap().parse().unwrap()
    };
    let lines: Vec<(f64, f64)> = svg
        .split('<')
        .filter(|el| el.starts_with("line ") && el.contains(&stroke))
        .map(|el| {
            (
                (attr(el, "x1") + attr(el, "x2")) / 2.0,
                (attr(el, "y1") + attr(el, "y2")) / 2.0,
            )
        })
        .collect();
    lines.chunks(2).map(|pair| pair[0]).collect()
}

#[test]
fn the_stream_view_of_an_h2_exchange_draws_every_stream_open_then_half_closed() {
    let trace = Trace::parse(&h2_trace()).unwrap();
    let states = named(&trace, "http:stream_state_updated").count();
    assert_eq!(states, 5 * 3, "idle, open, half closed, closed: 5 streams");
    let svg = plot(&trace, View::Streams).unwrap();
    // The client sends each request whole, then reads its answer: open,
    // then half closed (local), never half closed (remote).
    assert_eq!(lines_in(&svg, OPEN).len(), 5 + 1);
    assert_eq!(lines_in(&svg, HALF_LOCAL).len(), 5 + 1);
    assert!(lines_in(&svg, HALF_REMOTE).is_empty());
    assert!(!svg.contains("reset\n"));
}

#[test]
fn serve_and_get_http3_write_http3_frames_into_the_quic_trace() {
    let ((_, client_events), server_text) = serve_and_get_http3("h3f", 50_000);
    let (_, server_events) = validate(&server_text);
    for events in [&client_events, &server_events] {
        assert!(has(events, "http3:frame_created", "h3"));
        assert!(has(events, "http3:frame_parsed", "h3"));
        assert!(has(events, "http3:stream_type_set", "h3"));
        assert!(has(events, "connectivity:connection_closed", "quic"));
    }
    let data: u64 = client_events
        .iter()
        .filter(|e| e["name"] == "http3:frame_parsed" && e["data"]["frame"]["frame_type"] == "data")
        .map(|e| e["data"]["length"].as_u64().unwrap())
        .sum();
    assert_eq!(data, 50_000, "the body, frame by frame");
    // The stream view draws the request stream (0) from these events.
    let trace = Trace {
        vantage: "client".into(),
        title: String::new(),
        events: client_events,
    };
    let svg = plot(&trace, View::Streams).unwrap();
    assert!(svg.contains("stream 0"), "a row for request stream 0");
    assert!(svg.contains("HTTP/3 streams"), "titled as HTTP/3's");
    assert!(!svg.contains("stream 2<"), "no row for the control stream");
}

/// The reliable mapping's KCP mode (`reliable.mode=kcp`): the sender's trace
/// of 1 MB over the same lossy link as `lossy_reliable_trace`, every
/// record valid qlog, its packet events one per KCP segment, and `strata
/// qlog plot` draws its congestion view with every loss marked. (`strata
/// get` has no option for KCP mode, so this one runs in the simulator.)
#[test]
fn the_congestion_view_draws_a_kcp_mode_trace() {
    use strata::reliable::kcp::KcpConfig;
    use strata::reliable::kcp_stream::{
        KcpListener, KcpListenerConfig, KcpStream, KcpStreamConfig,
    };
    // ikcp's normal mode with fast resend: both loss triggers, and
    // congestion control on.
    let cfg = KcpStreamConfig {
        kcp: KcpConfig {
            fast_resend: 2,
            ..KcpConfig::default_mode()
        },
        fin: true,
        ..KcpStreamConfig::default()
    };
    let lcfg = KcpListenerConfig {
        stream: cfg.clone(),
        ..KcpListenerConfig::default()
    };
    let text = lossy_sim_trace(
        "reliable+udp kcp, 1 MB, 2 % loss",
        300,
        |factory| Box::new(KcpListener::new(lcfg, factory).unwrap()),
        |server, sender| Box::new(KcpStream::new(9, cfg, sender).unwrap().with_peer(server)),
    );
    let trace = Trace::parse(&text).unwrap();
    assert_eq!(trace.vantage, "client");
    assert!(trace
        .events
        .iter()
        .all(|e| e["time"].is_number() && e["data"].is_object() && e["category"] == "reliable"));
    let sent: Vec<&Json> = named(&trace, "transport:packet_sent").collect();
    assert!(sent.iter().all(|e| e["data"]["wire"] == "kcp"));
    assert!(sent.len() > 1_000_000 / 1376, "one event per segment");
    let losses = named(&trace, "recovery:packet_lost").count();
    assert!(losses > 5, "2 % loss over 1 MB: {losses}");
    let svg = plot(&trace, View::Congestion).unwrap();
    assert!(svg.starts_with("<svg"));
    assert_congestion_legend(&svg);
    assert_losses_marked(&svg, losses);
    let longest = longest_polyline(&svg);
    assert!(longest > Some(100), "{longest:?}");
}

/// Over real loopback sockets: `strata serve --app echo --qlog DIR` on a
/// KCP-mode endpoint (the end marker on), and `strata connect` to it
/// sending one line. The server's trace of the conversation is valid qlog,
/// its packet events KCP segments: the line read as a 10-byte push, echoed
/// as one, each acknowledged. (`strata connect` has no `--qlog`; the
/// server's side is the traced one.)
#[test]
fn serve_traces_a_kcp_mode_conversation_over_loopback() {
    use std::io::Write;
    let dir = tempdir("kcp-serve");
    let listen = "reliable+udp://127.0.0.1:0?reliable.mode=kcp&reliable.kcp_fin=true";
    let (served, hostport) = serve_app(&dir, "echo", listen);
    let ep = format!("reliable+udp://{hostport}?reliable.mode=kcp&reliable.kcp_fin=true");
    let mut connect = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["connect", &ep])
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = connect.stdin.take().unwrap();
    stdin.write_all(b"hello kcp\n").unwrap();
    drop(stdin);
    let o = support::finish(connect);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, b"hello kcp\n");
    // The trace is written out when the conversation ends.
    let text = trace_with(&dir, r#""name":"transport:packet_sent""#);
    drop(served);
    let (vantage, events) = validate(&text);
    assert_eq!(vantage, "server");
    let seg = |name: &str, cmd: &str| {
        events
            .iter()
            .filter(|e| e["name"] == name && e["data"]["kcp"]["cmd"] == cmd)
            .map(|e| {
                assert_eq!(e["category"], "reliable", "{e}");
                assert_eq!(e["data"]["wire"], "kcp", "{e}");
                e["data"]["kcp"]["len"].as_u64().unwrap()
            })
            .collect::<Vec<u64>>()
    };
    assert_eq!(seg("transport:packet_received", "push").first(), Some(&10));
    assert!(
        seg("transport:packet_sent", "push").contains(&10),
        "the echo"
    );
    assert!(!seg("transport:packet_sent", "ack").is_empty());
    assert!(!seg("transport:packet_received", "ack").is_empty());
    assert!(events.iter().any(
        |e| e["name"] == "recovery:metrics_updated" && e["data"]["congestion_window"].is_u64()
    ));
}

/// Figures no chart can hold (1e308, its negative, as a time too) are
/// skipped like missing ones: both views still draw. Before, plotters'
/// pixel mapping overflowed on the infinite range (the fuzz target
/// `qlog_trace` found it; `fuzz/regressions/qlog_trace/huge-figures`).
#[test]
fn figures_past_what_a_chart_holds_are_skipped_not_drawn() {
    let trace = handmade(&[
        r#"{"time":1,"name":"recovery:metrics_updated","category":"quic","data":{"congestion_window":1e308,"bytes_in_flight":-1e308,"smoothed_rtt":5}}"#,
        r#"{"time":1e308,"name":"recovery:metrics_updated","category":"quic","data":{"congestion_window":12000,"smoothed_rtt":-1e308}}"#,
        r#"{"time":2,"name":"recovery:metrics_updated","category":"quic","data":{"congestion_window":14000,"bytes_in_flight":3000,"smoothed_rtt":6}}"#,
        r#"{"time":3,"name":"http:frame_created","category":"h2","data":{"stream_id":1,"frame":{"frame_type":"data"}}}"#,
    ]);
    let svg = plot(&trace, View::Congestion).unwrap();
    assert!(svg.contains("congestion window"));
    assert!(plot(&trace, View::Streams).unwrap().contains("stream 1"));
}
