//! `strata endpoints [SCHEME]`: every scheme the driver builds, with each
//! option's default, bounds and meaning, generated from the scheme
//! registry (`strata_tokio::registry()`), so it cannot drift from what the
//! parser accepts. The grammar itself is in `docs/endpoints.md`.

use std::fmt::Write as _;
use std::process::ExitCode;

use strata::endpoint::{Family, SchemeKind, SchemeRegistry, SchemeSpec, TargetKind, ANY_OPTION};

/// The arguments of `strata endpoints`.
#[derive(Debug, clap::Args)]
pub struct EndpointsArgs {
    /// Show this scheme only (e.g. proxy, tls, reliable).
    pub scheme: Option<String>,
}

/// What a chain of schemes looks like, with examples.
const HEADER: &str = "\
Endpoint strings: layers+transport://target?layer.key=value&... (docs/endpoints.md)
  e.g. tcp://127.0.0.1:8080  tls+tcp://[::1]:8443?tls.alpn=h2  unix:///run/app.sock
       reliable+udp://0.0.0.0:9000  proxy+tcp://0.0.0.0:8080?proxy.versions=2
";

/// The listing of every scheme of `reg` (or the one named `only`).
///
/// ```
/// let text = strata_cli::endpoints::render(&strata_tokio::registry(), Some("proxy")).unwrap();
/// assert!(text.contains("proxy.timeout"));
/// assert!(text.contains("default: 10000"));
/// assert!(strata_cli::endpoints::render(&strata_tokio::registry(), Some("nope")).is_none());
/// ```
pub fn render(reg: &SchemeRegistry, only: Option<&str>) -> Option<String> {
    let mut out = String::new();
    let mut found = false;
    if only.is_none() {
        out.push_str(HEADER);
    }
    for s in reg.schemes().filter(|s| only.is_none_or(|o| o == s.name)) {
        found = true;
        scheme(&mut out, s);
    }
    found.then_some(out)
}

fn family(f: Family) -> &'static str {
    match f {
        Family::Stream => "a stream",
        Family::Datagram => "datagrams",
    }
}

fn scheme(out: &mut String, s: &SchemeSpec) {
    let kind = match s.kind {
        SchemeKind::Transport { family: f, target } => {
            let t = match target {
                TargetKind::HostPort => "host:port",
                TargetKind::Path => "an absolute path",
            };
            format!("transport to {t}; gives {}", family(f))
        }
        SchemeKind::Layer { below, above } => {
            format!("layer: gives {} over {}", family(above), family(below))
        }
        SchemeKind::Mapping { above } => {
            format!(
                "mapping: gives {} over a stream or datagrams",
                family(above)
            )
        }
    };
    // Writing to a String cannot fail.
    let _ = writeln!(out, "\n{}  ({kind})", s.name);
    if s.options.is_empty() {
        out.push_str("  no options\n");
    }
    for key in s.options {
        if *key == ANY_OPTION {
            out.push_str("  any option (the layer checks its own)\n");
            continue;
        }
        let help = s.help_for(key);
        let bounds = match (s.value_rule(key), help) {
            (Some(rule), _) => rule.to_string(),
            (None, Some(h)) if !h.bounds.is_empty() => h.bounds.to_owned(),
            _ => "checked by the layer".to_owned(),
        };
        let default = help.map_or("(undocumented)", |h| h.default);
        let _ = writeln!(out, "  {}.{key}", s.name);
        let _ = writeln!(out, "      default: {default}");
        let _ = writeln!(out, "      values:  {bounds}");
        if let Some(h) = help {
            let _ = writeln!(out, "      {}", h.about);
        }
    }
}

/// Runs `strata endpoints`: prints the listing; exit status 2 for an
/// unknown scheme.
pub fn run(args: EndpointsArgs) -> ExitCode {
    let reg = strata_tokio::registry();
    match render(&reg, args.scheme.as_deref()) {
        Some(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        None => {
            let names: Vec<_> = reg.schemes().map(|s| s.name).collect();
            eprintln!(
                "strata: unknown scheme {:?} (known: {})",
                args.scheme.unwrap_or_default(),
                names.join(", ")
            );
            ExitCode::from(2)
        }
    }
}
