//! Child processes of the orchestrator: servers and loads, each read line by
//! line with a timeout, so a hung child fails the benchmark instead of
//! hanging it, and stopped on drop.

use std::io::{self, BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The memcpy tunable every server and load process runs with: this CPU's
/// `rep movsb` is about 25× slower on misaligned buffers, and glibc would
/// otherwise use it for copies above a few KiB.
pub const GLIBC_TUNABLES: &str = "glibc.cpu.x86_rep_movsb_threshold=10000000";

/// How long a stopping child may take after its stdin closed.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A running child with piped stdin and line-read stdout.
#[derive(Debug)]
pub struct Proc {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Starts `cmd` with the tunables set and stdin/stdout piped; stderr is
    /// inherited so a child's complaint reaches the terminal.
    pub fn spawn(what: impl Into<String>, mut cmd: Command) -> io::Result<Proc> {
        let what = what.into();
        cmd.env("GLIBC_TUNABLES", GLIBC_TUNABLES)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {what}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other(format!("{what}: no stdout pipe")))?;
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("{what}-stdout"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Proc {
            what,
            child,
            stdin,
            lines,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the next line that starts with `word`, skipping others;
    /// returns the rest of that line.
    pub fn expect(&mut self, word: &str, timeout: Duration) -> io::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(l) => l,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{}: no `{word}` line within {timeout:?}", self.what),
                    ))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    return Err(io::Error::other(format!(
                        "{} exited ({status}) before printing `{word}`",
                        self.what
                    )));
                }
            };
            if let Some(rest) = line.strip_prefix(word) {
                return Ok(rest.trim().to_string());
            }
        }
    }

    /// Closes stdin (the signal to stop), then waits for a clean exit.
    pub fn finish(mut self, timeout: Duration) -> io::Result<()> {
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "{} exited with {status}",
                        self.what
                    )))
                };
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} did not exit within {timeout:?}", self.what),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses `key=value` pairs and returns the value of `key` as a number.
pub fn field(line: &str, key: &str) -> io::Result<f64> {
    line.split_ascii_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no numeric `{key}` in `{line}`"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_by_key() {
        let l = "msgs=120 secs=2.000000 rate=60.0";
        assert_eq!(field(l, "msgs").unwrap(), 120.0);
        assert_eq!(field(l, "rate").unwrap(), 60.0);
        assert!(field(l, "bytes").is_err());
        assert!(field("rate=fast", "rate").is_err());
    }

    #[test]
    fn expect_skips_other_lines_and_sees_the_tunables() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("echo noise; echo \"LISTENING $GLIBC_TUNABLES\"; cat >/dev/null");
        let mut p = Proc::spawn("sh", cmd).unwrap();
        let rest = p.expect("LISTENING", Duration::from_secs(10)).unwrap();
        assert_eq!(rest, GLIBC_TUNABLES);
        p.finish(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn a_child_that_exits_early_is_an_error_not_a_hang() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("exit 3");
        let mut p = Proc::spawn("sh", cmd).unwrap();
        let e = p.expect("READY", Duration::from_secs(10)).unwrap_err();
        assert!(e.to_string().contains("exited"), "{e}");
    }
}
