//! `soak run`: for each target, a fresh `strata serve` process, a fresh
//! `soak client` process against it, the server's memory and CPU read from
//! `/proc/<pid>` around the load, and one Markdown summary at the end.
//!
//! Server RSS is sampled (`VmRSS`) once the server is listening and idle
//! ("before"), one second after the client says every good connection is
//! up ("full load"), and at the end; RSS per connection is
//! `(full − before) / (good connections + hostile sockets open)`. Server
//! CPU is `utime + stime` over the measured window.

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use strata::deadline::after;

use super::args::RunArgs;
use super::report::{Outcome, Report};
use super::{field, fields, Target};

/// Runs every target; returns the summary and whether all were clean.
pub fn run(a: RunArgs) -> io::Result<(String, bool)> {
    let a = a.effective();
    super::client::raise_nofile_limit()?; // inherited by both children
    let dir = std::env::temp_dir().join(format!("strata-soak-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let result = (|| -> io::Result<Report> {
        let (cert, key) = write_cert(&dir)?;
        let mut report = Report::new(&a);
        for &t in &a.targets {
            eprintln!(
                "soak: {t}: {} good + {} silent + {} slowloris for {} s",
                a.conns, a.silent, a.slowloris, a.secs
            );
            let o = one(&a, t, &cert, &key, &dir)?;
            eprintln!("soak: {t}: {}", o.line);
            report.push(o);
        }
        Ok(report)
    })();
    let _ = fs::remove_dir_all(&dir);
    let report = result?;
    Ok((report.markdown(), report.clean()))
}

/// A self-signed certificate for `localhost` and the loopback addresses.
fn write_cert(dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let names = strata_tokio::SELF_SIGNED_NAMES.map(String::from).to_vec();
    let made = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&cert, made.cert.pem())?;
    fs::write(&key, made.key_pair.serialize_pem())?;
    Ok((cert, key))
}

/// Kills a child when dropped, so no process outlives an error.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stdout, read on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

