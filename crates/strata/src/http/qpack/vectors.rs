//! Interop vectors with ls-qpack, the QPACK library behind aioquic
//! (through pylsqpack; the format and the generator are in
//! `tests/interop/peers/qpack_vectors.py`).
//!
//! * `vectors/pylsqpack.json`: connections encoded by ls-qpack (with its
//!   own decoder acknowledging, so its table fills and evicts), some
//!   sections ahead of their inserts. We decode every one.
//! * `vectors/strata.json`: connections encoded by us, which ls-qpack
//!   decodes (`qpack_vectors.py check`). The test below regenerates them
//!   and compares with the file, so an encoder change shows up here and
//!   the file is re-checked with ls-qpack; `STRATA_WRITE_QPACK_VECTORS=1`
//!   rewrites it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::tests::property::random_fields;
use super::*;

fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("a hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes every case of a vector file; returns (sections, blocked).
fn decode_all(doc: &Value) -> (usize, usize) {
    let (mut sections, mut blocked) = (0, 0);
    for (c, case) in doc["cases"].as_array().expect("cases").iter().enumerate() {
        let cap = case["max_table_capacity"].as_u64().expect("capacity") as usize;
        let streams = case["blocked_streams"].as_u64().expect("blocked") as usize;
        let mut dec = QpackDecoder::new(cap, streams, 1 << 20);
        let mut ds = Vec::new();
        let mut waiting: Vec<(u64, Vec<u8>, Vec<HeaderField>)> = Vec::new();
        for ev in case["events"].as_array().expect("events") {
            if let Some(bytes) = ev.get("encoder") {
                let ready = dec
                    .on_encoder_stream(&unhex(bytes))
                    .expect("encoder stream");
                for id in ready {
                    let i = waiting.iter().position(|w| w.0 == id).expect("was blocked");
                    let (_, section, want) = waiting.remove(i);
                    let got = dec.decode(id, &section, &mut ds);
                    assert_eq!(got, Ok(Decoded::Fields(want)), "case {c} stream {id}");
                    sections += 1;
                }
                continue;
            }
            let s = &ev["section"];
            let id = s["stream"].as_u64().expect("stream");
            let section = unhex(&s["bytes"]);
            let want: Vec<HeaderField> = s["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| HeaderField::new(unhex(&f[0]), unhex(&f[1])))
                .collect();
            match dec.decode(id, &section, &mut ds) {
                Ok(Decoded::Blocked) => {
                    blocked += 1;
                    waiting.push((id, section, want));
                }
                got => {
                    assert_eq!(got, Ok(Decoded::Fields(want)), "case {c} stream {id}");
                    sections += 1;
                }
            }
        }
        assert!(waiting.is_empty(), "case {c}: sections left blocked");
    }
    (sections, blocked)
}

#[test]
fn sections_encoded_by_ls_qpack_decode() {
    let doc: Value =
        serde_json::from_str(include_str!("vectors/pylsqpack.json")).expect("vector file");
    let (sections, blocked) = decode_all(&doc);
    assert_eq!(sections, 440);
    assert!(blocked > 10, "{blocked} blocked sections");
}

/// The property test's random fields, at least one (ls-qpack refuses an
/// empty section, which HTTP/3 never sends) and none over 200 bytes (a
/// smaller file).
fn vector_fields(rng: &mut ChaCha8Rng) -> Vec<HeaderField> {
    loop {
        let mut f = random_fields(rng);
        f.retain(|f| f.value.len() <= 200);
        if !f.is_empty() {
            return f;
        }
    }
}

/// Our vectors: the capacities and blocked-stream limits of
/// `qpack_vectors.py`'s cases, seeded random fields, our decoder
/// acknowledging, a third of the sections sent ahead of their inserts.
fn strata_vectors() -> Value {
    let mut cases = Vec::new();
    for (seed, (cap, streams, n)) in [
        (0usize, 0usize, 20u64),
        (220, 0, 30),
        (220, 4, 30),
        (4096, 16, 100),
        (1024, 2, 100),
        (65536, 16, 60),
    ]
    .into_iter()
    .enumerate()
    {
        let rng = &mut ChaCha8Rng::seed_from_u64(seed as u64);
        let mut enc = QpackEncoder::new(cap);
        let mut dec = QpackDecoder::new(cap, streams, 1 << 20);
        let (mut es, mut ds, mut events) = (Vec::new(), Vec::new(), Vec::new());
        enc.set_peer_settings(cap as u64, streams as u64, &mut es);
        for i in 0..n {
            let id = 4 * i;
            let fields = vector_fields(rng);
            let mut section = Vec::new();
            enc.encode(id, &fields, &mut section, &mut es)
                .expect("encode");
            let ev = json!({"section": {
                "stream": id,
                "bytes": hex(&section),
                "fields": fields.iter().map(|f| [hex(&f.name), hex(&f.value)]).collect::<Vec<_>>(),
            }});
            let ahead = !es.is_empty() && rng.gen_bool(0.3);
            if ahead {
                events.push(ev.clone());
            }
            if !es.is_empty() {
                events.push(json!({"encoder": hex(&es)}));
                dec.on_encoder_stream(&es).expect("our encoder stream");
                es.clear();
            }
            if !ahead {
                events.push(ev);
            }
            let got = dec.decode(id, &section, &mut ds).expect("our section");
            assert_eq!(got, Decoded::Fields(fields));
            enc.on_decoder_stream(&ds).expect("our decoder stream");
            ds.clear();
        }
        cases
            .push(json!({"max_table_capacity": cap, "blocked_streams": streams, "events": events}));
    }
    json!({"generator": "strata's QpackEncoder: crates/strata/src/http/qpack/vectors.rs", "cases": cases})
}

#[test]
fn strata_vectors_are_current() {
    let mut doc = strata_vectors();
    // Keys in order whatever serde_json's build: quinn-proto's qlog (the
    // feature `quic-qlog`) turns on its `preserve_order` in the whole build
    // (the workspace's, through strata-cli).
    doc.sort_all_objects();
    let text = serde_json::to_string(&doc).expect("json") + "\n";
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/http/qpack/vectors/strata.json"
    );
    if std::env::var_os("STRATA_WRITE_QPACK_VECTORS").is_some() {
        std::fs::write(path, &text).expect("write vectors");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "vectors/strata.json is stale: rerun with STRATA_WRITE_QPACK_VECTORS=1, \
         then check it with `tests/interop/peers/qpack_vectors.py check`"
    );
    // And our own decoder reads them as ls-qpack must.
    let (sections, _) = decode_all(&doc);
    assert_eq!(sections, 340);
}
