//! Faults, and fault scripts: one line per fault, in the spirit of Jepsen's
//! nemesis.
//!
//! ```text
//! at 2s partition client server
//! at 5s heal client server
//! at 3s restart server for 500ms
//! at 1s latency client server 200ms
//! at 1s loss client server 5%
//! at 0s skew server +2s
//! at 4s stall client
//! at 8s resume client
//! at 9s rebind client
//! ```
//!
//! Times are virtual and count from when the script is given
//! ([`Sim::script`]). Hosts are named as in [`Sim::add_host`]. A script
//! prints back as it was read ([`Script`]'s `Display`), so a failing run
//! can print the schedule it ran and a shrinker can drop lines of it.

use std::fmt;
use std::time::Duration;

use strata::testing::Loss;

use crate::error::SimError;
use crate::world::{pair, EvKind, HostId, Sim};

/// One fault, applied at once by [`Sim::apply`] or at a time by a
/// [`Script`].
///
/// ```
/// use strata_sim::{Fault, HostId};
/// let f = Fault::Partition(HostId(0), HostId(1));
/// assert!(matches!(f, Fault::Partition(..)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Nothing passes between the two hosts (bytes of open connections
    /// wait, up to the link's [user timeout](crate::Link::user_timeout);
    /// datagrams are dropped) until a heal.
    Partition(HostId, HostId),
    /// The partition between the two hosts ends: waiting bytes move on.
    Heal(HostId, HostId),
    /// The host restarts: every socket of it vanishes without a word to
    /// the peers (they get a reset when they next send), its listeners
    /// close, and it boots again after `down`.
    Restart {
        /// The host.
        host: HostId,
        /// How long it is down.
        down: Duration,
    },
    /// The one-way latency between two hosts changes.
    Latency(HostId, HostId, Duration),
    /// The datagram loss between two hosts changes (a fraction, 0 to 1).
    Loss(HostId, HostId, f64),
    /// The host's clock runs this many nanoseconds ahead of the world's
    /// (negative: behind), for its stream stacks and its UDP sockets
    /// alike, those open and those opened later: each reads the world's
    /// time plus the offset, and its timers are scheduled back on the
    /// world's time. An offset, not a rate: a timer of one second lasts
    /// one second of the world's time. Pending timers move with a change;
    /// a stack's clock never runs backward (lowered, it stands still
    /// until the world's catches up).
    Skew(HostId, i64),
    /// The host's applications stop reading: what arrives waits in the
    /// kernel until the window closes.
    Stall(HostId),
    /// They read again.
    Resume(HostId),
    /// Every UDP socket of the host moves to a new port (a NAT that
    /// rebinds): its peers see datagrams from a new address.
    Rebind(HostId),
}

/// A fault script: faults at virtual times.
///
/// ```
/// use std::time::Duration;
/// let mut sim = strata_sim::Sim::new(1);
/// sim.add_host("a", "10.0.0.1".parse().unwrap());
/// sim.add_host("b", "10.0.0.2".parse().unwrap());
/// let s = strata_sim::Script::parse(&sim, "at 1s partition a b\nat 2500ms heal a b").unwrap();
/// assert_eq!(s.len(), 2);
/// assert_eq!(s.to_string(), "at 1s partition a b\nat 2.5s heal a b\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    /// The lines: when, what, and the line's text with host names.
    pub lines: Vec<ScriptLine>,
}

/// One line of a [`Script`].
///
/// ```
/// use std::time::Duration;
/// use strata_sim::{Fault, Script, Sim};
/// let mut sim = Sim::new(1);
/// let db = sim.add_host("db", "10.0.0.5".parse().unwrap());
/// let s = Script::parse(&sim, "at 1.5s restart db for 200ms").unwrap();
/// let line = &s.lines[0];
/// assert_eq!(line.at, Duration::from_millis(1500));
/// assert_eq!(line.fault, Fault::Restart { host: db, down: Duration::from_millis(200) });
/// assert_eq!(line.text, "restart db for 200ms");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptLine {
    /// When, from the script's start.
    pub at: Duration,
    /// What.
    pub fault: Fault,
    /// The fault as written, host names included (without `at T`).
    pub text: String,
}

