//! The inside of `${{ }}`: compile and evaluate against a small scope.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orch::fuzz::run_target("expr", data);
});
