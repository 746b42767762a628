//! Target `qlog_trace`: `strata qlog plot`'s reader and both its views, on
//! any file a user may hand it. Parsing either fails with a message or gives
//! a trace; each view of a trace is either an SVG document or a message
//! saying what it lacks. Never a panic, whatever the numbers (huge, negative,
//! fractional stream ids, times going back, missing fields).

use strata_cli::qlog_plot::{plot, Trace, View};

/// Runs the target's body on `data`.
///
/// ```
/// strata_fuzz::qlog_trace(b"\x1e{\"qlog_version\":\"0.3\"}\n");
/// ```
pub fn qlog_trace(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(trace) = Trace::parse(text) else {
        return;
    };
    // The parser keeps every record after the header, at most the cut
    // last one dropped.
    let records = text.split('\u{1e}').skip(1).count();
    assert!(trace.events.len() + 1 == records || trace.events.len() + 2 == records);
    for view in [View::Congestion, View::Streams] {
        match plot(&trace, view) {
            Ok(svg) => assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>")),
            Err(e) => assert!(!e.is_empty()),
        }
    }
}