impl Script {
    /// Parses a script against the hosts of `sim`. Blank lines and lines
    /// starting with `#` are skipped. An error names the line (from 1) and
    /// what is wrong with it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata_sim::{Fault, Script, Sim};
    /// let mut sim = Sim::new(1);
    /// let c = sim.add_host("client", "10.0.0.1".parse().unwrap());
    /// let s = sim.add_host("server", "10.0.0.2".parse().unwrap());
    /// let script = Script::parse(&sim, "
    ///     ## a slow, lossy minute
    ///     at 0 latency client server 150ms
    ///     at 10s loss client server 2%
    ///     at 30s skew server -500ms
    /// ").unwrap();
    /// assert_eq!(script.lines[0].fault, Fault::Latency(c, s, Duration::from_millis(150)));
    /// assert_eq!(script.lines[1].fault, Fault::Loss(c, s, 0.02));
    /// assert_eq!(script.lines[2].fault, Fault::Skew(s, -500_000_000));
    ///
    /// let err = Script::parse(&sim, "at 1s partition client\nat 2s heal client server").unwrap_err();
    /// assert_eq!(err.to_string(), "fault script line 1: `partition` needs a host");
    /// ```
    pub fn parse(sim: &Sim, text: &str) -> Result<Script, SimError> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let err = |why: String| SimError::Script { line: i + 1, why };
            let words: Vec<&str> = l.split_whitespace().collect();
            if words.len() < 3 || words[0] != "at" {
                return Err(err(format!("expected `at TIME FAULT ...`, got `{l}`")));
            }
            let at = parse_duration(words[1]).map_err(err)?;
            let host = |w: Option<&&str>| -> Result<HostId, SimError> {
                let name = w.ok_or_else(|| err(format!("`{}` needs a host", words[2])))?;
                sim.host_named(name)
                    .ok_or_else(|| err(format!("no host is named {name}")))
            };
            let fault = match words[2] {
                "partition" => Fault::Partition(host(words.get(3))?, host(words.get(4))?),
                "heal" => Fault::Heal(host(words.get(3))?, host(words.get(4))?),
                "restart" => {
                    let h = host(words.get(3))?;
                    let down = match (words.get(4), words.get(5)) {
                        (Some(&"for"), Some(d)) => parse_duration(d).map_err(err)?,
                        (None, _) => Duration::ZERO,
                        _ => return Err(err("expected `restart HOST [for TIME]`".into())),
                    };
                    Fault::Restart { host: h, down }
                }
                "latency" => {
                    let (a, b) = (host(words.get(3))?, host(words.get(4))?);
                    let d = words
                        .get(5)
                        .ok_or_else(|| err("latency needs a time".into()))?;
                    Fault::Latency(a, b, parse_duration(d).map_err(err)?)
                }
                "loss" => {
                    let (a, b) = (host(words.get(3))?, host(words.get(4))?);
                    let p = words
                        .get(5)
                        .ok_or_else(|| err("loss needs a rate".into()))?;
                    Fault::Loss(a, b, parse_rate(p).map_err(err)?)
                }
                "skew" => {
                    let h = host(words.get(3))?;
                    let s = words
                        .get(4)
                        .ok_or_else(|| err("skew needs +TIME or -TIME".into()))?;
                    let (neg, rest) = match s.as_bytes().first() {
                        Some(b'-') => (true, &s[1..]),
                        Some(b'+') => (false, &s[1..]),
                        _ => (false, *s),
                    };
                    let d = parse_duration(rest).map_err(err)?;
                    let ns =
                        i64::try_from(d.as_nanos()).map_err(|_| err("skew too large".into()))?;
                    Fault::Skew(h, if neg { -ns } else { ns })
                }
                "stall" => Fault::Stall(host(words.get(3))?),
                "resume" => Fault::Resume(host(words.get(3))?),
                "rebind" => Fault::Rebind(host(words.get(3))?),
                other => return Err(err(format!("unknown fault `{other}`"))),
            };
            lines.push(ScriptLine {
                at,
                fault,
                text: words[2..].join(" "),
            });
        }
        Ok(Script { lines })
    }

    /// How many lines.
    ///
    /// ```
    /// # let mut sim = strata_sim::Sim::new(1);
    /// # sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let s = strata_sim::Script::parse(&sim, "# comments do not count\nat 1s stall a\n\nat 2s resume a").unwrap();
    /// assert_eq!(s.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True with no lines.
    ///
    /// ```
    /// let sim = strata_sim::Sim::new(1);
    /// assert!(strata_sim::Script::parse(&sim, "# nothing yet\n").unwrap().is_empty());
    /// assert!(strata_sim::Script::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The script without line `i`.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let s = strata_sim::Script::parse(&sim, "at 1s stall a\nat 2s resume a").unwrap();
    /// assert_eq!(s.without(0).to_string(), "at 2s resume a\n");
    /// ```
    pub fn without(&self, i: usize) -> Script {
        let mut s = self.clone();
        if i < s.lines.len() {
            s.lines.remove(i);
        }
        s
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(f, "at {} {}", fmt_duration(l.at), l.text)?;
        }
        Ok(())
    }
}

