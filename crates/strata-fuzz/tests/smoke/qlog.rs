//! Inputs for the `qlog_trace` target: JSON-SEQ traces as strata writes
//! them, with the events both views read (recovery metrics and losses,
//! HTTP/2 and HTTP/3 frames, stream states), numbers from every corner
//! (zero, negative, fractional, huge, times going back), fields missing or
//! of the wrong type, records cut short, and a few bytes flipped.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NAMES: &[&str] = &[
    "recovery:metrics_updated",
    "recovery:packet_lost",
    "transport:packet_sent",
    "http:frame_created",
    "http:frame_parsed",
    "http3:frame_created",
    "http3:frame_parsed",
    "http:stream_state_updated",
    "recovery:congestion_state_updated",
];

const STATES: &[&str] = &[
    "idle",
    "open",
    "half_closed_local",
    "half_closed_remote",
    "closed",
    "bogus",
];

fn number(rng: &mut ChaCha8Rng) -> String {
    match rng.gen_range(0..10) {
        0 => "0".into(),
        1 => "-1".into(),
        2 => "18446744073709551615".into(),
        3 => "1e308".into(),
        4 => "-1e308".into(),
        5 => format!("{}.{}", rng.gen_range(0..100), rng.gen_range(0..1000)),
        6 => "\"7\"".into(),
        7 => "null".into(),
        _ => rng.gen_range(0..100_000u32).to_string(),
    }
}

fn event(rng: &mut ChaCha8Rng, t: &mut f64) -> String {
    *t += if rng.gen_ratio(1, 10) {
        -5.0
    } else {
        rng.gen_range(0.0..20.0)
    };
    let name = NAMES[rng.gen_range(0..NAMES.len())];
    let id = if rng.gen_ratio(1, 6) {
        number(rng)
    } else {
        rng.gen_range(0..12u32).to_string()
    };
    let data = match name {
        "recovery:metrics_updated" => format!(
            r#"{{"congestion_window":{},"bytes_in_flight":{},"smoothed_rtt":{},"latest_rtt":{},"min_rtt":{}}}"#,
            number(rng),
            number(rng),
            number(rng),
            number(rng),
            number(rng)
        ),
        "http:stream_state_updated" => format!(
            r#"{{"stream_id":{id},"old":"{}","new":"{}","trigger":"end_stream"}}"#,
            STATES[rng.gen_range(0..STATES.len())],
            STATES[rng.gen_range(0..STATES.len())]
        ),
        n if n.contains("frame") => format!(
            r#"{{"stream_id":{id},"length":{},"frame":{{"frame_type":"{}"}}}}"#,
            number(rng),
            ["data", "headers", "settings", "rst_stream", "goaway", "x"][rng.gen_range(0..6)]
        ),
        _ => format!(
            r#"{{"header":{{"packet_number":{}}},"new":"slow_start"}}"#,
            number(rng)
        ),
    };
    let time = if rng.gen_ratio(1, 20) {
        number(rng)
    } else {
        format!("{t:.3}")
    };
    format!(r#"{{"time":{time},"name":"{name}","category":"h2","data":{data}}}"#)
}

/// The target's seeded inputs.
pub fn qlog_trace_inputs() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let mut all = Vec::new();
    for i in 0..3000 {
        let mut text = String::from(
            "\u{1e}{\"qlog_version\":\"0.3\",\"qlog_format\":\"JSON-SEQ\",\"title\":\"fuzz\",\"trace\":{\"vantage_point\":{\"type\":\"client\"}}}\n",
        );
        let mut t = 0.0;
        for _ in 0..rng.gen_range(0..40) {
            text.push('\u{1e}');
            text.push_str(&event(&mut rng, &mut t));
            text.push('\n');
        }
        let mut bytes = text.into_bytes();
        match i % 4 {
            // As written.
            0 => {}
            // Cut short anywhere.
            1 => {
                let n = rng.gen_range(0..=bytes.len());
                bytes.truncate(n);
            }
            // A few bytes flipped.
            2 => {
                for _ in 0..rng.gen_range(1..4) {
                    if !bytes.is_empty() {
                        let at = rng.gen_range(0..bytes.len());
                        bytes[at] = rng.gen();
                    }
                }
            }
            // Without its header.
            _ => {
                if let Some(at) = bytes.iter().skip(1).position(|&b| b == 0x1e) {
                    bytes.drain(..=at);
                }
            }
        }
        all.push(bytes);
    }
    all
}
