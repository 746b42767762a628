//! Fuzz target: see [`strata_fuzz::reliable_conn`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::reliable_conn(data));
