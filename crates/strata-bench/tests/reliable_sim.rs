//! The small run of `reliable_sim`: every transport (our mapping with each
//! congestion controller, its KCP mode, the `kcp` crate in fast and default
//! mode) carries 2 MB at 1% loss and 2 s of messages at 5% loss through the
//! simulated link, and every byte must arrive, checked and in order.
//! Correctness only: no figure is compared.

use std::process::Command;

#[test]
fn the_quick_run_delivers_every_byte_in_order_over_every_transport() {
    let out = Command::new(env!("CARGO_BIN_EXE_reliable_sim"))
        .args(["--quick", "--seed", "7"])
        .output()
        .expect("reliable_sim runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for label in [
        "strata bbr (default)",
        "strata newreno",
        "strata cubic",
        "strata kcp-mode (fast, cc on)",
        "kcp fast",
        "kcp default",
    ] {
        let line = format!("{label} loss  1.0%: ok ");
        assert!(stderr.contains(&line), "no `{line}` in:\n{stderr}");
    }
    assert!(!stdout.contains("not available"), "{stdout}");
    assert!(stdout.contains("| 2 MB, 1% loss | kcp fast | "), "{stdout}");
    assert!(
        stdout.contains("| 200 x 1 KB, 5% loss | strata bbr (default) | "),
        "{stdout}"
    );
}