/// `1s`, `250ms`, `2.5s`, `10us`, `0`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a time (like 2s, 250ms, 1.5s)");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => return Err(bad()),
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        _ => return Err(bad()),
    };
    let secs = v * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `5%` or `0.05`.
fn parse_rate(s: &str) -> Result<f64, String> {
    let bad = || format!("`{s}` is not a rate (like 5% or 0.05)");
    let v = match s.strip_suffix('%') {
        Some(p) => p.parse::<f64>().map_err(|_| bad())? / 100.0,
        None => s.parse::<f64>().map_err(|_| bad())?,
    };
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(bad())
    }
}

/// The shortest form `parse_duration` reads back.
fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0".into()
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) && ns < 1_000_000_000 {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}s", d.as_secs_f64())
    } else if ns.is_multiple_of(1000) {
        format!("{}us", ns / 1000)
    } else {
        format!("{ns}ns")
    }
}

impl Sim {
    /// Schedules every line of `script`, its times counted from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default());
    /// let s = strata_sim::Script::parse(&sim, "at 1s partition a b").unwrap();
    /// sim.script(&s);
    /// sim.run(Duration::from_secs(2));
    /// assert!(sim.is_partitioned(a, b));
    /// ```
    pub fn script(&mut self, script: &Script) {
        for l in &script.lines {
            self.schedule(self.now + l.at, EvKind::Fault(l.fault.clone()));
        }
    }

    /// Whether two hosts are partitioned (either way round).
    ///
    /// ```
    /// use strata_sim::Fault;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// let b = sim.add_host("b", "10.0.0.2".parse().unwrap());
    /// sim.link(a, b, strata_sim::Link::default());
    /// sim.apply(Fault::Partition(a, b));
    /// assert!(sim.is_partitioned(b, a));
    /// sim.apply(Fault::Heal(b, a));
    /// assert!(!sim.is_partitioned(a, b));
    /// ```
    pub fn is_partitioned(&self, a: HostId, b: HostId) -> bool {
        self.links.get(&pair(a, b)).is_some_and(|l| l.partitioned)
    }

