//! `strata qlog plot FILE -o out.svg [--view congestion|streams]`: draws a
//! qlog trace (JSON-SEQ, as `--qlog DIR` writes it) as an SVG, the two
//! views qvis users know (issue 14, point 5):
//!
//! * **congestion**: bytes in flight and the congestion window over time,
//!   losses marked, and below them the RTTs (smoothed, latest, min), from
//!   `recovery:metrics_updated` and `recovery:packet_lost`: the reliable
//!   mapping's, and QUIC's from quinn-proto (whose updates carry only the
//!   figures that changed: each figure holds until its next update);
//! * **streams**: one row per HTTP/2 stream, each frame sent (above the
//!   row's line) and received (below) at its time, by type, from
//!   `http:frame_created` and `http:frame_parsed`; the row's line is the
//!   stream's life, drawn state by state (open, half closed) from
//!   `http:stream_state_updated`, its end marked when a reset, a GOAWAY or
//!   the connection's end closed it (older traces: first to last frame).
//!
//! ```
//! use strata_cli::qlog_plot::{plot, Trace, View};
//! let text = "\u{1e}{\"qlog_version\":\"0.3\",\"qlog_format\":\"JSON-SEQ\",\"trace\":{\"vantage_point\":{\"type\":\"client\"}}}\n\
//!             \u{1e}{\"time\":1.0,\"name\":\"recovery:metrics_updated\",\"data\":{\"congestion_window\":12000,\"bytes_in_flight\":1200,\"smoothed_rtt\":40.0}}\n";
//! let trace = Trace::parse(text).unwrap();
//! let svg = plot(&trace, View::Congestion).unwrap();
//! assert!(svg.contains("congestion window"));
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use plotters::prelude::*;
use serde_json::Value;

/// `strata qlog ...`.
#[derive(Subcommand, Debug)]
pub enum QlogCmd {
    /// Draw a trace as an SVG: the congestion view (bytes in flight,
    /// congestion window, RTT, losses) or the HTTP/2 stream view.
    Plot(PlotArgs),
}

/// `strata qlog plot`.
#[derive(Parser, Debug)]
pub struct PlotArgs {
    /// The trace: a JSON-SEQ `.sqlog` file, as `--qlog DIR` writes.
    pub file: PathBuf,
    /// Where to write the SVG.
    #[arg(short = 'o', long, value_name = "OUT.svg")]
    pub output: PathBuf,
    /// What to draw (default: congestion when the trace has recovery
    /// metrics, else streams).
    #[arg(long, value_enum)]
    pub view: Option<View>,
}

/// The views `strata qlog plot` draws.
///
/// ```
/// assert_eq!(strata_cli::qlog_plot::View::Congestion.events(), "recovery:metrics_updated");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum View {
    /// Bytes in flight, congestion window and RTT over time, losses marked.
    Congestion,
    /// One row per HTTP/2 stream, its frames over time.
    Streams,
}

impl View {
    /// The events the view needs.
    pub fn events(self) -> &'static str {
        match self {
            View::Congestion => "recovery:metrics_updated",
            View::Streams => "http:frame_created or http:frame_parsed",
        }
    }
}

/// A parsed trace: its vantage point and events.
#[derive(Debug)]
pub struct Trace {
    /// `trace.vantage_point.type` of the header.
    pub vantage: String,
    /// The title, if any.
    pub title: String,
    /// Every event record after the header.
    pub events: Vec<Value>,
}

impl Trace {
    /// Parses JSON-SEQ (RFC 7464): records start with RS; the first is the
    /// qlog header. A record that does not parse is an error (with its
    /// number), except a last one cut short (a trace still being written).
    ///
    /// ```
    /// assert!(strata_cli::qlog_plot::Trace::parse("not qlog").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Trace, String> {
        if !text.starts_with('\u{1e}') {
            return Err("not a JSON-SEQ qlog trace (records start with RS, 0x1e)".into());
        }
        let records: Vec<&str> = text.split('\u{1e}').skip(1).collect();
        let mut values = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            match serde_json::from_str::<Value>(r) {
                Ok(v) => values.push(v),
                Err(_) if i + 1 == records.len() && i > 0 => break,
                Err(e) => return Err(format!("record {}: {e}", i + 1)),
            }
        }
        let mut it = values.into_iter();
        let header = it.next().ok_or("no header record")?;
        if header.get("qlog_version").is_none() {
            return Err("the first record is not a qlog header (no qlog_version)".into());
        }
        let vantage = header["trace"]["vantage_point"]["type"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let title = header["title"].as_str().unwrap_or("").to_string();
        Ok(Trace {
            vantage,
            title,
            events: it.collect(),
        })
    }

    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["name"] == name)
    }

    /// The view to draw when none is asked: congestion when there are
    /// recovery metrics, else streams.
    pub fn default_view(&self) -> View {
        if self.named("recovery:metrics_updated").next().is_some() {
            View::Congestion
        } else {
            View::Streams
        }
    }
}

