//! `/stats` and `/stats.json`: the demo's live statistics.
//!
//! [`StatsPage`] wraps the demo service: it counts every request it passes
//! on (the two statistics routes themselves are not counted, so a page
//! that polls does not inflate the figures it shows), and answers
//!
//! * `/stats.json`: [`Snapshot::to_json`](strata_tokio::Snapshot::to_json)
//!   of the server's [`ServerStats`]: connections per stack, requests and
//!   their rate with its recent history, and per-layer counters;
//! * `/stats`: one self-contained HTML page (no external asset, no CDN)
//!   whose small inline script polls `/stats.json` every second and draws
//!   the figures and an SVG chart of the request rate.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use strata::http::{request, Service, SharedService};
use strata::StreamProtocol;
use strata_tokio::ServerStats;

use super::Fixed;

/// The demo service with the statistics routes in front of it.
///
/// ```
/// use strata::http::Service;
/// let stats = strata_tokio::ServerStats::new();
/// let page = strata_cli::apps::http::StatsPage::new(strata_cli::apps::http::service(None), stats.clone());
/// let req = http::Request::get("/hello").body(()).unwrap().into_parts().0;
/// let _ = page.call(&req);
/// let json = http::Request::get("/stats.json").body(()).unwrap().into_parts().0;
/// let _ = page.call(&json);
/// assert_eq!(stats.snapshot().requests, 1, "/stats.json is not counted");
/// ```
pub struct StatsPage {
    inner: SharedService,
    stats: Arc<ServerStats>,
}

impl StatsPage {
    /// Serves `inner`, counting its requests into `stats`, plus `/stats`
    /// and `/stats.json`.
    pub fn new(inner: SharedService, stats: Arc<ServerStats>) -> StatsPage {
        StatsPage { inner, stats }
    }

    /// [`StatsPage::new`], shared, ready for an HTTP listener.
    ///
    /// ```
    /// let stats = strata_tokio::ServerStats::new();
    /// let _s: strata::http::SharedService =
    ///     strata_cli::apps::http::StatsPage::shared(strata_cli::apps::http::service(None), stats);
    /// ```
    pub fn shared(inner: SharedService, stats: Arc<ServerStats>) -> SharedService {
        Arc::new(StatsPage::new(inner, stats))
    }
}

impl Service for StatsPage {
    fn call(&self, req: &request::Parts) -> Box<dyn StreamProtocol> {
        let path = req.uri.path();
        if path != "/stats" && path != "/stats.json" {
            self.stats.count_request();
            return self.inner.call(req);
        }
        let head_only = req.method == Method::HEAD;
        if req.method != Method::GET && !head_only {
            return Fixed::error(StatusCode::METHOD_NOT_ALLOWED, false)
                .header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
                .boxed();
        }
        let fixed = if path == "/stats" {
            Fixed::new(StatusCode::OK, "text/html; charset=utf-8", PAGE)
        } else {
            let json = self.stats.snapshot().to_json();
            Fixed::new(StatusCode::OK, "application/json", json)
        };
        fixed
            .header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
            .head_only(head_only)
            .boxed()
    }
}

