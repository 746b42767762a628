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