/// Runs `strata qlog`.
pub fn run(cmd: QlogCmd) -> ExitCode {
    match cmd {
        QlogCmd::Plot(a) => match plot_file(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("strata: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn plot_file(a: &PlotArgs) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&a.file).map_err(|e| format!("{}: {e}", a.file.display()))?;
    let trace = Trace::parse(&text).map_err(|e| format!("{}: {e}", a.file.display()))?;
    let view = a.view.unwrap_or_else(|| trace.default_view());
    let svg = plot(&trace, view).map_err(|e| format!("{}: {e}", a.file.display()))?;
    std::fs::write(&a.output, svg).map_err(|e| format!("{}: {e}", a.output.display()))
}

/// Draws `view` of `trace`; the SVG text. An error when the trace has no
/// event the view needs.
pub fn plot(trace: &Trace, view: View) -> Result<String, String> {
    match view {
        View::Congestion => congestion(trace),
        View::Streams => streams(trace),
    }
}

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 640;

/// The largest magnitude of a figure drawn (times in ms, bytes, RTTs): a
/// trace's number past it (1e308, say) is skipped like a missing one, so
/// the chart's ranges stay finite (found by the fuzz target `qlog_trace`:
/// plotters' pixel mapping overflowed on such a range).
const MAX_FIGURE: f64 = 1e12;

/// A figure of the trace, when it is a number the chart can draw.
fn f(v: &Value) -> Option<f64> {
    v.as_f64()
        .filter(|x| x.is_finite() && x.abs() <= MAX_FIGURE)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing: {e}")
}

/// One metric's points: (time ms, value).
fn series(trace: &Trace, field: &str) -> Vec<(f64, f64)> {
    trace
        .named("recovery:metrics_updated")
        .filter_map(|e| Some((f(&e["time"])?, f(&e["data"][field])?)))
        .collect()
}

/// A series as steps: each value holds until the next one.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(t, v)) in points.iter().enumerate() {
        if i > 0 {
            out.push((t, points[i - 1].1));
        }
        out.push((t, v));
    }
    out
}

fn max_of(points: &[&[(f64, f64)]], pick: impl Fn(&(f64, f64)) -> f64) -> f64 {
    points
        .iter()
        .flat_map(|s| s.iter())
        .map(pick)
        .fold(0.0, f64::max)
}

fn congestion(trace: &Trace) -> Result<String, String> {
    let cwnd = series(trace, "congestion_window");
    let inflight = series(trace, "bytes_in_flight");
    if cwnd.is_empty() && inflight.is_empty() {
        return Err(format!(
            "no {} events: nothing to draw for --view congestion",
            View::Congestion.events()
        ));
    }
    let srtt = series(trace, "smoothed_rtt");
    let latest = series(trace, "latest_rtt");
    let min_rtt = series(trace, "min_rtt");
    // Each loss at its time, at the bytes in flight then.
    let losses: Vec<(f64, f64)> = trace
        .named("recovery:packet_lost")
        .filter_map(|e| {
            let t = f(&e["time"])?;
            let y = inflight
                .iter()
                .take_while(|p| p.0 <= t)
                .last()
                .map_or(0.0, |p| p.1);
            Some((t, y))
        })
        .collect();
    let t_end = max_of(&[&cwnd, &inflight, &srtt, &losses], |p| p.0).max(1.0);
    let y_bytes = max_of(&[&cwnd, &inflight], |p| p.1).max(1.0) * 1.1;
    let y_rtt = max_of(&[&srtt, &latest, &min_rtt], |p| p.1).max(1.0) * 1.1;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title = format!("congestion ({}) {}", trace.vantage, trace.title);
        let root = root.titled(&title, ("sans-serif", 18)).map_err(err)?;
        let (top, bottom) = root.split_vertically(HEIGHT * 3 / 5);

        let mut c = ChartBuilder::on(&top)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..t_end, 0.0..y_bytes)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("time (ms)")
            .y_desc("bytes")
            .light_line_style(WHITE)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        c.draw_series(LineSeries::new(steps(&cwnd), BLUE.stroke_width(2)))
            .map_err(err)?
            .label("congestion window")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        c.draw_series(LineSeries::new(steps(&inflight), GREEN.stroke_width(1)))
            .map_err(err)?
            .label("bytes in flight")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREEN));
        c.draw_series(losses.iter().map(|&p| Circle::new(p, 3, RED.filled())))
            .map_err(err)?
            .label(format!("packet lost ({})", losses.len()))
            .legend(|(x, y)| Circle::new((x + 10, y), 3, RED.filled()));
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;

        let mut r = ChartBuilder::on(&bottom)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..t_end, 0.0..y_rtt)
            .map_err(err)?;
        r.configure_mesh()
            .x_desc("time (ms)")
            .y_desc("RTT (ms)")
            .light_line_style(WHITE)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .draw()
            .map_err(err)?;
        let rtts = [
            (&srtt, "smoothed RTT", MAGENTA),
            (&latest, "latest RTT", CYAN),
            (&min_rtt, "min RTT", BLACK),
        ];
        for (points, label, color) in rtts {
            if points.is_empty() {
                continue;
            }
            r.draw_series(LineSeries::new(steps(points), color))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        }
        r.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One frame: (time ms, stream, type, sent).
