//! A `dotenv:` file: `KEY=value` lines, quotes, `export `, comments.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orch::fuzz::run_target("dotenv", data);
});
