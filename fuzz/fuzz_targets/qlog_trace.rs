//! Fuzz target: see [`strata_fuzz::qlog_trace`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::qlog_trace(data));
