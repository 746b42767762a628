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
    unix: Option<Unix>,
}

/// SIGINT, SIGTERM and SIGHUP, each registered when installed.
#[cfg(unix)]
struct Unix {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the SIGINT, SIGTERM and SIGHUP handlers now (on Unix;
    /// elsewhere Ctrl-C is handled once waited on). Must be called inside a
    /// tokio runtime.
    ///
    /// SIGINT is registered here rather than by `tokio::signal::ctrl_c()`,
    /// which registers only when first polled: a Ctrl-C that came between
    /// the "serving" line and that poll killed the process with the default
    /// action instead of draining it.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let unix = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(int), Ok(term), Ok(hup)) => Some(Unix { int, term, hup }),
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
        if let Some(Unix {
            mut int,
            mut term,
            mut hup,
        }) = self.unix
        {
            loop {
                tokio::select! {
                    _ = int.recv() => return,
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
