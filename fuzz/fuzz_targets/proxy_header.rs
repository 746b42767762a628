//! Fuzz target: see [`strata_fuzz::proxy_header`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::proxy_header(data));
