//! A string value split into text and `${{ }}` pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orch::fuzz::run_target("template", data);
});
