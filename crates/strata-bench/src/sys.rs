//! What the benchmark reads from the operating system: the file-descriptor
//! limit, and a process's CPU time and resident memory from `/proc`.

use std::fs;
use std::io;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::unistd::{sysconf, SysconfVar};

/// Raises the soft limit on open files to the hard limit and returns the new
/// soft limit. Both the servers and the idle load hold 10,000 sockets.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(io::Error::from)?;
    }
    Ok(hard.max(soft))
}

/// A sample of one process's resource use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU time, in seconds.
    pub cpu_secs: f64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`.
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let ticks = parse_cpu_ticks(&stat).ok_or_else(|| bad(format!("/proc/{pid}/stat")))?;
    let rss = parse_vm_rss(&status).ok_or_else(|| bad(format!("/proc/{pid}/status")))?;
    Ok(ProcSample {
        cpu_secs: ticks as f64 / clock_ticks_per_sec()? as f64,
        rss_bytes: rss,
    })
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("cannot parse {what}"))
}

/// The kernel's clock tick (`_SC_CLK_TCK`), the unit of `utime` and `stime`.
fn clock_ticks_per_sec() -> io::Result<u64> {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => Ok(t as u64),
        Ok(_) => Err(io::Error::other("sysconf(_SC_CLK_TCK) has no value")),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// `utime + stime` (fields 14 and 15) from a `/proc/<pid>/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces, so fields
/// are counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")" come field 3 (state) onwards: utime is field 14, index 11 here.
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` from `/proc/<pid>/status`, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut it = line["VmRSS:".len()..].split_ascii_whitespace();
    let n: u64 = it.next()?.parse().ok()?;
    match it.next()? {
        "kB" => Some(n * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_skip_a_command_with_spaces_and_parens() {
        let stat = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 3 0 100 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn cpu_ticks_reject_truncated_lines() {
        assert_eq!(parse_cpu_ticks("1 (x) S 1 2 3"), None);
        assert_eq!(parse_cpu_ticks("no parens at all"), None);
    }

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    1536 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(1536 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn sampling_this_process_sees_memory() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_bytes > 0);
        assert!(s.cpu_secs >= 0.0);
    }
}
