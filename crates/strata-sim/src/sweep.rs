//! Seeds and reproduction: run a scenario over many seeds in parallel
//! within a time budget, shrink a failing case to its shortest fault
//! schedule, and print the one-line command that replays it.
//!
//! A scenario is a function of a seed and, optionally, a fault schedule to
//! use instead of the one it would draw from the seed (that is how a
//! shrunk or hand-written schedule is replayed). It returns the schedule it
//! ran and whether the run held:
//!
//! ```
//! use std::time::Duration;
//! use strata_sim::{sweep, Run, Script, Sim, SweepConfig};
//!
//! fn scenario(seed: u64, faults: Option<&str>) -> Run {
//!     let mut sim = Sim::new(seed);
//!     let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
//!     let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
//!     sim.link(a, b, strata_sim::Link::default());
//!     let script = match faults {
//!         Some(text) => Script::parse(&sim, text).unwrap(),
//!         None => strata_sim::Nemesis::new(seed).partitions(&sim, &[(a, b)], 2, Duration::from_secs(5)),
//!     };
//!     sim.script(&script);
//!     sim.run(Duration::from_secs(10));
//!     Run::ok(script)
//! }
//!
//! let report = sweep(&SweepConfig::seeds(0..20).name("doc"), scenario);
//! assert_eq!(report.ran, 20);
//! assert!(report.failure.is_none());
//! ```

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fault::{Fault, Script, ScriptLine};
use crate::world::{HostId, Sim};

/// The environment variable that makes a sweep run one seed (a replay).
pub const SEED_VAR: &str = "STRATA_SIM_SEED";

/// The environment variable that gives a replayed run its fault schedule
/// (script lines separated by `;`).
pub const FAULTS_VAR: &str = "STRATA_SIM_FAULTS";

/// What one run of a scenario did: the fault schedule it ran, and the
/// first property that did not hold, if any.
///
/// ```
/// use strata_sim::{Run, Script};
/// let held = Run::ok(Script::default());
/// assert!(held.failure.is_none());
/// let broke = Run::failed(Script::default(), "the echo lost 3 bytes");
/// assert_eq!(broke.failure.as_deref(), Some("the echo lost 3 bytes"));
/// assert!(broke.faults.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Run {
    /// The schedule, as a script (printed in reports and replays).
    pub faults: Script,
    /// What went wrong.
    pub failure: Option<String>,
}

impl Run {
    /// A run that held.
    ///
    /// ```
    /// # let mut sim = strata_sim::Sim::new(1);
    /// # sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let faults = strata_sim::Script::parse(&sim, "at 1s stall a").unwrap();
    /// let run = strata_sim::Run::ok(faults.clone());
    /// assert_eq!(run.faults, faults);
    /// assert_eq!(run.failure, None);
    /// ```
    pub fn ok(faults: Script) -> Run {
        Run {
            faults,
            failure: None,
        }
    }

    /// A run that did not hold, and why.
    ///
    /// ```
    /// let got = 9_000;
    /// let run = strata_sim::Run::failed(strata_sim::Script::default(), format!("got {got} of 10000 bytes"));
    /// assert_eq!(run.failure.unwrap(), "got 9000 of 10000 bytes");
    /// ```
    pub fn failed(faults: Script, why: impl Into<String>) -> Run {
        Run {
            faults,
            failure: Some(why.into()),
        }
    }

    /// `Ok` if every check holds, else the first failure: build a run from
    /// a list of `(held, what)` checks.
    ///
    /// ```
    /// use strata_sim::{Run, Script};
    /// let (sent, got, closed) = (10_000, 9_000, true);
    /// let run = Run::check(Script::default(), &[
    ///     (closed, "the connection never closed".to_string()),
    ///     (got == sent, format!("got {got} of {sent} bytes")),
    ///     (got > 0, "nothing arrived".to_string()),
    /// ]);
    /// // The first check that failed, and only that one.
    /// assert_eq!(run.failure.as_deref(), Some("got 9000 of 10000 bytes"));
    /// assert!(Run::check(Script::default(), &[(true, "fine".into())]).failure.is_none());
    /// ```
    pub fn check(faults: Script, checks: &[(bool, String)]) -> Run {
        match checks.iter().find(|(held, _)| !held) {
            Some((_, what)) => Run::failed(faults, what.clone()),
            None => Run::ok(faults),
        }
    }
}

