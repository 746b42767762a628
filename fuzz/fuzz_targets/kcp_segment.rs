//! Fuzz target: see [`strata_fuzz::kcp_segment`] for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::kcp_segment(data));
