//! The signals `strata serve` and `strata relay` answer: Ctrl-C and SIGTERM
//! stop (drain), SIGHUP reloads certificates and keeps serving.

/// Signal handlers, installed before a command says it is up, so a signal
/// sent as soon as that line is read is handled rather than killing the
/// process with the default action.
///
/// ```no_run
/// # async fn run() {
/// let signals = strata_cli::signals::Signals::install();
/// println!("up");
/// signals.wait_for_stop(|| eprintln!("reloading")).await;
/// # }
/// ```
pub struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Installs the SIGTERM and SIGHUP handlers (on Unix; Ctrl-C everywhere
    /// once waited on). Must be called inside a tokio runtime.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let unix = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(term), Ok(hup)) => Some((term, hup)),
                _ => None,
            };
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for Ctrl-C or SIGTERM; calls `on_hup` for each SIGHUP meanwhile.
    pub async fn wait_for_stop(self, on_hup: impl Fn()) {
        #[cfg(unix)]
        if let Some((mut term, mut hup)) = self.unix {
            let ctrl_c = tokio::signal::ctrl_c();
            tokio::pin!(ctrl_c);
            loop {
                tokio::select! {
                    _ = &mut ctrl_c => return,
                    _ = term.recv() => return,
                    _ = hup.recv() => on_hup(),
                }
            }
        }
        #[cfg(not(unix))]
        let _ = on_hup;
        let _ = tokio::signal::ctrl_c().await;
    }
}