/// How to sweep: which seeds, on how many threads, for how long, and
/// the command a failure prints to replay itself.
///
/// ```
/// use std::time::Duration;
/// use strata_sim::SweepConfig;
/// let cfg = SweepConfig::seeds(0..500)
///     .name("echo_survives_partitions")
///     .budget(Duration::from_secs(60))
///     .replay("cargo test -p my-app --test sim -- {name} --exact");
/// assert_eq!(cfg.seeds, 0..500);
/// assert_eq!(cfg.budget, Some(Duration::from_secs(60)));
/// assert!(cfg.threads >= 1);
/// let cmd = cfg.replay_command(7, &strata_sim::Script::default());
/// assert!(cmd.ends_with("cargo test -p my-app --test sim -- echo_survives_partitions --exact"));
/// ```
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// The scenario's name (in reports and the replay command).
    pub name: String,
    /// The seeds to run.
    pub seeds: Range<u64>,
    /// Stop starting new seeds after this much wall time (`None`: run
    /// them all).
    pub budget: Option<Duration>,
    /// Threads (default: the machine's parallelism).
    pub threads: usize,
    /// The command that replays one seed, with `{name}` for the scenario's
    /// name (default: the cargo test of the same name).
    pub replay: String,
}

impl SweepConfig {
    /// Every seed of `seeds`, on every core, with no time budget.
    ///
    /// ```
    /// let cfg = strata_sim::SweepConfig::seeds(100..200);
    /// assert_eq!(cfg.seeds.end - cfg.seeds.start, 100);
    /// assert_eq!(cfg.budget, None);
    /// assert_eq!(cfg.name, "scenario");
    /// // A sweep's threads are a field: one thread runs the seeds in order.
    /// let one = strata_sim::SweepConfig { threads: 1, ..cfg };
    /// assert_eq!(one.threads, 1);
    /// ```
    pub fn seeds(seeds: Range<u64>) -> SweepConfig {
        SweepConfig {
            name: "scenario".into(),
            seeds,
            budget: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            replay: "cargo test -p strata-sim --test scenarios -- {name} --exact".into(),
        }
    }

