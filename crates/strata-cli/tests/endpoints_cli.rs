//! `strata endpoints`: generated from the registry, it lists every scheme
//! and every option with its default and bounds.

use std::process::Command;

use strata_cli::endpoints::render;

#[test]
fn every_option_of_the_registry_appears_with_its_default_and_bounds() {
    let reg = strata_tokio::registry();
    let text = render(&reg, None).unwrap();
    for s in reg.schemes() {
        assert!(text.contains(&format!("\n{}  (", s.name)), "{}", s.name);
        let section = render(&reg, Some(s.name)).unwrap();
        for key in s.options {
            let at = section
                .find(&format!("  {}.{key}\n", s.name))
                .unwrap_or_else(|| panic!("{}.{key} missing:\n{section}", s.name));
            let entry = &section[at..];
            let help = s.help_for(key).unwrap();
            assert!(entry.contains(&format!("default: {}", help.default)));
            let bounds = s
                .value_rule(key)
                .map_or(help.bounds.to_owned(), |r| r.to_string());
            assert!(entry.contains(&format!("values:  {bounds}")), "{entry}");
            assert!(!entry.contains("(undocumented)"), "{entry}");
        }
    }
}

#[test]
fn the_command_prints_the_listing_and_refuses_an_unknown_scheme() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["endpoints", "proxy"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("proxy.versions"), "{text}");
    assert!(text.contains("values:  one of 1, 2, 1,2, 2,1"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["endpoints", "sctp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scheme \"sctp\""));
}
