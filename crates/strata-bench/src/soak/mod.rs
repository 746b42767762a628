//! The soak: thousands of well-behaved connections held against the real
//! `strata serve` for a minute, each sending one small request a second,
//! while silent and slowloris sockets push against the same server.
//!
//! * [`client`]: the load generator, a process of its own (`soak client`):
//!   ramps the good connections up, runs the measured window, and prints one
//!   `RESULT` line (plus the hostile sockets' fate);
//! * [`good`]: one well-behaved connection's request loop per target (TCP
//!   echo, TLS echo, HTTP/2 `POST /echo`), every byte checked;
//! * [`hostile`]: silent sockets (connect, never write) and slowloris
//!   clients (one byte every few seconds), reconnecting when shed;
//! * [`run`]: the orchestrator (`soak run`): starts `strata serve` per
//!   target, samples its RSS, runs a client process, and writes the
//!   Markdown summary ([`report`]);
//! * [`args`]: what `soak run` is asked to do, read by [`run`] and
//!   [`report`] (a leaf, so neither imports the other).

pub mod args;
pub mod client;
pub mod good;
pub mod hostile;
pub mod report;
pub mod run;

use std::fmt;
use std::str::FromStr;

/// What the soak loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `strata serve --app echo tcp://...`: 64 B written, 64 B read back.
    Tcp,
    /// `strata serve --app echo tls+tcp://...`: the same over TLS.
    Tls,
    /// `strata serve --app http tcp://...`: HTTP/2 with prior knowledge
    /// (h2c) on the cleartext port, `POST /echo` with a 64 B body.
    H2c,
    /// `strata serve --app http tls+tcp://...`: HTTP/2 over TLS (ALPN h2),
    /// `POST /echo` with a 64 B body.
    H2Tls,
}

impl Target {
    /// Every target, in the order the soak runs them.
    pub const ALL: [Target; 4] = [Target::Tcp, Target::Tls, Target::H2c, Target::H2Tls];

    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Target::Tcp => "tcp",
            Target::Tls => "tls",
            Target::H2c => "h2c",
            Target::H2Tls => "h2tls",
        }
    }

    /// Whether the server's endpoint has a TLS layer.
    pub fn tls(self) -> bool {
        matches!(self, Target::Tls | Target::H2Tls)
    }

    /// Whether the server runs the HTTP demo (else the echo app).
    pub fn http(self) -> bool {
        matches!(self, Target::H2c | Target::H2Tls)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown target {s:?} (tcp, tls, h2c, h2tls)"))
    }
}

/// The request body of connection `conn`'s `k`-th request: `size` bytes
/// that differ between connections and between requests, so an answer sent
/// to the wrong connection or a stale one is caught.
pub fn message(conn: usize, k: u64, size: usize) -> Vec<u8> {
    let seed = (conn as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k.wrapping_mul(0xff51_afd7);
    (0..size)
        .map(|j| (seed.rotate_left((j % 64) as u32) as u8) ^ (j as u8))
        .collect()
}

/// Latency percentiles over every request of a run, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    /// Requests counted.
    pub n: usize,
    /// Median.
    pub p50: u32,
    /// 99th percentile.
    pub p99: u32,
    /// 99.9th percentile.
    pub p999: u32,
    /// The slowest request.
    pub max: u32,
}

impl Percentiles {
    /// Sorts `v` (microseconds) and reads the percentiles off it (nearest
    /// rank). An empty set gives zeros.
    pub fn of(v: &mut [u32]) -> Percentiles {
        if v.is_empty() {
            return Percentiles::default();
        }
        v.sort_unstable();
        let at = |q: f64| v[(((v.len() as f64) * q).ceil() as usize).clamp(1, v.len()) - 1];
        Percentiles {
            n: v.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: v[v.len() - 1],
        }
    }
}

/// Parses `key=value` fields of a line into pairs (values hold no spaces).
pub fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split_ascii_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect()
}

/// The value of `key` in [`fields`], parsed.
pub fn field<T: FromStr>(fs: &[(&str, &str)], key: &str) -> Option<T> {
    fs.iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_between_connections_and_requests() {
        let a = message(1, 0, 64);
        assert_eq!(a.len(), 64);
        assert_ne!(a, message(2, 0, 64));
        assert_ne!(a, message(1, 1, 64));
        assert_eq!(a, message(1, 0, 64));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut v: Vec<u32> = (1..=1000).rev().collect();
        let p = Percentiles::of(&mut v);
        assert_eq!(
            (p.n, p.p50, p.p99, p.p999, p.max),
            (1000, 500, 990, 999, 1000)
        );
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
        assert_eq!(Percentiles::of(&mut [7]).p99, 7);
    }

    #[test]
    fn fields_are_read_by_key() {
        let fs = fields("RESULT ok=12 errors=0 name=tcp junk");
        assert_eq!(field::<u64>(&fs, "ok"), Some(12));
        assert_eq!(field::<String>(&fs, "name").as_deref(), Some("tcp"));
        assert_eq!(field::<u64>(&fs, "missing"), None);
        assert!("h2tls".parse::<Target>().is_ok() && "h3".parse::<Target>().is_err());
    }
}