    /// Names the scenario.
    ///
    /// ```
    /// let cfg = strata_sim::SweepConfig::seeds(0..10).name("quic_survives_rebinding");
    /// assert_eq!(cfg.name, "quic_survives_rebinding");
    /// // The default replay command runs the test of that name.
    /// let cmd = cfg.replay_command(3, &strata_sim::Script::default());
    /// assert!(cmd.ends_with("-- quic_survives_rebinding --exact"));
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Sets a wall-time budget: no seed starts after it (seeds already
    /// running finish), so a sweep may run fewer seeds than it was given.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata_sim::{sweep, Run, Script, SweepConfig};
    /// let cfg = SweepConfig::seeds(0..1_000_000).budget(Duration::from_millis(50));
    /// assert_eq!(cfg.budget, Some(Duration::from_millis(50)));
    /// // A spent budget starts no seed at all.
    /// let spent = SweepConfig::seeds(0..100).budget(Duration::ZERO);
    /// let report = sweep(&spent, |_, _| Run::ok(Script::default()));
    /// assert_eq!(report.ran, 0);
    /// ```
    pub fn budget(mut self, d: Duration) -> Self {
        self.budget = Some(d);
        self
    }

    /// Sets the replay command (`{name}` is replaced by the name).
    ///
    /// ```
    /// let cfg = strata_sim::SweepConfig::seeds(0..10)
    ///     .name("failover")
    ///     .replay("cargo nextest run -p my-app {name}");
    /// let cmd = cfg.replay_command(4, &strata_sim::Script::default());
    /// assert_eq!(cmd, "STRATA_SIM_SEED=4 STRATA_SIM_FAULTS='' cargo nextest run -p my-app failover");
    /// ```
    pub fn replay(mut self, cmd: &str) -> Self {
        self.replay = cmd.into();
        self
    }

    /// The one-line command that replays `seed` with `faults`: the
    /// schedule's lines go in [`FAULTS_VAR`], separated by `;`, and the
    /// seed in [`SEED_VAR`]; [`sweep`] reads them back and runs that one
    /// seed with that schedule.
    ///
    /// ```
    /// # let mut sim = strata_sim::Sim::new(1);
    /// # sim.add_host("client", "10.0.0.1".parse().unwrap());
    /// # sim.add_host("server", "10.0.0.2".parse().unwrap());
    /// let faults = strata_sim::Script::parse(&sim, "at 1s partition client server\nat 3s heal client server").unwrap();
    /// let cfg = strata_sim::SweepConfig::seeds(0..500).name("echo");
    /// assert_eq!(
    ///     cfg.replay_command(41, &faults),
    ///     "STRATA_SIM_SEED=41 STRATA_SIM_FAULTS='at 1s partition client server;at 3s heal client server' \
    ///      cargo test -p strata-sim --test scenarios -- echo --exact"
    /// );
    /// ```
    pub fn replay_command(&self, seed: u64, faults: &Script) -> String {
        let lines: Vec<String> = faults.to_string().lines().map(str::to_string).collect();
        format!(
            "{SEED_VAR}={seed} {FAULTS_VAR}='{}' {}",
            lines.join(";"),
            self.replay.replace("{name}", &self.name)
        )
    }
}

/// A failing run, shrunk: of the lines its seed drew, only those the
/// failure needs. With the scenario of [`sweep`]'s example, whose
/// property fails whenever host b stalls:
///
/// ```
/// # use std::time::Duration;
/// # use strata::testing::RunOutcome;
/// # use strata_sim::{sweep, Link, Nemesis, Run, Script, Sim, SweepConfig};
/// #
/// # // The property (too strong on purpose): host b's readers never stall.
/// # fn scenario(seed: u64, faults: Option<&str>) -> Run {
/// #     let mut sim = Sim::new(seed);
/// #     let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
/// #     let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
/// #     sim.link(a, b, Link::default());
/// #     let script = match faults {
/// #         Some(text) => Script::parse(&sim, text).unwrap(),
/// #         None => {
/// #             let mut n = Nemesis::new(seed);
/// #             n.add_partitions(&sim, &[(a, b)], 2, Duration::from_secs(5));
/// #             n.add_stall(&sim, b, Duration::from_secs(5), Duration::from_secs(1));
/// #             n.script(&sim)
/// #         }
/// #     };
/// #     sim.script(&script);
/// #     let outcome = sim.run_until(Duration::from_secs(10), |sim| sim.is_stalled(b));
/// #     Run::check(script, &[(outcome != RunOutcome::Reached, "b stalled".into())])
/// # }
/// #
/// let report = sweep(&SweepConfig::seeds(0..8).name("never_stalls"), scenario);
/// let failure = report.failure.unwrap();
/// assert_eq!(failure.seed, 0); // the lowest failing seed
/// assert_eq!(failure.why, "b stalled");
/// // Two partitions, their heals, a stall and its resume: only the stall is needed.
/// assert_eq!(failure.original.len(), 6);
/// assert_eq!(failure.shrunk.len(), 1);
/// assert!(failure.shrunk.to_string().ends_with(" stall b\n"));
/// assert!(failure.replay.starts_with("STRATA_SIM_SEED=0 STRATA_SIM_FAULTS='at "));
/// ```
#[derive(Clone, Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// What did not hold (in the shortest schedule).
    pub why: String,
    /// The schedule the seed drew.
    pub original: Script,
    /// The shortest schedule found that still fails.
    pub shrunk: Script,
    /// The command that replays it.
    pub replay: String,
}

/// What a sweep did. Its `Display` is what a failing test prints: the
/// counts, then the shrunk schedule and the command that replays it.
///
/// ```
/// use strata_sim::{sweep, Run, Script, SweepConfig};
/// let report = sweep(&SweepConfig::seeds(0..10).name("odd"), |seed, _| match seed % 2 {
///     0 => Run::ok(Script::default()),
///     _ => Run::failed(Script::default(), format!("seed {seed} is odd")),
/// });
/// assert_eq!((report.ran, report.failed), (10, 5));
/// assert_eq!(report.failure.as_ref().unwrap().seed, 1);
/// let text = report.to_string();
/// assert!(text.starts_with("10 seeds in "));
/// assert!(text.contains(", 5 failed\nseed 1 failed: seed 1 is odd\nfault schedule (0 of 0 lines needed):\n"));
/// assert!(text.ends_with("cargo test -p strata-sim --test scenarios -- odd --exact"));
/// ```
#[derive(Clone, Debug)]
pub struct SweepReport {
    /// Seeds run.
    pub ran: u64,
    /// Seeds that failed (before shrinking the first).
    pub failed: u64,
    /// The lowest failing seed, shrunk.
    pub failure: Option<Failure>,
    /// Wall time.
    pub elapsed: Duration,
}