    /// Applies `fault` now.
    ///
    /// ```
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// sim.apply(strata_sim::Fault::Stall(a));
    /// assert!(sim.is_stalled(a));
    /// sim.apply(strata_sim::Fault::Resume(a));
    /// assert!(!sim.is_stalled(a));
    /// ```
    pub fn apply(&mut self, fault: Fault) {
        self.trace_line(format_args!("fault {fault:?}"));
        match fault {
            Fault::Partition(a, b) => {
                if let Some(l) = self.links.get_mut(&pair(a, b)) {
                    l.partitioned = true;
                }
                let key = pair(self.host_ip(a), self.host_ip(b));
                self.cut
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key);
            }
            Fault::Heal(a, b) => {
                let key = pair(a, b);
                if let Some(l) = self.links.get_mut(&key) {
                    l.partitioned = false;
                }
                let ips = pair(self.host_ip(a), self.host_ip(b));
                self.cut
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&ips);
                self.release(key);
            }
            Fault::Restart { host, down } => {
                self.drop_host_streams(host);
                self.drop_host_datagrams(host);
                let h = &mut self.hosts[host.0 as usize];
                h.listeners.clear();
                h.up = false;
                self.schedule(self.now + down, EvKind::Boot { host });
            }
            Fault::Latency(a, b, d) => {
                if let Some(l) = self.links.get_mut(&pair(a, b)) {
                    l.cfg = l.cfg.clone().latency(d);
                }
                self.relink_udp(a, b);
            }
            Fault::Loss(a, b, p) => {
                if let Some(l) = self.links.get_mut(&pair(a, b)) {
                    l.cfg.datagram.loss = Loss::Random(p);
                }
                self.relink_udp(a, b);
            }
            Fault::Skew(h, ns) => {
                self.hosts[h.0 as usize].skew_ns = ns;
                self.retime_host(h);
                // Its UDP sockets, now and later, read the same clock.
                let ip = self.host_ip(h);
                self.udp.set_skew(ip, ns);
            }
            Fault::Stall(h) => self.hosts[h.0 as usize].stalled = true,
            Fault::Resume(h) => {
                self.hosts[h.0 as usize].stalled = false;
                self.service_host(h);
            }
            Fault::Rebind(h) => {
                let ip = self.host_ip(h);
                for node in self.hosts[h.0 as usize].udp_nodes.clone() {
                    let port = self.free_port(h);
                    self.rebind_udp(node, std::net::SocketAddr::new(ip, port));
                }
            }
        }
    }

    /// Whether the host's applications stopped reading.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut sim = strata_sim::Sim::new(1);
    /// let a = sim.add_host("a", "10.0.0.1".parse().unwrap());
    /// sim.script(&strata_sim::Script::parse(&sim, "at 1s stall a\nat 2s resume a").unwrap());
    /// assert!(!sim.is_stalled(a));
    /// sim.advance(Duration::from_millis(1500));
    /// assert!(sim.is_stalled(a));
    /// sim.advance(Duration::from_secs(1));
    /// assert!(!sim.is_stalled(a));
    /// ```
    pub fn is_stalled(&self, host: HostId) -> bool {
        self.hosts[host.0 as usize].stalled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_back_as_they_parse() {
        for s in ["0", "1s", "250ms", "2.5s", "10us", "7ns", "90s"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&fmt_duration(d)).unwrap(), d, "{s}");
        }
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1parsec").is_err());
    }

    #[test]
    fn a_bad_line_names_its_number_and_what_is_wrong() {
        let mut sim = Sim::new(1);
        sim.add_host("a", "10.0.0.1".parse().unwrap());
        let e = Script::parse(&sim, "at 1s stall a\n\nat 2s explode a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "fault script line 3: unknown fault `explode`"
        );
        let e = Script::parse(&sim, "at 1s partition a zz").unwrap_err();
        assert_eq!(e.to_string(), "fault script line 1: no host is named zz");
        let e = Script::parse(&sim, "at 1s loss a a 150%").unwrap_err();
        assert!(e.to_string().contains("is not a rate"), "{e}");
    }
}
