//! Fuzz target: see [`strata_fuzz::h2_server`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::h2_server(data));
