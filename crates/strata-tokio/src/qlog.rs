//! qlog files (issue 14, point 5): one JSON-SEQ trace per connection in a
//! directory, for `strata serve --qlog DIR` and `strata get --qlog DIR`.
//!
//! [`dir_tracer`] makes the [`QlogTracer`] to put in
//! [`StackConfig::qlog`](strata::StackConfig::qlog): every connection
//! opened or accepted with that configuration (TCP, Unix, and the
//! connections a `reliable+udp` socket carries) writes
//! `DIR/<unix ms>-<role>-<peer>-<n>.sqlog`. Each trace buffers its text and
//! writes it when it passes [`DEFAULT_QLOG_FLUSH_BYTES`] and when the
//! connection ends, so a slow disk holds the reactor once per 64 KiB at
//! most; a trace keeps at most `max_events` events (past it, a final event
//! says how many were dropped).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use strata::qlog::{JsonSeqWriter, QlogTrace, QlogTracer, TraceHeader, TraceInfo};
pub use strata::qlog::{DEFAULT_QLOG_FLUSH_BYTES, DEFAULT_QLOG_MAX_EVENTS};
use strata::Addr;

/// A tracer writing one `.sqlog` file per connection into `dir` (made if
/// missing), each holding at most `max_events` events.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::sync::Arc;
/// let dir = std::env::temp_dir().join(format!("strata-qlog-doc-{}", std::process::id()));
/// let tracer = strata_tokio::qlog::dir_tracer(&dir, strata_tokio::qlog::DEFAULT_QLOG_MAX_EVENTS)?;
/// let cfg = Arc::new(strata::StackConfig { qlog: Some(tracer), ..Default::default() });
/// # let _ = cfg; std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
pub fn dir_tracer(dir: impl AsRef<Path>, max_events: usize) -> io::Result<QlogTracer> {
    let dir = dir.as_ref().to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let n = Arc::new(AtomicU64::new(0));
    Ok(QlogTracer::new(move |info: &TraceInfo| {
        let n = n.fetch_add(1, Ordering::Relaxed);
        open(&dir, n, info, max_events)
    }))
}

/// The file name of the `n`th trace: time, role, peer, number.
fn file_name(unix_ms: u128, info: &TraceInfo, n: u64) -> String {
    let peer = match &info.peer {
        Some(Addr::Inet(a)) => a.to_string(),
        Some(a) => a.to_string(),
        None => "unknown".into(),
    };
    let peer: String = peer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{unix_ms}-{}-{peer}-{n}.sqlog", info.vantage.as_str())
}

fn open(dir: &Path, n: u64, info: &TraceInfo, max_events: usize) -> Option<QlogTrace> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let path: PathBuf = dir.join(file_name(since.as_millis(), info, n));
    let file = match File::create(&path) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("qlog: cannot create {}: {e}", path.display());
            return None;
        }
    };
    let peer = info
        .peer
        .as_ref()
        .map_or_else(|| "?".into(), Addr::to_string);
    let header = TraceHeader::new(info.vantage, info.now)
        .title(format!(
            "strata {} {} {peer} #{n}",
            info.protocol,
            info.vantage.as_str()
        ))
        .unix_ms(since.as_secs_f64() * 1000.0);
    let mut file = Some(file);
    let out = Box::new(move |text: &[u8]| {
        let failed = file.as_mut().and_then(|f| f.write_all(text).err());
        if let Some(e) = failed {
            tracing::warn!(
                "qlog: writing {}: {e}; the rest of this trace is dropped",
                path.display()
            );
            file = None;
        }
    });
    Some(QlogTrace::new(JsonSeqWriter::new(header, max_events, out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::qlog::Vantage;

    #[test]
    fn file_names_carry_time_role_peer_and_number() {
        let info = TraceInfo {
            vantage: Vantage::Client,
            peer: Some(Addr::Inet("[::1]:443".parse().unwrap())),
            protocol: "tcp",
            now: std::time::Instant::now(),
        };
        assert_eq!(file_name(17, &info, 3), "17-client-___1__443-3.sqlog");
    }
}