type FrameAt = (f64, u64, String, bool);

fn frame_color(kind: &str) -> RGBColor {
    match kind {
        "headers" | "continuation" => BLUE,
        "data" => GREEN,
        "rst_stream" => RED,
        "window_update" => RGBColor(230, 140, 0),
        _ => BLACK,
    }
}

/// How each RFC 9113 §5.1 state is drawn on a stream's row: its legend
/// and colour. `idle` and `closed` are not drawn (the row is empty there).
const STATE_STYLES: [(&str, &str, RGBColor); 3] = [
    ("open", "open", RGBColor(60, 60, 60)),
    (
        "half_closed_local",
        "half closed (local)",
        RGBColor(110, 150, 220),
    ),
    (
        "half_closed_remote",
        "half closed (remote)",
        RGBColor(170, 200, 150),
    ),
];

/// A stream's life from its `http:stream_state_updated` events: the spans
/// it spent in each state, (from ms, to ms, state), and how it closed,
/// (time ms, trigger), if it did in the trace.
#[derive(Debug, Default)]
struct Life {
    spans: Vec<(f64, f64, String)>,
    end: Option<(f64, String)>,
}

/// Every stream's life; a state the trace ends in lasts until `t_last`.
fn lives(trace: &Trace, t_last: f64) -> std::collections::BTreeMap<u64, Life> {
    let mut lives = std::collections::BTreeMap::<u64, Life>::new();
    for e in trace.named("http:stream_state_updated") {
        let d = &e["data"];
        let (Some(t), Some(id), Some(new)) =
            (f(&e["time"]), d["stream_id"].as_u64(), d["new"].as_str())
        else {
            continue;
        };
        let life = lives.entry(id).or_default();
        if let Some(last) = life.spans.last_mut()
            && last.1.is_nan()
        {
            last.1 = t;
        }
        if new == "closed" {
            life.end = Some((t, d["trigger"].as_str().unwrap_or("").to_string()));
        } else {
            life.spans.push((t, f64::NAN, new.to_string()));
        }
    }
    for life in lives.values_mut() {
        if let Some(last) = life.spans.last_mut()
            && last.1.is_nan()
        {
            last.1 = t_last.max(last.0);
        }
    }
    lives
}

/// The frames of HTTP/3's request streams (client-initiated bidirectional:
/// ids 0, 4, 8, ...) from `http3:frame_created` and `http3:frame_parsed`,
/// as rows of the stream view like HTTP/2's streams.
fn h3_frames(trace: &Trace) -> Vec<FrameAt> {
    trace
        .events
        .iter()
        .filter_map(|e| {
            let sent = match e["name"].as_str()? {
                "http3:frame_created" => true,
                "http3:frame_parsed" => false,
                _ => return None,
            };
            let stream = e["data"]["stream_id"].as_u64()?;
            let kind = e["data"]["frame"]["frame_type"].as_str()?.to_string();
            Some((f(&e["time"])?, stream, kind, sent))
        })
        .filter(|fr| fr.1 % 4 == 0)
        .collect()
}

