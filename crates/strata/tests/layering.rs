//! The core names no layer, and no layer names a sibling (issue 10, point 2;
//! DESIGN.md, "Rules added after the first four capabilities").
//!
//! This test reads `crates/strata/src` and resolves every module path that
//! starts with `crate::`, `$crate::`, `self::` or `super::` (grouped imports
//! included) to the top-level module it names. Then:
//!
//! * a **core** file (a top-level file of `src/`, and the core folders
//!   `testing/` and `endpoint/`) may name no layer;
//! * a file of a **layer** folder (`framing/`, `tls/`, `http/`, `reliable/`,
//!   and `quic/` when it lands) may name its own layer and the core, never a
//!   sibling layer: layers meet through core types (an `AppProtocol`
//!   capability, a `LayerError` in a `Close`, a `Control` request).
//!
//! What the core folders are: `testing/` is the public test kit, sans-IO
//! like the rest of the core; layers' unit tests use it (`crate::testing`),
//! which is allowed, and it names no layer. `endpoint/` is the endpoint
//! grammar and the scheme registry's types; it names layers only as scheme
//! and option *strings* (`"tls"`, `"reliable"`), never as modules, which is
//! not a code dependency. `lib.rs` declares every module (`pub mod http;`);
//! only its `use` items are checked.
//!
//! Comments and string literals are not read as code: a doc example is
//! written as a user would and may build any stack. Doc comments are read for
//! their intra-doc links only (`[`Tls`](crate::tls::Tls)`): a core contract
//! whose documentation links a layer names it too. Paths without a
//! `crate`/`self`/`super` prefix are external crates (`http::StatusCode` is
//! the `http` crate, not `crate::http`).
//!
//! Set `LAYERING_SRC` to check another tree (e.g. an old checkout).

use std::path::{Path, PathBuf};

/// The layer folders.
const LAYERS: &[&str] = &[
    "framing",
    "tls",
    "http",
    "reliable",
    "quic",
    "proxy_protocol",
];

/// Known debts: (file path relative to `src/`, layer it may name, the issue
/// point that removes it). Keep it as short as it is.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "quic/testing.rs",
        "tls",
        "a test-kit helper (QuicPair, for the QUIC examples) builds both ends' TLS with the tls layer's builders and a self-signed identity; not a dependency of the QUIC layer itself",
    ),
    (
    "http/h3/quic_api.rs",
    "quic",
    "issue 11, point 3: HTTP/3 is a QuicApp (API11 §4); gone once the connection-application contract (QuicApp, QuicConnection) is a core type",
    ),
];

#[test]
fn the_core_names_no_layer_and_no_layer_names_a_sibling() {
    let src = std::env::var_os("LAYERING_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut files = Vec::new();
    collect(&src, &mut files);
    assert!(files.len() > 50, "read {} files under {src:?}", files.len());
    let mut found = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(f).unwrap();
        for v in violations(&rel, &text) {
            if !ALLOWED.iter().any(|(p, l, _)| *p == rel && *l == v.named) {
                found.push(v.to_string());
            }
        }
    }
    assert!(
        found.is_empty(),
        "layering broken (the core names no layer; layers meet through core types):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_core_doc_link_to_a_layer_fails() {
    let src = "/// Answered by [`Tls`](crate::tls::Tls).\npub struct Agreed;\n";
    let v = violations("introspect.rs", src);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].line, v[0].named.as_str(), v[0].core),
        (1, "tls", true)
    );
    // A link inside its own layer, or to a core item, is fine.
    let own = "//! See [`Tls`](crate::tls::Tls) and [`Close`](crate::Close).\n";
    assert!(violations("tls/layer.rs", own).is_empty());
}

#[test]
fn a_core_file_naming_a_layer_fails() {
    let src = "pub enum AbortReason {\n    Http2(crate::http::h2::H2Error),\n}\n";
    let v = violations("close.rs", src);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].named, "http");
    assert_eq!(v[0].line, 2);
    assert_eq!(v[0].to_string(), "close.rs:2: core file names layer `http`");
}

