//! What the tests that run the real `strata` binary share: starting it with
//! its output captured, and waiting for it with a safety net (a hung
//! command fails the test instead of hanging the suite; never a timing
//! assertion).

use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Longer than any timeout a test sets: past it the command is hung.
pub const HUNG: Duration = Duration::from_secs(60);

/// Starts `strata ARGS` with stdout and stderr piped, stdin closed.
pub fn strata(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata")
}

/// Waits for `child` to exit, killing it (and failing) if it hangs.
pub fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > HUNG {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "strata hung; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A `strata serve --app http` on the given endpoints, killed on drop.
// Used by some of the test binaries that include this module only.
#[allow(dead_code)]
pub struct Serve {
    child: Child,
    /// Each endpoint as printed: the full endpoint and its `host:port`.
    served: Vec<(String, String)>,
    /// What the server wrote to stderr so far (read as it comes, so that a
    /// chatty server never blocks on a full pipe).
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

#[allow(dead_code)]
impl Serve {
    /// The `host:port` of the served endpoint whose scheme is `scheme`
    /// (`"tcp"`, `"tls+tcp"`, `"quic+udp"`).
    pub fn addr(&self, scheme: &str) -> &str {
        let prefix = format!("{scheme}://");
        self.served
            .iter()
            .find(|(ep, _)| ep.starts_with(&prefix))
            .map(|(_, hostport)| hostport.as_str())
            .unwrap_or_else(|| panic!("no {scheme} endpoint served"))
    }

    /// For a failed request's message: whether the server still runs (or
    /// how it ended), and what it wrote to stderr.
    pub fn state(&mut self) -> String {
        let run = match self.child.try_wait() {
            Ok(None) => "the server still runs".to_string(),
            Ok(Some(status)) => format!("the server exited: {status}"),
            Err(e) => format!("the server's state is unknown: {e}"),
        };
        // Give the reader a moment to take what was written last.
        thread::sleep(Duration::from_millis(100));
        format!("{run}; its stderr: {:?}", self.stderr.lock().unwrap())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `strata serve --app http ENDPOINTS` and returns once it has
/// printed every endpoint it serves.
#[allow(dead_code)]
pub fn serve_http(endpoints: &[&str]) -> Serve {
    use std::io::{BufRead, BufReader};
    let mut args = vec!["serve", "--app", "http"];
    args.extend_from_slice(endpoints);
    let mut child = strata(&args);
    let out = child.stdout.take().expect("stdout");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let err = child.stderr.take().expect("stderr");
    let to = stderr.clone();
    thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let mut s = to.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut served = Vec::new();
    while served.len() < endpoints.len() {
        let line = rx
            .recv_timeout(HUNG)
            .expect("strata serve prints its endpoints");
        if let Some(ep) = line.strip_prefix("strata: serving http on ") {
            let hostport = ep.split("://").nth(1).expect("an endpoint");
            let hostport = hostport.split('?').next().unwrap().to_string();
            served.push((ep.to_string(), hostport));
        }
    }
    Serve {
        child,
        served,
        stderr,
    }
}