fn streams(trace: &Trace) -> Result<String, String> {
    let mut frames: Vec<FrameAt> = trace
        .events
        .iter()
        .filter_map(|e| {
            let sent = match e["name"].as_str()? {
                "http:frame_created" => true,
                "http:frame_parsed" => false,
                _ => return None,
            };
            let stream = e["data"]["stream_id"].as_u64()?;
            let kind = e["data"]["frame"]["frame_type"].as_str()?.to_string();
            Some((f(&e["time"])?, stream, kind, sent))
        })
        .filter(|fr| fr.1 != 0)
        .collect();
    // An HTTP/3 trace (QUIC's connection carries no HTTP/2 frames).
    let proto = if frames.is_empty() {
        "HTTP/3"
    } else {
        "HTTP/2"
    };
    frames.extend(h3_frames(trace));
    if frames.is_empty() {
        return Err(format!(
            "no {} events on a stream: nothing to draw for --view streams",
            View::Streams.events()
        ));
    }
    let t_last = trace
        .events
        .iter()
        .filter_map(|e| f(&e["time"]))
        .fold(0.0, f64::max);
    let lives = lives(trace, t_last);
    let mut ids: Vec<u64> = frames.iter().map(|fr| fr.1).collect();
    ids.extend(lives.keys());
    ids.sort_unstable();
    ids.dedup();
    let row = |id: u64| ids.iter().position(|&i| i == id).unwrap_or(0) as f64;
    // Room on the right for the legend.
    let t_end = frames.iter().map(|fr| fr.0).fold(t_last, f64::max).max(1.0) * 1.2;
    let rows = ids.len() as f64;
    let height = (HEIGHT / 2).max(80 + 40 * ids.len() as u32).min(4000);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title = format!("{proto} streams ({}) {}", trace.vantage, trace.title);
        let root = root.titled(&title, ("sans-serif", 18)).map_err(err)?;
        let mut c = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..t_end, -0.5..rows - 0.5)
            .map_err(err)?;
        let labels = ids.clone();
        c.configure_mesh()
            .x_desc("time (ms)")
            .light_line_style(WHITE)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(ids.len())
            .y_label_formatter(&move |y: &f64| {
                let i = y.round();
                if (y - i).abs() < 0.01 && i >= 0.0 && (i as usize) < labels.len() {
                    format!("stream {}", labels[i as usize])
                } else {
                    String::new()
                }
            })
            .disable_y_mesh()
            .draw()
            .map_err(err)?;
        // Each stream's life, state by state where the trace has its state
        // events; else a line from its first frame to its last.
        for (state, label, color) in STATE_STYLES {
            let spans: Vec<(f64, f64, f64)> = lives
                .iter()
                .flat_map(|(&id, l)| {
                    l.spans
                        .iter()
                        .filter(|s| s.2 == state)
                        .map(move |s| (s.0, s.1, row(id)))
                })
                .collect();
            if spans.is_empty() {
                continue;
            }
            let style = color.stroke_width(3);
            c.draw_series(
                spans
                    .iter()
                    .map(|&(a, b, y)| PathElement::new([(a, y), (b, y)], style)),
            )
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 12, y)], style));
        }
        // A stream closed by anything but END_STREAM: a cross at its end,
        // red for a reset, black for a GOAWAY or the connection's end.
        for (reset, label, color) in [
            (true, "reset", RED),
            (false, "closed by GOAWAY or connection end", BLACK),
        ] {
            let ends: Vec<(f64, f64)> = lives
                .iter()
                .filter_map(|(&id, l)| {
                    let (t, why) = l.end.as_ref()?;
                    let is_reset = why.starts_with("reset");
                    (why != "end_stream" && is_reset == reset).then_some((*t, row(id)))
                })
                .collect();
            if ends.is_empty() {
                continue;
            }
            let style = color.stroke_width(2);
            c.draw_series(ends.iter().map(|&p| Cross::new(p, 6, style)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Cross::new((x + 6, y), 4, style));
        }
        for &id in ids.iter().filter(|id| !lives.contains_key(id)) {
            let times: Vec<f64> = frames
                .iter()
                .filter(|fr| fr.1 == id)
                .map(|fr| fr.0)
                .collect();
            let (a, b) = (
                times.iter().copied().fold(f64::MAX, f64::min),
                times.iter().copied().fold(0.0, f64::max),
            );
            let y = row(id);
            c.draw_series(std::iter::once(PathElement::new(
                [(a, y), (b.max(a), y)],
                RGBColor(180, 180, 180),
            )))
            .map_err(err)?;
        }
        for kind in ["headers", "data", "window_update", "rst_stream"] {
            let color = frame_color(kind);
            let mine: Vec<&FrameAt> = frames.iter().filter(|fr| fr.2 == kind).collect();
            if mine.is_empty() {
                continue;
            }
            // HEADERS tall, DATA shorter, WINDOW_UPDATE short, so marks at
            // one time stay visible; sent above the line, received below.
            let half = match kind {
                "headers" | "rst_stream" => 0.16,
                "data" => 0.09,
                _ => 0.04,
            };
            c.draw_series(mine.iter().map(|fr| {
                let y = row(fr.1) + if fr.3 { 0.2 } else { -0.2 };
                Rectangle::new(
                    [(fr.0, y - half), (fr.0 + t_end / 500.0, y + half)],
                    color.filled(),
                )
            }))
            .map_err(err)?
            .label(kind.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], color.filled()));
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