#[test]
fn a_layer_naming_a_sibling_fails_whatever_the_path_form() {
    let cases = [
        ("http/client.rs", "use crate::tls::TlsInfo;"),
        ("http/client.rs", "use crate::{Close, tls::{TlsInfo}};"),
        (
            "http/h1/client.rs",
            "use super::super::super::tls::TlsInfo;",
        ),
        ("http/mod.rs", "use super::reliable::Reliable;"),
        (
            "tls/view.rs",
            "fn f() -> Option<crate::http::HttpVersion> { None }",
        ),
        (
            "framing/lines.rs",
            "macro_rules! m { () => { $crate::reliable::X } }",
        ),
        ("testing/pump.rs", "use crate::tls::Tls;"),
        ("lib.rs", "pub use http::HttpServer;"),
    ];
    for (file, src) in cases {
        let v = violations(file, src);
        assert_eq!(v.len(), 1, "{file}: {src}: {v:?}");
    }
}

#[test]
fn own_layer_core_comments_strings_and_external_crates_pass() {
    let cases = [
        (
            "http/h2/conn/recv.rs",
            "use crate::http::h2::error::h2_close;",
        ),
        (
            "http/h2/conn/recv.rs",
            "use super::super::frame::ErrorCode;",
        ),
        (
            "reliable/conn/tests.rs",
            "fn now() { crate::testing::epoch() }",
        ),
        ("tls/error.rs", "use crate::{Fault, LayerError};"),
        ("http/h1/error.rs", "use http::StatusCode;"),
        (
            "close.rs",
            "// crate::tls\n/* crate::http /* nested */ crate::reliable */ fn f() {}",
        ),
        (
            "close.rs",
            "const S: &str = \"crate::http\"; const R: &str = r#\"crate::tls\"#;",
        ),
        ("close.rs", "fn f<'a>(x: &'a str) -> char { '\"' }"),
        ("lib.rs", "pub mod http;\npub use close::Close;"),
    ];
    for (file, src) in cases {
        let v = violations(file, src);
        assert!(v.is_empty(), "{file}: {src}: {v:?}");
    }
}

