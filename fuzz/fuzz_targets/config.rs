//! Bytes as `orchestration.yaml`: load, validate, render the diagnostics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orch::fuzz::run_target("config", data);
});