impl std::fmt::Display for SweepReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} seeds in {:.1} s, {} failed",
            self.ran,
            self.elapsed.as_secs_f64(),
            self.failed
        )?;
        if let Some(x) = &self.failure {
            write!(
                f,
                "\nseed {} failed: {}\nfault schedule ({} of {} lines needed):\n{}replay: {}",
                x.seed,
                x.why,
                x.shrunk.len(),
                x.original.len(),
                x.shrunk,
                x.replay
            )?;
        }
        Ok(())
    }
}

/// Runs `scenario` over the seeds of `cfg` in parallel (or the one seed
/// the environment names: [`SEED_VAR`], [`FAULTS_VAR`]), then shrinks the
/// lowest failing seed's schedule: lines are dropped one at a time for as
/// long as the run still fails.
///
/// A replay gives the sweep the seed and the schedule of a
/// [`Failure::replay`] command; the scenario then runs that seed once with
/// `Some(schedule)`, just as the shrinker runs it:
///
/// ```
/// use std::time::Duration;
/// use strata::testing::RunOutcome;
/// use strata_sim::{sweep, Link, Nemesis, Run, Script, Sim, SweepConfig};
///
/// // The property (too strong on purpose): host b's readers never stall.
/// fn scenario(seed: u64, faults: Option<&str>) -> Run {
///     let mut sim = Sim::new(seed);
///     let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
///     let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
///     sim.link(a, b, Link::default());
///     let script = match faults {
///         Some(text) => Script::parse(&sim, text).unwrap(),
///         None => {
///             let mut n = Nemesis::new(seed);
///             n.add_partitions(&sim, &[(a, b)], 2, Duration::from_secs(5));
///             n.add_stall(&sim, b, Duration::from_secs(5), Duration::from_secs(1));
///             n.script(&sim)
///         }
///     };
///     sim.script(&script);
///     let outcome = sim.run_until(Duration::from_secs(10), |sim| sim.is_stalled(b));
///     Run::check(script, &[(outcome != RunOutcome::Reached, "b stalled".into())])
/// }
///
/// let report = sweep(&SweepConfig::seeds(0..8).name("never_stalls"), scenario);
/// let failure = report.failure.unwrap();
/// // What the replay command runs: the seed, with the shrunk schedule.
/// let again = scenario(failure.seed, Some(&failure.shrunk.to_string()));
/// assert_eq!(again.failure.as_deref(), Some("b stalled"));
/// assert_eq!(again.faults, failure.shrunk);
/// // Without the stall, the property holds.
/// assert!(scenario(failure.seed, Some("")).failure.is_none());
/// ```
pub fn sweep<F>(cfg: &SweepConfig, scenario: F) -> SweepReport
where
    F: Fn(u64, Option<&str>) -> Run + Sync,
{
    let start = Instant::now();
    if let Some(seed) = std::env::var(SEED_VAR).ok().and_then(|s| s.parse().ok()) {
        let faults = std::env::var(FAULTS_VAR).ok().map(|s| s.replace(';', "\n"));
        let run = scenario(seed, faults.as_deref());
        let failure = run.failure.map(|why| Failure {
            seed,
            why,
            original: run.faults.clone(),
            shrunk: run.faults.clone(),
            replay: cfg.replay_command(seed, &run.faults),
        });
        return SweepReport {
            ran: 1,
            failed: u64::from(failure.is_some()),
            failure,
            elapsed: start.elapsed(),
        };
    }
    let next = AtomicU64::new(cfg.seeds.start);
    let ran = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failures: Mutex<Vec<(u64, Run)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..cfg.threads.max(1) {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if cfg.budget.is_some_and(|b| start.elapsed() >= b) {
                    return;
                }
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= cfg.seeds.end {
                    return;
                }
                let run = scenario(seed, None);
                ran.fetch_add(1, Ordering::Relaxed);
                if run.failure.is_some() {
                    failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((seed, run));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|(seed, _)| *seed);
    let failed = failures.len() as u64;
    let failure = failures
        .into_iter()
        .next()
        .map(|(seed, run)| shrink(cfg, &scenario, seed, run));
    SweepReport {
        ran: ran.into_inner(),
        failed,
        failure,
        elapsed: start.elapsed(),
    }
}

/// Drops schedule lines while the run still fails.
fn shrink<F>(cfg: &SweepConfig, scenario: &F, seed: u64, run: Run) -> Failure
where
    F: Fn(u64, Option<&str>) -> Run,
{
    let original = run.faults.clone();
    let mut best = run.faults;
    let mut why = run.failure.unwrap_or_default();
    let mut i = 0;
    while i < best.len() {
        let candidate = best.without(i);
        let text = candidate.to_string();
        let r = scenario(seed, Some(&text));
        match r.failure {
            Some(w) => {
                best = candidate;
                why = w;
            }
            None => i += 1,
        }
    }
    Failure {
        seed,
        why,
        replay: cfg.replay_command(seed, &best),
        original,
        shrunk: best,
    }
}

/// Draws fault schedules from a seed: the nemesis. Each method appends
/// faults of one kind; [`script`](Nemesis::script) gives them in time
/// order.
///
/// ```
/// use std::time::Duration;
/// let mut sim = strata_sim::Sim::new(1);
/// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
/// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
/// let s1 = strata_sim::Nemesis::new(9).partitions(&sim, &[(a, b)], 3, Duration::from_secs(10));
/// let s2 = strata_sim::Nemesis::new(9).partitions(&sim, &[(a, b)], 3, Duration::from_secs(10));
/// assert_eq!(s1, s2); // the same seed draws the same schedule
/// assert_eq!(s1.len(), 6); // each partition heals
/// ```
pub struct Nemesis {
    rng: ChaCha8Rng,
    lines: Vec<ScriptLine>,
}

impl Nemesis {
    /// A nemesis drawing from `seed` (its own stream: the network's draws
    /// do not move it).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let draw = |seed| Nemesis::new(seed).partitions(&sim, &[(a, b)], 4, Duration::from_secs(30));
    /// assert_eq!(draw(3), draw(3));
    /// assert_ne!(draw(3), draw(4));
    /// ```
    pub fn new(seed: u64) -> Nemesis {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0x6e656d65);
        Nemesis {
            rng,
            lines: Vec::new(),
        }
    }

    fn time(&mut self, within: Duration) -> Duration {
        let ms = within.as_millis().max(1) as u64;
        Duration::from_millis(self.rng.gen_range(0..ms))
    }

    fn name(sim: &Sim, h: HostId) -> String {
        sim.host_name(h).to_string()
    }

    /// Up to `n` partitions of the given host pairs, each healed after
    /// 50 ms to 3 s, all starting within `within`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let s = Nemesis::new(5).partitions(&sim, &[(a, b)], 1, Duration::from_secs(10));
    /// assert_eq!(s.len(), 2);
    /// assert_eq!(s.lines[0].fault, Fault::Partition(a, b));
    /// assert_eq!(s.lines[1].fault, Fault::Heal(a, b));
    /// assert!(s.lines[0].at < Duration::from_secs(10));
    /// let down = s.lines[1].at - s.lines[0].at;
    /// assert!(down >= Duration::from_millis(50) && down < Duration::from_secs(3));
    /// ```
    pub fn partitions(
        mut self,
        sim: &Sim,
        pairs: &[(HostId, HostId)],
        n: usize,
        within: Duration,
    ) -> Script {
        self.add_partitions(sim, pairs, n, within);
        self.script(sim)
    }

    /// Adds up to `n` partitions (see [`partitions`](Nemesis::partitions)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// # let c = sim.add_host("c", "10.0.0.3".parse().unwrap());
    /// let mut n = Nemesis::new(2);
    /// n.add_partitions(&sim, &[(a, b), (b, c)], 3, Duration::from_secs(5))
    ///     .add_partitions(&sim, &[], 3, Duration::from_secs(5)); // no pairs: nothing
    /// let s = n.script(&sim);
    /// assert_eq!(s.len(), 6);
    /// assert!(s.lines.iter().all(|l| matches!(l.fault, Fault::Partition(..) | Fault::Heal(..))));
    /// ```
    pub fn add_partitions(
        &mut self,
        sim: &Sim,
        pairs: &[(HostId, HostId)],
        n: usize,
        within: Duration,
    ) -> &mut Self {
        if pairs.is_empty() {
            return self;
        }
        for _ in 0..n {
            let (a, b) = pairs[self.rng.gen_range(0..pairs.len())];
            let at = self.time(within);
            let len = Duration::from_millis(self.rng.gen_range(50..3000));
            let (na, nb) = (Self::name(sim, a), Self::name(sim, b));
            self.push(at, Fault::Partition(a, b), format!("partition {na} {nb}"));
            self.push(at + len, Fault::Heal(a, b), format!("heal {na} {nb}"));
        }
        self
    }

    /// Adds a restart of `host` at a time within `within`, down for up to
    /// `max_down`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let mut n = Nemesis::new(8);
    /// n.add_restart(&sim, b, Duration::from_secs(2), Duration::from_millis(500));
    /// let s = n.script(&sim);
    /// assert!(s.lines[0].at < Duration::from_secs(2));
    /// assert!(matches!(s.lines[0].fault, Fault::Restart { host, down } if host == b && down < Duration::from_millis(500)));
    /// assert!(s.lines[0].text.starts_with("restart b for "));
    /// ```
    pub fn add_restart(
        &mut self,
        sim: &Sim,
        host: HostId,
        within: Duration,
        max_down: Duration,
    ) -> &mut Self {
        let at = self.time(within);
        let down = self.time(max_down);
        let text = format!(
            "restart {} for {}ms",
            Self::name(sim, host),
            down.as_millis()
        );
        self.push(at, Fault::Restart { host, down }, text);
        self
    }

    /// Adds a stall of `host`'s readers for 100 ms to `max_len`, within
    /// `within`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let mut n = Nemesis::new(4);
    /// n.add_stall(&sim, a, Duration::from_secs(1), Duration::from_secs(2));
    /// let s = n.script(&sim);
    /// assert_eq!((&s.lines[0].fault, &s.lines[1].fault), (&Fault::Stall(a), &Fault::Resume(a)));
    /// let len = s.lines[1].at - s.lines[0].at;
    /// assert!(len >= Duration::from_millis(100) && len < Duration::from_millis(2100));
    /// ```
    pub fn add_stall(
        &mut self,
        sim: &Sim,
        host: HostId,
        within: Duration,
        max_len: Duration,
    ) -> &mut Self {
        let at = self.time(within);
        let len = Duration::from_millis(100) + self.time(max_len);
        let n = Self::name(sim, host);
        self.push(at, Fault::Stall(host), format!("stall {n}"));
        self.push(at + len, Fault::Resume(host), format!("resume {n}"));
        self
    }

    /// Adds a latency change between two hosts (1 to 200 ms) within
    /// `within`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let mut n = Nemesis::new(6);
    /// n.add_latency(&sim, a, b, Duration::from_secs(1));
    /// let Fault::Latency(x, y, d) = n.script(&sim).lines[0].fault else { unreachable!() };
    /// assert_eq!((x, y), (a, b));
    /// assert!(d >= Duration::from_millis(1) && d < Duration::from_millis(200));
    /// ```
    pub fn add_latency(&mut self, sim: &Sim, a: HostId, b: HostId, within: Duration) -> &mut Self {
        let at = self.time(within);
        let ms = self.rng.gen_range(1..200);
        let (na, nb) = (Self::name(sim, a), Self::name(sim, b));
        let d = Duration::from_millis(ms);
        self.push(
            at,
            Fault::Latency(a, b, d),
            format!("latency {na} {nb} {ms}ms"),
        );
        self
    }

    /// Adds a datagram loss change between two hosts (0 to `max_percent`
    /// percent, in whole percents) within `within`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let mut n = Nemesis::new(6);
    /// n.add_loss(&sim, a, b, 5, Duration::from_secs(1));
    /// let s = n.script(&sim);
    /// let Fault::Loss(_, _, p) = s.lines[0].fault else { unreachable!() };
    /// assert!((0.0..=0.05).contains(&p));
    /// assert!(s.lines[0].text.starts_with("loss a b ") && s.lines[0].text.ends_with('%'));
    /// ```
    pub fn add_loss(
        &mut self,
        sim: &Sim,
        a: HostId,
        b: HostId,
        max_percent: u32,
        within: Duration,
    ) -> &mut Self {
        let at = self.time(within);
        let p = self.rng.gen_range(0..=max_percent.min(100));
        let (na, nb) = (Self::name(sim, a), Self::name(sim, b));
        let rate = f64::from(p) / 100.0;
        self.push(at, Fault::Loss(a, b, rate), format!("loss {na} {nb} {p}%"));
        self
    }

    /// Adds a rebinding of `host`'s UDP sockets (see
    /// [`Fault::Rebind`](crate::Fault::Rebind)) at a time between `after`
    /// and `after + within`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let mut n = Nemesis::new(1);
    /// n.add_rebind(&sim, a, Duration::from_millis(500), Duration::from_secs(1));
    /// let s = n.script(&sim);
    /// assert_eq!(s.lines[0].fault, Fault::Rebind(a));
    /// assert!(s.lines[0].at >= Duration::from_millis(500) && s.lines[0].at < Duration::from_millis(1500));
    /// ```
    pub fn add_rebind(
        &mut self,
        sim: &Sim,
        host: HostId,
        after: Duration,
        within: Duration,
    ) -> &mut Self {
        let at = after + self.time(within);
        let text = format!("rebind {}", Self::name(sim, host));
        self.push(at, Fault::Rebind(host), text);
        self
    }

    /// Adds a skew of `host`'s clock (see [`Fault::Skew`]): ahead or
    /// behind by up to `max` (in whole milliseconds), at a time between
    /// `after` and `after + within`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Script, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let mut n = Nemesis::new(2);
    /// n.add_skew(&sim, a, Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(5));
    /// let s = n.script(&sim);
    /// let Fault::Skew(h, ns) = s.lines[0].fault else { unreachable!() };
    /// assert_eq!(h, a);
    /// assert!(ns.unsigned_abs() <= 5_000_000_000 && ns % 1_000_000 == 0);
    /// assert!(s.lines[0].at >= Duration::from_secs(1) && s.lines[0].at < Duration::from_secs(3));
    /// assert_eq!(Script::parse(&sim, &s.to_string()).unwrap(), s); // it replays
    /// ```
    pub fn add_skew(
        &mut self,
        sim: &Sim,
        host: HostId,
        after: Duration,
        within: Duration,
        max: Duration,
    ) -> &mut Self {
        let at = after + self.time(within);
        let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        let ms = self.draw(0..max_ms.saturating_add(1));
        let behind = self.rng.gen_range(0..2) == 1;
        // Whole milliseconds, within i64 nanoseconds (292 years).
        let ms = ms.min(i64::MAX as u64 / 1_000_000);
        let ns = (ms * 1_000_000) as i64;
        let (ns, sign) = if behind { (-ns, '-') } else { (ns, '+') };
        let text = format!("skew {} {sign}{ms}ms", Self::name(sim, host));
        self.push(at, Fault::Skew(host, ns), text);
        self
    }

    /// A uniform draw in `range`, for the scenario's own choices (an
    /// empty range gives its start).
    ///
    /// ```
    /// let mut n = strata_sim::Nemesis::new(11);
    /// let bytes = n.draw(20_000..300_000);
    /// assert!((20_000..300_000).contains(&bytes));
    /// assert_eq!(strata_sim::Nemesis::new(11).draw(20_000..300_000), bytes); // the seed decides
    /// assert_eq!(n.draw(7..7), 7);
    /// ```
    pub fn draw(&mut self, range: Range<u64>) -> u64 {
        if range.is_empty() {
            return range.start;
        }
        self.rng.gen_range(range)
    }

    /// The faults drawn so far, in time order, as a script for `sim`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata_sim::{Fault, Nemesis, Sim};
    /// # let mut sim = Sim::new(1);
    /// # let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// # let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// let mut n = Nemesis::new(3);
    /// n.add_stall(&sim, b, Duration::from_secs(5), Duration::from_secs(1))
    ///     .add_partitions(&sim, &[(a, b)], 2, Duration::from_secs(5))
    ///     .add_rebind(&sim, a, Duration::ZERO, Duration::from_secs(5));
    /// let s = n.script(&sim);
    /// assert_eq!(s.len(), 7);
    /// assert!(s.lines.windows(2).all(|w| w[0].at <= w[1].at));
    /// // It reads back as it prints: a schedule can be replayed from its text.
    /// assert_eq!(strata_sim::Script::parse(&sim, &s.to_string()).unwrap(), s);
    /// ```
    pub fn script(&self, sim: &Sim) -> Script {
        let _ = sim;
        let mut lines = self.lines.clone();
        // Stable: faults drawn for the same instant keep their order.
        lines.sort_by_key(|l| l.at);
        Script { lines }
    }

    /// Adds one line; its time is kept to whole microseconds, as the
    /// script prints it, so a printed schedule replays exactly.
    fn push(&mut self, at: Duration, fault: Fault, text: String) {
        let at = Duration::from_micros(at.as_micros() as u64);
        self.lines.push(ScriptLine { at, fault, text });
    }
}
