//! An `ORCH_OUTPUT` file: `key=value` lines and heredocs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orch::fuzz::run_target("output_file", data);
});
