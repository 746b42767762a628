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

use crate::fault::Script;
use crate::world::{HostId, Sim};

/// The environment variable that makes a sweep run one seed (a replay).
pub const SEED_VAR: &str = "STRATA_SIM_SEED";

/// The environment variable that gives a replayed run its fault schedule
/// (script lines separated by `;`).
pub const FAULTS_VAR: &str = "STRATA_SIM_FAULTS";

/// What one run of a scenario did: the fault schedule it ran, and the
/// first property that did not hold, if any.
#[derive(Clone, Debug)]
pub struct Run {
    /// The schedule, as a script (printed in reports and replays).
    pub faults: Script,
    /// What went wrong.
    pub failure: Option<String>,
}

impl Run {
    /// A run that held.
    pub fn ok(faults: Script) -> Run {
        Run {
            faults,
            failure: None,
        }
    }

    /// A run that did not hold, and why.
    pub fn failed(faults: Script, why: impl Into<String>) -> Run {
        Run {
            faults,
            failure: Some(why.into()),
        }
    }

    /// `Ok` if every check holds, else the first failure: build a run from
    /// a list of `(held, what)` checks.
    pub fn check(faults: Script, checks: &[(bool, String)]) -> Run {
        match checks.iter().find(|(held, _)| !held) {
            Some((_, what)) => Run::failed(faults, what.clone()),
            None => Run::ok(faults),
        }
    }
}

/// How to sweep.
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
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Sets a wall-time budget.
    pub fn budget(mut self, d: Duration) -> Self {
        self.budget = Some(d);
        self
    }

    /// Sets the replay command (`{name}` is replaced by the name).
    pub fn replay(mut self, cmd: &str) -> Self {
        self.replay = cmd.into();
        self
    }

    /// The one-line command that replays `seed` with `faults`.
    pub fn replay_command(&self, seed: u64, faults: &Script) -> String {
        let lines: Vec<String> = faults.to_string().lines().map(str::to_string).collect();
        format!(
            "{SEED_VAR}={seed} {FAULTS_VAR}='{}' {}",
            lines.join(";"),
            self.replay.replace("{name}", &self.name)
        )
    }
}

/// A failing run, shrunk.
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

/// What a sweep did.
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
    lines: Vec<(Duration, String)>,
}

impl Nemesis {
    /// A nemesis drawing from `seed` (its own stream: the network's draws
    /// do not move it).
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
            self.lines.push((at, format!("partition {na} {nb}")));
            self.lines.push((at + len, format!("heal {na} {nb}")));
        }
        self
    }

    /// Adds a restart of `host` at a time within `within`, down for up to
    /// `max_down`.
    pub fn add_restart(
        &mut self,
        sim: &Sim,
        host: HostId,
        within: Duration,
        max_down: Duration,
    ) -> &mut Self {
        let at = self.time(within);
        let down = self.time(max_down);
        self.lines.push((
            at,
            format!(
                "restart {} for {}ms",
                Self::name(sim, host),
                down.as_millis()
            ),
        ));
        self
    }

    /// Adds a stall of `host`'s readers for 100 ms to `max_len`, within
    /// `within`.
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
        self.lines.push((at, format!("stall {n}")));
        self.lines.push((at + len, format!("resume {n}")));
        self
    }

    /// Adds a latency change between two hosts (1 to 200 ms) within
    /// `within`.
    pub fn add_latency(&mut self, sim: &Sim, a: HostId, b: HostId, within: Duration) -> &mut Self {
        let at = self.time(within);
        let ms = self.rng.gen_range(1..200);
        let (na, nb) = (Self::name(sim, a), Self::name(sim, b));
        self.lines.push((at, format!("latency {na} {nb} {ms}ms")));
        self
    }

    /// Adds a datagram loss change between two hosts (0 to `max` percent)
    /// within `within`.
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
        self.lines.push((at, format!("loss {na} {nb} {p}%")));
        self
    }

    /// Adds a rebinding of `host`'s UDP sockets (see
    /// [`Fault::Rebind`](crate::Fault::Rebind)) at a time between `after`
    /// and `after + within`.
    pub fn add_rebind(
        &mut self,
        sim: &Sim,
        host: HostId,
        after: Duration,
        within: Duration,
    ) -> &mut Self {
        let at = after + self.time(within);
        self.lines
            .push((at, format!("rebind {}", Self::name(sim, host))));
        self
    }

    /// A uniform draw in `range`, for the scenario's own choices.
    pub fn draw(&mut self, range: Range<u64>) -> u64 {
        if range.is_empty() {
            return range.start;
        }
        self.rng.gen_range(range)
    }

    /// The faults drawn so far, in time order, as a script for `sim`.
    pub fn script(&self, sim: &Sim) -> Script {
        let mut lines = self.lines.clone();
        lines.sort_by_key(|(at, _)| *at);
        let text: String = lines
            .iter()
            .map(|(at, what)| format!("at {}us {what}\n", at.as_micros()))
            .collect();
        // The lines are made from the world's own host names.
        Script::parse(sim, &text).unwrap_or_default()
    }
}