/// One forbidden name.
#[derive(Debug)]
struct Violation {
    file: String,
    line: usize,
    named: String,
    core: bool,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.core {
            write!(
                f,
                "{}:{}: core file names layer `{}`",
                self.file, self.line, self.named
            )
        } else {
            write!(
                f,
                "{}:{}: names sibling layer `{}`",
                self.file, self.line, self.named
            )
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file relative to `src/` (`http/h2/conn/recv.rs` is
/// `http::h2::conn::recv`, `http/mod.rs` is `http`, `lib.rs` the root).
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every layer `text` (the file `rel`) names and may not.
fn violations(rel: &str, text: &str) -> Vec<Violation> {
    let module = module_of(rel);
    let own = module.first().filter(|m| LAYERS.contains(&m.as_str()));
    let toks = tokens(&strip(text));
    let mut out = Vec::new();
    let mut push = |named: &str, line: usize| {
        if LAYERS.contains(&named) && Some(&named.to_string()) != own {
            out.push(Violation {
                file: rel.to_string(),
                line,
                named: named.to_string(),
                core: own.is_none(),
            });
        }
    };
    // Intra-doc links: every `crate::name` in a doc comment.
    for (n, l) in text.lines().enumerate() {
        let l = l.trim_start();
        if !(l.starts_with("///") || l.starts_with("//!")) {
            continue;
        }
        for (at, _) in l.match_indices("crate::") {
            let name: String = l[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            push(&name, n + 1);
        }
    }
    for i in 0..toks.len() {
        let (t, line) = (&toks[i].0, toks[i].1);
        let starts_path = i == 0 || toks[i - 1].0 != "::";
        // The crate root's own `use` items name modules without a prefix.
        if module.is_empty() && t == "use" {
            for name in first_segments(&toks, i + 1) {
                push(&name, line);
            }
            continue;
        }
        if !starts_path || !matches!(t.as_str(), "crate" | "self" | "super") {
            continue;
        }
        let mut base: Vec<String> = match t.as_str() {
            "crate" => Vec::new(),
            "self" => module.clone(),
            _ => module[..module.len().saturating_sub(1)].to_vec(),
        };
        let mut j = i + 1;
        while toks.get(j).is_some_and(|t| t.0 == "::")
            && toks.get(j + 1).is_some_and(|t| t.0 == "super")
        {
            base.pop();
            j += 2;
        }
        if toks.get(j).is_none_or(|t| t.0 != "::") {
            continue;
        }
        if let Some(first) = base.first() {
            push(first, line);
        } else {
            for name in first_segments(&toks, j + 1) {
                push(&name, line);
            }
        }
    }
    out
}

/// The first segment of each path at `toks[at]`: one name, or the first
/// name of each item of a `{ .. }` group.
fn first_segments(toks: &[(String, usize)], at: usize) -> Vec<String> {
    let Some(t) = toks.get(at) else {
        return Vec::new();
    };
    if t.0 != "{" {
        return vec![t.0.clone()];
    }
    let mut names = Vec::new();
    let mut depth = 0;
    let mut expect = true;
    for t in &toks[at..] {
        match t.0.as_str() {
            "{" => {
                depth += 1;
                expect = depth == 1;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect = true,
            name if expect => {
                names.push(name.to_string());
                expect = false;
            }
            _ => {}
        }
    }
    names
}

/// Identifiers, `::`, braces and commas, with their line; anything else is
/// one-character punctuation.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let cs: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < cs.len() {
        let c = cs[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let s = i;
            while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            out.push((cs[s..i].iter().collect(), line));
        } else if c == ':' && cs.get(i + 1) == Some(&':') {
            out.push(("::".into(), line));
            i += 2;
        } else {
            out.push((c.to_string(), line));
            i += 1;
        }
    }
    out
}

/// `text` without comments, string and char literals (their newlines
/// kept, so lines still count).
fn strip(text: &str) -> String {
    let cs: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep_lines = |out: &mut String, from: &[char]| {
        out.extend(from.iter().filter(|&&c| c == '\n'));
    };
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < cs.len() && cs[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let (s, mut depth) = (i, 0);
            while i < cs.len() {
                if cs[i] == '/' && cs.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if cs[i] == '*' && cs.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            keep_lines(&mut out, &cs[s..i]);
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_start(&cs, i) {
            let s = i;
            i += 1;
            let mut hashes = 0;
            while cs[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1; // the opening quote
            while i < cs.len() {
                if cs[i] == '"' && (1..=hashes).all(|k| cs.get(i + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
            keep_lines(&mut out, &cs[s..i]);
        } else if c == '"' {
            let s = i;
            i += 1;
            while i < cs.len() && cs[i] != '"' {
                i += if cs[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
            keep_lines(&mut out, &cs[s..i.min(cs.len())]);
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < cs.len() && cs[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && cs.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the `r` at `i` opens a raw string (`r"`, `r#"`), not an
/// identifier ending in `r` or a raw identifier (`r#type`).
fn raw_start(cs: &[char], i: usize) -> bool {
    if i > 0 && (cs[i - 1].is_alphanumeric() || cs[i - 1] == '_') {
        // `br"..."` is a raw byte string; `for"` cannot occur.
        if !(cs[i - 1] == 'b' && (i < 2 || !(cs[i - 2].is_alphanumeric() || cs[i - 2] == '_'))) {
            return false;
        }
    }
    let mut j = i + 1;
    while cs.get(j) == Some(&'#') {
        j += 1;
    }
    cs.get(j) == Some(&'"')
}
