//! HPACK (RFC 7541) against the hpack-test-case corpus.
//!
//! `tests/data/hpack-test-case/` vendors part of the corpus (MIT licence,
//! see its LICENSE and README): stories 00-19 (requests), 24, 26 and 31
//! (responses, with heavy table churn) of the raw header lists
//! (`raw-data`) and of four encoders' outputs (`go-hpack`, `nghttp2`,
//! `nghttp2-change-table-size`, `python-hpack`). Each story is a sequence
//! of header blocks sharing one compression context; a case's
//! `header_table_size` is the SETTINGS_HEADER_TABLE_SIZE acknowledged just
//! before it.
//!
//! The tests decode every encoder's blocks, round-trip every header list
//! through our encoder and decoder (and through fluke-hpack's decoder),
//! decode fluke-hpack's encoding, and feed blocks in fragments cut at every
//! byte boundary.

use std::path::{Path, PathBuf};

use serde_json::Value;
use strata::http::hpack::{Decoder, Encoder, HpackError};

/// The encoders whose output we decode.
const ENCODERS: [&str; 4] = [
    "go-hpack",
    "nghttp2",
    "nghttp2-change-table-size",
    "python-hpack",
];

/// A budget no corpus block reaches.
const BUDGET: usize = 1 << 20;

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

struct Case {
    table_size: Option<usize>,
    wire: Vec<u8>,
    headers: Headers,
}

struct Story {
    name: String,
    cases: Vec<Case>,
}

fn corpus_dir(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hpack-test-case")
        .join(dir)
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn stories(dir: &str) -> Vec<Story> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir(dir))
        .expect("corpus directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 22, "{dir}: only {} stories", paths.len());
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("story file");
            let json: Value = serde_json::from_str(&text).expect("story JSON");
            let cases = json["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .map(|c| Case {
                    table_size: c["header_table_size"]
                        .as_u64()
                        .map(|n| usize::try_from(n).expect("table size")),
                    wire: c["wire"].as_str().map(hex).unwrap_or_default(),
                    headers: c["headers"]
                        .as_array()
                        .expect("headers")
                        .iter()
                        .flat_map(|h| h.as_object().expect("header object"))
                        .map(|(n, v)| {
                            let v = v.as_str().expect("header value");
                            (n.as_bytes().to_vec(), v.as_bytes().to_vec())
                        })
                        .collect(),
                })
                .collect();
            Story {
                name: format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                cases,
            }
        })
        .collect()
}

/// Decodes a block given as fragments; returns the fields.
fn decode<'a>(
    dec: &mut Decoder,
    fragments: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Headers, HpackError> {
    let mut out = Vec::new();
    dec.begin_block(BUDGET);
    let mut fragments = fragments.into_iter().peekable();
    let mut emit = |n: &[u8], v: &[u8], _: bool| out.push((n.to_vec(), v.to_vec()));
    if fragments.peek().is_none() {
        dec.decode_fragment(&[], true, &mut emit)?;
    }
    while let Some(f) = fragments.next() {
        dec.decode_fragment(f, fragments.peek().is_none(), &mut emit)?;
    }
    Ok(out)
}

/// Replays a story's encoded cases through one decoder, each block cut by
/// `cut` into fragments.
fn replay(story: &Story, cut: impl Fn(&[u8]) -> Vec<&[u8]>) {
    let mut dec = Decoder::new(4096);
    for (i, case) in story.cases.iter().enumerate() {
        if let Some(size) = case.table_size {
            dec.set_max_table_size(size);
        }
        let got = decode(&mut dec, cut(&case.wire))
            .unwrap_or_else(|e| panic!("{} case {i}: {e}", story.name));
        assert_eq!(got, case.headers, "{} case {i}", story.name);
    }
}

#[test]
fn decodes_every_encoders_stories() {
    let mut cases = 0;
    for dir in ENCODERS {
        for story in stories(dir) {
            replay(&story, |wire| vec![wire]);
            cases += story.cases.len();
        }
    }
    assert!(cases > 1600, "only {cases} cases");
}

#[test]
fn decodes_every_story_one_byte_at_a_time() {
    for dir in ENCODERS {
        for story in stories(dir) {
            replay(&story, |wire| wire.chunks(1).collect());
        }
    }
}