/// The page: figures filled in, and the chart drawn, by its script from
/// `/stats.json`. Every figure has an id (or a class inside a row keyed by
/// `data-endpoint`) so a test can read it back from the rendered DOM.
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>strata: live statistics</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7fa; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  .muted { color: #667; font-size: 13px; }
  .cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
  .card { background: #fff; border: 1px solid #dde1ea; border-radius: 8px; padding: 10px 16px; min-width: 130px; }
  .card .v { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .k { color: #667; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  table { border-collapse: collapse; background: #fff; margin: 8px 0 20px; }
  th, td { border: 1px solid #dde1ea; padding: 5px 10px; text-align: right; font-variant-numeric: tabular-nums; }
  th { background: #eef0f5; font-weight: 600; }
  td.l, th.l { text-align: left; }
  svg { background: #fff; border: 1px solid #dde1ea; border-radius: 8px; }
  .line { fill: none; stroke: #2f6fde; stroke-width: 2; }
  .area { fill: #2f6fde22; stroke: none; }
  .axis { stroke: #c8cdd8; stroke-width: 1; }
  .lbl { fill: #667; font-size: 11px; }
</style>
</head>
<body data-updates="0">
<h1>strata: live statistics</h1>
<div class="muted">Polls <code>/stats.json</code> every second · status: <span id="status">waiting for the first figures</span></div>
<div class="cards">
  <div class="card"><div class="k">requests</div><div class="v" id="requests">-</div></div>
  <div class="card"><div class="k">requests / s</div><div class="v" id="rps">-</div></div>
  <div class="card"><div class="k">connections open</div><div class="v" id="open">-</div></div>
  <div class="card"><div class="k">connections total</div><div class="v" id="total">-</div></div>
  <div class="card"><div class="k">uptime (s)</div><div class="v" id="uptime">-</div></div>
</div>
<h2>Requests per second</h2>
<svg id="chart" width="640" height="160" viewBox="0 0 640 160" role="img" aria-label="requests per second">
  <line class="axis" x1="40" y1="140" x2="630" y2="140"></line>
  <line class="axis" x1="40" y1="10" x2="40" y2="140"></line>
  <text class="lbl" x="4" y="16" id="chart-max">0</text>
  <text class="lbl" x="4" y="144">0</text>
  <path class="area" id="chart-area" d=""></path>
  <path class="line" id="chart-line" d=""></path>
</svg>
<h2>Connections per stack</h2>
<table id="stacks">
  <thead><tr><th class="l">endpoint</th><th class="l">chain</th><th>open</th><th>total</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Per layer</h2>
<table id="layers">
  <thead><tr><th class="l">endpoint</th><th class="l">layer</th><th>bytes in</th><th>bytes out</th><th>frames in</th><th>frames out</th><th>buffered</th><th>rtt (ms)</th><th>cwnd</th><th>lost</th></tr></thead>
  <tbody></tbody>
</table>
<script>
"use strict";
function cell(tr, text, cls) {
  var td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
}
function draw(history) {
  var w = 590, h = 130, x0 = 40, y0 = 140;
  var max = 1;
  history.forEach(function (v) { if (v > max) max = v; });
  var n = Math.max(history.length - 1, 1);
  var pts = history.map(function (v, i) {
    return [x0 + (w * i) / n, y0 - (h * v) / max];
  });
  var d = pts.map(function (p, i) { return (i ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1); }).join(" ");
  document.getElementById("chart-line").setAttribute("d", d);
  document.getElementById("chart-area").setAttribute("d",
    pts.length ? d + " L" + pts[pts.length - 1][0].toFixed(1) + " " + y0 + " L" + x0 + " " + y0 + " Z" : "");
  document.getElementById("chart-max").textContent = max.toFixed(0);
}
function show(s) {
  var open = 0, total = 0;
  var stacks = document.querySelector("#stacks tbody");
  var layers = document.querySelector("#layers tbody");
  stacks.textContent = "";
  layers.textContent = "";
  s.stacks.forEach(function (st) {
    open += st.open; total += st.total;
    var tr = document.createElement("tr");
    tr.className = "stack";
    tr.setAttribute("data-endpoint", st.endpoint);
    cell(tr, st.endpoint, "l endpoint");
    cell(tr, st.chain.join("+") || "-", "l chain");
    cell(tr, st.open, "open");
    cell(tr, st.total, "total");
    stacks.appendChild(tr);
    st.layers.forEach(function (l) {
      var r = document.createElement("tr");
      r.className = "layer";
      r.setAttribute("data-endpoint", st.endpoint);
      r.setAttribute("data-layer", l.layer);
      cell(r, st.endpoint, "l endpoint");
      cell(r, l.layer, "l name");
      cell(r, l.bytes_in, "bytes_in");
      cell(r, l.bytes_out, "bytes_out");
      cell(r, l.frames_in, "frames_in");
      cell(r, l.frames_out, "frames_out");
      cell(r, l.buffered, "buffered");
      cell(r, "rtt_us" in l ? (l.rtt_us / 1000).toFixed(1) : "-", "rtt");
      cell(r, "cwnd" in l ? l.cwnd : "-", "cwnd");
      cell(r, "lost_packets" in l ? l.lost_packets : "-", "lost");
      layers.appendChild(r);
    });
  });
  document.getElementById("requests").textContent = s.requests;
  document.getElementById("rps").textContent = s.rps.toFixed(1);
  document.getElementById("open").textContent = open;
  document.getElementById("total").textContent = total;
  document.getElementById("uptime").textContent = s.uptime_secs;
  draw(s.history);
  var b = document.body;
  b.setAttribute("data-updates", String(Number(b.getAttribute("data-updates")) + 1));
  document.getElementById("status").textContent = "live";
}
function poll() {
  fetch("/stats.json", { cache: "no-store" })
    .then(function (r) { return r.json(); })
    .then(show)
    .catch(function (e) { document.getElementById("status").textContent = "error: " + e; })
    .then(function () { setTimeout(poll, 1000); });
}
poll();
</script>
</body>
</html>
"##;
