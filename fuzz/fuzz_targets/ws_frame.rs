//! Fuzz target: see [`strata_fuzz::ws_frame`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::ws_frame(data));
