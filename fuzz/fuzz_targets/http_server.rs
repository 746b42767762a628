//! Fuzz target: see [`strata_fuzz::http_server`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::http_server(data));