fn one(a: &RunArgs, t: Target, cert: &Path, key: &Path, dir: &Path) -> io::Result<Outcome> {
    let mut ep = "tcp://127.0.0.1:0".to_string();
    if t.tls() {
        ep = format!(
            "tls+tcp://127.0.0.1:0?tls.cert={}&tls.key={}",
            cert.display(),
            key.display()
        );
    }
    let app = if t.http() { "http" } else { "echo" };
    let mut cmd = Command::new(&a.strata);
    cmd.args(["serve", "--app", app, "--drain", "1"]);
    if a.max_connections > 0 {
        cmd.args(["--max-connections", &a.max_connections.to_string()]);
    }
    if let Some(w) = a.workers {
        cmd.args(["--workers", &w.to_string()]);
    }
    let server_log = dir.join(format!("server-{t}.log"));
    cmd.arg(&ep)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&server_log)?);
    let mut server = Reaped(cmd.spawn()?);
    let pid = server.0.id();
    let out = lines_of(&mut server.0);
    let mut addr = None;
    let until = after(Instant::now(), Duration::from_secs(20));
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let line = out
            .recv_timeout(left)
            .map_err(|_| io::Error::other(format!("strata serve ({t}) did not start")))?;
        if let Some(rest) = line.strip_prefix(&format!("strata: serving {app} on ")) {
            addr = rest.split_once("://").map(|(_, a)| a.to_string());
        }
        if line.starts_with("strata: ready") {
            break;
        }
    }
    let addr = addr.ok_or_else(|| io::Error::other("strata serve printed no address"))?;
    std::thread::sleep(Duration::from_millis(500));
    let before = proc_status(pid)?;

    let exe = std::env::current_exe()?;
    let mut client = Command::new(exe);
    client.args([
        "client",
        "--target",
        t.name(),
        "--addr",
        &addr,
        "--conns",
        &a.conns.to_string(),
        "--secs",
        &a.secs.to_string(),
        "--silent",
        &a.silent.to_string(),
        "--slowloris",
        &a.slowloris.to_string(),
        "--timeout",
        &a.timeout.to_string(),
    ]);
    if t.tls() {
        client.arg("--cert").arg(cert);
    }
    client.stdin(Stdio::null()).stdout(Stdio::piped());
    let mut client = Reaped(client.spawn()?);
    let lines = lines_of(&mut client.0);
    // Ramp (bounded by the client's connect timeout), window, drain.
    let bound = Duration::from_secs(90 + a.secs + a.timeout);
    let until = after(Instant::now(), bound);
    let mut o = Outcome::new(t);
    o.rss_before = before.rss;
    let client_pid = client.0.id();
    // CPU (server, client, whole machine) when the window starts.
    let mut at_ready = (0.0, 0.0, 0.0);
    // When to read the server's RSS in the middle of the window.
    let mut mid: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let mut wait = until.saturating_duration_since(now);
        if let Some(m) = mid {
            wait = wait.min(m.saturating_duration_since(now));
        }
        let line = match lines.recv_timeout(wait) {
            Ok(l) => l,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if mid.is_some_and(|m| Instant::now() >= m) {
                    o.rss_full = proc_status(pid)?.rss;
                    mid = None;
                    continue;
                }
                return Err(io::Error::other(format!(
                    "soak client ({t}) ran past {bound:?}"
                )));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let fs = fields(&line);
        if line.starts_with("READY") {
            let ready = proc_status(pid)?;
            at_ready = (
                ready.cpu_secs,
                proc_status(client_pid).map_or(0.0, |c| c.cpu_secs),
                machine_busy_secs(),
            );
            o.rss_ready = ready.rss;
            mid = Some(after(
                Instant::now(),
                Duration::from_millis(100 + a.secs * 500),
            ));
            o.ramp_secs = field(&fs, "ramp_secs").unwrap_or(0.0);
            o.good = field(&fs, "good").unwrap_or(0);
            o.hostile_open = field(&fs, "hostile_open").unwrap_or(0);
        } else if line.starts_with("RESULT") {
            let end = proc_status(pid)?;
            if mid.take().is_some() {
                o.rss_full = end.rss;
            }
            o.server_cpu_secs = end.cpu_secs - at_ready.0;
            o.client_cpu_secs = proc_status(client_pid).map_or(0.0, |c| c.cpu_secs) - at_ready.1;
            o.other_cpu_secs =
                (machine_busy_secs() - at_ready.2 - o.server_cpu_secs - o.client_cpu_secs).max(0.0);
            o.rss_end = end.rss;
            o.rss_peak = end.hwm;
            o.result(&fs);
            o.line = line.clone();
        } else if line.starts_with("HOSTILE") {
            o.hostile.push(line.clone());
        } else if let Some(e) = line.strip_prefix("ERROR ") {
            o.first_error = Some(e.to_string());
        }
    }
    let status = client.0.wait()?;
    o.client_ok = status.success() && o.requests > 0;
    o.server_alive = server.0.try_wait()?.is_none();
    o.server_log_lines = fs::read_to_string(&server_log)
        .map(|s| s.lines().count())
        .unwrap_or(0);
    o.server_panics = fs::read_to_string(&server_log)
        .map(|s| s.matches("panicked").count())
        .unwrap_or(0);
    Ok(o)
}

/// CPU seconds the whole machine spent busy (all CPUs, from `/proc/stat`:
/// everything but idle and iowait).
fn machine_busy_secs() -> f64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let v: Vec<u64> = cpu
        .split_ascii_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    total.saturating_sub(idle) as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&h| h > 0)
        .unwrap_or(100) as f64
}

/// A process's resident set now and at its peak, and its CPU time.
struct Status {
    rss: u64,
    hwm: u64,
    cpu_secs: f64,
}

fn proc_status(pid: u32) -> io::Result<Status> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_ascii_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(0, |n| n * 1024)
    };
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (in parentheses, maybe with spaces):
    // utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let mut f = rest.split_ascii_whitespace().skip(11);
    let ticks: u64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let hz = clock_ticks();
    Ok(Status {
        rss: kb("VmRSS:"),
        hwm: kb("VmHWM:"),
        cpu_secs: ticks as f64 / hz,
    })
}
