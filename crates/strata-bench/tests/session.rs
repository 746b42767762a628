//! One whole `strata-bench run` session, tiny: every benchmark against the
//! Rust servers, through the real processes and the `/proc` sampling.

use std::process::Command;

#[test]
fn a_tiny_session_measures_every_benchmark_and_side() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata-bench"))
        .args([
            "run",
            "--skip-twisted",
            "--runs",
            "2",
            "--secs",
            "0.3",
            "--bulk-bytes",
            "4000000",
            "--idle-conns",
            "200",
        ])
        .output()
        .expect("strata-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        !stdout.contains("Failed measurements"),
        "{stdout}\n{stderr}"
    );
    for row in [
        "| pingpong | msg/s | ",
        "| pingpong | server CPU µs/msg | ",
        "| bulk | MB/s | ",
        "| cps | conn/s | ",
        "| idle | RSS bytes/conn | ",
    ] {
        assert!(stdout.contains(row), "missing `{row}` in:\n{stdout}");
    }
    // Two runs per side, so each cell is a median of two samples, and the
    // idle comparison includes the bare tokio task.
    assert!(stdout.contains("medians of 2 run(s)"), "{stdout}");
    assert!(stdout.contains("| tokio-bare |"), "{stdout}");
    // Every pass/miss verdict except Twisted's has a measurement behind it.
    let verdicts = stdout.matches("| PASS |").count() + stdout.matches("| MISS |").count();
    assert_eq!(verdicts, 3, "{stdout}");
}