#[test]
fn decodes_in_fragments_cut_at_every_boundary() {
    // A sample: in two stories of requests and two of responses (the second
    // with heavy eviction), every third block (and the first three) cut in
    // two at every byte, and in three around every short middle piece.
    let mut blocks = 0;
    for dir in ENCODERS {
        let all = stories(dir);
        for story in [&all[0], &all[5], &all[20], &all[21]] {
            let mut dec = Decoder::new(4096);
            for (i, case) in story.cases.iter().enumerate() {
                if let Some(size) = case.table_size {
                    dec.set_max_table_size(size);
                }
                let wire = &case.wire[..];
                let cuts = if i < 3 || i % 3 == 0 {
                    wire.len() + 1
                } else {
                    0
                };
                for cut in 0..cuts {
                    let cut2 = (cut + 3).min(wire.len());
                    for fragments in [
                        vec![&wire[..cut], &wire[cut..]],
                        vec![&wire[..cut], &wire[cut..cut2], &wire[cut2..]],
                    ] {
                        let got = decode(&mut dec.clone(), fragments)
                            .unwrap_or_else(|e| panic!("{} case {i} cut {cut}: {e}", story.name));
                        assert_eq!(got, case.headers, "{} case {i} cut {cut}", story.name);
                    }
                }
                assert_eq!(decode(&mut dec, [wire]).unwrap(), case.headers);
                blocks += usize::from(cuts > 0);
            }
        }
    }
    assert!(blocks > 200, "{blocks}");
}

/// Round-trips every header list of the given stories through our encoder
/// and decoder, honouring table size changes; returns the encoded size.
fn round_trip(dir: &str, fluke: bool) -> usize {
    let mut total = 0;
    for story in stories(dir) {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new(4096);
        let mut other = fluke_hpack::Decoder::new();
        other.set_max_allowed_table_size(4096);
        for (i, case) in story.cases.iter().enumerate() {
            if let Some(size) = case.table_size {
                enc.set_max_table_size(size);
                dec.set_max_table_size(size);
                other.set_max_allowed_table_size(size);
            }
            let mut wire = Vec::new();
            enc.encode(
                case.headers.iter().map(|(n, v)| (&n[..], &v[..], false)),
                &mut wire,
            );
            total += wire.len();
            let got = decode(&mut dec, [&wire[..]])
                .unwrap_or_else(|e| panic!("{} case {i}: {e}", story.name));
            assert_eq!(got, case.headers, "{} case {i}", story.name);
            assert_eq!(
                dec.table_size(),
                enc.table_size(),
                "{} case {i}",
                story.name
            );
            if fluke {
                let theirs = other
                    .decode(&wire)
                    .unwrap_or_else(|e| panic!("fluke-hpack, {} case {i}: {e:?}", story.name));
                assert_eq!(theirs, case.headers, "fluke-hpack, {} case {i}", story.name);
            }
        }
    }
    total
}

#[test]
fn round_trips_every_header_list() {
    let ours = round_trip("raw-data", true);
    // Our encoder should compress about as well as nghttp2's, whose policy
    // it follows.
    let theirs: usize = stories("nghttp2")
        .iter()
        .flat_map(|s| &s.cases)
        .map(|c| c.wire.len())
        .sum();
    let raw: usize = stories("raw-data")
        .iter()
        .flat_map(|s| &s.cases)
        .flat_map(|c| &c.headers)
        .map(|(n, v)| n.len() + v.len())
        .sum();
    eprintln!("raw {raw} bytes, ours {ours}, nghttp2 {theirs}");
    assert!(
        ours * 100 <= theirs * 105,
        "ours {ours} vs nghttp2 {theirs}"
    );
}

#[test]
fn round_trips_with_table_size_changes() {
    // The same header lists, with the table shrunk and grown between blocks.
    round_trip("nghttp2-change-table-size", true);
}

#[test]
fn decodes_fluke_hpack_encoding() {
    for story in stories("raw-data") {
        let mut theirs = fluke_hpack::Encoder::new();
        let mut dec = Decoder::new(4096);
        for (i, case) in story.cases.iter().enumerate() {
            let wire = theirs.encode(case.headers.iter().map(|(n, v)| (&n[..], &v[..])));
            let got = decode(&mut dec, wire.chunks(7))
                .unwrap_or_else(|e| panic!("{} case {i}: {e}", story.name));
            assert_eq!(got, case.headers, "{} case {i}", story.name);
        }
    }
}

#[test]
fn budget_errors_keep_the_table_in_sync() {
    // Decode every nghttp2 story with a budget that some blocks exceed: the
    // over-budget blocks fail alone, and every later block still decodes.
    for story in stories("nghttp2") {
        let mut dec = Decoder::new(4096);
        let mut exceeded = 0;
        for case in &story.cases {
            let size: usize = case
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 32)
                .sum();
            let budget = 600;
            dec.begin_block(budget);
            let mut got = Vec::new();
            let r = dec.decode_fragment(&case.wire, true, &mut |n, v, _| {
                got.push((n.to_vec(), v.to_vec()))
            });
            if size > budget {
                exceeded += 1;
                assert_eq!(r, Err(HpackError::HeaderListTooLarge { limit: budget }));
                assert!(got.len() < case.headers.len());
                assert_eq!(got[..], case.headers[..got.len()]);
            } else {
                assert_eq!((r, got), (Ok(()), case.headers.clone()));
            }
        }
        assert!(exceeded > 0 || story.cases.len() < 5, "{}", story.name);
    }
}
